/**
 * Optimizer trajectories in float64 against independent plain-JavaScript loops written here from
 * the published update rules (torch.optim's documented algorithms): 100 steps on Rosenbrock and
 * on a 7-dimensional quadratic split over two params, every step compared to 1e-9.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, Graph, Tensor, compile, concat, grad, matmul, reshape, sum, type Backend, type Sym } from '@gradgraph/core';
import { optim } from '@gradgraph/ops';

const STEPS = 100;
const TOL = 1e-9;

// ---- problems ----------------------------------------------------------------------------------

interface Problem {
  name: 'rosenbrock' | 'quadratic';
  /** Initial values and shapes of the params. */
  init: { name: string; shape: number[]; values: number[] }[];
  loss(params: Sym[]): Sym;
  /** ∇f in plain JS, one array per param. */
  gradJs(ps: number[][]): number[][];
}

// f(x, y) = (1 − x)² + 100·(y − x²)², x a scalar param, y a [1] param
const rosenbrock: Problem = {
  name: 'rosenbrock',
  init: [
    { name: 'x', shape: [], values: [-1.2] },
    { name: 'y', shape: [1], values: [1] },
  ],
  loss: ([x, y]) => {
    const a = x.neg().add(1);
    const b = y.sub(x.mul(x));
    return a.mul(a).add(b.mul(b).mul(100)).sum();
  },
  gradJs: ([[x], [y]]) => [[-2 * (1 - x) - 400 * x * (y - x * x)], [200 * (y - x * x)]],
};

// f(z) = ½ zᵀAz − bᵀz with z = [u (3), vec(V) (4)], A symmetric positive definite
const A = [
  [4, 1, 0, 0.5, 0, 0, 0.2],
  [1, 3, 0.3, 0, 0, 0.1, 0],
  [0, 0.3, 2, 0, 0.4, 0, 0],
  [0.5, 0, 0, 5, 0, 0.6, 0],
  [0, 0, 0.4, 0, 1.5, 0, 0.3],
  [0, 0.1, 0, 0.6, 0, 2.5, 0],
  [0.2, 0, 0, 0, 0.3, 0, 1],
];
const bVec = [1, -2, 0.5, 3, -1, 0.25, 2];
const quadratic: Problem = {
  name: 'quadratic',
  init: [
    { name: 'u', shape: [3], values: [2, -1, 0.5] },
    { name: 'V', shape: [2, 2], values: [-1.5, 1, 0.3, 2.5] },
  ],
  loss: ([u, V]) => {
    const g = u.graph;
    const z = concat([u, reshape(V, [4])]);
    const Az = matmul(g.constant(Tensor.from(A, 'float64')), z);
    return sum(z.mul(Az)).mul(0.5).sub(sum(z.mul(g.constant(Tensor.from(bVec, 'float64')))));
  },
  gradJs: ([u, v]) => {
    const z = [...u, ...v];
    const gz = A.map((row, i) => row.reduce((acc, a, j) => acc + a * z[j], 0) - bVec[i]);
    return [gz.slice(0, 3), gz.slice(3)];
  },
};

// ---- reference optimizers in plain JS ------------------------------------------------------------

/** One update of every param in place; `s` is the number of steps already taken. */
type RefStep = (ps: number[][], gs: number[][], s: number) => void;
type LrFn = (s: number) => number;
const constLr = (lr: number): LrFn => () => lr;

interface Decay {
  wd?: number;
  decoupled?: number;
  /** Param indices excluded from decay. */
  exclude?: number[];
}

/** Per-param, per-element state arrays created on first use. */
function slots() {
  const m = new Map<string, number[]>();
  return (key: string, n: number, init = 0) => {
    if (!m.has(key)) m.set(key, new Array(n).fill(init));
    return m.get(key)!;
  };
}

function sgdRef(lr: LrFn, o: { momentum?: number; dampening?: number; nesterov?: boolean } & Decay = {}): RefStep {
  const mu = o.momentum ?? 0;
  const tau = o.dampening ?? 0;
  const st = slots();
  return (ps, gs, s) => {
    const a = lr(s);
    ps.forEach((p, i) => {
      const decays = !(o.exclude ?? []).includes(i);
      const buf = st(`b${i}`, p.length);
      for (let j = 0; j < p.length; j++) {
        let d = gs[i][j] + (decays ? (o.wd ?? 0) * p[j] : 0);
        if (mu !== 0) {
          buf[j] = s === 0 ? d : mu * buf[j] + (1 - tau) * d;
          d = o.nesterov ? d + mu * buf[j] : buf[j];
        }
        const base = decays ? p[j] * (1 - a * (o.decoupled ?? 0)) : p[j];
        p[j] = base - a * d;
      }
    });
  };
}

