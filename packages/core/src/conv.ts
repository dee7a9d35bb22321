/**
 * Convolution and pooling as free functions, channels-last (`x: [N, ...spatial, C]`, 1 or 2
 * spatial dims; kernels `[...kernel, C/groups, Cout]`). The primitives are in `ops/conv.ts`.
 *
 * @example
 * const y = conv(x, w, { stride: 2, padding: 'same' });        // x [N, 28, 28, 1], w [5, 5, 1, 8]
 * const p = maxPool(y, { size: 2 });                              // [N, 7, 7, 8]
 * const dx = convTranspose(dy, w, { stride: 2, padding: 'same' }); // conv's gradient wrt x
 */
import { cast } from './api';
import { promote } from './dtype';
import { GraphError } from './errors';
import { Sym } from './graph';
import { captureOrigin } from './origin';
import type { PaddingSpec } from './ops/window';

/** `'valid'` (no padding, the default), `'same'` (⌈n/stride⌉ outputs, TF/JAX), a number for every side, or `[before, after]` per spatial dim. */
export type Padding = PaddingSpec;

export interface ConvOptions {
  /** One number, or one per spatial dim. Default 1. */
  stride?: number | readonly number[];
  padding?: Padding;
  /** Spacing between kernel taps: one number, or one per spatial dim. Default 1. */
  dilation?: number | readonly number[];
  /** Channels are split into this many contiguous blocks, each convolved with its own Cout/groups kernels (depthwise: groups = C). Default 1. */
  groups?: number;
}

export interface ConvTransposeOptions extends ConvOptions {
  /** Extra elements at the end of each spatial dim of the result, each in [0, stride) (PyTorch's output_padding). Default 0. */
  outputPadding?: number | readonly number[];
}

export interface PoolOptions {
  /** The window: one number, or one per spatial dim. */
  size: number | readonly number[];
  /** Default: the window size. */
  stride?: number | readonly number[];
  /** As conv's; each pad must be smaller than the window. Default `'valid'`. */
  padding?: Padding;
}

export interface AvgPoolOptions extends PoolOptions {
  /** Divide every window's sum by its full size, padded zeros included (PyTorch's default), or only by its elements of x (false; TF's 'SAME' pooling). Default true. */
  countIncludePad?: boolean;
}

function checkOptions(op: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new GraphError(`options must be an object, got ${opts === null ? 'null' : typeof opts}`, { op, origin: captureOrigin() });
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new GraphError(`unknown option "${k}" (known: ${known.join(', ')})`, { op, origin: captureOrigin() });
  }
  return opts as Record<string, unknown>;
}

function symbol(op: string, x: unknown, what: string): Sym {
  if (!(x instanceof Sym)) throw new GraphError(`${what} must be a symbol, got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}`, { op, origin: captureOrigin() });
  return x;
}

/** Two operands in their promoted dtype (float32 with float64 gives float64). */
function pair(op: string, a: unknown, b: unknown, names: [string, string]): [Sym, Sym] {
  const x = symbol(op, a, names[0]);
  const w = symbol(op, b, names[1]);
  if (x.graph !== w.graph) throw new GraphError(`${names[0]} and ${names[1]} belong to different graphs`, { op, origin: captureOrigin() });
  const dt = promote(x.dtype, w.dtype);
  return [cast(x, dt), cast(w, dt)];
}

/**
 * Convolution (cross-correlation, as in every deep-learning library), channels-last:
 * y[n, p, o] = Σ_{t, c} x̃[n, p·stride + t·dilation − pad, g·C/groups + c] · w[t, c, o], where g is
 * o's group and x̃ is x with zeros outside. x is `[N, ...spatial, C]`, w `[...kernel, C/groups, Cout]`,
 * y `[N, ...out, Cout]`.
 * @example conv(x, w, { padding: 'same' }) // x [N, 28, 28, 1], w [3, 3, 1, 16] → [N, 28, 28, 16]
 */
export function conv(x: Sym, w: Sym, opts: ConvOptions = {}): Sym {
  const o = checkOptions('conv', opts, ['stride', 'padding', 'dilation', 'groups']);
  const [a, b] = pair('conv', x, w, ['x', 'w']);
  return a.graph.apply('conv', [a, b], o);
}

/**
 * The transpose (adjoint) of `conv(·, w, opts)`: `convTranspose(y, w, opts)` is the gradient of
 * ⟨conv(x, w, opts), y⟩ with respect to x, with the same w `[...kernel, Cx/groups, Cy]` and the same
 * options (explicit pads are the forward conv's). The result has (P − 1)·stride + dilation·(k − 1) + 1
 * − pads + outputPadding elements per spatial dim, or P·stride with `padding: 'same'`.
 * @example convTranspose(y, w, { stride: 2, padding: 'same' }) // y [N, 14, 14, 16], w [3, 3, 8, 16] → [N, 28, 28, 8]
 */
export function convTranspose(y: Sym, w: Sym, opts: ConvTransposeOptions = {}): Sym {
  const o = checkOptions('convTranspose', opts, ['stride', 'padding', 'dilation', 'groups', 'outputPadding']);
  const [a, b] = pair('convTranspose', y, w, ['y', 'w']);
  return a.graph.apply('convTranspose', [a, b], o);
}

/**
 * Each window's maximum, per channel; padding is −∞ (never the maximum). Where several elements
 * of a window equal its maximum, the gradient is split equally among them (as `max`).
 * @example maxPool(x, { size: 2 }) // [N, 28, 28, C] → [N, 14, 14, C]
 */
export function maxPool(x: Sym, opts: PoolOptions): Sym {
  const o = checkOptions('maxPool', opts ?? {}, ['size', 'stride', 'padding']);
  return symbol('maxPool', x, 'x').graph.apply('maxPool', [x], o);
}

/**
 * Each window's mean, per channel. Padded zeros count toward the divisor unless
 * `countIncludePad: false`.
 * @example avgPool(x, { size: 3, stride: 1, padding: 1 }) // [N, H, W, C] → [N, H, W, C]
 */
export function avgPool(x: Sym, opts: AvgPoolOptions): Sym {
  const o = checkOptions('avgPool', opts ?? {}, ['size', 'stride', 'padding', 'countIncludePad']);
  return symbol('avgPool', x, 'x').graph.apply('avgPool', [x], o);
}
