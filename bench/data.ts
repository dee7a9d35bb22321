/**
 * The inputs of every workload: 4 pre-generated batches per workload, fed in rotation on both
 * sides (gradgraph and TF.js see the same numbers), so nothing can be constant-folded or cached.
 */
import { Tensor } from '@gradgraph/core';

export const BATCHES = 4;

export interface MlpBatch {
  /** [128, 784] pixels in [0, 1). */
  readonly x: Tensor;
  /** [128] int32 class labels in [0, 10). */
  readonly y: Tensor;
}

export interface PairBatch {
  readonly a: Tensor;
  readonly b: Tensor;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export const MLP = { batch: 128, sizes: [784, 512, 256, 10] as const };
export const MATMUL = { n: 1024 };
export const ELEMENTWISE = { n: 1 << 20 };
export const DEEP = { batch: 32, width: 64, depth: 16 };

export function mlpBatches(): MlpBatch[] {
  return range(BATCHES).map((b) => {
    const u = Tensor.rand([MLP.batch, MLP.sizes[0]], 'float32', 100 + b);
    const y = new Tensor('int32', [MLP.batch]);
    const r = Tensor.rand([MLP.batch], 'float32', 200 + b);
    for (let i = 0; i < MLP.batch; i++) y.data[i] = Math.min(9, Math.floor(r.data[i] * 10));
    return { x: u, y };
  });
}

export function matmulBatches(): PairBatch[] {
  const n = MATMUL.n;
  return range(BATCHES).map((b) => ({ a: Tensor.randn([n, n], 'float32', 300 + b), b: Tensor.randn([n, n], 'float32', 400 + b) }));
}

/** x uniform in [-2, 2). */
export function elementwiseBatches(): Tensor[] {
  return range(BATCHES).map((b) => {
    const t = Tensor.rand([ELEMENTWISE.n], 'float32', 500 + b);
    for (let i = 0; i < t.size; i++) t.data[i] = t.data[i] * 4 - 2;
    return t;
  });
}

/** x standard normal [32, 64]; targets uniform in (−0.9, 0.9), reachable by tanh. */
export function deepBatches(): PairBatch[] {
  return range(BATCHES).map((b) => {
    const t = Tensor.rand([DEEP.batch, DEEP.width], 'float32', 700 + b);
    for (let i = 0; i < t.size; i++) t.data[i] = t.data[i] * 1.8 - 0.9;
    return { a: Tensor.randn([DEEP.batch, DEEP.width], 'float32', 600 + b), b: t };
  });
}
