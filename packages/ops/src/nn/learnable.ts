/**
 * Learnable activations: PReLU, the tutorial's two-slope unit, SPLASH and APL. Each comes as a
 * builder (`prelu(x, opts)`), which creates its params in the current scope in the dtype of `x`
 * (and records itself for `learnedActivations`), and as a pure function of `x` and the params
 * (`functional.prelu(x, alpha)`), which builders call and which is what you use to share params or
 * to check gradients with respect to them.
 *
 * Channels are the last axis (the layout of `nn.dense`'s output).
 */
import { ShapeError, Tensor, captureOrigin, fmtShape, maximum, minimum, where, type Sym, fmtJson } from '@gradgraph/core';
import * as init from '../init/index';
import { checkNumber, checkOptions, graphError, inUniqueScope, requireFloat, setRole, staticDim } from './util';
import { recordActivation } from './record';

function paramShapeError(op: string, what: string, p: Sym, want: string): ShapeError {
  return new ShapeError(`${what} must have shape ${want}, got ${fmtShape(p.shape)}`, { op, shapes: [p.shape], origin: captureOrigin() });
}

// ---- PReLU -----------------------------------------------------------------------------------

/**
 * PReLU with slope(s) `alpha`: f(x) = max(0, x) + α·min(0, x) = where(x > 0, x, α·x). `alpha` is a
 * scalar or one slope per channel (shape [C], x's last axis). As in PyTorch, the gradient at
 * x = 0 is α with respect to x and 0 with respect to α.
 * @example const y = nn.functional.prelu(x, g.param('alpha', Tensor.from(0.25)));
 */
export function preluFn(x: Sym, alpha: Sym): Sym {
  requireFloat('nn.functional.prelu', x);
  requireFloat('nn.functional.prelu', alpha, 'alpha');
  if (alpha.rank > 1 || (alpha.rank === 1 && x.rank === 0)) throw paramShapeError('nn.functional.prelu', 'alpha', alpha, '[] or [channels]');
  if (alpha.rank === 1 && alpha.shape[0] !== null && x.shape[x.rank - 1] !== null && alpha.shape[0] !== x.shape[x.rank - 1]) {
    throw paramShapeError('nn.functional.prelu', 'alpha', alpha, `[] or [${x.shape[x.rank - 1]}] for x ${fmtShape(x.shape)}`);
  }
  return where(x.greater(0), x, x.mul(alpha));
}

export interface PreluOptions {
  /** One slope per channel (x's last axis) instead of one shared scalar. Default false (PyTorch's default). */
  perChannel?: boolean;
  /** The initial slope. Default 0.25. */
  init?: number;
  /** Scope name instead of `prelu`, `prelu_1`, ... */
  name?: string;
}

/**
 * PReLU (He et al. 2015), learnable: f(x) = max(0, x) + a·min(0, x), with a starting at 0.25, one
 * scalar or one per channel. Creates `prelu/alpha` in the current scope (role `'activation'`,
 * usually left out of weight decay).
 * @example const h = nn.prelu(nn.dense(x, 16), { perChannel: true });
 */
export function prelu(x: Sym, opts: PreluOptions = {}): Sym {
  requireFloat('nn.prelu', x);
  checkOptions('nn.prelu', opts, ['perChannel', 'init', 'name']);
  const a0 = checkNumber('nn.prelu', 'init', opts.init ?? 0.25);
  const shape = opts.perChannel ? [staticDim('nn.prelu', x, -1, 'a per-channel slope')] : [];
  return inUniqueScope(x.graph, 'prelu', opts.name, () => {
    const alpha = init.createParam(x.graph, 'alpha', shape, init.constant(a0), { dtype: x.dtype });
    recordActivation({ kind: 'prelu', params: { alpha } });
    return preluFn(x, setRole(alpha, 'activation'));
  });
}

// ---- two slopes -------------------------------------------------------------------------------

/**
 * The tutorial's two-slope activation with slopes `k1` (x > 0) and `k2` (x < 0), each a scalar or
 * one per channel ([C], x's last axis):
 *
 *   f(x) = k₁·max(0, x) + k₂·min(0, x),
 *
 * which is SPLASH with a single hinge at 0 (a⁺₁ = k₁, a⁻₁ = −k₂). As in SPLASH, the gradient in x
 * at 0 is the midpoint (k₁ + k₂)/2 (core `maximum`/`minimum` split ties); ∂f/∂k₁ = max(0, x),
 * ∂f/∂k₂ = min(0, x). f is convex exactly when k₁ ≥ k₂.
 * @example const y = nn.functional.twoSlope(x, g.param('k1', Tensor.from(1)), g.param('k2', Tensor.from(0.25)));
 */
