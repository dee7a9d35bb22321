/**
 * The demo's models through ONNX: the MNIST 784-64-10 nets with ReLU, PReLU and SPLASH, and the
 * iris net (dropout). Each is trained briefly (so PReLU slopes and SPLASH coefficients have moved
 * off their initial values), exported, run in ONNX Runtime on held-out data and compared with
 * gradgraph, |a − b| ≤ 1e-5·max(1, |a|) in float32; then imported back, run and compared again.
 */
import { Graph, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { data, exportOnnx, importOnnx, init, nn, optim, train } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../packages/ops/src/onnx/proto';
import { closeness, runOrt } from './onnx-ort';

const SEED = 42;

// every op type the ONNX standard (default domain) defines that these files may use
const STANDARD = new Set(['MatMul', 'Add', 'Relu', 'PRelu', 'Max', 'Sub', 'Neg', 'Mul', 'ReduceSum', 'Unsqueeze', 'Constant', 'Transpose', 'Identity']);

/** The demo's MNIST model (examples/demo.ts), built the same way. */
function mnistModel(act: 'relu' | 'prelu' | 'splash') {
  const g = new Graph({ seed: SEED });
  const x = g.input('x', [null, 784]);
  const y = g.input('y', [null], 'int32');
  const h = g.scope('hidden', () => {
    const z = nn.dense(x, 64, { init: init.heNormal() });
    return act === 'relu' ? nn.relu(z) : act === 'prelu' ? nn.prelu(z) : nn.splash(z);
  });
  const logits = g.scope('output', () => nn.dense(h, 10));
  const loss = nn.softmaxCrossEntropy(logits, y);
  const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 2e-3 }) });
  return { g, x, logits, step };
}

/** Export → ONNX Runtime → compare; import → run → compare. Returns the file's op types. */
async function roundTrip(g: Graph, x: Sym, out: Sym, xs: Tensor): Promise<string[]> {
  const [want] = compile(g, { inputs: [x], outputs: [out] }).run({ x: xs });
  const bytes = await exportOnnx(g, { inputs: [x], outputs: [out], outputNames: ['logits'] });
  const [ort] = await runOrt(bytes, { x: xs });
  const r1 = closeness(want, ort);
  expect(r1.ok, `ONNX Runtime: ${r1.detail}`).toBe(true);
  const back = await importOnnx(bytes);
  expect(back.outputNames).toEqual(['logits']);
  expect(back.graph.params().map((p) => p.name)).toEqual(g.params().map((p) => p.name));
  const [again] = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run({ x: xs });
  const r2 = closeness(want, again);
  expect(r2.ok, `imported: ${r2.detail}`).toBe(true);
  const model = await decodeModel(bytes);
  return [...new Set(model.graph!.node!.map((n) => n.op_type))].sort();
}

describe("the demo's MNIST models", () => {
  const digits = data.loadMnist({ count: 1200 });
  const { train: trainSet, test } = data.trainTestSplit(digits, { testSize: 200 / 1200, seed: SEED, stratify: true });

  for (const act of ['relu', 'prelu', 'splash'] as const) {
    it(`${act}: trained one epoch, then through ONNX Runtime and back`, async () => {
      const m = mnistModel(act);
      const before = m.g.params().map((p) => m.g.getValue(p));
      train.fit({ step: m.step, data: data.batches(trainSet, { batchSize: 64, seed: SEED }), epochs: 1, progress: false });
      // the activation's own params moved (so the export carries learned values, not the init)
      if (act !== 'relu') {
        const i = m.g.params().findIndex((p) => p.name!.includes(act === 'prelu' ? 'prelu/alpha' : 'splash/aNeg'));
        expect(Math.max(...Array.from(m.g.getValue(m.g.params()[i]).data, (v, k) => Math.abs(v - before[i].data[k])))).toBeGreaterThan(1e-4);
      }
      const ops = await roundTrip(m.g, m.x, m.logits, test.x);
      expect(ops.every((op) => STANDARD.has(op)), ops.join(' ')).toBe(true);
      if (act === 'relu') expect(ops).toContain('Relu');
      if (act === 'prelu') expect(ops).toContain('PRelu');
      // SPLASH decomposes: max(0, ±x − b) weighted and summed
      if (act === 'splash') expect(ops).toEqual(expect.arrayContaining(['Max', 'Mul', 'ReduceSum', 'Unsqueeze']));
    });
  }
});

describe('the iris model (dropout: the training switch is fixed off in the file)', () => {
  it('trained, through ONNX Runtime and back; no random op in the file', async () => {
    const iris = data.loadIris();
    const splits = data.trainTestSplit(iris, { testSize: 0.2, seed: SEED, stratify: true });
    const { train: trainSet, test } = data.standardize(splits);
    const g = new Graph({ seed: SEED });
    const x = g.input('x', [null, 4]);
    const y = g.input('y', [null], 'int32');
    const h = g.scope('hidden', () => nn.dropout(nn.relu(nn.dense(x, 16)), 0.1));
    const logits = g.scope('output', () => nn.dense(h, 3));
    const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.02 }) });
    train.fit({ step, data: data.batches(trainSet, { batchSize: 32, seed: SEED }), epochs: 30, progress: false });
    expect(train.accuracy(train.predict(step, test), test.y!)).toBeGreaterThan(0.85);
    const ops = await roundTrip(g, x, logits, test.x);
    expect(ops.some((op) => op.startsWith('Random'))).toBe(false);
    expect(ops).toContain('Relu');
  });
});

describe('a training step’s gradients with a dynamic batch (shape-driven ops: Shape, Expand, ReduceProd)', () => {
  it('loss and ∂loss/∂params of the PReLU MNIST model, exported with x [?, 784] and y [?]', async () => {
    const m = mnistModel('prelu');
    const g = m.g;
    const y = g.byName('y')!;
    const loss = nn.softmaxCrossEntropy(m.logits, y);
    const grads = grad(loss, g.params());
    const outs = [loss, ...grads];
    const digits = data.loadMnist({ count: 50 });
    const feeds = { x: digits.x, y: digits.y! };
    const want = compile(g, { inputs: [m.x, y], outputs: outs }).run(feeds);
    const bytes = await exportOnnx(g, { inputs: [m.x, y], outputs: outs });
    const ops = new Set((await decodeModel(bytes)).graph!.node!.map((n) => n.op_type));
    expect([...ops].filter((op) => ['Shape', 'Expand', 'ReduceProd'].includes(op)).sort()).toEqual(['Expand', 'ReduceProd', 'Shape']);
    const viaOrt = await runOrt(bytes, feeds);
    const back = await importOnnx(bytes);
    const again = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
    want.forEach((w, i) => {
      expect(closeness(w, viaOrt[i]).ok, `ONNX Runtime, output ${i}: ${closeness(w, viaOrt[i]).detail}`).toBe(true);
      expect(closeness(w, again[i]).ok, `imported, output ${i}: ${closeness(w, again[i]).detail}`).toBe(true);
    });
    // another batch size runs through the same file
    const seven = { x: new Tensor('float32', [7, 784], digits.x.data.slice(0, 7 * 784)), y: new Tensor('int32', [7], digits.y!.data.slice(0, 7)) };
    const [l7] = await runOrt(bytes, seven);
    const [w7] = compile(g, { inputs: [m.x, y], outputs: [loss] }).run(seven);
    expect(closeness(w7, l7).ok).toBe(true);
  });
});
