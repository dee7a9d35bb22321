/**
 * Second-order derivatives: gradients are graph, so they can be differentiated again.
 *
 * 1. Newton's method for L2-regularized logistic regression on two iris species, with the
 *    Hessian built symbolically (`hessian`) — quadratic convergence in a handful of steps.
 * 2. A Hessian-vector product (`hvp`, reverse over reverse, never forming H) checked against the
 *    full Hessian and against finite differences of the gradient.
 * 3. grad-of-grad through a custom op: the loss uses a `customGrad` softplus whose VJP is
 *    σ(x)·dy; Newton's Hessian differentiates that VJP.
 *
 * Run: pnpm exec tsx examples/second-order.ts
 */
import { fileURLToPath } from 'node:url';
import { compile, customGrad, grad, Graph, hessian, hvp, sigmoid, softplus, Tensor, type Sym } from '@gradgraph/core';
import { data } from '@gradgraph/ops';

/** softplus with a hand-written VJP: d log(1+eˣ) = σ(x)·dy. */
export const softplusCustom = customGrad(
  (x: Sym) => softplus(x),
  (x: Sym, _y: Sym, dy: Sym) => [dy.mul(sigmoid(x))],
  { name: 'softplusCustom' },
);

/** Solves H·d = g for a symmetric positive-definite H by Cholesky (H is small). */
function solveSpd(h: Float64Array, gv: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = h[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(s) : s / l[j * n + j];
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = gv[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * z[k];
    z[i] = s / l[i * n + i];
  }
  const d = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * d[k];
    d[i] = s / l[i * n + i];
  }
  return d;
}

export interface Results {
  gradNorms: number[];
  hvpVsHessian: number;
  hvpVsFiniteDifference: number;
  accuracy: number;
}

export function main(opts: { quiet?: boolean } = {}): Results {
  const log = opts.quiet ? () => {} : console.log;
  // versicolor vs virginica: not linearly separable, so the optimum is finite
  const iris = data.loadIris({ dtype: 'float64' });
  const rows = Array.from(iris.labels.keys()).filter((i) => iris.labels[i] !== 0);
  const two = iris.take(rows);
  const { train: set } = data.standardize({ train: two });
  const n = set.size;
  const features = Tensor.from(Array.from({ length: n }, (_, i) => [...set.x.data.slice(i * 4, i * 4 + 4), 1]), 'float64'); // bias column
  const signs = Tensor.from(Array.from({ length: n }, (_, i) => (set.labels[i] === 2 ? 1 : -1)), 'float64');

  const g = new Graph({ seed: 1 });
  const x = g.input('x', [null, 5], 'float64');
  const y = g.input('y', [null], 'float64'); // ±1
  const w = g.param('w', Tensor.zeros([5], 'float64'));
  const lambda = 0.1;
  // L(w) = mean(log(1 + e^(−y·xᵀw))) + λ/2·‖w‖²
  const margin = x.matmul(w).mul(y);
  const loss = softplusCustom(margin.neg()).mean().add(w.mul(w).sum().mul(lambda / 2));
  const [gw] = grad(loss, [w]);
  const H = hessian(loss, w); // [5, 5], through the custom VJP
  const v = g.input('v', [5], 'float64');
  const [hv] = hvp(loss, [w], [v]);
  const newton = compile(g, { inputs: [x, y], outputs: [loss, gw, H] });
  const feeds = { x: features, y: signs };

  const gradNorms: number[] = [];
  for (let it = 0; it < 8; it++) {
    const [l, gt, ht] = newton.run(feeds);
    const norm = Math.hypot(...gt.data);
    gradNorms.push(norm);
    log(`newton step ${it}: loss ${l.item().toFixed(12)}  |grad| ${norm.toExponential(3)}`);
    if (norm < 1e-13) break;
    const d = solveSpd(ht.data as Float64Array, gt.data as Float64Array, 5);
    const wv = g.getValue(w);
    for (let i = 0; i < 5; i++) wv.data[i] -= d[i];
    g.setValue(w, wv);
  }

  // H·v three ways: hvp, the full Hessian, and finite differences of the gradient
  const vt = Tensor.from([1, -2, 0.5, 3, -1], 'float64');
  const [hvt, ht] = compile(g, { outputs: [hv, H] }).run({ ...feeds, v: vt });
  const hvFull = Array.from({ length: 5 }, (_, i) => Array.from(vt.data).reduce((s, vj, j) => s + ht.data[i * 5 + j] * vj, 0));
  const gradAt = compile(g, { outputs: [gw] });
  const w0 = g.getValue(w);
  const eps = 1e-5;
  const shifted = (s: number) => {
    g.setValue(w, new Tensor('float64', [5], w0.data.map((wi, i) => wi + s * eps * vt.data[i])));
    return gradAt.run(feeds)[0].data;
  };
  const gp = shifted(1);
  const gm = shifted(-1);
  g.setValue(w, w0);
  const fd = Array.from(gp, (p, i) => (p - gm[i]) / (2 * eps));
  const hvpVsHessian = Math.max(...hvFull.map((h, i) => Math.abs(h - hvt.data[i])));
  const hvpVsFiniteDifference = Math.max(...fd.map((f, i) => Math.abs(f - hvt.data[i])));
  log(`H·v: hvp vs full Hessian ${hvpVsHessian.toExponential(2)}, vs finite differences ${hvpVsFiniteDifference.toExponential(2)}`);

  const [m] = compile(g, { outputs: [margin] }).run(feeds);
  const accuracy = Array.from(m.data).filter((v2) => v2 > 0).length / n;
  log(`train accuracy ${(100 * accuracy).toFixed(1)}%`);
  return { gradNorms, hvpVsHessian, hvpVsFiniteDifference, accuracy };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
