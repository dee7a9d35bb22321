import { test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { broadcastShapes, compile, listOps, sizeOf } from '../index';
import { arbBroadcastableShapes, arbGraph, arbShape, arbTensor, fc, graphApplicators, SOURCE_OPS } from './index';

describe('testing arbitraries', () => {
  test.prop([arbShape({ minRank: 1, maxRank: 4, maxDim: 6 })])('arbShape respects its bounds', (s) => {
    expect(s.length).toBeGreaterThanOrEqual(1);
    expect(s.length).toBeLessThanOrEqual(4);
    expect(s.every((d) => d >= 1 && d <= 6)).toBe(true);
  });

  test.prop([arbBroadcastableShapes({ maxRank: 4 })])('arbBroadcastableShapes broadcast', ([a, b]) => {
    expect(broadcastShapes(a, b)).not.toBeNull();
  });

  test.prop([arbTensor({ shape: [4, 3], awayFrom: [0, 1], margin: 0.1 })])('arbTensor keeps away from kinks', (t) => {
    expect(t.shape).toEqual([4, 3]);
    expect(t.dtype).toBe('float64');
    for (const v of t.data) {
      expect(Math.abs(v)).toBeGreaterThanOrEqual(0.1 - 1e-12);
      expect(Math.abs(v - 1)).toBeGreaterThanOrEqual(0.1 - 1e-12);
    }
  });

  test.prop([arbTensor({ shape: [6], near: [0], margin: 1e-3 })])('arbTensor places values near kinks', (t) => {
    for (const v of t.data) expect(Math.abs(v)).toBeLessThanOrEqual(1e-3);
  });

  test.prop([arbTensor({ dtype: 'int32', min: -2, max: 2 })])('arbTensor makes int tensors', (t) => {
    expect(t.dtype).toBe('int32');
    expect(t.data.length).toBe(sizeOf(t.shape));
  });

  it('arbGraph covers every registered primitive', () => {
    const seen = new Set<string>();
    for (const c of fc.sample(arbGraph({ minSteps: 4, maxSteps: 8 }), { numRuns: 300, seed: 7 })) for (const op of c.build({ withGrad: true }).ops) seen.add(op);
    const missingApplicator = listOps().map((d) => d.name).filter((n) => !SOURCE_OPS.includes(n) && !(n in graphApplicators));
    expect(missingApplicator).toEqual([]);
    const missing = listOps().map((d) => d.name).filter((n) => !seen.has(n));
    expect(missing).toEqual([]);
  });

  test.prop([arbGraph()], { numRuns: 60 })('arbGraph builds deterministic graphs with finite values and gradients', (c) => {
    const b = c.build({ withGrad: true });
    const again = c.build({ withGrad: true });
    expect(again.graph.size).toBe(b.graph.size);
    const [loss, ...grads] = compile(b.graph, { outputs: [b.loss, ...b.grads] }).run(b.feeds);
    expect(Number.isFinite(loss.item())).toBe(true);
    for (const gt of grads) for (const v of gt.data) expect(Number.isFinite(v)).toBe(true);
  });
});
