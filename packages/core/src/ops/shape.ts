/**
 * Primitives that move or copy elements: reshape, transpose, broadcasting, expand/squeeze,
 * slice, concat, gather/scatterAdd and pad, plus the run-time-shaped `…Like` forms that
 * gradients use when a dim is unknown until run time.
 */
import { fmtJson } from '../format';
import * as api from '../api';
import { isFloat, type DType } from '../dtype';
import { GradError, ShapeError } from '../errors';
import type { Sym } from '../graph';
import type { Attrs, TypeInfo } from '../ir';
import { fail, type OpDef, traits } from '../registry';
import { broadcastShapes, fmtShape, isStatic, shapeEq, sizeOf, stridesOf, type Shape, type SymShape } from '../shape';
import { Tensor } from '../tensor';
import { broadcastToBatch, concatBatch, elementwiseBatch, frontBatch, gatherBatch, perAxisBatch, reshapeBatch, scatterAddBatch, shapeSizeBatch, sumLikeBatch } from './batching';
import { linearJvp, multilinearJvp, zeroJvp } from './jvp';
import { broadcastOffsets, intList, normAxes, normOneAxis, reductionIndex } from './util';

const copyFlops = (_i: unknown, out: { shape: Shape }) => sizeOf(out.shape);

/** `dy` reshaped back to `x`'s shape, statically when possible. */
function reshapeBack(dy: Sym, x: Sym): Sym {
  const nulls = x.shape.filter((d) => d === null).length;
  if (nulls === 0) return api.reshape(dy, x.shape as number[]);
  if (nulls === 1) return api.reshape(dy, x.shape.map((d) => (d === null ? -1 : d)));
  return api.reshapeLike(dy, x);
}

// ---- reshape -------------------------------------------------------------------------------

interface ReshapeAttrs extends Attrs {
  readonly shape: readonly number[];
}

function resolveReshape(from: SymShape, to: readonly number[]): (number | null)[] {
  const known = to.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const holes = to.filter((d) => d === -1).length;
  if (isStatic(from)) {
    const n = sizeOf(from);
    if (holes === 0) {
      if (known !== n) fail(`cannot reshape ${fmtShape(from)} (${n} elements) to ${fmtShape(to)} (${known})`);
      return [...to];
    }
    if (known === 0 || n % known !== 0) fail(`cannot reshape ${fmtShape(from)} (${n} elements) to ${fmtShape(to)}`);
    return to.map((d) => (d === -1 ? n / known : d));
  }
  return to.map((d) => (d === -1 ? null : d));
}

const reshapeOp: OpDef<ReshapeAttrs> = {
  name: 'reshape',
  arity: 1,
  kind: 'shape',
  traits: traits({ view: true, finiteIfInputsFinite: [0] }),
  doc: 'the same elements in a new shape; one dim may be -1',
  attrs: (raw) => {
    const shape = intList(raw.shape, 'shape');
    if (shape.some((d) => d < -1) || shape.filter((d) => d === -1).length > 1) fail(`shape ${fmtShape(shape)} may hold non-negative dims and at most one -1`);
    return { shape };
  },
  infer: ([x], a) => ({ dtype: x.dtype, shape: resolveReshape(x.shape, a.shape) }),
  kernel: ([x], _a, ctx) => {
    if (sizeOf(ctx.out.shape) !== x.size) fail(`cannot reshape ${fmtShape(x.shape)} to ${fmtShape(ctx.out.shape)}`);
    return new Tensor(ctx.out.dtype, ctx.out.shape, x.data.slice());
  },
  // d reshape = dy reshaped back
  vjp: ({ dy, inputs: [x] }) => [reshapeBack(dy, x)],
  // linear: ṫ = reshape(t)
  jvp: linearJvp(),
  batch: reshapeBatch,
  flops: () => 0,
};

// ---- transpose -----------------------------------------------------------------------------

interface PermAttrs extends Attrs {
  readonly perm: readonly number[];
}

