import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  compile,
  concat,
  customGrad,
  defineOp,
  grad,
  gradcheck,
  Graph,
  GradError,
  hessian,
  hvp,
  jacobian,
  notDifferentiable,
  Tensor,
  fillUniform,
  verifyGraph,
  type Backend,
  type Sym,
  type TypeInfo,
} from './index';

/** Runs outputs on one backend; every describe below runs on both (the interpreter is the oracle). */
const runOn = (backend: Backend) => (g: Graph, outs: Sym[], feeds: Record<string, Tensor> = {}) => compile(g, { outputs: outs, backend }).run(feeds);

// cube(x) = x³ as a user primitive (registered once, used on both backends), d = 3x²·dy
let cubeOp: ReturnType<typeof defineOp> | undefined;
const cubeDef = () =>
  (cubeOp ??= defineOp({
    name: 'testCube',
    arity: 1,
    kind: 'elementwise',
    doc: 'x³',
    infer: ([x]) => x,
    kernel: ([x], _a, ctx) => {
      const out = new Tensor(ctx.out.dtype, ctx.out.shape);
      for (let i = 0; i < x.size; i++) out.data[i] = x.data[i] ** 3;
      return out;
    },
    vjp: ({ inputs: [x], dy }) => [dy.mul(x.mul(x)).mul(3)],
  }));

describe.each(BACKENDS)('grad (%s backend)', (backend) => {
  const run = runOn(backend);
  it('d/dx through d³/dx³ of tanh match closed forms in float64', () => {
    // t = tanh x: t' = 1 − t², t'' = −2t(1 − t²), t''' = (1 − t²)(6t² − 2)
    for (const x0 of [-2, -0.7, 0, 0.3, 1.5]) {
      const g = new Graph();
      const x = g.input('x', [], 'float64');
      const y = x.tanh();
      const [d1] = grad(y, [x]);
      const [d2] = grad(d1, [x]);
      const [d3] = grad(d2, [x]);
      const [v1, v2, v3] = run(g, [d1, d2, d3], { x: Tensor.from(x0, 'float64') }).map((t) => t.item());
      const t = Math.tanh(x0);
      expect(v1).toBeCloseTo(1 - t * t, 14);
      expect(v2).toBeCloseTo(-2 * t * (1 - t * t), 14);
      expect(v3).toBeCloseTo((1 - t * t) * (6 * t * t - 2), 13);
      verifyGraph(g);
    }
  });

  it('sums broadcast gradients back: sum(a·b) with b broadcast over rows', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3], 'float64');
    const b = g.input('b', [3], 'float64');
    const [da, db] = grad(a.mul(b).sum(), [a, b]);
    expect(da.shape).toEqual([2, 3]);
    expect(db.shape).toEqual([3]);
    const A = Tensor.from([[1, 2, 3], [4, 5, 6]], 'float64');
    const B = Tensor.from([10, 20, 30], 'float64');
    const [vda, vdb] = run(g, [da, db], { a: A, b: B });
    expect(vda.toArray()).toEqual([[10, 20, 30], [10, 20, 30]]);
    expect(vdb.toArray()).toEqual([5, 7, 9]);
  });

  it('un-broadcasts against dims known only at run time', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const b = g.param('b', Tensor.from([[1, 2, 3]], 'float64'));
    const c = g.param('c', Tensor.from(2, 'float64'));
    const [db, dc] = grad(x.add(b).mul(c).sum(), [b, c]);
    expect(db.shape).toEqual([1, 3]);
    const [vdb, vdc] = run(g, [db, dc], { x: Tensor.from([[1, 1, 1], [2, 2, 2]], 'float64') });
    expect(vdb.toArray()).toEqual([[4, 4, 4]]);
    expect(vdc.item()).toBe(2 + 3 + 4 + 3 + 4 + 5); // Σ(x + b)
  });

  it('refuses a non-scalar y without dy, and takes dy when given', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    const y = x.mul(x);
    expect(() => grad(y, [x])).toThrow(GradError);
    expect(() => grad(y, [x])).toThrow(/y has shape \[3\], not a scalar: reduce it .* or pass dy/);
    const dy = g.constant(Tensor.from([1, 0, 2], 'float64'));
    const [dx] = grad(y, [x], dy);
    expect(run(g, [dx], { x: Tensor.from([1, 2, 3], 'float64') })[0].toArray()).toEqual([2, 0, 12]);
    expect(() => grad(y, [x], g.constant(Tensor.from([1, 2], 'float64')))).toThrow(/dy is float64\[2\] but y is float64\[3\]/);
  });

  it('gives zeros of its shape to an x that y does not depend on', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const z = g.input('z', [null, 2], 'float64');
    const [dx, dz] = grad(x.sum(), [x, z]);
    const [vx, vz] = run(g, [dx, dz], { x: Tensor.from([1, 2], 'float64'), z: Tensor.zeros([3, 2], 'float64') });
    expect(vx.toArray()).toEqual([1, 1]);
    expect(vz.toArray()).toEqual([[0, 0], [0, 0], [0, 0]]);
  });

  it('refuses integer xs and outputs', () => {
    const g = new Graph();
    const i = g.input('i', [2], 'int32');
    expect(() => grad(i.cast('float32').sum(), [i])).toThrow(/only float inputs have gradients/);
    expect(() => grad(i.sum(), [])).toThrow(/only float outputs can be differentiated/);
  });

  it('records adjointOf on every gradient node', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const h = x.sin();
    const y = h.mul(h).sum();
    const before = g.size;
    grad(y, [x]);
    const created = g.nodes.slice(before);
    expect(created.length).toBeGreaterThan(0);
    for (const n of created) expect(n.adjointOf, `${n.op} %${n.id}`).toBeDefined();
    const sinAdjoints = created.filter((n) => n.adjointOf === h.id);
    expect(sinAdjoints.some((n) => n.op === 'cos')).toBe(true);
    for (const n of g.nodes.slice(0, before)) expect(n.adjointOf).toBeUndefined();
  });

  it('blocks gradients through stopGradient and non-differentiable ops', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    const y = x.mul(x.stopGradient()).sum().add(x.argmax().cast('float64'));
    const [dx] = grad(y, [x]);
    expect(run(g, [dx], { x: Tensor.from([1, 2, 3], 'float64') })[0].toArray()).toEqual([1, 2, 3]);
  });

  it('supports gradients with respect to intermediate nodes', () => {
    const g = new Graph();
    const x = g.input('x', [], 'float64');
    const h = x.mul(3);
    const [dh, dx] = grad(h.mul(h), [h, x]);
    const [vh, vx] = run(g, [dh, dx], { x: Tensor.from(2, 'float64') });
    expect(vh.item()).toBe(12);
    expect(vx.item()).toBe(36);
  });
});

