/**
 * Row kernels of the wasm back end: softmax, logSoftmax, logsumexp and softmax cross-entropy over
 * the last axis of a float32 [rows, cols] block, as the JS back end's (backend/js/rows.ts) and
 * the reference kernels define them, on four lanes.
 *
 * API (what the executor calls):
 * - `emitRowKernel(mb, spec)` adds the kernel to a module and returns `{ func, parallel }`:
 *   `func` is `(tid, nthreads, x, out, t, sync) → ()` over byte pointers; `t` is the target
 *   distribution of softmaxCrossEntropy (ignored by the others); `sync` is 16 bytes of the
 *   kernel's own, zero when a call starts (the caller zeroes them after every call). Threads claim fixed groups of rows one at a time; each row is computed by one
 *   thread, so results don't depend on the thread count.
 * - `makeRowKernel(spec)`: a module with just this kernel (tests, the micro-benchmark).
 *
 * Per row: the max m (softmax and the cross-entropy skip NaN as `x > m` does; logsumexp lets NaN
 * win as `Math.max` does), then s = Σ e^(x − m) accumulated in float64, then the result:
 * softmax e^(x − m)/s, logSoftmax x − m − log s, logsumexp m + log s (m itself when m = ±∞),
 * cross-entropy Σ t·(m − x + log s) over the t ≠ 0.
 */
import { DTypeError, GraphError, ShapeError } from '../../errors';
import type { RowOp, RowSpec } from '../js/rows';
import type { FunctionBuilder, ModuleBuilder } from './encoder';
import { heap } from './memory';
import { kernelModuleBuilder, runParallel, threadCount, WasmModule } from './threads';
import { mathImportsOf, Vec, type V } from './vmath';

export type WasmRowSpec = Omit<RowSpec, 'dtype'> & { readonly dtype?: 'float32' };

/** Elements per thread below which fewer threads take part. */
const ROW_ELEMENTS_PER_THREAD = 16384;

function checkSpec(spec: WasmRowSpec): void {
  const { op, rows, cols } = spec ?? ({} as WasmRowSpec);
  if (!['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy'].includes(op)) {
    throw new GraphError(`unknown row kernel "${String(op)}" (softmax, logSoftmax, logsumexp, softmaxCrossEntropy)`, { op: 'rows' });
  }
  if (spec.dtype !== undefined && spec.dtype !== 'float32') throw new DTypeError(`the wasm ${op} is float32 only, got ${String(spec.dtype)}`, { op, dtypes: [spec.dtype] });
  if (![rows, cols].every((d) => Number.isInteger(d) && d >= 0)) throw new ShapeError(`rows and cols must be non-negative integers, got ${rows} and ${cols}`, { op });
}

/** Pushes a v128 of f32 lanes [0, lanes) from `p + off` (others 0). */
function load(f: FunctionBuilder, p: number, off: number, lanes: number): void {
  f.get(p);
  if (lanes === 4) f.v128.load(off, 2);
  else if (lanes === 1) f.v128.load32_zero(off);
  else {
    f.v128.load64_zero(off);
    if (lanes === 3) {
      const t = f.local('v128');
      f.set(t);
      f.get(p).get(t).v128.load32_lane(2, off + 8);
    }
  }
}

function store(f: FunctionBuilder, p: number, v: V, lanes: number): void {
  f.get(p).get(v);
  if (lanes === 4) f.v128.store(0, 2);
  else if (lanes === 1) f.v128.store32_lane(0);
  else {
    f.v128.store64_lane(0);
    if (lanes === 3) f.get(p).get(v).v128.store32_lane(2, 8);
  }
}

/**
 * Adds the row kernel to `mb`.
 * @example const k = emitRowKernel(mb, { op: 'softmax', rows: 128, cols: 10 });
 */
