/**
 * The export rows of the second round of primitives, through ONNX Runtime and back: the special
 * functions on their IEEE edge cases (float32: the ONNX op; float64: the decompositions, held to
 * near double precision), atan2's quadrants and signed zeros, linearRecurrence as CumSum and Scan,
 * flip as a step −1 Slice, prod as ReduceProd, and sumLike over axes known only at run time.
 */
import { Graph, Tensor, compile, cumprod, cumsum, flip, linearRecurrence, prod, type DType, type Sym } from '@gradgraph/core';
import * as core from '@gradgraph/core';
import { exportOnnx, importOnnx } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../packages/ops/src/onnx/proto';
import { ElemType as E, at, closeness, onnxModel, runOrt } from './onnx-ort';

/** gradgraph, ONNX Runtime and the imported graph on the same feeds; returns all three and the file's ops. */
async function threeWays(g: Graph, inputs: Sym[], outputs: Sym[], feeds: Record<string, Tensor>, opset = 17) {
  const want = compile(g, { inputs, outputs }).run(feeds);
  const bytes = await exportOnnx(g, { inputs, outputs, opset });
  const ort = await runOrt(bytes, feeds);
  const back = await importOnnx(bytes);
  const again = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
  const ops = new Set((await decodeModel(bytes)).graph!.node!.map((n) => n.op_type));
  return { want, ort, again, ops };
}

/** Every element within tol·max(|a|, floor) of gradgraph's (NaN matching NaN, infinities equal). */
function near(a: Tensor, b: Tensor, tol: number, floor = 1e-300): string | null {
  if (a.shape.join() !== b.shape.join()) return `shapes [${a.shape}] vs [${b.shape}]`;
  for (let i = 0; i < a.size; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)) || x === y) continue;
    if (!(Math.abs(x - y) <= tol * Math.max(Math.abs(x), floor))) return `element ${i}: ${x} vs ${y}`;
  }
  return null;
}

const EDGES: Record<string, number[]> = {
  erf: [0, -0, 1e-300, 1e-8, 0.3, 0.46875, 0.5, 1, 2, 3.9, 4.1, 6, 10, 27, 30, -0.2, -2, -5, Infinity, -Infinity, NaN],
  erfc: [0, -0, 1e-8, 0.3, 0.46875, 0.5, 1, 2, 3.9, 4.1, 6, 10, 26, 27.2, 30, -0.2, -2, -5, Infinity, -Infinity, NaN],
  asin: [0, -0, 1e-9, 0.3, -0.5, 0.99, 1 - 1e-12, 1, -1, 1.5, -2, NaN],
  acos: [0, -0, 1e-9, 0.3, -0.5, 0.99, 1 - 1e-12, 1, -1, 1.5, -2, NaN],
  sinh: [0, -0, 1e-300, 1e-9, 1e-4, 0.0099, 0.0101, 0.5, -3, 20, 700, 710, -710, 711, Infinity, -Infinity, NaN],
  cosh: [0, -0, 1e-9, 0.5, -3, 20, 700, 710, -710, 711, Infinity, -Infinity, NaN],
  asinh: [0, -0, 1e-300, 1e-9, 9e-4, 1.1e-3, 0.5, -3, 1e8, 2 ** 28 + 2, 1e200, -1e300, Infinity, -Infinity, NaN],
  acosh: [1, 1 + 2 ** -40, 1.5, 3, 1e8, 1e200, 1e300, Infinity, 0.5, -1, NaN],
  atanh: [0, -0, 1e-300, 1e-9, 9e-4, 1.1e-3, 0.5, -0.9, 0.999999, 1, -1, 1.5, NaN],
};
const unary: Record<string, (x: Sym) => Sym> = { erf: core.erf, erfc: core.erfc, asin: core.asin, acos: core.acos, sinh: core.sinh, cosh: core.cosh, asinh: core.asinh, acosh: core.acosh, atanh: core.atanh };

