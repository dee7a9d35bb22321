/**
 * The stability demonstration: losses written from primitives, without clamps, evaluated where
 * they overflow as written. Compiled (default passes) they give finite, correct losses and
 * gradients; with `{ passes: [] }` they give inf or NaN; explain() names the rules that fired on
 * the backward nodes.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { grad } from '../autodiff';
import { BACKENDS, compile } from '../compile';
import type { DType } from '../dtype';
import { Graph, type Sym } from '../graph';
import { Tensor } from '../tensor';

const finite = (ts: Tensor[]) => ts.every((t) => t.data.every(Number.isFinite));
const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** −mean(y·log σ(z) + (1 − y)·log(1 − σ(z))), and its gradient wrt z. */
function bce(dtype: DType) {
  const g = new Graph();
  const z = g.input('z', [null], dtype);
  const y = g.input('y', [null], dtype);
  const s = z.sigmoid();
  const loss = y.mul(s.log()).add(api.sub(1, y).mul(api.sub(1, s).log())).neg().mean();
  const [dz] = grad(loss, [z]);
  return { g, loss, dz };
}

describe('binary cross-entropy from primitives at z = ±100', () => {
  const zs = [100, -100, 100, -100, 3];
  const ys = [0, 1, 1, 0, 1];
  // ℓ = softplus(z) − y·z;  dℓ/dz = (σ(z) − y)/n
  const wantLoss = zs.reduce((s, z, i) => s + softplus(z) - ys[i] * z, 0) / zs.length;
  const wantGrad = zs.map((z, i) => (sigmoid(z) - ys[i]) / zs.length);

  for (const dtype of ['float64', 'float32'] as const) {
    it(`compiled, the loss and gradient are finite and correct (${dtype})`, () => {
      const { g, loss, dz } = bce(dtype);
      const feeds = { z: Tensor.from(zs, dtype), y: Tensor.from(ys, dtype) };
      const tol = dtype === 'float64' ? 1e-12 : 1e-5;
      const [l, d] = compile(g, { outputs: [loss, dz] }).run(feeds);
      expect(finite([l, d])).toBe(true);
      expect(Math.abs(l.item() - wantLoss)).toBeLessThanOrEqual(tol * wantLoss);
      Array.from(d.data).forEach((v, i) => expect(Math.abs(v - wantGrad[i])).toBeLessThanOrEqual(tol));
    });

    it(`with { passes: [] }, it gives inf or NaN (${dtype})`, () => {
      const { g, loss, dz } = bce(dtype);
      const [l, d] = compile(g, { outputs: [loss, dz], passes: [] }).run({ z: Tensor.from(zs, dtype), y: Tensor.from(ys, dtype) });
      expect(Number.isFinite(l.item())).toBe(false);
      expect(finite([d])).toBe(false);
    });
  }

  it('however the loss is written: the sign, the reduction and a scale placed anywhere', () => {
    const variants: [string, (z: Sym, y: Sym) => Sym, number][] = [
      ['−Σ', (z, y) => y.mul(z.sigmoid().log()).add(api.sub(1, y).mul(api.sub(1, z.sigmoid()).log())).sum().neg(), zs.length],
      ['Σ of negated terms', (z, y) => y.neg().mul(z.sigmoid().log()).sub(api.sub(1, y).mul(api.sub(1, z.sigmoid()).log())).sum(), zs.length],
      ['mean·(−0.5)', (z, y) => y.mul(z.sigmoid().log()).add(api.sub(1, y).mul(api.sub(1, z.sigmoid()).log())).mean().mul(-0.5), 0.5],
      ['1 − σ written as σ·(−1) + 1', (z, y) => y.mul(z.sigmoid().log()).add(api.sub(1, y).mul(z.sigmoid().mul(-1).add(1).log())).neg().mean(), 1],
    ];
    for (const [name, write, scale] of variants) {
      const g = new Graph();
      const z = g.input('z', [null], 'float64');
      const y = g.input('y', [null], 'float64');
      const loss = write(z, y);
      const [dz] = grad(loss, [z]);
      const [l, d] = compile(g, { outputs: [loss, dz] }).run({ z: Tensor.from(zs, 'float64'), y: Tensor.from(ys, 'float64') });
      expect(finite([l, d]), name).toBe(true);
      expect(l.item(), name).toBeCloseTo(wantLoss * scale, 9);
      Array.from(d.data).forEach((v, i) => expect(v, name).toBeCloseTo(wantGrad[i] * scale, 12));
    }
  });

  it('explain() shows the stability rules firing on forward and backward nodes', () => {
    const { g, loss, dz } = bce('float64');
    const exe = compile(g, { outputs: [loss, dz] });
    const text = exe.explain({ program: false });
    expect(text).toMatch(/^ {4}log-sigmoid +×1 +forward$/m);
    expect(text).toMatch(/^ {4}log-one-minus-sigmoid +×1 +forward$/m);
    expect(text).toMatch(/^ {4}sigmoid-grad-distribute +×1 +backward$/m);
    expect(text).toMatch(/^ {4}sigmoid-grad-cancel +×1 +backward$/m);
    expect(text).toMatch(/^ {4}sigmoid-grad-cancel-neg +×1 +backward$/m);
    // the gradient no longer divides by σ(z) or σ(−z)
    expect(Object.values(exe.program.nodes).some((n) => n.op === 'div')).toBe(false);
  });
});

