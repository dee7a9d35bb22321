/**
 * PyTorch's distribution and embedding losses: klDiv, poissonNll, gaussianNll, hingeEmbedding,
 * marginRanking, tripletMargin, cosineEmbedding. Same conventions as losses.ts: `{ reduction =
 * 'mean', ...own options }`, inputs of one shape (no silent broadcasting), targets cast to the
 * input's dtype. Where PyTorch clamps (`clamp_min(·, 0)`), the gradient at the clamp point is the
 * unclamped piece's, as PyTorch's (`clamp_min` passes the gradient where its input is ≥ the bound).
 */
import { DTypeError, ShapeError, Sym, captureOrigin, cast, fmtShape, minimum, shapeSize, stopGradient, where } from '@gradgraph/core';
import { compatible, prepare, reduceLoss, type LossOptions, type Reduction } from './losses';
import { checkNumber, checkOptions, graphError, requireFloat, requireSym } from './util';

/** max(u, 0) with PyTorch's `clamp_min` gradient: 1 where u ≥ 0 (at the kink too), 0 below. */
const clampMin0 = (u: Sym): Sym => where(u.greaterEqual(0), u, 0);

/** `y` (a symbol or number) as a symbol in `like`'s dtype, shaped `shape` (null dims match anything). */
function prepareAux(op: string, like: Sym, y: unknown, name: string, shape: readonly (number | null)[]): Sym {
  if (typeof y === 'number') return like.graph.constant(checkNumber(op, name, y), like.dtype);
  requireSym(op, y, name);
  if (y.graph !== like.graph) throw graphError(op, `${name} belongs to another graph`);
  if (y.dtype === 'bool') throw new DTypeError(`${name} is bool; cast it to a number type`, { op, dtypes: [y.dtype], origin: captureOrigin() });
  const fits = y.rank === shape.length && y.shape.every((d, i) => d === null || shape[i] === null || d === shape[i]);
  if (!fits) throw new ShapeError(`${name} must have shape ${fmtShape(shape)}, got ${fmtShape(y.shape)}`, { op, shapes: [shape, y.shape], origin: captureOrigin() });
  return cast(y, like.dtype);
}

// ---- distributions ---------------------------------------------------------------------------------

/**
 * Kullback–Leibler divergence KL(target ‖ input) pointwise, with `input` log-probabilities:
 * target·(log target − input), and 0 where target = 0 (PyTorch's xlogy). `logTarget: true` takes
 * the target as log-probabilities too: e^target·(target − input). `'mean'` averages over every
 * element, as PyTorch's (which warns about it); `'batchmean'` divides the sum by the size of axis 0,
 * the true KL divergence per example.
 * @example nn.klDiv(nn.logSoftmax(student), nn.softmax(teacher), { reduction: 'batchmean' })
 */
export function klDiv(logInput: Sym, target: Sym | number, opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Sym {
  const op = 'nn.klDiv';
  checkOptions(op, opts, ['reduction', 'logTarget']);
  const logTarget = opts.logTarget ?? false;
  if (typeof logTarget !== 'boolean') throw graphError(op, `logTarget must be true or false, got ${String(logTarget)}`);
  const [x, t] = prepare(op, logInput, target, ['logInput', 'target']);
  // t·log t with the log taken at 1 where t = 0, so value and gradient are 0 there instead of 0·(−∞)
  const loss = logTarget ? t.exp().mul(t.sub(x)) : t.mul(where(t.equal(0), 1, t).log()).sub(t.mul(x));
  if (opts.reduction === 'batchmean') return x.rank === 0 ? loss.sum() : loss.sum().div(shapeSize(x, [0]));
  return reduceLoss(op, loss, opts.reduction as Reduction | undefined);
}

/**
 * Poisson negative log-likelihood (PyTorch's `poisson_nll_loss`): with `logInput` (default) the
 * input is log λ and the loss e^input − target·input; otherwise the input is λ and the loss
 * input − target·log(input + eps) (eps = 1e-8). `full` adds Stirling's approximation of log(target!),
 * target·log target − target + ½·log(2π·target), where target > 1 (0 elsewhere).
 * @example nn.poissonNll(nn.dense(x, 1).squeeze(-1), counts)
 */
export function poissonNll(input: Sym, target: Sym | number, opts: LossOptions & { logInput?: boolean; full?: boolean; eps?: number } = {}): Sym {
  const op = 'nn.poissonNll';
  checkOptions(op, opts, ['reduction', 'logInput', 'full', 'eps']);
  const logInput = opts.logInput ?? true;
  const full = opts.full ?? false;
  if (typeof logInput !== 'boolean') throw graphError(op, `logInput must be true or false, got ${String(logInput)}`);
  if (typeof full !== 'boolean') throw graphError(op, `full must be true or false, got ${String(full)}`);
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-8, { min: 0 });
  const [x, t] = prepare(op, input, target, ['input', 'target']);
  let loss = logInput ? x.exp().sub(t.mul(x)) : x.sub(t.mul(x.add(eps).log()));
  if (full) {
    const big = t.greater(1);
    const ts = where(big, t, 2); // Stirling's term only where target > 1; 2 keeps the other branch finite
    const stirling = ts.mul(ts.log()).sub(ts).add(ts.mul(2 * Math.PI).log().mul(0.5));
    loss = loss.add(where(big, stirling, 0));
  }
  return reduceLoss(op, loss, opts.reduction);
}

