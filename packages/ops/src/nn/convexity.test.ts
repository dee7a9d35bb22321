import { describe, expect, it } from 'vitest';
import { Graph, GraphError, Tensor, compile } from '@gradgraph/core';
import { nn } from '../index';

const grid = (lo: number, hi: number, n: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
const f64 = (v: number | number[] | number[][]) => Tensor.from(v, 'float64');

describe('nn.convexity on sampled shapes', () => {
  const x = grid(-3, 3, 121);
  const shapes: Record<string, (v: number) => number> = {
    relu: (v) => Math.max(0, v),
    abs: Math.abs,
    square: (v) => v * v,
    exp: Math.exp,
    softplus: (v) => Math.log1p(Math.exp(v)),
    'two slopes, k1 > k2': (v) => (v > 0 ? 1.3 * v : 0.2 * v),
    linear: (v) => 2 - 0.5 * v,
    constant: () => 7,
    // not convex
    'minus abs': (v) => -Math.abs(v),
    tanh: Math.tanh,
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    sin: Math.sin,
    cube: (v) => v * v * v,
    'two slopes, k1 < k2': (v) => (v > 0 ? 0.2 * v : 1.3 * v),
    'a W': (v) => Math.abs(Math.abs(v) - 1.5),
  };
  const convexOnes = ['relu', 'abs', 'square', 'exp', 'softplus', 'two slopes, k1 > k2', 'linear', 'constant'];

  it('tells known convex shapes from known non-convex ones', () => {
    const names = Object.keys(shapes);
    const r = nn.convexity(x, names.map((k) => x.map(shapes[k])));
    expect(Object.fromEntries(names.map((k, i) => [k, r.convex[i]]))).toEqual(Object.fromEntries(names.map((k) => [k, convexOnes.includes(k)])));
    expect(r.fraction).toBeCloseTo(convexOnes.length / names.length, 12);
    expect(r.tol).toBe(1e-3);
    // the relative slope drop: −|x| reverses its slope fully (−2 relative to |slope| 1)
    expect(r.minSlopeChange[names.indexOf('minus abs')]).toBeCloseTo(-2, 12);
    expect(r.minSlopeChange[names.indexOf('linear')]).toBeCloseTo(0, 12);
  });

  it('reads a Tensor [points, units] column by column', () => {
    const t = new Tensor('float64', [x.length, 2]);
    x.forEach((v, i) => {
      t.data[2 * i] = Math.abs(v);
      t.data[2 * i + 1] = Math.sin(v);
    });
    expect(nn.convexity(x, t).convex).toEqual([true, false]);
  });

  it('judges a kink by its slope drop relative to the steepest slope, whatever the scale', () => {
    // slope 1 then 0.99 at x = 1: a 1% drop
    const f = x.map((v) => (v < 1 ? v : 1 + 0.99 * (v - 1)));
    for (const scale of [1e-3, 1, 1e4]) {
      const y = f.map((v) => scale * v);
      expect(nn.convexity(x, [y]).convex).toEqual([false]);
      expect(nn.convexity(x, [y], { tol: 0.02 }).convex).toEqual([true]);
      expect(nn.convexity(x, [y]).minSlopeChange[0]).toBeCloseTo(-0.01, 9);
    }
  });

  it('works on uneven grids (chord slopes)', () => {
    const xs = [-2, -1.5, -0.1, 0, 0.3, 2];
    expect(nn.convexity(xs, [xs.map(Math.abs), xs.map((v) => -v * v)]).convex).toEqual([true, false]);
  });

  it('rejects bad grids, shapes and options', () => {
    expect(() => nn.convexity([0, 1], [[0, 1]])).toThrow(/at least 3/);
    expect(() => nn.convexity([0, 2, 1], [[0, 1, 2]])).toThrow(/increase strictly/);
    expect(() => nn.convexity([0, 1, 2], [[0, 1]])).toThrow(/shape 0 must have 3 values/);
    expect(() => nn.convexity([0, 1, 2], [[0, NaN, 1]])).toThrow(/shape 0 is not finite at x = 1/);
    expect(() => nn.convexity([0, 1, 2], Tensor.zeros([2, 2]))).toThrow(/with 3 points/);
    expect(() => nn.convexity([0, 1, 2], [[0, 1, 2]], { tol: -1 })).toThrow(GraphError);
    expect(() => nn.convexity([0, 1, 2], [[0, 1, 2]], { tolerance: 1 } as never)).toThrow(/unknown option "tolerance"/);
  });
});

describe('nn.learnedActivations', () => {
  function model() {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 3]);
    const outs = g.scope('hidden', () => [
      nn.prelu(x),
      nn.twoSlope(x, { share: 'channel' }),
      nn.splash(x, { hinges: 5, share: 'channel' }),
      nn.splash(x),
      nn.apl(x, { hinges: 2 }),
    ]);
    return { g, x, outs };
  }

  it('finds what the builders made, in order, with scopes, params and unit counts', () => {
    const { g } = model();
    const acts = nn.learnedActivations(g);
    expect(acts.map((a) => [a.kind, a.scope, Object.keys(a.params), a.units])).toEqual([
      ['prelu', 'hidden/prelu', ['alpha'], 1],
      ['twoSlope', 'hidden/twoSlope', ['k1', 'k2'], 3],
      ['splash', 'hidden/splash', ['aPos', 'aNeg'], 3],
      ['splash', 'hidden/splash_1', ['aPos', 'aNeg'], 1],
      ['apl', 'hidden/apl', ['a', 'b'], 3],
    ]);
    expect(acts[2].hinges).toEqual([0, 1.25, 2.5]);
    expect(acts[1].params.k1.name).toBe('hidden/twoSlope/k1');
  });

  it('evaluates each shape exactly as the model computes it', () => {
    const { g, x, outs } = model();
    // move every coefficient off its initial value
    for (const [i, p] of g.params().entries()) {
      const v = Tensor.randn(p.shape as number[], 'float32', 100 + i);
      g.setValue(p, v);
    }
    const xs = grid(-3, 3, 13);
    const feed = new Tensor('float32', [xs.length, 3]);
    xs.forEach((v, i) => feed.data.fill(v, 3 * i, 3 * i + 3));
    const model_ = compile(g, { outputs: outs }).run({ x: feed });
    nn.learnedActivations(g).forEach((a, k) => {
      const shapes = a.evaluate(xs);
      expect(shapes.dtype).toBe('float64');
      expect(shapes.shape).toEqual([xs.length, a.units]);
      for (let i = 0; i < xs.length; i++) for (let c = 0; c < 3; c++) {
        expect(shapes.data[i * a.units + (a.units === 1 ? 0 : c)]).toBeCloseTo(model_[k].data[3 * i + c], 4);
      }
    });
  });

  it('evaluates at other param values without touching the graph', () => {
    const { g } = model();
    const two = nn.learnedActivations(g)[1];
    const before = g.getValue(two.params.k1).toArray();
    const y = two.evaluate([-1, 2], { k1: f64([1, 2, 3]), k2: f64([0, -1, 0.5]) });
    expect(y.toArray()).toEqual([[0, 1, -0.5], [2, 4, 6]]);
    expect(g.getValue(two.params.k1).toArray()).toEqual(before);
    expect(() => two.evaluate([0], { k3: f64(1) })).toThrow(/unknown param "k3"/);
    expect(() => two.evaluate([0], { k1: f64(1) })).toThrow(/k1 must be a Tensor of shape \[3\]/);
  });

  it('survives a save and load of the graph', () => {
    const { g } = model();
    const h = Graph.fromJSON(g.toJSON());
    expect(nn.learnedActivations(h).map((a) => a.scope)).toEqual(nn.learnedActivations(g).map((a) => a.scope));
  });
});

