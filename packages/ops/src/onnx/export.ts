/**
 * exportOnnx: a gradgraph graph (the part the outputs need) as an ONNX model of standard ops.
 *
 * Two tables do the work. `fusions` recognize a few compositions ONNX has one op for and runtimes
 * know (ReLU, leaky ReLU and PReLU are `where(x > 0, x, ·)` in gradgraph). `exporters` has one
 * row per primitive: the ONNX ops that compute it. Learnable activations need no row of their
 * own: SPLASH and APL are maximum/mul/sum of params, which export as Max/Mul/ReduceSum.
 *
 * Params become initializers, constants `Constant` nodes, `null` dims symbolic dims. Each ONNX
 * node is named `<scope>/<op>_<id>` (its gradgraph scope, op and node id) and carries the source
 * line that made the gradgraph node as its doc string, so `importOnnx` restores scopes and origins.
 */
import { Graph, GraphError, Sym, Tensor, broadcastShapes, captureOrigin, fmtShape, hashString, isStatic, sizeOf, type Node, type TypeInfo } from '@gradgraph/core';
import { OnnxOpsetError, OnnxUnsupportedError } from './errors';
import { mathExporters } from './export-math';
import { AttrType, ElemType, elemOf, encodeModel, int64Proto, tensorProto, type AttributeProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto';

/** The default-domain opsets exportOnnx writes. */
export const EXPORT_OPSETS = Object.freeze({ min: 17, max: 21, default: 17 });

/** Where gradgraph's metadata rides in the model's metadata_props. */
export const META = Object.freeze({ state: 'gradgraph.state', seed: 'gradgraph.seed' });

export interface ExportOptions {
  /** The graph inputs, in order. Inputs the outputs need that are not listed must have a default (it is used). */
  inputs: readonly Sym[];
  /** The graph outputs, in order. */
  outputs: readonly Sym[];
  /** Names of the outputs; default `output` for one, `output_0`, `output_1`, ... for more. */
  outputNames?: readonly string[];
  /** Default-domain opset, 17 (default) to 21. */
  opset?: number;
  /** The ONNX graph's name. Default `gradgraph`. */
  name?: string;
  /** The model's doc string. */
  docString?: string;
}

// ---- attributes --------------------------------------------------------------------------------

type Attr = Omit<AttributeProto, 'name'>;
const A = {
  i: (v: number): Attr => ({ type: AttrType.INT, i: v }),
  f: (v: number): Attr => ({ type: AttrType.FLOAT, f: v }),
  ints: (v: readonly number[]): Attr => ({ type: AttrType.INTS, ints: [...v] }),
  s: (v: string): Attr => ({ type: AttrType.STRING, s: new TextEncoder().encode(v) }),
  t: (v: TensorProto): Attr => ({ type: AttrType.TENSOR, t: v }),
  g: (v: GraphProto): Attr => ({ type: AttrType.GRAPH, g: v }),
};

// ---- what an export rule sees ----------------------------------------------------------------

/** The context of one gradgraph node's translation. */
export interface ExportCtx {
  readonly node: Node;
  readonly opset: number;
  /** The ONNX value names of the node's inputs (for fusions: of the matched operands). */
  readonly inputs: readonly string[];
  /** Their gradgraph types. */
  readonly types: readonly TypeInfo[];
  /** Adds an ONNX node with one output and returns the output's name. */
  op(type: string, inputs: readonly string[], attrs?: Record<string, Attr>): string;
  /** Adds an ONNX node with `n` outputs and returns their names. */
  opN(type: string, inputs: readonly string[], attrs: Record<string, Attr>, n: number): string[];
  /** A `Constant` int64 vector (shapes, axes, pads). */
  int64(values: readonly number[]): string;
  /** A `Constant` scalar (or tensor) of a gradgraph dtype. */
  constant(value: number | Tensor, dtype?: TypeInfo['dtype']): string;
  /** The value of a gradgraph node fixed at export (a constant), if it is one. */
  constOf(id: number): Tensor | undefined;
  /** An error naming this node, its scope and source line. */
  unsupported(detail: string): OnnxUnsupportedError;
}

export type ExportRule = (c: ExportCtx) => string;

const unary = (type: string): ExportRule => (c) => c.op(type, [c.inputs[0]]);
const binary = (type: string): ExportRule => (c) => c.op(type, [c.inputs[0], c.inputs[1]]);

/** A Reduce* op over `axes`; opset 18 moved their axes from an attribute to an input (ReduceSum: 13). */
function reduce(c: ExportCtx, type: string, x: string, axes: readonly number[], keepDims: boolean): string {
  if (axes.length === 0) return x; // a reduction over no axes is the identity (ONNX would reduce all)
  if (type === 'ReduceSum' || c.opset >= 18) return c.op(type, [x, c.int64(axes)], { keepdims: A.i(keepDims ? 1 : 0) });
  return c.op(type, [x], { axes: A.ints(axes), keepdims: A.i(keepDims ? 1 : 0) });
}

const reduceRule = (type: string): ExportRule => (c) => reduce(c, type, c.inputs[0], c.node.attrs.axes as number[], !!c.node.attrs.keepDims);

/** Swaps the last two axes of a value of rank r. */
function swapLast(c: ExportCtx, x: string, rank: number): string {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return c.op('Transpose', [x], { perm: A.ints(perm) });
}

const INT64_MAX = 2 ** 63;

/**
 * One row per primitive. A row returns the name of the value that holds the node's result: a new
 * ONNX node's output, or one of its inputs when the op is the identity on values.
 */
export const exporters: Record<string, ExportRule> = {
  // elementwise, unary
  neg: unary('Neg'),
  exp: unary('Exp'),
  log: unary('Log'),
  tanh: unary('Tanh'),
  sigmoid: unary('Sigmoid'),
  abs: unary('Abs'),
  sign: unary('Sign'),
  // log(1+x): ONNX has no Log1p; for |x| ≪ 1 this loses relative (not absolute) precision
  log1p: (c) => c.op('Log', [c.op('Add', [c.inputs[0], c.constant(1)])]),
  // eˣ − 1: likewise no Expm1
  expm1: (c) => c.op('Sub', [c.op('Exp', [c.inputs[0]]), c.constant(1)]),
  sqrt: unary('Sqrt'),
  rsqrt: (c) => c.op('Reciprocal', [c.op('Sqrt', [c.inputs[0]])]),
  sin: unary('Sin'),
  cos: unary('Cos'),
  // ONNX Runtime has no double Softplus: float64 takes the stable form max(x, 0) + log(1 + e^−|x|)
  softplus: (c) =>
    c.node.type.dtype === 'float32'
      ? c.op('Softplus', [c.inputs[0]])
      : c.op('Add', [c.op('Max', [c.inputs[0], c.constant(0)]), c.op('Log', [c.op('Add', [c.op('Exp', [c.op('Neg', [c.op('Abs', [c.inputs[0]])])]), c.constant(1)])])]),
  reciprocal: unary('Reciprocal'),
  logicalNot: unary('Not'),
  // elementwise, binary (ONNX broadcasts as NumPy does)
  add: binary('Add'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('Div'),
  pow: binary('Pow'),
  maximum: binary('Max'),
  minimum: binary('Min'),
  greater: binary('Greater'),
  greaterEqual: binary('GreaterOrEqual'),
  less: binary('Less'),
  lessEqual: binary('LessOrEqual'),
  equal: binary('Equal'),
  notEqual: (c) => c.op('Not', [c.op('Equal', [c.inputs[0], c.inputs[1]])]),
  logicalAnd: binary('And'),
  logicalOr: binary('Or'),
  where: (c) => c.op('Where', [c.inputs[0], c.inputs[1], c.inputs[2]]),
  cast: (c) => c.op('Cast', [c.inputs[0]], { to: A.i(elemOf(c.node.type.dtype)) }),
  stopGradient: (c) => c.inputs[0], // values pass; ONNX has no gradients
  // reductions
  sum: reduceRule('ReduceSum'),
  mean: reduceRule('ReduceMean'),
  max: reduceRule('ReduceMax'),
  min: reduceRule('ReduceMin'),
  logsumexp: reduceRule('ReduceLogSumExp'),
  // ArgMax gives int64, gradgraph int32; first index on ties in both
  argmax: (c) => c.op('Cast', [c.op('ArgMax', [c.inputs[0]], { axis: A.i(c.node.attrs.axis as number), keepdims: A.i(c.node.attrs.keepDims ? 1 : 0) })], { to: A.i(ElemType.INT32) }),
  argmin: (c) => c.op('Cast', [c.op('ArgMin', [c.inputs[0]], { axis: A.i(c.node.attrs.axis as number), keepdims: A.i(c.node.attrs.keepDims ? 1 : 0) })], { to: A.i(ElemType.INT32) }),
  softmax: (c) => c.op('Softmax', [c.inputs[0]], { axis: A.i(c.node.attrs.axis as number) }),
  logSoftmax: (c) => c.op('LogSoftmax', [c.inputs[0]], { axis: A.i(c.node.attrs.axis as number) }),
  // −Σ t·logSoftmax(x) along the axis
  softmaxCrossEntropy: (c) => {
    const axis = c.node.attrs.axis as number;
    const tl = c.op('Mul', [c.inputs[1], c.op('LogSoftmax', [c.inputs[0]], { axis: A.i(axis) })]);
    return c.op('Neg', [reduce(c, 'ReduceSum', tl, [axis], !!c.node.attrs.keepDims)]);
  },
  // op(A)·op(B): the transposes become Transpose nodes
  matmul: (c) => {
    const [a, b] = c.types;
    const x = c.node.attrs.transposeA ? swapLast(c, c.inputs[0], a.shape.length) : c.inputs[0];
    const y = c.node.attrs.transposeB ? swapLast(c, c.inputs[1], b.shape.length) : c.inputs[1];
    return c.op('MatMul', [x, y]);
  },
  // shapes
  reshape: (c) => {
    const shape = c.node.attrs.shape as number[];
    // ONNX reads a 0 as "copy the input's dim" unless allowzero
    return c.op('Reshape', [c.inputs[0], c.int64(shape)], shape.includes(0) ? { allowzero: A.i(1) } : {});
  },
  transpose: (c) => c.op('Transpose', [c.inputs[0]], { perm: A.ints(c.node.attrs.perm as number[]) }),
  broadcastTo: (c) => c.op('Expand', [c.inputs[0], c.int64(c.node.attrs.shape as number[])]),
  expandDims: (c) => c.op('Unsqueeze', [c.inputs[0], c.int64(c.node.attrs.axes as number[])]),
  squeeze: (c) => {
    const axes = c.node.attrs.axes as number[];
    return axes.length ? c.op('Squeeze', [c.inputs[0], c.int64(axes)]) : c.inputs[0]; // no axes: ONNX would drop every 1
  },
  slice: (c) => {
    const begin = c.node.attrs.begin as number[];
    const end = c.node.attrs.end as (number | null)[];
    const axes = begin.map((_, i) => i).filter((i) => begin[i] !== 0 || end[i] !== null);
    if (!axes.length) return c.inputs[0];
    // an open end runs to the end (INT64_MAX, clamped by ONNX); a negative end counts from the end in both
    return c.op('Slice', [c.inputs[0], c.int64(axes.map((i) => begin[i])), c.int64(axes.map((i) => end[i] ?? INT64_MAX)), c.int64(axes)]);
  },
  concat: (c) => c.op('Concat', [...c.inputs], { axis: A.i(c.node.attrs.axis as number) }),
  gather: (c) => c.op('Gather', [c.inputs[0], c.inputs[1]], { axis: A.i(c.node.attrs.axis as number) }),
  // zeros like ref with updates added at idx along the axis: ScatterElements with reduction add,
  // its indices the 1-d idx broadcast over every other axis of the updates
  scatterAdd: (c) => {
    const [u, idx, ref] = c.types;
    const axis = c.node.attrs.axis as number;
    if (!isStatic(idx.shape)) throw c.unsupported(`the indices ${fmtShape(idx.shape)} need a static shape`);
    const m = sizeOf(idx.shape);
    const flatShape = ref.shape.map((d, i) => (i === axis ? m : (d ?? -1)));
    if (flatShape.filter((d) => d === -1).length > 1) throw c.unsupported(`ref ${fmtShape(ref.shape)} has more than one dim unknown until run time`);
    const updates = c.op('Reshape', [c.inputs[0], c.int64(flatShape)]);
    const idxCol = c.op('Reshape', [c.inputs[1], c.int64(ref.shape.map((_, i) => (i === axis ? m : 1)))]);
    const indices = c.op('Expand', [idxCol, isStatic(u.shape) ? c.int64(flatShape) : c.op('Shape', [updates])]);
    const zeros = c.op('ConstantOfShape', [isStatic(ref.shape) ? c.int64(ref.shape) : c.op('Shape', [c.inputs[2]])], { value: A.t(tensorProto(Tensor.zeros([1], u.dtype))) });
    return c.op('ScatterElements', [zeros, indices, updates], { axis: A.i(axis), reduction: A.s('add') });
  },
  pad: (c) => {
    const pads = c.node.attrs.pads as [number, number][];
    return c.op('Pad', [c.inputs[0], c.int64([...pads.map((p) => p[0]), ...pads.map((p) => p[1])]), c.constant(c.node.attrs.value as number, c.types[0].dtype)], { mode: A.s('constant') });
  },
  broadcastLike: (c) => {
    const s = broadcastShapes(c.types[0].shape, c.types[1].shape)!;
    return c.op('Expand', [c.inputs[0], isStatic(s) ? c.int64(s) : c.op('Shape', [c.inputs[1]])]);
  },
  reshapeLike: (c) => {
    const ref = c.types[1].shape;
    return c.op('Reshape', [c.inputs[0], isStatic(ref) ? c.int64(ref) : c.op('Shape', [c.inputs[1]])], { allowzero: A.i(1) });
  },
  // x summed down to ref's shape: over the leading axes and where ref has a 1
  sumLike: (c) => {
    const [x, ref] = c.types;
    const lead = x.shape.length - ref.shape.length;
    const axes: number[] = [];
    let atRunTime = false;
    for (let i = 0; i < x.shape.length; i++) {
      if (i < lead) axes.push(i);
      else {
        const rd = ref.shape[i - lead];
        if (rd === 1) axes.push(i); // summing a size-1 axis is harmless when x's is 1 too
        else if (rd === null && x.shape[i] !== 1) atRunTime = true; // summed iff ref's dim turns out 1
      }
    }
    if (atRunTime) return sumLikeAtRunTime(c, lead);
    const summed = reduce(c, 'ReduceSum', c.inputs[0], axes, true);
    return lead ? c.op('Squeeze', [summed, c.int64([...Array(lead).keys()])]) : summed;
  },
  // the element count over axes, from the run-time shape when a dim is unknown
  shapeSize: (c) => {
    const axes = c.node.attrs.axes as number[];
    const dims = axes.map((i) => c.types[0].shape[i]);
    if (isStatic(dims)) return c.constant(sizeOf(dims), c.node.type.dtype);
    const picked = c.op('Gather', [c.op('Shape', [c.inputs[0]]), c.int64(axes)]);
    const count = c.op('ReduceProd', [picked], { keepdims: A.i(0) }); // no axes: over the whole vector
    return c.op('Cast', [count], { to: A.i(elemOf(c.node.type.dtype)) });
  },
  // fresh samples each run, as in gradgraph, but from the runtime's generator: other numbers
  randomUniform: (c) => randomRule(c, 'RandomUniform', { low: A.f((c.node.attrs.low as number) ?? 0), high: A.f((c.node.attrs.high as number) ?? 1) }),
  randomNormal: (c) => randomRule(c, 'RandomNormal', { mean: A.f((c.node.attrs.mean as number) ?? 0), scale: A.f((c.node.attrs.std as number) ?? 1) }),
  // the special functions: the ONNX op in float32, decompositions in float64 (export-math.ts)
  ...mathExporters,
  prod: reduceRule('ReduceProd'),
  // reversed along each axis: Slice from the last element (−1) past the first (−2⁶³, clamped to −1), step −1
  flip: (c) => {
    const axes = c.node.attrs.axes as number[];
    if (!axes.length) return c.inputs[0];
    return c.op('Slice', [c.inputs[0], c.int64(axes.map(() => -1)), c.int64(axes.map(() => -INT64_MAX)), c.int64(axes), c.int64(axes.map(() => -1))]);
  },
  linearRecurrence: linearRecurrenceRule,
  // the forward value of f, the last input; the custom gradient has no place in ONNX
  customGrad: (c) => c.inputs[c.inputs.length - 1],
  // nn's label check is the identity on values; ONNX has no assertion op
  'nn.checkClassIndices': (c) => c.inputs[0],
};

/**
 * sumLike where the axes to sum are known only at run time: they are the axes where ref's shape,
 * padded on the left with `lead` ones, is 1 — NonZero(Equal(shape, 1)) — summed with keepdims
 * (noop_with_empty_axes: no axis sums nothing), then reshaped to Shape(ref). importOnnx knows this
 * pattern and reads it back as sumLike.
 */
function sumLikeAtRunTime(c: ExportCtx, lead: number): string {
  const refShape = c.op('Shape', [c.inputs[1]]);
  const padded = lead ? c.op('Concat', [c.int64(Array(lead).fill(1)), refShape], { axis: A.i(0) }) : refShape;
  const axes = c.op('Reshape', [c.op('NonZero', [c.op('Equal', [padded, c.int64([1])])]), c.int64([-1])]);
  const summed = c.op('ReduceSum', [c.inputs[0], axes], { keepdims: A.i(1), noop_with_empty_axes: A.i(1) });
  return c.op('Reshape', [summed, refShape]);
}

/**
 * h_i = a_i·h_{i−1} + b_i along an axis (h_0 = b_0). a ≡ 1 (cumsum) is CumSum. Otherwise a Scan
 * over a and b (expanded to the output's shape) whose body carries h and a "first step" flag:
 * h ← Where(first, b, a·h + b), so a_0 is never read (as in gradgraph: an infinite a_0 does no
 * harm). h's initial value is b_0 (any value of the right shape would do).
 */
function linearRecurrenceRule(c: ExportCtx): string {
  const { axis, reverse } = c.node.attrs as { axis: number; reverse: boolean };
  const out = c.node.type;
  const [ta, tb] = c.types;
  // a value broadcast to the output's shape (Expand broadcasts both ways: Expand(a, Shape(b)) has the output's shape)
  const full = (v: string, t: TypeInfo, other: string) =>
    sameShape(t.shape, out.shape) ? v : c.op('Expand', [v, isStatic(out.shape) ? c.int64(out.shape as number[]) : c.op('Shape', [other])]);
  const one = c.constOf(c.node.inputs[0]);
  if (one && Array.from(one.data).every((v) => v === 1)) {
    return c.op('CumSum', [full(c.inputs[1], tb, c.inputs[0]), c.constant(axis, 'int32')], { reverse: A.i(reverse ? 1 : 0) });
  }
  const a = full(c.inputs[0], ta, c.inputs[1]);
  const b = full(c.inputs[1], tb, c.inputs[0]);
  const h0 = c.op('Squeeze', [c.op('Slice', [b, c.int64([0]), c.int64([1]), c.int64([axis])]), c.int64([axis])]);
  const first = c.constant(1, 'bool');
  const elem = elemOf(out.dtype);
  const v = (name: string, e = elem): ValueInfoProto => ({ name, type: { tensor_type: { elem_type: e } } });
  const p = `linearRecurrence_${c.node.id}_`;
  const body: GraphProto = {
    name: `${p}body`,
    input: [v(`${p}h`), v(`${p}first`, ElemType.BOOL), v(`${p}a`), v(`${p}b`)],
    output: [v(`${p}h_next`), v(`${p}first_next`, ElemType.BOOL), v(`${p}h_out`)],
    node: [
      { name: `${p}ah`, op_type: 'Mul', input: [`${p}a`, `${p}h`], output: [`${p}ah`] },
      { name: `${p}ahb`, op_type: 'Add', input: [`${p}ah`, `${p}b`], output: [`${p}ahb`] },
      { name: `${p}h_next`, op_type: 'Where', input: [`${p}first`, `${p}b`, `${p}ahb`], output: [`${p}h_next`] },
      { name: `${p}first_next`, op_type: 'Constant', input: [], output: [`${p}first_next`], attribute: [{ name: 'value', ...A.t(tensorProto(Tensor.scalar(0, 'bool'))) }] },
      { name: `${p}h_out`, op_type: 'Identity', input: [`${p}h_next`], output: [`${p}h_out`] },
    ],
  };
  const dir = reverse ? 1 : 0;
  const [, , hs] = c.opN('Scan', [h0, first, a, b], {
    body: A.g(body),
    num_scan_inputs: A.i(2),
    scan_input_axes: A.ints([axis, axis]),
    scan_input_directions: A.ints([dir, dir]),
    scan_output_axes: A.ints([axis]),
    scan_output_directions: A.ints([dir]),
  }, 3);
  return hs;
}

function randomRule(c: ExportCtx, type: string, attrs: Record<string, Attr>): string {
  const seed = A.f(hashString(c.node.attrs.key as string) % 65536);
  const dtype = A.i(elemOf(c.node.type.dtype));
  if (c.inputs.length) return c.op(`${type}Like`, [c.inputs[0]], { ...attrs, dtype, seed });
  return c.op(type, [], { ...attrs, dtype, seed, shape: A.ints(c.node.attrs.shape as number[]) });
}

// ---- fusions: compositions ONNX has one op for --------------------------------------------------

/** A composition rooted at one node, exported as one ONNX op. */
export interface FusionMatch {
  readonly operands: readonly number[];
  readonly numbers?: readonly number[];
}

export interface Fusion {
  readonly name: string;
  /** The operand nodes of the composition rooted at `node` (and numbers it fixes), or null when it doesn't match. */
  match(node: Node, g: Graph, isConst: (id: number) => Tensor | undefined): FusionMatch | null;
  /** Emits the op; `c.inputs` are the operands' value names. */
  emit(c: ExportCtx, m: FusionMatch): string;
}

const sameShape = (a: TypeInfo['shape'], b: TypeInfo['shape']) => a.length === b.length && a.every((d, i) => d === b[i]);

/** `where(x > 0, x, e)`: the x and e of a rectifier, or null. */
function rectifier(node: Node, g: Graph, isConst: (id: number) => Tensor | undefined): { x: number; neg: number } | null {
  if (node.op !== 'where') return null;
  const [c, x, e] = node.inputs;
  const cond = g.node(c);
  if (cond.op !== 'greater' || cond.inputs[0] !== x) return null;
  const zero = isConst(cond.inputs[1]);
  if (!zero || zero.size !== 1 || zero.data[0] !== 0) return null;
  if (!sameShape(node.type.shape, g.node(x).type.shape)) return null;
  return { x, neg: e };
}

/** The slope `a` of `x·a` (either order), or null. */
function slopeOf(mulId: number, x: number, g: Graph): number | null {
  const m = g.node(mulId);
  if (m.op !== 'mul') return null;
  if (m.inputs[0] === x && m.inputs[1] !== x) return m.inputs[1];
  if (m.inputs[1] === x && m.inputs[0] !== x) return m.inputs[0];
  return null;
}

/** `a`'s shape broadcasts to x's without growing it (PRelu's slope is unidirectionally broadcast). */
function slopeFits(a: TypeInfo['shape'], x: TypeInfo['shape']): boolean {
  if (a.length > x.length) return false;
  return a.every((d, i) => {
    const xd = x[x.length - a.length + i];
    return d === 1 || (d !== null && d === xd);
  });
}

export const fusions: readonly Fusion[] = [
  // nn.relu: where(x > 0, x, 0) → Relu(x)
  {
    name: 'Relu',
    match: (node, g, isConst) => {
      const r = rectifier(node, g, isConst);
      const zero = r && isConst(r.neg);
      return r && zero && zero.size === 1 && zero.data[0] === 0 ? { operands: [r.x] } : null;
    },
    emit: (c) => c.op('Relu', [c.inputs[0]]),
  },
  // nn.leakyRelu: where(x > 0, x, x·α) with α a constant → LeakyRelu(x, α) (α a float32 attribute)
  {
    name: 'LeakyRelu',
    match: (node, g, isConst) => {
      const r = rectifier(node, g, isConst);
      const a = r && slopeOf(r.neg, r.x, g);
      const alpha = a !== null && a !== undefined ? isConst(a) : undefined;
      return r && alpha && alpha.size === 1 && Math.fround(alpha.data[0]) === alpha.data[0] ? { operands: [r.x], numbers: [alpha.data[0]] } : null;
    },
    emit: (c, m) => c.op('LeakyRelu', [c.inputs[0]], { alpha: A.f(m.numbers![0]) }),
  },
  // nn.prelu: where(x > 0, x, x·a) → PRelu(x, a)
  {
    name: 'PRelu',
    match: (node, g, isConst) => {
      const r = rectifier(node, g, isConst);
      const a = r && slopeOf(r.neg, r.x, g);
      if (!r || a === null || a === undefined) return null;
      return slopeFits(g.node(a).type.shape, g.node(r.x).type.shape) ? { operands: [r.x, a] } : null;
    },
    emit: (c) => c.op('PRelu', [c.inputs[0], c.inputs[1]]),
  },
];

// ---- the driver ------------------------------------------------------------------------------

/** How one needed node is exported: a fusion over some operands, an alias of another value, or its row. */
type Plan = { kind: 'row'; operands: readonly number[] } | { kind: 'fusion'; fusion: Fusion; match: FusionMatch; operands: readonly number[] } | { kind: 'alias'; of: number };

function nodeName(n: Node): string {
  const base = `${n.op}_${n.id}`;
  return n.scope ? `${n.scope}/${base}` : base;
}

function checkOptions(g: Graph, opts: ExportOptions): { opset: number; outputNames: string[] } {
  const op = 'exportOnnx';
  const origin = captureOrigin();
  if (!opts || typeof opts !== 'object') throw new GraphError('needs options { inputs, outputs }', { op, origin });
  const known = ['inputs', 'outputs', 'outputNames', 'opset', 'name', 'docString'];
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new GraphError(`unknown option "${k}"; expected one of ${known.join(', ')}`, { op, origin });
  if (!Array.isArray(opts.inputs) || !Array.isArray(opts.outputs)) throw new GraphError('inputs and outputs must be arrays of symbols', { op, origin });
  if (!opts.outputs.length) throw new GraphError('needs at least one output', { op, origin });
  for (const [what, list] of [['inputs', opts.inputs], ['outputs', opts.outputs]] as const) {
    list.forEach((s, i) => {
      if (!(s instanceof Sym)) throw new GraphError(`${what}[${i}] is not a symbol`, { op, origin });
      if (s.graph !== g) throw new GraphError(`${what}[${i}] belongs to another graph`, { op, origin });
    });
  }
  opts.inputs.forEach((s, i) => {
    if (s.op !== 'input') throw new GraphError(`inputs[${i}] is a ${s.op} node, not an input made with g.input()`, { op, origin });
  });
  if (new Set(opts.inputs.map((s) => s.id)).size !== opts.inputs.length) throw new GraphError('an input is listed twice', { op, origin });
  const opset = opts.opset ?? EXPORT_OPSETS.default;
  if (!Number.isInteger(opset) || opset < EXPORT_OPSETS.min || opset > EXPORT_OPSETS.max) {
    throw new OnnxOpsetError(`opset ${String(opset)} is not one exportOnnx writes (${EXPORT_OPSETS.min}–${EXPORT_OPSETS.max})`, { op, origin });
  }
  const n = opts.outputs.length;
  const outputNames = opts.outputNames ? [...opts.outputNames] : n === 1 ? ['output'] : opts.outputs.map((_, i) => `output_${i}`);
  if (outputNames.length !== n || !outputNames.every((s) => typeof s === 'string' && s)) throw new GraphError(`outputNames must be ${n} non-empty strings`, { op, origin });
  if (new Set(outputNames).size !== n) throw new GraphError(`outputNames repeat a name: ${JSON.stringify(outputNames)}`, { op, origin });
  const inputNames = new Set(opts.inputs.map((s) => s.name!));
  const clash = outputNames.find((s) => inputNames.has(s));
  if (clash) throw new GraphError(`output name "${clash}" is also an input's name`, { op, origin });
  return { opset, outputNames };
}

function valueInfo(name: string, t: TypeInfo, dimName?: (i: number) => string): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elemOf(t.dtype), shape: { dim: t.shape.map((d, i) => (d !== null ? { dim_value: d } : dimName ? { dim_param: dimName(i) } : {})) } } },
  };
}

