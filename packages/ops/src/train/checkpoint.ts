/**
 * Checkpoints: one JSON file that holds everything needed to continue a run exactly or to
 * predict exactly as when it was saved —
 *
 * - every trainable param and every piece of non-trainable state (optimizer moments and step
 *   counter, batchNorm running statistics), as core's tensor documents (base64 of the
 *   little-endian bytes, so values round-trip bit for bit);
 * - the RNG run counter (`g.rngCounter`), which keys every dropout mask;
 * - the data iterator's position (epoch, batch) and its settings (seed, batch size, ...);
 * - the preprocessing fits (data's scaler objects), so new inputs get the training scaling;
 * - the fit loop's state (history, partial-epoch accumulators, callbacks' state) when `fit` saved it;
 * - a manifest: a hash of the graph's structure, the seed, the user's config, the optimizer and
 *   the library version.
 *
 * Loading checks the document, then checks every name, shape and dtype (and the graph hash and
 * seed) against the graph, and only then writes: a corrupt or mismatched checkpoint is refused
 * with a `CheckpointError` and the graph keeps its values.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Graph, MAX_STRING_CHARS, SerializationError, Sym, Tensor, base64Chars, checkJsonDepth, decodeTensor, encodeTensor, fmtShape, type TensorDocument } from '@gradgraph/core';
import { BatchLoader, scalerFitFromJSON, type ScalerFit } from '../data/index';
import type { Optimizer } from '../optim/index';
import { CheckpointError, fmtValue } from './errors';
import { writeFileAtomic } from './files';

export const CHECKPOINT_FORMAT = 'gradgraph.checkpoint';
/** 2: epochs counted from 1 (version 1 files, which counted from 0, are read and converted). */
export const CHECKPOINT_VERSION = 2;

/** Where the data iterator was, and the settings that make its batches reproducible. */
export interface DataPosition {
  /** The epoch in progress, from 1 (as printed). */
  epoch: number;
  /** Batches of that epoch already trained on; the next one is `loader.batch(epoch, batch)` (indices from 0). */
  batch: number;
  /** The loader's shuffle seed. */
  seed: number;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  /** Rows in the training data. */
  size: number;
}

/** What the checkpoint says about where it came from. */
export interface CheckpointManifest {
  /** The library that wrote it. */
  library: { name: string; version: string };
  /** `sha256:` hash of the graph's structure (nodes without values or source lines); see {@link graphHash}. */
  graphHash: string;
  /** The graph's seed. */
  seed: number;
  /** The optimizer's name and hyperparameters, when known. */
  optimizer: { name: string; config: unknown } | null;
  /** The user's configuration (hyperparameters, notes): any JSON. */
  config: unknown;
}

/** The checkpoint file's JSON. */
export interface CheckpointDocument {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  manifest: CheckpointManifest;
  rngCounter: number;
  /** Trainable params by full name. */
  params: Record<string, TensorDocument>;
  /** Non-trainable state by full name (optimizer moments and step, running statistics). */
  state: Record<string, TensorDocument>;
  data: DataPosition | null;
  /** Scaler fits by the name the user gave them (e.g. `x`, `y`). */
  preprocessing: Record<string, ScalerFit>;
  /** The fit loop's state, when saved during `fit` (read back by `fit({ resume })`). */
  fit: unknown;
  /** Anything else the user stored: any JSON. */
  extra: unknown;
}

/** A checkpoint read and checked (on its own; {@link restoreCheckpoint} checks it against a graph). */
export interface Checkpoint {
  readonly manifest: CheckpointManifest;
  readonly rngCounter: number;
  readonly params: ReadonlyMap<string, Tensor>;
  readonly state: ReadonlyMap<string, Tensor>;
  readonly data: DataPosition | null;
  readonly preprocessing: Readonly<Record<string, ScalerFit>>;
  readonly fit: unknown;
  readonly extra: unknown;
}

/** What a checkpoint holds besides the graph's values. */
export interface CheckpointOptions {
  /** The data iterator's position: a loader and the next (epoch, batch), or a {@link DataPosition}. */
  data?: { loader: BatchLoader<Tensor | undefined> | BatchLoader<Tensor>; epoch: number; batch: number } | DataPosition;
  /** Scaler fits to store, e.g. `{ x: fit }` from `data.standardize`. */
  preprocessing?: Record<string, ScalerFit>;
  /** Your configuration (hyperparameters, notes): any JSON. */
  config?: unknown;
  /** The optimizer (or a step's `optimizer`), to record its name and hyperparameters in the manifest. */
  optimizer?: Optimizer | { readonly name: string; readonly config: Readonly<Record<string, unknown>> };
  /** Anything else to store: any JSON. */
  extra?: unknown;
  /** @internal The fit loop's state. */
  fit?: unknown;
}

