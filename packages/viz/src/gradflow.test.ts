import { describe, expect, it } from 'vitest';
import { GradError, Graph, Tensor, compile, grad, type Sym } from '@gradgraph/core';
import { flaggedLayers, gradientFlow, gradientProbe } from './gradflow';

const norm = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, v) => s + v * v, 0));

describe('gradient probe: the numbers', () => {
  it('per-edge norms are the gradient flowing back along each edge alone (float64, by hand)', () => {
    const g = new Graph();
    const xv = [0.5, -1, 2];
    const wv = [0.3, 0.7, -0.2];
    const x = g.input('x', [3], 'float64');
    const w = g.scope('layer', () => g.param('w', Tensor.from(wv, 'float64')));
    const a = x.mul(w);
    const b = a.tanh();
    const sq = b.mul(b); // one node, two edges from b
    const loss = sq.sum();
    const flow = gradientFlow(loss, { x: Tensor.from(xv, 'float64') });
    const edge = (from: Sym, to: Sym, input = 0) => flow.edges.find((e) => e.from === from.id && e.to === to.id && e.input === input)!.norm;
    const t = xv.map((v, i) => Math.tanh(v * wv[i]));
    const dsq = [1, 1, 1];
    // d(b²)/db through one operand only: b·1 per edge
    expect(edge(sq, loss)).toBeCloseTo(norm(dsq), 12);
    expect(edge(b, sq, 0)).toBeCloseTo(norm(t), 12);
    expect(edge(b, sq, 1)).toBeCloseTo(norm(t), 12);
    const da = t.map((v) => 2 * v * (1 - v * v));
    expect(edge(a, b)).toBeCloseTo(norm(da), 12);
    expect(edge(w, a, 1)).toBeCloseTo(norm(da.map((v, i) => v * xv[i])), 12);
    expect(edge(x, a, 0)).toBeCloseTo(norm(da.map((v, i) => v * wv[i])), 12);
    const p = flow.params[0];
    expect(p.name).toBe('layer/w');
    expect(p.layer).toBe('layer');
    expect(p.norm).toBeCloseTo(norm(da.map((v, i) => v * xv[i])), 12);
    expect(p.maxAbs).toBeCloseTo(Math.max(...da.map((v, i) => Math.abs(v * xv[i]))), 12);
  });

  it('sums broadcast gradients back to the param (per-edge norms after un-broadcasting)', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const b = g.param('b', Tensor.from([1, 2, 3], 'float64'));
    const y = x.add(b);
    const loss = y.square().sum();
    const xv = [[1, 0, -1], [2, 1, 0]];
    const flow = gradientFlow(loss, { x: Tensor.from(xv, 'float64') });
    // dL/db_j = Σ_i 2(x_ij + b_j)
    const want = [0, 1, 2].map((j) => 2 * (xv[0][j] + j + 1) + 2 * (xv[1][j] + j + 1));
    expect(flow.edges.find((e) => e.from === b.id)!.norm).toBeCloseTo(norm(want), 10);
    expect(flow.params[0].norm).toBeCloseTo(norm(want), 10);
    expect(flow.layers).toHaveLength(1);
    expect(flow.layers[0].layer).toBe('b'); // a top-level param is its own layer
  });

  it("reuses grad's nodes: a probe on a graph whose gradients exist adds almost no backward nodes", () => {
    const g = new Graph();
    const x = g.input('x', [null, 4]);
    let h = x;
    for (let i = 0; i < 3; i++) h = g.scope(`l${i}`, () => h.matmul(g.param('w', Tensor.randn([4, 4], 'float32', i))).tanh());
    const loss = h.square().mean();
    grad(loss, g.params());
    const backBefore = g.nodes.filter((n) => n.adjointOf !== undefined).length;
    const probe = gradientProbe(loss);
    const backAfter = g.nodes.filter((n) => n.adjointOf !== undefined).length;
    // only the gradient with respect to the data input x is new (one matmul)
    expect(backAfter - backBefore).toBeLessThanOrEqual(2);
    expect(probe.outputs.length).toBe(3 + 2);
  });
});

