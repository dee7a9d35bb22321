import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { checkpoint, parseCheckpoint, restoreCheckpoint } from '../train/checkpoint';
import { adadelta, adagrad, adam, adamax, adamw, momentum, nadam, nesterov, radam, rmsprop, schedules, sgd, type Optimizer } from './index';

/** A small float model: loss = Σ (w·x − 1)² + Σ b², params w [3], b [2]. */
function model(dtype: 'float32' | 'float64' = 'float64') {
  const g = new Graph();
  const w = g.param('w', Tensor.from([0.5, -1, 2], dtype));
  const b = g.param('b', Tensor.from([1, -1], dtype));
  const x = g.constant(Tensor.from([1, 2, 3], dtype));
  const r = w.mul(x).sub(1);
  const loss = r.mul(r).sum().add(b.mul(b).sum());
  return { g, w, b, loss, params: [w, b], grads: grad(loss, [w, b]) };
}

function train(opt: Optimizer, steps: number, dtype: 'float32' | 'float64' = 'float64') {
  const m = model(dtype);
  const step = compile(m.g, { outputs: [m.loss], updates: opt.updates(m.params, m.grads) });
  const losses = Array.from({ length: steps }, () => step.run()[0].item());
  return { ...m, step, losses };
}

describe('optimizer state', () => {
  it('is non-trainable graph state: in snapshots, not in g.params()', () => {
    const opt = adam({ amsgrad: true });
    const { g, w, b } = train(opt, 3);
    expect(g.params().map((p) => p.name)).toEqual(['w', 'b']);
    expect(g.stateVars().map((s) => s.name)).toEqual(['adam/step', 'adam/w/m', 'adam/w/v', 'adam/w/vMax', 'adam/b/m', 'adam/b/v', 'adam/b/vMax']);
    expect([...g.snapshot().values.keys()]).toEqual(['w', 'b', 'adam/step', 'adam/w/m', 'adam/w/v', 'adam/w/vMax', 'adam/b/m', 'adam/b/v', 'adam/b/vMax']);
    expect(g.getValue('adam/step').item()).toBe(3);
    expect(opt.stateVars.map((s) => s.name)).toEqual(g.stateVars().map((s) => s.name));
    expect(Object.keys(opt.stateOf(w))).toEqual(['m', 'v', 'vMax']);
    expect(opt.stateOf(b).m.shape).toEqual([2]);
  });

  it('is created in the dtype of each param; the step counter is int32', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const opt = rmsprop({ centered: true, momentum: 0.9 });
      const { g, w } = train(opt, 2, dtype);
      for (const s of Object.values(opt.stateOf(w))) expect(g.getValue(s).dtype).toBe(dtype);
      expect(opt.stepCount.dtype).toBe('int32');
      expect(g.getValue(w).dtype).toBe(dtype);
    }
  });

  it('mixed float32 and float64 params in one optimizer each keep their dtype', () => {
    const g = new Graph();
    const a = g.param('a', Tensor.from([1, 2], 'float32'));
    const c = g.param('c', Tensor.from([3], 'float64'));
    const loss = a.sum().cast('float64').add(c.mul(c).sum());
    const opt = adamw();
    const step = compile(g, { outputs: [loss], updates: opt.updates([a, c], grad(loss, [a, c])) });
    step.run();
    expect(opt.stateOf(a).m.dtype).toBe('float32');
    expect(opt.stateOf(c).v.dtype).toBe('float64');
    expect(g.getValue(a).dtype).toBe('float32');
  });

  it('restoring a snapshot continues the run bit for bit (moments and step counter included)', () => {
    const { g, step } = train(adam({ lr: schedules.cosine({ lr: 0.05, totalSteps: 20, warmupSteps: 3 }) }), 5);
    const saved = g.snapshot();
    const first = Array.from({ length: 6 }, () => step.run()[0].item());
    g.restore(saved);
    const again = Array.from({ length: 6 }, () => step.run()[0].item());
    expect(again).toEqual(first);
  });

  it('a second updates() call reuses the state; two optimizers get separate scopes', () => {
    const m = model();
    const opt = momentum();
    const u1 = opt.updates(m.params, m.grads);
    const u2 = opt.updates(m.params, m.grads);
    expect(u2.map(([t, v]) => [t.id, v.id])).toEqual(u1.map(([t, v]) => [t.id, v.id]));
    const other = momentum();
    other.updates(m.params, m.grads);
    expect(m.g.stateVars().map((s) => s.name)).toEqual(['momentum/step', 'momentum/w/momentum', 'momentum/b/momentum', 'momentum_1/step', 'momentum_1/w/momentum', 'momentum_1/b/momentum']);
    const named = sgd({ momentum: 0.5, name: 'slow' });
    named.updates(m.params, m.grads);
    expect(named.stepCount.name).toBe('slow/step');
  });

  it('a null grad leaves its param and creates no state for it', () => {
    const m = model();
    const opt = adam({ lr: 0.1 });
    const step = compile(m.g, { outputs: [m.loss], updates: opt.updates(m.params, [m.grads[0], null]) });
    step.run();
    expect(Array.from(m.g.getValue(m.b).data)).toEqual([1, -1]);
    expect(opt.stateOf(m.b)).toEqual({});
    expect(Array.from(m.g.getValue(m.w).data)).not.toEqual([0.5, -1, 2]);
  });

  it('every optimizer brings the loss down', () => {
    const makers: [string, () => Optimizer][] = [
      ['sgd', () => sgd({ lr: 0.02 })],
      ['momentum', () => momentum({ lr: 0.01 })],
      ['nesterov', () => nesterov({ lr: 0.01 })],
      ['adagrad', () => adagrad({ lr: 0.3 })],
      ['rmsprop', () => rmsprop({ lr: 0.03 })],
      ['adam', () => adam({ lr: 0.05 })],
      ['adamw', () => adamw({ lr: 0.05 })],
      ['nadam', () => nadam({ lr: 0.05 })],
      ['radam', () => radam({ lr: 0.05 })],
      ['adamax', () => adamax({ lr: 0.05 })],
      ['adadelta', () => adadelta({ lr: 10 })],
    ];
    for (const [name, make] of makers) {
      const { losses } = train(make(), 60);
      expect(losses[59], name).toBeLessThan(losses[0] * 0.1);
    }
  });
});

