import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { allocate, dataset, kFold, permutation, stratifiedKFold, trainTestSplit, trainValTestSplit, type Dataset } from './index';

/** n rows; row i has feature i and a class drawn from `classes` (cycled by `pattern`). */
function rowsWithClasses(labels: readonly number[], numClasses = Math.max(0, ...labels) + 1): Dataset {
  return dataset({ x: labels.map((_, i) => [i]), y: [...labels], numClasses });
}

const ids = (ds: Dataset) => Array.from(ds.rowIds);
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Labels with class c appearing `counts[c]` times, in class order. */
const labelsFromCounts = (counts: number[]) => counts.flatMap((m, c) => new Array<number>(m).fill(c));

describe('permutation', () => {
  it('is a seeded permutation: same seed same order, other seeds differ', () => {
    const p = permutation(50, 7);
    expect(sorted(Array.from(p))).toEqual(range(50));
    expect(Array.from(permutation(50, 7))).toEqual(Array.from(p));
    expect(Array.from(permutation(50, 8))).not.toEqual(Array.from(p));
    expect(Array.from(permutation(0, 1))).toEqual([]);
    expect(() => permutation(3, 1.5)).toThrow(/permutation: seed must be a safe integer, got 1.5/);
  });

  it('is pinned: the same numbers on every run and machine', () => {
    // xoroshiro128+ seeded by hashing (seed, purpose); a change here changes every split and shuffle
    expect(Array.from(permutation(10, 42))).toEqual([6, 4, 0, 5, 8, 3, 2, 9, 7, 1]);
  });
});

describe('trainTestSplit', () => {
  const ds = rowsWithClasses(labelsFromCounts([60, 30, 10]));

  it('sizes follow scikit-learn (test = ⌈f·n⌉) and the parts partition the rows', () => {
    const { train, test } = trainTestSplit(ds, { testSize: 0.25, seed: 1 });
    expect([train.size, test.size]).toEqual([75, 25]);
    expect(sorted([...ids(train), ...ids(test)])).toEqual(range(100));
    expect(trainTestSplit(ds, { testSize: 0.333, seed: 1 }).test.size).toBe(34);
    expect(trainTestSplit(ds, { testSize: 7, seed: 1 }).test.size).toBe(7);
    // 0.1 · 30 is 3.0000000000000004 in floating point: still 3 rows
    expect(trainTestSplit(rowsWithClasses(new Array(30).fill(0)), { testSize: 0.1 }).test.size).toBe(3);
  });

  it('keeps labels with their rows', () => {
    const { test } = trainTestSplit(ds, { seed: 5 });
    test.rowIds.forEach((r, i) => {
      expect(test.x.data[i]).toBe(r);
      expect(test.labels[i]).toBe(ds.labels[r]);
    });
  });

  it('is deterministic per seed; different seeds differ', () => {
    const a = trainTestSplit(ds, { seed: 11 });
    const b = trainTestSplit(ds, { seed: 11 });
    const c = trainTestSplit(ds, { seed: 12 });
    expect(ids(a.test)).toEqual(ids(b.test));
    expect(ids(a.train)).toEqual(ids(b.train));
    expect(ids(a.test)).not.toEqual(ids(c.test));
  });

  it('stratified: each class keeps its proportion to within one row', () => {
    const { train, test } = trainTestSplit(ds, { testSize: 0.2, seed: 3, stratify: true });
    expect(test.classCounts()).toEqual([12, 6, 2]);
    expect(train.classCounts()).toEqual([48, 24, 8]);
    // a plain split of the same data usually does not hit the proportions exactly
    const plain = [0, 1, 2, 3, 4, 5].map((seed) => trainTestSplit(ds, { testSize: 0.2, seed }).test.classCounts());
    expect(plain.some((c) => c[0] !== 12)).toBe(true);
  });

  it('without shuffle cuts the rows in order', () => {
    const { train, test } = trainTestSplit(ds, { testSize: 10, shuffle: false });
    expect(ids(train)).toEqual(range(90));
    expect(ids(test)).toEqual(range(10).map((i) => 90 + i));
  });

  it('refuses bad sizes and options with clear errors', () => {
    expect(() => trainTestSplit(ds, { testSize: 1.5 })).toThrow(/trainTestSplit: testSize must be a fraction in \(0, 1\) or a whole number of rows ≥ 1, got 1.5/);
    expect(() => trainTestSplit(ds, { testSize: 0 })).toThrow(/testSize must be a fraction/);
    expect(() => trainTestSplit(ds, { testSize: 100 })).toThrow(/the train part would be empty \(100 rows; sizes 0 \+ 100\)/);
    expect(() => trainTestSplit(ds, { testSize: 101 })).toThrow(/testSize = 101 asks for 101 rows; the data set has 100/);
    expect(() => trainTestSplit(ds, { seed: NaN })).toThrow(/seed must be a safe integer, got NaN/);
    expect(() => trainTestSplit(dataset({ x: [[1], [2]], y: [0.5, 1] }), { stratify: true })).toThrow(/stratify needs class labels; this data set has regression targets/);
    expect(() => trainTestSplit(ds, { stratify: true, shuffle: false })).toThrow(/stratify with shuffle: false is not supported/);
    expect(() => trainTestSplit({ x: [[1]] } as unknown as Dataset)).toThrow(/expects a Dataset \(build one with data.dataset\(\{ x, y \}\)\), got an object/);
  });

  test.prop([fc.integer({ min: 2, max: 300 }), fc.integer(), fc.double({ min: 0.01, max: 0.99, noNaN: true })])(
    'partitions the rows for any n, seed and test fraction',
    (n, seed, f) => {
      const d = rowsWithClasses(new Array(n).fill(0));
      const t = Math.ceil(f * n - 1e-9);
      if (t >= n) return; // train would be empty: refused (tested above)
      const { train, test: te } = trainTestSplit(d, { testSize: f, seed });
      expect(te.size).toBe(t);
      expect(sorted([...ids(train), ...ids(te)])).toEqual(range(n));
    },
  );
});

