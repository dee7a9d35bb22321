/**
 * Tables of named columns, read from CSV text (RFC 4180: quoted fields, doubled quotes, line
 * breaks inside quotes, CRLF) or from JSON records, and turned into a Dataset: numeric columns as
 * they are, categorical ones one-hot encoded, missing values refused or dropped — explicitly.
 */
import { readFileSync } from 'node:fs';
import { Tensor } from '@gradgraph/core';
import { Dataset, dataset, tooLarge, type FloatDType } from './dataset';
import { DataError, checkOptionKeys, fmtValue } from './errors';

const CSV_OPTIONS = ['delimiter', 'header', 'columns', 'missingValues', 'types'];
const TABLE_OPTIONS = ['target', 'features', 'ignore', 'task', 'classNames', 'missing', 'categorical', 'name', 'dtype'];

/** A column of numbers; `NaN` where the value is missing. */
export interface NumericColumn {
  name: string;
  kind: 'numeric';
  values: Float64Array;
  /** Rows (0-based) where the value is missing. */
  missing: number[];
}

/** A column of text; `null` where the value is missing. */
export interface CategoricalColumn {
  name: string;
  kind: 'categorical';
  values: (string | null)[];
  /** The distinct values, sorted. */
  categories: string[];
  missing: number[];
}

export type Column = NumericColumn | CategoricalColumn;

/** Named columns of equal length. `lines[i]` is the 1-based text line where row i starts (CSV). */
export interface Table {
  columns: Column[];
  numRows: number;
  lines?: Int32Array;
}

/** How to read CSV text. */
export interface CsvOptions {
  /** Field separator, one character; default `,`. */
  delimiter?: string;
  /** The first line holds column names; default true. Without a header, columns are `c0, c1, ...` (or `columns`). */
  header?: boolean;
  /** Column names when there is no header line. */
  columns?: readonly string[];
  /** Tokens that mean "missing" (after trimming unquoted fields); default `'', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', '?'`. */
  missingValues?: readonly string[];
  /** Force a column's kind; otherwise a column is numeric when all its present values are numbers. */
  types?: Readonly<Record<string, 'numeric' | 'categorical'>>;
}

export const DEFAULT_MISSING: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', '?'];

// a decimal number, or ±inf/Infinity (which are numbers, but refused later as non-finite)
const NUMBER = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|Inf|Infinity)$/;

function toNumber(s: string): number {
  return /inf/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s);
}

interface RawRow {
  fields: string[];
  quoted: boolean[];
  line: number;
}

/** Splits CSV text into rows of raw fields (RFC 4180). */
function tokenize(text: string, delimiter: string): RawRow[] {
  const op = 'parseCsv';
  const rows: RawRow[] = [];
  let fields: string[] = [];
  let quoted: boolean[] = [];
  let field = '';
  let isQuoted = false;
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let atFieldStart = true;
  let rowHasContent = false;
  const endField = () => {
    fields.push(isQuoted ? field : field.trim());
    quoted.push(isQuoted);
    field = '';
    isQuoted = false;
    atFieldStart = true;
  };
  const endRow = () => {
    endField();
    // a blank line is skipped (not a row of one missing value)
    if (rowHasContent || fields.length > 1 || quoted[0]) rows.push({ fields, quoted, line: rowLine });
    fields = [];
    quoted = [];
    rowHasContent = false;
  };
  while (i < text.length) {
    const ch = text[i];
    if (atFieldStart && ch === '"') {
      // quoted field: up to the closing quote; "" is a literal quote; line breaks are data
      isQuoted = true;
      field = ''; // spaces before the opening quote are not data
      rowHasContent = true;
      const startLine = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new DataError(`unterminated quoted field: no closing quote after the one opened here`, { op, line: startLine });
        const c = text[i];
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
        field += c;
        i++;
      }
      atFieldStart = false;
      while (text[i] === ' ' || text[i] === '\t') i++;
      const next = text[i];
      if (i < text.length && next !== delimiter && next !== '\n' && next !== '\r') {
        throw new DataError(`unexpected ${JSON.stringify(next)} after a closing quote (a quote inside a quoted field must be doubled: "")`, { op, line });
      }
      continue;
    }
    if (ch === delimiter) {
      endField();
      rowHasContent = true;
      i++;
    } else if (ch === '\n' || ch === '\r') {
      endRow();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      rowLine = line;
    } else {
      if (ch !== ' ' && ch !== '\t') {
        rowHasContent = true;
        atFieldStart = false;
      }
      field += ch;
      i++;
    }
  }
  if (rowHasContent || fields.length > 0 || field !== '') endRow();
  return rows;
}

