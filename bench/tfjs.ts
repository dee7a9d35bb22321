/**
 * The four workloads written idiomatically in TensorFlow.js: variables, `optimizer.minimize` or
 * `tf.valueAndGrad` inside `tf.tidy`, results read back with `dataSync()` (gradgraph returns its
 * results as typed arrays too). Runs on the `cpu` and `wasm` backends (wasm single-threaded).
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Tensor } from '@gradgraph/core';
import { DEEP, MLP, type MlpBatch, type PairBatch } from './data';

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

export interface TfPrepared {
  readonly step: (i: number) => void;
  /** Frees every tensor and variable the workload made. */
  readonly dispose: () => void;
}

const f32 = (t: Tensor, shape: number[]) => tf.tensor(t.data as Float32Array, shape, 'float32');

/** Glorot-uniform weights and zero biases, as Keras' Dense. */
function dense(inputs: number, units: number): { w: tf.Variable; b: tf.Variable } {
  const lim = Math.sqrt(6 / (inputs + units));
  return { w: tf.variable(tf.randomUniform([inputs, units], -lim, lim)), b: tf.variable(tf.zeros([units])) };
}

export function mlpTrain(batches: readonly MlpBatch[]): TfPrepared {
  const xs = batches.map((b) => f32(b.x, [MLP.batch, MLP.sizes[0]]));
  const ys = batches.map((b) => tf.tidy(() => tf.oneHot(tf.tensor1d(b.y.data as Int32Array, 'int32'), MLP.sizes[3]).toFloat()));
  const layers = [dense(784, 512), dense(512, 256), dense(256, 10)];
  const opt = tf.train.adam(1e-3);
  const model = (x: tf.Tensor) => {
    const h1 = tf.relu(tf.add(tf.matMul(x, layers[0].w), layers[0].b));
    const h2 = tf.relu(tf.add(tf.matMul(h1, layers[1].w), layers[1].b));
    return tf.add(tf.matMul(h2, layers[2].w), layers[2].b);
  };
  return {
    step: (i) =>
      tf.tidy(() => {
        const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys[i % ys.length], model(xs[i % xs.length])) as tf.Scalar, true);
        loss!.dataSync();
      }),
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
  return {
    step: (i) =>
      tf.tidy(() => {
        tf.matMul(as[i % as.length], bs[i % bs.length]).dataSync();
      }),
    dispose: () => tf.dispose([...as, ...bs]),
  };
}

export function elementwiseGrad(batches: readonly Tensor[]): TfPrepared {
  const xs = batches.map((t) => f32(t, [t.size]));
  // Σ sigmoid(1.5x + 0.5)·tanh(x) + softplus(x) − 0.1x²
  const f = (x: tf.Tensor) => tf.sum(tf.sub(tf.add(tf.mul(tf.sigmoid(tf.add(tf.mul(x, 1.5), 0.5)), tf.tanh(x)), tf.softplus(x)), tf.mul(tf.square(x), 0.1)));
  const valueAndGrad = tf.valueAndGrad(f);
  return {
    step: (i) =>
      tf.tidy(() => {
        const { value, grad } = valueAndGrad(xs[i % xs.length]);
        value.dataSync();
        grad.dataSync();
      }),
    dispose: () => tf.dispose(xs),
  };
}

export function deepNarrow(batches: readonly PairBatch[]): TfPrepared {
  const xs = batches.map((p) => f32(p.a, [DEEP.batch, DEEP.width]));
  const ts = batches.map((p) => f32(p.b, [DEEP.batch, DEEP.width]));
  const layers = Array.from({ length: DEEP.depth }, () => dense(DEEP.width, DEEP.width));
  const opt = tf.train.momentum(0.01, 0.9);
  const model = (x: tf.Tensor) => layers.reduce((h, l) => tf.tanh(tf.add(tf.matMul(h, l.w), l.b)), x);
  return {
    step: (i) =>
      tf.tidy(() => {
        const loss = opt.minimize(() => tf.losses.meanSquaredError(ts[i % ts.length], model(xs[i % xs.length])) as tf.Scalar, true);
        loss!.dataSync();
      }),
    dispose: () => {
      tf.dispose([...xs, ...ts, ...layers.flatMap((l) => [l.w, l.b])]);
      opt.dispose();
    },
  };
}
