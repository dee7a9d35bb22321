/**
 * Per-example gradients and DP-SGD on iris.
 *
 * DP-SGD (Abadi et al., 2016) trains with a privacy guarantee by bounding each example's
 * influence: every example's gradient is clipped to norm ≤ C, the clipped gradients are summed,
 * Gaussian noise N(0, σ²C²) is added, and the sum is divided by the batch size. That needs one
 * gradient per example — `perExampleGrads`, which is `vmap` of `grad`: one batched program, not a
 * loop over the examples. The whole step (per-example gradients, norms, clipping, noise, update)
 * is one compiled program.
 *
 * 1. The per-example gradients are checked against `grad` run on each example alone.
 * 2. A 4-16-3 MLP is trained on standardized iris with DP-SGD and, for reference, with plain
 *    minibatch SGD; the example reports both test accuracies and the largest clipped norm.
 *
 * Run: pnpm exec tsx examples/per-example-gradients.ts
 */
import { fileURLToPath } from 'node:url';
import { compile, grad, Graph, perExampleGrads, randomNormal, Tensor, type Sym } from '@gradgraph/core';
import { data, init, nn } from '@gradgraph/ops';

export const DP = { batch: 24, clip: 1, noiseMultiplier: 1.1, lr: 0.5, epochs: 60, hidden: 16 };

export interface Results {
  /** [B, 4, 16], [B, 16], [B, 16, 3], [B, 3]. */
  perExampleShapes: (number | null)[][];
  /** Largest |per-example gradient − grad of that example alone|, over every element. */
  maxLoopDifference: number;
  /** Largest norm of a clipped per-example gradient during training (≤ C). */
  maxClippedNorm: number;
  /** Fraction of examples whose gradient the clipping shortened, over training. */
  clippedFraction: number;
  dpAccuracy: number;
  plainAccuracy: number;
  dpLoss: { first: number; last: number };
}

/** A 4-16-3 MLP: params, and logits for rows of features. */
function model(g: Graph) {
  const params = [
    init.createParam(g, 'w1', [4, DP.hidden], init.heNormal(), { dtype: 'float64' }),
    init.createParam(g, 'b1', [DP.hidden], init.zeros(), { dtype: 'float64' }),
    init.createParam(g, 'w2', [DP.hidden, 3], init.xavierUniform(), { dtype: 'float64' }),
    init.createParam(g, 'b2', [3], init.zeros(), { dtype: 'float64' }),
  ];
  const logits = ([w1, b1, w2, b2]: Sym[], rows: Sym) => nn.relu(rows.matmul(w1).add(b1)).matmul(w2).add(b2);
  return { params, logits };
}

/** Rows `idx` of x [n, 4] and of the labels, as feeds. */
function feedsFor(x: Tensor, labels: Int32Array, idx: ArrayLike<number>): { x: Tensor; y: Tensor } {
  const xs = new Tensor('float64', [idx.length, 4]);
  const ys = new Tensor('int32', [idx.length]);
  for (let k = 0; k < idx.length; k++) {
    xs.data.set(x.data.subarray(idx[k] * 4, idx[k] * 4 + 4), k * 4);
    ys.data[k] = labels[idx[k]];
  }
  return { x: xs, y: ys };
}

