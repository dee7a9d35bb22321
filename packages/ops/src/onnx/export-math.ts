/**
 * Export rows for the special functions (erf, erfc, the inverse trigonometric and the hyperbolic
 * functions, atan2).
 *
 * ONNX has an op for each but atan2, and ONNX Runtime 1.30's CPU provider runs them in float32
 * only: Erf, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh and Atanh have no double kernel. So
 * float32 uses the ONNX op, and float64 a decomposition into ops ORT has double kernels for
 * (Exp, Log, Sqrt, Sin, Cos, Div, Where, ...), within a few ulp of gradgraph's kernels (measured
 * on 20000 points: ≤ 6e-16 relative; erfc ≤ 4e-15 in its tail, sinh and cosh 6e-14 past |x| = 709):
 * - atan: range-reduced to |r| ≤ 1 (atan x = ±π/2 − atan(1/x)), seeded with float32 Atan, then two
 *   Newton steps on tan y = r in double: y ← y − cos y·(sin y − r·cos y);
 * - atan2: atan(y/x) plus ±π where x is negative (−0 included), with both-zero and both-infinite
 *   operands mapped so that every IEEE case matches Math.atan2 (see `atan2Of`);
 * - asin x = atan2(x, √((1−x)(1+x))), acos x = atan2(√((1−x)(1+x)), x) (exact; gradgraph's math.ts
 *   names them so);
 * - sinh, cosh = ½(eˣ ∓ e⁻ˣ), e^(|x| − ln 2) past |x| = 709 (no overflow before gradgraph's), sinh
 *   by its Taylor series for |x| < ½ (where the difference would cancel);
 * - asinh, acosh, atanh through log1p, which ONNX lacks, as Goldberg's log(u)·t/(u − 1) with
 *   u = 1 + t: asinh = sign(x)·log1p(v + v²/(1 + √(1 + v²))) (v = |x|), acosh = log1p(d + √(d(2 + d)))
 *   (d = x − 1), both ln x + ln 2 past 2²⁸; atanh = ½(log1p(x) − log1p(−x));
 * - erf, erfc: Cody's rational approximations (the ones gradgraph's kernel uses), written out as
 *   Horner chains of Mul/Add; e^(−y²) without Cody's exact-square split (relative error y²·ε,
 *   under 1e-13 before erfc underflows).
 * float32 erfc is 1 − Erf(x): absolute error ~1e-7, but no relative accuracy in the tail.
 */
import type { ExportCtx, ExportRule } from './export';
import { AttrType, ElemType } from './proto';

const castTo = (elem: number) => ({ to: { type: AttrType.INT, i: elem } });

const LN2 = Math.LN2;
const HALF_PI = Math.PI / 2;

/** `x` is negative, −0 included (1/−0 = −∞); NaN is not. */
function negative(c: ExportCtx, x: string): string {
  return c.op('Or', [c.op('Less', [x, c.constant(0)]), c.op('Less', [c.op('Reciprocal', [x]), c.constant(0)])]);
}

/** Σ coeffs[i]·tⁱ by Horner's rule, as Mul/Add nodes (coefficients lowest power first). */
function poly(c: ExportCtx, coeffs: readonly number[], t: string): string {
  let acc = c.constant(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) acc = c.op('Add', [c.op('Mul', [acc, t]), c.constant(coeffs[i])]);
  return acc;
}

/** x·(c₀ + c₁x² + c₂x⁴ + ...): an odd Taylor series. */
function oddSeries(c: ExportCtx, x: string, coeffs: readonly number[]): string {
  return c.op('Mul', [x, poly(c, coeffs, c.op('Mul', [x, x]))]);
}

/** Where(|x| < r, series, f): a small-argument series in front of a formula that cancels there. */
function nearZero(c: ExportCtx, x: string, r: number, series: string, f: string): string {
  return c.op('Where', [c.op('Less', [c.op('Abs', [x]), c.constant(r)]), series, f]);
}