/**
 * Parses CSV text into a {@link Table}. Quoted fields may hold delimiters, doubled quotes and line
 * breaks; unquoted fields are trimmed; blank lines are skipped. A column is numeric when all its
 * present values are numbers, categorical otherwise (force either with `types`). A row with too
 * few or too many fields is a DataError naming its row, line and column.
 *
 * @example
 * const t = data.parseCsv('name,height\n"Smith, J",1.82\nLee,NA\n');
 * t.columns[1]; // { name: 'height', kind: 'numeric', values: Float64Array [1.82, NaN], missing: [1] }
 */
export function parseCsv(text: string, opts: CsvOptions = {}): Table {
  return parse(text, opts, 'parseCsv', CSV_OPTIONS);
}

function parse(text: string, opts: CsvOptions, op: string, allowed: readonly string[]): Table {
  checkOptionKeys(op, opts, allowed);
  if (typeof text !== 'string') throw new DataError(`expects CSV text (a string), got ${fmtValue(text)}`, { op });
  const delimiter = opts.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new DataError(`delimiter must be one character other than a quote or a line break, got ${fmtValue(delimiter)}`, { op });
  }
  const missingTokens = new Set(opts.missingValues ?? DEFAULT_MISSING);
  const raw = tokenize(text, delimiter);
  const header = opts.header ?? true;
  let names: string[];
  let body: RawRow[];
  if (header) {
    if (raw.length === 0) throw new DataError('no header line: the text is empty', { op });
    names = raw[0].fields.map((f, j) => (f === '' ? `c${j}` : f));
    body = raw.slice(1);
  } else {
    const width = opts.columns?.length ?? raw[0]?.fields.length ?? 0;
    names = opts.columns ? [...opts.columns] : Array.from({ length: width }, (_, j) => `c${j}`);
    body = raw;
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new DataError(`duplicate column name ${JSON.stringify(name)} in the header`, { op, line: header ? raw[0].line : undefined });
    seen.add(name);
  }
  const d = names.length;
  body.forEach((r, i) => {
    if (r.fields.length !== d) {
      const detail =
        r.fields.length < d
          ? `ragged row: ${r.fields.length} fields, the header has ${d} columns; this column and the ones after it are missing`
          : `ragged row: ${r.fields.length} fields, the header has ${d} columns; ${r.fields.length - d} extra after column ${JSON.stringify(names[d - 1])}`;
      throw new DataError(detail, { op, row: i, line: r.line, column: r.fields.length < d ? names[r.fields.length] : undefined });
    }
  });
  if (opts.types) {
    for (const k of Object.keys(opts.types)) {
      if (!seen.has(k)) throw new DataError(`types names a column ${JSON.stringify(k)} that is not in the header (${names.join(', ')})`, { op });
      const t = opts.types[k];
      if (t !== 'numeric' && t !== 'categorical') throw new DataError(`types.${k} must be 'numeric' or 'categorical', got ${fmtValue(t)}`, { op });
    }
  }
  const n = body.length;
  const lines = Int32Array.from(body, (r) => r.line);
  const columns = names.map((name, j): Column => {
    const cells = body.map((r) => (missingTokens.has(r.fields[j]) ? null : r.fields[j]));
    const missing: number[] = [];
    cells.forEach((c, i) => c === null && missing.push(i));
    let kind = opts.types?.[name];
    if (!kind) {
      let numeric = 0;
      let text = 0;
      let firstText = -1;
      cells.forEach((c, i) => {
        if (c === null) return;
        if (NUMBER.test(c)) numeric++;
        else if (text++ === 0) firstText = i;
      });
      if (text > 0 && numeric >= 2 * text) {
        // mostly numbers: a stray word is likelier a typo than a category
        throw new DataError(
          `value ${JSON.stringify(cells[firstText])} is not a number, but ${numeric} of the column's ${numeric + text} values are; fix the value, add it to missingValues, or pass types: { ${JSON.stringify(name)}: 'categorical' }`,
          { op, row: firstText, line: lines[firstText], column: name },
        );
      }
      kind = text > 0 ? 'categorical' : 'numeric';
    }
    if (kind === 'numeric') {
      const values = new Float64Array(n);
      cells.forEach((c, i) => {
        if (c === null) values[i] = NaN;
        else if (NUMBER.test(c)) values[i] = toNumber(c);
        else throw new DataError(`value ${JSON.stringify(c)} is not a number (the column is numeric)`, { op, row: i, line: lines[i], column: name });
      });
      return { name, kind, values, missing };
    }
    const categories = [...new Set(cells.filter((c): c is string => c !== null))].sort();
    return { name, kind, values: cells, categories, missing };
  });
  return { columns, numRows: n, lines };
}