function adagradRef(lr: LrFn, o: { lrDecay?: number; init?: number; eps?: number; inside?: boolean } & Decay = {}): RefStep {
  const eps = o.eps ?? 1e-10;
  const st = slots();
  return (ps, gs, s) => {
    const clr = lr(s) / (1 + s * (o.lrDecay ?? 0));
    ps.forEach((p, i) => {
      const G = st(`G${i}`, p.length, o.init ?? 0);
      for (let j = 0; j < p.length; j++) {
        const d = gs[i][j] + (o.wd ?? 0) * p[j];
        G[j] += d * d;
        p[j] -= (clr * d) / (o.inside ? Math.sqrt(G[j] + eps) : Math.sqrt(G[j]) + eps);
      }
    });
  };
}

function rmspropRef(lr: LrFn, o: { alpha?: number; eps?: number; momentum?: number; centered?: boolean; inside?: boolean } & Decay = {}): RefStep {
  const alpha = o.alpha ?? 0.99;
  const eps = o.eps ?? 1e-8;
  const mu = o.momentum ?? 0;
  const st = slots();
  return (ps, gs, s) => {
    const a = lr(s);
    ps.forEach((p, i) => {
      const v = st(`v${i}`, p.length);
      const gbar = st(`g${i}`, p.length);
      const buf = st(`b${i}`, p.length);
      for (let j = 0; j < p.length; j++) {
        const d = gs[i][j] + (o.wd ?? 0) * p[j];
        v[j] = alpha * v[j] + (1 - alpha) * d * d;
        let variance = v[j];
        if (o.centered) {
          gbar[j] = alpha * gbar[j] + (1 - alpha) * d;
          variance -= gbar[j] * gbar[j];
        }
        const avg = o.inside ? Math.sqrt(variance + eps) : Math.sqrt(variance) + eps;
        if (mu > 0) {
          buf[j] = mu * buf[j] + d / avg;
          p[j] -= a * buf[j];
        } else p[j] -= (a * d) / avg;
      }
    });
  };
}

function adamRef(lr: LrFn, o: { b1?: number; b2?: number; eps?: number; amsgrad?: boolean; epsHat?: boolean } & Decay = {}): RefStep {
  const b1 = o.b1 ?? 0.9;
  const b2 = o.b2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const st = slots();
  return (ps, gs, s) => {
    const t = s + 1;
    const a = lr(s);
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    ps.forEach((p, i) => {
      const decays = !(o.exclude ?? []).includes(i);
      const m = st(`m${i}`, p.length);
      const v = st(`v${i}`, p.length);
      const vmax = st(`x${i}`, p.length);
      for (let j = 0; j < p.length; j++) {
        const d = gs[i][j] + (decays ? (o.wd ?? 0) * p[j] : 0);
        m[j] = b1 * m[j] + (1 - b1) * d;
        v[j] = b2 * v[j] + (1 - b2) * d * d;
        vmax[j] = Math.max(vmax[j], v[j]);
        const vv = o.amsgrad ? vmax[j] : v[j];
        const mhat = m[j] / bc1;
        const denom = o.epsHat ? (Math.sqrt(vv) + eps) / Math.sqrt(bc2) : Math.sqrt(vv / bc2) + eps;
        const base = decays ? p[j] * (1 - a * (o.decoupled ?? 0)) : p[j];
        p[j] = base - (a * mhat) / denom;
      }
    });
  };
}

/** Scales grads so their global norm is ≤ c (PyTorch clip_grad_norm_, ε = 1e-6). */
function clipNormRef(gs: number[][], c: number): number[][] {
  const norm = Math.sqrt(gs.flat().reduce((acc, x) => acc + x * x, 0));
  const k = Math.min(1, c / (norm + 1e-6));
  return gs.map((g) => g.map((x) => x * k));
}

