/**
 * Are learned activations convex? The tutorial says the functions a network learns "tend to be
 * convex"; this measures it. A shape sampled on a grid x₀ < x₁ < … < x_{n−1} is convex on that
 * range when its chord slopes never decrease:
 *
 *   sᵢ = (f(xᵢ₊₁) − f(xᵢ)) / (xᵢ₊₁ − xᵢ),   convex ⇔ sᵢ − sᵢ₋₁ ≥ −tol · maxᵢ |sᵢ|   for every i.
 *
 * On an even grid sᵢ − sᵢ₋₁ is the second difference divided by the spacing, i.e. the jump in slope
 * at a kink of a piecewise-linear unit, so the test is exact for PReLU, SPLASH and APL up to the
 * grid's resolution (two kinks of opposite sign inside one grid cell would partly cancel). The
 * tolerance is relative to the steepest slope so that rescaling a unit (which the next layer can
 * undo) does not change the verdict.
 *
 * `learnedActivations(g)` finds what the nn builders made (they record themselves) and evaluates
 * them in float64 at the graph's param values or at any others — which is what
 * `chanceConvexity` needs for its null model.
 */
import { Graph, GraphError, Tensor, captureOrigin, compile, fillUniform, streamKey, type Executable, type Sym } from '@gradgraph/core';
import { aplFn, preluFn, splashFn, twoSlopeFn } from './learnable';
import { ACTIVATIONS_COLLECTION, type ActivationRecord, type LearnedKind } from './record';
import { checkNumber, checkOptions, graphError } from './util';

export type { LearnedKind } from './record';

// ---- the measure on sampled shapes ------------------------------------------------------------

export interface ConvexityOptions {
  /** How far a slope may drop, relative to the shape's steepest |slope|, and still count as convex. Default 1e-3. */
  tol?: number;
}

/** The verdict per shape, and the fraction of shapes that are convex. */
export interface ConvexityReport {
  /** One per shape. */
  readonly convex: readonly boolean[];
  /**
   * Per shape, the smallest change of slope between neighbouring grid intervals, relative to the
   * steepest |slope| (≥ 0 for a convex shape; −1 for a slope that reverses fully, as in −|x|).
   */
  readonly minSlopeChange: readonly number[];
  /** The fraction of shapes that are convex. */
  readonly fraction: number;
  readonly tol: number;
}

/**
 * Convexity of shapes sampled on the grid `x` (strictly increasing): `shapes` is a Tensor
 * [points, units] (one column per shape, the layout `LearnedActivation.evaluate` returns) or one
 * array of values per shape.
 * @example
 * const x = [-2, -1, 0, 1, 2];
 * nn.convexity(x, [x.map(Math.abs), x.map((v) => -Math.abs(v))]).convex; // [true, false]
 */
export function convexity(x: readonly number[], shapes: Tensor | readonly (readonly number[])[], opts: ConvexityOptions = {}): ConvexityReport {
  const op = 'nn.convexity';
  checkOptions(op, opts, ['tol']);
  const tol = checkNumber(op, 'tol', opts.tol ?? 1e-3, { min: 0 });
  if (!Array.isArray(x) || x.length < 3) throw graphError(op, `x must be an array of at least 3 increasing grid points, got ${Array.isArray(x) ? `${x.length}` : typeof x}`);
  x.forEach((v, i) => {
    checkNumber(op, `x[${i}]`, v);
    if (i > 0 && !(v > x[i - 1])) throw graphError(op, `x must increase strictly, but x[${i}] = ${v} ≤ x[${i - 1}] = ${x[i - 1]}`);
  });
  const n = x.length;
  const { data, units } = asColumns(op, shapes, n);
  // one pass over the grid, all shapes at once: the previous slope, the worst drop, the steepest slope
  const prev = new Float64Array(units);
  const worst = new Float64Array(units).fill(Infinity);
  const steepest = new Float64Array(units);
  for (let i = 0; i + 1 < n; i++) {
    const h = x[i + 1] - x[i];
    for (let u = 0; u < units; u++) {
      const a = data[i * units + u];
      const b = data[(i + 1) * units + u];
      if (!Number.isFinite(a) || !Number.isFinite(b)) throw graphError(op, `shape ${u} is not finite at x = ${Number.isFinite(a) ? x[i + 1] : x[i]}`);
      const slope = (b - a) / h;
      if (i > 0) worst[u] = Math.min(worst[u], slope - prev[u]);
      prev[u] = slope;
      steepest[u] = Math.max(steepest[u], Math.abs(slope));
    }
  }
  const minSlopeChange = Array.from(worst, (w, u) => (steepest[u] === 0 ? 0 : w / steepest[u]));
  const convex = minSlopeChange.map((rel) => rel >= -tol);
  const fraction = convex.length ? convex.filter(Boolean).length / convex.length : NaN;
  return { convex, minSlopeChange, fraction, tol };
}

