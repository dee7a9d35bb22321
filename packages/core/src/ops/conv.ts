/**
 * Convolution and pooling, channels-last: x is `[N, ...spatial, C]` with 1 or 2 spatial dims, a
 * kernel w is `[...kernel, C/groups, Cout]`, groups take channels in contiguous blocks.
 *
 * - `conv(x, w)`: y[n,p,o] = Σ_{t,c} x̃[n, p·s + t·d − b, g·C/G + c] · w[t, c, o], g the group of o;
 * - `convTranspose(y, w)`: the adjoint of x ↦ conv(x, w) (conv's VJP wrt x, with the same w);
 * - `maxPool`, `avgPool`: each window's max (padded with −∞) or mean (padded zeros counted unless
 *   `countIncludePad` is false);
 * - and the three ops their gradients need to stay differentiable: `maxPoolScatter` (maxPool's VJP,
 *   ties split equally), `maxPoolGather` (its adjoint, and maxPool's JVP), `avgPoolTranspose`
 *   (avgPool's adjoint).
 *
 * Spatial dims must be known when the graph is built; N (and channel dims a gradient makes from N)
 * may be open. The attribute normalizers turn 'same' and single numbers into explicit per-dim
 * lists, so the gradients and the kernels only ever see `[before, after]` pairs.
 *
 * Reference kernels are written for readability; the JavaScript back end runs im2col + matmul or
 * direct loops (`backend/js/conv.ts`) and agrees with them bit for bit (same sums, same order, in
 * float64). The pooling kernels are shared with it (`window.ts`).
 */
import * as api from '../api';
import type { Sym } from '../graph';
import type { Attrs, Node, TypeInfo } from '../ir';
import { fail, traits, type BatchArgs, type ConcreteType, type OpDef } from '../registry';
import { fmtShape, isStatic, sizeOf, type Shape } from '../shape';
import { Tensor } from '../tensor';
import { requireFloat, requireSameDtype } from './util';
import {
  avgPoolInto,
  avgPoolTransposeInto,
  batchToFront,
  foldIntoN,
  maxPoolGatherInto,
  maxPoolInto,
  maxPoolScatterInto,
  needDims,
  outSize,
  padPairs,
  perDim,
  planeOf,
  poolScratchSize,
  reshapeSpec,
  samePadding,
  spatialDims,
  toFront,
  unfoldN,
  type PadPair,
  type Plane,
} from './window';

// ---- attributes ---------------------------------------------------------------------------------

export interface ConvAttrs extends Attrs {
  readonly stride: readonly number[];
  /** `[before, after]` per spatial dim; negative crops. */
  readonly padding: readonly PadPair[];
  readonly dilation: readonly number[];
  readonly groups: number;
}

export interface ConvTransposeAttrs extends ConvAttrs {
  /** Extra elements at the end of each spatial dim of the result, in [0, stride). */
  readonly outputPadding: readonly number[];
}

export interface PoolAttrs extends Attrs {
  readonly size: readonly number[];
  readonly stride: readonly number[];
  /** `[before, after]` per spatial dim, each in [0, size). */
  readonly padding: readonly PadPair[];
}

export interface AvgPoolAttrs extends PoolAttrs {
  /** Divide by the window's size (PyTorch's default) rather than by how many elements of x it holds. */
  readonly countIncludePad: boolean;
}

export interface AvgPoolTransposeAttrs extends AvgPoolAttrs {
  /** The spatial dims of avgPool's input: the result's. */
  readonly inputSize: readonly number[];
}

function groupsOf(raw: unknown): number {
  const g = raw ?? 1;
  if (!Number.isInteger(g) || (g as number) < 1) fail(`groups must be a positive integer, got ${JSON.stringify(raw)}`);
  return g as number;
}

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];

/** Checks a conv's operands; returns x's spatial dims and the kernel's. */
function convShapes(x: TypeInfo, w: TypeInfo, groups: number): { sizes: number[]; kernel: number[] } {
  const sizes = spatialDims(x, 'x');
  const nsp = sizes.length;
  if (w.shape.length !== nsp + 2) fail(`w must be [...kernel, C/groups, Cout], rank ${nsp + 2} for x ${fmtShape(x.shape)}; got ${fmtShape(w.shape)}`);
  const kernel = w.shape.slice(0, nsp);
  if (!isStatic(kernel) || kernel.some((k) => (k as number) < 1)) fail(`the kernel dims of w ${fmtShape(w.shape)} must be known and positive`);
  const [c, cg, cout] = [last(x.shape), w.shape[nsp], w.shape[nsp + 1]];
  if (c !== null && c % groups !== 0) fail(`groups ${groups} must divide the ${c} channels of x ${fmtShape(x.shape)}`);
  if (c !== null && cg !== null && cg * groups !== c) {
    fail(`w ${fmtShape(w.shape)} takes ${cg} input channel${cg === 1 ? '' : 's'} per group × ${groups} group${groups === 1 ? '' : 's'} = ${cg * groups}, but x ${fmtShape(x.shape)} has ${c}`);
  }
  if (cout !== null && cout % groups !== 0) fail(`groups ${groups} must divide the ${cout} output channels of w ${fmtShape(w.shape)}`);
  return { sizes, kernel: [...kernel] };
}

