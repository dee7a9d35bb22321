/**
 * Convolution and pooling kernels of the JavaScript back end, over flat typed arrays with element
 * offsets (views into the arena), allocating nothing per call.
 *
 * Two ways to compute a convolution, measured per case (docs/kernels.md, bench/conv-kernels.ts):
 *
 * - **im2col + matmul.** `im2col` copies each output position's receptive field into a row of a
 *   patches matrix `[rows = N·outSpatial, kc = kernel·C/groups]` (float64, a block of rows at a
 *   time), and `makeMatmul` multiplies it by the kernel as a `[kc, Cout/groups]` matrix: the
 *   result rows are the output positions, channels-last, exactly y's layout. convTranspose runs
 *   the same in reverse: dy·Wᵀ gives each position's patch of contributions, and `col2im` adds
 *   them into place. The WebAssembly back end reuses this patches layout.
 * - **Direct loops.** For each output position, a float64 row of accumulators over the output
 *   channels takes x·w tap by tap (conv), or each input position gathers the taps that reach it
 *   (convTranspose). No copies; better when the matmul would be thin (depthwise kernels, few
 *   output channels per group).
 *
 * Both sum every output in float64 in the reference kernels' order — conv over (tap, channel),
 * padded zeros included; convTranspose over output positions in order, each term's channel sum
 * first — and round once, so they equal the interpreter bit for bit in float32 and float64.
 *
 * Pooling runs the reference kernels' loops themselves (`ops/window.ts`), into the arena.
 */
import type { Node } from '../../ir';
import type { TypeOf } from '../../lowering';
import type { ConvAttrs, ConvTransposeAttrs, PoolAttrs, AvgPoolAttrs, AvgPoolTransposeAttrs } from '../../ops/conv';
import { avgPoolInto, avgPoolTransposeInto, maxPoolGatherInto, maxPoolInto, maxPoolScatterInto, outSize, planeOf, poolScratchSize, type Plane } from '../../ops/window';
import type { Shape } from '../../shape';
import { makeMatmul, MatmulScratch, MATMUL_BLOCKING, type FloatArray, type MatmulKernel } from './matmul';

// ---- workspace -----------------------------------------------------------------------------------

/**
 * Scratch space the kernels of one specialization share (they never run at the same time): a
 * float64 buffer for patches, packed kernels and accumulators, and the matmuls' packing buffer.
 * Kernels reserve what they need when they are made and fetch the buffer when they run, so a run
 * allocates nothing.
 */
export class Workspace {
  private buf = new Float64Array(0);
  private view32 = new Float32Array(0);
  readonly matmul = new MatmulScratch();

  /** Makes sure `size` float64 elements are available. */
  reserve(size: number): void {
    if (this.buf.length < size) {
      this.buf = new Float64Array(size);
      this.view32 = new Float32Array(this.buf.buffer);
    }
  }

  /** The buffer (at least as large as every reservation so far). */
  get f64(): Float64Array {
    return this.buf;
  }

  /** The same memory as float32 elements (twice as many). */
  get f32(): Float32Array {
    return this.view32;
  }

  /** Float64 elements reserved. */
  get size(): number {
    return this.buf.length;
  }
}

// ---- geometry ------------------------------------------------------------------------------------

/**
 * A convolution in two spatial dims (1-d: h = oh = kh = 1), channels-last: x `[n, h, w, c]`,
 * kernel `[kh, kw, c/groups, cout]`, y `[n, oh, ow, cout]`; `pt`, `pl` are the leading pads.
 */
export interface ConvGeometry extends Plane {
  readonly c: number;
  readonly cout: number;
  readonly groups: number;
}

/**
 * The geometry of conv(x, w) from the concrete shapes and normalized attributes (for
 * convTranspose(y, w): of the forward conv from its result z to y).
 * @example convGeometry([64, 28, 28, 1], [5, 5, 1, 8], { stride: [1, 1], padding: [[0, 0], [0, 0]], dilation: [1, 1], groups: 1 })
 */
export function convGeometry(xShape: Shape, wShape: Shape, a: Pick<ConvAttrs, 'stride' | 'padding' | 'dilation' | 'groups'>): ConvGeometry {
  const nsp = xShape.length - 2;
  const sizes = xShape.slice(1, -1);
  const kernel = wShape.slice(0, nsp);
  const outs = sizes.map((n, i) => outSize(n, kernel[i], a.stride[i], a.dilation[i], a.padding[i]));
  const plane = planeOf(xShape[0], sizes, outs, kernel, a.stride, a.dilation, a.padding);
  return { ...plane, c: xShape[xShape.length - 1], cout: wShape[wShape.length - 1], groups: a.groups };
}

