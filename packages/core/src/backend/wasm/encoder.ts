/// <reference path="./webassembly.d.ts" />
/**
 * A small WebAssembly binary encoder: what the wasm back end needs to emit its kernels at run time
 * (no binaryen, no wabt, no .wasm files).
 *
 * API (for the kernel emitters and the executor):
 * - `new ModuleBuilder()`; `importMemory(module, name, { initial, maximum?, shared? })`,
 *   `importFunction(module, name, params, results)` (imports first: they take the low function
 *   indices); `func(name | null, params, results, build)` defines a function and returns its
 *   index, exported under `name` when one is given; `bytes()` gives the module,
 *   `compile()` a `WebAssembly.Module`.
 * - `build(f: FunctionBuilder)` writes the body as a stack machine with typed helpers named after
 *   the spec's instructions: `f.i32.add()`, `f.f32x4.mul()`, `f.v128.load(offset)`,
 *   `f.i32x4.shl()`, `f.memory.atomic_wait32()`, ... Locals are `f.local('v128')`; parameters are
 *   locals 0..n-1. Control flow takes callbacks and labels: `f.loop((top) => { ...; f.br_if(top) })`,
 *   so branch depths are computed, never counted by hand.
 * - `end` of a function is added by `func`; an unbalanced block throws at build time. Every module
 *   a test emits goes through `WebAssembly.validate`.
 */
import { GraphError } from '../../errors';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function encoderError(detail: string): GraphError {
  return new GraphError(detail, { op: 'backend.wasm' });
}

// ---- byte sink and LEB128 --------------------------------------------------------------------

const utf8 = new TextEncoder();
const encodedNames = new Map<string, Uint8Array>();

