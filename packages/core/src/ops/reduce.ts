/** Reductions over axes, and softmax/logSoftmax along one axis. */
import * as api from '../api';
import type { DType } from '../dtype';
import type { Sym } from '../graph';
import type { Attrs } from '../ir';
import { fail, notDifferentiable, traits, type Jvp, type OpDef } from '../registry';
import { fmtShape, isStatic, sizeOf } from '../shape';
import { Tensor } from '../tensor';
import { argBatch, axisBatch, reduceBatch } from './batching';
import { linearJvp } from './jvp';
import { normAxes, normOneAxis, reduceKernel, reducedShape, reductionIndex, requireFloat, requireNumeric } from './util';

export interface ReduceAttrs extends Attrs {
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}

const reduceAttrs = (raw: Attrs, [x]: readonly { shape: readonly unknown[] }[]): ReduceAttrs => ({
  axes: normAxes(raw.axes, x.shape.length),
  keepDims: !!raw.keepDims,
});

/** `dy` of a reduction, with the reduced axes put back as 1s so it broadcasts against `x`. */
function keep(dy: Sym, a: ReduceAttrs): Sym {
  return a.keepDims || a.axes.length === 0 ? dy : api.expandDims(dy, a.axes);
}

/**
 * The forward-mode rules of the reductions, by name (reduceOp looks its rule up here):
 * sum and mean are linear; max/min pass the mean tangent of the tied extrema (the transpose of
 * their VJP's ½-split); logsumexp's tangent is the softmax-weighted sum.
 */
const reduceJvps: Record<string, Jvp<ReduceAttrs>> = {
  sum: linearJvp(),
  mean: linearJvp(),
  // ṫ = Σ mask·t / Σ mask, mask = [x = max x]
  max: extremumJvp,
  min: extremumJvp,
  // d logΣeˣ = Σ t·e^(x − lse)
  logsumexp: ({ inputs: [x], output, tangents: [t], attrs }) => (t ? api.sum(api.mul(t, api.exp(api.sub(x, keep(output, attrs)))), attrs.axes, attrs.keepDims) : null),
};

function extremumJvp({ inputs: [x], output, tangents: [t], attrs }: Parameters<Jvp<ReduceAttrs>>[0]): Sym | null {
  if (!t) return null;
  const mask = api.cast(api.equal(x, keep(output, attrs)), t.dtype);
  return api.div(api.sum(api.mul(mask, t), attrs.axes, attrs.keepDims), api.sum(mask, attrs.axes, attrs.keepDims));
}

function reduceOp(name: string, doc: string, float: boolean, kernel: OpDef<ReduceAttrs>['kernel'], vjp: OpDef<ReduceAttrs>['vjp'], kinks?: string, finite: readonly number[] | null = null): OpDef<ReduceAttrs> {
  return {
    name,
    arity: 1,
    kind: 'reduction',
    traits: traits({ reduction: true, finiteIfInputsFinite: finite }),
    doc,
    attrs: reduceAttrs,
    infer: ([x], a) => {
      if (float) requireFloat(x);
      else requireNumeric(x);
      return { dtype: x.dtype, shape: reducedShape(x.shape, a.axes, a.keepDims) };
    },
    kernel,
    vjp,
    jvp: reduceJvps[name],
    batch: reduceBatch,
    kinks,
    flops: ([x]) => sizeOf(x.shape),
  };
}

/** The ½-split tie share for max/min: 1/count on the winners. */
function extremumVjp({ dy, inputs: [x], output, attrs }: { dy: Sym; inputs: readonly Sym[]; output: Sym; attrs: ReduceAttrs }): [Sym] {
  // d max(x) = dy/k on each of the k elements equal to the max, 0 elsewhere
  const mask = api.cast(api.equal(x, keep(output, attrs)), dy.dtype);
  const count = api.sum(mask, attrs.axes, true);
  return [api.mul(mask, api.div(keep(dy, attrs), count))];
}

