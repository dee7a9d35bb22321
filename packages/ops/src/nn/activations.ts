/**
 * Fixed activations, built from core primitives. Conventions at kinks follow PyTorch: relu has
 * gradient 0 at 0, leakyRelu has gradient `slope` at 0.
 */
import * as core from '@gradgraph/core';
import type { Sym } from '@gradgraph/core';
import { checkNumber, checkOptions, graphError, normAxis, requireFloat } from './util';

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

// ---- the PyTorch vocabulary ----------------------------------------------------------------------
// Definitions, defaults and the gradient at each kink follow torch.nn.functional (checked against
// PyTorch at the kinks themselves by test/torch-vocab.test.ts).

/**
 * SiLU (swish): x·σ(x).
 * @example nn.silu(nn.dense(x, 64))
 */
export function silu(x: Sym): Sym {
  requireFloat('nn.silu', x);
  return x.mul(core.sigmoid(x));
}

/**
 * GELU, x·Φ(x) with Φ the standard normal CDF. `approximate: 'none'` (default, PyTorch's) is exact:
 * x·½·erfc(−x/√2), with core's `erfc` primitive (Cody's rational approximations), accurate to
 * ~1e-15 relative down to the far negative tail — where PyTorch's ½·x·(1 + erf(x/√2)) loses its
 * digits to cancellation (x ≲ −5). `'tanh'` is ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
 * computed as x·σ(2u) (the same function, without the cancellation in 1 + tanh u for x ≪ 0).
 * @example nn.gelu(h)
 * @example nn.gelu(h, { approximate: 'tanh' })
 */
