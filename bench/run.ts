/**
 * `pnpm bench`: gradgraph (WebAssembly and JavaScript back ends) next to the best JavaScript peers —
 * jax-js on wasm, TensorFlow.js on wasm and cpu — in one process, on the same inputs and initial
 * weights. Prints one JSON line per workload × implementation (`{"workload","impl","median_ms"}`,
 * plus `threads` for gradgraph-wasm and `variant` for issue #16's rows), the checks, compile
 * times, and tables with the ratios against the best peer and the issue's targets.
 * Options: `--only=mlp-train,matmul`, `--impls=gradgraph-wasm,tfjs-wasm`, `--budget=<ms per
 * measurement>` (default 6000), `--quick` (budget 1000).
 */
import * as tf from '@tensorflow/tfjs';
import { Tensor } from '@gradgraph/core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { CHECK_STEPS, fmt, lossDecreases, probesAgree, type Prepared } from './checks';
import { BATCHES, CNN, DEEP, MLP, mlpBatches, type PairBatch } from './data';
import * as gg from './gradgraph';
import { IMPLS, PEER_WORKLOADS, TRAINING, gradgraphThreads, inputs, prepare, skipReason, type Impl, type Inputs, type PeerWorkload } from './impls';
import { kernelMatmul } from './kernels';
import { startRemote, type Remote } from './remote';
import * as tfw from './tfjs';
import { peerTable, transformTable, compileTable, type Row, type TransformRow } from './report';
import { measureInterleaved, type Contender, type Measurement, type MeasureOptions } from './timing';

/** Issue #16's rows (bench/transforms.ts): gradgraph alone, on its default back end. */
type TransformWorkload = 'per-example-grads' | 'jvp';
type WorkloadName = PeerWorkload | TransformWorkload;
const WORKLOADS: readonly WorkloadName[] = [...PEER_WORKLOADS, 'per-example-grads', 'jvp'];

function parseArgs(argv: readonly string[]) {
  const get = (k: string) => argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  const list = <T extends string>(k: string, all: readonly T[]): T[] => {
    const v = get(k);
    if (!v) return [...all];
    const picked = v.split(',') as T[];
    const bad = picked.filter((p) => !all.includes(p));
    if (bad.length) throw new Error(`--${k}: unknown ${bad.join(', ')} (choose from ${all.join(', ')})`);
    return picked;
  };
  const unknown = argv.filter((a) => a !== '--' && !a.startsWith('--only=') && !a.startsWith('--impls=') && !a.startsWith('--budget=') && a !== '--quick');
  if (unknown.length) throw new Error(`unknown option(s) ${unknown.join(' ')}; options: --only=…, --impls=…, --budget=ms, --quick`);
  const quick = argv.includes('--quick');
  const budget = Number(get('budget') ?? (quick ? 1000 : 6000));
  if (!(budget > 0)) throw new Error(`--budget must be a positive number of milliseconds, got ${get('budget')}`);
  return { workloads: list('only', WORKLOADS), impls: list('impls', IMPLS), implsGiven: get('impls') !== undefined, budget };
}

function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; Node ${process.versions.node} (V8 ${process.versions.v8}); TF.js ${tf.version.tfjs}; jax-js 0.1.25; load average ${load}`;
}

/** One contender with its probe (a child process's probe is asynchronous). */
interface Entry {
  readonly name: string;
  readonly impl: string;
  readonly threads?: number;
  readonly enter?: () => Promise<void>;
  readonly step: (i: number) => void | Promise<number>;
  readonly probe: () => number[] | Promise<number[]>;
  readonly prepared?: Prepared;
  readonly remote?: Remote;
}

interface TransformsModule {
  measureTransforms(workloads: readonly string[], opts: MeasureOptions): Promise<TransformRow[]>;
  TRANSFORM_TARGETS: Record<string, Record<string, number>>;
}

/**
 * bench/transforms.ts (issue #16's workloads, written with `jvp` and `perExampleGrads`) comes with
 * those exports; a build without them has no such file. Loaded by a computed path so this
 * harness compiles either way.
 */
async function loadTransforms(): Promise<TransformsModule | undefined> {
  const url = new URL('./transforms.ts', import.meta.url);
  if (!existsSync(url)) return undefined;
  return (await import(url.href)) as TransformsModule;
}

/** Everything that went wrong; any entry makes the run exit with status 1. */
const failures: string[] = [];
function fail(msg: string): void {
  failures.push(msg);
  console.log(`# CHECK FAILED: ${msg}`);
}

