/**
 * Elementwise special functions: erf, erfc, the inverse sine and cosine, atan2 and the hyperbolic
 * functions with their inverses. Each is one accurate call per element in V8 (`Math.asinh`, or
 * Cody's rational forms for erf), and a primitive because no composite of the other primitives is
 * both exact and as fast (timings: 2²⁰ float64 elements, a loaded 2-core machine, two runs):
 * - erf, erfc: no composite short of the rational forms themselves (ops' old customGrad version
 *   was ~160 nodes; GELU's value and gradient are ~2× faster on the primitive);
 * - asin, acos: atan2(x, √((1−x)(1+x))) is exact but 2.3× slower (110 vs 47 ms);
 * - sinh, cosh: each is the other's derivative, so as primitives every order stays accurate; the
 *   exp/expm1 composites cancel near 0 (cosh′ = (eˣ − e⁻ˣ)/2) and overflow at |x| = 709.78, not 710.48;
 * - asinh, acosh: log(x + √(x² ± 1)) cancels (asinh for x ≪ 0, acosh near 1) and overflows past 1e154;
 * - atanh: ½(log1p(x) − log1p(−x)) is accurate and as fast, but its second derivative
 *   ½(1/(1−x)² − 1/(1+x)²) cancels near 0 (relative error ~5e-9 at x = 1e-8);
 * - atan2: the base of `atan`, and nothing composes to it.
 * tan = sin/cos (3 ulp, 1.1–1.2× the time) and atan = atan2(x, 1) (bit-identical) are not
 * primitives (see math.ts).
 *
 * Every rule is written once, as the derivative f′(x): the VJP is dy·f′(x), the JVP ẋ·f′(x), and
 * both are graph, so higher orders follow.
 */
import * as api from '../api';
import type { Sym } from '../graph';
import * as math from '../math';
import { traits, type FiniteRule, type OpDef } from '../registry';
import { sizeOf } from '../shape';
import { alignBatched, addTangents, reapply } from './rules';
import { erfcScalar, erfScalar } from './special';
import { broadcastOrFail, mapBinary, mapUnary, noAttrs, requireFloat, requireSameDtype } from './util';

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π

interface UnarySpec {
  readonly name: string;
  readonly doc: string;
  readonly f: (v: number) => number;
  /** f′(x), as graph, from the input and (if it helps) the output. */
  readonly slope: (x: Sym, y: Sym) => Sym;
  readonly kinks?: string;
  readonly finite?: FiniteRule;
  /** Flops per element, for the cost model. */
  readonly cost: number;
}

function unaryMathOp(s: UnarySpec): OpDef {
  return {
    name: s.name,
    arity: 1,
    kind: 'elementwise',
    traits: traits({ elementwise: true, shapePreserving: true, finiteIfInputsFinite: s.finite ?? null }),
    doc: s.doc,
    attrs: noAttrs,
    infer: ([x]) => {
      requireFloat(x);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], _a, ctx) => mapUnary(x, ctx.out, s.f),
    vjp: ({ dy, inputs: [x], output }) => [api.mul(dy, s.slope(x, output))],
    jvp: ({ tangents: [t], inputs: [x], output }) => (t ? api.mul(t, s.slope(x, output)) : null),
    // elementwise: the op applies to the batched value as it is
    batch: ({ inputs: [x], axes: [b], node }) => ({ out: reapply(node, [x]), axis: b! }),
    kinks: s.kinks,
    flops: (_i, out) => s.cost * sizeOf(out.shape),
  };
}

/** (1 − x)(1 + x) = 1 − x², without the cancellation of 1 − x² near |x| = 1. */
const oneMinusSquare = (x: Sym): Sym => api.mul(api.sub(1, x), api.add(1, x));

