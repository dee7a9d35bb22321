/**
 * The op registry. Every primitive — built in or user-defined — is one `OpDef`: how its
 * attributes are normalized, its shape/dtype rule, a readable reference kernel, and a symbolic
 * gradient rule (VJP) that returns new graph nodes. All fields are required, so a primitive
 * missing one doesn't type-check; an op with no gradient says so with `notDifferentiable`.
 */
import type { DType } from './dtype';
import { OpDefError, ShapeError } from './errors';
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

export interface OpDef<A extends Attrs = Attrs> {
  readonly name: string;
  /** Number of inputs, or a range for variadic ops (concat). */
  readonly arity: number | { readonly min: number; readonly max?: number };
  readonly kind: OpKind;
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
  const missing = (['name', 'arity', 'kind', 'doc', 'attrs', 'infer', 'kernel', 'vjp'] as const).filter((k) => def[k] === undefined);
  if (missing.length) throw new OpDefError(`op definition is missing ${missing.join(', ')}`, { op: def.name ?? '<unnamed>' });
  if (!/^[A-Za-z_][\w.]*$/.test(def.name)) throw new OpDefError(`op name ${JSON.stringify(def.name)} is not an identifier`, { op: def.name });
  for (const f of ['attrs', 'infer', 'kernel'] as const) {
    if (typeof def[f] !== 'function') throw new OpDefError(`${f} must be a function`, { op: def.name });
  }
  if (typeof def.vjp !== 'function' && def.vjp !== notDifferentiable) {
    throw new OpDefError('vjp must be a function or notDifferentiable', { op: def.name });
  }
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
