import { describe, expect, it } from 'vitest';
import { Graph, GraphError, Tensor, compile, grad } from '@gradgraph/core';
import { schedules, sgd } from './index';

const close = (got: number[], want: number[], tol = 1e-12) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]))));
};

describe('schedules: values against closed forms', () => {
  it('constant', () => {
    expect(schedules.constant(0.3).values([0, 1, 1000])).toEqual([0.3, 0.3, 0.3]);
  });

  it('stepDecay: lr·γ^⌊s/k⌋ (γ defaults to 0.1)', () => {
    const s = schedules.stepDecay({ lr: 0.1, stepSize: 30 });
    close(s.values([0, 29, 30, 59, 60, 95]), [0.1, 0.1, 0.01, 0.01, 0.001, 0.1 * 0.1 ** 3]);
    close(schedules.stepDecay({ lr: 2, stepSize: 1, gamma: 0.5 }).values(4), [2, 1, 0.5, 0.25]);
  });

  it('multiStep: lr·γ^(milestones passed)', () => {
    const s = schedules.multiStep({ lr: 1, milestones: [3, 7], gamma: 0.5 });
    close(s.values([0, 2, 3, 6, 7, 100]), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  });

  it('exponential: lr·γ^s', () => {
    const s = schedules.exponential({ lr: 0.2, gamma: 0.95 });
    close(s.values([0, 1, 10, 250]), [0.2, 0.19, 0.2 * 0.95 ** 10, 0.2 * 0.95 ** 250]);
  });

  it('linearWarmup: ramps from startFactor·lr, then hands over to a follower started at its step 0', () => {
    close(schedules.linearWarmup({ lr: 1, warmupSteps: 4 }).values([0, 1, 2, 3, 4, 50]), [0, 0.25, 0.5, 0.75, 1, 1]);
    close(schedules.linearWarmup({ lr: 2, warmupSteps: 10, startFactor: 0.1 }).values([0, 5, 10]), [0.2, 2 * (0.1 + 0.9 * 0.5), 2]);
    const follow = schedules.linearWarmup({ lr: schedules.exponential({ lr: 1, gamma: 0.5 }), warmupSteps: 2 });
    close(follow.values([0, 1, 2, 3, 4]), [0, 0.5, 1, 0.5, 0.25]);
  });

  it('cosine: PyTorch CosineAnnealingLR without warmup, Hugging Face warmup with it, flat after T', () => {
    const c = schedules.cosine({ lr: 1, totalSteps: 100, minLr: 0.1 });
    const ref = (s: number) => 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * Math.min(s, 100)) / 100));
    close(c.values([0, 25, 50, 99, 100, 150]), [0, 25, 50, 99, 100, 150].map(ref));
    expect(c.values([50])[0]).toBeCloseTo(0.55, 14);
    const w = schedules.cosine({ lr: 0.5, totalSteps: 110, warmupSteps: 10 });
    const refW = (s: number) => (s < 10 ? (0.5 * s) / 10 : 0.5 * 0.5 * (1 + Math.cos((Math.PI * Math.min(s - 10, 100)) / 100)));
    close(w.values([0, 3, 9, 10, 60, 110, 200]), [0, 3, 9, 10, 60, 110, 200].map(refW));
    expect(w.values([60])[0]).toBeCloseTo(0.25, 14);
  });

  it("oneCycle: PyTorch OneCycleLR's phases (two-phase cos, linear, three-phase)", () => {
    const max = 0.1;
    const init = max / 25;
    const fin = init / 1e4;
    const cosA = (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1);
    const linA = (a: number, b: number, p: number) => a + (b - a) * p;
    // two phases over 100 steps, pctStart 0.3: ends at 29 and 99
    const two = schedules.oneCycle({ maxLr: max, totalSteps: 100 });
    const twoRef = (s: number) => (s <= 29 ? cosA(init, max, s / 29) : cosA(max, fin, Math.min((s - 29) / 70, 1)));
    close(two.values([0, 10, 29, 30, 64, 99, 120]), [0, 10, 29, 30, 64, 99, 120].map(twoRef));
    expect(two.values([0, 29, 99])).toEqual([expect.closeTo(init, 15), expect.closeTo(max, 15), expect.closeTo(fin, 15)]);
    const lin = schedules.oneCycle({ maxLr: 1, totalSteps: 11, pctStart: 0.5, annealStrategy: 'linear', divFactor: 10, finalDivFactor: 100 });
    // phase ends 4.5 and 10
    const linRef = (s: number) => (s <= 4.5 ? linA(0.1, 1, s / 4.5) : linA(1, 0.001, (s - 4.5) / 5.5));
    close(lin.values([0, 2, 4, 5, 10]), [0, 2, 4, 5, 10].map(linRef));
    // three phases, 100 steps: ends 29, 58, 99
    const three = schedules.oneCycle({ maxLr: max, totalSteps: 100, threePhase: true });
    const threeRef = (s: number) => (s <= 29 ? cosA(init, max, s / 29) : s <= 58 ? cosA(max, init, (s - 29) / 29) : cosA(init, fin, (s - 58) / 41));
    close(three.values([0, 20, 29, 40, 58, 80, 99]), [0, 20, 29, 40, 58, 80, 99].map(threeRef));
  });

  it('constant with options: PyTorch ConstantLR, lr·factor for totalSteps steps (defaults 1/3 and 5)', () => {
    close(schedules.constant({ lr: 0.3 }).values([0, 4, 5, 100]), [0.1, 0.1, 0.3, 0.3]);
    close(schedules.constant({ lr: 1, factor: 0.5, totalSteps: 2 }).values(4), [0.5, 0.5, 1, 1]);
    expect(schedules.constant({ lr: 1, factor: 0.5, totalSteps: 0 }).values([0])).toEqual([1]);
  });

  it('polynomial: (lr − endLr)·(1 − min(s, T)/T)^p + endLr', () => {
    close(schedules.polynomial({ lr: 1, totalSteps: 4 }).values(6), [1, 0.75, 0.5, 0.25, 0, 0]);
    const p = schedules.polynomial({ lr: 0.5, totalSteps: 10, power: 2, endLr: 0.1 });
    close(p.values([0, 3, 10, 50]), [0.5, 0.4 * 0.7 ** 2 + 0.1, 0.1, 0.1]);
  });

  it('cyclic: triangular, triangular2 (halving heights) and exp_range (γ^s), asymmetric up/down', () => {
    const tri = schedules.cyclic({ baseLr: 1, maxLr: 3, stepSizeUp: 2, stepSizeDown: 4 });
    // up over 2 steps, down over 4: 1, 2, 3, 2.5, 2, 1.5, then again
    close(tri.values(8), [1, 2, 3, 2.5, 2, 1.5, 1, 2]);
    const two = schedules.cyclic({ baseLr: 0, maxLr: 4, stepSizeUp: 1, mode: 'triangular2' });
    close(two.values(7), [0, 4, 0, 2, 0, 1, 0]);
    const exp = schedules.cyclic({ baseLr: 0, maxLr: 1, stepSizeUp: 1, mode: 'exp_range', gamma: 0.5 });
    close(exp.values([1, 3, 4]), [0.5, 0.125, 0]);
  });

  it('cosineWarmRestarts: restarts at t0·(mᶦ − 1)/(m − 1), exactly, even a million steps in', () => {
    const ref = (lr: number, t0: number, m: number, minLr: number) => (s: number) => {
      let start = 0;
      let len = t0;
      while (s >= start + len) {
        start += len;
        len *= m;
      }
      return minLr + (lr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (s - start)) / len));
    };
    const flat = schedules.cosineWarmRestarts({ lr: 1, t0: 4 });
    close(flat.values(10), [...Array(10).keys()].map(ref(1, 4, 1, 0)));
    for (const m of [2, 3]) {
      const sched = schedules.cosineWarmRestarts({ lr: 0.2, t0: 3, tMult: m, minLr: 0.01 });
      // every period's first step and last step, up to periods of 3·mⁱ with i = 12 (m = 3: ~800k steps)
      const steps: number[] = [];
      for (let i = 0, start = 0, len = 3; i <= 12; i++, start += len, len *= m) steps.push(start, start + 1, start + len - 1);
      close(sched.values(steps), steps.map(ref(0.2, 3, m, 0.01)));
      expect(sched.values(steps).filter((_, k) => k % 3 === 0)).toEqual(steps.filter((_, k) => k % 3 === 0).map(() => 0.2));
    }
  });

  it('multiplicative: lr·Π factor(k) for k = 1..s, a number or a host function (tabulated)', () => {
    close(schedules.multiplicative({ lr: 2, factor: 0.5 }).values(4), [2, 1, 0.5, 0.25]);
    const f = schedules.multiplicative({ lr: 1, factor: (k) => (k % 2 === 0 ? 0.5 : 1), totalSteps: 5 });
    close(f.values([0, 1, 2, 3, 4, 5, 9]), [1, 1, 0.5, 0.5, 0.25, 0.25, 0.25]);
    expect(f.toJSON()).toEqual({ schedule: 'multiplicative', lr: 1, factor: 'function', totalSteps: 5 });
  });

  it('custom: any elementwise expression of the step', () => {
    const inv = schedules.custom((s) => s.add(1).rsqrt().mul(0.1), 'invSqrt');
    close(inv.values([0, 3, 99]), [0.1, 0.05, 0.01]);
    expect(inv.kind).toBe('invSqrt');
    expect(schedules.custom(() => 0.5).values([0, 7])).toEqual([0.5, 0.5]);
  });

  it('serializes as its kind and config', () => {
    expect(JSON.parse(JSON.stringify(schedules.cosine({ lr: 0.1, totalSteps: 10 })))).toEqual({ schedule: 'cosine', lr: 0.1, totalSteps: 10, warmupSteps: 0, startFactor: 0, minLr: 0 });
    const nested = JSON.parse(JSON.stringify(schedules.linearWarmup({ lr: schedules.exponential({ lr: 1, gamma: 0.9 }), warmupSteps: 3 })));
    expect(nested).toEqual({ schedule: 'linearWarmup', lr: { schedule: 'exponential', lr: 1, gamma: 0.9 }, warmupSteps: 3, startFactor: 0 });
  });
});

