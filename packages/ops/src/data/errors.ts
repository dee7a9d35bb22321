import { captureOrigin, GradgraphError, registerLibraryPath } from '@gradgraph/core';
import { fmtValue } from '../format';

export { fmtValue };

// this folder is library code even when imported directly: errors point at the caller's line
registerLibraryPath(new URL('.', import.meta.url).href);

/** Where in a data set a problem is: a 0-based data row, a column name, a 1-based file line. */
export interface DataErrorContext {
  /** The function that found the problem (`dataset`, `parseCsv`, `loadCars`, ...). */
  op: string;
  /** 0-based row of the data (not counting a CSV header). */
  row?: number;
  /** The column's name (or `"#j"` when the columns have no names). */
  column?: string;
  /** 1-based line of the text a row came from (CSV). */
  line?: number;
}

/**
 * Bad data or a bad data option: a NaN, a missing value, a label outside the classes, a ragged
 * row, a split that leaves a part empty. The message names the row and the column; the same facts
 * are fields (`row`, `column`, `line`) for programs to read.
 *
 * @example
 * try { data.dataset({ x: [[1, 2], [3]] }); } catch (e) {
 *   if (e instanceof data.DataError) console.log(e.row, e.column); // 1 "x1"
 * }
 */
export class DataError extends GradgraphError {
  readonly row?: number;
  readonly column?: string;
  readonly line?: number;

  constructor(detail: string, ctx: DataErrorContext) {
    super(locate(ctx) + detail, { op: ctx.op, origin: captureOrigin() });
    this.row = ctx.row;
    this.column = ctx.column;
    this.line = ctx.line;
  }
}

/** `row 3 (line 5), column "Horsepower": ` — the prefix that says where. */
function locate(ctx: DataErrorContext): string {
  const parts: string[] = [];
  if (ctx.row !== undefined) parts.push(ctx.line !== undefined ? `row ${ctx.row} (line ${ctx.line})` : `row ${ctx.row}`);
  else if (ctx.line !== undefined) parts.push(`line ${ctx.line}`);
  if (ctx.column !== undefined) parts.push(`column ${JSON.stringify(ctx.column)}`);
  return parts.length ? `${parts.join(', ')}: ` : '';
}

/**
 * Rejects option names that are not in `allowed` (a typo such as `{ batchsize: 32 }` would
 * otherwise be ignored), naming the unknown one and the ones there are.
 */
export function checkOptionKeys(op: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new DataError(`options must be an object, got ${fmtValue(opts)}`, { op });
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new DataError(`unknown option "${k}"; expected one of ${allowed.join(', ')}`, { op });
}

/** Checks an option is an integer in [min, max]; names the option in the error. */
export function checkInt(op: string, name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    throw new DataError(`${name} must be ${range}, got ${fmtValue(v)}`, { op });
  }
  return v;
}

