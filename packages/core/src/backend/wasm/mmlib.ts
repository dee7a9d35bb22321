/**
 * The matmul kernel library: the inner loops of every matmul, with the shapes and strides as
 * arguments instead of constants — every h×w micro-kernel of the default register tile (h ≤ 5
 * rows, w ≤ 8 columns, for op(A) read where it lies and for op(A) packed) and the packing of
 * op(A) and op(B) into panels — in one module per heap, built once per process. Every kernel
 * module imports them (`kernelModuleBuilder` declares the imports), so all the programs of a
 * process run their matmuls on the same functions: a model structure compiled for the first time
 * finds them already optimized by V8 (a function freshly compiled runs on V8's baseline code,
 * 2–4× slower for these loops, until V8 has counted enough calls to optimize it), and its module
 * holds only the matmul drivers and epilogues that depend on its shapes.
 *
 * API (for matmul.ts and threads.ts):
 * - `declareMicroImports(mb)` (before any function is defined) imports the library's functions
 *   from `lib`; `microImportsOf(mb)` gives their indices: `micro[layout][h − 1][w − 1]`,
 *   `packB[tb ? 1 : 0]`, `packA[ta ? 1 : 0]`.
 * - `microLibraryBytes({ shared, maxPages })`: the library module (it imports `env.memory`); an
 *   instantiation passes `{ lib: instance.exports }` next to `env`.
 * - `micro(a, b, c, kc, mode, lda, ldc)`: the h×w tile of C at byte address `c` (row stride `ldc`
 *   bytes) ← [C if mode & 1, else 0] + Σ over kc steps of A's column · B's packed row. B is a
 *   packed panel (NR floats per k, at `b`). A: `rows` layout, row i of the tile at `a + i·lda`,
 *   one float per k; `packed` layout, MR floats per k at `a` (lda unused).
 * - `packB(b, dst, pc, kc, j0, nc, N, K)`: op(B)[pc:pc+kc, j0:j0+nc] into NR-wide panels at dst,
 *   panel q at dst + q·kc·NR·4, NR floats per k, zero-padded past column N (B is K×N, or N×K
 *   when transposed).
 * - `packA(a, dst, i0, mc, pc, kc, M, K)`: op(A)[i0:i0+mc, pc:pc+kc] into MR-high panels at dst,
 *   panel at dst + ((i − i0)/MR)·kc·MR·4, MR floats per k, zero-padded past row M (A is M×K, or
 *   K×M when transposed).
 * - `emitMicro(mb, name, h, w, packed, tile?)`, `emitPackB(mb, NR, tb)`, `emitPackA(mb, MR, ta)`:
 *   the emitters of those functions — the library's are the default tile's; matmul.ts emits
 *   another tiling's (or, with `library: false`, the default's) into its own module.
 * - `loadLanes`/`storeLanes`: lane-exact loads and stores of the first 1–4 f32 lanes (nothing
 *   outside the operands is read or written), shared with matmul.ts's own emitters.
 *
 * The epilogue (bias, activation) is not here: it depends on the spec, and runs once per tile.
 */
import { FunctionBuilder, ModuleBuilder } from './encoder';

/** The default register tile: MR rows × NR columns (NR/4 f32x4 accumulators per row). */
export const MICRO_MR = 5;
export const MICRO_NR = 8;
/** mode bit: start from C instead of zero. */
export const LOAD_C = 1;

export type MicroLayout = 'rows' | 'packed';
const LAYOUTS: readonly MicroLayout[] = ['rows', 'packed'];
const SIG = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'] as const;

/** Function indices of the library's functions in a module. */
export interface MicroImports {
  /** `micro[layout][h − 1][w − 1]`. */
  readonly micro: Readonly<Record<MicroLayout, readonly (readonly number[])[]>>;
  /** `[plain, transposed]`. */
  readonly packB: readonly [number, number];
  readonly packA: readonly [number, number];
}
const PACK_SIG = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'] as const;
const PACKS = [
  ['pbn', 'B', false],
  ['pbt', 'B', true],
  ['pan', 'A', false],
  ['pat', 'A', true],
] as const;

