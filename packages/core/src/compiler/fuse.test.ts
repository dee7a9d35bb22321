/**
 * fuse, planMemory and lower on small graphs: which nodes share a kernel and why, what the
 * passes leave for explain() and viz, and how the memory plan reuses and writes in place.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { grad } from '../autodiff';
import { compile } from '../compile';
import { Graph, type Sym } from '../graph';
import type { Program } from '../ir';
import type { Shape } from '../shape';
import { Tensor } from '../tensor';
import { capabilities, ownLowering } from '../lowering';
import { lowerProgram, type LoweredProgram } from './lower';

const opsOf = (program: Program, nodes: readonly number[]) => nodes.map((id) => program.nodes[id].op);
const kernelsOf = (l: LoweredProgram) => l.kernels.map((k) => `${k.kind}: ${opsOf(l.program, k.nodes).join(' ')}`);
const notesOf = (exe: ReturnType<typeof compile>, pass: string) => exe.passes.find((p) => p.name === pass)!.notes.join('\n');

describe('fuse', () => {
  it('an elementwise chain with broadcasts and a trailing sum is one kernel', () => {
    const g = new Graph();
    const x = g.input('x', [4, 8]);
    const b = g.input('b', [8]);
    const s = g.input('s', []);
    const y = x.mul(s).add(b).sigmoid().mul(x.tanh()).sum(1);
    const exe = compile(g, { outputs: [y] });
    const l = lowerProgram(exe.program);
    expect(kernelsOf(l)).toEqual(['elementwise: mul add sigmoid tanh mul sum']);
    expect(l.kernels[0].reduce?.mode).toBe('last');
    expect(l.kernels[0].reads.map((r) => exe.program.nodes[r].attrs.name)).toEqual(['x', 's', 'b']);
    expect(notesOf(exe, 'fuse')).toMatch(/k0: 6 ops in one loop over \[4,8\], ending in a sum over the last axes/);
  });

  it('the value and the gradient of an elementwise function are one pass', () => {
    const g = new Graph();
    const x = g.input('x', [1024]);
    const f = x.mul(1.5).add(0.5).sigmoid().mul(x.tanh()).add(x.softplus()).sub(x.square().mul(0.1)).sum();
    const [dx] = grad(f, [x]);
    const exe = compile(g, { outputs: [f, dx] });
    const l = lowerProgram(exe.program);
    expect(l.kernels.length).toBe(1);
    // writes the gradient, and folds the value into its reduction
    expect(l.kernels[0].writes).toEqual([exe.program.outputs[1], exe.program.outputs[0]]);
    expect(notesOf(exe, 'fuse')).toMatch(/merged: one reads the other, so one pass computes both/);
  });

  it('matmul + bias + activation is one kernel; relu too unless its mask is needed elsewhere', () => {
    const g = new Graph();
    const x = g.input('x', [null, 6]);
    const w1 = g.param('w1', Tensor.randn([6, 5]));
    const b1 = g.param('b1', Tensor.zeros([5]));
    const w2 = g.param('w2', Tensor.randn([5, 3]));
    const b2 = g.param('b2', Tensor.zeros([3]));
    const h = x.matmul(w1).add(b1).tanh();
    const relu = (v: Sym) => api.where(api.greater(v, 0), v, 0);
    const y = relu(h.matmul(w2).add(b2));
    const fwd = compile(g, { outputs: [y] });
    expect(kernelsOf(lowerProgram(fwd.program))).toEqual(['matmul: matmul add tanh', 'matmul: matmul add greater where']);
    expect(notesOf(fwd, 'fuse')).toMatch(/matmul %\d+ \(matmul\) \+ bias add %\d+ \+ tanh %\d+ → one kernel/);
    // with gradients, the backward pass reads relu's mask: the relu stays an elementwise kernel
    const [dw2] = grad(y.sum(), [w2]);
    const train = compile(g, { outputs: [y, dw2] });
    const text = notesOf(train, 'fuse');
    expect(text).toMatch(/relu %\d+ \(where\) not fused: its mask %\d+ \(greater\) is also used by %\d+ \(where\)/);
    expect(kernelsOf(lowerProgram(train.program))).toContain('matmul: matmul add');
  });

  it('a producer shared with a kernel that the consumer needs is not merged into it (no cycle)', () => {
    const g = new Graph();
    const x = g.input('x', [4, 4]);
    const w = g.param('w', Tensor.randn([4, 4]));
    const a = x.tanh();
    const out = a.mul(a.matmul(w)).exp();
    const exe = compile(g, { outputs: [out] });
    expect(kernelsOf(lowerProgram(exe.program))).toEqual(['elementwise: tanh', 'matmul: matmul', 'elementwise: mul exp']);
    expect(notesOf(exe, 'fuse')).toMatch(/kernels of %\d+ \(tanh\) and %\d+ \(exp\) \(loop \[4,4\]\) not merged: another kernel sits between them/);
  });

  it('a reduction’s result never joins its own loop', () => {
    const g = new Graph();
    const x = g.input('x', [1]);
    const y = x.mean().neg();
    const exe = compile(g, { outputs: [y] });
    expect(kernelsOf(lowerProgram(exe.program))).toEqual(['elementwise: mean', 'elementwise: neg']);
    expect(notesOf(exe, 'fuse')).toMatch(/not merged: one reads the result of the other’s reduction/);
    expect(exe.run({ x: [3] })[0].item()).toBe(-3);
  });

  it('a value recomputed by broadcasting into a larger loop is not fused; one varying only along outer loops is', () => {
    const g = new Graph();
    const x = g.input('x', [8, 16]);
    const col = g.input('col', [16]);
    const row = g.input('row', [8, 1]);
    const y = x.add(col.exp()).add(row.exp());
    const exe = compile(g, { outputs: [y] });
    expect(kernelsOf(lowerProgram(exe.program))).toEqual(['elementwise: exp', 'elementwise: add exp add']);
    expect(notesOf(exe, 'fuse')).toMatch(/%\d+ \(exp\) not fused into the kernel of %\d+ \(add\): its shape \[16\] would be recomputed in the loop over \[8,16\]/);
  });

  it('views share storage: a reshape between two kernels costs nothing', () => {
    const g = new Graph();
    const x = g.input('x', [6]);
    const y = x.exp().reshape([2, 3]).sum(1);
    const l = lowerProgram(compile(g, { outputs: [y] }).program);
    expect(kernelsOf(l)).toEqual(['elementwise: exp', 'elementwise: sum']);
    const reshape = Object.values(l.program.nodes).find((n) => n.op === 'reshape')!;
    expect(l.memory.locations.get(reshape.id)).toEqual(l.memory.locations.get(reshape.inputs[0]));
  });

  it('leaves what viz reads: info.kernels { name, nodes, kind } and info.slots / slotBytes', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const exe = compile(g, { outputs: [x.exp().mul(2).sum()] });
    const fuseInfo = exe.passes.find((p) => p.name === 'fuse')!.info as { kernels: { name: string; nodes: number[]; kind: string }[] };
    expect(fuseInfo.kernels).toEqual([{ name: 'k0', nodes: expect.any(Array), kind: 'elementwise' }]);
    const mem = exe.passes.find((p) => p.name === 'planMemory')!.info as { slots: Record<number, number>; slotBytes: Record<number, number> };
    expect(Object.values(mem.slots).every((s) => typeof s === 'number')).toBe(true);
    expect(mem.slotBytes[0]).toBe(4);
    const steps = (exe.passes.find((p) => p.name === 'lower')!.info as { steps: { name: string; kind: string }[] }).steps;
    expect(steps.map((s) => `${s.name} ${s.kind}`)).toEqual(['k0 elementwise']);
  });

  it('records the lowering that runs each node, as the back end answers for it; FLOPs are counted when read', () => {
    const g = new Graph();
    const x = g.input('x', [null, 6]);
    const d = g.input('d', [3], 'float64');
    const w = g.param('w', Tensor.randn([6, 4]));
    const y = api.sum(api.tanh(x.matmul(w).reshape([-1, 2, 2])), 2);
    const z = api.exp(d).sum();
    const exe = compile(g, { outputs: [y, z] });
    for (const backend of ['js', 'wasm']) {
      const caps = capabilities(backend);
      const l = lowerProgram(exe.program, { backend });
      for (const id of l.fusion.order) {
        const cls = l.fusion.classes.get(id);
        const low = l.fusion.lowerings.get(id);
        if (cls === 'source' || cls === 'view' || cls === 'reference') expect(low).toBeUndefined();
        else expect(low).toBe(caps.loweringFor(exe.program.nodes[id], l.fusion.types));
      }
      // the float64 exp takes the JS back end's lowering on wasm, the float32 tanh wasm's own
      const byOp = (op: string) => l.fusion.lowerings.get(l.fusion.order.find((id) => exe.program.nodes[id].op === op)!);
      if (backend === 'wasm') {
        expect(byOp('exp')).toBe(ownLowering('js', 'exp'));
        expect(byOp('tanh')).toBe(ownLowering('wasm', 'tanh'));
      }
      const mm = l.kernels.find((k) => k.kind === 'matmul')!;
      expect(mm.flops).toBe(2 * 6 * 4); // open dims count as 1
    }
  });

  it('passes leave the program as it is', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const exe = compile(g, { outputs: [x.exp().add(1)] });
    for (const name of ['fuse', 'planMemory', 'lower']) {
      const p = exe.passes.find((r) => r.name === name)!;
      expect(p.after).toBe(p.before);
      expect(p.patches).toEqual([]);
    }
  });
});

describe('planMemory', () => {
  /** A chain of n big elementwise steps, each behind a matmul so they can't fuse. */
  function chain(n: number) {
    const g = new Graph();
    const x = g.input('x', [64, 64]);
    const w = g.param('w', Tensor.randn([64, 64]));
    let h = x;
    for (let i = 0; i < n; i++) h = h.matmul(w).tanh().mul(0.5);
    return { g, x, y: h.sum() };
  }

  it('reuses memory along a chain: the arena holds a few buffers, not one per value', () => {
    const { g, y } = chain(8);
    const l = lowerProgram(compile(g, { outputs: [y] }).program);
    const m = l.memory;
    const one = 64 * 64 * 4;
    expect(m.totalIntermediateBytes).toBeGreaterThanOrEqual(8 * one);
    expect(m.intermediateBytes).toBeLessThanOrEqual(2 * one + 16);
    expect(m.peakLiveBytes).toBeLessThanOrEqual(m.intermediateBytes);
    expect(m.savedBytes).toBe(m.totalIntermediateBytes - m.intermediateBytes);
    expect(m.arenaBytes).toBe(m.constBytes + m.scratchBytes + m.intermediateBytes);
  });

  it('writes an elementwise result over an input that dies in the same kernel', () => {
    const g = new Graph();
    const x = g.input('x', [32, 32]);
    const w = g.param('w', Tensor.randn([32, 32]));
    const y = x.matmul(w).mul(x).matmul(w).sum();
    const l = lowerProgram(compile(g, { outputs: [y] }).program);
    expect(l.memory.inPlaceValues).toBe(1);
    const mul = Object.values(l.program.nodes).find((n) => n.op === 'mul')!;
    const product = mul.inputs.find((i) => l.program.nodes[i].op === 'matmul')!;
    expect(l.memory.locations.get(mul.id)).toEqual(l.memory.locations.get(product));
  });

  it('writes an optimizer update into the param storage when nothing reads the old value later', () => {
    const g = new Graph();
    const x = g.input('x', [8, 4]);
    const w = g.param('w', Tensor.randn([4, 3]));
    const m = g.state('m', Tensor.zeros([4, 3]));
    const loss = x.matmul(w).square().mean();
    const [dw] = grad(loss, [w]);
    const m2 = m.mul(0.9).add(dw);
    const exe = compile(g, { outputs: [loss], updates: [[m, m2], [w, w.sub(m2.mul(0.1))]] });
    const l = lowerProgram(exe.program);
    expect(new Set(l.memory.inPlaceUpdates)).toEqual(new Set([m.id, w.id]));
    expect(kernelsOf(l).filter((k) => k.startsWith('elementwise')).pop()).toBe('elementwise: mul add mul sub');
    expect(notesOf(exe, 'planMemory')).toMatch(/2 of 2 param updates written in place/);
  });

  it('plans with open dims counted as 1 and says so; a run plans again with the real shapes', () => {
    const g = new Graph();
    const x = g.input('x', [null, 16]);
    const y = x.exp().mul(x).sum(1);
    const exe = compile(g, { outputs: [y] });
    expect(notesOf(exe, 'planMemory')).toMatch(/open dims counted as 1 here; each specialization plans again/);
    expect(exe.lowered).toBeUndefined();
    exe.run({ x: Tensor.ones([10, 16]) });
    expect(exe.lowered!.memory.nominal).toBe(false);
    expect(exe.lowered!.memory.totalIntermediateBytes).toBe(10 * 4);
  });

  it('keeps outputs and staged update values alive to the end of the run', () => {
    const g = new Graph();
    const x = g.input('x', [16]);
    const w = g.param('w', Tensor.ones([16]));
    const a = x.exp();
    const exe = compile(g, { outputs: [a, w.mul(a).sum()], updates: [[w, w.mul(a)]] });
    const l = lowerProgram(exe.program);
    const END = l.kernels.length;
    for (const id of [...exe.program.outputs, ...exe.program.updates.map(([, v]) => v)]) {
      const loc = l.memory.locations.get(id);
      if (loc?.kind === 'buffer') expect(l.memory.buffers[loc.buffer].last).toBe(END);
    }
  });
});

