/// <reference path="./webassembly.d.ts" />
import { afterAll, describe, expect, it } from 'vitest';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { makeRowKernel as jsRowKernel } from '../js/rows';
import { heap } from './memory';
import { emitRowKernel, makeRowKernel } from './rows';
import { kernelModuleBuilder, shutdownThreads, threadCount } from './threads';

const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;
afterAll(() => shutdownThreads());

const OPS = ['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy'] as const;

function run(op: (typeof OPS)[number], rows: number, cols: number, x: Float32Array, t: Float32Array, nthreads = 3) {
  const h = heap();
  const k = makeRowKernel({ op, rows, cols });
  const px = h.alloc(x.byteLength + 16);
  const pt = h.alloc(t.byteLength + 16);
  const po = h.alloc(k.outSize * 4 + 32) + 16;
  h.f32.set(x, px / 4);
  h.f32.set(t, pt / 4);
  h.f32.fill(123, po / 4 - 4, po / 4 + k.outSize + 4);
  k.run(px, po, pt, nthreads);
  const out = h.view(po, 'float32', k.outSize).slice();
  const guard = [...h.view(po - 16, 'float32', 4), ...h.view(po + k.outSize * 4, 'float32', 4)];
  [px, pt, po - 16].forEach((p) => h.free(p));
  return { out, guard };
}

function data(rows: number, cols: number, seed: number, specials: boolean) {
  let s = seed;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  const x = Float32Array.from({ length: rows * cols }, () => (u() - 0.5) * 20);
  const t = Float32Array.from({ length: rows * cols }, () => (u() < 0.3 ? 0 : u()));
  if (specials && rows >= 4 && cols >= 3) {
    x[1] = NaN; // row 0: a NaN (softmax and CE skip it in the max; logsumexp lets it win)
    x[cols] = -Infinity; // row 1: a −∞ logit, with a zero target there
    t[cols] = 0;
    x.fill(-Infinity, 2 * cols, 3 * cols); // row 2: all −∞
    x[3 * cols + 2] = Infinity; // row 3: +∞
    x[4 * cols - 1] = x[3 * cols]; // ties
  }
  return { x, t };
}

describe('wasm row kernels', () => {
  for (const op of OPS) {
    it(`${op} matches the JS back end (ties, ±∞, NaN, empty rows, tails of every length)`, () => {
      for (const [rows, cols] of [[1, 1], [5, 7], [128, 10], [6, 4], [9, 3], [3, 64], [40, 301], [2, 0], [0, 5]]) {
        for (const specials of [false, true]) {
          const { x, t } = data(rows, cols, rows * 100 + cols, specials);
          const js = jsRowKernel({ op, dtype: 'float32', rows, cols });
          const want = new Float32Array(js.outSize);
          js(x, 0, want, 0, t, 0);
          const { out, guard } = run(op, rows, cols, x, t);
          expect(guard.every((v) => v === 123)).toBe(true);
          for (let i = 0; i < want.length; i++) {
            const [a, b] = [out[i], want[i]];
            const ok = Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 2e-6 * Math.max(1, Math.abs(b));
            if (!ok) expect.fail(`${op} [${rows}, ${cols}] element ${i}: wasm ${a}, js ${b}`);
          }
        }
      }
    });
  }

  it('is bit-identical for 1, 2 and 3 threads', () => {
    const { x, t } = data(700, 129, 3, false);
    for (const op of OPS) {
      const [a, b, c] = [1, 2, 3].map((n) => run(op, 700, 129, x, t, n).out);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(c.buffer))).toBe(0);
    }
  });

  it('emits valid modules and rejects bad specs', () => {
    for (const op of OPS) {
      const mb = kernelModuleBuilder();
      emitRowKernel(mb, { op, rows: 3, cols: 9 });
      expect(WebAssembly.validate(mb.bytes())).toBe(true);
    }
    expect(() => makeRowKernel({ op: 'softmin' as 'softmax', rows: 1, cols: 1 })).toThrow(GraphError);
    expect(() => makeRowKernel({ op: 'softmax', rows: -1, cols: 1 })).toThrow(ShapeError);
    expect(() => makeRowKernel({ op: 'softmax', rows: 1, cols: 1, dtype: 'float64' as 'float32' })).toThrow(DTypeError);
    expect(() => makeRowKernel({ op: 'softmaxCrossEntropy', rows: 1, cols: 1 }).run(16, 32)).toThrow(/target/);
  });
});
