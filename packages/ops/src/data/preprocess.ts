/**
 * Preprocessing: feature scaling fitted on the training split only, and one-hot labels.
 *
 * A fit is a plain JSON-able object (`JSON.stringify` it into a checkpoint, `scalerFitFromJSON`
 * it back), so a model saved after training restores the exact scaling it was trained with.
 * Statistics are computed in float64 whatever the data's dtype.
 */
import { allocArray, isFloat, SerializationError, Tensor, captureOrigin, type DType } from '@gradgraph/core';
import { Dataset, type FloatDType } from './dataset';
import { DataError, fmtValue, checkOptionKeys } from './errors';

/** Mean/std scaling: `x' = (x − mean) / std` on the scaled columns. */
export interface StandardizeFit {
  kind: 'standardize';
  /** Format version of this object. */
  version: 1;
  /** The feature names of the data it was fitted on (checked when applied to a Dataset). */
  featureNames: string[];
  /** Rows of the training data. */
  n: number;
  /** Per-column mean of the training rows. */
  mean: number[];
  /** Per-column population standard deviation (ddof 0, as scikit-learn and Keras) of the training rows. */
  std: number[];
  /** Indices of the columns the transform changes; the others pass through. */
  columns: number[];
}

/** Min–max scaling to `range`: `x' = lo + (x − min) · (hi − lo) / (max − min)` on the scaled columns. */
export interface MinMaxFit {
  kind: 'minMax';
  version: 1;
  featureNames: string[];
  n: number;
  min: number[];
  max: number[];
  /** Target interval `[lo, hi]`; default `[0, 1]`. */
  range: [number, number];
  /** Clamp transformed values into `range` (values outside the training min/max otherwise map outside it). */
  clip: boolean;
  columns: number[];
}

/** A fitted scaler: plain data, JSON-able. */
export type ScalerFit = StandardizeFit | MinMaxFit;

/** Which columns to scale: names or indices; default all. */
export interface ScaleOptions {
  columns?: readonly (string | number)[];
}

export interface MinMaxOptions extends ScaleOptions {
  /** Target interval; default `[0, 1]`. */
  range?: readonly [number, number];
  /** Clamp outputs into `range`; default false (as scikit-learn). */
  clip?: boolean;
}

/** What scaling accepts: a Dataset (its `x`), a Tensor `[n, d]` or `[n]` (one column), or rows. */
export type Scalable = Dataset | Tensor | readonly (readonly number[])[];

interface Matrix {
  data: ArrayLike<number>;
  n: number;
  d: number;
  names: string[] | undefined;
}

function asMatrix(op: string, x: Scalable): Matrix {
  if (x instanceof Dataset) return { data: x.x.data, n: x.size, d: x.numFeatures, names: [...x.featureNames] };
  if (x instanceof Tensor) {
    if (x.rank !== 1 && x.rank !== 2) throw new DataError(`expects a Tensor [n, d] or [n], got shape [${x.shape.join(', ')}]`, { op });
    const d = x.rank === 2 ? x.shape[1] : 1;
    const m = { data: x.data, n: x.shape[0], d, names: undefined };
    checkFinite(op, m);
    return m;
  }
  if (!Array.isArray(x)) throw new DataError(`expects a Dataset, a Tensor or rows of numbers, got ${fmtValue(x)}`, { op });
  const n = x.length;
  const d = n ? x[0].length : 0;
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    if (!Array.isArray(x[i]) || x[i].length !== d) {
      throw new DataError(`ragged row: ${Array.isArray(x[i]) ? x[i].length : fmtValue(x[i])} values, expected ${d}`, { op, row: i });
    }
    for (let j = 0; j < d; j++) data[i * d + j] = typeof x[i][j] === 'number' ? x[i][j] : NaN;
  }
  const m = { data, n, d, names: undefined };
  checkFinite(op, m, x);
  return m;
}

function checkFinite(op: string, m: Matrix, rows?: readonly (readonly unknown[])[]): void {
  for (let k = 0; k < m.data.length; k++) {
    const v = m.data[k];
    if (!Number.isFinite(v)) {
      const j = k % m.d;
      const i = (k - j) / m.d;
      const raw = rows ? rows[i][j] : v;
      const what = raw === null || raw === undefined ? 'missing value' : typeof raw !== 'number' ? `value ${fmtValue(raw)} is not a number` : Number.isNaN(raw) ? 'value is NaN' : `value is ${raw}`;
      throw new DataError(what, { op, row: i, column: m.names ? m.names[j] : `x${j}` });
    }
  }
}

