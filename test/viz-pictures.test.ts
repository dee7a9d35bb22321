/**
 * Pictures checked by what they show, in the rendered SVG: the per-layer bar chart has a visible
 * bar per layer and statistic, the loss chart's annotations don't overlap each other or any
 * other text, a training step is drawn forward with its identical blocks folded, and a deep
 * gradient-flow picture is not one thin column.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '@gradgraph/core';
import { data, nn, optim, train } from '@gradgraph/ops';
import { buildDot, gradientBarChart, gradientFlow, lossChart, renderChart, renderPng, renderSvg, type History } from '@gradgraph/viz';
import { deepNet, trainToy } from './viz-fixtures';
import { overlap, svgSize, textBoxes, vegaBars } from './svg-inspect';

const feeds = { x: Tensor.randn([32, 8], 'float32', 1), y: Tensor.randn([32, 1], 'float32', 2) };

describe('the per-layer gradient bar chart', () => {
  it.each(['sigmoid-naive', 'relu-he'] as const)('%s: one visible bar per layer and statistic, max above mean', async (kind) => {
    const flow = gradientFlow(deepNet(kind, 20).loss, feeds);
    const bars = vegaBars(await renderChart(gradientBarChart(flow)));
    expect(bars).toHaveLength(2 * flow.layers.length);
    for (const l of flow.layers) {
      const of = (stat: string) => bars.filter((b) => b.label.startsWith(`layer: ${l.layer};`) && b.label.includes(`stat: ${stat}`));
      const [max] = of('max |grad|');
      const [mean] = of('mean |grad|');
      expect(of('max |grad|')).toHaveLength(1);
      expect(of('mean |grad|')).toHaveLength(1);
      // a bar of a few pixels at least (the chart is 220 px tall and spans ~8 decades)
      expect(max.height, l.layer).toBeGreaterThan(5);
      expect(mean.height, l.layer).toBeGreaterThan(5);
      expect(max.height).toBeGreaterThanOrEqual(mean.height);
    }
  });

  it('zeros are short stubs, below every real bar; an exploded (infinite) gradient fills the axis', async () => {
    const flow = gradientFlow(deepNet('relu-he', 4).loss, feeds);
    const layers = flow.layers.map((l, i) => (i === 0 ? { ...l, meanAbs: 0, maxAbs: 0 } : i === 1 ? { ...l, maxAbs: Infinity } : l));
    const bars = vegaBars(await renderChart(gradientBarChart({ ...flow, layers })));
    const height = (layer: string, stat: string) => bars.find((b) => b.label.startsWith(`layer: ${layer};`) && b.label.includes(`stat: ${stat}`))!.height;
    const zero = height(layers[0].layer, 'max |grad|');
    expect(zero).toBeGreaterThan(0);
    for (const l of layers.slice(1)) expect(height(l.layer, 'mean |grad|')).toBeGreaterThan(zero);
    expect(height(layers[1].layer, 'max |grad|')).toBeGreaterThan(Math.max(...bars.map((b) => b.height)) - 0.5);
  });
});

describe('the loss chart', () => {
  const synthetic = (n: number, best: number, stopped?: number): History => ({
    epochs: Array.from({ length: n }, (_, i) => ({ epoch: i + 1, loss: 1 / (i + 1) + 0.05, valLoss: 1 / (i + 1) + 0.1 + (i + 1 > best ? 0.01 * (i + 1 - best) : 0), metrics: { accuracy: 1 - 1 / (i + 2), val_accuracy: 1 - 1 / (i + 3) } })),
    bestEpoch: best,
    ...(stopped !== undefined ? { stoppedAt: stopped } : {}),
  });
  const cases: [string, History][] = [
    ['best 92, stopped early at 107 (the demo)', synthetic(107, 92, 107)],
    ['best and stopped one epoch apart', synthetic(40, 39, 40)],
    ['best and stopped at the same epoch', synthetic(12, 12, 12)],
    ['a short run stopped at epoch 3', synthetic(3, 2, 3)],
    ['best early in a long run', synthetic(200, 5, 200)],
    ['no early stop', synthetic(20, 17)],
  ];

  it.each(cases)('%s: the annotations overlap no other text and stay inside the picture', async (_, history) => {
    const svg = await renderChart(lossChart(history, { title: 'training' }));
    const { width, height } = svgSize(svg);
    const boxes = textBoxes(svg);
    const marks = boxes.filter((b) => /^(best|stopped early) \(epoch \d+\)$/.test(b.text));
    expect(marks).toHaveLength(history.stoppedAt !== undefined ? 2 : 1);
    for (const m of marks) {
      expect(m.x).toBeGreaterThanOrEqual(0);
      expect(m.y).toBeGreaterThanOrEqual(0);
      expect(m.x + m.width).toBeLessThanOrEqual(width);
      expect(m.y + m.height).toBeLessThanOrEqual(height);
      for (const other of boxes) if (other !== m) expect(overlap(m, other), `"${m.text}" overlaps "${other.text}"`).toBe(false);
    }
  });

  it('a real early-stopped run (train.fit on iris): marks at its 1-based best and last epochs', async () => {
    const iris = data.loadIris();
    const { train: trainSet, val } = data.standardize(data.trainValTestSplit(iris, { valSize: 0.2, testSize: 0.1, seed: 3, stratify: true }));
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 4]);
    const y = g.input('y', [null], 'int32');
    const logits = nn.dense(nn.relu(nn.dense(x, 8)), 3);
    const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.05 }) });
    const history = train.fit({ step, data: data.batches(trainSet, { batchSize: 16, seed: 3 }), epochs: 200, validation: val, metrics: ['accuracy'], earlyStopping: { patience: 5, restoreBest: true }, progress: false });
    expect(history.stopped).not.toBeNull();
    const svg = await renderChart(lossChart(history));
    const marks = textBoxes(svg, (t) => /^(best|stopped early)/.test(t));
    expect(marks.map((m) => m.text).sort()).toEqual([`best (epoch ${history.restoredEpoch})`, `stopped early (epoch ${history.epochs.length})`]);
    expect(overlap(marks[0], marks[1])).toBe(false);
  });
});

describe('graph pictures', () => {
  it("a training step's default view is its forward graph with identical blocks folded", async () => {
    const g = new Graph({ seed: 0 });
    const x = g.input('x', [null, 8]);
    const y = g.input('y', [null], 'int32');
    let h = x;
    for (let i = 0; i < 8; i++) h = nn.relu(nn.dense(h, 16));
    const logits = nn.dense(h, 3);
    const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.01 }) });
    const r = buildDot(step);
    expect(r.dot).toBe(buildDot(step, { show: 'forward' }).dot);
    const phases = new Set([...r.units.values()].filter((u) => u.kind === 'node').map((u) => u.node!.phase));
    expect(phases).toEqual(new Set(['forward']));
    expect([...r.units.values()].filter((u) => u.kind === 'repeat').map((u) => u.title)).toEqual(['×6 more like dense_1']);
    const both = buildDot(step, { show: 'both' });
    expect(r.stats.drawnNodes).toBeLessThan(both.stats.drawnNodes);
    expect([...both.units.values()].some((u) => u.node?.phase === 'backward')).toBe(true);
    const { width, height } = svgSize(await renderSvg(r.dot));
    expect(Math.max(width, height)).toBeLessThan(1500); // points: a page, not a poster
  });

  it('a 20-layer gradient-flow picture is wrapped into columns: not a thin strip', async () => {
    const { g, loss } = deepNet('sigmoid-naive', 20);
    const flow = gradientFlow(loss, feeds);
    const r = buildDot(g, { show: 'forward', collapse: 1, repeats: false, gradients: flow, gradientLabels: true, title: 'gradient flow' });
    const svg = await renderSvg(r.dot);
    const { width, height } = svgSize(svg);
    expect(height / width).toBeLessThan(2);
    expect(width / height).toBeLessThan(2);
    // the PNG keeps the ratio
    const png = renderPng(svg, { width: 800 });
    const view = new DataView(png.buffer, png.byteOffset);
    expect(view.getUint32(16) / view.getUint32(20)).toBeCloseTo(width / height, 1);
    // unwrapped, the same picture is a column more than three times as tall as wide
    const column = svgSize(await renderSvg(buildDot(g, { show: 'forward', collapse: 1, repeats: false, gradients: flow, wrap: false }).dot));
    expect(column.height / column.width).toBeGreaterThan(3);
    // every layer is still drawn, and every edge between layers too
    for (let l = 1; l <= 20; l++) expect(svg).toContain(`layer${String(l).padStart(2, '0')}`);
  });

  it('the toy training step (three blocks of learnable activations) is drawn forward and not wrapped needlessly', async () => {
    const toy = trainToy({ epochs: 3 });
    const r = buildDot(toy.step);
    expect(r.dot).not.toContain('constraint=false'); // update and adjoint edges are not in the forward view: only a wrap would add it
    const { width, height } = svgSize(await renderSvg(r.dot));
    expect(height / width).toBeLessThan(2.5);
  });
});
