/**
 * The shell every optimizer shares. An optimizer is an update rule for one param plus this
 * shell, which checks params and grads, owns the state (one step counter, per-param moments),
 * resolves the learning rate (number, symbol or schedule), applies weight decay and returns the
 * symbolic `[target, newValue]` pairs that `compile(g, { updates })` applies atomically.
 *
 * Every rule has the same outer form, with `Δ` the rule's step:
 *
 *     g ← g + λ_L2·θ                (coupled weight decay, `weightDecay` on sgd/adam/...)
 *     θ ← θ·(1 − lr·λ_dec) − Δ      (decoupled weight decay, AdamW's; `Δ` never depends on it)
 */
import { DTypeError, Graph, GraphError, ShapeError, Sym, Tensor, add, cast, captureOrigin, equal, fmtShape, isFloat, mul, sub, type DType } from '@gradgraph/core';
import { isSchedule, type Schedule } from './schedules';
import { numberOption, optionError } from './options';

/** A learning rate: a number, a scalar symbol (e.g. an input fed each run) or a schedule. */
export type LearningRate = number | Sym | Schedule;

/**
 * Params that get no weight decay: a list of params (symbols or full names), a RegExp tested
 * against the param's name, or a predicate.
 */
export type DecayExclusion = readonly (Sym | string)[] | RegExp | ((param: Sym) => boolean);

/** One update: the param or state to write, and its new value. */
export type UpdatePair = [Sym, Sym];

/** What an update rule sees for one param. All symbols are scalars unless said otherwise. */
export interface ParamContext {
  readonly param: Sym;
  /** The gradient, with coupled weight decay already added. Same shape and dtype as `param`. */
  readonly grad: Sym;
  /** The learning rate of this step, in the param's dtype. */
  readonly lr: Sym;
  /** The learning rate of this step in float64 (for scalar factors computed before the cast). */
  readonly lr64: Sym;
  /** The 1-based index of this step, float64: 1 on the first update (Adam's t). */
  readonly t: Sym;
  /** Bool scalar, true on the first update. */
  readonly isFirstStep: Sym;
  /** A float64 scalar (or number) cast to the param's dtype. */
  scalar(x: Sym | number): Sym;
  /** A state tensor shaped like the param, in its dtype, starting at `init` (default 0). */
  state(name: string, init?: number): Sym;
  /** A float64 scalar state of this param (e.g. NAdam's running product of momentum factors), starting at `init` (default 0). */
  scalarState(name: string, init?: number): Sym;
  /** Writes `value` to `state` at the end of the step. */
  assign(state: Sym, value: Sym): void;
}

/** Returns the step Δ for one param: θ ← θ·(1 − lr·λ_dec) − Δ. */
export type UpdateRule = (ctx: ParamContext) => Sym;

/** The options every optimizer takes. */
export interface CommonOptions {
  /** Learning rate: a number, a scalar symbol, or a schedule of the step count. */
  lr?: LearningRate;
  /** Decoupled weight decay λ: θ ← θ·(1 − lr·λ) before the step (as AdamW). Default 0. */
  decoupledWeightDecay?: number;
  /** Params that get no weight decay (coupled or decoupled), e.g. PReLU slopes and biases. */
  excludeFromDecay?: DecayExclusion;
  /** Scope for the optimizer's state; default the optimizer's name (`adam`, `adam_1`, ...). */
  name?: string;
}

export interface OptimizerSpec {
  /** `adam`, `sgd`, ... */
  name: string;
  /** The resolved hyperparameters, for display and checkpoints' manifests. */
  config: Record<string, unknown>;
  lr: LearningRate;
  /** Coupled L2 decay: g ← g + λ·θ. */
  weightDecay: number;
  /** Decoupled decay: θ ← θ·(1 − lr·λ). */
  decoupledWeightDecay: number;
  exclude?: DecayExclusion;
  scope: string;
  rule: UpdateRule;
}

/** Validates an `lr` option: a non-negative number, a scalar numeric symbol or a schedule. */
export function lrOption(op: string, value: unknown, def: number): LearningRate {
  if (value === undefined) return def;
  if (isSchedule(value)) return value;
  if (value instanceof Sym) {
    if (value.rank !== 0) throw new ShapeError(`option "lr" must be a scalar symbol, got shape ${fmtShape(value.shape)}`, { op, shapes: [value.shape], origin: captureOrigin() });
    if (!isFloat(value.dtype) && value.dtype !== 'int32') throw new DTypeError(`option "lr" must be a numeric symbol, got ${value.dtype}`, { op, dtypes: [value.dtype], origin: captureOrigin() });
    return value;
  }
  if (typeof value === 'number') return numberOption(op, 'lr', value, def, { min: 0 });
  throw optionError(op, `option "lr" must be a number, a scalar symbol or a schedule, got ${value === null ? 'null' : typeof value}`);
}

