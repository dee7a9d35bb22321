import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatches } from 'immer';
import * as api from '../api';
import { grad } from '../autodiff';
import { buildProgram, compile } from '../compile';
import { GraphError, ShapeError } from '../errors';
import { Graph } from '../graph';
import { interpret } from '../interpreter';
import { makeProgram, type Program } from '../ir';
import { Tensor } from '../tensor';
import { arbGraph } from '../testing/index';
import { verifyProgram } from '../verify';
import { cse, dce, foldConstants } from './basic';
import { estimateFlops } from './flops';
import { programToGraph } from './lift';
import { definePass, getPass, nodeCount, registerPass, rewritePass, runPipeline } from './pass';
import { c, P, v } from './pattern';
import { canonicalize, defaultPasses, specialize, stabilize } from './pipeline';
import { E, rule } from './rules';

/** Same nodes, outputs and updates (structurally). */
function sameProgram(a: Program, b: Program): boolean {
  return JSON.stringify(a, (_k, x) => (x instanceof Tensor ? Array.from(x.data) : x)) === JSON.stringify(b, (_k, x) => (x instanceof Tensor ? Array.from(x.data) : x));
}

function expectClose(a: Tensor, b: Tensor, tol = 1e-10): void {
  expect(b.shape).toEqual(a.shape);
  for (let i = 0; i < a.size; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    expect(Math.abs(x - y), `element ${i}: ${x} vs ${y}`).toBeLessThanOrEqual(tol * (1 + Math.abs(x) + Math.abs(y)));
  }
}

/** A small model with forward and backward nodes: a dense layer, BCE from primitives. */
function smallModel() {
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [null, 3], 'float64');
  const y = g.input('y', [null], 'float64');
  const w = g.param('w', Tensor.from([[0.5], [-1], [2]], 'float64'));
  const b = g.param('b', Tensor.from([0.1], 'float64'));
  const z = x.matmul(w).add(b).reshape([-1]);
  const s = z.sigmoid();
  const loss = y.mul(s.log()).add(api.sub(1, y).mul(api.sub(1, s).log())).neg().mean();
  const [dw, db] = grad(loss, [w, b]);
  const feeds = { x: Tensor.from([[1, 2, 3], [-1, 0, 1], [30, 10, -2]], 'float64'), y: Tensor.from([1, 0, 1], 'float64') };
  return { g, x, y, w, b, loss, dw, db, feeds };
}