/** atan x: the ONNX op in float32; in float64 range reduction, a float32 seed and two Newton steps. */
export function atanOf(c: ExportCtx, x: string): string {
  if (c.node.type.dtype === 'float32') return c.op('Atan', [x]);
  const big = c.op('Greater', [c.op('Abs', [x]), c.constant(1)]);
  const r = c.op('Where', [big, c.op('Reciprocal', [x]), x]); // |r| ≤ 1: y in [−π/4, π/4], cos y ≥ 0.7
  let y = c.op('Cast', [c.op('Atan', [c.op('Cast', [r], castTo(ElemType.FLOAT))])], castTo(ElemType.DOUBLE));
  for (let step = 0; step < 2; step++) {
    // Newton on tan y − r = 0: y ← y − (tan y − r)·cos²y = y − cos y·(sin y − r·cos y)
    const cos = c.op('Cos', [y]);
    y = c.op('Sub', [y, c.op('Mul', [cos, c.op('Sub', [c.op('Sin', [y]), c.op('Mul', [r, cos])])])]);
  }
  // |x| > 1: atan x = sign(x)·π/2 − atan(1/x)
  return c.op('Where', [big, c.op('Sub', [c.op('Mul', [c.op('Sign', [x]), c.constant(HALF_PI)]), y]), y]);
}

/**
 * atan2(y, x) = atan(y/x), plus π (y ≥ +0) or −π (y ≤ −0) where x is negative or −0. Two operand
 * pairs make y/x NaN where atan2 has a value: both zero (y/1 keeps y's signed zero, so the sum
 * gives ±0 or ±π as Math.atan2 does) and both infinite (their signs, ±1/±1, give ±π/4 or ±3π/4).
 */
export function atan2Of(c: ExportCtx, y: string, x: string): string {
  const bothInf = c.op('And', [c.op('IsInf', [y]), c.op('IsInf', [x])]);
  const ys = c.op('Where', [bothInf, c.op('Sign', [y]), y]);
  const xs = c.op('Where', [bothInf, c.op('Sign', [x]), x]);
  const bothZero = c.op('And', [c.op('Equal', [y, c.constant(0)]), c.op('Equal', [x, c.constant(0)])]);
  const base = atanOf(c, c.op('Div', [ys, c.op('Where', [bothZero, c.constant(1), xs])]));
  const turn = c.op('Where', [negative(c, y), c.constant(-Math.PI), c.constant(Math.PI)]);
  return c.op('Where', [negative(c, x), c.op('Add', [base, turn]), base]);
}

/** √((1 − x)(1 + x)) = √(1 − x²) without the cancellation near |x| = 1. */
const cosOfAsin = (c: ExportCtx, x: string) => c.op('Sqrt', [c.op('Mul', [c.op('Sub', [c.constant(1), x]), c.op('Add', [c.constant(1), x])])]);

/**
 * log(1 + t) to full relative precision for finite t ≥ −1 (Goldberg's trick: with u = 1 + t
 * rounded, log(u)·t/(u − 1) cancels u's rounding error; u = 1 means t is below ε, where log1p t = t).
 */
function log1p(c: ExportCtx, t: string): string {
  const u = c.op('Add', [c.constant(1), t]);
  const um1 = c.op('Sub', [u, c.constant(1)]);
  const safe = c.op('Where', [c.op('Equal', [um1, c.constant(0)]), c.constant(1), um1]);
  // log(u)·(t/(u − 1)), not (log(u)·t)/(u − 1): gradgraph's compiler, reading the file back, turns
  // (1 + t) − 1 into t and log(1 + t) into log1p(t), and then t/t is 1 where log(u)·t could underflow
  return c.op('Where', [c.op('Equal', [um1, c.constant(0)]), t, c.op('Mul', [c.op('Log', [u]), c.op('Div', [t, safe])])]);
}

/**
 * `f` (½(eˣ ± e⁻ˣ)) up to |x| = 709, where eˣ would overflow before sinh x does; beyond, the one
 * term that matters as e^(|x| − ln 2) (with x's sign for sinh), finite up to 710.47 as Math.sinh.
 */