export const reduceOps: OpDef<any>[] = [
  // d Σx = dy broadcast back over the reduced axes
  reduceOp(
    'sum',
    'sum over axes',
    false,
    ([x], a, ctx) => reduceKernel(x, a.axes, ctx.out, 0, (s, v) => s + v),
    ({ dy, inputs: [x], attrs }) => [api.broadcastToShapeOf(keep(dy, attrs), x)],
  ),
  // d mean(x) = dy/n broadcast back, n = number of reduced elements (known at run time if dims are)
  reduceOp(
    'mean',
    'mean over axes',
    true,
    ([x], a, ctx) => reduceKernel(x, a.axes, ctx.out, 0, (s, v) => s + v, (s, n) => s / n),
    ({ dy, inputs: [x], attrs }) => {
      const dims = attrs.axes.map((i) => x.shape[i]);
      const n = isStatic(dims) ? api.mul(dy, 1 / sizeOf(dims)) : api.div(dy, api.shapeSize(x, attrs.axes));
      return [api.broadcastToShapeOf(keep(n, attrs), x)];
    },
  ),
  reduceOp('max', 'maximum over axes', false, ([x], a, ctx) => reduceKernel(x, a.axes, ctx.out, -Infinity, Math.max), extremumVjp, 'ties split the gradient equally among the maximal elements', [0]),
  reduceOp('min', 'minimum over axes', false, ([x], a, ctx) => reduceKernel(x, a.axes, ctx.out, Infinity, Math.min), extremumVjp, 'ties split the gradient equally among the minimal elements', [0]),
  // d logΣeˣ = dy·e^(x − lse) = dy·softmax(x)
  reduceOp(
    'logsumexp',
    'log Σ eˣ over axes, with the max subtracted first',
    true,
    ([x], a, ctx) => {
      const m = reduceKernel(x, a.axes, { dtype: 'float64', shape: ctx.out.shape }, -Infinity, Math.max);
      const { index } = reductionIndex(x.shape, a.axes);
      const s = new Float64Array(m.size);
      for (let i = 0; i < x.size; i++) {
        const mx = m.data[index[i]];
        s[index[i]] += mx === -Infinity ? 0 : Math.exp(x.data[i] - mx);
      }
      const out = new Tensor(ctx.out.dtype, ctx.out.shape);
      for (let j = 0; j < s.length; j++) {
        const mx = m.data[j];
        out.data[j] = mx === -Infinity || mx === Infinity ? mx : mx + Math.log(s[j]);
      }
      return out;
    },
    ({ dy, inputs: [x], output, attrs }) => [api.mul(keep(dy, attrs), api.exp(api.sub(x, keep(output, attrs))))],
  ),
  argOp('argmax', 'index of the maximum along an axis (first on ties; an empty axis is an error)', (v, best) => v > best),
  argOp('argmin', 'index of the minimum along an axis (first on ties; an empty axis is an error)', (v, best) => v < best),
];

interface ArgAttrs extends Attrs {
  readonly axis: number;
  readonly keepDims: boolean;
}

function argOp(name: string, doc: string, better: (v: number, best: number) => boolean): OpDef<ArgAttrs> {
  return {
    name,
    arity: 1,
    kind: 'reduction',
    traits: traits(),
    doc,
    attrs: (raw, [x]) => ({ axis: normOneAxis(raw.axis ?? -1, x.shape.length), keepDims: !!raw.keepDims }),
    infer: ([x], a) => {
      requireNumeric(x);
      // an empty axis has no index to return (NumPy refuses too)
      if (x.shape[a.axis] === 0) fail(`axis ${a.axis} of ${fmtShape(x.shape)} is empty: there is no ${name === 'argmax' ? 'maximum' : 'minimum'} to index`);
      return { dtype: 'int32', shape: reducedShape(x.shape, [a.axis], a.keepDims) };
    },
    kernel: ([x], a, ctx) => {
      // out[o, i] = the first k along the axis with the best x[o, k, i]; a NaN wins (NumPy)
      const n = x.shape[a.axis];
      if (n === 0) fail(`axis ${a.axis} of ${fmtShape(x.shape)} is empty: there is no ${name === 'argmax' ? 'maximum' : 'minimum'} to index`);
      const inner = x.shape.slice(a.axis + 1).reduce((p, d) => p * d, 1);
      const outer = x.shape.slice(0, a.axis).reduce((p, d) => p * d, 1);
      const out = new Tensor('int32', ctx.out.shape);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let best = x.data[o * n * inner + i];
          let at = 0;
          for (let k = 1; k < n && !Number.isNaN(best); k++) {
            const v = x.data[(o * n + k) * inner + i];
            if (better(v, best) || Number.isNaN(v)) {
              best = v;
              at = k;
            }
          }
          out.data[o * inner + i] = at;
        }
      }
      return out;
    },
    vjp: notDifferentiable,
    jvp: notDifferentiable,
    batch: argBatch,
    flops: ([x]) => sizeOf(x.shape),
  };
}

