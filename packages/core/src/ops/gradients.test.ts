/**
 * Every primitive's VJP and JVP, checked against float64 central differences to order 1 and 2 on
 * generated shapes (with broadcasting) and values; and its batching rule, checked against running
 * the op example by example. Table-driven over the registry: a primitive without a row fails the
 * first test.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { flip } from '../arrange';
import * as math from '../math';
import { customGrad, grad } from '../autodiff';
import { BACKENDS, compile } from '../compile';
import { gradcheck, formatReport } from '../gradcheck';
import { Graph, type Sym } from '../graph';
import { vmap } from '../transforms';
import { isDifferentiable, listOps } from '../registry';
import { fusedSoftmaxCrossEntropy } from './fused';
import { Tensor } from '../tensor';
import { avgPool, conv, convTranspose, maxPool } from '../conv';
import { arbBroadcastableShapes, arbShape, arbTensor, fc } from '../testing/index';

type Row =
  | {
      /** Inputs to check, as fast-check arbitraries of float64 tensors. */
      inputs: fc.Arbitrary<Tensor[]>;
      fn: (...xs: Sym[]) => Sym;
      runs?: number;
    }
  | { none: string };

const T = (o: Parameters<typeof arbTensor>[0]) => arbTensor({ dtype: 'float64', ...o });
const one = (o: Parameters<typeof arbTensor>[0] = {}) => T({ shape: arbShape({ maxRank: 3, maxDim: 3 }), ...o }).map((t) => [t]);
/** Two tensors of broadcastable shapes. */
const two = (a: Parameters<typeof arbTensor>[0] = {}, b: Parameters<typeof arbTensor>[0] = a) =>
  arbBroadcastableShapes({ maxRank: 3, maxDim: 3 }).chain(([sa, sb]) => fc.tuple(T({ ...a, shape: sa }), T({ ...b, shape: sb })));
/** Moves values onto the grid k/2 + offset: two tensors on different grids never tie. */
const onGrid = (t: Tensor, offset: number) => new Tensor('float64', t.shape, t.data.map((v) => Math.round(v * 2) / 2 + offset));
/** Broadcastable pairs with no ties (ties are kinks, checked in gradcheck.test.ts). */
const untied = two().map(([a, b]) => [onGrid(a, 0.25), onGrid(b, 0)]);
const matrix = (rows: number, cols: number) => T({ shape: [rows, cols] });
const dims = fc.integer({ min: 1, max: 3 });

const cube = customGrad(
  (x: Sym) => api.mul(x, api.mul(x, x)),
  // d x³ = 3x²·dy
  (x: Sym, _y: Sym, dy: Sym) => [api.mul(dy, api.mul(3, api.mul(x, x)))],
);

/** A conv problem that fits: 1-d or 2-d, N ≤ 2, up to 2 groups of ≤ 2 channels, kernel ≤ 3, stride and dilation ≤ 2. */
interface ConvProblem {
  x: number[];
  w: number[];
  opts: Record<string, unknown>;
}
const convProblem: fc.Arbitrary<ConvProblem> = fc
  .record({
    nsp: fc.integer({ min: 1, max: 2 }),
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    cg: fc.integer({ min: 1, max: 2 }),
    coutg: fc.integer({ min: 1, max: 2 }),
    k: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    s: fc.integer({ min: 1, max: 2 }),
    d: fc.integer({ min: 1, max: 2 }),
    extra: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 }),
    pad: fc.constantFrom<'valid' | 'same' | 'one' | 'pairs'>('valid', 'same', 'one', 'pairs'),
  })
  .map(({ nsp, n, groups, cg, coutg, k, s, d, extra, pad }) => {
    const kernel = k.slice(0, nsp);
    const spatial = kernel.map((kk, i) => d * (kk - 1) + 1 + extra[i]);
    const padding = pad === 'valid' ? 'valid' : pad === 'same' ? 'same' : pad === 'one' ? 1 : kernel.map((_kk, i) => [i, 1] as [number, number]);
    return { x: [n, ...spatial, cg * groups], w: [...kernel, cg, coutg * groups], opts: { stride: s, dilation: d, groups, padding } };
  });
