import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, conv as coreConv, formatReport, gradcheck, grad, maxPool as coreMaxPool, type Sym } from '@gradgraph/core';
import { init, nn } from '../index';
import type { InitContext } from '../init/index';

/** An initializer that records the fans it was called with and fills with `value`. */
function recording(seen: InitContext[], value = 0.1): init.Initializer {
  return (ctx: InitContext) => {
    seen.push(ctx);
    return Tensor.full([...ctx.shape], value, ctx.dtype);
  };
}

describe('nn.conv', () => {
  it('makes conv/kernel [...k, C/groups, channels] and conv/bias in the current scope, and computes conv(x, W) + b', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 6, 5, 4], 'float64');
    const y = g.scope('block', () => nn.conv(x, 6, { kernel: [3, 2], padding: 'same', groups: 2, biasInit: init.constant(0.5) }));
    expect(y.shape).toEqual([null, 6, 5, 6]);
    expect(g.params().map((p) => [p.name, p.shape, p.dtype, nn.paramRole(p)])).toEqual([
      ['block/conv/kernel', [3, 2, 2, 6], 'float64', 'kernel'],
      ['block/conv/bias', [6], 'float64', 'bias'],
    ]);
    const xv = Tensor.randn([2, 6, 5, 4], 'float64', 3);
    const h = new Graph();
    const ref = coreConv(h.input('x', [2, 6, 5, 4], 'float64'), h.constant(g.getValue('block/conv/kernel')), { padding: 'same', groups: 2 }).add(0.5);
    const [got] = compile(g, { outputs: [y] }).run({ x: xv });
    const [want] = compile(h, { outputs: [ref] }).run({ x: xv });
    expect(Array.from(got.data)).toEqual(Array.from(want.data));
  });

  it('initializers see the fans of a convolution: kernel taps·C/groups in, kernel taps·channels/groups out', () => {
    const seen: InitContext[] = [];
    const g = new Graph();
    const x = g.input('x', [null, 8, 8, 6]);
    nn.conv(x, 4, { kernel: 3, init: recording(seen) });
    nn.conv(x, 12, { kernel: [3, 5], groups: 3, init: recording(seen) });
    nn.conv(g.input('s', [null, 10, 2]), 3, { kernel: 4, init: recording(seen), bias: false });
    expect(seen.map((c) => [c.fanIn, c.fanOut])).toEqual([
      [9 * 6, 9 * 4],
      [15 * 2, 15 * 4],
      [4 * 2, 4 * 3],
    ]);
    // He normal: σ = √2/√fanIn
    const h = new Graph({ seed: 7 });
    nn.conv(h.input('x', [null, 28, 28, 16], 'float64'), 64, { kernel: 5, init: init.heNormal() });
    const w = h.getValue('conv/kernel').data;
    const std = Math.sqrt(Array.from(w).reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (25 * 16)), 2);
    // the default, Xavier uniform: |w| ≤ √(6/(fanIn + fanOut))
    const d = new Graph();
    nn.conv(d.input('x', [null, 28, 28, 3]), 8, { kernel: 3 });
    expect(Math.max(...Array.from(d.getValue('conv/kernel').data, Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / (27 + 72)));
    expect(d.getValue('conv/bias').toArray()).toEqual(new Array(8).fill(0));
  });

  it('never lets two layers clash; gradients reach kernel and bias (gradcheck, float64)', () => {
    const g = new Graph({ seed: 2 });
    const x = g.input('x', [null, 5, 3], 'float64');
    const h = nn.conv(nn.conv(x, 4, { kernel: 3, padding: 1 }), 2, { kernel: 2, stride: 2, name: 'head' });
    expect(g.params().map((p) => p.name)).toEqual(['conv/kernel', 'conv/bias', 'head/kernel', 'head/bias']);
    expect(h.shape).toEqual([null, 2, 2]);
    const report = gradcheck(
      (xs: Sym) => {
        const y = nn.conv(xs, 3, { kernel: 2, dilation: 2, padding: 'same' });
        return y.mul(y).sum();
      },
      [Tensor.randn([2, 5, 2], 'float64', 1)],
      { order: 2 },
    );
    expect(report.ok, formatReport(report)).toBe(true);
    expect(report.inputs.map((r) => r.name)).toEqual(['x0', 'conv/kernel', 'conv/bias']); // x, then the params the function made
  });

  it('rejects bad input with errors naming nn.conv', () => {
    const g = new Graph();
    const x = g.input('x', [null, 8, 8, 3]);
    expect(() => nn.conv(x, 4, {} as never)).toThrow(/nn\.conv: needs the kernel size/);
    expect(() => nn.conv(x, 4, { kernel: 3, strides: 2 } as never)).toThrow(/unknown option "strides"/);
    expect(() => nn.conv(x, 0, { kernel: 3 })).toThrow(/channels must be ≥ 1/);
    expect(() => nn.conv(x, 4, { kernel: [3, 3, 3] })).toThrow(/kernel must be a positive integer or 2 of them/);
    expect(() => nn.conv(x, 4, { kernel: 3, groups: 2 })).toThrow(/groups 2 must divide the input channels \(3\)/);
    expect(() => nn.conv(g.input('u', [null, 8, 8, null]), 4, { kernel: 3 })).toThrow(ShapeError);
    expect(() => nn.conv(g.input('v', [null, 8]), 4, { kernel: 3 })).toThrow(/1 or 2 spatial dims/);
    expect(() => nn.conv(g.input('i', [1, 8, 8, 3], 'int32'), 4, { kernel: 3 })).toThrow(DTypeError);
    expect(() => nn.conv(x, 4, { kernel: 3, bias: init.zeros() as never })).toThrow(GraphError);
    expect(() => nn.functional.conv(x, g.param('k', Tensor.zeros([3, 3, 3, 2])), g.param('b', Tensor.zeros([3])))).toThrow(/bias must have shape \[2\]/);
  });
});

