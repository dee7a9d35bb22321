/**
 * The rewrite engine. A rule is a named pattern → replacement pair, one line in a table:
 *
 *   rule('mul-one', P.mul(v('x'), c(1)), ({ x }) => x), // x·1 → x
 *
 * Tables are indexed by root op and run to a fixed point: sweeps over the live nodes, users
 * before inputs (so the largest pattern at a node wins), until a sweep rewrites nothing. A
 * replacement is built with `E` (the node builder: `E.neg(E.softplus(E.neg(x)))`), whose nodes
 * are hash-consed and constant-folded as they are made, and take the rewritten node's scope,
 * source line and adjoint mark — so a rewrite of a backward node stays a backward node.
 *
 * The engine, not each rule, makes replacements fit: a replacement must have the root's dtype;
 * when its shape is smaller (x·1 → x where the 1 was a bigger broadcast), it is broadcast back —
 * statically when the root's shape is known, and with `broadcastLike` against the dropped
 * operands when a dim is only known at run time (an unknown dim could be 1 and broadcast).
 */
import type { DType } from '../dtype';
import { GraphError } from '../errors';
import { captureOrigin } from '../origin';
import type { Attrs, Node } from '../ir';
import { isStatic, shapeEq, type SymShape } from '../shape';
import { Tensor } from '../tensor';
import { match, rootOps, type Binding, type Pattern } from './pattern';
import type { Work } from './work';

/** A node of the program being rewritten, as rules see it. */
export class Ref {
  constructor(
    readonly work: Work,
    readonly id: number,
  ) {}
  get node(): Node {
    return this.work.node(this.id);
  }
  get op(): string {
    return this.node.op;
  }
  get shape(): SymShape {
    return this.node.type.shape;
  }
  get dtype(): DType {
    return this.node.type.dtype;
  }
  get rank(): number {
    return this.node.type.shape.length;
  }
  get attrs(): Attrs {
    return this.node.attrs;
  }
  /** The value of a splat constant (bound by `k()` or `c()`); NaN for any other node. */
  get value(): number {
    return this.work.splat(this.id) ?? NaN;
  }
  /** The node's i-th input. */
  input(i: number): Ref {
    return new Ref(this.work, this.node.inputs[i]);
  }
}

export type Match = Readonly<Record<string, Ref>>;

export interface Rule {
  /** Unique across all tables; explain() and the rule properties go by it. */
  readonly name: string;
  readonly pattern: Pattern;
  /** Builds the replacement with `E`; null declines (rarely needed: prefer a guard). */
  readonly replace: (m: Match, root: Ref) => Ref | null;
  /** A condition the pattern can't say (finiteness, an axis relation). Only where needed. */
  readonly guard?: (m: Match, root: Ref) => boolean;
  /**
   * When the rule replaces a region that `grad` differentiated, rebuild the region's adjoints from
   * the replacement's VJP (see `adjoints.ts`): stability rules set it, so the gradient graph is
   * as stable as the forward one.
   */
  readonly rederive?: boolean;
}

/** What a rule that rederives adjoints hands the hook, just before its root is replaced. */
export interface RegionRewrite {
  readonly work: Work;
  /** The pass's rules by root op (for settling the nodes the hook builds). */
  readonly index: ReadonlyMap<string, readonly Rule[]>;
  readonly rule: Rule;
  /** The region's root, its leaves (what the pattern's variables and constants matched) and its replacement. */
  readonly root: number;
  readonly leaves: readonly number[];
  readonly rep: number;
  readonly log: RewriteLog;
}

/** Called for a rule with `rederive` set, before its root is replaced. */
export type AdjointHook = (r: RegionRewrite) => void;

/**
 * A rewrite rule: a unique name, a pattern whose root is an op, a replacement built with `E`, and
 * a guard only where the pattern can't say what the rule needs. Put the algebra in a comment on
 * the same line.
 * @example
 * rule('mul-one', P.mul(v('x'), c(1)), ({ x }) => x), // x·1 → x
 */
export function rule(name: string, pattern: Pattern, replace: Rule['replace'], guard?: Rule['guard'], opts: { rederive?: boolean } = {}): Rule {
  if (typeof name !== 'string' || !name) throw new GraphError('a rule needs a non-empty name', { op: 'rule', origin: captureOrigin() });
  if (!pattern || !rootOps(pattern).length) throw new GraphError(`rule "${name}": the pattern's root must be an op pattern such as P.mul(...)`, { op: 'rule', origin: captureOrigin() });
  if (typeof replace !== 'function' || (guard !== undefined && typeof guard !== 'function')) throw new GraphError(`rule "${name}": the replacement and the guard must be functions`, { op: 'rule', origin: captureOrigin() });
  return Object.freeze({ name, pattern, replace, guard, ...(opts.rederive ? { rederive: true } : {}) });
}

