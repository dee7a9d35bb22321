/**
 * The compiled back ends (js, and wasm where it is available: they share this machinery) against
 * the interpreter: random graphs in float64 (1e-12 relative) and float32, allocation-free runs,
 * specialization per shape signature, run-time shape errors, the NaN guard, ops without generated
 * kernels, random ops, and the safety of in-place param updates. Each suite runs on each compiled
 * back end; float32 comparisons on wasm allow its float32 arithmetic (see the float32 case).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as api from '../../api';
import { customGrad, defineOp, grad } from '../../autodiff';
import { BACKENDS, compile, DEFAULT_BACKEND, type Backend } from '../../compile';
import { FeedError, GraphError, NonFiniteError, ShapeError } from '../../errors';
import { Graph, type Sym } from '../../graph';
import { hasOp, notDifferentiable } from '../../registry';
import { Tensor } from '../../tensor';
import { arbGraph } from '../../testing/index';
import { lowerProgram } from '../../compiler/lower';
import { ARENA_ALIGN } from '../../compiler/memory';
import type { Shape } from '../../shape';

/** The compiled back ends available here. */
const COMPILED = BACKENDS.filter((b) => b !== 'interpreter');

/** Runs the same outputs on the interpreter and `backend` (random nodes see the same run counter). */
function bothBackends(backend: Backend, g: Graph, outputs: Sym[], feeds: Record<string, Tensor>, opts: { passes?: []; fastMath?: boolean } = {}) {
  const counter = g.rngCounter;
  const want = compile(g, { outputs, backend: 'interpreter', passes: opts.passes }).run(feeds);
  g.rngCounter = counter;
  const exe = compile(g, { outputs, passes: opts.passes, fastMath: opts.fastMath, backend });
  return { want, got: exe.run(feeds), exe };
}

/** Largest |a − b| / (1 + |a| + |b|) over every element (NaN matching NaN counts as equal). */
function worstRatio(want: Tensor[], got: Tensor[]): number {
  let worst = 0;
  want.forEach((t, i) => {
    expect(got[i].shape).toEqual(t.shape);
    expect(got[i].dtype).toBe(t.dtype);
    for (let k = 0; k < t.size; k++) {
      const [a, b] = [t.data[k], got[i].data[k]];
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
      worst = Math.max(worst, Math.abs(a - b) / (1 + Math.abs(a) + Math.abs(b)));
    }
  });
  return worst;
}

/** Largest |a − b| / (|a| + |b|): relative, however small the values. */
function worstRelative(want: Tensor[], got: Tensor[]): number {
  let worst = 0;
  want.forEach((t, i) => {
    for (let k = 0; k < t.size; k++) {
      const [a, b] = [t.data[k], got[i].data[k]];
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
      worst = Math.max(worst, Math.abs(a - b) / (Math.abs(a) + Math.abs(b)));
    }
  });
  return worst;
}

