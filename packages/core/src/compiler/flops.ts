/**
 * FLOP estimates from the ops' `flops` rules. Shapes come from the shape rules run forward over
 * concrete types; dims unknown until run time count as `unknownDim` (default 1), so with a batch
 * dim the estimate is per example.
 */
import type { Program } from '../ir';
import { topoOrder } from '../ir';
import { getOp, hasOp, type ConcreteType } from '../registry';
import { isStatic } from '../shape';

export interface FlopEstimate {
  /** Estimated floating-point operations of one run. */
  readonly total: number;
  readonly byOp: Readonly<Record<string, number>>;
  /** Ops in the program without a `flops` rule (counted as 0). */
  readonly unrated: readonly string[];
  /** What unknown dims were counted as; null when every shape was known. */
  readonly unknownDim: number | null;
}

/**
 * Estimates the FLOPs of one run of `program`.
 * @example
 * estimateFlops(exe.program, { unknownDim: 128 }).total // with a batch of 128
 */
export function estimateFlops(program: Program, opts: { unknownDim?: number } = {}): FlopEstimate {
  const n = opts.unknownDim ?? 1;
  const types = new Map<number, ConcreteType>();
  const byOp: Record<string, number> = {};
  const unrated = new Set<string>();
  let total = 0;
  let sawUnknown = false;
  for (const id of topoOrder(program)) {
    const node = program.nodes[id];
    if (!isStatic(node.type.shape)) sawUnknown = true;
    const fallback: ConcreteType = { dtype: node.type.dtype, shape: node.type.shape.map((d) => d ?? n) };
    const ins = node.inputs.map((i) => types.get(i)!);
    if (!hasOp(node.op) || node.inputs.length === 0) {
      types.set(id, fallback);
      continue;
    }
    const def = getOp(node.op);
    let out = fallback;
    try {
      const t = def.infer(ins, node.attrs);
      if (isStatic(t.shape)) out = { dtype: t.dtype, shape: t.shape };
    } catch {
      // a size that only fails for this stand-in dim: keep the symbolic type with n
    }
    types.set(id, out);
    if (!def.flops) {
      unrated.add(node.op);
      continue;
    }
    const f = def.flops(ins, out, node.attrs);
    total += f;
    byOp[node.op] = (byOp[node.op] ?? 0) + f;
  }
  return { total, byOp, unrated: [...unrated], unknownDim: sawUnknown ? n : null };
}

/** 1234567 → "1.23M" (for explain). */
export function fmtCount(x: number): string {
  if (x < 1e3) return String(Math.round(x));
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [u, s] of units) if (x >= u) return `${Number((x / u).toPrecision(3))}${s}`;
  return String(x);
}
