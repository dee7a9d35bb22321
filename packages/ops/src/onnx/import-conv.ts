/**
 * Import rows for ONNX's convolutions and poolings. ONNX is channels-first (x [N, C, ...S], W
 * [Cout, C/G, ...K]); gradgraph's conv, convTranspose, maxPool and avgPool are channels-last, so
 * each row transposes x to [N, ...S, C] and W to [...K, C/G, Cout], applies the primitive and
 * transposes back: an NCHW model keeps its NCHW inputs and outputs, with the layout changes inside
 * (back-to-back pairs cancel when the graph is compiled).
 */
import * as core from '@gradgraph/core';
import type { Sym } from '@gradgraph/core';
import type { ImportCtx, ImportRule } from './import';

type Pair = [number, number];

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
const toLast = (k: number) => [0, ...range(2, k + 2), 1];
const toFirst = (k: number) => [0, k + 1, ...range(1, k + 1)];
/** W [a, b, ...K] → [...K, b, a]: Conv's [Cout, C/G, ...K] and ConvTranspose's [Cy, Cx/G, ...K] alike. */
const kernelLast = (k: number) => [...range(2, k + 2), 1, 0];

/** The spatial dims of an NCHW input, which gradgraph's windows need known. */
function spatial(c: ImportCtx, x: Sym): number[] {
  const k = x.rank - 2;
  if (k < 1 || k > 2) throw c.unsupported(`${c.node.op_type} over ${k} spatial dims (gradgraph's windows take 1 or 2)`);
  const s = x.shape.slice(2);
  if (s.some((d) => d === null)) throw c.unsupported(`${c.node.op_type} of ${core.fmtShape(x.shape)}: spatial dims must be known`);
  return s as number[];
}

/** `pads` [b₁, b₂, ..., e₁, e₂, ...] (or auto_pad) as [before, after] per spatial dim. */
function padPairs(c: ImportCtx, sizes: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): Pair[] {
  const auto = c.attr.s('auto_pad', 'NOTSET');
  const k = sizes.length;
  if (auto === 'NOTSET') {
    const pads = c.attr.ints('pads', Array(2 * k).fill(0));
    return range(0, k).map((i) => [pads[i], pads[i + k]]);
  }
  if (auto === 'VALID') return sizes.map(() => [0, 0]);
  if (auto !== 'SAME_UPPER' && auto !== 'SAME_LOWER') throw c.unsupported(`auto_pad "${auto}"`);
  // ⌈n/s⌉ outputs; the odd element after (SAME_UPPER) or before (SAME_LOWER)
  return sizes.map((n, i) => {
    const total = Math.max((Math.ceil(n / stride[i]) - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - n, 0);
    const small = Math.floor(total / 2);
    return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  });
}

/** ceil_mode = 1 is the floor formula's result unless a last, partial window starts inside x + pads: then refused. */
function checkCeil(c: ImportCtx, sizes: readonly number[], kernel: readonly number[], stride: readonly number[], pads: readonly Pair[]): void {
  if (!c.attr.i('ceil_mode', 0)) return;
  sizes.forEach((n, i) => {
    const span = n + pads[i][0] + pads[i][1] - kernel[i];
    if (span % stride[i] !== 0) throw c.unsupported(`ceil_mode = 1 where it adds a partial window (spatial dim ${i}); gradgraph's pools take whole windows`);
  });
}

const nchw = (x: Sym, k: number, f: (xl: Sym) => Sym) => core.transpose(f(core.transpose(x, toLast(k))), toFirst(k));

function conv(c: ImportCtx): Sym {
  const x = c.sym(0);
  const sizes = spatial(c, x);
  const k = sizes.length;
  const w = c.sym(1);
  const kernel = c.attr.ints('kernel_shape', w.shape.slice(2).map((d) => d ?? 1));
  const stride = c.attr.ints('strides', kernel.map(() => 1));
  const dilation = c.attr.ints('dilations', kernel.map(() => 1));
  const padding = padPairs(c, sizes, kernel, stride, dilation);
  const groups = c.attr.i('group', 1);
  return nchw(x, k, (xl) => {
    const y = core.conv(xl, core.transpose(w, kernelLast(k)), { stride, dilation, padding, groups });
    return c.has(2) ? y.add(c.sym(2)) : y; // the bias, per output channel: the last axis here
  });
}

function convTranspose(c: ImportCtx): Sym {
  const y = c.sym(0);
  const sizes = spatial(c, y);
  const k = sizes.length;
  const w = c.sym(1);
  if (c.attr.has('output_shape')) throw c.unsupported('ConvTranspose with output_shape (give pads and output_padding)');
  if (c.attr.s('auto_pad', 'NOTSET') !== 'NOTSET') throw c.unsupported('ConvTranspose with auto_pad (give pads)');
  const kernel = c.attr.ints('kernel_shape', w.shape.slice(2).map((d) => d ?? 1));
  const stride = c.attr.ints('strides', kernel.map(() => 1));
  const dilation = c.attr.ints('dilations', kernel.map(() => 1));
  const padding = padPairs(c, sizes, kernel, stride, dilation);
  const outputPadding = c.attr.ints('output_padding', kernel.map(() => 0));
  const groups = c.attr.i('group', 1);
  return nchw(y, k, (yl) => {
    const z = core.convTranspose(yl, core.transpose(w, kernelLast(k)), { stride, dilation, padding, groups, outputPadding });
    return c.has(2) ? z.add(c.sym(2)) : z;
  });
}

function pool(kind: 'max' | 'avg'): ImportRule {
  return {
    build: (c) => {
      const x = c.sym(0);
      const sizes = spatial(c, x);
      const k = sizes.length;
      const size = c.attr.ints('kernel_shape');
      const stride = c.attr.ints('strides', size.map(() => 1)); // ONNX's default stride is 1, gradgraph's the window
      const dilation = c.attr.ints('dilations', size.map(() => 1));
      if (dilation.some((d) => d !== 1)) throw c.unsupported(`${c.node.op_type} with dilations [${dilation.join(', ')}] (gradgraph's pools have none)`);
      const padding = padPairs(c, sizes, size, stride, dilation);
      checkCeil(c, sizes, size, stride, padding);
      if (kind === 'max') return [nchw(x, k, (xl) => core.maxPool(xl, { size, stride, padding })), undefined]; // no Indices output
      const countIncludePad = !!c.attr.i('count_include_pad', 0); // ONNX's default: pads not counted
      return nchw(x, k, (xl) => core.avgPool(xl, { size, stride, padding, countIncludePad }));
    },
  };
}

/** The mean (or max) over the spatial dims, kept as 1s: [N, C, ...S] → [N, C, 1, ...]. */
function globalPool(f: (x: Sym, axes: number[], keep: boolean) => Sym): ImportRule {
  return {
    build: (c) => {
      const x = c.sym(0);
      return f(x, range(2, x.rank), true);
    },
  };
}

export const convImporters: Record<string, ImportRule> = {
  Conv: { build: conv },
  ConvTranspose: { build: convTranspose },
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool((x, axes, keep) => core.mean(x, axes, keep)),
  GlobalMaxPool: globalPool((x, axes, keep) => core.max(x, axes, keep)),
};
