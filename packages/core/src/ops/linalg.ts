/** Batched matrix multiplication with broadcasting batch dims and transposed variants. */
import * as api from '../api';
import type { Attrs } from '../ir';
import { fail, traits, type OpDef } from '../registry';
import { fmtShape, sizeOf } from '../shape';
import { Tensor } from '../tensor';
import { matmulBatch } from './batching';
import { broadcastOffsets, broadcastOrFail, requireNumeric, requireSameDtype } from './util';

export interface MatmulAttrs extends Attrs {
  /** Use A's last two axes swapped: C = Aᵀ·B. */
  readonly transposeA: boolean;
  /** Use B's last two axes swapped: C = A·Bᵀ. */
  readonly transposeB: boolean;
}

export const matmulOp: OpDef<MatmulAttrs> = {
  name: 'matmul',
  arity: 2,
  kind: 'matmul',
  traits: traits(),
  doc: 'batched matrix product op(A)·op(B); batch dims broadcast',
  attrs: (raw) => ({ transposeA: !!raw.transposeA, transposeB: !!raw.transposeB }),
  infer: ([a, b], at) => {
    const dtype = requireSameDtype([a, b]);
    requireNumeric(a);
    if (a.shape.length < 2 || b.shape.length < 2) fail(`operands must have rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const [m, ka] = at.transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
    const [kb, n] = at.transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
    if (ka !== null && kb !== null && ka !== kb) {
      fail(`inner dimensions differ: ${fmtShape(a.shape)}${at.transposeA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${at.transposeB ? 'ᵀ' : ''} (${ka} vs ${kb})`);
    }
    const batch = broadcastOrFail([a.shape.slice(0, -2), b.shape.slice(0, -2)]);
    return { dtype, shape: [...batch, m, n] };
  },
  kernel: ([a, b], at, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    const r = out.shape.length;
    const [m, n] = [out.shape[r - 2], out.shape[r - 1]];
    const ra = a.shape.length;
    const k = at.transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    if ((at.transposeB ? b.shape[b.shape.length - 1] : b.shape[b.shape.length - 2]) !== k) {
      fail(`inner dimensions differ at run time: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
    }
    const batch = out.shape.slice(0, -2);
    // per batch element, the matrix offset in A and in B
    const aOff = broadcastOffsets(a.shape.slice(0, -2), batch);
    const bOff = broadcastOffsets(b.shape.slice(0, -2), batch);
    const nb = sizeOf(batch);
    // element (i, p) of op(A) and (p, j) of op(B), as strides
    const [ai, ap] = at.transposeA ? [1, m] : [k, 1];
    const [bp, bj] = at.transposeB ? [1, k] : [n, 1];
    const A = a.data;
    const B = b.data;
    const C = out.data;
    const acc = new Float64Array(n);
    for (let t = 0; t < nb; t++) {
      const a0 = (aOff ? aOff[t] : t) * m * k;
      const b0 = (bOff ? bOff[t] : t) * k * n;
      const c0 = t * m * n;
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        for (let p = 0; p < k; p++) {
          const av = A[a0 + i * ai + p * ap];
          const bRow = b0 + p * bp;
          for (let j = 0; j < n; j++) acc[j] += av * B[bRow + j * bj];
        }
        for (let j = 0; j < n; j++) C[c0 + i * n + j] = acc[j];
      }
    }
    return out;
  },
  // C = op(A)·op(B):  dA = dC·op(B)ᵀ,  dB = op(A)ᵀ·dC, with the transposes folded into flags:
  //   C = A·B    → dA = dC·Bᵀ      dB = Aᵀ·dC
  //   C = Aᵀ·B   → dA = B·dCᵀ      dB = A·dC
  //   C = A·Bᵀ   → dA = dC·B       dB = dCᵀ·A
  //   C = Aᵀ·Bᵀ  → dA = Bᵀ·dCᵀ     dB = dCᵀ·Aᵀ
  vjp: ({ dy, inputs: [a, b], attrs: { transposeA: ta, transposeB: tb }, needsGrad }) => {
    const mm = (x: typeof a, y: typeof a, tx: boolean, ty: boolean) => api.matmul(x, y, { transposeA: tx, transposeB: ty });
    let da = null;
    let db = null;
    if (needsGrad[0]) da = !ta ? (!tb ? mm(dy, b, false, true) : mm(dy, b, false, false)) : !tb ? mm(b, dy, false, true) : mm(b, dy, true, true);
    if (needsGrad[1]) db = !tb ? (!ta ? mm(a, dy, true, false) : mm(a, dy, false, false)) : !ta ? mm(dy, a, true, false) : mm(dy, a, true, true);
    return [da, db];
  },
  // bilinear: d(op(A)·op(B)) = op(tA)·op(B) + op(A)·op(tB), with the same flags
  jvp: ({ inputs: [a, b], tangents: [ta, tb], node }) => {
    const left = ta ? a.graph.apply('matmul', [ta, b], node.attrs) : null;
    const right = tb ? a.graph.apply('matmul', [a, tb], node.attrs) : null;
    return left && right ? api.add(left, right) : (left ?? right);
  },
  batch: matmulBatch,
  kinks: undefined,
  flops: ([a], out, at) => {
    const k = at.transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
    return 2 * sizeOf(out.shape) * k;
  },
};

