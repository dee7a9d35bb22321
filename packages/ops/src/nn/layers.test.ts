import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad } from '@gradgraph/core';
import { init, nn } from '../index';

describe('nn.dense', () => {
  it('computes x·W + b with params named in the current scope', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 2]);
    const y = g.scope('hidden', () => nn.dense(x, 3, { init: init.constant(Tensor.from([[1, 2, 3], [4, 5, 6]])), biasInit: init.constant(0.5) }));
    expect(y.shape).toEqual([null, 3]);
    expect(g.params().map((p) => [p.name, p.shape, nn.paramRole(p)])).toEqual([
      ['hidden/dense/kernel', [2, 3], 'kernel'],
      ['hidden/dense/bias', [3], 'bias'],
    ]);
    const [v] = compile(g, { outputs: [y] }).run({ x: Tensor.from([[1, 0], [1, 1]]) });
    expect(v.toArray()).toEqual([[1.5, 2.5, 3.5], [5.5, 7.5, 9.5]]);
  });

  it('never lets two layers clash and defaults to Xavier-uniform kernels and zero biases', () => {
    const g = new Graph();
    const x = g.input('x', [null, 8]);
    nn.dense(nn.dense(x, 4), 4);
    nn.dense(x, 2, { name: 'head', bias: false });
    g.scope('block', () => nn.dense(x, 2));
    expect(g.params().map((p) => p.name)).toEqual(['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias', 'head/kernel', 'block/dense/kernel', 'block/dense/bias']);
    const k = g.getValue('dense/kernel');
    const a = Math.sqrt(6 / 12);
    expect(Math.max(...Array.from(k.data).map(Math.abs))).toBeLessThanOrEqual(a);
    expect(g.getValue('dense/bias').toArray()).toEqual([0, 0, 0, 0]);
  });

  it('creates params in the dtype of x and handles rank-1 and rank-3 inputs', () => {
    const g = new Graph();
    const x = g.input('x', [null, 5, 3], 'float64');
    const y = nn.dense(x, 2);
    expect(y.shape).toEqual([null, 5, 2]);
    expect(g.params().map((p) => p.dtype)).toEqual(['float64', 'float64']);
    const [dk] = grad(y.sum(), [g.byName('dense/kernel')!]);
    const xs = Tensor.randn([2, 5, 3], 'float64', 1);
    const [yv, dkv] = compile(g, { outputs: [y, dk] }).run({ x: xs });
    expect(yv.shape).toEqual([2, 5, 2]);
    // d Σy / dW[i, j] = Σ over batch and time of x[..., i]
    const colSum = [0, 1, 2].map((i) => Array.from(xs.data).filter((_, k) => k % 3 === i).reduce((s, v) => s + v, 0));
    expect(dkv.toArray()).toEqual(colSum.map((s) => [expect.closeTo(s, 12), expect.closeTo(s, 12)]));
    expect(nn.dense(g.input('v', [3], 'float64'), 4).shape).toEqual([4]);
  });

  it('rejects bad input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    expect(() => nn.dense(x, 0)).toThrow(/units must be ≥ 1/);
    expect(() => nn.dense(x, 2.5)).toThrow(/units must be an integer/);
    expect(() => nn.dense(g.input('u', [3, null]), 2)).toThrow(ShapeError);
    expect(() => nn.dense(g.input('s', []), 2)).toThrow(ShapeError);
    expect(() => nn.dense(g.input('i', [2, 3], 'int32'), 2)).toThrow(DTypeError);
    expect(() => nn.dense(x, 2, { inti: init.zeros() } as never)).toThrow(/unknown option "inti"/);
    expect(() => nn.dense(x, 2, { bias: init.zeros() as never })).toThrow(/use biasInit/);
    expect(() => nn.functional.dense(x, g.param('k', Tensor.zeros([3, 2])), g.param('b', Tensor.zeros([3])))).toThrow(/bias must have shape \[2\]/);
  });
});

describe('nn.sequential', () => {
  it('composes layers left to right, optionally in a named scope', () => {
    const g = new Graph();
    const x = g.input('x', [null, 4]);
    const mlp = nn.sequential([(h) => nn.dense(h, 8), nn.relu, (h) => nn.dense(h, 2)], { name: 'mlp' });
    const y = mlp(x);
    expect(y.shape).toEqual([null, 2]);
    mlp(x);
    expect(g.params().map((p) => p.name)).toEqual([
      'mlp/dense/kernel', 'mlp/dense/bias', 'mlp/dense_1/kernel', 'mlp/dense_1/bias',
      'mlp_1/dense/kernel', 'mlp_1/dense/bias', 'mlp_1/dense_1/kernel', 'mlp_1/dense_1/bias',
    ]);
    expect(nn.sequential([])(x)).toBe(x);
  });

  it('rejects what is not a layer', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    expect(() => nn.sequential([nn.relu, 3 as never])).toThrow(/layer 1 is number/);
    expect(() => nn.sequential([() => 1 as never])(x)).toThrow(/layer 0 returned number, not a symbol/);
  });
});

