/**
 * @gradgraph/ops/init — weight initializers, seeded through the graph.
 *
 * An initializer is a function of an `InitContext` (shape, dtype, fans, graph seed, the param's
 * full name) that returns the initial tensor. Its random numbers come from the counter-based
 * stream `streamKey(graph seed, 'init:' + full param name, 0)`, so they depend only on the seed
 * and the name: adding a param never changes another param's values, and two graphs with the
 * same seed start from bit-identical weights.
 *
 * Fans follow the `[fanIn, fanOut]` kernel layout of `nn.dense` (x·W with W of shape
 * [in, out]): see `fans`.
 */
import { DTypeError, GraphError, Graph, ShapeError, Tensor, captureOrigin, fillNormal, fillUniform, isFloat, streamKey, type DType, type Sym, fmtJson } from '@gradgraph/core';

/** What an initializer is told about the param it fills. */
export interface InitContext {
  /** Static shape of the param. */
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Inputs feeding one output unit (see `fans`). */
  readonly fanIn: number;
  /** Outputs fed by one input unit (see `fans`). */
  readonly fanOut: number;
  /** The graph's seed. */
  readonly seed: number;
  /** The param's full name (scope path + name): keys its random stream. */
  readonly name: string;
}

/**
 * A function from an `InitContext` to the initial value. The built-ins carry a `description`
 * (used in error messages); a plain function `(ctx) => Tensor` is an initializer too.
 */
export type Initializer = ((ctx: InitContext) => Tensor) & { readonly description?: string };

function initializer(description: string, fill: (ctx: InitContext) => Tensor): Initializer & { readonly description: string } {
  return Object.assign((ctx: InitContext) => fill(ctx), { description });
}

function fail(op: string, detail: string): never {
  throw new GraphError(detail, { op, origin: captureOrigin() });
}

