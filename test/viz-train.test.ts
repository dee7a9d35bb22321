/**
 * viz fed by `train`: a fit with early stopping and a gradient probe as a callback, its history
 * drawn with the stop and the restored epoch marked, the training step drawn as a graph and
 * everything put in a report.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '@gradgraph/core';
import { data, nn, optim, train } from '@gradgraph/ops';
import { buildDot, gradientProbe, lossChart, renderChart, report, toHistory } from '@gradgraph/viz';

function blobs(n: number, seed: number) {
  const noise = Tensor.randn([n, 3], 'float32', seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    rows.push([0, 1, 2].map((j) => noise.data[i * 3 + j] + (c ? 0.4 : -0.4)));
    labels.push(c);
  }
  return data.dataset({ x: rows, y: labels, numClasses: 2 });
}

describe('viz with train.fit', () => {
  it('draws a fit: history with early stop and restored epoch, gradient norms per epoch, the step, a report', async () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 3]);
    const y = g.input('y', [null], 'int32');
    const h = g.scope('hidden', () => nn.relu(nn.dense(x, 8)));
    const logits = g.scope('out', () => nn.dense(h, 2));
    const loss = nn.softmaxCrossEntropy(logits, y);
    const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 0.2 }) });
    const probe = gradientProbe(loss);
    const trainSet = blobs(40, 1);
    const val = blobs(20, 2);
    const history = train.fit({
      step,
      data: data.batches(trainSet, { batchSize: 40, seed: 0 }),
      epochs: 60,
      validation: val,
      metrics: ['accuracy'],
      earlyStopping: { monitor: 'valLoss', patience: 3, minDelta: 1e-3, restoreBest: true },
      callbacks: [probe.callback({ x: trainSet.x, y: trainSet.y! })],
      progress: false,
    });
    expect(history.stopped).not.toBeNull();
    const hv = toHistory(history);
    expect(hv.stoppedAt).toBe(history.stopped!.epoch);
    expect(hv.bestEpoch).toBe(history.restoredEpoch);
    expect(Object.keys(hv.epochs[0].metrics!)).toEqual(['accuracy', 'val_accuracy']);
    const svg = await renderChart(lossChart(history));
    expect(svg).toContain(`stopped early (epoch ${history.stopped!.epoch})`);
    expect(svg).toContain(`best (epoch ${history.restoredEpoch})`);
    expect(svg).toContain('accuracy');
    // the probe ran once per epoch, under the epoch's number
    expect(probe.history().map((r) => r.step)).toEqual(history.epochs.map((e) => e.epoch));
    expect(probe.flow({ window: 3 }).layers.map((l) => l.layer)).toEqual(['hidden', 'out']);
    // a TrainingStep draws as its training executable: forward, backward and Adam's updates
    const r = buildDot(step, { show: 'forward' });
    expect(r.dot).toContain('subgraph "cluster_|hidden"');
    expect(buildDot(step, { show: 'both' }).dot).toContain('label="update"');
    expect(buildDot(step).dot).not.toContain('label="update"'); // the default view is the model, forward
    const html = await report({ graph: step, history, gradients: probe, explain: step.train, manifest: { seed: 3 } });
    expect(html).toContain('stopped early');
    expect(html).toContain('gradient norm per layer');
  }, 60_000);
});
