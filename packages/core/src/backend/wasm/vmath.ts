/**
 * Vector float32 math for the wasm back end: exp, log, tanh, sigmoid, softplus and the other
 * unary elementwise primitives on four f32 lanes at once, emitted as SIMD128 code.
 *
 * API (for the elementwise, row and matmul emitters):
 * - `new Vec(f)` wraps a function builder; every operation takes v128 locals and returns a new
 *   local holding its result (TurboFan turns locals into SSA values, so this costs nothing), e.g.
 *   `const y = v.div(v.c(1), v.add(v.c(1), e))`.
 * - `v.unary(op, x)`: any float unary primitive of `F32X4_UNARY_OPS` (the JS back end's
 *   `UNARY_JS` keys with a float domain), `v.binary(op, a, b)`: add, sub, mul, div, maximum,
 *   minimum, pow. `emitUnaryF32x4(f, op, x)` pushes `op(x)` on the stack (the matmul epilogue).
 * - Shared pieces: `v.expNegAbs(x)` = e^−|x| is memoized per x, so σ(x), σ(−x) and softplus(x) in
 *   one loop body compute one exponential.
 * - Functions with no SIMD form in some range call JavaScript for the lanes that need it
 *   (`Math.pow` always, `Math.sin`/`Math.cos` for |x| > 8192, where the float32 range reduction
 *   stops being accurate). Those imports (`SCALAR_IMPORTS`) are declared by `declareMathImports`
 *   before any function of the module; every instantiation passes `mathImports()`.
 *
 * Accuracy: see docs/kernels.md ("WebAssembly", the table of maximum errors in ulp over all 2³²
 * float32 inputs, measured by scripts/wasm-ulp-sweep.ts against float64).
 */
import { GraphError } from '../../errors';
import type { FunctionBuilder, ModuleBuilder } from './encoder';

/** Float unary ops with a vector form (every float unary primitive the JS back end generates). */
export const F32X4_UNARY_OPS: readonly string[] = Object.freeze([
  'neg', 'exp', 'log', 'tanh', 'sigmoid', 'abs', 'sign', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'sin', 'cos', 'softplus', 'reciprocal',
]);

/** JS functions the emitted code may call for lanes without a SIMD form, by import name. */
export const SCALAR_IMPORTS = Object.freeze({ sin: 1, cos: 1, pow: 2 } as const);
export type ScalarImport = keyof typeof SCALAR_IMPORTS;

/** The import object entries for `SCALAR_IMPORTS` (the same functions on every thread). */
export function mathImports(): Record<ScalarImport, (...a: number[]) => number> {
  return { sin: Math.sin, cos: Math.cos, pow: Math.pow };
}

/** Function indices of the scalar imports in a module (`declareMathImports`). */
export type MathImports = Readonly<Record<ScalarImport, number>>;

const declared = new WeakMap<ModuleBuilder, MathImports>();

/** Imports `SCALAR_IMPORTS` from `env` (before any function is defined); returns their indices. */
export function declareMathImports(mb: ModuleBuilder): MathImports {
  const out = {} as Record<ScalarImport, number>;
  for (const [name, arity] of Object.entries(SCALAR_IMPORTS) as [ScalarImport, number][]) {
    out[name] = mb.importFunction('env', name, new Array(arity).fill('f64'), ['f64']);
  }
  declared.set(mb, out);
  return out;
}

/** The scalar imports `declareMathImports` declared in `mb`, if it did. */
export function mathImportsOf(mb: ModuleBuilder): MathImports | undefined {
  return declared.get(mb);
}

const LOG2E = 1.4426950408889634;
// ln 2 = C1 + C2 with C1 exact in 9 bits, so n·C1 is exact for |n| ≤ 2⁸ (Cody–Waite)
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const SQRT_HALF = 0.7071067811865476;

/** A v128 local. */
export type V = number;

export class Vec {
  private readonly expNegAbsOf = new Map<V, V>();

  constructor(
    readonly f: FunctionBuilder,
    readonly imports?: MathImports,
  ) {}

  /** A new v128 local set from the top of the stack. */
  private out(): V {
    const t = this.f.local('v128');
    this.f.set(t);
    return t;
  }

  un(op: () => unknown, a: V): V {
    this.f.get(a);
    op();
    return this.out();
  }

  // (methods, not arrow fields: a Vec is made per emitted function, and ~30 closures each time
  // were a measurable part of emitting a program)

  /** f32 constant in all lanes. */
  c(value: number): V {
    this.f.v128.constF32(value);
    return this.out();
  }
  /** i32 constant in all lanes. */
  ci(value: number): V {
    this.f.v128.constI32(value);
    return this.out();
  }