/**
 * A {@link Table} from JSON records (objects keyed by column name), as many data packages ship
 * them. `null`, `undefined` and `NaN` are missing values; a column is numeric when all its
 * present values are numbers.
 *
 * @example
 * const t = data.tableFromRecords([{ a: 1, b: 'x' }, { a: null, b: 'y' }]);
 * t.columns[0].missing; // [1]
 */
export function tableFromRecords(records: readonly Record<string, unknown>[], columns?: readonly string[]): Table {
  const op = 'tableFromRecords';
  if (!Array.isArray(records)) throw new DataError(`expects an array of records, got ${fmtValue(records)}`, { op });
  const names = columns ? [...columns] : [...new Set(records.flatMap((r) => Object.keys(r ?? {})))];
  const n = records.length;
  const cols = names.map((name): Column => {
    const cells = records.map((r, i) => {
      if (r === null || typeof r !== 'object') throw new DataError(`is ${fmtValue(r)}, not a record`, { op, row: i });
      const v = r[name];
      return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? null : v;
    });
    const missing: number[] = [];
    cells.forEach((c, i) => c === null && missing.push(i));
    if (cells.every((c) => c === null || typeof c === 'number')) {
      return { name, kind: 'numeric', values: Float64Array.from(cells, (c) => (c === null ? NaN : (c as number))), missing };
    }
    const values = cells.map((c, i) => {
      if (c === null || typeof c === 'string') return c;
      if (typeof c === 'number' || typeof c === 'boolean') return String(c);
      throw new DataError(`value is ${fmtValue(c)}, not a number or a string`, { op, row: i, column: name });
    });
    return { name, kind: 'categorical', values, categories: [...new Set(values.filter((c): c is string => c !== null))].sort(), missing };
  });
  return { columns: cols, numRows: n };
}

/** How to turn a table into a Dataset. */
export interface TableDatasetOptions {
  /** The label/target column; omit for unlabeled data. */
  target?: string;
  /** Feature columns, in order; default every column but the target and `ignore`. */
  features?: readonly string[];
  /** Columns to leave out of the default features (e.g. an id or a free-text name). */
  ignore?: readonly string[];
  /** `classification` (class labels) or `regression` (numbers); default: classification for a categorical target, regression for a numeric one. */
  task?: 'classification' | 'regression';
  /** The classes in index order (classification); default the sorted distinct values of the target. */
  classNames?: readonly string[];
  /**
   * What a missing value in a used column (a feature or the target) does: `'error'` (default)
   * throws a DataError naming the first one; `'drop'` drops those rows and records which in
   * `notes` (`rowIds` keep the original row numbers).
   */
  missing?: 'error' | 'drop';
  /** Categorical features: `'oneHot'` (default; columns `name=value`) or `'codes'` (the category's index as a number). */
  categorical?: 'oneHot' | 'codes';
  name?: string;
  dtype?: FloatDType;
}

/** Where row i of a table is, for errors. */
function at(table: Table, i: number): { row: number; line?: number } {
  return table.lines ? { row: i, line: table.lines[i] } : { row: i };
}

/**
 * A {@link Dataset} from a table: numeric feature columns as they are, categorical ones one-hot
 * encoded (or as codes), the target as class labels or regression targets. Missing values are
 * refused or their rows dropped (`missing`), never silently filled; a non-finite number or a label
 * outside `classNames` is a DataError naming the row (and line) and the column.
 *
 * @example
 * const table = data.parseCsv(readFileSync('penguins.csv', 'utf8'));
 * const ds = data.tableToDataset(table, { target: 'species', ignore: ['island'], missing: 'drop' });
 */
export function tableToDataset(table: Table, opts: TableDatasetOptions = {}): Dataset {
  checkOptionKeys('tableToDataset', opts, TABLE_OPTIONS);
  return toDataset(table, opts, 'tableToDataset');
}

