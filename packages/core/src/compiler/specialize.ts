/**
 * specialize: general ops with special operands become cheaper specific ones — powers with small
 * constant exponents become products, roots and reciprocals; divisions become multiplications.
 * Values agree to rounding (x² as x·x is exact; x^0.5 as √x differs only at −0 and −∞).
 *
 * Two rules specialize matmuls of per-example gradients (a dense layer's is an outer product, a
 * matmul with inner dimension 1): their squared norms and their scaled sum over the batch are
 * computed without building them (`outer-norm`, `batch-sum-matmul`; docs/compiler.md).
 */
import { dimTermsOf } from '../dims';
import { isFloat } from '../dtype';
import { alt, k, P, v, c } from './pattern';
import { E, rule, type Ref, type Rule } from './rules';

/** ±2ⁿ: dividing by it is exactly multiplying by its reciprocal. */
function isPowerOfTwo(a: number): boolean {
  if (a === 0 || !Number.isFinite(a)) return false;
  const m = Math.log2(Math.abs(a));
  return Number.isInteger(m) && Math.abs(m) < 1000;
}

/**
 * When `m` is a (batched) matmul whose inner dimension is 1, its operands: each output matrix is
 * then the outer product a·bᵀ of the operands' single columns/rows, whatever the transposes.
 */
function outerProduct(m: Ref): [Ref, Ref] | null {
  if (m.op !== 'matmul' || !isFloat(m.dtype)) return null;
  const a = m.input(0);
  const inner = m.attrs.transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  return inner === 1 ? [a, m.input(1)] : null;
}

/**
 * Σ over the two matrix axes of `r`², where `r` is an outer-product matmul (or that matmul with its
 * matrix axes merged by a reshape): the matmul and its sum-of-squares pass, as `[a, b]`.
 */
function squaredOuterNorm(r: Ref, root: Ref): [Ref, Ref] | null {
  const axes = [...(root.attrs.axes as number[])].sort((x, y) => x - y);
  const direct = outerProduct(r);
  if (direct) return axes.length === 2 && axes[0] === r.rank - 2 && axes[1] === r.rank - 1 ? direct : null;
  if (r.op !== 'reshape' || axes.length !== 1 || axes[0] !== r.rank - 1) return null;
  const m = r.input(0);
  const ab = outerProduct(m);
  if (!ab) return null;
  const [rows, cols] = m.shape.slice(-2);
  const merged = rows !== null && cols !== null && r.shape[r.rank - 1] === rows * cols;
  return merged && r.rank === m.rank - 1 && m.shape.slice(0, -2).every((d, i) => d === r.shape[i]) ? ab : null;
}

/**
 * ‖a·bᵀ‖²_F = ‖a‖²·‖b‖², per batch element: Σᵢⱼ (aᵢbⱼ)² = (Σᵢ aᵢ²)(Σⱼ bⱼ²). The factor sums are
 * taken in float64 and the product rounded once to the root's dtype, so it overflows and
 * underflows where the unfactored sum does (up to rounding at the edge of the range) and is more
 * accurate (two short sums instead of one long one). One case needs care: the unfactored sum is NaN when some aᵢbⱼ is ∞·0,
 * while ∞·(Σb² > 0) is ∞ — so where one factor holds an ∞ and the other a zero, the result is NaN.
 */
function outerNormProduct([a, b]: [Ref, Ref], root: Ref): Ref {
  // x with its matrix axes merged into one trailing axis where the shape allows (a plain trailing
  // sum, which every back end fuses), and the axes to sum over
  const flat = (x: Ref): [Ref, number[]] => {
    const batch = x.shape.slice(0, -2);
    const [rows, cols] = x.shape.slice(-2);
    if (rows === null || cols === null || batch.filter((d) => d === null).length > 1) return [x, [x.rank - 2, x.rank - 1]];
    return [E.reshape(x, [...batch.map((d) => d ?? -1), rows * cols]), [batch.length]];
  };
  const factor = (x: Ref) => {
    const [f, axes] = flat(x);
    const wide = E.cast(f, 'float64');
    const hasZero = E.op('greater', [E.sum(E.cast(E.op('equal', [f, E.scalar(0, f.dtype)]), 'float64'), axes), E.scalar(0, 'float64')]);
    return { sq: E.sum(E.mul(wide, wide), axes), hasZero };
  };
  const [fa, fb] = [factor(a), factor(b)];
  const inf = (sq: Ref) => E.op('equal', [sq, E.scalar(Infinity, 'float64')]);
  const infTimesZero = E.op('logicalOr', [E.op('logicalAnd', [inf(fa.sq), fb.hasZero]), E.op('logicalAnd', [inf(fb.sq), fa.hasZero])]);
  const y = E.cast(E.where(infTimesZero, NaN, E.mul(fa.sq, fb.sq)), root.dtype);
  return root.attrs.keepDims ? E.expandDims(y, [...(root.attrs.axes as number[])].sort((x, z) => x - z)) : y;
}