const declared = new WeakMap<ModuleBuilder, MicroImports>();

const exportName = (layout: MicroLayout, h: number, w: number) => `${layout === 'rows' ? 'r' : 'p'}${h}x${w}`;

/** Imports every library kernel from `lib` (before any function is defined); returns their indices. */
export function declareMicroImports(mb: ModuleBuilder): MicroImports {
  const micro = {} as Record<MicroLayout, number[][]>;
  for (const layout of LAYOUTS) {
    micro[layout] = [];
    for (let h = 1; h <= MICRO_MR; h++) {
      const row: number[] = [];
      for (let w = 1; w <= MICRO_NR; w++) row.push(mb.importFunction('lib', exportName(layout, h, w), SIG, []));
      micro[layout].push(row);
    }
  }
  const [pbn, pbt, pan, pat] = PACKS.map(([name]) => mb.importFunction('lib', name, PACK_SIG, []));
  const out: MicroImports = { micro, packB: [pbn, pbt], packA: [pan, pat] };
  declared.set(mb, out);
  return out;
}

/** The library imports `declareMicroImports` declared in `mb`, if it did. */
export function microImportsOf(mb: ModuleBuilder): MicroImports | undefined {
  return declared.get(mb);
}

/** The library module's bytes, for a memory that is shared or not and grows to `maxPages`. */
export function microLibraryBytes(mem: { shared: boolean; maxPages: number }): Uint8Array {
  const mb = new ModuleBuilder();
  mb.importMemory('env', 'memory', { initial: 1, maximum: mem.maxPages, shared: mem.shared });
  for (const layout of LAYOUTS) for (let h = 1; h <= MICRO_MR; h++) for (let w = 1; w <= MICRO_NR; w++) emitMicro(mb, exportName(layout, h, w), h, w, layout === 'packed');
  for (const [name, which, t] of PACKS) (which === 'B' ? emitPackB(mb, MICRO_NR, t, name) : emitPackA(mb, MICRO_MR, t, name));
  return mb.bytes();
}

// ---- lane-exact loads and stores of the first `lanes` f32 lanes -----------------------------------

/** Pushes a v128 holding f32 lanes [0, lanes) from `ptr + offset` (the other lanes 0). */
export function loadLanes(f: FunctionBuilder, ptr: number, offset: number, lanes: number): void {
  f.get(ptr);
  if (lanes === 4) f.v128.load(offset, 2);
  else if (lanes === 1) f.v128.load32_zero(offset);
  else {
    f.v128.load64_zero(offset);
    if (lanes === 3) {
      const t = f.local('v128');
      f.set(t);
      f.get(ptr).get(t).v128.load32_lane(2, offset + 8);
    }
  }
}

/** Stores f32 lanes [0, lanes) of the v128 in local `v` at `ptr + offset`. */
export function storeLanes(f: FunctionBuilder, ptr: number, offset: number, lanes: number, v: number): void {
  f.get(ptr).get(v);
  if (lanes === 4) f.v128.store(offset, 2);
  else if (lanes === 1) f.v128.store32_lane(0, offset);
  else {
    f.v128.store64_lane(0, offset);
    if (lanes === 3) f.get(ptr).get(v).v128.store32_lane(2, offset + 8);
  }
}

/** A register tile and its k loop: what a micro-kernel is emitted for (matmul.ts's `MatmulTiling` has these fields). */
export interface MicroTile {
  readonly MR: number;
  readonly NR: number;
  /** k steps per loop iteration (a power of two). */
  readonly U: number;
  /** How A values are broadcast: load32_splat at an offset, f32.load + splat, an add then load32_splat, or 4 k at once + lane shuffles. */
  readonly aLoad: 'splat' | 'scalar' | 'shuffle' | 'add';
}
const DEFAULT_TILE: MicroTile = { MR: MICRO_MR, NR: MICRO_NR, U: 1, aLoad: 'splat' };

