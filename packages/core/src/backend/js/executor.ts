/**
 * The compiled JavaScript backend: runs a lowered program (see `compiler/lower.ts`) as generated
 * JavaScript over one arena — and the machinery every compiled back end shares (the wasm back end
 * builds on it: `CompiledExecutor`, `Specialization`, `Places`, `makeKernel`, `makeRunner`).
 *
 * At the first run with a given set of feed shapes (a *specialization*), it infers every concrete
 * type (shape errors are thrown here, with the op, scope and source line, before anything runs),
 * plans fusion and memory again for those shapes when the program has open dims, allocates the
 * arena (one `ArrayBuffer`), fills the constants, generates or fetches every kernel specialized to
 * its shapes, and generates a runner: one straight-line function that calls the kernels with
 * their arrays and constant offsets. Specializations are cached per shape signature.
 *
 * A run then validates the feeds (the same checks and errors as `validateFeeds`), finds its
 * specialization by comparing dims (no allocation, no map lookup when the shapes repeat), calls
 * the runner, copies the outputs into fresh tensors and writes the staged param updates. It
 * allocates nothing but the returned tensors — except reference kernels (ops without generated
 * code: gather, argmax, user ops, ...), which allocate their results as the interpreter does.
 *
 * A specialization binds param storages when it is made; when a storage moves (`g.moveStorage`,
 * which the wasm back end does to keep params in its memory), it re-binds before its next run.
 *
 * For another back end, subclass `CompiledExecutor` (the feeds, the cache of specializations,
 * run) and `Specialization` (override `arena` for the arena's memory and `makeRunner` for how
 * kernels run; `makeKernel` makes the JS callable of any kernel, over any arena views).
 */
import { bytesPer, isFloat, type DType, type TypedArray } from '../../dtype';
import { GraphError, NonFiniteError, OpDefError, UpdateError } from '../../errors';
import type { Graph } from '../../graph';
import { fmtType, type Node, type Program, type TypeInfo } from '../../ir';
import { cachedTopoOrder, firstNonFinite, nodeError, nonFiniteError } from '../../interpreter';
import { fillNormal, fillUniform, streamKey } from '../../random';
import { fail, getOp, type ConcreteType } from '../../registry';
import { broadcastShapes, fmtShape, isStatic, shapeEq, sizeOf, type Shape } from '../../shape';
import { Tensor } from '../../tensor';
import { dataInputs, stripLeadingOnes, type FusionPlan } from '../../compiler/fuse';
import { capabilities } from '../../lowering';
import './lowerings';
import type { JsLowering } from './lowerings';
import { formatKernels, formatMemory, lowerProgram, type LoweredKernel, type LoweredProgram } from '../../compiler/lower';
import type { Location } from '../../compiler/memory';
import { compileElementwise, ew, type Expr } from './elementwise';
import { makeMatmul, MatmulScratch } from './matmul';
import { makeRowKernel } from './rows';
import { Workspace } from './conv';

/** Feeds as `validateFeeds` returns them: tensors by input node id. */
export type Validate = (feeds: unknown) => Map<number, Tensor>;

export interface JsBackendOptions {
  readonly nanGuard?: boolean;
  /**
   * Float32 tanh and softplus use float32-accurate forms that share an exponential (see `fastMath`
   * in elementwise.ts). Default true; false makes every float32 loop bit-equal to the interpreter.
   */
  readonly fastMath?: boolean;
}

/** At most this many specializations are kept (least recently used first out). */
export const MAX_SPECIALIZATIONS = 16;

type Kernel = (...args: any[]) => void;

/** The concrete type of every node for these feed shapes; throws the interpreter's shape errors. */
function concreteTypes(program: Program, feedShape: (id: number) => Shape): TypeInfo[] {
  const types: TypeInfo[] = [];
  for (const id of cachedTopoOrder(program)) {
    const node = program.nodes[id];
    if (node.op === 'input') {
      types[id] = { dtype: node.type.dtype, shape: feedShape(id) };
      continue;
    }
    if (node.inputs.length === 0 && (node.op === 'param' || node.op === 'constant')) {
      types[id] = node.type;
      continue;
    }
    const ins = node.inputs.map((i) => types[i] as ConcreteType);
    try {
      // the shape rules check what the reference kernels would, for concrete shapes
      const def = getOp(node.op);
      const t = def.infer(ins, node.attrs);
      if (!isStatic(t.shape)) throw new OpDefError(`shape rule gave ${fmtShape(t.shape)} for concrete inputs`);
      types[id] = { dtype: t.dtype, shape: t.shape };
    } catch (e) {
      throw nodeError(e, node, ins);
    }
  }
  return types;
}