describe('training mode and nn.dropout', () => {
  it('makes one bool training input with default false', () => {
    const g = new Graph();
    const t = nn.trainingInput(g);
    expect(t.name).toBe('training');
    expect(t.dtype).toBe('bool');
    expect(nn.trainingInput(g).id).toBe(t.id);
    const h = new Graph();
    h.input('training', [], 'float32');
    expect(() => nn.trainingInput(h)).toThrow(GraphError);
  });

  it('is the identity in evaluation and inverted dropout in training', () => {
    const g = new Graph({ seed: 5 });
    const x = g.input('x', [null, 100]);
    const y = g.scope('block', () => nn.dropout(x, 0.25));
    const exe = compile(g, { outputs: [y] });
    const ones = Tensor.ones([40, 100]);
    expect(exe.run({ x: ones })[0].toArray()).toEqual(ones.toArray());
    const [a] = exe.run({ x: ones, training: true });
    const kept = Array.from(a.data).filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(Math.abs(kept.length / a.size - 0.75)).toBeLessThan(0.02); // 4000 draws: sd ≈ 0.007
    const key = Object.values(exe.program.nodes).find((n) => n.op === 'randomUniform')!.attrs.key;
    expect(key).toBe('block/dropout/mask');
  });

  it('draws a fresh mask each step, reproducible from the graph seed', () => {
    const masks = (seed: number) => {
      const g = new Graph({ seed });
      const x = g.input('x', [50]);
      const exe = compile(g, { outputs: [nn.dropout(x, 0.5)] });
      return [0, 1].map(() => Array.from(exe.run({ x: Tensor.ones([50]), training: true })[0].data));
    };
    const [a1, a2] = masks(1);
    const [b1, b2] = masks(1);
    expect(a1).toEqual(b1);
    expect(a2).toEqual(b2);
    expect(a2).not.toEqual(a1);
    expect(masks(2)[0]).not.toEqual(a1);
  });

  it('takes a fixed mode or a symbol, and rejects bad rates', () => {
    const g = new Graph();
    const x = g.input('x', [10]);
    expect(nn.dropout(x, 0.5, { training: false })).toBe(x);
    expect(nn.dropout(x, 0)).toBe(x);
    expect(g.byName('training')).toBeDefined();
    const always = nn.dropout(x, 0.5, { training: true });
    const [v] = compile(g, { outputs: [always] }).run({ x: Tensor.ones([10]) });
    expect(Array.from(v.data).every((e) => e === 0 || e === 2)).toBe(true);
    const mode = g.input('mode', [], 'bool');
    expect(nn.dropout(x, 0.1, { training: mode }).shape).toEqual([10]);
    expect(() => nn.dropout(x, 1)).toThrow(/rate must be < 1/);
    expect(() => nn.dropout(x, -0.1)).toThrow(/rate must be ≥ 0/);
    expect(() => nn.dropout(x, 0.5, { training: g.input('m2', [2], 'bool') })).toThrow(/bool scalar symbol/);
  });

  it('passes gradients only through kept elements, scaled', () => {
    const g = new Graph({ seed: 9 });
    const x = g.input('x', [20]);
    const y = nn.dropout(x, 0.5);
    const [dx] = grad(y.sum(), [x]);
    const [yv, dv] = compile(g, { outputs: [y, dx] }).run({ x: Tensor.ones([20]), training: true });
    expect(Array.from(dv.data)).toEqual(Array.from(yv.data)); // y = 2·mask for x = 1, and dy/dx = 2·mask
  });
});

describe('errors', () => {
  const caught = (f: () => unknown): GraphError | ShapeError => {
    try {
      f();
    } catch (e) {
      return e as GraphError;
    }
    throw new Error('expected an error');
  };

  it('name the op and the caller’s source line, at build and at run time', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const e1 = caught(() => nn.dense(x, -1));
    expect(e1).toBeInstanceOf(GraphError);
    expect(e1.op).toBe('nn.dense');
    expect(e1.origin).toMatch(/layers\.test\.ts:\d+:\d+$/);
    const e2 = caught(() => nn.mse(x, g.input('t', [null])));
    expect(e2.op).toBe('nn.mse');
    expect(e2.message).toMatch(/layers\.test\.ts/);
    const y = g.input('y', [null], 'int32');
    const loss = nn.softmaxCrossEntropy(x, y); // the line a bad label is blamed on
    const line = Number(/layers\.test\.ts:(\d+)/.exec(loss.node.origin)![1]);
    const e3 = caught(() => compile(g, { outputs: [loss] }).run({ x: Tensor.zeros([2, 3]), y: Tensor.from([1, 7], 'int32') }));
    expect(e3).toBeInstanceOf(ShapeError);
    expect(e3.message).toMatch(/label 7 at position 1 is outside the 3 classes/);
    expect(e3.origin).toMatch(new RegExp(`layers\\.test\\.ts:${line}:`));
  });
});
