/**
 * Symbolic reverse-mode autodiff. `grad` walks the nodes between `y` and `xs` in reverse
 * topological order (node ids are creation order, hence topological) and asks each op's VJP for
 * its inputs' gradients as new graph nodes. This loop — not the rules — accumulates the
 * contributions and sums broadcast gradients back to each input's shape. Gradients are graph, so
 * `grad` of `grad` works to any order.
 */
import * as api from './api';
import { isFloat } from './dtype';
import { GradError, GraphError } from './errors';
import { Graph, Sym } from './graph';
import { fmtType } from './ir';
import { captureOrigin } from './origin';
import { getOp, isDifferentiable, registerOp, hasOp, type OpDef } from './registry';
import { fmtShape, isStatic, shapeEq, sizeOf, type SymShape } from './shape';
import { Tensor } from './tensor';

/**
 * Sums `g` (shaped like a broadcast of `x`) down to `x`'s shape. Static shapes give a static
 * `sum`; when a dim is unknown until run time and it can't be told whether it was broadcast,
 * `sumLike` decides at run time.
 */
export function unbroadcast(g: Sym, x: Sym): Sym {
  const gs = g.shape;
  const xs = x.shape;
  if (shapeEq(gs, xs)) return g;
  const lead = gs.length - xs.length;
  if (lead < 0) throw new GradError(`gradient of shape ${fmtShape(gs)} has lower rank than its input ${fmtShape(xs)}`);
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) {
      axes.push(i);
      continue;
    }
    const xd = xs[i - lead];
    const gd = gs[i];
    if (xd === gd || (xd !== null && xd !== 1 && gd === null)) continue; // not broadcast
    if (xd === 1) {
      if (gd !== 1) axes.push(i);
      continue;
    }
    return api.sumLike(g, x); // x's dim unknown, g's known: decided at run time
  }
  let out = axes.length ? api.sum(g, axes, true) : g;
  if (lead > 0) out = api.squeeze(out, [...Array(lead).keys()]);
  return out;
}

/**
 * Gradients of `y` with respect to each of `xs`, as symbols. `y` must be a scalar unless `dy`,
 * the cotangent of `y`, is given. An `x` that `y` does not depend on gets zeros of its shape.
 * @example const [dw, db] = grad(loss, [w, b]);
 */