const ARRAY_NAME: Record<DType, string> = { float32: 'A_f32', float64: 'A_f64', int32: 'A_i32', bool: 'A_u8' };

/** Where a specialization's values are: operands for generated calls, arrays and tensors for closures. */
export class Places {
  /** Param storages the runner reads, as `P0`, `P1`, ... */
  readonly params: TypedArray[] = [];
  private readonly paramIndex = new Map<number, number>();

  constructor(
    private readonly program: Program,
    private readonly graph: Graph,
    private readonly lowered: LoweredProgram,
    readonly views: Record<DType, TypedArray>,
  ) {}

  types(id: number): TypeInfo {
    return this.lowered.fusion.types(id);
  }

  get fusion(): FusionPlan {
    return this.lowered.fusion;
  }

  baseOf(id: number): number {
    return this.lowered.fusion.aliasOf.get(id) ?? id;
  }

  locOf(id: number): Location {
    const mem = this.lowered.memory;
    const loc = mem.locations.get(id) ?? mem.locations.get(this.baseOf(id));
    if (!loc) throw new GraphError(`node %${id} (${this.program.nodes[id].op}) has no place in memory`, { op: 'backend.js', node: id });
    return loc;
  }

  paramData(p: number): TypedArray {
    return this.graph.storage(String(this.program.nodes[p].attrs.name)).data;
  }

  /** The JS expression of a node's array and the element offset of its first element. */
  operand(id: number): [string, number] {
    const loc = this.locOf(id);
    const dtype = this.types(id).dtype;
    if (loc.kind === 'feed') return [`F[${loc.input}]`, 0];
    if (loc.kind === 'param') {
      let j = this.paramIndex.get(loc.node);
      if (j === undefined) {
        j = this.params.length;
        this.params.push(this.paramData(loc.node));
        this.paramIndex.set(loc.node, j);
      }
      return [`P${j}`, 0];
    }
    return [ARRAY_NAME[dtype], this.lowered.memory.buffers[loc.buffer].offset / bytesPer(dtype)];
  }

  /** The view of an arena buffer that holds `count` elements of `dtype`. */
  bufferView(buffer: number, dtype: DType, count: number): TypedArray {
    const at = this.lowered.memory.buffers[buffer].offset / bytesPer(dtype);
    return this.views[dtype].subarray(at, at + count);
  }

  /** The node's elements as a typed array for closures (feeds: this run's tensor). */
  dataOf(id: number): (T: Tensor[]) => TypedArray {
    const loc = this.locOf(id);
    if (loc.kind === 'feed') return (T) => T[loc.input].data;
    const d = loc.kind === 'param' ? this.paramData(loc.node) : this.bufferView(loc.buffer, this.types(id).dtype, sizeOf(this.types(id).shape as Shape));
    return () => d;
  }

  /** The node's value as a tensor for reference kernels (feeds: this run's tensor, in the node's shape). */
  tensorOf(id: number): (T: Tensor[]) => Tensor {
    const t = this.types(id);
    const loc = this.locOf(id);
    if (loc.kind === 'feed') return (T) => (shapeEq(T[loc.input].shape, t.shape) ? T[loc.input] : new Tensor(t.dtype, t.shape as Shape, T[loc.input].data));
    const fixed = new Tensor(t.dtype, t.shape as Shape, this.dataOf(id)([]));
    return () => fixed;
  }
}

/** One kernel ready to call: the function and the runner's line that calls it. */
export interface Callable {
  readonly fn: unknown;
  readonly args: readonly (string | number)[];
}

/**
 * The sizes, transposes, batch shapes and epilogue of a matmul kernel (both compiled back ends
 * make their matmul from it): C[m, n] = op(A)[m, k] · op(B)[k, n].
 */
export function matmulShapeOf(program: Program, k: LoweredKernel, types: (id: number) => TypeInfo) {
  const mm = k.matmul!;
  const node = program.nodes[mm.node];
  const [a, b] = node.inputs;
  const as = types(a).shape as Shape;
  const bs = types(b).shape as Shape;
  const ta = !!node.attrs.transposeA;
  const tb = !!node.attrs.transposeB;
  return {
    m: ta ? as[as.length - 1] : as[as.length - 2],
    k: ta ? as[as.length - 2] : as[as.length - 1],
    n: tb ? bs[bs.length - 2] : bs[bs.length - 1],
    transposeA: ta,
    transposeB: tb,
    batchA: as.slice(0, -2),
    batchB: bs.slice(0, -2),
    bias: mm.bias !== undefined,
    activation: mm.activation?.op,
  };
}

