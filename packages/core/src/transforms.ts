/**
 * Transformations beyond `grad`, built as graph: forward mode (`jvp`, `jacfwd`), batching
 * (`vmap`) and per-example gradients (`perExampleGrads`). Like `grad`, each walks the nodes
 * between its inputs and outputs and asks every op's rule — `OpDef.jvp`, `OpDef.batch` — for new
 * nodes, so what they build compiles, fuses and differentiates like any other graph: grad of a
 * jvp, jvp of a grad, vmap of a grad, grad of a vmap.
 */
import * as api from './api';
import { grad, pathBetween } from './autodiff';
import { isFloat, type DType } from './dtype';
import { BatchError, GradError, GraphError } from './errors';
import { Graph, Sym } from './graph';
import { fmtType, type Node } from './ir';
import { captureOrigin } from './origin';
import { broadcastBatch, moveAxis } from './ops/batching';
import { dataInputIndices, derived, getOp, type Jvp, type JvpArgs, type Vjp } from './registry';
import { fmtShape, isStatic, normAxis, shapeEq, sizeOf, type SymShape } from './shape';
import { Tensor } from './tensor';

// ---- shared -----------------------------------------------------------------------------------

/**
 * A node no other code can build, of the given shape and dtype: a keyed random node (random nodes
 * are never merged by hash-consing). Transformations use it as a placeholder — an example of a
 * batch for `vmap`, the cotangent handle of the double-VJP — and replace every use of it, so it
 * never reaches a compiled program (`like`, for dims unknown until run time, lends its shape).
 */
function placeholder(g: Graph, shape: SymShape, dtype: DType, like: () => Sym): Sym {
  const fdt = isFloat(dtype) ? dtype : 'float32';
  const key = g.randomKey('transform.placeholder');
  const s = isStatic(shape) ? g.apply('randomNormal', [], { shape, dtype: fdt, key }) : g.apply('randomNormal', [like()], { dtype: fdt, key });
  return s.dtype === dtype ? s : api.cast(s, dtype);
}

const compatible = (a: SymShape, b: SymShape): boolean => a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
const describeSym = (s: Sym): string => (s.name ? `"${s.name}"` : `%${s.id} (${s.op})`);

function checkSyms(op: string, what: string, xs: unknown, g?: Graph): Sym[] {
  if (!Array.isArray(xs)) throw new GraphError(`${what} must be an array of symbols`, { op, origin: captureOrigin() });
  for (const x of xs) {
    if (!(x instanceof Sym)) throw new GraphError(`every one of ${what} must be a symbol, got ${x === null ? 'null' : typeof x}`, { op, origin: captureOrigin() });
    if (g && x.graph !== g) throw new GraphError(`every one of ${what} must belong to the same graph`, { op, origin: captureOrigin() });
  }
  return xs as Sym[];
}

// ---- forward mode -----------------------------------------------------------------------------

/**
 * Forward mode: the tangents of `ys` when each `xs[i]` moves along `tangents[i]` — the
 * Jacobian-vector products J·t, as graph. Nodes are visited in topological order and each op's
 * JVP rule maps its inputs' tangents to its output's; a `y` that no `x` reaches gets zeros. Like
 * `grad`, an `x` that depends on another `x` gets its own tangent added to the one flowing in.
 * @example
 * const [dy] = jvp([loss], [w], [v]); // the directional derivative of loss along v
 */
