/**
 * Optimizers, learning-rate schedules and gradient clipping. An optimizer's `updates(params,
 * grads)` returns symbolic `[target, newValue]` pairs, so a whole training step — forward,
 * backward, clipping, schedule and update — compiles into one program. See docs/optim.md.
 */
import { registerLibraryPath } from '@gradgraph/core';

// The package index registers all of ops; this keeps origins right when optim is imported alone.
registerLibraryPath(new URL('.', import.meta.url).href);

export { Optimizer, type CommonOptions, type DecayExclusion, type LearningRate, type UpdatePair } from './optimizer';
export { sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, nadam, radam, adamax, adadelta, type SgdOptions, type AdagradOptions, type RmspropOptions, type AdamOptions, type NadamOptions, type RadamOptions, type AdamaxOptions, type AdadeltaOptions } from './optimizers';
export { clipByGlobalNorm, clipByValue, globalNorm } from './clip';
export { ReduceOnPlateau, reduceOnPlateau, type ReduceOnPlateauOptions, type PlateauState } from './plateau';
export { Schedule, isSchedule } from './schedules';
export * as schedules from './schedules';
