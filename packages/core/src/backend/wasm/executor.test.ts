/**
 * The wasm back end as a whole (the contract it shares with the JS back end — feeds, errors,
 * atomic updates, nanGuard, random graphs against the interpreter — is tested for both in
 * ../js/executor.test.ts): where each kernel runs and explain() saying why, params living in the
 * WebAssembly memory and shared with every other executable of the graph, bit-identical training
 * steps at 1 and 2 threads, freeing on eviction and on collection, a shared memory that grows
 * under a specialization (no second bind) and a plain one that grows under adopted params, and
 * every emitted program validated.
 */
const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '2';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../../api';
import { grad } from '../../autodiff';
import { erf } from '../../math';
import { BACKENDS, compile } from '../../compile';
import { Graph } from '../../graph';
import { Tensor } from '../../tensor';
import { heap } from './memory';
import { validatedProgramModules } from './program';
import { threadCount } from './threads';
import { MAX_SPECIALIZATIONS } from '../js/executor';

afterAll(() => {
  if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
  else process.env.GRADGRAPH_THREADS = saved;
});

/** randn scaled by `s`. */
function randn(shape: number[], seed: number, s: number): Tensor {
  const t = Tensor.randn(shape, 'float32', seed);
  for (let i = 0; i < t.size; i++) t.data[i] *= s;
  return t;
}

/** A float32 MLP training step (dense → relu → dense → softmax cross-entropy, SGD). */
function mlpStep(seed: number, opts: { threads?: number; hidden?: number; features?: number } = {}) {
  const { hidden = 32, features = 16 } = opts;
  const g = new Graph({ seed });
  const x = g.input('x', [null, features], 'float32');
  const y = g.input('y', [null], 'int32');
  const w1 = g.param('w1', randn([features, hidden], seed + 1, 0.3));
  const b1 = g.param('b1', new Tensor('float32', [hidden]));
  const w2 = g.param('w2', randn([hidden, 5], seed + 2, 0.3));
  const h = api.maximum(api.add(api.matmul(x, w1), b1), 0);
  const logits = api.matmul(h, w2);
  const loss = api.mean(api.sub(api.logsumexp(logits, -1), api.sum(api.mul(logits, api.oneHot(y, 5)), -1)));
  const params = [w1, b1, w2];
  const grads = grad(loss, params);
  const updates = params.map((p, i) => [p, api.sub(p, api.mul(grads[i], 0.1))] as const);
  const step = compile(g, { inputs: [x, y], outputs: [loss], updates, backend: 'wasm', threads: opts.threads });
  const batch = (n: number, k: number) => {
    const ys = new Tensor('int32', [n]);
    for (let i = 0; i < n; i++) ys.data[i] = (i * 3 + k) % 5;
    return { x: Tensor.randn([n, features], 'float32', 100 + k), y: ys };
  };
  return { g, step, params, batch, x, y, loss };
}

/** The float32 bits of every element. */
const bits = (data: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(data).buffer));

