/**
 * Losses: `nn.<loss>(pred, target, { reduction = 'mean', ...own options })`. `reduction` is
 * `'mean'` (over every element of the per-element loss), `'sum'`, or `'none'` (the per-element
 * loss, shaped like `pred`; like `pred` without its class axis for softmaxCrossEntropy).
 *
 * `pred` and `target` must have the same shape (null dims match anything): a silent broadcast of
 * a [N, 1] prediction against a [N] target is the classic regression bug, so it is an error.
 */
import { DTypeError, ShapeError, abs, elementwiseBatch, captureOrigin, cast, clip, fmtShape, hasOp, isFloat, logsumexp, notDifferentiable, oneHot, registerOp, softplus, traits, where, type Operand, type Sym } from '@gradgraph/core';
import { logSoftmax } from './activations';
import { checkNumber, checkOptions, graphError, requireFloat, requireSym, staticDim } from './util';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** `'mean'` (default), `'sum'` or `'none'`. */
  reduction?: Reduction;
}

/** Applies a reduction to a per-element loss. */
function reduceLoss(op: string, loss: Sym, reduction: Reduction | undefined): Sym {
  switch (reduction ?? 'mean') {
    case 'mean':
      return loss.mean();
    case 'sum':
      return loss.sum();
    case 'none':
      return loss;
    default:
      throw graphError(op, `reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  }
}

function compatible(a: Sym, b: Sym): boolean {
  return a.rank === b.rank && a.shape.every((d, i) => d === null || b.shape[i] === null || d === b.shape[i]);
}

/** Checks `pred` (float) and `target` (a symbol of the same shape, or a number); casts `target` to pred's dtype. */
function prepare(op: string, pred: unknown, target: unknown, names: [string, string] = ['pred', 'target']): [Sym, Sym] {
  requireFloat(op, pred, names[0]);
  if (typeof target === 'number') {
    checkNumber(op, names[1], target);
    return [pred, pred.graph.constant(target, pred.dtype)];
  }
  requireSym(op, target, names[1]);
  if (target.graph !== pred.graph) throw graphError(op, `${names[1]} belongs to another graph than ${names[0]}`);
  if (target.dtype === 'bool' || !compatible(pred, target)) {
    if (target.dtype === 'bool') throw new DTypeError(`${names[1]} is bool; cast it to a number type`, { op, dtypes: [pred.dtype, target.dtype], origin: captureOrigin() });
    throw new ShapeError(`${names[0]} ${fmtShape(pred.shape)} and ${names[1]} ${fmtShape(target.shape)} differ in shape; reshape one (a loss does not broadcast, to catch [N,1]-vs-[N] mistakes)`, {
      op,
      shapes: [pred.shape, target.shape],
      origin: captureOrigin(),
    });
  }
  return [pred, cast(target, pred.dtype)];
}

// ---- regression --------------------------------------------------------------------------------

/**
 * Mean squared error: (pred − target)².
 * @example const loss = nn.mse(nn.dense(x, 1).squeeze(-1), y);
 */
export function mse(pred: Sym, target: Sym | number, opts: LossOptions = {}): Sym {
  checkOptions('nn.mse', opts, ['reduction']);
  const [p, t] = prepare('nn.mse', pred, target);
  return reduceLoss('nn.mse', p.sub(t).square(), opts.reduction);
}

/**
 * Mean absolute error: |pred − target|. The gradient at a zero residual is 0.
 * @example nn.mae(pred, y, { reduction: 'sum' })
 */
export function mae(pred: Sym, target: Sym | number, opts: LossOptions = {}): Sym {
  checkOptions('nn.mae', opts, ['reduction']);
  const [p, t] = prepare('nn.mae', pred, target);
  return reduceLoss('nn.mae', abs(p.sub(t)), opts.reduction);
}

/**
 * Huber loss (PyTorch's `HuberLoss`): with r = pred − target, ½r² for |r| ≤ δ and δ·(|r| − ½δ)
 * beyond; δ = 1 by default. Quadratic near 0, linear in the tails; C¹ at |r| = δ.
 * @example nn.huber(pred, y, { delta: 0.5 })
 */
export function huber(pred: Sym, target: Sym | number, opts: LossOptions & { delta?: number } = {}): Sym {
  checkOptions('nn.huber', opts, ['reduction', 'delta']);
  const delta = checkNumber('nn.huber', 'delta', opts.delta ?? 1, { min: 0, minExclusive: true });
  const [p, t] = prepare('nn.huber', pred, target);
  const r = p.sub(t);
  const a = abs(r);
  const loss = where(a.lessEqual(delta), r.square().mul(0.5), a.sub(0.5 * delta).mul(delta));
  return reduceLoss('nn.huber', loss, opts.reduction);
}

/**
 * Tukey's biweight loss on r = (pred − target)/scale:
 *
 *   ρ(r) = c²/6·(1 − (1 − (r/c)²)³) for |r| ≤ c, and c²/6 beyond,
 *
 * (the tutorial's form with K = c²/6); c = 4.685 (95% efficiency under Gaussian noise), scale = 1.
 * ρ is bounded, so a gross outlier pulls with zero force; it is non-convex, so start from a robust
 * fit and set the scale from it: scale = 1.4826·MAD of the residuals of an L1 (`mae`) fit. `scale`
 * may be a symbol (e.g. an input fed per fit). ρ is C² at |r| = c.
 * @example
 * // after an L1 fit with residuals res: s = 1.4826 · median(|res − median(res)|)
 * const loss = nn.tukey(pred, y, { scale: s });
 */
export function tukey(pred: Sym, target: Sym | number, opts: LossOptions & { c?: number; scale?: Operand } = {}): Sym {
  const op = 'nn.tukey';
  checkOptions(op, opts, ['reduction', 'c', 'scale']);
  const c = checkNumber(op, 'c', opts.c ?? 4.685, { min: 0, minExclusive: true });
  const scale = opts.scale ?? 1;
  if (typeof scale === 'number') checkNumber(op, 'scale', scale, { min: 0, minExclusive: true });
  else {
    requireFloat(op, scale, 'scale');
    if (scale.rank !== 0) throw new ShapeError(`scale must be a scalar, got ${fmtShape(scale.shape)}`, { op, shapes: [scale.shape], origin: captureOrigin() });
  }
  const [p, t] = prepare(op, pred, target);
  const u = p.sub(t).div(scale).div(c).square(); // (r/c)²
  const w = where(u.less(1), u.neg().add(1), 0); // 1 − (r/c)² inside, 0 outside
  const loss = w.mul(w).mul(w).neg().add(1).mul((c * c) / 6);
  return reduceLoss(op, loss, opts.reduction);
}

// ---- classification ------------------------------------------------------------------------------

/**
 * Binary cross-entropy on probabilities: −[y·log p + (1 − y)·log(1 − p)] with p clamped to
 * [ε, 1 − ε] (ε = 1e-7, as in Keras), so p = 0 or 1 gives a large finite loss, not Inf. The
 * gradient is 0 where p is clamped. Prefer `bceWithLogits` on logits: it is exact.
 * @example nn.binaryCrossEntropy(nn.sigmoid(z), y)
 */
export function binaryCrossEntropy(prob: Sym, target: Sym | number, opts: LossOptions & { epsilon?: number } = {}): Sym {
  const op = 'nn.binaryCrossEntropy';
  checkOptions(op, opts, ['reduction', 'epsilon']);
  const eps = checkNumber(op, 'epsilon', opts.epsilon ?? 1e-7, { min: 0, max: 0.5, maxExclusive: true });
  const [pr, y] = prepare(op, prob, target, ['prob', 'target']);
  const p = eps > 0 ? clip(pr, eps, 1 - eps) : pr;
  const loss = y.mul(p.log()).add(y.neg().add(1).mul(p.neg().add(1).log())).neg();
  return reduceLoss(op, loss, opts.reduction);
}

/**
 * Binary cross-entropy on logits z: softplus(z) − z·y, which equals −[y·log σ(z) + (1−y)·log(1−σ(z))]
 * and is exact for any z (softplus is computed as max(z,0) + log1p(e^−|z|)); finite values and
 * gradients σ(z) − y even for |z| ≥ 100. `posWeight` (PyTorch's pos_weight) scales the positive
 * term: (1 − y)·z + (1 + (w − 1)·y)·softplus(−z).
 * @example nn.bceWithLogits(nn.dense(x, 1).squeeze(-1), y)
 */
export function bceWithLogits(logits: Sym, target: Sym | number, opts: LossOptions & { posWeight?: Operand } = {}): Sym {
  const op = 'nn.bceWithLogits';
  checkOptions(op, opts, ['reduction', 'posWeight']);
  const [z, y] = prepare(op, logits, target, ['logits', 'target']);
  let loss: Sym;
  if (opts.posWeight === undefined) loss = softplus(z).sub(z.mul(y));
  else {
    const w = opts.posWeight;
    if (typeof w === 'number') checkNumber(op, 'posWeight', w, { min: 0 });
    else requireFloat(op, w, 'posWeight');
    loss = y.neg().add(1).mul(z).add(y.mul(typeof w === 'number' ? w - 1 : w.sub(1)).add(1).mul(softplus(z.neg())));
  }
  return reduceLoss(op, loss, opts.reduction);
}

// A run-time check of class indices: the identity on int32, failing with the offending label.
// A primitive (through core's public registerOp) so no rewrite can drop it.
const CHECK_LABELS = 'nn.checkClassIndices';
if (!hasOp(CHECK_LABELS)) {
  registerOp<{ depth: number }>({
    name: CHECK_LABELS,
    arity: 1,
    kind: 'other',
    // no traits: a check the compiler must not see through
    traits: traits(),
    doc: 'the identity on int32 class indices; fails at run time on an index outside [0, depth)',
    attrs: (raw) => {
      const depth = raw.depth;
      if (typeof depth !== 'number' || !Number.isInteger(depth) || depth <= 0) throw new ShapeError(`depth must be a positive integer, got ${String(depth)}`);
      return { depth };
    },
    infer: ([x]) => {
      if (x.dtype !== 'int32') throw new DTypeError(`class indices must be int32, got ${x.dtype}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], { depth }) => {
      for (let i = 0; i < x.size; i++) {
        const v = x.data[i];
        if (v < 0 || v >= depth) {
          const at = x.rank <= 1 ? `position ${i}` : `position [${unravel(i, x.shape).join(', ')}]`;
          throw new ShapeError(`label ${v} at ${at} is outside the ${depth} classes [0, ${depth})`);
        }
      }
      return x.clone();
    },
    vjp: notDifferentiable,
    jvp: notDifferentiable,
    // the identity, example by example
    batch: elementwiseBatch,
    flops: () => 0,
  });
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/**
 * Softmax cross-entropy on logits [..., C] (classes on the last axis). `labels` are int32 class
 * indices shaped like the logits without the class axis, or a float distribution (one-hot or soft)
 * shaped like the logits. Computed stably as logsumexp(z) − z[label] (indices) or
 * −Σ t·logSoftmax(z) (distributions). The mean is over the batch (every position but the class
 * axis). `labelSmoothing` ε mixes the target with the uniform distribution: (1 − ε)·t + ε/C.
 * A label outside [0, C) fails at run time, naming it.
 * @example const loss = nn.softmaxCrossEntropy(logits, g.input('y', [null], 'int32'));
 */
