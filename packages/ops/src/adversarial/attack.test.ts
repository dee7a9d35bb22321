import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Graph, GradgraphError, Tensor, oneHot, type DType } from '@gradgraph/core';
import { adversarial, init, nn } from '../index';

/** A linear classifier logits = x·W + b with fixed W, b (params), in `dtype`. */
function linear(d: number, c: number, seed: number, dtype: DType = 'float64') {
  const g = new Graph({ seed });
  const x = g.input('x', [null, d], dtype);
  const y = g.input('y', [null], 'int32');
  const w = g.param('w', Tensor.randn([d, c], dtype, seed));
  const b = g.param('b', Tensor.randn([c], dtype, seed + 1));
  const logits = x.matmul(w).add(b);
  return { g, x, y, logits, w: g.getValue(w), b: g.getValue(b) };
}

/** A small MLP with random weights: 2 hidden layers of 8 (relu, SPLASH). */
function mlp(d: number, c: number, seed: number) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, d]);
  g.input('y', [null], 'int32');
  const h = nn.splash(nn.dense(nn.relu(nn.dense(x, 8, { init: init.heNormal() })), 8), { init: 'linear' });
  const logits = nn.dense(h, c);
  return { g, logits };
}

/** n examples in [0, 1] (some exactly 0 or 1, as pixels are) and labels in [0, c). */
function examples(n: number, d: number, c: number, seed: number) {
  const x = Tensor.rand([n, d], 'float32', seed);
  for (let i = 0; i < x.size; i += 5) x.data[i] = i % 2 ? 0 : 1;
  const y = new Tensor('int32', [n]);
  for (let i = 0; i < n; i++) y.data[i] = (i * 7 + seed) % c;
  return { x, y };
}

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('FGSM', () => {
  it('on a linear model equals the closed form x + ε·sign(Wᵀ(p − e_y)) (no bounds), and its clip to [0, 1]', () => {
    const [n, d, c, eps] = [6, 5, 3, 0.15];
    const m = linear(d, c, 11);
    const x = Tensor.rand([n, d], 'float64', 3);
    const y = Tensor.from([0, 1, 2, 2, 1, 0], 'int32');
    const expected: number[][] = [];
    for (let i = 0; i < n; i++) {
      // logits z = x·W + b; ∂L/∂z = p − e_y; ∂L/∂x = W·(p − e_y)
      const z = Array.from({ length: c }, (_, k) => m.b.data[k] + Array.from({ length: d }, (_, j) => x.data[i * d + j] * m.w.data[j * c + k]).reduce((a, v) => a + v, 0));
      const p = softmax(z);
      p[y.data[i]] -= 1;
      expected.push(Array.from({ length: d }, (_, j) => x.data[i * d + j] + eps * Math.sign(p.reduce((a, pk, k) => a + m.w.data[j * c + k] * pk, 0))));
    }
    const free = adversarial.attacker({ logits: m.logits, bounds: null, batchSize: 4 }).fgsm(x, y, { eps });
    expect(free.toArray()).toEqual(expected);
    const clipped = adversarial.attacker({ logits: m.logits }).fgsm(x, y, { eps });
    expect(clipped.toArray()).toEqual(expected.map((r) => r.map((v) => Math.min(1, Math.max(0, v)))));
  });

  it('ascends the loss it is given: −(true-class logit) moves x by −ε·sign(W[:, y])', () => {
    const [d, c, eps] = [4, 3, 0.2];
    const m = linear(d, c, 5);
    const x = Tensor.rand([3, d], 'float64', 9);
    const y = Tensor.from([2, 0, 1], 'int32');
    const atk = adversarial.attacker({ logits: m.logits, bounds: null, loss: (logits, labels) => logits.mul(oneHot(labels, c, 'float64')).sum().neg() });
    const adv = atk.fgsm(x, y, { eps }).toArray() as number[][];
    adv.forEach((row, i) => row.forEach((v, j) => expect(v).toBe(x.data[i * d + j] - eps * Math.sign(m.w.data[j * c + y.data[i]]))));
  });
});