export function twoSlopeFn(x: Sym, k1: Sym, k2: Sym): Sym {
  const op = 'nn.functional.twoSlope';
  requireFloat(op, x);
  requireFloat(op, k1, 'k1');
  requireFloat(op, k2, 'k2');
  const c = x.rank > 0 ? x.shape[x.rank - 1] : null;
  for (const [name, k] of [['k1', k1], ['k2', k2]] as const) {
    const fits = k.rank === 0 || (k.rank === 1 && x.rank > 0 && (c === null || k.shape[0] === null || k.shape[0] === c));
    if (!fits) throw paramShapeError(op, name, k, `[] or [${c ?? 'C'}] for x ${fmtShape(x.shape)}`);
  }
  return maximum(x, 0).mul(k1).add(minimum(x, 0).mul(k2));
}

export interface TwoSlopeOptions {
  /** The initial slope for x > 0. Default 1. */
  k1?: number;
  /** The initial slope for x < 0. Default 0.25 (PReLU's initial slope). */
  k2?: number;
  /** One pair (k₁, k₂) shared by the layer (default, as the tutorial writes it) or one per channel (x's last axis). */
  share?: 'layer' | 'channel';
  /** Scope name instead of `twoSlope`, `twoSlope_1`, ... */
  name?: string;
}

/**
 * The learnable two-slope activation the tutorial writes out: A = k₁·Z for Z > 0 and k₂·Z
 * otherwise, with both slopes learned (PReLU learns only k₂; SPLASH with `hinges: 1` is the same
 * function with a⁻₁ = −k₂). Creates `twoSlope/k1` and `twoSlope/k2` (shape [] or [C], role
 * `'activation'`) in the current scope.
 * @example const h = nn.twoSlope(nn.dense(x, 64), { k1: 1, k2: 0.25 });
 */
export function twoSlope(x: Sym, opts: TwoSlopeOptions = {}): Sym {
  const op = 'nn.twoSlope';
  requireFloat(op, x);
  checkOptions(op, opts, ['k1', 'k2', 'share', 'name']);
  const k1 = checkNumber(op, 'k1', opts.k1 ?? 1);
  const k2 = checkNumber(op, 'k2', opts.k2 ?? 0.25);
  const share = opts.share ?? 'layer';
  if (share !== 'layer' && share !== 'channel') throw graphError(op, `share must be 'layer' or 'channel', got ${JSON.stringify(share)}`);
  const shape = share === 'channel' ? [staticDim(op, x, -1, 'per-channel slopes')] : [];
  return inUniqueScope(x.graph, 'twoSlope', opts.name, () => {
    const p1 = init.createParam(x.graph, 'k1', shape, init.constant(k1), { dtype: x.dtype });
    const p2 = init.createParam(x.graph, 'k2', shape, init.constant(k2), { dtype: x.dtype });
    recordActivation({ kind: 'twoSlope', params: { k1: p1, k2: p2 } });
    return twoSlopeFn(x, setRole(p1, 'activation'), setRole(p2, 'activation'));
  });
}

// ---- SPLASH ----------------------------------------------------------------------------------

/** Where SPLASH's hinges sit on the positive side: b₁ = 0 < b₂ < … < b_K; the negative side mirrors them. */
export type SplashHinges = number | readonly number[];

/**
 * The non-negative hinge positions [0, b₂, …, b_K] of a SPLASH unit with S = 2K − 1 hinges in
 * all: a count S (odd) spreads them evenly over [0, range]; an array gives them directly (it must
 * start at 0 and increase).
 * @example nn.splashHinges(7, 2.5) // [0, 0.8333, 1.6667, 2.5]
 */
export function splashHinges(hinges: SplashHinges = 7, range = 2.5): number[] {
  const op = 'nn.splash';
  if (typeof hinges === 'number') {
    checkNumber(op, 'hinges', hinges, { min: 1, integer: true });
    if (hinges % 2 !== 1) throw graphError(op, `hinges must be odd (S hinges: 0 and (S−1)/2 mirrored pairs), got ${hinges}`);
    checkNumber(op, 'range', range, { min: 0, minExclusive: true });
    const k = (hinges + 1) / 2;
    return Array.from({ length: k }, (_, i) => (k === 1 ? 0 : (i * range) / (k - 1)));
  }
  if (!Array.isArray(hinges) || hinges.length === 0) throw graphError(op, `hinges must be an odd count or a non-empty array of positions, got ${fmtJson(hinges)}`);
  hinges.forEach((b, i) => checkNumber(op, `hinges[${i}]`, b));
  if (hinges[0] !== 0) throw graphError(op, `the first hinge must be 0 (b₁ = 0 is shared by both sides), got ${hinges[0]}`);
  for (let i = 1; i < hinges.length; i++) if (!(hinges[i] > hinges[i - 1])) throw graphError(op, `hinge positions must increase, got ${fmtJson(hinges)}`);
  return [...hinges];
}

