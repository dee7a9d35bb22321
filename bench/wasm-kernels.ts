/**
 * Micro-benchmark of the WebAssembly back end's kernels alone (no graph, no executor): the
 * 1024³ matmul on 1 and 2 threads next to TF.js wasm (XNNPACK, one thread, as `pnpm bench` runs
 * it) and jax-js wasm (`jit`), the mlp-train matmul shapes, the elementwise-grad loop, vector math
 * throughput and the row kernels. Peers and thread counts are timed interleaved, round by round,
 * so load from other processes falls on all of them alike.
 *
 * Run: npx tsx bench/wasm-kernels.ts [--budget 3000] [--only matmul,mlp,ew,vmath,rows]
 * GRADGRAPH_THREADS sets the pool size (default: the number of cores).
 */
import * as tf from '@tensorflow/tfjs';
import { init, defaultDevice, jit, numpy as np, valueAndGrad } from '@jax-js/jax';
import { ew, type Expr } from '@gradgraph/core/backend/js';
import { heap, makeElementwise, makeMatmul, makeRowKernel, threadCount, type WasmMatmulSpec } from '@gradgraph/core/backend/wasm';
import { elementwiseBatches, matmulBatches } from './data';
import * as tfw from './tfjs';
import { fmtMs, measureInterleaved, type Contender, type MeasureOptions } from './timing';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const budgetMs = Number(arg('budget', '3000'));
const only = new Set(arg('only', 'matmul,mlp,ew,vmath,rows').split(','));
const opts: MeasureOptions = { budgetMs, warmupMs: 1000, maxSamples: 40 };
const threads = threadCount();
const h = heap();

function line(workload: string, impl: string, ms: number, extra: Record<string, number | string> = {}): void {
  console.log(JSON.stringify({ workload, impl, threads: impl.includes('wasm') && !impl.startsWith('gradgraph') ? 1 : undefined, median_ms: Number(ms.toFixed(4)), ...extra }));
}

/** Copies a Float32Array into a new heap block; returns its byte pointer. */
function put(a: Float32Array): number {
  const p = h.alloc(a.byteLength);
  h.f32.set(a, p / 4);
  return p;
}

console.log(`# wasm kernels — pool of ${threads} thread(s), shared memory ${h.shared}, Node ${process.versions.node}`);

await init('wasm');
defaultDevice('wasm');

// ---- matmul 1024³ ----------------------------------------------------------------------------------
if (only.has('matmul')) {
  const batches = matmulBatches();
  const n = batches[0].a.shape[0];
  const flops = 2 * n ** 3;
  const mm = makeMatmul({ m: n, n, k: n });
  const as = batches.map((b) => put(b.a.data as Float32Array));
  const bs = batches.map((b) => put(b.b.data as Float32Array));
  const c = h.alloc(n * n * 4);
  const contenders: Contender[] = [];
  for (let t = 1; t <= Math.min(2, threads); t++) contenders.push({ name: `gradgraph-wasm ${t}t`, step: (i) => mm.run(as[i % 4], bs[i % 4], c, 0, t) });
  // the peers read their result back (dataSync); so does this contender
  contenders.push({ name: `gradgraph-wasm ${Math.min(2, threads)}t +read`, step: (i) => (mm.run(as[i % 4], bs[i % 4], c, 0, 2), h.view(c, 'float32', n * n).slice()) });
  await tfw.useBackend('wasm');
  const tfmm = tfw.matmul(batches);
  contenders.push({ name: 'tfjs-wasm', enter: async () => void (await tf.setBackend('wasm')), step: tfmm.step });
  const ja = batches.map((b) => np.array(b.a.data as Float32Array).reshape([n, n]));
  const jb = batches.map((b) => np.array(b.b.data as Float32Array).reshape([n, n]));
  const jmm = jit((x: np.Array, y: np.Array) => np.matmul(x, y));
  contenders.push({ name: 'jax-js-wasm', step: (i) => void jmm(ja[i % 4].ref, jb[i % 4].ref).dataSync() });
  const res = await measureInterleaved(contenders, opts);
  tfmm.dispose();
  const best = Math.min(res.get('tfjs-wasm')!.medianMs, res.get('jax-js-wasm')!.medianMs);
  console.log(`\nmatmul 1024³ (median of ${res.get('tfjs-wasm')!.samples} interleaved rounds)`);
  for (const [impl, m] of res) {
    line('matmul-1024', impl, m.medianMs, { gflops: Number((flops / m.medianMs / 1e6).toFixed(2)) });
    console.log(`  ${impl.padEnd(26)} ${fmtMs(m.medianMs).padStart(9)}  ${(flops / m.medianMs / 1e6).toFixed(1).padStart(5)} GFLOP/s  (min ${fmtMs(m.minMs)})  ×${(best / m.medianMs).toFixed(2)} of the best peer`);
  }
}

