/// <reference path="./webassembly.d.ts" />
import { fc } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../dtype';
import { DTypeError, ShapeError } from '../../errors';
import { broadcastShapes, sizeOf, type Shape } from '../../shape';
import { compileElementwise, ew, type ElementwiseSpec, type Expr, type ReduceAxes, type ReduceOp } from '../js/elementwise';
import { emitElementwise, makeElementwise } from './elementwise';
import { heap } from './memory';
import { kernelModuleBuilder, shutdownThreads, threadCount } from './threads';

const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
const THREADS = threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;
afterAll(() => shutdownThreads());

const ARRAY = { float32: Float32Array, int32: Int32Array, bool: Uint8Array, float64: Float64Array } as const;

/** Deterministic values: floats in [−3, 3] with exact zeros and ties, ints in [−4, 4], bools. */
function values(dtype: DType, n: number, seed: number): TypedArray {
  const a = new ARRAY[dtype](n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    if (dtype === 'bool') a[i] = u < 0.5 ? 1 : 0;
    else if (dtype === 'int32') a[i] = Math.floor(u * 9) - 4;
    else if (i % 7 === 3) a[i] = Math.round(u * 12 - 6) / 2;
    else a[i] = u * 6 - 3;
  }
  return a;
}

interface Result {
  outputs: TypedArray[];
  reduced?: TypedArray;
}

function reducedSize(spec: ElementwiseSpec): number {
  const r = spec.reduce!;
  const s = spec.shape;
  return r.axes === 'all' ? 1 : r.axes === 'last' ? sizeOf(s.slice(0, -1)) : s[s.length - 1];
}

/** The JS back end's kernel (reference formulas, float32 rounded op by op): the oracle. */
function jsRun(spec: ElementwiseSpec, inputs: readonly TypedArray[]): Result {
  const k = compileElementwise({ ...spec, roundIntermediates: true, fastMath: false });
  const outputs = spec.outputs.map((e) => new ARRAY[e.dtype](sizeOf(spec.shape)));
  const reduced = spec.reduce ? new ARRAY[spec.reduce.expr.dtype](Math.max(1, reducedSize(spec))) : undefined;
  k.call(inputs, outputs, reduced);
  return { outputs, reduced };
}

function wasmRun(spec: ElementwiseSpec, inputs: readonly TypedArray[], nthreads = THREADS): Result {
  const h = heap();
  const k = makeElementwise(spec);
  const inP = inputs.map((a) => {
    const p = h.alloc(a.byteLength + 16);
    h.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
    return p;
  });
  const n = sizeOf(spec.shape);
  // outputs between sentinel bytes: nothing outside them may change
  const outP = spec.outputs.map((e) => {
    const p = h.alloc(n * ARRAY[e.dtype].BYTES_PER_ELEMENT + 32);
    h.u8.fill(0xab, p, p + n * ARRAY[e.dtype].BYTES_PER_ELEMENT + 32);
    return p + 16;
  });
  const redP = spec.reduce ? h.alloc(4 * Math.max(1, reducedSize(spec)) + 16) : undefined;
  k.run(inP, outP, redP, nthreads);
  const outputs = spec.outputs.map((e, j) => {
    const size = n * ARRAY[e.dtype].BYTES_PER_ELEMENT;
    const bytes = h.u8.slice(outP[j] - 16, outP[j] + size + 16);
    expect(bytes.subarray(0, 16).every((b) => b === 0xab) && bytes.subarray(16 + size).every((b) => b === 0xab)).toBe(true);
    return new ARRAY[e.dtype](bytes.buffer, 16, n);
  });
  const reduced = spec.reduce ? new ARRAY[spec.reduce.expr.dtype](h.u8.slice(redP!, redP! + 4 * Math.max(1, reducedSize(spec))).buffer) : undefined;
  k.dispose();
  [...inP, ...outP.map((p) => p - 16), ...(redP ? [redP] : [])].forEach((p) => h.free(p));
  return { outputs, reduced };
}

