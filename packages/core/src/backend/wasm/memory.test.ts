import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../errors';
import { ALIGN, canShareMemory, CONTROL_BYTES, Heap, heap, PAGE_BYTES } from './memory';

describe('Heap', () => {
  it('is shared where the platform allows it (Node 20 does)', () => {
    expect(canShareMemory()).toBe(true);
    expect(heap().shared).toBe(true);
    expect(heap()).toBe(heap());
    expect(new Heap({ shared: false }).shared).toBe(false);
  });

  it('hands out 16-byte-aligned, disjoint blocks above the control bytes', () => {
    const h = new Heap({ initialPages: 1 });
    const a = h.alloc(1);
    const b = h.alloc(17);
    const c = h.alloc(0);
    for (const p of [a, b, c]) {
      expect(p % ALIGN).toBe(0);
      expect(p).toBeGreaterThanOrEqual(CONTROL_BYTES);
    }
    expect(h.sizeOf(a)).toBe(16);
    expect(h.sizeOf(b)).toBe(32);
    expect(b).toBeGreaterThanOrEqual(a + 16);
    expect(c).toBeGreaterThanOrEqual(b + 32);
    expect(h.allocatedBytes).toBe(64);
  });

  it('reuses freed space and merges neighbours', () => {
    const h = new Heap({ initialPages: 1 });
    const a = h.alloc(100);
    const b = h.alloc(100);
    const c = h.alloc(100);
    h.free(a);
    h.free(b);
    // a and b merged: 224 bytes fit where a was
    expect(h.alloc(220)).toBe(a);
    h.free(c);
    expect(() => h.free(c)).toThrow(GraphError);
    expect(() => h.sizeOf(12345)).toThrow(GraphError);
  });

  it('grows the memory; views re-made after growth see old and new bytes', () => {
    for (const shared of [true, false]) {
      const h = new Heap({ initialPages: 1, shared });
      const a = h.alloc(1000);
      h.f32[a / 4] = 1.5;
      const big = h.alloc(3 * PAGE_BYTES);
      expect(h.byteLength).toBeGreaterThanOrEqual(4 * PAGE_BYTES);
      expect(h.f32[a / 4]).toBe(1.5);
      h.f32[big / 4 + 3 * (PAGE_BYTES / 4) - 1] = 2.5;
      expect(h.view(big, 'float32', 3 * (PAGE_BYTES / 4))[3 * (PAGE_BYTES / 4) - 1]).toBe(2.5);
      expect(h.i32.length * 4).toBe(h.byteLength);
    }
  });

  it('throws a GraphError when the maximum is reached, and for bad sizes and alignment', () => {
    const h = new Heap({ initialPages: 1, maxPages: 2 });
    expect(() => h.alloc(3 * PAGE_BYTES)).toThrow(/full/);
    expect(() => h.alloc(-1)).toThrow(GraphError);
    expect(() => h.view(CONTROL_BYTES + 2, 'float32', 1)).toThrow(/aligned/);
    // still usable after the failure
    expect(h.alloc(PAGE_BYTES) % ALIGN).toBe(0);
  });

  it('allocZeroed says when a block is known to hold zeros: never in a block since the memory grew', () => {
    const h = new Heap({ initialPages: 1 });
    const a = h.allocZeroed(1000);
    expect(a.zero).toBe(true);
    expect(h.view(a.ptr, 'uint8', 1000).every((v) => v === 0)).toBe(true);
    h.view(a.ptr, 'uint8', 1000).fill(7);
    h.free(a.ptr);
    // the same bytes again: written before, so not known to be zero
    const b = h.allocZeroed(1000);
    expect(b.ptr).toBe(a.ptr);
    expect(b.zero).toBe(false);
    // past everything handed out so far, and after growth: zero
    const c = h.allocZeroed(3 * PAGE_BYTES);
    expect(c.zero).toBe(true);
    expect(h.view(c.ptr, 'uint8', 3 * PAGE_BYTES).every((v) => v === 0)).toBe(true);
  });

  it('reserve makes room ahead and hands the pages likely to be written next to onFreshPages, once', () => {
    const h = new Heap({ initialPages: 1 });
    const asked: [number, number][] = [];
    h.onFreshPages((from, to) => asked.push([from, to]));
    h.reserve(5 * PAGE_BYTES);
    const grown = h.byteLength;
    expect(grown).toBeGreaterThanOrEqual(6 * PAGE_BYTES);
    expect(asked).toHaveLength(1);
    const [from, to] = asked[0];
    // from the first free block that fits, at least the reserved bytes (and at most the memory)
    expect(to - from).toBeGreaterThanOrEqual(5 * PAGE_BYTES);
    expect(to).toBeLessThanOrEqual(grown);
    // the allocation then needs no growth, and lands in the faulted range
    const p = h.alloc(5 * PAGE_BYTES);
    expect(h.byteLength).toBe(grown);
    expect(p).toBeGreaterThanOrEqual(from);
    expect(p + 5 * PAGE_BYTES).toBeLessThanOrEqual(to);
    // pages already handed out are not asked for again
    h.free(p);
    h.reserve(5 * PAGE_BYTES);
    expect(asked).toHaveLength(1);
  });

  test.prop([fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5000 })), { maxLength: 60 })])('never overlaps live blocks', (ops) => {
    const h = new Heap({ initialPages: 1 });
    const live: number[] = [];
    for (const [isAlloc, n] of ops) {
      if (isAlloc || live.length === 0) live.push(h.alloc(n));
      else h.free(live.splice(n % live.length, 1)[0]);
      const spans = live.map((p) => [p, p + h.sizeOf(p)]).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
      for (const [s, e] of spans) expect(e).toBeLessThanOrEqual(h.byteLength);
    }
  });
});
