/**
 * The data set representation every data function uses: features `x` as a Tensor `[n, d]`,
 * optional labels or targets `y`, names for the features and classes, and the original row
 * number of every row (`rowIds`) so a split, a shuffle or a dropped row can always be traced back
 * to the source.
 */
import { allocArray, isFloat, Tensor, type DType, type TypedArray } from '@gradgraph/core';
import { DataError, fmtValue, checkOptionKeys } from './errors';

/** Float dtypes a data set's features may have. */
export type FloatDType = 'float32' | 'float64';

/** Features: a Tensor `[n, d]`, or rows of numbers (`null`/`undefined` mark a missing value, which is an error). */
export type Features = Tensor | readonly (readonly (number | null | undefined)[])[];

/**
 * Labels or targets, one per row:
 * - class labels: strings (mapped through `classNames`), integer class indices, or an int32 Tensor `[n]`;
 * - regression targets: numbers, rows of numbers (`[n, k]`), or a float Tensor `[n]` / `[n, k]`.
 */
export type Labels = Tensor | readonly (number | string | null | undefined)[] | readonly (readonly (number | null | undefined)[])[];

/** What {@link dataset} takes. */
export interface DatasetInit {
  x: Features;
  y?: Labels;
  /** One name per feature column; default `x0, x1, ...`. */
  featureNames?: readonly string[];
  /**
   * The classes, in index order. Giving them (or `numClasses`) makes `y` class labels: strings are
   * looked up by name, numbers must be indices in `[0, classNames.length)`.
   */
  classNames?: readonly string[];
  /** Makes numeric `y` class indices in `[0, numClasses)`, named `"0"`, `"1"`, .... */
  numClasses?: number;
  /** Names of the regression target columns; default `y` (or `y0, y1, ...`). */
  targetNames?: readonly string[];
  /** The label column's name, used in errors; default `"y"`. */
  labelName?: string;
  /** A name for messages and summaries. */
  name?: string;
  /** Notes on how the data was prepared (e.g. which rows were dropped and why). */
  notes?: readonly string[];
  /** The original row number of each row; default `0..n-1`. */
  rowIds?: ArrayLike<number>;
  /** Feature dtype; default the Tensor's float dtype, else `float32`. */
  dtype?: FloatDType;
}

interface Parts {
  x: Tensor;
  y: Tensor | undefined;
  featureNames: readonly string[];
  classNames: readonly string[] | undefined;
  targetNames: readonly string[] | undefined;
  labelName: string;
  name: string;
  notes: readonly string[];
  rowIds: Int32Array;
}

/**
 * A data set: features `x` `[n, d]` (float32 or float64), labels `y` (int32 `[n]` class indices
 * when `classNames` is set; float `[n]` or `[n, k]` targets for regression; absent for unlabeled
 * data), feature and class names, and `rowIds`, the original row number of each row.
 *
 * Datasets are values: `take`, `select` and the preprocessing functions return new ones. Build
 * one with {@link dataset} (which validates everything) or a loader.
 *
 * @example
 * const ds = data.dataset({ x: [[5.1, 3.5], [6.2, 2.9]], y: ['setosa', 'versicolor'], featureNames: ['sepal_length', 'sepal_width'] });
 * ds.size;        // 2
 * ds.classNames;  // ['setosa', 'versicolor']
 * ds.y.toArray(); // [0, 1]
 */
export class Dataset {
  readonly x!: Tensor;
  readonly y?: Tensor;
  readonly featureNames!: readonly string[];
  /** Set for classification data: the class of label `i` is `classNames[i]`. */
  readonly classNames?: readonly string[];
  /** Set for regression data: one name per target column. */
  readonly targetNames?: readonly string[];
  /** The label column's name, for errors. */
  readonly labelName!: string;
  readonly name!: string;
  readonly notes!: readonly string[];
  /** Original row number of each row (before splits, shuffles and dropped rows). */
  readonly rowIds!: Int32Array;

  /** Validates `init` like {@link dataset}. */
  constructor(init: DatasetInit) {
    Object.assign(this, validate(init, 'dataset'));
    Object.freeze(this);
  }

  /** Builds from parts that are already valid (no copies, no checks). */
  static fromParts(parts: Parts): Dataset {
    const ds = Object.create(Dataset.prototype) as Dataset;
    Object.assign(ds, parts);
    return Object.freeze(ds) as Dataset;
  }

