/**
 * importOnnx: an ONNX model as a gradgraph graph built from primitives, so `grad`, `compile`,
 * `fit` and viz work on it. Float initializers that feed computation become trainable params
 * (BatchNormalization's running statistics become state); graph inputs become inputs, named as in
 * the file, with `dim_param` dims left open (`null`).
 *
 * `importers` has one row per ONNX op type. A row builds gradgraph nodes from the node's inputs,
 * or — for the shape arithmetic exporters emit around `Reshape` (Shape → Gather → Unsqueeze →
 * Concat) — computes the value at import time: such "host" values are numbers, or dims known
 * only at run time, and never become graph nodes unless a computation reads them.
 */
import * as core from '@gradgraph/core';
import { Graph, Tensor, getOp, shapeSize, type DType, type Sym } from '@gradgraph/core';
import * as nn from '../nn/index';
import { OnnxFormatError, OnnxOpsetError, OnnxUnsupportedError } from './errors';
import { META } from './export';
import { ElemType, decodeModel, dtypeOf, readTensorProto, toTensor, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto';

/** The default-domain opsets importOnnx reads. */
export const IMPORT_OPSETS = Object.freeze({ min: 13, max: 21 });

export interface ImportResult {
  /** The graph, with a param per float initializer that feeds computation. */
  graph: Graph;
  /** The graph inputs, in the file's order, named as in the file. */
  inputs: Sym[];
  /** The graph outputs, in the file's order. */
  outputs: Sym[];
  /** The outputs' names in the file. */
  outputNames: string[];
  /** The model's default-domain opset. */
  opset: number;
  /** Who wrote the file (`producer_name producer_version`). */
  producer: string;
  /** The model's doc string, if any. */
  docString?: string;
}

// ---- values during import --------------------------------------------------------------------

/** A dim known only at run time: axis `axis` of `sym`. */
interface Dim {
  readonly sym: Sym;
  readonly axis: number;
}
type Scalar = number | Dim;

/** A value computed at import time: numbers, or dims known at run time (shape arithmetic). */
export interface Host {
  readonly kind: 'host';
  readonly elem: number;
  readonly shape: readonly number[];
  readonly data: readonly Scalar[];
  /** For `Shape(x)` itself: x, whose run-time shape this is. */
  readonly of?: Sym;
}
type Value = Sym | Host;

const isDim = (v: Scalar): v is Dim => typeof v === 'object';
const isHost = (v: Value | undefined): v is Host => !!v && (v as Host).kind === 'host';
const host = (elem: number, shape: readonly number[], data: readonly Scalar[]): Host => ({ kind: 'host', elem, shape: [...shape], data: [...data] });
const numeric = (h: Host): h is Host & { data: number[] } => h.data.every((v) => !isDim(v));
const sizeOf = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);
const dimKey = (d: Dim) => `${d.sym.id}:${d.axis}`;

/**
 * Where a run-time dim comes from: followed back through elementwise ops and matmul's batch and
 * row dims, so `Shape(x)[0]` and the batch dim of a layer computed from x are seen as one dim.
 */
function dimOrigin(s: Sym, axis: number): Dim {
  let cur = s;
  let ax = axis;
  for (;;) {
    const n = cur.node;
    const rank = n.type.shape.length;
    let next: { sym: Sym; axis: number } | undefined;
    if (n.op === 'matmul' && ax < rank - 1 && !(ax === rank - 2 && n.attrs.transposeA)) {
      const a = cur.graph.sym(n.inputs[0]);
      const k = ax - (rank - a.rank);
      if (k >= 0 && a.shape[k] === null) next = { sym: a, axis: k };
    } else if (getOp(n.op).kind === 'elementwise') {
      for (const id of n.inputs) {
        const x = cur.graph.sym(id);
        const k = ax - (rank - x.rank);
        if (k >= 0 && x.shape[k] === null) {
          next = { sym: x, axis: k };
          break;
        }
      }
    }
    if (!next) return { sym: cur, axis: ax };
    cur = next.sym;
    ax = next.axis;
  }
}

/** The shape of `x` as a host vector (run-time dims as Dims). */
function shapeHost(x: Sym): Host {
  return host(ElemType.INT64, [x.rank], x.shape.map((d, i) => d ?? dimOrigin(x, i)));
}

/** The symbol whose full run-time shape `h` is, if it is one (`Shape(ref)` passed along). */
function shapeOwner(h: Host): Sym | undefined {
  if (h.of) return h.of;
  const dims = h.data.filter(isDim);
  if (!dims.length || h.shape.length !== 1) return undefined;
  const owner = dims[0].sym;
  if (owner.rank !== h.data.length) return undefined;
  return h.data.every((v, i) => (isDim(v) ? v.sym.id === owner.id && v.axis === i : owner.shape[i] === v)) ? owner : undefined;
}

// ---- what an import rule sees ----------------------------------------------------------------

export interface ImportCtx {
  readonly g: Graph;
  readonly node: NodeProto;
  readonly opset: number;
  /** Number of inputs given (trailing optional inputs may be missing). */
  readonly arity: number;
  /** Input i is given (optional inputs may be empty names). */
  has(i: number): boolean;
  /** Input i as a symbol (host values become constants). */
  sym(i: number): Sym;
  /** Input i as a host value; throws when it is only known at run time. */
  host(i: number): Host;
  /** Input i as host numbers (no run-time dims). */
  numbers(i: number): number[];
  /** Every input is a host value (the node can be computed at import time). */
  allHost(): boolean;
  /** Input i's raw value. */
  value(i: number): Value;
  attr: {
    i(name: string, def?: number): number;
    f(name: string, def?: number): number;
    ints(name: string, def?: readonly number[]): number[];
    s(name: string, def?: string): string;
    t(name: string): Host | undefined;
    has(name: string): boolean;
  };
  /** An error naming this ONNX node. */
  unsupported(detail: string): OnnxUnsupportedError;
  /** Input i is shape arithmetic on run-time dims that could not be computed at import time. */
  deferred(i: number): boolean;
  /** The ONNX node that makes a value (by name), if a node does. */
  producer(name: string): NodeProto | undefined;
  /** A value by name, as built so far (undefined if deferred or unknown). */
  valueOf(name: string): Value | undefined;
  /** A symbol for a host value. */
  materialize(h: Host, like?: DType): Sym;
}

export interface ImportRule {
  /** Inputs read at import time (shapes, axes, pads): never params. */
  readonly host?: readonly number[];
  /** Inputs that are non-trainable state when they are initializers (running statistics). */
  readonly state?: readonly number[];
  build(c: ImportCtx): Value | (Value | undefined)[];
}