describe('schedules inside a compiled step', () => {
  it('the k-th run (0-based) uses the value at s = k, the step count before the increment', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([1], 'float64'));
    const loss = w.sum();
    const sched = schedules.oneCycle({ maxLr: 1, totalSteps: 20 });
    const opt = sgd({ lr: sched });
    const updates = opt.updates([w], grad(loss, [w]));
    const step = compile(g, { outputs: [opt.currentLr], updates });
    const seen: number[] = [];
    let wPrev = 1;
    for (let k = 0; k < 25; k++) {
      const [lr] = step.run();
      seen.push(lr.item());
      // the gradient is 1, so w moved by exactly the reported lr
      const wNow = g.getValue(w).item();
      expect(wPrev - wNow).toBeCloseTo(lr.item(), 14);
      wPrev = wNow;
    }
    expect(seen).toEqual(sched.values(25));
  });

  it('lr symbol of the current step is float64 and a schedule is cast to each param dtype', () => {
    const g = new Graph();
    const a = g.param('a', Tensor.from([1], 'float32'));
    const b = g.param('b', Tensor.from([1], 'float64'));
    const loss = a.cast('float64').add(b).sum();
    const opt = sgd({ lr: schedules.exponential({ lr: 0.1, gamma: 0.5 }) });
    const ups = opt.updates([a, b], grad(loss, [a, b]));
    expect(opt.currentLr.dtype).toBe('float64');
    const step = compile(g, { outputs: [], updates: ups });
    step.run();
    step.run();
    expect(g.getValue(a).dtype).toBe('float32');
    expect(g.getValue(a).item()).toBeCloseTo(1 - 0.1 - 0.05, 6);
    expect(g.getValue(b).item()).toBeCloseTo(1 - 0.1 - 0.05, 15);
  });
});

