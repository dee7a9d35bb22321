/**
 * Metrics, computed on the host from Tensors: accuracy and the confusion matrix (classes by
 * argmax), MAE, MSE and R². Each is a plain function for standalone use, and an accumulator that
 * `fit` feeds batch by batch; an accumulator's state is JSON, so a checkpoint taken mid-epoch
 * carries the partial epoch's metrics and a resumed run reports the same epoch values.
 */
import { DTypeError, ShapeError, Tensor, captureOrigin, fmtShape, isFloat } from '@gradgraph/core';
import { TrainError, fmtValue } from './errors';

// ---- reading predictions and targets ------------------------------------------------------

function requireTensor(op: string, t: unknown, what: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TrainError(op, `${what} must be a Tensor, got ${fmtValue(t)}`);
}

export interface ClassOptions {
  /**
   * Binary scores (a float `[n]` or `[n, 1]` prediction) count as class 1 above this value.
   * Default 0.5 (probabilities); use 0 for logits.
   */
  threshold?: number;
}

/**
 * The class of every row: argmax of a `[n, k]` score or one-hot tensor (first maximum on ties);
 * an int32 or bool `[n]` as is; a float `[n]` or `[n, 1]` prediction thresholded (binary); a
 * float `[n]` target must hold whole numbers.
 */
function classesOf(op: string, t: Tensor, what: 'predictions' | 'targets', threshold: number): Int32Array {
  const n = t.shape[0];
  const out = new Int32Array(n);
  if (t.rank === 2 && t.shape[1] > 1) {
    const k = t.shape[1];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 0; j < k; j++) {
        const v = t.data[i * k + j];
        if (Number.isNaN(v)) throw new TrainError(op, `${what} row ${i}, column ${j} is NaN (a diverged model?)`);
        if (v > t.data[i * k + best]) best = j;
      }
      out[i] = best;
    }
    return out;
  }
  if (t.rank !== 1 && !(t.rank === 2 && t.shape[1] === 1)) {
    throw new ShapeError(`${what} must be class indices [n], binary scores [n] or [n, 1], or scores [n, k]; got shape ${fmtShape(t.shape)}`, { op, shapes: [t.shape], origin: captureOrigin() });
  }
  const binaryScores = isFloat(t.dtype) && what === 'predictions';
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
    if (Number.isNaN(v)) throw new TrainError(op, `${what} row ${i} is NaN (a diverged model?)`);
    if (binaryScores) out[i] = v > threshold ? 1 : 0;
    else {
      if (!Number.isInteger(v) || v < 0) throw new TrainError(op, `${what} row ${i} is ${v}, not a class index (a non-negative integer)`);
      out[i] = v;
    }
  }
  return out;
}

function checkRows(op: string, pred: Tensor, target: Tensor): number {
  requireTensor(op, pred, 'pred');
  requireTensor(op, target, 'target');
  if (pred.rank < 1 || target.rank < 1) throw new ShapeError(`pred and target need a row axis, got shapes ${fmtShape(pred.shape)} and ${fmtShape(target.shape)}`, { op, shapes: [pred.shape, target.shape], origin: captureOrigin() });
  if (pred.shape[0] !== target.shape[0]) {
    throw new ShapeError(`pred has ${pred.shape[0]} rows but target has ${target.shape[0]} (shapes ${fmtShape(pred.shape)} and ${fmtShape(target.shape)})`, { op, shapes: [pred.shape, target.shape], origin: captureOrigin() });
  }
  return pred.shape[0];
}

/** Regression pairs: the same shape up to size-1 axes (`[n, 1]` against `[n]`); viewed as `[n, d]`. */
function regressionPair(op: string, pred: Tensor, target: Tensor): { n: number; d: number } {
  const n = checkRows(op, pred, target);
  for (const [t, what] of [[pred, 'pred'], [target, 'target']] as const) {
    if (t.dtype === 'bool') throw new DTypeError(`${what} must be numeric, got bool`, { op, dtypes: [t.dtype], origin: captureOrigin() });
  }
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1).join(',');
  if (pred.size !== target.size || squeeze(pred.shape.slice(1)) !== squeeze(target.shape.slice(1))) {
    throw new ShapeError(`pred ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} must have the same shape (size-1 axes aside)`, { op, shapes: [pred.shape, target.shape], origin: captureOrigin() });
  }
  return { n, d: n === 0 ? 1 : pred.size / n };
}

