/**
 * The stability demonstration: losses written from primitives, without clamps, evaluated where
 * they overflow as written. Compiled (default passes) they give finite, correct losses and
 * gradients; with `{ passes: [] }` they give inf or NaN; explain() names the rules that fired on
 * the backward nodes.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { grad } from '../autodiff';
import { compile } from '../compile';
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
