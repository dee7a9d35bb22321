import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn } from '../index';

const run = (g: Graph, outs: Sym[], feeds: Record<string, Tensor> = {}) => compile(g, { outputs: outs }).run(feeds);

/** SPLASH by its definition, one unit. */
function splashRef(x: number, b: number[], ap: number[], an: number[]): number {
  let h = 0;
  b.forEach((bk, k) => {
    h += ap[k] * Math.max(0, x - bk) + an[k] * Math.max(0, -x - bk);
  });
  return h;
}

/** APL by its definition, one unit. */
function aplRef(x: number, a: number[], b: number[]): number {
  return Math.max(0, x) + a.reduce((s, as, k) => s + as * Math.max(0, -x + b[k]), 0);
}

describe('nn.prelu', () => {
  it('creates one slope 0.25 by default and computes max(0,x) + a·min(0,x)', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const y = g.scope('act', () => nn.prelu(x));
    const [alpha] = g.params();
    expect(alpha.name).toBe('act/prelu/alpha');
    expect(alpha.shape).toEqual([]);
    expect(g.getValue(alpha).item()).toBe(0.25);
    expect(nn.paramRole(alpha)).toBe('activation');
    const [yv] = run(g, [y], { x: Tensor.from([[-4, 0, 2]]) });
    expect(yv.toArray()).toEqual([[-1, 0, 2]]);
  });

  it('has one slope per channel with perChannel, in the dtype of x', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const y = nn.prelu(x, { perChannel: true, init: 0.1 });
    const alpha = g.byName('prelu/alpha')!;
    expect(alpha.shape).toEqual([3]);
    expect(alpha.dtype).toBe('float64');
    g.setValue(alpha, Tensor.from([0.1, 0.2, 0.3], 'float64'));
    const [da, dx] = grad(y.sum(), [alpha, x]);
    const [yv, dav, dxv] = run(g, [y, da, dx], { x: Tensor.from([[-1, -1, 0], [-2, 5, -3]], 'float64') });
    expect(yv.toArray()).toEqual([[-0.1, -0.2, 0], [-0.2, 5, expect.closeTo(-0.9, 15)]]);
    expect(dav.toArray()).toEqual([-3, -1, -3]); // Σ min(0, x) per channel
    // at x = 0 the slope is a (PyTorch's convention), and d/da is 0
    expect(dxv.toArray()).toEqual([[0.1, 0.2, 0.3], [0.1, 1, 0.3]]);
  });

  it('gives two builders two scopes', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    nn.prelu(nn.prelu(x));
    nn.prelu(x, { name: 'mine' });
    expect(g.params().map((p) => p.name)).toEqual(['prelu/alpha', 'prelu_1/alpha', 'mine/alpha']);
  });

  it('rejects bad input', () => {
    const g = new Graph();
    expect(() => nn.prelu(g.input('i', [2], 'int32'))).toThrow(DTypeError);
    expect(() => nn.prelu(g.input('x', [2, null]), { perChannel: true })).toThrow(/size of axis 1 of x to be known/);
    expect(() => nn.prelu(g.input('z', [2]), { slope: 0.1 } as never)).toThrow(/unknown option "slope"/);
    const x = g.input('w', [4, 3]);
    expect(() => nn.functional.prelu(x, g.param('a2', Tensor.zeros([2])))).toThrow(ShapeError);
    expect(() => nn.functional.prelu(x, g.param('a3', Tensor.zeros([3, 1])))).toThrow(ShapeError);
  });
});

