/**
 * `Work`: the mutable working copy of a program that a pass edits, and the node builder rules use.
 *
 * A pass copies the program into a `Work`, edits it freely (new nodes, redirected uses), and then
 * `finish()` applies the net difference to the original program with immer, so the pass's
 * patches record exactly what changed. Two invariants make rewriting safe:
 *
 * - **an id names a value**: `replace(a, b)` is only called when `a` and `b` compute the same
 *   value, and moves every use of `a` to `b`. Users keep their ids (their inputs change, their
 *   values don't), so node ids mean the same thing before and after every pass.
 * - **nodes are hash-consed**: `make` returns the existing node for an equal (op, inputs, attrs,
 *   dtype), and when a redirect makes two nodes equal they are merged on the spot. Commutative ops
 *   key their inputs unordered. So `σ(−x)` built by a rule *is* the `σ(−x)` the VJP made, and
 *   patterns that name one node twice see it.
 */
import { castDraft, freeze, type Patch } from 'immer';
import { GradgraphError, GraphError } from '../errors';
import { nodeKey as sharedNodeKey } from '../key';
import { rewriteProgram, type Attrs, type Node, type Program, type Rewritten, type TypeInfo } from '../ir';
import { getOp, hasOp, type ConcreteType } from '../registry';
import { isStatic, sizeOf, type Shape } from '../shape';
import { Tensor } from '../tensor';

/** Operands can be swapped without changing a bit of the result (the op's `commutative` trait). */
export function isCommutative(op: string): boolean {
  return hasOp(op) && getOp(op).traits.commutative;
}

/** A leaf whose value the executor supplies (an op of kind `source`: input, param, constant). */
export function isSourceOp(op: string): boolean {
  return hasOp(op) && getOp(op).kind === 'source';
}

/** Random nodes draw fresh numbers per run: never merged, never folded. */
export function isRandomOp(op: string): boolean {
  return hasOp(op) && getOp(op).kind === 'random';
}

/** Largest constant (in elements) that folding may create when its inputs are smaller. */
export const FOLD_LIMIT = 1024;

/**
 * The hash-consing key of a node: the builder's key (`key.ts`, exact for every float), with the
 * inputs of commutative ops unordered. Null for nodes that must stay unique: random nodes and
 * large constants.
 */
export function nodeKey(op: string, inputs: readonly number[], attrs: Attrs, dtype: string): string | null {
  if (isRandomOp(op)) return null;
  const ins = isCommutative(op) && inputs.length === 2 && inputs[0] > inputs[1] ? [inputs[1], inputs[0]] : inputs;
  return sharedNodeKey(op, ins, attrs, dtype);
}

const keyCache = new WeakMap<Node, string | null>();

/** `nodeKey` of a node, cached: nodes are immutable, so their key never changes. */
export function keyOf(node: Node): string | null {
  let key = keyCache.get(node);
  if (key === undefined) keyCache.set(node, (key = nodeKey(node.op, node.inputs, node.attrs, node.type.dtype)));
  return key;
}

/** True when every element of a float tensor is finite (ints and bools always are). */
export function allFinite(t: Tensor): boolean {
  if (t.dtype === 'int32' || t.dtype === 'bool') return true;
  for (let i = 0; i < t.size; i++) if (!Number.isFinite(t.data[i])) return false;
  return true;
}

/**
 * Evaluates `op` on constant inputs with its reference kernel, as the interpreter would at run
 * time — so folding changes no bit. Undefined when the op can't be folded here: sources and
 * random ops, a result too large to store (a broadcast of a small constant stays a broadcast),
 * or a kernel that throws (the error belongs to run time, with its context).
 */
export function evalConstant(op: string, inputs: readonly Tensor[], attrs: Attrs, node: Node): Tensor | undefined {
  if (isSourceOp(op) || isRandomOp(op) || !hasOp(op)) return undefined;
  const def = getOp(op);
  try {
    const t = def.infer(inputs, attrs);
    if (!isStatic(t.shape)) return undefined;
    const limit = Math.max(FOLD_LIMIT, ...inputs.map((x) => x.size));
    if (sizeOf(t.shape) > limit) return undefined;
    const out: ConcreteType = { dtype: t.dtype, shape: t.shape as Shape };
    const r = def.kernel(inputs, attrs, { out, node });
    return r instanceof Tensor && r.dtype === out.dtype && r.shape.length === out.shape.length && r.shape.every((d, i) => d === out.shape[i]) ? r : undefined;
  } catch {
    return undefined;
  }
}

