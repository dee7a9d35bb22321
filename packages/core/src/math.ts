/**
 * The math vocabulary beyond the basic elementwise ops: the error function, trigonometric and
 * hyperbolic functions and their inverses, atan2, products, cumulative sums and products, and the
 * statistics `variance`, `std` and `norm`. Free functions; the unary elementwise ones are also
 * `Sym` methods. Some are primitives (see ops/math.ts and ops/scan.ts for why), the rest are built
 * from primitives here, with the reason and the formula next to each.
 */
import * as api from './api';
import { isFloat, promote, type DType } from './dtype';
import { axesOf, axisOf, checkOptions, floatish, requireSym } from './checks';
import { GraphError, ShapeError } from './errors';
import { Sym, type Operand } from './graph';
import { captureOrigin } from './origin';
import { shiftAlong } from './ops/rules';
import { fmtShape, isStatic, sizeOf } from './shape';
import { Tensor } from './tensor';

function unaryF(op: string, x: Sym): Sym {
  requireSym(op, x);
  return x.graph.apply(op, [floatish(x)]);
}

// ---- elementwise ---------------------------------------------------------------------------

/** The error function (2/√π)∫₀ˣ e^(−t²) dt; d/dx = (2/√π)·e^(−x²). */
export const erf = (x: Sym): Sym => unaryF('erf', x);
/** 1 − erf(x), accurate relative to itself also where it is tiny (x ≫ 1). */
export const erfc = (x: Sym): Sym => unaryF('erfc', x);
/** Arcsine, in [−π/2, π/2]. */
export const asin = (x: Sym): Sym => unaryF('asin', x);
/** Arccosine, in [0, π]. */
export const acos = (x: Sym): Sym => unaryF('acos', x);
export const sinh = (x: Sym): Sym => unaryF('sinh', x);
export const cosh = (x: Sym): Sym => unaryF('cosh', x);
export const asinh = (x: Sym): Sym => unaryF('asinh', x);
/** Inverse hyperbolic cosine (x ≥ 1). */
export const acosh = (x: Sym): Sym => unaryF('acosh', x);
/** Inverse hyperbolic tangent (|x| < 1). */
export const atanh = (x: Sym): Sym => unaryF('atanh', x);

/**
 * tan x = sin x / cos x: within 3 ulp of `Math.tan` (sin and cos are each within an ulp, also next
 * to π/2) and about 1.2× its time, so not a primitive. Its gradient comes out as
 * dy·(cos/cos + tan·sin/cos) = dy·(1 + tan²x).
 */
export function tan(x: Sym): Sym {
  requireSym('tan', x);
  const f = floatish(x);
  return api.div(api.sin(f), api.cos(f));
}

/**
 * atan2(y, x): the angle of the point (x, y) from the positive x axis, in [−π, π]. Numbers take
 * the dtype of the symbol beside them; ints become float32. At (0, 0) both gradients are 0.
 * @example atan2(y, x) // the phase of x + iy
 */
export function atan2(y: Operand, x: Operand): Sym {
  for (const v of [y, x]) if (!(v instanceof Sym) && typeof v !== 'number') requireSym('atan2', v);
  const syms = [y, x].filter((v): v is Sym => v instanceof Sym);
  if (!syms.length) throw new GraphError('needs at least one symbolic operand; got only numbers', { op: 'atan2', origin: captureOrigin() });
  const g = syms[0].graph;
  let dtype: DType = syms.map((s) => s.dtype).reduce(promote);
  if (!isFloat(dtype)) dtype = 'float32';
  const lift = (v: Operand): Sym => (v instanceof Sym ? api.cast(v, dtype) : g.constant(v, dtype));
  return g.apply('atan2', [lift(y), lift(x)]);
}

/**
 * atan x = atan2(x, 1): bit for bit the same (V8's atan2 takes atan(y) when x is 1) and as fast,
 * with the gradient 1/(1 + x²) from atan2's; so not a primitive.
 */
export function atan(x: Sym): Sym {
  requireSym('atan', x);
  return atan2(floatish(x), 1);
}

// ---- scans and products --------------------------------------------------------------------

