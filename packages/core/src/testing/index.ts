/**
 * @gradgraph/core/testing — fast-check arbitraries for property-testing ops and compilers:
 * dtypes, shapes, broadcastable shapes, tensors placed away from (or near) an op's kinks, and
 * random expression graphs (`arbGraph`) that cover every primitive.
 *
 * @example
 * import { test } from '@fast-check/vitest';
 * import { arbTensor } from '@gradgraph/core/testing';
 * test.prop([arbTensor({ shape: [3], awayFrom: [0] })])('myop passes gradcheck', (x) => {
 *   expect(gradcheck((a) => myop(a).sum(), [x], { order: 2 }).ok).toBe(true);
 * });
 */
import fc from 'fast-check';
import * as api from '../api';
import { flip } from '../arrange';
import * as math from '../math';
import { customGrad, grad as gradOf } from '../autodiff';
import { fusedSoftmaxCrossEntropy } from '../ops/fused';
import type { DType } from '../dtype';
import { Graph, Sym } from '../graph';
import { fillNormal, streamKey } from '../random';
import { GraphError, checkOptionNames } from '../errors';
import { fmtJson } from '../format';
import { sizeOf } from '../shape';
import { Tensor } from '../tensor';
import { avgPool, conv, convTranspose, maxPool } from '../conv';

export { fc };

// ---- dtypes and shapes -----------------------------------------------------------------------

export const arbDtype = (): fc.Arbitrary<DType> => fc.constantFrom<DType>('float32', 'float64', 'int32', 'bool');
export const arbFloatDtype = (): fc.Arbitrary<'float32' | 'float64'> => fc.constantFrom('float32', 'float64');

/** What `arbShape` and `arbBroadcastableShapes` draw. Every bound is inclusive. */
export interface ShapeOptions {
  /** Fewest axes. Default 0 (a scalar is a shape too). */
  minRank?: number;
  /** Most axes. Default 3. */
  maxRank?: number;
  /** Smallest dim. Default 1; 0 allows empty tensors. */
  minDim?: number;
  /** Largest dim. Default 4 (small: a property runs hundreds of cases). */
  maxDim?: number;
}

const SHAPE_OPTIONS = ['minRank', 'maxRank', 'minDim', 'maxDim'];

/** Checks option names and integer bounds `lo ≤ hi` (a typo or a swapped pair would silently test less). */
function checkBounds(op: string, o: object, allowed: readonly string[], pairs: readonly [string, string, number, number][]): void {
  checkOptionNames(o, allowed, (d) => new GraphError(d, { op }));
  const v = o as Record<string, unknown>;
  for (const [lo, hi, dlo, dhi] of pairs) {
    const a = v[lo] ?? dlo;
    const b = v[hi] ?? dhi;
    for (const [k, x] of [[lo, a], [hi, b]] as const) if (!Number.isInteger(x) || (x as number) < 0) throw new GraphError(`${k} must be an integer ≥ 0, got ${fmtJson(x)}`, { op });
    if ((a as number) > (b as number)) throw new GraphError(`${lo} (${a}) is above ${hi} (${b})`, { op });
  }
}

/**
 * A static shape: `minRank`–`maxRank` axes (default 0–3), each dim in `minDim`–`maxDim`
 * (default 1–4). Unknown options and bounds out of order are a `GraphError`.
 * @example arbShape({ minRank: 2, maxRank: 2, maxDim: 8 }); // matrices up to 8×8
 */
export function arbShape(o: ShapeOptions = {}): fc.Arbitrary<number[]> {
  checkBounds('arbShape', o, SHAPE_OPTIONS, [['minRank', 'maxRank', 0, 3], ['minDim', 'maxDim', 1, 4]]);
  return fc.array(fc.integer({ min: o.minDim ?? 1, max: o.maxDim ?? 4 }), { minLength: o.minRank ?? 0, maxLength: o.maxRank ?? 3 });
}

/**
 * Two shapes that broadcast together (NumPy rules): a base shape, and a second made by dropping
 * leading dims and setting some dims to 1 — then the pair is randomly swapped.
 */
export function arbBroadcastableShapes(o: ShapeOptions = {}): fc.Arbitrary<[number[], number[]]> {
  checkBounds('arbBroadcastableShapes', o, SHAPE_OPTIONS, [['minRank', 'maxRank', 0, 3], ['minDim', 'maxDim', 1, 4]]);
  return arbShape(o).chain((base) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: base.length }),
        fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }),
        fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }),
        fc.boolean(),
      )
      .map(([drop, ones, ones2, swap]) => {
        const a = base.map((d, i) => (ones2[i] && !ones[i] ? 1 : d));
        const b = base.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        return swap ? [b, a] : [a, b];
      }),
  );
}

// ---- tensors ---------------------------------------------------------------------------------

/** What `arbTensor` draws. */
export interface TensorOptions {
  /** A fixed shape, or an arbitrary of shapes. Default `arbShape()` (rank 0–3, dims 1–4). */
  shape?: readonly number[] | fc.Arbitrary<number[]>;
  /** Default float64 (what gradcheck differentiates in). int32 values are the integers in [min, max]; bool, 0 and 1. */
  dtype?: DType;
  /** Smallest value. Default −3. */
  min?: number;
  /** Largest value. Default 3. */
  max?: number;
  /**
   * Keep every value at least `margin` away from these points (an op's kinks: 0 for relu and
   * |x|): a value that falls inside a band is pushed to the band's nearer edge. Floats only.
   */
  awayFrom?: readonly number[];
  /**
   * Place every value within `margin` of one of these points instead of anywhere in [min, max]
   * (to probe the convention at a kink). Floats only; takes precedence over `min`/`max`.
   */
  near?: readonly number[];
  /** Half-width of the bands of `awayFrom` and `near`. Default 0.05. */
  margin?: number;
  /** With `near`, also put some values exactly on the points. Default true. */
  exact?: boolean;
}

