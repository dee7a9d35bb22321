/// <reference path="./webassembly.d.ts" />
/**
 * The WebAssembly back end's executor: the JS back end's machinery (`CompiledExecutor`,
 * `Specialization`: feeds, specializations per feed-shape signature, outputs, updates, nanGuard)
 * with the arena in the WebAssembly memory and the kernels the wasm emitters cover run as one
 * emitted module per specialization (`buildProgram`).
 *
 * - **Memory.** Each specialization's arena is a block of the process-wide heap (`heap()`), with
 *   room after it for copies of the feeds the wasm kernels read. Params the program touches
 *   (every dtype but float64) are moved into heap blocks of their own when the first specialization
 *   is made, with `g.moveStorage`: the graph's storage tensor is then a view of the block, so every
 *   executable of the graph (js, interpreter, checkpoints, snapshots) reads and writes the same
 *   memory, and the wasm kernels read and update params in place. A run copies in only the feeds
 *   and copies out only the outputs.
 * - **Kernels.** A kernel runs as wasm when the wasm lowering of every member accepts it (float32
 *   matmuls with a relu or vector-math epilogue, float32 row kernels, fused loops over float32,
 *   int32 and bool whose every op has a vector form). Everything else — float64, ops without a
 *   wasm form (erf, atan2, …), random fills, staged copies — runs as the JS back end's kernel, and
 *   ops without any lowering as their reference kernel, on the main thread over views of the same
 *   memory, between the wasm segments. `explain()` says which ran how, and why.
 * - **Threads.** `compile(g, { threads })`, else `GRADGRAPH_THREADS`, else the cores; kernels too
 *   small to share run on the calling thread. Results are bit-identical for any thread count.
 * - **Freeing.** Arenas and programs are freed when a specialization is evicted or the executable
 *   is garbage-collected (FinalizationRegistry); a param's block when its storage tensor is.
 * - A plain (not shared) memory detaches its buffer when it grows: the moved storages are
 *   re-pointed at once, and each specialization re-binds its views before its next run.
 */
import { bytesPer, type DType, type TypedArray } from '../../dtype';
import { GraphError } from '../../errors';
import type { Graph } from '../../graph';
import type { Node, Program, TypeInfo } from '../../ir';
import type { FusionPlan } from '../../compiler/fuse';
import type { LoweredKernel } from '../../compiler/lower';
import { formatKernels, formatMemory } from '../../compiler/lower';
import { fmtBytes } from '../../compiler/memory';
import { capabilities, ownLowering } from '../../lowering';
import { dataInputIndices, getOp, hasOp } from '../../registry';
import { sizeOf, type Shape } from '../../shape';
import type { Tensor } from '../../tensor';
import { CompiledExecutor, elementwiseSpec, makeKernel, makeRunner, matmulShapeOf, Specialization, type ArenaViews, type JsBackendOptions, type KernelContext, type NanGuard, type Places, type Runner, type Validate } from '../js/executor';
import { heap, type Heap } from './memory';
import { buildProgram, scratchGrowthBound, type CompiledProgram, type ProgramStep } from './program';
import { threadCount } from './threads';
import { WASM_MATMUL_ACTIVATIONS } from './lowerings';

export interface WasmBackendOptions extends JsBackendOptions {
  /** At most this many threads (default: `GRADGRAPH_THREADS`, else the cores). */
  readonly threads?: number;
}

// ---- params in the heap ----------------------------------------------------------------------

/** A param storage moved into a heap block. */
interface Adopted {
  readonly graph: WeakRef<Graph>;
  readonly name: string;
  readonly dtype: DType;
  readonly length: number;
  /** The view the storage was given (if the storage's data is another array, it moved away since). */
  data: TypedArray;
}

/** Storage tensor → its heap block; block → what it holds. */
const blockOf = new WeakMap<Tensor, number>();
const adopted = new Map<number, Adopted>();
let storageRegistry: FinalizationRegistry<number> | undefined;

function heapView(h: Heap, ptr: number, dtype: DType, length: number): TypedArray {
  if (dtype === 'float32') return h.view(ptr, 'float32', length);
  if (dtype === 'int32') return h.view(ptr, 'int32', length);
  if (dtype === 'bool') return h.view(ptr, 'uint8', length);
  throw new GraphError(`a ${dtype} param stays in JavaScript memory`, { op: 'backend.wasm' });
}

