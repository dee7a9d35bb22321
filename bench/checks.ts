/**
 * What every implementation of a workload hands the harness, and the checks run on it before
 * timing: every implementation starts from the same weights on the same batches, so their first
 * losses must agree, and each training workload's loss must go down over its first steps.
 */

/** A prepared workload: `step(i)` runs one step on batch i mod 4. */
export interface Prepared {
  readonly step: (i: number) => void;
  /**
   * Numbers read from the last step's results, for the checks: `[loss]` for a training step;
   * `[Σ|C|]` for matmul; `[f, Σ|∂f/∂x|]` for elementwise-grad (sums in float64).
   */
  readonly probe: () => number[];
  /** Frees what the workload made (TF.js tensors, jax-js arrays). */
  readonly dispose?: () => void;
  /** Problems found after the measurement (jax-js: arrays still referenced that should not be). */
  readonly leaks?: () => string[];
}

/** Σ|v| in float64. */
export function absSum(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.abs(v[i]);
  return s;
}

export const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-30);

/**
 * Steps run by the loss check from the initial weights: batches 0, 1, 2, 3 and batch 0 again.
 * (The slowest implementation, TF.js cpu on cnn-train, takes tens of seconds a step.)
 */
export const CHECK_STEPS = 5;

/**
 * The loss decreases: batch 0's loss when it comes round again (step 4, after four updates) is
 * below its loss at step 0. (One of the other batches' losses may rise for a step while Adam's
 * first, sign-like steps settle; every implementation starts from the same weights on the same
 * batches, so this check gives every one of them the same verdict.) Returns the problem, or
 * undefined.
 * @example lossDecreases([2.3, 2.4, 2.2, 2.3, 2.1]) // undefined
 */
export function lossDecreases(losses: readonly number[], period = 4): string | undefined {
  if (!losses.every(Number.isFinite)) return `a loss is not finite: ${losses.map(fmt).join(', ')}`;
  if (losses.length <= period) return `only ${losses.length} losses; batch 0 needs to come round again`;
  if (!(losses[period] < losses[0])) return `batch 0's loss is ${fmt(losses[0])} at step 0 and ${fmt(losses[period])} at step ${period} (not lower)`;
  return undefined;
}

/** An implementation whose probe disagrees with the first implementation's. */
export interface Disagreement {
  readonly impl: string;
  readonly problem: string;
}

/**
 * The probes of several implementations agree within `rtol` (relative, each number against the
 * first implementation's). Returns one disagreement per implementation that doesn't.
 * @example probesAgree([{ impl: 'a', values: [1] }, { impl: 'b', values: [1.1] }], 1e-3) // [{ impl: 'b', problem: 'b gives 1.10000, a 1.00000 (…)' }]
 */
export function probesAgree(probes: readonly { impl: string; values: readonly number[] }[], rtol: number): Disagreement[] {
  if (probes.length < 2) return [];
  const [ref, ...rest] = probes;
  const out: Disagreement[] = [];
  for (const p of rest) {
    const bad = p.values.findIndex((v, k) => !(relDiff(v, ref.values[k]) <= rtol));
    if (bad >= 0) out.push({ impl: p.impl, problem: `${p.impl} gives ${fmt(p.values[bad])}, ${ref.impl} ${fmt(ref.values[bad])} (relative difference ${relDiff(p.values[bad], ref.values[bad]).toExponential(1)} > ${rtol})` });
  }
  return out;
}

export const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));