export function transposeKernel(x: Tensor, perm: readonly number[], dtype: DType = x.dtype): Tensor {
  const outShape = perm.map((p) => x.shape[p]);
  const out = new Tensor(dtype, outShape);
  const inStrides = stridesOf(x.shape);
  const stride = perm.map((p) => inStrides[p]);
  const rank = perm.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let j = 0; j < out.size; j++) {
    out.data[j] = x.data[off];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += stride[d];
      if (idx[d] < outShape[d]) break;
      off -= stride[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

const transposeOp: OpDef<PermAttrs> = {
  name: 'transpose',
  arity: 1,
  kind: 'shape',
  traits: traits({ finiteIfInputsFinite: [0] }),
  doc: 'permutes axes: out.shape[i] = x.shape[perm[i]]',
  attrs: (raw, [x]) => {
    const perm = intList(raw.perm, 'perm').map((p) => (p < 0 ? p + x.shape.length : p));
    const sorted = [...perm].sort((p, q) => p - q);
    if (perm.length !== x.shape.length || !sorted.every((p, i) => p === i)) fail(`perm ${fmtShape(perm)} is not a permutation of the ${x.shape.length} axes of ${fmtShape(x.shape)}`);
    return { perm };
  },
  infer: ([x], a) => ({ dtype: x.dtype, shape: a.perm.map((p) => x.shape[p]) }),
  kernel: ([x], a) => transposeKernel(x, a.perm),
  // d transpose(x, p) = transpose(dy, p⁻¹)
  vjp: ({ dy, attrs }) => {
    const inv = new Array<number>(attrs.perm.length);
    attrs.perm.forEach((p, i) => (inv[p] = i));
    return [api.transpose(dy, inv)];
  },
  jvp: linearJvp(),
  // the batch axis first, the example's axes after it in the same permutation
  batch: perAxisBatch<PermAttrs>((a) => ({ perm: [0, ...a.perm.map((p) => p + 1)] })),
  flops: copyFlops,
};

// ---- broadcasting --------------------------------------------------------------------------

export function broadcastKernel(x: Tensor, shape: Shape, dtype: DType = x.dtype): Tensor {
  const out = new Tensor(dtype, shape);
  const offs = broadcastOffsets(x.shape, shape);
  for (let i = 0; i < out.size; i++) out.data[i] = x.data[offs ? offs[i] : i];
  return out;
}

/** Sums `x` down to `shape` (which `x`'s shape is a broadcast of). */
export function unbroadcastKernel(x: Tensor, shape: Shape, dtype: DType = x.dtype): Tensor {
  const lead = x.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.shape.length; i++) if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  const { index } = reductionIndex(x.shape, axes);
  const out = new Tensor(dtype, shape);
  const acc = new Float64Array(out.size);
  for (let i = 0; i < x.size; i++) acc[index[i]] += x.data[i];
  out.data.set(acc);
  return out;
}

const broadcastToOp: OpDef<ReshapeAttrs> = {
  name: 'broadcastTo',
  arity: 1,
  kind: 'shape',
  traits: traits({ elementwise: true, finiteIfInputsFinite: [0] }),
  doc: 'x broadcast to a static shape',
  attrs: (raw) => {
    const shape = intList(raw.shape, 'shape');
    if (shape.some((d) => d < 0)) fail(`shape ${fmtShape(shape)} must be non-negative`);
    return { shape };
  },
  infer: ([x], a) => {
    const b = broadcastShapes(x.shape, a.shape);
    if (!b || x.shape.length > a.shape.length || !shapeEq(b.map((d, i) => d ?? a.shape[i]), a.shape)) fail(`cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(a.shape)}`);
    return { dtype: x.dtype, shape: [...a.shape] };
  },
  kernel: ([x], a, ctx) => {
    if (!broadcastShapes(x.shape, a.shape)) fail(`cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(a.shape)}`);
    return broadcastKernel(x, ctx.out.shape);
  },
  // the backprop loop sums dy back down to x's shape
  vjp: ({ dy }) => [dy],
  jvp: linearJvp(),
  batch: broadcastToBatch,
  flops: copyFlops,
};

const broadcastLikeOp: OpDef<Attrs> = {
  name: 'broadcastLike',
  arity: 2,
  kind: 'shape',
  traits: traits({ elementwise: true, dataInputs: 'first', finiteIfInputsFinite: [0] }),
  doc: 'x broadcast against the run-time shape of ref (ref only lends its shape)',
  attrs: () => ({}),
  infer: ([x, ref]) => {
    const s = broadcastShapes(x.shape, ref.shape);
    if (!s) fail(`cannot broadcast ${fmtShape(x.shape)} against ${fmtShape(ref.shape)}`);
    return { dtype: x.dtype, shape: s };
  },
  kernel: ([x], _a, ctx) => broadcastKernel(x, ctx.out.shape),
  // the backprop loop sums dy back down to x's shape; ref gets no gradient
  vjp: ({ dy }) => [dy, null],
  jvp: linearJvp(),
  batch: elementwiseBatch,
  flops: copyFlops,
};

const sumLikeOp: OpDef<Attrs> = {
  name: 'sumLike',
  arity: 2,
  kind: 'reduction',
  traits: traits({ dataInputs: 'first', identityOnSameShape: true }),
  doc: 'x summed down to the run-time shape of ref (undoes broadcasting)',
  attrs: () => ({}),
  infer: ([x, ref]) => {
    const s = broadcastShapes(x.shape, ref.shape);
    // ref must broadcast to x: known dims of the broadcast are x's own
    if (!s || ref.shape.length > x.shape.length || s.some((d, i) => d !== null && x.shape[i] !== null && d !== x.shape[i])) fail(`cannot sum ${fmtShape(x.shape)} down to ${fmtShape(ref.shape)}`);
    return { dtype: x.dtype, shape: ref.shape };
  },
  kernel: ([x, ref], _a, ctx) => {
    const s = broadcastShapes(x.shape, ref.shape);
    if (!s || !shapeEq(s as Shape, x.shape)) fail(`cannot sum ${fmtShape(x.shape)} down to ${fmtShape(ref.shape)}`);
    return unbroadcastKernel(x, ctx.out.shape);
  },
  // d sumLike(x, ref) = dy broadcast back to x
  vjp: ({ dy, inputs: [x] }) => [api.broadcastToShapeOf(dy, x), null],
  jvp: linearJvp(),
  batch: sumLikeBatch,
  flops: ([x]) => sizeOf(x.shape),
};

const reshapeLikeOp: OpDef<Attrs> = {
  name: 'reshapeLike',
  arity: 2,
  kind: 'shape',
  traits: traits({ view: true, dataInputs: 'first', finiteIfInputsFinite: [0] }),
  doc: 'x reshaped to the run-time shape of ref',
  attrs: () => ({}),
  infer: ([x, ref]) => {
    if (isStatic(x.shape) && isStatic(ref.shape) && sizeOf(x.shape) !== sizeOf(ref.shape)) fail(`cannot reshape ${fmtShape(x.shape)} like ${fmtShape(ref.shape)}`);
    return { dtype: x.dtype, shape: ref.shape };
  },
  kernel: ([x], _a, ctx) => {
    if (x.size !== sizeOf(ctx.out.shape)) fail(`cannot reshape ${fmtShape(x.shape)} to ${fmtShape(ctx.out.shape)}`);
    return new Tensor(x.dtype, ctx.out.shape, x.data.slice());
  },
  vjp: ({ dy, inputs: [x] }) => [reshapeBack(dy, x), null],
  jvp: linearJvp(),
  batch: frontBatch(),
  flops: () => 0,
};

// ---- expandDims / squeeze ------------------------------------------------------------------

interface AxesAttrs extends Attrs {
  readonly axes: readonly number[];
}

const expandDimsOp: OpDef<AxesAttrs> = {
  name: 'expandDims',
  arity: 1,
  kind: 'shape',
  traits: traits({ view: true, finiteIfInputsFinite: [0] }),
  doc: 'inserts size-1 axes at the given output positions',
  attrs: (raw, [x]) => {
    const list = typeof raw.axes === 'number' ? [raw.axes] : raw.axes;
    const n = x.shape.length + (Array.isArray(list) ? list.length : 0);
    return { axes: normAxes(list, n) };
  },
  infer: ([x], a) => {
    const out: (number | null)[] = [];
    let k = 0;
    for (let i = 0; i < x.shape.length + a.axes.length; i++) out.push(a.axes.includes(i) ? 1 : x.shape[k++]);
    return { dtype: x.dtype, shape: out };
  },
  kernel: ([x], _a, ctx) => new Tensor(x.dtype, ctx.out.shape, x.data.slice()),
  vjp: ({ dy, attrs }) => [api.squeeze(dy, attrs.axes)],
  jvp: linearJvp(),
  batch: perAxisBatch<AxesAttrs>((a) => ({ axes: a.axes.map((x) => x + 1) })),
  flops: () => 0,
};

const squeezeOp: OpDef<AxesAttrs> = {
  name: 'squeeze',
  arity: 1,
  kind: 'shape',
  traits: traits({ view: true, finiteIfInputsFinite: [0] }),
  doc: 'drops the given size-1 axes',
  attrs: (raw, [x]) => {
    const axes = normAxes(raw.axes ?? [], x.shape.length);
    for (const ax of axes) if (x.shape[ax] !== 1 && x.shape[ax] !== null) fail(`axis ${ax} of ${fmtShape(x.shape)} has size ${x.shape[ax]}, not 1`);
    return { axes };
  },
  infer: ([x], a) => {
    // checked again here for shapes known only at run time
    for (const ax of a.axes) if (x.shape[ax] !== 1 && x.shape[ax] !== null) fail(`axis ${ax} of ${fmtShape(x.shape)} has size ${x.shape[ax]}, not 1`);
    return { dtype: x.dtype, shape: x.shape.filter((_, i) => !a.axes.includes(i)) };
  },
  kernel: ([x], a, ctx) => {
    for (const ax of a.axes) if (x.shape[ax] !== 1) fail(`axis ${ax} of ${fmtShape(x.shape)} has size ${x.shape[ax]}, not 1`);
    return new Tensor(x.dtype, ctx.out.shape, x.data.slice());
  },
  vjp: ({ dy, attrs }) => [api.expandDims(dy, attrs.axes)],
  jvp: linearJvp(),
  batch: perAxisBatch<AxesAttrs>((a) => ({ axes: a.axes.map((x) => x + 1) })),
  flops: () => 0,
};

// ---- slice / pad / concat -------------------------------------------------------------------

interface SliceAttrs extends Attrs {
  readonly begin: readonly number[];
  /** Exclusive end per axis; null runs to the end, a negative value counts from the end. */
  readonly end: readonly (number | null)[];
}

function sliceBounds(shape: Shape, a: SliceAttrs): { begin: number[]; size: number[] } {
  const begin: number[] = [];
  const size: number[] = [];
  shape.forEach((d, i) => {
    const b = a.begin[i];
    const e0 = a.end[i];
    const e = e0 === null ? d : e0 < 0 ? d + e0 : e0;
    if (b < 0 || b > d || e < b || e > d) fail(`slice [${b}, ${e0 === null ? 'end' : e0}) is out of range for axis ${i} of size ${d} in ${fmtShape(shape)}`);
    begin.push(b);
    size.push(e - b);
  });
  return { begin, size };
}

/** Copies the block `[begin, begin+size)` of `x` (or writes `src` into that block of `into`). */
function blockCopy(x: Tensor, begin: readonly number[], size: readonly number[], out: Tensor, outBegin: readonly number[]): void {
  const rank = size.length;
  const xs = stridesOf(x.shape);
  const os = stridesOf(out.shape);
  const n = sizeOf(size);
  const idx = new Array<number>(rank).fill(0);
  for (let j = 0; j < n; j++) {
    let xo = 0;
    let oo = 0;
    for (let d = 0; d < rank; d++) {
      xo += (begin[d] + idx[d]) * xs[d];
      oo += (outBegin[d] + idx[d]) * os[d];
    }
    out.data[oo] = x.data[xo];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

const sliceOp: OpDef<SliceAttrs> = {
  name: 'slice',
  arity: 1,
  kind: 'shape',
  traits: traits({ finiteIfInputsFinite: [0] }),
  doc: 'a block of x: [begin, end) on each axis (a negative begin or end counts from the end)',
  attrs: (raw, [x]) => {
    const r = x.shape.length;
    const begin = intList(raw.begin, 'begin');
    const endRaw = raw.end ?? begin.map(() => null);
    if (!Array.isArray(endRaw) || !endRaw.every((e) => e === null || Number.isInteger(e))) fail(`end must be an array of integers or nulls, got ${fmtJson(raw.end)}`);
    if (begin.length !== r || endRaw.length !== r) fail(`begin and end need ${r} entries for ${fmtShape(x.shape)}, got ${begin.length} and ${endRaw.length}`);
    const b2 = begin.map((b, i) => {
      if (b >= 0) return b;
      const d = x.shape[i];
      if (d === null) fail(`a negative begin on axis ${i} needs a known dim`);
      if (d + b < 0) fail(`begin ${b} is out of range for axis ${i} of size ${d} in ${fmtShape(x.shape)}`);
      return d + b;
    });
    return { begin: b2, end: endRaw as (number | null)[] };
  },
  infer: ([x], a) => {
    const shape = x.shape.map((d, i) => {
      const b = a.begin[i];
      const e = a.end[i];
      if (d === null) return e === null || e < 0 ? null : e - b;
      const ee = e === null ? d : e < 0 ? d + e : e;
      if (b > d || ee < b || ee > d) fail(`slice [${b}, ${e === null ? 'end' : e}) is out of range for axis ${i} of size ${d} in ${fmtShape(x.shape)}`);
      return ee - b;
    });
    return { dtype: x.dtype, shape };
  },
  kernel: ([x], a, ctx) => {
    const { begin, size } = sliceBounds(x.shape, a);
    const out = new Tensor(x.dtype, ctx.out.shape);
    blockCopy(x, begin, size, out, size.map(() => 0));
    return out;
  },
  // d slice = dy padded with zeros back to x's extent
  vjp: ({ dy, inputs: [x], attrs }) => {
    const pads = x.shape.map((d, i): [number, number] => {
      const e = attrs.end[i];
      if (e === null) return [attrs.begin[i], 0];
      if (e < 0) return [attrs.begin[i], -e];
      if (d === null) throw new GradError(`cannot differentiate a slice ending at ${e} along axis ${i}, whose size is unknown until run time; slice with a negative or open end instead`, { op: 'slice' });
      return [attrs.begin[i], d - e];
    });
    return [api.pad(dy, pads)];
  },
  jvp: linearJvp(),
  batch: perAxisBatch<SliceAttrs>((a) => ({ begin: [0, ...a.begin], end: [null, ...a.end] })),
  flops: copyFlops,
};

interface PadAttrs extends Attrs {
  readonly pads: readonly (readonly [number, number])[];
  readonly value: number;
}

const padOp: OpDef<PadAttrs> = {
  name: 'pad',
  arity: 1,
  kind: 'shape',
  traits: traits({ finiteIfInputsFinite: (a) => (Number.isFinite(a.value as number) ? [0] : null) }),
  doc: 'x with [before, after] elements of a constant added on each axis',
  attrs: (raw, [x]) => {
    const pads = raw.pads;
    if (!Array.isArray(pads) || pads.length !== x.shape.length || !pads.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0))) {
      fail(`pads must be ${x.shape.length} pairs [before, after] of non-negative integers, got ${fmtJson(pads)}`);
    }
    const value = raw.value ?? 0;
    if (typeof value !== 'number') fail(`value must be a number`);
    return { pads: pads.map((p) => [p[0], p[1]] as const), value };
  },
  infer: ([x], a) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (d === null ? null : d + a.pads[i][0] + a.pads[i][1])) }),
  kernel: ([x], a, ctx) => {
    const out = Tensor.full(ctx.out.shape, a.value, x.dtype);
    blockCopy(x, x.shape.map(() => 0), x.shape, out, a.pads.map((p) => p[0]));
    return out;
  },
  // d pad = the middle block of dy
  vjp: ({ dy, attrs }) => [api.sliceRange(dy, attrs.pads.map((p) => p[0]), attrs.pads.map((p) => (p[1] === 0 ? null : -p[1])))],
  // the fill is a constant: ṫ = pad(t) with zeros
  jvp: linearJvp<PadAttrs>((a) => ({ pads: a.pads, value: 0 })),
  batch: perAxisBatch<PadAttrs>((a) => ({ pads: [[0, 0], ...a.pads], value: a.value })),
  flops: copyFlops,
};