describe.runIf(BACKENDS.includes('wasm'))('the wasm back end', () => {
  it('runs each kernel as wasm where a wasm kernel covers it, else as a JS or reference kernel, and explain() says which and why', () => {
    const g = new Graph();
    const x = g.input('x', [4, 8], 'float32');
    const w = g.param('w', Tensor.randn([8, 8], 'float32', 1));
    const d = g.input('d', [4], 'float64');
    const h = api.maximum(api.matmul(x, w), 0);
    const outs = [api.sum(erf(h)), api.concat([h, h]), api.sum(api.exp(d))];
    const exe = compile(g, { outputs: outs, backend: 'wasm' });
    const feeds = { x: Tensor.randn([4, 8], 'float32', 2), d: Tensor.from([0.5, 1, 2, 3], 'float64') };
    const got = exe.run(feeds);
    const want = compile(g, { outputs: outs, backend: 'interpreter' }).run(feeds);
    got.forEach((t, i) => t.data.forEach((v, k) => expect(v).toBeCloseTo(want[i].data[k], 4)));
    const text = exe.explain({ program: false });
    expect(text).toMatch(/matmul .*\[wasm\]/);
    expect(text).toMatch(/\[JS kernel: float64\]/);
    expect(text).toMatch(/\[JS kernel: no wasm kernel for erf\]/);
    expect(text).toMatch(/\[reference kernel: no lowering for concat\]/);
    expect(text).toMatch(/wasm program: \d threads?, \d+ segments? \(pool dispatches\) and \d+ barriers? per run/);
    expect(text).toMatch(/memory: arena .* in the WebAssembly memory/);
  });

  it('validates every program module it emits (GRADGRAPH_VERIFY=1, as in the test suite)', () => {
    expect(process.env.GRADGRAPH_VERIFY).toBe('1');
    const before = validatedProgramModules();
    const { step, batch } = mlpStep(3);
    step.run(batch(8, 0));
    step.run(batch(9, 0)); // a second specialization: a second module
    expect(validatedProgramModules()).toBe(before + 2);
  });

  it("keeps params in the WebAssembly memory, as the graph's own storage every executable reads and writes", () => {
    const { g, step, params, batch, x, y, loss } = mlpStep(4);
    const b = batch(6, 1);
    const before = g.storage('w1');
    step.run(b);
    const st = g.storage('w1');
    expect(st).toBe(before); // the same Tensor, its data moved
    expect(st.data.buffer).toBe(heap().memory.buffer);
    // the JS back end and the interpreter read what the wasm step wrote, and write where it reads
    const js = compile(g, { inputs: [x, y], outputs: [loss], backend: 'js' });
    const ref = compile(g, { inputs: [x, y], outputs: [loss], backend: 'interpreter' });
    const [l0] = ref.run(b);
    expect(js.run(b)[0].item()).toBeCloseTo(l0.item(), 5);
    // a wasm step now starts from the same values: its loss is the interpreter's
    expect(step.run(b)[0].item()).toBeCloseTo(l0.item(), 5);
    g.setValue(params[0], Tensor.zeros([16, 32], 'float32'));
    expect(g.storage('w1').data.every((v) => v === 0)).toBe(true);
    const [l1] = ref.run(b);
    expect(step.run(b)[0].item()).toBeCloseTo(l1.item(), 5); // (the step's outputs see the values from before its updates)
  });

  it('gives bit-identical losses and params for a whole training step at 1 and 2 threads', () => {
    // big enough that the matmuls and loops are shared between threads
    const one = mlpStep(5, { threads: 1, hidden: 256, features: 128 });
    const two = mlpStep(5, { threads: 2, hidden: 256, features: 128 });
    const l1: number[] = [];
    const l2: number[] = [];
    for (let k = 0; k < 4; k++) {
      l1.push(one.step.run(one.batch(512, k))[0].item());
      l2.push(two.step.run(two.batch(512, k))[0].item());
    }
    expect(bits(l2)).toEqual(bits(l1));
    for (const name of ['w1', 'b1', 'w2']) expect(bits(two.g.storage(name).data)).toEqual(bits(one.g.storage(name).data));
    expect(one.step.explain({ program: false })).toMatch(/wasm program: 1 thread,/);
    if (threadCount() >= 2) expect(two.step.explain({ program: false })).toMatch(/wasm program: 2 threads,/);
    expect(l1[3]).toBeLessThan(l1[0]); // and it trains
  });

  it('frees the arenas of evicted specializations: the heap holds no more after cycling through new shapes', () => {
    const { step, batch } = mlpStep(6);
    const run = (sizes: number[]) => sizes.forEach((n) => step.run(batch(n, 0)));
    const sizes = Array.from({ length: MAX_SPECIALIZATIONS }, (_, i) => i + 1);
    run(sizes);
    const full = heap().allocatedBytes;
    run(sizes.map((n) => n + 100)); // evicts every one of them
    run(sizes);
    expect(step.specializations).toBe(MAX_SPECIALIZATIONS);
    expect(heap().allocatedBytes).toBe(full);
  });

  it.runIf(heap().shared)('keeps its runner when a shared memory grows: the views it holds still cover what they view', () => {
    // twins: the same model and feeds, one of them run after the memory grew
    const plain = mlpStep(7);
    const grown = mlpStep(7);
    const [b0, b1] = [plain.batch(8, 2), plain.batch(8, 3)];
    plain.step.run(b0);
    grown.step.run(b0);
    const lossPlain = plain.step.run(b1)[0].item();
    // (internal: the specialization the runs use; a second bind would give it a new runner)
    const spec = (grown.step as unknown as { runner: { last: { runner: unknown } } }).runner.last;
    const runner = spec.runner;
    const h = heap();
    const buffer = h.memory.buffer;
    const hog = h.alloc(h.byteLength); // at least doubles the memory
    try {
      expect(h.memory.buffer).not.toBe(buffer);
      const lossGrown = grown.step.run(b1)[0].item();
      expect(spec.runner).toBe(runner);
      expect(bits([lossGrown])).toEqual(bits([lossPlain]));
      for (const name of ['w1', 'b1', 'w2']) expect(bits(grown.g.storage(name).data)).toEqual(bits(plain.g.storage(name).data));
    } finally {
      h.free(hog);
    }
  });

  it('frees collected executables and params, and re-points params when a plain memory grows (child processes)', () => {
    const script = fileURLToPath(new URL('./executor.gc-fixture.ts', import.meta.url));
    for (const args of [[], ['--no-shared']]) {
      const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, GRADGRAPH_THREADS: '2' } });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      expect(res.stdout).toContain(args.length ? 'shared memory: false' : 'shared memory: true');
      expect(res.stdout).toContain('grew: bit-identical');
      expect(res.stdout).toContain('collected: freed');
    }
  });
});
