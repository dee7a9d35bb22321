/**
 * `Graph` builds the IR; `Sym` is a handle to one of its nodes. Nodes are immutable and
 * hash-consed: applying the same op to the same inputs with the same attributes returns the
 * existing node, so common subexpressions are shared by construction. Random nodes carry a unique
 * key and are never merged. Param values belong to the graph: every executable compiled from it
 * reads and writes the same storage.
 */
import { fmtJson } from './format';
import * as api from './api';
import * as math from './math';
import './ops/index'; // registers the built-in primitives wherever graphs are built
import { dtypeOfArray, isDType, type DType, type TypedArray } from './dtype';
import { GradgraphError, GraphError, OpDefError, ShapeError, UpdateError, checkOptionNames } from './errors';
import { fmtNode, fmtType, type Attrs, type Node, type TypeInfo } from './ir';
import { nodeKey } from './key';
import { captureOrigin } from './origin';
import { getOp } from './registry';
import { graphFromJSON, graphToJSON, type GraphDocument } from './serialize';
import { fmtShape, isStatic, shapeEq, sizeOf, type SymShape } from './shape';
import { Tensor, type Nested } from './tensor';

export interface GraphOptions {
  /** Seeds every random node and every initializer of this graph. Default 0. */
  seed?: number;
}

export interface InputOptions {
  /** A value used when the feed omits this input (mode switches such as `training`). */
  default?: Tensor | number | boolean;
}

export interface ParamOptions {
  /** `false` makes non-trainable state (optimizer moments, running statistics). Default true. */
  trainable?: boolean;
}

/** Param and state values plus the RNG run counter: what a snapshot holds. */
export interface GraphState {
  readonly values: ReadonlyMap<string, Tensor>;
  readonly rngCounter: number;
}

export type Operand = Sym | number;

/** A JSON-able value kept in a graph collection. */
export type CollectionItem = number | string | boolean | null | CollectionItem[] | { [key: string]: CollectionItem };

/** What {@link Graph.saveProgram} keeps: what `compile` needs, with names for the outputs. */
export interface ProgramSpec {
  /** The inputs the caller feeds (as `compile`'s `inputs`). */
  inputs?: readonly Sym[];
  /** The outputs, in order; a record names them (`{ loss, accuracy }`), an array calls them `out0`, `out1`, ... */
  outputs: readonly Sym[] | Readonly<Record<string, Sym>>;
  /** `[param, newValue]` pairs, as `compile`'s `updates`. */
  updates?: readonly (readonly [Sym, Sym])[];
  /** Anything else to keep with it, JSON-able: roles, an optimizer's hyperparameters, notes. */
  meta?: CollectionItem;
}

/**
 * A program saved in a graph (and in its `toJSON()` document). It is also a `compile` options
 * object: `compile(g, g.program('train'))` compiles it as it was, and `{ ...g.program('train'),
 * nanGuard: true }` adds options (only `inputs`, `outputs` and `updates` are enumerable).
 */
export interface SavedProgram {
  readonly name: string;
  readonly inputs: readonly Sym[];
  readonly outputs: readonly Sym[];
  /** One name per output, in order. */
  readonly outputNames: readonly string[];
  /** The outputs by name. */
  readonly named: Readonly<Record<string, Sym>>;
  readonly updates: readonly (readonly [Sym, Sym])[];
  readonly meta: CollectionItem | null;
}

/** A saved program as node ids (what a graph document stores). */
export interface ProgramRecord {
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly outputNames: readonly string[];
  readonly updates: readonly (readonly [number, number])[];
  readonly meta: CollectionItem | null;
}

export class Graph {
  readonly seed: number;
  /** How many runs with random nodes this graph has seen; part of every random stream's key. */
  rngCounter = 0;
  private _storageVersion = 0;

  private readonly _nodes: Node[] = [];
  private readonly _cons = new Map<string, number>();
  private readonly _scope: string[] = [];
  private readonly _inputs = new Map<string, number>();
  private readonly _vars = new Map<string, number>();
  private readonly _values = new Map<number, Tensor>();
  private readonly _keys = new Set<string>();
  private readonly _scopeUses = new Map<string, number>();
  private _adjoint: number | undefined;
  private _origin: string | undefined;
  private _uniqueConst = 0;
  private readonly _collections = new Map<string, CollectionItem[]>();
  private readonly _programs = new Map<string, ProgramRecord>();

  constructor(opts: GraphOptions = {}) {
    checkOptionNames(opts, ['seed'], (d) => new GraphError(d, { op: 'Graph' }));
    const seed = opts.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new GraphError(`seed must be a finite number, got ${String(seed)}`, { op: 'Graph' });
    this.seed = seed;
  }

  // ---- building -------------------------------------------------------------------------

