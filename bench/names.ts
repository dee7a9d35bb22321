/** The names of the implementations and workloads (kept apart from bench/impls.ts, which loads every library). */

export type Impl = 'gradgraph-wasm' | 'gradgraph-js' | 'jax-js-wasm' | 'tfjs-wasm' | 'tfjs-cpu';
export const IMPLS: readonly Impl[] = ['gradgraph-wasm', 'gradgraph-js', 'jax-js-wasm', 'tfjs-wasm', 'tfjs-cpu'];
/** The implementations a gradgraph time is compared with: the faster of these is the best peer. */
export const PEERS: readonly Impl[] = ['jax-js-wasm', 'tfjs-wasm'];

/** Workloads every implementation runs. */
export type PeerWorkload = 'mlp-train' | 'matmul' | 'elementwise-grad' | 'deep-narrow' | 'cnn-train';
export const PEER_WORKLOADS: readonly PeerWorkload[] = ['mlp-train', 'matmul', 'elementwise-grad', 'deep-narrow', 'cnn-train'];
/** The training workloads: their loss is checked to decrease and to agree across implementations. */
export const TRAINING: readonly PeerWorkload[] = ['mlp-train', 'deep-narrow', 'cnn-train'];
