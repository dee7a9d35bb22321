/**
 * gradgraph's research vocabulary against PyTorch, from the fixture written once by
 * test/fixtures/torch/make_vocab.py (PyTorch is no dependency: this test reads the JSON only).
 * Float64 throughout:
 *
 * - activations and losses: the value and the vector-Jacobian product of every differentiable
 *   input, including the kinks themselves (so the gradient conventions there are PyTorch's), to
 *   1e-9 relative;
 * - optimizers: 50-step trajectories on Rosenbrock and a 7-d quadratic, every step to 1e-9;
 * - schedules: the learning rate PyTorch's schedulers give at each step, to 1e-12;
 * - the exact GELU and the erf/erfc it is built from, against mpmath at 50 digits, to 1e-12
 *   relative wherever the result is a normal float64 (PyTorch itself is not that accurate there).
 *
 * Every case in the fixture must have a builder here, and every function of the vocabulary must
 * have a case in the fixture.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, concat, erf, erfc, grad, matmul, reshape, sum, type Sym } from '@gradgraph/core';
import { nn, optim } from '@gradgraph/ops';

interface TensorDoc {
  shape: number[];
  data: number[];
}
interface ArgDoc extends TensorDoc {
  name: string;
  dtype: 'float64' | 'int32';
  grad: boolean;
}
interface FnCase {
  kind: 'fn';
  name: string;
  op: string;
  opts: Record<string, unknown>;
  args: ArgDoc[];
  out: TensorDoc;
  cot: TensorDoc;
  grads: (TensorDoc | null)[];
  /** A looser bound where PyTorch's own float64 result is off, with the reason. */
  tolerance?: { value?: number; grad?: number; why: string };
}
interface OptimizerCase {
  kind: 'optimizer';
  name: string;
  optimizer: string;
  opts: Record<string, unknown>;
  problem: 'rosenbrock' | 'quadratic';
  steps: number;
  trajectory: number[][];
}
interface ScheduleCase {
  kind: 'schedule';
  name: string;
  schedule: string;
  opts: Record<string, unknown>;
  values: number[];
  source: string;
}
interface ReferenceCase {
  kind: 'reference';
  name: string;
  columns: string[];
  rows: number[][];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch/vocab.json', import.meta.url), 'utf8')) as {
  meta: { torch: string };
  sections: { activations: FnCase[]; losses: FnCase[]; optimizers: OptimizerCase[]; schedules: ScheduleCase[]; reference: ReferenceCase[] };
};
const { activations, losses, optimizers, schedules, reference } = fixture.sections;

const REL = 1e-9;

// ---- functions -----------------------------------------------------------------------------------

type Builder = (args: Sym[], opts: Record<string, unknown>) => Sym;
const unary = (f: (x: Sym, o?: any) => Sym): Builder => ([x], o) => f(x, o);

const FUNCTIONS: Record<string, Builder> = {
  silu: unary(nn.silu),
  gelu: unary(nn.gelu),
  elu: unary(nn.elu),
  selu: unary(nn.selu),
  celu: unary(nn.celu),
  mish: unary(nn.mish),
  hardtanh: unary(nn.hardtanh),
  relu6: unary(nn.relu6),
  hardSigmoid: unary(nn.hardSigmoid),
  hardSwish: unary(nn.hardSwish),
  logSigmoid: unary(nn.logSigmoid),
  softsign: unary(nn.softsign),
  softmaxCrossEntropy: ([z, t], o) => nn.softmaxCrossEntropy(z, t, o),
  nll: ([lp, t], o) => nn.nll(lp, t, o),
  klDiv: ([x, t], o) => nn.klDiv(x, t, o),
  poissonNll: ([x, t], o) => nn.poissonNll(x, t, o),
  gaussianNll: ([x, t, v], o) => nn.gaussianNll(x, t, v, o),
  hingeEmbedding: ([x, y], o) => nn.hingeEmbedding(x, y, o),
  marginRanking: ([a, b, y], o) => nn.marginRanking(a, b, y, o),
  tripletMargin: ([a, p, n], o) => nn.tripletMargin(a, p, n, o),
  cosineEmbedding: ([a, b, y], o) => nn.cosineEmbedding(a, b, y, o),
};

/** The worst |got − want|/|want| over elements; an exact 0 must be matched within 1e-300. */
function worstRelative(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const err = Math.abs(got[i] - w);
    worst = Math.max(worst, w === 0 ? (err <= 1e-300 ? 0 : Infinity) : err / Math.abs(w));
  }
  return worst;
}

