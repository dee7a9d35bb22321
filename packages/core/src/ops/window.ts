/**
 * What convolution and pooling share: the per-dim window attributes (size, stride, dilation,
 * padding), the output-size rule, the 2-D view every kernel works in (a 1-d problem is a 2-d one of
 * height 1), the pooling kernels over flat typed arrays, and the helpers their batching rules use.
 *
 * Layout is channels-last: x is `[N, ...spatial, C]` with 1 or 2 spatial dims. Along one spatial
 * dim of size n, a window of k taps with stride s, dilation d and padding [b, a] reads
 *
 *     x̃[p·s + t·d − b]   for output p and tap t = 0..k−1      (x̃ = x, padded outside [0, n))
 *
 * and there are ⌊(n + b + a − d(k − 1) − 1)/s⌋ + 1 outputs. A negative pad crops (as in XLA).
 */
import * as api from '../api';
import { GradError, GraphError } from '../errors';
import type { Sym } from '../graph';
import type { TypeInfo } from '../ir';
import { fail } from '../registry';
import { fmtShape, isStatic, type SymShape } from '../shape';

/** `[before, after]` padding of one spatial dim. */
export type PadPair = readonly [number, number];

/** How the user may give padding: `'valid'` (none), `'same'`, one number for every side, or a pair per spatial dim. */
export type PaddingSpec = 'valid' | 'same' | number | readonly (readonly [number, number])[];

/** The number of outputs along one dim: ⌊(n + b + a − d(k − 1) − 1)/s⌋ + 1. */
export function outSize(n: number, k: number, s: number, d: number, [b, a]: PadPair): number {
  return Math.floor((n + b + a - d * (k - 1) - 1) / s) + 1;
}

/**
 * 'same' padding as TF and JAX define it: ⌈n/s⌉ outputs, the total padding split with the odd
 * element after.
 * @example samePadding(5, 3, 2, 1) // [1, 1]: 3 outputs
 */
export function samePadding(n: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + d * (k - 1) + 1 - n, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * One positive (or, with `min: 0`, non-negative) integer per spatial dim, from a number or a list.
 * @example perDim(2, 2, 'stride') // [2, 2]
 */
export function perDim(v: unknown, nsp: number, what: string, min = 1): number[] {
  const list = typeof v === 'number' ? new Array<number>(nsp).fill(v) : v;
  if (!Array.isArray(list) || list.length !== nsp || !list.every((d) => Number.isInteger(d) && d >= min)) {
    fail(`${what} must be a ${min >= 1 ? 'positive' : 'non-negative'} integer or ${nsp} of them (one per spatial dim), got ${JSON.stringify(v)}`);
  }
  return [...(list as number[])];
}

/**
 * Explicit `[before, after]` pairs from a padding spec, for inputs of spatial size `sizes` and
 * (dilated) windows `kernel`·`dilation`. Negative pads (cropping) only where `allowNegative`.
 */
export function padPairs(raw: unknown, sizes: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[], allowNegative: boolean): [number, number][] {
  const nsp = sizes.length;
  const v = raw ?? 'valid';
  const ok = (p: unknown): p is number => Number.isInteger(p) && (allowNegative || (p as number) >= 0);
  const kind = allowNegative ? 'integers' : 'non-negative integers';
  if (v === 'valid') return sizes.map(() => [0, 0]);
  if (v === 'same') return sizes.map((n, i) => samePadding(n, kernel[i], stride[i], dilation[i]));
  if (typeof v === 'number') {
    if (!ok(v)) fail(`padding must be 'valid', 'same', ${kind} or [before, after] pairs, got ${v}`);
    return sizes.map(() => [v, v]);
  }
  if (!Array.isArray(v) || v.length !== nsp || !v.every((p) => Array.isArray(p) && p.length === 2 && ok(p[0]) && ok(p[1]))) {
    fail(`padding must be 'valid', 'same', a number or ${nsp} [before, after] pair${nsp > 1 ? 's' : ''} of ${kind} (one per spatial dim), got ${JSON.stringify(v)}`);
  }
  return (v as number[][]).map((p) => [p[0], p[1]]);
}

/** The spatial dims of a `[N, ...spatial, C]` shape (1 or 2 of them), which must be known now. */
export function spatialDims(t: TypeInfo, what: string): number[] {
  const r = t.shape.length;
  if (r < 3 || r > 4) fail(`${what} must be [N, ...spatial, C] with 1 or 2 spatial dims (rank 3 or 4), got ${fmtShape(t.shape)}`);
  const sp = t.shape.slice(1, -1);
  if (!isStatic(sp)) fail(`the spatial dims of ${what} ${fmtShape(t.shape)} must be known when the graph is built (only N and C may be null)`);
  return [...sp];
}

// ---- the 2-d view ------------------------------------------------------------------------------

/**
 * A window op in two spatial dims, channels last: a 1-d problem has h = oh = kh = 1. Input
 * `[n, h, w, c]`, output `[n, oh, ow, c]` (pooling; convolutions carry their channels separately),
 * window `kh × kw` with strides, dilations and the leading pads `pt`, `pl` (the trailing pads only
 * decide oh and ow).
 */
export interface Plane {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  readonly pt: number;
  readonly pl: number;
}

/**
 * The plane of a window op: batch `n`, input spatial dims, output spatial dims, and per-dim window,
 * stride, dilation and padding (1 or 2 of each).
 */
export function planeOf(n: number, sizes: readonly number[], outs: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[], padding: readonly PadPair[]): Plane {
  if (sizes.length === 1) return { n, h: 1, w: sizes[0], oh: 1, ow: outs[0], kh: 1, kw: kernel[0], sh: 1, sw: stride[0], dh: 1, dw: dilation[0], pt: 0, pl: padding[0][0] };
  return { n, h: sizes[0], w: sizes[1], oh: outs[0], ow: outs[1], kh: kernel[0], kw: kernel[1], sh: stride[0], sw: stride[1], dh: dilation[0], dw: dilation[1], pt: padding[0][0], pl: padding[1][0] };
}

// ---- pooling kernels ---------------------------------------------------------------------------
//
// Flat typed arrays with element offsets, so the reference kernels (offset 0, fresh tensors) and
// the JavaScript back end (views into its arena) run the same loops. Windows are visited in
// output order (n, i, j) and taps in order (ki, kj); sums are float64 in that order, so the two
// agree bit for bit. A pooling window always holds at least one element of x (pads < size).

type Arr = Float32Array | Float64Array | { [i: number]: number; length: number };

/** Each window's maximum: y[n,i,j,c] = max over the window of x (−∞ outside x, NaN wins, as Math.max). */
export function maxPoolInto(x: Arr, xo: number, y: Arr, yo: number, p: Plane, c: number): void {
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = yo + ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) y[o + ch] = -Infinity;
        for (let ki = 0; ki < p.kh; ki++) {
          const xi = i * p.sh + ki - p.pt;
          if (xi < 0 || xi >= p.h) continue;
          for (let kj = 0; kj < p.kw; kj++) {
            const xj = j * p.sw + kj - p.pl;
            if (xj < 0 || xj >= p.w) continue;
            const at = xo + ((n * p.h + xi) * p.w + xj) * c;
            for (let ch = 0; ch < c; ch++) y[o + ch] = Math.max(y[o + ch], x[at + ch]);
          }
        }
      }
    }
  }
}

