import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor } from '@gradgraph/core';
import { init } from '../index';

function stats(t: Tensor): { mean: number; variance: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of t.data) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / t.size;
  return { mean, variance: s2 / t.size - mean * mean, min, max };
}

function make(initFn: init.Initializer, shape: number[], opts: { seed?: number; name?: string; dtype?: 'float32' | 'float64' } = {}): Tensor {
  const g = new Graph({ seed: opts.seed ?? 0 });
  return g.getValue(init.createParam(g, opts.name ?? 'w', shape, initFn, { dtype: opts.dtype }));
}

describe('init.fans and init.gain', () => {
  it('computes fans in the [..., in, out] layout', () => {
    expect(init.fans([])).toEqual([1, 1]);
    expect(init.fans([7])).toEqual([7, 7]);
    expect(init.fans([784, 128])).toEqual([784, 128]);
    expect(init.fans([3, 3, 16, 32])).toEqual([144, 288]);
    expect(() => init.fans([2, -1])).toThrow(GraphError);
  });

  it('matches calculate_gain', () => {
    expect(init.gain('linear')).toBe(1);
    expect(init.gain('sigmoid')).toBe(1);
    expect(init.gain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.gain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(init.gain('leakyRelu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.gain('leakyRelu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(init.gain('prelu')).toBeCloseTo(Math.sqrt(2 / 1.0625), 15);
    expect(init.gain('selu')).toBe(0.75);
    expect(() => init.gain('swish' as never)).toThrow(/unknown nonlinearity "swish"/);
  });
});

describe('initializers', () => {
  it('fill constants', () => {
    expect(make(init.zeros(), [2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(make(init.ones(), [3]).toArray()).toEqual([1, 1, 1]);
    expect(make(init.constant(0.5), [2]).toArray()).toEqual([0.5, 0.5]);
    expect(make(init.constant(Tensor.from([[1, 2], [3, 4]], 'float64')), [2, 2]).dtype).toBe('float32');
    expect(make(init.constant(Tensor.from(3)), [2]).toArray()).toEqual([3, 3]);
    expect(() => make(init.constant(Tensor.from([1, 2, 3])), [2])).toThrow(ShapeError);
  });

  it('give the variances their formulas promise', () => {
    const [fi, fo] = [400, 300];
    const n = fi * fo;
    const cases: [string, init.Initializer, number][] = [
      ['xavierUniform', init.xavierUniform(), 2 / (fi + fo)],
      ['xavierNormal', init.xavierNormal(), 2 / (fi + fo)],
      ['xavierUniform gain 5/3', init.xavierUniform({ gain: 5 / 3 }), (25 / 9) * (2 / (fi + fo))],
      ['heNormal', init.heNormal(), 2 / fi],
      ['heUniform', init.heUniform(), 2 / fi],
      ['heNormal fanOut', init.heNormal({ mode: 'fanOut' }), 2 / fo],
      ['heNormal prelu 0.25', init.heNormal({ nonlinearity: 'prelu', slope: 0.25 }), 2 / (1 + 0.0625) / fi],
      ['heUniform leaky 0.1', init.heUniform({ slope: 0.1 }), 2 / 1.01 / fi],
      ['lecunNormal', init.lecunNormal(), 1 / fi],
      ['normal std 0.02', init.normal({ std: 0.02 }), 0.0004],
      ['uniform [-1, 1)', init.uniform({ low: -1, high: 1 }), 1 / 3],
    ];
    for (const [name, f, want] of cases) {
      const s = stats(make(f, [fi, fo], { name: 'w' }));
      // the variance of a sample of n draws has relative sd ≈ √(2/n) ≈ 0.4%; allow 3%
      expect(Math.abs(s.variance / want - 1), name).toBeLessThan(0.03);
      expect(Math.abs(s.mean), name).toBeLessThan(4 * Math.sqrt(want / n));
    }
  });

  it('keep uniform draws inside their bounds', () => {
    const a = Math.sqrt(6 / (20 + 30));
    const s = stats(make(init.xavierUniform(), [20, 30]));
    expect(s.min).toBeGreaterThanOrEqual(-a);
    expect(s.max).toBeLessThanOrEqual(a);
    const u = stats(make(init.uniform({ low: 2, high: 3 }), [1000]));
    expect(u.min).toBeGreaterThanOrEqual(2);
    expect(u.max).toBeLessThan(3);
  });

  it('draw numbers that depend only on the graph seed and the full param name', () => {
    const a = new Graph({ seed: 7 });
    const wa = a.scope('enc', () => init.createParam(a, 'w', [5, 4], init.heNormal()));
    const b = new Graph({ seed: 7 });
    b.scope('other', () => init.createParam(b, 'w', [5, 4], init.heNormal())); // created first, different name
    init.createParam(b, 'v', [9], init.normal());
    const wb = b.scope('enc', () => init.createParam(b, 'w', [5, 4], init.heNormal()));
    expect(wa.name).toBe('enc/w');
    expect(Array.from(b.getValue(wb).data)).toEqual(Array.from(a.getValue(wa).data));
    expect(Array.from(b.getValue('other/w').data)).not.toEqual(Array.from(a.getValue(wa).data));
    const c = new Graph({ seed: 8 });
    const wc = c.scope('enc', () => init.createParam(c, 'w', [5, 4], init.heNormal()));
    expect(Array.from(c.getValue(wc).data)).not.toEqual(Array.from(a.getValue(wa).data));
  });

  it('create params in the requested dtype, trainable or not', () => {
    const g = new Graph();
    const p = init.createParam(g, 'p', [3], init.xavierNormal(), { dtype: 'float64' });
    const s = init.createParam(g, 's', [3], init.zeros(), { trainable: false });
    expect(p.dtype).toBe('float64');
    expect(g.params().map((q) => q.name)).toEqual(['p']);
    expect(g.stateVars().map((q) => q.name)).toEqual(['s']);
    expect(make(init.heNormal(), [4, 4], { dtype: 'float64' }).dtype).toBe('float64');
  });

  it('accept a plain function as an initializer', () => {
    const eye = (ctx: init.InitContext) => {
      const t = Tensor.zeros(ctx.shape, ctx.dtype);
      for (let i = 0; i < ctx.shape[0]; i++) t.data[i * ctx.shape[1] + i] = 1;
      return t;
    };
    expect(make(eye, [2, 2]).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(() => make(() => Tensor.zeros([3]), [2])).toThrow(/returned float32\[3\] for "w", expected float32\[2\]/);
  });

  it('reject bad input with typed errors', () => {
    const g = new Graph();
    expect(() => init.createParam(g, 'i', [2], init.normal(), { dtype: 'int32' })).toThrow(DTypeError);
    expect(init.createParam(g, 'j', [2], init.zeros(), { dtype: 'int32' }).dtype).toBe('int32');
    expect(() => init.createParam(g, 'a/b', [2], init.zeros())).toThrow(GraphError);
    expect(() => init.createParam(g, 'k', [2.5], init.zeros())).toThrow(GraphError);
    expect(() => init.createParam(g, 'k', [2], undefined as never)).toThrow(/initializer of "k"/);
    expect(() => init.createParam(g, 'z', [0, 3], init.heNormal())).toThrow(/positive fan/);
    expect(() => init.uniform({ low: 1, high: 0 })).toThrow(/high \(0\) must exceed low \(1\)/);
    expect(() => init.normal({ std: -1 })).toThrow(GraphError);
    expect(() => init.heNormal({ gian: 2 } as never)).toThrow(/unknown option "gian"/);
    expect(() => init.heNormal({ nonlinearity: 'relu', slope: 0.1 })).toThrow(/slope applies to leakyRelu or prelu/);
    expect(() => init.heUniform({ mode: 'avg' as never })).toThrow(/mode must be/);
  });
});