// (the optimized float64 and float32 properties, 500 and 300 graphs, are in compiler/random.test.ts)
describe.each(COMPILED)('random graphs: the %s back end agrees with the interpreter on the same program', (backend) => {
  it('float64, as written (no passes): within 1e-12 relative (100 graphs)', () => {
    fc.assert(
      fc.property(arbGraph(), (c) => {
        const b = c.build({ withGrad: true });
        const { want, got } = bothBackends(backend, b.graph, [b.loss, ...b.values, ...b.grads], b.feeds, { passes: [] });
        expect(worstRelative(want, got)).toBeLessThanOrEqual(1e-12);
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  // js: fastMath: false rounds every float32 op as the interpreter does, bit for bit. wasm: its
  // kernels compute in float32 (products summed in float32, vector exp/log/tanh/σ/softplus within
  // a few ulp: docs/kernels.md), so the values agree to float32 accuracy, not bit for bit
  it(`float32 with fastMath: false: ${backend === 'js' ? 'bit-equal to the interpreter' : 'within 1e-5·(1 + |a| + |b|)'} (100 graphs)`, () => {
    fc.assert(
      fc.property(arbGraph({ dtype: 'float32' }), (c) => {
        const b = c.build({ withGrad: true });
        const exact = bothBackends(backend, b.graph, [b.loss, ...b.values, ...b.grads], b.feeds, { fastMath: false });
        if (backend === 'js') expect(worstRatio(exact.want, exact.got)).toBe(0);
        else expect(worstRatio(exact.want, exact.got)).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 100, seed: 11 },
    );
  });

  it('memory plans never let two live buffers overlap, and offsets are 16-byte aligned', () => {
    fc.assert(
      fc.property(arbGraph({ maxSteps: 10 }), (c) => {
        const b = c.build({ withGrad: true });
        const exe = compile(b.graph, { outputs: [b.loss, ...b.grads], backend });
        const { memory } = lowerProgram(exe.program, { backend });
        // buffers written over another one (in place) are checked as part of it
        const arena = memory.buffers.filter((x) => x.region === 'arena' && x.into === undefined);
        for (const x of memory.buffers) expect(x.offset % ARENA_ALIGN).toBe(0);
        for (const x of arena) {
          expect(x.offset).toBeGreaterThanOrEqual(memory.constBytes + memory.scratchBytes);
          expect(x.offset + x.bytes).toBeLessThanOrEqual(memory.arenaBytes);
          for (const y of arena) {
            if (x === y || x.last < y.def || y.last < x.def) continue;
            const apart = x.offset + x.bytes <= y.offset || y.offset + y.bytes <= x.offset;
            if (!apart) expect.fail(`buffers ${x.id} [${x.def}, ${x.last}] and ${y.id} [${y.def}, ${y.last}] overlap`);
          }
        }
      }),
      { numRuns: 100, seed: 3 },
    );
  });
});

// ---- allocation -----------------------------------------------------------------------------

const TYPED = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array', 'ArrayBuffer'] as const;
const saved = new Map<string, unknown>();

/** Counts typed-array and ArrayBuffer constructions, and `slice`/`subarray` calls, until restored. */
function countAllocations(): { constructed: number; sliced: number; subarrays: number } {
  const counts = { constructed: 0, sliced: 0, subarrays: 0 };
  const g = globalThis as Record<string, unknown>;
  for (const name of TYPED) {
    const Orig = g[name] as new (...a: unknown[]) => unknown;
    saved.set(name, Orig);
    g[name] = new Proxy(Orig, {
      construct(target, args, newTarget) {
        counts.constructed++;
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  const proto = Object.getPrototypeOf(Float32Array.prototype) as { slice: (...a: unknown[]) => unknown; subarray: (...a: unknown[]) => unknown };
  saved.set('slice', proto.slice);
  saved.set('subarray', proto.subarray);
  const slice = proto.slice;
  const subarray = proto.subarray;
  proto.slice = function (this: unknown, ...a: unknown[]) {
    counts.sliced++;
    return slice.apply(this, a);
  };
  proto.subarray = function (this: unknown, ...a: unknown[]) {
    counts.subarrays++;
    return subarray.apply(this, a);
  };
  return counts;
}

function restoreAllocations(): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of TYPED) if (saved.has(name)) g[name] = saved.get(name);
  const proto = Object.getPrototypeOf(Float32Array.prototype) as Record<string, unknown>;
  if (saved.has('slice')) proto.slice = saved.get('slice');
  if (saved.has('subarray')) proto.subarray = saved.get('subarray');
  saved.clear();
}

/** 4 × (dense 16 + tanh), MSE, momentum; open batch dim. */
function deepNarrow(dtype: 'float32' | 'float64' = 'float32') {
  const g = new Graph({ seed: 4 });
  const x = g.input('x', [null, 16], dtype);
  const t = g.input('t', [null, 16], dtype);
  let h = x;
  for (let l = 0; l < 4; l++) {
    const w = g.param(`w${l}`, Tensor.randn([16, 16], dtype, l).astype(dtype));
    for (let i = 0; i < w.node.type.shape[0]! * 16; i++) g.storage(w).data[i] *= 0.3;
    const b = g.param(`b${l}`, Tensor.zeros([16], dtype));
    h = h.matmul(w).add(b).tanh();
  }
  const loss = h.sub(t).square().mean();
  const params = g.params();
  const grads = grad(loss, params);
  const updates = params.map((p, i) => {
    const m = g.state(`m${i}`, Tensor.zeros(p.shape as Shape, dtype));
    const m2 = m.mul(0.9).add(grads[i]);
    return [[m, m2], [p, p.sub(m2.mul(0.05))]] as const;
  });
  const feeds = { x: Tensor.randn([8, 16], dtype, 9), t: Tensor.rand([8, 16], dtype, 10) };
  return { g, x, t, loss, updates: updates.flat() as [Sym, Sym][], feeds };
}

describe.each(COMPILED)('run() on the %s back end allocates nothing but the tensors it returns', (backend) => {
  afterEach(restoreAllocations);

  it('a training step: no typed arrays, views or buffers made, one copy per output', () => {
    const m = deepNarrow();
    const exe = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], updates: m.updates, backend });
    exe.run(m.feeds); // specializes: the arena and the kernels are made here
    exe.run(m.feeds);
    const counts = countAllocations();
    for (let i = 0; i < 20; i++) exe.run(m.feeds);
    restoreAllocations();
    expect(counts).toEqual({ constructed: 0, sliced: 20, subarrays: 0 });
  });

  it('the interpreter, by contrast, allocates every value', () => {
    const m = deepNarrow();
    const exe = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], updates: m.updates, backend: 'interpreter' });
    exe.run(m.feeds);
    const counts = countAllocations();
    exe.run(m.feeds);
    restoreAllocations();
    expect(counts.constructed).toBeGreaterThan(50);
  });
});

// ---- specialization --------------------------------------------------------------------------

describe.each(COMPILED)('open dims on the %s back end: specialized at the first run, cached per shape signature', (backend) => {
  it('compiles one specialization per batch size and reuses it; explain() counts them', () => {
    const m = deepNarrow('float64');
    const exe = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], backend });
    const ref = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], backend: 'interpreter' });
    expect(exe.specializations).toBe(0);
    expect(exe.explain({ program: false })).toMatch(/0 specializations compiled \(the first run specializes\)/);
    for (const batch of [2, 5, 2, 5, 7]) {
      const feeds = { x: Tensor.randn([batch, 16], 'float64', batch), t: Tensor.rand([batch, 16], 'float64', batch) };
      expect(exe.run(feeds)[0].item()).toBe(ref.run(feeds)[0].item());
    }
    expect(exe.specializations).toBe(3);
    const text = exe.explain({ program: false });
    expect(text).toMatch(/3 specializations compiled: x\[2,16\] t\[2,16\]; x\[5,16\] t\[5,16\]; x\[7,16\] t\[7,16\]/);
    expect(text).toMatch(/kernels \(in execution order, for x\[7,16\] t\[7,16\]\)/);
  });

  it('a mismatch on an open dim is a clear, typed error before anything runs, and params stay untouched', () => {
    const g = new Graph();
    const a = g.input('a', [null, 2]);
    const b = g.input('b', [null, 2]);
    const w = g.param('w', Tensor.from([1, 2]));
    const y = g.scope('head', () => a.add(b).mul(w).sum());
    const exe = compile(g, { outputs: [y], updates: [[w, w.add(y)]], backend });
    let err: unknown;
    try {
      exe.run({ a: Tensor.zeros([2, 2]), b: Tensor.zeros([3, 2]) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(/^add: shapes \[2,2\] and \[3,2\] do not broadcast/);
    expect((err as ShapeError).scope).toBe('head');
    expect((err as ShapeError).origin).toMatch(/executor\.test\.ts:\d+:\d+$/);
    expect(g.getValue(w).toArray()).toEqual([1, 2]);
    // the next good run is unaffected
    expect(exe.run({ a: Tensor.ones([2, 2]), b: Tensor.ones([2, 2]) })[0].item()).toBe(12);
  });

  it('a squeeze of an open dim that is not 1 at run time fails like the interpreter', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const y = api.squeeze(x, [0]).mul(2);
    for (const b of [backend, 'interpreter'] as Backend[]) {
      const exe = compile(g, { outputs: [y], backend: b });
      expect(exe.run({ x: Tensor.ones([1, 3]) })[0].toArray()).toEqual([2, 2, 2]);
      expect(() => exe.run({ x: Tensor.ones([2, 3]) })).toThrow(/squeeze: axis 0 of \[2,3\] has size 2, not 1/);
    }
  });
});

