/** Small helpers for writing DOT: quoting, HTML-like labels, colours. */

/**
 * Characters of a name that must not reach a picture or a terminal as they are: C0 and C1
 * controls (an ANSI escape's ESC, BEL; XML 1.0 forbids most of them, so an SVG holding one does
 * not parse), U+2028/U+2029 and the bidirectional overrides. `\n` is left alone: it is a line
 * break of a label.
 */
const HIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `s` with each hidden character (see HIDDEN) spelled as visible text, `\u001b`.
 * @example visible('a\u001b[31m'); // "a\\u001b[31m"
 */
export function visible(s: string): string {
  return s.replace(HIDDEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A copy of a JSON-like value with `visible` applied to every string in it (keys included). */
export function visibleStrings(x: unknown): unknown {
  if (typeof x === 'string') return visible(x);
  if (Array.isArray(x)) return x.map(visibleStrings);
  if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [visible(k), visibleStrings(v)]));
  }
  return x;
}

/**
 * The last segment of a name path, for a label: `enc/dense/kernel` → `kernel`. A name that ends
 * in `/` keeps its last segment with the slashes (`w/` → `w/`): a label never starts empty.
 */
export function leafName(path: string): string {
  const stem = path.replace(/\/+$/, '');
  const leaf = stem.slice(stem.lastIndexOf('/') + 1) + path.slice(stem.length);
  return leaf === '' ? '""' : leaf;
}

/**
 * A DOT double-quoted string; hidden characters become visible text, and `&` is `&amp;`
 * (Graphviz copies entities into the SVG as they are, so `a&amp;b` would show as `a&b`).
 */
export function q(s: string): string {
  return `"${visible(s.replace(/\r\n/g, '\n')).replace(/&/g, '&amp;').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * A label's lines without empty ones: Graphviz-wasm 16 fails at random ("table index is out of
 * bounds") on labels that start with empty lines, which a name with a newline could make.
 */
function labelText(s: string): string {
  const lines = s.split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.length ? lines.join('\n') : '""';
}

/** `key=value` attribute list, skipping undefined values; strings are quoted. */
export function attrs(a: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    const text = typeof v === 'string' && (k === 'label' || k === 'xlabel') ? labelText(v) : v;
    parts.push(`${k}=${typeof text === 'string' ? q(text) : String(text)}`);
  }
  return parts.length ? ` [${parts.join(', ')}]` : '';
}

function hex2rgb(c: string): [number, number, number] {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgb2hex([r, g, b]: readonly number[]): string {
  return '#' + [r, g, b].map((x) => Math.round(x).toString(16).padStart(2, '0')).join('');
}

/** A colour from `stops` at `t` in [0, 1], interpolated in RGB. */
export function ramp(stops: readonly string[], t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const a = hex2rgb(stops[i]);
  const b = hex2rgb(stops[i + 1]);
  const f = x - i;
  return rgb2hex(a.map((v, k) => v + (b[k] - v) * f));
}

/** Sequential blues, pale (small) to dark (large); readable on white. */
export const GRAD_STOPS = ['#c6dbef', '#9ecae1', '#6baed6', '#3182bd', '#08519c'] as const;
export const EXPLODING_COLOR = '#cb181d';
export const VANISHING_COLOR = '#8c6bb1';

/** A qualitative palette for memory slots and kernels (ColorBrewer Set3). */
export const SET3 = ['#8dd3c7', '#ffffb3', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#d9d9d9', '#bc80bd', '#ccebc5', '#ffed6f'] as const;

/** A number in 3 significant digits, exponent form outside [1e-3, 1e4). */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
}
