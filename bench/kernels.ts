/**
 * Kernel micro-benchmark: the JS backend's matmul kernel alone (no graph, no executor) on the
 * matmul workload's inputs, next to TF.js `tf.matMul` on cpu and wasm. Run alone with
 * `tsx bench/kernels.ts`; `pnpm bench` runs it too.
 */
import * as tf from '@tensorflow/tfjs';
import { makeMatmul } from '@gradgraph/core/backend/js';
import { pathToFileURL } from 'node:url';
import { matmulBatches, type PairBatch } from './data';
import * as tfw from './tfjs';
import { fmtMs, measureInterleaved, type Contender, type MeasureOptions } from './timing';

/** The packed kernel on 1024×1024 float32 pairs in rotation, writing one preallocated C. */
export function kernelMatmul(batches: readonly PairBatch[]): (i: number) => void {
  const n = batches[0].a.shape[0];
  const kernel = makeMatmul({ dtype: 'float32', m: n, n, k: n });
  const C = new Float32Array(n * n);
  const as = batches.map((p) => p.a.data as Float32Array);
  const bs = batches.map((p) => p.b.data as Float32Array);
  return (i) => kernel(as[i % as.length], 0, bs[i % bs.length], 0, C, 0);
}

export interface KernelRow {
  readonly impl: string;
  readonly medianMs: number;
  readonly gflops: number;
}

/** Times the kernel and `tf.matMul` on both TF.js backends, on the same inputs, interleaved. */
export async function runKernelBench(opts: MeasureOptions = {}, batches = matmulBatches()): Promise<KernelRow[]> {
  const n = batches[0].a.shape[0];
  const flops = 2 * n * n * n;
  const contenders: Contender[] = [{ name: 'kernel-js', step: kernelMatmul(batches) }];
  const disposers: (() => void)[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await tfw.useBackend(backend);
    const w = tfw.matmul(batches);
    contenders.push({ name: `tfjs-${backend}`, enter: async () => void (await tf.setBackend(backend)), step: w.step });
    disposers.push(w.dispose);
  }
  const results = await measureInterleaved(contenders, opts);
  disposers.forEach((d) => d());
  return [...results].map(([impl, m]) => ({ impl, medianMs: m.medianMs, gflops: flops / m.medianMs / 1e6 }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runKernelBench({ budgetMs: 5000 });
  for (const r of rows) console.log(JSON.stringify({ workload: 'matmul-kernel', impl: r.impl, median_ms: Number(r.medianMs.toFixed(3)) }));
  for (const r of rows) console.log(`${r.impl.padEnd(10)} ${fmtMs(r.medianMs).padStart(10)}  ${r.gflops.toFixed(2)} GFLOP/s`);
}