describe('defaults follow PyTorch', () => {
  it.each([
    [sgd(), { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, decoupledWeightDecay: 0 }],
    [momentum(), { lr: 1e-3, momentum: 0.9, nesterov: false }],
    [nesterov(), { lr: 1e-3, momentum: 0.9, nesterov: true }],
    [adagrad(), { lr: 1e-2, lrDecay: 0, initialAccumulator: 0, eps: 1e-10, epsInsideSqrt: false, weightDecay: 0 }],
    [rmsprop(), { lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false, epsInsideSqrt: false, weightDecay: 0 }],
    [adam(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false, epsHat: false, weightDecay: 0, decoupledWeightDecay: 0 }],
    [adamw(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false, weightDecay: 0, decoupledWeightDecay: 0.01 }],
    [nadam(), { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, momentumDecay: 4e-3, weightDecay: 0, decoupledWeightDecay: 0 }],
    [radam(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: 0 }],
    [adamax(), { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }],
    [adadelta(), { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0 }],
  ])('%#', (opt, want) => {
    expect(opt.config).toMatchObject(want);
  });
});

describe('weight decay exclusions', () => {
  /** w and b after 5 steps of `opt` on the shared model. */
  const after = (opt: Optimizer) => {
    const { g, w, b } = train(opt, 5);
    return { w: Array.from(g.getValue(w).data), b: Array.from(g.getValue(b).data) };
  };
  const none = after(adam({ lr: 0.1 }));

  it.each<[string, (b: Sym) => Parameters<typeof adamw>[0]]>([
    ['a list of params', (b) => ({ excludeFromDecay: [b] })],
    ['a list of names', () => ({ excludeFromDecay: ['b'] })],
    ['a RegExp', () => ({ excludeFromDecay: /^b$/ })],
    ['a predicate', () => ({ excludeFromDecay: (p: Sym) => p.name === 'b' })],
  ])('decoupled (adamw) by %s: the excluded param moves exactly as without decay', (_n, opts) => {
    // the exclusion list must name a param of the graph that train() builds, so build it lazily
    const m = model();
    const opt = adamw({ lr: 0.1, weightDecay: 0.5, ...opts(m.b) });
    const step = compile(m.g, { outputs: [m.loss], updates: opt.updates(m.params, m.grads) });
    for (let i = 0; i < 5; i++) step.run();
    expect(Array.from(m.g.getValue(m.b).data)).toEqual(none.b);
    const w = Array.from(m.g.getValue(m.w).data);
    w.forEach((v, i) => expect(Math.abs(v - none.w[i])).toBeGreaterThan(1e-3));
  });

  it('coupled (sgd weightDecay): excluded params get the plain gradient', () => {
    const plain = after(sgd({ lr: 0.01 }));
    const m = model();
    const opt = sgd({ lr: 0.01, weightDecay: 0.3, excludeFromDecay: [m.w] });
    const step = compile(m.g, { outputs: [m.loss], updates: opt.updates(m.params, m.grads) });
    for (let i = 0; i < 5; i++) step.run();
    expect(Array.from(m.g.getValue(m.w).data)).toEqual(plain.w);
    // b: g + 0.3·b = 2.3·b each step → b·(1 − 0.023)^5
    Array.from(m.g.getValue(m.b).data).forEach((v, i) => expect(v).toBeCloseTo([1, -1][i] * (1 - 0.023) ** 5, 14));
  });

  it('a name that is no param of the graph is an error, not a silent no-op', () => {
    const m = model();
    expect(() => adamw({ excludeFromDecay: ['prelu/alpha'] }).updates(m.params, m.grads)).toThrow(/"prelu\/alpha", which is not a param/);
  });
});