/** A convTranspose problem: y [N, ...P, Cy], w [...K, Cx/G, Cy], with options whose result fits. */
const convTransposeProblem: fc.Arbitrary<ConvProblem> = fc
  .record({ base: convProblem, p: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }), op: fc.integer({ min: 0, max: 1 }) })
  .map(({ base, p, op }) => {
    const nsp = base.x.length - 2;
    const o = base.opts as { stride: number; dilation: number; groups: number; padding: unknown };
    const kernel = base.w.slice(0, nsp);
    const pad = o.padding === 'valid' || o.padding === 'same' ? o.padding : 0;
    const outputPadding = pad === 'same' ? 0 : Math.min(op, o.stride - 1);
    return { x: [base.x[0], ...p.slice(0, nsp), base.w[nsp + 1]], w: [...kernel, base.w[nsp], base.w[nsp + 1]], opts: { ...o, padding: pad, outputPadding } };
  });
const convInputs = (pr: fc.Arbitrary<ConvProblem>) => pr.chain((c) => fc.tuple(T({ shape: c.x }), T({ shape: c.w }), fc.constant(c.opts)));
/** x for pooling: 1-d or 2-d, with a window, stride and padding that fit; values on a grid with no ties. */
const poolProblem = fc
  .record({ nsp: fc.integer({ min: 1, max: 2 }), size: fc.integer({ min: 1, max: 3 }), stride: fc.integer({ min: 1, max: 2 }), extra: fc.integer({ min: 0, max: 2 }), pad: fc.constantFrom('valid', 'same', 'one') })
  .map(({ nsp, size, stride, extra, pad }) => ({
    x: [2, ...new Array(nsp).fill(size + extra), 2],
    opts: { size, stride, padding: pad === 'one' ? (size > 1 ? 1 : 0) : pad },
  }));
/** Distinct values (a shuffled grid plus noise far below its spacing): pooling windows never tie, not even within ε. */
const untiedTensor = (shape: number[]) =>
  fc.tuple(fc.shuffledSubarray(Array.from({ length: sizeOfShape(shape) }, (_v, i) => i), { minLength: sizeOfShape(shape), maxLength: sizeOfShape(shape) }), fc.double({ min: -0.01, max: 0.01, noNaN: true }))
    .map(([perm, jitter]) => new Tensor('float64', shape, Float64Array.from(perm, (v) => (v - shape.length) * 0.37 + jitter)));
const sizeOfShape = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const poolInputs = poolProblem.chain((c) => fc.tuple(untiedTensor(c.x), fc.constant(c.opts)));

