/**
 * The JavaScript back end's convolution kernels: im2col's patches layout on a hand-made case,
 * col2im as its adjoint, and both methods (im2col + matmul, direct loops) of conv and
 * convTranspose against the reference kernels — bit for bit, float32 and float64, on generated
 * geometries (1-d and 2-d, strides, dilations, asymmetric and negative pads, groups, depthwise) —
 * at arena offsets, writing nothing outside their result.
 */
import { describe, expect, it } from 'vitest';
import { getOp } from '../../registry';
import { Graph } from '../../graph';
import { Tensor } from '../../tensor';
import { fc } from '../../testing/index';
import type { ConvAttrs, ConvTransposeAttrs } from '../../ops/conv';
import { chooseConvMethod, col2im, convGeometry, im2col, makeConvKernel, makeConvTransposeKernel, Workspace, type ConvMethod } from './conv';
import '../../ops/index';

/** Normalized conv attributes and shapes, as the op's attribute rule makes them. */
function normalized(op: 'conv' | 'convTranspose', a: number[], w: number[], raw: Record<string, unknown>) {
  const g = new Graph();
  const s = g.apply(op, [g.input('a', a, 'float64'), g.input('w', w, 'float64')], raw);
  return { attrs: s.node.attrs, out: s.shape as number[] };
}

describe('im2col', () => {
  it('lays out each output position\'s receptive field as a row, taps then channels, zeros outside', () => {
    // x [1, 3, 3, 2] = 1..18, a 2×2 kernel, stride 1, 'same' (pads [0, 1] on both dims): 9 rows of 2·2·2
    const x = Float64Array.from({ length: 18 }, (_v, i) => i + 1);
    const { attrs } = normalized('conv', [1, 3, 3, 2], [2, 2, 2, 1], { padding: 'same' });
    const geo = convGeometry([1, 3, 3, 2], [2, 2, 2, 1], attrs as ConvAttrs);
    const patches = new Float64Array(9 * 8);
    im2col(x, 0, geo, 0, 0, 9, patches, 0);
    const row = (r: number) => Array.from(patches.subarray(r * 8, r * 8 + 8));
    expect(row(0)).toEqual([1, 2, 3, 4, 7, 8, 9, 10]); // x[0,0], x[0,1], x[1,0], x[1,1]
    expect(row(2)).toEqual([5, 6, 0, 0, 11, 12, 0, 0]); // the right edge: padding after
    expect(row(8)).toEqual([17, 18, 0, 0, 0, 0, 0, 0]);
    // a block of rows from the middle: the same rows
    const block = new Float64Array(3 * 8);
    im2col(x, 0, geo, 0, 4, 3, block, 0);
    expect(Array.from(block)).toEqual(Array.from(patches.subarray(32, 56)));
  });

  it('with groups, each group\'s patches hold its own channels', () => {
    const x = Float64Array.from({ length: 4 }, (_v, i) => i + 1); // [1, 1, 4] as [n, w, c] with c = 4
    const geo = convGeometry([1, 1, 4], [1, 2, 2], { stride: [1], padding: [[0, 0]], dilation: [1], groups: 2 });
    const p = new Float64Array(2);
    im2col(x, 0, geo, 1, 0, 1, p, 0);
    expect(Array.from(p)).toEqual([3, 4]);
  });

  it('col2im is its adjoint: ⟨im2col(x), P⟩ = ⟨x, col2im(P)⟩', () => {
    const { attrs } = normalized('conv', [2, 7, 6, 4], [3, 2, 2, 4], { stride: [2, 1], dilation: [1, 2], padding: [[2, 1], [0, 3]], groups: 2 });
    const geo = convGeometry([2, 7, 6, 4], [3, 2, 2, 4], attrs as ConvAttrs);
    const rows = geo.n * geo.oh * geo.ow;
    const kc = geo.kh * geo.kw * 2;
    const x = Tensor.randn([2 * 7 * 6 * 4], 'float64', 1).data as Float64Array;
    const P = Tensor.randn([rows * kc], 'float64', 2).data as Float64Array;
    for (const group of [0, 1]) {
      const patches = new Float64Array(rows * kc);
      im2col(x, 0, geo, group, 0, rows, patches, 0);
      const back = new Float64Array(x.length);
      col2im(P, 0, geo, group, 0, rows, back);
      let a = 0;
      let b = 0;
      for (let i = 0; i < patches.length; i++) a += patches[i] * P[i];
      for (let i = 0; i < x.length; i++) b += x[i] * back[i];
      expect(Math.abs(a - b)).toBeLessThan(1e-10 * (1 + Math.abs(a)));
    }
  });
});

