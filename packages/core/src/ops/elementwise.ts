/**
 * Elementwise primitives. Binary ops broadcast NumPy-style; the backprop loop, not these rules,
 * sums gradients back down to each input's shape. The calculus sits next to each rule.
 */
import * as api from '../api';
import type { Sym } from '../graph';
import type { Attrs, TypeInfo } from '../ir';
import { notDifferentiable, traits, type FiniteRule, type OpDef, type Vjp } from '../registry';
import { sizeOf } from '../shape';
import { elementwiseBatch } from './batching';
import { jvpFromVjp } from './jvp';
import { broadcastOrFail, mapBinary, mapTernary, mapUnary, noAttrs, requireBool, requireFloat, requireNumeric, requireSameDtype } from './util';

type Domain = 'float' | 'numeric' | 'bool';

function check(t: TypeInfo, domain: Domain, what?: string): void {
  if (domain === 'float') requireFloat(t, what);
  else if (domain === 'numeric') requireNumeric(t, what);
  else requireBool(t, what);
}

const elementwiseFlops = (_: unknown, out: { shape: readonly number[] }) => sizeOf(out.shape);

function unaryOp(name: string, doc: string, domain: Domain, f: (v: number) => number, vjp: OpDef['vjp'], extra: { kinks?: string; cost?: number; finite?: FiniteRule } = {}): OpDef {
  return {
    name,
    arity: 1,
    kind: 'elementwise',
    traits: traits({ elementwise: true, shapePreserving: true, finiteIfInputsFinite: extra.finite ?? null }),
    doc,
    attrs: noAttrs,
    infer: ([x]) => {
      check(x, domain);
      return { dtype: x.dtype, shape: x.shape };
    },
    kernel: ([x], _a, ctx) => mapUnary(x, ctx.out, f),
    vjp,
    // the VJP with dy := t is the JVP (a diagonal Jacobian): ṫ = f'(x)·t
    jvp: jvpFromVjp(vjp),
    batch: elementwiseBatch,
    kinks: extra.kinks,
    flops: (_i, out) => (extra.cost ?? 1) * sizeOf(out.shape),
  };
}

