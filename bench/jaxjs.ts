/**
 * The workloads in jax-js (`@jax-js/jax` 0.1.25), written the way its README and demos write
 * them: `init('wasm')` and `defaultDevice('wasm')` (plain `init()` reads `navigator`, which Node 20
 * lacks), pure functions of pytrees, `valueAndGrad`, and `jit` around the WHOLE step — forward,
 * backward and the optimizer update, written out (there is no optax on this registry). Results
 * are read with `dataSync()`. Node 20 has no global `Worker`, so jax-js runs on one thread here.
 *
 * jax-js arrays are reference-counted with move semantics: every function consumes its array
 * arguments, `.ref` adds a reference, `dataSync()` consumes too. Each step below passes the
 * optimizer state in (consumed) and keeps the new state it returns; the batches are passed as
 * `.ref`, so they keep exactly one reference between steps, which `leaks()` checks after timing.
 */
import { defaultDevice, init, jit, lax, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import type { Tensor } from '@gradgraph/core';
import { absSum, type Prepared } from './checks';
import { CNN, DEEP, MLP, cnnWeights, deepWeights, mlpWeights, type Layer, type MlpBatch, type PairBatch } from './data';

let ready: Promise<void> | undefined;

/** Starts jax-js's WebAssembly device (once). */
export function initJax(): Promise<void> {
  ready ??= (async () => {
    await init('wasm');
    defaultDevice('wasm');
  })();
  return ready;
}

/** A float32 copy of a gradgraph tensor on the wasm device, in `shape` (default its own). */
const f32 = (t: Tensor, shape: readonly number[] = t.shape) => np.array(t.data as Float32Array, { shape: [...shape] });
const i32 = (t: Tensor) => np.array(t.data as Int32Array, { shape: [...t.shape], dtype: np.int32 });

type Dense = { w: np.Array; b: np.Array };
type Adam = { params: Dense[]; m: Dense[]; v: Dense[]; t: np.Array };
type Momentum = { params: Dense[]; velocity: Dense[] };

const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

const zerosLike = (ls: readonly Dense[]): Dense[] => ls.map((l) => ({ w: np.zeros(l.w.shape), b: np.zeros(l.b.shape) }));
const adamInit = (params: Dense[]): Adam => ({ params, m: zerosLike(params), v: zerosLike(params), t: np.zeros([]) });

/**
 * Adam as PyTorch and gradgraph write it: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε). Consumes `s` and `g`.
 */
function adamUpdate(s: Adam, g: Dense[], lr: number): Adam {
  const t = s.t.add(1);
  const bc1 = np.exp(t.ref.mul(Math.log(B1))).neg().add(1); // 1 − β₁ᵗ
  const bc2 = np.exp(t.ref.mul(Math.log(B2))).neg().add(1); // 1 − β₂ᵗ
  const leaf = (p: np.Array, gi: np.Array, m: np.Array, v: np.Array): [np.Array, np.Array, np.Array] => {
    const m2 = m.mul(B1).add(gi.ref.mul(1 - B1));
    const v2 = v.mul(B2).add(np.square(gi).mul(1 - B2));
    const step = m2.ref.div(bc1.ref).div(np.sqrt(v2.ref.div(bc2.ref)).add(EPS));
    return [p.sub(step.mul(lr)), m2, v2];
  };
  const out: Adam = { params: [], m: [], v: [], t };
  s.params.forEach((p, k) => {
    const [w, mw, vw] = leaf(p.w, g[k].w, s.m[k].w, s.v[k].w);
    const [b, mb, vb] = leaf(p.b, g[k].b, s.m[k].b, s.v[k].b);
    out.params.push({ w, b });
    out.m.push({ w: mw, b: mb });
    out.v.push({ w: vw, b: vb });
  });
  bc1.dispose();
  bc2.dispose();
  return out;
}

/** −mean log softmax(logits)[y]: softmax cross-entropy on int32 labels (as `nn.softmaxCrossEntropy`). */
function crossEntropy(logits: np.Array, y: np.Array, classes: number): np.Array {
  const n = logits.shape[0];
  return nn.logSoftmax(logits, -1).mul(nn.oneHot(y, classes)).sum().mul(-1 / n);
}

/**
 * A training step `(state, x, y) → [loss, state']` jitted whole. `state` is kept between steps
 * and replaced by the one each step returns (the old one is consumed).
 */
function trainer<S extends Adam | Momentum>(
  state0: S,
  stepFn: (s: S, x: np.Array, y: np.Array) => [np.Array, S],
  xs: np.Array[],
  ys: np.Array[],
): Prepared {
  // jit's pytree typing does not follow a generic state type; the step's own signature is the contract
  const jitted = jit(stepFn as unknown as (s: Adam, x: np.Array, y: np.Array) => [np.Array, Adam]) as unknown as ((s: S, x: np.Array, y: np.Array) => [np.Array, S]) & { dispose(): void };
  let state = state0;
  let loss = NaN;
  return {
    step: (i) => {
      const [l, next] = jitted(state, xs[i % xs.length].ref, ys[i % ys.length].ref);
      state = next;
      loss = (l.dataSync() as Float32Array)[0]; // dataSync consumes l
    },
    probe: () => [loss],
    leaks: () => {
      const problems = [...xs, ...ys].filter((a) => a.refCount !== 1).map((a) => `a batch has ${a.refCount} references (1 expected)`);
      for (const a of tree.leaves(state) as np.Array[]) if (a.refCount !== 1) problems.push(`a state array has ${a.refCount} references (1 expected)`);
      return problems;
    },
    dispose: () => {
      tree.dispose(state);
      [...xs, ...ys].forEach((a) => a.dispose());
      jitted.dispose();
    },
  };
}

const denseParams = (ws: readonly Layer[]): Dense[] => ws.map((l) => ({ w: f32(l.w), b: f32(l.b) }));

export function mlpTrain(batches: readonly MlpBatch[]): Prepared {
  const loss = (params: Dense[], x: np.Array, y: np.Array) => {
    let h = x;
    params.forEach((l, k) => {
      h = np.matmul(h, l.w).add(l.b);
      if (k < params.length - 1) h = nn.relu(h);
    });
    return crossEntropy(h, y, MLP.sizes[3]);
  };
  return trainer(
    adamInit(denseParams(mlpWeights())),
    (s: Adam, x, y) => {
      const [l, g] = valueAndGrad(loss)(tree.ref(s.params), x, y);
      return [l, adamUpdate(s, g, 1e-3)];
    },
    batches.map((b) => f32(b.x)),
    batches.map((b) => i32(b.y)),
  );
}

export function deepNarrow(batches: readonly PairBatch[]): Prepared {
  const loss = (params: Dense[], x: np.Array, t: np.Array) => {
    let h = x;
    for (const l of params) h = np.tanh(np.matmul(h, l.w).add(l.b));
    return np.square(h.sub(t)).mean();
  };
  // momentum as PyTorch and gradgraph write it: v ← μv + g, p ← p − lr·v
  const lr = 0.01;
  const mu = 0.9;
  const sgdMomentum = (p: np.Array, g: np.Array, v: np.Array): [np.Array, np.Array] => {
    const v2 = v.mul(mu).add(g);
    return [p.sub(v2.ref.mul(lr)), v2];
  };
  const params = denseParams(deepWeights());
  return trainer(
    { params, velocity: zerosLike(params) },
    (s: Momentum, x, t) => {
      const [l, g] = valueAndGrad(loss)(tree.ref(s.params), x, t);
      const next: Momentum = { params: [], velocity: [] };
      s.params.forEach((p, k) => {
        const [w, vw] = sgdMomentum(p.w, g[k].w, s.velocity[k].w);
        const [b, vb] = sgdMomentum(p.b, g[k].b, s.velocity[k].b);
        next.params.push({ w, b });
        next.velocity.push({ w: vw, b: vb });
      });
      return [l, next];
    },
    batches.map((p) => f32(p.a)),
    batches.map((p) => f32(p.b)),
  );
}

/**
 * cnn-train in jax-js's own layout. Its convolution (`lax.conv`, i.e. `conv_general_dilated`) and
 * pooling (`lax.reduceWindow` over the trailing axes) are channels-first with no dimension
 * numbers to change that, so the harness hands it the same numbers relaid out once, before
 * timing: images NCHW, kernels OIHW, biases [C, 1, 1], and the dense kernel's rows permuted from
 * the channels-last flatten order (h, w, c) to the channels-first one (c, h, w). The function is
 * the same; the losses agree with the channels-last implementations.
 */
export function cnnTrain(batches: readonly MlpBatch[]): Prepared {
  const [c1, c2, d] = cnnWeights();
  const oihw = (w: Tensor) => {
    const [kh, kw, ci, co] = w.shape;
    const out = new Float32Array(w.size);
    for (let o = 0; o < co; o++) for (let c = 0; c < ci; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((o * ci + c) * kh + y) * kw + x] = w.data[((y * kw + x) * ci + c) * co + o];
    return np.array(out, { shape: [co, ci, kh, kw] });
  };
  const side = Math.sqrt(CNN.flat / CNN.channels[2]); // 4
  const chw = (t: Tensor) => {
    const rows = CNN.flat;
    const cols = t.shape[1];
    const out = new Float32Array(t.size);
    for (let c = 0; c < CNN.channels[2]; c++) for (let p = 0; p < side * side; p++) for (let j = 0; j < cols; j++) out[(c * side * side + p) * cols + j] = t.data[(p * CNN.channels[2] + c) * cols + j];
    return np.array(out, { shape: [rows, cols] });
  };
  const nchw = (t: Tensor) => {
    const [n, h, w, c] = t.shape;
    const out = new Float32Array(t.size);
    for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + x] = t.data[((i * h + y) * w + x) * c + k];
    return np.array(out, { shape: [n, c, h, w] });
  };
  const params: Dense[] = [
    { w: oihw(c1.w), b: f32(c1.b, [c1.b.size, 1, 1]) },
    { w: oihw(c2.w), b: f32(c2.b, [c2.b.size, 1, 1]) },
    { w: chw(d.w), b: f32(d.b) },
  ];
  const pool2 = (h: np.Array) => lax.reduceWindow(h, np.max, [2, 2], [2, 2]);
  const loss = ([l1, l2, l3]: Dense[], x: np.Array, y: np.Array) => {
    let h = pool2(nn.relu(lax.conv(x, l1.w, [1, 1], 'VALID').add(l1.b)));
    h = pool2(nn.relu(lax.conv(h, l2.w, [1, 1], 'VALID').add(l2.b)));
    const logits = np.matmul(h.reshape([-1, CNN.flat]), l3.w).add(l3.b);
    return crossEntropy(logits, y, CNN.classes);
  };
  return trainer(
    adamInit(params),
    (s: Adam, x, y) => {
      const [l, g] = valueAndGrad(loss)(tree.ref(s.params), x, y);
      return [l, adamUpdate(s, g, 1e-3)];
    },
    batches.map((b) => nchw(b.x)),
    batches.map((b) => i32(b.y)),
  );
}

