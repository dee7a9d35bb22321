/**
 * Registers the WebAssembly back end: float32 (and int32/bool) kernels emitted as SIMD128 code per
 * shape specialization, run on a pool of threads over one shared memory that also holds the
 * params; float64 and ops without wasm kernels run as the JS back end's kernels over the same
 * memory (see executor.ts). Available where WebAssembly SIMD validates.
 */
import { registerBackend } from '../../backends';
import { reserveParams, WasmExecutor, wasmSimdAvailable } from './executor';
import './lowerings';

registerBackend({
  name: 'wasm',
  doc: 'WebAssembly SIMD over one shared memory, on every core (float32; float64 on the JS kernels)',
  available: wasmSimdAvailable,
  prepare: reserveParams,
  create: (graph, program, validate, opts) => new WasmExecutor(graph, program, validate, opts),
});