export function jvp(ys: readonly Sym[], xs: readonly Sym[], tangents: readonly Sym[]): Sym[] {
  const op = 'jvp';
  checkSyms(op, 'ys', ys);
  if (!ys.length) throw new GraphError('needs at least one y', { op, origin: captureOrigin() });
  const g = ys[0].graph;
  checkSyms(op, 'ys', ys, g);
  checkSyms(op, 'xs', xs, g);
  checkSyms(op, 'tangents', tangents, g);
  if (xs.length !== tangents.length) throw new GradError(`needs one tangent per x: ${xs.length} xs, ${tangents.length} tangents`, { op, origin: captureOrigin() });
  for (const y of ys) if (!isFloat(y.dtype)) throw new GradError(`y ${describeSym(y)} is ${fmtType(y.node.type)}; only float outputs have tangents`, { op, dtypes: [y.dtype], origin: captureOrigin() });
  const seeds = new Map<number, Sym>();
  xs.forEach((x, i) => {
    const t = tangents[i];
    if (!isFloat(x.dtype)) throw new GradError(`cannot move ${fmtType(x.node.type)} ${describeSym(x)} along a tangent: only float inputs have tangents`, { op, dtypes: [x.dtype], origin: captureOrigin() });
    if (t.dtype !== x.dtype || !compatible(t.shape, x.shape)) {
      throw new GradError(`tangent ${i} is ${fmtType(t.node.type)} but x ${describeSym(x)} is ${fmtType(x.node.type)}`, { op, shapes: [t.shape, x.shape], dtypes: [t.dtype, x.dtype], origin: captureOrigin() });
    }
    const prev = seeds.get(x.id);
    seeds.set(x.id, prev ? api.add(prev, t) : t);
  });

  const tangent = new Map<number, Sym>();
  for (const id of pathBetween(g, new Set(seeds.keys()), ys)) {
    const node = g.node(id);
    let t = isFloat(node.type.dtype) ? tangentOf(g, node, tangent) : null;
    const seed = seeds.get(id);
    if (seed) t = t ? api.add(t, seed) : seed;
    if (t) tangent.set(id, t);
  }
  return ys.map((y) => tangent.get(y.id) ?? api.zerosLike(y));
}

/** A node's tangent from its inputs' by its op's JVP rule, checked and broadcast to its shape; null for zero. */
function tangentOf(g: Graph, node: Node, tangent: ReadonlyMap<number, Sym>): Sym | null {
  const ins = node.inputs.map((i) => tangent.get(i) ?? null);
  if (!ins.some(Boolean)) return null;
  const def = getOp(node.op);
  const rule = def.jvp;
  if (typeof rule !== 'function') return null; // notDifferentiable
  const output = new Sym(g, node.id);
  const ctx = { op: node.op, scope: node.scope, origin: node.origin };
  const t = rule({ inputs: node.inputs.map((i) => new Sym(g, i)), output, tangents: ins, attrs: node.attrs, node });
  if (t === null || t === undefined) return null;
  if (!(t instanceof Sym) || t.graph !== g) throw new GradError('the JVP rule returned a non-symbol', ctx);
  if (t.dtype !== node.type.dtype) throw new GradError(`the JVP rule returned ${t.dtype} for an output of ${node.type.dtype}`, { ...ctx, dtypes: [t.dtype, node.type.dtype] });
  const shape = node.type.shape;
  if (t.rank > shape.length || !t.shape.every((d, i) => { const o = shape[shape.length - t.rank + i]; return d === 1 || d === null || o === null || d === o; })) {
    throw new GradError(`the JVP rule returned shape ${fmtShape(t.shape)} for an output of shape ${fmtShape(shape)}`, { ...ctx, shapes: [t.shape, shape] });
  }
  // a tangent shaped like the output is used as it is (unless a broadcast could hide behind unknown dims)
  if (shapeEq(t.shape, shape) && (isStatic(shape) || !def.traits.broadcasting)) return t;
  return api.broadcastToShapeOf(t, output);
}

/**
 * The forward-mode rule of an op that has only a VJP — the double-VJP trick. The VJP is linear in
 * its cotangent u, u ↦ Jᵀu, so ⟨Jᵀu, t⟩ = ⟨u, J·t⟩ and J·t is the gradient of ⟨Jᵀu, t⟩ with
 * respect to u, wherever u is. Cost: building it runs the VJP rule once and `grad` over the VJP's
 * nodes, so the JVP graph is the transpose of the VJP graph — about the VJP's size and run time,
 * against a hand-written JVP that is often a few nodes. A VJP that is not linear in dy is a
 * `GradError` (the result would depend on u).
 */