// ---- configurations ------------------------------------------------------------------------------

interface Case {
  name: string;
  /** Learning rates per problem (Rosenbrock is stiff: its curvature reaches ~1300). */
  lr: { rosenbrock: number; quadratic: number };
  make(lr: number): optim.Optimizer;
  ref(lr: number): RefStep;
  clip?: (gs: Sym[]) => Sym[];
  clipRef?: (gs: number[][]) => number[][];
}

const { schedules } = optim;
// cosine with 10 warmup steps from 0, decaying to 0 at step 90
const cosineLr = (lr: number): LrFn => (s) => (s < 10 ? (lr * s) / 10 : lr * 0.5 * (1 + Math.cos(Math.PI * Math.min((s - 10) / 80, 1))));

const cases: Case[] = [
  { name: 'sgd', lr: { rosenbrock: 1e-3, quadratic: 0.1 }, make: (lr) => optim.sgd({ lr }), ref: (lr) => sgdRef(constLr(lr)) },
  { name: 'sgd weightDecay', lr: { rosenbrock: 1e-3, quadratic: 0.1 }, make: (lr) => optim.sgd({ lr, weightDecay: 0.1 }), ref: (lr) => sgdRef(constLr(lr), { wd: 0.1 }) },
  {
    name: 'sgd decoupledWeightDecay, param 1 excluded',
    lr: { rosenbrock: 1e-3, quadratic: 0.1 },
    make: (lr) => optim.sgd({ lr, decoupledWeightDecay: 0.5, excludeFromDecay: (p) => p.name === 'y' || p.name === 'V' }),
    ref: (lr) => sgdRef(constLr(lr), { decoupled: 0.5, exclude: [1] }),
  },
  { name: 'momentum', lr: { rosenbrock: 2e-4, quadratic: 0.05 }, make: (lr) => optim.momentum({ lr, momentum: 0.9 }), ref: (lr) => sgdRef(constLr(lr), { momentum: 0.9 }) },
  {
    name: 'sgd momentum dampening',
    lr: { rosenbrock: 2e-4, quadratic: 0.05 },
    make: (lr) => optim.sgd({ lr, momentum: 0.8, dampening: 0.3 }),
    ref: (lr) => sgdRef(constLr(lr), { momentum: 0.8, dampening: 0.3 }),
  },
  { name: 'nesterov', lr: { rosenbrock: 2e-4, quadratic: 0.05 }, make: (lr) => optim.nesterov({ lr, momentum: 0.9 }), ref: (lr) => sgdRef(constLr(lr), { momentum: 0.9, nesterov: true }) },
  {
    name: 'nesterov weightDecay',
    lr: { rosenbrock: 2e-4, quadratic: 0.05 },
    make: (lr) => optim.sgd({ lr, momentum: 0.7, nesterov: true, weightDecay: 0.01 }),
    ref: (lr) => sgdRef(constLr(lr), { momentum: 0.7, nesterov: true, wd: 0.01 }),
  },
  { name: 'adagrad', lr: { rosenbrock: 0.1, quadratic: 0.5 }, make: (lr) => optim.adagrad({ lr }), ref: (lr) => adagradRef(constLr(lr)) },
  {
    name: 'adagrad lrDecay initialAccumulator epsInsideSqrt weightDecay',
    lr: { rosenbrock: 0.1, quadratic: 0.5 },
    make: (lr) => optim.adagrad({ lr, lrDecay: 0.01, initialAccumulator: 0.1, eps: 1e-7, epsInsideSqrt: true, weightDecay: 0.01 }),
    ref: (lr) => adagradRef(constLr(lr), { lrDecay: 0.01, init: 0.1, eps: 1e-7, inside: true, wd: 0.01 }),
  },
  { name: 'rmsprop', lr: { rosenbrock: 1e-3, quadratic: 0.01 }, make: (lr) => optim.rmsprop({ lr }), ref: (lr) => rmspropRef(constLr(lr)) },
  {
    name: 'rmsprop centered',
    // v − ḡ² cancels when the gradient barely changes, amplifying rounding by g²/(v − ḡ²); PyTorch's
    // form has the same conditioning. A small step keeps the variance estimate well above rounding.
    lr: { rosenbrock: 1e-3, quadratic: 0.003 },
    make: (lr) => optim.rmsprop({ lr, alpha: 0.9, centered: true }),
    ref: (lr) => rmspropRef(constLr(lr), { alpha: 0.9, centered: true }),
  },
  {
    name: 'rmsprop momentum weightDecay',
    lr: { rosenbrock: 1e-4, quadratic: 0.005 },
    make: (lr) => optim.rmsprop({ lr, momentum: 0.9, weightDecay: 0.01 }),
    ref: (lr) => rmspropRef(constLr(lr), { momentum: 0.9, wd: 0.01 }),
  },
  {
    name: 'rmsprop centered momentum epsInsideSqrt',
    lr: { rosenbrock: 1e-4, quadratic: 0.005 },
    make: (lr) => optim.rmsprop({ lr, momentum: 0.5, centered: true, eps: 1e-6, epsInsideSqrt: true }),
    ref: (lr) => rmspropRef(constLr(lr), { momentum: 0.5, centered: true, eps: 1e-6, inside: true }),
  },
  { name: 'adam', lr: { rosenbrock: 0.02, quadratic: 0.05 }, make: (lr) => optim.adam({ lr }), ref: (lr) => adamRef(constLr(lr)) },
  {
    name: 'adam amsgrad betas eps',
    lr: { rosenbrock: 0.02, quadratic: 0.05 },
    make: (lr) => optim.adam({ lr, amsgrad: true, betas: [0.8, 0.99], eps: 1e-6 }),
    ref: (lr) => adamRef(constLr(lr), { amsgrad: true, b1: 0.8, b2: 0.99, eps: 1e-6 }),
  },
  { name: 'adam weightDecay (coupled)', lr: { rosenbrock: 0.02, quadratic: 0.05 }, make: (lr) => optim.adam({ lr, weightDecay: 0.1 }), ref: (lr) => adamRef(constLr(lr), { wd: 0.1 }) },
  { name: 'adam epsHat', lr: { rosenbrock: 0.02, quadratic: 0.05 }, make: (lr) => optim.adam({ lr, eps: 1e-3, epsHat: true }), ref: (lr) => adamRef(constLr(lr), { eps: 1e-3, epsHat: true }) },
  { name: 'adamw', lr: { rosenbrock: 0.02, quadratic: 0.05 }, make: (lr) => optim.adamw({ lr }), ref: (lr) => adamRef(constLr(lr), { decoupled: 0.01 }) },
  {
    name: 'adamw amsgrad weightDecay, param 0 excluded',
    lr: { rosenbrock: 0.02, quadratic: 0.05 },
    make: (lr) => optim.adamw({ lr, weightDecay: 0.3, amsgrad: true, excludeFromDecay: /^(x|u)$/ }),
    ref: (lr) => adamRef(constLr(lr), { decoupled: 0.3, amsgrad: true, exclude: [0] }),
  },
  {
    name: 'sgd + cosine with warmup',
    lr: { rosenbrock: 1e-3, quadratic: 0.2 },
    make: (lr) => optim.sgd({ lr: schedules.cosine({ lr, totalSteps: 90, warmupSteps: 10 }) }),
    ref: (lr) => sgdRef(cosineLr(lr)),
  },
  {
    name: 'momentum + step decay',
    lr: { rosenbrock: 2e-4, quadratic: 0.05 },
    make: (lr) => optim.momentum({ lr: schedules.stepDecay({ lr, stepSize: 25, gamma: 0.5 }) }),
    ref: (lr) => sgdRef((s) => lr * 0.5 ** Math.floor(s / 25), { momentum: 0.9 }),
  },
  {
    name: 'adam + exponential',
    lr: { rosenbrock: 0.02, quadratic: 0.05 },
    make: (lr) => optim.adam({ lr: schedules.exponential({ lr, gamma: 0.97 }) }),
    ref: (lr) => adamRef((s) => lr * 0.97 ** s),
  },
  {
    name: 'adamw + one-cycle',
    lr: { rosenbrock: 0.02, quadratic: 0.1 },
    make: (lr) => optim.adamw({ lr: schedules.oneCycle({ maxLr: lr, totalSteps: 100 }) }),
    ref: (lr) =>
      adamRef(
        (s) => {
          // PyTorch OneCycleLR, two phases, cosine annealing: phase ends at 29 and 99
          const init = lr / 25;
          const fin = init / 1e4;
          const cosAnneal = (a: number, b: number, pct: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1);
          return s <= 29 ? cosAnneal(init, lr, s / 29) : cosAnneal(lr, fin, (s - 29) / 70);
        },
        { decoupled: 0.01 },
      ),
  },
  {
    name: 'rmsprop + linear warmup into multi-step',
    lr: { rosenbrock: 1e-3, quadratic: 0.02 },
    make: (lr) => optim.rmsprop({ lr: schedules.linearWarmup({ lr: schedules.multiStep({ lr, milestones: [20, 50] }), warmupSteps: 15, startFactor: 0.1 }) }),
    ref: (lr) => rmspropRef((s) => (s < 15 ? lr * (0.1 + (0.9 * s) / 15) : lr * 0.1 ** ((s - 15 >= 20 ? 1 : 0) + (s - 15 >= 50 ? 1 : 0)))),
  },
  {
    name: 'sgd + clipByGlobalNorm',
    lr: { rosenbrock: 1e-2, quadratic: 0.1 },
    make: (lr) => optim.sgd({ lr, momentum: 0.5 }),
    ref: (lr) => sgdRef(constLr(lr), { momentum: 0.5 }),
    clip: (gs) => optim.clipByGlobalNorm(gs, 2),
    clipRef: (gs) => clipNormRef(gs, 2),
  },
  {
    name: 'adam + clipByValue',
    lr: { rosenbrock: 0.02, quadratic: 0.05 },
    make: (lr) => optim.adam({ lr }),
    ref: (lr) => adamRef(constLr(lr)),
    clip: (gs) => optim.clipByValue(gs, -1.5, 0.75),
    clipRef: (gs) => gs.map((g) => g.map((x) => Math.min(Math.max(x, -1.5), 0.75))),
  },
];

