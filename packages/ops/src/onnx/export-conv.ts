/**
 * Export rows for convolution and pooling. gradgraph is channels-last (x [N, ...S, C], w
 * [...K, C/G, Cout]); ONNX's Conv, ConvTranspose, MaxPool and AveragePool are channels-first
 * (x [N, C, ...S], W [Cout, C/G, ...K]), so the native rows put Transposes around them.
 *
 * ONNX Runtime 1.30's CPU provider has Conv, ConvTranspose and AveragePool in float32 only
 * (MaxPool also in float64). float64 — and the three gradient helpers, which ONNX has no op for —
 * are written out from the window's taps, channels-last, with no transposes:
 * - a tap t of a window op is a strided Slice of the padded input: xp[:, t·d + p·s, :] for p < P;
 * - conv = the taps concatenated along channels (tap-major, as w's [...K, cg] rows) times w as a
 *   [K·cg, Cout] matrix (per group: a batched MatMul over G);
 * - convTranspose = a conv of y spread out by the stride (s − 1 zeros between neighbours), padded
 *   by d(k − 1) − pad (plus outputPadding at the end), with the kernel flipped and its channels
 *   swapped per group;
 * - avgPool = Σ taps / count; avgPoolTranspose = the taps of (dy/count) spread and padded, summed;
 * - maxPoolGather = Σ_t [x_t = y]·t_t / Σ_t [x_t = y] (x padded with NaN, which equals nothing);
 *   maxPoolScatter = Σ_t the tap's share [x_t = y]·dy/count put back at its positions (spread,
 *   then padded — negative pads crop — to x's size).
 */
import { Tensor, type TypeInfo } from '@gradgraph/core';
import type { ExportCtx, ExportRule } from './export';
import { AttrType, elemOf } from './proto';

type Pair = readonly [number, number];

interface Window {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly padding: readonly Pair[];
}

const ints = (v: readonly number[]) => ({ type: AttrType.INTS, ints: [...v] });
const int = (v: number) => ({ type: AttrType.INT, i: v });
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
const prodOf = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);
const spatialOf = (t: TypeInfo) => t.shape.slice(1, -1) as number[];

/** [N, ...S, C] ↔ [N, C, ...S] for k spatial dims. */
const channelsFirst = (k: number) => [0, k + 1, ...range(1, k + 1)];
const channelsLast = (k: number) => [0, ...range(2, k + 2), 1];
/** w [...K, a, b] → W [b, a, ...K], for Conv and ConvTranspose alike. */
const kernelFirst = (k: number) => [k + 1, k, ...range(0, k)];

const transpose = (c: ExportCtx, x: string, perm: readonly number[]) => c.op('Transpose', [x], { perm: ints(perm) });

/** x padded along its spatial dims (axes 1..k) by [before, after] pairs with `value`; negative pads crop. */
function padSpatial(c: ExportCtx, x: string, rank: number, pads: readonly Pair[], value: number): string {
  if (pads.every(([b, a]) => b === 0 && a === 0)) return x;
  const side = (j: 0 | 1) => [0, ...pads.map((p) => p[j]), ...Array(rank - 1 - pads.length).fill(0)];
  return c.op('Pad', [x, c.int64([...side(0), ...side(1)]), c.constant(value)], { mode: { type: AttrType.STRING, s: new TextEncoder().encode('constant') } });
}

/** The kernel's tap offsets, row-major (the order of w's [...K] dims). */
function tapOffsets(kernel: readonly number[]): number[][] {
  return kernel.reduce<number[][]>((acc, k) => acc.flatMap((t) => range(0, k).map((i) => [...t, i])), [[]]);
}

/** The taps of a padded x: for each kernel offset t, xp[:, t·d + p·s, :] for p < outs. */
function taps(c: ExportCtx, xp: string, w: Window, outs: readonly number[]): string[] {
  const k = w.kernel.length;
  const unit = w.stride.every((s) => s === 1);
  return tapOffsets(w.kernel).map((t) => {
    const starts = t.map((ti, i) => ti * w.dilation[i]);
    const ends = starts.map((s0, i) => s0 + (outs[i] - 1) * w.stride[i] + 1);
    const args = [xp, c.int64(starts), c.int64(ends), c.int64(range(1, k + 1))];
    return c.op('Slice', unit ? args : [...args, c.int64(w.stride)]);
  });
}

const sumAll = (c: ExportCtx, xs: readonly string[]) => (xs.length === 1 ? xs[0] : c.op('Sum', [...xs]));

