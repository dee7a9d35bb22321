import { describe, expect, it } from 'vitest';
import * as api from './api';
import { grad } from './autodiff';
import { BACKENDS, compile } from './compile';
import { GradgraphError, GraphError, ShapeError } from './errors';
import { assertGradcheck, gradcheck } from './gradcheck';
import { Graph, type Sym } from './graph';
import { acos, acosh, asin, atan, atan2, atanh, cumprod, cumsum, linearRecurrence, norm, prod, std, tan, variance } from './math';
import { Tensor } from './tensor';

const f64 = (v: unknown) => Tensor.from(v as never, 'float64');

/** Values of `fn` of one float64 input, on every back end (they must agree). */
function values(x: Tensor, fn: (x: Sym) => Sym | Sym[]): number[][] {
  let first: number[][] | undefined;
  for (const backend of BACKENDS) {
    const g = new Graph();
    const s = g.input('x', x.shape, x.dtype);
    const r = fn(s);
    const outs = compile(g, { outputs: Array.isArray(r) ? r : [r], backend }).run({ x });
    const got = outs.map((t) => Array.from(t.data));
    if (first) expect(got, backend).toEqual(first);
    else first = got;
  }
  return first!;
}
const value = (x: Tensor, fn: (x: Sym) => Sym) => values(x, fn)[0];

/** The gradient of Σ fn(x) at x. */
const gradOf = (x: Tensor, fn: (x: Sym) => Sym) => value(x, (s) => grad(fn(s).sum(), [s])[0]);

describe('tan and atan, built from sin/cos and atan2', () => {
  it('are within a few ulp of Math.tan and exactly Math.atan', () => {
    const xs = [-1.5, -0.3, 0, 0.7, 1.5707963, 3, 20];
    value(f64(xs), tan).forEach((v, i) => expect(Math.abs(v - Math.tan(xs[i]))).toBeLessThanOrEqual(4 * Number.EPSILON * Math.abs(Math.tan(xs[i]))));
    expect(value(f64(xs), atan)).toEqual(xs.map(Math.atan));
  });

  it('have the gradients 1 + tan²x and 1/(1 + x²), to order 2', () => {
    const xs = [-1.2, -0.3, 0.5, 1.1];
    gradOf(f64(xs), tan).forEach((v, i) => expect(v).toBeCloseTo(1 + Math.tan(xs[i]) ** 2, 13));
    gradOf(f64(xs), atan).forEach((v, i) => expect(v).toBeCloseTo(1 / (1 + xs[i] ** 2), 15));
    assertGradcheck((x) => tan(x).add(atan(x.mul(3))), [f64(xs)], { order: 2 });
  });

  it('take ints as float32, like the other float functions', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'int32');
    expect([tan(x).dtype, atan(x).dtype, atan2(x, 1).dtype, asin(x).dtype]).toEqual(['float32', 'float32', 'float32', 'float32']);
  });
});

describe('kinks of the new elementwise primitives', () => {
  it('asin, acos, acosh and atanh take the one-sided infinite slopes at the ends of their domains', () => {
    expect(gradOf(f64([1, -1]), asin)).toEqual([Infinity, Infinity]);
    expect(gradOf(f64([1, -1]), acos)).toEqual([-Infinity, -Infinity]);
    expect(gradOf(f64([1]), acosh)).toEqual([Infinity]);
    expect(gradOf(f64([1, -1]), atanh)).toEqual([Infinity, Infinity]);
  });

  it('atan2 has gradient 0 at the origin, and the one-sided gradient on its jump', () => {
    const g = new Graph();
    const y = g.input('y', [3], 'float64');
    const x = g.input('x', [3], 'float64');
    const [dy, dx] = grad(atan2(y, x).sum(), [y, x]);
    const [gy, gx, v] = compile(g, { outputs: [dy, dx, atan2(y, x)] }).run({ y: f64([0, 0, -0]), x: f64([0, -2, -2]) });
    expect(Array.from(v.data)).toEqual([0, Math.PI, -Math.PI]);
    // d/dy = x/(x² + y²) = −½ on both sides of the jump; d/dx = −y/(x² + y²) = 0
    expect(Array.from(gy.data)).toEqual([0, -0.5, -0.5]);
    expect(Array.from(gx.data).map((u) => u + 0)).toEqual([0, 0, 0]);
    // gradcheck accepts the origin as a kink
    const r = gradcheck((a, b) => atan2(a, b).sum(), [f64([0, 0.5]), f64([0, 1])]);
    expect(r.ok).toBe(true);
  });
});

