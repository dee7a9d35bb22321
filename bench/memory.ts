/**
 * `pnpm bench:memory`: runs the deep-narrow training step 10,000 times on each compiled gradgraph
 * back end (the JavaScript one, and the WebAssembly one where this build has it) and prints how
 * much the JS heap grew, measured after forced garbage collections (run with `node --expose-gc`).
 * The baseline is taken after the first step, which is when executables specialize and cache.
 * The resident set size is printed too: the WebAssembly back end's arena lives in a shared
 * WebAssembly memory, which the JS heap figures don't count (its growth shows in the RSS once
 * touched). `--steps=N` changes the step count, `--backend=js|wasm` picks one back end.
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

/** JS heap and resident set, in MB, after GC. */
function usage(): { heap: number; rss: number } {
  forceGc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const steps = arg('steps') !== undefined ? Number(arg('steps')) : 10_000;
if (!Number.isInteger(steps) || steps < 2) throw new Error(`--steps must be an integer ≥ 2, got ${arg('steps')}`);
const only = arg('backend');
if (only !== undefined && only !== 'js' && only !== 'wasm') throw new Error(`--backend must be js or wasm, got ${only}`);
const unknown = process.argv.slice(2).filter((a) => a !== '--' && !a.startsWith('--steps=') && !a.startsWith('--backend='));
if (unknown.length) throw new Error(`unknown option(s) ${unknown.join(' ')}; options: --steps=N, --backend=js|wasm`);

let failed = false;
for (const backend of only ? [only as gg.Backend] : (['js', 'wasm'] as const)) {
  if (!gg.hasBackend(backend)) {
    console.log(`deep-narrow on ${backend}: skipped — compile() has no '${backend}' back end in this build`);
    continue;
  }
  const beforeCompile = usage();
  const prep = gg.deepNarrow(deepBatches(), backend);
  prep.step(0);
  const baseline = usage();
  const samples: string[] = [];
  const t0 = performance.now();
  for (let i = 1; i < steps; i++) {
    prep.step(i);
    if (i % Math.ceil(steps / 5) === 0) {
      const u = usage();
      samples.push(`${i}: ${(u.heap - baseline.heap).toFixed(2)} (rss ${(u.rss - baseline.rss).toFixed(1)})`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = usage();
  const growth = after.heap - baseline.heap;
  const ok = growth < 2;
  failed ||= !ok;
  console.log(JSON.stringify({ workload: 'deep-narrow', steps, backend: prep.backend, heap_growth_mb: Number(growth.toFixed(3)), heap_mb: Number(after.heap.toFixed(3)), rss_growth_mb: Number((after.rss - baseline.rss).toFixed(3)) }));
  console.log(`deep-narrow on ${prep.backend}: ${steps} steps in ${seconds.toFixed(1)} s (${((seconds * 1000) / (steps - 1)).toFixed(2)} ms/step)`);
  console.log(`heap after GC: ${baseline.heap.toFixed(2)} MB after the first step, ${after.heap.toFixed(2)} MB after step ${steps}: grew ${growth.toFixed(2)} MB (target < 2 MB: ${ok ? 'met' : 'not met'})`);
  console.log(`resident set: ${baseline.rss.toFixed(1)} MB after the first step, ${after.rss.toFixed(1)} MB after step ${steps} (grew ${(after.rss - baseline.rss).toFixed(1)} MB)`);
  console.log(`growth at steps ${samples.join(', ')} MB; compile and first step took ${(baseline.heap - beforeCompile.heap).toFixed(2)} MB of heap`);
}
if (failed) process.exitCode = 1;