/**
 * `micro(a, b, c, kc, mode, lda, ldc)` (see the header) for an h×w tile (h ≤ MR, w ≤ NR) of
 * `tile`: the library's kernels are the default tile's; matmul.ts emits other tiles' into its
 * module. The k loop keeps the h·⌈w/4⌉ accumulators, ⌈w/4⌉ B vectors and the splat of A in
 * registers (5×8: 13 of x64's 16 vector registers). With A read in place each row of A has its
 * own pointer, moved 4 bytes per k step, so every load is at a constant offset from a register,
 * as when the strides were compiled in (the same speed, measured). The epilogue is not here: in
 * this function TurboFan's register allocator keeps every accumulator in a register through the
 * k loop (with bias and activation inside, it spilled three per k step).
 */
export function emitMicro(mb: ModuleBuilder, name: string | null, h: number, w: number, packed: boolean, tile: MicroTile = DEFAULT_TILE): number {
  const { MR, NR, U } = tile;
  const nv = Math.ceil(w / 4);
  const lastLanes = w - 4 * (nv - 1);
  const lanesOf = (v: number) => (v === nv - 1 ? lastLanes : 4);
  // 'shuffle' loads 4 k of a row at once: only where a row's k steps are adjacent (A not packed)
  const aLoad = tile.aLoad === 'shuffle' && packed ? 'splat' : tile.aLoad;
  return mb.func(name, SIG, [], (f) => {
    const [a, b, c, kc, mode, lda, ldc] = [0, 1, 2, 3, 4, 5, 6];
    const acc = Array.from({ length: h }, () => Array.from({ length: nv }, () => f.local('v128')));
    const bv = Array.from({ length: nv }, () => f.local('v128'));
    const av = f.local('v128');
    const end = f.local('i32');
    const cp = f.local('i32');
    // A[row i, k step u] is at aPtr(i) + aOff(i, u); every pointer moves aStep bytes per k step
    const rows = packed ? [a] : Array.from({ length: h }, (_, i) => (i === 0 ? a : f.local('i32')));
    const aPtr = (i: number) => (packed ? a : rows[i]);
    const aOff = (i: number, u: number) => (packed ? (u * MR + i) * 4 : u * 4);
    const aStep = packed ? MR * 4 : 4;
    // accumulators: C or 0
    f.get(mode).i32.const(LOAD_C).i32.and();
    f.if(
      () => {
        f.get(c).set(cp);
        for (let i = 0; i < h; i++) {
          for (let v = 0; v < nv; v++) {
            loadLanes(f, cp, v * 16, lanesOf(v));
            f.set(acc[i][v]);
          }
          if (i < h - 1) f.get(cp).get(ldc).i32.add().set(cp);
        }
      },
      () => {
        for (let i = 0; i < h; i++)
          for (let v = 0; v < nv; v++) {
            f.v128.constF32(0);
            f.set(acc[i][v]);
          }
      },
    );
    for (let i = 1; i < rows.length; i++) f.get(rows[i - 1]).get(lda).i32.add().set(rows[i]);
    const aVec = aLoad === 'shuffle' ? Array.from({ length: h }, () => f.local('v128')) : [];
    const splatA = (i: number, u: number) => {
      switch (aLoad) {
        case 'splat':
          f.get(aPtr(i)).v128.load32_splat(aOff(i, u));
          break;
        case 'add':
          f.get(aPtr(i)).i32.const(aOff(i, u)).i32.add().v128.load32_splat();
          break;
        case 'scalar':
          f.get(aPtr(i)).f32.load(aOff(i, u)).f32x4.splat();
          break;
        case 'shuffle': {
          if (u % 4 === 0) f.get(aPtr(i)).v128.load(aOff(i, u), 2).set(aVec[i]);
          f.get(aVec[i]).get(aVec[i]).i8x16.shuffle(Array.from({ length: 16 }, (_, j) => (u % 4) * 4 + (j % 4)));
          break;
        }
      }
    };
    const step = (u: number, single = false) => {
      for (let v = 0; v < nv; v++) f.get(b).v128.load(u * NR * 4 + v * 16, 4).set(bv[v]);
      for (let i = 0; i < h; i++) {
        // (a single step — the tail — splats from memory)
        if (single && aLoad === 'shuffle') f.get(aPtr(i)).v128.load32_splat(aOff(i, u));
        else splatA(i, u);
        f.set(av);
        for (let v = 0; v < nv; v++) f.get(acc[i][v]).get(av).get(bv[v]).f32x4.mul().f32x4.add().set(acc[i][v]);
      }
    };
    const advance = (ksteps: number) => {
      if (packed) f.get(a).i32.const(ksteps * aStep).i32.add().set(a);
      else for (const r of rows) f.get(r).i32.const(ksteps * aStep).i32.add().set(r);
      f.get(b).i32.const(ksteps * NR * 4).i32.add().tee(b);
    };
    // main loop, U steps per iteration: end = b + (kc − kc mod U)·NR·4
    f.get(b).get(kc).i32.const(-U).i32.and().i32.const(NR * 4).i32.mul().i32.add().set(end);
    f.get(b).get(end).i32.lt_u();
    f.if(() => {
      f.loop((top) => {
        for (let u = 0; u < U; u++) step(u);
        advance(U);
        f.get(end).i32.lt_u().br_if(top);
      });
    });
    // the last kc mod U steps
    if (U > 1) {
      f.get(end).get(kc).i32.const(U - 1).i32.and().i32.const(NR * 4).i32.mul().i32.add().set(end);
      f.get(b).get(end).i32.lt_u();
      f.if(() => {
        f.loop((top) => {
          step(0, true);
          advance(1);
          f.get(end).i32.lt_u().br_if(top);
        });
      });
    }
    f.get(c).set(cp);
    for (let i = 0; i < h; i++) {
      for (let v = 0; v < nv; v++) storeLanes(f, cp, v * 16, lanesOf(v), acc[i][v]);
      if (i < h - 1) f.get(cp).get(ldc).i32.add().set(cp);
    }
  });
}

