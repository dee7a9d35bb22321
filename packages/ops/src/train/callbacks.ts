/**
 * Callbacks: objects whose hooks `fit` calls at the start and end of training, of each epoch and
 * after each batch. A callback can stop training (`ctx.stop()`), add feeds to every training run
 * (`feeds`), add entries to an epoch's logs, and keep state that checkpoints carry (`key`,
 * `state`, `restore`). Built-ins: early stopping, model checkpoints, reduce-on-plateau, stop on
 * NaN, and the progress display (progress.ts).
 */
import { Tensor, decodeTensor, encodeTensor, isFloat, type Feeds, type Graph, type GraphState, type TensorDocument } from '@gradgraph/core';
import type { BatchLoader } from '../data/index';
import { ReduceOnPlateau } from '../optim/index';
import type { CheckpointDocument, CheckpointOptions } from './checkpoint';
import { TrainError, checkKeys, choiceOption, fmtValue, intOption, numberOption } from './errors';
import type { TrainingStep } from './step';

/** One epoch's numbers: `loss` (mean training loss), `valLoss`, metrics (`accuracy`, `valAccuracy`, ...). */
export interface EpochLogs {
  /** The epoch, from 1 (as the progress display prints it). */
  epoch: number;
  loss: number;
  [name: string]: number;
}

/** What `onBatchEnd` is told about the batch just trained on. */
export interface BatchInfo {
  /** The epoch, from 1. */
  epoch: number;
  /** The batch's index in its epoch (from 0). */
  batch: number;
  /** Batches this run has trained (after this one), since its first epoch. */
  step: number;
  /** This batch's training loss (before the update). */
  loss: number;
  /** Rows in this batch. */
  rows: number;
}

/** Why and where training stopped before its last epoch. */
export interface StopInfo {
  /** The epoch (from 1) in progress (mid-epoch stop) or just finished. */
  epoch: number;
  /** Batches of that epoch trained on. */
  batch: number;
  reason: string;
}

/** Extra content for a checkpoint taken during fit. */
export type FitCheckpointOptions = Pick<CheckpointOptions, 'preprocessing' | 'config' | 'extra'>;

/** What callbacks see of a running `fit`. */
export interface FitContext {
  readonly graph: Graph;
  readonly step: TrainingStep;
  readonly loader: BatchLoader<Tensor | undefined>;
  /** The number of epochs `fit` runs to. */
  readonly epochs: number;
  /** The epoch in progress, from 1 (after an epoch's end: the next one). */
  readonly epoch: number;
  /** Batches of `epoch` trained on so far. */
  readonly batch: number;
  /** Batches trained since the start of training. */
  readonly globalStep: number;
  /** Batches per epoch. */
  readonly numBatches: number;
  /** The mean training loss of the current epoch so far (NaN before its first batch). */
  readonly runningLoss: number;
  /** Whether `fit` has validation data (so `valLoss` exists). */
  readonly hasValidation: boolean;
  /** Whether this fit resumed a checkpoint (callbacks' state was restored before `onTrainBegin`). */
  readonly resumed: boolean;
  readonly history: import('./fit').History;
  /** Asks `fit` to stop after the current batch (or right after this epoch's end). */
  stop(reason?: string): void;
  readonly stopRequested: boolean;
  /**
   * A checkpoint document of the run at this point: params, state, RNG counter, the data
   * position, the fit loop's state, and fit's `preprocessing` and `config`.
   */
  checkpoint(opts?: FitCheckpointOptions): CheckpointDocument;
  /** Writes {@link checkpoint} to `path`. */
  saveCheckpoint(path: string, opts?: FitCheckpointOptions): CheckpointDocument;
}

/**
 * Hooks `fit` calls; every one is optional. Callbacks run in order: the early stopping made by
 * fit's `earlyStopping` option first, then `callbacks`, then the progress display. Epochs are
 * numbered from 1, as printed.
 *
 * @example
 * const logLr: train.Callback = {
 *   onEpochEnd(epoch, logs) { console.log(epoch, logs.loss); },
 * };
 */
