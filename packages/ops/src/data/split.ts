/**
 * Seeded splits: train/test, train/val/test, k-fold, each optionally stratified by class.
 *
 * One mechanism serves all of them. Split sizes are fixed first (a fraction f of n rows gives
 * ⌈f·n⌉ rows, as scikit-learn); then each class's share of each split is its exact proportion
 * rounded up or down so that both every class total and every split total come out exact
 * ({@link allocate}); then each class's rows are shuffled and dealt out. A plain split is the
 * one-class case.
 */
import { Dataset } from './dataset';
import { checkInt, checkOptionKeys, DataError, fmtValue } from './errors';
import { checkSeed, rngFor, shuffleInPlace } from './random';

/** Options shared by the splits. */
export interface SplitOptions {
  /** PRNG seed; default 0. The same seed gives the same split on every run. */
  seed?: number;
  /** Keep each class's proportion in every part (needs class labels); default false. */
  stratify?: boolean;
  /** Shuffle before splitting; default true. `false` cuts the rows in order (not with `stratify`). */
  shuffle?: boolean;
}

export interface TrainTestOptions extends SplitOptions {
  /** A fraction in (0, 1) (rounded up to whole rows) or a row count; default 0.25. */
  testSize?: number;
}

export interface TrainValTestOptions extends SplitOptions {
  /** A fraction in (0, 1) or a row count; default 0.15. */
  valSize?: number;
  /** A fraction in (0, 1) or a row count; default 0.15. */
  testSize?: number;
}

export interface KFoldOptions extends SplitOptions {
  /** Number of folds, ≥ 2; default 5. */
  k?: number;
}

/** One fold of a k-fold split: train on `train`, validate on `val`. */
export interface Fold {
  /** 0-based fold number. */
  fold: number;
  train: Dataset;
  val: Dataset;
}

/**
 * Splits rows into a train and a test part (seeded; disjoint; together all rows). Sizes follow
 * scikit-learn: test gets ⌈testSize·n⌉ rows, train the rest. With `stratify`, every class has
 * its proportion in each part to within one row.
 *
 * @example
 * const { train, test } = data.trainTestSplit(data.loadIris(), { testSize: 0.2, seed: 42, stratify: true });
 * train.size; // 120
 * test.classCounts(); // [10, 10, 10]
 */
export function trainTestSplit(ds: Dataset, opts: TrainTestOptions = {}): { train: Dataset; test: Dataset } {
  const op = 'trainTestSplit';
  checkOptionKeys(op, opts, ['testSize', 'seed', 'stratify', 'shuffle']);
  checkDataset(op, ds);
  const test = partSize(op, 'testSize', opts.testSize ?? 0.25, ds.size);
  const [train, testRows] = splitRows(op, ds, [ds.size - test, test], ['train', 'test'], opts, 'trainTest');
  return { train: ds.take(train), test: ds.take(testRows) };
}

/**
 * Splits rows into train, validation and test parts (seeded; disjoint; together all rows).
 *
 * @example
 * const { train, val, test } = data.trainValTestSplit(data.loadIris(), { valSize: 0.2, testSize: 0.2, seed: 7, stratify: true });
 * [train.size, val.size, test.size]; // [90, 30, 30]
 */
export function trainValTestSplit(ds: Dataset, opts: TrainValTestOptions = {}): { train: Dataset; val: Dataset; test: Dataset } {
  const op = 'trainValTestSplit';
  checkOptionKeys(op, opts, ['valSize', 'testSize', 'seed', 'stratify', 'shuffle']);
  checkDataset(op, ds);
  const val = partSize(op, 'valSize', opts.valSize ?? 0.15, ds.size);
  const test = partSize(op, 'testSize', opts.testSize ?? 0.15, ds.size);
  const [train, valRows, testRows] = splitRows(op, ds, [ds.size - val - test, val, test], ['train', 'val', 'test'], opts, 'trainValTest');
  return { train: ds.take(train), val: ds.take(valRows), test: ds.take(testRows) };
}

/**
 * k-fold cross-validation: the rows are cut into k folds (the first `n mod k` folds one row
 * larger, as scikit-learn); fold i validates on part i and trains on the rest, so every row is
 * validated on exactly once. With `stratify`, each fold keeps the class proportions to within
 * one row.
 *
 * @example
 * for (const { fold, train, val } of data.kFold(data.loadIris(), { k: 5, seed: 0, stratify: true })) {
 *   // train a fresh model on train, score it on val
 * }
 */
