/**
 * Convolutions and pooling against PyTorch, from the fixture written once by
 * test/fixtures/torch/make_conv.py (PyTorch is no dependency: this test reads the JSON only).
 * Float64, channels-last (the script transposes to and from PyTorch's NCHW): for each case the
 * value and the vector-Jacobian product of every input (x and w) to 1e-9 relative, element by
 * element, on every back end. The cases cover 1-d and 2-d; strides, explicit and 'same' padding
 * (TF/JAX's definition, computed by the script), asymmetric pairs, dilations, groups and depthwise
 * kernels; convTranspose with outputPadding; both poolings with padding and countIncludePad.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, Graph, Tensor, avgPool, compile, conv, convTranspose, grad, maxPool, sum, type Sym } from '@gradgraph/core';

interface TensorDoc {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  op: 'conv' | 'convTranspose' | 'maxPool' | 'avgPool';
  opts: Record<string, unknown>;
  args: (TensorDoc & { name: string })[];
  out: TensorDoc;
  cot: TensorDoc;
  grads: TensorDoc[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch/conv.json', import.meta.url), 'utf8')) as { meta: { torch: string }; cases: Case[] };
const REL = 1e-9;

const BUILD: Record<Case['op'], (xs: Sym[], opts: any) => Sym> = {
  conv: ([x, w], o) => conv(x, w, o),
  convTranspose: ([y, w], o) => convTranspose(y, w, o),
  maxPool: ([x], o) => maxPool(x, o),
  avgPool: ([x], o) => avgPool(x, o),
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

const tensor = (d: TensorDoc) => new Tensor('float64', d.shape, Float64Array.from(d.data));

function check(c: Case, backend: (typeof BACKENDS)[number]): void {
  const g = new Graph();
  const inputs = c.args.map((a) => g.input(a.name, a.shape, 'float64'));
  const out = BUILD[c.op](inputs, c.opts);
  const gs = grad(sum(out.mul(g.constant(tensor(c.cot)))), inputs);
  const feeds = Object.fromEntries(c.args.map((a) => [a.name, tensor(a)]));
  const [o, ...rest] = compile(g, { inputs, outputs: [out, ...gs], backend }).run(feeds);
  expect(o.shape).toEqual(c.out.shape);
  expect(worstRelative(o.data, c.out.data), `value of ${c.name}`).toBeLessThanOrEqual(REL);
  c.grads.forEach((want, i) => {
    expect(rest[i].shape).toEqual(want.shape);
    expect(worstRelative(rest[i].data, want.data), `gradient in ${c.args[i].name} of ${c.name}`).toBeLessThanOrEqual(REL);
  });
}

describe.each(BACKENDS)(`convolutions and pooling against PyTorch ${fixture.meta.torch} (value and gradients, float64, 1e-9 relative; %s back end)`, (backend) => {
  it.each(fixture.cases)('$name', (c) => check(c, backend));
});

describe('the fixture', () => {
  it('covers every op and option the brief asks for', () => {
    const has = (op: string, f: (o: Record<string, unknown>, c: Case) => boolean) => fixture.cases.some((c) => c.op === op && f(c.opts, c));
    const rank = (c: Case) => c.args[0].shape.length;
    for (const op of ['conv', 'convTranspose', 'maxPool', 'avgPool']) {
      expect(has(op, (_o, c) => rank(c) === 3), `${op} 1-d`).toBe(true);
      expect(has(op, (_o, c) => rank(c) === 4), `${op} 2-d`).toBe(true);
      expect(has(op, (o) => o.stride !== undefined && o.stride !== 1), `${op} strided`).toBe(true);
      expect(has(op, (o) => o.padding !== undefined && o.padding !== 'valid'), `${op} padded`).toBe(true);
    }
    expect(has('conv', (o) => o.padding === 'same' && o.stride === 2)).toBe(true);
    expect(has('conv', (o) => o.dilation !== undefined)).toBe(true);
    expect(has('conv', (o, c) => o.groups !== undefined && c.args[1].shape[c.args[1].shape.length - 2] === 1)).toBe(true); // depthwise
    expect(has('conv', (o, c) => (o.groups as number) > 1 && c.args[1].shape[c.args[1].shape.length - 2] > 1)).toBe(true);
    expect(has('convTranspose', (o) => o.outputPadding !== undefined)).toBe(true);
    expect(has('avgPool', (o) => o.countIncludePad === false)).toBe(true);
    expect(has('maxPool', (o) => o.padding === 'same')).toBe(true);
  });
});