// ---- E: the node builder for replacements ----------------------------------------------------

type Meta = Pick<Node, 'scope' | 'origin' | 'adjointOf'>;
let current: { work: Work; meta: Meta } | null = null;

/** Runs `fn` with `E` building into `work`, new nodes taking `meta`. */
export function building<T>(work: Work, meta: Meta, fn: () => T): T {
  const prev = current;
  current = { work, meta };
  try {
    return fn();
  } finally {
    current = prev;
  }
}

function ctx(): { work: Work; meta: Meta } {
  if (!current) throw new GraphError('E builds nodes only inside a rule replacement, while a rewrite pass runs', { op: 'E', origin: captureOrigin() });
  return current;
}

export type Operand = Ref | number;

function make(op: string, inputs: readonly Ref[], attrs: Attrs = {}): Ref {
  const { work, meta } = ctx();
  return new Ref(work, work.make(op, inputs.map((r) => r.id), attrs, meta));
}

/** A number becomes a scalar constant of its partner's dtype (weak typing, as in the API). */
function lift2(a: Operand, b: Operand): [Ref, Ref] {
  if (a instanceof Ref && b instanceof Ref) return [a, b];
  if (a instanceof Ref) return [a, E.scalar(b as number, a.dtype)];
  if (b instanceof Ref) return [E.scalar(a as number, b.dtype), b];
  throw new GraphError('E needs at least one node operand; got two numbers', { op: 'E', origin: captureOrigin() });
}

const unary = (op: string) => (x: Ref): Ref => make(op, [x]);
const binary = (op: string) => (a: Operand, b: Operand): Ref => make(op, lift2(a, b));

/**
 * Builds nodes inside a rule's replacement. Mirrors the public API, on `Ref`s; a number next to
 * a node becomes a scalar constant of its dtype.
 * @example
 * rule('log-sigmoid', P.log(P.sigmoid(v('x'))), ({ x }) => E.neg(E.softplus(E.neg(x))))
 */
export const E = {
  op: make,
  scalar(value: number, dtype: DType): Ref {
    const { work, meta } = ctx();
    return new Ref(work, work.constant(Tensor.scalar(value, dtype), meta));
  },
  neg: unary('neg'),
  exp: unary('exp'),
  log: unary('log'),
  log1p: unary('log1p'),
  expm1: unary('expm1'),
  sigmoid: unary('sigmoid'),
  softplus: unary('softplus'),
  sqrt: unary('sqrt'),
  rsqrt: unary('rsqrt'),
  reciprocal: unary('reciprocal'),
  abs: unary('abs'),
  tanh: unary('tanh'),
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow'),
  where: (cond: Ref, a: Operand, b: Operand): Ref => make('where', [cond, ...lift2(a, b)]),
  sum: (x: Ref, axes: readonly number[], keepDims = false): Ref => make('sum', [x], { axes, keepDims }),
  mean: (x: Ref, axes: readonly number[], keepDims = false): Ref => make('mean', [x], { axes, keepDims }),
  logsumexp: (x: Ref, axes: readonly number[], keepDims = false): Ref => make('logsumexp', [x], { axes, keepDims }),
  softmax: (x: Ref, axis: number): Ref => make('softmax', [x], { axis }),
  logSoftmax: (x: Ref, axis: number): Ref => make('logSoftmax', [x], { axis }),
  reshape: (x: Ref, shape: readonly number[]): Ref => make('reshape', [x], { shape }),
  transpose: (x: Ref, perm: readonly number[]): Ref => make('transpose', [x], { perm }),
  broadcastTo: (x: Ref, shape: readonly number[]): Ref => make('broadcastTo', [x], { shape }),
  broadcastLike: (x: Ref, ref: Ref): Ref => make('broadcastLike', [x, ref]),
  expandDims: (x: Ref, axes: readonly number[]): Ref => make('expandDims', [x], { axes }),
  squeeze: (x: Ref, axes: readonly number[]): Ref => make('squeeze', [x], { axes }),
  cast: (x: Ref, dtype: DType): Ref => (x.dtype === dtype ? x : make('cast', [x], { dtype })),
  shapeSize: (x: Ref, axes: readonly number[], dtype: DType): Ref => make('shapeSize', [x], { axes, dtype }),
  /** A reduction's result with its reduced axes put back as 1s (what a reduction VJP does to dy). */
  keep: (x: Ref, axes: readonly number[], keepDims: boolean): Ref => (keepDims || axes.length === 0 ? x : make('expandDims', [x], { axes })),
  /** `x` broadcast to `ref`'s shape: static when known, at run time otherwise. */
  broadcastToShapeOf(x: Ref, ref: Ref): Ref {
    if (isStatic(ref.shape)) return shapeEq(x.shape, ref.shape) ? x : E.broadcastTo(x, ref.shape);
    return E.broadcastLike(x, ref);
  },
};

