/**
 * `pnpm bench`: gradgraph next to TensorFlow.js (cpu and wasm backends) on the four workloads of
 * issue #6, in one process. Prints one JSON line per workload × implementation
 * (`{"workload","impl","median_ms"}`), the matmul kernel alone, compile times, and a table with
 * the ratios and the targets. Options: `--only=mlp-train,matmul`, `--impls=gradgraph-js,tfjs-wasm`,
 * `--budget=<ms per measurement>` (default 6000), `--quick` (budget 1000).
 */
import * as tf from '@tensorflow/tfjs';
import { Graph, Tensor } from '@gradgraph/core';
import os from 'node:os';
import { BATCHES, DEEP, deepBatches, elementwiseBatches, matmulBatches, mlpBatches, MLP } from './data';
import * as gg from './gradgraph';
import { kernelMatmul } from './kernels';
import * as tfw from './tfjs';
import { fmtMs, measureInterleaved, type Contender, type Measurement, type MeasureOptions } from './timing';
import { measureTransforms, PER_EXAMPLE, TRANSFORM_TARGETS, type TransformRow } from './transforms';

type Impl = 'gradgraph-js' | 'gradgraph-wasm' | 'tfjs-cpu' | 'tfjs-wasm';
type PeerWorkload = 'mlp-train' | 'matmul' | 'elementwise-grad' | 'deep-narrow';
type WorkloadName = PeerWorkload | 'per-example-grads' | 'jvp';

const WORKLOADS: readonly WorkloadName[] = ['mlp-train', 'matmul', 'elementwise-grad', 'deep-narrow', 'per-example-grads', 'jvp'];
/** Workloads of gradgraph's transformations (bench/transforms.ts): gradgraph-js against its own baseline. */
const TRANSFORM_WORKLOADS: readonly WorkloadName[] = ['per-example-grads', 'jvp'];
const IMPLS: readonly Impl[] = ['gradgraph-js', 'gradgraph-wasm', 'tfjs-cpu', 'tfjs-wasm'];

/** The targets: the gradgraph-js median over a peer's median, at most this. */
const TARGETS: Partial<Record<WorkloadName, Partial<Record<Impl, number>>>> = {
  'mlp-train': { 'tfjs-cpu': 0.4 },
  'elementwise-grad': { 'tfjs-cpu': 0.2, 'tfjs-wasm': 1.0 },
  'deep-narrow': { 'tfjs-wasm': 1.0 },
};

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
  return { workloads: list('only', WORKLOADS), impls: list('impls', IMPLS), budget };
}

/** Whether `compile()` runs graphs on `backend` (it reports so on the executable). */
function backendOf(backend: gg.Backend): string {
  try {
    const g = new Graph();
    const x = g.input('x', [2]);
    return gg.compileOn(g, { inputs: [x], outputs: [x.mul(2)] }, backend).backend;
  } catch {
    return 'unavailable';
  }
}

