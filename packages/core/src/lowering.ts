/**
 * Lowerings: how each back end runs each op. A compiled back end registers one `Lowering` per op
 * it has generated code for — as TF.js's `registerKernel` and JAX's `register_lowering` do — and
 * the fusion and memory planners read a back end's `BackendCapabilities`, built from those
 * registrations, instead of lists of op names. An op without a lowering on a back end runs its
 * reference kernel there (that is how `defineOp` ops and `customGrad` run), and `explain()` says so.
 *
 * This module sits between the compiler (`compiler/`, which must not import any back end) and the
 * back ends (`backend/*`, which register here when they are loaded).
 */
import { GraphError, OpDefError } from './errors';
import type { Node, TypeInfo } from './ir';
import { hasOp } from './registry';

/** A node's type: its symbolic type at compile time, its concrete type in a specialization. */
export type TypeOf = (id: number) => TypeInfo;

/**
 * How a back end runs an op:
 * - `ew`: inside a fused elementwise loop;
 * - `reduce`: as the reduction a fused loop ends in (`sum`, `mean`, `max`, `min`);
 * - `matmul`: a matmul kernel (with a bias + activation epilogue);
 * - `row`: a kernel over the rows of the last axis (softmax and friends);
 * - `random`: fills its result with keyed random numbers;
 * - `shapeConst`: a value known once the shapes are (`shapeSize`), stored with the constants;
 * - `custom`: a kernel of its own for one node, which the back end makes from the node and its
 *   concrete types (convolution, pooling): it reads its data inputs and writes its result in place.
 */
export type KernelClass = 'ew' | 'reduce' | 'matmul' | 'row' | 'random' | 'shapeConst' | 'custom';

export interface Lowering<Impl = unknown> {
  /** The kind of kernel the op becomes. */
  readonly kernel: KernelClass;
  /**
   * Whether the lowering applies to this node under these types (a dtype it has code for, a
   * reduced axis it can fold); default: always. When it doesn't, the node runs its reference kernel.
   */
  readonly accepts?: (node: Node, types: TypeOf) => boolean;
  /** A unary float op a matmul kernel can apply as it stores the product. */
  readonly epilogue?: boolean;
  /** What the back end generates code from (a JavaScript template, a WebAssembly emitter, ...). */
  readonly impl?: Impl;
}

/** The sizes of one matmul, for the scratch space its kernel needs. */
export interface MatmulShape {
  /** The product's dtype and its epilogue's activation (a back end may run some on another back end's kernels). */
  readonly dtype?: string;
  readonly activation?: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transposeA: boolean;
  readonly batchA: readonly number[];
  readonly batchB: readonly number[];
}

/** What a back end can do, as the fusion and memory planners see it. */
export interface BackendCapabilities {
  readonly name: string;
  /** The lowering of `op` here (or on the back end this one falls back to), if any. */
  lowering(op: string): Lowering | undefined;
  /**
   * The lowering that runs this node: this back end's when it has one for the op that accepts the
   * node, else its fallback's (a float64 node on the wasm back end takes the JS back end's).
   */
  loweringFor(node: Node, types: TypeOf): Lowering | undefined;
  /** Bytes of scratch space (8-byte aligned) a matmul of this shape needs in the arena. */
  matmulScratchBytes(mm: MatmulShape): number;
}

interface BackendEntry {
  readonly name: string;
  readonly lowerings: Map<string, Lowering>;
  /** Ops without a lowering here take this back end's, if it has one. */
  readonly fallback?: string;
  readonly matmulScratchBytes: (mm: MatmulShape) => number;
  caps?: BackendCapabilities;
}

const backends = new Map<string, BackendEntry>();

/**
 * Declares a compiled back end for lowering: its name, the back end whose lowerings it inherits
 * for ops it has none of its own for, and the scratch space its matmul kernels need.
 * @example defineLoweringTarget({ name: 'js', matmulScratchBytes: (mm) => 8 * mm.k * 4 });
 */
export function defineLoweringTarget(def: { name: string; fallback?: string; matmulScratchBytes?: (mm: MatmulShape) => number }): void {
  if (backends.has(def.name)) throw new OpDefError(`a back end named "${def.name}" is already defined`, { op: 'lowering' });
  backends.set(def.name, { name: def.name, lowerings: new Map(), fallback: def.fallback, matmulScratchBytes: def.matmulScratchBytes ?? (() => 0) });
}

function entry(backend: string): BackendEntry {
  const e = backends.get(backend);
  if (!e) throw new GraphError(`no back end named "${backend}" is defined (known: ${[...backends.keys()].join(', ') || 'none'})`, { op: 'lowering' });
  return e;
}

/**
 * Registers how `backend` runs `op`. The op must be registered first; a second lowering for the
 * same pair needs `replace: true`.
 * @example registerLowering('js', 'tanh', { kernel: 'ew', epilogue: true, impl: { emit: ([x]) => ew.unary('tanh', x) } });
 */
export function registerLowering(backend: string, op: string, lowering: Lowering, opts: { replace?: boolean } = {}): void {
  const e = entry(backend);
  if (!hasOp(op)) throw new OpDefError(`cannot lower "${op}" on ${backend}: no op of that name is registered`, { op });
  if (e.lowerings.has(op) && !opts.replace) throw new OpDefError(`"${op}" already has a lowering on ${backend}`, { op });
  e.lowerings.set(op, Object.freeze({ ...lowering }));
}

/** The lowering `backend` registered for `op` itself (not inherited), if any. */
export function ownLowering(backend: string, op: string): Lowering | undefined {
  return entry(backend).lowerings.get(op);
}

/** The ops `backend` registered lowerings for (not inherited), in registration order. */
export function loweredOps(backend: string): string[] {
  return [...entry(backend).lowerings.keys()];
}

/** Every back end defined for lowering. */
export function loweringTargets(): string[] {
  return [...backends.keys()];
}

/**
 * The capabilities of `backend`: its lowerings, then its fallback's, and its matmul scratch rule.
 * Per node, a lowering that does not accept it (a dtype it has no code for) passes the node on to
 * the fallback's lowering of the op.
 * @example planFusion(program, types, capabilities('js'))
 */
export function capabilities(backend: string): BackendCapabilities {
  const e = entry(backend);
  if (e.caps) return e.caps;
  const chain: BackendEntry[] = [];
  for (let b: BackendEntry | undefined = e; b; b = b.fallback ? entry(b.fallback) : undefined) {
    if (chain.includes(b)) throw new GraphError(`back end fallbacks form a cycle through "${b.name}"`, { op: 'lowering' });
    chain.push(b);
  }
  e.caps = Object.freeze({
    name: e.name,
    lowering: (op: string) => {
      for (const b of chain) {
        const l = b.lowerings.get(op);
        if (l) return l;
      }
      return undefined;
    },
    loweringFor: (node: Node, types: TypeOf) => {
      for (const b of chain) {
        const l = b.lowerings.get(node.op);
        if (l && (!l.accepts || l.accepts(node, types))) return l;
      }
      return undefined;
    },
    matmulScratchBytes: e.matmulScratchBytes,
  });
  return e.caps;
}

/**
 * A back end that lowers nothing: every node runs its reference kernel (the interpreter's plan).
 */
export const NO_LOWERINGS: BackendCapabilities = Object.freeze({ name: 'interpreter', lowering: () => undefined, loweringFor: () => undefined, matmulScratchBytes: () => 0 });
