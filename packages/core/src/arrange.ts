/**
 * Rearranging elements: flip, roll, tile, the triangles tril/triu, stack and split. Only `flip` is
 * a primitive (ops/flip.ts); the rest are slices, concatenations, broadcasts and masks of the
 * existing primitives, exact and about as fast, so their gradients come from those.
 */
import * as api from './api';
import { promote } from './dtype';
import { GraphError, ShapeError } from './errors';
import type { Sym } from './graph';
import { axesOf, axisOf, requireSym } from './checks';
import { cumsum } from './math';
import { captureOrigin } from './origin';
import { fmtShape, isStatic, normAxis } from './shape';
import { Tensor } from './tensor';

/**
 * The elements in reverse order along `axes` (all by default), NumPy's `flip`.
 * @example flip(x, 0) // [[1, 2], [3, 4]] → [[3, 4], [1, 2]]
 */
export function flip(x: Sym, axes?: number | readonly number[]): Sym {
  requireSym('flip', x);
  return x.graph.apply('flip', [x], { axes: axesOf('flip', x, axes) });
}

/**
 * NumPy's `roll`: elements shifted by `shifts` along `axes`, those pushed off one end coming back
 * at the other. Without `axes`, the flattened tensor is rolled and reshaped back. A slice and a
 * concat per axis; the rolled axes must have known sizes.
 * @example roll(x, 1, 0)           // [1, 2, 3] → [3, 1, 2]
 * @example roll(x, [1, -1], [0, 1])
 */
export function roll(x: Sym, shifts: number | readonly number[], axes?: number | readonly number[]): Sym {
  const op = 'roll';
  requireSym(op, x);
  const shiftList = typeof shifts === 'number' ? [shifts] : shifts;
  if (!Array.isArray(shiftList) || !shiftList.every((s) => Number.isInteger(s))) throw new GraphError(`shifts must be an integer or an array of integers, got ${JSON.stringify(shifts)}`, { op, origin: captureOrigin() });
  if (axes === undefined) {
    if (shiftList.length !== 1) throw new GraphError(`without axes, shifts must be one integer (the flattened tensor is rolled), got ${JSON.stringify(shifts)}`, { op, origin: captureOrigin() });
    if (!isStatic(x.shape)) throw new ShapeError(`rolling the flattened tensor needs a known shape, got ${fmtShape(x.shape)}; give axes`, { op, shapes: [x.shape], origin: captureOrigin() });
    return api.reshape(roll(api.reshape(x, [-1]), shiftList[0], 0), x.shape);
  }
  const axisList = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(axisList) || axisList.length !== shiftList.length) {
    throw new GraphError(`shifts and axes must have the same length, got ${JSON.stringify(shifts)} and ${JSON.stringify(axes)}`, { op, origin: captureOrigin() });
  }
  // the shift of each axis, summed over repeats (NumPy), taken modulo its size
  const total = new Map<number, number>();
  axisList.forEach((a, i) => {
    const ax = axisOf(op, x, a);
    total.set(ax, (total.get(ax) ?? 0) + shiftList[i]);
  });
  let out = x;
  for (const [ax, s] of total) {
    const n = x.shape[ax];
    if (n === null) throw new ShapeError(`axis ${ax} of ${fmtShape(x.shape)} has a size known only at run time; roll needs it`, { op, shapes: [x.shape], origin: captureOrigin() });
    const k = n === 0 ? 0 : ((s % n) + n) % n;
    if (k === 0) continue;
    // roll by k: the last k elements, then the first n − k
    const cut = (from: number, to: number) => api.sliceRange(out, out.shape.map((_, i) => (i === ax ? from : 0)), out.shape.map((_, i) => (i === ax ? to : null)));
    out = api.concat([cut(n - k, n), cut(0, n - k)], ax);
  }
  return out;
}