function runFn(c: FnCase): { out: Tensor; grads: (Tensor | null)[] } {
  const g = new Graph();
  const inputs = c.args.map((a) => g.input(a.name, a.shape, a.dtype));
  const out = FUNCTIONS[c.op](inputs, c.opts);
  const cot = g.constant(new Tensor('float64', c.cot.shape, Float64Array.from(c.cot.data)));
  const wrt = inputs.filter((_, i) => c.args[i].grad);
  const gs = wrt.length ? grad(sum(out.mul(cot)), wrt) : [];
  const feeds = Object.fromEntries(c.args.map((a) => [a.name, new Tensor(a.dtype, a.shape, a.dtype === 'int32' ? Int32Array.from(a.data) : Float64Array.from(a.data))]));
  const [o, ...rest] = compile(g, { inputs, outputs: [out, ...gs] }).run(feeds);
  let k = 0;
  return { out: o, grads: c.args.map((a) => (a.grad ? rest[k++] : null)) };
}

function checkFn(c: FnCase): void {
  const { out, grads } = runFn(c);
  expect(out.shape).toEqual(c.out.shape);
  const errValue = worstRelative(out.data, c.out.data);
  expect(errValue, `value of ${c.name}`).toBeLessThanOrEqual(c.tolerance?.value ?? REL);
  let errGrad = 0;
  c.grads.forEach((want, i) => {
    if (!want) return;
    expect(grads[i]!.shape).toEqual(want.shape);
    const err = worstRelative(grads[i]!.data, want.data);
    expect(err, `gradient in ${c.args[i].name} of ${c.name}`).toBeLessThanOrEqual(c.tolerance?.grad ?? REL);
    errGrad = Math.max(errGrad, err);
  });
  if (process.env.VOCAB_REPORT) console.log(`${c.name}: value ${errValue.toExponential(1)}, gradient ${errGrad.toExponential(1)}`);
}

describe(`activations against PyTorch ${fixture.meta.torch} (value and gradient, float64, 1e-9 relative)`, () => {
  it.each(activations)('$name', (c) => checkFn(c));
});

describe(`losses against PyTorch ${fixture.meta.torch} (value and gradient, float64, 1e-9 relative)`, () => {
  it.each(losses)('$name', (c) => checkFn(c));
});

// ---- optimizers ------------------------------------------------------------------------------------

const A = [
  [4, 1, 0, 0.5, 0, 0, 0.2],
  [1, 3, 0.3, 0, 0, 0.1, 0],
  [0, 0.3, 2, 0, 0.4, 0, 0],
  [0.5, 0, 0, 5, 0, 0.6, 0],
  [0, 0, 0.4, 0, 1.5, 0, 0.3],
  [0, 0.1, 0, 0.6, 0, 2.5, 0],
  [0.2, 0, 0, 0, 0.3, 0, 1],
];
const B = [1, -2, 0.5, 3, -1, 0.25, 2];
const PROBLEMS = {
  // f(x, y) = (1 − x)² + 100·(y − x²)², from (−1.2, 1)
  rosenbrock: {
    init: [{ name: 'x', shape: [], values: [-1.2] }, { name: 'y', shape: [1], values: [1] }],
    loss: ([x, y]: Sym[]) => {
      const a = x.neg().add(1);
      const b = y.sub(x.mul(x));
      return a.mul(a).add(b.mul(b).mul(100)).sum();
    },
  },
  // f(z) = ½ zᵀAz − bᵀz, z = [u, vec(V)]
  quadratic: {
    init: [{ name: 'u', shape: [3], values: [2, -1, 0.5] }, { name: 'V', shape: [2, 2], values: [-1.5, 1, 0.3, 2.5] }],
    loss: ([u, V]: Sym[]) => {
      const g = u.graph;
      const z = concat([u, reshape(V, [4])]);
      const Az = matmul(g.constant(Tensor.from(A, 'float64')), z);
      return sum(z.mul(Az)).mul(0.5).sub(sum(z.mul(g.constant(Tensor.from(B, 'float64')))));
    },
  },
};

const OPTIMIZERS: Record<string, (opts: any) => optim.Optimizer> = {
  nadam: optim.nadam,
  radam: optim.radam,
  adamax: optim.adamax,
  adadelta: optim.adadelta,
  adam: optim.adam,
};

