import { describe, expect, it } from 'vitest';
import * as api from '../../api';
import { customGrad } from '../../autodiff';
import { compile } from '../../compile';
import type { DType } from '../../dtype';
import { allocArray } from '../../dtype';
import { DTypeError, GraphError, ShapeError } from '../../errors';
import { Graph, type Sym } from '../../graph';
import { listOps } from '../../registry';
import { broadcastShapes, type Shape } from '../../shape';
import { Tensor } from '../../tensor';
import { fc } from '../../testing/index';
import { BINARY_JS, compileElementwise, ew, exprTemplate, literalJs, UNARY_JS, type ElementwiseSpec, type Expr, type ReduceAxes, type ReduceOp } from './elementwise';

// ---- helpers: the same computation through the interpreter --------------------------------------

/** Builds the graph an expression stands for, with inputs x0, x1, ... */
function toGraph(e: Expr, g: Graph, xs: readonly Sym[], memo = new Map<Expr, Sym>()): Sym {
  const hit = memo.get(e);
  if (hit) return hit;
  const go = (c: Expr) => toGraph(c, g, xs, memo);
  let s: Sym;
  switch (e.kind) {
    case 'input':
      s = xs[e.slot];
      break;
    case 'const':
      s = g.constant(Tensor.full([], e.value, e.dtype));
      break;
    case 'unary':
      s = g.apply(e.op, [go(e.x)]);
      break;
    case 'binary':
      s = g.apply(e.op, [go(e.a), go(e.b)]);
      break;
    case 'select':
      s = g.apply('where', [go(e.cond), go(e.a), go(e.b)]);
      break;
    case 'cast':
      s = g.apply('cast', [go(e.x)], { dtype: e.dtype });
      break;
  }
  memo.set(e, s);
  return s;
}

const REDUCERS: Record<ReduceOp, (x: Sym, axes?: number[]) => Sym> = {
  sum: (x, a) => api.sum(x, a),
  mean: (x, a) => api.mean(x, a),
  max: (x, a) => api.max(x, a),
  min: (x, a) => api.min(x, a),
};

/** What the reference interpreter computes for a spec: outputs, then the reduction. */
function interpreted(spec: ElementwiseSpec, inputs: readonly Tensor[]): Tensor[] {
  const g = new Graph();
  const xs = spec.inputs.map((t, k) => g.input(`x${k}`, [...t.shape], t.dtype));
  const memo = new Map<Expr, Sym>();
  const full = (e: Expr) => {
    const s = toGraph(e, g, xs, memo);
    const same = s.shape.length === spec.shape.length && s.shape.every((d, i) => d === spec.shape[i]);
    return same ? s : api.broadcastTo(s, [...spec.shape]);
  };
  const outs = spec.outputs.map(full);
  if (spec.reduce) {
    const r = full(spec.reduce.expr);
    const rank = spec.shape.length;
    const axes = { last: [rank - 1], leading: Array.from({ length: rank - 1 }, (_, i) => i), all: undefined }[spec.reduce.axes];
    outs.push(REDUCERS[spec.reduce.op](r, axes));
  }
  // passes: [] — the graph as written, node by node with the reference kernels
  const exe = compile(g, { inputs: xs, outputs: outs, passes: [], backend: 'interpreter' });
  return exe.run(Object.fromEntries(inputs.map((t, k) => [`x${k}`, t])));
}

/** What the generated kernel computes for the same spec. */
function generated(spec: ElementwiseSpec, inputs: readonly Tensor[]): Tensor[] {
  const k = compileElementwise(spec);
  const outs = spec.outputs.map((e) => new Tensor(e.dtype, spec.shape));
  const red = spec.reduce ? new Tensor(k.reducedDtype!, k.reducedShape!) : undefined;
  k.call(
    inputs.map((t) => t.data),
    outs.map((t) => t.data),
    red?.data,
  );
  return red ? [...outs, red] : outs;
}

/** Equal, or within `rtol` relative; NaN matches NaN. */
function close(a: number, b: number, rtol: number): boolean {
  if (Object.is(a, b)) return true;
  return Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b));
}