/** Validates `excludeFromDecay`. */
export function exclusionOption(op: string, value: unknown): DecayExclusion | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function' || value instanceof RegExp) return value as DecayExclusion;
  if (Array.isArray(value) && value.every((v) => v instanceof Sym || typeof v === 'string')) return value as DecayExclusion;
  throw optionError(op, 'option "excludeFromDecay" must be an array of params or param names, a RegExp, or a predicate (param) => boolean');
}

/**
 * A configured optimizer. `updates(params, grads)` returns the update pairs of one training step;
 * the state it creates on the first call is reused by later calls.
 */
export class Optimizer {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  private readonly spec: OptimizerSpec;
  private graph: Graph | undefined;
  private scope: string | undefined;
  private step: Sym | undefined;
  private lrSym: Sym | undefined;
  private readonly slots = new Map<number, Record<string, Sym>>();

  constructor(spec: OptimizerSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.config = Object.freeze({ ...spec.config });
  }

  /**
   * The symbolic update pairs of one step: for each param its new value, then the new values of
   * the optimizer's state (moments, then the step counter). A `null` grad leaves its param and
   * state untouched (as a param without `.grad` in PyTorch).
   * @example
   * const opt = optim.adam({ lr: 1e-3 });
   * const step = compile(g, { inputs: [x, y], outputs: [loss], updates: opt.updates(params, grad(loss, params)) });
   */
  updates(params: readonly Sym[], grads: readonly (Sym | null)[]): UpdatePair[] {
    const op = `optim.${this.name}`;
    const g = this.checkArgs(op, params, grads);
    if (!this.graph) {
      this.graph = g;
      this.scope = g.uniqueScope(this.spec.scope);
    }
    return g.scope(this.scope!, () => {
      const out: UpdatePair[] = [];
      const step = this.stepCounter(g);
      const s = cast(step, 'float64');
      const t = add(s, 1);
      const isFirstStep = equal(step, 0);
      const lr64 = this.resolveLr(op, g, s);
      const { weightDecay, decoupledWeightDecay, rule } = this.spec;
      params.forEach((p, i) => {
        const gr = grads[i];
        if (gr === null) return;
        const dt = p.dtype;
        const decays = !this.isExcluded(op, p);
        const grad = weightDecay > 0 && decays ? add(gr, mul(p, weightDecay)) : gr;
        const slots = this.slotsOf(p);
        const assigns: UpdatePair[] = [];
        const ctx: ParamContext = {
          param: p,
          grad,
          lr: cast(lr64, dt),
          lr64,
          t,
          isFirstStep,
          scalar: (x) => (typeof x === 'number' ? g.constant(x, dt) : cast(x, dt)),
          state: (name, init = 0) => {
            if (!slots[name]) slots[name] = g.state(`${p.name}/${name}`, Tensor.full([...(p.shape as number[])], init, dt));
            return slots[name];
          },
          scalarState: (name, init = 0) => {
            if (!slots[name]) slots[name] = g.state(`${p.name}/${name}`, Tensor.scalar(init, 'float64'));
            return slots[name];
          },
          assign: (target, value) => assigns.push([target, value]),
        };
        const delta = rule(ctx);
        // θ·(1 − lr·λ): the factor is a float64 scalar, rounded once to the param's dtype
        const base = decoupledWeightDecay > 0 && decays ? mul(p, cast(sub(1, mul(lr64, decoupledWeightDecay)), dt)) : p;
        out.push([p, sub(base, delta)], ...assigns);
      });
      out.push([step, add(step, 1)]);
      return out;
    });
  }

  /**
   * The step counter (int32 scalar state: updates completed so far). Exists after `updates()`.
   * @example const ups = opt.updates(params, grads); g.getValue(opt.stepCount).item(); // 0 before the first run
   */
  get stepCount(): Sym {
    if (!this.step) throw new GraphError('the step counter exists once updates() has been called; call it before listing opt.stepCount as an output', { op: `optim.${this.name}`, origin: captureOrigin() });
    return this.step;
  }

  /**
   * The learning rate of the current step, a float64 scalar symbol (to log it). Exists after `updates()`.
   * @example
   * const updates = opt.updates(params, grads);
   * const step = compile(g, { outputs: [loss, opt.currentLr], updates });
   */
  get currentLr(): Sym {
    if (!this.lrSym) throw new GraphError('the learning rate symbol exists once updates() has been called; call it before listing opt.currentLr as an output', { op: `optim.${this.name}`, origin: captureOrigin() });
    return this.lrSym;
  }

