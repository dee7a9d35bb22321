/**
 * Convolutions and poolings through ONNX. Export: gradgraph's channels-last conv, convTranspose,
 * maxPool, avgPool (and the pooling gradients' helpers) as Conv/ConvTranspose/MaxPool/AveragePool
 * with NCHW transposes (float32) or from their taps (float64, which ONNX Runtime has no Conv,
 * ConvTranspose or AveragePool kernels for), run in ONNX Runtime and compared with gradgraph,
 * then imported back. Import: hand-built NCHW models of each op and attribute against ONNX
 * Runtime.
 */
import { Graph, Tensor, avgPool, compile, conv, convTranspose, grad, maxPool, type DType, type Sym } from '@gradgraph/core';
import { exportOnnx, importOnnx, init, nn } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../packages/ops/src/onnx/proto';
import { ElemType as E, againstOrt, at, closeness, onnxModel, runOrt, type ModelSpec } from './onnx-ort';

const ramp = (shape: number[], dtype: DType, seed: number) => Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 1.7 + seed) * 1.5), dtype).reshape(shape);

/** gradgraph, then ONNX Runtime and the imported graph on the same feeds; every output compared. */
async function roundTrip(g: Graph, inputs: Sym[], outputs: Sym[], feeds: Record<string, Tensor>, tol = 1e-5) {
  const want = compile(g, { inputs, outputs }).run(feeds);
  const bytes = await exportOnnx(g, { inputs, outputs });
  const ort = await runOrt(bytes, feeds);
  const back = await importOnnx(bytes);
  const again = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
  want.forEach((w, i) => {
    const r1 = closeness(w, ort[i], tol);
    expect(r1.ok, `ONNX Runtime, output ${i}: ${r1.detail}`).toBe(true);
    const r2 = closeness(w, again[i], tol);
    expect(r2.ok, `imported, output ${i}: ${r2.detail}`).toBe(true);
  });
  return new Set((await decodeModel(bytes)).graph!.node!.map((n) => n.op_type));
}

