/**
 * Every rewrite rule proves itself: for each rule, a property (fast-check, float64) builds the
 * rule's left side from generated inputs, rewrites it with that rule alone, and checks that
 *   (a) the rewritten program — which also holds the gradient grad built before compiling —
 *       gives the same values, and
 *   (b) differentiating the rewritten expression gives the same gradient as differentiating the
 *       original (the right side's own gradient agrees).
 * Stability rules also run on extreme inputs where the left side (value or gradient) overflows
 * or loses all accuracy: the right side must be finite (and right, where a reference is given).
 * A final test fails when a rule in the tables has no property here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as api from '../api';
import { customGrad, grad } from '../autodiff';
import { compile, buildProgram } from '../compile';
import type { DType } from '../dtype';
import { Graph, type Sym } from '../graph';
import type { Program } from '../ir';
import { Tensor } from '../tensor';
import { arbTensor } from '../testing/index';
import { verifyProgram } from '../verify';
import { programToGraph } from './lift';
import { rewritePass } from './pass';
import { ruleTables } from './pipeline';
import type { Rule } from './rules';

interface InputSpec {
  /** The concrete shape fed. */
  shape: number[];
  /** The declared shape (null dims are run-time), default `shape`. */
  declared?: (number | null)[];
  min?: number;
  max?: number;
  awayFrom?: number[];
  margin?: number;
  dtype?: DType;
}

interface Extreme {
  /** Values per input (flat, in the input's shape). */
  inputs: number[][];
  /** Expected right-side values (flat), when the point is accuracy rather than overflow. */
  reference?: number[];
}

interface RuleProperty {
  /** The left side from the input symbols; several variants when the rule has alternatives. */
  lhs: ((...xs: Sym[]) => Sym) | ((...xs: Sym[]) => Sym)[];
  inputs: InputSpec[];
  /** Stability rules: where the left side fails and the right side must not. */
  extreme?: Extreme[];
  /** Stability rules without an overflow to show: why. */
  noExtreme?: string;
  /** Other rules the property needs in the same pass (a distribution feeds a cancellation). */
  with?: string[];
  /** Why (b) doesn't apply, when it doesn't. */
  noRegrad?: string;
}

const R = (shape: number[], o: Omit<InputSpec, 'shape'> = {}): InputSpec => ({ shape, ...o });
const pos = (shape: number[], o: Omit<InputSpec, 'shape'> = {}): InputSpec => ({ shape, min: 0.2, max: 3, ...o });
const c64 = (x: Sym, value: number | Tensor): Sym => x.graph.constant(value instanceof Tensor ? value : Tensor.scalar(value, x.dtype));
const sig = (x: Sym) => x.sigmoid();
const slope = (x: Sym) => sig(x).mul(sig(x.neg()));
const σ = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

