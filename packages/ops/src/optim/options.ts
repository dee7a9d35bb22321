/**
 * Checks for hyperparameters. Every optimizer and schedule validates its options when it is
 * built, so a typo (`learningRate` for `lr`) or an impossible value (a negative lr, β = 1) fails
 * at the user's line with the option named, not as a NaN a thousand steps later.
 */
import { GraphError, captureOrigin } from '@gradgraph/core';

/** Throws a GraphError for `op` at the user's line. */
export function optionError(op: string, detail: string): GraphError {
  return new GraphError(detail, { op, origin: captureOrigin() });
}

/** Rejects option keys `op` doesn't know, naming the ones it does. */
export function checkKeys(op: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw optionError(op, `options must be an object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
  }
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw optionError(op, `unknown option "${key}"; known options: ${known.join(', ')}`);
  }
  return opts as Record<string, unknown>;
}

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

function describeRule(r: NumberRule): string {
  const lo = r.min !== undefined ? `[${r.min}` : r.above !== undefined ? `(${r.above}` : '(-∞';
  const hi = r.max !== undefined ? `${r.max}]` : r.below !== undefined ? `${r.below})` : '∞)';
  return `${r.integer ? 'an integer' : 'a number'} in ${lo}, ${hi}`;
}

/** A finite number satisfying `rule`, or `def` when the option is absent. */
export function numberOption(op: string, name: string, value: unknown, def: number | undefined, rule: NumberRule = {}): number {
  if (value === undefined) {
    if (def === undefined) throw optionError(op, `option "${name}" is required (${describeRule(rule)})`);
    return def;
  }
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below) &&
    (!rule.integer || Number.isInteger(value));
  if (!ok) throw optionError(op, `option "${name}" must be ${describeRule(rule)}, got ${typeof value === 'number' ? value : JSON.stringify(value) ?? String(value)}`);
  return value as number;
}

export function boolOption(op: string, name: string, value: unknown, def: boolean): boolean {
  if (value === undefined) return def;
  if (typeof value !== 'boolean') throw optionError(op, `option "${name}" must be true or false, got ${JSON.stringify(value) ?? String(value)}`);
  return value;
}

export function choiceOption<T extends string>(op: string, name: string, value: unknown, def: T, choices: readonly T[]): T {
  if (value === undefined) return def;
  if (!choices.includes(value as T)) throw optionError(op, `option "${name}" must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(value) ?? String(value)}`);
  return value as T;
}
