/**
 * Every activation, loss, layer and penalty of `nn` passes gradcheck to order 2 in float64,
 * with respect to its inputs and to every param it creates (gradcheck perturbs those too), so the
 * mixed second derivatives in x and the coefficients are checked. The table is checked against
 * the exports: a new differentiable export without a row fails.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, Tensor, assertGradcheck, formatReport, gradcheck, type Sym } from '@gradgraph/core';
import { nn } from '@gradgraph/ops';

type Row = {
  name: string;
  fn: (...xs: Sym[]) => Sym;
  inputs: Tensor[];
  /** Params the row expects gradcheck to have checked. */
  params?: string[];
};

const f64 = (v: number[] | number[][]) => Tensor.from(v, 'float64');
const randn = (shape: number[], seed: number, scale = 1) => {
  const t = Tensor.randn(shape, 'float64', seed);
  for (let i = 0; i < t.size; i++) t.data[i] *= scale;
  return t;
};
/** Probabilities in (0.1, 0.9). */
const probs = (shape: number[], seed: number) => {
  const t = Tensor.rand(shape, 'float64', seed);
  for (let i = 0; i < t.size; i++) t.data[i] = 0.1 + 0.8 * t.data[i];
  return t;
};
/** Sets a param created by `fn` to given values, so second derivatives see non-trivial coefficients. */
const set = (x: Sym, name: string, value: Tensor) => x.graph.setValue(name, value);

// inputs that stay clear of the kinks at 0 and at the hinges (gradcheck would accept kinks, but
// the point here is the smooth pieces and their mixed derivatives)
const X = f64([[-2.3, -1.1, -0.4], [0.3, 1.3, 2.7]]);

