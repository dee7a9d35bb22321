import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '@gradgraph/core';
import { nn } from '@gradgraph/ops';
import { ActivationError, activationCurves, findActivations } from './activations';
import { PlotError, activationChart, gradientBarChart, gradientHistoryChart, histogramChart, histograms, lossChart, renderChart } from './plots';
import type { GradientFlow, History } from './types';

const history: History = {
  epochs: Array.from({ length: 12 }, (_, i) => ({ epoch: i + 1, loss: 1 / (i + 1), valLoss: 1 / (i + 1) + (i > 6 ? (i - 6) * 0.02 : 0), metrics: { acc: 0.5 + i * 0.04, val_acc: 0.5 + i * 0.03 } })),
  bestEpoch: 7,
  stoppedAt: 12,
};

const flow: GradientFlow = {
  steps: [0],
  edges: [],
  params: [],
  layers: [
    { layer: 'l0', norm: 1e-7, meanAbs: 1e-8, maxAbs: 5e-8, params: ['l0/w'], position: 3, flag: 'vanishing' },
    { layer: 'l1', norm: 1e-3, meanAbs: 2e-4, maxAbs: 1e-3, params: ['l1/w'], position: 6 },
    { layer: 'l2', norm: 1, meanAbs: 0, maxAbs: 0.5, params: ['l2/w'], position: 9 },
  ],
  thresholds: { vanish: 1e-3, explode: 1e3 },
  reference: 1,
};

describe('plots render to SVG in Node', () => {
  it('loss and metric curves, train and validation, with the best epoch and the early stop marked', async () => {
    const svg = await renderChart(lossChart(history, { title: 'toy run' }));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['toy run', 'loss', 'metrics', 'train', 'validation', 'best (epoch 7)', 'stopped early (epoch 12)', 'acc']) expect(svg).toContain(text);
    expect(() => lossChart({ epochs: [] })).toThrow(PlotError);
    expect(() => lossChart({ epochs: [{ epoch: 1 } as never] })).toThrow(/epochs\[0\] needs numeric epoch and loss/);
  });

  it('the per-layer bar chart: mean and max |grad| on a log axis, flagged layers marked (zeros drawn at a floor)', async () => {
    const spec = gradientBarChart(flow);
    const layer = (spec.layer as { encoding: { y: { scale: { type: string } } } }[])[0];
    expect(layer.encoding.y.scale.type).toBe('log');
    const svg = await renderChart(spec);
    for (const text of ['l0', 'l1', 'l2', 'mean |grad|', 'max |grad|', '↓']) expect(svg).toContain(text);
    expect(svg).not.toContain('NaN');
  });

  it('per-layer norm against the step', async () => {
    const recs = [0, 1, 2].map((step) => ({ step, layers: [{ layer: 'a', norm: 1 / (step + 1) }, { layer: 'b', norm: 2 }] }));
    const svg = await renderChart(gradientHistoryChart(recs));
    for (const text of ['step', 'a', 'b', 'gradient norm per layer']) expect(svg).toContain(text);
    expect(() => gradientHistoryChart([])).toThrow(/no gradient records/);
  });

  it('histograms of weights and gradients per layer', async () => {
    const g = new Graph();
    g.scope('l0', () => g.param('w', Tensor.from([0, 0.5, 1, 1, 1])));
    g.scope('l1', () => g.param('w', Tensor.from([3, 3, 3])));
    const hs = histograms(g, { bins: 2, gradients: new Map([['l0/w', Tensor.from([1, 2, 3, 4, 5])]]) });
    expect(hs.map((h) => `${h.layer}:${h.kind}`)).toEqual(['l0:weight', 'l0:gradient', 'l1:weight']);
    expect(hs[0].bins.map((b) => b.count)).toEqual([1, 4]); // [0, .5) and [.5, 1]
    expect(hs[0].count).toBe(5);
    expect(hs[2].bins.reduce((s, b) => s + b.count, 0)).toBe(3); // a constant layer still gets a bin
    const svg = await renderChart(histogramChart(hs));
    for (const text of ['l0', 'l1', 'weight', 'gradient']) expect(svg).toContain(text);
  });

  it('rejects a spec vega-lite cannot compile', async () => {
    await expect(renderChart({ mark: 'nonsense-mark', data: { values: [] } })).rejects.toThrow(PlotError);
  });
});

