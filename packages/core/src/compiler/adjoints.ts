/**
 * Rebuilding the adjoints of a region a stability rule replaces.
 *
 * `grad` builds the backward graph before compiling, from the VJPs of the ops as written: the
 * adjoint of log(softmax(x)) written from exp, sum and div still computes e^1000 after stabilize
 * has turned the forward into logSoftmax(x). So when a rule with `rederive` replaces a region R
 * (its root and the nodes its pattern matched, down to the leaves its variables bound) by a
 * stable expression S, this hook replaces R's contribution to each leaf's gradient by S's VJP:
 *
 *  1. R's backward nodes are the live nodes with `adjointOf` = R's root; the inputs they read
 *     from outside R are the candidates for A, the adjoint of R's root (the cotangent).
 *  2. For a candidate A, the VJPs of R's ops as written are run on a copy of R (a scratch graph,
 *     with `grad` itself), giving each leaf's contribution U_x(A); that expression is copied into
 *     the program and brought to the program's normal form by the pass's own rules (`settle`).
 *     When it lands on an existing node c_x, hash-consing has proved c_x = U_x(A): c_x is R's
 *     contribution to x, for this A. (Otherwise the backward graph was not built that way — the
 *     region's inner values also feed other nodes, say — and nothing is rewritten.)
 *  3. S's VJP is run the same way (a scratch graph holding S, `grad` with dy = A) and copied in;
 *     c_x is replaced by it. Both compute Jᵀ·A for the same region at the same A, so every id
 *     keeps its value; the new nodes are marked as adjoints of S's nodes, so a later rule that
 *     replaces S in turn (softmax → logSoftmax → softmax cross-entropy) rebuilds them again.
 *
 * The rewrite is counted under the rule's name on backward nodes, so explain() shows it.
 */
import { grad } from '../autodiff';
import { isFloat } from '../dtype';
import { Graph, type Sym } from '../graph';
import type { Node } from '../ir';
import { RewriteLog, settle, type RegionRewrite } from './rules';
import type { Work } from './work';
import type { Tensor } from '../tensor';

/** Regions and replacements larger than this are left alone (patterns are a few nodes deep). */
const MAX_REGION = 64;
/** Candidates for the root's adjoint tried per region. */
const MAX_CANDIDATES = 6;

type Meta = Pick<Node, 'scope' | 'origin' | 'adjointOf'>;

/** The nodes from `root` down to (not including) `stop`, inputs before users; null if too many or a source is reached. */
function regionBelow(work: Work, root: number, stop: ReadonlySet<number>, forbid: ReadonlySet<number> = new Set()): number[] | null {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (id: number): boolean => {
    if (seen.has(id) || stop.has(id)) return true;
    if (forbid.has(id) || seen.size >= MAX_REGION) return false;
    seen.add(id);
    const node = work.node(id);
    if (node.op === 'constant') {
      order.push(id);
      return true;
    }
    if (node.inputs.length === 0) return false; // an input or param the pattern did not bind
    if (!node.inputs.every(visit)) return false;
    order.push(id);
    return true;
  };
  return visit(root) ? order : null;
}

/**
 * A scratch graph holding a copy of `nodes` (in order) over inputs standing for `leaves` and for
 * the cotangent: returns the graph, the copy of each program node, and the cotangent's input.
 */
function replica(work: Work, nodes: readonly number[], leaves: readonly number[], root: number) {
  const g = new Graph();
  const copy = new Map<number, Sym>();
  leaves.forEach((id, k) => {
    if (copy.has(id)) return;
    const n = work.node(id);
    copy.set(id, n.op === 'constant' ? g.constant(n.attrs.value as Tensor) : g.input(`leaf${k}`, n.type.shape, n.type.dtype));
  });
  for (const id of nodes) {
    if (copy.has(id)) continue;
    const n = work.node(id);
    copy.set(id, n.op === 'constant' ? g.constant(n.attrs.value as Tensor) : g.apply(n.op, n.inputs.map((i) => copy.get(i)!), n.attrs));
  }
  const r = work.node(root).type;
  const dy = g.input('adjoint', r.shape, r.dtype);
  return { g, copy, dy };
}

/**
 * Copies the scratch node `id` (and what it needs) into the program. Scratch nodes that stand for
 * program nodes map to them; the rest are made with `work.make` (hash-consed: an equal node that
 * exists is reused). New nodes take `meta`, with `adjointOf` mapped from the scratch graph's.
 */
function copyBack(work: Work, g: Graph, id: number, map: Map<number, number>, meta: Meta): number {
  const stack = [id];
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (map.has(top)) {
      stack.pop();
      continue;
    }
    const n = g.node(top);
    const pending = n.inputs.filter((i) => !map.has(i));
    if (pending.length) {
      stack.push(...pending);
      continue;
    }
    stack.pop();
    if (n.op === 'input') throw new Error(`scratch input %${top} has no program node`);
    const adjointOf = n.adjointOf !== undefined ? (map.get(n.adjointOf) ?? meta.adjointOf) : meta.adjointOf;
    const m: Meta = { scope: meta.scope, origin: meta.origin, adjointOf };
    map.set(top, n.op === 'constant' ? work.constant(n.attrs.value as Tensor, m) : work.make(n.op, n.inputs.map((i) => map.get(i)!), n.attrs, m));
  }
  return map.get(id)!;
}

