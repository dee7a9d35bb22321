/**
 * Penalties over a list of params, to add to a loss: L1 = w·Σ|p| and L2 = w·Σp². Params can be
 * left out by a list, a name pattern or a predicate (PReLU slopes, biases and normalization
 * scales are usually not decayed). Decoupled weight decay lives in `optim`.
 */
import { Sym, addN, type DType } from '@gradgraph/core';
import { checkNumber, checkOptions, graphError, requireFloat } from './util';

/** Which params to leave out: a list of params, a RegExp on their names, or a predicate. */
export type ParamFilter = readonly Sym[] | RegExp | ((p: Sym) => boolean);

export interface PenaltyOptions {
  /** The factor w in front of the sum. Default 1. */
  weight?: number;
  /** Params to leave out. */
  exclude?: ParamFilter;
}

function selected(op: string, params: readonly Sym[], exclude: ParamFilter | undefined): Sym[] {
  if (!Array.isArray(params)) throw graphError(op, `params must be an array of params, got ${typeof params}`);
  params.forEach((p, i) => requireFloat(op, p, `params[${i}]`));
  if (params.length === 0) throw graphError(op, 'needs at least one param');
  const g = params[0].graph;
  if (params.some((p) => p.graph !== g)) throw graphError(op, 'params belong to different graphs');
  let keep: (p: Sym) => boolean;
  if (exclude === undefined) keep = () => true;
  else if (exclude instanceof RegExp) keep = (p) => !exclude.test(p.name ?? '');
  else if (typeof exclude === 'function') keep = (p) => !exclude(p);
  else if (Array.isArray(exclude)) {
    exclude.forEach((p, i) => {
      if (!(p instanceof Sym)) throw graphError(op, `exclude[${i}] is not a symbol`);
    });
    const ids = new Set(exclude.map((p) => p.id));
    keep = (p) => !ids.has(p.id);
  } else throw graphError(op, 'exclude must be an array of params, a RegExp on names, or a predicate');
  return params.filter(keep);
}

function penalty(op: string, params: readonly Sym[], opts: PenaltyOptions, term: (p: Sym) => Sym): Sym {
  checkOptions(op, opts, ['weight', 'exclude']);
  const weight = checkNumber(op, 'weight', opts.weight ?? 1, { min: 0 });
  const kept = selected(op, params, opts.exclude);
  if (kept.length === 0) {
    // everything excluded: a zero of the params' widest dtype, still a symbol of the graph
    const dtype: DType = params.some((p) => p.dtype === 'float64') ? 'float64' : 'float32';
    return params[0].graph.constant(0, dtype);
  }
  const total = addN(kept.map((p) => term(p).sum()));
  return weight === 1 ? total : total.mul(weight);
}

/**
 * L1 penalty w·Σ|p| over `params` (minus `exclude`). Its gradient is w·sign(p), 0 at p = 0.
 * @example const loss = data.add(nn.l1Penalty(g.params(), { weight: 1e-4, exclude: /bias$/ }));
 */
export function l1Penalty(params: readonly Sym[], opts: PenaltyOptions = {}): Sym {
  return penalty('nn.l1Penalty', params, opts, (p) => p.abs());
}

/**
 * L2 penalty w·Σp² over `params` (minus `exclude`), the Keras convention: its gradient is 2w·p
 * (use w = λ/2 for the ½λ‖p‖² convention). Coupled to the loss, so adaptive optimizers rescale
 * it; for decoupled weight decay (AdamW) use `optim`.
 * @example
 * const reg = nn.l2Penalty(g.params(), { weight: 1e-4, exclude: (p) => nn.paramRole(p) !== 'kernel' });
 */
export function l2Penalty(params: readonly Sym[], opts: PenaltyOptions = {}): Sym {
  return penalty('nn.l2Penalty', params, opts, (p) => p.square());
}