function expectClose(got: readonly Tensor[], want: readonly Tensor[], rtol = 1e-12): void {
  expect(got.length).toBe(want.length);
  got.forEach((t, i) => {
    expect(t.dtype).toBe(want[i].dtype);
    expect(t.shape).toEqual(want[i].shape);
    for (let j = 0; j < t.size; j++) {
      if (!close(t.data[j], want[i].data[j], rtol)) {
        expect.fail(`result ${i} element ${j}: kernel ${t.data[j]}, interpreter ${want[i].data[j]}`);
      }
    }
  });
}

/** Deterministic test values: floats in [-3, 3] with exact zeros and ties, ints in [-4, 4], bools. */
function values(dtype: DType, shape: Shape, seed: number): Tensor {
  const t = new Tensor(dtype, shape);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < t.size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    if (dtype === 'bool') t.data[i] = u < 0.5 ? 1 : 0;
    else if (dtype === 'int32') t.data[i] = Math.floor(u * 9) - 4;
    else if (i % 7 === 3) t.data[i] = Math.round(u * 12 - 6) / 2; // ties and zeros for where/maximum/sign
    else t.data[i] = u * 6 - 3;
  }
  return dtype === 'float32' ? t.astype('float32') : t;
}

// ---- coverage of the registry ---------------------------------------------------------------

const ELEMENTWISE = listOps().filter((d) => d.kind === 'elementwise');

/** Input dtypes each elementwise primitive is tested with (every one must appear here). */
const COVERAGE_DTYPES: Record<string, DType[][]> = {
  where: [['bool', 'float64', 'float64'], ['bool', 'int32', 'int32'], ['bool', 'float32', 'float32']],
  logicalNot: [['bool']],
  logicalAnd: [['bool', 'bool']],
  logicalOr: [['bool', 'bool']],
};

describe('coverage: every elementwise primitive has JS code with the reference math', () => {
  it('every unary and binary table entry names a registered elementwise primitive', () => {
    const names = new Set(ELEMENTWISE.map((d) => d.name));
    for (const op of [...Object.keys(UNARY_JS), ...Object.keys(BINARY_JS)]) expect(names.has(op), op).toBe(true);
  });

  for (const def of ELEMENTWISE) {
    it(`${def.name} agrees with its reference kernel`, () => {
      const shape = [3, 5];
      const arity = typeof def.arity === 'number' ? def.arity : def.arity.min;
      if (def.name === 'customGrad') {
        // a custom-gradient node's value is its last input, f(x)
        const f = customGrad((x: Sym) => x.sin(), (_x, _y, dy) => [dy]);
        const g = new Graph();
        const x = g.input('x', shape, 'float64');
        const xv = values('float64', shape, 3);
        const [want] = compile(g, { outputs: [f(x)], passes: [], backend: 'interpreter' }).run({ x: xv });
        const xe = ew.input(0, 'float64');
        const e = ew.op('customGrad', [xe, ew.op('sin', [xe])]);
        expectClose(generated({ shape, inputs: [{ shape, dtype: 'float64' }], outputs: [e] }, [xv]), [want], 0);
        return;
      }
      if (def.name === 'cast') {
        for (const from of ['float64', 'float32', 'int32', 'bool'] as const) {
          for (const to of ['float64', 'float32', 'int32', 'bool'] as const) {
            const spec: ElementwiseSpec = { shape, inputs: [{ shape, dtype: from }], outputs: [ew.op('cast', [ew.input(0, from)], { dtype: to })] };
            const xs = [values(from, shape, 5)];
            // scale floats so int casts truncate, and one wraps
            if (from !== 'bool' && from !== 'int32') for (let i = 0; i < xs[0].size; i++) xs[0].data[i] *= i === 0 ? 3e9 : 1.7;
            expectClose(generated(spec, xs), interpreted(spec, xs), 0);
          }
        }
        return;
      }
      const dtypeSets = COVERAGE_DTYPES[def.name] ?? [
        Array(arity).fill('float64'),
        Array(arity).fill('float32'),
        // numeric ops also run on int32
        ...(['neg', 'abs', 'sign', 'add', 'sub', 'mul', 'maximum', 'minimum', 'greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual'].includes(def.name) ? [Array(arity).fill('int32')] : []),
      ];
      for (const dtypes of dtypeSets) {
        // broadcast the second operand along the first axis
        const shapes = dtypes.map((_, i) => (i === 1 ? [5] : shape));
        const xs = dtypes.map((d, i) => values(d, shapes[i], 7 + i));
        const args = dtypes.map((d, i) => ew.input(i, d));
        const spec: ElementwiseSpec = { shape, inputs: dtypes.map((dtype, i) => ({ shape: shapes[i], dtype })), outputs: [ew.op(def.name, args)] };
        expectClose(generated(spec, xs), interpreted(spec, xs), 0);
      }
    });
  }

  it('the interpreter-equal math includes the stable sigmoid and softplus at extreme inputs', () => {
    const shape = [6];
    const xv = Tensor.from([-800, -40, -1e-12, 0, 40, 800], 'float64');
    const x = ew.input(0, 'float64');
    const spec: ElementwiseSpec = { shape, inputs: [{ shape, dtype: 'float64' }], outputs: [ew.unary('sigmoid', x), ew.unary('softplus', x)] };
    const got = generated(spec, [xv]);
    expectClose(got, interpreted(spec, [xv]), 0);
    expect(got[0].data[0]).toBe(0); // no NaN from e^800/(1+e^800)
    expect(got[1].data[5]).toBe(800);
  });

  it('sigmoid(x), sigmoid(−x), softplus(x) and |−x| share one e^−|x| and stay exact at special values', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const shape = [11];
      const xv = Tensor.from([NaN, -Infinity, Infinity, -0, 0, -750, 750, -3.5, 3.5, 1e-30, -20], dtype);
      const x = ew.input(0, dtype);
      const nx = ew.unary('neg', x);
      const spec: ElementwiseSpec = {
        shape,
        inputs: [{ shape, dtype }],
        outputs: [ew.unary('sigmoid', x), ew.unary('sigmoid', nx), ew.unary('softplus', x), ew.unary('abs', nx), ew.unary('softplus', nx)],
      };
      const k = compileElementwise(spec);
      expect(k.source.match(/Math\.exp/g)?.length).toBe(1);
      expectClose(generated(spec, [xv]), interpreted(spec, [xv]), 0);
    }
  });
});

