/**
 * Helpers the forward-mode (JVP) and batching (vmap) rules of the primitives in this folder share:
 * re-applying a node's op to new inputs, moving a batch axis, and lining batched operands up for
 * NumPy broadcasting.
 */
import * as api from '../api';
import type { Sym } from '../graph';
import type { Attrs, Node } from '../ir';

/** The op of `node` applied again, to new inputs, with (a change of) its normalized attributes. */
export function reapply(node: Node, inputs: readonly Sym[], attrs: Attrs = node.attrs): Sym {
  return inputs[0].graph.apply(node.op, inputs, attrs);
}

/**
 * `x` with axis `from` moved to position `to`, the others in order (nothing when they are equal).
 * @example moveAxis(x, 2, 0) // [a, b, B] → [B, a, b]
 */
export function moveAxis(x: Sym, from: number, to: number): Sym {
  if (from === to) return x;
  const perm = [...Array(x.rank).keys()].filter((i) => i !== from);
  perm.splice(to, 0, from);
  return api.transpose(x, perm);
}

/**
 * The operands of a broadcasting op under vmap, lined up so the op applies as it is: each batched
 * operand gets its batch axis first and then the example's leading 1s made explicit (to rank
 * `exampleRank + 1`); unbatched operands stay, and broadcast against every example from the right
 * as they would against one. The result's batch axis is 0.
 * @example alignBatched([x, w], [1, null], 2) // x: [3, B] → [B, 1, 3]; w: [4, 3] as it is
 */
export function alignBatched(inputs: readonly Sym[], axes: readonly (number | null)[], exampleRank: number): Sym[] {
  return inputs.map((x, i) => {
    const b = axes[i];
    if (b === null) return x;
    const front = moveAxis(x, b, 0);
    const missing = exampleRank - (x.rank - 1);
    return missing > 0 ? api.expandDims(front, Array.from({ length: missing }, (_, k) => 1 + k)) : front;
  });
}

/** A per-example axis `a` as an axis of the value batched along `b`. */
export const shiftAxis = (a: number, b: number): number => (a < b ? a : a + 1);

/**
 * `x` moved one step along `axis`, the vacated end filled with 0: `dir = 1` gives out_k = x_{k−1}
 * (out_0 = 0), `dir = −1` gives out_k = x_{k+1} (0 at the end). A slice and a pad, so dims known
 * only at run time are fine.
 * @example shiftAlong(x, 0, 1) // [a, b, c] → [0, a, b]
 */
export function shiftAlong(x: Sym, axis: number, dir: 1 | -1): Sym {
  if (x.shape[axis] === 0) return x;
  const begin = x.shape.map(() => 0);
  const end: (number | null)[] = x.shape.map(() => null);
  const pads = x.shape.map((): [number, number] => [0, 0]);
  if (dir === 1) {
    end[axis] = -1;
    pads[axis] = [1, 0];
  } else {
    begin[axis] = 1;
    pads[axis] = [0, 1];
  }
  return api.pad(api.sliceRange(x, begin, end), pads);
}

/** The sum of tangent terms, skipping zeros (null); null when every term is zero. */
export function addTangents(...terms: (Sym | null)[]): Sym | null {
  const live = terms.filter((t): t is Sym => t !== null);
  return live.length ? api.addN(live) : null;
}