/** Elements of patches in one block of rows (rows are taken in blocks of about this many elements; see blockRows). */
export const PATCH_BLOCK = 1 << 16;

// ---- im2col and col2im ---------------------------------------------------------------------------

/**
 * Copies the receptive fields of output rows `[r0, r0 + count)` (row r = (n·oh + i)·ow + j) into
 * `patches` from offset `po`: row r − r0 holds, for each tap (ki, kj) in order and each channel of
 * `group`, x̃[n, i·sh + ki·dh − pt, j·sw + kj·dw − pl, group·cg + ch] — zero outside x. Each row
 * has kc = kh·kw·cg elements: the patches matrix is `[count, kc]`, row-major (float64, or float32
 * for float32 x: the values are copied exactly either way).
 * @example im2col(x, 0, geo, 0, 0, geo.n * geo.oh * geo.ow, patches, 0) // all rows of group 0
 */
export function im2col(x: FloatArray, xo: number, g: ConvGeometry, group: number, r0: number, count: number, patches: FloatArray, po: number): void {
  const cg = g.c / g.groups;
  const c0 = group * cg;
  // with unit dilation and one group, a tap row's channels are one contiguous run of x
  const runs = g.dw === 1 && cg === g.c;
  let d = po;
  let j = r0 % g.ow;
  let i = Math.floor(r0 / g.ow) % g.oh;
  let n = Math.floor(r0 / (g.ow * g.oh));
  for (let r = 0; r < count; r++) {
    const xj0 = j * g.sw - g.pl;
    for (let ki = 0; ki < g.kh; ki++) {
      const xi = i * g.sh + ki * g.dh - g.pt;
      const tapRow = g.kw * cg;
      if (xi < 0 || xi >= g.h) {
        for (let t = 0; t < tapRow; t++) patches[d + t] = 0;
        d += tapRow;
        continue;
      }
      const rowAt = xo + (n * g.h + xi) * g.w * g.c + c0;
      if (runs) {
        // taps kj in [lo, hi) land inside x: zeros, one copy, zeros (loops: fill() costs more on short runs)
        const lo = Math.min(g.kw, Math.max(0, -xj0)) * cg;
        const hi = Math.max(lo, Math.min(g.kw, g.w - xj0) * cg);
        const src = rowAt + xj0 * g.c;
        let t = 0;
        for (; t < lo; t++) patches[d + t] = 0;
        for (; t < hi; t++) patches[d + t] = x[src + t];
        for (; t < tapRow; t++) patches[d + t] = 0;
        d += tapRow;
        continue;
      }
      for (let kj = 0; kj < g.kw; kj++) {
        const xj = xj0 + kj * g.dw;
        if (xj >= 0 && xj < g.w) {
          const at = rowAt + xj * g.c;
          for (let ch = 0; ch < cg; ch++) patches[d + ch] = x[at + ch];
        } else for (let ch = 0; ch < cg; ch++) patches[d + ch] = 0;
        d += cg;
      }
    }
    if (++j === g.ow) {
      j = 0;
      if (++i === g.oh) {
        i = 0;
        n++;
      }
    }
  }
}

/**
 * The reverse of im2col: adds row r − r0 of `patches` (`[count, kc]`, from offset `po`) into
 * `acc` (x's shape, float64) at the positions im2col read them from, for `group`'s channels;
 * entries of taps outside x are dropped.
 */
