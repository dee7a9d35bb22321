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
// output order (n, i, j) and taps in order (ki, kj), channels innermost; sums are float64 in that
// order. A pooling window always holds at least one element of x (pads < size). `scratch` is
// float64 space the kernel may use (`poolScratchSize` elements).

type Arr = Float32Array | Float64Array | { [i: number]: number; length: number };

/** Float64 scratch elements the pooling kernels need for x `[.., c]` of `size` elements. */
export function poolScratchSize(size: number, c: number): number {
  return size + 2 * c;
}

/** The taps of window (i, j) that land inside x: rows [kiLo, kiHi), columns [kjLo, kjHi). */
function tapRange(p: Plane, i: number, j: number, out: Int32Array): void {
  const r0 = i * p.sh - p.pt;
  const c0 = j * p.sw - p.pl;
  out[0] = Math.max(0, -r0);
  out[1] = Math.min(p.kh, p.h - r0);
  out[2] = Math.max(0, -c0);
  out[3] = Math.min(p.kw, p.w - c0);
}

/** 2×2 windows with stride 2 and no padding (or 1-d windows of 2): the usual pooling, unrolled. */
function isPairs(p: Plane): boolean {
  return p.kw === 2 && p.sw === 2 && p.pl === 0 && p.pt === 0 && ((p.kh === 2 && p.sh === 2) || p.kh === 1);
}

/** Each window's maximum: y[n,i,j,c] = max over the window of x (−∞ outside x, NaN wins, as Math.max). */
export function maxPoolInto(x: Arr, xo: number, y: Arr, yo: number, p: Plane, c: number): void {
  if (isPairs(p)) return maxPoolPairs(x, xo, y, yo, p, c);
  const t = new Int32Array(4);
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = yo + ((n * p.oh + i) * p.ow + j) * c;
        tapRange(p, i, j, t);
        let first = true;
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = xo + ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) {
            const at = rowAt + kj * c;
            if (first) for (let ch = 0; ch < c; ch++) y[o + ch] = x[at + ch];
            else for (let ch = 0; ch < c; ch++) y[o + ch] = max2(y[o + ch], x[at + ch]);
            first = false;
          }
        }
      }
    }
  }
}

/** m = Math.max(m, v) spelled out (Math.max is slow in V8's optimized loops): NaN wins, +0 beats −0. */
function max2(m: number, v: number): number {
  if (v > m || v !== v) return v;
  if (v === 0 && m === 0) return v + m;
  return m;
}

/** maxPool over 2×2 (or 1×2) windows with stride 2 and no padding: the taps in the same order as the general loop. */
function maxPoolPairs(x: Arr, xo: number, y: Arr, yo: number, p: Plane, c: number): void {
  const row = p.w * c;
  const down = p.kh === 2 ? row : 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      let a = xo + (n * p.h + i * p.sh) * row;
      let o = yo + (n * p.oh + i) * p.ow * c;
      for (let j = 0; j < p.ow; j++) {
        for (let ch = 0; ch < c; ch++) {
          let m = x[a + ch];
          m = max2(m, x[a + c + ch]);
          if (down) {
            m = max2(m, x[a + down + ch]);
            m = max2(m, x[a + down + c + ch]);
          }
          y[o + ch] = m;
        }
        a += 2 * c;
        o += c;
      }
    }
  }
}

/**
 * Each window's mean: the float64 sum of its elements of x divided by kh·kw (padded zeros
 * counted, `countIncludePad`) or by how many elements of x it holds.
 */
export function avgPoolInto(x: Arr, xo: number, y: Arr, yo: number, p: Plane, c: number, countIncludePad: boolean, scratch: Float64Array): void {
  const t = new Int32Array(4);
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        for (let ch = 0; ch < c; ch++) scratch[ch] = 0;
        tapRange(p, i, j, t);
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = xo + ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) for (let ch = 0; ch < c; ch++) scratch[ch] += x[rowAt + kj * c + ch];
        }
        const count = countIncludePad ? p.kh * p.kw : (t[1] - t[0]) * (t[3] - t[2]);
        const o = yo + ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) y[o + ch] = scratch[ch] / count;
      }
    }
  }
}

/**
 * The adjoint of avgPool: dx[k] = Σ over the windows holding k of dy/count, accumulated in float64
 * window by window (in `scratch`), then stored.
 */
export function avgPoolTransposeInto(dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number, countIncludePad: boolean, scratch: Float64Array): void {
  const size = p.n * p.h * p.w * c;
  const share = size; // c shares after the accumulators
  const t = new Int32Array(4);
  for (let k = 0; k < size; k++) scratch[k] = 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        tapRange(p, i, j, t);
        const count = countIncludePad ? p.kh * p.kw : (t[1] - t[0]) * (t[3] - t[2]);
        const o = dyo + ((n * p.oh + i) * p.ow + j) * c;
        for (let ch = 0; ch < c; ch++) scratch[share + ch] = dy[o + ch] / count;
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) for (let ch = 0; ch < c; ch++) scratch[rowAt + kj * c + ch] += scratch[share + ch];
        }
      }
    }
  }
  for (let k = 0; k < size; k++) dx[dxo + k] = scratch[k];
}

/**
 * The gradient of maxPool, ties split equally: each window sends dy/t to each of its t elements
 * equal to its maximum y (none when y is NaN). Accumulated in float64 (in `scratch`).
 */