/** A Reshape target for a channels-last value: N copied (0), the rest given (null → −1, at most one). */
const spec = (c: ExportCtx, dims: readonly (number | null)[]) => c.int64(dims.map((d, i) => (i === 0 ? 0 : (d ?? -1))));

/** v [N, ...P, C] with s − 1 zeros between neighbours along each spatial dim: [N, ...(P − 1)·s + 1, C]. */
function spread(c: ExportCtx, v: string, shape: readonly (number | null)[], stride: readonly number[]): string {
  let cur = v;
  const dims = [...shape];
  stride.forEach((s, j) => {
    if (s === 1) return;
    const i = j + 1;
    const P = dims[i] as number;
    const u = c.op('Unsqueeze', [cur, c.int64([i + 1])]);
    const after = Array(dims.length + 1).fill(0);
    after[i + 1] = s - 1;
    const wide = c.op('Pad', [u, c.int64([...Array(dims.length + 1).fill(0), ...after]), c.constant(0)]);
    const merged = c.op('Reshape', [wide, spec(c, dims.map((d, k) => (k === i ? P * s : d)))]);
    cur = c.op('Slice', [merged, c.int64([0]), c.int64([(P - 1) * s + 1]), c.int64([i])]);
    dims[i] = (P - 1) * s + 1;
  });
  return cur;
}

/**
 * conv from its taps, any dtype: y[n, p, o] = Σ_{t, c} xp[n, t·d + p·s, g·cg + c]·w[t, c, o].
 * `cg` input channels per group, `cout` outputs, `groups` G; one of cg and cout may be unknown
 * until run time (the weight gradient's conv contracts over the batch: its cg is N).
 */
function convByTaps(c: ExportCtx, x: string, xType: TypeInfo, w: string, win: Window, cg: number | null, cout: number | null, groups: number, outs: readonly number[]): string {
  if (cg === null && cout === null) throw c.unsupported('a conv whose kernel has neither channel dim known');
  const k = win.kernel.length;
  const K = prodOf(win.kernel);
  const G = groups;
  const times = (a: number, b: number | null) => (b === null ? -1 : a * b);
  const ts = taps(c, padSpatial(c, x, k + 2, win.padding, 0), win, outs);
  const cat = ts.length === 1 ? ts[0] : c.op('Concat', ts, { axis: int(k + 1) }); // [N, ...P, K·C], tap-major
  if (G === 1) return c.op('MatMul', [cat, c.op('Reshape', [w, c.int64([times(K, cg), cout ?? -1])])]);
  // per group: rows [N, ...P, G, 1, K·cg] times kernels [G, K·cg, Cout/G]
  const split = c.op('Reshape', [cat, spec(c, [xType.shape[0], ...outs, K, G, cg])]);
  const rows = c.op('Reshape', [transpose(c, split, [...range(0, k + 1), k + 2, k + 1, k + 3]), spec(c, [xType.shape[0], ...outs, G, 1, cg === null ? null : K * cg])]);
  const perGroup = cout === null ? -1 : cout / G;
  const wg = c.op('Reshape', [transpose(c, c.op('Reshape', [w, c.int64([K, cg ?? -1, G, perGroup])]), [2, 0, 1, 3]), c.int64([G, times(K, cg), perGroup])]);
  return c.op('Reshape', [c.op('MatMul', [rows, wg]), spec(c, [xType.shape[0], ...outs, cout])]);
}

/** The sizes a kernel needs known: channel counts and kernel dims. */
function known(c: ExportCtx, dims: readonly (number | null)[], what: string): number[] {
  if (dims.some((d) => d === null)) throw c.unsupported(`${what} must be known to export (got ${dims.map((d) => d ?? '?').join(', ')})`);
  return dims as number[];
}

interface ConvA {
  stride: number[];
  padding: Pair[];
  dilation: number[];
  groups: number;
  outputPadding?: number[];
}