// ---- the mlp-train matmuls ---------------------------------------------------------------------------
if (only.has('mlp')) {
  const shapes: [string, WasmMatmulSpec][] = [
    ['x·W1+b1, relu 128×784·784×512', { m: 128, n: 512, k: 784, bias: true, activation: 'relu' }],
    ['h·W2+b2, relu 128×512·512×256', { m: 128, n: 256, k: 512, bias: true, activation: 'relu' }],
    ['h·W3+b3 128×256·256×10', { m: 128, n: 10, k: 256, bias: true }],
    ['dW1 = xᵀ·dy 784×128·128×512', { m: 784, n: 512, k: 128, transposeA: true }],
    ['dh = dy·W2ᵀ 128×256·256×512', { m: 128, n: 512, k: 256, transposeB: true }],
    ['deep-narrow 32×64·64×64 + tanh', { m: 32, n: 64, k: 64, bias: true, activation: 'tanh' }],
  ];
  console.log('\nmlp-train and deep-narrow matmul shapes');
  for (const [name, spec] of shapes) {
    const mm = makeMatmul(spec);
    const sz = (r: number, c: number) => put(Float32Array.from({ length: r * c }, () => Math.random() - 0.5));
    const a = sz(spec.m, spec.k);
    const b = sz(spec.k, spec.n);
    const bias = sz(1, spec.n);
    const c = h.alloc(spec.m * spec.n * 4);
    const contenders: Contender[] = [];
    for (let t = 1; t <= Math.min(2, threads); t++) contenders.push({ name: `${t}t`, step: () => mm.run(a, b, c, bias, t) });
    const res = await measureInterleaved(contenders, { ...opts, budgetMs: budgetMs / 3, maxSamples: 400 });
    const flops = 2 * spec.m * spec.n * spec.k;
    const cells = [...res].map(([t, m]) => `${t} ${(m.medianMs * 1000).toFixed(1).padStart(7)} µs ${(flops / m.medianMs / 1e6).toFixed(1).padStart(5)} GFLOP/s`);
    for (const [t, m] of res) line(`matmul ${name}`, `gradgraph-wasm ${t}`, m.medianMs);
    console.log(`  ${name.padEnd(34)} ${cells.join('   ')}  (≤ ${mm.parallel} threads)`);
  }
}