describe('exportOnnx: convolutions and poolings', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`${dtype}: conv (strides, dilations, groups, 'same', negative pads), convTranspose, maxPool, avgPool; 1-d and 2-d`, async () => {
      const g = new Graph({ seed: 1 });
      const x = g.input('x', [null, 7, 6, 4], dtype);
      const x1 = g.input('s', [null, 9, 2], dtype);
      const w = (shape: number[], seed: number) => g.param(`w${seed}`, ramp(shape, dtype, seed));
      const outs = [
        conv(x, w([3, 3, 4, 6], 1)),
        conv(x, w([3, 2, 2, 6], 2), { stride: [2, 1], padding: 'same', groups: 2 }),
        conv(x, w([2, 2, 1, 4], 3), { dilation: 2, padding: [[1, 0], [-1, 2]], groups: 4 }),
        convTranspose(x, w([3, 3, 3, 4], 4), { stride: 2, padding: [[1, 1], [0, -1]], outputPadding: [1, 0] }),
        convTranspose(x, w([2, 3, 1, 4], 5), { stride: [1, 2], dilation: [2, 1], groups: 2 }),
        maxPool(x, { size: 3, stride: 2, padding: 1 }),
        maxPool(x, { size: [2, 3], stride: [2, 1] }),
        avgPool(x, { size: 3, stride: 2, padding: 1 }),
        avgPool(x, { size: [3, 2], padding: [[1, 1], [0, 1]], countIncludePad: false }),
        conv(x1, w([3, 2, 5], 6), { stride: 2, padding: 1 }),
        maxPool(x1, { size: 2 }),
        avgPool(x1, { size: 3, stride: 1, padding: 1, countIncludePad: false }),
      ];
      const feeds = { x: ramp([2, 7, 6, 4], dtype, 7), s: ramp([3, 9, 2], dtype, 8) };
      const ops = await roundTrip(g, [x, x1], outs, feeds, dtype === 'float64' ? 1e-12 : 1e-5);
      if (dtype === 'float32') expect([...ops]).toEqual(expect.arrayContaining(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'Transpose']));
      else {
        // ONNX Runtime has MaxPool in float64 but not Conv, ConvTranspose or AveragePool: those come from their taps
        expect(ops.has('MaxPool')).toBe(true);
        expect(['Conv', 'ConvTranspose', 'AveragePool'].filter((op) => ops.has(op))).toEqual([]);
      }
    });

    it(`${dtype}: a CNN training step's gradients (conv, convTranspose, maxPoolScatter, avgPoolTranspose), dynamic batch`, async () => {
      const g = new Graph({ seed: 3 });
      const x = g.input('x', [null, 8, 8, 2], dtype);
      const y = g.input('y', [null], 'int32');
      const h1 = g.scope('block1', () => nn.maxPool(nn.prelu(nn.conv(x, 4, { kernel: 3, padding: 'same', init: init.heNormal() }), { perChannel: true }), { size: 2 }));
      const h2 = g.scope('block2', () => nn.avgPool(nn.relu(nn.conv(h1, 6, { kernel: 3, stride: 2, padding: 1, groups: 2 })), { size: 2, stride: 1, padding: 1 }));
      const logits = g.scope('head', () => nn.dense(nn.flatten(h2), 3));
      const loss = nn.softmaxCrossEntropy(logits, y);
      const grads = grad(loss, g.params());
      expect(g.nodes.map((n) => n.op)).toEqual(expect.arrayContaining(['convTranspose', 'maxPoolScatter', 'avgPoolTranspose']));
      const feeds = { x: ramp([5, 8, 8, 2], dtype, 2), y: Tensor.from([0, 2, 1, 1, 0], 'int32') };
      await roundTrip(g, [x, y], [loss, logits, ...grads], feeds, dtype === 'float64' ? 1e-12 : 1e-5);
    });
  }

  it('maxPoolGather (maxPool’s JVP helper) and ties: the mean tangent of the elements that tie for the maximum', async () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const g = new Graph();
      const x = g.input('x', [null, 4, 4, 1], dtype);
      const t = g.input('t', [null, 4, 4, 1], dtype);
      const y = maxPool(x, { size: 2, stride: 1, padding: [[0, 1], [1, 0]] });
      const gathered = g.apply('maxPoolGather', [x, y, t], y.node.attrs);
      const scattered = g.apply('maxPoolScatter', [x, y, gathered], y.node.attrs);
      // ties: a plateau of equal values
      const xs = Tensor.from([1, 1, 2, 0, 1, 1, 2, 2, 0, 3, 3, 0, 0, 3, 3, 1], dtype).reshape([1, 4, 4, 1]);
      await roundTrip(g, [x, t], [gathered, scattered], { x: xs, t: ramp([1, 4, 4, 1], dtype, 4) });
    }
  });

  it("the demo's CNN (conv 5×5 → PReLU per channel → maxPool 2, twice, dense head) through ONNX Runtime and back", async () => {
    const g = new Graph({ seed: 42 });
    const x = g.input('x', [null, 784]);
    const img = x.reshape([-1, 28, 28, 1]).sub(0.13).mul(1 / 0.31);
    const block = (h: Sym, channels: number) => nn.maxPool(nn.prelu(nn.conv(h, channels, { kernel: 5, init: init.heNormal() }), { perChannel: true }), { size: 2 });
    const h2 = g.scope('block2', () => block(g.scope('block1', () => block(img, 8)), 16));
    const logits = g.scope('output', () => nn.dense(nn.prelu(nn.dense(nn.flatten(h2), 64, { init: init.heNormal() })), 10));
    const ops = await roundTrip(g, [x], [logits], { x: Tensor.from(Array.from({ length: 3 * 784 }, (_, i) => (Math.sin(i * 0.37) + 1) / 2), 'float32').reshape([3, 784]) });
    expect([...ops]).toEqual(expect.arrayContaining(['Conv', 'PRelu', 'MaxPool', 'Transpose', 'MatMul']));
  });
});

// ---- import ----------------------------------------------------------------------------------

const F = E.FLOAT;