export interface ScanOptions {
  /** Leave each element's own term out: out_i = Σ_{j<i} x_j (TF's `exclusive`). */
  exclusive?: boolean;
  /** Run from the last element to the first: out_i = Σ_{j≥i} x_j (TF's `reverse`). */
  reverse?: boolean;
}

/**
 * The linear recurrence h_i = a_i·h_{i−1} + b_i along `axis`, starting from h = b at the first
 * element (`a` is not read there); with `reverse`, h_i = a_i·h_{i+1} + b_i from the last. `a` and
 * `b` broadcast. Exponential moving averages, discounted returns and linear state-space scans are
 * this; `cumsum` is a = 1, `cumprod` is b = x at the start, 0 after. Its gradient and JVP are the
 * recurrence again (run the other way for the gradient), exact to any order.
 * @example linearRecurrence(0.9, x.mul(0.1), { axis: 0 }) // h_i = 0.9·h_{i−1} + 0.1·x_i
 */
export function linearRecurrence(a: Operand, b: Operand, opts: { axis?: number; reverse?: boolean } = {}): Sym {
  checkOptions('linearRecurrence', opts, ['axis', 'reverse']);
  for (const v of [a, b]) if (!(v instanceof Sym) && typeof v !== 'number') requireSym('linearRecurrence', v);
  const syms = [a, b].filter((v): v is Sym => v instanceof Sym);
  if (!syms.length) throw new GraphError('needs at least one symbolic operand; got only numbers', { op: 'linearRecurrence', origin: captureOrigin() });
  const g = syms[0].graph;
  let dtype: DType = syms.map((s) => s.dtype).reduce(promote);
  if (dtype === 'bool') dtype = 'int32';
  // weak typing, as in api.ts: a fractional number next to an int makes the result float32
  if (dtype === 'int32' && [a, b].some((v) => typeof v === 'number' && !Number.isInteger(v))) dtype = 'float32';
  const lift = (v: Operand): Sym => (v instanceof Sym ? api.cast(v, dtype) : g.constant(v, dtype));
  return g.apply('linearRecurrence', [lift(a), lift(b)], { axis: opts.axis ?? -1, reverse: !!opts.reverse });
}

/** A bool mask broadcastable against `x`, true at the first element along `axis` (the last with `reverse`). */
function startMask(x: Sym, axis: number, reverse: boolean): Sym {
  const n = x.shape[axis];
  if (n === null) return api.equal(shiftAlong(api.onesLike(x), axis, reverse ? -1 : 1), 0);
  const t = new Tensor('bool', [n, ...Array(x.rank - 1 - axis).fill(1)]);
  if (n > 0) t.data[reverse ? n - 1 : 0] = 1;
  return x.graph.constant(t);
}

/** Rank-0 scans: the value itself (inclusive) or the empty sum/product (exclusive), as in PyTorch. */
function scalarScan(op: string, x: Sym, axis: number, exclusive: boolean, empty: number): Sym {
  if (axis !== 0 && axis !== -1) throw new ShapeError(`axis ${axis} is out of range for a scalar (use 0 or -1)`, { op, shapes: [x.shape], origin: captureOrigin() });
  return exclusive ? x.graph.constant(empty, x.dtype) : x;
}

/**
 * Cumulative sum along `axis`, with TF's `exclusive` (leave each element out) and `reverse` (sum
 * from the end). Bools count as int32.
 * @example cumsum(x, -1)                       // [1, 2, 3] → [1, 3, 6]
 * @example cumsum(x, -1, { exclusive: true })  // [1, 2, 3] → [0, 1, 3]
 * @example cumsum(x, -1, { reverse: true })    // [1, 2, 3] → [6, 5, 3]
 */
export function cumsum(x: Sym, axis: number, opts: ScanOptions = {}): Sym {
  const op = 'cumsum';
  requireSym(op, x);
  checkOptions(op, opts, ['exclusive', 'reverse']);
  const v = x.dtype === 'bool' ? api.cast(x, 'int32') : x;
  if (v.rank === 0) return scalarScan(op, v, axis, !!opts.exclusive, 0);
  const ax = axisOf(op, v, axis);
  const reverse = !!opts.reverse;
  // exclusive: the inclusive sum of x moved one step (Σ_{j<i} x_j), not the inclusive sum minus x, which cancels
  const terms = opts.exclusive ? shiftAlong(v, ax, reverse ? -1 : 1) : v;
  return linearRecurrence(v.graph.constant(1, v.dtype), terms, { axis: ax, reverse });
}

