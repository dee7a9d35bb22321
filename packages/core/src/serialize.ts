/**
 * Graph documents: `g.toJSON()` and `Graph.fromJSON(doc)` save and load a graph with its param
 * values, RNG counter and seed. Tensors are stored as base64 of their little-endian bytes, so
 * values (NaN and ±Inf included) round-trip exactly. Loading re-runs every node's shape rule and
 * refuses a corrupt or mismatched document with a `SerializationError` naming what is wrong.
 */
import { allocArray, bytesPer, isDType, type DType, type TypedArray } from './dtype';
import { SerializationError, type GradgraphError } from './errors';
import { Graph, type CollectionItem } from './graph';
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
  if (!d.shape.every((x) => Number.isInteger(x) && x >= 0)) throw new SerializationError(`${what} has an invalid shape ${JSON.stringify(d.shape)}`, { op: 'Graph.fromJSON' });
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
  const values: Record<string, TensorDocument> = {};
  for (const p of g.variables()) values[p.name!] = encodeTensor(g.storage(p));
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
        const v = doc.values[name];
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
  const g = new Graph({ seed: doc.seed });
  g._load(nodes, values, doc.rngCounter, collections);
  return g;
}
