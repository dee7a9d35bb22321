/**
 * Learning-rate schedules as graph expressions of the optimizer's step counter, so a compiled
 * training step evaluates its own learning rate with no host work.
 *
 * Convention (PyTorch's `LRScheduler`): a schedule is evaluated at `s`, the number of optimizer
 * steps already completed — `s = 0` for the first update, `s = k` for the (k+1)-th. It is the step
 * counter *before* the run increments it. (Adam's bias correction, by contrast, uses the 1-based
 * `t = s + 1`, as in PyTorch.) Every schedule computes in float64; the optimizer casts the result
 * to each param's dtype.
 */
import { Graph, Sym, Tensor, add, addN, broadcastLike, cast, clip, compile, cos, div, gather, greaterEqual, less, lessEqual, log, maximum, minimum, mul, pow, sub, where, type Executable } from '@gradgraph/core';
import { checkKeys, choiceOption, boolOption, numberOption, optionError } from './options';

/**
 * A learning rate as a function of the step count. Pass it as an optimizer's `lr`; `at(s)` builds
 * the expression, `values(steps)` evaluates it on the host (for plots and tests).
 */
export class Schedule {
  private exe: Executable | undefined;

  constructor(
    /** Which schedule: `'cosine'`, `'oneCycle'`, ... */
    readonly kind: string,
    /** The resolved hyperparameters. */
    readonly config: Readonly<Record<string, unknown>>,
    private readonly build: (step: Sym) => Sym | number,
  ) {
    Object.freeze(config);
  }

  /**
   * JSON form, for configs and checkpoint manifests: `{ schedule: kind, ...config }`.
   * @example JSON.stringify(schedules.exponential({ lr: 1, gamma: 0.9 })) // {"schedule":"exponential","lr":1,"gamma":0.9}
   */
  toJSON(): Record<string, unknown> {
    return { schedule: this.kind, ...this.config };
  }

  /**
   * The learning rate at step `step` (steps completed: 0 on the first update) as a float64 symbol.
   * Works elementwise, so `step` may be a vector of steps.
   * @example const lr = schedules.cosine({ lr: 0.1, totalSteps: 100 }).at(g.input('s', [], 'float64'));
   */
  at(step: Sym): Sym {
    if (!(step instanceof Sym)) throw optionError(`schedules.${this.kind}`, `at() needs a symbol for the step, got ${typeof step}`);
    const s = cast(step, 'float64');
    const out = this.build(s);
    if (out instanceof Sym) return cast(out, 'float64');
    if (typeof out === 'number' && Number.isFinite(out)) return s.graph.constant(out, 'float64');
    throw optionError(`schedules.${this.kind}`, `the schedule function returned ${String(out)}, not a symbol or a finite number`);
  }

  /**
   * Host-side values at the given steps (or at `0..n-1` for a count `n`), computed by compiling
   * `at()` once: the numbers are exactly what a compiled training step sees.
   * @example schedules.stepDecay({ lr: 1, stepSize: 10, gamma: 0.5 }).values([0, 10, 25]) // [1, 0.5, 0.25]
   */
  values(steps: number | readonly number[]): number[] {
    const op = `schedules.${this.kind}`;
    let list: number[];
    if (typeof steps === 'number') {
      if (!Number.isInteger(steps) || steps < 0) throw optionError(op, `values(n) needs a non-negative integer count, got ${steps}`);
      list = Array.from({ length: steps }, (_, i) => i);
    } else if (Array.isArray(steps)) list = [...steps];
    else throw optionError(op, 'values() needs a count or an array of steps');
    list.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw optionError(op, `step ${i} is ${String(v)}; steps must be finite and non-negative`);
    });
    if (!this.exe) {
      const g = new Graph();
      const s = g.input('step', [null], 'float64');
      this.exe = compile(g, { inputs: [s], outputs: [broadcastLike(this.at(s), s)] });
    }
    const [out] = this.exe.run({ step: Tensor.from(list, 'float64') });
    return Array.from(out.data as Float64Array);
  }
}