/**
 * SPLASH with coefficients `aPos`, `aNeg` (each [K] shared by the layer, or [C, K] per channel)
 * and fixed hinges b (`splashHinges`):
 *
 *   h(x) = Σₖ a⁺ₖ·max(0, x − bₖ) + Σₖ a⁻ₖ·max(0, −x − bₖ).
 *
 * At a hinge the gradient takes the midpoint of the one-sided slopes (core `maximum` splits ties).
 * @example const h = nn.functional.splash(x, aPos, aNeg, { hinges: [0, 1, 2] });
 */
export function splashFn(x: Sym, aPos: Sym, aNeg: Sym, opts: { hinges?: SplashHinges; range?: number } = {}): Sym {
  const op = 'nn.functional.splash';
  requireFloat(op, x);
  requireFloat(op, aPos, 'aPos');
  requireFloat(op, aNeg, 'aNeg');
  checkOptions(op, opts, ['hinges', 'range']);
  const b = splashHinges(opts.hinges ?? 7, opts.range ?? 2.5);
  const k = b.length;
  const c = x.rank > 0 ? x.shape[x.rank - 1] : null;
  for (const [name, a] of [['aPos', aPos], ['aNeg', aNeg]] as const) {
    const fits = a.shape[a.rank - 1] === k && (a.rank === 1 || (a.rank === 2 && x.rank > 0 && (c === null || a.shape[0] === c)));
    if (!fits) throw paramShapeError(op, name, a, `[${k}] or [${c ?? 'C'}, ${k}] for ${k} hinges per side and x ${fmtShape(x.shape)}`);
  }
  // x[..., C] → [..., C, 1] against b [K]: every unit meets every hinge, then a sums over K.
  const xe = x.expandDims(-1);
  const hinges = x.graph.constant(Tensor.from(b, x.dtype));
  const pos = maximum(xe.sub(hinges), 0).mul(aPos);
  const neg = maximum(xe.neg().sub(hinges), 0).mul(aNeg);
  return pos.add(neg).sum(-1);
}

export interface SplashOptions {
  /** An odd hinge count S (default 7) spread over [0, range], or the positive hinge positions starting at 0. */
  hinges?: SplashHinges;
  /** The outermost hinge when `hinges` is a count. Default 2.5. */
  range?: number;
  /** `relu` (default): a⁺₁ = 1, all others 0. `linear`: a⁺₁ = 1, a⁻₁ = −1, all others 0. */
  init?: 'relu' | 'linear';
  /** Coefficients shared by the whole layer (default) or one set per channel (x's last axis). */
  share?: 'layer' | 'channel';
  /** Scope name instead of `splash`, `splash_1`, ... */
  name?: string;
}

/**
 * SPLASH (Tavakoli, Agostinelli & Baldi, Neural Networks 140, 2021): a learnable piecewise-linear
 * activation with S fixed hinges symmetric about 0 (b₁ = 0 shared by both sides),
 * h(x) = Σₖ a⁺ₖ·max(0, x − bₖ) + Σₖ a⁻ₖ·max(0, −x − bₖ). Creates `splash/aPos` and `splash/aNeg`
 * ([K] or [C, K], K = (S + 1)/2) in the current scope, initialized as ReLU or as the identity.
 * @example const h = g.scope('hidden', () => nn.splash(nn.dense(x, 16), { hinges: 5, init: 'relu' }));
 */
export function splash(x: Sym, opts: SplashOptions = {}): Sym {
  const op = 'nn.splash';
  requireFloat(op, x);
  checkOptions(op, opts, ['hinges', 'range', 'init', 'share', 'name']);
  const mode = opts.init ?? 'relu';
  if (mode !== 'relu' && mode !== 'linear') throw graphError(op, `init must be 'relu' or 'linear', got ${JSON.stringify(mode)}`);
  const share = opts.share ?? 'layer';
  if (share !== 'layer' && share !== 'channel') throw graphError(op, `share must be 'layer' or 'channel', got ${JSON.stringify(share)}`);
  const hinges = splashHinges(opts.hinges ?? 7, opts.range ?? 2.5);
  const k = hinges.length;
  const rows = share === 'channel' ? staticDim(op, x, -1, 'per-channel SPLASH coefficients') : 1;
  const shape = share === 'channel' ? [rows, k] : [k];
  const first = (v: number) => {
    const t = Tensor.zeros(shape, x.dtype);
    for (let r = 0; r < rows; r++) t.data[r * k] = v;
    return t;
  };
  return inUniqueScope(x.graph, 'splash', opts.name, () => {
    const aPos = init.createParam(x.graph, 'aPos', shape, init.constant(first(1)), { dtype: x.dtype });
    const aNeg = init.createParam(x.graph, 'aNeg', shape, init.constant(first(mode === 'linear' ? -1 : 0)), { dtype: x.dtype });
    recordActivation({ kind: 'splash', params: { aPos, aNeg }, hinges });
    return splashFn(x, setRole(aPos, 'activation'), setRole(aNeg, 'activation'), { hinges });
  });
}

