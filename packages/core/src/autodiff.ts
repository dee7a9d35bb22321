/**
 * Symbolic reverse-mode autodiff. `grad` walks the nodes between `y` and `xs` in reverse
 * topological order (node ids are creation order, hence topological) and asks each op's VJP for
 * its inputs' gradients as new graph nodes. This loop — not the rules — accumulates the
 * contributions and sums broadcast gradients back to each input's shape. Gradients are graph, so
 * `grad` of `grad` works to any order.
 */
import * as api from './api';
import { isFloat } from './dtype';
import { dimTermsOf, isUserOp, markUserOp, type DimTerm } from './dims';
import { GradError, GradgraphError, GraphError } from './errors';
import { Graph, Sym } from './graph';
import { fmtType, type Node, type TypeInfo } from './ir';
import { captureOrigin } from './origin';
import { derivation, derived, getOp, isDifferentiable, noBatchRule, notDifferentiable, registerOp, hasOp, traits, type BatchArgs, type JvpArgs, type OpDef, type OpTraits } from './registry';
import { toFront } from './ops/batching';
import * as transforms from './transforms';
import { fmtShape, isStatic, shapeEq, sizeOf, type SymShape } from './shape';
import { Tensor } from './tensor';

/** Where a gradient comes from: input `input` of `node`, whose VJP made it. */
export interface GradientSource {
  readonly node: Node;
  readonly input: number;
}

/** The terms of a symbol's dims (see dims.ts): equal names are equal sizes at run time. */
function termsOf(s: Sym): DimTerm[] {
  const g = s.graph;
  return dimTermsOf(g, (id) => g.node(id), s.id);
}

/**
 * Whether the op of `from` can have broadcast its input along dim `j` of that input, whose size is
 * known only at run time. Reductions (built in) never broadcast; a matmul broadcasts only its batch
 * dims; any other op only where another of its inputs has that (right-aligned) dim and that dim is
 * not provably the same size — statically 1, or the same run-time dim.
 */
function mayBroadcast(from: GradientSource, x: Sym, j: number): boolean {
  const { node, input } = from;
  const def = getOp(node.op);
  if (def.kind === 'reduction' && !isUserOp(node.op)) return false; // a user op is taken on trust only as far as its inputs allow
  if (def.kind === 'matmul' && j >= x.rank - 2) return false;
  const g = x.graph;
  const own = termsOf(x)[j];
  return node.inputs.some((id, k) => {
    if (k === input || id === x.id) return false;
    const other = g.sym(id);
    const at = j - (x.rank - other.rank);
    if (at < 0) return false;
    const t = termsOf(other)[at];
    return t !== 1 && t !== own;
  });
}

/**
 * Sums `g` (a gradient shaped like `x` broadcast by the op that used it) down to `x`'s shape.
 * Static shapes give a static `sum`; where a dim is known only at run time and the shapes can't
 * tell whether it was broadcast, `sumLike` decides at run time. Two open dims count as the same
 * only when they provably are (the same run-time dim, see dims.ts), or when `from` — the op whose
 * VJP made `g` — cannot have broadcast `x` along that dim.
 */
export function unbroadcast(g: Sym, x: Sym, from?: GradientSource): Sym {
  const gs = g.shape;
  const xs = x.shape;
  const lead = gs.length - xs.length;
  if (lead < 0) throw new GradError(`gradient of shape ${fmtShape(gs)} has lower rank than its input ${fmtShape(xs)}`, { op: from?.node.op, shapes: [gs, xs] });
  const axes: number[] = [];
  let atRunTime = false;
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) {
      axes.push(i);
      continue;
    }
    const j = i - lead;
    const xd = xs[j];
    const gd = gs[i];
    if (xd === 1) {
      if (gd !== 1) axes.push(i);
      continue;
    }
    if (xd !== null) {
      if (gd !== null && gd !== xd) throw new GradError(`gradient of shape ${fmtShape(gs)} cannot be summed down to ${fmtShape(xs)}`, { op: from?.node.op, shapes: [gs, xs] });
      continue; // g's dim is x's known size
    }
    // x's dim is open: is g's the same run-time dim?
    if (gd === 1) continue;
    if (gd === null && (termsOf(g)[i] === termsOf(x)[j] || (from !== undefined && !mayBroadcast(from, x, j)))) continue;
    atRunTime = true;
  }
  if (atRunTime) return api.sumLike(g, x);
  let out = axes.length ? api.sum(g, axes, true) : g;
  if (lead > 0) out = api.squeeze(out, [...Array(lead).keys()]);
  return out;
}

