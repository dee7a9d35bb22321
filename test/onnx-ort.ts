/**
 * ONNX Runtime (onnxruntime-node, CPU) for the ONNX tests: runs model bytes on gradgraph Tensors,
 * and the comparison the issue asks for, |a − b| ≤ 1e-5·max(1, |a|).
 */
import { Tensor, type DType } from '@gradgraph/core';
import * as ort from 'onnxruntime-node';

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