/**
 * True for a `Schedule` (as opposed to a number or a symbol learning rate).
 * @example isSchedule(schedules.constant(0.1)) // true
 */
export function isSchedule(x: unknown): x is Schedule {
  return x instanceof Schedule;
}

const LR = { min: 0 };

/** ⌊x⌋ for x ≥ 0: casting to int32 truncates toward zero. */
const floorNonNegative = (x: Sym): Sym => cast(cast(x, 'int32'), 'float64');

export interface ConstantOptions {
  /** The base rate. */
  lr: number;
  /** The rate is `lr·factor` for the first `totalSteps` steps. Default 1/3 (PyTorch `ConstantLR`). */
  factor?: number;
  /** How many steps the factor applies. Default 5 (PyTorch's total_iters). */
  totalSteps?: number;
}

/**
 * `constant(lr)`: the same rate at every step. `constant({ lr, factor = 1/3, totalSteps = 5 })`:
 * PyTorch's `ConstantLR`, `lr·factor` for `s < totalSteps`, then `lr`.
 * @example const opt = optim.sgd({ lr: schedules.constant(0.1) }); // same as lr: 0.1
 * @example schedules.constant({ lr: 0.1, factor: 0.5, totalSteps: 100 }) // 0.05 for 100 steps, then 0.1
 */