// ---- packing ---------------------------------------------------------------------------------------

/**
 * `packB(b, dst, pc, kc, j0, nc, N, K)` for NR-wide panels (see the header); returns its index.
 * Plain B is copied row by row (contiguous reads, NR/4 vectors per panel row); Bᵀ panel by
 * panel, 4 k at a time, each 4×4 block transposed with shuffles.
 */
export function emitPackB(mb: ModuleBuilder, NR: number, tb: boolean, name: string | null = null): number {
  return mb.func(name, PACK_SIG, [], (f) => {
    const [b, dst, pc, kc, j0, nc, N, K] = [0, 1, 2, 3, 4, 5, 6, 7];
    const q = f.local('i32'); // panel start column (absolute)
    const jEnd = f.local('i32');
    const fullEnd = f.local('i32'); // end of the full panels
    const p = f.local('i32');
    const src = f.local('i32');
    const out = f.local('i32');
    const w = f.local('i32');
    const pEnd = f.local('i32');
    const rp = f.local('i32');
    const ld = f.local('i32'); // B's row stride in bytes
    const r = Array.from({ length: 4 }, () => f.local('v128'));
    const tt = Array.from({ length: 4 }, () => f.local('v128'));
    const panelBytes = f.local('i32');
    f.get(j0).get(nc).i32.add().set(jEnd);
    f.get(kc).i32.const(NR * 4).i32.mul().set(panelBytes);
    // full panels end at the last multiple of NR within [j0, min(jEnd, N − N mod NR))
    f.get(N).get(N).i32.const(NR).i32.rem_u().i32.sub().set(fullEnd);
    f.get(jEnd).get(fullEnd).get(jEnd).get(fullEnd).i32.lt_s().select().set(fullEnd);
    if (!tb) {
      // B[p, j0:fullEnd] row by row (contiguous reads), NR/4 vectors into each panel
      f.get(N).i32.const(4).i32.mul().set(ld);
      f.get(b).get(pc).get(N).i32.mul().get(j0).i32.add().i32.const(4).i32.mul().i32.add().set(src);
      f.forRange(p, 0, { local: kc }, 1, () => {
        f.get(dst).get(p).i32.const(NR * 4).i32.mul().i32.add().set(out);
        f.get(src).set(rp);
        f.forRange(q, { local: j0 }, { local: fullEnd }, NR, () => {
          for (let v = 0; v < NR / 4; v++) f.get(out).get(rp).v128.load(v * 16, 2).v128.store(v * 16, 4);
          f.get(rp).i32.const(NR * 4).i32.add().set(rp);
          f.get(out).get(panelBytes).i32.add().set(out);
        });
        f.get(src).get(ld).i32.add().set(src);
      });
    } else {
      // Bᵀ: B[q + j, p] for j < NR, panel by panel; 4 k at a time
      f.get(K).i32.const(4).i32.mul().set(ld);
      f.get(dst).set(out);
      f.forRange(q, { local: j0 }, { local: fullEnd }, NR, () => {
        f.get(b).get(q).get(K).i32.mul().get(pc).i32.add().i32.const(4).i32.mul().i32.add().set(src);
        f.get(kc).i32.const(-4).i32.and().set(pEnd);
        f.forRange(p, 0, { local: pEnd }, 4, () => {
          f.get(src).set(rp);
          for (let g = 0; g < NR / 4; g++) {
            for (let jj = 0; jj < 4; jj++) {
              f.get(rp).v128.load(0, 2).set(r[jj]);
              f.get(rp).get(ld).i32.add().set(rp);
            }
            transpose4(f, r, tt);
            for (let s = 0; s < 4; s++) f.get(out).get(r[s]).v128.store(s * NR * 4 + g * 16, 4);
          }
          f.get(src).i32.const(16).i32.add().set(src);
          f.get(out).i32.const(4 * NR * 4).i32.add().set(out);
        });
        f.forRange(p, { local: pEnd }, { local: kc }, 1, () => {
          f.get(src).set(rp);
          for (let jj = 0; jj < NR; jj++) {
            f.get(out).get(rp).f32.load().f32.store(jj * 4);
            f.get(rp).get(ld).i32.add().set(rp);
          }
          f.get(src).i32.const(4).i32.add().set(src);
          f.get(out).i32.const(NR * 4).i32.add().set(out);
        });
      });
    }
    // the last, partial panel (at N − N mod NR, when it is in range): w columns, then zeros
    f.get(fullEnd).get(jEnd).i32.lt_s();
    f.if(() => {
      f.get(fullEnd).set(q);
      f.get(N).get(q).i32.sub().set(w);
      f.get(dst).get(q).get(j0).i32.sub().get(kc).i32.mul().i32.const(4).i32.mul().i32.add().set(out);
      f.forRange(p, 0, { local: kc }, 1, () => {
        for (let jj = 0; jj < NR; jj++) {
          f.get(out);
          f.get(w).i32.const(jj).i32.gt_s();
          f.if(
            () => {
              // op(B)[pc + p, q + jj]
              f.get(b);
              if (!tb) f.get(pc).get(p).i32.add().get(N).i32.mul().get(q).i32.add().i32.const(jj).i32.add();
              else f.get(q).i32.const(jj).i32.add().get(K).i32.mul().get(pc).i32.add().get(p).i32.add();
              f.i32.const(4).i32.mul().i32.add().f32.load();
            },
            () => void f.f32.const(0),
            'f32',
          );
          f.f32.store(jj * 4);
        }
        f.get(out).i32.const(NR * 4).i32.add().set(out);
      });
    });
  });
}

