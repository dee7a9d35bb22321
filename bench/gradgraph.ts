/**
 * The four workloads written with gradgraph's public API, as a user would write them, plus the
 * compile-time benchmarks. Until `compile()` has a compiled backend this runs on the reference
 * interpreter; the harness asks for `backend: 'js'` and reports what it got.
 */
import { Graph, Tensor, compile, grad, type CompileOptions, type Executable, type Sym } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';
import { DEEP, ELEMENTWISE, MLP, type MlpBatch, type PairBatch } from './data';

/** A backend name `compile(g, { backend })` may accept. */
export type Backend = 'js' | 'wasm' | 'interpreter';

export interface Compiled {
  readonly exe: Executable;
  /** The backend the executable runs on: its `backend` field, or 'interpreter' when it has none. */
  readonly backend: string;
}

/**
 * `compile(g, opts)` asking for `backend`; a backend `compile()` doesn't know ('wasm', for now)
 * throws a GraphError. The executable's `backend` field says what really runs.
 * @example const { exe, backend } = compileOn(g, { outputs: [y] }, 'js');
 */
export function compileOn(g: Graph, opts: CompileOptions, backend: Backend): Compiled {
  const exe = compile(g, { ...opts, backend: backend as CompileOptions['backend'] });
  return { exe, backend: exe.backend };
}

/** A prepared workload: `step(i)` runs one step on batch i mod 4. */
export interface Prepared {
  readonly step: (i: number) => void;
  readonly backend: string;
  /** Nodes in the optimized program (for the report). */
  readonly nodes: number;
}

const nodeCount = (exe: Executable) => Object.keys(exe.program.nodes).length;

/** The mlp-train graph: 784-512-256-10, ReLU, softmax cross-entropy, one Adam step. */
export function buildMlp(): { g: Graph; opts: CompileOptions } {
  const g = new Graph({ seed: 1 });
  const x = g.input('x', [null, MLP.sizes[0]]);
  const y = g.input('y', [null], 'int32');
  const h1 = nn.relu(nn.dense(x, MLP.sizes[1], { init: init.heNormal() }));
  const h2 = nn.relu(nn.dense(h1, MLP.sizes[2], { init: init.heNormal() }));
  const logits = nn.dense(h2, MLP.sizes[3]);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const params = g.params();
  const updates = optim.adam({ lr: 1e-3 }).updates(params, grad(loss, params));
  return { g, opts: { inputs: [x, y], outputs: [loss], updates } };
}

export function mlpTrain(batches: readonly MlpBatch[], backend: Backend): Prepared {
  const { g, opts } = buildMlp();
  const { exe, backend: used } = compileOn(g, opts, backend);
  const feeds = batches.map((b) => ({ x: b.x, y: b.y }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), backend: used, nodes: nodeCount(exe) };
}

export function matmul(batches: readonly PairBatch[], backend: Backend): Prepared {
  const g = new Graph();
  const n = batches[0].a.shape[0];
  const a = g.input('a', [n, n]);
  const b = g.input('b', [n, n]);
  const { exe, backend: used } = compileOn(g, { inputs: [a, b], outputs: [a.matmul(b)] }, backend);
  const feeds = batches.map((p) => ({ a: p.a, b: p.b }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), backend: used, nodes: nodeCount(exe) };
}

/** f(x) = Σ sigmoid(1.5x + 0.5)·tanh(x) + softplus(x) − 0.1x²; the value and ∂f/∂x. */
export function elementwiseFn(x: Sym): Sym {
  return x.mul(1.5).add(0.5).sigmoid().mul(x.tanh()).add(x.softplus()).sub(x.square().mul(0.1)).sum();
}

export function elementwiseGrad(batches: readonly Tensor[], backend: Backend): Prepared {
  const g = new Graph();
  const x = g.input('x', [ELEMENTWISE.n]);
  const f = elementwiseFn(x);
  const [dx] = grad(f, [x]);
  const { exe, backend: used } = compileOn(g, { inputs: [x], outputs: [f, dx] }, backend);
  const feeds = batches.map((t) => ({ x: t }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), backend: used, nodes: nodeCount(exe) };
}

/** The deep-narrow graph: 16 × (Dense(64) + tanh), batch 32, MSE, one momentum step. */
export function buildDeep(): { g: Graph; opts: CompileOptions } {
  const g = new Graph({ seed: 2 });
  const x = g.input('x', [null, DEEP.width]);
  const t = g.input('t', [null, DEEP.width]);
  let h = x;
  for (let l = 0; l < DEEP.depth; l++) h = nn.tanh(nn.dense(h, DEEP.width));
  const loss = nn.mse(h, t);
  const params = g.params();
  const updates = optim.momentum({ lr: 0.01, momentum: 0.9 }).updates(params, grad(loss, params));
  return { g, opts: { inputs: [x, t], outputs: [loss], updates } };
}

export function deepNarrow(batches: readonly PairBatch[], backend: Backend): Prepared {
  const { g, opts } = buildDeep();
  const { exe, backend: used } = compileOn(g, opts, backend);
  const feeds = batches.map((p) => ({ x: p.a, t: p.b }));
  return { step: (i) => void exe.run(feeds[i % feeds.length]), backend: used, nodes: nodeCount(exe) };
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
  /** The first run after compiling (specialization to shapes, kernel generation), ms. */
  readonly firstRunMs: number;
  readonly nodes: number;
  readonly backend: string;
}

/**
 * Times `compile()` on fresh graphs from `build` (a new graph each time, so no cache helps), and
 * the first run of the last one.
 */
export function compileTimes(build: () => { g: Graph; opts: CompileOptions }, feeds: Record<string, Tensor>, backend: Backend, repeats = 7): CompileTimes {
  const times: number[] = [];
  let last: Compiled | undefined;
  let nodes = 0;
  for (let r = 0; r < repeats; r++) {
    const { g, opts } = build();
    nodes = g.size;
    const t = performance.now();
    last = compileOn(g, opts, backend);
    times.push(performance.now() - t);
  }
  const t = performance.now();
  last!.exe.run(feeds);
  const firstRunMs = performance.now() - t;
  const warm = times.slice(1).sort((a, b) => a - b);
  return { coldMs: times[0], warmMs: warm.length ? warm[warm.length >> 1] : times[0], firstRunMs, nodes, backend: last!.backend };
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
 * The compiled backend's memory plan for a step after one run (the specialization's plan).
 * @example const m = memoryFigures(gg.buildMlp, feeds); console.log(m.valuesBytes / m.unsharedBytes);
 */
export function memoryFigures(build: () => { g: Graph; opts: CompileOptions }, feeds: Record<string, Tensor>): MemoryFigures | undefined {
  const { g, opts } = build();
  const exe = compile(g, { ...opts, backend: 'js' });
  exe.run(feeds);
  const m = exe.lowered?.memory;
  if (!m) return undefined;
  return { arenaBytes: m.arenaBytes, valuesBytes: m.intermediateBytes, unsharedBytes: m.totalIntermediateBytes, peakLiveBytes: m.peakLiveBytes, inPlaceUpdates: m.inPlaceUpdates.length, updates: exe.program.updates.length };
}