/** {@link tableToDataset}, with the name of the public function for errors. */
export function toDataset(table: Table, opts: TableDatasetOptions, op: string): Dataset {
  if (!table || !Array.isArray(table.columns)) throw new DataError(`expects a Table (from parseCsv or tableFromRecords), got ${fmtValue(table)}`, { op });
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const columnNames = table.columns.map((c) => c.name).join(', ');
  const get = (name: string, what: string): Column => {
    const c = byName.get(name);
    if (!c) throw new DataError(`no ${what} column ${JSON.stringify(name)}; the columns are ${columnNames}`, { op });
    return c;
  };
  const target = opts.target === undefined ? undefined : get(opts.target, 'target');
  for (const name of opts.ignore ?? []) get(name, 'ignored');
  const ignore = new Set(opts.ignore ?? []);
  const features = (opts.features ?? table.columns.map((c) => c.name).filter((nm) => nm !== opts.target && !ignore.has(nm))).map((nm) => get(nm, 'feature'));
  if (target && features.includes(target)) throw new DataError(`column ${JSON.stringify(target.name)} is both the target and a feature`, { op });
  const missingPolicy = opts.missing ?? 'error';
  if (missingPolicy !== 'error' && missingPolicy !== 'drop') throw new DataError(`missing must be 'error' or 'drop', got ${fmtValue(missingPolicy)}`, { op });
  const encoding = opts.categorical ?? 'oneHot';
  if (encoding !== 'oneHot' && encoding !== 'codes') throw new DataError(`categorical must be 'oneHot' or 'codes', got ${fmtValue(encoding)}`, { op });
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new DataError(`dtype must be 'float32' or 'float64', got ${fmtValue(dtype)}`, { op });

  // missing values in the used columns: refuse (naming the first), or drop their rows and say so
  const used = target ? [...features, target] : features;
  const withMissing = used.filter((c) => c.missing.length > 0);
  if (withMissing.length && missingPolicy === 'error') {
    const first = Math.min(...withMissing.map((c) => c.missing[0]));
    const col = withMissing.find((c) => c.missing[0] === first)!;
    throw new DataError(`missing value (pass missing: 'drop' to drop the rows with missing values)`, { op, ...at(table, first), column: col.name });
  }
  const dropped = new Set(withMissing.flatMap((c) => c.missing));
  const keep: number[] = [];
  for (let i = 0; i < table.numRows; i++) if (!dropped.has(i)) keep.push(i);

  // features
  const featureNames: string[] = [];
  const columnsOut: ((i: number) => number)[] = [];
  for (const c of features) {
    if (c.kind === 'numeric') {
      featureNames.push(c.name);
      columnsOut.push((i) => c.values[i]);
    } else if (encoding === 'codes') {
      const index = new Map(c.categories.map((v, k) => [v, k]));
      featureNames.push(c.name);
      columnsOut.push((i) => index.get(c.values[i]!)!);
    } else {
      for (const v of c.categories) {
        featureNames.push(`${c.name}=${v}`);
        columnsOut.push((i) => (c.values[i] === v ? 1 : 0));
      }
    }
  }
  const d = featureNames.length;
  const x: number[][] = keep.map((i) => {
    const row = new Array<number>(d);
    for (let j = 0; j < d; j++) {
      const v = columnsOut[j](i);
      const problem = Number.isFinite(v) ? tooLarge(v, dtype) : `value is ${v}`;
      if (problem) throw new DataError(problem, { op, ...at(table, i), column: featureNames[j] });
      row[j] = v;
    }
    return row;
  });

  // target
  let y: Tensor | number[] | undefined;
  let classNames: string[] | undefined;
  if (target) {
    const task = opts.task ?? (target.kind === 'categorical' || opts.classNames ? 'classification' : 'regression');
    if (task !== 'classification' && task !== 'regression') throw new DataError(`task must be 'classification' or 'regression', got ${fmtValue(task)}`, { op });
    if (task === 'regression') {
      if (target.kind !== 'numeric') throw new DataError(`a regression target must be numeric; ${JSON.stringify(target.name)} holds text (e.g. ${JSON.stringify(target.categories[0])})`, { op });
      y = keep.map((i) => {
        const v = target.values[i];
        const problem = Number.isFinite(v) ? tooLarge(v, dtype) : `value is ${v}`;
        if (problem) throw new DataError(problem, { op, ...at(table, i), column: target.name });
        return v;
      });
    } else {
      const label = (i: number) => (target.kind === 'numeric' ? String(target.values[i]) : target.values[i]!);
      classNames = opts.classNames
        ? [...opts.classNames]
        : target.kind === 'numeric'
          ? [...new Set(keep.map((i) => target.values[i]))].sort((a, b) => a - b).map(String)
          : [...new Set(keep.map(label))].sort();
      const index = new Map(classNames.map((c, k) => [c, k]));
      const labels = new Int32Array(keep.length);
      keep.forEach((i, r) => {
        const k = index.get(label(i));
        if (k === undefined) throw new DataError(`label ${JSON.stringify(label(i))} is not one of the classes ${classNames!.join(', ')}`, { op, ...at(table, i), column: target.name });
        labels[r] = k;
      });
      y = new Tensor('int32', [keep.length], labels);
    }
  }

  const notes: string[] = [];
  if (dropped.size) {
    const shown = [...dropped].sort((a, b) => a - b);
    const list = shown.slice(0, 20).join(', ') + (shown.length > 20 ? ', ...' : '');
    const why = withMissing.map((c) => `${c.name}: ${c.missing.length}`).join(', ');
    notes.push(`dropped ${dropped.size} of ${table.numRows} rows with a missing value (${why}); rows ${list}`);
  }
  return dataset({
    x: x.length ? x : new Tensor(opts.dtype ?? 'float32', [0, d]),
    y,
    featureNames,
    classNames,
    labelName: target?.name,
    targetNames: target && !classNames ? [target.name] : undefined,
    name: opts.name,
    notes,
    rowIds: keep,
    dtype: opts.dtype,
  });
}