/** The heap, with the param storages re-pointed whenever a plain memory grows. */
function wasmHeap(): Heap {
  const h = heap();
  if (!storageRegistry) {
    storageRegistry = new FinalizationRegistry((ptr) => {
      adopted.delete(ptr);
      h.free(ptr);
    });
    h.onGrowth(() => {
      for (const [ptr, a] of adopted) {
        const g = a.graph.deref();
        if (!g) continue;
        const st = g.storage(a.name);
        if (st.data !== a.data) continue; // moved elsewhere since
        a.data = heapView(h, ptr, a.dtype, a.length);
        g.moveStorage(a.name, a.data); // the old array is detached: nothing is copied
      }
    });
  }
  return h;
}

/** A param's values waiting to be copied into the heap block its storage now is (see `adoptParam`). */
interface PendingCopy {
  readonly graph: Graph;
  readonly name: string;
  readonly values: TypedArray;
}

/**
 * Moves the storage of param `name` into a heap block (its own, kept until the storage tensor is
 * collected), unless it is there already. float64 params stay where they are. With `defer`, the
 * values are not copied now but listed there, for the caller to copy (`flushCopies`) before
 * anything reads them — after the program module is emitted, by when the pool has faulted in
 * the block's pages, so the copy doesn't take the page faults itself.
 */
function adoptParam(graph: Graph, name: string, defer?: PendingCopy[]): void {
  const h = wasmHeap();
  const st = graph.storage(name);
  if (st.dtype === 'float64') return;
  let ptr = blockOf.get(st);
  if (ptr !== undefined && adopted.get(ptr)?.data === st.data) return;
  let zero = false;
  if (ptr === undefined) {
    ({ ptr, zero } = h.allocZeroed(st.size * bytesPer(st.dtype)));
    blockOf.set(st, ptr);
    storageRegistry!.register(st, ptr);
  }
  const data = heapView(h, ptr, st.dtype, st.size);
  // a fresh block holds zeros already: zero state (Adam's moments) is not copied, and its pages
  // are first written by the kernel that updates it (by then the pool has faulted most of them in)
  const copy = !(zero && allZero(st.data));
  if (copy && defer) defer.push({ graph, name, values: st.data });
  graph.moveStorage(name, data, { copy: copy && !defer });
  adopted.set(ptr, { graph: new WeakRef(graph), name, dtype: st.dtype, length: st.size, data });
}

/** Copies deferred param values into their storages (wherever they are now: a plain memory's growth re-points them). */
function flushCopies(pending: PendingCopy[]): void {
  for (const { graph, name, values } of pending.splice(0)) graph.storage(name).data.set(values);
}

/**
 * Makes room in the heap for the params of `program` that are not there yet (`compile()` calls
 * this before its passes): if the heap grows, the thread pool faults the new pages in on its idle
 * threads while the compiler and the specialization run. A first write to a fresh page costs a
 * page fault — 15–30 µs a page on the 2-core virtual machine of the benchmarks, so moving the
 * mlp-train step's 6.4 MB of params and Adam state took ~25–40 ms of its first run.
 */
export function reserveParams(graph: Graph, program: Program): void {
  let bytes = 0;
  for (const node of Object.values(program.nodes)) {
    if (node.op !== 'param') continue;
    const st = graph.storage(String(node.attrs.name));
    if (st.dtype !== 'float64' && blockOf.get(st) === undefined) bytes += Math.ceil((st.size * bytesPer(st.dtype)) / 16) * 16;
  }
  if (!bytes) return;
  // the pool's threads do the faulting: make sure the pool exists (it starts its workers then)
  threadCount();
  // and the room the shared scratch region may move to when this program is built (its first run)
  wasmHeap().reserve(bytes + scratchGrowthBound());
}

/** Whether every element of `a` has all bits zero (so not −0). */
function allZero(a: TypedArray): boolean {
  const bits = a instanceof Float32Array ? new Int32Array(a.buffer, a.byteOffset, a.length) : a;
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) return false;
  return true;
}

/** The byte address in the heap of a storage moved there. */
function storageAddress(graph: Graph, name: string): number {
  const st = graph.storage(name);
  const ptr = blockOf.get(st);
  if (ptr === undefined || adopted.get(ptr)?.data !== st.data) throw new GraphError(`param "${name}" is not in the wasm memory (a bug in the wasm executor)`, { op: 'backend.wasm' });
  return ptr;
}

