/**
 * Plots as vega-lite specs, rendered to SVG in Node by vega (no browser): training curves with
 * the early-stopping point, the per-layer gradient bar chart, gradient norms against the step,
 * learned activation shapes before/after training, and weight/gradient histograms.
 *
 * Each `*Chart` function returns a plain vega-lite spec (adjust it as you like); `renderChart`
 * turns any spec into SVG.
 */
import { GradgraphError, Graph, Tensor, captureOrigin, type Sym, checkOptionNames } from '@gradgraph/core';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { EpochRecord, GradientFlow, GradientRecord, History } from './types';
import type { ActivationCurve } from './activations';
import { visibleStrings } from './dotutil';

/** A vega-lite specification (a JSON object). */
export type ChartSpec = Record<string, unknown>;

/** Bad input for a plot: empty or malformed data. */
export class PlotError extends GradgraphError {}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const CONFIG = { font: FONT, view: { stroke: '#d5d8dc' }, axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eaecee' }, legend: { labelFontSize: 10, titleFontSize: 11 }, title: { fontSize: 13, anchor: 'start' } };

/**
 * Renders a vega-lite spec to SVG in Node.
 * @example
 * const svg = await renderChart(lossChart(history));
 */
export async function renderChart(spec: ChartSpec): Promise<string> {
  const origin = captureOrigin();
  if (!spec || typeof spec !== 'object') throw new PlotError('renderChart needs a vega-lite spec object', { op: 'renderChart', origin });
  let compiled;
  try {
    // names in the spec (layers, scopes) as visible text: vega-lite copies sort orders into
    // expressions, where U+2028 is a line break ("Unexpected token ILLEGAL"), and a control
    // character in a text mark would make the SVG invalid XML
    compiled = vl.compile(visibleStrings(spec) as unknown as vl.TopLevelSpec).spec;
  } catch (e) {
    throw new PlotError(`vega-lite rejected the spec: ${(e as Error).message}`, { op: 'renderChart', origin });
  }
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

// ---- training curves ---------------------------------------------------------------------

/**
 * Loss (train and validation) against the epoch, with the best epoch and the early-stopping
 * point marked; metrics in a second panel when there are any.
 * @example
 * const svg = await renderChart(lossChart(history, { title: 'iris' }));
 */
export function lossChart(input: History | TrainHistoryLike, opts: { title?: string; logLoss?: boolean; width?: number } = {}): ChartSpec {
  plotOptions('lossChart', opts, ['title', 'logLoss', 'width']);
  const history = toHistory(input);
  const width = opts.width ?? 420;
  const loss: Record<string, unknown>[] = [];
  const metrics: Record<string, unknown>[] = [];
  for (const e of history.epochs) {
    if (Number.isFinite(e.loss)) loss.push({ epoch: e.epoch, value: e.loss, series: 'train' });
    if (e.valLoss !== undefined && Number.isFinite(e.valLoss)) loss.push({ epoch: e.epoch, value: e.valLoss, series: 'validation' });
    for (const [k, v] of Object.entries(e.metrics ?? {})) {
      if (!Number.isFinite(v)) continue;
      const val = k.startsWith('val_');
      metrics.push({ epoch: e.epoch, value: v, metric: val ? k.slice(4) : k, series: val ? 'validation' : 'train' });
    }
  }
  const marks: { epoch: number; what: string }[] = [];
  if (history.bestEpoch !== undefined) marks.push({ epoch: history.bestEpoch, what: `best (epoch ${history.bestEpoch})` });
  if (history.stoppedAt !== undefined) marks.push({ epoch: history.stoppedAt, what: `stopped early (epoch ${history.stoppedAt})` });
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: ['train', 'validation'], range: ['#1f77b4', '#ff7f0e'] } };
  const rules = marks.length ? [{ data: { values: marks }, mark: { type: 'rule', strokeDash: [4, 3], color: '#c0392b' }, encoding: { x: { field: 'epoch', type: 'quantitative' }, tooltip: { field: 'what' } } }] : [];
  // The labels, in the loss panel only: inside its top edge, one row per label so two marks
  // close together (best at 91, stopped at 106) never overlap; a label in the right half of the
  // epochs ends at its rule, one in the left half starts there, so it stays inside the panel.
  const epochs = history.epochs.map((e) => e.epoch);
  const middle = (Math.min(...epochs) + Math.max(...epochs)) / 2;
  const labels = marks.map((m, row) => {
    const right = m.epoch > middle;
    return {
      data: { values: [m] },
      mark: { type: 'text', align: right ? 'right' : 'left', dx: right ? -4 : 4, baseline: 'top', fontSize: 9, color: '#c0392b' },
      encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { value: 4 + 13 * row }, text: { field: 'what' } },
    };
  });
  const lossPanel = {
    width,
    height: 220,
    title: 'loss',
    layer: [
      {
        data: { values: loss },
        mark: { type: 'line', point: loss.length <= 60 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: 'loss', scale: opts.logLoss ? { type: 'log' } : { zero: false } },
          color,
          tooltip: [{ field: 'series' }, { field: 'epoch' }, { field: 'value', format: '.4g' }],
        },
      },
      ...rules,
      ...labels,
    ],
  };
  const panels: Record<string, unknown>[] = [lossPanel];
  if (metrics.length) {
    panels.push({
      width,
      height: 160,
      title: 'metrics',
      layer: [
        {
          data: { values: metrics },
          mark: { type: 'line', point: metrics.length <= 120 },
          encoding: {
            x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: false } },
            color,
            strokeDash: { field: 'metric', type: 'nominal', title: 'metric' },
            tooltip: [{ field: 'metric' }, { field: 'series' }, { field: 'epoch' }, { field: 'value', format: '.4g' }],
          },
        },
        ...rules,
      ],
    });
  }
  return { $schema: SCHEMA, title: opts.title ?? 'training', vconcat: panels, config: CONFIG };
}

