/**
 * A compiled program for the wasm back end: an ordered list of kernel steps over byte addresses
 * in the shared heap, emitted into ONE module and run SPMD — every thread runs the same emitted
 * `segN(tid, nthreads)`, each kernel takes its static share, and threads meet at a barrier only
 * where a kernel touches memory an earlier kernel (since the last barrier) wrote or read.
 *
 * API (what a `WasmExecutor` calls, once per shape specialization):
 * ```ts
 * const prog = buildProgram([
 *   { kind: 'matmul', spec: { m: 128, n: 512, k: 784, bias: true, activation: 'relu' }, a, b, c, bias },
 *   { kind: 'elementwise', spec, inputs: [p0, p1], outputs: [p2], reduced: p3 },   // an ElementwiseSpec
 *   { kind: 'row', spec: { op: 'softmaxCrossEntropy', rows: 128, cols: 10 }, x, out, t },
 *   { kind: 'js', run: () => gatherIntoHeap(), reads: [[p2, bytes]], writes: [[p4, bytes]] }, // on the main thread
 * ]);
 * prog.run();      // every step, in order
 * prog.dispose();  // frees the program's scratch (its packing and reduction space)
 * ```
 * - Addresses are absolute byte offsets into `heap()` (an arena block's base + the memory plan's
 *   offset). They are data, not code: each program has a table in the heap with every step's
 *   arguments and whether a barrier comes before it, and its module's segment functions read them
 *   from there. So the module depends only on the program's structure (the steps' kinds and
 *   specs) and is cached by it, process-wide: compiling the same step again (a fresh graph, a new
 *   arena placement) reuses the compiled module, the workers' instances of it and the code V8 has
 *   optimized since (`emittedProgramModules()` counts the misses).
 * - `js` steps are opaque callbacks (ops without wasm kernels: gathers, random fills, reference
 *   kernels); the wasm steps between two of them form a segment, dispatched to the pool once.
 *   Their `reads`/`writes` ranges are not needed for correctness (a segment ends before them).
 * - A program whose kernels are all too small to share (each `parallel` is 1) runs on the calling
 *   thread alone: nobody is woken.
 * - Results are bit-identical for any thread count (every kernel splits work statically with a
 *   fixed reduction order).
 */
import { GraphError } from '../../errors';
import { sizeOf } from '../../shape';
import type { ElementwiseSpec } from '../js/elementwise';
import type { ModuleBuilder } from './encoder';
import { emitElementwise } from './elementwise';
import { emitMatmul, MATMUL_SCRATCH_BOUND, type WasmMatmulSpec } from './matmul';
import { heap } from './memory';
import { emitRowKernel, type WasmRowSpec } from './rows';
import { BARRIER_BASE, kernelModuleBuilder, runParallel, threadCount, WasmModule } from './threads';

/**
 * A key equal for specs that emit the same code: their JSON, with an object met again (a shared
 * subexpression of an ElementwiseSpec's DAG) written as a back-reference, so shared subtrees are
 * not spelled out again and again.
 */
function specKey(spec: unknown): string {
  const ids = new Map<object, number>();
  return JSON.stringify(spec, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const id = ids.get(v);
      if (id !== undefined) return `#ref${id}`;
      ids.set(v, ids.size);
    }
    return v;
  });
}

/** A byte range [start, start + bytes) of the heap. */
export type Range = readonly [start: number, bytes: number];

export type ProgramStep =
  | { readonly kind: 'matmul'; readonly spec: WasmMatmulSpec; readonly a: number; readonly b: number; readonly c: number; readonly bias?: number }
  | { readonly kind: 'elementwise'; readonly spec: ElementwiseSpec; readonly inputs: readonly number[]; readonly outputs: readonly number[]; readonly reduced?: number }
  | { readonly kind: 'row'; readonly spec: WasmRowSpec; readonly x: number; readonly out: number; readonly t?: number }
  | { readonly kind: 'js'; readonly run: () => void; readonly name?: string };

