/**
 * Batching rules for `vmap`, and the helpers they share. A rule gets the op's inputs, each with
 * the axis its batch runs along (null: the same value for every example), and returns the op
 * applied to the whole batch as graph — never a loop over the examples. Most rules move the batch
 * axis to the front and re-apply the op with its axis attributes shifted by one.
 */
import * as api from '../api';
import { BatchError } from '../errors';
import type { Sym } from '../graph';
import type { Attrs, Node } from '../ir';
import { derived, type BatchArgs, type BatchRule } from '../registry';
import { isStatic } from '../shape';
import { Tensor } from '../tensor';

type Batched = { readonly out: Sym; readonly axis: number };

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
/** expandDims and sum that make no node for an empty axis list. */
const expandAt = (x: Sym, axes: readonly number[]): Sym => (axes.length ? api.expandDims(x, axes) : x);
const sumOver = (x: Sym, axes: readonly number[]): Sym => (axes.length ? api.sum(x, axes) : x);

/** The op of `node` applied again, to new inputs, with (a change of) its normalized attributes. */
export function reapply(node: Node, inputs: readonly Sym[], attrs: Attrs = node.attrs): Sym {
  return inputs[0].graph.apply(node.op, inputs, attrs);
}

/**
 * `x` with its axis `from` moved to position `to`, the others keeping their order (a transpose;
 * nothing when `from === to`).
 * @example moveAxis(x, 2, 0) // [a, b, B] → [B, a, b]
 */
export function moveAxis(x: Sym, from: number, to: number): Sym {
  if (from === to) return x;
  const perm = range(0, x.rank).filter((i) => i !== from);
  perm.splice(to, 0, from);
  return api.transpose(x, perm);
}

/** A batched value with its batch axis first. */
export const toFront = (x: Sym, axis: number): Sym => moveAxis(x, axis, 0);

/**
 * A value batched along axis 0 with its per-example rank raised to `rank` by size-1 axes right
 * after the batch axis — the ones NumPy broadcasting would put in front of an example.
 * @example padRank(x, 3) // [B, 4] → [B, 1, 1, 4]
 */
export function padRank(x: Sym, rank: number): Sym {
  const missing = rank - (x.rank - 1);
  return missing > 0 ? api.expandDims(x, range(1, 1 + missing)) : x;
}

/**
 * A symbol of shape `[B, 1, …, 1]` (rank `rank`) whose first dim is the batch of `ref` (batched
 * along `axis`). It only lends its shape, to `broadcastLike` and friends.
 */
export function batchShapeRef(ref: Sym, axis: number, rank: number): Sym {
  const one = api.sliceRange(ref, ref.shape.map(() => 0), ref.shape.map((_d, i) => (i === axis ? null : 1)));
  return api.reshape(one, [-1, ...range(1, rank).map(() => 1)]);
}

/**
 * An unbatched value given a batch axis in front: `[B, ...x.shape]`, every example the same.
 * `ref` (batched along `refAxis`) supplies B when `size` is unknown until run time.
 */
export function broadcastBatch(x: Sym, size: number | null, ref: Sym, refAxis: number): Sym {
  const e = api.expandDims(x, 0);
  if (size !== null && isStatic(x.shape)) return api.broadcastTo(e, [size, ...x.shape]);
  return api.broadcastLike(e, batchShapeRef(ref, refAxis, x.rank + 1));
}

/** Every input batched along axis 0: batched ones moved there, unbatched ones broadcast. */
export function allToFront({ inputs, axes, size }: Pick<BatchArgs<unknown>, 'inputs' | 'axes' | 'size'>): Sym[] {
  const k = axes.findIndex((a) => a !== null);
  return inputs.map((x, i) => (axes[i] === null ? broadcastBatch(x, size, inputs[k], axes[k]!) : toFront(x, axes[i]!)));
}

/** A per-example axis `a` of a value batched along `b`, as an axis of the batched value. */
export const shiftAxis = (a: number, b: number): number => (a < b ? a : a + 1);

/**
 * Elementwise ops with NumPy broadcasting (and anything shaped like them: `where`, `cast`,
 * `broadcastLike`). When every input is batched along the same axis with its full rank, the op
 * applies as it is; otherwise batched inputs move their batch axis to the front and get the
 * example's leading 1s made explicit, so unbatched inputs broadcast against the examples from the
 * right as they would in one example.
 */