type Meta = Pick<Node, 'scope' | 'origin' | 'adjointOf'>;

/**
 * A mutable working copy of a program, for passes that are not rule tables. See the module
 * comment for its invariants.
 * @example
 * const dropCasts = definePass('dropCasts', 'float casts to the same type', (p) => {
 *   const w = new Work(p);
 *   for (const id of w.order()) { const n = w.node(id); if (n.op === 'cast' && w.node(n.inputs[0]).type.dtype === n.type.dtype) w.replace(id, n.inputs[0]); }
 *   return w.finish();
 * });
 */
export class Work {
  readonly base: Program;
  // by node id (ids are dense below `next`)
  private readonly nodes: (Node | undefined)[] = [];
  private readonly users: (number[] | undefined)[] = [];
  private readonly keys: (string | null | undefined)[] = [];
  /** For a replaced id, what replaced it. */
  private readonly forward: (number | undefined)[] = [];
  private readonly splats: (number | null | undefined)[] = [];
  private readonly cons = new Map<string, number>();
  outputs: number[];
  updates: [number, number][];
  private next: number;
  /** Notes for `explain()`: things a pass wants the user to know. */
  readonly notes: string[] = [];
  /** Every node added, in order (the engine revisits what a rewrite created). */
  readonly created: number[] = [];

  constructor(program: Program) {
    this.base = program;
    this.next = program.nextId;
    const all = Object.values(program.nodes);
    for (const node of all) this.nodes[node.id] = node;
    for (const node of all) {
      for (const i of node.inputs) this.addUser(i, node.id);
      this.index(node);
    }
    this.outputs = [...program.outputs];
    this.updates = program.updates.map(([p, v]) => [p, v]);
  }

  private addUser(id: number, user: number): void {
    const list = this.users[id];
    if (!list) this.users[id] = [user];
    else if (!list.includes(user)) list.push(user);
  }

  /** Enters `node` in the cons table unless an equal node is there already. */
  private index(node: Node): void {
    const key = keyOf(node);
    this.keys[node.id] = key;
    if (key !== null && !this.cons.has(key)) this.cons.set(key, node.id);
  }

  node(id: number): Node {
    const n = this.nodes[id];
    if (!n) throw new GraphError(`no node %${id} in the program being rewritten`, { op: 'compile' });
    return n;
  }

  has(id: number): boolean {
    return this.nodes[id] !== undefined;
  }

  /** True once `id` has been replaced by another node. */
  isReplaced(id: number): boolean {
    return this.forward[id] !== undefined;
  }

  /** The node that now stands for `id` (itself unless replaced). */
  resolve(id: number): number {
    let r = id;
    while (this.forward[r] !== undefined) r = this.forward[r]!;
    return r;
  }

  private live: Uint8Array | null = null;
  /** Ids `make` returned since the last `setLive`: new nodes, or old ones brought back by reuse. */
  private readonly touched = new Set<number>();

  /** Marks the live nodes (the engine does this at the start of every sweep). */
  setLive(ids: readonly number[]): void {
    this.live = new Uint8Array(this.next);
    for (const id of ids) this.live[id] = 1;
    this.touched.clear();
  }

  /**
   * How many uses `id` has: users live at the last `setLive` or made since, plus outputs and
   * update values naming it. Conservative: a user that died since still counts.
   */
  useCount(id: number): number {
    let n = 0;
    for (const o of this.outputs) if (o === id) n++;
    for (const [, v] of this.updates) if (v === id) n++;
    for (const u of this.users[id] ?? []) if (!this.live || this.live[u] === 1 || this.touched.has(u)) n++;
    return n;
  }

  /** The nodes that use `id` as an input. */
  usersOfNode(id: number): readonly number[] {
    return this.users[id] ?? [];
  }

  /** The existing node equal to (op, inputs, attrs, dtype), if any. */
  lookup(op: string, inputs: readonly number[], attrs: Attrs, dtype: string): number | undefined {
    const key = nodeKey(op, inputs, attrs, dtype);
    if (key === null) return undefined;
    const hit = this.cons.get(key);
    return hit === undefined || this.forward[hit] !== undefined ? undefined : hit;
  }