// ---- which kernels run as wasm ----------------------------------------------------------------

/** How a kernel runs: as wasm, as the JS back end's kernel, or as a reference kernel — and why. */
export type KernelPlacement = { readonly as: 'wasm' } | { readonly as: 'js' | 'reference'; readonly why: string };

/** Why a node has no wasm kernel: its dtypes or its op. */
function whyNotWasm(node: Node, types: (id: number) => TypeInfo): string {
  const ins = hasOp(node.op) ? dataInputIndices(getOp(node.op), node.inputs.length).map((i) => types(node.inputs[i]).dtype) : [];
  if ([types(node.id).dtype, ...ins].includes('float64')) return 'float64';
  if (!ownLowering('wasm', node.op)) return `no wasm kernel for ${node.op}`;
  return `no wasm kernel for ${node.op} on ${[...new Set(ins.length ? ins : [types(node.id).dtype])].join(', ')}`;
}

/**
 * Where each kernel of a plan runs on the wasm back end: by the lowering the fusion planner found
 * for each member (`plan.lowerings`), wasm when it is the wasm back end's own.
 * @example placeKernels(exe.program, exe.lowered!.kernels, exe.lowered!.fusion).map((p) => p.as) // ['wasm', 'wasm', 'js', ...]
 */
export function placeKernels(program: Program, kernels: readonly LoweredKernel[], plan: Pick<FusionPlan, 'classes' | 'lowerings' | 'types'>): KernelPlacement[] {
  const { classes, types } = plan;
  /** Whether the wasm lowering of `node` is the one that runs it (not the fallback's). */
  const wasmRuns = (node: Node): boolean => {
    const own = ownLowering('wasm', node.op);
    return !!own && plan.lowerings.get(node.id) === own;
  };
  return kernels.map((k): KernelPlacement => {
    switch (k.kind) {
      case 'elementwise': {
        for (const m of k.nodes) {
          if (classes.get(m) === 'view') continue;
          const node = program.nodes[m];
          if (!wasmRuns(node)) return { as: 'js', why: whyNotWasm(node, types) };
        }
        return { as: 'wasm' };
      }
      case 'matmul': {
        const mm = k.matmul!;
        const node = program.nodes[mm.node];
        if (!wasmRuns(node)) return { as: 'js', why: whyNotWasm(node, types) };
        const act = mm.activation?.op;
        if (act && !WASM_MATMUL_ACTIVATIONS.includes(act)) return { as: 'js', why: `no wasm epilogue for ${act}` };
        return { as: 'wasm' };
      }
      case 'row': {
        const node = program.nodes[k.nodes[0]];
        return wasmRuns(node) ? { as: 'wasm' } : { as: 'js', why: whyNotWasm(node, types) };
      }
      case 'custom':
        // conv, pooling, transpose: the JS back end's kernels (im2col + its matmul), over the heap
        return { as: 'js', why: `no wasm kernel for ${program.nodes[k.nodes[0]].op}` };
      case 'random':
        return { as: 'js', why: 'random fill' };
      case 'copy':
        return { as: 'js', why: 'staged copy of an update' };
      case 'reference': {
        const op = program.nodes[k.nodes[0]].op;
        return { as: 'reference', why: hasOp(op) && capabilities('wasm').lowering(op) ? `${op} not lowered for these dtypes or axes` : `no lowering for ${op}` };
      }
    }
  });
}

// ---- the specialization -----------------------------------------------------------------------

/** What a wasm executable holds outside the JS heap, freed when it is collected. */
type Held = Set<WasmSpecialization>;

const executables = new FinalizationRegistry<Held>((held) => {
  for (const s of held) s.dispose();
});

/** The arena, the feed copies and the emitted program of one specialization. */
class WasmSpecialization extends Specialization {
  /** How each kernel runs. */
  readonly placement: KernelPlacement[];
  private readonly h = wasmHeap();
  /** The heap block: the arena, then the feed copies. */
  private block = 0;
  private arenaBytes = 0;
  /** Byte address of each feed's copy (−1: no wasm kernel reads it). */
  private readonly feedAt: number[];
  private feedBytes = 0;
  private prog: CompiledProgram | undefined;
  private progKey = '';
  /** The JS steps' runners (re-made at every bind; the program calls them through this array). */
  private jsSteps: Runner[] = [];
  /** The run in progress: what the JS steps are called with. */
  private readonly io: { F: TypedArray[]; T: Tensor[]; c: number } = { F: [], T: [], c: 0 };
  private boundBuffer: unknown;
  /** Params moved into the heap whose values are still to be copied there (by the end of `init`/`makeRunner`). */
  private readonly pendingCopies: PendingCopy[] = [];