export function col2im(patches: Float64Array, po: number, g: ConvGeometry, group: number, r0: number, count: number, acc: Float64Array): void {
  const cg = g.c / g.groups;
  const c0 = group * cg;
  const runs = g.dw === 1 && cg === g.c;
  let d = po;
  let j = r0 % g.ow;
  let i = Math.floor(r0 / g.ow) % g.oh;
  let n = Math.floor(r0 / (g.ow * g.oh));
  for (let r = 0; r < count; r++) {
    const xj0 = j * g.sw - g.pl;
    for (let ki = 0; ki < g.kh; ki++) {
      const xi = i * g.sh + ki * g.dh - g.pt;
      if (xi < 0 || xi >= g.h) {
        d += g.kw * cg;
        continue;
      }
      const rowAt = (n * g.h + xi) * g.w * g.c + c0;
      if (runs) {
        const lo = Math.min(g.kw, Math.max(0, -xj0)) * cg;
        const hi = Math.max(lo, Math.min(g.kw, g.w - xj0) * cg);
        const dst = rowAt + xj0 * g.c;
        for (let t = lo; t < hi; t++) acc[dst + t] += patches[d + t];
        d += g.kw * cg;
        continue;
      }
      for (let kj = 0; kj < g.kw; kj++) {
        const xj = xj0 + kj * g.dw;
        if (xj >= 0 && xj < g.w) {
          const at = rowAt + xj * g.c;
          for (let ch = 0; ch < cg; ch++) acc[at + ch] += patches[d + ch];
        }
        d += cg;
      }
    }
    if (++j === g.ow) {
      j = 0;
      if (++i === g.oh) {
        i = 0;
        n++;
      }
    }
  }
}

// ---- conv ----------------------------------------------------------------------------------------

export type ConvMethod = 'im2col' | 'direct';

/** A convolution kernel: reads x and w, writes y, at element offsets. */
export type ConvKernel = (x: FloatArray, xo: number, w: FloatArray, wo: number, y: FloatArray, yo: number) => void;

/**
 * Which method is faster for this convolution, from the measurements in docs/kernels.md: direct
 * loops when the product would be thin (at most 2 output channels per group: depthwise kernels),
 * im2col + matmul otherwise.
 */
export function chooseConvMethod(g: ConvGeometry): ConvMethod {
  return g.cout / g.groups <= 2 ? 'direct' : 'im2col';
}

/**
 * Rows per block of patches: about PATCH_BLOCK elements (a block stays in cache between im2col and
 * the product), but at least 64 rows, so the product's packing of the kernel (once per call) is
 * paid over enough rows even for the long rows of a weight gradient.
 */
function blockRows(rows: number, kc: number): number {
  return Math.max(1, Math.min(rows, Math.max(64, Math.floor(PATCH_BLOCK / Math.max(kc, 1)))));
}

/**
 * A conv kernel for this geometry and dtype (x, w and y all of it), by `method` (default: the
 * faster, `chooseConvMethod`). Scratch comes from `ws`.
 * @example const k = makeConvKernel(geo, 'float32', ws); k(x, 0, w, 0, y, 0);
 */
export function makeConvKernel(g: ConvGeometry, dtype: 'float32' | 'float64', ws: Workspace, method: ConvMethod = chooseConvMethod(g)): ConvKernel {
  return method === 'im2col' ? im2colConv(g, dtype, ws) : directConv(g);
}

function im2colConv(g: ConvGeometry, dtype: 'float32' | 'float64', ws: Workspace): ConvKernel {
  const G = g.groups;
  const cg = g.c / G;
  const coutg = g.cout / G;
  const kc = g.kh * g.kw * cg;
  const rows = g.n * g.oh * g.ow;
  const R = blockRows(rows, kc);
  // Every output is a float64 sum over kc terms, rounded once. In float32 with kc ≤ KC the float32
  // product does exactly that (it rounds once per K block); longer sums (weight gradients) take
  // float32 operands into a float64 block of results, rounded when copied out.
  const f32 = dtype === 'float32';
  const roundsOnce = f32 && kc <= MATMUL_BLOCKING.KC;
  // w is read in place with one group (else each group's columns are packed), y written in place
  // when the product's dtype is y's and there is one group (else a block of results)
  const wInPlace = G === 1;
  const yInPlace = G === 1 && (roundsOnce || !f32);
  const wPacked = wInPlace ? 0 : kc * coutg;
  const cBlock = yInPlace ? 0 : R * coutg;
  // workspace layout, in float64 elements: patches (float32 or float64), the packed kernel (w's
  // dtype), then a block of results (the product's dtype)
  const el = (count: number, is32: boolean) => (is32 ? Math.ceil(count / 2) : count);
  const wAt = el(R * kc, f32);
  const cAt = wAt + el(wPacked, f32);
  ws.reserve(cAt + el(cBlock, roundsOnce));
  const spec = { dtype: (roundsOnce || !f32 ? dtype : 'float64') as 'float32' | 'float64', operandDtype: dtype, n: coutg, k: kc, scratch: ws.matmul };
  const full = makeMatmul({ ...spec, m: R });
  const tail = rows % R ? makeMatmul({ ...spec, m: rows % R }) : full;
  return (x, xo, w, wo, y, yo) => {
    const P: FloatArray = f32 ? ws.f32 : ws.f64;
    const Cv: FloatArray = roundsOnce ? ws.f32 : ws.f64;
    const cOff = roundsOnce ? 2 * cAt : cAt;
    const wOff = f32 ? 2 * wAt : wAt;
    for (let grp = 0; grp < G; grp++) {
      // the group's kernel as a [kc, coutg] matrix (w's own dtype)
      if (!wInPlace) for (let t = 0; t < kc; t++) for (let o = 0; o < coutg; o++) P[wOff + t * coutg + o] = w[wo + t * g.cout + grp * coutg + o];
      const B = wInPlace ? w : P;
      const bOff = wInPlace ? wo : wOff;
      for (let r0 = 0; r0 < rows; r0 += R) {
        const count = Math.min(R, rows - r0);
        const mm: MatmulKernel = count === R ? full : tail;
        im2col(x, xo, g, grp, r0, count, P, 0);
        if (yInPlace) {
          mm(P, 0, B, bOff, y, yo + r0 * g.cout);
          continue;
        }
        mm(P, 0, B, bOff, Cv, cOff);
        for (let r = 0; r < count; r++) {
          const at = yo + (r0 + r) * g.cout + grp * coutg;
          for (let o = 0; o < coutg; o++) y[at + o] = Cv[cOff + r * coutg + o];
        }
      }
    }
  };
}

