/**
 * Fused elementwise loops for the wasm back end, generated from the same `ElementwiseSpec` /
 * `Expr` DAG as the JS back end's (backend/js/elementwise.ts): inputs broadcast to the iteration
 * shape, any number of outputs written contiguously, and an optional trailing reduction
 * (sum/mean/max/min over the last axis, over every axis but the last, or over everything).
 * float32, int32 and bool; float64 stays on the JS back end.
 *
 * API (what the executor calls):
 * - `emitElementwise(mb, spec)` adds the kernel to a module under construction and returns
 *   `{ func, scratchBytes, parallel, args }`: `func` is `(tid, nthreads, in0, …, out0, …,
 *   [reduced], scratch, sync) → ()` over byte pointers into the shared memory. `scratch`
 *   (`scratchBytes`, shared by the threads of one call) holds a reduction's partials; `sync` is
 *   16 bytes of this kernel's own (the counts of chunks claimed and done), zero when a call
 *   starts — the caller zeroes them after every call.
 * - `makeElementwise(spec)` compiles a module with just this kernel: `run(inputs, outputs,
 *   reduced?)` (tests, the micro-benchmark).
 *
 * How the loop is made:
 * - The loop nest is the JS back end's: size-1 dims dropped, contiguous dims merged; every input
 *   moves along the innermost loop with stride 1 or 0 (broadcast). The innermost loop runs on
 *   four lanes: stride-1 inputs are v128 loads, the others splats hoisted to the loop where they
 *   change, and every value is computed in the outermost loop where its inputs stop changing.
 *   The last n mod 4 elements of a row are the same vector code on lane-exact loads and stores.
 * - Values: float32 in f32x4, int32 in i32x4, bool as lane masks (all ones / zero; 0/1 bytes in
 *   memory). Math is vmath's; comparisons, select, casts as the primitives define them
 *   (`cast` to int32 truncates and wraps like `x | 0`, NaN → 0; to bool is x ≠ 0 and not NaN).
 * - Threads: the outermost loop (a 1-D loop is cut into blocks of 4096 elements first) is cut
 *   into fixed chunks, which the threads claim one at a time (an atomic counter). A reduction
 *   keeps one partial per chunk (float sums in float64), and the thread that finishes the last
 *   chunk adds the partials in chunk order — so the result is the same for any number of
 *   threads, and for whichever threads take part.
 */
import type { DType } from '../../dtype';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { fmtShape, sizeOf, stridesOf, type Shape } from '../../shape';
import { checkElementwiseSpec, children, loopNest, postOrder, type ElementwiseSpec, type Expr, type ReduceOp } from '../js/elementwise';
import type { FunctionBuilder, ModuleBuilder } from './encoder';
import { heap } from './memory';
import { kernelModuleBuilder, runParallel, threadCount, WasmModule } from './threads';
import { F32X4_UNARY_OPS, mathImportsOf, Vec, type V } from './vmath';

/** Elements per block of a 1-D loop, and at least this many elements per reduction chunk. */
export const ELEMENTWISE_BLOCK = 4096;
/** Elements per thread below which fewer threads take part. */
export const ELEMENTWISE_ELEMENTS_PER_THREAD = 16384;

const SUPPORTED: readonly DType[] = ['float32', 'int32', 'bool'];

const COMPARISONS = ['greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual'];
/**
 * The unary and binary ops a wasm loop has code for, by the dtype of their (first) operand — what
 * `unaryValue` and `binaryValue` below emit. `where`, `cast` (between float32, int32 and bool) and
 * the identities (stopGradient, broadcasts) work on all three dtypes.
 */
export const WASM_ELEMENTWISE_OPS: Readonly<{ unary: Readonly<Record<string, readonly string[]>>; binary: Readonly<Record<string, readonly string[]>> }> = Object.freeze({
  unary: Object.freeze({ float32: F32X4_UNARY_OPS, int32: Object.freeze(['neg', 'abs', 'sign']), bool: Object.freeze(['logicalNot']) }),
  binary: Object.freeze({
    float32: Object.freeze(['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', ...COMPARISONS]),
    int32: Object.freeze(['add', 'sub', 'mul', 'maximum', 'minimum', ...COMPARISONS]),
    bool: Object.freeze(['logicalAnd', 'logicalOr']),
  }),
});
const esize = (d: DType) => (d === 'bool' ? 1 : 4);

export interface EmittedElementwise {
  readonly func: number;
  readonly scratchBytes: number;
  readonly parallel: number;
  /** Pointer arguments after (tid, nthreads): inputs, outputs, [reduced], scratch. */
  readonly args: number;
}

interface Nest {
  /** Loop sizes, outermost first (at least one loop). */
  readonly sizes: number[];
  /** strides[k][l]: element stride of input k along loop l (0 where broadcast). */
  readonly strides: number[][];
  /** The innermost loop of a 1-D nest cut into blocks: its real length (the last block is shorter). */
  readonly blockedTotal?: number;
}

