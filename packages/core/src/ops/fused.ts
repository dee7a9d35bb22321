/**
 * Fused primitives the compiler rewrites into. They compute in one stable pass what a chain of
 * primitives computes with a risk of overflow, and carry their own gradient.
 */
import * as api from '../api';
import { GraphError } from '../errors';
import type { Sym } from '../graph';
import type { Attrs } from '../ir';
import { captureOrigin } from '../origin';
import { fail, traits, type OpDef } from '../registry';
import { fmtShape, sizeOf } from '../shape';
import { Tensor } from '../tensor';
import { frontBatch } from './batching';
import { normOneAxis, reducedShape, reductionIndex, requireFloat, requireSameDtype } from './util';

export interface SoftmaxCrossEntropyAttrs extends Attrs {
  readonly axis: number;
  readonly keepDims: boolean;
}

/**
 * softmaxCrossEntropy(x, t) = −Σ t·logSoftmax(x) along `axis` = Σ t·(lse(x) − x), with
 * lse(x) = m + log Σ e^(x−m), m the max: no exponential overflows, no log of 0.
 */
export const softmaxCrossEntropyOp: OpDef<SoftmaxCrossEntropyAttrs> = {
  name: 'softmaxCrossEntropy',
  arity: 2,
  kind: 'reduction',
  traits: traits(),
  doc: '−Σ t·logSoftmax(x) along an axis (logits x, target distribution t), in one stable pass',
  attrs: (raw, [x]) => ({ axis: normOneAxis(raw.axis ?? -1, x.shape.length), keepDims: !!raw.keepDims }),
  infer: ([x, t], a) => {
    requireFloat(x, 'logits');
    requireSameDtype([x, t]);
    if (x.shape.length !== t.shape.length || !x.shape.every((d, i) => d === null || t.shape[i] === null || d === t.shape[i])) {
      fail(`logits ${fmtShape(x.shape)} and target ${fmtShape(t.shape)} must have the same shape`);
    }
    const shape = x.shape.map((d, i) => d ?? t.shape[i]);
    return { dtype: x.dtype, shape: reducedShape(shape, [a.axis], a.keepDims) };
  },
  kernel: ([x, t], a, ctx) => {
    if (x.shape.length !== t.shape.length || !x.shape.every((d, i) => d === t.shape[i])) fail(`logits ${fmtShape(x.shape)} and target ${fmtShape(t.shape)} must have the same shape`);
    const { index, outSize } = reductionIndex(x.shape, [a.axis]);
    const m = new Float64Array(outSize).fill(-Infinity);
    for (let i = 0; i < x.size; i++) if (x.data[i] > m[index[i]]) m[index[i]] = x.data[i];
    const s = new Float64Array(outSize);
    for (let i = 0; i < x.size; i++) s[index[i]] += Math.exp(x.data[i] - m[index[i]]);
    const acc = new Float64Array(outSize);
    // t·(lse − x) = t·((m − x) + log s); a zero target contributes 0 even where x = −∞
    for (let i = 0; i < x.size; i++) {
      const j = index[i];
      const tv = t.data[i];
      if (tv !== 0) acc[j] += tv * (m[j] - x.data[i] + Math.log(s[j]));
    }
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    out.data.set(acc);
    return out;
  },
  // d/dx = dy·(softmax(x)·Σt − t),  d/dt = dy·(lse(x) − x) = −dy·logSoftmax(x)
  vjp: ({ dy, inputs: [x, t], attrs, needsGrad }) => {
    const g = attrs.keepDims ? dy : api.expandDims(dy, attrs.axis);
    return [
      needsGrad[0] ? api.mul(g, api.sub(api.mul(api.softmax(x, attrs.axis), api.sum(t, attrs.axis, true)), t)) : null,
      needsGrad[1] ? api.neg(api.mul(g, api.logSoftmax(x, attrs.axis))) : null,
    ];
  },
  // ṫ = Σ_axis [tₓ·(softmax(x)·Σt − t) − t_t·logSoftmax(x)], the VJP's two terms with dy := 1
  jvp: ({ inputs: [x, t], tangents: [tx, tt], attrs }) => {
    const terms: Sym[] = [];
    if (tx) terms.push(api.mul(tx, api.sub(api.mul(api.softmax(x, attrs.axis), api.sum(t, attrs.axis, true)), t)));
    if (tt) terms.push(api.neg(api.mul(tt, api.logSoftmax(x, attrs.axis))));
    return terms.length ? api.sum(api.addN(terms), attrs.axis, attrs.keepDims) : null;
  },
  batch: frontBatch((a) => ({ axis: a.axis + 1, keepDims: a.keepDims })),
  flops: ([x]) => 6 * sizeOf(x.shape),
};

export const fusedOps: readonly OpDef<any>[] = [softmaxCrossEntropyOp];

/**
 * The fused softmax cross-entropy primitive: −Σ t·logSoftmax(logits) along `axis`, one value per
 * row (no mean). `target` is a distribution shaped like the logits (one-hot or soft). The
 * compiler rewrites `Σ t·logSoftmax(x)` into it; call it directly to skip the rewrite.
 * @example
 * const perRow = fusedSoftmaxCrossEntropy(logits, oneHot(labels, 10)); // [batch]
 */
export function fusedSoftmaxCrossEntropy(logits: Sym, target: Sym, opts: { axis?: number; keepDims?: boolean } = {}): Sym {
  if (!logits || typeof logits !== 'object' || !('graph' in logits)) throw new GraphError('logits must be a symbol', { op: 'softmaxCrossEntropy', origin: captureOrigin() });
  const t = api.cast(target, logits.dtype);
  return logits.graph.apply('softmaxCrossEntropy', [logits, t], { axis: opts.axis ?? -1, keepDims: opts.keepDims ?? false });
}