export function kFold(ds: Dataset, opts: KFoldOptions = {}): Fold[] {
  const op = opts?.stratify ? 'stratifiedKFold' : 'kFold';
  checkOptionKeys(op, opts, ['k', 'seed', 'stratify', 'shuffle']);
  checkDataset(op, ds);
  const n = ds.size;
  const k = checkInt(op, 'k', opts.k ?? 5, 2);
  if (k > n) throw new DataError(`k = ${k} folds need at least ${k} rows; the data set has ${n}`, { op });
  const sizes = Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
  const names = sizes.map((_, i) => `fold ${i}`);
  const folds = splitRows(op, ds, sizes, names, opts, 'kFold');
  return folds.map((val, i) => {
    const train: number[] = [];
    for (let j = 0; j < k; j++) if (j !== i) for (const r of folds[j]) train.push(r);
    return { fold: i, train: ds.take(train), val: ds.take(val) };
  });
}

/**
 * {@link kFold} with `stratify: true`: each fold keeps every class's proportion to within one row.
 *
 * @example
 * const folds = data.stratifiedKFold(data.loadIris(), { k: 5, seed: 1 });
 * folds[0].val.classCounts(); // [10, 10, 10]
 */
export function stratifiedKFold(ds: Dataset, opts: Omit<KFoldOptions, 'stratify'> = {}): Fold[] {
  checkOptionKeys('stratifiedKFold', opts, ['k', 'seed', 'shuffle']);
  return kFold(ds, { ...opts, stratify: true });
}

function checkDataset(op: string, ds: unknown): asserts ds is Dataset {
  if (!(ds instanceof Dataset)) throw new DataError(`expects a Dataset (build one with data.dataset({ x, y })), got ${fmtValue(ds)}`, { op });
}

/** A fraction in (0, 1) → ⌈f·n⌉ rows; an integer ≥ 1 → that many rows. */
function partSize(op: string, name: string, v: unknown, n: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (v >= 1 && !Number.isInteger(v))) {
    throw new DataError(`${name} must be a fraction in (0, 1) or a whole number of rows ≥ 1, got ${fmtValue(v)}`, { op });
  }
  // the tolerance keeps 0.1 · 30 = 3.0000000000000004 from becoming 4 rows
  const rows = v < 1 ? Math.ceil(v * n - 1e-9) : v;
  if (rows > n) throw new DataError(`${name} = ${v} asks for ${rows} rows; the data set has ${n}`, { op });
  return rows;
}

/**
 * Positions of the rows of each part, for parts of the given sizes. Parts come out in shuffled
 * order (unless `shuffle: false`), with the classes interleaved.
 */
function splitRows(op: string, ds: Dataset, sizes: number[], names: string[], opts: SplitOptions, purpose: string): Int32Array[] {
  const seed = checkSeed(op, opts.seed ?? 0);
  const shuffle = opts.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new DataError(`shuffle must be a boolean, got ${fmtValue(shuffle)}`, { op });
  sizes.forEach((s, i) => {
    if (s < 1) throw new DataError(`the ${names[i]} part would be empty (${ds.size} rows; sizes ${sizes.join(' + ')}); make the other parts smaller`, { op });
  });
  const rng = rngFor(seed, purpose);

  // group rows by class (one group for a plain split)
  let groups: number[][];
  if (opts.stratify) {
    if (!ds.isClassification) throw new DataError(`stratify needs class labels; ${ds.y ? 'this data set has regression targets' : 'this data set has no y'}`, { op });
    groups = Array.from({ length: ds.numClasses }, () => []);
    ds.labels.forEach((c, i) => groups[c].push(i));
    if (!shuffle) throw new DataError(`stratify with shuffle: false is not supported: a stratified split draws each class's rows at random`, { op });
  } else {
    groups = [Array.from({ length: ds.size }, (_, i) => i)];
  }
  const counts = allocate(
    groups.map((g) => g.length),
    sizes,
  );
  const parts: number[][] = sizes.map(() => []);
  groups.forEach((rows, c) => {
    if (shuffle) shuffleInPlace(rows, rng);
    let at = 0;
    counts[c].forEach((m, s) => {
      for (let i = 0; i < m; i++) parts[s].push(rows[at++]);
    });
  });
  return parts.map((p) => {
    const a = Int32Array.from(p);
    if (shuffle && groups.length > 1) shuffleInPlace(a, rng); // interleave the classes
    return a;
  });
}