export function doubleVjpJvp<A>(vjp: Vjp<A>): Jvp<A> {
  return derived(({ inputs, output, tangents, attrs, node }: JvpArgs<A>): Sym | null => {
    const g = output.graph;
    const needsGrad = tangents.map((t, i) => t !== null && isFloat(inputs[i].dtype));
    if (!needsGrad.some(Boolean)) return null;
    const u = placeholder(g, output.shape, output.dtype, () => output);
    const cts = vjp({ inputs, output, dy: u, attrs, node, needsGrad });
    const terms: Sym[] = [];
    cts.forEach((ct, k) => {
      if (needsGrad[k] && ct) terms.push(api.sum(api.mul(ct, tangents[k]!)));
    });
    if (!terms.length) return null;
    const [jt] = grad(api.addN(terms), [u]);
    if (readsValue(g, jt, u.id)) {
      throw new GradError('the double-VJP fallback needs a VJP linear in dy; this one is not — give the op a jvp rule', { op: node.op, scope: node.scope, origin: node.origin });
    }
    return jt;
  }, 'double VJP');
}

/** Whether `s` reads the value of node `id` (not just its shape). */
function readsValue(g: Graph, s: Sym, id: number): boolean {
  const seen = new Set<number>();
  const stack = [s.id];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === id) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    const node = g.node(n);
    for (const k of dataInputIndices(getOp(node.op), node.inputs.length)) stack.push(node.inputs[k]);
  }
  return false;
}

/**
 * The Jacobian of `y` with respect to `x` by forward mode, shaped `[...y.shape, ...x.shape]`:
 * one JVP per element of x, all at once as a `vmap` over the basis of x's tangent space. Use it
 * when x has fewer elements than y; `jacobian` (reverse mode, one VJP per element of y) otherwise.
 * @example const J = jacfwd(y, x); // [3, 2] for y [3], x [2]
 */
export function jacfwd(y: Sym, x: Sym): Sym {
  const op = 'jacfwd';
  if (!(y instanceof Sym) || !(x instanceof Sym) || x.graph !== y.graph) throw new GraphError('jacfwd(y, x) needs two symbols of one graph', { op, origin: captureOrigin() });
  if (!isStatic(x.shape)) throw new GradError(`x has shape ${fmtShape(x.shape)}: jacfwd needs x's shape known when the graph is built`, { op, shapes: [x.shape], origin: captureOrigin() });
  const n = sizeOf(x.shape);
  const yNulls = y.shape.filter((d) => d === null).length;
  if (x.rank !== 1 && yNulls > 1) throw new GradError(`y has shape ${fmtShape(y.shape)}: with more than one unknown dim the Jacobian can't be reshaped; flatten x first`, { op, shapes: [y.shape], origin: captureOrigin() });
  const basis = Tensor.zeros([n, ...x.shape], x.dtype);
  for (let i = 0; i < n; i++) basis.data[i * n + i] = 1;
  const columns = vmap((t: Sym) => jvp([y], [x], [t])[0], { outAxes: y.rank })(y.graph.constant(basis)); // [...y.shape, n]
  if (x.rank === 1) return columns;
  return api.reshape(columns, [...y.shape.map((d) => d ?? -1), ...x.shape]);
}

// ---- batching ---------------------------------------------------------------------------------

export interface VmapOptions {
  /**
   * The batch axis of each argument (negative counts from the end), or null for an argument that
   * is the same for every example. One number applies to all. Default 0.
   */
  inAxes?: number | null | readonly (number | null)[];
  /** Where the batch axis goes in each result. One number applies to all. Default 0. */
  outAxes?: number | readonly number[];
}

/**
 * Vectorizes `fn`: the returned function takes the same arguments with a batch axis added and
 * returns `fn`'s results with a batch axis added, as if `fn` ran on every example and the results
 * were stacked — built with each op's batching rule, never a loop over the examples. `fn` runs
 * once, on one example's placeholders; the nodes it builds from them are batched, and anything it
 * closes over (params, constants) is shared by every example.
 * @example
 * const perRow = vmap((row: Sym) => row.matmul(w).tanh().sum()); // fn of one [4] row
 * const y = perRow(x);                                          // x [B, 4] → y [B]
 */
