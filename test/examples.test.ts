/** Every example runs, and says what it claims. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as custom from '../examples/custom-activation';
import * as inspect from '../examples/inspect-compiler';
import * as perExample from '../examples/per-example-gradients';
import * as secondOrder from '../examples/second-order';

const outDir = mkdtempSync(join(tmpdir(), 'gradgraph-examples-'));

describe('examples', () => {
  it('custom-activation: both definitions pass gradcheck to order 2, agree, train and draw', async () => {
    const r = await custom.main({ quiet: true, outDir });
    expect(r.composedOk).toBe(true);
    expect(r.opOk).toBe(true);
    expect(r.kinks).toBeGreaterThan(0); // x = 0 sits on the |b₁x + b₂x²| kink
    expect(r.maxDifference).toBeLessThan(1e-12);
    expect(r.trainLoss.last).toBeLessThan(r.trainLoss.first / 5);
    expect(r.coefficientsMoved).toBe(true);
    expect(r.svgBytes).toBeGreaterThan(1000);
  });

  it('second-order: Newton converges quadratically; hvp matches the Hessian and finite differences', () => {
    const r = secondOrder.main({ quiet: true });
    const n = r.gradNorms;
    expect(n[n.length - 1]).toBeLessThan(1e-12);
    expect(n.length).toBeLessThanOrEqual(8);
    // quadratic convergence: once close, each step squares the error (ratio to the square bounded)
    const k = n.findIndex((v) => v < 1e-2);
    expect(n[k + 1]).toBeLessThan(10 * n[k] * n[k]);
    expect(r.hvpVsHessian).toBeLessThan(1e-12);
    expect(r.hvpVsFiniteDifference).toBeLessThan(1e-8);
    expect(r.accuracy).toBeGreaterThan(0.9);
  });

  it('per-example-gradients: vmap-of-grad equals grad per example; a DP-SGD step clips, adds noise and still learns iris', () => {
    const r = perExample.main({ quiet: true });
    expect(r.perExampleShapes).toEqual([[null, 4, 16], [null, 16], [null, 16, 3], [null, 3]]);
    expect(r.maxLoopDifference).toBeLessThan(1e-14);
    expect(r.maxClippedNorm).toBeLessThanOrEqual(perExample.DP.clip * (1 + 1e-12));
    expect(r.clippedFraction).toBeGreaterThan(0.01); // the clipping did something
    expect(r.dpLoss.last).toBeLessThan(r.dpLoss.first / 3);
    expect(r.dpAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(r.plainAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('inspect-compiler: naive BCE is NaN/Inf as written, finite optimized; rules fire on backward nodes', async () => {
    const r = await inspect.main({ quiet: true, outDir });
    expect(Number.isFinite(r.naive.loss) && r.naive.gradFinite).toBe(false);
    expect(r.optimized.loss).toBeCloseTo(100, 4);
    expect(r.optimized.gradFinite).toBe(true);
    expect(r.rulesFired).toEqual(expect.arrayContaining(['log-sigmoid', 'log-one-minus-sigmoid', 'sigmoid-grad-cancel']));
    expect(r.explain).toMatch(/sigmoid-grad-cancel\s+×1\s+backward/);
    expect(r.svgBytes.beforeAfter).toBeGreaterThan(1000);
  });
});