const rows: Row[] = [
  // fixed activations
  { name: 'relu', fn: (x) => nn.relu(x), inputs: [X] },
  { name: 'leakyRelu', fn: (x) => nn.leakyRelu(x, 0.2), inputs: [X] },
  { name: 'sigmoid', fn: (x) => nn.sigmoid(x), inputs: [X] },
  { name: 'tanh', fn: (x) => nn.tanh(x), inputs: [X] },
  { name: 'softplus', fn: (x) => nn.softplus(x, { beta: 2 }), inputs: [X] },
  { name: 'softmax', fn: (x) => nn.softmax(x), inputs: [X] },
  { name: 'logSoftmax', fn: (x) => nn.logSoftmax(x, 0), inputs: [X] },
  // the PyTorch vocabulary (X stays off every kink: 0, ±1, ±2, ±3, 6)
  { name: 'silu', fn: (x) => nn.silu(x), inputs: [X] },
  { name: 'gelu', fn: (x) => nn.gelu(x), inputs: [X] },
  { name: 'gelu tanh', fn: (x) => nn.gelu(x, { approximate: 'tanh' }), inputs: [X] },
  { name: 'elu', fn: (x) => nn.elu(x, { alpha: 0.7 }), inputs: [X] },
  { name: 'selu', fn: (x) => nn.selu(x), inputs: [X] },
  { name: 'celu', fn: (x) => nn.celu(x, { alpha: 1.5 }), inputs: [X] },
  { name: 'mish', fn: (x) => nn.mish(x), inputs: [X] },
  { name: 'hardtanh', fn: (x) => nn.hardtanh(x, { min: -2, max: 1.5 }).mul(x), inputs: [X] },
  { name: 'relu6', fn: (x) => nn.relu6(x.mul(3)).mul(x), inputs: [X] },
  { name: 'hardSigmoid', fn: (x) => nn.hardSigmoid(x.mul(2)).mul(x), inputs: [X] },
  { name: 'hardSwish', fn: (x) => nn.hardSwish(x.mul(2)), inputs: [X] },
  { name: 'logSigmoid', fn: (x) => nn.logSigmoid(x), inputs: [X] },
  { name: 'softsign', fn: (x) => nn.softsign(x), inputs: [X] },
  // learnable activations: builders, with their params set off their initial values
  {
    name: 'prelu',
    fn: (x) => {
      const y = nn.prelu(x, { perChannel: true });
      set(x, 'prelu/alpha', f64([0.1, -0.3, 0.6]));
      return y;
    },
    inputs: [X],
    params: ['prelu/alpha'],
  },
  {
    name: 'splash',
    fn: (x) => {
      const y = nn.splash(x, { hinges: 5, range: 2 });
      set(x, 'splash/aPos', f64([0.9, -0.4, 0.7]));
      set(x, 'splash/aNeg', f64([-0.6, 0.3, 1.1]));
      return y;
    },
    inputs: [X],
    params: ['splash/aPos', 'splash/aNeg'],
  },
  {
    name: 'twoSlope',
    fn: (x) => {
      const y = nn.twoSlope(x, { share: 'channel' });
      set(x, 'twoSlope/k1', f64([1.3, -0.4, 0.8]));
      set(x, 'twoSlope/k2', f64([0.2, 0.9, -1.1]));
      return y;
    },
    inputs: [X],
    params: ['twoSlope/k1', 'twoSlope/k2'],
  },
  {
    name: 'splash per channel',
    fn: (x) => {
      const y = nn.splash(x, { hinges: [0, 1, 2], share: 'channel', init: 'linear' });
      set(x, 'splash/aPos', randn([3, 3], 11));
      set(x, 'splash/aNeg', randn([3, 3], 12));
      return y;
    },
    inputs: [X],
    params: ['splash/aPos', 'splash/aNeg'],
  },
  {
    name: 'apl',
    fn: (x) => {
      const y = nn.apl(x, { hinges: 2 });
      set(x, 'apl/a', randn([3, 2], 13));
      set(x, 'apl/b', f64([[0.5, -1.5], [0.2, -0.8], [1.9, 0.9]]));
      return y;
    },
    inputs: [X],
    params: ['apl/a', 'apl/b'],
  },
  // losses, with respect to the prediction and (where it is differentiable) the target
  { name: 'mse', fn: (p, t) => nn.mse(p, t), inputs: [randn([5], 1), randn([5], 2)] },
  { name: 'mae', fn: (p, t) => nn.mae(p, t, { reduction: 'sum' }), inputs: [randn([5], 3), randn([5], 4)] },
  { name: 'huber', fn: (p, t) => nn.huber(p, t, { delta: 0.8 }), inputs: [f64([0.1, 2, -1.5, 0.5, -0.2]), f64([0.3, 0.1, 0, -0.1, 0.4])] },
  { name: 'tukey', fn: (p, t) => nn.tukey(p, t, { c: 2, scale: 0.7 }), inputs: [f64([0.1, 2.5, -1.5, 0.5, -0.2]), f64([0.3, 0.1, 0, -0.1, 0.4])] },
  {
    name: 'tukey with a symbolic scale',
    fn: (p, t, s) => nn.tukey(p, t, { scale: s, c: 1.5 }),
    inputs: [f64([0.1, 2.5, -0.5]), f64([0.3, 0.1, 0]), Tensor.from(0.9, 'float64')],
  },
  { name: 'binaryCrossEntropy', fn: (p, y) => nn.binaryCrossEntropy(p, y), inputs: [probs([6], 5), probs([6], 6)] },
  { name: 'bceWithLogits', fn: (z, y) => nn.bceWithLogits(z, y), inputs: [randn([6], 7, 2), probs([6], 8)] },
  { name: 'bceWithLogits posWeight', fn: (z, y, w) => nn.bceWithLogits(z, y, { posWeight: w, reduction: 'sum' }), inputs: [randn([4], 9, 2), probs([4], 10), Tensor.from(2.5, 'float64')] },
  {
    name: 'softmaxCrossEntropy',
    fn: (z) => nn.softmaxCrossEntropy(z, z.graph.constant(Tensor.from([2, 0, 1, 2], 'int32')), { labelSmoothing: 0.1 }),
    inputs: [randn([4, 3], 14, 2)],
  },
  { name: 'softmaxCrossEntropy soft labels', fn: (z, t) => nn.softmaxCrossEntropy(z, nn.softmax(t)), inputs: [randn([4, 3], 15, 2), randn([4, 3], 16)] },
  {
    name: 'softmaxCrossEntropy weight ignoreIndex labelSmoothing, in the logits and the weight',
    fn: (z, w) => nn.softmaxCrossEntropy(z, z.graph.constant(Tensor.from([2, -100, 1, 0], 'int32')), { weight: w, ignoreIndex: -100, labelSmoothing: 0.2 }),
    inputs: [randn([4, 3], 27, 2), f64([0.5, 2, 1.5])],
  },
  { name: 'softmaxCrossEntropy soft labels weighted', fn: (z, t) => nn.softmaxCrossEntropy(z, nn.softmax(t), { weight: [0.5, 2, 1.5], labelSmoothing: 0.1 }), inputs: [randn([4, 3], 28, 2), randn([4, 3], 29)] },
  { name: 'nll', fn: (lp, w) => nn.nll(nn.logSoftmax(lp), lp.graph.constant(Tensor.from([2, 1, 1, 0], 'int32')), { weight: w, ignoreIndex: 1 }), inputs: [randn([4, 3], 30, 2), f64([0.5, 2, 1.5])] },
  { name: 'klDiv', fn: (x, t) => nn.klDiv(nn.logSoftmax(x), nn.softmax(t), { reduction: 'batchmean' }), inputs: [randn([3, 4], 31), randn([3, 4], 32)] },
  { name: 'klDiv logTarget', fn: (x, t) => nn.klDiv(x, t, { logTarget: true, reduction: 'sum' }), inputs: [randn([3, 4], 33), randn([3, 4], 34)] },
  { name: 'poissonNll', fn: (x, t) => nn.poissonNll(x, t, { full: true }), inputs: [randn([6], 35), f64([0.5, 1.5, 2, 4, 7, 3])] },
  { name: 'poissonNll logInput false', fn: (x, t) => nn.poissonNll(x, t, { logInput: false, reduction: 'sum' }), inputs: [probs([6], 36), f64([0.5, 1.5, 2, 4, 7, 3])] },
  { name: 'gaussianNll', fn: (x, t, v) => nn.gaussianNll(x, t, v, { full: true }), inputs: [randn([3, 2], 37), randn([3, 2], 38), probs([3, 2], 39)] },
  { name: 'gaussianNll variance per row', fn: (x, t, v) => nn.gaussianNll(x, t, v, { reduction: 'sum' }), inputs: [randn([3, 2], 40), randn([3, 2], 41), probs([3], 42)] },
  { name: 'hingeEmbedding', fn: (x) => nn.hingeEmbedding(x.square(), x.graph.constant(f64([1, -1, -1, 1, -1])), { margin: 2 }), inputs: [f64([0.3, 0.9, 1.7, -1.2, 0.4])] },
  { name: 'marginRanking', fn: (a, b) => nn.marginRanking(a.square(), b, b.graph.constant(f64([1, -1, 1, -1])), { margin: 0.5 }), inputs: [f64([0.3, 0.9, 1.7, -1.2]), f64([1.1, -0.4, 0.2, 0.3])] },
  { name: 'tripletMargin', fn: (a, p, n) => nn.tripletMargin(a, p, n, { margin: 2 }), inputs: [randn([3, 4], 43), randn([3, 4], 44), randn([3, 4], 45)] },
  { name: 'tripletMargin p = 3 swap', fn: (a, p, n) => nn.tripletMargin(a, p, n, { p: 3, swap: true, margin: 3 }), inputs: [randn([3, 4], 46), randn([3, 4], 47), randn([3, 4], 48)] },
  { name: 'cosineEmbedding', fn: (a, b) => nn.cosineEmbedding(a, b, a.graph.constant(f64([1, -1, -1])), { margin: -0.5 }), inputs: [randn([3, 4], 49), randn([3, 4], 50)] },
  // layers and normalization, with respect to x and their params
  { name: 'dense', fn: (x) => nn.dense(x, 2).tanh(), inputs: [X], params: ['dense/kernel', 'dense/bias'] },
  {
    name: 'dropout',
    fn: (x) => nn.dropout(x, 0.5, { training: true }).mul(x),
    inputs: [X],
  },
  {
    name: 'batchNorm',
    fn: (x) => {
      const y = nn.batchNorm(x, { training: true });
      set(x, 'batchNorm/gamma', f64([1.5, -0.5]));
      set(x, 'batchNorm/beta', f64([0.2, 0.1]));
      return y.tanh();
    },
    inputs: [randn([5, 2], 17)],
    params: ['batchNorm/gamma', 'batchNorm/beta'],
  },
  {
    name: 'batchNorm in evaluation mode',
    fn: (x) => {
      const y = nn.batchNorm(x);
      x.graph.setValue('batchNorm/runningMean', f64([0.3, -0.2]));
      x.graph.setValue('batchNorm/runningVar', f64([1.7, 0.4]));
      return y.tanh();
    },
    inputs: [randn([3, 2], 18)],
    params: ['batchNorm/gamma', 'batchNorm/beta'],
  },
  {
    name: 'layerNorm',
    fn: (x) => {
      const y = nn.layerNorm(x);
      set(x, 'layerNorm/gamma', f64([1.5, -0.5, 0.8]));
      return y.tanh();
    },
    inputs: [X],
    params: ['layerNorm/gamma', 'layerNorm/beta'],
  },
  // convolutional layers (channels-last), with respect to x and the kernel and bias
  {
    name: 'conv',
    fn: (x) => {
      const y = nn.conv(x, 3, { kernel: 2, stride: 2, padding: 'same' });
      set(x, 'conv/bias', f64([0.1, -0.2, 0.3]));
      return y.tanh();
    },
    inputs: [randn([2, 5, 2], 51)],
    params: ['conv/kernel', 'conv/bias'],
  },
  { name: 'maxPool', fn: (x) => nn.maxPool(x.square(), { size: 2, padding: 'same' }), inputs: [Tensor.from([[[0.3], [-1.2], [0.7], [2.1], [-0.5]]], 'float64')] },
  { name: 'avgPool', fn: (x) => nn.avgPool(x.square(), { size: [2, 2], stride: 1, padding: [[1, 0], [0, 1]], countIncludePad: false }), inputs: [randn([1, 3, 3, 2], 52)] },
  { name: 'globalAvgPool', fn: (x) => nn.globalAvgPool(x.square()), inputs: [randn([2, 3, 2, 2], 53)] },
  { name: 'flatten', fn: (x) => nn.flatten(x).sin(), inputs: [randn([2, 2, 3], 54)] },
  // penalties
  { name: 'l1Penalty', fn: (w) => nn.l1Penalty([w], { weight: 0.3 }), inputs: [X] },
  { name: 'l2Penalty', fn: (w, v) => nn.l2Penalty([w, v], { weight: 0.3, exclude: [v] }).add(v.sum()), inputs: [X, randn([2], 19)] },
  // the pure forms
  { name: 'functional.dense', fn: (x, w, b) => nn.functional.dense(x, w, b), inputs: [X, randn([3, 2], 20), randn([2], 21)] },
  { name: 'functional.conv', fn: (x, w, b) => nn.functional.conv(x, w, b, { dilation: 2, padding: 1 }).sin(), inputs: [randn([1, 5, 2], 55), randn([2, 2, 3], 56), randn([3], 57)] },
  { name: 'functional.prelu', fn: (x, a) => nn.functional.prelu(x, a), inputs: [X, Tensor.from(0.3, 'float64')] },
  { name: 'functional.twoSlope', fn: (x, k1, k2) => nn.functional.twoSlope(x, k1, k2), inputs: [X, Tensor.from(1.2, 'float64'), f64([0.3, -0.5, 1.4])] },
  { name: 'functional.splash', fn: (x, p, n) => nn.functional.splash(x, p, n, { hinges: 3, range: 1.5 }), inputs: [X, randn([2], 22), randn([2], 23)] },
  { name: 'functional.apl', fn: (x, a, b) => nn.functional.apl(x, a, b), inputs: [X, randn([3, 2], 24), f64([[0.5, -1.5], [0.2, -0.8], [1.9, 0.9]])] },
  { name: 'functional.layerNorm', fn: (x, gm, bt) => nn.functional.layerNorm(x, gm, bt).sin(), inputs: [X, randn([3], 25), randn([3], 26)] },
];

