import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, Tensor, compile, grad } from '@gradgraph/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as data from '../data/index';
import * as nn from '../nn/index';
import * as optim from '../optim/index';
import { earlyStopping, modelCheckpoint, reduceLrOnPlateau, terminateOnNaN, type Callback, type EpochLogs } from './callbacks';
import { parseCheckpoint, readCheckpoint, type Checkpoint } from './checkpoint';
import { TrainError } from './errors';
import { History, evaluate, fit, predict } from './fit';
import { accuracy } from './metrics';
import { fromExecutables, trainingStep } from './step';

/** Two Gaussian blobs in 3-D, 48 rows, labels 0/1; seeded. */
function blobs(n = 48, seed = 5) {
  const noise = Tensor.randn([n, 3], 'float32', seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    rows.push([0, 1, 2].map((j) => noise.data[i * 3 + j] + (c ? 1.5 : -1.5)));
    labels.push(c);
  }
  return data.dataset({ x: rows, y: labels, numClasses: 2 });
}

function model(seed = 7, opts: { dropout?: number; lr?: number } = {}) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 3]);
  const y = g.input('y', [null], 'int32');
  let h = nn.relu(nn.dense(x, 8));
  if (opts.dropout) h = nn.dropout(h, opts.dropout);
  const logits = nn.dense(h, 2);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const step = trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: opts.lr ?? 0.05 }) });
  return { g, x, y, logits, loss, step };
}

const ds = blobs();
const { train: trainSet, test: valSet } = data.trainTestSplit(ds, { testSize: 0.25, seed: 1, stratify: true });