const rows: Record<string, Row> = {
  input: { none: 'a leaf: fed at run time' },
  param: { none: 'a leaf: gradients are taken with respect to it (covered by gradcheck params tests)' },
  constant: { none: 'a leaf with no inputs' },
  neg: { inputs: one(), fn: (x) => api.neg(x) },
  exp: { inputs: one(), fn: (x) => api.exp(x) },
  log: { inputs: one({ min: 0.2, max: 3 }), fn: (x) => api.log(x) },
  tanh: { inputs: one(), fn: (x) => api.tanh(x) },
  sigmoid: { inputs: one({ min: -6, max: 6 }), fn: (x) => api.sigmoid(x) },
  abs: { inputs: one({ awayFrom: [0] }), fn: (x) => api.abs(x) },
  sign: { inputs: one({ awayFrom: [0] }), fn: (x) => api.mul(api.sign(x), x) },
  log1p: { inputs: one({ min: -0.8, max: 3 }), fn: (x) => api.log1p(x) },
  expm1: { inputs: one(), fn: (x) => api.expm1(x) },
  sqrt: { inputs: one({ min: 0.2, max: 4 }), fn: (x) => api.sqrt(x) },
  rsqrt: { inputs: one({ min: 0.2, max: 4 }), fn: (x) => api.rsqrt(x) },
  sin: { inputs: one(), fn: (x) => api.sin(x) },
  cos: { inputs: one(), fn: (x) => api.cos(x) },
  softplus: { inputs: one({ min: -8, max: 8 }), fn: (x) => api.softplus(x) },
  reciprocal: { inputs: one({ min: 0.3, max: 3 }), fn: (x) => api.reciprocal(x) },
  logicalNot: { none: 'bool → bool' },
  add: { inputs: two(), fn: (a, b) => api.add(a, b) },
  sub: { inputs: two(), fn: (a, b) => api.sub(a, b) },
  mul: { inputs: two(), fn: (a, b) => api.mul(a, b) },
  div: { inputs: two({}, { min: 0.4, max: 3 }), fn: (a, b) => api.div(a, b) },
  pow: { inputs: two({ min: 0.3, max: 2 }, { min: -2, max: 2 }), fn: (a, b) => api.pow(a, b) },
  maximum: { inputs: untied, fn: (a, b) => api.maximum(a, b) },
  minimum: { inputs: untied, fn: (a, b) => api.minimum(a, b) },
  greater: { none: 'a comparison: bool output' },
  greaterEqual: { none: 'a comparison: bool output' },
  less: { none: 'a comparison: bool output' },
  lessEqual: { none: 'a comparison: bool output' },
  equal: { none: 'a comparison: bool output' },
  notEqual: { none: 'a comparison: bool output' },
  logicalAnd: { none: 'bool → bool' },
  logicalOr: { none: 'bool → bool' },
  where: {
    inputs: arbShape({ maxRank: 2, maxDim: 3 }).chain((s) => fc.tuple(T({ shape: s, awayFrom: [0] }), T({ shape: s }), T({ shape: s.slice(1) }))),
    fn: (c, a, b) => api.where(api.greater(c, 0), api.mul(a, a), api.sin(b)),
  },
  cast: { inputs: one(), fn: (x) => api.cast(api.mul(api.cast(x, 'float32'), 1), 'float64'), runs: 0 },
  stopGradient: { inputs: one(), fn: (x) => api.add(api.mul(api.stopGradient(x), 0), api.sin(x)) },
  sum: { inputs: one(), fn: (x) => api.mul(api.sum(api.sin(x), x.rank ? [0] : [], true), x) },
  mean: { inputs: one(), fn: (x) => api.sin(api.mean(api.mul(x, x), x.rank ? [x.rank - 1] : [])) },
  max: { inputs: one(), fn: (x) => api.max(x, x.rank ? [0] : []) },
  min: { inputs: one(), fn: (x) => api.min(x, x.rank ? [x.rank - 1] : [], true) },
  logsumexp: { inputs: one(), fn: (x) => api.logsumexp(x, undefined) },
  argmax: { none: 'an index: int32 output' },
  argmin: { none: 'an index: int32 output' },
  softmax: { inputs: T({ shape: arbShape({ minRank: 1, maxRank: 2, maxDim: 4 }) }).map((t) => [t]), fn: (x) => api.mul(api.softmax(x), api.sin(x)) },
  logSoftmax: { inputs: T({ shape: arbShape({ minRank: 1, maxRank: 2, maxDim: 4 }) }).map((t) => [t]), fn: (x) => api.mul(api.logSoftmax(x, 0), api.cos(x)) },
  matmul: {
    inputs: fc.tuple(dims, dims, dims, fc.boolean()).chain(([m, k, n, batch]) =>
      fc.tuple(T({ shape: batch ? [2, m, k] : [m, k] }), T({ shape: [k, n] })),
    ),
    fn: (a, b) => api.matmul(a, b),
  },
  reshape: { inputs: matrix(2, 3).map((t) => [t]), fn: (x) => api.mul(api.reshape(x, [3, -1]), api.reshape(api.sin(x), [3, 2])) },
  transpose: { inputs: T({ shape: [2, 3, 2] }).map((t) => [t]), fn: (x) => api.mul(api.transpose(x, [2, 0, 1]), api.transpose(api.cos(x), [2, 0, 1])) },
  broadcastTo: { inputs: T({ shape: [3, 1] }).map((t) => [t]), fn: (x) => api.sin(api.mul(api.broadcastTo(x, [2, 3, 4]), 1.5)) },
  expandDims: { inputs: one(), fn: (x) => api.sin(api.expandDims(x, 0)) },
  squeeze: { inputs: T({ shape: [2, 1, 3] }).map((t) => [t]), fn: (x) => api.sin(api.squeeze(x, [1])) },
  slice: { inputs: T({ shape: [3, 4] }).map((t) => [t]), fn: (x) => api.sin(api.slice(x, [1, 0], [2, 3])) },
  concat: { inputs: fc.tuple(T({ shape: [2, 3] }), T({ shape: [1, 3] })), fn: (a, b) => api.sin(api.concat([a, api.mul(b, b)], 0)) },
  gather: { inputs: T({ shape: [4, 3] }).map((t) => [t]), fn: (x) => api.sin(api.gather(x, x.graph.constant(Tensor.from([[3, 0], [3, 1]], 'int32')), 0)) },
  scatterAdd: {
    inputs: fc.tuple(T({ shape: [3, 3] }), T({ shape: [4, 3] })),
    fn: (u, ref) => api.mul(api.scatterAdd(api.mul(u, u), ref.graph.constant(Tensor.from([1, 3, 1], 'int32')), ref, 0), api.sin(ref)),
  },
  pad: { inputs: T({ shape: [2, 3] }).map((t) => [t]), fn: (x) => api.cos(api.pad(api.mul(x, x), [[1, 0], [2, 1]], 0.5)) },
  broadcastLike: { inputs: fc.tuple(T({ shape: [1, 3] }), T({ shape: [2, 3] })), fn: (x, ref) => api.mul(api.broadcastLike(x, ref), api.sin(ref)) },
  sumLike: { inputs: fc.tuple(T({ shape: [2, 3] }), T({ shape: [1, 3] })), fn: (x, ref) => api.mul(api.sumLike(api.mul(x, x), ref), ref) },
  reshapeLike: { inputs: fc.tuple(T({ shape: [6] }), T({ shape: [2, 3] })), fn: (x, ref) => api.mul(api.reshapeLike(api.sin(x), ref), ref) },
  shapeSize: { inputs: one(), fn: (x) => api.mul(x, api.shapeSize(x, undefined, 'float64')) },
  randomUniform: { inputs: one(), fn: (x) => api.mul(x, api.randomUniformLike(x)) },
  randomNormal: { inputs: one(), fn: (x) => api.sin(api.mul(x, api.randomNormalLike(x))) },
  customGrad: { inputs: one(), fn: (x) => cube(x) },
  softmaxCrossEntropy: { inputs: fc.tuple(T({ shape: [2, 3] }), T({ shape: [2, 3], min: 0, max: 1 })), fn: (x, t) => api.sin(fusedSoftmaxCrossEntropy(x, t, { axis: 1 })) },
  // bilinear: sin makes every second derivative (x·x, x·w, w·w) non-zero
  conv: { inputs: withOpts(convInputs(convProblem)), fn: fnWithOpts((opts, x, w) => api.sin(conv(x, w, opts))), runs: 10 },
  convTranspose: { inputs: withOpts(convInputs(convTransposeProblem)), fn: fnWithOpts((opts, y, w) => api.sin(convTranspose(y, w, opts))), runs: 10 },
  maxPool: { inputs: withOpts(poolInputs), fn: fnWithOpts((opts, x) => api.sin(maxPool(api.mul(x, x), opts))) },
  avgPool: { inputs: withOpts(poolInputs.map(([x, o]) => [x, { ...o, countIncludePad: o.size !== 2 }] as const)), fn: fnWithOpts((opts, x) => api.sin(avgPool(api.mul(x, x), opts))) },
  // the helpers with their y = maxPool(x): gradients flow through the last input only (the ties are fixed)
  maxPoolScatter: {
    inputs: withOpts(poolInputs.chain(([x, o]) => fc.tuple(fc.constant(x), T({ shape: pooledShape(x.shape, o) }), fc.constant(o)))),
    fn: fnWithOpts((opts, x, dy) => api.sin(x.graph.apply('maxPoolScatter', [x, maxPool(x, opts), api.mul(dy, dy)], opts))),
  },
  maxPoolGather: {
    inputs: withOpts(poolInputs.chain(([x, o]) => fc.tuple(fc.constant(x), T({ shape: [...x.shape] }), fc.constant(o)))),
    fn: fnWithOpts((opts, x, t) => api.sin(x.graph.apply('maxPoolGather', [x, maxPool(x, opts), api.mul(t, api.sin(x))], opts))),
  },
  avgPoolTranspose: {
    inputs: withOpts(poolInputs.chain(([x, o]) => fc.tuple(T({ shape: pooledShape(x.shape, o) }), fc.constant({ ...o, inputSize: x.shape.slice(1, -1) })))),
    fn: fnWithOpts((opts, dy) => api.sin(dy.graph.apply('avgPoolTranspose', [api.mul(dy, dy)], opts))),
  },
  erf: { inputs: one(), fn: (x) => math.erf(x) },
  erfc: { inputs: one(), fn: (x) => math.erfc(x) },
  asin: { inputs: one({ min: -0.9, max: 0.9 }), fn: (x) => math.asin(x) },
  acos: { inputs: one({ min: -0.9, max: 0.9 }), fn: (x) => math.acos(x) },
  sinh: { inputs: one(), fn: (x) => math.sinh(x) },
  cosh: { inputs: one(), fn: (x) => math.cosh(x) },
  asinh: { inputs: one(), fn: (x) => math.asinh(x) },
  acosh: { inputs: one({ min: 1.2, max: 4 }), fn: (x) => math.acosh(x) },
  atanh: { inputs: one({ min: -0.9, max: 0.9 }), fn: (x) => math.atanh(x) },
  // y kept off 0: no point on the jump across the negative x axis, nor at the origin
  atan2: { inputs: two({ awayFrom: [0], margin: 0.1 }, {}), fn: (y, x) => math.atan2(y, x) },
  // forward along the rows and backward down the columns; a broadcast [3] or a full [2, 3]
  linearRecurrence: {
    inputs: fc.boolean().chain((full) => fc.tuple(T({ shape: full ? [2, 3] : [3] }), T({ shape: [2, 3] }))),
    fn: (a, b) => api.add(api.sin(math.linearRecurrence(a, b, { axis: 1 })), math.linearRecurrence(api.mul(a, 0.5), api.mul(b, b), { axis: 0, reverse: true })),
  },
  prod: { inputs: one(), fn: (x) => api.add(api.mul(math.prod(x, x.rank ? [0] : [], true), api.sin(x)), math.prod(x)) },
  flip: { inputs: T({ shape: [2, 3] }).map((t) => [t]), fn: (x) => api.mul(flip(api.sin(x), [1]), flip(x, [0, 1])) },
};