export interface Callback {
  /** The name its `state()` is saved under in checkpoints (unique among a fit's callbacks). */
  readonly key?: string;
  onTrainBegin?(ctx: FitContext): void;
  onEpochBegin?(epoch: number, ctx: FitContext): void;
  onBatchEnd?(info: BatchInfo, ctx: FitContext): void;
  /** `logs` is the epoch's record in the history: entries added here are kept. */
  onEpochEnd?(epoch: number, logs: EpochLogs, ctx: FitContext): void;
  onTrainEnd?(history: import('./fit').History, ctx: FitContext): void;
  /** Feeds added to the next training run (e.g. a host-side learning rate). */
  feeds?(ctx: FitContext): Feeds;
  /** JSON state for checkpoints. */
  state?(): unknown;
  /** Takes back `state()` when a fit resumes (before the graph's values are written); must check everything before changing anything. */
  restore?(state: unknown, ctx: FitContext): void;
}

/** `'min'` or `'max'` for a log name under `mode: 'auto'`: accuracy and R² go up, the rest down. */
export function autoMode(monitor: string): 'min' | 'max' {
  return /(^|[a-z])(accuracy|Accuracy|r2|R2)$/.test(monitor) ? 'max' : 'min';
}

function monitored(op: string, monitor: string, logs: EpochLogs): number {
  if (!(monitor in logs)) {
    const names = Object.keys(logs).filter((k) => k !== 'epoch');
    const hint = monitor.startsWith('val') ? ' (pass `validation` to fit for validation values)' : '';
    throw new TrainError(op, `monitor "${monitor}" is not in the epoch logs; they have ${names.join(', ')}${hint}`);
  }
  return logs[monitor];
}

// ---- early stopping -------------------------------------------------------------------------

export interface EarlyStoppingOptions {
  /** The log to watch; default `valLoss` when fit has validation data, else `loss`. */
  monitor?: string;
  /** `'min'`: lower is better; `'max'`: higher; `'auto'` (default): max for accuracy and R², else min. */
  mode?: 'auto' | 'min' | 'max';
  /** Epochs without improvement before stopping. Default 3. */
  patience?: number;
  /** An improvement smaller than this doesn't count. Default 0. */
  minDelta?: number;
  /** At the end of training, put back the params (and all state) of the best epoch. Default false. */
  restoreBest?: boolean;
  /** The value to beat before anything counts as an improvement. */
  baseline?: number;
  /** How many epochs at the start are never counted (warm-up): epochs 1..startFromEpoch. Default 0. */
  startFromEpoch?: number;
}

/**
 * Stops training when the monitored value has not improved by more than `minDelta` for
 * `patience` epochs (Keras' rules: an epoch improves when value − minDelta > best in max mode,
 * value + minDelta < best in min mode). With `restoreBest`, a snapshot of every param and state
 * value is taken at each new best and put back when training ends, so the model is the best
 * epoch's; the RNG counter keeps running. Its state (best, wait, the best snapshot) is saved in
 * checkpoints.
 */
export class EarlyStopping implements Callback {
  readonly key = 'earlyStopping';
  readonly patience: number;
  readonly minDelta: number;
  readonly restoreBest: boolean;
  readonly baseline: number | undefined;
  readonly startFromEpoch: number;
  private readonly monitorOpt: string | undefined;
  private readonly modeOpt: 'auto' | 'min' | 'max';
  private monitorName: string | undefined;
  private s = { best: NaN, bestEpoch: 0, wait: 0, stoppedEpoch: 0 };
  private bestValues: Map<string, Tensor> | undefined;
  /** Set when training ends: whether the best params were put back. */
  restored = false;