  /** Adds a fully formed node (a pass that builds nodes itself); returns its id. */
  add(op: string, inputs: readonly number[], attrs: Attrs, type: TypeInfo, meta: Meta): number {
    const id = this.next++;
    const node: Node = freeze(
      {
        id,
        op,
        inputs: [...inputs],
        attrs,
        type: { dtype: type.dtype, shape: [...type.shape] },
        scope: meta.scope,
        origin: meta.origin,
        ...(meta.adjointOf !== undefined ? { adjointOf: meta.adjointOf } : {}),
      },
      true,
    );
    this.nodes[id] = node;
    for (const i of inputs) this.addUser(i, id);
    this.index(node);
    this.created.push(id);
    return id;
  }

  /**
   * The node `op(inputs)` with `rawAttrs` normalized and its type inferred by the op's own rules,
   * reusing an equal node when one exists. All-constant inputs fold to a constant right away.
   * New nodes take scope, source line and adjoint mark from `meta` (the node being rewritten).
   * Throws the op's ShapeError/DTypeError when the inputs don't fit (a rule bug).
   */
  make(op: string, inputs: readonly number[], rawAttrs: Attrs, meta: Meta): number {
    const def = getOp(op);
    const ins = inputs.map((i) => this.node(i));
    const types = ins.map((n) => n.type);
    const ar = def.arity;
    const n = inputs.length;
    if (typeof ar === 'number' ? n !== ar : n < ar.min || (ar.max !== undefined && n > ar.max)) {
      throw new GraphError(`a rewrite built ${op} with ${n} inputs`, { op });
    }
    let attrs: Attrs;
    let type: TypeInfo;
    try {
      attrs = freeze(def.attrs(rawAttrs, types), true);
      type = def.infer(types, attrs);
    } catch (e) {
      // name the op and shapes, as Graph.apply does for the user's nodes
      if (!(e instanceof GradgraphError) || e.op) throw e;
      const Ctor = e.constructor as new (d: string, c: object) => GradgraphError;
      throw new Ctor(e.detail, { op, shapes: types.map((t) => t.shape), dtypes: types.map((t) => t.dtype) });
    }
    if (n > 0 && ins.every((x) => x.op === 'constant')) {
      const draft: Node = { id: -1, op, inputs, attrs, type, scope: meta.scope, origin: meta.origin };
      const value = evalConstant(op, ins.map((x) => x.attrs.value as Tensor), attrs, draft);
      if (value) return this.constant(value, meta);
    }
    const id = this.lookup(op, inputs, attrs, type.dtype) ?? this.add(op, inputs, attrs, type, meta);
    this.touched.add(id);
    return id;
  }

  /** A constant node holding `value` (shared with an equal small constant). */
  constant(value: Tensor, meta: Meta): number {
    const attrs = freeze({ value }, false);
    const type = { dtype: value.dtype, shape: [...value.shape] };
    const id = this.lookup('constant', [], attrs, value.dtype) ?? this.add('constant', [], attrs, type, meta);
    this.touched.add(id);
    return id;
  }

  /**
   * The value of a "splat" — a constant whose elements are all equal — seen through the ops that
   * only move or copy it (broadcast, reshape, expandDims, squeeze). Undefined otherwise.
   */
  splat(id: number): number | undefined {
    const memo = this.splats[id];
    if (memo !== undefined) return memo ?? undefined;
    const node = this.node(id);
    let v: number | undefined;
    if (node.op === 'constant') {
      const t = node.attrs.value as Tensor;
      if (t.size > 0 && !Number.isNaN(t.data[0]) && t.data.every((x) => x === t.data[0])) v = t.data[0];
    } else if (['broadcastTo', 'broadcastLike', 'reshape', 'reshapeLike', 'expandDims', 'squeeze'].includes(node.op)) {
      v = this.splat(node.inputs[0]);
    }
    this.splats[id] = v ?? null;
    return v;
  }

  /**
   * Moves every use of `old` (node inputs, outputs, update values) to `rep`, which must compute
   * the same value. Users that become equal to an existing node are merged into it in turn.
   */
  replace(old: number, rep: number): void {
    const queue: [number, number][] = [[old, rep]];
    while (queue.length) {
      const [a, b0] = queue.shift()!;
      if (this.forward[a] !== undefined) continue;
      const b = this.resolve(b0);
      if (a === b) continue;
      this.forward[a] = b;
      const ka = this.keys[a];
      if (ka != null && this.cons.get(ka) === a) this.cons.delete(ka);
      for (const u of this.users[a] ?? []) {
        const un = this.node(u);
        const next: Node = freeze({ ...un, inputs: un.inputs.map((i) => (i === a ? b : i)) }, true);
        this.nodes[u] = next;
        this.addUser(b, u);
        const ku = this.keys[u];
        if (ku != null && this.cons.get(ku) === u) this.cons.delete(ku);
        const key = keyOf(next);
        this.keys[u] = key;
        if (key === null) continue;
        const hit = this.cons.get(key);
        if (hit !== undefined && hit !== u && this.forward[hit] === undefined) queue.push([u, hit]);
        else this.cons.set(key, u);
      }
      this.users[a] = undefined;
      for (let i = 0; i < this.outputs.length; i++) if (this.outputs[i] === a) this.outputs[i] = b;
      for (const pair of this.updates) if (pair[1] === a) pair[1] = b;
    }
  }

