/**
 * The optimizers. Each is an update rule `Δ(θ, g, state)` wrapped by the shared shell in
 * `optimizer.ts` (θ ← θ·(1 − lr·λ_dec) − Δ). Formulas and defaults follow `torch.optim`; where
 * TensorFlow.js differs, an option reproduces its form (documented in docs/optim.md).
 */
import { Sym, abs, add, div, greater, maximum, mul, pow, sqrt, sub, where, fmtJson } from '@gradgraph/core';
import { Optimizer, exclusionOption, lrOption, type CommonOptions, type LearningRate, type UpdateRule } from './optimizer';
import { boolOption, checkKeys, numberOption, optionError } from './options';

const COMMON = ['lr', 'decoupledWeightDecay', 'excludeFromDecay', 'name'] as const;

function parseCommon(op: string, o: Record<string, unknown>, defaultLr: number, kind: string) {
  const lr = lrOption(op, o.lr, defaultLr);
  const decoupledWeightDecay = numberOption(op, 'decoupledWeightDecay', o.decoupledWeightDecay, 0, { min: 0 });
  const exclude = exclusionOption(op, o.excludeFromDecay);
  if (o.name !== undefined && (typeof o.name !== 'string' || !o.name || o.name.includes('/'))) {
    throw optionError(op, `option "name" must be a non-empty string without "/", got ${JSON.stringify(o.name)}`);
  }
  const scope = (o.name as string | undefined) ?? kind;
  return { lr, decoupledWeightDecay, exclude, scope };
}

/**
 * The optimizer from its parsed common options, its own hyperparameters (for `config`), its
 * coupled weight decay and its update rule.
 */
function build(name: string, common: ReturnType<typeof parseCommon>, own: Record<string, unknown>, weightDecay: number, rule: UpdateRule, decoupledWeightDecay = common.decoupledWeightDecay): Optimizer {
  return new Optimizer({
    name,
    config: { lr: lrForConfig(common.lr), ...own, weightDecay, decoupledWeightDecay },
    lr: common.lr,
    weightDecay,
    decoupledWeightDecay,
    exclude: common.exclude,
    scope: common.scope,
    rule,
  });
}

/** The lr as it appears in `config`: a number, a schedule (JSON: its kind and config) or `{ symbol }`. */
function lrForConfig(lr: LearningRate): unknown {
  return lr instanceof Sym ? { symbol: lr.name ?? `%${lr.id}` } : lr;
}

// ---- SGD, momentum, Nesterov -----------------------------------------------------------------

export interface SgdOptions extends CommonOptions {
  /** Default 1e-3 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** Momentum factor μ. Default 0 (plain SGD). */
  momentum?: number;
  /** Dampening τ of the momentum buffer. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs μ > 0 and τ = 0). Default false. */
  nesterov?: boolean;
  /** Coupled L2 weight decay: g ← g + λ·θ. Default 0. */
  weightDecay?: number;
}

const SGD_KEYS = [...COMMON, 'momentum', 'dampening', 'nesterov', 'weightDecay'];

function makeSgd(kind: string, opts: SgdOptions | undefined, defaultMomentum: number, forceNesterov: boolean | undefined): Optimizer {
  const op = `optim.${kind}`;
  const keys = forceNesterov === undefined ? SGD_KEYS : SGD_KEYS.filter((k) => k !== 'nesterov');
  const o = checkKeys(op, opts, keys);
  const common = parseCommon(op, o, 1e-3, kind);
  const momentum = numberOption(op, 'momentum', o.momentum, defaultMomentum, { min: 0 });
  const dampening = numberOption(op, 'dampening', o.dampening, 0, { min: 0, max: 1 });
  const nesterov = forceNesterov ?? boolOption(op, 'nesterov', o.nesterov, false);
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw optionError(op, `Nesterov momentum needs momentum > 0 and dampening 0, got momentum ${momentum}, dampening ${dampening}`);
  if (kind !== 'sgd' && momentum <= 0) throw optionError(op, `option "momentum" must be > 0 for ${kind} (use optim.sgd for plain SGD), got ${momentum}`);

  // b ← g on the first step, μ·b + (1 − τ)·g after;  d = g + μ·b (Nesterov) or b;  Δ = lr·d
  const rule: UpdateRule = (c) => {
    if (momentum === 0) return mul(c.lr, c.grad);
    const buf = c.state('momentum');
    let next = add(mul(buf, momentum), dampening === 0 ? c.grad : mul(c.grad, 1 - dampening));
    // with τ = 0, μ·0 + g already equals g; otherwise PyTorch starts the buffer at g, undamped
    if (dampening !== 0) next = where(c.isFirstStep, c.grad, next);
    c.assign(buf, next);
    return mul(c.lr, nesterov ? add(c.grad, mul(next, momentum)) : next);
  };
  return build(kind, common, { momentum, dampening, nesterov }, weightDecay, rule);
}