const properties: Record<string, RuleProperty> = {
  // ---- canonicalize
  'add-zero': { lhs: [(x) => x.add(0), (x) => x.add(c64(x, Tensor.zeros([2, 3], 'float64')))], inputs: [R([3])] },
  'sub-zero': { lhs: (x) => x.sub(0), inputs: [R([3])] },
  'zero-sub': { lhs: (x) => api.sub(0, x), inputs: [R([3])] },
  'mul-one': { lhs: [(x) => x.mul(1), (x) => x.mul(c64(x, Tensor.ones([2, 3], 'float64'))), (x) => api.broadcastTo(c64(x, 1), [3]).mul(x)], inputs: [R([3])] },
  'mul-minus-one': { lhs: (x) => x.mul(-1), inputs: [R([3])] },
  'mul-zero': { lhs: [(x) => x.greater(0).cast('float64').mul(0).add(x), (x) => x.sign().mul(0).add(x)], inputs: [R([3])] },
  'div-one': { lhs: (x) => x.div(1), inputs: [R([3])] },
  'div-minus-one': { lhs: (x) => x.div(-1), inputs: [R([3])] },
  'pow-one': { lhs: (x) => x.pow(1), inputs: [pos([3])] },
  'pow-zero': { lhs: (x) => x.pow(0).add(x), inputs: [pos([3])] },
  'sub-self': { lhs: (x) => { const f = x.greater(0).cast('float64'); return f.sub(f).add(x); }, inputs: [R([3])] },
  'add-self': { lhs: (x) => x.add(x), inputs: [R([3])] },
  'neg-neg': { lhs: (x) => x.neg().neg(), inputs: [R([3])] },
  'add-neg': { lhs: [(x, y) => x.add(y.neg()), (x, y) => y.neg().add(x)], inputs: [R([3]), R([2, 3])] },
  'sub-neg': { lhs: (x, y) => x.sub(y.neg()), inputs: [R([3]), R([3])] },
  'neg-sub': { lhs: (x, y) => x.sub(y).neg(), inputs: [R([3]), R([3])] },
  'mul-neg': { lhs: (x, y) => x.neg().mul(y), inputs: [R([3]), R([3])] },
  'div-neg-num': { lhs: (x, y) => x.neg().div(y), inputs: [R([3]), pos([3])] },
  'div-neg-den': { lhs: (x, y) => x.div(y.neg()), inputs: [R([3]), pos([3])] },
  'sum-neg': { lhs: [(x) => x.neg().sum(1), (x) => x.neg().mean(0, true)], inputs: [R([2, 3])] },
  'shape-neg': { lhs: [(x) => x.neg().expandDims(0), (x) => x.neg().reshape([3, 2]), (x) => x.neg().transpose(), (x) => x.neg().reshape([1, 6]).squeeze([0])], inputs: [R([2, 3])] },
  'abs-neg': { lhs: (x) => x.neg().abs(), inputs: [R([3], { awayFrom: [0] })] },
  'abs-abs': { lhs: (x) => x.abs().abs(), inputs: [R([3], { awayFrom: [0] })] },
  'sub-const': { lhs: (x) => x.sub(2.5), inputs: [R([3])] },
  'collect-add': { lhs: (x) => x.add(1.5).add(2.25), inputs: [R([3])] },
  'collect-mul': { lhs: (x) => x.mul(1.5).mul(-2), inputs: [R([3])] },
  'max-self': { lhs: (x) => x.maximum(x), inputs: [R([3])] },
  'min-self': { lhs: (x) => x.minimum(x), inputs: [R([3])] },
  'where-same': { lhs: (x, y) => api.where(x.greater(0), y, y), inputs: [R([3]), R([3])] },
  'where-true': { lhs: (x, y) => api.where(x.graph.constant(Tensor.from([true, true, true], 'bool')), x, y), inputs: [R([3]), R([2, 3])] },
  'where-false': { lhs: (x, y) => api.where(x.graph.constant(Tensor.from(false, 'bool')), x, y), inputs: [R([3]), R([3])] },
  'where-not': { lhs: (x, y) => api.where(api.logicalNot(x.greater(0)), x, y), inputs: [R([3]), R([3])] },
  'cast-roundtrip': { lhs: (x) => x.cast('float64').cast('float32'), inputs: [R([3], { dtype: 'float32' })] },
  'stop-gradient': { lhs: (x, y) => x.stopGradient().mul(y), inputs: [R([3]), R([3])], noRegrad: 'stopGradient only tells grad what to build; the program being compiled already holds its gradient, which (a) checks' },
  'custom-grad': { lhs: (x) => customGrad((a: Sym) => a.mul(a).mul(0.5), (a: Sym, _y: Sym, dy: Sym) => [dy.mul(a)], { name: 'halfSquare' })(x), inputs: [R([3])] },
  'transpose-transpose': { lhs: [(x) => x.transpose([1, 0, 2]).transpose([2, 0, 1]), (x) => x.transpose([1, 0, 2]).transpose([1, 0, 2])], inputs: [R([2, 3, 4])] },
  'transpose-identity': { lhs: (x) => x.transpose([0, 1]), inputs: [R([2, 3])] },
  'reshape-reshape': { lhs: [(x) => x.reshape([6]).reshape([3, 2]), (x) => x.expandDims(0).reshape([3, 2]), (x) => x.reshape([1, 6]).squeeze([0]).reshape([-1, 3])], inputs: [R([2, 3])] },
  'reshape-identity': { lhs: [(x) => x.reshape([2, 3]), (x) => x.reshape([-1, 3])], inputs: [R([2, 3], { declared: [null, 3] })] },
  'squeeze-expand': { lhs: (x) => x.expandDims(1).squeeze([1]), inputs: [R([2, 3])] },
  'expand-squeeze': { lhs: (x) => x.squeeze([1]).expandDims(1), inputs: [R([2, 1, 3])] },
  'broadcast-identity': { lhs: (x) => x.broadcastTo([2, 3]), inputs: [R([2, 3])] },
  'broadcast-broadcast': { lhs: [(x) => x.broadcastTo([2, 3]).broadcastTo([4, 2, 3]), (x, y) => api.broadcastLike(x, y).broadcastTo([4, 2, 3])], inputs: [R([3]), R([2, 3])] },
  'broadcast-like-static': { lhs: (x, y) => api.broadcastLike(x, y), inputs: [R([3]), R([2, 3])] },
  'sum-like-static': { lhs: [(x, y) => api.sumLike(x, y), (x) => api.sumLike(x, c64(x, 0))], inputs: [R([2, 3]), R([1, 3])] },
  'reshape-like-static': { lhs: (x, y) => api.reshapeLike(x, y).mul(y), inputs: [R([6]), R([2, 3])] },
  'reshape-elementwise': { lhs: [(x, y) => x.mul(y).reshape([-1, 12]).sin(), (x, y) => x.mul(y.sum(2, true)).sin().reshape([-1, 4]).tanh(), (x, y) => api.where(x.greater(0), y, x.sum([1, 2], true)).reshape([-1, 12]).sum(1), (x, y) => y.add(x.sum([0, 1], true)).reshape([6, 4]).mul(2)], inputs: [R([2, 3, 4], { declared: [null, 3, 4] }), R([2, 3, 4])] },
  'reduce-ones': { lhs: [(x) => x.sum(1), (x) => x.mean([1], true), (x) => x.max([1, 3]), (x) => x.min(3, true)], inputs: [R([2, 1, 3, 1], { declared: [null, 1, 3, 1] })] },
  'reduce-trailing': { lhs: [(x) => x.sum([1, 2]), (x) => x.mean([1, 2], true), (x) => x.max([1, 2]), (x) => x.min([1, 2])], inputs: [R([2, 3, 4], { declared: [null, 3, 4] })] },
  'reduce-leading': { lhs: [(x) => x.sum(0), (x) => x.mean([0, 1], true), (x) => x.max([0]), (x) => x.min([0, 1])], inputs: [R([2, 3, 2, 2], { declared: [null, 3, 2, 2] })] },
  'reduce-nothing': { lhs: [(x) => x.sum([]), (x) => x.mean([]), (x) => x.max([]), (x) => x.min([])], inputs: [R([2, 3])] },
  'sum-broadcast': { lhs: [(x) => x.broadcastTo([2, 3]).sum(0), (x) => x.broadcastTo([4, 2, 3]).sum([0, 1], true), (x) => x.reshape([3, 1]).broadcastTo([3, 5]).sum(1)], inputs: [R([3])] },
  'mean-broadcast': { lhs: [(x) => x.broadcastTo([2, 3]).mean(0), (x) => x.reshape([1, 3]).broadcastTo([4, 3]).mean(0, true)], inputs: [R([3])] },
  'shape-ref-unary': { lhs: [(x, y) => api.broadcastLike(x, y.exp()).mul(y), (x, y) => api.sumLike(y, x.neg()).add(x), (x, y) => api.reshapeLike(y.sum(0, true).reshape([-1]), x.tanh()).mul(x)], inputs: [R([1, 3], { declared: [null, 3] }), R([4, 3], { declared: [null, 3] })] },
  'shape-ref-binary': { lhs: (x, y, z) => api.broadcastLike(x, y.mul(z)).add(y), inputs: [R([3]), R([2, 1], { declared: [null, 1] }), R([1, 3], { declared: [1, null] })] },
  'shape-size-unary': { lhs: (x) => x.mul(api.shapeSize(x.exp(), [0], 'float64')), inputs: [R([2, 3], { declared: [null, 3] })] },
  'sum-scalar-broadcast-like': { lhs: (s, y) => api.broadcastLike(s, y).sum().add(y.sum()), inputs: [R([]), R([2, 3], { declared: [null, 3] })] },
  // ---- stabilize: forward
  'log-sigmoid': { lhs: (x) => sig(x).log(), inputs: [R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[-800, 0, 800]] }] },
  'log-one-minus-sigmoid': { lhs: (x) => api.sub(1, sig(x)).log(), inputs: [R([3], { min: -10, max: 10 })], extreme: [{ inputs: [[40, -800, 800]] }] },
  'one-minus-sigmoid': { lhs: (x) => api.sub(1, sig(x)), inputs: [R([3], { min: -10, max: 10 })], extreme: [{ inputs: [[40, 60, 0]], reference: [σ(-40), σ(-60), 0.5] }] },
  'exp-ratio-sigmoid': { lhs: (x) => { const e = x.exp(); return e.div(api.add(1, e)); }, inputs: [R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[800, -800, 0]] }] },
  'reciprocal-sigmoid': { lhs: [(x) => api.div(1, api.add(1, x.neg().exp())), (x) => api.add(1, x.neg().exp()).reciprocal()], inputs: [R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[-800, 800, 0]] }] },
  softplus: { lhs: [(x) => api.add(1, x.exp()).log(), (x) => x.exp().log1p()], inputs: [R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[800, -800, 0]] }] },
  'log-exp': { lhs: (x) => x.exp().log(), inputs: [R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[800, -800, 1]] }] },
  logsumexp: { lhs: [(x) => x.exp().sum(1).log(), (x) => x.exp().sum(0, true).log(), (x) => x.exp().sum().log()], inputs: [R([2, 3], { min: -20, max: 20 })], extreme: [{ inputs: [[1000, 0, -1000, -1000, -1000, -1000]] }] },
  'log-softmax': { lhs: (x) => x.softmax(1).log(), inputs: [R([2, 3], { min: -20, max: 20 })], extreme: [{ inputs: [[1000, -1000, 0, 1, 2, 3]] }] },
  log1p: { lhs: [(x) => api.add(1, x).log(), (x) => x.add(1).log()], inputs: [R([3], { min: -0.5, max: 3 })], extreme: [{ inputs: [[1e-20, 1e-17, 0]], reference: [1e-20, 1e-17, 0] }] },
  log1m: { lhs: (x) => api.sub(1, x).log(), inputs: [R([3], { min: -3, max: 0.5 })], extreme: [{ inputs: [[1e-20, -1e-17, 0]], reference: [-1e-20, 1e-17, 0] }] },
  expm1: { lhs: [(x) => x.exp().sub(1), (x) => x.exp().add(-1)], inputs: [R([3], { min: -5, max: 5 })], extreme: [{ inputs: [[1e-20, -1e-18, 0]], reference: [1e-20, -1e-18, 0] }] },
  'tanh-ratio': { lhs: [(x) => { const e = x.mul(2).exp(); return e.sub(1).div(e.add(1)); }, (x) => { const e = x.exp(); return e.add(-1).div(api.add(1, e)); }], inputs: [R([3], { min: -5, max: 5 })], extreme: [{ inputs: [[800, -800, 0]] }] },
  'softmax-ratio': { lhs: [(x) => { const e = x.exp(); return e.div(e.sum(1, true)); }, (x) => { const e = x.exp(); return e.div(e.sum(0, true).broadcastTo([2, 3])); }], inputs: [R([2, 3], { min: -20, max: 20 })], extreme: [{ inputs: [[800, 0, -800, 1, 2, 3]] }] },
  'log-softmax-lse': { lhs: (x) => x.sub(x.logsumexp(1, true)), inputs: [R([2, 3], { min: -20, max: 20 })], noExtreme: 'both sides are already stable: the rule recognises logSoftmax so the softmax cross-entropy fusion can see it' },
  'softmax-cross-entropy': { lhs: [(x, t) => t.mul(x.logSoftmax(1)).sum(1), (x, t) => x.logSoftmax(0).mul(t).sum(0, true)], inputs: [R([2, 3], { min: -20, max: 20 }), pos([2, 3])], noExtreme: 'logSoftmax is already stable; the fused form computes the loss in one pass (Σt·(lse − x)) with its own gradient' },
  // ---- stabilize: the backward patterns
  'sigmoid-grad-cancel': { lhs: (g, x) => g.div(sig(x)).mul(slope(x)), inputs: [R([3]), R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3], [-800, 800, 0]] }] },
  'sigmoid-grad-cancel-neg': { lhs: (g, x) => g.div(sig(x.neg())).mul(slope(x)), inputs: [R([3]), R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3], [800, -800, 0]] }] },
  'sigmoid-grad-distribute': { lhs: [(a, b, x) => a.div(sig(x)).add(b).mul(slope(x)), (a, b, x) => b.sub(a.div(sig(x.neg()))).mul(slope(x))], inputs: [R([3]), R([3]), R([3], { min: -20, max: 20 })], with: ['sigmoid-grad-cancel', 'sigmoid-grad-cancel-neg'], extreme: [{ inputs: [[1, 2, 3], [1, 1, 1], [-800, 800, 0]] }] },
  'softplus-grad': { lhs: [(g, x) => g.div(api.add(1, x.exp())).mul(x.exp()), (g, x) => g.div(x.exp().add(1)).mul(x.exp())], inputs: [R([3]), R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3], [800, -800, 0]] }] },
  'exp-ratio-grad': { lhs: (h, u, x) => h.mul(u.div(api.add(1, x.exp()))).mul(x.exp()), inputs: [R([3]), R([3]), R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3], [1, 1, 1], [800, -800, 0]] }] },
  'exp-grad-distribute': { lhs: (a, h, x) => { const b = api.add(1, x.exp()); return a.div(b).sub(h.mul(x.sigmoid().div(b))).mul(x.exp()); }, inputs: [R([3]), R([3]), R([3], { min: -20, max: 20 })], with: ['softplus-grad', 'exp-ratio-grad'], extreme: [{ inputs: [[1, 2, 3], [1, 1, 1], [800, 700, 0]] }] },
  'log-exp-grad': { lhs: (g, x) => g.div(x.exp()).mul(x.exp()), inputs: [R([3]), R([3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3], [800, -800, 0]] }] },
  'softmax-log-grad': { lhs: (g, x) => { const y = x.softmax(1); const d = g.div(y); return y.mul(d.sub(d.mul(y).sum(1, true))); }, inputs: [R([2, 3]), R([2, 3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3, 4, 5, 6], [1000, -1000, 0, 0, 1, 2]] }] },
  'softmax-log-grad-neg': { lhs: (g, x) => { const y = x.softmax(1); const d = g.div(y); return y.mul(d.mul(y).sum(1, true).sub(d)); }, inputs: [R([2, 3]), R([2, 3], { min: -20, max: 20 })], extreme: [{ inputs: [[1, 2, 3, 4, 5, 6], [1000, -1000, 0, 0, 1, 2]] }] },
  'logsumexp-grad': {
    lhs: [
      (g, x) => { const e = x.exp(); return g.div(e.sum(1)).expandDims(1).broadcastTo([2, 3]).mul(e); },
      (g, x) => { const e = x.exp(); return g.reshape([2, 1]).div(e.sum(1, true)).broadcastTo([2, 3]).mul(e); },
      (g, x) => { const e = x.exp(); return g.div(e.sum(1)).expandDims(1).neg().broadcastTo([2, 3]).mul(e); },
    ],
    inputs: [R([2]), R([2, 3], { min: -20, max: 20 })],
    extreme: [{ inputs: [[1, 2], [1000, 0, -1000, 800, 800, 0]] }],
  },
  // ---- specialize
  'pow-two': { lhs: (x) => x.pow(2), inputs: [R([3])] },
  'pow-three': { lhs: (x) => x.pow(3), inputs: [R([3])] },
  'pow-half': { lhs: (x) => x.pow(0.5), inputs: [pos([3])] },
  'pow-minus-one': { lhs: (x) => x.pow(-1), inputs: [pos([3])] },
  'pow-minus-half': { lhs: (x) => x.pow(-0.5), inputs: [pos([3])] },
  'pow-minus-two': { lhs: (x) => x.pow(-2), inputs: [pos([3])] },
  'one-over': { lhs: [(x) => api.div(1, x), (x) => api.div(c64(x, Tensor.ones([2, 3], 'float64')), x)], inputs: [pos([3])] },
  'div-sqrt': { lhs: (x, y) => x.div(y.sqrt()), inputs: [R([3]), pos([3])] },
  'div-pow2': { lhs: [(x) => x.div(4), (x) => x.div(-0.5)], inputs: [R([3])] },
  'sqrt-square': { lhs: (x) => x.mul(x).sqrt(), inputs: [R([3], { awayFrom: [0], margin: 0.1 })] },
  // Σ (a·bᵀ)² per batch element, the inner dimension 1: every form the rule accepts, with the
  // batch dim known only at run time, and a rank-2 operand broadcast against a batched one
  'outer-norm': {
    lhs: [
      (a, b) => { const m = api.matmul(a, b, { transposeA: true }); return m.mul(m).sum([1, 2]); },
      (a, b) => api.matmul(a, b, { transposeA: true }).pow(2).sum([2, 1], true),
      (a, b) => { const r = api.matmul(a, b, { transposeA: true }).reshape([-1, 15]); return r.mul(r).sum(1); },
      (a, b) => { const m = api.matmul(a.transpose([0, 2, 1]), b); return m.mul(m).sum([1, 2]); },
      (a, b) => { const m = api.matmul(a.sum(0), b, { transposeA: true }); return m.mul(m).sum([1, 2]); },
    ],
    inputs: [R([4, 1, 3], { declared: [null, 1, 3] }), R([4, 1, 5], { declared: [null, 1, 5] })],
  },
  // Σₙ sₙ·aₙᵀbₙ: unscaled, scaled per example (merged and direct, keepDims), scaled by a scalar,
  // batch dims known (no broadcast needed) and a batch of 1 broadcast against n
  'batch-sum-matmul': {
    lhs: [
      (a, b) => api.matmul(a, b, { transposeA: true }).sum(0),
      (a, b, s) => api.matmul(a, b, { transposeA: true }).reshape([-1, 15]).mul(s.reshape([-1, 1])).sum(0),
      (a, b, s) => api.matmul(a, b, { transposeA: true }).mul(s.reshape([-1, 1, 1])).sum(0, true),
      (a, b, s) => api.matmul(a, b, { transposeA: true }).mul(s.sum()).sum(0),
      (a, b) => api.matmul(a.reshape([4, 2, 3]), b.reshape([4, 2, 5]), { transposeA: true }).sum(0),
      (a, b, s) => s.reshape([-1, 1, 1]).mul(api.matmul(a.sum(0, true), b, { transposeA: true })).sum(0),
      (a) => api.matmul(a, a.mul(2).add(1), { transposeA: true }).sum(0), // one run-time batch dim on both sides (dims.ts proves them equal)
    ],
    inputs: [R([4, 2, 3], { declared: [null, 2, 3] }), R([4, 2, 5], { declared: [null, 2, 5] }), R([4], { declared: [null] })],
  },
};

