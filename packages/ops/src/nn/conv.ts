/**
 * Convolutional layers, channels-last: `nn.conv` (a builder: kernel and bias params in the
 * current scope), `nn.maxPool`, `nn.avgPool`, `nn.globalAvgPool` and `nn.flatten`.
 */
import { ShapeError, Sym, avgPool as avgPoolOp, captureOrigin, conv as convOp, fmtShape, maxPool as maxPoolOp, type AvgPoolOptions, type ConvOptions, type Padding, type PoolOptions } from '@gradgraph/core';
import * as init from '../init/index';
import { checkNumber, checkOptions, graphError, inUniqueScope, requireFloat, setRole, staticDim } from './util';

/**
 * conv(x, kernel) + bias for x `[N, ...spatial, C]`, kernel `[...k, C/groups, Cout]`, bias
 * `[Cout]` (the pure function `nn.conv` calls).
 * @example const y = nn.functional.conv(x, w, b, { padding: 'same' });
 */
export function convFn(x: Sym, kernel: Sym, bias?: Sym, opts: ConvOptions = {}): Sym {
  const op = 'nn.functional.conv';
  requireFloat(op, x);
  requireFloat(op, kernel, 'kernel');
  const y = convOp(x, kernel, opts);
  if (bias === undefined) return y;
  requireFloat(op, bias, 'bias');
  const cout = kernel.shape[kernel.rank - 1];
  if (bias.rank !== 1 || (bias.shape[0] !== null && cout !== null && bias.shape[0] !== cout)) {
    throw new ShapeError(`bias must have shape [${cout}], got ${fmtShape(bias.shape)}`, { op, shapes: [kernel.shape, bias.shape], origin: captureOrigin() });
  }
  return y.add(bias);
}

export interface ConvLayerOptions {
  /** The kernel's spatial size: one number, or one per spatial dim. Required. */
  kernel: number | readonly number[];
  stride?: number | readonly number[];
  /** `'valid'` (default), `'same'`, a number, or `[before, after]` per spatial dim. */
  padding?: Padding;
  dilation?: number | readonly number[];
  /** Channels in this many contiguous blocks, each with its own `channels/groups` kernels (depthwise: groups = C). Default 1. */
  groups?: number;
  /** Kernel initializer. Default `init.xavierUniform()` (as nn.dense; Keras's default), with conv fans (below). */
  init?: init.Initializer;
  /** Add a bias per output channel. Default true. */
  bias?: boolean;
  /** Bias initializer. Default `init.zeros()`. */
  biasInit?: init.Initializer;
  /** Scope name instead of `conv`, `conv_1`, ... */
  name?: string;
}

/**
 * A convolution layer with `channels` output channels: y = conv(x, W) + b for x `[N, ...spatial,
 * C]` (1 or 2 spatial dims, C known at build time), W `[...kernel, C/groups, channels]`, b
 * `[channels]`. Creates `conv/kernel` and `conv/bias` (roles `'kernel'`, `'bias'`) in the current
 * scope, in the dtype of x; each call makes a new scope (`conv`, `conv_1`, ...). Initializers see
 * the fans of a convolution: fanIn = kernel size·C/groups, fanOut = kernel size·channels/groups
 * (for groups = 1 as PyTorch; PyTorch's own fan_out leaves the groups out).
 * @example
 * const h = nn.relu(nn.conv(x, 32, { kernel: 3, padding: 'same', init: init.heNormal() })); // [N, 28, 28, 1] → [N, 28, 28, 32]
 */
