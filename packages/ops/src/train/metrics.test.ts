import { DTypeError, ShapeError, Tensor } from '@gradgraph/core';
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { TrainError } from './errors';
import { accuracy, confusionMatrix, decodeNumber, encodeNumber, formatConfusionMatrix, mae, metricAccumulator, mse, r2 } from './metrics';

const i32 = (a: number[]) => Tensor.from(a, 'int32');

/** R² by the textbook two-pass formula, per column, averaged (the reference for the accumulator). */
function r2Reference(pred: number[][], target: number[][]): number {
  const d = target[0].length;
  let s = 0;
  for (let j = 0; j < d; j++) {
    const ys = target.map((r) => r[j]);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const tot = ys.reduce((a, y) => a + (y - mean) ** 2, 0);
    const res = ys.reduce((a, y, i) => a + (y - pred[i][j]) ** 2, 0);
    s += tot > 0 ? 1 - res / tot : res === 0 ? 1 : 0;
  }
  return s / d;
}

describe('accuracy', () => {
  it('reads [n, k] scores by argmax against int32 labels', () => {
    const scores = Tensor.from([[2, 1, 0], [0, 1, 3], [0.1, 0.5, 0.2], [5, 5, 1]]);
    // argmax: 0, 2, 1, 0 (first maximum on the tie)
    expect(accuracy(scores, i32([0, 1, 1, 0]))).toBe(0.75);
  });

  it('reads one-hot targets by argmax and int32 predictions as indices', () => {
    const onehot = Tensor.from([[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
    expect(accuracy(i32([0, 2, 2]), onehot)).toBeCloseTo(2 / 3, 15);
    expect(accuracy(Tensor.from([[0.9, 0.1, 0], [0, 0.2, 0.8], [0.3, 0.6, 0.1]]), onehot)).toBe(1);
  });

  it('thresholds binary scores ([n] or [n, 1]) at 0.5, or at the given threshold', () => {
    const probs = Tensor.from([0.9, 0.2, 0.6, 0.4]);
    expect(accuracy(probs, i32([1, 0, 1, 1]))).toBe(0.75);
    expect(accuracy(probs.reshape([4, 1]), i32([1, 0, 1, 1]))).toBe(0.75);
    const logits = Tensor.from([2, -1, 0.3, -0.2]);
    expect(accuracy(logits, Tensor.from([1, 0, 1, 0]), { threshold: 0 })).toBe(1);
  });

  it('refuses mismatched rows, NaN scores, non-integer labels and bad shapes with typed errors', () => {
    expect(() => accuracy(Tensor.from([[1, 0]]), i32([0, 1]))).toThrow(ShapeError);
    expect(() => accuracy(Tensor.from([[1, 0]]), i32([0, 1]))).toThrow(/1 rows but target has 2/);
    expect(() => accuracy(Tensor.from([[NaN, 0]]), i32([0]))).toThrow(TrainError);
    expect(() => accuracy(Tensor.from([[1, 0]]), Tensor.from([0.5]))).toThrow(/not a class index/);
    expect(() => accuracy(Tensor.zeros([2, 2, 2]), i32([0, 1]))).toThrow(ShapeError);
    expect(() => accuracy([1, 2] as unknown as Tensor, i32([0, 1]))).toThrow(TrainError);
    expect(() => accuracy(Tensor.from([0.3]), i32([0]), { threshold: NaN })).toThrow(/threshold/);
  });
});

describe('confusionMatrix', () => {
  it('counts true classes by row and predicted classes by column', () => {
    const pred = Tensor.from([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]);
    const cm = confusionMatrix(pred, i32([0, 1, 2, 2, 1]));
    expect(cm.dtype).toBe('int32');
    expect(cm.toArray()).toEqual([
      [1, 0, 0],
      [1, 1, 0],
      [0, 1, 1],
    ]);
  });

  it('agrees with accuracy: the trace over n', () => {
    const pred = Tensor.randn([40, 4], 'float32', 3);
    const labels = i32(Array.from({ length: 40 }, (_, i) => (i * 7) % 4));
    const cm = confusionMatrix(pred, labels);
    let trace = 0;
    for (let i = 0; i < 4; i++) trace += cm.data[i * 4 + i];
    expect(trace / 40).toBe(accuracy(pred, labels));
  });

  it('takes numClasses (classes never seen still get a row) and refuses labels beyond it', () => {
    expect(confusionMatrix(i32([0, 1]), i32([0, 1]), { numClasses: 3 }).shape).toEqual([3, 3]);
    expect(confusionMatrix(Tensor.from([0.7, 0.1]), i32([1, 1])).toArray()).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(() => confusionMatrix(i32([0, 3]), i32([0, 1]), { numClasses: 3 })).toThrow(/outside numClasses = 3/);
  });

  it('formats as a table with class names', () => {
    const cm = Tensor.from([[10, 0], [2, 8]], 'int32');
    expect(formatConfusionMatrix(cm, ['cat', 'dog'])).toMatchInlineSnapshot(`
      "true \\ predicted  cat  dog
      cat                10    0
      dog                 2    8"
    `);
    expect(() => formatConfusionMatrix(cm, ['only one'])).toThrow(/name all 2 classes/);
    expect(() => formatConfusionMatrix(Tensor.zeros([2, 3]))).toThrow(ShapeError);
  });
});

describe('regression metrics', () => {
  it('MAE and MSE over every element', () => {
    expect(mae(Tensor.from([1, 2, 4]), Tensor.from([1, 3, 2]))).toBe(1);
    expect(mse(Tensor.from([1, 2, 4]), Tensor.from([1, 3, 2]))).toBeCloseTo(5 / 3, 15);
    // [n, 1] predictions against [n] targets, as dense(1) outputs
    expect(mae(Tensor.from([[1], [2]]), Tensor.from([2, 2]))).toBe(0.5);
  });

  it('R² matches scikit-learn on its documented examples', () => {
    // sklearn.metrics.r2_score docs: 0.948...
    expect(r2(Tensor.from([2.5, 0, 2, 8]), Tensor.from([3, -0.5, 2, 7]))).toBeCloseTo(0.9486081370449679, 12);
    // multi-output, uniform average: 0.936...
    const yTrue = [[0.5, 1], [-1, 1], [7, -6]];
    const yPred = [[0, 2], [-1, 2], [8, -5]];
    expect(r2(Tensor.from(yPred, 'float64'), Tensor.from(yTrue, 'float64'))).toBeCloseTo(r2Reference(yPred, yTrue), 14);
    expect(r2(Tensor.from(yPred, 'float64'), Tensor.from(yTrue, 'float64'))).toBeCloseTo(0.9368005266622779, 12);
    // perfect, mean predictor, constant target
    expect(r2(Tensor.from([1, 2, 3]), Tensor.from([1, 2, 3]))).toBe(1);
    expect(r2(Tensor.from([2, 2, 2]), Tensor.from([1, 2, 3]))).toBe(0);
    expect(r2(Tensor.from([4, 4]), Tensor.from([4, 4]))).toBe(1);
    expect(r2(Tensor.from([4, 5]), Tensor.from([4, 4]))).toBe(0);
  });

  it('refuses shapes that differ beyond size-1 axes, and bool inputs', () => {
    expect(() => mae(Tensor.zeros([4, 2]), Tensor.zeros([4, 3]))).toThrow(ShapeError);
    expect(() => r2(Tensor.zeros([4, 2]), Tensor.zeros([2, 4]))).toThrow(ShapeError);
    expect(() => mae(Tensor.zeros([4, 2]), Tensor.zeros([4, 2], 'bool'))).toThrow(DTypeError);
  });

  it('an empty input gives NaN, not a crash', () => {
    expect(mae(Tensor.zeros([0]), Tensor.zeros([0]))).toBeNaN();
    expect(r2(Tensor.zeros([0, 2]), Tensor.zeros([0, 2]))).toBeNaN();
  });
});

describe('accumulators', () => {
  // batch-by-batch equals all-at-once: what fit's epoch metrics rely on
  const rows = fc.array(fc.tuple(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true })), { minLength: 3, maxLength: 40 });
  fcTest.prop([rows, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 })])('R², MAE and MSE over batches equal the one-shot value', (pairs, cuts) => {
    const pred = pairs.map(([p]) => [p]);
    const target = pairs.map(([, t], i) => [t + i * 0.25]); // never constant
    const accs = (['r2', 'mae', 'mse'] as const).map((m) => metricAccumulator(m));
    let at = 0;
    let k = 0;
    while (at < pairs.length) {
      const end = Math.min(pairs.length, at + cuts[k++ % cuts.length]);
      for (const a of accs) a.update(Tensor.from(pred.slice(at, end), 'float64'), Tensor.from(target.slice(at, end), 'float64'));
      at = end;
    }
    const P = Tensor.from(pred, 'float64');
    const T = Tensor.from(target, 'float64');
    expect(accs[0].result()).toBeCloseTo(r2Reference(pred, target), 9);
    expect(accs[1].result()).toBeCloseTo(mae(P, T), 12);
    expect(accs[2].result()).toBeCloseTo(mse(P, T), 9);
  });

  it('state() round-trips through JSON; a bad state is refused', () => {
    for (const name of ['accuracy', 'mae', 'mse', 'r2'] as const) {
      const a = metricAccumulator(name);
      const isClass = name === 'accuracy';
      a.update(isClass ? Tensor.from([[1, 0], [0, 1]]) : Tensor.from([[1, 2], [3, 5]]), isClass ? i32([0, 0]) : Tensor.from([[1, 1], [2, 7]]));
      const b = metricAccumulator(name);
      b.restore(JSON.parse(JSON.stringify(a.state())));
      expect(b.result()).toBe(a.result());
      expect(() => b.restore({ nonsense: true })).toThrow(TrainError);
    }
  });

  it('a function metric is averaged over batches weighted by rows', () => {
    const a = metricAccumulator({ name: 'meanPred', fn: (p) => Array.from(p.data).reduce((s, v) => s + v, 0) / p.size });
    a.update(Tensor.from([1, 1, 1]), Tensor.from([0, 0, 0])); // mean 1 over 3 rows
    a.update(Tensor.from([4]), Tensor.from([0])); // mean 4 over 1 row
    expect(a.result()).toBe(7 / 4);
    const broken = metricAccumulator({ name: 'broken', fn: () => 'x' as unknown as number });
    expect(() => broken.update(Tensor.from([1]), Tensor.from([1]))).toThrow(/returned "x"/);
    expect(() => metricAccumulator('f1' as never)).toThrow(/unknown metric "f1"/);
  });

  it('numbers in states survive JSON, NaN and infinities included', () => {
    for (const v of [0, -1.5, 1e-300, NaN, Infinity, -Infinity]) expect(Object.is(decodeNumber(JSON.parse(JSON.stringify(encodeNumber(v))), 'test', 'v'), v)).toBe(true);
    expect(() => decodeNumber('nope', 'test', 'v')).toThrow(TrainError);
  });
});