/**
 * Gaussian negative log-likelihood (PyTorch's `gaussian_nll_loss`): ½·(log v + (input − target)²/v)
 * with v = max(variance, eps), eps = 1e-6, plus ½·log 2π when `full`. `variance` is shaped like the
 * input, or like it without its last axis or with a last axis of 1 (one variance per row), or a
 * number. As in PyTorch the clamp is invisible to the gradient: below eps, ∂/∂variance is the
 * derivative at v = eps (PyTorch clamps under no_grad). PyTorch raises on a negative variance;
 * here it is clamped like any variance below eps.
 * @example nn.gaussianNll(mu, y, nn.softplus(rawVar))
 */
export function gaussianNll(input: Sym, target: Sym | number, variance: Sym | number, opts: LossOptions & { full?: boolean; eps?: number } = {}): Sym {
  const op = 'nn.gaussianNll';
  checkOptions(op, opts, ['reduction', 'full', 'eps']);
  const full = opts.full ?? false;
  if (typeof full !== 'boolean') throw graphError(op, `full must be true or false, got ${String(full)}`);
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-6, { min: 0, minExclusive: true });
  const [x, t] = prepare(op, input, target, ['input', 'target']);
  let v: Sym;
  if (typeof variance === 'number') v = x.graph.constant(Math.max(checkNumber(op, 'variance', variance), eps), x.dtype);
  else {
    requireFloat(op, variance, 'variance');
    if (variance.graph !== x.graph) throw graphError(op, 'variance belongs to another graph than input');
    const rows = x.shape.slice(0, -1);
    const same = compatible(x, variance);
    const perRow = x.rank > 0 && variance.rank === rows.length && variance.shape.every((d, i) => d === null || rows[i] === null || d === rows[i]);
    const perRowKeep = x.rank > 0 && variance.rank === x.rank && variance.shape[x.rank - 1] === 1 && variance.shape.slice(0, -1).every((d, i) => d === null || rows[i] === null || d === rows[i]);
    if (!same && !perRow && !perRowKeep) {
      throw new ShapeError(`variance must be shaped like input ${fmtShape(x.shape)}, like it without its last axis, or with a last axis of 1; got ${fmtShape(variance.shape)}`, {
        op,
        shapes: [x.shape, variance.shape],
        origin: captureOrigin(),
      });
    }
    const raw = cast(same || perRowKeep ? variance : variance.expandDims(-1), x.dtype);
    // max(raw, eps) in value; the identity in gradient (raw − sg(raw) is exactly 0)
    v = where(raw.less(eps), raw.sub(stopGradient(raw)).add(eps), raw);
  }
  let loss = v.log().add(x.sub(t).square().div(v)).mul(0.5);
  if (full) loss = loss.add(0.5 * Math.log(2 * Math.PI));
  return reduceLoss(op, loss, opts.reduction);
}

// ---- embeddings and rankings -----------------------------------------------------------------------

/**
 * Hinge embedding loss (PyTorch's `hinge_embedding_loss`) on distances x with labels y ∈ {1, −1}:
 * x where y = 1, max(0, margin − x) where y = −1 (margin = 1). As in PyTorch, a label that is
 * neither contributes both terms.
 * @example nn.hingeEmbedding(dist, same, { margin: 2 })
 */
export function hingeEmbedding(x: Sym, y: Sym | number, opts: LossOptions & { margin?: number } = {}): Sym {
  const op = 'nn.hingeEmbedding';
  checkOptions(op, opts, ['reduction', 'margin']);
  const margin = checkNumber(op, 'margin', opts.margin ?? 1);
  const [d, t] = prepare(op, x, y, ['x', 'y']);
  const loss = where(t.notEqual(1), clampMin0(d.neg().add(margin)), 0).add(where(t.notEqual(-1), d, 0));
  return reduceLoss(op, loss, opts.reduction);
}

/**
 * Margin ranking loss: max(0, −y·(x1 − x2) + margin), margin = 0; y = 1 asks for x1 ranked above x2.
 * @example nn.marginRanking(scorePos, scoreNeg, 1, { margin: 0.5 })
 */
