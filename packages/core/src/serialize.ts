/**
 * Graph documents: `g.toJSON()` and `Graph.fromJSON(doc)` save and load a graph with its param
 * values, RNG counter and seed. Tensors are stored as base64 of their little-endian bytes, so
 * values (NaN and ±Inf included) round-trip exactly. Loading re-runs every node's shape rule and
 * refuses a corrupt or mismatched document with a `SerializationError` naming what is wrong.
 */
import { fmtJson } from './format';
import { allocArray, bytesPer, isDType, type DType, type TypedArray } from './dtype';
import { SerializationError, type GradgraphError } from './errors';
import { Graph, type CollectionItem, type ProgramRecord } from './graph';
import { fmtType, type Attrs, type Node, type TypeInfo } from './ir';
import { getOp, hasOp } from './registry';
import { fmtShape, shapeEq, sizeOf } from './shape';
import { Tensor } from './tensor';

export const GRAPH_FORMAT = 'gradgraph.graph';
export const GRAPH_FORMAT_VERSION = 1;

export interface TensorDocument {
  dtype: DType;
  shape: number[];
  /** base64 of the little-endian element bytes. */
  data: string;
}

export interface NodeDocument {
  id: number;
  op: string;
  inputs: number[];
  attrs: Record<string, unknown>;
  type: { dtype: DType; shape: (number | null)[] };
  scope: string;
  origin: string;
  adjointOf?: number;
}

export interface GraphDocument {
  format: typeof GRAPH_FORMAT;
  version: number;
  seed: number;
  rngCounter: number;
  nodes: NodeDocument[];
  /** Param and state values by full name. */
  values: Record<string, TensorDocument>;
  /** The graph's named collections (`g.addToCollection`). */
  collections?: Record<string, CollectionItem[]>;
  /** Programs saved with `g.saveProgram`, by name (node ids). */
  programs?: Record<string, ProgramDocument>;
}

/** A saved program in a graph document: node ids, output names, update pairs, notes. */
export interface ProgramDocument {
  inputs: number[];
  outputs: number[];
  outputNames: string[];
  updates: [number, number][];
  meta: CollectionItem | null;
}

/** Documents nested deeper than this are refused before anything walks them recursively. */
export const MAX_JSON_DEPTH = 256;

/**
 * Where `v` (parsed JSON) is nested deeper than `max` arrays and objects, as a path such as
 * `nodes[3].attrs.axes[0]…`, or null. Iterative, so a 10,000-deep document is measured, not
 * recursed into until the stack overflows.
 */
export function jsonTooDeep(v: unknown, max = MAX_JSON_DEPTH): string | null {
  const stack: [unknown, number, string][] = [[v, 0, '']];
  while (stack.length) {
    const [x, depth, path] = stack.pop()!;
    if (!x || typeof x !== 'object') continue;
    if (depth >= max) return path || '(the top)';
    if (Array.isArray(x)) x.forEach((y, i) => stack.push([y, depth + 1, `${path}[${i}]`]));
    else for (const k of Object.keys(x)) stack.push([(x as Record<string, unknown>)[k], depth + 1, path ? `${path}.${k}` : k]);
  }
  return null;
}

/**
 * Throws a `SerializationError` naming the place when a parsed document is nested deeper than
 * `MAX_JSON_DEPTH` (every gradgraph document is a few levels deep).
 * @example checkJsonDepth(JSON.parse(text), 'train.parseCheckpoint');
 */
export function checkJsonDepth(v: unknown, op: string, what = 'the document'): void {
  const at = jsonTooDeep(v);
  if (at !== null) throw new SerializationError(`${what} is nested more than ${MAX_JSON_DEPTH} levels deep (at ${at}); gradgraph documents are a few levels deep: a corrupt or hostile file?`, { op });
}

