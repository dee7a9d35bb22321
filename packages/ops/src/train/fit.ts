/**
 * The fit loop. For each epoch: the loader's batches (a seeded order per epoch) go through the
 * compiled training step; the batch losses and metric accumulators build the epoch's training
 * logs; the validation data goes through the evaluation program; callbacks run (early stopping,
 * checkpoints, progress). Everything `fit` knows is either in the graph (params, state, RNG
 * counter) or in a small JSON state (position, history, accumulators, callbacks' state), so a
 * checkpoint taken at any batch resumes bit for bit.
 */
import { GradgraphError, Tensor, allocArray, type Feeds, type Graph, type TypedArray } from '@gradgraph/core';
import { BatchLoader, Dataset, batches, type TensorPair } from '../data/index';

/** A loader with or without targets. */
type AnyLoader = BatchLoader<Tensor | undefined>;
import { checkpoint as makeCheckpoint, checkCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointDocument, type RestoreOptions } from './checkpoint';
import { EarlyStopping, checkCallbacks, type BatchInfo, type Callback, type EarlyStoppingOptions, type EpochLogs, type FitCheckpointOptions, type FitContext, type StopInfo } from './callbacks';
import type { ScalerFit } from '../data/index';
import { CheckpointError, TrainError, checkKeys, fmtValue, intOption } from './errors';
import { checkMetricSpec, decodeNumber, encodeNumber, metricAccumulator, metricName, type MetricAccumulator, type MetricSpec } from './metrics';
import { progress, type ProgressOptions } from './progress';
import { asStep, type TrainingStep, type TrainingStepOptions } from './step';
import type { Executable } from '@gradgraph/core';

/** What training data `fit` takes: a loader, or a Dataset / `{ x, y }` it batches itself. */
export type FitData = BatchLoader<Tensor> | BatchLoader<undefined> | BatchLoader<Tensor | undefined> | Dataset | TensorPair;

export interface FitOptions {
  /** The compiled step (`trainingStep`, `fromExecutables`), a training Executable, or trainingStep's options. */
  step: TrainingStep | Executable | TrainingStepOptions;
  /** Training data: a `data.batches(...)` loader, or a Dataset / `{ x, y }` batched with the options below. */
  data: FitData;
  /** Train until this many epochs are done (a resumed run continues to the same number). */
  epochs: number;
  /**
   * The first epoch to run (default 1): to continue a run whose graph was saved after epoch
   * `startEpoch − 1` (with `train.savedStep`), on the batches those epochs would have had.
   * A `resume` checkpoint brings its own position.
   */
  startEpoch?: number;
  /** Rows per batch when `data` is not a loader. Default 32. */
  batchSize?: number;
  /** Shuffle each epoch when `data` is not a loader. Default true. */
  shuffle?: boolean;
  /** Shuffle seed when `data` is not a loader. Default the graph's seed. */
  seed?: number;
  /** Drop each epoch's last, smaller batch when `data` is not a loader. Default false. */
  dropLast?: boolean;
  /** Evaluated after every epoch (evaluation mode, no updates): gives `valLoss` and `val<Metric>`. */
  validation?: FitData;
  /** Rows per validation batch. Default all rows in one batch. */
  validationBatchSize?: number;
  /** `'accuracy'`, `'mae'`, `'mse'`, `'r2'` or `{ name, fn }`; need the step's predictions. */
  metrics?: readonly MetricSpec[];
  /** Binary predictions (`[n]` or `[n, 1]` scores) count as class 1 above this (accuracy). Default 0.5. */
  threshold?: number;
  /** Early stopping options (or an `EarlyStopping` callback). */
  earlyStopping?: EarlyStoppingOptions | EarlyStopping;
  callbacks?: readonly Callback[];
  /** The progress display: `'auto'` (default: a bar on a TTY, else a line per epoch), `'bar'`, `'lines'`, options, or false. */
  progress?: boolean | 'auto' | 'bar' | 'lines' | ProgressOptions;
  /** Resume the run a checkpoint was saved from (by a callback during fit): values, position, history, callbacks. */
  resume?: Checkpoint;
  /** How strictly `resume` must match the graph (see `restoreCheckpoint`). */
  resumeOptions?: RestoreOptions;
  /** Scaler fits saved in every checkpoint taken during this fit (e.g. `{ x: fit }`). */
  preprocessing?: Record<string, ScalerFit>;
  /** Configuration saved in every checkpoint's manifest: any JSON. */
  config?: unknown;
}

