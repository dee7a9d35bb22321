/// <reference path="./webassembly.d.ts" />
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { sizeOf } from '../../shape';
import { emitMatmul, makeMatmul, MATMUL_SCRATCH_BOUND, MATMUL_TILING, type MatmulTiling, type WasmMatmulSpec } from './matmul';
import { heap } from './memory';
import { kernelModuleBuilder, shutdownThreads, threadCount } from './threads';

const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
const THREADS = threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;
afterAll(() => shutdownThreads());

const ACT: Record<string, (v: number) => number> = {
  identity: (v) => v,
  relu: (v) => (v > 0 ? v : 0),
  tanh: Math.tanh,
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  softplus: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
  exp: Math.exp,
  neg: (v) => -v,
};

/** A seeded uniform in [−1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 31 - 1;
  };
}

/** For each batch element t of `batch`, the flat index of the matrix an operand with batch dims `own` reads. */
function batchIndex(own: readonly number[], batch: readonly number[]): number[] {
  const out: number[] = [];
  const pad = batch.length - own.length;
  for (let t = 0; t < sizeOf(batch); t++) {
    let rem = t;
    const coords = batch.map(() => 0);
    for (let d = batch.length - 1; d >= 0; d--) {
      coords[d] = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
    }
    let at = 0;
    for (let d = 0; d < own.length; d++) at = at * own[d] + (own[d] === 1 ? 0 : coords[pad + d]);
    out.push(at);
  }
  return out;
}

interface Case {
  readonly spec: WasmMatmulSpec;
  readonly seed?: number;
  readonly tiling?: Partial<MatmulTiling>;
}

/** Runs the wasm kernel and a float64 reference; returns both and the bound |error| ≤ 2⁻¹⁸·Σ|a·b| (+ act slack). */
function runCase({ spec, seed = 1, tiling }: Case, nthreads = THREADS, reference = true) {
  const h = heap();
  const { m, n, k } = spec;
  const batchA = spec.batchA ?? [];
  const batchB = spec.batchB ?? [];
  const batch: number[] = [];
  for (let i = 0; i < Math.max(batchA.length, batchB.length); i++) {
    const a = batchA[batchA.length - 1 - i] ?? 1;
    const b = batchB[batchB.length - 1 - i] ?? 1;
    batch.unshift(a === 1 ? b : a);
  }
  const nb = sizeOf(batch);
  const r = rng(seed);
  const A = Float32Array.from({ length: sizeOf(batchA) * m * k }, r);
  const B = Float32Array.from({ length: sizeOf(batchB) * k * n }, r);
  const bias = Float32Array.from({ length: n }, r);
  const C0 = Float32Array.from({ length: nb * m * n }, r);
  // C sits between sentinels: nothing outside it may change
  const guard = 16;
  const pa = h.alloc(A.byteLength + 16);
  const pb = h.alloc(B.byteLength + 16);
  const pbias = h.alloc(bias.byteLength + 16);
  const pc = h.alloc(C0.byteLength + 2 * guard * 4);
  h.f32.set(A, pa / 4);
  h.f32.set(B, pb / 4);
  h.f32.set(bias, pbias / 4);
  h.f32.fill(777, pc / 4, pc / 4 + C0.length + 2 * guard);
  h.f32.set(C0, pc / 4 + guard);
  const mm = makeMatmul(spec, tiling);
  mm.run(pa, pb, pc + guard * 4, spec.bias ? pbias : 0, nthreads);
  const got = h.view(pc + guard * 4, 'float32', C0.length).slice();
  const sentinels = [...h.view(pc, 'float32', guard), ...h.view(pc + (guard + C0.length) * 4, 'float32', guard)];
  mm.dispose();
  for (const p of [pa, pb, pbias, pc]) h.free(p);
  if (!reference) return { got, want: got, pre: got, scale: got, sentinels };
  const want = new Float64Array(C0.length);
  const scale = new Float64Array(C0.length);
  const pre = new Float64Array(C0.length);
  const ai = batchIndex(batchA, batch);
  const bi = batchIndex(batchB, batch);
  const act = ACT[spec.activation ?? 'identity'];
  for (let t = 0; t < nb; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = spec.accumulate ? C0[t * m * n + i * n + j] : 0;
        let sa = Math.abs(s);
        for (let p = 0; p < k; p++) {
          const a = spec.transposeA ? A[ai[t] * m * k + p * m + i] : A[ai[t] * m * k + i * k + p];
          const b = spec.transposeB ? B[bi[t] * k * n + j * k + p] : B[bi[t] * k * n + p * n + j];
          s += a * b;
          sa += Math.abs(a * b);
        }
        if (spec.bias) {
          s += bias[j];
          sa += Math.abs(bias[j]);
        }
        want[t * m * n + i * n + j] = act(s);
        pre[t * m * n + i * n + j] = s;
        scale[t * m * n + i * n + j] = sa;
      }
  return { got, want, pre, scale, sentinels };
}