/** Byte-for-byte equality (vitest's toEqual walks a million-element array key by key). */
function bitEqual(a: TypedArray, b: TypedArray): boolean {
  return Buffer.compare(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function expectResults(got: Result, want: Result, spec: ElementwiseSpec, sumRtol: number): void {
  got.outputs.forEach((o, j) => {
    for (let i = 0; i < o.length; i++) if (!same(o[i], want.outputs[j][i])) expect.fail(`output ${j}[${i}]: wasm ${o[i]}, js ${want.outputs[j][i]}`);
  });
  if (spec.reduce) {
    const r = spec.reduce;
    for (let i = 0; i < reducedSize(spec); i++) {
      const [a, b] = [got.reduced![i], want.reduced![i]];
      // sums are float64 in both, in a different order: equal up to float32 rounding of nearby float64s
      const ok = same(a, b) || ((r.op === 'sum' || r.op === 'mean') && Math.abs(a - b) <= sumRtol * Math.max(1, Math.abs(b)));
      if (!ok) expect.fail(`${r.op} over ${r.axes} [${i}]: wasm ${a}, js ${b}`);
    }
  }
}

// ---- random expression DAGs over the ops whose float32 results are exact (correctly rounded) --------

const EXACT_UNARY = ['neg', 'abs', 'sign', 'sqrt', 'reciprocal'];
const EXACT_BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
const COMPARE = ['greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual'];
const INT_UNARY = ['neg', 'abs', 'sign'];
const INT_BINARY = ['add', 'sub', 'mul', 'maximum', 'minimum'];

interface Step {
  kind: 'unary' | 'binary' | 'select' | 'const' | 'cast';
  op: number;
  args: number[];
  value: number;
}

const arbStep = fc.record({
  kind: fc.constantFrom<Step['kind']>('unary', 'binary', 'binary', 'select', 'const', 'cast'),
  op: fc.nat(),
  args: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  value: fc.constantFrom(0, 1, -1, 0.5, 1.5, -0.1, 2, 3),
});

function buildExpr(steps: readonly Step[], inputs: readonly Expr[], dtype: DType): Expr[] {
  const vals: Expr[] = [...inputs];
  const pick = (i: number) => vals[i % vals.length];
  const isInt = dtype === 'int32';
  for (const s of steps) {
    if (s.kind === 'const') vals.push(ew.constant(isInt ? Math.round(s.value * 2) : s.value, dtype));
    else if (s.kind === 'unary') {
      const ops = isInt ? INT_UNARY : EXACT_UNARY;
      vals.push(ew.unary(ops[s.op % ops.length], pick(s.args[0])));
    } else if (s.kind === 'binary') {
      const ops = isInt ? INT_BINARY : EXACT_BINARY;
      vals.push(ew.binary(ops[s.op % ops.length], pick(s.args[0]), pick(s.args[1])));
    } else if (s.kind === 'cast') {
      // through the other numeric dtype and back, or through bool
      const other: DType = s.op % 3 === 0 ? 'bool' : isInt ? 'float32' : 'int32';
      vals.push(ew.cast(ew.cast(pick(s.args[0]), other), dtype));
    } else {
      const cond = ew.binary(COMPARE[s.op % COMPARE.length], pick(s.args[0]), pick(s.args[1]));
      const c2 = s.op % 3 === 0 ? ew.binary(s.op % 2 ? 'logicalOr' : 'logicalAnd', cond, ew.unary('logicalNot', ew.cast(pick(s.args[3]), 'bool'))) : cond;
      vals.push(ew.select(c2, pick(s.args[2]), pick(s.args[3])));
    }
  }
  return vals;
}

/** Up to three input shapes that broadcast together; dims up to 9 so rows have tails of every length. */
const arbShapes = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 0, maxLength: 4 }),
    fc.array(fc.tuple(fc.nat({ max: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 })), { minLength: 1, maxLength: 3 }),
  )
  .map(([base, variants]) => {
    const inputs = variants.map(([drop, ones]) => base.slice(Math.min(drop, base.length)).map((d, i) => (ones[i] ? 1 : d)));
    return { inputs, shape: broadcastShapes(...inputs) as number[] };
  });

const arbCase = (dtype: DType) =>
  fc.record({
    shapes: arbShapes,
    steps: fc.array(arbStep, { minLength: 1, maxLength: 12 }),
    extraOutput: fc.option(fc.nat(), { nil: undefined }),
    boolOutput: fc.boolean(),
    reduce: fc.option(fc.record({ op: fc.constantFrom<ReduceOp>(...(dtype === 'int32' ? (['sum', 'max', 'min'] as const) : (['sum', 'mean', 'max', 'min'] as const))), axes: fc.constantFrom<ReduceAxes>('last', 'leading', 'all'), which: fc.nat() }), { nil: undefined }),
    storeOutput: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
  });

type Case = ReturnType<typeof arbCase> extends fc.Arbitrary<infer T> ? T : never;

function caseSpec(dtype: DType, c: Case): { spec: ElementwiseSpec; inputs: TypedArray[] } {
  const { shapes, steps, extraOutput, reduce, storeOutput, seed, boolOutput } = c;
  const ins = shapes.inputs.map((_, k) => ew.input(k, dtype));
  const vals = buildExpr(steps, ins, dtype);
  const main = vals[vals.length - 1];
  const outputs = storeOutput || !reduce ? [main] : [];
  if (extraOutput !== undefined) outputs.push(vals[extraOutput % vals.length]);
  if (boolOutput) outputs.push(ew.binary('greater', main, vals[0]));
  const red = reduce && (reduce.axes === 'all' || shapes.shape.length > 0) ? { op: reduce.op, axes: reduce.axes, expr: vals[reduce.which % vals.length] } : undefined;
  if (outputs.length === 0 && !red) outputs.push(main);
  const spec: ElementwiseSpec = { shape: shapes.shape, inputs: shapes.inputs.map((s) => ({ shape: s, dtype })), outputs, reduce: red };
  return { spec, inputs: shapes.inputs.map((s, k) => values(dtype, sizeOf(s), seed + k)) };
}