function checkSpec(spec: ElementwiseSpec): void {
  const op = 'elementwise';
  checkElementwiseSpec(spec, op);
  for (const e of postOrder([...spec.outputs, ...(spec.reduce ? [spec.reduce.expr] : [])])) {
    if (!SUPPORTED.includes(e.dtype)) throw new DTypeError(`the wasm back end runs float32, int32 and bool loops; this one has ${e.dtype} (the JS back end runs float64)`, { op, dtypes: [e.dtype] });
  }
  const r = spec.reduce;
  if (r && (r.expr.dtype === 'bool' || (r.op === 'mean' && r.expr.dtype === 'int32'))) throw new DTypeError(`${r.op} cannot reduce ${r.expr.dtype}`, { op, dtypes: [r.expr.dtype] });
}

/** The JS back end's loop nest (`loopNest`: size-1 dims dropped, contiguous dims merged), given an outer loop the threads split. */
function threadedNest(spec: ElementwiseSpec): Nest {
  const { sizes, strides } = loopNest(spec);
  const axes = spec.reduce?.axes;
  // every nest has an outer loop the threads split: a scalar is [1, 1]; a 1-D loop is cut into blocks
  if (sizes.length === 0) return { sizes: [1, 1], strides: strides.map(() => [0, 0]) };
  if (sizes.length === 1) {
    const n = sizes[0];
    if (axes === 'leading' || axes === 'last' || n <= ELEMENTWISE_BLOCK) return { sizes: [1, n], strides: strides.map((s) => [0, s[0]]) };
    return { sizes: [Math.ceil(n / ELEMENTWISE_BLOCK), ELEMENTWISE_BLOCK], strides: strides.map((s) => [s[0] * ELEMENTWISE_BLOCK, s[0]]), blockedTotal: n };
  }
  return { sizes, strides };
}

/** Bytes per partial of a reduction: float sums are float64, the rest 4-byte values in 8-byte slots. */
const PARTIAL = 8;
/** Partials start at the scratch's first byte. */
const COUNTER = 0;

/**
 * Adds the fused loop for `spec` to `mb`.
 * @example
 * const k = emitElementwise(mb, { shape: [1 << 20], inputs: [{ shape: [1 << 20], dtype: 'float32' }], outputs: [ew.unary('tanh', x)] });
 */