export const elementwiseBatch: BatchRule<Attrs> = derived(({ inputs, axes, node }: BatchArgs<Attrs>): Batched => {
  const rank = node.type.shape.length; // the example's output rank
  const first = axes.find((a) => a !== null)!;
  const direct = inputs.every((x, i) => (axes[i] === null ? x.rank <= rank - first : axes[i] === first && x.rank === rank + 1));
  if (direct) return { out: reapply(node, inputs), axis: first };
  const aligned = inputs.map((x, i) => (axes[i] === null ? x : padRank(toFront(x, axes[i]!), rank)));
  return { out: reapply(node, aligned), axis: 0 };
}, 'elementwise');

/** Reductions over `attrs.axes` with `keepDims`: the axes shift past the batch axis, which stays. */
export const reduceBatch: BatchRule<{ axes: readonly number[]; keepDims: boolean }> = ({ inputs: [x], axes: [b], attrs, node }) => {
  const axes = attrs.axes.map((a) => shiftAxis(a, b!));
  const before = attrs.axes.filter((a) => a < b!).length;
  return { out: reapply(node, [x], { ...attrs, axes }), axis: attrs.keepDims ? b! : b! - before };
};

/** Ops along one `attrs.axis` that keep the shape (softmax, logSoftmax). */
export const axisBatch: BatchRule<{ axis: number }> = ({ inputs: [x], axes: [b], attrs, node }) => ({
  out: reapply(node, [x], { ...attrs, axis: shiftAxis(attrs.axis, b!) }),
  axis: b!,
});

/** Ops that reduce one `attrs.axis` with `keepDims` (argmax, argmin). */
export const argBatch: BatchRule<{ axis: number; keepDims: boolean }> = ({ inputs: [x], axes: [b], attrs, node }) => ({
  out: reapply(node, [x], { ...attrs, axis: shiftAxis(attrs.axis, b!) }),
  axis: attrs.keepDims || attrs.axis >= b! ? b! : b! - 1,
});

/** A unary op with a per-axis attribute list (one entry per example axis): the batch axis first, `front` prepended. */
export function perAxisBatch<A extends Attrs>(update: (attrs: A) => Attrs): BatchRule<A> {
  return ({ inputs: [x], axes: [b], attrs, node }) => ({ out: reapply(node, [toFront(x, b!)], update(attrs)), axis: 0 });
}

/** Sources (input, param, constant) have no inputs, so vmap never batches them: reaching this is a bug. */
export const sourceBatch: BatchRule<Attrs> = ({ node }) => {
  throw new BatchError('a source has no inputs to batch', { op: node.op, origin: node.origin });
};

/**
 * An int32 constant `[B, 1, …, 1]` (rank `rank`) holding b·n for example b: added to per-example
 * indices into an axis of n, it makes them indices into the B·n of all examples side by side.
 */
function exampleOffsets(g: Sym['graph'], size: number, n: number, rank: number): Sym {
  const t = new Tensor('int32', [size, ...range(1, rank).map(() => 1)]);
  for (let b = 0; b < size; b++) t.data[b] = b * n;
  return g.constant(t);
}

/**
 * gather(x, idx, axis) with both batched along axis 0 (x: [B, ...pre, n, ...post], idx: [B, ...j]).
 * With static shapes the examples sit side by side along the gathered axis, the indices shifted
 * by b·n: one gather. Otherwise out[b] = Σₖ [idx[b] = k]·x[b, …, k, …] with a one-hot mask.
 */
function gatherBothBatched(x: Sym, idx: Sym, axis: number, size: number | null): Batched {
  const g = x.graph;
  const pre = x.shape.slice(1, 1 + axis);
  const n = x.shape[1 + axis];
  const post = x.shape.slice(2 + axis);
  const ri = idx.rank - 1;
  if (n === null) throw new BatchError(`vmap: gather from an axis of unknown size with per-example indices`, { op: 'gather', shapes: [x.shape, idx.shape] });
  if (size !== null && isStatic(pre) && isStatic(post)) {
    const side = api.reshape(moveAxis(x, 0, axis), [...pre, size * n, ...post]); // [...pre, B·n, ...post]
    const shifted = api.add(idx, exampleOffsets(g, size, n, idx.rank));
    return { out: api.gather(side, shifted, axis), axis }; // [...pre, B, ...j, ...post]
  }
  const classes = g.constant(Tensor.from(range(0, n), 'int32'));
  const hit = api.equal(api.expandDims(idx, -1), classes); // [B, ...j, n]
  const mask = expandAt(expandAt(hit, range(1, 1 + pre.length)), range(2 + pre.length + ri, 2 + pre.length + ri + post.length)); // [B, 1…, ...j, n, 1…]
  const xs = expandAt(x, range(1 + pre.length, 1 + pre.length + ri)); // [B, ...pre, 1…, n, ...post]
  const picked = api.where(mask, xs, 0);
  return { out: api.sum(picked, [1 + pre.length + ri]), axis: 0 };
}