describe('nn.twoSlope', () => {
  it('creates k1 = 1, k2 = 0.25 shared by the layer and computes k₁·max(0,x) + k₂·min(0,x)', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const y = g.scope('act', () => nn.twoSlope(x));
    const [k1, k2] = g.params();
    expect([k1.name, k2.name]).toEqual(['act/twoSlope/k1', 'act/twoSlope/k2']);
    expect([k1.shape, k2.shape]).toEqual([[], []]);
    expect([g.getValue(k1).item(), g.getValue(k2).item()]).toEqual([1, 0.25]);
    expect([nn.paramRole(k1), nn.paramRole(k2)]).toEqual(['activation', 'activation']);
    g.setValue(k1, Tensor.from(2));
    const [yv] = run(g, [y], { x: Tensor.from([[-4, 0, 3]]) });
    expect(yv.toArray()).toEqual([[-1, 0, 6]]);
  });

  it('is SPLASH with one hinge at 0 (a⁺₁ = k₁, a⁻₁ = −k₂), in value and in every gradient', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const k1 = g.param('k1', Tensor.from([1.5, -0.3, 0.7], 'float64'));
    const k2 = g.param('k2', Tensor.from([0.2, 0.9, -1.1], 'float64'));
    const mine = nn.functional.twoSlope(x, k1, k2);
    const theirs = nn.functional.splash(x, k1.expandDims(-1), k2.neg().expandDims(-1), { hinges: [0] });
    const feeds = { x: Tensor.from([[-2, 0, 1.5], [0.5, -0.25, 0]], 'float64') };
    const wrt = [x, k1, k2];
    const outs = run(g, [mine, theirs, ...grad(mine.sin().sum(), wrt), ...grad(theirs.sin().sum(), wrt)], feeds);
    const plain = (t: Tensor) => Array.from(t.data, (v) => v + 0); // −0 and 0 alike
    expect(plain(outs[0])).toEqual(plain(outs[1]));
    for (let i = 0; i < 3; i++) plain(outs[2 + i]).forEach((v, j) => expect(v).toBeCloseTo(plain(outs[5 + i])[j], 14));
    // at 0 the slope is the midpoint (k₁ + k₂)/2
    const [dx] = run(g, grad(mine.sum(), [x]), feeds);
    expect(dx.toArray()[0][1]).toBeCloseTo((-0.3 + 0.9) / 2, 15);
  });

  it('has one pair per channel with share: channel, in the dtype of x', () => {
    const g = new Graph();
    nn.twoSlope(g.input('x', [null, 4], 'float64'), { share: 'channel', k1: 0.5, k2: -0.5 });
    const [k1, k2] = g.params();
    expect([k1.shape, k2.shape, k1.dtype]).toEqual([[4], [4], 'float64']);
    expect(g.getValue(k2).toArray()).toEqual([-0.5, -0.5, -0.5, -0.5]);
  });

  it('rejects bad options and shapes', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    expect(() => nn.twoSlope(x, { k3: 1 } as never)).toThrow(/unknown option "k3"/);
    expect(() => nn.twoSlope(x, { share: 'unit' } as never)).toThrow(/share must be 'layer' or 'channel'/);
    expect(() => nn.twoSlope(x, { k1: NaN })).toThrow(GraphError);
    expect(() => nn.twoSlope(g.input('n', [null, null]), { share: 'channel' })).toThrow(ShapeError);
    expect(() => nn.functional.twoSlope(x, g.param('a', Tensor.zeros([2])), g.param('b', Tensor.zeros([])))).toThrow(/k1 must have shape \[\] or \[3\]/);
    expect(() => nn.twoSlope(g.input('i', [2], 'int32'))).toThrow(DTypeError);
  });
});

