/**
 * Normalization: batchNorm (with running statistics as non-trainable state) and layerNorm.
 *
 * State updates: batchNorm's running mean and variance change in training mode. The builder
 * cannot run anything itself (define-then-run), so it records `[state, newValue]` pairs in a
 * graph collection (saved by `g.toJSON()`); `nn.stateUpdates(g)` returns them, to be passed to `compile` with the
 * optimizer's updates. The new values are `where(training, updated, old)`, so including them in
 * a program that runs in evaluation mode is harmless.
 */
import { Graph, ShapeError, captureOrigin, fmtShape, isStatic, maximum, shapeSize, where, type Sym, fmtJson } from '@gradgraph/core';
import * as init from '../init/index';
import { resolveTraining, type TrainingOption } from './mode';
import { channelShape, checkNumber, checkOptions, graphError, inUniqueScope, normAxis, requireFloat, setRole, staticDim } from './util';

export type StateUpdate = readonly [Sym, Sym];

/** The graph collection holding `[stateId, newValueId]` pairs; saved with the graph. */
export const STATE_UPDATES_COLLECTION = 'nn/stateUpdates';

function addStateUpdate(state: Sym, value: Sym): void {
  state.graph.addToCollection(STATE_UPDATES_COLLECTION, [state.id, value.id]);
}

/**
 * The `[state, newValue]` update pairs recorded by builders in `g` (batchNorm's running
 * statistics), in creation order. Add them to `compile`'s `updates` next to the optimizer's.
 * @example
 * const step = compile(g, { inputs: [x, y], outputs: [loss],
 *   updates: [...opt.updates(params, grads), ...nn.stateUpdates(g)] });
 */
export function stateUpdates(g: Graph): StateUpdate[] {
  if (!(g instanceof Graph)) throw graphError('nn.stateUpdates', 'needs a Graph');
  return g.collection(STATE_UPDATES_COLLECTION).map((pair) => {
    const [s, v] = pair as [number, number];
    return [g.sym(s), g.sym(v)] as const;
  });
}

/** The param reshaped so it broadcasts along `axis` of x (a no-op when axis is the last). */
function alongAxis(p: Sym, x: Sym, axis: number): Sym {
  return axis === x.rank - 1 ? p : p.reshape(channelShape(x, axis, p.shape[0] as number));
}

export interface BatchNormOptions {
  /** The feature (channel) axis; statistics are over every other axis. Default -1. */
  axis?: number;
  /** running ← (1 − momentum)·running + momentum·batch (PyTorch's convention). Default 0.1. */
  momentum?: number;
  /** Added to the variance. Default 1e-5. */
  eps?: number;
  /** Learn a scale γ (init 1) and shift β (init 0). Default true. */
  affine?: boolean;
  /** Mode: the graph's `training` input by default; `true`/`false` fixes it; or a bool scalar symbol. */
  training?: TrainingOption;
  /** Scope name instead of `batchNorm`, `batchNorm_1`, ... */
  name?: string;
}

/**
 * Batch normalization (Ioffe & Szegedy 2015). Training mode normalizes with the batch mean and
 * (biased) variance and moves the running statistics toward them (the running variance gets the
 * unbiased batch variance, as in PyTorch); evaluation mode normalizes with the running
 * statistics. Then y = γ·x̂ + β. Creates `batchNorm/gamma`, `batchNorm/beta` (role `'norm'`) and
 * the state `batchNorm/runningMean`, `batchNorm/runningVar`; their update pairs are in
 * `nn.stateUpdates(g)`.
 * @example
 * const h = nn.relu(nn.batchNorm(nn.dense(x, 32)));
 * const step = compile(g, { outputs: [loss], updates: [...opt.updates(ps, gs), ...nn.stateUpdates(g)] });
 * step.run({ x: xs, y: ys, training: true });
 */