  /**
   * A value fed at run time, by `name`. `null` dims are known only at run time.
   * @example const x = g.input('x', [null, 4]);
   */
  input(name: string, shape: SymShape, dtype: DType = 'float32', opts: InputOptions = {}): Sym {
    checkOptionNames(opts, ['default'], (d) => new GraphError(d, { op: 'input', origin: captureOrigin() }));
    if (typeof name !== 'string' || !name) throw new GraphError('an input needs a non-empty name', { op: 'input', origin: captureOrigin() });
    if (this._inputs.has(name)) throw new GraphError(`an input named "${name}" already exists`, { op: 'input', origin: captureOrigin() });
    if (!isDType(dtype)) throw new GraphError(`unknown dtype ${String(dtype)} for input "${name}"`, { op: 'input', origin: captureOrigin() });
    if (!Array.isArray(shape) || !shape.every((d) => d === null || (Number.isInteger(d) && d >= 0))) {
      throw new GraphError(`input "${name}" has an invalid shape ${fmtJson(shape)}: use non-negative integers or null`, { op: 'input', origin: captureOrigin() });
    }
    let def: Tensor | undefined;
    if (opts.default !== undefined) {
      def = opts.default instanceof Tensor ? opts.default : Tensor.from(opts.default, dtype);
      if (def.dtype !== dtype || def.shape.length !== shape.length || !def.shape.every((d, i) => shape[i] === null || shape[i] === d)) {
        throw new GraphError(`default for input "${name}" is ${fmtType(def)}, expected ${dtype}${fmtShape(shape)}`, { op: 'input', origin: captureOrigin() });
      }
    }
    const s = this.addNode('input', [], { name, ...(def ? { default: def } : {}) }, { dtype, shape: [...shape] });
    this._inputs.set(name, s.id);
    return s;
  }

  /**
   * A trainable value (or non-trainable state with `{ trainable: false }`) named `name` in the
   * current scope. The graph owns a copy of `value`.
   * @example const w = g.param('w', Tensor.randn([4, 3]));
   */
  param(name: string, value: Tensor, opts: ParamOptions = {}): Sym {
    checkOptionNames(opts, ['trainable'], (d) => new GraphError(d, { op: 'param', origin: captureOrigin() }));
    const full = this.scoped(name);
    if (!(value instanceof Tensor)) throw new GraphError(`param "${full}" needs a Tensor value`, { op: 'param', origin: captureOrigin() });
    if (this._vars.has(full)) throw new GraphError(`a param named "${full}" already exists`, { op: 'param', origin: captureOrigin() });
    const trainable = opts.trainable ?? true;
    const s = this.addNode('param', [], { name: full, trainable }, { dtype: value.dtype, shape: [...value.shape] });
    this._vars.set(full, s.id);
    this._values.set(s.id, value.clone());
    return s;
  }

  /** Non-trainable state: in snapshots and checkpoints, not in `params()`. */
  state(name: string, value: Tensor): Sym {
    return this.param(name, value, { trainable: false });
  }

  /** A constant. A number takes `dtype` (default float32). */
  constant(value: Tensor | Nested, dtype?: DType): Sym {
    const t = value instanceof Tensor ? (dtype && dtype !== value.dtype ? value.astype(dtype) : value.clone()) : Tensor.from(value, dtype ?? 'float32');
    return this.addNode('constant', [], { value: t }, { dtype: t.dtype, shape: [...t.shape] });
  }

  /** Runs `fn` with `name` appended to the scope path; nodes and params created inside carry it. */
  scope<T>(name: string, fn: () => T): T {
    if (typeof name !== 'string' || !name || name.includes('/')) throw new GraphError(`scope name ${JSON.stringify(name)} must be non-empty and contain no "/"`, { op: 'scope' });
    this._scope.push(name);
    try {
      return fn();
    } finally {
      this._scope.pop();
    }
  }

  /** The current scope path, `""` at top level. */
  get currentScope(): string {
    return this._scope.join('/');
  }

  /**
   * A scope name not yet used in the current scope: `base`, then `base_1`, `base_2`, ...
   * Builders (`nn.dense`) use it so two layers never share param names.
   */
  uniqueScope(base: string): string {
    const prefix = this.scoped(base);
    let k = this._scopeUses.get(prefix) ?? 0;
    let name = k === 0 ? base : `${base}_${k}`;
    while (this.isScopeTaken(this.scoped(name))) name = `${base}_${++k}`;
    this._scopeUses.set(prefix, k + 1);
    this._scopeTaken.add(this.scoped(name));
    return name;
  }

  private readonly _scopeTaken = new Set<string>();
  private isScopeTaken(path: string): boolean {
    if (this._scopeTaken.has(path)) return true;
    for (const name of this._vars.keys()) if (name.startsWith(path + '/')) return true;
    return false;
  }

