import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn } from '../index';

/** Runs f on a float64 vector and returns f(x) and d(Σf)/dx. */
function valueAndGrad(f: (x: Sym) => Sym, xs: number[], dtype: 'float32' | 'float64' = 'float64'): { y: number[]; dx: number[] } {
  const g = new Graph();
  const x = g.input('x', [xs.length], dtype);
  const y = f(x);
  const [dx] = grad(y.sum(), [x]);
  const [yv, dxv] = compile(g, { outputs: [y, dx] }).run({ x: Tensor.from(xs, dtype) });
  return { y: Array.from(yv.data), dx: Array.from(dxv.data) };
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

describe('fixed activations', () => {
  it('relu is where(x > 0, x, 0) with gradient 0 at 0', () => {
    const { y, dx } = valueAndGrad(nn.relu, [-2, 0, 3]);
    expect(y).toEqual([0, 0, 3]);
    expect(dx).toEqual([0, 0, 1]);
  });

  it('leakyRelu has slope `slope` below 0 and at 0', () => {
    const { y, dx } = valueAndGrad((x) => nn.leakyRelu(x, 0.1), [-2, 0, 3]);
    expect(y).toEqual([-0.2, 0, 3]);
    expect(dx).toEqual([0.1, 0.1, 1]);
    expect(valueAndGrad((x) => nn.leakyRelu(x), [-1]).y[0]).toBeCloseTo(-0.01, 15);
  });

  it('sigmoid, tanh and softplus match their formulas', () => {
    const xs = [-3, -0.5, 0, 0.7, 4];
    const s = valueAndGrad(nn.sigmoid, xs);
    const t = valueAndGrad(nn.tanh, xs);
    const p = valueAndGrad(nn.softplus, xs);
    const p5 = valueAndGrad((x) => nn.softplus(x, { beta: 5 }), xs);
    xs.forEach((v, i) => {
      expect(s.y[i]).toBeCloseTo(sig(v), 14);
      expect(s.dx[i]).toBeCloseTo(sig(v) * (1 - sig(v)), 14);
      expect(t.y[i]).toBeCloseTo(Math.tanh(v), 14);
      expect(t.dx[i]).toBeCloseTo(1 - Math.tanh(v) ** 2, 14);
      expect(p.y[i]).toBeCloseTo(Math.log1p(Math.exp(v)), 14);
      expect(p.dx[i]).toBeCloseTo(sig(v), 14);
      expect(p5.y[i]).toBeCloseTo(Math.log1p(Math.exp(5 * v)) / 5, 12);
      expect(p5.dx[i]).toBeCloseTo(sig(5 * v), 12);
    });
  });

  it('softplus is finite and exact for large |x| in float32', () => {
    const { y, dx } = valueAndGrad(nn.softplus, [-1000, -100, 100, 1000], 'float32');
    expect(y[0]).toBe(0);
    expect(Math.abs(y[1] / Math.exp(-100) - 1)).toBeLessThan(0.05); // a float32 denormal, not a rounded 0
    expect(y[2]).toBe(100);
    expect(y[3]).toBe(1000);
    expect(dx).toEqual([0, expect.closeTo(0, 40), 1, 1]);
  });

  it('softmax and logSoftmax work along an axis and stay finite for huge logits', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const [p, lp, p0] = compile(g, { outputs: [nn.softmax(x), nn.logSoftmax(x), nn.softmax(x, 0)] }).run({ x: Tensor.from([[1, 2, 3], [1000, 0, -1000]], 'float64') });
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const z = e[0] + e[1] + e[2];
    expect(p.toArray()[0]).toEqual(e.map((v) => expect.closeTo(v / z, 14)));
    expect(p.toArray()[1]).toEqual([1, 0, 0]);
    expect(lp.toArray()[1]).toEqual([0, -1000, -2000]);
    expect(lp.toArray()[0][2]).toBeCloseTo(3 - Math.log(z), 14);
    expect(p0.toArray()[0][0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(1000 - 1000) * Math.exp(1000 - 1)), 12);
  });

  it('keep the dtype of their input and reject non-float input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    for (const f of [nn.relu, nn.sigmoid, nn.tanh, nn.softplus, nn.softmax, nn.logSoftmax, (s: Sym) => nn.leakyRelu(s, 0.2)]) expect(f(x).dtype).toBe('float64');
    const i = g.input('i', [3], 'int32');
    expect(() => nn.relu(i)).toThrow(DTypeError);
    expect(() => nn.relu(3 as never)).toThrow(GraphError);
    expect(() => nn.softmax(x, 2)).toThrow(ShapeError);
    expect(() => nn.leakyRelu(x, NaN)).toThrow(/slope must be a finite number/);
    expect(() => nn.softplus(x, { beta: 0 })).toThrow(/beta must be > 0/);
  });
});