/** The history `train.fit` returns: flat epoch records, why it stopped, which epoch was restored. */
export interface TrainHistoryLike {
  readonly epochs: readonly { readonly epoch: number; readonly loss: number; readonly [name: string]: number }[];
  readonly stopped?: { readonly epoch: number; readonly reason?: string } | null;
  readonly restoredEpoch?: number | null;
}

/**
 * A `History` from either shape: viz's own (`metrics` per epoch, `stoppedAt`, `bestEpoch`) or
 * `train.fit`'s (metrics as flat keys, `valAccuracy` for validation, `stopped`, `restoredEpoch`).
 * Without a restored epoch, a run that stopped early marks its lowest validation loss as best.
 * @example const h = toHistory(train.fit({ ... }));
 */
export function toHistory(input: History | TrainHistoryLike): History {
  const origin = captureOrigin();
  const h = input as Partial<History & TrainHistoryLike>;
  if (!h || !isArray(h.epochs)) throw new PlotError('a history needs an epochs array ({ epochs: [{ epoch, loss, valLoss?, metrics? }] })', { op: 'lossChart', origin });
  if (!h.epochs!.length) throw new PlotError('the history has no epochs', { op: 'lossChart', origin });
  const epochs = (h.epochs as readonly Record<string, unknown>[]).map((e, i) => {
    if (!e || typeof e.epoch !== 'number' || typeof e.loss !== 'number') throw new PlotError(`epochs[${i}] needs numeric epoch and loss`, { op: 'lossChart', origin });
    if (e.metrics && typeof e.metrics === 'object') return e as unknown as EpochRecord;
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(e)) {
      if (k === 'epoch' || k === 'loss' || k === 'valLoss' || typeof v !== 'number') continue;
      // train's camelCase validation names: valAccuracy → val_accuracy
      const m = /^val([A-Z].*)$/.exec(k);
      metrics[m ? `val_${m[1][0].toLowerCase()}${m[1].slice(1)}` : k] = v;
    }
    return { epoch: e.epoch, loss: e.loss, ...(typeof e.valLoss === 'number' ? { valLoss: e.valLoss } : {}), metrics } as EpochRecord;
  });
  const stoppedAt = h.stoppedAt ?? (h.stopped ? h.stopped.epoch : undefined);
  let bestEpoch = h.bestEpoch ?? (typeof h.restoredEpoch === 'number' ? h.restoredEpoch : undefined);
  if (bestEpoch === undefined && stoppedAt !== undefined) {
    const withVal = epochs.filter((e) => typeof e.valLoss === 'number' && Number.isFinite(e.valLoss));
    if (withVal.length) bestEpoch = withVal.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a)).epoch;
  }
  return { epochs, ...(stoppedAt !== undefined ? { stoppedAt } : {}), ...(bestEpoch !== undefined ? { bestEpoch } : {}) };
}

