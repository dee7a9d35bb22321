import { Graph, GraphError, Tensor, builtinOpNames, compile, defineOp, listOps } from '@gradgraph/core';
import { describe, expect, it } from 'vitest';
import { nn } from '../index'; // through the package entry, which marks ops' files as library code for origins
import { OnnxOpsetError, OnnxUnsupportedError } from './errors';
import { exportOnnx, exporters, META } from './export';
import { importOnnx } from './import';
import { decodeModel, readTensorProto, type ModelProto } from './proto';

const here = new URL(import.meta.url).pathname;
const attr = (m: ModelProto, op: string, name: string) => m.graph!.node!.find((n) => n.op_type === op)!.attribute!.find((a) => a.name === name)!;

describe('the export table', () => {
  it('has a row for every primitive that computes something (sources are inputs, initializers, Constants)', () => {
    const sources = ['input', 'param', 'constant'];
    const missing = listOps().map((d) => d.name).filter((op) => !sources.includes(op) && !(op in exporters) && (builtinOpNames.includes(op) || op.startsWith('nn.')));
    expect(missing).toEqual([]);
  });
});

describe('exportOnnx: what the file holds', () => {
  async function mlp() {
    const g = new Graph({ seed: 7 });
    const x = g.input('x', [null, 4]);
    const h = g.scope('hidden', () => nn.batchNorm(nn.prelu(nn.dense(x, 3))));
    const y = g.scope('head', () => nn.softmax(nn.dense(h, 2)));
    const bytes = await exportOnnx(g, { inputs: [x], outputs: [y], outputNames: ['probs'], docString: 'a test model' });
    return { g, x, y, bytes, model: await decodeModel(bytes) };
  }

  it('names: inputs, outputs, params as initializers with their values; null dims symbolic', async () => {
    const { g, model } = await mlp();
    expect(model.producer_name).toBe('gradgraph');
    expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(model.ir_version).toBe(8);
    expect(model.doc_string).toBe('a test model');
    const gp = model.graph!;
    expect(gp.input!.map((v) => v.name)).toEqual(['x']);
    expect(gp.input![0].type!.tensor_type!.shape!.dim).toEqual([{ dim_param: 'x_dim0' }, { dim_value: 4 }]);
    expect(gp.output!.map((v) => v.name)).toEqual(['probs']);
    expect(gp.output![0].type!.tensor_type!.shape!.dim).toEqual([{}, { dim_value: 2 }]);
    // every param the output needs, by name, with its value
    const inits = new Map(gp.initializer!.map((t) => [t.name!, readTensorProto(t, t.name!)]));
    expect([...inits.keys()].sort()).toEqual(g.variables().map((p) => p.name!).sort());
    const k = inits.get('hidden/dense/kernel')!;
    expect(k.dims).toEqual([4, 3]);
    expect(k.values).toEqual(Array.from(g.getValue('hidden/dense/kernel').data));
    // batchNorm's running statistics are state, and say so
    const meta = new Map(model.metadata_props!.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.get(META.state)!)).toEqual(['hidden/batchNorm/runningMean', 'hidden/batchNorm/runningVar']);
    expect(meta.get(META.seed)).toBe('7');
  });

  it('scopes and source lines: node names are <scope>/<op>_<id>, doc strings the line that made the node', async () => {
    const { model } = await mlp();
    const nodes = model.graph!.node!;
    const prelu = nodes.find((n) => n.op_type === 'PRelu')!;
    expect(prelu.name).toMatch(/^hidden\/prelu\/where_\d+$/);
    expect(prelu.doc_string).toMatch(new RegExp(`^${here}:\\d+:\\d+$`));
    expect(nodes.find((n) => n.op_type === 'Softmax')!.name).toMatch(/^head\/softmax_\d+$/);
    // the training switch is fixed off: batchNorm's evaluation branch only, no Where, no input
    expect(nodes.some((n) => n.op_type === 'Where')).toBe(false);
    expect(model.graph!.input!.map((v) => v.name)).not.toContain('training');
  });

  it('import restores names, scopes, origins and which params are state', async () => {
    const { g, bytes } = await mlp();
    const back = await importOnnx(bytes);
    expect(back.graph.seed).toBe(7);
    expect(back.graph.params().map((p) => p.name)).toEqual(g.params().map((p) => p.name));
    expect(back.graph.stateVars().map((p) => p.name)).toEqual(['hidden/batchNorm/runningMean', 'hidden/batchNorm/runningVar']);
    const where = back.graph.nodes.find((n) => n.op === 'where')!;
    expect(where.scope).toBe('hidden/prelu');
    expect(where.origin).toMatch(new RegExp(`^${here}:\\d+:\\d+$`));
  });

  it('fusions: relu → Relu, leakyRelu → LeakyRelu(alpha), per-channel prelu → PRelu; other wheres stay Where', async () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const outs = [nn.relu(x), nn.leakyRelu(x, 0.125), nn.prelu(x, { perChannel: true }), g.constant(0).add(x.greater(1).cast('float32'))];
    const m = await decodeModel(await exportOnnx(g, { inputs: [x], outputs: outs }));
    const types = m.graph!.node!.map((n) => n.op_type);
    expect(types).toEqual(expect.arrayContaining(['Relu', 'LeakyRelu', 'PRelu', 'Greater', 'Cast']));
    expect(types.filter((t) => t === 'Where')).toEqual([]);
    expect(attr(m, 'LeakyRelu', 'alpha').f).toBe(0.125);
    expect(m.graph!.output!.map((o) => o.name)).toEqual(['output_0', 'output_1', 'output_2', 'output_3']);
  });

  it('an input with a default that is listed stays an input, its default an overridable initializer', async () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    const y = nn.dropout(x, 0.5);
    const training = g.byName('training')!;
    const m = await decodeModel(await exportOnnx(g, { inputs: [x, training], outputs: [y] }));
    expect(m.graph!.input!.map((v) => v.name)).toEqual(['x', 'training']);
    expect(m.graph!.initializer!.map((t) => t.name)).toEqual(['training']);
    expect(m.graph!.node!.map((n) => n.op_type)).toEqual(expect.arrayContaining(['RandomUniformLike', 'Where']));
  });

  it('opsets 18+ give the reductions their axes as an input', async () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const y = x.max(1);
    const m17 = await decodeModel(await exportOnnx(g, { inputs: [x], outputs: [y] }));
    const m18 = await decodeModel(await exportOnnx(g, { inputs: [x], outputs: [y], opset: 18 }));
    expect(attr(m17, 'ReduceMax', 'axes').ints).toEqual([1]);
    expect(m18.graph!.node!.find((n) => n.op_type === 'ReduceMax')!.input).toHaveLength(2);
    expect((await decodeModel(await exportOnnx(g, { inputs: [x], outputs: [y], opset: 21 }))).ir_version).toBe(10);
  });
});

