/**
 * Core's second-round tensor ops against PyTorch, from the fixture written once by
 * test/fixtures/torch/make_core_ops.py (PyTorch is no dependency: this test reads the JSON only).
 * Float64: the value and the vector-Jacobian product of every input, to 1e-9 relative, for the
 * special functions, prod / variance (each correction) / std / norm (each ord, ties and zeros
 * included), cumsum and cumprod (each variant, zeros included), linearRecurrence, the
 * rearrangements and einsum specs. Every case must have a builder here, and every op of the
 * vocabulary a case in the fixture; each case runs on every back end.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as core from '@gradgraph/core';
import { BACKENDS, Graph, Tensor, compile, grad, sum, type Sym } from '@gradgraph/core';

interface TensorDoc {
  shape: number[];
  data: number[];
}
interface ArgDoc extends TensorDoc {
  name: string;
  dtype: 'float64';
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
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch/core_ops.json', import.meta.url), 'utf8')) as {
  meta: { torch: string };
  sections: Record<string, FnCase[]>;
};

const REL = 1e-9;

type Builder = (args: Sym[], opts: Record<string, any>) => Sym;
const unary = (f: (x: Sym) => Sym): Builder => ([x]) => f(x);
/** JSON has no ∞: the generator writes 'Infinity' and '-Infinity'. */
const num = (v: unknown) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : (v as number));

const BUILDERS: Record<string, Builder> = {
  erf: unary(core.erf),
  erfc: unary(core.erfc),
  tan: unary(core.tan),
  asin: unary(core.asin),
  acos: unary(core.acos),
  atan: unary(core.atan),
  sinh: unary(core.sinh),
  cosh: unary(core.cosh),
  asinh: unary(core.asinh),
  acosh: unary(core.acosh),
  atanh: unary(core.atanh),
  atan2: ([y, x]) => core.atan2(y, x),
  prod: ([x], o) => core.prod(x, o.axes, o.keepDims),
  variance: ([x], o) => core.variance(x, o.axes, { correction: o.correction, keepDims: o.keepDims }),
  std: ([x], o) => core.std(x, o.axes, { correction: o.correction, keepDims: o.keepDims }),
  norm: ([x], o) => core.norm(x, { ...o, ...(o.ord !== undefined ? { ord: num(o.ord) } : {}) }),
  cumsum: ([x], o) => core.cumsum(x, o.axis, { exclusive: o.exclusive, reverse: o.reverse }),
  cumprod: ([x], o) => core.cumprod(x, o.axis, { exclusive: o.exclusive, reverse: o.reverse }),
  linearRecurrence: ([a, b], o) => core.linearRecurrence(a, b, o),
  flip: ([x], o) => core.flip(x, o.axes),
  roll: ([x], o) => core.roll(x, o.shifts, o.axes),
  tile: ([x], o) => core.tile(x, o.reps),
  tril: ([x], o) => core.tril(x, o.k),
  triu: ([x], o) => core.triu(x, o.k),
  stack: (xs, o) => core.stack(xs, o.axis),
  // the parts flattened and joined, as the generator records them
  split: ([x], o) => core.concat(core.split(x, o.sizes, o.axis).map((p) => core.reshape(p, [-1])), 0),
  einsum: (xs, o) => core.einsum(o.spec, ...xs),
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

function runCase(c: FnCase, backend: (typeof BACKENDS)[number]): { out: Tensor; grads: (Tensor | null)[] } {
  const g = new Graph();
  const inputs = c.args.map((a) => g.input(a.name, a.shape, a.dtype));
  const out = BUILDERS[c.op](inputs, c.opts);
  const cot = g.constant(new Tensor('float64', c.cot.shape, Float64Array.from(c.cot.data)));
  const wrt = inputs.filter((_, i) => c.args[i].grad);
  const gs = grad(sum(out.mul(cot)), wrt);
  const feeds = Object.fromEntries(c.args.map((a) => [a.name, new Tensor('float64', a.shape, Float64Array.from(a.data))]));
  const [o, ...rest] = compile(g, { inputs, outputs: [out, ...gs], backend }).run(feeds);
  let k = 0;
  return { out: o, grads: c.args.map((a) => (a.grad ? rest[k++] : null)) };
}

for (const [section, cases] of Object.entries(fixture.sections)) {
  describe(`${section} against PyTorch ${fixture.meta.torch} (value and gradient, float64, 1e-9 relative)`, () => {
    it.each(cases.flatMap((c) => BACKENDS.map((backend) => ({ ...c, backend }))))('$name ($backend)', (c) => {
      const { out, grads } = runCase(c, c.backend);
      expect(out.shape).toEqual(c.out.shape);
      const errValue = worstRelative(out.data, c.out.data);
      expect(errValue, `value of ${c.name}`).toBeLessThanOrEqual(REL);
      let errGrad = 0;
      c.grads.forEach((want, i) => {
        if (!want) return;
        expect(grads[i]!.shape).toEqual(want.shape);
        const err = worstRelative(grads[i]!.data, want.data);
        expect(err, `gradient in ${c.args[i].name} of ${c.name}`).toBeLessThanOrEqual(REL);
        errGrad = Math.max(errGrad, err);
      });
      if (process.env.VOCAB_REPORT) console.log(`${c.name} (${c.backend}): value ${errValue.toExponential(1)}, gradient ${errGrad.toExponential(1)}`);
    });
  });
}

describe('coverage', () => {
  const all = Object.values(fixture.sections).flat();
  it('every case has a builder, and every op of the vocabulary has cases', () => {
    expect(all.map((c) => c.op).filter((op) => !(op in BUILDERS))).toEqual([]);
    const ops = new Set(all.map((c) => c.op));
    expect(Object.keys(BUILDERS).filter((op) => !ops.has(op))).toEqual([]);
  });

  it('covers each cumsum/cumprod variant, each norm ord, each variance correction and a dozen einsum specs', () => {
    const variants = (op: string) => new Set(all.filter((c) => c.op === op).map((c) => `${c.opts.exclusive}/${c.opts.reverse}`));
    expect(variants('cumsum').size).toBe(4);
    expect(variants('cumprod').size).toBe(4);
    expect(new Set(all.filter((c) => c.op === 'norm').map((c) => String(c.opts.ord ?? 2)))).toEqual(new Set(['2', '1', 'Infinity', '-Infinity', '0', '3', '1.5', '0.5']));
    expect(new Set(all.filter((c) => c.op === 'variance').map((c) => c.opts.correction))).toEqual(new Set([0, 1, 2]));
    expect(all.filter((c) => c.op === 'einsum').length).toBeGreaterThanOrEqual(12);
  });
});
