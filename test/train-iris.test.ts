/**
 * The training toolkit's iris walk-through, as docs/train.md shows it and the demo runs it:
 * stratified split, standardization fitted on the training split, Adam, early stopping with
 * restore-best, accuracy and the confusion matrix on the test split, then a checkpoint saved and
 * reloaded into a freshly built graph that predicts bit for bit the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '@gradgraph/core';
import { data, nn, optim, train } from '@gradgraph/ops';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'gradgraph-iris-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- the docs example, verbatim apart from the file path and the output stream ----

const iris = data.loadIris();
const splits = data.trainValTestSplit(iris, { valSize: 0.15, testSize: 0.2, seed: 0, stratify: true });
const { train: trainSet, val, test, fit: scaler } = data.standardize(splits); // mean/std of train only

/** Builds the model and its training step; the same code rebuilds it to reload a checkpoint. */
function buildModel(seed = 42) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 4]);
  const y = g.input('y', [null], 'int32');
  const h = nn.dropout(nn.relu(nn.dense(x, 16)), 0.1);
  const logits = nn.dense(h, 3);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 0.02 }) });
  return { g, step };
}

const log: string[] = [];
const { g, step } = buildModel();
const history = train.fit({
  step,
  data: data.batches(trainSet, { batchSize: 32, seed: 0 }),
  epochs: 100,
  validation: val,
  metrics: ['accuracy'],
  earlyStopping: { monitor: 'valLoss', patience: 10, restoreBest: true },
  progress: { mode: 'lines', stream: { write: (t: string) => log.push(t) } },
});

const logits = train.predict(step, test);
const testAccuracy = train.accuracy(logits, test.y!);
const cm = train.confusionMatrix(logits, test.y!);

const path = join(dir, 'iris.ckpt.json');
train.saveCheckpoint(path, g, { preprocessing: { x: scaler }, optimizer: step.optimizer, config: { hidden: 16, dropout: 0.1 } });

const reloaded = buildModel(); // a fresh graph, built by the same code
const ckpt = train.loadCheckpoint(path, reloaded.g);
const xTest = data.transform(ckpt.preprocessing.x, splits.test); // raw rows, scaled with the saved fit
const again = train.predict(reloaded.step, xTest);

// ---- checks ----

describe('iris with fit, early stopping and a checkpoint', () => {
  it('splits and scales as documented', () => {
    expect([trainSet.size, val.size, test.size]).toEqual([97, 23, 30]);
    expect(test.classCounts()).toEqual([10, 10, 10]);
  });

  it('learns, stops early and restores the best epoch', () => {
    expect(history.stopped?.reason).toMatch(/^early stopping: valLoss did not improve for 10 epochs/);
    expect(history.epochs.length).toBeLessThan(100);
    const best = Math.min(...history.valLoss);
    // epochs count from 1 everywhere: the restored epoch is the record with the best valLoss
    expect(history.restoredEpoch).toBe(history.valLoss.indexOf(best) + 1);
    expect(history.epochs[history.restoredEpoch! - 1].epoch).toBe(history.restoredEpoch);
    // the restored params are the best epoch's: evaluating them gives its validation loss
    expect(train.evaluate(step, val).loss).toBeCloseTo(best, 6);
    expect(history.loss.at(-1)!).toBeLessThan(history.loss[0] / 3);
    expect(testAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('the confusion matrix accounts for every test row; its trace is the accuracy', () => {
    expect(cm.shape).toEqual([3, 3]);
    const rows = cm.toArray() as number[][];
    expect(rows.map((r) => r.reduce((a, b) => a + b, 0))).toEqual([10, 10, 10]);
    expect((rows[0][0] + rows[1][1] + rows[2][2]) / 30).toBe(testAccuracy);
    expect(train.formatConfusionMatrix(cm, test.classNames).split('\n')[0]).toBe('true \\ predicted  setosa  versicolor  virginica');
  });

  it('the reloaded model predicts bit for bit the same, from raw rows and the saved scaling', () => {
    expect(Array.from(again.data)).toEqual(Array.from(logits.data));
    expect(Array.from(xTest.x.data)).toEqual(Array.from(test.x.data));
    expect(ckpt.manifest.config).toEqual({ hidden: 16, dropout: 0.1 });
  });

  it('printed one line per epoch and the stop', () => {
    const text = log.join('');
    expect(text.split('\n').filter((l) => l.startsWith('epoch '))).toHaveLength(history.epochs.length);
    expect(text).toMatch(/stopped after epoch \d+: early stopping/);
    expect(text).toContain(`restored the params of epoch ${history.restoredEpoch}\n`);
    expect(text).toContain(`stopped after epoch ${history.epochs.length}: `);
    expect(text).toContain(`(best ${history.valLoss[history.restoredEpoch! - 1].toFixed(4)} at epoch ${history.restoredEpoch})`);
    // the last epoch line printed is the last record of the history
    expect(text).toContain(`epoch ${history.epochs.length}/100  loss ${history.loss.at(-1)!.toFixed(4)}`);
  });
});
