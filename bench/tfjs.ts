/**
 * The workloads written idiomatically in TensorFlow.js: variables, `optimizer.minimize` or
 * `tf.valueAndGrad` inside `tf.tidy`, results read back with `dataSync()` (gradgraph returns its
 * results as typed arrays too). Runs on the `cpu` and `wasm` backends (wasm single-threaded).
 * The weights start from the shared initial weights of bench/data.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Tensor } from '@gradgraph/core';
import { absSum, type Prepared } from './checks';
import { CNN, DEEP, MLP, cnnWeights, deepWeights, mlpWeights, type Layer, type MlpBatch, type PairBatch } from './data';

export type TfBackend = 'cpu' | 'wasm';

let wasmConfigured = false;

/** Switches TF.js to `name` (wasm: the SIMD binary from node_modules, one thread). */
export async function useBackend(name: TfBackend): Promise<void> {
  if (name === 'wasm' && !wasmConfigured) {
    const require = createRequire(import.meta.url);
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
    setThreadsCount(1);
    wasmConfigured = true;
  }
  // TF.js greets Node users with a banner on stdout; keep the JSON lines clean
  const log = console.log;
  const warn = console.warn;
  const quiet = (f: (...a: unknown[]) => void) => (...a: unknown[]) => {
    if (!String(a[0]).includes('tfjs-node') && !String(a[0]).startsWith('====') && !String(a[0]).includes('looks like you are running TensorFlow.js in Node')) f(...a);
  };
  console.log = quiet(log);
  console.warn = quiet(warn);
  try {
    if (!(await tf.setBackend(name))) throw new Error(`TF.js backend "${name}" failed to initialize`);
    await tf.ready();
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync()); // the banner is printed on first use
  } finally {
    console.log = log;
    console.warn = warn;
  }
}

/** Whether the wasm backend runs with SIMD (it does under Node 20). */
export async function wasmSimd(): Promise<boolean> {
  return Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
}

export type TfPrepared = Prepared & { readonly dispose: () => void };

const f32 = (t: Tensor, shape: number[] = [...t.shape]) => tf.tensor(t.data as Float32Array, shape, 'float32');

/** Variables holding a layer's shared initial weights. */
const variables = (l: Layer) => ({ w: tf.variable(f32(l.w)), b: tf.variable(f32(l.b)) });

/** Adam with PyTorch's ε (TF.js defaults to 1e-7); TF.js's update is PyTorch's form. */
const adam = () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8);

/** One `optimizer.minimize` step that reads the loss back. */
function minimizeStep(opt: tf.Optimizer, lossOf: (i: number) => tf.Scalar): { step: (i: number) => void; probe: () => number[] } {
  let loss = NaN;
  return {
    step: (i) =>
      tf.tidy(() => {
        loss = opt.minimize(() => lossOf(i), true)!.dataSync()[0];
      }),
    probe: () => [loss],
  };
}

export function mlpTrain(batches: readonly MlpBatch[]): TfPrepared {
  const xs = batches.map((b) => f32(b.x, [MLP.batch, MLP.sizes[0]]));
  const ys = batches.map((b) => tf.tidy(() => tf.oneHot(tf.tensor1d(b.y.data as Int32Array, 'int32'), MLP.sizes[3]).toFloat()));
  const layers = mlpWeights().map(variables);
  const opt = adam();
  const model = (x: tf.Tensor) => {
    const h1 = tf.relu(tf.add(tf.matMul(x, layers[0].w), layers[0].b));
    const h2 = tf.relu(tf.add(tf.matMul(h1, layers[1].w), layers[1].b));
    return tf.add(tf.matMul(h2, layers[2].w), layers[2].b);
  };
  return {
    ...minimizeStep(opt, (i) => tf.losses.softmaxCrossEntropy(ys[i % ys.length], model(xs[i % xs.length])) as tf.Scalar),
    dispose: () => {
      tf.dispose([...xs, ...ys, ...layers.flatMap((l) => [l.w, l.b])]);
      opt.dispose();
    },
  };
}

export function matmul(batches: readonly PairBatch[]): TfPrepared {
  const n = batches[0].a.shape[0];
  const as = batches.map((p) => f32(p.a, [n, n]));
  const bs = batches.map((p) => f32(p.b, [n, n]));
  let last: ArrayLike<number> = [];
  return {
    step: (i) =>
      tf.tidy(() => {
        last = tf.matMul(as[i % as.length], bs[i % bs.length]).dataSync();
      }),
    probe: () => [absSum(last)],
    dispose: () => tf.dispose([...as, ...bs]),
  };
}

