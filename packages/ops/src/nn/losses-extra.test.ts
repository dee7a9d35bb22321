import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn } from '../index';

/** Compiles loss(...inputs) for float64 feeds; returns the loss and its gradient in each input. */
function run(f: (...xs: Sym[]) => Sym, ...values: (number[] | number[][])[]) {
  const g = new Graph();
  const xs = values.map((v, i) => g.input(`x${i}`, Array.isArray(v[0]) ? [v.length, (v[0] as number[]).length] : [v.length], 'float64'));
  const l = f(...xs);
  const gs = grad(l.rank === 0 ? l : l.sum(), xs);
  const feeds = Object.fromEntries(values.map((v, i) => [`x${i}`, Tensor.from(v, 'float64')]));
  const [lv, ...gv] = compile(g, { outputs: [l, ...gs] }).run(feeds);
  return { loss: lv, grads: gv.map((t) => t.toArray()) };
}

const close = (got: number[], want: number[], digits = 14) => expect(got).toEqual(want.map((w) => expect.closeTo(w, digits)));

describe('nn.klDiv', () => {
  const logq = [Math.log(0.2), Math.log(0.5), Math.log(0.3)];
  const p = [0.6, 0, 0.4];

  it('is t·(log t − input), 0 where t = 0, with mean over every element and batchmean per row', () => {
    const none = run((x, t) => nn.klDiv(x, t, { reduction: 'none' }), logq, p);
    close(Array.from(none.loss.data), [0.6 * Math.log(0.6 / 0.2), 0, 0.4 * Math.log(0.4 / 0.3)]);
    // ∂/∂input = −t; ∂/∂t = log t + 1 − input, and −input at t = 0 (the log is taken at 1 there)
    close(none.grads[0], [-0.6, -0, -0.4]);
    close(none.grads[1], [Math.log(0.6) + 1 - logq[0], -logq[1], Math.log(0.4) + 1 - logq[2]]);
    const kl = 0.6 * Math.log(3) + 0.4 * Math.log(4 / 3);
    expect(run((x, t) => nn.klDiv(x, t), logq, p).loss.item()).toBeCloseTo(kl / 3, 15);
    expect(run((x, t) => nn.klDiv(x, t, { reduction: 'batchmean' }), [logq, logq], [p, p]).loss.item()).toBeCloseTo(kl, 15);
  });

  it('logTarget takes log-probabilities as the target', () => {
    const a = run((x, t) => nn.klDiv(x, t, { reduction: 'sum' }), logq, [0.6, 0.1, 0.3]).loss.item();
    const b = run((x, t) => nn.klDiv(x, t, { reduction: 'sum', logTarget: true }), logq, [0.6, 0.1, 0.3].map(Math.log)).loss.item();
    expect(b).toBeCloseTo(a, 15);
  });

  it('batchmean divides by a batch size known only at run time', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const l = nn.klDiv(x, nn.softmax(x.mul(2)), { reduction: 'batchmean' });
    const rows = [logq, logq, logq, logq];
    const [one] = compile(g, { outputs: [l] }).run({ x: Tensor.from([logq], 'float64') });
    const [four] = compile(g, { outputs: [l] }).run({ x: Tensor.from(rows, 'float64') });
    expect(four.item()).toBeCloseTo(one.item(), 15);
  });
});

describe('nn.poissonNll', () => {
  it('is e^input − t·input on log-rates, input − t·log(input + eps) on rates, plus Stirling where t > 1', () => {
    const x = [0.3, -1, 2];
    const t = [0, 1, 4];
    close(Array.from(run((a, b) => nn.poissonNll(a, b, { reduction: 'none' }), x, t).loss.data), x.map((v, i) => Math.exp(v) - t[i] * v));
    close(Array.from(run((a, b) => nn.poissonNll(a, b, { logInput: false, eps: 0.5, reduction: 'none' }), [1, 2, 3], t).loss.data), [1, 2, 3].map((v, i) => v - t[i] * Math.log(v + 0.5)));
    const full = run((a, b) => nn.poissonNll(a, b, { full: true, reduction: 'none' }), x, t);
    const stirling = 4 * Math.log(4) - 4 + 0.5 * Math.log(2 * Math.PI * 4);
    close(Array.from(full.loss.data), [Math.exp(0.3), Math.exp(-1) + 1, Math.exp(2) - 8 + stirling]);
    close(full.grads[1], [-0.3, 1, -2 + Math.log(4) + 1 / 8]); // ∂/∂t: −input, plus log t + 1/(2t) where t > 1
  });
});

