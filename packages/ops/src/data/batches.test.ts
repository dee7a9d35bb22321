import { Tensor } from '@gradgraph/core';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { BatchLoader, batches, dataset, type Batch } from './index';

const n = 10;
const ds = dataset({ x: Array.from({ length: n }, (_, i) => [i, 10 * i]), y: Array.from({ length: n }, (_, i) => i % 3), numClasses: 3 });
const rowsOf = (bs: Iterable<Batch<Tensor | undefined>>) => [...bs].flatMap((b) => Array.from(b.rows));
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
const range = (m: number) => Array.from({ length: m }, (_, i) => i);

describe('batches', () => {
  it('yields (x, y) batches of the right shapes; the last one smaller', () => {
    const loader = batches(ds, { batchSize: 4, seed: 1 });
    expect(loader).toBeInstanceOf(BatchLoader);
    expect(loader.numBatches).toBe(3);
    const bs = [...loader.epoch(1)];
    expect(bs.map((b) => b.x.shape)).toEqual([[4, 2], [4, 2], [2, 2]]);
    expect(bs.map((b) => b.y!.shape)).toEqual([[4], [4], [2]]);
    expect(bs[0].x.dtype).toBe('float32');
    expect(bs[0].y!.dtype).toBe('int32');
    expect(bs.map((b) => [b.epoch, b.index])).toEqual([[1, 0], [1, 1], [1, 2]]);
    // each batch holds the rows it says, with their labels
    for (const b of bs) {
      b.rows.forEach((r, i) => {
        expect(b.x.data[2 * i]).toBe(r);
        expect(b.y!.data[i]).toBe(r % 3);
      });
    }
    expect(sorted(rowsOf(bs))).toEqual(range(n));
  });

  it('drop-last skips the short final batch', () => {
    const loader = batches(ds, { batchSize: 4, dropLast: true });
    expect(loader.numBatches).toBe(2);
    const bs = [...loader.epoch(3)];
    expect(bs.map((b) => b.x.shape[0])).toEqual([4, 4]);
    expect(new Set(rowsOf(bs)).size).toBe(8);
    expect(batches(ds, { batchSize: 20, dropLast: true }).numBatches).toBe(0);
    expect([...batches(ds, { batchSize: 20, dropLast: true }).epoch(1)]).toEqual([]);
  });

  it('shuffles each epoch with an order that depends only on (seed, epoch)', () => {
    const a = batches(ds, { batchSize: 3, seed: 5 });
    const b = batches(ds, { batchSize: 3, seed: 5 });
    // b computes epoch 7 first, without epochs 1–6: same order
    expect(Array.from(b.order(7))).toEqual(Array.from(a.order(7)));
    expect(rowsOf(a.epoch(2))).toEqual(rowsOf(b.epoch(2)));
    // epochs differ from each other, and a different seed differs
    const orders = range(6).map((e) => Array.from(a.order(e + 1)).join(','));
    expect(new Set(orders).size).toBe(6);
    expect(Array.from(batches(ds, { batchSize: 3, seed: 6 }).order(1))).not.toEqual(Array.from(a.order(1)));
    // the order does not depend on the batch size
    expect(Array.from(batches(ds, { batchSize: 7, seed: 5 }).order(4))).toEqual(Array.from(a.order(4)));
    // order() hands out copies
    a.order(1)[0] = 99;
    expect(Array.from(a.order(1))).not.toContain(99);
  });

  it('resumes at batch k of epoch e exactly as an uninterrupted run', () => {
    const loader = batches(ds, { batchSize: 3, seed: 9 });
    const full = [...loader.epoch(4)];
    const resumed = [...batches(ds, { batchSize: 3, seed: 9 }).epoch(4, { startBatch: 2 })];
    expect(resumed.map((b) => b.index)).toEqual([2, 3]);
    resumed.forEach((b, i) => {
      expect(Array.from(b.x.data)).toEqual(Array.from(full[i + 2].x.data));
      expect(Array.from(b.y!.data)).toEqual(Array.from(full[i + 2].y!.data));
    });
    expect(Array.from(loader.batch(4, 3).rows)).toEqual(Array.from(full[3].rows));
    expect([...loader.epoch(4, { startBatch: 4 })]).toEqual([]);
    // 4 batches per epoch: after 9 batches, the next is the second (index 1) of the third epoch
    expect(loader.locate(9)).toEqual({ epoch: 3, index: 1 });
    expect(loader.locate(0)).toEqual({ epoch: 1, index: 0 });
  });

  it('without shuffle keeps the row order', () => {
    const loader = batches(ds, { batchSize: 4, shuffle: false });
    expect(rowsOf(loader.epoch(3))).toEqual(range(n));
    expect(rowsOf(loader)).toEqual(range(n));
  });

  it('batches plain tensors of any rank, with or without y', () => {
    const x = Tensor.from([[[1, 2]], [[3, 4]], [[5, 6]]]);
    const loader = batches({ x }, { batchSize: 2, shuffle: false });
    const [b0, b1] = [...loader];
    expect(b0.x.toArray()).toEqual([[[1, 2]], [[3, 4]]]);
    expect(b1.x.shape).toEqual([1, 1, 2]);
    expect(b0.y).toBeUndefined();
  });

  it('refuses bad options with clear errors', () => {
    expect(() => batches(ds, { batchSize: 0 })).toThrow(/batches: batchSize must be an integer ≥ 1, got 0/);
    expect(() => batches(ds, {} as { batchSize: number })).toThrow(/batchSize must be an integer ≥ 1, got undefined/);
    expect(() => batches(ds, { batchSize: 2, seed: 0.5 })).toThrow(/seed must be a safe integer, got 0.5/);
    expect(() => batches({ x: Tensor.zeros([3, 2]), y: Tensor.zeros([2]) }, { batchSize: 2 })).toThrow(/x has 3 rows but y has 2/);
    expect(() => batches(dataset({ x: [[1]] }), { batchSize: 1 })).toThrow(/batches: the data set has no labels; to batch features alone, pass \{ x: ds.x \}/);
    const loader = batches(ds, { batchSize: 4 });
    expect(() => loader.epoch(-1)).toThrow(/BatchLoader.epoch: epoch must be an integer ≥ 1, got -1/);
    // epochs are numbered from 1, as fit prints them: a loop written for 0-based epochs is told so
    expect(() => loader.epoch(0)).toThrow(/BatchLoader.epoch: epochs are numbered from 1 \(as train.fit prints them\): the first epoch is loader.epoch\(1\)/);
    expect(() => loader.order(0)).toThrow(/BatchLoader.order: epochs are numbered from 1/);
    expect(() => loader.epoch(1, { startBatch: 4 })).toThrow(/startBatch must be an integer in \[0, 3\], got 4/);
    expect(() => loader.epoch(1, { start: 2 } as never)).toThrow(/BatchLoader.epoch: unknown option "start" \(the option is startBatch\)/);
    expect(() => loader.batch(1, 3)).toThrow(/index must be an integer in \[0, 2\], got 3/);
  });

  test.prop([fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 16 }), fc.integer(), fc.nat(1000), fc.boolean()])(
    'an epoch visits every row once (all but the remainder with dropLast)',
    (m, batchSize, seed, e, dropLast) => {
      const epoch = e + 1;
      const loader = batches({ x: Tensor.from(range(m)) }, { batchSize, seed, dropLast });
      const seen = rowsOf(loader.epoch(epoch));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(dropLast ? m - (m % batchSize) : m);
      expect(sorted(Array.from(loader.order(epoch)))).toEqual(range(m));
    },
  );
});