// ---- accumulators ---------------------------------------------------------------------------

/**
 * A metric computed over many batches: `update` with each batch's predictions and targets,
 * `result()` for the value over everything seen. `state()` is JSON (for checkpoints);
 * `restore(state)` takes it back.
 */
export interface MetricAccumulator {
  readonly name: string;
  update(pred: Tensor, target: Tensor): void;
  /** The metric over every row seen so far (NaN before any row). */
  result(): number;
  state(): unknown;
  restore(state: unknown): void;
}

/** A metric for `fit`: a built-in name or `{ name, fn }` with a function of one batch. */
export type MetricSpec = BuiltinMetric | FunctionMetric;

/** The built-in metrics; `val` + capitalized name is the validation series (`valAccuracy`). */
export type BuiltinMetric = 'accuracy' | 'mae' | 'mse' | 'r2';

/**
 * A user metric: `fn(pred, target)` of one batch. Over an epoch its values are averaged weighted
 * by batch rows — exact for per-row means (as accuracy or MAE), an approximation otherwise.
 */
export interface FunctionMetric {
  name: string;
  fn: (pred: Tensor, target: Tensor) => number;
  /** `'max'` when higher is better (for early stopping's `mode: 'auto'`); default `'min'`. */
  mode?: 'min' | 'max';
}

export const BUILTIN_METRICS: readonly BuiltinMetric[] = ['accuracy', 'mae', 'mse', 'r2'];

/** Whether higher is better, for early stopping's `mode: 'auto'`. */
export function metricMode(spec: MetricSpec): 'min' | 'max' {
  if (typeof spec === 'string') return spec === 'accuracy' || spec === 'r2' ? 'max' : 'min';
  return spec.mode ?? 'min';
}

export function metricName(spec: MetricSpec): string {
  return typeof spec === 'string' ? spec : spec.name;
}