function hyperbolicTail(c: ExportCtx, x: string, f: string, odd: boolean): string {
  const v = c.op('Abs', [x]);
  const tail = c.op('Exp', [c.op('Sub', [v, c.constant(LN2)])]);
  return c.op('Where', [c.op('Greater', [v, c.constant(709)]), odd ? c.op('Mul', [c.op('Sign', [x]), tail]) : tail, f]);
}

/** `f` for v ≤ 2²⁸; ln v + ln 2 beyond, where v² ± 1 = v² (and v² would overflow past 1e154). */
function largeAsLog(c: ExportCtx, v: string, f: string): string {
  return c.op('Where', [c.op('Greater', [v, c.constant(2 ** 28)]), c.op('Add', [c.op('Log', [v]), c.constant(LN2)]), f]);
}

// ---- erf and erfc: Cody's rational approximations (coefficients from gradgraph's ops/special.ts) --

const P1 = [3209.37758913846947, 377.485237685302021, 113.864154151050156, 3.16112374387056560, 0.185777706184603153];
const Q1 = [2844.23683343917062, 1282.61652607737228, 244.024637934444173, 23.6012909523441209, 1];
const P2 = [
  1230.33935479799725, 2051.07837782607147, 1712.04761263407058, 881.952221241769090, 298.635138197400131, 66.1191906371416295, 8.88314979438837594, 0.564188496988670089,
  2.15311535474403846e-8,
];
const Q2 = [1230.33935480374942, 3439.36767414372164, 4362.61909014324716, 3290.79923573345963, 1621.38957456669019, 537.181101862009858, 117.693950891312499, 15.7449261107098347, 1];
const P3 = [6.58749161529837803e-4, 0.0160837851487422766, 0.125781726111229246, 0.360344899949804439, 0.305326634961232344, 0.0163153871373020978];
const Q3 = [0.00233520497626869185, 0.0605183413124413191, 0.527905102951428412, 1.87295284992346047, 2.56852019228982242, 1];
const INV_SQRT_PI = 0.56418958354775628695;

/**
 * The pieces of Cody's method for x: `small` = erf(x) for |x| ≤ 0.46875 (x·P₁(x²)/Q₁(x²)), `tail`
 * = erfc(|x|) beyond (e^(−y²)·P₂(y)/Q₂(y) up to 4, e^(−y²)/y·(1/√π − z·P₃(z)/Q₃(z)) with z = 1/y²
 * after, 0 past 27.3 where it underflows), and the masks that pick them.
 */
function cody(c: ExportCtx, x: string) {
  const y = c.op('Abs', [x]);
  const s = c.op('Mul', [x, x]);
  const small = c.op('Div', [c.op('Mul', [x, poly(c, P1, s)]), poly(c, Q1, s)]);
  const mid = c.op('Div', [poly(c, P2, y), poly(c, Q2, y)]);
  const z = c.op('Reciprocal', [s]);
  const far = c.op('Div', [c.op('Sub', [c.constant(INV_SQRT_PI), c.op('Div', [c.op('Mul', [z, poly(c, P3, z)]), poly(c, Q3, z)])]), y]);
  const r = c.op('Where', [c.op('LessOrEqual', [y, c.constant(4)]), mid, far]);
  const tail = c.op('Where', [c.op('GreaterOrEqual', [y, c.constant(27.3)]), c.constant(0), c.op('Mul', [c.op('Exp', [c.op('Neg', [s])]), r])]);
  return { small, tail, isSmall: c.op('LessOrEqual', [y, c.constant(0.46875)]), isNeg: c.op('Less', [x, c.constant(0)]) };
}