function checkNumber(op: string, name: string, v: unknown, { positive = false, nonNegative = false } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${String(v)}`);
  if (positive && !(v > 0)) fail(op, `${name} must be positive, got ${v}`);
  if (nonNegative && !(v >= 0)) fail(op, `${name} must be non-negative, got ${v}`);
  return v;
}

function checkKeys(op: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') fail(op, `options must be an object, got ${String(opts)}`);
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) fail(op, `unknown option "${k}"; expected one of ${allowed.join(', ')}`);
}

// ---- fans and gains --------------------------------------------------------------------------

/**
 * `[fanIn, fanOut]` of a weight of `shape`, in the `[..., in, out]` layout (`nn.dense` stores its
 * kernel as [in, units]): rank 0 → [1, 1]; rank 1 → [n, n]; rank 2 [in, out] → [in, out];
 * rank ≥ 3 [...receptive field, in, out] → [in·rf, out·rf] with rf the product of the leading dims.
 * @example init.fans([784, 128]) // [784, 128]
 */
export function fans(shape: readonly number[]): [number, number] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail('init.fans', `shape must be an array of non-negative integers, got ${fmtJson(shape)}`);
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  const rf = shape.slice(0, -2).reduce((p, d) => p * d, 1);
  return [shape[shape.length - 2] * rf, shape[shape.length - 1] * rf];
}

/** Nonlinearities `gain` knows (PyTorch's `calculate_gain` names, camelCased). */
export type Nonlinearity = 'linear' | 'identity' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'prelu' | 'selu';

const NONLINEARITIES: readonly Nonlinearity[] = ['linear', 'identity', 'sigmoid', 'tanh', 'relu', 'leakyRelu', 'prelu', 'selu'];

/**
 * The recommended scale factor for weights feeding `nonlinearity`, like PyTorch's
 * `calculate_gain`: linear, identity, sigmoid → 1; tanh → 5/3; relu → √2;
 * leakyRelu and prelu with negative slope a → √(2 / (1 + a²)) (a defaults to 0.01 for leakyRelu
 * and to 0.25, PReLU's initial slope, for prelu); selu → 3/4.
 * @example init.gain('relu') // 1.4142…
 * @example init.gain('leakyRelu', 0.2) // √(2/1.04)
 */
export function gain(nonlinearity: Nonlinearity, param?: number): number {
  if (!NONLINEARITIES.includes(nonlinearity)) fail('init.gain', `unknown nonlinearity ${JSON.stringify(nonlinearity)}; expected one of ${NONLINEARITIES.join(', ')}`);
  switch (nonlinearity) {
    case 'linear':
    case 'identity':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'selu':
      return 3 / 4;
    case 'leakyRelu':
    case 'prelu': {
      const a = param === undefined ? (nonlinearity === 'prelu' ? 0.25 : 0.01) : checkNumber('init.gain', 'the negative slope', param);
      return Math.sqrt(2 / (1 + a * a));
    }
  }
}

// ---- random streams --------------------------------------------------------------------------

function checkFloatDtype(op: string, ctx: InitContext): void {
  if (!isFloat(ctx.dtype)) throw new DTypeError(`draws random numbers, so the param must be float32 or float64, got ${ctx.dtype} for "${ctx.name}"`, { op, dtypes: [ctx.dtype], origin: captureOrigin() });
}

/** The random stream of a param: a pure function of (graph seed, full param name). */
function paramStream(ctx: InitContext) {
  return streamKey(ctx.seed, `init:${ctx.name}`, 0);
}

function uniformTensor(op: string, ctx: InitContext, low: number, high: number): Tensor {
  checkFloatDtype(op, ctx);
  const t = new Tensor(ctx.dtype, ctx.shape);
  fillUniform(t.data, ctx.dtype, paramStream(ctx), low, high);
  return t;
}

function normalTensor(op: string, ctx: InitContext, mean: number, std: number): Tensor {
  checkFloatDtype(op, ctx);
  const t = new Tensor(ctx.dtype, ctx.shape);
  fillNormal(t.data, ctx.dtype, paramStream(ctx), mean, std);
  return t;
}

function requireFan(op: string, ctx: InitContext, fan: number, which: string): number {
  if (!(fan > 0)) throw new ShapeError(`${which} of "${ctx.name}" ${fmtJson(ctx.shape)} is ${fan}; the scale needs a positive fan`, { op, shapes: [ctx.shape], origin: captureOrigin() });
  return fan;
}

// ---- initializers ----------------------------------------------------------------------------

/**
 * All zeros (the default for biases).
 * @example nn.dense(x, 3, { init: init.zeros() })
 */
export function zeros(): Initializer {
  return initializer('zeros', (ctx) => new Tensor(ctx.dtype, ctx.shape));
}

/** All ones (the default for normalization scales). @example init.ones() */
export function ones(): Initializer {
  return initializer('ones', (ctx) => Tensor.full(ctx.shape, 1, ctx.dtype));
}

/**
 * A fixed value: a number fills the param; a Tensor must have the param's shape (or be a
 * scalar) and is converted to its dtype.
 * @example nn.dense(x, 2, { init: init.constant(Tensor.from([[1, 0], [0, 1]])) })
 */
export function constant(value: number | Tensor): Initializer {
  if (!(value instanceof Tensor)) checkNumber('init.constant', 'value', value);
  return initializer(`constant(${value instanceof Tensor ? `Tensor ${fmtJson(value.shape)}` : value})`, (ctx) => {
    if (!(value instanceof Tensor)) return Tensor.full(ctx.shape, value, ctx.dtype);
    if (value.size === 1 && value.rank === 0) return Tensor.full(ctx.shape, value.data[0], ctx.dtype);
    if (value.rank !== ctx.shape.length || !value.shape.every((d, i) => d === ctx.shape[i])) {
      throw new ShapeError(`value has shape ${fmtJson(value.shape)}, but "${ctx.name}" has shape ${fmtJson(ctx.shape)}`, { op: 'init.constant', shapes: [value.shape, ctx.shape], origin: captureOrigin() });
    }
    return value.astype(ctx.dtype);
  });
}

/**
 * U[low, high) (PyTorch's `uniform_` defaults: [0, 1)).
 * @example init.uniform({ low: -0.1, high: 0.1 })
 */
export function uniform(opts: { low?: number; high?: number } = {}): Initializer {
  checkKeys('init.uniform', opts, ['low', 'high']);
  const low = checkNumber('init.uniform', 'low', opts.low ?? 0);
  const high = checkNumber('init.uniform', 'high', opts.high ?? 1);
  if (!(high > low)) fail('init.uniform', `high (${high}) must exceed low (${low})`);
  return initializer(`uniform(${low}, ${high})`, (ctx) => uniformTensor('init.uniform', ctx, low, high));
}

/**
 * N(mean, std²) (PyTorch's `normal_` defaults: mean 0, std 1).
 * @example init.normal({ std: 0.02 })
 */
export function normal(opts: { mean?: number; std?: number } = {}): Initializer {
  checkKeys('init.normal', opts, ['mean', 'std']);
  const mean = checkNumber('init.normal', 'mean', opts.mean ?? 0);
  const std = checkNumber('init.normal', 'std', opts.std ?? 1, { nonNegative: true });
  return initializer(`normal(${mean}, ${std})`, (ctx) => normalTensor('init.normal', ctx, mean, std));
}

/**
 * Glorot/Xavier uniform: U[−a, a] with a = gain·√(6 / (fanIn + fanOut)), so
 * Var(W) = gain²·2 / (fanIn + fanOut). The default initializer of `nn.dense`.
 * @example init.xavierUniform({ gain: init.gain('tanh') })
 */
export function xavierUniform(opts: { gain?: number } = {}): Initializer {
  checkKeys('init.xavierUniform', opts, ['gain']);
  const g = checkNumber('init.xavierUniform', 'gain', opts.gain ?? 1, { nonNegative: true });
  return initializer(`xavierUniform(gain ${g})`, (ctx) => {
    const a = g * Math.sqrt(6 / requireFan('init.xavierUniform', ctx, ctx.fanIn + ctx.fanOut, 'fanIn + fanOut'));
    return uniformTensor('init.xavierUniform', ctx, -a, a);
  });
}

/**
 * Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)).
 * @example init.xavierNormal()
 */
export function xavierNormal(opts: { gain?: number } = {}): Initializer {
  checkKeys('init.xavierNormal', opts, ['gain']);
  const g = checkNumber('init.xavierNormal', 'gain', opts.gain ?? 1, { nonNegative: true });
  return initializer(`xavierNormal(gain ${g})`, (ctx) => normalTensor('init.xavierNormal', ctx, 0, g * Math.sqrt(2 / requireFan('init.xavierNormal', ctx, ctx.fanIn + ctx.fanOut, 'fanIn + fanOut'))));
}

/** Options of the He (Kaiming) initializers. */
export interface HeOptions {
  /** `relu` (default) gives gain √2; `leakyRelu` and `prelu` use `slope`. */
  nonlinearity?: 'relu' | 'leakyRelu' | 'prelu';
  /** The negative slope a of leakyRelu/PReLU: gain √(2 / (1 + a²)). Given alone, implies leakyRelu. */
  slope?: number;
  /** `fanIn` (default) keeps the forward variance; `fanOut` the backward one. */
  mode?: 'fanIn' | 'fanOut';
  /** An explicit gain; overrides `nonlinearity` and `slope`. */
  gain?: number;
}

function heGain(op: string, opts: HeOptions): { g: number; fan: 'fanIn' | 'fanOut' } {
  checkKeys(op, opts, ['nonlinearity', 'slope', 'mode', 'gain']);
  const mode = opts.mode ?? 'fanIn';
  if (mode !== 'fanIn' && mode !== 'fanOut') fail(op, `mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  if (opts.gain !== undefined) return { g: checkNumber(op, 'gain', opts.gain, { nonNegative: true }), fan: mode };
  const nl = opts.nonlinearity ?? (opts.slope !== undefined ? 'leakyRelu' : 'relu');
  if (nl !== 'relu' && nl !== 'leakyRelu' && nl !== 'prelu') fail(op, `nonlinearity must be relu, leakyRelu or prelu, got ${JSON.stringify(nl)}`);
  if (nl === 'relu' && opts.slope !== undefined) fail(op, 'slope applies to leakyRelu or prelu, not relu');
  return { g: gain(nl, opts.slope), fan: mode };
}