const allRules: Rule[] = Object.values(ruleTables).flat();
const ruleByName = new Map(allRules.map((r) => [r.name, r]));
const stabilizeNames = new Set(ruleTables.stabilize.map((r) => r.name));

interface Built {
  graph: Graph;
  inputs: Sym[];
  out: Sym;
  /** Values and gradients, compiled as written. */
  program: Program;
}

/** Builds `lhs` over declared inputs, with a weighted-sum loss and its gradient wrt the inputs. */
function build(spec: RuleProperty, lhs: (...xs: Sym[]) => Sym): Built {
  const g = new Graph();
  const inputs = spec.inputs.map((s, i) => g.input(`x${i}`, s.declared ?? s.shape, s.dtype ?? 'float64'));
  const out = lhs(...inputs);
  return { graph: g, inputs, out, program: buildProgram(g, { outputs: [out] }) };
}

/** Σ out·w for a fixed w (so every element's gradient matters), and its gradient wrt xs. */
function lossAndGrads(out: Sym, xs: readonly (Sym | undefined)[]): Sym[] {
  const shape = out.shape.map((d) => d ?? 1);
  const w = Tensor.from(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + ((i * 7) % 5) / 4), out.dtype).reshape(shape);
  const loss = out.shape.every((d) => d !== null) ? out.mul(out.graph.constant(w)).sum() : out.sum();
  const present = xs.filter((x): x is Sym => x !== undefined);
  const gs = grad(loss, present);
  return [loss, ...gs];
}

