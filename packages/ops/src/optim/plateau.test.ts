import { describe, expect, it } from 'vitest';
import { Graph, GraphError, Tensor, compile, grad } from '@gradgraph/core';
import { reduceOnPlateau, sgd } from './index';

/** Feeds a metric sequence; returns the lr after each step. */
const trace = (p: ReturnType<typeof reduceOnPlateau>, metrics: number[]) => metrics.map((m) => (p.step(m), p.lr));

describe('reduceOnPlateau (PyTorch ReduceLROnPlateau rules)', () => {
  it('cuts the rate after more than `patience` epochs without improvement', () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 2 });
    // improves, improves, then flat: bad epochs 1, 2, 3 > 2 → cut at the 5th epoch
    expect(trace(p, [10, 9, 9, 9, 9])).toEqual([1, 1, 1, 1, 0.5]);
    expect(p.badEpochs).toBe(0);
    expect(p.best).toBe(9);
    // counting restarts after the cut
    expect(trace(p, [9, 9, 9])).toEqual([0.5, 0.5, 0.25]);
  });

  it('step() reports whether it cut the rate', () => {
    const p = reduceOnPlateau({ lr: 1, patience: 0 });
    expect(p.step(1)).toBe(false);
    expect(p.step(1)).toBe(true);
    expect(p.lr).toBeCloseTo(0.1, 15);
  });

  it("relative threshold: an improvement smaller than best·threshold doesn't count", () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 1, threshold: 0.1 });
    // 100 → 95 is a 5% gain, under the 10% threshold: bad epochs
    expect(trace(p, [100, 95, 95])).toEqual([1, 1, 0.5]);
    expect(p.best).toBe(100);
  });

  it('absolute threshold and mode max', () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 1, mode: 'max', thresholdMode: 'abs', threshold: 0.05 });
    // accuracy: 0.84 and 0.845 are less than 0.05 above the best 0.80: bad, bad → cut
    expect(trace(p, [0.8, 0.84, 0.845])).toEqual([1, 1, 0.5]);
    // 0.9 beats 0.80 + 0.05
    p.step(0.9);
    expect(p.best).toBe(0.9);
  });

  it('cooldown suspends counting after a cut', () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 0, cooldown: 2 });
    // epoch 2 cuts; epochs 3 and 4 are cooldown; epoch 5 cuts again
    expect(trace(p, [1, 1, 1, 1, 1])).toEqual([1, 0.5, 0.5, 0.5, 0.25]);
  });

  it('never goes below minLr, and skips cuts smaller than eps', () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.1, patience: 0, minLr: 0.05 });
    expect(trace(p, [1, 1, 1, 1])).toEqual([1, 0.1, 0.05, 0.05]);
    const q = reduceOnPlateau({ lr: 1e-9, factor: 0.5, patience: 0 });
    expect(q.step(1)).toBe(false);
    expect(q.step(1)).toBe(false); // 1e-9 − 5e-10 < eps 1e-8
    expect(q.lr).toBe(1e-9);
  });

  it('state() survives JSON and restore() continues exactly', () => {
    const p = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 2, cooldown: 1 });
    const fresh = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 2, cooldown: 1 });
    expect(JSON.parse(JSON.stringify(fresh.state())).best).toBeNull();
    trace(p, [5, 4, 4, 4, 4]);
    const saved = JSON.parse(JSON.stringify(p.state()));
    const q = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 2, cooldown: 1 });
    q.restore(saved);
    const rest = [4, 4, 4, 4, 3, 3, 3, 3];
    expect(trace(q, rest)).toEqual(trace(p, rest));
  });

  it('restore() refuses a bad state and keeps the current one', () => {
    const p = reduceOnPlateau({ lr: 1 });
    p.step(3);
    expect(() => p.restore({ lr: -1, best: 1, badEpochs: 0, cooldownCounter: 0, epoch: 1 })).toThrow(/lr -1/);
    expect(() => p.restore({ lr: 1, best: 1, badEpochs: 0.5, cooldownCounter: 0, epoch: 1 })).toThrow(/badEpochs/);
    expect(p.state()).toEqual({ lr: 1, best: 3, badEpochs: 0, cooldownCounter: 0, epoch: 1 });
  });

  it('rejects a non-finite metric and bad options', () => {
    const p = reduceOnPlateau({ lr: 1 });
    expect(() => p.step(NaN)).toThrow(GraphError);
    expect(() => p.step(NaN)).toThrow(/finite number, got NaN/);
    expect(() => reduceOnPlateau({ lr: 1, factor: 1 })).toThrow(/"factor" must be a number in \(0, 1\)/);
    expect(() => reduceOnPlateau({ lr: 1, patience: -1 })).toThrow(/"patience"/);
    expect(() => reduceOnPlateau({ lr: 1, mode: 'minimize' as never })).toThrow(/'min', 'max'/);
    expect(() => reduceOnPlateau({} as never)).toThrow(/"lr" is required/);
  });

  it('drives a compiled step through an lr input', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([0], 'float64'));
    const lr = g.input('lr', [], 'float64');
    const loss = w.sum(); // gradient 1: each step moves w by exactly −lr
    const opt = sgd({ lr });
    const step = compile(g, { inputs: [lr], outputs: [loss], updates: opt.updates([w], grad(loss, [w])) });
    const plateau = reduceOnPlateau({ lr: 0.5, factor: 0.5, patience: 0 });
    const moves: number[] = [];
    for (let epoch = 0; epoch < 4; epoch++) {
      const before = g.getValue(w).item();
      step.run({ lr: plateau.tensor('float64') });
      moves.push(before - g.getValue(w).item());
      plateau.step(1); // a flat metric
    }
    expect(moves).toEqual([0.5, 0.5, 0.25, 0.125]);
    expect(plateau.tensor().dtype).toBe('float32');
    expect(() => plateau.tensor('int32')).toThrow(/float dtype/);
  });
});
