/**
 * `einsum(spec, ...xs)`: Einstein summation, built from transposes, reshapes, reductions,
 * elementwise products and batched matmul — no primitive of its own, so its gradient (to any
 * order), its JVP and its batching come from those.
 *
 * The plan, as NumPy's and PyTorch's (operands taken left to right):
 * 1. each operand: a label repeated within it takes the diagonal (`ii->i`: Σ_j where(i = j, x, 0));
 *    labels no one else needs are summed out;
 * 2. contract the running result with the next operand: labels both have and someone later needs
 *    are batch dims, labels both have and no one needs are contracted by a matmul (the others
 *    become its rows and columns), or, when nothing is contracted, an elementwise product;
 * 3. sum what is left over and transpose to the output's order.
 *
 * Spec: letters a–z, A–Z name dims; `...` stands for the remaining dims, broadcast across operands
 * (right-aligned); without `->`, the output is `...` then the letters seen exactly once, in
 * alphabetical (ASCII) order, as in NumPy and PyTorch. A dim of 1 broadcasts against the same
 * letter's size elsewhere (PyTorch). Anything else is a `GraphError` or `ShapeError` naming the spec.
 */
import * as api from './api';
import { promote, type DType } from './dtype';
import { GraphError, ShapeError } from './errors';
import type { Sym } from './graph';
import { requireSym } from './checks';
import { cumsum } from './math';
import { captureOrigin } from './origin';
import { fmtShape, isStatic, sizeOf } from './shape';
import { Tensor } from './tensor';

/** A dim's label: a letter, or `…k` for the k-th dim of the broadcast ellipsis. */
type Label = string;

interface Term {
  x: Sym;
  labels: Label[];
}

const LETTER = /^[A-Za-z]$/;

function specError(spec: string, detail: string): GraphError {
  return new GraphError(`${detail} (spec ${JSON.stringify(spec)})`, { op: 'einsum', origin: captureOrigin() });
}

/** Splits one side of the spec into letters and at most one `...`. */
function parseTerm(spec: string, term: string): { letters: string[]; ellipsisAt: number | null } {
  const letters: string[] = [];
  let ellipsisAt: number | null = null;
  for (let i = 0; i < term.length; ) {
    if (term.startsWith('...', i)) {
      if (ellipsisAt !== null) throw specError(spec, `"${term}" has more than one "..."`);
      ellipsisAt = letters.length;
      i += 3;
      continue;
    }
    const c = term[i];
    if (!LETTER.test(c)) throw specError(spec, `"${c}" is not a letter (labels are a–z, A–Z; "..." for the remaining dims)`);
    letters.push(c);
    i++;
  }
  return { letters, ellipsisAt };
}

/** The labels of a term whose ellipsis covers `e` of the broadcast ellipsis's `width` dims (right-aligned). */
function expand(letters: readonly string[], ellipsisAt: number | null, e: number, width: number): Label[] {
  if (ellipsisAt === null) return [...letters];
  const dots = Array.from({ length: e }, (_, k) => `…${width - e + k}`);
  return [...letters.slice(0, ellipsisAt), ...dots, ...letters.slice(ellipsisAt)];
}

const isDots = (l: Label) => l.startsWith('…');

/** Orders labels for an implicit output: the ellipsis dims first, then letters by char code. */
function implicitOrder(a: Label, b: Label): number {
  if (isDots(a) !== isDots(b)) return isDots(a) ? -1 : 1;
  if (isDots(a)) return Number(a.slice(1)) - Number(b.slice(1));
  return a.charCodeAt(0) - b.charCodeAt(0);
}

/** `x` with its axes put in the order of `want` (a permutation of `have`). */
function arrange(t: Term, want: readonly Label[]): Term {
  const perm = want.map((l) => t.labels.indexOf(l));
  if (perm.every((p, i) => p === i)) return { x: t.x, labels: [...want] };
  return { x: api.transpose(t.x, perm), labels: [...want] };
}