/** A conv geometry that fits, 1-d or 2-d, with everything the op allows. */
const arbProblem = fc
  .record({
    nsp: fc.integer({ min: 1, max: 2 }),
    n: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 3 }),
    coutg: fc.integer({ min: 1, max: 4 }),
    k: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 2 }),
    s: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 }),
    d: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 2, maxLength: 2 }),
    extra: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 2 }),
    pads: fc.array(fc.tuple(fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 3 })), { minLength: 2, maxLength: 2 }),
    op: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 }),
    seed: fc.nat(1000),
  })
  .map((r) => {
    const sp = r.k.slice(0, r.nsp).map((k, i) => r.d[i] * (k - 1) + 2 + r.extra[i]);
    return {
      x: [r.n, ...sp, r.cg * r.groups],
      w: [...r.k.slice(0, r.nsp), r.cg, r.coutg * r.groups],
      raw: { stride: r.s.slice(0, r.nsp), dilation: r.d.slice(0, r.nsp), padding: r.pads.slice(0, r.nsp), groups: r.groups },
      outputPadding: r.op.slice(0, r.nsp).map((v, i) => Math.min(v, r.s[i] - 1)),
      seed: r.seed,
    };
  });

const OFFSET = 5; // arrays start this far into a larger buffer, as in the arena

/** `t`'s data placed at OFFSET in a buffer with sentinels around it. */
function inArena(t: Tensor): Float32Array | Float64Array {
  const Arr = t.dtype === 'float32' ? Float32Array : Float64Array;
  const a = new Arr(t.size + 2 * OFFSET).fill(-7.25);
  a.set(t.data as Float64Array, OFFSET);
  return a;
}

describe.each(['float32', 'float64'] as const)('conv kernels equal the reference kernels bit for bit (%s)', (dtype) => {
  for (const method of ['im2col', 'direct'] as ConvMethod[]) {
    it(`conv by ${method}`, () => {
      fc.assert(
        fc.property(arbProblem, ({ x, w, raw, seed }) => {
          let attrs;
          let out;
          try {
            ({ attrs, out } = normalized('conv', x, w, raw));
          } catch {
            return; // a window that doesn't fit these pads
          }
          const xv = Tensor.randn(x, dtype, seed);
          const wv = Tensor.randn(w, dtype, seed + 1);
          const want = getOp('conv').kernel([xv, wv], attrs, { out: { dtype, shape: out }, node: undefined as never });
          const ws = new Workspace();
          const k = makeConvKernel(convGeometry(x, w, attrs as ConvAttrs), dtype, ws, method);
          const y = inArena(new Tensor(dtype, out));
          k(inArena(xv), OFFSET, inArena(wv), OFFSET, y, OFFSET);
          expect(Array.from(y.subarray(OFFSET, OFFSET + want.size))).toEqual(Array.from(want.data));
          expect([...y.subarray(0, OFFSET), ...y.subarray(OFFSET + want.size)].every((v) => v === -7.25)).toBe(true);
          // a second call (workspace reused) gives the same
          k(inArena(xv), OFFSET, inArena(wv), OFFSET, y, OFFSET);
          expect(Array.from(y.subarray(OFFSET, OFFSET + want.size))).toEqual(Array.from(want.data));
        }),
        { numRuns: 150, seed: dtype === 'float32' ? 1 : 2 },
      );
    });

    it(`convTranspose by ${method}`, () => {
      fc.assert(
        fc.property(arbProblem, ({ x, w, raw, outputPadding, seed }) => {
          // y has the shape of conv(x, w)'s result: P per spatial dim
          let y;
          let attrs;
          let z;
          try {
            const fwd = normalized('conv', x, w, raw);
            y = fwd.out;
            ({ attrs, out: z } = normalized('convTranspose', y, w, { ...raw, outputPadding }));
          } catch {
            return;
          }
          const yv = Tensor.randn(y, dtype, seed);
          const wv = Tensor.randn(w, dtype, seed + 1);
          const want = getOp('convTranspose').kernel([yv, wv], attrs, { out: { dtype, shape: z }, node: undefined as never });
          const ws = new Workspace();
          const k = makeConvTransposeKernel(convGeometry(z, w, attrs as ConvTransposeAttrs), dtype, ws, method);
          const out = inArena(new Tensor(dtype, z));
          k(inArena(yv), OFFSET, inArena(wv), OFFSET, out, OFFSET);
          expect(Array.from(out.subarray(OFFSET, OFFSET + want.size))).toEqual(Array.from(want.data));
          expect([...out.subarray(0, OFFSET), ...out.subarray(OFFSET + want.size)].every((v) => v === -7.25)).toBe(true);
        }),
        { numRuns: 150, seed: dtype === 'float32' ? 3 : 4 },
      );
    });
  }
});

