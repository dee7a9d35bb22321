/**
 * Code generation for fused elementwise kernels: an expression DAG over input "slots", with
 * broadcasting strides fixed at specialization time, becomes one JavaScript function with a single
 * loop nest that reads the inputs once, writes any number of outputs and optionally folds one
 * expression into a trailing reduction (sum/mean/max/min over the last axis, over every axis but
 * the last, or over everything).
 *
 * The scalar math is the reference kernels' (`ops/elementwise.ts`): the same formulas, the same
 * helper functions for the stable sigmoid and softplus, and every intermediate rounded to its
 * dtype as the interpreter's typed-array stores round it. So a fused float64 kernel agrees with the
 * interpreter to the last bit in practice (at worst ~1e-16 relative), and float32 does too unless
 * `roundIntermediates: false` trades that for speed.
 */
// the registry first: ops/elementwise.ts is part of an import cycle that ops/index.ts enters cleanly
import '../../ops/index';
import { fmtJson } from '../../format';
import type { DType, TypedArray } from '../../dtype';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import type { Attrs } from '../../ir';
import { sigmoidScalar, softplusScalar } from '../../ops/elementwise';
import { erfcScalar, erfScalar } from '../../ops/special';
import { dataInputIndices, getOp, hasOp } from '../../registry';
import { ownLowering } from '../../lowering';
import { fmtShape, sizeOf, stridesOf, type Shape } from '../../shape';

// ---- the expression AST ---------------------------------------------------------------------

/** Input slot `slot` (the kernel's `slot`-th input array), read with broadcasting. */
export interface InputExpr {
  readonly kind: 'input';
  readonly slot: number;
  readonly dtype: DType;
}
/** A literal, already representable in `dtype`. */
export interface ConstExpr {
  readonly kind: 'const';
  readonly value: number;
  readonly dtype: DType;
}
/** A unary primitive by registry name (`exp`, `sigmoid`, `logicalNot`, ...). */
export interface UnaryExpr {
  readonly kind: 'unary';
  readonly op: string;
  readonly x: Expr;
  readonly dtype: DType;
}
/** A binary primitive by registry name (`add`, `pow`, `greater`, `logicalAnd`, ...). */
export interface BinaryExpr {
  readonly kind: 'binary';
  readonly op: string;
  readonly a: Expr;
  readonly b: Expr;
  readonly dtype: DType;
}
/** `cond ? a : b` (the `where` primitive); `cond` is bool. */
export interface SelectExpr {
  readonly kind: 'select';
  readonly cond: Expr;
  readonly a: Expr;
  readonly b: Expr;
  readonly dtype: DType;
}
/** Conversion to `dtype` with the `cast` primitive's rules. */
export interface CastExpr {
  readonly kind: 'cast';
  readonly x: Expr;
  readonly dtype: DType;
}

/**
 * A node of a fused elementwise expression. Nodes are plain immutable objects; a node used twice
 * (the same object) is computed once, so expressions are DAGs.
 */
export type Expr = InputExpr | ConstExpr | UnaryExpr | BinaryExpr | SelectExpr | CastExpr;

// ---- scalar math: one JS expression per primitive ---------------------------------------------

/**
 * Helper functions the generated code calls, bound into every generated function by these names.
 * They are the reference kernels' own functions, so the fused math cannot drift from theirs.
 */
export const KERNEL_HELPERS: Readonly<Record<string, (x: number) => number>> = Object.freeze({
  $sigmoid: sigmoidScalar,
  $softplus: softplusScalar,
  $expNeg: expNegFast,
  $erf: erfScalar,
  $erfc: erfcScalar,
});

/** 2^−k for k = 0 … 160: the scale of e^−a = 2^−k·e^−r. */
const POW2_NEG = Float64Array.from({ length: 161 }, (_, k) => 2 ** -k);
const INV_LN2 = 1.4426950408889634;
// ln 2 split so that k·LN2_HI is exact for the k used here (Cody–Waite)
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;

/**
 * e^−a for a ≥ 0 (and NaN → NaN), accurate to ~1e-11 relative: far inside float32 rounding, and
 * 2–3× faster than `Math.exp` in V8. a = k·ln 2 + r with |r| ≤ ln 2 / 2, e^−a = 2^−k·e^−r, e^−r by
 * its Taylor series to r⁹ (the first term left out is below 7e-12), evaluated in Estrin's scheme
 * so the multiplications don't wait on each other. k is rounded with `| 0`: `Math.round` costs more
 * than the whole polynomial in V8. Values of a from 110 give 0, which is what float32 rounds e^−a
 * to there. The fast float32 forms (`fastMath`) use it.
 * @example expNegFast(1) // 0.36787944117…
 */