export interface CompiledProgram {
  /** Runs every step in order (`nthreads` defaults to the pool size). */
  run(nthreads?: number): void;
  /** Threads the program uses (1 when no kernel is worth sharing). */
  readonly threads: number;
  /** Barriers per run, and segments (pool dispatches) per run. */
  readonly barriers: number;
  readonly segments: number;
  /** One line per step: kind, shapes, its share of threads, and where the barriers are. */
  describe(): string[];
  dispose(): void;
}

let validatedModules = 0;
const verifying = () => typeof process !== 'undefined' && process.env?.GRADGRAPH_VERIFY === '1';

/** How many program modules `buildProgram` checked with `WebAssembly.validate` (it does under GRADGRAPH_VERIFY=1). */
export function validatedProgramModules(): number {
  return validatedModules;
}

/** Spin iterations at a barrier before sleeping in `memory.atomic.wait32`. */
const BARRIER_SPIN = 4000;
const COUNT_WORD = BARRIER_BASE * 4;
const GEN_WORD = BARRIER_BASE * 4 + 4;

const bytesOf = (dtype: string) => (dtype === 'bool' ? 1 : 4);

/** What a wasm step reads and writes, for the barrier placement. */
function footprint(s: Exclude<ProgramStep, { kind: 'js' }>): { reads: Range[]; writes: Range[] } {
  switch (s.kind) {
    case 'matmul': {
      const sp = s.spec;
      const nbA = sizeOf(sp.batchA ?? []);
      const nbB = sizeOf(sp.batchB ?? []);
      // the broadcast batch size, from the two batch shapes (checked later by emitMatmul)
      const bA = sp.batchA ?? [];
      const bB = sp.batchB ?? [];
      let nb = 1;
      for (let i = 0; i < Math.max(bA.length, bB.length); i++) nb *= Math.max(bA[bA.length - 1 - i] ?? 1, bB[bB.length - 1 - i] ?? 1);
      const reads: Range[] = [
        [s.a, nbA * sp.m * sp.k * 4],
        [s.b, nbB * sp.k * sp.n * 4],
      ];
      if (sp.bias && s.bias !== undefined) reads.push([s.bias, sp.n * 4]);
      if (sp.accumulate) reads.push([s.c, nb * sp.m * sp.n * 4]);
      return { reads, writes: [[s.c, nb * sp.m * sp.n * 4]] };
    }
    case 'elementwise': {
      const sp = s.spec;
      const n = sizeOf(sp.shape);
      const reads: Range[] = sp.inputs.map((inp, k) => [s.inputs[k], sizeOf(inp.shape) * bytesOf(inp.dtype)]);
      const writes: Range[] = sp.outputs.map((e, j) => [s.outputs[j], n * bytesOf(e.dtype)]);
      if (sp.reduce && s.reduced !== undefined) {
        const r = sp.reduce;
        const rank = sp.shape.length;
        const count = r.axes === 'all' ? 1 : r.axes === 'last' ? sizeOf(sp.shape.slice(0, -1)) : sp.shape[rank - 1];
        writes.push([s.reduced, Math.max(1, count) * 4]);
      }
      return { reads, writes };
    }
    case 'row': {
      const { rows, cols, op } = s.spec;
      const reads: Range[] = [[s.x, rows * cols * 4]];
      if (op === 'softmaxCrossEntropy' && s.t !== undefined) reads.push([s.t, rows * cols * 4]);
      return { reads, writes: [[s.out, (op === 'softmax' || op === 'logSoftmax' ? rows * cols : rows) * 4]] };
    }
  }
}

const overlaps = (a: Range, b: Range) => a[1] > 0 && b[1] > 0 && a[0] < b[0] + b[1] && b[0] < a[0] + a[1];
const anyOverlap = (xs: readonly Range[], ys: readonly Range[]) => xs.some((x) => ys.some((y) => overlaps(x, y)));

/**
 * Emits `barrier(nt)`: all `nt` threads meet (sense by generation: spin, then wait); with nt = 1
 * it returns at once.
 */
