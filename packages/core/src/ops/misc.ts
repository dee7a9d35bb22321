/** Sources (input, param, constant), cast, stopGradient and the keyed random primitives. */
import * as api from '../api';
import { coerce, isDType, isFloat, type DType } from '../dtype';
import { GraphError } from '../errors';
import type { Attrs } from '../ir';
import { fillNormal, fillUniform } from '../random';
import { fail, notDifferentiable, traits, type OpDef } from '../registry';
import { fmtShape, sizeOf } from '../shape';
import { Tensor } from '../tensor';
import { elementwiseBatch, randomBatch, sourceBatch } from './batching';
import { sourceJvp, zeroJvp } from './jvp';
import { intList, noAttrs } from './util';

const sourceKernel = (what: string) => (): never => {
  throw new GraphError(`a ${what} has no kernel: the executor supplies its value`, { op: what });
};

/** Leaves of the graph. The executor supplies their values; they have no inputs to differentiate. */
export const sourceOps: OpDef<any>[] = [
  {
    name: 'input',
    arity: 0,
    kind: 'source',
    traits: traits(),
    doc: 'a value fed at run time by name',
    attrs: (raw) => raw,
    infer: () => fail('inputs are made with g.input()'),
    kernel: sourceKernel('input'),
    vjp: () => [],
    jvp: sourceJvp,
    batch: sourceBatch,
    flops: () => 0,
  },
  {
    name: 'param',
    arity: 0,
    kind: 'source',
    traits: traits(),
    doc: 'a value owned by the graph: trainable, or state with trainable = false',
    attrs: (raw) => raw,
    infer: () => fail('params are made with g.param()'),
    kernel: sourceKernel('param'),
    vjp: () => [],
    jvp: sourceJvp,
    batch: sourceBatch,
    flops: () => 0,
  },
  {
    name: 'constant',
    arity: 0,
    kind: 'source',
    // finite when every element of its value is
    traits: traits({ finiteIfInputsFinite: (a) => ((a.value as Tensor).data.every((v: number) => Number.isFinite(v)) ? [] : null) }),
    doc: 'a fixed tensor',
    attrs: (raw) => {
      if (!(raw.value instanceof Tensor)) fail('a constant needs a Tensor value');
      return raw;
    },
    infer: (_i, a) => {
      const t = a.value as Tensor;
      return { dtype: t.dtype, shape: t.shape };
    },
    kernel: (_i, a) => (a.value as Tensor).clone(),
    vjp: () => [],
    jvp: sourceJvp,
    batch: sourceBatch,
    flops: () => 0,
  },
];

interface CastAttrs extends Attrs {
  readonly dtype: DType;
}

export const castOp: OpDef<CastAttrs> = {
  name: 'cast',
  arity: 1,
  kind: 'elementwise',
  // ints and bools cast to finite floats; float64 → float32 can overflow to ∞
  traits: traits({ elementwise: true, shapePreserving: true, finiteIfInputsFinite: (a, [x]) => (!isFloat(x.dtype) ? [] : x.dtype === 'float32' || a.dtype === 'float64' ? [0] : null) }),
  doc: 'converts to another dtype (floats to int32 truncate toward zero; nonzero to bool is true)',
  attrs: (raw) => {
    if (!isDType(raw.dtype)) fail(`unknown dtype ${JSON.stringify(raw.dtype)}`);
    return { dtype: raw.dtype };
  },
  infer: ([x], a) => ({ dtype: a.dtype, shape: x.shape }),
  kernel: ([x], a, ctx) => {
    const out = new Tensor(a.dtype, ctx.out.shape);
    for (let i = 0; i < x.size; i++) out.data[i] = coerce(a.dtype, x.data[i]);
    return out;
  },
  // d cast = dy cast back, between float types; nothing flows through integer or bool casts
  vjp: ({ dy, inputs: [x], attrs }) => [isFloat(x.dtype) && isFloat(attrs.dtype) ? api.cast(dy, x.dtype) : null],
  // linear between float types: ṫ = cast(t)
  jvp: ({ tangents: [t], attrs }) => (t && isFloat(attrs.dtype) ? api.cast(t, attrs.dtype) : null),
  batch: elementwiseBatch,
  flops: () => 0,
};

export const stopGradientOp: OpDef<Attrs> = {
  name: 'stopGradient',
  arity: 1,
  kind: 'elementwise',
  traits: traits({ elementwise: true, shapePreserving: true, finiteIfInputsFinite: [0] }),
  doc: 'the identity on values; its gradient is zero',
  attrs: noAttrs,
  infer: ([x]) => ({ dtype: x.dtype, shape: x.shape }),
  kernel: ([x]) => x.clone(),
  vjp: () => [null],
  // a constant to every derivative, forward as well as reverse
  jvp: zeroJvp,
  batch: elementwiseBatch,
  flops: () => 0,
};

interface RandomAttrs extends Attrs {
  readonly key: string;
  readonly dtype: DType;
  /** Static shape when there is no shape-lending input. */
  readonly shape?: readonly number[];
  readonly low?: number;
  readonly high?: number;
  readonly mean?: number;
  readonly std?: number;
}

function randomAttrs(raw: Attrs, inputs: readonly unknown[]): RandomAttrs {
  if (typeof raw.key !== 'string' || !raw.key) fail('a random node needs a key (use the randomUniform/randomNormal builders)');
  if (!isDType(raw.dtype) || !isFloat(raw.dtype)) fail(`random dtype must be float32 or float64, got ${JSON.stringify(raw.dtype)}`);
  const out: Record<string, unknown> = { ...raw };
  if (inputs.length === 0) {
    const shape = intList(raw.shape, 'shape');
    if (shape.some((d) => d < 0)) fail(`shape ${fmtShape(shape)} must be non-negative`);
    out.shape = shape;
  } else delete out.shape;
  for (const k of ['low', 'high', 'mean', 'std']) if (k in out && (typeof out[k] !== 'number' || !Number.isFinite(out[k] as number))) fail(`${k} must be a finite number`);
  return out as RandomAttrs;
}

function randomOp(name: string, doc: string, fill: (t: Tensor, a: RandomAttrs, key: NonNullable<Parameters<OpDef['kernel']>[2]['random']>) => void): OpDef<RandomAttrs> {
  return {
    name,
    arity: { min: 0, max: 1 },
    kind: 'random',
    // the optional input only lends its shape
    traits: traits({ dataInputs: 'none', finiteIfInputsFinite: [] }),
    doc,
    attrs: randomAttrs,
    infer: (ins, a) => ({ dtype: a.dtype, shape: ins.length ? ins[0].shape : (a.shape as number[]) }),
    kernel: (_ins, a, ctx) => {
      if (!ctx.random) throw new GraphError('a random kernel needs its stream key from the executor', { op: name });
      const out = new Tensor(a.dtype, ctx.out.shape);
      fill(out, a, ctx.random);
      return out;
    },
    // samples are constants of the run; the shape-lending input gets no gradient
    vjp: notDifferentiable,
    jvp: notDifferentiable,
    batch: randomBatch,
    flops: (_i, out) => 4 * sizeOf(out.shape),
  };
}

export const randomOps: OpDef<RandomAttrs>[] = [
  randomOp('randomUniform', 'U[low, high) samples, keyed by (graph seed, node key, run counter)', (t, a, k) => fillUniform(t.data, t.dtype, k, a.low ?? 0, a.high ?? 1)),
  randomOp('randomNormal', 'N(mean, std²) samples, keyed by (graph seed, node key, run counter)', (t, a, k) => fillNormal(t.data, t.dtype, k, a.mean ?? 0, a.std ?? 1)),
];
