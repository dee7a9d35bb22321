/**
 * Convolution kernel micro-benchmark: the JS back end's two methods — im2col + matmul and direct
 * loops — on the convolutions a small CNN runs (forward, the gradient wrt x as convTranspose, the
 * weight gradient as a conv over the batch), a depthwise conv, and the `cnn-train` shapes of issue
 * #13, float32, interleaved so machine load falls on both alike. Run: npx tsx bench/conv-kernels.ts
 * (`--budget=ms` per method and case, default 1500; `--dtype=float64`).
 */
import { pathToFileURL } from 'node:url';
import { Graph, Tensor } from '@gradgraph/core';
import { convGeometry, makeConvKernel, makeConvTransposeKernel, Workspace, chooseConvMethod, chooseConvTransposeMethod, type ConvMethod } from '@gradgraph/core/backend/js';
import { fmtMs, measureInterleaved } from './timing';

interface Case {
  name: string;
  kind: 'conv' | 'convTranspose';
  /** conv: x and w; convTranspose: the forward conv's x (the result) and w. */
  x: number[];
  w: number[];
  attrs: Record<string, unknown>;
}

const CASES: Case[] = [
  // the demo's CNN, batch 64: conv 5×5 1→8 on 28×28, pool, conv 5×5 8→16 on 12×12
  { name: 'demo conv1 forward', kind: 'conv', x: [64, 28, 28, 1], w: [5, 5, 1, 8], attrs: {} },
  { name: 'demo conv1 weight grad', kind: 'conv', x: [1, 28, 28, 64], w: [24, 24, 64, 8], attrs: {} },
  { name: 'demo conv2 forward', kind: 'conv', x: [64, 12, 12, 8], w: [5, 5, 8, 16], attrs: {} },
  { name: 'demo conv2 grad x', kind: 'convTranspose', x: [64, 12, 12, 8], w: [5, 5, 8, 16], attrs: {} },
  { name: 'demo conv2 weight grad', kind: 'conv', x: [8, 12, 12, 64], w: [8, 8, 64, 16], attrs: {} },
  // issue #13's cnn-train: 5×5×32 on 28×28×1 and 5×5×64 on 12×12×32, batch 64
  { name: 'cnn-train conv2 forward', kind: 'conv', x: [64, 12, 12, 32], w: [5, 5, 32, 64], attrs: {} },
  { name: 'cnn-train conv2 grad x', kind: 'convTranspose', x: [64, 12, 12, 32], w: [5, 5, 32, 64], attrs: {} },
  // 3×3 'same' with stride 2, and a depthwise 3×3
  { name: '3×3 s2 same 16→32', kind: 'conv', x: [32, 28, 28, 16], w: [3, 3, 16, 32], attrs: { stride: 2, padding: 'same' } },
  { name: 'depthwise 3×3 ×32', kind: 'conv', x: [32, 28, 28, 32], w: [3, 3, 1, 32], attrs: { padding: 'same', groups: 32 } },
  { name: 'depthwise 3×3 ×32 grad x', kind: 'convTranspose', x: [32, 28, 28, 32], w: [3, 3, 1, 32], attrs: { padding: 'same', groups: 32 } },
  { name: '1×1 32→32', kind: 'conv', x: [32, 28, 28, 32], w: [1, 1, 32, 32], attrs: {} },
];

export interface ConvKernelRow {
  name: string;
  method: ConvMethod;
  chosen: boolean;
  medianMs: number;
  gflops: number;
}

export async function runConvKernelBench(budgetMs = 1500, dtype: 'float32' | 'float64' = 'float32'): Promise<ConvKernelRow[]> {
  const rows: ConvKernelRow[] = [];
  for (const c of CASES) {
    // normalized attributes, through the op's own rule
    const g = new Graph();
    const node = g.apply('conv', [g.input('x', c.x, dtype), g.input('w', c.w, dtype)], c.attrs);
    const geo = convGeometry(c.x, c.w, node.node.attrs as never);
    const y = node.shape as number[];
    const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
    const Arr = dtype === 'float32' ? Float32Array : Float64Array;
    const x = Tensor.randn(c.x, dtype, 1).data as Float32Array;
    const w = Tensor.randn(c.w, dtype, 2).data as Float32Array;
    const yv = Tensor.randn(y, dtype, 3).data as Float32Array;
    const out = new Arr(Math.max(size(y), size(c.x)));
    const flops = 2 * size(y) * c.w.slice(0, -1).reduce((p, d) => p * d, 1);
    const chosen = c.kind === 'conv' ? chooseConvMethod(geo) : chooseConvTransposeMethod(geo);
    const contenders = (['im2col', 'direct'] as const).map((method) => {
      const ws = new Workspace();
      const k = c.kind === 'conv' ? makeConvKernel(geo, dtype, ws, method) : makeConvTransposeKernel(geo, dtype, ws, method);
      return { name: method, step: () => (c.kind === 'conv' ? k(x, 0, w, 0, out, 0) : k(yv, 0, w, 0, out, 0)) };
    });
    const m = await measureInterleaved(contenders, { budgetMs, minSamples: 3, maxSamples: 30, warmupCalls: 2, warmupMs: 500 });
    for (const [method, r] of m) rows.push({ name: c.name, method: method as ConvMethod, chosen: method === chosen, medianMs: r.medianMs, gflops: flops / r.medianMs / 1e6 });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
  const rows = await runConvKernelBench(Number(arg('budget') ?? 1500), (arg('dtype') as 'float32' | 'float64') ?? 'float32');
  for (const r of rows) console.log(JSON.stringify({ workload: `conv-kernel: ${r.name}`, impl: r.method, median_ms: Number(r.medianMs.toFixed(3)), chosen: r.chosen }));
  for (const r of rows) console.log(`${r.name.padEnd(28)} ${r.method.padEnd(7)} ${fmtMs(r.medianMs).padStart(9)} ${r.gflops.toFixed(2).padStart(6)} GFLOP/s${r.chosen ? '  (chosen)' : ''}`);
}
