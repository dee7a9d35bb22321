/**
 * canonicalize: algebraic identities that make a program smaller and put it in one normal form,
 * so later tables have fewer shapes to match. Every rule keeps the value (up to rounding: a few
 * reassociate constants); rules that could turn a NaN or ∞ into a number (x·0, x − x) are
 * guarded to operands that are provably finite.
 */
import { isFloat, type DType } from '../dtype';
import { _, alt, c, k, op, P, rest, v } from './pattern';
import { E, rule, type Ref, type Rule } from './rules';
import { finiteInputs, getOp, hasOp } from '../registry';

/**
 * True when every element of `x` is surely finite, whatever the inputs: int and bool values, and
 * ops whose `finiteIfInputsFinite` trait says so for operands that are (finite constants, sign,
 * shapeSize, bounded ops such as tanh or σ of finite operands, a pad with a finite fill, ...).
 * A guard for rules that would turn ∞·0 or ∞ − ∞ (NaN) into a number.
 * @example
 * rule('mul-zero', P.mul(v('x'), c(0)), ({ x }) => E.scalar(0, x.dtype), ({ x }) => provablyFinite(x))
 */
export function provablyFinite(x: Ref, depth = 0): boolean {
  if (!isFloat(x.dtype)) return true;
  if (depth > 12 || !hasOp(x.op)) return false;
  const node = x.node;
  const ins = finiteInputs(getOp(x.op), node.attrs, node.inputs.map((_i, j) => x.input(j).node.type));
  return ins !== null && ins.every((j) => provablyFinite(x.input(j), depth + 1));
}

const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const axesOf = (r: Ref) => r.attrs.axes as number[];

/** `x` padded with leading 1s to `rank`. */
function padded(shape: readonly (number | null)[], rank: number): (number | null)[] {
  return [...Array(rank - shape.length).fill(1), ...shape];
}

/** x reshaped to `shape` (null dims as -1; at most one), or null when two dims are unknown. */
function reshapeTo(x: Ref, shape: readonly (number | null)[]): Ref | null {
  if (same(x.shape, shape)) return x;
  if (shape.filter((d) => d === null).length > 1) return null;
  return E.reshape(x, shape.map((d) => d ?? -1));
}

/**
 * sum/mean over axes that `broadcastTo` only stretched: the elements summed are copies of one
 * input element. Returns x reshaped to the reduction's shape (the caller scales a sum by n).
 */
function reduceOfBroadcast(x: Ref, b: Ref, root: Ref): Ref | null {
  const target = b.attrs.shape as number[];
  const xs = padded(x.shape, target.length);
  const keepDims = root.attrs.keepDims as boolean;
  const shape = xs.flatMap((d, i) => (axesOf(root).includes(i) ? (keepDims ? [1] : []) : [d]));
  return reshapeTo(x, shape);
}

/** The reduced axes all stretch a size-1 (or missing) dim of the broadcast input. */
const onlyBroadcastAxes = (x: Ref, b: Ref, root: Ref) => {
  const xs = padded(x.shape, (b.attrs.shape as number[]).length);
  return axesOf(root).every((a) => xs[a] === 1);
};

/** n = the number of elements each result element of sum(broadcastTo(x, s), axes) adds up. */
const stretch = (b: Ref, root: Ref) => axesOf(root).reduce((p, a) => p * (b.attrs.shape as number[])[a], 1);

/** Casting src → mid → src is exact when mid holds every src value. */
function exactRoundTrip(src: DType, mid: DType): boolean {
  return src === mid || src === 'bool' || (mid === 'float64' && (src === 'float32' || src === 'int32'));
}

/** The axes a sumLike(x, ref) sums over (leading ones, and stretched 1s of ref). */
function sumLikeAxes(x: readonly number[], ref: readonly number[]): number[] {
  const lead = x.length - ref.length;
  return x.flatMap((d, i) => (i < lead || (ref[i - lead] === 1 && d !== 1) ? [i] : []));
}

