/**
 * The workloads written with gradgraph's public API, as a user would write them, plus the
 * compile-time benchmarks. Each one compiles for the back end the harness asks for (`'wasm'`,
 * `'js'`) and reports what it got. Every training workload loads the shared initial weights of
 * bench/data.ts through `init.constant`, so its losses match the other implementations'.
 *
 * Three parts of the API are newer than this harness and may be missing from the build it runs
 * with: `conv`/`maxPool` (cnn-train), `jvp` and `perExampleGrads` (issue #16's rows). They are
 * looked up at run time (`HAS`) and the harness skips their workloads, saying so, when absent.
 */
import * as core from '@gradgraph/core';
import { BACKENDS, Graph, Tensor, compile, grad, type CompileOptions, type Executable, type Sym } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';
import { absSum, type Prepared } from './checks';
import { CNN, DEEP, ELEMENTWISE, MLP, PEG, cnnWeights, deepWeights, mlpWeights, pegWeights, type Layer, type MlpBatch, type PairBatch } from './data';

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
  jvp?: (ys: Sym[], xs: Sym[], tangents: Sym[]) => Sym[];
  perExampleGrads?: (lossFn: (params: Sym[], ...example: Sym[]) => Sym, params: readonly Sym[], inputs: readonly Sym[], opts?: { batchAxis?: number }) => Sym[];
}
const api = core as unknown as NewApi;

/** Which of the newer exports this build of @gradgraph/core has. */
export const HAS = {
  conv: typeof api.conv === 'function' && typeof api.maxPool === 'function',
  jvp: typeof api.jvp === 'function',
  perExampleGrads: typeof api.perExampleGrads === 'function',
};

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

