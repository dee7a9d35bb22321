/**
 * Optimizers on real nn models: weight-decay exclusions by `nn.paramRole` (PReLU slopes are not
 * decayed), coupled decay equal to an L2 penalty on the loss, and a clipped, scheduled AdamW
 * step compiled as one program with its state checkpointed by snapshots.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, grad } from '@gradgraph/core';
import { nn, optim } from '@gradgraph/ops';

const X = [
  [0.5, -1, 2],
  [1.5, 0.3, -0.7],
  [-1, 2, 0.1],
  [0.2, 0.2, -2],
];
const Y = [[1], [-0.5], [0.3], [2]];

/** A dense → PReLU → dense regression in float64, the same initial values in every call. */
function build(seed = 7) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 3], 'float64');
  const y = g.input('y', [null, 1], 'float64');
  const h = nn.prelu(nn.dense(x, 4), { perChannel: true });
  const loss = nn.mse(nn.dense(h, 1), y);
  const feeds = { x: Tensor.from(X, 'float64'), y: Tensor.from(Y, 'float64') };
  return { g, x, y, loss, feeds, params: g.params() };
}

const values = (g: Graph, names: string[]) => names.map((n) => Array.from(g.getValue(n).data));

describe('optimizers with nn models', () => {
  it('adamw excluding activation params: PReLU slopes get no decay, kernels get θ·(1 − lr·λ)', () => {
    // one step from the same start: the Adam steps Δ are equal, so the runs differ only by decay
    const lr = 0.05;
    const lam = 0.1;
    const runs = [lam, 0].map((wd) => {
      const m = build();
      const opt = optim.adamw({ lr, weightDecay: wd, excludeFromDecay: (p) => nn.paramRole(p) === 'activation' });
      const step = compile(m.g, { inputs: [m.x, m.y], outputs: [m.loss], updates: opt.updates(m.params, grad(m.loss, m.params)) });
      step.run(m.feeds);
      return m;
    });
    const start = build();
    const roleOf = new Map(start.params.map((p) => [p.name!, nn.paramRole(p)]));
    expect([...roleOf.values()].sort()).toEqual(['activation', 'bias', 'bias', 'kernel', 'kernel']);
    for (const [name, role] of roleOf) {
      const [decayed, plain, initial] = [runs[0].g, runs[1].g, start.g].map((g) => Array.from(g.getValue(name).data));
      decayed.forEach((v, i) => {
        const want = role === 'activation' ? plain[i] : plain[i] - lr * lam * initial[i];
        expect(Math.abs(v - want), `${name}[${i}]`).toBeLessThan(1e-14);
      });
    }
    // the PReLU slopes did move (Adam's first step is ±lr per element)
    expect(Array.from(runs[0].g.getValue('prelu/alpha').data).every((a) => Math.abs(a - 0.25) > 0.04)).toBe(true);
  });

  it('sgd weightDecay λ equals an nn.l2Penalty of weight λ/2 on the loss', () => {
    const lam = 0.2;
    const a = build();
    const optA = optim.sgd({ lr: 0.05, momentum: 0.9, weightDecay: lam, excludeFromDecay: (p) => nn.paramRole(p) !== 'kernel' });
    const stepA = compile(a.g, { outputs: [a.loss], updates: optA.updates(a.params, grad(a.loss, a.params)) });
    const b = build();
    const kernels = b.params.filter((p) => nn.paramRole(p) === 'kernel');
    const penalized = b.loss.add(nn.l2Penalty(b.params, { weight: lam / 2, exclude: (p) => nn.paramRole(p) !== 'kernel' }));
    expect(kernels.length).toBe(2);
    const optB = optim.sgd({ lr: 0.05, momentum: 0.9 });
    const stepB = compile(b.g, { outputs: [b.loss], updates: optB.updates(b.params, grad(penalized, b.params)) });
    for (let i = 0; i < 30; i++) {
      stepA.run(a.feeds);
      stepB.run(b.feeds);
    }
    const names = a.params.map((p) => p.name!);
    const [va, vb] = [values(a.g, names).flat(), values(b.g, names).flat()];
    va.forEach((v, i) => expect(Math.abs(v - vb[i])).toBeLessThan(1e-12));
  });

  it('a clipped, scheduled AdamW step trains, logs its lr and norm, and resumes exactly from a snapshot', () => {
    const m = build();
    const grads = grad(m.loss, m.params);
    const opt = optim.adamw({ lr: optim.schedules.cosine({ lr: 0.05, totalSteps: 40, warmupSteps: 5 }), excludeFromDecay: (p) => nn.paramRole(p) !== 'kernel' });
    const updates = opt.updates(m.params, optim.clipByGlobalNorm(grads, 1));
    const step = compile(m.g, { inputs: [m.x, m.y], outputs: [m.loss, opt.currentLr, optim.globalNorm(grads)], updates });
    const log = Array.from({ length: 20 }, () => step.run(m.feeds).map((t) => t.item()));
    expect(log[19][0]).toBeLessThan(log[0][0]);
    expect(log.map((r) => r[1])).toEqual(optim.schedules.cosine({ lr: 0.05, totalSteps: 40, warmupSteps: 5 }).values(20));
    // state is checkpointed with the params: not in params(), in the snapshot
    const state = m.g.snapshot();
    expect(m.g.params().some((p) => p.name!.startsWith('adamw/'))).toBe(false);
    expect([...state.values.keys()].filter((k) => k.startsWith('adamw/')).length).toBe(1 + 2 * m.params.length);
    const next = Array.from({ length: 10 }, () => step.run(m.feeds)[0].item());
    m.g.restore(state);
    expect(Array.from({ length: 10 }, () => step.run(m.feeds)[0].item())).toEqual(next);
  });
});
