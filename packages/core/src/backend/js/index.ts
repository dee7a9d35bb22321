/**
 * The kernel library of the compiled JavaScript backend: cache- and register-blocked matmul with
 * fused epilogues, code generation for fused elementwise loops with trailing reductions, and
 * last-axis row kernels (softmax, logSoftmax, logsumexp, softmax cross-entropy), convolutions
 * (im2col + matmul or direct loops) and a strided transpose. See
 * docs/kernels.md.
 */
import '../../ops/index';

export {
  makeMatmul,
  matmulScratchSize,
  matmulScratchFor,
  matmulVariantCount,
  MatmulScratch,
  MATMUL_BLOCKING,
  type Activation,
  type FloatArray,
  type FloatDType,
  type MatmulKernel,
  type MatmulSpec,
} from './matmul';
export {
  compileElementwise,
  expNegFast,
  ew,
  exprTemplate,
  unaryJs,
  binaryJs,
  selectJs,
  castJs,
  literalJs,
  UNARY_JS,
  BINARY_JS,
  KERNEL_HELPERS,
  type Expr,
  type InputExpr,
  type ConstExpr,
  type UnaryExpr,
  type BinaryExpr,
  type SelectExpr,
  type CastExpr,
  type ElementwiseKernel,
  type ElementwiseSpec,
  type ReduceOp,
  type ReduceAxes,
} from './elementwise';
export { makeRowKernel, type RowKernel, type RowOp, type RowSpec } from './rows';
export { JsExecutor, MAX_SPECIALIZATIONS, type JsBackendOptions, type Validate } from './executor';
export {
  im2col,
  col2im,
  convGeometry,
  makeConvKernel,
  makeConvTransposeKernel,
  chooseConvMethod,
  chooseConvTransposeMethod,
  Workspace,
  PATCH_BLOCK,
  type ConvGeometry,
  type ConvKernel,
  type ConvMethod,
} from './conv';
export { makeTranspose, transposeLoops, type TransposeKernel } from './transpose';
