/**
 * The data toolkit end to end with the core: load → split → scale (fit on train) → seeded
 * batches → a compiled training step. Checks the things that only show up together: the model
 * learns, the preprocessing fit restored from JSON gives the same predictions, two runs with the
 * same seeds are bit-identical, and resuming mid-epoch from (params, epoch, batch) continues
 * exactly as the uninterrupted run.
 */
import { compile, grad, Graph, Tensor, type Executable, type GraphState, type Sym } from '@gradgraph/core';
import { data } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';

/** Softmax regression with plain SGD, built from core primitives only. */
function softmaxRegression(d: number, k: number, lr: number) {
  const g = new Graph({ seed: 0 });
  const x = g.input('x', [null, d]);
  const y = g.input('y', [null], 'int32');
  const w = g.param('w', Tensor.zeros([d, k]));
  const b = g.param('b', Tensor.zeros([k]));
  const logits = x.matmul(w).add(b);
  // cross-entropy: −mean Σ_k onehot(y)_k · log softmax(logits)_k
  const loss = logits.logSoftmax().mul(oneHotOf(y, k)).sum([1]).mean().neg();
  const params = [w, b];
  const grads = grad(loss, params);
  const step = compile(g, { inputs: [x, y], outputs: [loss], updates: params.map((p, i) => [p, p.sub(grads[i].mul(lr))] as [Sym, Sym]) });
  const predict = compile(g, { inputs: [x], outputs: [logits] });
  return { g, step, predict };
}

function oneHotOf(y: Sym, k: number): Sym {
  const classes = y.graph.constant(Tensor.from(Array.from({ length: k }, (_, i) => i), 'int32'));
  return y.expandDims(-1).equal(classes).cast('float32');
}

function accuracy(predict: Executable, ds: data.Dataset): number {
  const [logits] = predict.run({ x: ds.x });
  const pred = data.fromOneHot(logits);
  let right = 0;
  pred.data.forEach((c, i) => (right += c === ds.labels[i] ? 1 : 0));
  return right / ds.size;
}

function irisRun(batchSeed: number, epochs: number) {
  const splits = data.trainValTestSplit(data.loadIris(), { valSize: 0.15, testSize: 0.2, seed: 1, stratify: true });
  const { train, val, test, fit } = data.standardize(splits);
  const model = softmaxRegression(4, 3, 0.5);
  const loader = data.batches(train, { batchSize: 16, seed: batchSeed });
  const losses: number[] = [];
  for (let e = 1; e <= epochs; e++) for (const { x, y } of loader.epoch(e)) losses.push(model.step.run({ x, y })[0].item());
  return { ...model, losses, train, val, test, fit, loader, splits };
}