// ---- gradient flow -----------------------------------------------------------------------

/**
 * Mean and max |∂L/∂p| per layer on a log axis (the `plot_grad_flow` picture), with the
 * vanishing threshold as a rule and flagged layers marked.
 * @example
 * const svg = await renderChart(gradientBarChart(flow));
 */
export function gradientBarChart(flow: GradientFlow, opts: { title?: string; width?: number } = {}): ChartSpec {
  plotOptions('gradientBarChart', opts, ['title', 'width']);
  if (!flow || !Array.isArray(flow.layers) || !flow.layers.length) throw new PlotError('the gradient flow has no layers', { op: 'gradientBarChart', origin: captureOrigin() });
  const rows: Record<string, unknown>[] = [];
  const order = flow.layers.map((l) => l.layer);
  // Bars on a log axis need a base (from 0 they would start at −∞ and have no height): a decade
  // under the decade of the smallest nonzero value. Zeros, which a log axis cannot show, are
  // stubs half a decade high; their tooltip says 0.
  const values = flow.layers.flatMap((l) => [l.meanAbs, l.maxAbs]);
  const base = logBase(values);
  const finite = values.filter((v) => v > 0 && Number.isFinite(v));
  const top = 10 ** Math.ceil(Math.log10(Math.max(...finite, base * 10)));
  // +∞ (an exploded gradient) fills the axis; NaN is drawn as a zero
  const shown = (v: number) => (v === Infinity ? top : v > 0 ? v : base * Math.sqrt(10));
  for (const l of flow.layers) {
    rows.push({ layer: l.layer, stat: 'max |grad|', value: shown(l.maxAbs), raw: l.maxAbs, flag: l.flag ?? 'ok' });
    rows.push({ layer: l.layer, stat: 'mean |grad|', value: shown(l.meanAbs), raw: l.meanAbs, flag: l.flag ?? 'ok' });
  }
  const decades: number[] = [];
  for (let e = Math.round(Math.log10(base)); e <= Math.round(Math.log10(top)); e++) decades.push(10 ** e);
  const flagged = flow.layers.filter((l) => l.flag).map((l) => ({ layer: l.layer, flag: l.flag === 'vanishing' ? '↓' : '⚠', value: shown(l.maxAbs) }));
  const x = { field: 'layer', type: 'ordinal', sort: order, axis: { labelAngle: -50 } };
  return {
    $schema: SCHEMA,
    title: opts.title ?? `gradient flow per layer${flow.steps.length > 1 ? ` (mean of ${flow.steps.length} steps)` : ''}`,
    width: opts.width ?? Math.max(260, 24 * order.length),
    height: 220,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar', opacity: 0.85 },
        encoding: {
          x,
          xOffset: { field: 'stat' },
          // a bar on a log axis starts at the floor, not at 0 (log 0 = −∞ would give every bar
          // zero height)
          y: {
            field: 'value',
            type: 'quantitative',
            scale: { type: 'log', domain: [base, top] },
            axis: { values: decades, labelExpr: "'1e' + round(log(datum.value) / LN10)" },
            title: '|∂L/∂p| (log)',
          },
          y2: { datum: base },
          color: { field: 'stat', type: 'nominal', title: null, scale: { domain: ['max |grad|', 'mean |grad|'], range: ['#9ecae1', '#08519c'] } },
          tooltip: [{ field: 'layer' }, { field: 'stat' }, { field: 'raw', format: '.3e', title: 'value' }, { field: 'flag' }],
        },
      },
      ...(flagged.length
        ? [{ data: { values: flagged }, mark: { type: 'text', dy: -6, fontSize: 12, color: '#c0392b' }, encoding: { x, y: { field: 'value', type: 'quantitative' }, text: { field: 'flag' } } }]
        : []),
    ],
    config: CONFIG,
  };
}