describe.each(BACKENDS)('custom gradients and ops (%s backend)', (backend) => {
  const run = runOn(backend);
  it('customGrad replaces the gradient and passes gradcheck to order 2', () => {
    // log(1+eˣ) with a hand-written VJP σ(x)
    const softplus = customGrad((x: Sym) => x.exp().add(1).log(), (x, _y, dy) => [dy.mul(x.sigmoid())]);
    expect(gradcheck((x) => softplus(x).sum(), [Tensor.randn([5], 'float64', 1)], { order: 2, compile: { backend } }).ok).toBe(true);
    // the custom rule is used, not the derivative of f's own nodes
    const lying = customGrad((x: Sym) => x.mul(2), (_x, _y, dy) => [dy.mul(5)]);
    const g = new Graph();
    const x = g.input('x', [], 'float64');
    const [dx] = grad(lying(x), [x]);
    expect(run(g, [dx], { x: Tensor.from(1, 'float64') })[0].item()).toBe(5);
  });

  it('customGrad with two inputs, and a clear error for a malformed rule', () => {
    const f = customGrad((a: Sym, b: Sym) => a.mul(b), (a, b, _y, dy) => [dy.mul(b), dy.mul(a)]);
    expect(gradcheck((a, b) => f(a, b).sin().sum(), [Tensor.randn([3], 'float64', 2), Tensor.randn([3], 'float64', 3)], { order: 2, compile: { backend } }).ok).toBe(true);
    const broken = customGrad((a: Sym, b: Sym) => a.add(b), (_a, _b, _y, dy) => [dy]);
    const g = new Graph();
    const a = g.input('a', [], 'float64');
    expect(() => grad(broken(a, a.mul(2)), [a])).toThrow(/returned 1 gradients for 2 inputs/);
  });

  it('customGrad: a param used inside f but not passed is refused (its gradient would be a silent zero); passed, it works', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    const w = g.param('w', Tensor.from([1, 2, 3], 'float64'));
    const inside = customGrad((a: Sym) => a.mul(w), (_a, _y, dy) => [dy.mul(w)]);
    expect(() => grad(inside(x).sum(), [w])).toThrow(/"w" is used inside custom function "custom" without being one of its arguments, so its gradient would silently be zero .*: pass it as an argument/);
    // the same function with w as an argument: both gradients from the rule
    const passed = customGrad((a: Sym, p: Sym) => a.mul(p), (a, p, _y, dy) => [dy.mul(p), dy.mul(a)], { name: 'scaled' });
    const [dx, dw] = grad(passed(x, w).sum(), [x, w]);
    const [vx, vw] = run(g, [dx, dw], { x: Tensor.from([4, 5, 6], 'float64') });
    expect(vx.toArray()).toEqual([1, 2, 3]);
    expect(vw.toArray()).toEqual([4, 5, 6]);
    // asking only for x is fine even when f closes over w
    expect(run(g, [grad(inside(x).sum(), [x])[0]], { x: Tensor.from([4, 5, 6], 'float64') })[0].toArray()).toEqual([1, 2, 3]);
    // a gradient of the wrong shape names the custom rule and the shapes
    const wrong = customGrad((a: Sym) => a.sin(), (_a, _y, dy) => [dy.sum()], { name: 'wrongShape' });
    expect(() => grad(wrong(x).sum(), [x])).toThrow(/^customGrad: the custom VJP "wrongShape" returned a gradient of shape \[\] for input 0 \(input "x" of shape \[3\]\), expected \[3\]/);
  });

  it('defineOp adds a primitive with kernel, shape rule and VJP that passes gradcheck to order 2', () => {
    const cube = cubeDef();
    const r = gradcheck((x) => cube(x).sum(), [Tensor.randn([2, 3], 'float64', 4)], { order: 2, compile: { backend } });
    expect(r.ok).toBe(true);
    const g = new Graph();
    expect(() => cube(g.input('b', [2], 'float64'), g.input('c', [2], 'float64'))).toThrow(/takes 1 inputs, got 2/);
  });

  it('a user random op (kind random, a key from g.randomKey) draws new numbers each run, reproducibly', () => {
    const name = `testCoin_${backend}`;
    defineOp({
      name,
      arity: 0,
      kind: 'random',
      infer: (_ins, a) => ({ dtype: 'float32', shape: a.shape as number[] }),
      kernel: (_ins, _a, ctx) => {
        const out = new Tensor('float32', ctx.out.shape);
        fillUniform(out.data, 'float32', ctx.random!);
        return out;
      },
      vjp: notDifferentiable,
    });
    // an op with no inputs is applied through the graph; each key is its own stream
    const g = new Graph({ seed: 3 });
    const a = g.apply(name, [], { shape: [16], key: g.randomKey('coin') });
    const exe = compile(g, { outputs: [a], backend });
    const first = Array.from(exe.run()[0].data);
    const second = Array.from(exe.run()[0].data);
    expect(second).not.toEqual(first);
    expect(g.rngCounter).toBe(2);
    const h = new Graph({ seed: 3 });
    const b = h.apply(name, [], { shape: [16], key: h.randomKey('coin') });
    expect(Array.from(compile(h, { outputs: [b], backend }).run()[0].data)).toEqual(first);
  });

  it('defineOp refuses incomplete definitions and duplicate names', () => {
    expect(() => defineOp({ name: 'testBroken', infer: (ts: readonly TypeInfo[]) => ts[0] } as never)).toThrow(/missing kernel, vjp/);
    expect(() => defineOp({ name: 'add', infer: ([x]) => x, kernel: ([x]) => x, vjp: notDifferentiable })).toThrow(/already registered/);
  });
});