describe('trainValTestSplit', () => {
  const ds = rowsWithClasses(labelsFromCounts([50, 50, 50]));

  it('gives three disjoint parts of the asked sizes that cover every row', () => {
    const { train, val, test } = trainValTestSplit(ds, { valSize: 0.2, testSize: 0.1, seed: 9 });
    expect([train.size, val.size, test.size]).toEqual([105, 30, 15]);
    expect(sorted([...ids(train), ...ids(val), ...ids(test)])).toEqual(range(150));
  });

  it('stratified: exact proportions when they divide, within one row otherwise', () => {
    const s = trainValTestSplit(ds, { valSize: 0.2, testSize: 0.2, seed: 2, stratify: true });
    expect(s.val.classCounts()).toEqual([10, 10, 10]);
    expect(s.test.classCounts()).toEqual([10, 10, 10]);
    const odd = rowsWithClasses(labelsFromCounts([7, 13, 41]));
    const r = trainValTestSplit(odd, { valSize: 0.15, testSize: 0.15, seed: 4, stratify: true });
    for (const part of [r.train, r.val, r.test]) {
      part.classCounts().forEach((m, c) => expect(Math.abs(m - (odd.classCounts()[c] * part.size) / odd.size)).toBeLessThan(1));
    }
  });

  it('is deterministic per seed', () => {
    const a = trainValTestSplit(ds, { seed: 1, stratify: true });
    const b = trainValTestSplit(ds, { seed: 1, stratify: true });
    const c = trainValTestSplit(ds, { seed: 2, stratify: true });
    expect(ids(a.val)).toEqual(ids(b.val));
    expect(ids(a.val)).not.toEqual(ids(c.val));
  });

  it('refuses sizes that leave train empty', () => {
    expect(() => trainValTestSplit(ds, { valSize: 0.5, testSize: 0.5 })).toThrow(/the train part would be empty \(150 rows; sizes 0 \+ 75 \+ 75\)/);
  });

  test.prop([
    fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 6 }).filter((c) => c.reduce((a, b) => a + b, 0) >= 3),
    fc.integer(),
    fc.double({ min: 0.05, max: 0.4, noNaN: true }),
    fc.double({ min: 0.05, max: 0.4, noNaN: true }),
  ])('stratified parts partition the rows and each class is within one row of its share', (counts, seed, fv, ft) => {
    const d = rowsWithClasses(labelsFromCounts(counts), counts.length);
    const n = d.size;
    const v = Math.ceil(fv * n - 1e-9);
    const t = Math.ceil(ft * n - 1e-9);
    if (v + t >= n) return;
    const parts = trainValTestSplit(d, { valSize: fv, testSize: ft, seed, stratify: true });
    const all = [parts.train, parts.val, parts.test];
    expect(sorted(all.flatMap(ids))).toEqual(range(n));
    for (const p of all) p.classCounts().forEach((m, c) => expect(Math.abs(m - (counts[c] * p.size) / n)).toBeLessThan(1));
  });
});