// exports that are not differentiable maps (helpers, switches, composition)
const notMaps = new Set(['trainingInput', 'stateUpdates', 'paramRole', 'splashHinges', 'sequential', 'TRAINING', 'functional', 'convexity', 'learnedActivations', 'activationConvexity', 'chanceConvexity']);

describe('nn gradients, order 2 in float64', () => {
  it('has a row for every differentiable export', () => {
    const names = new Set(rows.map((r) => r.name));
    for (const k of Object.keys(nn)) if (!notMaps.has(k)) expect(names, `no gradcheck row for nn.${k}`).toContain(k);
    for (const k of Object.keys(nn.functional)) expect(names, `no gradcheck row for nn.functional.${k}`).toContain(`functional.${k}`);
  });
});

// every row on both backends: gradcheck compiles the function and its gradients on each
describe.each(BACKENDS)('nn gradients, order 2 in float64 (%s backend)', (backend) => {
  for (const row of rows) {
    it(row.name, () => {
      const report = assertGradcheck(row.fn, row.inputs, { order: 2, compile: { backend } });
      const checked = report.inputs.map((i) => i.name);
      for (const p of row.params ?? []) expect(checked, formatReport(report)).toContain(p);
      for (const inp of report.inputs) expect(inp.byOrder.map((o) => o.order)).toEqual([1, 2]);
    });
  }

});

