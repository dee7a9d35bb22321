/**
 * The viz on convolutional models: a conv block collapses into one box like a dense one, repeated
 * conv blocks fold, the gradient-flow views (per-edge norms, per-layer bars, flags) work through
 * conv, pooling and per-channel PReLU, and the new pictures — a kernel's filters as an image grid
 * and per-channel values as bars — show what they should.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, conv, type Sym } from '@gradgraph/core';
import { init, nn } from '@gradgraph/ops';
import { buildDot, renderPng, renderSvg } from './index';
import { channelChart, FilterError, filterGrid } from './filters';
import { flaggedLayers, gradientFlow } from './gradflow';
import { gradientBarChart, renderChart } from './plots';

/** conv → PReLU → pool, twice, then dense: the demo's shape, small. */
function cnn(blocks = 2) {
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [null, 12, 12, 1]);
  const y = g.input('y', [null], 'int32');
  let h: Sym = x;
  for (let b = 1; b <= blocks; b++) h = g.scope(`block${b}`, () => nn.maxPool(nn.prelu(nn.conv(h, 4, { kernel: 3, padding: 'same', init: init.heNormal() }), { perChannel: true }), { size: 2, padding: 'same' }));
  const logits = g.scope('output', () => nn.dense(nn.flatten(h), 3));
  const loss = nn.softmaxCrossEntropy(logits, y);
  return { g, x, y, loss };
}

const feeds = () => ({ x: Tensor.randn([4, 12, 12, 1], 'float32', 1), y: Tensor.from([0, 1, 2, 1], 'int32') });

describe('DOT views of a CNN', () => {
  it('collapse: 1 draws each conv block as one box, like a dense layer, with its ops and params', () => {
    const { g, loss } = cnn();
    const r = buildDot(g, { outputs: [loss], collapse: 1, repeats: false });
    expect(r.stats.boxes).toBe(3);
    const titles = [...r.units.values()].filter((u) => u.kind === 'box').map((u) => u.title);
    expect(titles).toEqual(['block1', 'block2', 'output']);
    // conv + bias add + PReLU (3 ops) + maxPool = 6 ops, kernel [3,3,1,4] + bias [4] + alpha [4]
    expect(r.dot).toContain('6 ops · 3 params (44)');
    expect(r.dot).toContain('→ float32[?,6,6,4]');
    // collapse: 2 keeps the blocks as clusters and folds the builders' scopes (conv, prelu) into boxes
    const inner = buildDot(g, { outputs: [loss], collapse: 2, repeats: false });
    const innerTitles = [...inner.units.values()].filter((u) => u.kind === 'box').map((u) => u.title);
    expect(innerTitles).toEqual(['conv', 'prelu', 'conv', 'prelu', 'dense']);
  });

  it('identical conv blocks fold into "×N", as dense blocks do', () => {
    const g = new Graph();
    let h: Sym = g.input('x', [null, 8, 8, 4]);
    for (let b = 0; b < 5; b++) h = g.scope(`layer${b}`, () => nn.relu(nn.conv(h, 4, { kernel: 3, padding: 'same' })));
    const folded = buildDot(g, { outputs: [h] });
    expect(folded.dot).toContain('×4 more like layer0');
    expect(folded.dot).toContain('conv×4');
  });

  it('renders (Graphviz) with the conv ops named and their attributes in tooltips', async () => {
    const { g, loss } = cnn(1);
    const r = buildDot(g, { outputs: [loss] });
    expect(r.dot).toMatch(/tooltip="%\d+ conv : float32\[\?,12,12,4\]\\nstride=\[1,1\] padding=\[\[1,1\],\[1,1\]\] dilation=\[1,1\] groups=1/);
    const svg = await renderSvg(r.dot);
    expect(svg).toContain('maxPool');
  });
});

describe('gradient flow through a CNN', () => {
  it('per-layer norms for the conv blocks and the head, per-edge norms through conv and pooling', () => {
    const { g, loss } = cnn();
    const flow = gradientFlow(loss, feeds());
    expect(flow.layers.map((l) => l.layer)).toEqual(['block1', 'block2', 'output']);
    for (const l of flow.layers) {
      expect(Number.isFinite(l.norm)).toBe(true);
      expect(l.norm).toBeGreaterThan(0);
    }
    expect(flow.params.map((p) => p.name)).toEqual(['block1/conv/kernel', 'block1/conv/bias', 'block1/prelu/alpha', 'block2/conv/kernel', 'block2/conv/bias', 'block2/prelu/alpha', 'output/dense/kernel', 'output/dense/bias']);
    // an edge into each conv and out of each pooling carries gradient
    const byOp = (op: string) => g.nodes.filter((n) => n.op === op && n.adjointOf === undefined).map((n) => n.id);
    for (const id of [...byOp('conv'), ...byOp('maxPool')]) {
      const into = flow.edges.filter((e) => e.to === id);
      expect(into.length).toBeGreaterThan(0);
      expect(into.some((e) => e.norm > 0)).toBe(true);
    }
    expect(flaggedLayers(flow, 'exploding')).toEqual([]);
  });

  it('a CNN whose gradient dies in the first block is flagged vanishing there', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 8, 8, 1]);
    // a first layer squashed by a huge negative bias: its ReLU is 0 almost everywhere
    const h1 = g.scope('block1', () => nn.relu(nn.conv(x, 4, { kernel: 3, padding: 'same', biasInit: init.constant(-100) })));
    const h2 = g.scope('block2', () => nn.relu(nn.conv(h1.add(1), 4, { kernel: 3, padding: 'same' })));
    const loss = nn.mse(nn.globalAvgPool(h2), g.constant(Tensor.zeros([1, 4])));
    const flow = gradientFlow(loss, { x: Tensor.randn([2, 8, 8, 1], 'float32', 2) });
    expect(flaggedLayers(flow, 'vanishing')).toEqual(['block1']);
  });

  it('the bar chart and a DOT view with gradients render', async () => {
    const { g, loss } = cnn();
    const flow = gradientFlow(loss, feeds());
    const svg = await renderChart(gradientBarChart(flow));
    expect(svg).toContain('block2');
    const dot = buildDot(g, { outputs: [loss], gradients: flow, collapse: 1 }).dot;
    expect(dot).toMatch(/penwidth/);
  });
});