/**
 * Checks the gradient `r` a VJP returned for input `k` (`x`) of `node`. It must have `x`'s shape,
 * or be larger only where the op broadcast `x` to its output: extra leading dims and dims where
 * `x` has 1, each of the output's size there. Anything else (a `[3,3]` gradient for a `[3]`
 * input of an elementwise op) is a wrong rule, not something to sum away.
 */
function checkGradientShape(r: Sym, x: Sym, node: Node, k: number, what: string): void {
  const rs = r.shape;
  const xs = x.shape;
  const out = node.type.shape;
  const fits = (a: number | null, b: number | null) => a === null || b === null || a === b;
  let ok = rs.length >= xs.length;
  for (let i = 1; ok && i <= rs.length; i++) {
    const rd = rs[rs.length - i];
    const xd = i <= xs.length ? xs[xs.length - i] : undefined;
    if (xd !== undefined && xd !== 1 && fits(rd, xd)) continue; // x's own dim
    if (xd === 1 && rd === 1) continue;
    // a broadcast dim: the output must have it, of r's size
    ok = i <= out.length && fits(rd, out[out.length - i]) && (xd === undefined || xd === 1 || xd === null);
  }
  if (!ok) {
    throw new GradError(`${what} returned a gradient of shape ${fmtShape(rs)} for input ${k} (${describeInput(x)}), expected ${fmtShape(xs)}${shapeEq(out, xs) ? '' : ` or a broadcast of it to the output shape ${fmtShape(out)}`}`, {
      op: node.op,
      shapes: [rs, xs],
      scope: node.scope,
      origin: node.origin,
      node: node.id,
    });
  }
}

function describeInput(x: Sym): string {
  return x.name !== undefined && (x.op === 'input' || x.op === 'param') ? `${x.op} "${x.name}" of shape ${fmtShape(x.shape)}` : `%${x.id} ${x.op} of shape ${fmtShape(x.shape)}`;
}

/** How a node's VJP rule is named in errors: the op, and a custom gradient's own name. */
function ruleName(node: Node): string {
  return node.op === CUSTOM_OP ? `the custom VJP "${String(node.attrs.name)}"` : `the VJP rule of ${node.op}`;
}