export function expNegFast(a: number): number {
  if (!(a < 110)) return a === a ? 0 : a;
  const k = (a * INV_LN2 + 0.5) | 0;
  const r = k * LN2_LO - (a - k * LN2_HI); // −r, so the series below is e^(−r)
  const r2 = r * r;
  const r4 = r2 * r2;
  const p01 = 1 + r;
  const p23 = 0.5 + r * (1 / 6);
  const p45 = 1 / 24 + r * (1 / 120);
  const p67 = 1 / 720 + r * (1 / 5040);
  const p89 = 1 / 40320 + r * (1 / 362880);
  return (p01 + r2 * p23 + r4 * (p45 + r2 * p67 + r4 * p89)) * POW2_NEG[k];
}

/**
 * The JS expression of each unary elementwise primitive, as a template over its operand. The
 * operand must be an identifier or a literal (templates may repeat it). Same math as the
 * reference kernel of the op of that name.
 */
export const UNARY_JS: Readonly<Record<string, (x: string) => string>> = Object.freeze({
  neg: (x) => `(-${x})`,
  exp: (x) => `Math.exp(${x})`,
  log: (x) => `Math.log(${x})`,
  tanh: (x) => `Math.tanh(${x})`,
  sigmoid: (x) => `$sigmoid(${x})`,
  abs: (x) => `Math.abs(${x})`,
  sign: (x) => `(${x} > 0 ? 1 : ${x} < 0 ? -1 : 0)`,
  log1p: (x) => `Math.log1p(${x})`,
  expm1: (x) => `Math.expm1(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  rsqrt: (x) => `(1 / Math.sqrt(${x}))`,
  sin: (x) => `Math.sin(${x})`,
  cos: (x) => `Math.cos(${x})`,
  softplus: (x) => `$softplus(${x})`,
  reciprocal: (x) => `(1 / ${x})`,
  logicalNot: (x) => `(${x} ? 0 : 1)`,
  erf: (x) => `$erf(${x})`,
  erfc: (x) => `$erfc(${x})`,
  asin: (x) => `Math.asin(${x})`,
  acos: (x) => `Math.acos(${x})`,
  sinh: (x) => `Math.sinh(${x})`,
  cosh: (x) => `Math.cosh(${x})`,
  asinh: (x) => `Math.asinh(${x})`,
  acosh: (x) => `Math.acosh(${x})`,
  atanh: (x) => `Math.atanh(${x})`,
});

/** The JS expression of each binary elementwise primitive; operands as for `UNARY_JS`. */
export const BINARY_JS: Readonly<Record<string, (a: string, b: string) => string>> = Object.freeze({
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `Math.pow(${a}, ${b})`,
  maximum: (a, b) => `Math.max(${a}, ${b})`,
  minimum: (a, b) => `Math.min(${a}, ${b})`,
  greater: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  greaterEqual: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  less: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  lessEqual: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  equal: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  notEqual: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
  logicalAnd: (a, b) => `(${a} && ${b} ? 1 : 0)`,
  logicalOr: (a, b) => `(${a} || ${b} ? 1 : 0)`,
  atan2: (a, b) => `Math.atan2(${a}, ${b})`,
});

/**
 * Unary ops that fused loops emit as several statements, so that pieces they share are computed
 * once: e^−|x| serves sigmoid(x), sigmoid(−x) (|−x| = |x|) and softplus(x). Bit-identical to the
 * reference formulas: for x ≥ 0, e^−|x| is their e^−x; for x < 0 it is their eˣ.
 */
const EXPANSIONS: Readonly<Record<string, (x: string, ctx: { bind: (code: string) => string; abs: (x: string) => string }) => string>> = {
  sigmoid: (x, { bind, abs }) => {
    const e = bind(`Math.exp(-${bind(abs(x))})`);
    return `(${x} >= 0 ? 1 / (1 + ${e}) : ${e} / (1 + ${e}))`;
  },
  softplus: (x, { bind, abs }) => {
    const e = bind(`Math.exp(-${bind(abs(x))})`);
    return `(Math.max(${x}, 0) + Math.log1p(${e}))`;
  },
  abs: (x, { abs }) => abs(x),
};

/**
 * Float32 fast-math forms (`fastMath: true`): float32-accurate (each within an ulp of the
 * reference's float32 result), not bit-equal, and cheaper because σ(x), σ(−x), softplus(x) and
 * tanh(x) share one e = e^−|x| from `expNegFast`:
 * - tanh x = sign(x)·(1 − e²)/(1 + e²), and x·(1 − x²/3) below |x| = 2⁻¹⁰, where 1 − e² would
 *   cancel (the next term is below 2⁻⁴⁹ there);
 * - softplus x = max(x, 0) + log1p(e), with log1p(e) for e ∈ [0, 1] by the series
 *   log(1 + e) = 2·atanh(s) = 2s·(1 + s²/3 + s⁴/5 + … + s¹²/13), s = e/(2 + e) ≤ 1/3: the first
 *   term left out is below 2⁻²⁶ relative.
 */
const FAST_EXPANSIONS: Readonly<Record<string, (x: string, ctx: { bind: (code: string) => string; abs: (x: string) => string }) => string>> = {
  ...EXPANSIONS,
  // the sign tests are arithmetic (b = x < 0 as 0 or 1), not branches: with inputs of random
  // sign a branch mispredicts half the time
  sigmoid: (x, { bind, abs }) => {
    const e = bind(`$expNeg(${bind(abs(x))})`);
    const b = bind(`+(${x} < 0)`);
    return `((${b} * ${e} + (1 - ${b})) / (1 + ${e}))`;
  },
  tanh: (x, { bind, abs }) => {
    const ax = bind(abs(x));
    const e = bind(`$expNeg(${ax})`);
    const e2 = bind(`${e} * ${e}`);
    const t = bind(`(1 - ${e2}) / (1 + ${e2})`);
    return `(${ax} < 0.0009765625 ? ${x} * (1 - ${x} * ${x} / 3) : ${t} * (1 - 2 * +(${x} < 0)))`;
  },
  softplus: (x, { bind, abs }) => {
    const ax = bind(abs(x));
    const e = bind(`$expNeg(${ax})`);
    const s = bind(`${e} / (2 + ${e})`);
    const s2 = bind(`${s} * ${s}`);
    const series = `(2 * ${s} * (1 + ${s2} * (1 / 3 + ${s2} * (1 / 5 + ${s2} * (1 / 7 + ${s2} * (1 / 9 + ${s2} * (1 / 11 + ${s2} / 13)))))))`;
    // max(x, 0) = (x + |x|)/2, exact for float32 values
    return `((${x} + ${ax}) * 0.5 + ${series})`;
  },
};

/**
 * The JS expression of a unary primitive applied to `x` (an identifier or literal).
 * @example unaryJs('sigmoid', 'v') // '$sigmoid(v)'
 */
export function unaryJs(op: string, x: string): string {
  const f = UNARY_JS[op];
  if (!f) throw new GraphError(`no JS code for unary op "${op}" (known: ${Object.keys(UNARY_JS).join(', ')})`, { op: 'backend.js' });
  return f(x);
}

/**
 * The JS expression of a binary primitive applied to `a` and `b` (identifiers or literals).
 * @example binaryJs('greater', 'a', 'b') // '(a > b ? 1 : 0)'
 */
export function binaryJs(op: string, a: string, b: string): string {
  const f = BINARY_JS[op];
  if (!f) throw new GraphError(`no JS code for binary op "${op}" (known: ${Object.keys(BINARY_JS).join(', ')})`, { op: 'backend.js' });
  return f(a, b);
}

/**
 * `where(c, a, b)`: the condition is a bool read as 0/1.
 * @example selectJs('c', 'a', 'b') // '(c ? a : b)'
 */
export function selectJs(cond: string, a: string, b: string): string {
  return `(${cond} ? ${a} : ${b})`;
}

/**
 * What storing `x` into an array of `dtype` gives, as the `cast` primitive computes it
 * (`coerce` in dtype.ts): float32 rounds, int32 truncates toward zero and wraps, bool is x ≠ 0.
 * @example castJs('int32', 'v') // '(v | 0)'
 */
export function castJs(dtype: DType, x: string): string {
  switch (dtype) {
    case 'float32':
      return `Math.fround(${x})`;
    case 'float64':
      return x;
    case 'int32':
      return `(${x} | 0)`;
    case 'bool':
      return `(${x} ? 1 : 0)`;
  }
}

/**
 * A number as a JS literal that reads back to the same double (NaN, ±Infinity and −0 included).
 * @example literalJs(-0.5) // '(-0.5)'
 */
export function literalJs(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (Object.is(v, -0)) return '(-0)';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  return v < 0 ? `(${String(v)})` : String(v);
}

/**
 * `code` rounded the way a typed-array store of `dtype` rounds it. int32 always wraps (integer
 * results must be exact); float32 rounding is skipped when `roundFloat32` is false.
 */
function roundTo(dtype: DType, code: string, roundFloat32: boolean): string {
  if (dtype === 'int32') return `(${code} | 0)`;
  if (dtype === 'float32' && roundFloat32) return `Math.fround(${code})`;
  return code;
}

// ---- builders --------------------------------------------------------------------------------

const NUMERIC: readonly DType[] = ['float32', 'float64', 'int32'];

/** The dtype an elementwise op gives for these argument dtypes, by the op's own shape/dtype rule. */
function resultDtype(op: string, args: readonly Expr[], attrs: Attrs): DType {
  const def = getOp(op);
  try {
    return def.infer(
      args.map((a) => ({ dtype: a.dtype, shape: [] })),
      def.attrs(attrs, args.map((a) => ({ dtype: a.dtype, shape: [] }))),
    ).dtype;
  } catch (e) {
    if (e instanceof DTypeError || e instanceof ShapeError) throw new DTypeError(e.detail, { op, dtypes: args.map((a) => a.dtype) });
    throw e;
  }
}

/**
 * Expression builders. Each checks dtypes with the primitive's own rule, so an expression that
 * builds is one the interpreter would accept.
 * @example
 * const x = ew.input(0, 'float32');
 * const y = ew.binary('mul', ew.unary('tanh', x), ew.constant(0.5, 'float32')); // 0.5·tanh(x)
 */
export const ew = {
  /** Input slot `slot` of dtype `dtype`. */
  input(slot: number, dtype: DType): InputExpr {
    if (!Number.isInteger(slot) || slot < 0) throw new GraphError(`input slot must be a non-negative integer, got ${slot}`, { op: 'backend.js' });
    return Object.freeze({ kind: 'input', slot, dtype });
  },
  /** A literal of dtype `dtype` (rounded to it, as `Tensor.from` would). */
  constant(value: number, dtype: DType): ConstExpr {
    const v = dtype === 'float32' ? Math.fround(value) : dtype === 'int32' ? value | 0 : dtype === 'bool' ? (value ? 1 : 0) : value;
    return Object.freeze({ kind: 'const', value: v, dtype });
  },
  unary(op: string, x: Expr): UnaryExpr {
    if (!UNARY_JS[op]) throw new GraphError(`"${op}" is not a unary elementwise op`, { op: 'backend.js' });
    return Object.freeze({ kind: 'unary', op, x, dtype: resultDtype(op, [x], {}) });
  },
  binary(op: string, a: Expr, b: Expr): BinaryExpr {
    if (!BINARY_JS[op]) throw new GraphError(`"${op}" is not a binary elementwise op`, { op: 'backend.js' });
    return Object.freeze({ kind: 'binary', op, a, b, dtype: resultDtype(op, [a, b], {}) });
  },
  select(cond: Expr, a: Expr, b: Expr): SelectExpr {
    return Object.freeze({ kind: 'select', cond, a, b, dtype: resultDtype('where', [cond, a, b], {}) });
  },
  cast(x: Expr, dtype: DType): Expr {
    return x.dtype === dtype ? x : Object.freeze({ kind: 'cast', x, dtype });
  },
  /**
   * Any elementwise primitive by its registry name: unary and binary math, `where`, `cast`
   * (`attrs.dtype`), `stopGradient` (the identity on values) and `customGrad` (its value is its
   * last input). This is the one entry point lowering needs.
   * @example ew.op('where', [ew.op('greater', [x, zero]), x, zero]) // relu
   */
  op(name: string, args: readonly Expr[], attrs: Attrs = {}): Expr {
    if (!hasOp(name) || getOp(name).kind !== 'elementwise') throw new GraphError(`"${name}" is not an elementwise op`, { op: 'backend.js' });
    const emit = (ownLowering('js', name)?.impl as { emit?: (args: readonly Expr[], attrs: Attrs) => Expr } | undefined)?.emit;
    if (!emit) throw new GraphError(`no JS code for elementwise op "${name}"`, { op: name });
    const def = getOp(name);
    const { min, max } = typeof def.arity === 'number' ? { min: def.arity, max: def.arity } : { min: def.arity.min, max: def.arity.max ?? Infinity };
    if (args.length < min || args.length > max) throw new GraphError(`${name} takes ${min === max ? min : `${min} or more`} argument(s), got ${args.length}`, { op: name });
    // the op's data inputs only: customGrad's value is its last argument
    const data = dataInputIndices(def, args.length).map((i) => args[i]);
    return emit(data, attrs);
  },
};

// ---- kernels ---------------------------------------------------------------------------------

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
export type ReduceAxes = 'last' | 'leading' | 'all';

export interface ElementwiseSpec {
  /** The iteration shape: every output has it; every input broadcasts to it. */
  readonly shape: Shape;
  /** Shape and dtype of each input slot. */
  readonly inputs: readonly { readonly shape: Shape; readonly dtype: DType }[];
  /** Expressions written to the outputs, contiguous in `shape`, in this order. */
  readonly outputs: readonly Expr[];
  /**
   * A trailing reduction of one expression, folded into the same loop: over the last axis
   * (result shape `shape[:-1]`), over every axis but the last (result `[shape[-1]]`: a bias
   * gradient), or over all elements (a scalar). Accumulates in float64 in element order, like the
   * reference `sum`/`mean`/`max`/`min` kernels.
   */
  readonly reduce?: { readonly op: ReduceOp; readonly expr: Expr; readonly axes: ReduceAxes };
  /** Round float32 intermediates as the interpreter does (bit-equal results). Default true. */
  readonly roundIntermediates?: boolean;
  /**
   * Float32 σ, tanh and softplus may use float32-accurate forms that share one fast e^−|x| per
   * operand (see FAST_EXPANSIONS): faster, within an ulp of the reference, not bit-equal. Float64
   * ops and every other op keep the reference formulas. Default false.
   */
  readonly fastMath?: boolean;
}

/**
 * A generated kernel. `fn` takes `(in0, in0Offset, in1, in1Offset, ..., out0, out0Offset, ...,
 * [reduced, reducedOffset])`: typed arrays of each slot's dtype and the element offset where each
 * tensor starts (views into one arena, or 0). It allocates nothing.
 */
export interface ElementwiseKernel {
  readonly fn: (...args: (TypedArray | number)[]) => void;
  /** The generated JavaScript, for `explain()` and debugging. */
  readonly source: string;
  readonly spec: ElementwiseSpec;
  /** Dtype of each output, then of the reduction if any. */
  readonly outputDtypes: readonly DType[];
  readonly reducedDtype?: DType;
  /** The shape of the reduction's result. */
  readonly reducedShape?: Shape;
  /**
   * Calls `fn` with offsets 0. Builds an argument list, so use `fn` (or `fn.bind`) in hot loops.
   * @example k.call([x.data], [out]);
   */
  call(inputs: readonly TypedArray[], outputs: readonly TypedArray[], reduced?: TypedArray): void;
}

const REDUCE_STEP: Record<ReduceOp, { init: string; step: (acc: string, v: string) => string; float: boolean }> = {
  sum: { init: '0', step: (acc, v) => `${acc} += ${v};`, float: false },
  mean: { init: '0', step: (acc, v) => `${acc} += ${v};`, float: true },
  max: { init: '-Infinity', step: (acc, v) => `${acc} = Math.max(${acc}, ${v});`, float: false },
  min: { init: 'Infinity', step: (acc, v) => `${acc} = Math.min(${acc}, ${v});`, float: false },
};

function exprError(detail: string, spec: ElementwiseSpec, op = 'compileElementwise'): GraphError {
  return new GraphError(detail, { op, shapes: [spec.shape, ...spec.inputs.map((i) => i.shape)] });
}

/** Every node reachable from the roots, children before parents (each once). Shared with the wasm back end. */
export function postOrder(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const out: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    for (const c of children(e)) visit(c);
    out.push(e);
  };
  roots.forEach(visit);
  return out;
}

/** An expression node's operands. */
export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'input':
    case 'const':
      return [];
    case 'unary':
    case 'cast':
      return [e.x];
    case 'binary':
      return [e.a, e.b];
    case 'select':
      return [e.cond, e.a, e.b];
  }
}

/** Per-dim loop sizes and per-input strides after dropping size-1 dims and merging contiguous ones. */
export interface LoopNest {
  readonly sizes: number[];
  /** strides[k][d]: element stride of input k along loop d (0 where broadcast). */
  readonly strides: number[][];
}

/**
 * The loop nest both compiled back ends run a fused loop in: size-1 dims dropped (the last axis of a
 * last-axis reduction kept as its own innermost loop), and neighbouring dims merged wherever every
 * array steps through them as through one dim.
 */
export function loopNest(spec: ElementwiseSpec): LoopNest {
  const rank = spec.shape.length;
  const inStrides = spec.inputs.map(({ shape }) => {
    const pad = rank - shape.length;
    const own = stridesOf(shape);
    return spec.shape.map((_, d) => (d < pad || shape[d - pad] === 1 ? 0 : own[d - pad]));
  });
  // the last axis of a last-axis reduction stays its own innermost loop
  const keepLast = spec.reduce?.axes === 'last' || spec.reduce?.axes === 'leading';
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) if (spec.shape[d] !== 1 || (keepLast && d === rank - 1)) dims.push(d);
  const sizes: number[] = [];
  const strides: number[][] = spec.inputs.map(() => []);
  const outStrides = stridesOf(spec.shape);
  let outStride: number[] = [];
  for (const d of dims) {
    const last = sizes.length - 1;
    // dims d' < d merge when every array steps through them as through one dim: s[d'] = s[d]·n[d]
    const mergeable =
      last >= 0 &&
      !(keepLast && d === rank - 1) &&
      outStride[last] === outStrides[d] * spec.shape[d] &&
      inStrides.every((s, k) => strides[k][last] === s[d] * spec.shape[d]);
    if (mergeable) {
      sizes[last] *= spec.shape[d];
      outStride[last] = outStrides[d];
      inStrides.forEach((s, k) => (strides[k][last] = s[d]));
    } else {
      sizes.push(spec.shape[d]);
      outStride = [...outStride, outStrides[d]];
      inStrides.forEach((s, k) => strides[k].push(s[d]));
    }
  }
  return { sizes, strides };
}

/**
 * The checks of a fused-loop spec that hold on every back end: the shapes broadcast, the expression
 * reads slots that exist with their dtypes, and a reduction is one of sum/mean/max/min over 'last',
 * 'leading' or 'all' axes. Each back end then checks the dtypes it runs. `op` names the caller in errors.
 */
export function checkElementwiseSpec(spec: ElementwiseSpec, op: string): void {
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError(`shape must be a list of non-negative integers, got ${fmtJson(spec?.shape)}`, { op });
  }
  spec.inputs.forEach(({ shape, dtype }, k) => {
    const pad = spec.shape.length - shape.length;
    const ok = pad >= 0 && shape.every((d, i) => d === 1 || d === spec.shape[pad + i]);
    if (!ok) throw new ShapeError(`input ${k} of shape ${fmtShape(shape)} does not broadcast to ${fmtShape(spec.shape)}`, { op, shapes: [shape, spec.shape], dtypes: [dtype] });
  });
  if (spec.outputs.length === 0 && !spec.reduce) throw exprError('a kernel needs at least one output or a reduction', spec, op);
  const roots = [...spec.outputs, ...(spec.reduce ? [spec.reduce.expr] : [])];
  for (const e of postOrder(roots)) {
    if (e.kind === 'input') {
      const slot = spec.inputs[e.slot];
      if (!slot) throw exprError(`the expression reads input slot ${e.slot}, but the kernel has ${spec.inputs.length} input(s)`, spec, op);
      if (slot.dtype !== e.dtype) throw new DTypeError(`input slot ${e.slot} is ${slot.dtype}, the expression reads it as ${e.dtype}`, { op, dtypes: [slot.dtype, e.dtype] });
    }
  }
  const r = spec.reduce;
  if (r) {
    if (!REDUCE_STEP[r.op]) throw exprError(`unknown reduction "${String(r.op)}" (sum, mean, max, min)`, spec, op);
    if (r.axes !== 'last' && r.axes !== 'leading' && r.axes !== 'all') throw exprError(`reduction axes must be 'last', 'leading' or 'all', got ${JSON.stringify(r.axes)}`, spec, op);
    if (r.axes !== 'all' && spec.shape.length === 0) throw exprError(`a reduction over the ${r.axes === 'last' ? 'last axis' : 'leading axes'} needs rank ≥ 1`, spec, op);
  }
}

function checkSpec(spec: ElementwiseSpec): void {
  checkElementwiseSpec(spec, 'compileElementwise');
  const r = spec.reduce;
  if (r && (!NUMERIC.includes(r.expr.dtype) || (REDUCE_STEP[r.op].float && r.expr.dtype === 'int32'))) {
    throw new DTypeError(`${r.op} cannot reduce ${r.expr.dtype}`, { op: 'compileElementwise', dtypes: [r.expr.dtype] });
  }
}

// Generated functions by source text: programs compiled again (gradcheck, tests, a second
// executable of the same graph) reuse kernels V8 has already optimized. Bounded; cleared when full.
const CACHE_LIMIT = 4096;
const cache = new Map<string, ElementwiseKernel['fn']>();

function generated(source: string, raccSize: number): ElementwiseKernel['fn'] {
  let fn = cache.get(source);
  if (!fn) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    const helperNames = Object.keys(KERNEL_HELPERS);
    // one float64 accumulator row per kernel (the leading-axes reduction); kernels never run concurrently
    const racc = new Float64Array(raccSize);
    fn = new Function('racc', ...helperNames, source)(racc, ...helperNames.map((h) => KERNEL_HELPERS[h])) as ElementwiseKernel['fn'];
    cache.set(source, fn);
  }
  return fn;
}

/**
 * Generates a fused elementwise kernel specialized to the shapes and dtypes of `spec`: one loop
 * nest (size-1 dims dropped, contiguous dims merged), loop-invariant subexpressions hoisted to the
 * loop where their inputs stop changing, outputs written contiguously, and the reduction folded
 * into the same pass.
 * @example
 * // y = sigmoid(1.5x + 0.5), and Σy, for x of shape [4, 8] plus a [8] bias b
 * const x = ew.input(0, 'float64'), b = ew.input(1, 'float64');
 * const y = ew.unary('sigmoid', ew.binary('add', ew.binary('mul', x, ew.constant(1.5, 'float64')), b));
 * const k = compileElementwise({ shape: [4, 8], inputs: [{ shape: [4, 8], dtype: 'float64' }, { shape: [8], dtype: 'float64' }],
 *   outputs: [y], reduce: { op: 'sum', expr: y, axes: 'all' } });
 * k.fn(xs, 0, bs, 0, out, 0, total, 0);
 */
export function compileElementwise(spec: ElementwiseSpec): ElementwiseKernel {
  checkSpec(spec);
  const round = spec.roundIntermediates ?? true;
  const fast = spec.fastMath ?? false;
  const { sizes, strides } = loopNest(spec);
  const depth = sizes.length;
  const roots = [...spec.outputs, ...(spec.reduce ? [spec.reduce.expr] : [])];
  const nodes = postOrder(roots);

  // The loop level of an input: the innermost loop along which it moves (-1: loop-invariant).
  const inputLevel = strides.map((s) => {
    let l = -1;
    s.forEach((st, d) => {
      if (st !== 0) l = d;
    });
    return l;
  });
  // Everything a reduction over the last axis reads is in the innermost loop.
  const level = new Map<Expr, number>();
  const name = new Map<Expr, string>();
  const code: string[][] = Array.from({ length: depth + 1 }, () => []); // code[l + 1]: statements of level l
  const byCode = new Map<string, string>();
  // temporaries that hold −y for a float y: |−y| is |y|, which lets e^−|y| be shared
  const negOf = new Map<string, string>();
  let tmp = 0;
  let current: string[] = [];
  /** A temporary for `rhs` at the level being emitted, shared with any earlier equal code. */
  const bind = (rhs: string): string => {
    const known = byCode.get(rhs);
    if (known !== undefined) return known;
    const v = `t${tmp++}`;
    byCode.set(rhs, v);
    current.push(`const ${v} = ${rhs};`);
    return v;
  };
  const ctx = { bind, abs: (x: string) => `Math.abs(${negOf.get(x) ?? x})` };
  for (const e of nodes) {
    if (e.kind === 'const') {
      level.set(e, -1);
      name.set(e, literalJs(e.value));
      continue;
    }
    const kids = children(e);
    const l = e.kind === 'input' ? inputLevel[e.slot] : Math.max(-1, ...kids.map((c) => level.get(c)!));
    current = code[l + 1];
    const [a, b, c] = kids.map((k) => name.get(k)!);
    let rhs: string;
    switch (e.kind) {
      case 'input':
        rhs = l < 0 ? `in${e.slot}[o${e.slot}]` : `in${e.slot}[p${e.slot}_${l}]`;
        break;
      case 'unary':
        {
          const table = fast && e.dtype === 'float32' ? FAST_EXPANSIONS : EXPANSIONS;
          rhs = roundTo(e.dtype, table[e.op] ? table[e.op](a, ctx) : unaryJs(e.op, a), round);
        }
        break;
      case 'binary':
        rhs = roundTo(e.dtype, binaryJs(e.op, a, b), round);
        break;
      case 'select':
        rhs = selectJs(a, b, c);
        break;
      case 'cast':
        rhs = castJs(e.dtype, a);
        break;
    }
    // structurally equal nodes (same code over the same operands) share one temporary
    const v = bind(rhs);
    if (e.kind === 'unary' && e.op === 'neg' && (e.dtype === 'float32' || e.dtype === 'float64')) negOf.set(v, a);
    level.set(e, l);
    name.set(e, v);
  }

  const nIn = spec.inputs.length;
  const nOut = spec.outputs.length;
  const red = spec.reduce;
  const params = [
    ...spec.inputs.flatMap((_, k) => [`in${k}`, `o${k}`]),
    ...spec.outputs.flatMap((_, j) => [`out${j}`, `q${j}`]),
    ...(red ? ['red', 'r'] : []),
  ];
  const lines: string[] = ['"use strict";', `return function elementwise(${params.join(', ')}) {`];
  const emit = (indent: number, s: string) => lines.push('  '.repeat(indent + 1) + s);
  code[0].forEach((s) => emit(0, s));
  const redStep = red ? REDUCE_STEP[red.op] : undefined;
  const rank = spec.shape.length;
  const lastDim = rank ? spec.shape[rank - 1] : 1;
  const redCount = !red ? 0 : red.axes === 'last' ? lastDim : red.axes === 'leading' ? sizeOf(spec.shape.slice(0, -1)) : sizeOf(spec.shape);
  const redFinish = (acc: string) => (red?.op === 'mean' ? `${acc} / ${redCount}` : acc);
  const redValue = red ? name.get(red.expr)! : '';
  // over the leading axes, one float64 accumulator per column, in a buffer made once with the kernel
  const redAcc = red?.axes === 'leading' ? `racc[i${depth - 1}]` : 'acc';
  if (red?.axes === 'leading') emit(0, `for (let j = 0; j < ${lastDim}; j++) racc[j] = ${redStep!.init};`);
  else if (red) emit(0, `let acc = ${redStep!.init};`);
  if (nOut > 0 && depth > 0) emit(0, 'let q = 0;');

  // the innermost body: stores and the reduction step
  const body = (indent: number) => {
    const at = depth > 0 ? 'q' : '0';
    spec.outputs.forEach((e, j) => emit(indent, `out${j}[q${j} + ${at}] = ${name.get(e)!};`));
    if (red) emit(indent, redStep!.step(redAcc, redValue));
    if (nOut > 0 && depth > 0) emit(indent, 'q++;');
  };

  const open = (l: number) => {
    // offsets of the inputs that move at level l or deeper, starting where level l − 1 stands
    for (let k = 0; k < nIn; k++) if (inputLevel[k] >= l) emit(l, `let p${k}_${l} = ${l === 0 ? `o${k}` : `p${k}_${l - 1}`};`);
    if (red?.axes === 'last' && l === depth - 1) emit(l, `acc = ${redStep!.init};`);
    emit(l, `for (let i${l} = 0; i${l} < ${sizes[l]}; i${l}++) {`);
    code[l + 1].forEach((s) => emit(l + 1, s));
  };
  const close = (l: number) => {
    for (let k = 0; k < nIn; k++) if (inputLevel[k] >= l && strides[k][l] !== 0) emit(l + 1, `p${k}_${l} += ${strides[k][l]};`);
    emit(l, '}');
    if (red?.axes === 'last' && l === depth - 1) emit(l, `red[r++] = ${redFinish('acc')};`);
  };
  for (let l = 0; l < depth; l++) open(l);
  body(depth);
  for (let l = depth - 1; l >= 0; l--) close(l);
  if (red?.axes === 'all') emit(0, `red[r] = ${redFinish('acc')};`);
  if (red?.axes === 'leading') emit(0, `for (let j = 0; j < ${lastDim}; j++) red[r + j] = ${redFinish('racc[j]')};`);
  lines.push('};');
  const source = lines.join('\n');

  const fn = generated(source, red?.axes === 'leading' ? lastDim : 0);
  return {
    fn,
    source,
    spec,
    outputDtypes: spec.outputs.map((e) => e.dtype),
    reducedDtype: red?.expr.dtype,
    reducedShape: !red ? undefined : red.axes === 'all' ? [] : red.axes === 'last' ? spec.shape.slice(0, -1) : [lastDim],
    call(inputs, outputs, reduced) {
      if (inputs.length !== nIn || outputs.length !== nOut || !!reduced !== !!red) {
        throw new GraphError(`kernel takes ${nIn} input(s), ${nOut} output(s)${red ? ' and a reduction array' : ''}; got ${inputs.length}, ${outputs.length}${reduced ? ' and a reduction array' : ''}`, {
          op: 'compileElementwise',
        });
      }
      fn(...inputs.flatMap((a) => [a, 0]), ...outputs.flatMap((a) => [a, 0]), ...(reduced ? [reduced, 0] : []));
    },
  };
}

/**
 * An expression over one value as an inline JS template, for epilogues that apply a small
 * elementwise function to a value held in a local (the matmul activation). Slot 0 is the value;
 * other slots are not allowed. Shared subexpressions are repeated, so keep it small.
 * @example exprTemplate(ew.unary('tanh', ew.input(0, 'float32')))('v') // 'Math.fround(Math.tanh(v))'
 */
export function exprTemplate(expr: Expr, opts: { roundIntermediates?: boolean } = {}): (v: string) => string {
  const round = opts.roundIntermediates ?? true;
  const go = (e: Expr, v: string): string => {
    switch (e.kind) {
      case 'input':
        if (e.slot !== 0) throw new GraphError(`an epilogue expression reads only slot 0, got slot ${e.slot}`, { op: 'backend.js' });
        return v;
      case 'const':
        return literalJs(e.value);
      case 'unary':
        // a template may repeat its operand (sign does): that recomputes it, with the same value
        return roundTo(e.dtype, unaryJs(e.op, `(${go(e.x, v)})`), round);
      case 'binary':
        return roundTo(e.dtype, binaryJs(e.op, `(${go(e.a, v)})`, `(${go(e.b, v)})`), round);
      case 'select':
        return selectJs(`(${go(e.cond, v)})`, `(${go(e.a, v)})`, `(${go(e.b, v)})`);
      case 'cast':
        return castJs(e.dtype, `(${go(e.x, v)})`);
    }
  };
  return (v) => go(expr, v);
}