export function maxPoolScatterInto(x: Arr, xo: number, y: Arr, yo: number, dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number, scratch: Float64Array): void {
  if (p.sh >= p.kh && p.sw >= p.kw) return maxPoolScatterDisjoint(x, xo, y, yo, dy, dyo, dx, dxo, p, c, scratch);
  const size = p.n * p.h * p.w * c;
  const ties = size; // per channel: how many elements equal the maximum, then each one's share
  const share = size + c;
  const t = new Int32Array(4);
  for (let k = 0; k < size; k++) scratch[k] = 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = ((n * p.oh + i) * p.ow + j) * c;
        tapRange(p, i, j, t);
        for (let ch = 0; ch < c; ch++) scratch[ties + ch] = 0;
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) for (let ch = 0; ch < c; ch++) if (x[xo + rowAt + kj * c + ch] === y[yo + o + ch]) scratch[ties + ch]++;
        }
        for (let ch = 0; ch < c; ch++) scratch[share + ch] = scratch[ties + ch] === 0 ? 0 : dy[dyo + o + ch] / scratch[ties + ch];
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) {
            const at = rowAt + kj * c;
            for (let ch = 0; ch < c; ch++) if (x[xo + at + ch] === y[yo + o + ch]) scratch[at + ch] += scratch[share + ch];
          }
        }
      }
    }
  }
  for (let k = 0; k < size; k++) dx[dxo + k] = scratch[k];
}

/**
 * maxPoolScatter when windows don't overlap (stride ≥ size, the usual pooling): each element of x
 * gets at most one share, written directly as 0 + share (what the accumulating form computes,
 * −0 included) — no accumulator pass.
 */
function maxPoolScatterDisjoint(x: Arr, xo: number, y: Arr, yo: number, dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number, scratch: Float64Array): void {
  if (isPairs(p)) return maxPoolScatterPairs(x, xo, y, yo, dy, dyo, dx, dxo, p, c);
  const size = p.n * p.h * p.w * c;
  const t = new Int32Array(4);
  for (let k = 0; k < size; k++) dx[dxo + k] = 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = ((n * p.oh + i) * p.ow + j) * c;
        tapRange(p, i, j, t);
        // per channel: the maximum, how many elements equal it, then each one's share
        for (let ch = 0; ch < c; ch++) {
          scratch[ch] = y[yo + o + ch];
          scratch[c + ch] = 0;
        }
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = xo + ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) {
            const at = rowAt + kj * c;
            for (let ch = 0; ch < c; ch++) if (x[at + ch] === scratch[ch]) scratch[c + ch]++;
          }
        }
        for (let ch = 0; ch < c; ch++) scratch[c + ch] = scratch[c + ch] === 0 ? 0 : dy[dyo + o + ch] / scratch[c + ch];
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) {
            const at = rowAt + kj * c;
            for (let ch = 0; ch < c; ch++) if (x[xo + at + ch] === scratch[ch]) dx[dxo + at + ch] = 0 + scratch[c + ch];
          }
        }
      }
    }
  }
}

/** maxPoolScatter over 2×2 (or 1×2) windows with stride 2 and no padding, unrolled: one pass, no scratch. */
function maxPoolScatterPairs(x: Arr, xo: number, y: Arr, yo: number, dy: Arr, dyo: number, dx: Arr, dxo: number, p: Plane, c: number): void {
  const row = p.w * c;
  const down = p.kh === 2 ? row : 0;
  // elements no window covers (an odd last row or column) get 0
  if (p.h !== p.oh * p.kh || p.w !== p.ow * 2) for (let k = 0; k < p.n * p.h * row; k++) dx[dxo + k] = 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      let a = (n * p.h + i * p.sh) * row;
      let o = ((n * p.oh + i) * p.ow) * c;
      for (let j = 0; j < p.ow; j++) {
        for (let ch = 0; ch < c; ch++) {
          const m = y[yo + o + ch];
          const e0 = x[xo + a + ch] === m;
          const e1 = x[xo + a + c + ch] === m;
          const e2 = down !== 0 && x[xo + a + down + ch] === m;
          const e3 = down !== 0 && x[xo + a + down + c + ch] === m;
          const t = +e0 + +e1 + +e2 + +e3;
          const share = t === 0 ? 0 : 0 + dy[dyo + o + ch] / t;
          dx[dxo + a + ch] = e0 ? share : 0;
          dx[dxo + a + c + ch] = e1 ? share : 0;
          if (down) {
            dx[dxo + a + down + ch] = e2 ? share : 0;
            dx[dxo + a + down + c + ch] = e3 ? share : 0;
          }
        }
        a += 2 * c;
        o += c;
      }
    }
  }
}

/**
 * The adjoint of maxPoolScatter in its last input: each window's mean of t over the elements of x
 * equal to its maximum y (0 when y is NaN). It is also maxPool's forward-mode derivative.
 */
export function maxPoolGatherInto(x: Arr, xo: number, y: Arr, yo: number, tv: Arr, to: number, out: Arr, oo: number, p: Plane, c: number, scratch: Float64Array): void {
  const t = new Int32Array(4);
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const o = ((n * p.oh + i) * p.ow + j) * c;
        tapRange(p, i, j, t);
        for (let ch = 0; ch < 2 * c; ch++) scratch[ch] = 0; // counts, then sums
        for (let ki = t[0]; ki < t[1]; ki++) {
          const rowAt = ((n * p.h + i * p.sh + ki - p.pt) * p.w + j * p.sw - p.pl) * c;
          for (let kj = t[2]; kj < t[3]; kj++) {
            const at = rowAt + kj * c;
            for (let ch = 0; ch < c; ch++) {
              if (x[xo + at + ch] === y[yo + o + ch]) {
                scratch[ch]++;
                scratch[c + ch] += tv[to + at + ch];
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) out[oo + o + ch] = scratch[ch] === 0 ? 0 : scratch[c + ch] / scratch[ch];
      }
    }
  }
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