describe('lr as a symbol', () => {
  it('an input fed at run time sets the step size', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([0], 'float64'));
    const lr = g.input('lr', [], 'float64');
    const loss = w.sum();
    const step = compile(g, { outputs: [], updates: sgd({ lr }).updates([w], grad(loss, [w])) });
    step.run({ lr: 0.25 });
    step.run({ lr: 0.5 });
    expect(g.getValue(w).item()).toBe(-0.75);
  });
});

describe('errors', () => {
  const m = model();
  const other = model();
  const catchErr = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected an error');
  };
  it.each<[string, () => unknown, ErrorConstructor | typeof GraphError, RegExp]>([
    ['negative lr', () => adam({ lr: -1e-3 }), GraphError, /"lr" must be a number in \[0, ∞\), got -0.001/],
    ['NaN lr', () => sgd({ lr: NaN }), GraphError, /"lr"/],
    ['β₁ = 1', () => adam({ betas: [1, 0.999] }), GraphError, /"betas\[0\]" must be a number in \[0, 1\), got 1/],
    ['β₂ < 0', () => adamw({ betas: [0.9, -0.1] }), GraphError, /"betas\[1\]"/],
    ['betas not a pair', () => adam({ betas: [0.9] as never }), GraphError, /pair/],
    ['eps 0 for adam', () => adam({ eps: 0 }), GraphError, /"eps" must be a number in \(0/],
    ['negative weight decay', () => sgd({ weightDecay: -0.1 }), GraphError, /"weightDecay"/],
    ['alpha 1', () => rmsprop({ alpha: 1 }), GraphError, /"alpha"/],
    ['nesterov without momentum', () => sgd({ nesterov: true }), GraphError, /Nesterov momentum needs momentum > 0/],
    ['nesterov with dampening', () => nesterov({ dampening: 0.1 }), GraphError, /dampening 0/],
    ['momentum 0 for momentum()', () => momentum({ momentum: 0 }), GraphError, /must be > 0 for momentum/],
    ['unknown option', () => adam({ learningRate: 0.1 } as never), GraphError, /unknown option "learningRate"; known options: lr,/],
    ['decoupledWeightDecay on adamw', () => adamw({ decoupledWeightDecay: 0.1 } as never), GraphError, /unknown option "decoupledWeightDecay"/],
    ['lr of rank 1', () => sgd({ lr: m.g.input('lrvec', [2], 'float64') }), ShapeError, /scalar symbol, got shape \[2\]/],
    ['lr of bool dtype', () => sgd({ lr: m.g.input('lrbool', [], 'bool') }), DTypeError, /numeric symbol, got bool/],
    ['lr of another type', () => sgd({ lr: '0.1' as never }), GraphError, /number, a scalar symbol or a schedule/],
    ['bad exclusion', () => adamw({ excludeFromDecay: 3 as never }), GraphError, /excludeFromDecay/],
    ['more params than grads', () => sgd().updates(m.params, [m.grads[0]]), GraphError, /got 2 params but 1 grads/],
    ['no params', () => sgd().updates([], []), GraphError, /at least one param/],
    ['grad of the wrong shape', () => sgd().updates([m.w], [m.grads[1]]), ShapeError, /grad 0 has shape \[2\] but param "w" has shape \[3\]/],
    ['grad of the wrong dtype', () => sgd().updates([m.w], [m.grads[0].cast('float32')]), DTypeError, /grad 0 is float32 but param "w" is float64/],
    ['a non-param', () => sgd().updates([m.loss], [m.loss]), GraphError, /param 0 is a add node, not a param/],
    ['a param twice', () => sgd().updates([m.w, m.w], [m.grads[0], m.grads[0]]), GraphError, /listed twice/],
    ['params of two graphs', () => sgd().updates([m.w, other.w], [m.grads[0], other.grads[0]]), GraphError, /another graph/],
    ['int param', () => { const g = new Graph(); const k = g.param('k', Tensor.from([1], 'int32')); return sgd().updates([k], [k]); }, DTypeError, /only float32 and float64/],
    ['grads not an array', () => sgd().updates(m.params, m.grads[0] as never), GraphError, /two arrays/],
  ])('%s', (_name, fn, Type, message) => {
    const err = catchErr(fn);
    expect(err).toBeInstanceOf(Type);
    expect(err.message).toMatch(message);
    expect((err as GraphError).origin).toMatch(/optimizer\.test\.ts/);
  });

  it('an optimizer serves one graph', () => {
    const opt = adam();
    opt.updates(m.params, m.grads);
    expect(() => opt.updates(other.params, other.grads)).toThrow(/already serves another graph/);
  });

  it('stepCount and currentLr exist only after updates()', () => {
    expect(() => adam().stepCount).toThrow(/once updates\(\) has been called/);
    expect(() => adam().currentLr).toThrow(GraphError);
  });
});