export function emitElementwise(mb: ModuleBuilder, spec: ElementwiseSpec): EmittedElementwise {
  checkSpec(spec);
  const nest = threadedNest(spec);
  const { sizes, strides } = nest;
  const depth = sizes.length;
  const inner = depth - 1;
  const nIn = spec.inputs.length;
  const nOut = spec.outputs.length;
  const red = spec.reduce;
  const total = sizeOf(spec.shape);
  const rank = spec.shape.length;
  const lastDim = rank ? spec.shape[rank - 1] : 1;
  // chunks: G iterations of the outer loop each, at least ELEMENTWISE_BLOCK elements
  const perOuter = sizeOf(sizes.slice(1));
  const G = Math.max(1, Math.ceil(ELEMENTWISE_BLOCK / Math.max(1, perOuter)));
  const nChunks = Math.ceil(sizes[0] / G);
  const parallel = Math.max(1, Math.min(nChunks, Math.floor(total / ELEMENTWISE_ELEMENTS_PER_THREAD)));
  const redDtype = red?.expr.dtype;
  const floatSum = red && redDtype === 'float32' && (red.op === 'sum' || red.op === 'mean');
  const redCount = !red ? 0 : red.axes === 'last' ? lastDim : red.axes === 'leading' ? sizeOf(spec.shape.slice(0, -1)) : total;
  const scratchBytes = !red || red.axes === 'last' ? 0 : nChunks * PARTIAL * (red.axes === 'leading' ? lastDim : 1);
  const math = mathImportsOf(mb);

  // the loop level of every node: the innermost loop along which one of its inputs moves
  const inputLevel = strides.map((s) => {
    let l = -1;
    s.forEach((st, d) => {
      if (st !== 0) l = d;
    });
    return l;
  });
  const roots = [...spec.outputs, ...(red ? [red.expr] : [])];
  const nodes = postOrder(roots);
  const level = new Map<Expr, number>();
  for (const e of nodes) level.set(e, e.kind === 'input' ? inputLevel[e.slot] : e.kind === 'const' ? -1 : Math.max(-1, ...children(e).map((c) => level.get(c)!)));
  // a last-axis reduction reads its value in the innermost loop; so do outputs (stored per element)
  const byLevel = Array.from({ length: depth + 1 }, () => [] as Expr[]);
  for (const e of nodes) byLevel[level.get(e)! + 1].push(e);

  const nArgs = nIn + nOut + (red ? 1 : 0) + 1; // in…, out…, [reduced], scratch (sync not counted)
  if (total === 0) return { func: emitEmpty(mb, spec, nArgs + 1), scratchBytes: 0, parallel: 1, args: nArgs + 1 };

  // `chunk(c, in…, out…, [reduced], scratch)`: chunk c. A function of its own, called once per
  // chunk: V8 swaps in its optimized code between calls (wasm has no on-stack replacement), so a
  // long first run leaves the baseline tier after its first chunks instead of never.
  const chunk = mb.func(null, new Array(nArgs + 1).fill('i32'), [], (f) => {
    const c = 0;
    const inArg = (k: number) => 1 + k;
    const outArg = (j: number) => 1 + nIn + j;
    const RED = 1 + nIn + nOut;
    const SCRATCH = 1 + nIn + nOut + (red ? 1 : 0);
    const L = () => f.local('i32');
    const i0 = L();
    const i0End = L();
    const q = L(); // elements written so far (the outputs' position)
    const rp = L(); // last-axis reduction: rows done
    const idx = sizes.map(() => L());
    // ptr[k][l]: byte pointer of input k in the loop at level l
    const ptr = spec.inputs.map(() => sizes.map(() => L()));
    const count = L(); // innermost loop: elements left
    const prow = L(); // leading reduction: this chunk's partial row
    const col = L();
    const addr = L();

    /** Emits the nodes of loop level `lvl` into a copy of `outer` (lanes: the innermost loop's vector width). */
    const scope = (outer: ReadonlyMap<Expr, V>, lvl: number, lanes = 4): Map<Expr, V> => {
      const values = new Map(outer);
      const vec = new Vec(f, math);
      for (const e of byLevel[lvl + 1]) values.set(e, emitNode(f, vec, e, values, lvl === inner ? lanes : 0, (k) => (lvl < 0 ? inArg(k) : ptr[k][lvl])));
      return values;
    };

    const invariant = scope(new Map(), -1);
    const acc = red && red.axes !== 'last' ? new Accumulator(f, red.op, redDtype!) : undefined;

    // one vector (lanes = 4) or the tail (lanes < 4) of the innermost loop
    const innerBody = (outer: ReadonlyMap<Expr, V>, lanes: number, rowAcc: Accumulator | undefined) => {
      const values = scope(outer, inner, lanes);
      spec.outputs.forEach((e, j) => {
        // out_j + q·size
        f.get(outArg(j)).get(q);
        if (esize(e.dtype) === 4) f.i32.const(2).i32.shl();
        f.i32.add().set(addr);
        storeValue(f, addr, values.get(e)!, e.dtype, lanes);
      });
      if (red) {
        const v = values.get(red.expr)!;
        if (red.axes === 'last') rowAcc!.add(v, lanes);
        else if (red.axes === 'all') acc!.add(v, lanes);
        else {
          // leading: the innermost loop is one row, so the column is q mod lastDim
          f.get(q).i32.const(lastDim).i32.rem_u().set(col);
          acc!.addToRow(v, lanes, prow, col);
        }
      }
      f.get(q).i32.const(lanes).i32.add().set(q);
      for (let k = 0; k < nIn; k++) if (inputLevel[k] === inner) f.get(ptr[k][inner]).i32.const(lanes * esize(spec.inputs[k].dtype)).i32.add().set(ptr[k][inner]);
    };

    // the innermost loop: full vectors, then the n mod 4 tail on lane-exact loads and stores
    const innerLoop = (outer: ReadonlyMap<Expr, V>) => {
      const n = sizes[inner];
      if (nest.blockedTotal !== undefined) {
        // this block's length: min(BLOCK, total − idx0·BLOCK)
        f.i32.const(nest.blockedTotal).get(idx[0]).i32.const(n).i32.mul().i32.sub().set(count);
        f.get(count).i32.const(n).get(count).i32.const(n).i32.lt_s().select().set(count);
      } else f.i32.const(n).set(count);
      const rowAcc = red?.axes === 'last' ? new Accumulator(f, red.op, redDtype!) : undefined;
      rowAcc?.reset();
      const tail = (nest.blockedTotal ?? n) % 4;
      f.block((exit) => {
        f.get(count).i32.const(4).i32.lt_s().br_if(exit);
        f.loop((top) => {
          innerBody(outer, 4, rowAcc);
          f.get(count).i32.const(4).i32.sub().tee(count);
          f.i32.const(4).i32.ge_s().br_if(top);
        });
      });
      if (tail) {
        f.get(count);
        f.if(() => innerBody(outer, tail, rowAcc));
      }
      if (rowAcc) {
        // red[rp] = the row's result
        f.get(RED).get(rp).i32.const(2).i32.shl().i32.add();
        rowAcc.pushFinal(red!.op === 'mean' ? redCount : 0);
        if (redDtype === 'float32') f.f32.store();
        else f.i32.store();
        f.get(rp).i32.const(1).i32.add().set(rp);
      }
    };

    // the loop at level l < inner, over idx[l]; the pointers of level l + 1 start where level l stands
    const loop = (l: number, outer: ReadonlyMap<Expr, V>): void => {
      const body = () => {
        const values = scope(outer, l);
        for (let k = 0; k < nIn; k++) if (inputLevel[k] > l) f.get(ptr[k][l]).set(ptr[k][l + 1]);
        if (l + 1 < inner) loop(l + 1, values);
        else innerLoop(values);
        for (let k = 0; k < nIn; k++) if (inputLevel[k] >= l && strides[k][l] !== 0) f.get(ptr[k][l]).i32.const(strides[k][l] * esize(spec.inputs[k].dtype)).i32.add().set(ptr[k][l]);
      };
      if (l === 0) f.forRange(idx[0], { local: i0 }, { local: i0End }, 1, body);
      else f.forRange(idx[l], 0, sizes[l], 1, body);
    };

    f.get(c).i32.const(G).i32.mul().set(i0);
    f.get(i0).i32.const(G).i32.add().set(i0End);
    f.get(i0End).i32.const(sizes[0]).get(i0End).i32.const(sizes[0]).i32.lt_s().select().set(i0End);
    // where this chunk starts: outputs at element i0·perOuter, rows of a last-axis reduction likewise
    f.get(i0).i32.const(perOuter).i32.mul().set(q);
    if (red?.axes === 'last') f.get(i0).i32.const(perOuter / lastDim).i32.mul().set(rp);
    for (let k = 0; k < nIn; k++) if (inputLevel[k] >= 0) f.get(inArg(k)).get(i0).i32.const(strides[k][0] * esize(spec.inputs[k].dtype)).i32.mul().i32.add().set(ptr[k][0]);
    if (red?.axes === 'all') acc!.reset();
    if (red?.axes === 'leading') {
      f.get(SCRATCH).i32.const(COUNTER).i32.add().get(c).i32.const(lastDim * PARTIAL).i32.mul().i32.add().set(prow);
      emitFillPartialRow(f, prow, lastDim, red.op, redDtype!);
    }
    loop(0, invariant);
    if (red?.axes === 'all') {
      // partial[c]
      f.get(SCRATCH).i32.const(COUNTER).i32.add().get(c).i32.const(PARTIAL).i32.mul().i32.add();
      acc!.pushChunk();
      if (floatSum) f.f64.store();
      else if (redDtype === 'float32') f.f32.store();
      else f.i32.store();
    }
  });

  const func = mb.func(null, ['i32', 'i32', ...new Array(nArgs + 1).fill('i32')], [], (f) => {
    const [TID, NT] = [0, 1];
    const RED = 2 + nIn + nOut;
    const SCRATCH = 2 + nIn + nOut + (red ? 1 : 0);
    const SYNC = SCRATCH + 1;
    const use = f.local('i32');
    const c = f.local('i32');
    // threads beyond `parallel` sit out; the others claim chunks one at a time (sync word 0)
    f.get(NT).i32.const(parallel).get(NT).i32.const(parallel).i32.lt_s().select().set(use);
    f.get(TID).get(use).i32.ge_s().if(() => void f.return());
    f.block((claimed) => {
      f.loop((next) => {
        f.get(SYNC).i32.const(1).i32_atomic.rmw_add().tee(c).i32.const(nChunks).i32.ge_u().br_if(claimed);
        f.get(c);
        for (let k = 2; k <= SCRATCH; k++) f.get(k);
        f.call(chunk);
        // whoever finishes the last chunk adds the partials, in chunk order
        if (red && red.axes !== 'last') {
          f.get(SYNC).i32.const(1).i32_atomic.rmw_add(4).i32.const(nChunks - 1).i32.eq();
          f.if(() => emitCombine(f, red.op, redDtype!, red.axes === 'all' ? 1 : lastDim, nChunks, SCRATCH, RED, red.op === 'mean' ? redCount : 0));
        }
        f.br(next);
      });
    });
  });
  return { func, scratchBytes, parallel, args: nArgs + 1 };
}

