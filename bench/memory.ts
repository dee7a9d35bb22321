/**
 * `pnpm bench:memory`: runs the deep-narrow training step 10,000 times and prints how much the
 * JS heap grew, measured after forced garbage collections (run with `node --expose-gc`). The
 * baseline is taken after the first step, which is when executables specialize and cache.
 * `--steps=N` changes the step count.
 */
import { deepBatches } from './data';
import * as gg from './gradgraph';

function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/memory.ts needs --expose-gc: run it with `pnpm bench:memory`');
  // two passes: the first may only schedule finalization of what the second frees
  gc();
  gc();
}

function heapMb(): number {
  forceGc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const arg = process.argv.find((a) => a.startsWith('--steps='));
const steps = arg ? Number(arg.slice('--steps='.length)) : 10_000;
if (!Number.isInteger(steps) || steps < 2) throw new Error(`--steps must be an integer ≥ 2, got ${arg}`);

const beforeCompile = heapMb();
const batches = deepBatches();
const prep = gg.deepNarrow(batches, 'js');
prep.step(0);
const baseline = heapMb();
const samples: string[] = [];
const t0 = performance.now();
for (let i = 1; i < steps; i++) {
  prep.step(i);
  if (i % Math.ceil(steps / 5) === 0) samples.push(`${i}: ${(heapMb() - baseline).toFixed(2)}`);
}
const seconds = (performance.now() - t0) / 1000;
const after = heapMb();
const growth = after - baseline;
console.log(JSON.stringify({ workload: 'deep-narrow', steps, backend: prep.backend, heap_growth_mb: Number(growth.toFixed(3)), heap_mb: Number(after.toFixed(3)) }));
console.log(`deep-narrow on ${prep.backend}: ${steps} steps in ${seconds.toFixed(1)} s (${((seconds * 1000) / (steps - 1)).toFixed(2)} ms/step)`);
console.log(`heap after GC: ${baseline.toFixed(2)} MB after the first step, ${after.toFixed(2)} MB after step ${steps}: grew ${growth.toFixed(2)} MB (target < 2 MB: ${growth < 2 ? 'met' : 'not met'})`);
console.log(`growth at steps ${samples.join(', ')} MB; compile and first step took ${(baseline - beforeCompile).toFixed(2)} MB`);