  /** A key for a random node: scope path and name, or an occurrence index; unique in the graph. */
  randomKey(name?: string): string {
    const base = this.scoped(name ?? 'random');
    if (name !== undefined && !this._keys.has(base)) {
      this._keys.add(base);
      return base;
    }
    let k = 0;
    while (this._keys.has(`${base}#${k}`)) k++;
    const key = `${base}#${k}`;
    this._keys.add(key);
    return key;
  }

  private scoped(name: string): string {
    return this._scope.length ? `${this._scope.join('/')}/${name}` : name;
  }

  /**
   * Applies a registered op. Normalizes attributes, runs the shape rule, and returns the existing
   * node when an equal one exists (hash-consing). Errors name the op, shapes, scope and line.
   */
  apply(op: string, inputs: readonly Sym[], rawAttrs: Attrs = {}): Sym {
    let def;
    try {
      def = getOp(op);
    } catch (e) {
      throw new OpDefError((e as GradgraphError).detail, { op, origin: captureOrigin(), scope: this.currentScope });
    }
    for (const s of inputs) {
      if (!(s instanceof Sym)) throw new GraphError(`input is ${describe(s)}, not a symbol`, { op, origin: captureOrigin(), scope: this.currentScope });
      if (s.graph !== this) throw new GraphError('an input belongs to another graph', { op, origin: captureOrigin(), scope: this.currentScope });
    }
    const types = inputs.map((s) => s.node.type);
    const ar = def.arity;
    const n = inputs.length;
    if (typeof ar === 'number' ? n !== ar : n < ar.min || (ar.max !== undefined && n > ar.max)) {
      const want = typeof ar === 'number' ? `${ar}` : `${ar.min}${ar.max === undefined ? ' or more' : `..${ar.max}`}`;
      throw new GraphError(`takes ${want} inputs, got ${n}`, this.ctx(op, types));
    }
    let attrs: Attrs;
    let type: TypeInfo;
    try {
      attrs = Object.freeze(def.attrs(rawAttrs ?? {}, types));
      type = def.infer(types, attrs);
    } catch (e) {
      throw this.contextualize(e, op, types);
    }
    return this.addNode(op, inputs.map((s) => s.id), attrs, type);
  }

  private ctx(op: string, types: readonly TypeInfo[]) {
    return { op, shapes: types.map((t) => t.shape), dtypes: types.map((t) => t.dtype), scope: this.currentScope, origin: captureOrigin() };
  }

