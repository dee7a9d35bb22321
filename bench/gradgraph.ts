/**
 * The workloads written with gradgraph's public API, as a user would write them, plus the
 * compile-time benchmarks. Each one compiles for the back end the harness asks for (`'wasm'`,
 * `'js'`) and reports what it got. Every training workload loads the shared initial weights of
 * bench/data.ts through `init.constant`, so its losses match the other implementations'.
 *
 * `conv` and `maxPool` (cnn-train) are newer than this harness and may be missing from the build
 * it runs with; they are looked up at run time (`HAS`) and the harness skips gradgraph's
 * cnn-train, saying so, when they are absent.
 */
import * as core from '@gradgraph/core';
import { BACKENDS, Graph, Tensor, compile, grad, type CompileOptions, type Executable, type Sym } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';
import { clearProgramModuleCache, prefaultPending } from '@gradgraph/core/backend/wasm';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { absSum, type Prepared } from './checks';
import { CNN, DEEP, ELEMENTWISE, MLP, cnnWeights, deepWeights, mlpWeights, type Layer, type MlpBatch, type PairBatch } from './data';

/** A back end name `compile(g, { backend })` may accept. */
export type Backend = 'js' | 'wasm' | 'interpreter';

/** Whether this build of gradgraph has `backend` (the WebAssembly one arrives with issue #11). */
export function hasBackend(backend: Backend): boolean {
  return (BACKENDS as readonly string[]).includes(backend);
}

/** The back end `compile()` picks when none is named. */
export const DEFAULT_BACKEND = core.DEFAULT_BACKEND as Backend;

// ---- the API that may not be there yet (DESIGN.md, "Added in the second round") -----------------

type Padding = 'valid' | 'same' | number | [number, number][];
interface NewApi {
  conv?: (x: Sym, w: Sym, opts?: { stride?: number | number[]; padding?: Padding }) => Sym;
  maxPool?: (x: Sym, opts: { size: number | number[]; stride?: number | number[] }) => Sym;
}
const api = core as unknown as NewApi;

/** Which of the newer exports this build of @gradgraph/core has. */
export const HAS = { conv: typeof api.conv === 'function' && typeof api.maxPool === 'function' };

export interface Compiled {
  readonly exe: Executable;
  /** The back end the executable runs on. */
  readonly backend: string;
}

/**
 * `compile(g, opts)` asking for `backend`; a back end `compile()` doesn't know throws a
 * GraphError. The executable's `backend` field says what really runs.
 * @example const { exe, backend } = compileOn(g, { outputs: [y] }, 'js');
 */
export function compileOn(g: Graph, opts: CompileOptions, backend: Backend): Compiled {
  const exe = compile(g, { ...opts, backend: backend as CompileOptions['backend'] });
  return { exe, backend: exe.backend };
}

/** A prepared gradgraph workload. */
export interface GgPrepared extends Prepared {
  readonly backend: string;
  /** Nodes in the optimized program (for the report). */
  readonly nodes: number;
}

const nodeCount = (exe: Executable) => Object.keys(exe.program.nodes).length;

/** Runs `exe` on the feeds in rotation; the probe reads the last step's first output (the loss). */
function lossStep(exe: Executable, backend: string, feeds: Record<string, Tensor>[]): GgPrepared {
  let last: Tensor[] = [];
  return { step: (i) => void (last = exe.run(feeds[i % feeds.length])), probe: () => [last[0].data[0]], backend, nodes: nodeCount(exe) };
}

/** A dense layer starting from given weights (`nn.dense` with `init.constant`). */
const dense = (x: Sym, l: Layer) => nn.dense(x, l.w.shape[1], { init: init.constant(l.w), biasInit: init.constant(l.b) });

