/**
 * Resuming and reproducing runs, end to end: a model with dropout (random masks keyed by the RNG
 * counter), batchNorm (running statistics as state), Adam (moments and step as state), shuffled
 * mini-batches (an order per epoch), validation, a metric and early stopping with restore-best
 * (callback state). A run stopped at any batch and resumed from its checkpoint, in a fresh graph
 * built the same way, continues bit for bit like the run that was never stopped; two runs with
 * the same seed are bit-identical, and changing either seed changes the losses.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, SerializationError, type Tensor } from '@gradgraph/core';
import { data, nn, optim, train } from '@gradgraph/ops';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'gradgraph-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { train: trainSet, val: valSet, fit: scaler } = data.standardize(data.trainValTestSplit(data.loadIris(), { valSize: 0.2, testSize: 0.2, seed: 0, stratify: true }));

const EPOCHS = 4;

/** The same code builds the model every time: graph seed for init and dropout, data seed for the shuffles. */
function build(seed = 11, dataSeed = 5) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 4]);
  const y = g.input('y', [null], 'int32');
  const h = nn.dropout(nn.relu(nn.batchNorm(nn.dense(x, 12))), 0.3);
  const logits = nn.dense(h, 3);
  const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.02 }) });
  const loader = data.batches(trainSet, { batchSize: 16, seed: dataSeed }); // 90 rows: 6 batches, the last of 10
  return { g, step, loader };
}

type Run = ReturnType<typeof build>;

function fitRun(m: Run, extra: Partial<train.FitOptions> = {}): train.History {
  return train.fit({
    step: m.step,
    data: m.loader,
    epochs: EPOCHS,
    validation: valSet,
    metrics: ['accuracy'],
    earlyStopping: { patience: 50, restoreBest: true },
    preprocessing: { x: scaler },
    config: { hidden: 12, dropout: 0.3 },
    progress: false,
    ...extra,
  });
}

/** Positions where bit patterns differ (Object.is: NaN equals NaN, 0 differs from −0). */
function mismatches(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

function bytesOf(g: Graph): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, t] of g.snapshot().values) out[name] = Buffer.from((t as Tensor).data.buffer, (t as Tensor).data.byteOffset, (t as Tensor).data.byteLength).toString('hex');
  return out;
}

const reference = build();
const full = fitRun(reference);
const perEpoch = reference.loader.numBatches;

