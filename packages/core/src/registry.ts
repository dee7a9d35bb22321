/**
 * The op registry. Every primitive — built in or user-defined — is one `OpDef`: how its
 * attributes are normalized, its shape/dtype rule, a readable reference kernel, a symbolic
 * gradient rule (VJP), a forward-mode rule (JVP) and a batching rule (for `vmap`), the last three
 * returning new graph nodes. They are required, so a primitive missing one doesn't type-check; an
 * op with no gradient says so with `notDifferentiable`. (`defineOp` fills in a missing JVP with
 * the double-VJP fallback and a missing batching rule with one that throws a `BatchError`.)
 */
import type { DType } from './dtype';
import { BatchError, OpDefError, ShapeError } from './errors';
import type { Attrs, Node, TypeInfo } from './ir';
import type { StreamKey } from './random';
import type { Shape } from './shape';
import type { Tensor } from './tensor';
import type { Sym } from './graph';

/** What a VJP rule gets: the forward inputs and output as symbols, the output's cotangent `dy`. */
export interface VjpArgs<A> {
  readonly inputs: readonly Sym[];
  readonly output: Sym;
  readonly dy: Sym;
  readonly attrs: A;
  readonly node: Node;
  /** Which inputs need a gradient; a rule may return null for the others and save nodes. */
  readonly needsGrad: readonly boolean[];
}

/**
 * A symbolic gradient rule: one gradient symbol per input, or `null` for "no gradient". Results
 * may have the broadcast output shape: the backprop loop un-broadcasts and accumulates.
 */
export type Vjp<A> = (args: VjpArgs<A>) => readonly (Sym | null)[];

/** What a forward-mode (JVP) rule gets: the forward inputs and output as symbols, and each input's tangent. */
export interface JvpArgs<A> {
  readonly inputs: readonly Sym[];
  readonly output: Sym;
  /** One tangent per input, shaped like that input; null where it is zero (or the input is not float). */
  readonly tangents: readonly (Sym | null)[];
  readonly attrs: A;
  readonly node: Node;
}

/**
 * A forward-mode rule: the output's tangent (shaped like the output, or broadcastable to it), or
 * null for zero. It is linear in the tangents; `jvp` broadcasts the result to the output's shape.
 */
export type Jvp<A> = (args: JvpArgs<A>) => Sym | null;

/** What a batching rule (for `vmap`) gets: the inputs, each with the axis its batch runs along. */
export interface BatchArgs<A> {
  readonly inputs: readonly Sym[];
  /** The batch axis of each input, or null for an input that is not batched (the same for every example). */
  readonly axes: readonly (number | null)[];
  readonly attrs: A;
  readonly node: Node;
  /** The batch size, or null when it is known only at run time. */
  readonly size: number | null;
}

/**
 * A batching rule: the op applied to the batched inputs as graph, and the batch axis of the
 * result. It must never loop over the batch: one op (or a few) over the whole batched tensors.
 */
export type BatchRule<A> = (args: BatchArgs<A>) => { readonly out: Sym; readonly axis: number };

/** How a rule was made, for docs/ops.md (`derivation(def.jvp)`): hand-written rules have none. */
const derivations = new WeakMap<object, string>();

/**
 * Tags a rule with how it was derived (`'transposed VJP'`, `'linear'`, `'double VJP'`, ...), so
 * the generated op table can say so.
 * @example const rule = derived(({ tangents: [t] }) => t, 'linear');
 */
export function derived<T extends object>(rule: T, how: string): T {
  derivations.set(rule, how);
  return rule;
}

/** How a rule was derived, or undefined for a hand-written one. */
export function derivation(rule: unknown): string | undefined {
  return rule !== null && (typeof rule === 'object' || typeof rule === 'function') ? derivations.get(rule) : undefined;
}

/**
 * The batching rule of an op that has none: it throws a `BatchError` naming the op. `defineOp`
 * uses it when its definition gives no `batch`.
 */
export function noBatchRule(op: string): BatchRule<any> {
  return derived(({ node }: BatchArgs<any>) => {
    throw new BatchError(`vmap: op "${op}" has no batching rule; give it one (the \`batch\` field of defineOp, see docs/core.md)`, { op, scope: node.scope, origin: node.origin });
  }, 'none');
}

/** Marks an op whose output carries no gradient (comparisons, argmax, integer ops). */
export const notDifferentiable = Object.freeze({ notDifferentiable: true as const });
export type NotDifferentiable = typeof notDifferentiable;

/** The concrete type a kernel must produce. */
export interface ConcreteType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface KernelCtx {
  /** The output type, from the shape rule applied to the concrete input types. */
  readonly out: ConcreteType;
  readonly node: Node;
  /** For random ops: this node's stream for this run. */
  readonly random?: StreamKey;
}

/** How an op's elements relate to its output's, for the compiler (fusion, FLOP counts). */
export type OpKind =
  | 'source' // input, param, constant
  | 'elementwise' // out[i] depends on in[i] of each (broadcast) input
  | 'reduction'
  | 'matmul'
  | 'shape' // moves or copies elements: reshape, transpose, slice, ...
  | 'random'
  | 'other';

