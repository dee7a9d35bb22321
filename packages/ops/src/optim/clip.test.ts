import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, Tensor, compile, type Sym } from '@gradgraph/core';
import { clipByGlobalNorm, clipByValue, globalNorm } from './index';

/** Evaluates symbols of a graph with no inputs. */
const run = (g: Graph, outs: Sym[]) => compile(g, { outputs: outs }).run().map((t) => Array.from(t.data));

describe('globalNorm', () => {
  it('is √(Σ‖gᵢ‖²) over every grad, in the widest dtype', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([3, 0], 'float32'));
    const b = g.constant(Tensor.from([[4], [12]], 'float64'));
    const n = globalNorm([a, null, b]);
    expect(n.dtype).toBe('float64');
    expect(n.shape).toEqual([]);
    expect(run(g, [n])[0][0]).toBeCloseTo(13, 12);
  });
});

describe('clipByGlobalNorm', () => {
  it('rescales every grad by maxNorm/(‖g‖ + 1e-6) when the norm is larger, keeping directions', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([3, 0], 'float64'));
    const b = g.constant(Tensor.from([[4], [12]], 'float64'));
    const [ca, cb] = clipByGlobalNorm([a, b], 6.5);
    const k = 6.5 / (13 + 1e-6);
    const [va, vb, n] = run(g, [ca, cb, globalNorm([ca, cb])]);
    expect(va).toEqual([3 * k, 0]);
    expect(vb).toEqual([4 * k, 12 * k]);
    expect(n[0]).toBeCloseTo(6.5, 5);
  });

  it('leaves grads whose norm is within maxNorm unchanged, passes null through', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([0.3, -0.4], 'float64'));
    const out = clipByGlobalNorm([a, null], 1);
    expect(out[1]).toBeNull();
    expect(run(g, [out[0]!])[0]).toEqual([0.3, -0.4]);
  });

  it('keeps each grad in its dtype and accepts a symbolic maxNorm', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([30, 40], 'float32'));
    const b = g.constant(Tensor.from([0], 'float64'));
    const max = g.input('max', [], 'float64');
    const [ca, cb] = clipByGlobalNorm([a, b], max);
    expect(ca.dtype).toBe('float32');
    expect(cb.dtype).toBe('float64');
    const [va] = compile(g, { outputs: [ca] }).run({ max: Tensor.scalar(5, 'float64') });
    expect(va.data[0]).toBeCloseTo(3, 5);
    expect(va.data[1]).toBeCloseTo(4, 5);
  });

  it('rejects a non-positive maxNorm, an empty list and int grads', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([1, 2]));
    expect(() => clipByGlobalNorm([a], 0)).toThrow(GraphError);
    expect(() => clipByGlobalNorm([a], -1)).toThrow(/maxNorm must be a positive finite number, got -1/);
    expect(() => clipByGlobalNorm([], 1)).toThrow(/at least one gradient/);
    expect(() => clipByGlobalNorm([null], 1)).toThrow(/at least one gradient/);
    expect(() => clipByGlobalNorm(a as never, 1)).toThrow(/needs an array/);
    expect(() => clipByGlobalNorm([g.constant(Tensor.from([1], 'int32'))], 1)).toThrow(DTypeError);
  });
});

describe('clipByValue', () => {
  it('clamps to [lo, hi], or to [−c, c] with one bound', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([-3, -0.2, 0.1, 5], 'float64'));
    const [asym] = clipByValue([a], -1, 0.5);
    const [sym] = clipByValue([a], 0.15);
    const [va, vs] = run(g, [asym, sym]);
    expect(va).toEqual([-1, -0.2, 0.1, 0.5]);
    expect(vs).toEqual([-0.15, -0.15, 0.1, 0.15]);
  });

  it('accepts symbolic bounds and passes null through', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([-3, 3], 'float32'));
    const c = g.input('c', [], 'float64');
    const [ca, none] = clipByValue([a, null], c) as [Sym, null];
    expect(none).toBeNull();
    expect(ca.dtype).toBe('float32');
    const [v] = compile(g, { outputs: [ca] }).run({ c: Tensor.scalar(2, 'float64') });
    expect(Array.from(v.data)).toEqual([-2, 2]);
  });

  it('rejects lo > hi and a negative single bound', () => {
    const g = new Graph();
    const a = g.constant(Tensor.from([1]));
    expect(() => clipByValue([a], 1, -1)).toThrow(/lo 1 is greater than hi -1/);
    expect(() => clipByValue([a], -0.5)).toThrow(/must be ≥ 0/);
    expect(() => clipByValue([a], NaN, 1)).toThrow(/lo must be a number/);
  });
});