/** A growable byte buffer with the encodings the binary format uses. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  bytes(bs: ArrayLike<number>): this {
    this.reserve(bs.length);
    // (a Uint8Array — an encoded body, a section — is copied in one go)
    if (bs instanceof Uint8Array) {
      this.buf.set(bs, this.length);
      this.length += bs.length;
      return this;
    }
    for (let i = 0; i < bs.length; i++) this.buf[this.length++] = bs[i] & 0xff;
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2³². */
  u32(v: number): this {
    // (most are opcodes, local indices and small offsets: one byte)
    if (v >= 0 && v < 128 && (v | 0) === v) return this.byte(v);
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw encoderError(`u32 out of range: ${v}`);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of an integer in [−2³¹, 2³²) (values ≥ 2³¹ are taken as their i32 bit pattern). */
  s32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw encoderError(`i32 out of range: ${v}`);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit integer. */
  s64(v: bigint): this {
    v = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  f32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.bytes(b);
  }

  f64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    return this.bytes(b);
  }

  /** A UTF-8 name with its length. */
  name(s: string): this {
    let b = encodedNames.get(s);
    if (!b) {
      b = utf8.encode(s);
      // (import and export names repeat in every module: `env`, `memory`, the library's functions)
      if (encodedNames.size < 4096) encodedNames.set(s, b);
    }
    return this.u32(b.length).bytes(b);
  }

  /** A length-prefixed vector of bytes. */
  vec(inner: ByteWriter): this {
    return this.u32(inner.length).bytes(inner.view());
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

// ---- opcode tables ---------------------------------------------------------------------------
// One table per instruction group; the builder's typed helpers are generated from them, so a name
// here is the method name (the spec's name with '.' → '_' after the type prefix).

const I32_OPS = {
  eqz: 0x45, eq: 0x46, ne: 0x47, lt_s: 0x48, lt_u: 0x49, gt_s: 0x4a, gt_u: 0x4b, le_s: 0x4c, le_u: 0x4d, ge_s: 0x4e, ge_u: 0x4f,
  clz: 0x67, ctz: 0x68, popcnt: 0x69, add: 0x6a, sub: 0x6b, mul: 0x6c, div_s: 0x6d, div_u: 0x6e, rem_s: 0x6f, rem_u: 0x70,
  and: 0x71, or: 0x72, xor: 0x73, shl: 0x74, shr_s: 0x75, shr_u: 0x76, rotl: 0x77, rotr: 0x78,
  wrap_i64: 0xa7, trunc_f32_s: 0xa8, trunc_f32_u: 0xa9, trunc_f64_s: 0xaa, trunc_f64_u: 0xab, reinterpret_f32: 0xbc,
  extend8_s: 0xc0, extend16_s: 0xc1,
} as const;
const I64_OPS = {
  eqz: 0x50, eq: 0x51, ne: 0x52, lt_s: 0x53, lt_u: 0x54, gt_s: 0x55, gt_u: 0x56, le_s: 0x57, le_u: 0x58, ge_s: 0x59, ge_u: 0x5a,
  clz: 0x79, ctz: 0x7a, popcnt: 0x7b, add: 0x7c, sub: 0x7d, mul: 0x7e, div_s: 0x7f, div_u: 0x80, rem_s: 0x81, rem_u: 0x82,
  and: 0x83, or: 0x84, xor: 0x85, shl: 0x86, shr_s: 0x87, shr_u: 0x88, rotl: 0x89, rotr: 0x8a,
  extend_i32_s: 0xac, extend_i32_u: 0xad, trunc_f32_s: 0xae, trunc_f32_u: 0xaf, trunc_f64_s: 0xb0, trunc_f64_u: 0xb1, reinterpret_f64: 0xbd,
} as const;
const F32_OPS = {
  eq: 0x5b, ne: 0x5c, lt: 0x5d, gt: 0x5e, le: 0x5f, ge: 0x60,
  abs: 0x8b, neg: 0x8c, ceil: 0x8d, floor: 0x8e, trunc: 0x8f, nearest: 0x90, sqrt: 0x91,
  add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, min: 0x96, max: 0x97, copysign: 0x98,
  convert_i32_s: 0xb2, convert_i32_u: 0xb3, convert_i64_s: 0xb4, convert_i64_u: 0xb5, demote_f64: 0xb6, reinterpret_i32: 0xbe,
} as const;
const F64_OPS = {
  eq: 0x61, ne: 0x62, lt: 0x63, gt: 0x64, le: 0x65, ge: 0x66,
  abs: 0x99, neg: 0x9a, ceil: 0x9b, floor: 0x9c, trunc: 0x9d, nearest: 0x9e, sqrt: 0x9f,
  add: 0xa0, sub: 0xa1, mul: 0xa2, div: 0xa3, min: 0xa4, max: 0xa5, copysign: 0xa6,
  convert_i32_s: 0xb7, convert_i32_u: 0xb8, convert_i64_s: 0xb9, convert_i64_u: 0xba, promote_f32: 0xbb, reinterpret_i64: 0xbf,
} as const;
/** 0xFC-prefixed saturating truncations. */
const SAT_OPS = { i32_trunc_sat_f32_s: 0, i32_trunc_sat_f32_u: 1, i32_trunc_sat_f64_s: 2, i32_trunc_sat_f64_u: 3 } as const;

// SIMD128 (0xFD prefix), by lane shape. Lane accessors, shuffles, loads and stores are methods.
const V128_OPS = { not: 0x4d, and: 0x4e, andnot: 0x4f, or: 0x50, xor: 0x51, bitselect: 0x52, any_true: 0x53 } as const;
const I8X16_OPS = {
  splat: 0x0f, swizzle: 0x0e, eq: 0x23, ne: 0x24, lt_s: 0x25, lt_u: 0x26, gt_s: 0x27, gt_u: 0x28, le_s: 0x29, le_u: 0x2a, ge_s: 0x2b, ge_u: 0x2c,
  abs: 0x60, neg: 0x61, popcnt: 0x62, all_true: 0x63, bitmask: 0x64, narrow_i16x8_s: 0x65, narrow_i16x8_u: 0x66,
  shl: 0x6b, shr_s: 0x6c, shr_u: 0x6d, add: 0x6e, add_sat_s: 0x6f, add_sat_u: 0x70, sub: 0x71, sub_sat_s: 0x72, sub_sat_u: 0x73,
  min_s: 0x76, min_u: 0x77, max_s: 0x78, max_u: 0x79, avgr_u: 0x7b,
} as const;
const I16X8_OPS = {
  splat: 0x10, eq: 0x2d, ne: 0x2e, lt_s: 0x2f, lt_u: 0x30, gt_s: 0x31, gt_u: 0x32, le_s: 0x33, le_u: 0x34, ge_s: 0x35, ge_u: 0x36,
  abs: 0x80, neg: 0x81, all_true: 0x83, bitmask: 0x84, narrow_i32x4_s: 0x85, narrow_i32x4_u: 0x86,
  extend_low_i8x16_s: 0x87, extend_high_i8x16_s: 0x88, extend_low_i8x16_u: 0x89, extend_high_i8x16_u: 0x8a,
  shl: 0x8b, shr_s: 0x8c, shr_u: 0x8d, add: 0x8e, add_sat_s: 0x8f, add_sat_u: 0x90, sub: 0x91, sub_sat_s: 0x92, sub_sat_u: 0x93,
  mul: 0x95, min_s: 0x96, min_u: 0x97, max_s: 0x98, max_u: 0x99, avgr_u: 0x9b,
} as const;
const I32X4_OPS = {
  splat: 0x11, eq: 0x37, ne: 0x38, lt_s: 0x39, lt_u: 0x3a, gt_s: 0x3b, gt_u: 0x3c, le_s: 0x3d, le_u: 0x3e, ge_s: 0x3f, ge_u: 0x40,
  abs: 0xa0, neg: 0xa1, all_true: 0xa3, bitmask: 0xa4,
  extend_low_i16x8_s: 0xa7, extend_high_i16x8_s: 0xa8, extend_low_i16x8_u: 0xa9, extend_high_i16x8_u: 0xaa,
  shl: 0xab, shr_s: 0xac, shr_u: 0xad, add: 0xae, sub: 0xb1, mul: 0xb5, min_s: 0xb6, min_u: 0xb7, max_s: 0xb8, max_u: 0xb9,
  trunc_sat_f32x4_s: 0xf8, trunc_sat_f32x4_u: 0xf9, trunc_sat_f64x2_s_zero: 0xfc, trunc_sat_f64x2_u_zero: 0xfd,
} as const;
const I64X2_OPS = {
  splat: 0x12, abs: 0xc0, neg: 0xc1, all_true: 0xc3, bitmask: 0xc4,
  extend_low_i32x4_s: 0xc7, extend_high_i32x4_s: 0xc8, extend_low_i32x4_u: 0xc9, extend_high_i32x4_u: 0xca,
  shl: 0xcb, shr_s: 0xcc, shr_u: 0xcd, add: 0xce, sub: 0xd1, mul: 0xd5, eq: 0xd6, ne: 0xd7, lt_s: 0xd8, gt_s: 0xd9, le_s: 0xda, ge_s: 0xdb,
} as const;
const F32X4_OPS = {
  splat: 0x13, eq: 0x41, ne: 0x42, lt: 0x43, gt: 0x44, le: 0x45, ge: 0x46,
  demote_f64x2_zero: 0x5e, ceil: 0x67, floor: 0x68, trunc: 0x69, nearest: 0x6a,
  abs: 0xe0, neg: 0xe1, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7, min: 0xe8, max: 0xe9, pmin: 0xea, pmax: 0xeb,
  convert_i32x4_s: 0xfa, convert_i32x4_u: 0xfb,
} as const;
const F64X2_OPS = {
  splat: 0x14, eq: 0x47, ne: 0x48, lt: 0x49, gt: 0x4a, le: 0x4b, ge: 0x4c,
  promote_low_f32x4: 0x5f, ceil: 0x74, floor: 0x75, trunc: 0x7a, nearest: 0x94,
  abs: 0xec, neg: 0xed, sqrt: 0xef, add: 0xf0, sub: 0xf1, mul: 0xf2, div: 0xf3, min: 0xf4, max: 0xf5, pmin: 0xf6, pmax: 0xf7,
  convert_low_i32x4_s: 0xfe, convert_low_i32x4_u: 0xff,
} as const;

/** Lane accessors: [extract opcode(s), replace opcode, lane count]. */
const LANES = {
  i8x16: { extract_s: 0x15, extract_u: 0x16, replace: 0x17, n: 16 },
  i16x8: { extract_s: 0x18, extract_u: 0x19, replace: 0x1a, n: 8 },
  i32x4: { extract: 0x1b, replace: 0x1c, n: 4 },
  i64x2: { extract: 0x1d, replace: 0x1e, n: 2 },
  f32x4: { extract: 0x1f, replace: 0x20, n: 4 },
  f64x2: { extract: 0x21, replace: 0x22, n: 2 },
} as const;

// memory instructions: [opcode, natural alignment (log2)]
const LOADS = {
  i32: { load: [0x28, 2], load8_s: [0x2c, 0], load8_u: [0x2d, 0], load16_s: [0x2e, 1], load16_u: [0x2f, 1], store: [0x36, 2], store8: [0x3a, 0], store16: [0x3b, 1] },
  i64: { load: [0x29, 3], store: [0x37, 3] },
  f32: { load: [0x2a, 2], store: [0x38, 2] },
  f64: { load: [0x2b, 3], store: [0x39, 3] },
} as const;
const V128_MEM = {
  load: [0x00, 4], load8x8_s: [0x01, 3], load8x8_u: [0x02, 3], load16x4_s: [0x03, 3], load16x4_u: [0x04, 3], load32x2_s: [0x05, 3], load32x2_u: [0x06, 3],
  load8_splat: [0x07, 0], load16_splat: [0x08, 1], load32_splat: [0x09, 2], load64_splat: [0x0a, 3], store: [0x0b, 4], load32_zero: [0x5c, 2], load64_zero: [0x5d, 3],
} as const;
const V128_LANE_MEM = {
  load8_lane: [0x54, 0], load16_lane: [0x55, 1], load32_lane: [0x56, 2], load64_lane: [0x57, 3],
  store8_lane: [0x58, 0], store16_lane: [0x59, 1], store32_lane: [0x5a, 2], store64_lane: [0x5b, 3],
} as const;
// atomics (0xFE prefix): [opcode, natural alignment]
const ATOMIC_MEM = {
  i32: { load: [0x10, 2], load8_u: [0x12, 0], store: [0x17, 2], store8: [0x19, 0], rmw_add: [0x1e, 2], rmw_sub: [0x25, 2], rmw_and: [0x2c, 2], rmw_or: [0x33, 2], rmw_xor: [0x3a, 2], rmw_xchg: [0x41, 2], rmw_cmpxchg: [0x48, 2] },
  i64: { load: [0x11, 3], store: [0x18, 3], rmw_add: [0x1f, 3] },
} as const;

// ---- function bodies -------------------------------------------------------------------------

/** A branch target: the block, loop or if it belongs to (depths are computed from it). */
export interface Label {
  readonly depth: number;
}

type Ops<T> = { readonly [K in keyof T]: () => FunctionBuilder };
type Mem<T> = { readonly [K in keyof T]: (offset?: number, alignLog2?: number) => FunctionBuilder };
type BlockType = ValType | null;

/**
 * The body of one function under construction. Every helper appends one instruction and returns
 * the builder, so short sequences chain: `f.get(x).get(y).f32x4.add()` does not chain (groups
 * return the builder, not the group), write `f.get(x); f.get(y); f.f32x4.add();`.
 */
export class FunctionBuilder {
  readonly code = new ByteWriter();
  /** Declared locals after the parameters, in order. */
  readonly localTypes: ValType[] = [];
  private readonly labels: Label[] = [];

  readonly i32: Ops<typeof I32_OPS> & Mem<(typeof LOADS)['i32']> & { const: (v: number) => FunctionBuilder };
  readonly i64: Ops<typeof I64_OPS> & Mem<(typeof LOADS)['i64']> & { const: (v: bigint | number) => FunctionBuilder };
  readonly f32: Ops<typeof F32_OPS> & Mem<(typeof LOADS)['f32']> & { const: (v: number) => FunctionBuilder };
  readonly f64: Ops<typeof F64_OPS> & Mem<(typeof LOADS)['f64']> & { const: (v: number) => FunctionBuilder };
  readonly sat: Ops<typeof SAT_OPS>;
  readonly v128: Ops<typeof V128_OPS> &
    Mem<typeof V128_MEM> & {
      /** 16 bytes, or 4 f32 / 4 i32 lanes. */
      const: (bytes: ArrayLike<number>) => FunctionBuilder;
      constF32: (lanes: readonly number[] | number) => FunctionBuilder;
      constI32: (lanes: readonly number[] | number) => FunctionBuilder;
      constF64: (lanes: readonly number[] | number) => FunctionBuilder;
    } & { readonly [K in keyof typeof V128_LANE_MEM]: (lane: number, offset?: number, alignLog2?: number) => FunctionBuilder };
  readonly i8x16: Ops<typeof I8X16_OPS> & { extract_lane_s: (l: number) => FunctionBuilder; extract_lane_u: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder; shuffle: (lanes: readonly number[]) => FunctionBuilder };
  readonly i16x8: Ops<typeof I16X8_OPS> & { extract_lane_s: (l: number) => FunctionBuilder; extract_lane_u: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder };
  readonly i32x4: Ops<typeof I32X4_OPS> & { extract_lane: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder };
  readonly i64x2: Ops<typeof I64X2_OPS> & { extract_lane: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder };
  readonly f32x4: Ops<typeof F32X4_OPS> & { extract_lane: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder };
  readonly f64x2: Ops<typeof F64X2_OPS> & { extract_lane: (l: number) => FunctionBuilder; replace_lane: (l: number) => FunctionBuilder };
  /** Threads: `atomic_notify`, `atomic_wait32` and `fence`, plus `i32_atomic.*` / `i64_atomic.*` below. */
  readonly memory: { atomic_notify: (offset?: number) => FunctionBuilder; atomic_wait32: (offset?: number) => FunctionBuilder; atomic_fence: () => FunctionBuilder; size: () => FunctionBuilder; grow: () => FunctionBuilder; copy: () => FunctionBuilder; fill: () => FunctionBuilder };
  readonly i32_atomic: Mem<(typeof ATOMIC_MEM)['i32']>;
  readonly i64_atomic: Mem<(typeof ATOMIC_MEM)['i64']>;

  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[],
  ) {
    // one small object per group, its methods shared on the group's prototype (made once per
    // process): a function builder is cheap to make, however many helpers the groups have
    this.i32 = new GROUPS.i32(this) as unknown as FunctionBuilder['i32'];
    this.i64 = new GROUPS.i64(this) as unknown as FunctionBuilder['i64'];
    this.f32 = new GROUPS.f32(this) as unknown as FunctionBuilder['f32'];
    this.f64 = new GROUPS.f64(this) as unknown as FunctionBuilder['f64'];
    this.sat = new GROUPS.sat(this) as unknown as FunctionBuilder['sat'];
    this.v128 = new GROUPS.v128(this) as unknown as FunctionBuilder['v128'];
    this.i8x16 = new GROUPS.i8x16(this) as unknown as FunctionBuilder['i8x16'];
    this.i16x8 = new GROUPS.i16x8(this) as unknown as FunctionBuilder['i16x8'];
    this.i32x4 = new GROUPS.i32x4(this) as unknown as FunctionBuilder['i32x4'];
    this.i64x2 = new GROUPS.i64x2(this) as unknown as FunctionBuilder['i64x2'];
    this.f32x4 = new GROUPS.f32x4(this) as unknown as FunctionBuilder['f32x4'];
    this.f64x2 = new GROUPS.f64x2(this) as unknown as FunctionBuilder['f64x2'];
    this.memory = new GROUPS.memory(this) as unknown as FunctionBuilder['memory'];
    this.i32_atomic = new GROUPS.i32_atomic(this) as unknown as FunctionBuilder['i32_atomic'];
    this.i64_atomic = new GROUPS.i64_atomic(this) as unknown as FunctionBuilder['i64_atomic'];
  }

  /** A new local of type `t`; returns its index. */
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.params.length + this.localTypes.length - 1;
  }

  /** Type of local `i` (parameters first). */
  typeOf(i: number): ValType {
    return i < this.params.length ? this.params[i] : this.localTypes[i - this.params.length];
  }

  get(i: number): this {
    this.code.byte(0x20).u32(i);
    return this;
  }
  set(i: number): this {
    this.code.byte(0x21).u32(i);
    return this;
  }
  tee(i: number): this {
    this.code.byte(0x22).u32(i);
    return this;
  }

  // -- control flow: structured blocks with labels ---------------------------------------------

  private open(op: number, type: BlockType): Label {
    this.code.byte(op).byte(type === null ? 0x40 : VALTYPE[type]);
    const label = { depth: this.labels.length };
    this.labels.push(label);
    return label;
  }

  private close(label: Label): void {
    if (this.labels[this.labels.length - 1] !== label) throw encoderError('blocks closed out of order');
    this.labels.pop();
    this.code.byte(0x0b);
  }

  private relative(label: Label): number {
    const i = this.labels.lastIndexOf(label);
    if (i < 0) throw encoderError('branch to a label that is not open');
    return this.labels.length - 1 - i;
  }

  /** `block ... end`; `br(label)` inside jumps past the end. */
  block(body: (label: Label) => void, type: BlockType = null): this {
    const l = this.open(0x02, type);
    body(l);
    this.close(l);
    return this;
  }

  /** `loop ... end`; `br(label)` inside jumps back to the top. */
  loop(body: (label: Label) => void, type: BlockType = null): this {
    const l = this.open(0x03, type);
    body(l);
    this.close(l);
    return this;
  }

  /** `if ... [else ...] end` on the i32 at the top of the stack. */
  if(then: (label: Label) => void, otherwise?: (label: Label) => void, type: BlockType = null): this {
    const l = this.open(0x04, type);
    then(l);
    if (otherwise) {
      this.code.byte(0x05);
      otherwise(l);
    }
    this.close(l);
    return this;
  }

  br(label: Label): this {
    this.code.byte(0x0c).u32(this.relative(label));
    return this;
  }
  br_if(label: Label): this {
    this.code.byte(0x0d).u32(this.relative(label));
    return this;
  }
  return(): this {
    this.code.byte(0x0f);
    return this;
  }
  call(funcIndex: number): this {
    this.code.byte(0x10).u32(funcIndex);
    return this;
  }
  drop(): this {
    this.code.byte(0x1a);
    return this;
  }
  /** `select` of two values of a numeric type (`select` with a type for v128). */
  select(type?: ValType): this {
    if (type === 'v128') this.code.byte(0x1c).u32(1).byte(VALTYPE.v128);
    else this.code.byte(0x1b);
    return this;
  }
  unreachable(): this {
    this.code.byte(0x00);
    return this;
  }
  nop(): this {
    this.code.byte(0x01);
    return this;
  }

  /** `for (i = from; i < to; i += step) body()` over an i32 local; `from`/`to` are locals or constants. */
  forRange(i: number, from: number | { local: number }, to: number | { local: number }, step: number, body: () => void): this {
    const push = (v: number | { local: number }) => (typeof v === 'number' ? this.i32.const(v) : this.get(v.local));
    push(from);
    this.set(i);
    this.block((exit) => {
      this.get(i);
      push(to);
      this.i32.ge_s();
      this.br_if(exit);
      this.loop((top) => {
        body();
        this.get(i);
        this.i32.const(step);
        this.i32.add();
        this.tee(i);
        push(to);
        this.i32.lt_s();
        this.br_if(top);
      });
    });
    return this;
  }

  /** The encoded body (locals + code + end). */
  encode(): ByteWriter {
    if (this.labels.length) throw encoderError(`${this.labels.length} block(s) left open`);
    const body = new ByteWriter();
    // locals grouped by runs of equal type
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      if (runs.length && runs[runs.length - 1][1] === t) runs[runs.length - 1][0]++;
      else runs.push([1, t]);
    }
    body.u32(runs.length);
    for (const [n, t] of runs) body.u32(n).byte(VALTYPE[t]);
    body.bytes(this.code.view()).byte(0x0b);
    return body;
  }
}

