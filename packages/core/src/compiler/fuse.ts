/**
 * fuse: groups the nodes of an optimized program into kernels for the compiled backends, and
 * orders the kernels.
 *
 * - **Elementwise chains** (with broadcasts, casts, `where`, and the reshapes that keep NumPy's
 *   right-aligned broadcasting) become one loop; a reduction at the end (sum, mean, max, min over
 *   the last axis, over every axis but the last, or over everything) folds into the same loop.
 *   A producer joins the kernel of its consumer when it has the kernel's shape (then it may also
 *   be written out for other users), or when it broadcasts into it without being recomputed (it
 *   varies only along outer loops) and nothing else needs it. Kernels of the same shape that read
 *   each other's results or share an input are then merged (the value and the gradient of an
 *   elementwise function become one pass), unless that would make a cycle.
 * - **Matmul + bias + activation** become one kernel (the bias add and the activation run in the
 *   matmul's epilogue) when the product and the biased product have no other users.
 * - Row reductions (softmax, logSoftmax, logsumexp, softmax cross-entropy over the last axis),
 *   random draws and every other op are kernels of their own; ops without a generated kernel run
 *   their reference kernel.
 * - Reshapes, expandDims and squeeze are views: they share their input's storage.
 *
 * Every decision is logged (fused, or not and why). The same planner runs at compile time on the
 * symbolic shapes (open dims assumed equal when both open) and again, in the backend, on each
 * specialization's concrete shapes — so a decision is never wrong for the shapes that run.
 */
import { GraphError } from '../errors';
import type { Node, Program } from '../ir';
import { cachedTopoOrder } from '../ir';
import { capabilities, type BackendCapabilities, type Lowering, type TypeOf } from '../lowering';
import { dataInputIndices, getOp, hasOp } from '../registry';
import type { SymShape } from '../shape';
import { fmtShape } from '../shape';
import type { Tensor } from '../tensor';

export type { TypeOf } from '../lowering';

/** How the backend runs a node. */
export type NodeClass =
  | 'source' // input, param, constant: no kernel
  | 'shapeConst' // shapeSize: a constant once shapes are known
  | 'view' // reshape, expandDims, squeeze, reshapeLike: shares its input's storage
  | 'ew' // elementwise with generated code
  | 'reduce' // sum/mean/max/min over axes a fused loop can fold
  | 'matmul'
  | 'row' // last-axis softmax, logSoftmax, logsumexp, softmax cross-entropy
  | 'random'
  | 'custom' // a kernel of its own the back end makes for the node (conv, pooling)
  | 'reference'; // everything else: the op's reference kernel

/** How a reduction folds into an elementwise loop. */
export type ReduceMode = 'last' | 'leading' | 'all';

/** Kinds of kernels. `copy` stages an update value that aliases a param updated in the same run. */
export type KernelKind = 'elementwise' | 'matmul' | 'row' | 'random' | 'custom' | 'reference' | 'copy';

export interface KernelPlan {
  /** `k0`, `k1`, ... in execution order. */
  readonly name: string;
  readonly kind: KernelKind;
  /** Member nodes in topological order (for `copy`: none). */
  readonly nodes: readonly number[];
  /** Members whose values leave the kernel (written to memory), in member order. */
  readonly outputs: readonly number[];
  /** Elementwise: the iteration shape (leading 1s dropped; a reduction's input shape as is). */
  readonly shape: SymShape;
  /** Elementwise: the trailing reduction member and how it folds. */
  readonly reduce?: { readonly node: number; readonly mode: ReduceMode };
  /** Matmul: the product, its bias add and bias operand, its activation. */
  readonly matmul?: { readonly node: number; readonly biasAdd?: number; readonly bias?: number; readonly activation?: { readonly node: number; readonly op: string; readonly cond?: number } };
  /** Copy: the update value staged, and the param it is for. */
  readonly copy?: { readonly from: number; readonly param: number };
}

export interface FusionPlan {
  /** Kernels in execution order. */
  readonly kernels: readonly KernelPlan[];
  /** Node id → its class. */
  readonly classes: ReadonlyMap<number, NodeClass>;
  /** View node id → the non-view node whose storage it shares. */
  readonly aliasOf: ReadonlyMap<number, number>;
  /** Node id → index of its kernel. */
  readonly kernelOf: ReadonlyMap<number, number>;
  /** Every decision, one line each. */
  readonly decisions: readonly string[];
  /** The program's topological order and the types planned with. */
  readonly order: readonly number[];
  readonly types: TypeOf;
  /** The back end planned for. */
  readonly backend: string;
  /**
   * Node id → the lowering that runs it (`caps.loweringFor`, asked once per node by the planner):
   * absent for sources, views and nodes that run their reference kernel.
   */
  readonly lowerings: ReadonlyMap<number, Lowering>;
}