describe('gradient probe: inside a training loop, over a window', () => {
  it('records steps from a training executable and averages the last window', () => {
    const g = new Graph({ seed: 2 });
    const x = g.input('x', [null, 3]);
    const y = g.input('y', [null, 1]);
    const h = g.scope('hidden', () => x.matmul(g.param('w', Tensor.randn([3, 5], 'float32', 1))).add(g.param('b', Tensor.zeros([5]))).tanh());
    const out = g.scope('out', () => h.matmul(g.param('w', Tensor.randn([5, 1], 'float32', 2))));
    const loss = out.sub(y).square().mean();
    const params = g.params();
    const grads = grad(loss, params);
    const probe = gradientProbe(loss);
    const step = compile(g, { outputs: [loss, ...probe.outputs], updates: params.map((p, i) => [p, p.sub(grads[i].mul(0.1))] as [Sym, Sym]) });
    const feeds = { x: Tensor.randn([16, 3], 'float32', 5), y: Tensor.randn([16, 1], 'float32', 6) };
    const recs = [];
    for (let s = 0; s < 5; s++) {
      const [, ...extra] = step.run(feeds);
      recs.push(probe.record(extra));
    }
    expect(recs.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    expect(probe.history()).toEqual(recs);
    const flow = probe.flow({ window: 3 });
    expect(flow.steps).toEqual([2, 3, 4]);
    expect(flow.layers.map((l) => l.layer)).toEqual(['hidden', 'out']); // input side first
    for (const l of flow.layers) {
      const mean = (recs[2].layers.find((r) => r.layer === l.layer)!.norm + recs[3].layers.find((r) => r.layer === l.layer)!.norm + recs[4].layers.find((r) => r.layer === l.layer)!.norm) / 3;
      // a layer's norm is √Σ of its params' (averaged) norms², close to the mean of per-step norms
      expect(l.norm).toBeCloseTo(mean, 2);
    }
    // the last gradients are there for histograms
    const last = probe.lastGradients();
    expect([...last.keys()]).toEqual(['hidden/w', 'hidden/b', 'out/w']);
    // the step really trained: the loss moved, and the probe saw a fresh gradient each step
    expect(recs[0].layers[0].norm).not.toBe(recs[4].layers[0].norm);
  });

  it('checks its inputs', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const w = g.param('w', Tensor.ones([3]));
    expect(() => gradientProbe(x.mul(w))).toThrow(GradError);
    expect(() => gradientProbe(x.mul(w))).toThrow(/must be a float scalar/);
    expect(() => gradientProbe(x.sum())).toThrow(/depends on no trainable param/);
    const probe = gradientProbe(x.mul(w).sum());
    expect(() => probe.flow()).toThrow(/no step recorded yet/);
    expect(() => probe.record([Tensor.ones([3])])).toThrow(/needs the 3 tensors computed for probe.outputs, got 1/);
    expect(() => gradientProbe(x.mul(w).sum(), { thresholds: { vanish: 2 } })).toThrow(/0 < vanish < 1 < explode/);
  });
});

describe('flags', () => {
  /** A chain h ← h·w_l of scalar weights: ∂L/∂w_l = S·Πw / w_l, so each layer's norm is set by hand. */
  function chain(ws: number[]) {
    const g = new Graph();
    const x = g.input('x', [4], 'float64');
    let h = x;
    ws.forEach((v, l) => {
      h = g.scope(`l${l}`, () => h.mul(g.param('w', Tensor.from(v, 'float64'))));
    });
    return gradientFlow(h.sum(), { x: Tensor.from([1, 1, 1, 1], 'float64') });
  }

  it('vanishing: below 1e-3 × the largest per-layer norm from that layer to the loss', () => {
    const flow = chain([1e4, 1, 1, 1]); // l0's gradient is 1e-4 of the others'
    expect(flow.layers.map((l) => l.layer)).toEqual(['l0', 'l1', 'l2', 'l3']);
    expect(flaggedLayers(flow, 'vanishing')).toEqual(['l0']);
    expect(flaggedLayers(flow, 'exploding')).toEqual([]);
    expect(flow.reference).toBeCloseTo(4e4, 6);
    // the edges into l0's product carry the same small gradient and are flagged too
    expect(flow.edges.some((e) => e.flag === 'vanishing')).toBe(true);
  });

  it('exploding: above 1e3 × the smallest per-layer norm toward the loss; a big last layer is not vanishing-for-the-rest', () => {
    const flow = chain([1e-4, 1, 1, 1]); // l0's gradient is 1e4 × the others'
    expect(flaggedLayers(flow, 'exploding')).toEqual(['l0']);
    expect(flaggedLayers(flow, 'vanishing')).toEqual([]);
    const mild = chain([0.1, 1, 1, 1]);
    expect(mild.layers.every((l) => !l.flag)).toBe(true);
  });

  it('non-finite gradients are exploding', () => {
    const flow = chain([0, Infinity, 1, 1]);
    expect(flaggedLayers(flow, 'exploding')).toContain('l0');
  });
});