/** The program ids of the scratch nodes that stand for program nodes. */
function reverseMap(copy: ReadonlyMap<number, Sym>, dy: Sym, a: number): Map<number, number> {
  const map = new Map<number, number>();
  for (const [id, s] of copy) map.set(s.id, id);
  map.set(dy.id, a);
  return map;
}

/** The hook: see the module comment. */
export function rederiveAdjoints({ work, index, rule, root, leaves, rep, log }: RegionRewrite): void {
  const leafSet = new Set(leaves);
  const region = regionBelow(work, root, leafSet);
  if (!region) return;
  const inRegion = new Set(region);
  const live = work.order();
  const rootType = work.node(root).type;
  const backward = live.filter((id) => work.node(id).adjointOf === root);
  if (!backward.length) return;

  // the leaves that can have a gradient
  const wrt = [...new Set(leaves)].filter((id) => work.splat(id) === undefined && isFloat(work.node(id).type.dtype));
  if (!wrt.length) return;

  // candidates for the adjoint of the root: what its backward nodes read from outside the region
  const fits = (n: Node) => n.type.dtype === rootType.dtype && n.type.shape.length === rootType.shape.length && n.type.shape.every((d, i) => d === null || rootType.shape[i] === null || d === rootType.shape[i]);
  const candidates: number[] = [];
  for (const b of backward) {
    for (const i of work.node(b).inputs) {
      if (inRegion.has(i) || leafSet.has(i) || candidates.includes(i) || !fits(work.node(i))) continue;
      candidates.push(i);
    }
  }
  if (!candidates.length) return;

  // the contributions as written: grad over a copy of the region
  const written = replica(work, region, leaves, root);
  const leafSyms = wrt.map((id) => written.copy.get(id)!);
  let unstable: Sym[];
  try {
    unstable = grad(written.copy.get(root)!, leafSyms, written.dy);
  } catch {
    return;
  }

  const liveSet = new Set(live);
  const scratch = new RewriteLog();
  const meta: Meta = { scope: work.node(root).scope, origin: work.node(root).origin, adjointOf: root };
  const mark = work.created.length;
  let found: { a: number; contributions: Map<number, number> } | null = null;
  for (const a of candidates.slice(0, MAX_CANDIDATES)) {
    const map = reverseMap(written.copy, written.dy, a);
    const start = work.created.length;
    let copies: number[];
    try {
      copies = unstable.map((u) => (u.id === written.dy.id ? a : copyBack(work, written.g, u.id, map, meta)));
    } catch {
      continue; // the copy does not type in the program: not this candidate
    }
    const first = work.created[start];
    if (first !== undefined) settle(work, index, (id) => id >= first, scratch);
    const contributions = new Map<number, number>();
    copies.forEach((c, k) => {
      const id = work.resolve(c);
      const existing = first === undefined || id < first;
      if (existing && liveSet.has(id) && !inRegion.has(id) && !leafSet.has(id) && id !== a) contributions.set(wrt[k], id);
    });
    if (contributions.size) {
      found = { a, contributions };
      break;
    }
  }
  // what the checks built is dead unless it proved something; the engine need not revisit it
  work.created.splice(mark);
  if (!found) return;

  // the replacement's VJP: grad over a copy of the replacement, with the same adjoint
  const repNodes = regionBelow(work, rep, leafSet, inRegion);
  if (!repNodes) return;
  const stable = replica(work, repNodes, leaves, root);
  const targets = [...found.contributions.keys()];
  let gradients: Sym[];
  try {
    gradients = grad(stable.copy.get(rep)!, targets.map((id) => stable.copy.get(id)!), stable.dy);
  } catch {
    return;
  }
  const map = reverseMap(stable.copy, stable.dy, found.a);
  targets.forEach((x, k) => {
    const c = found!.contributions.get(x)!;
    const cn = work.node(c);
    const s = gradients[k];
    let id: number;
    try {
      id = s.id === stable.dy.id ? found!.a : copyBack(work, stable.g, s.id, map, { scope: cn.scope, origin: cn.origin, adjointOf: cn.adjointOf });
    } catch {
      return;
    }
    if (work.resolve(id) === work.resolve(c) || work.node(id).type.dtype !== cn.type.dtype) return;
    if (!sameShape(work.node(id).type.shape, cn.type.shape)) return;
    log.record(rule.name, cn.adjointOf !== undefined ? cn : { ...cn, adjointOf: root });
    work.replace(c, id);
  });
}

function sameShape(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