function directConv(g: ConvGeometry): ConvKernel {
  const G = g.groups;
  const cg = g.c / G;
  const coutg = g.cout / G;
  const acc = new Float64Array(g.cout);
  const depthwise = cg === 1 && coutg === 1;
  return (x, xo, w, wo, y, yo) => {
    let out = yo;
    for (let n = 0; n < g.n; n++) {
      for (let i = 0; i < g.oh; i++) {
        for (let j = 0; j < g.ow; j++) {
          acc.fill(0);
          for (let ki = 0; ki < g.kh; ki++) {
            const xi = i * g.sh + ki * g.dh - g.pt;
            for (let kj = 0; kj < g.kw; kj++) {
              const xj = j * g.sw + kj * g.dw - g.pl;
              const inside = xi >= 0 && xi < g.h && xj >= 0 && xj < g.w;
              const xRow = xo + ((n * g.h + xi) * g.w + xj) * g.c;
              const wTap = wo + (ki * g.kw + kj) * cg * g.cout;
              if (depthwise) {
                // one input and one output channel per group: a row of channels at once
                if (inside) for (let ch = 0; ch < g.c; ch++) acc[ch] += x[xRow + ch] * w[wTap + ch];
                else for (let ch = 0; ch < g.c; ch++) acc[ch] += 0 * w[wTap + ch];
                continue;
              }
              for (let grp = 0; grp < G; grp++) {
                const a0 = grp * coutg;
                for (let cl = 0; cl < cg; cl++) {
                  const xv = inside ? x[xRow + grp * cg + cl] : 0;
                  const wr = wTap + cl * g.cout + a0;
                  for (let o = 0; o < coutg; o++) acc[a0 + o] += xv * w[wr + o];
                }
              }
            }
          }
          for (let o = 0; o < g.cout; o++) y[out + o] = acc[o];
          out += g.cout;
        }
      }
    }
  };
}

// ---- convTranspose -------------------------------------------------------------------------------

/**
 * convTranspose's method: the same rule as conv's, on the product dy·Wᵀ it would run (thin when
 * the result has at most 2 channels per group).
 */
export function chooseConvTransposeMethod(g: ConvGeometry): ConvMethod {
  return g.c / g.groups <= 2 && g.kh * g.kw <= 9 ? 'direct' : 'im2col';
}

/**
 * A convTranspose kernel: `geo` is the forward conv's (z → y, so `c` is z's channels and `cout`
 * y's); it reads y and w, writes z.
 * @example const k = makeConvTransposeKernel(geo, 'float32', ws); k(dy, 0, w, 0, dx, 0);
 */
export function makeConvTransposeKernel(g: ConvGeometry, dtype: 'float32' | 'float64', ws: Workspace, method: ConvMethod = chooseConvTransposeMethod(g)): ConvKernel {
  return method === 'im2col' ? col2imConvTranspose(g, dtype, ws) : directConvTranspose(g);
}