/** `o[k] = v` as an own property, even for a key such as `__proto__` (which `=` would turn into a prototype change). */
export function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** `o[k]` when `o` has its own `k`; undefined for inherited names such as `toString` or `__proto__`. */
export function getOwn<T>(o: Readonly<Record<string, T>>, k: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

/**
 * The most characters a JavaScript string holds in V8 on 64-bit machines (2²⁹ − 24): the base64
 * text of about 100M float32 values. Documents whose values would exceed it are refused up front.
 */
export const MAX_STRING_CHARS = 2 ** 29 - 24;

/** Characters of the base64 text of `bytes` bytes. */
export function base64Chars(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

export function encodeTensor(t: Tensor): TensorDocument {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { dtype: t.dtype, shape: [...t.shape], data: Buffer.from(bytes).toString('base64') };
}

export function decodeTensor(doc: unknown, what: string): Tensor {
  const d = doc as TensorDocument;
  if (!d || typeof d !== 'object' || !isDType(d.dtype) || !Array.isArray(d.shape) || typeof d.data !== 'string') {
    throw new SerializationError(`${what} is not a tensor document {dtype, shape, data}`, { op: 'Graph.fromJSON' });
  }
  if (!d.shape.every((x) => Number.isInteger(x) && x >= 0)) throw new SerializationError(`${what} has an invalid shape ${fmtJson(d.shape)}`, { op: 'Graph.fromJSON' });
  const bytes = Buffer.from(d.data, 'base64');
  const n = sizeOf(d.shape);
  if (bytes.length !== n * bytesPer(d.dtype)) {
    throw new SerializationError(`${what}: ${d.dtype}${fmtShape(d.shape)} needs ${n * bytesPer(d.dtype)} bytes, the data has ${bytes.length}`, { op: 'Graph.fromJSON' });
  }
  const out = allocArray(d.dtype, n);
  new Uint8Array(out.buffer).set(bytes);
  return new Tensor(d.dtype, d.shape, out as TypedArray);
}

function encodeAttr(v: unknown): unknown {
  if (v instanceof Tensor) return { $tensor: encodeTensor(v) };
  if (Array.isArray(v)) return v.map(encodeAttr);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeAttr(x)]));
  if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
  return v;
}

function decodeAttr(v: unknown, what: string): unknown {
  if (Array.isArray(v)) return v.map((x) => decodeAttr(x, what));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('$tensor' in o) return decodeTensor(o.$tensor, what);
    if ('$number' in o) return Number(o.$number);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeAttr(x, what)]));
  }
  return v;
}

/** The document of a graph (nodes, param values, seed, RNG counter). */
export function graphToJSON(g: Graph): GraphDocument {
  const vars = g.variables();
  const chars = vars.reduce((a, v) => a + base64Chars(g.storage(v).data.byteLength), 0);
  if (chars > MAX_STRING_CHARS) {
    const big = [...vars].sort((a, b) => g.storage(b).data.byteLength - g.storage(a).data.byteLength)[0];
    throw new SerializationError(`the graph's values are too large for a JSON document: as base64 text they take ${(chars / 1e6).toFixed(0)} MB, over the ${(MAX_STRING_CHARS / 1e6).toFixed(0)} MB one JavaScript string can hold; the largest is "${big.name}" (${fmtType(big.node.type)})`, { op: 'Graph.toJSON' });
  }
  const values: Record<string, TensorDocument> = {};
  for (const p of g.variables()) setOwn(values, p.name!, encodeTensor(g.storage(p)));
  const programs: Record<string, ProgramDocument> = {};
  for (const [name, r] of g._programRecords()) {
    setOwn(programs, name, { inputs: [...r.inputs], outputs: [...r.outputs], outputNames: [...r.outputNames], updates: r.updates.map(([p, v]) => [p, v]), meta: r.meta });
  }
  return {
    format: GRAPH_FORMAT,
    version: GRAPH_FORMAT_VERSION,
    seed: g.seed,
    rngCounter: g.rngCounter,
    nodes: g.nodes.map((n) => ({
      id: n.id,
      op: n.op,
      inputs: [...n.inputs],
      attrs: encodeAttr(savedAttrs(n.op, n.attrs)) as Record<string, unknown>,
      type: { dtype: n.type.dtype, shape: [...n.type.shape] },
      scope: n.scope,
      origin: n.origin,
      ...(n.adjointOf !== undefined ? { adjointOf: n.adjointOf } : {}),
    })),
    values,
    collections: Object.fromEntries(g.collectionNames().map((n) => [n, g.collection(n)])),
    ...(g.programNames().length ? { programs } : {}),
  };
}

/**
 * The attributes a document keeps. A custom gradient is saved by its name only: `fn` is the id of
 * its definition in the saving process, meaningless in another (the loader finds it by name).
 */
function savedAttrs(op: string, attrs: Attrs): Attrs {
  if (op !== 'customGrad') return attrs;
  const { fn: _processLocal, ...rest } = attrs;
  return rest;
}