/**
 * What `fit` returns: one `EpochLogs` record per finished epoch, every batch's training loss,
 * epoch times, and why training stopped early, if it did.
 */
export class History {
  /** One record per finished epoch: `{ epoch, loss, valLoss?, accuracy?, valAccuracy?, ... }`; `epoch` counts from 1, as printed. */
  readonly epochs: EpochLogs[] = [];
  /** The training loss of every batch, in order (index = global step − 1). */
  readonly batchLoss: number[] = [];
  /**
   * Wall-clock milliseconds of each epoch: the one thing that differs between two runs with the
   * same seeds, so checkpoints leave it out (epochs before a resume read NaN here).
   */
  readonly epochTime: number[] = [];
  /** Set when training stopped before its last epoch (early stopping, `ctx.stop()`, NaN). */
  stopped: StopInfo | null = null;
  /** The epoch (1-based, as printed) whose params early stopping put back, or null. */
  restoredEpoch: number | null = null;

  /**
   * One log's values, epoch by epoch (NaN where an epoch lacks it).
   * @example history.series('valAccuracy');
   */
  series(name: string): number[] {
    if (!this.epochs.some((e) => name in e)) {
      const names = [...new Set(this.epochs.flatMap((e) => Object.keys(e)))].filter((k) => k !== 'epoch');
      throw new TrainError('History.series', `no epoch has "${name}"${names.length ? `; the logs have ${names.join(', ')}` : ' (no epoch has finished)'}`);
    }
    return this.epochs.map((e) => (name in e ? e[name] : NaN));
  }

  /** The mean training loss per epoch. */
  get loss(): number[] {
    return this.epochs.map((e) => e.loss);
  }

  /** The validation loss per epoch (empty without validation data). */
  get valLoss(): number[] {
    return this.epochs.some((e) => 'valLoss' in e) ? this.series('valLoss') : [];
  }