  /** Live node ids (reachable from outputs and updates), inputs before users. */
  order(): number[] {
    const order: number[] = [];
    const state = new Uint8Array(this.next); // 1 on the stack, 2 done
    const ids: number[] = [];
    const pos: number[] = [];
    const roots = [...this.outputs, ...this.updates.flatMap(([p, v]) => [p, v])];
    for (const root of roots) {
      if (state[root] === 2) continue;
      ids.push(root);
      pos.push(0);
      state[root] = 1;
      while (ids.length) {
        const top = ids.length - 1;
        const node = this.node(ids[top]);
        if (pos[top] < node.inputs.length) {
          const child = node.inputs[pos[top]++];
          const s = state[child];
          if (s === 1) throw new GraphError(`a rewrite made a cycle through node %${child}`, { op: 'compile' });
          if (s === 0) {
            state[child] = 1;
            ids.push(child);
            pos.push(0);
          }
        } else {
          state[ids[top]] = 2;
          order.push(ids[top]);
          ids.pop();
          pos.pop();
        }
      }
    }
    return order;
  }

  /**
   * The rewritten program: the live nodes only, written onto the original with immer so the
   * patches hold the net change (a node whose inputs moved is patched at `nodes/<id>/inputs`).
   */
  finish(): Rewritten {
    const live = this.order();
    const liveSet = new Set(live);
    const base = this.base;
    let nextId = base.nextId;
    for (const id of live) if (id >= nextId) nextId = id + 1;
    const sameList = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    const sameUpdates = this.updates.length === base.updates.length && this.updates.every(([p, v], i) => p === base.updates[i][0] && v === base.updates[i][1]);
    // nothing changed: skip immer's copy of the node record
    if (nextId === base.nextId && live.length === Object.keys(base.nodes).length && live.every((id) => base.nodes[id] === this.nodes[id]) && sameList(base.outputs, this.outputs) && sameUpdates) {
      return { program: base, patches: [], inversePatches: [] };
    }
    return rewriteProgram(base, (draft) => {
      for (const key of Object.keys(base.nodes)) if (!liveSet.has(Number(key))) delete draft.nodes[Number(key)];
      for (const id of live) {
        const n = this.nodes[id]!;
        const b = base.nodes[id];
        if (b === n) continue;
        if (!b) draft.nodes[id] = castDraft(n);
        else if (b.op === n.op && b.attrs === n.attrs && b.type === n.type && b.scope === n.scope && b.origin === n.origin && b.adjointOf === n.adjointOf) {
          if (!sameList(b.inputs, n.inputs)) draft.nodes[id].inputs = n.inputs as number[];
        } else draft.nodes[id] = castDraft(n);
      }
      if (!sameList(base.outputs, this.outputs)) draft.outputs = this.outputs;
      if (!sameUpdates) draft.updates = this.updates.map(([p, v]) => [p, v] as const);
      if (nextId !== base.nextId) draft.nextId = nextId;
    });
  }
}

/** The patches of a pass that returned a program without going through `Work` (user passes). */
export function diffPrograms(before: Program, after: Program): { patches: Patch[]; inversePatches: Patch[] } {
  const r = rewriteProgram(before, (draft) => {
    for (const key of Object.keys(before.nodes)) if (!(key in after.nodes)) delete draft.nodes[Number(key)];
    for (const key of Object.keys(after.nodes)) {
      const id = Number(key);
      if (before.nodes[id] !== after.nodes[id]) draft.nodes[id] = castDraft(after.nodes[id]);
    }
    if (before.outputs !== after.outputs) draft.outputs = [...after.outputs];
    if (before.updates !== after.updates) draft.updates = after.updates.map(([p, v]) => [p, v] as const);
    if (before.nextId !== after.nextId) draft.nextId = after.nextId;
  });
  return { patches: r.patches, inversePatches: r.inversePatches };
}