export function gelu(x: Sym, opts: { approximate?: 'none' | 'tanh' } = {}): Sym {
  const op = 'nn.gelu';
  requireFloat(op, x);
  checkOptions(op, opts, ['approximate']);
  const approximate = opts.approximate ?? 'none';
  if (approximate === 'tanh') {
    const u = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(core.sigmoid(u.mul(2))); // ½(1 + tanh u) = σ(2u)
  }
  if (approximate !== 'none') throw graphError(op, `approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  return x.mul(core.erfc(x.mul(-Math.SQRT1_2))).mul(0.5);
}

/**
 * ELU: x for x > 0, α·(eˣ − 1) for x ≤ 0 (computed with expm1); α = 1 (PyTorch). The gradient at
 * 0 is α (the left piece, as PyTorch), so 1 for the default α.
 * @example nn.elu(x, { alpha: 0.5 })
 */
export function elu(x: Sym, opts: { alpha?: number } = {}): Sym {
  const op = 'nn.elu';
  requireFloat(op, x);
  checkOptions(op, opts, ['alpha']);
  const alpha = checkNumber(op, 'alpha', opts.alpha ?? 1);
  return core.where(x.greater(0), x, x.expm1().mul(alpha));
}

/** SELU's constants (Klambauer et al. 2017), as in PyTorch. */
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

/**
 * SELU: λ·x for x > 0, λα·(eˣ − 1) for x ≤ 0, with α ≈ 1.6733, λ ≈ 1.0507 (Klambauer et al.). The
 * gradient at 0 is λα ≈ 1.7581 (the left piece, as PyTorch).
 * @example nn.selu(nn.dense(x, 64, { init: init.lecunNormal() }))
 */
export function selu(x: Sym): Sym {
  requireFloat('nn.selu', x);
  return core.where(x.greater(0), x.mul(SELU_SCALE), x.expm1().mul(SELU_ALPHA * SELU_SCALE));
}

/**
 * CELU: x for x > 0, α·(e^(x/α) − 1) for x ≤ 0; α = 1 (PyTorch), α ≠ 0. C¹ for every α: the
 * gradient at 0 is 1.
 * @example nn.celu(x, { alpha: 2 })
 */
export function celu(x: Sym, opts: { alpha?: number } = {}): Sym {
  const op = 'nn.celu';
  requireFloat(op, x);
  checkOptions(op, opts, ['alpha']);
  const alpha = checkNumber(op, 'alpha', opts.alpha ?? 1);
  if (alpha === 0) throw graphError(op, 'alpha must not be 0 (CELU divides by it)');
  return core.where(x.greater(0), x, x.div(alpha).expm1().mul(alpha));
}

/**
 * Mish: x·tanh(softplus(x)) (Misra 2019), with core's stable softplus.
 * @example nn.mish(h)
 */
export function mish(x: Sym): Sym {
  requireFloat('nn.mish', x);
  return x.mul(core.softplus(x).tanh());
}

/**
 * Hardtanh: x clamped to [min, max], default [−1, 1] (PyTorch's min_val, max_val). The gradient is
 * 1 strictly inside and 0 outside and at both kinks (PyTorch).
 * @example nn.hardtanh(x, { min: -2, max: 2 })
 */
export function hardtanh(x: Sym, opts: { min?: number; max?: number } = {}): Sym {
  const op = 'nn.hardtanh';
  requireFloat(op, x);
  checkOptions(op, opts, ['min', 'max']);
  const lo = checkNumber(op, 'min', opts.min ?? -1);
  const hi = checkNumber(op, 'max', opts.max ?? 1);
  if (!(hi > lo)) throw graphError(op, `max must be > min, got min ${lo}, max ${hi}`);
  return clamped(x, lo, hi);
}

/** x on (lo, hi), the nearer bound elsewhere; gradient 1 inside, 0 at and beyond the bounds. */
function clamped(x: Sym, lo: number, hi: number): Sym {
  return core.where(x.greater(lo).logicalAnd(x.less(hi)), x, core.where(x.lessEqual(lo), lo, hi, x.dtype));
}

/**
 * ReLU6: min(max(x, 0), 6) = hardtanh(x, { min: 0, max: 6 }); gradient 0 at both kinks (PyTorch).
 * @example nn.relu6(h)
 */
export function relu6(x: Sym): Sym {
  requireFloat('nn.relu6', x);
  return clamped(x, 0, 6);
}

/**
 * Hard sigmoid: 0 for x ≤ −3, 1 for x ≥ 3, (x + 3)/6 between (PyTorch's `hardsigmoid`). The
 * gradient is 1/6 strictly inside and 0 at both kinks (PyTorch).
 * @example nn.hardSigmoid(x)
 */
export function hardSigmoid(x: Sym): Sym {
  requireFloat('nn.hardSigmoid', x);
  return core.where(x.greater(-3).logicalAnd(x.less(3)), x.add(3).div(6), core.where(x.lessEqual(-3), 0, 1, x.dtype));
}

/**
 * Hard swish: x·hardSigmoid(x), i.e. 0 for x ≤ −3, x for x ≥ 3, x·(x + 3)/6 between (Howard et al.,
 * PyTorch's `hardswish`). At the kinks the gradient is the outer piece's: 0 at x = −3, 1 at x = 3
 * (PyTorch ≥ 2.9 and its documentation; PyTorch 1.13–2.8 gave −½ and 3/2).
 * @example nn.hardSwish(x)
 */
export function hardSwish(x: Sym): Sym {
  requireFloat('nn.hardSwish', x);
  return core.where(x.lessEqual(-3), 0, core.where(x.greaterEqual(3), x, x.mul(x.add(3)).div(6)));
}

/**
 * log σ(x) = −softplus(−x) = min(x, 0) − log1p(e^−|x|): finite for every x (log of a rounded 0
 * never happens).
 * @example nn.logSigmoid(z)
 */
export function logSigmoid(x: Sym): Sym {
  requireFloat('nn.logSigmoid', x);
  return core.softplus(x.neg()).neg();
}

/**
 * Softsign: x/(1 + |x|). Smooth at 0 (gradient 1/(1 + |x|)², which is 1 there).
 * @example nn.softsign(x)
 */
export function softsign(x: Sym): Sym {
  requireFloat('nn.softsign', x);
  return x.div(x.abs().add(1));
}