function feedsFor(spec: RuleProperty, values: readonly Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(values.map((t, i) => [`x${i}`, t]));
}

/** |a − b| ≤ tol·(1 + |a| + |b|) elementwise, NaNs equal to NaNs. */
function expectClose(a: Tensor, b: Tensor, what: string, tol = 1e-9): void {
  expect(b.shape, `${what}: shape`).toEqual(a.shape);
  for (let i = 0; i < a.size; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= tol * (1 + Math.abs(x) + Math.abs(y)))) expect.fail(`${what}: element ${i}: ${x} vs ${y}`);
  }
}

/** Rewrites `program` with `names` only; returns the new program and how often `names[0]` fired. */
function rewriteWith(program: Program, names: string[]): { program: Program; fired: number } {
  const pass = rewritePass('under-test', 'the rule under test', [names.map((n) => ruleByName.get(n)!)]);
  const r = pass.run(program);
  verifyProgram(r.program, `after ${names[0]}`);
  expect(r.notes ?? [], 'no rule failed').toEqual([]);
  const c = (r.rewrites ?? []).find((x) => x.rule === names[0]);
  return { program: r.program, fired: c ? c.forward + c.backward : 0 };
}

/** Checks one rule on one left side at one input point; returns the rewritten right side. */
function checkAt(name: string, spec: RuleProperty, lhs: (...xs: Sym[]) => Sym, values: readonly Tensor[]): void {
  const feeds = feedsFor(spec, values);
  const names = [name, ...(spec.with ?? [])];
  // (a) the rule on a program that also holds the gradients grad built from the left side
  const b = build(spec, lhs);
  const withGrads = lossAndGrads(b.out, b.inputs);
  const full = buildProgram(b.graph, { outputs: [b.out, ...withGrads] });
  const rewritten = rewriteWith(full, names);
  expect(rewritten.fired, `${name} fires`).toBeGreaterThan(0);
  const want = compile(b.graph, { outputs: [b.out, ...withGrads], passes: [] }).run(feeds);
  const got = compile(b.graph, { outputs: [b.out, ...withGrads], passes: [() => rewritten.program] }).run(feeds);
  want.forEach((t, i) => expectClose(t, got[i], `${name} (a) output ${i}`));
  // (b) the right side differentiated on its own
  if (spec.noRegrad) return;
  const rhs = rewriteWith(b.program, names).program;
  const lifted = programToGraph(rhs);
  const xs = spec.inputs.map((_, i) => lifted.graph.byName(`x${i}`));
  const rhsOut = lifted.outputs[0];
  const rg = lossAndGrads(rhsOut, xs);
  const rhsValues = compile(lifted.graph, { outputs: [rhsOut, ...rg], passes: [] }).run(Object.fromEntries(Object.entries(feeds).filter(([k]) => lifted.graph.byName(k))));
  expectClose(want[0], rhsValues[0], `${name} (b) value`);
  expectClose(want[1], rhsValues[1], `${name} (b) loss`);
  let k = 2;
  xs.forEach((x, i) => {
    const lhsGrad = want[2 + i];
    if (x === undefined) expectClose(lhsGrad, Tensor.zeros(lhsGrad.shape, lhsGrad.dtype), `${name} (b) gradient wrt x${i} (dropped input)`);
    else expectClose(lhsGrad, rhsValues[k++], `${name} (b) gradient wrt x${i}`);
  });
}

