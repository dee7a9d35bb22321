/**
 * `compile(g, { inputs, outputs, updates })` turns part of a graph into an executable. Updates
 * are `[param, newValue]` pairs applied atomically after the outputs are computed: every new
 * value is computed before any is written, and written in place into the graph's storage, so
 * every executable compiled from the graph sees it as soon as `run()` returns.
 */
import type { DType } from './dtype';
import { FeedError, GraphError, UpdateError, checkOptionNames } from './errors';
import { Graph, Sym } from './graph';
import { fmtType, makeProgram, topoOrder, type Node, type Program } from './ir';
import { cachedTopoOrder, interpret } from './interpreter';
import { formatExplain, type ExplainOptions } from './compiler/explain';
import type { LoweredProgram } from './compiler/lower';
import type { PassRecord, PassSpec } from './compiler/pass';
import { runPipeline } from './compiler/pass';
import { defaultPasses } from './compiler/pipeline';
import { findBackend, listBackends, registerBackend, type ProgramRunner } from './backends';
import './backend/js/backend';
import './backend/wasm/backend';
import { captureOrigin } from './origin';
import { fmtShape, shapeEq } from './shape';
import { Tensor, type Nested } from './tensor';
import { verifyProgram } from './verify';
import { getOp, hasOp } from './registry';

export type Feeds = Readonly<Record<string, Tensor | Nested>>;

/**
 * What runs a compiled program: `'wasm'` emits WebAssembly SIMD kernels specialized to shapes and
 * runs them on every core over one shared memory that also holds the params (float32, int32 and
 * bool; float64 and ops without wasm kernels run as the JS back end's kernels over that memory);
 * `'js'` generates JavaScript kernels over one preallocated arena (fused, specialized to shapes at
 * the first run); `'interpreter'` runs node by node with the ops' reference kernels (the oracle
 * every test compares against). Back ends are plug-ins (`registerBackend`); these are the
 * built-in ones.
 */
export type Backend = 'wasm' | 'js' | 'interpreter';

/** The reference interpreter as a back end: every node by its op's reference kernel. */
class InterpreterRunner implements ProgramRunner {
  readonly specializations = 0;
  readonly lowered = undefined;
  constructor(
    private readonly graph: Graph,
    private readonly program: Program,
    private readonly nanGuard: boolean,
  ) {}

  run(feeds: unknown): Tensor[] {
    const fed = validateFeeds(this.graph, this.program, feeds as Feeds);
    const values = interpret(this.program, { graph: this.graph, feeds: fed, rngCounter: this.graph.rngCounter, nanGuard: this.nanGuard });
    const sources = new Set(Object.values(this.program.nodes).filter((n) => n.inputs.length === 0).map((n) => n.id));
    const outputs = this.program.outputs.map((id) => (sources.has(id) ? values.get(id)!.clone() : values.get(id)!));
    this.applyUpdates(this.program.updates.map(([p, v]) => [p, values.get(v)!] as const));
    return outputs;
  }

  /** Writes new param values in place, after checking all of them (copies first: a swap works). */
  private applyUpdates(updates: readonly (readonly [number, Tensor])[]): void {
    const staged = updates.map(([p, t]) => {
      const node = this.program.nodes[p];
      const st = this.graph.storage(node.attrs.name as string);
      if (!shapeEq(st.shape, t.shape) || st.dtype !== t.dtype) {
        throw new UpdateError(`new value for "${String(node.attrs.name)}" is ${fmtType(t)}, the param is ${fmtType(st)}`, { op: 'run', shapes: [t.shape, st.shape], origin: node.origin });
      }
      return [st, t.data.slice()] as const;
    });
    for (const [st, data] of staged) st.data.set(data);
  }

  explain(): string {
    return 'backend: interpreter (reference kernels, node by node)';
  }
}

registerBackendOnce('interpreter', {
  name: 'interpreter',
  doc: 'the reference interpreter: node by node with the reference kernels',
  available: () => true,
  create: (graph, program, _validate, opts) => new InterpreterRunner(graph, program, opts.nanGuard),
});

function registerBackendOnce(name: string, def: Parameters<typeof registerBackend>[0]): void {
  if (!findBackend(name)) registerBackend(def);
}