/**
 * He/Kaiming normal: N(0, σ²) with σ = gain/√fan, gain √2 for ReLU or √(2/(1+a²)) for a leaky or
 * PReLU slope a; fan = fanIn by default. Plain (not truncated) normal, as in PyTorch.
 * @example init.heNormal() // ReLU
 * @example init.heNormal({ nonlinearity: 'prelu', slope: 0.25 })
 */
export function heNormal(opts: HeOptions = {}): Initializer {
  const { g, fan } = heGain('init.heNormal', opts);
  return initializer(`heNormal(gain ${g.toPrecision(6)}, ${fan})`, (ctx) => normalTensor('init.heNormal', ctx, 0, g / Math.sqrt(requireFan('init.heNormal', ctx, ctx[fan], fan))));
}

/**
 * He/Kaiming uniform: U[−b, b] with b = gain·√(3/fan), so Var(W) = gain²/fan.
 * @example init.heUniform({ slope: 0.1 })
 */
export function heUniform(opts: HeOptions = {}): Initializer {
  const { g, fan } = heGain('init.heUniform', opts);
  return initializer(`heUniform(gain ${g.toPrecision(6)}, ${fan})`, (ctx) => {
    const b = g * Math.sqrt(3 / requireFan('init.heUniform', ctx, ctx[fan], fan));
    return uniformTensor('init.heUniform', ctx, -b, b);
  });
}