describe('pooling, globalAvgPool and flatten', () => {
  it('nn.maxPool and nn.avgPool are the core primitives', () => {
    const g = new Graph();
    const x = g.input('x', [null, 6, 6, 2]);
    expect(nn.maxPool(x, { size: 2 }).node.op).toBe('maxPool');
    expect(nn.maxPool(x, { size: 2 }).id).toBe(coreMaxPool(x, { size: 2 }).id);
    expect(nn.avgPool(x, { size: 3, stride: 1, padding: 'same' }).shape).toEqual([null, 6, 6, 2]);
  });

  it('globalAvgPool averages every position: [N, ...spatial, C] → [N, C]', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2, 3, 2], 'float64');
    const y = nn.globalAvgPool(x);
    expect(y.shape).toEqual([null, 2]);
    const xv = Tensor.from([[[[1, 10], [2, 20], [3, 30]], [[4, 40], [5, 50], [6, 60]]]], 'float64');
    expect(compile(g, { outputs: [y] }).run({ x: xv })[0].toArray()).toEqual([[3.5, 35]]);
    expect(nn.globalAvgPool(g.input('s', [4, 7, 3])).shape).toEqual([4, 3]);
    expect(() => nn.globalAvgPool(g.input('m', [4, 3]))).toThrow(/rank ≥ 3/);
  });

  it('flatten keeps the batch and joins the rest', () => {
    const g = new Graph();
    expect(nn.flatten(g.input('x', [null, 4, 4, 16])).shape).toEqual([null, 256]);
    expect(nn.flatten(g.input('v', [5])).shape).toEqual([5, 1]);
    const x = g.input('y', [2, 2, 3]);
    const [v] = compile(g, { outputs: [nn.flatten(x)] }).run({ y: Tensor.from([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]) });
    expect(v.toArray()).toEqual([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
    expect(() => nn.flatten(g.input('u', [null, null, 3]))).toThrow(/must be known/);
  });
});

describe('per-channel PReLU and batchNorm on [N, H, W, C]', () => {
  it('prelu({ perChannel: true }) has one slope per channel (the last axis) and its gradient', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2, 2, 3], 'float64');
    const y = nn.prelu(x, { perChannel: true });
    const alpha = g.byName('prelu/alpha')!;
    expect(alpha.shape).toEqual([3]);
    g.setValue(alpha, Tensor.from([0.1, 0.2, 0.3], 'float64'));
    const xv = new Tensor('float64', [1, 2, 2, 3], Float64Array.from({ length: 12 }, (_v, i) => -1 - i));
    const [dalpha] = grad(y.sum(), [alpha]);
    const [yv, da] = compile(g, { outputs: [y, dalpha] }).run({ x: xv });
    // every input negative: y = α_c·x, dΣy/dα_c = Σ over positions of x[..., c]
    expect(Array.from(yv.data)).toEqual(Array.from(xv.data, (v, i) => [0.1, 0.2, 0.3][i % 3] * v));
    expect(Array.from(da.data)).toEqual([0, 1, 2].map((c) => [0, 1, 2, 3].reduce((s, k) => s + xv.data[3 * k + c], 0)));
  });

  it('batchNorm (axis −1, the default) normalizes each channel over N, H and W', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3, 3, 2], 'float64');
    const y = nn.batchNorm(x, { training: true });
    expect(g.byName('batchNorm/runningMean')!.shape).toEqual([2]);
    const xv = new Tensor('float64', [4, 3, 3, 2], Float64Array.from({ length: 72 }, (_v, i) => (i % 2 ? 100 + 5 * Math.sin(i) : Math.cos(i))));
    const [yv] = compile(g, { outputs: [y] }).run({ x: xv });
    for (const c of [0, 1]) {
      const vs = Array.from(yv.data).filter((_v, i) => i % 2 === c);
      const mean = vs.reduce((s, v) => s + v, 0) / vs.length;
      const variance = vs.reduce((s, v) => s + (v - mean) ** 2, 0) / vs.length;
      expect(Math.abs(mean)).toBeLessThan(1e-12);
      expect(variance).toBeCloseTo(1, 3);
    }
  });
});
