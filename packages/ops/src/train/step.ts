/**
 * The training step of a define-then-run framework: compiled programs, not a closure. A
 * `TrainingStep` bundles the executable that trains (loss and predictions out, optimizer and
 * normalization updates in place), the one that evaluates (same outputs, no updates) and the one
 * that predicts (predictions from `x` only), plus how a mini-batch becomes feeds. All three read
 * and write the same param storage, the graph's.
 *
 * Two ways to get one: `trainingStep({ loss, optimizer, predictions })` compiles everything from
 * the graph; `fromExecutables({ train, evaluate? })` wraps programs the user compiled.
 */
import { Executable, Graph, GradgraphError, Sym, Tensor, compile, grad, isFloat, type CollectionItem, type CompileOptions, type Feeds } from '@gradgraph/core';
import { stateUpdates, TRAINING } from '../nn/index';
import { Optimizer, clipByGlobalNorm, clipByValue, type UpdatePair } from '../optim/index';
import { jsonSafe } from './checkpoint';
import { TrainError, fmtValue } from './errors';

/** An optimizer's name and hyperparameters: an `Optimizer`, or what a saved step recorded of one. */
export interface OptimizerInfo {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** What a training step records in its graph's saved program (`meta`), for {@link savedStep}. */
interface StepMeta {
  kind: 'train.trainingStep' | 'train.fromExecutables';
  version: 1;
  x: string;
  y: string | null;
  /** Built with a `feed` function, which cannot be saved. */
  customFeed: boolean;
  optimizer: { name: string; config: CollectionItem } | null;
}

const STEP_KINDS = ['train.trainingStep', 'train.fromExecutables'];

/** What a step is fed from: a mini-batch's features and (optionally) targets. */
export interface BatchLike {
  x: Tensor;
  y?: Tensor;
}

/** Turns a batch into feeds (for graphs with more inputs than `x` and `y`). */
export type FeedFn = (batch: BatchLike) => Feeds;

/** Compile options `trainingStep` passes through (the pass pipeline, the NaN guard). */
export type StepCompileOptions = Omit<CompileOptions, 'inputs' | 'outputs' | 'updates'>;

/** What {@link trainingStep} compiles. */
export interface TrainingStepOptions {
  /** The scalar loss (e.g. `nn.softmaxCrossEntropy(logits, y)`, a mean over the batch). */
  loss: Sym;
  /** The optimizer, e.g. `optim.adam({ lr: 1e-2 })`; its state becomes graph state. */
  optimizer: Optimizer;
  /** The params to train; default every trainable param of the graph (`g.params()`). */
  params?: readonly Sym[];
  /** The model's output (logits, probabilities, regression values): for metrics and `predict`. */
  predictions?: Sym;
  /** The input fed with a batch's features; default the input named `x`. */
  x?: Sym | string;
  /** The input fed with a batch's targets; default the input named `y` if the graph has one. */
  y?: Sym | string;
  /** Custom feeds from a batch, instead of `{ x, y }` (the `training` switch is still added). */
  feed?: FeedFn;
  /** Update pairs besides the optimizer's; default `nn.stateUpdates(g)` (batchNorm statistics). */
  updates?: readonly (readonly [Sym, Sym])[];
  /** Clip the gradients to this global norm before the optimizer (PyTorch's `clip_grad_norm_`). */
  clipNorm?: number;
  /** Clamp every gradient element to [−clipValue, clipValue]. */
  clipValue?: number;
  /** Passed to `compile` for every program (e.g. `{ nanGuard: true }`). */
  compile?: StepCompileOptions;
  /**
   * The name the step is saved under in its graph (`g.program(name)`, kept by `g.toJSON()`, read
   * back by {@link savedStep}). Default `train`, or `train_1`, `train_2`, ... when taken.
   */
  name?: string;
}

/** What {@link fromExecutables} wraps. */
export interface ExecutableStepOptions {
  /** Trains one batch: output 0 the scalar loss, output 1 (optional) the predictions. */
  train: Executable;
  /** Evaluates one batch without updates, outputs as `train`; needed for validation. */
  evaluate?: Executable;
  /** Output 0 the predictions, from `x` alone; needed for `predict`. */
  predict?: Executable;
  x?: string;
  y?: string;
  feed?: FeedFn;
  /** The name the training program is saved under in its graph (default `train`, or the first free `train_k`). */
  name?: string;
}

/** The loss (and predictions, when the step has them) of one batch. */
export interface BatchResult {
  loss: number;
  predictions?: Tensor;
}

/**
 * A compiled training step: `trainBatch` runs one optimization step, `evalBatch` evaluates one
 * batch without changing anything but the RNG counter, `predictBatch` maps features to
 * predictions. Feeds `training: true` to the training program and `false` to the others when
 * the graph has nn's `training` switch.
 */
export class TrainingStep {
  readonly graph: Graph;
  /** The name of the input fed with a batch's features. */
  readonly x: string;
  /** The name of the input fed with a batch's targets, if any. */
  readonly y: string | undefined;
  /** The optimizer (its name and hyperparameters, for a step read back by `savedStep`), when known. */
  readonly optimizer: Optimizer | OptimizerInfo | undefined;
  /** The name of the program this step saved in its graph (`g.program(name)`), if it did. */
  readonly name: string | undefined;
  /** The model's output, when known. */
  readonly predictions: Sym | undefined;
  /** Whether the programs return predictions (output 1 of `train` and `evaluate`). */
  readonly hasPredictions: boolean;
  /** The training program: outputs `[loss, predictions?]`, with the updates. */
  readonly train: Executable;
  private readonly feedFn: FeedFn | undefined;
  private readonly hasTrainingSwitch: boolean;
  private evaluateExe: Executable | undefined;
  private predictExe: Executable | undefined;
  private readonly makeEvaluate: (() => Executable) | undefined;
  private readonly makePredict: (() => Executable) | undefined;