function emitBarrier(mb: ModuleBuilder): number {
  return mb.func(null, ['i32'], [], (f) => {
    const nt = 0;
    const g = f.local('i32');
    const i = f.local('i32');
    f.get(nt).i32.const(1).i32.gt_s();
    f.if(() => {
      f.i32.const(GEN_WORD).i32_atomic.load().set(g);
      f.i32.const(COUNT_WORD).i32.const(1).i32_atomic.rmw_add().get(nt).i32.const(1).i32.sub().i32.eq();
      f.if(
        () => {
          // the last one in: reset the count, open the next generation, wake the sleepers
          f.i32.const(COUNT_WORD).i32.const(0).i32_atomic.store();
          f.i32.const(GEN_WORD).i32.const(1).i32_atomic.rmw_add().drop();
          f.i32.const(GEN_WORD).get(nt).memory.atomic_notify().drop();
        },
        () => {
          f.i32.const(0).set(i);
          f.block((open) => {
            f.loop((spin) => {
              f.i32.const(GEN_WORD).i32_atomic.load().get(g).i32.ne().br_if(open);
              f.get(i).i32.const(1).i32.add().tee(i).i32.const(BARRIER_SPIN).i32.lt_s().br_if(spin);
            });
            f.loop((sleep) => {
              f.i32.const(GEN_WORD).get(g).i64.const(-1).memory.atomic_wait32().drop();
              f.i32.const(GEN_WORD).i32_atomic.load().get(g).i32.eq().br_if(sleep);
            });
          });
        },
      );
    });
  });
}

/** What a program's module knows of one wasm step's kernel (the same for every use of the module). */
interface KernelMeta {
  readonly parallel: number;
  readonly scratchBytes: number;
  /** matmul scratch is per thread; reduction scratch is one zero-filled block per kernel. */
  readonly perThread: boolean;
  /** Pointer arguments after (tid, nthreads), scratch and sync included. */
  readonly nargs: number;
}

/**
 * The compiled module of a program's structure: its kernels (one function per distinct spec) and
 * one function `segN(tid, nthreads, table)` per segment, which reads every address it passes —
 * and whether a barrier comes before each step — from the program's table in the heap. So the
 * module depends only on the steps' kinds and specs, not on where their data is: a program of the
 * same structure (the same graph compiled again, a fresh copy of it, another arena placement)
 * reuses the module, its worker instances and the code V8 has optimized since.
 */
interface ProgramModule {
  readonly module: WasmModule;
  readonly segFuncs: readonly string[];
  /** Per wasm step, in order. */
  readonly kernels: readonly KernelMeta[];
  /** Per wasm step: the i32 index in the table of its barrier flag (its arguments follow). */
  readonly tableAt: readonly number[];
  readonly tableWords: number;
  readonly bytes: number;
}

/** Program modules by structure key, least recently used first. */
const moduleCache = new Map<string, ProgramModule>();
/** At most this many modules, and this many bytes of them, stay cached. */
const MODULE_CACHE_ENTRIES = 64;
const MODULE_CACHE_BYTES = 32 << 20;
let cachedBytes = 0;
let emittedModules = 0;

/** How many program modules were emitted and compiled (the others came from the cache). */
export function emittedProgramModules(): number {
  return emittedModules;
}

/**
 * Forgets every cached program module, so the next compile of any structure emits and compiles
 * its module afresh (what `pnpm bench` does to time the first compile of a model's structure).
 * Programs already made keep theirs.
 */
export function clearProgramModuleCache(): void {
  moduleCache.clear();
  cachedBytes = 0;
}