describe('linearRecurrence', () => {
  it('is an exponential moving average with a = β, b = (1 − β)x', () => {
    const xs = [1, 2, 3, 4];
    const got = value(f64(xs), (x) => linearRecurrence(0.9, x.mul(0.1), { axis: 0 }));
    let h = 0;
    xs.forEach((v, i) => {
      h = i === 0 ? 0.1 * v : 0.9 * h + 0.1 * v;
      expect(got[i]).toBeCloseTo(h, 15);
    });
  });

  it('passes gradcheck to order 2 in both directions, with a broadcast coefficient', () => {
    const a = Tensor.randn([3], 'float64', 1);
    const b = Tensor.randn([2, 3], 'float64', 2);
    assertGradcheck((p, q) => linearRecurrence(p, q, { axis: -1 }).sin().add(linearRecurrence(p.mul(0.5), q, { axis: 0, reverse: true }).square()), [a, b], { order: 2 });
  });

  it('types numbers weakly: a fractional coefficient next to ints gives float32', () => {
    const g = new Graph();
    const n = g.input('n', [3], 'int32');
    expect([linearRecurrence(2, n).dtype, linearRecurrence(0.5, n).dtype, linearRecurrence(0.5, api.cast(n, 'float64')).dtype]).toEqual(['int32', 'float32', 'float64']);
  });

  it('refuses unknown options and non-symbols with typed errors', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    expect(() => linearRecurrence(1, x, { axes: 0 } as never)).toThrow(/unknown option "axes"/);
    expect(() => linearRecurrence(1, [1, 2] as never)).toThrow(GraphError);
    expect(() => linearRecurrence(1, 2)).toThrow(/at least one symbolic operand/);
  });
});