/** An empty iteration space: no output elements; a reduction gives its empty value (sum 0, mean NaN, max −∞, min +∞). */
function emitEmpty(mb: ModuleBuilder, spec: ElementwiseSpec, nArgs: number): number {
  return mb.func(null, ['i32', 'i32', ...new Array(nArgs).fill('i32')], [], (f) => {
    const red = spec.reduce;
    if (!red) return;
    const rank = spec.shape.length;
    const width = red.axes === 'all' ? 1 : red.axes === 'last' ? sizeOf(spec.shape.slice(0, -1)) : spec.shape[rank - 1];
    const RED = 2 + spec.inputs.length + spec.outputs.length;
    const value = red.op === 'sum' ? 0 : red.op === 'mean' ? NaN : red.op === 'max' ? -Infinity : Infinity;
    const j = f.local('i32');
    f.get(0).if(() => void f.return());
    f.forRange(j, 0, width, 1, () => {
      f.get(RED).get(j).i32.const(2).i32.shl().i32.add();
      if (red.expr.dtype === 'float32') f.f32.const(value).f32.store();
      else f.i32.const(red.op === 'max' ? -0x80000000 : red.op === 'min' ? 0x7fffffff : 0).i32.store();
    });
  });
}

// ---- values ---------------------------------------------------------------------------------------

