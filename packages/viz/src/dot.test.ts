import { describe, expect, it } from 'vitest';
import { Graph, GraphError, Tensor, compile, grad, makeProgram, type Sym } from '@gradgraph/core';
import { buildDot, toDot } from './dot';
import { applyPatches, compiledOverlay, passDiff, passDot } from './compiled';
import type { GradientFlow } from './types';

/** An MLP built from primitives, each layer in its own scope, as a loop would build it. */
function mlp(layers: number, width = 8, opts: { act?: (h: Sym) => Sym } = {}) {
  const g = new Graph({ seed: 1 });
  const x = g.input('x', [null, 4]);
  let h = x;
  for (let i = 0; i < layers; i++) {
    const fanIn = i === 0 ? 4 : width;
    h = g.scope(`layer${i}`, () => {
      const w = g.param('w', Tensor.randn([fanIn, width], 'float32', i));
      const b = g.param('b', Tensor.zeros([width]));
      const z = h.matmul(w).add(b);
      return opts.act ? opts.act(z) : z.tanh();
    });
  }
  const loss = h.square().mean();
  return { g, x, loss };
}

/** The DOT statement that declares node `name`. */
function decl(dot: string, name: string): string {
  const line = dot.split('\n').find((l) => l.trim().startsWith(`${name} [`));
  if (!line) throw new Error(`no node ${name} in\n${dot}`);
  return line;
}

describe('toDot: nodes', () => {
  it('labels ops with op, dtype and shape, styles sources and outputs apart, and puts the source line in the tooltip', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const w = g.param('w', Tensor.ones([3, 2]));
    const s = g.state('count', Tensor.zeros([]));
    const y = x.matmul(w).mul(2).add(s).sum();
    const dot = toDot(g, { outputs: [y] });
    const xl = decl(dot, `n${x.id}`);
    expect(xl).toContain('label="x\\nfloat32[?,3]"');
    expect(xl).toContain('shape="invhouse"');
    expect(decl(dot, `n${w.id}`)).toMatch(/label="w\\nfloat32\[3,2\]".*|shape="box", style="filled"/);
    expect(decl(dot, `n${s.id}`)).toContain('filled,dashed');
    const mm = g.nodes.find((n) => n.op === 'matmul')!;
    const line = decl(dot, `n${mm.id}`);
    expect(line).toContain('label="matmul\\nfloat32[?,2]"');
    // the tooltip names the op, the scope-less node and this test file's line
    expect(line).toMatch(/tooltip="%\d+ matmul : float32\[\?,2\]\\ntransposeA=false transposeB=false\\nat [^"]*dot\.test\.ts:\d+:\d+"/);
    const out = decl(dot, `n${y.id}`);
    expect(out).toContain('peripheries=2');
    // the constant 2 is small: drawn with its value next to its user
    const c2 = g.nodes.find((n) => n.op === 'constant' && (n.attrs.value as Tensor).data[0] === 2)!;
    const mul = g.nodes.find((n) => n.op === 'mul')!;
    expect(decl(dot, `k${c2.id}_${mul.id}`)).toContain('label="2"');
    expect(dot).toContain(`k${c2.id}_${mul.id} -> n${mul.id}`);
  });

  it('shows the values of small constants and a count for large ones', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const small = g.constant([1, 2, 3, 4]);
    const big = g.constant(Tensor.randn([300]).reshape([300]));
    const y = x.mul(small).sum().add(big.sum());
    const dot = toDot(g, { outputs: [y] });
    expect(dot).toContain('label="[1,2,3,4]"');
    expect(decl(dot, `n${big.id}`)).toContain('label="const <300 values>\\nfloat32[300]"');
    expect(toDot(g, { outputs: [y], constantValues: 2 })).toContain('label="const <4 values>\\nfloat32[4]"');
  });

  it('draws scopes as clusters, nested', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('enc', () => g.scope('inner', () => x.exp()).add(1));
    const dot = toDot(g, { outputs: [y] });
    expect(dot).toContain('subgraph "cluster_|enc" {');
    expect(dot).toContain('subgraph "cluster_|enc/inner" {');
    const r = buildDot(g, { outputs: [y] });
    expect(r.stats.clusters).toBe(2);
    expect(r.units.get(`n${y.id}`)!.node!.scope).toBe('enc');
  });

  it('refuses bad options with a GraphError naming the option', () => {
    const { g } = mlp(1);
    expect(() => toDot(g, { collapse: 0 })).toThrow(GraphError);
    expect(() => toDot(g, { collapse: 0 })).toThrow(/collapse must be an integer ≥ 1/);
    expect(() => toDot(g, { show: 'sideways' as 'both' })).toThrow(/show must be 'forward', 'backward' or 'both'/);
    expect(() => toDot(g, { repeats: 1 })).toThrow(/repeats must be an integer ≥ 2 or false/);
    expect(() => toDot({} as Graph)).toThrow(/expected a Graph, an Executable or a Program, got a Object/);
  });
});

