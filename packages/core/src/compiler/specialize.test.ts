/**
 * The per-example-gradient rules of specialize (`outer-norm`, `batch-sum-matmul`) end to end, in
 * float32 on every back end: a DP-SGD step's per-example norms and clipped gradient sum agree with
 * the program run as written (no passes: the per-example gradients built, squared and summed), the
 * optimized program never holds the [n, d, h] per-example gradients, and special values (∞, NaN,
 * huge times tiny, an all-zero factor) come out as the unfactored sum gives them.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { BACKENDS, compile, type Backend } from '../compile';
import { Graph, type Sym } from '../graph';
import { Tensor } from '../tensor';
import { perExampleGrads } from '../transforms';

const [D, H, C] = [12, 7, 3];

const scaled = (t: Tensor, k: number) => new Tensor(t.dtype, t.shape, t.data.map((v) => v * k));

/** A ReLU MLP D-H-C, its per-example gradient norms and the clipped, summed gradients (DP-SGD without the noise). */
function dpProgram() {
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [null, D]);
  const y = g.input('y', [null], 'int32');
  const params = [
    g.param('w1', scaled(Tensor.randn([D, H], 'float32', 1), 0.4)),
    g.param('b1', scaled(Tensor.randn([H], 'float32', 2), 0.1)),
    g.param('w2', scaled(Tensor.randn([H, C], 'float32', 3), 0.4)),
    g.param('b2', Tensor.zeros([C], 'float32')),
  ];
  const loss = ([w1, b1, w2, b2]: Sym[], xi: Sym, yi: Sym) => {
    const logits = api.maximum(xi.reshape([1, D]).matmul(w1).add(b1), 0).matmul(w2).add(b2);
    return logits.logSoftmax(1).mul(api.oneHot(yi.reshape([1]), C, 'float32')).sum().neg();
  };
  const per = perExampleGrads(loss, params, [x, y]);
  const norms = per.map((gp) => gp.square().sum(gp.shape.slice(1).map((_d, i) => i + 1))).reduce((a, b) => a.add(b)).sqrt();
  const scale = norms.maximum(1).reciprocal(); // clip every example to norm ≤ 1
  const clipped = per.map((gp) => gp.mul(scale.reshape([-1, ...gp.shape.slice(1).map(() => 1)])).sum(0));
  return { g, x, y, norms, clipped };
}

function batch(n: number, seed: number) {
  const x = scaled(Tensor.randn([n, D], 'float32', seed), 2);
  const y = Tensor.from(Array.from({ length: n }, (_u, i) => (i * 7 + seed) % C), 'int32');
  return { x, y };
}