/**
 * The model bytes of the part of `g` that `outputs` need, as standard ONNX ops (opset 17 by
 * default). Params become initializers, `null` dims symbolic dims; inputs the outputs need but
 * `inputs` leaves out must have a default (nn's `training` switch), which is then fixed.
 * @example
 * const bytes = await exportOnnx(g, { inputs: [x], outputs: [logits], outputNames: ['logits'] });
 * writeFileSync('model.onnx', bytes);
 */
export async function exportOnnx(g: Graph, opts: ExportOptions): Promise<Uint8Array> {
  if (!(g instanceof Graph)) throw new GraphError('the first argument must be a Graph', { op: 'exportOnnx', origin: captureOrigin() });
  const { opset, outputNames } = checkOptions(g, opts);
  const listed = new Set(opts.inputs.map((s) => s.id));

  // values fixed at export: constants, and the defaults of inputs left out of `inputs`
  const isConst = (id: number): Tensor | undefined => {
    const n = g.node(id);
    if (n.op === 'constant') return n.attrs.value as Tensor;
    if (n.op === 'input' && !listed.has(id)) return n.attrs.default as Tensor | undefined;
    return undefined;
  };

  // 1. plans, from the outputs back (ids are a topological order)
  const plans = new Map<number, Plan>();
  const needed = new Set<number>(opts.outputs.map((s) => s.id));
  const maxId = Math.max(...opts.outputs.map((s) => s.id));
  for (let id = maxId; id >= 0; id--) {
    if (!needed.has(id)) continue;
    const node = g.node(id);
    let plan: Plan;
    if (node.op === 'input' && !listed.has(id)) {
      if (!node.attrs.default) throw new GraphError(`the outputs need input "${node.attrs.name}", which is not among inputs (and has no default)`, { op: 'exportOnnx', origin: captureOrigin() });
      plan = { kind: 'row', operands: [] };
    } else if (node.op === 'where' && isConst(node.inputs[0])?.size === 1) {
      // a mode switch fixed at export (training = false): keep the branch it picks
      const pick = isConst(node.inputs[0])!.data[0] ? node.inputs[1] : node.inputs[2];
      plan = sameShape(g.node(pick).type.shape, node.type.shape) ? { kind: 'alias', of: pick } : { kind: 'row', operands: node.inputs };
    } else {
      const hit = fusions.map((f) => ({ f, m: f.match(node, g, isConst) })).find((h) => h.m);
      plan = hit ? { kind: 'fusion', fusion: hit.f, match: hit.m!, operands: hit.m!.operands } : { kind: 'row', operands: node.inputs };
    }
    plans.set(id, plan);
    for (const k of plan.kind === 'alias' ? [plan.of] : plan.operands) needed.add(k);
  }

  // 2. names: inputs, outputs, params keep theirs; everything else <scope>/<op>_<id>
  const taken = new Set<string>();
  const claim = (want: string): string => {
    let name = want;
    for (let k = 1; taken.has(name); k++) name = `${want}_${k}`;
    taken.add(name);
    return name;
  };
  opts.inputs.forEach((s) => claim(s.name!));
  outputNames.forEach((s) => claim(s));
  const preset = new Map<number, string>();
  opts.outputs.forEach((s, i) => {
    if (!preset.has(s.id) && s.op !== 'input' && s.op !== 'param') preset.set(s.id, outputNames[i]);
  });

  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const value = new Map<number, string>();
  const constants = new Map<string, string>();
  const state: string[] = [];
  const dimNames = new Map<number, (i: number) => string>();

  const ids = [...needed].sort((a, b) => a - b);
  for (const id of ids) {
    const node = g.node(id);
    const plan = plans.get(id)!;
    const origin = node.origin;
    if (plan.kind === 'alias') {
      value.set(id, value.get(plan.of)!);
      continue;
    }
    if (node.op === 'input' && listed.has(id)) {
      value.set(id, node.attrs.name as string);
      const def = node.attrs.default as Tensor | undefined;
      if (def) initializers.push(tensorProto(def, node.attrs.name as string)); // an input with a default: the initializer is overridable
      dimNames.set(id, (i) => `${node.attrs.name}_dim${i}`);
      continue;
    }
    if (node.op === 'param') {
      const name = claim(node.attrs.name as string);
      initializers.push(tensorProto(g.getValue(g.sym(id)), name));
      if (node.attrs.trainable === false) state.push(name);
      value.set(id, name);
      continue;
    }
    const base = nodeName(node);
    const outName = preset.get(id) ?? claim(base);
    const fixedValue = isConst(id);
    let helper = 0;
    const made: NodeProto[] = [];
    const emitN = (type: string, inputs: readonly string[], attrs: Record<string, Attr>, n: number): string[] => {
      const out = claim(`${base}_${type}${helper++ ? `_${helper - 1}` : ''}`);
      const outs = [out, ...Array.from({ length: n - 1 }, (_, k) => claim(`${out}_${k + 1}`))];
      const p: NodeProto = {
        name: out,
        op_type: type,
        input: [...inputs],
        output: outs,
        attribute: Object.entries(attrs).map(([name, a]) => ({ name, ...a })),
        ...(origin && origin !== '<unknown>' ? { doc_string: origin } : {}),
      };
      made.push(p);
      return outs;
    };
    const emit = (type: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string => emitN(type, inputs, attrs, 1)[0];
    const constant = (t: Tensor | TensorProto, key: string): string => {
      const hit = constants.get(key);
      if (hit) return hit;
      const name = emit('Constant', [], { value: A.t(t instanceof Tensor ? tensorProto(t) : t) });
      constants.set(key, name);
      return name;
    };
    const operands = plan.operands;
    const ctx: ExportCtx = {
      node,
      opset,
      inputs: operands.map((k) => value.get(k)!),
      types: operands.map((k) => g.node(k).type),
      op: emit,
      opN: emitN,
      int64: (vs) => constant(int64Proto(vs), `i64:${vs.join(',')}`),
      constant: (v, dtype = node.type.dtype) => {
        const t = v instanceof Tensor ? v : Tensor.scalar(v, dtype);
        return t.size <= 16 ? constant(t, `${t.dtype}[${t.shape}]:${Array.from(t.data).join(',')}`) : emit('Constant', [], { value: A.t(tensorProto(t)) });
      },
      unsupported: (detail) => new OnnxUnsupportedError(detail, { op: node.op, node: id, scope: node.scope || undefined, origin: node.origin, shapes: operands.map((k) => g.node(k).type.shape) }),
      constOf: isConst,
    };
    let result: string;
    if (fixedValue) {
      result = emit('Constant', [], { value: A.t(tensorProto(fixedValue)) });
    } else if (plan.kind === 'fusion') {
      result = plan.fusion.emit(ctx, plan.match);
    } else {
      const rule = exporters[node.op];
      if (!rule) throw ctx.unsupported(`no ONNX translation for op "${node.op}" (node %${id}); only gradgraph's primitives export`);
      result = rule(ctx);
    }
    // the node's own value takes its proper name: rename the ONNX node that made it
    const last = made.find((p) => p.output[0] === result);
    if (last) {
      taken.delete(result);
      for (const [k, v] of constants) if (v === result) constants.set(k, outName);
      for (const p of made) p.input = p.input.map((s) => (s === result ? outName : s));
      last.output = [outName];
      last.name = base; // the node keeps <scope>/<op>_<id> even when its value is an output's name
      value.set(id, outName);
    } else {
      if (!preset.has(id)) taken.delete(outName);
      value.set(id, result);
    }
    nodes.push(...made);
  }

  // outputs that are inputs, params, aliases or repeats get an Identity to carry their name
  const outputs: ValueInfoProto[] = opts.outputs.map((s, i) => {
    const name = outputNames[i];
    if (value.get(s.id) !== name) nodes.push({ name, op_type: 'Identity', input: [value.get(s.id)!], output: [name] });
    return valueInfo(name, s.node.type);
  });
  const inputs = opts.inputs.map((s) => valueInfo(s.name!, s.node.type, dimNames.get(s.id) ?? ((i) => `${s.name}_dim${i}`)));

  return encodeModel({
    ir_version: opset <= 18 ? 8 : opset <= 20 ? 9 : 10,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'gradgraph',
    producer_version: '0.1.0',
    ...(opts.docString ? { doc_string: opts.docString } : {}),
    metadata_props: [
      { key: META.seed, value: String(g.seed) },
      ...(state.length ? [{ key: META.state, value: JSON.stringify(state) }] : []),
    ],
    graph: { name: opts.name ?? 'gradgraph', node: nodes, initializer: initializers, input: inputs, output: outputs },
  });
}