export const mathUnaryOps: OpDef[] = [
  // d erf x = (2/√π)·e^(−x²)
  unaryMathOp({ name: 'erf', doc: 'the error function (2/√π)∫₀ˣ e^(−t²) dt (Cody’s rational approximations, ~1e-16 relative)', f: erfScalar, slope: (x) => api.mul(api.exp(api.neg(api.mul(x, x))), TWO_OVER_SQRT_PI), finite: [0], cost: 20 }),
  // d erfc x = −(2/√π)·e^(−x²)
  unaryMathOp({ name: 'erfc', doc: '1 − erf(x), accurate relative to itself in the tail (erfc(10) = 2.1e-45)', f: erfcScalar, slope: (x) => api.mul(api.exp(api.neg(api.mul(x, x))), -TWO_OVER_SQRT_PI), finite: [0], cost: 20 }),
  // d asin x = 1/√(1 − x²)
  unaryMathOp({
    name: 'asin',
    doc: 'arcsine, in [−π/2, π/2]; NaN outside [−1, 1]',
    f: Math.asin,
    slope: (x) => api.rsqrt(oneMinusSquare(x)),
    kinks: 'at x = ±1 the gradient is +∞ (the one-sided limit), as in PyTorch',
    cost: 10,
  }),
  // d acos x = −1/√(1 − x²)
  unaryMathOp({
    name: 'acos',
    doc: 'arccosine, in [0, π]; NaN outside [−1, 1]',
    f: Math.acos,
    slope: (x) => api.neg(api.rsqrt(oneMinusSquare(x))),
    kinks: 'at x = ±1 the gradient is −∞ (the one-sided limit), as in PyTorch',
    cost: 10,
  }),
  // d sinh x = cosh x
  unaryMathOp({ name: 'sinh', doc: 'hyperbolic sine', f: Math.sinh, slope: (x) => math.cosh(x), cost: 8 }),
  // d cosh x = sinh x
  unaryMathOp({ name: 'cosh', doc: 'hyperbolic cosine', f: Math.cosh, slope: (x) => math.sinh(x), cost: 8 }),
  // d asinh x = 1/√(x² + 1)  (0 once x² overflows, |x| > 1.3e154, where the true value is below 1e-154)
  unaryMathOp({ name: 'asinh', doc: 'inverse hyperbolic sine', f: Math.asinh, slope: (x) => api.rsqrt(api.add(api.mul(x, x), 1)), finite: [0], cost: 10 }),
  // d acosh x = 1/√((x − 1)(x + 1))
  unaryMathOp({
    name: 'acosh',
    doc: 'inverse hyperbolic cosine, ≥ 0; NaN below 1',
    f: Math.acosh,
    slope: (x) => api.rsqrt(api.mul(api.sub(x, 1), api.add(x, 1))),
    kinks: 'at x = 1 the gradient is +∞ (the one-sided limit), as in PyTorch',
    cost: 10,
  }),
  // d atanh x = 1/((1 − x)(1 + x))
  unaryMathOp({
    name: 'atanh',
    doc: 'inverse hyperbolic tangent; ±∞ at ±1, NaN outside [−1, 1]',
    f: Math.atanh,
    slope: (x) => api.reciprocal(oneMinusSquare(x)),
    kinks: 'at x = ±1 the value is ±∞ and the gradient +∞ (the one-sided limits), as in PyTorch',
    cost: 10,
  }),
];

/**
 * The partial derivatives of atan2(y, x): x/(x² + y²) and −y/(x² + y²). At the origin both
 * numerators are 0 and the denominator is taken as 1, so both are 0 there (and stay graph that
 * differentiates again). r = x² + y² underflows to 0 only for |x|, |y| below 1e-162.
 */
function atan2Slopes(y: Sym, x: Sym): { dY: Sym; dX: Sym } {
  const r = api.add(api.mul(x, x), api.mul(y, y));
  const safe = api.where(api.equal(r, 0), 1, r);
  return { dY: api.div(x, safe), dX: api.neg(api.div(y, safe)) };
}

export const atan2Op: OpDef = {
  name: 'atan2',
  arity: 2,
  kind: 'elementwise',
  traits: traits({ elementwise: true, broadcasting: true, finiteIfInputsFinite: [0, 1] }),
  doc: 'atan2(y, x): the angle of the point (x, y) from the positive x axis, in [−π, π]',
  attrs: noAttrs,
  infer: (ts) => {
    const dtype = requireSameDtype(ts);
    requireFloat(ts[0]);
    return { dtype, shape: broadcastOrFail(ts.map((t) => t.shape)) };
  },
  kernel: ([y, x], _a, ctx) => mapBinary(y, x, ctx.out, Math.atan2),
  // d atan2(y, x) = (x·dy, −y·dy)/(x² + y²)
  vjp: ({ dy, inputs: [y, x], needsGrad }) => {
    const { dY, dX } = atan2Slopes(y, x);
    return [needsGrad[0] ? api.mul(dy, dY) : null, needsGrad[1] ? api.mul(dy, dX) : null];
  },
  jvp: ({ tangents: [ty, tx], inputs: [y, x] }) => {
    const { dY, dX } = atan2Slopes(y, x);
    return addTangents(ty ? api.mul(ty, dY) : null, tx ? api.mul(tx, dX) : null);
  },
  batch: ({ inputs, axes, node }) => ({ out: reapply(node, alignBatched(inputs, axes, node.type.shape.length)), axis: 0 }),
  kinks:
    'at (0, 0), where atan2 jumps, both gradients are 0 (PyTorch gives NaN); across the negative x axis the value jumps by 2π (y = +0 gives π, y = −0 gives −π) and the gradient is the one-sided one, equal from both sides',
  flops: (_i, out) => 12 * sizeOf(out.shape),
};