  /**
   * A JSON-able copy (NaN and ±Infinity as strings).
   * @example writeFileSync('history.json', JSON.stringify(history.toJSON()));
   */
  toJSON(): HistoryDocument {
    return {
      version: HISTORY_VERSION,
      epochs: this.epochs.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, encodeNumber(v)]))),
      batchLoss: this.batchLoss.map(encodeNumber),
      epochTime: this.epochTime.map(encodeNumber),
      stopped: this.stopped && { ...this.stopped },
      restoredEpoch: this.restoredEpoch,
    };
  }

  /**
   * Reads `toJSON()` back. A document without a version was written when epochs were counted
   * from 0: its epoch numbers are moved up by one.
   * @example const h = train.History.fromJSON(JSON.parse(readFileSync('history.json', 'utf8')));
   */
  static fromJSON(doc: unknown): History {
    const op = 'History.fromJSON';
    const d = doc as HistoryDocument;
    if (!d || typeof d !== 'object' || !Array.isArray(d.epochs) || !Array.isArray(d.batchLoss) || !Array.isArray(d.epochTime)) throw new TrainError(op, 'expects { epochs, batchLoss, epochTime }');
    if (d.version !== undefined && d.version !== HISTORY_VERSION) throw new TrainError(op, `unsupported history version ${fmtValue(d.version)} (this library reads version ${HISTORY_VERSION})`);
    const shift = d.version === undefined ? 1 : 0; // 0-based epochs before version 2
    const h = new History();
    d.epochs.forEach((e, i) => {
      if (!e || typeof e !== 'object') throw new TrainError(op, `epoch record ${i} is ${fmtValue(e)}`);
      const logs = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, decodeNumber(v, op, `epochs[${i}].${k}`)])) as EpochLogs;
      if (!Number.isInteger(logs.epoch) || logs.epoch + shift < 1 || typeof logs.loss !== 'number') throw new TrainError(op, `epoch record ${i} needs an epoch number (from 1) and a loss`);
      logs.epoch += shift;
      h.epochs.push(logs);
    });
    d.batchLoss.forEach((v, i) => h.batchLoss.push(decodeNumber(v, op, `batchLoss[${i}]`)));
    d.epochTime.forEach((v, i) => h.epochTime.push(decodeNumber(v, op, `epochTime[${i}]`)));
    if (d.stopped) {
      if (typeof d.stopped !== 'object' || !Number.isInteger(d.stopped.epoch) || !Number.isInteger(d.stopped.batch) || typeof d.stopped.reason !== 'string') throw new TrainError(op, `stopped must be null or { epoch, batch, reason }, got ${fmtValue(d.stopped)}`);
      h.stopped = { epoch: d.stopped.epoch + shift, batch: d.stopped.batch, reason: d.stopped.reason };
    }
    const restored = d.restoredEpoch ?? null;
    if (restored !== null && !Number.isInteger(restored)) throw new TrainError(op, `restoredEpoch must be null or an epoch number, got ${fmtValue(restored)}`);
    h.restoredEpoch = restored === null ? null : restored + shift;
    return h;
  }
}

/** The version of `History.toJSON()` documents: 2 counts epochs from 1 (none: from 0). */
export const HISTORY_VERSION = 2;

export interface HistoryDocument {
  version?: number;
  epochs: Record<string, number | string>[];
  batchLoss: (number | string)[];
  epochTime: (number | string)[];
  stopped: StopInfo | null;
  restoredEpoch: number | null;
}

/** The fit loop's state in a checkpoint (version 2: epochs from 1). */
interface FitStateDocument {
  version: 2;
  /** The first epoch the run trained (fit's `startEpoch`; 1 unless it continued a saved graph). */
  startEpoch?: number;
  epoch: number;
  batch: number;
  step: number;
  metrics: string[];
  partial: { lossSum: number | string; rows: number; metrics: Record<string, unknown> };
  history: HistoryDocument;
  callbacks: Record<string, unknown>;
}

// ---- data ------------------------------------------------------------------------------------

function toLoader(op: string, what: string, d: unknown, opts: { batchSize?: number; shuffle?: boolean; seed?: number; dropLast?: boolean }): AnyLoader {
  if (d instanceof BatchLoader) {
    const set = Object.entries(opts).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (set.length) throw new TrainError(op, `${what} is a BatchLoader, which has its own ${set.join(', ')}; set them in data.batches(...) instead`);
    return d as AnyLoader;
  }
  if (d instanceof Dataset || (d && typeof d === 'object' && (d as TensorPair).x instanceof Tensor)) {
    return batches(d as Dataset | TensorPair, { batchSize: opts.batchSize ?? 32, shuffle: opts.shuffle ?? true, seed: opts.seed ?? 0, dropLast: opts.dropLast ?? false });
  }
  throw new TrainError(op, `${what} must be a data.batches(...) loader, a Dataset or { x: Tensor, y?: Tensor }, got ${fmtValue(d)}`);
}

/** Row-wise concatenation of tensors with the same trailing shape. */
function concatRows(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const n = parts.reduce((s, t) => s + t.shape[0], 0);
  const out = allocArray(first.dtype, parts.reduce((s, t) => s + t.size, 0));
  let at = 0;
  for (const t of parts) {
    (out as TypedArray).set(t.data as never, at);
    at += t.size;
  }
  return new Tensor(first.dtype, [n, ...first.shape.slice(1)], out as TypedArray);
}