describe('nn.activationConvexity', () => {
  it('two slopes: convex exactly when k₁ ≥ k₂', () => {
    const g = new Graph();
    nn.twoSlope(g.input('x', [null, 4]), { share: 'channel' });
    const [act] = nn.learnedActivations(g);
    const r = nn.activationConvexity(act, { values: { k1: f64([1, 1, 0.2, -1]), k2: f64([0.25, -1, 0.5, -0.5]) } });
    expect(r.convex).toEqual([true, true, false, false]);
    expect(r.fraction).toBe(0.5);
  });

  it('SPLASH: the ReLU start is convex; a negative coefficient past 0 is not, unless its hinge is off the range', () => {
    const g = new Graph();
    nn.splash(g.input('x', [null, 2]), { hinges: [0, 1, 2] });
    const [act] = nn.learnedActivations(g);
    expect(nn.activationConvexity(act).convex).toEqual([true]);
    const values = { aPos: f64([1, -0.3, 0]), aNeg: f64([0, 0, 0]) };
    expect(nn.activationConvexity(act, { values }).convex).toEqual([false]);
    expect(nn.activationConvexity(act, { values, range: [-3, 0.9] }).convex).toEqual([true]);
    // at 0 the slope goes from −a⁻₁ to a⁺₁: convex while a⁺₁ + a⁻₁ ≥ 0
    expect(nn.activationConvexity(act, { values: { aPos: f64([1, 0, 0]), aNeg: f64([-1.2, 0, 0]) } }).convex).toEqual([false]);
    expect(nn.activationConvexity(act, { values: { aPos: f64([1, 0, 0]), aNeg: f64([-0.8, 0.5, 0]) } }).convex).toEqual([true]);
  });

  it('APL: convex when every slope a at a hinge in range is ≥ 0', () => {
    const g = new Graph();
    nn.apl(g.input('x', [null, 3]), { hinges: 2 });
    const [act] = nn.learnedActivations(g);
    const b = f64([[-1, 1], [-1, 1], [-1, 5]]);
    const r = nn.activationConvexity(act, { values: { a: f64([[0.3, 0.1], [0.3, -0.1], [0.3, -0.1]]), b } });
    expect(r.convex).toEqual([true, false, true]); // the third unit's negative slope sits at 5, off [−3, 3]
  });

  it('rejects bad options', () => {
    const g = new Graph();
    nn.prelu(g.input('x', [null, 2]));
    const [act] = nn.learnedActivations(g);
    expect(() => nn.activationConvexity(act, { range: [1, -1] })).toThrow(/lo < hi/);
    expect(() => nn.activationConvexity(act, { points: 2 })).toThrow(/points must be ≥ 3/);
    expect(() => nn.activationConvexity({} as never)).toThrow(/learned activation/);
    expect(() => nn.activationConvexity(act, { grid: 3 } as never)).toThrow(/unknown option "grid"/);
  });
});

