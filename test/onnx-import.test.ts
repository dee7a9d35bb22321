/**
 * importOnnx on hand-built models: the ops PyTorch's exporter emits for MLPs (and the shape
 * arithmetic around Reshape), each compared with ONNX Runtime on the same inputs; and bad files,
 * each a named error.
 */
import { Graph, Tensor, compile, grad } from '@gradgraph/core';
import { OnnxError, OnnxFormatError, OnnxOpsetError, OnnxUnsupportedError, exportOnnx, importOnnx } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../packages/ops/src/onnx/proto';
import { ElemType as E, againstOrt, at, onnxModel } from './onnx-ort';

const F = E.FLOAT;

describe('importOnnx: the ops of PyTorch MLP exports, against ONNX Runtime', () => {
  it('Gemm (alpha, beta, transposes), Relu, LeakyRelu, Sigmoid, Tanh, LogSoftmax, Clip, Identity, Dropout', async () => {
    const w = Tensor.randn([6, 4], 'float32', 1);
    const b = Tensor.randn([6], 'float32', 2);
    const w2 = Tensor.randn([6, 3], 'float32', 3);
    const imported = await againstOrt(
      {
        inputs: [['x', F, [null, 4]]],
        outputs: [['y', F], ['z', F], ['p', F]],
        inits: { w, b, w2, lo: Tensor.scalar(-0.5), hi: Tensor.scalar(0.5) },
        nodes: [
          ['Gemm', ['x', 'w', 'b'], ['h'], { transB: at.i(1), alpha: at.f(0.5), beta: at.f(2) }, '/fc1/Gemm'],
          ['Relu', ['h'], ['r']],
          ['Dropout', ['r'], ['d']],
          ['Gemm', ['d', 'w2'], ['h2']],
          ['LeakyRelu', ['h2'], ['l'], { alpha: at.f(0.2) }],
          ['Sigmoid', ['l'], ['s']],
          ['Tanh', ['s'], ['t']],
          ['LogSoftmax', ['t'], ['y'], { axis: at.i(1) }],
          ['Clip', ['h2', 'lo', 'hi'], ['c']],
          ['Identity', ['c'], ['z']],
          ['Gemm', ['w2', 'd'], ['p'], { transA: at.i(1), transB: at.i(1) }],
        ],
      },
      { x: Tensor.randn([5, 4], 'float32', 4) },
    );
    // clip's bounds are initializers used as data: they become params, as any float initializer
    expect(imported.graph.params().map((p) => p.name)).toEqual(['w', 'b', 'w2', 'lo', 'hi']);
    expect(imported.graph.nodes.find((n) => n.op === 'matmul')!.scope).toBe('fc1');
  });

  it('Shape → Gather → Unsqueeze → Concat → Reshape (x.view(x.size(0), -1)), Flatten, Squeeze, Transpose', async () => {
    await againstOrt(
      {
        opset: 13,
        inputs: [['x', F, [null, 2, 3, 1]]],
        outputs: [['v', F], ['f', F], ['q', F]],
        inits: { zero: { int64: [0], dims: [] }, minus1: { int64: [-1] }, axes0: { int64: [0] }, axes3: { int64: [3] } },
        nodes: [
          ['Shape', ['x'], ['s']],
          ['Gather', ['s', 'zero'], ['n'], { axis: at.i(0) }],
          ['Unsqueeze', ['n', 'axes0'], ['n1']],
          ['Concat', ['n1', 'minus1'], ['spec'], { axis: at.i(0) }],
          ['Reshape', ['x', 'spec'], ['v']],
          ['Flatten', ['x'], ['f'], { axis: at.i(2) }],
          ['Squeeze', ['x', 'axes3'], ['sq']],
          ['Transpose', ['sq'], ['q'], { perm: at.ints([2, 0, 1]) }],
        ],
      },
      { x: Tensor.randn([4, 2, 3, 1], 'float32', 5) },
    );
  });

  it('BatchNormalization (inference, NCHW) with running statistics as state', async () => {
    const c = 3;
    const imported = await againstOrt(
      {
        inputs: [['x', F, [null, c, 2, 2]]],
        outputs: [['y', F]],
        inits: { gamma: Tensor.rand([c], 'float32', 1), beta: Tensor.randn([c], 'float32', 2), mean: Tensor.randn([c], 'float32', 3), var: Tensor.rand([c], 'float32', 4).astype('float32') },
        nodes: [['BatchNormalization', ['x', 'gamma', 'beta', 'mean', 'var'], ['y'], { epsilon: at.f(1e-3) }]],
      },
      { x: Tensor.randn([2, c, 2, 2], 'float32', 6) },
    );
    expect(imported.graph.params().map((p) => p.name)).toEqual(['gamma', 'beta']);
    expect(imported.graph.stateVars().map((p) => p.name)).toEqual(['mean', 'var']);
  });

  it('Constant forms, Cast, Sub/Div/Pow/Max, Where/Greater, Expand, Slice, Pad, ArgMax, ReduceMean (opset 18 axes input)', async () => {
    await againstOrt(
      {
        opset: 18,
        inputs: [['x', F, [3, 4]]],
        outputs: [['a', F], ['m', E.INT64], ['sl', F], ['pd', F], ['ex', F]],
        nodes: [
          ['Constant', [], ['two'], { value_float: at.f(2) }],
          ['Constant', [], ['axes'], { value_ints: at.ints([1]) }],
          ['Constant', [], ['k'], { value: at.t(Tensor.from([1, -1, 0.5, 2])) }],
          ['Sub', ['x', 'two'], ['u']],
          ['Div', ['u', 'k'], ['dv']],
          ['Abs', ['dv'], ['ab']],
          ['Pow', ['ab', 'two'], ['pw']],
          ['Max', ['pw', 'x', 'k'], ['mx']],
          ['Greater', ['x', 'two'], ['gt']],
          ['Where', ['gt', 'mx', 'u'], ['w']],
          ['ReduceMean', ['w', 'axes'], ['a'], { keepdims: at.i(0) }],
          ['ArgMax', ['x'], ['m'], { axis: at.i(1), keepdims: at.i(0) }],
          ['Constant', [], ['st'], { value: at.i64([1, -3]) }],
          ['Constant', [], ['en'], { value: at.i64([1000, -1]) }],
          ['Slice', ['x', 'st', 'en'], ['sl']],
          ['Constant', [], ['pads'], { value: at.i64([0, 1, 2, 0]) }],
          ['Constant', [], ['pv'], { value: at.t(Tensor.scalar(-7)) }],
          ['Pad', ['x', 'pads', 'pv'], ['pd']],
          ['Constant', [], ['shape'], { value: at.i64([2, 3, 4]) }],
          ['Cast', ['x'], ['xi'], { to: at.i(E.INT32) }],
          ['Cast', ['xi'], ['xf'], { to: at.i(F) }],
          ['Expand', ['xf', 'shape'], ['ex']],
        ],
      },
      { x: Tensor.randn([3, 4], 'float32', 7).astype('float32') },
    );
  });

  it('Gather with constant (negative) indices, Concat and Unsqueeze on data, MatMul, Softmax', async () => {
    await againstOrt(
      {
        opset: 13,
        inputs: [['x', F, [null, 5]]],
        outputs: [['y', F]],
        inits: { idx: { int64: [0, -1, 2] }, w: Tensor.randn([3, 2], 'float32', 8), ax: { int64: [1] } },
        nodes: [
          ['Gather', ['x', 'idx'], ['g'], { axis: at.i(1) }],
          ['Concat', ['g', 'g'], ['cc'], { axis: at.i(0) }],
          ['MatMul', ['cc', 'w'], ['mm']],
          ['Unsqueeze', ['mm', 'ax'], ['un']],
          ['Softmax', ['un'], ['y'], { axis: at.i(-1) }],
        ],
      },
      { x: Tensor.randn([2, 5], 'float32', 9) },
    );
  });

  it('an imported graph is differentiable: grad through Gemm and PRelu matches a finite difference', async () => {
    const bytes = await onnxModel({
      inputs: [['x', E.DOUBLE, [null, 3]]],
      outputs: [['y', E.DOUBLE]],
      inits: { w: Tensor.randn([2, 3], 'float64', 1), a: Tensor.from([0.2], 'float64') },
      nodes: [['Gemm', ['x', 'w'], ['h'], { transB: at.i(1) }], ['PRelu', ['h', 'a'], ['y']]],
    });
    const { graph, inputs, outputs } = await importOnnx(bytes);
    const a = graph.byName('a')!;
    const loss = outputs[0].sum();
    const [da] = compile(graph, { inputs, outputs: grad(loss, [a]) }).run({ x: Tensor.randn([4, 3], 'float64', 2) });
    const f = (v: number) => {
      graph.setValue(a, Tensor.from([v], 'float64'));
      return compile(graph, { inputs, outputs: [loss] }).run({ x: Tensor.randn([4, 3], 'float64', 2) })[0].item();
    };
    const fd = (f(0.2 + 1e-6) - f(0.2 - 1e-6)) / 2e-6;
    expect(da.data[0]).toBeCloseTo(fd, 6);
  });
});

