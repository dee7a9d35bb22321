import { describe, expect, it } from 'vitest';
import { Graph, GraphError, ShapeError, Tensor, compile, grad } from '@gradgraph/core';
import { nn } from '../index';

const rows = [
  [1, 10],
  [2, 20],
  [4, 40],
  [5, 30],
];
const colMean = [3, 25];
const colVarBiased = [2.5, 125];
const colVarUnbiased = [10 / 3, 500 / 3];

describe('nn.batchNorm', () => {
  it('normalizes with batch statistics in training and moves the running statistics', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.batchNorm(x, { momentum: 0.1 });
    expect(g.params().map((p) => p.name)).toEqual(['batchNorm/gamma', 'batchNorm/beta']);
    expect(g.stateVars().map((p) => p.name)).toEqual(['batchNorm/runningMean', 'batchNorm/runningVar']);
    const ups = nn.stateUpdates(g);
    expect(ups.map(([s]) => s.name)).toEqual(['batchNorm/runningMean', 'batchNorm/runningVar']);
    const step = compile(g, { outputs: [y], updates: ups });
    const [yv] = step.run({ x: Tensor.from(rows, 'float64'), training: true });
    expect(yv.toArray()).toEqual(rows.map((r) => r.map((v, c) => expect.closeTo((v - colMean[c]) / Math.sqrt(colVarBiased[c] + 1e-5), 12))));
    expect(g.getValue('batchNorm/runningMean').toArray()).toEqual(colMean.map((m) => expect.closeTo(0.1 * m, 14)));
    expect(g.getValue('batchNorm/runningVar').toArray()).toEqual(colVarUnbiased.map((v) => expect.closeTo(0.9 + 0.1 * v, 12)));
    // evaluation uses the running statistics, and the same updates leave them alone
    const rm = g.getValue('batchNorm/runningMean').toArray() as number[];
    const rv = g.getValue('batchNorm/runningVar').toArray() as number[];
    const [ev] = step.run({ x: Tensor.from([[0, 0]], 'float64') });
    expect(ev.toArray()).toEqual([[0, 1].map((c) => expect.closeTo(-rm[c] / Math.sqrt(rv[c] + 1e-5), 12))]);
    expect(g.getValue('batchNorm/runningMean').toArray()).toEqual(rm);
    expect(g.getValue('batchNorm/runningVar').toArray()).toEqual(rv);
  });

  it('applies γ and β and normalizes over every axis but `axis`', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2, 3], 'float64');
    const y = nn.batchNorm(x, { axis: 1, training: true });
    g.setValue('batchNorm/gamma', Tensor.from([2, 3], 'float64'));
    g.setValue('batchNorm/beta', Tensor.from([1, -1], 'float64'));
    const xs = Tensor.randn([4, 2, 3], 'float64', 2);
    const [yv] = compile(g, { outputs: [y] }).run({ x: xs });
    for (let c = 0; c < 2; c++) {
      const vals: number[] = [];
      for (let n = 0; n < 4; n++) for (let k = 0; k < 3; k++) vals.push(yv.data[n * 6 + c * 3 + k]);
      const m = vals.reduce((s, v) => s + v, 0) / vals.length;
      const v = vals.reduce((s, e) => s + (e - m) ** 2, 0) / vals.length;
      expect(m).toBeCloseTo([1, -1][c], 12);
      expect(v / [4, 9][c]).toBeCloseTo(1, 3); // γ², up to ε/σ²
    }
  });

  it('follows the graph training switch inside one compiled step, and a fixed mode records no switch', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.batchNorm(x, { affine: false, eps: 0 });
    expect(g.params()).toEqual([]);
    const exe = compile(g, { outputs: [y] });
    const feed = Tensor.from(rows, 'float64');
    const train = exe.run({ x: feed, training: true })[0];
    const evalv = exe.run({ x: feed, training: false })[0];
    expect(train.toArray()[0][0]).toBeCloseTo((1 - 3) / Math.sqrt(2.5), 12);
    expect(evalv.toArray()).toEqual(rows); // running mean 0, var 1, eps 0
    const h = new Graph();
    nn.batchNorm(h.input('x', [null, 2]), { training: false });
    expect(h.byName('training')).toBeUndefined();
    expect(nn.stateUpdates(h)).toEqual([]);
  });

  it('handles a batch size known only at run time, including a batch of 1', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    nn.batchNorm(x, { training: true, momentum: 0.5 });
    const step = compile(g, { outputs: [x], updates: nn.stateUpdates(g) });
    step.run({ x: Tensor.from([[1, 2]]) });
    expect(g.getValue('batchNorm/runningVar').toArray()).toEqual([0.5, 0.5]); // n = 1: biased variance 0, no 0/0
    expect(g.getValue('batchNorm/runningMean').toArray()).toEqual([0.5, 1]);
  });

  it('differentiates through the batch statistics', () => {
    const g = new Graph();
    const x = g.input('x', [4, 1], 'float64');
    const y = nn.batchNorm(x, { training: true, affine: false, eps: 0 });
    // Σ x̂ = 0 for every x, so its gradient vanishes; Σ x̂² = n, so that one does too
    const [d1] = grad(y.sum(), [x]);
    const [d2] = grad(y.square().sum(), [x]);
    const [a, b] = compile(g, { outputs: [d1, d2] }).run({ x: Tensor.from([[1], [2], [4], [7]], 'float64') });
    for (const v of [...a.data, ...b.data]) expect(Math.abs(v)).toBeLessThan(1e-12);
  });

  it('rejects bad input', () => {
    const g = new Graph();
    expect(() => nn.batchNorm(g.input('v', [null]))).toThrow(ShapeError);
    expect(() => nn.batchNorm(g.input('u', [3, null]))).toThrow(/size of axis 1/);
    expect(() => nn.batchNorm(g.input('w', [3, 2]), { momentum: 2 })).toThrow(/momentum must be ≤ 1/);
    expect(() => nn.batchNorm(g.input('z', [3, 2]), { axis: 2 })).toThrow(ShapeError);
    expect(() => nn.stateUpdates({} as never)).toThrow(GraphError);
  });
});