  /** @internal Use {@link trainingStep} or {@link fromExecutables}. */
  constructor(init: {
    graph: Graph;
    train: Executable;
    x: string;
    y: string | undefined;
    feed?: FeedFn;
    optimizer?: Optimizer | OptimizerInfo;
    name?: string;
    predictions?: Sym;
    hasPredictions: boolean;
    evaluate?: Executable | (() => Executable);
    predict?: Executable | (() => Executable);
  }) {
    this.graph = init.graph;
    this.train = init.train;
    this.x = init.x;
    this.y = init.y;
    this.feedFn = init.feed;
    this.optimizer = init.optimizer;
    this.name = init.name;
    this.predictions = init.predictions;
    this.hasPredictions = init.hasPredictions;
    if (init.evaluate instanceof Executable) this.evaluateExe = init.evaluate;
    else this.makeEvaluate = init.evaluate;
    if (init.predict instanceof Executable) this.predictExe = init.predict;
    else this.makePredict = init.predict;
    const sw = this.graph.byName(TRAINING);
    this.hasTrainingSwitch = !!sw && sw.op === 'input' && sw.dtype === 'bool' && sw.rank === 0;
  }

  /** The evaluation program (compiled on first use). */
  get evaluate(): Executable | undefined {
    if (!this.evaluateExe && this.makeEvaluate) this.evaluateExe = this.makeEvaluate();
    return this.evaluateExe;
  }

  /** The prediction program (compiled on first use). */
  get predict(): Executable | undefined {
    if (!this.predictExe && this.makePredict) this.predictExe = this.makePredict();
    return this.predictExe;
  }

  /**
   * The feeds for one batch: features to `x`, targets to `y` (float data cast to the input's
   * float dtype), and the `training` switch when the graph has one.
   * @example step.feeds(loader.batch(1, 0), true); // { x, y, training: true }
   */
  feeds(batch: BatchLike, training: boolean): Record<string, Tensor | boolean> {
    const out: Record<string, Tensor | boolean> = {};
    if (this.feedFn) Object.assign(out, this.feedFn(batch));
    else {
      out[this.x] = this.fit(this.x, batch.x);
      if (this.y !== undefined && batch.y !== undefined) out[this.y] = this.fit(this.y, batch.y);
    }
    if (this.hasTrainingSwitch && !(TRAINING in out)) out[TRAINING] = training;
    return out;
  }