export function conv(x: Sym, channels: number, opts: ConvLayerOptions): Sym {
  const op = 'nn.conv';
  requireFloat(op, x);
  checkOptions(op, opts, ['kernel', 'stride', 'padding', 'dilation', 'groups', 'init', 'bias', 'biasInit', 'name']);
  if (opts === undefined || opts.kernel === undefined) throw graphError(op, 'needs the kernel size: { kernel: 3 } or { kernel: [3, 5] }');
  checkNumber(op, 'channels', channels, { min: 1, integer: true });
  const nsp = x.rank - 2;
  if (nsp < 1 || nsp > 2) throw new ShapeError(`x must be [N, ...spatial, C] with 1 or 2 spatial dims, got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  const kernel = typeof opts.kernel === 'number' ? new Array<number>(nsp).fill(opts.kernel) : [...opts.kernel];
  if (kernel.length !== nsp || !kernel.every((k) => Number.isInteger(k) && k >= 1)) throw graphError(op, `kernel must be a positive integer or ${nsp} of them, got ${JSON.stringify(opts.kernel)}`);
  const c = staticDim(op, x, -1, 'the kernel');
  const groups = opts.groups ?? 1;
  checkNumber(op, 'groups', groups, { min: 1, integer: true });
  if (c % groups !== 0 || channels % groups !== 0) throw graphError(op, `groups ${groups} must divide the input channels (${c}) and the output channels (${channels})`);
  const useBias = opts.bias ?? true;
  if (typeof useBias !== 'boolean') throw graphError(op, `bias must be true or false, got ${String(useBias)}; use biasInit for its initial value`);
  const taps = kernel.reduce((p, k) => p * k, 1);
  const fanIn = taps * (c / groups);
  const fanOut = taps * (channels / groups);
  const g = x.graph;
  return inUniqueScope(g, 'conv', opts.name, () => {
    const w = init.createParam(g, 'kernel', [...kernel, c / groups, channels], opts.init ?? init.xavierUniform(), { dtype: x.dtype, fanIn, fanOut });
    const b = useBias ? init.createParam(g, 'bias', [channels], opts.biasInit ?? init.zeros(), { dtype: x.dtype, fanIn, fanOut }) : undefined;
    const convOpts: ConvOptions = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
    for (const k of Object.keys(convOpts) as (keyof ConvOptions)[]) if (convOpts[k] === undefined) delete convOpts[k];
    return convFn(x, setRole(w, 'kernel'), b && setRole(b, 'bias'), convOpts);
  });
}

/**
 * Max pooling, channels-last (padding is −∞; ties share the gradient equally). The core
 * primitive, under nn's name.
 * @example nn.maxPool(h, { size: 2 }) // [N, 28, 28, C] → [N, 14, 14, C]
 */
export function maxPool(x: Sym, opts: PoolOptions): Sym {
  requireFloat('nn.maxPool', x);
  return maxPoolOp(x, opts);
}

/**
 * Average pooling, channels-last; padded zeros count unless `countIncludePad: false`.
 * @example nn.avgPool(h, { size: 3, stride: 2, padding: 1 })
 */
export function avgPool(x: Sym, opts: AvgPoolOptions): Sym {
  requireFloat('nn.avgPool', x);
  return avgPoolOp(x, opts);
}

/**
 * The mean over every spatial position: `[N, ...spatial, C]` → `[N, C]`.
 * @example nn.dense(nn.globalAvgPool(h), 10)
 */
export function globalAvgPool(x: Sym): Sym {
  const op = 'nn.globalAvgPool';
  requireFloat(op, x);
  if (x.rank < 3) throw new ShapeError(`x must be [N, ...spatial, C] (rank ≥ 3), got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  return x.mean(Array.from({ length: x.rank - 2 }, (_v, i) => i + 1));
}

/**
 * Every example as one row: `[N, ...]` → `[N, rest]` (rest = the product of the other dims, which
 * must be known; N may be open). A `[N]` input gives `[N, 1]`.
 * @example nn.dense(nn.flatten(h), 10) // [N, 4, 4, 16] → [N, 256] → [N, 10]
 */
export function flatten(x: Sym): Sym {
  const op = 'nn.flatten';
  if (!(x instanceof Sym)) throw graphError(op, `x must be a symbol, got ${x === null ? 'null' : typeof x}`);
  if (x.rank < 1) throw new ShapeError(`x must have a batch axis, got a scalar`, { op, shapes: [x.shape], origin: captureOrigin() });
  const rest = x.shape.slice(1);
  if (rest.some((d) => d === null)) throw new ShapeError(`the dims after the batch must be known when the graph is built, got ${fmtShape(x.shape)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  return x.reshape([-1, (rest as number[]).reduce((p, d) => p * d, 1)]);
}
