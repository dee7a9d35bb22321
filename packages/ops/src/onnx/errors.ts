/**
 * What can go wrong between gradgraph and ONNX. Every one is a `SerializationError` (a document
 * that is corrupt or doesn't match), so code that handles graph JSON and checkpoints handles
 * these too.
 */
import { SerializationError } from '@gradgraph/core';

/** Base class of the ONNX errors. */
export class OnnxError extends SerializationError {}

/** Bytes that are not an ONNX model: truncated, not protobuf, missing the graph, dangling names. */
export class OnnxFormatError extends OnnxError {}

/** An opset gradgraph does not read or write (importOnnx reads 13–21, exportOnnx writes 17–21). */
export class OnnxOpsetError extends OnnxError {}

/**
 * An op with no translation: on export a gradgraph node (named with its scope and source line),
 * on import an ONNX node (named with its node name and op type).
 */
export class OnnxUnsupportedError extends OnnxError {}
