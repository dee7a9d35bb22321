import { describe, expect, it } from 'vitest';
import { DTypeError, Graph, GraphError, ShapeError, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { nn } from '../index';

/** Runs f on a float64 vector and returns f(x) and d(Σf)/dx. */
function valueAndGrad(f: (x: Sym) => Sym, xs: number[], dtype: 'float32' | 'float64' = 'float64'): { y: number[]; dx: number[] } {
  const g = new Graph();
  const x = g.input('x', [xs.length], dtype);
  const y = f(x);
  const [dx] = grad(y.sum(), [x]);
  const [yv, dxv] = compile(g, { outputs: [y, dx] }).run({ x: Tensor.from(xs, dtype) });
  return { y: Array.from(yv.data), dx: Array.from(dxv.data) };
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

describe('fixed activations', () => {
  it('relu is where(x > 0, x, 0) with gradient 0 at 0', () => {
    const { y, dx } = valueAndGrad(nn.relu, [-2, 0, 3]);
    expect(y).toEqual([0, 0, 3]);
    expect(dx).toEqual([0, 0, 1]);
  });

  it('leakyRelu has slope `slope` below 0 and at 0', () => {
    const { y, dx } = valueAndGrad((x) => nn.leakyRelu(x, 0.1), [-2, 0, 3]);
    expect(y).toEqual([-0.2, 0, 3]);
    expect(dx).toEqual([0.1, 0.1, 1]);
    expect(valueAndGrad((x) => nn.leakyRelu(x), [-1]).y[0]).toBeCloseTo(-0.01, 15);
  });

  it('sigmoid, tanh and softplus match their formulas', () => {
    const xs = [-3, -0.5, 0, 0.7, 4];
    const s = valueAndGrad(nn.sigmoid, xs);
    const t = valueAndGrad(nn.tanh, xs);
    const p = valueAndGrad(nn.softplus, xs);
    const p5 = valueAndGrad((x) => nn.softplus(x, { beta: 5 }), xs);
    xs.forEach((v, i) => {
      expect(s.y[i]).toBeCloseTo(sig(v), 14);
      expect(s.dx[i]).toBeCloseTo(sig(v) * (1 - sig(v)), 14);
      expect(t.y[i]).toBeCloseTo(Math.tanh(v), 14);
      expect(t.dx[i]).toBeCloseTo(1 - Math.tanh(v) ** 2, 14);
      expect(p.y[i]).toBeCloseTo(Math.log1p(Math.exp(v)), 14);
      expect(p.dx[i]).toBeCloseTo(sig(v), 14);
      expect(p5.y[i]).toBeCloseTo(Math.log1p(Math.exp(5 * v)) / 5, 12);
      expect(p5.dx[i]).toBeCloseTo(sig(5 * v), 12);
    });
  });

  it('softplus is finite and exact for large |x| in float32', () => {
    const { y, dx } = valueAndGrad(nn.softplus, [-1000, -100, 100, 1000], 'float32');
    expect(y[0]).toBe(0);
    expect(Math.abs(y[1] / Math.exp(-100) - 1)).toBeLessThan(0.05); // a float32 denormal, not a rounded 0
    expect(y[2]).toBe(100);
    expect(y[3]).toBe(1000);
    expect(dx).toEqual([0, expect.closeTo(0, 40), 1, 1]);
  });

  it('softmax and logSoftmax work along an axis and stay finite for huge logits', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const [p, lp, p0] = compile(g, { outputs: [nn.softmax(x), nn.logSoftmax(x), nn.softmax(x, 0)] }).run({ x: Tensor.from([[1, 2, 3], [1000, 0, -1000]], 'float64') });
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const z = e[0] + e[1] + e[2];
    expect(p.toArray()[0]).toEqual(e.map((v) => expect.closeTo(v / z, 14)));
    expect(p.toArray()[1]).toEqual([1, 0, 0]);
    expect(lp.toArray()[1]).toEqual([0, -1000, -2000]);
    expect(lp.toArray()[0][2]).toBeCloseTo(3 - Math.log(z), 14);
    expect(p0.toArray()[0][0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(1000 - 1000) * Math.exp(1000 - 1)), 12);
  });

  it('keep the dtype of their input and reject non-float input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float64');
    for (const f of [nn.relu, nn.sigmoid, nn.tanh, nn.softplus, nn.softmax, nn.logSoftmax, (s: Sym) => nn.leakyRelu(s, 0.2)]) expect(f(x).dtype).toBe('float64');
    const i = g.input('i', [3], 'int32');
    expect(() => nn.relu(i)).toThrow(DTypeError);
    expect(() => nn.relu(3 as never)).toThrow(GraphError);
    expect(() => nn.softmax(x, 2)).toThrow(ShapeError);
    expect(() => nn.leakyRelu(x, NaN)).toThrow(/slope must be a finite number/);
    expect(() => nn.softplus(x, { beta: 0 })).toThrow(/beta must be > 0/);
  });
});