describe('the pipeline', () => {
  it('runs dce → cse → foldConstants → canonicalize → stabilize → specialize → fuse → planMemory → lower by default', () => {
    expect(defaultPasses.map((p) => p.name)).toEqual(['dce', 'cse', 'foldConstants', 'canonicalize', 'stabilize', 'specialize', 'fuse', 'planMemory', 'lower']);
    const m = smallModel();
    const exe = compile(m.g, { outputs: [m.loss, m.dw, m.db] });
    expect(exe.passes.map((p) => p.name)).toEqual(defaultPasses.map((p) => p.name));
    expect(nodeCount(exe.program)).toBeLessThan(nodeCount(exe.source));
  });

  it('{ passes: [] } compiles the graph as written', () => {
    const m = smallModel();
    const exe = compile(m.g, { outputs: [m.loss, m.dw], passes: [] });
    expect(exe.program).toBe(exe.source);
    expect(exe.passes).toEqual([]);
    expect(exe.explain()).toContain('passes: none (compiled as written)');
    expect(exe.run(m.feeds)[0].item()).toBeCloseTo(compile(m.g, { outputs: [m.loss] }).run(m.feeds)[0].item(), 12);
  });

  it('takes passes by name, reordered, with user passes added or removed', () => {
    const m = smallModel();
    const named = compile(m.g, { outputs: [m.loss], passes: ['stabilize', 'dce', 'cse'] });
    expect(named.passes.map((p) => p.name)).toEqual(['stabilize', 'dce', 'cse']);
    const seen: string[] = [];
    const countNodes = definePass('countNodes', 'records the node count', (p) => {
      seen.push(`${nodeCount(p)}`);
      return p;
    });
    const exe = compile(m.g, { outputs: [m.loss], passes: [...defaultPasses.filter((p) => p.name !== 'specialize'), countNodes, function identity(p: Program) { return p; }] });
    expect(exe.passes.map((p) => p.name)).toEqual(['dce', 'cse', 'foldConstants', 'canonicalize', 'stabilize', 'fuse', 'planMemory', 'lower', 'countNodes', 'identity']);
    expect(seen).toEqual([String(exe.passes[4].nodesAfter)]);
    expect(exe.passes[5].patches).toEqual([]);
    expect(exe.run(m.feeds)[0].item()).toBeCloseTo(named.run(m.feeds)[0].item(), 12);
  });

  it('rejects an unknown pass name or a non-pass with a GraphError', () => {
    const m = smallModel();
    expect(() => compile(m.g, { outputs: [m.loss], passes: ['fuse-everything'] })).toThrow(GraphError);
    expect(() => compile(m.g, { outputs: [m.loss], passes: ['fuse-everything'] })).toThrow(/no compiler pass named "fuse-everything" \(known: dce, cse/);
    expect(() => compile(m.g, { outputs: [m.loss], passes: [42 as never] })).toThrow(/pass 0 is not a pass/);
    expect(() => registerPass({ name: 'dce', doc: 'another', run: (p) => ({ program: p, patches: [], inversePatches: [] }) })).toThrow(/already registered/);
    expect(getPass('stabilize')).toBe(stabilize);
  });

  it('rejects malformed rules and passes with GraphErrors that say what is wrong', () => {
    expect(() => rule('', P.neg(v('x')), ({ x }) => x)).toThrow(/a rule needs a non-empty name/);
    expect(() => rule('leaf-root', v('x'), ({ x }) => x)).toThrow(GraphError);
    expect(() => rule('leaf-root', v('x'), ({ x }) => x)).toThrow(/the pattern's root must be an op pattern/);
    expect(() => rule('no-fn', P.neg(v('x')), 3 as never)).toThrow(/must be functions/);
    expect(() => E.neg(undefined as never)).toThrow(/E builds nodes only inside a rule replacement/);
    expect(() => definePass('p', 'doc', 3 as never)).toThrow(/needs a function Program → Program/);
    expect(() => registerPass({} as never)).toThrow(/registerPass needs a pass/);
    const m = smallModel();
    expect(() => compile(m.g, { outputs: [m.loss], passes: [function broken() { return null as never; }] })).toThrow(/pass "broken" returned null, not a program/);
    expect(() => compile(m.g, { outputs: [m.loss], passes: 'dce' as never })).toThrow(/passes must be an array/);
  });

  it('keeps each pass’s patches: they turn the program before into the program after, and back', () => {
    const m = smallModel();
    const records: string[] = [];
    const exe = compile(m.g, { outputs: [m.loss, m.dw, m.db], afterPass: (r) => records.push(r.name) });
    expect(records).toEqual(exe.passes.map((p) => p.name));
    for (const p of exe.passes) {
      expect(sameProgram(applyPatches(p.before, p.patches as never) as Program, p.after), `${p.name} patches`).toBe(true);
      expect(sameProgram(applyPatches(p.after, p.inversePatches as never) as Program, p.before), `${p.name} inverse patches`).toBe(true);
      expect(p.nodesBefore).toBe(nodeCount(p.before));
      expect(p.nodesAfter).toBe(nodeCount(p.after));
    }
    const stab = exe.passes.find((p) => p.name === 'stabilize')!;
    // a user of a rewritten node keeps its id: only its inputs are patched
    expect(stab.patches.some((q) => q.path.length === 3 && q.path[2] === 'inputs')).toBe(true);
  });

  it('passes are pure: the input program is untouched and a rerun gives the same program', () => {
    const m = smallModel();
    const src = buildProgram(m.g, { outputs: [m.loss, m.dw, m.db] });
    const snapshot = JSON.stringify(src, (_k, x) => (x instanceof Tensor ? Array.from(x.data) : x));
    for (const pass of defaultPasses) {
      const a = pass.run(src);
      const b = pass.run(src);
      expect(sameProgram(a.program, b.program), pass.name).toBe(true);
      expect(Object.isFrozen(a.program.nodes)).toBe(true);
    }
    expect(JSON.stringify(src, (_k, x) => (x instanceof Tensor ? Array.from(x.data) : x))).toBe(snapshot);
  });
});

describe('each pass alone preserves values, and the IR verifier holds after it', () => {
  for (const pass of defaultPasses) {
    it(pass.name, () => {
      fc.assert(
        fc.property(arbGraph({ maxSteps: 10 }), (gc) => {
          const b = gc.build({ withGrad: true });
          const outs = [b.loss, ...b.values, ...b.grads];
          const want = compile(b.graph, { outputs: outs, passes: [] }).run(b.feeds);
          b.graph.rngCounter = 0;
          const exe = compile(b.graph, { outputs: outs, passes: [pass], afterPass: (r) => verifyProgram(r.after, `after ${r.name}`) });
          exe.run(b.feeds).forEach((t, i) => expectClose(want[i], t));
        }),
        { numRuns: 40, seed: 99 },
      );
    });
  }

  it('a node id keeps meaning the same value through the pipeline', () => {
    fc.assert(
      fc.property(arbGraph({ maxSteps: 8 }), (gc) => {
        const b = gc.build({ withGrad: true });
        const exe = compile(b.graph, { outputs: [b.loss, ...b.grads] });
        const feeds = new Map(Object.values(exe.source.nodes).filter((n) => n.op === 'input').map((n) => [n.id, b.feeds[n.attrs.name as string]]));
        const before = interpret(exe.source, { graph: b.graph, feeds, rngCounter: 0 });
        const after = interpret(exe.program, { graph: b.graph, feeds, rngCounter: 0 });
        for (const [id, t] of after) if (before.has(id)) expectClose(before.get(id)!, t);
      }),
      { numRuns: 40, seed: 5 },
    );
  });
});

describe('dce, cse and foldConstants', () => {
  it('dce drops nodes nothing needs and updates that write a param to itself', () => {
    const g = new Graph();
    const p = g.param('p', Tensor.from([1, 2]));
    const q = g.param('q', Tensor.from([3, 4]));
    const x = g.input('x', [2]);
    const src = buildProgram(g, { outputs: [x.mul(2)], updates: [[p, p], [q, q.add(x)]] });
    // a user pass that leaves garbage behind: an extra node nobody uses
    const extra = { ...src.nodes[x.id], id: src.nextId, op: 'neg', inputs: [x.id], attrs: {} };
    const dirty = makeProgram([...Object.values(src.nodes), extra], src.outputs, src.updates);
    const r = dce.run(dirty);
    expect(r.program.updates).toEqual([[q.id, q.add(x).id]]);
    expect(r.program.nodes[extra.id]).toBeUndefined();
    expect(r.program.nodes[p.id]).toBeUndefined();
    expect(r.rewrites).toEqual([{ rule: 'self-update', forward: 1, backward: 0 }, { rule: 'dead', forward: 2, backward: 0 }]);
    verifyProgram(r.program);
  });

  it('cse merges what rewrites made equal: swapped operands, equal large constants; never random nodes', () => {
    const g = new Graph({ seed: 1 });
    const a = g.input('a', [300]);
    const b = g.input('b', [300]);
    const big = Tensor.from(Array.from({ length: 300 }, (_, i) => i));
    const k1 = g.constant(big);
    const k2 = g.constant(big); // > 256 elements: the builder does not merge these
    expect(k1.id).not.toBe(k2.id);
    const r1 = api.randomNormal(g, [300]);
    const r2 = api.randomNormal(g, [300]);
    const out = a.add(b).mul(k1).add(b.add(a).mul(k2)).add(r1).add(r2);
    const src = buildProgram(g, { outputs: [out] });
    const r = cse.run(src);
    expect(nodeCount(r.program)).toBe(nodeCount(src) - 3); // b+a, k2 and (b+a)·k2
    expect(r.rewrites).toEqual([{ rule: 'merge', forward: 3, backward: 0 }]);
    const ops = Object.values(r.program.nodes).map((n) => n.op);
    expect(ops.filter((o) => o === 'randomNormal')).toHaveLength(2);
    // two random nodes that look identical stay apart too
    const twin = { ...src.nodes[r1.id], id: src.nextId };
    const sum = { ...src.nodes[out.id], id: src.nextId + 1, inputs: [r1.id, twin.id] };
    const r3 = cse.run(makeProgram([...Object.values(src.nodes), twin, sum], [sum.id], []));
    expect(Object.values(r3.program.nodes).filter((n) => n.op === 'randomNormal')).toHaveLength(2);
  });

  it('foldConstants never folds inputs, params, state or random nodes, and folds the rest', () => {
    const g = new Graph({ seed: 2 });
    const x = g.input('x', [2]);
    const p = g.param('p', Tensor.from([1, 2]));
    const s = g.state('s', Tensor.from([3, 4]));
    const r = api.randomUniform(g, [2]);
    const k = g.constant(Tensor.from([2, 3])).mul(g.constant(Tensor.from([4, 5]))).exp(); // folds to one constant
    const out = x.add(p.mul(2)).add(s.neg()).add(r).add(k);
    const src = buildProgram(g, { outputs: [out] });
    const res = foldConstants.run(src);
    expect(res.rewrites).toEqual([{ rule: 'fold', forward: 2, backward: 0 }]);
    for (const id of [x.id, p.id, s.id, r.id, p.mul(2).id, s.neg().id]) expect(res.program.nodes[id]).toEqual(src.nodes[id]);
    const folded = Object.values(res.program.nodes).filter((n) => n.op === 'constant').map((n) => Array.from((n.attrs.value as Tensor).data));
    expect(folded).toContainEqual([Math.fround(Math.exp(8)), Math.fround(Math.exp(15))]);
  });

  it('foldConstants keeps a broadcast of a small constant, folds shapeSize of known dims, and leaves errors to run time', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const ones = api.broadcastTo(g.constant(1), [100, 100]);
    const size = api.shapeSize(x, [1]);
    const batch = api.shapeSize(x, [0]);
    const bad = api.gather(g.constant(Tensor.from([1, 2, 3])), g.constant(Tensor.from([5], 'int32')));
    const src = buildProgram(g, { outputs: [ones.sum(), x.mul(size).div(batch)] });
    const res = foldConstants.run(src);
    expect(res.program.nodes[ones.id].op).toBe('broadcastTo');
    expect(res.program.nodes[batch.id].op).toBe('shapeSize');
    expect(res.program.nodes[size.id]).toBeUndefined();
    expect(Object.values(res.program.nodes).some((n) => n.op === 'constant' && (n.attrs.value as Tensor).data[0] === 3 && n.type.shape.length === 0)).toBe(true);
    const err = compile(g, { outputs: [bad] });
    expect(err.program.nodes[bad.id].op).toBe('gather');
    expect(() => err.run({})).toThrow(ShapeError);
  });
});

describe('the rewrite engine', () => {
  it('fits a replacement to the run-time shape when a dim is unknown (a null dim may broadcast)', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const y = g.input('y', [null, 3], 'float64');
    const ones = api.broadcastLike(g.constant(1, 'float64'), y); // [?,3] of ones, from y's run-time shape
    const out = x.mul(ones).add(api.broadcastLike(g.constant(0, 'float64'), y));
    const exe = compile(g, { outputs: [out] });
    const asWritten = compile(g, { outputs: [out], passes: [] });
    const cases = [
      { x: Tensor.from([[1, 2, 3]], 'float64'), y: Tensor.zeros([4, 3], 'float64') }, // x broadcasts along y's 4 rows
      { x: Tensor.from([[1, 2, 3], [4, 5, 6]], 'float64'), y: Tensor.zeros([2, 3], 'float64') },
    ];
    for (const f of cases) expect(exe.run(f)[0].toArray()).toEqual(asWritten.run(f)[0].toArray());
    expect(exe.run(cases[0])[0].shape).toEqual([4, 3]);
  });

  it('labels rewrites of gradient nodes as backward', () => {
    const g = new Graph();
    const z = g.input('z', [3], 'float64');
    const loss = z.sigmoid().log().sum();
    const [dz] = grad(loss, [z]);
    const exe = compile(g, { outputs: [loss, dz] });
    const stab = exe.passes.find((p) => p.name === 'stabilize')!;
    expect(stab.rewrites).toContainEqual({ rule: 'log-sigmoid', forward: 1, backward: 0 });
    expect(stab.rewrites).toContainEqual({ rule: 'sigmoid-grad-cancel', forward: 0, backward: 1 });
  });

  it('stops a cycle of rules with a note, and the program stays correct', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const out = x.neg().exp();
    const flip = rewritePass('flip', 'two rules that undo each other', [[
      rule('neg-to-mul', P.neg(v('x')), ({ x: a }) => E.mul(a, -1)), // −x → x·(−1)
      rule('mul-to-neg', P.mul(v('x'), c(-1)), ({ x: a }) => E.neg(a)), // x·(−1) → −x
    ]]);
    const exe = compile(g, { outputs: [out], passes: [flip] });
    expect(exe.passes[0].notes.join('\n')).toMatch(/did not reach a fixed point/);
    expect(exe.run({ x: Tensor.from([1, -2], 'float64') })[0].toArray()).toEqual([Math.exp(-1), Math.exp(2)]);
  });

  it('notes a rule whose replacement is ill-typed and skips it', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const broken = rewritePass('broken', 'a rule that builds a bad node', [[rule('bad', P.exp(v('x')), ({ x: a }) => E.op('matmul', [a, a]))]]);
    const exe = compile(g, { outputs: [x.exp()], passes: [broken] });
    expect(exe.passes[0].notes[0]).toMatch(/^rule bad failed at %\d+ \(exp\): matmul: inner dimensions differ/);
    expect(exe.passes[0].rewrites).toEqual([]);
  });

  it('rewrites inherit the scope and source line of the node they replace', () => {
    const g = new Graph();
    const z = g.input('z', [3], 'float64');
    const l = g.scope('head', () => z.sigmoid().log());
    const exe = compile(g, { outputs: [l], passes: ['stabilize'] });
    const sp = Object.values(exe.program.nodes).find((n) => n.op === 'softplus')!;
    expect(sp.scope).toBe('head');
    expect(sp.origin).toBe(l.node.origin);
  });

  it('an executable advances the RNG counter even when optimization removed its random node', () => {
    const g = new Graph({ seed: 4 });
    const x = g.input('x', [2]);
    const r = api.randomNormal(g, [2]);
    const out = api.where(g.constant(Tensor.from([true, true], 'bool')), x, r);
    const exe = compile(g, { outputs: [out] });
    expect(Object.values(exe.program.nodes).some((n) => n.op === 'randomNormal')).toBe(false);
    exe.run({ x: Tensor.from([1, 2]) });
    expect(g.rngCounter).toBe(1);
  });
});

