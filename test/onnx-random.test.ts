/**
 * Random graphs from `arbGraph` through ONNX: export, run in ONNX Runtime, compare with gradgraph
 * in float32 (|a − b| ≤ 1e-5·max(1, |a|)); import back, run, compare again.
 */
import { Graph, compile, randomNormal, randomUniformLike, Tensor } from '@gradgraph/core';
import { arbGraph, graphApplicators, type GraphCase } from '@gradgraph/core/testing';
import { exportOnnx, importOnnx } from '@gradgraph/ops';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeness, runOrt } from './onnx-ort';

// random ops export (RandomUniformLike, ...) but draw other numbers than gradgraph's counter-based streams
const RANDOM = ['randomUniform', 'randomNormal'];
const ops = Object.keys(graphApplicators).filter((op) => !RANDOM.includes(op));

type Case = ReturnType<typeof fc.sample<GraphCase>>[number];

/** Exports a case's last values; returns the ops its graph holds. */
async function check(c: Case, opset: number): Promise<Set<string>> {
  const b = c.build();
  const outputs = b.values.length ? b.values.slice(-3) : [b.loss];
  const exe = compile(b.graph, { inputs: b.inputs, outputs });
  const want: Tensor[] = exe.run(b.feeds);
  const bytes = await exportOnnx(b.graph, { inputs: b.inputs, outputs, opset });
  const got = await runOrt(bytes, b.feeds);
  want.forEach((w, i) => {
    const r = closeness(w, got[i]);
    expect(r.ok, `ONNX Runtime, output ${i}: ${r.detail}\n${c}`).toBe(true);
  });
  const back = await importOnnx(bytes);
  const again = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(b.feeds);
  want.forEach((w, i) => {
    const r = closeness(w, again[i]);
    expect(r.ok, `imported, output ${i}: ${r.detail}\n${c}`).toBe(true);
  });
  return b.ops;
}

describe('random graphs through ONNX Runtime and back', () => {
  for (const opset of [17, 21]) {
    it(`float32, opset ${opset}: 150 graphs over every primitive but the random ones`, async () => {
      const cases = fc.sample(arbGraph({ dtype: 'float32', ops, minSteps: 2, maxSteps: 8 }), { numRuns: 150, seed: opset });
      const seen = new Set<string>();
      for (const c of cases) for (const op of await check(c, opset)) seen.add(op);
      // the sample really exercised every exportable primitive
      expect(ops.filter((op) => !seen.has(op))).toEqual([]);
    });
  }

  it('float64: 150 graphs (decompositions where ONNX Runtime has no double kernel)', async () => {
    const cases = fc.sample(arbGraph({ dtype: 'float64', ops, minSteps: 2, maxSteps: 8 }), { numRuns: 150, seed: 64 });
    const seen = new Set<string>();
    for (const c of cases) for (const op of await check(c, 17)) seen.add(op);
    expect(ops.filter((op) => !seen.has(op))).toEqual([]);
  });

  it('random ops export as RandomUniform(Like)/RandomNormal(Like): same shapes, fresh numbers each run', async () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 3]);
    const u = randomUniformLike(x, { low: 2, high: 3 });
    const n = randomNormal(g, [4, 2], { mean: 10, std: 0.5 });
    const bytes = await exportOnnx(g, { inputs: [x], outputs: [u, n], opset: 18 });
    const feeds = { x: Tensor.zeros([5, 3]) };
    const [a, b] = await runOrt(bytes, feeds);
    expect(a.shape).toEqual([5, 3]);
    expect(Array.from(a.data).every((v) => v >= 2 && v < 3)).toBe(true);
    expect(b.shape).toEqual([4, 2]);
    expect(Math.abs(Array.from(b.data).reduce((s, v) => s + v, 0) / 8 - 10)).toBeLessThan(1);
    const back = await importOnnx(bytes);
    expect(back.graph.nodes.filter((nd) => nd.op.startsWith('random')).map((nd) => nd.op).sort()).toEqual(['randomNormal', 'randomUniform']);
    const [c] = compile(back.graph, { inputs: back.inputs, outputs: back.outputs }).run(feeds);
    expect(Array.from(c.data).every((v) => v >= 2 && v < 3)).toBe(true);
  });
});