describe('long sums (kc > KC): float32 operands into float64 results, still bit for bit', () => {
  it.each([
    { x: [2, 9, 8, 32], w: [3, 3, 32, 5], raw: {} },
    { x: [1, 7, 7, 64], w: [3, 3, 32, 6], raw: { groups: 2, padding: 'same' } },
    // a weight gradient's shape: the batch is the channel axis, the kernel as large as the output
    { x: [3, 12, 12, 16], w: [10, 10, 16, 4], raw: {} },
  ])('conv and convTranspose $x ⊛ $w', ({ x, w, raw }) => {
    for (const dtype of ['float32', 'float64'] as const) {
      const { attrs, out } = normalized('conv', x, w, raw);
      const geo = convGeometry(x, w, attrs as ConvAttrs);
      const xv = Tensor.randn(x, dtype, 1);
      const wv = Tensor.randn(w, dtype, 2);
      const want = getOp('conv').kernel([xv, wv], attrs, { out: { dtype, shape: out }, node: undefined as never });
      const y = new Tensor(dtype, out);
      makeConvKernel(geo, dtype, new Workspace(), 'im2col')(xv.data as Float32Array, 0, wv.data as Float32Array, 0, y.data as Float32Array, 0);
      expect(Array.from(y.data)).toEqual(Array.from(want.data));
      // and back: convTranspose of a y of that shape
      const t = normalized('convTranspose', out, w, raw);
      const yv = Tensor.randn(out, dtype, 3);
      const zWant = getOp('convTranspose').kernel([yv, wv], t.attrs, { out: { dtype, shape: t.out }, node: undefined as never });
      const z = new Tensor(dtype, t.out);
      makeConvTransposeKernel(convGeometry(t.out, w, t.attrs as ConvTransposeAttrs), dtype, new Workspace(), 'im2col')(yv.data as Float32Array, 0, wv.data as Float32Array, 0, z.data as Float32Array, 0);
      expect(Array.from(z.data)).toEqual(Array.from(zWant.data));
    }
  });
});

describe('choosing a method', () => {
  it('thin products (depthwise kernels) run direct loops, the rest im2col + matmul', () => {
    const geo = (x: number[], w: number[], groups: number) => convGeometry(x, w, { stride: [1, 1], dilation: [1, 1], padding: [[0, 0], [0, 0]], groups });
    expect(chooseConvMethod(geo([8, 28, 28, 16], [3, 3, 1, 16], 16))).toBe('direct');
    expect(chooseConvMethod(geo([64, 28, 28, 1], [5, 5, 1, 8], 1))).toBe('im2col');
    expect(chooseConvMethod(geo([64, 12, 12, 8], [5, 5, 8, 16], 1))).toBe('im2col');
  });

  it('blocks of rows keep the patches bounded, and the workspace is shared', () => {
    const ws = new Workspace();
    // 64 images of 28×28 with a 5×5 kernel: 36,864 rows of 25, taken in blocks
    const attrs = { stride: [1, 1], dilation: [1, 1], padding: [[0, 0], [0, 0]] as [number, number][], groups: 1 };
    makeConvKernel(convGeometry([64, 28, 28, 1], [5, 5, 1, 8], attrs), 'float32', ws, 'im2col');
    const first = ws.size;
    expect(first).toBeLessThanOrEqual((1 << 18) + 25 * 8 + (1 << 18) / 25 * 8 + 64);
    makeConvKernel(convGeometry([64, 12, 12, 8], [5, 5, 8, 16], attrs), 'float32', ws, 'im2col');
    expect(ws.size).toBeLessThanOrEqual(2 * first);
  });
});