describe('log(softmax) cross-entropy from primitives at logits ±1000', () => {
  const logits = [
    [1000, -1000, 0],
    [-1000, 1000, 0],
    [0.5, -0.25, 2],
  ];
  const target = [
    [0, 1, 0],
    [1, 0, 0],
    [0.2, 0.3, 0.5],
  ];
  const lse = (r: number[]) => Math.max(...r) + Math.log(r.reduce((s, x) => s + Math.exp(x - Math.max(...r)), 0));
  // ℓ = mean over rows of Σ t·(lse − x);  dℓ/dx = (softmax(x)·Σt − t)/rows
  const wantLoss = logits.reduce((s, r, i) => s + r.reduce((a, x, j) => a + target[i][j] * (lse(r) - x), 0), 0) / logits.length;
  const wantGrad = logits.map((r, i) => r.map((x, j) => (Math.exp(x - lse(r)) * target[i].reduce((a, b) => a + b, 0) - target[i][j]) / logits.length));

  function ce(write: (x: Sym, t: Sym) => Sym = (x, t) => t.mul(x.softmax(-1).log()).sum(-1).neg().mean()) {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const t = g.input('t', [null, 3], 'float64');
    const loss = write(x, t);
    const [dx] = grad(loss, [x]);
    return { g, loss, dx, feeds: { x: Tensor.from(logits, 'float64'), t: Tensor.from(target, 'float64') } };
  }

  it('compiled, the loss and gradient are finite and correct', () => {
    const { g, loss, dx, feeds } = ce();
    const [l, d] = compile(g, { outputs: [loss, dx] }).run(feeds);
    expect(finite([l, d])).toBe(true);
    expect(l.item()).toBeCloseTo(wantLoss, 9);
    expect(wantLoss).toBeGreaterThan(1000);
    (d.toArray() as number[][]).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(wantGrad[i][j], 12)));
  });

  it('however the loss is written: the sign, the reduction and a scale placed anywhere', () => {
    const variants: [string, (x: Sym, t: Sym) => Sym, number][] = [
      ['−Σ then sum', (x, t) => t.mul(x.softmax(-1).log()).sum(-1).neg().sum(), logits.length],
      ['Σ of −t·log p', (x, t) => t.neg().mul(x.softmax(-1).log()).sum(), logits.length],
      ['−mean of all', (x, t) => x.softmax(-1).log().mul(t).mean().neg(), 1 / 3],
      ['scaled by 2', (x, t) => t.mul(x.softmax(-1).log()).sum(-1).mean().mul(-2), 2],
      ['divided by n', (x, t) => api.div(t.mul(x.softmax(-1).log()).sum(), -3), 1],
    ];
    for (const [name, write, scale] of variants) {
      const { g, loss, dx, feeds } = ce(write);
      const [l, d] = compile(g, { outputs: [loss, dx] }).run(feeds);
      expect(finite([l, d]), name).toBe(true);
      expect(l.item(), name).toBeCloseTo(wantLoss * scale, 8);
      (d.toArray() as number[][]).forEach((row, i) => row.forEach((v, j) => expect(v, name).toBeCloseTo(wantGrad[i][j] * scale, 12)));
    }
  });

  it('with { passes: [] }, it gives inf or NaN', () => {
    const { g, loss, dx, feeds } = ce();
    const [l, d] = compile(g, { outputs: [loss, dx], passes: [] }).run(feeds);
    expect(Number.isFinite(l.item())).toBe(false);
    expect(finite([d])).toBe(false);
  });

  it('explain() shows log-softmax forward, its gradient rewrite backward, and the fused cross-entropy', () => {
    const { g, loss, dx } = ce();
    const exe = compile(g, { outputs: [loss, dx] });
    const text = exe.explain({ program: false });
    expect(text).toMatch(/^ {4}log-softmax +×1 +forward$/m);
    expect(text).toMatch(/^ {4}softmax-log-grad +×1 +backward$/m);
    expect(text).toMatch(/^ {4}softmax-cross-entropy +×1 +forward$/m);
    const ops = Object.values(exe.program.nodes).map((n) => n.op);
    expect(ops).toContain('softmaxCrossEntropy');
    expect(ops).not.toContain('log');
  });
});