export function constant(opts: number | ConstantOptions): Schedule {
  const op = 'schedules.constant';
  if (typeof opts === 'number' || opts === undefined) {
    const v = numberOption(op, 'lr', opts, undefined, LR);
    return new Schedule('constant', { lr: v }, () => v);
  }
  const o = checkKeys(op, opts, ['lr', 'factor', 'totalSteps']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const factor = numberOption(op, 'factor', o.factor, 1 / 3, { min: 0, max: 1 });
  const totalSteps = numberOption(op, 'totalSteps', o.totalSteps, 5, { min: 0, integer: true });
  return new Schedule('constant', { lr, factor, totalSteps }, (s) => where(less(s, totalSteps), lr * factor, lr, 'float64'));
}

export interface StepDecayOptions {
  /** The initial learning rate. */
  lr: number;
  /** Decay every `stepSize` steps (a positive integer). */
  stepSize: number;
  /** Multiplicative factor. Default 0.1 (PyTorch `StepLR`). */
  gamma?: number;
}

/**
 * `lr · γ^⌊s / stepSize⌋` (PyTorch `StepLR`).
 * @example schedules.stepDecay({ lr: 0.1, stepSize: 30 }) // 0.1 for s < 30, 0.01 for s < 60, ...
 */
export function stepDecay(opts: StepDecayOptions): Schedule {
  const op = 'schedules.stepDecay';
  const o = checkKeys(op, opts, ['lr', 'stepSize', 'gamma']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const stepSize = numberOption(op, 'stepSize', o.stepSize, undefined, { min: 1, integer: true });
  const gamma = numberOption(op, 'gamma', o.gamma, 0.1, { above: 0 });
  return new Schedule('stepDecay', { lr, stepSize, gamma }, (s) => mul(lr, pow(gamma, floorNonNegative(div(s, stepSize)))));
}

export interface MultiStepOptions {
  lr: number;
  /** Steps at which the rate is multiplied by γ (increasing non-negative integers). */
  milestones: readonly number[];
  /** Default 0.1 (PyTorch `MultiStepLR`). */
  gamma?: number;
}

/**
 * `lr · γ^(number of milestones ≤ s)` (PyTorch `MultiStepLR`).
 * @example schedules.multiStep({ lr: 0.1, milestones: [30, 80] }) // 0.1, then 0.01 from s = 30, 0.001 from s = 80
 */
export function multiStep(opts: MultiStepOptions): Schedule {
  const op = 'schedules.multiStep';
  const o = checkKeys(op, opts, ['lr', 'milestones', 'gamma']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const gamma = numberOption(op, 'gamma', o.gamma, 0.1, { above: 0 });
  if (!Array.isArray(o.milestones) || o.milestones.length === 0) throw optionError(op, 'option "milestones" must be a non-empty array of steps');
  const milestones = (o.milestones as unknown[]).map((m, i) => numberOption(op, `milestones[${i}]`, m, undefined, { min: 0, integer: true }));
  milestones.forEach((m, i) => {
    if (i > 0 && m <= milestones[i - 1]) throw optionError(op, `milestones must increase, got ${milestones.join(', ')}`);
  });
  return new Schedule('multiStep', { lr, milestones, gamma }, (s) => {
    const passed = addN(milestones.map((m) => cast(greaterEqual(s, m), 'float64')));
    return mul(lr, pow(gamma, passed));
  });
}

export interface ExponentialOptions {
  lr: number;
  /** Multiplicative factor per step. */
  gamma: number;
}

/**
 * `lr · γ^s` (PyTorch `ExponentialLR`).
 * @example schedules.exponential({ lr: 0.1, gamma: 0.99 })
 */
export function exponential(opts: ExponentialOptions): Schedule {
  const op = 'schedules.exponential';
  const o = checkKeys(op, opts, ['lr', 'gamma']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const gamma = numberOption(op, 'gamma', o.gamma, undefined, { above: 0 });
  return new Schedule('exponential', { lr, gamma }, (s) => mul(lr, pow(gamma, s)));
}

export interface LinearWarmupOptions {
  /** The rate reached at the end of warmup: a number, or a schedule that takes over from there. */
  lr: number | Schedule;
  /** Length of the warmup (a positive integer). */
  warmupSteps: number;
  /** The fraction of the rate at s = 0. Default 0 (as Hugging Face's warmup schedules). */
  startFactor?: number;
}

/**
 * Linear warmup: `base · (f₀ + (1 − f₀)·s/W)` for `s < W`, then `lr` — a constant, or a schedule
 * evaluated at `s − W` (so it starts from its own step 0 when warmup ends, like PyTorch's
 * `SequentialLR`). `base` is `lr`, or the schedule's value at its step 0.
 * @example schedules.linearWarmup({ lr: schedules.exponential({ lr: 0.1, gamma: 0.99 }), warmupSteps: 100 })
 */
export function linearWarmup(opts: LinearWarmupOptions): Schedule {
  const op = 'schedules.linearWarmup';
  const o = checkKeys(op, opts, ['lr', 'warmupSteps', 'startFactor']);
  const after = isSchedule(o.lr) ? o.lr : constant(numberOption(op, 'lr', o.lr, undefined, LR));
  const warmupSteps = numberOption(op, 'warmupSteps', o.warmupSteps, undefined, { min: 1, integer: true });
  const startFactor = numberOption(op, 'startFactor', o.startFactor, 0, { min: 0, max: 1 });
  return new Schedule('linearWarmup', { lr: isSchedule(o.lr) ? o.lr : after.config.lr, warmupSteps, startFactor }, (s) => {
    const base = after.at(s.graph.constant(0, 'float64'));
    const ramp = mul(base, add(startFactor, mul(1 - startFactor, div(s, warmupSteps))));
    // the follower is evaluated at max(s − W, 0) so its discarded branch never sees a negative step
    const later = after.at(maximum(sub(s, warmupSteps), 0));
    return where(less(s, warmupSteps), ramp, later);
  });
}

export interface CosineOptions {
  /** The peak rate (after warmup). */
  lr: number;
  /** Step at which the rate reaches `minLr`; it stays there afterwards. */
  totalSteps: number;
  /** Linear warmup steps before the decay (default 0). */
  warmupSteps?: number;
  /** The fraction of `lr` at s = 0 during warmup. Default 0. */
  startFactor?: number;
  /** The floor of the decay (PyTorch `eta_min`). Default 0. */
  minLr?: number;
}

/**
 * Cosine decay with optional linear warmup: for `s < W`, `lr·(f₀ + (1 − f₀)·s/W)`; then with
 * `p = min((s − W)/(T − W), 1)`, `minLr + (lr − minLr)·(1 + cos πp)/2`. With `W = 0` this is
 * PyTorch's `CosineAnnealingLR` over its first half period; with `f₀ = 0, minLr = 0` it is Hugging
 * Face's `get_cosine_schedule_with_warmup`. After `T` the rate stays at `minLr`.
 * @example schedules.cosine({ lr: 3e-4, totalSteps: 10_000, warmupSteps: 500 })
 */
export function cosine(opts: CosineOptions): Schedule {
  const op = 'schedules.cosine';
  const o = checkKeys(op, opts, ['lr', 'totalSteps', 'warmupSteps', 'startFactor', 'minLr']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const totalSteps = numberOption(op, 'totalSteps', o.totalSteps, undefined, { min: 1, integer: true });
  const warmupSteps = numberOption(op, 'warmupSteps', o.warmupSteps, 0, { min: 0, below: totalSteps, integer: true });
  const startFactor = numberOption(op, 'startFactor', o.startFactor, 0, { min: 0, max: 1 });
  const minLr = numberOption(op, 'minLr', o.minLr, 0, { min: 0, max: lr });
  return new Schedule('cosine', { lr, totalSteps, warmupSteps, startFactor, minLr }, (s) => {
    const p = clip(div(sub(s, warmupSteps), totalSteps - warmupSteps), 0, 1);
    const decay = add(minLr, mul(lr - minLr, mul(0.5, add(1, cos(mul(p, Math.PI))))));
    if (warmupSteps === 0) return decay;
    const ramp = mul(lr, add(startFactor, mul(1 - startFactor, div(s, warmupSteps))));
    return where(less(s, warmupSteps), ramp, decay);
  });
}

export interface OneCycleOptions {
  /** The peak rate. */
  maxLr: number;
  /** Length of the cycle in steps. */
  totalSteps: number;
  /** Fraction of the cycle spent increasing the rate. Default 0.3. */
  pctStart?: number;
  /** `'cos'` (default) or `'linear'` annealing between phase ends. */
  annealStrategy?: 'cos' | 'linear';
  /** The initial rate is `maxLr / divFactor`. Default 25. */
  divFactor?: number;
  /** The final rate is `initial / finalDivFactor`. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, back down to initial, then to the final rate) instead of two. Default false. */
  threePhase?: boolean;
}

/**
 * The 1cycle policy (Smith & Topin), with PyTorch `OneCycleLR`'s phase boundaries: the rate rises
 * from `maxLr/divFactor` to `maxLr` until step `pctStart·T − 1`, then anneals to
 * `maxLr/(divFactor·finalDivFactor)` at step `T − 1` (and stays there). Within a phase from step
 * `a` to `b`, `pct = (s − a)/(b − a)` and the rate is `end + (start − end)·(1 + cos π·pct)/2`
 * (`'cos'`) or `start + (end − start)·pct` (`'linear'`). Only the rate cycles; momentum does not
 * (PyTorch's `cycle_momentum=False`).
 * @example schedules.oneCycle({ maxLr: 0.1, totalSteps: 1000 })
 */
export function oneCycle(opts: OneCycleOptions): Schedule {
  const op = 'schedules.oneCycle';
  const o = checkKeys(op, opts, ['maxLr', 'totalSteps', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase']);
  const maxLr = numberOption(op, 'maxLr', o.maxLr, undefined, LR);
  const totalSteps = numberOption(op, 'totalSteps', o.totalSteps, undefined, { min: 1, integer: true });
  const pctStart = numberOption(op, 'pctStart', o.pctStart, 0.3, { above: 0, below: 1 });
  const annealStrategy = choiceOption(op, 'annealStrategy', o.annealStrategy, 'cos', ['cos', 'linear'] as const);
  const divFactor = numberOption(op, 'divFactor', o.divFactor, 25, { above: 0 });
  const finalDivFactor = numberOption(op, 'finalDivFactor', o.finalDivFactor, 1e4, { above: 0 });
  const threePhase = boolOption(op, 'threePhase', o.threePhase, false);
  const initial = maxLr / divFactor;
  const final = initial / finalDivFactor;
  const up = pctStart * totalSteps - 1;
  const phases = threePhase
    ? [
        { end: up, from: initial, to: maxLr },
        { end: 2 * pctStart * totalSteps - 2, from: maxLr, to: initial },
        { end: totalSteps - 1, from: initial, to: final },
      ]
    : [
        { end: up, from: initial, to: maxLr },
        { end: totalSteps - 1, from: maxLr, to: final },
      ];
  let start = 0;
  const bounds = phases.map((ph) => {
    const b = { ...ph, start };
    if (!(ph.end > start)) {
      throw optionError(op, `phase boundaries ${phases.map((q) => q.end).join(', ')} (from pctStart ${pctStart} and totalSteps ${totalSteps}) must increase from step 0; raise totalSteps or pctStart`);
    }
    start = ph.end;
    return b;
  });
  const anneal = (from: number, to: number, pct: Sym): Sym =>
    annealStrategy === 'cos' ? add(to, mul((from - to) / 2, add(1, cos(mul(pct, Math.PI))))) : add(from, mul(to - from, pct));
  return new Schedule('oneCycle', { maxLr, totalSteps, pctStart, annealStrategy, divFactor, finalDivFactor, threePhase }, (s) => {
    const value = (b: (typeof bounds)[number]) => anneal(b.from, b.to, clip(div(sub(s, b.start), b.end - b.start), 0, 1));
    let out = value(bounds[bounds.length - 1]);
    for (let i = bounds.length - 2; i >= 0; i--) out = where(lessEqual(s, bounds[i].end), value(bounds[i]), out);
    return out;
  });
}

export interface PolynomialOptions {
  /** The initial rate. */
  lr: number;
  /** Step at which the rate reaches `endLr`; it stays there afterwards. */
  totalSteps: number;
  /** Default 1 (linear decay). */
  power?: number;
  /** Default 0 (PyTorch `PolynomialLR` decays to 0). */
  endLr?: number;
}

/**
 * Polynomial decay in its optax / TensorFlow closed form:
 * `(lr − endLr)·(1 − min(s, T)/T)^power + endLr`. With `endLr = 0` this is PyTorch's
 * `PolynomialLR` (`total_iters = T`).
 * @example schedules.polynomial({ lr: 0.1, totalSteps: 1000, power: 2, endLr: 1e-4 })
 */
export function polynomial(opts: PolynomialOptions): Schedule {
  const op = 'schedules.polynomial';
  const o = checkKeys(op, opts, ['lr', 'totalSteps', 'power', 'endLr']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const totalSteps = numberOption(op, 'totalSteps', o.totalSteps, undefined, { min: 1, integer: true });
  const power = numberOption(op, 'power', o.power, 1, { above: 0 });
  const endLr = numberOption(op, 'endLr', o.endLr, 0, LR);
  return new Schedule('polynomial', { lr, totalSteps, power, endLr }, (s) => {
    const frac = sub(1, div(minimum(s, totalSteps), totalSteps));
    return add(mul(lr - endLr, pow(frac, power)), endLr);
  });
}

export interface CyclicOptions {
  /** The rate at the bottom of each cycle. */
  baseLr: number;
  /** The rate at the top of the first cycle. */
  maxLr: number;
  /** Steps from the bottom to the top of a cycle (a positive integer). */
  stepSizeUp: number;
  /** Steps from the top back down. Default `stepSizeUp`. */
  stepSizeDown?: number;
  /** `'triangular'` (default), `'triangular2'` (the height halves each cycle) or `'exp_range'` (scaled by γ^s). */
  mode?: 'triangular' | 'triangular2' | 'exp_range';
  /** γ of `'exp_range'`. Default 1. */
  gamma?: number;
}

/**
 * PyTorch's `CyclicLR` (Smith 2017) in closed form: with L = up + down, c = ⌊1 + s/L⌋ (the
 * cycle), x = 1 + s/L − c, the height factor is x·L/up while x ≤ up/L and (x − 1)/(up/L − 1)
 * after, and the rate `baseLr + (maxLr − baseLr)·factor·scale` with scale 1 (`triangular`),
 * 1/2^(c−1) (`triangular2`) or γ^s (`exp_range`). Only the rate cycles (PyTorch's default also
 * cycles momentum).
 * @example schedules.cyclic({ baseLr: 1e-3, maxLr: 6e-3, stepSizeUp: 2000, mode: 'triangular2' })
 */
export function cyclic(opts: CyclicOptions): Schedule {
  const op = 'schedules.cyclic';
  const o = checkKeys(op, opts, ['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma']);
  const baseLr = numberOption(op, 'baseLr', o.baseLr, undefined, LR);
  const maxLr = numberOption(op, 'maxLr', o.maxLr, undefined, LR);
  const stepSizeUp = numberOption(op, 'stepSizeUp', o.stepSizeUp, undefined, { min: 1, integer: true });
  const stepSizeDown = numberOption(op, 'stepSizeDown', o.stepSizeDown, stepSizeUp, { min: 1, integer: true });
  const mode = choiceOption(op, 'mode', o.mode, 'triangular', ['triangular', 'triangular2', 'exp_range'] as const);
  const gamma = numberOption(op, 'gamma', o.gamma, 1, { above: 0 });
  const total = stepSizeUp + stepSizeDown;
  const ratio = stepSizeUp / total;
  return new Schedule('cyclic', { baseLr, maxLr, stepSizeUp, stepSizeDown, mode, gamma }, (s) => {
    const cycle = floorNonNegative(add(1, div(s, total)));
    const x = sub(add(1, div(s, total)), cycle);
    const factor = where(lessEqual(x, ratio), div(x, ratio), div(sub(x, 1), ratio - 1));
    const scale = mode === 'triangular' ? 1 : mode === 'triangular2' ? pow(0.5, sub(cycle, 1)) : pow(gamma, s);
    return add(baseLr, mul(mul(maxLr - baseLr, factor), scale));
  });
}

export interface CosineWarmRestartsOptions {
  /** The rate at the start of each period. */
  lr: number;
  /** Length of the first period (a positive integer; PyTorch's T_0). */
  t0: number;
  /** Each period is `tMult` times the previous one (a positive integer). Default 1. */
  tMult?: number;
  /** The floor (PyTorch's eta_min). Default 0. */
  minLr?: number;
}

/**
 * SGDR (Loshchilov & Hutter 2017), PyTorch's `CosineAnnealingWarmRestarts`: periods of length
 * T_i = t0·tMult^i; within a period, at step c of it, the rate is
 * `minLr + (lr − minLr)·(1 + cos(π·c/T_i))/2`, restarting at `lr` when a period ends.
 * @example schedules.cosineWarmRestarts({ lr: 0.1, t0: 10, tMult: 2 })
 */
export function cosineWarmRestarts(opts: CosineWarmRestartsOptions): Schedule {
  const op = 'schedules.cosineWarmRestarts';
  const o = checkKeys(op, opts, ['lr', 't0', 'tMult', 'minLr']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  const t0 = numberOption(op, 't0', o.t0, undefined, { min: 1, integer: true });
  const tMult = numberOption(op, 'tMult', o.tMult, 1, { min: 1, integer: true });
  const minLr = numberOption(op, 'minLr', o.minLr, 0, { min: 0, max: lr });
  return new Schedule('cosineWarmRestarts', { lr, t0, tMult, minLr }, (s) => {
    let start: Sym; // the first step of the current period
    let len: Sym | number; // its length
    if (tMult === 1) {
      start = mul(floorNonNegative(div(s, t0)), t0);
      len = t0;
    } else {
      // period i starts at t0·(mᶦ − 1)/(m − 1); i = ⌊log_m(s·(m − 1)/t0 + 1)⌋, then corrected by one
      // either way where the rounded logarithm lands on the wrong side of an integer
      const startOf = (i: Sym) => mul(t0 / (tMult - 1), sub(pow(tMult, i), 1));
      let i = floorNonNegative(div(log(add(mul(s, (tMult - 1) / t0), 1)), Math.log(tMult)));
      i = where(greaterEqual(s, startOf(add(i, 1))), add(i, 1), i);
      i = where(less(s, startOf(i)), maximum(sub(i, 1), 0), i);
      start = startOf(i);
      len = mul(t0, pow(tMult, i));
    }
    const p = div(sub(s, start), len);
    return add(minLr, mul(lr - minLr, mul(0.5, add(1, cos(mul(p, Math.PI))))));
  });
}

export interface MultiplicativeOptions {
  /** The initial rate. */
  lr: number;
  /**
   * The factor by which step k's rate multiplies step k − 1's: a number (the rate is lr·factorˢ),
   * or a function of k = 1, 2, … evaluated on the host (PyTorch's lr_lambda), which needs
   * `totalSteps`.
   */
  factor: number | ((k: number) => number);
  /** With a factor function: how many steps to tabulate; the rate stays at its step-`totalSteps` value afterwards. */
  totalSteps?: number;
}

/**
 * PyTorch's `MultiplicativeLR`: `lr_s = lr·Π_{k=1..s} factor(k)`. A number factor is the
 * closed form lr·factorˢ (like `exponential`); a function is evaluated on the host for
 * k = 1..totalSteps when the schedule is built, and the running products become a table the
 * graph indexes by step.
 * @example schedules.multiplicative({ lr: 0.1, factor: (k) => (k % 10 === 0 ? 0.5 : 1), totalSteps: 1000 })
 */
export function multiplicative(opts: MultiplicativeOptions): Schedule {
  const op = 'schedules.multiplicative';
  const o = checkKeys(op, opts, ['lr', 'factor', 'totalSteps']);
  const lr = numberOption(op, 'lr', o.lr, undefined, LR);
  if (typeof o.factor === 'number') {
    const factor = numberOption(op, 'factor', o.factor, undefined, { min: 0 });
    if (o.totalSteps !== undefined) throw optionError(op, 'option "totalSteps" is only for a factor function');
    return new Schedule('multiplicative', { lr, factor }, (s) => mul(lr, pow(factor, s)));
  }
  if (typeof o.factor !== 'function') throw optionError(op, `option "factor" must be a number or a function of the step, got ${o.factor === undefined ? 'nothing' : typeof o.factor}`);
  const fn = o.factor as (k: number) => number;
  const totalSteps = numberOption(op, 'totalSteps', o.totalSteps, undefined, { min: 1, integer: true });
  const table = new Float64Array(totalSteps + 1);
  table[0] = lr;
  for (let k = 1; k <= totalSteps; k++) {
    const f = fn(k);
    if (typeof f !== 'number' || !Number.isFinite(f) || f < 0) throw optionError(op, `factor(${k}) returned ${String(f)}; it must be a finite number ≥ 0`);
    table[k] = table[k - 1] * f;
  }
  return new Schedule('multiplicative', { lr, factor: 'function', totalSteps }, (s) => {
    const at = cast(minimum(s, totalSteps), 'int32');
    return gather(s.graph.constant(new Tensor('float64', [totalSteps + 1], table)), at);
  });
}

/**
 * A schedule from your own expression of the step count `s` (a float64 symbol, 0 on the first
 * update). Build it from elementwise ops so `values()` can evaluate many steps at once.
 * @example const invSqrt = schedules.custom((s) => s.add(1).rsqrt().mul(0.1), 'invSqrt');
 */
export function custom(fn: (step: Sym) => Sym | number, name = 'custom'): Schedule {
  if (typeof fn !== 'function') throw optionError('schedules.custom', `needs a function of the step symbol, got ${typeof fn}`);
  return new Schedule(name, {}, fn);
}