/**
 * Stochastic gradient descent, as `torch.optim.SGD`: optional momentum, dampening, Nesterov
 * momentum and coupled weight decay. `θ ← θ − lr·d` with `d = g` (μ = 0), `b` (momentum) or
 * `g + μ·b` (Nesterov), where `b ← μ·b + (1 − τ)·g` (and `b = g` on the first step).
 * @example const opt = optim.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 */
export function sgd(opts?: SgdOptions): Optimizer {
  return makeSgd('sgd', opts, 0, undefined);
}

/**
 * SGD with (heavy-ball) momentum, as `torch.optim.SGD(momentum=μ)`. μ defaults to 0.9 (PyTorch
 * has no separate momentum optimizer; its SGD default μ = 0 is plain SGD, see `optim.sgd`).
 * @example const opt = optim.momentum({ lr: 0.01, momentum: 0.9 });
 */
export function momentum(opts?: Omit<SgdOptions, 'nesterov'>): Optimizer {
  return makeSgd('momentum', opts, 0.9, false);
}

/**
 * SGD with Nesterov momentum, as `torch.optim.SGD(momentum=μ, nesterov=True)`; μ defaults to 0.9.
 * @example const opt = optim.nesterov({ lr: 0.01, momentum: 0.9 });
 */
export function nesterov(opts?: Omit<SgdOptions, 'nesterov'>): Optimizer {
  return makeSgd('nesterov', opts, 0.9, true);
}

// ---- Adagrad ---------------------------------------------------------------------------------

