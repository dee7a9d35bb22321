/**
 * The registry table: every registered primitive has a row with shape-rule cases (including
 * broadcasting and bad shapes) and kernel values checked against hand-computed ones.
 */
import { describe, expect, it } from 'vitest';
import { customGrad } from '../autodiff';
import { BACKENDS, compile } from '../compile';
import { GradgraphError } from '../errors';
import { Graph, type Sym } from '../graph';
import { listOps } from '../registry';
import type { SymShape } from '../shape';
import { Tensor } from '../tensor';

type Spec = { t: Tensor; sym?: SymShape };
interface Case {
  inputs: (Tensor | Spec)[];
  attrs?: Record<string, unknown>;
  /** Expected output shape (symbolic) and dtype. */
  shape: SymShape;
  dtype?: string;
  /** Expected values (nested), when checking the kernel. */
  value?: unknown;
  /** Custom check of the output tensor. */
  check?: (out: Tensor) => void;
}
interface Bad {
  inputs: { shape: SymShape; dtype?: string }[];
  attrs?: Record<string, unknown>;
  error: RegExp;
}
interface Row {
  cases: Case[];
  bad: Bad[];
  /** Builds the node when the op isn't applied through g.apply with plain inputs. */
  build?: (g: Graph, xs: Sym[], attrs: Record<string, unknown>) => Sym;
}

const f = (v: unknown, dtype: 'float32' | 'float64' | 'int32' | 'bool' = 'float64') => Tensor.from(v as never, dtype);
const i32 = (v: unknown) => Tensor.from(v as never, 'int32');
const b8 = (v: unknown) => Tensor.from(v as never, 'bool');
const sp = (t: Tensor, sym: SymShape): Spec => ({ t, sym });

function unary(fn: (x: number) => number, xs: number[], bad: Bad[] = []): Row {
  return {
    cases: [
      { inputs: [f(xs)], shape: [xs.length], value: xs.map(fn) },
      { inputs: [sp(f([[xs[0]], [xs[1]]]), [null, 1])], shape: [null, 1], value: [[fn(xs[0])], [fn(xs[1])]] },
    ],
    bad: [{ inputs: [{ shape: [2], dtype: 'bool' }], error: /must be|numeric|float/ }, ...bad],
  };
}