// ---- instruction groups --------------------------------------------------------------------
// `f.i32`, `f.f32x4`, ...: an object holding its builder, with one method per instruction on a
// prototype shared by every builder (made once, from the opcode tables above).

/** A group of instructions of one function builder; every method appends to `fb.code` and returns `fb`. */
class Group {
  constructor(readonly fb: FunctionBuilder) {}
}
type GroupClass = new (fb: FunctionBuilder) => Group;
type Method = (this: Group, ...args: never[]) => FunctionBuilder;

function groupClass(...parts: Record<string, Method>[]): GroupClass {
  const G = class extends Group {};
  for (const part of parts) Object.assign(G.prototype, part);
  return G;
}

/** Operand-less instructions: the opcode, after the prefix byte if there is one. */
function plainOps(table: Record<string, number>, prefix?: number): Record<string, Method> {
  const o: Record<string, Method> = {};
  for (const [name, op] of Object.entries(table)) {
    o[name] =
      prefix === undefined
        ? function (this: Group) {
            this.fb.code.byte(op);
            return this.fb;
          }
        : function (this: Group) {
            this.fb.code.byte(prefix).u32(op);
            return this.fb;
          };
  }
  return o;
}

/** Memory instructions: opcode, then the memarg (alignment log2, offset). */
function memOps(table: Record<string, readonly [number, number]>, prefix?: number): Record<string, Method> {
  const o: Record<string, Method> = {};
  for (const [name, [op, natural]] of Object.entries(table)) {
    o[name] = function (this: Group, offset = 0, align = natural) {
      if (align > natural) throw encoderError(`${name}: alignment 2^${align} exceeds the natural 2^${natural}`);
      const c = this.fb.code;
      if (prefix === undefined) c.byte(op);
      else c.byte(prefix).u32(op);
      c.u32(align).u32(offset);
      return this.fb;
    } as Method;
  }
  return o;
}