describe('kFold', () => {
  const ds = rowsWithClasses(labelsFromCounts([23, 17, 9]));

  it('validates every row exactly once, with fold sizes as scikit-learn', () => {
    const folds = kFold(ds, { k: 5, seed: 3 });
    expect(folds.map((f) => f.val.size)).toEqual([10, 10, 10, 10, 9]);
    expect(sorted(folds.flatMap((f) => ids(f.val)))).toEqual(range(49));
    for (const f of folds) {
      expect(f.train.size + f.val.size).toBe(49);
      expect(sorted([...ids(f.train), ...ids(f.val)])).toEqual(range(49));
    }
    expect(folds.map((f) => f.fold)).toEqual([0, 1, 2, 3, 4]);
  });

  it('without shuffle gives contiguous folds', () => {
    const folds = kFold(ds, { k: 7, shuffle: false });
    expect(ids(folds[1].val)).toEqual(range(7).map((i) => 7 + i));
  });

  it('stratified folds keep the class proportions to within one row', () => {
    const folds = stratifiedKFold(ds, { k: 4, seed: 8 });
    const total = ds.classCounts();
    expect(sorted(folds.flatMap((f) => ids(f.val)))).toEqual(range(49));
    for (const f of folds) f.val.classCounts().forEach((m, c) => expect(Math.abs(m - (total[c] * f.val.size) / 49)).toBeLessThan(1));
    const iris = rowsWithClasses(labelsFromCounts([50, 50, 50]));
    expect(stratifiedKFold(iris, { k: 5 }).map((f) => f.val.classCounts())).toEqual(new Array(5).fill([10, 10, 10]));
  });

  it('is deterministic per seed; different seeds differ', () => {
    expect(kFold(ds, { seed: 1 }).map((f) => ids(f.val))).toEqual(kFold(ds, { seed: 1 }).map((f) => ids(f.val)));
    expect(kFold(ds, { seed: 1 }).map((f) => ids(f.val))).not.toEqual(kFold(ds, { seed: 2 }).map((f) => ids(f.val)));
  });

  it('refuses bad k', () => {
    expect(() => kFold(ds, { k: 1 })).toThrow(/kFold: k must be an integer ≥ 2, got 1/);
    expect(() => kFold(rowsWithClasses([0, 1]), { k: 3 })).toThrow(/k = 3 folds need at least 3 rows; the data set has 2/);
    expect(() => stratifiedKFold(dataset({ x: [[1], [2]] }), { k: 2 })).toThrow(/stratifiedKFold: stratify needs class labels; this data set has no y/);
  });

  test.prop([fc.integer({ min: 2, max: 120 }), fc.integer({ min: 2, max: 10 }), fc.integer(), fc.boolean()])(
    'every row is validated exactly once, for any n, k, seed, stratification',
    (n, k, seed, stratify) => {
      if (k > n) return;
      const d = rowsWithClasses(range(n).map((i) => (i * 7) % 3), 3);
      const folds = kFold(d, { k, seed, stratify });
      expect(sorted(folds.flatMap((f) => ids(f.val)))).toEqual(range(n));
      for (const f of folds) expect(f.val.size === Math.floor(n / k) || f.val.size === Math.ceil(n / k)).toBe(true);
    },
  );
});

describe('allocate (controlled rounding)', () => {
  test.prop([
    fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
  ])('keeps row and column totals exact, every entry the floor or ceiling of its share', (groups, weights) => {
    const n = groups.reduce((a, b) => a + b, 0);
    // part sizes summing to n, roughly proportional to weights
    const w = weights.reduce((a, b) => a + b, 0);
    const parts = weights.map((x) => Math.floor((x * n) / w));
    parts[0] += n - parts.reduce((a, b) => a + b, 0);
    const counts = allocate(groups, parts);
    counts.forEach((row, c) => expect(row.reduce((a, b) => a + b, 0)).toBe(groups[c]));
    parts.forEach((p, s) => expect(counts.reduce((a, row) => a + row[s], 0)).toBe(p));
    counts.forEach((row, c) =>
      row.forEach((m, s) => {
        const ideal = n === 0 ? 0 : (groups[c] * parts[s]) / n;
        expect(m === Math.floor(ideal) || m === Math.ceil(ideal)).toBe(true);
      }),
    );
  });
});
