import { SerializationError, Tensor } from '@gradgraph/core';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { DataError, dataset, fitMinMax, fitStandardize, fromOneHot, inverseTransform, minMaxScale, oneHot, scalerFitFromJSON, standardize, transform, trainTestSplit } from './index';

const rows = (t: Tensor): number[][] => t.toArray();
const colMean = (x: number[][], j: number) => x.reduce((a, r) => a + r[j], 0) / x.length;
const colStd = (x: number[][], j: number) => Math.sqrt(x.reduce((a, r) => a + (r[j] - colMean(x, j)) ** 2, 0) / x.length);

describe('standardize', () => {
  const train = dataset({ x: [[1, 10], [2, 20], [3, 60]], y: ['a', 'b', 'a'], featureNames: ['p', 'q'], dtype: 'float64' });
  const testSet = dataset({ x: [[4, 0], [5, 100]], y: ['b', 'b'], featureNames: ['p', 'q'], classNames: ['a', 'b'], dtype: 'float64' });

  it('fits on the training rows only and applies that fit to other splits', () => {
    const fit = fitStandardize(train);
    expect(fit.mean).toEqual([2, 30]);
    expect(fit.std[0]).toBeCloseTo(Math.sqrt(2 / 3), 15); // population std (ddof 0)
    expect(fit.n).toBe(3);
    const t = rows(transform(fit, testSet).x);
    // test rows use the *training* mean/std, so they are not centred themselves
    expect(t[0][0]).toBeCloseTo((4 - 2) / Math.sqrt(2 / 3), 12);
    expect(t[1][1]).toBeCloseTo((100 - 30) / fit.std[1], 12);
    const s = rows(transform(fit, train).x);
    for (const j of [0, 1]) {
      expect(colMean(s, j)).toBeCloseTo(0, 12);
      expect(colStd(s, j)).toBeCloseTo(1, 12);
    }
  });

  it('standardize(splits) fits on splits.train and leaves other entries alone', () => {
    const out = standardize({ train, test: testSet, note: 'kept' });
    expect(out.fit).toEqual(fitStandardize(train));
    expect(out.note).toBe('kept');
    expect(rows(out.test.x)).toEqual(rows(transform(out.fit, testSet).x));
    expect(out.test.labels).toEqual(testSet.labels);
    expect(out.train.notes.at(-1)).toMatch(/standardized \(columns p, q\) with a fit on 3 training rows/);
    // fitting on all rows would give another answer: the test rows did not leak into the fit
    const leaky = fitStandardize(dataset({ x: [...rows(train.x), ...rows(testSet.x)] }));
    expect(leaky.mean).not.toEqual(out.fit.mean);
  });

  it('centres a constant column without dividing by 0, and scales only the columns asked for', () => {
    const fit = fitStandardize(Tensor.from([[5, 1], [5, 3]]));
    expect(fit.std[0]).toBe(0);
    expect(rows(transform(fit, Tensor.from([[5, 1], [6, 3]])))).toEqual([[0, -1], [1, 1]]);
    const only = fitStandardize(train, { columns: ['q'] });
    expect(only.columns).toEqual([1]);
    const t = rows(transform(only, train).x);
    expect(t.map((r) => r[0])).toEqual([1, 2, 3]);
    expect(colMean(t, 1)).toBeCloseTo(0, 12);
    expect(() => fitStandardize(train, { columns: ['r'] })).toThrow(/no column "r" to scale; the columns are p, q/);
  });

  it('keeps the dtype of a Tensor and accepts a 1-d target', () => {
    const y = Tensor.from([1, 2, 3, 4], 'float32');
    const fit = fitStandardize(y);
    const z = transform(fit, y);
    expect(z.shape).toEqual([4]);
    expect(z.dtype).toBe('float32');
    Array.from(inverseTransform(fit, z).data).forEach((v, i) => expect(v).toBeCloseTo(i + 1, 6));
  });

  test.prop([
    fc.integer({ min: 1, max: 12 }).chain((n) => fc.array(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 3, maxLength: 3 }), { minLength: n, maxLength: n })),
  ])('inverseTransform undoes transform (float64)', (x) => {
    const t = Tensor.from(x, 'float64');
    for (const fit of [fitStandardize(t), fitMinMax(t, { range: [-1, 1] })]) {
      const back = rows(inverseTransform(fit, transform(fit, t)));
      back.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(x[i][j], 8)));
    }
  });

  it('refuses data that does not match the fit', () => {
    const fit = fitStandardize(train);
    expect(() => transform(fit, Tensor.from([[1, 2, 3]]))).toThrow(/the fit is for 2 columns \(p, q\); this data has 3/);
    const renamed = dataset({ x: [[1, 2]], featureNames: ['q', 'p'] });
    expect(() => transform(fit, renamed)).toThrow(/column names differ from the fit's: fitted on p, q; got q, p/);
    expect(() => transform(fit, [[1, NaN]])).toThrow(/transform: row 0, column "x1": value is NaN/);
    expect(() => fitStandardize(Tensor.zeros([0, 2]))).toThrow(/cannot fit on 0 rows/);
    expect(() => fitStandardize(Tensor.from([[-1e300], [1e300]], 'float64'))).toThrow(/fitStandardize: column "x0": values too large to scale: their spread overflows to Infinity/);
  });
});

