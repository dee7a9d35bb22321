/**
 * `report({...})`: one self-contained, offline HTML file — the graph with pan/zoom and click-a-node
 * details, the gradient flow, the plots, the compiler's `explain()` and the run manifest. Every
 * picture is an inlined SVG, the script and styles are inline, nothing is fetched.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { GradgraphError, captureOrigin, checkOptionNames } from '@gradgraph/core';
import { train } from '@gradgraph/ops';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ActivationCurve } from './activations';
import { REPORT_CSS, REPORT_JS } from './client';
import { buildDot, type DotOptions, type UnitInfo } from './dot';
import { visible } from './dotutil';
import { GradientProbe } from './gradflow';
import { passDot } from './compiled';
import { activationChart, gradientBarChart, gradientHistoryChart, histogramChart, lossChart, renderChart, type ChartSpec, type Histogram, type TrainHistoryLike } from './plots';
import { graphvizVersion, renderSvg } from './render';
import type { GradientFlow, GradientRecord, History, Manifest, PassRecord } from './types';
import { viewOf, type Viewable } from './view';

/** A report could not be built: bad options, or a part failed to render. */
export class ReportError extends GradgraphError {}

export interface ReportOptions {
  /** Page title. Default "gradgraph report". */
  title?: string;
  /** Write the HTML here (the HTML is returned either way). */
  out?: string;
  /** The model: a graph, an executable or a program. */
  graph?: Viewable;
  /**
   * Views of the graph, one tab each. Default: the forward graph, plus forward + backward when
   * there are backward nodes (unless `dot.show` picks one).
   */
  views?: readonly { name: string; options?: DotOptions }[];
  /** Options of the default graph view. */
  dot?: DotOptions;
  /** Gradient flow: drawn on the graph, as the layer bar chart, and (from a probe) against the step. */
  gradients?: GradientFlow | GradientProbe;
  /** Per-layer gradient norms by step (taken from `gradients` when it is a probe). */
  gradientHistory?: readonly GradientRecord[];
  /** Training history (loss and metric curves, early-stopping point): viz's shape or `train.fit`'s. */
  history?: History | TrainHistoryLike;
  /** Learned activation shapes before and after training. */
  activations?: { before?: readonly ActivationCurve[]; after?: readonly ActivationCurve[] };
  /** Weight and gradient histograms per layer. */
  histograms?: readonly Histogram[];
  /** The compiler's account: a string, or anything with `explain()` (an executable). */
  explain?: string | { explain(): string };
  /**
   * Before/after views of compiler passes. Default: the passes of `explain` (when it is an
   * executable) that changed the program.
   */
  passes?: readonly PassRecord[];
  /** Extra vega-lite charts. */
  charts?: readonly { title: string; spec: ChartSpec }[];
  /** Seed, config, versions (versions are filled in when missing). */
  manifest?: Manifest;
}

interface GraphSection {
  key: string;
  name: string;
  svg: string;
  units: Record<string, UnitInfo>;
}

let graphCounter = 0;

/**
 * Builds the HTML report (and writes it to `out` when given). Returns the HTML.
 * @example
 * await report({ out: 'run.html', graph: step, gradients: probe, history, explain: step,
 *                manifest: { seed: 42, config: { lr: 1e-2 } } });
 */
