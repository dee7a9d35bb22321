/**
 * Mini-batches with a seeded shuffle per epoch. Epochs are numbered from 1, as `train.fit`
 * prints and records them; batches within an epoch are indexed from 0, like rows. Epoch e's
 * order is a pure function of (seed, e): it draws from its own generator, so it doesn't depend
 * on earlier epochs, and a run resumed from a checkpoint at (epoch e, batch k) sees exactly the
 * batches an uninterrupted run would have seen.
 */
import { Tensor } from '@gradgraph/core';
import { Dataset, takeRows } from './dataset';
import { checkInt, checkOptionKeys, DataError, fmtValue } from './errors';
import { checkSeed, permutationFrom, rngFor } from './random';

/** What {@link batches} takes. */
export interface BatchOptions {
  /** Rows per batch (the last batch of an epoch may be smaller unless `dropLast`). */
  batchSize: number;
  /** Shuffle the rows each epoch; default true. */
  shuffle?: boolean;
  /** PRNG seed of the shuffles; default 0. */
  seed?: number;
  /** Skip the last, smaller batch of each epoch; default false. */
  dropLast?: boolean;
}

/** A mini-batch: rows `rows` of the data set. `Y` is `Tensor` for labeled data, `undefined` for `{ x }` alone. */
export interface Batch<Y extends Tensor | undefined = Tensor> {
  /** Features, `[m, ...]` with m ≤ batchSize, the data's dtype. */
  x: Tensor;
  /** Labels or targets of the same rows (int32 class indices for classification). */
  y: Y;
  /** The epoch this batch belongs to (1-based: the first epoch is 1). */
  epoch: number;
  /** Its position in the epoch (0-based). */
  index: number;
  /** Positions of its rows in the data set. */
  rows: Int32Array;
}

/** Tensors to batch when there is no Dataset: `x` `[n, ...]` and optionally `y` `[n, ...]`. */
export interface TensorPair {
  x: Tensor;
  y?: Tensor;
}

/** The label type of the batches of a source. */
export type LabelsOf<S> = S extends Dataset ? Tensor : S extends { y: Tensor } ? Tensor : undefined;

/**
 * Mini-batches over a data set, epoch by epoch. `epoch(e)` iterates epoch e (optionally starting
 * at batch k); `order(e)` is the row order of epoch e; `batch(e, k)` is one batch. Epochs are
 * numbered from 1 (as `train.fit` prints them), batch indices from 0. Everything is a function of
 * (seed, e, k), so any batch can be reproduced without replaying the ones before it.
 *
 * @example
 * const loader = data.batches(train, { batchSize: 32, seed: 1 });
 * for (let e = 1; e <= 10; e++) {
 *   for (const { x, y } of loader.epoch(e)) step.run({ x, y });
 * }
 */
export class BatchLoader<Y extends Tensor | undefined = Tensor> implements Iterable<Batch<Y>> {
  readonly x: Tensor;
  readonly y: Y;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  private cached?: { epoch: number; order: Int32Array };

  constructor(source: Dataset | TensorPair, opts: BatchOptions) {
    const op = 'batches';
    if (source instanceof Dataset) {
      if (!source.y) throw new DataError(`the data set has no labels; to batch features alone, pass { x: ds.x }`, { op });
      this.x = source.x;
      this.y = source.y as Y;
    } else {
      if (!source || !(source.x instanceof Tensor)) throw new DataError(`expects a Dataset or { x: Tensor, y?: Tensor }, got ${fmtValue(source)}`, { op });
      if (source.x.rank < 1) throw new DataError(`x must have a row axis; got a scalar`, { op });
      if (source.y !== undefined) {
        if (!(source.y instanceof Tensor) || source.y.rank < 1) throw new DataError(`y must be a Tensor with a row axis, got ${fmtValue(source.y)}`, { op });
        if (source.y.shape[0] !== source.x.shape[0]) throw new DataError(`x has ${source.x.shape[0]} rows but y has ${source.y.shape[0]}`, { op });
      }
      this.x = source.x;
      this.y = source.y as Y;
    }
    if (!opts || typeof opts !== 'object') throw new DataError(`expects options { batchSize, shuffle?, seed?, dropLast? }, got ${fmtValue(opts)}`, { op });
    checkOptionKeys(op, opts, ['batchSize', 'shuffle', 'seed', 'dropLast']);
    this.batchSize = checkInt(op, 'batchSize', opts.batchSize, 1);
    this.seed = checkSeed(op, opts.seed ?? 0);
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    if (typeof this.shuffle !== 'boolean') throw new DataError(`shuffle must be a boolean, got ${fmtValue(this.shuffle)}`, { op });
    if (typeof this.dropLast !== 'boolean') throw new DataError(`dropLast must be a boolean, got ${fmtValue(this.dropLast)}`, { op });
  }

  /** Rows in the data set. */
  get size(): number {
    return this.x.shape[0];
  }

  /**
   * What determines every batch, as plain data: save it in a checkpoint and compare on resume
   * (a different seed, batch size or row count would silently change the remaining batches).
   *
   * @example JSON.stringify(loader.config); // {"size":120,"batchSize":16,"shuffle":true,"seed":1,"dropLast":false}
   */
  get config(): { size: number; batchSize: number; shuffle: boolean; seed: number; dropLast: boolean } {
    return { size: this.size, batchSize: this.batchSize, shuffle: this.shuffle, seed: this.seed, dropLast: this.dropLast };
  }

