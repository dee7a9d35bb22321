import { describe, expect, it } from 'vitest';
import * as api from '../../api';
import { compile } from '../../compile';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { Graph } from '../../graph';
import { Tensor } from '../../tensor';
import { fc } from '../../testing/index';
import type { FloatDType } from './matmul';
import { makeRowKernel, type RowOp } from './rows';

/** Row values with specials mixed in: ±∞, NaN, ties and large magnitudes. */
function rowsOf(dtype: FloatDType, rows: number, cols: number, seed: number, specials: boolean): Tensor {
  const t = Tensor.randn([rows, cols], dtype, seed);
  for (let i = 0; i < t.size; i++) {
    t.data[i] *= 3;
    if (!specials) continue;
    const pick = (i * 7 + seed) % 23;
    if (pick === 0) t.data[i] = -Infinity;
    else if (pick === 1) t.data[i] = Infinity;
    else if (pick === 2) t.data[i] = NaN;
    else if (pick === 3) t.data[i] = 800;
    else if (pick === 4 && i > 0) t.data[i] = t.data[i - 1];
  }
  return t;
}

/** A target distribution per row, with zeros. */
function targetsOf(dtype: FloatDType, rows: number, cols: number, seed: number): Tensor {
  const t = Tensor.rand([rows, cols], dtype, seed);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) {
      if ((r + j + seed) % 3 === 0) t.data[r * cols + j] = 0;
      s += t.data[r * cols + j];
    }
    for (let j = 0; j < cols; j++) t.data[r * cols + j] = s > 0 ? t.data[r * cols + j] / s : 0;
  }
  return t;
}

/** The interpreter's answer (the graph as written): the primitive, or −Σ t·logSoftmax for the cross-entropy. */
function reference(op: RowOp, x: Tensor, t?: Tensor): Tensor {
  const g = new Graph();
  const xs = g.input('x', [...x.shape], x.dtype);
  const ts = g.input('t', [...x.shape], x.dtype);
  const y = {
    softmax: () => api.softmax(xs, -1),
    logSoftmax: () => api.logSoftmax(xs, -1),
    logsumexp: () => api.logsumexp(xs, -1),
    softmaxCrossEntropy: () => api.neg(api.sum(api.mul(ts, api.logSoftmax(xs, -1)), -1)),
  }[op]();
  return compile(g, { inputs: [xs, ts], outputs: [y], passes: [], backend: 'interpreter' }).run({ x, t: t ?? x })[0];
}

function run(op: RowOp, x: Tensor, t?: Tensor): Float64Array {
  const [rows, cols] = x.shape;
  const k = makeRowKernel({ op, dtype: x.dtype as FloatDType, rows, cols });
  const out = x.dtype === 'float32' ? new Float32Array(k.outSize) : new Float64Array(k.outSize);
  k(x.data as Float32Array, 0, out, 0, t?.data as Float32Array | undefined, 0);
  return Float64Array.from(out);
}

function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const [a, b] = [got[i], want[i]];
    if (Object.is(a, b) || Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b))) continue;
    expect.fail(`element ${i}: kernel ${a}, interpreter ${b}`);
  }
}

describe('row kernels agree with the reference kernels', () => {
  for (const op of ['softmax', 'logSoftmax', 'logsumexp'] as const) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${op} ${dtype}: bit-equal, with ±∞, NaN, ties and large values`, () => {
        for (const [rows, cols] of [[1, 1], [5, 10], [128, 10], [3, 257], [4, 0], [0, 3]] as const) {
          for (const specials of [false, true]) {
            const x = rowsOf(dtype, rows, cols, rows + cols, specials);
            expectSame(run(op, x), reference(op, x).data, 0);
          }
        }
      });
    }
  }

  it('softmaxCrossEntropy: −Σ t·logSoftmax(x) per row, exactly in float64 and to float32 rounding', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      for (const [rows, cols] of [[1, 1], [7, 10], [128, 10], [2, 300], [3, 0]] as const) {
        const x = rowsOf(dtype, rows, cols, 3, false);
        const t = targetsOf(dtype, rows, cols, 4);
        expectSame(run('softmaxCrossEntropy', x, t), reference('softmaxCrossEntropy', x, t).data, dtype === 'float64' ? 0 : 1e-5);
      }
    }
  });

  it('softmaxCrossEntropy ignores zero targets even where a logit is −∞', () => {
    const x = Tensor.from([[0, -Infinity, 1]], 'float64');
    const t = Tensor.from([[0.5, 0, 0.5]], 'float64');
    const [v] = run('softmaxCrossEntropy', x, t);
    const lse = Math.log(Math.exp(-1) + 1) + 1;
    expect(v).toBeCloseTo(0.5 * (lse - 0) + 0.5 * (lse - 1), 14);
  });

  it('property: random shapes and values', () => {
    fc.assert(
      fc.property(fc.constantFrom<RowOp>('softmax', 'logSoftmax', 'logsumexp'), fc.constantFrom<FloatDType>('float32', 'float64'), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), fc.nat(1000), (op, dtype, rows, cols, specials, seed) => {
        const x = rowsOf(dtype, rows, cols, seed, specials);
        expectSame(run(op, x), reference(op, x).data, 0);
      }),
      { numRuns: 60, seed: 5 },
    );
  });
});

describe('row kernels: arenas and errors', () => {
  it('reads and writes at offsets inside one arena', () => {
    const arena = new Float64Array(60).fill(NaN);
    const x = rowsOf('float64', 2, 5, 1, false);
    arena.set(x.data, 3);
    makeRowKernel({ op: 'logSoftmax', dtype: 'float64', rows: 2, cols: 5 })(arena, 3, arena, 20);
    expectSame(arena.subarray(20, 30), reference('logSoftmax', x).data, 0);
    expect(Number.isNaN(arena[19]) && Number.isNaN(arena[30])).toBe(true);
  });

  it('rejects bad specs and arrays with typed errors', () => {
    expect(() => makeRowKernel({ op: 'argmax' as RowOp, dtype: 'float32', rows: 1, cols: 1 })).toThrow(GraphError);
    expect(() => makeRowKernel({ op: 'softmax', dtype: 'int32' as FloatDType, rows: 1, cols: 1 })).toThrow(DTypeError);
    expect(() => makeRowKernel({ op: 'softmax', dtype: 'float32', rows: -1, cols: 1 })).toThrow(ShapeError);
    const k = makeRowKernel({ op: 'softmaxCrossEntropy', dtype: 'float32', rows: 2, cols: 3 });
    expect(() => k(new Float32Array(6), 0, new Float32Array(2), 0)).toThrow(/target included/);
    expect(() => k(new Float32Array(5), 0, new Float32Array(2), 0, new Float32Array(6), 0)).toThrow(/arrays too short for \[2,3\]/);
    expect(() => k(new Float64Array(6), 0, new Float32Array(2), 0, new Float32Array(6), 0)).toThrow(DTypeError);
  });
});