/** `t` summed over the given labels. */
function sumOut(t: Term, labels: readonly Label[], keepDims = false): Term {
  const axes = labels.map((l) => t.labels.indexOf(l)).filter((a) => a >= 0);
  if (!axes.length) return t;
  return { x: api.sum(t.x, axes, keepDims), labels: keepDims ? t.labels : t.labels.filter((l) => !labels.includes(l)) };
}

/** The diagonal over axes p < q of `x` (equal sizes): Σ_q where(i_p = i_q, x, 0), the label kept at p. */
function diagonal(spec: string, t: Term, p: number, q: number): Term {
  const x = t.x;
  const [n, m] = [x.shape[p], x.shape[q]];
  if (n !== null && m !== null && n !== m) {
    throw new ShapeError(`label "${t.labels[p]}" is repeated on an operand of shape ${fmtShape(x.shape)} over dims of sizes ${n} and ${m} (spec ${JSON.stringify(spec)})`, { op: 'einsum', shapes: [x.shape], origin: captureOrigin() });
  }
  let eye: Sym;
  const size = n ?? m;
  if (size !== null) {
    const shape = x.shape.map((_, i) => (i === p || i === q ? size : 1));
    const t2 = new Tensor('bool', shape);
    const [sp, sq] = [shape.slice(p + 1).reduce((a, b) => a * b, 1), shape.slice(q + 1).reduce((a, b) => a * b, 1)];
    for (let i = 0; i < size; i++) t2.data[i * sp + i * sq] = 1;
    eye = x.graph.constant(t2);
  } else {
    // sizes known only at run time: compare the positions along p and along q
    const ones = api.onesLike(x, 'int32');
    eye = api.equal(cumsum(ones, p, { exclusive: true }), cumsum(ones, q, { exclusive: true }));
  }
  const masked = api.where(eye, t.x, x.graph.constant(0, x.dtype));
  return { x: api.sum(masked, [q]), labels: t.labels.filter((_, i) => i !== q) };
}

/** Reshapes `x` to `dims` (sizes or null), with −1 for the one unknown; nothing when unchanged. */
function regroup(spec: string, x: Sym, dims: readonly (number | null)[]): Sym {
  if (dims.length === x.rank && dims.every((d, i) => d === x.shape[i])) return x;
  const unknown = dims.filter((d) => d === null).length;
  if (unknown > 1) {
    throw new ShapeError(`contracting would merge dims of sizes known only at run time into ${fmtShape(dims)}; give those dims known sizes (spec ${JSON.stringify(spec)})`, { op: 'einsum', shapes: [x.shape], origin: captureOrigin() });
  }
  return api.reshape(x, dims.map((d) => d ?? -1));
}

/** The product of some dims: a number, or null when one is unknown. */
function product(dims: readonly (number | null)[]): number | null {
  return isStatic(dims) ? sizeOf(dims) : null;
}

/**
 * Einstein summation over the operands, NumPy/PyTorch semantics.
 * @example einsum('ij,jk->ik', a, b)     // matrix product
 * @example einsum('bij,bjk->bik', a, b)  // batched matrix product
 * @example einsum('ii', a)               // trace
 * @example einsum('ii->i', a)            // diagonal
 * @example einsum('i,j', u, v)           // outer product (implicit output "ij")
 * @example einsum('...ij->...ji', a)     // transpose the last two axes
 */