/** The mlp-train graph: 784-512-256-10, ReLU, softmax cross-entropy, one Adam step. */
export function buildMlp(weights: readonly Layer[] = mlpWeights()): { g: Graph; opts: CompileOptions } {
  const g = new Graph({ seed: 1 });
  const x = g.input('x', [null, MLP.sizes[0]]);
  const y = g.input('y', [null], 'int32');
  const h1 = nn.relu(dense(x, weights[0]));
  const h2 = nn.relu(dense(h1, weights[1]));
  const logits = dense(h2, weights[2]);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const params = g.params();
  const updates = optim.adam({ lr: 1e-3 }).updates(params, grad(loss, params));
  return { g, opts: { inputs: [x, y], outputs: [loss], updates } };
}

export function mlpTrain(batches: readonly MlpBatch[], backend: Backend): GgPrepared {
  const { g, opts } = buildMlp();
  const { exe, backend: used } = compileOn(g, opts, backend);
  return lossStep(exe, used, batches.map((b) => ({ x: b.x, y: b.y })));
}

/** `threads`: at most this many threads (`compile`'s option; below the pool's size, so in this process). */
export function matmul(batches: readonly PairBatch[], backend: Backend, threads?: number): GgPrepared {
  const g = new Graph();
  const n = batches[0].a.shape[0];
  const a = g.input('a', [n, n]);
  const b = g.input('b', [n, n]);
  const { exe, backend: used } = compileOn(g, { inputs: [a, b], outputs: [a.matmul(b)], ...(threads !== undefined ? { threads } : {}) }, backend);
  const feeds = batches.map((p) => ({ a: p.a, b: p.b }));
  let last: Tensor[] = [];
  return { step: (i) => void (last = exe.run(feeds[i % feeds.length])), probe: () => [absSum(last[0].data)], backend: used, nodes: nodeCount(exe) };
}

/** f(x) = Σ sigmoid(1.5x + 0.5)·tanh(x) + softplus(x) − 0.1x². */
export function elementwiseFn(x: Sym): Sym {
  return x.mul(1.5).add(0.5).sigmoid().mul(x.tanh()).add(x.softplus()).sub(x.square().mul(0.1)).sum();
}

/** The value and ∂f/∂x. */
export function elementwiseGrad(batches: readonly Tensor[], backend: Backend): GgPrepared {
  const g = new Graph();
  const x = g.input('x', [ELEMENTWISE.n]);
  const f = elementwiseFn(x);
  const [dx] = grad(f, [x]);
  const { exe, backend: used } = compileOn(g, { inputs: [x], outputs: [f, dx] }, backend);
  const feeds = batches.map((t) => ({ x: t }));
  let last: Tensor[] = [];
  return { step: (i) => void (last = exe.run(feeds[i % feeds.length])), probe: () => [last[0].data[0], absSum(last[1].data)], backend: used, nodes: nodeCount(exe) };
}

/** The deep-narrow graph: 16 × (Dense(64) + tanh), batch 32, MSE, one momentum step. */
export function buildDeep(weights: readonly Layer[] = deepWeights()): { g: Graph; opts: CompileOptions } {
  const g = new Graph({ seed: 2 });
  const x = g.input('x', [null, DEEP.width]);
  const t = g.input('t', [null, DEEP.width]);
  let h = x;
  for (const l of weights) h = nn.tanh(dense(h, l));
  const loss = nn.mse(h, t);
  const params = g.params();
  const updates = optim.momentum({ lr: 0.01, momentum: 0.9 }).updates(params, grad(loss, params));
  return { g, opts: { inputs: [x, t], outputs: [loss], updates } };
}

export function deepNarrow(batches: readonly PairBatch[], backend: Backend): GgPrepared {
  const { g, opts } = buildDeep();
  const { exe, backend: used } = compileOn(g, opts, backend);
  return lossStep(exe, used, batches.map((p) => ({ x: p.a, t: p.b })));
}

/**
 * The cnn-train graph (channels-last): conv 5×5×32 → ReLU → maxPool 2 → conv 5×5×64 → ReLU →
 * maxPool 2 → dense 10, softmax cross-entropy, one Adam step. The convs are core's `conv` on
 * params made from the shared weights (`nn.conv` would draw its own); needs `HAS.conv`.
 */
