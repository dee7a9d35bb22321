/**
 * transpose on the JavaScript back end: a strided copy into the arena (the reference kernel
 * allocates its result each run). Size-1 axes are dropped and axes that stay adjacent merged, so
 * [N, S, 1] → [1, S, N] is a 2-d transpose and a transpose that moves nothing is one copy.
 */
import type { TypedArray } from '../../dtype';
import type { Node } from '../../ir';
import type { TypeOf } from '../../lowering';
import { stridesOf, type Shape } from '../../shape';

/** A transpose kernel: x at an offset → the permuted result at an offset. */
export type TransposeKernel = (x: TypedArray, xo: number, y: TypedArray, yo: number) => void;

/**
 * The loops of transpose(x of `shape`, `perm`): the result's axes in order, each with its size
 * and its stride in x, size-1 axes dropped and runs that are contiguous in x merged.
 * @example transposeLoops([2, 3, 4], [0, 2, 1]) // [{ size: 2, stride: 12 }, { size: 4, stride: 1 }, { size: 3, stride: 4 }]
 */
export function transposeLoops(shape: Shape, perm: readonly number[]): { size: number; stride: number }[] {
  const strides = stridesOf(shape);
  const loops = perm.map((p) => ({ size: shape[p], stride: strides[p] })).filter((l) => l.size !== 1);
  for (let i = loops.length - 1; i > 0; i--) {
    const [a, b] = [loops[i - 1], loops[i]];
    if (a.stride === b.stride * b.size) loops.splice(i - 1, 2, { size: a.size * b.size, stride: b.stride });
  }
  return loops;
}

/**
 * A kernel copying x's elements in the permuted order: an odometer over the outer loops, the
 * innermost loop strided.
 * @example makeTranspose([64, 144, 8], [2, 1, 0])(x, 0, y, 0)
 */
export function makeTranspose(shape: Shape, perm: readonly number[]): TransposeKernel {
  const loops = transposeLoops(shape, perm);
  const total = shape.reduce((p, d) => p * d, 1);
  if (loops.length === 0 || (loops.length === 1 && loops[0].stride === 1)) return (x, xo, y, yo) => y.set(x.subarray(xo, xo + total), yo);
  const inner = loops[loops.length - 1];
  const outer = loops.slice(0, -1);
  const idx = new Int32Array(outer.length);
  const rows = total / inner.size;
  return (x, xo, y, yo) => {
    idx.fill(0);
    let base = xo;
    let o = yo;
    for (let r = 0; r < rows; r++) {
      for (let t = 0, at = base; t < inner.size; t++, at += inner.stride) y[o++] = x[at];
      // the next row: the odometer over the outer loops
      for (let d = outer.length - 1; d >= 0; d--) {
        base += outer[d].stride;
        if (++idx[d] < outer[d].size) break;
        base -= outer[d].stride * outer[d].size;
        idx[d] = 0;
      }
    }
  };
}

/** The lowering's kernel maker: transpose(x) → y for the node's concrete types. */
export function transposeKernelFor(node: Node, types: TypeOf): TransposeKernel {
  return makeTranspose(types(node.inputs[0]).shape as Shape, node.attrs.perm as number[]);
}
