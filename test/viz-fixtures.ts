/**
 * A small model trained for a few epochs with everything viz draws recorded: gradient probe,
 * history with early stopping, activation curves before/after, histograms. Shared by the viz
 * tests and scripts/readme-pictures.ts.
 */
import { Graph, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';
import { activationCurves, findActivations, gradientProbe, histograms, type ActivationCurve, type EpochRecord, type GradientProbe, type Histogram, type History } from '@gradgraph/viz';

/** Two interleaved spirals-ish classes in 2-d, deterministic. */
export function toyData(n: number, seed: number): { x: Tensor; y: Tensor } {
  const xs: number[][] = [];
  const ys: number[] = [];
  const noise = Tensor.randn([n, 2], 'float32', seed).data;
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const t = (i / n) * 3 + 0.3;
    const sgn = c ? -1 : 1;
    xs.push([sgn * t * Math.cos(t * 2) + 0.1 * noise[2 * i], sgn * t * Math.sin(t * 2) + 0.1 * noise[2 * i + 1]]);
    ys.push(c);
  }
  return { x: Tensor.from(xs), y: Tensor.from(ys, 'int32') };
}

export interface TrainedToy {
  g: Graph;
  loss: Sym;
  step: ReturnType<typeof compile>;
  probe: GradientProbe;
  history: History;
  activations: { before: ActivationCurve[]; after: ActivationCurve[] };
  histograms: Histogram[];
  config: Record<string, unknown>;
}

/** Builds and trains the toy classifier with full-batch Adam and early stopping on validation loss. */
export function trainToy(opts: { epochs?: number; patience?: number; seed?: number } = {}): TrainedToy {
  const config = { epochs: opts.epochs ?? 30, patience: opts.patience ?? 4, lr: 0.03, hidden: 12, seed: opts.seed ?? 7 };
  const g = new Graph({ seed: config.seed });
  const x = g.input('x', [null, 2]);
  const y = g.input('y', [null], 'int32');
  let h = g.scope('block1', () => nn.prelu(nn.dense(x, config.hidden), { perChannel: true }));
  h = g.scope('block2', () => nn.splash(nn.dense(h, config.hidden), { hinges: 5 }));
  h = g.scope('block3', () => nn.apl(nn.dense(h, config.hidden), { hinges: 2 }));
  const logits = g.scope('head', () => nn.dense(h, 2));
  const loss = nn.softmaxCrossEntropy(logits, y);
  const acc = logits.argmax(-1).equal(y).cast('float32').mean();
  const params = g.params();
  const grads = grad(loss, params);
  const probe = gradientProbe(loss);
  const step = compile(g, { inputs: [x, y], outputs: [loss, acc, ...probe.outputs], updates: optim.adam({ lr: config.lr }).updates(params, grads) });
  const evaluate = compile(g, { inputs: [x, y], outputs: [loss, acc] });
  const train = toyData(96, 1);
  const val = toyData(48, 2);
  const sites = findActivations(g);
  const before = activationCurves(sites, { points: 81 });
  const epochs: EpochRecord[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  let stoppedAt: number | undefined;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const [l, a, ...extra] = step.run({ x: train.x, y: train.y });
    probe.record(extra, epoch);
    const [vl, va] = evaluate.run({ x: val.x, y: val.y });
    epochs.push({ epoch, loss: l.item(), valLoss: vl.item(), metrics: { acc: a.item(), val_acc: va.item() } });
    if (vl.item() < best - 1e-4) {
      best = vl.item();
      bestEpoch = epoch;
    } else if (epoch - bestEpoch >= config.patience) {
      stoppedAt = epoch;
      break;
    }
  }
  const after = activationCurves(sites, { points: 81 });
  return {
    g,
    loss,
    step,
    probe,
    history: { epochs, bestEpoch, ...(stoppedAt !== undefined ? { stoppedAt } : {}) },
    activations: { before, after },
    histograms: histograms(g, { gradients: probe.lastGradients() }),
    config,
  };
}

/**
 * The tutorial's deep net: `depth` dense layers of 16 (the last of 1) with sigmoid and a naive
 * N(0, 1) init, or ReLU with He init; MSE loss. Each layer is a scope `layer01`, `layer02`, ...
 */
export function deepNet(kind: 'sigmoid-naive' | 'relu-he', depth = 20): { g: Graph; loss: Sym } {
  const g = new Graph({ seed: 11 });
  const x = g.input('x', [null, 8]);
  const y = g.input('y', [null, 1]);
  let h = x;
  for (let l = 1; l <= depth; l++) {
    const last = l === depth;
    h = g.scope(`layer${String(l).padStart(2, '0')}`, () => {
      const z = nn.dense(h, last ? 1 : 16, { init: kind === 'relu-he' ? init.heNormal() : init.normal({ std: 1 }) });
      return last ? z : kind === 'relu-he' ? nn.relu(z) : nn.sigmoid(z);
    });
  }
  return { g, loss: nn.mse(h, y) };
}