  /**
   * Number of rows.
   * @example data.loadIris().size; // 150
   */
  get size(): number {
    return this.x.shape[0];
  }

  /** Number of feature columns. */
  get numFeatures(): number {
    return this.x.shape[1];
  }

  /** True when `y` holds class labels. */
  get isClassification(): boolean {
    return this.classNames !== undefined;
  }

  /** Number of classes (0 for regression or unlabeled data). */
  get numClasses(): number {
    return this.classNames?.length ?? 0;
  }

  /**
   * The class index of every row.
   * @example data.loadIris().labels[0]; // 0 (setosa)
   */
  get labels(): Int32Array {
    if (!this.classNames || !this.y) {
      throw new DataError(`${this.describeName()} has no class labels (${this.y ? 'its y holds regression targets' : 'it has no y'})`, { op: 'Dataset.labels' });
    }
    return this.y.data as Int32Array;
  }

  /**
   * How many rows each class has, in class order.
   * @example data.loadIris().classCounts(); // [50, 50, 50]
   */
  classCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (const c of this.labels) counts[c]++;
    return counts;
  }

  /**
   * The rows at positions `rows` (in that order; repeats allowed), as a new Dataset.
   * @example const firstTen = ds.take([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
   */
  take(rows: ArrayLike<number>): Dataset {
    const idx = checkRows('Dataset.take', rows, this.size);
    const rowIds = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) rowIds[i] = this.rowIds[idx[i]];
    return Dataset.fromParts({ ...this.parts(), x: takeRows(this.x, idx), y: this.y && takeRows(this.y, idx), rowIds });
  }

  /**
   * Only the feature columns named (or numbered) in `columns`, in that order.
   * @example data.loadCars().select(['Horsepower', 'Weight_in_lbs']);
   */
  select(columns: readonly (string | number)[]): Dataset {
    const d = this.numFeatures;
    const cols = columns.map((c) => {
      const j = typeof c === 'number' ? c : this.featureNames.indexOf(c);
      if (!Number.isInteger(j) || j < 0 || j >= d) {
        throw new DataError(`no feature column ${fmtValue(c)}; the columns are ${this.featureNames.join(', ')}`, { op: 'Dataset.select' });
      }
      return j;
    });
    const n = this.size;
    const out = allocArray(this.x.dtype, n * cols.length);
    for (let i = 0; i < n; i++) for (let k = 0; k < cols.length; k++) out[i * cols.length + k] = this.x.data[i * d + cols[k]];
    const x = new Tensor(this.x.dtype, [n, cols.length], out);
    return Dataset.fromParts({ ...this.parts(), x, featureNames: cols.map((j) => this.featureNames[j]) });
  }

  /**
   * The same rows and labels with new features (same number of rows), e.g. after scaling.
   * @example const doubled = ds.withFeatures(Tensor.from(ds.x.toArray().map((r: number[]) => r.map((v) => 2 * v))));
   */
  withFeatures(x: Tensor, featureNames?: readonly string[]): Dataset {
    const names = featureNames ?? (x.shape[1] === this.numFeatures ? this.featureNames : undefined);
    const fx = checkFeatureTensor(x, 'Dataset.withFeatures', names, undefined);
    if (fx.shape[0] !== this.size) {
      throw new DataError(`the new features have ${fx.shape[0]} rows; the data set has ${this.size}`, { op: 'Dataset.withFeatures' });
    }
    return Dataset.fromParts({ ...this.parts(), x: fx, featureNames: names ?? defaultNames('x', fx.shape[1]) });
  }

  /**
   * The same data with a note appended (e.g. what a transform did).
   * @example ds.withNote('outliers above 3σ removed by hand').notes;
   */
  withNote(note: string): Dataset {
    return Dataset.fromParts({ ...this.parts(), notes: [...this.notes, note] });
  }

  /**
   * A one-line summary: name, rows, features, classes or targets.
   * @example String(data.loadIris()); // 'Dataset("iris": 150 rows × 4 features float32, 3 classes)'
   */
  toString(): string {
    const what = this.classNames ? `${this.numClasses} classes` : this.targetNames ? `targets ${this.targetNames.join(', ')}` : 'no labels';
    return `Dataset(${this.describeName()}: ${this.size} rows × ${this.numFeatures} features ${this.x.dtype}, ${what})`;
  }

  private describeName(): string {
    return this.name ? `"${this.name}"` : 'data set';
  }

  private parts(): Parts {
    return {
      x: this.x,
      y: this.y,
      featureNames: this.featureNames,
      classNames: this.classNames,
      targetNames: this.targetNames,
      labelName: this.labelName,
      name: this.name,
      notes: this.notes,
      rowIds: this.rowIds,
    };
  }
}