// ---- evaluation -----------------------------------------------------------------------------

function runEvaluation(op: string, step: TrainingStep, loader: AnyLoader, metrics: readonly MetricSpec[], threshold: number | undefined): Record<string, number> {
  const accs = metrics.map((m) => metricAccumulator(m, { threshold }));
  let lossSum = 0;
  let rows = 0;
  for (const b of loader.epoch(1)) {
    const r = step.evalBatch(b);
    const m = b.x.shape[0];
    lossSum += r.loss * m;
    rows += m;
    if (accs.length) {
      if (!r.predictions) throw new TrainError(op, 'metrics need the model\'s predictions: pass `predictions` to trainingStep (or a second output to the programs)');
      if (!b.y) throw new TrainError(op, 'metrics need targets: the data has no y');
      for (const a of accs) a.update(r.predictions, b.y);
    }
  }
  const out: Record<string, number> = { loss: rows ? lossSum / rows : NaN };
  for (const a of accs) out[a.name] = a.result();
  return out;
}

/**
 * The loss (row-weighted mean of the batch losses) and metrics of a step on a whole data set, in
 * evaluation mode, without updates.
 *
 * @example
 * const { loss, accuracy } = train.evaluate(step, test, { metrics: ['accuracy'] });
 */
export function evaluate(step: TrainingStep, ds: FitData, opts: { metrics?: readonly MetricSpec[]; batchSize?: number; threshold?: number } = {}): Record<string, number> {
  const op = 'train.evaluate';
  const o = checkKeys(op, opts, ['metrics', 'batchSize', 'threshold']);
  const s = asStep(op, step);
  const metrics = checkMetrics(op, o.metrics);
  const size = ds instanceof BatchLoader ? ds.size : ds instanceof Dataset ? ds.size : (ds as TensorPair)?.x?.shape?.[0];
  const loader = toLoader(op, 'data', ds, ds instanceof BatchLoader ? {} : { batchSize: o.batchSize === undefined ? Math.max(size ?? 1, 1) : intOption(op, 'batchSize', o.batchSize, 1, 1), shuffle: false });
  return runEvaluation(op, s, loader, metrics, o.threshold as number | undefined);
}

/**
 * The step's predictions for features `x` (a Tensor `[n, ...]` or a Dataset), in evaluation mode,
 * `batchSize` rows at a time (default all at once).
 *
 * @example const logits = train.predict(step, test); // Tensor [n, classes]
 */
export function predict(step: TrainingStep, x: Tensor | Dataset, opts: { batchSize?: number } = {}): Tensor {
  const op = 'train.predict';
  const o = checkKeys(op, opts, ['batchSize']);
  const s = asStep(op, step);
  const xs = x instanceof Dataset ? x.x : x;
  if (!(xs instanceof Tensor) || xs.rank < 1) throw new TrainError(op, `x must be a Tensor [n, ...] or a Dataset, got ${fmtValue(x)}`);
  const n = xs.shape[0];
  const bs = o.batchSize === undefined ? Math.max(n, 1) : intOption(op, 'batchSize', o.batchSize, 1, 1);
  if (bs >= n) return s.predictBatch(xs);
  const loader = batches({ x: xs }, { batchSize: bs, shuffle: false });
  return concatRows([...loader.epoch(1)].map((b) => s.predictBatch(b.x)));
}

function checkMetrics(op: string, m: unknown): MetricSpec[] {
  if (m === undefined) return [];
  if (!Array.isArray(m)) throw new TrainError(op, `metrics must be an array such as ['accuracy'], got ${fmtValue(m)}`);
  const specs = m.map((x) => checkMetricSpec(op, x));
  const names = specs.map(metricName);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new TrainError(op, `metric "${dup}" is listed twice`);
  if (names.some((n) => n === 'loss' || n === 'epoch' || n === 'lr' || n.startsWith('val'))) throw new TrainError(op, `metric names must not be "loss", "epoch", "lr" or start with "val"; got ${names.join(', ')}`);
  return specs;
}