describe('log Σ exp from primitives at ±1000', () => {
  it('becomes logsumexp, forward and backward', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const l = x.exp().sum(-1).log().sum().neg().neg();
    const [dx] = grad(l, [x]);
    const feeds = { x: Tensor.from([[1000, 0, -1000], [-1000, -1000, -999]], 'float64') };
    const exe = compile(g, { outputs: [l, dx] });
    const [lv, dv] = exe.run(feeds);
    expect(lv.item()).toBeCloseTo(1000 + (-999 + Math.log(1 + 2 * Math.exp(-1))), 9);
    expect(dv.toArray()[0]).toEqual([1, 0, 0]);
    expect(dv.toArray()[1][2]).toBeCloseTo(1 / (1 + 2 * Math.exp(-1)), 12);
    expect(finite(compile(g, { outputs: [l, dx], passes: [] }).run(feeds))).toBe(false);
    const text = exe.explain({ program: false });
    expect(text).toMatch(/^ {4}logsumexp +×1 +forward$/m);
    expect(text).toMatch(/^ {4}logsumexp-grad +×1 +backward$/m);
  });
});

/**
 * The gradient graph is stable too, for every forward stability rule (issue 12, item 2): a rule
 * that replaces a region rebuilds the region's adjoints from the stable op's VJP. Each loss is
 * written from primitives and compared, at inputs where the written form overflows, with the
 * stable op written directly: values and gradients finite and within 1e-9 relative.
 */
