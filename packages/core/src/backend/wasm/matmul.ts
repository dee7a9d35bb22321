/**
 * float32 matmul for the wasm back end: C = act(op(A)·op(B) [+ C] [+ bias]) with op = identity or
 * transpose on each side, broadcast batch dims, emitted as SIMD128 code specialized to the shapes.
 *
 * API (what the executor calls):
 * - `emitMatmul(mb, spec, opts?)` adds the kernel to a module under construction and returns
 *   `{ func, scratchBytes, parallel }`: `func` is the index of
 *   `(tid, nthreads, a, b, c, bias, scratch, sync) → ()`, byte pointers into the shared memory.
 *   Every thread (threads ≥ `parallel` return at once) gets its own `scratchBytes` of packing
 *   space at `scratch + tid · scratchBytes`; `sync` is 16 bytes of this kernel's own (its chunk
 *   counter), zero when a call starts — the caller zeroes them after every call.
 * - `makeMatmul(spec)` compiles a module with just this kernel and returns a `WasmMatmul` whose
 *   `run(a, b, c, bias?)` runs it on the thread pool (tests, the micro-benchmark).
 *
 * How it works (GotoBLAS, see docs/kernels.md "WebAssembly" for the measurements):
 * - C is cut into MR×NR register tiles; a tile's accumulators are MR·NR/4 f32x4 locals. Each k
 *   step loads NR/4 vectors of the packed B panel, splats MR values of A (`v128.load32_splat`)
 *   and does MR·NR/4 mul+add (no FMA without relaxed SIMD).
 * - op(B) is packed per KC×NC block into NR-wide panels (k-major, zero-padded), so the tile loop
 *   reads it contiguously; the transpose of B is done there (4×4 shuffles). op(A) is read where it
 *   is when not transposed (row i of the tile K·4 bytes after row i − 1); Aᵀ is packed into
 *   MR-high panels.
 * - Edge tiles (M mod MR rows, N mod NR columns) have their own micro-kernels with only the
 *   accumulators they need and lane-exact loads and stores, so nothing is read or written outside
 *   the operands.
 * - The micro-kernels and the packing take the shapes as arguments and, for the default tile, live
 *   in the process-wide kernel library (mmlib.ts) every kernel module imports; what is emitted
 *   here per spec is the driver (the block loops and the chunk claiming) and the epilogues.
 * - C is cut into fixed chunks (column blocks of ≥ 64 columns, or MC-row blocks when there are
 *   more row tiles than column tiles; per batch element). Threads claim chunks one at a time
 *   with an atomic counter, so a thread the OS descheduled doesn't hold the others up. Every
 *   element of C is summed over k in the same order whoever computes it, so results are
 *   bit-identical for any thread count.
 *
 * Numbers: float32 accumulation over k in order; with K > KC each K block's partial sum is stored
 * in C (float32) and read back by the next block.
 */
import type { DType } from '../../dtype';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { broadcastShapes, fmtShape, sizeOf, stridesOf, type Shape } from '../../shape';
import { FunctionBuilder, ModuleBuilder } from './encoder';
import { heap } from './memory';
import { emitMicro, emitPackA, emitPackB, loadLanes, MICRO_MR, MICRO_NR, microImportsOf, storeLanes } from './mmlib';
import { kernelModuleBuilder, runParallel, threadCount, WasmModule } from './threads';
import { emitUnaryF32x4, F32X4_UNARY_OPS, mathImportsOf, type MathImports } from './vmath';

export interface WasmMatmulSpec {
  /** op(A) is m×k, op(B) is k×n, C is m×n (per batch element). */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored k×m and used transposed. */
  readonly transposeA?: boolean;
  /** B is stored n×k and used transposed. */
  readonly transposeB?: boolean;
  /** Batch dims of A and B before the matrix dims; they broadcast NumPy-style. */
  readonly batchA?: Shape;
  readonly batchB?: Shape;
  /** C = C + op(A)·op(B) (then the epilogue). */
  readonly accumulate?: boolean;
  /** Add a bias row vector of length n to every row. */
  readonly bias?: boolean;
  /** Applied last: 'identity', 'relu' (where(v > 0, v, 0)), or a float unary op of vmath. */
  readonly activation?: string;
}