/**
 * Runs the checks' first steps on every entry: `steps` steps from the initial weights, probing
 * after each. Returns the probes of the entries that ran (each has made `steps` calls); one that
 * throws is reported and dropped.
 */
async function firstSteps(w: string, entries: Entry[], steps: number): Promise<Map<string, number[][]>> {
  const out = new Map<string, number[][]>();
  for (const e of [...entries]) {
    try {
      await e.enter?.();
      const probes: number[][] = [];
      for (let i = 0; i < steps; i++) {
        await e.step(i);
        probes.push(await e.probe());
      }
      out.set(e.name, probes);
    } catch (err) {
      fail(`${w} on ${e.name} threw in its first steps: ${err instanceof Error ? err.message : String(err)}`);
      entries.splice(entries.indexOf(e), 1);
      e.prepared?.dispose?.();
      e.remote?.close();
    }
  }
  return out;
}

/** The checks of a peer workload: losses decrease and agree (training), results agree (others). */
function checkPeerWorkload(w: PeerWorkload, data: Inputs, entries: readonly Entry[], probes: Map<string, number[][]>): Set<string> {
  const bad = new Set<string>();
  if (TRAINING.includes(w)) {
    for (const e of entries) {
      const losses = probes.get(e.name)!.map((p) => p[0]);
      console.log(`# ${w} ${e.name}: losses of the first ${losses.length} steps ${losses.map(fmt).join(' ')}`);
      const problem = lossDecreases(losses);
      if (problem) {
        fail(`${w} on ${e.name}: the loss does not decrease: ${problem}`);
        bad.add(e.name);
      }
    }
    // same weights, same batches: the same losses, step after step, up to float32 rounding
    for (let s = 0; s < CHECK_STEPS; s++) {
      for (const d of probesAgree(entries.map((e) => ({ impl: e.name, values: [probes.get(e.name)![s][0]] })), 1e-3)) {
        fail(`${w} step ${s}: losses disagree: ${d.problem}`);
        bad.add(d.impl);
      }
    }
  } else {
    const rtol = w === 'elementwise-grad' ? 1e-3 : 1e-5; // f is a float32 sum of 2²⁰ terms, summed in different orders
    const what = w === 'matmul' ? 'Σ|C|' : 'f, Σ|∂f/∂x|';
    const results = entries.map((e) => ({ impl: e.name, values: probes.get(e.name)![0] }));
    const exact = w === 'elementwise-grad' ? `; float64 ${elementwiseReference(data as Tensor[]).map(fmt).join(', ')}` : '';
    console.log(`# ${w} first-step ${what}: ${results.map((r) => `${r.impl} ${r.values.map(fmt).join(', ')}`).join('; ')}${exact}`);
    for (const d of probesAgree(results, rtol)) {
      fail(`${w}: results disagree: ${d.problem}`);
      bad.add(d.impl);
    }
  }
  return bad;
}

/** f and Σ|∂f/∂x| of elementwise-grad on batch 0 in float64, for the check's line. */
function elementwiseReference(batches: readonly Tensor[]): number[] {
  const x = batches[0].data;
  let f = 0;
  let g = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const s = 1 / (1 + Math.exp(-(1.5 * v + 0.5)));
    const t = Math.tanh(v);
    f += s * t + Math.log1p(Math.exp(v)) - 0.1 * v * v;
    // d/dx: 1.5σ'(1.5x+0.5)·tanh x + σ·(1 − tanh²x) + σ(x) − 0.2x
    g += Math.abs(1.5 * s * (1 - s) * t + s * (1 - t * t) + 1 / (1 + Math.exp(-v)) - 0.2 * v);
  }
  return [f, g];
}