describe('resuming from a checkpoint', () => {
  it('the uninterrupted run is what the checks compare against', () => {
    expect(perEpoch).toBe(6);
    expect(full.batchLoss).toHaveLength(EPOCHS * perEpoch);
    expect(full.stopped).toBeNull();
    expect(full.restoredEpoch).not.toBeNull();
  });

  // mid-epoch; after the last batch of an epoch, before its end (validation, logs) ran; at an epoch's end
  const stops = [
    { name: 'mid-epoch (epoch 2, after batch 3 of 6)', at: 'batch' as const, step: 9 },
    { name: 'after the last batch of epoch 1, before its end', at: 'batch' as const, step: 6 },
    { name: 'at the end of epoch 2', at: 'epoch' as const, epoch: 2 },
  ];

  for (const stop of stops) {
    it(`continues bit for bit when stopped ${stop.name}`, () => {
      const path = join(dir, `${stop.at}-${stop.step ?? stop.epoch}.ckpt.json`);
      const saver: train.Callback =
        stop.at === 'batch'
          ? { onBatchEnd: (info, ctx) => info.step === stop.step && (ctx.saveCheckpoint(path), ctx.stop('simulated crash')) }
          : { onEpochEnd: (e, _logs, ctx) => e === stop.epoch && (ctx.saveCheckpoint(path), ctx.stop('simulated crash')) };
      const interrupted = fitRun(build(), { callbacks: [saver] });
      expect(interrupted.stopped?.reason).toBe('simulated crash');

      // a fresh process: the same code builds the model, the checkpoint brings everything else
      const fresh = build();
      const ckpt = train.readCheckpoint(path);
      // the epoch in progress when it was saved (from 1): after an epoch's end, the next one
      expect(ckpt.data).toMatchObject({ epoch: stop.at === 'batch' ? Math.floor((stop.step! - 1) / perEpoch) + 1 : stop.epoch! + 1 });
      const resumed = fitRun(fresh, { resume: ckpt });

      expect(mismatches(resumed.batchLoss, full.batchLoss)).toEqual([]);
      expect(resumed.epochs).toHaveLength(EPOCHS);
      for (let e = 0; e < EPOCHS; e++) {
        for (const key of ['loss', 'accuracy', 'valLoss', 'valAccuracy']) expect(Object.is(resumed.epochs[e][key], full.epochs[e][key]), `epoch ${e} ${key}`).toBe(true);
      }
      expect(resumed.restoredEpoch).toBe(full.restoredEpoch);
      expect(resumed.epochTime).toHaveLength(EPOCHS); // NaN for the epochs finished before the resume
      expect(bytesOf(fresh.g)).toEqual(bytesOf(reference.g));
      expect(fresh.g.rngCounter).toBe(reference.g.rngCounter);
    });
  }

  it('the check is sensitive: a wrong RNG counter changes the following losses, other batches are refused', () => {
    const path = join(dir, 'control.ckpt.json');
    fitRun(build(), { callbacks: [{ onBatchEnd: (info, ctx) => info.step === 9 && (ctx.saveCheckpoint(path), ctx.stop()) }] });
    // the same run again writes the same bytes (no wall-clock time in checkpoints)
    const twin = join(dir, 'control-twin.ckpt.json');
    fitRun(build(), { callbacks: [{ onBatchEnd: (info, ctx) => info.step === 9 && (ctx.saveCheckpoint(twin), ctx.stop()) }] });
    expect(readFileSync(twin, 'utf8')).toBe(readFileSync(path, 'utf8'));
    const doc = JSON.parse(readFileSync(path, 'utf8')) as train.CheckpointDocument;
    doc.rngCounter += 1; // other dropout masks from here on
    const off = fitRun(build(), { resume: train.parseCheckpoint(doc) });
    expect(mismatches(off.batchLoss.slice(0, 9), full.batchLoss.slice(0, 9))).toEqual([]);
    expect(mismatches(off.batchLoss, full.batchLoss).length).toBeGreaterThan(0);

    // a tampered callback state is refused before anything is written
    const tampered = JSON.parse(readFileSync(path, 'utf8')) as train.CheckpointDocument & { fit: { callbacks: { earlyStopping: { bestValues: Record<string, { shape: number[] }> } } } };
    tampered.fit.callbacks.earlyStopping.bestValues['dense/kernel'].shape = [12, 4];
    const victim = build();
    const untouched = bytesOf(victim.g);
    expect(() => fitRun(victim, { resume: train.parseCheckpoint(tampered) })).toThrow(/cannot resume: cannot restore early stopping: the best snapshot's "dense\/kernel" is float32\[12, 4\], the graph's is float32\[4, 12\]/);
    expect(bytesOf(victim.g)).toEqual(untouched);

    // different batches (another shuffle seed) cannot continue the run: refused before anything is written
    const other = build(11, 6);
    const before = bytesOf(other.g);
    expect(() => fitRun(other, { resume: train.readCheckpoint(path) })).toThrow(/the training data differs from the checkpoint's: seed is 6 here, 5 in the checkpoint/);
    expect(() => fitRun(other, { resume: train.readCheckpoint(path) })).toThrow(SerializationError);
    expect(bytesOf(other.g)).toEqual(before);
    // and a model built differently is refused too
    const g2 = new Graph({ seed: 11 });
    const logits = nn.dense(nn.relu(nn.dense(g2.input('x', [null, 4]), 12)), 3);
    const step2 = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, g2.input('y', [null], 'int32')), predictions: logits, optimizer: optim.adam({ lr: 0.02 }) });
    expect(() => train.fit({ step: step2, data: data.batches(trainSet, { batchSize: 16, seed: 5 }), epochs: EPOCHS, validation: valSet, metrics: ['accuracy'], earlyStopping: { patience: 50, restoreBest: true }, progress: false, resume: train.readCheckpoint(path) })).toThrow(
      /the checkpoint has no value for param "batchNorm\/gamma"|has "batchNorm\/gamma", which is not a param/,
    );
  });

  it('the checkpoint carries the preprocessing fit, the config and the manifest', () => {
    const path = join(dir, 'meta.ckpt.json');
    fitRun(build(), { callbacks: [train.modelCheckpoint({ path, atEpochEnd: true })], epochs: 1 });
    const ckpt = train.readCheckpoint(path);
    expect(ckpt.preprocessing.x).toEqual(scaler);
    expect(ckpt.manifest.config).toEqual({ hidden: 12, dropout: 0.3 });
    expect(ckpt.manifest.seed).toBe(11);
    expect(ckpt.manifest.optimizer?.name).toBe('adam');
    expect(ckpt.manifest.graphHash).toBe(train.graphHash(build().g));
    expect(ckpt.data).toEqual({ epoch: 2, batch: 0, ...reference.loader.config }); // saved at the end of epoch 1: epoch 2 is next
  });
});

describe('reproducibility', () => {
  it('two runs with the same seeds are bit-identical: losses, metrics, params, checkpoint files', () => {
    const a = build();
    const b = build();
    const ha = fitRun(a);
    const hb = fitRun(b);
    expect(mismatches(ha.batchLoss, hb.batchLoss)).toEqual([]);
    expect(mismatches(ha.series('valLoss'), hb.series('valLoss'))).toEqual([]);
    expect(mismatches(ha.series('accuracy'), hb.series('accuracy'))).toEqual([]);
    expect(mismatches(ha.batchLoss, full.batchLoss)).toEqual([]);
    expect(bytesOf(a.g)).toEqual(bytesOf(b.g));
    expect(JSON.stringify(train.checkpoint(a.g, { data: { loader: a.loader, epoch: EPOCHS + 1, batch: 0 } }))).toBe(JSON.stringify(train.checkpoint(b.g, { data: { loader: b.loader, epoch: EPOCHS + 1, batch: 0 } })));
  });

  it('a different graph seed (init, dropout) or data seed (shuffles) gives different losses', () => {
    const graphSeed = fitRun(build(12, 5));
    const dataSeed = fitRun(build(11, 6));
    expect(mismatches(graphSeed.batchLoss, full.batchLoss)).toHaveLength(full.batchLoss.length);
    // every batch holds other rows, so every loss differs
    expect(mismatches(dataSeed.batchLoss, full.batchLoss)).toHaveLength(full.batchLoss.length);
  });
});