describe('data pipeline with the core', () => {
  it('iris: split, standardize on train, batch, train — the model learns', () => {
    const run = irisRun(7, 100);
    expect(run.train.size + run.val.size + run.test.size).toBe(150);
    expect(run.test.classCounts()).toEqual([10, 10, 10]);
    const first = run.losses.slice(0, 7).reduce((a, b) => a + b, 0) / 7;
    const last = run.losses.slice(-7).reduce((a, b) => a + b, 0) / 7;
    expect(last).toBeLessThan(first / 3);
    expect(accuracy(run.predict, run.test)).toBeGreaterThanOrEqual(0.9);
    expect(accuracy(run.predict, run.train)).toBeGreaterThanOrEqual(0.95);
    // 23 flowers, among them the odd setosa (row 41) and the versicolor/virginica overlap
    expect(accuracy(run.predict, run.val)).toBeGreaterThanOrEqual(0.8);

    // the fit saved as JSON scales new data exactly as the fit used in training
    const restored = data.scalerFitFromJSON(JSON.stringify(run.fit));
    const rescaled = data.transform(restored, run.splits.test);
    expect(Array.from(rescaled.x.data)).toEqual(Array.from(run.test.x.data));
    expect(Array.from(run.predict.run({ x: rescaled.x })[0].data)).toEqual(Array.from(run.predict.run({ x: run.test.x })[0].data));
  });

  it('two runs with the same seeds are bit-identical; another batch seed differs', () => {
    const a = irisRun(3, 4).losses;
    const b = irisRun(3, 4).losses;
    const c = irisRun(4, 4).losses;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('resuming mid-epoch from (params, epoch, batch) continues exactly', () => {
    const { train } = data.standardize(data.trainTestSplit(data.loadIris(), { testSize: 0.2, seed: 2, stratify: true }));
    const loader = data.batches(train, { batchSize: 16, seed: 11 });
    const stopAfter = { epoch: 2, index: 3 }; // stop after batch index 3 (the fourth) of epoch 2

    const full = softmaxRegression(4, 3, 0.1);
    const uninterrupted: number[] = [];
    let saved: GraphState | undefined;
    for (let e = 1; e <= 3; e++) {
      for (const { x, y, epoch, index } of loader.epoch(e)) {
        uninterrupted.push(full.step.run({ x, y })[0].item());
        if (epoch === stopAfter.epoch && index === stopAfter.index) saved = throughJson(full.g.snapshot());
      }
    }

    // a fresh process: new graph and loader, params from the snapshot, position from the checkpoint
    const resumed = softmaxRegression(4, 3, 0.1);
    resumed.g.restore(saved!);
    const loader2 = data.batches(train, { batchSize: 16, seed: 11 });
    const after: number[] = [];
    for (const b of loader2.epoch(stopAfter.epoch, { startBatch: stopAfter.index + 1 })) after.push(resumed.step.run({ x: b.x, y: b.y })[0].item());
    for (const b of loader2.epoch(3)) after.push(resumed.step.run({ x: b.x, y: b.y })[0].item());
    const done = (stopAfter.epoch - 1) * loader.numBatches + stopAfter.index + 1;
    expect(after).toEqual(uninterrupted.slice(done));
  });

  it('mnist: digits by index through batches into softmax regression', () => {
    const digits = data.loadMnist({ start: 0, count: 1500 });
    const { train, test } = data.trainTestSplit(digits, { testSize: 300, seed: 0, stratify: true });
    const model = softmaxRegression(784, 10, 0.5);
    const loader = data.batches(train, { batchSize: 50, seed: 0, dropLast: true });
    for (let e = 1; e <= 4; e++) for (const { x, y } of loader.epoch(e)) model.step.run({ x, y });
    expect(accuracy(model.predict, test)).toBeGreaterThan(0.8);
  });

  it('cars: standardized features and target, predictions mapped back to mpg', () => {
    const { train, test } = data.standardize(data.trainTestSplit(data.loadCars(), { testSize: 0.25, seed: 5 }));
    const yFit = data.fitStandardize(train.y!);
    const g = new Graph({ seed: 0 });
    const x = g.input('x', [null, train.numFeatures]);
    const y = g.input('y', [null]);
    const w = g.param('w', Tensor.zeros([train.numFeatures, 1]));
    const b = g.param('b', Tensor.zeros([1]));
    const pred = x.matmul(w).add(b).squeeze([1]);
    const loss = pred.sub(y).square().mean();
    const [gw, gb] = grad(loss, [w, b]);
    const step = compile(g, { inputs: [x, y], outputs: [loss], updates: [[w, w.sub(gw.mul(0.05))], [b, b.sub(gb.mul(0.05))]] });
    const predict = compile(g, { inputs: [x], outputs: [pred] });
    const loader = data.batches({ x: train.x, y: data.transform(yFit, train.y!) }, { batchSize: 32, seed: 1 });
    for (let e = 1; e <= 40; e++) for (const bt of loader.epoch(e)) step.run({ x: bt.x, y: bt.y });
    const mpg = data.inverseTransform(yFit, predict.run({ x: test.x })[0]);
    let mae = 0;
    mpg.data.forEach((v, i) => (mae += Math.abs(v - test.y!.data[i])));
    mae /= test.size;
    expect(mae).toBeLessThan(3.5); // a linear model on these features: ≈ 2.5 mpg
  });
});

// a snapshot written to JSON and read back, as a checkpoint file would carry it
function throughJson(state: GraphState): GraphState {
  const text = JSON.stringify({ rngCounter: state.rngCounter, values: [...state.values].map(([k, t]) => [k, t.dtype, t.shape, Array.from(t.data)]) });
  const doc = JSON.parse(text) as { rngCounter: number; values: [string, 'float32', number[], number[]][] };
  return { rngCounter: doc.rngCounter, values: new Map(doc.values.map(([k, dt, shape, v]) => [k, Tensor.from(v, dt).reshape(shape)])) };
}
