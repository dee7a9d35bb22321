import { describe, expect, it } from 'vitest';
import { fc } from '../../testing/index';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { getOp } from '../../registry';
import { sigmoidScalar, softplusScalar } from '../../ops/elementwise';
import { erfScalar } from '../../ops/special';
import { broadcastShapes, sizeOf, stridesOf, type Shape } from '../../shape';
import { Tensor } from '../../tensor';
import { ew, exprTemplate } from './elementwise';
import { makeMatmul, matmulScratchSize, matmulVariantCount, MatmulScratch, MATMUL_BLOCKING, type FloatDType, type MatmulSpec } from './matmul';

type Arr = Float32Array | Float64Array;

/** Deterministic values in [-1, 1) (a tiny LCG, so failures reproduce). */
function fill(arr: Arr, seed: number): Arr {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    arr[i] = s / 2 ** 31 - 1;
  }
  return arr;
}

const ArrOf = (d: FloatDType) => (d === 'float32' ? Float32Array : Float64Array);
const round = (d: FloatDType, v: number) => (d === 'float32' ? Math.fround(v) : v);

const ACTS: Record<string, (v: number) => number> = {
  identity: (v) => v,
  relu: (v) => (v > 0 ? v : 0),
  tanh: Math.tanh,
  sigmoid: sigmoidScalar,
  softplus: softplusScalar,
  // the second round's special functions run in epilogues too (one helper call, one Math call)
  erf: erfScalar,
  asinh: Math.asinh,
};

/**
 * The naive triple loop, written as the unfused graph would compute it: the product summed over
 * p in order in float64 and stored (rounded), then + C₀ (accumulate), + bias, activation — each
 * step rounded to the dtype as the interpreter's stores round it.
 */
function naive(spec: MatmulSpec & { activation?: string }, A: Arr, B: Arr, C0: Arr | undefined, bias: Arr | undefined): Float64Array {
  const { m, n, k, dtype } = spec;
  const batchA = spec.batchA ?? [];
  const batchB = spec.batchB ?? [];
  const batch = broadcastShapes(batchA, batchB) as number[];
  const nb = sizeOf(batch);
  const which = (own: Shape, t: number) => {
    const pad = batch.length - own.length;
    const os = stridesOf(own);
    const bs = stridesOf(batch);
    let at = 0;
    own.forEach((d, i) => {
      if (d !== 1) at += (Math.floor(t / bs[pad + i]) % batch[pad + i]) * os[i];
    });
    return at;
  };
  const act = ACTS[spec.activation ?? 'identity'];
  const out = new Float64Array(nb * m * n);
  for (let t = 0; t < nb; t++) {
    const a0 = which(batchA, t) * m * k;
    const b0 = which(batchB, t) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const a = spec.transposeA ? A[a0 + p * m + i] : A[a0 + i * k + p];
          const b = spec.transposeB ? B[b0 + j * k + p] : B[b0 + p * n + j];
          s += a * b;
        }
        const r = t * m * n + i * n + j;
        let v = round(dtype, s);
        if (spec.accumulate) v = round(dtype, C0![r] + v);
        if (spec.bias) v = round(dtype, v + bias![j]);
        out[r] = round(dtype, act(v));
      }
    }
  }
  return out;
}

interface Case extends MatmulSpec {
  activation?: string;
}

function runCase(c: Case, seed = 1) {
  const Arr = ArrOf(c.dtype);
  const batch = broadcastShapes(c.batchA ?? [], c.batchB ?? []) as number[];
  const A = fill(new Arr(sizeOf(c.batchA ?? []) * c.m * c.k), seed);
  const B = fill(new Arr(sizeOf(c.batchB ?? []) * c.k * c.n), seed + 1);
  const C = fill(new Arr(sizeOf(batch) * c.m * c.n), seed + 2);
  const C0 = C.slice();
  const bias = c.bias ? fill(new Arr(c.n), seed + 3) : undefined;
  makeMatmul(c)(A, 0, B, 0, C, 0, bias, 0);
  return { got: C, want: naive(c, A, B, C0, bias) };
}

/** Max |got − want| / (1 + |want|) over the elements. */
function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
  }
  return e;
}

/**
 * Bit-equal where the kernel's arithmetic is the naive loop's: no accumulate (which adds C₀ first
 * rather than last) and one K block in float32 (more blocks round the stored partial sums).
 */