export function grad(y: Sym, xs: readonly Sym[] | Sym, dy?: Sym): Sym[] {
  const list = xs instanceof Sym ? [xs] : xs;
  if (!(y instanceof Sym)) throw new GradError('y must be a symbol', { op: 'grad', origin: captureOrigin() });
  const g = y.graph;
  if (!Array.isArray(list)) throw new GradError('xs must be an array of symbols', { op: 'grad', origin: captureOrigin() });
  for (const x of list) {
    if (!(x instanceof Sym) || x.graph !== g) throw new GradError('every x must be a symbol of the same graph as y', { op: 'grad', origin: captureOrigin() });
    if (!isFloat(x.dtype)) throw new GradError(`cannot differentiate with respect to ${fmtType(x.node.type)} ${x.name ? `"${x.name}"` : `%${x.id} (${x.op})`}: only float inputs have gradients`, { op: 'grad', dtypes: [x.dtype], origin: captureOrigin() });
  }
  if (!isFloat(y.dtype)) throw new GradError(`y is ${fmtType(y.node.type)}; only float outputs can be differentiated`, { op: 'grad', dtypes: [y.dtype], origin: captureOrigin() });
  let seed: Sym;
  if (dy === undefined) {
    if (y.rank !== 0) {
      throw new GradError(`y has shape ${fmtShape(y.shape)}, not a scalar: reduce it (e.g. .sum()) or pass dy, the cotangent of y`, { op: 'grad', shapes: [y.shape], origin: captureOrigin() });
    }
    seed = g.withAdjoint(y.id, () => g.constant(1, y.dtype));
  } else {
    if (!(dy instanceof Sym) || dy.graph !== g) throw new GradError('dy must be a symbol of the same graph as y', { op: 'grad', origin: captureOrigin() });
    if (dy.dtype !== y.dtype || !compatible(dy.shape, y.shape)) {
      throw new GradError(`dy is ${fmtType(dy.node.type)} but y is ${fmtType(y.node.type)}`, { op: 'grad', shapes: [dy.shape, y.shape], origin: captureOrigin() });
    }
    seed = dy;
  }

  // The nodes on a path from some x to y: ancestors of y that descend from an x.
  const targets = new Set(list.map((x) => x.id));
  const ancestors = new Set<number>();
  const stack = [y.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (ancestors.has(id)) continue;
    ancestors.add(id);
    for (const i of g.node(id).inputs) stack.push(i);
  }
  const onPath = new Set<number>();
  for (const id of [...ancestors].sort((a, b) => a - b)) {
    if (targets.has(id) || g.node(id).inputs.some((i) => onPath.has(i))) onPath.add(id);
  }

  const contributions = new Map<number, Sym[]>([[y.id, [seed]]]);
  const total = new Map<number, Sym>();
  for (const id of [...onPath].sort((a, b) => b - a)) {
    const parts = contributions.get(id);
    if (!parts) continue;
    contributions.delete(id);
    const node = g.node(id);
    const adj = g.withAdjoint(id, () => (parts.length === 1 ? parts[0] : api.addN(parts)));
    total.set(id, adj);
    const def = getOp(node.op);
    if (node.inputs.length === 0 || !isDifferentiable(def)) continue;
    const needsGrad = node.inputs.map((i) => onPath.has(i) && isFloat(g.node(i).type.dtype));
    if (!needsGrad.some(Boolean)) continue;
    if (node.op === CUSTOM_OP) checkCustomInterior(g, node, targets, onPath, list);
    const inputs = node.inputs.map((i) => new Sym(g, i));
    const results = g.withAdjoint(id, () => def.vjp({ inputs, output: new Sym(g, id), dy: adj, attrs: node.attrs, node, needsGrad }));
    if (!Array.isArray(results) || results.length !== inputs.length) {
      throw new GradError(`the VJP rule returned ${Array.isArray(results) ? results.length : 'no array'} gradients for ${inputs.length} inputs`, { op: node.op, scope: node.scope, origin: node.origin });
    }
    results.forEach((r, k) => {
      if (!needsGrad[k] || r === null || r === undefined) return;
      const x = inputs[k];
      if (!(r instanceof Sym) || r.graph !== g) throw new GradError(`the VJP rule returned a non-symbol for input ${k}`, { op: node.op, scope: node.scope, origin: node.origin });
      if (r.dtype !== x.dtype) throw new GradError(`the VJP rule returned ${r.dtype} for input ${k}, which is ${x.dtype}`, { op: node.op, dtypes: [r.dtype, x.dtype], scope: node.scope, origin: node.origin });
      let u: Sym;
      try {
        u = g.withAdjoint(id, () => unbroadcast(r, x));
      } catch (e) {
        if (!(e instanceof GradError)) throw e;
        throw new GradError(`the VJP rule returned shape ${fmtShape(r.shape)} for input ${k} of shape ${fmtShape(x.shape)}: ${e.detail}`, { op: node.op, shapes: [r.shape, x.shape], scope: node.scope, origin: node.origin });
      }
      if (!compatible(u.shape, x.shape)) {
        throw new GradError(`the VJP rule returned shape ${fmtShape(r.shape)} for input ${k} of shape ${fmtShape(x.shape)}`, { op: node.op, shapes: [r.shape, x.shape], scope: node.scope, origin: node.origin });
      }
      const list2 = contributions.get(x.id);
      if (list2) list2.push(u);
      else contributions.set(x.id, [u]);
    });
  }
  return list.map((x) => total.get(x.id) ?? g.withAdjoint(x.id, () => api.zerosLike(x)));
}

function compatible(a: SymShape, b: SymShape): boolean {
  return a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
}

// ---- custom gradients ----------------------------------------------------------------------

/**
 * A customGrad node's gradient comes only from the user's VJP, for the custom function's
 * arguments; what `f` uses from outside its arguments (a param it closes over) gets none. When
 * something `grad` was asked about reaches the output only that way, its gradient would be a
 * silent zero: refuse, and say how to keep it (pass it as an argument).
 */