// ---- fitting a replacement to the node it replaces -------------------------------------------

/** True when `a` can broadcast to `b` (rank ≤, each dim 1, equal, or unknown on either side). */
function broadcastable(a: SymShape, b: SymShape): boolean {
  if (a.length > b.length) return false;
  const off = b.length - a.length;
  return a.every((d, i) => d === 1 || d === null || b[off + i] === null || d === b[off + i]);
}

/**
 * True when broadcasting `a` against `b` surely gives `b` at run time: per dim, `a` is 1, or
 * both are the same known size, or `a` is unknown while `b` is a known size > 1 (then `a` is 1 or
 * that size). Unknown against unknown could broadcast either way.
 */
export function broadcastsInto(a: SymShape, b: SymShape): boolean {
  if (a.length > b.length) return false;
  const off = b.length - a.length;
  return a.every((d, i) => {
    const e = b[off + i];
    return d === 1 || (d !== null && d === e) || (d === null && e !== null && e > 1);
  });
}

/** The leaves reachable from `rep` (the operands the replacement kept). */
function keptLeaves(work: Work, rep: number, leaves: ReadonlySet<number>): Set<number> {
  const kept = new Set<number>();
  const seen = new Set<number>();
  const stack = [rep];
  while (stack.length && seen.size < 256) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (leaves.has(id)) kept.add(id);
    else stack.push(...work.node(id).inputs);
  }
  return kept;
}

/** `rep` made to stand for `root`: same dtype and run-time shape, or null when it can't. */
export function fit(work: Work, root: Node, rep: number, leaves: readonly number[]): number | null {
  const r = work.node(rep);
  if (r.type.dtype !== root.type.dtype) return null;
  const want = root.type.shape;
  if (isStatic(want)) {
    if (shapeEq(r.type.shape, want)) return rep;
    if (!broadcastable(r.type.shape, want)) return null;
    return work.make('broadcastTo', [rep], { shape: want }, root);
  }
  const kept = keptLeaves(work, rep, new Set(leaves));
  let out = rep;
  for (const leaf of new Set(leaves)) {
    if (kept.has(leaf) || broadcastsInto(work.node(leaf).type.shape, work.node(out).type.shape)) continue;
    out = work.make('broadcastLike', [out, leaf], {}, root);
  }
  const got = work.node(out).type.shape;
  return got.length === want.length && got.every((d, i) => d === want[i]) ? out : null;
}

// ---- running tables to a fixed point ---------------------------------------------------------

/** How often a rule fired, split by whether the rewritten node was forward or backward. */
export interface RewriteCount {
  readonly rule: string;
  readonly forward: number;
  readonly backward: number;
}

/** Counts rewrites by rule, in first-fired order. */
export class RewriteLog {
  private readonly counts = new Map<string, { forward: number; backward: number }>();
  record(name: string, node: Node, n = 1): void {
    let c = this.counts.get(name);
    if (!c) this.counts.set(name, (c = { forward: 0, backward: 0 }));
    if (node.adjointOf !== undefined) c.backward += n;
    else c.forward += n;
  }
  list(): RewriteCount[] {
    return [...this.counts].map(([rule, c]) => ({ rule, ...c }));
  }
  get total(): number {
    let t = 0;
    for (const c of this.counts.values()) t += c.forward + c.backward;
    return t;
  }
}

export interface FixedPoint {
  readonly converged: boolean;
  readonly sweeps: number;
}

/** Rules by root op, tables in order, rules in table order. */
export function indexRules(tables: readonly (readonly Rule[])[]): Map<string, Rule[]> {
  const index = new Map<string, Rule[]>();
  for (const table of tables) {
    for (const r of table) {
      for (const op of rootOps(r.pattern)) {
        let list = index.get(op);
        if (!list) index.set(op, (list = []));
        list.push(r);
      }
    }
  }
  return index;
}

function refsOf(work: Work, b: Binding): Match {
  const m: Record<string, Ref> = {};
  for (const name in b.vars) m[name] = new Ref(work, b.vars[name]);
  return m;
}