describe.each(BACKENDS)('higher-order helpers (%s backend)', (backend) => {
  const run = runOn(backend);
  it('a Hessian-vector product matches finite differences of the gradient', () => {
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    const v = g.input('v', [3], 'float64');
    const y = x.mul(x).sin().sum().add(x.exp().mul(x).sum());
    const [hv] = hvp(y, [x], [v]);
    const [gx] = grad(y, [x]);
    const exeHv = compile(g, { outputs: [hv], backend });
    const exeG = compile(g, { outputs: [gx], backend });
    const x0 = [0.3, -0.5, 1.1];
    const v0 = [1, 2, -0.5];
    const eps = 1e-5;
    const gradAt = (s: number) => exeG.run({ x: Tensor.from(x0.map((xi, i) => xi + s * v0[i]), 'float64') })[0].data;
    const gp = gradAt(eps);
    const gm = gradAt(-eps);
    const fd = [...gp].map((p, i) => (p - gm[i]) / (2 * eps));
    const got = exeHv.run({ x: Tensor.from(x0, 'float64'), v: Tensor.from(v0, 'float64') })[0].data;
    fd.forEach((d, i) => expect(got[i]).toBeCloseTo(d, 7));
  });

  it('jacobian and hessian of small functions', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    // y = [x0·x1, x0²]: J = [[x1, x0], [2x0, 0]]
    const x0 = x.slice([0], [1]);
    const x1 = x.slice([1], [1]);
    const J = jacobian(concat([x0.mul(x1), x0.mul(x0)]), x);
    expect(J.shape).toEqual([2, 2]);
    const [vj] = run(g, [J], { x: Tensor.from([3, 5], 'float64') });
    expect(vj.toArray()).toEqual([[5, 3], [6, 0]]);
    // H of x0²·x1: [[2x1, 2x0], [2x0, 0]]
    const H = hessian(x0.mul(x0).mul(x1).sum(), x);
    expect(run(g, [H], { x: Tensor.from([3, 5], 'float64') })[0].toArray()).toEqual([[10, 6], [6, 0]]);
  });
});