/** {@link CsvOptions} and {@link TableDatasetOptions} together. */
export type CsvDatasetOptions = CsvOptions & TableDatasetOptions;

/**
 * Parses CSV text and builds a Dataset in one go: {@link parseCsv} then {@link tableToDataset}.
 *
 * @example
 * const ds = data.csvDataset('x1,x2,label\n0.5,1,a\n0.1,2,b\n', { target: 'label' });
 * ds.classNames; // ['a', 'b']
 */
export function csvDataset(text: string, opts: CsvDatasetOptions = {}): Dataset {
  return toDataset(parse(text, opts, 'csvDataset', [...CSV_OPTIONS, ...TABLE_OPTIONS]), opts, 'csvDataset');
}

/** What {@link loadCsv} takes: the CSV and Dataset options, and the file's encoding. */
export type LoadCsvOptions = CsvDatasetOptions & {
  /**
   * `'utf8'` (default): a byte sequence that is not UTF-8 is a DataError naming its line (it
   * would otherwise become U+FFFD, silently changing the text); `'latin1'` (ISO-8859-1) reads
   * every byte as one character, as older spreadsheet exports need.
   */
  encoding?: 'utf8' | 'latin1';
};

/**
 * Reads a CSV file into a Dataset (Node only). Named after the file unless `name` is given.
 * UTF-8 by default, checked: a file that is not UTF-8 is refused, naming the first bad line
 * (pass `encoding: 'latin1'` for ISO-8859-1 files); a byte-order mark is skipped.
 *
 * @example
 * const ds = data.loadCsv('data/houses.csv', { target: 'price', ignore: ['id'], missing: 'drop' });
 * const old = data.loadCsv('data/export.csv', { target: 'région', encoding: 'latin1' });
 */
export function loadCsv(path: string, opts: LoadCsvOptions = {}): Dataset {
  const op = 'loadCsv';
  checkOptionKeys(op, opts, [...CSV_OPTIONS, ...TABLE_OPTIONS, 'encoding']);
  const { encoding = 'utf8', ...rest } = opts;
  if (encoding !== 'utf8' && encoding !== 'latin1') throw new DataError(`encoding must be 'utf8' or 'latin1', got ${fmtValue(encoding)}`, { op });
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`cannot read ${JSON.stringify(path)}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`, { op });
  }
  let text: string;
  if (encoding === 'latin1') text = bytes.toString('latin1');
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const at = Math.min(firstInvalidUtf8(bytes), bytes.length - 1);
      const line = bytes.subarray(0, at).reduce((n, b) => n + (b === 0x0a ? 1 : 0), 1);
      throw new DataError(`${JSON.stringify(path)} is not UTF-8: byte 0x${bytes[at].toString(16).padStart(2, '0')} at offset ${at} is not part of a UTF-8 character (a Latin-1 file? pass encoding: 'latin1')`, { op, line });
    }
  }
  return toDataset(parse(text, rest, op, [...CSV_OPTIONS, ...TABLE_OPTIONS]), { name: path.split(/[\\/]/).pop(), ...rest }, op);
}

/** The offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629). */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    // no overlong forms, no surrogates, nothing past U+10FFFF
    const d = b[i + 1];
    if ((c === 0xe0 && d < 0xa0) || (c === 0xed && d > 0x9f) || (c === 0xf0 && d < 0x90) || (c === 0xf4 && d > 0x8f)) return i;
    i += n + 1;
  }
  return b.length;
}