  add(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.add();
    return this.out();
  }
  sub(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.sub();
    return this.out();
  }
  mul(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.mul();
    return this.out();
  }
  div(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.div();
    return this.out();
  }
  /** NaN-propagating min/max with −0 < +0 (as Math.min/Math.max). */
  min(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.min();
    return this.out();
  }
  max(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.max();
    return this.out();
  }
  /** b < a ? b : a and a < b ? b : a: one instruction each; a NaN in `a` passes through. */
  pmin(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.pmin();
    return this.out();
  }
  pmax(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.pmax();
    return this.out();
  }
  lt(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.lt();
    return this.out();
  }
  le(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.le();
    return this.out();
  }
  gt(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.gt();
    return this.out();
  }
  ge(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.ge();
    return this.out();
  }
  eq(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.eq();
    return this.out();
  }
  ne(a: V, b: V): V {
    this.f.get(a).get(b).f32x4.ne();
    return this.out();
  }
  and(a: V, b: V): V {
    this.f.get(a).get(b).v128.and();
    return this.out();
  }
  or(a: V, b: V): V {
    this.f.get(a).get(b).v128.or();
    return this.out();
  }
  andnot(a: V, b: V): V {
    this.f.get(a).get(b).v128.andnot();
    return this.out();
  }
  iadd(a: V, b: V): V {
    this.f.get(a).get(b).i32x4.add();
    return this.out();
  }
  isub(a: V, b: V): V {
    this.f.get(a).get(b).i32x4.sub();
    return this.out();
  }
  ieq(a: V, b: V): V {
    this.f.get(a).get(b).i32x4.eq();
    return this.out();
  }
  sqrt(a: V): V {
    this.f.get(a).f32x4.sqrt();
    return this.out();
  }
  abs(a: V): V {
    this.f.get(a).f32x4.abs();
    return this.out();
  }
  neg(a: V): V {
    this.f.get(a).f32x4.neg();
    return this.out();
  }
  nearest(a: V): V {
    this.f.get(a).f32x4.nearest();
    return this.out();
  }
  floor(a: V): V {
    this.f.get(a).f32x4.floor();
    return this.out();
  }
  /** Rounds to an integer toward zero, saturating. */
  toInt(a: V): V {
    this.f.get(a).i32x4.trunc_sat_f32x4_s();
    return this.out();
  }
  toFloat(a: V): V {
    this.f.get(a).f32x4.convert_i32x4_s();
    return this.out();
  }
  shl(a: V, n: number): V {
    this.f.get(a).i32.const(n).i32x4.shl();
    return this.out();
  }
  shrS(a: V, n: number): V {
    this.f.get(a).i32.const(n).i32x4.shr_s();
    return this.out();
  }
  /** mask ? a : b, lane by lane (mask lanes all ones or all zeros). */
  select(mask: V, a: V, b: V): V {
    this.f.get(a).get(b).get(mask).v128.bitselect();
    return this.out();
  }

  /** c0 + x·(c1 + x·(c2 + ...)): Horner's scheme. */
  poly(x: V, coeffs: readonly number[]): V {
    let acc = this.c(coeffs[coeffs.length - 1]);
    for (let i = coeffs.length - 2; i >= 0; i--) acc = this.add(this.mul(acc, x), this.c(coeffs[i]));
    return acc;
  }

  /** 2ⁿ for integer lanes n in [−126, 127], as f32 lanes: (n + 127) << 23. */
  private pow2(n: V): V {
    return this.shl(this.iadd(n, this.ci(127)), 23);
  }

  /**
   * eˣ. x = n·ln 2 + r, |r| ≤ ln 2 / 2; eʳ by Cephes' degree-6 polynomial; the result scaled by
   * 2ⁿ in two halves so that subnormal results and 2¹²⁸ > eˣ ≥ 2¹²⁷ come out right. x is clamped
   * to [−104, 89] first (e⁻¹⁰⁴ rounds to 0, e⁸⁹ overflows); NaN passes the clamps.
   */
  exp(x: V, knownNonPositive = false): V {
    let xc = this.pmax(x, this.c(-104));
    if (!knownNonPositive) xc = this.pmin(xc, this.c(89));
    const nf = this.nearest(this.mul(xc, this.c(LOG2E)));
    const r = this.sub(this.sub(xc, this.mul(nf, this.c(LN2_HI))), this.mul(nf, this.c(LN2_LO)));
    const z = this.mul(r, r);
    const p = this.poly(r, [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4]);
    const er = this.add(this.add(this.mul(p, z), r), this.c(1));
    const n = this.toInt(nf);
    const n1 = this.shrS(n, 1);
    const n2 = this.isub(n, n1);
    return this.mul(this.mul(er, this.pow2(n1)), this.pow2(n2));
  }