describe('PGD', () => {
  it('keeps every iterate in the ε-ball around x and in the valid range', () => {
    const { g, logits } = mlp(6, 3, 2);
    const { x, y } = examples(12, 6, 3, 4);
    const atk = adversarial.attacker({ logits, batchSize: 5 });
    expect(atk.graph).toBe(g);
    for (const eps of [0.03, 0.3]) {
      for (let steps = 1; steps <= 4; steps++) {
        // a large α, so the projection and the clipping both act
        const adv = atk.pgd(x, y, { eps, steps, alpha: 0.8 * eps, seed: 1 });
        const e = Math.fround(eps);
        let onSurface = 0;
        for (let i = 0; i < x.size; i++) {
          const [v, o] = [adv.data[i], x.data[i]];
          expect(v).toBeGreaterThanOrEqual(Math.fround(o - e));
          expect(v).toBeLessThanOrEqual(Math.fround(o + e));
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          if (v === Math.fround(o + e) || v === Math.fround(o - e)) onSurface++;
        }
        if (steps > 1) expect(onSurface).toBeGreaterThan(0);
      }
    }
  });

  it('with 1 step, α = ε and no random start is FGSM, bit for bit', () => {
    const { logits } = mlp(6, 3, 7);
    const { x, y } = examples(10, 6, 3, 8);
    const atk = adversarial.attacker({ logits, batchSize: 4 });
    for (const eps of [0.05, 0.1, 0.2]) {
      expect(Array.from(atk.pgd(x, y, { eps, steps: 1, alpha: eps, randomStart: false }).data)).toEqual(Array.from(atk.fgsm(x, y, { eps }).data));
    }
  });

  it('is seeded: the same seed gives the same examples whatever the batch size; another seed others', () => {
    const { logits } = mlp(6, 3, 3);
    const { x, y } = examples(9, 6, 3, 5);
    const a = adversarial.attacker({ logits, batchSize: 2 }).pgd(x, y, { eps: 0.1, steps: 3, seed: 4 });
    const b = adversarial.attacker({ logits, batchSize: 9 }).pgd(x, y, { eps: 0.1, steps: 3, seed: 4 });
    const c = adversarial.attacker({ logits, batchSize: 9 }).pgd(x, y, { eps: 0.1, steps: 3, seed: 5 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
  });
});

describe('accuracy under attack', () => {
  test.prop([fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.constantFrom('fgsm', 'pgd'), fc.integer({ min: 1, max: 3 }), fc.boolean()], { numRuns: 20 })(
    'never exceeds clean accuracy, example by example',
    (seed, eps, method, steps, randomStart) => {
      const { logits } = mlp(5, 3, seed);
      const { x, y } = examples(16, 5, 3, seed + 1);
      const atk = adversarial.attacker({ logits, batchSize: 7 });
      const r = atk.evaluate(x, y, method === 'fgsm' ? { method, eps } : { method, eps, steps, randomStart, seed });
      expect(r.n).toBe(16);
      expect(r.attacked).toBeLessThanOrEqual(r.clean);
      r.correct.attacked.forEach((v, i) => expect(v).toBeLessThanOrEqual(r.correct.clean[i]));
      // clean accuracy is the model's own
      const plain = atk.evaluate(x, y, { method: 'fgsm', eps: 0 });
      expect(plain.clean).toBe(r.clean);
    },
  );

  it('with ε = 0 equals clean accuracy; on a trained linear model FGSM and PGD lower it, PGD at least as much', () => {
    // two well-separated classes along the first coordinate
    const m = linear(4, 2, 1, 'float32');
    m.g.setValue('w', Tensor.from([[-4, 4], [0, 0], [0, 0], [0, 0]]));
    m.g.setValue('b', Tensor.from([2, -2]));
    const { x } = examples(40, 4, 2, 3);
    const y = new Tensor('int32', [40]);
    for (let i = 0; i < 40; i++) y.data[i] = x.data[i * 4] > 0.5 ? 1 : 0;
    const atk = adversarial.attacker({ logits: m.logits });
    expect(atk.evaluate(x, y, { method: 'pgd', eps: 0 })).toMatchObject({ clean: 1, attacked: 1 });
    const fgsm = atk.evaluate(x, y, { method: 'fgsm', eps: 0.2 });
    const pgd = atk.evaluate(x, y, { method: 'pgd', eps: 0.2, steps: 5 });
    // exactly the examples within 0.2 of the boundary x₀ = 0.5 fall (for a linear model FGSM is optimal)
    let near = 0;
    for (let i = 0; i < 40; i++) if (Math.abs(x.data[i * 4] - 0.5) < 0.2) near++;
    expect(near).toBeGreaterThan(0);
    expect(fgsm.attacked).toBeCloseTo(1 - near / 40, 12);
    expect(pgd.attacked).toBeLessThanOrEqual(fgsm.attacked);
  });

  it('evaluates in inference mode: a model with dropout gives the same numbers twice', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 5]);
    g.input('y', [null], 'int32');
    const logits = nn.dense(nn.dropout(nn.relu(nn.dense(x, 16)), 0.5), 3);
    const { x: xs, y } = examples(20, 5, 3, 2);
    const atk = adversarial.attacker({ logits });
    const a = atk.evaluate(xs, y, { method: 'pgd', eps: 0.1, steps: 2 });
    const b = atk.evaluate(xs, y, { method: 'pgd', eps: 0.1, steps: 2 });
    expect(b).toEqual(a);
  });

  it('takes one-hot labels (class = argmax) with a loss that uses them', () => {
    const m = linear(3, 2, 4, 'float32');
    const g = m.g;
    const target = g.input('t', [null, 2]);
    const atk = adversarial.attacker({ logits: m.logits, labels: target, loss: (z, t) => nn.softmaxCrossEntropy(z.sub(z.logsumexp(-1, true)), t.argmax(-1), { reduction: 'sum' }) });
    const { x } = examples(6, 3, 2, 1);
    const onehot = Tensor.from([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1]]);
    const r = atk.evaluate(x, onehot, { method: 'fgsm', eps: 0.05 });
    expect(r.n).toBe(6);
    expect(r.attacked).toBeLessThanOrEqual(r.clean);
  });
});

