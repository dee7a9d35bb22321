import { describe, expect, it } from 'vitest';
import { CHECK_STEPS, absSum, lossDecreases, probesAgree, relDiff } from './checks';

describe('the bench checks', () => {
  it('accepts a loss that is lower when batch 0 comes round again', () => {
    expect(lossDecreases([3.02, 2.77, 2.78, 2.62, 2.38])).toBeUndefined();
    // another batch's loss may rise meanwhile (Adam's first steps on cnn-train do this)
    expect(lossDecreases([3.2, 2.68, 2.66, 2.81, 2.76])).toBeUndefined();
  });

  it('names the batch and steps when the loss does not go down', () => {
    expect(lossDecreases([2.3, 2.2, 2.1, 2.0, 2.3])).toBe("batch 0's loss is 2.30000 at step 0 and 2.30000 at step 4 (not lower)");
    expect(lossDecreases([2.3, 2.2, 2.1, 2.0, 2.5])).toMatch(/not lower/);
  });

  it('rejects non-finite losses and traces too short to see batch 0 again', () => {
    expect(lossDecreases([2.3, NaN, 2.1, 2.0, 1.0])).toMatch(/not finite: 2\.30000, NaN/);
    expect(lossDecreases([2.3, 2.2, 2.1, 2.0])).toMatch(/only 4 losses/);
    expect(CHECK_STEPS).toBeGreaterThan(4);
  });

  it('compares every implementation with the first, relatively', () => {
    const probes = [
      { impl: 'gradgraph-js', values: [979642.4, 789035.3] },
      { impl: 'jax-js-wasm', values: [979672.8, 789035.3] },
      { impl: 'tfjs-wasm', values: [979673.7, 789035.9] },
    ];
    expect(probesAgree(probes, 1e-3)).toEqual([]);
    const strict = probesAgree(probes, 1e-6);
    expect(strict).toHaveLength(2);
    expect(strict.map((d) => d.impl)).toEqual(['jax-js-wasm', 'tfjs-wasm']);
    expect(strict[0].problem).toMatch(/^jax-js-wasm gives 979673, gradgraph-js 979642 \(relative difference 3\.1e-5 > 0\.000001\)$/);
    expect(strict[1].problem).toMatch(/^tfjs-wasm gives 979674/);
    expect(probesAgree([{ impl: 'a', values: [1] }, { impl: 'b', values: [NaN] }], 0.5)).toHaveLength(1);
    expect(probesAgree([{ impl: 'alone', values: [1] }], 0)).toEqual([]);
  });

  it('measures relative differences and absolute sums in float64', () => {
    expect(relDiff(1, 1.001)).toBeCloseTo(0.001 / 1.001, 15);
    expect(relDiff(-2, 2)).toBe(2);
    expect(relDiff(0, 0)).toBe(0);
    expect(absSum(new Float32Array([1.5, -2.5, 0]))).toBe(4);
  });
});