describe('nn.layerNorm', () => {
  it('normalizes each example over its features, with γ and β', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.layerNorm(x, { eps: 0 });
    expect(g.params().map((p) => [p.name, p.shape])).toEqual([['layerNorm/gamma', [2]], ['layerNorm/beta', [2]]]);
    g.setValue('layerNorm/gamma', Tensor.from([2, 1], 'float64'));
    g.setValue('layerNorm/beta', Tensor.from([0, 5], 'float64'));
    const [v] = compile(g, { outputs: [y] }).run({ x: Tensor.from([[1, 3], [10, 0]], 'float64') });
    expect(v.toArray()).toEqual([[-2, 6], [2, 4]]);
  });

  it('normalizes over several axes, and over a non-trailing one', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2, 3], 'float64');
    const a = nn.layerNorm(x, { axes: [1, 2], affine: false, eps: 0 });
    const b = nn.functional.layerNorm(x, g.param('gm', Tensor.from([1, 2], 'float64')), undefined, { axes: 1, eps: 0 });
    const xs = Tensor.randn([2, 2, 3], 'float64', 4);
    const [av, bv] = compile(g, { outputs: [a, b] }).run({ x: xs });
    for (let n = 0; n < 2; n++) {
      const vals = Array.from(av.data.slice(n * 6, n * 6 + 6));
      expect(vals.reduce((s, e) => s + e, 0)).toBeCloseTo(0, 12);
      expect(vals.reduce((s, e) => s + e * e, 0) / 6).toBeCloseTo(1, 12);
    }
    // axis 1 of size 2 normalized to ±1, times γ = [1, 2] along that axis
    for (let n = 0; n < 2; n++) for (let k = 0; k < 3; k++) {
      const top = bv.data[n * 6 + k];
      const bottom = bv.data[n * 6 + 3 + k];
      expect(Math.abs(top)).toBeCloseTo(1, 12);
      expect(bottom).toBeCloseTo(-2 * top, 12);
    }
  });

  it('rejects bad input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    expect(() => nn.layerNorm(x, { axes: [1, 1] })).toThrow(/repeat an axis/);
    expect(() => nn.layerNorm(x, { axes: 0 })).toThrow(ShapeError); // the batch axis is not static
    expect(() => nn.functional.layerNorm(x, g.param('g4', Tensor.ones([4])))).toThrow(/gamma must have shape \[3\]/);
  });
});