export function vmap<F extends (...xs: Sym[]) => Sym | readonly Sym[]>(fn: F, opts: VmapOptions = {}): (...xs: Sym[]) => ReturnType<F> {
  const op = 'vmap';
  if (typeof fn !== 'function') throw new GraphError('vmap(fn) needs a function of symbols', { op, origin: captureOrigin() });
  return ((...args: Sym[]) => {
    checkSyms(op, 'the arguments', args);
    if (!args.length) throw new BatchError('the vmapped function needs at least one argument', { op, origin: captureOrigin() });
    const g = args[0].graph;
    checkSyms(op, 'the arguments', args, g);
    const inAxes = normalizeInAxes(opts.inAxes, args);
    const batched = args.map((_a, i) => inAxes[i] !== null);
    if (!batched.some(Boolean)) throw new BatchError('every argument has inAxes null: there is no batch to map over', { op, origin: captureOrigin() });

    // the batch size: every batched argument's dim along its axis, known or not, must agree
    let size: number | null = null;
    args.forEach((a, i) => {
      const d = inAxes[i] === null ? null : a.shape[inAxes[i]!];
      if (d === null) return;
      if (size !== null && size !== d) {
        throw new BatchError(`batch sizes disagree: ${args.map((x, j) => (inAxes[j] === null ? 'unbatched' : `${fmtShape(x.shape)} along axis ${inAxes[j]}`)).join(', ')}`, { op, shapes: args.map((x) => x.shape), origin: captureOrigin() });
      }
      size = d;
    });
    const ref = batched.indexOf(true);

    // one example's placeholders, and what stands behind them
    const mapped = new Map<number, { sym: Sym; axis: number }>();
    const examples = args.map((a, i) => {
      if (inAxes[i] === null) return a;
      const ax = inAxes[i]!;
      const shape = a.shape.filter((_d, k) => k !== ax);
      const p = placeholder(g, shape, a.dtype, () => api.squeeze(api.sliceRange(a, a.shape.map(() => 0), a.shape.map((_d, k) => (k === ax ? 1 : null))), [ax]));
      mapped.set(p.id, { sym: a, axis: ax });
      return p;
    });
    const result = fn(...examples);
    const single = result instanceof Sym;
    const outs = single ? [result] : result;
    checkSyms(op, "the function's results", outs, g);
    const outAxes = normalizeOutAxes(opts.outAxes, outs);

    for (const id of pathBetween(g, new Set(mapped.keys()), outs)) {
      if (mapped.has(id)) continue;
      const node = g.node(id);
      mapped.set(id, batchNode(g, node, mapped, size));
    }
    const results = outs.map((y, i) => {
      const m = mapped.get(y.id);
      // a result no argument reaches is the same for every example
      const b = m ?? { sym: broadcastBatch(y, size, args[ref], inAxes[ref]!), axis: 0 };
      const to = normAxis(outAxes[i], b.sym.rank);
      if (to < 0) throw new BatchError(`outAxes ${outAxes[i]} is out of range for a result of rank ${y.rank} (with the batch axis, ${y.rank + 1})`, { op, shapes: [y.shape], origin: captureOrigin() });
      return moveAxis(b.sym, b.axis, to);
    });
    return (single ? results[0] : results) as ReturnType<F>;
  }) as (...xs: Sym[]) => ReturnType<F>;
}

function normalizeInAxes(inAxes: VmapOptions['inAxes'], args: readonly Sym[]): (number | null)[] {
  const list = Array.isArray(inAxes) ? inAxes : args.map(() => (inAxes === undefined ? 0 : (inAxes as number | null)));
  if (list.length !== args.length) throw new BatchError(`inAxes has ${list.length} entries for ${args.length} arguments`, { op: 'vmap', origin: captureOrigin() });
  return list.map((a, i) => {
    if (a === null) return null;
    const n = typeof a === 'number' ? normAxis(a, args[i].rank) : -1;
    if (n < 0) throw new BatchError(`inAxes ${JSON.stringify(a)} is not an axis of argument ${i}, of shape ${fmtShape(args[i].shape)}`, { op: 'vmap', shapes: [args[i].shape], origin: captureOrigin() });
    return n;
  });
}

