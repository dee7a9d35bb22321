/**
 * Scans and products: the first-order linear recurrence h_i = a_i·h_{i−1} + b_i along an axis,
 * which `cumsum` (a = 1) and `cumprod` (b = x at the start, 0 after) are built on, and the `prod`
 * reduction.
 *
 * Why one recurrence primitive instead of cumsum and cumprod primitives: the adjoint of the
 * recurrence is the same recurrence run the other way, and its JVP is the recurrence again, so
 * every derivative is polynomial in x — no division by x. cumprod's usual gradient
 * revcumsum(dy·y)/x is 0/0 wherever x has a zero; built on the recurrence, cumprod and prod are
 * differentiated exactly at zeros, to any order, in O(n).
 */
import * as api from '../api';
import type { Sym } from '../graph';
import type { Attrs } from '../ir';
import * as math from '../math';
import { fail, traits, type OpDef } from '../registry';
import { sizeOf, type Shape } from '../shape';
import { Tensor } from '../tensor';
import { addTangents, alignBatched, reapply, shiftAlong, shiftAxis } from './rules';
import { broadcastKernel } from './shape';
import { broadcastOrFail, normAxes, normOneAxis, reduceKernel, reducedShape, requireNumeric, requireSameDtype } from './util';

export interface RecurrenceAttrs extends Attrs {
  /** The axis of the output the recurrence runs along. */
  readonly axis: number;
  /** Run from the last element to the first: h_i = a_i·h_{i+1} + b_i. */
  readonly reverse: boolean;
}

/**
 * `x` moved one step along `axis` (an axis of the output; `x` may lack it or have it as 1, and is
 * then constant along it), the vacated end filled with 0: `dir = +1` gives out_k = x_{k−1}, `−1`
 * gives out_k = x_{k+1}. A value constant along the axis is returned as it is, which is right
 * wherever the result is read (the vacated end never is).
 */
function shiftCoefficient(x: Sym, axis: number, outRank: number, dir: 1 | -1): Sym {
  const ax = axis - (outRank - x.rank);
  if (ax < 0 || x.shape[ax] === 1) return x;
  return shiftAlong(x, ax, dir);
}

export const linearRecurrenceOp: OpDef<RecurrenceAttrs> = {
  name: 'linearRecurrence',
  arity: 2,
  kind: 'other',
  traits: traits({ finiteIfInputsFinite: null }),
  doc: 'h_i = a_i·h_{i−1} + b_i along an axis (h at the start = b there; reverse runs from the end); a and b broadcast. cumsum is a = 1, cumprod b = x at the start and 0 after',
  attrs: (raw, ts) => {
    const rank = Math.max(...ts.map((t) => t.shape.length));
    if (rank === 0) fail('needs an axis to run along; both operands are scalars');
    return { axis: normOneAxis(raw.axis ?? -1, rank), reverse: !!raw.reverse };
  },
  infer: (ts) => {
    const dtype = requireSameDtype(ts);
    requireNumeric(ts[0]);
    return { dtype, shape: broadcastOrFail(ts.map((t) => t.shape)) };
  },
  kernel: ([a, b], { axis, reverse }, ctx) => {
    const shape: Shape = ctx.out.shape;
    const A = broadcastKernel(a, shape, 'float64').data;
    const B = broadcastKernel(b, shape, 'float64').data;
    const out = new Tensor(ctx.out.dtype, shape);
    const n = shape[axis];
    const inner = sizeOf(shape.slice(axis + 1));
    const outer = sizeOf(shape.slice(0, axis));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let h = 0;
        for (let s = 0; s < n; s++) {
          const k = reverse ? n - 1 - s : s;
          const at = (o * n + k) * inner + i;
          h = s === 0 ? B[at] : A[at] * h + B[at];
          out.data[at] = h;
        }
      }
    }
    return out;
  },
  // Forward: λ_k = dy_k + a_{k+1}·λ_{k+1} is the recurrence run backwards over dy with a moved one
  // step back; then d b_k = λ_k and d a_k = λ_k·h_{k−1} (0 at the start, where a is not read).
  // Reverse: the same with the directions swapped.
  vjp: ({ dy, inputs: [a], output: h, attrs: { axis, reverse }, needsGrad }) => {
    const rank = h.rank;
    const lambda = math.linearRecurrence(shiftCoefficient(a, axis, rank, reverse ? 1 : -1), dy, { axis, reverse: !reverse });
    return [needsGrad[0] ? api.mul(lambda, shiftAlong(h, axis, reverse ? -1 : 1)) : null, needsGrad[1] ? lambda : null];
  },
  // ḣ_i = ȧ_i·h_{i−1} + a_i·ḣ_{i−1} + ḃ_i: the same recurrence over ȧ·h_{i−1} + ḃ
  jvp: ({ tangents: [ta, tb], inputs: [a], output: h, attrs: { axis, reverse } }) => {
    const drive = addTangents(ta ? api.mul(ta, shiftAlong(h, axis, reverse ? -1 : 1)) : null, tb);
    return drive ? math.linearRecurrence(a, drive, { axis, reverse }) : null;
  },
  batch: ({ inputs, axes, attrs, node }) => ({
    out: reapply(node, alignBatched(inputs, axes, node.type.shape.length), { ...attrs, axis: attrs.axis + 1 }),
    axis: 0,
  }),
  flops: (_i, out) => 2 * sizeOf(out.shape),
};