/**
 * Every backend `compile` accepts here, the default first (tests run each case on all of them).
 * @example describe.each(BACKENDS)('on the %s backend', (backend) => { ... compile(g, { outputs, backend }) ... });
 */
export const BACKENDS: readonly Backend[] = Object.freeze(
  listBackends()
    .filter((b) => b.available())
    .map((b) => b.name as Backend)
    .sort((a, b) => preference(a) - preference(b)),
);

/** `GRADGRAPH_BACKEND` first (when set: one of the available back ends), then the built-in back ends fastest first (wasm where WebAssembly SIMD is, else js); others after them. */
function preference(name: string): number {
  if (name === envBackend()) return -1;
  const i = ['wasm', 'js', 'interpreter'].indexOf(name);
  return i < 0 ? 3 : i;
}

/** The back end named by `GRADGRAPH_BACKEND`, if set (checked against the registered, available ones). */
function envBackend(): string | undefined {
  const env = typeof process !== 'undefined' ? process.env?.GRADGRAPH_BACKEND : undefined;
  if (env === undefined || env === '') return undefined;
  const names = listBackends().filter((b) => b.available()).map((b) => b.name);
  if (!names.includes(env)) throw new GraphError(`GRADGRAPH_BACKEND must name an available back end (${names.join(', ')}), got "${env}"`, { op: 'compile' });
  return env;
}

/**
 * The back end `compile` uses when none is named: `GRADGRAPH_BACKEND` when set, else 'wasm' where
 * WebAssembly SIMD validates, else 'js'.
 */
export const DEFAULT_BACKEND: Backend = BACKENDS[0];

export interface CompileOptions {
  /** The inputs the caller will feed (documentation and a check; feeds go by input name). */
  inputs?: readonly Sym[];
  outputs: readonly Sym[];
  /** `[param, newValue]` pairs, applied atomically after each run. */
  updates?: readonly (readonly [Sym, Sym])[];
  /** Check every intermediate for NaN/Inf and name the first node that produced one. */
  nanGuard?: boolean;
  /**
   * `'wasm'` (the default where WebAssembly SIMD is available): WebAssembly SIMD kernels on every
   * core; `'js'` (the default elsewhere): fused, generated JavaScript over one arena;
   * `'interpreter'`: the reference interpreter.
   */
  backend?: Backend;
  /**
   * On the wasm back end, at most this many threads (default: `GRADGRAPH_THREADS`, else the
   * cores). Results are bit-identical for any count.
   */
  threads?: number;
  /**
   * On the compiled backend, float32 tanh and softplus use float32-accurate forms that share work
   * with σ (tanh from the e^−|x| that σ and softplus use; a short log1p series): within an ulp of
   * the interpreter, not bit for bit. Every other float32 op rounds exactly as the interpreter
   * does. Default true; `false` uses the reference formulas (bit-equal). Float64 always computes
   * the reference formulas.
   */
  fastMath?: boolean;
  /**
   * The optimization pipeline, run in order: passes, names of registered passes, or plain
   * functions `Program → Program`. Default `defaultPasses` (dce → cse → foldConstants →
   * canonicalize → stabilize → specialize); `[]` compiles the graph as written.
   */
  passes?: readonly PassSpec[];
  /** Called after every pass with its record (tests run the IR verifier here). */
  afterPass?: (record: PassRecord) => void;
}

/** The nodes a set of roots needs, collected from the graph. */
function reachable(g: Graph, roots: readonly number[]): Node[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const i of g.node(id).inputs) stack.push(i);
  }
  return [...seen].sort((a, b) => a - b).map((id) => g.node(id));
}