export function buildCnn(weights: readonly Layer[] = cnnWeights()): { g: Graph; opts: CompileOptions } {
  const { conv, maxPool } = api;
  if (!conv || !maxPool) throw new Error('cnn-train needs conv and maxPool from @gradgraph/core');
  const g = new Graph({ seed: 4 });
  const x = g.input('x', [null, CNN.size, CNN.size, CNN.channels[0]]);
  const y = g.input('y', [null], 'int32');
  const convRelu = (h: Sym, l: Layer, name: string) =>
    g.scope(name, () => nn.relu(conv(h, g.param('kernel', l.w), { padding: 'valid' }).add(g.param('bias', l.b))));
  let h = maxPool(convRelu(x, weights[0], 'conv1'), { size: 2 });
  h = maxPool(convRelu(h, weights[1], 'conv2'), { size: 2 });
  const logits = dense(h.reshape([-1, CNN.flat]), weights[2]);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const params = g.params();
  const updates = optim.adam({ lr: 1e-3 }).updates(params, grad(loss, params));
  return { g, opts: { inputs: [x, y], outputs: [loss], updates } };
}

export function cnnTrain(batches: readonly MlpBatch[], backend: Backend): GgPrepared {
  const { g, opts } = buildCnn();
  const { exe, backend: used } = compileOn(g, opts, backend);
  return lossStep(exe, used, batches.map((b) => ({ x: b.x, y: b.y })));
}

// ---- compile times ---------------------------------------------------------------------------

/**
 * A graph of about `target` nodes in its compiled program (before optimization): a chain of
 * small dense-like blocks h ← tanh(h·c + p)·q with its gradient with respect to every param, so
 * both directions and every pass have work.
 */
export function buildLargeGraph(target = 10_000): { g: Graph; opts: CompileOptions; nodes: number } {
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [8, 16]);
  let h = x;
  const blocks: Sym[] = [];
  // ~11 nodes per block forward and backward together; stop at the target
  for (let i = 0; ; i++) {
    const p = g.param(`p${i}`, Tensor.full([16], 0.01 * ((i % 7) - 3)));
    const q = g.param(`q${i}`, Tensor.full([16], 1 + 0.001 * (i % 5)));
    h = h.mul(1 - 0.001 * (i % 3)).add(p).tanh().mul(q);
    blocks.push(p, q);
    if (g.size >= target * 0.45) break;
  }
  const loss = h.square().mean();
  const grads = grad(loss, blocks);
  const opts: CompileOptions = { inputs: [x], outputs: [loss, ...grads] };
  return { g, opts, nodes: g.size };
}

export interface CompileTimes {
  /**
   * The first compile of a fresh graph in this process, ms. On wasm the cache of program modules
   * is cleared first, so this structure's module is emitted again — but V8 keeps the code it
   * compiled for the same module bytes earlier in the process (the workloads timed before), so
   * for a structure that is new to V8 too, see `fresh`. The warm figures reuse the module, as a
   * re-built model of the same structure does.
   */
  readonly coldMs: number;
  /** Median of later compiles of fresh copies, ms. */
  readonly warmMs: number;
  /** The first run after the cold compile (specialization to shapes, code generation, one step), ms. */
  readonly firstRunMs: number;
  /** The median of the first runs after the warm compiles, ms. */
  readonly warmFirstRunMs: number;
  readonly nodes: number;
  readonly backend: string;
  /** The mlp-train step's structure new to the process and to V8: one sample per fresh process (`freshCompileTimes`). */
  readonly fresh?: readonly FreshCompile[];
}

/** One compile + first run of the mlp-train step in a fresh process, ms (bench/firstrun.ts --json). */
export interface FreshCompile {
  readonly compileMs: number;
  readonly firstRunMs: number;
  /** The main thread's time on a core over the two, and waiting for one (Linux schedstat; NaN elsewhere). */
  readonly onCoreMs: number;
  readonly waitMs: number;
}