export function matmul(batches: readonly PairBatch[], backend: Backend): GgPrepared {
  const g = new Graph();
  const n = batches[0].a.shape[0];
  const a = g.input('a', [n, n]);
  const b = g.input('b', [n, n]);
  const { exe, backend: used } = compileOn(g, { inputs: [a, b], outputs: [a.matmul(b)] }, backend);
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

// ---- issue #16: per-example gradients and forward mode ------------------------------------------

/** The per-example-grads model's loss on a batch `x [B, 784]`, `y [B]`, from params [W1, b1, W2, b2]. */
function pegLoss([w1, b1, w2, b2]: readonly Sym[], x: Sym, y: Sym): Sym {
  return nn.softmaxCrossEntropy(nn.relu(x.matmul(w1).add(b1)).matmul(w2).add(b2), y);
}

/** DP-SGD's clipping bound (per-example L2 norm, over all params) and the SGD learning rate. */
export const PEG_CLIP = 1;
export const PEG_LR = 0.01;

/** A graph with the per-example-grads model's params, from the shared weights. */
function pegGraph(weights: readonly Layer[]): { g: Graph; params: Sym[] } {
  const g = new Graph({ seed: 5 });
  const params = weights.flatMap((l, k) => g.scope(`dense${k}`, () => [g.param('kernel', l.w), g.param('bias', l.b)]));
  return { g, params };
}

/** Σ|p − p₀| over each param: how far the steps so far moved it (float64). */
function pegMoved(g: Graph, params: readonly Sym[], weights: readonly Layer[]): number[] {
  const start = weights.flatMap((l) => [l.w, l.b]);
  return params.map((p, k) => {
    const now = g.getValue(p).data;
    const s0 = start[k].data;
    let s = 0;
    for (let i = 0; i < now.length; i++) s += Math.abs(now[i] - s0[i]);
    return s;
  });
}

/** Per-example-grads, the ordinary step: the batch's mean loss, its gradient, one SGD step. */
export function pegBatched(batches: readonly MlpBatch[], backend: Backend): GgPrepared {
  const weights = pegWeights();
  const { g, params } = pegGraph(weights);
  const x = g.input('x', [null, PEG.sizes[0]]);
  const y = g.input('y', [null], 'int32');
  const loss = pegLoss(params, x, y);
  const updates = optim.sgd({ lr: PEG_LR }).updates(params, grad(loss, params));
  const { exe, backend: used } = compileOn(g, { inputs: [x, y], outputs: [loss], updates }, backend);
  const feeds = batches.map((b) => ({ x: b.x, y: b.y }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), probe: () => pegMoved(g, params, weights), backend: used, nodes: nodeCount(exe) };
}

/**
 * Per-example-grads in the graph: a DP-SGD step without the noise. `perExampleGrads` gives every
 * example's gradient ([B, ...param]); each example's is scaled to L2 norm ≤ PEG_CLIP (over all
 * params), they are averaged, and SGD applies the mean. Outputs the per-example norms. Needs
 * `HAS.perExampleGrads`.
 */
export function pegPerExample(batches: readonly MlpBatch[], backend: Backend): GgPrepared {
  const perExampleGrads = api.perExampleGrads;
  if (!perExampleGrads) throw new Error('per-example-grads needs perExampleGrads from @gradgraph/core');
  const weights = pegWeights();
  const { g, params } = pegGraph(weights);
  const x = g.input('x', [null, PEG.sizes[0]]);
  const y = g.input('y', [null], 'int32');
  // one example: x [784], y [] → a batch of one for the layers
  const pg = perExampleGrads((p, xi, yi) => pegLoss(p, xi.reshape([1, PEG.sizes[0]]), yi.reshape([1])), params, [x, y], { batchAxis: 0 });
  const sq = pg.map((d) => d.reshape([-1, d.shape.slice(1).reduce<number>((a, b) => a * b!, 1)]).square().sum([1])); // [B] each
  const norms = sq.reduce((a, b) => a.add(b)).sqrt();
  const scale = norms.add(1e-6).reciprocal().mul(PEG_CLIP).minimum(1); // min(1, C/‖g_i‖)
  const mean = pg.map((d) => d.mul(scale.reshape([-1, ...d.shape.slice(1).map(() => 1)])).mean([0]));
  const updates = params.map((p, k) => [p, p.sub(mean[k].mul(PEG_LR))] as [Sym, Sym]);
  const { exe, backend: used } = compileOn(g, { inputs: [x, y], outputs: [norms], updates }, backend);
  const feeds = batches.map((b) => ({ x: b.x, y: b.y }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), probe: () => pegMoved(g, params, weights), backend: used, nodes: nodeCount(exe) };
}

/**
 * The same DP-SGD step as a host loop: a compiled one-example gradient program run once per
 * example, the clipping and averaging in JavaScript, and an update program fed the mean.
 */
export function pegHostLoop(batches: readonly MlpBatch[], backend: Backend): GgPrepared {
  const weights = pegWeights();
  const { g, params } = pegGraph(weights);
  const xi = g.input('xi', [1, PEG.sizes[0]]);
  const yi = g.input('yi', [1], 'int32');
  const grads = grad(pegLoss(params, xi, yi), params);
  const one = compileOn(g, { inputs: [xi, yi], outputs: grads }, backend);
  const means = params.map((p, k) => g.input(`mean${k}`, p.shape as number[]));
  const apply = compileOn(g, { inputs: means, updates: params.map((p, k) => [p, p.sub(means[k].mul(PEG_LR))] as [Sym, Sym]), outputs: [] }, backend);
  const sizes = params.map((p) => (p.shape as number[]).reduce((a, b) => a * b, 1));
  const acc = sizes.map((n, k) => new Tensor('float32', params[k].shape as number[]));
  const examples = batches.map((b) => {
    const n = b.x.shape[0];
    const d = PEG.sizes[0];
    return Array.from({ length: n }, (_, e) => ({
      xi: new Tensor('float32', [1, d], (b.x.data as Float32Array).slice(e * d, (e + 1) * d)),
      yi: new Tensor('int32', [1], (b.y.data as Int32Array).slice(e, e + 1)),
    }));
  });
  const meanFeeds: Record<string, Tensor> = Object.fromEntries(means.map((m, k) => [m.name!, acc[k]]));
  const step = (i: number) => {
    const batch = examples[i % examples.length];
    for (const a of acc) a.data.fill(0);
    for (const ex of batch) {
      const gs = one.exe.run(ex);
      let sq = 0;
      for (const t of gs) for (let j = 0; j < t.size; j++) sq += t.data[j] * t.data[j];
      const s = Math.min(1, PEG_CLIP / (Math.sqrt(sq) + 1e-6)) / batch.length;
      gs.forEach((t, k) => {
        const a = acc[k].data;
        for (let j = 0; j < a.length; j++) a[j] += s * t.data[j];
      });
    }
    apply.exe.run(meanFeeds);
  };
  return { step, probe: () => pegMoved(g, params, weights), backend: one.backend, nodes: nodeCount(one.exe) };
}

/** The forward pass of elementwise-grad: f(x) alone. */
export function jvpForward(batches: readonly Tensor[], backend: Backend): GgPrepared {
  const g = new Graph();
  const x = g.input('x', [ELEMENTWISE.n]);
  const { exe, backend: used } = compileOn(g, { inputs: [x], outputs: [elementwiseFn(x)] }, backend);
  const feeds = batches.map((t) => ({ x: t }));
  let last: Tensor[] = [];
  return { step: (i) => void (last = exe.run(feeds[i % feeds.length])), probe: () => [last[0].data[0]], backend: used, nodes: nodeCount(exe) };
}

/**
 * Forward mode on elementwise-grad: f(x) and its directional derivative ⟨∇f(x), v⟩ along a
 * tangent v fed with each batch (`jvp([f], [x], [v])`). Needs `HAS.jvp`.
 */
export function jvpStep(batches: readonly Tensor[], tangents: readonly Tensor[], backend: Backend): GgPrepared {
  const jvp = api.jvp;
  if (!jvp) throw new Error('the jvp workload needs jvp from @gradgraph/core');
  const g = new Graph();
  const x = g.input('x', [ELEMENTWISE.n]);
  const v = g.input('v', [ELEMENTWISE.n]);
  const f = elementwiseFn(x);
  const [df] = jvp([f], [x], [v]);
  const { exe, backend: used } = compileOn(g, { inputs: [x, v], outputs: [f, df] }, backend);
  const feeds = batches.map((t, k) => ({ x: t, v: tangents[k] }));
  let last: Tensor[] = [];
  return { step: (i) => void (last = exe.run(feeds[i % feeds.length])), probe: () => [last[0].data[0], last[1].data[0]], backend: used, nodes: nodeCount(exe) };
}

/** ⟨∇f(x), v⟩ through reverse mode (the jvp check's reference), in float64. */
export function directionalByGrad(x: Tensor, v: Tensor, backend: Backend): number {
  const g = new Graph();
  const xs = g.input('x', [ELEMENTWISE.n]);
  const [dx] = grad(elementwiseFn(xs), [xs]);
  const [d] = compileOn(g, { inputs: [xs], outputs: [dx] }, backend).exe.run({ x });
  let s = 0;
  for (let i = 0; i < d.size; i++) s += d.data[i] * v.data[i];
  return s;
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
  /** The first compile of a fresh graph (compiler code still cold), ms. */
  readonly coldMs: number;
  /** Median of later compiles of fresh copies, ms. */
  readonly warmMs: number;
  /** The first run after the cold compile (specialization to shapes, code generation, one step), ms. */
  readonly firstRunMs: number;
  /** The median of the first runs after the warm compiles, ms. */
  readonly warmFirstRunMs: number;
  readonly nodes: number;
  readonly backend: string;
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