/** Checks a convTranspose's operands; returns y's spatial dims and the kernel's. */
function convTransposeShapes(y: TypeInfo, w: TypeInfo, groups: number): { sizes: number[]; kernel: number[] } {
  const sizes = spatialDims(y, 'y');
  const nsp = sizes.length;
  if (w.shape.length !== nsp + 2) fail(`w must be [...kernel, Cx/groups, Cy], rank ${nsp + 2} for y ${fmtShape(y.shape)}; got ${fmtShape(w.shape)}`);
  const kernel = w.shape.slice(0, nsp);
  if (!isStatic(kernel) || kernel.some((k) => (k as number) < 1)) fail(`the kernel dims of w ${fmtShape(w.shape)} must be known and positive`);
  const [cy, wcy] = [last(y.shape), w.shape[nsp + 1]];
  if (cy !== null && wcy !== null && cy !== wcy) fail(`w ${fmtShape(w.shape)} maps ${wcy} channels (its last dim), but y ${fmtShape(y.shape)} has ${cy}`);
  if (wcy !== null && wcy % groups !== 0) fail(`groups ${groups} must divide the ${wcy} channels of y (w's last dim)`);
  return { sizes, kernel: [...kernel] };
}

/** The output sizes of a window op, refusing windows that don't fit or pads that crop everything. */
function outputSizes(sizes: readonly number[], kernel: readonly number[], stride: readonly number[], dilation: readonly number[], padding: readonly PadPair[]): number[] {
  return sizes.map((n, i) => {
    const [b, a] = padding[i];
    if (b <= -n || a <= -n) fail(`padding [${b}, ${a}] crops all ${n} elements of spatial dim ${i}`);
    const span = dilation[i] * (kernel[i] - 1) + 1;
    if (n + b + a < span) fail(`along spatial dim ${i} the padded input (${n} + ${b} + ${a} = ${n + b + a}) is smaller than the ${dilation[i] > 1 ? 'dilated ' : ''}window (${span})`);
    return outSize(n, kernel[i], stride[i], dilation[i], padding[i]);
  });
}

/** The spatial size of convTranspose's result: the x for which conv(x, w) has y's. */
function transposedSizes(sizes: readonly number[], kernel: readonly number[], a: ConvTransposeAttrs): number[] {
  return sizes.map((p, i) => {
    const [b, e] = a.padding[i];
    const n = (p - 1) * a.stride[i] + a.dilation[i] * (kernel[i] - 1) + 1 - b - e + a.outputPadding[i];
    if (n < 1 || b <= -n || e <= -n) fail(`along spatial dim ${i} the result would have ${n} elements with padding [${b}, ${e}]`);
    return n;
  });
}

function convAttrs(raw: Attrs, [x, w]: readonly TypeInfo[]): ConvAttrs {
  const groups = groupsOf(raw.groups);
  const { sizes, kernel } = convShapes(x, w, groups);
  const stride = perDim(raw.stride ?? 1, sizes.length, 'stride');
  const dilation = perDim(raw.dilation ?? 1, sizes.length, 'dilation');
  const padding = padPairs(raw.padding, sizes, kernel, stride, dilation, true);
  return { stride, padding, dilation, groups };
}