// ---- the NaN guard ---------------------------------------------------------------------------

describe.each(COMPILED)('nanGuard on the %s back end', (backend) => {
  it('names the first node that made a NaN inside a fused kernel, and the kernel', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('head', () => x.mul(3).log()); // log(−3) = NaN
    const exe = compile(g, { outputs: [y.mul(2).exp().sum()], nanGuard: true, backend });
    let err: unknown;
    try {
      exe.run({ x: [1, -1] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/^log: node %\d+ \(log\) produced NaN at element 1 of float32\[2\] \(in kernel k\d+: mul %\d+, log %\d+, mul %\d+, exp %\d+, sum %\d+\)/);
    expect((err as NonFiniteError).scope).toBe('head');
    expect((err as NonFiniteError).origin).toMatch(/executor\.test\.ts:\d+:\d+$/);
  });

  it('checks feeds, params and constants when a kernel first reads them', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, NaN]));
    expect(() => compile(g, { outputs: [x.add(1)], nanGuard: true, backend }).run({ x: [Infinity, 0] })).toThrow(/input "x" produced \+Inf at element 0/);
    expect(() => compile(g, { outputs: [x.mul(w)], nanGuard: true, backend }).run({ x: [1, 2] })).toThrow(/param "w" produced NaN at element 1/);
    // returned as they are, without any kernel reading them
    expect(() => compile(g, { outputs: [x, w], nanGuard: true, backend }).run({ x: [1, 2] })).toThrow(/param "w" produced NaN at element 1/);
    expect(() => compile(g, { outputs: [x], nanGuard: true, backend }).run({ x: [1, NaN] })).toThrow(/input "x" produced NaN at element 1/);
  });

  it('without the guard the NaN flows to the output, as on the interpreter', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const out = compile(g, { outputs: [x.log()], backend }).run({ x: [1, -1] })[0];
    expect(Number.isNaN(out.data[1])).toBe(true);
  });
});