interface AxisAttrs extends Attrs {
  readonly axis: number;
}

const axisAttrs = (raw: Attrs, [x]: readonly { shape: readonly unknown[] }[]): AxisAttrs => ({ axis: normOneAxis(raw.axis ?? -1, x.shape.length) });

/** Softmax along `axis` in float64 with the max subtracted; `log` gives logSoftmax. */
function softmaxKernel(x: Tensor, axis: number, dtype: DType, log: boolean): Tensor {
  const { index, outSize } = reductionIndex(x.shape, [axis]);
  const m = new Float64Array(outSize).fill(-Infinity);
  for (let i = 0; i < x.size; i++) if (x.data[i] > m[index[i]]) m[index[i]] = x.data[i];
  const s = new Float64Array(outSize);
  for (let i = 0; i < x.size; i++) s[index[i]] += Math.exp(x.data[i] - m[index[i]]);
  const out = new Tensor(dtype, x.shape);
  for (let i = 0; i < x.size; i++) {
    const j = index[i];
    out.data[i] = log ? x.data[i] - m[j] - Math.log(s[j]) : Math.exp(x.data[i] - m[j]) / s[j];
  }
  return out;
}

export const softmaxOps: OpDef<AxisAttrs>[] = [
  {
    name: 'softmax',
    arity: 1,
    kind: 'reduction',
    traits: traits({ shapePreserving: true, finiteIfInputsFinite: [0] }),
    doc: 'e^(x − max) / Σ e^(x − max) along an axis',
    attrs: axisAttrs,
    infer: ([x]) => {
      requireFloat(x);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], a, ctx) => softmaxKernel(x, a.axis, ctx.out.dtype, false),
    // d softmax: dx = y·(dy − Σ(dy·y))
    vjp: ({ dy, output: y, attrs }) => [api.mul(y, api.sub(dy, api.sum(api.mul(dy, y), attrs.axis, true)))],
    // the Jacobian diag(y) − y·yᵀ is symmetric: ṫ = y·(t − Σ(t·y)), the VJP with dy := t
    jvp: ({ output: y, tangents: [t], attrs }) => (t ? api.mul(y, api.sub(t, api.sum(api.mul(t, y), attrs.axis, true))) : null),
    batch: axisBatch,
    flops: ([x]) => 5 * sizeOf(x.shape),
  },
  {
    name: 'logSoftmax',
    arity: 1,
    kind: 'reduction',
    traits: traits({ shapePreserving: true }),
    doc: 'x − logΣeˣ along an axis, computed stably',
    attrs: axisAttrs,
    infer: ([x]) => {
      requireFloat(x);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], a, ctx) => softmaxKernel(x, a.axis, ctx.out.dtype, true),
    // d logsoftmax: dx = dy − softmax(x)·Σdy = dy − e^y·Σdy
    vjp: ({ dy, output: y, attrs }) => [api.sub(dy, api.mul(api.exp(y), api.sum(dy, attrs.axis, true)))],
    // ṫ = t − Σ softmax(x)·t = t − Σ(e^y·t)
    jvp: ({ output: y, tangents: [t], attrs }) => (t ? api.sub(t, api.sum(api.mul(api.exp(y), t), attrs.axis, true)) : null),
    batch: axisBatch,
    flops: ([x]) => 5 * sizeOf(x.shape),
  },
];