function checkCustomInterior(g: Graph, node: { inputs: readonly number[]; attrs: Record<string, unknown>; scope: string; origin: string }, targets: ReadonlySet<number>, onPath: ReadonlySet<number>, asked: readonly Sym[]): void {
  const args = new Set(node.inputs.slice(0, -1));
  const seen = new Set<number>();
  const stack = [node.inputs[node.inputs.length - 1]];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id) || args.has(id) || !onPath.has(id)) continue;
    seen.add(id);
    if (targets.has(id)) {
      const x = asked.find((s) => s.id === id)!;
      throw new GradError(
        `${x.name ? `"${x.name}"` : `%${id} (${x.op})`} is used inside custom function "${String(node.attrs.name)}" without being one of its arguments, so its gradient would silently be zero (grad takes the custom function's gradient only from its vjp, for its arguments): pass it as an argument and return its gradient (or null) from the vjp`,
        { op: CUSTOM_OP, scope: node.scope, origin: node.origin },
      );
    }
    for (const i of g.node(id).inputs) stack.push(i);
  }
}

export type CustomVjp = (...args: Sym[]) => readonly (Sym | null)[];
const customVjps = new Map<string, { vjp: CustomVjp; arity: number }>();
let customCount = 0;

const CUSTOM_OP = 'customGrad';

/** The node that carries a custom VJP: its value is its last input, `f(...xs)`. */
const customGradOp: OpDef<{ fn: string; name: string }> = {
  name: CUSTOM_OP,
  arity: { min: 1 },
  kind: 'elementwise',
  doc: 'f(...xs) with a user-provided VJP: the value is the last input, the gradient the user rule',
  attrs: (raw) => ({ fn: raw.fn as string, name: (raw.name as string) ?? 'custom' }),
  infer: (ins) => ins[ins.length - 1],
  kernel: (ins) => ins[ins.length - 1].clone(),
  // the user's rule gives the xs' gradients; f's own nodes get none, so grad never looks inside f
  vjp: ({ inputs, output, dy, attrs, node }) => {
    const entry = customVjps.get(attrs.fn);
    if (!entry) throw new GradError(`the custom gradient "${attrs.name}" is not defined in this process; re-create it with customGrad`, { op: CUSTOM_OP, origin: node.origin });
    const xs = inputs.slice(0, -1);
    const gs = entry.vjp(...xs, output, dy);
    if (!Array.isArray(gs) || gs.length !== xs.length) {
      throw new GradError(`custom VJP "${attrs.name}" returned ${Array.isArray(gs) ? gs.length : 'no array of'} gradients for ${xs.length} inputs`, { op: CUSTOM_OP, scope: node.scope, origin: node.origin });
    }
    return [...gs, null];
  },
  flops: () => 0,
};
if (!hasOp(CUSTOM_OP)) registerOp(customGradOp);

/**
 * `f` with a gradient you provide. The value is `f`'s; `vjp(...xs, y, dy)` returns one gradient
 * symbol (the argument's dtype, its shape or one that broadcasts to it) or `null` per argument,
 * built from ops, so higher-order gradients go through it. `grad` never looks inside `f`: a value
 * `f` uses without taking it as an argument gets no gradient, and asking `grad` for one is a
 * `GradError`. The rule lives in this process: a saved graph's custom node needs the same
 * `customGrad` calls again before differentiating. See docs/core.md.
 * @example
 * const safeLog = customGrad((x) => x.log(), (x, y, dy) => [dy.div(x.maximum(1e-12))]);
 */
export function customGrad<F extends (...xs: Sym[]) => Sym>(f: F, vjp: (...args: Sym[]) => readonly (Sym | null)[], opts: { name?: string } = {}): F {
  if (typeof f !== 'function' || typeof vjp !== 'function') throw new GraphError('customGrad(f, vjp) needs two functions', { op: CUSTOM_OP, origin: captureOrigin() });
  const fn = `custom${customCount++}`;
  const name = opts.name ?? (f.name || 'custom');
  customVjps.set(fn, { vjp, arity: f.length });
  const wrapped = (...xs: Sym[]): Sym => {
    if (!xs.length || !xs.every((x) => x instanceof Sym)) throw new GraphError(`custom function "${name}" takes symbols`, { op: CUSTOM_OP, origin: captureOrigin() });
    const g = xs[0].graph;
    const y = f(...xs);
    if (!(y instanceof Sym) || y.graph !== g) throw new GraphError(`custom function "${name}" must return a symbol of its inputs' graph`, { op: CUSTOM_OP, origin: captureOrigin() });
    return g.apply(CUSTOM_OP, [...xs, y], { fn, name });
  };
  return wrapped as F;
}