describe('special functions on their edge cases', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`${dtype}: erf erfc asin acos sinh cosh asinh acosh atanh (the ONNX op in float32, decompositions in float64)`, async () => {
      for (const [name, f] of Object.entries(unary)) {
        const g = new Graph();
        const x = g.input('x', [null], dtype);
        const xs = Tensor.from(EDGES[name], dtype);
        const { want, ort, again, ops } = await threeWays(g, [x], [f(x)], { x: xs });
        // float32: ORT's own kernels, |a − b| ≤ 1e-5·max(1, |a|) as elsewhere (erfc by 1 − Erf: absolute only)
        // float64: the decompositions, relative 1e-13 (sinh and cosh past |x| = 709: e^(|x| − ln 2) rounds |x| − ln 2)
        const tol = 1e-13;
        if (dtype === 'float32') {
          const r = closeness(want[0], ort[0]);
          expect(r.ok, `${name} in ORT: ${r.detail}`).toBe(true);
          expect([...ops].some((op) => op.toLowerCase() === (name === 'erfc' ? 'erf' : name))).toBe(true);
        } else {
          expect(near(want[0], ort[0], tol), `${name} in ORT`).toBeNull();
          expect([...ops].every((op) => !['Erf', 'Asin', 'Acos', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh'].includes(op)), [...ops].join(' ')).toBe(true);
        }
        // imported back: the ONNX op is gradgraph's primitive again (float32); the decomposition is evaluated by gradgraph (float64)
        expect(near(want[0], again[0], dtype === 'float32' ? 1e-6 : tol, dtype === 'float32' ? 1 : 1e-300), `${name} imported`).toBeNull();
      }
    });
  }

  it('atan2 over every quadrant, signed zeros, infinities and NaN, as Math.atan2', async () => {
    const vals = [0, -0, 1, -1, 2.5, -3, 1e-310, Infinity, -Infinity, NaN];
    const ys = vals.flatMap((y) => vals.map(() => y));
    const xs = vals.flatMap(() => vals);
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const g = new Graph();
      const y = g.input('y', [null], dtype);
      const x = g.input('x', [null], dtype);
      const feeds = { y: Tensor.from(ys, dtype), x: Tensor.from(xs, dtype) };
      const { want, ort, again } = await threeWays(g, [y, x], [core.atan2(y, x)], feeds);
      // the exact answers, signs of zero included (float32 flushes 1e-310 to 0)
      const exact = ys.map((v, i) => Math.atan2(dtype === 'float32' ? Math.fround(v) : v, dtype === 'float32' ? Math.fround(xs[i]) : xs[i]));
      expect(near(Tensor.from(exact, dtype), want[0], 0)).toBeNull();
      expect(near(want[0], ort[0], dtype === 'float32' ? 3e-7 : 2e-16), `ORT ${dtype}`).toBeNull();
      expect(near(want[0], again[0], dtype === 'float32' ? 3e-7 : 2e-16), `imported ${dtype}`).toBeNull();
      Array.from(ort[0].data).forEach((v, i) => expect(Object.is(v, 0) || Object.is(v, -0) ? Object.is(v, exact[i]) : true, `sign of zero at (${ys[i]}, ${xs[i]})`).toBe(true));
    }
  });

  it('float64 accuracy on dense samples: within 1e-15 relative (erfc, whose e^(−x²) rounds x², 5e-15)', async () => {
    const n = 2000;
    const u = Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const g = new Graph();
    const x = g.input('x', [n], 'float64');
    const w = g.input('w', [n], 'float64');
    const outs = [core.atan2(x, w), core.asin(x), core.acos(x), core.erf(x.mul(6)), core.erfc(x.mul(6)), core.sinh(x.mul(20)), core.cosh(x.mul(20)), core.asinh(w), core.acosh(w.abs().add(1)), core.atanh(x)];
    const feeds = { x: Tensor.from(u, 'float64'), w: Tensor.from(u.map((v, i) => Math.cos(i + v) * 10 ** ((i % 7) - 3)), 'float64') };
    const { want, ort } = await threeWays(g, [x, w], outs, feeds);
    ['atan2', 'asin', 'acos', 'erf', 'erfc', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh'].forEach((name, i) => expect(near(want[i], ort[i], name === 'erfc' ? 5e-15 : 1e-15), name).toBeNull());
  });
});