describe('cumsum and cumprod', () => {
  const x = f64([[1, 2, 3], [4, 0, 6]]);

  it('follow TF: exclusive leaves each element out, reverse runs from the end', () => {
    expect(values(x, (s) => [cumsum(s, 1), cumsum(s, 1, { exclusive: true }), cumsum(s, 1, { reverse: true }), cumsum(s, 1, { exclusive: true, reverse: true }), cumsum(s, 0)])).toEqual([
      [1, 3, 6, 4, 4, 10],
      [0, 1, 3, 0, 4, 4],
      [6, 5, 3, 10, 6, 6],
      [5, 3, 0, 6, 6, 0],
      [1, 2, 3, 5, 2, 9],
    ]);
    expect(values(x, (s) => [cumprod(s, 1), cumprod(s, 1, { exclusive: true }), cumprod(s, -1, { reverse: true }), cumprod(s, 1, { exclusive: true, reverse: true })])).toEqual([
      [1, 2, 6, 4, 0, 0],
      [1, 1, 2, 1, 4, 0],
      [6, 6, 3, 0, 0, 6],
      [6, 3, 1, 0, 6, 1],
    ]);
  });

  it('count bools as int32, keep int32, and treat a scalar as PyTorch does', () => {
    const g = new Graph();
    const b = g.input('b', [3], 'bool');
    const n = g.input('n', [], 'int32');
    const outs = [cumsum(b, 0), cumsum(api.cast(b, 'int32'), 0, { reverse: true }), cumsum(n, 0), cumsum(n, -1, { exclusive: true }), cumprod(n, 0, { exclusive: true })];
    expect(outs.map((o) => o.dtype)).toEqual(['int32', 'int32', 'int32', 'int32', 'int32']);
    const r = compile(g, { outputs: outs }).run({ b: Tensor.from([true, false, true], 'bool'), n: Tensor.from(7, 'int32') });
    expect(r.map((t) => t.toArray())).toEqual([[1, 1, 2], [2, 1, 1], 7, 0, 1]);
  });

  it('run over dims known only at run time', () => {
    const g = new Graph();
    const s = g.input('x', [null, 3], 'float64');
    const outs = [cumsum(s, 0, { exclusive: true }), cumprod(s, 0), cumprod(s, 0, { reverse: true, exclusive: true })];
    const r = compile(g, { outputs: outs }).run({ x: f64([[1, 2, 3], [4, 5, 6]]) });
    expect(r.map((t) => t.toArray())).toEqual([[[0, 0, 0], [1, 2, 3]], [[1, 2, 3], [4, 10, 18]], [[4, 5, 6], [1, 1, 1]]]);
  });

  it('cumprod differentiates exactly where x has zeros, to second order', () => {
    // y = cumprod([2, 0, 3, 0]); d Σy/dx_k = Σ_{i≥k} Π_{j≤i, j≠k} x_j = [1, 2+6, 0, 0]
    expect(gradOf(f64([2, 0, 3, 0]), (s) => cumprod(s, 0))).toEqual([1, 8, 0, 0]);
    // Σ cumprod = x₀ + x₀x₁ + x₀x₁x₂; its Hessian at [2, 0, 3]: ∂²/∂x₀∂x₁ = 1 + x₂ = 4, ∂²/∂x₀∂x₂ = x₁ = 0,
    // ∂²/∂x₁∂x₂ = x₀ = 2 — exact though x₁ is a zero
    const g = new Graph();
    const s = g.input('x', [3], 'float64');
    const [d] = grad(cumprod(s, 0).sum(), [s]);
    const rows = [0, 1, 2].map((k) => grad(api.gather(d, g.constant(Tensor.from([k], 'int32'))).sum(), [s])[0]);
    const hess = compile(g, { outputs: rows }).run({ x: f64([2, 0, 3]) }).map((t) => Array.from(t.data));
    expect(hess).toEqual([[0, 4, 0], [4, 0, 2], [0, 2, 0]]);
    assertGradcheck((p) => cumprod(p, 0).add(cumprod(p, 0, { reverse: true, exclusive: true })).sin(), [f64([2, 0, 3, 0, -1.5])], { order: 2 });
  });

  it('pass gradcheck to order 2 in every variant', () => {
    const t = Tensor.randn([2, 3], 'float64', 5);
    for (const exclusive of [false, true]) {
      for (const reverse of [false, true]) {
        assertGradcheck((p) => cumsum(p.sin(), 1, { exclusive, reverse }).mul(cumprod(p, 0, { exclusive, reverse })), [t], { order: 2 });
      }
    }
  });

  it('refuse a bad axis or option with a typed error naming the op', () => {
    const g = new Graph();
    const s = g.input('x', [2, 3]);
    expect(() => cumsum(s, 2)).toThrow(ShapeError);
    expect(() => cumsum(s, 2)).toThrow(/^cumsum: axis 2 is out of range for \[2,3\]/);
    expect(() => cumprod(s, 0, { exclusiv: true } as never)).toThrow(/^cumprod: unknown option "exclusiv"/);
    expect(() => cumsum(3 as never, 0)).toThrow(/^cumsum: operand is number/);
  });
});