describe('importOnnx: bad files get named errors', () => {
  async function small(opts: { opset?: number; op?: string; domain?: string } = {}) {
    return onnxModel({ opset: opts.opset, domain: opts.domain, inputs: [['x', F, [2]]], outputs: [['y', F]], nodes: [[opts.op ?? 'Relu', ['x'], ['y']]] });
  }

  it('truncated bytes: every prefix is an OnnxError, never a crash', async () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const bytes = await exportOnnx(g, { inputs: [x], outputs: [x.matmul(g.param('w', Tensor.randn([3, 2]))).tanh()] });
    // the metadata comes last (field 14): the one prefix that imports is the model without it
    const bare = await encodeModel({ ...(await decodeModel(bytes)), metadata_props: [] });
    const imported: number[] = [];
    for (let n = 0; n < bytes.length; n++) {
      const r = await importOnnx(bytes.slice(0, n)).then(() => 'ok', (e: unknown) => e);
      if (r === 'ok') imported.push(n);
      else expect(r, `prefix of ${n} bytes`).toBeInstanceOf(OnnxError);
    }
    expect(imported).toEqual([bare.length]);
    await expect(importOnnx(bytes.slice(0, bytes.length >> 1))).rejects.toBeInstanceOf(OnnxFormatError);
    await expect(importOnnx(new Uint8Array(0))).rejects.toThrow(/no graph/);
    await expect(importOnnx(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]))).rejects.toBeInstanceOf(OnnxFormatError);
    await expect(importOnnx('model.onnx' as never)).rejects.toBeInstanceOf(OnnxFormatError);
  });

  it('a wrong opset: OnnxOpsetError naming the range', async () => {
    await expect(importOnnx(await small({ opset: 9 }))).rejects.toThrow(OnnxOpsetError);
    await expect(importOnnx(await small({ opset: 9 }))).rejects.toThrow(/opset 9 is not one importOnnx reads \(13–21\)/);
    await expect(importOnnx(await small({ opset: 30 }))).rejects.toThrow(OnnxOpsetError);
  });

  it('an unknown op or a foreign domain: OnnxUnsupportedError naming the op and node', async () => {
    const err = await importOnnx(await small({ op: 'FancyAttention' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxUnsupportedError);
    expect((err as OnnxUnsupportedError).op).toBe('FancyAttention');
    expect((err as Error).message).toContain('unsupported op FancyAttention (FancyAttention node "FancyAttention_0")');
    await expect(importOnnx(await small({ domain: 'com.microsoft' }))).rejects.toThrow(/com\.microsoft\.Relu/);
  });

  it('dangling names and unreadable element types: OnnxFormatError', async () => {
    const dangling = await onnxModel({ inputs: [['x', F, [2]]], outputs: [['y', F]], nodes: [['Add', ['x', 'nowhere'], ['y']]] });
    await expect(importOnnx(dangling)).rejects.toThrow(/reads "nowhere", which no earlier node, input or initializer defines/);
    const str = await onnxModel({ inputs: [['x', E.STRING, [2]]], outputs: [['y', F]], nodes: [['Identity', ['x'], ['y']]] });
    await expect(importOnnx(str)).rejects.toThrow(/element type STRING/);
  });

  it('ops that import only in some forms say which form', async () => {
    // steps other than ±1 are gathers of known indices: the dim must be known
    const steps = await onnxModel({
      inputs: [['x', F, [null]]],
      outputs: [['y', F]],
      inits: { s: { int64: [0] }, e: { int64: [6] }, a: { int64: [0] }, k: { int64: [2] } },
      nodes: [['Slice', ['x', 's', 'e', 'a', 'k'], ['y']]],
    });
    await expect(importOnnx(steps)).rejects.toThrow(/a Slice with step 2 along a dim unknown until run time/);
    const bnTrain = await onnxModel({
      inputs: [['x', F, [2, 1]]],
      outputs: [['y', F]],
      inits: { g: Tensor.ones([1]), b: Tensor.zeros([1]), m: Tensor.zeros([1]), v: Tensor.ones([1]) },
      nodes: [['BatchNormalization', ['x', 'g', 'b', 'm', 'v'], ['y'], { training_mode: at.i(1) }]],
    });
    await expect(importOnnx(bnTrain)).rejects.toThrow(OnnxUnsupportedError);
    const mask = await onnxModel({
      inputs: [['x', F, [2]]],
      outputs: [['y', F]],
      nodes: [['Dropout', ['x'], ['d', 'm']], ['Cast', ['m'], ['mf'], { to: at.i(F) }], ['Mul', ['d', 'mf'], ['y']]],
    });
    await expect(importOnnx(mask)).rejects.toThrow(/reads "m", an output of Dropout node "Dropout_0" that gradgraph does not compute/);
  });
});