function convTransposeAttrs(raw: Attrs, [y, w]: readonly TypeInfo[]): ConvTransposeAttrs {
  const groups = groupsOf(raw.groups);
  const { sizes, kernel } = convTransposeShapes(y, w, groups);
  const nsp = sizes.length;
  const stride = perDim(raw.stride ?? 1, nsp, 'stride');
  const dilation = perDim(raw.dilation ?? 1, nsp, 'dilation');
  if (raw.padding === 'same') {
    // the x with P·s elements, which a 'same' conv maps to y's P (TF, JAX)
    if (raw.outputPadding !== undefined && perDim(raw.outputPadding, nsp, 'outputPadding', 0).some((v) => v !== 0)) {
      fail(`outputPadding goes with explicit padding; with 'same' the result has P·stride elements`);
    }
    const n = sizes.map((p, i) => p * stride[i]);
    const padding = n.map((ni, i) => samePadding(ni, kernel[i], stride[i], dilation[i]));
    const outputPadding = n.map((ni, i) => ni - ((sizes[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - padding[i][0] - padding[i][1]));
    return { stride, padding, dilation, groups, outputPadding };
  }
  const padding = padPairs(raw.padding, sizes, kernel, stride, dilation, true);
  const outputPadding = perDim(raw.outputPadding ?? 0, nsp, 'outputPadding', 0);
  outputPadding.forEach((v, i) => {
    if (v >= stride[i]) fail(`outputPadding ${v} must be smaller than the stride ${stride[i]} (spatial dim ${i})`);
  });
  return { stride, padding, dilation, groups, outputPadding };
}

function poolAttrs(raw: Attrs, sizes: readonly number[]): PoolAttrs {
  const nsp = sizes.length;
  if (raw.size === undefined) fail(`needs the window size (size: a number or one per spatial dim)`);
  const size = perDim(raw.size, nsp, 'size');
  const stride = perDim(raw.stride ?? size, nsp, 'stride');
  const padding = padPairs(raw.padding, sizes, size, stride, size.map(() => 1), false);
  padding.forEach(([b, a], i) => {
    if (b >= size[i] || a >= size[i]) fail(`padding [${b}, ${a}] must be smaller than the window ${size[i]} on each side (spatial dim ${i}), so every window holds an element of x`);
  });
  return { size, stride, padding };
}

function avgAttrs(raw: Attrs, sizes: readonly number[]): AvgPoolAttrs {
  const include = raw.countIncludePad ?? true;
  if (typeof include !== 'boolean') fail(`countIncludePad must be true or false, got ${JSON.stringify(include)}`);
  return { ...poolAttrs(raw, sizes), countIncludePad: include };
}

/** The output spatial dims of a pooling of x's `sizes`. */
function poolOut(sizes: readonly number[], a: PoolAttrs): number[] {
  return outputSizes(sizes, a.size, a.stride, a.size.map(() => 1), a.padding);
}

/** Checks that `t` has the type of a pooling result of x (or of x itself). */
function requireLike(t: TypeInfo, shape: readonly (number | null)[], what: string, of: string): void {
  if (t.shape.length !== shape.length || !t.shape.every((d, i) => d === null || shape[i] === null || d === shape[i])) fail(`${what} must have the shape ${fmtShape(shape)} of ${of}, got ${fmtShape(t.shape)}`);
}

// ---- the 2-d views -------------------------------------------------------------------------------

/** conv's plane: x [n, h, w, ·] → y [n, oh, ow, ·] with the kernel's taps. */
function convPlane(xShape: Shape, wShape: Shape, a: ConvAttrs): Plane {
  const nsp = xShape.length - 2;
  const sizes = xShape.slice(1, -1);
  const kernel = wShape.slice(0, nsp);
  const outs = sizes.map((n, i) => outSize(n, kernel[i], a.stride[i], a.dilation[i], a.padding[i]));
  return planeOf(xShape[0], sizes, outs, kernel, a.stride, a.dilation, a.padding);
}

function poolPlane(xShape: Shape, a: PoolAttrs): Plane {
  const sizes = xShape.slice(1, -1);
  const ones = sizes.map(() => 1);
  const outs = sizes.map((n, i) => outSize(n, a.size[i], a.stride[i], 1, a.padding[i]));
  return planeOf(xShape[0], sizes, outs, a.size, a.stride, ones, a.padding);
}

// ---- reference kernels ---------------------------------------------------------------------------

/**
 * y[n,i,j,o] = Σ_{ki,kj,c} x̃[n, i·sh + ki·dh − pt, j·sw + kj·dw − pl, g·cg + c] · w[ki,kj,c,o], with
 * g = ⌊o/(Cout/G)⌋ and x̃ = x, zero outside. Summed in float64 in (ki, kj, c) order, padded zeros
 * included (0·∞ is NaN, as with an explicitly padded x).
 */
function convKernel(x: Tensor, w: Tensor, a: ConvAttrs, out: ConcreteType): Tensor {
  const p = convPlane(x.shape, w.shape, a);
  const c = last(x.shape);
  const cg = c / a.groups;
  const cout = last(w.shape);
  const coutg = cout / a.groups;
  const y = new Tensor(out.dtype, out.shape);
  const [X, W] = [x.data, w.data];
  let at = 0;
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        for (let o = 0; o < cout; o++) {
          const g = Math.floor(o / coutg);
          let acc = 0;
          for (let ki = 0; ki < p.kh; ki++) {
            const xi = i * p.sh + ki * p.dh - p.pt;
            for (let kj = 0; kj < p.kw; kj++) {
              const xj = j * p.sw + kj * p.dw - p.pl;
              const inside = xi >= 0 && xi < p.h && xj >= 0 && xj < p.w;
              const xRow = ((n * p.h + xi) * p.w + xj) * c + g * cg;
              const wRow = (ki * p.kw + kj) * cg * cout + o;
              for (let ch = 0; ch < cg; ch++) acc += (inside ? X[xRow + ch] : 0) * W[wRow + ch * cout];
            }
          }
          y.data[at++] = acc;
        }
      }
    }
  }
  return y;
}