// ---- APL -------------------------------------------------------------------------------------

/**
 * APL with slopes `a` and hinges `b` (both [C, S] per unit, or [S] shared):
 *
 *   h(x) = max(0, x) + Σₛ aₛ·max(0, −x + bₛ).
 *
 * At a hinge the gradient takes the midpoint of the one-sided slopes (core `maximum`).
 * @example const h = nn.functional.apl(x, a, b);
 */
export function aplFn(x: Sym, a: Sym, b: Sym): Sym {
  const op = 'nn.functional.apl';
  requireFloat(op, x);
  requireFloat(op, a, 'a');
  requireFloat(op, b, 'b');
  const c = x.rank > 0 ? x.shape[x.rank - 1] : null;
  const ok = (p: Sym) => p.rank === 1 || (p.rank === 2 && x.rank > 0 && (c === null || p.shape[0] === c));
  if (!ok(a)) throw paramShapeError(op, 'a', a, `[S] or [${c ?? 'C'}, S] for x ${fmtShape(x.shape)}`);
  if (!ok(b) || b.rank !== a.rank || b.shape.some((d, i) => d !== a.shape[i])) throw paramShapeError(op, 'b', b, `a's shape ${fmtShape(a.shape)}`);
  // x[..., C] → [..., C, 1] against a, b [C, S]: each unit meets its own S hinges.
  const xe = x.expandDims(-1);
  const hinges = maximum(b.sub(xe), 0).mul(a).sum(-1);
  return maximum(x, 0).add(hinges);
}

export interface AplOptions {
  /** The number S of hinges per unit. Default 2. */
  hinges?: number;
  /** One (a, b) set per unit (default, as in the paper) or one shared by the layer. */
  share?: 'unit' | 'layer';
  /** Initializer of the slopes a. Default zeros (the unit starts as ReLU). */
  aInit?: init.Initializer;
  /** Initializer of the hinge positions b. Default U[−1, 1) (seeded per param name). */
  bInit?: init.Initializer;
  /** Scope name instead of `apl`, `apl_1`, ... */
  name?: string;
}

/**
 * APL, the adaptive piecewise-linear unit (Agostinelli, Hoffman, Sadowski & Baldi 2014):
 * h(x) = max(0, x) + Σₛ aₛ·max(0, −x + bₛ) with the slopes a and hinges b learned per unit.
 * Creates `apl/a` and `apl/b` ([C, S]) in the current scope. The paper penalizes a with a small
 * L2 weight (0.001): `nn.l2Penalty` with `paramRole(p) === 'activation'` does that.
 * @example const h = nn.apl(nn.dense(x, 32), { hinges: 3 });
 */
export function apl(x: Sym, opts: AplOptions = {}): Sym {
  const op = 'nn.apl';
  requireFloat(op, x);
  checkOptions(op, opts, ['hinges', 'share', 'aInit', 'bInit', 'name']);
  const s = checkNumber(op, 'hinges', opts.hinges ?? 2, { min: 1, integer: true });
  const share = opts.share ?? 'unit';
  if (share !== 'unit' && share !== 'layer') throw graphError(op, `share must be 'unit' or 'layer', got ${JSON.stringify(share)}`);
  const shape = share === 'unit' ? [staticDim(op, x, -1, 'per-unit APL params'), s] : [s];
  return inUniqueScope(x.graph, 'apl', opts.name, () => {
    const a = init.createParam(x.graph, 'a', shape, opts.aInit ?? init.zeros(), { dtype: x.dtype });
    const b = init.createParam(x.graph, 'b', shape, opts.bInit ?? init.uniform({ low: -1, high: 1 }), { dtype: x.dtype });
    recordActivation({ kind: 'apl', params: { a, b } });
    return aplFn(x, setRole(a, 'activation'), setRole(b, 'activation'));
  });
}