// ---- prod ----------------------------------------------------------------------------------

export interface ProdAttrs extends Attrs {
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}

/**
 * For each element, the product of the other elements of its cell (the elements `axes` reduce
 * together): Π_{j≠i} x_j. One axis: the exclusive products from both ends, multiplied. More axes:
 * the others along the first axis times the others of the cell's product along it, recursively.
 * No division, so zeros are exact.
 */
function othersProduct(x: Sym, axes: readonly number[]): Sym | null {
  if (!axes.length) return null;
  const [first, ...rest] = axes;
  const along = api.mul(math.cumprod(x, first, { exclusive: true }), math.cumprod(x, first, { exclusive: true, reverse: true }));
  const beyond = othersProduct(math.prod(x, [first], true), rest);
  return beyond ? api.mul(along, beyond) : along;
}

export const prodOp: OpDef<ProdAttrs> = {
  name: 'prod',
  arity: 1,
  kind: 'reduction',
  traits: traits({ reduction: true }),
  doc: 'product over axes; its gradient Π_{j≠i} x_j never divides by x, so it is exact at zeros',
  attrs: (raw, [x]) => ({ axes: normAxes(raw.axes, x.shape.length), keepDims: !!raw.keepDims }),
  infer: ([x], a) => {
    requireNumeric(x);
    return { dtype: x.dtype, shape: reducedShape(x.shape, a.axes, a.keepDims) };
  },
  kernel: ([x], a, ctx) => reduceKernel(x, a.axes, ctx.out, 1, (p, v) => p * v),
  // d Πx / dx_i = Π_{j≠i} x_j, times dy broadcast back over the reduced axes
  vjp: ({ dy, inputs: [x], attrs }) => {
    const others = othersProduct(x, attrs.axes);
    const back = attrs.keepDims || !attrs.axes.length ? dy : api.expandDims(dy, attrs.axes);
    return [others ? api.mul(back, others) : back];
  },
  // d Πx = Σ_i ẋ_i·Π_{j≠i} x_j
  jvp: ({ tangents: [t], inputs: [x], attrs }) => {
    if (!t) return null;
    const others = othersProduct(x, attrs.axes);
    return others ? api.sum(api.mul(t, others), attrs.axes, attrs.keepDims) : t;
  },
  batch: ({ inputs: [x], axes: [b], attrs, node }) => {
    const axes = attrs.axes.map((a) => shiftAxis(a, b!));
    const before = attrs.axes.filter((a) => a < b!).length;
    return { out: reapply(node, [x], { ...attrs, axes }), axis: attrs.keepDims ? b! : b! - before };
  },
  flops: ([x]) => sizeOf(x.shape),
};

export const scanOps: OpDef<any>[] = [linearRecurrenceOp, prodOp];