export interface AdagradOptions extends CommonOptions {
  /** Default 1e-2 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** lr_t = lr / (1 + (t − 1)·lrDecay). Default 0. */
  lrDecay?: number;
  /** Starting value of the sum of squares. Default 0 (PyTorch); TensorFlow.js uses 0.1. */
  initialAccumulator?: number;
  /** Default 1e-10 (PyTorch). */
  eps?: number;
  /** ε inside the root, `√(G + ε)`, as TensorFlow.js, instead of `√G + ε`. Default false. */
  epsInsideSqrt?: boolean;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * Adagrad, as `torch.optim.Adagrad`: `G ← G + g²`, `θ ← θ − lr_t·g/(√G + ε)` with
 * `lr_t = lr/(1 + (t − 1)·lrDecay)`.
 * @example const opt = optim.adagrad({ lr: 0.05 });
 */
export function adagrad(opts?: AdagradOptions): Optimizer {
  const op = 'optim.adagrad';
  const o = checkKeys(op, opts, [...COMMON, 'lrDecay', 'initialAccumulator', 'eps', 'epsInsideSqrt', 'weightDecay']);
  const common = parseCommon(op, o, 1e-2, 'adagrad');
  const lrDecay = numberOption(op, 'lrDecay', o.lrDecay, 0, { min: 0 });
  const initialAccumulator = numberOption(op, 'initialAccumulator', o.initialAccumulator, 0, { min: 0 });
  const eps = numberOption(op, 'eps', o.eps, 1e-10, { min: 0 });
  const epsInsideSqrt = boolOption(op, 'epsInsideSqrt', o.epsInsideSqrt, false);
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  if (eps === 0 && initialAccumulator === 0) throw optionError(op, 'eps 0 with initialAccumulator 0 divides by zero for a zero gradient; set eps > 0');
  const rule: UpdateRule = (c) => {
    const sum = c.state('sum', initialAccumulator);
    const next = add(sum, mul(c.grad, c.grad));
    c.assign(sum, next);
    const clr = lrDecay === 0 ? c.lr : c.scalar(div(c.lr64, add(1, mul(sub(c.t, 1), lrDecay))));
    const denom = epsInsideSqrt ? sqrt(add(next, eps)) : add(sqrt(next), eps);
    return mul(clr, div(c.grad, denom));
  };
  return build('adagrad', common, { lrDecay, initialAccumulator, eps, epsInsideSqrt }, weightDecay, rule);
}

// ---- RMSprop ---------------------------------------------------------------------------------

export interface RmspropOptions extends CommonOptions {
  /** Default 1e-2 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** Smoothing constant α of the mean square. Default 0.99 (PyTorch; TensorFlow.js's `decay` is 0.9). */
  alpha?: number;
  /** Default 1e-8 (PyTorch). */
  eps?: number;
  /** Momentum μ on the scaled step. Default 0. */
  momentum?: number;
  /** Divide by the estimated standard deviation √(E[g²] − E[g]²) instead of the RMS. Default false. */
  centered?: boolean;
  /** ε inside the root, `√(v + ε)`, as TensorFlow.js, instead of `√v + ε`. Default false. */
  epsInsideSqrt?: boolean;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * RMSprop, as `torch.optim.RMSprop`: `v ← α·v + (1 − α)·g²`; centered: `ḡ ← α·ḡ + (1 − α)·g`,
 * `a = √max(v − ḡ², 0) + ε`, else `a = √v + ε`; with momentum `b ← μ·b + g/a`, `θ ← θ − lr·b`, without
 * `θ ← θ − lr·g/a`.
 * @example const opt = optim.rmsprop({ lr: 1e-3, centered: true, momentum: 0.9 });
 */
export function rmsprop(opts?: RmspropOptions): Optimizer {
  const op = 'optim.rmsprop';
  const o = checkKeys(op, opts, [...COMMON, 'alpha', 'eps', 'momentum', 'centered', 'epsInsideSqrt', 'weightDecay']);
  const common = parseCommon(op, o, 1e-2, 'rmsprop');
  const alpha = numberOption(op, 'alpha', o.alpha, 0.99, { min: 0, below: 1 });
  const eps = numberOption(op, 'eps', o.eps, 1e-8, { above: 0 });
  const mom = numberOption(op, 'momentum', o.momentum, 0, { min: 0 });
  const centered = boolOption(op, 'centered', o.centered, false);
  const epsInsideSqrt = boolOption(op, 'epsInsideSqrt', o.epsInsideSqrt, false);
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const sq = c.state('squareAvg');
    const v = add(mul(sq, alpha), mul(mul(g, g), 1 - alpha));
    c.assign(sq, v);
    let variance = v;
    if (centered) {
      const ga = c.state('gradAvg');
      const gbar = add(mul(ga, alpha), mul(g, 1 - alpha));
      c.assign(ga, gbar);
      // v − ḡ² ≥ 0 in exact arithmetic, but for a steady gradient both sides converge to g² and
      // the rounded difference can dip below 0 (PyTorch's √ then gives NaN): clamp it at 0
      variance = maximum(sub(v, mul(gbar, gbar)), 0);
    }
    const avg = epsInsideSqrt ? sqrt(add(variance, eps)) : add(sqrt(variance), eps);
    if (mom === 0) return mul(c.lr, div(g, avg));
    const buf = c.state('momentum');
    const next = add(mul(buf, mom), div(g, avg));
    c.assign(buf, next);
    return mul(c.lr, next);
  };
  return build('rmsprop', common, { alpha, eps, momentum: mom, centered, epsInsideSqrt }, weightDecay, rule);
}

// ---- Adam, AdamW -----------------------------------------------------------------------------

/** `betas`: a pair [β₁, β₂], each in [0, 1); default [0.9, 0.999]. */
function betasOption(op: string, value: unknown): [number, number] {
  if (value === undefined) return [0.9, 0.999];
  if (!Array.isArray(value) || value.length !== 2) throw optionError(op, `option "betas" must be a pair [β₁, β₂], got ${fmtJson(value)}`);
  return [numberOption(op, 'betas[0]', value[0], undefined, { min: 0, below: 1 }), numberOption(op, 'betas[1]', value[1], undefined, { min: 0, below: 1 })];
}

export interface AdamOptions extends CommonOptions {
  /** Default 1e-3 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** [β₁, β₂], each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to √v̂ after bias correction. Default 1e-8 (PyTorch; TensorFlow.js uses 1e-7). */
  eps?: number;
  /** Use the running maximum of v (AMSGrad). Default false. */
  amsgrad?: boolean;
  /**
   * TensorFlow (Python) / Keras placement, "ε̂" of Kingma & Ba §2: ε is added to √v before the
   * bias correction, i.e. `m̂/(√v̂ + ε/√(1 − β₂ᵗ))`. Default false. (TensorFlow.js uses PyTorch's.)
   */
  epsHat?: boolean;
  /** adam: coupled L2 decay g ← g + λθ (default 0). adamw: decoupled decay θ ← θ(1 − lr·λ) (default 0.01). */
  weightDecay?: number;
}

function makeAdam(kind: 'adam' | 'adamw', opts: AdamOptions | undefined): Optimizer {
  const op = `optim.${kind}`;
  const keys = [...COMMON, 'betas', 'eps', 'amsgrad', 'epsHat', 'weightDecay'].filter((k) => kind === 'adam' || k !== 'decoupledWeightDecay');
  const o = checkKeys(op, opts, keys);
  const common = parseCommon(op, o, 1e-3, kind);
  const betas = betasOption(op, o.betas);
  const [b1, b2] = betas;
  const eps = numberOption(op, 'eps', o.eps, 1e-8, { above: 0 });
  const amsgrad = boolOption(op, 'amsgrad', o.amsgrad, false);
  const epsHat = boolOption(op, 'epsHat', o.epsHat, false);
  const wd = numberOption(op, 'weightDecay', o.weightDecay, kind === 'adamw' ? 0.01 : 0, { min: 0 });
  const weightDecay = kind === 'adam' ? wd : 0;
  const decoupledWeightDecay = kind === 'adamw' ? wd : common.decoupledWeightDecay;

  // m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  v̂ ← max(v̂, v) (AMSGrad)
  // Δ = lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)       (PyTorch)
  // Δ = lr/(1−β₁ᵗ) · m / ((√v + ε)/√(1−β₂ᵗ))     (epsHat)
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const m = c.state('m');
    const v = c.state('v');
    const m1 = add(mul(m, b1), mul(g, 1 - b1));
    const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
    c.assign(m, m1);
    c.assign(v, v1);
    let vUsed = v1;
    if (amsgrad) {
      const vmax = c.state('vMax');
      vUsed = maximum(vmax, v1);
      c.assign(vmax, vUsed);
    }
    // bias corrections in float64, rounded once to the param's dtype
    const stepSize = c.scalar(div(c.lr64, sub(1, pow(b1, c.t))));
    const bc2Sqrt = c.scalar(sqrt(sub(1, pow(b2, c.t))));
    const denom = epsHat ? div(add(sqrt(vUsed), eps), bc2Sqrt) : add(div(sqrt(vUsed), bc2Sqrt), eps);
    return mul(stepSize, div(m1, denom));
  };
  return build(kind, common, { betas, eps, amsgrad, epsHat }, weightDecay, rule, decoupledWeightDecay);
}

