/** Layers: dense, composition (sequential) and dropout. */
import { ShapeError, Sym, captureOrigin, fmtShape, randomUniformLike, where } from '@gradgraph/core';
import * as init from '../init/index';
import { resolveTraining, type TrainingOption } from './mode';
import { checkNumber, checkOptions, graphError, inUniqueScope, requireFloat, requireSym, setRole, staticDim } from './util';

/**
 * The affine map x·W + b for x [..., in], W [in, units], b [units] (the pure function `nn.dense` calls).
 * @example const y = nn.functional.dense(x, w, b);
 */
export function denseFn(x: Sym, kernel: Sym, bias?: Sym): Sym {
  const op = 'nn.functional.dense';
  requireFloat(op, x);
  requireFloat(op, kernel, 'kernel');
  if (x.rank < 1 || kernel.rank !== 2) throw new ShapeError(`needs x of rank ≥ 1 and a [in, units] kernel, got x ${fmtShape(x.shape)} and kernel ${fmtShape(kernel.shape)}`, { op, shapes: [x.shape, kernel.shape], origin: captureOrigin() });
  const y = x.matmul(kernel);
  if (bias === undefined) return y;
  requireFloat(op, bias, 'bias');
  if (bias.rank !== 1 || (bias.shape[0] !== null && kernel.shape[1] !== null && bias.shape[0] !== kernel.shape[1])) {
    throw new ShapeError(`bias must have shape [${kernel.shape[1]}], got ${fmtShape(bias.shape)}`, { op, shapes: [kernel.shape, bias.shape], origin: captureOrigin() });
  }
  return y.add(bias);
}

export interface DenseOptions {
  /** Kernel initializer. Default `init.xavierUniform()` (Glorot, as in Keras). */
  init?: init.Initializer;
  /** Add a bias. Default true. */
  bias?: boolean;
  /** Bias initializer. Default `init.zeros()`. */
  biasInit?: init.Initializer;
  /** Scope name instead of `dense`, `dense_1`, ... */
  name?: string;
}

/**
 * A fully connected layer y = x·W + b with x [..., in] (in known at build time), W [in, units]
 * and b [units]. Creates `dense/kernel` and `dense/bias` (roles `'kernel'`, `'bias'`) in the
 * current scope, in the dtype of x; each call makes a new scope (`dense`, `dense_1`, ...).
 * @example
 * const h = g.scope('hidden', () => nn.relu(nn.dense(x, 16, { init: init.heNormal() })));
 * // params: hidden/dense/kernel [4, 16], hidden/dense/bias [16]
 */
export function dense(x: Sym, units: number, opts: DenseOptions = {}): Sym {
  const op = 'nn.dense';
  requireFloat(op, x);
  checkOptions(op, opts, ['init', 'bias', 'biasInit', 'name']);
  checkNumber(op, 'units', units, { min: 1, integer: true });
  if (x.rank < 1) throw new ShapeError(`x must have rank ≥ 1 (features on the last axis), got a scalar`, { op, shapes: [x.shape], origin: captureOrigin() });
  const inFeatures = staticDim(op, x, -1, 'the kernel');
  const g = x.graph;
  const useBias = opts.bias ?? true;
  if (typeof useBias !== 'boolean') throw graphError(op, `bias must be true or false, got ${String(useBias)}; use biasInit for its initial value`);
  // the layer's params and its arithmetic share one scope, so viz and errors name the layer
  return inUniqueScope(g, 'dense', opts.name, () => {
    const kernel = init.createParam(g, 'kernel', [inFeatures, units], opts.init ?? init.xavierUniform(), { dtype: x.dtype });
    const bias = useBias ? init.createParam(g, 'bias', [units], opts.biasInit ?? init.zeros(), { dtype: x.dtype, fanIn: inFeatures, fanOut: units }) : undefined;
    return denseFn(x, setRole(kernel, 'kernel'), bias && setRole(bias, 'bias'));
  });
}

/** A layer: a function from a symbol to a symbol (builders create their params when called). */
export type Layer = (x: Sym) => Sym;

/**
 * Composes layers left to right: `sequential([f, g, h])(x) = h(g(f(x)))`. With `name`, each call
 * runs in its own scope (`name`, `name_1`, ...). Calling the result builds the layers, so every
 * call makes new params; call it once per model.
 * @example
 * const mlp = nn.sequential([(x) => nn.dense(x, 32), nn.relu, (x) => nn.dense(x, 3)], { name: 'mlp' });
 * const logits = mlp(x); // params mlp/dense/kernel, mlp/dense_1/kernel, ...
 */
export function sequential(layers: readonly Layer[], opts: { name?: string } = {}): Layer {
  const op = 'nn.sequential';
  checkOptions(op, opts, ['name']);
  if (!Array.isArray(layers)) throw graphError(op, `layers must be an array of functions, got ${typeof layers}`);
  layers.forEach((f, i) => {
    if (typeof f !== 'function') throw graphError(op, `layer ${i} is ${f === null ? 'null' : typeof f}, not a function of a symbol`);
  });
  const run = (x: Sym): Sym =>
    layers.reduce((h, f, i) => {
      const out: unknown = f(h);
      if (!(out instanceof Sym)) throw graphError(op, `layer ${i} returned ${out === null ? 'null' : typeof out}, not a symbol`);
      return out;
    }, x);
  return (x: Sym) => {
    requireSym(op, x);
    return opts.name === undefined ? run(x) : inUniqueScope(x.graph, opts.name, undefined, () => run(x));
  };
}

export interface DropoutOptions {
  /** Mode: the graph's `training` input by default; `true`/`false` fixes it; or a bool scalar symbol. */
  training?: TrainingOption;
  /** Scope name of the mask's random key instead of `dropout`, `dropout_1`, ... */
  name?: string;
}

/**
 * Inverted dropout: in training mode each element is zeroed with probability `rate` and the
 * survivors are scaled by 1/(1 − rate), so evaluation is the identity. The mask is a keyed random
 * node (`dropout/mask` in the current scope): its numbers depend only on (graph seed, key, run
 * counter), so a run is reproducible and each step draws a fresh mask. The mode is the graph's
 * `training` input unless fixed by `opts.training`.
 * @example
 * const h = nn.dropout(nn.relu(nn.dense(x, 64)), 0.5);
 * step.run({ x: xs, y: ys, training: true });
 */
export function dropout(x: Sym, rate: number, opts: DropoutOptions = {}): Sym {
  const op = 'nn.dropout';
  requireFloat(op, x);
  checkOptions(op, opts, ['training', 'name']);
  checkNumber(op, 'rate', rate, { min: 0, max: 1, maxExclusive: true });
  const training = resolveTraining(op, x.graph, opts.training);
  if (rate === 0 || training === false) return x;
  return inUniqueScope(x.graph, 'dropout', opts.name, () => {
    const u = randomUniformLike(x, { name: 'mask' });
    const dropped = where(u.greaterEqual(rate), x.mul(1 / (1 - rate)), 0); // keep with probability 1 − rate
    return training === true ? dropped : where(training, dropped, x);
  });
}