describe('nn gradcheck has teeth', () => {
  it('catches a lost mixed derivative (the check has teeth)', () => {
    // h(x, a) = f(x, sg(a)) + f(sg(x), a) − f(sg(x), sg(a)) has f's value and first derivatives,
    // but ∂²h/∂x∂a = 0 instead of f's [x > bₖ]
    const f = (x: Sym, a: Sym) => nn.functional.splash(x, a, a.mul(-0.5), { hinges: 3 });
    const h = (x: Sym, a: Sym) => f(x, a.stopGradient()).add(f(x.stopGradient(), a)).sub(f(x.stopGradient(), a.stopGradient()));
    const inputs = [X, f64([0.5, 0.2])];
    expect(gradcheck(f, inputs, { order: 2 }).ok).toBe(true);
    expect(gradcheck(h, inputs, { order: 1 }).ok).toBe(true);
    const bad = gradcheck(h, inputs, { order: 2 });
    expect(bad.ok).toBe(false);
    expect(bad.inputs.map((i) => i.byOrder.map((o) => o.ok))).toEqual([[true, false], [true, false]]);
  });

  it('accepts the conventions at the kinks', () => {
    // relu and leakyRelu exactly at 0, SPLASH exactly at its hinges, APL at a hinge b
    const at = f64([0, 1, -1]);
    const r = gradcheck((x) => nn.relu(x).add(nn.leakyRelu(x, 0.1)), [at]);
    expect(r.ok).toBe(true);
    expect(r.kinks.map((k) => k.element)).toEqual([0]);
    const s = gradcheck((x, p, n) => nn.functional.splash(x, p, n, { hinges: [0, 1] }), [at, f64([1, 0.5]), f64([-1, 0.5])]);
    expect(s.ok).toBe(true);
    expect(s.kinks.length).toBeGreaterThan(0);
  });
});
