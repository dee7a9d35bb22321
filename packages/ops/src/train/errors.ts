/** The typed errors of `train`: bad fit options and refused checkpoints. */
import { captureOrigin, GradgraphError, SerializationError, registerLibraryPath } from '@gradgraph/core';
import { fmtValue } from '../format';

export { fmtValue };

// this folder is library code even when imported directly: errors point at the caller's line
registerLibraryPath(new URL('.', import.meta.url).href);

/**
 * Misuse of the training toolkit: a bad option to `fit`, a metric given tensors of the wrong
 * shape, a monitored value that training never produces. The message names the function.
 *
 * @example
 * try { train.fit({ step, data: loader, epochs: -1 }); } catch (e) {
 *   if (e instanceof train.TrainError) console.log(e.op); // "train.fit"
 * }
 */
export class TrainError extends GradgraphError {
  constructor(op: string, detail: string) {
    super(detail, { op, origin: captureOrigin() });
  }
}

/**
 * A checkpoint that is corrupt or does not match the graph it is loaded into: not JSON, a wrong
 * format or version, a tensor whose bytes don't fit its shape, a missing or unknown param, a
 * shape or dtype that differs, a different graph structure. Loading refuses it before anything is
 * written, so the graph keeps its values. A `SerializationError`.
 *
 * @example
 * try { train.restoreCheckpoint(g, train.readCheckpoint(path)); } catch (e) {
 *   if (e instanceof train.CheckpointError) console.log(e.detail); // what is wrong, by name
 * }
 */
export class CheckpointError extends SerializationError {
  constructor(op: string, detail: string) {
    super(detail, { op, origin: captureOrigin() });
  }
}


/** Rejects option names that are not in `allowed` (a typo would otherwise be ignored). */
export function checkKeys(op: string, opts: unknown, allowed: readonly string[], what = 'options'): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TrainError(op, `${what} must be an object, got ${fmtValue(opts)}`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new TrainError(op, `unknown option "${k}"; expected one of ${allowed.join(', ')}`);
  return opts as Record<string, unknown>;
}

/** An integer option in [min, max]. */
export function intOption(op: string, name: string, v: unknown, def: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const x = v === undefined ? def : v;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    throw new TrainError(op, `${name} must be ${range}, got ${fmtValue(v)}`);
  }
  return x;
}

/** A finite number option ≥ min. */
export function numberOption(op: string, name: string, v: unknown, def: number, min = -Infinity): number {
  const x = v === undefined ? def : v;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min) throw new TrainError(op, `${name} must be a finite number${min > -Infinity ? ` ≥ ${min}` : ''}, got ${fmtValue(v)}`);
  return x;
}

/** One of `choices`. */
export function choiceOption<T extends string>(op: string, name: string, v: unknown, def: T, choices: readonly T[]): T {
  const x = v === undefined ? def : v;
  if (!choices.includes(x as T)) throw new TrainError(op, `${name} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${fmtValue(v)}`);
  return x as T;
}