// ---- the elementwise-grad loop ---------------------------------------------------------------------
if (only.has('ew')) {
  const xs = elementwiseBatches();
  const n = xs[0].size;
  const x = ew.input(0, 'float32');
  const f32 = (v: number) => ew.constant(v, 'float32');
  // value and gradient of Σ σ(1.5x + 0.5)·tanh x + softplus x − 0.1x², one pass, as the fused program computes them
  const u = ew.binary('add', ew.binary('mul', x, f32(1.5)), f32(0.5));
  const s = ew.unary('sigmoid', u);
  const t = ew.unary('tanh', x);
  const value = ew.binary('sub', ew.binary('add', ew.binary('mul', s, t), ew.unary('softplus', x)), ew.binary('mul', f32(0.1), ew.binary('mul', x, x)));
  const dsig = ew.binary('mul', s, ew.unary('sigmoid', ew.unary('neg', u)));
  const grad: Expr = ew.binary('sub', ew.binary('add', ew.binary('add', ew.binary('mul', ew.binary('mul', f32(1.5), dsig), t), ew.binary('mul', s, ew.binary('sub', f32(1), ew.binary('mul', t, t)))), ew.unary('sigmoid', x)), ew.binary('mul', f32(0.2), x));
  const k = makeElementwise({ shape: [n], inputs: [{ shape: [n], dtype: 'float32' }], outputs: [grad], reduce: { op: 'sum', expr: value, axes: 'all' } });
  const px = xs.map((t) => put(t.data as Float32Array));
  const pg = h.alloc(n * 4);
  const pv = h.alloc(16);
  const contenders: Contender[] = [];
  for (let th = 1; th <= Math.min(2, threads); th++) contenders.push({ name: `gradgraph-wasm loop ${th}t`, step: (i) => k.run([px[i % 4]], [pg], pv, th) });
  await tfw.useBackend('wasm');
  const tfe = tfw.elementwiseGrad(xs);
  contenders.push({ name: 'tfjs-wasm step', enter: async () => void (await tf.setBackend('wasm')), step: tfe.step });
  const jf = (v: np.Array) => {
    const sg = np.tanh(v.ref).mul(np.reciprocal(np.exp(v.ref.mul(1.5).add(0.5).mul(-1)).add(1)));
    const sp = np.log1p(np.exp(np.absolute(v.ref).mul(-1))).add(np.maximum(v.ref, 0));
    return sg.add(sp).sub(v.ref.mul(v).mul(0.1)).sum();
  };
  const jvg = jit(valueAndGrad(jf));
  const jx = xs.map((t) => np.array(t.data as Float32Array));
  contenders.push({
    name: 'jax-js-wasm step',
    step: (i) => {
      const [v, g] = jvg(jx[i % 4].ref) as [np.Array, np.Array];
      v.dataSync();
      g.dataSync();
    },
  });
  const res = await measureInterleaved(contenders, opts);
  tfe.dispose();
  console.log(`\nelementwise-grad, 2²⁰ float32 (our row: the fused value+gradient loop alone; peers: their whole step)`);
  for (const [impl, m] of res) {
    line('elementwise-grad-kernel', impl, m.medianMs);
    console.log(`  ${impl.padEnd(26)} ${fmtMs(m.medianMs).padStart(9)}  ${((m.medianMs * 1e6) / n).toFixed(2)} ns/element`);
  }
}

// ---- vector math throughput --------------------------------------------------------------------------
if (only.has('vmath')) {
  const n = 1 << 20;
  const x = ew.input(0, 'float32');
  const px = put(Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 20));
  const py = h.alloc(n * 4);
  console.log(`\nvector math, 2²⁰ float32, 1 thread (y = f(x), memory to memory)`);
  const contenders: Contender[] = ['neg', 'exp', 'log', 'tanh', 'sigmoid', 'softplus', 'log1p', 'expm1', 'sin', 'sqrt'].map((op) => {
    const k = makeElementwise({ shape: [n], inputs: [{ shape: [n], dtype: 'float32' }], outputs: [ew.unary(op, op === 'log' || op === 'sqrt' ? ew.unary('abs', x) : x)] });
    return { name: op, step: () => k.run([px], [py], undefined, 1) };
  });
  const res = await measureInterleaved(contenders, { ...opts, budgetMs: budgetMs / 4 });
  for (const [op, m] of res) {
    line(`vmath ${op}`, 'gradgraph-wasm 1t', m.medianMs);
    console.log(`  ${op.padEnd(10)} ${fmtMs(m.medianMs).padStart(9)}  ${((m.medianMs * 1e6) / n).toFixed(2)} ns/element`);
  }
}

// ---- row kernels --------------------------------------------------------------------------------------
if (only.has('rows')) {
  console.log('\nrow kernels');
  for (const [rows, cols] of [
    [128, 10],
    [1024, 1024],
  ]) {
    const px = put(Float32Array.from({ length: rows * cols }, () => (Math.random() - 0.5) * 10));
    const pt = put(Float32Array.from({ length: rows * cols }, () => Math.random()));
    const po = h.alloc(rows * cols * 4);
    const contenders: Contender[] = [];
    for (const op of ['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy'] as const) {
      const k = makeRowKernel({ op, rows, cols });
      for (let t = 1; t <= Math.min(2, threads); t++) contenders.push({ name: `${op} ${t}t`, step: () => k.run(px, po, pt, t) });
    }
    const res = await measureInterleaved(contenders, { ...opts, budgetMs: budgetMs / 8, maxSamples: 200 });
    for (const [name, m] of res) {
      line(`rows ${rows}×${cols} ${name}`, 'gradgraph-wasm', m.medianMs);
      console.log(`  [${rows}, ${cols}] ${name.padEnd(24)} ${(m.medianMs * 1000).toFixed(1).padStart(8)} µs  ${((m.medianMs * 1e6) / (rows * cols)).toFixed(2)} ns/element`);
    }
  }
}
