/**
 * The inputs and initial weights of every workload: 4 pre-generated batches per workload, fed in
 * rotation to every implementation (gradgraph, jax-js and TF.js see the same numbers), so nothing
 * can be constant-folded or cached; and one set of seeded initial weights per training workload,
 * loaded by every implementation, so their losses agree step for step.
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
/**
 * conv 5×5×32 → ReLU → maxPool 2 → conv 5×5×64 → ReLU → maxPool 2 → dense 10, 'valid' padding
 * (gradgraph's default): 28 → 24 → 12 → 8 → 4, so the dense layer reads 4·4·64 = 1024 features.
 */
export const CNN = { batch: 64, size: 28, kernel: 5, channels: [1, 32, 64] as const, classes: 10, flat: 4 * 4 * 64 };

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

/** [64, 28, 28, 1] channels-last images in [0, 1) and [64] int32 labels in [0, 10). */
export function cnnBatches(): MlpBatch[] {
  return range(BATCHES).map((b) => {
    const x = Tensor.rand([CNN.batch, CNN.size, CNN.size, CNN.channels[0]], 'float32', 800 + b);
    const y = new Tensor('int32', [CNN.batch]);
    const r = Tensor.rand([CNN.batch], 'float32', 900 + b);
    for (let i = 0; i < CNN.batch; i++) y.data[i] = Math.min(CNN.classes - 1, Math.floor(r.data[i] * CNN.classes));
    return { x, y };
  });
}

// ---- initial weights -------------------------------------------------------------------------

/** One layer's initial kernel and bias (dense: [in, out]; conv: [kh, kw, in, out], channels-last). */
export interface Layer {
  readonly w: Tensor;
  readonly b: Tensor;
}

/** He-normal N(0, 2/fanIn) kernel, zero bias (what `init.heNormal()` draws, from a fixed seed). */
function heNormal(shape: number[], fanIn: number, seed: number): Layer {
  const w = Tensor.randn(shape, 'float32', seed);
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < w.size; i++) w.data[i] *= std;
  return { w, b: Tensor.zeros([shape[shape.length - 1]]) };
}

/** Glorot-uniform U(±√(6/(fanIn + fanOut))) kernel, zero bias (Keras' and `nn.dense`'s default). */
function glorotUniform(shape: number[], fanIn: number, fanOut: number, seed: number): Layer {
  const w = Tensor.rand(shape, 'float32', seed);
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < w.size; i++) w.data[i] = (w.data[i] * 2 - 1) * lim;
  return { w, b: Tensor.zeros([shape[shape.length - 1]]) };
}

/** mlp-train: He-normal for the three dense layers. */
export function mlpWeights(): Layer[] {
  return range(3).map((l) => heNormal([MLP.sizes[l], MLP.sizes[l + 1]], MLP.sizes[l], 1100 + l));
}

/** deep-narrow: Glorot-uniform for the 16 dense layers. */
export function deepWeights(): Layer[] {
  return range(DEEP.depth).map((l) => glorotUniform([DEEP.width, DEEP.width], DEEP.width, DEEP.width, 1200 + l));
}

/** cnn-train: He-normal for both convs (fan-in kh·kw·cin) and the dense layer. */
export function cnnWeights(): Layer[] {
  const k = CNN.kernel;
  const [c0, c1, c2] = CNN.channels;
  return [
    heNormal([k, k, c0, c1], k * k * c0, 1300),
    heNormal([k, k, c1, c2], k * k * c1, 1301),
    heNormal([CNN.flat, CNN.classes], CNN.flat, 1302),
  ];
}
