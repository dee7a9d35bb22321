/**
 * Training on the compiled backend against the interpreter: the same model, seed and batches
 * give the same losses — equal in float64, within float32 rounding in float32 — for an MLP with
 * ReLU, softmax cross-entropy and Adam, and a deep tanh stack with MSE and momentum. And the
 * memory plan of the mlp-train benchmark: its arena is at most 60% of its values unshared.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, grad, type Backend, type DType, type Executable } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';

type Float = Extract<DType, 'float32' | 'float64'>;

/** An MLP classifier: [batch, 12] → 16 → 8 → 4 classes, ReLU, softmax cross-entropy, Adam. */
function mlp(dtype: Float, backend: Backend, fastMath = true) {
  const g = new Graph({ seed: 21 });
  const x = g.input('x', [null, 12], dtype);
  const y = g.input('y', [null], 'int32');
  const h1 = nn.relu(nn.dense(x, 16, { init: init.heNormal() }));
  const h2 = nn.relu(nn.dense(h1, 8, { init: init.heNormal() }));
  const loss = nn.softmaxCrossEntropy(nn.dense(h2, 4), y);
  const params = g.params();
  const step = compile(g, { inputs: [x, y], outputs: [loss], updates: optim.adam({ lr: 0.01 }).updates(params, grad(loss, params)), backend, fastMath });
  const batches = [0, 1, 2, 3].map((b) => {
    const xs = Tensor.randn([10, 12], dtype, 100 + b);
    const ys = new Tensor('int32', [10]);
    for (let i = 0; i < 10; i++) ys.data[i] = (i * 7 + b) % 4;
    return { x: xs, y: ys };
  });
  return { g, step, batches };
}

/** 6 × (dense 8 + tanh), MSE, momentum. */
function deep(dtype: Float, backend: Backend, fastMath = true) {
  const g = new Graph({ seed: 22 });
  const x = g.input('x', [null, 8], dtype);
  const t = g.input('t', [null, 8], dtype);
  let h = x;
  for (let l = 0; l < 6; l++) h = nn.tanh(nn.dense(h, 8));
  const loss = nn.mse(h, t);
  const params = g.params();
  const step = compile(g, { inputs: [x, t], outputs: [loss], updates: optim.momentum({ lr: 0.05, momentum: 0.9 }).updates(params, grad(loss, params)), backend, fastMath });
  const batches = [0, 1, 2].map((b) => ({ x: Tensor.randn([6, 8], dtype, 200 + b), t: Tensor.rand([6, 8], dtype, 300 + b) }));
  return { g, step, batches };
}

type Model = (dtype: Float, backend: Backend, fastMath?: boolean) => { g: Graph; step: Executable; batches: Record<string, Tensor>[] };

function train(make: Model, dtype: Float, backend: Backend, fastMath = true, steps = 30): { losses: number[]; params: number[][] } {
  const { g, step, batches } = make(dtype, backend, fastMath);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push(step.run(batches[s % batches.length])[0].item());
  return { losses, params: g.params().map((p) => Array.from(g.getValue(p).data)) };
}

describe('training on the compiled backend follows the interpreter', () => {
  for (const [name, make] of [['mlp + adam', mlp], ['deep tanh + momentum', deep]] as [string, Model][]) {
    it(`${name}, float64: the same losses and params, exactly`, () => {
      const js = train(make, 'float64', 'js');
      const ref = train(make, 'float64', 'interpreter');
      expect(js.losses).toEqual(ref.losses);
      expect(js.params).toEqual(ref.params);
      expect(js.losses[js.losses.length - 1]).toBeLessThan(js.losses[0]);
    });

    it(`${name}, float32: the same losses to float32 rounding`, () => {
      const js = train(make, 'float32', 'js');
      const ref = train(make, 'float32', 'interpreter');
      js.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref.losses[i]))));
      // bit-equal when fused loops round like the interpreter (and no product is longer than 256)
      const exact = train(make, 'float32', 'js', false);
      expect(exact.losses).toEqual(ref.losses);
      expect(exact.params).toEqual(ref.params);
    });
  }
});

describe('the mlp-train benchmark model', () => {
  it('its arena holds at most 60% of what its values would take unshared', () => {
    // 784-512-256-10, ReLU, softmax cross-entropy, Adam, batch 128 (as bench/gradgraph.ts builds it)
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 784]);
    const y = g.input('y', [null], 'int32');
    const h1 = nn.relu(nn.dense(x, 512, { init: init.heNormal() }));
    const h2 = nn.relu(nn.dense(h1, 256, { init: init.heNormal() }));
    const loss = nn.softmaxCrossEntropy(nn.dense(h2, 10), y);
    const params = g.params();
    const step = compile(g, { inputs: [x, y], outputs: [loss], updates: optim.adam({ lr: 1e-3 }).updates(params, grad(loss, params)) });
    const labels = new Tensor('int32', [128]);
    for (let i = 0; i < 128; i++) labels.data[i] = i % 10;
    step.run({ x: Tensor.rand([128, 784], 'float32', 1), y: labels });
    const m = step.lowered!.memory;
    const ratio = m.intermediateBytes / m.totalIntermediateBytes;
    console.info(`mlp-train memory plan: arena ${(m.arenaBytes / 2 ** 20).toFixed(2)} MB, values ${(m.intermediateBytes / 2 ** 20).toFixed(2)} MB of ${(m.totalIntermediateBytes / 2 ** 20).toFixed(2)} MB unshared (${ratio.toFixed(2)}), peak live ${(m.peakLiveBytes / 2 ** 20).toFixed(2)} MB, ${m.inPlaceUpdates.length}/${params.length * 3 + 1} updates in place`);
    expect(ratio).toBeLessThanOrEqual(0.6);
    expect(m.nominal).toBe(false);
  });
});
