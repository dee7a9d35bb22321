import { DTYPES, allocArray, coerce, dtypeOfArray, isDType, type DType, type TypedArray } from './dtype';
import { DTypeError, ShapeError } from './errors';
import { fmtJson, fmtTensor, inspectTensor } from './format';
import { fillNormal, fillUniform, streamKey } from './random';
import { fmtShape, sizeOf, stridesOf, type Shape } from './shape';

export type Nested = number | boolean | readonly Nested[];

/**
 * An n-d array: a dtype, a shape and a contiguous row-major typed array. Tensors are values: ops
 * return new ones. `data` is exposed for speed; mutate it only if you own the tensor.
 */
export class Tensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: TypedArray;

  constructor(dtype: DType, shape: Shape, data?: TypedArray) {
    if (!isDType(dtype)) throw new DTypeError(`unknown dtype ${fmtJson(dtype)}: gradgraph has ${DTYPES.join(', ')}`, { op: 'Tensor' });
    if (!Array.isArray(shape)) throw new ShapeError(`shape must be an array of dims, got ${fmtJson(shape)}`, { op: 'Tensor' });
    const n = sizeOf(shape);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ShapeError(`invalid shape ${fmtShape(shape)}: dims must be non-negative integers`, { op: 'Tensor' });
    }
    if (data === undefined) data = allocArray(dtype, n);
    else {
      if (dtypeOfArray(data) !== dtype) {
        throw new DTypeError(`data is a ${data.constructor.name}, not storage for ${dtype}`, { op: 'Tensor', dtypes: [dtype] });
      }
      if (data.length !== n) {
        throw new ShapeError(`shape ${fmtShape(shape)} needs ${n} elements, data has ${data.length}`, { op: 'Tensor' });
      }
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /**
   * From a number (shape `[]`), a nested array, or a typed array (1-d).
   * @example Tensor.from([[1, 2], [3, 4]]) // float32 [2,2]
   */
  static from(value: Nested | TypedArray, dtype: DType = 'float32'): Tensor {
    if (!isDType(dtype)) throw new DTypeError(`unknown dtype ${String(dtype)}`, { op: 'Tensor.from' });
    if (ArrayBuffer.isView(value)) {
      const src = value as TypedArray;
      const out = allocArray(dtype, src.length);
      for (let i = 0; i < src.length; i++) out[i] = store(dtype, src[i], () => `element ${i}`, 'Tensor.from');
      return new Tensor(dtype, [src.length], out);
    }
    const shape: number[] = [];
    let v: Nested = value;
    while (Array.isArray(v)) {
      shape.push(v.length);
      v = v[0] as Nested;
    }
    const out = allocArray(dtype, sizeOf(shape));
    let k = 0;
    const walk = (x: Nested, depth: number, path: number[]): void => {
      if (depth === shape.length) {
        if (Array.isArray(x)) throw ragged(path, shape);
        const num = typeof x === 'boolean' ? (x ? 1 : 0) : x;
        if (typeof num !== 'number') {
          throw new DTypeError(`element at [${path.join(',')}] is ${typeof x}, not a number`, { op: 'Tensor.from' });
        }
        out[k++] = store(dtype, num, () => `element at [${path.join(',')}]`, 'Tensor.from');
        return;
      }
      if (!Array.isArray(x) || x.length !== shape[depth]) throw ragged(path, shape);
      for (let i = 0; i < x.length; i++) walk(x[i] as Nested, depth + 1, [...path, i]);
    };
    walk(value, 0, []);
    return new Tensor(dtype, shape, out);
  }

  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return Tensor.full([], value, dtype);
  }

  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
    return new Tensor(dtype, shape);
  }

  static ones(shape: Shape, dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  static full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
    const t = new Tensor(dtype, shape);
    t.data.fill(store(dtype, value, () => 'the value', 'Tensor.full'));
    return t;
  }

  /** Standard normal samples, reproducible from `seed`. */
  static randn(shape: Shape, dtype: DType = 'float32', seed = 0): Tensor {
    const t = new Tensor(dtype, shape);
    fillNormal(t.data, dtype, streamKey(seed, 'Tensor.randn', 0));
    return t;
  }

  /** Uniform samples in [0, 1), reproducible from `seed`. */
  static rand(shape: Shape, dtype: DType = 'float32', seed = 0): Tensor {
    const t = new Tensor(dtype, shape);
    fillUniform(t.data, dtype, streamKey(seed, 'Tensor.rand', 0));
    return t;
  }

  /** Nested arrays (a number for rank 0; booleans for `bool`). */
  toArray(): any {
    const conv = this.dtype === 'bool' ? (x: number) => x !== 0 : (x: number) => x;
    if (this.shape.length === 0) return conv(this.data[0]);
    const strides = stridesOf(this.shape);
    const build = (depth: number, off: number): unknown[] => {
      const n = this.shape[depth];
      const out = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = depth === this.shape.length - 1 ? conv(this.data[off + i]) : build(depth + 1, off + i * strides[depth]);
      }
      return out;
    };
    return build(0, 0);
  }

  /** The only element of a size-1 tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a tensor of size 1, got shape ${fmtShape(this.shape)}`, { op: 'Tensor.item' });
    return this.data[0];
  }

  clone(): Tensor {
    return new Tensor(this.dtype, this.shape, this.data.slice() as TypedArray);
  }

  astype(dtype: DType): Tensor {
    if (dtype === this.dtype) return this.clone();
    const out = allocArray(dtype, this.size);
    for (let i = 0; i < out.length; i++) out[i] = coerce(dtype, this.data[i]);
    return new Tensor(dtype, this.shape, out);
  }

  /** Same data, new shape of the same size (a copy). */
  reshape(shape: Shape): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new ShapeError(`cannot reshape ${fmtShape(this.shape)} to ${fmtShape(shape)}`, { op: 'Tensor.reshape', shapes: [this.shape, shape] });
    }
    return new Tensor(this.dtype, shape, this.data.slice() as TypedArray);
  }

  /**
   * One line: dtype, shape and the values in the dtype's precision, summarized past 1,000
   * elements. @example String(Tensor.from([0.1, 0.2])); // "Tensor(float32[2] [0.1, 0.2])"
   */
  toString(): string {
    return fmtTensor(this.dtype, this.shape, this.data);
  }

  /** What `console.log(t)` and `util.inspect(t)` show: a header, then the values in columns. */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: { stylize?: (s: string, kind: string) => string }): string {
    const stylize = options?.stylize;
    return inspectTensor(this.dtype, this.shape, this.data, stylize ? (s) => stylize(s, this.dtype === 'bool' ? 'boolean' : 'number') : undefined);
  }
}

/**
 * A JS number as `dtype` stores it, refusing what int32 cannot hold: NaN, ±Infinity and values
 * outside [−2³¹, 2³¹ − 1] (NumPy 2 refuses them too; a silent `| 0` would wrap 3e9 to −1294967296).
 * Fractions are truncated toward zero, as NumPy does. Arithmetic *on* int32 tensors wraps around
 * on overflow, as in NumPy and TensorFlow (see docs/core.md).
 */
function store(dtype: DType, v: number, where: () => string, op: string): number {
  if (dtype === 'int32' && !(v >= -2147483648 && v < 2147483648)) {
    throw new DTypeError(`${where()} is ${fmtJson(v)}, which int32 cannot hold (integers from -2147483648 to 2147483647); use float32 or float64`, { op, dtypes: ['int32'] });
  }
  return coerce(dtype, v);
}

function ragged(path: number[], shape: number[]): ShapeError {
  return new ShapeError(`ragged nested array at [${path.join(',')}]: expected shape ${fmtShape(shape)}`, { op: 'Tensor.from' });
}