  constructor(opts: EarlyStoppingOptions = {}) {
    const op = 'train.earlyStopping';
    const o = checkKeys(op, opts, ['monitor', 'mode', 'patience', 'minDelta', 'restoreBest', 'baseline', 'startFromEpoch']);
    if (o.monitor !== undefined && (typeof o.monitor !== 'string' || !o.monitor)) throw new TrainError(op, `monitor must be a log name such as "valLoss", got ${fmtValue(o.monitor)}`);
    this.monitorOpt = o.monitor as string | undefined;
    this.modeOpt = choiceOption(op, 'mode', o.mode, 'auto', ['auto', 'min', 'max'] as const);
    this.patience = intOption(op, 'patience', o.patience, 3, 0);
    this.minDelta = Math.abs(numberOption(op, 'minDelta', o.minDelta, 0, 0));
    if (o.restoreBest !== undefined && typeof o.restoreBest !== 'boolean') throw new TrainError(op, `restoreBest must be a boolean, got ${fmtValue(o.restoreBest)}`);
    this.restoreBest = (o.restoreBest as boolean | undefined) ?? false;
    this.baseline = o.baseline === undefined ? undefined : numberOption(op, 'baseline', o.baseline, 0);
    this.startFromEpoch = intOption(op, 'startFromEpoch', o.startFromEpoch, 0, 0);
  }

  /** The watched log (known once training began). */
  get monitor(): string {
    return this.monitorName ?? this.monitorOpt ?? 'valLoss';
  }
  get mode(): 'min' | 'max' {
    return this.modeOpt === 'auto' ? autoMode(this.monitor) : this.modeOpt;
  }
  /** The best value so far (NaN before the first counted epoch). */
  get best(): number {
    return this.s.best;
  }
  /** The epoch of the best value (from 1; 0 before the first). */
  get bestEpoch(): number {
    return this.s.bestEpoch;
  }
  /** Epochs since the last improvement. */
  get wait(): number {
    return this.s.wait;
  }
  /** The epoch training was stopped at (from 1), or 0. */
  get stoppedEpoch(): number {
    return this.s.stoppedEpoch;
  }

  onTrainBegin(ctx: FitContext): void {
    this.monitorName = this.monitorOpt ?? (ctx.hasValidation ? 'valLoss' : 'loss');
    this.restored = false;
    // a new run starts from scratch; a resumed one keeps the state restored from its checkpoint
    if (!ctx.resumed) {
      this.s = { best: NaN, bestEpoch: 0, wait: 0, stoppedEpoch: 0 };
      this.bestValues = undefined;
    }
  }

  private improves(v: number): boolean {
    const ref = Number.isNaN(this.s.best) ? this.baseline : this.s.best;
    if (ref === undefined) return !Number.isNaN(v);
    return this.mode === 'min' ? v + this.minDelta < ref : v - this.minDelta > ref;
  }

  onEpochEnd(epoch: number, logs: EpochLogs, ctx: FitContext): void {
    const v = monitored('train.earlyStopping', this.monitor, logs);
    if (epoch <= this.startFromEpoch) return;
    if (this.improves(v)) {
      this.s.best = v;
      this.s.bestEpoch = epoch;
      this.s.wait = 0;
      if (this.restoreBest) this.bestValues = ctx.graph.snapshot().values as Map<string, Tensor>;
      return;
    }
    this.s.wait++;
    if (this.s.wait >= this.patience) {
      this.s.stoppedEpoch = epoch;
      const best = Number.isNaN(this.s.best) ? `no epoch beat the baseline ${this.baseline}` : `best ${fmtLog(this.s.best)} at epoch ${this.s.bestEpoch}`;
      ctx.stop(`early stopping: ${this.monitor} did not improve for ${this.s.wait} epoch${this.s.wait === 1 ? '' : 's'} (${best})`);
    }
  }

  onTrainEnd(history: import('./fit').History, ctx: FitContext): void {
    if (this.restoreBest && this.bestValues) {
      const state: GraphState = { values: this.bestValues, rngCounter: ctx.graph.rngCounter };
      ctx.graph.restore(state, { strict: true });
      this.restored = true;
      history.restoredEpoch = this.s.bestEpoch;
    }
  }