/** Makes the JS callable of kernel `i` for a specialization (over the views `places` has). */
export function makeKernel(k: LoweredKernel, i: number, places: Places, ctx: KernelContext): Callable {
  const { program, graph } = ctx;
  const types = (id: number) => places.types(id);
  switch (k.kind) {
    case 'elementwise': {
      const { spec, slots } = elementwiseSpec(program, k, places.fusion, (id) => places.baseOf(id), ctx.exact);
      const args = [...slots.flatMap((x) => places.operand(x)), ...k.outputs.flatMap((o) => places.operand(o)), ...(k.reduce ? places.operand(k.reduce.node) : [])];
      return { fn: compileElementwise(spec).fn, args };
    }
    case 'matmul': {
      const mm = k.matmul!;
      const [a, b] = program.nodes[mm.node].inputs;
      const kernel = makeMatmul({ ...matmulShapeOf(program, k, types), dtype: types(mm.node).dtype as 'float32' | 'float64', scratch: ctx.scratch });
      return { fn: kernel, args: [...places.operand(a), ...places.operand(b), ...places.operand(k.outputs[0]), ...(mm.bias !== undefined ? places.operand(mm.bias) : [])] };
    }
    case 'row': {
      const node = program.nodes[k.nodes[0]];
      const x = types(node.inputs[0]).shape as Shape;
      const op = jsLowering(node).impl!.row!;
      const kernel = makeRowKernel({ op, dtype: node.type.dtype as 'float32' | 'float64', rows: sizeOf(x.slice(0, -1)), cols: x[x.length - 1] });
      // the row kernel reads x, and a target row when there is one
      return { fn: kernel, args: [...places.operand(node.inputs[0]), ...places.operand(node.id), ...node.inputs.slice(1).flatMap((t) => places.operand(t))] };
    }
    case 'random': {
      // the interpreter's fills and stream keys: the same numbers
      const node = program.nodes[k.nodes[0]];
      const out = places.dataOf(node.id)([]);
      const { seed } = graph;
      const key = node.attrs.key as string;
      const dtype = node.type.dtype;
      const fillFrom = jsLowering(node).impl!.fill!;
      const fill = (c: number) => fillFrom(out, dtype, streamKey(seed, key, c), node.attrs);
      return { fn: fill, args: ['c'] };
    }
    case 'custom': {
      // a kernel of its own (conv, pooling): data inputs, then the result, each an array and an offset
      const node = program.nodes[k.nodes[0]];
      const fn = jsLowering(node).impl!.custom!(node, types, ctx.workspace);
      return { fn, args: [...dataInputs(node, 'custom').flatMap((x) => places.operand(x)), ...places.operand(node.id)] };
    }
    case 'reference':
      return { fn: referenceKernel(program.nodes[k.nodes[0]], types, (id) => places.tensorOf(id), (id) => places.dataOf(id), graph), args: ['F', 'T', 'c'] };
    case 'copy': {
      // a staged update value: copied before any kernel writes a param
      const from = k.copy!.from;
      const dst = places.bufferView(ctx.staged.get(i)!, types(from).dtype, sizeOf(types(from).shape as Shape));
      const src = places.dataOf(from);
      return { fn: (_F: TypedArray[], T: Tensor[]) => dst.set(src(T)), args: ['F', 'T'] };
    }
  }
}

/** Calls every kernel of a specialization in order: feed arrays, feed tensors, the RNG run counter. */
export type Runner = (F: TypedArray[], T: Tensor[], c: number) => void;

/** The arena's views, one per dtype, each starting at the arena's first byte. */
export type ArenaViews = Record<DType, TypedArray>;

/** What a specialization's kernels are made with (see `makeKernel`). */
export interface KernelContext {
  readonly program: Program;
  readonly graph: Graph;
  readonly scratch: MatmulScratch;
  /** Scratch space conv and pooling kernels share (one per specialization, kept across binds). */
  readonly workspace: Workspace;
  readonly exact: boolean;
  readonly staged: ReadonlyMap<number, number>;
}

/**
 * One compiled form of the program, for one set of feed shapes: its plan, its arena, and a runner
 * bound to the arena and the param storages. A back end subclasses it (`arena`, `makeRunner`,
 * `dispose`) and calls `init()` after constructing it.
 */
