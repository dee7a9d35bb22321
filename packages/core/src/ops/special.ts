/**
 * The error function and its complement as scalar functions, shared by the reference kernels
 * (`ops/math.ts`) and the JS back end's fused loops (bound there as `$erf`, `$erfc`), so the two
 * cannot drift apart.
 *
 * The method is W. J. Cody's ("Rational Chebyshev approximations for the error function", Math.
 * Comp. 23 (1969) 631–638; the coefficients are those of his public-domain SPECFUN routine
 * CALERF), good to about 1e-16 relative in three regions of y = |x|:
 *
 *   y ≤ 0.46875        erf(x)  = x·P₁(y²)/Q₁(y²)
 *   0.46875 < y ≤ 4    erfc(y) = e^(−y²)·P₂(y)/Q₂(y)
 *   y > 4              erfc(y) = e^(−y²)/y·(1/√π − z·P₃(z)/Q₃(z)),  z = 1/y²
 *
 * then erfc(−y) = 2 − erfc(y), erf = 1 − erfc. e^(−y²) is e^(−u²)·e^(−(y−u)(y+u)) with
 * u = ⌊16y⌋/16, whose square is exact: the large exponent carries no rounding error, so erfc stays
 * accurate relative to itself far into its tail (it underflows to 0 past y ≈ 27.2).
 */

// Coefficients, lowest power first; each denominator's leading coefficient is 1.
const P1 = [3209.37758913846947, 377.485237685302021, 113.864154151050156, 3.16112374387056560, 0.185777706184603153];
const Q1 = [2844.23683343917062, 1282.61652607737228, 244.024637934444173, 23.6012909523441209, 1];
const P2 = [
  1230.33935479799725, 2051.07837782607147, 1712.04761263407058, 881.952221241769090, 298.635138197400131, 66.1191906371416295, 8.88314979438837594, 0.564188496988670089,
  2.15311535474403846e-8,
];
const Q2 = [1230.33935480374942, 3439.36767414372164, 4362.61909014324716, 3290.79923573345963, 1621.38957456669019, 537.181101862009858, 117.693950891312499, 15.7449261107098347, 1];
const P3 = [6.58749161529837803e-4, 0.0160837851487422766, 0.125781726111229246, 0.360344899949804439, 0.305326634961232344, 0.0163153871373020978];
const Q3 = [0.00233520497626869185, 0.0605183413124413191, 0.527905102951428412, 1.87295284992346047, 2.56852019228982242, 1];

const SMALL = 0.46875;
const INV_SQRT_PI = 0.56418958354775628695; // 1/√π
/** erfc(y) for y past this is below the smallest subnormal. */
const ERFC_UNDERFLOW = 27.3;

/** Σ cᵢ·tⁱ by Horner's rule (coefficients lowest power first). */
function poly(c: readonly number[], t: number): number {
  let acc = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) acc = acc * t + c[i];
  return acc;
}

/** erf(x) for |x| ≤ 0.46875. */
function erfSmall(x: number): number {
  const s = x * x;
  return (x * poly(P1, s)) / poly(Q1, s);
}

/** erfc(y) for y > 0.46875 (NaN stays NaN). */
function erfcLarge(y: number): number {
  if (y >= ERFC_UNDERFLOW) return 0;
  let r: number;
  if (y <= 4) r = poly(P2, y) / poly(Q2, y);
  else {
    const z = 1 / (y * y);
    r = (INV_SQRT_PI - (z * poly(P3, z)) / poly(Q3, z)) / y;
  }
  const u = Math.trunc(y * 16) / 16;
  return Math.exp(-u * u) * Math.exp(-(y - u) * (y + u)) * r;
}

/**
 * The error function erf(x) = (2/√π)∫₀ˣ e^(−t²) dt, to about 1e-16 relative.
 * @example erfScalar(1) // 0.8427007929497149
 */
export function erfScalar(x: number): number {
  const y = Math.abs(x);
  if (y <= SMALL) return erfSmall(x);
  if (y !== y) return y;
  const e = erfcLarge(y);
  return x < 0 ? e - 1 : 1 - e;
}

/**
 * The complementary error function erfc(x) = 1 − erf(x), accurate relative to itself also where
 * it is tiny (erfc(10) = 2.088e-45).
 * @example erfcScalar(5) // 1.5374597944280351e-12
 */
export function erfcScalar(x: number): number {
  const y = Math.abs(x);
  if (y <= SMALL) return 1 - erfSmall(x);
  if (y !== y) return y;
  const e = erfcLarge(y);
  return x < 0 ? 2 - e : e;
}
