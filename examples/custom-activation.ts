/**
 * A researcher's own learnable function: a rational (Padé-style) activation
 *
 *     R(x) = P(x) / Q(x),   P(x) = a₀ + a₁x + a₂x² + a₃x³,   Q(x) = 1 + |b₁x + b₂x²|
 *
 * with learnable a and b (the "safe" form: Q ≥ 1, so R has no poles; Molina et al. 2019).
 * It is defined twice — by composition of primitives, and as a primitive with `defineOp` and a
 * hand-written VJP — then both are gradient-checked to order 2, checked to agree, property-tested
 * with fast-check, trained on a small regression, and drawn.
 *
 * Run: pnpm exec tsx examples/custom-activation.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abs, add, compile, concat, defineOp, div, grad, gradcheck, Graph, mul, sign, sub, sum, Tensor, type Sym } from '@gradgraph/core';
import { arbTensor, fc } from '@gradgraph/core/testing';
import { nn, optim, train, data } from '@gradgraph/ops';
import { renderSvg, toDot } from '@gradgraph/viz';

// ---- 1. By composition: autodiff derives every derivative ---------------------------------

/** P(x) by Horner's rule with coefficients a = [a₀, a₁, a₂, a₃] (a Sym of shape [4]). */
function numerator(x: Sym, a: Sym): Sym {
  const ai = (i: number) => a.slice([i], [1]).reshape([]);
  return add(ai(0), mul(x, add(ai(1), mul(x, add(ai(2), mul(x, ai(3)))))));
}

/** The rational activation from primitives. */
export function rationalComposed(x: Sym, a: Sym, b: Sym): Sym {
  const bi = (i: number) => b.slice([i], [1]).reshape([]);
  const q = add(1, abs(add(mul(bi(0), x), mul(bi(1), mul(x, x)))));
  return div(numerator(x, a), q);
}

// ---- 2. As a primitive: a kernel and a hand-written VJP -----------------------------------

/** The same function as a primitive: one fused kernel, and a VJP written from the calculus. */
export const rationalOp = defineOp({
  name: 'rational',
  arity: 3,
  kind: 'other',
  doc: 'P(x)/(1 + |b₁x + b₂x²|), P cubic: a learnable rational activation',
  kinks: 'where b₁x + b₂x² = 0 the gradient uses sign(0) = 0 (the midpoint of the one-sided slopes)',
  infer: ([x, a, b]) => {
    if (a.shape.length !== 1 || a.shape[0] !== 4 || b.shape.length !== 1 || b.shape[0] !== 2) {
      throw new Error(`a must be [4] and b [2], got a ${JSON.stringify(a.shape)}, b ${JSON.stringify(b.shape)}`);
    }
    return x;
  },
  kernel: ([x, a, b], _attrs, ctx) => {
    const out = new Tensor(ctx.out.dtype, ctx.out.shape);
    const [a0, a1, a2, a3] = a.data;
    const [b1, b2] = b.data;
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i];
      out.data[i] = (a0 + v * (a1 + v * (a2 + v * a3))) / (1 + Math.abs(b1 * v + b2 * v * v));
    }
    return out;
  },
  // With s = b₁x + b₂x², Q = 1 + |s|, R = P/Q:
  //   ∂R/∂x  = (P′(x)·Q − P·sign(s)·(b₁ + 2b₂x)) / Q²
  //   ∂R/∂aᵢ = xⁱ / Q                     (summed over every element of x)
  //   ∂R/∂bⱼ = −P·sign(s)·xʲ⁺¹ / Q²       (summed likewise)
  // Built from primitives, so grad of this VJP — second order — is derived automatically.
  vjp: ({ inputs: [x, a, b], dy }) => {
    const ai = (i: number) => a.slice([i], [1]).reshape([]);
    const bi = (i: number) => b.slice([i], [1]).reshape([]);
    const x2 = mul(x, x);
    const s = add(mul(bi(0), x), mul(bi(1), x2));
    const q = add(1, abs(s));
    const p = numerator(x, a);
    const dp = add(ai(1), mul(x, add(mul(ai(2), 2), mul(x, mul(ai(3), 3)))));
    const sg = sign(s);
    const q2 = mul(q, q);
    const dx = mul(dy, div(sub(mul(dp, q), mul(p, mul(sg, add(bi(0), mul(bi(1), mul(x, 2)))))), q2));
    const dyq = div(dy, q);
    const da = concat([sum(dyq), sum(mul(dyq, x)), sum(mul(dyq, x2)), sum(mul(dyq, mul(x2, x)))].map((t) => t.reshape([1])));
    const common = mul(dy, div(mul(p, sg), q2));
    const db = concat([sum(mul(common, x)).neg(), sum(mul(common, x2)).neg()].map((t) => t.reshape([1])));
    return [dx, da, db];
  },
});

/** The rational activation as a builder: makes its a, b params in the current scope. */
export function rational(x: Sym, opts: { viaOp?: boolean; name?: string } = {}): Sym {
  const g = x.graph;
  return g.scope(g.uniqueScope(opts.name ?? 'rational'), () => {
    // start close to a smooth ReLU-like shape: P = 0.1 + 0.5x + 0.4x², Q = 1 + |0.4x|
    const a = g.param('a', Tensor.from([0.1, 0.5, 0.4, 0], x.dtype));
    const b = g.param('b', Tensor.from([0.4, 0], x.dtype));
    return opts.viaOp ? rationalOp(x, a, b) : rationalComposed(x, a, b);
  });
}