export function emitRowKernel(mb: ModuleBuilder, spec: WasmRowSpec): { func: number; parallel: number } {
  checkSpec(spec);
  const { op, rows, cols } = spec;
  const math = mathImportsOf(mb);
  // groups of rows of at least 4096 elements, claimed one at a time
  const group = Math.max(1, Math.ceil(4096 / Math.max(1, cols)));
  const groups = Math.ceil(rows / group);
  const parallel = Math.max(1, Math.min(groups, Math.floor((rows * cols) / ROW_ELEMENTS_PER_THREAD)));
  const tail = cols % 4;
  const full = cols - tail;
  const laneMask = [0, 1, 2, 3].map((i) => (i < tail ? -1 : 0));
  // `rowsOf(r, rEnd, x, out, t)`: rows [r, rEnd). A function of its own, called per group of rows,
  // so that a long first run switches to V8's optimized code between groups
  const rowsOf = mb.func(null, ['i32', 'i32', 'i32', 'i32', 'i32'], [], (f) => {
    const [r, rEnd, X, OUT, T] = [0, 1, 2, 3, 4];
    const xp = f.local('i32');
    const tp = f.local('i32');
    const op_ = f.local('i32');
    const j = f.local('i32');
    const m = f.local('v128');
    const mv = f.local('v128');
    const s = f.local('f64');
    const sLo = f.local('v128');
    const sHi = f.local('v128');
    const ls = f.local('v128');
    const x = f.local('v128');
    const skipNaN = op !== 'logsumexp';

    /** Runs `body(lanes)` over the row's columns at xp (and tp): full vectors, then the tail. */
    const overRow = (body: (lanes: number) => void) => {
      f.get(X).get(r).i32.const(cols * 4).i32.mul().i32.add().set(xp);
      f.get(T).get(r).i32.const(cols * 4).i32.mul().i32.add().set(tp);
      f.get(OUT).get(r).i32.const((op === 'softmax' || op === 'logSoftmax' ? cols : 1) * 4).i32.mul().i32.add().set(op_);
      if (full) {
        f.forRange(j, 0, full, 4, () => {
          body(4);
          for (const p of [xp, tp, op_]) if (p !== op_ || op === 'softmax' || op === 'logSoftmax') f.get(p).i32.const(16).i32.add().set(p);
        });
      }
      if (tail) body(tail);
    };

    f.block((exit) => {
      f.get(r).get(rEnd).i32.ge_s().br_if(exit);
      f.loop((next) => {
        const v = new Vec(f, math);
        // pass 1: the max (lanes past the tail are −∞)
        f.v128.constF32(-Infinity).set(m);
        overRow((lanes) => {
          load(f, xp, 0, lanes);
          f.set(x);
          if (lanes < 4) f.get(x).v128.constF32(-Infinity).v128.constI32(laneMask).v128.bitselect().set(x);
          // x > m ? x : m skips NaN (pmax(m, x)); Math.max lets it win (f32x4.max)
          f.get(m).get(x);
          if (skipNaN) f.f32x4.pmax();
          else f.f32x4.max();
          f.set(m);
        });
        // lanes of m combined: max(max(m0, m1), max(m2, m3)), in the same NaN rule
        const comb = () => (skipNaN ? f.f32x4.pmax() : f.f32x4.max());
        f.get(m).get(m).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).set(mv);
        f.get(m).get(mv);
        comb();
        f.set(m);
        f.get(m).get(m).i8x16.shuffle([4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7]).set(mv);
        f.get(m).get(mv);
        comb();
        f.f32x4.extract_lane(0).f32x4.splat().set(m);
        // pass 2: s = Σ e^(x − m) in float64 (softmax keeps e^(x − m) in the output to scale in pass 3)
        f.v128.constI32(0).set(sLo);
        f.v128.constI32(0).set(sHi);
        overRow((lanes) => {
          load(f, xp, 0, lanes);
          f.set(x);
          let e = v.exp(v.sub(x, m));
          // the tail's missing lanes would add e^(0 − m)
          if (lanes < 4) e = masked(f, e, lanes);
          if (op === 'softmax') store(f, op_, e, lanes);
          f.get(sLo).get(e).f64x2.promote_low_f32x4().f64x2.add().set(sLo);
          f.get(sHi).get(e).get(e).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2.promote_low_f32x4().f64x2.add().set(sHi);
        });
        f.get(sLo).f64x2.extract_lane(0).get(sLo).f64x2.extract_lane(1).f64.add();
        f.get(sHi).f64x2.extract_lane(0).get(sHi).f64x2.extract_lane(1).f64.add();
        f.f64.add().set(s);
        // log s (as a vector), for the ops that need it
        f.get(s).f32.demote_f64().f32x4.splat().set(ls);
        if (op !== 'softmax') {
          const l = v.log(ls);
          f.get(l).set(ls);
        }
        if (op === 'softmax') {
          // pass 3: out = e / s
          const sv = sVec(f, s);
          overRow((lanes) => {
            load(f, op_, 0, lanes);
            f.set(x);
            store(f, op_, v.div(x, sv), lanes);
          });
        } else if (op === 'logSoftmax') {
          // pass 3: out = x − m − log s
          overRow((lanes) => {
            load(f, xp, 0, lanes);
            f.set(x);
            store(f, op_, v.sub(v.sub(x, m), ls), lanes);
          });
        } else if (op === 'logsumexp') {
          // m + log s, or m when m is ±∞ (a row of −∞, or one with +∞)
          const res = v.add(m, ls);
          const inf = v.eq(v.abs(m), v.c(Infinity));
          f.get(op_).get(v.select(inf, m, res)).f32x4.extract_lane(0).f32.store();
        } else {
          // Σ t·(m − x + log s) over t ≠ 0, in float64
          f.v128.constI32(0).set(sLo);
          f.v128.constI32(0).set(sHi);
          const ml = v.add(m, ls);
          overRow((lanes) => {
            load(f, xp, 0, lanes);
            f.set(x);
            const tv = f.local('v128');
            load(f, tp, 0, lanes);
            f.set(tv);
            let term = v.mul(tv, v.sub(ml, x));
            // a zero target adds nothing even where x = −∞ (0·∞)
            term = v.and(term, v.ne(tv, v.c(0)));
            f.get(sLo).get(term).f64x2.promote_low_f32x4().f64x2.add().set(sLo);
            f.get(sHi).get(term).get(term).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2.promote_low_f32x4().f64x2.add().set(sHi);
          });
          f.get(op_);
          f.get(sLo).f64x2.extract_lane(0).get(sLo).f64x2.extract_lane(1).f64.add();
          f.get(sHi).f64x2.extract_lane(0).get(sHi).f64x2.extract_lane(1).f64.add();
          f.f64.add().f32.demote_f64().f32.store();
        }
        f.get(r).i32.const(1).i32.add().tee(r);
        f.get(rEnd).i32.lt_s().br_if(next);
      });
    });
  });

  const func = mb.func(null, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (f) => {
    const [TID, NT, X, OUT, T, SYNC] = [0, 1, 2, 3, 4, 5];
    const use = f.local('i32');
    const g = f.local('i32');
    const r = f.local('i32');
    const rEnd = f.local('i32');
    f.get(NT).i32.const(parallel).get(NT).i32.const(parallel).i32.lt_s().select().set(use);
    f.get(TID).get(use).i32.ge_s().if(() => void f.return());
    f.block((claimed) => {
      f.loop((nextGroup) => {
        // claim a group of rows: [g·group, min(rows, (g + 1)·group))
        f.get(SYNC).i32.const(1).i32_atomic.rmw_add().tee(g).i32.const(groups).i32.ge_u().br_if(claimed);
        f.get(g).i32.const(group).i32.mul().set(r);
        f.get(r).i32.const(group).i32.add().set(rEnd);
        f.get(rEnd).i32.const(rows).get(rEnd).i32.const(rows).i32.lt_s().select().set(rEnd);
        f.get(r).get(rEnd).get(X).get(OUT).get(T).call(rowsOf);
        f.br(nextGroup);
      });
    });
  });
  return { func, parallel };
}