export const mathExporters: Record<string, ExportRule> = {
  // erf = 1 − erfc(y) (x > 0), erfc(y) − 1 (x < 0)
  erf: (c) => {
    if (c.node.type.dtype === 'float32') return c.op('Erf', [c.inputs[0]]);
    const k = cody(c, c.inputs[0]);
    const large = c.op('Where', [k.isNeg, c.op('Sub', [k.tail, c.constant(1)]), c.op('Sub', [c.constant(1), k.tail])]);
    return c.op('Where', [k.isSmall, k.small, large]);
  },
  // erfc = 1 − erf; erfc(−y) = 2 − erfc(y)
  erfc: (c) => {
    if (c.node.type.dtype === 'float32') return c.op('Sub', [c.constant(1), c.op('Erf', [c.inputs[0]])]);
    const k = cody(c, c.inputs[0]);
    const large = c.op('Where', [k.isNeg, c.op('Sub', [c.constant(2), k.tail]), k.tail]);
    return c.op('Where', [k.isSmall, c.op('Sub', [c.constant(1), k.small]), large]);
  },
  asin: (c) => (c.node.type.dtype === 'float32' ? c.op('Asin', [c.inputs[0]]) : atan2Of(c, c.inputs[0], cosOfAsin(c, c.inputs[0]))),
  acos: (c) => (c.node.type.dtype === 'float32' ? c.op('Acos', [c.inputs[0]]) : atan2Of(c, cosOfAsin(c, c.inputs[0]), c.inputs[0])),
  atan2: (c) => atan2Of(c, c.inputs[0], c.inputs[1]),
  // sinh x = ½(eˣ − e⁻ˣ); Σ x^(2k+1)/(2k+1)! up to x¹³ for |x| < ½ (next term's relative size < 5e-17)
  sinh: (c) => {
    const x = c.inputs[0];
    if (c.node.type.dtype === 'float32') return c.op('Sinh', [x]);
    const f = c.op('Mul', [c.constant(0.5), c.op('Sub', [c.op('Exp', [x]), c.op('Exp', [c.op('Neg', [x])])])]);
    const coeffs = [1, 1 / 6, 1 / 120, 1 / 5040, 1 / 362880, 1 / 39916800, 1 / 6227020800];
    return nearZero(c, x, 0.5, oddSeries(c, x, coeffs), hyperbolicTail(c, x, f, true));
  },
  // cosh x = ½(eˣ + e⁻ˣ)
  cosh: (c) => {
    const x = c.inputs[0];
    if (c.node.type.dtype === 'float32') return c.op('Cosh', [x]);
    const f = c.op('Mul', [c.constant(0.5), c.op('Add', [c.op('Exp', [x]), c.op('Exp', [c.op('Neg', [x])])])]);
    return hyperbolicTail(c, x, f, false);
  },
  // asinh x = sign(x)·log1p(v + v²/(1 + √(1 + v²))), v = |x| (log(v + √(v² + 1)) rewritten so nothing cancels)
  asinh: (c) => {
    const x = c.inputs[0];
    if (c.node.type.dtype === 'float32') return c.op('Asinh', [x]);
    const v = c.op('Abs', [x]);
    const v2 = c.op('Mul', [v, v]);
    const t = c.op('Add', [v, c.op('Div', [v2, c.op('Add', [c.constant(1), c.op('Sqrt', [c.op('Add', [c.constant(1), v2])])])])]);
    return c.op('Mul', [c.op('Sign', [x]), largeAsLog(c, v, log1p(c, t))]);
  },
  // acosh x = log1p(d + √(d·(2 + d))), d = x − 1 (exact): NaN below 1 (√ of a negative)
  acosh: (c) => {
    const x = c.inputs[0];
    if (c.node.type.dtype === 'float32') return c.op('Acosh', [x]);
    const d = c.op('Sub', [x, c.constant(1)]);
    return largeAsLog(c, x, log1p(c, c.op('Add', [d, c.op('Sqrt', [c.op('Mul', [d, c.op('Add', [c.constant(2), d])])])])));
  },
  // atanh x = ½(log1p(x) − log1p(−x)): ±∞ at ±1, NaN beyond
  atanh: (c) => {
    const x = c.inputs[0];
    if (c.node.type.dtype === 'float32') return c.op('Atanh', [x]);
    return c.op('Mul', [c.constant(0.5), c.op('Sub', [log1p(c, x), log1p(c, c.op('Neg', [x]))])]);
  },
};