function normalizeOutAxes(outAxes: VmapOptions['outAxes'], outs: readonly Sym[]): number[] {
  const list = Array.isArray(outAxes) ? outAxes : outs.map(() => (outAxes === undefined ? 0 : (outAxes as number)));
  if (list.length !== outs.length) throw new BatchError(`outAxes has ${list.length} entries for ${outs.length} results`, { op: 'vmap', origin: captureOrigin() });
  if (!list.every((a) => Number.isInteger(a))) throw new BatchError(`outAxes must be integers, got ${JSON.stringify(list)}`, { op: 'vmap', origin: captureOrigin() });
  return [...list];
}

/** One node batched by its op's rule, the result checked against the node's type. */
function batchNode(g: Graph, node: Node, mapped: ReadonlyMap<number, { sym: Sym; axis: number }>, size: number | null): { sym: Sym; axis: number } {
  const def = getOp(node.op);
  const inputs = node.inputs.map((i) => mapped.get(i)?.sym ?? new Sym(g, i));
  const axes = node.inputs.map((i) => mapped.get(i)?.axis ?? null);
  const ctx = { op: node.op, scope: node.scope, origin: node.origin };
  const r = def.batch({ inputs, axes, attrs: node.attrs, node, size });
  const out = r?.out;
  if (!(out instanceof Sym) || out.graph !== g || !Number.isInteger(r.axis) || r.axis < 0 || r.axis > node.type.shape.length) {
    throw new BatchError('the batching rule returned no symbol or no valid batch axis', ctx);
  }
  const example = out.shape.filter((_d, k) => k !== r.axis);
  const b = out.shape[r.axis];
  if (out.dtype !== node.type.dtype || out.rank !== node.type.shape.length + 1 || !compatible(example, node.type.shape) || (b !== null && size !== null && b !== size)) {
    throw new BatchError(
      `the batching rule returned ${fmtType(out.node.type)} batched along axis ${r.axis} for an example of ${fmtType(node.type)} and a batch of ${size ?? '?'}`,
      { ...ctx, shapes: [out.shape, node.type.shape] },
    );
  }
  return { sym: out, axis: r.axis };
}

// ---- per-example gradients --------------------------------------------------------------------

export interface PerExampleOptions {
  /** The batch axis of each input (one number for all, null for an input shared by every example). Default 0. */
  batchAxis?: number | null | readonly (number | null)[];
}

/**
 * The gradient of `lossFn` with respect to each param, for every example of a batch at once:
 * one symbol per param, shaped `[B, ...param.shape]`. `lossFn(params, ...oneExample)` returns the
 * loss of one example as a scalar; `inputs` carry the batch along `batchAxis`. It is `vmap` of
 * `grad`, so it costs about one batched gradient step, not B of them.
 * @example
 * const [dW, db] = perExampleGrads(([w, b], x, y) => nn.softmaxCrossEntropy(x.reshape([1, -1]).matmul(w).add(b), y.reshape([1])), [w, b], [x, y]);
 */
export function perExampleGrads(lossFn: (params: Sym[], ...example: Sym[]) => Sym, params: readonly Sym[], inputs: readonly Sym[] | Sym, opts: PerExampleOptions = {}): Sym[] {
  const op = 'perExampleGrads';
  if (typeof lossFn !== 'function') throw new GraphError('perExampleGrads(lossFn, params, inputs) needs a loss function', { op, origin: captureOrigin() });
  const list = inputs instanceof Sym ? [inputs] : inputs;
  checkSyms(op, 'inputs', list);
  checkSyms(op, 'params', params);
  if (!params.length) throw new GradError('needs at least one param', { op, origin: captureOrigin() });
  const perExample = (...example: Sym[]): Sym[] => {
    const loss = lossFn([...params], ...example);
    if (!(loss instanceof Sym)) throw new GradError('lossFn must return a symbol', { op, origin: captureOrigin() });
    if (loss.rank !== 0) throw new GradError(`lossFn returned shape ${fmtShape(loss.shape)} for one example; it must return a scalar (reduce it, e.g. .sum())`, { op, shapes: [loss.shape], origin: captureOrigin() });
    return grad(loss, params);
  };
  return vmap(perExample, { inAxes: opts.batchAxis ?? 0, outAxes: 0 })(...list);
}