describe('the PyTorch activations', () => {
  const SELU_A = 1.6732632423543772;
  const SELU_L = 1.0507009873554805;
  const xs = [-4, -1.5, -0.2, 0.3, 2, 5];
  const refs: [string, (x: Sym) => Sym, (v: number) => number, (v: number) => number][] = [
    ['silu', nn.silu, (v) => v * sig(v), (v) => sig(v) * (1 + v * (1 - sig(v)))],
    ['elu α = 0.5', (x) => nn.elu(x, { alpha: 0.5 }), (v) => (v > 0 ? v : 0.5 * Math.expm1(v)), (v) => (v > 0 ? 1 : 0.5 * Math.exp(v))],
    ['selu', nn.selu, (v) => SELU_L * (v > 0 ? v : SELU_A * Math.expm1(v)), (v) => SELU_L * (v > 0 ? 1 : SELU_A * Math.exp(v))],
    ['celu α = 2', (x) => nn.celu(x, { alpha: 2 }), (v) => (v > 0 ? v : 2 * Math.expm1(v / 2)), (v) => (v > 0 ? 1 : Math.exp(v / 2))],
    ['mish', nn.mish, (v) => v * Math.tanh(Math.log1p(Math.exp(v))), (v) => Math.tanh(Math.log1p(Math.exp(v))) + v * sig(v) * (1 - Math.tanh(Math.log1p(Math.exp(v))) ** 2)],
    ['logSigmoid', nn.logSigmoid, (v) => Math.log(sig(v)), (v) => 1 - sig(v)],
    ['softsign', nn.softsign, (v) => v / (1 + Math.abs(v)), (v) => 1 / (1 + Math.abs(v)) ** 2],
  ];
  it.each(refs)('%s matches its formula and derivative', (_name, f, val, der) => {
    const { y, dx } = valueAndGrad(f, xs);
    xs.forEach((v, i) => {
      expect(y[i]).toBeCloseTo(val(v), 14);
      expect(dx[i]).toBeCloseTo(der(v), 13);
    });
  });

  it('take the gradient at each kink from the same piece as PyTorch', () => {
    const at = (f: (x: Sym) => Sym, points: number[]) => valueAndGrad(f, points).dx;
    expect(at((x) => nn.elu(x, { alpha: 0.3 }), [0])).toEqual([0.3]); // the left piece α·eˣ
    expect(at(nn.selu, [0])).toEqual([expect.closeTo(SELU_A * SELU_L, 15)]);
    expect(at((x) => nn.celu(x, { alpha: 3 }), [0])).toEqual([1]);
    expect(at(nn.hardtanh, [-1, 1, 0.999])).toEqual([0, 0, 1]); // 0 at both bounds
    expect(at((x) => nn.hardtanh(x, { min: -2, max: 3 }), [-2, 3])).toEqual([0, 0]);
    expect(at(nn.relu6, [0, 6, 3])).toEqual([0, 0, 1]);
    expect(at(nn.hardSigmoid, [-3, 3, 0])).toEqual([0, 0, 1 / 6]);
    // hard swish: the outer pieces at ±3 (PyTorch ≥ 2.9; 1.13–2.8 gave −½ and 3/2)
    expect(at(nn.hardSwish, [-3, 3, -2.999, 2.999])).toEqual([0, 1, expect.closeTo((2 * -2.999 + 3) / 6, 14), expect.closeTo((2 * 2.999 + 3) / 6, 14)]);
    expect(valueAndGrad(nn.hardSwish, [-3, 3]).y).toEqual([0, 3]);
  });

  it('hardtanh, relu6, hardSigmoid and hardSwish clamp as PyTorch does', () => {
    expect(valueAndGrad((x) => nn.hardtanh(x, { min: -2, max: 0.5 }), [-5, -2, 0.2, 0.5, 9]).y).toEqual([-2, -2, 0.2, 0.5, 0.5]);
    expect(valueAndGrad(nn.relu6, [-1, 0, 2.5, 6, 7]).y).toEqual([0, 0, 2.5, 6, 6]);
    expect(valueAndGrad(nn.hardSigmoid, [-4, -3, 0, 1.5, 3, 8]).y).toEqual([0, 0, 0.5, 0.75, 1, 1]);
    expect(valueAndGrad(nn.hardSwish, [-4, -1, 1, 4]).y).toEqual([0, expect.closeTo(-1 / 3, 15), expect.closeTo(2 / 3, 15), 4]);
  });

  it("gelu 'none' is exact in the far negative tail, where PyTorch's ½x(1 + erf(x/√2)) returns −0", () => {
    // x·Φ(x) and Φ(x) + x·φ(x) from mpmath at 40 digits; PyTorch 1.13 float64 gives −0 for both
    // values and −7.69e-22, −1.10e-86 for the gradients (1% and 0.3% off)
    const { y, dx } = valueAndGrad(nn.gelu, [-10, -20, -5, 3]);
    const want = [-7.619853024160526e-23, -5.507248237212468e-88, -1.4332578593959695e-6, 2.99595030590511];
    const dWant = [-7.618400096464814e-22, -1.1014360483133464e-86, -7.146946001792295e-6, 1.011945647204184];
    want.forEach((w, i) => expect(Math.abs(y[i] / w - 1)).toBeLessThan(1e-13));
    dWant.forEach((w, i) => expect(Math.abs(dx[i] / w - 1)).toBeLessThan(1e-13));
  });

  it("gelu 'tanh' is ½x(1 + tanh(√(2/π)(x + 0.044715x³))), without cancellation for x ≪ 0", () => {
    const tanhForm = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const { y } = valueAndGrad((x) => nn.gelu(x, { approximate: 'tanh' }), [-2, -0.5, 0, 1, 3]);
    [-2, -0.5, 0, 1, 3].forEach((v, i) => expect(y[i]).toBeCloseTo(tanhForm(v), 15));
    // at x = −10, 1 + tanh(u) ≈ 2e-38 cancels to 0 in float64; x·σ(2u) keeps it
    const u = Math.sqrt(2 / Math.PI) * (-10 + 0.044715 * -1000);
    expect(tanhForm(-10)).toBe(-0);
    const y10 = valueAndGrad((x) => nn.gelu(x, { approximate: 'tanh' }), [-10]).y[0];
    expect(Math.abs(y10 / (-10 / (1 + Math.exp(-2 * u))) - 1)).toBeLessThan(1e-13);
  });

  it('keep their dtype and reject bad options', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2], 'float32');
    for (const f of [nn.silu, nn.gelu, nn.selu, nn.mish, nn.relu6, nn.hardSigmoid, nn.hardSwish, nn.logSigmoid, nn.softsign, (s: Sym) => nn.elu(s), (s: Sym) => nn.celu(s), (s: Sym) => nn.hardtanh(s)]) {
      expect(f(x).dtype).toBe('float32');
    }
    expect(() => nn.gelu(x, { approximate: 'erf' as never })).toThrow(/approximate must be 'none' or 'tanh'/);
    expect(() => nn.gelu(x, { approx: 'tanh' } as never)).toThrow(/unknown option "approx"/);
    expect(() => nn.celu(x, { alpha: 0 })).toThrow(/alpha must not be 0/);
    expect(() => nn.elu(x, { alpha: Infinity })).toThrow(/alpha must be a finite number/);
    expect(() => nn.hardtanh(x, { min: 1, max: 1 })).toThrow(/max must be > min/);
    expect(() => nn.silu(g.input('i', [2], 'int32'))).toThrow(DTypeError);
  });
});