const valName = (name: string) => `val${name[0].toUpperCase()}${name.slice(1)}`;

// ---- the run ----------------------------------------------------------------------------------

/** The state of one fit call; what callbacks see (as FitContext) and what checkpoints carry. */
class FitRun implements FitContext {
  /** The epoch in progress, from 1 (after an epoch's end: the next one). */
  epoch = 1;
  /** The first epoch this run trained (fit's `startEpoch`). */
  firstEpoch = 1;
  batch = 0;
  globalStep = 0;
  lossSum = 0;
  rows = 0;
  stopReason: string | undefined;
  resumed = false;
  readonly history = new History();
  readonly accs: MetricAccumulator[];

  constructor(
    readonly step: TrainingStep,
    readonly loader: AnyLoader,
    readonly epochs: number,
    readonly metrics: readonly MetricSpec[],
    readonly threshold: number | undefined,
    readonly hasValidation: boolean,
    readonly callbacks: readonly Callback[],
    private readonly meta: { preprocessing?: Record<string, ScalerFit>; config?: unknown },
  ) {
    this.accs = metrics.map((m) => metricAccumulator(m, { threshold }));
  }

  get graph(): Graph {
    return this.step.graph;
  }
  get numBatches(): number {
    return this.loader.numBatches;
  }
  get runningLoss(): number {
    return this.rows ? this.lossSum / this.rows : NaN;
  }
  get stopRequested(): boolean {
    return this.stopReason !== undefined;
  }

  stop(reason = 'stopped by a callback'): void {
    if (this.stopReason === undefined) this.stopReason = String(reason);
  }

  startEpoch(): void {
    this.lossSum = 0;
    this.rows = 0;
    this.accs.splice(0, this.accs.length, ...this.metrics.map((m) => metricAccumulator(m, { threshold: this.threshold })));
  }

  toDocument(): FitStateDocument {
    const callbacks: Record<string, unknown> = {};
    for (const cb of this.callbacks) if (cb.key && cb.state) callbacks[cb.key] = cb.state();
    // without wall-clock times, so two runs with the same seeds write byte-identical checkpoints
    const history = { ...this.history.toJSON(), epochTime: [] };
    return {
      version: 2,
      startEpoch: this.firstEpoch,
      epoch: this.epoch,
      batch: this.batch,
      step: this.globalStep,
      metrics: this.metrics.map(metricName),
      partial: { lossSum: encodeNumber(this.lossSum), rows: this.rows, metrics: Object.fromEntries(this.accs.map((a) => [a.name, a.state()])) },
      history,
      callbacks,
    };
  }

  checkpoint(opts: FitCheckpointOptions = {}): CheckpointDocument {
    const pre = { ...(this.meta.preprocessing ?? {}), ...(opts.preprocessing ?? {}) };
    return makeCheckpoint(this.graph, {
      data: { loader: this.loader, epoch: this.epoch, batch: this.batch },
      preprocessing: pre,
      config: opts.config ?? this.meta.config,
      extra: opts.extra,
      optimizer: this.step.optimizer,
      fit: this.toDocument(),
    });
  }

  saveCheckpoint(path: string, opts: FitCheckpointOptions = {}): CheckpointDocument {
    return saveCheckpoint(path, this.checkpoint(opts));
  }