describe('prod', () => {
  it('multiplies over axes, with keepDims, and bools count as int32', () => {
    const x = f64([[1, 2, 3], [4, 5, 6]]);
    expect(values(x, (s) => [prod(s), prod(s, 0), prod(s, [1], true)])).toEqual([[720], [4, 10, 18], [6, 120]]);
    const g = new Graph();
    const b = g.input('b', [3], 'bool');
    expect(prod(b).dtype).toBe('int32');
  });

  it('has the exact gradient Π_{j≠i} x_j with one zero, two zeros, and to second order', () => {
    // one zero: only that element has a nonzero gradient; two zeros: all gradients are 0
    expect(gradOf(f64([2, 0, 3, 4]), (s) => prod(s))).toEqual([0, 24, 0, 0]);
    expect(gradOf(f64([2, 0, 3, 0]), (s) => prod(s))).toEqual([0, 0, 0, 0]);
    // over two axes at once: Π of the other five
    expect(gradOf(f64([[1, 2, 3], [4, 0, 6]]), (s) => prod(s, [0, 1]))).toEqual([0, 0, 0, 0, 144, 0]);
    // ∂²Π/∂x₁∂x₃ at [2, 0, 3, 0] is x₀x₂ = 6, though both are zeros
    const g = new Graph();
    const s = g.input('x', [4], 'float64');
    const [d] = grad(prod(s), [s]);
    const [h1] = grad(api.gather(d, g.constant(Tensor.from([1], 'int32'))).sum(), [s]);
    expect(Array.from(compile(g, { outputs: [h1] }).run({ x: f64([2, 0, 3, 0]) })[0].data)).toEqual([0, 0, 0, 6]);
    assertGradcheck((p) => prod(p, [1]).add(prod(p.sin(), [0, 1], true).sum()), [f64([[2, 0, -1.5], [0.5, 3, 0]])], { order: 2 });
  });
});

describe('variance and std', () => {
  const x = f64([[1, 2, 3, 4], [2, 2, 2, 2]]);

  it('divide by n − correction (1 by default, as PyTorch), over any axes', () => {
    expect(values(x, (s) => [variance(s, 1), variance(s, 1, { correction: 0 }), variance(s), std(s, -1, { keepDims: true })])).toEqual([
      [5 / 3, 0],
      [5 / 4, 0],
      [expect.closeTo(5.5 / 7, 15)],
      [Math.sqrt(5 / 3), 0],
    ] as never);
  });

  it('stay accurate where a one-pass formula cancels (values near 1e8)', () => {
    const big = f64([1e8 + 1, 1e8 + 2, 1e8 + 3]);
    expect(value(big, (s) => variance(s))).toEqual([1]);
  });

  it('std has gradient 0 where all elements are equal (the cone’s apex, as PyTorch), and passes gradcheck', () => {
    expect(gradOf(f64([2, 2, 2]), (s) => std(s))).toEqual([0, 0, 0]);
    const r = gradcheck((p) => std(p), [f64([2, 2, 2])]);
    expect(r.ok).toBe(true);
    assertGradcheck((p) => variance(p, 1, { correction: 0 }).add(std(p, 0).sum()), [Tensor.randn([3, 4], 'float64', 7)], { order: 2 });
  });

  it('works over a dim known only at run time', () => {
    const g = new Graph();
    const s = g.input('x', [null, 2], 'float64');
    const r = compile(g, { outputs: [variance(s, 0), std(s, 0, { correction: 0 })] }).run({ x: f64([[1, 0], [3, 0], [5, 0]]) });
    expect(r.map((t) => Array.from(t.data))).toEqual([[4, 0], [Math.sqrt(8 / 3), 0]]);
  });

  it('refuse a denominator that is not positive, and bad options', () => {
    const g = new Graph();
    const s = g.input('x', [1, 3]);
    expect(() => variance(s, 0)).toThrow(ShapeError);
    expect(() => variance(s, 0)).toThrow(/^variance: 1 element over axes \[0\] of \[1,3\] with correction 1: the denominator n − correction is 0/);
    expect(() => std(s, 1, { correction: 3 })).toThrow(/^std: /);
    expect(() => variance(s, 1, { unbiased: false } as never)).toThrow(/unknown option "unbiased"/);
    expect(() => variance(s, 1, { correction: NaN })).toThrow(/correction must be a finite number/);
  });
});

