/**
 * Errors in ulp of float32 results against float64 references, and the references of the vector
 * functions whose accuracy docs/kernels.md documents (exp, log, tanh, sigmoid, softplus). Used by
 * scripts/wasm-ulp-sweep.ts (all 2³² inputs) and vmath.test.ts (a sample and the special values).
 */

export const SWEPT = ['exp', 'log', 'tanh', 'sigmoid', 'softplus'] as const;
export type Swept = (typeof SWEPT)[number];

/** float64 references. */
export const REFERENCE: Record<Swept, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
};

const MAX_F32 = 3.4028234663852886e38;

const F = new Float32Array(1);
const U = new Uint32Array(F.buffer);
/** ULP[e]: the spacing of float32 numbers with biased exponent e (e = 0: subnormals). */
const ULP = Float64Array.from({ length: 256 }, (_, e) => 2 ** (Math.max(e, 1) - 150));

/** Error of float32 result `y` against float64 reference `r` in ulp of r; Infinity for a special-value mismatch. */
export function ulpError(y: number, r: number): number {
  if (r !== r) return y !== y ? 0 : Infinity;
  if (y !== y) return Infinity;
  F[0] = r; // r rounded to float32
  const r32 = F[0];
  const e = (U[0] >>> 23) & 255;
  if (e === 255 || y === Infinity || y === -Infinity) {
    if (y === r32) return 0;
    // a reference just past the largest float may round to it, and vice versa: compare as numbers
    return Math.abs(r) > MAX_F32 && Math.abs(y) === MAX_F32 ? Math.abs(Math.abs(r) - MAX_F32) / ULP[254] : Infinity;
  }
  if (y === 0 && r === 0 && 1 / y !== 1 / r) return Infinity; // the sign of an exact zero
  const d = Math.abs(y - r);
  if (d === 0) return 0;
  // r32 a power of two above |r|: r rounded up into the next binade, whose spacing is twice r's
  const ulp = (U[0] & 0x7fffff) === 0 && e > 1 && Math.abs(r) < Math.abs(r32) ? ULP[e - 1] : ULP[e];
  return d / ulp;
}


/** Documented bounds (docs/kernels.md): the measured maxima over all 2³² inputs, rounded up. */
export const ULP_BOUNDS: Readonly<Record<Swept, number>> = Object.freeze({ exp: 1, log: 1, tanh: 2, sigmoid: 2.5, softplus: 3 });