/** `e` with the lanes past `lanes` set to 0. */
function masked(f: FunctionBuilder, e: V, lanes: number): V {
  const t = f.local('v128');
  f.get(e).v128.constI32([0, 1, 2, 3].map((i) => (i < lanes ? -1 : 0))).v128.and().set(t);
  return t;
}

/** The float64 local `s` rounded to float32 in all lanes. */
function sVec(f: FunctionBuilder, s: number): V {
  const t = f.local('v128');
  f.get(s).f32.demote_f64().f32x4.splat().set(t);
  return t;
}

export interface WasmRowKernel {
  run(x: number, out: number, t?: number, nthreads?: number): void;
  readonly spec: WasmRowSpec;
  /** Elements written: rows·cols (softmax, logSoftmax) or rows. */
  readonly outSize: number;
}

/**
 * A row kernel in a module of its own (tests, benchmarks).
 * @example makeRowKernel({ op: 'logSoftmax', rows: 128, cols: 10 }).run(xPtr, outPtr);
 */
export function makeRowKernel(spec: WasmRowSpec): WasmRowKernel {
  const h = heap();
  const mb = kernelModuleBuilder(h);
  const k = emitRowKernel(mb, spec);
  mb.exportFunction('rows', k.func);
  const mod = new WasmModule(mb.compile(), ['rows'], h);
  const perRow = spec.op === 'softmax' || spec.op === 'logSoftmax';
  const sync = h.alloc(16);
  h.u8.fill(0, sync, sync + 16);
  return {
    spec,
    outSize: perRow ? spec.rows * spec.cols : spec.rows,
    run(x, out, t = 0, nthreads = threadCount()) {
      if (spec.op === 'softmaxCrossEntropy' && !t) throw new GraphError('softmaxCrossEntropy needs the target distribution', { op: spec.op });
      runParallel(mod, 'rows', Math.min(nthreads, k.parallel), [x, out, t, sync]);
      h.i32.fill(0, sync / 4, sync / 4 + 4);
    },
  };
}

export type { RowOp };