function runGraph(problem: Problem, c: Case, backend: Backend): number[][][] {
  const g = new Graph();
  const params = problem.init.map((p) => g.param(p.name, new Tensor('float64', p.shape, Float64Array.from(p.values))));
  const loss = problem.loss(params);
  let grads = grad(loss, params);
  if (c.clip) grads = c.clip(grads);
  const opt = c.make(c.lr[problem.name]);
  const step = compile(g, { outputs: [loss], updates: opt.updates(params, grads), backend });
  const traj: number[][][] = [];
  for (let k = 0; k < STEPS; k++) {
    step.run();
    traj.push(params.map((p) => Array.from(g.getValue(p).data)));
  }
  return traj;
}

function runRef(problem: Problem, c: Case): number[][][] {
  const ps = problem.init.map((p) => [...p.values]);
  const update = c.ref(c.lr[problem.name]);
  const traj: number[][][] = [];
  for (let s = 0; s < STEPS; s++) {
    let gs = problem.gradJs(ps);
    if (c.clipRef) gs = c.clipRef(gs);
    update(ps, gs, s);
    traj.push(ps.map((p) => [...p]));
  }
  return traj;
}

// on both backends: the compiled one's in-place updates must follow the same trajectory
describe.each(BACKENDS.flatMap((backend) => [rosenbrock, quadratic].map((problem) => ({ ...problem, backend }))))('float64 trajectories on $name ($backend backend)', (problem) => {
  it.each(cases)('$name matches the plain-JS loop to 1e-9 over 100 steps', (c) => {
    const got = runGraph(problem, c, problem.backend);
    const want = runRef(problem, c);
    let worst = 0;
    for (let k = 0; k < STEPS; k++) {
      want[k].forEach((p, i) =>
        p.forEach((w, j) => {
          expect(Number.isFinite(w)).toBe(true);
          worst = Math.max(worst, Math.abs(got[k][i][j] - w) / Math.max(1, Math.abs(w)));
        }),
      );
    }
    if (process.env.OPTIM_REPORT) console.log(`${problem.name} ${c.name}: worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(TOL);
    // the run went somewhere: the params moved away from the start
    const start = problem.init.flatMap((p) => p.values);
    const end = want[STEPS - 1].flat();
    expect(Math.max(...end.map((v, i) => Math.abs(v - start[i])))).toBeGreaterThan(1e-3);
  });
});
