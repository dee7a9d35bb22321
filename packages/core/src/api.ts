/**
 * Free functions that build graph nodes. Each is also a method on `Sym`. Plain numbers are
 * accepted as operands and take the dtype of their partner (weak typing, as in JAX); two symbols
 * of different dtypes are promoted (bool < int32 < float32 < float64).
 */
import { isFloat, promote, type DType } from './dtype';
import { GraphError, ShapeError, checkOptionNames } from './errors';
import { Graph, Sym, type Operand } from './graph';
import type { Attrs } from './ir';
import { captureOrigin } from './origin';
import { isStatic, type SymShape } from './shape';
import { Tensor } from './tensor';

function graphOf(op: string, ...xs: unknown[]): Graph {
  for (const x of xs) if (x instanceof Sym) return x.graph;
  throw new GraphError('needs at least one symbolic operand; got only numbers', { op, origin: captureOrigin() });
}

/** The dtype a plain number takes next to a symbol of dtype `partner`. */
function weakDtype(partner: DType, v: number): DType {
  if (partner === 'bool') return Number.isInteger(v) ? 'int32' : 'float32';
  if (partner === 'int32' && !Number.isInteger(v)) return 'float32';
  return partner;
}

function checkOperand(op: string, x: unknown): void {
  if (!(x instanceof Sym) && typeof x !== 'number') {
    throw new GraphError(`operand is ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}; pass a symbol or a number (use g.constant for arrays)`, { op, origin: captureOrigin() });
  }
}

/** Makes two operands symbols of one dtype. */
function unify(op: string, a: Operand, b: Operand): [Sym, Sym] {
  checkOperand(op, a);
  checkOperand(op, b);
  const g = graphOf(op, a, b);
  let dt: DType;
  if (a instanceof Sym && b instanceof Sym) dt = promote(a.dtype, b.dtype);
  else if (a instanceof Sym) dt = weakDtype(a.dtype, b as number);
  else dt = weakDtype((b as Sym).dtype, a as number);
  const lift = (x: Operand) => (x instanceof Sym ? (x.dtype === dt ? x : cast(x, dt)) : g.constant(x, dt));
  return [lift(a), lift(b)];
}

function binary(op: string, a: Operand, b: Operand, attrs: Attrs = {}): Sym {
  const [x, y] = unify(op, a, b);
  return x.graph.apply(op, [x, y], attrs);
}

function checkSym(op: string, x: unknown): asserts x is Sym {
  if (!(x instanceof Sym)) {
    checkOperand(op, x);
    throw new GraphError('operand must be a symbol, not a number', { op, origin: captureOrigin() });
  }
}

function unary(op: string, x: Sym, attrs: Attrs = {}): Sym {
  checkSym(op, x);
  return x.graph.apply(op, [x], attrs);
}

/** A unary op on floats: ints and bools become float32 first (div, exp, ...), as in NumPy. */
function unaryF(op: string, x: Sym, attrs: Attrs = {}): Sym {
  checkSym(op, x);
  return x.graph.apply(op, [floatish(x)], attrs);
}

function floatish(x: Sym): Sym {
  return isFloat(x.dtype) ? x : cast(x, 'float32');
}

// ---- elementwise ---------------------------------------------------------------------------

