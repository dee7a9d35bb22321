import { Graph, Tensor, compile, grad } from '@gradgraph/core';
import { describe, expect, it } from 'vitest';
import * as nn from '../nn/index';
import * as optim from '../optim/index';
import { TrainError } from './errors';
import { fromExecutables, trainingStep } from './step';

function dropoutModel(seed = 3, dtype: 'float32' | 'float64' = 'float32') {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 3], dtype);
  const y = g.input('y', [null], 'int32');
  const logits = nn.dense(nn.dropout(nn.relu(nn.dense(x, 8)), 0.5), 2);
  const loss = nn.softmaxCrossEntropy(logits, y);
  return { g, x, y, logits, loss };
}

const xs = Tensor.from([[1, 2, 3], [-1, 0, 2], [0.5, -2, 1], [2, 2, -1]]);
const ys = Tensor.from([0, 1, 1, 0], 'int32');

describe('trainingStep', () => {
  it('trains in training mode and evaluates in evaluation mode (dropout on, then off)', () => {
    const { g, loss, logits } = dropoutModel();
    const step = trainingStep({ loss, predictions: logits, optimizer: optim.sgd({ lr: 0 }) });
    expect(step.feeds({ x: xs, y: ys }, true).training).toBe(true);
    expect(step.feeds({ x: xs, y: ys }, false).training).toBe(false);
    // lr 0: params never change, so differences come from the mode alone
    const e1 = step.evalBatch({ x: xs, y: ys });
    const e2 = step.evalBatch({ x: xs, y: ys });
    expect(e2.loss).toBe(e1.loss); // no dropout in evaluation: deterministic
    const t1 = step.trainBatch({ x: xs, y: ys });
    const t2 = step.trainBatch({ x: xs, y: ys });
    expect(t1.loss).not.toBe(e1.loss); // masks drawn
    expect(t2.loss).not.toBe(t1.loss); // a new mask each run (the RNG counter moved)
    expect(Array.from(step.predictBatch(xs).data)).toEqual(Array.from(e1.predictions!.data));
    expect(g.rngCounter).toBeGreaterThan(0);
  });

  it('applies the optimizer and normalization updates in one program', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 3]);
    const y = g.input('y', [null], 'int32');
    const logits = nn.dense(nn.batchNorm(nn.dense(x, 4)), 2);
    const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.1 }) });
    const before = g.snapshot();
    step.trainBatch({ x: xs, y: ys });
    const after = g.snapshot();
    for (const name of ['dense/kernel', 'batchNorm/runningMean', 'batchNorm/runningVar', 'adam/step']) {
      expect(Array.from(after.values.get(name)!.data), name).not.toEqual(Array.from(before.values.get(name)!.data));
    }
    // evaluation leaves every value alone
    const mid = g.snapshot();
    step.evalBatch({ x: xs, y: ys });
    for (const [name, t] of g.snapshot().values) expect(Array.from(t.data), name).toEqual(Array.from(mid.values.get(name)!.data));
  });

  it('casts float data to a float64 model and clips gradients when asked', () => {
    const { loss, logits } = dropoutModel(3, 'float64');
    const step = trainingStep({ loss, predictions: logits, optimizer: optim.sgd({ lr: 0.1 }), clipNorm: 1e-3 });
    expect((step.feeds({ x: xs, y: ys }, true).x as Tensor).dtype).toBe('float64');
    const r = step.trainBatch({ x: xs, y: ys });
    expect(r.predictions!.dtype).toBe('float64');
  });

  it('a custom feed function and named inputs', () => {
    const g = new Graph({ seed: 0 });
    const a = g.input('features', [null, 3]);
    const t = g.input('target', [null, 1]);
    const pred = nn.dense(a, 1);
    const loss = nn.mse(pred, t);
    const s1 = trainingStep({ loss, predictions: pred, optimizer: optim.sgd({ lr: 0.01 }), x: a, y: 'target' });
    expect(s1.x).toBe('features');
    expect(s1.y).toBe('target');
    const yCol = Tensor.from([[1], [2], [3], [4]]);
    const r1 = s1.evalBatch({ x: xs, y: yCol });
    const s2 = trainingStep({ loss, predictions: pred, optimizer: optim.sgd({ lr: 0.01 }), feed: (b) => ({ features: b.x, target: b.y! }) });
    expect(s2.evalBatch({ x: xs, y: yCol }).loss).toBe(r1.loss);
  });

  it('refuses a non-scalar loss, a missing optimizer, unknown options and a graph without x', () => {
    const { g, loss, logits } = dropoutModel();
    expect(() => trainingStep({ loss: logits, optimizer: optim.sgd({ lr: 0.1 }) })).toThrow(/loss must be a scalar/);
    expect(() => trainingStep({ loss, optimizer: {} as never })).toThrow(/optimizer must be an optimizer/);
    expect(() => trainingStep({ loss, optimizer: optim.sgd({ lr: 0.1 }), lr: 1 } as never)).toThrow(/unknown option "lr"/);
    expect(() => trainingStep({ loss, optimizer: optim.sgd({ lr: 0.1 }), y: 'labels' })).toThrow(TrainError);
    const h = new Graph();
    const inp = h.input('inp', [2]);
    const w = h.param('w', Tensor.ones([2]));
    expect(() => trainingStep({ loss: inp.mul(w).sum(), optimizer: optim.sgd({ lr: 0.1 }) })).toThrow(/no input named "x"/);
    expect(g.params().length).toBeGreaterThan(0);
  });
});

describe('fromExecutables', () => {
  it('wraps user-compiled programs: loss is output 0, predictions output 1', () => {
    const { g, loss, logits } = dropoutModel();
    const params = g.params();
    const opt = optim.adam({ lr: 0.01 });
    const trainExe = compile(g, { outputs: [loss, logits], updates: [...opt.updates(params, grad(loss, params)), ...nn.stateUpdates(g)] });
    const evalExe = compile(g, { outputs: [loss, logits] });
    const step = fromExecutables({ train: trainExe, evaluate: evalExe });
    expect(step.hasPredictions).toBe(true);
    const r = step.trainBatch({ x: xs, y: ys });
    expect(r.predictions!.shape).toEqual([4, 2]);
    expect(() => step.predictBatch(xs)).toThrow(/no prediction program/);
    // a training program alone cannot validate
    const bare = fromExecutables({ train: trainExe });
    expect(() => bare.evalBatch({ x: xs, y: ys })).toThrow(/no evaluation program/);
  });

  it('refuses a non-scalar output 0 with a hint', () => {
    const { g, logits } = dropoutModel();
    const step = fromExecutables({ train: compile(g, { outputs: [logits] }) });
    expect(() => step.trainBatch({ x: xs, y: ys })).toThrow(/output 0 must be the scalar loss/);
    expect(() => fromExecutables({ train: {} as never })).toThrow(TrainError);
  });
});