/** Transposes the 4×4 f32 block in locals r (rows) into r (columns), using tt as temporaries. */
function transpose4(f: FunctionBuilder, r: number[], tt: number[]): void {
  const sh = (x: number, y: number, lanes: number[]) => {
    f.get(x).get(y).i8x16.shuffle(lanes.flatMap((l) => [l * 4, l * 4 + 1, l * 4 + 2, l * 4 + 3]));
  };
  sh(r[0], r[1], [0, 4, 1, 5]);
  f.set(tt[0]);
  sh(r[0], r[1], [2, 6, 3, 7]);
  f.set(tt[1]);
  sh(r[2], r[3], [0, 4, 1, 5]);
  f.set(tt[2]);
  sh(r[2], r[3], [2, 6, 3, 7]);
  f.set(tt[3]);
  sh(tt[0], tt[2], [0, 1, 4, 5]);
  f.set(r[0]);
  sh(tt[0], tt[2], [2, 3, 6, 7]);
  f.set(r[1]);
  sh(tt[1], tt[3], [0, 1, 4, 5]);
  f.set(r[2]);
  sh(tt[1], tt[3], [2, 3, 6, 7]);
  f.set(r[3]);
}

/**
 * `packA(a, dst, i0, mc, pc, kc, M, K)` for MR-high panels (see the header); returns its index.
 * A full panel is copied without a test per element; the last one tests each row against M.
 */
