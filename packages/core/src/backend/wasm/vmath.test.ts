import { describe, expect, it } from 'vitest';
import { ew } from '../js/elementwise';
import { makeElementwise } from './elementwise';
import { heap } from './memory';
import { REFERENCE, SWEPT, ULP_BOUNDS, ulpError } from './ulp';
import { F32X4_UNARY_OPS } from './vmath';

const SPECIALS = [
  0, -0, Infinity, -Infinity, NaN, 1, -1, 0.5, -0.5, 2 ** -149, -(2 ** -149), 2 ** -126, -(2 ** -126), 1e-40, -1e-40, 1e-30, 3.4028234663852886e38, -3.4028234663852886e38,
  // exp/expm1 overflow and underflow edges, the tanh branch point, σ and softplus tails
  88.72283, 88.72284, 88.8, 89, -87.33654, -103.27893, -103.97208, -104, -150, 0.625, -0.625, 0.62499994, 9, -9, 16.6, -16.6, 30, -30, 1e10, -1e10,
  // log near 1 and at the √½ split
  0.99999994, 1.0000001, 0.70710677, 0.7071068, 1.4142135,
];

/** Runs `op` on the float32 values `xs` through an elementwise kernel; returns the results. */
function apply(op: string, xs: Float32Array): Float32Array {
  const h = heap();
  const n = xs.length;
  const x = ew.input(0, 'float32');
  const k = makeElementwise({ shape: [n], inputs: [{ shape: [n], dtype: 'float32' }], outputs: [ew.unary(op, x)] });
  const src = h.alloc(n * 4);
  const dst = h.alloc(n * 4);
  h.f32.set(xs, src / 4);
  k.run([src], [dst], undefined, 1);
  const out = h.view(dst, 'float32', n).slice();
  h.free(src);
  h.free(dst);
  k.dispose();
  return out;
}

/** A sample of float32 inputs: random bit patterns (every exponent equally likely) and dense ranges. */
function sample(n: number, seed: number): Float32Array {
  const bits = new Uint32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    bits[i] = s;
  }
  const xs = new Float32Array(bits.buffer);
  for (let i = 0; i < n / 4; i++) xs[i] = ((i / (n / 4)) * 2 - 1) * 40; // [−40, 40): where the functions bend
  xs.set(SPECIALS, n / 4);
  return xs;
}

describe('vector math (float32, four lanes)', () => {
  for (const op of SWEPT) {
    it(`${op} is within its documented ${ULP_BOUNDS[op]} ulp on special values and a sample of 2¹⁸`, () => {
      const xs = sample(1 << 18, 12345 + op.length);
      const ys = apply(op, xs);
      let worst = 0;
      for (let i = 0; i < xs.length; i++) {
        const e = ulpError(ys[i], REFERENCE[op](xs[i]));
        if (!(e <= ULP_BOUNDS[op])) throw new Error(`${op}(${xs[i]}) = ${ys[i]}, reference ${REFERENCE[op](xs[i])}: ${e} ulp`);
        worst = Math.max(worst, e);
      }
      expect(worst).toBeGreaterThan(0); // the sample exercised the polynomial, not only exact cases
    });
  }

  it('gets the special values exactly right', () => {
    const xs = Float32Array.from([0, -0, Infinity, -Infinity, NaN, -1, 1e-45]);
    const tiny = xs[6]; // 2⁻¹⁴⁹
    const exact: Record<string, number[]> = {
      exp: [1, 1, Infinity, 0, NaN, Math.fround(Math.exp(-1)), 1],
      log: [-Infinity, -Infinity, Infinity, NaN, NaN, NaN, Math.fround(Math.log(tiny))],
      tanh: [0, -0, 1, -1, NaN, Math.fround(Math.tanh(-1)), tiny],
      sigmoid: [0.5, 0.5, 1, 0, NaN, Math.fround(1 / (1 + Math.E)), 0.5],
      softplus: [Math.fround(Math.LN2), Math.fround(Math.LN2), Infinity, 0, NaN, Math.fround(Math.log1p(Math.exp(-1))), Math.fround(Math.LN2)],
      log1p: [0, -0, Infinity, NaN, NaN, -Infinity, tiny],
      expm1: [0, -0, Infinity, -1, NaN, Math.fround(Math.expm1(-1)), tiny],
      sqrt: [0, -0, Infinity, NaN, NaN, NaN, Math.fround(Math.sqrt(tiny))],
      abs: [0, 0, Infinity, Infinity, NaN, 1, tiny],
      sign: [0, 0, 1, -1, 0, -1, 1],
      reciprocal: [Infinity, -Infinity, 0, -0, NaN, -1, Infinity],
    };
    for (const [op, want] of Object.entries(exact)) {
      const ys = apply(op, xs);
      want.forEach((w, i) => {
        // within an ulp for the transcendental values, exact (sign of zero included) for the rest
        const ok = Number.isNaN(w) ? Number.isNaN(ys[i]) : Object.is(ys[i], w) || (Number.isFinite(w) && w !== 0 && Math.abs(ys[i] - w) <= Math.abs(w) * 2 ** -22);
        if (!ok) throw new Error(`${op}(${xs[i]}) = ${ys[i]}, want ${w}`);
      });
    }
  });

  it('the other unary ops agree with Math to a few ulp (sin and cos on their whole range)', () => {
    const ref: Record<string, (x: number) => number> = {
      log1p: Math.log1p,
      expm1: Math.expm1,
      sin: Math.sin,
      cos: Math.cos,
      sqrt: Math.sqrt,
      rsqrt: (x) => 1 / Math.sqrt(x),
      reciprocal: (x) => 1 / x,
      neg: (x) => -x,
      abs: Math.abs,
    };
    const xs = sample(1 << 16, 99);
    for (const [op, f] of Object.entries(ref)) {
      const ys = apply(op, xs);
      for (let i = 0; i < xs.length; i++) {
        const e = ulpError(ys[i], f(xs[i]));
        // sin and cos near their zeros: the float32 reduction's absolute error 2⁻⁵⁰·|x| is what bounds them
        const absOk = (op === 'sin' || op === 'cos') && Math.abs(xs[i]) <= 8192 && Math.abs(ys[i] - f(xs[i])) <= 6e-8;
        if (!(e <= 4 || absOk)) throw new Error(`${op}(${xs[i]}) = ${ys[i]}, reference ${f(xs[i])}: ${e} ulp`);
      }
    }
    expect(F32X4_UNARY_OPS).toEqual(expect.arrayContaining(Object.keys(ref)));
  });
});