// ---- generated expressions -------------------------------------------------------------------

const FLOAT_UNARY = ['neg', 'exp', 'log', 'tanh', 'sigmoid', 'abs', 'sign', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'sin', 'cos', 'softplus', 'reciprocal', 'erf', 'erfc', 'asin', 'acos', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh'];
const FLOAT_BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'atan2'];
const COMPARE = ['greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual'];
const INT_UNARY = ['neg', 'abs', 'sign'];
const INT_BINARY = ['add', 'sub', 'mul', 'maximum', 'minimum'];

interface Step {
  kind: 'unary' | 'binary' | 'select' | 'const';
  op: number;
  args: number[];
  value: number;
}

const arbStep = fc.record({
  kind: fc.constantFrom<Step['kind']>('unary', 'binary', 'binary', 'select', 'const'),
  op: fc.nat(),
  args: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  value: fc.constantFrom(0, 1, -1, 0.5, 1.5, -0.1, 2, 3),
});

/** Builds a DAG from steps: each step applies an op to earlier values (inputs first). */
function buildExpr(steps: readonly Step[], inputs: readonly Expr[], dtype: DType): Expr[] {
  const vals: Expr[] = [...inputs];
  const pick = (i: number) => vals[i % vals.length];
  const isInt = dtype === 'int32';
  for (const s of steps) {
    if (s.kind === 'const') vals.push(ew.constant(isInt ? Math.round(s.value * 2) : s.value, dtype));
    else if (s.kind === 'unary') {
      const ops = isInt ? INT_UNARY : FLOAT_UNARY;
      vals.push(ew.unary(ops[s.op % ops.length], pick(s.args[0])));
    } else if (s.kind === 'binary') {
      const ops = isInt ? INT_BINARY : FLOAT_BINARY;
      vals.push(ew.binary(ops[s.op % ops.length], pick(s.args[0]), pick(s.args[1])));
    } else {
      const cond = ew.binary(COMPARE[s.op % COMPARE.length], pick(s.args[0]), pick(s.args[1]));
      // sometimes combine conditions with logical ops, and cast one through bool
      const c2 = s.op % 3 === 0 ? ew.binary(s.op % 2 ? 'logicalOr' : 'logicalAnd', cond, ew.unary('logicalNot', ew.cast(pick(s.args[3]), 'bool'))) : cond;
      vals.push(ew.select(c2, pick(s.args[2]), pick(s.args[3])));
    }
  }
  return vals;
}