export function elementwiseGrad(batches: readonly Tensor[]): TfPrepared {
  const xs = batches.map((t) => f32(t, [t.size]));
  // Σ sigmoid(1.5x + 0.5)·tanh(x) + softplus(x) − 0.1x²
  const f = (x: tf.Tensor) => tf.sum(tf.sub(tf.add(tf.mul(tf.sigmoid(tf.add(tf.mul(x, 1.5), 0.5)), tf.tanh(x)), tf.softplus(x)), tf.mul(tf.square(x), 0.1)));
  const valueAndGrad = tf.valueAndGrad(f);
  let last: [ArrayLike<number>, ArrayLike<number>] = [[], []];
  return {
    step: (i) =>
      tf.tidy(() => {
        const { value, grad } = valueAndGrad(xs[i % xs.length]);
        last = [value.dataSync(), grad.dataSync()];
      }),
    probe: () => [last[0][0], absSum(last[1])],
    dispose: () => tf.dispose(xs),
  };
}

export function deepNarrow(batches: readonly PairBatch[]): TfPrepared {
  const xs = batches.map((p) => f32(p.a, [DEEP.batch, DEEP.width]));
  const ts = batches.map((p) => f32(p.b, [DEEP.batch, DEEP.width]));
  const layers = deepWeights().map(variables);
  const opt = tf.train.momentum(0.01, 0.9);
  const model = (x: tf.Tensor) => layers.reduce((h, l) => tf.tanh(tf.add(tf.matMul(h, l.w), l.b)), x);
  return {
    ...minimizeStep(opt, (i) => tf.losses.meanSquaredError(ts[i % ts.length], model(xs[i % xs.length])) as tf.Scalar),
    dispose: () => {
      tf.dispose([...xs, ...ts, ...layers.flatMap((l) => [l.w, l.b])]);
      opt.dispose();
    },
  };
}

/**
 * cnn-train, channels-last: `tf.conv2d` (NHWC, filters [5, 5, in, out]) → ReLU → `tf.maxPool` 2 →
 * the same → dense 10, Adam. TF.js 4.22's wasm back end has no `Conv2DBackpropFilter` kernel, so
 * `tf.conv2d`'s gradient throws there; on wasm the convolutions are `tf.conv3d` with a depth of
 * one (x [N, 1, H, W, C], filters [1, 5, 5, in, out]: the same sums), whose forward and backward
 * kernels the wasm back end has. `conv3d` is passed explicitly for that.
 */
export function cnnTrain(batches: readonly MlpBatch[], backend: TfBackend): TfPrepared {
  const xs = batches.map((b) => f32(b.x));
  const ys = batches.map((b) => tf.tidy(() => tf.oneHot(tf.tensor1d(b.y.data as Int32Array, 'int32'), CNN.classes).toFloat()));
  const layers = cnnWeights().map(variables);
  const opt = adam();
  const conv = (x: tf.Tensor4D, w: tf.Tensor): tf.Tensor4D => {
    if (backend === 'cpu') return tf.conv2d(x, w as tf.Tensor4D, 1, 'valid');
    const [n, h, wd, c] = x.shape;
    const y = tf.conv3d(x.reshape<tf.Tensor5D>([n, 1, h, wd, c]), w.reshape<tf.Tensor5D>([1, ...w.shape]), 1, 'valid');
    return y.reshape<tf.Tensor4D>([n, y.shape[2], y.shape[3], y.shape[4]]);
  };
  const block = (x: tf.Tensor4D, l: (typeof layers)[number]): tf.Tensor4D => tf.maxPool(tf.relu(tf.add(conv(x, l.w), l.b)) as tf.Tensor4D, 2, 2, 'valid');
  const model = (x: tf.Tensor4D) => {
    const h = block(block(x, layers[0]), layers[1]);
    return tf.add(tf.matMul(h.reshape([-1, CNN.flat]), layers[2].w), layers[2].b);
  };
  return {
    ...minimizeStep(opt, (i) => tf.losses.softmaxCrossEntropy(ys[i % ys.length], model(xs[i % xs.length] as tf.Tensor4D)) as tf.Scalar),
    dispose: () => {
      tf.dispose([...xs, ...ys, ...layers.flatMap((l) => [l.w, l.b])]);
      opt.dispose();
    },
  };
}