/**
 * Emits node `e` into a new local. An input is read through `pointer(slot)`: a vector of `lanes`
 * lanes (4, or 1–3 in the tail) when it moves along the innermost loop, else (`lanes` 0) one
 * element splat to all lanes.
 */
function emitNode(f: FunctionBuilder, v: Vec, e: Expr, values: ReadonlyMap<Expr, V>, lanes: number, pointer: (slot: number) => number): V {
  const arg = (x: Expr) => {
    const r = values.get(x);
    if (r === undefined) throw new GraphError('internal: an elementwise value was used before it was computed', { op: 'elementwise' });
    return r;
  };
  switch (e.kind) {
    case 'const':
      return constant(v, e.value, e.dtype);
    case 'input':
      return loadValue(f, pointer(e.slot), e.dtype, lanes);
    case 'unary':
      return unaryValue(v, e.op, arg(e.x), e.dtype);
    case 'binary':
      return binaryValue(v, e.op, arg(e.a), arg(e.b), e.dtype, e.a.dtype, e.b);
    case 'select':
      return v.select(arg(e.cond), arg(e.a), arg(e.b));
    case 'cast':
      return castValue(v, arg(e.x), e.x.dtype, e.dtype);
  }
}

function constant(v: Vec, value: number, dtype: DType): V {
  if (dtype === 'float32') return v.c(value);
  if (dtype === 'int32') return v.ci(value | 0);
  return v.ci(value ? -1 : 0);
}

/** Loads a value: `lanes` 4 = a vector, 1–3 = the first lanes (others 0), 0 = one element splat. */
function loadValue(f: FunctionBuilder, p: number, dtype: DType, lanes: number): V {
  const out = f.local('v128');
  f.get(p);
  if (dtype === 'bool') {
    if (lanes === 0) f.v128.load8_splat();
    else if (lanes === 4) f.v128.load32_zero();
    else {
      // the first `lanes` bytes (the others repeat byte 0 and are cleared below)
      f.v128.load8_splat();
      f.set(out);
      for (let l = 1; l < lanes; l++) f.get(p).get(out).v128.load8_lane(l, l).set(out);
      f.get(out);
    }
    f.set(out);
    // bytes 0/1 → i32 lanes 0/1 → masks 0/−1
    f.get(out).i16x8.extend_low_i8x16_u().i32x4.extend_low_i16x8_u().i32x4.neg();
    if (lanes > 0 && lanes < 4) {
      // lanes past the tail may hold a splatted byte: clear them
      f.v128.constI32([0, 1, 2, 3].map((i) => (i < lanes ? -1 : 0))).v128.and();
    }
    f.set(out);
    return out;
  }
  if (lanes === 0) f.v128.load32_splat();
  else if (lanes === 4) f.v128.load(0, 2);
  else if (lanes === 1) f.v128.load32_zero();
  else {
    f.v128.load64_zero();
    if (lanes === 3) {
      f.set(out);
      f.get(p).get(out).v128.load32_lane(2, 8);
    }
  }
  f.set(out);
  return out;
}

/** Stores the first `lanes` lanes of `v` (a value of `dtype`) at the byte address in local `addr`. */
function storeValue(f: FunctionBuilder, addr: number, v: V, dtype: DType, lanes: number): void {
  if (dtype === 'bool') {
    // masks → 0/1 → bytes
    const b = f.local('v128');
    f.get(v).i32x4.neg().set(b);
    f.get(b).get(b).i16x8.narrow_i32x4_u().set(b);
    f.get(b).get(b).i8x16.narrow_i16x8_u().set(b);
    if (lanes === 4) f.get(addr).get(b).v128.store32_lane(0);
    else for (let l = 0; l < lanes; l++) f.get(addr).get(b).v128.store8_lane(l, l);
    return;
  }
  if (lanes === 4) f.get(addr).get(v).v128.store(0, 2);
  else if (lanes === 1) f.get(addr).get(v).v128.store32_lane(0);
  else {
    f.get(addr).get(v).v128.store64_lane(0);
    if (lanes === 3) f.get(addr).get(v).v128.store32_lane(2, 8);
  }
}

function unaryValue(v: Vec, op: string, x: V, dtype: DType): V {
  const f = v.f;
  if (dtype === 'bool') {
    if (op === 'logicalNot') {
      f.get(x).v128.not();
      const t = f.local('v128');
      f.set(t);
      return t;
    }
  } else if (dtype === 'int32') {
    const i = (g: () => unknown) => {
      f.get(x);
      g();
      const t = f.local('v128');
      f.set(t);
      return t;
    };
    if (op === 'neg') return i(() => f.i32x4.neg());
    if (op === 'abs') return i(() => f.i32x4.abs());
    if (op === 'sign') {
      // (x < 0 mask) − (x > 0 mask): −1, 0 or 1
      const zero = v.ci(0);
      f.get(x).get(zero).i32x4.lt_s();
      f.get(x).get(zero).i32x4.gt_s();
      f.i32x4.sub();
      const t = f.local('v128');
      f.set(t);
      return t;
    }
  } else return v.unary(op, x);
  throw new DTypeError(`no wasm code for ${op} on ${dtype}`, { op, dtypes: [dtype] });
}

