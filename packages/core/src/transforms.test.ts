/**
 * jvp, jacfwd, vmap, perExampleGrads and hvp's modes on hand-made graphs with known answers, their
 * compositions with grad and with each other, and their errors. The random-graph properties are
 * in transforms.random.test.ts; every primitive's rules are in ops/gradients.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as api from './api';
import { customGrad, defineOp, grad, hessian, hvp, jacobian } from './autodiff';
import { BACKENDS, compile, type Backend } from './compile';
import { BatchError, GradError } from './errors';
import { gradcheck } from './gradcheck';
import { Graph, type Sym } from './graph';
import type { TypeInfo } from './ir';
import { derivation, getOp, notDifferentiable, registerOp, traits, type OpDef } from './registry';
import { Tensor } from './tensor';
import { jacfwd, jvp, perExampleGrads, vmap } from './transforms';

const f64 = (v: unknown) => Tensor.from(v as never, 'float64');

/** x³ as a user primitive with a VJP only: forward mode takes the double-VJP fallback. */
let cubeOp: ReturnType<typeof defineOp> | undefined;
const cube = (x: Sym) =>
  (cubeOp ??= defineOp({
    name: 'transformsTestCube',
    arity: 1,
    kind: 'elementwise',
    infer: ([t]) => t,
    kernel: ([t], _a, ctx) => {
      const out = new Tensor(ctx.out.dtype, ctx.out.shape);
      for (let i = 0; i < t.size; i++) out.data[i] = t.data[i] ** 3;
      return out;
    },
    // d x³ = 3x²·dy
    vjp: ({ inputs: [t], dy }) => [dy.mul(t.mul(t)).mul(3)],
  }))(x);