/** The shapes as one row-major block [points, units], checked against the grid's length. */
function asColumns(op: string, shapes: Tensor | readonly (readonly number[])[], n: number): { data: ArrayLike<number>; units: number } {
  if (shapes instanceof Tensor) {
    if (shapes.shape.length !== 2 || shapes.shape[0] !== n) throw graphError(op, `shapes must be a Tensor [points, units] with ${n} points (the grid's), got [${shapes.shape.join(', ')}]`);
    return { data: shapes.data, units: shapes.shape[1] };
  }
  if (!Array.isArray(shapes)) throw graphError(op, `shapes must be a Tensor [points, units] or an array of arrays, got ${typeof shapes}`);
  const units = shapes.length;
  const data = new Float64Array(n * units);
  shapes.forEach((s, u) => {
    if (!s || typeof s !== 'object' || (s as ArrayLike<number>).length !== n) throw graphError(op, `shape ${u} must have ${n} values (one per grid point), got ${(s as ArrayLike<number> | undefined)?.length ?? typeof s}`);
    for (let i = 0; i < n; i++) data[i * units + u] = s[i];
  });
  return { data, units };
}

// ---- the learned activations of a graph -------------------------------------------------------

/** A learnable activation an nn builder made, with a way to evaluate its shapes. */
export interface LearnedActivation {
  readonly kind: LearnedKind;
  /** The scope its params live in, e.g. `hidden/splash`. */
  readonly scope: string;
  /** Its params by role: `{ alpha }`, `{ k1, k2 }`, `{ aPos, aNeg }` or `{ a, b }`. */
  readonly params: Readonly<Record<string, Sym>>;
  /** SPLASH's fixed hinge positions (non-negative side). */
  readonly hinges?: readonly number[];
  /** How many distinct shapes it has: 1 when the coefficients are shared by the layer, else one per channel. */
  readonly units: number;
  /**
   * The shapes on the grid `x`, a float64 Tensor [x.length, units], at the graph's current param
   * values or at `values` (by role, e.g. `{ aPos, aNeg }`; missing ones are the current values).
   * Compiled once per activation.
   */
  evaluate(x: readonly number[], values?: Readonly<Record<string, Tensor>>): Tensor;
}

/**
 * Every learnable activation the nn builders (`prelu`, `twoSlope`, `splash`, `apl`) made in `g`,
 * in creation order.
 * @example for (const a of nn.learnedActivations(g)) console.log(a.scope, nn.activationConvexity(a).fraction);
 */
export function learnedActivations(g: Graph): LearnedActivation[] {
  if (!(g instanceof Graph)) throw new GraphError('nn.learnedActivations needs a Graph', { op: 'nn.learnedActivations', origin: captureOrigin() });
  return g.collection(ACTIVATIONS_COLLECTION).map((item) => makeLearned(g, item as unknown as ActivationRecord));
}

