/** The typed error of `adversarial`: bad attack options, inputs outside the valid range. */
import { captureOrigin, GradgraphError, registerLibraryPath } from '@gradgraph/core';
import { fmtValue } from '../format';

export { fmtValue };

// this folder is library code even when imported directly: errors point at the caller's line
registerLibraryPath(new URL('.', import.meta.url).href);

/**
 * Misuse of the adversarial toolkit: an unknown or impossible option (a negative ε, zero steps),
 * examples outside the valid input range, labels that don't fit the examples. The message names
 * the function and the option.
 *
 * @example
 * try { atk.pgd(x, y, { eps: -1 }); } catch (e) {
 *   if (e instanceof adversarial.AttackError) console.log(e.op); // "Attacker.pgd"
 * }
 */
export class AttackError extends GradgraphError {
  constructor(op: string, detail: string) {
    super(detail, { op, origin: captureOrigin() });
  }
}

/** Rejects option names that are not in `allowed` (a typo would otherwise be ignored). */
export function checkKeys(op: string, opts: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new AttackError(op, `options must be an object, got ${fmtValue(opts)}`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new AttackError(op, `unknown option "${k}"; expected one of ${allowed.join(', ')}`);
  return opts as Record<string, unknown>;
}

/** A finite number option in [min, ∞) (or (min, ∞) with `above`), or `def` when absent. */
export function numberOption(op: string, name: string, v: unknown, def: number | undefined, rule: { min?: number; above?: number } = {}): number {
  const x = v === undefined ? def : v;
  if (x === undefined) throw new AttackError(op, `option "${name}" is required`);
  const ok = typeof x === 'number' && Number.isFinite(x) && (rule.min === undefined || x >= rule.min) && (rule.above === undefined || x > rule.above);
  if (!ok) throw new AttackError(op, `option "${name}" must be a finite number${rule.min !== undefined ? ` ≥ ${rule.min}` : rule.above !== undefined ? ` > ${rule.above}` : ''}, got ${fmtValue(v)}`);
  return x as number;
}

/** An integer option ≥ min, or `def` when absent. */
export function intOption(op: string, name: string, v: unknown, def: number, min: number): number {
  const x = v === undefined ? def : v;
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw new AttackError(op, `option "${name}" must be an integer ≥ ${min}, got ${fmtValue(v)}`);
  return x;
}