// ---- limits ----------------------------------------------------------------------------------

/** At most this many ops in one elementwise kernel, and arrays (inputs + outputs) it touches. */
export const FUSION_LIMITS = Object.freeze({ maxOps: 64, maxArrays: 24, searchBudget: 256 });

// ---- classification --------------------------------------------------------------------------

/**
 * Whether `caps`' back end can compute `op` inside a fused elementwise loop.
 * @example hasElementwiseCode('tanh', capabilities('js')) // true; hasElementwiseCode('gather', capabilities('js')) // false
 */
export function hasElementwiseCode(op: string, caps: BackendCapabilities = capabilities('js')): boolean {
  return hasOp(op) && caps.lowering(op)?.kernel === 'ew';
}

/**
 * How a reduction over `axes` of a rank-`rank` input folds into a loop, or null.
 * @example reduceMode(2, [0]) // 'leading' (a bias gradient); reduceMode(3, [1]) // null
 */
export function reduceMode(rank: number, axes: readonly number[]): ReduceMode | null {
  if (rank === 0 || axes.length === 0) return null;
  if (axes.length === rank) return 'all';
  if (axes.length === 1 && axes[0] === rank - 1) return 'last';
  if (axes.length === rank - 1 && axes.every((a, i) => a === i)) return 'leading';
  return null;
}

/**
 * The class of a node under the given types: how the back end described by `caps` runs it. Read
 * from the op's kind and traits (sources, views) and the back end's lowering of the op; an op
 * without a lowering that accepts the node runs its reference kernel.
 * @example classify(program.nodes[id], (i) => program.nodes[i].type, capabilities('js')) // 'ew', 'matmul', 'reference', ...
 */
export function classify(node: Node, types: TypeOf, caps: BackendCapabilities): NodeClass {
  return classifyWith(node, types, caps).cls;
}

/** `classify`, and the lowering that runs the node (none for sources, views and reference kernels). */
function classifyWith(node: Node, types: TypeOf, caps: BackendCapabilities): { cls: NodeClass; low?: Lowering } {
  if (!hasOp(node.op)) return { cls: 'reference' };
  const def = getOp(node.op);
  if (def.kind === 'source') return { cls: 'source' };
  // a view, or an op that is the identity when its shapes agree (a run-time sum over no broadcast dims)
  if (def.traits.view || (def.traits.identityOnSameShape && sameShape(types(dataInputs(node, 'view')[0]).shape, types(node.id).shape))) return { cls: 'view' };
  const low = caps.loweringFor(node, types);
  if (!low) return { cls: 'reference' };
  if (low.kernel === 'reduce') {
    // a loop folds a reduction over the last axis, the leading ones, or everything
    const x = types(node.inputs[0]);
    return reduceMode(x.shape.length, node.attrs.axes as number[]) ? { cls: 'reduce', low } : { cls: 'reference' };
  }
  return { cls: low.kernel, low };
}

/**
 * Which inputs of a node are read for their values (the others only lend their shape, which a
 * specialization knows before anything runs): the op's `dataInputs` trait. Reference kernels get
 * every input.
 * @example dataInputs(broadcastLikeNode, 'ew') // [x]: the reference only lends its shape
 */
export function dataInputs(node: Node, cls: NodeClass): readonly number[] {
  if (cls === 'reference' || !hasOp(node.op)) return node.inputs;
  const def = getOp(node.op);
  // (the common case, without building the index list: the planner asks this for every edge, often)
  if (def.traits.dataInputs === 'all') return node.inputs;
  const idx = dataInputIndices(def, node.inputs.length);
  return idx.length === node.inputs.length ? node.inputs : idx.map((i) => node.inputs[i]);
}

// ---- shapes ----------------------------------------------------------------------------------

/**
 * The shape with leading 1s dropped: the same elements in the same order, as broadcasting reads them.
 * @example stripLeadingOnes([1, 1, 512]) // [512]
 */
export function stripLeadingOnes(shape: SymShape): SymShape {
  let i = 0;
  while (i < shape.length && shape[i] === 1) i++;
  return i === 0 ? shape : shape.slice(i);
}