/**
 * z = convTranspose(y, w), the adjoint of x ↦ conv(x, w): every y[n,i,j,·] adds, for each tap
 * (ki, kj) landing inside z, Σ_{o in group g} y[n,i,j,o]·w[ki,kj,c,o] to z[n, i·sh + ki·dh − pt,
 * j·sw + kj·dw − pl, g·cxg + c]. Accumulated in float64 in (i, j) order, each term's inner sum
 * taken first.
 */
function convTransposeKernel(y: Tensor, w: Tensor, a: ConvTransposeAttrs, out: ConcreteType): Tensor {
  const p = convPlane(out.shape, w.shape, a); // the forward conv: z → y
  const cx = last(out.shape);
  const cxg = cx / a.groups;
  const cy = last(w.shape);
  const cyg = cy / a.groups;
  const acc = new Float64Array(sizeOf(out.shape));
  const [Y, W] = [y.data, w.data];
  for (let n = 0; n < p.n; n++) {
    for (let i = 0; i < p.oh; i++) {
      for (let j = 0; j < p.ow; j++) {
        const yRow = ((n * p.oh + i) * p.ow + j) * cy;
        for (let ki = 0; ki < p.kh; ki++) {
          const zi = i * p.sh + ki * p.dh - p.pt;
          if (zi < 0 || zi >= p.h) continue;
          for (let kj = 0; kj < p.kw; kj++) {
            const zj = j * p.sw + kj * p.dw - p.pl;
            if (zj < 0 || zj >= p.w) continue;
            const zRow = ((n * p.h + zi) * p.w + zj) * cx;
            for (let ch = 0; ch < cx; ch++) {
              const g = Math.floor(ch / cxg);
              const wRow = ((ki * p.kw + kj) * cxg + (ch - g * cxg)) * cy;
              let s = 0;
              for (let o = g * cyg; o < (g + 1) * cyg; o++) s += Y[yRow + o] * W[wRow + o];
              acc[zRow + ch] += s;
            }
          }
        }
      }
    }
  }
  const z = new Tensor(out.dtype, out.shape);
  z.data.set(acc);
  return z;
}

// ---- gradients -----------------------------------------------------------------------------------

/** Per spatial dim, the elements of x past the reach of conv's last window: (n + b + a − d(k − 1) − 1) mod s. */
function remainders(sizes: readonly number[], kernel: readonly number[], a: ConvAttrs): number[] {
  return sizes.map((n, i) => (n + a.padding[i][0] + a.padding[i][1] - a.dilation[i] * (kernel[i] - 1) - 1) % a.stride[i]);
}

const spatialOf = (s: Sym) => s.shape.slice(1, -1) as number[];
const kernelOf = (w: Sym) => w.shape.slice(0, w.rank - 2) as number[];
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** conv(x, w) with normalized attributes (a new node, or the existing equal one). */
function convOf(x: Sym, w: Sym, a: ConvAttrs): Sym {
  return x.graph.apply('conv', [x, w], { stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });
}

function convTransposeOf(y: Sym, w: Sym, a: ConvAttrs, outputPadding: readonly number[]): Sym {
  return y.graph.apply('convTranspose', [y, w], { stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups, outputPadding });
}

/**
 * ∂⟨conv(x, w), dy⟩/∂w[t, c, o] = Σ_{n,p} x̃[n, p·s + t·d − b, g·cg + c]·dy[n, p, o]: a conv of x
 * and dy in which the batch is contracted. With x' = x as [cg, ...spatial, G·N] (channel block g
 * holding the batch of group g) and dy' = dy as [...P, N, Cout] for its kernel, it is conv(x', dy')
 * with stride d, dilation s, G groups and padding [b, a − r] (r = remainders: the result then has
 * exactly the kernel's taps), transposed back to [...kernel, cg, Cout].
 */