/** How many elements of x the window at (i, j) holds (the rest is padding). */
function windowCount(p: Plane, i: number, j: number): number {
  const rows = Math.min(p.h, i * p.sh - p.pt + p.kh) - Math.max(0, i * p.sh - p.pt);
  const cols = Math.min(p.w, j * p.sw - p.pl + p.kw) - Math.max(0, j * p.sw - p.pl);
  return rows * cols;
}

/**
 * Each window's mean: the float64 sum of its elements of x divided by kh·kw (padded zeros
 * counted, `countIncludePad`) or by how many elements of x it holds.
 */
export function avgPoolInto(x: Arr, xo: number, y: Arr, yo: number, p: Plane, c: number, countIncludePad: boolean, acc: Float64Array): void {
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        acc.fill(0, 0, c);
        for (let ki = 0; ki < p.kh; ki++) {
          const xi = i * p.sh + ki - p.pt;
          if (xi < 0 || xi >= p.h) continue;
          for (let kj = 0; kj < p.kw; kj++) {
            const xj = j * p.sw + kj - p.pl;
            if (xj < 0 || xj >= p.w) continue;
            const at = xo + ((n * p.h + xi) * p.w + xj) * c;
            for (let ch = 0; ch < c; ch++) acc[ch] += x[at + ch];
          }
        }
        const count = countIncludePad ? p.kh * p.kw : windowCount(p, i, j);
        const o = yo + ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) y[o + ch] = acc[ch] / count;
      }
    }
  }
}

/**
 * The adjoint of avgPool: dx[k] = Σ over the windows holding k of dy/count, accumulated in float64
 * (`acc`, x's size) window by window, then stored.
 */
export function avgPoolTransposeInto(dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number, countIncludePad: boolean, acc: Float64Array): void {
  const size = p.n * p.h * p.w * c;
  acc.fill(0, 0, size);
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const count = countIncludePad ? p.kh * p.kw : windowCount(p, i, j);
        const o = dyo + ((n * p.oh + i) * p.ow + j) * c;
        for (let ki = 0; ki < p.kh; ki++) {
          const xi = i * p.sh + ki - p.pt;
          if (xi < 0 || xi >= p.h) continue;
          for (let kj = 0; kj < p.kw; kj++) {
            const xj = j * p.sw + kj - p.pl;
            if (xj < 0 || xj >= p.w) continue;
            const at = ((n * p.h + xi) * p.w + xj) * c;
            for (let ch = 0; ch < c; ch++) acc[at + ch] += dy[o + ch] / count;
          }
        }
      }
    }
  }
  for (let k = 0; k < size; k++) dx[dxo + k] = acc[k];
}

/**
 * The gradient of maxPool, ties split equally: each window sends dy/t to each of its t elements
 * equal to its maximum y (none when y is NaN). Accumulated in float64 (`acc`, x's size).
 */
