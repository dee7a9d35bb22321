import { describe, expect, it } from 'vitest';
import { flip, roll, split, stack, tile, tril, triu } from './arrange';
import { BACKENDS, compile } from './compile';
import { GraphError, ShapeError } from './errors';
import { assertGradcheck } from './gradcheck';
import { Graph, type Sym } from './graph';
import { Tensor } from './tensor';

const f64 = (v: unknown) => Tensor.from(v as never, 'float64');
const m23 = f64([[1, 2, 3], [4, 5, 6]]);

/** `fn` of one input on every back end (they must agree), as nested arrays. */
function run(x: Tensor, fn: (x: Sym) => Sym | Sym[], sym?: (number | null)[]): unknown[] {
  let first: unknown[] | undefined;
  for (const backend of BACKENDS) {
    const g = new Graph();
    const s = g.input('x', sym ?? x.shape, x.dtype);
    const r = fn(s);
    const got = compile(g, { outputs: Array.isArray(r) ? r : [r], backend }).run({ x }).map((t) => t.toArray());
    if (first) expect(got, backend).toEqual(first);
    else first = got;
  }
  return first!;
}

describe('flip', () => {
  it('reverses the given axes (all by default), also of unknown size', () => {
    expect(run(m23, (x) => [flip(x, 1), flip(x, [0]), flip(x)])).toEqual([[[3, 2, 1], [6, 5, 4]], [[4, 5, 6], [1, 2, 3]], [[6, 5, 4], [3, 2, 1]]]);
    expect(run(m23, (x) => flip(x, -2), [null, 3])).toEqual([[[4, 5, 6], [1, 2, 3]]]);
    assertGradcheck((x) => flip(x.sin(), [1]).mul(x), [m23], { order: 2 });
  });
});

describe('roll (NumPy)', () => {
  it('shifts with wraparound, negative and oversized shifts taken modulo the size', () => {
    expect(run(m23, (x) => [roll(x, 1, 1), roll(x, -1, 1), roll(x, 4, -1), roll(x, 3, 1), roll(x, [1, 1], [0, 1]), roll(x, [1, 1], [1, 1])])).toEqual([
      [[3, 1, 2], [6, 4, 5]],
      [[2, 3, 1], [5, 6, 4]],
      [[3, 1, 2], [6, 4, 5]],
      [[1, 2, 3], [4, 5, 6]],
      [[6, 4, 5], [3, 1, 2]],
      [[2, 3, 1], [5, 6, 4]],
    ]);
  });

  it('without axes rolls the flattened tensor, as NumPy', () => {
    expect(run(m23, (x) => roll(x, 2))).toEqual([[[5, 6, 1], [2, 3, 4]]]);
    assertGradcheck((x) => roll(x.square(), [1, -2], [0, 1]).mul(x), [m23], { order: 2 });
  });

  it('refuses mismatched shifts and axes, and an axis of unknown size', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    expect(() => roll(x, [1, 2], [1])).toThrow(/^roll: shifts and axes must have the same length/);
    expect(() => roll(x, 1, 0)).toThrow(ShapeError);
    expect(() => roll(x, 1)).toThrow(/rolling the flattened tensor needs a known shape/);
    expect(() => roll(x, 0.5, 1)).toThrow(GraphError);
    expect(roll(x, 1, 1).shape).toEqual([null, 3]);
  });
});

describe('tile (NumPy)', () => {
  it('repeats along each axis; short reps pad with 1s in front, a low-rank x gains axes', () => {
    expect(run(f64([[1, 2]]), (x) => [tile(x, [2, 1]), tile(x, 2), tile(x, [2, 1, 2]), tile(x, [1, 1])])).toEqual([
      [[1, 2], [1, 2]],
      [[1, 2, 1, 2]],
      [[[1, 2, 1, 2]], [[1, 2, 1, 2]]],
      [[1, 2]],
    ]);
    expect(run(f64([1, 2]), (x) => tile(x, [2, 2]))).toEqual([[[1, 2, 1, 2], [1, 2, 1, 2]]]);
  });

  it('sums the copies in its gradient, and refuses unknown dims', () => {
    assertGradcheck((x) => tile(x, [2, 3]).sin(), [m23], { order: 2 });
    const g = new Graph();
    expect(() => tile(g.input('x', [null, 2]), [2, 1])).toThrow(/^tile: needs a known shape, got \[\?,2\]/);
    expect(() => tile(g.input('y', [2]), [-1])).toThrow(GraphError);
  });
});

