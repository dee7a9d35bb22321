/**
 * ONNX in and out: `exportOnnx(graph, { inputs, outputs })` writes standard ONNX ops that ONNX
 * Runtime (or any runtime) runs; `importOnnx(bytes)` builds a differentiable, trainable gradgraph
 * graph from a model file (PyTorch's exports of MLPs included).
 */
export { exportOnnx, exporters, fusions, EXPORT_OPSETS, type ExportOptions, type ExportCtx, type Fusion, type FusionMatch } from './export';
export { OnnxError, OnnxFormatError, OnnxOpsetError, OnnxUnsupportedError } from './errors';
export { importOnnx, importers, IMPORT_OPSETS, type ImportResult, type ImportOptions, type ImportRule, type ImportCtx, type Host } from './import';