/**
 * Rows whose ops take options (conv, pooling): the arbitrary's last value is the options, which ride
 * on the input shapes — `fn` is called with symbols of exactly those shapes (also under vmap, by
 * example), and finds them there. The latest case with the same shapes wins.
 */
const optsByShapes = new Map<string, Record<string, unknown>>();
const shapesKey = (shapes: readonly (readonly (number | null)[])[]) => JSON.stringify(shapes);
function withOpts<A extends readonly unknown[]>(arb: fc.Arbitrary<A>): fc.Arbitrary<Tensor[]> {
  return arb.map((vals) => {
    const ts = vals.slice(0, -1) as Tensor[];
    optsByShapes.set(shapesKey(ts.map((t) => t.shape)), vals[vals.length - 1] as Record<string, unknown>);
    return ts;
  });
}
function fnWithOpts(f: (opts: any, ...xs: Sym[]) => Sym): (...xs: Sym[]) => Sym {
  return (...xs) => {
    const opts = optsByShapes.get(shapesKey(xs.map((x) => x.shape)));
    if (!opts) throw new Error(`no generated options for inputs of shapes ${shapesKey(xs.map((x) => x.shape))}`);
    return f(opts, ...xs);
  };
}
/** The shape of maxPool(x)/avgPool(x) with these options. */
function pooledShape(shape: readonly number[], o: { size: number; stride: number; padding: unknown }): number[] {
  const sp = shape.slice(1, -1).map((n) => {
    const [b, a] = o.padding === 'same' ? samePad(n, o.size, o.stride) : o.padding === 'valid' ? [0, 0] : [o.padding as number, o.padding as number];
    return Math.floor((n + b + a - o.size) / o.stride) + 1;
  });
  return [shape[0], ...sp, shape[shape.length - 1]];
}
function samePad(n: number, k: number, s: number): [number, number] {
  const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

describe('primitive gradients', () => {
  it('every registered primitive has a row', () => {
    const missing = listOps()
      .map((d) => d.name)
      .filter((n) => !(n in rows));
    expect(missing).toEqual([]);
  });

  it('rows marked as not differentiable are exactly the ops without gradients to check', () => {
    for (const def of listOps()) {
      const row = rows[def.name];
      if (row && 'none' in row && isDifferentiable(def) && def.kind !== 'source') {
        expect.fail(`${def.name} has a VJP rule but its gradient row says "${row.none}"`);
      }
    }
  });

});

// every row on every backend: the compiled ones must differentiate exactly like the oracle
describe.each(BACKENDS)('primitive gradients on the %s backend', (backend) => {
  for (const [name, row] of Object.entries(rows)) {
    if ('none' in row) continue;
    it(`${name}: gradcheck of the VJP and the JVP to order 2 on generated shapes and values`, () => {
      fc.assert(
        fc.property(row.inputs, (inputs) => {
          const r = gradcheck(row.fn, inputs, { order: 2, compile: { backend }, modes: ['rev', 'fwd'] });
          if (!r.ok) throw new Error(formatReport(r));
        }),
        { numRuns: row.runs === 0 ? 3 : (row.runs ?? 12), seed: 20261127 },
      );
    });
  }
});

/** A tensor with its elements in another order: a new example with the same value constraints. */
function shuffled(t: Tensor, k: number): Tensor {
  const n = t.size;
  return new Tensor(t.dtype, t.shape, t.data.map((_v, i) => t.data[(i * (2 * k + 1) + k) % n]));
}

/** Stacks equal-shaped tensors along `axis`. */
function stackAt(ts: readonly Tensor[], axis: number): Tensor {
  const shape = [...ts[0].shape.slice(0, axis), ts.length, ...ts[0].shape.slice(axis)];
  const out = new Tensor('float64', shape);
  const outer = ts[0].shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = ts[0].size / outer;
  ts.forEach((t, b) => {
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out.data[(o * ts.length + b) * inner + i] = t.data[o * inner + i];
  });
  return out;
}

const RANDOM_ROWS = new Set(['randomUniform', 'randomNormal']);

/**
 * vmap(op) over a batch of 3 examples equals the op run on each example and stacked, in value
 * and in the gradient of a random projection; inputs are batched along a random axis, or not at
 * all (shared by every example), in random combinations.
 */
describe.each(BACKENDS)('primitive batching rules on the %s backend', (backend) => {
  const B = 3;
  for (const [name, row] of Object.entries(rows)) {
    if ('none' in row) continue;
    it(`${name}: vmap equals the op example by example, value and gradient`, () => {
      fc.assert(
        fc.property(row.inputs, fc.array(fc.nat({ max: 99 }), { minLength: 4, maxLength: 4 }), (inputs, picks) => {
          // which inputs carry the batch, and along which axis (at least one does)
          const inAxes = inputs.map((t, i) => (i > 0 && picks[i] % 3 === 0 ? null : picks[i] % (t.rank + 1)));
          const g = new Graph({ seed: 5 });
          const feeds: Record<string, Tensor> = {};
          const xs = inputs.map((t, i) => {
            const ax = inAxes[i];
            feeds[`x${i}`] = ax === null ? t : stackAt(Array.from({ length: B }, (_u, b) => shuffled(t, b)), ax);
            return g.input(`x${i}`, feeds[`x${i}`].shape, 'float64');
          });
          const batched = vmap(row.fn, { inAxes })(...(xs as Sym[])) as Sym;
          const examples = Array.from({ length: B }, (_u, b) =>
            api.expandDims(row.fn(...xs.map((x, i) => (inAxes[i] === null ? x : api.squeeze(api.slice(x, x.shape.map((_d, k) => (k === inAxes[i] ? b : 0)), x.shape.map((d, k) => (k === inAxes[i] ? 1 : d!))), [inAxes[i]!])))), 0),
          );
          const stacked = api.concat(examples, 0);
          expect(batched.shape).toEqual(stacked.shape);
          const r = g.constant(Tensor.randn(stacked.shape as number[], 'float64', 7));
          const wrt = xs.filter((_x, i) => inAxes[i] !== null);
          const gb = grad(api.sum(api.mul(batched, r)), wrt);
          const gs = grad(api.sum(api.mul(stacked, r)), wrt);
          g.rngCounter = 0;
          const got = compile(g, { outputs: [batched, ...gb], backend }).run(feeds);
          g.rngCounter = 0;
          const want = compile(g, { outputs: [stacked, ...gs], backend }).run(feeds);
          if (RANDOM_ROWS.has(name)) {
            // each example draws its own numbers: shapes agree, values are finite
            expect(got[0].shape).toEqual(want[0].shape);
            expect(got.every((t) => t.data.every(Number.isFinite))).toBe(true);
            return;
          }
          got.forEach((t, k) => {
            expect(t.shape).toEqual(want[k].shape);
            t.data.forEach((v, j) => {
              const w = want[k].data[j];
              if (!(Math.abs(v - w) <= 1e-10 * (1 + Math.abs(v) + Math.abs(w)))) throw new Error(`output ${k} element ${j}: vmap ${v}, stacked ${w} (inAxes ${JSON.stringify(inAxes)})`);
            });
          });
        }),
        { numRuns: row.runs === 0 ? 3 : 6, seed: 20261128 },
      );
    });
  }
});