/** Register tile, unroll and cache blocks. Measured on 1024³ (docs/kernels.md). */
export interface MatmulTiling {
  readonly MR: number;
  readonly NR: number;
  /** k steps per loop iteration. */
  readonly U: number;
  readonly KC: number;
  readonly MC: number;
  readonly NC: number;
  /** Pack op(A) even when it is not transposed. */
  readonly packA: boolean;
  /** How A values are broadcast: load32_splat at an offset, f32.load + splat, or 4 k at once + lane shuffles. */
  readonly aLoad: 'splat' | 'scalar' | 'shuffle' | 'add';
  /**
   * Call the process-wide kernel library (mmlib.ts: micro-kernels and packing with the shapes and
   * strides as arguments, which V8 has optimized already when another program used them) rather
   * than the same functions emitted into this module. Only for the default tile (5×8, U 1,
   * splat); another tiling always emits its own.
   */
  readonly library: boolean;
}

export const MATMUL_TILING: MatmulTiling = Object.freeze({ MR: MICRO_MR, NR: MICRO_NR, U: 1, KC: 256, MC: 120, NC: 512, packA: false, aLoad: 'splat', library: true });

/** Below this many flops per thread, fewer threads take part (waking one costs a few µs). */
export const MATMUL_FLOPS_PER_THREAD = 1 << 21;

export interface EmittedKernel {
  /** Function index of `(tid, nthreads, ...pointers) → ()`. */
  readonly func: number;
  /** Packing space each thread needs. */
  readonly scratchBytes: number;
  /** At most this many threads take part; the rest return at once. */
  readonly parallel: number;
}

interface Dims {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly ta: boolean;
  readonly tb: boolean;
}

const EPILOGUE = 2;

function checkSpec(spec: WasmMatmulSpec): { batch: number[]; batchA: Shape; batchB: Shape } {
  const op = 'matmul';
  if (!spec || typeof spec !== 'object') throw new GraphError('the wasm matmul needs a spec object', { op });
  const ok = (d: unknown) => typeof d === 'number' && Number.isInteger(d) && d >= 0;
  if (![spec.m, spec.n, spec.k].every(ok)) throw new ShapeError(`m, n, k must be non-negative integers, got ${spec.m}, ${spec.n}, ${spec.k}`, { op });
  const batchA = spec.batchA ?? [];
  const batchB = spec.batchB ?? [];
  if (!batchA.every(ok) || !batchB.every(ok)) throw new ShapeError(`batch dims must be non-negative integers, got ${fmtShape(batchA)} and ${fmtShape(batchB)}`, { op });
  const bc = broadcastShapes(batchA, batchB);
  if (!bc) throw new ShapeError(`batch dims ${fmtShape(batchA)} and ${fmtShape(batchB)} do not broadcast`, { op, shapes: [batchA, batchB] });
  const act = spec.activation ?? 'identity';
  if (act !== 'identity' && act !== 'relu' && !F32X4_UNARY_OPS.includes(act)) {
    throw new GraphError(`unknown matmul activation "${act}" (identity, relu, or one of ${F32X4_UNARY_OPS.join(', ')})`, { op });
  }
  const dtype = (spec as { dtype?: DType }).dtype;
  if (dtype !== undefined && dtype !== 'float32') throw new DTypeError(`the wasm matmul is float32 only, got ${dtype}`, { op, dtypes: [dtype] });
  return { batch: bc as number[], batchA, batchB };
}

/** Bytes of packing space one thread needs for an m×n×k product. */
function scratchFor(d: Dims, t: MatmulTiling): number {
  const kc = Math.min(t.KC, d.K);
  const bPanel = Math.ceil(Math.min(t.NC, d.N) / t.NR) * t.NR * kc * 4;
  const aPanel = d.ta || t.packA ? Math.ceil(Math.min(t.MC, d.M) / t.MR) * t.MR * kc * 4 : 0;
  return bPanel + aPanel;
}

/** The most packing space one thread needs for any product with the default tiling (a KC×NC block of op(B) and an MC×KC one of Aᵀ). */
export const MATMUL_SCRATCH_BOUND = scratchFor({ M: MATMUL_TILING.MC, N: MATMUL_TILING.NC, K: MATMUL_TILING.KC, ta: true, tb: false }, MATMUL_TILING);

/**
 * `epilogue(c, bias)`: the h×w tile of C at `c` ← act(tile + bias row at `bias`), run on a tile the
 * micro-kernel has just stored (still in L1).
 */
