/**
 * The JavaScript back end's lowerings: for each op it has generated code for, what kind of kernel
 * runs it and how the code is made. The fusion and memory planners read these (through
 * `capabilities('js')`); an op without one runs its reference kernel. Loading this module
 * registers them.
 */
import { isFloat } from '../../dtype';
import type { Attrs, Node } from '../../ir';
import { defineLoweringTarget, registerLowering, type Lowering, type TypeOf } from '../../lowering';
import { fillNormal, fillUniform, type StreamKey } from '../../random';
import type { Shape } from '../../shape';
import type { TypedArray, DType } from '../../dtype';
import { BINARY_JS, ew, UNARY_JS, type Expr, type ReduceOp } from './elementwise';
import { matmulScratchFor } from './matmul';
import type { RowOp } from './rows';
import {
  avgPoolKernelFor,
  avgPoolTransposeKernelFor,
  convKernelFor,
  convTransposeKernelFor,
  maxPoolGatherKernelFor,
  maxPoolKernelFor,
  maxPoolScatterKernelFor,
  type CustomKernel,
  type Workspace,
} from './conv';
import { transposeKernelFor } from './transpose';
import '../../ops/index';
import '../../autodiff'; // registers customGrad

/** How the JS back end generates code for a lowered op. */
export interface JsLoweringImpl {
  /** `ew`: the expression of the op over its data inputs' expressions. */
  readonly emit?: (args: readonly Expr[], attrs: Attrs) => Expr;
  /** `reduce`: the fold a loop ends in. */
  readonly reduce?: ReduceOp;
  /** `row`: the row kernel. */
  readonly row?: RowOp;
  /** `random`: fills `out` from the node's stream for this run. */
  readonly fill?: (out: TypedArray, dtype: DType, key: StreamKey, attrs: Attrs) => void;
  /** `shapeConst`: the value, from the concrete types. */
  readonly value?: (node: Node, types: TypeOf) => number;
  /**
   * `custom`: the node's kernel for these concrete types, called with each data input's array and
   * element offset, then the result's; scratch space comes from the specialization's workspace.
   */
  readonly custom?: (node: Node, types: TypeOf, ws: Workspace) => CustomKernel;
}

export type JsLowering = Lowering<JsLoweringImpl>;

defineLoweringTarget({ name: 'js', matmulScratchBytes: (mm) => 8 * matmulScratchFor(mm) });

const lower = (op: string, l: JsLowering) => registerLowering('js', op, l);

// elementwise math: one JS expression each; the float unary ops can also run in a matmul's epilogue
for (const op of Object.keys(UNARY_JS)) lower(op, { kernel: 'ew', epilogue: op !== 'logicalNot', impl: { emit: ([x]) => ew.unary(op, x) } });
for (const op of Object.keys(BINARY_JS)) lower(op, { kernel: 'ew', impl: { emit: ([a, b]) => ew.binary(op, a, b) } });
lower('where', { kernel: 'ew', impl: { emit: ([c, a, b]) => ew.select(c, a, b) } });
lower('cast', { kernel: 'ew', impl: { emit: ([x], attrs) => ew.cast(x, attrs.dtype as DType) } });
// the value of their (only) data input: broadcasting is the loop's business
for (const op of ['stopGradient', 'broadcastTo', 'broadcastLike', 'customGrad']) lower(op, { kernel: 'ew', impl: { emit: (args) => args[args.length - 1] } });

for (const op of ['sum', 'mean', 'max', 'min'] as const) lower(op, { kernel: 'reduce', impl: { reduce: op } });

const lastAxis = (node: Node, types: TypeOf): boolean => {
  const rank = types(node.inputs[0]).shape.length;
  if (rank === 0 || !isFloat(node.type.dtype)) return false;
  const axes = node.attrs.axes as number[] | undefined;
  return axes ? axes.length === 1 && axes[0] === rank - 1 : node.attrs.axis === rank - 1;
};
for (const op of ['softmax', 'logSoftmax', 'logsumexp', 'softmaxCrossEntropy'] as const) lower(op, { kernel: 'row', accepts: lastAxis, impl: { row: op } });

lower('matmul', { kernel: 'matmul', accepts: (node) => isFloat(node.type.dtype) });

// the interpreter's fills and stream keys: the same numbers
lower('randomUniform', { kernel: 'random', impl: { fill: (out, dtype, key, a) => fillUniform(out, dtype, key, (a.low as number) ?? 0, (a.high as number) ?? 1) } });
lower('randomNormal', { kernel: 'random', impl: { fill: (out, dtype, key, a) => fillNormal(out, dtype, key, (a.mean as number) ?? 0, (a.std as number) ?? 1) } });

// the number of elements along some axes: known once the shapes are
lower('shapeSize', {
  kernel: 'shapeConst',
  impl: {
    value: (node, types) => {
      const x = types(node.inputs[0]).shape as Shape;
      return (node.attrs.axes as number[]).reduce((p, i) => p * x[i], 1);
    },
  },
});

// convolution (im2col + matmul, or direct loops: backend/js/conv.ts) and pooling, float only
const floatNode = (node: Node): boolean => isFloat(node.type.dtype);
lower('conv', { kernel: 'custom', accepts: floatNode, impl: { custom: convKernelFor } });
lower('convTranspose', { kernel: 'custom', accepts: floatNode, impl: { custom: convTransposeKernelFor } });
lower('maxPool', { kernel: 'custom', accepts: floatNode, impl: { custom: maxPoolKernelFor } });
lower('avgPool', { kernel: 'custom', accepts: floatNode, impl: { custom: avgPoolKernelFor } });
lower('avgPoolTranspose', { kernel: 'custom', accepts: floatNode, impl: { custom: avgPoolTransposeKernelFor } });
lower('maxPoolScatter', { kernel: 'custom', accepts: floatNode, impl: { custom: maxPoolScatterKernelFor } });
lower('maxPoolGather', { kernel: 'custom', accepts: floatNode, impl: { custom: maxPoolGatherKernelFor } });

// transpose: a strided copy into the arena (the weight gradient of a convolution transposes x and dy)
lower('transpose', { kernel: 'custom', impl: { custom: transposeKernelFor } });
