/**
 * ONNX's protobuf messages, read and written with protobufjs from the published schema
 * (`onnx.proto`, ONNX 1.23, kept as text beside this file). Only the fields gradgraph reads or
 * writes are typed here; decoding keeps every field the schema knows.
 */
import { readFile } from 'node:fs/promises';
import protobuf from 'protobufjs';
import { Tensor, type DType } from '@gradgraph/core';
import { OnnxFormatError } from './errors';

// ---- the message shapes (field names as in onnx.proto) --------------------------------------

export interface DimProto {
  dim_value?: number;
  dim_param?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: DimProto[] } };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  doc_string?: string;
}

export interface TensorProto {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  uint64_data?: number[];
  data_location?: number;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  graphs?: GraphProto[];
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  doc_string?: string;
}

export interface NodeProto {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface GraphProto {
  name?: string;
  node?: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  doc_string?: string;
}

export interface OperatorSetIdProto {
  domain?: string;
  version?: number;
}

export interface ModelProto {
  ir_version?: number;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: { key?: string; value?: string }[];
}

/** AttributeProto.AttributeType */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** TensorProto.DataType, the ones gradgraph meets. */
export const ElemType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

const ELEM_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL',
  10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
};

export function elemName(t: number | undefined): string {
  return ELEM_NAMES[t ?? 0] ?? `type ${t}`;
}

/** gradgraph dtype → ONNX element type. */
export function elemOf(dtype: DType): number {
  return { float32: ElemType.FLOAT, float64: ElemType.DOUBLE, int32: ElemType.INT32, bool: ElemType.BOOL }[dtype];
}

/**
 * ONNX element type → gradgraph dtype. int64 (ONNX's index type) becomes int32, range-checked
 * where values are read; the small integer types widen to int32.
 */
export function dtypeOf(elem: number | undefined, what: string): DType {
  switch (elem) {
    case ElemType.FLOAT:
      return 'float32';
    case ElemType.DOUBLE:
      return 'float64';
    case ElemType.INT32:
    case ElemType.INT64:
    case ElemType.INT8:
    case ElemType.UINT8:
      return 'int32';
    case ElemType.BOOL:
      return 'bool';
    default:
      throw new OnnxFormatError(`${what} has element type ${elemName(elem)}, which gradgraph has no dtype for (float32, float64, int32/int64, bool)`, { op: 'importOnnx' });
  }
}

// ---- the schema ------------------------------------------------------------------------------

let types: Promise<{ model: protobuf.Type }> | undefined;

/** The ModelProto type, parsed once from onnx.proto. */
function schema(): Promise<{ model: protobuf.Type }> {
  types ??= readFile(new URL('./onnx.proto', import.meta.url), 'utf8').then((text) => {
    const { root } = protobuf.parse(text, { keepCase: true });
    return { model: root.lookupType('onnx.ModelProto') };
  });
  return types;
}

/** Model bytes from a ModelProto object (int64 fields given as numbers or decimal strings). */
export async function encodeModel(model: ModelProto): Promise<Uint8Array> {
  const { model: M } = await schema();
  const problem = M.verify(model);
  if (problem) throw new OnnxFormatError(`the model to write is not a valid ModelProto: ${problem}`, { op: 'exportOnnx' });
  return M.encode(M.fromObject(model)).finish();
}

/** A ModelProto object from model bytes; malformed or truncated bytes throw OnnxFormatError. */
export async function decodeModel(bytes: Uint8Array): Promise<ModelProto> {
  const { model: M } = await schema();
  if (!(bytes instanceof Uint8Array)) throw new OnnxFormatError(`model bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`, { op: 'importOnnx' });
  let msg: protobuf.Message;
  try {
    msg = M.decode(bytes);
  } catch (e) {
    throw new OnnxFormatError(`the bytes are not an ONNX model (${(e as Error).message}${bytes.length ? '; truncated or not protobuf' : '; empty'})`, { op: 'importOnnx' });
  }
  return M.toObject(msg, { longs: Number, enums: Number, bytes: Uint8Array as unknown as ArrayConstructor, defaults: false, arrays: true }) as ModelProto;
}

// ---- tensors ---------------------------------------------------------------------------------

/** A TensorProto holding `t` (raw little-endian bytes). */
export function tensorProto(t: Tensor, name?: string): TensorProto {
  const elem = elemOf(t.dtype);
  const bytes = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)) : new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  return { ...(name !== undefined ? { name } : {}), dims: [...t.shape], data_type: elem, raw_data: bytes };
}