function col2imConvTranspose(g: ConvGeometry, dtype: 'float32' | 'float64', ws: Workspace): ConvKernel {
  const G = g.groups;
  const cxg = g.c / G;
  const cyg = g.cout / G;
  const kcx = g.kh * g.kw * cxg;
  const rows = g.n * g.oh * g.ow;
  const zSize = g.n * g.h * g.w * g.c;
  const R = blockRows(rows, kcx);
  const f32 = dtype === 'float32';
  // D = dy·Wᵀ, each term's channel sum in float64 (float32 operands into a float64 product); with
  // one group dy and w are read in place, else each group's columns are packed (their own dtype)
  const inPlace = G === 1;
  const el = (count: number, is32: boolean) => (is32 ? Math.ceil(count / 2) : count);
  const dAt = 0; // D: [R, kcx] float64
  const wAt = R * kcx; // the group's kernel [kcx, cyg]
  const yAt = wAt + el(inPlace ? 0 : kcx * cyg, f32); // the group's block of dy [R, cyg]
  const aAt = yAt + el(inPlace ? 0 : R * cyg, f32); // float64 accumulators of z (float32 only)
  ws.reserve(aAt + (f32 ? zSize : 0));
  const spec = { dtype: 'float64' as const, operandDtype: dtype, n: kcx, k: cyg, transposeB: true, scratch: ws.matmul };
  const full = makeMatmul({ ...spec, m: R });
  const tail = rows % R ? makeMatmul({ ...spec, m: rows % R }) : full;
  return (y, yo, w, wo, z, zo) => {
    const S = ws.f64;
    const O: FloatArray = f32 ? ws.f32 : ws.f64; // operand copies, in dy's dtype
    const wOff = f32 ? 2 * wAt : wAt;
    const yOff = f32 ? 2 * yAt : yAt;
    // contributions add up in float64: in z itself (float64) or in the workspace
    const acc = f32 ? S.subarray(aAt, aAt + zSize) : (z as Float64Array).subarray(zo, zo + zSize);
    acc.fill(0);
    for (let grp = 0; grp < G; grp++) {
      // the group's kernel as [kcx, cyg] (the product uses it transposed)
      if (!inPlace) for (let t = 0; t < kcx; t++) for (let o = 0; o < cyg; o++) O[wOff + t * cyg + o] = w[wo + t * g.cout + grp * cyg + o];
      for (let r0 = 0; r0 < rows; r0 += R) {
        const count = Math.min(R, rows - r0);
        const mm = count === R ? full : tail;
        if (inPlace) mm(y, yo + r0 * g.cout, w, wo, S, dAt);
        else {
          for (let r = 0; r < count; r++) for (let o = 0; o < cyg; o++) O[yOff + r * cyg + o] = y[yo + (r0 + r) * g.cout + grp * cyg + o];
          mm(O, yOff, O, wOff, S, dAt);
        }
        col2im(S, dAt, g, grp, r0, count, acc);
      }
    }
    if (f32) for (let k = 0; k < zSize; k++) z[zo + k] = acc[k];
  };
}

function directConvTranspose(g: ConvGeometry): ConvKernel {
  const G = g.groups;
  const cxg = g.c / G;
  const cyg = g.cout / G;
  const acc = new Float64Array(g.c);
  return (y, yo, w, wo, z, zo) => {
    let out = zo;
    for (let n = 0; n < g.n; n++) {
      for (let zi = 0; zi < g.h; zi++) {
        for (let zj = 0; zj < g.w; zj++) {
          acc.fill(0);
          // taps in decreasing order visit y's positions in increasing order, as the scatter form adds them
          for (let ki = g.kh - 1; ki >= 0; ki--) {
            const ti = zi + g.pt - ki * g.dh;
            if (ti < 0 || ti % g.sh !== 0 || ti / g.sh >= g.oh) continue;
            const i = ti / g.sh;
            for (let kj = g.kw - 1; kj >= 0; kj--) {
              const tj = zj + g.pl - kj * g.dw;
              if (tj < 0 || tj % g.sw !== 0 || tj / g.sw >= g.ow) continue;
              const yRow = yo + ((n * g.oh + i) * g.ow + tj / g.sw) * g.cout;
              const wTap = wo + (ki * g.kw + kj) * cxg * g.cout;
              for (let grp = 0; grp < G; grp++) {
                const o0 = grp * cyg;
                for (let cl = 0; cl < cxg; cl++) {
                  const wr = wTap + cl * g.cout;
                  let s = 0;
                  for (let o = o0; o < o0 + cyg; o++) s += y[yRow + o] * w[wr + o];
                  acc[grp * cxg + cl] += s;
                }
              }
            }
          }
          for (let ch = 0; ch < g.c; ch++) z[out + ch] = acc[ch];
          out += g.c;
        }
      }
    }
  };
}

