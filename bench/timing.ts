/**
 * Timing for the benchmarks: median wall-clock milliseconds after warm-up, with iteration counts
 * chosen from a time budget so that slow implementations take a few samples and fast ones many.
 */

export interface Measurement {
  /** Median of the timed samples, in milliseconds. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly samples: number;
  readonly warmup: number;
}

export interface MeasureOptions {
  /** Wall-clock budget for the timed samples (the last sample may overrun it). Default 6000 ms. */
  budgetMs?: number;
  /** At least this many timed samples, whatever the budget. Default 3. */
  minSamples?: number;
  /** At most this many timed samples. Default 50. */
  maxSamples?: number;
  /** Warm up for at least this many calls and at most this long (at least 1 call). Defaults 3, 1500 ms. */
  warmupCalls?: number;
  warmupMs?: number;
}

/**
 * The median (the mean of the middle two for an even count).
 * @example median([3, 1, 2]) // 2
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times `step(i)` (i counts calls from 0, so the caller can rotate through pre-generated batches).
 * Warm-up calls run first (JIT tier-up, first-run specialization, caches) and are not timed.
 * @example const m = measure((i) => exe.run(feeds[i % 4]), { budgetMs: 5000 });
 */
export function measure(step: (i: number) => void, opts: MeasureOptions = {}): Measurement {
  const budget = opts.budgetMs ?? 6000;
  const minSamples = opts.minSamples ?? 3;
  const maxSamples = opts.maxSamples ?? 50;
  const warmupCalls = opts.warmupCalls ?? 3;
  const warmupMs = opts.warmupMs ?? 1500;
  let i = 0;
  const w0 = performance.now();
  do step(i++);
  while (i < warmupCalls && performance.now() - w0 < warmupMs);
  const warmup = i;
  const samples: number[] = [];
  const t0 = performance.now();
  while (samples.length < maxSamples && (samples.length < minSamples || performance.now() - t0 < budget)) {
    const t = performance.now();
    step(i++);
    samples.push(performance.now() - t);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), samples: samples.length, warmup };
}

/**
 * `12.3 ms`, `1.23 s`, with 3 significant digits.
 * @example fmtMs(1234) // '1.23 s'
 */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  return `${ms.toPrecision(3)} ms`;
}

/** One implementation in an interleaved measurement. */
export interface Contender {
  readonly name: string;
  /** Runs before each of this contender's calls, untimed (switching a TF.js backend). */
  readonly enter?: () => Promise<void> | void;
  /**
   * One step on call i (per contender, from 0); whatever it returns is ignored and it is timed
   * here — unless it returns a Promise (a step run in a child process), which resolves to the
   * milliseconds the step measured itself, so the message passing is not counted.
   */
  readonly step: (i: number) => unknown;
  /** Calls already made before the measurement (the checks): call numbering continues from here. */
  readonly callsMade?: number;
}

/** Runs one step and returns its milliseconds. */
async function timedStep(c: Contender, i: number): Promise<number> {
  const t = performance.now();
  const r = c.step(i);
  if (r instanceof Promise) return (await r) as number;
  return performance.now() - t;
}

/**
 * Times several implementations of one workload in rounds, one call of each per round, so that
 * load from other processes on a shared machine falls on all of them alike and their ratios
 * stay meaningful. Each contender warms up alone first (calls made before — the checks — count
 * toward the warm-up's call count). Rounds go on until the budget (per
 * contender, so the total is `budgetMs × contenders`) is spent, every contender has
 * `minSamples`, or `maxSamples` rounds have run.
 * @example const ms = await measureInterleaved([{ name: 'a', step: runA }, { name: 'b', step: runB }]);
 */
export async function measureInterleaved(contenders: readonly Contender[], opts: MeasureOptions = {}): Promise<Map<string, Measurement>> {
  const budget = (opts.budgetMs ?? 6000) * contenders.length;
  const minSamples = opts.minSamples ?? 3;
  const maxSamples = opts.maxSamples ?? 50;
  const warmupCalls = opts.warmupCalls ?? 3;
  const warmupMs = opts.warmupMs ?? 1500;
  const calls = contenders.map((c) => c.callsMade ?? 0);
  const samples: number[][] = contenders.map(() => []);
  const warmups: number[] = [];
  for (const [c, k] of contenders.map((c, k) => [c, k] as const)) {
    await c.enter?.();
    const w0 = performance.now();
    const before = calls[k];
    do await timedStep(c, calls[k]++);
    while (calls[k] < warmupCalls && performance.now() - w0 < warmupMs);
    warmups.push(calls[k] - before);
  }
  const t0 = performance.now();
  for (let round = 0; round < maxSamples && (round < minSamples || performance.now() - t0 < budget); round++) {
    for (const [c, k] of contenders.map((c, k) => [c, k] as const)) {
      await c.enter?.();
      samples[k].push(await timedStep(c, calls[k]++));
    }
  }
  return new Map(contenders.map((c, k) => [c.name, { medianMs: median(samples[k]), minMs: Math.min(...samples[k]), samples: samples[k].length, warmup: warmups[k] }]));
}