describe('wasm elementwise loops', () => {
  it('property: float32 DAGs of exact ops equal the JS back end bit for bit (sums to float64 rounding)', () => {
    fc.assert(
      fc.property(arbCase('float32'), (c) => {
        const { spec, inputs } = caseSpec('float32', c);
        expectResults(wasmRun(spec, inputs), jsRun(spec, inputs), spec, 1e-6);
      }),
      { numRuns: 60, seed: 424242 },
    );
  });

  it('property: int32 and bool DAGs equal the JS back end', () => {
    fc.assert(
      fc.property(arbCase('int32'), (c) => {
        const { spec, inputs } = caseSpec('int32', c);
        expectResults(wasmRun(spec, inputs), jsRun(spec, inputs), spec, 0);
      }),
      { numRuns: 60, seed: 77 },
    );
  });

  const x = ew.input(0, 'float32');
  const b = ew.input(1, 'float32');
  const f32 = (v: number) => ew.constant(v, 'float32');

  it('transcendental DAGs stay within float32 accuracy of the JS back end', () => {
    // value and gradient of Σ σ(1.5x + 0.5)·tanh x + softplus x − 0.1x² (the bench's elementwise-grad)
    const u = ew.binary('add', ew.binary('mul', x, f32(1.5)), f32(0.5));
    const s = ew.unary('sigmoid', u);
    const t = ew.unary('tanh', x);
    const value = ew.binary('sub', ew.binary('add', ew.binary('mul', s, t), ew.unary('softplus', x)), ew.binary('mul', f32(0.1), ew.binary('mul', x, x)));
    const dsig = ew.binary('mul', s, ew.unary('sigmoid', ew.unary('neg', u)));
    const grad = ew.binary('sub', ew.binary('add', ew.binary('add', ew.binary('mul', ew.binary('mul', f32(1.5), dsig), t), ew.binary('mul', s, ew.binary('sub', f32(1), ew.binary('mul', t, t)))), ew.unary('sigmoid', x)), ew.binary('mul', f32(0.2), x));
    const others = ['exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'rsqrt'].map((op) => ew.unary(op, ew.unary('abs', x)));
    for (const n of [1, 7, 4096 + 5, 3 * 4096]) {
      const spec: ElementwiseSpec = { shape: [n], inputs: [{ shape: [n], dtype: 'float32' }], outputs: [value, grad, ...others], reduce: { op: 'sum', expr: value, axes: 'all' } };
      const xs = values('float32', n, n);
      const got = wasmRun(spec, [xs]);
      const want = jsRun(spec, [xs]);
      got.outputs.forEach((o, j) =>
        o.forEach((v, i) => {
          // a few ulp of the terms' size (value and grad are sums of terms of size ~1-3)
          const tol = 4e-7 * Math.max(1, Math.abs(want.outputs[j][i])) * (j < 2 ? 8 : 1);
          if (!same(v, want.outputs[j][i]) && !(Math.abs(v - want.outputs[j][i]) <= tol)) expect.fail(`output ${j}[${i}] at x = ${xs[i]}: wasm ${v}, js ${want.outputs[j][i]}`);
        }),
      );
      expect(Math.abs(got.reduced![0] - want.reduced![0])).toBeLessThanOrEqual(1e-6 * n);
    }
  });

  it('broadcasts rows, columns and scalars; reduces over every axis choice with tails of every length', () => {
    let shapeIndex = 0;
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [37, 53],
      [130, 4],
      [9, 4099],
      [5000, 3],
    ]) {
      const shape = [rows, cols];
      const cases: [Shape[], Expr][] = [
        [[shape, [cols]], ew.binary('add', x, b)], // a bias row
        [[shape, [rows, 1]], ew.binary('mul', x, b)], // a column
        [[shape, []], ew.binary('sub', x, b)], // a scalar
        [[[rows, 1], [cols]], ew.binary('maximum', x, b)], // an outer product shape
      ];
      // every (axes, op) pair comes up across the shapes and broadcast patterns (one compile each)
      cases.forEach(([ins, e], c) => {
        for (const pick of [c + shapeIndex, c + shapeIndex + 5]) {
          const axes = (['last', 'leading', 'all'] as const)[pick % 3];
          const op = (['sum', 'mean', 'max', 'min'] as const)[Math.floor(pick / 3) % 4];
          const spec: ElementwiseSpec = { shape, inputs: ins.map((s) => ({ shape: s, dtype: 'float32' })), outputs: op === 'sum' ? [e] : [], reduce: { op, axes, expr: e } };
          const inputs = ins.map((s, k) => values('float32', sizeOf(s), rows * 31 + cols + k));
          expectResults(wasmRun(spec, inputs), jsRun(spec, inputs), spec, 1e-6);
        }
      });
      shapeIndex += 4;
    }
  });

  it('handles scalars and empty shapes (a reduction of nothing gives sum 0, mean NaN, max −∞, min +∞)', () => {
    const scalar: ElementwiseSpec = { shape: [], inputs: [{ shape: [], dtype: 'float32' }], outputs: [ew.unary('exp', x)], reduce: { op: 'sum', expr: x, axes: 'all' } };
    expectResults(wasmRun(scalar, [Float32Array.of(0.5)]), jsRun(scalar, [Float32Array.of(0.5)]), scalar, 1e-7);
    for (const shape of [[0], [3, 0], [0, 4]])
      for (const axes of ['last', 'leading', 'all'] as const)
        for (const op of ['sum', 'mean', 'max', 'min'] as const) {
          if (shape.length === 1 && axes !== 'all') continue;
          const spec: ElementwiseSpec = { shape, inputs: [{ shape, dtype: 'float32' }], outputs: [x], reduce: { op, axes, expr: x } };
          expectResults(wasmRun(spec, [new Float32Array(0)]), jsRun(spec, [new Float32Array(0)]), spec, 0);
        }
  });

  it('casts like the cast primitive: float → int32 truncates and wraps as x | 0, NaN → 0; bool is x ≠ 0 and not NaN', () => {
    const xs = Float32Array.from([0, -0, 1.5, -1.5, 2.5e9, -2.5e9, 3e10, NaN, Infinity, -Infinity, 2147483520, -2147483648, 4294967296 * 3 + 2048, 7.9, -7.9, 1e-30]);
    const spec: ElementwiseSpec = { shape: [xs.length], inputs: [{ shape: [xs.length], dtype: 'float32' }], outputs: [ew.cast(x, 'int32'), ew.cast(x, 'bool'), ew.cast(ew.cast(x, 'bool'), 'float32'), ew.cast(ew.cast(x, 'int32'), 'float32')] };
    expectResults(wasmRun(spec, [xs]), jsRun(spec, [xs]), spec, 0);
  });

  it('reduces bit-identically with 1, 2 and 3 threads', () => {
    expect(THREADS).toBe(3);
    const n = 300_001;
    const e = ew.binary('mul', ew.unary('tanh', x), ew.unary('exp', b));
    for (const [shape, bshape, axes] of [
      [[n], [n], 'all'],
      [[n], [], 'all'],
      [[1000, 301], [301], 'leading'],
      [[301, 1000], [301, 1], 'last'],
      [[301, 1000], [1000], 'all'],
    ] as [Shape, Shape, ReduceAxes][]) {
      for (const op of ['sum', 'max'] as const) {
        const spec: ElementwiseSpec = { shape, inputs: [{ shape, dtype: 'float32' }, { shape: bshape, dtype: 'float32' }], outputs: [e], reduce: { op, axes, expr: e } };
        expect(makeElementwise(spec).parallel).toBeGreaterThanOrEqual(3);
        const inputs = [values('float32', sizeOf(shape), 3), values('float32', sizeOf(bshape), 4)];
        const [one, two, three] = [1, 2, 3].map((t) => wasmRun(spec, inputs, t));
        for (const r of [two, three]) {
          expect(bitEqual(r.reduced!, one.reduced!)).toBe(true);
          expect(bitEqual(r.outputs[0], one.outputs[0])).toBe(true);
        }
      }
    }
  });

  it('emits valid modules', () => {
    fc.assert(
      fc.property(arbCase('float32'), (c) => {
        const mb = kernelModuleBuilder();
        emitElementwise(mb, caseSpec('float32', c).spec);
        return WebAssembly.validate(mb.bytes());
      }),
      { numRuns: 25, seed: 5 },
    );
  });

  it('rejects float64 and bad specs with typed errors', () => {
    const x64 = ew.input(0, 'float64');
    expect(() => makeElementwise({ shape: [4], inputs: [{ shape: [4], dtype: 'float64' }], outputs: [x64] })).toThrow(DTypeError);
    expect(() => makeElementwise({ shape: [4], inputs: [{ shape: [3], dtype: 'float32' }], outputs: [x] })).toThrow(ShapeError);
    expect(() => makeElementwise({ shape: [4], inputs: [{ shape: [4], dtype: 'int32' }], outputs: [x] })).toThrow(DTypeError);
  });
});