function emitEpilogue(mb: ModuleBuilder, h: number, w: number, ldc: number, epi: Epilogue): number {
  const nv = Math.ceil(w / 4);
  const lastLanes = w - 4 * (nv - 1);
  const lanesOf = (v: number) => (v === nv - 1 ? lastLanes : 4);
  return mb.func(null, ['i32', 'i32'], [], (f) => {
    const [c, bias] = [0, 1];
    const bv = f.local('v128');
    const x = f.local('v128');
    for (let v = 0; v < nv; v++) {
      if (epi.bias) {
        loadLanes(f, bias, v * 16, lanesOf(v));
        f.set(bv);
      }
      for (let i = 0; i < h; i++) {
        loadLanes(f, c, i * ldc + v * 16, lanesOf(v));
        f.set(x);
        if (epi.bias) f.get(x).get(bv).f32x4.add().set(x);
        if (epi.activation) {
          epi.activation(f, x);
          f.set(x);
        }
        storeLanes(f, c, i * ldc + v * 16, lanesOf(v), x);
      }
    }
  });
}

interface Epilogue {
  readonly bias: boolean;
  /** Maps the v128 in a local to its activation, left on the stack. */
  readonly activation?: (f: FunctionBuilder, v: number) => void;
}

function epilogueOf(spec: WasmMatmulSpec, math?: MathImports): Epilogue {
  const act = spec.activation ?? 'identity';
  if (act === 'identity') return { bias: !!spec.bias };
  if (act === 'relu') {
    // where(v > 0, v, 0) = pmax(0, v): 0 < v ? v : 0, so NaN and −0 give +0 as relu does
    return { bias: !!spec.bias, activation: (f, v) => void f.v128.constF32(0).get(v).f32x4.pmax() };
  }
  return { bias: !!spec.bias, activation: (f, v) => emitUnaryF32x4(f, act, v, math) };
}

// ---- the 2-D driver --------------------------------------------------------------------------------

/**
 * `block(a, b, c, bias, scratch, r0, r1, c0, c1)`: C[r0:r1, c0:c1] of one M×N×K product (r0, c0
 * multiples of MR, NR). For each NC-wide column block, each KC block of k (B packed once per
 * pair, into this thread's scratch), each MC-high row block (A packed if transposed), each NR
 * panel, each MR tile: one micro-kernel call.
 */
