/**
 * Losses: `nn.<loss>(pred, target, { reduction = 'mean', ...own options })`. `reduction` is
 * `'mean'` (over every element of the per-element loss), `'sum'`, or `'none'` (the per-element
 * loss, shaped like `pred`; like `pred` without its class axis for softmaxCrossEntropy).
 *
 * `pred` and `target` must have the same shape (null dims match anything): a silent broadcast of
 * a [N, 1] prediction against a [N] target is the classic regression bug, so it is an error.
 */
import { DTypeError, ShapeError, Sym, Tensor, abs, elementwiseBatch, type DType, captureOrigin, cast, clip, fmtShape, hasOp, isFloat, logsumexp, notDifferentiable, oneHot, registerOp, softplus, traits, where, type Operand } from '@gradgraph/core';
import { logSoftmax } from './activations';
import { checkNumber, checkOptions, graphError, requireFloat, requireSym, staticDim } from './util';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** `'mean'` (default), `'sum'` or `'none'`. */
  reduction?: Reduction;
}

/** Applies a reduction to a per-element loss. */
export function reduceLoss(op: string, loss: Sym, reduction: Reduction | undefined): Sym {
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

export function compatible(a: Sym, b: Sym): boolean {
  return a.rank === b.rank && a.shape.every((d, i) => d === null || b.shape[i] === null || d === b.shape[i]);
}

/** Checks `pred` (float) and `target` (a symbol of the same shape, or a number); casts `target` to pred's dtype. */
export function prepare(op: string, pred: unknown, target: unknown, names: [string, string] = ['pred', 'target']): [Sym, Sym] {
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
// A primitive (through core's public registerOp) so no rewrite can drop it. `ignoreIndex` (null
// for none) is a label that is allowed anywhere and then ignored by the loss.
const CHECK_LABELS = 'nn.checkClassIndices';
if (!hasOp(CHECK_LABELS)) {
  registerOp<{ depth: number; ignoreIndex?: number }>({
    name: CHECK_LABELS,
    arity: 1,
    kind: 'other',
    // no traits: a check the compiler must not see through
    traits: traits(),
    doc: 'the identity on int32 class indices; fails at run time on an index outside [0, depth) other than ignoreIndex',
    attrs: (raw) => {
      const depth = raw.depth;
      if (typeof depth !== 'number' || !Number.isInteger(depth) || depth <= 0) throw new ShapeError(`depth must be a positive integer, got ${String(depth)}`);
      const ignoreIndex = raw.ignoreIndex;
      if (ignoreIndex === undefined || ignoreIndex === null) return { depth }; // the attrs (and graph hashes) of graphs made before ignoreIndex existed
      if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) throw new ShapeError(`ignoreIndex must be an integer, got ${String(ignoreIndex)}`);
      return { depth, ignoreIndex };
    },
    infer: ([x]) => {
      if (x.dtype !== 'int32') throw new DTypeError(`class indices must be int32, got ${x.dtype}`);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], { depth, ignoreIndex }) => {
      for (let i = 0; i < x.size; i++) {
        const v = x.data[i];
        if ((v < 0 || v >= depth) && v !== ignoreIndex) {
          const at = x.rank <= 1 ? `position ${i}` : `position [${unravel(i, x.shape).join(', ')}]`;
          const hint = ignoreIndex === undefined && v < 0 ? ` (to skip padding labels, as PyTorch's default ignore_index = -100 does, pass { ignoreIndex: ${v} })` : '';
          throw new ShapeError(`label ${v} at ${at} is outside the ${depth} classes [0, ${depth})${hint}`);
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

/** A class weight: one number per class, as a number array, a Tensor or a float symbol. */
export type ClassWeight = readonly number[] | Tensor | Sym;

export interface ClassOptions {
  /** Per-class weights w (shape [C]): class c's loss is scaled by w_c; a weighted `'mean'` divides by Σ w[target]. */
  weight?: ClassWeight;
  /** A label value whose positions contribute nothing, neither to the sum nor to the mean's count. Default: none. */
  ignoreIndex?: number;
}

/** The class weight as a [C] symbol in `dtype`. */
function classWeight(op: string, w: ClassWeight, c: number, like: Sym): Sym {
  const g = like.graph;
  if (w instanceof Sym) {
    if (w.graph !== g) throw graphError(op, 'weight belongs to another graph than the input');
    if (!isFloat(w.dtype)) throw new DTypeError(`weight must be float32 or float64, got ${w.dtype}`, { op, dtypes: [w.dtype], origin: captureOrigin() });
    if (w.rank !== 1 || (w.shape[0] !== null && w.shape[0] !== c)) throw new ShapeError(`weight must have shape [${c}] (one per class), got ${fmtShape(w.shape)}`, { op, shapes: [w.shape], origin: captureOrigin() });
    return cast(w, like.dtype);
  }
  let t: Tensor;
  if (w instanceof Tensor) {
    if (w.rank !== 1 || w.shape[0] !== c) throw new ShapeError(`weight must have shape [${c}] (one per class), got ${fmtShape(w.shape)}`, { op, shapes: [w.shape], origin: captureOrigin() });
    t = w;
  } else if (Array.isArray(w)) {
    if (w.length !== c) throw new ShapeError(`weight must have ${c} entries (one per class), got ${w.length}`, { op, shapes: [[w.length]], origin: captureOrigin() });
    w.forEach((v, i) => checkNumber(op, `weight[${i}]`, v));
    t = Tensor.from([...w], 'float64');
  } else throw graphError(op, `weight must be a number array, a Tensor or a symbol, got ${w === null ? 'null' : typeof w}`);
  for (let i = 0; i < t.size; i++) checkNumber(op, `weight[${i}]`, t.data[i]);
  return g.constant(t.astype(like.dtype as DType));
}

/**
 * The pieces every class-index loss needs, for `x` [..., C] and int32 `labels` shaped like x
 * without its class axis: the label checked at run time, the one-hot mask of the label, the
 * target's weight w[label] (1 without weight), and `valid` (false at ignored positions).
 */
function classIndexParts(op: string, x: Sym, what: string, labels: Sym, c: number, opts: ClassOptions) {
  const rows = x.shape.slice(0, -1);
  const fits = labels.rank === rows.length && labels.shape.every((d, i) => d === null || rows[i] === null || d === rows[i]);
  if (!fits) {
    throw new ShapeError(`int32 labels must be shaped like the ${what} without the class axis, ${fmtShape(rows)}; got ${fmtShape(labels.shape)} for ${what} ${fmtShape(x.shape)}`, {
      op,
      shapes: [x.shape, labels.shape],
      origin: captureOrigin(),
    });
  }
  const ignoreIndex = opts.ignoreIndex === undefined ? null : checkNumber(op, 'ignoreIndex', opts.ignoreIndex, { integer: true });
  const checked = x.graph.apply(CHECK_LABELS, [labels], ignoreIndex === null ? { depth: c } : { depth: c, ignoreIndex });
  const mask = oneHot(checked, c, 'bool');
  const w = opts.weight === undefined ? undefined : classWeight(op, opts.weight, c, x);
  const wTarget = w && where(mask, w, 0).sum(-1); // w[label] (0 where the label is the ignore index outside [0, C))
  const valid = ignoreIndex === null ? undefined : checked.notEqual(ignoreIndex);
  return { mask, w, wTarget, valid };
}

/**
 * Reduces a per-position class loss: ignored positions count 0; `'mean'` divides by the number of
 * counted positions, or by Σ w[label] over them when weighted (PyTorch). With nothing counted,
 * the mean is 0 (PyTorch gives 0/0 = NaN).
 */
function reduceClassLoss(op: string, loss: Sym, parts: { wTarget?: Sym; valid?: Sym }, reduction: Reduction | undefined): Sym {
  const { wTarget, valid } = parts;
  const masked = valid ? where(valid, loss, 0) : loss;
  if ((reduction ?? 'mean') !== 'mean' || (!wTarget && !valid)) return reduceLoss(op, masked, reduction);
  let count: Sym;
  if (wTarget) count = (valid ? where(valid, wTarget, 0) : wTarget).sum();
  else count = cast(valid!, loss.dtype).sum();
  return masked.sum().div(where(count.equal(0), 1, count));
}

function requireClassAxis(op: string, x: Sym, labels: unknown, what: string): number {
  if (x.rank === 0) throw new ShapeError(`${what} must have a class axis (rank ≥ 1), got a scalar`, { op, shapes: [x.shape], origin: captureOrigin() });
  requireSym(op, labels, 'labels');
  if (labels.graph !== x.graph) throw graphError(op, `labels belong to another graph than ${what}`);
  return staticDim(op, x, -1, 'the class axis');
}

/**
 * Negative log-likelihood on log-probabilities [..., C] (classes on the last axis; PyTorch puts
 * them on axis 1): −w[label]·logProbs[label] for int32 labels shaped like the input without its
 * class axis. `weight` scales each class; `ignoreIndex` skips a label value. A weighted `'mean'`
 * divides by the summed weights of the counted targets, as PyTorch. A label outside [0, C) other
 * than `ignoreIndex` fails at run time. Use it after `nn.logSoftmax`; `softmaxCrossEntropy` does
 * both in one stable step.
 * @example const loss = nn.nll(nn.logSoftmax(logits), y, { weight: [1, 5], ignoreIndex: -100 });
 */
export function nll(logProbs: Sym, labels: Sym, opts: LossOptions & ClassOptions = {}): Sym {
  const op = 'nn.nll';
  checkOptions(op, opts, ['reduction', 'weight', 'ignoreIndex']);
  requireFloat(op, logProbs, 'logProbs');
  const c = requireClassAxis(op, logProbs, labels, 'logProbs');
  if (labels.dtype !== 'int32') throw new DTypeError(`labels must be int32 class indices, got ${labels.dtype}`, { op, dtypes: [logProbs.dtype, labels.dtype], origin: captureOrigin() });
  const parts = classIndexParts(op, logProbs, 'logProbs', labels, c, opts);
  const picked = where(parts.mask, logProbs, 0).sum(-1); // logProbs[label]
  const loss = parts.wTarget ? picked.mul(parts.wTarget).neg() : picked.neg();
  return reduceClassLoss(op, loss, parts, opts.reduction);
}

export interface SoftmaxCrossEntropyOptions extends LossOptions, ClassOptions {
  /** ε: the target becomes (1 − ε)·t + ε/C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Softmax cross-entropy on logits [..., C] (classes on the last axis). `labels` are int32 class
 * indices shaped like the logits without the class axis, or a float distribution (one-hot or soft)
 * shaped like the logits. Computed stably as logsumexp(z) − z[label] (indices) or
 * −Σ t·logSoftmax(z) (distributions). The mean is over the batch (every position but the class
 * axis). `labelSmoothing` ε mixes the target with the uniform distribution: (1 − ε)·t + ε/C.
 * `weight` (one per class) and `ignoreIndex` follow PyTorch's `cross_entropy`: with int32 labels
 * the per-position loss is (1 − ε)·w[label]·(lse − z[label]) + (ε/C)·Σ_c w_c·(lse − z_c), and a
 * weighted `'mean'` divides by Σ w[label] over the counted positions; with a distribution it is
 * −Σ_c w_c·t_c·logSoftmax(z)_c and `'mean'` divides by the number of rows. A label outside [0, C)
 * (other than `ignoreIndex`) fails at run time, naming it.
 * @example const loss = nn.softmaxCrossEntropy(logits, g.input('y', [null], 'int32'));
 * @example nn.softmaxCrossEntropy(logits, y, { weight: [1, 1, 4], ignoreIndex: -100, labelSmoothing: 0.1 })
 */
export function softmaxCrossEntropy(logits: Sym, labels: Sym, opts: SoftmaxCrossEntropyOptions = {}): Sym {
  const op = 'nn.softmaxCrossEntropy';
  checkOptions(op, opts, ['reduction', 'labelSmoothing', 'weight', 'ignoreIndex']);
  requireFloat(op, logits, 'logits');
  const c = requireClassAxis(op, logits, labels, 'logits');
  const eps = checkNumber(op, 'labelSmoothing', opts.labelSmoothing ?? 0, { min: 0, max: 1 });
  if (labels.dtype === 'int32') {
    const parts = classIndexParts(op, logits, 'logits', labels, c, opts);
    const picked = where(parts.mask, logits, 0).sum(-1); // z[label]
    const lse = logsumexp(logits, -1);
    let loss: Sym;
    if (!parts.w) {
      // −Σ t·log p with t = (1−ε)·onehot + ε/C, log p = z − lse:  lse − (1−ε)·z[label] − (ε/C)·Σz
      loss = eps === 0 ? lse.sub(picked) : lse.sub(picked.mul(1 - eps)).sub(logits.sum(-1).mul(eps / c));
    } else {
      // (1−ε)·w[label]·(lse − z[label]) + (ε/C)·(lse·Σw − Σ w_c z_c)
      loss = lse.sub(picked).mul(parts.wTarget!);
      if (eps > 0) loss = loss.mul(1 - eps).add(lse.mul(parts.w.sum()).sub(logits.mul(parts.w).sum(-1)).mul(eps / c));
    }
    return reduceClassLoss(op, loss, parts, opts.reduction);
  }
  if (isFloat(labels.dtype)) {
    if (opts.ignoreIndex !== undefined) throw graphError(op, 'ignoreIndex needs int32 class indices; with a float distribution as labels, give the rows to skip zero weight instead');
    if (!compatible(logits, labels)) {
      throw new ShapeError(`float labels (one-hot or probabilities) must be shaped like the logits ${fmtShape(logits.shape)}, got ${fmtShape(labels.shape)}; pass int32 class indices otherwise`, {
        op,
        shapes: [logits.shape, labels.shape],
        origin: captureOrigin(),
      });
    }
    let t = cast(labels, logits.dtype);
    if (eps > 0) t = t.mul(1 - eps).add(eps / c);
    if (opts.weight !== undefined) t = t.mul(classWeight(op, opts.weight, c, logits));
    // Σ t·logSoftmax(z) is rewritten by the compiler into the fused stable primitive
    return reduceLoss(op, t.mul(logSoftmax(logits, -1)).sum(-1).neg(), opts.reduction);
  }
  throw new DTypeError(`labels must be int32 class indices or a float distribution, got ${labels.dtype}`, { op, dtypes: [logits.dtype, labels.dtype], origin: captureOrigin() });
}