function binary(fn: (a: number, b: number) => number, dtype?: string): Row {
  const a = [[1, 2, 3], [4, 5, 6]];
  const b = [0.5, 2, 3];
  return {
    cases: [
      { inputs: [f(a), f(b)], shape: [2, 3], dtype, value: a.map((r) => r.map((v, j) => fn(v, b[j]))) },
      { inputs: [sp(f(a), [null, 3]), f([[2], [1]])], shape: [2, 3], dtype, value: a.map((r, i) => r.map((v) => fn(v, [2, 1][i]))) },
      { inputs: [f(3), f([1, 3])], shape: [2], dtype, value: [fn(3, 1), fn(3, 3)] },
    ],
    bad: [
      { inputs: [{ shape: [2, 3] }, { shape: [4] }], error: /shapes \[2,3\] and \[4\] do not broadcast/ },
      { inputs: [{ shape: [2] }, { shape: [2], dtype: 'float32' }], error: /different dtypes float64 and float32/ },
    ],
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** A function given by a table of hand-computed values (for `unary` rows whose op has no Math counterpart). */
const byTable = (pairs: [number, number][]) => (x: number) => {
  const hit = pairs.find(([at]) => at === x);
  if (!hit) throw new Error(`no table value at ${x}`);
  return hit[1];
};
const cube = customGrad(
  (x: Sym) => x.mul(x).mul(x),
  (x: Sym, _y: Sym, dy: Sym) => [dy.mul(x.mul(x)).mul(3)],
);

const rows: Record<string, Row> = {
  input: {
    cases: [{ inputs: [], shape: [null, 2], check: (t) => expect(t.toArray()).toEqual([[1, 2]]) }],
    bad: [],
    build: (g) => g.input('x0', [null, 2], 'float64'),
  },
  param: {
    cases: [{ inputs: [], shape: [2], value: [3, 4] }],
    bad: [],
    build: (g) => g.param('w', f([3, 4])),
  },
  constant: {
    cases: [{ inputs: [], shape: [2, 1], value: [[1.5], [-2]] }],
    bad: [],
    build: (g) => g.constant(f([[1.5], [-2]])),
  },
  neg: unary((x) => -x, [1, -2.5, 0]),
  exp: unary(Math.exp, [0, 1, -2]),
  log: unary(Math.log, [1, Math.E, 0.5]),
  tanh: unary(Math.tanh, [0, 0.5, -3]),
  sigmoid: {
    ...unary(sigmoid, [0, 2, -1]),
    cases: [
      ...unary(sigmoid, [0, 2, -1]).cases,
      // stable at the extremes: no 0/0 or overflow
      { inputs: [f([-800, 800])], shape: [2], value: [0, 1] },
    ],
  },
  abs: unary(Math.abs, [-2, 0, 3]),
  sign: unary(Math.sign, [-2, 0, 3]),
  log1p: unary(Math.log1p, [1e-10, 1, 0]),
  expm1: unary(Math.expm1, [1e-10, 1, 0]),
  sqrt: unary(Math.sqrt, [4, 2, 0]),
  rsqrt: unary((x) => 1 / Math.sqrt(x), [4, 0.25, 1]),
  sin: unary(Math.sin, [0, 1, -2]),
  cos: unary(Math.cos, [0, 1, -2]),
  softplus: {
    ...unary((x) => Math.log1p(Math.exp(x)), [0, 2, -1]),
    cases: [...unary((x) => Math.log1p(Math.exp(x)), [0, 2, -1]).cases, { inputs: [f([1000, -1000])], shape: [2], value: [1000, 0] }],
  },
  reciprocal: unary((x) => 1 / x, [2, -4, 0.5]),
  logicalNot: {
    cases: [{ inputs: [b8([true, false])], shape: [2], dtype: 'bool', value: [false, true] }],
    bad: [{ inputs: [{ shape: [2] }], error: /must be bool, got float64/ }],
  },
  add: binary((a, b) => a + b),
  sub: binary((a, b) => a - b),
  mul: binary((a, b) => a * b),
  div: binary((a, b) => a / b),
  pow: binary(Math.pow),
  maximum: binary(Math.max),
  minimum: binary(Math.min),
  greater: binary((a, b) => a > b ? 1 : 0, 'bool'),
  greaterEqual: binary((a, b) => a >= b ? 1 : 0, 'bool'),
  less: binary((a, b) => a < b ? 1 : 0, 'bool'),
  lessEqual: binary((a, b) => a <= b ? 1 : 0, 'bool'),
  equal: binary((a, b) => a === b ? 1 : 0, 'bool'),
  notEqual: binary((a, b) => a !== b ? 1 : 0, 'bool'),
  logicalAnd: {
    cases: [{ inputs: [b8([true, true, false]), b8([true, false, false])], shape: [3], dtype: 'bool', value: [true, false, false] }],
    bad: [{ inputs: [{ shape: [2] }, { shape: [2] }], error: /must be bool/ }],
  },
  logicalOr: {
    cases: [{ inputs: [b8([[true], [false]]), b8([false, false])], shape: [2, 2], dtype: 'bool', value: [[true, true], [false, false]] }],
    bad: [{ inputs: [{ shape: [2], dtype: 'bool' }, { shape: [3], dtype: 'bool' }], error: /do not broadcast/ }],
  },
  where: {
    cases: [
      { inputs: [b8([true, false]), f([[1, 2], [3, 4]]), f(0)], shape: [2, 2], value: [[1, 0], [3, 0]] },
      { inputs: [sp(b8([[true], [false]]), [null, 1]), f([5, 6]), f([7, 8])], shape: [null, 2], value: [[5, 6], [7, 8]] },
    ],
    bad: [
      { inputs: [{ shape: [2] }, { shape: [2] }, { shape: [2] }], error: /condition must be bool/ },
      { inputs: [{ shape: [2], dtype: 'bool' }, { shape: [3] }, { shape: [3] }], error: /do not broadcast/ },
      { inputs: [{ shape: [2], dtype: 'bool' }, { shape: [2] }, { shape: [2], dtype: 'int32' }], error: /different dtypes/ },
    ],
  },
  cast: {
    cases: [
      { inputs: [f([1.7, -1.7, 0])], attrs: { dtype: 'int32' }, shape: [3], dtype: 'int32', value: [1, -1, 0] },
      { inputs: [f([2, 0])], attrs: { dtype: 'bool' }, shape: [2], dtype: 'bool', value: [true, false] },
      { inputs: [i32([3])], attrs: { dtype: 'float32' }, shape: [1], dtype: 'float32', value: [3] },
    ],
    bad: [{ inputs: [{ shape: [2] }], attrs: { dtype: 'complex64' }, error: /unknown dtype "complex64"/ }],
  },
  stopGradient: { cases: [{ inputs: [f([1, 2])], shape: [2], value: [1, 2] }], bad: [] },
  sum: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [1] }, shape: [2], value: [6, 15] },
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [0], keepDims: true }, shape: [1, 3], value: [[5, 7, 9]] },
      { inputs: [sp(f([[1, 2], [3, 4]]), [null, 2])], attrs: { axes: [-1] }, shape: [null], value: [3, 7] },
      { inputs: [f([[1, 2], [3, 4]])], attrs: {}, shape: [], value: 10 },
    ],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { axes: [2] }, error: /axis 2 is out of range for rank 2/ }],
  },
  mean: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [1] }, shape: [2], value: [2, 5] },
      { inputs: [sp(f([[1, 2], [3, 4]]), [null, 2])], attrs: { axes: [0] }, shape: [2], value: [2, 3] },
    ],
    bad: [{ inputs: [{ shape: [2], dtype: 'int32' }], attrs: {}, error: /must be float32 or float64, got int32/ }],
  },
  max: {
    cases: [{ inputs: [f([[1, 5, 3], [4, 2, 6]])], attrs: { axes: [0] }, shape: [3], value: [4, 5, 6] }],
    bad: [{ inputs: [{ shape: [2] }], attrs: { axes: [-3] }, error: /out of range/ }],
  },
  min: {
    cases: [{ inputs: [f([[1, 5, 3], [4, 2, 6]])], attrs: { axes: [1], keepDims: true }, shape: [2, 1], value: [[1], [2]] }],
    bad: [{ inputs: [{ shape: [2], dtype: 'bool' }], attrs: {}, error: /numeric/ }],
  },
  logsumexp: {
    cases: [
      { inputs: [f([[0, 0], [1000, 1000]])], attrs: { axes: [1] }, shape: [2], value: [Math.log(2), 1000 + Math.log(2)] },
      { inputs: [f([-Infinity, -Infinity])], attrs: {}, shape: [], value: -Infinity },
    ],
    bad: [{ inputs: [{ shape: [2], dtype: 'int32' }], attrs: {}, error: /float/ }],
  },
  argmax: {
    cases: [
      { inputs: [f([[1, 5, 5], [7, 2, 6]])], attrs: { axis: 1 }, shape: [2], dtype: 'int32', value: [1, 0] },
      { inputs: [f([[1, 5], [7, 2]])], attrs: { axis: 0, keepDims: true }, shape: [1, 2], dtype: 'int32', value: [[1, 0]] },
    ],
    bad: [{ inputs: [{ shape: [2] }], attrs: { axis: 1 }, error: /axis 1 is out of range for rank 1/ }],
  },
  argmin: {
    cases: [{ inputs: [f([[1, 5, 0], [7, 2, 6]])], attrs: { axis: -1 }, shape: [2], dtype: 'int32', value: [2, 1] }],
    bad: [{ inputs: [{ shape: [] }], attrs: { axis: 0 }, error: /out of range/ }],
  },
  softmax: {
    cases: [
      {
        inputs: [f([[0, Math.log(3)], [1000, 1000]])],
        attrs: { axis: -1 },
        shape: [2, 2],
        value: [[0.25, 0.75], [0.5, 0.5]],
      },
    ],
    bad: [{ inputs: [{ shape: [2] }], attrs: { axis: 1 }, error: /out of range/ }],
  },
  logSoftmax: {
    cases: [{ inputs: [f([[0, Math.log(3)], [-1000, 1000]])], attrs: { axis: 1 }, shape: [2, 2], value: [[Math.log(0.25), Math.log(0.75)], [-2000, 0]] }],
    bad: [{ inputs: [{ shape: [2], dtype: 'int32' }], attrs: { axis: 0 }, error: /float/ }],
  },
  matmul: {
    cases: [
      { inputs: [f([[1, 2], [3, 4]]), f([[5], [6]])], shape: [2, 1], value: [[17], [39]] },
      { inputs: [f([[1, 3], [2, 4]]), f([[5], [6]])], attrs: { transposeA: true }, shape: [2, 1], value: [[17], [39]] },
      { inputs: [f([[1, 2], [3, 4]]), f([[5, 6]])], attrs: { transposeB: true }, shape: [2, 1], value: [[17], [39]] },
      // batch dims broadcast: [2,1,2] @ [2,1] → [2,1,1]
      { inputs: [f([[[1, 2]], [[3, 4]]]), f([[1], [1]])], shape: [2, 1, 1], value: [[[3]], [[7]]] },
      { inputs: [sp(f([[1, 0]]), [null, 2]), f([[1, 2], [3, 4]])], shape: [null, 2], value: [[1, 2]] },
    ],
    bad: [
      { inputs: [{ shape: [2, 3] }, { shape: [4, 5] }], error: /inner dimensions differ: \[2,3\] @ \[4,5\]/ },
      { inputs: [{ shape: [3] }, { shape: [3, 1] }], error: /rank ≥ 2/ },
      { inputs: [{ shape: [2, 2, 3] }, { shape: [3, 3, 1] }], error: /do not broadcast/ },
    ],
  },
  reshape: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { shape: [3, -1] }, shape: [3, 2], value: [[1, 2], [3, 4], [5, 6]] },
      { inputs: [sp(f([[1, 2], [3, 4]]), [null, 2])], attrs: { shape: [-1] }, shape: [null], value: [1, 2, 3, 4] },
    ],
    bad: [
      { inputs: [{ shape: [2, 3] }], attrs: { shape: [4, 2] }, error: /cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/ },
      { inputs: [{ shape: [2, 3] }], attrs: { shape: [-1, -1] }, error: /at most one -1/ },
    ],
  },
  transpose: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { perm: [1, 0] }, shape: [3, 2], value: [[1, 4], [2, 5], [3, 6]] },
      { inputs: [f([[[1, 2]], [[3, 4]]])], attrs: { perm: [2, 0, 1] }, shape: [2, 2, 1], value: [[[1], [3]], [[2], [4]]] },
    ],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { perm: [0, 0] }, error: /not a permutation/ }],
  },
  broadcastTo: {
    cases: [{ inputs: [f([[1], [2]])], attrs: { shape: [2, 2, 3] }, shape: [2, 2, 3], check: (t) => expect(t.toArray()[1]).toEqual([[1, 1, 1], [2, 2, 2]]) }],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { shape: [3, 3] }, error: /cannot broadcast \[2,3\] to \[3,3\]/ }],
  },
  expandDims: {
    cases: [{ inputs: [f([1, 2])], attrs: { axes: [0, 2] }, shape: [1, 2, 1], value: [[[1], [2]]] }],
    bad: [{ inputs: [{ shape: [2] }], attrs: { axes: [3] }, error: /out of range/ }],
  },
  squeeze: {
    cases: [{ inputs: [f([[[1], [2]]])], attrs: { axes: [0, 2] }, shape: [2], value: [1, 2] }],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { axes: [1] }, error: /axis 1 of \[2,3\] has size 3, not 1/ }],
  },
  slice: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { begin: [0, 1], end: [2, null] }, shape: [2, 2], value: [[2, 3], [5, 6]] },
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { begin: [1, 0], end: [null, -1] }, shape: [1, 2], value: [[4, 5]] },
      { inputs: [sp(f([[1, 2, 3], [4, 5, 6]]), [null, 3])], attrs: { begin: [1, 0], end: [null, 1] }, shape: [null, 1], value: [[4]] },
    ],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { begin: [0, 2], end: [1, 5] }, error: /out of range for axis 1 of size 3/ }],
  },
  concat: {
    cases: [
      { inputs: [f([[1, 2]]), f([[3, 4], [5, 6]])], attrs: { axis: 0 }, shape: [3, 2], value: [[1, 2], [3, 4], [5, 6]] },
      { inputs: [f([[1], [2]]), f([[3], [4]])], attrs: { axis: -1 }, shape: [2, 2], value: [[1, 3], [2, 4]] },
    ],
    bad: [{ inputs: [{ shape: [2, 3] }, { shape: [2, 4] }], attrs: { axis: 0 }, error: /differ off axis 0/ }],
  },
  gather: {
    cases: [
      { inputs: [f([[1, 2], [3, 4], [5, 6]]), i32([2, 0, 2])], attrs: { axis: 0 }, shape: [3, 2], dtype: 'float64', value: [[5, 6], [1, 2], [5, 6]] },
      { inputs: [f([[1, 2], [3, 4]]), i32([[1], [0]])], attrs: { axis: 1 }, shape: [2, 2, 1], dtype: 'float64', value: [[[2], [1]], [[4], [3]]] },
    ],
    bad: [{ inputs: [{ shape: [3] }, { shape: [2] }], attrs: { axis: 0 }, error: /indices must be int32, got float64/ }],
  },
  scatterAdd: {
    cases: [{ inputs: [f([[1, 1], [2, 2], [3, 3]]), i32([2, 0, 2]), f([[0, 0], [0, 0], [0, 0]])], attrs: { axis: 0 }, shape: [3, 2], value: [[2, 2], [0, 0], [4, 4]] }],
    bad: [{ inputs: [{ shape: [2, 2] }, { shape: [3], dtype: 'int32' }, { shape: [4, 2] }], attrs: { axis: 0 }, error: /updates \[2,2\] do not match \[3,2\]/ }],
  },
  pad: {
    cases: [{ inputs: [f([[1, 2]])], attrs: { pads: [[1, 0], [0, 2]], value: 9 }, shape: [2, 4], value: [[9, 9, 9, 9], [1, 2, 9, 9]] }],
    bad: [{ inputs: [{ shape: [2] }], attrs: { pads: [[-1, 0]] }, error: /non-negative/ }],
  },
  broadcastLike: {
    cases: [{ inputs: [f([[1], [2]]), sp(f([[0, 0, 0], [0, 0, 0]]), [null, 3])], shape: [2, 3], value: [[1, 1, 1], [2, 2, 2]] }],
    bad: [{ inputs: [{ shape: [2] }, { shape: [3] }], error: /cannot broadcast \[2\] against \[3\]/ }],
  },
  sumLike: {
    cases: [{ inputs: [f([[1, 2, 3], [4, 5, 6]]), sp(f([[0, 0, 0]]), [1, 3])], shape: [1, 3], value: [[5, 7, 9]] }],
    bad: [{ inputs: [{ shape: [3] }, { shape: [2, 3] }], error: /cannot sum \[3\] down to \[2,3\]/ }],
  },
  reshapeLike: {
    cases: [{ inputs: [f([1, 2, 3, 4]), sp(f([[0, 0], [0, 0]]), [null, 2])], shape: [null, 2], value: [[1, 2], [3, 4]] }],
    bad: [{ inputs: [{ shape: [4] }, { shape: [3] }], error: /cannot reshape \[4\] like \[3\]/ }],
  },
  shapeSize: {
    cases: [{ inputs: [sp(f([[1, 2, 3], [4, 5, 6]]), [null, 3])], attrs: { axes: [0], dtype: 'float64' }, shape: [], value: 2 }],
    bad: [{ inputs: [{ shape: [2] }], attrs: { axes: [0], dtype: 'bool' }, error: /must be numeric/ }],
  },
  randomUniform: {
    cases: [
      {
        inputs: [f([[0, 0, 0], [0, 0, 0]])],
        attrs: { key: 'u', dtype: 'float64', low: 2, high: 3 },
        shape: [2, 3],
        check: (t) => expect([...t.data].every((v) => v >= 2 && v < 3)).toBe(true),
      },
      { inputs: [], attrs: { key: 'u2', dtype: 'float32', shape: [4] }, shape: [4], dtype: 'float32', check: (t) => expect(new Set(t.data).size).toBe(4) },
    ],
    bad: [{ inputs: [], attrs: { key: 'u3', dtype: 'int32', shape: [2] }, error: /random dtype must be float32 or float64, got "int32"/ }],
  },
  randomNormal: {
    cases: [{ inputs: [], attrs: { key: 'n', dtype: 'float64', shape: [2000], mean: 1, std: 2 }, shape: [2000], check: (t) => {
      const m = Array.from(t.data).reduce((a, b) => a + b, 0) / t.size;
      expect(m).toBeGreaterThan(0.8);
      expect(m).toBeLessThan(1.2);
    } }],
    bad: [{ inputs: [], attrs: { dtype: 'float64', shape: [2] }, error: /needs a key/ }],
  },
  customGrad: {
    cases: [{ inputs: [f([1, 2])], shape: [2], value: [1, 8] }],
    bad: [],
    build: (_g, [x]) => cube(x),
  },
  softmaxCrossEntropy: {
    cases: [
      // −Σ t·logSoftmax(x): −log ¾ for the first row; logits ±1000 stay finite
      { inputs: [f([[0, Math.log(3)], [1000, -1000]]), f([[0, 1], [0, 1]])], attrs: { axis: 1 }, shape: [2], value: [-Math.log(0.75), 2000] },
      { inputs: [sp(f([[0, 0], [1, 1]]), [null, 2]), f([[0.5, 0.5], [0.5, 0.5]])], attrs: { axis: 0, keepDims: true }, shape: [1, 2], value: [[Math.log(1 + Math.E) - 0.5, Math.log(1 + Math.E) - 0.5]] },
    ],
    bad: [
      { inputs: [{ shape: [2, 3] }, { shape: [2, 2] }], attrs: { axis: 1 }, error: /logits \[2,3\] and target \[2,2\] must have the same shape/ },
      { inputs: [{ shape: [2], dtype: 'int32' }, { shape: [2], dtype: 'int32' }], attrs: {}, error: /logits must be float32 or float64/ },
    ],
  },
  conv: {
    cases: [
      // y[p] = x[p] − x[p+1]
      { inputs: [f([[[1], [2], [4], [7]]]), f([[[1]], [[-1]]])], shape: [1, 3, 1], value: [[[-1], [-2], [-3]]] },
      { inputs: [sp(f([[[1], [2], [4], [7]]]), [null, 4, 1]), f([[[1]], [[-1]]])], shape: [null, 3, 1], value: [[[-1], [-2], [-3]]] },
      // 'same' with stride 2 on 3×3: pads [0, 1] (the odd one after); a 2×2 kernel of ones sums each window
      { inputs: [f([[[[1], [2], [3]], [[4], [5], [6]], [[7], [8], [9]]]]), f([[[[1]], [[1]]], [[[1]], [[1]]]])], attrs: { stride: 2, padding: 'same' }, shape: [1, 2, 2, 1], value: [[[[12], [9]], [[15], [9]]]] },
      // groups 2: each channel has its own kernel
      { inputs: [f([[[1, 2]]]), f([[[3, 5]]])], attrs: { groups: 2 }, shape: [1, 1, 2], value: [[[3, 10]]] },
      // dilation 2, padding 1: taps x̃[p−1] and x̃[p+1]
      { inputs: [f([[[1], [2], [3]]]), f([[[1]], [[10]]])], attrs: { dilation: 2, padding: 1 }, shape: [1, 3, 1], value: [[[20], [31], [2]]] },
    ],
    bad: [
      { inputs: [{ shape: [4, 2] }, { shape: [3, 2, 1] }], error: /x must be \[N, \.\.\.spatial, C\] with 1 or 2 spatial dims \(rank 3 or 4\), got \[4,2\]/ },
      { inputs: [{ shape: [1, 5, 3] }, { shape: [3, 2, 4] }], error: /w \[3,2,4\] takes 2 input channels per group × 1 group = 2, but x \[1,5,3\] has 3/ },
      { inputs: [{ shape: [1, 5, 4] }, { shape: [3, 2, 3] }], attrs: { groups: 2 }, error: /groups 2 must divide the 3 output channels/ },
      { inputs: [{ shape: [1, null, 2] }, { shape: [3, 2, 4] }], error: /spatial dims of x \[1,\?,2\] must be known/ },
      { inputs: [{ shape: [1, 2, 2] }, { shape: [3, 2, 4] }], error: /padded input \(2 \+ 0 \+ 0 = 2\) is smaller than the window \(3\)/ },
      { inputs: [{ shape: [1, 5, 2] }, { shape: [3, 2, 4] }], attrs: { padding: 'full' }, error: /padding must be 'valid', 'same', a number or 1 \[before, after\] pair/ },
      { inputs: [{ shape: [1, 5, 2], dtype: 'int32' }, { shape: [3, 2, 4], dtype: 'int32' }], error: /x must be float32 or float64, got int32/ },
    ],
  },
  convTranspose: {
    cases: [
      // stride 2: each y spreads y·w over two outputs; outputPadding adds one at the end
      { inputs: [f([[[1], [2]]]), f([[[1]], [[10]]])], attrs: { stride: 2 }, shape: [1, 4, 1], value: [[[1], [10], [2], [20]]] },
      { inputs: [f([[[1], [2]]]), f([[[1]], [[10]]])], attrs: { stride: 2, outputPadding: 1 }, shape: [1, 5, 1], value: [[[1], [10], [2], [20], [0]]] },
      // padding 1 crops one element at each end; 'same' gives P·stride (pads [0, 1]: the odd one after)
      { inputs: [f([[[1], [2]]]), f([[[1]], [[10]], [[100]]])], attrs: { padding: 1 }, shape: [1, 2, 1], value: [[[12], [120]]] },
      { inputs: [sp(f([[[1], [2]]]), [null, 2, 1]), f([[[1]], [[10]], [[100]]])], attrs: { stride: 2, padding: 'same' }, shape: [null, 4, 1], value: [[[1], [10], [102], [20]]] },
    ],
    bad: [
      { inputs: [{ shape: [1, 3, 2] }, { shape: [2, 1, 3] }], error: /w \[2,1,3\] maps 3 channels \(its last dim\), but y \[1,3,2\] has 2/ },
      { inputs: [{ shape: [1, 3, 2] }, { shape: [2, 1, 2] }], attrs: { stride: 2, outputPadding: 2 }, error: /outputPadding 2 must be smaller than the stride 2/ },
    ],
  },
  maxPool: {
    cases: [
      { inputs: [f([[[1], [3], [2], [5]]])], attrs: { size: 2 }, shape: [1, 2, 1], value: [[[3], [5]]] },
      { inputs: [f([[[[1], [5], [2]], [[4], [3], [6]]]])], attrs: { size: 2, stride: 1 }, shape: [1, 1, 2, 1], value: [[[[5], [6]]]] },
      // padding is −∞: the windows [−∞, −1] and [−2, −∞] hold −1 and −2
      { inputs: [sp(f([[[-1], [-2]]]), [null, 2, 1])], attrs: { size: 2, padding: 1 }, shape: [null, 2, 1], value: [[[-1], [-2]]] },
    ],
    bad: [
      { inputs: [{ shape: [1, 4, 1] }], attrs: {}, error: /needs the window size/ },
      { inputs: [{ shape: [1, 4, 1] }], attrs: { size: 2, padding: 2 }, error: /padding \[2, 2\] must be smaller than the window 2/ },
      { inputs: [{ shape: [1, 4, 4, 1] }], attrs: { size: [2, 2, 2] }, error: /size must be a positive integer or 2 of them/ },
    ],
  },
  avgPool: {
    cases: [
      // padded zeros counted (PyTorch's default) ...
      { inputs: [f([[[1], [2], [3]]])], attrs: { size: 2, stride: 1, padding: 1 }, shape: [1, 4, 1], value: [[[0.5], [1.5], [2.5], [1.5]]] },
      // ... or not
      { inputs: [f([[[1], [2], [3]]])], attrs: { size: 2, stride: 1, padding: 1, countIncludePad: false }, shape: [1, 4, 1], value: [[[1], [1.5], [2.5], [3]]] },
      { inputs: [sp(f([[[[1, 10], [2, 20]], [[3, 30], [4, 40]]]]), [null, 2, 2, 2])], attrs: { size: 2 }, shape: [null, 1, 1, 2], value: [[[[2.5, 25]]]] },
    ],
    bad: [
      { inputs: [{ shape: [1, 4, 1] }], attrs: { size: 2, countIncludePad: 1 }, error: /countIncludePad must be true or false/ },
      { inputs: [{ shape: [1, 3, 1] }], attrs: { size: 4 }, error: /padded input \(3 \+ 0 \+ 0 = 3\) is smaller than the window \(4\)/ },
    ],
  },
  maxPoolScatter: {
    cases: [
      // windows [1,3], [3,3], [3,0] of size 2: the tie in the middle one splits its dy
      { inputs: [f([[[1], [3], [3], [0]]]), f([[[3], [3], [3]]]), f([[[1], [2], [4]]])], attrs: { size: 2, stride: 1 }, shape: [1, 4, 1], value: [[[0], [2], [5], [0]]] },
    ],
    bad: [{ inputs: [{ shape: [1, 4, 1] }, { shape: [1, 2, 1] }, { shape: [1, 3, 1] }], attrs: { size: 2, stride: 1 }, error: /y must have the shape \[1,3,1\] of maxPool\(x\), got \[1,2,1\]/ }],
  },
  maxPoolGather: {
    cases: [
      // each window's mean of t over its maximal elements
      { inputs: [f([[[1], [3], [3], [0]]]), f([[[3], [3], [3]]]), f([[[10], [20], [30], [40]]])], attrs: { size: 2, stride: 1 }, shape: [1, 3, 1], value: [[[20], [25], [30]]] },
    ],
    bad: [{ inputs: [{ shape: [1, 4, 1] }, { shape: [1, 3, 1] }, { shape: [1, 3, 1] }], attrs: { size: 2, stride: 1 }, error: /t must have the shape \[1,4,1\] of x, got \[1,3,1\]/ }],
  },
  avgPoolTranspose: {
    cases: [{ inputs: [f([[[1], [2]]])], attrs: { size: 2, stride: 1, inputSize: [3] }, shape: [1, 3, 1], value: [[[0.5], [1.5], [1]]] }],
    bad: [{ inputs: [{ shape: [1, 3, 1] }], attrs: { size: 2, stride: 1, inputSize: [3] }, error: /dy must have the shape \[1,2,1\] of avgPool's result for inputs of spatial size \[3\], got \[1,3,1\]/ }],
  },
  // ---- the second round: special functions, scans, products, flip (values by hand or from identities)
  erf: unary(byTable([[0, 0], [1, 0.8427007929497149], [-0.5, -0.5204998778130465]]), [0, 1, -0.5]),
  erfc: {
    ...unary(byTable([[0, 1], [1, 0.15729920705028513], [-0.5, 1.5204998778130465]]), [0, 1, -0.5]),
    // relative to itself deep in the tail: erfc(10) = 2.088487583762545e-45, not 0
    cases: [...unary(byTable([[0, 1], [1, 0.15729920705028513], [-0.5, 1.5204998778130465]]), [0, 1, -0.5]).cases, { inputs: [f([10, 30])], shape: [2], check: (t) => expect([t.data[0] / 2.088487583762545e-45, t.data[1]]).toEqual([expect.closeTo(1, 14), 0]) }],
  },
  asin: unary(byTable([[0.5, Math.PI / 6], [1, Math.PI / 2], [-0.5, -Math.PI / 6]]), [0.5, 1, -0.5]),
  acos: unary(byTable([[0.5, Math.PI / 3], [-1, Math.PI], [0, Math.PI / 2]]), [0.5, -1, 0]),
  sinh: unary(byTable([[0, 0], [Math.LN2, 0.75], [-Math.LN2, -0.75]]), [0, Math.LN2, -Math.LN2]),
  cosh: unary(byTable([[0, 1], [Math.LN2, 1.25], [-Math.LN2, 1.25]]), [0, Math.LN2, -Math.LN2]),
  // asinh(¾) = ln(¾ + 5/4) = ln 2, acosh(5/4) = ln(5/4 + ¾) = ln 2, atanh(⅓) = ½ln((4/3)/(2/3)) = ½ln 2
  asinh: unary(byTable([[0, 0], [0.75, Math.LN2], [-0.75, -Math.LN2]]), [0, 0.75, -0.75]),
  acosh: unary(byTable([[1, 0], [1.25, Math.LN2], [2, Math.log(2 + Math.sqrt(3))]]), [1, 1.25, 2]),
  atanh: unary(byTable([[0, 0], [1 / 3, Math.LN2 / 2], [-0.6, -Math.LN2]]), [0, 1 / 3, -0.6]),
  atan2: {
    ...binary(Math.atan2),
    cases: [
      ...binary(Math.atan2).cases,
      // the four quadrants' axes, and the origin
      { inputs: [f([1, 0, -1, 0, 1]), f([1, -1, 0, 0, -1])], shape: [5], value: [Math.PI / 4, Math.PI, -Math.PI / 2, 0, (3 * Math.PI) / 4] },
    ],
    bad: [...binary(Math.atan2).bad, { inputs: [{ shape: [2], dtype: 'int32' }, { shape: [2], dtype: 'int32' }], error: /must be float32 or float64, got int32/ }],
  },
  linearRecurrence: {
    cases: [
      // a = 1: a cumulative sum; reversed: from the end
      { inputs: [f(1), f([[1, 2, 3], [4, 5, 6]])], attrs: { axis: 1 }, shape: [2, 3], value: [[1, 3, 6], [4, 9, 15]] },
      { inputs: [f(1), f([[1, 2, 3], [4, 5, 6]])], attrs: { axis: 0, reverse: true }, shape: [2, 3], value: [[5, 7, 9], [4, 5, 6]] },
      // h = ½h + 1: 1, 1.5, 1.75; a₀ is never read (here 100)
      { inputs: [f([100, 0.5, 0.5]), f([1, 1, 1])], attrs: {}, shape: [3], value: [1, 1.5, 1.75] },
      // b = x at the start, 0 after: a cumulative product 2, 2·3, 2·3·4
      { inputs: [f([9, 3, 4]), f([2, 0, 0])], attrs: { axis: -1 }, shape: [3], value: [2, 6, 24] },
      { inputs: [f([[2, 3]]), sp(f([[1, 1], [1, 1]]), [null, 2])], attrs: { axis: 0 }, shape: [null, 2], value: [[1, 1], [3, 4]] },
      { inputs: [i32([1]), i32([[1, 2], [3, 4]])], attrs: { axis: 1 }, shape: [2, 2], dtype: 'int32', value: [[1, 3], [3, 7]] },
    ],
    bad: [
      { inputs: [{ shape: [] }, { shape: [] }], attrs: {}, error: /needs an axis to run along/ },
      { inputs: [{ shape: [2] }, { shape: [3] }], attrs: {}, error: /shapes \[2\] and \[3\] do not broadcast/ },
      { inputs: [{ shape: [2] }, { shape: [2, 2] }], attrs: { axis: 2 }, error: /axis 2 is out of range for rank 2/ },
    ],
  },
  prod: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [1] }, shape: [2], value: [6, 120] },
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [0], keepDims: true }, shape: [1, 3], value: [[4, 10, 18]] },
      { inputs: [f([[1, 2], [0, 4]])], attrs: {}, shape: [], value: 0 },
      { inputs: [f([[1, 2], [3, 4]])], attrs: { axes: [] }, shape: [2, 2], value: [[1, 2], [3, 4]] },
      { inputs: [sp(f([[1, 2], [3, 4]]), [null, 2])], attrs: { axes: [0] }, shape: [2], value: [3, 8] },
      { inputs: [i32([[2, -3], [4, 5]])], attrs: { axes: [1] }, shape: [2], dtype: 'int32', value: [-6, 20] },
    ],
    bad: [
      { inputs: [{ shape: [2, 3] }], attrs: { axes: [2] }, error: /axis 2 is out of range for rank 2/ },
      { inputs: [{ shape: [2], dtype: 'bool' }], attrs: {}, error: /must be numeric, got bool/ },
    ],
  },
  flip: {
    cases: [
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [1] }, shape: [2, 3], value: [[3, 2, 1], [6, 5, 4]] },
      { inputs: [f([[1, 2, 3], [4, 5, 6]])], attrs: { axes: [0, -1] }, shape: [2, 3], value: [[6, 5, 4], [3, 2, 1]] },
      { inputs: [sp(f([[1, 2], [3, 4], [5, 6]]), [null, 2])], attrs: { axes: [0] }, shape: [null, 2], value: [[5, 6], [3, 4], [1, 2]] },
      { inputs: [b8([true, false, false])], attrs: {}, shape: [3], dtype: 'bool', value: [false, false, true] },
    ],
    bad: [{ inputs: [{ shape: [2, 3] }], attrs: { axes: [3] }, error: /axis 3 is out of range for rank 2/ }],
  },
};