function makeLearned(g: Graph, rec: ActivationRecord): LearnedActivation {
  const params = Object.fromEntries(Object.entries(rec.params).map(([k, id]) => [k, g.sym(id)])) as Record<string, Sym>;
  const first = Object.values(params)[0];
  // shared coefficients are [] (prelu, twoSlope) or [K] (splash, apl); per channel they gain a leading C
  const sharedRank = rec.kind === 'prelu' || rec.kind === 'twoSlope' ? 0 : 1;
  const units = first.rank > sharedRank ? (first.shape[0] as number) : 1;
  let exe: Executable | undefined;
  const evaluate = (x: readonly number[], values: Readonly<Record<string, Tensor>> = {}): Tensor => {
    const op = 'LearnedActivation.evaluate';
    if (!Array.isArray(x) || x.length === 0) throw graphError(op, 'x must be a non-empty array of numbers');
    for (const k of Object.keys(values)) if (!(k in params)) throw graphError(op, `unknown param "${k}" for ${rec.kind}; expected one of ${Object.keys(params).join(', ')}`);
    exe ??= shapeProgram(rec, params, units);
    const grid = new Tensor('float64', [x.length, units]);
    x.forEach((v, i) => grid.data.fill(checkNumber(op, `x[${i}]`, v), i * units, (i + 1) * units));
    const feeds: Record<string, Tensor> = { z: grid };
    for (const [k, p] of Object.entries(params)) {
      const v = values[k] ?? g.getValue(p);
      if (!(v instanceof Tensor) || v.shape.length !== p.rank || v.shape.some((d, i) => d !== p.shape[i])) {
        throw graphError(op, `value for ${k} must be a Tensor of shape [${p.shape.join(', ')}], got ${v instanceof Tensor ? `[${v.shape.join(', ')}]` : typeof v}`);
      }
      feeds[k] = v.dtype === 'float64' ? v : v.astype('float64');
    }
    return exe.run(feeds)[0];
  };
  return { kind: rec.kind, scope: rec.scope, params, ...(rec.hinges ? { hinges: rec.hinges } : {}), units, evaluate };
}

/** The activation alone, in float64, as a function of a grid `z` [n, units] and its params (inputs). */
function shapeProgram(rec: ActivationRecord, params: Record<string, Sym>, units: number): Executable {
  const h = new Graph();
  const z = h.input('z', [null, units], 'float64');
  const p = Object.fromEntries(Object.entries(params).map(([k, s]) => [k, h.input(k, s.shape, 'float64')]));
  const y =
    rec.kind === 'prelu' ? preluFn(z, p.alpha)
    : rec.kind === 'twoSlope' ? twoSlopeFn(z, p.k1, p.k2)
    : rec.kind === 'splash' ? splashFn(z, p.aPos, p.aNeg, { hinges: rec.hinges })
    : aplFn(z, p.a, p.b);
  return compile(h, { inputs: [z, ...Object.values(p)], outputs: [y] });
}

// ---- convexity of learned activations, and by chance ------------------------------------------

export interface ActivationConvexityOptions extends ConvexityOptions {
  /** The input range the shapes are judged on. Default [−3, 3]. */
  range?: readonly [number, number];
  /** Grid points over the range. Default 601 (spacing 0.01 on [−3, 3]). */
  points?: number;
  /** Param values to judge instead of the current ones (by role, as `evaluate` takes them). */
  values?: Readonly<Record<string, Tensor>>;
}

/** The grid `points` evenly spaced over `range`. */
export function convexityGrid(op: string, range: readonly [number, number] = [-3, 3], points = 601): number[] {
  if (!Array.isArray(range) || range.length !== 2) throw graphError(op, `range must be [lo, hi], got ${JSON.stringify(range)}`);
  const lo = checkNumber(op, 'range[0]', range[0]);
  const hi = checkNumber(op, 'range[1]', range[1]);
  if (!(hi > lo)) throw graphError(op, `range must be [lo, hi] with lo < hi, got [${lo}, ${hi}]`);
  checkNumber(op, 'points', points, { min: 3, integer: true });
  return Array.from({ length: points }, (_, i) => lo + ((hi - lo) * i) / (points - 1));
}

/**
 * Which of a learned activation's shapes (one per channel or unit, or one for the layer) are
 * convex on `range`, measured by `convexity` on a float64 grid.
 * @example const { fraction } = nn.activationConvexity(nn.learnedActivations(g)[0], { range: [-3, 3] });
 */
export function activationConvexity(act: LearnedActivation, opts: ActivationConvexityOptions = {}): ConvexityReport {
  const op = 'nn.activationConvexity';
  checkOptions(op, opts, ['tol', 'range', 'points', 'values']);
  requireLearned(op, act);
  const x = convexityGrid(op, opts.range, opts.points);
  return convexity(x, act.evaluate(x, opts.values), { tol: opts.tol });
}