describe(`optimizers against PyTorch ${fixture.meta.torch} (float64 trajectories, 1e-9 relative)`, () => {
  it.each(optimizers)('$name', (c) => {
    const problem = PROBLEMS[c.problem];
    const g = new Graph();
    const params = problem.init.map((p) => g.param(p.name, new Tensor('float64', p.shape, Float64Array.from(p.values))));
    const opt = OPTIMIZERS[c.optimizer](c.opts);
    const step = compile(g, { outputs: [], updates: opt.updates(params, grad(problem.loss(params), params)) });
    let worst = 0;
    for (let k = 0; k < c.steps; k++) {
      step.run();
      worst = Math.max(worst, worstRelative(params.flatMap((p) => Array.from(g.getValue(p).data)), c.trajectory[k]));
    }
    if (process.env.VOCAB_REPORT) console.log(`${c.name}: ${worst.toExponential(1)}`);
    expect(worst).toBeLessThanOrEqual(REL);
    // the run went somewhere
    const start = problem.init.flatMap((p) => p.values);
    expect(Math.max(...c.trajectory[c.steps - 1].map((v, i) => Math.abs(v - start[i])))).toBeGreaterThan(1e-3);
  });
});

// ---- schedules -----------------------------------------------------------------------------------

const FACTORS: Record<string, (k: number) => number> = {
  harmonic: (k) => 1 / (1 + 0.1 * k),
  'halve every 7': (k) => (k % 7 === 0 ? 0.5 : 1),
};

describe(`schedules against PyTorch ${fixture.meta.torch} (the rate at steps 0..39, 1e-12 relative)`, () => {
  it.each(schedules)('$name ($source)', (c) => {
    const { factorFn, ...opts } = c.opts as Record<string, unknown> & { factorFn?: string };
    if (factorFn !== undefined) opts.factor = FACTORS[factorFn];
    const make = (optim.schedules as unknown as Record<string, (o: unknown) => optim.Schedule>)[c.schedule];
    const worst = worstRelative(make(opts).values(c.values.length), c.values);
    if (process.env.VOCAB_REPORT) console.log(`${c.name}: ${worst.toExponential(1)}`);
    expect(worst).toBeLessThanOrEqual(1e-12);
  });
});

// ---- GELU's erf, against mpmath ------------------------------------------------------------------------

describe('the exact GELU and its erf/erfc, against mpmath at 50 digits', () => {
  it('are accurate to 1e-12 relative over [−38, 38], including the far tails', () => {
    const [table] = reference;
    const xs = table.rows.map((r) => r[0]);
    const g = new Graph();
    const x = g.input('x', [xs.length], 'float64');
    const y = nn.gelu(x);
    const [dy] = grad(y.sum(), [x]);
    const out = compile(g, { outputs: [erf(x), erfc(x), y, dy] }).run({ x: Tensor.from(xs, 'float64') });
    const worst = [0, 0, 0, 0];
    table.rows.forEach(([xv, ...want], i) => {
      const phi = xv === 0 ? 0.5 : want[2] / xv; // Φ(x), from the reference GELU
      want.forEach((w, k) => {
        const got = out[k].data[i];
        if (Math.abs(w) < 1e-290) {
          // beyond float64's normal range (erfc(x > 26.5), GELU(x < −37)): a subnormal or 0
          expect(Math.abs(got)).toBeLessThan(1e-290);
          return;
        }
        // gelu' = Φ + xφ vanishes near x = −0.75: measure it against the size of its two terms
        const scale = k === 3 ? Math.abs(phi) + Math.abs(w - phi) : Math.abs(w);
        worst[k] = Math.max(worst[k], Math.abs(got - w) / scale);
      });
    });
    if (process.env.VOCAB_REPORT) console.log(`erf, erfc, gelu, gelu' vs mpmath: ${worst.map((e) => e.toExponential(1)).join(', ')}`);
    expect(worst.every((e) => e <= 1e-12), `worst relative errors erf, erfc, gelu, gelu': ${worst.map((e) => e.toExponential(2)).join(', ')}`).toBe(true);
  });
});

// ---- coverage --------------------------------------------------------------------------------------

describe('the fixture covers the vocabulary', () => {
  it('every case has a builder, and every function, optimizer and schedule has cases', () => {
    for (const c of [...activations, ...losses]) expect(Object.keys(FUNCTIONS), c.name).toContain(c.op);
    const fnOps = new Set([...activations, ...losses].map((c) => c.op));
    for (const name of Object.keys(FUNCTIONS)) expect(fnOps, `no PyTorch case for nn.${name}`).toContain(name);
    const opts = new Set(optimizers.map((c) => c.optimizer));
    for (const name of ['nadam', 'radam', 'adamax', 'adadelta']) expect(opts, `no PyTorch trajectory for optim.${name}`).toContain(name);
    const scheds = new Set(schedules.map((c) => c.schedule));
    for (const name of ['polynomial', 'cyclic', 'cosineWarmRestarts', 'constant', 'multiplicative']) expect(scheds, `no PyTorch values for schedules.${name}`).toContain(name);
  });
});
