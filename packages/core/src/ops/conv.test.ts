/**
 * Convolution and pooling beyond the registry tables: the adjoint identities the gradients rest on
 * (⟨conv(x, w), y⟩ = ⟨x, convTranspose(y, w)⟩ and the pooling pairs), each op's JVP rule against
 * central differences, each batching rule against a loop over examples, the tie convention of
 * maxPool, the float64 summation order the kernels share, and the errors of the free functions.
 * Everything in float64, on every back end.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { grad } from '../autodiff';
import { BACKENDS, compile } from '../compile';
import { avgPool, conv, convTranspose, maxPool } from '../conv';
import { GradError, GraphError, ShapeError } from '../errors';
import { Graph, Sym } from '../graph';
import { getOp } from '../registry';
import { Tensor } from '../tensor';
import { fc } from '../testing/index';

const randn = (shape: number[], seed: number) => Tensor.randn(shape, 'float64', seed);
const dot = (a: Tensor, b: Tensor) => {
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i] * b.data[i];
  return s;
};
const close = (a: number, b: number, rel = 1e-12) => expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * (1 + Math.abs(a) + Math.abs(b)));

/** Evaluates `build` over fresh inputs fed with `values`. */
function evaluate(values: Tensor[], build: (...xs: Sym[]) => Sym | Sym[], backend: (typeof BACKENDS)[number] = 'interpreter'): Tensor[] {
  const g = new Graph({ seed: 1 });
  const xs = values.map((v, i) => g.input(`x${i}`, v.shape, 'float64'));
  const out = build(...xs);
  return compile(g, { outputs: Array.isArray(out) ? out : [out], backend }).run(Object.fromEntries(values.map((v, i) => [`x${i}`, v])));
}

interface Problem {
  x: number[];
  w: number[];
  opts: Record<string, unknown>;
}
const PROBLEMS: Problem[] = [
  { x: [2, 7, 6, 3], w: [3, 3, 3, 4], opts: {} },
  { x: [2, 9, 8, 2], w: [3, 2, 2, 3], opts: { stride: 2, padding: 'same' } },
  { x: [1, 8, 7, 4], w: [3, 3, 2, 6], opts: { stride: [2, 1], padding: [[2, 0], [1, 1]], dilation: [1, 2], groups: 2 } },
  { x: [2, 6, 6, 3], w: [3, 3, 1, 6], opts: { groups: 3, padding: 1, stride: 2 } },
  { x: [2, 11, 2], w: [4, 2, 3], opts: { stride: 3, padding: 2 } },
  { x: [1, 9, 4], w: [3, 2, 4], opts: { dilation: 2, padding: 'same', groups: 2 } },
  // negative padding crops (the weight gradient of a strided conv uses it)
  { x: [1, 9, 2], w: [3, 2, 2], opts: { stride: 2, padding: [[-1, -2]] } },
];

describe.each(BACKENDS)('adjoint identities (%s back end)', (backend) => {
  it.each(PROBLEMS)('⟨conv(x, w), y⟩ = ⟨x, convTranspose(y, w)⟩: $x ⊛ $w', ({ x, w, opts }) => {
    const xv = randn(x, 1);
    const wv = randn(w, 2);
    const [y] = evaluate([xv, wv], (a, b) => conv(a, b, opts), backend);
    const yv = randn([...y.shape], 3);
    // the convTranspose of conv's gradient: explicit pads, and the output padding that gives x's size
    const [z] = evaluate([yv, wv], (a, b) => convTranspose(a, b, transposeAttrs(x, w, opts)), backend);
    expect(z.shape).toEqual(x);
    close(dot(y, yv), dot(xv, z));
  });

  it('maxPoolScatter and maxPoolGather are adjoint; avgPool and avgPoolTranspose too', () => {
    for (const opts of [{ size: 2 }, { size: 3, stride: 2, padding: 1 }, { size: [2, 3], stride: 1, padding: 'same' as const }]) {
      const xv = randn([2, 6, 7, 3], 4);
      const [y] = evaluate([xv], (a) => maxPool(a, opts), backend);
      const dy = randn([...y.shape], 5);
      const t = randn([...xv.shape], 6);
      const [sc, ga] = evaluate([xv, dy, t], (a, d, tt) => [a.graph.apply('maxPoolScatter', [a, maxPool(a, opts), d], opts), a.graph.apply('maxPoolGather', [a, maxPool(a, opts), tt], opts)], backend);
      close(dot(sc, t), dot(dy, ga));
      for (const countIncludePad of [true, false]) {
        const [p] = evaluate([xv], (a) => avgPool(a, { ...opts, countIncludePad }), backend);
        const [pt] = evaluate([dy], (d) => d.graph.apply('avgPoolTranspose', [d], { ...opts, countIncludePad, inputSize: [6, 7] }), backend);
        close(dot(p, dy), dot(xv, pt));
      }
    }
  });
});