function emitGemmBlock(mb: ModuleBuilder, d: Dims, t: MatmulTiling, spec: WasmMatmulSpec): number {
  const { M, N, K } = d;
  const { MR, NR, MC, NC } = t;
  const packA = d.ta || t.packA;
  const epi = epilogueOf(spec, mathImportsOf(mb));
  const hEdge = M % MR;
  const wEdge = N % NR;
  // the library's functions (shapes and strides as arguments) for the default tile, else the
  // same functions emitted into this module for this tiling
  const libPacks = t.library && MR === MICRO_MR && NR === MICRO_NR ? microImportsOf(mb) : undefined;
  const lib = libPacks && t.U === 1 && t.aLoad === 'splat' ? libPacks.micro : undefined;
  const micro = new Map<string, [number, number]>();
  const hasEpilogue = epi.bias || !!epi.activation;
  const microFor = (h: number, w: number) => {
    const key = `${h}x${w}`;
    if (!micro.has(key)) {
      const fn = lib ? lib[packA ? 'packed' : 'rows'][h - 1][w - 1] : emitMicro(mb, null, h, w, packA, t);
      micro.set(key, [fn, hasEpilogue ? emitEpilogue(mb, h, w, N * 4, epi) : -1]);
    }
    return micro.get(key)!;
  };
  const packB = libPacks ? libPacks.packB[d.tb ? 1 : 0] : emitPackB(mb, NR, d.tb);
  const packAFn = !packA ? -1 : libPacks ? libPacks.packA[d.ta ? 1 : 0] : emitPackA(mb, MR, d.ta);
  // K blocks of equal size (784 = 4 × 196, not 3 × 256 + 16)
  const kBlocks = Math.max(1, Math.ceil(K / t.KC));
  const KCe = Math.ceil(K / kBlocks);
  const kcMax = Math.min(KCe, K);
  const bBytes = Math.ceil(Math.min(NC, N) / NR) * NR * kcMax * 4;

  return mb.func(null, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f) => {
    const [a, b, c, bias, scratch, r0, r1, c0, c1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const [jc, nc, pc, kc, mode, ic, mc, jr, ir, ap, bp, cp] = Array.from({ length: 12 }, () => f.local('i32'));
    const tiles = f.local('i32');
    const bPack = scratch;
    const aPack = f.local('i32');
    f.get(scratch).i32.const(bBytes).i32.add().set(aPack);
    const min = (x: () => void, y: () => void, dst: number) => {
      x();
      y();
      x();
      y();
      f.i32.lt_s().select().set(dst);
    };
    f.forRange(jc, { local: c0 }, { local: c1 }, NC, () => {
      min(() => f.i32.const(NC), () => f.get(c1).get(jc).i32.sub(), nc);
      f.forRange(pc, 0, K, KCe, () => {
        min(() => f.i32.const(KCe), () => f.i32.const(K).get(pc).i32.sub(), kc);
        f.get(b).get(bPack).get(pc).get(kc).get(jc).get(nc).i32.const(N).i32.const(K).call(packB);
        // mode: start from C unless this is the first K block of a plain product; epilogue on the last
        f.get(pc).i32.const(0).i32.ne();
        if (spec.accumulate) f.i32.const(1).i32.or();
        f.get(pc).get(kc).i32.add().i32.const(K).i32.eq().i32.const(1).i32.shl();
        f.i32.or().set(mode);
        f.forRange(ic, { local: r0 }, { local: r1 }, MC, () => {
          min(() => f.i32.const(MC), () => f.get(r1).get(ic).i32.sub(), mc);
          if (packA) f.get(a).get(aPack).get(ic).get(mc).get(pc).get(kc).i32.const(M).i32.const(K).call(packAFn);
          f.get(jc).set(jr);
          f.get(jc).get(nc).i32.add().set(tiles); // end of the column block
          f.loop((jl) => {
            // bp: this panel in the packed block
            f.get(bPack).get(jr).get(jc).i32.sub().get(kc).i32.mul().i32.const(4).i32.mul().i32.add().set(bp);
            f.get(ic).set(ir);
            f.loop((il) => {
              // A: the tile's first row at k = pc (packed: its panel)
              if (packA) f.get(aPack).get(ir).get(ic).i32.sub().get(kc).i32.mul().i32.const(4).i32.mul().i32.add().set(ap);
              else f.get(a).get(ir).i32.const(K).i32.mul().get(pc).i32.add().i32.const(4).i32.mul().i32.add().set(ap);
              f.get(c).get(ir).i32.const(N).i32.mul().get(jr).i32.add().i32.const(4).i32.mul().i32.add().set(cp);
              const call = ([fn, ep]: [number, number]) => {
                f.get(ap).get(bp).get(cp).get(kc).get(mode).i32.const(K * 4).i32.const(N * 4).call(fn);
                if (ep >= 0) {
                  f.get(mode).i32.const(EPILOGUE).i32.and();
                  f.if(() => void f.get(cp).get(bias).get(jr).i32.const(4).i32.mul().i32.add().call(ep));
                }
              };
              // which micro-kernel: full, or the right/bottom/corner edge (which exist is known now)
              const byRow = (w: number) => {
                if (M < MR) return call(microFor(hEdge, w));
                if (!hEdge) return call(microFor(MR, w));
                f.get(ir).i32.const(MR).i32.add().i32.const(M).i32.le_s();
                f.if(
                  () => call(microFor(MR, w)),
                  () => call(microFor(hEdge, w)),
                );
              };
              if (N < NR) byRow(wEdge);
              else if (!wEdge) byRow(NR);
              else {
                f.get(jr).i32.const(NR).i32.add().i32.const(N).i32.le_s();
                f.if(
                  () => byRow(NR),
                  () => byRow(wEdge),
                );
              }
              f.get(ir).i32.const(MR).i32.add().tee(ir);
              f.get(ic).get(mc).i32.add().i32.lt_s().br_if(il);
            });
            f.get(jr).i32.const(NR).i32.add().tee(jr);
            f.get(tiles).i32.lt_s().br_if(jl);
          });
        });
      });
    });
  });
}

// ---- the kernel: batch loops around the 2-D driver ------------------------------------------------

/**
 * Adds the matmul kernel for `spec` to `mb`.
 * @example
 * const mb = new ModuleBuilder(); mb.importMemory('env', 'memory', { initial: 1, maximum: MAX_PAGES, shared: true });
 * const k = emitMatmul(mb, { m: 128, n: 512, k: 784, bias: true, activation: 'relu' });
 * mb.exportFunction('dense', k.func);
 */