export interface ChanceConvexityOptions extends Omit<ActivationConvexityOptions, 'values'> {
  /** The params before training (by role), e.g. copied right after the model was built. Required. */
  initial: Readonly<Record<string, Tensor>>;
  /** The params after training (by role). Default the current values. */
  learned?: Readonly<Record<string, Tensor>>;
  /** Random sign patterns to average over. Default 200. */
  draws?: number;
  /** Seeds the signs. Default 0. */
  seed?: number;
}

/** How often each shape would be convex by chance. */
export interface ChanceConvexity {
  /** The expected fraction of convex shapes under the null model. */
  readonly fraction: number;
  /** Per shape, the probability of being convex under the null model. */
  readonly perUnit: readonly number[];
  readonly draws: number;
}

/**
 * The fraction of shapes expected to be convex by chance: every coefficient moves from its
 * initial value θ₀ by the amount training moved it, |θ − θ₀|, but in a random direction,
 *
 *   θ̃ = θ₀ + s ⊙ (θ − θ₀),   s ∈ {−1, +1} independent and equally likely,
 *
 * averaged over `draws` sign patterns. If training had no preference for convex shapes, the
 * learned shapes would be convex about this often; starting shapes that are all convex (ReLU
 * inits) and small moves make it high, so it is the baseline to beat, not 0 or ½.
 * @example
 * const before = Object.fromEntries(Object.entries(act.params).map(([k, p]) => [k, g.getValue(p).clone()]));
 * // ... train ...
 * nn.chanceConvexity(act, { initial: before }).fraction;
 */
export function chanceConvexity(act: LearnedActivation, opts: ChanceConvexityOptions): ChanceConvexity {
  const op = 'nn.chanceConvexity';
  checkOptions(op, opts, ['tol', 'range', 'points', 'initial', 'learned', 'draws', 'seed']);
  requireLearned(op, act);
  if (!opts || typeof opts.initial !== 'object' || opts.initial === null) throw graphError(op, 'initial (the params before training, by role) is required');
  const draws = checkNumber(op, 'draws', opts.draws ?? 200, { min: 1, integer: true });
  const seed = checkNumber(op, 'seed', opts.seed ?? 0, { integer: true });
  const x = convexityGrid(op, opts.range, opts.points);
  const roles = Object.keys(act.params);
  const tensorFor = (what: string, src: Readonly<Record<string, Tensor>> | undefined, k: string): Tensor => {
    const p = act.params[k];
    const v = src?.[k] ?? (what === 'learned' ? p.graph.getValue(p) : undefined);
    if (!(v instanceof Tensor) || v.shape.length !== p.rank || v.shape.some((d, i) => d !== p.shape[i])) throw graphError(op, `${what}.${k} must be a Tensor of shape [${p.shape.join(', ')}], got ${v instanceof Tensor ? `[${v.shape.join(', ')}]` : typeof v}`);
    return v.astype('float64');
  };
  const theta0 = roles.map((k) => tensorFor('initial', opts.initial, k));
  const delta = roles.map((k, j) => {
    const t = tensorFor('learned', opts.learned, k);
    for (let i = 0; i < t.size; i++) t.data[i] -= theta0[j].data[i];
    return t;
  });
  const hits = new Float64Array(act.units);
  for (let d = 0; d < draws; d++) {
    const values: Record<string, Tensor> = {};
    roles.forEach((k, j) => {
      const u = new Float64Array(delta[j].size);
      fillUniform(u, 'float64', streamKey(seed, `gradgraph/nn/chanceConvexity/${k}`, d));
      const v = theta0[j].clone();
      for (let i = 0; i < v.size; i++) v.data[i] += (u[i] < 0.5 ? -1 : 1) * delta[j].data[i];
      values[k] = v;
    });
    convexity(x, act.evaluate(x, values), { tol: opts.tol }).convex.forEach((c, u) => (hits[u] += c ? 1 : 0));
  }
  const perUnit = Array.from(hits, (h) => h / draws);
  return { fraction: perUnit.reduce((s, p) => s + p, 0) / perUnit.length, perUnit, draws };
}

function requireLearned(op: string, act: unknown): asserts act is LearnedActivation {
  if (!act || typeof act !== 'object' || typeof (act as LearnedActivation).evaluate !== 'function' || !(act as LearnedActivation).params) {
    throw graphError(op, 'expects a learned activation from nn.learnedActivations(g)');
  }
}