  constructor(
    exec: WasmExecutor,
    private readonly held: Held,
    private readonly maxThreads: number,
    typesById: TypeInfo[] | null,
    dims: Int32Array,
    signature: string,
  ) {
    super(exec, typesById, dims, signature);
    const { program, lowered } = this;
    this.placement = placeKernels(program, lowered.kernels, lowered.fusion);
    // feeds that wasm kernels read get a copy in the heap
    this.feedAt = lowered.memory.inputs.map(() => -1);
    lowered.kernels.forEach((k, i) => {
      if (this.placement[i].as !== 'wasm') return;
      for (const x of k.reads) {
        const loc = lowered.memory.locations.get(lowered.fusion.aliasOf.get(x) ?? x);
        if (loc?.kind === 'feed' && this.feedAt[loc.input] < 0) this.feedAt[loc.input] = 0;
      }
    });
    held.add(this);
  }

  protected override arena(bytes: number): ArenaViews {
    // params first: a moved storage is what the program's addresses point at
    this.adoptParams();
    let at = bytes;
    this.feedAt.forEach((f, k) => {
      if (f < 0) return;
      const t = this.types(this.lowered.memory.inputs[k]);
      this.feedAt[k] = at;
      at += Math.ceil((sizeOf(t.shape as Shape) * bytesPer(t.dtype)) / 16) * 16;
    });
    this.arenaBytes = bytes;
    this.feedBytes = at - bytes;
    this.block = this.h.alloc(Math.max(16, at));
    for (let k = 0; k < this.feedAt.length; k++) if (this.feedAt[k] >= 0) this.feedAt[k] += this.block;
    return this.heapViews();
  }

  private heapViews(): ArenaViews {
    const { h, block, arenaBytes: n } = this;
    this.boundBuffer = h.memory.buffer;
    return { float32: h.view(block, 'float32', n >> 2), float64: h.view(block, 'float64', n >> 3), int32: h.view(block, 'int32', n >> 2), bool: h.view(block, 'uint8', n) };
  }

  private adoptParams(): void {
    for (const id of this.lowered.fusion.order) {
      const node = this.program.nodes[id];
      if (node.op === 'param') adoptParam(this.graph, String(node.attrs.name), this.pendingCopies);
    }
  }

  override init(): this {
    // (the copies are made by makeRunner once the program is emitted; this is for a throw before it)
    try {
      return super.init();
    } finally {
      flushCopies(this.pendingCopies);
    }
  }

  /**
   * Bound views are stale when a param moved, or when a plain memory grew (growth detached its
   * buffer). A shared memory's views outlive growth — the old SharedArrayBuffer still covers
   * every byte they view — so its growth (a program built in this very bind can grow it, as the
   * first run of a new structure's does) needs no second bind.
   */
  protected override stale(): boolean {
    return super.stale() || (!this.h.shared && this.h.memory.buffer !== this.boundBuffer);
  }

  protected override bind(): void {
    if (this.block === 0) throw new GraphError('this specialization was freed', { op: 'backend.wasm' });
    this.adoptParams();
    if (this.h.memory.buffer !== this.boundBuffer) this.views = this.heapViews();
    super.bind();
  }

  /** The byte address in the heap of a node's value. */
  private address(places: Places, id: number): number {
    const loc = places.locOf(id);
    if (loc.kind === 'feed') {
      const at = this.feedAt[loc.input];
      if (at < 0) throw new GraphError(`feed ${loc.input} has no copy in the wasm memory (a bug in the wasm executor)`, { op: 'backend.wasm' });
      return at;
    }
    if (loc.kind === 'param') return storageAddress(this.graph, String(this.program.nodes[loc.node].attrs.name));
    return this.block + this.lowered.memory.buffers[loc.buffer].offset;
  }