export function emitMatmul(mb: ModuleBuilder, spec: WasmMatmulSpec, tiling: Partial<MatmulTiling> = {}): EmittedKernel {
  const { batch, batchA, batchB } = checkSpec(spec);
  const t: MatmulTiling = { ...MATMUL_TILING, ...tiling };
  const ta = !!spec.transposeA;
  const tb = !!spec.transposeB;
  const nb = sizeOf(batch);
  // A's batch folds into m when every batch element reads the same B and A's matrices are stacked rows
  const fold = nb > 1 && sizeOf(batchB) === 1 && !ta && sizeOf(batchA) === nb;
  const M = fold ? nb * spec.m : spec.m;
  const d: Dims = { M, N: spec.n, K: spec.k, ta, tb };
  const flops = 2 * nb * spec.m * spec.n * spec.k;
  const empty = M === 0 || d.N === 0 || nb === 0;
  const batchDims = fold ? [] : batch;
  const nMat = sizeOf(batchDims);
  // chunks of C, claimed by the threads one at a time: about 16 per matrix, column blocks of at
  // least 64 or row blocks of at least 40 (at most MC). A row chunk packs all of op(B) again, a
  // column chunk packs only its own columns of B but all of Aᵀ (when A is packed): split the way
  // that packs less, as long as it gives at least 4 chunks
  const chunkCols = Math.max(64, Math.ceil(d.N / 16 / t.NR) * t.NR);
  const chunkRows = Math.min(t.MC, Math.max(8 * t.MR, Math.ceil(M / 16 / t.MR) * t.MR));
  const colChunks = Math.ceil(d.N / chunkCols);
  const rowChunks = Math.ceil(M / chunkRows);
  const packsA = d.ta || t.packA;
  const packCostN = colChunks * (packsA ? M * d.K : 0) + d.K * d.N;
  const packCostM = rowChunks * d.K * d.N + (packsA ? M * d.K : 0);
  const splitN = colChunks >= Math.min(4, rowChunks) ? packCostN <= packCostM || rowChunks < 4 : false;
  const perMatrix = splitN ? colChunks : rowChunks;
  const chunks = nMat * perMatrix;
  const parallel = Math.max(1, Math.min(64, chunks, Math.floor(flops / MATMUL_FLOPS_PER_THREAD)));
  const scratchBytes = empty ? 0 : scratchFor(d, t);
  const block = empty || d.K === 0 ? -1 : emitGemmBlock(mb, d, t, spec);
  // K = 0: every row of every matrix of the batch is the epilogue of an empty sum
  const zero = !empty && d.K === 0 ? emitFillZero(mb, { ...d, M: nb * spec.m }, spec) : -1;
  // operand strides per batch dim, in bytes (0 where an operand broadcasts)
  const rank = batchDims.length;
  const strideOf = (own: Shape, matBytes: number) => {
    const pad = rank - own.length;
    const st = stridesOf(own);
    return batchDims.map((_, dd) => (dd < pad || own[dd - pad] === 1 ? 0 : st[dd - pad] * matBytes));
  };
  const sa = strideOf(batchA, spec.m * spec.k * 4);
  const sb = strideOf(batchB, spec.k * spec.n * 4);
  const sc = stridesOf(batchDims).map((x) => x * spec.m * spec.n * 4);

  const func = mb.func(null, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f) => {
    if (empty) return;
    const [tid, nt, a, b, c, bias, scratch, sync] = [0, 1, 2, 3, 4, 5, 6, 7];
    if (zero >= 0) {
      f.get(tid).i32.eqz().if(() => void f.get(c).get(bias).call(zero));
      return;
    }
    const [use, ch, q, rem, coord, pa, pb, pcl, lo, hi] = Array.from({ length: 10 }, () => f.local('i32'));
    f.get(nt).i32.const(parallel).get(nt).i32.const(parallel).i32.lt_s().select().set(use);
    f.get(tid).get(use).i32.ge_s().if(() => void f.return());
    // this thread's packing space
    f.get(scratch).get(tid).i32.const(scratchBytes).i32.mul().i32.add().set(scratch);
    f.block((done) => {
      f.loop((next) => {
        f.get(sync).i32.const(1).i32_atomic.rmw_add().tee(ch).i32.const(chunks).i32.ge_u().br_if(done);
        // which matrix of the batch, and where its operands start
        f.get(a).set(pa);
        f.get(b).set(pb);
        f.get(c).set(pcl);
        f.get(ch).i32.const(perMatrix).i32.rem_u().set(q);
        if (rank) {
          f.get(ch).i32.const(perMatrix).i32.div_u().set(rem);
          for (let dd = rank - 1; dd >= 0; dd--) {
            f.get(rem).i32.const(batchDims[dd]).i32.rem_u().set(coord);
            f.get(rem).i32.const(batchDims[dd]).i32.div_u().set(rem);
            for (const [p, st] of [
              [pa, sa[dd]],
              [pb, sb[dd]],
              [pcl, sc[dd]],
            ] as const)
              if (st) f.get(p).get(coord).i32.const(st).i32.mul().i32.add().set(p);
          }
        }
        // the chunk's rows or columns
        const unit = splitN ? chunkCols : chunkRows;
        const extent = splitN ? d.N : M;
        f.get(q).i32.const(unit).i32.mul().set(lo);
        f.get(lo).i32.const(unit).i32.add().set(hi);
        f.get(hi).i32.const(extent).get(hi).i32.const(extent).i32.lt_s().select().set(hi);
        f.get(pa).get(pb).get(pcl).get(bias).get(scratch);
        if (splitN) f.i32.const(0).i32.const(M).get(lo).get(hi);
        else f.get(lo).get(hi).i32.const(0).i32.const(d.N);
        f.call(block);
        f.br(next);
      });
    });
  });
  return { func, scratchBytes, parallel };
}