function convWeightGrad(x: Sym, dy: Sym, kernel: readonly number[], a: ConvAttrs, op: string): Sym {
  const k = x.rank - 2;
  const sizes = spatialOf(x);
  const r = remainders(sizes, kernel, a);
  const G = a.groups;
  let xt: Sym;
  if (G === 1) xt = api.transpose(x, [k + 1, ...range(1, k + 1), 0]);
  else {
    // [N, ...S, C] → [N, ...S, G, cg] → [cg, ...S, G, N] → [cg, ...S, G·N]
    const c = last(x.shape);
    const cg = c === null ? null : c / G;
    const split = api.reshape(x, reshapeSpecOr([x.shape[0], ...sizes, G, cg], op, 'the batch or the channels', x));
    xt = api.transpose(split, [k + 2, ...range(1, k + 1), k + 1, 0]);
    xt = api.reshape(xt, reshapeSpecOr([cg, ...sizes, x.shape[0] === null ? null : G * x.shape[0]], op, 'the batch or the channels', x));
  }
  const dyt = api.transpose(dy, [...range(1, k + 1), 0, k + 1]); // [...P, N, Cout]
  const grad = convOf(xt, dyt, { stride: a.dilation, dilation: a.stride, padding: a.padding.map(([b, e], i) => [b, e - r[i]] as const), groups: G });
  return api.transpose(grad, [...range(1, k + 1), 0, k + 1]); // [cg, ...kernel, Cout] → [...kernel, cg, Cout]
}

function reshapeSpecOr(dims: (number | null)[], op: string, what: string, x: Sym): number[] {
  if (dims.filter((d) => d === null).length > 1) needDims(op, what, x.shape);
  return dims.map((d) => (d === null ? -1 : d));
}

// ---- batching ------------------------------------------------------------------------------------

type Batched = { readonly out: Sym; readonly axis: number };

/** The pooling family works on each example (and channel) alone: the batch joins N. */
function foldBatch(op: string): (args: BatchArgs<any>) => Batched {
  return ({ inputs, axes, node, size }) => {
    const fronts = batchToFront(inputs, axes, size);
    const y = fronts[0].graph.apply(op, fronts.map((x) => foldIntoN(x, op)), node.attrs);
    return { out: unfoldN(y, size ?? fronts[0].shape[0], fronts[0].shape[1], op), axis: 0 };
  };
}

/**
 * vmap of conv (or convTranspose: `transposed`). One kernel for every example: the batch joins N.
 * Per-example kernels: they become extra groups — with a shared x the output channels grow to
 * (g, b, ·); with batched x both grow to (b, g, ·) and groups to B·G.
 */
function convBatch(transposed: boolean): (args: BatchArgs<ConvAttrs | ConvTransposeAttrs>) => Batched {
  const op = transposed ? 'convTranspose' : 'conv';
  return ({ inputs: [x, w], axes: [xa, wa], attrs, node, size }) => {
    const apply = (a: Sym, b: Sym, at: Attrs) => a.graph.apply(op, [a, b], at);
    if (wa === null) {
      const xb = toFront(x, xa!);
      const y = apply(foldIntoN(xb, op), w, node.attrs);
      return { out: unfoldN(y, size ?? xb.shape[0], xb.shape[1], op), axis: 0 };
    }
    const wb = toFront(w, wa); // [B, ...K, wIn, wOut]
    const k = wb.rank - 3;
    const B = wb.shape[0] ?? size;
    const G = attrs.groups;
    const K = wb.shape.slice(1, k + 1) as number[];
    const [wIn, wOut] = [wb.shape[k + 1], wb.shape[k + 2]];
    if (xa === null) {
      // shared x: per-example kernels add output channels, group-major: (g, b, ·)
      let wk: Sym;
      let outPer: number | null; // output channels per group and example
      if (!transposed) {
        // w [B, K, cg, Cout] → [K, cg, G, B, Cout/G] → [K, cg, G·B·Cout/G]
        outPer = wOut === null ? null : wOut / G;
        const split = api.reshape(wb, reshapeSpec([B, ...K, wIn, G, outPer], op));
        wk = api.reshape(api.transpose(split, [...range(1, k + 1), k + 1, k + 2, 0, k + 3]), reshapeSpec([...K, wIn, null], op));
      } else {
        // w [B, K, cxg, Cy] → [K, B, cxg, Cy] → [K, B·cxg, Cy]: output channel g·B·cxg + b·cxg + c
        outPer = wIn;
        wk = api.reshape(api.transpose(wb, [...range(1, k + 1), 0, k + 1, k + 2]), reshapeSpec([...K, null, wOut], op));
      }
      const y = apply(x, wk, node.attrs); // [N, ...S', G·B·outPer]
      const S = y.shape.slice(1, -1) as number[];
      const split = api.reshape(y, reshapeSpec([y.shape[0], ...S, G, B, outPer], op));
      const moved = api.transpose(split, [k + 2, 0, ...range(1, k + 1), k + 1, k + 3]); // [B, N, ...S', G, outPer]
      return { out: api.reshape(moved, reshapeSpec([B, y.shape[0], ...S, outPer === null ? null : G * outPer], op)), axis: 0 };
    }
    // both batched: examples become groups, (b, g)
    if (B === null) needDims(op, 'vmap with per-example kernels needs the batch size', wb.shape);
    const xb = toFront(x, xa); // [B, N, ...S, C]
    const xc = api.reshape(api.transpose(xb, [1, ...range(2, k + 2), 0, k + 2]), reshapeSpec([xb.shape[1], ...(xb.shape.slice(2, k + 2) as number[]), null], op));
    const wk = api.reshape(api.transpose(wb, [...range(1, k + 1), k + 1, 0, k + 2]), reshapeSpec([...K, wIn, null], op));
    const y = apply(xc, wk, { ...node.attrs, groups: B * G }); // [N, ...S', B·Cout]
    const S = y.shape.slice(1, -1) as number[];
    const cOut = transposed ? (wIn === null ? null : wIn * G) : wOut;
    const split = api.reshape(y, reshapeSpec([y.shape[0], ...S, B, cOut], op));
    return { out: api.transpose(split, [k + 1, 0, ...range(1, k + 1), k + 2]), axis: 0 };
  };
}