  /**
   * Takes a checkpoint's run back: checks everything first (the fit state, the data position
   * against this loader, the values against the graph), then restores the callbacks' state and
   * finally the graph's values.
   */
  resume(ckpt: Checkpoint, restoreOpts: RestoreOptions): void {
    const op = 'train.fit';
    const bad = (detail: string) => new CheckpointError(op, `cannot resume: ${detail}`);
    const d = ckpt.fit as FitStateDocument | null;
    if (!d || typeof d !== 'object') throw bad('the checkpoint holds no fit state (it was not saved during fit; load it with restoreCheckpoint instead)');
    if (d.version !== 2) throw bad(`the fit state has version ${fmtValue(d.version)}; this library resumes version 2`);
    const pos = ckpt.data;
    if (!pos) throw bad('the checkpoint has no data position');
    const l = this.loader;
    const mine = { seed: l.seed, batchSize: l.batchSize, shuffle: l.shuffle, dropLast: l.dropLast, size: l.size };
    for (const k of Object.keys(mine) as (keyof typeof mine)[]) {
      if (pos[k] !== mine[k]) throw bad(`the training data differs from the checkpoint's: ${k} is ${String(mine[k])} here, ${String(pos[k])} in the checkpoint (the batches would not be the same)`);
    }
    if (d.epoch !== pos.epoch || d.batch !== pos.batch) throw bad(`the fit state's position (epoch ${fmtValue(d.epoch)}, batch ${fmtValue(d.batch)}) disagrees with the data position (epoch ${fmtValue(pos.epoch)}, batch ${fmtValue(pos.batch)})`);
    if (!Number.isInteger(d.step) || d.step < 0) throw bad(`the fit state's step count is ${fmtValue(d.step)}, not a non-negative integer`);
    const start = d.startEpoch ?? 1;
    if (!Number.isInteger(start) || start < 1 || start > d.epoch) throw bad(`the fit state's startEpoch is ${fmtValue(d.startEpoch)}, not an epoch from 1 to ${d.epoch}`);
    const expected = (d.epoch - start) * l.numBatches + d.batch;
    if (d.step !== expected) throw bad(`the fit state counts ${d.step} batches trained, but (epoch ${d.epoch}, batch ${d.batch}) with ${l.numBatches} batches per epoch${start > 1 ? ` from epoch ${start}` : ''} is ${expected}`);
    const names = this.metrics.map(metricName);
    if (!Array.isArray(d.metrics) || d.metrics.join(',') !== names.join(',')) throw bad(`the checkpoint's run tracked metrics [${String(d.metrics)}], this fit tracks [${names.join(', ')}]`);
    if (!d.partial || typeof d.partial !== 'object' || !Number.isInteger(d.partial.rows) || d.partial.rows < 0) throw bad('the partial epoch state is malformed');
    const asCheckpointError = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        // a state the callbacks or accumulators refuse is a checkpoint that can't be resumed
        throw e instanceof GradgraphError && !(e instanceof CheckpointError) ? bad(e.detail) : e;
      }
    };
    const history = asCheckpointError(() => History.fromJSON(d.history));
    if (history.batchLoss.length !== d.step) throw bad(`the history has ${history.batchLoss.length} batch losses for ${d.step} steps`);
    const lossSum = asCheckpointError(() => decodeNumber(d.partial.lossSum, op, 'partial.lossSum'));
    const accs = this.metrics.map((m) => metricAccumulator(m, { threshold: this.threshold }));
    asCheckpointError(() => accs.forEach((a) => a.restore((d.partial.metrics ?? {})[a.name])));
    checkCheckpoint(this.graph, ckpt, restoreOpts);
    const saved = d.callbacks && typeof d.callbacks === 'object' ? d.callbacks : {};
    asCheckpointError(() => this.callbacks.forEach((cb) => cb.key && cb.restore && cb.key in saved && cb.restore(saved[cb.key], this)));
    this.graph.restore({ values: new Map([...ckpt.params, ...ckpt.state]), rngCounter: ckpt.rngCounter }, { strict: true });
    this.firstEpoch = start;
    this.epoch = d.epoch;
    this.batch = d.batch;
    this.globalStep = d.step;
    this.lossSum = lossSum;
    this.rows = d.partial.rows;
    this.accs.splice(0, this.accs.length, ...accs);
    this.history.epochs.push(...history.epochs);
    this.history.batchLoss.push(...history.batchLoss);
    this.history.epochTime.push(...history.epochs.map(() => NaN));
    this.resumed = true;
  }
}