function conv(c: ExportCtx): string {
  const a = c.node.attrs as unknown as ConvA;
  const [xt, wt] = c.types;
  const k = xt.shape.length - 2;
  const [cg, cout] = wt.shape.slice(k);
  const kernel = wt.shape.slice(0, k) as number[];
  const outs = spatialOf(c.node.type);
  if (c.node.type.dtype !== 'float32') return convByTaps(c, c.inputs[0], xt, c.inputs[1], { kernel, ...a }, cg, cout, a.groups, outs);
  // ONNX pads are ≥ 0: a negative one (a crop) is a Pad of its own first
  const x = padSpatial(c, c.inputs[0], k + 2, a.padding.map(([b, e]) => [Math.min(b, 0), Math.min(e, 0)]), 0);
  const pads = a.padding.map(([b, e]) => [Math.max(b, 0), Math.max(e, 0)]);
  const y = c.op('Conv', [transpose(c, x, channelsFirst(k)), transpose(c, c.inputs[1], kernelFirst(k))], {
    kernel_shape: ints(kernel),
    strides: ints(a.stride),
    dilations: ints(a.dilation),
    group: int(a.groups),
    pads: ints([...pads.map((p) => p[0]), ...pads.map((p) => p[1])]),
  });
  return transpose(c, y, channelsLast(k));
}

function convTranspose(c: ExportCtx): string {
  const a = c.node.attrs as unknown as Required<ConvA>;
  const [yt, wt] = c.types;
  const k = yt.shape.length - 2;
  const [cxg, cy] = known(c, wt.shape.slice(k), "w's channel dims");
  const kernel = wt.shape.slice(0, k) as number[];
  const outs = spatialOf(c.node.type);
  const G = a.groups;
  if (c.node.type.dtype === 'float32') {
    // negative pads: the rows the forward conv cropped get no gradient, zeros padded after
    const pads = a.padding.map(([b, e]) => [Math.max(b, 0), Math.max(e, 0)]);
    const z = c.op('ConvTranspose', [transpose(c, c.inputs[0], channelsFirst(k)), transpose(c, c.inputs[1], kernelFirst(k))], {
      kernel_shape: ints(kernel),
      strides: ints(a.stride),
      dilations: ints(a.dilation),
      group: int(G),
      pads: ints([...pads.map((p) => p[0]), ...pads.map((p) => p[1])]),
      output_padding: ints(a.outputPadding),
    });
    return padSpatial(c, transpose(c, z, channelsLast(k)), k + 2, a.padding.map(([b, e]) => [Math.max(-b, 0), Math.max(-e, 0)]), 0);
  }
  // the adjoint as a conv: y spread by the stride, padded by d(k − 1) − pad, the kernel flipped and
  // its channels swapped per group: w'[t, o, g·cxg + c] = w[K − 1 − t, c, g·cyg + o]
  const cyg = cy / G;
  const P = spatialOf(yt);
  const spreadShape = [yt.shape[0], ...P.map((p, i) => (p - 1) * a.stride[i] + 1), cy];
  const ys = spread(c, c.inputs[0], yt.shape, a.stride);
  const swapped = c.op('Reshape', [transpose(c, c.op('Reshape', [c.inputs[1], c.int64([...kernel, cxg, G, cyg])]), [...range(0, k), k + 2, k + 1, k]), c.int64([...kernel, cyg, G * cxg])]);
  const flipped = c.op('Slice', [swapped, c.int64(kernel.map(() => -1)), c.int64(kernel.map(() => -(2 ** 63))), c.int64(range(0, k)), c.int64(kernel.map(() => -1))]);
  const padding = a.padding.map(([b, e], i): Pair => {
    const span = a.dilation[i] * (kernel[i] - 1);
    return [span - b, span - e + a.outputPadding[i]];
  });
  return convByTaps(c, ys, { ...yt, shape: spreadShape }, flipped, { kernel, stride: kernel.map(() => 1), dilation: a.dilation, padding }, cyg, G * cxg, G, outs);
}

interface PoolA {
  size: number[];
  stride: number[];
  padding: Pair[];
  countIncludePad?: boolean;
}

const poolWindow = (a: PoolA): Window => ({ kernel: a.size, stride: a.stride, dilation: a.size.map(() => 1), padding: a.padding });

function poolAttrs(a: PoolA) {
  return {
    kernel_shape: ints(a.size),
    strides: ints(a.stride),
    pads: ints([...a.padding.map((p) => p[0]), ...a.padding.map((p) => p[1])]),
  };
}

function maxPool(c: ExportCtx): string {
  const a = c.node.attrs as unknown as PoolA;
  const k = a.size.length;
  return transpose(c, c.op('MaxPool', [transpose(c, c.inputs[0], channelsFirst(k))], poolAttrs(a)), channelsLast(k));
}

/**
 * How many of a window's elements lie in x (not in the padding), per output position: a constant
 * [1, ...P, 1] — avgPool's divisor when countIncludePad is false.
 */
