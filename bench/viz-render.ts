/**
 * How long viz takes to draw big graphs: DOT export, Graphviz layout (WebAssembly, 16.x) and
 * rasterizing to PNG, for graphs of about 500, 1,000 and 2,000 nodes (a deep MLP with its
 * backward graph: the nodes a training step really has). Target: a 2,000-node graph renders to
 * SVG in under 5 s. Every node is drawn (repeats folded off), so the layout sees all of them.
 *
 *   npx tsx bench/viz-render.ts            # prints a table
 *   npx tsx bench/viz-render.ts --json     # one JSON object per line, for a bench runner
 */
import { Graph, Tensor, grad } from '@gradgraph/core';
import { nn } from '@gradgraph/ops';
import { buildDot, renderPng, renderSvg } from '@gradgraph/viz';

/** A `layers`-deep MLP of width 16 with tanh, and its gradients: ~28 nodes per layer in all. */
function model(layers: number): Graph {
  const g = new Graph({ seed: 1 });
  let h = g.input('x', [null, 16]);
  for (let i = 0; i < layers; i++) h = g.scope(`layer${i}`, () => nn.tanh(nn.dense(h, 16)));
  const loss = h.square().mean();
  grad(loss, g.params());
  return g;
}

/** The smallest model with at least `n` nodes. */
function modelWith(n: number): Graph {
  let lo = 1;
  let hi = 200;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (model(mid).size >= n) hi = mid;
    else lo = mid + 1;
  }
  return model(lo);
}

function ms(t0: number): number {
  return Math.round(performance.now() - t0);
}

const json = process.argv.includes('--json');
await renderSvg('digraph { a -> b }'); // load the WebAssembly module once, outside the timings
const rows: Record<string, unknown>[] = [];
for (const target of [500, 1000, 2000]) {
  const g = modelWith(target);
  let t0 = performance.now();
  const full = buildDot(g, { show: 'both', repeats: false });
  const dotMs = ms(t0);
  t0 = performance.now();
  const svg = await renderSvg(full.dot);
  const svgMs = ms(t0);
  t0 = performance.now();
  const png = renderPng(svg, { maxSide: 8000 });
  const pngMs = ms(t0);
  t0 = performance.now();
  const folded = buildDot(g, { show: 'both' });
  await renderSvg(folded.dot);
  const foldedMs = ms(t0);
  const row = {
    bench: 'viz-render',
    graphNodes: g.size,
    drawnNodes: full.stats.drawnNodes,
    edges: full.stats.edges,
    dotMs,
    svgMs,
    pngMs,
    svgKB: Math.round(svg.length / 1024),
    pngKB: Math.round(png.length / 1024),
    foldedDrawnNodes: folded.stats.drawnNodes,
    foldedMs,
    under5s: dotMs + svgMs < 5000,
  };
  rows.push(row);
  if (json) console.log(JSON.stringify(row));
}
if (!json) {
  console.log('viz render times (DOT export + Graphviz 16 wasm layout; PNG with resvg)');
  console.table(rows.map(({ bench, ...r }) => r));
  const big = rows[rows.length - 1];
  console.log(`${big.graphNodes}-node graph: DOT + SVG in ${(big.dotMs as number) + (big.svgMs as number)} ms (target < 5000 ms): ${big.under5s ? 'ok' : 'TOO SLOW'}`);
}