// ---- ops without generated kernels ---------------------------------------------------------------

const clampPositive = hasOp('test.clampPositive')
  ? undefined
  : defineOp({
      name: 'test.clampPositive',
      arity: 1,
      infer: ([x]) => x,
      // refuses negative values: a run-time check, like nn.checkClassIndices
      kernel: ([x]) => {
        for (let i = 0; i < x.size; i++) if (x.data[i] < 0) throw new ShapeError(`value ${x.data[i]} at ${i} is negative`);
        return x.clone();
      },
      vjp: notDifferentiable,
    });

describe.each(COMPILED)('ops without generated kernels run their reference kernels on the %s back end', (backend) => {
  it('a user op from defineOp, gather, argmax, transpose and concat agree with the interpreter', () => {
    const g = new Graph();
    const x = g.input('x', [3, 4], 'float64');
    const idx = g.constant(Tensor.from([2, 0, 2], 'int32'));
    const y = clampPositive!(x.mul(x)).add(1);
    const outs = [y, api.gather(x, idx, 0).tanh(), api.argmax(x, 1), api.transpose(x).exp(), api.concat([x, y], 0).sum(1), api.pad(x, [[1, 0], [0, 2]], 0.5)];
    const feeds = { x: Tensor.randn([3, 4], 'float64', 1) };
    const { want, got, exe } = bothBackends(backend, g, outs, feeds);
    expect(worstRelative(want, got)).toBe(0);
    expect(exe.explain({ program: false })).toMatch(new RegExp(`reference kernels on ${backend} \\(no lowering there; they allocate their results\\): .*test\\.clampPositive`));
  });

  it("a reference kernel's error is typed and names the op, scope and line", () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('check', () => clampPositive!(x));
    let err: unknown;
    try {
      compile(g, { outputs: [y.mul(2)], backend }).run({ x: [1, -2] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(/^test\.clampPositive: value -2 at 1 is negative/);
    expect((err as ShapeError).scope).toBe('check');
    expect((err as ShapeError).origin).toMatch(/executor\.test\.ts:\d+:\d+$/);
    const idx = g.constant(Tensor.from([5], 'int32'));
    expect(() => compile(g, { outputs: [api.gather(x, idx)], backend }).run({ x: [1, 2] })).toThrow(/gather: index 5 at position 0 is out of range \[0, 2\)/);
  });

  it('customGrad nodes compiled as written (no passes) compute their function', () => {
    const softsign = customGrad(
      (x: Sym) => x.div(x.abs().add(1)),
      (x: Sym, _y: Sym, dy: Sym) => [dy.div(x.abs().add(1).square())],
    );
    const g = new Graph();
    const x = g.input('x', [4], 'float64');
    const y = softsign(x.mul(2)).sum();
    const [dx] = grad(y, [x]);
    const { want, got } = bothBackends(backend, g, [y, dx], { x: Tensor.from([-2, -0.5, 0.5, 3], 'float64') }, { passes: [] });
    expect(worstRelative(want, got)).toBe(0);
  });

  it('random nodes draw the same numbers as on the interpreter, run after run', () => {
    const g = new Graph({ seed: 9 });
    const x = g.input('x', [3, 5], 'float64');
    const noise = api.randomNormalLike(x, { dtype: 'float64' });
    const u = api.randomUniform(g, [5], { dtype: 'float64', low: -1, high: 2 });
    const outs = [x.add(noise).tanh(), u.mul(2), noise];
    const feeds = { x: Tensor.randn([3, 5], 'float64', 2) };
    const js = compile(g, { outputs: outs, backend });
    const ref = compile(g, { outputs: outs, backend: 'interpreter' });
    for (let run = 0; run < 3; run++) {
      const c = g.rngCounter;
      const a = ref.run(feeds);
      g.rngCounter = c;
      const b = js.run(feeds);
      expect(worstRelative(a, b)).toBe(0);
    }
    expect(g.rngCounter).toBe(3);
  });
});

// ---- updates in place ------------------------------------------------------------------------------

describe.each(COMPILED)('param updates on the %s back end: in place only where safe, atomic always', (backend) => {
  it('a param read after its new value is computed is staged; an update kernel nothing else reads waits for the last reader', () => {
    // v = 2w is the new w, and the matmul reads v and the old w: v's kernel runs first, so v is staged
    const g = new Graph();
    const w = g.param('w', Tensor.from([[1, 2], [3, 4]], 'float64'));
    const v = w.mul(2);
    const exe = compile(g, { outputs: [v.matmul(w)], updates: [[w, v]], backend });
    expect(lowerProgram(exe.program, { backend }).memory.inPlaceUpdates).toEqual([]);
    expect(exe.run()[0].toArray()).toEqual([[14, 20], [30, 44]]);
    expect(g.getValue(w).toArray()).toEqual([[2, 4], [6, 8]]);
    // in a training step the backward matmuls read the old weights after the optimizer's kernel
    // could run: the fuse pass moves those kernels after the last reader, and all go in place
    const m = deepNarrow('float64');
    const js = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], updates: m.updates, backend });
    expect(lowerProgram(js.program, { backend }).memory.inPlaceUpdates.length).toBe(m.updates.length);
    expect(js.passes.find((p) => p.name === 'fuse')!.notes.join('\n')).toMatch(/moved after the last kernel that reads the old .*"w\d".*, so the update can be written in place/);
    // the same trajectory as the interpreter, from the same start
    const start = m.g.snapshot();
    const a = [0, 1, 2, 3].map(() => js.run(m.feeds)[0].item());
    m.g.restore(start);
    const ref = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], updates: m.updates, backend: 'interpreter' });
    const b = [0, 1, 2, 3].map(() => ref.run(m.feeds)[0].item());
    expect(a).toEqual(b);
  });

  it('outputs see the values from before the run, also when an update could be written in place', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([1, 2, 3]));
    const v = g.param('v', Tensor.from([1, 1, 1]));
    const exe = compile(g, { outputs: [w, v.mul(w)], updates: [[w, w.mul(2)], [v, v.add(w)]], backend });
    const [ow, ovw] = exe.run();
    expect(ow.toArray()).toEqual([1, 2, 3]);
    expect(ovw.toArray()).toEqual([1, 2, 3]);
    expect(g.getValue(w).toArray()).toEqual([2, 4, 6]);
    expect(g.getValue(v).toArray()).toEqual([2, 3, 4]);
  });

  it('a value that is a view of a param another update writes is copied before anything is written', () => {
    const g = new Graph();
    const a = g.param('a', Tensor.from([[1, 2]]));
    const b = g.param('b', Tensor.from([3, 4]));
    const exe = compile(g, { outputs: [], updates: [[a, api.reshape(b, [1, 2])], [b, api.reshape(a, [2]).mul(10)]], backend });
    exe.run();
    expect(g.getValue(a).toArray()).toEqual([[3, 4]]);
    expect(g.getValue(b).toArray()).toEqual([10, 20]);
    expect(exe.explain({ program: false })).toMatch(/copy %\d+ for "a"/);
  });

  it('a kernel that can throw after an update leaves every param untouched when it throws', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, 2]));
    const next = w.add(x);
    // the check reads the new value, so it runs after the update's kernel: the update is staged
    const exe = compile(g, { outputs: [clampPositive!(next)], updates: [[w, next]], backend });
    expect(lowerProgram(exe.program, { backend }).memory.inPlaceUpdates).toEqual([]);
    expect(exe.run({ x: [1, 1] })[0].toArray()).toEqual([2, 3]);
    expect(() => exe.run({ x: [-5, 1] })).toThrow(/test\.clampPositive: value -3 at 0 is negative/);
    expect(g.getValue(w).toArray()).toEqual([2, 3]);
    // without a throwing kernel after it, the same update is written in place
    const plain = compile(g, { outputs: [next.sum()], updates: [[w, next]], backend });
    expect(lowerProgram(plain.program, { backend }).memory.inPlaceUpdates).toEqual([w.id]);
    plain.run({ x: [1, 1] });
    expect(g.getValue(w).toArray()).toEqual([3, 4]);
  });

  it('with nanGuard nothing is written in place, so a NaN found late leaves the params as they were', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, 2]));
    const exe = compile(g, { outputs: [w.add(x).log()], updates: [[w, w.add(x)]], nanGuard: true, backend });
    expect(() => exe.run({ x: [-5, 1] })).toThrow(NonFiniteError);
    expect(g.getValue(w).toArray()).toEqual([1, 2]);
  });
});

