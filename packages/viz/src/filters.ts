/**
 * Pictures of convolutional models: a kernel's filters as an image grid (SVG, one small image per
 * output channel and input channel, a diverging color scale centered at 0), and per-channel values
 * of a layer — PReLU slopes, biases, batchNorm scales — as a bar chart (a vega-lite spec, rendered
 * with `renderChart`).
 */
import { GradgraphError, Graph, Tensor, captureOrigin, type Sym } from '@gradgraph/core';
import type { ChartSpec } from './plots';

/** Bad input for a filter picture. */
export class FilterError extends GradgraphError {}

export interface FilterGridOptions {
  /** Pixels per kernel tap. Default 12. */
  cell?: number;
  /** Filters per row of the grid. Default: up to 8. */
  columns?: number;
  /** A title above the grid. */
  title?: string;
  /** The color scale spans [−scale, scale]. Default: the largest |w| of the kernel. */
  scale?: number;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** A diverging color: blue (−1) through white (0) to red (+1). */
function diverging(t: number): string {
  const u = Math.max(-1, Math.min(1, t));
  const mix = (a: number, b: number, f: number) => Math.round(a + (b - a) * f);
  // white → #b2182b (red) for positive, white → #2166ac (blue) for negative
  const [r, g, b] = u >= 0 ? [mix(255, 178, u), mix(255, 24, u), mix(255, 43, u)] : [mix(255, 33, -u), mix(255, 102, -u), mix(255, 172, -u)];
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The filters of a convolution kernel `[kh, kw, cin, cout]` (or `[k, cin, cout]` for 1-d, drawn
 * as 1×k strips) as a grid of small images: one tile per output channel (and, for cin > 1, one row
 * of tiles per input channel inside it), each tap a square colored by its value. Takes a Tensor,
 * or a param of a graph (`nn.conv`'s `conv/kernel`).
 * @example writeFileSync('filters.svg', filterGrid(g.getValue('block1/conv/kernel'), { title: 'first-layer filters' }));
 */
export function filterGrid(kernel: Tensor | Sym, opts: FilterGridOptions = {}): string {
  const origin = captureOrigin();
  const w = kernel instanceof Tensor ? kernel : kernelValue(kernel, origin);
  if (w.rank !== 3 && w.rank !== 4) throw new FilterError(`a kernel must be [kh, kw, cin, cout] or [k, cin, cout], got shape [${w.shape.join(',')}]`, { op: 'filterGrid', origin });
  const [kh, kw, cin, cout] = w.rank === 4 ? w.shape : [1, ...w.shape];
  if (!w.data.every((v) => Number.isFinite(v))) throw new FilterError('the kernel holds NaN or ±∞', { op: 'filterGrid', origin });
  const cell = opts.cell ?? 12;
  const columns = Math.max(1, Math.min(opts.columns ?? 8, cout));
  let scale = opts.scale ?? 0;
  if (!scale) for (const v of w.data) scale = Math.max(scale, Math.abs(v));
  if (!(scale > 0)) scale = 1;
  const gap = Math.max(4, Math.round(cell / 2));
  const label = 14;
  const tileW = kw * cell;
  const tileH = cin * kh * cell + (cin - 1) * 2;
  const rows = Math.ceil(cout / columns);
  const top = opts.title ? 22 : 4;
  const legendH = 26;
  const width = Math.max(columns * (tileW + gap) + gap, 200);
  const height = top + rows * (tileH + label + gap) + legendH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (opts.title) parts.push(`<text x="${gap}" y="15" font-size="13" fill="#222">${esc(opts.title)}</text>`);
  for (let o = 0; o < cout; o++) {
    const x0 = gap + (o % columns) * (tileW + gap);
    const y0 = top + Math.floor(o / columns) * (tileH + label + gap);
    parts.push(`<text x="${x0 + tileW / 2}" y="${y0 + 10}" font-size="9" text-anchor="middle" fill="#555">${o}</text>`);
    for (let c = 0; c < cin; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const v = w.data[((i * kw + j) * cin + c) * cout + o];
          const y = y0 + label + c * (kh * cell + 2) + i * cell;
          parts.push(`<rect x="${x0 + j * cell}" y="${y}" width="${cell}" height="${cell}" fill="${diverging(v / scale)}"><title>filter ${o}${cin > 1 ? `, input ${c}` : ''}, tap (${i}, ${j}): ${v.toPrecision(4)}</title></rect>`);
        }
      }
      parts.push(`<rect x="${x0}" y="${y0 + label + c * (kh * cell + 2)}" width="${tileW}" height="${kh * cell}" fill="none" stroke="#aab7b8" stroke-width="0.5"/>`);
    }
  }
  // the color scale
  const ly = height - legendH + 6;
  const steps = 20;
  const lw = 120;
  for (let k = 0; k < steps; k++) parts.push(`<rect x="${gap + (k * lw) / steps}" y="${ly}" width="${lw / steps + 0.5}" height="8" fill="${diverging(-1 + (2 * (k + 0.5)) / steps)}"/>`);
  parts.push(`<text x="${gap}" y="${ly + 18}" font-size="9" fill="#555">${(-scale).toPrecision(2)}</text>`);
  parts.push(`<text x="${gap + lw / 2}" y="${ly + 18}" font-size="9" text-anchor="middle" fill="#555">0</text>`);
  parts.push(`<text x="${gap + lw}" y="${ly + 18}" font-size="9" text-anchor="end" fill="#555">${scale.toPrecision(2)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

function kernelValue(p: Sym, origin: string): Tensor {
  if (!p || typeof p !== 'object' || !(p.graph instanceof Graph) || p.op !== 'param') throw new FilterError('filterGrid needs a Tensor or a param symbol', { op: 'filterGrid', origin });
  return p.graph.getValue(p);
}

/** One layer's per-channel values for `channelChart`. */
export interface ChannelSeries {
  /** The layer (a legend entry and a facet). */
  readonly name: string;
  readonly values: ArrayLike<number> | Tensor | Sym;
}

/**
 * Per-channel values of one or more layers as bars — PReLU slopes, biases, normalization scales —
 * one panel per layer, with a reference rule (`rule`, e.g. the initial slope 0.25).
 * @example
 * const spec = channelChart([{ name: 'block1', values: g.byName('block1/prelu/alpha')! }], { title: 'PReLU slopes', rule: 0.25 });
 * writeFileSync('slopes.svg', await renderChart(spec));
 */
export function channelChart(series: readonly ChannelSeries[], opts: { title?: string; yTitle?: string; rule?: number; width?: number } = {}): ChartSpec {
  const origin = captureOrigin();
  if (!Array.isArray(series) || !series.length) throw new FilterError('channelChart needs at least one { name, values }', { op: 'channelChart', origin });
  const rows: Record<string, unknown>[] = [];
  for (const s of series) {
    const v = s.values instanceof Tensor ? s.values.data : isSym(s.values) ? s.values.graph.getValue(s.values).data : s.values;
    if (!v || typeof v.length !== 'number' || !v.length) throw new FilterError(`series "${s.name}" has no values`, { op: 'channelChart', origin });
    for (let c = 0; c < v.length; c++) {
      if (!Number.isFinite(v[c])) throw new FilterError(`series "${s.name}" holds a non-finite value at channel ${c}`, { op: 'channelChart', origin });
      rows.push({ layer: s.name, channel: c, value: v[c] });
    }
  }
  const most = Math.max(...series.map((s) => rows.filter((r) => r.layer === s.name).length));
  const bars = {
    mark: { type: 'bar', color: '#2e86c1' },
    encoding: {
      x: { field: 'channel', type: 'ordinal', title: 'channel' },
      y: { field: 'value', type: 'quantitative', title: opts.yTitle ?? 'value' },
      tooltip: [{ field: 'layer' }, { field: 'channel' }, { field: 'value', format: '.4f' }],
    },
  };
  const layers: Record<string, unknown>[] = [bars];
  if (opts.rule !== undefined) layers.push({ mark: { type: 'rule', color: '#c0392b', strokeDash: [4, 3] }, encoding: { y: { datum: opts.rule } } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title ?? 'per-channel values',
    data: { values: rows },
    facet: { column: { field: 'layer', type: 'nominal', title: null, sort: series.map((s) => s.name) } },
    resolve: { scale: { x: 'independent' } },
    spec: { width: opts.width ?? Math.max(120, 14 * most), height: 160, layer: layers },
    config: { font: FONT, view: { stroke: '#d5d8dc' }, axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eaecee' }, title: { fontSize: 13, anchor: 'start' } },
  };
}

function isSym(v: unknown): v is Sym {
  return !!v && typeof v === 'object' && 'graph' in v && (v as Sym).graph instanceof Graph;
}