describe('linearRecurrence, flip, prod', () => {
  it('cumsum exports as CumSum; a general recurrence as Scan (broadcast a, run-time dims, either direction, int32)', async () => {
    for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
      const g = new Graph();
      const b = g.input('b', [null, 4, 3], dtype);
      const a = g.input('a', [4, 1], dtype);
      const outs = [cumsum(b, 1), cumsum(b, 2, { reverse: true, exclusive: true }), linearRecurrence(a, b, { axis: 1 }), linearRecurrence(a, b, { axis: 1, reverse: true }), cumprod(b, 0)];
      const n = 2 * 4 * 3;
      const feeds = {
        b: Tensor.from(Array.from({ length: n }, (_, i) => (dtype === 'int32' ? (i % 5) - 2 : Math.sin(i))), dtype).reshape([2, 4, 3]),
        a: Tensor.from(dtype === 'int32' ? [3, -1, 2, 1] : [Infinity, 0.5, -0.9, 2], dtype).reshape([4, 1]), // a_0 is never read: ∞ there is harmless
      };
      const { want, ort, again, ops } = await threeWays(g, [b, a], outs, feeds, 18);
      expect(ops.has('CumSum') && ops.has('Scan')).toBe(true);
      want.forEach((w, i) => {
        expect(Array.from(w.data).some(Number.isNaN), `output ${i} has NaN`).toBe(false);
        expect(closeness(w, ort[i]).ok, `ORT ${dtype} output ${i}: ${closeness(w, ort[i]).detail}`).toBe(true);
        expect(closeness(w, again[i]).ok, `imported ${dtype} output ${i}: ${closeness(w, again[i]).detail}`).toBe(true);
      });
      // a run-time dim takes another size in the same file
      const three = { b: Tensor.from(Array(36).fill(1), dtype).reshape([3, 4, 3]), a: feeds.a };
      const w3 = compile(g, { inputs: [b, a], outputs: outs }).run(three);
      (await runOrt(await exportOnnx(g, { inputs: [b, a], outputs: outs }), three)).forEach((t, i) => expect(closeness(w3[i], t).ok).toBe(true));
    }
  });

  it('flip is a step −1 Slice (any dims, run-time ones too); prod is ReduceProd at opsets 17 and 18', async () => {
    for (const opset of [17, 18]) {
      const g = new Graph();
      const x = g.input('x', [null, 3, 4]);
      const outs = [flip(x, [0, 2]), flip(x, 1), prod(x, [1, 2]), prod(x, 0, true), prod(x)];
      const feeds = { x: Tensor.from(Array.from({ length: 24 }, (_, i) => 1 + Math.sin(i) / 2), 'float32').reshape([2, 3, 4]) };
      const { want, ort, again, ops } = await threeWays(g, [x], outs, feeds, opset);
      expect(ops.has('Slice') && ops.has('ReduceProd')).toBe(true);
      want.forEach((w, i) => {
        expect(closeness(w, ort[i]).ok, `ORT output ${i}: ${closeness(w, ort[i]).detail}`).toBe(true);
        expect(closeness(w, again[i]).ok, `imported output ${i}`).toBe(true);
      });
    }
  });

  it('importOnnx reads step −1 Slices over part of an axis as slice + flip, as ONNX Runtime computes them', async () => {
    const cases: [number[], number[], number[]][] = [
      [[3], [0], [1]], // 3, 2, 1
      [[-1], [-100], [0]], // all, reversed
      [[10], [1], [1]], // start clamped to 4: 4, 3, 2
      [[1], [3], [1]], // empty
      [[2, -2], [-10, 0], [0, 1]],
    ];
    for (const [starts, ends, axes] of cases) {
      const bytes = await onnxModel({
        inputs: [['x', E.FLOAT, [3, 5]]],
        outputs: [['y', E.FLOAT]],
        inits: { s: { int64: starts }, e: { int64: ends }, ax: { int64: axes }, st: { int64: axes.map(() => -1) } },
        nodes: [['Slice', ['x', 's', 'e', 'ax', 'st'], ['y']]],
      });
      const feeds = { x: Tensor.from(Array.from({ length: 15 }, (_, i) => i), 'float32').reshape([3, 5]) };
      const [want] = await runOrt(bytes, feeds);
      const back = await importOnnx(bytes);
      const [got] = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
      expect([got.shape, Array.from(got.data)], JSON.stringify({ starts, ends, axes })).toEqual([want.shape, Array.from(want.data)]);
    }
  });

  it('IsInf and Atan import (detect_positive / detect_negative)', async () => {
    const bytes = await onnxModel({
      opset: 17,
      inputs: [['x', E.FLOAT, [null]]],
      outputs: [['a', E.BOOL], ['p', E.BOOL], ['n', E.BOOL], ['t', E.FLOAT]],
      nodes: [
        ['IsInf', ['x'], ['a']],
        ['IsInf', ['x'], ['p'], { detect_negative: at.i(0) }],
        ['IsInf', ['x'], ['n'], { detect_positive: at.i(0) }],
        ['Atan', ['x'], ['t']],
      ],
    });
    const feeds = { x: Tensor.from([Infinity, -Infinity, 0, 3, -2, NaN], 'float32') };
    const want = await runOrt(bytes, feeds);
    const back = await importOnnx(bytes);
    const got = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
    want.forEach((w, i) => expect(closeness(w, got[i]).ok, `output ${i}: ${closeness(w, got[i]).detail}`).toBe(true));
  });
});

