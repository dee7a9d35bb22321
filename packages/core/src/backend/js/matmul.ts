/**
 * Matrix multiplication kernels for the compiled JavaScript backend: C = op(A)·op(B), with
 * op = identity or transpose on each side (so backward never materializes a transpose), float32
 * and float64, batched with broadcast batch dims, an optional fused epilogue (add a bias row, then
 * an elementwise activation) and an accumulate mode (C += op(A)·op(B)).
 *
 * How it is fast in V8 (measured, see docs/kernels.md):
 * - GotoBLAS blocking: a KC×NC block of op(B) is packed into NR-wide column panels and an MC×KC
 *   block of op(A) into MR-high row panels, both in one float64 scratch buffer allocated once.
 *   Packing absorbs the transposes and float32→float64 conversion, so one microkernel serves all
 *   variants, and its loads are contiguous and monomorphic (always a Float64Array).
 * - A 3×4 register tile: 12 accumulators in locals, 7 loads per 24 flops. Larger tiles spill (V8
 *   allocates from 15 xmm registers and schedules all multiplies before the adds); this one was
 *   the fastest of 2×4 … 8×8 on 1024³.
 * - Index arithmetic in `| 0` form, so TurboFan drops the overflow checks.
 * - One generated function per variant (dtype, transposes, epilogue, accumulate), shared by
 *   every shape, so each has its own type feedback and tiers up once.
 * - Packing pays off down to 4×4×4 (measured); only vector shapes take other paths: n = 1 (or
 *   k = 0) is a dot product per element, m = 1 an axpy over the rows of op(B) into a float64 row.
 *
 * Accumulation is in float64 over k in order, as the reference kernel does: a float64 result is
 * bit-identical to the interpreter's when K ≤ KC (larger K re-reads the stored partial sums, exact
 * in float64; in float32 each KC block rounds once).
 */
import { type DType } from '../../dtype';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { broadcastShapes, fmtShape, sizeOf, stridesOf, type Shape } from '../../shape';
import { KERNEL_HELPERS, UNARY_JS } from './elementwise';

export type FloatDType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** Register tile (MR×NR) and cache blocks (KC, MC, NC) of the packed kernel. */
export const MATMUL_BLOCKING = Object.freeze({ MR: 3, NR: 4, KC: 256, MC: 96, NC: 2048 });
const { MR, NR, KC, MC, NC } = MATMUL_BLOCKING;

/**
 * The elementwise function of a matmul epilogue: `'identity'`, `'relu'` (where(v > 0, v, 0), as
 * `nn.relu`), the name of a float unary primitive (`'tanh'`, `'sigmoid'`, `'softplus'`, ...), or a
 * template `(v) => jsExpression` over an identifier (see `exprTemplate` in elementwise.ts).
 */
export type Activation = string | ((v: string) => string);

export interface MatmulSpec {
  readonly dtype: FloatDType;
  /**
   * The dtype of A and B when it differs from C's: float32 operands multiplied into a float64 C
   * (long sums that must not round per K block, as convolutions' weight gradients). Default `dtype`.
   */
  readonly operandDtype?: FloatDType;
  /** op(A) is m×k, op(B) is k×n, C is m×n (per batch element). */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored k×m and used transposed. Default false. */
  readonly transposeA?: boolean;
  /** B is stored n×k and used transposed. Default false. */
  readonly transposeB?: boolean;
  /** Batch dims of A and of B (before the matrix dims); they broadcast NumPy-style. Default []. */
  readonly batchA?: Shape;
  readonly batchB?: Shape;
  /** C = C + op(A)·op(B) (then the epilogue) instead of C = op(A)·op(B). Default false. */
  readonly accumulate?: boolean;
  /** Add a bias row vector of length n to every row. Default false. */
  readonly bias?: boolean;
  /** Apply an elementwise function last. Default none. */
  readonly activation?: Activation;
  /** Where the packing buffer comes from. Default: one module-wide buffer shared by all kernels. */
  readonly scratch?: MatmulScratch;
}

/**
 * A specialized matmul. Arrays are typed arrays of the spec's dtype; offsets are in elements and
 * say where each tensor starts (views into one arena, or 0). A is [...batchA, m, k] (or k×m
 * transposed), B is [...batchB, k, n] (or n×k), C is [...batch, m, n] with batch the broadcast of
 * batchA and batchB, bias is [n]. Every call checks array types and lengths (O(1)); it allocates
 * nothing.
 */