/** K = 0: `fill(c, bias)` sets C = act(0 [+ C] [+ bias]) — the empty sum (run by thread 0). */
function emitFillZero(mb: ModuleBuilder, d: Dims, spec: WasmMatmulSpec): number {
  const epi = epilogueOf(spec, mathImportsOf(mb));
  return mb.func(null, ['i32', 'i32'], [], (f) => {
    const [c, bias] = [0, 1];
    const i = f.local('i32');
    const j = f.local('i32');
    const v = f.local('v128');
    const x = f.local('f32');
    f.forRange(i, 0, d.M, 1, () => {
      f.forRange(j, 0, d.N, 1, () => {
        // the element's address: c + (i·N + j)·4
        const addr = () => f.get(c).get(i).i32.const(d.N).i32.mul().get(j).i32.add().i32.const(4).i32.mul().i32.add();
        if (spec.accumulate) addr().f32.load();
        else f.f32.const(0);
        if (epi.bias) f.get(bias).get(j).i32.const(4).i32.mul().i32.add().f32.load().f32.add();
        f.set(x);
        if (epi.activation) {
          f.get(x).f32x4.splat().set(v);
          epi.activation(f, v);
          f.f32x4.extract_lane(0).set(x);
        }
        addr().get(x).f32.store();
      });
    });
  });
}

// ---- a standalone kernel ------------------------------------------------------------------------

/** A matmul compiled into its own module, with its own packing space, run on the thread pool. */
export interface WasmMatmul {
  /** C = act(op(A)·op(B) [+ C] [+ bias]); byte pointers into the heap. */
  run(a: number, b: number, c: number, bias?: number, nthreads?: number): void;
  readonly spec: WasmMatmulSpec;
  readonly batch: readonly number[];
  readonly flops: number;
  /** At most this many threads take part. */
  readonly parallel: number;
  /** Frees the packing space. */
  dispose(): void;
}

/**
 * Compiles `spec` into a module of its own (tests, benchmarks; the executor emits kernels into one
 * module per program instead).
 * @example
 * const mm = makeMatmul({ m: 1024, n: 1024, k: 1024 });
 * mm.run(aPtr, bPtr, cPtr);
 */
export function makeMatmul(spec: WasmMatmulSpec, tiling: Partial<MatmulTiling> = {}): WasmMatmul {
  const { batch } = checkSpec(spec);
  const h = heap();
  const mb = kernelModuleBuilder(h);
  const k = emitMatmul(mb, spec, tiling);
  mb.exportFunction('matmul', k.func);
  const mod = new WasmModule(mb.compile(), ['matmul'], h);
  const threads = Math.max(1, threadCount());
  let scratch = h.alloc(Math.max(16, k.scratchBytes * threads));
  const sync = h.alloc(16);
  h.u8.fill(0, sync, sync + 16);
  return {
    spec,
    batch: Object.freeze([...batch]),
    flops: 2 * sizeOf(batch) * spec.m * spec.n * spec.k,
    parallel: k.parallel,
    run(a, b, c, bias = 0, nthreads = threads) {
      if (scratch === 0) throw new GraphError('this matmul was disposed', { op: 'matmul' });
      runParallel(mod, 'matmul', Math.min(nthreads, threads, k.parallel), [a, b, c, bias, scratch, sync]);
      h.i32.fill(0, sync / 4, sync / 4 + 4);
    },
    dispose() {
      if (scratch) {
        h.free(scratch);
        h.free(sync);
      }
      scratch = 0;
    },
  };
}