/** numpy's 1024³ float32 matmul GFLOP/s through python3, where python3 has numpy: the machine's ceiling. */
function numpyCeiling(): { gflops: number; numpy: string; exe: string } | undefined {
  const script = [
    'import json, sys, time',
    'import numpy as np',
    'r = np.random.default_rng(0)',
    'a = r.standard_normal((1024, 1024), dtype=np.float32); b = r.standard_normal((1024, 1024), dtype=np.float32)',
    'for _ in range(3): a @ b',
    'ts = []',
    'for _ in range(20):',
    '    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)',
    'ts.sort()',
    'print(json.dumps({"gflops": 2 * 1024**3 / ts[len(ts) // 2] / 1e9, "numpy": np.__version__, "exe": sys.executable}))',
  ].join('\n');
  const found: { gflops: number; numpy: string; exe: string }[] = [];
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      const r = JSON.parse(execFileSync(py, ['-c', script], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] }));
      if (!found.some((f) => f.exe === r.exe)) found.push(r);
    } catch {
      // no such python, or no numpy: no ceiling line from it
    }
  }
  return found.sort((a, b) => b.gflops - a.gflops)[0];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const opts: MeasureOptions = { budgetMs: args.budget };
  const threads = gradgraphThreads();
  const hasWasm = gg.hasBackend('wasm');
  const impls = args.impls;
  const defaultImpl = `gradgraph-${gg.DEFAULT_BACKEND}`;

  console.log(`# machine: ${machine()}`);
  console.log(`# gradgraph back ends: ${gg.hasBackend('js') ? 'js' : ''}${hasWasm ? ', wasm' : ''}; the default is ${gg.DEFAULT_BACKEND}${hasWasm ? '' : " (no 'wasm' back end in this build: gradgraph-wasm is skipped)"}`);
  const others = [1, 2].filter((t) => t !== threads);
  console.log(
    `# threads: gradgraph-wasm ${threads} (${process.env.GRADGRAPH_THREADS ? 'GRADGRAPH_THREADS' : 'GRADGRAPH_THREADS unset: the number of cores'}` +
      `${hasWasm ? `; the matmul row also runs it on ${others.map((t) => `${t} thread${t > 1 ? 's' : ''} ${t < threads ? "in this process (compile's threads option)" : 'in a child process'}`).join(' and ')}` : ''}); ` +
      'jax-js-wasm runs one thread in Node (its worker pool needs a global Worker, which Node 20 lacks); tfjs-wasm one (setThreadsCount(1)); gradgraph-js and tfjs-cpu one',
  );
  if (!gg.HAS.conv) console.log('# not in this build of @gradgraph/core: conv and maxPool — cnn-train runs on the peers only');
  console.log(`# timing: median wall-clock ms after warm-up; implementations interleaved round by round; ${BATCHES} pre-generated batches in rotation; shared initial weights; ~${args.budget} ms per implementation; float32`);

  const rows: Row[] = [];
  const badImpls = new Map<string, Set<string>>(); // workload → implementations whose checks failed
  const record = (workload: string, impl: string, m: Measurement, extra: { threads?: number; variant?: string } = {}) => {
    rows.push({ workload, impl, m, ...extra });
    const line: Record<string, unknown> = { workload, impl };
    if (extra.threads !== undefined) line.threads = extra.threads;
    if (extra.variant !== undefined) line.variant = extra.variant;
    line.median_ms = Number(m.medianMs.toFixed(3));
    console.log(JSON.stringify(line));
  };
  let ceiling: ReturnType<typeof numpyCeiling>;

  for (const w of args.workloads.filter((w): w is PeerWorkload => (PEER_WORKLOADS as readonly string[]).includes(w))) {
    const data = inputs(w);
    const entries: Entry[] = [];
    for (const impl of impls) {
      const reason =
        skipReason(w, impl) ??
        // TF.js cpu takes ~30 s per cnn-train step on a quiet machine: 3 minutes with its checks
        (w === 'cnn-train' && impl === 'tfjs-cpu' && !args.implsGiven ? 'about 30 s a step (3 minutes with its checks); name it in --impls to include it' : undefined);
      if (reason) {
        console.log(`# ${w} ${impl}: skipped — ${reason}`);
        continue;
      }
      try {
        const r = await prepare(w, impl, data);
        const threadsOf = impl === 'gradgraph-wasm' ? threads : undefined;
        entries.push({ name: impl, impl, threads: threadsOf, enter: r.enter, step: r.prepared.step, probe: r.prepared.probe, prepared: r.prepared });
      } catch (e) {
        fail(`${w} on ${impl} failed to build: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // matmul: gradgraph-wasm at the other thread count(s) too — fewer threads than the pool's in
    // this process (compile's `threads` option: the kernel runs on the calling thread alone), more
    // in a child process started with GRADGRAPH_THREADS set (the pool's size is fixed per process)
    if (w === 'matmul' && impls.includes('gradgraph-wasm') && hasWasm) {
      for (const t of [1, 2].filter((t) => t !== threads)) {
        try {
          if (t < threads) {
            const p = gg.matmul(data as PairBatch[], 'wasm', t);
            entries.push({ name: `gradgraph-wasm×${t}`, impl: 'gradgraph-wasm', threads: t, step: p.step, probe: p.probe, prepared: p });
          } else {
            const remote = await startRemote('matmul', 'gradgraph-wasm', { GRADGRAPH_THREADS: String(t) });
            entries.push({ name: `gradgraph-wasm×${t}`, impl: 'gradgraph-wasm', threads: t, step: (i) => remote.step(i), probe: () => remote.probe(), remote });
          }
        } catch (e) {
          fail(`matmul on gradgraph-wasm with ${t} thread(s)${t < threads ? '' : ' (child process)'} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
    const steps = TRAINING.includes(w) ? CHECK_STEPS : 1;
    const probes = await firstSteps(w, entries, steps);
    badImpls.set(w, checkPeerWorkload(w, data, entries, probes));

    const contenders: Contender[] = entries.map((e) => ({ name: e.name, enter: e.enter, step: e.step, callsMade: steps }));
    // the JS back end's kernel alone, on the same inputs as the matmul workload
    if (w === 'matmul' && impls.includes('gradgraph-js')) contenders.push({ name: 'kernel-js', step: kernelMatmul(data as PairBatch[]) });
    const results = await measureInterleaved(contenders, opts);
    for (const e of entries) record(w, e.impl, results.get(e.name)!, e.threads !== undefined ? { threads: e.threads } : {});
    if (results.has('kernel-js')) record('matmul-kernel', 'kernel-js', results.get('kernel-js')!);
    for (const e of entries) {
      for (const leak of e.prepared?.leaks?.() ?? []) fail(`${w} on ${e.name} after timing: ${leak}`);
      e.prepared?.dispose?.();
      e.remote?.close();
    }
    if (w === 'matmul') {
      ceiling = numpyCeiling();
      if (ceiling) console.log(`# ceiling (not a target): numpy ${ceiling.numpy} (${ceiling.exe}) 1024³ float32 matmul ${ceiling.gflops.toFixed(0)} GFLOP/s`);
      else console.log('# ceiling: no python3 with numpy here');
    }
  }

  if (impls.includes('tfjs-wasm') && args.workloads.some((w) => (PEER_WORKLOADS as readonly string[]).includes(w))) console.log(`# tfjs-wasm SIMD: ${(await tfw.wasmSimd()) ? 'yes' : 'no'}`);

  // ---- issue #16: per-example gradients and jvp, gradgraph alone on its default back end -------
  const transformWorkloads = args.workloads.filter((w): w is TransformWorkload => w === 'per-example-grads' || w === 'jvp');
  const transformRows: TransformRow[] = [];
  let transformTargets: TransformsModule['TRANSFORM_TARGETS'] = {};
  if (transformWorkloads.length && impls.includes(defaultImpl as Impl)) {
    const mod = await loadTransforms();
    if (!mod) console.log(`# ${transformWorkloads.join(', ')}: skipped — bench/transforms.ts (the transforms branch, with jvp and perExampleGrads in @gradgraph/core) is not in this build`);
    else {
      transformTargets = mod.TRANSFORM_TARGETS;
      for (const r of await mod.measureTransforms(transformWorkloads, opts)) {
        transformRows.push(r);
        console.log(JSON.stringify({ workload: r.workload, impl: defaultImpl, variant: r.impl, median_ms: Number(r.m.medianMs.toFixed(3)), ratio: Number(r.ratio.toFixed(3)) }));
      }
    }
  }

  // ---- compile times and memory plans, per gradgraph back end ---------------------------------
  const compiles: { backend: string; mlp: gg.CompileTimes; large: gg.CompileTimes }[] = [];
  const mlpFeeds = { x: mlpBatches()[0].x, y: mlpBatches()[0].y };
  for (const backend of (['wasm', 'js'] as const).filter((b) => gg.hasBackend(b) && impls.includes(`gradgraph-${b}`))) {
    // the fresh processes first: the in-process compiles leave this process's pool faulting pages in
    const fresh = gg.freshCompileTimes(backend);
    const mlp = { ...gg.compileTimes(() => gg.buildMlp(), mlpFeeds, backend), fresh };
    const large = gg.compileTimes(() => gg.buildLargeGraph(), { x: Tensor.randn([8, 16], 'float32', 9) }, backend, 3);
    compiles.push({ backend, mlp, large });
    for (const [name, c] of [['mlp-train', mlp], ['graph-10k', large]] as const) {
      console.log(JSON.stringify({ compile: name, backend: c.backend, cold_ms: round3(c.coldMs), warm_ms: round3(c.warmMs), first_run_ms: round3(c.firstRunMs), warm_first_run_ms: round3(c.warmFirstRunMs), nodes: c.nodes }));
    }
    for (const f of mlp.fresh) {
      console.log(JSON.stringify({ compile: 'mlp-train', backend: mlp.backend, new_structure_fresh_process: true, compile_ms: round3(f.compileMs), first_run_ms: round3(f.firstRunMs), total_ms: round3(f.compileMs + f.firstRunMs), main_thread_on_core_ms: round3(f.onCoreMs), main_thread_waiting_ms: round3(f.waitMs) }));
    }
  }
  const memories: { backend: string; mem: gg.MemoryFigures }[] = [];
  for (const backend of (['wasm', 'js'] as const).filter((b) => gg.hasBackend(b) && impls.includes(`gradgraph-${b}`))) {
    const mem = gg.memoryFigures(() => gg.buildMlp(), mlpFeeds, backend);
    if (!mem) continue;
    memories.push({ backend, mem });
    console.log(JSON.stringify({ memory: 'mlp-train', backend, arena_bytes: mem.arenaBytes, values_bytes: mem.valuesBytes, unshared_bytes: mem.unsharedBytes, ratio: round3(mem.valuesBytes / mem.unsharedBytes), peak_live_bytes: mem.peakLiveBytes, in_place_updates: mem.inPlaceUpdates, updates: mem.updates }));
  }

  for (const table of [peerTable(rows, impls, badImpls, threads, ceiling?.gflops), transformTable(transformRows, transformTargets, defaultImpl), compileTable(compiles, memories)]) {
    if (table) console.log(`\n${table}`);
  }
  const what: Record<WorkloadName, string> = {
    'mlp-train': `mlp-train ${MLP.sizes.join('-')} batch ${MLP.batch}`,
    matmul: 'matmul 1024²',
    'elementwise-grad': 'elementwise-grad 2²⁰',
    'deep-narrow': `deep-narrow ${DEEP.depth}×${DEEP.width} batch ${DEEP.batch}`,
    'cnn-train': `cnn-train conv 5×5×${CNN.channels[1]} and 5×5×${CNN.channels[2]}, dense ${CNN.classes}, batch ${CNN.batch} of ${CNN.size}×${CNN.size}×1`,
    'per-example-grads': 'per-example-grads 784-256-10 batch 128',
    jvp: 'jvp of the elementwise-grad function',
  };
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s in all; workloads: ${args.workloads.map((w) => what[w]).join('; ')})`);
  if (failures.length) {
    console.log(`\n${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

const round3 = (x: number) => Number(x.toFixed(3));

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