describe('no silent NaN', () => {
  it('centered rmsprop with a constant gradient: v − ḡ² rounds below 0, the root sees 0', () => {
    // with α = 0.5 and g ≡ 0.333, v and ḡ² both converge to g² and their float64 difference
    // turns negative after ~50 steps; PyTorch's √(v − ḡ²) gives NaN there
    for (const dtype of ['float32', 'float64'] as const) {
      const g = new Graph();
      const w = g.param('w', Tensor.from([1, 2, 3], dtype));
      const loss = w.mul(g.constant(Tensor.from([0.333, 0.333, 1.7], dtype))).sum();
      const opt = rmsprop({ lr: 1e-3, alpha: 0.5, centered: true });
      const step = compile(g, { outputs: [loss], updates: opt.updates([w], grad(loss, [w])), nanGuard: true });
      for (let i = 0; i < 150; i++) step.run();
      expect(Array.from(g.getValue(w).data).every(Number.isFinite)).toBe(true);
    }
  });

  it('a param with an all-zero gradient stays finite and unmoved under every optimizer', () => {
    const makers = [sgd({ momentum: 0.9, dampening: 0.5 }), nesterov(), adagrad(), adagrad({ eps: 0, initialAccumulator: 0.1 }), rmsprop({ centered: true, momentum: 0.5 }), adam({ amsgrad: true }), adam({ epsHat: true }), adamw({ weightDecay: 0 }), nadam(), radam(), adamax(), adadelta()];
    for (const opt of makers) {
      const g = new Graph();
      const w = g.param('w', Tensor.from([1, -2], 'float32'));
      const u = g.param('u', Tensor.from([3], 'float32'));
      const loss = u.mul(u).sum();
      const step = compile(g, { outputs: [loss], updates: opt.updates([w, u], grad(loss, [w, u])), nanGuard: true });
      for (let i = 0; i < 3; i++) step.run();
      expect(Array.from(g.getValue(w).data), opt.name).toEqual([1, -2]);
    }
  });
});