describe('penalties', () => {
  it('sum |p| and p² over params, weighted, minus the excluded ones', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([[1, -2], [3, 0]]));
    const b = g.param('b', Tensor.from([-0.5, 0.5]));
    const a = g.scope('act', () => g.param('alpha', Tensor.from(0.25)));
    const outs = [
      nn.l1Penalty([w, b, a]),
      nn.l2Penalty([w, b, a], { weight: 0.5 }),
      nn.l2Penalty([w, b, a], { exclude: [a] }),
      nn.l2Penalty([w, b, a], { exclude: /^act\// }),
      nn.l1Penalty([w, b, a], { exclude: (p) => p.name !== 'w' }),
      nn.l1Penalty([w], { exclude: [w] }),
    ];
    const vals = compile(g, { outputs: outs }).run().map((t) => t.item());
    expect(vals).toEqual([7.25, expect.closeTo(0.5 * (14 + 0.5 + 0.0625), 6), 14.5, 14.5, 6, 0]);
  });

  it('have gradients w·sign(p) and 2w·p', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([2, -1, 0], 'float64'));
    const [d1] = grad(nn.l1Penalty([w], { weight: 3 }), [w]);
    const [d2] = grad(nn.l2Penalty([w], { weight: 3 }), [w]);
    const [a, b] = compile(g, { outputs: [d1, d2] }).run();
    expect(a.toArray()).toEqual([3, -3, 0]);
    expect(b.toArray()).toEqual([12, -6, 0]);
  });

  it('exclude builder params by role', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    nn.prelu(nn.batchNorm(nn.dense(x, 3), { training: true }));
    const kernels = g.params().filter((p) => nn.paramRole(p) === 'kernel');
    expect(kernels.map((p) => p.name)).toEqual(['dense/kernel']);
    expect(g.params().map((p) => nn.paramRole(p))).toEqual(['kernel', 'bias', 'norm', 'norm', 'activation']);
    expect(nn.l2Penalty(g.params(), { exclude: (p) => nn.paramRole(p) !== 'kernel' }).dtype).toBe('float32');
  });

  it('reject bad input', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([1]));
    expect(() => nn.l1Penalty([])).toThrow(/at least one param/);
    expect(() => nn.l1Penalty(w as never)).toThrow(GraphError);
    expect(() => nn.l2Penalty([w], { weight: -1 })).toThrow(/weight must be ≥ 0/);
    expect(() => nn.l2Penalty([w], { exclude: 'w' as never })).toThrow(/exclude must be/);
    expect(() => nn.l2Penalty([w, new Graph().param('v', Tensor.from([1]))])).toThrow(/different graphs/);
  });
});

describe('saved graphs keep nn metadata', () => {
  it('stateUpdates and paramRole survive toJSON / fromJSON', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 3]);
    nn.prelu(nn.batchNorm(nn.dense(x, 4)));
    const before = nn.stateUpdates(g).map(([a, b]) => [a.id, b.id]);
    expect(before.length).toBe(2);
    const loaded = Graph.fromJSON(JSON.stringify(g.toJSON()));
    expect(nn.stateUpdates(loaded).map(([a, b]) => [a.id, b.id])).toEqual(before);
    expect(loaded.params().map((p) => nn.paramRole(p))).toEqual(g.params().map((p) => nn.paramRole(p)));
    expect(loaded.params().map((p) => nn.paramRole(p))).toContain('activation');
  });
});