const F32_CMP: Record<string, (v: Vec, a: V, b: V) => V> = {
  greater: (v, a, b) => v.gt(a, b),
  greaterEqual: (v, a, b) => v.ge(a, b),
  less: (v, a, b) => v.lt(a, b),
  lessEqual: (v, a, b) => v.le(a, b),
  equal: (v, a, b) => v.eq(a, b),
  notEqual: (v, a, b) => v.ne(a, b),
};

function binaryValue(v: Vec, op: string, a: V, b: V, dtype: DType, argDtype: DType, bExpr: Expr): V {
  const f = v.f;
  const raw = (g: () => unknown) => {
    f.get(a).get(b);
    g();
    const t = f.local('v128');
    f.set(t);
    return t;
  };
  if (argDtype === 'float32') {
    switch (op) {
      case 'add':
        return v.add(a, b);
      case 'sub':
        return v.sub(a, b);
      case 'mul':
        return v.mul(a, b);
      case 'div':
        return v.div(a, b);
      case 'maximum':
        return v.max(a, b);
      case 'minimum':
        return v.min(a, b);
      case 'pow':
        // constant exponents with an exact vector form; everything else by Math.pow
        if (bExpr.kind === 'const') {
          if (bExpr.value === 1) return a;
          if (bExpr.value === 2) return v.mul(a, a);
          if (bExpr.value === -1) return v.div(v.c(1), a);
        }
        return v.pow(a, b);
    }
    if (F32_CMP[op]) return F32_CMP[op](v, a, b);
  } else if (argDtype === 'int32') {
    switch (op) {
      case 'add':
        return raw(() => f.i32x4.add());
      case 'sub':
        return raw(() => f.i32x4.sub());
      case 'mul':
        return raw(() => f.i32x4.mul());
      case 'maximum':
        return raw(() => f.i32x4.max_s());
      case 'minimum':
        return raw(() => f.i32x4.min_s());
      case 'greater':
        return raw(() => f.i32x4.gt_s());
      case 'greaterEqual':
        return raw(() => f.i32x4.ge_s());
      case 'less':
        return raw(() => f.i32x4.lt_s());
      case 'lessEqual':
        return raw(() => f.i32x4.le_s());
      case 'equal':
        return raw(() => f.i32x4.eq());
      case 'notEqual':
        return raw(() => f.i32x4.ne());
    }
  } else if (argDtype === 'bool') {
    if (op === 'logicalAnd') return raw(() => f.v128.and());
    if (op === 'logicalOr') return raw(() => f.v128.or());
  }
  throw new DTypeError(`no wasm code for ${op} on ${argDtype}`, { op, dtypes: [argDtype, dtype] });
}

/** `cast` as the primitive defines it (dtype.ts `coerce`): float → int32 truncates and wraps like `x | 0`. */
function castValue(v: Vec, x: V, from: DType, to: DType): V {
  if (from === to) return x;
  const f = v.f;
  if (to === 'bool') {
    if (from === 'float32') return v.or(v.lt(x, v.c(0)), v.gt(x, v.c(0))); // NaN and ±0 → false
    f.get(x).v128.constI32(0).i32x4.ne();
    const t = f.local('v128');
    f.set(t);
    return t;
  }
  if (from === 'bool') return v.and(x, to === 'float32' ? v.c(1) : v.ci(1));
  if (to === 'float32') return v.toFloat(x); // int32 → float32, rounded to nearest
  // float32 → int32: |x| < 2³¹ truncates; larger finite x (integers) wrap modulo 2³²; ±∞ and NaN → 0
  const two32 = v.c(4294967296);
  const wrapped = v.sub(x, v.mul(v.floor(v.mul(x, v.c(1 / 4294967296))), two32)); // in [0, 2³²)
  const centered = v.select(v.ge(wrapped, v.c(2147483648)), v.sub(wrapped, two32), wrapped);
  const big = v.ge(v.abs(x), v.c(2147483648));
  return v.toInt(v.select(big, centered, x));
}

// ---- reductions -----------------------------------------------------------------------------------

/** One accumulator of a reduction over v128 values: float sums in two f64x2, the rest in one v128. */
class Accumulator {
  private readonly a: number;
  private readonly b: number;
  private readonly float: boolean;
  private readonly floatSum: boolean;

  constructor(
    private readonly f: FunctionBuilder,
    private readonly op: ReduceOp,
    dtype: DType,
  ) {
    this.float = dtype === 'float32';
    this.floatSum = this.float && (op === 'sum' || op === 'mean');
    this.a = f.local('v128');
    this.b = f.local('v128');
  }