function sameShape(a: SymShape, b: SymShape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function allOnes(s: SymShape): boolean {
  return s.every((d) => d === 1);
}

/**
 * How a value of shape `s` sits in a loop over `iter` (both with leading 1s dropped): 'same' (one
 * element per iteration), 'hoisted' (it broadcasts, and varies only along outer loops, so a fused
 * loop computes each element once), or null (it would be recomputed, or does not broadcast).
 */
function placement(s: SymShape, iter: SymShape): 'same' | 'hoisted' | null {
  if (sameShape(s, iter)) return 'same';
  if (s.length > iter.length) return null;
  const pad = iter.length - s.length;
  let sawBroadcast = false;
  for (let d = 0; d < iter.length; d++) {
    const sd = d < pad ? 1 : s[d - pad];
    const id = iter[d];
    if (sd === id && sd !== 1) {
      if (sawBroadcast) return null; // it moves along a loop inside a broadcast one: recomputed
      continue;
    }
    if (sd === 1) {
      if (id !== 1) sawBroadcast = true;
      continue;
    }
    return null; // an open dim against a known one, or different sizes
  }
  return 'hoisted';
}

/** A view that keeps right-aligned broadcasting (only leading 1s change): a fusible identity. */
function alignedView(node: Node, types: TypeOf): boolean {
  const a = types(node.inputs[0]).shape;
  const b = types(node.id).shape;
  if (allOnes(a) && allOnes(b)) return true;
  const sa = stripLeadingOnes(a);
  const sb = stripLeadingOnes(b);
  return sameShape(sa, sb) && sa.filter((d) => d === null).length <= 1;
}

// ---- the planner -----------------------------------------------------------------------------

interface Group {
  kind: KernelKind;
  members: number[];
  /** The member latest in topological order (a reduction, when there is one). */
  root: number;
  /** Elementwise: the loop's shape with leading 1s dropped (for placement and merging). */
  iter: SymShape;
  /** Elementwise: the loop's shape as written (a reduction's input shape, axes and all). */
  shape: SymShape;
  reduce?: { node: number; mode: ReduceMode };
  matmul?: KernelPlan['matmul'];
  copy?: KernelPlan['copy'];
  alive: boolean;
  /** Direct dependencies between kernels (by kernel index; merged kernels are re-pointed). */
  prod: Set<number>;
  cons: Set<number>;
  /** Kernels this one reads through a view, or that read it through one: never merged with it. */
  viaView: number[];
}

const fmtId = (p: Program, id: number) => `%${id} (${p.nodes[id].op})`;

/**
 * Plans the kernels of `program` under `types` (default: the nodes' own, symbolic types).
 * @example
 * const plan = planFusion(exe.program);
 * plan.kernels.map((k) => `${k.name} ${k.kind}: ${k.nodes.join(' ')}`);
 */
export function planFusion(program: Program, types: TypeOf = (id) => program.nodes[id].type, caps: BackendCapabilities = capabilities('js')): FusionPlan {
  const planner = new FusionPlanner(program, types, caps);
  planner.matmulEpilogues();
  planner.elementwiseChains();
  planner.singleKernelsAndViews();
  planner.kernelGraph();
  planner.mergeKernels();
  planner.outputsAndDeadKernels();
  planner.stagedCopies();
  planner.schedule();
  planner.delayUpdates();
  return planner.finish();
}

/** The planner's state, and one method per phase (in the order `planFusion` runs them). */
class FusionPlanner {
  readonly order: number[];
  /** Topological position of each node id. */
  private readonly pos: Int32Array;
  readonly classes = new Map<number, NodeClass>();
  /** The lowering of each node that has one (asked once: placing kernels reads it too). */
  readonly lowerings = new Map<number, Lowering>();
  readonly decisions: string[] = [];
  /** Data users: who reads a node's value (a shape-only use needs no memory and no ordering). */
  private readonly users: number[][];
  /** 1 for outputs and update values: the end of the run reads them. */
  private readonly external: Uint8Array;
  private readonly groups: Group[] = [];
  private readonly groupOf: Int32Array;
  readonly aliasOf = new Map<number, number>();
  /** Levels of kernels for the merge phase: every edge x → y has level[x] < level[y]. */
  private level = new Float64Array(0);
  private stamp = new Int32Array(0);
  private stampNo = 0;
  private readonly inSet: Int32Array;
  private readonly touched: Int32Array;
  private setNo = 0;
  private outputs = new Map<number, number[]>();
  private kept: number[] = [];
  private copies: Group[] = [];
  private scheduled: number[] = [];

  constructor(
    readonly program: Program,
    readonly types: TypeOf,
    readonly caps: BackendCapabilities,
  ) {
    this.order = cachedTopoOrder(program); // (shared: never written)
    const n = program.nextId;
    this.pos = new Int32Array(n).fill(-1);
    this.order.forEach((id, i) => (this.pos[id] = i));
    for (const id of this.order) {
      const { cls, low } = classifyWith(program.nodes[id], types, caps);
      this.classes.set(id, cls);
      if (low) this.lowerings.set(id, low);
    }
    this.users = Array.from({ length: n }, () => []);
    for (const id of this.order) {
      for (const i of dataInputs(program.nodes[id], this.cls(id))) {
        const list = this.users[i];
        if (list[list.length - 1] !== id) list.push(id);
      }
    }
    this.external = new Uint8Array(n);
    for (const id of program.outputs) this.external[id] = 1;
    for (const [, v] of program.updates) this.external[v] = 1;
    this.groupOf = new Int32Array(n).fill(-1);
    this.inSet = new Int32Array(n);
    this.touched = new Int32Array(n);
  }

  private cls(id: number): NodeClass {
    return this.classes.get(id)!;
  }

  private name(id: number): string {
    return fmtId(this.program, id);
  }

  private baseOf(id: number): number {
    return this.aliasOf.get(id) ?? id;
  }

  private inputsOf(m: number): readonly number[] {
    return dataInputs(this.program.nodes[m], this.cls(m));
  }

  private newGroup(g: Omit<Group, 'alive' | 'prod' | 'cons' | 'viaView'>): number {
    const k = this.groups.length;
    this.groups.push({ ...g, alive: true, prod: new Set(), cons: new Set(), viaView: [] });
    for (const m of g.members) this.groupOf[m] = k;
    return k;
  }

  /** The only data user of x, or −1 (several users, or the run's end reads it). */
  private only(x: number): number {
    return this.users[x].length === 1 && !this.external[x] ? this.users[x][0] : -1;
  }

  private zeroConst(id: number): boolean {
    const node = this.program.nodes[id];
    if (node.op !== 'constant') return false;
    const t = node.attrs.value as Tensor;
    return t.size === 1 && t.data[0] === 0;
  }

  /** Matmul epilogues: a bias add, then a unary activation or relu, when nothing else reads them. */
  matmulEpilogues(): void {
    const { program, types, users, external, groupOf, decisions } = this;
    for (const id of this.order) {
      if (this.cls(id) !== 'matmul') continue;
      const members = [id];
      let matmul: NonNullable<Group['matmul']> = { node: id };
      let last = id;
      const shape = types(id).shape;
      const cols = shape[shape.length - 1];
      const u = this.only(id);
      if (u >= 0 && program.nodes[u].op === 'add' && groupOf[u] < 0) {
        const add = program.nodes[u];
        const b = add.inputs[0] === id ? add.inputs[1] : add.inputs[0];
        const bs = stripLeadingOnes(types(b).shape);
        if (b === id) decisions.push(`${this.name(id)}: bias not fused: the product is added to itself`);
        else if (bs.length === 1 && bs[0] === cols && cols !== null && types(b).shape.length <= shape.length && sameShape(types(u).shape, shape)) {
          members.push(u);
          matmul = { ...matmul, biasAdd: u, bias: b };
          last = u;
        } else decisions.push(`${this.name(id)}: ${this.name(u)} not fused as a bias: ${this.name(b)} of shape ${fmtShape(types(b).shape)} is not one row of ${fmtShape(shape)}`);
      } else if (users[id].some((x) => program.nodes[x].op === 'add') && (users[id].length > 1 || external[id])) {
        decisions.push(`${this.name(id)}: bias not fused: the product is also used by ${users[id].map((x) => this.name(x)).join(', ')}${external[id] ? ' and returned' : ''}`);
      }
      const a = this.only(last);
      if (a >= 0 && groupOf[a] < 0 && this.lowerings.get(a)?.epilogue) {
        members.push(a);
        matmul = { ...matmul, activation: { node: a, op: program.nodes[a].op } };
      } else if (users[last].length === 2 && !external[last] && users[last].every((x) => groupOf[x] < 0)) {
        // relu = where(v > 0, v, 0)
        const [c, w] = users[last].map((x) => program.nodes[x]);
        const [cond, sel] = c.op === 'greater' ? [c, w] : [w, c];
        if (cond.op === 'greater' && sel.op === 'where' && cond.inputs[0] === last && this.zeroConst(cond.inputs[1]) && sel.inputs[0] === cond.id && sel.inputs[1] === last && this.zeroConst(sel.inputs[2])) {
          if (this.only(cond.id) === sel.id) {
            members.push(cond.id, sel.id);
            matmul = { ...matmul, activation: { node: sel.id, op: 'relu', cond: cond.id } };
          } else {
            const others = users[cond.id].filter((x) => x !== sel.id);
            decisions.push(`${this.name(id)}: relu ${this.name(sel.id)} not fused: its mask ${this.name(cond.id)} is also used by ${others.length ? others.map((x) => this.name(x)).join(', ') : 'the caller'}`);
          }
        }
      }
      if (members.length > 1) {
        const parts = [`matmul ${this.name(id)}`];
        if (matmul.biasAdd !== undefined) parts.push(`bias add %${matmul.biasAdd}`);
        if (matmul.activation) parts.push(`${matmul.activation.op} %${matmul.activation.node}`);
        decisions.push(`${parts.join(' + ')} → one kernel: the epilogue runs as the product is stored`);
      }
      this.newGroup({ kind: 'matmul', members, root: members[members.length - 1], iter: [], shape: types(members[members.length - 1]).shape, matmul });
    }
  }

  /**
   * Elementwise chains, consumer first: a producer joins when only this kernel reads it (so only
   * the kernel's last node leaves it, and kernels stay acyclic; results shared between kernels
   * are merged later, where cycles are checked).
   */
  elementwiseChains(): void {
    const { program, types, users, external, groupOf, decisions, order } = this;
    const strip = (id: number) => stripLeadingOnes(types(id).shape);
    for (let i = order.length - 1; i >= 0; i--) {
      const id = order[i];
      if (groupOf[id] >= 0) continue;
      const c = this.cls(id);
      if (c !== 'ew' && c !== 'reduce') continue;
      const node = program.nodes[id];
      let shape: SymShape;
      let reduce: Group['reduce'];
      if (c === 'reduce') {
        shape = types(node.inputs[0]).shape;
        reduce = { node: id, mode: reduceMode(shape.length, node.attrs.axes as number[])! };
      } else shape = stripLeadingOnes(types(id).shape);
      const k = this.newGroup({ kind: 'elementwise', members: [id], root: id, iter: stripLeadingOnes(shape), shape, reduce });
      const g = this.groups[k];
      const reads = new Set<number>(dataInputs(node, c));
      const work = [...reads];
      while (work.length) {
        const p = work.shift()!;
        if (groupOf[p] >= 0) continue;
        const pc = this.cls(p);
        const pn = program.nodes[p];
        if (pc !== 'ew' && !(pc === 'view' && alignedView(pn, types))) continue;
        if (external[p] || users[p].some((u) => groupOf[u] !== k)) continue; // shared: considered for merging
        const where = placement(strip(p), g.iter);
        let refuse = '';
        if (!where) refuse = `its shape ${fmtShape(types(p).shape)} would be recomputed in the loop over ${fmtShape(g.iter)} (or does not broadcast to it)`;
        else if (g.members.length >= FUSION_LIMITS.maxOps) refuse = `the kernel has ${FUSION_LIMITS.maxOps} ops, its limit`;
        else if (reads.size >= FUSION_LIMITS.maxArrays) refuse = `the kernel reads ${FUSION_LIMITS.maxArrays} arrays, its limit`;
        if (refuse) {
          decisions.push(`${this.name(p)} not fused into the kernel of ${this.name(g.root)}: ${refuse}`);
          continue;
        }
        g.members.push(p);
        groupOf[p] = k;
        reads.delete(p);
        for (const x of dataInputs(pn, pc)) {
          if (groupOf[x] === k) continue;
          reads.add(x);
          work.push(x);
        }
      }
    }
  }

  /** Every other computing node is a kernel of its own; unfused views share their input's storage. */
  singleKernelsAndViews(): void {
    for (const id of this.order) {
      if (this.groupOf[id] >= 0) continue;
      const c = this.cls(id);
      if (c === 'view') {
        const base = this.program.nodes[id].inputs[0];
        this.aliasOf.set(id, this.baseOf(base));
      } else if (c === 'row' || c === 'random' || c === 'custom' || c === 'reference') {
        this.newGroup({ kind: c, members: [id], root: id, iter: [], shape: this.types(id).shape });
      }
    }
  }

  /** Edges between kernels (through views), and the pairs linked by a view (never merged). */
  kernelGraph(): void {
    const { groups, groupOf } = this;
    for (let k = 0; k < groups.length; k++) {
      for (const m of groups[k].members) {
        for (const x of this.inputsOf(m)) {
          const gx = groupOf[this.baseOf(x)];
          if (gx < 0 || gx === k) continue;
          groups[k].prod.add(gx);
          groups[gx].cons.add(k);
          if (this.aliasOf.has(x)) {
            groups[k].viaView.push(gx);
            groups[gx].viaView.push(k);
          }
        }
      }
    }
    // Until the first merge, the position of a kernel's last node is a level (a kernel's only
    // result leaves from that node); merges keep the levels consistent (see merge).
    this.level = new Float64Array(groups.length);
    for (let k = 0; k < groups.length; k++) this.level[k] = this.pos[groups[k].root];
    this.stamp = new Int32Array(groups.length);
  }

  /** After a merge raised a kernel's level: push its consumers above it, and theirs. */
  private raise(k: number): void {
    const { level, groups } = this;
    const st = [k];
    while (st.length) {
      const x = st.pop()!;
      for (const y of groups[x].cons) {
        if (level[y] <= level[x]) {
          level[y] = level[x] + 1;
          st.push(y);
        }
      }
    }
  }

  /**
   * Is there a path a → c → … → b through some third kernel c? It can only pass through kernels
   * with levels between a's and b's. Bounded: past the budget, assume there is.
   */
  private pathVia(a: number, b: number): boolean {
    const { level, groups, stamp } = this;
    if (level[a] >= level[b]) return false;
    const no = ++this.stampNo;
    const st: number[] = [];
    for (const c of groups[a].cons) if (c !== b && level[c] < level[b]) st.push(c);
    let budget = FUSION_LIMITS.searchBudget;
    while (st.length) {
      const c = st.pop()!;
      if (stamp[c] === no) continue;
      stamp[c] = no;
      if (groups[c].cons.has(b)) return true;
      if (--budget < 0) return true;
      for (const d of groups[c].cons) if (stamp[d] !== no && level[d] < level[b]) st.push(d);
    }
    return false;
  }

  /** Arrays a merged kernel would touch: what it reads from outside, and what leaves it. */
  private arraysOf(x: Group, y: Group): number {
    const { inSet, touched, program, types, external, users } = this;
    const no = ++this.setNo;
    for (const m of x.members) inSet[m] = no;
    for (const m of y.members) inSet[m] = no;
    let count = 0;
    for (const g of [x, y]) {
      for (const m of g.members) {
        for (const i of this.inputsOf(m)) {
          if (inSet[i] === no || touched[i] === no || (program.nodes[i].op === 'constant' && allOnes(types(i).shape))) continue;
          touched[i] = no;
          count++;
        }
        if (touched[m] !== no && (external[m] || users[m].some((u) => inSet[u] !== no))) {
          touched[m] = no;
          count++;
        }
      }
    }
    return count;
  }

  /** Merges kernel b into kernel a (no path between them through a third kernel). */
  private merge(a: number, b: number): void {
    const { groups, groupOf, level, pos } = this;
    const ga = groups[a];
    const gb = groups[b];
    ga.members.push(...gb.members);
    for (const m of gb.members) groupOf[m] = a;
    if (gb.reduce) {
      ga.reduce = gb.reduce;
      ga.shape = gb.shape;
    }
    if (ga.reduce) ga.root = ga.reduce.node;
    else if (pos[gb.root] > pos[ga.root]) ga.root = gb.root;
    gb.alive = false;
    for (const x of gb.prod) {
      groups[x].cons.delete(b);
      if (x !== a) {
        groups[x].cons.add(a);
        ga.prod.add(x);
      }
    }
    for (const x of gb.cons) {
      groups[x].prod.delete(b);
      if (x !== a) {
        groups[x].prod.add(a);
        ga.cons.add(x);
      }
    }
    for (const x of [a, b]) {
      ga.prod.delete(x);
      ga.cons.delete(x);
    }
    // consumers of either may sit below the merged kernel's level now
    level[a] = Math.max(level[a], level[b]);
    this.raise(a);
    for (const x of gb.viaView) {
      ga.viaView.push(x);
      const list = groups[x].viaView;
      for (let j = 0; j < list.length; j++) if (list[j] === b) list[j] = a;
    }
  }

  /** Does kernel k read the value of `node` (directly or through views)? */
  private readsValue(k: number, node: number): boolean {
    return this.groups[k].members.some((m) => this.inputsOf(m).some((x) => this.baseOf(x) === node));
  }

  /** Kernels that read one of kernel a's non-scalar inputs too. */
  private sharedInputPartners(a: number): number[] {
    const out: number[] = [];
    for (const m of this.groups[a].members) {
      for (const x of this.inputsOf(m)) {
        const b = this.baseOf(x);
        if (this.groupOf[b] === a || allOnes(this.types(b).shape) || this.users[b].length > 64) continue;
        for (const u of this.users[b]) if (this.groupOf[u] >= 0 && this.groupOf[u] !== a) out.push(this.groupOf[u]);
      }
    }
    return out;
  }

  /** Merges elementwise kernels of the same loop that read each other's results or share an input. */
  mergeKernels(): void {
    const { groups, pos, decisions } = this;
    // a pair refused once is tried again only after one of the two has grown, and never when the
    // reason is one growing cannot undo (a kernel in between may later merge away)
    const version = new Int32Array(groups.length);
    const refused = new Set<string>();
    const byPos = (x: number, y: number) => pos[groups[x].root] - pos[groups[y].root];
    for (let round = 0, changed = true; changed && round < 4; round++) {
      changed = false;
      const ew = groups.map((_, k) => k).filter((k) => groups[k].alive && groups[k].kind === 'elementwise').sort(byPos);
      for (const a of ew) {
        if (!groups[a].alive) continue;
        const cand = [...new Set([...groups[a].cons, ...groups[a].prod, ...this.sharedInputPartners(a)])]
          .filter((b) => b !== a && groups[b].kind === 'elementwise' && sameShape(groups[a].iter, groups[b].iter))
          .sort(byPos);
        for (const b of cand) {
          const ga = groups[a];
          const gb = groups[b];
          if (!gb.alive) continue;
          const forever = a < b ? `${a},${b}` : `${b},${a}`;
          const pair = a < b ? `${a}.${version[a]},${b}.${version[b]}` : `${b}.${version[b]},${a}.${version[a]}`;
          if (refused.has(forever) || refused.has(pair)) continue;
          let why = '';
          if (ga.reduce && gb.reduce) why = 'both end in a reduction';
          else if ((ga.reduce && this.readsValue(b, ga.reduce.node)) || (gb.reduce && this.readsValue(a, gb.reduce.node))) why = 'one reads the result of the other’s reduction';
          else if (ga.members.length + gb.members.length > FUSION_LIMITS.maxOps) why = `together they exceed ${FUSION_LIMITS.maxOps} ops`;
          else if (ga.viaView.includes(b)) why = 'one reads the other through a view';
          else if (this.arraysOf(ga, gb) > FUSION_LIMITS.maxArrays) why = `together they touch more than ${FUSION_LIMITS.maxArrays} arrays`;
          const final = why !== '';
          if (!why && (this.pathVia(a, b) || this.pathVia(b, a))) why = 'another kernel sits between them';
          const label = `kernels of ${this.name(ga.root)} and ${this.name(gb.root)} (loop ${fmtShape(ga.iter)})`;
          if (why) {
            if (!refused.has(`${forever}?`)) decisions.push(`${label} not merged: ${why}`);
            refused.add(final ? forever : pair);
            refused.add(`${forever}?`);
            continue;
          }
          const link = ga.cons.has(b) || ga.prod.has(b) ? 'one reads the other' : 'they read the same input';
          decisions.push(`${label} merged: ${link}, so one pass computes both`);
          this.merge(a, b);
          version[a]++;
          changed = true;
        }
      }
    }
  }

  /** What leaves each kernel; kernels whose results only lend their shapes are dropped. */
  outputsAndDeadKernels(): void {
    const { groups, groupOf, pos, external, users } = this;
    const live = groups.map((_, k) => k).filter((k) => groups[k].alive);
    for (const k of live) {
      const g = groups[k];
      g.members.sort((x, y) => pos[x] - pos[y]);
      const leaves = (m: number) => external[m] === 1 || users[m].some((u) => groupOf[u] !== k);
      this.outputs.set(k, g.kind === 'elementwise' ? g.members.filter((m) => m !== g.reduce?.node && leaves(m)) : [g.root]);
    }
    this.kept = live.filter((k) => {
      const g = groups[k];
      if (g.kind === 'reference') return true; // it may throw: it runs, as on the interpreter
      const results = g.kind === 'elementwise' ? [...this.outputs.get(k)!, ...(g.reduce ? [g.reduce.node] : [])] : [g.root];
      if (results.some((m) => external[m] === 1 || users[m].some((u) => groupOf[u] !== k))) return true;
      this.decisions.push(`kernel of ${this.name(g.root)} dropped: only the shapes of its results are used`);
      return false;
    });
  }

  /** An update value that is (a view of) a param some update writes is copied before anything runs. */
  stagedCopies(): void {
    const { program } = this;
    const targets = new Set(program.updates.map(([p]) => p));
    for (const [p, v] of program.updates) {
      const b = this.baseOf(v);
      if (program.nodes[b].op !== 'param' || !targets.has(b)) continue;
      this.copies.push({ kind: 'copy', members: [], root: v, iter: [], shape: this.types(v).shape, copy: { from: v, param: p }, alive: true, prod: new Set(), cons: new Set(), viaView: [] });
      this.decisions.push(`update of "${String(program.nodes[p].attrs.name)}": its value ${this.name(v)} is a param this run updates too, so it is copied before anything is written`);
    }
  }

  /**
   * Depth first from the outputs, then from the updates last to first: backprop computes the last
   * layer's gradients first, and visiting the updates last to first puts each gradient right
   * before the update that consumes it, so it dies early.
   */
  schedule(): void {
    const { groups, groupOf, pos, program } = this;
    const kept = new Set(this.kept);
    const state = new Uint8Array(groups.length);
    const depsOf = (k: number): number[] => [...groups[k].prod].filter((x) => kept.has(x)).sort((x, y) => pos[groups[x].root] - pos[groups[y].root]);
    const visit = (root: number) => {
      if (root < 0 || state[root] || !kept.has(root)) return;
      const st: [number, number[], number][] = [[root, depsOf(root), 0]];
      state[root] = 1;
      while (st.length) {
        const top = st[st.length - 1];
        if (top[2] < top[1].length) {
          const d = top[1][top[2]++];
          if (!state[d]) {
            state[d] = 1;
            st.push([d, depsOf(d), 0]);
          }
        } else {
          state[top[0]] = 2;
          this.scheduled.push(top[0]);
          st.pop();
        }
      }
    };
    for (const id of program.outputs) visit(groupOf[this.baseOf(id)]);
    for (let u = program.updates.length - 1; u >= 0; u--) visit(groupOf[this.baseOf(program.updates[u][1])]);
    for (const k of [...this.kept].sort((a, b) => pos[groups[a].root] - pos[groups[b].root])) visit(k);
  }

  /**
   * An update kernel whose results only the end of the run reads moves after the last kernel that
   * reads the old value of a param it updates: then the new value can be written in place.
   */
  delayUpdates(): void {
    const { groups, groupOf, program, users, scheduled } = this;
    const updateOf = new Map(program.updates.map(([p, v]) => [v, p] as const));
    const readsParams = (k: number): Set<number> => {
      const out = new Set<number>();
      for (const m of groups[k].members) for (const x of this.inputsOf(m)) if (program.nodes[this.baseOf(x)].op === 'param') out.add(this.baseOf(x));
      return out;
    };
    const paramReads = scheduled.map(readsParams);
    for (let i = scheduled.length - 1; i >= 0; i--) {
      const k = scheduled[i];
      const g = groups[k];
      if (g.kind !== 'elementwise') continue;
      const outs = this.outputs.get(k)!;
      const onlyAtEnd = outs.length > 0 && outs.every((o) => updateOf.has(o) && !program.outputs.includes(o) && users[o].every((u) => groupOf[u] === k));
      if (!onlyAtEnd) continue;
      const targets = new Set(outs.map((o) => updateOf.get(o)!));
      let last = i;
      for (let j = i + 1; j < scheduled.length; j++) if ([...paramReads[j]].some((p) => targets.has(p))) last = j;
      if (last === i) continue;
      scheduled.splice(last + 1, 0, k);
      scheduled.splice(i, 1);
      paramReads.splice(last + 1, 0, paramReads[i]);
      paramReads.splice(i, 1);
      this.decisions.push(`kernel of ${this.name(g.root)} moved after the last kernel that reads the old ${[...targets].map((p) => `"${String(program.nodes[p].attrs.name)}"`).join(', ')}, so the update can be written in place`);
    }
  }

  /** The kernel list, checked: every kernel runs after the kernels it reads from. */
  finish(): FusionPlan {
    const { program, groups } = this;
    const kernels: KernelPlan[] = [];
    const kernelOf = new Map<number, number>();
    const push = (g: Group, outs: readonly number[]) => {
      const idx = kernels.length;
      kernels.push({ name: `k${idx}`, kind: g.kind, nodes: g.members.slice(), outputs: outs.slice(), shape: g.shape, reduce: g.reduce, matmul: g.matmul, copy: g.copy });
      for (const m of g.members) kernelOf.set(m, idx);
    };
    for (const c of this.copies) push(c, []);
    for (const k of this.scheduled) push(groups[k], this.outputs.get(k)!);
    kernels.forEach((k, i) => {
      for (const m of k.nodes) {
        for (const x of this.inputsOf(m)) {
          const w = kernelOf.get(this.baseOf(x));
          // a failure here is a planner bug, not bad input
          if (w !== undefined && w > i) throw new GraphError(`fuse: kernel ${k.name} reads %${x}, which ${kernels[w].name} writes later (a planner bug)`, { op: 'fuse' });
          if (w === i && x !== this.baseOf(x)) throw new GraphError(`fuse: kernel ${k.name} reads %${x} through a view of its own result (a planner bug)`, { op: 'fuse' });
        }
      }
    });
    for (const k of kernels) {
      if (k.kind === 'elementwise' && k.nodes.length > 1) {
        const ops = k.nodes.map((m) => `${program.nodes[m].op} %${m}`).join(', ');
        this.decisions.push(`${k.name}: ${k.nodes.length} ops in one loop over ${fmtShape(k.shape)}${k.reduce ? `, ending in a ${program.nodes[k.reduce.node].op} over ${k.reduce.mode === 'all' ? 'all axes' : `the ${k.reduce.mode} axes`}` : ''}: ${ops}`);
      }
    }
    return { kernels, classes: this.classes, aliasOf: this.aliasOf, kernelOf, decisions: this.decisions, order: this.order, types: this.types, backend: this.caps.name, lowerings: this.lowerings };
  }
}