  private contextualize(e: unknown, op: string, types: readonly TypeInfo[]): Error {
    if (e instanceof GradgraphError) {
      if (e.origin) return e;
      const Ctor = e.constructor as new (d: string, c: object) => GradgraphError;
      return new Ctor(e.detail, this.ctx(op, types));
    }
    const err = new OpDefError(`its attribute or shape rule threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, this.ctx(op, types));
    (err as { cause?: unknown }).cause = e;
    return err;
  }

  private addNode(op: string, inputs: number[], attrs: Attrs, type: TypeInfo): Sym {
    const key = nodeKey(op, inputs, attrs, type.dtype) ?? `${op}#unique${this._uniqueConst++}`;
    const hit = this._cons.get(key);
    if (hit !== undefined) return new Sym(this, hit);
    const id = this._nodes.length;
    const node: Node = Object.freeze({
      id,
      op,
      inputs: Object.freeze(inputs),
      attrs,
      type: Object.freeze({ dtype: type.dtype, shape: Object.freeze([...type.shape]) }),
      scope: this.currentScope,
      origin: this._origin ?? captureOrigin(),
      ...(this._adjoint !== undefined ? { adjointOf: this._adjoint } : {}),
    });
    this._nodes.push(node);
    this._cons.set(key, id);
    return new Sym(this, id);
  }

  /**
   * Appends a JSON-able item to a named collection of this graph (like TensorFlow's graph
   * collections). Libraries keep per-graph metadata here — e.g. `nn` records batchNorm's state
   * update pairs and param roles — and it is saved by `toJSON()`. Refer to nodes by id.
   * @example g.addToCollection('nn/stateUpdates', [runningMean.id, newMean.id]);
   */
  addToCollection(name: string, item: CollectionItem): void {
    if (typeof name !== 'string' || !name) throw new GraphError('a collection needs a non-empty name', { op: 'addToCollection', origin: captureOrigin() });
    let json: string | undefined;
    try {
      json = JSON.stringify(item);
    } catch {
      json = undefined;
    }
    if (json === undefined) throw new GraphError(`items of collection "${name}" must be JSON-able (numbers, strings, arrays, plain objects)`, { op: 'addToCollection', origin: captureOrigin() });
    let list = this._collections.get(name);
    if (!list) this._collections.set(name, (list = []));
    list.push(JSON.parse(json) as CollectionItem);
  }

  /** The items of a named collection, in insertion order (a copy; empty when it doesn't exist). */
  collection(name: string): CollectionItem[] {
    return (this._collections.get(name) ?? []).map((x) => structuredClone(x));
  }

  /** Names of the non-empty collections. */
  collectionNames(): string[] {
    return [...this._collections.keys()];
  }

  /**
   * Keeps a program in the graph under `name` — its inputs, named outputs, update pairs and any
   * JSON notes — so that `toJSON()` saves it and, after `Graph.fromJSON`, `compile(g,
   * g.program(name))` compiles the same program over the same param and state values (an
   * optimizer's moments included). Takes a spec or an `Executable` compiled from this graph (its
   * program as requested, before optimization). Saving under a name again replaces it.
   * @example
   * g.saveProgram('train', { outputs: { loss, accuracy }, updates: opt.updates(params, grads) });
   * // later, in another process:
   * const g2 = Graph.fromJSON(text);
   * const step = compile(g2, g2.program('train'));  // the same moments, the same step count
   */
  saveProgram(name: string, spec: ProgramSpec | { readonly graph: Graph; readonly source: { readonly outputs: readonly number[]; readonly updates: readonly (readonly [number, number])[]; readonly nodes: Readonly<Record<number, Node>> } }): SavedProgram {
    const op = 'saveProgram';
    const bad = (detail: string) => new GraphError(detail, { op, origin: captureOrigin() });
    if (typeof name !== 'string' || !name) throw bad(`a program needs a non-empty name, got ${describe(name)}`);
    if (!spec || typeof spec !== 'object') throw bad(`expects { outputs, updates?, inputs?, meta? } or an Executable, got ${describe(spec)}`);
    let record: ProgramRecord;
    if ('source' in spec && 'graph' in spec) {
      if (spec.graph !== this) throw bad('the executable was compiled from another graph');
      const src = spec.source;
      const inputs = Object.values(src.nodes).filter((n) => n.op === 'input').map((n) => n.id).sort((a, b) => a - b);
      record = { inputs, outputs: [...src.outputs], outputNames: src.outputs.map((_, i) => `out${i}`), updates: src.updates.map(([p, v]) => [p, v] as const), meta: null };
    } else {
      const s = spec as ProgramSpec;
      for (const k of Object.keys(s)) if (!['inputs', 'outputs', 'updates', 'meta'].includes(k)) throw bad(`unknown option "${k}"; expected inputs, outputs, updates, meta`);
      const sym = (v: unknown, what: string): number => {
        if (!(v instanceof Sym) || v.graph !== this) throw bad(`${what} is not a symbol of this graph`);
        return v.id;
      };
      const outs = Array.isArray(s.outputs) ? (s.outputs as Sym[]).map((o, i) => [`out${i}`, o] as const) : s.outputs && typeof s.outputs === 'object' ? Object.entries(s.outputs) : undefined;
      if (!outs) throw bad('outputs must be an array or a record of symbols');
      const inputs = (s.inputs ?? []).map((x, i) => {
        const id = sym(x, `inputs[${i}]`);
        if (this._nodes[id].op !== 'input') throw bad(`inputs[${i}] is a ${this._nodes[id].op} node, not an input`);
        return id;
      });
      if (!Array.isArray(s.updates ?? [])) throw bad('updates must be an array of [param, value] pairs');
      const targets = new Set<number>();
      const updates = (s.updates ?? []).map((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw bad(`update ${i} is not a [param, value] pair`);
        const p = sym(pair[0], `update ${i}'s target`);
        const v = sym(pair[1], `update ${i}'s value`);
        const pn = this._nodes[p];
        if (pn.op !== 'param') throw bad(`update ${i}: the target %${p} is a ${pn.op} node, not a param`);
        const vt = this._nodes[v].type;
        if (vt.dtype !== pn.type.dtype || vt.shape.length !== pn.type.shape.length || !vt.shape.every((d, k) => d === null || d === pn.type.shape[k])) throw bad(`update ${i}: the new value for "${String(pn.attrs.name)}" is ${fmtType(vt)}, the param is ${fmtType(pn.type)}`);
        if (targets.has(p)) throw bad(`"${String(pn.attrs.name)}" is updated twice`);
        targets.add(p);
        return [p, v] as const;
      });
      let meta: CollectionItem | null = null;
      if (s.meta !== undefined) {
        let json: string | undefined;
        try {
          json = JSON.stringify(s.meta);
        } catch {
          json = undefined;
        }
        if (json === undefined) throw bad('meta must be JSON-able (numbers, strings, arrays, plain objects)');
        meta = JSON.parse(json) as CollectionItem;
      }
      record = { inputs, outputs: outs.map(([n, o]) => sym(o, `output "${n}"`)), outputNames: outs.map(([n]) => n), updates, meta };
    }
    this._programs.set(name, record);
    return this.program(name);
  }

  /**
   * The program saved under `name` (see {@link saveProgram}), as symbols of this graph; pass it
   * to `compile` as it is.
   * @example const exe = compile(g, g.program('train')); exe.run(feeds);
   */
  program(name: string): SavedProgram {
    const r = this._programs.get(name);
    if (!r) {
      const names = [...this._programs.keys()];
      throw new GraphError(`no program is saved under ${JSON.stringify(name)}; ${names.length ? `the graph has ${names.map((n) => JSON.stringify(n)).join(', ')}` : 'the graph has none (save one with g.saveProgram)'}`, { op: 'program', origin: captureOrigin() });
    }
    const outputs = r.outputs.map((id) => new Sym(this, id));
    const named: Record<string, Sym> = {};
    r.outputNames.forEach((n, i) => Object.defineProperty(named, n, { value: outputs[i], enumerable: true }));
    // inputs, outputs and updates are compile options (enumerable: `{ ...g.program(n), nanGuard }`
    // works); the rest is not, so compile's check for unknown options passes
    const program = { inputs: r.inputs.map((id) => new Sym(this, id)), outputs, updates: r.updates.map(([p, v]) => [new Sym(this, p), new Sym(this, v)] as const) };
    Object.defineProperties(program, {
      name: { value: name },
      outputNames: { value: Object.freeze([...r.outputNames]) },
      named: { value: Object.freeze(named) },
      meta: { value: r.meta === null ? null : structuredClone(r.meta) },
    });
    return Object.freeze(program) as unknown as SavedProgram;
  }

  /** Names of the saved programs, in the order they were first saved. */
  programNames(): string[] {
    return [...this._programs.keys()];
  }

  /** The saved programs as node ids (for `toJSON`). @internal */
  _programRecords(): ReadonlyMap<string, ProgramRecord> {
    return this._programs;
  }

  /** Runs `fn` so that every node it creates records `adjointOf: forwardId` (used by `grad`). */
  withAdjoint<T>(forwardId: number | undefined, fn: () => T): T {
    const prev = this._adjoint;
    this._adjoint = forwardId;
    try {
      return fn();
    } finally {
      this._adjoint = prev;
    }
  }

  /**
   * Runs `fn` so that every node it creates records `origin` instead of the caller's source line.
   * For importers: a node built from a file points at its place in the file, so errors and viz
   * name the file's node rather than the importer's call.
   * @example g.withOrigin('model.onnx: node "/fc1/Gemm"', () => x.matmul(w));
   */
  withOrigin<T>(origin: string, fn: () => T): T {
    if (typeof origin !== 'string' || !origin) throw new GraphError('an origin must be a non-empty string', { op: 'withOrigin', origin: captureOrigin() });
    const prev = this._origin;
    this._origin = origin;
    try {
      return fn();
    } finally {
      this._origin = prev;
    }
  }

  /**
   * Fills an empty graph with checked nodes and values (used by `Graph.fromJSON`).
   * @internal
   */
  _load(nodes: readonly Node[], values: ReadonlyMap<string, Tensor>, rngCounter: number, collections: Readonly<Record<string, readonly CollectionItem[]>> = {}, programs: ReadonlyMap<string, ProgramRecord> = new Map()): void {
    if (this._nodes.length) throw new GraphError('can only load into an empty graph', { op: 'Graph.fromJSON' });
    for (const node of nodes) {
      const key = nodeKey(node.op, node.inputs, node.attrs, node.type.dtype) ?? `${node.op}#unique${this._uniqueConst++}`;
      this._nodes.push(node);
      if (!this._cons.has(key)) this._cons.set(key, node.id);
      const name = node.attrs.name as string;
      if (node.op === 'input') this._inputs.set(name, node.id);
      if (node.op === 'param') {
        if (this._vars.has(name)) throw new GraphError(`two params are named "${name}"`, { op: 'Graph.fromJSON' });
        this._vars.set(name, node.id);
        this._values.set(node.id, values.get(name)!.clone());
      }
      if (typeof node.attrs.key === 'string') this._keys.add(node.attrs.key);
    }
    this.rngCounter = rngCounter;
    for (const [name, items] of Object.entries(collections)) for (const item of items) this.addToCollection(name, item);
    for (const [name, r] of programs) this._programs.set(name, r);
  }

  /**
   * What `console.log(g)` shows: the seed, the node count, the inputs and the params — not every
   * node and value (`printProgram`, `toDot` and `g.toJSON()` show those).
   * @example console.log(g); // Graph(seed 42: 191 nodes; inputs x float32[?,784], y int32[?]; 6 params (50,890 values); 13 state)
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const inputs = this.inputs().map((s) => `${s.name} ${fmtType(s.node.type)}`);
    const params = this.params();
    const values = params.reduce((a, p) => a + p.shape.reduce<number>((m, d) => m * (d ?? 1), 1), 0);
    const state = this.stateVars().length;
    return `Graph(seed ${this.seed}: ${this._nodes.length} node${this._nodes.length === 1 ? '' : 's'}; inputs ${inputs.join(', ') || 'none'}; ${params.length} param${params.length === 1 ? '' : 's'} (${values.toLocaleString('en-US')} values)${state ? `; ${state} state` : ''})`;
  }

  /** This graph as a JSON-able document: nodes, param values, seed and RNG counter. */
  toJSON(): GraphDocument {
    return graphToJSON(this);
  }

  /** Loads a graph saved with `toJSON()`; a corrupt or mismatched document throws `SerializationError`. */
  static fromJSON(doc: GraphDocument | string): Graph {
    return graphFromJSON(doc);
  }

  // ---- reading ---------------------------------------------------------------------------

  node(id: number): Node {
    const n = this._nodes[id];
    if (!n) throw new GraphError(`no node %${id} in this graph`);
    return n;
  }

  sym(id: number): Sym {
    this.node(id);
    return new Sym(this, id);
  }

  /** Every node, in creation order (which is a topological order). */
  get nodes(): readonly Node[] {
    return this._nodes.slice();
  }

  get size(): number {
    return this._nodes.length;
  }

  /** Trainable params, in creation order. */
  params(): Sym[] {
    return this.variables().filter((s) => s.node.attrs.trainable !== false);
  }

  /** Non-trainable state (optimizer moments, running statistics), in creation order. */
  stateVars(): Sym[] {
    return this.variables().filter((s) => s.node.attrs.trainable === false);
  }

  /** Params and state, in creation order. */
  variables(): Sym[] {
    return [...this._vars.values()].map((id) => new Sym(this, id));
  }

  inputs(): Sym[] {
    return [...this._inputs.values()].map((id) => new Sym(this, id));
  }

  /** The input or param/state named `name`, or undefined. */
  byName(name: string): Sym | undefined {
    const id = this._inputs.get(name) ?? this._vars.get(name);
    return id === undefined ? undefined : new Sym(this, id);
  }

  // ---- values ----------------------------------------------------------------------------

  /** A copy of a param's current value. */
  getValue(p: Sym | string): Tensor {
    return this.storage(p).clone();
  }

  /** Overwrites a param's value in place (every executable sees it). Shape and dtype must match. */
  setValue(p: Sym | string, value: Tensor): void {
    const st = this.storage(p);
    const name = typeof p === 'string' ? p : (p.node.attrs.name as string);
    if (!(value instanceof Tensor) || value.dtype !== st.dtype || !shapeEq(value.shape, st.shape)) {
      throw new UpdateError(`value for "${name}" is ${value instanceof Tensor ? fmtType(value) : describe(value)}, expected ${fmtType(st)}`, { op: 'setValue', origin: captureOrigin() });
    }
    st.data.set(value.data);
  }

  /**
   * The live storage of a param: executables read and write it in place. For executors and
   * optimizers' tests; prefer `getValue`/`setValue`.
   */
  storage(p: Sym | string): Tensor {
    const id = typeof p === 'string' ? this._vars.get(p) : p.graph === this && p.node.op === 'param' ? p.id : undefined;
    const t = id === undefined ? undefined : this._values.get(id);
    if (!t) throw new UpdateError(`${typeof p === 'string' ? `"${p}"` : `node %${p.id} (${p.node.op})`} is not a param of this graph`, { op: 'storage', origin: captureOrigin() });
    return t;
  }

  /**
   * Moves a param's (or state's) values into `data`, which becomes its storage: `g.storage(p)` is
   * still the same Tensor, and its `data` is now `data` (same dtype and length). The current
   * values are copied over, unless the old array is detached (a WebAssembly memory that grew:
   * then `data` is where the values already are) or `copy` is false (the caller knows `data`
   * holds them: a fresh zero block for zero state). Back ends use it to keep params in their own
   * memory between runs — the wasm back end moves float32 params into its WebAssembly memory — and
   * every executable compiled from the graph re-binds to the new storage before its next run
   * (`storageVersion` counts moves). Hold the storage Tensor, not its `data`, across runs.
   * @example g.moveStorage('w', new Float32Array(sharedBuffer, offset, g.storage('w').size));
   */
  moveStorage(p: Sym | string, data: TypedArray, opts: { copy?: boolean } = {}): Tensor {
    const st = this.storage(p);
    const name = typeof p === 'string' ? p : (p.node.attrs.name as string);
    // by the shape: a detached array's length (st.size) is 0
    const size = sizeOf(st.shape);
    if (!ArrayBuffer.isView(data) || dtypeOfArray(data) !== st.dtype || (st.dtype === 'bool' && !(data instanceof Uint8Array)) || data.length !== size) {
      const got = ArrayBuffer.isView(data) ? `a ${data.constructor.name} of ${(data as TypedArray).length}` : describe(data);
      throw new UpdateError(`storage for "${name}" must be ${st.dtype} data of ${size} elements, got ${got}`, { op: 'moveStorage', dtypes: [st.dtype], origin: captureOrigin() });
    }
    const old = st.data;
    // a detached array has length 0: its values are already where `data` looks; `copy: false`
    // says `data` holds the values already (the wasm back end's fresh, zero blocks for zero state)
    if (opts.copy !== false && old !== data && old.length === data.length) data.set(old);
    // the storage Tensor stays the same object, so every holder of it sees the move
    (st as { data: TypedArray }).data = data;
    this._storageVersion++;
    return st;
  }

  /** How many times a param's storage was moved (`moveStorage`): executables re-bind when it changes. */
  get storageVersion(): number {
    return this._storageVersion;
  }

  /** A deep copy of every param and state value and the RNG counter. */
  snapshot(): GraphState {
    const values = new Map<string, Tensor>();
    for (const [name, id] of this._vars) values.set(name, this._values.get(id)!.clone());
    return { values, rngCounter: this.rngCounter };
  }

  /**
   * Restores a snapshot. Every name, shape and dtype is checked before anything is written, so a
   * bad snapshot leaves the graph untouched. Names missing from the snapshot keep their values
   * unless `strict` is set.
   */
  restore(state: GraphState, opts: { strict?: boolean } = {}): void {
    for (const [name, t] of state.values) {
      const id = this._vars.get(name);
      if (id === undefined) throw new UpdateError(`snapshot has "${name}", which is not a param of this graph`, { op: 'restore' });
      const st = this._values.get(id)!;
      if (!(t instanceof Tensor) || t.dtype !== st.dtype || !shapeEq(t.shape, st.shape)) {
        throw new UpdateError(`snapshot value for "${name}" is ${t instanceof Tensor ? fmtType(t) : describe(t)}, expected ${fmtType(st)}`, { op: 'restore' });
      }
    }
    if (opts.strict) {
      for (const name of this._vars.keys()) if (!state.values.has(name)) throw new UpdateError(`snapshot lacks "${name}"`, { op: 'restore' });
    }
    if (!Number.isInteger(state.rngCounter) || state.rngCounter < 0) throw new UpdateError(`snapshot rngCounter ${state.rngCounter} is not a non-negative integer`, { op: 'restore' });
    for (const [name, t] of state.values) this._values.get(this._vars.get(name)!)!.data.set(t.data);
    this.rngCounter = state.rngCounter;
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `${typeof x} ${String(x)}`;
}

/**
 * A symbolic value: a handle to a node of a graph. Methods chain and build new nodes:
 * `x.matmul(w).add(b).tanh().sum()`. Plain numbers are accepted as operands and take the
 * partner's dtype (weak typing).
 */
export class Sym {
  constructor(
    readonly graph: Graph,
    readonly id: number,
  ) {}

  get node(): Node {
    return this.graph.node(this.id);
  }
  get shape(): SymShape {
    return this.node.type.shape;
  }
  get dtype(): DType {
    return this.node.type.dtype;
  }
  get rank(): number {
    return this.node.type.shape.length;
  }
  get op(): string {
    return this.node.op;
  }
  /** The name of an input or param. */
  get name(): string | undefined {
    return this.node.attrs.name as string | undefined;
  }
  /** True when every dim is known before run time. */
  get isStatic(): boolean {
    return isStatic(this.shape);
  }
  toString(): string {
    return `Sym(%${this.id} ${this.op}: ${fmtType(this.node.type)})`;
  }

  /**
   * What `console.log(sym)` shows — the node, not the whole graph: id, op with its inputs and
   * attributes, type, scope and the source line that made it.
   * @example console.log(h); // Sym %9 = matmul %0, %7 {transposeA=false transposeB=false} : float32[?,16]  scope "hidden/dense"  at model.ts:12:19
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const n = this.node;
    return `Sym ${fmtNode(n)}${n.scope ? `  scope ${JSON.stringify(n.scope)}` : ''}${n.adjointOf !== undefined ? `  adjoint of %${n.adjointOf}` : ''}${n.origin && n.origin !== '<unknown>' ? `  at ${n.origin}` : ''}`;
  }

  add(b: Operand): Sym { return api.add(this, b); }
  sub(b: Operand): Sym { return api.sub(this, b); }
  mul(b: Operand): Sym { return api.mul(this, b); }
  div(b: Operand): Sym { return api.div(this, b); }
  pow(b: Operand): Sym { return api.pow(this, b); }
  maximum(b: Operand): Sym { return api.maximum(this, b); }
  minimum(b: Operand): Sym { return api.minimum(this, b); }
  greater(b: Operand): Sym { return api.greater(this, b); }
  greaterEqual(b: Operand): Sym { return api.greaterEqual(this, b); }
  less(b: Operand): Sym { return api.less(this, b); }
  lessEqual(b: Operand): Sym { return api.lessEqual(this, b); }
  equal(b: Operand): Sym { return api.equal(this, b); }
  notEqual(b: Operand): Sym { return api.notEqual(this, b); }
  logicalAnd(b: Operand): Sym { return api.logicalAnd(this, b); }
  logicalOr(b: Operand): Sym { return api.logicalOr(this, b); }
  logicalNot(): Sym { return api.logicalNot(this); }
  neg(): Sym { return api.neg(this); }
  exp(): Sym { return api.exp(this); }
  log(): Sym { return api.log(this); }
  tanh(): Sym { return api.tanh(this); }
  sigmoid(): Sym { return api.sigmoid(this); }
  abs(): Sym { return api.abs(this); }
  sign(): Sym { return api.sign(this); }
  log1p(): Sym { return api.log1p(this); }
  expm1(): Sym { return api.expm1(this); }
  sqrt(): Sym { return api.sqrt(this); }
  rsqrt(): Sym { return api.rsqrt(this); }
  sin(): Sym { return api.sin(this); }
  cos(): Sym { return api.cos(this); }
  softplus(): Sym { return api.softplus(this); }
  reciprocal(): Sym { return api.reciprocal(this); }
  erf(): Sym { return math.erf(this); }
  erfc(): Sym { return math.erfc(this); }
  tan(): Sym { return math.tan(this); }
  asin(): Sym { return math.asin(this); }
  acos(): Sym { return math.acos(this); }
  atan(): Sym { return math.atan(this); }
  sinh(): Sym { return math.sinh(this); }
  cosh(): Sym { return math.cosh(this); }
  asinh(): Sym { return math.asinh(this); }
  acosh(): Sym { return math.acosh(this); }
  atanh(): Sym { return math.atanh(this); }
  square(): Sym { return api.square(this); }
  cast(dtype: DType): Sym { return api.cast(this, dtype); }
  sum(axes?: number | readonly number[], keepDims?: boolean): Sym { return api.sum(this, axes, keepDims); }
  mean(axes?: number | readonly number[], keepDims?: boolean): Sym { return api.mean(this, axes, keepDims); }
  max(axes?: number | readonly number[], keepDims?: boolean): Sym { return api.max(this, axes, keepDims); }
  min(axes?: number | readonly number[], keepDims?: boolean): Sym { return api.min(this, axes, keepDims); }
  logsumexp(axes?: number | readonly number[], keepDims?: boolean): Sym { return api.logsumexp(this, axes, keepDims); }
  argmax(axis = -1): Sym { return api.argmax(this, axis); }
  argmin(axis = -1): Sym { return api.argmin(this, axis); }
  matmul(b: Sym, opts?: api.MatmulOptions): Sym { return api.matmul(this, b, opts); }
  reshape(shape: readonly number[]): Sym { return api.reshape(this, shape); }
  transpose(perm?: readonly number[]): Sym { return api.transpose(this, perm); }
  /** Swaps the last two axes. */
  get T(): Sym { return api.transpose(this); }
  broadcastTo(shape: readonly number[]): Sym { return api.broadcastTo(this, shape); }
  expandDims(axes: number | readonly number[]): Sym { return api.expandDims(this, axes); }
  squeeze(axes?: number | readonly number[]): Sym { return api.squeeze(this, axes); }
  slice(begin: readonly number[], size?: readonly number[]): Sym { return api.slice(this, begin, size); }
  gather(indices: Sym, axis = 0): Sym { return api.gather(this, indices, axis); }
  pad(pads: readonly (readonly [number, number])[], value = 0): Sym { return api.pad(this, pads, value); }
  softmax(axis = -1): Sym { return api.softmax(this, axis); }
  logSoftmax(axis = -1): Sym { return api.logSoftmax(this, axis); }
  stopGradient(): Sym { return api.stopGradient(this); }
}

/** Throws if a shape check fails at build time; used by builders outside core too. */
export function assertShape(s: Sym, shape: SymShape, what: string): void {
  if (s.rank !== shape.length || !s.shape.every((d, i) => d === null || shape[i] === null || d === shape[i])) {
    throw new ShapeError(`${what} must have shape ${fmtShape(shape)}, got ${fmtShape(s.shape)}`, { op: what, shapes: [s.shape], origin: captureOrigin() });
  }
}
