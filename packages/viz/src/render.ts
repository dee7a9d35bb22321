/**
 * Rendering: DOT → SVG with Graphviz compiled to WebAssembly (`@hpcc-js/wasm-graphviz`), and
 * SVG → PNG with resvg. Both run in Node with no browser and no system Graphviz.
 */
import { GradgraphError, captureOrigin, checkOptionNames } from '@gradgraph/core';
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import { Resvg } from '@resvg/resvg-js';

/** Graphviz could not lay out a DOT text, or resvg could not rasterize an SVG. */
export class RenderError extends GradgraphError {}

let graphviz: Promise<Graphviz> | undefined;

/**
 * The Graphviz version doing the layout (e.g. `16.1.0`).
 * @example console.log(await graphvizVersion());
 */
export async function graphvizVersion(): Promise<string> {
  return (await loadGraphviz()).version();
}

/** Where Graphviz's own stderr lines go during a layout (undefined: to console.error). */
let captured: string[] | undefined;

function loadGraphviz(): Promise<Graphviz> {
  // The WebAssembly module binds console.error when it starts; bind it to a forwarder so its
  // notes during a layout ("triangulation failed" when a spline is routed as a fallback) can be
  // captured instead of printed.
  graphviz ??= (async () => {
    const original = console.error;
    console.error = (...args: unknown[]) => (captured ? captured.push(args.map(String).join(' ')) : original.apply(console, args));
    try {
      return await Graphviz.load();
    } finally {
      console.error = original;
    }
  })();
  return graphviz;
}

export interface SvgOptions {
  /** Graphviz layout engine. Default `'dot'` (layered, what graphs of ops want). */
  engine?: 'dot' | 'neato' | 'fdp' | 'sfdp' | 'circo' | 'twopi' | 'osage' | 'patchwork';
  /**
   * Receives the notes Graphviz prints while laying out (e.g. a spline it had to route the simple
   * way). The SVG is complete either way; by default the notes are dropped.
   */
  onWarning?: (line: string) => void;
}

/**
 * Lays out DOT text and returns the SVG.
 * @example
 * const svg = await renderSvg(toDot(g));
 */
export async function renderSvg(dot: string, opts: SvgOptions = {}): Promise<string> {
  const origin = captureOrigin();
  checkOptionNames(opts, ['engine', 'onWarning'], (d) => new RenderError(d, { op: 'renderSvg', origin }));
  if (typeof dot !== 'string' || !dot.trim()) throw new RenderError(`needs DOT text, got ${typeof dot === 'string' ? 'an empty string' : typeof dot}`, { op: 'renderSvg', origin });
  const gv = await loadGraphviz();
  const notes: string[] = [];
  captured = notes;
  try {
    return gv.layout(dot, 'svg', opts.engine ?? 'dot');
  } catch (e) {
    throw new RenderError(`Graphviz ${gv.version()} rejected the DOT: ${String((e as Error).message ?? e).trim()}`, { op: 'renderSvg', origin });
  } finally {
    captured = undefined;
    if (opts.onWarning) for (const n of notes) opts.onWarning(n);
  }
}

export interface PngOptions {
  /** Output width in pixels (height follows). Default: the SVG's own size times `scale`. */
  width?: number;
  /** Zoom factor when `width` is not given. Default 2 (sharp on high-density screens). */
  scale?: number;
  /** Background colour. Default white (SVGs from Graphviz and vega are transparent). */
  background?: string;
  /** The longer side is capped at this many pixels (huge graphs stay within memory). Default 16000. */
  maxSide?: number;
}

/**
 * Rasterizes an SVG to PNG bytes with resvg (system fonts are used for text).
 * @example
 * writeFileSync('graph.png', renderPng(await renderSvg(dot), { width: 1600 }));
 */
export function renderPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const origin = captureOrigin();
  checkOptionNames(opts, ['width', 'scale', 'background', 'maxSide'], (d) => new RenderError(d, { op: 'renderPng', origin }));
  if (typeof svg !== 'string' || !svg.includes('<svg')) throw new RenderError('needs SVG text (a string containing <svg>)', { op: 'renderPng', origin });
  if (opts.width !== undefined && !(Number.isFinite(opts.width) && opts.width >= 1)) throw new RenderError(`width must be a positive number of pixels, got ${String(opts.width)}`, { op: 'renderPng', origin });
  if (opts.scale !== undefined && !(Number.isFinite(opts.scale) && opts.scale > 0)) throw new RenderError(`scale must be a positive number, got ${String(opts.scale)}`, { op: 'renderPng', origin });
  try {
    // Liberation Sans has Helvetica's metrics, which Graphviz sizes its labels by
    const font = { loadSystemFonts: true, defaultFontFamily: 'Liberation Sans', sansSerifFamily: 'Liberation Sans' };
    const probe = new Resvg(svg, { font: { loadSystemFonts: false }, logLevel: 'off' });
    const side = Math.max(probe.width, probe.height, 1);
    const maxSide = opts.maxSide ?? 16000;
    const zoom = Math.min(opts.width !== undefined ? opts.width / probe.width : (opts.scale ?? 2), maxSide / side);
    const r = new Resvg(svg, { background: opts.background ?? 'white', fitTo: { mode: 'zoom', value: zoom }, font, logLevel: 'off' });
    return new Uint8Array(r.render().asPng());
  } catch (e) {
    throw new RenderError(`resvg could not render the SVG: ${(e as Error).message ?? String(e)}`, { op: 'renderPng', origin });
  }
}
