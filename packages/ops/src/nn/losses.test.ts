import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn } from '../index';

const sig = (v: number) => 1 / (1 + Math.exp(-v));

/** Builds loss(pred, target) for float64 vectors and returns its value and d/dpred. */
function lossAndGrad(f: (p: Sym, t: Sym) => Sym, pred: number[], target: number[], dtype: 'float32' | 'float64' = 'float64') {
  const g = new Graph();
  const p = g.input('p', [null], dtype);
  const t = g.input('t', [null], dtype);
  const l = f(p, t);
  const [dp] = grad(l.rank === 0 ? l : l.sum(), [p]);
  const [lv, dpv] = compile(g, { outputs: [l, dp] }).run({ p: Tensor.from(pred, dtype), t: Tensor.from(target, dtype) });
  return { loss: lv, grad: Array.from(dpv.data) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pred = [0.5, -1.2, 3, 2];
const target = [0, -1, 0.5, 2];
const res = pred.map((p, i) => p - target[i]);

describe('regression losses', () => {
  it('mse and mae, with every reduction', () => {
    expect(lossAndGrad(nn.mse, pred, target).loss.item()).toBeCloseTo(mean(res.map((r) => r * r)), 14);
    expect(lossAndGrad((p, t) => nn.mse(p, t, { reduction: 'sum' }), pred, target).loss.item()).toBeCloseTo(res.reduce((s, r) => s + r * r, 0), 14);
    const none = lossAndGrad((p, t) => nn.mse(p, t, { reduction: 'none' }), pred, target).loss;
    expect(Array.from(none.data)).toEqual(res.map((r) => expect.closeTo(r * r, 14)));
    const mae = lossAndGrad(nn.mae, pred, target);
    expect(mae.loss.item()).toBeCloseTo(mean(res.map(Math.abs)), 14);
    expect(mae.grad).toEqual(res.map((r) => (r > 0 ? 0.25 : r < 0 ? -0.25 : 0)));
  });

  it('huber is quadratic inside δ and linear outside', () => {
    const h = lossAndGrad((p, t) => nn.huber(p, t, { delta: 1, reduction: 'none' }), pred, target);
    const want = res.map((r) => (Math.abs(r) <= 1 ? 0.5 * r * r : Math.abs(r) - 0.5));
    expect(Array.from(h.loss.data)).toEqual(want.map((w) => expect.closeTo(w, 14)));
    expect(h.grad).toEqual(res.map((r) => expect.closeTo(Math.abs(r) <= 1 ? r : Math.sign(r), 14)));
    const h2 = lossAndGrad((p, t) => nn.huber(p, t, { delta: 0.1 }), [0.3], [0]);
    expect(h2.loss.item()).toBeCloseTo(0.1 * (0.3 - 0.05), 14);
  });

  it("tukey follows ρ(r) = c²/6·(1 − (1 − (r/c)²)³), constant beyond c", () => {
    const c = 2;
    const scale = 0.5;
    const rho = (r: number) => (Math.abs(r) <= c ? ((c * c) / 6) * (1 - (1 - (r / c) ** 2) ** 3) : (c * c) / 6);
    const dRho = (r: number) => (Math.abs(r) <= c ? r * (1 - (r / c) ** 2) ** 2 : 0); // ψ(r) = r·(1 − (r/c)²)²
    const t = lossAndGrad((p, q) => nn.tukey(p, q, { c, scale, reduction: 'none' }), pred, target);
    expect(Array.from(t.loss.data)).toEqual(res.map((r) => expect.closeTo(rho(r / scale), 13)));
    expect(t.grad).toEqual(res.map((r) => expect.closeTo(dRho(r / scale) / scale, 13)));
    expect(Math.abs(t.grad[2])).toBe(0); // |r/scale| = 5 > c: a gross outlier exerts no force
    // defaults: c = 4.685, scale = 1
    const d = lossAndGrad(nn.tukey, [10, 1], [0, 0]);
    expect(d.loss.item()).toBeCloseTo(0.5 * (4.685 ** 2 / 6 + (4.685 ** 2 / 6) * (1 - (1 - (1 / 4.685) ** 2) ** 3)), 12);
  });

  it('tukey takes the scale as a symbol', () => {
    const g = new Graph();
    const p = g.input('p', [2], 'float64');
    const s = g.input('s', [], 'float64');
    const [l] = compile(g, { outputs: [nn.tukey(p, 0, { scale: s, c: 1, reduction: 'sum' })] }).run({ p: Tensor.from([0.5, 3], 'float64'), s: Tensor.from(2, 'float64') });
    expect(l.item()).toBeCloseTo((1 / 6) * (1 - (1 - 0.0625) ** 3) + 1 / 6, 14);
    expect(() => nn.tukey(p, 0, { scale: p })).toThrow(/scale must be a scalar/);
    expect(() => nn.tukey(p, 0, { scale: 0 })).toThrow(/scale must be > 0/);
  });
});

describe('binary classification losses', () => {
  it('binaryCrossEntropy matches −[y log p + (1−y) log(1−p)] and clamps p', () => {
    const probs = [0.9, 0.2, 0.5];
    const ys = [1, 0, 1];
    const b = lossAndGrad(nn.binaryCrossEntropy, probs, ys);
    expect(b.loss.item()).toBeCloseTo(mean(probs.map((p, i) => -(ys[i] * Math.log(p) + (1 - ys[i]) * Math.log(1 - p)))), 14);
    expect(b.grad).toEqual(probs.map((p, i) => expect.closeTo((-(ys[i] / p) + (1 - ys[i]) / (1 - p)) / 3, 12)));
    const edge = lossAndGrad((p, t) => nn.binaryCrossEntropy(p, t, { reduction: 'none' }), [0, 1], [1, 0], 'float32');
    expect(Array.from(edge.loss.data).every(Number.isFinite)).toBe(true);
    expect(edge.loss.data[0]).toBeCloseTo(-Math.log(1e-7), 4);
    expect(edge.grad.map(Math.abs)).toEqual([0, 0]); // clamped: no gradient
  });

  it('bceWithLogits equals BCE of σ(z) and is exact for |z| ≥ 100 in float32', () => {
    const zs = [2, -0.5, 0, 3];
    const ys = [1, 0, 0.3, 0];
    const b = lossAndGrad((z, y) => nn.bceWithLogits(z, y, { reduction: 'none' }), zs, ys);
    zs.forEach((z, i) => {
      expect(b.loss.data[i]).toBeCloseTo(-(ys[i] * Math.log(sig(z)) + (1 - ys[i]) * Math.log(1 - sig(z))), 13);
      expect(b.grad[i]).toBeCloseTo(sig(z) - ys[i], 14);
    });
    const big = lossAndGrad((z, y) => nn.bceWithLogits(z, y, { reduction: 'none' }), [100, -100, 100, -100, 1000, -1000], [1, 0, 0, 1, 0, 1], 'float32');
    expect(Array.from(big.loss.data)).toEqual([0, 0, 100, 100, 1000, 1000].map((v) => expect.closeTo(v, 30)));
    expect(big.grad).toEqual([0, 0, 1, -1, 1, -1].map((v) => expect.closeTo(v, 30)));
  });

  it('bceWithLogits weighs positives with posWeight', () => {
    const w = 3;
    const b = lossAndGrad((z, y) => nn.bceWithLogits(z, y, { posWeight: w, reduction: 'none' }), [0.4, -1], [1, 0.5]);
    [0.4, -1].forEach((z, i) => {
      const y = [1, 0.5][i];
      expect(b.loss.data[i]).toBeCloseTo(-(w * y * Math.log(sig(z)) + (1 - y) * Math.log(1 - sig(z))), 13);
    });
  });
});

describe('nn.softmaxCrossEntropy', () => {
  const logits = [[2, 1, -1], [0.5, 0.5, 3], [-2, 4, 0]];
  const labels = [0, 2, 1];
  const lse = (row: number[]) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
  const perRow = logits.map((row, i) => lse(row) - row[labels[i]]);

  function build(labelsSym: (g: Graph) => Sym, opts: Parameters<typeof nn.softmaxCrossEntropy>[2] = {}) {
    const g = new Graph();
    const z = g.input('z', [null, 3], 'float64');
    const y = labelsSym(g);
    const l = nn.softmaxCrossEntropy(z, y, opts);
    const [dz] = grad(l.rank === 0 ? l : l.sum(), [z]);
    return { g, exe: compile(g, { outputs: [l, dz] }) };
  }

  it('takes int32 labels, means over the batch, and has gradient (softmax − onehot)/N', () => {
    const { exe } = build((g) => g.input('y', [null], 'int32'));
    const [l, dz] = exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(labels, 'int32') });
    expect(l.item()).toBeCloseTo(mean(perRow), 14);
    const want = logits.map((row, i) => row.map((v, j) => (Math.exp(v - lse(row)) - (j === labels[i] ? 1 : 0)) / 3));
    expect(dz.toArray()).toEqual(want.map((r) => r.map((v) => expect.closeTo(v, 14))));
  });

  it('agrees between int32 labels and one-hot rows, with reduction none and sum', () => {
    const onehot = labels.map((k) => [0, 1, 2].map((j) => (j === k ? 1 : 0)));
    const a = build((g) => g.input('y', [null], 'int32'), { reduction: 'none' }).exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(labels, 'int32') });
    const b = build((g) => g.input('y', [null, 3], 'float64'), { reduction: 'none' }).exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(onehot, 'float64') });
    expect(Array.from(a[0].data)).toEqual(perRow.map((v) => expect.closeTo(v, 14)));
    expect(Array.from(b[0].data)).toEqual(perRow.map((v) => expect.closeTo(v, 14)));
    expect(a[1].toArray()).toEqual(b[1].toArray().map((r: number[]) => r.map((v) => expect.closeTo(v, 14))));
    const s = build((g) => g.input('y', [null], 'int32'), { reduction: 'sum' }).exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(labels, 'int32') });
    expect(s[0].item()).toBeCloseTo(perRow.reduce((p, q) => p + q), 13);
  });

  it('smooths labels toward uniform', () => {
    const eps = 0.1;
    const { exe } = build((g) => g.input('y', [null], 'int32'), { labelSmoothing: eps });
    const [l] = exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(labels, 'int32') });
    const want = logits.map((row, i) => -row.reduce((s, v, j) => s + ((j === labels[i] ? 1 - eps : 0) + eps / 3) * (v - lse(row)), 0));
    expect(l.item()).toBeCloseTo(mean(want), 13);
    const soft = build((g) => g.input('y', [null, 3], 'float64'), { labelSmoothing: eps }).exe;
    const onehot = labels.map((k) => [0, 1, 2].map((j) => (j === k ? 1 : 0)));
    expect(soft.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(onehot, 'float64') })[0].item()).toBeCloseTo(mean(want), 13);
  });

  it('is stable for huge logits in float32', () => {
    const g = new Graph();
    const z = g.input('z', [null, 3]);
    const y = g.input('y', [null], 'int32');
    const l = nn.softmaxCrossEntropy(z, y, { reduction: 'none' });
    const [dz] = grad(l.sum(), [z]);
    const [lv, dv] = compile(g, { outputs: [l, dz] }).run({ z: Tensor.from([[1000, 0, -1000], [1000, 0, -1000]]), y: Tensor.from([0, 2], 'int32') });
    expect(Array.from(lv.data)).toEqual([0, 2000]);
    expect(dv.toArray()).toEqual([[0, 0, 0], [1, 0, -1]]);
  });

  it('fails at run time on a label outside the classes, naming it', () => {
    const { exe } = build((g) => g.input('y', [null], 'int32'));
    expect(() => exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from([0, 3, 1], 'int32') })).toThrow(/label 3 at position 1 is outside the 3 classes \[0, 3\)/);
    expect(() => exe.run({ z: Tensor.from(logits, 'float64'), y: Tensor.from([0, -1, 1], 'int32') })).toThrow(ShapeError);
  });

  it('checks shapes and dtypes when the graph is built', () => {
    const g = new Graph();
    const z = g.input('z', [null, 3]);
    expect(() => nn.softmaxCrossEntropy(z, g.input('a', [null, 1], 'int32'))).toThrow(/int32 labels must be shaped like the logits without the class axis, \[\?\]/);
    expect(() => nn.softmaxCrossEntropy(z, g.input('b', [null, 4]))).toThrow(/float labels \(one-hot or probabilities\) must be shaped like the logits/);
    expect(() => nn.softmaxCrossEntropy(z, g.input('c', [null], 'bool'))).toThrow(DTypeError);
    expect(() => nn.softmaxCrossEntropy(g.input('d', [2, null]), g.input('e', [2], 'int32'))).toThrow(/class axis/);
    expect(() => nn.softmaxCrossEntropy(z, g.input('f', [null], 'int32'), { labelSmoothing: 2 })).toThrow(/labelSmoothing must be ≤ 1/);
  });
});

