/**
 * Hostile names — a param ending in "/", U+2028/U+2029, quotes, ANSI escapes and other control
 * characters, markup — in every output viz makes: DOT, SVG, PNG, the vega-lite charts, the HTML
 * report. Each must render, and no output may carry such a character raw.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, grad } from '@gradgraph/core';
import { toDot } from './dot';
import { renderPng, renderSvg } from './render';
import { gradientFlow, gradientProbe } from './gradflow';
import { gradientBarChart, gradientHistoryChart, histogramChart, histograms, renderChart } from './plots';
import { report } from './report';

const NAMES = {
  lineSep: 'l\u2028s',
  paraSep: 'p\u2029s',
  quotes: `q"u'o\`te`,
  ansi: 'a\u001b[31mred\u001b[0m',
  bell: 'b\u0007\tc',
  markup: '<script>&amp;x',
  newline: '\n\nnl',
  bidi: 'rtl\u202eevil',
};

/** Characters no output may hold raw (tabs, newlines and CRs are layout, so they may). */
const RAW = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function hostileModel() {
  const g = new Graph({ seed: 5 });
  const x = g.input(`x ${NAMES.quotes}`, [null, 3]);
  const y = g.input(`y${NAMES.lineSep}`, [null, 3]);
  let h = x;
  for (const [i, name] of Object.values(NAMES).entries()) {
    h = g.scope(name, () => h.matmul(g.param('w', Tensor.randn([3, 3], 'float32', i))).tanh());
  }
  h = h.matmul(g.param('w/', Tensor.randn([3, 3], 'float32', 20))); // a param name ending in "/"
  h = h.matmul(g.param(`head/${NAMES.ansi}`, Tensor.randn([3, 3], 'float32', 21)));
  const loss = h.sub(y).square().mean();
  const params = g.params();
  const grads = grad(loss, params);
  const probe = gradientProbe(loss);
  const step = compile(g, { inputs: [x, y], outputs: [loss, ...probe.outputs], updates: params.map((p, i) => [p, p.sub(grads[i].mul(0.05))] as const) });
  const feeds = { [x.name!]: Tensor.randn([4, 3], 'float32', 1), [y.name!]: Tensor.randn([4, 3], 'float32', 2) };
  for (let s = 1; s <= 3; s++) {
    const [, ...extra] = step.run(feeds);
    probe.record(extra, s);
  }
  return { g, loss, step, probe, feeds };
}

describe('hostile names in every output', () => {
  const m = hostileModel();

  it('DOT: every name quoted and visible, no label starting with an empty line, nothing raw', () => {
    for (const show of ['forward', 'both'] as const) {
      const dot = toDot(m.step, { show, repeats: false });
      expect(dot).not.toMatch(RAW);
      expect(dot).not.toMatch(/label="(\\n|")/); // no label starts with an empty line or is empty
      expect(dot).not.toMatch(/label="[^"]*\\n\\n/);
      expect(dot).toContain('label="w/\\nfloat32[3,3]"'); // the "/"-ended param keeps its name
      expect(dot).toContain('a\\\\u001b[31mred\\\\u001b[0m'); // shows as a\u001b[31mred…
      expect(dot).toContain('l\\\\u2028s');
      expect(dot).toContain('q\\"u\'o`te');
      expect(dot).toContain('<script>&amp;amp;x'); // shows as <script>&amp;x
      expect(dot).toContain('rtl\\\\u202eevil');
    }
  });

  it('SVG and PNG: Graphviz lays them out every time, the SVG is valid XML (resvg parses it) and shows the names', async () => {
    const dot = toDot(m.step, { show: 'both', repeats: false });
    // the crash was intermittent (about one layout in two for such labels): lay out repeatedly
    let svg = '';
    for (let i = 0; i < 6; i++) svg = await renderSvg(dot);
    expect(svg).not.toMatch(RAW);
    for (const shown of ['w/', 'a\\u001b[31mred\\u001b[0m', 'l\\u2028s', 'p\\u2029s', 'b\\u0007\\u0009c', '&lt;script&gt;&amp;amp;x', 'rtl\\u202eevil', 'nl']) {
      expect(svg).toContain(`>${shown}</text>`);
    }
    const png = renderPng(svg, { width: 400 });
    expect(String.fromCharCode(...png.subarray(1, 4))).toBe('PNG');
  });

  it('vega-lite charts render with such layer names, shown as visible text', async () => {
    const flow = gradientFlow(m.loss, m.feeds);
    const specs = { bars: gradientBarChart(flow), history: gradientHistoryChart(m.probe.history()), histograms: histogramChart(histograms(m.g)) };
    for (const [name, spec] of Object.entries(specs)) {
      const svg = await renderChart(spec);
      expect(svg, name).not.toMatch(RAW);
      expect(svg, name).toContain('l\\u2028s');
      if (name !== 'histograms') expect(svg, name).toContain('a\\u001b[31mred\\u001b[0m');
      expect(() => renderPng(svg), name).not.toThrow(); // valid XML
    }
  });

  it('the HTML report: nothing raw, the embedded data parses, markup in names is text', async () => {
    const html = await report({ title: `report ${NAMES.ansi}`, graph: m.step, gradients: m.probe, histograms: histograms(m.g), explain: m.step });
    expect(html).not.toMatch(RAW);
    expect(html).not.toContain('<script>&amp;x'); // the scope name never becomes markup
    expect(html).toContain('<title>report a\\u001b[31mred\\u001b[0m</title>');
    const data = /<script type="application\/json" id="gg-data">([\s\S]*?)<\/script>/.exec(html)![1];
    const parsed = JSON.parse(data) as { graphs: Record<string, Record<string, { title: string; node?: { scope: string } }>> };
    const scopes = Object.values(parsed.graphs).flatMap((units) => Object.values(units).map((u) => u.node?.scope ?? ''));
    expect(scopes).toContain(NAMES.lineSep); // the data keeps the real name; the page's script escapes it when shown
  });
});
