import { describe, expect, it } from 'vitest';
import { Graph, Tensor, grad, compile, ShapeError } from './index';

describe('smoke', () => {
  it('builds, differentiates and runs', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 3]);
    const w = g.param('w', Tensor.from([[1], [2], [3]]));
    const b = g.param('b', Tensor.from([0.5]));
    const y = x.matmul(w).add(b).tanh().sum();
    const [dw, db] = grad(y, [w, b]);
    const ex = compile(g, { inputs: [x], outputs: [y, dw, db] });
    const [yv, dwv, dbv] = ex.run({ x: Tensor.from([[1, 0, 0], [0, 1, 0]]) });
    console.log(yv.toArray(), dwv.toArray(), dbv.toArray());
    console.log(ex.explain());
    expect(yv.item()).toBeCloseTo(Math.tanh(1.5) + Math.tanh(2.5), 5);
  });
  it('reports origin', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [4, 5]);
    let err: unknown;
    try { a.matmul(b); } catch (e) { err = e; }
    console.log(String(err));
    expect(err).toBeInstanceOf(ShapeError);
  });
});