// ---- the ops -------------------------------------------------------------------------------------

const convFlops = (cIn: (x: ConcreteType, w: ConcreteType) => number) => ([x, w]: readonly ConcreteType[], out: ConcreteType) =>
  2 * sizeOf(out.shape) * sizeOf(w.shape.slice(0, w.shape.length - 2)) * cIn(x, w);

export const convOp: OpDef<ConvAttrs> = {
  name: 'conv',
  arity: 2,
  kind: 'other',
  traits: traits(),
  doc: 'convolution, channels-last: y[n,p,o] = Σ_{t,c} x̃[n, p·s + t·d − pad, g·C/G + c]·w[t,c,o] (1 or 2 spatial dims, groups, zero padding)',
  attrs: convAttrs,
  infer: ([x, w], a) => {
    const dtype = requireSameDtype([x, w]);
    requireFloat(x, 'x');
    const { sizes, kernel } = convShapes(x, w, a.groups);
    const outs = outputSizes(sizes, kernel, a.stride, a.dilation, a.padding);
    return { dtype, shape: [x.shape[0], ...outs, last(w.shape)] };
  },
  kernel: ([x, w], a, ctx) => convKernel(x, w, a, ctx.out),
  // d⟨y, dy⟩: dx = convTranspose(dy, w) (output padding: x's elements past the last window);
  //           dw = a conv of x and dy over the batch (convWeightGrad)
  vjp: ({ dy, inputs: [x, w], attrs, needsGrad }) => [
    needsGrad[0] ? convTransposeOf(dy, w, attrs, remainders(spatialOf(x), kernelOf(w), attrs)) : null,
    needsGrad[1] ? convWeightGrad(x, dy, kernelOf(w), attrs, 'conv') : null,
  ],
  // bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw)
  jvp: ({ inputs: [x, w], tangents: [tx, tw], attrs }) => {
    const a = tx ? convOf(tx, w, attrs) : null;
    const b = tw ? convOf(x, tw, attrs) : null;
    return a && b ? api.add(a, b) : (a ?? b);
  },
  batch: convBatch(false),
  flops: convFlops((x, w) => w.shape[w.shape.length - 2]),
};

export const convTransposeOp: OpDef<ConvTransposeAttrs> = {
  name: 'convTranspose',
  arity: 2,
  kind: 'other',
  traits: traits(),
  doc: 'the adjoint of x ↦ conv(x, w) (conv\'s gradient wrt x, same w [...kernel, Cx/G, Cy]); outputPadding adds elements at the end',
  attrs: convTransposeAttrs,
  infer: ([y, w], a) => {
    const dtype = requireSameDtype([y, w]);
    requireFloat(y, 'y');
    const { sizes, kernel } = convTransposeShapes(y, w, a.groups);
    const cxg = w.shape[w.shape.length - 2];
    return { dtype, shape: [y.shape[0], ...transposedSizes(sizes, kernel, a), cxg === null ? null : cxg * a.groups] };
  },
  kernel: ([y, w], a, ctx) => convTransposeKernel(y, w, a, ctx.out),
  // the adjoint of the adjoint: dy = conv(dz, w); dw = convWeightGrad(dz, y) (⟨z, dz⟩ = ⟨y, conv(dz, w)⟩)
  vjp: ({ dy: dz, inputs: [y, w], attrs, needsGrad }) => [needsGrad[0] ? convOf(dz, w, attrs) : null, needsGrad[1] ? convWeightGrad(dz, y, kernelOf(w), attrs, 'convTranspose') : null],
  // bilinear, as conv
  jvp: ({ inputs: [y, w], tangents: [ty, tw], attrs }) => {
    const a = ty ? convTransposeOf(ty, w, attrs, attrs.outputPadding) : null;
    const b = tw ? convTransposeOf(y, tw, attrs, attrs.outputPadding) : null;
    return a && b ? api.add(a, b) : (a ?? b);
  },
  batch: convBatch(true),
  flops: ([y, w]) => 2 * sizeOf(y.shape) * sizeOf(w.shape.slice(0, w.shape.length - 1)),
};