export const add = (a: Operand, b: Operand): Sym => binary('add', a, b);
export const sub = (a: Operand, b: Operand): Sym => binary('sub', a, b);
export const mul = (a: Operand, b: Operand): Sym => binary('mul', a, b);
/** True division; integer operands are promoted to float32. */
export const div = (a: Operand, b: Operand): Sym => {
  const [x, y] = unify('div', a, b);
  return x.graph.apply('div', [floatish(x), floatish(y)]);
};
export const pow = (a: Operand, b: Operand): Sym => {
  const [x, y] = unify('pow', a, b);
  return x.graph.apply('pow', [floatish(x), floatish(y)]);
};
/** Elementwise max; at ties the gradient is split equally. */
export const maximum = (a: Operand, b: Operand): Sym => binary('maximum', a, b);
/** Elementwise min; at ties the gradient is split equally. */
export const minimum = (a: Operand, b: Operand): Sym => binary('minimum', a, b);
export const greater = (a: Operand, b: Operand): Sym => binary('greater', a, b);
export const greaterEqual = (a: Operand, b: Operand): Sym => binary('greaterEqual', a, b);
export const less = (a: Operand, b: Operand): Sym => binary('less', a, b);
export const lessEqual = (a: Operand, b: Operand): Sym => binary('lessEqual', a, b);
export const equal = (a: Operand, b: Operand): Sym => binary('equal', a, b);
export const notEqual = (a: Operand, b: Operand): Sym => binary('notEqual', a, b);
export const logicalAnd = (a: Operand, b: Operand): Sym => binary('logicalAnd', toBool(a), toBool(b));
export const logicalOr = (a: Operand, b: Operand): Sym => binary('logicalOr', toBool(a), toBool(b));
export const logicalNot = (x: Sym): Sym => unary('logicalNot', toBool(x) as Sym);

function toBool(x: Operand): Operand {
  if (typeof x === 'number') return x;
  return x.dtype === 'bool' ? x : notEqual(x, 0);
}

export const neg = (x: Sym): Sym => unary('neg', x);
export const exp = (x: Sym): Sym => unaryF('exp', x);
export const log = (x: Sym): Sym => unaryF('log', x);
export const tanh = (x: Sym): Sym => unaryF('tanh', x);
/** σ(x) = 1/(1+e⁻ˣ), computed without overflow for large |x|. */
export const sigmoid = (x: Sym): Sym => unaryF('sigmoid', x);
export const abs = (x: Sym): Sym => unary('abs', x);
export const sign = (x: Sym): Sym => unary('sign', x);
export const log1p = (x: Sym): Sym => unaryF('log1p', x);
export const expm1 = (x: Sym): Sym => unaryF('expm1', x);
export const sqrt = (x: Sym): Sym => unaryF('sqrt', x);
/** 1/√x. */
export const rsqrt = (x: Sym): Sym => unaryF('rsqrt', x);
export const sin = (x: Sym): Sym => unaryF('sin', x);
export const cos = (x: Sym): Sym => unaryF('cos', x);
/** log(1+eˣ), stable for large |x|. */
export const softplus = (x: Sym): Sym => unaryF('softplus', x);
export const reciprocal = (x: Sym): Sym => unaryF('reciprocal', x);
/** x·x. */
export const square = (x: Sym): Sym => mul(x, x);
/** min(max(x, lo), hi). */
export const clip = (x: Sym, lo: Operand, hi: Operand): Sym => minimum(maximum(x, lo), hi);

/**
 * `cond ? a : b`, elementwise with broadcasting. A number takes the other branch's dtype; with
 * two numbers pass `dtype`.
 */
export function where(cond: Sym, a: Operand, b: Operand, dtype?: DType): Sym {
  checkOperand('where', cond);
  if (!(cond instanceof Sym)) throw new GraphError('condition must be a symbol', { op: 'where', origin: captureOrigin() });
  const g = cond.graph;
  let x: Sym;
  let y: Sym;
  if (typeof a === 'number' && typeof b === 'number') {
    x = g.constant(a, dtype ?? 'float32');
    y = g.constant(b, dtype ?? 'float32');
  } else [x, y] = unify('where', a, b);
  return g.apply('where', [toBool(cond) as Sym, x, y]);
}

export const cast = (x: Sym, dtype: DType): Sym => (x.dtype === dtype ? x : unary('cast', x, { dtype }));

/** Blocks gradients: the value passes, its adjoint is zero. */
export const stopGradient = (x: Sym): Sym => unary('stopGradient', x);

// ---- reductions ----------------------------------------------------------------------------