interface AxisAttrs extends Attrs {
  readonly axis: number;
}

const concatOp: OpDef<AxisAttrs> = {
  name: 'concat',
  arity: { min: 1 },
  kind: 'shape',
  traits: traits({ finiteIfInputsFinite: 'all' }),
  doc: 'joins tensors along an axis',
  attrs: (raw, ts) => ({ axis: normOneAxis(raw.axis ?? 0, ts[0].shape.length) }),
  infer: (ts, a) => {
    const first = ts[0];
    let total: number | null = 0;
    for (const t of ts) {
      if (t.dtype !== first.dtype) fail(`operands have different dtypes ${ts.map((x) => x.dtype).join(', ')}`);
      if (t.shape.length !== first.shape.length) fail(`operands have different ranks: ${ts.map((x) => fmtShape(x.shape)).join(', ')}`);
      t.shape.forEach((d, i) => {
        if (i !== a.axis && d !== null && first.shape[i] !== null && d !== first.shape[i]) fail(`shapes ${ts.map((x) => fmtShape(x.shape)).join(', ')} differ off axis ${a.axis}`);
      });
      const d = t.shape[a.axis];
      total = total === null || d === null ? null : total + d;
    }
    const shape = first.shape.map((d, i) => (i === a.axis ? total : (d ?? ts.find((t) => t.shape[i] !== null)?.shape[i] ?? null)));
    return { dtype: first.dtype, shape };
  },
  kernel: (xs, a, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    let off = 0;
    for (const x of xs) {
      x.shape.forEach((d, i) => {
        if (i !== a.axis && d !== ctx.out.shape[i]) fail(`shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} differ off axis ${a.axis} at run time`);
      });
      blockCopy(x, x.shape.map(() => 0), x.shape, out, x.shape.map((_, i) => (i === a.axis ? off : 0)));
      off += x.shape[a.axis];
    }
    return out;
  },
  // d concat = the matching slices of dy
  vjp: ({ dy, inputs, attrs }) => {
    let off = 0;
    return inputs.map((x, k) => {
      const d = x.shape[attrs.axis];
      const last = k === inputs.length - 1;
      if (d === null && !last) throw new GradError(`cannot differentiate concat along axis ${attrs.axis}: input ${k} has an unknown size there`, { op: 'concat' });
      const begin = x.shape.map((_, i) => (i === attrs.axis ? off : 0));
      const end = x.shape.map((_, i) => (i === attrs.axis && !last ? off + (d as number) : null));
      off += d ?? 0;
      return api.sliceRange(dy, begin, end);
    });
  },
  // linear in every input: ṫ = concat of the tangents (zeros for an input without one)
  jvp: multilinearJvp,
  batch: concatBatch,
  flops: copyFlops,
};