/**
 * Each layer's gradient norm against the step, on a log axis.
 * @example
 * const svg = await renderChart(gradientHistoryChart(probe.history()));
 */
export function gradientHistoryChart(records: readonly GradientRecord[], opts: { title?: string; width?: number } = {}): ChartSpec {
  plotOptions('gradientHistoryChart', opts, ['title', 'width']);
  if (!isArray(records) || !records.length) throw new PlotError('no gradient records to plot (record some steps first)', { op: 'gradientHistoryChart', origin: captureOrigin() });
  const values = records.flatMap((r) => r.layers.map((l) => ({ step: r.step, layer: l.layer, norm: l.norm })));
  const floor = tinyFloor(values.map((v) => v.norm));
  const order = records[0].layers.map((l) => l.layer);
  return {
    $schema: SCHEMA,
    title: opts.title ?? 'gradient norm per layer',
    width: opts.width ?? 420,
    height: 220,
    data: { values: values.map((v) => ({ ...v, plotted: Math.max(v.norm, floor) })) },
    mark: { type: 'line', point: records.length <= 40 },
    encoding: {
      x: { field: 'step', type: 'quantitative' },
      y: { field: 'plotted', type: 'quantitative', scale: { type: 'log' }, title: '‖∂L/∂layer‖ (log)' },
      color: { field: 'layer', type: 'nominal', sort: order, scale: { scheme: order.length > 10 ? 'viridis' : 'tableau10' } },
      tooltip: [{ field: 'layer' }, { field: 'step' }, { field: 'norm', format: '.3e' }],
    },
    config: CONFIG,
  };
}

/** Refuses an option a chart does not know (`{ titel: ... }` would otherwise be ignored). */
function plotOptions(op: string, opts: unknown, allowed: readonly string[]): void {
  checkOptionNames(opts, allowed, (d) => new PlotError(d, { op, origin: captureOrigin() }));
}

/** `Array.isArray` without narrowing a readonly array to `any[]`. */
function isArray(x: unknown): boolean {
  return Array.isArray(x);
}

/** The base of log-axis bars: the power of ten a decade under the smallest positive value's decade. */
function logBase(xs: readonly number[]): number {
  const pos = xs.filter((v) => v > 0 && Number.isFinite(v));
  return pos.length ? 10 ** (Math.floor(Math.log10(Math.min(...pos))) - 1) : 1e-12;
}

/** Replaces zeros (which a log axis cannot show) by a value below the smallest positive one. */
function tinyFloor(xs: readonly number[]): number {
  const pos = xs.filter((v) => v > 0 && Number.isFinite(v));
  return pos.length ? Math.min(...pos) / 10 : 1e-12;
}

// ---- activations -------------------------------------------------------------------------

/**
 * Learned activation shapes per layer: one panel per activation, curves before and after
 * training (from `activationCurves` called at both times). Curves that are not convex on the grid
 * are dashed, and each panel's title counts the convex ones (`3/8 convex after`).
 * @example
 * const before = activationCurves(sites);  // ... train ...
 * const svg = await renderChart(activationChart({ before, after: activationCurves(sites) }));
 */
