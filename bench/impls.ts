/**
 * The workloads and the implementations that run them, in one table: `prepare(workload, impl)`
 * builds one implementation of one workload on the shared inputs, or says why it can't run in
 * this build (no WebAssembly back end yet, no `conv` yet). Used by `pnpm bench` (bench/run.ts)
 * and by its child processes (bench/remote.ts).
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import type { Prepared } from './checks';
import { cnnBatches, deepBatches, elementwiseBatches, matmulBatches, mlpBatches } from './data';
import * as gg from './gradgraph';
import * as jx from './jaxjs';
import * as tfw from './tfjs';

import type { Impl, PeerWorkload } from './names';

export { IMPLS, PEERS, PEER_WORKLOADS, TRAINING, type Impl, type PeerWorkload } from './names';

export type Inputs = ReturnType<typeof mlpBatches> | ReturnType<typeof matmulBatches> | ReturnType<typeof elementwiseBatches>;

/** The 4 pre-generated batches of a workload (deterministic: a child process makes the same). */
export function inputs(w: PeerWorkload): Inputs {
  return { 'mlp-train': mlpBatches, matmul: matmulBatches, 'elementwise-grad': elementwiseBatches, 'deep-narrow': deepBatches, 'cnn-train': cnnBatches }[w]();
}

/** A prepared implementation, with the hook that switches TF.js to its back end before each call. */
export interface Ready {
  readonly prepared: Prepared;
  readonly enter?: () => Promise<void>;
  /** What really runs (gradgraph: the executable's back end). */
  readonly runsOn: string;
}

/**
 * Why `impl` can't run `w` in this build, or undefined when it can.
 * @example skipReason('cnn-train', 'gradgraph-js') // 'needs conv and maxPool in @gradgraph/core (not in this build)'
 */
export function skipReason(w: PeerWorkload, impl: Impl): string | undefined {
  if (impl === 'gradgraph-wasm' && !gg.hasBackend('wasm')) return "compile() has no 'wasm' back end in this build";
  if (impl.startsWith('gradgraph') && w === 'cnn-train' && !gg.HAS.conv) return 'needs conv and maxPool in @gradgraph/core (not in this build)';
  return undefined;
}

/** Builds `impl`'s version of `w` on `data` (call `skipReason` first). */
export async function prepare(w: PeerWorkload, impl: Impl, data: Inputs): Promise<Ready> {
  const d = data as never;
  if (impl === 'gradgraph-wasm' || impl === 'gradgraph-js') {
    const backend = impl === 'gradgraph-js' ? 'js' : 'wasm';
    const p = { 'mlp-train': gg.mlpTrain, matmul: gg.matmul, 'elementwise-grad': gg.elementwiseGrad, 'deep-narrow': gg.deepNarrow, 'cnn-train': gg.cnnTrain }[w](d, backend);
    return { prepared: p, runsOn: p.backend };
  }
  if (impl === 'jax-js-wasm') {
    await jx.initJax();
    const p = { 'mlp-train': jx.mlpTrain, matmul: jx.matmul, 'elementwise-grad': jx.elementwiseGrad, 'deep-narrow': jx.deepNarrow, 'cnn-train': jx.cnnTrain }[w](d);
    return { prepared: p, runsOn: 'wasm' };
  }
  const backend = impl === 'tfjs-cpu' ? 'cpu' : 'wasm';
  await tfw.useBackend(backend); // tensors and variables are made on the back end they run on
  const p =
    w === 'cnn-train'
      ? tfw.cnnTrain(d, backend)
      : { 'mlp-train': tfw.mlpTrain, matmul: tfw.matmul, 'elementwise-grad': tfw.elementwiseGrad, 'deep-narrow': tfw.deepNarrow }[w](d);
  return { prepared: p, enter: async () => void (await tf.setBackend(backend)), runsOn: backend };
}

/**
 * The threads gradgraph's WebAssembly back end uses: `GRADGRAPH_THREADS`, read once per process
 * when its pool starts, or the number of cores.
 */
export function gradgraphThreads(): number {
  const env = process.env.GRADGRAPH_THREADS;
  if (env !== undefined && env !== '') return Number(env);
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
