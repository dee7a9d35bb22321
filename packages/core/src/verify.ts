/**
 * The IR verifier: re-checks every node's type against its op's shape rule, its arity, that its
 * inputs exist, that the program is acyclic, and that outputs and updates are well formed.
 * Tests run it after building and after every compiler pass.
 */
import { VerifyError } from './errors';
import type { Graph } from './graph';
import { fmtType, type Node, type Program, type TypeInfo } from './ir';
import { hasOp, getOp } from './registry';
import { shapeEq } from './shape';

function sameType(a: TypeInfo, b: TypeInfo): boolean {
  return a.dtype === b.dtype && shapeEq(a.shape, b.shape);
}

/** Problems with one node given its inputs' nodes; empty when it is well formed. */
function checkNode(node: Node, inputs: readonly (Node | undefined)[]): string[] {
  const where = `node %${node.id} (${node.op})`;
  if (!hasOp(node.op)) return [`${where}: no op "${node.op}" is registered`];
  const def = getOp(node.op);
  const problems: string[] = [];
  const n = node.inputs.length;
  const ar = def.arity;
  if (typeof ar === 'number' ? n !== ar : n < ar.min || (ar.max !== undefined && n > ar.max)) problems.push(`${where}: has ${n} inputs, the op takes ${typeof ar === 'number' ? ar : `${ar.min}..${ar.max ?? '∞'}`}`);
  inputs.forEach((inp, k) => {
    if (!inp) problems.push(`${where}: input ${k} (%${node.inputs[k]}) does not exist`);
  });
  if (problems.length) return problems;
  if (def.kind === 'source') {
    if (node.op === 'constant') {
      const t = def.infer([], node.attrs);
      if (!sameType(t, node.type)) problems.push(`${where}: type ${fmtType(node.type)} but its value is ${fmtType(t)}`);
    }
    return problems;
  }
  try {
    const types = inputs.map((i) => i!.type);
    const t = def.infer(types, def.attrs(node.attrs, types));
    if (!sameType(t, node.type)) problems.push(`${where}: recorded type ${fmtType(node.type)}, the shape rule gives ${fmtType(t)}`);
  } catch (e) {
    problems.push(`${where}: the shape rule rejects its inputs: ${(e as Error).message.split('\n')[0]}`);
  }
  return problems;
}

/** All problems of a program (empty when valid). */
export function programProblems(program: Program): string[] {
  const problems: string[] = [];
  const nodes = program.nodes;
  for (const key of Object.keys(nodes)) {
    const node = nodes[Number(key)];
    if (node.id !== Number(key)) problems.push(`node stored under %${key} has id %${node.id}`);
    if (node.id >= program.nextId) problems.push(`node %${node.id} is not below nextId ${program.nextId}`);
    problems.push(...checkNode(node, node.inputs.map((i) => nodes[i])));
  }
  // acyclicity: depth-first search with colours
  const colour = new Map<number, 1 | 2>();
  for (const key of Object.keys(nodes)) {
    const root = Number(key);
    if (colour.has(root)) continue;
    const stack: [number, number][] = [[root, 0]];
    colour.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const node = nodes[top[0]];
      if (!node || top[1] >= node.inputs.length) {
        colour.set(top[0], 2);
        stack.pop();
        continue;
      }
      const child = node.inputs[top[1]++];
      const c = colour.get(child);
      if (c === 1) {
        problems.push(`cycle through node %${child}`);
        return problems;
      }
      if (c === undefined && nodes[child]) {
        colour.set(child, 1);
        stack.push([child, 0]);
      }
    }
  }
  program.outputs.forEach((o, i) => {
    if (!nodes[o]) problems.push(`output ${i} (%${o}) does not exist`);
  });
  const targets = new Set<number>();
  program.updates.forEach(([p, v], i) => {
    const pn = nodes[p];
    const vn = nodes[v];
    if (!pn || pn.op !== 'param') problems.push(`update ${i}: target %${p} is ${pn ? `a ${pn.op}` : 'missing'}, not a param`);
    if (!vn) problems.push(`update ${i}: value %${v} does not exist`);
    if (pn && vn && (pn.type.dtype !== vn.type.dtype || pn.type.shape.length !== vn.type.shape.length || !vn.type.shape.every((d, k) => d === null || d === pn.type.shape[k]))) {
      problems.push(`update ${i}: value ${fmtType(vn.type)} does not fit param ${fmtType(pn.type)}`);
    }
    if (targets.has(p)) problems.push(`update ${i}: %${p} is updated twice`);
    targets.add(p);
  });
  return problems;
}

/** Throws a `VerifyError` listing every problem of the program. */
export function verifyProgram(program: Program, label = 'program'): void {
  const problems = programProblems(program);
  if (problems.length) throw new VerifyError(`${label} is invalid:\n  - ${problems.slice(0, 20).join('\n  - ')}${problems.length > 20 ? `\n  - ... ${problems.length - 20} more` : ''}`, { op: 'verify' });
}

/** Verifies a builder graph: every node, and that inputs precede their users. */
export function verifyGraph(g: Graph): void {
  const nodes = g.nodes;
  const problems: string[] = [];
  for (const node of nodes) {
    for (const i of node.inputs) if (i >= node.id) problems.push(`node %${node.id} (${node.op}) uses %${i}, which is not created before it`);
    problems.push(...checkNode(node, node.inputs.map((i) => nodes[i])));
  }
  if (problems.length) throw new VerifyError(`graph is invalid:\n  - ${problems.slice(0, 20).join('\n  - ')}`, { op: 'verify' });
}