/**
 * Which inputs an op reads for their values. The others only lend their (run-time) shape, which a
 * specialization knows before anything runs: `broadcastLike(x, ref)` reads x, `shapeSize(x)` reads
 * nothing, a `customGrad` node reads only its last input (the value of f).
 */
export type DataInputs = 'all' | 'first' | 'last' | 'none';

/**
 * When an op's result is surely finite: the inputs (by index) whose finiteness makes it so (`[]`:
 * always finite; `'all'`: every input), `null` for no such guarantee, or a function of the node's
 * attributes and input types giving one of those (pad is finite when its fill value is).
 */
export type FiniteRule = readonly number[] | 'all' | null | ((attrs: Attrs, inputs: readonly TypeInfo[]) => readonly number[] | 'all' | null);

/**
 * Facts about an op that the compiler and the back ends plan with. They live here, next to the
 * shape rule and the gradient, so that no pass or back end keeps a list of op names.
 */
export interface OpTraits {
  /** Element i of the result depends only on element i of each (broadcast) data input: a fused loop can compute it. */
  readonly elementwise: boolean;
  /** A reduction over `attrs.axes` (with `attrs.keepDims`): a fused loop can end in it. */
  readonly reduction: boolean;
  /** The result is the data input's elements in the same order (reshape-like): it can share the input's storage. */
  readonly view: boolean;
  /** The result is the data input itself when the two shapes agree (a run-time `sumLike` over nothing): then it is a view. */
  readonly identityOnSameShape: boolean;
  /** f(a, b) = f(b, a): the compiler may order the operands, and patterns match either way round. */
  readonly commutative: boolean;
  /** The result's run-time shape is exactly input 0's (unary elementwise ops, cast, softmax). */
  readonly shapePreserving: boolean;
  /** The result's run-time shape is the broadcast of the inputs' shapes (binary elementwise ops). */
  readonly broadcasting: boolean;
  /** When the result is surely finite (guards for rewrites such as x·0 → 0). */
  readonly finiteIfInputsFinite: FiniteRule;
  /** Which inputs are read for their values. */
  readonly dataInputs: DataInputs;
}

const TRAIT_DEFAULTS: OpTraits = Object.freeze({
  elementwise: false,
  reduction: false,
  view: false,
  identityOnSameShape: false,
  commutative: false,
  shapePreserving: false,
  broadcasting: false,
  finiteIfInputsFinite: null,
  dataInputs: 'all',
});

/** The names of the traits every op declares. */
export const TRAIT_NAMES: readonly (keyof OpTraits)[] = Object.freeze(Object.keys(TRAIT_DEFAULTS) as (keyof OpTraits)[]);

/**
 * An op's traits: the ones given, the rest at their conservative defaults (not elementwise, not a
 * view, no finiteness guarantee, every input read).
 * @example traits({ elementwise: true, shapePreserving: true, finiteIfInputsFinite: [0] }) // tanh
 */
export function traits(t: Partial<OpTraits> = {}): OpTraits {
  for (const k of Object.keys(t)) {
    if (!(k in TRAIT_DEFAULTS)) throw new OpDefError(`unknown op trait "${k}" (known: ${TRAIT_NAMES.join(', ')})`, { op: 'traits' });
  }
  return Object.freeze({ ...TRAIT_DEFAULTS, ...t });
}

/**
 * The inputs whose finiteness makes `node`'s result finite, or null.
 * @example finiteInputs(getOp('where'), attrs, types) // [1, 2]
 */
export function finiteInputs(def: OpDef<any>, attrs: Attrs, inputs: readonly TypeInfo[]): readonly number[] | null {
  let rule = def.traits.finiteIfInputsFinite;
  if (typeof rule === 'function') rule = rule(attrs, inputs);
  if (rule === 'all') return inputs.map((_t, i) => i);
  return rule;
}

/**
 * The indices of the inputs `def` reads for their values, for a node with `arity` inputs.
 * @example dataInputIndices(getOp('broadcastLike'), 2) // [0]
 */
export function dataInputIndices(def: OpDef<any>, arity: number): number[] {
  switch (def.traits.dataInputs) {
    case 'all': {
      const all: number[] = [];
      for (let i = 0; i < arity; i++) all.push(i);
      return all;
    }
    case 'first':
      return arity ? [0] : [];
    case 'last':
      return arity ? [arity - 1] : [];
    case 'none':
      return [];
  }
}