  /** The identity of the reduction, as f32/i32 lanes. */
  private identity(): void {
    const f = this.f;
    if (this.op === 'sum' || this.op === 'mean') f.v128.constI32(0);
    else if (this.float) f.v128.constF32(this.op === 'max' ? -Infinity : Infinity);
    else f.v128.constI32(this.op === 'max' ? -0x80000000 : 0x7fffffff);
  }

  reset(): void {
    this.f.v128.constI32(0).set(this.a);
    if (this.floatSum) this.f.v128.constI32(0).set(this.b);
    else {
      this.identity();
      this.f.set(this.a);
    }
  }

  /** The lanes past `lanes` replaced by the identity. */
  private masked(v: V, lanes: number): V {
    if (lanes === 4) return v;
    const f = this.f;
    const t = f.local('v128');
    f.get(v);
    this.identity();
    f.v128.constI32([0, 1, 2, 3].map((i) => (i < lanes ? -1 : 0))).v128.bitselect().set(t);
    return t;
  }

  /** Pushes the combining op for two values of this accumulator's lane type. */
  private combine(): void {
    const f = this.f;
    if (this.float) {
      if (this.op === 'max') f.f32x4.max();
      else if (this.op === 'min') f.f32x4.min();
      else f.f32x4.add();
    } else if (this.op === 'max') f.i32x4.max_s();
    else if (this.op === 'min') f.i32x4.min_s();
    else f.i32x4.add();
  }

  add(v: V, lanes: number): void {
    const f = this.f;
    const x = this.masked(v, lanes);
    if (this.floatSum) {
      f.get(this.a).get(x).f64x2.promote_low_f32x4().f64x2.add().set(this.a);
      f.get(this.b).get(x).get(x).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2.promote_low_f32x4().f64x2.add().set(this.b);
    } else {
      f.get(this.a).get(x);
      this.combine();
      f.set(this.a);
    }
  }

  /** Pushes the four lanes combined in a fixed order, ((l0 ∘ l1) ∘ (l2 ∘ l3)): f64 for float sums, else f32/i32. */
  pushChunk(): void {
    const f = this.f;
    if (this.floatSum) {
      f.get(this.a).f64x2.extract_lane(0).get(this.a).f64x2.extract_lane(1).f64.add();
      f.get(this.b).f64x2.extract_lane(0).get(this.b).f64x2.extract_lane(1).f64.add();
      f.f64.add();
      return;
    }
    // lanes (0,1) ∘ (2,3) as vectors, then lane 0 ∘ lane 1
    const t = f.local('v128');
    f.get(this.a).get(this.a).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
    f.set(t);
    f.get(this.a).get(t);
    this.combine();
    f.set(t);
    f.get(t).get(t).i8x16.shuffle([4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7]);
    const u = f.local('v128');
    f.set(u);
    f.get(t).get(u);
    this.combine();
    if (this.float) f.f32x4.extract_lane(0);
    else f.i32x4.extract_lane(0);
  }

  /** Pushes the final value of a row (last-axis reduction): float32 or int32; mean divides by `count`. */
  pushFinal(count: number): void {
    this.pushChunk();
    if (this.floatSum) {
      if (count) this.f.f64.const(count).f64.div();
      this.f.f32.demote_f64();
    }
  }

  /** Leading-axes reduction: adds the `lanes` values of v into the partial row at columns col, col+1, … */
  addToRow(v: V, lanes: number, prow: number, col: number): void {
    const f = this.f;
    for (let l = 0; l < lanes; l++) {
      // address of column (col + l) mod lastDim is handled by the caller keeping rows whole: col + l < lastDim
      const at = f.local('i32');
      f.get(prow).get(col).i32.const(l).i32.add().i32.const(PARTIAL).i32.mul().i32.add().set(at);
      f.get(at);
      if (this.floatSum) {
        f.get(at).f64.load().get(v).f32x4.extract_lane(l).f64.promote_f32().f64.add().f64.store();
      } else if (this.float) {
        f.get(at).f32.load().f32x4.splat().get(v).f32x4.extract_lane(l).f32x4.splat();
        this.combine();
        f.f32x4.extract_lane(0).f32.store();
      } else {
        f.get(at).i32.load().i32x4.splat().get(v).i32x4.extract_lane(l).i32x4.splat();
        this.combine();
        f.i32x4.extract_lane(0).i32.store();
      }
    }
  }
}

/** Sets the partial row at `prow` (lastDim slots) to the reduction's identity. */
function emitFillPartialRow(f: FunctionBuilder, prow: number, lastDim: number, op: ReduceOp, dtype: DType): void {
  const j = f.local('i32');
  f.forRange(j, 0, lastDim, 1, () => {
    f.get(prow).get(j).i32.const(PARTIAL).i32.mul().i32.add();
    if (op === 'sum' || op === 'mean') {
      if (dtype === 'float32') f.f64.const(0).f64.store();
      else f.i32.const(0).i32.store();
    } else if (dtype === 'float32') f.f32.const(op === 'max' ? -Infinity : Infinity).f32.store();
    else f.i32.const(op === 'max' ? -0x80000000 : 0x7fffffff).i32.store();
  });
}

