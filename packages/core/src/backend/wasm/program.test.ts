/// <reference path="./webassembly.d.ts" />
import { afterAll, describe, expect, it } from 'vitest';
import { GraphError } from '../../errors';
import { ew } from '../js/elementwise';
import { makeElementwise } from './elementwise';
import { makeMatmul } from './matmul';
import { heap } from './memory';
import { buildProgram, clearProgramModuleCache, emittedProgramModules, type ProgramStep } from './program';
import { makeRowKernel } from './rows';
import { shutdownThreads, threadCount } from './threads';

const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
const THREADS = threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;
afterAll(() => shutdownThreads());

const h = heap();
function put(n: number, seed: number): number {
  const p = h.alloc(n * 4);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    h.f32[p / 4 + i] = s / 2 ** 32 - 0.5;
  }
  return p;
}

/**
 * One training-like step of a 2-layer MLP, batch B: h = relu(x·W1 + b1), logits = h·W2 + b2,
 * per-row cross-entropy against t, their mean (a reduction), softmax for the gradient, dlogits,
 * dW2 = hᵀ·dlogits (accumulated), dh = dlogits·W2ᵀ masked by relu', then a JS step on the main
 * thread that scales the loss, and an SGD update of W2 in place.
 */
function mlp(B: number, D: number, H: number, C: number) {
  const x = put(B * D, 1);
  const w1 = put(D * H, 2);
  const b1 = put(H, 3);
  const w2 = put(H * C, 4);
  const b2 = put(C, 5);
  const t = put(B * C, 6);
  const hid = h.alloc(B * H * 4);
  const logits = h.alloc(B * C * 4);
  const ce = h.alloc(B * 4);
  const loss = h.alloc(16);
  const probs = h.alloc(B * C * 4);
  const dlogits = h.alloc(B * C * 4);
  const dw2 = h.alloc(H * C * 4);
  const dh = h.alloc(B * H * 4);
  const dhm = h.alloc(B * H * 4);
  const f32 = (v: number) => ew.constant(v, 'float32');
  const a = ew.input(0, 'float32');
  const b = ew.input(1, 'float32');
  const steps: ProgramStep[] = [
    { kind: 'matmul', spec: { m: B, n: H, k: D, bias: true, activation: 'relu' }, a: x, b: w1, c: hid, bias: b1 },
    { kind: 'matmul', spec: { m: B, n: C, k: H, bias: true }, a: hid, b: w2, c: logits, bias: b2 },
    { kind: 'row', spec: { op: 'softmaxCrossEntropy', rows: B, cols: C }, x: logits, out: ce, t },
    { kind: 'elementwise', spec: { shape: [B], inputs: [{ shape: [B], dtype: 'float32' }], outputs: [], reduce: { op: 'mean', expr: a, axes: 'all' } }, inputs: [ce], outputs: [], reduced: loss },
    { kind: 'row', spec: { op: 'softmax', rows: B, cols: C }, x: logits, out: probs },
    { kind: 'elementwise', spec: { shape: [B, C], inputs: [{ shape: [B, C], dtype: 'float32' }, { shape: [B, C], dtype: 'float32' }], outputs: [ew.binary('mul', ew.binary('sub', a, b), f32(1 / B))] }, inputs: [probs, t], outputs: [dlogits] },
    { kind: 'matmul', spec: { m: H, n: C, k: B, transposeA: true }, a: hid, b: dlogits, c: dw2 },
    { kind: 'matmul', spec: { m: B, n: H, k: C, transposeB: true }, a: dlogits, b: w2, c: dh },
    { kind: 'elementwise', spec: { shape: [B, H], inputs: [{ shape: [B, H], dtype: 'float32' }, { shape: [B, H], dtype: 'float32' }], outputs: [ew.select(ew.binary('greater', b, f32(0)), a, f32(0))] }, inputs: [dh, hid], outputs: [dhm] },
    { kind: 'js', name: 'scale the loss', run: () => (h.f32[loss / 4] *= 2) },
    // w2 ← w2 − 0.1·dw2, in place
    { kind: 'elementwise', spec: { shape: [H, C], inputs: [{ shape: [H, C], dtype: 'float32' }, { shape: [H, C], dtype: 'float32' }], outputs: [ew.binary('sub', a, ew.binary('mul', f32(0.1), b))] }, inputs: [w2, dw2], outputs: [w2] },
  ];
  const snapshot = () => [loss, dhm, w2, dw2].map((p, i) => h.view(p, 'float32', [1, B * H, H * C, H * C][i]).slice());
  const reset = () => {
    h.f32.set(h.view(put(H * C, 4), 'float32', H * C), w2 / 4);
  };
  return { steps, snapshot, reset, ptrs: { x, w1, b1, w2, b2, t, hid, logits, ce, loss, probs, dlogits, dw2, dh, dhm } };
}