function resolveColumns(op: string, m: Matrix, columns: readonly (string | number)[] | undefined): number[] {
  if (columns === undefined) return Array.from({ length: m.d }, (_, j) => j);
  const out = columns.map((c) => {
    const j = typeof c === 'number' ? c : (m.names ?? []).indexOf(c);
    if (!Number.isInteger(j) || j < 0 || j >= m.d) {
      throw new DataError(`no column ${fmtValue(c)} to scale; ${m.names ? `the columns are ${m.names.join(', ')}` : `there are ${m.d} columns (name them with a Dataset)`}`, { op });
    }
    return j;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

function namesOf(m: Matrix): string[] {
  return m.names ?? Array.from({ length: m.d }, (_, j) => `x${j}`);
}

/** Values near ±1e308 overflow a spread; refuse them rather than scale by Infinity. */
function checkStats(op: string, m: Matrix, spread: number[]): void {
  spread.forEach((v, j) => {
    if (!Number.isFinite(v)) throw new DataError(`values too large to scale: their spread overflows to ${v}`, { op, column: namesOf(m)[j] });
  });
}

/**
 * Fits mean/std scaling on the training data only (population std, ddof 0). A constant column has
 * std 0 and is only centred (divided by 1), as in scikit-learn.
 *
 * @example
 * const { train, test } = data.trainTestSplit(data.loadIris(), { testSize: 0.2, seed: 1 });
 * const fit = data.fitStandardize(train);        // statistics of the training rows only
 * const testScaled = data.transform(fit, test);  // the same mean/std applied to the test rows
 * JSON.stringify(fit);                           // save with the model
 */
export function fitStandardize(train: Scalable, opts: ScaleOptions = {}): StandardizeFit {
  const op = 'fitStandardize';
  checkOptionKeys(op, opts, ['columns']);
  const m = asMatrix(op, train);
  if (m.n === 0) throw new DataError('cannot fit on 0 rows', { op });
  const mean = new Array<number>(m.d).fill(0);
  const std = new Array<number>(m.d).fill(0);
  for (let i = 0; i < m.n; i++) for (let j = 0; j < m.d; j++) mean[j] += m.data[i * m.d + j];
  for (let j = 0; j < m.d; j++) mean[j] /= m.n;
  // two passes: Σ(x − mean)² is accurate where Σx² − n·mean² cancels
  for (let i = 0; i < m.n; i++) {
    for (let j = 0; j < m.d; j++) {
      const r = m.data[i * m.d + j] - mean[j];
      std[j] += r * r;
    }
  }
  for (let j = 0; j < m.d; j++) std[j] = Math.sqrt(std[j] / m.n);
  checkStats(op, m, std);
  return { kind: 'standardize', version: 1, featureNames: namesOf(m), n: m.n, mean, std, columns: resolveColumns(op, m, opts.columns) };
}

/**
 * Fits min–max scaling to `range` (default `[0, 1]`) on the training data only. A constant column
 * (max = min) is shifted to `lo` and not stretched.
 *
 * @example
 * const fit = data.fitMinMax(train, { range: [-1, 1] });
 * const scaled = data.transform(fit, test); // test values outside the training range land outside [-1, 1]
 */
export function fitMinMax(train: Scalable, opts: MinMaxOptions = {}): MinMaxFit {
  const op = 'fitMinMax';
  checkOptionKeys(op, opts, ['columns', 'range', 'clip']);
  const range = opts.range ?? [0, 1];
  if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isFinite) || !(range[0] < range[1])) {
    throw new DataError(`range must be [lo, hi] with finite lo < hi, got ${JSON.stringify(range)}`, { op });
  }
  const m = asMatrix(op, train);
  if (m.n === 0) throw new DataError('cannot fit on 0 rows', { op });
  const min = new Array<number>(m.d).fill(Infinity);
  const max = new Array<number>(m.d).fill(-Infinity);
  for (let i = 0; i < m.n; i++) {
    for (let j = 0; j < m.d; j++) {
      const v = m.data[i * m.d + j];
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  checkStats(
    op,
    m,
    max.map((v, j) => (v - min[j]) / (range[1] - range[0])),
  );
  return {
    kind: 'minMax',
    version: 1,
    featureNames: namesOf(m),
    n: m.n,
    min,
    max,
    range: [range[0], range[1]],
    clip: opts.clip ?? false,
    columns: resolveColumns(op, m, opts.columns),
  };
}

/** Per column: `x' = (x − center) / scale + offset`, or identity for unscaled columns. */
function affine(fit: ScalerFit): { center: number[]; scale: number[]; offset: number[]; lo: number; hi: number } {
  const d = fit.featureNames.length;
  const center = new Array<number>(d).fill(0);
  const scale = new Array<number>(d).fill(1);
  const offset = new Array<number>(d).fill(0);
  for (const j of fit.columns) {
    if (fit.kind === 'standardize') {
      center[j] = fit.mean[j];
      scale[j] = fit.std[j] > 0 ? fit.std[j] : 1; // constant column: centre only
    } else {
      const [lo, hi] = fit.range;
      const s = (fit.max[j] - fit.min[j]) / (hi - lo);
      center[j] = fit.min[j];
      scale[j] = s > 0 ? s : 1; // constant column (or a span that underflows): shift only
      offset[j] = lo;
    }
  }
  const [lo, hi] = fit.kind === 'minMax' && fit.clip ? fit.range : [-Infinity, Infinity];
  return { center, scale, offset, lo, hi };
}

function apply<T extends Scalable>(op: string, fit: ScalerFit, x: T, inverse: boolean): T extends Dataset ? Dataset : Tensor {
  checkFit(op, fit);
  const m = asMatrix(op, x);
  const d = fit.featureNames.length;
  if (m.d !== d) throw new DataError(`the fit is for ${d} columns (${fit.featureNames.join(', ')}); this data has ${m.d}`, { op });
  if (m.names && m.names.some((name, j) => name !== fit.featureNames[j])) {
    throw new DataError(`column names differ from the fit's: fitted on ${fit.featureNames.join(', ')}; got ${m.names.join(', ')}`, { op });
  }
  const { center, scale, offset, lo, hi } = affine(fit);
  const src = x instanceof Dataset ? x.x : x instanceof Tensor ? x : undefined;
  const dtype: DType = src && isFloat(src.dtype) ? src.dtype : 'float32';
  const out = allocArray(dtype, m.n * d);
  for (let i = 0; i < m.n; i++) {
    for (let j = 0; j < d; j++) {
      const v = m.data[i * d + j];
      out[i * d + j] = inverse ? (v - offset[j]) * scale[j] + center[j] : Math.min(Math.max((v - center[j]) / scale[j] + offset[j], lo), hi);
    }
  }
  const shape = src && src.rank === 1 ? [m.n] : [m.n, d];
  const t = new Tensor(dtype, shape, out);
  if (x instanceof Dataset) {
    const what = fit.kind === 'standardize' ? 'standardized' : `min–max scaled to [${fit.range.join(', ')}]`;
    return x.withFeatures(t).withNote(`${inverse ? 'inverse of ' : ''}${what} (columns ${fit.columns.map((j) => fit.featureNames[j]).join(', ')}) with a fit on ${fit.n} training rows`) as never;
  }
  return t as never;
}

/**
 * Applies a fitted scaler to any split. A Dataset gives a Dataset (same labels and row ids); a
 * Tensor or rows give a Tensor of the same dtype (float32 for rows).
 *
 * @example
 * const fit = data.fitStandardize(train);
 * const [trainS, valS] = [data.transform(fit, train), data.transform(fit, val)];
 */
export function transform<T extends Scalable>(fit: ScalerFit, x: T): T extends Dataset ? Dataset : Tensor {
  return apply('transform', fit, x, false);
}

/**
 * Undoes a fitted scaler: maps scaled values (e.g. a model's predictions of a scaled target) back
 * to the original units.
 *
 * @example
 * const yFit = data.fitStandardize(train.y!);          // scale a regression target [n]
 * const predOriginal = data.inverseTransform(yFit, predScaled);
 */
export function inverseTransform<T extends Scalable>(fit: ScalerFit, x: T): T extends Dataset ? Dataset : Tensor {
  return apply('inverseTransform', fit, x, true);
}

/** Splits as returned by the split functions: `train` plus any other Datasets. */
export type Splits = { train: Dataset } & Record<string, unknown>;

/** The splits with every Dataset scaled, plus the fit. */
export type Scaled<S, F> = { [K in keyof S]: S[K] extends Dataset ? Dataset : S[K] } & { fit: F };

function scaleSplits<S extends Splits, F extends ScalerFit>(op: string, splits: S, fit: (train: Dataset) => F): Scaled<S, F> {
  if (!splits || !(splits.train instanceof Dataset)) {
    throw new DataError(`expects splits { train, ... } whose train is a Dataset (e.g. from trainTestSplit), got ${fmtValue(splits)}`, { op });
  }
  const f = fit(splits.train);
  const out: Record<string, unknown> = { fit: f };
  for (const [k, v] of Object.entries(splits)) out[k] = v instanceof Dataset ? transform(f, v) : v;
  return out as Scaled<S, F>;
}

/**
 * Fits mean/std scaling on `splits.train` only and applies it to every split; returns the scaled
 * splits and the fit (save it with the model).
 *
 * @example
 * const { train, val, test, fit } = data.standardize(
 *   data.trainValTestSplit(data.loadIris(), { valSize: 0.15, testSize: 0.15, seed: 0, stratify: true }),
 * );
 */
export function standardize<S extends Splits>(splits: S, opts: ScaleOptions = {}): Scaled<S, StandardizeFit> {
  checkOptionKeys('standardize', opts, ['columns']);
  return scaleSplits('standardize', splits, (train) => fitStandardize(train, opts));
}

/**
 * Fits min–max scaling on `splits.train` only and applies it to every split.
 *
 * @example
 * const { train, test, fit } = data.minMaxScale(data.trainTestSplit(ds, { seed: 3 }), { range: [0, 1] });
 */
export function minMaxScale<S extends Splits>(splits: S, opts: MinMaxOptions = {}): Scaled<S, MinMaxFit> {
  checkOptionKeys('minMaxScale', opts, ['columns', 'range', 'clip']);
  return scaleSplits('minMaxScale', splits, (train) => fitMinMax(train, opts));
}

/**
 * Reads a scaler fit back from JSON (a string or the parsed object), validating every field. A
 * corrupt fit is refused with a `SerializationError`.
 *
 * @example
 * const saved = JSON.stringify(fit);
 * const restored = data.scalerFitFromJSON(saved);
 */
export function scalerFitFromJSON(json: unknown): ScalerFit {
  let v = json;
  if (typeof json === 'string') {
    try {
      v = JSON.parse(json);
    } catch (e) {
      throw new SerializationError(`not valid JSON: ${(e as Error).message}`, { op: 'scalerFitFromJSON', origin: captureOrigin() });
    }
  }
  checkFit('scalerFitFromJSON', v);
  const f = v as ScalerFit;
  // a fresh copy: no shared arrays with the document
  return f.kind === 'standardize'
    ? { kind: 'standardize', version: 1, featureNames: [...f.featureNames], n: f.n, mean: [...f.mean], std: [...f.std], columns: [...f.columns] }
    : { kind: 'minMax', version: 1, featureNames: [...f.featureNames], n: f.n, min: [...f.min], max: [...f.max], range: [f.range[0], f.range[1]], clip: f.clip, columns: [...f.columns] };
}

/** Throws a SerializationError unless `v` is a well-formed ScalerFit. */
function checkFit(op: string, v: unknown): asserts v is ScalerFit {
  const bad = (detail: string): never => {
    throw new SerializationError(`not a valid scaler fit: ${detail}`, { op, origin: captureOrigin() });
  };
  if (v === null || typeof v !== 'object') bad(`got ${fmtValue(v)}`);
  const f = v as Record<string, unknown>;
  if (f.kind !== 'standardize' && f.kind !== 'minMax') bad(`kind is ${fmtValue(f.kind)}, expected "standardize" or "minMax"`);
  if (f.version !== 1) bad(`version is ${fmtValue(f.version)}, expected 1`);
  if (!Array.isArray(f.featureNames) || !f.featureNames.every((s) => typeof s === 'string')) bad('featureNames must be an array of strings');
  const d = (f.featureNames as string[]).length;
  if (typeof f.n !== 'number' || !Number.isInteger(f.n) || f.n < 1) bad(`n is ${fmtValue(f.n)}, expected a positive integer`);
  const numbers = (key: string, check: (x: number) => boolean, what: string) => {
    const a = f[key];
    if (!Array.isArray(a) || a.length !== d) bad(`${key} must be an array of ${d} numbers (one per feature)`);
    (a as unknown[]).forEach((x, j) => {
      if (typeof x !== 'number' || !check(x)) bad(`${key}[${j}] is ${fmtValue(x)}, expected ${what}`);
    });
  };
  if (f.kind === 'standardize') {
    numbers('mean', Number.isFinite, 'a finite number');
    numbers('std', (x) => Number.isFinite(x) && x >= 0, 'a finite number ≥ 0');
  } else {
    numbers('min', Number.isFinite, 'a finite number');
    numbers('max', Number.isFinite, 'a finite number');
    const min = f.min as number[];
    (f.max as number[]).forEach((x, j) => x < min[j] && bad(`max[${j}] = ${x} is below min[${j}] = ${min[j]}`));
    const r = f.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every(Number.isFinite) || !(r[0] < r[1])) bad(`range is ${JSON.stringify(r)}, expected [lo, hi] with lo < hi`);
    if (typeof f.clip !== 'boolean') bad(`clip is ${fmtValue(f.clip)}, expected a boolean`);
  }
  const cols = f.columns;
  if (!Array.isArray(cols) || !cols.every((j) => Number.isInteger(j) && j >= 0 && j < d) || new Set(cols).size !== cols.length) {
    bad(`columns must be distinct integers in [0, ${d})`);
  }
}

/** Labels for {@link oneHot}: a Dataset's class labels, an int32 (or integer-valued) Tensor `[n]`, or numbers. */
export type LabelSource = Dataset | Tensor | readonly number[];

/**
 * One-hot encodes class labels on the host: row `i` of the result has a 1 in column `labels[i]`.
 * `numClasses` defaults to the Dataset's class count, else `max(labels) + 1`. A label outside
 * `[0, numClasses)` or not an integer is a DataError naming its row.
 *
 * @example
 * data.oneHot([0, 2, 1], 3).toArray(); // [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
 * data.oneHot(data.loadIris()).shape;  // [150, 3]
 */
export function oneHot(labels: LabelSource, numClasses?: number, opts: { dtype?: FloatDType | 'int32' } = {}): Tensor {
  const op = 'oneHot';
  checkOptionKeys(op, opts, ['dtype']);
  let values: ArrayLike<number>;
  let k = numClasses;
  let column = 'label';
  if (labels instanceof Dataset) {
    values = labels.labels;
    k ??= labels.numClasses;
    column = labels.labelName;
  } else if (labels instanceof Tensor) {
    if (labels.rank !== 1) throw new DataError(`labels must be a Tensor [n], got shape [${labels.shape.join(', ')}]`, { op });
    values = labels.data;
  } else if (Array.isArray(labels)) values = labels;
  else throw new DataError(`labels must be a Dataset, a Tensor [n] or an array of class indices, got ${fmtValue(labels)}`, { op });
  const n = values.length;
  if (k === undefined) {
    k = 0;
    for (let i = 0; i < n; i++) if (Number.isInteger(values[i])) k = Math.max(k, values[i] + 1);
  }
  if (!Number.isInteger(k) || k < 1) throw new DataError(`numClasses must be a positive integer, got ${fmtValue(k)}`, { op });
  const dtype = opts.dtype ?? 'float32';
  const out = allocArray(dtype, n * k);
  for (let i = 0; i < n; i++) {
    const c = values[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= k) {
      throw new DataError(`label ${fmtValue(c)} is outside the classes: expected an integer in [0, ${k})`, { op, row: i, column });
    }
    out[i * k + c] = 1;
  }
  return new Tensor(dtype, [n, k], out);
}

/**
 * The inverse of {@link oneHot}, and the class prediction from scores: the argmax of each row
 * (first maximum on ties), as int32 `[n]`.
 *
 * @example
 * data.fromOneHot(Tensor.from([[0, 1, 0], [0.7, 0.2, 0.1]])).toArray(); // [1, 0]
 */
export function fromOneHot(t: Tensor): Tensor {
  const op = 'fromOneHot';
  if (!(t instanceof Tensor) || t.rank !== 2 || t.shape[1] < 1) {
    throw new DataError(`expects a Tensor [n, k] with k ≥ 1, got ${t instanceof Tensor ? `shape [${t.shape.join(', ')}]` : fmtValue(t)}`, { op });
  }
  const [n, k] = t.shape;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 0; j < k; j++) {
      const v = t.data[i * k + j];
      if (Number.isNaN(v)) throw new DataError('value is NaN', { op, row: i, column: `${j}` });
      if (v > t.data[i * k + best]) best = j;
    }
    out[i] = best;
  }
  return new Tensor('int32', [n], out);
}