export class Specialization {
  readonly lowered: LoweredProgram;
  readonly types: (id: number) => TypeInfo;
  readonly signature: string;
  /** Dims of the open feed dims this specialization is for. */
  readonly dims: Int32Array;
  readonly program: Program;
  readonly graph: Graph;
  readonly nanGuard: boolean;
  readonly exact: boolean;
  runner!: Runner;
  protected views!: ArenaViews;
  protected places!: Places;
  private outputReaders: { dtype: DType; shape: Shape; read: (T: Tensor[]) => TypedArray }[] = [];
  private commits: { dst: TypedArray; read: (T: Tensor[]) => TypedArray }[] = [];
  /** The graph's storage version the runner was bound at. */
  private boundVersion = -1;
  /** Conv and pooling kernels' scratch, made once (not per run, not per bind). */
  private readonly workspace = new Workspace();

  constructor(exec: CompiledExecutor, typesById: TypeInfo[] | null, dims: Int32Array, signature: string) {
    // keep what the runs need, not the executor (a wasm executable is freed when it is collected)
    this.program = exec.program;
    this.graph = exec.graph;
    this.nanGuard = exec.nanGuard;
    this.exact = exec.exactFloat32;
    this.dims = dims;
    this.signature = signature;
    const inPlace = !this.nanGuard;
    const backend = exec.loweringTarget;
    this.lowered = typesById ? lowerProgram(this.program, { types: (id) => typesById[id], inPlace, backend }) : lowerProgram(this.program, { inPlace, backend });
    this.types = this.lowered.fusion.types;
  }

  /** Allocates the arena, fills the constants (once) and binds the runner. */
  init(): this {
    const mem = this.lowered.memory;
    this.views = this.arena(mem.arenaBytes);
    for (const b of mem.buffers) {
      if (b.region !== 'const') continue;
      const node = this.program.nodes[b.nodes[0]];
      const at = b.offset / bytesPer(b.dtype);
      if (node.op === 'constant') this.views[b.dtype].set((node.attrs.value as Tensor).data, at);
      else this.views[b.dtype][at] = jsLowering(node).impl!.value!(node, this.types);
    }
    this.bind();
    return this;
  }

  /** The arena's memory: one `ArrayBuffer` on the JS back end. */
  protected arena(bytes: number): ArenaViews {
    const buffer = new ArrayBuffer(bytes);
    return { float32: new Float32Array(buffer), float64: new Float64Array(buffer), int32: new Int32Array(buffer), bool: new Uint8Array(buffer) };
  }

  /** Whether the runner must be bound again before the next run (a param storage moved). */
  protected stale(): boolean {
    return this.graph.storageVersion !== this.boundVersion;
  }

  /** Re-binds when a param storage moved since the runner was made; call before every run. */
  ready(): void {
    if (this.stale()) this.bind();
  }

  /** Makes the runner, the output readers and the update commits over the arena and the param storages. */
  protected bind(): void {
    const { program, graph, types } = this;
    const mem = this.lowered.memory;
    this.boundVersion = graph.storageVersion;
    const places = (this.places = new Places(program, graph, this.lowered, this.views));
    const floats = this.views.float64 as Float64Array;
    const scratch = new MatmulScratch(floats.subarray(mem.scratchOffset / 8, (mem.scratchOffset + mem.scratchBytes) / 8));
    const ctx: KernelContext = { program, graph, scratch, workspace: this.workspace, exact: this.exact, staged: mem.stagedBuffers };
    const guard = this.nanGuard ? new NanGuard(program, this.lowered, types, (id) => places.dataOf(id), (id) => places.tensorOf(id), graph) : undefined;
    this.runner = this.makeRunner(places, ctx, guard);

    // outputs, and the updates written at the end (checked now: a run never writes half of them)
    this.outputReaders = program.outputs.map((id) => ({ dtype: types(id).dtype, shape: types(id).shape as Shape, read: places.dataOf(id) }));
    this.commits = [];
    const inPlaceUpdates = new Set(mem.inPlaceUpdates);
    for (const [p, v] of program.updates) {
      if (inPlaceUpdates.has(p)) continue;
      const node = program.nodes[p];
      const st = graph.storage(String(node.attrs.name));
      const vt = types(v);
      if (!shapeEq(st.shape, vt.shape) || st.dtype !== vt.dtype) {
        throw new UpdateError(`new value for "${String(node.attrs.name)}" is ${fmtType(vt)}, the param is ${fmtType(st)}`, { op: 'run', shapes: [vt.shape, st.shape], origin: node.origin });
      }
      const copyAt = this.lowered.kernels.findIndex((k) => k.kind === 'copy' && k.copy!.param === p);
      const staged = copyAt >= 0 ? places.bufferView(mem.stagedBuffers.get(copyAt)!, st.dtype, st.size) : undefined;
      this.commits.push({ dst: st.data, read: staged ? () => staged : places.dataOf(v) });
    }
  }