function expectClose(got: Tensor, want: Tensor, what: string, rel = 2e-5): void {
  expect(got.shape, what).toEqual(want.shape);
  const scale = Math.max(1e-6, ...Array.from(want.data, (v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
  for (let i = 0; i < want.size; i++) {
    const [a, b] = [got.data[i], want.data[i]];
    if (Number.isNaN(b)) expect(a, `${what}[${i}]`).toBeNaN();
    else if (!Number.isFinite(b)) expect(a, `${what}[${i}]`).toBe(b);
    else expect(Math.abs(a - b), `${what}[${i}]: ${a} vs ${b}`).toBeLessThanOrEqual(rel * scale);
  }
}

describe.each(BACKENDS)('per-example norms and clipped sums without the per-example gradients (%s)', (backend: Backend) => {
  it('agree with the program as written, for several batch sizes (including 1)', () => {
    const p = dpProgram();
    const outputs = [p.norms, ...p.clipped];
    const fast = compile(p.g, { inputs: [p.x, p.y], outputs, backend });
    const asWritten = compile(p.g, { inputs: [p.x, p.y], outputs, backend, passes: [] });
    for (const [n, seed] of [[16, 1], [1, 2], [5, 3]]) {
      const feeds = batch(n, seed);
      const want = asWritten.run(feeds);
      const got = fast.run(feeds);
      want.forEach((w, i) => expectClose(got[i], w, `n=${n} output ${i}`));
      expect(Array.from(want[0].data).some((v) => v > 1), 'some example is clipped').toBe(true);
    }
  });

  it('the optimized program holds neither the [n, d, h] gradients nor their squares, and says which rules fired', () => {
    const p = dpProgram();
    const exe = compile(p.g, { inputs: [p.x, p.y], outputs: [p.norms, ...p.clipped], backend });
    const text = exe.explain();
    expect(text).toMatch(/outer-norm +×2/);
    expect(text).toMatch(/batch-sum-matmul +×2/);
    const program = text.slice(text.indexOf('optimized program:'));
    expect(program).not.toContain(`[?,${D},${H}]`);
    expect(program).not.toContain(`[?,${D * H}]`);
    expect(program).not.toContain(`[?,${H},${C}]`);
  });
});

describe.each(BACKENDS)('outer-norm keeps the unfactored sum’s special values in float32 (%s)', (backend: Backend) => {
  // ‖a·bᵀ‖² per example for a [n,1,m] and b [n,1,k]: the rule's form, fed values at the edges
  const g = new Graph();
  const a = g.input('a', [null, 1, 4]);
  const b = g.input('b', [null, 1, 3]);
  const m = api.matmul(a, b, { transposeA: true });
  const norm = m.mul(m).sum([1, 2]);
  const rows = (vals: number[][]) => new Tensor('float32', [vals.length, 1, vals[0].length], Float32Array.from(vals.flat()));
  const cases: { what: string; a: number[]; b: number[] }[] = [
    { what: 'ordinary', a: [1, -2, 0.5, 3], b: [0.25, 4, -1] },
    { what: 'huge × tiny (each square out of float32 range, the products not)', a: [1e20, 0, 0, 0], b: [1e-20, 0, 0] },
    { what: 'huge × all zero (0, not ∞·0 = NaN)', a: [1e25, 3e24, 0, 1], b: [0, 0, 0] },
    { what: 'tiny × tiny (underflows to 0 either way)', a: [1e-30, 0, 0, 0], b: [1e-30, 0, 0] },
    { what: 'overflowing product', a: [1e20, 1, 1, 1], b: [1e20, 1, 1] },
    { what: 'an ∞ (∞)', a: [Infinity, 1, 1, 1], b: [2, 0.5, 1] },
    { what: 'an ∞ against a zero (∞·0: NaN)', a: [Infinity, 1, 1, 1], b: [0, 0.5, 1] },
    { what: 'a NaN', a: [NaN, 1, 1, 1], b: [0, 0, 0] },
  ];
  it.each(cases)('$what', ({ a: av, b: bv }) => {
    const feeds = { a: rows([av, [1, 2, 3, 4]]), b: rows([bv, [1, 1, 1]]) };
    const fast = compile(g, { inputs: [a, b], outputs: [norm], backend });
    expect(fast.explain()).toMatch(/outer-norm +×1/);
    const [want] = compile(g, { inputs: [a, b], outputs: [norm], backend, passes: [] }).run(feeds);
    const [got] = fast.run(feeds);
    expectClose(got, want, 'norm²', 1e-6);
  });
});

describe('batch-sum-matmul broadcasts the batch axes only where they may differ at run time', () => {
  const program = (sameDim: boolean) => {
    const g = new Graph();
    const a = g.input('a', [null, 2, 3]);
    const b = sameDim ? a.mul(2).add(1) : g.input('b', [null, 2, 3]);
    const y = api.matmul(a, b, { transposeA: true }).sum(0);
    const exe = compile(g, { inputs: sameDim ? [a] : [a, b as Sym], outputs: [y] });
    const text = exe.explain();
    expect(text).toMatch(/batch-sum-matmul +×1/);
    return text.slice(text.indexOf('optimized program:'));
  };
  it('one run-time dim on both sides (dims.ts names it): no broadcast', () => expect(program(true)).not.toContain('broadcastLike'));
  it('two run-time dims, which could be 1 and n: each side broadcast against the other', () => expect(program(false)).toContain('broadcastLike'));
});
