import { describe, expect, it } from 'vitest';
import { broadcastShapes, DTypeError, ShapeError, Tensor } from './index';

describe('Tensor', () => {
  it('from nested arrays, numbers, typed arrays and booleans', () => {
    const t = Tensor.from([[1, 2], [3, 4]]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    const s = Tensor.from(2.5, 'float64');
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    expect(Tensor.from(new Float64Array([1, 2, 3]), 'int32').toArray()).toEqual([1, 2, 3]);
    expect(Tensor.from([true, false], 'bool').toArray()).toEqual([true, false]);
    expect(Tensor.from([1.7, -1.7], 'int32').toArray()).toEqual([1, -1]);
    expect(Tensor.from([[]]).shape).toEqual([1, 0]);
  });

  it('refuses ragged arrays, bad elements and bad dtypes', () => {
    expect(() => Tensor.from([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => Tensor.from([[1, 2], [3]])).toThrow(/ragged nested array at \[1\]: expected shape \[2,2\]/);
    expect(() => Tensor.from([1, 'a' as never])).toThrow(/element at \[1\] is string/);
    expect(() => Tensor.from([1], 'float16' as never)).toThrow(DTypeError);
    expect(() => new Tensor('float32', [2], new Float32Array(3))).toThrow(/needs 2 elements, data has 3/);
  });

  it('randn and rand are reproducible from the seed and have the right moments', () => {
    const a = Tensor.randn([10000], 'float64', 3);
    expect(Tensor.randn([10000], 'float64', 3).data).toEqual(a.data);
    expect(Tensor.randn([10], 'float64', 4).data).not.toEqual(Tensor.randn([10], 'float64', 3).data);
    const mean = Array.from(a.data).reduce((s, v) => s + v, 0) / a.size;
    const variance = Array.from(a.data).reduce((s, v) => s + (v - mean) ** 2, 0) / a.size;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    const u = Tensor.rand([10000], 'float32', 1);
    expect(u.dtype).toBe('float32');
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u.data)).toBeLessThan(1);
    expect(Math.abs(Array.from(u.data).reduce((s, v) => s + v, 0) / u.size - 0.5)).toBeLessThan(0.01);
  });

  it('clone, astype, reshape, item', () => {
    const t = Tensor.from([1.5, 2.5]);
    const c = t.clone();
    c.data[0] = 9;
    expect(t.data[0]).toBe(1.5);
    expect(t.astype('int32').toArray()).toEqual([1, 2]);
    expect(t.reshape([2, 1]).shape).toEqual([2, 1]);
    expect(() => t.reshape([3])).toThrow(/cannot reshape \[2\] to \[3\]/);
    expect(() => t.item()).toThrow(/size 1/);
  });
});

describe('broadcastShapes', () => {
  it('follows NumPy rules, with run-time dims', () => {
    expect(broadcastShapes([2, 1, 3], [4, 1])).toEqual([2, 4, 3]);
    expect(broadcastShapes([], [3])).toEqual([3]);
    expect(broadcastShapes([2, 3], [4])).toBeNull();
    expect(broadcastShapes([null, 3], [1, 3])).toEqual([null, 3]);
    expect(broadcastShapes([null, 3], [5, 1])).toEqual([5, 3]);
    expect(broadcastShapes([null], [null])).toEqual([null]);
  });
});
