/**
 * Gradient clipping as symbolic transforms of a grads list: they return new grads, to pass to
 * `opt.updates(params, clipped)`. `null` entries (no gradient) pass through.
 */
import { DTypeError, GraphError, Sym, addN, captureOrigin, cast, clip, div, isFloat, minimum, mul, promote, sqrt, sum, type DType } from '@gradgraph/core';

function checkGrads(op: string, grads: readonly (Sym | null)[]): Sym[] {
  const origin = captureOrigin();
  if (!Array.isArray(grads)) throw new GraphError(`needs an array of gradient symbols, got ${grads === null ? 'null' : typeof grads}`, { op, origin });
  const syms = grads.filter((x): x is Sym => x !== null);
  grads.forEach((x, i) => {
    if (x !== null && !(x instanceof Sym)) throw new GraphError(`grad ${i} is ${typeof x}, not a symbol or null`, { op, origin });
  });
  if (syms.length === 0) throw new GraphError('needs at least one gradient symbol', { op, origin });
  const g = syms[0].graph;
  syms.forEach((x) => {
    if (x.graph !== g) throw new GraphError('the grads belong to different graphs', { op, origin });
    if (!isFloat(x.dtype)) throw new DTypeError(`grads must be float32 or float64, got ${x.dtype}`, { op, dtypes: [x.dtype], origin });
  });
  return syms;
}

function checkBound(op: string, name: string, v: unknown, rule: 'positive' | 'any'): void {
  if (v instanceof Sym) {
    if (v.rank !== 0) throw new GraphError(`${name} must be a scalar symbol or a number`, { op, shapes: [v.shape], origin: captureOrigin() });
    return;
  }
  if (typeof v !== 'number' || Number.isNaN(v) || (rule === 'positive' && !(v > 0 && Number.isFinite(v)))) {
    throw new GraphError(`${name} must be ${rule === 'positive' ? 'a positive finite number' : 'a number'}, got ${String(v)}`, { op, origin: captureOrigin() });
  }
}

/**
 * The global L2 norm `√(Σᵢ ‖gᵢ‖²)` of a grads list, as a scalar in the widest dtype among them.
 * @example const norm = optim.globalNorm(grads); // log it as an output of the step
 */
export function globalNorm(grads: readonly (Sym | null)[]): Sym {
  const syms = checkGrads('optim.globalNorm', grads);
  const dt = syms.map((x) => x.dtype).reduce<DType>((a, b) => promote(a, b), syms[0].dtype);
  return sqrt(addN(syms.map((x) => cast(sum(mul(x, x)), dt))));
}

/**
 * Scales all grads by one factor so their global norm is at most `maxNorm`, as PyTorch's
 * `clip_grad_norm_`: `c = min(1, maxNorm/(‖g‖ + ε))`, `gᵢ ← c·gᵢ`, ε = 1e-6. Directions are kept.
 * @example const updates = opt.updates(params, optim.clipByGlobalNorm(grad(loss, params), 1.0));
 */
export function clipByGlobalNorm<T extends Sym | null>(grads: readonly T[], maxNorm: number | Sym, opts: { eps?: number } = {}): T[] {
  const op = 'optim.clipByGlobalNorm';
  checkGrads(op, grads);
  checkBound(op, 'maxNorm', maxNorm, 'positive');
  const eps = opts.eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new GraphError(`eps must be a non-negative number, got ${String(eps)}`, { op, origin: captureOrigin() });
  const norm = globalNorm(grads);
  const coef = minimum(div(maxNorm instanceof Sym ? cast(maxNorm, norm.dtype) : maxNorm, norm.add(eps)), 1);
  return grads.map((x) => (x === null ? x : (mul(x, cast(coef, x.dtype)) as T)));
}

/**
 * Clamps every gradient element to `[lo, hi]`; with one bound `c`, to `[−c, c]` (PyTorch's
 * `clip_grad_value_`).
 * @example const clipped = optim.clipByValue(grads, 0.5);        // [−0.5, 0.5]
 * @example const clipped = optim.clipByValue(grads, -1, 2);      // [−1, 2]
 */
export function clipByValue<T extends Sym | null>(grads: readonly T[], lo: number | Sym, hi?: number | Sym): T[] {
  const op = 'optim.clipByValue';
  checkGrads(op, grads);
  let low: number | Sym = lo;
  let high: number | Sym;
  if (hi === undefined) {
    checkBound(op, 'the clip value', lo, 'any');
    if (typeof lo === 'number' && !(lo >= 0)) throw new GraphError(`a single clip value c means [−c, c] and must be ≥ 0, got ${lo}`, { op, origin: captureOrigin() });
    low = typeof lo === 'number' ? -lo : lo.neg();
    high = lo;
  } else {
    checkBound(op, 'lo', lo, 'any');
    checkBound(op, 'hi', hi, 'any');
    high = hi;
    if (typeof lo === 'number' && typeof hi === 'number' && lo > hi) throw new GraphError(`lo ${lo} is greater than hi ${hi}`, { op, origin: captureOrigin() });
  }
  const bound = (b: number | Sym, like: Sym) => (typeof b === 'number' ? b : cast(b, like.dtype));
  return grads.map((x) => (x === null ? x : (clip(x, bound(low, x), bound(high, x)) as T)));
}
