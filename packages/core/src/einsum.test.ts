import { describe, expect, it } from 'vitest';
import { BACKENDS, compile } from './compile';
import { einsum } from './einsum';
import { GraphError, ShapeError } from './errors';
import { assertGradcheck } from './gradcheck';
import { Graph } from './graph';
import { sizeOf } from './shape';
import { Tensor } from './tensor';
import { fc } from './testing/index';

/**
 * The definition, by brute force: for every assignment of the labels, multiply the operands'
 * elements and add into the output's element (letters only; no broadcasting).
 */
function reference(spec: string, xs: readonly Tensor[]): { shape: number[]; data: number[] } {
  const [lhs, rhs] = spec.split('->');
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((l, k) => size.set(l, xs[i].shape[k])));
  const counts = new Map<string, number>();
  for (const t of terms) for (const l of t) counts.set(l, (counts.get(l) ?? 0) + 1);
  const out = rhs ?? [...counts.keys()].filter((l) => counts.get(l) === 1).sort().join('');
  const labels = [...size.keys()];
  const shape = [...out].map((l) => size.get(l)!);
  const data = new Array<number>(sizeOf(shape)).fill(0);
  const at = new Map<string, number>();
  const offset = (t: string, dims: readonly number[]) => [...t].reduce((o, l, k) => o * dims[k] + at.get(l)!, 0);
  const visit = (i: number): void => {
    if (i === labels.length) {
      data[offset(out, shape)] += xs.reduce((p, x, k) => p * x.data[offset(terms[k], x.shape)], 1);
      return;
    }
    for (let v = 0; v < size.get(labels[i])!; v++) {
      at.set(labels[i], v);
      visit(i + 1);
    }
  };
  visit(0);
  return { shape, data };
}

function run(spec: string, xs: readonly Tensor[], backend?: (typeof BACKENDS)[number]): Tensor {
  const g = new Graph();
  const syms = xs.map((x, i) => g.input(`x${i}`, x.shape, x.dtype));
  return compile(g, { outputs: [einsum(spec, ...syms)], backend }).run(Object.fromEntries(xs.map((x, i) => [`x${i}`, x])))[0];
}

const randn = (shape: number[], seed: number) => Tensor.randn(shape, 'float64', seed);

