/**
 * Patterns: the left sides of rewrite rules, as data.
 *
 *   P.mul(v('x'), c(1))                 x·1 — `c(1)` is any constant of ones (also broadcast)
 *   P.log(P.sub(c(1), P.sigmoid(v('x')))) log(1 − σ(x))
 *   P.sum(v('e', P.exp(v('x'))), { keepDims: true })   binds the exp node as `e`; attrs must match
 *
 * `v(name)` matches any node and binds it; a name used twice must be the same node (hash-consing
 * makes equal expressions the same node). `k(name)` matches any splat constant and binds it.
 * Commutative ops (add, mul, maximum, ...) match their operands in either order.
 */
import type { Attrs } from '../ir';
import { COMMUTATIVE, type Work } from './work';

export type Pattern =
  | { readonly kind: 'var'; readonly name: string; readonly sub?: Pattern }
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'konst'; readonly name: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'rest' }
  | { readonly kind: 'alt'; readonly options: readonly Pattern[] }
  | { readonly kind: 'op'; readonly op: string; readonly inputs: readonly Pattern[]; readonly attrs?: Attrs };

const PATTERN = Symbol('pattern');
type Tagged = Pattern & { readonly [PATTERN]: true };

function tag(p: Pattern): Tagged {
  return Object.freeze({ ...p, [PATTERN]: true as const });
}

function isPattern(x: unknown): x is Pattern {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PATTERN] === true;
}

/** Any node, bound to `name`; with `sub`, the node must also match `sub`. */
export const v = (name: string, sub?: Pattern): Pattern => tag({ kind: 'var', name, sub });
/** A constant whose every element equals `value` (seen through broadcasts and reshapes). */
export const c = (value: number): Pattern => tag({ kind: 'const', value });
/** Any splat constant, bound to `name` (its value is `m[name].value`). */
export const k = (name: string): Pattern => tag({ kind: 'konst', name });
/** Any node, unbound. */
export const _ = (): Pattern => tag({ kind: 'any' });
/** In an op pattern's inputs, first position only: any number of leading inputs (variadic ops). */
export const rest = (): Pattern => tag({ kind: 'rest' });
/** The first of `options` that matches. */
export const alt = (...options: Pattern[]): Pattern => tag({ kind: 'alt', options });
/**
 * `op(inputs...)`, with `attrs` (a subset of the node's attributes) equal when given. The name
 * `'*'` matches any op with matching inputs (not at a rule's root: rules are indexed by it).
 */
export const op = (name: string, inputs: readonly Pattern[], attrs?: Attrs): Pattern => tag({ kind: 'op', op: name, inputs, attrs });

type OpPatternBuilder = (...args: (Pattern | Attrs)[]) => Pattern;

/**
 * Op patterns by name: `P.mul(a, b)`, `P.sum(x, { keepDims: true })`. A trailing plain object
 * constrains attributes.
 */
export const P: Record<string, OpPatternBuilder> = new Proxy({} as Record<string, OpPatternBuilder>, {
  get: (_t, name: string) => (...args: (Pattern | Attrs)[]) => {
    const last = args[args.length - 1];
    const attrs = args.length && !isPattern(last) ? (args.pop() as Attrs) : undefined;
    return op(name, args as Pattern[], attrs);
  },
});

/** What a successful match found: bound names, and the leaves (nodes matched by v, c, k, _). */
export interface Binding {
  readonly vars: Readonly<Record<string, number>>;
  readonly leaves: readonly number[];
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((key) => deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
  }
  return false;
}

type Cont = (b: Binding) => boolean;

/**
 * Matches `p` at node `id`, calling `k` with each binding found until it returns true (so a
 * guard inside `k` makes the matcher backtrack to the next way of matching).
 */
export function match(work: Work, p: Pattern, id: number, b: Binding, k: Cont): boolean {
  switch (p.kind) {
    case 'var': {
      const bound = b.vars[p.name];
      if (bound !== undefined) return bound === id && k(b);
      const bind = (b2: Binding, leaf: boolean): Binding => ({ vars: { ...b2.vars, [p.name]: id }, leaves: leaf ? [...b2.leaves, id] : b2.leaves });
      return p.sub ? match(work, p.sub, id, b, (b2) => k(bind(b2, false))) : k(bind(b, true));
    }
    case 'const':
      return work.splat(id) === p.value && k({ vars: b.vars, leaves: [...b.leaves, id] });
    case 'konst': {
      if (work.splat(id) === undefined) return false;
      const bound = b.vars[p.name];
      if (bound !== undefined) return bound === id && k(b);
      return k({ vars: { ...b.vars, [p.name]: id }, leaves: [...b.leaves, id] });
    }
    case 'any':
      return k({ vars: b.vars, leaves: [...b.leaves, id] });
    case 'rest':
      return false;
    case 'alt':
      return p.options.some((o) => match(work, o, id, b, k));
    case 'op': {
      const node = work.node(id);
      if (p.op !== '*' && node.op !== p.op) return false;
      if (p.attrs && !Object.entries(p.attrs).every(([key, val]) => deepEqual(node.attrs[key], val))) return false;
      let pats = p.inputs;
      let ins = node.inputs;
      if (pats.length && pats[0].kind === 'rest') {
        pats = pats.slice(1);
        if (ins.length < pats.length) return false;
        ins = ins.slice(ins.length - pats.length);
      }
      if (pats.length !== ins.length) return false;
      if (matchAll(work, pats, ins, 0, b, k)) return true;
      return COMMUTATIVE.has(node.op) && ins.length === 2 && ins[0] !== ins[1] && matchAll(work, pats, [ins[1], ins[0]], 0, b, k);
    }
  }
}

function matchAll(work: Work, pats: readonly Pattern[], ins: readonly number[], i: number, b: Binding, k: Cont): boolean {
  if (i === pats.length) return k(b);
  return match(work, pats[i], ins[i], b, (b2) => matchAll(work, pats, ins, i + 1, b2, k));
}

/** The op names a pattern's root can have (for indexing rules by root op). */
export function rootOps(p: Pattern): string[] {
  if (p.kind === 'op') return p.op === '*' ? [] : [p.op];
  if (p.kind === 'alt') return p.options.flatMap(rootOps);
  if (p.kind === 'var' && p.sub) return rootOps(p.sub);
  return [];
}
