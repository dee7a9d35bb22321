/**
 * Back ends are plug-ins. Each registers a `BackendDef`: whether it can run on this platform, and
 * how to make the object that runs one compiled program. `compile(g, { backend })` looks it up by
 * name; `BACKENDS` (in compile.ts) lists the available ones, the default first. What a back end
 * can fuse and how it runs each op is registered separately, per op, as lowerings (`lowering.ts`).
 */
import type { LoweredProgram } from './compiler/lower';
import { GraphError } from './errors';
import type { Graph } from './graph';
import type { Program } from './ir';
import type { Tensor } from './tensor';

/** Checks feeds and returns tensors by input node id (`validateFeeds` bound to a program). */
export type Validate = (feeds: unknown) => Map<number, Tensor>;

/** Options every back end gets from `compile`. */
export interface BackendOptions {
  readonly nanGuard: boolean;
  /** Float32 transcendental forms that are within an ulp rather than bit-equal (see compile's `fastMath`). */
  readonly fastMath?: boolean;
  /** At most this many threads, on back ends that have them. */
  readonly threads?: number;
}

/** Runs one compiled program bound to its graph. */
export interface ProgramRunner {
  /** Computes the outputs, then writes the updates (atomically, in place). */
  run(feeds: unknown): Tensor[];
  /** This back end's part of `explain()`. */
  explain(): string;
  /** Shape specializations compiled so far. */
  readonly specializations: number;
  /** The plan of the last run's specialization, if the back end plans. */
  readonly lowered?: LoweredProgram;
}

export interface BackendDef {
  readonly name: string;
  /** One line for docs and error messages. */
  readonly doc: string;
  /** Whether it can run here (WebAssembly SIMD present, say). */
  available(): boolean;
  /**
   * Called by `compile()` with the program as built, before the passes run: a back end may start
   * work its first run will need (the wasm back end makes room for the params in its memory and
   * has their pages faulted in on its idle threads meanwhile).
   */
  prepare?(graph: Graph, program: Program): void;
  /** The runner of `program` on this back end. */
  create(graph: Graph, program: Program, validate: Validate, opts: BackendOptions): ProgramRunner;
}

const registry = new Map<string, BackendDef>();

/**
 * Makes a back end available to `compile(g, { backend: name })`.
 * @example registerBackend({ name: 'js', doc: 'generated JavaScript', available: () => true, create: (g, p, v, o) => new JsExecutor(g, p, v, o) });
 */
export function registerBackend(def: BackendDef): BackendDef {
  if (registry.has(def.name)) throw new GraphError(`a back end named "${def.name}" is already registered`, { op: 'registerBackend' });
  registry.set(def.name, Object.freeze({ ...def }));
  return registry.get(def.name)!;
}

/** The registered back end of that name, or undefined. */
export function findBackend(name: string): BackendDef | undefined {
  return registry.get(name);
}

/** Every registered back end, in registration order (available or not). */
export function listBackends(): BackendDef[] {
  return [...registry.values()];
}