  /**
   * Batches per epoch: ⌈n / batchSize⌉, or ⌊n / batchSize⌋ with `dropLast`.
   * @example data.batches(train, { batchSize: 16 }).numBatches; // 8 for 120 rows
   */
  get numBatches(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /**
   * The row order of epoch `epoch` (1, 2, ...; a fresh copy): a permutation drawn from
   * (seed, epoch) only, or `0..n-1` without shuffling.
   *
   * @example loader.order(3); // the same Int32Array on every run with the same seed
   */
  order(epoch: number): Int32Array {
    checkEpoch('BatchLoader.order', epoch);
    return this.orderOf(epoch).slice();
  }

  private orderOf(epoch: number): Int32Array {
    if (this.cached?.epoch !== epoch) {
      // the generator is keyed by e − 1: the orders are those of the releases that counted from 0
      const order = this.shuffle ? permutationFrom(this.size, rngFor(this.seed, 'batches', epoch - 1)) : Int32Array.from({ length: this.size }, (_, i) => i);
      this.cached = { epoch, order };
    }
    return this.cached.order;
  }

  /**
   * Batch `index` (0-based) of epoch `epoch` (1-based).
   *
   * @example const { x, y } = loader.batch(3, 5); // the 6th batch of the 3rd epoch
   */
  batch(epoch: number, index: number): Batch<Y> {
    const op = 'BatchLoader.batch';
    checkEpoch(op, epoch);
    if (this.numBatches === 0) throw new DataError(`there are no batches: ${this.size} rows, batchSize ${this.batchSize}, dropLast`, { op });
    checkInt(op, 'index', index, 0, this.numBatches - 1);
    const order = this.orderOf(epoch);
    const rows = order.slice(index * this.batchSize, Math.min((index + 1) * this.batchSize, this.size));
    const y = (this.y === undefined ? undefined : takeRows(this.y, rows)) as Y;
    return { x: takeRows(this.x, rows), y, epoch, index, rows };
  }

  /**
   * The batches of epoch `epoch`, from batch `startBatch` (default 0) on — to resume mid-epoch.
   *
   * @example
   * // resume from a checkpoint taken after 8 batches of epoch 4 (indices 0..7)
   * for (const b of loader.epoch(4, { startBatch: 8 })) step.run({ x: b.x, y: b.y });
   */
  epoch(epoch: number, opts: { startBatch?: number } = {}): Generator<Batch<Y>, void, undefined> {
    // checked here, not in the generator body, so bad arguments throw at the call
    const op = 'BatchLoader.epoch';
    checkEpoch(op, epoch);
    if (!opts || typeof opts !== 'object') throw new DataError(`options must be an object { startBatch }, got ${fmtValue(opts)}`, { op });
    for (const k of Object.keys(opts)) if (k !== 'startBatch') throw new DataError(`unknown option "${k}" (the option is startBatch)`, { op });
    const start = checkInt(op, 'startBatch', opts.startBatch ?? 0, 0, this.numBatches);
    return this.batchesFrom(epoch, start);
  }

  private *batchesFrom(epoch: number, start: number): Generator<Batch<Y>, void, undefined> {
    for (let k = start; k < this.numBatches; k++) yield this.batch(epoch, k);
  }

  /**
   * Where the batch after `step` batches of training falls: its epoch (1-based) and its index in
   * that epoch (0-based).
   *
   * @example loader.locate(250); // { epoch: 3, index: 16 } for 117 batches per epoch
   */
  locate(step: number): { epoch: number; index: number } {
    checkInt('BatchLoader.locate', 'step', step, 0);
    const m = this.numBatches;
    if (m === 0) throw new DataError(`there are no batches: ${this.size} rows, batchSize ${this.batchSize}, dropLast`, { op: 'BatchLoader.locate' });
    return { epoch: Math.floor(step / m) + 1, index: step % m };
  }

  /** Epoch 1's batches (`for (const b of loader)`); use `epoch(e)` for the others. */
  [Symbol.iterator](): Iterator<Batch<Y>> {
    return this.epoch(1);
  }
}

/** Epochs are numbered from 1; an epoch 0 is a loop written for the old 0-based numbering. */
function checkEpoch(op: string, epoch: unknown): number {
  if (epoch === 0) throw new DataError('epochs are numbered from 1 (as train.fit prints them): the first epoch is loader.epoch(1)', { op });
  return checkInt(op, 'epoch', epoch, 1);
}

/**
 * Mini-batches over a labeled Dataset (or `{ x, y }` tensors, or `{ x }` alone for unlabeled
 * data) with a seeded shuffle each epoch and optional drop-last. See {@link BatchLoader}.
 *
 * @example
 * const loader = data.batches(train, { batchSize: 16, seed: 42, dropLast: true });
 * loader.numBatches;               // ⌊train.size / 16⌋
 * const first = loader.batch(1, 0); // { x: Tensor [16, d], y: Tensor [16], epoch: 1, index: 0, rows }
 */
export function batches<S extends Dataset | TensorPair>(source: S, opts: BatchOptions): BatchLoader<LabelsOf<S>> {
  return new BatchLoader<LabelsOf<S>>(source, opts);
}
