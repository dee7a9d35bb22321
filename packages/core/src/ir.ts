/**
 * The graph IR: immutable nodes, and `Program`, the immutable value compiler passes transform.
 * Passes rewrite programs through immer (`produceWithPatches`), so every change is recorded as
 * patches that viz can show.
 */
import { enablePatches, freeze, produceWithPatches, type Draft, type Patch } from 'immer';
import type { DType } from './dtype';
import { fmtShape, type SymShape } from './shape';
import { Tensor } from './tensor';

enablePatches();

/** The static type of a node's value: a dtype and a shape with `null` for run-time dims. */
export interface TypeInfo {
  readonly dtype: DType;
  readonly shape: SymShape;
}

export type Attrs = Readonly<Record<string, unknown>>;

/** One node. Nodes never change; rewriting makes new ones. */
export interface Node {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly type: TypeInfo;
  /** The scope path it was created in, e.g. `encoder/dense1`. */
  readonly scope: string;
  /** The user's source line that created it, `file:line:col`. */
  readonly origin: string;
  /** For gradient nodes: the forward node whose adjoint this node helps compute. */
  readonly adjointOf?: number;
}

/**
 * A compilable unit: the nodes reachable from its outputs and updates, keyed by id.
 * `updates` are `[paramNode, newValueNode]` pairs.
 */
export interface Program {
  readonly nodes: Readonly<Record<number, Node>>;
  readonly outputs: readonly number[];
  readonly updates: readonly (readonly [number, number])[];
  /** A fresh id for nodes a pass creates: greater than every id in `nodes`. */
  readonly nextId: number;
}

export function makeProgram(nodes: Iterable<Node>, outputs: readonly number[], updates: readonly (readonly [number, number])[]): Program {
  const rec: Record<number, Node> = {};
  let next = 0;
  for (const n of nodes) {
    rec[n.id] = n;
    if (n.id >= next) next = n.id + 1;
  }
  return freeze({ nodes: rec, outputs: [...outputs], updates: updates.map(([a, b]) => [a, b] as const), nextId: next }, true);
}

/** A program rewrite with the patches that record it. */
export interface Rewritten {
  readonly program: Program;
  readonly patches: Patch[];
  readonly inversePatches: Patch[];
}

/** Applies `recipe` to a draft of `program` with immer and returns the new program and patches. */
export function rewriteProgram(program: Program, recipe: (draft: Draft<Program>) => void): Rewritten {
  const [next, patches, inversePatches] = produceWithPatches(program, recipe);
  return { program: next, patches, inversePatches };
}

/** Node ids reachable from the outputs and updates, inputs before users. */
export function topoOrder(program: Program): number[] {
  const order: number[] = [];
  const state = new Map<number, 1 | 2>();
  const roots = [...program.outputs, ...program.updates.flatMap(([p, v]) => [p, v])];
  for (const root of roots) {
    if (state.get(root) === 2) continue;
    const stack: [number, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [id, k] = top;
      const node = program.nodes[id];
      if (k === 0) {
        if (state.get(id) === 2) {
          stack.pop();
          continue;
        }
        state.set(id, 1);
      }
      if (k < node.inputs.length) {
        top[1] = k + 1;
        const child = node.inputs[k];
        const s = state.get(child);
        if (s === 1) throw new Error(`cycle through node %${child}`);
        if (s !== 2) stack.push([child, 0]);
      } else {
        state.set(id, 2);
        order.push(id);
        stack.pop();
      }
    }
  }
  return order;
}

const orders = new WeakMap<Program, number[]>();

/**
 * `topoOrder`, memoized per (immutable) program: the interpreter, the executors and each
 * specialization's fusion plan read the same order. Treat it as read-only.
 */
export function cachedTopoOrder(program: Program): number[] {
  let order = orders.get(program);
  if (!order) {
    order = topoOrder(program);
    orders.set(program, order);
  }
  return order;
}

function fmtNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
}

/** A short text for a constant's value: the numbers when small, the count otherwise. */
export function fmtConstant(t: Tensor, max = 8): string {
  if (t.size === 1) return fmtNumber(t.data[0]);
  if (t.size <= max) return `[${Array.from(t.data, fmtNumber).join(',')}]`;
  return `<${t.size} values>`;
}

function fmtAttr(v: unknown): string {
  if (v instanceof Tensor) return fmtConstant(v);
  if (Array.isArray(v)) return `[${v.map(fmtAttr).join(',')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (typeof v === 'object') return `{${Object.entries(v as object).map(([k, x]) => `${k}:${fmtAttr(x)}`).join(',')}}`;
  return String(v);
}

export function fmtType(t: TypeInfo): string {
  return `${t.dtype}${fmtShape(t.shape)}`;
}

/** One line for a node, given how to name its inputs. */
export function fmtNode(node: Node, name: (id: number) => string = (id) => `%${id}`): string {
  const a = node.attrs;
  let body: string;
  if (node.op === 'input' || node.op === 'param') body = `${node.op} ${JSON.stringify(a.name)}${a.trainable === false ? ' (state)' : ''}`;
  else if (node.op === 'constant') body = `constant ${fmtConstant(a.value as Tensor)}`;
  else {
    const attrs = Object.entries(a).filter(([, v]) => v !== undefined);
    body = `${node.op}${node.inputs.length ? ' ' + node.inputs.map(name).join(', ') : ''}${attrs.length ? ' {' + attrs.map(([k, v]) => `${k}=${fmtAttr(v)}`).join(' ') + '}' : ''}`;
  }
  return `${name(node.id)} = ${body} : ${fmtType(node.type)}`;
}

/**
 * A deterministic text form of a program: nodes in topological order, renumbered from %0, so
 * two programs print the same exactly when they are the same up to node ids.
 */
export function printProgram(program: Program, opts: { scopes?: boolean; marks?: boolean } = {}): string {
  const order = topoOrder(program);
  const local = new Map<number, number>();
  order.forEach((id, i) => local.set(id, i));
  const name = (id: number) => `%${local.get(id)}`;
  const lines = order.map((id) => {
    const n = program.nodes[id];
    let line = fmtNode(n, name);
    if (opts.scopes && n.scope) line += `  @${n.scope}`;
    if (opts.marks !== false && n.adjointOf !== undefined) line += local.has(n.adjointOf) ? `  ; adjoint of ${name(n.adjointOf)}` : '  ; backward';
    return line;
  });
  lines.push(`outputs: ${program.outputs.map(name).join(', ')}`);
  if (program.updates.length) lines.push(`updates: ${program.updates.map(([p, v]) => `${name(p)} <- ${name(v)}`).join(', ')}`);
  return lines.join('\n');
}