const bad = (detail: string) => new SerializationError(detail, { op: 'Graph.fromJSON' });

/** Rebuilds a graph from its document, checking everything. */
export function graphFromJSON(input: GraphDocument | string): Graph {
  let doc: GraphDocument;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input) as GraphDocument;
    } catch (e) {
      throw bad(`not valid JSON: ${(e as Error).message}`);
    }
  } else doc = input;
  if (!doc || typeof doc !== 'object') throw bad('the document is not an object');
  checkJsonDepth(doc, 'Graph.fromJSON');
  if (doc.format !== GRAPH_FORMAT) throw bad(`not a gradgraph graph document (format is ${JSON.stringify(doc.format)}, expected "${GRAPH_FORMAT}")`);
  if (doc.version !== GRAPH_FORMAT_VERSION) throw bad(`unsupported document version ${JSON.stringify(doc.version)} (this library reads version ${GRAPH_FORMAT_VERSION})`);
  if (typeof doc.seed !== 'number' || !Number.isFinite(doc.seed)) throw bad('seed must be a finite number');
  if (!Number.isInteger(doc.rngCounter) || doc.rngCounter < 0) throw bad('rngCounter must be a non-negative integer');
  if (!Array.isArray(doc.nodes)) throw bad('nodes must be an array');
  if (!doc.values || typeof doc.values !== 'object') throw bad('values must be an object');

  const nodes: Node[] = [];
  const values = new Map<string, Tensor>();
  doc.nodes.forEach((nd, i) => {
    const where = `node ${i}`;
    if (!nd || typeof nd !== 'object') throw bad(`${where} is not an object`);
    if (nd.id !== i) throw bad(`${where} has id ${JSON.stringify(nd.id)}; ids must be 0, 1, 2, ... in order`);
    if (typeof nd.op !== 'string' || !hasOp(nd.op)) throw bad(`${where} uses op ${JSON.stringify(nd.op)}, which is not registered in this process (define it with defineOp before loading)`);
    if (!Array.isArray(nd.inputs) || !nd.inputs.every((k) => Number.isInteger(k) && k >= 0 && k < i)) throw bad(`${where} (${nd.op}) has inputs ${JSON.stringify(nd.inputs)}; each must name an earlier node`);
    if (!nd.type || !isDType(nd.type.dtype) || !Array.isArray(nd.type.shape) || !nd.type.shape.every((d) => d === null || (Number.isInteger(d) && d >= 0))) throw bad(`${where} (${nd.op}) has an invalid type`);
    if (typeof nd.scope !== 'string' || typeof nd.origin !== 'string') throw bad(`${where} (${nd.op}) needs string scope and origin`);
    if (nd.adjointOf !== undefined && !(Number.isInteger(nd.adjointOf) && nd.adjointOf >= 0 && nd.adjointOf < doc.nodes.length)) throw bad(`${where} (${nd.op}) has an invalid adjointOf`);
    const raw = savedAttrs(nd.op, (decodeAttr(nd.attrs ?? {}, `${where} attrs`) ?? {}) as Attrs);
    const type: TypeInfo = { dtype: nd.type.dtype, shape: Object.freeze([...nd.type.shape]) };
    const def = getOp(nd.op);
    const inputTypes = nd.inputs.map((k) => nodes[k].type);
    // store what the op's normalizer makes of the attributes, as building does (axes: [-1] → [r-1])
    let attrs: Attrs = Object.freeze(raw);
    if (def.kind !== 'source') {
      try {
        attrs = Object.freeze(def.attrs(raw, inputTypes));
      } catch (e) {
        throw bad(`${where} (${nd.op}): ${(e as GradgraphError).detail ?? (e as Error).message.split('\n')[0]}`);
      }
    }
    if (def.kind === 'source') {
      if (nd.op === 'param') {
        const name = attrs.name;
        if (typeof name !== 'string') throw bad(`${where} is a param without a name`);
        const v = getOwn(doc.values, name);
        if (v === undefined) throw bad(`param "${name}" has no value in the document`);
        const t = decodeTensor(v, `value of "${name}"`);
        if (t.dtype !== type.dtype || !shapeEq(t.shape, type.shape)) throw bad(`value of "${name}" is ${fmtType(t)}, the param is ${fmtType(type)}`);
        values.set(name, t);
      } else if (nd.op === 'input') {
        if (typeof attrs.name !== 'string') throw bad(`${where} is an input without a name`);
      } else {
        if (!(attrs.value instanceof Tensor)) throw bad(`${where} is a constant without a tensor value`);
        const t = attrs.value as Tensor;
        if (t.dtype !== type.dtype || !shapeEq(t.shape, type.shape)) throw bad(`${where}: constant value ${fmtType(t)} does not match its type ${fmtType(type)}`);
      }
    } else {
      let t: TypeInfo;
      try {
        t = def.infer(inputTypes, attrs);
      } catch (e) {
        throw bad(`${where} (${nd.op}): its shape rule rejects it: ${(e as Error).message.split('\n')[0]}`);
      }
      if (t.dtype !== type.dtype || !shapeEq(t.shape, type.shape)) throw bad(`${where} (${nd.op}) is recorded as ${fmtType(type)}, but its shape rule gives ${fmtType(t)}`);
    }
    nodes.push(
      Object.freeze({
        id: i,
        op: nd.op,
        inputs: Object.freeze([...nd.inputs]),
        attrs,
        type: Object.freeze(type),
        scope: nd.scope,
        origin: nd.origin,
        ...(nd.adjointOf !== undefined ? { adjointOf: nd.adjointOf } : {}),
      }),
    );
  });
  for (const name of Object.keys(doc.values)) if (!values.has(name)) throw bad(`the document has a value for "${name}", which is not a param of its graph`);
  const collections = doc.collections ?? {};
  if (typeof collections !== 'object' || Array.isArray(collections) || !Object.values(collections).every(Array.isArray)) throw bad('collections must map names to arrays');
  const programs = programsFromJSON(doc.programs, nodes);
  const g = new Graph({ seed: doc.seed });
  g._load(nodes, values, doc.rngCounter, collections, programs);
  return g;
}