describe('class weights and ignored labels (softmaxCrossEntropy, nll)', () => {
  const logits = [[2, 1, -1], [0.5, 0.5, 3], [-2, 4, 0], [1, 0, 0]];
  const lse = (row: number[]) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
  const w = [0.5, 2, 3];

  function run(labels: number[], opts: NonNullable<Parameters<typeof nn.softmaxCrossEntropy>[2]>, weightAs?: 'tensor' | 'sym') {
    const g = new Graph();
    const z = g.input('z', [null, 3], 'float64');
    const y = g.input('y', [null], 'int32');
    const ws = g.input('w', [3], 'float64');
    const o = weightAs === 'tensor' ? { ...opts, weight: Tensor.from(w, 'float64') } : weightAs === 'sym' ? { ...opts, weight: ws } : opts;
    const l = nn.softmaxCrossEntropy(z, y, o);
    const { labelSmoothing: _ls, ...nllOpts } = o;
    const nl = nn.nll(nn.logSoftmax(z), y, nllOpts);
    const [dz] = grad(l.rank === 0 ? l : l.sum(), [z]);
    const [lv, nv, dv] = compile(g, { outputs: [l, nl, dz] }).run({ z: Tensor.from(logits, 'float64'), y: Tensor.from(labels, 'int32'), w: Tensor.from(w, 'float64') });
    return { loss: lv, nll: nv, grad: dv };
  }

  it("a weighted 'mean' divides by Σ w[label] (PyTorch), and nll agrees with softmaxCrossEntropy", () => {
    const labels = [0, 2, 1, 2];
    const { loss, nll } = run(labels, { weight: w });
    const num = labels.reduce((s, k, i) => s + w[k] * (lse(logits[i]) - logits[i][k]), 0);
    const den = labels.reduce((s, k) => s + w[k], 0);
    expect(loss.item()).toBeCloseTo(num / den, 14);
    expect(nll.item()).toBeCloseTo(num / den, 14);
  });

  it('takes the weight as a number array, a Tensor or a symbol, with the same result', () => {
    const labels = [0, 2, 1, 1];
    const a = run(labels, { weight: w, labelSmoothing: 0.2 });
    for (const as of ['tensor', 'sym'] as const) {
      const b = run(labels, { labelSmoothing: 0.2 }, as);
      expect(b.loss.item()).toBeCloseTo(a.loss.item(), 15);
      expect(b.grad.toArray()).toEqual(a.grad.toArray().map((r: number[]) => r.map((v) => expect.closeTo(v, 15))));
    }
  });

  it('ignored positions count neither in the sum nor in the mean; with nothing counted the mean is 0', () => {
    const { loss, grad: dz } = run([0, -100, 1, -100], { ignoreIndex: -100, reduction: 'mean' });
    expect(loss.item()).toBeCloseTo((lse(logits[0]) - logits[0][0] + lse(logits[2]) - logits[2][1]) / 2, 14);
    expect(dz.toArray()[1]).toEqual([0, 0, 0]);
    // ignoreIndex may be a real class: class 1 is skipped
    const one = run([1, 0, 1, 2], { ignoreIndex: 1, weight: w, reduction: 'none' });
    expect(Array.from(one.loss.data)).toEqual([0, expect.closeTo(0.5 * (lse(logits[1]) - 0.5), 14), 0, expect.closeTo(3 * (lse(logits[3]) - 0), 14)]);
    const none = run([-1, -1, -1, -1], { ignoreIndex: -1, weight: w });
    expect([none.loss.item(), none.nll.item()]).toEqual([0, 0]);
    expect(none.grad.toArray().flat().every((v: number) => v === 0)).toBe(true);
  });

  it('without weight and ignoreIndex the graph is the plain stable form (no masks, no extra attrs)', () => {
    const g = new Graph();
    nn.softmaxCrossEntropy(g.input('z', [null, 3]), g.input('y', [null], 'int32'));
    expect(g.nodes.map((n) => n.op)).not.toContain('notEqual');
    expect(g.nodes.find((n) => n.op === 'nn.checkClassIndices')!.attrs).toEqual({ depth: 3 });
  });

  it('without ignoreIndex a −100 label is an error that says how to skip it', () => {
    expect(() => run([0, -100, 1, 2], {})).toThrow(/label -100 at position 1 is outside the 3 classes \[0, 3\) \(to skip padding labels, as PyTorch's default ignore_index = -100 does, pass \{ ignoreIndex: -100 \}\)/);
    expect(() => run([0, 3, 1, -7], { ignoreIndex: -7 })).toThrow(/label 3 at position 1/);
  });

  it('checks weights and options when the graph is built', () => {
    const g = new Graph();
    const z = g.input('z', [null, 3], 'float64');
    const y = g.input('y', [null], 'int32');
    expect(() => nn.softmaxCrossEntropy(z, y, { weight: [1, 2] })).toThrow(/weight must have 3 entries \(one per class\), got 2/);
    expect(() => nn.softmaxCrossEntropy(z, y, { weight: Tensor.from([[1, 2, 3]]) })).toThrow(/weight must have shape \[3\]/);
    expect(() => nn.softmaxCrossEntropy(z, y, { weight: g.input('wi', [3], 'int32') })).toThrow(DTypeError);
    expect(() => nn.softmaxCrossEntropy(z, y, { weight: [1, NaN, 1] })).toThrow(/weight\[1\] must be a finite number/);
    expect(() => nn.softmaxCrossEntropy(z, y, { weight: 'heavy' as never })).toThrow(/weight must be a number array, a Tensor or a symbol/);
    expect(() => nn.softmaxCrossEntropy(z, y, { ignoreIndex: 0.5 })).toThrow(/ignoreIndex must be an integer/);
    expect(() => nn.softmaxCrossEntropy(z, g.input('p', [null, 3], 'float64'), { ignoreIndex: -100 })).toThrow(/ignoreIndex needs int32 class indices/);
    expect(() => nn.nll(z, g.input('pf', [null], 'float64'))).toThrow(/labels must be int32 class indices/);
    expect(() => nn.nll(z, g.input('y2', [null, 3], 'int32'))).toThrow(/int32 labels must be shaped like the logProbs without the class axis/);
  });
});

describe('loss argument checks', () => {
  it('refuses to broadcast pred against target', () => {
    const g = new Graph();
    const p = g.input('p', [null, 1]);
    const t = g.input('t', [null]);
    for (const f of [nn.mse, nn.mae, nn.huber, nn.tukey, nn.binaryCrossEntropy, nn.bceWithLogits]) expect(() => f(p, t)).toThrow(ShapeError);
    expect(() => nn.mse(p, t)).toThrow(/pred \[\?,1\] and target \[\?\] differ in shape/);
  });

  it('casts int targets, accepts number targets and keeps the dtype of pred', () => {
    const g = new Graph();
    const p = g.input('p', [2], 'float64');
    const y = g.input('y', [2], 'int32');
    const l = nn.bceWithLogits(p, y);
    expect(l.dtype).toBe('float64');
    const [v, w] = compile(g, { outputs: [l, nn.mse(p, 1, { reduction: 'sum' })] }).run({ p: Tensor.from([0, 0], 'float64'), y: Tensor.from([1, 0], 'int32') });
    expect(v.item()).toBeCloseTo(Math.log(2), 15);
    expect(w.item()).toBe(2);
  });

  it('rejects bad options with GraphErrors', () => {
    const g = new Graph();
    const p = g.input('p', [2]);
    expect(() => nn.mse(p, p, { reduction: 'avg' as never })).toThrow(/reduction must be 'mean', 'sum' or 'none', got "avg"/);
    expect(() => nn.mse(p, p, { reduce: 'sum' } as never)).toThrow(/unknown option "reduce"/);
    expect(() => nn.huber(p, p, { delta: -1 })).toThrow(GraphError);
    expect(() => nn.tukey(p, p, { c: 0 })).toThrow(GraphError);
    expect(() => nn.binaryCrossEntropy(p, p, { epsilon: 0.7 })).toThrow(GraphError);
    expect(() => nn.mse(g.input('i', [2], 'int32'), p)).toThrow(DTypeError);
    expect(() => nn.mse(p, g.input('b', [2], 'bool'))).toThrow(DTypeError);
    expect(() => nn.mse(p, [1, 2] as never)).toThrow(GraphError);
    expect(() => nn.mse(p, new Graph().input('q', [2]))).toThrow(/another graph/);
  });
});
