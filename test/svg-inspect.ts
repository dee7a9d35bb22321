/**
 * Reading what a rendered SVG shows, for tests that check pictures by their content: its size,
 * the bars of a vega chart, and the boxes its texts really take when rasterized (measured by
 * resvg with the system fonts, as `renderPng` draws them).
 */
import { createRequire } from 'node:module';

/** The part of resvg's API used here. */
interface ResvgLike {
  getBBox(): { x: number; y: number; width: number; height: number } | undefined;
}
// the resvg that @gradgraph/viz renders PNGs with, so texts are measured as renderPng draws them
const { Resvg } = createRequire(new URL('../packages/viz/package.json', import.meta.url))('@resvg/resvg-js') as {
  Resvg: new (svg: string, opts: { font: { loadSystemFonts: boolean; defaultFontFamily: string }; logLevel: 'off' }) => ResvgLike;
};

/** Width and height of an SVG, from its root element (pt for Graphviz, px for vega). */
export function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg\b[^>]*?\bwidth="([\d.]+)(?:pt|px)?"[^>]*?\bheight="([\d.]+)(?:pt|px)?"/.exec(svg);
  if (!m) throw new Error('no <svg width height> in the text');
  return { width: Number(m[1]), height: Number(m[2]) };
}

export interface Bar {
  /** The bar's aria-label (vega lists its data fields there). */
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The bars vega drew (`<path d="Mx,yhWvHh-WZ">` in rect marks), with their aria labels. */
export function vegaBars(svg: string): Bar[] {
  const bars: Bar[] = [];
  for (const group of svg.split('<g class="mark-rect role-mark').slice(1)) {
    const body = group.slice(0, group.indexOf('</g>'));
    for (const m of body.matchAll(/<path aria-label="([^"]*)"[^>]*?\bd="M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v([-\d.e]+)h[-\d.e]+Z"/g)) {
      bars.push({ label: m[1], x: Number(m[2]), y: Number(m[3]), width: Number(m[4]), height: Number(m[5]) });
    }
  }
  return bars;
}

export interface TextBox {
  readonly text: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const SHAPES = /<(path|line|rect|circle|ellipse|polygon|polyline|image)\b[^>]*?(\/>|>[\s\S]*?<\/\1>)/g;
const TEXT = /<text\b[^>]*>[\s\S]*?<\/text>/g;

/**
 * The box every `<text>` whose content matches `select` takes in the rasterized picture: the SVG
 * is stripped of every shape and every other text, keeping the groups (and so their transforms),
 * and resvg measures what is left with the system fonts.
 */
export function textBoxes(svg: string, select: (text: string) => boolean = () => true): TextBox[] {
  const bare = svg.replace(SHAPES, '');
  const texts = [...bare.matchAll(TEXT)];
  const out: TextBox[] = [];
  texts.forEach((t, i) => {
    const content = decode(t[0].replace(/<[^>]+>/g, ''));
    if (!select(content)) return;
    let k = 0;
    const alone = bare.replace(TEXT, (m) => (k++ === i ? m : ''));
    const box = new Resvg(alone, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, logLevel: 'off' }).getBBox();
    if (box) out.push({ text: content, x: box.x, y: box.y, width: box.width, height: box.height });
  });
  return out;
}

/** Whether two boxes share any area. */
export function overlap(a: TextBox, b: TextBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}