/**
 * Trains `step` on `data` for `epochs` epochs and returns the history. Each epoch runs the
 * loader's batches (a seeded order per epoch) through the training program with
 * `training: true`, evaluates `validation` with the evaluation program (`training: false`), and
 * calls the callbacks; early stopping, checkpoints and the progress display are callbacks.
 *
 * Logs per epoch: `loss` (row-weighted mean of the batch losses), each metric on the training
 * batches (as the model was while training on them), and with validation `valLoss` and
 * `val<Metric>`.
 *
 * @example
 * const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 1e-2 }) });
 * const history = train.fit({
 *   step, data: data.batches(train, { batchSize: 16, seed: 0 }), epochs: 100,
 *   validation: val, metrics: ['accuracy'],
 *   earlyStopping: { patience: 10, restoreBest: true },
 * });
 * history.series('valAccuracy');
 */
export function fit(opts: FitOptions): History {
  const op = 'train.fit';
  const o = checkKeys(op, opts, [
    'step', 'data', 'epochs', 'startEpoch', 'batchSize', 'shuffle', 'seed', 'dropLast', 'validation', 'validationBatchSize', 'metrics', 'threshold',
    'earlyStopping', 'callbacks', 'progress', 'resume', 'resumeOptions', 'preprocessing', 'config',
  ]);
  if (o.step === undefined) throw new TrainError(op, 'needs a step: train.trainingStep({ loss, optimizer, predictions }) or a compiled training Executable');
  const step = asStep(op, o.step);
  const g = step.graph;
  const epochs = intOption(op, 'epochs', o.epochs, undefined, 0);
  const seed = o.seed ?? (Number.isSafeInteger(g.seed) ? g.seed : undefined);
  if (seed === undefined && !(o.data instanceof BatchLoader)) throw new TrainError(op, `the graph's seed ${g.seed} is not an integer; pass an integer \`seed\` for the shuffles`);
  const loader = toLoader(op, 'data', o.data, {
    batchSize: o.batchSize === undefined ? undefined : intOption(op, 'batchSize', o.batchSize, undefined, 1),
    shuffle: o.shuffle as boolean | undefined,
    seed: o.data instanceof BatchLoader ? (o.seed as number | undefined) : (seed as number),
    dropLast: o.dropLast as boolean | undefined,
  });
  if (loader.numBatches === 0) throw new TrainError(op, `the training data gives no batches (${loader.size} rows, batchSize ${loader.batchSize}${loader.dropLast ? ', dropLast' : ''})`);
  const metrics = checkMetrics(op, o.metrics);
  if (metrics.length && !step.hasPredictions) throw new TrainError(op, 'metrics need the model\'s predictions: pass `predictions` to trainingStep (or a second output to the programs)');
  if (metrics.length && !loader.y) throw new TrainError(op, 'metrics need targets, but the training data has no y');
  const threshold = o.threshold as number | undefined;
  let validation: AnyLoader | undefined;
  if (o.validation !== undefined) {
    if (!step.evaluate) throw new TrainError(op, 'validation needs an evaluation program: pass `evaluate` (compiled without updates) to train.fromExecutables, or build the step with train.trainingStep');
    const v = o.validation;
    const vsize = v instanceof Dataset ? v.size : (v as TensorPair)?.x?.shape?.[0];
    validation = toLoader(op, 'validation', v, v instanceof BatchLoader ? {} : { batchSize: o.validationBatchSize === undefined ? Math.max(vsize ?? 1, 1) : intOption(op, 'validationBatchSize', o.validationBatchSize, undefined, 1), shuffle: false });
    if (validation.size === 0) throw new TrainError(op, 'the validation data has no rows');
  }

  const cbs: Callback[] = [];
  if (o.earlyStopping !== undefined) cbs.push(o.earlyStopping instanceof EarlyStopping ? o.earlyStopping : new EarlyStopping(o.earlyStopping as EarlyStoppingOptions));
  cbs.push(...checkCallbacks(op, o.callbacks));
  const p = o.progress ?? 'auto';
  if (p !== false) {
    if (p === true || p === 'auto' || p === 'bar' || p === 'lines') cbs.push(progress({ mode: p === true ? 'auto' : p }));
    else if (typeof p === 'object') cbs.push(progress(p as ProgressOptions));
    else throw new TrainError(op, `progress must be true, false, 'auto', 'bar', 'lines' or progress options, got ${fmtValue(p)}`);
  }
  const keys = cbs.filter((c) => c.key).map((c) => c.key!);
  const dupKey = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dupKey) throw new TrainError(op, `two callbacks have the key "${dupKey}"; their checkpoint states would collide`);

  const run = new FitRun(step, loader, epochs, metrics, threshold, !!validation, cbs, {
    preprocessing: o.preprocessing as Record<string, ScalerFit> | undefined,
    config: o.config,
  });
  if (o.startEpoch !== undefined) {
    if (o.resume !== undefined) throw new TrainError(op, 'startEpoch and resume both say where to start: a resumed run starts where its checkpoint was saved');
    run.epoch = run.firstEpoch = intOption(op, 'startEpoch', o.startEpoch, 1, 1);
  }
  if (o.resume !== undefined) run.resume(o.resume as Checkpoint, (o.resumeOptions as RestoreOptions | undefined) ?? {});

  const call = <K extends keyof Callback>(hook: K, ...args: unknown[]) => {
    for (const cb of cbs) (cb[hook] as ((...a: unknown[]) => unknown) | undefined)?.apply(cb, args);
  };
  call('onTrainBegin', run);
  const history = run.history;
  training: for (let epoch = run.epoch; epoch <= epochs; epoch++) {
    const t0 = performance.now();
    call('onEpochBegin', epoch, run);
    for (const b of loader.epoch(epoch, { startBatch: run.batch })) {
      const feeds: Record<string, unknown> = {};
      for (const cb of cbs) if (cb.feeds) Object.assign(feeds, cb.feeds(run));
      const r = step.trainBatch(b, feeds as Feeds);
      const rows = b.x.shape[0];
      run.batch++;
      run.globalStep++;
      run.lossSum += r.loss * rows;
      run.rows += rows;
      history.batchLoss.push(r.loss);
      if (run.accs.length) for (const a of run.accs) a.update(r.predictions!, b.y!);
      const info: BatchInfo = { epoch, batch: b.index, step: run.globalStep, loss: r.loss, rows };
      call('onBatchEnd', info, run);
      if (run.stopRequested) {
        history.stopped = { epoch, batch: run.batch, reason: run.stopReason! };
        break training;
      }
    }
    const logs: EpochLogs = { epoch, loss: run.rows ? run.lossSum / run.rows : NaN };
    for (const a of run.accs) logs[a.name] = a.result();
    if (validation) {
      const v = runEvaluation(op, step, validation, metrics, threshold);
      for (const [k, x] of Object.entries(v)) logs[valName(k)] = x;
    }
    history.epochs.push(logs);
    history.epochTime.push(performance.now() - t0);
    // the epoch is done: checkpoints taken from here on resume at the next one
    run.epoch = epoch + 1;
    run.batch = 0;
    run.startEpoch();
    call('onEpochEnd', epoch, logs, run);
    if (run.stopRequested) {
      history.stopped = { epoch, batch: loader.numBatches, reason: run.stopReason! };
      break;
    }
  }
  call('onTrainEnd', history, run);
  return history;
}