export const gatherBatch: BatchRule<{ axis: number }> = ({ inputs: [x, idx], axes: [bx, bi], attrs, node, size }) => {
  if (bi === null) return { out: reapply(node, [toFront(x, bx!), idx], { axis: attrs.axis + 1 }), axis: 0 };
  // the same x for every example: the batch axis of idx lands where the gathered axis was
  if (bx === null) return { out: reapply(node, [x, idx]), axis: attrs.axis + bi };
  return gatherBothBatched(toFront(x, bx), toFront(idx, bi), attrs.axis, size);
};

/**
 * scatterAdd(u, idx, ref, axis) with per-example indices: the adjoint of `gatherBothBatched`,
 * side by side (static shapes) or through a one-hot mask summed over the index axes.
 */
function scatterBothBatched(u: Sym, idx: Sym, ref: Sym, axis: number, size: number | null): Batched {
  const g = u.graph;
  const pre = ref.shape.slice(1, 1 + axis);
  const n = ref.shape[1 + axis];
  const post = ref.shape.slice(2 + axis);
  const ri = idx.rank - 1;
  if (n === null) throw new BatchError(`vmap: scatterAdd into an axis of unknown size with per-example indices`, { op: 'scatterAdd', shapes: [u.shape, idx.shape, ref.shape] });
  if (size !== null && isStatic(pre) && isStatic(post)) {
    const shifted = api.add(idx, exampleOffsets(g, size, n, idx.rank));
    const sideRef = api.broadcastTo(g.constant(0, u.dtype), [...pre, size * n, ...post]);
    const side = api.scatterAdd(moveAxis(u, 0, axis), shifted, sideRef, axis); // [...pre, B·n, ...post]
    return { out: api.reshape(side, [...pre, size, n, ...post]), axis };
  }
  const classes = g.constant(Tensor.from(range(0, n), 'int32'));
  const hit = api.equal(api.expandDims(idx, -1), classes); // [B, ...j, n]
  const mask = expandAt(expandAt(hit, range(1, 1 + pre.length)), range(2 + pre.length + ri, 2 + pre.length + ri + post.length)); // [B, 1…, ...j, n, 1…]
  const us = api.expandDims(u, [1 + pre.length + ri]); // [B, ...pre, ...j, 1, ...post]
  const spread = api.where(mask, us, 0); // [B, ...pre, ...j, n, ...post]
  return { out: sumOver(spread, range(1 + pre.length, 1 + pre.length + ri)), axis: 0 };
}

export const scatterAddBatch: BatchRule<{ axis: number }> = ({ inputs, axes, attrs, node, size }) => {
  const [u, idx, ref] = inputs;
  const [bu, bi, br] = axes;
  const k = axes.findIndex((a) => a !== null);
  const front = (x: Sym, a: number | null) => (a === null ? broadcastBatch(x, size, inputs[k], axes[k]!) : toFront(x, a));
  if (bi === null) return { out: reapply(node, [front(u, bu), idx, front(ref, br)], { axis: attrs.axis + 1 }), axis: 0 };
  return scatterBothBatched(front(u, bu), toFront(idx, bi), front(ref, br), attrs.axis, size);
};

/**
 * Batched matrix products. A batched A times an unbatched matrix B folds the examples into A's
 * rows (one [B·m, k]·[k, n] product, the fast kernel); otherwise the batch becomes a leading
 * batch dim of the product, with the examples' batch dims aligned from the right.
 */