/** Builds the program of a compile request from the graph, checking outputs and updates. */
export function buildProgram(g: Graph, opts: CompileOptions): Program {
  if (!(g instanceof Graph)) throw new GraphError('compile needs a Graph as its first argument', { op: 'compile', origin: captureOrigin() });
  const outputs = opts.outputs;
  if (!Array.isArray(outputs)) throw new GraphError('outputs must be an array of symbols', { op: 'compile', origin: captureOrigin() });
  outputs.forEach((s, i) => {
    if (!(s instanceof Sym) || s.graph !== g) throw new GraphError(`output ${i} is not a symbol of this graph`, { op: 'compile', origin: captureOrigin() });
  });
  for (const s of opts.inputs ?? []) {
    if (!(s instanceof Sym) || s.graph !== g || s.op !== 'input') throw new GraphError(`inputs must be input symbols of this graph; got ${s instanceof Sym ? `%${s.id} (${s.op})` : typeof s}`, { op: 'compile', origin: captureOrigin() });
  }
  const updates = opts.updates ?? [];
  if (!Array.isArray(updates)) throw new UpdateError('updates must be an array of [param, value] pairs', { op: 'compile', origin: captureOrigin() });
  const targets = new Set<number>();
  updates.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new UpdateError(`update ${i} is not a [param, value] pair`, { op: 'compile', origin: captureOrigin() });
    const [p, v] = pair;
    if (!(p instanceof Sym) || p.graph !== g) throw new UpdateError(`update ${i}: the target is not a symbol of this graph`, { op: 'compile', origin: captureOrigin() });
    if (p.op !== 'param') {
      throw new UpdateError(`update ${i}: the target %${p.id} is a ${p.op} node, not a param; only params (and state) can be updated`, { op: 'compile', scope: p.node.scope, origin: captureOrigin() });
    }
    if (!(v instanceof Sym) || v.graph !== g) throw new UpdateError(`update ${i}: the new value for "${p.name}" is not a symbol of this graph`, { op: 'compile', origin: captureOrigin() });
    if (v.dtype !== p.dtype || v.rank !== p.rank || !v.shape.every((d, k) => d === null || d === p.shape[k])) {
      throw new UpdateError(`update ${i}: the new value for "${p.name}" is ${fmtType(v.node.type)}, the param is ${fmtType(p.node.type)}`, { op: 'compile', shapes: [v.shape, p.shape], dtypes: [v.dtype, p.dtype], origin: captureOrigin() });
    }
    if (targets.has(p.id)) throw new UpdateError(`"${p.name}" is updated twice`, { op: 'compile', origin: captureOrigin() });
    targets.add(p.id);
  });
  const roots = [...outputs.map((s) => s.id), ...updates.flatMap(([p, v]) => [p.id, v.id])];
  return makeProgram(reachable(g, roots), outputs.map((s) => s.id), updates.map(([p, v]) => [p.id, v.id] as const));
}

/** Checks the feeds against the program's input nodes; returns tensors by node id. */
export function validateFeeds(g: Graph, program: Program, feeds: Feeds): Map<number, Tensor> {
  if (feeds === null || typeof feeds !== 'object') throw new FeedError('feeds must be an object keyed by input name', { op: 'run' });
  for (const name of Object.keys(feeds)) {
    const s = g.byName(name);
    if (!s || s.op !== 'input') {
      const names = g.inputs().map((x) => x.name).join(', ');
      throw new FeedError(`feed "${name}" names no input of the graph (inputs: ${names || 'none'})`, { op: 'run' });
    }
  }
  const out = new Map<number, Tensor>();
  for (const id of cachedTopoOrder(program)) {
    const node = program.nodes[id];
    if (node.op !== 'input') continue;
    const name = node.attrs.name as string;
    const want = node.type;
    const expected = `${want.dtype}${fmtShape(want.shape)}`;
    // own properties only: an input named toString is not fed Object.prototype.toString
    let v = (Object.prototype.hasOwnProperty.call(feeds, name) ? feeds[name] : undefined) as Tensor | Nested | undefined;
    if (v === undefined) {
      const def = node.attrs.default as Tensor | undefined;
      if (!def) throw new FeedError(`missing feed for input "${name}" (expected ${expected})`, { op: 'run', origin: node.origin });
      v = def;
    }
    if (!(v instanceof Tensor)) {
      try {
        v = Tensor.from(v as Nested, want.dtype);
      } catch (e) {
        throw new FeedError(`feed for input "${name}" is not a tensor or a nested array of numbers (expected ${expected}): ${(e as Error).message}`, { op: 'run', origin: node.origin });
      }
    }
    if (v.dtype !== want.dtype) {
      throw new FeedError(`feed for input "${name}" is ${fmtType(v)}, expected ${expected}: wrong dtype`, { op: 'run', dtypes: [v.dtype, want.dtype], origin: node.origin });
    }
    if (v.shape.length !== want.shape.length || !v.shape.every((d, i) => want.shape[i] === null || want.shape[i] === d)) {
      throw new FeedError(`feed for input "${name}" has shape ${fmtShape(v.shape)}, expected ${expected}`, { op: 'run', shapes: [v.shape, want.shape], origin: node.origin });
    }
    out.set(id, v);
  }
  return out;
}

