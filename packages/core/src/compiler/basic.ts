/**
 * The structural passes: dead-code elimination, common-subexpression elimination and constant
 * folding. None changes a value: dce drops what nothing needs, cse merges nodes that compute the
 * same thing, and folding runs the reference kernels the interpreter would run, ahead of time.
 */
import type { Node, Program } from '../ir';
import { isStatic } from '../shape';
import { Tensor } from '../tensor';
import type { Pass, PassResult } from './pass';
import { RewriteLog } from './rules';
import { evalConstant, isRandomOp, isSourceOp, keyOf, Work } from './work';

/** Records every node of `before` missing from `after` under `name`. */
function countRemoved(before: Program, after: Program, log: RewriteLog, name: string): void {
  for (const key of Object.keys(before.nodes)) if (!(key in after.nodes)) log.record(name, before.nodes[Number(key)]);
}

/**
 * dce: keeps only the nodes some output or update needs, and drops updates that write a param
 * to itself. (Every pass prunes what it orphans; dce also cleans up after user passes.)
 */
export const dce: Pass = Object.freeze({
  name: 'dce',
  doc: 'drops nodes no output or update needs, and updates that write a param to itself',
  run(program: Program): PassResult {
    const work = new Work(program);
    const log = new RewriteLog();
    for (const [p, v] of work.updates) if (p === v) log.record('self-update', program.nodes[p]);
    work.updates = work.updates.filter(([p, v]) => p !== v);
    const r = work.finish();
    countRemoved(program, r.program, log, 'dead');
    return { ...r, rewrites: log.list() };
  },
});

/** FNV-1a over a tensor's bytes: a cheap key for comparing large constants. */
function digest(t: Tensor): string {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return `${t.dtype}[${t.shape.join(',')}]#${(h >>> 0).toString(16)}`;
}

function sameTensor(a: Tensor, b: Tensor): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]) && a.data.every((x, i) => Object.is(x, b.data[i]));
}

/**
 * cse: merges nodes with the same op, inputs (unordered for commutative ops), attrs and dtype —
 * what rewrites make equal after hash-consing shared the rest. Constants merge by value, large
 * ones too. Random nodes never merge: each draws its own numbers.
 */
export const cse: Pass = Object.freeze({
  name: 'cse',
  doc: 'merges nodes that compute the same value (same op, inputs and attrs); never random nodes',
  run(program: Program): PassResult {
    const work = new Work(program);
    const big = new Map<string, number[]>();
    for (const id of work.order()) {
      if (work.isReplaced(id)) continue;
      const node = work.node(id);
      if (node.op === 'constant' && keyOf(node) === null) {
        const t = node.attrs.value as Tensor;
        const key = digest(t);
        const list = big.get(key) ?? [];
        const twin = list.find((j) => sameTensor(work.node(j).attrs.value as Tensor, t));
        if (twin !== undefined) work.replace(id, twin);
        else big.set(key, [...list, id]);
        continue;
      }
      const twin = work.lookup(node.op, node.inputs, node.attrs, node.type.dtype);
      if (twin !== undefined && twin !== id) work.replace(id, twin);
    }
    const r = work.finish();
    const log = new RewriteLog();
    countRemoved(program, r.program, log, 'merge');
    return { ...r, rewrites: log.list() };
  },
});

/** shapeSize over dims known at compile time is a constant. */
function staticShapeSize(node: Node, input: Node): Tensor | undefined {
  const dims = (node.attrs.axes as number[]).map((a) => input.type.shape[a]);
  if (!isStatic(dims)) return undefined;
  return Tensor.scalar((dims as number[]).reduce((p, d) => p * d, 1), node.type.dtype);
}

/**
 * foldConstants: evaluates, at compile time, every node whose inputs are all constants (with the
 * reference kernel, so no bit changes), and `shapeSize` of dims known statically. Never folds
 * inputs, params (state included) or random nodes — nor anything depending on them — nor a
 * result much larger than its inputs (a broadcast of a scalar stays a broadcast).
 */
export const foldConstants: Pass = Object.freeze({
  name: 'foldConstants',
  doc: 'computes constant subexpressions at compile time (never inputs, params or random nodes)',
  run(program: Program): PassResult {
    const work = new Work(program);
    const log = new RewriteLog();
    for (const id of work.order()) {
      const node = work.node(id);
      if (isSourceOp(node.op) || isRandomOp(node.op) || node.inputs.length === 0) continue;
      const ins = node.inputs.map((i) => work.node(i));
      let value: Tensor | undefined;
      if (node.op === 'shapeSize') value = staticShapeSize(node, ins[0]);
      else if (ins.every((x) => x.op === 'constant')) value = evalConstant(node.op, ins.map((x) => x.attrs.value as Tensor), node.attrs, node);
      if (!value) continue;
      work.replace(id, work.constant(value, node));
      log.record('fold', node);
    }
    return { ...work.finish(), rewrites: log.list() };
  },
});