/** Tries the rules indexed under `node.op` at `id`; the replacement's id when one fired. */
function rewriteAt(work: Work, index: Map<string, Rule[]>, id: number, log: RewriteLog, hook?: AdjointHook): number | null {
  const node = work.node(id);
  const rules = index.get(node.op);
  if (!rules) return null;
  const root = new Ref(work, id);
  for (const r of rules) {
    const guard = r.guard;
    const b = match(work, r.pattern, id, guard ? (m) => guard(refsOf(work, m), root) : undefined);
    if (!b) continue;
    let rep: number | null = null;
    try {
      rep = building(work, node, () => {
        const out = r.replace(refsOf(work, b), root);
        return out === null ? null : fit(work, node, out.id, b.leaves);
      });
    } catch (e) {
      work.notes.push(`rule ${r.name} failed at %${id} (${node.op}): ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (rep === null || rep === id) continue;
    if (r.rederive && hook) {
      try {
        hook({ work, index, rule: r, root: id, leaves: b.leaves, rep, log });
      } catch (e) {
        work.notes.push(`rule ${r.name}: the adjoints of %${id} were not rebuilt: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    work.replace(id, rep);
    log.record(r.name, node);
    return rep;
  }
  return null;
}

/** How far above a rewritten node patterns can reach (the deepest pattern's depth). */
const REACH = 4;

/**
 * Runs rule tables over `work` until no rule fires. A sweep visits the live nodes users first,
 * from a worklist: after a rewrite, the nodes it created and the users of its result (as far up
 * as a pattern reaches) are visited again at once, so a canonical form that moves upward (a
 * negation lifted out) settles in one sweep rather than one sweep per level. Sweeps repeat until
 * one rewrites nothing. Stops (not converged, with a note) if the rules keep firing far beyond
 * the program's size — a cycle between rules.
 */
export function runRules(work: Work, tables: readonly (readonly Rule[])[], log: RewriteLog, opts: { maxSweeps?: number; adjoints?: AdjointHook } = {}): FixedPoint {
  const index = indexRules(tables);
  const maxSweeps = opts.maxSweeps ?? 100;
  let fired = 0;
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    const order = work.order();
    work.setLive(order);
    const budget = 20 * (order.length + 50);
    let changed = false;
    // a worklist seeded users-first: popping from the end visits users before their inputs
    const stack = order;
    const pending = new Set(order);
    while (stack.length) {
      const id = stack.pop()!;
      pending.delete(id);
      if (work.isReplaced(id)) continue;
      const mark = work.created.length;
      const rep = rewriteAt(work, index, id, log, opts.adjoints);
      if (rep === null) continue;
      changed = true;
      if (++fired > budget) break;
      // revisit what the rewrite may have enabled: the nodes it made, then the replacement's
      // users up to REACH levels (pushed last, so visited first: users before inputs)
      const revisit = [...work.created.slice(mark), rep];
      let level = [rep];
      for (let d = 0; d < REACH && level.length; d++) {
        level = level.flatMap((n) => work.usersOfNode(n));
        revisit.push(...level);
      }
      for (const n of revisit) {
        if (pending.has(n) || work.isReplaced(n)) continue;
        pending.add(n);
        stack.push(n);
      }
    }
    if (!changed) return { converged: true, sweeps: sweep };
    if (fired > budget) break;
  }
  work.notes.push(`the rules did not reach a fixed point (${fired} rewrites); the program is correct but may not be fully simplified`);
  return { converged: false, sweeps: maxSweeps };
}

/**
 * Runs the rules to a fixed point over nodes built since `fresh` started (and only those): the
 * nodes a pass just made, brought to the normal form the rest of the program is in, without
 * touching any node that was there before. Adjoint hooks don't run here.
 */
export function settle(work: Work, index: ReadonlyMap<string, readonly Rule[]>, fresh: ReadonlySet<number> | ((id: number) => boolean), log: RewriteLog): void {
  const isFresh = typeof fresh === 'function' ? fresh : (id: number) => fresh.has(id);
  const idx = index as Map<string, Rule[]>;
  const pending = new Set<number>();
  const stack: number[] = [];
  const push = (id: number) => {
    if (!pending.has(id) && isFresh(id) && !work.isReplaced(id)) {
      pending.add(id);
      stack.push(id);
    }
  };
  for (let i = 0; i < work.created.length; i++) push(work.created[i]);
  let budget = 20 * (stack.length + 50);
  while (stack.length && budget-- > 0) {
    const id = stack.pop()!;
    pending.delete(id);
    if (work.isReplaced(id)) continue;
    const mark = work.created.length;
    const rep = rewriteAt(work, idx, id, log);
    if (rep === null) continue;
    for (const n of work.created.slice(mark)) push(n);
    push(rep);
    let level = [rep];
    for (let d = 0; d < REACH && level.length; d++) {
      level = level.flatMap((n) => work.usersOfNode(n));
      level.forEach(push);
    }
  }
}