export function batchNorm(x: Sym, opts: BatchNormOptions = {}): Sym {
  const op = 'nn.batchNorm';
  requireFloat(op, x);
  checkOptions(op, opts, ['axis', 'momentum', 'eps', 'affine', 'training', 'name']);
  if (x.rank < 2) throw new ShapeError(`x must have a batch axis and a feature axis (rank ≥ 2), got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  const axis = normAxis(op, x, opts.axis ?? -1);
  const momentum = checkNumber(op, 'momentum', opts.momentum ?? 0.1, { min: 0, max: 1 });
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-5, { min: 0 });
  const affine = opts.affine ?? true;
  const c = staticDim(op, x, axis, 'the per-feature statistics');
  const g = x.graph;
  const training = resolveTraining(op, g, opts.training);
  const dt = x.dtype;
  return inUniqueScope(g, 'batchNorm', opts.name, () => {
    const made = {
      gamma: affine ? setRole(init.createParam(g, 'gamma', [c], init.ones(), { dtype: dt }), 'norm') : undefined,
      beta: affine ? setRole(init.createParam(g, 'beta', [c], init.zeros(), { dtype: dt }), 'norm') : undefined,
      runningMean: init.createParam(g, 'runningMean', [c], init.zeros(), { dtype: dt, trainable: false }),
      runningVar: init.createParam(g, 'runningVar', [c], init.ones(), { dtype: dt, trainable: false }),
    };
    const reduceAxes = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const rm = made.runningMean;
    const rv = made.runningVar;

    // evaluation: x̂ = (x − running mean)/√(running var + ε)
    const evalOut = () => x.sub(alongAxis(rm, x, axis)).mul(alongAxis(rv, x, axis).add(eps).rsqrt());

    // training: x̂ = (x − μ_B)/√(σ²_B + ε) with the biased batch variance σ²_B
    const trainOut = () => {
      const mean = x.mean(reduceAxes, true);
      const centered = x.sub(mean);
      const variance = centered.square().mean(reduceAxes, true);
      // running statistics: the variance estimate is unbiased, σ²_B·n/(n − 1) (n = 1: biased, 0)
      const n = isStatic(reduceAxes.map((i) => x.shape[i])) ? reduceAxes.reduce((p, i) => p * (x.shape[i] as number), 1) : shapeSize(x, reduceAxes, dt);
      const unbiased = variance.reshape([c]).mul(typeof n === 'number' ? n / Math.max(n - 1, 1) : n.div(maximum(n.sub(1), 1)));
      let newMean = rm.mul(1 - momentum).add(mean.reshape([c]).mul(momentum));
      let newVar = rv.mul(1 - momentum).add(unbiased.mul(momentum));
      if (training !== true) {
        newMean = where(training as Sym, newMean, rm);
        newVar = where(training as Sym, newVar, rv);
      }
      addStateUpdate(rm, newMean);
      addStateUpdate(rv, newVar);
      return centered.mul(variance.add(eps).rsqrt());
    };

    let y = training === false ? evalOut() : training === true ? trainOut() : where(training, trainOut(), evalOut());
    if (made.gamma) y = y.mul(alongAxis(made.gamma, x, axis));
    if (made.beta) y = y.add(alongAxis(made.beta, x, axis));
    return y;
  });
}

/**
 * Layer normalization as a pure function: (x − μ)/√(σ² + ε) over `axes` of each example, then
 * ·γ + β when given (shaped like x's dims at `axes`).
 * @example const y = nn.functional.layerNorm(x, gamma, beta);
 */
export function layerNormFn(x: Sym, gamma?: Sym, beta?: Sym, opts: { axes?: number | readonly number[]; eps?: number } = {}): Sym {
  const op = 'nn.functional.layerNorm';
  requireFloat(op, x);
  checkOptions(op, opts, ['axes', 'eps']);
  const axes = normAxes(op, x, opts.axes ?? -1);
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-5, { min: 0 });
  const mean = x.mean(axes, true);
  const centered = x.sub(mean);
  let y = centered.mul(centered.square().mean(axes, true).add(eps).rsqrt());
  const dims = axes.map((a) => x.shape[a]);
  const fit = (p: Sym | undefined, what: string): Sym | undefined => {
    if (p === undefined) return undefined;
    requireFloat(op, p, what);
    if (p.rank !== dims.length || !p.shape.every((d, i) => d === null || dims[i] === null || d === dims[i])) {
      throw new ShapeError(`${what} must have shape ${fmtShape(dims)} (x's dims at axes ${fmtJson(axes)}), got ${fmtShape(p.shape)}`, { op, shapes: [x.shape, p.shape], origin: captureOrigin() });
    }
    const trailing = axes.every((a, i) => a === x.rank - axes.length + i);
    return trailing ? p : p.reshape(x.shape.map((d, i) => (axes.includes(i) ? (d as number) : 1)));
  };
  const gm = fit(gamma, 'gamma');
  const bt = fit(beta, 'beta');
  if (gm) y = y.mul(gm);
  if (bt) y = y.add(bt);
  return y;
}

function normAxes(op: string, x: Sym, axes: number | readonly number[]): number[] {
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list) || list.length === 0) throw graphError(op, `axes must be an axis or a non-empty array of axes, got ${fmtJson(axes)}`);
  const out = [...new Set(list.map((a) => normAxis(op, x, a)))].sort((p, q) => p - q);
  if (out.length !== list.length) throw graphError(op, `axes ${JSON.stringify(axes)} repeat an axis`);
  return out;
}

export interface LayerNormOptions {
  /** The axes normalized over, per example. Default -1 (the features). */
  axes?: number | readonly number[];
  /** Added to the variance. Default 1e-5. */
  eps?: number;
  /** Learn γ (init 1) and β (init 0) shaped like x's dims at `axes`. Default true. */
  affine?: boolean;
  /** Scope name instead of `layerNorm`, `layerNorm_1`, ... */
  name?: string;
}

/**
 * Layer normalization (Ba, Kiros & Hinton 2016): each example is normalized over `axes` (its
 * features), with no batch statistics and no state, so training and evaluation agree. Creates
 * `layerNorm/gamma` and `layerNorm/beta` (role `'norm'`) when affine.
 * @example const h = nn.layerNorm(nn.dense(x, 64));
 */
export function layerNorm(x: Sym, opts: LayerNormOptions = {}): Sym {
  const op = 'nn.layerNorm';
  requireFloat(op, x);
  checkOptions(op, opts, ['axes', 'eps', 'affine', 'name']);
  const axes = normAxes(op, x, opts.axes ?? -1);
  const dims = axes.map((a) => staticDim(op, x, a, 'γ and β'));
  const g = x.graph;
  const affine = opts.affine ?? true;
  return inUniqueScope(g, 'layerNorm', opts.name, () => {
    const gamma = affine ? setRole(init.createParam(g, 'gamma', dims, init.ones(), { dtype: x.dtype }), 'norm') : undefined;
    const beta = affine ? setRole(init.createParam(g, 'beta', dims, init.zeros(), { dtype: x.dtype }), 'norm') : undefined;
    return layerNormFn(x, gamma, beta, { axes, eps: opts.eps });
  });
}