  /**
   * 1/√x rounded once, as the JS back end's fround(1/Math.sqrt(x)): in f64 lanes (x is exact
   * there; √ and ÷ in f64 then one rounding to f32 is within 2⁻²⁹ relative before it), two lanes
   * at a time. In f32, 1/√x rounds twice and is 1 ulp off for about a quarter of the inputs — an
   * optimizer step (RMSprop, Adam) near a zero gradient turns that into visible drift.
   */
  rsqrt(x: V): V {
    const f = this.f;
    const half = (hi: boolean) => {
      f.get(x);
      if (hi) f.get(x).i8x16.shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
      f.f64x2.promote_low_f32x4();
      const t = f.local('v128');
      f.set(t);
      f.v128.constF64(1).get(t).f64x2.sqrt().f64x2.div().f32x4.demote_f64x2_zero();
      return this.out();
    };
    const lo = half(false);
    const hi = half(true);
    f.get(lo).get(hi).i8x16.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
    return this.out();
  }

  /** e^−|x|, once per x per function (σ, σ(−x), softplus and tanh share it). */
  expNegAbs(x: V): V {
    let e = this.expNegAbsOf.get(x);
    if (e === undefined) {
      e = this.exp(this.neg(this.abs(x)), true);
      this.expNegAbsOf.set(x, e);
    }
    return e;
  }

  /**
   * log x. x = m·2ᵉ with m in [√½, √2); log(m) = y − y²/2 + y³·P(y), y = m − 1 (Cephes' degree-8
   * P); e·ln 2 added in two parts. Subnormal x are scaled by 2²³ first. 0 → −∞, x < 0 → NaN,
   * +∞ → +∞, NaN → NaN.
   */
  log(x: V): V {
    const tiny = this.lt(x, this.c(1.1754943508222875e-38));
    const xs = this.select(tiny, this.mul(x, this.c(8388608)), x);
    const eAdj = this.and(tiny, this.ci(23));
    // exponent with m in [0.5, 1): e = bits >> 23 − 126
    let e = this.isub(this.isub(this.shrS(xs, 23), this.ci(126)), eAdj);
    let m = this.or(this.and(xs, this.ci(0x007fffff)), this.ci(0x3f000000));
    const small = this.lt(m, this.c(SQRT_HALF));
    // m < √½: use 2m and e − 1
    e = this.iadd(e, small); // small lanes are −1
    m = this.sub(this.add(m, this.and(small, m)), this.c(1));
    const ef = this.toFloat(e);
    const z = this.mul(m, m);
    const p = this.poly(m, [3.3333331174e-1, -2.4999993993e-1, 2.0000714765e-1, -1.6668057665e-1, 1.4249322787e-1, -1.2420140846e-1, 1.1676998740e-1, -1.1514610310e-1, 7.0376836292e-2]);
    let y = this.mul(this.mul(p, m), z);
    y = this.add(y, this.mul(ef, this.c(LN2_LO)));
    y = this.sub(y, this.mul(z, this.c(0.5)));
    let r = this.add(this.add(m, y), this.mul(ef, this.c(LN2_HI)));
    // specials: x = +∞ → +∞ (its m is 1, e 129: fix), 0 → −∞, x < 0 or NaN → NaN
    r = this.select(this.eq(x, this.c(Infinity)), x, r);
    r = this.select(this.eq(x, this.c(0)), this.c(-Infinity), r);
    const bad = this.or(this.lt(x, this.c(0)), this.ne(x, x));
    return this.select(bad, this.c(NaN), r);
  }

  /** log(1 + x) = log(u) + (x − (u − 1))/u with u = 1 + x: the second term is what u lost of x. */
  log1p(x: V): V {
    const one = this.c(1);
    const u = this.add(x, one);
    const c = this.div(this.sub(x, this.sub(u, one)), u);
    const lu = this.log(u);
    const r = this.add(lu, c);
    // u = +∞ (x = +∞) and u = 0 (x = −1): the correction is ∞ − ∞ or 0/0; log u is the answer
    const edge = this.or(this.eq(u, this.c(Infinity)), this.eq(u, this.c(0)));
    // u = 1 (|x| < 2⁻²⁴): log1p x = x − x²/2 rounds to x (and keeps log1p(−0) = −0)
    return this.select(this.eq(u, one), x, this.select(edge, lu, r));
  }