describe('toDot: readability of deep models', () => {
  it('folds a 16-layer MLP: first hidden block drawn, the identical rest as one ×N box', () => {
    const { g, loss } = mlp(16);
    const full = buildDot(g, { outputs: [loss], repeats: false });
    const folded = buildDot(g, { outputs: [loss] });
    // layer0 differs (4 inputs), layer1 is drawn, layers 2..15 are identical to it: ×14
    expect(folded.dot).toContain('×14 more like layer1');
    expect(folded.dot).toContain('layer2 … layer15');
    expect(folded.stats.drawnNodes).toBeLessThan(30);
    expect(full.stats.drawnNodes).toBeGreaterThan(80);
    const box = [...folded.units.values()].find((u) => u.kind === 'repeat')!;
    expect(box.members!.length).toBe(14 * 5); // w, b, matmul, add, tanh per block
  });

  it('collapse: n draws every scope at depth ≥ n as one box, with its op and param counts', () => {
    const { g, loss } = mlp(3);
    const r = buildDot(g, { outputs: [loss], collapse: 1, repeats: false });
    expect(r.stats.clusters).toBe(0);
    expect(r.stats.boxes).toBe(3);
    const box = r.units.get('b0')!;
    expect(box.title).toBe('layer0');
    expect(r.dot).toContain('3 ops · 2 params (40)');
    expect(r.dot).toContain('→ float32[?,8]');
    // collapse at depth 2 leaves depth-1 scopes as clusters (nothing is deeper here)
    expect(buildDot(g, { outputs: [loss], collapse: 2, repeats: false }).stats.boxes).toBe(0);
  });

  it('does not fold blocks that differ in shape or op', () => {
    const g = new Graph();
    let h = g.input('x', [null, 4]);
    for (let i = 0; i < 4; i++) h = g.scope(`b${i}`, () => (i === 2 ? h.exp() : h.tanh()));
    const dot = toDot(g, { outputs: [h] });
    expect(dot).not.toContain('more like');
  });
});