/**
 * Builds a validated {@link Dataset}. Bad data is refused with a {@link DataError} naming the row
 * and column: a ragged row, a missing value (`null`/`undefined`), a NaN or infinite value, a label
 * that is not one of the classes.
 *
 * Labels are class labels when they are strings, an int32 Tensor, or when `classNames` or
 * `numClasses` is given; otherwise numeric `y` is a regression target.
 *
 * @example
 * const ds = data.dataset({
 *   x: [[0, 1], [1, 0], [1, 1]],
 *   y: ['no', 'yes', 'yes'],          // classNames inferred, sorted: ['no', 'yes']
 *   featureNames: ['a', 'b'],
 * });
 * ds.labels; // Int32Array [0, 1, 1]
 */
export function dataset(init: DatasetInit): Dataset {
  return Dataset.fromParts(validate(init, 'dataset'));
}

function validate(init: DatasetInit, op: string): Parts {
  if (init === null || typeof init !== 'object' || !('x' in init)) {
    throw new DataError(`expects an object { x, y?, featureNames?, classNames?, ... }, got ${fmtValue(init)}`, { op });
  }
  checkOptionKeys(op, init, ['x', 'y', 'featureNames', 'classNames', 'numClasses', 'targetNames', 'labelName', 'name', 'notes', 'rowIds', 'dtype']);
  if (init.dtype !== undefined && init.dtype !== 'float32' && init.dtype !== 'float64') {
    throw new DataError(`dtype must be 'float32' or 'float64', got ${fmtValue(init.dtype)}`, { op });
  }
  const featureNames = init.featureNames ? [...init.featureNames] : undefined;
  const x = init.x instanceof Tensor ? checkFeatureTensor(init.x, op, featureNames, init.dtype) : featuresFromRows(init.x, op, featureNames, init.dtype ?? 'float32');
  const n = x.shape[0];
  const names = featureNames ?? defaultNames('x', x.shape[1]);
  const labelName = init.labelName ?? 'y';

  let y: Tensor | undefined;
  let classNames: string[] | undefined;
  let targetNames: string[] | undefined;
  if (init.y !== undefined) {
    const len = init.y instanceof Tensor ? (init.y.shape[0] ?? 1) : init.y.length;
    if (init.y instanceof Tensor && init.y.rank === 0) {
      throw new DataError(`y must have one entry per row, got a scalar`, { op, column: labelName });
    }
    if (len !== n) throw new DataError(`x has ${n} rows but y has ${len}`, { op, column: labelName });
    if (isClassLabels(init)) {
      ({ labels: y, classNames } = classLabels(init.y, op, labelName, init.classNames, init.numClasses));
    } else {
      y = regressionTargets(init.y, op, labelName, x.dtype as FloatDType);
      const k = y.rank === 1 ? 1 : y.shape[1];
      targetNames = init.targetNames ? [...init.targetNames] : k === 1 ? [labelName] : defaultNames(labelName, k);
      if (targetNames.length !== k) throw new DataError(`targetNames has ${targetNames.length} names for ${k} target columns`, { op });
    }
  } else if (init.classNames || init.numClasses !== undefined) {
    throw new DataError(`classNames/numClasses given but no y`, { op });
  }

  let rowIds: Int32Array;
  if (init.rowIds) {
    rowIds = Int32Array.from(init.rowIds);
    if (rowIds.length !== n) throw new DataError(`rowIds has ${rowIds.length} entries for ${n} rows`, { op });
  } else {
    rowIds = new Int32Array(n);
    for (let i = 0; i < n; i++) rowIds[i] = i;
  }
  return {
    x,
    y,
    featureNames: Object.freeze(names),
    classNames: classNames && Object.freeze(classNames),
    targetNames: targetNames && Object.freeze(targetNames),
    labelName,
    name: init.name ?? '',
    notes: Object.freeze([...(init.notes ?? [])]),
    rowIds,
  };
}