describe('buildProgram', () => {
  it('runs kernels and JS steps in order, equal to running the kernels one by one', () => {
    const B = 64;
    const D = 300;
    const H = 200;
    const C = 10;
    const m = mlp(B, D, H, C);
    const prog = buildProgram(m.steps);
    expect(prog.threads).toBe(3);
    expect(prog.segments).toBe(2); // split by the JS step
    prog.run();
    const [loss, dhm, w2] = m.snapshot();
    // the same steps by hand, one standalone kernel at a time, on one thread
    m.reset();
    const p = m.ptrs;
    for (const s of m.steps) {
      if (s.kind === 'js') s.run();
      else if (s.kind === 'matmul') makeMatmul(s.spec).run(s.a, s.b, s.c, s.bias ?? 0, 1);
      else if (s.kind === 'row') makeRowKernel(s.spec).run(s.x, s.out, s.t, 1);
      else makeElementwise(s.spec).run(s.inputs, s.outputs, s.reduced, 1);
    }
    const [loss1, dhm1, w21] = m.snapshot();
    expect(loss).toEqual(loss1);
    expect(dhm).toEqual(dhm1);
    expect(w2).toEqual(w21);
    // and the loss is the mean cross-entropy, doubled by the JS step
    const ce = h.view(p.ce, 'float32', B);
    expect(loss[0]).toBeCloseTo((2 * ce.reduce((s, v) => s + v, 0)) / B, 4);
    prog.dispose();
  });

  it('is bit-identical for 1, 2 and 3 threads, run after run', () => {
    const m = mlp(96, 256, 160, 12);
    const prog = buildProgram(m.steps);
    const results = [1, 2, 3, 3, 1].map((t) => {
      m.reset();
      prog.run(t);
      return m.snapshot();
    });
    for (const r of results.slice(1)) r.forEach((a, i) => expect(new Uint32Array(a.buffer)).toEqual(new Uint32Array(results[0][i].buffer)));
    prog.dispose();
  });

  it('reuses the module of a program of the same structure at other addresses, with the same results', () => {
    // the same steps over two separate sets of buffers (as a fresh graph of the same model gets)
    const first = mlp(40, 130, 70, 6);
    const second = mlp(40, 130, 70, 6);
    const before = emittedProgramModules();
    const p1 = buildProgram(first.steps);
    const afterFirst = emittedProgramModules();
    const p2 = buildProgram(second.steps);
    expect(afterFirst).toBe(before + 1);
    expect(emittedProgramModules()).toBe(afterFirst); // no second module
    expect(p2.barriers).toBe(p1.barriers);
    p1.run();
    p2.run();
    const [a, b] = [first.snapshot(), second.snapshot()];
    a.forEach((x, i) => expect(new Uint32Array(b[i].buffer)).toEqual(new Uint32Array(x.buffer)));
    // the other program's buffers were not touched by the first: running it again changes only its own
    const again = first.snapshot();
    p2.run();
    first.snapshot().forEach((x, i) => expect(x).toEqual(again[i]));
    // a different shape is a different structure
    buildProgram(mlp(40, 130, 72, 6).steps).dispose();
    expect(emittedProgramModules()).toBe(afterFirst + 1);
    // once the cache is cleared the same structure is emitted again, and computes the same bits
    clearProgramModuleCache();
    const third = mlp(40, 130, 70, 6);
    const p3 = buildProgram(third.steps);
    expect(emittedProgramModules()).toBe(afterFirst + 2);
    p3.run();
    third.snapshot().forEach((x, i) => expect(new Uint32Array(x.buffer)).toEqual(new Uint32Array(a[i].buffer)));
    p1.dispose();
    p2.dispose();
    p3.dispose();
  });

  it('puts barriers only between dependent kernels', () => {
    const x = put(4096, 9);
    const y = h.alloc(4096 * 4);
    const z = h.alloc(4096 * 4);
    const w = h.alloc(4096 * 4);
    const a = ew.input(0, 'float32');
    const spec = { shape: [4096 * 16], inputs: [{ shape: [4096 * 16], dtype: 'float32' as const }], outputs: [ew.unary('exp', a)] };
    // a large enough loop to run on every thread: y = f(x), z = f(x) are independent; w = f(y) depends on y
    const big = h.alloc(4096 * 16 * 4);
    const big2 = h.alloc(4096 * 16 * 4);
    const big3 = h.alloc(4096 * 16 * 4);
    void x;
    void y;
    void z;
    void w;
    const prog = buildProgram([
      { kind: 'elementwise', spec, inputs: [big], outputs: [big2] },
      { kind: 'elementwise', spec, inputs: [big], outputs: [big3] },
      { kind: 'elementwise', spec, inputs: [big2], outputs: [big] }, // reads big2 (written) and writes big (read): one barrier
    ]);
    expect(prog.barriers).toBe(1);
    expect(prog.describe().filter((l) => l.includes('barrier'))).toHaveLength(1);
    prog.run();
  });

  it('runs a program of small kernels on the calling thread alone', () => {
    // deep-narrow sized: 32×64·64×64 matmuls and their activations
    const x = put(32 * 64, 11);
    const ws = [0, 1, 2, 3].map((i) => put(64 * 64, 20 + i));
    const hs = [0, 1, 2, 3].map(() => h.alloc(32 * 64 * 4));
    const steps: ProgramStep[] = ws.map((w, i) => ({ kind: 'matmul', spec: { m: 32, n: 64, k: 64, activation: 'tanh' }, a: i ? hs[i - 1] : x, b: w, c: hs[i] }));
    const prog = buildProgram(steps);
    expect(prog.threads).toBe(1);
    expect(prog.barriers).toBe(0);
    prog.run();
    expect(Math.abs(h.f32[hs[3] / 4])).toBeLessThan(1);
  });

  it('checks its steps', () => {
    const a = ew.input(0, 'float32');
    expect(() => buildProgram([{ kind: 'elementwise', spec: { shape: [4], inputs: [{ shape: [4], dtype: 'float32' }], outputs: [a] }, inputs: [], outputs: [0] }])).toThrow(GraphError);
    expect(() => buildProgram([{ kind: 'row', spec: { op: 'softmaxCrossEntropy', rows: 2, cols: 3 }, x: 0, out: 0 }])).toThrow(/target/);
    const p = buildProgram([]);
    p.run();
    p.dispose();
    expect(() => p.run()).toThrow(/disposed/);
  });
});