/**
 * Gradients of inputs broadcast along a dim known only at run time (issue 12, item 1): two `null`
 * dims are not the same dim, so the gradient sums at run time where the static shapes can't
 * tell; where they can (the same run-time dim, or an op that cannot broadcast), it doesn't.
 */
describe.each(BACKENDS)('gradients with dims known only at run time (%s backend)', (backend) => {
  const run = runOn(backend);

  it('the issue: a = [null], b = [null], d sum(a·b)/db fed a = [1,2,3,4], b = [2] is [10]', () => {
    const g = new Graph();
    const a = g.input('a', [null], 'float64');
    const b = g.input('b', [null], 'float64');
    const [ga, gb] = grad(a.mul(b).sum(), [a, b]);
    const [va, vb] = run(g, [ga, gb], { a: Tensor.from([1, 2, 3, 4], 'float64'), b: Tensor.from([2], 'float64') });
    expect(vb.shape).toEqual([1]);
    expect(Array.from(vb.data)).toEqual([10]);
    expect(Array.from(va.data)).toEqual([2, 2, 2, 2]);
    // and the other way round, and with equal sizes (nothing broadcast)
    const [wa, wb] = run(g, [ga, gb], { a: Tensor.from([3], 'float64'), b: Tensor.from([1, 2, 3], 'float64') });
    expect([Array.from(wa.data), Array.from(wb.data)]).toEqual([[6], [3, 3, 3]]);
    const [xa, xb] = run(g, [ga, gb], { a: Tensor.from([1, 2], 'float64'), b: Tensor.from([5, 7], 'float64') });
    expect([Array.from(xa.data), Array.from(xb.data)]).toEqual([[5, 7], [1, 2]]);
  });

  it('the trees that crashed in kernels: matmul, scatterAdd and a broadcast chain with open dims', () => {
    const g = new Graph();
    const x = g.input('x', [null, null], 'float64');
    const w = g.input('w', [null, null], 'float64');
    const s = g.input('s', [null], 'float64');
    // x·s broadcasts s along x's rows; (x·s)ᵀ·w needs the summed gradient of s, shaped like s
    const y = x.mul(s).matmul(w).tanh().sum();
    const [gx, gw, gs] = grad(y, [x, w, s]);
    const feeds = { x: Tensor.randn([4, 3], 'float64', 1), w: Tensor.randn([3, 2], 'float64', 2), s: Tensor.randn([1], 'float64', 3) };
    const [vx, vw, vs] = run(g, [gx, gw, gs], feeds);
    expect([vx.shape, vw.shape, vs.shape]).toEqual([[4, 3], [3, 2], [1]]);
    // against the same graph with static shapes
    const h = new Graph();
    const hx = h.input('x', [4, 3], 'float64');
    const hw = h.input('w', [3, 2], 'float64');
    const hs = h.input('s', [1], 'float64');
    const want = run(h, grad(hx.mul(hs).matmul(hw).tanh().sum(), [hx, hw, hs]), feeds);
    [vx, vw, vs].forEach((t, i) => Array.from(t.data).forEach((v, k) => expect(v).toBeCloseTo(want[i].data[k], 12)));
  });

  it('no run-time sum where the shapes decide: a batch dim shared by relu, bias and matmul', () => {
    const g = new Graph();
    const x = g.input('x', [null, 4], 'float64');
    const w = g.param('w', Tensor.randn([4, 3], 'float64', 5));
    const b = g.param('b', Tensor.randn([3], 'float64', 6));
    const z = x.matmul(w).add(b);
    const h = concat([z.greater(0).cast('float64').mul(z), z.mul(2)], 1); // relu, written out
    const grads = grad(h.square().mean(), [x, w, b]);
    const ops = compile(g, { outputs: grads, backend }).source;
    expect(Object.values(ops.nodes).filter((n) => n.op === 'sumLike')).toEqual([]);
    // reductions keep the batch dim's name: a softmax and a centering written by hand
    const g2 = new Graph();
    const v = g2.input('v', [null, 3], 'float64');
    const e = v.exp();
    const centered = v.sub(v.mean(-1, true));
    const loss = e.div(e.sum(-1, true)).mul(centered.div(centered.square().mean(-1, true).add(1e-5).sqrt())).sum();
    const [dv] = grad(loss, [v]);
    expect(Object.values(compile(g2, { outputs: [dv], backend }).source.nodes).filter((n) => n.op === 'sumLike')).toEqual([]);
  });
});

