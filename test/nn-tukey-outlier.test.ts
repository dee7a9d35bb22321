/**
 * The tutorial's outlier example: regress weight on height, with one impossible height (58 cm)
 * planted among 30 plausible people. The MSE fit is dragged by the outlier; Tukey's biweight,
 * used the standard robust way — scale = 1.4826·MAD of the residuals of an L1 fit, starting from
 * that fit — ignores it. Slopes are compared with the least-squares slope of the clean data.
 */
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn, optim } from '@gradgraph/ops';

const N = 30;

function dataset() {
  const hz = Tensor.randn([N], 'float64', 1);
  const noise = Tensor.randn([N], 'float64', 2);
  const heights = Array.from(hz.data, (z) => 172 + 9 * z); // cm
  const weights = heights.map((h, i) => 0.9 * h - 85 + 4 * noise.data[i]); // kg
  return { heights, weights };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The exact L1-regression slope: an optimal line passes through two data points (an LP vertex). */
function l1Slope(x: number[], y: number[]): number {
  let best = { objective: Infinity, slope: NaN };
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const slope = (y[j] - y[i]) / (x[j] - x[i]);
      const objective = x.reduce((acc, xk, k) => acc + Math.abs(y[k] - y[i] - slope * (xk - x[i])), 0);
      if (objective < best.objective) best = { objective, slope };
    }
  }
  return best.slope;
}

/** Closed-form least-squares slope. */
function lsSlope(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  return x.reduce((s, xi, i) => s + (xi - mx) * (y[i] - my), 0) / x.reduce((s, xi) => s + (xi - mx) ** 2, 0);
}

describe("the tutorial's outlier example: MSE vs Tukey", () => {
  it('a 58 cm height drags the MSE slope at least 3× further from the clean slope than Tukey’s', () => {
    const clean = dataset();
    const cleanSlope = lsSlope(clean.heights, clean.weights);
    // plant one impossible height with an ordinary weight
    const heights = [...clean.heights, 58];
    const weights = [...clean.weights, 68];

    // standardize with the statistics of the data at hand (outlier included), as a user would
    const [mh, sh, mw, sw] = [mean(heights), sd(heights), mean(weights), sd(weights)];
    const feed = { z: Tensor.from(heights.map((h) => (h - mh) / sh), 'float64'), t: Tensor.from(weights.map((w) => (w - mw) / sw), 'float64') };
    const toKgPerCm = (a: number) => (a * sw) / sh;

    const g = new Graph({ seed: 0 });
    const z = g.input('z', [null], 'float64');
    const t = g.input('t', [null], 'float64');
    const a = g.param('slope', Tensor.from(0, 'float64'));
    const b = g.param('intercept', Tensor.from(0, 'float64'));
    const pred = z.mul(a).add(b);
    const params = [a, b];
    const train = (loss: Sym, opt: optim.Optimizer, steps: number): number => {
      const step = compile(g, { outputs: [loss], updates: opt.updates(params, grad(loss, params)) });
      let l = NaN;
      for (let i = 0; i < steps; i++) l = step.run(feed)[0].item();
      return l;
    };
    const reset = () => params.forEach((p) => g.setValue(p, Tensor.from(0, 'float64')));

    // 1. MSE: convex and well conditioned on standardized data; plain gradient descent converges
    train(nn.mse(pred, t), optim.sgd({ lr: 0.25 }), 100);
    const mseSlope = toKgPerCm(g.getValue(a).item());
    expect(mseSlope).toBeCloseTo(lsSlope(heights, weights), 8); // it is the least-squares fit

    // 2. L1 fit, from zero, with a decaying step (the objective is not smooth)
    reset();
    train(nn.mae(pred, t), optim.adam({ lr: optim.schedules.exponential({ lr: 0.1, gamma: 0.985 }) }), 400);
    const l1FitSlope = toKgPerCm(g.getValue(a).item());
    // it is the L1 fit (which a high-leverage point can still pull: L1 is robust in y, not in x)
    expect(Math.abs(l1FitSlope - l1Slope(heights, weights))).toBeLessThan(1e-3);

    // 3. Tukey, starting from the L1 fit, with scale = 1.4826·MAD of its residuals
    const [residuals] = compile(g, { outputs: [pred.sub(t)] }).run(feed);
    const r = Array.from(residuals.data);
    const scale = 1.4826 * median(r.map((v) => Math.abs(v - median(r))));
    // ρ''(u) ≤ 1 and E[z²] = 1, so the loss's curvature is ≤ 1/scale²: a step of ½·scale² is stable
    const s = g.input('scale', [], 'float64');
    const tukeyStep = compile(g, { outputs: [nn.tukey(pred, t, { scale: s })], updates: optim.sgd({ lr: 0.5 * scale * scale }).updates(params, grad(nn.tukey(pred, t, { scale: s }), params)) });
    for (let i = 0; i < 300; i++) tukeyStep.run({ ...feed, scale: Tensor.from(scale, 'float64') });
    const tukeySlope = toKgPerCm(g.getValue(a).item());

    // the outlier's residual under the Tukey fit is far beyond c·scale: it exerts no pull at all
    const [res2] = compile(g, { outputs: [pred.sub(t)] }).run(feed);
    const outlierResidual = Math.abs(res2.data[N]) / scale;

    const mseError = Math.abs(mseSlope - cleanSlope);
    const tukeyError = Math.abs(tukeySlope - cleanSlope);
    console.log(
      [
        `clean least-squares slope ${cleanSlope.toFixed(4)} kg/cm (true 0.9)`,
        `MSE slope ${mseSlope.toFixed(4)} (error ${mseError.toFixed(4)})`,
        `L1 slope ${l1FitSlope.toFixed(4)} (error ${Math.abs(l1FitSlope - cleanSlope).toFixed(4)}), scale = 1.4826·MAD = ${(scale * sw).toFixed(3)} kg`,
        `Tukey slope ${tukeySlope.toFixed(4)} (error ${tukeyError.toFixed(4)}); outlier at ${outlierResidual.toFixed(1)} scales (c = 4.685)`,
        `ratio of errors MSE/Tukey = ${(mseError / tukeyError).toFixed(1)}`,
      ].join('\n'),
    );
    expect(mseError).toBeGreaterThanOrEqual(3 * tukeyError);
    expect(tukeyError / cleanSlope).toBeLessThan(0.05);
    expect(outlierResidual).toBeGreaterThan(4.685);
  });
});