/**
 * Adam, as `torch.optim.Adam`: bias-corrected moments, ε added to √v̂ after bias correction,
 * optional AMSGrad and coupled L2 `weightDecay`.
 * @example const opt = optim.adam({ lr: 1e-3, betas: [0.9, 0.999], amsgrad: true });
 */
export function adam(opts?: AdamOptions): Optimizer {
  return makeAdam('adam', opts);
}

/**
 * AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay `θ ← θ·(1 − lr·λ)` applied
 * before the Adam step; `weightDecay` λ defaults to 0.01.
 * @example const opt = optim.adamw({ lr: 1e-3, weightDecay: 0.05, excludeFromDecay: /bias|prelu/ });
 */
export function adamw(opts?: Omit<AdamOptions, 'decoupledWeightDecay'>): Optimizer {
  return makeAdam('adamw', opts);
}

// ---- NAdam, RAdam, Adamax, Adadelta ------------------------------------------------------------

export interface NadamOptions extends CommonOptions {
  /** Default 2e-3 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** [β₁, β₂], each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** ψ of the momentum schedule μ_t = β₁·(1 − ½·0.96^(tψ)). Default 4e-3 (PyTorch's momentum_decay). */
  momentumDecay?: number;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * NAdam (Dozat 2016), as `torch.optim.NAdam`: Adam with Nesterov momentum and a warming momentum
 * schedule μ_t = β₁·(1 − ½·0.96^(t·ψ)). With Π_t = μ₁⋯μ_t (state `muProduct`),
 * `Δ = lr·(1 − μ_t)/(1 − Π_t)·g/d + lr·μ_{t+1}/(1 − Π_t·μ_{t+1})·m/d`, `d = √(v/(1 − β₂ᵗ)) + ε`.
 * (PyTorch before 2.0 multiplied Π_{t+1} by μ_t twice in its default single-tensor path; this is
 * the corrected form of PyTorch 2.)
 * @example const opt = optim.nadam({ lr: 2e-3, momentumDecay: 4e-3 });
 */
export function nadam(opts?: NadamOptions): Optimizer {
  const op = 'optim.nadam';
  const o = checkKeys(op, opts, [...COMMON, 'betas', 'eps', 'momentumDecay', 'weightDecay']);
  const common = parseCommon(op, o, 2e-3, 'nadam');
  const betas = betasOption(op, o.betas);
  const [b1, b2] = betas;
  const eps = numberOption(op, 'eps', o.eps, 1e-8, { above: 0 });
  const momentumDecay = numberOption(op, 'momentumDecay', o.momentumDecay, 4e-3, { min: 0 });
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  // μ_t = β₁·(1 − ½·0.96^(tψ)), a float64 scalar of the 1-based step t
  const muAt = (t: Sym): Sym => mul(b1, sub(1, mul(0.5, pow(0.96, mul(t, momentumDecay)))));
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const m = c.state('m');
    const v = c.state('v');
    const muProduct = c.scalarState('muProduct', 1);
    const mu = muAt(c.t);
    const muNext = muAt(add(c.t, 1));
    const prod = mul(muProduct, mu); // Π_t
    c.assign(muProduct, prod);
    const m1 = add(mul(m, b1), mul(g, 1 - b1));
    const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
    c.assign(m, m1);
    c.assign(v, v1);
    const denom = add(sqrt(div(v1, c.scalar(sub(1, pow(b2, c.t))))), eps);
    const gradStep = c.scalar(div(mul(c.lr64, sub(1, mu)), sub(1, prod)));
    const momentumStep = c.scalar(div(mul(c.lr64, muNext), sub(1, mul(prod, muNext))));
    return div(add(mul(gradStep, g), mul(momentumStep, m1)), denom);
  };
  return build('nadam', common, { betas, eps, momentumDecay }, weightDecay, rule);
}

