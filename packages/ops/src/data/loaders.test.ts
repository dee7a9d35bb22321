import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CARS_COLUMNS, DataError, loadCars, loadIris, loadMnist, MNIST_SIZE, mnistLocate } from './index';

const require = createRequire(import.meta.url);

describe('loadIris', () => {
  it('is 150 × 4 with 3 balanced classes', () => {
    const iris = loadIris();
    expect(iris.x.shape).toEqual([150, 4]);
    expect(iris.featureNames).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(iris.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(iris.classCounts()).toEqual([50, 50, 50]);
    expect(iris.labels[0]).toBe(0);
    expect(iris.labels[149]).toBe(2);
    // Fisher's first flower
    expect(Array.from(loadIris({ dtype: 'float64' }).x.data.slice(0, 4))).toEqual([5.1, 3.5, 1.4, 0.2]);
  });
});

describe('loadMnist', () => {
  it('loads digits by index: 784 pixels in [0, 1], labels 0–9, classes interleaved', () => {
    const m = loadMnist({ start: 0, count: 30 });
    expect(m.x.shape).toEqual([30, 784]);
    expect(m.y!.dtype).toBe('int32');
    expect(Array.from(m.labels)).toEqual(Array.from({ length: 30 }, (_, i) => i % 10));
    expect(m.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(Array.from(m.rowIds)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of m.x.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.9);
  });

  it('gives the same digit for the same index, straight from the package file', () => {
    const a = loadMnist({ indices: [4321, 17] });
    const b = loadMnist({ start: 4321, count: 1 });
    expect(Array.from(a.x.data.slice(0, 784))).toEqual(Array.from(b.x.data));
    const { digit, sample } = mnistLocate(4321);
    expect(a.labels[0]).toBe(digit);
    const raw = JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${digit}.json`), 'utf8')).data as number[];
    expect(Array.from(b.x.data)).toEqual(raw.slice(sample * 784, (sample + 1) * 784).map(Math.fround));
  });

  it('indexes every one of the 10,000 digits exactly once', () => {
    const seen = new Set<string>();
    const perDigit = new Array<number>(10).fill(0);
    for (let i = 0; i < MNIST_SIZE; i++) {
      const { digit, sample } = mnistLocate(i);
      seen.add(`${digit}/${sample}`);
      perDigit[digit]++;
    }
    expect(seen.size).toBe(10_000);
    expect(perDigit).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(mnistLocate(13)).toEqual({ digit: 3, sample: 1 });
    // past 8630 the fives run out and the cycle skips them
    expect(mnistLocate(8630)).toEqual({ digit: 0, sample: 863 });
    expect(mnistLocate(8635)).toEqual({ digit: 6, sample: 863 });
  });

  it('refuses indices outside the data', () => {
    expect(() => loadMnist({ indices: [0, 10_000] })).toThrow(DataError);
    expect(() => loadMnist({ indices: [0, 10_000] })).toThrow(/loadMnist: indices\[1\] = 10000 is outside \[0, 10000\)/);
    expect(() => loadMnist({ start: 9990, count: 20 })).toThrow(/count must be an integer in \[1, 10\], got 20/);
    expect(() => mnistLocate(-1)).toThrow(/index must be an integer in \[0, 9999\], got -1/);
  });
});

describe('loadCars', () => {
  it('drops rows with a missing value in the used columns, and says so', () => {
    const cars = loadCars();
    expect(cars.size).toBe(392);
    expect(cars.featureNames).toEqual(['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin=Europe', 'Origin=Japan', 'Origin=USA']);
    expect(cars.targetNames).toEqual(['Miles_per_Gallon']);
    expect(cars.notes[0]).toMatch(/^dropped 14 of 406 rows with a missing value \(Horsepower: 6, Miles_per_Gallon: 8\); rows 10, 11, 12, 13, 14, 17, 38, 39, 133, 337/);
    expect(Array.from(cars.rowIds)).not.toContain(10);
    // first car: chevrolet chevelle malibu, 18 mpg, 8 cylinders, 130 hp, 1970, USA
    expect(cars.x.toArray()[0]).toEqual([8, 307, 130, 3504, 12, 1970, 0, 0, 1]);
    expect(cars.y!.data[0]).toBe(18);
    for (const v of cars.x.data) expect(Number.isFinite(v)).toBe(true);
  });

  it('drops only for the columns asked for', () => {
    expect(loadCars({ features: ['Weight_in_lbs'], target: 'Acceleration' }).size).toBe(406);
    expect(loadCars({ features: ['Horsepower'], target: 'Acceleration' }).size).toBe(400);
  });

  it('gives Origin as class labels', () => {
    const cars = loadCars({ target: 'Origin', features: ['Weight_in_lbs', 'Miles_per_Gallon'] });
    expect(cars.classNames).toEqual(['Europe', 'Japan', 'USA']);
    expect(cars.size).toBe(398);
    expect(cars.classCounts().reduce((a, b) => a + b, 0)).toBe(398);
  });

  it("with missing: 'error' names the first missing value", () => {
    expect(() => loadCars({ missing: 'error' })).toThrow(/^loadCars: row 10, column "Miles_per_Gallon": missing value/);
    expect(() => loadCars({ target: 'Name' as 'Year' })).toThrow(/unknown target column "Name"; the columns are Miles_per_Gallon, Cylinders/);
    expect(CARS_COLUMNS).toContain('Origin');
  });
});