export interface OpDef<A extends Attrs = Attrs> {
  readonly name: string;
  /** Number of inputs, or a range for variadic ops (concat). */
  readonly arity: number | { readonly min: number; readonly max?: number };
  readonly kind: OpKind;
  /** Facts the compiler and back ends plan with (build them with `traits({...})`). */
  readonly traits: OpTraits;
  /** One sentence for docs, viz tooltips and error messages. */
  readonly doc: string;
  /**
   * The attribute type: turns what the user passed into the normal form stored on the node
   * (defaults filled, axes made non-negative), or throws. Equal normal forms hash-cons together.
   */
  readonly attrs: (raw: Attrs, inputs: readonly TypeInfo[]) => A;
  /** The shape/dtype rule. Throws `ShapeError`/`DTypeError` (use `fail`) on bad input. */
  readonly infer: (inputs: readonly TypeInfo[], attrs: A) => TypeInfo;
  /** The reference kernel: readable first. It must return a tensor of `ctx.out`'s type. */
  readonly kernel: (inputs: readonly Tensor[], attrs: A, ctx: KernelCtx) => Tensor;
  readonly vjp: Vjp<A> | NotDifferentiable;
  /** The forward-mode rule (`jvp`, `jacfwd`, `hvp`); `notDifferentiable` where the VJP is. */
  readonly jvp: Jvp<A> | NotDifferentiable;
  /** The batching rule (`vmap`, `perExampleGrads`): how the op runs over inputs with a batch axis. */
  readonly batch: BatchRule<A>;
  /** The convention at points where the op is not differentiable, if any (documented, tested). */
  readonly kinks?: string;
  /** Estimated floating-point operations, from the concrete input and output types. */
  readonly flops?: (inputs: readonly ConcreteType[], out: ConcreteType, attrs: A) => number;
}

const registry = new Map<string, OpDef<any>>();

export function isDifferentiable<A extends Attrs>(def: OpDef<A>): def is OpDef<A> & { vjp: Vjp<A> } {
  return typeof def.vjp === 'function';
}

function checkDef(def: OpDef<any>): void {
  const missing = (['name', 'arity', 'kind', 'traits', 'doc', 'attrs', 'infer', 'kernel', 'vjp', 'jvp', 'batch'] as const).filter((k) => def[k] === undefined);
  if (missing.length) throw new OpDefError(`op definition is missing ${missing.join(', ')}`, { op: def.name ?? '<unnamed>' });
  if (!/^[A-Za-z_][\w.]*$/.test(def.name)) throw new OpDefError(`op name ${JSON.stringify(def.name)} is not an identifier`, { op: def.name });
  for (const f of ['attrs', 'infer', 'kernel'] as const) {
    if (typeof def[f] !== 'function') throw new OpDefError(`${f} must be a function`, { op: def.name });
  }
  checkTraits(def);
  if (typeof def.vjp !== 'function' && def.vjp !== notDifferentiable) {
    throw new OpDefError('vjp must be a function or notDifferentiable', { op: def.name });
  }
  if (typeof def.jvp !== 'function' && def.jvp !== notDifferentiable) {
    throw new OpDefError('jvp must be a function or notDifferentiable', { op: def.name });
  }
  if ((def.vjp === notDifferentiable) !== (def.jvp === notDifferentiable)) {
    throw new OpDefError('vjp and jvp must both be rules or both notDifferentiable', { op: def.name });
  }
  if (typeof def.batch !== 'function') throw new OpDefError('batch must be a function', { op: def.name });
}

function checkTraits(def: OpDef<any>): void {
  const t = def.traits as unknown as Record<string, unknown>;
  if (t === null || typeof t !== 'object') throw new OpDefError('traits must be an object (build it with traits({...}))', { op: def.name });
  const bad: string[] = [];
  for (const k of TRAIT_NAMES) {
    const v = t[k];
    if (k === 'finiteIfInputsFinite') {
      if (!(v === null || v === 'all' || typeof v === 'function' || (Array.isArray(v) && v.every((i) => Number.isInteger(i) && i >= 0)))) bad.push(k);
    } else if (k === 'dataInputs') {
      if (!['all', 'first', 'last', 'none'].includes(v as string)) bad.push(k);
    } else if (typeof v !== 'boolean') bad.push(k);
  }
  const unknown = Object.keys(t).filter((k) => !(TRAIT_NAMES as readonly string[]).includes(k));
  if (bad.length) throw new OpDefError(`traits ${bad.join(', ')} are missing or malformed (build them with traits({...}))`, { op: def.name });
  if (unknown.length) throw new OpDefError(`unknown traits ${unknown.join(', ')}`, { op: def.name });
}

/** Adds a primitive to the registry. Built-ins go through here too. */
export function registerOp<A extends Attrs>(def: OpDef<A>, opts: { replace?: boolean } = {}): OpDef<A> {
  checkDef(def);
  if (registry.has(def.name) && !opts.replace) {
    throw new OpDefError(`an op named "${def.name}" is already registered`, { op: def.name });
  }
  registry.set(def.name, Object.freeze({ ...def }));
  return registry.get(def.name)!;
}

export function getOp(name: string): OpDef<any> {
  const def = registry.get(name);
  if (!def) throw new OpDefError(`no op named "${name}" is registered`, { op: name });
  return def;
}

export function hasOp(name: string): boolean {
  return registry.has(name);
}

/** Every registered op, built-ins first, in registration order. */
export function listOps(): OpDef<any>[] {
  return [...registry.values()];
}

/** Throws a `ShapeError` from a shape rule; the graph adds op, scope and source line. */
export function fail(detail: string): never {
  throw new ShapeError(detail);
}