describe('toDot: backward', () => {
  const build = () => {
    const { g, loss } = mlp(2);
    const gs = grad(loss, g.params());
    return { g, loss, gs };
  };

  it('styles backward nodes apart, mirrors their forward scopes and links them to their forward node', () => {
    const { g } = build();
    const dot = toDot(g, { show: 'both', adjointLinks: 'each' });
    expect(dot).toContain('subgraph "cluster_∇|layer1" {');
    const back = g.nodes.filter((n) => n.adjointOf !== undefined && n.op !== 'constant');
    for (const n of back.slice(0, 5)) {
      const line = decl(dot, `n${n.id}`);
      expect(line).toContain('fillcolor="#f4ecf7"');
      expect(line).toContain(`adjoint of %${n.adjointOf}`);
    }
    // every backward node drawn as itself has a dotted link to its forward node
    const links = dot.split('\n').filter((l) => l.includes('style="dotted"'));
    const linked = new Set(links.map((l) => l.trim().split(' ')[0]));
    for (const n of back) if (dot.includes(`  n${n.id} [`) || dot.includes(`    n${n.id} [`)) expect(linked.has(`n${n.id}`)).toBe(true);
    // 'group' draws one per forward node, 'none' none
    const grouped = toDot(g, { show: 'both' }).split('\n').filter((l) => l.includes('style="dotted"')).length;
    expect(grouped).toBeLessThan(links.length);
    expect(grouped).toBeGreaterThan(0);
    expect(toDot(g, { show: 'both', adjointLinks: 'none' })).not.toContain('style="dotted"');
  });

  it('shows the forward graph only (the default), the backward only (forward values as ghosts), or both', () => {
    const { g } = build();
    expect(toDot(g)).toBe(toDot(g, { show: 'forward' }));
    const fwd = buildDot(g, { show: 'forward' });
    const bwd = buildDot(g, { show: 'backward' });
    const both = buildDot(g, { show: 'both' });
    const kinds = (r: typeof fwd) => [...r.units.values()].filter((u) => u.node && u.kind === 'node').map((u) => u.node!.phase);
    expect(new Set(kinds(fwd))).toEqual(new Set(['forward']));
    expect(new Set(kinds(bwd))).toEqual(new Set(['backward']));
    expect(new Set(kinds(both))).toEqual(new Set(['forward', 'backward']));
    expect([...bwd.units.values()].some((u) => u.kind === 'ghost' && u.node!.phase === 'forward')).toBe(true);
    expect(fwd.dot).not.toContain('∇');
  });

  it('draws an executable: its program, its outputs and its updates', () => {
    const { g, loss, gs } = build();
    const params = g.params();
    const exe = compile(g, { outputs: [loss], updates: params.map((p, i) => [p, p.sub(gs[i].mul(0.1))] as [Sym, Sym]) });
    const r = buildDot(exe, { show: 'both', repeats: false });
    expect(r.dot).toContain('label="update"');
    expect(r.dot.split('\n').filter((l) => l.includes('label="update"')).length).toBe(params.length);
    const outs = [...r.units.values()].filter((u) => u.node && exe.program.outputs.includes(u.node.id));
    expect(outs.length).toBe(1);
  });
});

describe('compiled view', () => {
  it('draws fused kernels as clusters, memory slots and nodes removed by a pass', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const a = x.exp();
    const b = a.mul(2);
    const c = b.add(1);
    const y = c.sum();
    const dead = x.sin();
    const program = makeProgram(g.nodes.filter((n) => n.id !== dead.id), [y.id], []);
    const dot = toDot(program, {
      compiled: { kernels: [{ name: 'fused0', nodes: [a.id, b.id, c.id], kind: 'elementwise' }], slots: { [a.id]: 0, [b.id]: 1, [c.id]: 0 }, slotBytes: { 0: 16, 1: 16 }, removed: [{ pass: 'dce', nodes: [dead.node] }] },
    });
    expect(dot).toContain('subgraph cluster_k0 {');
    expect(dot).toContain('label="fused0 (elementwise)"');
    expect(decl(dot, `n${b.id}`)).toContain('slot 1');
    expect(dot).toContain('subgraph cluster_slots');
    expect(dot).toContain('label="slot 0\\n16 B"');
    expect(decl(dot, `x${dead.id}`)).toContain('removed by dce');
    expect(dot).toContain(`n${x.id} -> x${dead.id}`);
  });

  it('takes the dead nodes each pass removed from a real compile', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const y = x.mul(1).add(x.mul(1)).sum();
    const exe = compile(g, { outputs: [y] });
    const overlay = compiledOverlay(exe);
    const removedIds = overlay.removed!.flatMap((r) => r.nodes.map((n) => n.id));
    for (const id of removedIds) expect(exe.program.nodes[id]).toBeUndefined();
    if (removedIds.length) expect(toDot(exe, { compiled: overlay })).toContain('removed by');
  });

  it('shows a pass before/after from its patches: added, removed and changed nodes', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const e = x.exp();
    const y = e.mul(1).sum();
    const before = makeProgram(g.nodes, [y.id], []);
    const mulId = g.nodes.find((n) => n.op === 'mul')!.id;
    const sumNode = y.node;
    // a pass that drops x*1: sum reads exp directly, the mul and its constant go
    const constId = g.nodes.find((n) => n.op === 'constant')!.id;
    const patches = [
      { op: 'remove' as const, path: ['nodes', mulId] },
      { op: 'remove' as const, path: ['nodes', constId] },
      { op: 'replace' as const, path: ['nodes', sumNode.id, 'inputs'], value: [e.id] },
      { op: 'add' as const, path: ['nodes', 99], value: { ...x.node, id: 99, op: 'neg', inputs: [x.id] } },
    ];
    const after = applyPatches(before, patches);
    expect(Object.keys(after.nodes).length).toBe(Object.keys(before.nodes).length - 1);
    expect(after.nodes[sumNode.id].inputs).toEqual([e.id]);
    expect(before.nodes[sumNode.id].inputs).toEqual([mulId]); // the input program is untouched
    expect(passDiff(before, after)).toEqual({ added: [99], removed: [constId, mulId].sort((a, b) => a - b), changed: [sumNode.id] });
    const r = passDot({ name: 'dropMulOne', before, patches });
    expect(r.dot).toContain('dropMulOne: 5 → 4 nodes (+1 −2 ~1)');
    expect(decl(r.dot, `n${mulId}`)).toContain('xlabel="−"');
    expect(decl(r.dot, 'n99')).toContain('xlabel="+"');
    expect(decl(r.dot, `n${sumNode.id}`)).toContain('xlabel="~"');
    expect(() => applyPatches(before, [{ op: 'replace', path: ['nodes', 12345, 'op'], value: 'x' }])).toThrow(/does not exist/);
  });
});