function expectMatch(c: Case, got: Arr, want: Float64Array) {
  expect(got.length).toBe(want.length);
  const exact = !c.accumulate && (c.dtype === 'float64' || c.k <= MATMUL_BLOCKING.KC);
  if (exact) expect(Array.from(got)).toEqual(Array.from(want));
  else expect(maxRelErr(got, want)).toBeLessThan(c.dtype === 'float64' ? 1e-13 : 2e-5);
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 5, 7],
  [5, 1, 7],
  [1, 1, 9],
  [3, 4, 1],
  [3, 4, 0],
  [0, 4, 5],
  [4, 0, 5],
  [2, 3, 4],
  [7, 9, 13],
  [97, 101, 37],
  [100, 70, 300], // K spans two K blocks
  [200, 9, 10], // M spans three M blocks
  [4, 2051, 3], // N spans two N blocks
  [1, 130, 260], // the axpy path
  [130, 1, 260], // the dot path
];

describe('makeMatmul against the naive triple loop', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [m, n, k] of SHAPES) {
      it(`${dtype} ${m}×${k} · ${k}×${n}, all four transposes`, () => {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            const c: Case = { dtype, m, n, k, transposeA, transposeB };
            const { got, want } = runCase(c, m * 7 + n * 13 + k);
            expectMatch(c, got, want);
          }
        }
      });
    }
  }

  it('float64 results are bit-identical to the reference kernel of the matmul primitive', () => {
    const def = getOp('matmul');
    for (const [m, n, k] of [[33, 17, 300], [8, 8, 8], [1, 20, 30]] as const) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const a = new Tensor('float64', [2, transposeA ? k : m, transposeA ? m : k], fill(new Float64Array(2 * m * k), 3) as Float64Array);
          const b = new Tensor('float64', [transposeB ? n : k, transposeB ? k : n], fill(new Float64Array(k * n), 4) as Float64Array);
          const attrs = { transposeA, transposeB };
          const ref = def.kernel([a, b], attrs, { out: def.infer([a, b], attrs) as never, node: undefined as never });
          const C = new Float64Array(2 * m * n);
          makeMatmul({ dtype: 'float64', m, n, k, transposeA, transposeB, batchA: [2] })(a.data as Float64Array, 0, b.data as Float64Array, 0, C, 0);
          expect(Array.from(C)).toEqual(Array.from(ref.data));
        }
      }
    }
  });
});

describe('batched matmul with broadcast batch dims', () => {
  const cases: [Shape, Shape][] = [
    [[3], []], // folds A's batch into m
    [[], [3]],
    [[3], [3]],
    [[2, 1, 3], [4, 1]],
    [[1], [5]],
    [[2, 0], [2, 1]], // an empty batch
  ];
  for (const [batchA, batchB] of cases) {
    it(`batch ${JSON.stringify(batchA)} with ${JSON.stringify(batchB)}`, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            const c: Case = { dtype, m: 5, n: 6, k: 7, transposeA, transposeB, batchA, batchB };
            const { got, want } = runCase(c, 11);
            expectMatch(c, got, want);
          }
        }
      }
    });
  }

  it('a batch folded into m and one that is not give the same numbers', () => {
    const A = fill(new Float64Array(4 * 10 * 6), 5) as Float64Array;
    const B = fill(new Float64Array(6 * 9), 6) as Float64Array;
    const folded = new Float64Array(4 * 10 * 9);
    makeMatmul({ dtype: 'float64', m: 10, n: 9, k: 6, batchA: [4], batchB: [1] })(A, 0, B, 0, folded, 0);
    const oneByOne = new Float64Array(4 * 10 * 9);
    const single = makeMatmul({ dtype: 'float64', m: 10, n: 9, k: 6 });
    for (let t = 0; t < 4; t++) single(A, t * 60, B, 0, oneByOne, t * 90);
    expect(Array.from(folded)).toEqual(Array.from(oneByOne));
  });
});