type Axes = number | readonly number[] | undefined;

export const sum = (x: Sym, axes?: Axes, keepDims = false): Sym => unary('sum', x, { axes, keepDims });
export const mean = (x: Sym, axes?: Axes, keepDims = false): Sym => unaryF('mean', x, { axes, keepDims });
export const max = (x: Sym, axes?: Axes, keepDims = false): Sym => unary('max', x, { axes, keepDims });
export const min = (x: Sym, axes?: Axes, keepDims = false): Sym => unary('min', x, { axes, keepDims });
/** log Σ eˣ over `axes`, computed with the max subtracted. */
export const logsumexp = (x: Sym, axes?: Axes, keepDims = false): Sym => unaryF('logsumexp', x, { axes, keepDims });
export const argmax = (x: Sym, axis = -1, keepDims = false): Sym => unary('argmax', x, { axis, keepDims });
export const argmin = (x: Sym, axis = -1, keepDims = false): Sym => unary('argmin', x, { axis, keepDims });

/** Number of elements of `x` over `axes` (all by default), as a scalar of `dtype`; known at run time. */
export const shapeSize = (x: Sym, axes?: Axes, dtype: DType = isFloat(x.dtype) ? x.dtype : 'float32'): Sym => unary('shapeSize', x, { axes, dtype });

// ---- linear algebra ------------------------------------------------------------------------

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/**
 * Matrix product with NumPy semantics: batch dims broadcast; a 1-d operand is a row (left) or a
 * column (right) vector and its dim is dropped from the result.
 */
export function matmul(a: Sym, b: Sym, opts: MatmulOptions = {}): Sym {
  checkOptionNames(opts, ['transposeA', 'transposeB'], (d) => new GraphError(d, { op: 'matmul', origin: captureOrigin() }));
  checkOperand('matmul', a);
  checkOperand('matmul', b);
  const [x, y] = unify('matmul', a, b);
  const av = x.rank === 1;
  const bv = y.rank === 1;
  const xa = av ? expandDims(x, 0) : x;
  const yb = bv ? expandDims(y, -1) : y;
  let out = x.graph.apply('matmul', [xa, yb], { transposeA: av ? false : !!opts.transposeA, transposeB: bv ? false : !!opts.transposeB });
  if (bv) out = squeeze(out, -1);
  if (av) out = squeeze(out, -2 + (bv ? 1 : 0));
  return out;
}

// ---- shapes --------------------------------------------------------------------------------

/** A new shape of the same size; one dim may be -1 (inferred). */
export const reshape = (x: Sym, shape: readonly number[]): Sym => unary('reshape', x, { shape });
/** Permutes axes; without `perm`, reverses them (NumPy). */
export const transpose = (x: Sym, perm?: readonly number[]): Sym => unary('transpose', x, { perm: perm ?? [...Array(x.rank).keys()].reverse() });
export const broadcastTo = (x: Sym, shape: readonly number[]): Sym => unary('broadcastTo', x, { shape });
export const expandDims = (x: Sym, axes: number | readonly number[]): Sym => unary('expandDims', x, { axes });
/** Drops size-1 axes (all statically known ones by default). */
export const squeeze = (x: Sym, axes?: number | readonly number[]): Sym =>
  unary('squeeze', x, { axes: axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) });
/**
 * The block of `x` that starts at `begin` and has `size` elements on each axis (TensorFlow's
 * `slice`). A size of `-1` (or a missing `size`) runs to the end of the axis; any other negative
 * size is an error. A negative `begin` counts from the end (`-1` is the last element; the dim
 * must then be known).
 * @example x.slice([0, 1], [-1, 2]) // all rows, columns 1..2
 * @example slice(x, [-2], [-1]) // the last two elements
 */
