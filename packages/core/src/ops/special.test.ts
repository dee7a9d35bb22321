import { describe, expect, it } from 'vitest';
import { BACKENDS, compile } from '../compile';
import { grad } from '../autodiff';
import { assertGradcheck } from '../gradcheck';
import { Graph } from '../graph';
import { erf, erfc } from '../math';
import { Tensor } from '../tensor';
import { erfcScalar, erfScalar } from './special';

/** erf(x), erfc(x) and the first two derivatives of erf, through the graph. */
function run(xs: number[], dtype: 'float32' | 'float64' = 'float64', backend?: (typeof BACKENDS)[number]) {
  const g = new Graph();
  const x = g.input('x', [xs.length], dtype);
  const [d1] = grad(erf(x).sum(), [x]);
  const [d2] = grad(d1.sum(), [x]);
  const [dc] = grad(erfc(x).sum(), [x]);
  const out = compile(g, { outputs: [erf(x), erfc(x), d1, d2, dc], backend }).run({ x: Tensor.from(xs, dtype) });
  const [e, c, de, d2e, dce] = out.map((t) => Array.from(t.data));
  return { e, c, de, d2e, dce };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('erf and erfc (Cody)', () => {
  it('match 40-digit values (mpmath), erfc relative to itself deep in its tail', () => {
    const ref: [number, number, number][] = [
      [1, 0.8427007929497149, 0.15729920705028513],
      [0.3, 0.3286267594591274, 0.6713732405408726],
      [-2.5, -0.999593047982555, 1.999593047982555],
      [5, 0.9999999999984626, 1.537459794428035e-12],
      [10, 1, 2.088487583762545e-45],
      [26, 1, 5.663192408856143e-296],
    ];
    for (const [x, e, c] of ref) {
      expect(rel(erfScalar(x), e), `erf(${x})`).toBeLessThan(2e-16);
      expect(rel(erfcScalar(x), c), `erfc(${x})`).toBeLessThan(2e-15);
    }
  });

  it('are odd / reflected, and continuous across the region boundaries 0.46875 and 4', () => {
    for (const x of [0.1, 0.46875, 0.7, 2, 4, 6.5]) {
      expect(erfScalar(-x)).toBe(-erfScalar(x));
      expect(erfcScalar(-x)).toBeCloseTo(2 - erfcScalar(x), 15);
      expect(erfScalar(x) + erfcScalar(x)).toBeCloseTo(1, 15);
    }
    for (const b of [0.46875, 4]) {
      // one ulp either side: the values differ by the slope times the step, no jump
      const slope = (-2 / Math.sqrt(Math.PI)) * Math.exp(-b * b);
      for (const x of [b * (1 - 2 ** -52), b * (1 + 2 ** -52)]) expect(Math.abs(erfcScalar(x) - erfcScalar(b) - slope * (x - b))).toBeLessThan(4e-16 * erfcScalar(b));
    }
  });

  it('take their limits at ±∞ and keep NaN', () => {
    expect([erfScalar(Infinity), erfScalar(-Infinity), erfcScalar(Infinity), erfcScalar(-Infinity)]).toEqual([1, -1, 0, 2]);
    expect([erfScalar(30), erfcScalar(27.3), erfcScalar(-30)]).toEqual([1, 0, 2]);
    expect(erfScalar(NaN)).toBeNaN();
    expect(erfcScalar(NaN)).toBeNaN();
  });

  it('have the exact derivatives (2/√π)e^(−x²) and −2x(2/√π)e^(−x²), not the approximation’s', () => {
    const xs = [-3, -0.4, 0, 0.46875, 1.7, 4, 9];
    const { de, d2e, dce } = run(xs);
    xs.forEach((x, i) => {
      const d = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
      expect(de[i]).toBe(d);
      expect(dce[i]).toBe(-d);
      expect(d2e[i]).toBeCloseTo(-2 * x * d, 15);
    });
  });

  it('give the same bits fused (JS back end) as the reference kernel, in float64 and float32', () => {
    const xs = [-30, -4.2, -0.46875, -0.1, 0, 0.3, 1, 3.9, 4.1, 12];
    for (const dtype of ['float64', 'float32'] as const) {
      const [ref, js] = BACKENDS.includes('js') ? [run(xs, dtype, 'interpreter'), run(xs, dtype, 'js')] : [run(xs, dtype), run(xs, dtype)];
      expect(js.e).toEqual(ref.e);
      expect(js.c).toEqual(ref.c);
    }
  });

  it('pass gradcheck to order 3', () => {
    assertGradcheck((x) => erf(x).add(erfc(x.mul(1.5))).mul(x), [Tensor.from([-2.2, -0.3, 0.1, 0.9, 3.1, 4.6], 'float64')], { order: 3 });
  });
});
