import { describe, expect, it } from 'vitest';
import { BACKENDS, Graph, Tensor, assertGradcheck, compile, grad } from '@gradgraph/core';
import { erf, erfc } from './erf';

/** erf(x), erfc(x) and their first two derivatives on a float vector. */
function run(xs: number[], dtype: 'float32' | 'float64' = 'float64', backend?: (typeof BACKENDS)[number]) {
  const guard = xs.every(Number.isFinite);
  const g = new Graph();
  const x = g.input('x', [xs.length], dtype);
  const e = erf(x);
  const c = erfc(x);
  const [de] = grad(e.sum(), [x]);
  const [d2e] = grad(de.sum(), [x]);
  const [dc] = grad(c.sum(), [x]);
  const out = compile(g, { outputs: [e, c, de, d2e, dc], nanGuard: guard, backend }).run({ x: Tensor.from(xs, dtype) });
  const [erfV, erfcV, dErf, d2Erf, dErfc] = out.map((t) => Array.from(t.data));
  return { erfV, erfcV, dErf, d2Erf, dErfc };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('erf and erfc from primitives (Cody)', () => {
  it('match 40-digit references, erfc relative to itself deep in the tail', () => {
    // mpmath at 40 digits, rounded to float64
    const ref: [number, number, number][] = [
      [1, 0.8427007929497149, 0.15729920705028513],
      [0.3, 0.3286267594591274, 0.6713732405408726],
      [-2.5, -0.999593047982555, 1.999593047982555],
      [5, 0.9999999999984626, 1.537459794428035e-12],
      [10, 1, 2.088487583762545e-45],
      [26, 1, 5.663192408856143e-296],
    ];
    const { erfV, erfcV } = run(ref.map((r) => r[0]));
    ref.forEach(([, e, c], i) => {
      expect(rel(erfV[i], e)).toBeLessThan(1e-15);
      expect(rel(erfcV[i], c)).toBeLessThan(2e-15);
    });
  });

  it('are odd / reflected exactly, and continuous across the region boundaries 0.46875 and 4', () => {
    const xs = [0.1, 0.46875, 0.7, 2, 4, 6.5];
    const pos = run(xs);
    const neg = run(xs.map((v) => -v));
    xs.forEach((_, i) => {
      expect(neg.erfV[i]).toBe(-pos.erfV[i]);
      expect(neg.erfcV[i]).toBeCloseTo(2 - pos.erfcV[i], 15);
      expect(pos.erfV[i] + pos.erfcV[i]).toBeCloseTo(1, 15);
    });
    for (const b of [0.46875, 4]) {
      // one ulp either side of the boundary: the values differ by the slope times the step, no jump
      const xsB = [b - 2 ** -52 * b, b, b + 2 ** -52 * b];
      const { erfcV, dErfc } = run(xsB);
      for (const k of [0, 2]) expect(Math.abs(erfcV[k] - erfcV[1] - dErfc[1] * (xsB[k] - b))).toBeLessThan(4e-16 * erfcV[1]);
    }
  });

  it('have the exact derivatives (2/√π)e^(−x²) and −2x·(2/√π)e^(−x²), not the approximation\'s', () => {
    const xs = [-3, -0.4, 0, 0.46875, 1.7, 4, 9];
    const { dErf, d2Erf, dErfc } = run(xs);
    xs.forEach((x, i) => {
      const d = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
      expect(dErf[i]).toBe(d);
      expect(dErfc[i]).toBe(-d);
      expect(d2Erf[i]).toBeCloseTo(-2 * x * d, 15);
    });
  });

  it('stay finite in every intermediate for huge inputs (nanGuard on), and take the limits at ±∞', () => {
    const { erfV, erfcV, dErf } = run([1e308, -1e308, 30, -30, 0, -0]);
    expect(erfV).toEqual([1, -1, 1, -1, 0, -0]);
    expect(erfcV).toEqual([0, 2, 0, 2, 1, 1]);
    expect(dErf).toEqual([0, 0, 0, 0, 2 / Math.sqrt(Math.PI), 2 / Math.sqrt(Math.PI)]);
    const inf = run([Infinity, -Infinity], 'float64', 'interpreter');
    expect([inf.erfV, inf.erfcV, inf.dErf]).toEqual([[1, -1], [0, 2], [0, 0]]);
  });

  it('work in float32, on every back end', () => {
    for (const backend of BACKENDS) {
      const { erfV, erfcV } = run([-1, 0.25, 3], 'float32', backend);
      expect(erfV).toEqual([expect.closeTo(-0.8427007929497149, 6), expect.closeTo(0.27632639016823696, 6), expect.closeTo(0.9999779095030014, 6)]);
      expect(rel(erfcV[2], 2.209049699858544e-5)).toBeLessThan(1e-6);
    }
  });

  it('pass gradcheck to order 3', () => {
    assertGradcheck((x) => erf(x).add(erfc(x.mul(1.5))).mul(x), [Tensor.from([-2.2, -0.3, 0.1, 0.9, 3.1, 4.6], 'float64')], { order: 3 });
  });
});