/** Lane accessors (`extract_lane`, `replace_lane`, ...): the opcode, then the lane index. */
function laneOps(l: { readonly replace: number; readonly n: number; readonly extract?: number; readonly extract_s?: number; readonly extract_u?: number }): Record<string, Method> {
  const lane = (op: number) =>
    function (this: Group, i: number) {
      if (!Number.isInteger(i) || i < 0 || i >= l.n) throw encoderError(`lane ${i} out of range 0..${l.n - 1}`);
      this.fb.code.byte(0xfd).u32(op).byte(i);
      return this.fb;
    } as Method;
  const o: Record<string, Method> = { replace_lane: lane(l.replace) };
  if (l.extract !== undefined) o.extract_lane = lane(l.extract);
  if (l.extract_s !== undefined) o.extract_lane_s = lane(l.extract_s);
  if (l.extract_u !== undefined) o.extract_lane_u = lane(l.extract_u);
  return o;
}

function v128Const(this: Group, bytes: ArrayLike<number>): FunctionBuilder {
  if (bytes.length !== 16) throw encoderError(`v128.const takes 16 bytes, got ${bytes.length}`);
  this.fb.code.byte(0xfd).u32(0x0c).bytes(bytes);
  return this.fb;
}

/** `v128.const` from `n` lanes of `Arr`'s type (one number: every lane). */
function typedConst(Arr: Float32ArrayConstructor | Int32ArrayConstructor | Float64ArrayConstructor, n: number): Method {
  return function (this: Group, lanes: readonly number[] | number) {
    const vals = typeof lanes === 'number' ? new Array<number>(n).fill(lanes) : lanes;
    if (vals.length !== n) throw encoderError(`v128 constant needs ${n} lanes, got ${vals.length}`);
    return v128Const.call(this, new Uint8Array(Arr.from(vals).buffer));
  } as Method;
}

