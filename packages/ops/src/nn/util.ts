/** Checks and small helpers shared by the nn builders. Errors name the op and the user's line. */
import { DTypeError, GraphError, ShapeError, Sym, captureOrigin, fmtShape, isFloat, type Graph } from '@gradgraph/core';

export function graphError(op: string, detail: string): GraphError {
  return new GraphError(detail, { op, origin: captureOrigin() });
}

export function requireSym(op: string, x: unknown, what = 'x'): asserts x is Sym {
  if (!(x instanceof Sym)) {
    const got = x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `${typeof x} ${String(x)}`;
    throw graphError(op, `${what} must be a symbol, got ${got}`);
  }
}

/** `x` must be a float symbol (float32 or float64). */
export function requireFloat(op: string, x: unknown, what = 'x'): asserts x is Sym {
  requireSym(op, x, what);
  if (!isFloat(x.dtype)) throw new DTypeError(`${what} must be float32 or float64, got ${x.dtype}`, { op, dtypes: [x.dtype], shapes: [x.shape], origin: captureOrigin() });
}

/** Rejects unknown option names (a typo such as `{ inti: ... }` would otherwise be ignored). */
export function checkOptions(op: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts) || opts instanceof Sym) throw graphError(op, `options must be a plain object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : opts instanceof Sym ? 'a symbol' : typeof opts}`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw graphError(op, `unknown option "${k}"; expected one of ${allowed.join(', ')}`);
}

export function checkNumber(op: string, name: string, v: unknown, range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; integer?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw graphError(op, `${name} must be a finite number, got ${String(v)}`);
  if (range.integer && !Number.isInteger(v)) throw graphError(op, `${name} must be an integer, got ${v}`);
  const { min, max } = range;
  if (min !== undefined && (range.minExclusive ? !(v > min) : !(v >= min))) throw graphError(op, `${name} must be ${range.minExclusive ? '>' : '≥'} ${min}, got ${v}`);
  if (max !== undefined && (range.maxExclusive ? !(v < max) : !(v <= max))) throw graphError(op, `${name} must be ${range.maxExclusive ? '<' : '≤'} ${max}, got ${v}`);
  return v;
}

/** Normalizes a (possibly negative) axis for `x`; a ShapeError names the rank otherwise. */
export function normAxis(op: string, x: Sym, axis: number): number {
  if (!Number.isInteger(axis) || axis < -x.rank || axis >= x.rank) throw new ShapeError(`axis ${String(axis)} is out of range for ${fmtShape(x.shape)} (rank ${x.rank})`, { op, shapes: [x.shape], origin: captureOrigin() });
  return axis < 0 ? axis + x.rank : axis;
}

/** The statically known size of `x` along `axis`, which params are shaped by. */
export function staticDim(op: string, x: Sym, axis: number, what: string): number {
  const a = normAxis(op, x, axis);
  const d = x.shape[a];
  if (d === null) throw new ShapeError(`${what} needs the size of axis ${a} of x to be known when the graph is built, but x has shape ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  return d;
}

/** Runs `fn` in a fresh scope `base`, `base_1`, ... (or exactly `name` when given and free). */
export function inUniqueScope<T>(g: Graph, base: string, name: string | undefined, fn: () => T): T {
  if (name !== undefined && (typeof name !== 'string' || !name || name.includes('/'))) throw graphError(base, `name ${JSON.stringify(name)} must be a non-empty string without "/"`);
  return g.scope(g.uniqueScope(name ?? base), fn);
}

/** The broadcast shape of a per-channel vector of length c for `x` with channels on `axis`. */
export function channelShape(x: Sym, axis: number, c: number): number[] {
  return x.shape.map((_, i) => (i === axis ? c : 1));
}

/** What a builder's param is for; `paramRole` reads it (e.g. to leave activation slopes out of weight decay). */
export type ParamRole = 'kernel' | 'bias' | 'activation' | 'norm';

/** The graph collection holding `{ param: id, role }` items; saved with the graph. */
export const ROLES_COLLECTION = 'nn/paramRoles';

export function setRole(p: Sym, role: ParamRole): Sym {
  p.graph.addToCollection(ROLES_COLLECTION, { param: p.id, role });
  return p;
}

/**
 * What an `nn` builder made a param for: `'kernel'` (dense weights), `'bias'`, `'activation'`
 * (PReLU, SPLASH and APL coefficients), `'norm'` (normalization scale and shift); undefined for
 * params made elsewhere.
 * @example nn.l2Penalty(g.params(), { exclude: (p) => nn.paramRole(p) !== 'kernel' })
 */
export function paramRole(p: Sym): ParamRole | undefined {
  requireSym('nn.paramRole', p, 'p');
  const item = p.graph.collection(ROLES_COLLECTION).find((r) => (r as { param: number }).param === p.id) as { role: ParamRole } | undefined;
  return item?.role;
}
