/// <reference path="./webassembly.d.ts" />
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../errors';
import { ByteWriter, FunctionBuilder, ModuleBuilder } from './encoder';

const bytes = (f: (w: ByteWriter) => void) => {
  const w = new ByteWriter();
  f(w);
  return [...w.view()];
};

function instantiate(mb: ModuleBuilder, imports: WebAssembly.Imports = {}): Record<string, (...a: any[]) => any> {
  const b = mb.bytes();
  expect(WebAssembly.validate(b)).toBe(true);
  return new WebAssembly.Instance(new WebAssembly.Module(b), imports).exports as Record<string, (...a: any[]) => any>;
}

describe('LEB128 and constants', () => {
  it('encodes unsigned LEB128 as the spec examples', () => {
    expect(bytes((w) => w.u32(0))).toEqual([0]);
    expect(bytes((w) => w.u32(127))).toEqual([0x7f]);
    expect(bytes((w) => w.u32(128))).toEqual([0x80, 0x01]);
    expect(bytes((w) => w.u32(624485))).toEqual([0xe5, 0x8e, 0x26]);
    expect(bytes((w) => w.u32(0xffffffff))).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('encodes signed LEB128 (i32 and i64)', () => {
    expect(bytes((w) => w.s32(0))).toEqual([0]);
    expect(bytes((w) => w.s32(-1))).toEqual([0x7f]);
    expect(bytes((w) => w.s32(63))).toEqual([0x3f]);
    expect(bytes((w) => w.s32(64))).toEqual([0xc0, 0x00]);
    expect(bytes((w) => w.s32(-64))).toEqual([0x40]);
    expect(bytes((w) => w.s32(-65))).toEqual([0xbf, 0x7f]);
    expect(bytes((w) => w.s32(-123456))).toEqual([0xc0, 0xbb, 0x78]);
    expect(bytes((w) => w.s32(-0x80000000))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(bytes((w) => w.s64(-1n))).toEqual([0x7f]);
    expect(bytes((w) => w.s64(2n ** 63n - 1n))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
  });

  it('rejects out-of-range integers', () => {
    expect(() => bytes((w) => w.u32(-1))).toThrow(GraphError);
    expect(() => bytes((w) => w.u32(2 ** 32))).toThrow(GraphError);
    expect(() => bytes((w) => w.s32(1.5))).toThrow(GraphError);
  });

  it('round-trips i32/i64/f32/f64/v128 constants through a module', () => {
    const mb = new ModuleBuilder();
    for (const [i, v] of [0, -1, 2147483647, -2147483648, 123456789].entries()) mb.func(`i${i}`, [], ['i32'], (f) => void f.i32.const(v));
    mb.func('i64', [], ['i64'], (f) => void f.i64.const(-9007199254740993n));
    mb.func('f32', [], ['f32'], (f) => void f.f32.const(0.1));
    mb.func('f64', [], ['f64'], (f) => void f.f64.const(-0.1));
    mb.func('lane', [], ['f32'], (f) => void f.v128.constF32([1.5, -2, 3.25, 4]).f32x4.extract_lane(2));
    mb.func('ilane', [], ['i32'], (f) => void f.v128.constI32([7, -8, 9, -10]).i32x4.extract_lane(3));
    const ex = instantiate(mb);
    expect([0, 1, 2, 3, 4].map((i) => ex[`i${i}`]())).toEqual([0, -1, 2147483647, -2147483648, 123456789]);
    expect(ex.i64()).toBe(-9007199254740993n);
    expect(ex.f32()).toBe(Math.fround(0.1));
    expect(ex.f64()).toBe(-0.1);
    expect(ex.lane()).toBe(3.25);
    expect(ex.ilane()).toBe(-10);
  });
});

describe('function bodies', () => {
  it('runs structured control flow with labels (loops, ifs, br_if)', () => {
    const mb = new ModuleBuilder();
    // Σ_{i<n} (i odd ? i : 0) with a block/loop and an if
    mb.func('oddsum', ['i32'], ['i32'], (f) => {
      const i = f.local('i32');
      const s = f.local('i32');
      f.forRange(i, 0, { local: 0 }, 1, () => {
        f.get(i).i32.const(1).i32.and();
        f.if(() => void f.get(s).get(i).i32.add().set(s));
      });
      f.get(s);
    });
    // first i with i·i ≥ n, by br out of a block from inside a loop
    mb.func('isqrt', ['i32'], ['i32'], (f) => {
      const i = f.local('i32');
      f.block((found) => {
        f.loop((top) => {
          f.get(i).get(i).i32.mul().get(0).i32.ge_s().br_if(found);
          f.get(i).i32.const(1).i32.add().set(i);
          f.br(top);
        });
      });
      f.get(i);
    });
    mb.func('pick', ['i32', 'f64', 'f64'], ['f64'], (f) => void f.get(1).get(2).get(0).select());
    mb.func('ifelse', ['i32'], ['i32'], (f) => void f.get(0).if(() => void f.i32.const(10), () => void f.i32.const(20), 'i32'));
    const ex = instantiate(mb);
    expect(ex.oddsum(10)).toBe(1 + 3 + 5 + 7 + 9);
    expect(ex.oddsum(0)).toBe(0);
    expect(ex.isqrt(50)).toBe(8);
    expect(ex.pick(1, 1.5, 2.5)).toBe(1.5);
    expect(ex.pick(0, 1.5, 2.5)).toBe(2.5);
    expect(ex.ifelse(1)).toBe(10);
    expect(ex.ifelse(0)).toBe(20);
  });

  it('calls functions, imported JS functions included', () => {
    const mb = new ModuleBuilder();
    const hyp = mb.importFunction('env', 'hypot', ['f64', 'f64'], ['f64']);
    const sq = mb.func(null, ['f64'], ['f64'], (f) => void f.get(0).get(0).f64.mul());
    mb.func('f', ['f64', 'f64'], ['f64'], (f) => void f.get(0).call(sq).get(1).call(hyp));
    const ex = instantiate(mb, { env: { hypot: Math.hypot } });
    expect(ex.f(3, 16)).toBe(Math.hypot(9, 16));
  });

  it('loads and stores through an imported memory, SIMD included', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const mb = new ModuleBuilder();
    mb.importMemory('env', 'memory', { initial: 1 });
    // dst[i] = max(a[i]·b[i] + 1, 0) for 4 lanes; then the lane sum
    mb.func('fma', ['i32', 'i32', 'i32'], ['f32'], (f) => {
      const v = f.local('v128');
      f.get(0).v128.load(0, 4).get(1).v128.load(0, 4).f32x4.mul().v128.constF32(1).f32x4.add().v128.constF32(0).f32x4.max().set(v);
      f.get(2).get(v).v128.store(0, 4);
      f.get(v).f32x4.extract_lane(0).get(v).f32x4.extract_lane(1).f32.add().get(v).f32x4.extract_lane(2).f32.add().get(v).f32x4.extract_lane(3).f32.add();
    });
    mb.func('splat', ['i32'], ['f32'], (f) => void f.get(0).v128.load32_splat(4).f32x4.extract_lane(3));
    mb.func('shuffle', ['i32'], ['i32'], (f) => {
      // reverse the four i32 lanes
      f.get(0).v128.load().get(0).v128.load().i8x16.shuffle([12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]).i32x4.extract_lane(0);
    });
    mb.func('lanes', ['i32'], [], (f) => void f.get(0).get(0).v128.load32_zero().v128.store64_lane(0, 16));
    const ex = instantiate(mb, { env: { memory } });
    const f32 = new Float32Array(memory.buffer);
    f32.set([1, -2, 3, -4], 0);
    f32.set([2, 2, 2, 2], 4);
    expect(ex.fma(0, 16, 32)).toBe(3 + 0 + 7 + 0);
    expect([...f32.subarray(8, 12)]).toEqual([3, 0, 7, 0]);
    expect(ex.splat(0)).toBe(-2);
    new Int32Array(memory.buffer).set([10, 20, 30, 40], 12);
    expect(ex.shuffle(48)).toBe(40);
    ex.lanes(0);
    expect([...f32.subarray(4, 6)]).toEqual([1, 0]);
  });

  it('emits every instruction helper into a valid module', () => {
    // one function per group, calling each plain helper on operands of the right types
    const mb = new ModuleBuilder();
    mb.importMemory('env', 'memory', { initial: 1, maximum: 2, shared: true });
    const groups: [keyof FunctionBuilder, 'i32' | 'i64' | 'f32' | 'f64' | 'v128', string[]][] = [
      ['i32', 'i32', ['add', 'sub', 'mul', 'div_s', 'div_u', 'rem_s', 'rem_u', 'and', 'or', 'xor', 'shl', 'shr_s', 'shr_u', 'rotl', 'rotr', 'eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u']],
      ['i64', 'i64', ['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shr_s', 'shr_u']],
      ['f32', 'f32', ['add', 'sub', 'mul', 'div', 'min', 'max', 'copysign']],
      ['f64', 'f64', ['add', 'sub', 'mul', 'div', 'min', 'max', 'copysign']],
      ['f32x4', 'v128', ['add', 'sub', 'mul', 'div', 'min', 'max', 'pmin', 'pmax', 'eq', 'ne', 'lt', 'gt', 'le', 'ge']],
      ['f64x2', 'v128', ['add', 'sub', 'mul', 'div', 'min', 'max', 'pmin', 'pmax', 'eq', 'ne', 'lt', 'gt', 'le', 'ge']],
      ['i32x4', 'v128', ['add', 'sub', 'mul', 'min_s', 'min_u', 'max_s', 'max_u', 'eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u']],
      ['i16x8', 'v128', ['add', 'sub', 'mul', 'narrow_i32x4_s', 'narrow_i32x4_u']],
      ['i8x16', 'v128', ['add', 'sub', 'narrow_i16x8_s', 'narrow_i16x8_u', 'swizzle', 'avgr_u']],
      ['v128', 'v128', ['and', 'or', 'xor', 'andnot']],
    ];
    for (const [g, t, ops] of groups) {
      mb.func(null, [t, t], [t], (f) => {
        for (const op of ops) {
          f.get(0).get(1);
          (f[g] as unknown as Record<string, () => void>)[op]();
          f.set(0);
        }
        f.get(0);
      });
    }
    const unaryV: [keyof FunctionBuilder, string[]][] = [
      ['f32x4', ['abs', 'neg', 'sqrt', 'ceil', 'floor', 'trunc', 'nearest', 'convert_i32x4_s', 'convert_i32x4_u']],
      ['f64x2', ['abs', 'neg', 'sqrt', 'ceil', 'floor', 'trunc', 'nearest', 'promote_low_f32x4', 'convert_low_i32x4_s']],
      ['i32x4', ['abs', 'neg', 'trunc_sat_f32x4_s', 'trunc_sat_f32x4_u', 'extend_low_i16x8_s', 'extend_high_i16x8_u', 'trunc_sat_f64x2_s_zero']],
      ['i16x8', ['abs', 'neg', 'extend_low_i8x16_u', 'extend_high_i8x16_s']],
      ['i8x16', ['abs', 'neg', 'popcnt']],
      ['v128', ['not']],
    ];
    mb.func(null, ['v128'], ['v128'], (f) => {
      for (const [g, ops] of unaryV) for (const op of ops) (f.get(0)[g] as unknown as Record<string, () => FunctionBuilder>)[op]().set(0);
      f.get(0).f32x4.demote_f64x2_zero().set(0);
      f.get(0).get(0).get(0).v128.bitselect().set(0);
      for (const g of ['i8x16', 'i16x8', 'i32x4', 'i64x2'] as const) f.get(0).i32.const(3)[g].shl().set(0);
      f.get(0).i32.const(1).i32x4.shr_s().i32.const(1).i32x4.shr_u().set(0);
      f.get(0).v128.any_true().drop();
      f.get(0).i32x4.all_true().drop();
      f.get(0).i32x4.bitmask().drop();
      f.get(0).f32x4.extract_lane(1).f32x4.splat().get(0).f64x2.extract_lane(1).f64x2.replace_lane(0).set(0);
      f.get(0).i8x16.extract_lane_u(15).i8x16.splat().get(0).i16x8.extract_lane_s(7).i16x8.replace_lane(1).set(0);
      f.get(0).i64x2.extract_lane(1).i64x2.splat().set(0);
      f.get(0);
    });
    mb.func(null, ['i32'], ['i32'], (f) => {
      const v = f.local('v128');
      for (const op of ['load', 'load8x8_s', 'load8x8_u', 'load16x4_s', 'load16x4_u', 'load32x2_s', 'load32x2_u', 'load8_splat', 'load16_splat', 'load32_splat', 'load64_splat', 'load32_zero', 'load64_zero'] as const) f.get(0).v128[op](16).set(v);
      for (const op of ['load8_lane', 'load16_lane', 'load32_lane', 'load64_lane'] as const) f.get(0).get(v).v128[op](1, 8).set(v);
      for (const op of ['store8_lane', 'store16_lane', 'store32_lane', 'store64_lane'] as const) f.get(0).get(v).v128[op](1, 8);
      f.get(0).get(v).v128.store(32);
      f.get(0).i32.load8_u().get(0).i32.load16_s().i32.add().get(0).i64.load().i32.wrap_i64().i32.add().set(0);
      f.get(0).get(0).f32.load().f32.store(4).get(0).get(0).f64.load().f64.store(8);
      f.get(0).f32.load().f64.promote_f32().f32.demote_f64().i32.trunc_f32_s().drop();
      f.get(0).f32.load().sat.i32_trunc_sat_f32_s().drop();
      // atomics
      f.get(0).i32.const(1).i32_atomic.rmw_add().drop();
      f.get(0).i32.const(1).i32_atomic.rmw_sub().drop();
      f.get(0).i32.const(0).i32.const(1).i32_atomic.rmw_cmpxchg().drop();
      f.get(0).i32.const(5).i32_atomic.rmw_xchg().drop();
      f.get(0).i32_atomic.load().drop();
      f.get(0).i32.const(0).i32_atomic.store();
      f.get(0).i32.const(1).memory.atomic_notify().drop();
      f.get(0).i32.const(99).i64.const(0).memory.atomic_wait32().drop();
      f.memory.atomic_fence();
      f.memory.size().drop();
      f.get(0).i32.const(64).i32.const(16).memory.copy();
      f.get(0).i32.const(0).i32.const(16).memory.fill();
      f.get(0);
    });
    expect(() => new WebAssembly.Module(mb.bytes())).not.toThrow();
    expect(WebAssembly.validate(mb.bytes())).toBe(true);
  });

  it('runs atomics on a shared memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const mb = new ModuleBuilder();
    mb.importMemory('env', 'memory', { initial: 1, maximum: 1, shared: true });
    mb.func('bump', ['i32'], ['i32'], (f) => void f.get(0).i32.const(5).i32_atomic.rmw_add());
    // wait32 returns 1 ("not-equal") when the word is not the expected value: no blocking
    mb.func('wait', ['i32'], ['i32'], (f) => void f.get(0).i32.const(-1).i64.const(0).memory.atomic_wait32());
    mb.func('cas', ['i32'], ['i32'], (f) => void f.get(0).i32.const(5).i32.const(7).i32_atomic.rmw_cmpxchg());
    const ex = instantiate(mb, { env: { memory } });
    expect(ex.bump(8)).toBe(0);
    expect(ex.bump(8)).toBe(5);
    expect(ex.wait(8)).toBe(1);
    expect(ex.cas(8)).toBe(10);
    expect(new Int32Array(memory.buffer)[2]).toBe(10);
  });

  it('rejects malformed code at build time with a GraphError', () => {
    const mb = new ModuleBuilder();
    expect(() => mb.func('x', [], [], (f) => void f.f32x4.extract_lane(4))).toThrow(GraphError);
    expect(() => mb.func('y', [], [], (f) => void f.i8x16.shuffle([0, 1]))).toThrow(GraphError);
    expect(() => mb.func('z', [], [], (f) => void f.v128.load(0, 5))).toThrow(/alignment/);
    expect(() => mb.func('w', [], [], (f) => void f.v128.constF32([1, 2]))).toThrow(/4 lanes/);
    const mb2 = new ModuleBuilder();
    expect(() => mb2.importMemory('env', 'memory', { initial: 1, shared: true })).toThrow(/maximum/);
    mb2.func('a', [], [], () => {});
    expect(() => mb2.importFunction('env', 'f', [], [])).toThrow(/before/);
    expect(() => mb2.func('a', [], [], () => {})).toThrow(/twice/);
    // a branch to a closed label
    const mb3 = new ModuleBuilder();
    expect(() =>
      mb3.func('b', [], [], (f) => {
        let outer: Parameters<typeof f.br>[0] | undefined;
        f.block((l) => (outer = l));
        f.br(outer!);
      }),
    ).toThrow(/not open/);
  });
});