describe.each(BACKENDS)('custom VJPs: wrong shapes and errors are named (%s backend)', (backend) => {
  it('a custom VJP returning [3,3] for a [3] input is a GradError naming op, input and both shapes', () => {
    const wrong = customGrad((x: Sym) => x.sin(), (x, _y, dy) => [dy.reshape([3, 1]).mul(x)], { name: 'wrongShape' });
    const g = new Graph();
    const x = g.input('x', [3], 'float64');
    let err: unknown;
    try {
      grad(wrong(x).sum(), [x]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GradError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/customGrad: the custom VJP "wrongShape" returned a gradient of shape \[3,3\] for input 0 \(input "x" of shape \[3\]\), expected \[3\]/);
    expect(msg).toMatch(/autodiff\.test\.ts/); // the line that built the custom node
    // a gradient in the broadcast output shape is fine: the loop sums it down
    const scaled = customGrad((a: Sym, m: Sym) => a.mul(m), (_a, m, _y, dy) => [dy.mul(m), null], { name: 'scaledRows' });
    const h = new Graph();
    const a = h.input('a', [3], 'float64');
    const m = h.input('m', [2, 3], 'float64');
    const [da] = grad(scaled(a, m).sum(), [a]);
    const [v] = compile(h, { outputs: [da], backend }).run({ a: Tensor.from([1, 2, 3], 'float64'), m: Tensor.from([[1, 2, 3], [4, 5, 6]], 'float64') });
    expect(Array.from(v.data)).toEqual([5, 7, 9]);
  });

  it('built-in rules keep their broadcast gradients (matmul batch dims, broadcastTo, add)', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3, 4], 'float64');
    const w = g.input('w', [4, 5], 'float64');
    const c = g.input('c', [1, 5], 'float64');
    const [dw, dc] = grad(a.matmul(w).add(c).broadcastTo([6, 2, 3, 5]).sum(), [w, c]);
    expect([dw.shape, dc.shape]).toEqual([[4, 5], [1, 5]]);
  });

  it('a VJP that throws is wrapped with the op, scope and source line', () => {
    const boom = customGrad((x: Sym) => x.exp(), () => {
      throw new TypeError('cannot read properties of undefined');
    }, { name: 'boom' });
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const y = g.scope('layer', () => boom(x));
    let err: unknown;
    try {
      grad(y.sum(), [x]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GradError);
    const e = err as GradError;
    expect(e.message).toMatch(/^customGrad: the custom VJP "boom" threw TypeError: cannot read properties of undefined/);
    expect(e.scope).toBe('layer');
    expect(e.origin).toMatch(/autodiff\.test\.ts:\d+/);
    expect((e as { cause?: unknown }).cause).toBeInstanceOf(TypeError);
    // a defineOp rule likewise
    const bad = defineOp({ name: `testThrowingVjp_${backend}`, arity: 1, kind: 'elementwise', infer: ([t]) => t, kernel: ([t]) => t.clone(), vjp: () => { throw new Error('no rule yet'); } });
    const h = new Graph();
    const z = h.input('z', [2], 'float64');
    expect(() => grad(bad(z).sum(), [z])).toThrow(/testThrowingVjp_\w+: the VJP rule of testThrowingVjp_\w+ threw Error: no rule yet[\s\S]*autodiff\.test\.ts/);
  });
});