export function softmaxCrossEntropy(logits: Sym, labels: Sym, opts: LossOptions & { labelSmoothing?: number } = {}): Sym {
  const op = 'nn.softmaxCrossEntropy';
  checkOptions(op, opts, ['reduction', 'labelSmoothing']);
  requireFloat(op, logits, 'logits');
  requireSym(op, labels, 'labels');
  if (logits.rank === 0) throw new ShapeError('logits must have a class axis (rank ≥ 1), got a scalar', { op, shapes: [logits.shape], origin: captureOrigin() });
  if (labels.graph !== logits.graph) throw graphError(op, 'labels belong to another graph than logits');
  const eps = checkNumber(op, 'labelSmoothing', opts.labelSmoothing ?? 0, { min: 0, max: 1 });
  const c = staticDim(op, logits, -1, 'the class axis');
  let loss: Sym;
  if (labels.dtype === 'int32') {
    const rows = logits.shape.slice(0, -1);
    const fits = labels.rank === rows.length && labels.shape.every((d, i) => d === null || rows[i] === null || d === rows[i]);
    if (!fits) {
      throw new ShapeError(`int32 labels must be shaped like the logits without the class axis, ${fmtShape(rows)}; got ${fmtShape(labels.shape)} for logits ${fmtShape(logits.shape)}`, {
        op,
        shapes: [logits.shape, labels.shape],
        origin: captureOrigin(),
      });
    }
    const checked = logits.graph.apply(CHECK_LABELS, [labels], { depth: c });
    const mask = oneHot(checked, c, 'bool');
    const picked = where(mask, logits, 0).sum(-1); // z[label]
    const lse = logsumexp(logits, -1);
    // −Σ t·log p with t = (1−ε)·onehot + ε/C, log p = z − lse:  lse − (1−ε)·z[label] − (ε/C)·Σz
    loss = eps === 0 ? lse.sub(picked) : lse.sub(picked.mul(1 - eps)).sub(logits.sum(-1).mul(eps / c));
  } else if (isFloat(labels.dtype)) {
    if (!compatible(logits, labels)) {
      throw new ShapeError(`float labels (one-hot or probabilities) must be shaped like the logits ${fmtShape(logits.shape)}, got ${fmtShape(labels.shape)}; pass int32 class indices otherwise`, {
        op,
        shapes: [logits.shape, labels.shape],
        origin: captureOrigin(),
      });
    }
    let t = cast(labels, logits.dtype);
    if (eps > 0) t = t.mul(1 - eps).add(eps / c);
    loss = t.mul(logSoftmax(logits, -1)).sum(-1).neg();
  } else {
    throw new DTypeError(`labels must be int32 class indices or a float distribution, got ${labels.dtype}`, { op, dtypes: [logits.dtype, labels.dtype], origin: captureOrigin() });
  }
  return reduceLoss(op, loss, opts.reduction);
}