/** The op keeps its (only) input's run-time shape (its `shapePreserving` trait). */
const keepsShape = (r: Ref) => hasOp(r.op) && getOp(r.op).traits.shapePreserving;

/** The op's run-time shape is the broadcast of its inputs' (its `broadcasting` trait). */
const broadcasts = (r: Ref) => hasOp(r.op) && getOp(r.op).traits.broadcasting;

/** A shape-lending operand `r` that is some op of one input `u`. */
const unaryRef = v('r', op('*', [v('u')]));

const isIdentityPerm = (p: readonly number[]) => p.every((d, i) => d === i);

// prettier-ignore
export const canonicalRules: readonly Rule[] = [
  // ---- arithmetic identities
  rule('add-zero', P.add(v('x'), c(0)), ({ x }) => x), // x + 0 → x
  rule('sub-zero', P.sub(v('x'), c(0)), ({ x }) => x), // x − 0 → x
  rule('zero-sub', P.sub(c(0), v('x')), ({ x }) => E.neg(x)), // 0 − x → −x
  rule('mul-one', P.mul(v('x'), c(1)), ({ x }) => x), // x·1 → x
  rule('mul-minus-one', P.mul(v('x'), c(-1)), ({ x }) => E.neg(x)), // x·(−1) → −x
  rule('mul-zero', P.mul(v('x'), c(0)), ({ x }) => E.scalar(0, x.dtype), ({ x }) => provablyFinite(x)), // x·0 → 0, x finite (∞·0 is NaN)
  rule('div-one', P.div(v('x'), c(1)), ({ x }) => x), // x/1 → x
  rule('div-minus-one', P.div(v('x'), c(-1)), ({ x }) => E.neg(x)), // x/(−1) → −x
  rule('pow-one', P.pow(v('x'), c(1)), ({ x }) => x), // x¹ → x
  rule('pow-zero', P.pow(v('x'), c(0)), ({ x }) => E.scalar(1, x.dtype)), // x⁰ → 1 (also for NaN and ∞, as Math.pow says)
  rule('sub-self', P.sub(v('x'), v('x')), ({ x }) => E.scalar(0, x.dtype), ({ x }) => provablyFinite(x)), // x − x → 0, x finite (∞ − ∞ is NaN)
  rule('add-self', P.add(v('x'), v('x')), ({ x }) => E.mul(x, 2)), // x + x → 2·x (exact)
  // ---- signs: negations move outward and cancel
  rule('neg-neg', P.neg(P.neg(v('x'))), ({ x }) => x), // −(−x) → x
  rule('add-neg', P.add(v('x'), P.neg(v('y'))), ({ x, y }) => E.sub(x, y)), // x + (−y) → x − y
  rule('sub-neg', P.sub(v('x'), P.neg(v('y'))), ({ x, y }) => E.add(x, y)), // x − (−y) → x + y
  rule('neg-sub', P.neg(P.sub(v('x'), v('y'))), ({ x, y }) => E.sub(y, x)), // −(x − y) → y − x (exact)
  rule('mul-neg', P.mul(P.neg(v('x')), v('y')), ({ x, y }) => E.neg(E.mul(x, y))), // (−x)·y → −(x·y)
  rule('div-neg-num', P.div(P.neg(v('x')), v('y')), ({ x, y }) => E.neg(E.div(x, y))), // (−x)/y → −(x/y)
  rule('div-neg-den', P.div(v('x'), P.neg(v('y'))), ({ x, y }) => E.neg(E.div(x, y))), // x/(−y) → −(x/y)
  rule('sum-neg', alt(P.sum(P.neg(v('x'))), P.mean(P.neg(v('x')))), ({ x }, root) => E.neg(E.op(root.op, [x], root.attrs))), // Σ(−x) → −Σx (the sign on the smaller tensor)
  rule('shape-neg', alt(P.expandDims(P.neg(v('x'))), P.squeeze(P.neg(v('x'))), P.reshape(P.neg(v('x'))), P.transpose(P.neg(v('x')))), ({ x }, root) => E.neg(E.op(root.op, [x], root.attrs))), // reshape(−x) → −reshape(x): same element count, one place for the sign
  rule('abs-neg', P.abs(P.neg(v('x'))), ({ x }) => E.abs(x)), // |−x| → |x|
  rule('abs-abs', P.abs(P.abs(v('x'))), ({ x }) => E.abs(x)), // ||x|| → |x|
  // ---- constants collected on the right
  rule('sub-const', P.sub(v('x'), k('a')), ({ x, a }) => E.add(x, -a.value)), // x − a → x + (−a)
  rule('collect-add', P.add(P.add(v('x'), k('a')), k('b')), ({ x, a, b }) => E.add(x, a.value + b.value)), // (x + a) + b → x + (a+b)
  rule('collect-mul', P.mul(P.mul(v('x'), k('a')), k('b')), ({ x, a, b }) => E.mul(x, a.value * b.value)), // (x·a)·b → x·(ab)
  // ---- selections and conversions
  rule('max-self', P.maximum(v('x'), v('x')), ({ x }) => x), // max(x, x) → x
  rule('min-self', P.minimum(v('x'), v('x')), ({ x }) => x), // min(x, x) → x
  rule('where-same', P.where(_(), v('x'), v('x')), ({ x }) => x), // c ? x : x → x
  rule('where-true', P.where(c(1), v('a'), _()), ({ a }) => a), // true ? a : b → a
  rule('where-false', P.where(c(0), _(), v('b')), ({ b }) => b), // false ? a : b → b
  rule('where-not', P.where(P.logicalNot(v('c')), v('a'), v('b')), ({ c: cond, a, b }) => E.where(cond, b, a)), // ¬c ? a : b → c ? b : a
  rule('cast-roundtrip', P.cast(v('m', P.cast(v('x')))), ({ x }) => x, ({ x, m }, root) => x.dtype === root.dtype && exactRoundTrip(x.dtype, m.dtype)), // cast(cast(x, wider), back) → x
  rule('stop-gradient', P.stopGradient(v('x')), ({ x }) => x), // stopGradient(x) → x: gradients are already built
  rule('custom-grad', P.customGrad(rest(), v('y')), ({ y }) => y), // customGrad(xs…, f(xs)) → f(xs): its VJP was used by grad
  // ---- shapes
  rule('transpose-transpose', P.transpose(v('t', P.transpose(v('x')))), ({ x, t }, root) => { const p = t.attrs.perm as number[]; const r = (root.attrs.perm as number[]).map((i) => p[i]); return isIdentityPerm(r) ? x : E.transpose(x, r); }), // (xᵖ)ᑫ → x^(p∘q)
  rule('transpose-identity', P.transpose(v('x')), ({ x }) => x, (_m, root) => isIdentityPerm(root.attrs.perm as number[])), // transpose(x, identity) → x
  rule('reshape-reshape', P.reshape(alt(P.reshape(v('x')), P.expandDims(v('x')), P.squeeze(v('x')))), ({ x }, root) => E.reshape(x, root.attrs.shape as number[])), // reshape(reshape(x)) → reshape(x)
  rule('reshape-identity', P.reshape(v('x')), ({ x }) => x, ({ x }, root) => same(x.shape, root.shape) && x.shape.filter((d) => d === null).length <= 1), // reshape(x, shape of x) → x
  rule('squeeze-expand', P.squeeze(v('e', P.expandDims(v('x')))), ({ x }) => x, ({ e }, root) => same(axesOf(e), axesOf(root))), // squeeze(expandDims(x, a), a) → x
  rule('expand-squeeze', P.expandDims(v('s', P.squeeze(v('x')))), ({ x }) => x, ({ s }, root) => same(axesOf(s), axesOf(root))), // expandDims(squeeze(x, a), a) → x
  rule('broadcast-identity', P.broadcastTo(v('x')), ({ x }) => x, ({ x }, root) => same(x.shape, root.shape)), // broadcastTo(x, shape of x) → x
  rule('broadcast-broadcast', P.broadcastTo(alt(P.broadcastTo(v('x')), P.broadcastLike(v('x'), _()))), ({ x }, root) => E.broadcastTo(x, root.shape as number[])), // broadcastTo(broadcast(x), s) → broadcastTo(x, s)
  rule('broadcast-like-static', P.broadcastLike(v('x'), _()), ({ x }, root) => E.broadcastTo(x, root.shape as number[]), (_m, root) => root.shape.every((d) => d !== null)), // broadcastLike(x, r) → broadcastTo(x, s), s known
  rule('sum-like-static', P.sumLike(v('x'), v('r')), ({ x, r }) => { const axes = sumLikeAxes(x.shape as number[], r.shape as number[]); return E.reshape(axes.length ? E.sum(x, axes, true) : x, r.shape as number[]); }, ({ x, r }) => x.shape.every((d) => d !== null) && r.shape.every((d) => d !== null)), // sumLike(x, r) → reshape(sum(x, axes)), shapes known
  rule('reshape-like-static', P.reshapeLike(v('x'), v('r')), ({ x, r }) => E.reshape(x, r.shape as number[]), ({ r }) => r.shape.every((d) => d !== null)), // reshapeLike(x, r) → reshape(x, s), s known
  rule('reduce-nothing', alt(P.sum(v('x'), { axes: [] }), P.mean(v('x'), { axes: [] }), P.max(v('x'), { axes: [] }), P.min(v('x'), { axes: [] })), ({ x }) => x), // Σ over no axes → x
  rule('sum-broadcast', P.sum(v('b', P.broadcastTo(v('x')))), ({ x, b }, root) => { const y = reduceOfBroadcast(x, b, root); return y && E.mul(y, stretch(b, root)); }, ({ x, b }, root) => onlyBroadcastAxes(x, b, root)), // Σₐ broadcast(x) → n·x over stretched axes a
  rule('mean-broadcast', P.mean(v('b', P.broadcastTo(v('x')))), ({ x, b }, root) => reduceOfBroadcast(x, b, root), ({ x, b }, root) => onlyBroadcastAxes(x, b, root)), // meanₐ broadcast(x) → x over stretched axes a
  rule('shape-ref-unary', alt(P.broadcastLike(v('x'), unaryRef), P.sumLike(v('x'), unaryRef), P.reshapeLike(v('x'), unaryRef)), ({ x, u }, root) => E.op(root.op, [x, u]), ({ r }) => keepsShape(r)), // broadcastLike(x, f(u)) → broadcastLike(x, u): f keeps u's shape, and r only lends its shape
  rule('shape-ref-binary', P.broadcastLike(v('x'), v('r', op('*', [v('a'), v('b')]))), ({ x, a, b }) => E.broadcastLike(E.broadcastLike(x, a), b), ({ r }) => broadcasts(r) && r.work.useCount(r.id) === 1), // broadcastLike(x, a ∘ b) → broadcastLike(broadcastLike(x, a), b), when nothing else needs a ∘ b
  rule('shape-size-unary', P.shapeSize(unaryRef), ({ u }, root) => E.shapeSize(u, root.attrs.axes as number[], root.dtype), ({ r }) => keepsShape(r)), // size(f(u)) → size(u)
  rule('sum-scalar-broadcast-like', P.sum(P.broadcastLike(v('x'), v('r'))), ({ x, r }) => E.mul(x, E.shapeSize(r, [...r.shape.keys()], x.dtype)), ({ x, r }, root) => x.rank === 0 && axesOf(root).length === r.rank && x.dtype !== 'bool'), // Σ broadcastLike(s, r) → s·size(r), s scalar
];