  /** Float data cast to a float input's dtype (float64 data into a float32 model, say). */
  private fit(name: string, t: Tensor): Tensor {
    const input = this.graph.byName(name);
    if (input && isFloat(input.dtype) && isFloat(t.dtype) && input.dtype !== t.dtype) return t.astype(input.dtype);
    return t;
  }

  /**
   * One optimization step on `batch`; returns the loss (before the update) and the predictions.
   * @example const { loss } = step.trainBatch(loader.batch(1, 0));
   */
  trainBatch(batch: BatchLike, extraFeeds: Feeds = {}): BatchResult {
    return this.result('trainBatch', this.train.run({ ...this.feeds(batch, true), ...extraFeeds }));
  }

  /**
   * The loss and predictions on `batch` in evaluation mode, without updates.
   * @example const { loss, predictions } = step.evalBatch({ x: val.x, y: val.y });
   */
  evalBatch(batch: BatchLike, extraFeeds: Feeds = {}): BatchResult {
    const exe = this.evaluate;
    if (!exe) throw new TrainError('TrainingStep.evalBatch', 'this step has no evaluation program: pass `evaluate` (compiled without updates) to fromExecutables, or build the step with trainingStep');
    return this.result('evalBatch', exe.run({ ...this.feeds(batch, false), ...extraFeeds }));
  }

  /**
   * The predictions for features `x` in evaluation mode.
   * @example const logits = step.predictBatch(test.x);
   */
  predictBatch(x: Tensor, extraFeeds: Feeds = {}): Tensor {
    const exe = this.predict;
    if (!exe) throw new TrainError('TrainingStep.predictBatch', 'this step has no prediction program: pass `predictions` to trainingStep, or `predict` to fromExecutables');
    const feeds = this.feedFn ? { ...this.feeds({ x }, false) } : { [this.x]: this.fit(this.x, x), ...(this.hasTrainingSwitch ? { [TRAINING]: false } : {}) };
    return exe.run({ ...feeds, ...extraFeeds })[0];
  }