// ---- 3. Check, test, train, draw -------------------------------------------------------

export interface Results {
  composedOk: boolean;
  opOk: boolean;
  kinks: number;
  maxDifference: number;
  propertyRuns: number;
  trainLoss: { first: number; last: number };
  coefficientsMoved: boolean;
  svgBytes: number;
}

export async function main(opts: { epochs?: number; outDir?: string; quiet?: boolean } = {}): Promise<Results> {
  const log = opts.quiet ? () => {} : console.log;
  const xs = Tensor.from([[-2.5, -1, -0.3], [0, 0.7, 1.9]], 'float64');
  const a0 = Tensor.from([0.2, -0.5, 0.8, 0.3], 'float64');
  const b0 = Tensor.from([0.6, -0.4], 'float64');

  // gradcheck both forms to order 2, with respect to x and the coefficients
  const composed = gradcheck((x, a, b) => rationalComposed(x, a, b).sin().sum(), [xs, a0, b0], { order: 2 });
  const viaOp = gradcheck((x, a, b) => rationalOp(x, a, b).sin().sum(), [xs, a0, b0], { order: 2 });
  log(`gradcheck order 2: composed ${composed.ok ? 'ok' : 'FAILED'}, defineOp ${viaOp.ok ? 'ok' : 'FAILED'}; kinks at x = 0: ${viaOp.kinks.length}`);

  // the two definitions agree in value and gradient
  const g = new Graph();
  const x = g.input('x', [2, 3], 'float64');
  const a = g.param('a', a0);
  const b = g.param('b', b0);
  const yc = rationalComposed(x, a, b);
  const yo = rationalOp(x, a, b);
  const gc = grad(yc.sum(), [x, a, b]);
  const go = grad(yo.sum(), [x, a, b]);
  const outs = compile(g, { outputs: [yc, yo, ...gc, ...go] }).run({ x: xs });
  let maxDifference = 0;
  for (let i = 0; i < 4; i++) {
    const [p, q] = [outs[i === 0 ? 0 : i + 1], outs[i === 0 ? 1 : i + 4]];
    for (let j = 0; j < p.size; j++) maxDifference = Math.max(maxDifference, Math.abs(p.data[j] - q.data[j]));
  }
  log(`composed vs defineOp: max |difference| over values and gradients ${maxDifference.toExponential(2)}`);

  // a property test in three lines: any x and b away from 0 (where the |·| kink sits), any a
  const propertyRuns = 25;
  fc.assert(fc.property(arbTensor({ shape: [5], awayFrom: [0] }), arbTensor({ shape: [4] }), arbTensor({ shape: [2], awayFrom: [0], margin: 0.1 }), (xv, av, bv) => gradcheck((p, q, r) => rationalOp(p, q, r).sum(), [xv, av, bv], { order: 2 }).ok), { numRuns: propertyRuns, seed: 1 });
  log(`fast-check: ${propertyRuns} random (x, a, b) pass gradcheck to order 2`);

  // train a 1-16-1 net with the rational activation on y = sin(3x)·x
  const tg = new Graph({ seed: 7 });
  const tx = tg.input('x', [null, 1]);
  const ty = tg.input('y', [null, 1]);
  const hidden = rational(nn.dense(tx, 16), { viaOp: true });
  const pred = nn.dense(hidden, 1);
  const loss = nn.mse(pred, ty);
  const step = train.trainingStep({ loss, predictions: pred, optimizer: optim.adam({ lr: 0.02 }) });
  const n = 256;
  const grid = Array.from({ length: n }, (_, i) => -2 + (4 * i) / (n - 1));
  const set = data.dataset({ x: Tensor.from(grid.map((v) => [v])), y: Tensor.from(grid.map((v) => [Math.sin(3 * v) * v])) });
  const before = tg.getValue('rational/a').toArray() as number[];
  const history = train.fit({ step, data: data.batches(set, { batchSize: 32, seed: 1 }), epochs: opts.epochs ?? 60, progress: false });
  const after = tg.getValue('rational/a').toArray() as number[];
  const losses = history.series('loss');
  log(`training: mse ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toFixed(4)}; a = [${after.map((v) => v.toFixed(3)).join(', ')}]`);

  // draw the model's graph
  const svg = await renderSvg(toDot(tg, { title: 'dense → rational → dense', show: 'forward', outputs: [loss] }));
  const outDir = opts.outDir ?? fileURLToPath(new URL('../out/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'custom-activation.svg'), svg);
  log(`graph: ${join(outDir, 'custom-activation.svg')}`);

  return {
    composedOk: composed.ok,
    opOk: viaOp.ok,
    kinks: viaOp.kinks.length,
    maxDifference,
    propertyRuns,
    trainLoss: { first: losses[0], last: losses[losses.length - 1] },
    coefficientsMoved: after.some((v, i) => v !== before[i]),
    svgBytes: svg.length,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