describe('nn.gaussianNll', () => {
  it('is ½(log v + (input − t)²/v), with variance per element, per row, or a number', () => {
    const mu = [[0, 1], [2, -1]];
    const y = [[0.5, 1], [1, 0]];
    const v = [[0.5, 2], [1, 4]];
    const ref = mu.flatMap((r, i) => r.map((m, j) => 0.5 * (Math.log(v[i][j]) + (m - y[i][j]) ** 2 / v[i][j])));
    close(Array.from(run((a, b, c) => nn.gaussianNll(a, b, c, { reduction: 'none' }), mu, y, v).loss.data), ref);
    const full = run((a, b, c) => nn.gaussianNll(a, b, c, { full: true }), mu, y, v).loss.item();
    expect(full).toBeCloseTo(ref.reduce((s, q) => s + q, 0) / 4 + 0.5 * Math.log(2 * Math.PI), 14);
    const perRow = run((a, b, c) => nn.gaussianNll(a, b, c, { reduction: 'none' }), mu, y, [0.5, 4]);
    close(Array.from(perRow.loss.data), mu.flatMap((r, i) => r.map((m, j) => 0.5 * (Math.log([0.5, 4][i]) + (m - y[i][j]) ** 2 / [0.5, 4][i]))));
    expect(perRow.grads[2].length).toBe(2);
    const num = run((a, b) => nn.gaussianNll(a, b, 2, { reduction: 'sum' }), [1, 3], [0, 0]).loss.item();
    expect(num).toBeCloseTo(Math.log(2) + 0.25 + 2.25, 14);
  });

  it('clamps the variance at eps in value but passes its gradient through, as PyTorch (under no_grad)', () => {
    const { loss, grads } = run((a, b, c) => nn.gaussianNll(a, b, c, { reduction: 'none', eps: 0.1 }), [1, 1], [0, 0], [0.01, -3]);
    close(Array.from(loss.data), [0.5 * (Math.log(0.1) + 10), 0.5 * (Math.log(0.1) + 10)]);
    // ∂/∂v at v = eps: ½(1/v − r²/v²) = ½(10 − 100)
    close(grads[2], [-45, -45], 12);
  });

  it('checks the variance shape', () => {
    const g = new Graph();
    const x = g.input('x', [4, 3], 'float64');
    expect(() => nn.gaussianNll(x, x, g.input('v', [3], 'float64'))).toThrow(/variance must be shaped like input \[4,3\], like it without its last axis, or with a last axis of 1; got \[3\]/);
    expect(() => nn.gaussianNll(x, x, g.input('v2', [4, 1], 'float64'))).not.toThrow();
    expect(() => nn.gaussianNll(x, x, 1, { eps: 0 })).toThrow(/eps must be > 0/);
  });
});

describe('embedding and ranking losses', () => {
  it('hingeEmbedding: x where y = 1, max(0, margin − x) where y = −1; the gradient passes at the margin', () => {
    const { loss, grads } = run((x, y) => nn.hingeEmbedding(x, y, { reduction: 'none' }), [0.3, 0.4, 1, 2], [1, -1, -1, -1]);
    close(Array.from(loss.data), [0.3, 0.6, 0, 0]);
    close(grads[0], [1, -1, -1, 0]); // x = margin: PyTorch's clamp_min passes the gradient
  });

  it('marginRanking: max(0, −y·(x1 − x2) + margin)', () => {
    const { loss, grads } = run((a, b) => nn.marginRanking(a, b, b.graph.constant(Tensor.from([1, -1, 1], 'float64')), { margin: 0.5, reduction: 'none' }), [1, 1, 0], [0, 0, 0.5]);
    close(Array.from(loss.data), [0, 1.5, 1]);
    close(grads[0], [0, 1, -1]);
    expect(run((a, b) => nn.marginRanking(a, b, 1), [2], [1]).loss.item()).toBe(0); // y as a number
  });

  it('tripletMargin: max(‖a − p + ε‖ − ‖a − n + ε‖ + margin, 0), swap takes the smaller negative distance', () => {
    const a = [[0, 0]];
    const p = [[3, 4]];
    const n = [[1, 0]];
    const eps = 1e-6;
    const d = (u: number[], v: number[]) => Math.hypot(...u.map((x, i) => x - v[i] + eps));
    expect(run((x, y, z) => nn.tripletMargin(x, y, z), a, p, n).loss.item()).toBeCloseTo(d(a[0], p[0]) - d(a[0], n[0]) + 1, 12);
    const swapped = run((x, y, z) => nn.tripletMargin(x, y, z, { swap: true }), a, p, n).loss.item();
    expect(swapped).toBeCloseTo(d(a[0], p[0]) - Math.min(d(a[0], n[0]), d(p[0], n[0])) + 1, 12);
    const l1 = run((x, y, z) => nn.tripletMargin(x, y, z, { p: 1, eps: 0 }), a, p, n).loss.item();
    expect(l1).toBeCloseTo(7 - 1 + 1, 14);
    const linf = run((x, y, z) => nn.tripletMargin(x, y, z, { p: Infinity, eps: 0 }), a, p, n).loss.item();
    expect(linf).toBeCloseTo(4 - 1 + 1, 14);
  });

  it('cosineEmbedding: 1 − cos for y = 1, max(0, cos − margin) for y = −1', () => {
    const u = [[1, 0], [1, 1], [0, 2]];
    const v = [[1, 1], [1, 1], [3, 0]];
    const { loss } = run((a, b) => nn.cosineEmbedding(a, b, a.graph.constant(Tensor.from([1, -1, -1], 'float64')), { margin: 0.2, reduction: 'none' }), u, v);
    close(Array.from(loss.data), [1 - Math.SQRT1_2, 0.8, 0], 10);
  });

  it('check their arguments', () => {
    const g = new Graph();
    const x = g.input('x', [4, 3], 'float64');
    expect(() => nn.cosineEmbedding(x, x, g.input('y', [4, 3], 'float64'))).toThrow(/y must have shape \[4\]/);
    expect(() => nn.marginRanking(x, x, g.input('yb', [4, 3], 'bool'))).toThrow(DTypeError);
    expect(() => nn.tripletMargin(x, x, g.input('n', [4, 2], 'float64'))).toThrow(ShapeError);
    expect(() => nn.tripletMargin(x, x, x, { p: 0 })).toThrow(/p must be > 0/);
    expect(() => nn.tripletMargin(g.input('s', [], 'float64'), x, x)).toThrow(/anchor must have an embedding axis/);
    expect(() => nn.hingeEmbedding(x, x, { margin: NaN })).toThrow(/margin must be a finite number/);
    expect(() => nn.klDiv(x, x, { reduction: 'batch' as never })).toThrow(/reduction must be/);
    expect(() => nn.poissonNll(x, x, { full: 1 as never })).toThrow(GraphError);
  });
});