  /** The JS back end's runner: every kernel generated JavaScript (or a reference kernel), called in one function. */
  protected makeRunner(places: Places, ctx: KernelContext, guard: NanGuard | undefined): Runner {
    const callables = this.lowered.kernels.map((k, i) => makeKernel(k, i, places, ctx));
    const lines = callables.map((c, i) => `K${i}(${c.args.join(', ')});`);
    if (guard) {
      for (let i = lines.length - 1; i >= 0; i--) lines.splice(i, 1, `G.before(${i}, T);`, lines[i], `G.after(${i}, T, c);`);
      lines.unshift('G.start();');
      lines.push('G.end(T);');
    }
    return makeRunner(lines, callables.map((c) => c.fn), places.views, places.params, guard);
  }

  /** Copies the outputs into fresh tensors. */
  collect(T: Tensor[]): Tensor[] {
    const out = new Array<Tensor>(this.outputReaders.length);
    for (let i = 0; i < out.length; i++) {
      const r = this.outputReaders[i];
      out[i] = new Tensor(r.dtype, r.shape, r.read(T).slice() as TypedArray);
    }
    return out;
  }

  /** Writes the updates that were not written in place. */
  commit(T: Tensor[]): void {
    for (let i = 0; i < this.commits.length; i++) {
      const c = this.commits[i];
      c.dst.set(c.read(T));
    }
  }

  describe(): string[] {
    const lines = [`kernels (in execution order, for ${this.signature || 'the static shapes'}):`, ...formatKernels(this.lowered)];
    lines.push(`memory: ${formatMemory(this.lowered).join('; ')}`);
    return lines;
  }

  /** Frees what the specialization holds outside the JS heap (nothing on the JS back end). */
  dispose(): void {}
}

/** The JS lowering of a node the plan gave a generated kernel (a planner bug otherwise). */
export function jsLowering(node: Node): JsLowering {
  const low = capabilities('js').lowering(node.op) as JsLowering | undefined;
  if (!low?.impl) throw new GraphError(`no JS lowering for %${node.id} (${node.op}), which the plan gave a generated kernel`, { op: 'backend.js', node: node.id });
  return low;
}

/** The fused loop of an elementwise kernel: its expression DAG over input slots. */
export function elementwiseSpec(program: Program, k: LoweredKernel, fusion: FusionPlan, baseOf: (id: number) => number, exact: boolean) {
  const types = fusion.types;
  const classOf = (id: number) => fusion.classes.get(id);
  const exprOf = new Map<number, Expr>();
  const slots: number[] = [];
  const slotIndex = new Map<number, number>();
  const arg = (x: number): Expr => {
    const e = exprOf.get(x);
    if (e) return e;
    const t = types(x);
    const base = program.nodes[baseOf(x)];
    if (sizeOf(t.shape as Shape) === 1 && base.op === 'constant') return ew.constant((base.attrs.value as Tensor).data[0], t.dtype);
    if (classOf(base.id) === 'shapeConst') return ew.constant(jsLowering(base).impl!.value!(base, types), t.dtype);
    let s = slotIndex.get(x);
    if (s === undefined) {
      s = slots.length;
      slots.push(x);
      slotIndex.set(x, s);
    }
    return ew.input(s, t.dtype);
  };
  for (const m of k.nodes) {
    if (m === k.reduce?.node) continue;
    const node = program.nodes[m];
    // views keep their input's elements in order; every other member has an expression
    const data = dataInputs(node, 'ew');
    const e: Expr = classOf(m) === 'view' ? arg(data[0]) : jsLowering(node).impl!.emit!(data.map(arg), node.attrs);
    exprOf.set(m, e);
  }
  const reduce = k.reduce ? { op: jsLowering(program.nodes[k.reduce.node]).impl!.reduce!, expr: arg(program.nodes[k.reduce.node].inputs[0]), axes: k.reduce.mode } : undefined;
  const outputs = k.outputs.map((o) => exprOf.get(o)!);
  const spec = {
    shape: k.shape as Shape,
    inputs: slots.map((x) => ({ shape: stripLeadingOnes(types(x).shape) as Shape, dtype: types(x).dtype })),
    outputs,
    ...(reduce ? { reduce } : {}),
    // float32 arithmetic rounds op by op like the interpreter; fastMath only swaps tanh/softplus forms
    roundIntermediates: true,
    fastMath: !exact,
  };
  return { spec, slots };
}