/** Wraps an error thrown by a VJP rule with the node's op, scope and source line (like kernel errors). */
function vjpError(e: unknown, node: Node, types: readonly TypeInfo[]): Error {
  const ctx = { op: node.op, shapes: types.map((t) => t.shape), dtypes: types.map((t) => t.dtype), scope: node.scope, origin: node.origin, node: node.id };
  if (e instanceof GradgraphError) {
    if (e.origin) return e;
    const Ctor = e.constructor as new (d: string, c: object) => GradgraphError;
    return new Ctor(e.detail, ctx);
  }
  const err = new GradError(`${ruleName(node)} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, ctx);
  (err as { cause?: unknown }).cause = e;
  return err;
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
  const path = pathBetween(g, targets, [y]);
  const onPath = new Set(path);

  const contributions = new Map<number, Sym[]>([[y.id, [seed]]]);
  const total = new Map<number, Sym>();
  for (const id of [...path].reverse()) {
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
    let results: readonly (Sym | null)[];
    try {
      results = g.withAdjoint(id, () => def.vjp({ inputs, output: new Sym(g, id), dy: adj, attrs: node.attrs, node, needsGrad }));
    } catch (e) {
      throw vjpError(e, node, inputs.map((x) => x.node.type));
    }
    const what = ruleName(node);
    if (!Array.isArray(results) || results.length !== inputs.length) {
      throw new GradError(`${what} returned ${Array.isArray(results) ? results.length : 'no array of'} gradients for ${inputs.length} inputs`, { op: node.op, scope: node.scope, origin: node.origin, node: node.id });
    }
    results.forEach((r, k) => {
      if (!needsGrad[k] || r === null || r === undefined) return;
      const x = inputs[k];
      if (!(r instanceof Sym) || r.graph !== g) throw new GradError(`${what} returned a non-symbol for input ${k}`, { op: node.op, scope: node.scope, origin: node.origin, node: node.id });
      if (r.dtype !== x.dtype) throw new GradError(`${what} returned ${r.dtype} for input ${k}, which is ${x.dtype}`, { op: node.op, dtypes: [r.dtype, x.dtype], scope: node.scope, origin: node.origin, node: node.id });
      checkGradientShape(r, x, node, k, what);
      const u = g.withAdjoint(id, () => unbroadcast(r, x, { node, input: k }));
      if (!compatible(u.shape, x.shape)) {
        throw new GradError(`${what} returned shape ${fmtShape(r.shape)} for input ${k} of shape ${fmtShape(x.shape)}`, { op: node.op, shapes: [r.shape, x.shape], scope: node.scope, origin: node.origin, node: node.id });
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

/** One `customGrad` definition of this process. */
interface CustomDef {
  readonly name: string;
  readonly vjp: CustomVjp;
  readonly arity: number;
}

/**
 * Custom gradients by process-local id (what a node built here refers to: exact even when two
 * definitions share a name), and by name (what a saved graph refers to).
 */
const customById = new Map<string, CustomDef>();
const customByName = new Map<string, string[]>();
let customCount = 0;

const CUSTOM_OP = 'customGrad';

/**
 * The process-local id of the custom gradient called `name`, for a graph loaded from a document
 * (which names it): a `GraphError` when no definition or more than one has that name.
 */
function resolveCustom(name: unknown): string {
  if (typeof name !== 'string' || !name) throw new GraphError(`a customGrad node needs the name of its custom gradient, got ${JSON.stringify(name)}`, { op: CUSTOM_OP });
  const ids = customByName.get(name) ?? [];
  if (ids.length === 0) throw new GraphError(`no custom gradient named "${name}" is defined in this process: create it with customGrad(f, vjp, { name: '${name}' }) before loading`, { op: CUSTOM_OP });
  if (ids.length > 1) throw new GraphError(`the custom gradient name "${name}" is ambiguous: ${ids.length} customGrad definitions in this process have it; give each its own name ({ name })`, { op: CUSTOM_OP });
  return ids[0];
}

/**
 * The node that carries a custom VJP: its value is its last input, `f(...xs)`. Its attributes
 * are the custom gradient's name (saved with the graph) and `fn`, the id of the definition in
 * this process (not saved: a loaded graph finds its definition by name).
 */
const customGradOp: OpDef<{ fn: string; name: string }> = {
  name: CUSTOM_OP,
  arity: { min: 1 },
  kind: 'elementwise',
  // the value is f's result, the last input; the xs are there for the gradient only
  traits: traits({ elementwise: true, dataInputs: 'last', finiteIfInputsFinite: (_a, ins) => [ins.length - 1] }),
  doc: 'f(...xs) with a user-provided VJP: the value is the last input, the gradient the user rule',
  attrs: (raw) => {
    const fn = raw.fn;
    if (typeof fn === 'string' && customById.get(fn)?.name === raw.name) return { fn, name: raw.name as string };
    return { fn: resolveCustom(raw.name), name: raw.name as string };
  },
  infer: (ins) => ins[ins.length - 1],
  kernel: (ins) => ins[ins.length - 1].clone(),
  // the user's rule gives the xs' gradients; f's own nodes get none, so grad never looks inside f
  vjp: ({ inputs, output, dy, attrs, node }) => {
    const entry = customById.get(attrs.fn);
    if (!entry) throw new GradError(`the custom gradient "${attrs.name}" is not defined in this process; re-create it with customGrad`, { op: CUSTOM_OP, origin: node.origin });
    const xs = inputs.slice(0, -1);
    const gs = entry.vjp(...xs, output, dy);
    if (!Array.isArray(gs) || gs.length !== xs.length) {
      throw new GradError(`the custom VJP "${attrs.name}" returned ${Array.isArray(gs) ? gs.length : 'no array of'} gradients for ${xs.length} inputs`, { op: CUSTOM_OP, scope: node.scope, origin: node.origin });
    }
    return [...gs, null];
  },
  // forward mode through the user's VJP, not through f (the double-VJP trick; f's tangent is ignored)
  jvp: derived((args: JvpArgs<{ fn: string; name: string }>) => customJvp(args), 'double VJP'),
  // a new custom node over the batch, whose VJP is the user's rule vmapped
  batch: (args) => customBatch(args),
  flops: () => 0,
};

function customJvp(args: JvpArgs<{ fn: string; name: string }>): Sym | null {
  const rule = transforms.doubleVjpJvp<{ fn: string; name: string }>(customGradOp.vjp as Exclude<typeof customGradOp.vjp, typeof notDifferentiable>);
  return rule({ ...args, tangents: [...args.tangents.slice(0, -1), null] });
}

/**
 * A customGrad node over a batch. Its value is f's, already batched (the last input); its gradient
 * must stay the user's rule, which was written for one example, so the new node's VJP is that rule
 * under `vmap` — the xs and f's value batched along axis 0 as here, the cotangent too — with the
 * gradients of unbatched xs summed over the examples.
 */
function customBatch({ inputs, axes, attrs, node }: BatchArgs<{ fn: string; name: string }>): { out: Sym; axis: number } {
  const entry = customById.get(attrs.fn);
  if (!entry) throw new GradError(`the custom gradient "${attrs.name}" is not defined in this process; re-create it with customGrad`, { op: CUSTOM_OP, origin: node.origin });
  // the batched inputs stay where they are (f's batched value was computed from them, so moving
  // them would hide them from the node's arguments); the rule's vmap reads each batch where it is
  const yAxis = axes[axes.length - 1];
  if (yAxis === null) throw new GradError(`custom function "${attrs.name}": its value does not depend on the batch but its inputs do`, { op: CUSTOM_OP, origin: node.origin });
  const xAxes = axes.slice(0, -1);
  const vjp = (...args: Sym[]): (Sym | null)[] => {
    const n = args.length - 2;
    const perExample = (...ex: Sym[]) => {
      const gs = entry.vjp(...ex);
      // a null gradient stays null: vmap needs symbols, so it gets zeros and they are dropped below
      return gs.map((gx: Sym | null, i: number) => gx ?? api.zerosLike(ex[i]));
    };
    // dy is shaped like y: its batch runs along y's axis; each gradient goes where its x's batch is
    const gs = transforms.vmap(perExample, { inAxes: [...xAxes, yAxis, yAxis], outAxes: xAxes.map((a) => a ?? 0) })(...args) as Sym[];
    return gs.slice(0, n).map((gx, i) => (xAxes[i] === null ? api.sum(gx, [0]) : gx));
  };
  // a name of its own, known only in this process: a saved graph holding it is refused on load
  // elsewhere rather than given the unbatched rule
  const fn = `custom${customCount++}`;
  const name = `${attrs.name}/vmap`;
  customById.set(fn, { name, vjp, arity: inputs.length });
  return { out: inputs[0].graph.apply(CUSTOM_OP, inputs, { fn, name }), axis: yAxis };
}
if (!hasOp(CUSTOM_OP)) registerOp(customGradOp);

/**
 * `f` with a gradient you provide. The value is `f`'s; `vjp(...xs, y, dy)` returns one gradient
 * symbol (the argument's dtype, its shape or one that broadcasts to it) or `null` per argument,
 * built from ops, so higher-order gradients go through it. `grad` never looks inside `f`: a value
 * `f` uses without taking it as an argument gets no gradient, and asking `grad` for one is a
 * `GradError`. See docs/core.md.
 *
 * `name` (default: `f`'s function name, else `"custom"`) is how a saved graph refers to this
 * gradient: `Graph.fromJSON` finds the definition by name, and refuses a document whose name no
 * definition or more than one definition in the loading process has. Name the custom gradients
 * of graphs you save, uniquely.
 * @example
 * const safeLog = customGrad((x) => x.log(), (x, y, dy) => [dy.div(x.maximum(1e-12))], { name: 'safeLog' });
 */
export function customGrad<F extends (...xs: Sym[]) => Sym>(f: F, vjp: (...args: Sym[]) => readonly (Sym | null)[], opts: { name?: string } = {}): F {
  if (typeof f !== 'function' || typeof vjp !== 'function') throw new GraphError('customGrad(f, vjp) needs two functions', { op: CUSTOM_OP, origin: captureOrigin() });
  const name = opts.name ?? (f.name || 'custom');
  if (typeof name !== 'string' || !name) throw new GraphError(`a custom gradient's name must be a non-empty string, got ${JSON.stringify(opts.name)}`, { op: CUSTOM_OP, origin: captureOrigin() });
  const fn = `custom${customCount++}`;
  customById.set(fn, { name, vjp, arity: f.length });
  customByName.set(name, [...(customByName.get(name) ?? []), fn]);
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

export interface HvpOptions {
  /**
   * `'fwd-rev'`: the JVP of the gradient along v (forward over reverse); `'rev-rev'`: the gradient
   * of ⟨∇y, v⟩ (reverse over reverse). Default: `'fwd-rev'`, unless an op between xs and y has no
   * JVP rule of its own (a `defineOp` without `jvp`, whose double-VJP fallback makes forward mode
   * the dearer one), then `'rev-rev'`. See docs/core.md for the measurements.
   */
  mode?: 'fwd-rev' | 'rev-rev';
}

/**
 * Hessian-vector products: H·v for the scalar `y` and each `x`, without forming H — forward over
 * reverse (`jvp(∇y, xs, vs)`) or reverse over reverse (`grad(⟨∇y, v⟩, xs)`).
 * @example const [hv] = hvp(loss, [w], [v]);
 */
export function hvp(y: Sym, xs: readonly Sym[], vs: readonly Sym[], opts: HvpOptions = {}): Sym[] {
  if (xs.length !== vs.length) throw new GradError(`needs one v per x: ${xs.length} xs, ${vs.length} vs`, { op: 'hvp', origin: captureOrigin() });
  const mode = opts.mode ?? (forwardIsNative(y, xs) ? 'fwd-rev' : 'rev-rev');
  if (mode !== 'fwd-rev' && mode !== 'rev-rev') throw new GradError(`mode must be 'fwd-rev' or 'rev-rev', got ${JSON.stringify(mode)}`, { op: 'hvp', origin: captureOrigin() });
  const gs = grad(y, xs);
  gs.forEach((gx, i) => {
    if (!(vs[i] instanceof Sym) || vs[i].dtype !== gx.dtype || !compatible(vs[i].shape, gx.shape)) {
      throw new GradError(`v ${i} is ${vs[i] instanceof Sym ? fmtType(vs[i].node.type) : String(vs[i])}, x is ${fmtType(gx.node.type)}`, { op: 'hvp', origin: captureOrigin() });
    }
  });
  if (mode === 'fwd-rev') return transforms.jvp(gs, xs, vs);
  const dot = api.addN(gs.map((gx, i) => api.sum(api.mul(gx, vs[i]))));
  return grad(dot, xs);
}

/** Whether every op between xs and y has a JVP rule of its own (not the double-VJP fallback). */
function forwardIsNative(y: Sym, xs: readonly Sym[]): boolean {
  const g = y.graph;
  const seen = new Set<number>();
  const stack = [y.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const node = g.node(id);
    const def = getOp(node.op);
    if (def.jvp !== notDifferentiable && derivation(def.jvp) === 'double VJP') return false;
    stack.push(...node.inputs);
  }
  return xs.length > 0;
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
 * Without `jvp`, forward mode uses the double-VJP fallback (the VJP transposed by `grad`: about
 * the VJP's cost again, see docs/core.md); without `batch`, `vmap` over the op throws a
 * `BatchError` naming it.
 * @example
 * const cube = defineOp({ name: 'cube', arity: 1, infer: ([x]) => x,
 *   kernel: ([x], _a, ctx) => ..., vjp: ({ inputs: [x], dy }) => [dy.mul(x.mul(x)).mul(3)],
 *   jvp: ({ inputs: [x], tangents: [t] }) => t && t.mul(x.mul(x)).mul(3) });
 */
export function defineOp(
  def: Omit<OpDef<any>, 'kind' | 'doc' | 'attrs' | 'arity' | 'traits' | 'jvp' | 'batch'> &
    Partial<Pick<OpDef<any>, 'kind' | 'doc' | 'attrs' | 'arity' | 'jvp' | 'batch'>> & { traits?: Partial<OpTraits> },
): (...args: (Sym | Record<string, unknown>)[]) => Sym {
  const vjp = def.vjp;
  const full: OpDef<any> = {
    kind: 'other',
    doc: def.name,
    attrs: (raw) => raw,
    arity: { min: 0 },
    ...def,
    jvp: def.jvp ?? (typeof vjp === 'function' ? transforms.doubleVjpJvp(vjp) : notDifferentiable),
    batch: def.batch ?? noBatchRule(def.name),
    // undeclared traits take the conservative defaults: the compiler assumes nothing
    traits: traits(def.traits ?? {}),
  };
  registerOp(full);
  markUserOp(full.name);
  return (...args) => {
    const last = args[args.length - 1];
    const attrs = last !== undefined && !(last instanceof Sym) ? (args.pop() as Record<string, unknown>) : {};
    const inputs = args as Sym[];
    if (!inputs.length || !(inputs[0] instanceof Sym)) throw new GraphError('takes at least one symbol', { op: full.name, origin: captureOrigin() });
    return inputs[0].graph.apply(full.name, inputs, attrs);
  };
}

export type { Graph };

/** Ids of the nodes (used by grad, jvp and vmap) on a path from one of `from` to one of `to`, ascending (a topological order). */
export function pathBetween(g: Graph, from: ReadonlySet<number>, to: readonly Sym[]): number[] {
  const ancestors = new Set<number>();
  const stack = to.map((s) => s.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (ancestors.has(id)) continue;
    ancestors.add(id);
    for (const i of g.node(id).inputs) stack.push(i);
  }
  const onPath = new Set<number>();
  for (const id of [...ancestors].sort((a, b) => a - b)) {
    if (from.has(id) || g.node(id).inputs.some((i) => onPath.has(i))) onPath.add(id);
  }
  return [...onPath].sort((a, b) => a - b);
}
