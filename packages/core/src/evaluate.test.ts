import { describe, expect, it } from 'vitest';
import { randomUniform } from './api';
import { compile } from './compile';
import { FeedError, GraphError } from './errors';
import { evaluate } from './evaluate';
import { Graph } from './graph';
import { Tensor } from './tensor';

describe('evaluate', () => {
  const build = () => {
    const g = new Graph({ seed: 5 });
    const x = g.input('x', [null, 3]);
    const w = g.param('w', Tensor.from([[1, 2], [3, 4], [5, 6]]));
    const h = x.matmul(w).tanh();
    return { g, x, w, h };
  };

  it('is the value a compiled run gives, on either backend, with the current params', () => {
    const { g, w, h } = build();
    const xs = Tensor.randn([2, 3], 'float32', 1);
    const want = compile(g, { outputs: [h] }).run({ x: xs })[0];
    const got = evaluate(h, { x: xs });
    expect(got).toBeInstanceOf(Tensor);
    expect(got.shape).toEqual([2, 2]);
    expect(Array.from(got.data)).toEqual(Array.from(want.data));
    expect(Array.from(evaluate(h, { x: xs }, { backend: 'interpreter' }).data)).toEqual(Array.from(compile(g, { outputs: [h], backend: 'interpreter' }).run({ x: xs })[0].data));
    // a param alone needs no feeds; a new value is seen at once
    expect(evaluate(w).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    g.setValue(w, Tensor.zeros([3, 2]));
    expect(Array.from(evaluate(h, { x: xs }).data)).toEqual([0, 0, 0, 0]);
  });

  it('leaves the graph as it was: a random value is the one the next run will draw', () => {
    const g = new Graph({ seed: 9 });
    const r = randomUniform(g, [4]);
    const exe = compile(g, { outputs: [r] });
    const before = g.rngCounter;
    const a = evaluate(r);
    const b = evaluate(r);
    expect(g.rngCounter).toBe(before);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(exe.run()[0].data)).toEqual(Array.from(a.data));
    expect(g.rngCounter).toBe(before + 1);
  });

  it('refuses what it cannot run, with typed errors', () => {
    const { h } = build();
    expect(() => evaluate(h)).toThrow(FeedError);
    expect(() => evaluate(h)).toThrow(/missing feed for input "x"/);
    expect(() => evaluate(3 as never)).toThrow(GraphError);
    expect(() => evaluate(h, {}, { backnd: 'js' } as never)).toThrow(/evaluate: unknown option "backnd"/);
    expect(() => evaluate(h, {}, { backend: 'gpu' as never })).toThrow(/unknown backend "gpu"/);
  });
});