describe('norm', () => {
  const x = f64([[3, -4, 0], [1, 1, -1]]);

  it('computes each ord of PyTorch’s vector_norm, over all axes or some', () => {
    expect(values(x, (s) => [norm(s, { axes: 1 }), norm(s, { ord: 1, axes: 1 }), norm(s, { ord: Infinity, axes: 1 }), norm(s, { ord: -Infinity, axes: 1 }), norm(s, { ord: 0, axes: 1 }), norm(s, { ord: 3, axes: [1], keepDims: true }), norm(s)])).toEqual([
      [5, Math.sqrt(3)],
      [7, 3],
      [4, 1],
      [0, 1],
      [2, 3],
      [Math.cbrt(91), Math.cbrt(3)].map((v) => expect.closeTo(v, 14)),
      [Math.sqrt(28)].map((v) => expect.closeTo(v, 14)),
    ] as never);
  });

  it('has gradient 0 at x = 0 for every ord, splits ties for Infinity, and none for ord 0', () => {
    const zero = f64([0, 0, 0]);
    for (const ord of [2, 1, 3, 0.5, Infinity]) expect(gradOf(zero, (s) => norm(s, { ord })), `ord ${ord}`).toEqual([0, 0, 0]);
    // p < 1: an element at 0 gets 0, the others the usual |x|^(p−1)·sign(x)·‖x‖^(1−p)
    const half = gradOf(f64([0, 1, 4]), (s) => norm(s, { ord: 0.5 }));
    expect(half[0]).toBe(0);
    expect(half[1]).toBeCloseTo(3, 14);
    expect(gradOf(f64([3, -3, 1]), (s) => norm(s, { ord: Infinity }))).toEqual([0.5, -0.5, 0]);
    expect(gradOf(f64([3, -3, 1]), (s) => norm(s, { ord: 0 }))).toEqual([0, 0, 0]);
    expect(gradcheck((p) => norm(p), [zero]).ok).toBe(true);
  });

  it('passes gradcheck to order 2 for each differentiable ord', () => {
    const t = Tensor.randn([2, 3], 'float64', 11);
    for (const ord of [2, 1, 3, 1.5, 0.5, Infinity, -Infinity]) assertGradcheck((p) => norm(p, { ord, axes: [1] }), [t], { order: 2 });
  });

  it('refuses a negative or NaN ord and bad axes', () => {
    const g = new Graph();
    const s = g.input('x', [2, 3]);
    expect(() => norm(s, { ord: -1 })).toThrow(/^norm: ord must be 0, a positive number, Infinity or -Infinity, got -1/);
    expect(() => norm(s, { ord: NaN })).toThrow(GradgraphError);
    expect(() => norm(s, { axes: [0, 5] })).toThrow(/^norm: axis 5 is out of range for \[2,3\]/);
  });
});

describe('graphs of the new ops', () => {
  it('round-trip through graph JSON, values and gradients unchanged (nothing but primitives and attrs in them)', () => {
    const g = new Graph();
    const x = g.input('x', [3, 3], 'float64');
    const y = api.add(api.add(cumprod(x, 1, { exclusive: true }), prod(x, 0, true)), api.add(atan2(x, 2), x.erfc().asinh()));
    const loss = api.add(api.sum(y), norm(x, { ord: 3 }));
    const [dx] = grad(loss, [x]);
    const doc = JSON.stringify(g.toJSON());
    const h = Graph.fromJSON(doc);
    const xv = Tensor.randn([3, 3], 'float64', 3);
    const run = (gr: Graph, ids: number[]) => compile(gr, { outputs: ids.map((id) => gr.sym(id)) }).run({ x: xv }).map((t) => Array.from(t.data));
    expect(run(h, [loss.id, dx.id])).toEqual(run(g, [loss.id, dx.id]));
  });
});
