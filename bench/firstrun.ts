/**
 * `tsx bench/firstrun.ts [backend] [repeats] [--warm]`: compile() and the first run of the
 * mlp-train step on fresh graphs, as bench/run.ts's compile section measures them. `--warm` first
 * runs the mlp-train workload for a while, as `pnpm bench` does before its compile section (so
 * "cold" is a fresh graph, not a fresh process). Profile with
 * `node --cpu-prof --import tsx bench/firstrun.ts wasm 4 --warm`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mlpBatches } from './data';
import * as gg from './gradgraph';
import * as wasm from '@gradgraph/core/backend/wasm';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const backend = (args[0] ?? 'wasm') as gg.Backend;
const repeats = Number(args[1] ?? 4);
const batches = mlpBatches();
const feeds = { x: batches[0].x, y: batches[0].y };
if (process.argv.includes('--warm')) {
  const w = gg.mlpTrain(batches, backend);
  for (let i = 0; i < 60; i++) w.step(i);
  w.dispose?.();
}
// named, so a CPU profile can be cut at them
function measuredCompile(g: Parameters<typeof gg.compileOn>[0], opts: Parameters<typeof gg.compileOn>[1]) {
  return gg.compileOn(g, opts, backend).exe;
}
function measuredFirstRun(exe: ReturnType<typeof measuredCompile>) {
  exe.run(feeds);
}
/** Minor page faults of the main thread (Linux), else of the process. */
const statPath = `/proc/self/task/${process.pid}/stat`;
const mainFaults = () => (existsSync(statPath) ? Number(readFileSync(statPath, 'utf8').split(') ')[1].split(' ')[7]) : process.resourceUsage().minorPageFault);
const totals: number[] = [];
for (let r = 0; r < repeats; r++) {
  const { g, opts } = gg.buildMlp();
  const f0 = mainFaults();
  let t = performance.now();
  const exe = measuredCompile(g, opts);
  const compileMs = performance.now() - t;
  const f1 = mainFaults();
  const pending = wasm.prefaultPending?.() ?? 0;
  t = performance.now();
  measuredFirstRun(exe);
  const firstMs = performance.now() - t;
  const f2 = mainFaults();
  t = performance.now();
  exe.run(feeds);
  const secondMs = performance.now() - t;
  totals.push(compileMs + firstMs);
  console.log(`${r === 0 ? 'cold' : 'warm'} ${backend}: compile ${compileMs.toFixed(1)} ms, first run ${firstMs.toFixed(1)} ms, total ${(compileMs + firstMs).toFixed(1)} ms; second run ${secondMs.toFixed(1)} ms; main-thread page faults: compile ${f1 - f0}, first run ${f2 - f1} (pages the workers had still to fault in when it started: ${pending})`);
}