/**
 * LeCun normal: N(0, σ²) with σ = gain/√fanIn (gain 1 by default; the SELU init).
 * @example init.lecunNormal()
 */
export function lecunNormal(opts: { gain?: number } = {}): Initializer {
  checkKeys('init.lecunNormal', opts, ['gain']);
  const g = checkNumber('init.lecunNormal', 'gain', opts.gain ?? 1, { nonNegative: true });
  return initializer(`lecunNormal(gain ${g})`, (ctx) => normalTensor('init.lecunNormal', ctx, 0, g / Math.sqrt(requireFan('init.lecunNormal', ctx, ctx.fanIn, 'fanIn'))));
}

// ---- making params ---------------------------------------------------------------------------

export interface CreateParamOptions {
  /** Default float32. Builders pass the dtype of their input. */
  dtype?: DType;
  /** `false` makes non-trainable state. Default true. */
  trainable?: boolean;
  /** Override the fans computed from the shape (see `fans`). */
  fanIn?: number;
  fanOut?: number;
}

/**
 * Creates a param named `name` in `g`'s current scope, filled by `initializer`. Its numbers
 * depend only on the graph seed and the param's full name. This is how the `nn` builders make
 * their params, and how to make your own.
 * @example
 * const w = g.scope('mine', () => init.createParam(g, 'w', [4, 3], init.heNormal()));
 * // w.name === 'mine/w'
 */
export function createParam(g: Graph, name: string, shape: readonly number[], initFn: Initializer, opts: CreateParamOptions = {}): Sym {
  if (!(g instanceof Graph)) fail('init.createParam', 'needs a Graph as its first argument');
  if (typeof name !== 'string' || !name || name.includes('/')) fail('init.createParam', `name ${JSON.stringify(name)} must be non-empty and contain no "/" (use g.scope for paths)`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail('init.createParam', `shape of "${name}" must be an array of non-negative integers, got ${fmtJson(shape)}`);
  if (typeof initFn !== 'function') fail('init.createParam', `the initializer of "${name}" is ${initFn === null ? 'null' : typeof initFn}; pass one such as init.heNormal()`);
  checkKeys('init.createParam', opts, ['dtype', 'trainable', 'fanIn', 'fanOut']);
  const dtype = opts.dtype ?? 'float32';
  const full = g.currentScope ? `${g.currentScope}/${name}` : name;
  const [fi, fo] = fans(shape);
  const ctx: InitContext = Object.freeze({ shape: Object.freeze([...shape]), dtype, fanIn: opts.fanIn ?? fi, fanOut: opts.fanOut ?? fo, seed: g.seed, name: full });
  const value = initFn(ctx);
  if (!(value instanceof Tensor) || value.dtype !== dtype || value.rank !== shape.length || !value.shape.every((d, i) => d === shape[i])) {
    const got = value instanceof Tensor ? `${value.dtype}${fmtJson(value.shape)}` : String(value);
    fail('init.createParam', `initializer ${initFn.description ?? (initFn.name || '(anonymous)')} returned ${got} for "${full}", expected ${dtype}${fmtJson(shape)}`);
  }
  return g.param(name, value, { trainable: opts.trainable ?? true });
}