/** The attributes of the convTranspose in conv's gradient wrt x (explicit pads, outputPadding). */
function transposeAttrs(x: number[], w: number[], opts: Record<string, unknown>): Record<string, unknown> {
  const g = new Graph();
  const xs = g.input('x', x, 'float64');
  const [dx] = grad(api.sum(conv(xs, g.input('w', w, 'float64'), opts)), [xs]);
  expect(dx.shape).toEqual(x);
  return { ...g.nodes.find((n) => n.op === 'convTranspose')!.attrs };
}

describe('maxPool ties', () => {
  it('split the gradient equally among the elements equal to a window\'s maximum', () => {
    // windows (size 2, stride 1) of [2, 2, 1, 2]: [2,2] ties, [2,1], [1,2]
    const x = Tensor.from([[[2], [2], [1], [2]]], 'float64');
    const [y, dx] = evaluate([x], (a) => {
      const p = maxPool(a, { size: 2, stride: 1 });
      return [p, grad(api.sum(api.mul(p, a.graph.constant(Tensor.from([[[1], [10], [100]]], 'float64')))), [a])[0]];
    });
    expect(Array.from(y.data)).toEqual([2, 2, 2]);
    expect(Array.from(dx.data)).toEqual([0.5, 0.5 + 10, 0, 100]);
  });

  it('a 2-d window of equal values shares dy four ways; padding (−∞) never wins', () => {
    const x = new Tensor('float64', [1, 2, 2, 1], Float64Array.from([-3, -3, -3, -3]));
    const [dx] = evaluate([x], (a) => grad(api.sum(maxPool(a, { size: 2, padding: 1 })), [a])[0]);
    // 4 windows of one real element each (the rest padding) and ... each gets its own dy = 1
    expect(Array.from(dx.data)).toEqual([1, 1, 1, 1]);
    const [dx2] = evaluate([x], (a) => grad(api.sum(maxPool(a, { size: 2 })), [a])[0]);
    expect(Array.from(dx2.data)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('the JVP of maxPool is the mean tangent of the tied maxima', () => {
    const x = Tensor.from([[[2], [2], [1], [2]]], 'float64');
    const t = Tensor.from([[[1], [3], [5], [7]]], 'float64');
    const [jt] = evaluate([x, t], (a, tt) => {
      const y = maxPool(a, { size: 2, stride: 1 });
      const rule = getOp('maxPool').jvp;
      if (typeof rule !== 'function') throw new Error('maxPool has no jvp rule');
      return rule({ inputs: [a], output: y, tangents: [tt], attrs: y.node.attrs, node: y.node })!;
    });
    expect(Array.from(jt.data)).toEqual([2, 3, 7]);
  });
});

// ---- forward mode and batching rules, against finite differences and loops ----------------------

/**
 * One op applied to inputs of `shapes` with raw attributes `attrs`. maxPool's helpers take
 * y = maxPool(x) as their second input: `withY` computes it from the first (and it is batched,
 * or shared, with x); only their last input carries a tangent.
 */
type Case = { op: string; shapes: number[][]; attrs: Record<string, unknown>; withY?: boolean };
const CASES: Case[] = [
  { op: 'conv', shapes: [[2, 6, 5, 4], [3, 2, 2, 6]], attrs: { stride: 2, padding: 'same', groups: 2 } },
  { op: 'conv', shapes: [[2, 9, 3], [3, 3, 2]], attrs: { dilation: 2, padding: [[1, 0]] } },
  { op: 'convTranspose', shapes: [[2, 3, 4, 4], [3, 3, 1, 4]], attrs: { stride: 2, padding: 1, outputPadding: 1, groups: 2 } },
  { op: 'convTranspose', shapes: [[1, 4, 2], [3, 3, 2]], attrs: { stride: 3, outputPadding: 2 } },
  { op: 'maxPool', shapes: [[2, 5, 6, 3]], attrs: { size: 3, stride: 2, padding: 1 } },
  { op: 'avgPool', shapes: [[2, 7, 3]], attrs: { size: 3, stride: 2, padding: 'same', countIncludePad: false } },
  { op: 'maxPoolScatter', shapes: [[2, 5, 4, 2], [2, 2, 2, 2], [2, 2, 2, 2]], attrs: { size: 2 }, withY: true },
  { op: 'maxPoolGather', shapes: [[2, 5, 4, 2], [2, 4, 3, 2], [2, 5, 4, 2]], attrs: { size: 2, stride: 1 }, withY: true },
  { op: 'avgPoolTranspose', shapes: [[2, 3, 2]], attrs: { size: 3, stride: 2, padding: 1, inputSize: [5] } },
];

const applyOp = (c: Case) => (...xs: Sym[]) => xs[0].graph.apply(c.op, xs, c.attrs);

/** Random values for a case's inputs (y = maxPool(x) where the case takes it). */
function valuesFor(c: Case, seed: number): Tensor[] {
  const vals = c.shapes.map((s, i) => randn(s, seed + i));
  if (c.withY) vals[1] = evaluate([vals[0]], (x) => maxPool(x, c.attrs as never))[0];
  return vals;
}

/** Sym handles of a node's inputs. */
const inputsOf = (y: Sym): Sym[] => y.node.inputs.map((id) => new Sym(y.graph, id));

describe('JVP rules agree with central differences', () => {
  it.each(CASES)('$op $shapes', (c) => {
    const xs = valuesFor(c, 10);
    const free = xs.map((_x, i) => !c.withY || i === xs.length - 1); // inputs that carry a tangent
    const ts = c.shapes.map((s, i) => randn(s, 20 + i));
    const eps = 1e-6;
    const [jv] = evaluate([...xs, ...ts], (...all) => {
      const y = applyOp(c)(...all.slice(0, xs.length));
      const tangents = all.slice(xs.length).map((t, i) => (free[i] ? t : null));
      const rule = getOp(c.op).jvp;
      if (typeof rule !== 'function') throw new Error(`${c.op} has no jvp rule`);
      return rule({ inputs: inputsOf(y), output: y, tangents, attrs: y.node.attrs, node: y.node }) ?? api.zerosLike(y);
    });
    const shifted = (sign: number) => xs.map((x, i) => (free[i] ? new Tensor('float64', x.shape, x.data.map((v, k) => v + sign * eps * ts[i].data[k])) : x));
    const [plus] = evaluate(shifted(1), applyOp(c));
    const [minus] = evaluate(shifted(-1), applyOp(c));
    jv.data.forEach((v, k) => expect(Math.abs(v - (plus.data[k] - minus.data[k]) / (2 * eps))).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
  });
});

describe('batching rules agree with a loop over examples', () => {
  // every pattern of batched (along some axis) and shared inputs, B = 3; y follows x
  const B = 3;
  for (const c of CASES) {
    const n = c.shapes.length;
    const patterns: { axes: (number | null)[]; label: string }[] = [];
    for (let m = 1; m < 1 << n; m++) {
      for (const shift of [0, 1]) {
        const axes = c.shapes.map((s, i) => ((m >> i) & 1 ? (i + m + 2 * shift) % (s.length + 1) : null));
        if (c.withY && (axes[0] === null) !== (axes[1] === null)) continue;
        if (c.withY && axes[1] !== null) axes[1] = axes[0]! % (c.shapes[1].length + 1);
        patterns.push({ axes, label: JSON.stringify(axes) });
      }
    }
    it.each(patterns)(`${c.op} ${JSON.stringify(c.shapes)}, batch axes $label`, ({ axes }) => {
      const examples = Array.from({ length: B }, (_u, b) => valuesFor(c, 100 * b));
      const shared = valuesFor(c, 7);
      const fed = c.shapes.map((_s, i) => (axes[i] === null ? shared[i] : stack(examples.map((e) => e[i]), axes[i]!)));
      const [got] = evaluate(fed, (...ins) => {
        // the node the rule batches: the op on one example's shapes
        const g = ins[0].graph;
        const one = c.shapes.map((s, i) => g.constant(randn(s, 99 + i)));
        const y = applyOp(c)(...one);
        const { out, axis } = getOp(c.op).batch!({ inputs: ins, axes, attrs: y.node.attrs, node: y.node, size: B });
        return axis === 0 ? out : api.transpose(out, [axis, ...out.shape.map((_d, k) => k).filter((k) => k !== axis)]);
      });
      for (let b = 0; b < B; b++) {
        const [want] = evaluate(c.shapes.map((_s, i) => (axes[i] === null ? shared[i] : examples[b][i])), applyOp(c));
        for (let k = 0; k < want.size; k++) close(got.data[b * want.size + k], want.data[k], 1e-12);
      }
    });
  }
});

/** Stacks equal-shaped tensors along `axis`. */
function stack(ts: Tensor[], axis: number): Tensor {
  const shape = [...ts[0].shape.slice(0, axis), ts.length, ...ts[0].shape.slice(axis)];
  const out = new Tensor('float64', shape);
  const outer = ts[0].shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = ts[0].size / outer;
  ts.forEach((t, b) => {
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out.data[(o * ts.length + b) * inner + i] = t.data[o * inner + i];
  });
  return out;
}

// ---- errors ---------------------------------------------------------------------------------------

describe('errors name the op, the shapes and the user\'s line', () => {
  it('unknown options, non-symbols, bad shapes', () => {
    const g = new Graph();
    const x = g.input('x', [null, 8, 8, 3]);
    const w = g.input('w', [3, 3, 3, 4]);
    expect(() => conv(x, w, { strides: 2 } as never)).toThrow(GraphError);
    expect(() => conv(x, w, { strides: 2 } as never)).toThrow(/conv: unknown option "strides" \(known: stride, padding, dilation, groups\)/);
    expect(() => maxPool(x, { size: 2, countIncludePad: true } as never)).toThrow(/unknown option "countIncludePad"/);
    expect(() => conv(x, [1, 2] as never)).toThrow(/w must be a symbol, got an array/);
    const err = (() => {
      try {
        conv(x, g.input('w2', [3, 3, 2, 4]));
      } catch (e) {
        return e as ShapeError;
      }
    })()!;
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/^conv: w \[3,3,2,4\] takes 2 input channels per group × 1 group = 2, but x \[\?,8,8,3\] has 3/);
    expect(err.origin).toMatch(/conv\.test\.ts:\d+:\d+$/);
    expect(() => avgPool(x, { size: 2, padding: 'same', countIncludePad: 'no' } as never)).toThrow(/countIncludePad must be true or false/);
    expect(() => convTranspose(x, g.input('w3', [3, 3, 3, 3]), { padding: 'same', outputPadding: 1 })).toThrow(/outputPadding goes with explicit padding/);
  });

  it('float32 with float64 promotes, as the other binary ops do; integer inputs are refused', () => {
    const g = new Graph();
    const x = g.input('x', [1, 5, 2], 'float32');
    expect(conv(x, g.input('w', [2, 2, 3], 'float64')).dtype).toBe('float64');
    expect(() => conv(g.input('xi', [1, 5, 2], 'int32'), g.input('wi', [2, 2, 3], 'int32'))).toThrow(/x must be float32 or float64, got int32/);
  });

  it('a gradient needing dims unknown until run time says which', () => {
    const g = new Graph();
    // a grouped conv whose input has neither N nor C known: its weight gradient cannot be shaped
    const x = g.input('x', [null, 6, null]);
    const w = g.param('w', Tensor.randn([3, 2, 4], 'float32'));
    const y = conv(x, w, { groups: 2 });
    expect(() => grad(api.sum(y), [w])).toThrow(GradError);
  });
});

describe('kernels sum in float64 in one order', () => {
  it('float32 results are float64 sums rounded once (here, where float32 accumulation would differ)', () => {
    // 1 + 1e-8·k: a float32 running sum loses the small terms, a float64 one keeps them
    const L = 64;
    const xv = new Tensor('float32', [1, L, 1], Float32Array.from({ length: L }, (_v, i) => (i === 0 ? 1 : 1e-8)));
    const wv = new Tensor('float32', [L, 1, 1], new Float32Array(L).fill(1));
    for (const backend of BACKENDS) {
      const [y] = evaluate32([xv, wv], (a, b) => conv(a, b), backend);
      expect(y.data[0]).toBe(Math.fround(1 + 63e-8));
    }
  });

  test32();
});

function evaluate32(values: Tensor[], build: (...xs: Sym[]) => Sym, backend: (typeof BACKENDS)[number]): Tensor[] {
  const g = new Graph({ seed: 1 });
  const xs = values.map((v, i) => g.input(`x${i}`, v.shape, v.dtype));
  return compile(g, { outputs: [build(...xs)], backend }).run(Object.fromEntries(values.map((v, i) => [`x${i}`, v])));
}

function test32(): void {
  it('float32 conv and convTranspose on every back end equal the interpreter bit for bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PROBLEMS.length - 1 }), fc.nat(1000), (k, seed) => {
        const { x, w, opts } = PROBLEMS[k];
        const xv = Tensor.randn(x, 'float32', seed);
        const wv = Tensor.randn(w, 'float32', seed + 1);
        const build = (a: Sym, b: Sym) => {
          const y = conv(a, b, opts);
          return grad(api.sum(api.mul(y, y)), [a, b]);
        };
        const g = new Graph();
        const [a, b] = [g.input('a', x, 'float32'), g.input('b', w, 'float32')];
        const outs = build(a, b);
        const ref = compile(g, { outputs: outs, backend: 'interpreter' }).run({ a: xv, b: wv });
        for (const backend of BACKENDS) {
          const got = compile(g, { outputs: outs, backend, fastMath: false }).run({ a: xv, b: wv });
          got.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(ref[i].data)));
        }
      }),
      { numRuns: 20, seed: 5 },
    );
  });
}