// ---- library version and graph hash ------------------------------------------------------------

let cachedVersion: string | undefined;

/**
 * The version of `@gradgraph/ops`, from its package.json (`"unknown"` when that file can't be
 * read, e.g. in a bundle).
 * @example train.libraryVersion(); // "0.1.0"
 */
export function libraryVersion(): string {
  if (cachedVersion === undefined) {
    cachedVersion = 'unknown';
    // src/train/checkpoint.ts in the workspace, dist/index.js once built: two levels or one
    for (const rel of ['../../package.json', '../package.json']) {
      try {
        const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === '@gradgraph/ops' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // not there: try the next
      }
    }
  }
  return cachedVersion;
}

/** Attribute values in a canonical text: keys sorted, tensors by their bytes, −0 and non-finite numbers spelled out. */
function canonical(v: unknown): string {
  if (v instanceof Tensor) {
    const d = encodeTensor(v);
    return `T(${d.dtype}${fmtShape(d.shape)}:${d.data})`;
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * A hash of the graph's structure: every node's id, op, inputs, attributes (constants by value),
 * type, scope and adjoint link — not param values, not the RNG counter, not source lines. Two
 * graphs built by the same code have the same hash, whatever file or line built them.
 * @example train.graphHash(g); // "sha256:3f1c…"
 */
export function graphHash(g: Graph): string {
  if (!(g instanceof Graph)) throw new CheckpointError('train.graphHash', `expects a Graph, got ${fmtValue(g)}`);
  const h = createHash('sha256');
  for (const n of g.nodes) {
    h.update(`${n.id}|${n.op}|${n.inputs.join(',')}|${canonical(n.attrs)}|${n.type.dtype}${fmtShape(n.type.shape)}|${n.scope}|${n.adjointOf ?? ''}\n`);
  }
  return `sha256:${h.digest('hex')}`;
}

// ---- JSON helpers -------------------------------------------------------------------------------

/**
 * A JSON-safe copy of a configuration: non-finite numbers become strings, symbols and other
 * objects that are not plain data become `{ $value: description }`.
 */
export function jsonSafe(v: unknown, depth = 0): unknown {
  if (depth > 32) return { $value: 'too deep' };
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1));
  if (v instanceof Sym) return { $value: v.name ? `symbol "${v.name}"` : String(v) };
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonSafe(x, depth + 1)]));
  }
  return { $value: typeof v === 'function' ? `function ${(v as { name?: string }).name || '(anonymous)'}` : String(v) };
}

/** Throws unless `v` survives JSON (no cycles, no BigInt); returns a deep copy. */
function jsonCopy(op: string, v: unknown, what: string): unknown {
  if (v === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(v)) as unknown;
  } catch (e) {
    throw new CheckpointError(op, `${what} must be JSON-serializable: ${(e as Error).message}`);
  }
}

// ---- writing ----------------------------------------------------------------------------------

function dataPosition(op: string, d: CheckpointOptions['data']): DataPosition | null {
  if (d === undefined) return null;
  if (d && typeof d === 'object' && 'loader' in d) {
    const { loader, epoch, batch } = d;
    if (!(loader instanceof BatchLoader)) throw new CheckpointError(op, `data.loader must be a BatchLoader (data.batches(...)), got ${fmtValue(loader)}`);
    const pos: DataPosition = { epoch, batch, seed: loader.seed, batchSize: loader.batchSize, shuffle: loader.shuffle, dropLast: loader.dropLast, size: loader.size };
    checkPosition(op, pos);
    return pos;
  }
  checkPosition(op, d);
  return { ...d };
}