// ---- gather / scatterAdd --------------------------------------------------------------------

function checkIndices(t: TypeInfo): void {
  if (t.dtype !== 'int32') fail(`indices must be int32, got ${t.dtype}`);
}

const gatherOp: OpDef<AxisAttrs> = {
  name: 'gather',
  arity: 2,
  kind: 'shape',
  traits: traits({ finiteIfInputsFinite: [0] }),
  doc: 'elements of x at integer indices along an axis (NumPy take)',
  attrs: (raw, [x]) => ({ axis: normOneAxis(raw.axis ?? 0, x.shape.length) }),
  infer: ([x, idx], a) => {
    checkIndices(idx);
    return { dtype: x.dtype, shape: [...x.shape.slice(0, a.axis), ...idx.shape, ...x.shape.slice(a.axis + 1)] };
  },
  kernel: ([x, idx], a, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    const n = x.shape[a.axis];
    const outer = sizeOf(x.shape.slice(0, a.axis));
    const inner = sizeOf(x.shape.slice(a.axis + 1));
    const m = idx.size;
    for (let j = 0; j < m; j++) {
      const v = idx.data[j];
      if (v < 0 || v >= n) throw new ShapeError(`index ${v} at position ${j} is out of range [0, ${n}) for axis ${a.axis} of ${fmtShape(x.shape)}`, { op: 'gather' });
    }
    for (let o = 0; o < outer; o++) for (let j = 0; j < m; j++) for (let i = 0; i < inner; i++) out.data[(o * m + j) * inner + i] = x.data[(o * n + idx.data[j]) * inner + i];
    return out;
  },
  // d gather = dy scattered (added) back to the gathered positions
  vjp: ({ dy, inputs: [x, idx], attrs }) => [api.scatterAdd(dy, idx, x, attrs.axis), null],
  jvp: linearJvp(),
  batch: gatherBatch,
  flops: copyFlops,
};