describe('nadam, radam, adamax, adadelta', () => {
  it('keep their state in snapshots under their own names; NAdam\'s momentum product is a float64 scalar', () => {
    const cases: [Optimizer, string[]][] = [
      [nadam(), ['m', 'v', 'muProduct']],
      [radam(), ['m', 'v']],
      [adamax(), ['m', 'u']],
      [adadelta(), ['squareAvg', 'accDelta']],
    ];
    for (const [opt, slots] of cases) {
      const { g, w } = train(opt, 3, 'float32');
      expect(Object.keys(opt.stateOf(w)), opt.name).toEqual(slots);
      expect(g.stateVars().map((v) => v.name)).toEqual([`${opt.name}/step`, ...slots.map((n) => `${opt.name}/w/${n}`), ...slots.map((n) => `${opt.name}/b/${n}`)]);
      for (const n of slots) expect([...g.snapshot().values.keys()]).toContain(`${opt.name}/w/${n}`);
      if (opt.name === 'nadam') {
        const mu = g.getValue(opt.stateOf(w).muProduct);
        expect([mu.dtype, mu.shape]).toEqual(['float64', []]);
        // Π μ_t for t = 1..3, μ_t = 0.9·(1 − ½·0.96^(0.004t))
        const want = [1, 2, 3].reduce((p, t) => p * 0.9 * (1 - 0.5 * 0.96 ** (0.004 * t)), 1);
        expect(mu.item()).toBeCloseTo(want, 15);
      }
      expect(g.getValue(opt.stateOf(w)[slots[0]]).dtype).toBe('float32');
    }
  });

  it('resume from a snapshot bit for bit', () => {
    for (const make of [() => nadam({ lr: 0.05 }), () => radam({ lr: 0.05 }), () => adamax({ lr: 0.05 }), () => adadelta()]) {
      const { g, step } = train(make(), 4);
      const saved = g.snapshot();
      const first = Array.from({ length: 8 }, () => step.run()[0].item());
      g.restore(saved);
      expect(Array.from({ length: 8 }, () => step.run()[0].item())).toEqual(first);
    }
  });

  it('resume from a checkpoint (JSON) bit for bit, NAdam\'s float64 momentum product in a float32 model included', () => {
    for (const make of [() => nadam({ lr: 0.05 }), () => radam({ lr: 0.05 }), () => adamax({ lr: 0.05 }), () => adadelta()]) {
      const a = train(make(), 4, 'float32');
      const doc = JSON.parse(JSON.stringify(checkpoint(a.g)));
      const first = Array.from({ length: 6 }, () => a.step.run()[0].item());
      const b = train(make(), 0, 'float32');
      restoreCheckpoint(b.g, parseCheckpoint(doc));
      expect(Array.from({ length: 6 }, () => b.step.run()[0].item())).toEqual(first);
    }
  });

  it('radam takes plain momentum steps while ρ_t ≤ 5 (the first steps), then rectified adaptive ones', () => {
    // with β₂ = 0.9: ρ∞ = 19, ρ_t = 19 − 2t·0.9ᵗ/(1 − 0.9ᵗ): 1, 1.95, … ≤ 5 up to t = 5 (4.58), 5.39 at t = 6
    const rho = (t: number) => 19 - (2 * t * 0.9 ** t) / (1 - 0.9 ** t);
    expect([5, 6].map((t) => rho(t) > 5)).toEqual([false, true]);
    const g = new Graph();
    const w = g.param('w', Tensor.from([3], 'float64'));
    const loss = w.mul(w).sum().mul(0.5); // gradient w
    const opt = radam({ lr: 0.1, betas: [0.5, 0.9] });
    const step = compile(g, { outputs: [loss], updates: opt.updates([w], grad(loss, [w])) });
    let m = 0;
    let v = 0;
    let x = 3;
    for (let t = 1; t <= 8; t++) {
      step.run();
      m = 0.5 * m + 0.5 * x;
      v = 0.9 * v + 0.1 * x * x;
      const mHat = m / (1 - 0.5 ** t);
      const r = rho(t);
      if (r > 5) {
        const rect = Math.sqrt(((r - 4) * (r - 2) * 19) / (15 * 17 * r));
        x -= (0.1 * mHat * rect * Math.sqrt(1 - 0.9 ** t)) / (Math.sqrt(v) + 1e-8);
      } else x -= 0.1 * mHat;
      expect(g.getValue(w).item()).toBeCloseTo(x, 13);
    }
  });

  it('reject bad hyperparameters, naming them', () => {
    expect(() => nadam({ momentumDecay: -1 })).toThrow(/option "momentumDecay" must be a number in \[0, ∞\)/);
    expect(() => nadam({ betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => radam({ eps: 0 })).toThrow(GraphError);
    expect(() => adamax({ lr: -1 })).toThrow(/option "lr"/);
    expect(() => adadelta({ rho: 1.5 })).toThrow(/option "rho" must be a number in \[0, 1\]/);
    expect(() => adadelta({ momentum: 0.9 } as never)).toThrow(/unknown option "momentum"/);
  });
});