describe('fit', () => {
  it('returns per-epoch logs: loss as the row-weighted mean of batch losses, metrics, validation', () => {
    const { step } = model();
    const loader = data.batches(trainSet, { batchSize: 5, seed: 2 }); // 36 rows: 7 batches of 5 and one of 1
    const h = fit({ step, data: loader, epochs: 3, validation: valSet, metrics: ['accuracy'], progress: false });
    expect(h).toBeInstanceOf(History);
    expect(h.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]); // as printed: "epoch 1/3", ...
    expect(Object.keys(h.epochs[0]).sort()).toEqual(['accuracy', 'epoch', 'loss', 'valAccuracy', 'valLoss']);
    expect(h.batchLoss).toHaveLength(3 * loader.numBatches);
    for (let e = 0; e < 3; e++) {
      const losses = h.batchLoss.slice(e * 8, (e + 1) * 8);
      const weighted = losses.reduce((s, l, k) => s + l * (k < 7 ? 5 : 1), 0) / 36;
      expect(h.loss[e]).toBeCloseTo(weighted, 12);
    }
    // validation values are the evaluation of the model as it is after the epoch
    expect(h.valLoss[2]).toBeCloseTo(evaluate(step, valSet).loss, 6);
    expect(h.series('valAccuracy')[2]).toBe(accuracy(predict(step, valSet), valSet.y!));
    expect(h.loss[2]).toBeLessThan(h.loss[0]);
    expect(h.series('valAccuracy')[2]).toBeGreaterThanOrEqual(0.9);
    expect(() => h.series('mae')).toThrow(/no epoch has "mae"; the logs have loss, accuracy, valLoss, valAccuracy/);
  });

  it('batches a Dataset itself with the graph seed by default, like the equivalent loader', () => {
    const a = model();
    const b = model();
    const ha = fit({ step: a.step, data: trainSet, batchSize: 6, epochs: 2, progress: false });
    const hb = fit({ step: b.step, data: data.batches(trainSet, { batchSize: 6, seed: 7 }), epochs: 2, progress: false });
    expect(ha.batchLoss).toEqual(hb.batchLoss);
    // and { x, y } tensors work too
    const c = model();
    expect(fit({ step: c.step, data: { x: trainSet.x, y: trainSet.y }, batchSize: 6, epochs: 2, progress: false }).batchLoss).toEqual(ha.batchLoss);
  });

  it('accepts the step as options or as a bare training executable', () => {
    const a = model();
    const b = model();
    const ha = fit({ step: a.step, data: trainSet, batchSize: 12, epochs: 2, progress: false });
    const hb = fit({ step: { loss: b.loss, predictions: b.logits, optimizer: optim.adam({ lr: 0.05 }) }, data: trainSet, batchSize: 12, epochs: 2, progress: false });
    expect(hb.batchLoss).toEqual(ha.batchLoss);
    const c = model();
    const ps = c.g.params();
    const opt = optim.adam({ lr: 0.05 });
    const exe = compile(c.g, { outputs: [c.loss], updates: opt.updates(ps, grad(c.loss, ps)) });
    expect(fit({ step: exe, data: trainSet, batchSize: 12, epochs: 2, progress: false }).batchLoss).toEqual(ha.batchLoss);
    expect(() => fit({ step: exe, data: trainSet, epochs: 1, validation: valSet, progress: false })).toThrow(/validation needs an evaluation program/);
    expect(() => fit({ step: exe, data: trainSet, epochs: 1, metrics: ['accuracy'], progress: false })).toThrow(/metrics need the model's predictions/);
    expect(fromExecutables({ train: exe }).hasPredictions).toBe(false);
  });

  it('calls the callbacks in order with positions, and callbacks can add logs', () => {
    const { step } = model();
    const events: string[] = [];
    const cb: Callback = {
      onTrainBegin: (ctx) => events.push(`begin ${ctx.epochs} epochs × ${ctx.numBatches}`),
      onEpochBegin: (e, ctx) => events.push(`epoch ${e} at ${ctx.batch}`),
      onBatchEnd: (info, ctx) => events.push(`batch ${info.epoch}.${info.batch} step ${info.step} rows ${info.rows} ctx ${ctx.batch}`),
      onEpochEnd: (e, logs, ctx) => {
        logs.custom = e * 10;
        events.push(`end ${e} next ${ctx.epoch}.${ctx.batch}`);
      },
      onTrainEnd: (h) => events.push(`done ${h.epochs.length}`),
    };
    const h = fit({ step, data: trainSet, batchSize: 16, epochs: 2, callbacks: [cb], progress: false });
    // epochs from 1 everywhere (as printed); batches indexed from 0 in their epoch
    expect(events).toEqual([
      'begin 2 epochs × 3',
      'epoch 1 at 0',
      'batch 1.0 step 1 rows 16 ctx 1',
      'batch 1.1 step 2 rows 16 ctx 2',
      'batch 1.2 step 3 rows 4 ctx 3',
      'end 1 next 2.0',
      'epoch 2 at 0',
      'batch 2.0 step 4 rows 16 ctx 1',
      'batch 2.1 step 5 rows 16 ctx 2',
      'batch 2.2 step 6 rows 4 ctx 3',
      'end 2 next 3.0',
      'done 2',
    ]);
    expect(h.series('custom')).toEqual([10, 20]);
  });

  it('ctx.stop() mid-epoch stops after that batch and says where', () => {
    const { step } = model();
    const h = fit({
      step,
      data: trainSet,
      batchSize: 8,
      epochs: 5,
      progress: false,
      callbacks: [{ onBatchEnd: (info, ctx) => info.step === 7 && ctx.stop('enough') }],
    });
    expect(h.batchLoss).toHaveLength(7);
    expect(h.epochs).toHaveLength(1); // 5 batches per epoch: epoch 1 done, epoch 2 stopped after 2 batches
    expect(h.stopped).toEqual({ epoch: 2, batch: 2, reason: 'enough' });
  });

  it('terminateOnNaN stops at the first non-finite loss', () => {
    const g = new Graph({ seed: 7 });
    const logits = nn.dense(g.input('x', [null, 3]), 2); // linear: a NaN feature reaches the loss (relu would map it to 0)
    const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, g.input('y', [null], 'int32')), optimizer: optim.sgd({ lr: 0.1 }) });
    const x = trainSet.x.clone();
    x.data[20 * 3] = NaN; // row 20
    const h = fit({ step, data: { x, y: trainSet.y }, batchSize: 36, shuffle: false, epochs: 3, callbacks: [terminateOnNaN()], progress: false });
    expect(h.batchLoss).toHaveLength(1);
    expect(h.stopped?.reason).toMatch(/the loss is NaN at epoch 1, batch 1/);
  });

  it('feeds a host-side learning rate from reduce-on-plateau and logs it', () => {
    const g = new Graph({ seed: 7 });
    const x = g.input('x', [null, 3]);
    const y = g.input('y', [null], 'int32');
    const lr = g.input('lr', [], 'float32');
    const logits = nn.dense(x, 2);
    const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.sgd({ lr }) });
    // patience 0 and an impossible threshold: every epoch after the first counts as a plateau
    const plateau = optim.reduceOnPlateau({ lr: 0.1, factor: 0.5, patience: 0, threshold: 10, thresholdMode: 'abs' });
    const h = fit({ step, data: trainSet, batchSize: 12, epochs: 4, callbacks: [reduceLrOnPlateau(plateau)], progress: false });
    expect(h.series('lr')).toEqual([0.1, 0.1, 0.05, 0.025]);
    expect(plateau.lr).toBe(0.0125);
    const noInput = model();
    expect(() => fit({ step: noInput.step, data: trainSet, epochs: 1, callbacks: [reduceLrOnPlateau(optim.reduceOnPlateau({ lr: 0.1 }))], progress: false })).toThrow(/needs a float scalar input "lr"/);
  });

  it('a resumed run gets the plateau controller\'s state back from the checkpoint', () => {
    const setup = () => {
      const g = new Graph({ seed: 7 });
      const lr = g.input('lr', [], 'float32');
      const logits = nn.dense(g.input('x', [null, 3]), 2);
      const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, g.input('y', [null], 'int32')), optimizer: optim.sgd({ lr }) });
      const plateau = optim.reduceOnPlateau({ lr: 0.5, factor: 0.5, patience: 0, threshold: 10, thresholdMode: 'abs' });
      return { step, plateau };
    };
    const run = (m: ReturnType<typeof setup>, extra: { callbacks?: Callback[]; resume?: Checkpoint } = {}) =>
      fit({ step: m.step, data: trainSet, batchSize: 12, epochs: 4, callbacks: [reduceLrOnPlateau(m.plateau), ...(extra.callbacks ?? [])], resume: extra.resume, progress: false });
    const full = setup();
    const hFull = run(full);
    let doc: unknown;
    run(setup(), { callbacks: [{ onBatchEnd: (info, ctx) => info.step === 8 && ((doc = ctx.checkpoint()), ctx.stop()) }] });
    const again = setup();
    const hResumed = run(again, { resume: parseCheckpoint(doc) });
    expect(hResumed.batchLoss).toEqual(hFull.batchLoss);
    expect(hResumed.series('lr')).toEqual([0.5, 0.5, 0.25, 0.125]);
    expect(again.plateau.lr).toBe(full.plateau.lr);
  });

  it('startEpoch runs from that epoch, on its batches; a checkpoint taken then resumes exactly', () => {
    const loader = data.batches(trainSet, { batchSize: 12, seed: 3 }); // 3 batches per epoch
    const whole = fit({ step: model().step, data: loader, epochs: 4, progress: false });
    // the first epoch trained by hand, then fit continues at epoch 2: the same batches, the same losses
    const m = model();
    for (const b of loader.epoch(1)) m.step.trainBatch(b);
    const events: string[] = [];
    const rest = fit({ step: m.step, data: loader, epochs: 4, startEpoch: 2, progress: false, callbacks: [{ onBatchEnd: (i) => void events.push(`${i.epoch}.${i.batch}:${i.step}`) }] });
    expect(rest.epochs.map((e) => e.epoch)).toEqual([2, 3, 4]);
    expect(rest.batchLoss).toEqual(whole.batchLoss.slice(3));
    expect(events.slice(0, 4)).toEqual(['2.0:1', '2.1:2', '2.2:3', '3.0:4']);
    // stopped mid-epoch 3 with a checkpoint, resumed in a fresh graph
    const n = model();
    for (const b of loader.epoch(1)) n.step.trainBatch(b);
    let doc: unknown;
    fit({ step: n.step, data: loader, epochs: 4, startEpoch: 2, progress: false, callbacks: [{ onBatchEnd: (i, ctx) => i.step === 5 && ((doc = ctx.checkpoint()), ctx.stop()) }] });
    const resumed = fit({ step: model().step, data: loader, epochs: 4, progress: false, resume: parseCheckpoint(doc) });
    expect(resumed.batchLoss).toEqual(rest.batchLoss);
    expect(resumed.epochs.map((e) => e.epoch)).toEqual([2, 3, 4]);
    expect(() => fit({ step: model().step, data: loader, epochs: 4, startEpoch: 0, progress: false })).toThrow(/startEpoch must be an integer ≥ 1, got 0/);
  });

  it('a fit state that disagrees with itself is refused with a message that shows the difference', () => {
    const m = model();
    let doc: Record<string, unknown> = {};
    fit({ step: m.step, data: trainSet, batchSize: 12, epochs: 4, progress: false, callbacks: [{ onEpochEnd: (e, _l, ctx) => e === 2 && ((doc = ctx.checkpoint() as never), ctx.stop()) }] });
    const tampered = (f: (fitState: Record<string, unknown>) => void) => {
      const d = JSON.parse(JSON.stringify(doc)) as { fit: Record<string, unknown> };
      f(d.fit);
      return () => fit({ step: model().step, data: trainSet, batchSize: 12, epochs: 4, progress: false, resume: parseCheckpoint(d) });
    };
    expect((doc as { data: { epoch: number } }).data.epoch).toBe(3);
    // a position stored as text is not the position: both are shown as they are
    expect(tampered((f) => (f.epoch = '3'))).toThrow(/the fit state's position \(epoch "3", batch 0\) disagrees with the data position \(epoch 3, batch 0\)/);
    // a step count that is not the position's
    expect(tampered((f) => (f.step = 7))).toThrow(/the fit state counts 7 batches trained, but \(epoch 3, batch 0\) with 3 batches per epoch is 6/);
    expect(tampered((f) => (f.step = -1))).toThrow(/the fit state's step count is -1, not a non-negative integer/);
    expect(tampered((f) => (f.version = 7))).toThrow(/the fit state has version 7; this library resumes version 2/);
  });

  it('refuses bad options with TrainErrors that say what to do', () => {
    const { step } = model();
    const loader = data.batches(trainSet, { batchSize: 8 });
    expect(() => fit({ step, data: trainSet, epochs: -1, progress: false })).toThrow(/epochs must be an integer ≥ 0/);
    expect(() => fit({ step, data: trainSet, epochs: 1, lr: 3 } as never)).toThrow(/unknown option "lr"/);
    expect(() => fit({ step, data: loader, batchSize: 4, epochs: 1, progress: false })).toThrow(/set them in data.batches/);
    expect(() => fit({ step, data: [1, 2] as never, epochs: 1, progress: false })).toThrow(TrainError);
    expect(() => fit({ step: {} as never, data: trainSet, epochs: 1, progress: false })).toThrow(/step must be a TrainingStep/);
    expect(() => fit({ step, data: trainSet, epochs: 1, metrics: ['f1' as never], progress: false })).toThrow(/unknown metric "f1"/);
    expect(() => fit({ step, data: trainSet, epochs: 1, metrics: ['accuracy', 'accuracy'], progress: false })).toThrow(/listed twice/);
    expect(() => fit({ step, data: trainSet, epochs: 1, progress: 'fancy' as never })).toThrow(/progress must be/);
    expect(() => fit({ step, data: trainSet, epochs: 1, callbacks: [{ onEpochEnd: 3 } as never], progress: false })).toThrow(/onEpochEnd must be a function/);
    expect(() => fit({ step, data: trainSet, epochs: 1, callbacks: [earlyStopping(), earlyStopping()], progress: false })).toThrow(/two callbacks have the key "earlyStopping"/);
    expect(() => fit({ step, data: trainSet, epochs: 1, earlyStopping: { monitor: 'valAccuracy' }, progress: false })).toThrow(/monitor "valAccuracy" is not in the epoch logs; they have loss \(pass `validation`/);
    expect(() => fit({ step, data: { x: trainSet.x }, epochs: 1, metrics: ['accuracy'], progress: false })).toThrow(/no y/);
  });

  it('0 epochs trains nothing; evaluate and predict work standalone, in batches too', () => {
    const { step, g } = model();
    const before = g.snapshot();
    const h = fit({ step, data: trainSet, epochs: 0, progress: false });
    expect(h.epochs).toEqual([]);
    expect(Array.from(g.getValue('dense/kernel').data)).toEqual(Array.from(before.values.get('dense/kernel')!.data));
    const whole = predict(step, valSet);
    const chunked = predict(step, valSet, { batchSize: 5 });
    expect(chunked.shape).toEqual(whole.shape);
    expect(Array.from(chunked.data)).toEqual(Array.from(whole.data));
    const e1 = evaluate(step, valSet, { metrics: ['accuracy'] });
    const e2 = evaluate(step, valSet, { metrics: ['accuracy'], batchSize: 5 });
    expect(e2.accuracy).toBe(e1.accuracy);
    expect(e2.loss).toBeCloseTo(e1.loss, 6); // row-weighted mean of batch means
  });
});

describe('early stopping in fit', () => {
  /** Injects a scripted score into each epoch's logs, before early stopping sees them. */
  const scripted = (scores: number[]): Callback => ({ onEpochEnd: (e, logs) => void (logs.score = scores[e - 1]) });

  it('stops after `patience` epochs without improvement and restores the best epoch\'s params', () => {
    const { step, g } = model();
    const snapshots: Map<string, Tensor>[] = [];
    const recorder: Callback = { onEpochEnd: () => void snapshots.push(g.snapshot().values as Map<string, Tensor>) };
    const scores = [0.5, 0.7, 0.9, 0.8, 0.85, 0.6, 0.95, 0.99];
    const stopper = earlyStopping({ monitor: 'score', mode: 'max', patience: 3, restoreBest: true });
    const h = fit({ step, data: trainSet, batchSize: 12, epochs: 8, callbacks: [scripted(scores), stopper, recorder], progress: false });
    expect(h.epochs).toHaveLength(6); // best at epoch 3; epochs 4, 5, 6 don't beat it
    expect(h.stopped?.reason).toBe('early stopping: score did not improve for 3 epochs (best 0.9000 at epoch 3)');
    // one numbering: the message, the stopper, the history and the epoch logs all say epoch 3
    expect(stopper.bestEpoch).toBe(3);
    expect(h.restoredEpoch).toBe(3);
    expect(h.epochs[h.restoredEpoch! - 1].epoch).toBe(3);
    expect(h.stopped?.epoch).toBe(6);
    expect(stopper.stoppedEpoch).toBe(6);
    for (const p of g.variables()) expect(Array.from(g.getValue(p).data), p.name).toEqual(Array.from(snapshots[2].get(p.name!)!.data));
    expect(Array.from(g.getValue('dense/kernel').data)).not.toEqual(Array.from(snapshots[5].get('dense/kernel')!.data));
  });

  it('follows Keras: minDelta, min mode, baseline, startFromEpoch, patience 0', () => {
    const run = (scores: number[], opts: Parameters<typeof earlyStopping>[0]) => {
      const { step } = model();
      return fit({ step, data: trainSet, batchSize: 36, epochs: scores.length, callbacks: [scripted(scores), earlyStopping({ monitor: 'score', ...opts })], progress: false }).epochs.length;
    };
    // min mode (auto for a non-accuracy name): 0.95 and 0.92 are within minDelta 0.1 of 1.0
    expect(run([1, 0.95, 0.92, 0.5, 0.4], { patience: 2, minDelta: 0.1 })).toBe(3);
    expect(run([1, 0.95, 0.92, 0.5, 0.4], { patience: 2 })).toBe(5);
    // nothing beats the baseline: stops after patience epochs
    expect(run([3, 2.5, 2.4, 1, 1], { patience: 3, baseline: 2 })).toBe(3);
    // warm-up epochs are not counted
    expect(run([5, 6, 7, 1, 2, 3], { patience: 2, startFromEpoch: 3 })).toBe(6);
    // patience 0 stops at the first epoch without improvement
    expect(run([3, 2, 2.5, 1], { patience: 0 })).toBe(3);
    // max mode is chosen automatically for accuracy-like names
    expect(earlyStopping({ monitor: 'valAccuracy' }).mode).toBe('max');
    expect(earlyStopping({ monitor: 'valR2' }).mode).toBe('max');
    expect(earlyStopping({ monitor: 'valMae' }).mode).toBe('min');
  });

  it('an EarlyStopping object used for a second fit starts afresh', () => {
    const stopper = earlyStopping({ monitor: 'score', patience: 1 });
    const a = model();
    const h1 = fit({ step: a.step, data: trainSet, batchSize: 36, epochs: 4, callbacks: [scripted([1, 2, 3, 4]), stopper], progress: false });
    expect(h1.epochs).toHaveLength(2);
    // scores above the first run's best (1) would never count if the old best were kept
    const h2 = fit({ step: a.step, data: trainSet, batchSize: 36, epochs: 3, callbacks: [scripted([9, 8, 7]), stopper], progress: false });
    expect(h2.epochs).toHaveLength(3);
    expect(stopper.best).toBe(7);
  });

  it('monitors valLoss by default with validation data, loss without', () => {
    const a = model();
    const es1 = earlyStopping({ patience: 100 });
    fit({ step: a.step, data: trainSet, epochs: 1, validation: valSet, callbacks: [es1], progress: false });
    expect(es1.monitor).toBe('valLoss');
    const es2 = earlyStopping({ patience: 100 });
    fit({ step: a.step, data: trainSet, epochs: 1, callbacks: [es2], progress: false });
    expect(es2.monitor).toBe('loss');
    expect(() => earlyStopping({ patience: -1 })).toThrow(/patience must be an integer ≥ 0/);
    expect(() => earlyStopping({ mode: 'up' as never })).toThrow(/mode must be one of/);
    expect(() => earlyStopping({ restoreBest: 'yes' as never })).toThrow(/restoreBest must be a boolean/);
  });
});

describe('modelCheckpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradgraph-fit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const scripted = (scores: number[]): Callback => ({ onEpochEnd: (e, logs) => void (logs.score = scores[e - 1]) });

  it('saves at new bests only, with the position in the file name', () => {
    const { step } = model();
    const saver = modelCheckpoint({ path: ({ epoch }) => join(dir, `best-${epoch}.json`), saveBestOnly: true, monitor: 'score', mode: 'max' });
    fit({ step, data: trainSet, batchSize: 36, epochs: 5, callbacks: [scripted([1, 3, 2, 4, 4]), saver], progress: false });
    expect(saver.saved.map((p) => p.slice(dir.length + 1))).toEqual(['best-1.json', 'best-2.json', 'best-4.json']);
    const ckpt = readCheckpoint(saver.saved[2]);
    expect(ckpt.data).toMatchObject({ epoch: 5, batch: 0 }); // saved after epoch 4: the run continues at epoch 5
  });

  it('saves every n batches, mid-epoch', () => {
    const { step } = model();
    const saver = modelCheckpoint({ path: ({ step: s }) => join(dir, `step-${s}.json`), everyBatches: 4, atEpochEnd: false });
    fit({ step, data: trainSet, batchSize: 12, epochs: 3, callbacks: [saver], progress: false }); // 3 batches per epoch
    expect(saver.saved.map((p) => p.slice(dir.length + 1))).toEqual(['step-4.json', 'step-8.json']);
    expect(readCheckpoint(saver.saved[0]).data).toMatchObject({ epoch: 2, batch: 1 }); // 4 batches: epoch 1's three and one of epoch 2
    expect(() => modelCheckpoint({ path: '' })).toThrow(/path must be a file path/);
    expect(() => modelCheckpoint({ path: 'x', everyBatches: -2 })).toThrow(/everyBatches must be an integer ≥ 0/);
  });
});

