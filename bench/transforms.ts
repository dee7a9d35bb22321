/**
 * The transformation workloads of issue #16, gradgraph only (TF.js has no per-example gradients
 * or forward mode to compare with), each measured next to its baseline in interleaved rounds:
 *
 * - `per-example-grads`: a 784-256-10 ReLU MLP, batch 128, float32. The baseline is one ordinary
 *   batched gradient step (loss, mean gradient, SGD update); next to it the per-example
 *   gradients of every param with their per-example norms (what DP-SGD clips by), a whole DP-SGD
 *   step (clip, sum, noise, update), the per-example gradients returned as tensors, and the host
 *   loop: the one-example gradient program run 128 times from JavaScript.
 * - `jvp`: the elementwise-grad function's forward pass against its JVP along a random tangent
 *   (what `jvp` returns) and against the value and the JVP together.
 */
import { Graph, Tensor, compile, grad, jvp, perExampleGrads, randomNormal, type Executable, type Sym } from '@gradgraph/core';
import { init, nn } from '@gradgraph/ops';
import { BATCHES, ELEMENTWISE, elementwiseBatches, mlpBatches, type MlpBatch } from './data';
import { elementwiseFn } from './gradgraph';
import { measureInterleaved, type Contender, type Measurement, type MeasureOptions } from './timing';

export const PER_EXAMPLE = { batch: 128, sizes: [784, 256, 10] as const, clip: 1, noise: 1.1, lr: 0.05 };

/** The MLP's params and its logits for a batch of rows, and the softmax cross-entropy of one example. */
function mlp(g: Graph) {
  const [d, h, c] = PER_EXAMPLE.sizes;
  const params = g.scope('mlp', () => [
    init.createParam(g, 'w1', [d, h], init.heNormal(), { dtype: 'float32' }),
    init.createParam(g, 'b1', [h], init.zeros(), { dtype: 'float32' }),
    init.createParam(g, 'w2', [h, c], init.xavierUniform(), { dtype: 'float32' }),
    init.createParam(g, 'b2', [c], init.zeros(), { dtype: 'float32' }),
  ]);
  const logits = ([w1, b1, w2, b2]: Sym[], rows: Sym) => nn.relu(rows.matmul(w1).add(b1)).matmul(w2).add(b2);
  // one example: x [784], y [] → a scalar loss
  const exampleLoss = (ps: Sym[], x: Sym, y: Sym) => nn.softmaxCrossEntropy(logits(ps, x.reshape([1, d])), y.reshape([1]));
  return { params, logits, exampleLoss };
}

const sgd = (params: readonly Sym[], grads: readonly Sym[]): [Sym, Sym][] => params.map((p, i) => [p, p.sub(grads[i].mul(PER_EXAMPLE.lr))]);

/** Per-example squared norms over all params: Σ over each gradient's example axes, summed. */
function exampleNorms(per: readonly Sym[]): Sym {
  return per.map((gp) => gp.square().sum(gp.shape.slice(1).map((_d, i) => i + 1))).reduce((a, b) => a.add(b)).sqrt();
}

/** A program over the MLP: its executable and how to feed batch i. */
interface Prepared {
  readonly exe: Executable;
  readonly step: (i: number) => void;
}

function prepare(build: (g: Graph, x: Sym, y: Sym, m: ReturnType<typeof mlp>) => { outputs: Sym[]; updates?: [Sym, Sym][] }, batches: readonly MlpBatch[]): Prepared {
  const g = new Graph({ seed: 16 });
  const x = g.input('x', [null, PER_EXAMPLE.sizes[0]]);
  const y = g.input('y', [null], 'int32');
  const { outputs, updates } = build(g, x, y, mlp(g));
  const exe = compile(g, { inputs: [x, y], outputs, updates: updates ?? [] });
  const feeds = batches.map((b) => ({ x: b.x, y: b.y }));
  return { exe, step: (i) => void exe.run(feeds[i % feeds.length]) };
}

