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

/** The reductions a fused loop folds (over the last axis, the leading ones, or all): the rules below bring others to those. */
const foldable = () => alt(P.sum(v('x')), P.mean(v('x')), P.max(v('x')), P.min(v('x')));

/** The dims of `shape` from `from` to `to`, static, or null. */
function staticDims(shape: readonly (number | null)[], from: number, to: number): number[] | null {
  const ds = shape.slice(from, to);
  return ds.every((d) => d !== null) ? (ds as number[]) : null;
}

/**
 * reduce(x) over a trailing block of axes k..r−1 (k ≥ 1, at least two axes, static): the same
 * reduction over the last axis of x reshaped [..., n] — the one loop a fused kernel runs (per
 * example norms under vmap reduce like this).
 */
function mergedTrailing(x: Ref, root: Ref): Ref | null {
  const axes = axesOf(root);
  const k = axes[0];
  const tail = staticDims(x.shape, k, x.rank);
  const head = reshapeTo(x, [...x.shape.slice(0, k), tail!.reduce((p, d) => p * d, 1)]);
  return head && reshapeTo(E.op(root.op, [head], { axes: [k], keepDims: false }), root.shape);
}
const isTrailingBlock = (x: Ref, root: Ref) => {
  const axes = axesOf(root);
  return axes.length >= 2 && axes[0] >= 1 && axes.every((a, i) => a === axes[0] + i) && axes[axes.length - 1] === x.rank - 1 && staticDims(x.shape, axes[0], x.rank) !== null;
};

/** reduce(x) over a leading block of axes 0..k−1 (k < r − 1, the rest static): over axis 0 of x reshaped [n, m]. */
function mergedLeading(x: Ref, root: Ref): Ref | null {
  const k = axesOf(root).length;
  const m = staticDims(x.shape, k, x.rank)!.reduce((p, d) => p * d, 1);
  const flat = reshapeTo(x, [x.shape.slice(0, k).every((d) => d !== null) ? x.shape.slice(0, k).reduce<number>((p, d) => p * d!, 1) : null, m]);
  return flat && reshapeTo(E.op(root.op, [flat], { axes: [0], keepDims: false }), root.shape);
}
const isLeadingBlock = (x: Ref, root: Ref) => {
  const axes = axesOf(root);
  return axes.length >= 1 && axes.every((a, i) => a === i) && axes.length < x.rank - 1 && staticDims(x.shape, axes.length, x.rank) !== null && x.shape.slice(0, axes.length).filter((d) => d === null).length <= 1;
};

/**
 * How `to` merges runs of adjacent dims of `from`: for each dim of `to`, the dims of `from` it
 * holds; null when the reshape does more than merge (splits, or merges a dim unknown until run time).
 * @example mergedRuns([2, 3, 4], [2, 12]) // [[0], [1, 2]]
 */
function mergedRuns(from: readonly (number | null)[], to: readonly (number | null)[]): number[][] | null {
  if (!to.length) return null;
  const runs: number[][] = [];
  let i = 0;
  for (const t of to) {
    const run: number[] = [];
    if (t === null) {
      if (from[i] !== null) return null;
      run.push(i++);
    } else {
      let n = 1;
      do {
        const d = from[i];
        if (d === null || d === undefined) return null;
        n *= d;
        run.push(i++);
      } while (n < t);
      if (n !== t) return null;
    }
    runs.push(run);
  }
  while (i < from.length) {
    if (from[i] !== 1) return null;
    runs[runs.length - 1].push(i++); // trailing 1s join the last run
  }
  return runs;
}

/**
 * reshape(f(a, b, …)) for an elementwise f whose result only this reshape reads, the reshape
 * merging runs of adjacent dims: f(reshape(a), reshape(b), …), each operand merged the same way —
 * a run it broadcasts along becomes one 1. Null when an operand is full along part of a run and
 * broadcast along the rest. Reshapes are views, so this costs nothing, and the reduction or the
 * kernel reading the reshape can then fuse with f.
 */
function reshapedThrough(f: Ref, root: Ref): Ref | null {
  const runs = mergedRuns(f.shape, root.shape);
  if (!runs) return null;
  const operands: Ref[] = [];
  for (let k = 0; k < f.node.inputs.length; k++) {
    const x = f.input(k);
    if (x.rank === 0) {
      operands.push(x); // a scalar broadcasts as it is
      continue;
    }
    const xs = padded(x.shape, f.rank);
    const shape: (number | null)[] = [];
    for (const [j, run] of runs.entries()) {
      const wide = run.filter((a) => f.shape[a] !== 1); // where f is 1, so is every operand
      if (wide.length <= 1) shape.push(wide.length ? xs[wide[0]] : 1); // nothing merges: the operand's own dim
      else if (wide.every((a) => xs[a] === 1)) shape.push(1);
      else if (wide.every((a) => xs[a] === f.shape[a])) shape.push(root.shape[j]);
      else return null;
    }
    const y = reshapeTo(x, shape);
    if (!y) return null;
    operands.push(y);
  }
  return E.op(f.op, operands, f.attrs);
}
/** f(a), f(a, b) or f(a, b, c), the operands bound (so the rewrite knows it keeps them). */
const elementwiseOperands = alt(v('f', op('*', [v('a')])), v('f', op('*', [v('a'), v('b')])), v('f', op('*', [v('a'), v('b'), v('c')])));
const elementwiseAll = (f: Ref) => hasOp(f.op) && getOp(f.op).kind === 'elementwise' && getOp(f.op).traits.elementwise && getOp(f.op).traits.dataInputs === 'all';

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
  rule('reshape-elementwise', P.reshape(elementwiseOperands), ({ f }, root) => reshapedThrough(f, root), ({ f }) => elementwiseAll(f) && f.work.useCount(f.id) === 1), // reshape(f(a, b)) → f(reshape(a), reshape(b)), f elementwise, the reshape merging dims: the reader fuses with f
  rule('reduce-ones', foldable(), ({ x }, root) => reshapeTo(x, root.shape), ({ x }, root) => axesOf(root).length > 0 && axesOf(root).length < x.rank && axesOf(root).every((a) => x.shape[a] === 1)), // reduce over some axes of size 1 → x reshaped: each result is one element
  rule('reduce-trailing', foldable(), ({ x }, root) => mergedTrailing(x, root), ({ x }, root) => isTrailingBlock(x, root)), // reduce over axes k..r−1 → reduce over the last axis of x reshaped [..., n]
  rule('reduce-leading', foldable(), ({ x }, root) => mergedLeading(x, root), ({ x }, root) => isLeadingBlock(x, root)), // reduce over axes 0..k−1 → reduce over axis 0 of x reshaped [n, m]
  rule('sum-scalar-broadcast-like', P.sum(P.broadcastLike(v('x'), v('r'))), ({ x, r }) => E.mul(x, E.shapeSize(r, [...r.shape.keys()], x.dtype)), ({ x, r }, root) => x.rank === 0 && axesOf(root).length === r.rank && x.dtype !== 'bool'), // Σ broadcastLike(s, r) → s·size(r), s scalar
];
