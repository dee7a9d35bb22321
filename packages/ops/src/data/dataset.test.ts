import { GradgraphError, Tensor } from '@gradgraph/core';
import { describe, expect, it } from 'vitest';
import { DataError, Dataset, dataset } from './index';

function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

describe('dataset', () => {
  it('builds from rows with string labels (classes sorted, as LabelEncoder)', () => {
    const ds = dataset({ x: [[1, 2], [3, 4], [5, 6]], y: ['b', 'a', 'b'], featureNames: ['p', 'q'] });
    expect(ds).toBeInstanceOf(Dataset);
    expect(ds.x.shape).toEqual([3, 2]);
    expect(ds.x.dtype).toBe('float32');
    expect(ds.classNames).toEqual(['a', 'b']);
    expect(ds.y!.dtype).toBe('int32');
    expect(Array.from(ds.labels)).toEqual([1, 0, 1]);
    expect(ds.classCounts()).toEqual([1, 2]);
    expect(ds.numClasses).toBe(2);
    expect(ds.isClassification).toBe(true);
    expect(Array.from(ds.rowIds)).toEqual([0, 1, 2]);
    expect(String(ds)).toBe('Dataset(data set: 3 rows × 2 features float32, 2 classes)');
  });

  it('maps string labels through given classNames and numeric ones as indices', () => {
    const a = dataset({ x: [[0], [1]], y: ['yes', 'no'], classNames: ['no', 'yes'] });
    expect(Array.from(a.labels)).toEqual([1, 0]);
    const b = dataset({ x: [[0], [1], [2]], y: [2, 0, 1], numClasses: 3 });
    expect(b.classNames).toEqual(['0', '1', '2']);
    const c = dataset({ x: Tensor.from([[0], [1]]), y: Tensor.from([1, 0], 'int32') });
    expect(c.classNames).toEqual(['0', '1']);
  });

  it('treats numeric y without classes as regression targets in the features dtype', () => {
    const ds = dataset({ x: [[0], [1]], y: [0.5, 1.5], dtype: 'float64' });
    expect(ds.isClassification).toBe(false);
    expect(ds.y!.dtype).toBe('float64');
    expect(ds.targetNames).toEqual(['y']);
    const multi = dataset({ x: [[0], [1]], y: [[1, 2], [3, 4]] });
    expect(multi.y!.shape).toEqual([2, 2]);
    expect(multi.targetNames).toEqual(['y0', 'y1']);
    expect(() => multi.labels).toThrow(/has no class labels \(its y holds regression targets\)/);
  });

  it('take keeps labels, names and original row ids; select picks columns', () => {
    const ds = dataset({ x: [[1, 10], [2, 20], [3, 30]], y: ['a', 'b', 'c'], featureNames: ['u', 'v'] });
    const t = ds.take([2, 0]);
    expect(t.x.toArray()).toEqual([[3, 30], [1, 10]]);
    expect(Array.from(t.labels)).toEqual([2, 0]);
    expect(Array.from(t.take([1]).rowIds)).toEqual([0]);
    expect(t.classNames).toEqual(['a', 'b', 'c']);
    const s = ds.select(['v']);
    expect(s.featureNames).toEqual(['v']);
    expect(s.x.toArray()).toEqual([[10], [20], [30]]);
    expect(() => ds.take([3])).toThrow(/row index 3 \(entry 0\) is outside \[0, 3\)/);
    expect(() => ds.select(['w'])).toThrow(/no feature column "w"; the columns are u, v/);
  });

  it('is immutable', () => {
    const ds = dataset({ x: [[1]] });
    expect(Object.isFrozen(ds)).toBe(true);
    expect(Object.isFrozen(ds.take([0]))).toBe(true);
  });

  describe('bad data names the row and the column', () => {
    it('ragged rows', () => {
      const short = dataError(() => dataset({ x: [[1, 2, 3], [4, 5]], featureNames: ['a', 'b', 'c'] }));
      expect(short.message).toMatch(/^dataset: row 1, column "c": ragged row: 2 values, expected 3 \(one per feature name\); this column and the ones after it are missing/);
      expect(short.row).toBe(1);
      expect(short.column).toBe('c');
      const long = dataError(() => dataset({ x: [[1], [2, 3]] }));
      expect(long.message).toMatch(/row 1: ragged row: 2 values, expected 1 \(as row 0\); 1 extra after column "x0"/);
    });

    it('NaN, infinite, missing and non-numeric values', () => {
      expect(dataError(() => dataset({ x: [[1, 2], [3, NaN]], featureNames: ['a', 'b'] })).message).toMatch(/row 1, column "b": value is NaN/);
      expect(dataError(() => dataset({ x: [[Infinity]] })).message).toMatch(/row 0, column "x0": value is Infinity/);
      expect(dataError(() => dataset({ x: [[1, null]] })).message).toMatch(/row 0, column "x1": missing value/);
      expect(dataError(() => dataset({ x: [[1], ['2' as unknown as number]] })).message).toMatch(/row 1, column "x0": value "2" is not a number/);
      const t = Tensor.from([[1, 2], [3, 4], [5, 6]]);
      t.data[5] = NaN;
      const e = dataError(() => dataset({ x: t, featureNames: ['a', 'b'] }));
      expect([e.row, e.column]).toEqual([2, 'b']);
      expect(dataError(() => dataset({ x: [[1], [2]], y: [1, NaN] })).message).toMatch(/row 1, column "y": value is NaN/);
      expect(dataError(() => dataset({ x: [[1], [2]], y: ['a', null], labelName: 'kind' })).message).toMatch(/row 1, column "kind": missing value/);
    });

    it('labels outside the classes', () => {
      const e = dataError(() => dataset({ x: [[1], [2], [3]], y: ['setosa', 'virginica', 'rose'], classNames: ['setosa', 'virginica'], labelName: 'species' }));
      expect(e.message).toMatch(/row 2, column "species": label "rose" is not one of the classes setosa, virginica/);
      expect(dataError(() => dataset({ x: [[1], [2]], y: [0, 3], numClasses: 3 })).message).toMatch(/row 1, column "y": label 3 is outside the classes: expected an integer in \[0, 3\)/);
      expect(dataError(() => dataset({ x: [[1]], y: [0.5], numClasses: 2 })).message).toMatch(/label 0.5 is outside the classes/);
      expect(dataError(() => dataset({ x: [[1]], y: Tensor.from([-1], 'int32') })).message).toMatch(/row 0, column "y": label -1 is outside/);
    });

    it('shape and option problems', () => {
      expect(() => dataset({ x: [[1], [2]], y: [1] })).toThrow(/x has 2 rows but y has 1/);
      expect(() => dataset({ x: Tensor.from([1, 2]) })).toThrow(/x must be a Tensor \[n, d\], got shape \[2\]/);
      expect(() => dataset({ x: [[1, 2]], featureNames: ['a'] })).toThrow(/ragged row: 2 values, expected 1/);
      expect(() => dataset({ x: Tensor.from([[1, 2]]), featureNames: ['a'] })).toThrow(/featureNames has 1 names for 2 feature columns/);
      expect(() => dataset({ x: [[1]], y: ['a'], classNames: ['a', 'a'] })).toThrow(/classNames has duplicates/);
      expect(() => dataset({ x: [[1]], y: Tensor.from([[0, 1]], 'int32') })).toThrow(/class labels must be a Tensor \[n\].*fromOneHot/);
      expect(() => dataset({ x: [[1]], dtype: 'int32' as 'float32' })).toThrow(/dtype must be 'float32' or 'float64'/);
    });

    it('is a GradgraphError carrying the caller’s line', () => {
      const e = dataError(() => dataset({ x: [[NaN]] }));
      expect(e).toBeInstanceOf(GradgraphError);
      expect(e.name).toBe('DataError');
      expect(e.op).toBe('dataset');
      expect(e.origin).toMatch(/dataset\.test\.ts:\d+:\d+$/);
    });
  });
});

