/**
 * Reduce-on-plateau: a host-side controller (it needs a metric the graph doesn't have, such as
 * the validation loss) whose learning rate is fed to the compiled step as an input:
 *
 *     const lr = g.input('lr', [], 'float32');
 *     const opt = optim.adam({ lr });
 *     ... each epoch: step.run({ ...batch, lr: plateau.tensor() }); ... plateau.step(valLoss);
 *
 * Its rules are PyTorch's `ReduceLROnPlateau`.
 */
import { GraphError, Tensor, captureOrigin, isFloat, type DType } from '@gradgraph/core';
import { checkKeys, choiceOption, numberOption } from './options';

export interface ReduceOnPlateauOptions {
  /** The starting learning rate. */
  lr: number;
  /** `'min'` (default): lower metric is better (a loss); `'max'`: higher is better (accuracy). */
  mode?: 'min' | 'max';
  /** Multiply the rate by this on a plateau. Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing. Default 10. */
  patience?: number;
  /** Minimum improvement that counts. Default 1e-4. */
  threshold?: number;
  /** `'rel'` (default): better than best·(1 ∓ threshold); `'abs'`: than best ∓ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again. Default 0. */
  cooldown?: number;
  /** Lower bound on the rate. Default 0. */
  minLr?: number;
  /** Reductions smaller than this are skipped. Default 1e-8. */
  eps?: number;
}

/** The controller's mutable state, JSON-serializable (for checkpoints). */
export interface PlateauState {
  lr: number;
  /** The best metric so far; null before the first `step()` (JSON has no Infinity). */
  best: number | null;
  badEpochs: number;
  cooldownCounter: number;
  epoch: number;
}

/**
 * Watches a metric once per epoch and cuts the learning rate by `factor` after more than
 * `patience` epochs without an improvement of at least `threshold`.
 */
export class ReduceOnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  private s: { lr: number; best: number; badEpochs: number; cooldownCounter: number; epoch: number };

  constructor(opts: ReduceOnPlateauOptions) {
    const op = 'optim.reduceOnPlateau';
    const o = checkKeys(op, opts, ['lr', 'mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    const lr = numberOption(op, 'lr', o.lr, undefined, { min: 0 });
    this.mode = choiceOption(op, 'mode', o.mode, 'min', ['min', 'max'] as const);
    this.factor = numberOption(op, 'factor', o.factor, 0.1, { above: 0, below: 1 });
    this.patience = numberOption(op, 'patience', o.patience, 10, { min: 0, integer: true });
    this.threshold = numberOption(op, 'threshold', o.threshold, 1e-4, { min: 0 });
    this.thresholdMode = choiceOption(op, 'thresholdMode', o.thresholdMode, 'rel', ['rel', 'abs'] as const);
    this.cooldown = numberOption(op, 'cooldown', o.cooldown, 0, { min: 0, integer: true });
    this.minLr = numberOption(op, 'minLr', o.minLr, 0, { min: 0 });
    this.eps = numberOption(op, 'eps', o.eps, 1e-8, { min: 0 });
    this.s = { lr, best: this.mode === 'min' ? Infinity : -Infinity, badEpochs: 0, cooldownCounter: 0, epoch: 0 };
  }

  /**
   * The current learning rate.
   * @example console.log(`epoch ${e}: lr ${plateau.lr}`);
   */
  get lr(): number {
    return this.s.lr;
  }

  /**
   * The best metric seen so far (±Infinity before the first `step()`).
   * @example plateau.step(0.5); plateau.best // 0.5
   */
  get best(): number {
    return this.s.best;
  }

  /**
   * Consecutive epochs without improvement (reset by a reduction and during cooldown).
   * @example if (plateau.badEpochs > 0) console.log('no improvement');
   */
  get badEpochs(): number {
    return this.s.badEpochs;
  }

  /**
   * Records one epoch's metric; returns true when it cut the rate.
   * @example if (plateau.step(valLoss)) console.log(`lr is now ${plateau.lr}`);
   */
  step(metric: number): boolean {
    if (typeof metric !== 'number' || !Number.isFinite(metric)) {
      throw new GraphError(`metric must be a finite number, got ${String(metric)} (a diverged loss?)`, { op: 'optim.reduceOnPlateau', origin: captureOrigin() });
    }
    const s = this.s;
    s.epoch++;
    if (this.isBetter(metric)) {
      s.best = metric;
      s.badEpochs = 0;
    } else s.badEpochs++;
    if (s.cooldownCounter > 0) {
      s.cooldownCounter--;
      s.badEpochs = 0;
    }
    if (s.badEpochs > this.patience) {
      s.badEpochs = 0;
      s.cooldownCounter = this.cooldown;
      const next = Math.max(s.lr * this.factor, this.minLr);
      if (s.lr - next > this.eps) {
        s.lr = next;
        return true;
      }
    }
    return false;
  }

  /**
   * The current rate as a scalar tensor, to feed the `lr` input.
   * @example step.run({ x, y, lr: plateau.tensor('float64') });
   */
  tensor(dtype: DType = 'float32'): Tensor {
    if (!isFloat(dtype)) throw new GraphError(`the learning rate needs a float dtype, got ${String(dtype)}`, { op: 'optim.reduceOnPlateau', origin: captureOrigin() });
    return Tensor.scalar(this.s.lr, dtype);
  }

  /**
   * A copy of the state, JSON-safe, for checkpoints.
   * @example fs.writeFileSync('plateau.json', JSON.stringify(plateau.state()));
   */
  state(): PlateauState {
    return { ...this.s, best: Number.isFinite(this.s.best) ? this.s.best : null };
  }

  /**
   * Restores `state()`; checks every field first, so a bad state changes nothing.
   * @example plateau.restore(JSON.parse(fs.readFileSync('plateau.json', 'utf8')));
   */
  restore(state: PlateauState): void {
    const op = 'optim.reduceOnPlateau';
    const bad = (what: string) => new GraphError(`cannot restore: ${what}`, { op, origin: captureOrigin() });
    if (!state || typeof state !== 'object') throw bad('state must be an object');
    if (typeof state.lr !== 'number' || !(state.lr >= 0) || !Number.isFinite(state.lr)) throw bad(`lr ${String(state.lr)} is not a non-negative number`);
    if (state.best !== null && (typeof state.best !== 'number' || !Number.isFinite(state.best))) throw bad(`best ${String(state.best)} is not a finite number or null`);
    for (const k of ['badEpochs', 'cooldownCounter', 'epoch'] as const) {
      if (!Number.isInteger(state[k]) || state[k] < 0) throw bad(`${k} ${String(state[k])} is not a non-negative integer`);
    }
    const best = state.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.s = { lr: state.lr, best, badEpochs: state.badEpochs, cooldownCounter: state.cooldownCounter, epoch: state.epoch };
  }

  private isBetter(a: number): boolean {
    const best = this.s.best;
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (1 + t) : a > best + t;
  }
}

/**
 * A reduce-on-plateau controller (PyTorch `ReduceLROnPlateau` rules). Feed `plateau.tensor()` as
 * the optimizer's `lr` input each run and call `plateau.step(metric)` once per epoch.
 * @example
 * const plateau = optim.reduceOnPlateau({ lr: 0.1, factor: 0.5, patience: 3 });
 * const opt = optim.sgd({ lr: g.input('lr', [], 'float32') });
 */
export function reduceOnPlateau(opts: ReduceOnPlateauOptions): ReduceOnPlateau {
  return new ReduceOnPlateau(opts);
}