export function activationChart(curves: { before?: readonly ActivationCurve[]; after?: readonly ActivationCurve[] } | readonly ActivationCurve[], opts: { title?: string; columns?: number } = {}): ChartSpec {
  plotOptions('activationChart', opts, ['title', 'columns']);
  const sets: [string, readonly ActivationCurve[]][] = Array.isArray(curves) ? [['current', curves as readonly ActivationCurve[]]] : Object.entries(curves as Record<string, readonly ActivationCurve[]>).filter(([, v]) => v && v.length);
  if (!sets.length) throw new PlotError('no activation curves to plot', { op: 'activationChart', origin: captureOrigin() });
  const marked = sets.some(([, list]) => list.some((c) => c.convex !== undefined));
  // the panel title: the activation's name and, per set, how many of its curves are convex
  const panel = new Map<string, string>();
  for (const name of new Set(sets.flatMap(([, list]) => list.map((c) => c.name)))) {
    const counts = sets
      .map(([when, list]) => {
        const mine = list.filter((c) => c.name === name && c.convex !== undefined);
        return mine.length ? `${mine.filter((c) => c.convex).length}/${mine.length} convex ${when === 'current' ? '' : when}`.trim() : '';
      })
      .filter(Boolean);
    panel.set(name, counts.length ? `${name}: ${counts.join(', ')}` : name);
  }
  const values: Record<string, unknown>[] = [];
  for (const [when, list] of sets) {
    for (const c of list) {
      const shape = c.convex === undefined ? 'not judged' : c.convex ? 'convex' : 'not convex';
      c.x.forEach((x, i) => values.push({ activation: c.name, panel: panel.get(c.name), when, channel: c.channel, shape, x, y: c.y[i] }));
    }
  }
  const domain = sets.map(([w]) => w);
  const dashes: [string, number[]][] = [['convex', [1, 0]], ['not convex', [5, 3]], ['not judged', [1, 2]]];
  const present = dashes.filter(([k]) => values.some((v) => v.shape === k));
  return {
    $schema: SCHEMA,
    title: opts.title ?? 'learned activations',
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null },
    columns: opts.columns ?? 3,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 180,
      height: 130,
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'input' },
        y: { field: 'y', type: 'quantitative', title: 'output' },
        color: { field: 'when', type: 'nominal', title: null, scale: { domain, range: domain.length === 1 ? ['#08519c'] : ['#aab7b8', '#08519c'] } },
        detail: { field: 'channel', type: 'nominal' },
        ...(marked ? { strokeDash: { field: 'shape', type: 'nominal', title: null, scale: { domain: present.map(([k]) => k), range: present.map(([, d]) => d) } } } : {}),
        opacity: { value: 0.8 },
        tooltip: [{ field: 'activation' }, { field: 'when' }, { field: 'channel' }, { field: 'shape' }, { field: 'x', format: '.3g' }, { field: 'y', format: '.3g' }],
      },
    },
    config: CONFIG,
  };
}

// ---- histograms --------------------------------------------------------------------------

/** Counts of values in equal-width bins for one layer and kind. */
export interface Histogram {
  readonly layer: string;
  readonly kind: 'weight' | 'gradient';
  readonly bins: readonly { readonly x0: number; readonly x1: number; readonly count: number }[];
  readonly count: number;
}

/**
 * Histograms of every layer's param values and, when given, gradients (e.g.
 * `probe.lastGradients()`). A layer is the scope prefix of depth `layerDepth`.
 * @example
 * const hs = histograms(g, { gradients: probe.lastGradients() });
 */
