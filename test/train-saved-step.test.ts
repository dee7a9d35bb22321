/**
 * Continuing training from a saved graph: `g.toJSON()` keeps the training step's program (loss
 * and predictions by name, every update pair, the optimizer's name and hyperparameters) with the
 * param and state values and the RNG counter, so `Graph.fromJSON` then `train.savedStep(g)`
 * continues with the same Adam moments and step count, batchNorm statistics and dropout masks.
 * With fit's `startEpoch`, the continued run is bit-identical to the one that never stopped.
 * Building a new optimizer on the loaded graph instead (what one had to do before) starts fresh
 * moments in `adam_1/…`, and the losses differ.
 */
import { Graph, compile, type Tensor } from '@gradgraph/core';
import { data, nn, optim, train } from '@gradgraph/ops';
import { describe, expect, it } from 'vitest';

const { train: trainSet } = data.standardize(data.trainTestSplit(data.loadIris(), { testSize: 0.3, seed: 4, stratify: true }));
const loader = () => data.batches(trainSet, { batchSize: 16, seed: 8 }); // 105 rows: 7 batches

function build() {
  const g = new Graph({ seed: 21 });
  const x = g.input('x', [null, 4]);
  const y = g.input('y', [null], 'int32');
  const h = nn.dropout(nn.relu(nn.batchNorm(nn.dense(x, 10))), 0.2);
  const logits = nn.dense(h, 3);
  const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.03 }) });
  return { g, step };
}

function bytesOf(g: Graph): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, t] of g.snapshot().values) out[name] = Buffer.from((t as Tensor).data.buffer, (t as Tensor).data.byteOffset, (t as Tensor).data.byteLength).toString('hex');
  return out;
}

/** Positions where the bit patterns differ. */
const mismatches = (a: readonly number[], b: readonly number[]) => a.map((v, i) => (Object.is(v, b[i]) ? -1 : i)).filter((i) => i >= 0);

const EPOCHS = 6;
const reference = build();
const full = train.fit({ step: reference.step, data: loader(), epochs: EPOCHS, progress: false });

describe('a training step saved in the graph document', () => {
  // the first three epochs, then the graph is saved as text: a process that stops here
  const first = build();
  const h1 = train.fit({ step: first.step, data: loader(), epochs: 3, progress: false });
  const text = JSON.stringify(first.g.toJSON());
  const perEpoch = loader().numBatches;

  it('is in the document: named outputs, every update pair, the optimizer', () => {
    expect(first.step.name).toBe('train');
    const doc = JSON.parse(text) as { programs: Record<string, { outputNames: string[]; updates: unknown[]; meta: { kind: string; optimizer: { name: string; config: { lr: number } } } }> };
    const p = doc.programs.train;
    expect(p.outputNames).toEqual(['loss', 'predictions']);
    // 6 params (two dense layers, batchNorm's γ and β) × (param, m, v) + Adam's step + batchNorm's two running statistics
    expect(first.g.params()).toHaveLength(6);
    expect(p.updates).toHaveLength(6 * 3 + 1 + 2);
    expect(p.meta.kind).toBe('train.trainingStep');
    expect(p.meta.optimizer.name).toBe('adam');
    expect(p.meta.optimizer.config.lr).toBe(0.03);
    expect(mismatches(h1.batchLoss, full.batchLoss.slice(0, 3 * perEpoch))).toEqual([]);
  });

  it('Graph.fromJSON then savedStep continues bit for bit: losses, params, moments, RNG counter', () => {
    const g = Graph.fromJSON(text);
    const step = train.savedStep(g);
    expect(step.optimizer?.name).toBe('adam');
    expect(step.hasPredictions).toBe(true);
    expect(g.stateVars().map((s) => s.name).filter((n) => n!.startsWith('adam'))).not.toContainEqual(expect.stringMatching(/^adam_1\//));
    const rest = train.fit({ step, data: loader(), epochs: EPOCHS, startEpoch: 4, progress: false });
    expect(rest.epochs.map((e) => e.epoch)).toEqual([4, 5, 6]);
    expect(mismatches(rest.batchLoss, full.batchLoss.slice(3 * perEpoch))).toEqual([]);
    expect(rest.loss).toEqual(full.loss.slice(3));
    expect(bytesOf(g)).toEqual(bytesOf(reference.g));
    expect(g.rngCounter).toBe(reference.g.rngCounter);
    // its predictions and evaluation programs work as the original's
    expect(Array.from(train.predict(step, trainSet).data)).toEqual(Array.from(train.predict(reference.step, trainSet).data));
  });

  it('core alone: compile(g, g.program("train")) is the same training program', () => {
    const g = Graph.fromJSON(text);
    const exe = compile(g, g.program('train'));
    const b = loader().batch(4, 0);
    const direct = exe.run({ x: b.x, y: b.y, training: true })[0].item();
    expect(direct).toBe(full.batchLoss[3 * perEpoch]);
  });

  it('a new optimizer on the loaded graph starts from zero moments in adam_1/… (the old way): the losses differ', () => {
    const g = Graph.fromJSON(text);
    const loss = g.program('train').named.loss;
    const logits = g.program('train').named.predictions;
    const fresh = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 0.03 }) });
    expect(fresh.name).toBe('train_1');
    expect(g.stateVars().some((s) => s.name!.startsWith('adam_1/'))).toBe(true);
    const rest = train.fit({ step: fresh, data: loader(), epochs: EPOCHS, startEpoch: 4, progress: false });
    expect(mismatches(rest.batchLoss, full.batchLoss.slice(3 * perEpoch)).length).toBeGreaterThan(0);
    // with two saved steps the name must be given
    expect(() => train.savedStep(g)).toThrow(/the graph has 2 saved training steps \(train, train_1\): pass \{ name \}/);
    expect(train.savedStep(g, { name: 'train' }).name).toBe('train');
  });

  it('refuses what it cannot continue, with TrainErrors', () => {
    expect(() => train.savedStep(new Graph())).toThrow(/the graph has no saved training step; build one with train.trainingStep/);
    expect(() => train.savedStep(Graph.fromJSON(text), { name: 'eval' })).toThrow(/no saved training step named "eval"; it has train/);
    expect(() => train.savedStep(Graph.fromJSON(text), { nam: 'train' } as never)).toThrow(/unknown option "nam"/);
    // a step built with a feed function needs it again
    const g = new Graph({ seed: 1 });
    const a = g.input('a', [null, 4]);
    const b = g.input('b', [null], 'int32');
    const logits = nn.dense(a, 3);
    train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, b), optimizer: optim.sgd({ lr: 0.1 }), feed: (batch) => ({ a: batch.x, b: batch.y! }) });
    const loaded = Graph.fromJSON(JSON.stringify(g.toJSON()));
    expect(() => train.savedStep(loaded)).toThrow(/was built with a feed function, which cannot be saved: pass it again as \{ feed \}/);
    const step = train.savedStep(loaded, { feed: (batch) => ({ a: batch.x, b: batch.y! }) });
    expect(Number.isFinite(step.trainBatch({ x: trainSet.x, y: trainSet.y }).loss)).toBe(true);
    // startEpoch with resume is contradictory
    expect(() => train.fit({ step: build().step, data: loader(), epochs: 2, startEpoch: 2, resume: {} as never, progress: false })).toThrow(/startEpoch and resume both say where to start/);
  });
});
