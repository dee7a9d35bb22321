/**
 * Hash-consing keys: the one encoding of (op, dtype, inputs, attributes) that the graph builder
 * (`graph.ts`) and the compiler's working copy (`compiler/work.ts`) both use, so "the same node"
 * means the same thing before and during compilation.
 *
 * The encoding is exact: two attribute values get the same key only when they are the same
 * value. Numbers are encoded by their IEEE-754 bits, so −0 and +0, −∞ and +∞, and NaNs with
 * different payloads all differ (JSON.stringify would turn ±∞ and NaN into `null` and merge
 * `pad(x, …, −Infinity)` with `pad(x, …, NaN)`). Tensors (constants) are encoded by dtype, shape
 * and the bytes of their data. Constants with more than `MAX_KEYED_ELEMENTS` elements get no key
 * (they are never merged by construction; cse compares them by digest).
 */
import type { Attrs } from './ir';
import { fmtShape } from './shape';
import { Tensor } from './tensor';

/** Constants larger than this are not hash-consed (keys would be as large as the data). */
export const MAX_KEYED_ELEMENTS = 256;

const bits = new DataView(new ArrayBuffer(8));
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/**
 * The key of one number, exact for every float64: the shortest decimal that round-trips for
 * ordinary numbers (readable, and equal strings ⇔ equal values), with −0 and NaN by their bits.
 */
export function numberKey(x: number): string {
  if (Number.isNaN(x)) {
    bits.setFloat64(0, x);
    return `NaN:${bits.getUint32(0).toString(16)}${bits.getUint32(4).toString(16).padStart(8, '0')}`;
  }
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  return String(x); // Infinity, -Infinity, and finite numbers: String is injective on them
}

/** The key of an attribute value, or null when it holds a constant too large to key. */
export function valueKey(v: unknown): string | null {
  if (typeof v === 'number') return `n${numberKey(v)}`;
  if (v instanceof Tensor) {
    if (v.size > MAX_KEYED_ELEMENTS) return null;
    const d = v.data;
    return `T${v.dtype}${fmtShape(v.shape)}(${hexOf(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))})`;
  }
  if (Array.isArray(v)) {
    const parts: string[] = [];
    for (const x of v) {
      const k = valueKey(x);
      if (k === null) return null;
      parts.push(k);
    }
    return `[${parts.join(',')}]`;
  }
  if (v && typeof v === 'object') {
    const parts: string[] = [];
    for (const name of Object.keys(v).sort()) {
      const k = valueKey((v as Record<string, unknown>)[name]);
      if (k === null) return null;
      parts.push(`${JSON.stringify(name)}:${k}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (v === undefined) return 'u';
  if (typeof v === 'bigint') return `b${v}`;
  return JSON.stringify(v) ?? `?${String(v)}`; // strings (quoted), booleans, null
}

/**
 * The hash-consing key of a node: op, dtype, inputs (in the order given) and attributes. Null for
 * a node that must stay unique (an attribute holds a large constant).
 * @example nodeKey('pad', [3], { pads: [[1, 1]], value: -Infinity }, 'float32') !== nodeKey('pad', [3], { pads: [[1, 1]], value: NaN }, 'float32')
 */
export function nodeKey(op: string, inputs: readonly number[], attrs: Attrs, dtype: string): string | null {
  const a = valueKey(attrs);
  return a === null ? null : `${op}|${dtype}|${inputs.join(',')}|${a}`;
}