// ---- host arithmetic -------------------------------------------------------------------------

function hostBroadcast(a: Host, b: Host, f: (x: number, y: number) => number, elem = a.elem): Host {
  if (!numeric(a) || !numeric(b)) throw new Error('dims');
  const r = Math.max(a.shape.length, b.shape.length);
  const pa = [...Array(r - a.shape.length).fill(1), ...a.shape];
  const pb = [...Array(r - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const out: number[] = [];
  const idx = (p: number[], flat: number) => {
    let off = 0;
    let stride = 1;
    for (let d = r - 1; d >= 0; d--) {
      const i = flat % shape[d];
      flat = Math.floor(flat / shape[d]);
      off += (p[d] === 1 ? 0 : i) * stride;
      stride *= p[d];
    }
    return off;
  };
  for (let k = 0; k < sizeOf(shape); k++) out.push(f(a.data[idx(pa, k)] as number, b.data[idx(pb, k)] as number));
  return host(elem, shape, out);
}

const isIntElem = (e: number) => e === ElemType.INT64 || e === ElemType.INT32 || e === ElemType.INT8 || e === ElemType.UINT8;

// ---- the rows --------------------------------------------------------------------------------

const un = (f: (x: Sym) => Sym): ImportRule => ({ build: (c) => f(c.sym(0)) });

/** A binary (or variadic) elementwise op, computed at import time when every input is a number. */
function bin(f: (a: Sym, b: Sym) => Sym, fold?: (a: number, b: number, int: boolean) => number): ImportRule {
  return {
    build: (c) => {
      if (fold && c.allHost()) {
        const hs = Array.from({ length: c.arity }, (_, i) => c.host(i));
        if (hs.every(numeric)) return hs.slice(1).reduce<Host>((acc, h) => hostBroadcast(acc, h, (x, y) => fold(x, y, isIntElem(acc.elem))), hs[0]);
      }
      let acc = c.sym(0);
      for (let i = 1; i < c.arity; i++) acc = f(acc, c.sym(i));
      return acc;
    },
  };
}

/** ONNX keeps integer types through Div and Pow; gradgraph's promote to float (then truncate back). */
function intKeeping(f: (a: Sym, b: Sym) => Sym): (a: Sym, b: Sym) => Sym {
  return (a, b) => (a.dtype === 'int32' ? core.cast(f(a, b), 'int32') : f(a, b));
}

/** The axes of a Reduce* node: an input (ReduceSum from 13, all from 18) or an attribute. */
function reduceAxes(c: ImportCtx, rank: number): number[] | null {
  let axes: number[] | undefined;
  if (c.has(1)) axes = c.numbers(1);
  else if (c.attr.has('axes')) axes = c.attr.ints('axes');
  if (!axes || axes.length === 0) return c.attr.i('noop_with_empty_axes', 0) ? null : [...Array(rank).keys()];
  return axes.map((a) => (a < 0 ? a + rank : a));
}

function reduceRule(f: (x: Sym, axes: number[], keep: boolean) => Sym): ImportRule {
  return {
    host: [1],
    build: (c) => {
      const x = c.sym(0);
      const axes = reduceAxes(c, x.rank);
      return axes === null ? x : f(x, axes, !!c.attr.i('keepdims', 1));
    },
  };
}

/** A Reshape target resolved against x's shape: numbers (one may be -1), or undefined. */
function resolveReshape(x: Sym, spec: readonly Scalar[], allowZero: boolean): number[] | undefined {
  const entries = spec.map((v, i) => (v === 0 && !allowZero ? (x.shape[i] ?? dimOrigin(x, i)) : v));
  const xDims = x.shape.map((d, i) => d ?? dimOrigin(x, i));
  const open = new Map<string, number>(); // x's run-time dims not matched yet
  for (const d of xDims) if (isDim(d)) open.set(dimKey(d), (open.get(dimKey(d)) ?? 0) + 1);
  const matched: number[] = [];
  let unmatched = 0;
  entries.forEach((v, i) => {
    if (!isDim(v)) return;
    const k = dimKey(v);
    if (open.get(k)) {
      open.set(k, open.get(k)! - 1);
      matched.push(i);
    } else unmatched++;
  });
  const holes = entries.filter((v) => v === -1).length;
  const known = entries.filter((v): v is number => !isDim(v) && v !== -1).reduce((a, d) => a * d, 1);
  const xKnown = xDims.filter((v): v is number => !isDim(v)).reduce((a, d) => a * d, 1);
  const xOpen = [...open.values()].reduce((a, n) => a + n, 0);
  const tokens = matched.length + unmatched;
  if (tokens === 0) return entries as number[];
  if (holes === 0 && tokens === 1) return entries.map((v) => (isDim(v) ? -1 : v));
  // [dim, -1] with the dim one of x's own: the -1 is what is left of x once the dim cancels
  if (holes === 1 && unmatched === 0 && matched.length === 1 && xOpen === 0 && known > 0 && xKnown % known === 0) {
    return entries.map((v) => (isDim(v) ? -1 : v === -1 ? xKnown / known : v));
  }
  return undefined;
}

/** Slice bounds on one axis of size d (null: unknown), ONNX-clamped, as gradgraph's begin/end. */
function sliceBounds(c: ImportCtx, d: number | null, start: number, end: number): [number, number | null] {
  const BIG = 2 ** 31;
  let b = start;
  if (b < 0) {
    if (d === null) throw c.unsupported(`a negative start on a dim unknown until run time`);
    b = Math.max(0, b + d);
  }
  if (d !== null) b = Math.min(b, d);
  let e: number | null = end;
  if (d !== null) {
    e = end < 0 ? Math.max(end + d, 0) : Math.min(end, d);
    if (e === d) e = null;
  } else if (end >= BIG) e = null;
  if (e !== null && e >= 0 && e < b) e = b;
  return [b, e];
}

function gemm(c: ImportCtx): Sym {
  const alpha = c.attr.f('alpha', 1);
  const beta = c.attr.f('beta', 1);
  let y = core.matmul(c.sym(0), c.sym(1), { transposeA: !!c.attr.i('transA', 0), transposeB: !!c.attr.i('transB', 0) });
  if (alpha !== 1) y = y.mul(alpha);
  if (c.has(2)) y = y.add(beta === 1 ? c.sym(2) : c.sym(2).mul(beta));
  return y;
}

function flatten(c: ImportCtx): Value {
  if (c.allHost()) {
    const h = c.host(0);
    const axis = normAxis(c, c.attr.i('axis', 1), h.shape.length + 1);
    return host(h.elem, [sizeOf(h.shape.slice(0, axis)), sizeOf(h.shape.slice(axis))], h.data);
  }
  const x = c.sym(0);
  const axis = normAxis(c, c.attr.i('axis', 1), x.rank + 1);
  const part = (ds: readonly (number | null)[]) => (ds.every((d) => d !== null) ? sizeOf(ds as number[]) : null);
  const lead = part(x.shape.slice(0, axis));
  const rest = part(x.shape.slice(axis));
  if (lead === null && rest === null) throw c.unsupported(`Flatten of ${core.fmtShape(x.shape)}: both parts have dims unknown until run time`);
  return x.reshape([lead ?? -1, rest ?? -1]);
}

function normAxis(c: ImportCtx, axis: number, n: number): number {
  const a = axis < 0 ? axis + n : axis;
  if (!Number.isInteger(a) || a < 0 || a >= n) throw c.unsupported(`axis ${axis} is out of range`);
  return a;
}

function batchNorm(c: ImportCtx): Sym {
  if (c.attr.i('training_mode', 0)) throw c.unsupported('BatchNormalization in training mode (training_mode = 1); export the model in eval mode');
  const x = c.sym(0);
  const eps = c.attr.f('epsilon', 1e-5);
  // per-channel vectors along axis 1 (NCHW): [C] → [C, 1, ..., 1]
  const along = (p: Sym) => (x.rank > 2 ? p.reshape([-1, ...Array(x.rank - 2).fill(1)]) : p);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => along(c.sym(i)));
  // y = (x − μ)/√(σ² + ε)·γ + β with the running statistics
  return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(scale).add(bias);
}

function scatterElements(c: ImportCtx): Sym {
  const reduction = c.attr.s('reduction', 'none');
  if (reduction !== 'add') throw c.unsupported(`ScatterElements with reduction "${reduction}" (gradgraph's scatterAdd adds)`);
  const data = c.value(0);
  const updates = c.sym(2);
  const axis = normAxis(c, c.attr.i('axis', 0), updates.rank);
  const ih = c.host(1);
  if (!numeric(ih) || ih.shape.length !== updates.rank) throw c.unsupported('ScatterElements needs indices known at import time, one per update');
  // gradgraph scatters whole slices: the indices must be constant off the axis
  const m = ih.shape[axis];
  const idx: number[] = [];
  const inner = sizeOf(ih.shape.slice(axis + 1));
  for (let j = 0; j < m; j++) idx.push(ih.data[j * inner] as number);
  ih.data.forEach((v, k) => {
    const j = Math.floor(k / inner) % m;
    if (v !== idx[j]) throw c.unsupported('ScatterElements whose indices differ off the scatter axis');
  });
  const ref = isHost(data) ? c.materialize(data, updates.dtype) : data;
  const dAxis = ref.shape[axis];
  const indices = c.g.constant(Tensor.from(idx.map((v) => (v < 0 && dAxis !== null ? v + dAxis : v)), 'int32'));
  const scattered = core.scatterAdd(updates, indices, ref, axis);
  const zero = isHost(data) && numeric(data) && data.data.every((v) => v === 0);
  return zero ? scattered : scattered.add(ref);
}

function constantOfShape(c: ImportCtx): Value {
  const shape = c.host(0);
  const v = c.attr.t('value') ?? host(ElemType.FLOAT, [1], [0]);
  if (numeric(shape)) {
    const dims = shape.data as number[];
    const n = sizeOf(dims);
    return host(v.elem, dims, Array(n).fill(v.data[0]));
  }
  const owner = shapeOwner(shape);
  if (!owner) throw c.unsupported('ConstantOfShape of a shape computed at run time that is not one tensor\'s shape');
  return core.broadcastLike(c.materialize(host(v.elem, [], [v.data[0]])), owner);
}

function expand(c: ImportCtx): Value {
  const shape = c.host(1);
  if (c.allHost()) {
    const h = c.host(0);
    if (numeric(h) && numeric(shape)) return hostBroadcast(h, host(h.elem, shape.data as number[], Array(sizeOf(shape.data as number[])).fill(0)), (a) => a);
  }
  const x = c.sym(0);
  if (numeric(shape)) {
    const target = core.broadcastShapes(x.shape, shape.data as number[]);
    if (!target) throw c.unsupported(`Expand of ${core.fmtShape(x.shape)} to [${shape.data.join(', ')}]`);
    if (target.every((d) => d !== null)) return core.broadcastTo(x, target as number[]);
  }
  const owner = shapeOwner(shape);
  if (!owner) throw c.unsupported('Expand to a shape computed at run time that is not one tensor\'s shape');
  return core.broadcastLike(x, owner);
}

function reshape(c: ImportCtx): Value {
  const spec = c.host(1);
  const allowZero = !!c.attr.i('allowzero', 0);
  if (isHost(c.value(0))) {
    const h = c.host(0);
    if (numeric(spec)) {
      const n = sizeOf(h.shape);
      const dims = (spec.data as number[]).map((v, i) => (v === 0 && !allowZero ? h.shape[i] : v));
      const known = dims.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
      return host(h.elem, dims.map((d) => (d === -1 ? n / known : d)), h.data);
    }
  }
  const x = c.sym(0);
  const dims = resolveReshape(x, spec.data, allowZero);
  if (dims) return x.reshape(dims);
  const owner = shapeOwner(spec);
  if (owner) return core.reshapeLike(x, owner);
  throw c.unsupported(`Reshape of ${core.fmtShape(x.shape)} to a shape that depends on run-time dims in a way the importer cannot resolve`);
}

/**
 * Step −1 bounds on one axis of size d as the step-1 range they cover (then flipped): ONNX clamps
 * the start to [0, d − 1] and the end to [−1, d − 1] and takes start, start − 1, ..., end + 1.
 */
function reverseBounds(c: ImportCtx, d: number | null, start: number, end: number): [number, number | null] {
  const BIG = 2 ** 31;
  if (d === null) {
    // the whole axis reversed (what exportOnnx writes for flip) needs no size
    if ((start === -1 || start >= BIG) && end <= -BIG) return [0, null];
    throw c.unsupported('a step −1 Slice of part of a dim unknown until run time');
  }
  const s = Math.min(Math.max(start < 0 ? start + d : start, 0), d - 1);
  const e = Math.min(Math.max(end < 0 ? end + d : end, -1), d - 1);
  if (s <= e) return [0, 0]; // empty
  return [e + 1, s + 1 === d ? null : s + 1];
}

function slice(c: ImportCtx): Value {
  const starts = c.numbers(1);
  const ends = c.numbers(2);
  const steps = c.has(4) ? c.numbers(4) : starts.map(() => 1);
  if (steps.some((s) => s !== 1 && s !== -1)) throw c.unsupported(`Slice with steps [${steps.join(', ')}] (only steps 1 and −1)`);
  const v = c.value(0);
  const shape = v.shape;
  const rank = shape.length;
  const axes = c.has(3) ? c.numbers(3).map((a) => normAxis(c, a, rank)) : starts.map((_, i) => i);
  const begin = Array(rank).fill(0);
  const end: (number | null)[] = Array(rank).fill(null);
  const flipped: number[] = [];
  axes.forEach((a, k) => {
    if (steps[k] === 1) [begin[a], end[a]] = sliceBounds(c, shape[a], starts[k], ends[k]);
    else {
      [begin[a], end[a]] = reverseBounds(c, shape[a], starts[k], ends[k]);
      flipped.push(a);
    }
  });
  // a shape vector sliced at import time; anything else as a slice node (and a flip for step −1)
  if (isHost(v) && rank === 1) {
    const part = v.data.slice(begin[0], end[0] ?? undefined);
    return host(v.elem, [part.length], flipped.length ? part.reverse() : part);
  }
  const x = isHost(v) ? c.materialize(v) : v;
  const whole = begin.every((b) => b === 0) && end.every((e) => e === null);
  const cut = whole ? x : core.sliceRange(x, begin, end);
  return flipped.length ? core.flip(cut, flipped) : cut;
}

function gather(c: ImportCtx): Value {
  const axisRaw = c.attr.i('axis', 0);
  const v = c.value(0);
  if (isHost(v) && c.allHost() && v.shape.length === 1) {
    const idx = c.numbers(1);
    const ih = c.host(1);
    const n = v.shape[0];
    return host(v.elem, ih.shape, idx.map((i) => v.data[i < 0 ? i + n : i]));
  }
  const x = c.sym(0);
  const axis = normAxis(c, axisRaw, x.rank);
  const iv = c.value(1);
  if (isHost(iv)) {
    const d = x.shape[axis];
    const vals = c.numbers(1).map((i) => (i < 0 && d !== null ? i + d : i));
    return core.gather(x, c.g.constant(toTensor(ElemType.INT32, iv.shape, vals, `indices of ${c.node.name}`)), axis);
  }
  return core.gather(x, core.cast(iv, 'int32'), axis);
}

function unsqueeze(c: ImportCtx): Value {
  const axesRaw = c.has(1) ? c.numbers(1) : c.attr.ints('axes');
  const v = c.value(0);
  const rank = (isHost(v) ? v.shape.length : v.rank) + axesRaw.length;
  const axes = axesRaw.map((a) => normAxis(c, a, rank)).sort((a, b) => a - b);
  if (isHost(v)) {
    const shape = [...v.shape];
    for (const a of axes) shape.splice(a, 0, 1);
    return host(v.elem, shape, v.data);
  }
  return core.expandDims(v, axes);
}

function squeeze(c: ImportCtx): Value {
  const v = c.value(0);
  const shape = v.shape;
  const given = c.has(1) ? c.numbers(1) : c.attr.has('axes') ? c.attr.ints('axes') : undefined;
  if (!given && shape.some((d) => d === null)) throw c.unsupported(`Squeeze without axes of ${core.fmtShape(shape)}: which dims are 1 is known only at run time`);
  const axes = given ? given.map((a) => normAxis(c, a, shape.length)) : shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (isHost(v)) return host(v.elem, v.shape.filter((_, i) => !axes.includes(i)), v.data);
  return axes.length ? core.squeeze(v, axes) : v;
}

/** NonZero of a value known at import time: the indices of its non-zero elements, [rank, count]. */
function nonZero(c: ImportCtx): Value {
  const h = c.host(0);
  if (!numeric(h)) throw c.unsupported('NonZero of values known only at run time (its output shape depends on them)');
  const strides = h.shape.map((_, i) => sizeOf(h.shape.slice(i + 1)));
  const hits = h.data.flatMap((v, k) => (v ? [k] : []));
  return host(ElemType.INT64, [h.shape.length, hits.length], h.shape.flatMap((d, i) => hits.map((k) => Math.floor(k / strides[i]) % d)));
}

function concat(c: ImportCtx): Value {
  const axisRaw = c.attr.i('axis');
  if (c.allHost()) {
    const hs = Array.from({ length: c.arity }, (_, i) => c.host(i));
    if (hs.every((h) => h.shape.length === 1)) return host(hs[0].elem, [hs.reduce((a, h) => a + h.shape[0], 0)], hs.flatMap((h) => h.data));
  }
  const xs = Array.from({ length: c.arity }, (_, i) => c.sym(i));
  return core.concat(xs, normAxis(c, axisRaw, xs[0].rank));
}

function cast(c: ImportCtx): Value {
  const to = c.attr.i('to');
  const dtype = dtypeOf(to, `Cast ${c.node.name ?? ''} target`);
  const v = c.value(0);
  if (isHost(v) && isIntElem(to)) return host(to, v.shape, v.data.map((x) => (isDim(x) ? x : Math.trunc(x))));
  if (isHost(v) && (to === ElemType.FLOAT || to === ElemType.DOUBLE) && numeric(v)) return host(to, v.shape, v.data);
  return core.cast(c.sym(0), dtype);
}

function shape(c: ImportCtx): Value {
  const v = c.value(0);
  const full = isHost(v) ? host(ElemType.INT64, [v.shape.length], v.shape) : shapeHost(v);
  const n = full.data.length;
  const clamp = (a: number) => Math.min(Math.max(a < 0 ? a + n : a, 0), n);
  const start = clamp(c.attr.i('start', 0));
  const end = clamp(c.attr.i('end', n));
  if (start === 0 && end === n && !isHost(v)) return { ...full, of: v };
  return host(ElemType.INT64, [Math.max(end - start, 0)], full.data.slice(start, end));
}

function reduceProd(c: ImportCtx): Value {
  const v = c.value(0);
  if (!isHost(v)) {
    const axes = reduceAxes(c, v.rank);
    return axes === null ? v : core.prod(v, axes, !!c.attr.i('keepdims', 1));
  }
  if (v.shape.length !== 1 || (c.has(1) && c.numbers(1).length !== 1 && c.numbers(1).length !== 0)) throw c.unsupported('ReduceProd over more than a shape vector');
  const nums = v.data.filter((x): x is number => !isDim(x));
  const dims = v.data.filter(isDim);
  const k = nums.reduce((a, x) => a * x, 1);
  const keep = !!c.attr.i('keepdims', 1);
  if (!dims.length) return host(v.elem, keep ? [1] : [], [k]);
  // a product of run-time dims of one tensor: gradgraph's shapeSize
  const owner = dims[0].sym;
  if (dims.some((d) => d.sym.id !== owner.id)) throw c.unsupported('ReduceProd of run-time dims of different tensors');
  let n: Sym = shapeSize(owner, dims.map((d) => d.axis), 'float32');
  if (k !== 1) n = n.mul(k);
  n = core.cast(n, 'int32');
  return keep ? n.reshape([1]) : n;
}

/**
 * ReduceSum whose axes are computed at run time. The one form read is exportOnnx's sumLike:
 * axes = Reshape(NonZero(Equal(S, 1)), [-1]) with S = Shape(ref), or Concat(ones, Shape(ref)) for
 * leading axes, keepdims and noop_with_empty_axes set — that is sumLike(x, ref), with the leading
 * axes kept as 1s.
 */
function runTimeSumAxes(c: ImportCtx): Value {
  const refuse = () => c.unsupported('ReduceSum over axes computed at run time (only the form exportOnnx writes for sumLike is read)');
  const by = (name: string | undefined, type: string) => {
    const p = name ? c.producer(name) : undefined;
    return p && p.op_type === type ? p : undefined;
  };
  const flat = by(c.node.input[1], 'Reshape');
  const nz = by(flat?.input[0], 'NonZero');
  const eq = by(nz?.input[0], 'Equal');
  if (!eq || !c.attr.i('keepdims', 1) || !c.attr.i('noop_with_empty_axes', 0)) throw refuse();
  const isOne = (name: string) => {
    const h = c.valueOf(name);
    return isHost(h) && numeric(h) && h.data.length === 1 && h.data[0] === 1;
  };
  const shapeName = isOne(eq.input[1]) ? eq.input[0] : isOne(eq.input[0]) ? eq.input[1] : undefined;
  let lead = 0;
  let shapeNode = by(shapeName, 'Shape');
  const cat = by(shapeName, 'Concat');
  if (cat && cat.input.length === 2) {
    const ones = c.valueOf(cat.input[0]);
    if (isHost(ones) && numeric(ones) && ones.data.every((d) => d === 1)) {
      lead = ones.data.length;
      shapeNode = by(cat.input[1], 'Shape');
    }
  }
  const ref = shapeNode && c.valueOf(shapeNode.input[0]);
  if (!ref || isHost(ref)) throw refuse();
  const summed = core.sumLike(c.sym(0), ref);
  return lead ? core.expandDims(summed, [...Array(lead).keys()]) : summed;
}

/**
 * Scan as exportOnnx writes linearRecurrence: states (h, first) and scan inputs (a, b) along one
 * axis, one direction, the body h' = Where(first, b, a·h + b), first' = false, out = h'. That is
 * linearRecurrence(a, b) (first must start true, so h's initial value is never read).
 */
function scan(c: ImportCtx): (Value | undefined)[] {
  const refuse = (why: string) => c.unsupported(`Scan ${why} (only the form exportOnnx writes for linearRecurrence is read)`);
  const body = c.node.attribute?.find((a) => a.name === 'body')?.g;
  if (!body || c.attr.i('num_scan_inputs', 0) !== 2 || c.arity !== 4) throw refuse('with other than 2 states and 2 scan inputs');
  const axes = c.attr.ints('scan_input_axes', [0, 0]);
  const dirs = c.attr.ints('scan_input_directions', [0, 0]);
  const outAxes = c.attr.ints('scan_output_axes', [0]);
  const outDirs = c.attr.ints('scan_output_directions', [0]);
  if (axes[0] !== axes[1] || outAxes[0] !== axes[0] || dirs[0] !== dirs[1] || outDirs[0] !== dirs[0]) throw refuse('whose inputs and output run along different axes or ways');
  const [h, first, a, b] = (body.input ?? []).map((v) => v.name);
  const [hNext, , out] = (body.output ?? []).map((v) => v.name);
  const made = new Map((body.node ?? []).map((n) => [n.output[0], n]));
  const where = made.get(hNext);
  const id = made.get(out);
  const sum = where?.op_type === 'Where' ? made.get(where.input[2]) : undefined;
  const prod = sum?.op_type === 'Add' ? made.get(sum.input.find((s) => s !== b) ?? '') : undefined;
  const ok =
    where && where.input[0] === first && where.input[1] === b && sum && sum.input.includes(b) && prod?.op_type === 'Mul' && [...prod.input].sort().join() === [a, h].sort().join() && id?.op_type === 'Identity' && id.input[0] === hNext;
  if (!ok) throw refuse('with a body other than h = Where(first, b, a·h + b)');
  const start = c.host(1);
  if (!numeric(start) || start.data[0] !== 1) throw refuse('whose first-step flag does not start true');
  const as = c.sym(2);
  return [undefined, undefined, core.linearRecurrence(as, c.sym(3), { axis: normAxis(c, axes[0], as.rank), reverse: dirs[0] === 1 })];
}

/** IsInf(x) with detect_positive / detect_negative. */
function isInf(c: ImportCtx): Sym {
  const x = c.sym(0);
  const pos = c.attr.i('detect_positive', 1);
  const neg = c.attr.i('detect_negative', 1);
  if (pos && neg) return core.equal(core.abs(x), Infinity);
  if (pos) return core.equal(x, Infinity);
  if (neg) return core.equal(x, -Infinity);
  return core.logicalAnd(core.equal(x, Infinity), core.equal(x, -Infinity)); // neither: all false
}

function random(kind: 'uniform' | 'normal', like: boolean): ImportRule {
  return {
    build: (c) => {
      const dtype = c.attr.has('dtype') ? dtypeOf(c.attr.i('dtype'), `${c.node.op_type} dtype`) : like ? c.sym(0).dtype : 'float32';
      const name = c.node.name || `random_${c.node.output[0]}`;
      const opts = { dtype, name: name.replace(/\//g, '.') };
      if (kind === 'uniform') {
        const r = { ...opts, low: c.attr.f('low', 0), high: c.attr.f('high', 1) };
        return like ? core.randomUniformLike(c.sym(0), r) : core.randomUniform(c.g, c.attr.ints('shape'), r);
      }
      const r = { ...opts, mean: c.attr.f('mean', 0), std: c.attr.f('scale', 1) };
      return like ? core.randomNormalLike(c.sym(0), r) : core.randomNormal(c.g, c.attr.ints('shape'), r);
    },
  };
}

/** where(x > 0, x, x·a): nn's PReLU, whatever a's shape (it broadcasts as ONNX's slope does). */
function prelu(x: Sym, a: Sym): Sym {
  return core.where(x.greater(0), x, x.mul(a));
}

/**
 * One row per ONNX op type. Conv, MaxPool, AveragePool and GlobalAveragePool are not here yet:
 * they need gradgraph's channels-last convolutions (with NCHW ↔ NHWC transposes around them).
 */
export const importers: Record<string, ImportRule> = {
  Identity: { build: (c) => c.value(0) },
  // inference: the identity (a mask output, if read, is refused by the reader)
  Dropout: {
    host: [1, 2],
    build: (c) => {
      if (c.has(2) && c.numbers(2)[0]) throw c.unsupported('Dropout in training mode (training_mode = true)');
      return c.value(0);
    },
  },
  Constant: {
    build: (c) => {
      const a = c.node.attribute?.[0];
      if (!a) throw new OnnxFormatError(`Constant node "${c.node.name}" has no value`, { op: 'importOnnx' });
      switch (a.name) {
        case 'value':
          return c.attr.t('value')!;
        case 'value_float':
          return host(ElemType.FLOAT, [], [c.attr.f('value_float')]);
        case 'value_floats':
          return host(ElemType.FLOAT, [(a.floats ?? []).length], a.floats ?? []);
        case 'value_int':
          return host(ElemType.INT64, [], [c.attr.i('value_int')]);
        case 'value_ints': {
          const v = c.attr.ints('value_ints');
          return host(ElemType.INT64, [v.length], v);
        }
        default:
          throw c.unsupported(`Constant with ${a.name}`);
      }
    },
  },
  Shape: { build: shape },
  ConstantOfShape: { host: [0], build: constantOfShape },
  Cast: { build: cast },
  // elementwise
  Neg: un(core.neg),
  Exp: un(core.exp),
  Log: un(core.log),
  Tanh: un(core.tanh),
  Sigmoid: un(core.sigmoid),
  Abs: un(core.abs),
  Sign: un(core.sign),
  Sqrt: un(core.sqrt),
  Reciprocal: un(core.reciprocal),
  Sin: un(core.sin),
  Cos: un(core.cos),
  Softplus: un(core.softplus),
  Erf: un(core.erf),
  Asin: un(core.asin),
  Acos: un(core.acos),
  Atan: un(core.atan),
  Sinh: un(core.sinh),
  Cosh: un(core.cosh),
  Asinh: un(core.asinh),
  Acosh: un(core.acosh),
  Atanh: un(core.atanh),
  IsInf: { build: isInf },
  Not: un(core.logicalNot),
  Relu: un(nn.relu),
  LeakyRelu: { build: (c) => nn.leakyRelu(c.sym(0), c.attr.f('alpha', 0.01)) },
  PRelu: { build: (c) => prelu(c.sym(0), c.sym(1)) },
  Clip: {
    build: (c) => {
      let x = c.sym(0);
      if (c.has(1)) x = core.maximum(x, c.sym(1));
      if (c.has(2)) x = core.minimum(x, c.sym(2));
      return x;
    },
  },
  Add: bin(core.add, (a, b) => a + b),
  Sub: bin(core.sub, (a, b) => a - b),
  Mul: bin(core.mul, (a, b) => a * b),
  Div: bin(intKeeping(core.div), (a, b, int) => (int ? Math.trunc(a / b) : a / b)),
  Pow: bin(intKeeping(core.pow)),
  Max: bin(core.maximum),
  Min: bin(core.minimum),
  Sum: bin(core.add),
  Greater: bin(core.greater),
  GreaterOrEqual: bin(core.greaterEqual),
  Less: bin(core.less),
  LessOrEqual: bin(core.lessEqual),
  Equal: bin(core.equal),
  And: bin(core.logicalAnd),
  Or: bin(core.logicalOr),
  Where: { build: (c) => core.where(c.sym(0), c.sym(1), c.sym(2)) },
  // reductions
  ReduceSum: {
    host: [1],
    build: (c) => (c.has(1) && c.deferred(1) ? runTimeSumAxes(c) : reduceRule((x, axes, keep) => core.sum(x, axes, keep)).build(c)),
  },
  ReduceMean: reduceRule((x, axes, keep) => core.mean(x, axes, keep)),
  ReduceMax: reduceRule((x, axes, keep) => core.max(x, axes, keep)),
  ReduceMin: reduceRule((x, axes, keep) => core.min(x, axes, keep)),
  ReduceLogSumExp: reduceRule((x, axes, keep) => core.logsumexp(x, axes, keep)),
  ReduceProd: { host: [1], build: reduceProd },
  ArgMax: { build: (c) => argRule(c, core.argmax) },
  ArgMin: { build: (c) => argRule(c, core.argmin) },
  Softmax: { build: (c) => core.softmax(c.sym(0), c.attr.i('axis', -1)) },
  LogSoftmax: { build: (c) => core.logSoftmax(c.sym(0), c.attr.i('axis', -1)) },
  // linear algebra
  MatMul: { build: (c) => core.matmul(c.sym(0), c.sym(1)) },
  Gemm: { build: gemm },
  BatchNormalization: { state: [3, 4], build: batchNorm },
  // shapes
  Reshape: { host: [1], build: reshape },
  Flatten: { build: flatten },
  Transpose: {
    build: (c) => {
      const x = c.sym(0);
      return core.transpose(x, c.attr.has('perm') ? c.attr.ints('perm') : undefined);
    },
  },
  Expand: { host: [1], build: expand },
  Unsqueeze: { host: [1], build: unsqueeze },
  Squeeze: { host: [1], build: squeeze },
  Slice: { host: [1, 2, 3, 4], build: slice },
  Concat: { build: concat },
  NonZero: { build: nonZero },
  // cumulative sums, and linearRecurrence in the Scan form exportOnnx writes
  CumSum: {
    host: [1],
    build: (c) => {
      const x = c.sym(0);
      return core.cumsum(x, normAxis(c, c.numbers(1)[0], x.rank), { exclusive: !!c.attr.i('exclusive', 0), reverse: !!c.attr.i('reverse', 0) });
    },
  },
  Scan: { build: scan },
  Gather: { build: gather },
  ScatterElements: { host: [1], build: scatterElements },
  Pad: {
    host: [1, 2, 3],
    build: (c) => {
      const mode = c.attr.s('mode', 'constant');
      if (mode !== 'constant') throw c.unsupported(`Pad mode "${mode}" (only constant)`);
      const x = c.sym(0);
      const pads = c.numbers(1);
      const axes = c.has(3) ? c.numbers(3).map((a) => normAxis(c, a, x.rank)) : [...Array(x.rank).keys()];
      if (pads.some((p) => p < 0)) throw c.unsupported('Pad with negative pads');
      const pairs = Array.from({ length: x.rank }, () => [0, 0] as [number, number]);
      axes.forEach((a, k) => (pairs[a] = [pads[k], pads[k + axes.length]]));
      const value = c.has(2) ? c.numbers(2)[0] ?? 0 : 0;
      return core.pad(x, pairs, value);
    },
  },
  // random
  RandomUniform: random('uniform', false),
  RandomNormal: random('normal', false),
  RandomUniformLike: random('uniform', true),
  RandomNormalLike: random('normal', true),
};

function argRule(c: ImportCtx, f: (x: Sym, axis: number, keep: boolean) => Sym): Sym {
  if (c.attr.i('select_last_index', 0)) throw c.unsupported('select_last_index = 1 (gradgraph picks the first on ties)');
  return f(c.sym(0), c.attr.i('axis', 0), !!c.attr.i('keepdims', 1));
}

// ---- reading attributes ----------------------------------------------------------------------

function attrReader(node: NodeProto, what: () => string) {
  const get = (name: string) => node.attribute?.find((a) => a.name === name);
  const missing = (name: string) => new OnnxFormatError(`${what()} lacks its attribute "${name}"`, { op: 'importOnnx' });
  return {
    has: (name: string) => !!get(name),
    i: (name: string, def?: number) => {
      const a = get(name);
      if (!a) {
        if (def === undefined) throw missing(name);
        return def;
      }
      return Number(a.i ?? 0);
    },
    f: (name: string, def?: number) => {
      const a = get(name);
      if (!a) {
        if (def === undefined) throw missing(name);
        return def;
      }
      return a.f ?? 0;
    },
    ints: (name: string, def?: readonly number[]) => {
      const a = get(name);
      if (!a) {
        if (def === undefined) throw missing(name);
        return [...def];
      }
      return (a.ints ?? []).map(Number);
    },
    s: (name: string, def?: string) => {
      const a = get(name);
      if (!a) {
        if (def === undefined) throw missing(name);
        return def;
      }
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    },
    t: (name: string): Host | undefined => {
      const a = get(name);
      if (!a || !a.t) return undefined;
      const { elem, dims, values } = readTensorProto(a.t, `${what()} attribute ${name}`);
      return host(elem, dims, values);
    },
  };
}

// ---- the driver ------------------------------------------------------------------------------

function dimsOf(v: ValueInfoProto): (number | null)[] {
  const dims = v.type?.tensor_type?.shape?.dim ?? [];
  return dims.map((d) => (d.dim_value !== undefined && d.dim_value !== null && d.dim_param === undefined ? Number(d.dim_value) : null));
}

/** The scope path of an ONNX node name: `/fc1/Gemm` → `fc1`, `hidden/dense/matmul_5` → `hidden/dense`. */
function scopesOf(name: string | undefined): string[] {
  if (!name || !name.includes('/')) return [];
  return name.split('/').slice(0, -1).filter((s) => s.length > 0);
}

function inScopes<T>(g: Graph, scopes: readonly string[], fn: () => T): T {
  return scopes.length ? g.scope(scopes[0], () => inScopes(g, scopes.slice(1), fn)) : fn();
}

export interface ImportOptions {
  /**
   * Build into this graph instead of a new one: the model's params are created in its current
   * scope, and its inputs are taken from `inputs` where given (a model applied to your symbols).
   */
  graph?: Graph;
  /** Symbols of `graph` to use for the model's inputs, by input name. */
  inputs?: Readonly<Record<string, Sym>>;
}

/**
 * A gradgraph graph from ONNX model bytes: inputs and outputs named as in the file, float
 * initializers as params (trainable; BatchNormalization's running statistics as state). An op
 * with no translation, an opset outside 13–21 or malformed bytes throw `OnnxUnsupportedError`,
 * `OnnxOpsetError` or `OnnxFormatError`.
 * @example
 * const { graph, inputs, outputs } = await importOnnx(readFileSync('mlp.onnx'));
 * const [y] = compile(graph, { inputs, outputs }).run({ [inputs[0].name!]: x });
 */
export async function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Promise<ImportResult> {
  return buildFromModel(await decodeModel(bytes), opts);
}

/** importOnnx after decoding: builds the graph of a decoded model (synchronous). */
export function buildFromModel(model: ModelProto, opts: ImportOptions = {}): ImportResult {
  const gp = model.graph;
  if (!gp) throw new OnnxFormatError('the model has no graph (not an ONNX model, or truncated)', { op: 'importOnnx' });
  const opsets = model.opset_import ?? [];
  const main = opsets.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!main) throw new OnnxOpsetError('the model imports no default-domain (ai.onnx) opset', { op: 'importOnnx' });
  const opset = Number(main.version ?? 0);
  if (opset < IMPORT_OPSETS.min || opset > IMPORT_OPSETS.max) {
    throw new OnnxOpsetError(`opset ${opset} is not one importOnnx reads (${IMPORT_OPSETS.min}–${IMPORT_OPSETS.max}); re-export the model with an opset in that range`, { op: 'importOnnx' });
  }
  const meta = new Map((model.metadata_props ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const seed = Number(meta.get(META.seed) ?? 0);
  let stateNames: string[] = [];
  try {
    stateNames = meta.has(META.state) ? (JSON.parse(meta.get(META.state)!) as string[]) : [];
  } catch {
    stateNames = [];
  }
  const g = opts.graph ?? new Graph({ seed: Number.isFinite(seed) ? seed : 0 });
  const given = opts.inputs ?? {};
  for (const [name, s] of Object.entries(given)) {
    if (!(s instanceof core.Sym) || s.graph !== g) throw new core.GraphError(`inputs.${name} must be a symbol of the graph given as \`graph\``, { op: 'importOnnx', origin: core.captureOrigin() });
    if (!(gp.input ?? []).some((v) => v.name === name)) throw new core.GraphError(`the model has no input named "${name}"; its inputs are ${(gp.input ?? []).map((v) => `"${v.name}"`).join(', ')}`, { op: 'importOnnx', origin: core.captureOrigin() });
  }
  const nodes = gp.node ?? [];

  // which initializers feed computation (params) and which are read at import time (host)
  const inits = new Map<string, TensorProto>();
  for (const t of gp.initializer ?? []) {
    if (!t.name) throw new OnnxFormatError('an initializer has no name', { op: 'importOnnx' });
    inits.set(t.name, t);
  }
  const inputNames = new Set((gp.input ?? []).map((v) => v.name));
  const dataUse = new Set<string>();
  const stateUse = new Set<string>(stateNames);
  for (const n of nodes) {
    const rule = importers[n.op_type];
    n.input.forEach((name, k) => {
      if (!name || !inits.has(name)) return;
      if (!rule?.host?.includes(k)) dataUse.add(name);
      if (rule?.state?.includes(k)) stateUse.add(name);
    });
  }
  for (const v of gp.output ?? []) if (inits.has(v.name)) dataUse.add(v.name);

  const values = new Map<string, Value>();
  for (const [name, t] of inits) {
    if (inputNames.has(name)) continue; // an input's default, below
    const { elem, dims, values: vs } = readTensorProto(t, `initializer "${name}"`);
    if (dataUse.has(name) && (elem === ElemType.FLOAT || elem === ElemType.DOUBLE)) {
      values.set(name, g.param(name, toTensor(elem, dims, vs, `initializer "${name}"`), { trainable: !stateUse.has(name) }));
    } else values.set(name, host(elem, dims, vs));
  }
  const inputs: Sym[] = [];
  for (const v of gp.input ?? []) {
    const elem = v.type?.tensor_type?.elem_type;
    const dtype = dtypeOf(elem, `input "${v.name}"`);
    const def = inits.get(v.name);
    const defT = def ? (() => {
      const r = readTensorProto(def, `default of input "${v.name}"`);
      return toTensor(r.elem, r.dims, r.values, `default of input "${v.name}"`);
    })() : undefined;
    const s = given[v.name] ?? g.input(v.name, dimsOf(v), dtype, defT ? { default: defT } : {});
    inputs.push(s);
    values.set(v.name, s);
  }

  const materialize = (h: Host, like?: DType, what = 'a value'): Sym => {
    if (!numeric(h)) {
      if (h.shape.length === 0 && isDim(h.data[0])) return core.cast(shapeSize(h.data[0].sym, [h.data[0].axis], 'float32'), like ?? 'int32');
      throw new OnnxUnsupportedError(`${what} is a shape computed at run time used as data`, { op: 'importOnnx' });
    }
    let t = toTensor(h.elem, h.shape, h.data as number[], what);
    if (like && t.dtype !== like && (like === 'float32' || like === 'float64') && (t.dtype === 'float32' || t.dtype === 'float64')) t = t.astype(like);
    return g.constant(t);
  };

  const unmade = new Map<string, string>(); // outputs a row leaves out, and whose
  // shape arithmetic on run-time dims that can't be done at import time: an error for whoever reads it
  const deferred = new Map<string, OnnxUnsupportedError>();
  const producers = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output) if (o) producers.set(o, n);
  nodes.forEach((node, index) => {
    const label = `${node.op_type} node "${node.name || `#${index}`}"`;
    if (node.domain && node.domain !== 'ai.onnx') throw new OnnxUnsupportedError(`unsupported op ${node.domain}.${node.op_type} (${label}): only the default ONNX domain is read`, { op: node.op_type });
    const rule = importers[node.op_type];
    if (!rule) throw new OnnxUnsupportedError(`unsupported op ${node.op_type} (${label})`, { op: node.op_type });
    const given = node.input.map((name) => !!name);
    const read = (i: number): Value => {
      const name = node.input[i];
      if (!name) throw new OnnxFormatError(`${label} has no input ${i}`, { op: 'importOnnx' });
      const v = values.get(name);
      const later = deferred.get(name);
      if (later) throw later;
      if (v === undefined && unmade.has(name)) throw new OnnxUnsupportedError(`${label} reads "${name}", an output of ${unmade.get(name)} that gradgraph does not compute (a Dropout mask, say)`, { op: node.op_type });
      if (v === undefined) throw new OnnxFormatError(`${label} reads "${name}", which no earlier node, input or initializer defines`, { op: 'importOnnx' });
      return v;
    };
    const unsupported = (detail: string) => new OnnxUnsupportedError(`${detail} (${label})`, { op: node.op_type });
    const ctx: ImportCtx = {
      g,
      node,
      opset,
      arity: node.input.length,
      has: (i) => !!given[i],
      value: read,
      sym: (i) => {
        const v = read(i);
        return isHost(v) ? materialize(v, undefined, `input ${i} of ${label}`) : v;
      },
      host: (i) => {
        const v = read(i);
        if (!isHost(v)) throw unsupported(`input ${i} ("${node.input[i]}") must be known when the model is imported, but it is computed at run time`);
        return v;
      },
      numbers: (i) => {
        const v = ctx.host(i);
        if (!numeric(v)) throw unsupported(`input ${i} ("${node.input[i]}") depends on dims known only at run time`);
        return v.data as number[];
      },
      allHost: () => node.input.every((name, i) => !name || isHost(read(i))),
      attr: attrReader(node, () => label),
      unsupported,
      deferred: (i) => deferred.has(node.input[i]),
      producer: (name) => producers.get(name),
      valueOf: (name) => values.get(name),
      materialize: (h, like) => materialize(h, like),
    };
    const origin = node.doc_string ? node.doc_string.split('\n')[0].trim() || label : `onnx ${label}`;
    let out: Value | (Value | undefined)[];
    try {
      out = g.withOrigin(origin, () => inScopes(g, scopesOf(node.name), () => rule.build(ctx)));
    } catch (e) {
      let err = e;
      if (e instanceof core.GradgraphError && !(e instanceof OnnxUnsupportedError) && !(e instanceof OnnxFormatError)) {
        err = new OnnxUnsupportedError(`${label} does not fit gradgraph: ${e.detail}`, { op: node.op_type, shapes: e.shapes, origin });
      }
      // arithmetic on run-time shapes the importer can't fold waits for a reader that knows its form
      const onShapes = node.input.some((name) => {
        const v = values.get(name);
        return deferred.has(name) || (isHost(v) && !numeric(v));
      });
      if (err instanceof OnnxUnsupportedError && onShapes) {
        for (const name of node.output) if (name) deferred.set(name, err);
        return;
      }
      throw err;
    }
    const outs = Array.isArray(out) ? out : [out];
    node.output.forEach((name, k) => {
      if (name && outs[k] !== undefined) values.set(name, outs[k]!);
      else if (name) unmade.set(name, label);
    });
  });

  const outputNames = (gp.output ?? []).map((v) => v.name);
  const outputs = outputNames.map((name) => {
    const v = values.get(name);
    if (deferred.has(name)) throw deferred.get(name)!;
    if (v === undefined) throw new OnnxFormatError(`graph output "${name}" is not computed by any node`, { op: 'importOnnx' });
    return isHost(v) ? materialize(v, undefined, `output "${name}"`) : v;
  });
  return {
    graph: g,
    inputs,
    outputs,
    outputNames,
    opset,
    producer: [model.producer_name, model.producer_version].filter(Boolean).join(' '),
    ...(model.doc_string ? { docString: model.doc_string } : {}),
  };
}