function isClassLabels(init: DatasetInit): boolean {
  const y = init.y!;
  if (init.classNames || init.numClasses !== undefined) return true;
  if (y instanceof Tensor) return y.dtype === 'int32';
  return y.some((v) => typeof v === 'string');
}

/** `base0, base1, ...` */
export function defaultNames(base: string, k: number): string[] {
  return Array.from({ length: k }, (_, j) => `${base}${j}`);
}

/** The problem with one value, or undefined when it is a finite number. */
function badValue(v: unknown): string | undefined {
  if (v === null || v === undefined) return 'missing value';
  if (typeof v !== 'number') return `value ${fmtValue(v)} is not a number`;
  if (Number.isNaN(v)) return 'value is NaN';
  if (!Number.isFinite(v)) return `value is ${v}`;
  return undefined;
}

function featuresFromRows(rows: Features, op: string, names: string[] | undefined, dtype: FloatDType): Tensor {
  if (!Array.isArray(rows)) throw new DataError(`x must be a Tensor [n, d] or an array of rows, got ${fmtValue(rows)}`, { op });
  const n = rows.length;
  const first = rows[0];
  const d = names ? names.length : n > 0 && Array.isArray(first) ? first.length : 0;
  const colName = (j: number) => (names ? names[j] : `x${j}`);
  const out = allocArray(dtype, n * d);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    if (!Array.isArray(row)) throw new DataError(`is ${fmtValue(row)}, not an array of ${d} values`, { op, row: i });
    if (row.length !== d) {
      const got = `${row.length} value${row.length === 1 ? '' : 's'}, expected ${d}${names ? ` (one per feature name)` : ' (as row 0)'}`;
      if (row.length < d) throw new DataError(`ragged row: ${got}; this column and the ones after it are missing`, { op, row: i, column: colName(row.length) });
      throw new DataError(`ragged row: ${got}; ${row.length - d} extra after column ${JSON.stringify(colName(d - 1))}`, { op, row: i });
    }
    for (let j = 0; j < d; j++) {
      const problem = badValue(row[j]) ?? tooLarge(row[j] as number, dtype);
      if (problem) throw new DataError(problem, { op, row: i, column: colName(j) });
      out[i * d + j] = row[j] as number;
    }
  }
  return new Tensor(dtype, [n, d], out);
}

/** Checks a feature tensor: rank 2, names fit, finite values; converts to a float dtype. */
function checkFeatureTensor(x: Tensor, op: string, names: readonly string[] | undefined, dtype: FloatDType | undefined): Tensor {
  if (x.rank !== 2) throw new DataError(`x must be a Tensor [n, d], got shape [${x.shape.join(', ')}]`, { op });
  const d = x.shape[1];
  if (names && names.length !== d) throw new DataError(`featureNames has ${names.length} names for ${d} feature columns`, { op });
  const target: FloatDType = dtype ?? (isFloat(x.dtype) ? (x.dtype as FloatDType) : 'float32');
  const data = x.data;
  for (let k = 0; k < data.length; k++) {
    const problem = badValue(data[k]) ?? tooLarge(data[k], target);
    if (problem) {
      const j = k % d;
      throw new DataError(problem, { op, row: (k - j) / d, column: names ? names[j] : `x${j}` });
    }
  }
  return x.dtype === target ? x : x.astype(target);
}