/** An int64 TensorProto (shapes, axes, indices for ONNX's int64 inputs). */
export function int64Proto(values: readonly number[], dims: readonly number[] = [values.length]): TensorProto {
  // ±2⁶³ (open slice ends) as exact Longs: a double can't hold INT64_MAX
  const Long = protobuf.util.Long as unknown as { MAX_VALUE: unknown; MIN_VALUE: unknown };
  return { dims: [...dims], data_type: ElemType.INT64, int64_data: values.map((v) => (v >= 2 ** 63 - 1 ? Long.MAX_VALUE : v <= -(2 ** 63) ? Long.MIN_VALUE : v)) as number[] };
}

/**
 * The values of a TensorProto as plain numbers (int64 read exactly up to 2⁵³), with its dims and
 * element type. External data is refused.
 */
export function readTensorProto(p: TensorProto, what: string): { elem: number; dims: number[]; values: number[] } {
  const elem = p.data_type ?? 0;
  const dims = (p.dims ?? []).map(Number);
  const n = dims.reduce((a, d) => a * d, 1);
  if (p.data_location === 1) throw new OnnxFormatError(`${what} keeps its data in an external file, which importOnnx does not read; save the model with its data inside`, { op: 'importOnnx' });
  let values: number[];
  const raw = p.raw_data;
  if (raw && raw.length) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = { [ElemType.FLOAT]: 4, [ElemType.DOUBLE]: 8, [ElemType.INT32]: 4, [ElemType.INT64]: 8, [ElemType.BOOL]: 1, [ElemType.INT8]: 1, [ElemType.UINT8]: 1 }[elem];
    if (size === undefined) throw new OnnxFormatError(`${what} has element type ${elemName(elem)}, which gradgraph cannot read`, { op: 'importOnnx' });
    if (raw.length !== n * size) throw new OnnxFormatError(`${what} has ${raw.length} bytes of data for dims [${dims.join(', ')}] of ${elemName(elem)} (${n * size} expected)`, { op: 'importOnnx' });
    values = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const o = i * size;
      values[i] =
        elem === ElemType.FLOAT ? view.getFloat32(o, true)
        : elem === ElemType.DOUBLE ? view.getFloat64(o, true)
        : elem === ElemType.INT32 ? view.getInt32(o, true)
        : elem === ElemType.INT64 ? Number(view.getBigInt64(o, true))
        : elem === ElemType.INT8 ? view.getInt8(o)
        : view.getUint8(o);
    }
  } else {
    const field =
      elem === ElemType.FLOAT ? p.float_data
      : elem === ElemType.DOUBLE ? p.double_data
      : elem === ElemType.INT64 ? p.int64_data
      : elem === ElemType.INT32 || elem === ElemType.BOOL || elem === ElemType.INT8 || elem === ElemType.UINT8 ? p.int32_data
      : undefined;
    if (field === undefined && ![ElemType.FLOAT, ElemType.DOUBLE, ElemType.INT64, ElemType.INT32, ElemType.BOOL, ElemType.INT8, ElemType.UINT8].includes(elem as 1)) {
      throw new OnnxFormatError(`${what} has element type ${elemName(elem)}, which gradgraph cannot read`, { op: 'importOnnx' });
    }
    values = (field ?? []).map(Number);
    if (values.length !== n) throw new OnnxFormatError(`${what} has ${values.length} values for dims [${dims.join(', ')}] (${n} expected)`, { op: 'importOnnx' });
  }
  return { elem, dims, values };
}

/** A gradgraph Tensor from ONNX values; int64 values outside int32 are refused. */
export function toTensor(elem: number, dims: readonly number[], values: readonly number[], what: string): Tensor {
  const dtype = dtypeOf(elem, what);
  if (dtype === 'int32') {
    const bad = values.find((v) => v < -(2 ** 31) || v >= 2 ** 31);
    if (bad !== undefined) throw new OnnxFormatError(`${what} holds ${bad}, outside int32 (gradgraph's integer dtype)`, { op: 'importOnnx' });
  }
  const t = new Tensor(dtype, [...dims]);
  t.data.set(dtype === 'bool' ? values.map((v) => (v ? 1 : 0)) : values);
  return t;
}
