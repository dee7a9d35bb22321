/**
 * slice(x, begin, size) and argmax/argmin at the edges: a size of -1 runs to the end, any other
 * negative size is an error (it used to be read as a Python-style end), a negative begin counts
 * from the end, and an arg-reduction over an empty axis is an error (it used to return 0).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { BACKENDS, compile } from '../compile';
import { ShapeError } from '../errors';
import { grad } from '../autodiff';
import { Graph } from '../graph';
import { Tensor } from '../tensor';

const seq = Tensor.from([0, 1, 2, 3, 4], 'float64');

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe.each(BACKENDS)('slice and argmax at the edges (%s backend)', (backend) => {
  const run = (build: (x: ReturnType<Graph['input']>) => ReturnType<Graph['input']>, x = seq, shape: (number | null)[] = [5]) => {
    const g = new Graph();
    const xs = g.input('x', shape, x.dtype);
    return compile(g, { outputs: [build(xs)], backend }).run({ x })[0];
  };

  it('size -1 runs to the end; sizes and begins count as documented', () => {
    expect(Array.from(run((x) => api.slice(x, [1], [-1])).data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(run((x) => api.slice(x, [1], [2])).data)).toEqual([1, 2]);
    expect(Array.from(run((x) => api.slice(x, [1], [0])).data)).toEqual([]);
    expect(Array.from(run((x) => api.slice(x, [2])).data)).toEqual([2, 3, 4]);
    // on a dim known only at run time
    expect(Array.from(run((x) => api.slice(x, [1], [-1]), seq, [null]).data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(run((x) => api.slice(x, [1], [3]), seq, [null]).data)).toEqual([1, 2, 3]);
  });

  it('a negative begin counts from the end (the issue: slice([0..4], [-1], [1]) was refused)', () => {
    expect(Array.from(run((x) => api.slice(x, [-1], [1])).data)).toEqual([4]);
    expect(Array.from(run((x) => x.slice([-3], [2])).data)).toEqual([2, 3]);
    expect(Array.from(run((x) => api.slice(x, [-2], [-1])).data)).toEqual([3, 4]);
    expect(Array.from(run((x) => api.slice(x, [-5])).data)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a negative size other than -1 is an error (the issue: slice([0..4], [1], [-3]) gave [1, 2])', () => {
    const g = new Graph();
    const x = g.input('x', [5], 'float64');
    const e = caught(() => api.slice(x, [1], [-3]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/slice: size -3 on axis 0 is negative; use -1 for "to the end of the axis"/);
    expect(e.message).toMatch(/slice\.test\.ts/); // the user's line
    expect(() => api.slice(x, [-1], [2])).toThrow(/begin -1 with size 2 runs past the end of axis 0/);
    expect(() => api.slice(x, [-6], [1])).toThrow(/begin -6 is out of range for axis 0 of size 5/);
    expect(() => api.slice(x, [2], [4])).toThrow(ShapeError);
    expect(() => api.slice(x, [0, 0], [1])).toThrow(/size must be an array of 2 integers/);
    const open = g.input('y', [null], 'float64');
    expect(() => api.slice(open, [-1], [1])).toThrow(/a negative begin on axis 0 needs a known dim/);
  });

  it('a slice past the end of a run-time dim is refused at run time, naming the op', () => {
    expect(() => run((x) => api.slice(x, [3], [4]), seq, [null])).toThrow(/slice: slice \[3, 7\) is out of range for axis 0 of size 5/);
  });

  it('the gradient of a slice with a negative begin pads back to the input', () => {
    const g = new Graph();
    const x = g.input('x', [5], 'float64');
    const [dx] = grad(api.slice(x, [-2], [1]).mul(3).sum(), [x]);
    expect(Array.from(compile(g, { outputs: [dx], backend }).run({ x: seq })[0].data)).toEqual([0, 0, 0, 3, 0]);
  });

  it('argmax and argmin over an empty axis are errors, at build time or at run time', () => {
    const g = new Graph();
    const x = g.input('x', [2, 0], 'float64');
    for (const f of [api.argmax, api.argmin]) {
      const e = caught(() => f(x, 1));
      expect(e).toBeInstanceOf(ShapeError);
      expect(e.message).toMatch(/arg(max|min): axis 1 of \[2,0\] is empty: there is no (maximum|minimum) to index/);
    }
    // over the non-empty axis it is fine: [0, 2] → [0] of nothing… a [0]-shaped result
    expect(run((v) => api.argmax(v, 0).cast('float64'), Tensor.zeros([2, 0], 'float64'), [2, 0]).shape).toEqual([0]);
    // a dim unknown until run time that turns out empty
    expect(() => run((v) => api.argmax(v, 1).cast('float64'), Tensor.zeros([3, 0], 'float64'), [3, null])).toThrow(/argmax: axis 1 of \[3,0\] is empty/);
    expect(() => run((v) => api.argmin(v, 0).cast('float64'), Tensor.zeros([0], 'float64'), [null])).toThrow(/argmin: axis 0 of \[0\] is empty/);
    expect(Array.from(run((v) => api.argmax(v, 0).cast('float64'), seq, [null]).data)).toEqual([4]);
  });
});