export function slice(x: Sym, begin: readonly number[], size?: readonly number[]): Sym {
  if (!(x instanceof Sym)) throw new GraphError('slice needs a symbol', { op: 'slice', origin: captureOrigin() });
  const bad = (detail: string) => new ShapeError(detail, { op: 'slice', shapes: [x.shape], origin: captureOrigin() });
  if (!Array.isArray(begin) || !begin.every(Number.isInteger)) throw bad(`begin must be an array of integers, got ${JSON.stringify(begin)}`);
  if (size !== undefined && (!Array.isArray(size) || size.length !== begin.length || !size.every(Number.isInteger))) throw bad(`size must be an array of ${begin.length} integers, got ${JSON.stringify(size)}`);
  const end = begin.map((b, i) => {
    const s = size?.[i] ?? -1;
    if (s === -1) return null;
    if (s < 0) throw bad(`size ${s} on axis ${i} is negative; use -1 for "to the end of the axis"`);
    if (b >= 0) return b + s;
    // a negative begin counts from the end: the block ends s elements later, at most at the end
    if (b + s > 0) throw bad(`begin ${b} with size ${s} runs past the end of axis ${i}`);
    return b + s === 0 ? null : b + s;
  });
  return unary('slice', x, { begin, end });
}
/**
 * `x[begin:end]` on each axis, Python-style: `end` is exclusive, null runs to the end and a
 * negative end counts from the end (so it works on dims unknown until run time).
 */
export const sliceRange = (x: Sym, begin: readonly number[], end: readonly (number | null)[]): Sym => unary('slice', x, { begin, end });
export function concat(xs: readonly Sym[], axis = 0): Sym {
  if (!Array.isArray(xs) || xs.length === 0) throw new GraphError('needs a non-empty array of symbols', { op: 'concat', origin: captureOrigin() });
  xs.forEach((x) => checkOperand('concat', x));
  let dt = xs[0].dtype;
  for (const x of xs) dt = promote(dt, x.dtype);
  return xs[0].graph.apply('concat', xs.map((x) => cast(x, dt)), { axis });
}
/** Elements of `x` at integer `indices` along `axis` (NumPy `take`). */
export const gather = (x: Sym, indices: Sym, axis = 0): Sym => {
  checkOperand('gather', indices);
  return x.graph.apply('gather', [x, indices], { axis });
};
/** A tensor shaped like `ref`, zero but for `updates` added at `indices` along `axis`. */
export const scatterAdd = (updates: Sym, indices: Sym, ref: Sym, axis = 0): Sym => updates.graph.apply('scatterAdd', [updates, indices, ref], { axis });
/** Pads each axis with `[before, after]` elements of `value`. */
export const pad = (x: Sym, pads: readonly (readonly [number, number])[], value = 0): Sym => unary('pad', x, { pads, value });

/** `x` broadcast to the run-time shape of `ref` (broadcast with it). */
export const broadcastLike = (x: Sym, ref: Sym): Sym => x.graph.apply('broadcastLike', [x, ref]);
/** `x` summed down to the run-time shape of `ref` (the inverse of broadcasting). */
export const sumLike = (x: Sym, ref: Sym): Sym => x.graph.apply('sumLike', [x, ref]);
/** `x` reshaped to the run-time shape of `ref`. */
export const reshapeLike = (x: Sym, ref: Sym): Sym => x.graph.apply('reshapeLike', [x, ref]);

/** A tensor of `value` shaped like `x` (statically when it can be). */
export function fullLike(x: Sym, value: number, dtype: DType = x.dtype): Sym {
  const c = x.graph.constant(value, dtype);
  return isStatic(x.shape) ? (x.rank === 0 ? c : broadcastTo(c, x.shape as number[])) : broadcastLike(c, x);
}
export const zerosLike = (x: Sym, dtype?: DType): Sym => fullLike(x, 0, dtype);
export const onesLike = (x: Sym, dtype?: DType): Sym => fullLike(x, 1, dtype);