/** Up to three input shapes that broadcast together, from a base shape. */
const arbShapes = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 4 }),
    fc.array(fc.tuple(fc.nat({ max: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 })), { minLength: 1, maxLength: 3 }),
  )
  .map(([base, variants]) => {
    const inputs = variants.map(([drop, ones]) => base.slice(Math.min(drop, base.length)).map((d, i) => (ones[i] ? 1 : d)));
    const shape = broadcastShapes(...inputs) as number[];
    return { inputs, shape };
  });

const arbCase = (dtype: DType) =>
  fc.record({
    shapes: arbShapes,
    steps: fc.array(arbStep, { minLength: 1, maxLength: 12 }),
    extraOutput: fc.option(fc.nat(), { nil: undefined }),
    reduce: fc.option(fc.record({ op: fc.constantFrom<ReduceOp>(...(dtype === 'int32' ? (['sum', 'max', 'min'] as const) : (['sum', 'mean', 'max', 'min'] as const))), axes: fc.constantFrom<ReduceAxes>('last', 'leading', 'all'), which: fc.nat() }), { nil: undefined }),
    storeOutput: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
  });

type Case = ReturnType<typeof arbCase> extends fc.Arbitrary<infer T> ? T : never;

function checkCase(dtype: DType, c: Case, rtol: number): void {
  const { shapes, steps, extraOutput, reduce, storeOutput, seed } = c;
  const inputs = shapes.inputs.map((_, k) => ew.input(k, dtype));
  const vals = buildExpr(steps, inputs, dtype);
  const main = vals[vals.length - 1];
  const outputs = storeOutput || !reduce ? [main] : [];
  if (extraOutput !== undefined) outputs.push(vals[extraOutput % vals.length]);
  const lastOk = shapes.shape.length > 0;
  const red = reduce && (reduce.axes === 'all' || lastOk) ? { op: reduce.op, axes: reduce.axes, expr: vals[reduce.which % vals.length] } : undefined;
  if (outputs.length === 0 && !red) outputs.push(main);
  const spec: ElementwiseSpec = { shape: shapes.shape, inputs: shapes.inputs.map((s) => ({ shape: s, dtype })), outputs, reduce: red };
  const xs = shapes.inputs.map((s, k) => values(dtype, s, seed + k));
  expectClose(generated(spec, xs), interpreted(spec, xs), rtol);
}

describe('property: generated expressions agree with the interpreter', () => {
  it('float64 to 1e-12 relative (broadcasting, DAG sharing, outputs and reductions)', () => {
    fc.assert(
      fc.property(arbCase('float64'), (c) => checkCase('float64', c, 1e-12)),
      { numRuns: 200, seed: 20260611 },
    );
  });

  it('float32 with rounded intermediates: equal to the interpreter', () => {
    fc.assert(
      fc.property(arbCase('float32'), (c) => checkCase('float32', c, 0)),
      { numRuns: 100, seed: 7 },
    );
  });

  it('int32 and bool: wrapping integer math and 0/1 booleans', () => {
    fc.assert(
      fc.property(arbCase('int32'), (c) => checkCase('int32', c, 0)),
      { numRuns: 100, seed: 11 },
    );
  });
});

// ---- structure of the generated code ----------------------------------------------------------

