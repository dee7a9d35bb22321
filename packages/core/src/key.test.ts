import { describe, expect, it } from 'vitest';
import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import * as api from './api';
import { compile } from './compile';
import { Graph } from './graph';
import { nodeKey, numberKey, valueKey } from './key';
import { nodeKey as workNodeKey } from './compiler/work';
import { Tensor } from './tensor';

/** The IEEE-754 bits of a float64, as a string: the identity the keys must respect. */
function bitsOf(x: number): string {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  return `${v.getUint32(0)}:${v.getUint32(4)}`;
}

/** Doubles with every special value over-represented, NaNs with several payloads included. */
const anyDouble = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, Infinity, -Infinity, NaN, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 1, -1, 0.1),
  fc.tuple(fc.nat({ max: 0xfffff }), fc.nat()).map(([hi, lo]) => {
    const v = new DataView(new ArrayBuffer(8));
    v.setUint32(0, 0x7ff00000 | hi | 1); // a NaN (exponent all ones, mantissa non-zero)
    v.setUint32(4, lo);
    return v.getFloat64(0);
  }),
);

describe('hash-consing keys', () => {
  test.prop([anyDouble, anyDouble], { numRuns: 2000 })('two numbers have the same key exactly when they have the same bits', (a, b) => {
    expect(numberKey(a) === numberKey(b)).toBe(bitsOf(a) === bitsOf(b));
    expect(valueKey({ value: a }) === valueKey({ value: b })).toBe(bitsOf(a) === bitsOf(b));
  });

  test.prop([fc.array(anyDouble, { minLength: 1, maxLength: 6 }), fc.array(anyDouble, { minLength: 1, maxLength: 6 }), fc.constantFrom('float64' as const, 'float32' as const)], { numRuns: 500 })(
    'two constants have the same key exactly when dtype, shape and every element’s bits agree',
    (xs, ys, dtype) => {
      const a = Tensor.from(xs, dtype);
      const b = Tensor.from(ys, dtype);
      const bytes = (t: Tensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).join(',');
      const same = a.size === b.size && bytes(a) === bytes(b);
      expect(valueKey(a) === valueKey(b)).toBe(same);
    },
  );

  it('tells numbers, strings, booleans, null and undefined apart, and nests', () => {
    const keys = [1, '1', 'n1', true, 'true', null, 'null', undefined, [1], { a: 1 }, { a: '1' }, [[1]], Infinity, 'Infinity', NaN, 'NaN'].map(valueKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(valueKey({ b: 1, a: 2 })).toBe(valueKey({ a: 2, b: 1 }));
    expect(valueKey({ pads: [[1, 1]], value: Tensor.zeros([300]) })).toBeNull();
  });

  it('graph.ts and the compiler use the same key (commutative ops aside)', () => {
    for (const value of [-Infinity, Infinity, NaN, -0, 0, 1e-320]) {
      const attrs = { pads: [[1, 1]], value };
      expect(workNodeKey('pad', [3], attrs, 'float64')).toBe(nodeKey('pad', [3], attrs, 'float64'));
    }
  });

  it('pad with −∞, +∞ and NaN are three different nodes, and compute three different things', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const pads = [[1, 1]] as const;
    const [a, b, c, z, nz] = [-Infinity, Infinity, NaN, 0, -0].map((v) => api.pad(x, pads, v));
    expect(new Set([a.id, b.id, c.id, z.id, nz.id]).size).toBe(5);
    const out = compile(g, { outputs: [a, b, c, z, nz] }).run({ x: Tensor.from([1, 2], 'float64') });
    expect(Array.from(out[0].data)).toEqual([-Infinity, 1, 2, -Infinity]);
    expect(Array.from(out[1].data)).toEqual([Infinity, 1, 2, Infinity]);
    expect(Number.isNaN(out[2].data[0]) && Number.isNaN(out[2].data[3])).toBe(true);
    expect(Object.is(out[4].data[0], -0) && Object.is(out[3].data[0], 0)).toBe(true);
    // the compiler keeps them apart too (cse, folding, rules)
    const both = compile(g, { outputs: [api.sum(a), api.sum(b), api.sum(c)] }).run({ x: Tensor.from([1, 2], 'float64') });
    expect(both.map((t) => t.item())).toEqual([-Infinity, Infinity, NaN]);
  });
});