/**
 * NumPy's `tile`: `x` repeated `reps[i]` times along axis i. Shorter `reps` are padded with 1s in
 * front; a lower-rank `x` gains leading axes of 1. Built as a broadcast between interleaved
 * axes — [d₀, d₁] → [1, d₀, 1, d₁] → [r₀, d₀, r₁, d₁] → [r₀d₀, r₁d₁] — so its gradient sums the
 * copies. Needs known sizes.
 * @example tile(x, [2, 1]) // [[1, 2]] → [[1, 2], [1, 2]]
 */
export function tile(x: Sym, reps: number | readonly number[]): Sym {
  const op = 'tile';
  requireSym(op, x);
  const list = typeof reps === 'number' ? [reps] : reps;
  if (!Array.isArray(list) || !list.every((r) => Number.isInteger(r) && r >= 0)) throw new GraphError(`reps must be a non-negative integer or an array of them, got ${JSON.stringify(reps)}`, { op, origin: captureOrigin() });
  if (!isStatic(x.shape)) throw new ShapeError(`needs a known shape, got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  const rank = Math.max(x.rank, list.length);
  const dims = [...Array(rank - x.rank).fill(1), ...x.shape] as number[];
  const r = [...Array(rank - list.length).fill(1), ...list] as number[];
  if (r.every((v) => v === 1)) return dims.length === x.rank ? x : api.reshape(x, dims);
  const interleaved = dims.flatMap((d) => [1, d]);
  const spread = api.broadcastTo(api.reshape(x, interleaved), dims.flatMap((d, i) => [r[i], d]));
  return api.reshape(spread, dims.map((d, i) => d * r[i]));
}

/**
 * A bool mask over the last two axes of `x`, true where `col − row` satisfies `keep`: a constant
 * when those sizes are known, else made at run time from row and column indices (exclusive
 * cumulative sums of ones).
 */
function triangleMask(x: Sym, keep: (colMinusRow: number) => boolean, keepSym: (colMinusRow: Sym) => Sym): Sym {
  const [m, n] = x.shape.slice(-2);
  if (m !== null && n !== null) {
    const t = new Tensor('bool', [m, n]);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t.data[i * n + j] = keep(j - i) ? 1 : 0;
    return x.graph.constant(t);
  }
  // row and column indices: exclusive cumulative sums of ones along each of the two axes
  const ones = api.onesLike(x, 'int32');
  const row = cumsum(ones, -2, { exclusive: true });
  const col = cumsum(ones, -1, { exclusive: true });
  return keepSym(api.sub(col, row));
}

function triangle(op: string, x: Sym, k: number, lower: boolean): Sym {
  requireSym(op, x);
  if (!Number.isInteger(k)) throw new GraphError(`k must be an integer, got ${JSON.stringify(k)}`, { op, origin: captureOrigin() });
  if (x.rank < 2) throw new ShapeError(`needs a matrix (rank ≥ 2), got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  const mask = lower ? triangleMask(x, (d) => d <= k, (d) => api.lessEqual(d, k)) : triangleMask(x, (d) => d >= k, (d) => api.greaterEqual(d, k));
  return api.where(mask, x, x.graph.constant(0, x.dtype));
}

/**
 * The lower triangle of the last two axes of `x`: elements with col − row ≤ k kept, the rest 0
 * (k = 0 the main diagonal, k > 0 above it, k < 0 below).
 * @example tril(x, -1) // strictly below the diagonal
 */
export const tril = (x: Sym, k = 0): Sym => triangle('tril', x, k, true);

/** The upper triangle of the last two axes of `x`: elements with col − row ≥ k kept, the rest 0. */
export const triu = (x: Sym, k = 0): Sym => triangle('triu', x, k, false);

/**
 * Joins tensors of one shape along a new axis at `axis` (0 by default; −1 is last).
 * @example stack([a, b])     // two [3] → [2, 3]
 * @example stack([a, b], -1) // two [3] → [3, 2]
 */
export function stack(xs: readonly Sym[], axis = 0): Sym {
  const op = 'stack';
  if (!Array.isArray(xs) || xs.length === 0) throw new GraphError('needs a non-empty array of symbols', { op, origin: captureOrigin() });
  xs.forEach((x, i) => requireSym(op, x, `operand ${i}`));
  const first = xs[0];
  for (const x of xs) {
    const same = x.rank === first.rank && x.shape.every((d: number | null, i: number) => d === null || first.shape[i] === null || d === first.shape[i]);
    if (!same) throw new ShapeError(`operands must have one shape, got ${xs.map((s) => fmtShape(s.shape)).join(', ')}`, { op, shapes: xs.map((s) => s.shape), origin: captureOrigin() });
  }
  const ax = normAxis(axis, first.rank + 1);
  if (ax < 0) throw new ShapeError(`axis ${axis} is out of range for stacking rank-${first.rank} operands (−${first.rank + 1} … ${first.rank})`, { op, shapes: [first.shape], origin: captureOrigin() });
  const dtype = xs.map((x) => x.dtype).reduce(promote);
  return api.concat(xs.map((x) => api.expandDims(api.cast(x, dtype), ax)), ax);
}

/**
 * Splits `x` along `axis` (0 by default): into `n` equal parts for a number, or into parts of the
 * given sizes (one may be −1: the rest). Each part is a slice.
 * @example split(x, 3)          // [6, 2] → three [2, 2]
 * @example split(x, [1, -1], 1) // [4, 5] → [4, 1] and [4, 4]
 */
export function split(x: Sym, sizesOrCount: number | readonly number[], axis = 0): Sym[] {
  const op = 'split';
  requireSym(op, x);
  const ax = axisOf(op, x, axis);
  const n = x.shape[ax];
  let sizes: (number | null)[];
  if (typeof sizesOrCount === 'number') {
    const count = sizesOrCount;
    if (!Number.isInteger(count) || count <= 0) throw new GraphError(`the number of parts must be a positive integer, got ${count}`, { op, origin: captureOrigin() });
    if (n === null) throw new ShapeError(`axis ${ax} of ${fmtShape(x.shape)} has a size known only at run time; split it by sizes`, { op, shapes: [x.shape], origin: captureOrigin() });
    if (n % count !== 0) throw new ShapeError(`axis ${ax} of ${fmtShape(x.shape)} has size ${n}, which does not split into ${count} equal parts`, { op, shapes: [x.shape], origin: captureOrigin() });
    sizes = Array(count).fill(n / count);
  } else {
    if (!Array.isArray(sizesOrCount) || !sizesOrCount.length || !sizesOrCount.every((s) => Number.isInteger(s) && s >= -1)) {
      throw new GraphError(`sizes must be a non-empty array of non-negative integers (one may be −1), got ${JSON.stringify(sizesOrCount)}`, { op, origin: captureOrigin() });
    }
    const holes = sizesOrCount.filter((s) => s === -1).length;
    const known = sizesOrCount.filter((s) => s !== -1).reduce((p, s) => p + s, 0);
    if (holes > 1) throw new GraphError(`at most one size may be −1, got ${JSON.stringify(sizesOrCount)}`, { op, origin: captureOrigin() });
    if (n !== null && (holes ? known > n : known !== n)) {
      throw new ShapeError(`sizes ${JSON.stringify(sizesOrCount)} do not add up to ${n}, the size of axis ${ax} of ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
    }
    if (n === null && sizesOrCount[sizesOrCount.length - 1] !== -1) {
      throw new ShapeError(`axis ${ax} of ${fmtShape(x.shape)} has a size known only at run time; make the last size −1 (the rest)`, { op, shapes: [x.shape], origin: captureOrigin() });
    }
    sizes = sizesOrCount.map((s) => (s === -1 ? (n === null ? null : n - known) : s));
  }
  // part k runs from the sum of the sizes before it; a last part of unknown size runs to the end
  const parts: Sym[] = [];
  let from = 0;
  for (const s of sizes) {
    const begin = x.shape.map((_, d) => (d === ax ? from : 0));
    parts.push(api.sliceRange(x, begin, x.shape.map((_, d) => (d === ax && s !== null ? from + s : null))));
    from += s ?? 0;
  }
  return parts;
}