/** `x` broadcast to `ref`'s shape: static `broadcastTo` when known, `broadcastLike` otherwise. */
export function broadcastToShapeOf(x: Sym, ref: Sym): Sym {
  if (isStatic(ref.shape)) {
    const same = x.rank === ref.rank && x.shape.every((d, i) => d === ref.shape[i]);
    return same ? x : broadcastTo(x, ref.shape as number[]);
  }
  return broadcastLike(x, ref);
}

// ---- normalizations ------------------------------------------------------------------------

export const softmax = (x: Sym, axis = -1): Sym => unaryF('softmax', x, { axis });
export const logSoftmax = (x: Sym, axis = -1): Sym => unaryF('logSoftmax', x, { axis });

/** `depth`-wide one-hot rows for integer `indices`, built from `equal` (no gradient). */
export function oneHot(indices: Sym, depth: number, dtype: DType = 'float32'): Sym {
  if (!Number.isInteger(depth) || depth <= 0) throw new GraphError(`depth must be a positive integer, got ${depth}`, { op: 'oneHot', origin: captureOrigin() });
  const classes = indices.graph.constant(Tensor.from(Array.from({ length: depth }, (_, i) => i), indices.dtype));
  return cast(equal(expandDims(indices, -1), classes), dtype);
}

/** Sum of several symbols. */
export function addN(xs: readonly Sym[]): Sym {
  if (!xs.length) throw new GraphError('needs at least one symbol', { op: 'addN', origin: captureOrigin() });
  return xs.slice(1).reduce<Sym>((acc, x) => add(acc, x), xs[0]);
}

// ---- random --------------------------------------------------------------------------------

export interface RandomOptions {
  dtype?: DType;
  /** Names the random node's key (scope path + name); otherwise an occurrence index is used. */
  name?: string;
}

/** U[low, high) samples of a static shape; fresh numbers each run, reproducible from the seed. */
export function randomUniform(g: Graph, shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Sym {
  randomOptions('randomUniform', opts, ['low', 'high']);
  return g.apply('randomUniform', [], { shape, dtype: opts.dtype ?? 'float32', low: opts.low ?? 0, high: opts.high ?? 1, key: g.randomKey(opts.name) });
}
/** U[low, high) samples shaped like `x` at run time. */
export function randomUniformLike(x: Sym, opts: RandomOptions & { low?: number; high?: number } = {}): Sym {
  randomOptions('randomUniformLike', opts, ['low', 'high']);
  const g = x.graph;
  return g.apply('randomUniform', [x], { dtype: opts.dtype ?? (isFloat(x.dtype) ? x.dtype : 'float32'), low: opts.low ?? 0, high: opts.high ?? 1, key: g.randomKey(opts.name) });
}
/** N(mean, std²) samples of a static shape. */
export function randomNormal(g: Graph, shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Sym {
  randomOptions('randomNormal', opts, ['mean', 'std']);
  return g.apply('randomNormal', [], { shape, dtype: opts.dtype ?? 'float32', mean: opts.mean ?? 0, std: opts.std ?? 1, key: g.randomKey(opts.name) });
}
/** N(mean, std²) samples shaped like `x` at run time. */
export function randomNormalLike(x: Sym, opts: RandomOptions & { mean?: number; std?: number } = {}): Sym {
  randomOptions('randomNormalLike', opts, ['mean', 'std']);
  const g = x.graph;
  return g.apply('randomNormal', [x], { dtype: opts.dtype ?? (isFloat(x.dtype) ? x.dtype : 'float32'), mean: opts.mean ?? 0, std: opts.std ?? 1, key: g.randomKey(opts.name) });
}

export type { SymShape };

/** Refuses unknown options of the random builders (`{ seed: 3 }` is not one: seeds belong to the graph). */
function randomOptions(op: string, opts: unknown, own: readonly string[]): void {
  checkOptionNames(opts, ['dtype', 'name', ...own], (d) => new GraphError(d, { op, origin: captureOrigin() }));
}
