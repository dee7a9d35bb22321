/**
 * Fixed activations, built from core primitives. Conventions at kinks follow PyTorch: relu has
 * gradient 0 at 0, leakyRelu has gradient `slope` at 0.
 */
import * as core from '@gradgraph/core';
import type { Sym } from '@gradgraph/core';
import { checkNumber, checkOptions, normAxis, requireFloat } from './util';

/**
 * ReLU: `where(x > 0, x, 0)`. The gradient is 1 for x > 0 and 0 for x ≤ 0 (0 at the kink, as in
 * PyTorch and JAX).
 * @example const h = nn.relu(nn.dense(x, 16));
 */
export function relu(x: Sym): Sym {
  requireFloat('nn.relu', x);
  return core.where(x.greater(0), x, 0);
}

/**
 * Leaky ReLU: `where(x > 0, x, slope·x)`, slope 0.01 by default (PyTorch). The gradient at 0 is
 * `slope`.
 * @example nn.leakyRelu(x, 0.1)
 */
export function leakyRelu(x: Sym, slope = 0.01): Sym {
  requireFloat('nn.leakyRelu', x);
  checkNumber('nn.leakyRelu', 'slope', slope);
  return core.where(x.greater(0), x, x.mul(slope));
}

/**
 * Logistic σ(x) = 1/(1 + e⁻ˣ), computed without overflow for large |x| (core primitive).
 * @example nn.sigmoid(logits)
 */
export function sigmoid(x: Sym): Sym {
  requireFloat('nn.sigmoid', x);
  return core.sigmoid(x);
}

/**
 * Hyperbolic tangent.
 * @example nn.tanh(nn.dense(x, 8))
 */
export function tanh(x: Sym): Sym {
  requireFloat('nn.tanh', x);
  return core.tanh(x);
}

/**
 * Softplus log(1 + e^(βx))/β, stable for large |x|: the core primitive computes
 * log(1+eˣ) = max(x, 0) + log1p(e^−|x|), which neither overflows nor loses the tail. β = 1 by
 * default; larger β approaches relu. The gradient is σ(βx).
 * @example nn.softplus(x) // smooth relu
 * @example nn.softplus(x, { beta: 10 })
 */
export function softplus(x: Sym, opts: { beta?: number } = {}): Sym {
  requireFloat('nn.softplus', x);
  checkOptions('nn.softplus', opts, ['beta']);
  const beta = checkNumber('nn.softplus', 'beta', opts.beta ?? 1, { min: 0, minExclusive: true });
  return beta === 1 ? core.softplus(x) : core.softplus(x.mul(beta)).div(beta);
}

/**
 * Softmax along `axis` (last by default): e^(x − max) / Σ e^(x − max).
 * @example const probs = nn.softmax(logits);
 */
export function softmax(x: Sym, axis = -1): Sym {
  requireFloat('nn.softmax', x);
  return core.softmax(x, normAxis('nn.softmax', x, axis));
}

/**
 * log softmax along `axis`: x − logsumexp(x), computed stably (no log of a rounded 0).
 * @example const logp = nn.logSoftmax(logits);
 */
export function logSoftmax(x: Sym, axis = -1): Sym {
  requireFloat('nn.logSoftmax', x);
  return core.logSoftmax(x, normAxis('nn.logSoftmax', x, axis));
}
