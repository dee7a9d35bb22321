/** Small helpers for writing DOT: quoting, HTML-like labels, colours. */

/** A DOT double-quoted string. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

/** `key=value` attribute list, skipping undefined values; strings are quoted. */
export function attrs(a: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    parts.push(`${k}=${typeof v === 'string' ? q(v) : String(v)}`);
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