/** Checks the saved programs of a document against its nodes. */
function programsFromJSON(docs: unknown, nodes: readonly Node[]): Map<string, ProgramRecord> {
  const out = new Map<string, ProgramRecord>();
  if (docs === undefined) return out;
  if (!docs || typeof docs !== 'object' || Array.isArray(docs)) throw bad('programs must map names to programs');
  const ids = (v: unknown, where: string): number[] => {
    if (!Array.isArray(v) || !v.every((k) => Number.isInteger(k) && k >= 0 && k < nodes.length)) throw bad(`${where} must be an array of node ids`);
    return v as number[];
  };
  for (const [name, p] of Object.entries(docs as Record<string, ProgramDocument>)) {
    const where = `program ${JSON.stringify(name)}`;
    if (!p || typeof p !== 'object') throw bad(`${where} is not an object`);
    const inputs = ids(p.inputs, `${where}: inputs`);
    for (const k of inputs) if (nodes[k].op !== 'input') throw bad(`${where}: input %${k} is a ${nodes[k].op} node`);
    const outputs = ids(p.outputs, `${where}: outputs`);
    if (!Array.isArray(p.outputNames) || p.outputNames.length !== outputs.length || !p.outputNames.every((n) => typeof n === 'string') || new Set(p.outputNames).size !== outputs.length) throw bad(`${where}: outputNames must be one distinct name per output`);
    if (!Array.isArray(p.updates)) throw bad(`${where}: updates must be an array of [param, value] id pairs`);
    const targets = new Set<number>();
    const updates = p.updates.map((pair, i) => {
      const [t, v] = ids(pair, `${where}: update ${i}`);
      if (pair.length !== 2) throw bad(`${where}: update ${i} is not a [param, value] pair`);
      const tn = nodes[t];
      const vt = nodes[v].type;
      if (tn.op !== 'param') throw bad(`${where}: update ${i} writes %${t}, a ${tn.op} node, not a param`);
      if (vt.dtype !== tn.type.dtype || !shapeEq(vt.shape.map((d, k) => d ?? tn.type.shape[k]), tn.type.shape)) throw bad(`${where}: update ${i} gives "${String(tn.attrs.name)}" a value of type ${fmtType(vt)}, the param is ${fmtType(tn.type)}`);
      if (targets.has(t)) throw bad(`${where}: "${String(tn.attrs.name)}" is updated twice`);
      targets.add(t);
      return [t, v] as const;
    });
    out.set(name, { inputs, outputs, outputNames: [...p.outputNames], updates, meta: p.meta === undefined ? null : p.meta });
  }
  return out;
}
