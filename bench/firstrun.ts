/**
 * `tsx bench/firstrun.ts [backend] [repeats] [--warm | --new-structure]`: compile() and the first
 * run of the mlp-train step on fresh graphs, as bench/run.ts's compile section measures them.
 * `--warm` first runs the mlp-train workload for a while, as `pnpm bench` does before its compile
 * section (so "cold" is a fresh graph, not a fresh process). `--new-structure` first runs the
 * deep-narrow and elementwise-grad workloads instead and clears the wasm program-module cache, so
 * the first compile is of a structure the process has never compiled (the later ones reuse its
 * module). Each line also gives the main thread's CPU time and its wait for a core (Linux
 * schedstat): on a shared 2-core machine the wall time is often mostly the latter. Profile with
 * `node --cpu-prof --import tsx bench/firstrun.ts wasm 4 --warm`. `--json`: one JSON line per
 * compile instead (what `pnpm bench` reads: it runs `wasm 1 --new-structure --json` in fresh
 * processes, because V8 keeps the code it compiled for a module's bytes for the whole process —
 * a structure compiled before in the process, even with gradgraph's caches cleared, is not new).
 */
import { existsSync, readFileSync } from 'node:fs';
import { deepBatches, elementwiseBatches, mlpBatches } from './data';
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
if (process.argv.includes('--new-structure')) {
  for (const w of [gg.deepNarrow(deepBatches(), backend), gg.elementwiseGrad(elementwiseBatches(), backend)]) {
    for (let i = 0; i < 40; i++) w.step(i);
  }
  wasm.clearProgramModuleCache();
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
/** The main thread's time on a core and waiting for one, in ms (Linux), else NaN. */
const schedPath = `/proc/self/task/${process.pid}/schedstat`;
const sched = () => (existsSync(schedPath) ? readFileSync(schedPath, 'utf8').split(' ').slice(0, 2).map((ns) => Number(ns) / 1e6) : [NaN, NaN]);
const mainFaults = () => (existsSync(statPath) ? Number(readFileSync(statPath, 'utf8').split(') ')[1].split(' ')[7]) : process.resourceUsage().minorPageFault);
const totals: number[] = [];
for (let r = 0; r < repeats; r++) {
  const { g, opts } = gg.buildMlp();
  const f0 = mainFaults();
  const [cpu0, wait0] = sched();
  let t = performance.now();
  const exe = measuredCompile(g, opts);
  const compileMs = performance.now() - t;
  const f1 = mainFaults();
  const pending = wasm.prefaultPending?.() ?? 0;
  t = performance.now();
  measuredFirstRun(exe);
  const firstMs = performance.now() - t;
  const f2 = mainFaults();
  const [cpu2, wait2] = sched();
  t = performance.now();
  exe.run(feeds);
  const secondMs = performance.now() - t;
  totals.push(compileMs + firstMs);
  if (process.argv.includes('--json')) {
    const round = (x: number) => Number(x.toFixed(3));
    console.log(JSON.stringify({ firstrun: backend, repeat: r, compile_ms: round(compileMs), first_run_ms: round(firstMs), second_run_ms: round(secondMs), on_core_ms: round(cpu2 - cpu0), wait_ms: round(wait2 - wait0) }));
    continue;
  }
  console.log(`${r === 0 ? 'cold' : 'warm'} ${backend}: compile ${compileMs.toFixed(1)} ms, first run ${firstMs.toFixed(1)} ms, total ${(compileMs + firstMs).toFixed(1)} ms; second run ${secondMs.toFixed(1)} ms; main thread over compile + first run: ${(cpu2 - cpu0).toFixed(1)} ms on a core, ${(wait2 - wait0).toFixed(1)} ms waiting for one; main-thread page faults: compile ${f1 - f0}, first run ${f2 - f1} (pages the workers had still to fault in when it started: ${pending})`);
}