describe.each(BACKENDS)('stabilize rewrites the gradient graph too: a table at extreme inputs (%s backend)', (backend) => {
  interface Case {
    /** The inputs' values (float64), by name; each is differentiated. */
    feeds: Record<string, number[] | number[][]>;
    /** The same function written from primitives, and with the stable op. */
    written: (x: Sym[]) => Sym;
    stable: (x: Sym[]) => Sym;
    /** Rules that must show a backward rewrite in explain() (see docs/compiler.md for which does what). */
    backward: string[];
    /** Which inputs get gradients (default: all). */
    wrt?: number[];
    /** Declare the first dim of every input `null` (a batch known only at run time). */
    openBatch?: boolean;
  }
  const row3 = [[1000, -1000, 0], [-1000, 1000, 0.5]];
  const onehot = [[0, 1, 0], [1, 0, 0]];
  const cases: Record<string, Case> = {
    'log of a primitive softmax, logits ±1000': {
      feeds: { x: row3 },
      written: ([x]) => { const e = x.exp(); return e.div(e.sum(1, true)).log(); },
      stable: ([x]) => x.logSoftmax(1),
      backward: ['log-softmax'],
    },
    'log Σ exp, x = 1000': {
      feeds: { x: [[1000, 1000, 999], [1000, -1000, 0]] },
      written: ([x]) => x.exp().sum(1).log(),
      stable: ([x]) => x.logsumexp(1),
      backward: ['logsumexp-grad'],
    },
    'log(1 + eˣ), x = ±1000': {
      feeds: { x: [1000, -1000, 3] },
      written: ([x]) => api.add(1, x.exp()).log(),
      stable: ([x]) => x.softplus(),
      backward: ['softplus-grad'],
    },
    'log σ(x), x = ±100': {
      feeds: { x: [100, -100, 0.5, -800] }, // log σ(−100) is still finite as written; σ(−800) = 0
      written: ([x]) => x.sigmoid().log(),
      stable: ([x]) => x.neg().softplus().neg(),
      backward: ['sigmoid-grad-cancel'],
    },
    'log(1 − σ(x)), x = ±100': {
      feeds: { x: [100, -100, 0.5] },
      written: ([x]) => api.sub(1, x.sigmoid()).log(),
      stable: ([x]) => x.softplus().neg(),
      backward: ['log-one-minus-sigmoid'],
    },
    'cross-entropy from primitives on one-hot targets, logits ±1000': {
      feeds: { x: row3, t: onehot },
      written: ([x, t]) => { const e = x.exp(); return t.mul(e.div(e.sum(1, true)).log()).sum(1).neg().mean(); },
      stable: ([x, t]) => t.mul(x.logSoftmax(1)).sum(1).neg().mean(),
      backward: ['softmax-ratio', 'log-softmax'],
      wrt: [0],
    },
    'the same cross-entropy with a batch dim known only at run time': {
      feeds: { x: row3, t: onehot },
      written: ([x, t]) => { const e = x.exp(); return t.mul(e.div(e.sum(1, true)).log()).sum(1).neg().mean(); },
      stable: ([x, t]) => t.mul(x.logSoftmax(1)).sum(1).neg().mean(),
      backward: ['softmax-ratio', 'log-softmax'],
      wrt: [0],
      openBatch: true,
    },
    'naive BCE on σ(logits), logits ±100': {
      feeds: { z: [100, -100, 100, -100, 3], y: [0, 1, 1, 0, 1] },
      written: ([z, y]) => { const s = z.sigmoid(); return y.mul(s.log()).add(api.sub(1, y).mul(api.sub(1, s).log())).neg().mean(); },
      stable: ([z, y]) => z.softplus().sub(y.mul(z)).mean(),
      backward: ['sigmoid-grad-cancel'],
      wrt: [0],
    },
    'tanh written as (e²ˣ − 1)/(e²ˣ + 1), x = ±400': {
      feeds: { x: [400, -400, 0.25] },
      written: ([x]) => { const e = x.mul(2).exp(); return e.sub(1).div(e.add(1)); },
      stable: ([x]) => x.tanh(),
      backward: ['exp-grad-distribute', 'exp-ratio-grad'],
    },
  };

  /** f(x) and the gradient of Σ f(x)·w (w fixed, so every element's gradient counts). */
  function build(c: Case, f: (x: Sym[]) => Sym) {
    const g = new Graph();
    const xs = Object.entries(c.feeds).map(([name, v]) => g.input(name, Tensor.from(v, 'float64').shape.map((d, i) => (c.openBatch && i === 0 ? null : d)), 'float64'));
    const y = f(xs);
    const w = g.constant(Tensor.from(Array.from({ length: Math.max(1, y.shape.reduce<number>((p, d) => p * (d ?? 1), 1)) }, (_, i) => 0.5 + 0.25 * i), 'float64').reshape(y.shape.map((d) => d ?? 1)));
    const grads = grad(y.mul(w).sum(), (c.wrt ?? xs.map((_, i) => i)).map((i) => xs[i]));
    return { g, outs: [y, ...grads] };
  }

  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const feeds = Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [k, Tensor.from(v, 'float64')]));
      const w = build(c, c.written);
      const s = build(c, c.stable);
      const exe = compile(w.g, { outputs: w.outs, backend });
      const got = exe.run(feeds);
      const want = compile(s.g, { outputs: s.outs, backend }).run(feeds);
      expect(finite(want), 'the stable op itself is finite').toBe(true);
      expect(finite(compile(w.g, { outputs: w.outs, passes: [], backend }).run(feeds)), 'as written, it overflows').toBe(false);
      got.forEach((t, i) => {
        expect(t.shape).toEqual(want[i].shape);
        Array.from(t.data).forEach((v, k) => {
          const r = want[i].data[k];
          expect(Number.isFinite(v), `output ${i} element ${k} is finite (${v})`).toBe(true);
          // relative; values that round to 0 in one form and to ~1e-44 in the other are equal
          expect(Math.abs(v - r), `output ${i} element ${k}: ${v} vs ${r}`).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(v), Math.abs(r)) + 1e-30);
        });
      });
      const text = exe.explain({ program: false });
      for (const rule of c.backward) expect(text, `${rule} on backward nodes`).toMatch(new RegExp(`^ {4}${rule} +×\\d+ +(\\d+ forward, )?\\d* ?backward$`, 'm'));
    });
  }
});