describe('gradient overlay', () => {
  it('colours and widens edges by log10 |grad|, marks flags, and adds a legend with the scale', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const a = x.exp();
    const b = a.tanh();
    const y = b.sum();
    const flow: GradientFlow = {
      steps: [3],
      edges: [
        { from: x.id, to: a.id, input: 0, norm: 1e-6, flag: 'vanishing' },
        { from: a.id, to: b.id, input: 0, norm: 1e-2 },
        { from: b.id, to: y.id, input: 0, norm: 1e4, flag: 'exploding' },
      ],
      params: [],
      layers: [],
      thresholds: { vanish: 1e-3, explode: 1e3 },
      reference: 1,
    };
    const dot = toDot(g, { outputs: [y], gradients: flow, gradientLabels: true });
    const edge = (from: number, to: number) => dot.split('\n').find((l) => l.trim().startsWith(`n${from} -> n${to}`))!;
    expect(edge(x.id, a.id)).toContain('style="dashed"');
    expect(edge(x.id, a.id)).toContain('1.00e-6 ↓');
    expect(edge(b.id, y.id)).toContain('color="#cb181d"');
    const width = (l: string) => Number(/penwidth=([\d.]+)/.exec(l)![1]);
    expect(width(edge(x.id, a.id))).toBeLessThan(width(edge(a.id, b.id)));
    expect(width(edge(a.id, b.id))).toBeLessThan(width(edge(b.id, y.id)));
    expect(dot).toContain('subgraph cluster_legend');
    expect(dot).toContain('label="-6.0"');
    expect(dot).toContain('label="4.0"');
    expect(dot).toContain('vanishing: < 0.001 × the largest\\n  layer norm toward the loss');
  });
});

