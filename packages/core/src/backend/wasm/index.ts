/**
 * The WebAssembly SIMD back end's building blocks: a binary encoder, the process-wide shared
 * memory and its allocator, the worker pool that runs emitted code SPMD, and the float32 kernels
 * (matmul with fused epilogues, fused elementwise loops with reductions, vector math, row
 * kernels). See docs/kernels.md ("WebAssembly") for how the executor uses them.
 */
/// <reference path="./webassembly.d.ts" />
import '../../ops/index';

export { ModuleBuilder, FunctionBuilder, ByteWriter, type ValType, type Label, type MemoryImport } from './encoder';
export { Heap, heap, canShareMemory, CONTROL_BYTES, MAX_PAGES, PAGE_BYTES, ALIGN, type HeapDType } from './memory';
export { WasmModule, kernelModuleBuilder, microLibrary, runParallel, threadCount, shutdownThreads, prefaultPending, BARRIER_BASE, MAX_ARGS } from './threads';
export { emitMatmul, makeMatmul, MATMUL_TILING, MATMUL_FLOPS_PER_THREAD, MATMUL_SCRATCH_BOUND, type WasmMatmulSpec, type WasmMatmul, type MatmulTiling, type EmittedKernel } from './matmul';
export { declareMicroImports, microImportsOf, microLibraryBytes, MICRO_MR, MICRO_NR, type MicroImports, type MicroLayout } from './mmlib';
export { emitElementwise, makeElementwise, ELEMENTWISE_BLOCK, ELEMENTWISE_ELEMENTS_PER_THREAD, type EmittedElementwise, type WasmElementwise } from './elementwise';
export { emitRowKernel, makeRowKernel, type WasmRowSpec, type WasmRowKernel } from './rows';
export { Vec, emitUnaryF32x4, F32X4_UNARY_OPS, declareMathImports, mathImports, mathImportsOf, SCALAR_IMPORTS, type MathImports } from './vmath';
export { emittedProgramModules, clearProgramModuleCache } from './program';
export { ulpError, ULP_BOUNDS, REFERENCE as ULP_REFERENCE, SWEPT as ULP_SWEPT } from './ulp';