/** Emits and compiles the module of a program structure; `keys[i]` is step i's kernel key ('js' for a JS step). */
function emitProgramModule(steps: readonly ProgramStep[], keys: readonly string[]): ProgramModule {
  const mb = kernelModuleBuilder(heap());
  // kernels take their pointers as arguments: steps with equal specs share one function (a
  // 12,000-node graph of small repeated blocks has ~1,700 loops but few distinct ones)
  const byKey = new Map<string, KernelMeta & { func: number }>();
  const kernelOf = (s: Exclude<ProgramStep, { kind: 'js' }>, key: string): KernelMeta & { func: number } => {
    let k = byKey.get(key);
    if (k) return k;
    if (s.kind === 'matmul') {
      const e = emitMatmul(mb, s.spec);
      k = { func: e.func, parallel: e.parallel, scratchBytes: e.scratchBytes, perThread: true, nargs: 6 };
    } else if (s.kind === 'elementwise') {
      const e = emitElementwise(mb, s.spec);
      k = { func: e.func, parallel: e.parallel, scratchBytes: e.scratchBytes, perThread: false, nargs: s.spec.inputs.length + s.spec.outputs.length + (s.spec.reduce ? 1 : 0) + 2 };
    } else {
      const e = emitRowKernel(mb, s.spec);
      k = { func: e.func, parallel: e.parallel, scratchBytes: 0, perThread: false, nargs: 4 };
    }
    byKey.set(key, k);
    return k;
  };
  const kernels: (KernelMeta & { func: number })[] = [];
  steps.forEach((s, i) => {
    if (s.kind !== 'js') kernels.push(kernelOf(s, keys[i]));
  });
  const barrier = emitBarrier(mb);
  // the table: per wasm step, its barrier flag and then its arguments
  const tableAt: number[] = [];
  let tableWords = 0;
  for (const k of kernels) {
    tableAt.push(tableWords);
    tableWords += 1 + k.nargs;
  }
  const segFuncs: string[] = [];
  let e = 0;
  let cur: number[] = [];
  const flush = () => {
    if (!cur.length) return;
    const body = cur;
    const name = `seg${segFuncs.length}`;
    mb.func(name, ['i32', 'i32', 'i32'], [], (f) => {
      const [tid, nt, table] = [0, 1, 2];
      body.forEach((idx, j) => {
        const at = tableAt[idx] * 4;
        // (the first step of a segment never waits: the segment starts after everything before it)
        if (j > 0) f.get(table).i32.load(at).if(() => void f.get(nt).call(barrier));
        f.get(tid).get(nt);
        for (let a = 0; a < kernels[idx].nargs; a++) f.get(table).i32.load(at + 4 * (1 + a));
        f.call(kernels[idx].func);
      });
    });
    segFuncs.push(name);
    cur = [];
  };
  for (const s of steps) {
    if (s.kind === 'js') flush();
    else cur.push(e++);
  }
  flush();
  const bytes = mb.bytes();
  // GRADGRAPH_VERIFY=1 (the test suite) validates every emitted program module
  if (verifying()) {
    if (!WebAssembly.validate(bytes)) throw new GraphError('an emitted program module does not validate (a bug in the wasm emitters)', { op: 'program' });
    validatedModules++;
  }
  emittedModules++;
  const module = new WasmModule(new WebAssembly.Module(bytes), segFuncs, heap());
  return { module, segFuncs, kernels: kernels.map(({ parallel, scratchBytes, perThread, nargs }) => ({ parallel, scratchBytes, perThread, nargs })), tableAt, tableWords, bytes: bytes.length };
}

/** The module of a program structure: from the cache, or emitted (and cached). */
function programModule(steps: readonly ProgramStep[], keys: readonly string[]): ProgramModule {
  const key = keys.join('\n');
  const hit = moduleCache.get(key);
  if (hit) {
    // most recently used last
    moduleCache.delete(key);
    moduleCache.set(key, hit);
    return hit;
  }
  const pm = emitProgramModule(steps, keys);
  moduleCache.set(key, pm);
  cachedBytes += pm.bytes;
  for (const [k, old] of moduleCache) {
    if (moduleCache.size <= MODULE_CACHE_ENTRIES && cachedBytes <= MODULE_CACHE_BYTES) break;
    if (old === pm) break;
    moduleCache.delete(k);
    cachedBytes -= old.bytes;
  }
  return pm;
}

/** The scratch region every program shares: a heap block, replaced by a larger one when a program needs more. */
interface ScratchRegion {
  base: number;
  bytes: number;
}
const scratchRegion: ScratchRegion = { base: 0, bytes: 0 };

/**
 * The shared scratch region, at least `bytes` long (made larger now if not: at build time, never
 * during a run, so no run sees the memory grow under it). Programs re-read `base` before each
 * segment. Sharing it means a new program touches no new scratch pages: its first run faults in
 * none (the mlp-train step's scratch is ~1.2 MB, mostly two threads' matmul packing space).
 */