describe('generated loops', () => {
  it('merges contiguous dims, keeps broadcast dims apart and hoists loop-invariant work', () => {
    const x = ew.input(0, 'float32');
    const b = ew.input(1, 'float32');
    const s = ew.input(2, 'float32');
    // relu(x + b)·exp(s): b is a [64] row, s a scalar
    const y = ew.binary('mul', ew.op('where', [ew.binary('greater', ew.binary('add', x, b), ew.constant(0, 'float32')), ew.binary('add', x, b), ew.constant(0, 'float32')]), ew.unary('exp', s));
    const k = compileElementwise({
      shape: [2, 8, 64],
      inputs: [
        { shape: [2, 8, 64], dtype: 'float32' },
        { shape: [64], dtype: 'float32' },
        { shape: [], dtype: 'float32' },
      ],
      outputs: [y],
    });
    // [2, 8] merge into one loop of 16; the bias row keeps the inner loop of 64 apart
    expect(k.source).toContain('i0 < 16');
    expect(k.source).toContain('i1 < 64');
    expect(k.source).not.toContain('i2');
    // exp(s) is computed once, before any loop
    const expAt = k.source.indexOf('Math.exp');
    expect(expAt).toBeGreaterThan(-1);
    expect(expAt).toBeLessThan(k.source.indexOf('for ('));
    // x + b, built twice, is computed once per element
    expect(k.source.match(/\(t\d+ \+ t\d+\)/g)?.length).toBe(1);
  });

  it('writes into arena views at offsets and nothing else', () => {
    const x = ew.input(0, 'float64');
    const k = compileElementwise({ shape: [3, 4], inputs: [{ shape: [3, 4], dtype: 'float64' }], outputs: [ew.unary('tanh', x)], reduce: { op: 'max', expr: x, axes: 'last' } });
    const arena = new Float64Array(40).fill(NaN);
    for (let i = 0; i < 12; i++) arena[2 + i] = i - 5;
    k.fn(arena, 2, arena, 20, arena, 33);
    expect(Array.from(arena.subarray(20, 32))).toEqual(Array.from({ length: 12 }, (_, i) => Math.tanh(i - 5)));
    expect(Array.from(arena.subarray(33, 36))).toEqual([-2, 2, 6]);
    expect([arena[0], arena[1], arena[14], arena[19], arena[32], arena[36]].every(Number.isNaN)).toBe(true);
  });

  it('reduces over the leading axes into one float64 accumulator per column (a bias gradient)', () => {
    // db = Σ over batch and time of dy·(1 − y²), for dy, y of shape [4, 3, 5]
    const dy = ew.input(0, 'float32');
    const y = ew.input(1, 'float32');
    const spec: ElementwiseSpec = {
      shape: [4, 3, 5],
      inputs: [
        { shape: [4, 3, 5], dtype: 'float32' },
        { shape: [4, 3, 5], dtype: 'float32' },
      ],
      outputs: [],
      reduce: { op: 'sum', expr: ew.binary('mul', dy, ew.binary('sub', ew.constant(1, 'float32'), ew.binary('mul', y, y))), axes: 'leading' },
    };
    const k = compileElementwise(spec);
    expect(k.reducedShape).toEqual([5]);
    expect(k.source).toContain('i0 < 12'); // batch and time merge; the column loop stays apart
    const xs = [values('float32', [4, 3, 5], 1), values('float32', [4, 3, 5], 2)];
    const want = interpreted(spec, xs);
    expectClose(generated(spec, xs), want, 0);
    // the accumulators are reset on every call
    const out = new Float32Array(5);
    k.call(xs.map((t) => t.data), [], out);
    k.call(xs.map((t) => t.data), [], out);
    expect(Array.from(out)).toEqual(Array.from(want[0].data));
  });

  it('handles empty shapes and scalars like the reference kernels', () => {
    const x = ew.input(0, 'float64');
    for (const op of ['sum', 'mean', 'max', 'min'] as const) {
      for (const shape of [[0], [2, 0], [0, 3], []] as number[][]) {
        const spec: ElementwiseSpec = { shape, inputs: [{ shape, dtype: 'float64' }], outputs: [ew.unary('exp', x)], reduce: { op, expr: x, axes: 'all' } };
        const xs = [values('float64', shape, 1)];
        expectClose(generated(spec, xs), interpreted(spec, xs), 0);
        if (shape.length) {
          for (const axes of ['last', 'leading'] as const) {
            const along: ElementwiseSpec = { ...spec, reduce: { op, expr: x, axes } };
            expectClose(generated(along, xs), interpreted(along, xs), 0);
          }
        }
      }
    }
  });

  it('roundIntermediates: false keeps float32 intermediates in double precision', () => {
    const x = ew.input(0, 'float32');
    const y = ew.binary('sub', ew.binary('add', x, ew.constant(1e8, 'float32')), ew.constant(1e8, 'float32'));
    const spec = { shape: [1], inputs: [{ shape: [1], dtype: 'float32' as const }], outputs: [y] };
    const xs = [Tensor.from([0.25])];
    expect(generated(spec, xs)[0].data[0]).toBe(0); // 1e8 + 0.25 rounds to 1e8 in float32
    expect(generated({ ...spec, roundIntermediates: false }, xs)[0].data[0]).toBe(0.25);
  });

  it('builds templates for epilogues and literals that read back exactly', () => {
    const v = ew.input(0, 'float64');
    const t = exprTemplate(ew.unary('sign', ew.binary('sub', v, ew.constant(-0.5, 'float64'))));
    const f = new Function('v', `return ${t('v')};`) as (v: number) => number;
    expect([f(-1), f(-0.5), f(2)]).toEqual([-1, 0, 1]);
    for (const x of [NaN, Infinity, -Infinity, -0, 0.1, -1e-300, 1.7976931348623157e308]) expect(Object.is(new Function(`return ${literalJs(x)};`)(), x)).toBe(true);
    expect(() => exprTemplate(ew.input(1, 'float64'))('v')).toThrow(GraphError);
  });
});