const laneMemOps: Record<string, Method> = {};
for (const [name, [op, natural]] of Object.entries(V128_LANE_MEM)) {
  laneMemOps[name] = function (this: Group, l: number, offset = 0, align: number = natural) {
    if (l < 0 || l >= 16 >> natural) throw encoderError(`${name}: lane ${l} out of range`);
    this.fb.code.byte(0xfd).u32(op).u32(align).u32(offset).byte(l);
    return this.fb;
  } as Method;
}

/** A one-instruction method writing `bytes(fb.code, ...args)`. */
const raw = (write: (c: ByteWriter, ...args: never[]) => void): Method =>
  function (this: Group, ...args: never[]) {
    write(this.fb.code, ...args);
    return this.fb;
  } as Method;

const GROUPS = {
  i32: groupClass(plainOps(I32_OPS), memOps(LOADS.i32), { const: raw((c, v: number) => c.byte(0x41).s32(v)) }),
  i64: groupClass(plainOps(I64_OPS), memOps(LOADS.i64), { const: raw((c, v: bigint | number) => c.byte(0x42).s64(BigInt(v))) }),
  f32: groupClass(plainOps(F32_OPS), memOps(LOADS.f32), { const: raw((c, v: number) => c.byte(0x43).f32(v)) }),
  f64: groupClass(plainOps(F64_OPS), memOps(LOADS.f64), { const: raw((c, v: number) => c.byte(0x44).f64(v)) }),
  sat: groupClass(plainOps(SAT_OPS, 0xfc)),
  v128: groupClass(plainOps(V128_OPS, 0xfd), memOps(V128_MEM, 0xfd), laneMemOps, {
    const: v128Const as Method,
    constF32: typedConst(Float32Array, 4),
    constI32: typedConst(Int32Array, 4),
    constF64: typedConst(Float64Array, 2),
  }),
  i8x16: groupClass(plainOps(I8X16_OPS, 0xfd), laneOps(LANES.i8x16), {
    shuffle: function (this: Group, ls: readonly number[]) {
      if (ls.length !== 16 || ls.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw encoderError(`i8x16.shuffle takes 16 lane indices in 0..31, got ${ls.join(',')}`);
      this.fb.code.byte(0xfd).u32(0x0d).bytes(ls);
      return this.fb;
    } as Method,
  }),
  i16x8: groupClass(plainOps(I16X8_OPS, 0xfd), laneOps(LANES.i16x8)),
  i32x4: groupClass(plainOps(I32X4_OPS, 0xfd), laneOps(LANES.i32x4)),
  i64x2: groupClass(plainOps(I64X2_OPS, 0xfd), laneOps(LANES.i64x2)),
  f32x4: groupClass(plainOps(F32X4_OPS, 0xfd), laneOps(LANES.f32x4)),
  f64x2: groupClass(plainOps(F64X2_OPS, 0xfd), laneOps(LANES.f64x2)),
  memory: groupClass({
    atomic_notify: raw((c, offset: number = 0) => c.byte(0xfe).u32(0x00).u32(2).u32(offset)),
    atomic_wait32: raw((c, offset: number = 0) => c.byte(0xfe).u32(0x01).u32(2).u32(offset)),
    atomic_fence: raw((c) => c.byte(0xfe).u32(0x03).byte(0)),
    size: raw((c) => c.byte(0x3f).byte(0)),
    grow: raw((c) => c.byte(0x40).byte(0)),
    copy: raw((c) => c.byte(0xfc).u32(10).byte(0).byte(0)),
    fill: raw((c) => c.byte(0xfc).u32(11).byte(0)),
  }),
  i32_atomic: groupClass(memOps(ATOMIC_MEM.i32, 0xfe)),
  i64_atomic: groupClass(memOps(ATOMIC_MEM.i64, 0xfe)),
};

// ---- modules ---------------------------------------------------------------------------------

export interface MemoryImport {
  /** Pages of 64 KiB. */
  readonly initial: number;
  readonly maximum?: number;
  readonly shared?: boolean;
}

interface FuncDef {
  readonly type: number;
  readonly body: ByteWriter;
}

/**
 * A module under construction.
 * @example
 * const mb = new ModuleBuilder();
 * mb.importMemory('env', 'memory', { initial: 1 });
 * mb.func('add', ['i32', 'i32'], ['i32'], (f) => f.get(0).get(1).i32.add());
 * const { add } = new WebAssembly.Instance(mb.compile(), { env: { memory } }).exports;
 */
export class ModuleBuilder {
  private readonly types: string[] = [];
  private readonly typeSigs: [readonly ValType[], readonly ValType[]][] = [];
  private readonly imports: ByteWriter[] = [];
  private importedFuncs = 0;
  private readonly funcs: FuncDef[] = [];
  private readonly exports: ByteWriter[] = [];
  private readonly exportNames = new Set<string>();

  /** Index of the function type params → results (deduplicated). */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}->${results.join(',')}`;
    let i = this.types.indexOf(key);
    if (i < 0) {
      i = this.types.length;
      this.types.push(key);
      this.typeSigs.push([params, results]);
    }
    return i;
  }

  importMemory(module: string, name: string, mem: MemoryImport): this {
    const w = new ByteWriter().name(module).name(name).byte(0x02);
    if (mem.shared && mem.maximum === undefined) throw encoderError('a shared memory needs a maximum');
    const flags = (mem.maximum !== undefined ? 1 : 0) | (mem.shared ? 2 : 0);
    w.byte(flags).u32(mem.initial);
    if (mem.maximum !== undefined) w.u32(mem.maximum);
    this.imports.push(w);
    return this;
  }

  /** Imports a JS function; returns its function index. All imports come before any `func`. */
  importFunction(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.funcs.length) throw encoderError('import functions before defining any');
    this.imports.push(new ByteWriter().name(module).name(name).byte(0x00).u32(this.type(params, results)));
    return this.importedFuncs++;
  }

  /** The function index the next `func` gets (to call a function before defining it). */
  get nextFuncIndex(): number {
    return this.importedFuncs + this.funcs.length;
  }

  /** Defines a function (exported as `name` unless null); returns its index. */
  func(name: string | null, params: readonly ValType[], results: readonly ValType[], build: (f: FunctionBuilder) => void): number {
    const f = new FunctionBuilder(params, results);
    build(f);
    const index = this.nextFuncIndex;
    this.funcs.push({ type: this.type(params, results), body: f.encode() });
    if (name !== null) this.exportFunction(name, index);
    return index;
  }

  exportFunction(name: string, index: number): this {
    if (this.exportNames.has(name)) throw encoderError(`export "${name}" defined twice`);
    this.exportNames.add(name);
    this.exports.push(new ByteWriter().name(name).byte(0x00).u32(index));
    return this;
  }

  bytes(): Uint8Array {
    const out = new ByteWriter().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, items: ByteWriter[] | null, raw?: ByteWriter) => {
      const w = raw ?? new ByteWriter();
      if (items) {
        if (!items.length) return;
        w.u32(items.length);
        for (const it of items) w.bytes(it.view());
      }
      out.byte(id).vec(w);
    };
    section(
      1,
      this.typeSigs.map(([p, r]) => {
        const w = new ByteWriter().byte(0x60).u32(p.length);
        p.forEach((t) => w.byte(VALTYPE[t]));
        w.u32(r.length);
        r.forEach((t) => w.byte(VALTYPE[t]));
        return w;
      }),
    );
    section(2, this.imports);
    section(3, this.funcs.map((f) => new ByteWriter().u32(f.type)));
    section(7, this.exports);
    section(10, this.funcs.map((f) => new ByteWriter().vec(f.body)));
    return out.view().slice();
  }

  compile(): WebAssembly.Module {
    return new WebAssembly.Module(this.bytes());
  }
}