/**
 * Rounds the table `ideal[c][s] = groupSizes[c] · partSizes[s] / n` to integers keeping every row
 * total (a class's size) and every column total (a part's size) exact, each entry its floor or
 * its ceiling — "controlled rounding".
 *
 * Floors first; the leftover units then form a 0/1 table with integer margins r (per class) and
 * q (per part), allowed only where the ideal has a fractional part. The fractional parts are a
 * point of that transportation polytope, whose vertices are integral, so such a table exists;
 * a max flow (source → class, cap r_c; class → part, cap 1 where fractional; part → sink, cap q_s)
 * finds one.
 *
 * @example
 * data.allocate([60, 30, 10], [80, 20]); // [[48, 12], [24, 6], [8, 2]]
 * data.allocate([7, 13], [5, 5, 10]);    // [[2, 2, 3], [3, 3, 7]]: ideal 1.75, 1.75, 3.5 / 3.25, 3.25, 6.5
 */
export function allocate(groupSizes: readonly number[], partSizes: readonly number[]): number[][] {
  const n = groupSizes.reduce((a, b) => a + b, 0);
  if (partSizes.reduce((a, b) => a + b, 0) !== n) throw new DataError(`part sizes ${partSizes.join(' + ')} do not add up to ${n} rows`, { op: 'allocate' });
  const C = groupSizes.length;
  const S = partSizes.length;
  const counts = groupSizes.map((g) => partSizes.map((p) => (n === 0 ? 0 : Math.floor((g * p) / n))));
  // exact integer test for a fractional part (g·p < 2^53 for any realistic data set)
  const fractional = groupSizes.map((g) => partSizes.map((p) => n > 0 && (g * p) % n !== 0));
  const r = groupSizes.map((g, c) => g - counts[c].reduce((a, b) => a + b, 0));
  const q = partSizes.map((p, s) => p - counts.reduce((a, row) => a + row[s], 0));

  // Ford–Fulkerson with BFS on the bipartite graph; capacities are small integers.
  const used = groupSizes.map(() => new Array<boolean>(S).fill(false)); // flow on class → part
  const rLeft = [...r];
  const qLeft = [...q];
  for (;;) {
    // BFS from the source over residual edges; nodes are classes 0..C-1 and parts C..C+S-1
    const prev = new Int32Array(C + S).fill(-2);
    const queue: number[] = [];
    for (let c = 0; c < C; c++) {
      if (rLeft[c] > 0) {
        prev[c] = -1;
        queue.push(c);
      }
    }
    let end = -1;
    while (queue.length && end < 0) {
      const u = queue.shift()!;
      if (u < C) {
        for (let s = 0; s < S; s++) {
          if (fractional[u][s] && !used[u][s] && prev[C + s] === -2) {
            prev[C + s] = u;
            if (qLeft[s] > 0) {
              end = C + s;
              break;
            }
            queue.push(C + s);
          }
        }
      } else {
        const s = u - C;
        for (let c = 0; c < C; c++) {
          if (used[c][s] && prev[c] === -2) {
            prev[c] = u;
            queue.push(c);
          }
        }
      }
    }
    if (end < 0) break;
    // augment along the path: part ← class ← part ← ... ← class ← source
    qLeft[end - C]--;
    let v = end;
    for (;;) {
      const c = prev[v];
      used[c][v - C] = true;
      const back = prev[c];
      if (back === -1) {
        rLeft[c]--;
        break;
      }
      used[c][back - C] = false;
      v = back;
    }
  }
  if (rLeft.some((x) => x !== 0) || qLeft.some((x) => x !== 0)) {
    // unreachable by the polytope argument above; kept as a loud guard
    throw new DataError(`internal: could not round class shares ${groupSizes.join(',')} into parts ${partSizes.join(',')}`, { op: 'allocate' });
  }
  for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) if (used[c][s]) counts[c][s]++;
  return counts;
}
