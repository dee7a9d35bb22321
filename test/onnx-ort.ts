/**
 * ONNX Runtime (onnxruntime-node, CPU) for the ONNX tests: runs model bytes on gradgraph Tensors,
 * and the comparison the issue asks for, |a − b| ≤ 1e-5·max(1, |a|).
 */
import { Tensor, compile, type DType } from '@gradgraph/core';
import { importOnnx } from '@gradgraph/ops';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';

const sessions = new WeakMap<Uint8Array, Promise<ort.InferenceSession>>();

/** Runs model bytes in ONNX Runtime; outputs in the model's order. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Tensor[]> {
  let s = sessions.get(bytes);
  if (!s) sessions.set(bytes, (s = ort.InferenceSession.create(bytes, { logSeverityLevel: 3 })));
  const session = await s;
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    inputs[name] = t.dtype === 'bool' ? new ort.Tensor('bool', Uint8Array.from(t.data), [...t.shape]) : new ort.Tensor(t.dtype, t.data as Float32Array, [...t.shape]);
  }
  const out = await session.run(inputs);
  return session.outputNames.map((name) => {
    const o = out[name];
    const dtype: DType = o.type === 'float32' ? 'float32' : o.type === 'float64' ? 'float64' : o.type === 'bool' ? 'bool' : 'int32';
    const t = new Tensor(dtype, [...o.dims].map(Number));
    t.data.set(Array.from(o.data as ArrayLike<number | bigint | boolean>, (v) => Number(v)));
    return t;
  });
}

/** The largest violation of |a − b| ≤ tol·max(1, |a|) (≤ 0 when every element passes), or a shape mismatch. */
export function closeness(a: Tensor, b: Tensor, tol = 1e-5): { ok: boolean; worst: number; at: number; detail: string } {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return { ok: false, worst: Infinity, at: -1, detail: `shapes [${a.shape}] vs [${b.shape}]` };
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < a.size; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const excess = Math.abs(x - y) - tol * Math.max(1, Math.abs(x));
    if (!(excess <= worst) || Number.isNaN(excess)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  const ok = at === -1 || worst <= 0;
  return { ok, worst, at, detail: at === -1 ? 'equal' : `element ${at}: ${a.data[at]} vs ${b.data[at]}` };
}

// ---- hand-built models (through protobufjs and onnx.proto, like the exporter) ----------------

import { AttrType, ElemType, encodeModel, int64Proto, tensorProto, type AttributeProto, type TensorProto } from '../packages/ops/src/onnx/proto';

export { ElemType };
type Attr = Omit<AttributeProto, 'name'>;
/** Typed ONNX attributes. */
export const at = {
  i: (v: number): Attr => ({ type: AttrType.INT, i: v }),
  f: (v: number): Attr => ({ type: AttrType.FLOAT, f: v }),
  ints: (v: number[]): Attr => ({ type: AttrType.INTS, ints: v }),
  floats: (v: number[]): Attr => ({ type: AttrType.FLOATS, floats: v }),
  s: (v: string): Attr => ({ type: AttrType.STRING, s: new TextEncoder().encode(v) }),
  t: (v: Tensor): Attr => ({ type: AttrType.TENSOR, t: tensorProto(v) }),
  i64: (v: number[], dims?: number[]): Attr => ({ type: AttrType.TENSOR, t: int64Proto(v, dims) }),
};

export interface ModelSpec {
  opset?: number;
  /** [name, element type, dims (null: symbolic)] */
  inputs: [string, number, (number | null)[]][];
  /** [name, element type] */
  outputs: [string, number][];
  /** [op, inputs, outputs, attributes?, node name?] */
  nodes: [string, string[], string[], Record<string, Attr>?, string?][];
  /** initializers: a Tensor, or int64 values */
  inits?: Record<string, Tensor | { int64: number[]; dims?: number[] }>;
  domain?: string;
}

/** Model bytes from a compact description. */
export function onnxModel(spec: ModelSpec): Promise<Uint8Array> {
  const inits: TensorProto[] = Object.entries(spec.inits ?? {}).map(([name, v]) => ({ ...(v instanceof Tensor ? tensorProto(v) : int64Proto(v.int64, v.dims)), name }));
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: spec.opset ?? 17 }],
    producer_name: 'hand',
    graph: {
      name: 'g',
      node: spec.nodes.map(([op, inputs, outputs, attrs, name], k) => ({
        name: name ?? `${op}_${k}`,
        op_type: op,
        ...(spec.domain && k === 0 ? { domain: spec.domain } : {}),
        input: inputs,
        output: outputs,
        attribute: Object.entries(attrs ?? {}).map(([n, a]) => ({ name: n, ...a })),
      })),
      initializer: inits,
      input: spec.inputs.map(([name, elem, dims]) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (d === null ? { dim_param: `${name}_n` } : { dim_value: d })) } } } })),
      output: spec.outputs.map(([name, elem]) => ({ name, type: { tensor_type: { elem_type: elem } } })),
    },
  });
}

/** Imports `spec`, runs gradgraph and ONNX Runtime on `feeds`, and expects every output close. */
export async function againstOrt(spec: ModelSpec, feeds: Record<string, Tensor>) {
  const bytes = await onnxModel(spec);
  const want = await runOrt(bytes, feeds);
  const imported = await importOnnx(bytes);
  const got = compile(imported.graph, { inputs: imported.inputs, outputs: imported.outputs }).run(feeds);
  want.forEach((w, i) => {
    const r = closeness(w, got[i]);
    expect(r.ok, `output ${spec.outputs[i][0]}: ${r.detail}`).toBe(true);
  });
  return imported;
}
