/**
 * The tutorial's vanishing-gradient chapter as a picture: a 20-layer sigmoid net with a naive
 * init (weights N(0, 1)) loses its gradient on the way back, so the flagged vanishing layers are
 * the early ones; the same net with ReLU and He init keeps it, and nothing is flagged.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '@gradgraph/core';
import { flaggedLayers, gradientBarChart, gradientFlow, renderChart, renderSvg, toDot, type GradientFlow } from '@gradgraph/viz';
import { deepNet } from './viz-fixtures';

const DEPTH = 20;

const feeds = { x: Tensor.randn([32, 8], 'float32', 1), y: Tensor.randn([32, 1], 'float32', 2) };

describe('vanishing gradients, 20 layers', () => {
  let sigmoid: GradientFlow;
  let relu: GradientFlow;

  it('sigmoid with naive init: the flagged vanishing layers are the early ones', () => {
    sigmoid = gradientFlow(deepNet('sigmoid-naive', DEPTH).loss, feeds);
    expect(sigmoid.layers.map((l) => l.layer)).toEqual(Array.from({ length: DEPTH }, (_, i) => `layer${String(i + 1).padStart(2, '0')}`));
    const vanishing = flaggedLayers(sigmoid, 'vanishing');
    const index = (name: string) => Number(name.slice(5));
    expect(vanishing.length).toBeGreaterThanOrEqual(3);
    expect(vanishing).toContain('layer01');
    expect(Math.max(...vanishing.map(index))).toBeLessThanOrEqual(DEPTH / 2); // early ones only
    expect(flaggedLayers(sigmoid, 'exploding')).toEqual([]);
    console.log(`sigmoid/naive: vanishing ${vanishing.join(', ')}; ‖∂L/∂layer01‖ = ${sigmoid.layers[0].norm.toExponential(2)}, ‖∂L/∂layer20‖ = ${sigmoid.layers[DEPTH - 1].norm.toExponential(2)}`);
    // the gradient shrinks by orders of magnitude from the loss back to the input
    expect(sigmoid.layers[0].norm / sigmoid.layers[DEPTH - 1].norm).toBeLessThan(1e-3);
  });

  it('ReLU with He init: nothing flagged', () => {
    relu = gradientFlow(deepNet('relu-he', DEPTH).loss, feeds);
    expect(flaggedLayers(relu, 'vanishing')).toEqual([]);
    expect(flaggedLayers(relu, 'exploding')).toEqual([]);
    const ratio = relu.layers[0].norm / relu.layers[DEPTH - 1].norm;
    expect(ratio).toBeGreaterThan(1e-2);
  });

  it('draws both: the flow on the graph (vanishing edges dashed) and the layer bar chart', async () => {
    const g = deepNet('sigmoid-naive', DEPTH);
    const flow = gradientFlow(g.loss, feeds);
    const dot = toDot(g.g, { show: 'forward', gradients: flow, repeats: false });
    expect(dot).toContain('style="dashed"');
    const svg = await renderSvg(dot);
    expect(svg).toContain('vanishing');
    const bars = await renderChart(gradientBarChart(flow, { title: '20-layer sigmoid, naive init' }));
    expect(bars).toContain('layer01');
    expect(bars).toContain('↓');
  });
});
