/// <reference path="./webassembly.d.ts" />
/**
 * The wasm back end's threads: one lazily started, process-wide pool of `worker_threads` sharing
 * the heap's memory, running emitted code SPMD-style — every thread calls the same exported
 * function `f(tid, nthreads, ...args)` and does its static share.
 *
 * API (for the executor and the kernels):
 * - `threadCount()`: threads a run may use — `GRADGRAPH_THREADS`, default
 *   `os.availableParallelism()`; 1 where the memory is not shared or workers are unavailable
 *   (a browser page without cross-origin isolation).
 * - `new WasmModule(module, exportNames)` wraps a compiled module; `m.exports` is its instance on
 *   the main thread (made once). Workers instantiate it the first time they run one of its
 *   functions (the module is posted to them once).
 * - `runParallel(m, name, nthreads, args)` calls `name(tid, nthreads, ...args)` on threads
 *   0..nthreads−1 (0 is the caller) and returns when all are done. With nthreads = 1 it is a
 *   plain call: nobody is woken.
 *
 * Dispatch: the job (module id, function, thread count, arguments) is written into control words
 * of the shared memory, a generation counter is bumped and notified; each worker spins on it for
 * a while (so kernels run back to back don't pay a wake-up) and then sleeps in `Atomics.wait`.
 * Workers count themselves done with `Atomics.add`; the caller spins, then waits, for the count.
 * A worker reads posted modules synchronously with `receiveMessageOnPort` — it never returns to
 * its event loop. Workers are `unref()`'d, so a process that never disposes still exits.
 */
import { GraphError } from '../../errors';
import { ModuleBuilder } from './encoder';
import { heap, type Heap } from './memory';
import { declareMicroImports, microLibraryBytes } from './mmlib';
import { declareMathImports, mathImports } from './vmath';

/** Control words (i32 indices into the memory) of the pool: [POOL_BASE, POOL_BASE + 32). */
const POOL_BASE = 64;
const GEN = POOL_BASE + 0;
const DONE = POOL_BASE + 1;
const MODULE = POOL_BASE + 2;
const FUNC = POOL_BASE + 3;
const NT = POOL_BASE + 4;
const FAILED = POOL_BASE + 5;
const NARGS = POOL_BASE + 6;
/** (open bit 0x8000, fixed-count bit 0x4000, helpers joined in the low byte) */
const JOIN = POOL_BASE + 7;
const ARGS = POOL_BASE + 8;
/** The fresh pages still to touch: [TOUCH_START, TOUCH_END), in 4 KiB pages (after the arguments). */
const TOUCH_START = ARGS + 32;
const TOUCH_END = ARGS + 33;
const OPEN = 0x8000;
const FIXED = 0x4000;
const COUNT = 0xff;
export const MAX_ARGS = 32;
/** OS pages (4 KiB) a worker touches between looks at the job word (≈ 0.05–0.1 ms of page faults: a job with barriers waits 50 µs for helpers). */
const TOUCH_CHUNK = 4;
/** At most this many bytes are touched ahead at a time (the pages used first: the low end). */
const TOUCH_AHEAD_BYTES = 64 << 20;
/** Words the emitted code may use for its own barriers: [BARRIER_BASE, BARRIER_BASE + 64). */
export const BARRIER_BASE = 128;

/** Spin iterations of a worker before it sleeps (about 100 µs), and of the caller waiting for workers. */
const WORKER_SPIN = 20000;
const CALLER_SPIN = 200000;
/** How long a job with barriers waits for helpers to join before it starts with those it has. */
const JOIN_GRACE_MS = 0.05;