describe('progress stays out of the way', () => {
  it('progress: false writes nothing', () => {
    const { step } = model();
    const spy = vi.spyOn(process.stdout, 'write');
    try {
      fit({ step, data: trainSet, epochs: 1, progress: false });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('History', () => {
  it('round-trips through JSON, NaN losses included', () => {
    const h = new History();
    h.epochs.push({ epoch: 1, loss: 0.5, valLoss: NaN } as EpochLogs);
    h.batchLoss.push(0.25, NaN, Infinity);
    h.epochTime.push(12);
    h.stopped = { epoch: 1, batch: 3, reason: 'x' };
    h.restoredEpoch = 1;
    const doc = JSON.parse(JSON.stringify(h.toJSON()));
    const back = History.fromJSON(doc);
    expect(back.epochs[0].epoch).toBe(1);
    expect(back.epochs[0].valLoss).toBeNaN();
    expect(back.batchLoss).toEqual([0.25, NaN, Infinity]);
    expect(back.stopped).toEqual(h.stopped);
    expect(back.restoredEpoch).toBe(1);
    expect(() => History.fromJSON({ epochs: 3 })).toThrow(TrainError);
    // a document without a version counted epochs from 0: it reads as the same run, numbered from 1
    const old = History.fromJSON({ epochs: [{ epoch: 0, loss: 0.5 }, { epoch: 1, loss: 0.4 }], batchLoss: [], epochTime: [], stopped: { epoch: 1, batch: 2, reason: 'x' }, restoredEpoch: 0 });
    expect(old.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(old.stopped?.epoch).toBe(2);
    expect(old.restoredEpoch).toBe(1);
    expect(() => History.fromJSON({ ...doc, version: 9 })).toThrow(/unsupported history version 9/);
    expect(() => History.fromJSON({ ...doc, epochs: [{ epoch: 0, loss: 1 }] })).toThrow(/needs an epoch number \(from 1\)/);
  });
});