/** A node run by its op's reference kernel: reads tensors, allocates the result, copies it in. */
function referenceKernel(
  node: Node,
  types: (id: number) => TypeInfo,
  tensorOf: (id: number) => (T: Tensor[]) => Tensor,
  dataOf: (id: number) => (T: Tensor[]) => TypedArray,
  graph: Graph,
): Kernel {
  const def = getOp(node.op);
  const out = types(node.id) as ConcreteType;
  const inputs = node.inputs.map(tensorOf);
  const dst = dataOf(node.id)([]);
  const key = def.kind === 'random' ? String(node.attrs.key) : undefined;
  return (_F: TypedArray[], T: Tensor[], c: number) => {
    const ins = inputs.map((g) => g(T));
    let r: Tensor;
    try {
      r = def.kernel(ins, node.attrs, { out, node, random: key !== undefined ? streamKey(graph.seed, key, c) : undefined });
    } catch (e) {
      throw nodeError(e, node, ins);
    }
    if (!(r instanceof Tensor) || r.dtype !== out.dtype || !shapeEq(r.shape, out.shape)) {
      throw new OpDefError(`the kernel returned ${r instanceof Tensor ? fmtType(r) : String(r)}, but the shape rule says ${fmtType(out)}`, { op: node.op, scope: node.scope, origin: node.origin });
    }
    dst.set(r.data);
  };
}

/** The runner: one straight-line function calling every kernel with its arrays and offsets. */
export function makeRunner(lines: string[], K: unknown[], views: Record<DType, TypedArray>, params: TypedArray[], guard: NanGuard | undefined): Runner {
  const head = [
    '"use strict";',
    'const A_f32 = env.views.float32, A_f64 = env.views.float64, A_i32 = env.views.int32, A_u8 = env.views.bool;',
    ...K.map((_, i) => `const K${i} = env.K[${i}];`),
    ...params.map((_, j) => `const P${j} = env.params[${j}];`),
    guard ? 'const G = env.guard;' : '',
    'return function run(F, T, c) {',
    ...lines.map((l) => `  ${l}`),
    '};',
  ];
  return new Function('env', head.join('\n'))({ views, K, params, guard });
}

/** NaN/Inf checks around every kernel (`nanGuard: true`). */
export class NanGuard {
  private readonly checked: Int32Array;
  private run = 0;

  constructor(
    private readonly program: Program,
    private readonly lowered: LoweredProgram,
    private readonly types: (id: number) => TypeInfo,
    private readonly dataOf: (id: number) => (T: Tensor[]) => TypedArray,
    private readonly tensorOf: (id: number) => (T: Tensor[]) => Tensor,
    private readonly graph: Graph,
  ) {
    this.checked = new Int32Array(program.nextId);
  }

  start(): void {
    this.run++;
  }

  /** Feeds, params and constants a kernel reads, each checked once per run. */
  before(i: number, T: Tensor[]): void {
    for (const x of this.lowered.kernels[i].reads) this.source(this.lowered.fusion.aliasOf.get(x) ?? x, T);
  }

  /** The sources no kernel read (returned directly, or only lending a shape), as the interpreter checks every value. */
  end(T: Tensor[]): void {
    for (const id of this.lowered.fusion.order) if (this.program.nodes[id].inputs.length === 0) this.source(id, T);
  }

  private source(id: number, T: Tensor[]): void {
    const node = this.program.nodes[id];
    if (node.inputs.length !== 0 || this.checked[id] === this.run || !this.lowered.memory.locations.has(id)) return;
    this.checked[id] = this.run;
    const t = this.tensorOf(id)(T);
    const at = firstNonFinite(t);
    if (at >= 0) throw nonFiniteError(node, t, at);
  }

  /** The kernel's results; on a NaN or Inf, the first member node that made it (re-run by the reference kernels). */
  after(i: number, T: Tensor[], c: number): void {
    const k = this.lowered.kernels[i];
    for (const w of k.writes) {
      if (!isFloat(this.types(w).dtype)) continue;
      const d = this.dataOf(w)(T);
      let bad = -1;
      for (let j = 0; j < d.length; j++) {
        if (!Number.isFinite(d[j])) {
          bad = j;
          break;
        }
      }
      if (bad >= 0) throw this.locate(k, T, c, w, bad);
    }
  }