/** Applies a pooling-family op with pooling attributes. */
const poolApply = (op: string, inputs: Sym[], a: Attrs) => inputs[0].graph.apply(op, inputs, a);

const poolDoc = 'size and stride one number or one per spatial dim (stride defaults to size), padding as conv\'s, each pad smaller than the window';

export const maxPoolOp: OpDef<PoolAttrs> = {
  name: 'maxPool',
  arity: 1,
  kind: 'other',
  traits: traits({ finiteIfInputsFinite: [0] }),
  doc: `each window's maximum, channels-last, padded with −∞; ${poolDoc}`,
  attrs: (raw, [x]) => poolAttrs(raw, spatialDims(x, 'x')),
  infer: ([x], a) => {
    requireFloat(x, 'x');
    return { dtype: x.dtype, shape: [x.shape[0], ...poolOut(spatialDims(x, 'x'), a), last(x.shape)] };
  },
  kernel: ([x], a, ctx) => {
    const y = new Tensor(ctx.out.dtype, ctx.out.shape);
    maxPoolInto(x.data, 0, y.data, 0, poolPlane(x.shape, a), last(x.shape));
    return y;
  },
  // d max = dy shared equally by the elements equal to their window's maximum
  vjp: ({ dy, inputs: [x], output: y, node }) => [poolApply('maxPoolScatter', [x, y, dy], node.attrs)],
  // the tangent of the maximum: the mean tangent of the maximal elements
  jvp: ({ inputs: [x], output: y, tangents: [tx], node }) => (tx ? poolApply('maxPoolGather', [x, y, tx], node.attrs) : null),
  batch: foldBatch('maxPool'),
  kinks: 'ties split the gradient equally among the elements equal to a window\'s maximum (as max); padding is −∞, never the maximum',
  flops: ([x], out, a) => sizeOf(out.shape) * sizeOf(a.size),
};

export const avgPoolOp: OpDef<AvgPoolAttrs> = {
  name: 'avgPool',
  arity: 1,
  kind: 'other',
  traits: traits(),
  doc: `each window's mean, channels-last; padded zeros are counted unless countIncludePad is false; ${poolDoc}`,
  attrs: (raw, [x]) => avgAttrs(raw, spatialDims(x, 'x')),
  infer: ([x], a) => {
    requireFloat(x, 'x');
    return { dtype: x.dtype, shape: [x.shape[0], ...poolOut(spatialDims(x, 'x'), a), last(x.shape)] };
  },
  kernel: ([x], a, ctx) => {
    const y = new Tensor(ctx.out.dtype, ctx.out.shape);
    const c = last(x.shape);
    avgPoolInto(x.data, 0, y.data, 0, poolPlane(x.shape, a), c, a.countIncludePad, new Float64Array(c));
    return y;
  },
  // linear: dx = avgPool's adjoint applied to dy
  vjp: ({ dy, inputs: [x], attrs }) => [poolApply('avgPoolTranspose', [dy], { ...attrs, inputSize: spatialOf(x) })],
  jvp: ({ tangents: [tx], node }) => (tx ? poolApply('avgPool', [tx], node.attrs) : null),
  batch: foldBatch('avgPool'),
  flops: ([x], out, a) => sizeOf(out.shape) * sizeOf(a.size),
};

export const avgPoolTransposeOp: OpDef<AvgPoolTransposeAttrs> = {
  name: 'avgPoolTranspose',
  arity: 1,
  kind: 'other',
  traits: traits(),
  doc: 'the adjoint of avgPool (its gradient): each window spreads dy/count over its elements of x; inputSize gives x\'s spatial dims',
  attrs: (raw, [dy]) => {
    spatialDims(dy, 'dy');
    const nsp = dy.shape.length - 2;
    const inputSize = perDim(raw.inputSize, nsp, 'inputSize');
    return { ...avgAttrs(raw, inputSize), inputSize };
  },
  infer: ([dy], a) => {
    requireFloat(dy, 'dy');
    requireLike(dy, [dy.shape[0], ...poolOut(a.inputSize, a), last(dy.shape)], 'dy', `avgPool's result for inputs of spatial size ${fmtShape(a.inputSize)}`);
    return { dtype: dy.dtype, shape: [dy.shape[0], ...a.inputSize, last(dy.shape)] };
  },
  kernel: ([dy], a, ctx) => {
    const dx = new Tensor(ctx.out.dtype, ctx.out.shape);
    avgPoolTransposeInto(dy.data, 0, dx.data, 0, poolPlane(ctx.out.shape, a), last(dy.shape), a.countIncludePad, new Float64Array(poolScratchSize(dx.size, last(dy.shape))));
    return dx;
  },
  // linear: its adjoint is avgPool
  vjp: ({ dy, attrs }) => [poolApply('avgPool', [dy], { size: attrs.size, stride: attrs.stride, padding: attrs.padding, countIncludePad: attrs.countIncludePad })],
  jvp: ({ tangents: [t], node }) => (t ? poolApply('avgPoolTranspose', [t], node.attrs) : null),
  batch: foldBatch('avgPoolTranspose'),
  flops: ([dy], _out, a) => sizeOf(dy.shape) * sizeOf(a.size),
};