  /**
   * The state this optimizer keeps for `param`, by slot name (`m`, `v`, `momentum`, ...).
   * @example const { m, v } = adam.stateOf(w); g.getValue(m);
   */
  stateOf(param: Sym): Readonly<Record<string, Sym>> {
    return { ...(this.slots.get(param.id) ?? {}) };
  }

  /**
   * Every state variable this optimizer created (step counter first).
   * @example opt.stateVars.map((s) => s.name) // ['adam/step', 'adam/w/m', 'adam/w/v']
   */
  get stateVars(): Sym[] {
    return [...(this.step ? [this.step] : []), ...[...this.slots.values()].flatMap((s) => Object.values(s))];
  }

  private stepCounter(g: Graph): Sym {
    if (!this.step) this.step = g.state('step', Tensor.scalar(0, 'int32'));
    return this.step;
  }

  private slotsOf(p: Sym): Record<string, Sym> {
    let s = this.slots.get(p.id);
    if (!s) this.slots.set(p.id, (s = {}));
    return s;
  }

  private resolveLr(op: string, g: Graph, s: Sym): Sym {
    const lr = this.spec.lr;
    let out: Sym;
    if (typeof lr === 'number') out = g.constant(lr, 'float64');
    else if (lr instanceof Sym) {
      if (lr.graph !== g) throw new GraphError('option "lr" is a symbol of another graph than the params', { op, origin: captureOrigin() });
      out = cast(lr, 'float64');
    } else out = lr.at(s);
    this.lrSym = out;
    return out;
  }

  private isExcluded(op: string, p: Sym): boolean {
    const ex = this.spec.exclude;
    if (ex === undefined) return false;
    if (ex instanceof RegExp) {
      ex.lastIndex = 0;
      return ex.test(p.name ?? '');
    }
    if (typeof ex === 'function') return !!ex(p);
    return ex.some((e) => {
      if (e instanceof Sym) return e.graph === p.graph && e.id === p.id;
      if (!p.graph.byName(e)) throw new GraphError(`option "excludeFromDecay" names "${e}", which is not a param of the graph`, { op, origin: captureOrigin() });
      return e === p.name;
    });
  }

  private checkArgs(op: string, params: readonly Sym[], grads: readonly (Sym | null)[]): Graph {
    const origin = captureOrigin();
    if (!Array.isArray(params) || !Array.isArray(grads)) throw new GraphError('updates(params, grads) needs two arrays', { op, origin });
    if (params.length !== grads.length) throw new GraphError(`got ${params.length} params but ${grads.length} grads; pass one grad per param (null for none)`, { op, origin });
    if (params.length === 0) throw new GraphError('needs at least one param', { op, origin });
    const first = params[0];
    if (!(first instanceof Sym)) throw new GraphError(`param 0 is ${describe(first)}, not a symbol`, { op, origin });
    const g = first.graph;
    if (this.graph && this.graph !== g) throw new GraphError('this optimizer already serves another graph; make one optimizer per graph', { op, origin });
    const seen = new Set<number>();
    params.forEach((p, i) => {
      if (!(p instanceof Sym)) throw new GraphError(`param ${i} is ${describe(p)}, not a symbol`, { op, origin });
      if (p.graph !== g) throw new GraphError(`param ${i} belongs to another graph than param 0`, { op, origin });
      if (p.op !== 'param') throw new GraphError(`param ${i} is a ${p.op} node, not a param; only params (g.param) can be optimized`, { op, origin, scope: p.node.scope });
      if (!isFloat(p.dtype)) throw new DTypeError(`param ${i} "${p.name}" is ${p.dtype}; only float32 and float64 params can be optimized`, { op, dtypes: [p.dtype], origin });
      if (seen.has(p.id)) throw new GraphError(`param "${p.name}" is listed twice`, { op, origin });
      seen.add(p.id);
      const gr = grads[i];
      if (gr === null) return;
      if (!(gr instanceof Sym)) throw new GraphError(`grad ${i} (for "${p.name}") is ${describe(gr)}, not a symbol or null`, { op, origin });
      if (gr.graph !== g) throw new GraphError(`grad ${i} (for "${p.name}") belongs to another graph`, { op, origin });
      if (gr.dtype !== p.dtype) {
        throw new DTypeError(`grad ${i} is ${gr.dtype} but param "${p.name}" is ${p.dtype}; cast the grad`, { op, dtypes: [gr.dtype, p.dtype as DType], origin });
      }
      if (gr.rank !== p.rank || !gr.shape.every((d, k) => d === null || d === p.shape[k])) {
        throw new ShapeError(`grad ${i} has shape ${fmtShape(gr.shape)} but param "${p.name}" has shape ${fmtShape(p.shape)}`, { op, shapes: [gr.shape, p.shape], origin });
      }
    });
    return g;
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `${typeof x} ${String(x)}`;
}
