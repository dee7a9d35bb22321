/**
 * The wasm back end's lowerings: for each op a wasm kernel can run, which kind of kernel and when
 * it applies. The code is generated from the same expression DAG as the JS back end's (the wasm
 * loops are emitted from an `ElementwiseSpec`), so `impl` is the JS lowering's.
 *
 * Every lowering accepts a node only when the wasm kernels have code for its dtypes: float32
 * matmuls and row kernels, float32/int32/bool in fused loops (per op: `WASM_ELEMENTWISE_OPS`).
 * A node they don't accept — float64, above all — takes the JS back end's lowering (the
 * fallback), so the planner still fuses it; the executor then runs that kernel as generated
 * JavaScript over views of the same WebAssembly memory. Ops with no lowering here at all (random
 * fills, `shapeSize`, erf, atan2, …) are the JS back end's for the same reason.
 */
import type { DType } from '../../dtype';
import type { Node } from '../../ir';
import { defineLoweringTarget, ownLowering, registerLowering, type Lowering, type TypeOf } from '../../lowering';
import { dataInputIndices, getOp } from '../../registry';
import '../js/lowerings';
import { matmulScratchFor } from '../js/matmul';
import { WASM_ELEMENTWISE_OPS } from './elementwise';
import { F32X4_UNARY_OPS } from './vmath';

/** dtypes the wasm kernels compute in. */
const WASM_DTYPES: ReadonlySet<DType> = new Set(['float32', 'int32', 'bool']);

/** Activations the wasm matmul applies in its epilogue. */
export const WASM_MATMUL_ACTIVATIONS: readonly string[] = Object.freeze(['identity', 'relu', ...F32X4_UNARY_OPS]);

/**
 * The JS back end's matmul packs into float64 scratch in the arena; a float32 matmul the wasm
 * kernel runs packs into the program's own per-thread scratch and needs none there.
 */
defineLoweringTarget({
  name: 'wasm',
  fallback: 'js',
  matmulScratchBytes: (mm) => (mm.dtype === 'float32' && (mm.activation === undefined || WASM_MATMUL_ACTIVATIONS.includes(mm.activation)) ? 0 : 8 * matmulScratchFor(mm)),
});

/** The dtypes of a node's result and of the inputs it reads for their values. */
function dtypesOf(node: Node, types: TypeOf): DType[] {
  const idx = dataInputIndices(getOp(node.op), node.inputs.length);
  return [types(node.id).dtype, ...idx.map((i) => types(node.inputs[i]).dtype)];
}

/** A node whose result and data inputs are all float32, int32 or bool. */
const wasmTyped = (node: Node, types: TypeOf): boolean => dtypesOf(node, types).every((d) => WASM_DTYPES.has(d));

/** The JS back end's lowering of `op` with `accepts` narrowed to what the wasm kernels run. */
function lower(op: string, accepts: (node: Node, types: TypeOf) => boolean, extra: Partial<Lowering> = {}): void {
  const js = ownLowering('js', op)!;
  registerLowering('wasm', op, {
    kernel: js.kernel,
    impl: js.impl,
    ...extra,
    accepts: (node, types) => wasmTyped(node, types) && (!js.accepts || js.accepts(node, types)) && accepts(node, types),
  });
}

const operandDtype = (node: Node, types: TypeOf): DType => types(node.inputs[0]).dtype;

// fused loops: unary and binary math by the operand's dtype
const unary = new Map<string, DType[]>();
const binary = new Map<string, DType[]>();
for (const [dtype, ops] of Object.entries(WASM_ELEMENTWISE_OPS.unary)) for (const op of ops) unary.set(op, [...(unary.get(op) ?? []), dtype as DType]);
for (const [dtype, ops] of Object.entries(WASM_ELEMENTWISE_OPS.binary)) for (const op of ops) binary.set(op, [...(binary.get(op) ?? []), dtype as DType]);
// a float unary op can also run in a matmul's epilogue (every vector form can)
for (const [op, dtypes] of unary) lower(op, (node, types) => dtypes.includes(operandDtype(node, types)), { epilogue: F32X4_UNARY_OPS.includes(op) });
for (const [op, dtypes] of binary) lower(op, (node, types) => dtypes.includes(operandDtype(node, types)));
for (const op of ['where', 'cast', 'stopGradient', 'broadcastTo', 'broadcastLike', 'customGrad']) lower(op, () => true);

// reductions a loop ends in: float32 sum/mean/max/min; int32 sum/max/min
for (const op of ['sum', 'mean', 'max', 'min']) lower(op, (node, types) => operandDtype(node, types) === 'float32' || (operandDtype(node, types) === 'int32' && op !== 'mean'));

// row kernels and matmul: float32
for (const op of ['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy', 'matmul']) lower(op, (node, types) => types(node.id).dtype === 'float32');