/** Attributes and type checks of the maxPool helpers: x, y = maxPool(x), and a third tensor. */
function maxPoolHelperInfer(third: 'like x' | 'like y') {
  return ([x, y, t]: readonly TypeInfo[], a: PoolAttrs): TypeInfo => {
    const dtype = requireSameDtype([x, y, t]);
    requireFloat(x, 'x');
    const yShape = [x.shape[0], ...poolOut(spatialDims(x, 'x'), a), last(x.shape)];
    requireLike(y, yShape, 'y', 'maxPool(x)');
    requireLike(t, third === 'like x' ? yShape : x.shape, third === 'like x' ? 'dy' : 't', third === 'like x' ? 'maxPool(x)' : 'x');
    return { dtype, shape: third === 'like x' ? x.shape : yShape };
  };
}

export const maxPoolScatterOp: OpDef<PoolAttrs> = {
  name: 'maxPoolScatter',
  arity: 3,
  kind: 'other',
  traits: traits({ finiteIfInputsFinite: [2] }),
  doc: 'maxPool\'s gradient (x, y = maxPool(x), dy): each window sends dy/t to each of its t elements equal to y',
  attrs: (raw, [x]) => poolAttrs(raw, spatialDims(x, 'x')),
  infer: maxPoolHelperInfer('like x'),
  kernel: ([x, y, dy], a, ctx) => {
    const dx = new Tensor(ctx.out.dtype, ctx.out.shape);
    maxPoolScatterInto(x.data, 0, y.data, 0, dy.data, 0, dx.data, 0, poolPlane(x.shape, a), last(x.shape), new Float64Array(poolScratchSize(dx.size, last(x.shape))));
    return dx;
  },
  // linear in dy, its adjoint the gather; piecewise constant in x and y
  vjp: ({ dy: g, inputs: [x, y], node, needsGrad }) => [null, null, needsGrad[2] ? poolApply('maxPoolGather', [x, y, g], node.attrs) : null],
  jvp: ({ inputs: [x, y], tangents: [, , t], node }) => (t ? poolApply('maxPoolScatter', [x, y, t], node.attrs) : null),
  batch: foldBatch('maxPoolScatter'),
  kinks: 'piecewise constant in x and y (which elements tie for the maximum): their gradients are 0',
  flops: ([x, dy], _out, a) => 2 * sizeOf(dy.shape) * sizeOf(a.size),
};

export const maxPoolGatherOp: OpDef<PoolAttrs> = {
  name: 'maxPoolGather',
  arity: 3,
  kind: 'other',
  traits: traits({ finiteIfInputsFinite: [2] }),
  doc: 'the adjoint of maxPoolScatter (x, y = maxPool(x), t like x): each window\'s mean of t over its elements equal to y; maxPool\'s JVP',
  attrs: (raw, [x]) => poolAttrs(raw, spatialDims(x, 'x')),
  infer: maxPoolHelperInfer('like y'),
  kernel: ([x, y, t], a, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    maxPoolGatherInto(x.data, 0, y.data, 0, t.data, 0, out.data, 0, poolPlane(x.shape, a), last(x.shape), new Float64Array(2 * last(x.shape)));
    return out;
  },
  vjp: ({ dy: g, inputs: [x, y], node, needsGrad }) => [null, null, needsGrad[2] ? poolApply('maxPoolScatter', [x, y, g], node.attrs) : null],
  jvp: ({ inputs: [x, y], tangents: [, , t], node }) => (t ? poolApply('maxPoolGather', [x, y, t], node.attrs) : null),
  batch: foldBatch('maxPoolGather'),
  kinks: 'piecewise constant in x and y (which elements tie for the maximum): their gradients are 0',
  flops: ([x], out, a) => 2 * sizeOf(out.shape) * sizeOf(a.size),
};

export const convOps: OpDef<any>[] = [convOp, convTransposeOp, maxPoolOp, avgPoolOp, maxPoolScatterOp, maxPoolGatherOp, avgPoolTransposeOp];