// ---- the lowerings' kernel makers ----------------------------------------------------------------

/** A custom kernel: each data input's array and element offset, then the result's. */
export type CustomKernel = (...args: any[]) => void;

const floatDtype = (node: Node): 'float32' | 'float64' => (node.type.dtype === 'float64' ? 'float64' : 'float32');
const shapeOf = (types: TypeOf, id: number) => types(id).shape as Shape;

/** conv(x, w) → y. */
export function convKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const g = convGeometry(shapeOf(types, node.inputs[0]), shapeOf(types, node.inputs[1]), node.attrs as ConvAttrs);
  return makeConvKernel(g, floatDtype(node), ws);
}

/** convTranspose(y, w) → z: the geometry of the conv z → y. */
export function convTransposeKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const g = convGeometry(shapeOf(types, node.id), shapeOf(types, node.inputs[1]), node.attrs as ConvTransposeAttrs);
  return makeConvTransposeKernel(g, floatDtype(node), ws);
}

function poolPlane(xShape: Shape, a: PoolAttrs): Plane {
  const sizes = xShape.slice(1, -1);
  const ones = sizes.map(() => 1);
  const outs = sizes.map((n, i) => outSize(n, a.size[i], a.stride[i], 1, a.padding[i]));
  return planeOf(xShape[0], sizes, outs, a.size, a.stride, ones, a.padding);
}

const channels = (s: Shape) => s[s.length - 1];
const sizeOf = (s: Shape) => s.reduce((p, d) => p * d, 1);

/** maxPool(x) → y. */
export function maxPoolKernelFor(node: Node, types: TypeOf): CustomKernel {
  const xs = shapeOf(types, node.inputs[0]);
  const p = poolPlane(xs, node.attrs as PoolAttrs);
  return (x: FloatArray, xo: number, y: FloatArray, yo: number) => maxPoolInto(x, xo, y, yo, p, channels(xs));
}

/** avgPool(x) → y. */
export function avgPoolKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const xs = shapeOf(types, node.inputs[0]);
  const a = node.attrs as AvgPoolAttrs;
  const p = poolPlane(xs, a);
  ws.reserve(channels(xs));
  return (x: FloatArray, xo: number, y: FloatArray, yo: number) => avgPoolInto(x, xo, y, yo, p, channels(xs), a.countIncludePad, ws.f64);
}

/** avgPoolTranspose(dy) → dx. */
export function avgPoolTransposeKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const xs = shapeOf(types, node.id);
  const a = node.attrs as AvgPoolTransposeAttrs;
  const p = poolPlane(xs, a);
  ws.reserve(poolScratchSize(sizeOf(xs), channels(xs)));
  return (dy: FloatArray, dyo: number, dx: FloatArray, dxo: number) => avgPoolTransposeInto(dy, dyo, dx, dxo, p, channels(xs), a.countIncludePad, ws.f64);
}

/** maxPoolScatter(x, y, dy) → dx. */
export function maxPoolScatterKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const xs = shapeOf(types, node.inputs[0]);
  const p = poolPlane(xs, node.attrs as PoolAttrs);
  ws.reserve(poolScratchSize(sizeOf(xs), channels(xs)));
  return (x: FloatArray, xo: number, y: FloatArray, yo: number, dy: FloatArray, dyo: number, dx: FloatArray, dxo: number) => maxPoolScatterInto(x, xo, y, yo, dy, dyo, dx, dxo, p, channels(xs), ws.f64);
}

/** maxPoolGather(x, y, t) → out. */
export function maxPoolGatherKernelFor(node: Node, types: TypeOf, ws: Workspace): CustomKernel {
  const xs = shapeOf(types, node.inputs[0]);
  const p = poolPlane(xs, node.attrs as PoolAttrs);
  ws.reserve(2 * channels(xs));
  return (x: FloatArray, xo: number, y: FloatArray, yo: number, t: FloatArray, to: number, out: FloatArray, oo: number) => maxPoolGatherInto(x, xo, y, yo, t, to, out, oo, p, channels(xs), ws.f64);
}