describe('programToGraph', () => {
  it('rebuilds a program as graph nodes that can be differentiated again', () => {
    const m = smallModel();
    const exe = compile(m.g, { outputs: [m.loss] });
    const lifted = programToGraph(exe.program, { param: (n) => m.g.getValue(n) });
    const [dw] = grad(lifted.outputs[0], [lifted.graph.byName('w')!]);
    const got = compile(lifted.graph, { outputs: [dw] }).run(m.feeds)[0];
    expectClose(compile(m.g, { outputs: [m.dw] }).run(m.feeds)[0], got, 1e-12);
    expect(() => programToGraph(exe.program)).toThrow(/needs opts.param/);
  });
});

describe('FLOP estimates and explain()', () => {
  it('counts matmul as 2mnk and elementwise ops per element; unknown dims as given', () => {
    const g = new Graph();
    const a = g.input('a', [null, 3]);
    const w = g.param('w', Tensor.zeros([3, 4]));
    const y = a.matmul(w).tanh();
    const p = buildProgram(g, { outputs: [y] });
    expect(estimateFlops(p).total).toBe(2 * 1 * 4 * 3 + 6 * 4);
    expect(estimateFlops(p, { unknownDim: 10 })).toMatchObject({ total: 2 * 10 * 4 * 3 + 6 * 40, unknownDim: 10, byOp: { matmul: 240, tanh: 240 } });
  });

  it('prints each pass with node counts, the rules that fired forward and backward, and FLOPs', () => {
    const m = smallModel();
    const text = compile(m.g, { outputs: [m.loss, m.dw, m.db] }).explain({ unknownDim: 32 });
    for (const p of defaultPasses) expect(text).toMatch(new RegExp(`^  ${p.name} +\\d+ → \\d+`, 'm'));
    expect(text).toMatch(/^ {4}log-sigmoid +×1 +forward$/m);
    expect(text).toMatch(/^ {4}sigmoid-grad-cancel +×1 +backward$/m);
    expect(text).toMatch(/^FLOPs: \S+ → \S+ per run \(unknown dims counted as 32\)$/m);
    expect(text).toContain('optimized program:');
    expect(compile(m.g, { outputs: [m.loss] }).explain({ program: false })).not.toContain('optimized program:');
  });
});