export function marginRanking(x1: Sym, x2: Sym, y: Sym | number, opts: LossOptions & { margin?: number } = {}): Sym {
  const op = 'nn.marginRanking';
  checkOptions(op, opts, ['reduction', 'margin']);
  const margin = checkNumber(op, 'margin', opts.margin ?? 0);
  const [a, b] = prepare(op, x1, x2, ['x1', 'x2']);
  const t = prepareAux(op, a, y, 'y', a.shape);
  return reduceLoss(op, clampMin0(t.neg().mul(a.sub(b)).add(margin)), opts.reduction);
}

/** PyTorch's `pairwise_distance`: ‖a − b + eps‖_p over the last axis. */
function pairwiseDistance(a: Sym, b: Sym, p: number, eps: number): Sym {
  const d = a.sub(b).add(eps);
  if (p === Infinity) return d.abs().max(-1);
  if (p === 2) return d.square().sum(-1).sqrt();
  if (p === 1) return d.abs().sum(-1);
  return d.abs().pow(p).sum(-1).pow(1 / p);
}

/**
 * Triplet margin loss (Schroff et al.; PyTorch's `triplet_margin_loss`) on embeddings [..., D]:
 * max(d(a, p) − d(a, n) + margin, 0) with d the p-norm distance ‖x − y + eps‖ over the last axis
 * (margin = 1, p = 2, eps = 1e-6, added to the difference as PyTorch does). `swap` uses
 * min(d(a, n), d(p, n)) as the negative distance (ties split the gradient, as torch.min).
 * @example nn.tripletMargin(anchor, positive, negative, { margin: 0.2 })
 */
export function tripletMargin(anchor: Sym, positive: Sym, negative: Sym, opts: LossOptions & { margin?: number; p?: number; eps?: number; swap?: boolean } = {}): Sym {
  const op = 'nn.tripletMargin';
  checkOptions(op, opts, ['reduction', 'margin', 'p', 'eps', 'swap']);
  const margin = checkNumber(op, 'margin', opts.margin ?? 1);
  const p = opts.p ?? 2;
  if (p !== Infinity) checkNumber(op, 'p', p, { min: 0, minExclusive: true });
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-6, { min: 0 });
  const swap = opts.swap ?? false;
  if (typeof swap !== 'boolean') throw graphError(op, `swap must be true or false, got ${String(swap)}`);
  requireFloat(op, anchor, 'anchor');
  if (anchor.rank === 0) throw new ShapeError('anchor must have an embedding axis (rank ≥ 1), got a scalar', { op, shapes: [anchor.shape], origin: captureOrigin() });
  const [a, pos] = prepare(op, anchor, positive, ['anchor', 'positive']);
  const [, neg] = prepare(op, anchor, negative, ['anchor', 'negative']);
  const dPos = pairwiseDistance(a, pos, p, eps);
  let dNeg = pairwiseDistance(a, neg, p, eps);
  if (swap) dNeg = minimum(dNeg, pairwiseDistance(pos, neg, p, eps));
  return reduceLoss(op, clampMin0(dPos.sub(dNeg).add(margin)), opts.reduction);
}

/**
 * Cosine embedding loss on pairs [..., D]: 1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin)
 * where y = −1 (0 for other labels), margin = 0, with cos = x1·x2/√((‖x1‖² + 1e-12)(‖x2‖² + 1e-12))
 * over the last axis (PyTorch's ε). y is shaped like the inputs without their last axis.
 * @example nn.cosineEmbedding(u, v, same, { margin: 0.5 })
 */
export function cosineEmbedding(x1: Sym, x2: Sym, y: Sym | number, opts: LossOptions & { margin?: number } = {}): Sym {
  const op = 'nn.cosineEmbedding';
  checkOptions(op, opts, ['reduction', 'margin']);
  const margin = checkNumber(op, 'margin', opts.margin ?? 0);
  requireFloat(op, x1, 'x1');
  if (x1.rank === 0) throw new ShapeError('x1 must have an embedding axis (rank ≥ 1), got a scalar', { op, shapes: [x1.shape], origin: captureOrigin() });
  const [a, b] = prepare(op, x1, x2, ['x1', 'x2']);
  const t = prepareAux(op, a, y, 'y', a.shape.slice(0, -1));
  const EPS = 1e-12;
  const cos = a.mul(b).sum(-1).div(a.square().sum(-1).add(EPS).mul(b.square().sum(-1).add(EPS)).sqrt());
  const loss = where(t.equal(1), cos.neg().add(1), 0).add(where(t.equal(-1), clampMin0(cos.sub(margin)), 0));
  return reduceLoss(op, loss, opts.reduction);
}
