/**
 * @gradgraph/ops/nn — activations, learnable activations (and how convex their learned shapes
 * are), losses, layers, normalization and penalties, all built from @gradgraph/core's public API.
 * Builders (`dense`, `conv`, `prelu`, `twoSlope`, `splash`, `apl`, `batchNorm`, `layerNorm`) create their
 * params in the current scope, in the dtype of their input; `functional` holds the same maps as
 * pure functions of explicit params.
 */
import { convFn } from './conv';
import { denseFn } from './layers';
import { aplFn, preluFn, splashFn, twoSlopeFn } from './learnable';
import { layerNormFn } from './normalization';

export { relu, leakyRelu, sigmoid, tanh, softplus, softmax, logSoftmax, silu, gelu, elu, selu, celu, mish, hardtanh, relu6, hardSigmoid, hardSwish, logSigmoid, softsign } from './activations';
export { prelu, twoSlope, splash, apl, splashHinges, type PreluOptions, type TwoSlopeOptions, type SplashOptions, type SplashHinges, type AplOptions } from './learnable';
export {
  convexity,
  learnedActivations,
  activationConvexity,
  chanceConvexity,
  type ConvexityOptions,
  type ConvexityReport,
  type LearnedActivation,
  type LearnedKind,
  type ActivationConvexityOptions,
  type ChanceConvexityOptions,
  type ChanceConvexity,
} from './convexity';
export { mse, mae, huber, tukey, binaryCrossEntropy, bceWithLogits, softmaxCrossEntropy, nll, type Reduction, type LossOptions, type ClassOptions, type ClassWeight, type SoftmaxCrossEntropyOptions } from './losses';
export { klDiv, poissonNll, gaussianNll, hingeEmbedding, marginRanking, tripletMargin, cosineEmbedding } from './losses-extra';
export { dense, sequential, dropout, type DenseOptions, type DropoutOptions, type Layer } from './layers';
export { conv, maxPool, avgPool, globalAvgPool, flatten, type ConvLayerOptions } from './conv';
export { batchNorm, layerNorm, stateUpdates, type BatchNormOptions, type LayerNormOptions, type StateUpdate } from './normalization';
export { trainingInput, TRAINING, type TrainingOption } from './mode';
export { l1Penalty, l2Penalty, type PenaltyOptions, type ParamFilter } from './regularization';
export { paramRole, type ParamRole } from './util';

/**
 * The layers and learnable activations as pure functions of explicit params: share params
 * between calls, or check gradients with respect to them.
 * @example const y = nn.functional.splash(x, aPos, aNeg, { hinges: 5 });
 */
export const functional = Object.freeze({
  dense: denseFn,
  conv: convFn,
  prelu: preluFn,
  twoSlope: twoSlopeFn,
  splash: splashFn,
  apl: aplFn,
  layerNorm: layerNormFn,
});