describe('tril and triu', () => {
  const sq = f64([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);

  it('keep the triangle on and below (tril) or above (triu) diagonal k, zeros elsewhere', () => {
    expect(run(sq, (x) => [tril(x), tril(x, -1), tril(x, 1), triu(x), triu(x, 1), triu(x, -1)])).toEqual([
      [[1, 0, 0], [4, 5, 0], [7, 8, 9]],
      [[0, 0, 0], [4, 0, 0], [7, 8, 0]],
      [[1, 2, 0], [4, 5, 6], [7, 8, 9]],
      [[1, 2, 3], [0, 5, 6], [0, 0, 9]],
      [[0, 2, 3], [0, 0, 6], [0, 0, 0]],
      [[1, 2, 3], [4, 5, 6], [0, 8, 9]],
    ]);
    // rectangular, batched, and with the matrix dims known only at run time
    expect(run(m23, (x) => [tril(x), triu(x)], [null, null])).toEqual([[[1, 0, 0], [4, 5, 0]], [[1, 2, 3], [0, 5, 6]]]);
    expect(run(f64([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]), (x) => tril(x))).toEqual([[[[1, 0], [3, 4]], [[5, 0], [7, 8]]]]);
  });

  it('work on int and bool, pass gradcheck, and refuse vectors', () => {
    const g = new Graph();
    const b = g.input('b', [2, 2], 'bool');
    const [t] = compile(g, { outputs: [triu(b)] }).run({ b: Tensor.from([[true, true], [true, true]], 'bool') });
    expect(t.toArray()).toEqual([[true, true], [false, true]]);
    assertGradcheck((x) => tril(x.sin(), 1).add(triu(x, 1).square()), [sq], { order: 2 });
    expect(() => tril(g.input('v', [3]))).toThrow(/^tril: needs a matrix \(rank ≥ 2\), got \[3\]/);
    expect(() => triu(b, 0.5)).toThrow(/k must be an integer/);
  });
});

describe('stack and split', () => {
  it('stack joins along a new axis, −1 last; split gives equal parts or the given sizes', () => {
    expect(run(f64([1, 2, 3]), (x) => [stack([x, x.mul(2)]), stack([x, x.mul(2)], -1)])).toEqual([
      [[1, 2, 3], [2, 4, 6]],
      [[1, 2], [2, 4], [3, 6]],
    ]);
    expect(run(f64([[1, 2, 3, 4], [5, 6, 7, 8]]), (x) => [...split(x, 2, 1), ...split(x, [1, -1], 1), ...split(x, [2])])).toEqual([
      [[1, 2], [5, 6]],
      [[3, 4], [7, 8]],
      [[1], [5]],
      [[2, 3, 4], [6, 7, 8]],
      [[1, 2, 3, 4], [5, 6, 7, 8]],
    ]);
    // a last size of −1 runs to the end of an axis known only at run time
    expect(run(m23, (x) => split(x, [1, -1], 0), [null, 3])).toEqual([[[1, 2, 3]], [[4, 5, 6]]]);
  });

  it('are each other’s inverse, in value and gradient', () => {
    assertGradcheck((x) => stack(split(x, 3, 1).map((p) => p.sin()), 0).mul(stack(split(x, [1, 2], 1).map((p) => p.sum(1)), 1).sum()), [m23], { order: 2 });
  });

  it('refuse mismatched shapes, bad counts and sizes, with typed errors', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [3, 2]);
    expect(() => stack([a, b])).toThrow(/^stack: operands must have one shape, got \[2,3\], \[3,2\]/);
    expect(() => stack([a], 3)).toThrow(/^stack: axis 3 is out of range/);
    expect(() => stack([])).toThrow(GraphError);
    expect(() => split(a, 2, 1)).toThrow(/^split: axis 1 of \[2,3\] has size 3, which does not split into 2 equal parts/);
    expect(() => split(a, [1, 1], 1)).toThrow(/do not add up to 3/);
    expect(() => split(a, [-1, -1], 1)).toThrow(/at most one size may be −1/);
    expect(() => split(g.input('c', [null, 2]), [1, 1])).toThrow(/make the last size −1/);
  });
});