describe('epilogues and accumulation', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const activation of Object.keys(ACTS)) {
      it(`${dtype}: bias then ${activation}, equal to the unfused ops`, () => {
        for (const [m, n, k] of [[7, 9, 13], [40, 33, 20], [1, 6, 5], [6, 1, 5], [4, 5, 0]] as const) {
          for (const transposeB of [false, true]) {
            const c: Case = { dtype, m, n, k, transposeB, bias: true, activation };
            const { got, want } = runCase(c, 17);
            expectMatch(c, got, want);
            const noBias: Case = { dtype, m, n, k, transposeB, activation };
            const r = runCase(noBias, 19);
            expectMatch(noBias, r.got, r.want);
          }
        }
      });
    }
  }

  it('accumulate: C += op(A)·op(B), with and without an epilogue, across K blocks', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [m, n, k] of [[5, 6, 7], [50, 40, 600], [1, 9, 4], [9, 1, 4], [3, 4, 0]] as const) {
        for (const transposeA of [false, true]) {
          const c: Case = { dtype, m, n, k, transposeA, accumulate: true };
          const { got, want } = runCase(c, 23);
          expectMatch(c, got, want);
          const e: Case = { dtype, m, n, k, transposeA, accumulate: true, bias: true, activation: 'tanh' };
          const r = runCase(e, 29);
          expectMatch(e, r.got, r.want);
        }
      }
    }
  });

  it('an activation given as a template, and one made from an elementwise expression', () => {
    const A = fill(new Float64Array(6 * 5), 1) as Float64Array;
    const B = fill(new Float64Array(5 * 4), 2) as Float64Array;
    const plain = new Float64Array(24);
    makeMatmul({ dtype: 'float64', m: 6, n: 4, k: 5 })(A, 0, B, 0, plain, 0);
    const leaky = new Float64Array(24);
    makeMatmul({ dtype: 'float64', m: 6, n: 4, k: 5, activation: (v) => `(${v} > 0 ? ${v} : 0.01 * ${v})` })(A, 0, B, 0, leaky, 0);
    expect(Array.from(leaky)).toEqual(Array.from(plain, (v) => (v > 0 ? v : 0.01 * v)));
    // 0.5·tanh(v) + v, as the fusion pass would hand it over
    const x = ew.input(0, 'float64');
    const expr = ew.binary('add', ew.binary('mul', ew.constant(0.5, 'float64'), ew.unary('tanh', x)), x);
    const fused = new Float64Array(24);
    makeMatmul({ dtype: 'float64', m: 6, n: 4, k: 5, activation: exprTemplate(expr) })(A, 0, B, 0, fused, 0);
    expect(Array.from(fused)).toEqual(Array.from(plain, (v) => 0.5 * Math.tanh(v) + v));
  });
});

describe('arena views, scratch and variants', () => {
  it('reads and writes only its own region of a shared arena', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const Arr = ArrOf(dtype);
      const [m, n, k] = [13, 11, 17];
      const arena = new Arr(1000).fill(NaN);
      const [aOff, bOff, cOff, biasOff] = [5, 300, 600, 990];
      arena.set(fill(new Arr(m * k), 1), aOff);
      arena.set(fill(new Arr(k * n), 2), bOff);
      arena.set(fill(new Arr(n), 3).subarray(0, 9), biasOff); // bias runs past the end: must not be read
      const shortBias = () => makeMatmul({ dtype, m, n, k, bias: true })(arena, aOff, arena, bOff, arena, cOff, arena, biasOff);
      expect(shortBias).toThrow(ShapeError);
      arena.set(fill(new Arr(n), 3), 970);
      makeMatmul({ dtype, m, n, k, bias: true, activation: 'relu' })(arena, aOff, arena, bOff, arena, cOff, arena, 970);
      const want = naive({ dtype, m, n, k, bias: true, activation: 'relu' }, arena.slice(aOff, aOff + m * k), arena.slice(bOff, bOff + k * n), undefined, arena.slice(970, 970 + n));
      expect(Array.from(arena.subarray(cOff, cOff + m * n))).toEqual(Array.from(want));
      // everything around C is untouched
      expect(Array.from(arena.subarray(cOff - 5, cOff)).every(Number.isNaN)).toBe(true);
      expect(Array.from(arena.subarray(cOff + m * n, 970)).every(Number.isNaN)).toBe(true);
    }
  });

  it('float32 operands into a float64 product: every sum exact in float64, across K blocks, as the float64 kernel on the same values', () => {
    const { KC } = MATMUL_BLOCKING;
    for (const [m, n, k, ta, tb] of [[7, 5, 3 * KC + 11, false, false], [4, 9, 2 * KC, true, false], [6, 3, KC + 1, false, true]] as const) {
      const A32 = fill(new Float32Array(m * k), 5) as Float32Array;
      const B32 = fill(new Float32Array(k * n), 6) as Float32Array;
      const C = new Float64Array(m * n);
      makeMatmul({ dtype: 'float64', operandDtype: 'float32', m, n, k, transposeA: ta, transposeB: tb })(A32, 0, B32, 0, C, 0);
      const want = new Float64Array(m * n);
      makeMatmul({ dtype: 'float64', m, n, k, transposeA: ta, transposeB: tb })(Float64Array.from(A32), 0, Float64Array.from(B32), 0, want, 0);
      expect(Array.from(C)).toEqual(Array.from(want));
    }
    const mixed = makeMatmul({ dtype: 'float64', operandDtype: 'float32', m: 2, n: 2, k: 2 });
    expect(() => mixed(new Float64Array(4), 0, new Float64Array(4), 0, new Float64Array(4), 0)).toThrow(/Float32Arrays \(A, B\) and a Float64Array \(C\)/);
  });

  it('takes its packing buffer from the scratch it is given, growing it once', () => {
    const scratch = new MatmulScratch();
    const kern = makeMatmul({ dtype: 'float32', m: 64, n: 80, k: 300, scratch });
    expect(kern.scratchSize).toBe(matmulScratchSize(64, 80, 300));
    expect(kern.flops).toBe(2 * 64 * 80 * 300);
    const A = fill(new Float32Array(64 * 300), 1) as Float32Array;
    const B = fill(new Float32Array(300 * 80), 2) as Float32Array;
    const C = new Float32Array(64 * 80);
    kern(A, 0, B, 0, C, 0);
    expect(scratch.size).toBe(kern.scratchSize);
    kern(A, 0, B, 0, C, 0);
    expect(scratch.size).toBe(kern.scratchSize);
    expect(matmulScratchSize(1, 50, 10)).toBe(50); // the axpy row
    expect(matmulScratchSize(50, 1, 10)).toBe(0);
  });

  it('generates one function per variant, shared by every shape', () => {
    const before = matmulVariantCount();
    const spec = { dtype: 'float64', transposeA: true, activation: 'sin', bias: true } as const;
    const k1 = makeMatmul({ ...spec, m: 3, n: 4, k: 5 });
    const k2 = makeMatmul({ ...spec, m: 30, n: 40, k: 50 });
    expect(matmulVariantCount()).toBe(before + 1);
    expect(k1.source).toBe(k2.source);
    expect(k1.source).toContain('Math.sin');
  });
});

