/**
 * Text for tensors, as `String(t)` and `console.log(t)` show them: the dtype and shape, then the
 * values in their dtype's precision — a float32 prints the shortest decimal that reads back as
 * the same float32 (`0.1`, not `0.10000000149011612`), a float64 the shortest for a float64, an
 * int32 its integer, a bool `true`/`false` — and, past 1,000 elements, only the first and last
 * three along each axis with `...` between (NumPy's summary rule).
 */
import type { DType, TypedArray } from './dtype';
import { fmtShape } from './shape';

/** More elements than this are summarized (NumPy's `threshold`). */
export const SUMMARY_THRESHOLD = 1000;
/** Elements kept at each end of a summarized axis (NumPy's `edgeitems`). */
export const EDGE_ITEMS = 3;

/**
 * One element as its dtype holds it: float32 with the fewest digits that round back to the same
 * float32, float64 with JavaScript's shortest round-trip form, −0 as `-0`.
 * @example fmtElement(Math.fround(0.1), 'float32'); // "0.1"
 */
export function fmtElement(v: number, dtype: DType): string {
  if (dtype === 'bool') return v ? 'true' : 'false';
  if (Object.is(v, -0)) return '-0';
  if (dtype !== 'float32' || !Number.isFinite(v)) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(Number(v.toPrecision(9)));
}

interface Layout {
  /** Whether the whole tensor is summarized (some axis elided). */
  readonly summarize: boolean;
  readonly width: number;
}

/** Which indices of an axis of length `n` are printed (−1 marks the `...`). */
function indices(n: number, summarize: boolean): number[] {
  if (!summarize || n <= 2 * EDGE_ITEMS) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE_ITEMS }, (_, i) => i), -1, ...Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i)];
}

/** The elements that will be printed, in order (to size the columns). */
function shown(data: TypedArray, shape: readonly number[], summarize: boolean): number[] {
  const out: number[] = [];
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const walk = (d: number, off: number) => {
    if (d === shape.length) return void out.push(data[off]);
    for (const i of indices(shape[d], summarize)) if (i >= 0) walk(d + 1, off + i * strides[d]);
  };
  walk(0, 0);
  return out;
}

/**
 * The values of a tensor as nested brackets. `multiline`: one row of the last axis per line,
 * indented under its brackets, right-aligned in columns when there are rows (what `console.log`
 * prints); otherwise one line. `style` colours an element (inspect's `stylize`) after it is padded.
 */
export function fmtValues(dtype: DType, shape: readonly number[], data: TypedArray, opts: { multiline?: boolean; style?: (s: string) => string } = {}): string {
  const summarize = data.length > SUMMARY_THRESHOLD;
  const style = opts.style ?? ((s: string) => s);
  if (shape.length === 0) return style(fmtElement(data[0], dtype));
  const texts = shown(data, shape, summarize).map((v) => fmtElement(v, dtype));
  const layout: Layout = { summarize, width: Math.max(0, ...texts.map((t) => t.length)) };
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const columns = opts.multiline && shape.length >= 2;
  const cell = (v: number) => style(columns ? fmtElement(v, dtype).padStart(layout.width) : fmtElement(v, dtype));
  const walk = (d: number, off: number, indent: string): string => {
    const idx = indices(shape[d], layout.summarize);
    if (d === shape.length - 1) return `[${idx.map((i) => (i < 0 ? '...' : cell(data[off + i * strides[d]]))).join(', ')}]`;
    const inner = indent + ' ';
    const sep = opts.multiline ? `,${'\n'.repeat(shape.length - 1 - d)}${inner}` : ', ';
    return `[${idx.map((i) => (i < 0 ? '...' : walk(d + 1, off + i * strides[d], inner))).join(sep)}]`;
  };
  return walk(0, 0, '');
}

/**
 * What `console.log(t)` prints: `Tensor float32[3] [0.1, 0.2, 0.3]`, or for rank 2 and up the
 * header, then one row per line:
 *
 *     Tensor float32[2,3]
 *     [[  1, 2.5,   3],
 *      [0.1, 0.2, 0.3]]
 */
export function inspectTensor(dtype: DType, shape: readonly number[], data: TypedArray, style?: (s: string) => string): string {
  const head = `Tensor ${dtype}${fmtShape(shape)}`;
  return `${head}${shape.length >= 2 ? '\n' : ' '}${fmtValues(dtype, shape, data, { multiline: true, style })}`;
}

/**
 * `Tensor(float32[2,3] [[1, 2.5, 3], [0.1, 0.2, 0.3]])`: the one-line form `String(t)` gives.
 * @example fmtTensor('float32', [2], new Float32Array([0.1, 0.2])); // "Tensor(float32[2] [0.1, 0.2])"
 */
export function fmtTensor(dtype: DType, shape: readonly number[], data: TypedArray): string {
  return `Tensor(${dtype}${fmtShape(shape)} ${fmtValues(dtype, shape, data)})`;
}

/**
 * A value as JSON-like text for error messages, but honest about numbers: `[2, NaN]` where
 * `JSON.stringify` would print `[2,null]` (NaN and ±Infinity are not JSON), `undefined` as itself.
 * @example fmtJson([4, NaN]); // "[4,NaN]"
 */
export function fmtJson(v: unknown, depth = 0): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (depth > 8) return '…';
  if (Array.isArray(v)) return `[${v.map((x) => fmtJson(x, depth + 1)).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${fmtJson(x, depth + 1)}`).join(',')}}`;
  return JSON.stringify(v) ?? String(v);
}