describe('the compiled backend runs every plan', () => {
  it('open dims that broadcast at run time get a plan of their own', () => {
    const g = new Graph();
    const a = g.input('a', [null, 3], 'float64');
    const b = g.input('b', [null, 3], 'float64');
    const y = a.exp().add(b.tanh()).mul(a);
    const js = compile(g, { outputs: [y, y.sum(0)] });
    const ref = compile(g, { outputs: [y, y.sum(0)], backend: 'interpreter' });
    for (const [ra, rb] of [[4, 4], [1, 4], [4, 1]]) {
      const feeds = { a: Tensor.randn([ra, 3], 'float64', ra), b: Tensor.randn([rb, 3], 'float64', rb + 10) };
      const [want, got] = [ref.run(feeds), js.run(feeds)];
      expect(got[0].shape).toEqual(want[0].shape);
      expect(got.map((t) => t.toArray())).toEqual(want.map((t) => t.toArray()));
    }
    expect(js.specializations).toBe(3);
  });

  it('a 3-d batch through a dense layer folds into one matmul', () => {
    const g = new Graph();
    const x = g.input('x', [2, 5, 4], 'float64');
    const w = g.param('w', Tensor.randn([4, 3], 'float64'));
    const b = g.param('b', Tensor.randn([3], 'float64'));
    const y = x.matmul(w).add(b).sigmoid();
    const js = compile(g, { outputs: [y] });
    expect(kernelsOf(lowerProgram(js.program))).toEqual(['matmul: matmul add sigmoid']);
    const feeds = { x: Tensor.randn([2, 5, 4], 'float64', 3) };
    expect(js.run(feeds)[0].toArray()).toEqual(compile(g, { outputs: [y], backend: 'interpreter' }).run(feeds)[0].toArray());
  });

  it('shapes of every size-0 and size-1 kind run', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const y = x.exp().sum(0).add(x.matmul(g.constant(Tensor.ones([3, 3], 'float64'))).sum(0));
    const js = compile(g, { outputs: [y, api.softmax(x), x.mean(1)] });
    const ref = compile(g, { outputs: [y, api.softmax(x), x.mean(1)], backend: 'interpreter' });
    for (const rows of [0, 1, 3]) {
      const feeds = { x: Tensor.randn([rows, 3] as Shape, 'float64', rows) };
      expect(js.run(feeds).map((t) => t.toArray())).toEqual(ref.run(feeds).map((t) => t.toArray()));
    }
  });
});
