/**
 * Row kernels: the reductions over the last axis that need two passes over each row, so they are
 * not elementwise loops — softmax, logSoftmax, logsumexp and the fused softmax cross-entropy.
 * Each reads a [rows, cols] block and writes into caller-provided arrays at offsets, allocates
 * nothing, and computes exactly what the reference kernels compute (same passes, same float64
 * accumulation, same handling of ±∞ and NaN).
 */
import { DTypeError, GraphError, ShapeError } from '../../errors';
import type { FloatArray, FloatDType } from './matmul';

export type RowOp = 'softmax' | 'logSoftmax' | 'logsumexp' | 'softmaxCrossEntropy';

export interface RowSpec {
  readonly op: RowOp;
  readonly dtype: FloatDType;
  /** Rows: the product of every dim but the last. */
  readonly rows: number;
  /** The length of the last axis, the one reduced. */
  readonly cols: number;
}

/**
 * A row kernel. softmax and logSoftmax write a [rows, cols] result; logsumexp and
 * softmaxCrossEntropy write one value per row. softmaxCrossEntropy takes the target
 * distribution `t` ([rows, cols]) as its second input; the others ignore it.
 */
export interface RowKernel {
  (x: FloatArray, xOffset: number, out: FloatArray, outOffset: number, t?: FloatArray, tOffset?: number): void;
  readonly spec: RowSpec;
  /** Elements written: rows·cols or rows. */
  readonly outSize: number;
}

// the row max as softmax and the cross-entropy take it: `x > m` skips NaN
function rowMax(x: FloatArray, at: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) if (x[at + j] > m) m = x[at + j];
  return m;
}

// softmax(x) = e^(x − m) / Σ e^(x − m);  logSoftmax(x) = x − m − log Σ e^(x − m)
function softmaxRows(log: boolean, rows: number, cols: number, x: FloatArray, xo: number, out: FloatArray, oo: number): void {
  for (let r = 0; r < rows; r++) {
    const at = xo + r * cols;
    const m = rowMax(x, at, cols);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[at + j] - m);
    const to = oo + r * cols;
    if (log) {
      const ls = Math.log(s);
      for (let j = 0; j < cols; j++) out[to + j] = x[at + j] - m - ls;
    } else for (let j = 0; j < cols; j++) out[to + j] = Math.exp(x[at + j] - m) / s;
  }
}

// lse(x) = m + log Σ e^(x − m), with m the max by Math.max (NaN wins); a row of −∞ (or one with +∞) gives m
function logsumexpRows(rows: number, cols: number, x: FloatArray, xo: number, out: FloatArray, oo: number): void {
  for (let r = 0; r < rows; r++) {
    const at = xo + r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[at + j]);
    let s = 0;
    if (m !== -Infinity) for (let j = 0; j < cols; j++) s += Math.exp(x[at + j] - m);
    out[oo + r] = m === -Infinity || m === Infinity ? m : m + Math.log(s);
  }
}

// −Σ t·logSoftmax(x) = Σ t·((m − x) + log s); a zero target adds nothing even where x = −∞
function crossEntropyRows(rows: number, cols: number, x: FloatArray, xo: number, out: FloatArray, oo: number, t: FloatArray, to: number): void {
  for (let r = 0; r < rows; r++) {
    const at = xo + r * cols;
    const tt = to + r * cols;
    const m = rowMax(x, at, cols);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[at + j] - m);
    const ls = Math.log(s);
    let acc = 0;
    for (let j = 0; j < cols; j++) {
      const tv = t[tt + j];
      if (tv !== 0) acc += tv * (m - x[at + j] + ls);
    }
    out[oo + r] = acc;
  }
}

/**
 * Specializes a last-axis row kernel to a dtype and a [rows, cols] shape.
 * @example
 * // per-row cross-entropy of logits [128, 10] against one-hot targets, then its softmax
 * const ce = makeRowKernel({ op: 'softmaxCrossEntropy', dtype: 'float32', rows: 128, cols: 10 });
 * ce(arena, logitsOff, arena, lossOff, arena, targetOff);
 * makeRowKernel({ op: 'softmax', dtype: 'float32', rows: 128, cols: 10 })(arena, logitsOff, arena, probsOff);
 */
export function makeRowKernel(spec: RowSpec): RowKernel {
  const { op, dtype, rows, cols } = spec ?? ({} as RowSpec);
  if (!['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy'].includes(op)) {
    throw new GraphError(`unknown row kernel "${String(op)}" (softmax, logSoftmax, logsumexp, softmaxCrossEntropy)`, { op: 'rows' });
  }
  if (dtype !== 'float32' && dtype !== 'float64') throw new DTypeError(`${op} takes float32 or float64, got ${String(dtype)}`, { op });
  if (![rows, cols].every((d) => Number.isInteger(d) && d >= 0)) throw new ShapeError(`rows and cols must be non-negative integers, got ${rows} and ${cols}`, { op });
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const perRow = op === 'softmax' || op === 'logSoftmax';
  const outSize = perRow ? rows * cols : rows;
  const inSize = rows * cols;
  const kernel = ((x: FloatArray, xo: number, out: FloatArray, oo: number, t?: FloatArray, to = 0): void => {
    const needsT = op === 'softmaxCrossEntropy';
    if (!(x instanceof Arr) || !(out instanceof Arr) || (needsT && !(t instanceof Arr))) throw new DTypeError(`${op}: arrays must be ${dtype} ${Arr.name}s${needsT ? ' (the target included)' : ''}`, { op, dtypes: [dtype] });
    if (xo < 0 || oo < 0 || xo + inSize > x.length || oo + outSize > out.length || (needsT && (to < 0 || to + inSize > t!.length))) {
      throw new ShapeError(`${op}: arrays too short for [${rows},${cols}] (x needs ${inSize} from ${xo}, out ${outSize} from ${oo}${needsT ? `, target ${inSize} from ${to}` : ''})`, { op });
    }
    switch (op) {
      case 'softmax':
      case 'logSoftmax':
        return softmaxRows(op === 'logSoftmax', rows, cols, x, xo, out, oo);
      case 'logsumexp':
        return logsumexpRows(rows, cols, x, xo, out, oo);
      case 'softmaxCrossEntropy':
        return crossEntropyRows(rows, cols, x, xo, out, oo, t!, to);
    }
  }) as RowKernel;
  return Object.assign(kernel, { spec, outSize });
}