/** red[j] = partials[0][j] ∘ partials[1][j] ∘ … in chunk order, for j < width. */
function emitCombine(f: FunctionBuilder, op: ReduceOp, dtype: DType, width: number, nChunks: number, scratch: number, redPtr: number, meanCount: number): void {
  const j = f.local('i32');
  const c = f.local('i32');
  const at = f.local('i32');
  const floatSum = dtype === 'float32' && (op === 'sum' || op === 'mean');
  const accF64 = f.local('f64');
  const accF32 = f.local('f32');
  const accI32 = f.local('i32');
  f.forRange(j, 0, width, 1, () => {
    // partial c of column j: scratch + COUNTER + (c·width + j)·PARTIAL
    if (floatSum) f.f64.const(0).set(accF64);
    else if (dtype === 'float32') f.f32.const(op === 'max' ? -Infinity : Infinity).set(accF32);
    else f.i32.const(op === 'max' ? -0x80000000 : op === 'min' ? 0x7fffffff : 0).set(accI32);
    f.forRange(c, 0, nChunks, 1, () => {
      f.get(scratch).i32.const(COUNTER).i32.add().get(c).i32.const(width).i32.mul().get(j).i32.add().i32.const(PARTIAL).i32.mul().i32.add().set(at);
      if (floatSum) f.get(accF64).get(at).f64.load().f64.add().set(accF64);
      else if (dtype === 'float32') {
        // Math.max/Math.min semantics: NaN wins, +0 > −0
        f.get(accF32).f32x4.splat().get(at).f32.load().f32x4.splat();
        if (op === 'max') f.f32x4.max();
        else f.f32x4.min();
        f.f32x4.extract_lane(0).set(accF32);
      } else if (op === 'sum') f.get(accI32).get(at).i32.load().i32.add().set(accI32);
      else {
        // select(acc, v, acc > v) for max, acc < v for min
        const t = f.local('i32');
        f.get(at).i32.load().set(t);
        f.get(accI32).get(t).get(accI32).get(t);
        if (op === 'max') f.i32.gt_s();
        else f.i32.lt_s();
        f.select().set(accI32);
      }
    });
    f.get(redPtr).get(j).i32.const(4).i32.mul().i32.add();
    if (floatSum) {
      f.get(accF64);
      if (meanCount) f.f64.const(meanCount).f64.div();
      f.f32.demote_f64().f32.store();
    } else if (dtype === 'float32') f.get(accF32).f32.store();
    else f.get(accI32).i32.store();
  });
}

// ---- a standalone kernel ----------------------------------------------------------------------------

export interface WasmElementwise {
  /** Runs on the pool: byte pointers of the inputs, the outputs and the reduction's result. */
  run(inputs: readonly number[], outputs: readonly number[], reduced?: number, nthreads?: number): void;
  readonly spec: ElementwiseSpec;
  readonly parallel: number;
  dispose(): void;
}

/**
 * Compiles `spec` into a module of its own (tests, benchmarks).
 * @example const k = makeElementwise(spec); k.run([xPtr], [yPtr], sumPtr);
 */
export function makeElementwise(spec: ElementwiseSpec): WasmElementwise {
  const h = heap();
  const mb = kernelModuleBuilder(h);
  const k = emitElementwise(mb, spec);
  mb.exportFunction('ew', k.func);
  const mod = new WasmModule(mb.compile(), ['ew'], h);
  let scratch = h.alloc(Math.max(16, k.scratchBytes) + 16);
  h.u8.fill(0, scratch, scratch + Math.max(16, k.scratchBytes) + 16);
  const sync = scratch + Math.max(16, k.scratchBytes);
  const nIn = spec.inputs.length;
  const nOut = spec.outputs.length;
  return {
    spec,
    parallel: k.parallel,
    run(inputs, outputs, reduced, nthreads = threadCount()) {
      if (scratch === 0) throw new GraphError('this kernel was disposed', { op: 'elementwise' });
      if (inputs.length !== nIn || outputs.length !== nOut || (reduced === undefined) !== !spec.reduce) {
        throw new GraphError(`kernel takes ${nIn} input(s), ${nOut} output(s)${spec.reduce ? ' and a reduction' : ''}`, { op: 'elementwise' });
      }
      runParallel(mod, 'ew', Math.min(nthreads, k.parallel), [...inputs, ...outputs, ...(spec.reduce ? [reduced!] : []), scratch, sync]);
      h.i32.fill(0, sync / 4, sync / 4 + 4);
    },
    dispose() {
      if (scratch) h.free(scratch);
      scratch = 0;
    },
  };
}