export function matmul(batches: readonly PairBatch[]): Prepared {
  const n = batches[0].a.shape[0];
  const as = batches.map((p) => f32(p.a, [n, n]));
  const bs = batches.map((p) => f32(p.b, [n, n]));
  const mm = jit((a: np.Array, b: np.Array) => np.matmul(a, b));
  let last: ArrayLike<number> = [];
  return {
    step: (i) => void (last = mm(as[i % as.length].ref, bs[i % bs.length].ref).dataSync()),
    probe: () => [absSum(last)],
    leaks: () => [...as, ...bs].filter((a) => a.refCount !== 1).map((a) => `an input has ${a.refCount} references (1 expected)`),
    dispose: () => {
      [...as, ...bs].forEach((a) => a.dispose());
      mm.dispose();
    },
  };
}

export function elementwiseGrad(batches: readonly Tensor[]): Prepared {
  const xs = batches.map((t) => f32(t));
  // Σ sigmoid(1.5x + 0.5)·tanh(x) + softplus(x) − 0.1x²
  const f = (x: np.Array) =>
    nn
      .sigmoid(x.ref.mul(1.5).add(0.5))
      .mul(np.tanh(x.ref))
      .add(nn.softplus(x.ref))
      .sub(np.square(x).mul(0.1))
      .sum();
  const vg = jit((x: np.Array) => valueAndGrad(f)(x));
  let last: [ArrayLike<number>, ArrayLike<number>] = [[], []];
  return {
    step: (i) => {
      const [v, g] = vg(xs[i % xs.length].ref) as [np.Array, np.Array];
      last = [v.dataSync(), g.dataSync()];
    },
    probe: () => [last[0][0], absSum(last[1])],
    leaks: () => xs.filter((a) => a.refCount !== 1).map((a) => `an input has ${a.refCount} references (1 expected)`),
    dispose: () => {
      xs.forEach((a) => a.dispose());
      vg.dispose();
    },
  };
}