export async function report(opts: ReportOptions): Promise<string> {
  const origin = captureOrigin();
  if (!opts || typeof opts !== 'object') throw new ReportError('report needs an options object', { op: 'report', origin });
  checkOptionNames(opts, ['title', 'out', 'graph', 'views', 'dot', 'gradients', 'gradientHistory', 'history', 'activations', 'histograms', 'explain', 'passes', 'charts', 'manifest'], (d) => new ReportError(d, { op: 'report', origin }));
  const title = opts.title ?? 'gradgraph report';
  const sections: string[] = [];
  const nav: [string, string][] = [];
  const graphs: Record<string, Record<string, UnitInfo>> = {};

  const addGraphs = async (list: { name: string; x: Viewable; options: DotOptions }[]): Promise<GraphSection[]> => {
    const out: GraphSection[] = [];
    for (const v of list) {
      const key = `g${graphCounter++}`;
      const { dot, units } = buildDot(v.x, { ...v.options, idPrefix: `${key}-` });
      let svg: string;
      try {
        svg = await renderSvg(dot);
      } catch (e) {
        throw new ReportError(`the graph view "${v.name}" failed to render: ${(e as Error).message}`, { op: 'report', origin });
      }
      const rec = Object.fromEntries(units);
      graphs[key] = rec;
      out.push({ key, name: v.name, svg: cleanSvg(svg), units: rec });
    }
    return out;
  };

  // ---- the graph
  if (opts.graph) {
    const views = opts.views ?? defaultViews(opts.graph, opts.dot ?? {});
    const gs = await addGraphs(views.map((v) => ({ name: v.name, x: opts.graph!, options: v.options ?? {} })));
    sections.push(section('graph', 'Graph', graphTabs(gs, 'details-graph') + '<p class="note">Drag to pan, wheel or buttons to zoom, click a node for its op, shape, scope and source line. Hover for tooltips.</p>'));
    nav.push(['graph', 'Graph']);
  }

  // ---- gradient flow
  const probe = opts.gradients instanceof GradientProbe ? opts.gradients : undefined;
  const flow = probe ? probe.flow() : (opts.gradients as GradientFlow | undefined);
  const gradHistory = opts.gradientHistory ?? probe?.history();
  if (flow || gradHistory?.length) {
    let body = '';
    if (flow && opts.graph) {
      const gs = await addGraphs([{ name: 'gradient flow', x: opts.graph, options: { ...(opts.dot ?? {}), show: 'forward', gradients: flow } }]);
      body += graphTabs(gs, 'details-flow');
    }
    if (flow) {
      body += flagTable(flow);
      body += chartBlock('mean and max |grad| per layer', await renderChart(gradientBarChart(flow)));
    }
    if (gradHistory && gradHistory.length) body += chartBlock('gradient norm per layer against the step', await renderChart(gradientHistoryChart(gradHistory)));
    sections.push(section('gradients', 'Gradient flow', body));
    nav.push(['gradients', 'Gradients']);
  }

  // ---- plots
  const plots: string[] = [];
  if (opts.history) plots.push(chartBlock('loss and metrics', await renderChart(lossChart(opts.history))));
  if (opts.activations && (opts.activations.before?.length || opts.activations.after?.length)) plots.push(chartBlock('learned activations, before and after training', await renderChart(activationChart(opts.activations))));
  if (opts.histograms?.length) plots.push(chartBlock('weights and gradients per layer', await renderChart(histogramChart(opts.histograms))));
  for (const c of opts.charts ?? []) plots.push(chartBlock(c.title, await renderChart(c.spec)));
  if (plots.length) {
    sections.push(section('plots', 'Training', plots.join('')));
    nav.push(['plots', 'Training']);
  }

  // ---- compiler
  const explain = typeof opts.explain === 'string' ? opts.explain : opts.explain && typeof opts.explain.explain === 'function' ? opts.explain.explain() : undefined;
  const ownPasses = opts.explain && typeof opts.explain === 'object' ? (opts.explain as { passes?: readonly PassRecord[] }).passes : undefined;
  const passes = opts.passes ?? (Array.isArray(ownPasses) ? ownPasses.filter((p) => p.patches?.length && p.after) : []);
  if (explain !== undefined || passes.length) {
    let body = '';
    if (explain !== undefined) body += `<h3>explain()</h3><pre class="explain">${esc(explain)}</pre>`;
    if (passes.length) {
      const gs: GraphSection[] = [];
      for (const p of passes) {
        const key = `g${graphCounter++}`;
        const { dot, units } = passDot(p, { idPrefix: `${key}-` });
        const svg = cleanSvg(await renderSvg(dot));
        graphs[key] = Object.fromEntries(units);
        gs.push({ key, name: p.name, svg, units: graphs[key] });
      }
      body += '<h3>passes: before → after</h3>' + graphTabs(gs, 'details-passes');
    }
    sections.push(section('compiler', 'Compiler', body));
    nav.push(['compiler', 'Compiler']);
  }

  // ---- manifest
  const manifest = { ...(opts.manifest ?? {}), versions: { ...(await defaultVersions()), ...(opts.manifest?.versions ?? {}) } };
  sections.push(section('manifest', 'Run manifest', manifestTable(manifest)));
  nav.push(['manifest', 'Manifest']);

  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><div class="meta">generated ${esc(new Date().toISOString())} by @gradgraph/viz${manifest.seed !== undefined ? ` · seed ${esc(String(manifest.seed))}` : ''}</div></header>
<nav>${nav.map(([id, name]) => `<a href="#${id}">${esc(name)}</a>`).join('')}</nav>
<main>
${sections.join('\n')}
</main>
<script type="application/json" id="gg-data">${jsonForScript({ graphs })}</script>
<script>${REPORT_JS}</script>
</body>
</html>
`;
  // written next to its place and renamed: no half-written page, no temporary file left behind
  if (opts.out) train.writeFileAtomic(opts.out, html, (detail) => new ReportError(detail, { op: 'report', origin }));
  return html;
}

function defaultViews(x: Viewable, dot: DotOptions): { name: string; options: DotOptions }[] {
  if (dot.show) return [{ name: dot.show === 'both' ? 'forward + backward' : dot.show, options: dot }];
  const v = viewOf(x, dot.outputs);
  const hasBackward = [...v.phase.values()].some((p) => p !== 'forward');
  return hasBackward
    ? [
        { name: 'forward', options: { ...dot, show: 'forward' } },
        { name: 'forward + backward', options: { ...dot, show: 'both' } },
      ]
    : [{ name: 'graph', options: dot }];
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
}

function chartBlock(title: string, svg: string): string {
  return `<h3>${esc(title)}</h3><div class="chart">${svg}</div>`;
}

/** Graph views as tabs (one view: no tab bar), with a shared details panel. */
function graphTabs(gs: readonly GraphSection[], detailsId: string): string {
  const tabs = gs.length > 1 ? `<div class="tabs">${gs.map((g, i) => `<button type="button"${i === 0 ? ' class="active"' : ''}>${esc(g.name)}</button>`).join('')}</div>` : '';
  const views = gs
    .map(
      (g, i) =>
        `<div class="view${i === 0 ? ' active' : ''}" data-graph="${g.key}" data-prefix="${g.key}-" data-details="${detailsId}"><div class="viewport"><div class="toolbar"><button type="button" data-act="in" title="zoom in">+</button><button type="button" data-act="out" title="zoom out">−</button><button type="button" data-act="fit" class="wide" title="fit">fit</button></div>${g.svg}</div></div>`,
    )
    .join('');
  return `<div class="graph-wrap"><div class="tabbed">${tabs}${views}</div><aside class="details" id="${detailsId}"></aside></div>`;
}

function flagTable(flow: GradientFlow): string {
  const rows = flow.layers
    .map((l) => `<tr><td>${esc(l.layer)}</td><td>${l.norm.toExponential(2)}</td><td>${l.meanAbs.toExponential(2)}</td><td>${l.maxAbs.toExponential(2)}</td><td class="${l.flag ? `flag-${l.flag}` : ''}">${l.flag ?? ''}</td></tr>`)
    .join('');
  const th = flow.thresholds;
  return `<h3>per-layer gradients${flow.steps.length > 1 ? ` (mean over steps ${flow.steps[0]}–${flow.steps[flow.steps.length - 1]})` : ''}</h3>
<table class="flags"><tr><th>layer</th><th>‖grad‖</th><th>mean |grad|</th><th>max |grad|</th><th>flag</th></tr>${rows}</table>
<p class="note">Vanishing: below ${th.vanish} × the largest per-layer norm from that layer to the loss; exploding: above ${th.explode} × the smallest one, or not finite. Layers are listed from the input to the loss.</p>`;
}

function manifestTable(m: Manifest): string {
  const rows = Object.entries(m)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${typeof v === 'object' && v !== null ? `<pre>${esc(JSON.stringify(v, null, 2))}</pre>` : esc(String(v))}</td></tr>`)
    .join('');
  return `<table class="kv manifest">${rows}</table>`;
}