function specOf(x: Tensor | Spec): Spec {
  return x instanceof Tensor ? { t: x } : x;
}

describe('registry table', () => {
  it('every registered op has a row', () => {
    expect(listOps().map((d) => d.name).filter((n) => !(n in rows))).toEqual([]);
  });

  for (const [op, row] of Object.entries(rows)) {
    describe(op, () => {
      it.each(BACKENDS)('shape rule and kernel values (%s backend)', (backend) => {
        expect(row.cases.length).toBeGreaterThan(0);
        for (const c of row.cases) {
          const g = new Graph({ seed: 3 });
          const feeds: Record<string, Tensor> = {};
          const xs = c.inputs.map((x, i) => {
            const s = specOf(x);
            feeds[`x${i}`] = s.t;
            return g.input(`x${i}`, s.sym ?? s.t.shape, s.t.dtype);
          });
          const y = row.build ? row.build(g, xs, c.attrs ?? {}) : g.apply(op, xs, c.attrs ?? {});
          expect(y.shape).toEqual(c.shape);
          expect(y.dtype).toBe(c.dtype ?? (c.inputs.length ? specOf(c.inputs[c.inputs.length - 1]).t.dtype : 'float64'));
          if (op === 'input') feeds.x0 = f([[1, 2]]);
          const [out] = compile(g, { outputs: [y], backend }).run(feeds);
          if (c.value !== undefined) {
            const got = out.toArray();
            const want = c.value;
            const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
            const [gv, wv] = [flat(got), flat(want)];
            expect(gv.length).toBe(wv.length);
            gv.forEach((v, i) => {
              if (typeof wv[i] === 'number' && Number.isFinite(wv[i] as number)) expect(v as number).toBeCloseTo(wv[i] as number, 10);
              else expect(v).toEqual(wv[i]);
            });
          }
          c.check?.(out);
        }
      });

      it('bad shapes and dtypes are refused with a clear error', () => {
        for (const b of row.bad) {
          const g = new Graph();
          const xs = b.inputs.map((x, i) => g.input(`x${i}`, x.shape, (x.dtype ?? 'float64') as never));
          let err: unknown;
          try {
            g.apply(op, xs, b.attrs ?? {});
          } catch (e) {
            err = e;
          }
          expect(err, `${op} should refuse ${JSON.stringify(b)}`).toBeInstanceOf(GradgraphError);
          expect((err as Error).message).toMatch(b.error);
          expect((err as Error).message).toMatch(new RegExp(`^${op}: `));
          expect((err as GradgraphError).origin).toMatch(/registry\.test\.ts:\d+:\d+$/);
        }
      });
    });
  }
});
