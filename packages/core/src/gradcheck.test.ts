import { describe, expect, it } from 'vitest';
import { customGrad, defineOp, grad, Graph, Sym, Tensor, gradcheck, assertGradcheck, GradcheckError, where, maximum, randomUniformLike, formatReport } from './index';

const randn = (shape: number[], seed: number) => Tensor.randn(shape, 'float64', seed);

describe('gradcheck', () => {
  it('passes a smooth function to order 2 with broadcasting and reports no kinks', () => {
    const r = gradcheck((a, b) => a.mul(b).sin().sum(), [randn([3, 2], 1), randn([2], 2)], { order: 2 });
    expect(r.ok).toBe(true);
    expect(r.kinks).toEqual([]);
    expect(r.inputs.map((i) => i.byOrder.length)).toEqual([2, 2]);
    expect(r.inputs[0].byOrder[1].checked).toBe(6);
    expect(r.inputs[0].byOrder[0].maxAbsError).toBeLessThan(1e-8);
  });

  it('checks a non-scalar output through a random projection', () => {
    const r = gradcheck((a) => a.tanh().matmul(a.T), [randn([3, 4], 3)], { order: 3 });
    expect(r.ok).toBe(true);
    expect(r.inputs[0].byOrder.map((o) => o.order)).toEqual([1, 2, 3]);
  });

  it('fails a VJP that is off by 1e-4 relative, with default options', () => {
    const cube = customGrad((x) => x.mul(x).mul(x), (x, _y, dy) => [dy.mul(x.mul(x)).mul(3 * (1 + 1e-4))]);
    const r = gradcheck((x) => cube(x).sum(), [randn([5], 4)]);
    expect(r.ok).toBe(false);
    const w = r.inputs[0].byOrder[0].worst!;
    expect(Math.abs(w.analytic / w.numeric - 1)).toBeGreaterThan(5e-5);
  });

  it('fails a plainly wrong VJP, and the exact one passes to order 2', () => {
    const wrong = customGrad((x) => x.sin(), (x, _y, dy) => [dy.mul(x.sin())]);
    expect(gradcheck((x) => wrong(x).sum(), [randn([4], 5)]).ok).toBe(false);
    const right = customGrad((x) => x.sin(), (x, _y, dy) => [dy.mul(x.cos())]);
    expect(gradcheck((x) => right(x).sum(), [randn([4], 5)], { order: 2 }).ok).toBe(true);
  });

  it('fails a VJP that is wrong only at second order', () => {
    // the first-order rule is right in value, but built from stopGradient'ed pieces
    const f = customGrad((x) => x.exp(), (x, _y, dy) => [dy.mul(x.exp().stopGradient())]);
    expect(gradcheck((x) => f(x).sum(), [randn([3], 6)]).ok).toBe(true);
    const r = gradcheck((x) => f(x).sum(), [randn([3], 6)], { order: 2 });
    expect(r.ok).toBe(false);
    expect(r.inputs[0].byOrder[0].ok).toBe(true);
    expect(r.inputs[0].byOrder[1].ok).toBe(false);
  });

  it('accepts relu at exactly 0 and reports the kink', () => {
    const r = gradcheck((x) => where(x.greater(0), x, 0).sum(), [Tensor.from([-1, 0, 2], 'float64')]);
    expect(r.ok).toBe(true);
    expect(r.kinks).toHaveLength(1);
    expect(r.kinks[0]).toMatchObject({ input: 'x0', element: 1, analytic: 0 });
    expect(r.kinks[0].left).toBeCloseTo(0, 6);
    expect(r.kinks[0].right).toBeCloseTo(1, 6);
  });

  it('accepts |x| at 0 and max ties, reporting them as kinks', () => {
    const abs = gradcheck((x) => x.abs().sum(), [Tensor.from([0, 1.5], 'float64')]);
    expect(abs.ok).toBe(true);
    expect(abs.kinks.map((k) => k.element)).toEqual([0]);
    const tie = gradcheck((a, b) => maximum(a, b).sum(), [Tensor.from([1, 2], 'float64'), Tensor.from([1, 0], 'float64')]);
    expect(tie.ok).toBe(true);
    expect(tie.kinks.map((k) => [k.input, k.element])).toEqual([['x0', 0], ['x1', 0]]);
    expect(tie.kinks[0].analytic).toBe(0.5);
    const rmax = gradcheck((x) => x.max().mul(1), [Tensor.from([3, 1, 3], 'float64')]);
    expect(rmax.ok).toBe(true);
    expect(rmax.kinks.length).toBe(2);
  });

  it('treats the jump of relu\'s derivative at order 2 as a kink', () => {
    const r = gradcheck((x) => where(x.greater(0), x, 0).sum(), [Tensor.from([0, 1.5, -2], 'float64')], { order: 2 });
    expect(r.ok).toBe(true);
    expect(r.kinks.map((k) => [k.order, k.element, k.jump])).toEqual([[1, 0, false], [2, 0, true]]);
    // a smooth function has no jumps and no kinks at any order
    expect(gradcheck((x) => x.mul(x).exp().sum(), [Tensor.from([0, 0.5], 'float64')], { order: 3 }).kinks).toEqual([]);
  });

  it('handles a jump in the second derivative (x²·[x>0] at 0) without a false failure', () => {
    const f = (x: Sym) => where(x.greater(0), x, 0).mul(x).sum();
    const r = gradcheck(f, [Tensor.from([0, 1.5, -2], 'float64')], { order: 2 });
    expect(r.ok).toBe(true);
    // first order: differentiable everywhere, so no kink; second order: a kink at 0
    expect(r.kinks.map((k) => [k.order, k.element, k.jump])).toEqual([[2, 0, false]]);
    // and a wrong VJP at that very point still fails
    const wrong = customGrad((x) => where(x.greater(0), x, 0).mul(x), (x, _y, dy) => [dy.mul(where(x.greater(0), x, 0)).mul(2).add(dy.mul(1e-3))]);
    expect(gradcheck((x) => wrong(x).sum(), [Tensor.from([0, 1.5], 'float64')]).ok).toBe(false);
  });

  it('finds kinks whose slope change is small (1e-4·relu at 0)', () => {
    const r = gradcheck((x) => where(x.greater(0), x, 0).mul(1e-4).sum(), [Tensor.from([0, 2], 'float64')]);
    expect(r.ok).toBe(true);
    expect(r.kinks.map((k) => k.element)).toEqual([0]);
    // while a smooth function with the same small slopes is held to the usual tolerance
    const off = customGrad((x) => x.mul(1e-4), (_x, _y, dy) => [dy.mul(1e-4 * 1.01)]);
    expect(gradcheck((x) => off(x).sum(), [Tensor.from([0, 2], 'float64')], { atol: 1e-12 }).ok).toBe(false);
  });

  it('rejects an analytic value outside the one-sided slopes at a kink', () => {
    const bad = customGrad((x) => where(x.greater(0), x, 0), (x, _y, dy) => [dy.mul(2)]);
    const r = gradcheck((x) => bad(x).sum(), [Tensor.from([0], 'float64')]);
    expect(r.ok).toBe(false);
    expect(r.kinks).toHaveLength(1);
  });

  it('checks large inputs by random projections', () => {
    const x = randn([40, 30], 7);
    const r = gradcheck((a) => a.mul(a).tanh().sum(), [x]);
    expect(r.inputs[0].mode).toBe('projection');
    expect(r.inputs[0].byOrder[0].checked).toBe(8);
    expect(r.ok).toBe(true);
    const off = customGrad((a) => a.mul(a), (a, _y, dy) => [dy.mul(a).mul(2.001)]);
    expect(gradcheck((a) => off(a).sum(), [x]).ok).toBe(false);
  });

  it('checks the params a function creates, to order 2', () => {
    const fn = (x: ReturnType<Graph['input']>) => {
      const w = x.graph.param('w', Tensor.from([0.3, -0.7, 1.1], 'float64'));
      return x.mul(w).tanh().mul(w).sum();
    };
    const r = gradcheck(fn, [randn([2, 3], 8)], { order: 2 });
    expect(r.ok).toBe(true);
    expect(r.inputs.map((i) => i.name)).toEqual(['x0', 'w']);
    const wrong = customGrad((x, w) => x.mul(w), (_x, w, _y, dy) => [dy.mul(w), dy.mul(w)]);
    const r2 = gradcheck((x) => wrong(x, x.graph.param('w', Tensor.from([0.5, 2, -1], 'float64'))).sum(), [randn([3], 9)]);
    expect(r2.inputs.find((i) => i.name === 'x0')!.ok).toBe(true);
    expect(r2.inputs.find((i) => i.name === 'w')!.ok).toBe(false);
  });

  it('holds random nodes fixed across evaluations', () => {
    const r = gradcheck((x) => x.mul(randomUniformLike(x).greater(0.5).cast('float64')).sin().sum(), [randn([20], 10)], { order: 2 });
    expect(r.ok).toBe(true);
  });

  it('compiles twice per order, never per perturbation', () => {
    const r = gradcheck((x) => x.exp().sum(), [randn([100], 11)], { order: 2 });
    expect(r.compilations).toBe(4);
    expect(r.evaluations).toBe(2 * (2 * 100 + 1));
  });

  it('converts float32 inputs to float64', () => {
    const r = gradcheck((x) => x.sigmoid().sum(), [Tensor.randn([4], 'float32', 1)]);
    expect(r.ok).toBe(true);
  });

  it('assertGradcheck names the input, the worst element and both values', () => {
    const wrong = customGrad((x) => x.mul(x), (x, _y, dy) => [dy.mul(x)]);
    let err: unknown;
    try {
      assertGradcheck((a, b) => wrong(a).add(b).sum(), [Tensor.from([[1, 2], [3, 4]], 'float64'), randn([2], 1)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GradcheckError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/x0 \[2,2\] order 1: FAILED/);
    expect(msg).toMatch(/worst at element \[1,1\]: analytic 4\.0+\d*, numeric 8\.0+\d*/);
    expect(msg).toMatch(/x1 \[2\] order 1: ok/);
    expect(msg).toMatch(/gradcheck\.test\.ts/);
    expect((err as GradcheckError).report.ok).toBe(false);
  });

  it('refuses bad arguments clearly', () => {
    expect(() => gradcheck((x) => x.sum(), [[1, 2] as unknown as Tensor])).toThrow(/array of Tensors/);
    expect(() => gradcheck((x) => x.sum(), [randn([2], 1)], { order: 0 })).toThrow(/order must be a positive integer/);
    expect(() => gradcheck((x) => x.greater(0), [randn([2], 1)])).toThrow(/returned bool/);
  });

  it('agrees with grad on a hand-computed case', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const [dx] = grad(x.mul(x).sum(), [x]);
    expect(dx.shape).toEqual([2]);
  });

  // ---- forward mode (modes: ['fwd']) --------------------------------------------------------

  it("checks JVPs against the same central differences with modes ['rev', 'fwd'], evaluations shared", () => {
    const fn = (a: Sym, b: Sym) => a.mul(b).sin().sum();
    const both = gradcheck(fn, [randn([3, 2], 1), randn([2], 2)], { order: 2, modes: ['rev', 'fwd'] });
    const rev = gradcheck(fn, [randn([3, 2], 1), randn([2], 2)], { order: 2 });
    expect(both.ok).toBe(true);
    expect(both.inputs[0].byOrder.map((o) => [o.order, o.ad])).toEqual([[1, 'rev'], [1, 'fwd'], [2, 'rev'], [2, 'fwd']]);
    expect(both.evaluations).toBe(rev.evaluations);
    expect(both.compilations).toBe(6); // per order: the value, the gradient, the JVP
    expect(both.inputs[0].byOrder[1].maxAbsError).toBeLessThan(1e-8);
  });

  it('fails a wrong JVP that a right VJP does not reveal, and names it (jvp) in the report', () => {
    // sin with a right VJP and a JVP off by 1e-4 relative
    const sinOff = defineOp({
      name: 'gradcheckTestSinOffJvp',
      arity: 1,
      infer: ([t]) => t,
      kernel: ([t]) => new Tensor(t.dtype, t.shape, t.data.map(Math.sin)),
      vjp: ({ inputs: [x], dy }) => [dy.mul(x.cos())],
      jvp: ({ inputs: [x], tangents: [t] }) => t && t.mul(x.cos()).mul(1 + 1e-4),
    });
    const x = [randn([4], 12)];
    expect(gradcheck((a) => sinOff(a).sum(), x).ok).toBe(true);
    const r = gradcheck((a) => sinOff(a).sum(), x, { modes: ['rev', 'fwd'] });
    expect(r.ok).toBe(false);
    expect(r.inputs[0].byOrder.map((o) => [o.ad, o.ok])).toEqual([['rev', true], ['fwd', false]]);
    expect(formatReport(r)).toMatch(/x0 \[4\] order 1 \(jvp\): FAILED/);
  });

  it('applies the kink rule to JVPs: relu and |x| at 0, max ties, relu’s jump at order 2', () => {
    const relu = gradcheck((x) => where(x.greater(0), x, 0).sum(), [Tensor.from([0, 1.5, -2], 'float64')], { order: 2, modes: ['fwd'] });
    expect(relu.ok).toBe(true);
    expect(relu.kinks.map((k) => [k.order, k.ad, k.element, k.jump])).toEqual([[1, 'fwd', 0, false], [2, 'fwd', 0, true]]);
    const tie = gradcheck((a, b) => maximum(a, b).sum(), [Tensor.from([1, 2], 'float64'), Tensor.from([1, 0], 'float64')], { modes: ['fwd'] });
    expect(tie.ok).toBe(true);
    expect(tie.kinks.map((k) => [k.input, k.element, k.analytic])).toEqual([['x0', 0, 0.5], ['x1', 0, 0.5]]);
    expect(gradcheck((x) => x.abs().sum(), [Tensor.from([0, 1.5], 'float64')], { modes: ['fwd'] }).kinks.map((k) => k.element)).toEqual([0]);
    // and a JVP outside the one-sided slopes fails there
    const bad = defineOp({
      name: 'gradcheckTestBadReluJvp',
      arity: 1,
      infer: ([t]) => t,
      kernel: ([t]) => new Tensor(t.dtype, t.shape, t.data.map((v) => Math.max(v, 0))),
      vjp: ({ inputs: [x], dy }) => [where(x.greater(0), dy, 0)],
      jvp: ({ tangents: [t] }) => t && t.mul(2),
    });
    expect(gradcheck((x) => bad(x).sum(), [Tensor.from([0], 'float64')], { modes: ['fwd'] }).ok).toBe(false);
  });

  it('checks JVPs by random projections on large inputs, and params', () => {
    const fn = (x: Sym) => x.mul(x.graph.param('w', Tensor.randn([30], 'float64', 3))).tanh().sum();
    const r = gradcheck(fn, [randn([40, 30], 7)], { modes: ['fwd'] });
    expect(r.ok).toBe(true);
    expect(r.inputs.map((i) => [i.name, i.mode, i.byOrder[0].ad, i.byOrder[0].checked])).toEqual([['x0', 'projection', 'fwd', 8], ['w', 'full', 'fwd', 30]]);
    expect(() => gradcheck(fn, [randn([2, 30], 7)], { modes: ['sideways' as 'fwd'] })).toThrow(/modes must be/);
  });
});