export interface MatmulKernel {
  (A: FloatArray, aOffset: number, B: FloatArray, bOffset: number, C: FloatArray, cOffset: number, bias?: FloatArray, biasOffset?: number): void;
  readonly spec: MatmulSpec;
  /** The broadcast batch shape; C has shape [...batch, m, n]. */
  readonly batch: Shape;
  /** 2·m·n·k per batch element. */
  readonly flops: number;
  /** Float64 elements of scratch one call needs. */
  readonly scratchSize: number;
  /** The generated code of the variant, for `explain()` and debugging. */
  readonly source: string;
}

/**
 * A growable float64 packing buffer. Kernels take what they need at call time, so one buffer
 * sized by the largest matmul serves a whole program. Not re-entrant: JS is single-threaded and a
 * kernel never calls another.
 * A scratch can also wrap a region of an arena (`new MatmulScratch(view)` with a Float64Array view
 * over the arena's buffer): it never grows then — the memory plan sized it for every kernel.
 * @example const scratch = new MatmulScratch(); makeMatmul({ ..., scratch });
 */
export class MatmulScratch {
  private buf: Float64Array;

  constructor(size: number | Float64Array = 0) {
    this.buf = typeof size === 'number' ? new Float64Array(size) : size;
  }

  /** A buffer of at least `size` elements (grows, never shrinks). */
  ensure(size: number): Float64Array {
    if (this.buf.length < size) this.buf = new Float64Array(Math.max(size, Math.ceil(this.buf.length * 1.5)));
    return this.buf;
  }

  get size(): number {
    return this.buf.length;
  }
}

const sharedScratch = new MatmulScratch();

/**
 * Float64 scratch elements for one m×n×k product with the standard blocking (the size a program's
 * shared `MatmulScratch` needs is the maximum over its matmuls).
 * @example const scratch = new MatmulScratch(Math.max(...products.map(([m, n, k]) => matmulScratchSize(m, n, k))));
 */
export function matmulScratchSize(m: number, n: number, k: number): number {
  if (n === 1 || k === 0) return 0; // the dot-product path
  if (m === 1) return n; // the axpy path accumulates one float64 row
  const kc = Math.min(KC, k);
  return MR * Math.ceil(Math.min(MC, m) / MR) * kc + NR * Math.ceil(Math.min(NC, n) / NR) * kc;
}

/**
 * Float64 scratch elements one `makeMatmul(spec)` kernel takes per call (its `scratchSize`), from
 * the dims alone: a memory planner sizes the shared packing buffer with it before making kernels.
 * @example const elems = matmulScratchFor({ m: 128, n: 512, k: 784 });
 */
export function matmulScratchFor(spec: Pick<MatmulSpec, 'm' | 'n' | 'k' | 'transposeA' | 'batchA' | 'batchB'>): number {
  const batchA = spec.batchA ?? [];
  const batchB = spec.batchB ?? [];
  const batch = broadcastShapes(batchA, batchB);
  const nb = batch ? sizeOf(batch as number[]) : 1;
  const fold = nb > 1 && sizeOf(batchB) === 1 && !spec.transposeA && sizeOf(batchA) === nb;
  return fold ? matmulScratchSize(nb * spec.m, spec.n, spec.k) : matmulScratchSize(spec.m, spec.n, spec.k);
}

// ---- code generation -------------------------------------------------------------------------

interface Variant {
  readonly dtype: FloatDType;
  readonly operandDtype: FloatDType;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly accumulate: boolean;
  readonly bias: boolean;
  readonly activation: (v: string) => string;
  readonly activationKey: string;
}

type GemmFn = (M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number, bias: FloatArray, biasOff: number, S: Float64Array) => void;

// every unary op with JS code but the boolean one: the ops lowerings.ts lets run in an epilogue
const FLOAT_UNARY = Object.keys(UNARY_JS).filter((op) => op !== 'logicalNot');

