/**
 * The reference interpreter: runs a program node by node with each op's reference kernel. It is
 * the oracle every other backend is tested against, so it favours clarity over speed.
 */
import { isFloat } from './dtype';
import { GradgraphError, NonFiniteError, OpDefError } from './errors';
import type { Graph } from './graph';
import { cachedTopoOrder, fmtType, type Node, type Program } from './ir';
import { streamKey } from './random';
import { getOp, type ConcreteType } from './registry';
import { fmtShape, isStatic, shapeEq } from './shape';
import { Tensor } from './tensor';

export interface RunContext {
  readonly graph: Graph;
  /** Values of the program's input nodes, by node id (already validated). */
  readonly feeds: ReadonlyMap<number, Tensor>;
  /** The RNG run counter for this run. */
  readonly rngCounter: number;
  /** Check every value for NaN/Inf and name the first node that made one. */
  readonly nanGuard?: boolean;
}

/** Wraps an error thrown while computing `node` with the node's op, scope and source line. */
export function nodeError(e: unknown, node: Node, inputs: readonly { dtype: string; shape: readonly number[] }[]): Error {
  const ctx = { op: node.op, shapes: inputs.map((t) => t.shape), scope: node.scope, origin: node.origin, node: node.id };
  if (e instanceof GradgraphError) {
    if (e.origin) return e;
    const Ctor = e.constructor as new (d: string, c: object) => GradgraphError;
    return new Ctor(e.detail, ctx);
  }
  const err = new OpDefError(`the kernel threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, ctx);
  (err as { cause?: unknown }).cause = e;
  return err;
}

export function firstNonFinite(t: Tensor): number {
  if (!isFloat(t.dtype)) return -1;
  const d = t.data;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

export function nonFiniteError(node: Node, t: Tensor, at: number, where = ''): NonFiniteError {
  const v = t.data[at];
  const what = node.op === 'input' || node.op === 'param' ? `${node.op} "${String(node.attrs.name)}"` : `node %${node.id} (${node.op})`;
  return new NonFiniteError(`${what}${where} produced ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'} at element ${at} of ${fmtType(t)}`, {
    op: node.op,
    shapes: [t.shape],
    scope: node.scope,
    origin: node.origin,
    node: node.id,
  });
}

/** `topoOrder`, memoized per (immutable) program (it lives in ir.ts, which the compiler may import). */
export { cachedTopoOrder };

/** Computes every node the outputs and updates need; returns all values by node id. */
export function interpret(program: Program, ctx: RunContext): Map<number, Tensor> {
  const values = new Map<number, Tensor>();
  for (const id of cachedTopoOrder(program)) {
    const node = program.nodes[id];
    const value = evalNode(node, values, ctx);
    if (ctx.nanGuard) {
      const at = firstNonFinite(value);
      if (at >= 0) throw nonFiniteError(node, value, at);
    }
    values.set(id, value);
  }
  return values;
}

function evalNode(node: Node, values: Map<number, Tensor>, ctx: RunContext): Tensor {
  switch (node.op) {
    case 'input':
      return ctx.feeds.get(node.id)!;
    case 'param':
      return ctx.graph.storage(node.attrs.name as string);
    case 'constant':
      return node.attrs.value as Tensor;
  }
  const def = getOp(node.op);
  const ins = node.inputs.map((i) => values.get(i)!);
  let out: ConcreteType;
  let result: Tensor;
  try {
    const t = def.infer(ins, node.attrs);
    if (!isStatic(t.shape)) throw new OpDefError(`shape rule gave ${fmtShape(t.shape)} for concrete inputs`);
    out = { dtype: t.dtype, shape: t.shape };
    result = def.kernel(ins, node.attrs, {
      out,
      node,
      random: def.kind === 'random' ? streamKey(ctx.graph.seed, node.attrs.key as string, ctx.rngCounter) : undefined,
    });
  } catch (e) {
    throw nodeError(e, node, ins);
  }
  if (!(result instanceof Tensor) || result.dtype !== out.dtype || !shapeEq(result.shape, out.shape)) {
    throw new OpDefError(`the kernel returned ${result instanceof Tensor ? fmtType(result) : String(result)}, but the shape rule says ${fmtType(out)}`, {
      op: node.op,
      scope: node.scope,
      origin: node.origin,
    });
  }
  return result;
}