function classLabels(
  y: Labels,
  op: string,
  column: string,
  classNamesIn: readonly string[] | undefined,
  numClasses: number | undefined,
): { labels: Tensor; classNames: string[] } {
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) {
    throw new DataError(`numClasses must be a positive integer, got ${fmtValue(numClasses)}`, { op });
  }
  if (classNamesIn && numClasses !== undefined && classNamesIn.length !== numClasses) {
    throw new DataError(`classNames has ${classNamesIn.length} names but numClasses is ${numClasses}`, { op });
  }
  if (classNamesIn && new Set(classNamesIn).size !== classNamesIn.length) {
    throw new DataError(`classNames has duplicates: ${classNamesIn.join(', ')}`, { op });
  }
  if (y instanceof Tensor && y.rank !== 1) {
    throw new DataError(`class labels must be a Tensor [n], got shape [${y.shape.join(', ')}] (one-hot labels: use data.fromOneHot first)`, { op, column });
  }
  const values: ArrayLike<unknown> = y instanceof Tensor ? y.data : y;
  const n = values.length;
  let classNames: string[];
  if (classNamesIn) classNames = [...classNamesIn];
  else if (numClasses !== undefined) classNames = defaultNames('', numClasses);
  else {
    const strings = new Set<string>();
    let maxIndex = -1;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === 'string') strings.add(v);
      else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) maxIndex = Math.max(maxIndex, v);
    }
    // strings: sorted distinct values, as scikit-learn's LabelEncoder; indices: 0..max
    classNames = strings.size > 0 ? [...strings].sort() : defaultNames('', maxIndex + 1);
  }
  const k = classNames.length;
  const index = new Map(classNames.map((c, i) => [c, i]));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === 'string') {
      const c = index.get(v);
      if (c === undefined) throw new DataError(`label ${JSON.stringify(v)} is not one of the classes ${classNames.join(', ')}`, { op, row: i, column });
      out[i] = c;
    } else {
      const problem = badValue(v);
      if (problem) throw new DataError(problem, { op, row: i, column });
      const c = v as number;
      if (!Number.isInteger(c) || c < 0 || c >= k) {
        throw new DataError(`label ${c} is outside the classes: expected an integer in [0, ${k}) (${classNames.join(', ')})`, { op, row: i, column });
      }
      out[i] = c;
    }
  }
  return { labels: new Tensor('int32', [n], out), classNames };
}

function regressionTargets(y: Labels, op: string, column: string, dtype: FloatDType): Tensor {
  if (y instanceof Tensor) {
    if (y.rank > 2) throw new DataError(`regression targets must be a Tensor [n] or [n, k], got shape [${y.shape.join(', ')}]`, { op, column });
    const k = y.rank === 2 ? y.shape[1] : 1;
    for (let m = 0; m < y.data.length; m++) {
      const problem = badValue(y.data[m]) ?? tooLarge(y.data[m], dtype);
      if (problem) throw new DataError(problem, { op, row: Math.floor(m / k), column: k === 1 ? column : `${column}${m % k}` });
    }
    return y.dtype === dtype ? y : y.astype(dtype);
  }
  const n = y.length;
  if (n > 0 && Array.isArray(y[0])) {
    const rows = y as readonly (readonly (number | null | undefined)[])[];
    const t = featuresFromRows(rows, op, defaultNames(column, (rows[0] as unknown[]).length), dtype);
    return t;
  }
  const out = allocArray(dtype, n) as TypedArray;
  for (let i = 0; i < n; i++) {
    const v = (y as readonly unknown[])[i];
    if (Array.isArray(v)) throw new DataError(`ragged targets: row 0 is a number but this row is an array`, { op, row: i, column });
    const problem = badValue(v) ?? tooLarge(v as number, dtype);
    if (problem) throw new DataError(problem, { op, row: i, column });
    out[i] = v as number;
  }
  return new Tensor(dtype as DType, [n], out);
}

/**
 * A finite number float32 cannot hold (|v| past 3.4028235e38 rounds to ±Infinity): the problem,
 * or null. Silently storing −1e39 as −Infinity would poison training without a word.
 */
export function tooLarge(v: number, dtype: FloatDType): string | null {
  if (dtype !== 'float32' || Number.isFinite(Math.fround(v))) return null;
  return `value ${v} is outside float32's range (magnitudes up to 3.4028235e38; it would become ${v > 0 ? '' : '-'}Infinity): pass dtype: 'float64' to keep it`;
}

/** Validates row positions against a size; returns them as an Int32Array. */
export function checkRows(op: string, rows: ArrayLike<number>, n: number): Int32Array {
  const idx = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new DataError(`row index ${fmtValue(r)} (entry ${i}) is outside [0, ${n})`, { op });
    idx[i] = r;
  }
  return idx;
}

/** Rows `idx` of a tensor along its first axis (any rank ≥ 1), copied. */
export function takeRows(t: Tensor, idx: ArrayLike<number>): Tensor {
  const n = t.shape[0];
  const rowSize = n === 0 ? 0 : t.size / n;
  const out = allocArray(t.dtype, idx.length * rowSize);
  if (rowSize === 1) for (let i = 0; i < idx.length; i++) out[i] = t.data[idx[i]];
  else for (let i = 0; i < idx.length; i++) out.set(t.data.subarray(idx[i] * rowSize, (idx[i] + 1) * rowSize), i * rowSize);
  return new Tensor(t.dtype, [idx.length, ...t.shape.slice(1)], out);
}
