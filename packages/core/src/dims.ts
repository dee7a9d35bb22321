/**
 * Which run-time dims are provably equal. A dim declared `null` is known only at run time, and
 * two `null`s are not the same dim: `a: [null]` and `b: [null]` may be fed `[4]` and `[1]`. The
 * gradient needs to know when two open dims *are* the same, or it must sum at run time.
 *
 * Every dim gets a term: its size when known, else the name of a run-time dim. A source's open
 * dim is a fresh name (`%3:0`: dim 0 of node 3). An elementwise op's open dim takes the name its
 * inputs agree on — every input that has that (right-aligned) dim either is statically 1 there or
 * carries that same name — so `x > 0`, `where(x > 0, x, 0)` and `2·x` keep `x`'s names. A built-in
 * reduction keeps the names of the dims it does not reduce (`mean(x, -1, keepDims)` has `x`'s batch
 * dim; `softmax(x)` all of `x`'s). Any other op's open dims are fresh names. Equal names therefore
 * mean equal sizes at run time; different names mean nothing.
 */
import type { Node } from './ir';
import { getOp, hasOp } from './registry';

/** A known size, or the name of a dim known only at run time. */
export type DimTerm = number | string;

/**
 * The terms of a node's dims. `nodeOf` reads nodes by id (a graph's or a program's); `memo` caches
 * terms per id (nodes are immutable, and a rewrite only ever swaps a node for one of equal value,
 * so cached terms stay true).
 */
export function dimTerms(nodeOf: (id: number) => Node, id: number, memo: Map<number, DimTerm[]>): DimTerm[] {
  const hit = memo.get(id);
  if (hit) return hit;
  // iterative post-order: graphs can be deep
  const stack = [id];
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (memo.has(top)) {
      stack.pop();
      continue;
    }
    const node = nodeOf(top);
    const pending = elementwise(node) ? node.inputs.filter((i) => !memo.has(i)) : reduction(node) && !memo.has(node.inputs[0]) ? [node.inputs[0]] : [];
    if (pending.length) {
      stack.push(...pending);
      continue;
    }
    stack.pop();
    memo.set(top, termsOf(node, (i) => memo.get(i)!, nodeOf));
  }
  return memo.get(id)!;
}

/** Ops registered by users (`defineOp`): their reductions' attributes are not taken on trust. */
const userOps = new Set<string>();

/** Marks an op as user-defined (called by `defineOp`). */
export function markUserOp(name: string): void {
  userOps.add(name);
}

/** True for ops registered with `defineOp`. */
export function isUserOp(name: string): boolean {
  return userOps.has(name);
}

function elementwise(node: Node): boolean {
  return node.inputs.length > 0 && node.type.shape.includes(null) && hasOp(node.op) && getOp(node.op).kind === 'elementwise';
}

/** A built-in reduction of its first input whose kept dims can be read off its attributes. */
function reduction(node: Node): boolean {
  return node.inputs.length > 0 && node.type.shape.includes(null) && hasOp(node.op) && getOp(node.op).kind === 'reduction' && !userOps.has(node.op) && reducedAxes(node) !== null;
}

/**
 * The axes of input 0 a reduction removes or keeps as 1, and whether it keeps them: from
 * `axes`/`axis` and `keepDims`; an op with `axis` and no `keepDims` whose output has its input's
 * rank (softmax) reduces nothing away. Null when the attributes don't say.
 */
function reducedAxes(node: Node): { axes: number[]; keep: boolean } | null {
  const a = node.attrs;
  const keep = a.keepDims === true;
  if (Array.isArray(a.axes) && a.axes.every((x) => Number.isInteger(x))) return { axes: a.axes as number[], keep };
  if (Number.isInteger(a.axis)) return 'keepDims' in a ? { axes: [a.axis as number], keep } : { axes: [], keep: true };
  return null;
}

function termsOf(node: Node, inputTerms: (id: number) => DimTerm[], nodeOf: (id: number) => Node): DimTerm[] {
  const shape = node.type.shape;
  const fresh = (i: number) => `%${node.id}:${i}`;
  if (reduction(node)) {
    const { axes, keep } = reducedAxes(node)!;
    const inTerms = inputTerms(node.inputs[0]);
    const kept = inTerms.flatMap((t, j) => (axes.includes(j) ? (keep ? [1] : []) : [t]));
    if (kept.length !== shape.length) return shape.map((d, i) => d ?? fresh(i));
    return shape.map((d, i) => d ?? (typeof kept[i] === 'string' ? kept[i] : fresh(i)));
  }
  if (!elementwise(node)) return shape.map((d, i) => d ?? fresh(i));
  const rank = shape.length;
  const ins = node.inputs.map((i) => ({ rank: nodeOf(i).type.shape.length, terms: inputTerms(i) }));
  // the output must be the broadcast of the inputs (true of every elementwise op but customGrad,
  // whose value is its last input: when that input has the output's rank it is covered too)
  if (ins.some((x) => x.rank > rank)) return shape.map((d, i) => d ?? fresh(i));
  return shape.map((d, i) => {
    if (d !== null) return d;
    let name: DimTerm | undefined;
    for (const x of ins) {
      const j = i - (rank - x.rank);
      if (j < 0) continue;
      const t = x.terms[j];
      if (t === 1) continue;
      if (name === undefined) name = t;
      else if (name !== t) return fresh(i);
    }
    return typeof name === 'string' ? name : fresh(i);
  });
}

/** Terms of a graph's nodes, cached per graph object. */
const caches = new WeakMap<object, Map<number, DimTerm[]>>();

/** `dimTerms` with a cache kept per owner (a `Graph`, a `Work`). */
export function dimTermsOf(owner: object, nodeOf: (id: number) => Node, id: number): DimTerm[] {
  let memo = caches.get(owner);
  if (!memo) caches.set(owner, (memo = new Map()));
  return dimTerms(nodeOf, id, memo);
}