describe('filterGrid', () => {
  it('draws one tile per filter, each tap a square colored by its value (blue −, white 0, red +)', () => {
    // [2, 2, 1, 3]: filter 0 all +1, filter 1 all −1, filter 2 zeros
    const w = new Tensor('float32', [2, 2, 1, 3], Float32Array.from({ length: 12 }, (_v, i) => [1, -1, 0][i % 3]));
    const svg = filterGrid(w, { title: 'filters', cell: 10 });
    const taps = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="10" height="10" fill="(#[0-9a-f]{6})"><title>filter (\d)/g)];
    expect(taps.length).toBe(12);
    const color = (f: string) => [...new Set(taps.filter((m) => m[2] === f).map((m) => m[1]))];
    expect(color('0')).toEqual(['#b2182b']);
    expect(color('1')).toEqual(['#2166ac']);
    expect(color('2')).toEqual(['#ffffff']);
    expect(svg).toContain('>filters<');
    expect(svg).toMatch(/>-1\.0<\/text>/);
  });

  it('takes a conv param, 1-d kernels and several input channels; refuses other shapes', async () => {
    const g = new Graph({ seed: 5 });
    conv(g.input('x', [null, 10, 10, 2]), g.param('k', Tensor.randn([3, 3, 2, 4])));
    const svg = filterGrid(g.byName('k')!, { columns: 2 });
    expect((svg.match(/<title>filter 3, input 1, tap/g) ?? []).length).toBe(9);
    expect(filterGrid(Tensor.randn([5, 1, 2]))).toContain('tap (0, 4)');
    const png = await renderPng(svg);
    expect(String.fromCharCode(...png!.subarray(1, 4))).toBe('PNG');
    expect(() => filterGrid(Tensor.randn([3, 3]))).toThrow(FilterError);
    expect(() => filterGrid(new Tensor('float32', [1, 1, 1, 1], Float32Array.from([NaN])))).toThrow(/NaN/);
  });
});

describe('channelChart', () => {
  it('one panel of bars per layer, a rule at the reference value', async () => {
    const g = new Graph();
    const a = g.param('a', Tensor.from([0.1, 0.5, 0.25]));
    const spec = channelChart([{ name: 'block1', values: a }, { name: 'block2', values: [0.3, 0.2] }], { title: 'PReLU slopes', rule: 0.25 });
    const rows = (spec.data as { values: { layer: string; channel: number; value: number }[] }).values;
    expect(rows).toHaveLength(5);
    expect(rows[1]).toEqual({ layer: 'block1', channel: 1, value: 0.5 });
    const svg = await renderChart(spec);
    expect(svg).toContain('PReLU slopes');
    expect(svg).toContain('block2');
    expect(() => channelChart([])).toThrow(FilterError);
    expect(() => channelChart([{ name: 'x', values: [NaN] }])).toThrow(/non-finite/);
  });
});