describe('unknown options', () => {
  it('every data function refuses one by name (a typo such as testsize would otherwise be ignored)', async () => {
    const d = await import('./index');
    const ds = d.dataset({ x: [[1], [2], [3], [4]], y: [0, 1, 0, 1], numClasses: 2 });
    const cases: [string, () => unknown][] = [
      ['dataset', () => d.dataset({ x: [[1]], labels: [0] } as never)],
      ['trainTestSplit', () => d.trainTestSplit(ds, { testsize: 0.5 } as never)],
      ['trainValTestSplit', () => d.trainValTestSplit(ds, { valsize: 1 } as never)],
      ['kFold', () => d.kFold(ds, { folds: 2 } as never)],
      ['stratifiedKFold', () => d.stratifiedKFold(ds, { stratify: false } as never)],
      ['fitStandardize', () => d.fitStandardize(ds, { column: ['x0'] } as never)],
      ['fitMinMax', () => d.fitMinMax(ds, { clamp: true } as never)],
      ['standardize', () => d.standardize({ train: ds }, { range: [0, 1] } as never)],
      ['minMaxScale', () => d.minMaxScale({ train: ds }, { ranges: [0, 1] } as never)],
      ['oneHot', () => d.oneHot([0, 1], 2, { dtyp: 'int32' } as never)],
      ['batches', () => d.batches(ds, { batchSize: 2, suffle: false } as never)],
      ['loadIris', () => d.loadIris({ float64: true } as never)],
      ['loadMnist', () => d.loadMnist({ limit: 3 } as never)],
      ['loadCars', () => d.loadCars({ drop: true } as never)],
    ];
    for (const [op, f] of cases) expect(f, op).toThrow(new RegExp(`^${op}: unknown option "\\w+"; expected one of`));
  });
});
