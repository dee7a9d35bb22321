/**
 * @gradgraph/ops `data`: data sets, preprocessing fitted on the training split, seeded splits
 * and k-fold, seeded mini-batches, and loaders for iris, MNIST, cars and CSV. See docs/data.md.
 */
export { DataError, type DataErrorContext } from './errors';
export { permutation } from './random';
export { Dataset, dataset, type DatasetInit, type Features, type Labels, type FloatDType } from './dataset';
export {
  fitStandardize,
  fitMinMax,
  transform,
  inverseTransform,
  standardize,
  minMaxScale,
  scalerFitFromJSON,
  oneHot,
  fromOneHot,
  type StandardizeFit,
  type MinMaxFit,
  type ScalerFit,
  type ScaleOptions,
  type MinMaxOptions,
  type Scalable,
  type Splits,
  type Scaled,
  type LabelSource,
} from './preprocess';
export {
  trainTestSplit,
  trainValTestSplit,
  kFold,
  stratifiedKFold,
  allocate,
  type SplitOptions,
  type TrainTestOptions,
  type TrainValTestOptions,
  type KFoldOptions,
  type Fold,
} from './split';
export { BatchLoader, batches, type Batch, type BatchOptions, type TensorPair, type LabelsOf } from './batches';
export {
  parseCsv,
  tableFromRecords,
  tableToDataset,
  csvDataset,
  loadCsv,
  DEFAULT_MISSING,
  type Table,
  type Column,
  type NumericColumn,
  type CategoricalColumn,
  type CsvOptions,
  type TableDatasetOptions,
  type CsvDatasetOptions,
  type LoadCsvOptions,
} from './csv';
export {
  loadIris,
  loadMnist,
  loadCars,
  mnistLocate,
  MNIST_SIZE,
  IRIS_FEATURES,
  CARS_COLUMNS,
  type MnistOptions,
  type CarsOptions,
  type CarsColumn,
} from './loaders';