describe('adversarial.attacker', () => {
  it('puts each attacker in its own scope, with its own inputs', () => {
    const { g, logits } = mlp(4, 2, 1);
    const a = adversarial.attacker({ logits });
    const b = g.scope('eval', () => adversarial.attacker({ logits }));
    expect([a.scope, b.scope]).toEqual(['attack', 'eval/attack']);
    expect(g.byName('attack/eps')?.op).toBe('input');
    expect(g.byName('eval/attack/origin')?.shape).toEqual([null, 4]);
    expect(adversarial.attacker({ logits }).scope).toBe('attack_1');
  });

  it('refuses bad options and data with an AttackError that names them', () => {
    const { g, logits } = mlp(4, 2, 1);
    const atk = adversarial.attacker({ logits });
    const { x, y } = examples(3, 4, 2, 1);
    const bad: [() => unknown, RegExp][] = [
      [() => adversarial.attacker({ logits, epsilon: 1 } as never), /adversarial.attacker: unknown option "epsilon"/],
      [() => adversarial.attacker({} as never), /logits must be the model's output symbol/],
      [() => adversarial.attacker({ logits: logits.sum() }), /logits must be float class scores \[N, classes\]/],
      [() => adversarial.attacker({ logits, input: 'pixels' }), /no input named "pixels"/],
      [() => adversarial.attacker({ logits, bounds: [1, 0] }), /"bounds" must be \[lo, hi\] with lo < hi/],
      [() => adversarial.attacker({ logits, batchSize: 0 }), /"batchSize" must be an integer ≥ 1/],
      [() => adversarial.attacker({ logits, loss: (z) => z }), /loss must return a float scalar symbol/],
      [() => atk.fgsm(x, y, { eps: -0.1 }), /Attacker.fgsm: option "eps" must be a finite number ≥ 0, got -0.1/],
      [() => atk.fgsm(x, y, {} as never), /option "eps" is required/],
      [() => atk.pgd(x, y, { eps: 0.1, steps: 0 }), /"steps" must be an integer ≥ 1/],
      [() => atk.pgd(x, y, { eps: 0.1, step: 3 } as never), /Attacker.pgd: unknown option "step"/],
      [() => atk.pgd(x, y, { eps: 0.1, randomStart: 1 } as never), /"randomStart" must be true or false/],
      [() => atk.evaluate(x, y, { method: 'cw', eps: 1 } as never), /method must be 'fgsm' or 'pgd'/],
      [() => atk.fgsm(Tensor.from([[0, 0.5, 2, 0]]), Tensor.from([1], 'int32'), { eps: 0.1 }), /x\[0\] has the value 2 \(element 2\), outside the bounds \[0, 1\]/],
      [() => atk.fgsm(x, Tensor.from([1, 0], 'int32'), { eps: 0.1 }), /one label per example \(3\)/],
      [() => atk.fgsm(Tensor.zeros([2, 5]), Tensor.from([1, 0], 'int32'), { eps: 0.1 }), /x has shape \[2, 5\], but the input "x" is \[\?, 4\]/],
    ];
    for (const [f, msg] of bad) {
      expect(f).toThrow(adversarial.AttackError);
      expect(f).toThrow(msg);
    }
    expect(adversarial.AttackError.prototype).toBeInstanceOf(GradgraphError);
    expect(g.params().length).toBeGreaterThan(0);
  });
});
