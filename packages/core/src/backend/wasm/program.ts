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
 *   offset); they are compiled in as constants, so a program is made per specialization and per
 *   arena placement.
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
import type { FunctionBuilder } from './encoder';
import { emitElementwise } from './elementwise';
import { emitMatmul, type WasmMatmulSpec } from './matmul';
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

/** Emits a barrier of all `nt` threads (sense by generation: spin, then wait). */
function emitBarrier(f: FunctionBuilder, tid: number, nt: number): void {
  void tid;
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
}

/**
 * Emits the steps into one module and returns the runnable program.
 * @example const prog = buildProgram(steps); for (let i = 0; i < 100; i++) prog.run();
 */
export function buildProgram(steps: readonly ProgramStep[]): CompiledProgram {
  const h = heap();
  const poolThreads = threadCount();
  const mb = kernelModuleBuilder(h);
  // kernels first (each a function of the module), with their scratch needs
  interface Emitted {
    readonly step: ProgramStep;
    readonly func: number;
    readonly parallel: number;
    readonly scratchBytes: number;
    /** matmul scratch is per thread; reduction scratch is one zero-filled block per kernel. */
    readonly perThread: boolean;
    /** The kernel's pointer arguments, given its scratch and its 16 bytes of sync words. */
    readonly args: (scratch: number, sync: number) => number[];
    readonly reads: Range[];
    readonly writes: Range[];
  }
  const emitted: Emitted[] = [];
  // kernels take their pointers as arguments: steps with equal specs share one function (a
  // 12,000-node graph of small repeated blocks has ~1,700 loops but few distinct ones)
  const byKey = new Map<string, { func: number; parallel: number; scratchBytes: number }>();
  const once = <K extends { func: number; parallel: number; scratchBytes: number }>(kind: string, spec: unknown, emit: () => K): K => {
    const key = `${kind} ${specKey(spec)}`;
    let k = byKey.get(key) as K | undefined;
    if (!k) byKey.set(key, (k = emit()));
    return k;
  };
  for (const s of steps) {
    if (s.kind === 'js') continue;
    const fp = footprint(s);
    if (s.kind === 'matmul') {
      const k = once('matmul', s.spec, () => emitMatmul(mb, s.spec));
      emitted.push({ step: s, func: k.func, parallel: k.parallel, scratchBytes: k.scratchBytes, perThread: true, args: (sc, sy) => [s.a, s.b, s.c, s.bias ?? 0, sc, sy], ...fp });
    } else if (s.kind === 'elementwise') {
      const k = once('elementwise', s.spec, () => emitElementwise(mb, s.spec));
      if (s.inputs.length !== s.spec.inputs.length || s.outputs.length !== s.spec.outputs.length || (s.reduced === undefined) !== !s.spec.reduce) {
        throw new GraphError(`elementwise step: ${s.spec.inputs.length} input(s), ${s.spec.outputs.length} output(s)${s.spec.reduce ? ' and a reduction' : ''} expected`, { op: 'program' });
      }
      emitted.push({ step: s, func: k.func, parallel: k.parallel, scratchBytes: k.scratchBytes, perThread: false, args: (sc, sy) => [...s.inputs, ...s.outputs, ...(s.spec.reduce ? [s.reduced!] : []), sc, sy], ...fp });
    } else {
      const k = once('row', s.spec, () => ({ ...emitRowKernel(mb, s.spec), scratchBytes: 0 }));
      if (s.spec.op === 'softmaxCrossEntropy' && s.t === undefined) throw new GraphError('softmaxCrossEntropy step needs its target t', { op: 'program' });
      emitted.push({ step: s, func: k.func, parallel: k.parallel, scratchBytes: 0, perThread: false, args: (_sc, sy) => [s.x, s.out, s.t ?? 0, sy], ...fp });
    }
  }
  const threads = Math.max(1, Math.min(poolThreads, Math.max(1, ...emitted.map((e) => e.parallel))));
  // scratch: one block; matmuls share a per-thread packing region (a thread runs them one after
  // another), each reduction gets its own zero-filled block of partials
  const matmulScratch = Math.max(0, ...emitted.filter((e) => e.perThread).map((e) => e.scratchBytes));
  let scratchTotal = Math.ceil((matmulScratch * threads) / 16) * 16;
  const scratchAt = emitted.map((e) => {
    if (e.perThread) return 0;
    const at = scratchTotal;
    scratchTotal += Math.ceil(e.scratchBytes / 16) * 16;
    return at;
  });
  // every kernel claims its chunks through 16 sync bytes of its own, all in one run of the
  // scratch: zero when a segment starts, zeroed again after it
  const syncBase = scratchTotal;
  const syncAt = emitted.map((_, i) => syncBase + 16 * i);
  scratchTotal += 16 * emitted.length;
  let scratch = h.alloc(Math.max(16, scratchTotal));
  h.u8.fill(0, scratch, scratch + Math.max(16, scratchTotal));

  // segments: runs of wasm steps between js steps; barriers only where a step touches what the
  // steps since the last barrier wrote (or writes what they read)
  const lines: string[] = [];
  const segFuncs: string[] = [];
  const plan: ({ seg: string; barriers: boolean } | { js: () => void })[] = [];
  let barriers = 0;
  let cur: { idx: number; barrierBefore: boolean }[] = [];
  let e = 0;
  const flush = () => {
    if (!cur.length) return;
    const name = `seg${segFuncs.length}`;
    const body = cur;
    const hasBarriers = body.some((x) => x.barrierBefore);
    mb.func(name, ['i32', 'i32'], [], (f) => {
      for (const { idx, barrierBefore } of body) {
        if (barrierBefore) emitBarrier(f, 0, 1);
        const em = emitted[idx];
        const sc = em.perThread ? scratch : scratch + scratchAt[idx];
        f.get(0).get(1);
        for (const a of em.args(sc, scratch + syncAt[idx])) f.i32.const(a);
        f.call(em.func);
      }
    });
    segFuncs.push(name);
    plan.push({ seg: name, barriers: hasBarriers });
    cur = [];
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
    const em = emitted[e];
    const hazard = cur.length > 0 && threads > 1 && (anyOverlap(em.reads, sinceWrites) || anyOverlap(em.writes, sinceWrites) || anyOverlap(em.writes, sinceReads));
    if (hazard) {
      barriers++;
      sinceReads = [];
      sinceWrites = [];
    }
    sinceReads.push(...em.reads);
    sinceWrites.push(...em.writes);
    cur.push({ idx: e, barrierBefore: hazard });
    lines.push(`${hazard ? '── barrier ──\n' : ''}${describeStep(s)} on ${Math.min(threads, em.parallel)} thread(s)`);
    e++;
  }
  flush();
  const bytes = mb.bytes();
  // GRADGRAPH_VERIFY=1 (the test suite) validates every emitted program module
  if (verifying()) {
    if (!WebAssembly.validate(bytes)) throw new GraphError('an emitted program module does not validate (a bug in the wasm emitters)', { op: 'program' });
    validatedModules++;
  }
  const mod = new WasmModule(new WebAssembly.Module(bytes), segFuncs, h);
  const segments = segFuncs.length;
  return {
    threads,
    barriers,
    segments,
    run(nthreads = threads) {
      if (scratch === 0) throw new GraphError('this program was disposed', { op: 'program' });
      const nt = Math.max(1, Math.min(nthreads, threads));
      for (const p of plan) {
        if ('seg' in p) {
          runParallel(mod, p.seg, nt, [], { barriers: p.barriers });
          h.i32.fill(0, (scratch + syncBase) / 4, (scratch + syncBase) / 4 + 4 * emitted.length);
        } else p.js();
      }
    },
    describe: () => lines.flatMap((l) => l.split('\n')),
    dispose() {
      if (scratch) h.free(scratch);
      scratch = 0;
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