function allFinite(ts: readonly Tensor[]): boolean {
  return ts.every((t) => t.data.every((v) => Number.isFinite(v)));
}

describe('every rule agrees with its left side in value and gradient (float64)', () => {
  for (const [name, spec] of Object.entries(properties)) {
    const variants = Array.isArray(spec.lhs) ? spec.lhs : [spec.lhs];
    it(name, () => {
      expect(ruleByName.has(name), `rule ${name} exists`).toBe(true);
      const arbs = spec.inputs.map((s) => arbTensor({ shape: s.shape, dtype: s.dtype ?? 'float64', min: s.min ?? -3, max: s.max ?? 3, awayFrom: s.awayFrom, margin: s.margin ?? 0.1 }));
      variants.forEach((lhs, vi) => {
        fc.assert(
          fc.property(fc.tuple(...arbs), (values) => {
            checkAt(name, spec, lhs, values);
          }),
          { numRuns: 12, seed: 1000 + vi, endOnFailure: true },
        );
      });
    });
  }
});

describe('stability rules: the right side is finite where the left side fails', () => {
  for (const [name, spec] of Object.entries(properties)) {
    if (!stabilizeNames.has(name)) continue;
    if (!spec.extreme) continue;
    const variants = Array.isArray(spec.lhs) ? spec.lhs : [spec.lhs];
    it(name, () => {
      for (const ex of spec.extreme!) {
        const values = ex.inputs.map((vals, i) => new Tensor('float64', spec.inputs[i].shape, Float64Array.from(vals)));
        const feeds = feedsFor(spec, values);
        for (const lhs of variants) {
          const b = build(spec, lhs);
          const outs = [b.out, ...lossAndGrads(b.out, b.inputs)];
          const asWritten = compile(b.graph, { outputs: outs, passes: [] }).run(feeds);
          const rewritten = rewriteWith(buildProgram(b.graph, { outputs: [b.out] }), [name, ...(spec.with ?? [])]).program;
          const lifted = programToGraph(rewritten);
          const xs = spec.inputs.map((_, i) => lifted.graph.byName(`x${i}`));
          const rOuts = [lifted.outputs[0], ...lossAndGrads(lifted.outputs[0], xs)];
          const fixed = compile(lifted.graph, { outputs: rOuts, passes: [] }).run(Object.fromEntries(Object.entries(feeds).filter(([k]) => lifted.graph.byName(k))));
          expect(allFinite(fixed), `${name}: the right side is finite in value and gradient`).toBe(true);
          if (ex.reference) {
            const ref = ex.reference;
            const lhsOff = ref.some((r, i) => Math.abs(asWritten[0].data[i] - r) > 1e-6 * Math.abs(r));
            expect(lhsOff, `${name}: the left side is inaccurate at this point`).toBe(true);
            ref.forEach((r, i) => expect(Math.abs(fixed[0].data[i] - r)).toBeLessThanOrEqual(1e-12 * Math.abs(r)));
          } else {
            expect(allFinite(asWritten), `${name}: the left side overflows at this point`).toBe(false);
          }
        }
      }
    });
  }
});