describe('nn.splash', () => {
  it('places S hinges symmetrically: 0 shared, (S−1)/2 mirrored pairs', () => {
    expect(nn.splashHinges(7, 3)).toEqual([0, 1, 2, 3]);
    expect(nn.splashHinges(1)).toEqual([0]);
    expect(nn.splashHinges(5, 2)).toEqual([0, 1, 2]);
    expect(nn.splashHinges([0, 0.5, 2])).toEqual([0, 0.5, 2]);
    expect(() => nn.splashHinges(6)).toThrow(/hinges must be odd/);
    expect(() => nn.splashHinges([0.1, 1])).toThrow(/first hinge must be 0/);
    expect(() => nn.splashHinges([0, 2, 1])).toThrow(/must increase/);
    expect(() => nn.splashHinges(3, 0)).toThrow(/range must be > 0/);
  });

  it('starts as ReLU or as the identity', () => {
    const g = new Graph();
    const x = g.input('x', [6], 'float64');
    const r = nn.splash(x);
    const l = nn.splash(x, { init: 'linear' });
    expect(g.params().map((p) => `${p.name}${JSON.stringify(p.shape)}`)).toEqual(['splash/aPos[4]', 'splash/aNeg[4]', 'splash_1/aPos[4]', 'splash_1/aNeg[4]']);
    expect(g.getValue('splash_1/aNeg').toArray()).toEqual([-1, 0, 0, 0]);
    const xs = [-3.5, -1, -0.2, 0.4, 1.7, 3];
    const [rv, lv] = run(g, [r, l], { x: Tensor.from(xs, 'float64') });
    expect(Array.from(rv.data)).toEqual(xs.map((v) => Math.max(0, v)));
    expect(Array.from(lv.data)).toEqual(xs);
  });

  it('computes Σ a⁺ₖ·max(0, x − bₖ) + Σ a⁻ₖ·max(0, −x − bₖ) with layer-shared coefficients', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.splash(x, { hinges: 5, range: 2 });
    const ap = [0.5, -1, 2];
    const an = [0.3, 0.7, -0.4];
    g.setValue('splash/aPos', Tensor.from(ap, 'float64'));
    g.setValue('splash/aNeg', Tensor.from(an, 'float64'));
    const xs = [[-2.5, -1.5], [-0.5, 0.3], [1.2, 2.6]];
    const [yv] = run(g, [y], { x: Tensor.from(xs, 'float64') });
    expect(yv.toArray()).toEqual(xs.map((row) => row.map((v) => expect.closeTo(splashRef(v, [0, 1, 2], ap, an), 14))));
  });

  it('has one coefficient set per channel with share: channel', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.splash(x, { hinges: [0, 1], share: 'channel', init: 'linear' });
    expect(g.byName('splash/aPos')!.shape).toEqual([2, 2]);
    expect(g.getValue('splash/aNeg').toArray()).toEqual([[-1, 0], [-1, 0]]);
    const ap = [[1, 0.5], [2, -1]];
    const an = [[-1, 0.25], [0.5, 3]];
    g.setValue('splash/aPos', Tensor.from(ap, 'float64'));
    g.setValue('splash/aNeg', Tensor.from(an, 'float64'));
    const xs = [[-1.5, 1.5], [0.5, -2]];
    const [yv] = run(g, [y], { x: Tensor.from(xs, 'float64') });
    expect(yv.toArray()).toEqual(xs.map((row) => row.map((v, c) => expect.closeTo(splashRef(v, [0, 1], ap[c], an[c]), 14))));
  });

  it('has the mixed second derivatives ∂²h/∂x∂a⁺ₖ = [x > bₖ] and ∂²h/∂x∂a⁻ₖ = −[−x > bₖ]', () => {
    const g = new Graph();
    const x = g.input('x', [4], 'float64');
    const h = nn.splash(x, { hinges: [0, 1, 2] });
    const [ap, an] = g.params();
    // Σᵢ ∂h(xᵢ)/∂xᵢ, then its gradient in a±: Σᵢ [xᵢ > bₖ] and −Σᵢ [−xᵢ > bₖ]
    const [dx] = grad(h.sum(), [x]);
    const [dap, dan] = grad(dx.sum(), [ap, an]);
    const [p, n] = run(g, [dap, dan], { x: Tensor.from([-2.5, -0.5, 1.5, 2.5], 'float64') });
    expect(p.toArray()).toEqual([2, 2, 1]);
    expect(n.toArray()).toEqual([-2, -1, -1]);
  });

  it('takes the midpoint slope exactly at a hinge', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const h = nn.splash(x, { hinges: [0, 1], init: 'linear' });
    const [dx] = grad(h.sum(), [x]);
    expect(Array.from(run(g, [dx], { x: Tensor.from([0, 1], 'float64') })[0].data)).toEqual([1, 1]);
    const g2 = new Graph();
    const x2 = g2.input('x', [1], 'float64');
    const [d2] = grad(nn.splash(x2).sum(), [x2]);
    expect(run(g2, [d2], { x: Tensor.from([0], 'float64') })[0].data[0]).toBe(0.5); // relu init: ½ at 0
  });

  it('rejects bad options and shapes', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    expect(() => nn.splash(x, { init: 'tanh' as never })).toThrow(/init must be 'relu' or 'linear'/);
    expect(() => nn.splash(x, { share: 'unit' as never })).toThrow(/share must be/);
    expect(() => nn.splash(x, { hinges: 4 })).toThrow(/odd/);
    expect(() => nn.splash(g.input('y', [2, null]), { share: 'channel' })).toThrow(ShapeError);
    const a = g.param('a', Tensor.zeros([3]));
    expect(() => nn.functional.splash(x, a, a, { hinges: 7 })).toThrow(/aPos must have shape \[4\] or \[3, 4\]/);
    expect(() => nn.functional.splash(x, g.param('b', Tensor.zeros([2, 4])), g.param('c', Tensor.zeros([2, 4])))).toThrow(ShapeError);
    expect(() => nn.splash(x, { hinge: 3 } as never)).toThrow(GraphError);
  });
});

