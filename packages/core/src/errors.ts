import type { DType } from './dtype';
import { fmtShape, type SymShape } from './shape';

/** What an error is about: the op, the shapes and dtypes involved, the scope and the user's line. */
export interface ErrorContext {
  op?: string;
  shapes?: readonly SymShape[];
  dtypes?: readonly DType[];
  scope?: string;
  /** The user's source line that created the node, `file:line:col`. */
  origin?: string;
  /** Node id in its graph, when the error concerns a node. */
  node?: number;
}

/**
 * Base class of every error gradgraph throws on bad input. The message names the op, the shapes
 * or dtypes, the scope and the source line; the same facts are fields for programs to read.
 */
export class GradgraphError extends Error {
  readonly op?: string;
  readonly shapes?: readonly SymShape[];
  readonly dtypes?: readonly DType[];
  readonly scope?: string;
  readonly origin?: string;
  readonly node?: number;
  /** The message without the context suffix. */
  readonly detail: string;

  constructor(detail: string, ctx: ErrorContext = {}) {
    super(formatMessage(detail, ctx));
    this.name = new.target.name;
    this.detail = detail;
    this.op = ctx.op;
    this.shapes = ctx.shapes;
    this.dtypes = ctx.dtypes;
    this.scope = ctx.scope;
    this.origin = ctx.origin;
    this.node = ctx.node;
  }
}

/** Incompatible shapes, bad axes, bad reshape sizes. */
export class ShapeError extends GradgraphError {}
/** An operand of a dtype the op doesn't take. */
export class DTypeError extends GradgraphError {}
/** A feed that is missing, of the wrong dtype or shape, or names no input. */
export class FeedError extends GradgraphError {}
/** A gradient that can't be taken: non-scalar `y` without `dy`, a non-differentiable path asked for. */
export class GradError extends GradgraphError {}
/** A `vmap` that can't batch: an op without a batching rule, batch sizes that disagree, a malformed rule. */
export class BatchError extends GradgraphError {}
/** An update whose target is not a param, or whose value doesn't fit it. */
export class UpdateError extends GradgraphError {}
/** Misuse of the graph builder: duplicate names, symbols from another graph, bad attributes. */
export class GraphError extends GradgraphError {}
/** An op definition that is incomplete or clashes with an existing one. */
export class OpDefError extends GradgraphError {}
/** A document (graph JSON, checkpoint) that is corrupt or doesn't match. */
export class SerializationError extends GradgraphError {}
/** A NaN or Inf found by the guard mode, naming the first node that produced it. */
export class NonFiniteError extends GradgraphError {}
/** The IR verifier found a broken invariant. */
export class VerifyError extends GradgraphError {}

function formatMessage(detail: string, ctx: ErrorContext): string {
  const head = ctx.op ? `${ctx.op}: ${detail}` : detail;
  const parts: string[] = [];
  if (ctx.shapes && ctx.shapes.length && !detail.includes(fmtShape(ctx.shapes[0]))) {
    parts.push(`shapes ${ctx.shapes.map(fmtShape).join(', ')}`);
  }
  if (ctx.dtypes && ctx.dtypes.length && !ctx.dtypes.every((d) => detail.includes(d))) {
    parts.push(`dtypes ${ctx.dtypes.join(', ')}`);
  }
  if (ctx.scope) parts.push(`scope "${ctx.scope}"`);
  if (ctx.origin) parts.push(`at ${ctx.origin}`);
  return parts.length ? `${head}\n  (${parts.join('; ')})` : head;
}

/**
 * Refuses option names that are not in `allowed`: a typo such as `{ nanguard: true }` would
 * otherwise be ignored without a word. Throws `make(detail)` naming the unknown option and the
 * ones there are. `undefined` options are fine; anything but a plain object is refused.
 * @example checkOptionNames('compile', opts, ['outputs', 'updates'], (d) => new GraphError(d, { op: 'compile' }));
 */
export function checkOptionNames(opts: unknown, allowed: readonly string[], make: (detail: string) => GradgraphError): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw make(`options must be an object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
  for (const k of Object.keys(opts)) {
    if (allowed.includes(k)) continue;
    const near = closest(k, allowed);
    throw make(`unknown option "${k}"${near ? ` (did you mean "${near}"?)` : ''}; the options are ${allowed.join(', ')}`);
  }
}

/** The allowed name a typo most likely meant: same letters in another case, or ≤ 2 edits away. */
function closest(k: string, allowed: readonly string[]): string | undefined {
  const lower = k.toLowerCase();
  const same = allowed.find((a) => a.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestD = Math.min(2, Math.floor(k.length / 3));
  for (const a of allowed) {
    const d = editDistance(lower, a.toLowerCase());
    if (d <= bestD) [best, bestD] = [a, d - 0.5];
  }
  return best;
}

/** Edit distance with adjacent transpositions (`titel` is one edit from `title`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
