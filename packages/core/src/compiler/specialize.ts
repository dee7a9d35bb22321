/**
 * specialize: general ops with special operands become cheaper specific ones — powers with small
 * constant exponents become products, roots and reciprocals; divisions become multiplications.
 * Values agree to rounding (x² as x·x is exact; x^0.5 as √x differs only at −0 and −∞).
 */
import { k, P, v, c } from './pattern';
import { E, rule, type Rule } from './rules';

/** ±2ⁿ: dividing by it is exactly multiplying by its reciprocal. */
function isPowerOfTwo(a: number): boolean {
  if (a === 0 || !Number.isFinite(a)) return false;
  const m = Math.log2(Math.abs(a));
  return Number.isInteger(m) && Math.abs(m) < 1000;
}

// prettier-ignore
export const specializeRules: readonly Rule[] = [
  rule('pow-two', P.pow(v('x'), c(2)), ({ x }) => E.mul(x, x)), // x² → x·x
  rule('pow-three', P.pow(v('x'), c(3)), ({ x }) => E.mul(E.mul(x, x), x)), // x³ → (x·x)·x
  rule('pow-half', P.pow(v('x'), c(0.5)), ({ x }) => E.sqrt(x)), // x^½ → √x
  rule('pow-minus-one', P.pow(v('x'), c(-1)), ({ x }) => E.reciprocal(x)), // x⁻¹ → 1/x
  rule('pow-minus-half', P.pow(v('x'), c(-0.5)), ({ x }) => E.rsqrt(x)), // x^−½ → 1/√x
  rule('pow-minus-two', P.pow(v('x'), c(-2)), ({ x }) => E.reciprocal(E.mul(x, x))), // x⁻² → 1/(x·x)
  rule('one-over', P.div(c(1), v('x')), ({ x }) => E.reciprocal(x)), // 1/x → reciprocal(x)
  rule('div-sqrt', P.div(v('x'), P.sqrt(v('y'))), ({ x, y }) => E.mul(x, E.rsqrt(y))), // x/√y → x·rsqrt(y)
  rule('div-pow2', P.div(v('x'), k('a')), ({ x, a }) => E.mul(x, 1 / a.value), ({ a }) => isPowerOfTwo(a.value)), // x/2ⁿ → x·2⁻ⁿ (exact)
  rule('sqrt-square', P.sqrt(P.mul(v('x'), v('x'))), ({ x }) => E.abs(x)), // √(x·x) → |x|
];
