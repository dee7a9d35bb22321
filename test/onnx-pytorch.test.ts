/**
 * Models PyTorch 1.13 exported (test/fixtures/onnx/make.py wrote them, with PyTorch's outputs):
 * imported, run and compared with PyTorch's numbers; fine-tuned (the loss decreases, gradients
 * pass gradcheck); the CNNs (Conv, ConvTranspose, the poolings, BatchNormalization) match PyTorch.
 */
import { readFileSync } from 'node:fs';
import { Tensor, compile, gradcheck, oneHot } from '@gradgraph/core';
import { data, importOnnx, nn, optim, train } from '@gradgraph/ops';
import { toDot } from '@gradgraph/viz';
import { describe, expect, it } from 'vitest';
import { buildFromModel } from '../packages/ops/src/onnx/import';
import { decodeModel } from '../packages/ops/src/onnx/proto';
import { closeness, runOrt } from './onnx-ort';

const dir = new URL('./fixtures/onnx/', import.meta.url);
const file = (name: string) => readFileSync(new URL(name, dir));
interface Fixture {
  torch: string;
  opset: number;
  ops: string[];
  input: { shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
}
const fixture = (name: string): Fixture => JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8'));
const tensor = (v: { shape: number[]; data: number[] }, dtype: 'float32' | 'float64' = 'float32') => new Tensor(dtype, v.shape, dtype === 'float32' ? Float32Array.from(v.data) : Float64Array.from(v.data));

describe('the MLP PyTorch exported (Gemm, PRelu, Tanh, Softmax, a Shape-driven Reshape)', () => {
  const fx = fixture('mlp');

  it('imports with its names, a dynamic batch, and PyTorch’s outputs (and ONNX Runtime’s)', async () => {
    expect(fx.ops).toEqual(expect.arrayContaining(['Gemm', 'PRelu', 'Tanh', 'Softmax', 'Shape', 'Reshape']));
    const { graph, inputs, outputs, outputNames, opset, producer } = await importOnnx(file('mlp.onnx'));
    expect(inputs.map((s) => [s.name, s.shape])).toEqual([['input', [null, 3, 4]]]);
    expect(outputNames).toEqual(['output']);
    expect(outputs[0].shape).toEqual([null, 5]);
    expect(opset).toBe(14);
    expect(producer).toBe('pytorch 1.13.0');
    expect(graph.params().map((p) => p.name)).toEqual(['fc1.weight', 'fc1.bias', 'act1.weight', 'fc2.weight', 'fc2.bias', 'head.weight', 'head.bias']);
    // scopes from PyTorch's node names (/fc1/Gemm → fc1), origins point at the file's node
    const tanh = graph.nodes.find((n) => n.op === 'tanh')!;
    expect(tanh.scope).toBe('act2');
    expect(tanh.origin).toBe('onnx Tanh node "/act2/Tanh"');
    const x = tensor(fx.input);
    const [y] = compile(graph, { inputs, outputs }).run({ input: x });
    const want = tensor(fx.output);
    const r = closeness(want, y);
    expect(r.ok, r.detail).toBe(true);
    const [viaOrt] = await runOrt(file('mlp.onnx'), { input: x });
    expect(closeness(want, viaOrt).ok).toBe(true);
    // another batch size: the batch dim is open
    const [y2] = compile(graph, { inputs, outputs }).run({ input: Tensor.randn([2, 3, 4], 'float32', 5) });
    expect(y2.shape).toEqual([2, 5]);
  });

  it('fine-tunes: fit on the imported graph lowers the loss, and viz draws it', async () => {
    const { graph: g, inputs, outputs } = await importOnnx(file('mlp.onnx'));
    const probs = outputs[0];
    const y = g.input('y', [null], 'int32');
    const loss = nn.mse(probs, oneHot(y, 5));
    // a task: the class is the sign pattern of the first two features
    const xs = Tensor.randn([64, 12], 'float32', 11);
    const labels = Tensor.from(Array.from({ length: 64 }, (_, i) => (xs.data[i * 12] > 0 ? 1 : 0) + (xs.data[i * 12 + 1] > 0 ? 2 : 0)), 'int32');
    const set = data.dataset({ x: xs, y: labels });
    // rows of 12 features are the model's [3, 4] inputs
    const feed = (b: { x: Tensor; y?: Tensor }) => ({ [inputs[0].name!]: b.x.reshape([b.x.shape[0], 3, 4]), y: b.y! });
    const step = train.trainingStep({ loss, predictions: probs, optimizer: optim.adam({ lr: 1e-2 }), x: inputs[0], feed });
    const history = train.fit({ step, data: data.batches(set, { batchSize: 16, seed: 1 }), epochs: 30, progress: false });
    const first = history.loss[0];
    const last = history.loss[history.loss.length - 1];
    expect(last).toBeLessThan(0.5 * first);
    // the PReLU slope PyTorch set to 0.1 was trained too
    expect(g.getValue('act1.weight').data[0]).not.toBeCloseTo(0.1, 4);
    const dot = toDot(g, { show: 'forward' });
    expect(dot).toContain('act1');
    expect(dot).toContain('fc1.weight');
  });

  it('gradients of the imported float64 model pass gradcheck (input and every param)', async () => {
    const fx64 = fixture('mlp64');
    const model = await decodeModel(file('mlp64.onnx'));
    // the model applied to gradcheck's own input symbol: its params become gradcheck's params
    const report = gradcheck((x) => {
      const { outputs } = buildFromModel(model, { graph: x.graph, inputs: { input: x } });
      return outputs[0].mul(outputs[0].graph.constant(Tensor.randn([2, 5], 'float64', 3))).sum();
    }, [tensor({ shape: [2, 3, 4], data: fx64.input.data.slice(0, 24) }, 'float64')]);
    expect(report.ok, JSON.stringify(report.inputs.map((i) => [i.name, i.ok]))).toBe(true);
    expect(report.inputs.map((i) => i.name)).toEqual(expect.arrayContaining(['x0', 'fc1.weight', 'act1.weight', 'head.bias']));
    // and the float64 file matches PyTorch to float64 precision
    const { graph, inputs, outputs } = await importOnnx(file('mlp64.onnx'));
    const [y] = compile(graph, { inputs, outputs }).run({ input: tensor(fx64.input, 'float64') });
    expect(closeness(tensor(fx64.output, 'float64'), y, 1e-12).ok).toBe(true);
  });
});

describe('the CNNs PyTorch exported (dynamic batch, NCHW)', () => {
  it('cnn (Conv, ReLU, MaxPool, Flatten, Gemm): imported, NCHW in and out, PyTorch’s outputs', async () => {
    const fx = fixture('cnn');
    expect(fx.ops).toEqual(['Conv', 'Flatten', 'Gemm', 'MaxPool', 'Relu']);
    const x = tensor(fx.input);
    const [viaOrt] = await runOrt(file('cnn.onnx'), { input: x });
    expect(closeness(tensor(fx.output), viaOrt).ok).toBe(true); // the fixture is sound
    const { graph, inputs, outputs } = await importOnnx(file('cnn.onnx'));
    expect(inputs.map((s) => s.shape)).toEqual([[null, 1, 8, 8]]);
    expect(graph.params().map((p) => p.name)).toEqual(['conv.weight', 'conv.bias', 'fc.weight', 'fc.bias']);
    expect(graph.nodes.filter((n) => n.op === 'conv' || n.op === 'maxPool').map((n) => [n.op, n.scope])).toEqual([['conv', 'conv'], ['maxPool', 'pool']]);
    const [y] = compile(graph, { inputs, outputs }).run({ input: x });
    const r = closeness(tensor(fx.output), y);
    expect(r.ok, r.detail).toBe(true);
    // another batch size through the same graph
    const [y3] = compile(graph, { inputs, outputs }).run({ input: Tensor.randn([3, 1, 8, 8], 'float32', 4) });
    expect(y3.shape).toEqual([3, 3]);
  });

  it('cnn2 (strided, dilated, grouped Conv; BatchNormalization; Pad + AveragePool; ConvTranspose; padded MaxPool; GlobalAveragePool): PyTorch’s outputs, and it fine-tunes', async () => {
    const fx = fixture('cnn2');
    expect(fx.ops).toEqual(expect.arrayContaining(['Conv', 'BatchNormalization', 'AveragePool', 'ConvTranspose', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm']));
    const x = tensor(fx.input);
    const { graph: g, inputs, outputs } = await importOnnx(file('cnn2.onnx'));
    const [y] = compile(g, { inputs, outputs }).run({ input: x });
    const r = closeness(tensor(fx.output), y);
    expect(r.ok, r.detail).toBe(true);
    // batchNorm's running statistics are state, the rest trainable
    expect(g.variables().filter((p) => p.node.attrs.trainable === false).map((p) => p.name).sort()).toEqual(['bn.running_mean', 'bn.running_var']);
    // fine-tuning: a few Adam steps on a fixed target lower the loss
    const target = g.input('target', [null, 3]);
    const loss = nn.mse(outputs[0], target);
    const step = train.trainingStep({ loss, predictions: outputs[0], optimizer: optim.adam({ lr: 1e-2 }), feed: (b) => ({ input: b.x, target: b.y! }) });
    const batch = { x, y: Tensor.from([1, -1, 0.5, 0, 2, -0.5], 'float32').reshape([2, 3]) };
    const first = step.trainBatch(batch).loss;
    let last = first;
    for (let i = 0; i < 40; i++) last = step.trainBatch(batch).loss;
    expect(last).toBeLessThan(0.5 * first);
  });
});
