/**
 * A program rebuilt as graph nodes, so it can be differentiated again: the rule properties take
 * the gradient of a rewritten expression this way, to check it against the original's.
 */
import { GraphError } from '../errors';
import { Graph, type Sym } from '../graph';
import { topoOrder, type Program } from '../ir';
import type { Tensor } from '../tensor';

export interface Lifted {
  readonly graph: Graph;
  /** The new symbol of each program node. */
  readonly syms: ReadonlyMap<number, Sym>;
  readonly outputs: Sym[];
}

/**
 * Rebuilds `program` in a new graph (or `opts.graph`): inputs by name, params with the values
 * `opts.param(name)` gives, every other node through `graph.apply` (so shape rules run again).
 * @example
 * const { graph, outputs: [y] } = programToGraph(exe.program, { param: (n) => g.getValue(n) });
 * const dx = grad(y, graph.byName('x')!);
 */
export function programToGraph(program: Program, opts: { graph?: Graph; param?: (name: string) => Tensor } = {}): Lifted {
  const g = opts.graph ?? new Graph();
  const syms = new Map<number, Sym>();
  for (const id of topoOrder(program)) {
    const n = program.nodes[id];
    let s: Sym;
    if (n.op === 'input') s = g.input(n.attrs.name as string, n.type.shape, n.type.dtype, n.attrs.default ? { default: n.attrs.default as Tensor } : {});
    else if (n.op === 'param') {
      const name = n.attrs.name as string;
      if (!opts.param) throw new GraphError(`programToGraph needs opts.param to give the value of param "${name}"`, { op: 'programToGraph' });
      s = g.param(name, opts.param(name), { trainable: n.attrs.trainable !== false });
    } else if (n.op === 'constant') s = g.constant(n.attrs.value as Tensor);
    else s = g.apply(n.op, n.inputs.map((i) => syms.get(i)!), n.attrs);
    syms.set(id, s);
  }
  return { graph: g, syms, outputs: program.outputs.map((o) => syms.get(o)!) };
}