export function einsum(spec: string, ...xs: Sym[]): Sym {
  if (typeof spec !== 'string') throw new GraphError(`spec must be a string, got ${JSON.stringify(spec)}`, { op: 'einsum', origin: captureOrigin() });
  xs.forEach((x, i) => requireSym('einsum', x, `operand ${i}`));
  if (!xs.length) throw specError(spec, 'needs at least one operand');
  const s = spec.replace(/\s+/g, '');
  const sides = s.split('->');
  if (sides.length > 2) throw specError(spec, 'has more than one "->"');
  const inTerms = sides[0].split(',');
  if (inTerms.length !== xs.length) throw specError(spec, `names ${inTerms.length} operand${inTerms.length === 1 ? '' : 's'} but ${xs.length} ${xs.length === 1 ? 'was' : 'were'} given`);

  // ---- labels of every operand dim, with the ellipsis expanded
  const parsed = inTerms.map((t) => parseTerm(spec, t));
  const ellipsisRanks = parsed.map((p, i) => {
    const extra = xs[i].rank - p.letters.length;
    if (p.ellipsisAt === null ? extra !== 0 : extra < 0) {
      throw new ShapeError(`operand ${i} has shape ${fmtShape(xs[i].shape)} (rank ${xs[i].rank}) but "${inTerms[i]}" names ${p.letters.length} dim${p.letters.length === 1 ? '' : 's'}${p.ellipsisAt === null ? '' : ' besides "..."'} (spec ${JSON.stringify(spec)})`, {
        op: 'einsum',
        shapes: xs.map((x) => x.shape),
        origin: captureOrigin(),
      });
    }
    return p.ellipsisAt === null ? 0 : extra;
  });
  const width = Math.max(0, ...ellipsisRanks);
  const dtype: DType = (() => {
    const d = xs.map((x) => x.dtype).reduce(promote);
    return d === 'bool' ? 'int32' : d;
  })();
  const terms: Term[] = xs.map((x, i) => ({ x: api.cast(x, dtype), labels: expand(parsed[i].letters, parsed[i].ellipsisAt, ellipsisRanks[i], width) }));

  // ---- sizes: a label's known sizes other than 1 must agree
  const sizes = new Map<Label, number | null>();
  terms.forEach((t) =>
    t.labels.forEach((l, k) => {
      const d = t.x.shape[k];
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1 || (prev === null && d !== 1)) sizes.set(l, d);
      else if (d !== null && d !== 1 && prev !== null && prev !== d) {
        const what = isDots(l) ? `the dims under "..."` : `label "${l}"`;
        throw new ShapeError(`${what} ${isDots(l) ? 'do not broadcast' : `has sizes ${prev} and ${d}`} in operands of shapes ${xs.map((x) => fmtShape(x.shape)).join(', ')} (spec ${JSON.stringify(spec)})`, {
          op: 'einsum',
          shapes: xs.map((x) => x.shape),
          origin: captureOrigin(),
        });
      }
    }),
  );

  // ---- the output's labels
  const counts = new Map<Label, number>();
  for (const t of terms) for (const l of t.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let output: Label[];
  if (sides.length === 2) {
    const p = parseTerm(spec, sides[1]);
    // an output without "..." sums the ellipsis dims (PyTorch's reading)
    output = expand(p.letters, p.ellipsisAt, width, width);
    for (const l of p.letters) {
      if (!counts.has(l)) throw specError(spec, `the output's label "${l}" is on no operand`);
      if (p.letters.indexOf(l) !== p.letters.lastIndexOf(l)) throw specError(spec, `the output repeats label "${l}"`);
    }
  } else output = [...counts.keys()].filter((l) => isDots(l) || counts.get(l) === 1).sort(implicitOrder);

  // ---- 1. each operand alone: diagonals, then the labels no one else needs summed out
  const needs = (l: Label, others: readonly Term[]) => output.includes(l) || others.some((t) => t.labels.includes(l));
  let pending = terms.map((t) => {
    let cur = t;
    for (let p = 0; p < cur.labels.length; p++) {
      for (let q = cur.labels.length - 1; q > p; q--) if (cur.labels[q] === cur.labels[p]) cur = diagonal(spec, cur, p, q);
    }
    return cur;
  });
  pending = pending.map((t, i) => sumOut(t, t.labels.filter((l) => !needs(l, pending.filter((_, j) => j !== i)))));

  // ---- 2. contract left to right
  let acc = pending[0];
  for (let k = 1; k < pending.length; k++) {
    const later = pending.slice(k + 1);
    let b = pending[k];
    const laterNeeds = (l: Label) => output.includes(l) || later.some((t) => t.labels.includes(l));
    // what only one side has and no one later needs: summed out first
    acc = sumOut(acc, acc.labels.filter((l) => !b.labels.includes(l) && !laterNeeds(l)));
    b = sumOut(b, b.labels.filter((l) => !acc.labels.includes(l) && !laterNeeds(l)));
    const shared = acc.labels.filter((l) => b.labels.includes(l));
    const batch = shared.filter(laterNeeds);
    const contracted = shared.filter((l) => !laterNeeds(l));
    // a contracted label of size 1 on one side: the other side sums over it first (Σ_j a·b_j = a·Σ_j b_j)
    for (const l of contracted) {
      const [da, db] = [acc.x.shape[acc.labels.indexOf(l)], b.x.shape[b.labels.indexOf(l)]];
      if (da === 1 && db !== 1) b = sumOut(b, [l], true);
      else if (db === 1 && da !== 1) acc = sumOut(acc, [l], true);
    }
    const aOnly = acc.labels.filter((l) => !shared.includes(l));
    const bOnly = b.labels.filter((l) => !shared.includes(l));
    const dimsOf = (t: Term, ls: readonly Label[]) => ls.map((l) => t.x.shape[t.labels.indexOf(l)]);
    if (!contracted.length) {
      // no sum: an elementwise product, [batch, aOnly, 1…] · [batch, 1…, bOnly]
      const a2 = arrange(acc, [...batch, ...aOnly]);
      const b2 = arrange(b, [...batch, ...bOnly]);
      const ax = bOnly.length ? api.expandDims(a2.x, bOnly.map((_, i) => batch.length + aOnly.length + i)) : a2.x;
      const bx = aOnly.length ? api.expandDims(b2.x, aOnly.map((_, i) => batch.length + i)) : b2.x;
      acc = { x: api.mul(ax, bx), labels: [...batch, ...aOnly, ...bOnly] };
      continue;
    }
    // a matmul: [batch, M, K] @ [batch, K, N] → [batch, M, N], M, K, N the groups flattened; an
    // operand already laid out as [batch, K, M] or [batch, N, K] is read transposed, not copied
    const inOrder = (t: Term, order: readonly Label[]) => order.every((l, i) => t.labels[i] === l);
    const ta = !inOrder(acc, [...batch, ...aOnly, ...contracted]) && inOrder(acc, [...batch, ...contracted, ...aOnly]);
    const tb = !inOrder(b, [...batch, ...contracted, ...bOnly]) && inOrder(b, [...batch, ...bOnly, ...contracted]);
    const a2 = arrange(acc, ta ? [...batch, ...contracted, ...aOnly] : [...batch, ...aOnly, ...contracted]);
    const b2 = arrange(b, tb ? [...batch, ...bOnly, ...contracted] : [...batch, ...contracted, ...bOnly]);
    const [m, kk, n] = [product(dimsOf(a2, aOnly)), product(dimsOf(a2, contracted)), product(dimsOf(b2, bOnly))];
    const am = regroup(spec, a2.x, [...dimsOf(a2, batch), ...(ta ? [kk, m] : [m, kk])]);
    const bm = regroup(spec, b2.x, [...dimsOf(b2, batch), ...(tb ? [n, kk] : [kk, n])]);
    const mm = api.matmul(am, bm, { transposeA: ta, transposeB: tb });
    const outBatch = mm.shape.slice(0, batch.length);
    acc = { x: regroup(spec, mm, [...outBatch, ...dimsOf(a2, aOnly), ...dimsOf(b2, bOnly)]), labels: [...batch, ...aOnly, ...bOnly] };
  }

  // ---- 3. what the output does not have is summed; then the output's order
  acc = sumOut(acc, acc.labels.filter((l) => !output.includes(l)));
  return arrange(acc, output).x;
}