const scatterAddOp: OpDef<AxisAttrs> = {
  name: 'scatterAdd',
  arity: 3,
  kind: 'shape',
  traits: traits(),
  doc: 'zeros shaped like ref, with updates added at indices along an axis (the adjoint of gather)',
  attrs: (raw, [, , ref]) => ({ axis: normOneAxis(raw.axis ?? 0, ref.shape.length) }),
  infer: ([u, idx, ref], a) => {
    checkIndices(idx);
    const want = [...ref.shape.slice(0, a.axis), ...idx.shape, ...ref.shape.slice(a.axis + 1)];
    if (want.length !== u.shape.length || !want.every((d, i) => d === null || u.shape[i] === null || d === u.shape[i])) fail(`updates ${fmtShape(u.shape)} do not match ${fmtShape(want)}`);
    return { dtype: u.dtype, shape: ref.shape };
  },
  kernel: ([u, idx, ref], a, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    const n = ref.shape[a.axis];
    const outer = sizeOf(ref.shape.slice(0, a.axis));
    const inner = sizeOf(ref.shape.slice(a.axis + 1));
    const m = idx.size;
    const acc = new Float64Array(out.size);
    for (let j = 0; j < m; j++) if (idx.data[j] < 0 || idx.data[j] >= n) throw new ShapeError(`index ${idx.data[j]} at position ${j} is out of range [0, ${n})`, { op: 'scatterAdd' });
    for (let o = 0; o < outer; o++) for (let j = 0; j < m; j++) for (let i = 0; i < inner; i++) acc[(o * n + idx.data[j]) * inner + i] += u.data[(o * m + j) * inner + i];
    out.data.set(acc);
    return out;
  },
  // d scatterAdd = dy gathered at the same positions
  vjp: ({ dy, inputs: [, idx], attrs }) => [api.gather(dy, idx, attrs.axis), null, null],
  jvp: linearJvp(),
  batch: scatterAddBatch,
  flops: ([u]) => sizeOf(u.shape),
};