describe('einsum', () => {
  it('computes the classic specs: products, traces, diagonals, transposes, outer and batched products', () => {
    const a = randn([3, 3], 1);
    const b = randn([3, 4], 2);
    const c = randn([2, 3, 4], 3);
    const d = randn([2, 4, 5], 4);
    const v = randn([3], 5);
    const cases: [string, Tensor[]][] = [
      ['ij,jk->ik', [a, b]],
      ['ij,jk', [a, b]],
      ['ii', [a]],
      ['ii->i', [a]],
      ['ij->ji', [b]],
      ['ij->', [b]],
      ['ij->j', [b]],
      ['i,j', [v, v]],
      ['i,i', [v, v]],
      ['i,i->i', [v, v]],
      ['bij,bjk->bik', [c, d]],
      ['bij,bjk->bki', [c, d]],
      ['bij,bjk->ik', [c, d]],
      ['ij,ij->i', [b, b]],
      ['ji,jk,kl->il', [a, b, randn([4, 2], 6)]],
      ['ij,jk,ki', [a, a, a]],
      ['iij->j', [randn([2, 2, 3], 7)]],
      ['ijji->', [randn([2, 3, 3, 2], 8)]],
      ['iii->i', [randn([3, 3, 3], 9)]],
      ['ab,bc,cd,de->ae', [randn([2, 3], 10), randn([3, 2], 11), randn([2, 4], 12), randn([4, 2], 13)]],
      ['i,jk->ijk', [v, b]],
      ['BA,ab->Aa', [randn([2, 3], 14), randn([3, 2], 15)]],
    ];
    for (const [spec, xs] of cases) {
      const want = reference(spec, xs);
      for (const backend of BACKENDS) {
        const got = run(spec, xs, backend);
        expect(got.shape, spec).toEqual(want.shape);
        want.data.forEach((w, i) => expect(got.data[i], `${spec} [${i}] on ${backend}`).toBeCloseTo(w, 12));
      }
    }
  });

  it('agrees with the brute-force definition on generated specs', () => {
    // 1–3 operands of up to 3 labels from "abcd" (repeats allowed: diagonals), sizes 1–3 per label
    const arbCase = fc
      .record({
        sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 4 }),
        terms: fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        explicit: fc.boolean(),
        pick: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        seed: fc.nat(1000),
      })
      .map(({ sizes, terms, explicit, pick, seed }) => {
        const seen = [...new Set(terms.flat())];
        const out = seen.filter((_, i) => pick[i]).reverse().join('');
        const spec = terms.map((t) => t.join('')).join(',') + (explicit ? `->${out}` : '');
        const xs = terms.map((t, i) => randn(t.map((l) => sizes['abcd'.indexOf(l)]), seed + i));
        return { spec, xs };
      });
    fc.assert(
      fc.property(arbCase, ({ spec, xs }) => {
        const want = reference(spec, xs);
        const got = run(spec, xs);
        expect(got.shape, spec).toEqual(want.shape);
        want.data.forEach((w, i) => expect(Math.abs(got.data[i] - w), spec).toBeLessThan(1e-12 * (1 + Math.abs(w))));
      }),
      { numRuns: 150, seed: 2026 },
    );
  });

  it('broadcasts "..." across operands, right-aligned, and sums it when the output leaves it out (PyTorch)', () => {
    const a = randn([2, 3, 4], 20);
    const b = randn([4, 5], 21);
    const ab = run('...ij,jk->...ik', [a, b]);
    const direct = reference('bij,jk->bik', [a, b]);
    expect(ab.shape).toEqual([2, 3, 5]);
    direct.data.forEach((w, i) => expect(ab.data[i]).toBeCloseTo(w, 12));
    // '...ij->...ji' transposes the last two axes; implicit output puts '...' first
    const t = run('...ij->...ji', [a]);
    expect(t.shape).toEqual([2, 4, 3]);
    expect(run('i...', [randn([2, 3], 22)]).shape).toEqual([3, 2]);
    // [2, 1, 3] and [4, 3] broadcast under '...' to [2, 4]
    const bc = run('...i,...i', [randn([2, 1, 3], 23), randn([4, 3], 24)]);
    expect(bc.shape).toEqual([2, 4]);
    // '...ij->ij' sums the leading dims
    const s = run('...ij->ij', [Tensor.ones([2, 3, 4], 'float64')]);
    expect(Array.from(s.data)).toEqual(Array(12).fill(2));
    // a letter of size 1 broadcasts against the same letter elsewhere: Σ_j a_i·b_ij
    expect(Array.from(run('ij,ij->i', [Tensor.ones([2, 1], 'float64'), Tensor.ones([2, 3], 'float64')]).data)).toEqual([3, 3]);
  });

  it('is differentiable to order 2 through every kind of step', () => {
    const a = randn([3, 3], 30);
    const b = randn([3, 2], 31);
    assertGradcheck((x, y) => einsum('ij,jk->ik', x.sin(), y).add(einsum('ii->i', x).sum()).mul(einsum('ij,ij->', y, y)), [a, b], { order: 2 });
    assertGradcheck((x) => einsum('bij,bjk->bik', x, x.cos()).sum().add(einsum('iij->j', x).sum()), [randn([2, 2, 2], 32)], { order: 2 });
  });

  it('works with a batch dim known only at run time', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const w = g.input('w', [3, 2], 'float64');
    const y = einsum('bi,ij->bj', x, w);
    expect(y.shape).toEqual([null, 2]);
    const xv = randn([4, 3], 40);
    const wv = randn([3, 2], 41);
    const [got] = compile(g, { outputs: [y] }).run({ x: xv, w: wv });
    reference('bi,ij->bj', [xv, wv]).data.forEach((v, i) => expect(got.data[i]).toBeCloseTo(v, 12));
  });

  it('refuses malformed specs and mismatched shapes with typed errors naming the spec', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [4, 5]);
    const c = g.input('c', [1, 3]);
    const bad: [() => unknown, RegExp, typeof GraphError | typeof ShapeError][] = [
      [() => einsum('ij,jk->ik', a), /^einsum: names 2 operands but 1 was given \(spec "ij,jk->ik"\)/, GraphError],
      [() => einsum('ij->ii', a), /the output repeats label "i"/, GraphError],
      [() => einsum('ij->k', a), /the output's label "k" is on no operand/, GraphError],
      [() => einsum('i1', a), /"1" is not a letter/, GraphError],
      [() => einsum('ij->i->j', a), /more than one "->"/, GraphError],
      [() => einsum('......', a), /more than one "\.\.\."/, GraphError],
      [() => einsum('ijk', a), /operand 0 has shape \[2,3\] \(rank 2\) but "ijk" names 3 dims/, ShapeError],
      [() => einsum('ij,jk', a, b), /label "j" has sizes 3 and 4/, ShapeError],
      [() => einsum('ii', a), /label "i" has sizes 2 and 3/, ShapeError],
      [() => einsum('ii', c), /label "i" is repeated on an operand of shape \[1,3\] over dims of sizes 1 and 3/, ShapeError],
      [() => einsum(3 as never, a), /spec must be a string/, GraphError],
      [() => einsum('ij', [1, 2] as never), /operand 0 is an array/, GraphError],
    ];
    for (const [f, msg, type] of bad) {
      expect(f).toThrow(type);
      expect(f).toThrow(msg);
    }
  });
});