export function main(opts: { quiet?: boolean } = {}): Results {
  const log = opts.quiet ? () => {} : console.log;
  const split = data.trainTestSplit(data.loadIris({ dtype: 'float64' }), { testSize: 0.2, seed: 7, stratify: true });
  const { train, test } = data.standardize(split);
  log(`iris: ${train.size} training and ${test.size} test flowers, 4 standardized features, 3 species`);

  // ---- the DP-SGD step as one program
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [null, 4], 'float64');
  const y = g.input('y', [null], 'int32');
  const { params, logits } = model(g);
  // one example: features [4] and a label [] → its loss, a scalar
  const exampleLoss = (ps: Sym[], xe: Sym, ye: Sym) => nn.softmaxCrossEntropy(logits(ps, xe.reshape([1, 4])), ye.reshape([1]));
  const per = perExampleGrads(exampleLoss, params, [x, y]); // each [B, ...param.shape]
  // ‖gᵢ‖ over all params, per example; clip factor min(1, C/‖gᵢ‖)
  const norms = per.map((gp) => gp.square().sum(gp.shape.slice(1).map((_d, k) => k + 1))).reduce((a, b) => a.add(b)).sqrt();
  const factor = norms.div(DP.clip).maximum(1).reciprocal();
  const noisyMean = per.map((gp, k) => {
    const clipped = gp.mul(factor.reshape([-1, ...gp.shape.slice(1).map(() => 1)]));
    const noise = randomNormal(g, params[k].shape as number[], { dtype: 'float64', std: DP.noiseMultiplier * DP.clip, name: `dpNoise${k}` });
    return clipped.sum(0).add(noise).div(DP.batch);
  });
  const clippedNorms = norms.mul(factor); // ≤ C by construction
  const dpLoss = nn.softmaxCrossEntropy(logits(params, x), y);
  const dpStep = compile(g, { inputs: [x, y], outputs: [dpLoss, clippedNorms, factor], updates: params.map((p, k) => [p, p.sub(noisyMean[k].mul(DP.lr))] as [Sym, Sym]) });
  const predict = compile(g, { inputs: [x], outputs: [logits(params, x).argmax(-1)] });

  // 1. per-example gradients equal grad on each example alone
  const check = feedsFor(train.x, train.labels, [0, 1, 2, 3, 4]);
  const perValues = compile(g, { inputs: [x, y], outputs: per }).run(check);
  let maxLoopDifference = 0;
  for (let b = 0; b < 5; b++) {
    const xb = x.slice([b, 0], [1, 4]).reshape([4]);
    const yb = y.slice([b], [1]).reshape([]);
    const alone = compile(g, { inputs: [x, y], outputs: grad(exampleLoss(params, xb, yb), params) }).run(check);
    alone.forEach((t, k) => t.data.forEach((v, i) => (maxLoopDifference = Math.max(maxLoopDifference, Math.abs(v - perValues[k].data[b * t.size + i])))));
  }
  log(`per-example gradients ${per.map((p) => `[${p.shape.map((d) => d ?? 'B').join(',')}]`).join(' ')}; largest difference from grad on each example alone: ${maxLoopDifference.toExponential(2)}`);

  // 2. DP-SGD training, then plain SGD on a fresh copy of the same initial params
  const initial = g.snapshot();
  let maxClippedNorm = 0;
  let clipped = 0;
  let seen = 0;
  const losses: number[] = [];
  const accuracyOf = () => {
    const [pred] = predict.run({ x: test.x });
    return Array.from(pred.data).filter((p, i) => p === test.labels[i]).length / test.size;
  };
  const train1 = (step: (f: { x: Tensor; y: Tensor }) => number) => {
    for (let epoch = 0; epoch < DP.epochs; epoch++) {
      const order = data.permutation(train.size, 100 + epoch);
      let sum = 0;
      for (let s = 0; s + DP.batch <= train.size; s += DP.batch) sum += step(feedsFor(train.x, train.labels, order.subarray(s, s + DP.batch)));
      losses.push(sum / Math.floor(train.size / DP.batch));
    }
  };
  train1((f) => {
    const [l, cn, fac] = dpStep.run(f);
    for (const v of cn.data) maxClippedNorm = Math.max(maxClippedNorm, v);
    for (const v of fac.data) if (v < 1) clipped++;
    seen += fac.size;
    return l.item();
  });
  const dpAccuracy = accuracyOf();
  const dpLossCurve = { first: losses[0], last: losses[losses.length - 1] };
  log(`DP-SGD (C = ${DP.clip}, σ = ${DP.noiseMultiplier}, batch ${DP.batch}, ${DP.epochs} epochs): loss ${dpLossCurve.first.toFixed(3)} → ${dpLossCurve.last.toFixed(3)}, test accuracy ${(100 * dpAccuracy).toFixed(1)}%; ${(100 * clipped / seen).toFixed(0)}% of per-example gradients clipped, largest clipped norm ${maxClippedNorm.toFixed(6)}`);

  g.restore(initial);
  const plainLoss = nn.softmaxCrossEntropy(logits(params, x), y);
  const plainGrads = grad(plainLoss, params);
  const plainStep = compile(g, { inputs: [x, y], outputs: [plainLoss], updates: params.map((p, k) => [p, p.sub(plainGrads[k].mul(DP.lr))] as [Sym, Sym]) });
  losses.length = 0;
  train1((f) => plainStep.run(f)[0].item());
  const plainAccuracy = accuracyOf();
  log(`plain SGD, same model and schedule: loss ${losses[0].toFixed(3)} → ${losses[losses.length - 1].toFixed(3)}, test accuracy ${(100 * plainAccuracy).toFixed(1)}%`);

  return {
    perExampleShapes: per.map((p) => [...p.shape]),
    maxLoopDifference,
    maxClippedNorm,
    clippedFraction: clipped / seen,
    dpAccuracy,
    plainAccuracy,
    dpLoss: dpLossCurve,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