/**
 * `r` (a matmul [n,K,M]ᵀ·[n,K,N] with one batch axis, or it with the matrix axes merged), summed
 * over the batch axis 0, after scaling each batch element by `s` (constant along the other axes)
 * when `s` is given: the operands `[a, b]` when the sum can be one matmul.
 */
function batchSummedMatmul(r: Ref, root: Ref, s?: Ref): [Ref, Ref] | null {
  const axes = root.attrs.axes as number[];
  if (axes.length !== 1 || axes[0] !== 0) return null;
  const m = r.op === 'matmul' ? r : r.op === 'reshape' ? r.input(0) : null;
  if (!m || m.op !== 'matmul' || !isFloat(m.dtype) || !m.attrs.transposeA || m.attrs.transposeB) return null;
  const [a, b] = [m.input(0), m.input(1)];
  if (a.rank !== 3 || b.rank !== 3 || !a.shape.slice(1).every((d) => d !== null) || !b.shape.slice(1).every((d) => d !== null)) return null;
  if (r !== m && !(r.rank === 2 && r.shape[0] === m.shape[0] && r.shape[1] === (m.shape[1] as number) * (m.shape[2] as number))) return null;
  if (s && (s.rank > r.rank || !isFloat(s.dtype) || s.shape.slice(s.rank === r.rank ? 1 : 0).some((d) => d !== 1))) return null;
  return [a, b];
}

/**
 * Σₙ sₙ·aₙᵀbₙ as one matmul: the batch axis joins the contraction, (s·a)ᵀb over [n·K, ·]. Each
 * operand is first broadcast against the other's batch axis (`broadcastLike` a one-element-per-
 * example reduction), so a batch of 1 against n still means what the batched matmul meant.
 */
function batchFoldedMatmul([a, b]: [Ref, Ref], r: Ref, root: Ref, s?: Ref): Ref {
  const scaled = s ? E.mul(a, E.reshape(s, [s.rank === r.rank ? (s.shape[0] ?? -1) : 1, 1, 1])) : a;
  // batch dims provably equal (the same size, or the same run-time dim by dims.ts): nothing to
  // broadcast; else lend each the other's batch axis through a [n,1,1] sum (a trailing sum every
  // back end fuses; only its shape is read)
  const batchDim = (x: Ref) => dimTermsOf(x.work, (id) => x.work.node(id), x.id)[0];
  const same = batchDim(a) === batchDim(b);
  const lend = (x: Ref) => E.reshape(E.sum(E.reshape(x, [-1, (x.shape[1] as number) * (x.shape[2] as number)]), [1], true), [-1, 1, 1]);
  const a2 = E.reshape(same ? scaled : E.broadcastLike(scaled, lend(b)), [-1, a.shape[2] as number]);
  const b2 = E.reshape(same ? b : E.broadcastLike(b, lend(a)), [-1, b.shape[2] as number]);
  return E.reshape(E.op('matmul', [a2, b2], { transposeA: true, transposeB: false }), root.shape as number[]);
}

/** `r`: an outer-product candidate — a matmul of `a` and `b`, or that matmul reshaped (checked by the guard). */
const matmulOrMerged = alt(v('r', P.matmul(v('a'), v('b'))), v('r', P.reshape(P.matmul(v('a'), v('b')))));

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
  rule('batch-sum-matmul', P.sum(alt(matmulOrMerged, P.mul(matmulOrMerged, v('s')))), ({ a, b, r, s }, root) => batchFoldedMatmul([a, b], r, root, s), ({ r, s }, root) => batchSummedMatmul(r, root, s) !== null), // Σₙ sₙ·aₙᵀbₙ → (s·a)ᵀb over [n·K, ·]: clipped per-example gradients summed without materializing them
  rule('outer-norm', P.sum(alt(P.mul(matmulOrMerged, v('r')), P.pow(matmulOrMerged, c(2)))), ({ r }, root) => outerNormProduct(squaredOuterNorm(r, root)!, root), ({ r }, root) => squaredOuterNorm(r, root) !== null), // Σ (a·bᵀ)² over the matrix axes → Σa²·Σb² (inner dim 1: per-example gradient norms without the gradients)
];