function machine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; Node ${process.versions.node} (V8 ${process.versions.v8}); TF.js ${tf.version.tfjs}; load average ${load}`;
}

interface Row {
  workload: string;
  impl: string;
  m: Measurement;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const opts: MeasureOptions = { budgetMs: args.budget };
  const ggJs = backendOf('js');
  const ggWasm = backendOf('wasm');
  const impls = args.impls.filter((i) => i !== 'gradgraph-wasm' || ggWasm === 'wasm');
  console.log(`# machine: ${machine()}`);
  console.log(`# gradgraph-js runs on: ${ggJs}${ggJs === 'js' ? ' (the compiled JavaScript backend)' : " (compile() has no 'js' backend: expect the reference interpreter's speed)"}`);
  if (args.impls.includes('gradgraph-wasm') && ggWasm !== 'wasm') console.log('# gradgraph-wasm: not available yet, skipped');
  console.log(`# timing: median wall-clock ms after warm-up; implementations interleaved round by round; ${BATCHES} pre-generated batches in rotation; ~${args.budget} ms per implementation; float32`);

  const rows: Row[] = [];
  const record = (workload: string, impl: string, m: Measurement) => {
    rows.push({ workload, impl, m });
    console.log(JSON.stringify({ workload, impl, median_ms: Number(m.medianMs.toFixed(3)) }));
  };

  for (const w of args.workloads.filter((x): x is PeerWorkload => !TRANSFORM_WORKLOADS.includes(x))) {
    const data = {
      'mlp-train': mlpBatches,
      matmul: matmulBatches,
      'elementwise-grad': elementwiseBatches,
      'deep-narrow': deepBatches,
    }[w]();
    const contenders: Contender[] = [];
    const disposers: (() => void)[] = [];
    for (const impl of impls) {
      if (impl.startsWith('gradgraph')) {
        const backend = impl === 'gradgraph-js' ? 'js' : 'wasm';
        const prep = {
          'mlp-train': () => gg.mlpTrain(data as ReturnType<typeof mlpBatches>, backend),
          matmul: () => gg.matmul(data as ReturnType<typeof matmulBatches>, backend),
          'elementwise-grad': () => gg.elementwiseGrad(data as Tensor[], backend),
          'deep-narrow': () => gg.deepNarrow(data as ReturnType<typeof deepBatches>, backend),
        }[w]();
        contenders.push({ name: impl, step: prep.step });
      } else {
        const backend = impl === 'tfjs-cpu' ? 'cpu' : 'wasm';
        await tfw.useBackend(backend); // tensors and variables are made on the backend they run on
        const prep = {
          'mlp-train': () => tfw.mlpTrain(data as ReturnType<typeof mlpBatches>),
          matmul: () => tfw.matmul(data as ReturnType<typeof matmulBatches>),
          'elementwise-grad': () => tfw.elementwiseGrad(data as Tensor[]),
          'deep-narrow': () => tfw.deepNarrow(data as ReturnType<typeof deepBatches>),
        }[w]();
        contenders.push({ name: impl, enter: async () => void (await tf.setBackend(backend)), step: prep.step });
        disposers.push(prep.dispose);
      }
    }
    // the kernel alone, on the same inputs as the matmul workload, next to tf.matMul
    if (w === 'matmul') contenders.push({ name: 'kernel-js', step: kernelMatmul(data as ReturnType<typeof matmulBatches>) });
    const results = await measureInterleaved(contenders, opts);
    for (const [impl, m] of results) record(impl === 'kernel-js' ? 'matmul-kernel' : w, impl, m);
    disposers.forEach((d) => d());
  }

  if (impls.includes('tfjs-wasm')) console.log(`# tfjs-wasm SIMD: ${(await tfw.wasmSimd()) ? 'yes' : 'no'}`);

  // the transformations: each program next to its baseline, gradgraph-js only
  const transformRows = impls.includes('gradgraph-js') ? await measureTransforms(args.workloads.filter((w) => TRANSFORM_WORKLOADS.includes(w)), opts) : [];
  for (const r of transformRows) console.log(JSON.stringify({ workload: r.workload, impl: r.impl, median_ms: Number(r.m.medianMs.toFixed(3)), ratio: Number(r.ratio.toFixed(3)) }));

  // compile times: the mlp-train step, and a graph of 10,000 nodes
  const mlpFeeds = { x: mlpBatches()[0].x, y: mlpBatches()[0].y };
  const mlpCompile = gg.compileTimes(gg.buildMlp, mlpFeeds, 'js');
  const largeCompile = gg.compileTimes(() => gg.buildLargeGraph(), { x: Tensor.randn([8, 16], 'float32', 9) }, 'js', 3);
  console.log(JSON.stringify({ compile: 'mlp-train', cold_ms: round3(mlpCompile.coldMs), warm_ms: round3(mlpCompile.warmMs), first_run_ms: round3(mlpCompile.firstRunMs), nodes: mlpCompile.nodes }));
  console.log(JSON.stringify({ compile: 'graph-10k', cold_ms: round3(largeCompile.coldMs), warm_ms: round3(largeCompile.warmMs), first_run_ms: round3(largeCompile.firstRunMs), nodes: largeCompile.nodes }));

  const mem = gg.memoryFigures(gg.buildMlp, mlpFeeds);
  if (mem) {
    console.log(JSON.stringify({ memory: 'mlp-train', arena_bytes: mem.arenaBytes, values_bytes: mem.valuesBytes, unshared_bytes: mem.unsharedBytes, ratio: round3(mem.valuesBytes / mem.unsharedBytes), peak_live_bytes: mem.peakLiveBytes, in_place_updates: mem.inPlaceUpdates, updates: mem.updates }));
  }

  printTable(rows, impls, mlpCompile, largeCompile, mem);
  if (transformRows.length) printTransformTable(transformRows);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s in all; workloads: mlp-train ${MLP.sizes.join('-')} batch ${MLP.batch}; matmul 1024²; elementwise-grad 2²⁰; deep-narrow ${DEEP.depth}×${DEEP.width} batch ${DEEP.batch}; per-example-grads ${PER_EXAMPLE.sizes.join('-')} batch ${PER_EXAMPLE.batch}; jvp of the elementwise-grad function)`);
}

const round3 = (x: number) => Number(x.toFixed(3));

function printTable(rows: readonly Row[], impls: readonly Impl[], mlp: gg.CompileTimes, large: gg.CompileTimes, mem: gg.MemoryFigures | undefined): void {
  const get = (w: string, i: string) => rows.find((r) => r.workload === w && r.impl === i)?.m.medianMs;
  const peers = impls.filter((i) => i.startsWith('tfjs'));
  const cols = [...impls, ...peers.map((p) => `js/${p.slice(5)}`), 'targets'];
  const lines: string[][] = [['workload', ...cols]];
  const workloads = [...new Set(rows.map((r) => r.workload))];
  for (const w of workloads) {
    if (w === 'matmul-kernel') continue;
    const js = get(w, 'gradgraph-js');
    const ratios = peers.map((p) => {
      const peer = get(w, p);
      return js !== undefined && peer !== undefined ? `${(js / peer).toFixed(2)}×` : '—';
    });
    const targets = Object.entries(TARGETS[w as WorkloadName] ?? {}).map(([p, t]) => {
      const peer = get(w, p);
      const ok = js !== undefined && peer !== undefined ? (js / peer <= t! ? 'met' : 'not met') : 'n/a';
      return `≤ ${t}× ${p.slice(5)}: ${ok}`;
    });
    lines.push([w, ...impls.map((i) => fmtMaybe(get(w, i))), ...ratios, targets.join('; ') || '—']);
  }
  const kernel = get('matmul-kernel', 'kernel-js');
  if (kernel !== undefined) {
    const ratios = peers.map((p) => {
      const peer = get('matmul', p);
      return peer !== undefined ? `${(kernel / peer).toFixed(2)}×` : '—';
    });
    const gflops = (2 * 1024 ** 3) / kernel / 1e6;
    lines.push(['matmul kernel alone', fmtMs(kernel), ...impls.slice(1).map((i) => (i.startsWith('tfjs') ? fmtMaybe(get('matmul', i)) : '—')), ...ratios, `${gflops.toFixed(1)} GFLOP/s`]);
  }
  lines.push(['compile mlp-train step', `${fmtMs(mlp.coldMs)} cold, ${fmtMs(mlp.warmMs)} warm`, ...impls.slice(1).map(() => ''), ...peers.map(() => ''), `< 50 ms (first compile): ${mlp.coldMs < 50 ? 'met' : 'not met'}; first run ${fmtMs(mlp.firstRunMs)}`]);
  lines.push([`compile ${large.nodes}-node graph`, `${fmtMs(large.coldMs)} cold, ${fmtMs(large.warmMs)} warm`, ...impls.slice(1).map(() => ''), ...peers.map(() => ''), `< 2 s (first compile): ${large.coldMs < 2000 ? 'met' : 'not met'}; first run ${fmtMs(large.firstRunMs)}`]);
  if (mem) {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
    const ratio = mem.valuesBytes / mem.unsharedBytes;
    lines.push(['mlp-train memory plan', `arena ${mb(mem.arenaBytes)}`, ...impls.slice(1).map(() => ''), ...peers.map(() => ''), `values ${mb(mem.valuesBytes)} of ${mb(mem.unsharedBytes)} unshared = ${ratio.toFixed(2)} (≤ 0.6: ${ratio <= 0.6 ? 'met' : 'not met'}); peak live ${mb(mem.peakLiveBytes)}; ${mem.inPlaceUpdates}/${mem.updates} updates in place`]);
  }
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  console.log('');
  lines.forEach((l, k) => {
    console.log(l.map((cell, c) => (c === 0 || c === l.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

const fmtMaybe = (ms: number | undefined) => (ms === undefined ? '—' : fmtMs(ms));

/** The transformation workloads: each program's median and its ratio to the workload's baseline (the first row). */
function printTransformTable(rows: readonly TransformRow[]): void {
  const lines: string[][] = [['workload', 'program (gradgraph-js)', 'median', 'vs baseline', 'target']];
  for (const r of rows) {
    const t = TRANSFORM_TARGETS[r.workload]?.[r.impl];
    lines.push([r.workload, r.impl, fmtMs(r.m.medianMs), `${r.ratio.toFixed(2)}×`, t === undefined ? '' : `≤ ${t}×: ${r.ratio <= t ? 'met' : 'not met'}`]);
  }
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  console.log('');
  lines.forEach((l, k) => {
    console.log(l.map((cell, c) => (c === 2 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