  state(): unknown {
    const values: Record<string, TensorDocument> | null = this.bestValues ? Object.fromEntries([...this.bestValues].map(([k, t]) => [k, encodeTensor(t)])) : null;
    return { monitor: this.monitor, best: Number.isNaN(this.s.best) ? null : this.s.best, bestEpoch: this.s.bestEpoch, wait: this.s.wait, stoppedEpoch: this.s.stoppedEpoch, bestValues: values };
  }

  restore(state: unknown, ctx?: FitContext): void {
    const op = 'train.earlyStopping';
    const o = state as { monitor: unknown; best: unknown; bestEpoch: unknown; wait: unknown; stoppedEpoch: unknown; bestValues: unknown };
    const bad = (what: string) => new TrainError(op, `cannot restore early stopping: ${what}`);
    if (!o || typeof o !== 'object') throw bad(`state is ${fmtValue(state)}`);
    if (typeof o.monitor !== 'string') throw bad(`monitor is ${fmtValue(o.monitor)}`);
    if (this.monitorOpt !== undefined && o.monitor !== this.monitorOpt) throw bad(`the checkpoint's run monitored "${o.monitor}", this one monitors "${this.monitorOpt}"`);
    if (o.best !== null && (typeof o.best !== 'number' || !Number.isFinite(o.best))) throw bad(`best is ${fmtValue(o.best)}`);
    for (const k of ['bestEpoch', 'stoppedEpoch'] as const) if (!Number.isInteger(o[k]) || (o[k] as number) < 0) throw bad(`${k} is ${fmtValue(o[k])}`);
    if (!Number.isInteger(o.wait) || (o.wait as number) < 0) throw bad(`wait is ${fmtValue(o.wait)}`);
    let values: Map<string, Tensor> | undefined;
    if (o.bestValues !== null) {
      if (!o.bestValues || typeof o.bestValues !== 'object') throw bad('bestValues must be an object of tensors or null');
      values = new Map(Object.entries(o.bestValues as Record<string, unknown>).map(([k, d]) => [k, decodeTensor(d, `early stopping's best value of "${k}"`)]));
      // they will be written into the graph when training ends: check them now
      if (ctx) {
        const vars = ctx.graph.variables();
        if (vars.length !== values.size) throw bad(`the best snapshot has ${values.size} values, the graph ${vars.length} params and state`);
        for (const v of vars) {
          const t = values.get(v.name!);
          if (!t || t.dtype !== v.dtype || t.shape.join() !== v.shape.join()) throw bad(`the best snapshot's "${v.name}" is ${t ? `${t.dtype}[${t.shape.join(', ')}]` : 'missing'}, the graph's is ${v.dtype}[${v.shape.join(', ')}]`);
        }
      }
    }
    this.s = { best: o.best === null ? NaN : (o.best as number), bestEpoch: o.bestEpoch as number, wait: o.wait as number, stoppedEpoch: o.stoppedEpoch as number };
    this.bestValues = values;
  }
}

/**
 * Early stopping as a callback (fit's `earlyStopping` option makes one for you).
 * @example
 * train.fit({ step, data: loader, epochs: 200, validation: val,
 *   earlyStopping: { monitor: 'valLoss', patience: 10, minDelta: 1e-4, restoreBest: true } });
 */
export function earlyStopping(opts: EarlyStoppingOptions = {}): EarlyStopping {
  return new EarlyStopping(opts);
}