/** The per-example workload's programs, by name: the baseline first. */
export function perExampleContenders(batches: readonly MlpBatch[] = mlpBatches()): Contender[] {
  const batched = prepare((_g, x, y, { params, logits }) => {
    const loss = nn.softmaxCrossEntropy(logits(params, x), y);
    return { outputs: [loss], updates: sgd(params, grad(loss, params)) };
  }, batches);
  const norms = prepare((_g, x, y, { params, exampleLoss }) => ({ outputs: [exampleNorms(perExampleGrads(exampleLoss, params, [x, y]))] }), batches);
  const dpSgd = prepare((g, x, y, { params, exampleLoss }) => {
    const per = perExampleGrads(exampleLoss, params, [x, y]);
    const n = exampleNorms(per);
    const scale = n.div(PER_EXAMPLE.clip).maximum(1).reciprocal(); // clip each example to norm ≤ C
    const noisy = per.map((gp, k) => {
      const clipped = gp.mul(scale.reshape([-1, ...gp.shape.slice(1).map(() => 1)])).sum(0);
      const noise = randomNormal(g, params[k].shape as number[], { std: PER_EXAMPLE.noise * PER_EXAMPLE.clip, name: `noise${k}` });
      return clipped.add(noise).div(PER_EXAMPLE.batch);
    });
    return { outputs: [n], updates: sgd(params, noisy) };
  }, batches);
  const asOutputs = prepare((_g, x, y, { params, exampleLoss }) => ({ outputs: perExampleGrads(exampleLoss, params, [x, y]) }), batches);
  // the host loop: the one-example gradient program, once per example
  const g = new Graph({ seed: 16 });
  const [d] = PER_EXAMPLE.sizes;
  const x1 = g.input('x', [d]);
  const y1 = g.input('y', [], 'int32');
  const m = mlp(g);
  const one = compile(g, { inputs: [x1, y1], outputs: grad(m.exampleLoss(m.params, x1, y1), m.params) });
  const rows = batches.map((b) => Array.from({ length: PER_EXAMPLE.batch }, (_u, i) => ({ x: new Tensor('float32', [d], b.x.data.slice(i * d, (i + 1) * d)), y: Tensor.from(b.y.data[i], 'int32') })));
  const loop = (i: number) => {
    for (const r of rows[i % rows.length]) one.run(r);
  };
  return [
    { name: 'batched grad step', step: batched.step },
    { name: 'per-example grads + norms', step: norms.step },
    { name: 'DP-SGD step', step: dpSgd.step },
    { name: 'per-example grads as tensors', step: asOutputs.step },
    { name: 'host loop over examples', step: loop },
  ];
}

/** The jvp workload's programs: the forward pass first. */
export function jvpContenders(batches: readonly Tensor[] = elementwiseBatches()): Contender[] {
  const g = new Graph();
  const x = g.input('x', [ELEMENTWISE.n]);
  const v = g.input('v', [ELEMENTWISE.n]);
  const f = elementwiseFn(x);
  const [df] = jvp([f], [x], [v]);
  const tangents = Array.from({ length: BATCHES }, (_u, b) => Tensor.randn([ELEMENTWISE.n], 'float32', 600 + b));
  const forward = compile(g, { inputs: [x], outputs: [f] });
  const tangent = compile(g, { inputs: [x, v], outputs: [df] });
  const both = compile(g, { inputs: [x, v], outputs: [f, df] });
  return [
    { name: 'forward pass', step: (i) => void forward.run({ x: batches[i % BATCHES] }) },
    { name: 'jvp', step: (i) => void tangent.run({ x: batches[i % BATCHES], v: tangents[i % BATCHES] }) },
    { name: 'value and jvp', step: (i) => void both.run({ x: batches[i % BATCHES], v: tangents[i % BATCHES] }) },
  ];
}

/** The targets of issue #16: a contender's median over the baseline's (the first contender), at most this. */
export const TRANSFORM_TARGETS: Record<string, Record<string, number>> = {
  'per-example-grads': { 'per-example grads + norms': 3 },
  jvp: { jvp: 1.5 },
};

export interface TransformRow {
  readonly workload: string;
  readonly impl: string;
  readonly m: Measurement;
  /** Median over the workload's baseline median. */
  readonly ratio: number;
}

/** Measures the transformation workloads asked for; one row per contender. */
export async function measureTransforms(workloads: readonly string[], opts: MeasureOptions): Promise<TransformRow[]> {
  const rows: TransformRow[] = [];
  for (const w of workloads) {
    const contenders = w === 'jvp' ? jvpContenders() : perExampleContenders();
    const results = await measureInterleaved(contenders, { ...opts, maxSamples: w === 'jvp' ? 50 : 20 });
    const base = results.get(contenders[0].name)!.medianMs;
    for (const [impl, m] of results) rows.push({ workload: w, impl, m, ratio: m.medianMs / base });
  }
  return rows;
}