function checkPosition(op: string, p: unknown): asserts p is DataPosition {
  const d = p as DataPosition;
  if (!d || typeof d !== 'object') throw new CheckpointError(op, `the data position must be an object { epoch, batch, seed, batchSize, shuffle, dropLast, size }, got ${fmtValue(p)}`);
  const ints: [keyof DataPosition, number][] = [['epoch', 1], ['batch', 0], ['batchSize', 1], ['size', 0]];
  for (const [k, min] of ints) {
    const v = d[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new CheckpointError(op, `data.${k} must be an integer ≥ ${min}, got ${fmtValue(v)}`);
  }
  if (typeof d.seed !== 'number' || !Number.isSafeInteger(d.seed)) throw new CheckpointError(op, `data.seed must be a safe integer, got ${fmtValue(d.seed)}`);
  for (const k of ['shuffle', 'dropLast'] as const) if (typeof d[k] !== 'boolean') throw new CheckpointError(op, `data.${k} must be a boolean, got ${fmtValue(d[k])}`);
  const perEpoch = d.dropLast ? Math.floor(d.size / d.batchSize) : Math.ceil(d.size / d.batchSize);
  if (d.batch > perEpoch) throw new CheckpointError(op, `data.batch is ${d.batch}, but an epoch has only ${perEpoch} batches (${d.size} rows, batchSize ${d.batchSize})`);
}

/**
 * The checkpoint document of `g` now: params, state, RNG counter, and what `opts` adds (data
 * position, preprocessing fits, config, optimizer). Pure: writes nothing.
 *
 * @example
 * const doc = train.checkpoint(g, { preprocessing: { x: fit }, config: { hidden: 16 }, optimizer: opt });
 * writeFileSync('model.ckpt.json', JSON.stringify(doc));
 */
export function checkpoint(g: Graph, opts: CheckpointOptions = {}): CheckpointDocument {
  const op = 'train.checkpoint';
  if (!(g instanceof Graph)) throw new CheckpointError(op, `expects a Graph, got ${fmtValue(g)}`);
  if (!opts || typeof opts !== 'object') throw new CheckpointError(op, `options must be an object, got ${fmtValue(opts)}`);
  const allowed = ['data', 'preprocessing', 'config', 'optimizer', 'extra', 'fit'];
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new CheckpointError(op, `unknown option "${k}"; expected one of ${allowed.slice(0, -1).join(', ')}`);
  checkSize(op, g);
  // own properties, so a param named __proto__ is a key like any other (`=` would re-prototype)
  const params: Record<string, TensorDocument> = {};
  const state: Record<string, TensorDocument> = {};
  for (const p of g.params()) Object.defineProperty(params, p.name!, { value: encodeTensor(g.storage(p)), enumerable: true, writable: true, configurable: true });
  for (const s of g.stateVars()) Object.defineProperty(state, s.name!, { value: encodeTensor(g.storage(s)), enumerable: true, writable: true, configurable: true });
  const preprocessing: Record<string, ScalerFit> = {};
  for (const [k, fit] of Object.entries(opts.preprocessing ?? {})) {
    try {
      preprocessing[k] = scalerFitFromJSON(fit); // checks it and copies it
    } catch (e) {
      throw new CheckpointError(op, `preprocessing "${k}" is not a scaler fit from data.fitStandardize / data.fitMinMax: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const o = opts.optimizer;
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    manifest: {
      library: { name: '@gradgraph/ops', version: libraryVersion() },
      graphHash: graphHash(g),
      seed: g.seed,
      optimizer: o ? { name: o.name, config: jsonSafe(o.config) } : null,
      config: jsonCopy(op, opts.config, 'config'),
    },
    rngCounter: g.rngCounter,
    params,
    state,
    data: dataPosition(op, opts.data),
    preprocessing,
    fit: jsonCopy(op, opts.fit, 'the fit state'),
    extra: jsonCopy(op, opts.extra, 'extra'),
  };
}

/**
 * Refuses a graph whose values, as base64 text, would not fit in one JavaScript string (V8 holds
 * at most ~512 MiB of text: about 100M float32 values), naming the largest — before encoding.
 */
function checkSize(op: string, g: Graph): void {
  const vars = g.variables().map((v) => ({ name: v.name!, t: g.storage(v) }));
  const chars = vars.reduce((a, { t }) => a + base64Chars(t.data.byteLength) + 200, 0);
  if (chars <= MAX_STRING_CHARS) return;
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  const largest = [...vars].sort((a, b) => b.t.data.byteLength - a.t.data.byteLength).slice(0, 3).map(({ name, t }) => `"${name}" (${t.dtype}${fmtShape(t.shape)}, ${mb(t.data.byteLength)})`);
  throw new CheckpointError(op, `the graph's values are too large for a JSON checkpoint: as base64 text they take ${mb(chars)}, over the ${mb(MAX_STRING_CHARS)} one JavaScript string can hold; the largest: ${largest.join(', ')}`);
}

/**
 * Writes a checkpoint file: `g`'s checkpoint with `opts` (or a document from {@link checkpoint}).
 * The file is written next to its final path, flushed and renamed, so a crash never leaves half
 * a file; a failed save removes its temporary file, and a save removes those that processes
 * killed mid-save left for the same path. A path that is a folder, under a file, or not
 * writable is a `CheckpointError` that says so.
 *
 * @example
 * train.saveCheckpoint('runs/iris.ckpt.json', g, { preprocessing: { x: fit }, config: { lr: 1e-2 } });
 */
export function saveCheckpoint(path: string, source: Graph | CheckpointDocument, opts: CheckpointOptions = {}): CheckpointDocument {
  const op = 'train.saveCheckpoint';
  if (typeof path !== 'string' || !path) throw new CheckpointError(op, `path must be a non-empty string, got ${fmtValue(path)}`);
  const doc = source instanceof Graph ? checkpoint(source, opts) : source;
  if (!(source instanceof Graph)) parseCheckpoint(doc); // a hand-made document must be valid too
  let text: string;
  try {
    text = JSON.stringify(doc, null, 1);
  } catch (e) {
    throw new CheckpointError(op, `the checkpoint cannot be written as JSON: ${(e as Error).message}`);
  }
  writeFileAtomic(path, text, (detail) => new CheckpointError(op, detail));
  return doc;
}

// ---- reading --------------------------------------------------------------------------------

function tensors(op: string, v: unknown, what: string): Map<string, Tensor> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CheckpointError(op, `${what} must be an object of tensors by name, got ${fmtValue(v)}`);
  const out = new Map<string, Tensor>();
  for (const [name, doc] of Object.entries(v as Record<string, unknown>)) {
    try {
      out.set(name, decodeTensor(doc, `${what} "${name}"`));
    } catch (e) {
      throw new CheckpointError(op, e instanceof SerializationError ? e.detail : `${what} "${name}": ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * Reads and checks a checkpoint document (an object or its JSON text) on its own: format,
 * version, manifest, every tensor's bytes against its shape and dtype, the data position, the
 * preprocessing fits. A `CheckpointError` says what is wrong.
 *
 * @example const ckpt = train.parseCheckpoint(readFileSync(path, 'utf8'));
 */
export function parseCheckpoint(input: CheckpointDocument | string | unknown): Checkpoint {
  const op = 'train.parseCheckpoint';
  let doc = input as CheckpointDocument;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input) as CheckpointDocument;
    } catch (e) {
      throw new CheckpointError(op, `not valid JSON (a truncated or corrupt file?): ${(e as Error).message}`);
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new CheckpointError(op, `the checkpoint is not an object, got ${fmtValue(doc)}`);
  try {
    checkJsonDepth(doc, op, 'the checkpoint');
  } catch (e) {
    throw new CheckpointError(op, (e as SerializationError).detail);
  }
  if (doc.format !== CHECKPOINT_FORMAT) throw new CheckpointError(op, `not a gradgraph checkpoint (format is ${fmtValue(doc.format)}, expected "${CHECKPOINT_FORMAT}")`);
  if (doc.version === 1) doc = fromVersion1(doc);
  if (doc.version !== CHECKPOINT_VERSION) throw new CheckpointError(op, `unsupported checkpoint version ${fmtValue(doc.version)} (this library reads versions 1 and ${CHECKPOINT_VERSION})`);
  const m = doc.manifest;
  if (!m || typeof m !== 'object') throw new CheckpointError(op, 'the manifest is missing');
  if (!m.library || typeof m.library.name !== 'string' || typeof m.library.version !== 'string') throw new CheckpointError(op, 'manifest.library must be { name, version }');
  if (typeof m.graphHash !== 'string' || !m.graphHash.startsWith('sha256:')) throw new CheckpointError(op, `manifest.graphHash must be a "sha256:…" string, got ${fmtValue(m.graphHash)}`);
  if (typeof m.seed !== 'number' || !Number.isFinite(m.seed)) throw new CheckpointError(op, `manifest.seed must be a finite number, got ${fmtValue(m.seed)}`);
  if (m.optimizer !== null && m.optimizer !== undefined && (typeof m.optimizer !== 'object' || typeof m.optimizer.name !== 'string')) throw new CheckpointError(op, 'manifest.optimizer must be null or { name, config }');
  if (!Number.isInteger(doc.rngCounter) || doc.rngCounter < 0) throw new CheckpointError(op, `rngCounter must be a non-negative integer, got ${fmtValue(doc.rngCounter)}`);
  const params = tensors(op, doc.params, 'param');
  const state = tensors(op, doc.state, 'state');
  for (const name of state.keys()) if (params.has(name)) throw new CheckpointError(op, `"${name}" is both a param and a state entry`);
  let data: DataPosition | null = null;
  if (doc.data !== null && doc.data !== undefined) {
    checkPosition(op, doc.data);
    data = { ...doc.data };
  }
  const preprocessing: Record<string, ScalerFit> = {};
  const pp = doc.preprocessing ?? {};
  if (typeof pp !== 'object' || Array.isArray(pp)) throw new CheckpointError(op, `preprocessing must be an object of scaler fits by name, got ${fmtValue(pp)}`);
  for (const [k, fit] of Object.entries(pp)) {
    try {
      preprocessing[k] = scalerFitFromJSON(fit);
    } catch (e) {
      throw new CheckpointError(op, `preprocessing "${k}": ${e instanceof SerializationError ? e.detail : (e as Error).message}`);
    }
  }
  return Object.freeze({
    manifest: { library: { ...m.library }, graphHash: m.graphHash, seed: m.seed, optimizer: m.optimizer ?? null, config: m.config ?? null },
    rngCounter: doc.rngCounter,
    params,
    state,
    data,
    preprocessing: Object.freeze(preprocessing),
    fit: doc.fit ?? null,
    extra: doc.extra ?? null,
  });
}

/**
 * A version-1 document (epochs counted from 0) as version 2 (from 1): the data position, the fit
 * state's position and history, and early stopping's epochs move up by one. Everything else is
 * the same. A copy; anything malformed is left for the checks to name.
 */
function fromVersion1(doc: CheckpointDocument): CheckpointDocument {
  const up = (v: unknown) => (typeof v === 'number' ? v + 1 : v);
  const out = { ...doc, version: 2 } as CheckpointDocument;
  if (doc.data && typeof doc.data === 'object') out.data = { ...doc.data, epoch: up(doc.data.epoch) as number };
  const fit = doc.fit as { version?: unknown; epoch?: unknown; history?: Record<string, unknown>; callbacks?: Record<string, unknown> } | null;
  if (fit && typeof fit === 'object' && fit.version === 1) {
    const f = { ...fit, version: 2, epoch: up(fit.epoch) } as typeof fit;
    // the history document of version 1 has no version: History.fromJSON shifts it
    if (fit.callbacks && typeof fit.callbacks === 'object') {
      const es = fit.callbacks.earlyStopping as Record<string, unknown> | undefined;
      // −1 meant "none" when epochs counted from 0; now 0 does
      if (es && typeof es === 'object') f.callbacks = { ...fit.callbacks, earlyStopping: { ...es, bestEpoch: up(es.bestEpoch), stoppedEpoch: up(es.stoppedEpoch) } };
    }
    out.fit = f;
  }
  return out;
}

/**
 * Reads and checks a checkpoint file (see {@link parseCheckpoint}); does not touch any graph.
 * @example const ckpt = train.readCheckpoint('runs/iris.ckpt.json'); ckpt.manifest.config;
 */
export function readCheckpoint(path: string): Checkpoint {
  const op = 'train.readCheckpoint';
  if (typeof path !== 'string' || !path) throw new CheckpointError(op, `path must be a non-empty string, got ${fmtValue(path)}`);
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new CheckpointError(op, `${path} is a folder, not a checkpoint file`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(op, code === 'ENOENT' ? `cannot read ${path}: no such file` : `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return parseCheckpoint(text);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(op, `${path}: ${e.detail}`);
    throw e;
  }
}

/** How strictly a checkpoint must match the graph it is restored into. */
export interface RestoreOptions {
  /** Refuse a checkpoint whose graph hash or seed differs from the graph's. Default true. */
  checkGraph?: boolean;
}

/**
 * Checks `ckpt` against `g` without writing anything: every param and state entry of the graph is
 * in the checkpoint and nothing else is, each with the same shape and dtype and on the same side
 * (trainable or state); the graph hash and seed agree unless `checkGraph: false`.
 * @example train.checkCheckpoint(g, ckpt); // throws a CheckpointError naming the first mismatch
 */
export function checkCheckpoint(g: Graph, ckpt: Checkpoint, opts: RestoreOptions = {}): void {
  const op = 'train.restoreCheckpoint';
  if (opts === null || typeof opts !== 'object') throw new CheckpointError(op, `options must be an object { checkGraph }, got ${fmtValue(opts)}`);
  for (const k of Object.keys(opts)) if (k !== 'checkGraph') throw new CheckpointError(op, `unknown option "${k}"; the option is checkGraph`);
  if (!(g instanceof Graph)) throw new CheckpointError(op, `expects a Graph, got ${fmtValue(g)}`);
  if (!ckpt || !(ckpt.params instanceof Map) || !(ckpt.state instanceof Map)) throw new CheckpointError(op, `expects a checkpoint from readCheckpoint/parseCheckpoint, got ${fmtValue(ckpt)}`);
  const check = (syms: Sym[], saved: ReadonlyMap<string, Tensor>, other: ReadonlyMap<string, Tensor>, kind: string, otherKind: string) => {
    for (const s of syms) {
      const name = s.name!;
      const t = saved.get(name);
      if (!t) {
        if (other.has(name)) throw new CheckpointError(op, `"${name}" is ${kind} in the graph but ${otherKind} in the checkpoint`);
        throw new CheckpointError(op, `the checkpoint has no value for ${kind} "${name}" (${s.dtype}${fmtShape(s.shape)}); was it saved from a different model?`);
      }
      if (t.dtype !== s.dtype || t.shape.length !== s.shape.length || !t.shape.every((d, i) => d === s.shape[i])) {
        throw new CheckpointError(op, `${kind} "${name}" is ${t.dtype}${fmtShape(t.shape)} in the checkpoint but ${s.dtype}${fmtShape(s.shape)} in the graph`);
      }
    }
  };
  const params = g.params();
  const state = g.stateVars();
  check(params, ckpt.params, ckpt.state, 'param', 'state');
  check(state, ckpt.state, ckpt.params, 'state', 'a param');
  const known = new Set(g.variables().map((s) => s.name!));
  for (const name of [...ckpt.params.keys(), ...ckpt.state.keys()]) {
    if (!known.has(name)) throw new CheckpointError(op, `the checkpoint has "${name}", which is not a param or state of this graph`);
  }
  if (opts.checkGraph ?? true) {
    if (ckpt.manifest.seed !== g.seed) throw new CheckpointError(op, `the checkpoint was saved from a graph with seed ${ckpt.manifest.seed}; this graph has seed ${g.seed} (pass { checkGraph: false } to load anyway)`);
    const h = graphHash(g);
    if (h !== ckpt.manifest.graphHash) {
      throw new CheckpointError(op, `the graph's structure differs from the one saved (hash ${h.slice(0, 19)}… vs ${ckpt.manifest.graphHash.slice(0, 19)}…): build the graph (model, loss, training step) as when saving, or pass { checkGraph: false } to load the values by name`);
    }
  }
}

/**
 * Writes a checkpoint's params, state and RNG counter into `g`, after checking all of it
 * ({@link checkCheckpoint}); a refused checkpoint leaves `g` untouched. Returns the checkpoint,
 * whose `preprocessing`, `data` and `manifest` the caller may use.
 *
 * @example
 * const ckpt = train.restoreCheckpoint(g, train.readCheckpoint(path));
 * const xNew = data.transform(ckpt.preprocessing.x, rows);
 */
export function restoreCheckpoint(g: Graph, ckpt: Checkpoint, opts: RestoreOptions = {}): Checkpoint {
  checkCheckpoint(g, ckpt, opts);
  const values = new Map<string, Tensor>([...ckpt.params, ...ckpt.state]);
  g.restore({ values, rngCounter: ckpt.rngCounter }, { strict: true });
  return ckpt;
}

/**
 * Reads a checkpoint file and restores it into `g` (see {@link readCheckpoint},
 * {@link restoreCheckpoint}).
 *
 * @example
 * const { g, step } = buildModel();          // the same code that built the saved model
 * const ckpt = train.loadCheckpoint('runs/iris.ckpt.json', g);
 * const logits = step.predictBatch(data.transform(ckpt.preprocessing.x, test).x);
 */
export function loadCheckpoint(path: string, g: Graph, opts: RestoreOptions = {}): Checkpoint {
  return restoreCheckpoint(g, readCheckpoint(path), opts);
}