function expectClose(c: Case, nthreads?: number): void {
  const { got, want, pre, scale, sentinels } = runCase(c, nthreads);
  expect(sentinels.every((v) => v === 777)).toBe(true);
  const act = ACT[c.spec.activation ?? 'identity'];
  for (let i = 0; i < got.length; i++) {
    // the float32 sum is within 2⁻¹⁸·Σ|a·b| of the exact one; the activation moves that error by its slope
    const d = 2 ** -18 * scale[i];
    const tol = Math.max(Math.abs(act(pre[i] + d) - want[i]), Math.abs(act(pre[i] - d) - want[i])) + 4e-7 * Math.abs(want[i]) + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      throw new Error(`${JSON.stringify(c.spec)} ${JSON.stringify(c.tiling ?? {})}: element ${i} is ${got[i]}, want ${want[i]} (±${tol})`);
    }
  }
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 9, 7],
  [6, 1, 5],
  [4, 3, 0],
  [3, 4, 1],
  [5, 8, 4],
  [7, 13, 9],
  [16, 16, 16],
  [33, 17, 300], // two K blocks
  [12, 31, 520], // three K blocks of 174
  [130, 20, 10], // two M blocks (MC = 120)
  [3, 530, 5], // two N blocks (NC = 512)
];

describe('wasm matmul', () => {
  it('has the documented tiling', () => {
    expect(MATMUL_TILING).toMatchObject({ MR: 5, NR: 8, U: 1 });
  });

  for (const [m, n, k] of SHAPES) {
    it(`${m}×${k} · ${k}×${n}, every transpose`, () => {
      for (const transposeA of [false, true]) for (const transposeB of [false, true]) expectClose({ spec: { m, n, k, transposeA, transposeB } });
    });
  }

  it('batches with broadcasting, folded and not', () => {
    const cases: WasmMatmulSpec[] = [
      { m: 7, n: 5, k: 6, batchA: [2, 3], batchB: [3] },
      { m: 7, n: 5, k: 6, batchA: [4], batchB: [] }, // folds into m = 28
      { m: 7, n: 5, k: 6, batchA: [4], batchB: [1] },
      { m: 3, n: 9, k: 4, batchA: [2, 1], batchB: [1, 3], transposeA: true },
      { m: 3, n: 9, k: 4, batchA: [], batchB: [5], transposeB: true },
      { m: 0, n: 4, k: 3, batchA: [2] },
      { m: 2, n: 4, k: 3, batchA: [0] },
    ];
    for (const spec of cases) expectClose({ spec });
  });

  it('fuses the bias and the activation into the epilogue, and accumulates', () => {
    for (const activation of Object.keys(ACT))
      for (const [m, n, k] of [
        [7, 13, 9],
        [33, 17, 300],
        [2, 3, 0],
      ] as const) {
        expectClose({ spec: { m, n, k, bias: true, activation } });
        expectClose({ spec: { m, n, k, activation, accumulate: true } });
      }
  });

  it('is bit-identical for 1, 2 and 3 threads', () => {
    expect(THREADS).toBe(3);
    const specs: WasmMatmulSpec[] = [
      { m: 150, n: 170, k: 300, bias: true, activation: 'tanh' },
      { m: 512, n: 37, k: 200, transposeA: true }, // split by rows
      { m: 64, n: 1000, k: 100, transposeB: true }, // split by columns
      { m: 40, n: 48, k: 300, batchA: [6], batchB: [6], accumulate: true },
    ];
    for (const spec of specs) {
      expect(makeMatmul(spec).parallel).toBeGreaterThanOrEqual(3);
      const [one, two, three] = [1, 2, 3].map((t) => runCase({ spec, seed: 5 }, t, false).got);
      expect(new Uint32Array(two.buffer)).toEqual(new Uint32Array(one.buffer));
      expect(new Uint32Array(three.buffer)).toEqual(new Uint32Array(one.buffer));
    }
  });

  test.prop([
    fc.record({
      m: fc.integer({ min: 1, max: 40 }),
      n: fc.integer({ min: 1, max: 40 }),
      k: fc.integer({ min: 0, max: 40 }),
      transposeA: fc.boolean(),
      transposeB: fc.boolean(),
      bias: fc.boolean(),
      accumulate: fc.boolean(),
      activation: fc.constantFrom('identity', 'relu', 'sigmoid'),
      batchA: fc.constantFrom([], [2], [1, 3], [2, 1]),
      batchB: fc.constantFrom([], [2], [3], [1]),
    }),
  ])('matches a float64 product on random shapes and options', (spec) => {
    const compatible = (a: readonly number[], b: readonly number[]) => a.every((d, i) => { const e = b[b.length - a.length + i]; return e === undefined || d === 1 || e === 1 || d === e; });
    fc.pre(compatible(spec.batchA, spec.batchB) && compatible(spec.batchB, spec.batchA));
    expectClose({ spec });
  });

  // the default tile calls the library (mmlib.ts); any other tiling, or library: false, emits its micro-kernels and packing into the module
  const TILINGS: Partial<MatmulTiling>[] = [
    { library: false },
    { MR: 4, NR: 4 },
    { MR: 3, NR: 12, KC: 64, MC: 9, NC: 24 },
    { U: 2 },
    { U: 4, aLoad: 'shuffle' },
    { aLoad: 'scalar' },
    { aLoad: 'add' },
    { packA: true },
    { packA: true, library: false },
    { KC: 16, MC: 10, NC: 16 },
  ];
  it('computes the same products with its own emitted kernels and other tilings', () => {
    for (const tiling of TILINGS)
      for (const [m, n, k] of [
        [1, 9, 7],
        [7, 13, 9],
        [33, 17, 300],
        [130, 20, 10],
      ] as const)
        for (const transposeA of [false, true])
          for (const transposeB of [false, true]) expectClose({ spec: { m, n, k, transposeA, transposeB, bias: true, activation: 'relu', accumulate: m === 7 }, tiling });
  });

  it('gives the same bits from the library as from the same kernels emitted into the module', () => {
    const specs: WasmMatmulSpec[] = [
      { m: 37, n: 29, k: 300, bias: true, activation: 'tanh' },
      { m: 23, n: 45, k: 70, transposeA: true, transposeB: true, accumulate: true },
      { m: 6, n: 11, k: 5, batchA: [3], batchB: [3], transposeB: true },
    ];
    for (const spec of specs) {
      const lib = runCase({ spec, seed: 9 }, THREADS, false).got;
      const own = runCase({ spec, seed: 9, tiling: { library: false } }, THREADS, false).got;
      expect(new Uint32Array(lib.buffer)).toEqual(new Uint32Array(own.buffer));
    }
  });

  it('needs at most MATMUL_SCRATCH_BOUND bytes of packing space per thread (what compile() reserves for)', () => {
    const shapes: [number, number, number][] = [...SHAPES, [1024, 1024, 1024], [784, 512, 128], [128, 512, 784], [5000, 3, 2000], [3, 5000, 2000], [121, 513, 257]];
    let most = 0;
    for (const [m, n, k] of shapes)
      for (const transposeA of [false, true])
        for (const transposeB of [false, true]) most = Math.max(most, emitMatmul(kernelModuleBuilder(), { m, n, k, transposeA, transposeB, batchA: [2] }).scratchBytes);
    expect(most).toBeLessThanOrEqual(MATMUL_SCRATCH_BOUND);
    // and the bound is reached: a transposed A of ≥ MC rows and ≥ NC columns with K ≥ KC
    expect(most).toBe(MATMUL_SCRATCH_BOUND);
  });

  it('emits valid modules for every variant', () => {
    for (const [m, n, k] of SHAPES)
      for (const transposeA of [false, true])
        for (const transposeB of [false, true]) {
          const mb = kernelModuleBuilder();
          emitMatmul(mb, { m, n, k, transposeA, transposeB, bias: true, activation: 'sin', batchA: [2], batchB: [2] });
          expect(WebAssembly.validate(mb.bytes())).toBe(true);
        }
  });

  it('rejects bad specs with typed errors', () => {
    expect(() => makeMatmul({ m: -1, n: 2, k: 2 })).toThrow(ShapeError);
    expect(() => makeMatmul({ m: 2, n: 2.5, k: 2 })).toThrow(ShapeError);
    expect(() => makeMatmul({ m: 2, n: 2, k: 2, batchA: [2], batchB: [3] })).toThrow(/do not broadcast/);
    expect(() => makeMatmul({ m: 2, n: 2, k: 2, activation: 'gelu' })).toThrow(GraphError);
    expect(() => makeMatmul({ m: 2, n: 2, k: 2, dtype: 'float64' } as WasmMatmulSpec)).toThrow(DTypeError);
  });
});
