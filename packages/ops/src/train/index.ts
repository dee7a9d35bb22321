/**
 * @gradgraph/ops `train`: the fit loop over a compiled training step, early stopping, progress,
 * metrics, checkpoints that resume a run bit for bit, and reproducible runs. See docs/train.md.
 */
import { registerLibraryPath } from '@gradgraph/core';

// the package index registers all of ops; this keeps origins right when train is imported alone
registerLibraryPath(new URL('.', import.meta.url).href);

export { TrainError, CheckpointError } from './errors';
export {
  accuracy,
  confusionMatrix,
  formatConfusionMatrix,
  mae,
  mse,
  r2,
  metricAccumulator,
  BUILTIN_METRICS,
  type MetricAccumulator,
  type MetricSpec,
  type BuiltinMetric,
  type FunctionMetric,
  type ClassOptions,
} from './metrics';
export { TrainingStep, trainingStep, fromExecutables, savedStep, type TrainingStepOptions, type ExecutableStepOptions, type SavedStepOptions, type OptimizerInfo, type BatchLike, type BatchResult, type FeedFn, type StepCompileOptions } from './step';
export { fit, evaluate, predict, History, HISTORY_VERSION, type FitOptions, type FitData, type HistoryDocument } from './fit';
export {
  EarlyStopping,
  earlyStopping,
  ModelCheckpoint,
  modelCheckpoint,
  reduceLrOnPlateau,
  terminateOnNaN,
  type Callback,
  type FitContext,
  type EpochLogs,
  type BatchInfo,
  type StopInfo,
  type EarlyStoppingOptions,
  type ModelCheckpointOptions,
  type FitCheckpointOptions,
} from './callbacks';
export { progress, formatEpoch, type ProgressOptions, type ProgressStream } from './progress';
export { writeFileAtomic, sweepTemporaryFiles, describeWriteError } from './files';
export {
  checkpoint,
  saveCheckpoint,
  readCheckpoint,
  parseCheckpoint,
  checkCheckpoint,
  restoreCheckpoint,
  loadCheckpoint,
  graphHash,
  libraryVersion,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointDocument,
  type CheckpointManifest,
  type CheckpointOptions,
  type DataPosition,
  type RestoreOptions,
} from './checkpoint';
