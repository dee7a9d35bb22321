/**
 * transpose on the JavaScript back end: the loops it runs (size-1 axes dropped, contiguous runs
 * merged), and every permutation of generated shapes in every dtype against the reference kernel,
 * at arena offsets, writing nothing else.
 */
import { describe, expect, it } from 'vitest';
import '../../ops/index';
import { transposeKernel } from '../../ops/shape';
import { Tensor } from '../../tensor';
import { fc } from '../../testing/index';
import { makeTranspose, transposeLoops } from './transpose';
import type { DType } from '../../dtype';

describe('transpose kernel', () => {
  it('drops size-1 axes and merges axes that stay adjacent', () => {
    expect(transposeLoops([2, 3, 4], [0, 2, 1])).toEqual([{ size: 2, stride: 12 }, { size: 4, stride: 1 }, { size: 3, stride: 4 }]);
    expect(transposeLoops([64, 144, 1], [2, 1, 0])).toEqual([{ size: 144, stride: 1 }, { size: 64, stride: 144 }]);
    expect(transposeLoops([2, 3, 4], [0, 1, 2])).toEqual([{ size: 24, stride: 1 }]);
    expect(transposeLoops([5, 2, 3], [1, 2, 0])).toEqual([{ size: 6, stride: 1 }, { size: 5, stride: 6 }]);
  });

  it('equals the reference kernel on every permutation, in every dtype, at offsets', () => {
    const perms = (n: number): number[][] => (n === 0 ? [[]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_v, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 }), fc.constantFrom<DType>('float32', 'float64', 'int32', 'bool'), fc.nat(1000), (shape, dtype, pick) => {
        const all = perms(shape.length);
        const perm = all[pick % all.length];
        const x = new Tensor(dtype, shape, Tensor.from(Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_v, i) => (dtype === 'bool' ? i % 2 : i * 1.5 - 3)), dtype).data);
        const want = transposeKernel(x, perm);
        const Arr = x.data.constructor as new (n: number) => typeof x.data;
        const src = new Arr(x.size + 6);
        src.set(x.data, 3);
        const dst = new Arr(x.size + 6).fill(7);
        makeTranspose(shape, perm)(src, 3, dst, 3);
        expect(Array.from(dst.subarray(3, 3 + x.size))).toEqual(Array.from(want.data));
        expect([...dst.subarray(0, 3), ...dst.subarray(3 + x.size)]).toEqual([7, 7, 7, 7, 7, 7]);
      }),
      { numRuns: 300, seed: 9 },
    );
  });
});
