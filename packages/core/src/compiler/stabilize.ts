/**
 * stabilize: rewrites that keep a value finite and accurate where the expression as written
 * overflows, underflows to 0 and then divides or takes a log, or cancels catastrophically.
 *
 * The first group rewrites forward expressions. The second rewrites the patterns `grad` emits
 * for them: the backward graph is built before compiling, from the VJPs of the *unstable* forward
 * ops (log's dy/x, sigmoid's dy·σ(x)·σ(−x), exp's dy·eˣ), so rewriting the forward nodes alone
 * would leave 1/σ(z) = ∞ and 0·∞ in the gradient. E.g. log σ(z) differentiates to
 * (g/σ(z))·σ(z)·σ(−z), rewritten to g·σ(−z).
 *
 * The stabilize pass runs this table together with canonicalize's, so the canonical forms a
 * stability rewrite creates (−(−x), (−a)·b) are normalized in the same fixed point.
 */
import { isFloat } from '../dtype';
import { _, alt, c, P, v, type Pattern } from './pattern';
import { E, rule, type Ref, type Rule } from './rules';

/** dy of a reduction as its VJP hands it on: broadcast back (statically, at run time, or not). */
const bcastOf = (p: Pattern): Pattern => alt(P.broadcastTo(p), P.broadcastLike(p, _()), p);

const axesOf = (r: Ref) => r.attrs.axes as number[];
const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * True when `r` is a quotient whose denominator `den` accepts, looking through negations,
 * sums and differences (and products when `throughMul`): the terms a distribution would expose.
 */
function hasQuotient(r: Ref, den: (d: Ref) => boolean, throughMul: boolean, depth = 0): boolean {
  if (depth > 8) return false;
  switch (r.op) {
    case 'div':
      return den(r.input(1));
    case 'neg':
      return hasQuotient(r.input(0), den, throughMul, depth + 1);
    case 'mul':
    case 'add':
    case 'sub':
      if (r.op === 'mul' && !throughMul) return false;
      return hasQuotient(r.input(0), den, throughMul, depth + 1) || hasQuotient(r.input(1), den, throughMul, depth + 1);
  }
  return false;
}

/** σ(x)·σ(−x), the sigmoid VJP's factor. */
const sigmoidSlope = P.mul(P.sigmoid(v('x')), P.sigmoid(P.neg(v('x'))));
/** 1 + eˣ with the exp node bound as `e`. */
const onePlusExp = P.add(c(1), v('e', P.exp(v('x'))));
/** g/Σeˣ, log's VJP at log Σ eˣ: the quotient `q`, the sum `s`, the exp `e`. */
const lseQuotient = v('q', P.div(v('g'), v('s', P.sum(v('e', P.exp(v('x')))))));
/** g/Σeˣ with the reduced axes put back (`k`), as the sum's VJP hands it to exp's. */
const lseKept = v('k', alt(P.expandDims(lseQuotient), lseQuotient));
/** A ± b, the node bound as `s` (accumulated gradient contributions). */
const sumOrDiff = v('s', alt(P.add(v('a'), v('b')), P.sub(v('a'), v('b'))));
/** (a ± b)·m → a·m ± b·m */
const distribute = ({ s, a, b, m }: Record<string, Ref>): Ref => E.op(s.op, [E.mul(a, m), E.mul(b, m)]);

/** The 1 + eˣ node of a match (to recognise it as a denominator). */
const isOnePlus = (e: Ref) => (d: Ref) => d.op === 'add' && d.node.inputs.includes(e.id) && d.node.inputs.some((i) => i !== e.id && e.work.splat(i) === 1);

/** A forward rule whose region's adjoints are rebuilt from the replacement's VJP (adjoints.ts). */
const stable = (r: Rule): Rule => Object.freeze({ ...r, rederive: true });