  /** The wasm step of kernel `k` (placed as wasm). */
  private wasmStep(k: LoweredKernel, places: Places): ProgramStep {
    const { program, types } = this;
    const at = (id: number) => this.address(places, id);
    switch (k.kind) {
      case 'elementwise': {
        const { spec, slots } = elementwiseSpec(program, k, this.lowered.fusion, (id) => places.baseOf(id), this.exact);
        return { kind: 'elementwise', spec, inputs: slots.map(at), outputs: k.outputs.map(at), reduced: k.reduce ? at(k.reduce.node) : undefined };
      }
      case 'matmul': {
        const mm = k.matmul!;
        const [a, b] = program.nodes[mm.node].inputs;
        const spec = matmulShapeOf(program, k, types);
        return { kind: 'matmul', spec, a: at(a), b: at(b), c: at(k.outputs[0]), bias: mm.bias !== undefined ? at(mm.bias) : undefined };
      }
      case 'row': {
        const node = program.nodes[k.nodes[0]];
        const x = types(node.inputs[0]).shape as Shape;
        const op = node.op as 'softmax' | 'logSoftmax' | 'logsumexp' | 'softmaxCrossEntropy';
        return { kind: 'row', spec: { op, rows: sizeOf(x.slice(0, -1)), cols: x[x.length - 1] }, x: at(node.inputs[0]), out: at(node.id), t: op === 'softmaxCrossEntropy' ? at(node.inputs[1]) : undefined };
      }
      default:
        throw new GraphError(`a ${k.kind} kernel has no wasm form (a bug in the wasm executor)`, { op: 'backend.wasm' });
    }
  }

  /**
   * The program: wasm steps for the kernels placed as wasm, and between them JS steps — each a run
   * of the other kernels, the JS back end's callables over the same memory, in one generated
   * function. Emitted again only when an address changed. A program with no wasm kernel at all
   * (float64) is just the JS back end's runner.
   */
  protected override makeRunner(places: Places, ctx: KernelContext, guard: NanGuard | undefined): Runner {
    // the params moved into the heap get their values once the module is emitted (or if it fails)
    try {
      return this.makeWasmRunner(places, ctx, guard);
    } finally {
      flushCopies(this.pendingCopies);
    }
  }

  private makeWasmRunner(places: Places, ctx: KernelContext, guard: NanGuard | undefined): Runner {
    if (!this.placement.some((p) => p.as === 'wasm')) {
      this.prog?.dispose();
      this.prog = undefined;
      return super.makeRunner(places, ctx, guard);
    }
    const { io, h } = this;
    const steps: ProgramStep[] = [];
    const jsSteps: Runner[] = [];
    const keys: string[] = [];
    const shared = h.shared;
    const bound = this.boundBuffer;
    // the pending JS step: lines of one generated function, its callables and the kernels it runs
    let lines: string[] = [];
    let fns: unknown[] = [];
    let names: string[] = [];
    const flush = () => {
      if (!lines.length) return;
      const j = jsSteps.length;
      jsSteps.push(makeRunner(lines, fns, places.views, places.params, guard));
      const name = names.length ? names.join(', ') : 'nanGuard checks';
      steps.push({
        kind: 'js',
        name,
        run: () => {
          this.jsSteps[j](io.F, io.T, io.c);
          // a plain memory that grew under a JS kernel (one that compiled another program) detached this run's views
          if (!shared && h.memory.buffer !== bound) throw new GraphError(`the wasm memory grew while ${name} ran (did a kernel compile or run another wasm program?): its views are gone, so the run stops before any param is written`, { op: 'run' });
        },
      });
      keys.push(`js ${name}`);
      lines = [];
      fns = [];
      names = [];
    };
    this.lowered.kernels.forEach((k, i) => {
      if (guard) lines.push(`G.before(${i}, T);`);
      const p = this.placement[i];
      if (p.as === 'wasm') {
        flush();
        const s = this.wasmStep(k, places);
        steps.push(s);
        keys.push(JSON.stringify(s, (key, v) => (key === 'spec' && s.kind === 'elementwise' ? undefined : v)));
      } else {
        const c = makeKernel(k, i, places, ctx);
        lines.push(`K${fns.length}(${c.args.join(', ')});`);
        fns.push(c.fn);
        names.push(`${k.name} (${p.as === 'js' ? 'JS kernel' : 'reference kernel'}: ${p.why})`);
      }
      if (guard) lines.push(`G.after(${i}, T, c);`);
    });
    flush();
    this.jsSteps = jsSteps;
    const key = keys.join('\n');
    if (!this.prog || key !== this.progKey) {
      this.prog?.dispose();
      this.prog = buildProgram(steps);
      this.progKey = key;
    }
    const prog = this.prog;
    const threads = Math.max(1, Math.min(this.maxThreads, prog.threads));
    const copies: [number, TypedArray][] = [];
    this.feedAt.forEach((at, k) => {
      if (at < 0) return;
      const t = this.types(this.lowered.memory.inputs[k]);
      copies.push([k, heapView(h, at, t.dtype, sizeOf(t.shape as Shape))]);
    });
    return (F, T, c) => {
      for (let i = 0; i < copies.length; i++) copies[i][1].set(F[copies[i][0]]);
      io.F = F;
      io.T = T;
      io.c = c;
      if (guard) guard.start();
      prog.run(threads);
      if (guard) guard.end(T);
    };
  }