// ---- higher-order helpers -----------------------------------------------------------------

/**
 * Hessian-vector products: H·v for the scalar `y` and each `x`, computed as the gradient of
 * ⟨∇y, v⟩ (reverse over reverse), without forming H.
 */
export function hvp(y: Sym, xs: readonly Sym[], vs: readonly Sym[]): Sym[] {
  if (xs.length !== vs.length) throw new GradError(`needs one v per x: ${xs.length} xs, ${vs.length} vs`, { op: 'hvp', origin: captureOrigin() });
  const gs = grad(y, xs);
  gs.forEach((gx, i) => {
    if (vs[i].dtype !== gx.dtype || !compatible(vs[i].shape, gx.shape)) {
      throw new GradError(`v ${i} is ${fmtType(vs[i].node.type)}, x is ${fmtType(gx.node.type)}`, { op: 'hvp', origin: captureOrigin() });
    }
  });
  const dot = api.addN(gs.map((gx, i) => api.sum(api.mul(gx, vs[i]))));
  return grad(dot, xs);
}

/**
 * The full Jacobian of `y` with respect to `x`, shaped `[...y.shape, ...x.shape]`. One reverse
 * pass per element of `y`, so for small, statically shaped `y` only.
 */
export function jacobian(y: Sym, x: Sym): Sym {
  if (!isStatic(y.shape) || !isStatic(x.shape)) throw new GradError('jacobian needs static shapes', { op: 'jacobian', shapes: [y.shape, x.shape], origin: captureOrigin() });
  const m = sizeOf(y.shape as number[]);
  if (m > 4096) throw new GradError(`y has ${m} elements; jacobian is for small outputs (use hvp or vjp-based products)`, { op: 'jacobian', origin: captureOrigin() });
  const rows: Sym[] = [];
  for (let i = 0; i < m; i++) {
    const e = Tensor.zeros(y.shape as number[], y.dtype);
    e.data[i] = 1;
    const [gi] = grad(y, [x], y.graph.constant(e));
    rows.push(api.expandDims(gi, 0));
  }
  const stacked = rows.length === 1 ? rows[0] : api.concat(rows, 0);
  return api.reshape(stacked, [...(y.shape as number[]), ...(x.shape as number[])]);
}

/** The Hessian of the scalar `y` with respect to `x`: `[...x.shape, ...x.shape]`. */
export function hessian(y: Sym, x: Sym): Sym {
  const [gx] = grad(y, [x]);
  return jacobian(gx, x);
}

/**
 * Defines a new primitive from a kernel, a shape rule and a VJP, registered beside the
 * built-ins, and returns its builder `op(...symbols, attrs?)` (a trailing plain object is taken
 * as attributes). The kernel contract: return a new Tensor of exactly `ctx.out`'s dtype and shape;
 * never modify or keep the inputs (they may be arena memory or a param's storage); be a pure
 * function of inputs and attributes (nodes are merged, removed and re-run); never run programs of
 * the same graph. The shape rule must accept `null` (run-time) dims. Full contract: docs/core.md.
 * @example
 * const cube = defineOp({ name: 'cube', arity: 1, infer: ([x]) => x,
 *   kernel: ([x], _a, ctx) => ..., vjp: ({ inputs: [x], dy }) => [dy.mul(x.mul(x)).mul(3)] });
 */
export function defineOp(
  def: Omit<OpDef<any>, 'kind' | 'doc' | 'attrs' | 'arity'> & Partial<Pick<OpDef<any>, 'kind' | 'doc' | 'attrs' | 'arity'>>,
): (...args: (Sym | Record<string, unknown>)[]) => Sym {
  const full: OpDef<any> = {
    kind: 'other',
    doc: def.name,
    attrs: (raw) => raw,
    arity: { min: 0 },
    ...def,
  };
  registerOp(full);
  return (...args) => {
    const last = args[args.length - 1];
    const attrs = last !== undefined && !(last instanceof Sym) ? (args.pop() as Record<string, unknown>) : {};
    const inputs = args as Sym[];
    if (!inputs.length || !(inputs[0] instanceof Sym)) throw new GraphError('takes at least one symbol', { op: full.name, origin: captureOrigin() });
    return inputs[0].graph.apply(full.name, inputs, attrs);
  };
}

export type { Graph };