/**
 * Compile + first run of the mlp-train step for a model structure the process has never compiled,
 * in `children` fresh processes one after another: each first trains the deep-narrow and
 * elementwise-grad workloads for a while (so the compiler's own code is warm, as in a process
 * that has built other models), then compiles the mlp-train step once (bench/firstrun.ts
 * `--new-structure --json`). A fresh process is the only way to time a structure new to V8
 * as well: V8 reuses the code compiled for identical module bytes within a process.
 */
export function freshCompileTimes(backend: Backend, children = 5): FreshCompile[] {
  const script = fileURLToPath(new URL('./firstrun.ts', import.meta.url));
  const out: FreshCompile[] = [];
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < children; i++) {
    // this process's pool must not be faulting pages in on a core the child needs (up to 2 s)
    for (let t = 0; t < 200 && prefaultPending() > 0; t++) Atomics.wait(pause, 0, 0, 10);
    const r = spawnSync(process.execPath, [...process.execArgv, script, backend, '1', '--new-structure', '--json'], { encoding: 'utf8', env: process.env, timeout: 300_000 });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"firstrun"'));
    if (r.status !== 0 || !line) throw new Error(`bench/firstrun.ts ${backend} failed (exit ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
    const j = JSON.parse(line) as { compile_ms: number; first_run_ms: number; on_core_ms: number | null; wait_ms: number | null };
    out.push({ compileMs: j.compile_ms, firstRunMs: j.first_run_ms, onCoreMs: j.on_core_ms ?? NaN, waitMs: j.wait_ms ?? NaN });
  }
  return out;
}

/**
 * Times `compile()` on fresh graphs from `build` (a new graph each time, so no cache of
 * executables helps), and the first run of each, where a compiled back end specializes to the
 * feed shapes and generates its code.
 */
export function compileTimes(build: () => { g: Graph; opts: CompileOptions }, feeds: Record<string, Tensor>, backend: Backend, repeats = 7): CompileTimes {
  const times: number[] = [];
  const firstRuns: number[] = [];
  let used = backend as string;
  let nodes = 0;
  for (let r = 0; r < repeats; r++) {
    if (r === 0 && backend === 'wasm') clearProgramModuleCache();
    const { g, opts } = build();
    nodes = g.size;
    let t = performance.now();
    const c = compileOn(g, opts, backend);
    times.push(performance.now() - t);
    used = c.backend;
    t = performance.now();
    c.exe.run(feeds);
    firstRuns.push(performance.now() - t);
  }
  const med = (xs: number[]) => {
    const s = xs.slice(1).sort((a, b) => a - b);
    return s.length ? s[s.length >> 1] : xs[0];
  };
  return { coldMs: times[0], warmMs: med(times), firstRunMs: firstRuns[0], warmFirstRunMs: med(firstRuns), nodes, backend: used };
}

export interface MemoryFigures {
  /** Bytes of the whole arena (constants, matmul scratch, the run's values). */
  readonly arenaBytes: number;
  /** Bytes of the region holding one run's values, and what those values take unshared. */
  readonly valuesBytes: number;
  readonly unsharedBytes: number;
  readonly peakLiveBytes: number;
  readonly inPlaceUpdates: number;
  readonly updates: number;
}

/**
 * A compiled back end's memory plan for a step after one run (the specialization's plan), or
 * undefined when the back end reports none.
 * @example const m = memoryFigures(gg.buildMlp, feeds, 'js'); console.log(m.valuesBytes / m.unsharedBytes);
 */
export function memoryFigures(build: () => { g: Graph; opts: CompileOptions }, feeds: Record<string, Tensor>, backend: Backend): MemoryFigures | undefined {
  const { g, opts } = build();
  const { exe } = compileOn(g, opts, backend);
  exe.run(feeds);
  const m = exe.lowered?.memory;
  if (!m) return undefined;
  return { arenaBytes: m.arenaBytes, valuesBytes: m.intermediateBytes, unsharedBytes: m.totalIntermediateBytes, peakLiveBytes: m.peakLiveBytes, inPlaceUpdates: m.inPlaceUpdates.length, updates: exe.program.updates.length };
}