  /** Threads the program runs on. */
  get threads(): number {
    return this.prog ? Math.max(1, Math.min(this.maxThreads, this.prog.threads)) : 1;
  }

  override describe(): string[] {
    const prog = this.prog;
    const kernels = formatKernels(this.lowered).map((line, i) => {
      const p = this.placement[i];
      return `${line}  [${p.as === 'wasm' ? 'wasm' : p.as === 'js' ? `JS kernel: ${p.why}` : `reference kernel: ${p.why}`}]`;
    });
    const counts = { wasm: 0, js: 0, reference: 0 };
    for (const p of this.placement) counts[p.as]++;
    return [
      `kernels (in execution order, for ${this.signature || 'the static shapes'}): ${counts.wasm} wasm, ${counts.js} JS, ${counts.reference} reference`,
      ...kernels,
      ...(prog
        ? [
            `wasm program: ${this.threads} thread${this.threads === 1 ? '' : 's'}, ${prog.segments} segment${prog.segments === 1 ? '' : 's'} (pool dispatches) and ${prog.barriers} barrier${prog.barriers === 1 ? '' : 's'} per run; feeds copied in: ${this.feedBytes ? fmtBytes(this.feedBytes) : 'none'}`,
            ...prog.describe().map((l) => `  ${l}`),
          ]
        : ['wasm program: none (no kernel runs as wasm)']),
      `memory: ${formatMemory(this.lowered).join('; ')}; in the WebAssembly memory${this.h.shared ? ' (shared)' : ' (not shared: one thread)'}`,
    ];
  }

  override dispose(): void {
    this.held.delete(this);
    this.prog?.dispose();
    this.prog = undefined;
    if (this.block) this.h.free(this.block);
    this.block = 0;
  }
}

/**
 * The compiled program on the wasm back end.
 * @example
 * const wasm = new WasmExecutor(g, program, (f) => validateFeeds(g, program, f as Feeds), {});
 * const [loss] = wasm.run({ x, y });
 */
export class WasmExecutor extends CompiledExecutor {
  readonly loweringTarget = 'wasm';
  private readonly held: Held = new Set();
  private readonly maxThreads: number;

  constructor(graph: Graph, program: Program, validate: Validate, opts: WasmBackendOptions = {}) {
    super(graph, program, validate, opts);
    const pool = threadCount();
    if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) throw new GraphError(`threads must be a positive integer, got ${String(opts.threads)}`, { op: 'compile' });
    this.maxThreads = Math.min(pool, opts.threads ?? pool);
    executables.register(this, this.held);
  }

  protected get label(): string {
    return `wasm (WebAssembly SIMD, up to ${this.maxThreads} thread${this.maxThreads === 1 ? '' : 's'}; float64 and ops without wasm kernels on the JS back end's kernels)`;
  }

  protected newSpecialization(types: TypeInfo[] | null, dims: Int32Array, signature: string): Specialization {
    return new WasmSpecialization(this, this.held, this.maxThreads, types, dims, signature).init();
  }
}

/** Whether this platform validates WebAssembly SIMD (a function returning a v128 constant). */
export function wasmSimdAvailable(): boolean {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return false;
  // (module (func (result v128) v128.const i32x4 0 0 0 0))
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new Array(16).fill(0), 11]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}