describe('every edge joins declared nodes (Graphviz would invent undeclared ones)', () => {
  it('holds for every combination of show, collapse, repeats and adjoint links', () => {
    const { g, loss } = mlp(6);
    grad(loss, g.params());
    const exe = compile(g, { outputs: [loss] });
    for (const x of [g, exe])
      for (const show of ['forward', 'backward', 'both'] as const)
        for (const collapse of [undefined, 1, 2])
          for (const repeats of [3, false] as const)
            for (const adjointLinks of ['each', 'group'] as const) {
              const r = buildDot(x, { show, collapse, repeats, adjointLinks, compiled: x === exe ? compiledOverlay(exe) : undefined });
              const declared = new Set(r.dot.split('\n').map((l) => /^\s*(\w+) \[/.exec(l)?.[1]).filter((n) => n && !['graph', 'node', 'edge'].includes(n)));
              for (const l of r.dot.split('\n')) {
                const m = /^\s*(\w+) -> (\w+)/.exec(l);
                if (!m) continue;
                expect(declared.has(m[1]), `${m[1]} in ${JSON.stringify({ show, collapse, repeats })}`).toBe(true);
                expect(declared.has(m[2]), `${m[2]} in ${JSON.stringify({ show, collapse, repeats })}`).toBe(true);
              }
              expect(declared.size).toBe(r.units.size);
            }
  });
});

describe('wrapping a deep graph into columns', () => {
  /** The edges Graphviz is told not to rank by, as [from, to] DOT names. */
  const unranked = (dot: string) => [...dot.matchAll(/^\s*(\w+) -> (\w+) \[constraint=false/gm)].map((m) => [m[1], m[2]]);

  it("'auto' cuts a long chain of boxes into columns; false never; a number sets the ranks per column", () => {
    const { g } = mlp(24);
    const auto = toDot(g, { collapse: 1, repeats: false });
    expect(unranked(auto).length).toBeGreaterThan(0);
    expect(unranked(toDot(g, { collapse: 1, repeats: false, wrap: false }))).toEqual([]);
    // x, 24 layer boxes, square, mean: 27 ranks; 6 per column gives 5 columns, 4 cuts
    const six = unranked(toDot(g, { collapse: 1, repeats: false, wrap: 6 }));
    expect(six).toHaveLength(4);
    // a short graph is left alone
    expect(unranked(toDot(mlp(3).g, { collapse: 1, repeats: false }))).toEqual([]);
    expect(() => toDot(g, { wrap: 1 })).toThrow(/wrap must be 'auto', false or an integer ≥ 2/);
    // with the backward graph, 'auto' leaves it alone (its edges run against the layers); a number still cuts
    const withGrad = mlp(24);
    grad(withGrad.loss, withGrad.g.params());
    expect(unranked(toDot(withGrad.g, { collapse: 1, repeats: false })).length).toBeGreaterThan(0);
    expect(unranked(toDot(withGrad.g, { show: 'both', collapse: 1, repeats: false }))).toEqual([]);
    expect(unranked(toDot(withGrad.g, { show: 'both', collapse: 1, repeats: false, wrap: 10 })).length).toBeGreaterThan(0);
    expect(() => toDot(g, { wrap: 'yes' as 'auto' })).toThrow(GraphError);
  });

  it('never cuts a top-level scope: every unranked edge joins two different layers', () => {
    const { g } = mlp(16);
    const r = buildDot(g, { repeats: false, wrap: 5 });
    const cuts = unranked(r.dot);
    expect(cuts.length).toBeGreaterThan(1);
    const layerOf = (name: string) => r.units.get(name)?.node?.scope.split('/')[0] || name; // a node at top level moves alone
    for (const [a, b] of cuts) expect(layerOf(a), `${a} -> ${b}`).not.toBe(layerOf(b));
  });
});

describe('layout effort', () => {
  it("'auto' switches to the fast Graphviz settings (and drops adjoint links) above 800 drawn nodes", () => {
    const small = mlp(3);
    grad(small.loss, small.g.params());
    const s = toDot(small.g, { show: 'both' });
    expect(s).not.toContain('nslimit');
    expect(s).toContain('style="dotted"');
    expect(toDot(small.g, { layout: 'fast' })).toContain('mclimit=0.1, nslimit=1, nslimit1=1, remincross=false, splines="polyline"');
    const big = mlp(70);
    grad(big.loss, big.g.params());
    const r = buildDot(big.g, { show: 'both', repeats: false });
    expect(r.stats.drawnNodes).toBeGreaterThan(800);
    expect(r.dot).toContain('nslimit=1');
    expect(r.dot).not.toContain('style="dotted"');
    expect(toDot(big.g, { show: 'both', repeats: false, adjointLinks: 'group' })).toContain('style="dotted"');
    expect(toDot(big.g, { show: 'both', repeats: false, layout: 'quality' })).not.toContain('nslimit');
    expect(() => toDot(big.g, { layout: 'quick' as 'fast' })).toThrow(/layout must be 'quality', 'fast' or 'auto'/);
  });
});