  private locate(k: LoweredKernel, T: Tensor[], c: number, w: number, bad: number): NonFiniteError {
    const members = k.nodes.map((m) => `${this.program.nodes[m].op} %${m}`).join(', ');
    const where = ` (in kernel ${k.name}: ${members})`;
    const values = new Map<number, Tensor>();
    const mem = this.lowered.memory;
    const valueOf = (x: number): Tensor => {
      const v = values.get(x);
      if (v) return v;
      const t = this.types(x);
      const b = this.lowered.fusion.aliasOf.get(x) ?? x;
      if (!mem.locations.has(b)) return new Tensor(t.dtype, t.shape as Shape); // a shape-only operand
      return this.tensorOf(x)(T).clone();
    };
    for (const m of k.nodes) {
      const node = this.program.nodes[m];
      const def = getOp(node.op);
      const ins = node.inputs.map(valueOf);
      let t: Tensor;
      try {
        t = def.kernel(ins, node.attrs, { out: this.types(m) as ConcreteType, node, random: def.kind === 'random' ? streamKey(this.graph.seed, String(node.attrs.key), c) : undefined });
      } catch {
        break;
      }
      values.set(m, t);
      const at = firstNonFinite(t);
      if (at >= 0) {
        const e = nonFiniteError(node, t, at);
        return new NonFiniteError(e.detail + where, { op: e.op, shapes: e.shapes, scope: e.scope, origin: e.origin, node: e.node });
      }
    }
    const node = this.program.nodes[w];
    const e = nonFiniteError(node, new Tensor(this.types(w).dtype, this.types(w).shape as Shape, this.dataOf(w)(T).slice() as TypedArray), bad);
    return new NonFiniteError(e.detail + where, { op: e.op, shapes: e.shapes, scope: e.scope, origin: e.origin, node: e.node });
  }
}

/**
 * A compiled program bound to its graph — feeds in, tensors out, updates written — on some
 * compiled back end: the feed checks and fast path, the cache of specializations per feed-shape
 * signature, and `run`. A back end says which lowerings it plans with (`loweringTarget`), how it
 * names itself in explain (`label`) and which `Specialization` it makes (`newSpecialization`).
 */
export abstract class CompiledExecutor {
  readonly nanGuard: boolean;
  readonly exactFloat32: boolean;
  /** The lowering target its plans are made for (`'js'`, `'wasm'`). */
  abstract readonly loweringTarget: string;
  /** How explain() names the back end: `js (generated JavaScript)`. */
  protected abstract readonly label: string;
  protected readonly specs = new Map<string, Specialization>();
  private last: Specialization | undefined;
  /** The program's inputs in topological order, their names, dtypes, static dims and defaults. */
  readonly inputIds: number[];
  private readonly names: string[];
  private readonly dtypes: DType[];
  private readonly shapes: (readonly (number | null)[])[];
  private readonly defaults: (Tensor | undefined)[];
  /** For each input, where its open dims start in the signature (−1: none). */
  private readonly openAt: Int32Array;
  private readonly dims: Int32Array;
  private readonly F: TypedArray[];
  private readonly T: Tensor[];

  constructor(
    readonly graph: Graph,
    readonly program: Program,
    private readonly validate: Validate,
    opts: JsBackendOptions = {},
  ) {
    this.nanGuard = !!opts.nanGuard;
    this.exactFloat32 = !(opts.fastMath ?? true);
    this.inputIds = cachedTopoOrder(program).filter((id) => program.nodes[id].op === 'input');
    this.names = this.inputIds.map((id) => String(program.nodes[id].attrs.name));
    this.dtypes = this.inputIds.map((id) => program.nodes[id].type.dtype);
    this.shapes = this.inputIds.map((id) => program.nodes[id].type.shape);
    this.defaults = this.inputIds.map((id) => program.nodes[id].attrs.default as Tensor | undefined);
    this.openAt = new Int32Array(this.inputIds.length).fill(-1);
    let open = 0;
    this.shapes.forEach((s, k) => {
      if (s.some((d) => d === null)) {
        this.openAt[k] = open;
        open += s.length;
      }
    });
    this.dims = new Int32Array(open);
    this.F = new Array(this.inputIds.length).fill(null);
    this.T = new Array(this.inputIds.length).fill(null);
  }

  /** A new specialization for these concrete types (null: the program's own, static ones), initialized. */
  protected abstract newSpecialization(types: TypeInfo[] | null, dims: Int32Array, signature: string): Specialization;

  /** How many specializations have been compiled (one per distinct set of feed shapes). */
  get specializations(): number {
    return this.specs.size;
  }

  /** The kernels and memory plan of the last run's specialization (undefined before the first run). */
  get lowered(): LoweredProgram | undefined {
    return this.last?.lowered;
  }

  /** Runs once; see `Executable.run`. */
  run(feeds: unknown): Tensor[] {
    const spec = this.prepare(feeds);
    try {
      spec.ready();
      spec.runner(this.F, this.T, this.graph.rngCounter);
      const out = spec.collect(this.T);
      spec.commit(this.T);
      return out;
    } finally {
      this.F.fill(null as never);
      this.T.fill(null as never);
    }
  }