  private result(op: string, outs: Tensor[]): BatchResult {
    const l = outs[0];
    if (!l || l.size !== 1) {
      throw new TrainError(`TrainingStep.${op}`, `output 0 must be the scalar loss, got ${l ? `shape [${l.shape.join(', ')}]` : 'nothing'}; reduce the loss to a scalar (reduction: 'mean')`);
    }
    return { loss: l.data[0], ...(this.hasPredictions && outs[1] ? { predictions: outs[1] } : {}) };
  }
}

function inputName(op: string, g: Graph, v: Sym | string | undefined, def: string, required: boolean): string | undefined {
  if (v === undefined) {
    const s = g.byName(def);
    if (s && s.op === 'input') return def;
    if (required) throw new TrainError(op, `the graph has no input named "${def}"; name the features input with the \`x\` option (or pass \`feed\`)`);
    return undefined;
  }
  const name = v instanceof Sym ? v.name : v;
  const s = typeof name === 'string' ? g.byName(name) : undefined;
  if (!s || s.op !== 'input' || (v instanceof Sym && v.graph !== g)) throw new TrainError(op, `${fmtValue(v instanceof Sym ? String(v) : v)} is not an input of the loss's graph`);
  return name as string;
}

/**
 * Compiles a training step from the loss: gradients of `loss` for `params`, optional clipping,
 * the optimizer's updates and the normalization state updates, into one program; the evaluation
 * and prediction programs are compiled on first use.
 *
 * @example
 * const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 1e-2 }) });
 * const history = train.fit({ step, data: loader, epochs: 50, validation: val, metrics: ['accuracy'] });
 */
export function trainingStep(opts: TrainingStepOptions): TrainingStep {
  const op = 'train.trainingStep';
  if (!opts || typeof opts !== 'object') throw new TrainError(op, `expects { loss, optimizer, ... }, got ${fmtValue(opts)}`);
  const allowed = ['loss', 'optimizer', 'params', 'predictions', 'x', 'y', 'feed', 'updates', 'clipNorm', 'clipValue', 'compile', 'name'];
  for (const k of Object.keys(opts)) if (!allowed.includes(k)) throw new TrainError(op, `unknown option "${k}"; expected one of ${allowed.join(', ')}`);
  const { loss, optimizer } = opts;
  if (!(loss instanceof Sym)) throw new TrainError(op, `loss must be a symbol, got ${fmtValue(loss)}`);
  if (loss.rank !== 0) throw new TrainError(op, `loss must be a scalar, got shape [${loss.shape.join(', ')}]; reduce it (reduction: 'mean')`);
  if (!isFloat(loss.dtype)) throw new TrainError(op, `loss must be float32 or float64, got ${loss.dtype}`);
  if (!(optimizer instanceof Optimizer)) throw new TrainError(op, `optimizer must be an optimizer such as optim.adam({ lr: 1e-3 }), got ${fmtValue(optimizer)}`);
  const g = loss.graph;
  const params = opts.params ?? g.params();
  if (!Array.isArray(params) || params.length === 0) throw new TrainError(op, 'there are no params to train (the graph has no trainable params, or `params` is empty)');
  const predictions = opts.predictions;
  if (predictions !== undefined && (!(predictions instanceof Sym) || predictions.graph !== g)) throw new TrainError(op, `predictions must be a symbol of the loss's graph, got ${fmtValue(predictions)}`);
  if (opts.feed !== undefined && typeof opts.feed !== 'function') throw new TrainError(op, `feed must be a function (batch) => feeds, got ${fmtValue(opts.feed)}`);
  const x = opts.feed ? (inputName(op, g, opts.x, 'x', false) ?? 'x') : inputName(op, g, opts.x, 'x', true)!;
  const y = inputName(op, g, opts.y, 'y', opts.y !== undefined);

  let grads: (Sym | null)[] = grad(loss, params);
  if (opts.clipValue !== undefined) grads = clipByValue(grads, opts.clipValue);
  if (opts.clipNorm !== undefined) grads = clipByGlobalNorm(grads, opts.clipNorm);
  const updates: UpdatePair[] = optimizer.updates(params, grads);
  const extra = opts.updates ?? stateUpdates(g);
  if (!Array.isArray(extra)) throw new TrainError(op, `updates must be an array of [state, value] pairs, got ${fmtValue(extra)}`);
  const outputs = predictions ? [loss, predictions] : [loss];
  const co = opts.compile ?? {};
  const allUpdates = [...updates, ...extra.map(([p, v]) => [p, v] as UpdatePair)];
  const trainExe = compile(g, { ...co, outputs, updates: allUpdates });
  const name = saveStep(op, g, opts.name, {
    outputs: predictions ? { loss, predictions } : { loss },
    updates: allUpdates,
    meta: { kind: 'train.trainingStep', version: 1, x, y: y ?? null, customFeed: !!opts.feed, optimizer: { name: optimizer.name, config: jsonSafe(optimizer.config) as CollectionItem } },
  });
  return new TrainingStep({
    graph: g,
    train: trainExe,
    x,
    y,
    feed: opts.feed,
    optimizer,
    name,
    predictions,
    hasPredictions: !!predictions,
    evaluate: () => compile(g, { ...co, outputs }),
    predict: predictions ? () => compile(g, { ...co, outputs: [predictions] }) : undefined,
  });
}

/**
 * Wraps executables the user compiled: `train` returns `[loss, predictions?]` and applies the
 * updates; `evaluate` (for validation) returns the same without updates; `predict` returns
 * `[predictions]`. Batches feed inputs `x` and `y` unless `feed` says otherwise.
 *
 * @example
 * const trainExe = compile(g, { outputs: [loss, logits], updates: [...opt.updates(ps, grad(loss, ps)), ...nn.stateUpdates(g)] });
 * const evalExe = compile(g, { outputs: [loss, logits] });
 * const step = train.fromExecutables({ train: trainExe, evaluate: evalExe });
 */
export function fromExecutables(opts: ExecutableStepOptions): TrainingStep {
  const op = 'train.fromExecutables';
  if (!opts || !(opts.train instanceof Executable)) throw new TrainError(op, `train must be an Executable from compile(g, { outputs: [loss, predictions?], updates }), got ${fmtValue(opts?.train)}`);
  const g = opts.train.graph;
  for (const k of ['evaluate', 'predict'] as const) {
    const e = opts[k];
    if (e !== undefined && (!(e instanceof Executable) || e.graph !== g)) throw new TrainError(op, `${k} must be an Executable compiled from the same graph as train`);
  }
  if (opts.feed !== undefined && typeof opts.feed !== 'function') throw new TrainError(op, `feed must be a function (batch) => feeds, got ${fmtValue(opts.feed)}`);
  const x = opts.feed ? (opts.x ?? 'x') : inputName(op, g, opts.x, 'x', true)!;
  const y = inputName(op, g, opts.y, 'y', opts.y !== undefined);
  const n = opts.train.program.outputs.length;
  if (n < 1) throw new TrainError(op, 'train has no outputs; output 0 must be the loss');
  if (opts.evaluate && opts.evaluate.program.outputs.length < 1) throw new TrainError(op, 'evaluate has no outputs; output 0 must be the loss');
  const src = opts.train.source;
  const sym = (id: number) => g.sym(id);
  const name = saveStep(op, g, opts.name, {
    outputs: { loss: sym(src.outputs[0]), ...(src.outputs.length >= 2 ? { predictions: sym(src.outputs[1]) } : {}) },
    updates: src.updates.map(([p, v]) => [sym(p), sym(v)] as const),
    meta: { kind: 'train.fromExecutables', version: 1, x, y: y ?? null, customFeed: !!opts.feed, optimizer: null },
  });
  return new TrainingStep({
    graph: g,
    train: opts.train,
    x,
    y,
    name,
    feed: opts.feed,
    hasPredictions: n >= 2 && (!opts.evaluate || opts.evaluate.program.outputs.length >= 2),
    evaluate: opts.evaluate,
    predict: opts.predict,
  });
}

/** Saves a step's training program in its graph under `name` (default the first free `train`, `train_1`, ...). */
function saveStep(op: string, g: Graph, name: unknown, spec: { outputs: Record<string, Sym>; updates: readonly (readonly [Sym, Sym])[]; meta: StepMeta }): string {
  if (name !== undefined && (typeof name !== 'string' || !name)) throw new TrainError(op, `name must be a non-empty string, got ${fmtValue(name)}`);
  let n = name as string | undefined;
  if (n === undefined) {
    const taken = new Set(g.programNames());
    n = 'train';
    for (let k = 1; taken.has(n); k++) n = `train_${k}`;
  }
  g.saveProgram(n, { outputs: spec.outputs, updates: spec.updates, meta: spec.meta as unknown as CollectionItem });
  return n;
}

/** Options of {@link savedStep}. */
export interface SavedStepOptions {
  /** The saved step's name; needed only when the graph has several. */
  name?: string;
  /** The feed function, when the step was built with one (functions are not saved). */
  feed?: FeedFn;
  /** Passed to `compile` for every program. */
  compile?: StepCompileOptions;
}

/**
 * The training step saved in a graph — by `trainingStep` or `fromExecutables`, kept by
 * `g.toJSON()` — compiled again over the graph's values: the same loss and predictions, the
 * same update pairs, so the optimizer continues with its moments and step count (no new
 * optimizer, no `adam_1/…` state starting from zero), batchNorm's statistics and the RNG counter
 * as saved. With the data position (`fit`'s `startEpoch`), training continues bit for bit.
 *
 * @example
 * writeFileSync('run.graph.json', JSON.stringify(g.toJSON()));     // after some training
 * // ... later, in another process:
 * const g2 = Graph.fromJSON(readFileSync('run.graph.json', 'utf8'));
 * const step = train.savedStep(g2);
 * train.fit({ step, data: loader, epochs: 20, startEpoch: 11 });
 */
export function savedStep(g: Graph, opts: SavedStepOptions = {}): TrainingStep {
  const op = 'train.savedStep';
  if (!(g instanceof Graph)) throw new TrainError(op, `expects a Graph (Graph.fromJSON(text)), got ${fmtValue(g)}`);
  if (!opts || typeof opts !== 'object') throw new TrainError(op, `options must be an object, got ${fmtValue(opts)}`);
  for (const k of Object.keys(opts)) if (!['name', 'feed', 'compile'].includes(k)) throw new TrainError(op, `unknown option "${k}"; expected one of name, feed, compile`);
  const steps = g.programNames().filter((n) => STEP_KINDS.includes(String((g.program(n).meta as { kind?: unknown } | null)?.kind)));
  let name = opts.name;
  if (name === undefined) {
    if (steps.length === 0) throw new TrainError(op, `the graph has no saved training step${g.programNames().length ? ` (its programs: ${g.programNames().join(', ')})` : ''}; build one with train.trainingStep before g.toJSON()`);
    if (steps.length > 1) throw new TrainError(op, `the graph has ${steps.length} saved training steps (${steps.join(', ')}): pass { name }`);
    name = steps[0];
  } else if (!steps.includes(name)) throw new TrainError(op, `the graph has no saved training step named ${JSON.stringify(name)}${steps.length ? `; it has ${steps.join(', ')}` : ''}`);
  const program = g.program(name);
  const meta = program.meta as unknown as StepMeta;
  const loss = program.named.loss;
  const predictions = program.named.predictions;
  if (!loss) throw new TrainError(op, `the saved step ${JSON.stringify(name)} has no output named "loss"`);
  if (meta.version !== 1) throw new TrainError(op, `the saved step ${JSON.stringify(name)} has version ${fmtValue(meta.version)}; this library reads version 1`);
  if (meta.customFeed && opts.feed === undefined) throw new TrainError(op, `the saved step ${JSON.stringify(name)} was built with a feed function, which cannot be saved: pass it again as { feed }`);
  if (opts.feed !== undefined && typeof opts.feed !== 'function') throw new TrainError(op, `feed must be a function (batch) => feeds, got ${fmtValue(opts.feed)}`);
  // with a feed function, x and y are only names (the feed decides what goes where)
  const x = meta.customFeed ? meta.x : inputName(op, g, meta.x, meta.x, true)!;
  const y = meta.y === null ? undefined : meta.customFeed ? meta.y : inputName(op, g, meta.y, meta.y, false);
  const co = opts.compile ?? {};
  const outputs = predictions ? [loss, predictions] : [loss];
  let trainExe: Executable;
  try {
    trainExe = compile(g, { ...co, outputs, updates: program.updates });
  } catch (e) {
    throw e instanceof GradgraphError ? new TrainError(op, `the saved step ${JSON.stringify(name)} does not compile: ${e.detail}`) : e;
  }
  const info = meta.optimizer ? Object.freeze({ name: meta.optimizer.name, config: Object.freeze({ ...(meta.optimizer.config as Record<string, unknown>) }) }) : undefined;
  return new TrainingStep({
    graph: g,
    train: trainExe,
    x,
    y,
    feed: opts.feed,
    optimizer: info,
    name,
    predictions,
    hasPredictions: !!predictions,
    evaluate: () => compile(g, { ...co, outputs }),
    predict: predictions ? () => compile(g, { ...co, outputs: [predictions] }) : undefined,
  });
}

/** A step from what `fit` was given: a TrainingStep, a bare training Executable, or trainingStep's options. */
export function asStep(op: string, step: unknown): TrainingStep {
  if (step instanceof TrainingStep) return step;
  if (step instanceof Executable) return fromExecutables({ train: step });
  if (step && typeof step === 'object' && 'loss' in step && 'optimizer' in step) return trainingStep(step as TrainingStepOptions);
  throw new TrainError(op, `step must be a TrainingStep (train.trainingStep / train.fromExecutables), a compiled training Executable, or { loss, optimizer, predictions? }; got ${fmtValue(step)}`);
}