describe.each(BACKENDS)('transformations (%s backend)', (backend: Backend) => {
  const run = (g: Graph, outs: Sym[], feeds: Record<string, Tensor> = {}) => compile(g, { outputs: outs, backend }).run(feeds);

  describe('jvp', () => {
    it('gives directional derivatives in closed form, with zeros for unreached outputs', () => {
      const g = new Graph();
      const x = g.input('x', [3], 'float64');
      const w = g.input('w', [3], 'float64');
      const v = g.input('v', [3], 'float64');
      // y = Σ sin(x)·w, z = w²: ẏ = Σ cos(x)·w·v, ż = 0 (z does not depend on x)
      const y = x.sin().mul(w).sum();
      const z = w.square();
      const [ty, tz] = jvp([y, z], [x], [v]);
      expect(tz.shape).toEqual([3]);
      const xv = [0.3, -1.2, 2];
      const wv = [1.5, -0.5, 2];
      const vv = [1, 2, -1];
      const [a, b] = run(g, [ty, tz], { x: f64(xv), w: f64(wv), v: f64(vv) });
      const want = xv.reduce((s, xi, i) => s + Math.cos(xi) * wv[i] * vv[i], 0);
      expect(a.item()).toBeCloseTo(want, 14);
      expect(b.toArray()).toEqual([0, 0, 0]);
    });

    it('adds tangents of several inputs, broadcasting them like the op does', () => {
      const g = new Graph();
      const a = g.input('a', [2, 3], 'float64');
      const b = g.input('b', [3], 'float64');
      const [t] = jvp([a.mul(b)], [a, b], [g.constant(Tensor.ones([2, 3], 'float64')), g.constant(f64([1, 0, 2]))]);
      expect(t.shape).toEqual([2, 3]);
      // ṫ = tₐ·b + a·t_b
      const [out] = run(g, [t], { a: f64([[1, 2, 3], [4, 5, 6]]), b: f64([10, 20, 30]) });
      expect(out.toArray()).toEqual([[11, 20, 36], [14, 20, 42]]);
    });

    it('grad of a jvp and jvp of a grad are both Hessian-vector products', () => {
      const g = new Graph();
      const x = g.input('x', [3], 'float64');
      const v = g.input('v', [3], 'float64');
      const y = x.sin().mul(x.cos().sum()).sum().add(x.square().sum().sqrt());
      const [dy] = jvp([y], [x], [v]);
      const [gradOfJvp] = grad(dy, [x]);
      const [jvpOfGrad] = jvp(grad(y, [x]), [x], [v]);
      const [revRev] = hvp(y, [x], [v], { mode: 'rev-rev' });
      const H = hessian(y, x);
      const Hv = api.matmul(H, v);
      const feeds = { x: f64([0.4, -0.3, 1.1]), v: f64([1, -2, 0.5]) };
      const [p, q, r, h] = run(g, [gradOfJvp, jvpOfGrad, revRev, Hv], feeds);
      for (const t of [p, q, r]) t.data.forEach((val, i) => expect(val).toBeCloseTo(h.data[i], 12));
    });

    it('third order: jvp of a jvp of grad matches the closed form of tanh’s derivatives', () => {
      const g = new Graph();
      const x = g.input('x', [], 'float64');
      const one = g.constant(1, 'float64');
      const [d1] = grad(x.tanh(), [x]);
      const [d2] = jvp([d1], [x], [one]);
      const [d3] = jvp([d2], [x], [one]);
      const t = Math.tanh(0.7);
      const [v2, v3] = run(g, [d2, d3], { x: f64(0.7) }).map((o) => o.item());
      expect(v2).toBeCloseTo(-2 * t * (1 - t * t), 13);
      expect(v3).toBeCloseTo((1 - t * t) * (6 * t * t - 2), 13);
    });

    it('refuses mismatched tangents and integer outputs with GradError', () => {
      const g = new Graph();
      const x = g.input('x', [3], 'float64');
      expect(() => jvp([x.sin()], [x], [g.input('t', [4], 'float64')])).toThrow(GradError);
      expect(() => jvp([x.sin()], [x], [g.input('t32', [3], 'float32')])).toThrow(/tangent 0 is float32\[3\] but x "x" is float64\[3\]/);
      expect(() => jvp([x.argmax()], [x], [x])).toThrow(/only float outputs have tangents/);
      expect(() => jvp([x.sin()], [x], [])).toThrow(/one tangent per x/);
    });

    it('a defineOp without jvp goes through the double-VJP fallback, exactly', () => {
      const g = new Graph();
      const x = g.input('x', [3], 'float64');
      const v = g.input('v', [3], 'float64');
      const [t] = jvp([cube(x)], [x], [v]);
      expect(derivation(getOp('transformsTestCube').jvp)).toBe('double VJP');
      const [out] = run(g, [t], { x: f64([1, -2, 0.5]), v: f64([1, 1, 2]) });
      expect(out.toArray()).toEqual([3, 12, 1.5]);
      // and it passes gradcheck in forward mode to order 2
      expect(gradcheck((a) => cube(a).sin().sum(), [f64([0.3, -0.8])], { order: 2, modes: ['rev', 'fwd'], compile: { backend } }).ok).toBe(true);
    });

    it('a double-VJP fallback over a VJP that is not linear in dy is a GradError', () => {
      const bad = defineOp({
        name: `transformsTestNonlinearVjp_${backend}`,
        arity: 1,
        infer: ([t]) => t,
        kernel: ([t]) => t.clone(),
        vjp: ({ dy }) => [dy.mul(dy)],
      });
      const g = new Graph();
      const x = g.input('x', [2], 'float64');
      expect(() => jvp([bad(x)], [x], [x])).toThrow(/needs a VJP linear in dy/);
    });

    it('goes through customGrad by the user’s VJP, not through f', () => {
      // f = x³ but the rule claims 2·dy: forward mode follows the rule, as reverse mode does
      const odd = customGrad((x: Sym) => x.mul(x).mul(x), (_x: Sym, _y: Sym, dy: Sym) => [dy.mul(2)]);
      const g = new Graph();
      const x = g.input('x', [2], 'float64');
      const [t] = jvp([odd(x)], [x], [g.constant(f64([1, 3]))]);
      expect(run(g, [t], { x: f64([5, 7]) })[0].toArray()).toEqual([2, 6]);
    });
  });

  describe('hvp', () => {
    it('fwd-rev and rev-rev agree; fwd-rev is the default unless an op lacks a JVP rule', () => {
      const g = new Graph();
      const x = g.input('x', [4], 'float64');
      const v = g.input('v', [4], 'float64');
      const y = x.tanh().mul(x.exp()).sum().add(x.square().sum().sqrt());
      const [a] = hvp(y, [x], [v], { mode: 'fwd-rev' });
      const [b] = hvp(y, [x], [v], { mode: 'rev-rev' });
      const [c] = hvp(y, [x], [v]);
      const [fa, fb, fc] = run(g, [a, b, c], { x: f64([0.1, -0.5, 1, 2]), v: f64([1, 0, -1, 0.5]) });
      fa.data.forEach((val, i) => {
        expect(val).toBeCloseTo(fb.data[i], 12);
        expect(fc.data[i]).toBe(val); // the default is fwd-rev here: the same nodes
      });
      // with a double-VJP op on the path the default is reverse over reverse
      const yc = cube(x).sum();
      const [d] = hvp(yc, [x], [v]);
      const [e] = hvp(yc, [x], [v], { mode: 'rev-rev' });
      expect(d.id).toBe(e.id);
    });
  });

  describe('jacfwd', () => {
    it('equals jacobian, shaped [...y, ...x]', () => {
      const g = new Graph();
      const x = g.input('x', [2, 2], 'float64');
      const w = g.constant(f64([[1, 2, 3], [4, 5, 6]]));
      const y = x.matmul(w).tanh(); // [2, 3]
      const jf = jacfwd(y, x);
      const jr = jacobian(y, x);
      expect(jf.shape).toEqual([2, 3, 2, 2]);
      const [a, b] = run(g, [jf, jr], { x: f64([[0.1, -0.2], [0.3, 0.05]]) });
      a.data.forEach((val, i) => expect(val).toBeCloseTo(b.data[i], 14));
    });

    it('works with a batch dim unknown until run time in y', () => {
      const g = new Graph();
      const x = g.input('x', [null, 3], 'float64');
      const w = g.param('w', f64([0.5, -1, 2]));
      const y = x.mul(w).sin(); // [?, 3]
      const J = jacfwd(y, w); // [?, 3, 3]
      expect(J.shape).toEqual([null, 3, 3]);
      const xv = f64([[1, 2, 3], [0, -1, 0.5]]);
      const [out] = run(g, [J], { x: xv });
      // ∂y[r, i]/∂w[j] = [i = j]·cos(x·w)·x
      const wv = [0.5, -1, 2];
      for (let r = 0; r < 2; r++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const xi = xv.data[r * 3 + i];
            expect(out.data[(r * 3 + i) * 3 + j]).toBeCloseTo(i === j ? Math.cos(xi * wv[i]) * xi : 0, 14);
          }
    });
  });

  describe('vmap', () => {
    it('maps over any axis, leaves null-axis arguments shared, and puts the batch where outAxes says', () => {
      const g = new Graph();
      const x = g.input('x', [3, 4], 'float64'); // the batch of 4 along axis 1
      const s = g.input('s', [3], 'float64'); // shared
      const f = (col: Sym, shift: Sym) => [col.add(shift).square().sum(), col.mul(shift)];
      const [sums, prods] = vmap(f, { inAxes: [1, null], outAxes: [0, 1] })(x, s);
      expect(sums.shape).toEqual([4]);
      expect(prods.shape).toEqual([3, 4]);
      const xv = Tensor.randn([3, 4], 'float64', 1);
      const sv = f64([1, -2, 0.5]);
      const [a, b] = run(g, [sums, prods], { x: xv, s: sv });
      for (let j = 0; j < 4; j++) {
        let want = 0;
        for (let i = 0; i < 3; i++) {
          want += (xv.data[i * 4 + j] + sv.data[i]) ** 2;
          expect(b.data[i * 4 + j]).toBeCloseTo(xv.data[i * 4 + j] * sv.data[i], 15);
        }
        expect(a.data[j]).toBeCloseTo(want, 13);
      }
    });

    it('batches a whole layer with closed-over params as one matmul, never a loop', () => {
      const g = new Graph();
      const x = g.input('x', [null, 4], 'float64');
      const w = g.param('w', Tensor.randn([4, 5], 'float64', 2));
      const b = g.param('b', Tensor.randn([5], 'float64', 3));
      const row = (r: Sym) => r.matmul(w).add(b).tanh();
      const y = vmap(row)(x);
      expect(y.shape).toEqual([null, 5]);
      const exe = compile(g, { outputs: [y], backend: 'interpreter', passes: [] });
      const ops = Object.values(exe.program.nodes).map((n) => n.op);
      expect(ops.filter((o) => o === 'matmul')).toHaveLength(1);
      const xv = Tensor.randn([6, 4], 'float64', 4);
      const [got] = run(g, [y], { x: xv });
      const [want] = run(g, [x.matmul(w).add(b).tanh()], { x: xv });
      got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i], 14));
    });

    it('composes: vmap of grad, grad of vmap, jvp of vmap, vmap of jvp, vmap of vmap', () => {
      const g = new Graph();
      const X = g.input('X', [2, 3, 4], 'float64');
      const w = g.param('w', Tensor.randn([4], 'float64', 5));
      const f = (r: Sym) => r.mul(w).sin().sum(); // one [4] row → a scalar
      const xv = Tensor.randn([2, 3, 4], 'float64', 6);
      const rows = (b: number, i: number) => api.reshape(api.slice(X, [b, i, 0], [1, 1, 4]), [4]);
      const want = (h: (b: number, i: number) => Sym) => api.reshape(api.concat([0, 1].flatMap((b) => [0, 1, 2].map((i) => api.expandDims(h(b, i), 0))), 0), [2, 3, ...h(0, 0).shape.map((d) => d!)]);
      const nested = vmap(vmap(f)); // [2, 3, 4] → [2, 3]
      const vGrad = vmap(vmap((r: Sym) => grad(f(r), [r])[0])); // per-row input gradients
      const gVmap = grad(nested(X).sum(), [w])[0];
      const t = g.constant(Tensor.ones([2, 3, 4], 'float64'));
      const jVmap = jvp([nested(X)], [X], [t])[0];
      const vJvp = vmap(vmap((r: Sym) => jvp([f(r)], [r], [g.constant(Tensor.ones([4], 'float64'))])[0]));
      const outs = [nested(X), want((b, i) => f(rows(b, i))), vGrad(X), want((b, i) => grad(f(rows(b, i)), [X])[0].slice([b, i, 0], [1, 1, 4]).reshape([4])), gVmap, grad(want((b, i) => f(rows(b, i))).sum(), [w])[0], jVmap, vJvp(X)];
      const r = run(g, outs, { X: xv });
      for (let k = 0; k < r.length; k += 2) {
        expect(r[k].shape).toEqual(r[k + 1].shape);
        r[k].data.forEach((v, i) => expect(v).toBeCloseTo(r[k + 1].data[i], 13));
      }
    });

    it('int inputs (labels) batch, and a batch size unknown until run time works', () => {
      const g = new Graph();
      const logits = g.input('logits', [null, 3], 'float64');
      const labels = g.input('labels', [null], 'int32');
      // per example: −log softmax(z)[label], through gather with a per-example index
      const nll = vmap((z: Sym, y: Sym) => api.gather(z.logSoftmax(), y).neg())(logits, labels);
      expect(nll.shape).toEqual([null]);
      const zv = f64([[1, 2, 3], [0, 0, 0], [3, -1, 2]]);
      const [out] = run(g, [nll], { logits: zv, labels: Tensor.from([2, 0, 1], 'int32') });
      const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
      [[1, 2, 3, 2], [0, 0, 0, 0], [3, -1, 2, 1]].forEach(([a, b, c, k], i) => expect(out.data[i]).toBeCloseTo(lse([a, b, c]) - [a, b, c][k], 14));
    });

    it('gather and scatterAdd with per-example indices, with the batch size known and unknown', () => {
      for (const batch of [4, null] as const) {
        const g = new Graph();
        const x = g.input('x', [batch, 2, 5], 'float64');
        const idx = g.input('idx', [batch, 3], 'int32');
        const picked = vmap((xe: Sym, ie: Sym) => api.gather(xe, ie, 1))(x, idx); // [B, 2, 3]
        const spread = vmap((ue: Sym, ie: Sym, xe: Sym) => api.scatterAdd(ue, ie, xe, 1))(picked, idx, x); // [B, 2, 5]
        expect(picked.shape).toEqual([batch, 2, 3]);
        const xv = Tensor.randn([4, 2, 5], 'float64', 7);
        const iv = Tensor.from([[0, 4, 4], [1, 1, 2], [3, 0, 0], [2, 2, 2]], 'int32');
        const [p, s] = run(g, [picked, spread], { x: xv, idx: iv });
        for (let b = 0; b < 4; b++)
          for (let r = 0; r < 2; r++) {
            const acc = new Array(5).fill(0);
            for (let j = 0; j < 3; j++) {
              const k = iv.data[b * 3 + j];
              const v = xv.data[(b * 2 + r) * 5 + k];
              expect(p.data[(b * 2 + r) * 3 + j]).toBe(v);
              acc[k] += v;
            }
            for (let k = 0; k < 5; k++) expect(s.data[(b * 2 + r) * 5 + k]).toBeCloseTo(acc[k], 15);
          }
      }
    });

    it('batches a customGrad with its VJP applied example by example', () => {
      // the rule normalizes dy over the example (a reduction): vmapped, each example on its own
      const scaled = customGrad((x: Sym) => x.mul(2), (_x: Sym, _y: Sym, dy: Sym) => [dy.div(dy.abs().sum())]);
      const g = new Graph();
      const X = g.input('X', [2, 3], 'float64');
      const r = g.constant(f64([[1, 2, 3], [4, 5, -6]]));
      const y = vmap(scaled)(X);
      const [dX] = grad(y.mul(r).sum(), [X]);
      const [val, dx] = run(g, [y, dX], { X: f64([[1, 2, 3], [4, 5, 6]]) });
      expect(val.toArray()).toEqual([[2, 4, 6], [8, 10, 12]]);
      expect(dx.toArray()).toEqual([[1 / 6, 2 / 6, 3 / 6], [4 / 15, 5 / 15, -6 / 15]]);
    });

    it('random nodes shaped like a batched value draw per example; static-shaped ones are shared', () => {
      const g = new Graph({ seed: 3 });
      const x = g.input('x', [4, 3], 'float64');
      const [own, shared] = vmap((r: Sym) => [api.randomNormalLike(r), api.randomNormal(g, [3], { dtype: 'float64' })])(x) as Sym[];
      const [a, b] = run(g, [own, shared], { x: Tensor.zeros([4, 3], 'float64') });
      expect(a.shape).toEqual([4, 3]);
      const rowsOf = (t: Tensor) => [0, 1, 2, 3].map((i) => Array.from(t.data.slice(i * 3, i * 3 + 3)).join());
      expect(new Set(rowsOf(a)).size).toBe(4);
      expect(new Set(rowsOf(b)).size).toBe(1);
    });

    it('errors: disagreeing batch sizes, nothing batched, an op without a batching rule (named)', () => {
      const g = new Graph();
      const a = g.input('a', [3, 2], 'float64');
      const b = g.input('b', [4, 2], 'float64');
      expect(() => vmap((x: Sym, y: Sym) => x.add(y))(a, b)).toThrow(BatchError);
      expect(() => vmap((x: Sym, y: Sym) => x.add(y))(a, b)).toThrow(/batch sizes disagree/);
      expect(() => vmap((x: Sym) => x, { inAxes: [null] })(a)).toThrow(/no batch/);
      expect(() => vmap((x: Sym) => x, { inAxes: 2 })(a)).toThrow(/not an axis of argument 0/);
      try {
        vmap((x: Sym) => cube(x))(a);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(BatchError);
        expect((e as BatchError).op).toBe('transformsTestCube');
        expect((e as Error).message).toMatch(/op "transformsTestCube" has no batching rule/);
      }
    });
  });

  describe('perExampleGrads', () => {
    it('equals a loop of grad over the examples, for a two-layer net with int labels', () => {
      const g = new Graph({ seed: 1 });
      const x = g.input('x', [null, 4], 'float64');
      const y = g.input('y', [null], 'int32');
      const w1 = g.param('w1', Tensor.randn([4, 6], 'float64', 1));
      const b1 = g.param('b1', Tensor.randn([6], 'float64', 2));
      const w2 = g.param('w2', Tensor.randn([6, 3], 'float64', 3));
      const loss = ([p1, q1, p2]: Sym[], xe: Sym, ye: Sym) => {
        const logits = xe.reshape([1, 4]).matmul(p1).add(q1).tanh().matmul(p2).reshape([3]);
        return logits.logsumexp().sub(api.where(api.equal(g.constant(Tensor.from([0, 1, 2], 'int32')), ye), logits, 0).sum());
      };
      const params = [w1, b1, w2];
      const per = perExampleGrads(loss, params, [x, y]);
      expect(per.map((p) => p.shape)).toEqual([[null, 4, 6], [null, 6], [null, 6, 3]]);
      const xv = Tensor.randn([5, 4], 'float64', 9);
      const yv = Tensor.from([0, 2, 1, 1, 0], 'int32');
      const got = run(g, per, { x: xv, y: yv });
      for (let b = 0; b < 5; b++) {
        const xb = api.reshape(api.slice(x, [b, 0], [1, 4]), [4]);
        const yb = api.reshape(api.slice(y, [b], [1]), []);
        const want = run(g, grad(loss(params, xb, yb), params), { x: xv, y: yv });
        want.forEach((t, k) => t.data.forEach((v, i) => expect(got[k].data[b * t.size + i]).toBeCloseTo(v, 13)));
      }
    });

    it('takes the batch along another axis, and refuses a loss that is not a scalar', () => {
      const g = new Graph();
      const xT = g.input('xT', [3, 5], 'float64'); // examples along axis 1
      const w = g.param('w', f64([1, -1, 2]));
      const [dw] = perExampleGrads(([p], xe) => xe.mul(p).sin().sum(), [w], [xT], { batchAxis: 1 });
      expect(dw.shape).toEqual([5, 3]);
      const xv = Tensor.randn([3, 5], 'float64', 2);
      const [out] = run(g, [dw], { xT: xv });
      for (let b = 0; b < 5; b++) for (let i = 0; i < 3; i++) {
        const xi = xv.data[i * 5 + b];
        expect(out.data[b * 3 + i]).toBeCloseTo(Math.cos(xi * [1, -1, 2][i]) * xi, 14);
      }
      expect(() => perExampleGrads(([p], xe) => xe.mul(p), [w], [xT], { batchAxis: 1 })).toThrow(/must return a scalar/);
    });
  });
});

describe('the registry requires both rules', () => {
  it('registerOp refuses an op without jvp or batch; defineOp fills them in', () => {
    const base = { arity: 1, kind: 'other' as const, traits: traits(), doc: 'x', attrs: () => ({}), infer: ([t]: readonly TypeInfo[]) => t, kernel: ([t]: readonly Tensor[]) => t.clone(), vjp: notDifferentiable };
    // the type requires both rules: `tsc -b` fails if this line compiles
    // @ts-expect-error jvp and batch are missing
    const incomplete: OpDef = { ...base, name: 'transformsTestNoRules' };
    expect(() => registerOp(incomplete)).toThrow(/missing jvp, batch/);
    expect(() => registerOp({ ...base, name: 'transformsTestHalf', jvp: () => null, batch: () => ({}) } as never)).toThrow(/must both be rules or both notDifferentiable/);
    defineOp({ ...base, name: 'transformsTestFilled' });
    const def = getOp('transformsTestFilled');
    expect(def.jvp).toBe(notDifferentiable);
    expect(derivation(def.batch)).toBe('none');
  });
});