export function emitPackA(mb: ModuleBuilder, MR: number, ta: boolean, name: string | null = null): number {
  return mb.func(name, PACK_SIG, [], (f) => {
    const [a, dst, i0, mc, pc, kc, M, K] = [0, 1, 2, 3, 4, 5, 6, 7];
    const q = f.local('i32');
    const iEnd = f.local('i32');
    const p = f.local('i32');
    const out = f.local('i32');
    const h = f.local('i32');
    const src = f.local('i32');
    const step = f.local('i32');
    const ld = f.local('i32');
    // op(A)[q + ii, pc + p] is at a + 4·((pc + p)·M + q + ii) when A is stored transposed (K×M),
    // else at a + 4·((q + ii)·K + pc + p): src points at ii = 0, p moves it by `step` bytes, ii by
    // 4 (transposed) or `ld` = 4·K
    if (ta) f.get(M).i32.const(4).i32.mul().set(step);
    else {
      f.i32.const(4).set(step);
      f.get(K).i32.const(4).i32.mul().set(ld);
    }
    f.get(i0).get(mc).i32.add().set(iEnd);
    f.get(dst).set(out);
    f.forRange(q, { local: i0 }, { local: iEnd }, MR, () => {
      f.get(M).get(q).i32.sub().set(h);
      f.get(a);
      if (ta) f.get(pc).get(M).i32.mul().get(q).i32.add();
      else f.get(q).get(K).i32.mul().get(pc).i32.add();
      f.i32.const(4).i32.mul().i32.add().set(src);
      const copy = (guarded: boolean) =>
        f.forRange(p, 0, { local: kc }, 1, () => {
          for (let ii = 0; ii < MR; ii++) {
            f.get(out);
            // (transposed: the MR values of one k are adjacent)
            const load = () => void (ta ? f.get(src).f32.load(ii * 4) : f.get(src).get(ld).i32.const(ii).i32.mul().i32.add().f32.load());
            if (!guarded) load();
            else f.get(h).i32.const(ii).i32.gt_s().if(load, () => void f.f32.const(0), 'f32');
            f.f32.store(ii * 4);
          }
          f.get(out).i32.const(MR * 4).i32.add().set(out);
          f.get(src).get(step).i32.add().set(src);
        });
      f.get(h).i32.const(MR).i32.ge_s();
      f.if(
        () => copy(false),
        () => copy(true),
      );
    });
  });
}
