/** Helpers shared by the reference kernels and shape rules of the built-in primitives. */
import { fmtJson } from '../format';
import { isFloat, type DType } from '../dtype';
import { DTypeError } from '../errors';
import type { Attrs, TypeInfo } from '../ir';
import { fail, type ConcreteType } from '../registry';
import { broadcastShapes, fmtShape, normAxis, sizeOf, stridesOf, type Shape, type SymShape } from '../shape';
import { Tensor } from '../tensor';

export const noAttrs = (): Attrs => ({});

export function requireFloat(t: TypeInfo, what = 'operand'): void {
  if (!isFloat(t.dtype)) throw new DTypeError(`${what} must be float32 or float64, got ${t.dtype}`);
}

export function requireNumeric(t: TypeInfo, what = 'operand'): void {
  if (t.dtype === 'bool') throw new DTypeError(`${what} must be numeric, got bool`);
}

export function requireBool(t: TypeInfo, what = 'operand'): void {
  if (t.dtype !== 'bool') throw new DTypeError(`${what} must be bool, got ${t.dtype}`);
}

export function requireSameDtype(types: readonly TypeInfo[]): DType {
  const d = types[0].dtype;
  for (const t of types) if (t.dtype !== d) throw new DTypeError(`operands have different dtypes ${types.map((x) => x.dtype).join(' and ')}; cast one`);
  return d;
}

export function broadcastOrFail(shapes: readonly SymShape[]): (number | null)[] {
  const out = broadcastShapes(...shapes);
  if (!out) fail(`shapes ${shapes.map(fmtShape).join(' and ')} do not broadcast`);
  return out;
}

/** Normalizes a list of axes for `rank` (negative counts from the end); sorted, unique. */
export function normAxes(axes: unknown, rank: number): number[] {
  if (axes === undefined || axes === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list)) fail(`axes must be a number or an array of numbers, got ${fmtJson(axes)}`);
  const out = new Set<number>();
  for (const a of list) {
    const n = typeof a === 'number' ? normAxis(a, rank) : -1;
    if (n < 0) fail(`axis ${fmtJson(a)} is out of range for rank ${rank}`);
    out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

export function normOneAxis(axis: unknown, rank: number): number {
  const a = typeof axis === 'number' ? normAxis(axis, rank) : -1;
  if (a < 0) fail(`axis ${fmtJson(axis)} is out of range for rank ${rank}`);
  return a;
}

/**
 * For an input of shape `inShape` broadcast to `outShape`, the input offset of every output
 * element; null when no broadcasting happens (the identity).
 */
export function broadcastOffsets(inShape: Shape, outShape: Shape): Int32Array | null {
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null;
  const n = sizeOf(outShape);
  const offs = new Int32Array(n);
  const rank = outShape.length;
  const pad = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  const bStride = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) bStride[pad + i] = inShape[i] === 1 ? 0 : inStrides[i];
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let j = 0; j < n; j++) {
    offs[j] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += bStride[d];
      if (idx[d] < outShape[d]) break;
      off -= bStride[d] * idx[d];
      idx[d] = 0;
    }
  }
  return offs;
}

export function mapUnary(x: Tensor, out: ConcreteType, f: (v: number) => number): Tensor {
  const r = new Tensor(out.dtype, out.shape);
  const a = x.data;
  const o = r.data;
  for (let i = 0; i < o.length; i++) o[i] = f(a[i]);
  return r;
}

export function mapBinary(x: Tensor, y: Tensor, out: ConcreteType, f: (a: number, b: number) => number): Tensor {
  const r = new Tensor(out.dtype, out.shape);
  const a = x.data;
  const b = y.data;
  const o = r.data;
  const oa = broadcastOffsets(x.shape, out.shape);
  const ob = broadcastOffsets(y.shape, out.shape);
  for (let i = 0; i < o.length; i++) o[i] = f(a[oa ? oa[i] : i], b[ob ? ob[i] : i]);
  return r;
}

export function mapTernary(x: Tensor, y: Tensor, z: Tensor, out: ConcreteType, f: (a: number, b: number, c: number) => number): Tensor {
  const r = new Tensor(out.dtype, out.shape);
  const [a, b, c, o] = [x.data, y.data, z.data, r.data];
  const [oa, ob, oc] = [broadcastOffsets(x.shape, out.shape), broadcastOffsets(y.shape, out.shape), broadcastOffsets(z.shape, out.shape)];
  for (let i = 0; i < o.length; i++) o[i] = f(a[oa ? oa[i] : i], b[ob ? ob[i] : i], c[oc ? oc[i] : i]);
  return r;
}

/** For each element of a tensor of `shape`, the flat index of its cell after reducing `axes`. */
export function reductionIndex(shape: Shape, axes: readonly number[]): { index: Int32Array; outSize: number; count: number } {
  const rank = shape.length;
  const reduced = new Array<boolean>(rank).fill(false);
  for (const a of axes) reduced[a] = true;
  const keptShape = shape.filter((_, i) => !reduced[i]);
  const keptStrides = stridesOf(keptShape);
  const stride = new Array<number>(rank).fill(0);
  let k = 0;
  for (let i = 0; i < rank; i++) if (!reduced[i]) stride[i] = keptStrides[k++];
  const n = sizeOf(shape);
  const index = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let j = 0; j < n; j++) {
    index[j] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += stride[d];
      if (idx[d] < shape[d]) break;
      off -= stride[d] * idx[d];
      idx[d] = 0;
    }
  }
  const count = axes.reduce((acc, a) => acc * shape[a], 1);
  return { index, outSize: sizeOf(keptShape), count };
}

/** The shape after reducing `axes`, keeping them as 1s or dropping them. */
export function reducedShape<T extends number | null>(shape: readonly T[], axes: readonly number[], keepDims: boolean): T[] {
  const out: T[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1 as T);
  });
  return out;
}

/** Reduces `x` over `axes` with a fold; `finish` maps (accumulator, count) to the result. */
export function reduceKernel(
  x: Tensor,
  axes: readonly number[],
  out: ConcreteType,
  init: number,
  step: (acc: number, v: number) => number,
  finish: (acc: number, count: number) => number = (a) => a,
): Tensor {
  const { index, outSize, count } = reductionIndex(x.shape, axes);
  const acc = new Float64Array(outSize).fill(init);
  const a = x.data;
  for (let i = 0; i < a.length; i++) acc[index[i]] = step(acc[index[i]], a[i]);
  const r = new Tensor(out.dtype, out.shape);
  for (let j = 0; j < outSize; j++) r.data[j] = finish(acc[j], count);
  return r;
}

/** A positive integer list check for attributes. */
export function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d))) fail(`${what} must be an array of integers, got ${fmtJson(v)}`);
  return [...(v as number[])];
}

export function sameShapeType(t: TypeInfo): TypeInfo {
  return { dtype: t.dtype, shape: t.shape };
}