describe('schedules: bad options', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['negative lr', () => schedules.constant(-1), /"lr" must be a number in \[0/],
    ['missing stepSize', () => schedules.stepDecay({ lr: 1 } as never), /"stepSize" is required/],
    ['fractional stepSize', () => schedules.stepDecay({ lr: 1, stepSize: 2.5 }), /"stepSize" must be an integer/],
    ['zero gamma', () => schedules.exponential({ lr: 1, gamma: 0 }), /"gamma" must be a number in \(0/],
    ['typo option', () => schedules.cosine({ lr: 1, totalSteps: 10, warmup: 3 } as never), /unknown option "warmup"/],
    ['warmup ≥ total', () => schedules.cosine({ lr: 1, totalSteps: 10, warmupSteps: 10 }), /"warmupSteps" must be an integer in \[0, 10\)/],
    ['minLr above lr', () => schedules.cosine({ lr: 0.1, totalSteps: 10, minLr: 0.2 }), /"minLr"/],
    ['unsorted milestones', () => schedules.multiStep({ lr: 1, milestones: [5, 3] }), /milestones must increase/],
    ['one-cycle too short', () => schedules.oneCycle({ maxLr: 1, totalSteps: 3 }), /phase boundaries/],
    ['one-cycle pctStart 1', () => schedules.oneCycle({ maxLr: 1, totalSteps: 100, pctStart: 1 }), /"pctStart"/],
    ['bad anneal', () => schedules.oneCycle({ maxLr: 1, totalSteps: 100, annealStrategy: 'exp' as never }), /'cos', 'linear'/],
    ['negative step', () => schedules.constant(1).values([-1]), /non-negative/],
    ['constant factor above 1', () => schedules.constant({ lr: 1, factor: 2 }), /"factor" must be a number in \[0, 1\]/],
    ['polynomial without totalSteps', () => schedules.polynomial({ lr: 1 } as never), /"totalSteps" is required/],
    ['polynomial power 0', () => schedules.polynomial({ lr: 1, totalSteps: 5, power: 0 }), /"power"/],
    ['cyclic mode', () => schedules.cyclic({ baseLr: 0, maxLr: 1, stepSizeUp: 2, mode: 'expRange' as never }), /'triangular', 'triangular2', 'exp_range'/],
    ['cyclic step size 0', () => schedules.cyclic({ baseLr: 0, maxLr: 1, stepSizeUp: 0 }), /"stepSizeUp"/],
    ['warm restarts tMult 1.5', () => schedules.cosineWarmRestarts({ lr: 1, t0: 2, tMult: 1.5 }), /"tMult" must be an integer/],
    ['multiplicative without totalSteps', () => schedules.multiplicative({ lr: 1, factor: () => 0.9 }), /"totalSteps" is required/],
    ['multiplicative factor returns NaN', () => schedules.multiplicative({ lr: 1, factor: () => NaN, totalSteps: 3 }), /factor\(1\) returned NaN/],
    ['multiplicative factor a string', () => schedules.multiplicative({ lr: 1, factor: '0.9' as never }), /"factor" must be a number or a function/],
  ];
  it.each(cases)('%s', (_name, fn, message) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).toMatch(message);
    expect((err as GraphError).origin).toMatch(/schedules\.test\.ts/);
  });
});