describe('importOnnx: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool (NCHW), against ONNX Runtime', () => {
  it('Conv: pads, strides, dilations, group, bias, auto_pad; 1-d and 2-d; the NCHW input and output stay NCHW', async () => {
    const imported = await againstOrt(
      {
        inputs: [['x', F, [null, 4, 7, 6]], ['s', F, [null, 2, 9]]],
        outputs: [['a', F], ['b', F], ['c', F], ['d', F], ['e', F], ['f', F]],
        inits: { w: ramp([6, 4, 3, 3], 'float32', 1), wb: ramp([6], 'float32', 2), wg: ramp([6, 2, 2, 3], 'float32', 3), w1: ramp([5, 2, 3], 'float32', 4), wd: ramp([4, 1, 3, 3], 'float32', 5) },
        nodes: [
          ['Conv', ['x', 'w', 'wb'], ['a'], { pads: at.ints([1, 0, 2, 1]), strides: at.ints([2, 1]) }, '/conv1/Conv'],
          ['Conv', ['x', 'wg'], ['b'], { group: at.i(2), strides: at.ints([1, 2]), auto_pad: at.s('SAME_UPPER') }],
          ['Conv', ['x', 'wg'], ['f'], { group: at.i(2), dilations: at.ints([2, 1]), pads: at.ints([2, 1, 1, 0]) }],
          ['Conv', ['x', 'wd'], ['c'], { group: at.i(4), auto_pad: at.s('SAME_LOWER'), strides: at.ints([2, 2]) }],
          ['Conv', ['s', 'w1'], ['d'], { pads: at.ints([1, 1]), strides: at.ints([2]) }],
          ['Conv', ['x', 'w'], ['e'], { auto_pad: at.s('VALID'), kernel_shape: at.ints([3, 3]) }],
        ],
      },
      { x: ramp([2, 4, 7, 6], 'float32', 6), s: ramp([3, 2, 9], 'float32', 7) },
    );
    expect(imported.inputs[0].shape).toEqual([null, 4, 7, 6]);
    expect(imported.outputs[0].shape).toEqual([null, 6, 4, 5]);
    expect(imported.graph.nodes.find((n) => n.op === 'conv')!.scope).toBe('conv1');
  });

  it('ConvTranspose (strides, pads, output_padding, group, dilations), MaxPool (pads; its Indices unused), AveragePool (count_include_pad 0 and 1), GlobalAveragePool, GlobalMaxPool', async () => {
    await againstOrt(
      {
        inputs: [['x', F, [null, 4, 5, 6]]],
        outputs: [['t', F], ['u', F], ['m', F], ['a0', F], ['a1', F], ['gap', F], ['gmp', F]],
        inits: { w: ramp([4, 3, 3, 3], 'float32', 1), b: ramp([3], 'float32', 2), wg: ramp([4, 1, 2, 3], 'float32', 3) },
        nodes: [
          ['ConvTranspose', ['x', 'w', 'b'], ['t'], { strides: at.ints([2, 2]), pads: at.ints([1, 0, 1, 1]), output_padding: at.ints([1, 0]) }],
          ['ConvTranspose', ['x', 'wg'], ['u'], { group: at.i(2), dilations: at.ints([2, 1]), strides: at.ints([1, 3]) }],
          ['MaxPool', ['x'], ['m', 'idx'], { kernel_shape: at.ints([3, 3]), strides: at.ints([2, 2]), pads: at.ints([1, 1, 1, 1]) }],
          ['AveragePool', ['x'], ['a0'], { kernel_shape: at.ints([3, 2]), pads: at.ints([1, 0, 1, 1]) }],
          ['AveragePool', ['x'], ['a1'], { kernel_shape: at.ints([3, 3]), strides: at.ints([2, 2]), pads: at.ints([1, 1, 1, 1]), count_include_pad: at.i(1) }],
          ['GlobalAveragePool', ['x'], ['gap']],
          ['GlobalMaxPool', ['x'], ['gmp']],
        ],
      },
      { x: ramp([2, 4, 5, 6], 'float32', 9) },
    );
  });

  it('refuses by name what gradgraph’s windows do not take: pooling dilations, a partial ceil_mode window, 3 spatial dims', async () => {
    const model = (node: ModelSpec['nodes'][number], dims: number[] = [1, 1, 5, 5]) => onnxModel({ inputs: [['x', F, dims]], outputs: [['y', F]], nodes: [node] });
    await expect(importOnnx(await model(['MaxPool', ['x'], ['y'], { kernel_shape: at.ints([2, 2]), dilations: at.ints([2, 2]) }]))).rejects.toThrow(/MaxPool with dilations \[2, 2\].*MaxPool node/);
    await expect(importOnnx(await model(['MaxPool', ['x'], ['y'], { kernel_shape: at.ints([2, 2]), strides: at.ints([2, 2]), ceil_mode: at.i(1) }]))).rejects.toThrow(/ceil_mode = 1/);
    await expect(importOnnx(await model(['AveragePool', ['x'], ['y'], { kernel_shape: at.ints([2, 2, 2]) }], [1, 1, 4, 4, 4]))).rejects.toThrow(/3 spatial dims/);
  });
});
