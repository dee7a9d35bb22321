/**
 * What every view draws from: the nodes of a graph, of an executable's program or of a bare
 * program, with which of them are outputs and which are updated, and each node's phase
 * (forward, backward, or downstream of the backward pass such as optimizer updates).
 */
import { Executable, Graph, GraphError, Sym, captureOrigin, type Node, type Program } from '@gradgraph/core';

/**
 * Anything the graph views accept: a graph, an executable (its program is drawn), a program, or
 * a `train.TrainingStep` (its training executable is drawn).
 */
export type Viewable = Graph | Executable | Program | { readonly program: Program } | { readonly train: Executable };

/**
 * `forward`: ordinary nodes. `backward`: nodes with `adjointOf` (made by `grad`). `update`: nodes
 * that are not adjoints but consume one, such as optimizer arithmetic and new param values.
 */
export type Phase = 'forward' | 'backward' | 'update';

export interface GraphView {
  /** Nodes by id, in id order (a topological order). */
  readonly nodes: ReadonlyMap<number, Node>;
  /** Ids of output nodes: the program's outputs, the ones asked for, or the graph's sinks. */
  readonly outputs: ReadonlySet<number>;
  /** `[param, newValue]` pairs of an executable. */
  readonly updates: readonly (readonly [number, number])[];
  readonly phase: ReadonlyMap<number, Phase>;
  /** Order of a backward node: 1 for `grad`, 2 for `grad` of `grad`, ...; 0 otherwise. */
  readonly order: ReadonlyMap<number, number>;
  /** The graph the nodes came from, when known (for param values). */
  readonly graph?: Graph;
}

function isProgram(x: unknown): x is Program {
  return !!x && typeof x === 'object' && 'nodes' in x && 'outputs' in x && Array.isArray((x as Program).outputs) && !Array.isArray((x as Program).nodes);
}

/**
 * Collects the nodes a view draws, with each node's phase. `outputs` names the outputs of a graph
 * (default: its sinks).
 * @example const v = viewOf(exe); v.phase.get(id); // 'forward' | 'backward' | 'update'
 */
export function viewOf(x: Viewable, outputs?: readonly Sym[]): GraphView {
  let nodes: Node[];
  let outs: number[] | undefined;
  let updates: (readonly [number, number])[] = [];
  let graph: Graph | undefined;
  if (x && typeof x === 'object' && 'train' in x && x.train instanceof Executable) x = x.train;
  if (x instanceof Graph) {
    nodes = x.nodes.slice();
    graph = x;
  } else if (x instanceof Executable || (x && typeof x === 'object' && 'program' in x && isProgram((x as { program: unknown }).program))) {
    const program = (x as { program: Program }).program;
    nodes = Object.values(program.nodes);
    outs = [...program.outputs];
    updates = program.updates.map(([p, v]) => [p, v] as const);
    if (x instanceof Executable) graph = x.graph;
  } else if (isProgram(x)) {
    nodes = Object.values(x.nodes);
    outs = [...x.outputs];
    updates = x.updates.map(([p, v]) => [p, v] as const);
  } else {
    throw new GraphError(`expected a Graph, an Executable or a Program, got ${describe(x)}`, { op: 'toDot', origin: captureOrigin() });
  }
  nodes.sort((a, b) => a.id - b.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  if (outputs) {
    outs = outputs.map((s, i) => {
      if (!(s instanceof Sym) || !byId.has(s.id) || (graph && s.graph !== graph)) throw new GraphError(`outputs[${i}] is not a symbol of this graph`, { op: 'toDot', origin: captureOrigin() });
      return s.id;
    });
  }
  const { phase, order } = phases(byId, new Set(outs ?? []), updates);
  if (!outs) {
    // a graph has no outputs of its own: draw its sinks as outputs, per phase
    const used = new Set<number>();
    for (const n of nodes) for (const i of n.inputs) used.add(i);
    outs = nodes.filter((n) => !used.has(n.id) && n.inputs.length > 0).map((n) => n.id);
  }
  return { nodes: byId, outputs: new Set(outs), updates, phase, order, graph };
}

/**
 * Phase and backward order of every node (ids are topological, so one pass each way suffices).
 * Forward nodes that only feed the backward pass or updates take their users' phase: the
 * constant 1 that seeds `grad`, an optimizer's moments and step counter.
 */
export function phases(nodes: ReadonlyMap<number, Node>, keep: ReadonlySet<number> = new Set(), updates: readonly (readonly [number, number])[] = []): { phase: Map<number, Phase>; order: Map<number, number> } {
  const phase = new Map<number, Phase>();
  const order = new Map<number, number>();
  const users = new Map<number, number[]>();
  for (const n of nodes.values()) {
    for (const i of n.inputs) (users.get(i) ?? users.set(i, []).get(i)!).push(n.id);
    if (n.adjointOf !== undefined) {
      phase.set(n.id, 'backward');
      const fwd = nodes.get(n.adjointOf);
      order.set(n.id, 1 + (fwd ? (order.get(fwd.id) ?? 0) : 0));
    } else {
      const fromBackward = n.inputs.some((i) => {
        const p = phase.get(i);
        return p === 'backward' || p === 'update';
      });
      phase.set(n.id, fromBackward ? 'update' : 'forward');
      order.set(n.id, 0);
    }
  }
  // a new param value is used by the update: a user of phase 'update' (id -1)
  for (const [, v] of updates) (users.get(v) ?? users.set(v, []).get(v)!).push(-1);
  phase.set(-1, 'update');
  const ids = [...nodes.keys()].sort((a, b) => b - a);
  for (const id of ids) {
    if (phase.get(id) !== 'forward' || keep.has(id) || nodes.get(id)!.op === 'input') continue;
    const us = users.get(id);
    if (!us || !us.length) continue;
    const ps = us.map((u) => phase.get(u));
    if (ps.every((p) => p === 'backward')) {
      phase.set(id, 'backward');
      order.set(id, Math.min(...us.map((u) => order.get(u) ?? 1)));
    } else if (ps.every((p) => p === 'backward' || p === 'update')) phase.set(id, 'update');
  }
  phase.delete(-1);
  return { phase, order };
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `${typeof x} ${String(x)}`;
}