describe('nn.chanceConvexity', () => {
  it('is the convexity of the start when nothing moved', () => {
    const g = new Graph();
    nn.twoSlope(g.input('x', [null, 3]), { share: 'channel' });
    const [act] = nn.learnedActivations(g);
    const start = { k1: f64([1, 1, 0.1]), k2: f64([0.25, 0.25, 0.5]) };
    const r = nn.chanceConvexity(act, { initial: start, learned: start, draws: 10 });
    expect(r.perUnit).toEqual([1, 1, 0]);
    expect(r.fraction).toBeCloseTo(2 / 3, 12);
  });

  it('flips each move at random: a single move across the convexity line is convex half the time', () => {
    const g = new Graph();
    nn.twoSlope(g.input('x', [null, 2]));
    const [act] = nn.learnedActivations(g);
    // k₂ moved from 0.25 to 1.75 (past k₁ = 1); flipped it lands at −1.25 (convex)
    const initial = { k1: f64(1), k2: f64(0.25) };
    const learned = { k1: f64(1), k2: f64(1.75) };
    expect(nn.activationConvexity(act, { values: learned }).convex).toEqual([false]);
    const r = nn.chanceConvexity(act, { initial, learned, draws: 400, seed: 7 });
    expect(r.draws).toBe(400);
    expect(r.fraction).toBeGreaterThan(0.4);
    expect(r.fraction).toBeLessThan(0.6);
    // seeded: the same seed gives the same number, another seed (almost surely) another
    expect(nn.chanceConvexity(act, { initial, learned, draws: 400, seed: 7 }).fraction).toBe(r.fraction);
    expect(nn.chanceConvexity(act, { initial, learned, draws: 400, seed: 8 }).fraction).not.toBe(r.fraction);
  });

  it('uses the current values as the learned ones by default, and needs the initial ones', () => {
    const g = new Graph();
    nn.splash(g.input('x', [null, 2]), { hinges: 3 });
    const [act] = nn.learnedActivations(g);
    const initial = { aPos: f64([1, 0]), aNeg: f64([0, 0]) };
    g.setValue(act.params.aPos, Tensor.from([1, -0.2]));
    g.setValue(act.params.aNeg, Tensor.from([0, 0.1]));
    // two signs decide: aPos₂ must end up ≥ 0 and aNeg₂ ≥ 0, each with probability ½
    expect(nn.chanceConvexity(act, { initial, draws: 800, seed: 1 }).fraction).toBeCloseTo(0.25, 1);
    expect(() => nn.chanceConvexity(act, {} as never)).toThrow(/initial .* is required/);
    expect(() => nn.chanceConvexity(act, { initial: { aPos: f64([1]), aNeg: f64([0, 0]) } })).toThrow(/initial.aPos must be a Tensor of shape \[2\]/);
  });
});