  /**
   * eˣ − 1. x = n·ln 2 + r; eʳ − 1 = r + r²·Q(r) (Taylor to r⁷) without the cancellation of
   * eʳ − 1; then eˣ − 1 = 2·(t·(eʳ − 1) + (t − ½)) with t = 2ⁿ⁻¹ (exact scalings, one rounding).
   * x is clamped to [−30, 89] (e⁻³⁰ − 1 rounds to −1).
   */
  expm1(x: V): V {
    const xc = this.pmin(this.pmax(x, this.c(-30)), this.c(89));
    const nf = this.nearest(this.mul(xc, this.c(LOG2E)));
    const r = this.sub(this.sub(xc, this.mul(nf, this.c(LN2_HI))), this.mul(nf, this.c(LN2_LO)));
    const q = this.poly(r, [1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040]);
    const em1 = this.add(this.mul(this.mul(r, r), q), r);
    const t = this.pow2(this.isub(this.toInt(nf), this.ci(1)));
    const half = this.c(0.5);
    const y = this.add(this.mul(t, em1), this.sub(t, half));
    // |x| < 2⁻²⁴: eˣ − 1 = x + x²/2 rounds to x (and keeps expm1(−0) = −0)
    return this.select(this.lt(this.abs(x), this.c(2 ** -24)), x, this.add(y, y));
  }

  /**
   * tanh x. |x| < 0.625: x + x³·P(x²) (Cephes' degree-4 P). Else sign(x)·(1 − e)/(1 + e),
   * e = e^−2|x| (no cancellation there: e ≤ 0.29). NaN → NaN.
   */
  tanh(x: V): V {
    const ax = this.abs(x);
    const z = this.mul(x, x);
    const p = this.poly(z, [-3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2, -5.70498872745e-3]);
    const small = this.add(x, this.mul(this.mul(x, z), p));
    const e = this.exp(this.mul(ax, this.c(-2)), true);
    const one = this.c(1);
    const big = this.div(this.sub(one, e), this.add(one, e));
    // |result| with x's sign (tanh is odd; this also keeps tanh(−0) = −0)
    const mag = this.select(this.lt(ax, this.c(0.625)), this.abs(small), big);
    return this.or(mag, this.and(x, this.ci(-0x80000000)));
  }

  /** σ(x) = 1/(1 + e) for x ≥ 0 and e/(1 + e) for x < 0, e = e^−|x|: no overflow, one division. */
  sigmoid(x: V): V {
    const e = this.expNegAbs(x);
    const one = this.c(1);
    const num = this.select(this.lt(x, this.c(0)), e, one);
    return this.div(num, this.add(one, e));
  }

  /**
   * softplus x = max(x, 0) + log(1 + e), e = e^−|x| in [0, 1]: log(1 + e) = 2·atanh(s) =
   * 2s·(1 + s²/3 + s⁴/5 + … + s¹⁴/15) with s = e/(2 + e) ≤ ⅓ (the first term left out is below
   * 2⁻²⁸ relative).
   */
  softplus(x: V): V {
    const e = this.expNegAbs(x);
    const s = this.div(e, this.add(this.c(2), e));
    const s2 = this.mul(s, s);
    // 2s + 2s·s²·(⅓ + s²/5 + …): the rounding of the small tail hardly touches the result
    const t = this.add(s, s);
    const tail = this.mul(s2, this.poly(s2, [1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15]));
    // e < 2⁻²⁴: log(1 + e) = e − e²/2 rounds to e — exactly e, which keeps subnormal results
    // (softplus(−100) = e⁻¹⁰⁰) from the two roundings of s = e/2 and s + s
    const l = this.select(this.lt(e, this.c(2 ** -24)), e, this.add(t, this.mul(t, tail)));
    // max(x, 0) with NaN passing through: pmax(x, 0) = x < 0 ? 0 : x
    return this.add(this.pmax(x, this.c(0)), l);
  }