describe('learned activations, evaluated by running the graph on a grid', () => {
  it('finds PReLU, SPLASH and APL built by nn and returns their exact curves per channel', async () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    const h1 = nn.prelu(nn.dense(x, 2), { perChannel: true });
    const h2 = nn.splash(nn.dense(h1, 3), { hinges: 5 });
    nn.apl(nn.dense(h2, 2), { hinges: 1 });
    g.setValue('prelu/alpha', Tensor.from([0.1, 0.5]));
    const sites = findActivations(g);
    expect(sites.map((s) => s.name)).toEqual(['prelu', 'splash', 'apl']);
    const curves = activationCurves(sites, { range: [-2, 2], points: 5 });
    const prelu = curves.filter((c) => c.name === 'prelu');
    expect(prelu.map((c) => c.channel)).toEqual([0, 1]);
    expect(prelu[0].x).toEqual([-2, -1, 0, 1, 2]);
    expect(prelu[0].y).toEqual([-0.2, -0.1, 0, 1, 2].map((v) => Math.fround(v)));
    expect(prelu[1].y).toEqual([-1, -0.5, 0, 1, 2]);
    // SPLASH starts as a ReLU (init 'relu'), shared over the layer: one curve
    const splash = curves.filter((c) => c.name === 'splash');
    expect(splash).toHaveLength(1);
    expect(splash[0].channel).toBe('all');
    expect(splash[0].y).toEqual([0, 0, 0, 1, 2]);
    const svg = await renderChart(activationChart({ before: curves, after: curves }));
    for (const text of ['prelu', 'splash', 'apl', 'before', 'after']) expect(svg).toContain(text);
  });

  it('marks each curve convex or not, dashes the ones that are not, and counts them per panel', async () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    nn.prelu(nn.dense(x, 3), { perChannel: true });
    nn.twoSlope(nn.dense(x, 2));
    g.setValue('prelu/alpha', Tensor.from([0.1, 1.5, -0.5])); // a slope > 1 on the left makes it concave
    const before = activationCurves(findActivations(g), { range: [-2, 2], points: 41 });
    g.setValue('twoSlope/k2', Tensor.from(3));
    const after = activationCurves(findActivations(g), { range: [-2, 2], points: 41 });
    expect(before.map((c) => [c.name, c.channel, c.convex])).toEqual([
      ['prelu', 0, true],
      ['prelu', 1, false],
      ['prelu', 2, true],
      ['twoSlope', 'all', true],
    ]);
    expect(after.find((c) => c.name === 'twoSlope')!.convex).toBe(false);
    expect(activationCurves(findActivations(g), { points: 2 })[0].convex).toBeUndefined();
    const spec = activationChart({ before, after }) as { data: { values: { panel: string; shape: string }[] }; spec: { encoding: Record<string, unknown> } };
    expect(new Set(spec.data.values.map((v) => v.panel))).toEqual(new Set(['prelu: 2/3 convex before, 2/3 convex after', 'twoSlope: 1/1 convex before, 0/1 convex after']));
    expect(spec.spec.encoding.strokeDash).toBeDefined();
    const svg = await renderChart(activationChart({ before, after }));
    for (const text of ['not convex', '0/1 convex after']) expect(svg).toContain(text);
    expect(svg).toMatch(/stroke-dasharray="5,3"|stroke-dasharray="5 3"/);
  });

  it('refuses an activation that needs other inputs', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    const y = g.input('y', [null, 2]);
    const out = x.mul(y);
    expect(() => activationCurves([{ name: 'gated', input: x, output: out }])).toThrow(ActivationError);
    expect(() => activationCurves([{ name: 'gated', input: x, output: out }])).toThrow(/also depends on input "y"/);
    expect(() => activationCurves([], { range: [1, 0] })).toThrow(/lo < hi/);
  });
});

describe('unknown options', () => {
  it('every viz function refuses one by name (a typo such as titel would otherwise be ignored)', async () => {
    const viz = await import('./index');
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    const h = nn.prelu(nn.dense(x, 2));
    const loss = h.square().mean();
    const hist: History = { epochs: [{ epoch: 1, loss: 1 }] };
    const cases: [string, () => unknown][] = [
      ['toDot', () => viz.toDot(g, { shw: 'forward' } as never)],
      ['passDot', () => viz.passDot({ name: 'p', before: { nodes: {}, outputs: [], updates: [], nextId: 0 } as never, after: { nodes: {}, outputs: [], updates: [], nextId: 0 } as never }, { contex: 1 } as never)],
      ['renderPng', () => viz.renderPng('<svg width="1" height="1"></svg>', { widht: 10 } as never)],
      ['lossChart', () => viz.lossChart(hist, { titel: 'x' } as never)],
      ['gradientBarChart', () => viz.gradientBarChart(flow, { heigth: 3 } as never)],
      ['gradientHistoryChart', () => viz.gradientHistoryChart([{ step: 1, layers: [{ layer: 'a', norm: 1 }] }], { log: true } as never)],
      ['activationChart', () => viz.activationChart([], { cols: 2 } as never)],
      ['histograms', () => viz.histograms(g, { bin: 3 } as never)],
      ['histogramChart', () => viz.histogramChart([], { titel: 'x' } as never)],
      ['findActivations', () => viz.findActivations(g, { matches: /x/ } as never)],
      ['activationCurves', () => viz.activationCurves([], { point: 3 } as never)],
      ['gradientProbe', () => viz.gradientProbe(loss, { depth: 2 } as never)],
      ['gradientProbe', () => viz.gradientProbe(loss, { thresholds: { vanishing: 1e-3 } } as never)],
      ['gradientFlow', () => viz.gradientFlow(loss, { x: Tensor.zeros([1, 2]) }, { edge: false } as never)],
      ['GradientProbe.callback', () => viz.gradientProbe(loss).callback({}, { evry: 2 } as never)],
    ];
    for (const [op, f] of cases) expect(f, op).toThrow(new RegExp(`^${op.replace('.', '\\.')}: (thresholds: )?unknown option "\\w+"`));
    await expect(viz.renderSvg('digraph {}', { engin: 'dot' } as never)).rejects.toThrow(/^renderSvg: unknown option "engin" \(did you mean "engine"\?\)/);
    await expect(viz.report({ titel: 'x' } as never)).rejects.toThrow(/^report: unknown option "titel" \(did you mean "title"\?\)/);
  });
});