// ---- shapeSize -----------------------------------------------------------------------------

interface ShapeSizeAttrs extends Attrs {
  readonly axes: readonly number[];
  readonly dtype: DType;
}

const shapeSizeOp: OpDef<ShapeSizeAttrs> = {
  name: 'shapeSize',
  arity: 1,
  kind: 'other',
  traits: traits({ dataInputs: 'none', finiteIfInputsFinite: [] }),
  doc: 'the number of elements of x over axes, as a scalar (x lends only its shape)',
  attrs: (raw, [x]) => ({ axes: normAxes(raw.axes, x.shape.length), dtype: (raw.dtype as DType) ?? 'float32' }),
  infer: (_x, a) => {
    if (!isFloat(a.dtype) && a.dtype !== 'int32') fail(`dtype must be numeric, got ${a.dtype}`);
    return { dtype: a.dtype, shape: [] };
  },
  kernel: ([x], a) => Tensor.scalar(a.axes.reduce((p, i) => p * x.shape[i], 1), a.dtype),
  // depends only on x's shape: no gradient
  vjp: () => [null],
  jvp: zeroJvp,
  batch: shapeSizeBatch,
  flops: () => 0,
};

export const shapeOps: OpDef<any>[] = [
  reshapeOp,
  transposeOp,
  broadcastToOp,
  expandDimsOp,
  squeezeOp,
  sliceOp,
  concatOp,
  gatherOp,
  scatterAddOp,
  padOp,
  broadcastLikeOp,
  sumLikeOp,
  reshapeLikeOp,
  shapeSizeOp,
];
