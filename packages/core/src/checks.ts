/**
 * Operand and option checks shared by the free functions of math.ts, arrange.ts and einsum.ts:
 * each failure is a typed error naming the op and the user's line. Internal (not re-exported).
 */
import * as api from './api';
import { isFloat } from './dtype';
import { GraphError, ShapeError } from './errors';
import { Sym } from './graph';
import { captureOrigin } from './origin';
import { fmtShape, normAxis } from './shape';

/** Throws a typed error unless `x` is a symbol. */
export function requireSym(op: string, x: unknown, what = 'operand'): asserts x is Sym {
  if (x instanceof Sym) return;
  const kind = x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
  throw new GraphError(`${what} is ${kind}; pass a symbol${typeof x === 'number' ? ' (use g.constant for a number)' : ''}`, { op, origin: captureOrigin() });
}

/** `x` as a float: ints and bools become float32 (as `exp` and `mean` do). */
export function floatish(x: Sym): Sym {
  return isFloat(x.dtype) ? x : api.cast(x, 'float32');
}

/** The axes of `x` named by `axes` (all when undefined), non-negative, sorted, unique; or a typed error naming `op`. */
export function axesOf(op: string, x: Sym, axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined || axes === null) return [...Array(x.rank).keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list)) throw new ShapeError(`axes must be a number or an array of numbers, got ${JSON.stringify(axes)}`, { op, shapes: [x.shape], origin: captureOrigin() });
  const out = new Set<number>();
  for (const a of list) {
    const n = typeof a === 'number' ? normAxis(a, x.rank) : -1;
    if (n < 0) throw new ShapeError(`axis ${JSON.stringify(a)} is out of range for ${fmtShape(x.shape)} (rank ${x.rank})`, { op, shapes: [x.shape], origin: captureOrigin() });
    out.add(n);
  }
  return [...out].sort((p, q) => p - q);
}

/** One axis of `x`, non-negative; or a typed error naming `op`. */
export function axisOf(op: string, x: Sym, axis: number): number {
  const a = typeof axis === 'number' ? normAxis(axis, x.rank) : -1;
  if (a < 0) throw new ShapeError(`axis ${JSON.stringify(axis)} is out of range for ${fmtShape(x.shape)} (rank ${x.rank})`, { op, shapes: [x.shape], origin: captureOrigin() });
  return a;
}

/** Checks an options object for keys `op` does not know (a misspelt option is an error, not a no-op). */
export function checkOptions(op: string, opts: object | undefined, known: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw new GraphError(`options must be an object, got ${JSON.stringify(opts)}`, { op, origin: captureOrigin() });
  const bad = Object.keys(opts).filter((k) => !known.includes(k));
  if (bad.length) throw new GraphError(`unknown option${bad.length > 1 ? 's' : ''} ${bad.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ')})`, { op, origin: captureOrigin() });
}
