/**
 * The forward-mode (JVP) and batching (vmap) rules of the primitives added in the second round
 * (ops/math.ts, ops/scan.ts, ops/flip.ts), called directly: each JVP against float64 central
 * differences, each batching rule against the op applied to every example and stacked.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { stack } from '../arrange';
import { compile } from '../compile';
import { Graph, type Sym } from '../graph';
import type { Attrs } from '../ir';
import { getOp } from '../registry';
import { Tensor } from '../tensor';
import { moveAxis } from './rules';

interface Case {
  op: string;
  /** Input shapes and value ranges. */
  inputs: { shape: number[]; min?: number; max?: number }[];
  attrs?: Attrs;
  /** Batch axes to try, one list per case: an axis (or null, unbatched) per input. */
  batchAxes: (number | null)[][];
}

const unaryCase = (op: string, min = -2, max = 2): Case => ({ op, inputs: [{ shape: [2, 3], min, max }], batchAxes: [[0], [1], [2]] });

const CASES: Case[] = [
  unaryCase('erf'),
  unaryCase('erfc'),
  unaryCase('asin', -0.9, 0.9),
  unaryCase('acos', -0.9, 0.9),
  unaryCase('sinh'),
  unaryCase('cosh'),
  unaryCase('asinh'),
  unaryCase('acosh', 1.2, 3),
  unaryCase('atanh', -0.9, 0.9),
  { op: 'atan2', inputs: [{ shape: [2, 3], min: 0.2, max: 2 }, { shape: [3] }], batchAxes: [[0, null], [null, 1], [2, 0]] },
  { op: 'linearRecurrence', inputs: [{ shape: [3] }, { shape: [2, 3] }], attrs: { axis: 1 }, batchAxes: [[null, 0], [1, 2], [0, null]] },
  { op: 'linearRecurrence', inputs: [{ shape: [2, 3] }, { shape: [2, 3] }], attrs: { axis: 0, reverse: true }, batchAxes: [[0, 0], [2, 1], [null, 2]] },
  { op: 'prod', inputs: [{ shape: [2, 3] }], attrs: { axes: [1] }, batchAxes: [[0], [1], [2]] },
  { op: 'prod', inputs: [{ shape: [2, 3] }], attrs: { axes: [0, 1], keepDims: true }, batchAxes: [[0], [2]] },
  { op: 'prod', inputs: [{ shape: [2, 3] }], attrs: { axes: [0] }, batchAxes: [[1]] },
  { op: 'flip', inputs: [{ shape: [2, 3] }], attrs: { axes: [1] }, batchAxes: [[0], [1], [2]] },
];

/** Deterministic values in [min, max], with a zero among prod's inputs (its gradient must stay exact there). */
function values(shape: number[], seed: number, min = -2, max = 2): Tensor {
  const t = Tensor.rand(shape, 'float64', seed);
  return new Tensor('float64', shape, t.data.map((u) => min + (max - min) * u));
}

const run = (g: Graph, outs: Sym[], feeds: Record<string, Tensor> = {}) => compile(g, { outputs: outs }).run(feeds);

describe('JVP rules of the new primitives, against central differences', () => {
  CASES.forEach((c, ci) => {
    it(`${c.op} ${JSON.stringify(c.attrs ?? {})}`, () => {
      const xs = c.inputs.map((s, i) => values(s.shape, 10 * ci + i, s.min, s.max));
      if (c.op === 'prod') xs[0].data[1] = 0;
      const ts = c.inputs.map((s, i) => values(s.shape, 100 + 10 * ci + i));
      // every input's tangent, then each one alone (the others zero)
      const masks = [c.inputs.map(() => true), ...c.inputs.map((_, k) => c.inputs.map((_v, i) => i === k))];
      for (const mask of masks) {
        const g = new Graph();
        const xin = xs.map((x, i) => g.input(`x${i}`, x.shape, 'float64'));
        const tin = ts.map((t, i) => g.input(`t${i}`, t.shape, 'float64'));
        const y = g.apply(c.op, xin, c.attrs ?? {});
        const def = getOp(c.op);
        const jvp = def.jvp as Exclude<typeof def.jvp, undefined | { notDifferentiable: true }>;
        const jt = jvp({ inputs: xin, output: y, tangents: tin.map((t, i) => (mask[i] ? t : null)), attrs: y.node.attrs, node: y.node });
        expect(jt).not.toBeNull();
        const h = 1e-6;
        const shifted = (sign: number) => xin.map((x, i) => (mask[i] ? api.add(x, api.mul(tin[i], sign * h)) : x));
        const fd = api.div(api.sub(g.apply(c.op, shifted(1), c.attrs ?? {}), g.apply(c.op, shifted(-1), c.attrs ?? {})), 2 * h);
        const feeds = Object.fromEntries([...xs.map((x, i) => [`x${i}`, x]), ...ts.map((t, i) => [`t${i}`, t])]);
        const [got, want] = run(g, [api.broadcastToShapeOf(jt!, y), fd], feeds);
        expect(got.shape).toEqual(want.shape);
        want.data.forEach((w, i) => expect(Math.abs(got.data[i] - w), `element ${i}: ${got.data[i]} vs ${w}`).toBeLessThan(1e-7 * (1 + Math.abs(w))));
      }
    });
  });

  it('no tangents give a zero (null) tangent', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    for (const op of ['erf', 'flip', 'prod']) {
      const y = g.apply(op, [x]);
      const jvp = getOp(op).jvp as (a: unknown) => Sym | null;
      expect(jvp({ inputs: [x], output: y, tangents: [null], attrs: y.node.attrs, node: y.node }), op).toBeNull();
    }
  });
});

describe('batching rules of the new primitives, against the op on each example', () => {
  const B = 3;
  CASES.forEach((c, ci) => {
    for (const axes of c.batchAxes) {
      it(`${c.op} ${JSON.stringify(c.attrs ?? {})} batched along ${JSON.stringify(axes)}`, () => {
        const g = new Graph();
        // example b's inputs: unbatched ones are the same for every example
        const examples = Array.from({ length: B }, (_, b) =>
          c.inputs.map((s, i) => g.constant(values(s.shape, 1000 + 10 * ci + i + (axes[i] === null ? 0 : 100 * b), s.min, s.max))),
        );
        const batched = c.inputs.map((_, i) => (axes[i] === null ? examples[0][i] : stack(examples.map((e) => e[i]), axes[i]!)));
        const one = g.apply(c.op, examples[0], c.attrs ?? {});
        const rule = getOp(c.op).batch!;
        const { out, axis } = rule({ inputs: batched, axes, attrs: one.node.attrs, node: one.node, size: B });
        const want = stack(examples.map((e) => g.apply(c.op, e, c.attrs ?? {})), 0);
        const [got, ref] = run(g, [moveAxis(out, axis, 0), want]);
        expect(got.shape).toEqual(ref.shape);
        ref.data.forEach((w, i) => expect(got.data[i]).toBeCloseTo(w, 12));
      });
    }
  });
});