describe('minMax', () => {
  it('maps the training range onto [lo, hi]; other splits may fall outside unless clipped', () => {
    const train = Tensor.from([[0, 10], [5, 20], [10, 30]], 'float64');
    const fit = fitMinMax(train, { range: [-1, 1] });
    expect(rows(transform(fit, train))).toEqual([[-1, -1], [0, 0], [1, 1]]);
    expect(rows(transform(fit, Tensor.from([[20, 0]], 'float64')))).toEqual([[3, -2]]);
    const clipped = fitMinMax(train, { clip: true });
    expect(rows(transform(clipped, Tensor.from([[20, 0]], 'float64')))).toEqual([[1, 0]]);
    const constant = fitMinMax(Tensor.from([[7], [7]], 'float64'));
    expect(rows(transform(constant, Tensor.from([[7], [8]], 'float64')))).toEqual([[0], [1]]);
    expect(() => fitMinMax(train, { range: [1, 1] })).toThrow(/range must be \[lo, hi\] with finite lo < hi/);
  });

  it('minMaxScale(splits) fits on the train split', () => {
    const ds = dataset({ x: Array.from({ length: 20 }, (_, i) => [i]), y: Array.from({ length: 20 }, (_, i) => i % 2), numClasses: 2 });
    const { train, test, fit } = minMaxScale(trainTestSplit(ds, { seed: 3 }));
    const tr = Array.from(train.x.data);
    expect(Math.min(...tr)).toBe(0);
    expect(Math.max(...tr)).toBe(1);
    expect(fit.min[0]).toBe(Math.min(...Array.from(train.rowIds)));
    expect(test.size).toBe(5);
  });
});

describe('scaler fits serialize', () => {
  it('round-trips through JSON and gives the same transform', () => {
    const x = Tensor.randn([30, 4], 'float64', 1);
    for (const fit of [fitStandardize(x, { columns: [0, 2] }), fitMinMax(x, { range: [-2, 3], clip: true })]) {
      const restored = scalerFitFromJSON(JSON.stringify(fit));
      expect(restored).toEqual(fit);
      expect(scalerFitFromJSON(JSON.parse(JSON.stringify(fit)))).toEqual(fit);
      expect(Array.from(transform(restored, x).data)).toEqual(Array.from(transform(fit, x).data));
    }
  });

  it('refuses a corrupt fit with a SerializationError', () => {
    const good = JSON.parse(JSON.stringify(fitStandardize(Tensor.from([[1, 2], [3, 5]]))));
    const bad = (patch: object) => () => scalerFitFromJSON({ ...good, ...patch });
    expect(() => scalerFitFromJSON('{oops')).toThrow(SerializationError);
    expect(bad({ kind: 'robust' })).toThrow(/kind is "robust", expected "standardize" or "minMax"/);
    expect(bad({ mean: [0] })).toThrow(/mean must be an array of 2 numbers/);
    expect(bad({ std: [1, -1] })).toThrow(/std\[1\] is -1, expected a finite number ≥ 0/);
    expect(bad({ columns: [0, 2] })).toThrow(/columns must be distinct integers in \[0, 2\)/);
    expect(bad({ version: 2 })).toThrow(/version is 2, expected 1/);
    expect(() => transform({ ...good, mean: [null, 1] }, Tensor.from([[1, 2]]))).toThrow(/mean\[0\] is null/);
  });
});

describe('oneHot', () => {
  it('encodes class indices and decodes by argmax', () => {
    expect(oneHot([0, 2, 1], 3).toArray()).toEqual([[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
    expect(oneHot(Tensor.from([1, 0], 'int32')).shape).toEqual([2, 2]);
    const ds = dataset({ x: [[0], [0]], y: ['b', 'a'], classNames: ['a', 'b', 'c'] });
    expect(oneHot(ds).toArray()).toEqual([[0, 1, 0], [1, 0, 0]]);
    expect(oneHot([1], 2, { dtype: 'int32' }).dtype).toBe('int32');
    expect(fromOneHot(oneHot([2, 0, 1, 1], 3)).toArray()).toEqual([2, 0, 1, 1]);
    expect(fromOneHot(Tensor.from([[0.2, 0.5, 0.5]])).toArray()).toEqual([1]);
  });

  it('names the row of a label outside the classes', () => {
    const e = (() => {
      try {
        oneHot([0, 1, 3], 3);
      } catch (err) {
        return err as DataError;
      }
    })()!;
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/^oneHot: row 2, column "label": label 3 is outside the classes: expected an integer in \[0, 3\)/);
    expect(() => oneHot([0, 1.5], 3)).toThrow(/row 1, column "label": label 1.5 is outside/);
    expect(() => oneHot(Tensor.from([[0]]))).toThrow(/labels must be a Tensor \[n\]/);
    expect(() => fromOneHot(Tensor.from([[0, NaN]]))).toThrow(/row 0, column "1": value is NaN/);
  });
});