describe('nn.apl', () => {
  it('creates a and b per unit and computes max(0,x) + Σ aₛ·max(0, −x + bₛ)', () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 2], 'float64');
    const y = nn.apl(x, { hinges: 3 });
    const [a, b] = g.params();
    expect([a.name, b.name]).toEqual(['apl/a', 'apl/b']);
    expect(a.shape).toEqual([2, 3]);
    expect(g.getValue(a).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    const bv = g.getValue(b);
    expect(Math.min(...bv.data)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...bv.data)).toBeLessThan(1);
    const av = [[0.5, -0.2, 1], [2, 0.1, -0.3]];
    const bs = [[0, 0.5, -1], [1, -0.5, 0.2]];
    g.setValue(a, Tensor.from(av, 'float64'));
    g.setValue(b, Tensor.from(bs, 'float64'));
    const xs = [[-1.3, 0.7], [0.25, -2]];
    const [yv] = run(g, [y], { x: Tensor.from(xs, 'float64') });
    expect(yv.toArray()).toEqual(xs.map((row) => row.map((v, c) => expect.closeTo(aplRef(v, av[c], bs[c]), 14))));
  });

  it('shares a and b across the layer with share: layer', () => {
    const g = new Graph();
    nn.apl(g.input('x', [null, null]), { share: 'layer', hinges: 1 });
    expect(g.params().map((p) => p.shape)).toEqual([[1], [1]]);
  });

  it('has ∂²h/∂x∂aₛ = −[x < bₛ] and ∂²h/∂x∂bₛ = 0 away from hinges', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    const h = nn.apl(x, { share: 'layer', hinges: 2 });
    const [a, b] = g.params();
    g.setValue(b, Tensor.from([0, 1], 'float64'));
    g.setValue(a, Tensor.from([0.4, 0.3], 'float64'));
    const [dx] = grad(h.sum(), [x]);
    const [da, db] = grad(dx.sum(), [a, b]);
    const [av, bv] = run(g, [da, db], { x: Tensor.from([-0.5, 0.5, 1.5], 'float64') });
    expect(av.toArray()).toEqual([-1, -2]);
    expect(bv.toArray()).toEqual([0, 0]);
  });

  it('rejects bad input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    expect(() => nn.apl(x, { hinges: 0 })).toThrow(/hinges must be ≥ 1/);
    expect(() => nn.apl(g.input('y', [2, null]))).toThrow(ShapeError);
    const a = g.param('a', Tensor.zeros([2, 2]));
    expect(() => nn.functional.apl(x, a, g.param('b', Tensor.zeros([2, 3])))).toThrow(/b must have shape/);
  });
});