export interface RadamOptions extends CommonOptions {
  /** Default 1e-3 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** [β₁, β₂], each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to √v before the bias correction (PyTorch). Default 1e-8. */
  eps?: number;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * RAdam (Liu et al. 2020), as `torch.optim.RAdam`: with ρ∞ = 2/(1 − β₂) − 1 and
 * ρ_t = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ), while ρ_t ≤ 5 the step is SGD with momentum, `Δ = lr·m̂`; after,
 * `Δ = lr·m̂·r_t·√(1 − β₂ᵗ)/(√v + ε)` with the rectification
 * r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞/((ρ∞ − 4)(ρ∞ − 2)ρ_t)) and m̂ = m/(1 − β₁ᵗ).
 * @example const opt = optim.radam({ lr: 1e-3 });
 */
export function radam(opts?: RadamOptions): Optimizer {
  const op = 'optim.radam';
  const o = checkKeys(op, opts, [...COMMON, 'betas', 'eps', 'weightDecay']);
  const common = parseCommon(op, o, 1e-3, 'radam');
  const betas = betasOption(op, o.betas);
  const [b1, b2] = betas;
  const eps = numberOption(op, 'eps', o.eps, 1e-8, { above: 0 });
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  const rhoInf = 2 / (1 - b2) - 1;
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const m = c.state('m');
    const v = c.state('v');
    const m1 = add(mul(m, b1), mul(g, 1 - b1));
    const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
    c.assign(m, m1);
    c.assign(v, v1);
    const b2t = pow(b2, c.t);
    const bc2 = sub(1, b2t);
    const rho = sub(rhoInf, div(mul(mul(2, c.t), b2t), bc2));
    const rectified = greater(rho, 5);
    const r = maximum(rho, 5); // the rectification's ρ, kept > 4 so its unused branch is finite
    const rect = sqrt(div(mul(mul(sub(r, 4), sub(r, 2)), rhoInf), mul((rhoInf - 4) * (rhoInf - 2), r)));
    const mHat = div(m1, c.scalar(sub(1, pow(b1, c.t))));
    const adaptive = div(c.scalar(mul(sqrt(bc2), rect)), add(sqrt(v1), eps));
    return mul(c.lr, where(rectified, mul(mHat, adaptive), mHat));
  };
  return build('radam', common, { betas, eps }, weightDecay, rule);
}