export function maxPoolScatterInto(x: Arr, xo: number, y: Arr, yo: number, dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number, acc: Float64Array): void {
  const size = p.n * p.h * p.w * c;
  acc.fill(0, 0, size);
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) {
          const m = y[yo + o + ch];
          const t = tiesAt(x, xo, p, c, n, i, j, ch, m);
          if (t === 0) continue;
          const share = dy[dyo + o + ch] / t;
          for (let ki = 0; ki < p.kh; ki++) {
            const xi = i * p.sh + ki - p.pt;
            if (xi < 0 || xi >= p.h) continue;
            for (let kj = 0; kj < p.kw; kj++) {
              const xj = j * p.sw + kj - p.pl;
              if (xj < 0 || xj >= p.w) continue;
              const at = ((n * p.h + xi) * p.w + xj) * c + ch;
              if (x[xo + at] === m) acc[at] += share;
            }
          }
        }
      }
    }
  }
  for (let k = 0; k < size; k++) dx[dxo + k] = acc[k];
}

/**
 * The adjoint of maxPoolScatter in its last input: each window's mean of t over the elements of x
 * equal to its maximum y (0 when y is NaN). It is also maxPool's forward-mode derivative.
 */
export function maxPoolGatherInto(x: Arr, xo: number, y: Arr, yo: number, t: Arr, to: number, out: Arr, oo: number, p: Plane, c: number): void {
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) {
          const m = y[yo + o + ch];
          let count = 0;
          let sum = 0;
          for (let ki = 0; ki < p.kh; ki++) {
            const xi = i * p.sh + ki - p.pt;
            if (xi < 0 || xi >= p.h) continue;
            for (let kj = 0; kj < p.kw; kj++) {
              const xj = j * p.sw + kj - p.pl;
              if (xj < 0 || xj >= p.w) continue;
              const at = ((n * p.h + xi) * p.w + xj) * c + ch;
              if (x[xo + at] === m) {
                count++;
                sum += t[to + at];
              }
            }
          }
          out[oo + o + ch] = count === 0 ? 0 : sum / count;
        }
      }
    }
  }
}

/** How many elements of the window at (n, i, j), channel ch, equal m. */
function tiesAt(x: Arr, xo: number, p: Plane, c: number, n: number, i: number, j: number, ch: number, m: number): number {
  let t = 0;
  for (let ki = 0; ki < p.kh; ki++) {
    const xi = i * p.sh + ki - p.pt;
    if (xi < 0 || xi >= p.h) continue;
    for (let kj = 0; kj < p.kw; kj++) {
      const xj = j * p.sw + kj - p.pl;
      if (xj < 0 || xj >= p.w) continue;
      if (x[xo + ((n * p.h + xi) * p.w + xj) * c + ch] === m) t++;
    }
  }
  return t;
}

// ---- batching ----------------------------------------------------------------------------------

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** `x` with axis `from` moved to the front (nothing when it is there). */
export function toFront(x: Sym, from: number): Sym {
  if (from === 0) return x;
  return api.transpose(x, [from, ...range(0, x.rank).filter((i) => i !== from)]);
}

/** A reshape spec for `dims` with at most one unknown dim (as −1); throws a GraphError otherwise. */
export function reshapeSpec(dims: readonly (number | null)[], op: string): number[] {
  if (dims.filter((d) => d === null).length > 1) throw new GraphError(`vmap of ${op} needs the batch size or the per-example N known when the graph is built, got ${fmtShape(dims)}`, { op });
  return dims.map((d) => (d === null ? -1 : d));
}

/**
 * Inputs batched along `axes` (null: shared) brought to `[B, ...example]`: batched ones moved to
 * the front, shared ones broadcast (statically when B and their shape are known).
 */
export function batchToFront(inputs: readonly Sym[], axes: readonly (number | null)[], size: number | null): Sym[] {
  const k = axes.findIndex((a) => a !== null);
  const ref = toFront(inputs[k], axes[k]!);
  return inputs.map((x, i) => {
    if (axes[i] !== null) return toFront(x, axes[i]!);
    const e = api.expandDims(x, 0);
    if (size !== null && isStatic(x.shape)) return api.broadcastTo(e, [size, ...(x.shape as number[])]);
    return api.broadcastLike(e, ref);
  });
}

/** `[B, N, ...rest]` → `[B·N, ...rest]`, the batch folded into N (rest must be known). */
export function foldIntoN(x: Sym, op: string): Sym {
  return api.reshape(x, reshapeSpec([null, ...x.shape.slice(2)], op));
}

/** `[B·N, ...rest]` → `[B, N, ...rest]`, undoing `foldIntoN` (B or N must be known). */
export function unfoldN(y: Sym, b: number | null, n: number | null, op: string): Sym {
  return api.reshape(y, reshapeSpec([b, n, ...y.shape.slice(1)], op));
}

/** Throws the error for a gradient that needs a dim unknown until run time. */
export function needDims(op: string, what: string, shape: SymShape): never {
  throw new GradError(`cannot build the gradient: ${what} of ${fmtShape(shape)} must be known when the graph is built`, { op });
}