const TENSOR_OPTIONS = ['shape', 'dtype', 'min', 'max', 'awayFrom', 'near', 'margin', 'exact'];

/**
 * Tensors of the given dtype (default float64) with values placed as asked: anywhere in
 * [min, max], away from kinks, or near/at them. Unknown options, `min > max` or a negative
 * `margin` are a `GraphError` (a typo would otherwise test something else without a word).
 * @example
 * arbTensor({ shape: [5], awayFrom: [0] });          // no value within 0.05 of relu's kink
 * arbTensor({ shape: [3], near: [0], margin: 1e-3 }); // values at and around 0
 */
export function arbTensor(o: TensorOptions = {}): fc.Arbitrary<Tensor> {
  checkOptionNames(o, TENSOR_OPTIONS, (d) => new GraphError(d, { op: 'arbTensor' }));
  if (o.min !== undefined && o.max !== undefined && !(o.min <= o.max)) throw new GraphError(`min (${fmtJson(o.min)}) must not be above max (${fmtJson(o.max)})`, { op: 'arbTensor' });
  if (o.margin !== undefined && !(o.margin >= 0)) throw new GraphError(`margin must be a number ≥ 0, got ${fmtJson(o.margin)}`, { op: 'arbTensor' });
  const dtype = o.dtype ?? 'float64';
  const shapeArb = o.shape === undefined ? arbShape() : Array.isArray(o.shape) ? fc.constant([...(o.shape as number[])]) : (o.shape as fc.Arbitrary<number[]>);
  const min = o.min ?? -3;
  const max = o.max ?? 3;
  const margin = o.margin ?? 0.05;
  let value: fc.Arbitrary<number>;
  if (dtype === 'bool') value = fc.constantFrom(0, 1);
  else if (dtype === 'int32') value = fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  else if (o.near?.length) {
    const at = fc.constantFrom(...o.near);
    const offset = fc.double({ min: -margin, max: margin, noNaN: true });
    const nearValue = fc.tuple(at, offset).map(([p, d]) => p + d);
    value = o.exact === false ? nearValue : fc.oneof(nearValue, at);
  } else {
    value = fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((v) => {
      // push values out of each forbidden band [p − margin, p + margin], to its nearer edge
      for (const p of o.awayFrom ?? []) if (Math.abs(v - p) < margin) v = v >= p ? p + margin : p - margin;
      return v;
    });
  }
  return shapeArb.chain((shape) => fc.array(value, { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((vals) => new Tensor(dtype, shape, Tensor.from(vals, dtype).data)));
}

// ---- random graphs ---------------------------------------------------------------------------

/** A value in the pool an expression graph is built from, with what is known of it. */
interface PoolValue {
  sym: Sym;
  shape: number[];
  /** An upper bound on |value|, kept moderate so nothing overflows. */
  bound: number;
  /** Known strictly positive (a safe argument for log, sqrt, ...). */
  positive: boolean;
}

/** Picks deterministic choices from a list of random integers. */
class Picker {
  private i = 0;
  constructor(private readonly picks: readonly number[]) {}
  int(n: number): number {
    const v = this.picks[this.i++ % this.picks.length] ?? 0;
    return n <= 1 ? 0 : v % n;
  }
  bool(): boolean {
    return this.int(2) === 1;
  }
  of<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** Applies one primitive to values from the pool; returns the new value(s). */
type Applicator = (pool: PoolValue[], p: Picker, g: Graph) => PoolValue | null;

const BIG = 50;

function floatValue(pool: PoolValue[], p: Picker): PoolValue {
  return pool[p.int(pool.length)];
}

/** A value squashed into [-1, 1] when its bound is large. */
function tame(v: PoolValue, limit = 4): PoolValue {
  return v.bound <= limit ? v : { sym: api.tanh(v.sym), shape: v.shape, bound: 1, positive: false };
}

/** A strictly positive version of v: v itself if known positive, else |v| + 0.5. */
function positive(v: PoolValue): PoolValue {
  if (v.positive) return v;
  return { sym: api.add(api.abs(v.sym), 0.5), shape: v.shape, bound: v.bound + 0.5, positive: true };
}

const val = (sym: Sym, shape: number[], bound: number, positive = false): PoolValue => ({ sym, shape, bound: Math.min(bound, 1e6), positive });

function unaryApp(f: (s: Sym) => Sym, bound: (b: number) => number, opts: { domain?: 'positive' | 'tame'; positive?: boolean } = {}): Applicator {
  return (pool, p) => {
    let v = floatValue(pool, p);
    if (opts.domain === 'positive') v = positive(tame(v, BIG));
    else if (opts.domain === 'tame') v = tame(v);
    return val(f(v.sym), v.shape, bound(v.bound), opts.positive);
  };
}

/** Two values of broadcast-compatible shapes: b is reduced (keepDims) or reshaped to fit a. */
function pair(pool: PoolValue[], p: Picker): [PoolValue, PoolValue] {
  const a = floatValue(pool, p);
  let b = floatValue(pool, p);
  if (!broadcasts(a.shape, b.shape)) {
    // reduce b to a scalar-ish or to a's trailing shape
    b = val(api.mean(b.sym), [], b.bound, false);
  }
  return p.bool() ? [a, b] : [b, a];
}

function broadcasts(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const x = a[a.length - i];
    const y = b[b.length - i];
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return true;
}

function bshape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

function binaryApp(f: (a: Sym, b: Sym) => Sym, bound: (a: number, b: number) => number, opts: { denominator?: boolean; base?: boolean } = {}): Applicator {
  return (pool, p) => {
    let [a, b] = pair(pool, p);
    if (opts.denominator) b = positive(tame(b, BIG));
    if (opts.base) {
      a = positive(tame(a));
      b = tame(b, 2);
    }
    return val(f(a.sym, b.sym), bshape(a.shape, b.shape), bound(a.bound, b.bound));
  };
}

function randomAxes(shape: readonly number[], p: Picker): number[] {
  return shape.map((_, i) => i).filter(() => p.bool());
}

function reduceApp(f: (s: Sym, axes: number[], keep: boolean) => Sym, bound: (b: number, n: number) => number, tameInput = false): Applicator {
  return (pool, p) => {
    let v = floatValue(pool, p);
    if (tameInput) v = tame(v);
    const axes = randomAxes(v.shape, p);
    const keep = p.bool();
    const shape = v.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
    const n = axes.reduce((acc, i) => acc * v.shape[i], 1);
    return val(f(v.sym, axes, keep), shape, bound(v.bound, n));
  };
}

/** A float version of a bool or int value, so the pool stays float. */
/** The float dtype a random graph is built in (float64 unless its recipe says float32). */
const graphDtypes = new WeakMap<Graph, 'float32' | 'float64'>();
const floatOf = (g: Graph): 'float32' | 'float64' => graphDtypes.get(g) ?? 'float64';

const asFloat = (s: Sym, shape: number[], bound: number): PoolValue => val(api.cast(s, floatOf(s.graph)), shape, bound);

const softsign = customGrad(
  (x: Sym) => api.div(x, api.add(api.abs(x), 1)),
  // d x/(1+|x|) = 1/(1+|x|)²
  (x: Sym, _y: Sym, dy: Sym) => [api.div(dy, api.square(api.add(api.abs(x), 1)))],
  { name: 'softsign' },
);

function intIndices(g: Graph, n: number, count: number, p: Picker): Sym {
  return g.constant(Tensor.from(Array.from({ length: count }, () => p.int(n)), 'int32'));
}

/** How each primitive is put into a random graph. Extend it when you add a primitive. */
export const graphApplicators: Record<string, Applicator> = {
  neg: unaryApp(api.neg, (b) => b),
  exp: unaryApp(api.exp, (b) => Math.exp(b), { domain: 'tame', positive: true }),
  log: unaryApp(api.log, (b) => Math.max(Math.abs(Math.log(b)), 1), { domain: 'positive' }),
  tanh: unaryApp(api.tanh, () => 1),
  sigmoid: unaryApp(api.sigmoid, () => 1, { positive: true }),
  abs: unaryApp(api.abs, (b) => b),
  sign: unaryApp(api.sign, () => 1),
  log1p: unaryApp(api.log1p, (b) => Math.max(Math.log1p(b), 1), { domain: 'positive' }),
  expm1: unaryApp(api.expm1, (b) => Math.exp(b), { domain: 'tame' }),
  sqrt: unaryApp(api.sqrt, (b) => Math.sqrt(b), { domain: 'positive', positive: true }),
  rsqrt: unaryApp(api.rsqrt, () => 2, { domain: 'positive', positive: true }),
  sin: unaryApp(api.sin, () => 1),
  cos: unaryApp(api.cos, () => 1),
  softplus: unaryApp(api.softplus, (b) => b + 1, { positive: true }),
  reciprocal: unaryApp(api.reciprocal, () => 2, { domain: 'positive', positive: true }),
  add: binaryApp(api.add, (a, b) => a + b),
  sub: binaryApp(api.sub, (a, b) => a + b),
  mul: (pool, p) => {
    const [a, b] = pair(pool, p).map((v) => tame(v, BIG)) as [PoolValue, PoolValue];
    return val(api.mul(a.sym, b.sym), bshape(a.shape, b.shape), a.bound * b.bound, a.positive && b.positive);
  },
  div: binaryApp(api.div, (a) => 2 * a, { denominator: true }),
  pow: binaryApp(api.pow, () => 50, { base: true }),
  maximum: binaryApp(api.maximum, (a, b) => Math.max(a, b)),
  minimum: binaryApp(api.minimum, (a, b) => Math.max(a, b)),
  greater: cmpApp(api.greater),
  greaterEqual: cmpApp(api.greaterEqual),
  less: cmpApp(api.less),
  lessEqual: cmpApp(api.lessEqual),
  equal: cmpApp(api.equal),
  notEqual: cmpApp(api.notEqual),
  logicalAnd: logicApp((a, b) => api.logicalAnd(a, b!)),
  logicalOr: logicApp((a, b) => api.logicalOr(a, b!)),
  logicalNot: logicApp((a) => api.logicalNot(a), true),
  where: (pool, p) => {
    const [a, b] = pair(pool, p);
    const c = floatValue(pool, p);
    const cond = broadcasts(c.shape, bshape(a.shape, b.shape)) ? api.greater(c.sym, 0) : api.greater(api.mean(c.sym), 0);
    const cshape = broadcasts(c.shape, bshape(a.shape, b.shape)) ? c.shape : [];
    return val(api.where(cond, a.sym, b.sym), bshape(cshape, bshape(a.shape, b.shape)), Math.max(a.bound, b.bound));
  },
  cast: (pool, p) => {
    const v = floatValue(pool, p);
    // through the other float type and back: lossy (float64) or exact (float32), differentiable
    const dt = floatOf(v.sym.graph);
    return val(api.cast(api.cast(v.sym, dt === 'float64' ? 'float32' : 'float64'), dt), v.shape, v.bound);
  },
  stopGradient: unaryApp(api.stopGradient, (b) => b),
  sum: reduceApp(api.sum, (b, n) => b * n),
  mean: reduceApp(api.mean, (b) => b),
  max: reduceApp(api.max, (b) => b),
  min: reduceApp(api.min, (b) => b),
  logsumexp: reduceApp(api.logsumexp, (b, n) => b + Math.log(n) + 1, true),
  argmax: (pool, p) => {
    const v = floatValue(pool, p);
    if (!v.shape.length) return null;
    const axis = p.int(v.shape.length);
    return asFloat(api.argmax(v.sym, axis), v.shape.filter((_, i) => i !== axis), v.shape[axis]);
  },
  argmin: (pool, p) => {
    const v = floatValue(pool, p);
    if (!v.shape.length) return null;
    const axis = p.int(v.shape.length);
    return asFloat(api.argmin(v.sym, axis), v.shape.filter((_, i) => i !== axis), v.shape[axis]);
  },
  softmax: (pool, p) => {
    const v = floatValue(pool, p);
    if (!v.shape.length) return null;
    return val(api.softmax(v.sym, p.int(v.shape.length)), v.shape, 1, true);
  },
  logSoftmax: (pool, p) => {
    const v = tame(floatValue(pool, p), BIG);
    if (!v.shape.length) return null;
    return val(api.logSoftmax(v.sym, p.int(v.shape.length)), v.shape, 2 * v.bound + 5);
  },
  matmul: (pool, p) => {
    const v = tame(floatValue(pool, p), BIG);
    const n = sizeOf(v.shape);
    const last = v.shape.length ? v.shape[v.shape.length - 1] : 1;
    const a = api.reshape(v.sym, [n / last, last]);
    const w = tame(floatValue(pool, p), BIG);
    const wn = sizeOf(w.shape);
    // a·B with B from another value when its size divides into [last, k], else a·aᵀ
    if (wn % last === 0 && p.bool()) {
      const k = wn / last;
      const tb = p.bool();
      const b = api.reshape(w.sym, tb ? [k, last] : [last, k]);
      return val(api.matmul(a, b, { transposeB: tb }), [n / last, k], v.bound * w.bound * last);
    }
    const ta = p.bool();
    const out = ta ? api.matmul(a, a, { transposeA: true }) : api.matmul(a, a, { transposeB: true });
    return val(out, ta ? [last, last] : [n / last, n / last], v.bound * v.bound * (ta ? n / last : last));
  },
  reshape: (pool, p) => {
    const v = floatValue(pool, p);
    const n = sizeOf(v.shape);
    const divisors = Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
    const d = p.of(divisors);
    const shape = p.bool() ? [d, n / d] : [n];
    const spec = p.bool() && shape.length === 2 ? [-1, shape[1]] : shape;
    return val(api.reshape(v.sym, spec), shape, v.bound, v.positive);
  },
  transpose: (pool, p) => {
    const v = floatValue(pool, p);
    const perm = v.shape.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = p.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    return val(api.transpose(v.sym, perm), perm.map((i) => v.shape[i]), v.bound, v.positive);
  },
  broadcastTo: (pool, p) => {
    const v = floatValue(pool, p);
    const shape = [1 + p.int(3), ...v.shape.map((d) => (d === 1 ? 1 + p.int(3) : d))];
    return val(api.broadcastTo(v.sym, shape), shape, v.bound, v.positive);
  },
  expandDims: (pool, p) => {
    const v = floatValue(pool, p);
    const axis = p.int(v.shape.length + 1);
    const shape = [...v.shape.slice(0, axis), 1, ...v.shape.slice(axis)];
    return val(api.expandDims(v.sym, axis), shape, v.bound, v.positive);
  },
  squeeze: (pool, p) => {
    const v = floatValue(pool, p);
    const e = api.expandDims(v.sym, 0);
    return val(api.squeeze(e, [0]), v.shape, v.bound, v.positive);
  },
  slice: (pool, p) => {
    const v = floatValue(pool, p);
    const begin = v.shape.map((d) => p.int(d));
    const size = v.shape.map((d, i) => (p.bool() ? -1 : 1 + p.int(d - begin[i])));
    const shape = v.shape.map((d, i) => (size[i] === -1 ? d - begin[i] : size[i]));
    return val(api.slice(v.sym, begin, size), shape, v.bound, v.positive);
  },
  concat: (pool, p) => {
    const a = floatValue(pool, p);
    if (!a.shape.length) return null;
    const axis = p.int(a.shape.length);
    const others = pool.filter((v) => v.shape.length === a.shape.length && v.shape.every((d, i) => i === axis || d === a.shape[i]));
    const b = p.of(others);
    const shape = a.shape.map((d, i) => (i === axis ? d + b.shape[i] : d));
    return val(api.concat([a.sym, b.sym], axis), shape, Math.max(a.bound, b.bound), a.positive && b.positive);
  },
  gather: (pool, p, g) => {
    const v = floatValue(pool, p);
    if (!v.shape.length) return null;
    const axis = p.int(v.shape.length);
    const count = 1 + p.int(4);
    const shape = [...v.shape.slice(0, axis), count, ...v.shape.slice(axis + 1)];
    return val(api.gather(v.sym, intIndices(g, v.shape[axis], count, p), axis), shape, v.bound, v.positive);
  },
  scatterAdd: (pool, p, g) => {
    const ref = floatValue(pool, p);
    if (!ref.shape.length) return null;
    const axis = p.int(ref.shape.length);
    const count = 1 + p.int(4);
    const idx = intIndices(g, ref.shape[axis], count, p);
    const u = api.gather(ref.sym, idx, axis); // updates of the right shape, from ref itself
    return val(api.scatterAdd(api.tanh(u), idx, ref.sym, axis), ref.shape, count);
  },
  pad: (pool, p) => {
    const v = floatValue(pool, p);
    const pads = v.shape.map(() => [p.int(2), p.int(2)] as [number, number]);
    const value = p.of([0, 1, -0.5]);
    return val(api.pad(v.sym, pads, value), v.shape.map((d, i) => d + pads[i][0] + pads[i][1]), Math.max(v.bound, 1));
  },
  broadcastLike: (pool, p) => {
    const v = floatValue(pool, p);
    const axes = randomAxes(v.shape, p);
    const small = api.mean(v.sym, axes, true);
    return val(api.broadcastLike(small, v.sym), v.shape, v.bound);
  },
  sumLike: (pool, p) => {
    const v = floatValue(pool, p);
    const axes = randomAxes(v.shape, p);
    const ref = api.max(v.sym, axes, true);
    return val(api.sumLike(v.sym, ref), v.shape.map((d, i) => (axes.includes(i) ? 1 : d)), v.bound * sizeOf(v.shape));
  },
  reshapeLike: (pool, p) => {
    const v = floatValue(pool, p);
    const flat = api.reshape(v.sym, [sizeOf(v.shape)]);
    return val(api.reshapeLike(api.tanh(flat), v.sym), v.shape, 1);
  },
  shapeSize: (pool, p) => {
    const v = floatValue(pool, p);
    const axes = randomAxes(v.shape, p);
    return val(api.mul(v.sym, api.reciprocal(api.shapeSize(v.sym, axes, floatOf(v.sym.graph)))), v.shape, v.bound);
  },
  randomUniform: (pool, p, g) => {
    const v = floatValue(pool, p);
    const r = p.bool() ? api.randomUniformLike(v.sym, { dtype: floatOf(g) }) : api.randomUniform(g, v.shape, { dtype: floatOf(g) });
    return val(api.mul(v.sym, r), v.shape, v.bound);
  },
  randomNormal: (pool, p, g) => {
    const v = floatValue(pool, p);
    const r = p.bool() ? api.randomNormalLike(v.sym, { dtype: floatOf(g) }) : api.randomNormal(g, v.shape, { dtype: floatOf(g) });
    return val(api.add(v.sym, api.tanh(r)), v.shape, v.bound + 1);
  },
  conv: (pool, p, g) => {
    const img = asImage(tame(floatValue(pool, p)));
    const groups = img.channels % 2 === 0 && p.bool() ? 2 : 1;
    const o = windowOpts(img.spatial, p, true);
    const cout = groups * (1 + p.int(2));
    const { w, bound } = kernelFrom(pool, p, g, [...o.k, img.channels / groups, cout]);
    const y = conv(img.x, w, { stride: o.stride, dilation: o.dilation, padding: o.padding, groups });
    return fromImage(y, 4 * bound * sizeOf(o.k) * (img.channels / groups));
  },
  convTranspose: (pool, p, g) => {
    const img = asImage(tame(floatValue(pool, p)));
    const o = windowOpts(img.spatial, p, true);
    const cx = 1 + p.int(2);
    const { w, bound } = kernelFrom(pool, p, g, [...o.k, cx, img.channels]);
    const y = convTranspose(img.x, w, { stride: o.stride, dilation: o.dilation, outputPadding: o.stride > 1 && p.bool() ? 1 : 0 });
    return fromImage(y, 4 * bound * sizeOf(o.k) * img.channels);
  },
  maxPool: (pool, p) => {
    const v = floatValue(pool, p);
    const img = asImage(v);
    const o = windowOpts(img.spatial, p, false);
    return fromImage(maxPool(img.x, { size: o.k, stride: o.stride, padding: o.padding }), v.bound);
  },
  avgPool: (pool, p) => {
    const v = floatValue(pool, p);
    const img = asImage(v);
    const o = windowOpts(img.spatial, p, false);
    return fromImage(avgPool(img.x, { size: o.k, stride: o.stride, padding: o.padding, countIncludePad: p.bool() }), v.bound);
  },
  // maxPool's helpers with y = maxPool(x): scatter a cotangent made from y, gather a tangent made from x
  maxPoolScatter: (pool, p, g) => {
    const v = floatValue(pool, p);
    const img = asImage(v);
    const o = windowOpts(img.spatial, p, false);
    const attrs = { size: o.k, stride: o.stride, padding: o.padding };
    const y = maxPool(img.x, attrs);
    return fromImage(g.apply('maxPoolScatter', [img.x, y, api.tanh(y)], attrs), sizeOf(o.k));
  },
  maxPoolGather: (pool, p, g) => {
    const v = floatValue(pool, p);
    const img = asImage(v);
    const o = windowOpts(img.spatial, p, false);
    const attrs = { size: o.k, stride: o.stride, padding: o.padding };
    return fromImage(g.apply('maxPoolGather', [img.x, maxPool(img.x, attrs), api.sin(img.x)], attrs), 1);
  },
  avgPoolTranspose: (pool, p, g) => {
    const v = tame(floatValue(pool, p));
    const img = asImage(v);
    const o = windowOpts(img.spatial, p, false);
    const attrs = { size: o.k, stride: o.stride, padding: o.padding, countIncludePad: p.bool() };
    return fromImage(g.apply('avgPoolTranspose', [avgPool(img.x, attrs)], { ...attrs, inputSize: img.spatial }), v.bound * sizeOf(o.k));
  },
  customGrad: unaryApp(softsign, () => 1),
  softmaxCrossEntropy: (pool, p) => {
    const v = tame(floatValue(pool, p), BIG);
    if (!v.shape.length) return null;
    const axis = p.int(v.shape.length);
    const keepDims = p.bool();
    const t = api.softmax(api.cos(v.sym), axis); // a distribution shaped like the logits
    const shape = v.shape.flatMap((d, i) => (i === axis ? (keepDims ? [1] : []) : [d]));
    return val(fusedSoftmaxCrossEntropy(v.sym, t, { axis, keepDims }), shape, 2 * v.bound + 5);
  },
  erf: unaryApp(math.erf, () => 1),
  erfc: unaryApp(math.erfc, () => 2, { positive: true }),
  // the inverse sine, cosine and tanh get arguments squashed into [−0.9, 0.9], off their infinite slopes at ±1
  asin: (pool, p) => {
    const v = floatValue(pool, p);
    return val(math.asin(api.mul(api.tanh(v.sym), 0.9)), v.shape, 2);
  },
  acos: (pool, p) => {
    const v = floatValue(pool, p);
    return val(math.acos(api.mul(api.tanh(v.sym), 0.9)), v.shape, 3, true);
  },
  sinh: unaryApp(math.sinh, (b) => Math.sinh(b), { domain: 'tame' }),
  cosh: unaryApp(math.cosh, (b) => Math.cosh(b), { domain: 'tame', positive: true }),
  asinh: unaryApp(math.asinh, (b) => Math.asinh(b)),
  // acosh(v + 1.1) for a positive v: at least 0.44 away from its infinite slope at 1
  acosh: (pool, p) => {
    const v = positive(tame(floatValue(pool, p), BIG));
    return val(math.acosh(api.add(v.sym, 1.1)), v.shape, Math.acosh(v.bound + 1.1), true);
  },
  atanh: (pool, p) => {
    const v = floatValue(pool, p);
    return val(math.atanh(api.mul(api.tanh(v.sym), 0.9)), v.shape, 1.5);
  },
  atan2: binaryApp(math.atan2, () => Math.PI),
  // h_i = tanh(v_i)·h_{i−1} + v_i along a random axis, either way: |h| ≤ n·|v|
  linearRecurrence: (pool, p) => {
    const v = floatValue(pool, p);
    if (!v.shape.length) return null;
    const axis = p.int(v.shape.length);
    return val(math.linearRecurrence(api.tanh(v.sym), v.sym, { axis, reverse: p.bool() }), v.shape, v.bound * v.shape[axis]);
  },
  prod: reduceApp(math.prod, (b, n) => b ** n, true),
  flip: (pool, p) => {
    const v = floatValue(pool, p);
    return val(flip(v.sym, randomAxes(v.shape, p)), v.shape, v.bound, v.positive);
  },
};

/** A value as one channels-last example: [n] → [1, n, 1], [a, b] → [1, a, b], [a, b, c] → [1, a, b, c] (more leading dims merged). */
function asImage(v: PoolValue): { x: Sym; spatial: number[]; channels: number } {
  const s = v.shape.length === 0 ? [1] : v.shape.length > 3 ? [sizeOf(v.shape.slice(0, -2)), ...v.shape.slice(-2)] : v.shape;
  const shape = s.length === 1 ? [1, s[0], 1] : [1, ...s];
  return { x: api.reshape(v.sym, shape), spatial: shape.slice(1, -1), channels: shape[shape.length - 1] };
}

/** A kernel of `shape` from a pool value: reshaped when the sizes agree, else a fixed pattern scaled by its mean. */
function kernelFrom(pool: PoolValue[], p: Picker, g: Graph, shape: number[]): { w: Sym; bound: number } {
  const u = tame(floatValue(pool, p));
  if (sizeOf(u.shape) === sizeOf(shape)) return { w: api.reshape(u.sym, shape), bound: u.bound };
  const values = Tensor.from(Array.from({ length: sizeOf(shape) }, (_v, i) => ((i * 7) % 5) / 4 - 0.5), floatOf(g));
  const pattern = g.constant(new Tensor(floatOf(g), shape, values.data));
  return { w: api.mul(pattern, api.mean(u.sym)), bound: 0.5 * u.bound };
}

/** Window options that fit `spatial`: a window, stride, dilation and padding per the picks. */
function windowOpts(spatial: number[], p: Picker, dilate: boolean): { k: number[]; stride: number; dilation: number; padding: 'valid' | 'same' | number } {
  const k = spatial.map((n) => 1 + p.int(Math.min(3, n)));
  const dilation = dilate && spatial.every((n, i) => 2 * (k[i] - 1) + 1 <= n) && p.bool() ? 2 : 1;
  return { k, stride: 1 + p.int(2), dilation, padding: p.of(['valid', 'same', 0] as const) };
}

/** A channels-last result with its leading 1 dropped, back into the pool. */
const fromImage = (y: Sym, bound: number): PoolValue => val(api.reshape(y, (y.shape as number[]).slice(1)), (y.shape as number[]).slice(1), bound);

function cmpApp(f: (a: Sym, b: Sym) => Sym): Applicator {
  return (pool, p) => {
    const [a, b] = pair(pool, p);
    const shape = bshape(a.shape, b.shape);
    const c = f(a.sym, b.sym);
    // bools re-enter the float pool through where (gradients flow to a and b)
    return val(api.where(c, a.sym, api.neg(b.sym)), shape, Math.max(a.bound, b.bound));
  };
}

function logicApp(f: (a: Sym, b?: Sym) => Sym, unary = false): Applicator {
  return (pool, p) => {
    const [a, b] = pair(pool, p);
    const ca = api.greater(a.sym, 0);
    const cb = api.less(b.sym, 0.5);
    const shape = unary ? a.shape : bshape(a.shape, b.shape);
    // the mask selects between a and 1: gradients reach a through where
    return val(api.where(f(ca, cb), a.sym, 1), bshape(shape, a.shape), Math.max(a.bound, 1));
  };
}

/** Ops no applicator can cover because they are leaves or made by the graph itself. */
export const SOURCE_OPS: readonly string[] = ['input', 'param', 'constant'];

export interface GraphRecipe {
  /** Shapes of the inputs (fed) and params (owned by the graph). */
  readonly inputs: readonly number[][];
  readonly params: readonly number[][];
  /** One step per op application: the op and the integers its choices are made from. */
  readonly steps: readonly { readonly op: string; readonly picks: readonly number[] }[];
  /** Seeds input and param values and the graph. */
  readonly seed: number;
  /** The float dtype of inputs, params and every value. Default float64. */
  readonly dtype?: 'float32' | 'float64';
  /**
   * Declare every dim of every input `null` (known only at run time); the feeds are the same.
   * Params keep their shapes (they own their values).
   */
  readonly openDims?: boolean;
}

export interface BuiltGraph {
  readonly graph: Graph;
  readonly inputs: Sym[];
  readonly params: Sym[];
  /** Every value made, in order. */
  readonly values: Sym[];
  /** A scalar: the sum of the means of the last few values. */
  readonly loss: Sym;
  /** Feeds for `run`, by input name. */
  readonly feeds: Record<string, Tensor>;
  /** Gradients of `loss` wrt inputs then params, when built with `withGrad`. */
  readonly grads: Sym[];
  /**
   * Second-order gradients, when built with `order: 2`: the gradients of Σₖ Σ gₖ·gₖ (gₖ the
   * first-order gradients) wrt inputs then params.
   */
  readonly grads2: Sym[];
  /** The ops the built graph contains. */
  readonly ops: Set<string>;
}

export interface GraphCase {
  readonly recipe: GraphRecipe;
  /** Builds the expression in a fresh graph (deterministic: same recipe, same graph). */
  build(opts?: BuildOptions): BuiltGraph;
  toString(): string;
}

function valuesFor(shape: readonly number[], seed: number, key: string, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const t = new Tensor(dtype, shape);
  fillNormal(t.data, dtype, streamKey(seed, key, 0));
  return t;
}

export interface BuildOptions {
  /** Build the gradients of the loss wrt every input and param. */
  withGrad?: boolean;
  /** 2: also the second-order gradients (`grads2`); implies `withGrad`. */
  order?: 1 | 2;
}

/** The value a recipe gives input `x${i}` or param `p${i}` (`which`: `'x0'`, `'p1'`, ...); `variant` makes another example. */
export function recipeValue(recipe: GraphRecipe, which: string, variant?: number): Tensor {
  const shape = which[0] === 'x' ? recipe.inputs[Number(which.slice(1))] : recipe.params[Number(which.slice(1))];
  return valuesFor(shape, recipe.seed, variant === undefined ? which : `${which}/${variant}`, recipe.dtype ?? 'float64');
}

/**
 * The recipe's expression applied to given symbols — inputs and params of one graph shaped as the
 * recipe says (inputs may be declared with open dims), or one example's placeholders under
 * `vmap` — returning every value made and the loss. `buildRecipe` is this on fresh inputs and
 * params.
 */
export function applyRecipe(recipe: GraphRecipe, inputs: readonly Sym[], params: readonly Sym[]): { values: Sym[]; loss: Sym } {
  const g = (inputs[0] ?? params[0]).graph;
  if (!graphDtypes.has(g)) graphDtypes.set(g, recipe.dtype ?? 'float64');
  // the pool tracks run-time shapes: the recipe's where a symbol's dims are open
  const runShape = (s: Sym, shape: readonly number[] | undefined) => (shape && s.shape.some((d) => d === null) ? [...shape] : [...(s.shape as number[])]);
  const pool: PoolValue[] = [...inputs, ...params].map((s, i) => val(s, runShape(s, i < inputs.length ? recipe.inputs[i] : recipe.params[i - inputs.length]), 4));
  const values: Sym[] = [];
  for (const step of recipe.steps) {
    const app = graphApplicators[step.op];
    if (!app) throw new Error(`no graph applicator for op "${step.op}"`);
    const out = app(pool, new Picker(step.picks), g);
    if (out) {
      pool.push(out);
      values.push(out.sym);
    }
  }
  const tail = (values.length ? values : pool.map((v) => v.sym)).slice(-3);
  return { values, loss: api.addN(tail.map((s) => api.mean(s))) };
}

/** Builds a recipe into a fresh graph. */
export function buildRecipe(recipe: GraphRecipe, opts: BuildOptions = {}): BuiltGraph {
  const g = new Graph({ seed: recipe.seed });
  const dtype = recipe.dtype ?? 'float64';
  graphDtypes.set(g, dtype);
  const feeds: Record<string, Tensor> = {};
  const inputs = recipe.inputs.map((shape, i) => {
    feeds[`x${i}`] = valuesFor(shape, recipe.seed, `x${i}`, dtype);
    return g.input(`x${i}`, recipe.openDims ? shape.map(() => null) : shape, dtype);
  });
  const params = recipe.params.map((shape, i) => g.param(`p${i}`, valuesFor(shape, recipe.seed, `p${i}`, dtype)));
  const { values, loss } = applyRecipe(recipe, inputs, params);
  const wrt = [...inputs, ...params];
  const grads = opts.withGrad || opts.order === 2 ? gradOf(loss, wrt) : [];
  const grads2 = opts.order === 2 ? gradOf(api.addN(grads.map((gk) => api.sum(api.mul(gk, gk)))), wrt) : [];
  const ops = new Set(g.nodes.map((n) => n.op));
  return { graph: g, inputs, params, values, loss, feeds, grads, grads2, ops };
}

export interface GraphOptions {
  /** Steps (op applications) per graph. Default 1–8. */
  minSteps?: number;
  maxSteps?: number;
  /** Restrict to these ops. Default: every op with an applicator. */
  ops?: readonly string[];
  /** Number of inputs and params. Defaults 1–2 inputs, 0–1 params. */
  maxInputs?: number;
  maxParams?: number;
  /** Largest dim of input shapes. Default 3. */
  maxDim?: number;
  /** The float dtype of the graph (inputs, params, every value). Default float64. */
  dtype?: 'float32' | 'float64';
  /** Declare every input dim `null` (see `GraphRecipe.openDims`). */
  openDims?: boolean;
}

/**
 * Random expression graphs over float64 (or, with `dtype: 'float32'`, float32) inputs and
 * params, drawing ops uniformly from every primitive that has an applicator (all built-ins).
 * Values are kept in a moderate range, and domains respected (log gets positive arguments), so
 * results are finite.
 * @example
 * fc.assert(fc.property(arbGraph(), (c) => { const b = c.build({ withGrad: true }); ... }));
 * fc.assert(fc.property(arbGraph({ dtype: 'float32' }), (c) => { ... }));
 */
export function arbGraph(o: GraphOptions = {}): fc.Arbitrary<GraphCase> {
  checkOptionNames(o, ['minSteps', 'maxSteps', 'ops', 'maxInputs', 'maxParams', 'maxDim', 'dtype', 'openDims'], (d) => new GraphError(d, { op: 'arbGraph' }));
  const unknownOps = (o.ops ?? []).filter((op) => !(op in graphApplicators));
  if (unknownOps.length) throw new GraphError(`no applicator for ${unknownOps.map((x) => JSON.stringify(x)).join(', ')} (see graphApplicators)`, { op: 'arbGraph' });
  const ops = o.ops ?? Object.keys(graphApplicators);
  const shape = arbShape({ minRank: 1, maxRank: 3, maxDim: o.maxDim ?? 3 });
  const step = fc.record({ op: fc.constantFrom(...ops), picks: fc.array(fc.nat({ max: 1000 }), { minLength: 12, maxLength: 12 }) });
  return fc
    .record({
      inputs: fc.array(shape, { minLength: 1, maxLength: o.maxInputs ?? 2 }),
      params: fc.array(shape, { minLength: 0, maxLength: o.maxParams ?? 1 }),
      steps: fc.array(step, { minLength: o.minSteps ?? 1, maxLength: o.maxSteps ?? 8 }),
      seed: fc.nat({ max: 1_000_000 }),
    })
    .map((r): GraphRecipe => ({ ...r, ...(o.dtype ? { dtype: o.dtype } : {}), ...(o.openDims ? { openDims: true } : {}) }))
    .map((recipe) => ({
      recipe,
      build: (b?: BuildOptions) => buildRecipe(recipe, b),
      toString: () => `GraphCase(${JSON.stringify(recipe)})`,
    }));
}