/** σ(x) without overflow: for x < 0 use eˣ/(1+eˣ). */
export function sigmoidScalar(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1+eˣ) = max(x,0) + log1p(e^−|x|): exact for large |x|. */
export function softplusScalar(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

const k = (v: number, like: Sym): Sym => like.graph.constant(v, like.dtype);

export const unaryOps: OpDef[] = [
  // d(−x) = −dy
  unaryOp('neg', '−x', 'numeric', (v) => -v, ({ dy }) => [api.neg(dy)], { finite: [0] }),
  // d eˣ = eˣ·dy = y·dy
  unaryOp('exp', 'eˣ', 'float', Math.exp, ({ dy, output }) => [api.mul(dy, output)], { cost: 4 }),
  // d log x = dy/x
  unaryOp('log', 'natural logarithm', 'float', Math.log, ({ dy, inputs: [x] }) => [api.div(dy, x)], { cost: 4 }),
  // d tanh x = (1 − tanh²x)·dy
  unaryOp('tanh', 'hyperbolic tangent', 'float', Math.tanh, ({ dy, output }) => [api.mul(dy, api.sub(1, api.mul(output, output)))], { cost: 6, finite: [0] }),
  // d σ(x) = σ(x)·σ(−x)·dy; σ(−x) rather than 1 − σ(x) keeps precision where σ(x) ≈ 1
  unaryOp('sigmoid', 'logistic σ(x) = 1/(1+e⁻ˣ), stable for large |x|', 'float', sigmoidScalar, ({ dy, output, inputs: [x] }) => [api.mul(dy, api.mul(output, api.sigmoid(api.neg(x))))], { cost: 6, finite: [0] }),
  // d|x| = sign(x)·dy
  unaryOp('abs', '|x|', 'numeric', Math.abs, ({ dy, inputs: [x] }) => [api.mul(dy, api.sign(x))], { kinks: 'at x = 0 the gradient is 0 (sign(0) = 0, the midpoint of the one-sided slopes −1 and 1)', finite: [0] }),
  // d sign x = 0 almost everywhere
  unaryOp('sign', 'sign: −1, 0 or 1', 'numeric', (v) => (v > 0 ? 1 : v < 0 ? -1 : 0), () => [null], { kinks: 'a jump at x = 0; the gradient is taken as 0 everywhere, including at 0', finite: [] }),
  // d log(1+x) = dy/(1+x)
  unaryOp('log1p', 'log(1+x), accurate for small x', 'float', Math.log1p, ({ dy, inputs: [x] }) => [api.div(dy, api.add(x, 1))], { cost: 4 }),
  // d(eˣ − 1) = eˣ·dy = (y + 1)·dy
  unaryOp('expm1', 'eˣ − 1, accurate for small x', 'float', Math.expm1, ({ dy, output }) => [api.mul(dy, api.add(output, 1))], { cost: 4 }),
  // d√x = dy/(2√x)
  unaryOp('sqrt', '√x', 'float', Math.sqrt, ({ dy, output }) => [api.div(api.mul(dy, 0.5), output)], { kinks: 'at x = 0 the gradient is +∞ (the one-sided limit), as in JAX and PyTorch', cost: 2 }),
  // d x^(−½) = −½·x^(−3/2)·dy = −½·y³·dy
  unaryOp('rsqrt', '1/√x', 'float', (v) => 1 / Math.sqrt(v), ({ dy, output }) => [api.mul(dy, api.mul(-0.5, api.mul(output, api.mul(output, output))))], { cost: 3 }),
  // d sin x = cos x·dy
  unaryOp('sin', 'sine', 'float', Math.sin, ({ dy, inputs: [x] }) => [api.mul(dy, api.cos(x))], { cost: 6, finite: [0] }),
  // d cos x = −sin x·dy
  unaryOp('cos', 'cosine', 'float', Math.cos, ({ dy, inputs: [x] }) => [api.mul(dy, api.neg(api.sin(x)))], { cost: 6, finite: [0] }),
  // d log(1+eˣ) = σ(x)·dy
  unaryOp('softplus', 'log(1+eˣ), computed as max(x,0) + log1p(e^−|x|)', 'float', softplusScalar, ({ dy, inputs: [x] }) => [api.mul(dy, api.sigmoid(x))], { cost: 8 }),
  // d(1/x) = −dy/x² = −y²·dy
  unaryOp('reciprocal', '1/x', 'float', (v) => 1 / v, ({ dy, output }) => [api.neg(api.mul(dy, api.mul(output, output)))]),
  unaryOp('logicalNot', 'boolean not', 'bool', (v) => (v ? 0 : 1), notDifferentiable),
];

function binaryOp(name: string, doc: string, domain: Domain, f: (a: number, b: number) => number, vjp: OpDef['vjp'], extra: { kinks?: string; out?: 'bool'; cost?: number; commutative?: boolean; finite?: FiniteRule } = {}): OpDef {
  return {
    name,
    arity: 2,
    kind: 'elementwise',
    traits: traits({ elementwise: true, broadcasting: true, commutative: !!extra.commutative, finiteIfInputsFinite: extra.finite ?? null }),
    doc,
    attrs: noAttrs,
    infer: (ts) => {
      const dtype = requireSameDtype(ts);
      check(ts[0], domain);
      return { dtype: extra.out ?? dtype, shape: broadcastOrFail(ts.map((t) => t.shape)) };
    },
    kernel: ([a, b], _attrs, ctx) => mapBinary(a, b, ctx.out, f),
    vjp,
    // ṫ = ∂f/∂a·tₐ + ∂f/∂b·t_b: each the VJP with dy := that tangent
    jvp: jvpFromVjp(vjp),
    batch: elementwiseBatch,
    kinks: extra.kinks,
    flops: (_i, out) => (extra.cost ?? 1) * sizeOf(out.shape),
  };
}

/** The gradient share of `a` in max/min: 1 where it wins, ½ at ties, 0 where it loses. */
function winnerShare(a: Sym, b: Sym, wins: (a: Sym, b: Sym) => Sym, like: Sym): Sym {
  return api.where(wins(a, b), k(1, like), api.where(api.equal(a, b), k(0.5, like), k(0, like)));
}

const maxVjp: Vjp<Attrs> = ({ dy, inputs: [a, b], needsGrad }) => [
  // d max(a,b) = dy where a > b, dy/2 at ties, 0 elsewhere (and symmetrically for b)
  needsGrad[0] ? api.mul(dy, winnerShare(a, b, api.greater, dy)) : null,
  needsGrad[1] ? api.mul(dy, winnerShare(b, a, api.greater, dy)) : null,
];
const minVjp: Vjp<Attrs> = ({ dy, inputs: [a, b], needsGrad }) => [
  needsGrad[0] ? api.mul(dy, winnerShare(a, b, api.less, dy)) : null,
  needsGrad[1] ? api.mul(dy, winnerShare(b, a, api.less, dy)) : null,
];

const cmp = (name: string, doc: string, f: (a: number, b: number) => boolean, commutative = false): OpDef =>
  binaryOp(name, doc, 'numeric', (a, b) => (f(a, b) ? 1 : 0), notDifferentiable, { out: 'bool', commutative });

export const binaryOps: OpDef[] = [
  // d(a+b) = (dy, dy)
  binaryOp('add', 'a + b', 'numeric', (a, b) => a + b, ({ dy }) => [dy, dy], { commutative: true }),
  // d(a−b) = (dy, −dy)
  binaryOp('sub', 'a − b', 'numeric', (a, b) => a - b, ({ dy, needsGrad }) => [dy, needsGrad[1] ? api.neg(dy) : null]),
  // d(a·b) = (b·dy, a·dy)
  binaryOp('mul', 'a · b', 'numeric', (a, b) => a * b, ({ dy, inputs: [a, b], needsGrad }) => [needsGrad[0] ? api.mul(dy, b) : null, needsGrad[1] ? api.mul(dy, a) : null], { commutative: true }),
  // d(a/b) = (dy/b, −dy·a/b²) = (dy/b, −dy·y/b)
  binaryOp('div', 'a / b (true division)', 'float', (a, b) => a / b, ({ dy, inputs: [, b], output, needsGrad }) => [
    needsGrad[0] ? api.div(dy, b) : null,
    needsGrad[1] ? api.neg(api.mul(dy, api.div(output, b))) : null,
  ]),
  // d aᵇ = (b·aᵇ⁻¹·dy, log(a)·aᵇ·dy)
  binaryOp(
    'pow',
    'aᵇ',
    'float',
    Math.pow,
    ({ dy, inputs: [a, b], output, needsGrad }) => [
      // guarded only where the formula itself is 0·∞, so mixed second derivatives stay exact elsewhere
      needsGrad[0] ? api.mul(dy, api.where(api.logicalAnd(api.equal(a, 0), api.equal(b, 0)), k(0, dy), api.mul(b, api.pow(a, api.sub(b, 1))))) : null,
      needsGrad[1] ? api.mul(dy, api.where(api.equal(a, 0), k(0, dy), api.mul(output, api.log(a)))) : null,
    ],
    { kinks: 'd/da is 0 at a = b = 0 (b·a^(b−1) would be 0·∞); d/db is 0 at a = 0 (log a = −∞); for a < 0, d/db is NaN (log a is undefined)', cost: 8 },
  ),
  binaryOp('maximum', 'elementwise max(a, b)', 'numeric', Math.max, maxVjp, { commutative: true, finite: [0, 1], kinks: 'at ties a = b each input gets half the gradient (the midpoint of the one-sided derivatives)' }),
  binaryOp('minimum', 'elementwise min(a, b)', 'numeric', Math.min, minVjp, { commutative: true, finite: [0, 1], kinks: 'at ties a = b each input gets half the gradient (the midpoint of the one-sided derivatives)' }),
  cmp('greater', 'a > b', (a, b) => a > b),
  cmp('greaterEqual', 'a ≥ b', (a, b) => a >= b),
  cmp('less', 'a < b', (a, b) => a < b),
  cmp('lessEqual', 'a ≤ b', (a, b) => a <= b),
  cmp('equal', 'a = b', (a, b) => a === b, true),
  cmp('notEqual', 'a ≠ b', (a, b) => a !== b, true),
  binaryOp('logicalAnd', 'boolean and', 'bool', (a, b) => (a && b ? 1 : 0), notDifferentiable, { commutative: true }),
  binaryOp('logicalOr', 'boolean or', 'bool', (a, b) => (a || b ? 1 : 0), notDifferentiable, { commutative: true }),
];

export const whereOp: OpDef = {
  name: 'where',
  arity: 3,
  kind: 'elementwise',
  traits: traits({ elementwise: true, broadcasting: true, finiteIfInputsFinite: [1, 2] }),
  doc: 'cond ? a : b, elementwise with broadcasting',
  attrs: noAttrs,
  infer: ([c, a, b]) => {
    requireBool(c, 'condition');
    const dtype = requireSameDtype([a, b]);
    return { dtype, shape: broadcastOrFail([c.shape, a.shape, b.shape]) };
  },
  kernel: ([c, a, b], _attrs, ctx) => mapTernary(c, a, b, ctx.out, (cv, av, bv) => (cv ? av : bv)),
  // d where(c, a, b) = (—, where(c, dy, 0), where(c, 0, dy))
  vjp: ({ dy, inputs: [c], needsGrad }) => [
    null,
    needsGrad[1] ? api.where(c, dy, k(0, dy)) : null,
    needsGrad[2] ? api.where(c, k(0, dy), dy) : null,
  ],
  // d where(c, a, b) = where(c, tₐ, t_b), a zero for a missing tangent
  jvp: ({ inputs: [c, a, b], tangents: [, ta, tb] }) => (ta || tb ? api.where(c, ta ?? api.zerosLike(a), tb ?? api.zerosLike(b)) : null),
  batch: elementwiseBatch,
  flops: elementwiseFlops,
};