describe('bad specs get typed errors', () => {
  const x = ew.input(0, 'float32');
  it('rejects dtype mismatches when the expression is built', () => {
    expect(() => ew.unary('log', ew.input(0, 'int32'))).toThrow(DTypeError);
    expect(() => ew.binary('add', x, ew.input(1, 'float64'))).toThrow(/different dtypes/);
    expect(() => ew.select(x, x, x)).toThrow(DTypeError);
    expect(() => ew.unary('matmul', x)).toThrow(GraphError);
    expect(() => ew.op('sum', [x])).toThrow(/not an elementwise op/);
    expect(() => ew.op('add', [x])).toThrow(/takes 2 argument/);
  });

  it('rejects inputs that do not broadcast, unknown slots and bad reductions', () => {
    expect(() => compileElementwise({ shape: [3], inputs: [{ shape: [4], dtype: 'float32' }], outputs: [x] })).toThrow(ShapeError);
    expect(() => compileElementwise({ shape: [3], inputs: [{ shape: [3], dtype: 'float64' }], outputs: [x] })).toThrow(/input slot 0 is float64/);
    expect(() => compileElementwise({ shape: [3], inputs: [], outputs: [x] })).toThrow(/reads input slot 0/);
    expect(() => compileElementwise({ shape: [3], inputs: [{ shape: [3], dtype: 'float32' }], outputs: [] })).toThrow(/at least one output/);
    expect(() => compileElementwise({ shape: [], inputs: [{ shape: [], dtype: 'float32' }], outputs: [], reduce: { op: 'sum', expr: x, axes: 'last' } })).toThrow(/rank ≥ 1/);
    const b = ew.input(0, 'bool');
    expect(() => compileElementwise({ shape: [2], inputs: [{ shape: [2], dtype: 'bool' }], outputs: [], reduce: { op: 'sum', expr: b, axes: 'all' } })).toThrow(DTypeError);
    const k = compileElementwise({ shape: [2], inputs: [{ shape: [2], dtype: 'float32' }], outputs: [x] });
    expect(() => k.call([], [new Float32Array(2)])).toThrow(/takes 1 input/);
  });

  it('allocates typed arrays of the dtype each slot needs', () => {
    const k = compileElementwise({ shape: [2], inputs: [{ shape: [2], dtype: 'int32' }], outputs: [ew.binary('greater', ew.input(0, 'int32'), ew.constant(0, 'int32'))] });
    expect(k.outputDtypes).toEqual(['bool']);
    const out = allocArray('bool', 2);
    k.call([Int32Array.from([3, -3])], [out]);
    expect(Array.from(out)).toEqual([1, 0]);
  });
});