/** A number as the logs print it: 4 decimals, or 4 significant digits in exponent form. */
export function fmtLog(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

// ---- model checkpoints ----------------------------------------------------------------------

export interface ModelCheckpointOptions {
  /** The file to write, or a function of the position (`epoch` from 1, `batch` batches done in it, `step` batches in all). */
  path: string | ((at: { epoch: number; batch: number; step: number }) => string);
  /** Also save every this many batches (mid-epoch). Default: only at epoch ends. */
  everyBatches?: number;
  /** Save at epoch ends (default true). */
  atEpochEnd?: boolean;
  /** At epoch ends, save only when `monitor` improves on the best so far. Default false. */
  saveBestOnly?: boolean;
  /** The log `saveBestOnly` watches; default `valLoss` with validation data, else `loss`. */
  monitor?: string;
  mode?: 'auto' | 'min' | 'max';
  /** Added to every checkpoint (fit's `preprocessing` and `config` are there already). */
  config?: unknown;
  extra?: unknown;
}

/**
 * Saves checkpoints during fit: at every epoch end (or only at new bests), and optionally every
 * `everyBatches` batches. `saved` lists the paths written. Each checkpoint can resume the run
 * exactly (`fit({ resume: train.readCheckpoint(path) })`).
 */
export class ModelCheckpoint implements Callback {
  readonly key = 'modelCheckpoint';
  /** Paths written, in order. */
  readonly saved: string[] = [];
  private readonly opts: ModelCheckpointOptions;
  private readonly everyBatches: number;
  private monitorName = 'loss';
  private best: number | null = null;

  constructor(opts: ModelCheckpointOptions) {
    const op = 'train.modelCheckpoint';
    const o = checkKeys(op, opts, ['path', 'everyBatches', 'atEpochEnd', 'saveBestOnly', 'monitor', 'mode', 'config', 'extra']);
    if (!((typeof o.path === 'string' && o.path) || typeof o.path === 'function')) throw new TrainError(op, `path must be a file path or a function of { epoch, batch, step }, got ${fmtValue(o.path)}`);
    this.everyBatches = intOption(op, 'everyBatches', o.everyBatches, 0, 0);
    choiceOption(op, 'mode', o.mode, 'auto', ['auto', 'min', 'max'] as const);
    for (const k of ['atEpochEnd', 'saveBestOnly'] as const) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TrainError(op, `${k} must be a boolean, got ${fmtValue(o[k])}`);
    this.opts = opts;
  }

  onTrainBegin(ctx: FitContext): void {
    this.monitorName = this.opts.monitor ?? (ctx.hasValidation ? 'valLoss' : 'loss');
    if (!ctx.resumed) this.best = null;
  }

  private save(ctx: FitContext, epoch: number): void {
    const at = { epoch, batch: ctx.batch, step: ctx.globalStep };
    const path = typeof this.opts.path === 'function' ? this.opts.path(at) : this.opts.path;
    ctx.saveCheckpoint(path, { ...(this.opts.config !== undefined ? { config: this.opts.config } : {}), ...(this.opts.extra !== undefined ? { extra: this.opts.extra } : {}) });
    this.saved.push(path);
  }

  onBatchEnd(info: BatchInfo, ctx: FitContext): void {
    if (this.everyBatches > 0 && info.step % this.everyBatches === 0) this.save(ctx, info.epoch);
  }

  onEpochEnd(epoch: number, logs: EpochLogs, ctx: FitContext): void {
    if (this.opts.atEpochEnd === false) return;
    if (this.opts.saveBestOnly) {
      const v = monitored('train.modelCheckpoint', this.monitorName, logs);
      const mode = !this.opts.mode || this.opts.mode === 'auto' ? autoMode(this.monitorName) : this.opts.mode;
      if (Number.isNaN(v) || (this.best !== null && (mode === 'min' ? !(v < this.best) : !(v > this.best)))) return;
      this.best = v;
    }
    this.save(ctx, epoch);
  }

  state(): unknown {
    return { best: this.best };
  }

  restore(state: unknown): void {
    const o = state as { best: unknown };
    if (!o || typeof o !== 'object' || (o.best !== null && (typeof o.best !== 'number' || !Number.isFinite(o.best)))) throw new TrainError('train.modelCheckpoint', `cannot restore from ${fmtValue(state)}`);
    this.best = o.best as number | null;
  }
}

/**
 * Saves checkpoints during fit (see {@link ModelCheckpoint}).
 * @example
 * const saver = train.modelCheckpoint({ path: 'runs/best.ckpt.json', saveBestOnly: true });
 * train.fit({ step, data: loader, epochs: 100, validation: val, callbacks: [saver] });
 */
export function modelCheckpoint(opts: ModelCheckpointOptions): ModelCheckpoint {
  return new ModelCheckpoint(opts);
}

// ---- reduce-on-plateau ------------------------------------------------------------------------

/**
 * Drives optim's host-side reduce-on-plateau controller from fit: feeds its rate to the graph's
 * learning-rate input (default `lr`) on every training run, records it as `lr` in each epoch's
 * logs, and steps the controller with the monitored log at each epoch end. Its state is saved in
 * checkpoints.
 *
 * @example
 * const lr = g.input('lr', [], 'float32');
 * const step = train.trainingStep({ loss, optimizer: optim.sgd({ lr }) });
 * const plateau = optim.reduceOnPlateau({ lr: 0.1, patience: 2 });
 * train.fit({ step, data: loader, epochs: 30, validation: val, callbacks: [train.reduceLrOnPlateau(plateau)] });
 */
export function reduceLrOnPlateau(controller: ReduceOnPlateau, opts: { monitor?: string; input?: string } = {}): Callback {
  const op = 'train.reduceLrOnPlateau';
  if (!(controller instanceof ReduceOnPlateau)) throw new TrainError(op, `expects a controller from optim.reduceOnPlateau(...), got ${fmtValue(controller)}`);
  const o = checkKeys(op, opts, ['monitor', 'input']);
  const inputName = (o.input as string | undefined) ?? 'lr';
  let monitor = 'loss';
  let dtype: 'float32' | 'float64' = 'float32';
  return {
    key: 'reduceLrOnPlateau',
    onTrainBegin(ctx) {
      monitor = (o.monitor as string | undefined) ?? (ctx.hasValidation ? 'valLoss' : 'loss');
      const s = ctx.graph.byName(inputName);
      if (!s || s.op !== 'input' || s.rank !== 0 || !isFloat(s.dtype)) {
        throw new TrainError(op, `the graph needs a float scalar input "${inputName}" for the learning rate (g.input('${inputName}', [], 'float32')) and the optimizer built with { lr: thatInput }`);
      }
      dtype = s.dtype as 'float32' | 'float64';
    },
    feeds() {
      return { [inputName]: controller.tensor(dtype) };
    },
    onEpochEnd(_epoch, logs) {
      const v = monitored(op, monitor, logs);
      logs.lr = controller.lr;
      controller.step(v);
    },
    state: () => controller.state(),
    restore: (s) => controller.restore(s as ReturnType<ReduceOnPlateau['state']>),
  };
}

// ---- stop on NaN ------------------------------------------------------------------------------

/**
 * Stops training at the first batch whose loss is NaN or ±Infinity (Keras' `TerminateOnNaN`).
 * @example train.fit({ step, data: loader, epochs: 10, callbacks: [train.terminateOnNaN()] });
 */
export function terminateOnNaN(): Callback {
  return {
    onBatchEnd(info, ctx) {
      if (!Number.isFinite(info.loss)) ctx.stop(`the loss is ${info.loss} at epoch ${info.epoch}, batch ${info.batch + 1}`);
    },
  };
}

/** Checks a callback list: objects with function hooks and unique keys. */
export function checkCallbacks(op: string, cbs: unknown): Callback[] {
  if (cbs === undefined) return [];
  if (!Array.isArray(cbs)) throw new TrainError(op, `callbacks must be an array, got ${fmtValue(cbs)}`);
  const hooks = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd', 'feeds', 'state', 'restore'] as const;
  cbs.forEach((cb, i) => {
    if (!cb || typeof cb !== 'object') throw new TrainError(op, `callback ${i} must be an object with hooks (onEpochEnd, ...), got ${fmtValue(cb)}`);
    for (const h of hooks) if ((cb as Record<string, unknown>)[h] !== undefined && typeof (cb as Record<string, unknown>)[h] !== 'function') throw new TrainError(op, `callback ${i}: ${h} must be a function`);
  });
  return cbs as Callback[];
}