describe('the named passes', () => {
  it('are the ones in the registry', () => {
    for (const p of [dce, cse, foldConstants, canonicalize, stabilize, specialize]) expect(getPass(p.name)).toBe(p);
  });
});

describe('the public rule language', () => {
  it('lets a user write a rule pass and a Work pass from @gradgraph/core', async () => {
    const core = await import('../index');
    const { rule: mkRule, P: Pat, v: V, E: B } = core.rewrite;
    const g = new core.Graph();
    const x = g.input('x', [3], 'float64');
    const y = g.apply('cast', [x.add(x)], { dtype: 'float64' }).sin(); // a same-type cast node
    const double = core.rewritePass('double', 'x+x as 2x', [[mkRule('twice', Pat.add(V('x'), V('x')), ({ x: a }) => B.mul(a, 2))]]);
    const dropCasts = core.definePass('dropCasts', 'casts to the same type', (p) => {
      const w = new core.Work(p);
      for (const id of w.order()) {
        const n = w.node(id);
        if (n.op === 'cast' && w.node(n.inputs[0]).type.dtype === n.type.dtype) w.replace(id, n.inputs[0]);
      }
      return w.finish();
    });
    const exe = core.compile(g, { outputs: [y], passes: [double, dropCasts] });
    expect(exe.passes[0].rewrites).toEqual([{ rule: 'twice', forward: 1, backward: 0 }]);
    expect(core.printProgram(exe.program)).not.toMatch(/add|cast/);
    expect(exe.passes[1].patches.length).toBeGreaterThan(0);
    expect(exe.run({ x: core.Tensor.from([1, 2, 3], 'float64') })[0].toArray()).toEqual([Math.sin(2), Math.sin(4), Math.sin(6)]);
  });
});