export function histograms(g: Graph, opts: { gradients?: ReadonlyMap<string, Tensor>; bins?: number; layerDepth?: number; params?: readonly Sym[] } = {}): Histogram[] {
  const origin = captureOrigin();
  plotOptions('histograms', opts, ['gradients', 'bins', 'layerDepth', 'params']);
  if (!(g instanceof Graph)) throw new PlotError('histograms needs a Graph', { op: 'histograms', origin });
  const nb = opts.bins ?? 30;
  if (!Number.isInteger(nb) || nb < 1) throw new PlotError(`bins must be a positive integer, got ${String(nb)}`, { op: 'histograms', origin });
  const depth = opts.layerDepth ?? 1;
  const params = opts.params ?? g.params();
  const groups = new Map<string, { weight: number[][]; gradient: number[][] }>();
  for (const p of params) {
    const name = p.name!;
    const layer = p.node.scope ? p.node.scope.split('/').slice(0, depth).join('/') : name;
    const e = groups.get(layer) ?? groups.set(layer, { weight: [], gradient: [] }).get(layer)!;
    e.weight.push(Array.from(g.storage(p).data));
    const gr = opts.gradients?.get(name);
    if (gr) e.gradient.push(Array.from(gr.data));
  }
  const out: Histogram[] = [];
  for (const [layer, e] of groups) {
    out.push({ layer, kind: 'weight', ...bin(e.weight.flat(), nb) });
    if (e.gradient.length) out.push({ layer, kind: 'gradient', ...bin(e.gradient.flat(), nb) });
  }
  return out;
}

function bin(xs: number[], nb: number): { bins: { x0: number; x1: number; count: number }[]; count: number } {
  const finite = xs.filter(Number.isFinite);
  if (!finite.length) return { bins: [], count: 0 };
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(lo))) {
    lo -= 0.5 * Math.max(1e-6, Math.abs(lo));
    hi += 0.5 * Math.max(1e-6, Math.abs(hi));
  }
  const w = (hi - lo) / nb;
  const counts = new Array<number>(nb).fill(0);
  for (const x of finite) counts[Math.min(nb - 1, Math.floor((x - lo) / w))]++;
  return { bins: counts.map((count, i) => ({ x0: lo + i * w, x1: lo + (i + 1) * w, count })), count: finite.length };
}

/**
 * One row per layer, weights on the left and gradients on the right, each with its own x range.
 * @example
 * const svg = await renderChart(histogramChart(histograms(g, { gradients })));
 */
export function histogramChart(hists: readonly Histogram[], opts: { title?: string } = {}): ChartSpec {
  plotOptions('histogramChart', opts, ['title']);
  if (!isArray(hists) || !hists.length) throw new PlotError('no histograms to plot', { op: 'histogramChart', origin: captureOrigin() });
  const values = hists.flatMap((hg) => hg.bins.map((b) => ({ layer: hg.layer, kind: hg.kind, x0: b.x0, x1: b.x1, count: b.count })));
  const layers = [...new Set(hists.map((x) => x.layer))];
  return {
    $schema: SCHEMA,
    title: opts.title ?? 'weights and gradients per layer',
    data: { values },
    facet: { row: { field: 'layer', type: 'nominal', sort: layers, title: null, header: { labelAngle: 0, labelAlign: 'left' } }, column: { field: 'kind', type: 'nominal', title: null, sort: ['weight', 'gradient'] } },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    spec: {
      width: 200,
      height: 60,
      mark: { type: 'bar', binSpacing: 0 },
      encoding: {
        x: { field: 'x0', type: 'quantitative', bin: { binned: true }, title: null, axis: { format: '.2~g', labelFontSize: 8 } },
        x2: { field: 'x1' },
        y: { field: 'count', type: 'quantitative', title: null, axis: { labelFontSize: 8, tickCount: 3 } },
        color: { field: 'kind', type: 'nominal', legend: null, scale: { domain: ['weight', 'gradient'], range: ['#ca6f1e', '#08519c'] } },
        tooltip: [{ field: 'layer' }, { field: 'kind' }, { field: 'x0', format: '.3g', title: 'from' }, { field: 'x1', format: '.3g', title: 'to' }, { field: 'count' }],
      },
    },
    config: CONFIG,
  };
}