function windowCounts(c: ExportCtx, a: PoolA, sizes: readonly number[], outs: readonly number[]): string {
  const along = sizes.map((n, i) => range(0, outs[i]).map((p) => range(0, a.size[i]).filter((t) => p * a.stride[i] + t - a.padding[i][0] >= 0 && p * a.stride[i] + t - a.padding[i][0] < n).length));
  const counts = tapOffsets(outs).map((p) => prodOf(p.map((pi, i) => along[i][pi])));
  return c.constant(Tensor.from(counts, c.types[0].dtype).reshape([1, ...outs, 1]));
}

function avgPool(c: ExportCtx): string {
  const a = c.node.attrs as unknown as PoolA;
  const k = a.size.length;
  const outs = spatialOf(c.node.type);
  if (c.node.type.dtype === 'float32') {
    const y = c.op('AveragePool', [transpose(c, c.inputs[0], channelsFirst(k))], { ...poolAttrs(a), count_include_pad: int(a.countIncludePad ? 1 : 0) });
    return transpose(c, y, channelsLast(k));
  }
  const sum = sumAll(c, taps(c, padSpatial(c, c.inputs[0], k + 2, a.padding, 0), poolWindow(a), outs));
  return c.op('Div', [sum, a.countIncludePad ? c.constant(prodOf(a.size)) : windowCounts(c, a, spatialOf(c.types[0]), outs)]);
}

/** Each tap's values put back where the tap read them in an x of spatial `sizes`: spread, then padded (negative pads crop). */
function place(c: ExportCtx, v: string, vType: TypeInfo, w: Window, t: readonly number[], sizes: readonly number[]): string {
  const P = spatialOf(vType);
  const spreadV = spread(c, v, vType.shape, w.stride);
  const pads = sizes.map((n, i): Pair => {
    const start = t[i] * w.dilation[i] - w.padding[i][0];
    return [start, n - ((P[i] - 1) * w.stride[i] + 1) - start];
  });
  return padSpatial(c, spreadV, vType.shape.length, pads, 0);
}

function avgPoolTranspose(c: ExportCtx): string {
  const a = c.node.attrs as unknown as PoolA & { inputSize: number[] };
  const dyT = c.types[0];
  const outs = spatialOf(dyT);
  const share = c.op('Div', [c.inputs[0], a.countIncludePad ? c.constant(prodOf(a.size)) : windowCounts(c, a, a.inputSize, outs)]);
  const win = poolWindow(a);
  return sumAll(c, tapOffsets(a.size).map((t) => place(c, share, dyT, win, t, a.inputSize)));
}

/** For each tap: whether x there equals its window's maximum y (padding is NaN: never). */
function maxMasks(c: ExportCtx, a: PoolA, outs: readonly number[]): string[] {
  const k = a.size.length;
  return taps(c, padSpatial(c, c.inputs[0], k + 2, a.padding, NaN), poolWindow(a), outs).map((xt) => c.op('Equal', [xt, c.inputs[1]]));
}

const count = (c: ExportCtx, masks: readonly string[]) => sumAll(c, masks.map((m) => c.op('Cast', [m], { to: int(elemOf(c.types[0].dtype)) })));

// maxPoolGather(x, y, t): each window's mean of t over its elements equal to y
function maxPoolGather(c: ExportCtx): string {
  const a = c.node.attrs as unknown as PoolA;
  const k = a.size.length;
  const outs = spatialOf(c.node.type);
  const masks = maxMasks(c, a, outs);
  const ts = taps(c, padSpatial(c, c.inputs[2], k + 2, a.padding, 0), poolWindow(a), outs);
  const zero = c.constant(0);
  return c.op('Div', [sumAll(c, masks.map((m, j) => c.op('Where', [m, ts[j], zero]))), count(c, masks)]);
}

// maxPoolScatter(x, y, dy): each window sends dy/count to each of its elements equal to y
function maxPoolScatter(c: ExportCtx): string {
  const a = c.node.attrs as unknown as PoolA;
  const dyT = c.types[2];
  const outs = spatialOf(dyT);
  const masks = maxMasks(c, a, outs);
  const share = c.op('Div', [c.inputs[2], count(c, masks)]);
  const zero = c.constant(0);
  const win = poolWindow(a);
  const offsets = tapOffsets(a.size);
  return sumAll(c, masks.map((m, j) => place(c, c.op('Where', [m, share, zero]), dyT, win, offsets[j], spatialOf(c.types[0]))));
}

export const convExporters: Record<string, ExportRule> = { conv, convTranspose, maxPool, avgPool, avgPoolTranspose, maxPoolGather, maxPoolScatter };