export const matmulBatch: BatchRule<{ transposeA: boolean; transposeB: boolean }> = ({ inputs: [a, b], axes: [ba, bb], attrs, node }) => {
  if (bb === null) {
    const a1 = toFront(a, ba!);
    const [m, k] = [a1.shape[a1.rank - 2], a1.shape[a1.rank - 1]];
    const n = node.type.shape[node.type.shape.length - 1];
    if (!attrs.transposeA && a1.rank === 3 && b.rank === 2 && m !== null && k !== null && n !== null) {
      const rows = reapply(node, [api.reshape(a1, [-1, k]), b]); // [B·m, n]
      return { out: api.reshape(rows, [-1, m, n]), axis: 0 };
    }
    return { out: reapply(node, [padRank(a1, b.rank), b]), axis: 0 };
  }
  if (ba === null) return { out: reapply(node, [a, padRank(toFront(b, bb), a.rank)]), axis: 0 };
  const rank = Math.max(a.rank, b.rank) - 1;
  return { out: reapply(node, [padRank(toFront(a, ba), rank), padRank(toFront(b, bb), rank)]), axis: 0 };
};

/**
 * reshape to `attrs.shape`: the batch in front and the target shape after it. With the batch
 * size unknown, a −1 in the target is resolved from the example's output shape.
 */
export const reshapeBatch: BatchRule<{ shape: readonly number[] }> = ({ inputs: [x], axes: [b], attrs, node, size }) => {
  const x1 = toFront(x, b!);
  const out = node.type.shape;
  let shape: number[];
  if (size !== null) shape = [size, ...attrs.shape];
  else if (!attrs.shape.includes(-1)) shape = [-1, ...attrs.shape];
  else if (isStatic(out)) shape = [-1, ...out];
  else throw new BatchError(`vmap: reshape to ${JSON.stringify(attrs.shape)} needs the batch size or the example's size known when the graph is built`, { op: 'reshape', shapes: [x.shape], origin: node.origin });
  return { out: api.reshape(x1, shape), axis: 0 };
};

/** broadcastTo(x, shape): the batch in front, then broadcast to [B, ...shape]. */
export const broadcastToBatch: BatchRule<{ shape: readonly number[] }> = ({ inputs: [x], axes: [b], attrs, size }) => {
  const x1 = padRank(toFront(x, b!), attrs.shape.length);
  if (size !== null) return { out: api.broadcastTo(x1, [size, ...attrs.shape]), axis: 0 };
  const shapeRef = api.broadcastTo(x.graph.constant(0, x.dtype), [1, ...attrs.shape]); // lends [1, ...shape]
  return { out: api.broadcastLike(x1, shapeRef), axis: 0 };
};

/** sumLike(x, ref): x summed down to ref's shape, example by example. */
export const sumLikeBatch: BatchRule<Attrs> = (args) => {
  const [x, ref] = allToFront(args);
  const missing = x.rank - ref.rank; // ref's implicit leading 1s, made explicit after the batch
  const refs = padRank(ref, x.rank - 1);
  const out = args.inputs[0].graph.apply('sumLike', [x, refs]);
  return { out: missing > 0 ? api.squeeze(out, range(1, 1 + missing)) : out, axis: 0 };
};

/** Ops whose inputs must all carry the batch in front (reshapeLike, softmaxCrossEntropy); `attrs` adjusts axis attributes. */
export function frontBatch<A extends Attrs>(update: (attrs: A) => Attrs = (a) => a): BatchRule<A> {
  return (args) => ({ out: reapply(args.node, allToFront(args), update(args.attrs)), axis: 0 });
}

/** concat along `axis`: every input batched in front (the unbatched ones broadcast), axis + 1. */
export const concatBatch: BatchRule<{ axis: number }> = frontBatch((a) => ({ axis: a.axis + 1 }));

/** shapeSize(x, axes) is the same for every example: computed once, then given a batch axis. */
export const shapeSizeBatch: BatchRule<{ axes: readonly number[]; dtype: string }> = ({ inputs: [x], axes: [b], attrs, node, size }) => {
  const count = reapply(node, [x], { ...attrs, axes: attrs.axes.map((a) => shiftAxis(a, b!)) });
  return { out: broadcastBatch(count, size, x, b!), axis: 0 };
};

/**
 * Random ops shaped like a batched input draw for every example at once — each example its own
 * numbers, as a batched graph would — under a fresh key. (Static-shaped random nodes have no
 * input, are not batched, and are shared by every example.)
 */
export const randomBatch: BatchRule<{ key: string }> = ({ inputs: [ref], axes: [b], attrs, node }) => {
  const g = ref.graph;
  return { out: g.apply(node.op, [ref], { ...attrs, key: g.randomKey(`${attrs.key}.vmap`) }), axis: b! };
};