/**
 * Cumulative product along `axis`; `exclusive` and `reverse` as for `cumsum`. Its gradient is exact
 * where x has zeros (it never divides by x), to any order.
 * @example cumprod(x, 0) // [2, 0, 3] → [2, 0, 0]; its gradient of the sum is [1, 2, 0]
 */
export function cumprod(x: Sym, axis: number, opts: ScanOptions = {}): Sym {
  const op = 'cumprod';
  requireSym(op, x);
  checkOptions(op, opts, ['exclusive', 'reverse']);
  const v = x.dtype === 'bool' ? api.cast(x, 'int32') : x;
  if (v.rank === 0) return scalarScan(op, v, axis, !!opts.exclusive, 1);
  const ax = axisOf(op, v, axis);
  const reverse = !!opts.reverse;
  const start = startMask(v, ax, reverse);
  // inclusive: h_i = x_i·h_{i−1}, h_0 = x_0;  exclusive: h_i = x_{i−1}·h_{i−1}, h_0 = 1
  if (opts.exclusive) return linearRecurrence(shiftAlong(v, ax, reverse ? -1 : 1), api.where(start, 1, 0, v.dtype), { axis: ax, reverse });
  return linearRecurrence(v, api.where(start, v, 0), { axis: ax, reverse });
}

/**
 * Product over `axes` (all by default). Its gradient Π_{j≠i} x_j is taken from exclusive products
 * from both ends, never y/x, so it is exact where x has zeros, to any order. Bools count as int32.
 * @example prod(x, 1) // [[1, 2], [3, 4]] → [2, 12]
 */
export function prod(x: Sym, axes?: number | readonly number[], keepDims = false): Sym {
  requireSym('prod', x);
  const v = x.dtype === 'bool' ? api.cast(x, 'int32') : x;
  return v.graph.apply('prod', [v], { axes, keepDims });
}

// ---- statistics ----------------------------------------------------------------------------

export interface VarianceOptions {
  /** Subtracted from the count in the denominator: 1 (default) is Bessel's correction, 0 the population variance. */
  correction?: number;
  keepDims?: boolean;
}

/** The number of elements of `x` over `axes`: a number when known, else a run-time scalar. */
function countOver(x: Sym, axes: readonly number[]): number | Sym {
  const dims = axes.map((a) => x.shape[a]);
  return isStatic(dims) ? sizeOf(dims) : api.shapeSize(x, axes, x.dtype);
}

/**
 * Variance over `axes` (all by default): Σ(x − mean)² / (n − correction), in two passes (the mean,
 * then the squared deviations), which keeps its accuracy where one pass cancels. `correction`
 * defaults to 1, as in PyTorch. A known count not above the correction is an error; a count known
 * only at run time divides by n − correction as it is.
 * @example variance(x, 0, { correction: 0 }) // population variance of each column
 */
export function variance(x: Sym, axes?: number | readonly number[], opts: VarianceOptions = {}): Sym {
  return varianceOf('variance', x, axes, opts);
}

function varianceOf(op: string, x: Sym, axes: number | readonly number[] | undefined, opts: VarianceOptions): Sym {
  requireSym(op, x);
  checkOptions(op, opts, ['correction', 'keepDims']);
  const correction = opts.correction ?? 1;
  if (typeof correction !== 'number' || !Number.isFinite(correction)) throw new GraphError(`correction must be a finite number, got ${JSON.stringify(correction)}`, { op, origin: captureOrigin() });
  const v = floatish(x);
  const ax = axesOf(op, v, axes);
  const n = countOver(v, ax);
  if (typeof n === 'number' && n - correction <= 0) {
    throw new ShapeError(`${n} element${n === 1 ? '' : 's'} over axes [${ax.join(',')}] of ${fmtShape(x.shape)} with correction ${correction}: the denominator n − correction is ${n - correction}`, { op, shapes: [x.shape], origin: captureOrigin() });
  }
  const d = api.sub(v, api.mean(v, ax, true));
  const squares = api.sum(api.mul(d, d), ax, !!opts.keepDims);
  return api.div(squares, typeof n === 'number' ? n - correction : api.sub(n, correction));
}