describe('sumLike over axes known only at run time (gradients of graphs with open dims)', () => {
  it('sums where ref turns out to have a 1, and leading axes; any sizes through the same file', async () => {
    const g = new Graph();
    const x = g.input('x', [2, null, null]);
    const ref = g.input('r', [null, null]);
    const y = g.apply('sumLike', [x, ref]);
    const xs = Tensor.from(Array.from({ length: 24 }, (_, i) => i * 0.5), 'float32').reshape([2, 3, 4]);
    const bytes = await exportOnnx(g, { inputs: [x, ref], outputs: [y] });
    const back = await importOnnx(bytes);
    for (const r of [[3, 4], [1, 4], [3, 1], [1, 1]]) {
      const feeds = { x: xs, r: Tensor.zeros(r) };
      const [want] = compile(g, { inputs: [x, ref], outputs: [y] }).run(feeds);
      const [ort] = await runOrt(bytes, feeds);
      const [again] = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
      expect(want.shape).toEqual(r);
      expect(closeness(want, ort).ok, `ORT, ref [${r}]: ${closeness(want, ort).detail}`).toBe(true);
      expect(closeness(want, again).ok, `imported, ref [${r}]`).toBe(true);
    }
  });

  it('a ReduceSum over run-time axes in any other form is refused by name', async () => {
    const bytes = await onnxModel({
      inputs: [['x', E.FLOAT, [null, 3]]],
      outputs: [['y', E.FLOAT]],
      nodes: [
        ['Shape', ['x'], ['s']],
        ['ReduceSum', ['x', 's'], ['y'], { keepdims: at.i(1) }, '/odd/ReduceSum'],
      ],
    });
    await expect(importOnnx(bytes)).rejects.toThrow(/ReduceSum.*run time|run time.*ReduceSum/);
  });
});