describe('bad input gets typed errors', () => {
  it('rejects bad specs', () => {
    expect(() => makeMatmul({ dtype: 'int32' as never, m: 1, n: 1, k: 1 })).toThrow(DTypeError);
    expect(() => makeMatmul({ dtype: 'float32', m: -1, n: 1, k: 1 })).toThrow(ShapeError);
    expect(() => makeMatmul({ dtype: 'float32', m: 1.5, n: 1, k: 1 })).toThrow(ShapeError);
    expect(() => makeMatmul({ dtype: 'float32', m: 1, n: 1, k: 1, batchA: [2], batchB: [3] })).toThrow(/do not broadcast/);
    expect(() => makeMatmul({ dtype: 'float32', m: 1, n: 1, k: 1, activation: 'logicalNot' })).toThrow(GraphError);
    expect(() => makeMatmul({ dtype: 'float32', m: 1, n: 1, k: 1, activation: 'gelu' })).toThrow(/unknown matmul activation "gelu"/);
  });

  it('rejects arrays of the wrong type or too short, naming the shapes', () => {
    const kern = makeMatmul({ dtype: 'float32', m: 2, n: 3, k: 4 });
    const A = new Float32Array(8);
    const B = new Float32Array(12);
    const C = new Float32Array(6);
    expect(() => kern(new Float64Array(8), 0, B, 0, C, 0)).toThrow(DTypeError);
    expect(() => kern(A, 1, B, 0, C, 0)).toThrow(/arrays too short for \[2,4\] @ \[4,3\]/);
    expect(() => kern(A, 0, B, 0, new Float32Array(5), 0)).toThrow(ShapeError);
    expect(() => makeMatmul({ dtype: 'float32', m: 2, n: 3, k: 4, bias: true })(A, 0, B, 0, C, 0)).toThrow(/bias included/);
    expect(() => kern(A, 0, B, 0, C, 0)).not.toThrow();
  });
});

describe('property: any shape, transposes, batch, epilogue and mode', () => {
  const dim = fc.integer({ min: 0, max: 24 });
  const batchDims = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 });
  it('matches the naive loop', () => {
    fc.assert(
      fc.property(
        fc.record({
          dtype: fc.constantFrom<FloatDType>('float32', 'float64'),
          m: dim,
          n: dim,
          k: fc.oneof(dim, fc.integer({ min: 250, max: 270 })),
          transposeA: fc.boolean(),
          transposeB: fc.boolean(),
          accumulate: fc.boolean(),
          bias: fc.boolean(),
          activation: fc.constantFrom(...Object.keys(ACTS)),
          batch: batchDims,
          dropA: fc.boolean(),
          onesB: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        ({ batch, dropA, onesB, seed, ...rest }) => {
          // two batch shapes that broadcast: A drops the leading dim or not, B has some dims set to 1
          const batchA = dropA ? batch.slice(1) : batch;
          const batchB = batch.map((d, i) => (onesB[i] ? 1 : d));
          const c: Case = { ...rest, batchA, batchB };
          const { got, want } = runCase(c, seed);
          expectMatch(c, got, want);
        },
      ),
      { numRuns: 150, seed: 20260611 },
    );
  });
});