/**
 * √v with the gradient 0 where v = 0 (instead of ∞·0 = NaN): the cone of a norm or a standard
 * deviation at its apex, where 0 is the midpoint of the one-sided slopes (PyTorch's convention
 * too). The inner `where` keeps the unused branch's gradient finite; NaN stays NaN.
 */
function sqrtZeroSafe(v: Sym): Sym {
  const zero = api.equal(v, 0);
  return api.where(zero, 0, api.sqrt(api.where(zero, 1, v)));
}

/**
 * Standard deviation over `axes`: √variance, with `correction` (default 1) and `keepDims` as for
 * `variance`. Where every element is equal the gradient is 0 (PyTorch's convention: a cone's apex).
 * @example std(x, -1, { keepDims: true })
 */
export function std(x: Sym, axes?: number | readonly number[], opts: VarianceOptions = {}): Sym {
  return sqrtZeroSafe(varianceOf('std', x, axes, opts));
}

export interface NormOptions {
  /**
   * Which vector norm: 2 (default) √Σx², 1 Σ|x|, Infinity max|x|, -Infinity min|x|, 0 the count of
   * nonzeros, any other p > 0 (Σ|x|ᵖ)^(1/p).
   */
  ord?: number;
  /** The axes the norm runs over, as one vector (all by default). */
  axes?: number | readonly number[];
  keepDims?: boolean;
}

/**
 * A vector norm over `axes` (all by default), PyTorch's `linalg.vector_norm`. At x = 0 the
 * gradient is 0 (the cone's apex, as PyTorch); for `Infinity` ties split the gradient equally, as
 * `max` does; `ord: 0` has no gradient. √Σx² overflows past |x| ≈ 1e154, as PyTorch's does.
 * @example norm(x)                               // Euclidean norm of everything
 * @example norm(x, { ord: 1, axes: -1 })          // L1 norm of each row
 * @example norm(x, { ord: Infinity, axes: [0] }) // max |x| of each column
 */
export function norm(x: Sym, opts: NormOptions = {}): Sym {
  const op = 'norm';
  requireSym(op, x);
  checkOptions(op, opts, ['ord', 'axes', 'keepDims']);
  const ord = opts.ord ?? 2;
  if (typeof ord !== 'number' || Number.isNaN(ord) || (ord < 0 && ord !== -Infinity)) {
    throw new GraphError(`ord must be 0, a positive number, Infinity or -Infinity, got ${JSON.stringify(ord) ?? String(ord)}`, { op, origin: captureOrigin() });
  }
  const v = floatish(x);
  const ax = axesOf(op, v, opts.axes);
  const keep = !!opts.keepDims;
  if (ord === 2) return sqrtZeroSafe(api.sum(api.mul(v, v), ax, keep));
  if (ord === 1) return api.sum(api.abs(v), ax, keep);
  if (ord === Infinity) return api.max(api.abs(v), ax, keep);
  if (ord === -Infinity) return api.min(api.abs(v), ax, keep);
  if (ord === 0) return api.sum(api.cast(api.notEqual(v, 0), v.dtype), ax, keep);
  // (Σ|x|ᵖ)^(1/p); for p < 1, |x|ᵖ has a cusp at 0 whose gradient is taken as 0
  const a = api.abs(v);
  let powers: Sym;
  if (ord >= 1) powers = api.pow(a, ord);
  else {
    const zero = api.equal(a, 0);
    powers = api.where(zero, 0, api.pow(api.where(zero, 1, a), ord));
  }
  const s = api.sum(powers, ax, keep);
  const zero = api.equal(s, 0);
  return api.where(zero, 0, api.pow(api.where(zero, 1, s), 1 / ord));
}
