/**
 * erf and erfc built from core primitives, for GELU's exact form until core has an `erf`
 * primitive (then `nn.gelu` should switch to it and this file can go).
 *
 * The values are W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev
 * approximations for the error function", Math. Comp. 23 (1969) 631–638; the coefficients of his
 * public-domain SPECFUN routine CALERF), designed for ≥ 18 significant digits, in three regions of
 * y = |x|:
 *
 *   y ≤ 0.46875        erf(x)  = x·P₁(y²)/Q₁(y²)
 *   0.46875 < y ≤ 4    erfc(y) = e^(−y²)·P₂(y)/Q₂(y)
 *   y > 4              erfc(y) = e^(−y²)/y·(1/√π − z·P₃(z)/Q₃(z)),  z = 1/y²
 *
 * with erfc(−y) = 2 − erfc(y) and erf = 1 − erfc outside the first region. e^(−y²) is computed as
 * e^(−u²)·e^(−(y−u)(y+u)) with u = ⌊16y⌋/16, whose square is exact, so the large exponent carries
 * no rounding error (Cody's trick): erfc keeps its relative accuracy far into the tail, down to its
 * underflow near y = 27.
 *
 * The gradients are the exact derivatives, d erf/dx = (2/√π)·e^(−x²) (through `customGrad`, so
 * autodiff never differentiates the approximation, and higher orders are the exact ones too).
 * Every branch is evaluated on an input clamped to its region, so no branch produces Inf or NaN
 * (the debug mode checks every intermediate).
 */
import { clip, customGrad, where, type Sym } from '@gradgraph/core';

const SMALL = 0.46875;
/** erfc(28) < 1e-341 underflows to 0; clamping there keeps ⌊16y⌋ within int32 and e^(−y²) finite. */
const BIG = 28;
const INV_SQRT_PI = 0.56418958354775628695; // 1/√π
const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π

// Cody's coefficients, highest power first (the leading 1 of each denominator included)
const P1 = [0.185777706184603153, 3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947];
const Q1 = [1, 23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const P2 = [
  2.15311535474403846e-8, 0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909, 1712.04761263407058, 2051.07837782607147,
  1230.33935479799725,
];
const Q2 = [1, 15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942];
const P3 = [0.0163153871373020978, 0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766, 6.58749161529837803e-4];
const Q3 = [1, 2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];

/** Σ cᵢ·t^(n−i) by Horner's rule. */
function horner(coeffs: readonly number[], t: Sym): Sym {
  let acc: Sym = t.mul(coeffs[0]).add(coeffs[1]);
  for (let i = 2; i < coeffs.length; i++) acc = acc.mul(t).add(coeffs[i]);
  return acc;
}

/** e^(−y²) for 0 ≤ y ≤ BIG, with u = ⌊16y⌋/16: e^(−u²)·e^(−(y−u)(y+u)), u² exact. */
function expNegSquare(y: Sym): Sym {
  const u = y.mul(16).cast('int32').cast(y.dtype).div(16);
  return u.mul(u).neg().exp().mul(y.sub(u).mul(y.add(u)).neg().exp());
}

/** erf(x) for |x| ≤ SMALL (x clamped there). */
function erfSmall(x: Sym): Sym {
  const xs = clip(x, -SMALL, SMALL);
  const s = xs.mul(xs);
  return xs.mul(horner(P1, s)).div(horner(Q1, s));
}

/**
 * erfc(y) for y = |x| > SMALL, with y clamped to [SMALL, BIG]. Both rational forms are finite on
 * that whole range, so they share one clamped input and one e^(−y²); `where` keeps the right one.
 */
function erfcLarge(y: Sym): Sym {
  const yc = clip(y, SMALL, BIG);
  const e = expNegSquare(yc);
  const mid = e.mul(horner(P2, yc)).div(horner(Q2, yc));
  const z = yc.mul(yc).reciprocal();
  const tail = e.mul(z.mul(horner(P3, z)).div(horner(Q3, z)).neg().add(INV_SQRT_PI)).div(yc);
  return where(y.lessEqual(4), mid, tail);
}

/** e^(−x²)·2/√π, the derivative of erf. */
const erfSlope = (x: Sym): Sym => x.mul(x).neg().exp().mul(TWO_OVER_SQRT_PI);

/** erf(x) to about 1e-16 relative in float64; d/dx = (2/√π)·e^(−x²). */
export const erf = customGrad(
  (x: Sym): Sym => {
    const y = x.abs();
    const e = erfcLarge(y);
    return where(y.lessEqual(SMALL), erfSmall(x), where(x.less(0), e.sub(1), e.neg().add(1)));
  },
  (x, _y, dy) => [dy.mul(erfSlope(x))],
  { name: 'erf' },
);

/** erfc(x) = 1 − erf(x), accurate relative to itself also where it is tiny (x ≫ 1); d/dx = −(2/√π)·e^(−x²). */
export const erfc = customGrad(
  (x: Sym): Sym => {
    const y = x.abs();
    const e = erfcLarge(y);
    return where(y.lessEqual(SMALL), erfSmall(x).neg().add(1), where(x.less(0), e.neg().add(2), e));
  },
  (x, _y, dy) => [dy.mul(erfSlope(x)).neg()],
  { name: 'erfc' },
);