function sharedScratch(bytes: number): ScratchRegion {
  if (bytes > scratchRegion.bytes) {
    const h = heap();
    if (scratchRegion.base) h.free(scratchRegion.base);
    scratchRegion.bytes = Math.max(bytes, scratchRegion.bytes * 2);
    scratchRegion.base = h.alloc(scratchRegion.bytes);
  }
  return scratchRegion;
}

/**
 * At most how many bytes the shared scratch region may still be made larger by for a program of
 * default-tiled matmuls on every thread of the pool (their packing space, the kernels' sync words,
 * reductions' partials), or 0 when it is that large already: `compile()` on wasm reserves them
 * with the params (`heap().reserve`), so the region a new program moves to lies on pages the pool
 * has faulted in.
 */
export function scratchGrowthBound(): number {
  const need = MATMUL_SCRATCH_BOUND * threadCount() + (64 << 10);
  return need > scratchRegion.bytes ? Math.max(need, 2 * scratchRegion.bytes) : 0;
}

/** The key of a step's kernel: equal for steps that emit the same code. */
function kernelKey(s: ProgramStep): string {
  return s.kind === 'js' ? 'js' : `${s.kind} ${specKey(s.spec)}`;
}

/**
 * The runnable program of `steps`: its module (from the cache of program structures, or emitted
 * into one module), and its table of addresses and barriers in the heap.
 * @example const prog = buildProgram(steps); for (let i = 0; i < 100; i++) prog.run();
 */