export interface AdamaxOptions extends CommonOptions {
  /** Default 2e-3 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** [β₁, β₂], each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to |g| inside the infinity norm. Default 1e-8. */
  eps?: number;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * Adamax (Kingma & Ba §7.1), as `torch.optim.Adamax`: `m ← β₁m + (1 − β₁)g`,
 * `u ← max(β₂·u, |g| + ε)`, `Δ = lr/(1 − β₁ᵗ)·m/u`.
 * @example const opt = optim.adamax({ lr: 2e-3 });
 */
export function adamax(opts?: AdamaxOptions): Optimizer {
  const op = 'optim.adamax';
  const o = checkKeys(op, opts, [...COMMON, 'betas', 'eps', 'weightDecay']);
  const common = parseCommon(op, o, 2e-3, 'adamax');
  const betas = betasOption(op, o.betas);
  const [b1, b2] = betas;
  const eps = numberOption(op, 'eps', o.eps, 1e-8, { above: 0 });
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const m = c.state('m');
    const u = c.state('u');
    const m1 = add(mul(m, b1), mul(g, 1 - b1));
    const u1 = maximum(mul(u, b2), add(abs(g), eps));
    c.assign(m, m1);
    c.assign(u, u1);
    return mul(c.scalar(div(c.lr64, sub(1, pow(b1, c.t)))), div(m1, u1));
  };
  return build('adamax', common, { betas, eps }, weightDecay, rule);
}

export interface AdadeltaOptions extends CommonOptions {
  /** Default 1 (PyTorch). */
  lr?: CommonOptions['lr'];
  /** Decay ρ of both running averages, in [0, 1]. Default 0.9. */
  rho?: number;
  /** Default 1e-6. */
  eps?: number;
  /** Coupled L2 weight decay. Default 0. */
  weightDecay?: number;
}

/**
 * Adadelta (Zeiler 2012), as `torch.optim.Adadelta`: `v ← ρv + (1 − ρ)g²`,
 * `δ = √(a + ε)/√(v + ε)·g`, `a ← ρa + (1 − ρ)δ²`, `Δ = lr·δ`.
 * @example const opt = optim.adadelta({ rho: 0.95 });
 */
export function adadelta(opts?: AdadeltaOptions): Optimizer {
  const op = 'optim.adadelta';
  const o = checkKeys(op, opts, [...COMMON, 'rho', 'eps', 'weightDecay']);
  const common = parseCommon(op, o, 1, 'adadelta');
  const rho = numberOption(op, 'rho', o.rho, 0.9, { min: 0, max: 1 });
  const eps = numberOption(op, 'eps', o.eps, 1e-6, { above: 0 });
  const weightDecay = numberOption(op, 'weightDecay', o.weightDecay, 0, { min: 0 });
  const rule: UpdateRule = (c) => {
    const g = c.grad;
    const sq = c.state('squareAvg');
    const acc = c.state('accDelta');
    const v = add(mul(sq, rho), mul(mul(g, g), 1 - rho));
    const delta = mul(div(sqrt(add(acc, eps)), sqrt(add(v, eps))), g);
    c.assign(sq, v);
    c.assign(acc, add(mul(acc, rho), mul(mul(delta, delta), 1 - rho)));
    return mul(c.lr, delta);
  };
  return build('adadelta', common, { rho, eps }, weightDecay, rule);
}
