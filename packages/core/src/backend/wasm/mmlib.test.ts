/// <reference path="./webassembly.d.ts" />
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../tensor';
import { emitMatmul } from './matmul';
import { heap } from './memory';
import { MICRO_MR, MICRO_NR, microImportsOf, microLibraryBytes } from './mmlib';
import { kernelModuleBuilder, microLibrary, shutdownThreads } from './threads';

afterAll(() => shutdownThreads());

/** A seeded source of uniforms in [0, 1): each call returns the next value. */
function rng(seed: number): () => number {
  const values = Tensor.rand([4096], 'float32', seed).data as Float32Array;
  let i = 0;
  return () => values[i++ % values.length];
}

const SENTINEL = 777;
type Fn = (...args: number[]) => void;

describe('the matmul kernel library', () => {
  it('validates for a shared and a plain memory', () => {
    for (const shared of [true, false]) expect(WebAssembly.validate(microLibraryBytes({ shared, maxPages: 1024 }))).toBe(true);
  });

  it('every micro-kernel computes its h×w tile in float32, in k order, and writes nothing else', () => {
    const h = heap();
    const ex = microLibrary(h).exports as Record<string, Fn>;
    const r = rng(3);
    for (const layout of ['rows', 'packed'] as const)
      for (let th = 1; th <= MICRO_MR; th++)
        for (let w = 1; w <= MICRO_NR; w++)
          for (const kc of [0, 1, 6])
            for (const mode of [0, 1]) {
              // A: rows of lda = kc + 3 floats (so the stride is not kc), or MR floats per k packed
              const ldaF = kc + 3;
              const A = Float32Array.from({ length: layout === 'rows' ? th * ldaF : MICRO_MR * kc }, r);
              const B = Float32Array.from({ length: MICRO_NR * kc }, r);
              // C: rows of ldc = w + 5 floats, the tile at column 2 of the second row, sentinels around it
              const ldcF = w + 5;
              const at = (i: number, j: number) => ldcF + 2 + i * ldcF + j;
              const cBuf = new Float32Array((th + 2) * ldcF).fill(SENTINEL);
              for (let i = 0; i < th; i++) for (let j = 0; j < w; j++) cBuf[at(i, j)] = r();
              const pa = h.alloc(A.byteLength + 16);
              const pb = h.alloc(B.byteLength + 16);
              const pC = h.alloc(cBuf.byteLength);
              h.f32.set(A, pa / 4);
              h.f32.set(B, pb / 4);
              h.f32.set(cBuf, pC / 4);
              ex[`${layout === 'rows' ? 'r' : 'p'}${th}x${w}`](pa, pb, pC + at(0, 0) * 4, kc, mode, ldaF * 4, ldcF * 4);
              const got = h.view(pC, 'float32', cBuf.length).slice();
              for (let x = 0; x < cBuf.length; x++) {
                const i = Math.floor((x - at(0, 0)) / ldcF);
                const j = x - at(0, 0) - i * ldcF;
                if (!(x >= at(0, 0) && i < th && j >= 0 && j < w)) {
                  expect(got[x], `${layout} ${th}×${w} kc ${kc}: element ${x} outside the tile`).toBe(SENTINEL);
                  continue;
                }
                let s = mode ? cBuf[x] : 0;
                for (let p = 0; p < kc; p++) {
                  const a = layout === 'rows' ? A[i * ldaF + p] : A[p * MICRO_MR + i];
                  s = Math.fround(s + Math.fround(a * B[p * MICRO_NR + j]));
                }
                expect(got[x], `${layout} ${th}×${w} kc ${kc} mode ${mode}: C[${i}, ${j}]`).toBe(s);
              }
              for (const p of [pa, pb, pC]) h.free(p);
            }
  });

  it('packs op(B) into NR-wide panels and op(A) into MR-high panels, zero-padded', () => {
    const h = heap();
    const ex = microLibrary(h).exports as Record<string, Fn>;
    const r = rng(7);
    // [rows, cols of op(X)] and the packed window
    const cases = [
      { K: 9, N: 21, pc: 2, kc: 7, j0: 8, nc: 13 }, // partial last panel
      { K: 13, N: 16, pc: 0, kc: 13, j0: 0, nc: 16 }, // full panels only, kc not a multiple of 4
      { K: 4, N: 5, pc: 0, kc: 4, j0: 0, nc: 5 }, // one partial panel
      { K: 10, N: 24, pc: 3, kc: 5, j0: 8, nc: 8 }, // a window inside
    ];
    /** Runs packing function `fn` on `src` into `panels` panels of `kc` × `width` floats; checks each against `want` and that nothing past them changed. */
    const check = (fn: string, src: Float32Array, args: number[], panels: number, kc: number, width: number, want: (q: number, p: number, lane: number) => number) => {
      const out = panels * kc * width;
      const ps = h.alloc(src.byteLength);
      const dst = h.alloc(out * 4 + 64);
      h.f32.set(src, ps / 4);
      h.f32.fill(SENTINEL, dst / 4, dst / 4 + out + 16);
      ex[fn](ps, dst, ...args);
      const got = h.view(dst, 'float32', out + 16).slice();
      for (let q = 0; q < panels; q++)
        for (let p = 0; p < kc; p++) for (let l = 0; l < width; l++) expect(got[(q * kc + p) * width + l], `${fn} ${args}: panel ${q}, k ${p}, lane ${l}`).toBe(want(q, p, l));
      expect(got.slice(out).every((v) => v === SENTINEL)).toBe(true);
      h.free(ps);
      h.free(dst);
    };
    for (const { K, N, pc, kc, j0, nc } of cases)
      for (const t of [false, true]) {
        // packB: op(B) is K×N (B stored N×K when transposed); zeros past column N
        const B = Float32Array.from({ length: K * N }, r);
        const opB = (p: number, j: number) => (t ? B[j * K + p] : B[p * N + j]);
        check(t ? 'pbt' : 'pbn', B, [pc, kc, j0, nc, N, K], Math.ceil(nc / MICRO_NR), kc, MICRO_NR, (q, p, l) => {
          const j = j0 + q * MICRO_NR + l;
          return j < N ? opB(pc + p, j) : 0;
        });
      }
    // packA: op(A) is M×K (A stored K×M when transposed), rows [i0, i0 + mc); zeros past row M
    for (const { M, K, i0, mc, pc, kc } of [
      { M: 13, K: 6, i0: 5, mc: 8, pc: 1, kc: 4 }, // the last panel has 3 rows
      { M: 10, K: 3, i0: 0, mc: 10, pc: 0, kc: 3 },
      { M: 2, K: 5, i0: 0, mc: 2, pc: 2, kc: 3 },
    ])
      for (const t of [false, true]) {
        const A = Float32Array.from({ length: M * K }, r);
        const opA = (i: number, p: number) => (t ? A[p * M + i] : A[i * K + p]);
        check(t ? 'pat' : 'pan', A, [i0, mc, pc, kc, M, K], Math.ceil(mc / MICRO_MR), kc, MICRO_MR, (q, p, l) => {
          const i = i0 + q * MICRO_MR + l;
          return i < M ? opA(i, pc + p) : 0;
        });
      }
  });

  it('is imported by every kernel module, which then holds only the shape-specific drivers and epilogues', () => {
    const count = (library: boolean) => {
      const mb = kernelModuleBuilder();
      const before = mb.nextFuncIndex;
      emitMatmul(mb, { m: 128, n: 10, k: 256, bias: true, activation: 'relu', transposeA: true }, { library });
      return { defined: mb.nextFuncIndex - before, bytes: mb.bytes(), mb };
    };
    const lib = count(true);
    const own = count(false);
    expect(microImportsOf(lib.mb)).toBeDefined();
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(lib.bytes)).filter((i) => i.module === 'lib');
    expect(imports.length).toBe(2 * MICRO_MR * MICRO_NR + 4);
    // with the library: the driver, the batch loop and one epilogue per edge case; without it, also
    // the packing functions and a micro-kernel per edge case
    expect(lib.defined).toBeLessThan(own.defined);
    expect(lib.bytes.length).toBeLessThan(own.bytes.length);
  });
});