/** How many runs of each graph's executables are in progress (nested ones from kernels included). */
const runningRuns = new WeakMap<Graph, number>();

/** A compiled program bound to its graph. */
export class Executable {
  readonly graph: Graph;
  /** The program as requested, before any pass. */
  readonly source: Program;
  /** The program that runs. */
  readonly program: Program;
  readonly nanGuard: boolean;
  /** What each compiler pass did: programs before and after, immer patches, rewrites by rule. */
  readonly passes: readonly PassRecord[];
  /** What runs the program: `'wasm'` or `'js'` (compiled), or `'interpreter'`. */
  readonly backend: Backend;
  private readonly hasRandom: boolean;
  private readonly runner: ProgramRunner;
  /** Set while `run` is in progress: a run shares its buffers, so it cannot be re-entered. */
  private running = false;

  constructor(graph: Graph, source: Program, program: Program, opts: { nanGuard?: boolean; passes?: readonly PassRecord[]; backend?: Backend; fastMath?: boolean; threads?: number } = {}) {
    this.graph = graph;
    this.source = source;
    this.program = program;
    this.nanGuard = !!opts.nanGuard;
    this.passes = opts.passes ?? [];
    this.backend = opts.backend ?? DEFAULT_BACKEND;
    const def = findBackend(this.backend);
    if (!def || !def.available()) {
      throw new GraphError(`unknown backend ${JSON.stringify(this.backend)} (known: ${BACKENDS.join(', ')})`, { op: 'compile', origin: captureOrigin() });
    }
    // from the source: a run advances the RNG counter whether or not optimization kept a random node
    // by kind, so a user's random op (defineOp with kind 'random') draws new numbers each run too
    this.hasRandom = Object.values(source.nodes).some((n) => hasOp(n.op) && getOp(n.op).kind === 'random');
    this.runner = def.create(graph, program, (feeds) => validateFeeds(graph, program, feeds as Feeds), { nanGuard: this.nanGuard, fastMath: opts.fastMath, threads: opts.threads });
  }

  /**
   * How many shape specializations the compiled backend has generated (0 for the interpreter):
   * one per distinct set of feed shapes run so far (the last 16 are kept).
   * @example step.run(a); step.run(b); step.specializations // 2 when a and b differ in batch size
   */
  get specializations(): number {
    return this.runner.specializations;
  }

  /**
   * The compiled backend's plan for the last run's shapes: kernels in order, and the memory plan
   * (arena bytes, peak live bytes, bytes saved by reuse, where each value lives). Undefined on the
   * interpreter and before the first run.
   * @example
   * step.run(feeds);
   * const m = step.lowered!.memory;
   * console.log(m.intermediateBytes / m.totalIntermediateBytes); // arena share of the unshared values
   */
  get lowered(): LoweredProgram | undefined {
    return this.runner.lowered;
  }

  /**
   * What `console.log(exe)` shows: the backend, the program's size, inputs, outputs and updates
   * (not the graph; `explain()` tells the whole story).
   * @example console.log(step); // Executable(js: 38 nodes; inputs x float32[?,4], y int32[?] → 1 output, 2 updates)
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const n = Object.keys(this.program.nodes).length;
    const ins = this.inputs.map((i) => `${i.name} ${i.dtype}${fmtShape(i.shape)}`).join(', ') || 'none';
    const outs = this.program.outputs.length;
    const ups = this.program.updates.length;
    return `Executable(${this.backend}: ${n} nodes; inputs ${ins} → ${outs} output${outs === 1 ? '' : 's'}${ups ? `, ${ups} update${ups === 1 ? '' : 's'}` : ''})`;
  }

  /** Names and types of the inputs this executable needs. */
  get inputs(): { name: string; dtype: DType; shape: readonly (number | null)[] }[] {
    return topoOrder(this.program)
      .map((id) => this.program.nodes[id])
      .filter((n) => n.op === 'input')
      .map((n) => ({ name: n.attrs.name as string, dtype: n.type.dtype, shape: n.type.shape }));
  }