describe('the rule tables', () => {
  it('every rule has a property, and every property a rule', () => {
    const missing = allRules.map((r) => r.name).filter((n) => !(n in properties));
    expect(missing, 'rules without a property').toEqual([]);
    const stale = Object.keys(properties).filter((n) => !ruleByName.has(n));
    expect(stale, 'properties without a rule').toEqual([]);
  });
  it('every stability rule shows an overflow it fixes, or says why it has none', () => {
    const silent = ruleTables.stabilize.filter((r) => !properties[r.name]?.extreme && !properties[r.name]?.noExtreme).map((r) => r.name);
    expect(silent).toEqual([]);
  });
  it('docs/compiler.md lists every rule, with the right count per table', () => {
    const doc = readFileSync(new URL('../../../../docs/compiler.md', import.meta.url), 'utf8');
    const unlisted = allRules.map((r) => r.name).filter((n) => !doc.includes(`| \`${n}\` |`));
    expect(unlisted, 'rules missing from docs/compiler.md').toEqual([]);
    for (const [table, rules] of Object.entries(ruleTables)) expect(doc).toContain(`### ${table} (${rules.length} rules)`);
  });
  it('rule names are unique across the tables', () => {
    const names = allRules.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
  it('counts', () => {
    expect(Object.fromEntries(Object.entries(ruleTables).map(([k, t]) => [k, t.length]))).toMatchInlineSnapshot(`
      {
        "canonicalize": 57,
        "specialize": 12,
        "stabilize": 26,
      }
    `);
  });
});