// The worker: a CommonJS script run with `eval: true` (no file to resolve, no TypeScript loader).
const WORKER_SOURCE = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { memory, gen0, spin, base, touchChunk, lib: libModule } = workerData;
// the matmul micro-kernel library (micro.ts): one instance, imported by every module
const lib = new WebAssembly.Instance(libModule, { env: { memory } }).exports;
const I = new Int32Array(memory.buffer, 0, 1024);
const GEN = base, DONE = base + 1, MODULE = base + 2, FUNC = base + 3, NT = base + 4, FAILED = base + 5, NARGS = base + 6, JOIN = base + 7, ARGS = base + 8;
const TOUCH_START = ARGS + 32, TOUCH_END = ARGS + 33;
const OPEN = 0x8000, COUNT = 0xff, FIXED = 0x4000;
const modules = new Map();
const args = [];
let M = I;
// Touches the lowest chunk of the fresh pages still to touch; false when there are none. The touch
// is an atomic OR with 0: it faults the page in and never changes a value another thread writes.
function touch() {
  const end = Atomics.load(I, TOUCH_END), start = Atomics.load(I, TOUCH_START);
  if (end <= start) return false;
  const to = Math.min(end, start + touchChunk);
  if (Atomics.compareExchange(I, TOUCH_START, start, to) !== start) return true; // another worker took it
  if (M.length < to * 1024) M = new Int32Array(memory.buffer);
  for (let p = start; p < to; p++) Atomics.or(M, p * 1024, 0);
  return true;
}
let seen = gen0;
for (;;) {
  let g = Atomics.load(I, GEN);
  // between jobs: fault in fresh pages of the memory, a chunk at a time, until a job comes
  while (g === seen && touch()) g = Atomics.load(I, GEN);
  for (let i = 0; g === seen && i < spin; i++) g = Atomics.load(I, GEN);
  while (g === seen) { Atomics.wait(I, GEN, seen); g = Atomics.load(I, GEN); }
  seen = g;
  if (I[NT] < 0) break; // shutdown
  // join while the job is open and short of helpers; the join order is the thread id
  let w = Atomics.load(I, JOIN), tid = 0;
  while ((w & OPEN) && (w & COUNT) < I[NT] - 1) {
    const prev = Atomics.compareExchange(I, JOIN, w, w + 1);
    if (prev === w) { tid = (w & COUNT) + 1; break; }
    w = prev;
  }
  if (tid === 0) continue;
  const nt = I[NT];
  let P = nt;
  if (Atomics.load(I, JOIN) & FIXED) {
    // a job with barriers: start when the caller has closed it, with the final count
    while ((w = Atomics.load(I, JOIN)) & OPEN);
    P = (w & COUNT) + 1;
  }
  try {
    const id = I[MODULE];
    let m = modules.get(id);
    while (m === undefined) {
      const msg = receiveMessageOnPort(parentPort);
      if (msg === undefined) { Atomics.wait(I, FAILED, 0, 1); continue; }
      const { id: mid, module, names, drop } = msg.message;
      if (drop !== undefined) { modules.delete(drop); continue; }
      const ex = new WebAssembly.Instance(module, { env: { memory, sin: Math.sin, cos: Math.cos, pow: Math.pow }, lib }).exports;
      modules.set(mid, names.map((n) => ex[n]));
      m = modules.get(id);
    }
    const n = I[NARGS];
    args.length = 2 + n;
    args[0] = tid; args[1] = P;
    for (let k = 0; k < n; k++) args[2 + k] = I[ARGS + k];
    m[I[FUNC]].apply(null, args);
  } catch (e) {
    Atomics.store(I, FAILED, 1);
    parentPort.postMessage({ error: String(e && e.stack || e) });
  }
  Atomics.add(I, DONE, 1);
  Atomics.notify(I, DONE);
}
`;

let moduleIds = 0;

/**
 * A module builder that imports the heap's memory as `env.memory` (shared or not, as the heap is),
 * the scalar math fallbacks of vmath (`env.sin`, `env.cos`, `env.pow`) and the matmul
 * micro-kernel library (micro.ts, from `lib`); `new WasmModule(mb.compile(), names)` then
 * instantiates it against that memory and that heap's library.
 */
export function kernelModuleBuilder(h: Heap = heap()): ModuleBuilder {
  const mb = new ModuleBuilder();
  mb.importMemory('env', 'memory', { initial: 1, maximum: h.maxPages, shared: h.shared });
  declareMathImports(mb);
  declareMicroImports(mb);
  return mb;
}

interface MicroLibrary {
  readonly module: WebAssembly.Module;
  readonly exports: WebAssembly.Exports;
}
const libraries = new WeakMap<Heap, MicroLibrary>();

/**
 * The micro-kernel library of a heap's memory, compiled and instantiated on the main thread on
 * first use (~80 small functions; V8 compiles each lazily, at its first call). The pool's
 * workers get its module when they start and make their own instance.
 */
export function microLibrary(h: Heap = heap()): MicroLibrary {
  let lib = libraries.get(h);
  if (!lib) {
    const module = new WebAssembly.Module(microLibraryBytes({ shared: h.shared, maxPages: h.maxPages }));
    lib = { module, exports: new WebAssembly.Instance(module, { env: { memory: h.memory } }).exports };
    libraries.set(h, lib);
  }
  return lib;
}

/** A compiled module of emitted kernels, instantiated on the main thread (and lazily on workers). */
export class WasmModule {
  readonly id = ++moduleIds;
  readonly exports: Record<string, (...args: number[]) => void>;
  readonly names: readonly string[];
  private readonly funcIndex = new Map<string, number>();

  constructor(
    readonly module: WebAssembly.Module,
    names: readonly string[],
    readonly heap: Heap = defaultHeap(),
  ) {
    this.names = [...names];
    this.names.forEach((n, i) => this.funcIndex.set(n, i));
    const ex = new WebAssembly.Instance(module, { env: { memory: this.heap.memory, ...mathImports() }, lib: microLibrary(this.heap).exports }).exports;
    for (const n of this.names) if (typeof ex[n] !== 'function') throw new GraphError(`module has no exported function "${n}"`, { op: 'backend.wasm' });
    this.exports = ex as Record<string, (...args: number[]) => void>;
  }

  indexOf(name: string): number {
    const i = this.funcIndex.get(name);
    if (i === undefined) throw new GraphError(`module has no exported function "${name}"`, { op: 'backend.wasm' });
    return i;
  }
}

function defaultHeap(): Heap {
  return heap();
}

/** Threads a run may use (workers + the caller). */
export function threadCount(): number {
  return pool()?.size ?? 1;
}

/** The configured thread count, before checking what the platform allows. */
function configuredThreads(): number {
  const env = typeof process !== 'undefined' ? process.env?.GRADGRAPH_THREADS : undefined;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new GraphError(`GRADGRAPH_THREADS must be a positive integer, got "${env}"`, { op: 'backend.wasm' });
    return Math.min(n, 64);
  }
  return Math.max(1, Math.min(64, availableCores()));
}

let osModule: { availableParallelism?: () => number; cpus: () => unknown[] } | undefined;
let workerThreads: typeof import('node:worker_threads') | undefined;
let nodeLoaded = false;

/** node:os and node:worker_threads when this is Node (`process.getBuiltinModule`, Node ≥ 20.16). */
function loadNode(): void {
  if (nodeLoaded) return;
  nodeLoaded = true;
  try {
    const p = globalThis.process as unknown as { getBuiltinModule?: (n: string) => unknown } | undefined;
    if (typeof p?.getBuiltinModule !== 'function') return;
    osModule = p.getBuiltinModule('node:os') as typeof osModule;
    workerThreads = p.getBuiltinModule('node:worker_threads') as typeof workerThreads;
  } catch {
    osModule = undefined;
    workerThreads = undefined;
  }
}

function availableCores(): number {
  loadNode();
  if (osModule?.availableParallelism) return osModule.availableParallelism();
  if (osModule) return osModule.cpus().length;
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

interface PoolWorker {
  readonly worker: import('node:worker_threads').Worker;
  /** Module ids posted to this worker and not dropped, least recently used first. */
  readonly posted: Set<number>;
}

/** Instances a worker keeps; the least recently used beyond this are dropped (the main thread says which). */
const WORKER_MODULES = 256;

/** The process-wide pool. Workers start on first use; none when `size` is 1. */
class Pool {
  readonly size: number;
  private readonly workers: PoolWorker[] = [];
  private readonly I: Int32Array;
  private errors: string[] = [];
  private running = false;

  constructor(
    readonly heap: Heap,
    size: number,
  ) {
    this.size = size;
    this.I = new Int32Array(heap.memory.buffer, 0, 1024);
    if (size > 1) heap.onFreshPages((from, to) => this.prefault(from, to));
  }

  /**
   * Has the workers touch the fresh pages [from, to) between jobs, from the bottom up — the order
   * the caller allocates and first writes them in (the params it copies in come first, the
   * step's arena last) — so their page faults are taken off the calling thread. Where the caller
   * got ahead, a worker re-touches present pages: no fault.
   * Touching never changes memory, so it may race with anything; a job interrupts it after at
   * most one chunk. Starts the workers if they are not running yet.
   */
  prefault(from: number, to: number): void {
    const I = this.I;
    const s = Math.ceil(from / 4096);
    const e = Math.floor(Math.min(to, from + TOUCH_AHEAD_BYTES) / 4096);
    if (e <= s || this.running) return;
    // pages still pending below stay pending (the range between is touched again: no faults)
    if (Atomics.load(I, TOUCH_END) <= Atomics.load(I, TOUCH_START)) Atomics.store(I, TOUCH_START, s);
    Atomics.store(I, TOUCH_END, e);
    this.start();
    // wake the workers with no job open: they find the pages to touch
    Atomics.add(I, GEN, 1);
    Atomics.notify(I, GEN);
  }

  private start(): void {
    if (this.workers.length || this.size === 1) return;
    const wt = workerThreads!;
    // (after a shutdown the job word still says "stop")
    Atomics.store(this.I, NT, 0);
    const gen0 = Atomics.load(this.I, GEN);
    for (let tid = 1; tid < this.size; tid++) {
      const worker = new wt.Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { memory: this.heap.memory, gen0, spin: WORKER_SPIN, base: POOL_BASE, touchChunk: TOUCH_CHUNK, lib: microLibrary(this.heap).module },
        // a worker needs little JS heap: it only calls wasm
        resourceLimits: { maxOldGenerationSizeMb: 64 },
      });
      worker.unref();
      worker.on('message', (m: { error?: string }) => {
        if (m?.error) this.errors.push(m.error);
      });
      // a 'message' listener refs the port; keep the process free to exit
      (worker as unknown as { unref(): void }).unref();
      worker.on('error', (e) => this.errors.push(String(e)));
      this.workers.push({ worker, posted: new Set() });
    }
  }

  /**
   * Runs `name(tid, nthreads, ...args)` on the caller (tid 0) and the workers that join the job.
   * Joining: workers join in the order they wake (their join order is their tid) while the job
   * is open. A job without barriers stays open until the caller has done its own part, so a
   * worker the OS scheduled late still helps if there is work left, and one that never came is
   * not waited for; its kernels see `nthreads` = the requested count (they only use it to leave
   * threads out). A job with barriers (`fixed`) closes after a short grace period and every
   * joined thread sees the final count, which its barriers wait for.
   */
  run(m: WasmModule, name: string, nthreads: number, args: readonly number[], fixed = false): void {
    const fn = m.exports[name];
    if (!fn) throw new GraphError(`module has no exported function "${name}"`, { op: 'backend.wasm' });
    const nt = Math.max(1, Math.min(nthreads, this.size));
    if (nt === 1) {
      fn(0, 1, ...args);
      return;
    }
    if (args.length > MAX_ARGS) throw new GraphError(`at most ${MAX_ARGS} kernel arguments, got ${args.length}`, { op: 'backend.wasm' });
    if (this.running) throw new GraphError('a wasm kernel was started while another was running (re-entrant run)', { op: 'backend.wasm' });
    if (m.heap !== this.heap) throw new GraphError('the module was made for another memory than the thread pool’s', { op: 'backend.wasm' });
    this.start();
    const I = this.I;
    // any worker may join: every one needs the module
    for (const w of this.workers) {
      if (w.posted.delete(m.id)) w.posted.add(m.id); // most recently used
      else {
        if (w.posted.size >= WORKER_MODULES) {
          const old = w.posted.values().next().value as number;
          w.posted.delete(old);
          w.worker.postMessage({ drop: old });
        }
        w.worker.postMessage({ id: m.id, module: m.module, names: m.names });
        w.posted.add(m.id);
      }
    }
    I[MODULE] = m.id;
    I[FUNC] = m.indexOf(name);
    I[NT] = nt;
    I[NARGS] = args.length;
    for (let k = 0; k < args.length; k++) I[ARGS + k] = args[k];
    Atomics.store(I, DONE, 0);
    Atomics.store(I, FAILED, 0);
    Atomics.store(I, JOIN, OPEN | (fixed ? FIXED : 0));
    Atomics.add(I, GEN, 1);
    Atomics.notify(I, GEN);
    this.running = true;
    let thrown: unknown;
    let joined: number;
    try {
      let P = nt;
      if (fixed) {
        // wait a little for helpers, then close: the count is final
        const t0 = performance.now();
        let w = Atomics.load(I, JOIN);
        for (let i = 0; (w & COUNT) < nt - 1; i++) {
          if ((i & 255) === 255 && performance.now() - t0 > JOIN_GRACE_MS) break;
          w = Atomics.load(I, JOIN);
        }
        joined = this.close();
        P = joined + 1;
      }
      try {
        fn(0, P, ...args);
      } catch (e) {
        thrown = e;
      }
    } finally {
      joined = fixed ? Atomics.load(I, JOIN) & COUNT : this.close();
    }
    // wait for the helpers that joined: spin, then sleep
    let d = Atomics.load(I, DONE);
    for (let i = 0; d < joined && i < CALLER_SPIN; i++) d = Atomics.load(I, DONE);
    while (d < joined) {
      Atomics.wait(I, DONE, d, 1000);
      d = Atomics.load(I, DONE);
    }
    this.running = false;
    if (thrown) throw thrown;
    if (Atomics.load(I, FAILED)) {
      throw new GraphError(`a wasm worker thread failed${this.errors.length ? `: ${this.errors.splice(0).join('; ')}` : ' (see the worker error event)'}`, { op: 'backend.wasm' });
    }
  }

  /** Closes the open job (no more helpers join); returns how many joined. */
  private close(): number {
    const I = this.I;
    let w = Atomics.load(I, JOIN);
    while (w & OPEN) {
      const prev = Atomics.compareExchange(I, JOIN, w, w & ~OPEN);
      if (prev === w) break;
      w = prev;
    }
    return w & COUNT;
  }

  /** Stops the workers (tests; a normal process just exits). */
  async shutdown(): Promise<void> {
    if (!this.workers.length) return;
    Atomics.store(this.I, NT, -1);
    Atomics.add(this.I, GEN, 1);
    Atomics.notify(this.I, GEN);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}

let processPool: Pool | null | undefined;

/** The process-wide pool (null until the first call decides; size 1 without shared memory or workers). */
function pool(): Pool {
  if (processPool) return processPool;
  loadNode();
  const h = heap();
  const n = h.shared && workerThreads ? configuredThreads() : 1;
  processPool = new Pool(h, n);
  return processPool;
}

/**
 * Runs `m.exports[name](tid, nthreads, ...args)` on `nthreads` threads (capped by the pool size),
 * the caller being thread 0; returns when every thread is done.
 * @example runParallel(kernels, 'matmul', threadCount(), [aPtr, bPtr, cPtr, 0, scratchPtr]);
 */
export function runParallel(m: WasmModule, name: string, nthreads: number, args: readonly number[], opts: { barriers?: boolean } = {}): void {
  pool().run(m, name, nthreads, args, !!opts.barriers);
}

/** 4 KiB pages the workers have still to fault in (0 when they are done, or there is no pool). */
export function prefaultPending(): number {
  if (!processPool) return 0;
  const I = new Int32Array(processPool.heap.memory.buffer, 0, 1024);
  return Math.max(0, Atomics.load(I, TOUCH_END) - Atomics.load(I, TOUCH_START));
}

/** Stops the pool's workers (they restart on the next parallel run). For tests. */
export async function shutdownThreads(): Promise<void> {
  if (processPool) await processPool.shutdown();
}