  /**
   * Runs once: returns the outputs (computed from the values before this run's updates), then
   * applies the updates atomically. Feeds go by input name; only the inputs needed are required.
   */
  run(feeds: Feeds = {}): Tensor[] {
    // a kernel (a defineOp's, say) that runs this executable, or another one that updates params
    // of the same graph, would corrupt the run in progress: refuse it, by name
    if (this.running) throw new GraphError('run() was called while this executable is already running (from inside one of its kernels?): an executable runs one call at a time; compile a second executable for the inner call', { op: 'run', origin: captureOrigin() });
    const active = runningRuns.get(this.graph) ?? 0;
    if (active > 0 && this.program.updates.length) {
      throw new GraphError(`run() of a program with ${this.program.updates.length} update${this.program.updates.length === 1 ? '' : 's'} was called while another program of the same graph is running (from inside a kernel?): its updates would change params under the running program`, { op: 'run', origin: captureOrigin() });
    }
    this.running = true;
    runningRuns.set(this.graph, active + 1);
    try {
      return this.runOnce(feeds);
    } finally {
      this.running = false;
      runningRuns.set(this.graph, active);
    }
  }

  private runOnce(feeds: Feeds): Tensor[] {
    const out = this.runner.run(feeds);
    if (this.hasRandom) this.graph.rngCounter++;
    return out;
  }

  /**
   * A readable account of the compilation: each pass with its node counts before and after, the
   * rewrites that fired (by rule, count, forward or backward) and the decisions of fuse and
   * planMemory, the FLOP estimate, and the optimized program; on the compiled backend also the
   * kernels (member ops, what they write, FLOPs each), the memory plan (arena bytes, peak live
   * bytes, bytes saved by reuse) and how many shape specializations were compiled.
   * @example
   * console.log(compile(g, { outputs: [loss, ...grads] }).explain({ program: false }));
   */
  explain(opts: ExplainOptions = {}): string {
    checkOptionNames(opts, ['program', 'unknownDim'], (d) => new GraphError(d, { op: 'explain', origin: captureOrigin() }));
    const text = formatExplain(this.source, this.program, this.passes, opts);
    return `${text}\n${this.runner.explain()}`;
  }
}

/** The options `compile` knows; anything else is refused (a typo would otherwise do nothing). */
const COMPILE_OPTIONS = ['inputs', 'outputs', 'updates', 'nanGuard', 'backend', 'threads', 'fastMath', 'passes', 'afterPass'];

/**
 * Compiles the part of `g` that `outputs` and `updates` need, optimizing it with the pass
 * pipeline (`opts.passes`, default `defaultPasses`) before anything runs.
 * @example
 * const step = compile(g, { inputs: [x, y], outputs: [loss], updates: opt.updates(params, grads) });
 * const [l] = step.run({ x: xs, y: ys });
 * const asWritten = compile(g, { outputs: [loss], passes: [] });
 * const oracle = compile(g, { outputs: [loss], backend: 'interpreter' });
 */
export function compile(g: Graph, opts: CompileOptions): Executable {
  if (opts === undefined || opts === null) throw new GraphError('compile needs options { outputs, updates?, ... }', { op: 'compile', origin: captureOrigin() });
  checkOptionNames(opts, COMPILE_OPTIONS, (d) => new GraphError(d, { op: 'compile', origin: captureOrigin() }));
  const backend = opts?.backend ?? DEFAULT_BACKEND;
  if (!BACKENDS.includes(backend)) throw new GraphError(`unknown backend ${JSON.stringify(backend)} (known: ${BACKENDS.join(', ')})`, { op: 'compile', origin: captureOrigin() });
  const source = buildProgram(g, opts);
  findBackend(backend)?.prepare?.(g, source);
  // GRADGRAPH_VERIFY=1 (set for the test suite) re-checks the IR before and after every pass
  const verify = typeof process !== 'undefined' && process.env?.GRADGRAPH_VERIFY === '1';
  if (verify) verifyProgram(source, 'the program as built');
  const afterPass = verify
    ? (r: PassRecord) => {
        verifyProgram(r.after, `the program after pass "${r.name}"`);
        opts.afterPass?.(r);
      }
    : opts.afterPass;
  const { program, passes } = runPipeline(source, opts.passes ?? defaultPasses, { afterPass, backend });
  return new Executable(g, source, program, { nanGuard: opts.nanGuard, passes, backend, fastMath: opts.fastMath, threads: opts.threads });
}
