/**
 * @gradgraph/core — tensors, the graph IR, primitive ops, symbolic autodiff, the compiler and
 * executors.
 */
import './ops/index';

export * from './dtype';
export * from './shape';
export * from './errors';
export { Tensor, type Nested } from './tensor';
export { Graph, Sym, assertShape, type CollectionItem, type GraphOptions, type GraphState, type InputOptions, type Operand, type ParamOptions, type ProgramSpec, type SavedProgram } from './graph';
export * from './api';
export { conv, convTranspose, maxPool, avgPool, type Padding, type ConvOptions, type ConvTransposeOptions, type PoolOptions, type AvgPoolOptions } from './conv';
export * from './math';
export * from './arrange';
export { einsum } from './einsum';
export { grad, customGrad, hvp, jacobian, hessian, defineOp, unbroadcast, type GradientSource, type HvpOptions } from './autodiff';
export { jvp, jacfwd, vmap, perExampleGrads, doubleVjpJvp, type VmapOptions, type PerExampleOptions } from './transforms';
export { elementwiseBatch, moveAxis } from './ops/batching';
export { jvpFromVjp, linearJvp } from './ops/jvp';
export { compile, Executable, buildProgram, validateFeeds, BACKENDS, DEFAULT_BACKEND, type Backend, type CompileOptions, type Feeds } from './compile';
export { registerBackend, findBackend, listBackends, type BackendDef, type BackendOptions, type ProgramRunner, type Validate } from './backends';
export {
  registerLowering,
  defineLoweringTarget,
  capabilities,
  ownLowering,
  loweredOps,
  loweringTargets,
  NO_LOWERINGS,
  type Lowering,
  type KernelClass,
  type BackendCapabilities,
  type MatmulShape,
} from './lowering';
export { interpret } from './interpreter';
export { evaluate, type EvaluateOptions } from './evaluate';
export { fmtElement, fmtJson, fmtTensor, inspectTensor } from './format';
export { verifyProgram, verifyGraph, programProblems } from './verify';
export { encodeTensor, decodeTensor, checkJsonDepth, jsonTooDeep, base64Chars, MAX_JSON_DEPTH, MAX_STRING_CHARS, GRAPH_FORMAT, GRAPH_FORMAT_VERSION, type GraphDocument, type NodeDocument, type ProgramDocument, type TensorDocument } from './serialize';
export { gradcheck, assertGradcheck, formatReport, GradcheckError, type GradcheckOptions, type GradcheckReport, type InputReport, type OrderReport, type Kink, type GradcheckFailure, type AdMode } from './gradcheck';
export {
  registerOp,
  getOp,
  hasOp,
  listOps,
  fail,
  notDifferentiable,
  isDifferentiable,
  derived,
  derivation,
  noBatchRule,
  traits,
  finiteInputs,
  dataInputIndices,
  TRAIT_NAMES,
  type OpTraits,
  type DataInputs,
  type FiniteRule,
  type OpDef,
  type OpKind,
  type Vjp,
  type VjpArgs,
  type Jvp,
  type JvpArgs,
  type BatchRule,
  type BatchArgs,
  type KernelCtx,
  type ConcreteType,
  type NotDifferentiable,
} from './registry';
export { builtinOps, builtinOpNames } from './ops/index';
export { makeProgram, rewriteProgram, topoOrder, printProgram, fmtNode, fmtType, fmtConstant, type Node, type Program, type TypeInfo, type Attrs, type Rewritten } from './ir';
export { captureOrigin, registerLibraryPath } from './origin';
export { streamKey, fillUniform, fillNormal, hashString, type StreamKey } from './random';
export * from './compiler/index';
export { fusedSoftmaxCrossEntropy, softmaxCrossEntropyOp, type SoftmaxCrossEntropyAttrs } from './ops/fused';
