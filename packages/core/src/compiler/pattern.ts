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
import { isCommutative, type Work } from './work';

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

/**
 * Any node, bound to `name`; with `sub`, the node must also match `sub`.
 * @example
 * P.mul(P.div(v('g'), v('s', P.sigmoid(v('x')))), v('s')) // (g/σ(x))·σ(x), the same σ node twice
 */
export const v = (name: string, sub?: Pattern): Pattern => tag({ kind: 'var', name, sub });
/**
 * A constant whose every element equals `value` (seen through broadcasts and reshapes).
 * @example
 * P.add(v('x'), c(0)) // x + 0
 */
export const c = (value: number): Pattern => tag({ kind: 'const', value });
/**
 * Any splat constant, bound to `name` (its value is `m[name].value`).
 * @example
 * rule('collect-mul', P.mul(P.mul(v('x'), k('a')), k('b')), ({ x, a, b }) => E.mul(x, a.value * b.value))
 */
export const k = (name: string): Pattern => tag({ kind: 'konst', name });
/**
 * Any node, unbound.
 * @example
 * P.where(_(), v('x'), v('x')) // c ? x : x, whatever c is
 */
export const _ = (): Pattern => tag({ kind: 'any' });
/**
 * In an op pattern's inputs, first position only: any number of leading inputs (variadic ops).
 * @example
 * P.customGrad(rest(), v('y')) // customGrad(xs…, y)
 */
export const rest = (): Pattern => tag({ kind: 'rest' });
/**
 * The first of `options` that matches.
 * @example
 * alt(P.sub(P.exp(v('x')), c(1)), P.add(P.exp(v('x')), c(-1))) // eˣ − 1, either way written
 */
export const alt = (...options: Pattern[]): Pattern => tag({ kind: 'alt', options });
/**
 * `op(inputs...)`, with `attrs` (a subset of the node's attributes) equal when given. The name
 * `'*'` matches any op with matching inputs (not at a rule's root: rules are indexed by it).
 * @example
 * op('sum', [v('x')], { keepDims: true })
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

/** The binding being built: names and leaves are set on the way down and undone on backtrack. */
interface State {
  readonly vars: Map<string, number>;
  readonly leaves: number[];
}

type Cont = () => boolean;

/** Binds `name` (and records a leaf), runs `k`, and undoes both if `k` fails. */
function bindThen(s: State, name: string | null, id: number, leaf: boolean, k: Cont): boolean {
  if (name !== null) s.vars.set(name, id);
  if (leaf) s.leaves.push(id);
  if (k()) return true;
  if (name !== null) s.vars.delete(name);
  if (leaf) s.leaves.pop();
  return false;
}

/** Could `q` match node `i`, judging by the op alone? */
function opFits(work: Work, q: Pattern, i: number): boolean {
  return q.kind !== 'op' || q.op === '*' || work.node(i).op === q.op;
}

/**
 * A cheap necessary condition: the root's op and its inputs' ops (for op sub-patterns). (No
 * closures here: it runs for every rule at every node.)
 */
function quickCheck(work: Work, p: Pattern, id: number): boolean {
  if (p.kind !== 'op') return true;
  const node = work.node(id);
  if (p.op !== '*' && node.op !== p.op) return false;
  const pats = p.inputs;
  const ins = node.inputs;
  if (!pats.length || pats[0].kind === 'rest') return true;
  if (pats.length !== ins.length) return false;
  let direct = true;
  for (let j = 0; j < pats.length && direct; j++) direct = opFits(work, pats[j], ins[j]);
  if (direct) return true;
  return isCommutative(node.op) && pats.length === 2 && opFits(work, pats[0], ins[1]) && opFits(work, pats[1], ins[0]);
}

function go(work: Work, p: Pattern, id: number, s: State, k: Cont): boolean {
  switch (p.kind) {
    case 'var': {
      const bound = s.vars.get(p.name);
      if (bound !== undefined) return bound === id && k();
      if (!p.sub) return bindThen(s, p.name, id, true, k);
      return go(work, p.sub, id, s, () => bindThen(s, p.name, id, false, k));
    }
    case 'const':
      return work.splat(id) === p.value && bindThen(s, null, id, true, k);
    case 'konst': {
      if (work.splat(id) === undefined) return false;
      const bound = s.vars.get(p.name);
      if (bound !== undefined) return bound === id && k();
      return bindThen(s, p.name, id, true, k);
    }
    case 'any':
      return bindThen(s, null, id, true, k);
    case 'rest':
      return false;
    case 'alt':
      for (const o of p.options) if (go(work, o, id, s, k)) return true;
      return false;
    case 'op': {
      if (!quickCheck(work, p, id)) return false;
      const node = work.node(id);
      if (p.attrs && !Object.entries(p.attrs).every(([key, val]) => deepEqual(node.attrs[key], val))) return false;
      let pats = p.inputs;
      let ins = node.inputs;
      if (pats.length && pats[0].kind === 'rest') {
        pats = pats.slice(1);
        if (ins.length < pats.length) return false;
        ins = ins.slice(ins.length - pats.length);
      }
      if (pats.length !== ins.length) return false;
      if (seq(work, pats, ins, 0, s, k)) return true;
      return isCommutative(node.op) && ins.length === 2 && ins[0] !== ins[1] && seq(work, pats, [ins[1], ins[0]], 0, s, k);
    }
  }
}

function seq(work: Work, pats: readonly Pattern[], ins: readonly number[], i: number, s: State, k: Cont): boolean {
  if (i === pats.length) return k();
  return go(work, pats[i], ins[i], s, () => seq(work, pats, ins, i + 1, s, k));
}

/**
 * Matches `p` at node `id`, calling `accept` with each binding found until it returns true (so a
 * guard inside `accept` makes the matcher backtrack to the next way of matching). Returns the
 * accepted binding, or null.
 */
export function match(work: Work, p: Pattern, id: number, accept: (b: Binding) => boolean = () => true): Binding | null {
  if (!quickCheck(work, p, id)) return null;
  const s: State = { vars: new Map(), leaves: [] };
  let found: Binding | null = null;
  go(work, p, id, s, () => {
    const b: Binding = { vars: Object.fromEntries(s.vars), leaves: [...s.leaves] };
    if (!accept(b)) return false;
    found = b;
    return true;
  });
  return found;
}

/** The op names a pattern's root can have (for indexing rules by root op). */
export function rootOps(p: Pattern): string[] {
  if (p.kind === 'op') return p.op === '*' ? [] : [p.op];
  if (p.kind === 'alt') return p.options.flatMap(rootOps);
  if (p.kind === 'var' && p.sub) return rootOps(p.sub);
  return [];
}
