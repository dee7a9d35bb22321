/**
 * @gradgraph/ops — everything built from @gradgraph/core's public API: `nn` (activations,
 * losses, layers), `init`, `optim` (+ schedules), `data`, `train`, `adversarial` (FGSM, PGD), and ONNX export and import.
 */
import { registerLibraryPath } from '@gradgraph/core';

// Frames in this package are library code: a node's origin is the user's line that called nn.dense.
registerLibraryPath(new URL('.', import.meta.url).href);

export * as nn from './nn/index';
export * as init from './init/index';
export * as optim from './optim/index';
export * as data from './data/index';
export * as train from './train/index';
export * from './onnx/index';
export * as adversarial from './adversarial/index';