function badState(op: string, name: string, state: unknown): never {
  throw new TrainError(op, `cannot restore metric "${name}" from ${JSON.stringify(state)?.slice(0, 120)}`);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Correct rows over rows (classes by argmax, see {@link accuracy}). */
class AccuracyAccumulator implements MetricAccumulator {
  readonly name = 'accuracy';
  private correct = 0;
  private rows = 0;
  constructor(private readonly threshold = 0.5) {}
  update(pred: Tensor, target: Tensor): void {
    const op = 'train.accuracy';
    const n = checkRows(op, pred, target);
    const p = classesOf(op, pred, 'predictions', this.threshold);
    const t = classesOf(op, target, 'targets', this.threshold);
    for (let i = 0; i < n; i++) if (p[i] === t[i]) this.correct++;
    this.rows += n;
  }
  result(): number {
    return this.rows === 0 ? NaN : this.correct / this.rows;
  }
  state(): unknown {
    return { correct: this.correct, rows: this.rows };
  }
  restore(s: unknown): void {
    const o = s as { correct: unknown; rows: unknown };
    if (!o || !isCount(o.correct) || !isCount(o.rows) || o.correct > o.rows) badState('train.accuracy', this.name, s);
    this.correct = o.correct;
    this.rows = o.rows;
  }
}

/** Mean of |e| or e² over every element. */
class ErrorMeanAccumulator implements MetricAccumulator {
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: 'mae' | 'mse',
    private readonly f: (e: number) => number,
  ) {}
  update(pred: Tensor, target: Tensor): void {
    const op = `train.${this.name}`;
    regressionPair(op, pred, target);
    for (let i = 0; i < pred.size; i++) this.sum += this.f(pred.data[i] - target.data[i]);
    this.count += pred.size;
  }
  result(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
  state(): unknown {
    return { sum: encodeNumber(this.sum), count: this.count };
  }
  restore(s: unknown): void {
    const o = s as { sum: unknown; count: unknown };
    if (!o || !isCount(o.count)) badState(`train.${this.name}`, this.name, s);
    this.sum = decodeNumber(o.sum, `train.${this.name}`, 'sum');
    this.count = o.count;
  }
}

/**
 * R² = 1 − SS_res/SS_tot per target column, averaged over columns (scikit-learn's default).
 * SS_tot is merged across batches with Chan et al.'s update of the mean and the sum of squared
 * deviations, which stays accurate where Σy² − n·ȳ² would cancel.
 */
class R2Accumulator implements MetricAccumulator {
  readonly name = 'r2';
  private n = 0;
  private mean: number[] = [];
  private m2: number[] = [];
  private ssRes: number[] = [];
  update(pred: Tensor, target: Tensor): void {
    const op = 'train.r2';
    const { n, d } = regressionPair(op, pred, target);
    if (n === 0) return;
    if (this.n === 0) {
      this.mean = new Array(d).fill(0);
      this.m2 = new Array(d).fill(0);
      this.ssRes = new Array(d).fill(0);
    } else if (this.mean.length !== d) {
      throw new ShapeError(`this batch has ${d} target columns, earlier batches had ${this.mean.length}`, { op, shapes: [target.shape], origin: captureOrigin() });
    }
    for (let j = 0; j < d; j++) {
      let mb = 0;
      for (let i = 0; i < n; i++) mb += target.data[i * d + j];
      mb /= n;
      let m2b = 0;
      let res = 0;
      for (let i = 0; i < n; i++) {
        const y = target.data[i * d + j];
        m2b += (y - mb) * (y - mb);
        res += (y - pred.data[i * d + j]) ** 2;
      }
      // merge (n, mean, m2) with (n_b, mean_b, m2_b): δ = mean_b − mean
      const total = this.n + n;
      const delta = mb - this.mean[j];
      this.mean[j] += (delta * n) / total;
      this.m2[j] += m2b + (delta * delta * this.n * n) / total;
      this.ssRes[j] += res;
    }
    this.n += n;
  }
  result(): number {
    if (this.n === 0) return NaN;
    let s = 0;
    for (let j = 0; j < this.mean.length; j++) {
      // a constant target: 1 for a perfect fit, else 0 (scikit-learn's force_finite)
      s += this.m2[j] > 0 ? 1 - this.ssRes[j] / this.m2[j] : this.ssRes[j] === 0 ? 1 : 0;
    }
    return s / this.mean.length;
  }
  state(): unknown {
    return { n: this.n, mean: this.mean.map(encodeNumber), m2: this.m2.map(encodeNumber), ssRes: this.ssRes.map(encodeNumber) };
  }
  restore(s: unknown): void {
    const op = 'train.r2';
    const o = s as { n: unknown; mean: unknown; m2: unknown; ssRes: unknown };
    if (!o || !isCount(o.n) || !Array.isArray(o.mean) || !Array.isArray(o.m2) || !Array.isArray(o.ssRes)) badState(op, this.name, s);
    const d = (o.mean as unknown[]).length;
    if ((o.m2 as unknown[]).length !== d || (o.ssRes as unknown[]).length !== d) badState(op, this.name, s);
    this.n = o.n as number;
    this.mean = (o.mean as unknown[]).map((v) => decodeNumber(v, op, 'mean'));
    this.m2 = (o.m2 as unknown[]).map((v) => decodeNumber(v, op, 'm2'));
    this.ssRes = (o.ssRes as unknown[]).map((v) => decodeNumber(v, op, 'ssRes'));
  }
}

/** A user function averaged over batches, weighted by rows. */
class FunctionAccumulator implements MetricAccumulator {
  private sum = 0;
  private rows = 0;
  constructor(private readonly spec: FunctionMetric) {}
  get name(): string {
    return this.spec.name;
  }
  update(pred: Tensor, target: Tensor): void {
    const n = checkRows(`metric "${this.name}"`, pred, target);
    const v = this.spec.fn(pred, target);
    if (typeof v !== 'number') throw new TrainError(`metric "${this.name}"`, `the metric function returned ${fmtValue(v)}, not a number`);
    this.sum += v * n;
    this.rows += n;
  }
  result(): number {
    return this.rows === 0 ? NaN : this.sum / this.rows;
  }
  state(): unknown {
    return { sum: encodeNumber(this.sum), rows: this.rows };
  }
  restore(s: unknown): void {
    const o = s as { sum: unknown; rows: unknown };
    if (!o || !isCount(o.rows)) badState(`metric "${this.name}"`, this.name, s);
    this.sum = decodeNumber(o.sum, `metric "${this.name}"`, 'sum');
    this.rows = o.rows;
  }
}

/** Checks a metric spec (a built-in name or `{ name, fn }`). */
export function checkMetricSpec(op: string, spec: unknown): MetricSpec {
  if (typeof spec === 'string') {
    if (!(BUILTIN_METRICS as readonly string[]).includes(spec)) throw new TrainError(op, `unknown metric ${JSON.stringify(spec)}; the built-ins are ${BUILTIN_METRICS.join(', ')}, or pass { name, fn }`);
    return spec as BuiltinMetric;
  }
  const o = spec as FunctionMetric;
  if (!o || typeof o !== 'object' || typeof o.name !== 'string' || !o.name || typeof o.fn !== 'function') {
    throw new TrainError(op, `a metric must be one of ${BUILTIN_METRICS.join(', ')} or { name, fn: (pred, target) => number }, got ${fmtValue(spec)}`);
  }
  if (o.mode !== undefined && o.mode !== 'min' && o.mode !== 'max') throw new TrainError(op, `metric "${o.name}": mode must be "min" or "max", got ${fmtValue(o.mode)}`);
  return o;
}

/**
 * A fresh accumulator for a metric spec.
 * @example
 * const acc = train.metricAccumulator('accuracy');
 * for (const b of batches) acc.update(predict(b.x), b.y);
 * acc.result(); // accuracy over every row
 */
export function metricAccumulator(spec: MetricSpec, opts: ClassOptions = {}): MetricAccumulator {
  const s = checkMetricSpec('train.metricAccumulator', spec);
  switch (s) {
    case 'accuracy':
      return new AccuracyAccumulator(thresholdOf('train.metricAccumulator', opts));
    case 'mae':
      return new ErrorMeanAccumulator('mae', Math.abs);
    case 'mse':
      return new ErrorMeanAccumulator('mse', (e) => e * e);
    case 'r2':
      return new R2Accumulator();
    default:
      return new FunctionAccumulator(s as FunctionMetric);
  }
}

function thresholdOf(op: string, opts: ClassOptions): number {
  const t = opts?.threshold ?? 0.5;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new TrainError(op, `threshold must be a finite number, got ${fmtValue(t)}`);
  return t;
}

// ---- JSON numbers that may be NaN or ±Infinity ------------------------------------------------

/** A number for JSON: finite numbers as is (round-trip exact), NaN and ±Infinity as strings. */
export function encodeNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

export function decodeNumber(v: unknown, op: string, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  throw new TrainError(op, `${what} is ${fmtValue(v)}, not a number`);
}

// ---- standalone functions -------------------------------------------------------------------

/**
 * The fraction of rows whose predicted class equals the target class. Classes are read as:
 * argmax of a `[n, k]` tensor (scores, probabilities or one-hot; first maximum on ties); an int32
 * `[n]` as class indices; a float `[n]` or `[n, 1]` prediction as a binary score, class 1 above
 * `threshold` (default 0.5).
 *
 * @example
 * train.accuracy(Tensor.from([[2, 1, 0], [0, 1, 3]]), Tensor.from([0, 1], 'int32')); // 0.5
 * train.accuracy(Tensor.from([0.9, 0.2]), Tensor.from([1, 0], 'int32'));           // 1
 */
export function accuracy(pred: Tensor, target: Tensor, opts: ClassOptions = {}): number {
  const acc = new AccuracyAccumulator(thresholdOf('train.accuracy', opts));
  acc.update(pred, target);
  return acc.result();
}

/**
 * The confusion matrix as an int32 Tensor `[k, k]`: entry (i, j) counts rows of true class i
 * predicted as class j (rows are the truth, as scikit-learn). Classes are read as in
 * {@link accuracy}; `numClasses` defaults to the largest class seen + 1 (or the width of a
 * `[n, k]` input).
 *
 * @example
 * const cm = train.confusionMatrix(logits, test.y!, { numClasses: 3 });
 * console.log(train.formatConfusionMatrix(cm, test.classNames));
 */
export function confusionMatrix(pred: Tensor, target: Tensor, opts: ClassOptions & { numClasses?: number } = {}): Tensor {
  const op = 'train.confusionMatrix';
  const n = checkRows(op, pred, target);
  const threshold = thresholdOf(op, opts);
  const p = classesOf(op, pred, 'predictions', threshold);
  const t = classesOf(op, target, 'targets', threshold);
  let k = opts.numClasses;
  if (k === undefined) {
    k = Math.max(pred.rank === 2 && pred.shape[1] > 1 ? pred.shape[1] : 0, target.rank === 2 && target.shape[1] > 1 ? target.shape[1] : 0, pred.rank === 2 || isFloat(pred.dtype) ? 2 : 0);
    for (let i = 0; i < n; i++) k = Math.max(k, p[i] + 1, t[i] + 1);
  }
  if (!Number.isInteger(k) || k < 1) throw new TrainError(op, `numClasses must be a positive integer, got ${fmtValue(k)}`);
  const out = new Int32Array(k * k);
  for (let i = 0; i < n; i++) {
    if (t[i] >= k || p[i] >= k) throw new TrainError(op, `row ${i}: class ${Math.max(t[i], p[i])} is outside numClasses = ${k}`);
    out[t[i] * k + p[i]]++;
  }
  return new Tensor('int32', [k, k], out);
}

/**
 * A confusion matrix as a text table: rows are the true classes, columns the predicted ones.
 *
 * @example
 * console.log(train.formatConfusionMatrix(cm, ['setosa', 'versicolor', 'virginica']));
 * // true \ predicted  setosa  versicolor  virginica
 * // setosa                10           0          0
 * // ...
 */
export function formatConfusionMatrix(cm: Tensor, classNames?: readonly string[]): string {
  const op = 'train.formatConfusionMatrix';
  requireTensor(op, cm, 'cm');
  if (cm.rank !== 2 || cm.shape[0] !== cm.shape[1]) throw new ShapeError(`cm must be a square matrix [k, k], got ${fmtShape(cm.shape)}`, { op, shapes: [cm.shape], origin: captureOrigin() });
  const k = cm.shape[0];
  if (classNames !== undefined && (!Array.isArray(classNames) || classNames.length !== k)) throw new TrainError(op, `classNames must name all ${k} classes, got ${fmtValue(classNames)}`);
  const names = classNames ? classNames.map(String) : Array.from({ length: k }, (_, i) => String(i));
  const corner = 'true \\ predicted';
  const first = Math.max(corner.length, ...names.map((s) => s.length));
  const widths = names.map((s, j) => Math.max(s.length, ...Array.from({ length: k }, (_, i) => String(cm.data[i * k + j]).length)));
  const lines = [[corner.padEnd(first), ...names.map((s, j) => s.padStart(widths[j]))].join('  ')];
  for (let i = 0; i < k; i++) lines.push([names[i].padEnd(first), ...names.map((_, j) => String(cm.data[i * k + j]).padStart(widths[j]))].join('  '));
  return lines.join('\n');
}

/**
 * Mean absolute error over every element. `pred` and `target` have the same shape, size-1 axes
 * aside (`[n, 1]` against `[n]` is fine).
 * @example train.mae(Tensor.from([1, 2, 4]), Tensor.from([1, 3, 2])); // 1
 */
export function mae(pred: Tensor, target: Tensor): number {
  return oneShot('mae', pred, target);
}

/**
 * Mean squared error over every element.
 * @example train.mse(Tensor.from([1, 2, 4]), Tensor.from([1, 3, 2])); // 5/3
 */
export function mse(pred: Tensor, target: Tensor): number {
  return oneShot('mse', pred, target);
}

/**
 * The coefficient of determination R² = 1 − Σ(y − ŷ)²/Σ(y − ȳ)², per target column and averaged
 * over columns (scikit-learn's `uniform_average`). 1 is a perfect fit, 0 predicting the mean,
 * negative worse than that. A constant target scores 1 when predicted exactly, else 0.
 * @example train.r2(Tensor.from([2.5, 0, 2, 8]), Tensor.from([3, -0.5, 2, 7])); // ≈ 0.9486
 */
export function r2(pred: Tensor, target: Tensor): number {
  return oneShot('r2', pred, target);
}

function oneShot(name: BuiltinMetric, pred: Tensor, target: Tensor): number {
  const acc = metricAccumulator(name);
  acc.update(pred, target);
  return acc.result();
}