/** The SVG element alone: Graphviz's XML prolog, doctype and comments stripped for inlining. */
function cleanSvg(svg: string): string {
  const at = svg.indexOf('<svg');
  return svg.slice(at).replace(/<!--[\s\S]*?-->/g, '');
}

/** Text for HTML; control characters, line separators and bidi overrides become visible `\u` text. */
function esc(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * JSON safe inside a <script> element: no `<` (no `</script>`), and the characters JSON.stringify
 * leaves raw but a page should not hold (C1 controls, U+2028/U+2029, bidi overrides) as `\u`
 * escapes, which JSON.parse turns back into the names.
 */
function jsonForScript(x: unknown): string {
  return JSON.stringify(x).replace(/[<\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Versions of what produced a run: Node, the gradgraph packages, Graphviz, vega and vega-lite.
 * @example const m = { seed: 42, versions: await defaultVersions() };
 */
export async function defaultVersions(): Promise<Record<string, string>> {
  const v: Record<string, string> = { node: process.version };
  for (const pkg of ['@gradgraph/core', '@gradgraph/ops']) {
    const ver = packageVersion(pkg);
    if (ver) v[pkg] = ver;
  }
  const own = readVersion(join(dirname(new URL(import.meta.url).pathname), '..', 'package.json'));
  if (own) v['@gradgraph/viz'] = own;
  v.graphviz = await graphvizVersion();
  v.vega = vega.version;
  v['vega-lite'] = vl.version;
  return v;
}

function packageVersion(name: string): string | undefined {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(name));
    for (let i = 0; i < 5; i++) {
      const v = readVersion(join(dir, 'package.json'));
      if (v) return v;
      dir = dirname(dir);
    }
  } catch {
    // not installed: leave it out
  }
  return undefined;
}

function readVersion(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return undefined;
  }
}

export type { Histogram };