function resolveActivation(act: Activation | undefined): { code: (v: string) => string; key: string } {
  if (act === undefined || act === 'identity') return { code: (v) => v, key: 'identity' };
  if (act === 'relu') return { code: (v) => `(${v} > 0 ? ${v} : 0)`, key: 'relu' };
  if (typeof act === 'string') {
    if (!FLOAT_UNARY.includes(act)) throw new GraphError(`unknown matmul activation "${act}" (identity, relu, or one of ${FLOAT_UNARY.join(', ')})`, { op: 'matmul' });
    const f = UNARY_JS[act];
    return { code: f, key: act };
  }
  if (typeof act === 'function') {
    const key = act('$v');
    if (typeof key !== 'string') throw new GraphError('an activation template must return a string of JavaScript', { op: 'matmul' });
    return { code: act, key: `fn:${key}` };
  }
  throw new GraphError(`activation must be a name or a template function, got ${typeof act}`, { op: 'matmul' });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The generated source of a variant: `gemm(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff, S)`. */
function gemmSource(v: Variant): string {
  const f32 = v.dtype === 'float32';
  const tiles = range(MR).flatMap((i) => range(NR).map((j) => [i, j] as const));
  const acc = (i: number, j: number) => `c${i}_${j}`;
  // the finished value of an element: (rounded) + bias, then the activation
  const finish = (val: string, col: string): string[] => {
    const lines: string[] = [];
    let cur = val;
    if (f32 && (v.bias || v.activationKey !== 'identity')) cur = `Math.fround(${cur})`;
    if (v.bias) cur = f32 ? `Math.fround(${cur} + bias[${col}])` : `(${cur} + bias[${col}])`;
    if (v.activationKey !== 'identity') {
      lines.push(`const u = ${cur};`);
      cur = v.activation('u');
    }
    lines.push(`return ${cur};`);
    return lines;
  };
  // element (i, p) of op(A) and (p, j) of op(B)
  const opA = (i: string, p: string) => (v.transposeA ? `A[aOff + (${p}) * M + ${i}]` : `A[aOff + (${i}) * K + ${p}]`);
  const opB = (p: string, j: string) => (v.transposeB ? `B[bOff + (${j}) * K + ${p}]` : `B[bOff + (${p}) * N + ${j}]`);

  const packA = v.transposeA
    ? `let s = aOff + pc * M + i0;
          if (h === ${MR}) {
            for (let p = 0; p < kc; p++) { ${range(MR).map((i) => `S[d + ${i}] = A[s + ${i}];`).join(' ')} d += ${MR}; s += M; }
          } else {
            for (let p = 0; p < kc; p++) { for (let i = 0; i < ${MR}; i++) S[d + i] = i < h ? A[s + i] : 0; d += ${MR}; s += M; }
          }`
    : `if (h === ${MR}) {
            ${range(MR).map((i) => `const s${i} = aOff + (i0 + ${i}) * K + pc;`).join(' ')}
            for (let p = 0; p < kc; p++) { ${range(MR).map((i) => `S[d + ${i}] = A[s${i} + p];`).join(' ')} d += ${MR}; }
          } else {
            for (let p = 0; p < kc; p++) { for (let i = 0; i < ${MR}; i++) S[d + i] = i < h ? A[aOff + (i0 + i) * K + pc + p] : 0; d += ${MR}; }
          }`;
  const packB = v.transposeB
    ? `if (w === ${NR}) {
            ${range(NR).map((j) => `const s${j} = bOff + (j0 + ${j}) * K + pc;`).join(' ')}
            for (let p = 0; p < kc; p++) { ${range(NR).map((j) => `S[d + ${j}] = B[s${j} + p];`).join(' ')} d += ${NR}; }
          } else {
            for (let p = 0; p < kc; p++) { for (let j = 0; j < ${NR}; j++) S[d + j] = j < w ? B[bOff + (j0 + j) * K + pc + p] : 0; d += ${NR}; }
          }`
    : `let s = bOff + pc * N + j0;
          if (w === ${NR}) {
            for (let p = 0; p < kc; p++) { ${range(NR).map((j) => `S[d + ${j}] = B[s + ${j}];`).join(' ')} d += ${NR}; s += N; }
          } else {
            for (let p = 0; p < kc; p++) { for (let j = 0; j < ${NR}; j++) S[d + j] = j < w ? B[s + j] : 0; d += ${NR}; s += N; }
          }`;

  const micro = [
    ...range(MR).map((i) => `const a${i} = S[${i ? `(ao + ${i}) | 0` : 'ao'}];`),
    ...range(NR).map((j) => `{ const b = S[${j ? `(bo + ${j}) | 0` : 'bo'}]; ${range(MR).map((i) => `${acc(i, j)} += a${i} * b;`).join(' ')} }`),
  ].join(' ');
  const cIdx = (i: number, j: number) => `c0 + ${i ? `${i} * N + ` : ''}${j}`;
  const loadFull = tiles.map(([i, j]) => `${acc(i, j)} = C[${cIdx(i, j)}];`).join(' ');
  const loadEdge = tiles.map(([i, j]) => `if (${i} < h && ${j} < w) ${acc(i, j)} = C[${cIdx(i, j)}];`).join(' ');
  const storePlainFull = tiles.map(([i, j]) => `C[${cIdx(i, j)}] = ${acc(i, j)};`).join(' ');
  const storePlainEdge = tiles.map(([i, j]) => `if (${i} < h && ${j} < w) C[${cIdx(i, j)}] = ${acc(i, j)};`).join(' ');
  const storeFinFull = tiles.map(([i, j]) => `C[${cIdx(i, j)}] = fin(${acc(i, j)}, bias, biasOff + j0 + ${j});`).join(' ');
  const storeFinEdge = tiles.map(([i, j]) => `if (${i} < h && ${j} < w) C[${cIdx(i, j)}] = fin(${acc(i, j)}, bias, biasOff + j0 + ${j});`).join(' ');

  return `"use strict";
// the epilogue of one element whose bias is bias[bi] (inlined by TurboFan)
function fin(c, bias, bi) { ${finish('c', 'bi').join(' ')} }
// n = 1 or k = 0: a dot product per element of C
function gemmDot(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff) {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const r = cOff + i * N + j;
      let acc = ${v.accumulate ? 'C[r]' : '0'};
      for (let p = 0; p < K; p++) acc += ${opA('i', 'p')} * ${opB('p', 'j')};
      C[r] = fin(acc, bias, biasOff + j);
    }
  }
}
// m = 1: C += a_p · op(B)[p, :] over p, into a float64 row (each element still sums p in order)
function gemmAxpy(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff, S) {
  for (let j = 0; j < N; j++) S[j] = ${v.accumulate ? 'C[cOff + j]' : '0'};
  for (let p = 0; p < K; p++) {
    const a = ${opA('0', 'p')};
    for (let j = 0; j < N; j++) S[j] += a * ${opB('p', 'j')};
  }
  for (let j = 0; j < N; j++) C[cOff + j] = fin(S[j], bias, biasOff + j);
}
return function gemm(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff, S) {
  if (M === 0 || N === 0) return;
  if (N === 1 || K === 0) return gemmDot(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff);
  if (M === 1) return gemmAxpy(M, N, K, A, aOff, B, bOff, C, cOff, bias, biasOff, S);
  // blocks of equal size (784 = 4 × 196, not 3 × 256 + 16): no thin last block
  const KCe = Math.ceil(K / Math.ceil(K / ${KC}));
  const MCe = ${MR} * Math.ceil(Math.ceil(M / Math.ceil(M / ${MC})) / ${MR});
  const bBase = ${MR} * Math.ceil(Math.min(MCe, M) / ${MR}) * KCe;
  for (let jc = 0; jc < N; jc += ${NC}) {
    const nc = Math.min(${NC}, N - jc);
    const np = Math.ceil(nc / ${NR});
    for (let pc = 0; pc < K; pc += KCe) {
      const kc = Math.min(KCe, K - pc);
      const first = pc === 0;
      const last = pc + kc === K;
      // pack op(B)[pc:pc+kc, jc:jc+nc] into NR-wide panels, zero-padded at the right edge
      for (let jp = 0; jp < np; jp++) {
        const j0 = jc + jp * ${NR};
        const w = Math.min(${NR}, N - j0);
        let d = bBase + jp * kc * ${NR};
        ${packB}
      }
      for (let ic = 0; ic < M; ic += MCe) {
        const mc = Math.min(MCe, M - ic);
        const mp = Math.ceil(mc / ${MR});
        // pack op(A)[ic:ic+mc, pc:pc+kc] into MR-high panels, zero-padded at the bottom edge
        for (let ip = 0; ip < mp; ip++) {
          const i0 = ic + ip * ${MR};
          const h = Math.min(${MR}, M - i0);
          let d = ip * kc * ${MR};
          ${packA}
        }
        // the B panel stays in L1 while every A panel of the block passes over it
        for (let jp = 0; jp < np; jp++) {
          const j0 = jc + jp * ${NR};
          const w = Math.min(${NR}, N - j0);
          for (let ip = 0; ip < mp; ip++) {
            const i0 = ic + ip * ${MR};
            const h = Math.min(${MR}, M - i0);
            const c0 = cOff + i0 * N + j0;
            const full = h === ${MR} && w === ${NR};
            ${tiles.map(([i, j]) => `let ${acc(i, j)} = 0;`).join(' ')}
            // continue the sum where the previous K block stopped (or from C itself when accumulating)
            if (${v.accumulate ? 'true' : '!first'}) {
              if (full) { ${loadFull} } else { ${loadEdge} }
            }
            let ao = ip * kc * ${MR};
            let bo = (bBase + jp * kc * ${NR}) | 0;
            for (let p = 0; p < kc; p++) {
              ${micro}
              ao = (ao + ${MR}) | 0;
              bo = (bo + ${NR}) | 0;
            }
            if (!last) {
              if (full) { ${storePlainFull} } else { ${storePlainEdge} }
            } else if (full) { ${storeFinFull} } else { ${storeFinEdge} }
          }
        }
      }
    }
  }
};`;
}

const variants = new Map<string, { fn: GemmFn; source: string }>();

function variantKey(v: Omit<Variant, 'activation'>): string {
  return `${v.dtype}${v.operandDtype !== v.dtype ? `<${v.operandDtype}` : ''}|${v.transposeA ? 'T' : 'N'}${v.transposeB ? 'T' : 'N'}|${v.accumulate ? 'acc' : 'set'}|${v.bias ? 'bias' : ''}|${v.activationKey}`;
}

function gemmFor(v: Variant): { fn: GemmFn; source: string } {
  const key = variantKey(v);
  let hit = variants.get(key);
  if (!hit) {
    const source = gemmSource(v);
    const names = Object.keys(KERNEL_HELPERS);
    const fn = new Function(...names, source)(...names.map((h) => KERNEL_HELPERS[h])) as GemmFn;
    hit = { fn, source };
    variants.set(key, hit);
  }
  return hit;
}

/**
 * How many variants have been generated (each is compiled once and shared by all shapes), for
 * `explain()`.
 * @example console.log(`${matmulVariantCount()} matmul variants generated`);
 */
export function matmulVariantCount(): number {
  return variants.size;
}

// ---- specialization --------------------------------------------------------------------------

function dimOk(d: unknown): d is number {
  return typeof d === 'number' && Number.isInteger(d) && d >= 0;
}

/** For each element of the broadcast batch, which matrix of an operand with batch dims `own` it reads. */
function batchIndex(own: Shape, batch: Shape): Int32Array {
  const n = sizeOf(batch);
  const idx = new Int32Array(n);
  const pad = batch.length - own.length;
  const ownStrides = stridesOf(own);
  const outStrides = stridesOf(batch);
  for (let t = 0; t < n; t++) {
    let at = 0;
    for (let d = 0; d < own.length; d++) {
      if (own[d] === 1) continue;
      const coord = Math.floor(t / outStrides[pad + d]) % batch[pad + d];
      at += coord * ownStrides[d];
    }
    idx[t] = at;
  }
  return idx;
}

/**
 * Specializes a matmul to shapes, dtype and epilogue. The returned kernel computes, for every
 * element of the broadcast batch, C = act(op(A)·op(B) [+ C if accumulate] [+ bias]).
 * When B has no batch (or a batch of 1s) and A is not transposed, A's batch is folded into m, so a
 * dense layer on [batch, time, features] is one big product.
 * @example
 * // y = relu(x·W + b) for x [128, 784], W [784, 512], b [512], all float32
 * const dense = makeMatmul({ dtype: 'float32', m: 128, n: 512, k: 784, bias: true, activation: 'relu' });
 * dense(x, 0, w, 0, y, 0, b, 0);
 * // dW += xᵀ·dy without materializing xᵀ
 * const dW = makeMatmul({ dtype: 'float32', m: 784, n: 512, k: 128, transposeA: true, accumulate: true });
 * dW(x, 0, dy, 0, gw, 0);
 */
export function makeMatmul(spec: MatmulSpec): MatmulKernel {
  const op = 'matmul';
  if (!spec || typeof spec !== 'object') throw new GraphError('makeMatmul needs a spec object', { op });
  const { dtype, m, n, k } = spec;
  if (dtype !== 'float32' && dtype !== 'float64') throw new DTypeError(`the JS matmul kernel takes float32 or float64, got ${String(dtype)}`, { op, dtypes: [dtype as DType] });
  if (!dimOk(m) || !dimOk(n) || !dimOk(k)) throw new ShapeError(`m, n, k must be non-negative integers, got ${m}, ${n}, ${k}`, { op });
  const batchA = spec.batchA ?? [];
  const batchB = spec.batchB ?? [];
  if (!batchA.every(dimOk) || !batchB.every(dimOk)) throw new ShapeError(`batch dims must be non-negative integers, got ${fmtShape(batchA)} and ${fmtShape(batchB)}`, { op });
  const bc = broadcastShapes(batchA, batchB);
  if (!bc) throw new ShapeError(`batch dims ${fmtShape(batchA)} and ${fmtShape(batchB)} do not broadcast`, { op, shapes: [batchA, batchB] });
  const batch = bc as number[];
  const act = resolveActivation(spec.activation);
  const operandDtype = spec.operandDtype ?? dtype;
  if (operandDtype !== 'float32' && operandDtype !== 'float64') throw new DTypeError(`the JS matmul kernel takes float32 or float64 operands, got ${String(operandDtype)}`, { op, dtypes: [operandDtype as DType] });
  const variant: Variant = {
    dtype,
    operandDtype,
    transposeA: !!spec.transposeA,
    transposeB: !!spec.transposeB,
    accumulate: !!spec.accumulate,
    bias: !!spec.bias,
    activation: act.code,
    activationKey: act.key,
  };
  const { fn: gemm, source } = gemmFor(variant);
  const scratch = spec.scratch ?? sharedScratch;
  const nb = sizeOf(batch);
  const aIdx = batchIndex(batchA, batch);
  const bIdx = batchIndex(batchB, batch);
  // A's batch folds into m when every batch element reads the same B and A's matrices are stacked rows
  const fold = nb > 1 && sizeOf(batchB) === 1 && !variant.transposeA && sizeOf(batchA) === nb;
  const scratchSize = matmulScratchFor(spec);
  const aSize = sizeOf(batchA) * m * k;
  const bSize = sizeOf(batchB) * k * n;
  const cSize = nb * m * n;
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const OpArr = operandDtype === 'float32' ? Float32Array : Float64Array;
  const want = operandDtype === dtype ? `${dtype} ${Arr.name}s` : `${OpArr.name}s (A, B) and a ${Arr.name} (C${variant.bias ? ', bias' : ''})`;
  const mk = m * k;
  const kn = k * n;
  const mn = m * n;

  const kernel = ((A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number, bias?: FloatArray, biasOff = 0): void => {
    if (!(A instanceof OpArr) || !(B instanceof OpArr) || !(C instanceof Arr) || (variant.bias && !(bias instanceof Arr))) {
      throw new DTypeError(`operands must be ${want}${variant.bias && operandDtype === dtype ? ' (bias included)' : ''}`, { op, dtypes: [dtype] });
    }
    if (aOff < 0 || bOff < 0 || cOff < 0 || aOff + aSize > A.length || bOff + bSize > B.length || cOff + cSize > C.length || (variant.bias && (biasOff < 0 || biasOff + n > bias!.length))) {
      throw new ShapeError(
        `arrays too short for ${fmtShape([...batchA, variant.transposeA ? k : m, variant.transposeA ? m : k])} @ ${fmtShape([...batchB, variant.transposeB ? n : k, variant.transposeB ? k : n])}: ` +
          `A has ${A.length - aOff} from offset ${aOff} (needs ${aSize}), B ${B.length - bOff} (needs ${bSize}), C ${C.length - cOff} (needs ${cSize})` +
          (variant.bias ? `, bias ${bias!.length - biasOff} (needs ${n})` : ''),
        { op },
      );
    }
    const S = scratch.ensure(scratchSize);
    const bv = variant.bias ? bias! : C; // an unused bias slot still gets an array of the same type (monomorphic calls)
    if (fold) gemm(nb * m, n, k, A, aOff, B, bOff, C, cOff, bv, biasOff, S);
    else for (let t = 0; t < nb; t++) gemm(m, n, k, A, aOff + aIdx[t] * mk, B, bOff + bIdx[t] * kn, C, cOff + t * mn, bv, biasOff, S);
  }) as MatmulKernel;
  return Object.assign(kernel, {
    spec,
    batch: Object.freeze([...batch]),
    flops: 2 * m * n * k,
    scratchSize,
    source,
  });
}