export function buildProgram(steps: readonly ProgramStep[]): CompiledProgram {
  const h = heap();
  const poolThreads = threadCount();
  for (const s of steps) {
    if (s.kind === 'elementwise' && (s.inputs.length !== s.spec.inputs.length || s.outputs.length !== s.spec.outputs.length || (s.reduced === undefined) !== !s.spec.reduce)) {
      throw new GraphError(`elementwise step: ${s.spec.inputs.length} input(s), ${s.spec.outputs.length} output(s)${s.spec.reduce ? ' and a reduction' : ''} expected`, { op: 'program' });
    }
    if (s.kind === 'row' && s.spec.op === 'softmaxCrossEntropy' && s.t === undefined) throw new GraphError('softmaxCrossEntropy step needs its target t', { op: 'program' });
  }
  const pm = programModule(steps, steps.map(kernelKey));
  const { kernels, module: mod } = pm;
  const threads = Math.max(1, Math.min(poolThreads, Math.max(1, ...kernels.map((k) => k.parallel))));
  // The scratch, in the process-wide region every program shares (programs run one at a time,
  // and nothing in it outlives a kernel call but the sync words, which are zeroed before each
  // segment): first every kernel's 16 sync bytes (it claims its chunks through them), then a
  // per-thread packing space the matmuls share (a thread runs them one after another), then a
  // block of partials for each reduction (two in one segment may run at the same time).
  const syncBytes = 16 * kernels.length;
  const matmulScratch = Math.max(0, ...kernels.filter((k) => k.perThread).map((k) => k.scratchBytes));
  const packingAt = syncBytes;
  let total = packingAt + Math.ceil((matmulScratch * threads) / 16) * 16;
  const scratchAt = kernels.map((k) => {
    if (k.perThread) return packingAt;
    const at = total;
    total += Math.ceil(k.scratchBytes / 16) * 16;
    return at;
  });
  const region = sharedScratch(total);
  // this program's table: per wasm step its barrier flag and arguments; the scratch pointers
  // among them (`relocs`: table index, offset in the region) follow the region when it moves
  let block = h.alloc(Math.max(16, pm.tableWords * 4));
  const table = h.i32;
  const t0 = block / 4;
  const relocs: [number, number][] = [];
  let boundBase = region.base;

  // segments: runs of wasm steps between js steps; barriers only where a step touches what the
  // steps since the last barrier wrote (or writes what they read)
  const lines: string[] = [];
  const plan: ({ seg: string; barriers: boolean } | { js: () => void })[] = [];
  let barriers = 0;
  let segBarriers = false;
  let segLen = 0;
  let e = 0;
  let seg = 0;
  const flush = () => {
    if (!segLen) return;
    plan.push({ seg: pm.segFuncs[seg++], barriers: segBarriers });
    segLen = 0;
    segBarriers = false;
  };
  let sinceReads: Range[] = [];
  let sinceWrites: Range[] = [];
  for (const s of steps) {
    if (s.kind === 'js') {
      flush();
      plan.push({ js: s.run });
      lines.push(`js ${s.name ?? 'callback'} (main thread, after all threads finished the segment)`);
      sinceReads = [];
      sinceWrites = [];
      continue;
    }
    const k = kernels[e];
    const fp = footprint(s);
    const hazard = segLen > 0 && threads > 1 && (anyOverlap(fp.reads, sinceWrites) || anyOverlap(fp.writes, sinceWrites) || anyOverlap(fp.writes, sinceReads));
    if (hazard) {
      barriers++;
      segBarriers = true;
      sinceReads = [];
      sinceWrites = [];
    }
    sinceReads.push(...fp.reads);
    sinceWrites.push(...fp.writes);
    // the table: the barrier flag, then the arguments
    const at = t0 + pm.tableAt[e];
    const args = s.kind === 'matmul' ? [s.a, s.b, s.c, s.bias ?? 0] : s.kind === 'elementwise' ? [...s.inputs, ...s.outputs, ...(s.spec.reduce ? [s.reduced!] : [])] : [s.x, s.out, s.t ?? 0];
    // then the scratch (matmul, elementwise) and the sync words (all)
    const rel = s.kind === 'row' ? [16 * e] : [scratchAt[e], 16 * e];
    if (args.length + rel.length !== k.nargs) throw new GraphError(`${s.kind} step: ${args.length + rel.length} arguments for a kernel of ${k.nargs} (a bug in buildProgram)`, { op: 'program' });
    table[at] = hazard ? 1 : 0;
    for (let a = 0; a < args.length; a++) table[at + 1 + a] = args[a];
    rel.forEach((off, j) => {
      const idx = at + 1 + args.length + j - t0;
      relocs.push([idx, off]);
      table[t0 + idx] = region.base + off;
    });
    segLen++;
    lines.push(`${hazard ? '── barrier ──\n' : ''}${describeStep(s)} on ${Math.min(threads, k.parallel)} thread(s)`);
    e++;
  }
  flush();
  const segments = pm.segFuncs.length;
  return {
    threads,
    barriers,
    segments,
    run(nthreads = threads) {
      if (block === 0) throw new GraphError('this program was disposed', { op: 'program' });
      const nt = Math.max(1, Math.min(nthreads, threads));
      const args = [block];
      for (const p of plan) {
        if ('seg' in p) {
          // (a program built since — maybe inside a JS step — may have moved the region)
          const base = region.base;
          const i32 = h.i32;
          if (base !== boundBase) {
            for (const [idx, off] of relocs) i32[block / 4 + idx] = base + off;
            boundBase = base;
          }
          i32.fill(0, base / 4, base / 4 + syncBytes / 4);
          runParallel(mod, p.seg, nt, args, { barriers: p.barriers });
        } else p.js();
      }
    },
    describe: () => lines.flatMap((l) => l.split('\n')),
    dispose() {
      if (block) h.free(block);
      block = 0;
    },
  };
}

function describeStep(s: Exclude<ProgramStep, { kind: 'js' }>): string {
  switch (s.kind) {
    case 'matmul': {
      const sp = s.spec;
      return `matmul ${sp.transposeA ? 'Aᵀ' : 'A'}·${sp.transposeB ? 'Bᵀ' : 'B'} ${sp.m}×${sp.k}·${sp.k}×${sp.n}${sp.batchA?.length || sp.batchB?.length ? ` batch [${sp.batchA ?? []}]·[${sp.batchB ?? []}]` : ''}${sp.bias ? ' + bias' : ''}${sp.activation && sp.activation !== 'identity' ? ` → ${sp.activation}` : ''}${sp.accumulate ? ' (accumulate)' : ''}`;
    }
    case 'elementwise':
      return `elementwise [${s.spec.shape}] ${s.spec.inputs.length} in, ${s.spec.outputs.length} out${s.spec.reduce ? `, ${s.spec.reduce.op} over ${s.spec.reduce.axes}` : ''}`;
    case 'row':
      return `${s.spec.op} [${s.spec.rows}, ${s.spec.cols}]`;
  }
}