// prettier-ignore
export const stabilizeRules: readonly Rule[] = [
  // ---- forward expressions
  stable(rule('log-sigmoid', P.log(P.sigmoid(v('x'))), ({ x }) => E.neg(E.softplus(E.neg(x))))), // log σ(x) → −softplus(−x)
  stable(rule('log-one-minus-sigmoid', P.log(P.sub(c(1), P.sigmoid(v('x')))), ({ x }) => E.neg(E.softplus(x)))), // log(1 − σ(x)) → −softplus(x)
  stable(rule('one-minus-sigmoid', P.sub(c(1), P.sigmoid(v('x'))), ({ x }) => E.sigmoid(E.neg(x)))), // 1 − σ(x) → σ(−x)
  stable(rule('exp-ratio-sigmoid', P.div(v('e', P.exp(v('x'))), P.add(c(1), v('e'))), ({ x }) => E.sigmoid(x))), // eˣ/(1 + eˣ) → σ(x)
  stable(rule('reciprocal-sigmoid', alt(P.div(c(1), P.add(c(1), P.exp(P.neg(v('x'))))), P.reciprocal(P.add(c(1), P.exp(P.neg(v('x')))))), ({ x }) => E.sigmoid(x))), // 1/(1 + e⁻ˣ) → σ(x)
  stable(rule('softplus', alt(P.log(P.add(c(1), P.exp(v('x')))), P.log1p(P.exp(v('x')))), ({ x }) => E.softplus(x))), // log(1 + eˣ) → softplus(x)
  stable(rule('log-exp', P.log(P.exp(v('x'))), ({ x }) => x)), // log eˣ → x
  stable(rule('logsumexp', P.log(v('s', P.sum(P.exp(v('x'))))), ({ x, s }) => E.logsumexp(x, axesOf(s), s.attrs.keepDims as boolean))), // log Σ eˣ → logsumexp(x)
  stable(rule('log-softmax', P.log(P.softmax(v('x'))), ({ x }, root) => E.logSoftmax(x, root.input(0).attrs.axis as number))), // log softmax(x) → logSoftmax(x)
  stable(rule('log1p', P.log(P.add(c(1), v('x'))), ({ x }) => E.log1p(x))), // log(1 + x) → log1p(x)
  stable(rule('log1m', P.log(P.sub(c(1), v('x'))), ({ x }) => E.log1p(E.neg(x)))), // log(1 − x) → log1p(−x)
  stable(rule('expm1', alt(P.sub(P.exp(v('x')), c(1)), P.add(P.exp(v('x')), c(-1))), ({ x }) => E.expm1(x))), // eˣ − 1 → expm1(x)
  stable(rule('tanh-ratio', P.div(alt(P.sub(v('e', P.exp(v('u'))), c(1)), P.add(v('e', P.exp(v('u'))), c(-1))), P.add(v('e'), c(1))), ({ u }) => E.tanh(E.mul(u, 0.5)))), // (e²ˣ − 1)/(e²ˣ + 1) → tanh(x)
  stable(rule('softmax-ratio', P.div(v('e', P.exp(v('x'))), bcastOf(v('s', P.sum(v('e'), { keepDims: true })))), ({ x, s }) => E.softmax(x, axesOf(s)[0]), ({ s }) => axesOf(s).length === 1)), // eˣ/Σₐeˣ → softmax(x, a)
  stable(rule('log-softmax-lse', P.sub(v('x'), v('l', P.logsumexp(v('x'), { keepDims: true }))), ({ x, l }) => E.logSoftmax(x, axesOf(l)[0]), ({ l }) => axesOf(l).length === 1)), // x − logsumexpₐ(x) → logSoftmax(x, a)
  stable(rule('softmax-cross-entropy', P.sum(P.mul(v('t'), v('l', P.logSoftmax(v('x'))))), ({ x, t }, root) => E.neg(E.op('softmaxCrossEntropy', [x, t], { axis: axesOf(root)[0], keepDims: root.attrs.keepDims })), ({ x, t, l }, root) => same(axesOf(root), [l.attrs.axis]) && same(t.shape, x.shape) && t.dtype === x.dtype && isFloat(t.dtype))), // Σₐ t·logSoftmax(x) → −softmaxCrossEntropy(x, t)
  // ---- the backward patterns grad emits for them
  rule('sigmoid-grad-cancel', P.mul(P.div(v('g'), P.sigmoid(v('x'))), sigmoidSlope), ({ g, x }) => E.mul(g, E.sigmoid(E.neg(x)))), // (g/σ(x))·σ(x)σ(−x) → g·σ(−x)
  rule('sigmoid-grad-cancel-neg', P.mul(P.div(v('g'), P.sigmoid(P.neg(v('x')))), sigmoidSlope), ({ g, x }) => E.mul(g, E.sigmoid(x))), // (g/σ(−x))·σ(x)σ(−x) → g·σ(x)
  rule('sigmoid-grad-distribute', P.mul(sumOrDiff, v('m', sigmoidSlope)), distribute, ({ a, b, m }) => [a, b].some((t) => hasQuotient(t, (d) => m.node.inputs.includes(d.id), false))), // (a ± b)·σ(x)σ(−x) → a·σσ ± b·σσ, when a or b divides by σ(±x)
  rule('softplus-grad', P.mul(P.div(v('g'), onePlusExp), v('e')), ({ g, x }) => E.mul(g, E.sigmoid(x))), // (g/(1 + eˣ))·eˣ → g·σ(x)
  rule('exp-ratio-grad', P.mul(P.mul(v('h'), P.div(v('u'), onePlusExp)), v('e')), ({ h, u, x }) => E.mul(h, E.mul(u, E.sigmoid(x)))), // (h·(u/(1 + eˣ)))·eˣ → h·u·σ(x)
  rule('exp-grad-distribute', P.mul(sumOrDiff, v('m', P.exp(v('x')))), distribute, ({ a, b, m }) => [a, b].some((t) => hasQuotient(t, isOnePlus(m), true))), // (a ± b)·eˣ → a·eˣ ± b·eˣ, when a or b divides by 1 + eˣ
  rule('log-exp-grad', P.mul(P.div(v('g'), v('e', P.exp(_()))), v('e')), ({ g }) => g), // (g/eˣ)·eˣ → g
  rule('softmax-log-grad', P.mul(v('y', P.softmax(v('x'))), P.sub(v('d', P.div(v('g'), v('y'))), v('s', P.sum(P.mul(v('d'), v('y')), { keepDims: true })))), ({ y, g, s }) => E.sub(g, E.mul(y, E.sum(g, axesOf(s), true))), ({ y, s }) => same(axesOf(s), [y.attrs.axis])), // y·(g/y − Σ(g/y)·y) → g − y·Σg, y = softmax(x)
  rule('softmax-log-grad-neg', P.mul(v('y', P.softmax(v('x'))), P.sub(v('s', P.sum(P.mul(v('d', P.div(v('g'), v('y'))), v('y')), { keepDims: true })), v('d'))), ({ y, g, s }) => E.sub(E.mul(y, E.sum(g, axesOf(s), true)), g), ({ y, s }) => same(axesOf(s), [y.attrs.axis])), // y·(Σ(g/y)·y − g/y) → y·Σg − g: the same with the sign canonicalize leaves
  rule('logsumexp-grad', P.mul(bcastOf(v('n', alt(P.neg(lseKept), lseKept))), v('e')), ({ g, x, s, n, k: kq }) => { const axes = axesOf(s); const keep = s.attrs.keepDims as boolean; const r = E.mul(E.keep(g, axes, keep), E.exp(E.sub(x, E.keep(E.logsumexp(x, axes, keep), axes, keep)))); return n.id === kq.id ? r : E.neg(r); }, ({ k: kq, q, s }) => (kq.id === q.id ? s.attrs.keepDims === true || axesOf(s).length === 0 : same(axesOf(kq), axesOf(s)))), // (g/Σeˣ)·eˣ → g·e^(x − logsumexp x)
];