// ---- the executable ---------------------------------------------------------------------------

describe('compile(g, { backend })', () => {
  it("defaults to 'wasm' where WebAssembly SIMD is (else 'js'), reports its backend, and refuses unknown ones", () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const simd = typeof WebAssembly === 'object' && WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new Array(16).fill(0), 11]));
    const env = process.env.GRADGRAPH_BACKEND || undefined; // the suite may run with another default
    const builtIn = simd ? ['wasm', 'js', 'interpreter'] : ['js', 'interpreter'];
    expect(DEFAULT_BACKEND).toBe(env ?? (simd ? 'wasm' : 'js'));
    expect(BACKENDS).toEqual(env ? [env, ...builtIn.filter((b) => b !== env)] : builtIn);
    expect(compile(g, { outputs: [x.mul(2)] }).backend).toBe(DEFAULT_BACKEND);
    expect(compile(g, { outputs: [x.mul(2)], backend: 'js' }).backend).toBe('js');
    expect(compile(g, { outputs: [x.mul(2)], backend: 'interpreter' }).backend).toBe('interpreter');
    expect(() => compile(g, { outputs: [x], backend: 'tpu' as never })).toThrow(GraphError);
    expect(() => compile(g, { outputs: [x], backend: 'tpu' as never })).toThrow(new RegExp(`unknown backend "tpu" \\(known: ${BACKENDS.join(', ')}\\)`));
  });

  it('takes its default from GRADGRAPH_BACKEND when set, and refuses a name that is not an available back end', () => {
    const compileTs = fileURLToPath(new URL('../../compile.ts', import.meta.url));
    const probe = (value: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { DEFAULT_BACKEND, BACKENDS } = await import(${JSON.stringify(compileTs)}); console.log(DEFAULT_BACKEND, BACKENDS.join(','))`], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GRADGRAPH_BACKEND: value } });
    const js = probe('js');
    expect(js.stdout.trim()).toMatch(/^js js,/);
    const bad = probe('gpu');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/GRADGRAPH_BACKEND must name an available back end \(.*js.*\), got "gpu"/);
  });

  it('validates feeds exactly as the interpreter does', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    g.input('unused', [1]);
    for (const backend of BACKENDS) {
      const exe = compile(g, { outputs: [x.sum()], backend });
      expect(exe.run({ x: [[1, 2]] })[0].item()).toBe(3); // nested arrays still convert
      expect(exe.run({ x: Tensor.ones([1, 2]), unused: Tensor.zeros([1]) })[0].item()).toBe(2);
      expect(() => exe.run({ x: Tensor.zeros([2, 3]) })).toThrow(FeedError);
      expect(() => exe.run({ x: Tensor.zeros([2, 2]), y: Tensor.zeros([1]) })).toThrow(/feed "y" names no input of the graph/);
      expect(() => exe.run({ x: Tensor.zeros([2, 2], 'float64') })).toThrow(/wrong dtype/);
    }
  });

  it.each(COMPILED)('explain() on %s shows the fusion decisions, the kernels with their ops and FLOPs, and the memory plan', (backend) => {
    const m = deepNarrow();
    const exe = compile(m.g, { inputs: [m.x, m.t], outputs: [m.loss], updates: m.updates, backend });
    exe.run(m.feeds);
    const text = exe.explain({ program: false });
    expect(text).toMatch(/^  fuse +\d+ → \d+/m);
    expect(text).toMatch(/note: matmul %\d+ \(matmul\) \+ bias add %\d+ \+ tanh %\d+ → one kernel/);
    const header = backend === 'js' ? /backend: js \(generated JavaScript\), 1 specialization compiled: x\[8,16\] t\[8,16\]/ : /backend: wasm \(WebAssembly SIMD, up to \d+ threads?; .*\), 1 specialization compiled: x\[8,16\] t\[8,16\]/;
    expect(text).toMatch(header);
    expect(text).toMatch(backend === 'js' ? /^  k\d+ +matmul +\[8,16\] +matmul %\d+ \+ bias %\d+ → tanh ⇒ %\d+ +\S+ FLOPs$/m : /^  k\d+ +matmul +\[8,16\] +matmul %\d+ \+ bias %\d+ → tanh ⇒ %\d+ +\S+ FLOPs  \[wasm\]$/m);
    expect(text).toMatch(/memory: arena [\d.]+ kB: constants .*peak live .*saved by reuse/);
    expect(text).toMatch(/param updates written in place/);
  });
});