describe('exportOnnx: sumLike whose summed axes are known only at run time', () => {
  it('computes the axes in the file (Shape, Equal, NonZero) and importOnnx reads them back as sumLike', async () => {
    const g = new Graph();
    const x = g.input('x', [2, null, 4]);
    const ref = g.input('r', [null, 4]);
    const y = g.scope('s', () => g.apply('sumLike', [x, ref]));
    const bytes = await exportOnnx(g, { inputs: [x, ref], outputs: [y] });
    const ops = (await decodeModel(bytes)).graph!.node!.map((n) => n.op_type);
    expect(ops).toEqual(expect.arrayContaining(['Shape', 'Concat', 'Equal', 'NonZero', 'ReduceSum', 'Reshape']));
    expect(attr(await decodeModel(bytes), 'ReduceSum', 'noop_with_empty_axes').i).toBe(1);
    const back = await importOnnx(bytes);
    expect(back.graph.nodes.filter((n) => n.op === 'sumLike')).toHaveLength(1);
    const xs = Tensor.from(Array.from({ length: 24 }, (_, i) => i), 'float32').reshape([2, 3, 4]);
    for (const rows of [1, 3]) {
      const feeds = { x: xs, r: Tensor.zeros([rows, 4]) };
      const [want] = compile(g, { inputs: [x, ref], outputs: [y] }).run(feeds);
      const [got] = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
      expect(want.shape).toEqual([rows, 4]);
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
    }
  });
});

describe('exportOnnx: errors', () => {
  it('a node with no ONNX translation: OnnxUnsupportedError naming the op, node, scope and source line', async () => {
    const twice = defineOp({ name: 'onnxTestTwice', arity: 1, infer: ([x]) => x, kernel: ([x]) => x, vjp: ({ dy }) => [dy.mul(2)] });
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('block', () => twice(x)); const line = new Error().stack!.split('\n')[1].match(/:(\d+):\d+\)?$/)![1];
    const err = await exportOnnx(g, { inputs: [x], outputs: [y.add(1)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxUnsupportedError);
    const e = err as OnnxUnsupportedError;
    expect(e.op).toBe('onnxTestTwice');
    expect(e.node).toBe(y.id);
    expect(e.scope).toBe('block');
    expect(e.origin).toBe(`${here}:${line}:${y.node.origin.split(':').pop()}`);
    expect(e.message).toContain('no ONNX translation for op "onnxTestTwice"');
  });

  it('opsets outside 17–21 are OnnxOpsetError; bad options GraphError', async () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = x.exp();
    for (const opset of [16, 22, 17.5]) await expect(exportOnnx(g, { inputs: [x], outputs: [y], opset })).rejects.toBeInstanceOf(OnnxOpsetError);
    await expect(exportOnnx(g, { inputs: [], outputs: [y] })).rejects.toThrow(/need input "x", which is not among inputs/);
    await expect(exportOnnx(g, { inputs: [x], outputs: [] })).rejects.toBeInstanceOf(GraphError);
    await expect(exportOnnx(g, { inputs: [y], outputs: [y] })).rejects.toThrow(/not an input/);
    await expect(exportOnnx(g, { inputs: [x], outputs: [y], outputNames: ['x'] })).rejects.toThrow(/also an input's name/);
    await expect(exportOnnx(g, { inputs: [x], outputs: [new Graph().input('z', [1])] })).rejects.toThrow(/another graph/);
    await expect(exportOnnx(g, { inputs: [x], outputs: [y], opsett: 17 } as never)).rejects.toThrow(/unknown option "opsett"/);
  });

});