  /** Validates the feeds (fast path: tensors of the right dtype and shape) and picks the specialization. */
  private prepare(feeds: unknown): Specialization {
    if (!this.fastFeeds(feeds)) {
      const fed = this.validate(feeds);
      this.inputIds.forEach((id, k) => {
        const t = fed.get(id)!;
        this.T[k] = t;
        this.F[k] = t.data;
        if (this.openAt[k] >= 0) for (let d = 0; d < t.shape.length; d++) this.dims[this.openAt[k] + d] = t.shape[d];
      });
    }
    const last = this.last;
    if (last) {
      const a = last.dims;
      const b = this.dims;
      let same = true;
      for (let i = 0; i < b.length; i++) {
        if (a[i] !== b[i]) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    return this.specialize();
  }

  private fastFeeds(feeds: unknown): boolean {
    if (feeds === null || typeof feeds !== 'object') return false;
    const f = feeds as Record<string, unknown>;
    let given = 0;
    for (let k = 0; k < this.names.length; k++) {
      let v = Object.prototype.hasOwnProperty.call(f, this.names[k]) ? f[this.names[k]] : undefined;
      if (v === undefined) {
        v = this.defaults[k];
        if (v === undefined) return false;
      } else given++;
      if (!(v instanceof Tensor) || v.dtype !== this.dtypes[k]) return false;
      const want = this.shapes[k];
      const shape = v.shape;
      if (shape.length !== want.length) return false;
      for (let d = 0; d < shape.length; d++) if (want[d] !== null && want[d] !== shape[d]) return false;
      if (this.openAt[k] >= 0) for (let d = 0; d < shape.length; d++) this.dims[this.openAt[k] + d] = shape[d];
      this.T[k] = v;
      this.F[k] = v.data;
    }
    let keys = 0;
    for (const key in f) if (Object.prototype.hasOwnProperty.call(f, key)) keys++;
    return keys === given;
  }

  private specialize(): Specialization {
    const signature = this.inputIds
      .map((_, k) => (this.openAt[k] >= 0 ? `${this.names[k]}${fmtShape(this.T[k].shape)}` : ''))
      .filter(Boolean)
      .join(' ');
    let spec = this.specs.get(signature);
    if (spec) {
      // most recently used last
      this.specs.delete(signature);
      this.specs.set(signature, spec);
    } else {
      let types: TypeInfo[] | null = null;
      if (this.dims.length) {
        const byId = new Map(this.inputIds.map((id, k) => [id, this.T[k].shape]));
        types = concreteTypes(this.program, (id) => byId.get(id)!);
      }
      spec = this.newSpecialization(types, this.dims.slice(), signature);
      this.specs.set(signature, spec);
      if (this.specs.size > MAX_SPECIALIZATIONS) {
        const oldest = this.specs.keys().next().value!;
        const evicted = this.specs.get(oldest)!;
        this.specs.delete(oldest);
        if (evicted === this.last) this.last = undefined;
        evicted.dispose();
      }
    }
    this.last = spec;
    return spec;
  }

  /** Lines explain() adds after the header: the last specialization's kernels and memory plan. */
  protected describeLast(): string[] {
    if (this.last) return this.last.describe();
    const lowered = lowerProgram(this.program, { inPlace: !this.nanGuard, backend: this.loweringTarget });
    const nominal = lowered.memory.nominal ? ' (open dims counted as 1 until the first run)' : '';
    return [`kernels (in execution order${nominal}):`, ...formatKernels(lowered), `memory: ${formatMemory(lowered).join('; ')}`];
  }

  /** The backend's part of `explain()`: kernels, memory plan, specializations. */
  explain(): string {
    const lines = [`backend: ${this.label}, ${this.specs.size} specialization${this.specs.size === 1 ? '' : 's'} compiled${this.specs.size ? `: ${[...this.specs.keys()].map((s) => s || 'static shapes').join('; ')}` : ' (the first run specializes)'}`];
    lines.push(...this.describeLast());
    return lines.join('\n');
  }
}

/**
 * The compiled program on the JS back end: generated JavaScript over one `ArrayBuffer` arena.
 * @example
 * const js = new JsExecutor(g, program, (f) => validateFeeds(g, program, f as Feeds), {});
 * const [loss] = js.run({ x, y });
 */
export class JsExecutor extends CompiledExecutor {
  readonly loweringTarget = 'js';
  protected readonly label = 'js (generated JavaScript)';

  protected newSpecialization(types: TypeInfo[] | null, dims: Int32Array, signature: string): Specialization {
    return new Specialization(this, types, dims, signature).init();
  }
}