  /**
   * sin x or cos x: n = nearest(x·2/π), r = x − n·π/2 with π/2 in three parts (n·P1 and n·P2
   * exact for |x| ≤ 8192), then sin or cos of r by its polynomial, chosen and
   * signed by n mod 4. Lanes with |x| > 8192 (or ±∞, NaN) are redone with `Math.sin`/`Math.cos`.
   */
  sincos(x: V, which: 'sin' | 'cos'): V {
    const nf = this.nearest(this.mul(x, this.c(0.6366197723675814)));
    // π/2 = P1 + P2 + P3; P1 (8 bits) and P2 (11 bits) make n·P1, n·P2 exact for |n| < 2¹³
    const P1 = 1.5703125;
    const P2 = 4.837512969970703125e-4;
    const P3 = 7.549790126404332e-8;
    let r = this.sub(x, this.mul(nf, this.c(P1)));
    r = this.sub(r, this.mul(nf, this.c(P2)));
    r = this.sub(r, this.mul(nf, this.c(P3)));
    const z = this.mul(r, r);
    // sin r = r + r³·S(r²), cos r = 1 − r²/2 + r⁴·C(r²) on |r| ≤ π/4 (Cephes sinf/cosf coefficients)
    const sinr = this.add(r, this.mul(this.mul(r, z), this.poly(z, [-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4])));
    const cosr = this.add(this.sub(this.c(1), this.mul(z, this.c(0.5))), this.mul(this.mul(z, z), this.poly(z, [4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5])));
    let q = this.toInt(nf);
    if (which === 'cos') q = this.iadd(q, this.ci(1)); // cos x = sin(x + π/2)
    // q mod 4: 0 → sin r, 1 → cos r, 2 → −sin r, 3 → −cos r
    const useCos = this.ieq(this.and(q, this.ci(1)), this.ci(1));
    const mag = this.select(useCos, cosr, sinr);
    const neg = this.shl(this.and(q, this.ci(2)), 30); // bit 1 of q → sign bit
    let res = this.xor(mag, neg);
    // the slow lanes: |x| > 8192, ±∞, NaN
    const slow = this.un(() => this.f.v128.not(), this.le(this.abs(x), this.c(8192)));
    res = this.scalarWhere(slow, res, which, [x]);
    return res;
  }

  xor(a: V, b: V): V {
    this.f.get(a).get(b).v128.xor();
    return this.out();
  }

  /**
   * Lanes of `mask` recomputed by the JS function `name` on the lanes of `args` (float64 in, rounded
   * to float32 out); the other lanes keep `v`. A branch skips the calls when no lane needs them.
   */
  scalarWhere(mask: V, v: V, name: ScalarImport, args: readonly V[]): V {
    if (!this.imports) throw new GraphError(`${name}: the module declares no scalar imports (declareMathImports)`, { op: 'backend.wasm' });
    const fn = this.imports[name];
    const f = this.f;
    const res = f.local('v128');
    f.get(v).set(res);
    f.get(mask).v128.any_true();
    f.if(() => {
      for (let lane = 0; lane < 4; lane++) {
        f.get(mask).i32x4.extract_lane(lane);
        f.if(() => {
          f.get(res);
          for (const a of args) f.get(a).f32x4.extract_lane(lane).f64.promote_f32();
          f.call(fn).f32.demote_f64();
          f.f32x4.replace_lane(lane).set(res);
        });
      }
    });
    return res;
  }

  /** x^y: every lane by `Math.pow` (its special cases are many and a float32 exp(y·log x) is not accurate enough). */
  pow(a: V, b: V): V {
    return this.scalarWhere(this.ci(-1), a, 'pow', [a, b]);
  }

  /** sign x: −1, 0 or 1 (NaN → 0). */
  sign(x: V): V {
    return this.or(this.and(this.gt(x, this.c(0)), this.c(1)), this.and(this.lt(x, this.c(0)), this.c(-1)));
  }

  /** A float unary primitive by name. */
  unary(op: string, x: V): V {
    switch (op) {
      case 'neg':
        return this.neg(x);
      case 'abs':
        return this.abs(x);
      case 'sign':
        return this.sign(x);
      case 'exp':
        return this.exp(x);
      case 'log':
        return this.log(x);
      case 'log1p':
        return this.log1p(x);
      case 'expm1':
        return this.expm1(x);
      case 'tanh':
        return this.tanh(x);
      case 'sigmoid':
        return this.sigmoid(x);
      case 'softplus':
        return this.softplus(x);
      case 'sqrt':
        return this.sqrt(x);
      case 'rsqrt':
        return this.rsqrt(x);
      case 'reciprocal':
        return this.div(this.c(1), x);
      case 'sin':
        return this.sincos(x, 'sin');
      case 'cos':
        return this.sincos(x, 'cos');
    }
    throw new GraphError(`no vector form for unary op "${op}" (known: ${F32X4_UNARY_OPS.join(', ')})`, { op: 'backend.wasm' });
  }
}

/** Pushes `op(x)` for the f32x4 in local `x` (the matmul epilogue). */
export function emitUnaryF32x4(f: FunctionBuilder, op: string, x: number, imports?: MathImports): void {
  const r = new Vec(f, imports).unary(op, x);
  f.get(r);
}
