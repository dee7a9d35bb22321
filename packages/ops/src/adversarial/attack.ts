/**
 * L∞ adversarial examples from gradients with respect to the inputs, which in gradgraph are just
 * more graph. For a classifier with loss L(f(x), y):
 *
 *   FGSM (Goodfellow et al. 2015):  x' = clip(x + ε·sign(∇ₓL), lo, hi)
 *   PGD  (Madry et al. 2018):       x₀' = clip(x + U(−ε, ε)ᵈ, lo, hi)   (random start; or x itself)
 *                                   xₜ₊₁' = clip(Π_ε(xₜ' + α·sign(∇ₓL(xₜ'))), lo, hi),  t < k
 *
 * where Π_ε clamps each element into [x − ε, x + ε] (the projection onto the L∞ ball) and
 * [lo, hi] is the valid input range. Because x itself lies in [lo, hi], clipping after projecting
 * never leaves the ball. Each attack is one compiled program (built on the model's graph, compiled
 * the first time it is used) run over batches of examples; ε and α are inputs, so one program
 * serves every ε.
 */
import { Executable, Graph, Sym, Tensor, clip, compile, fillUniform, grad, isFloat, maximum, minimum, sign, streamKey, type Backend } from '@gradgraph/core';
import { softmaxCrossEntropy } from '../nn/losses';
import { AttackError, checkKeys, fmtValue, intOption, numberOption } from './errors';

export interface AttackerOptions {
  /** The model's output: class scores [N, classes] (logits). Required. */
  logits: Sym;
  /** The input the examples are fed to (and the attack differentiates with respect to). Default the input named `x`. */
  input?: Sym | string;
  /** The input fed with the labels. Default the input named `y`. */
  labels?: Sym | string;
  /**
   * The loss the attack ascends, a scalar: `(logits, labels) => Sym`. Default softmax
   * cross-entropy summed over the batch (a sum, so each example's gradient is its own loss's).
   */
  loss?: (logits: Sym, labels: Sym) => Sym;
  /** The valid input range; every adversarial example is clipped to it. Default [0, 1] (pixels); `null` for none. */
  bounds?: readonly [number, number] | null;
  /** Examples per run. Default 500. */
  batchSize?: number;
  /** The back end the attack programs are compiled for (`compile`'s `backend`). */
  backend?: Backend;
}

export interface FgsmOptions {
  /** The L∞ radius ε ≥ 0. Required. */
  eps: number;
}

export interface PgdOptions {
  /** The L∞ radius ε ≥ 0. Required. */
  eps: number;
  /** Gradient steps k. Default 10. */
  steps?: number;
  /** Step size α. Default 2.5·ε/k (Madry et al.'s rule: enough to cross the ball and come back). */
  alpha?: number;
  /** Start from a uniformly random point of the ball (clipped to the range), as Madry et al. Default true. */
  randomStart?: boolean;
  /** Seeds the random start. Same seed, same start, whatever the batch size. Default 0. */
  seed?: number;
}

/** Which attack `evaluate` runs. */
export type AttackSpec = ({ method: 'fgsm' } & FgsmOptions) | ({ method: 'pgd' } & PgdOptions);

/** Accuracy on clean examples and under attack, over the same examples. */
export interface AttackResult {
  /** Examples evaluated. */
  readonly n: number;
  /** Accuracy on the clean examples. */
  readonly clean: number;
  /**
   * Accuracy under attack: the fraction classified correctly at the clean example and at every
   * point the attack visited (PGD's start and each iterate, FGSM's step). So it never exceeds
   * `clean`, and a misclassification found on the way counts even if a later step undoes it.
   */
  readonly attacked: number;
  /** Per example: 1 where classified correctly (clean, and under attack). */
  readonly correct: { readonly clean: Uint8Array; readonly attacked: Uint8Array };
}

const ATTACKER_OPTIONS = ['logits', 'input', 'labels', 'loss', 'bounds', 'batchSize', 'backend'];

/**
 * An attacker for a classifier built in `g`: FGSM and PGD under the L∞ norm, and accuracy under
 * either. It adds the attack's nodes to the model's graph — ∇ₓL, the steps, and the inputs
 * `attack/eps`, `attack/alpha`, `attack/origin` (scope `attack`, `attack_1`, ...) — and compiles
 * each attack once, when first used. Params are read live: an attacker made before training
 * attacks the trained model.
 * @example
 * const atk = adversarial.attacker({ logits, bounds: [0, 1] });
 * const xAdv = atk.pgd(test.x, test.y, { eps: 0.1, steps: 10 });
 * const { clean, attacked } = atk.evaluate(test.x, test.y, { method: 'fgsm', eps: 0.1 });
 */
export function attacker(opts: AttackerOptions): Attacker {
  return new Attacker(opts);
}

export class Attacker {
  readonly graph: Graph;
  /** The input the examples go to. */
  readonly input: Sym;
  /** The labels input. */
  readonly labels: Sym;
  readonly logits: Sym;
  /** The valid input range, or null. */
  readonly bounds: readonly [number, number] | null;
  readonly batchSize: number;
  /** The scope of the attack's nodes and inputs (`attack`, `attack_1`, ...). */
  readonly scope: string;
  private readonly backend: Backend | undefined;
  private programs: { fgsm?: Executable; pgd?: Executable; forward?: Executable } = {};
  private readonly nodes: { fgsm: Sym; pgd: Sym; origin: Sym; eps: Sym; alpha: Sym };

  constructor(opts: AttackerOptions) {
    const op = 'adversarial.attacker';
    const o = checkKeys(op, opts, ATTACKER_OPTIONS);
    if (!(o.logits instanceof Sym)) throw new AttackError(op, `logits must be the model's output symbol, got ${fmtValue(o.logits)}`);
    const logits = o.logits;
    const g = logits.graph;
    if (!isFloat(logits.dtype) || logits.rank !== 2) throw new AttackError(op, `logits must be float class scores [N, classes], got ${logits.dtype}[${logits.shape.map((d) => d ?? '?').join(', ')}]`);
    this.graph = g;
    this.logits = logits;
    this.input = inputOf(op, g, o.input ?? 'x', 'input');
    this.labels = inputOf(op, g, o.labels ?? 'y', 'labels');
    if (!isFloat(this.input.dtype)) throw new AttackError(op, `the input "${this.input.name}" must be float to be attacked, got ${this.input.dtype}`);
    if (this.input.shape[0] !== null && this.input.shape[0] !== undefined && this.labels.shape[0] !== null && this.labels.shape[0] !== this.input.shape[0]) {
      throw new AttackError(op, `input and labels disagree on the batch: ${this.input.shape[0]} vs ${this.labels.shape[0]}`);
    }
    this.bounds = boundsOption(op, o.bounds);
    this.batchSize = intOption(op, 'batchSize', o.batchSize, 500, 1);
    this.backend = o.backend as Backend | undefined;
    if (o.loss !== undefined && typeof o.loss !== 'function') throw new AttackError(op, `loss must be a function (logits, labels) => scalar symbol, got ${fmtValue(o.loss)}`);
    const loss = o.loss ? (o.loss as (l: Sym, y: Sym) => Sym)(logits, this.labels) : softmaxCrossEntropy(logits, this.labels, { reduction: 'sum' });
    if (!(loss instanceof Sym) || loss.graph !== g || loss.rank !== 0 || !isFloat(loss.dtype)) throw new AttackError(op, `loss must return a float scalar symbol of the model's graph, got ${loss instanceof Sym ? `${loss.dtype}[${loss.shape.join(', ')}]` : fmtValue(loss)}`);
    // the attack's nodes, built now in a fresh scope; compiled when first used
    const name = g.uniqueScope('attack');
    this.scope = g.currentScope ? `${g.currentScope}/${name}` : name;
    this.nodes = g.scope(name, () => {
      const input = this.input;
      const [dx] = grad(loss, [input]);
      const direction = sign(dx);
      const eps = g.input(`${this.scope}/eps`, [], input.dtype);
      const alpha = g.input(`${this.scope}/alpha`, [], input.dtype);
      const origin = g.input(`${this.scope}/origin`, input.shape, input.dtype);
      // FGSM: x' = clip(x + ε·sign(∇ₓL), lo, hi)
      const fgsm = this.clipToBounds(input.add(direction.mul(eps)));
      // PGD step: x_{t+1} = clip(Π_ε(x_t + α·sign(∇ₓL)), lo, hi), Π_ε(v) = min(max(v, x − ε), x + ε)
      const projected = minimum(maximum(input.add(direction.mul(alpha)), origin.sub(eps)), origin.add(eps));
      return { fgsm, pgd: this.clipToBounds(projected), origin, eps, alpha };
    });
  }

  /**
   * FGSM: one step of size ε along the sign of the loss gradient, clipped to the valid range.
   * Returns the adversarial examples (same shape and dtype as `x`).
   * @example const xAdv = atk.fgsm(test.x, test.y, { eps: 0.1 });
   */
  fgsm(x: Tensor, y: Tensor, opts: FgsmOptions): Tensor {
    const op = 'Attacker.fgsm';
    const eps = numberOption(op, 'eps', checkKeys(op, opts, ['eps']).eps, undefined, { min: 0 });
    return this.attack(op, x, y, { method: 'fgsm', eps }, false).adversarial;
  }

  /**
   * PGD: k steps of size α along the sign of the gradient, each projected onto the ε-ball around
   * the clean example and clipped to the valid range, from a random start in the ball (seeded) or
   * from the example itself. Returns the last iterate.
   * @example const xAdv = atk.pgd(test.x, test.y, { eps: 0.1, steps: 10, alpha: 0.025, seed: 1 });
   */
  pgd(x: Tensor, y: Tensor, opts: PgdOptions): Tensor {
    const op = 'Attacker.pgd';
    return this.attack(op, x, y, { method: 'pgd', ...pgdOptions(op, opts) }, false).adversarial;
  }

  /**
   * Accuracy on `x` clean and under the attack `spec`, over the same examples. An example counts
   * as correct under attack only if it is classified correctly at the clean input and at every
   * point the attack visits (the worst case found, so never above clean accuracy).
   * @example atk.evaluate(test.x, test.y, { method: 'pgd', eps: 0.1, steps: 10 }).attacked
   */
  evaluate(x: Tensor, y: Tensor, spec: AttackSpec): AttackResult {
    const op = 'Attacker.evaluate';
    if (!spec || typeof spec !== 'object') throw new AttackError(op, `expects an attack { method: 'fgsm' | 'pgd', eps, ... }, got ${fmtValue(spec)}`);
    const { method, ...rest } = spec as unknown as { method: unknown } & Record<string, unknown>;
    let resolved: Resolved;
    if (method === 'fgsm') resolved = { method, eps: numberOption(op, 'eps', checkKeys(op, rest, ['eps']).eps, undefined, { min: 0 }) };
    else if (method === 'pgd') resolved = { method, ...pgdOptions(op, rest as unknown as PgdOptions) };
    else throw new AttackError(op, `method must be 'fgsm' or 'pgd', got ${fmtValue(method)}`);
    const r = this.attack(op, x, y, resolved, true);
    const n = r.clean.length;
    const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
    return { n, clean: n ? sum(r.clean) / n : NaN, attacked: n ? sum(r.attacked) / n : NaN, correct: { clean: r.clean, attacked: r.attacked } };
  }

  // ---- the programs -------------------------------------------------------------------------

  private compileFor(outputs: Sym[], inputs: Sym[]): Executable {
    return compile(this.graph, { inputs, outputs, ...(this.backend ? { backend: this.backend } : {}) });
  }

  private fgsmProgram(): Executable {
    const n = this.nodes;
    this.programs.fgsm ??= this.compileFor([n.fgsm, this.logits], [this.input, this.labels, n.eps]);
    return this.programs.fgsm;
  }

  private pgdProgram(): Executable {
    const n = this.nodes;
    this.programs.pgd ??= this.compileFor([n.pgd, this.logits], [this.input, this.labels, n.origin, n.eps, n.alpha]);
    return this.programs.pgd;
  }

  private forwardProgram(): Executable {
    this.programs.forward ??= this.compileFor([this.logits], [this.input]);
    return this.programs.forward;
  }

  private clipToBounds(v: Sym): Sym {
    return this.bounds ? clip(v, this.bounds[0], this.bounds[1]) : v;
  }

  // ---- running over batches -----------------------------------------------------------------

  private attack(op: string, x: Tensor, y: Tensor, spec: Resolved, track: boolean): { adversarial: Tensor; clean: Uint8Array; attacked: Uint8Array } {
    const { xs, classes } = this.checkData(op, x, y);
    const n = xs.shape[0];
    const rowSize = n ? xs.size / n : 0;
    const out = new Tensor(xs.dtype, xs.shape);
    const clean = new Uint8Array(n);
    const attacked = new Uint8Array(n);
    const dtype = xs.dtype;
    const scalar = (v: number) => Tensor.scalar(v, dtype);
    // the random start for every example at once: independent of the batch size
    let noise: Tensor | undefined;
    if (spec.method === 'pgd' && spec.randomStart && spec.eps > 0) {
      noise = new Tensor(dtype, xs.shape);
      fillUniform(noise.data, dtype, streamKey(spec.seed, 'gradgraph/adversarial/pgd-start', 0), -spec.eps, spec.eps);
    }
    const labelFeed = this.labels.name!;
    const inputFeed = this.input.name!;
    const [epsFeed, alphaFeed, originFeed] = [this.nodes.eps.name!, this.nodes.alpha.name!, this.nodes.origin.name!];
    for (let start = 0; start < n; start += this.batchSize) {
      const end = Math.min(n, start + this.batchSize);
      const x0 = rows(xs, start, end);
      const yb = rows(y, start, end);
      const cls = classes.subarray(start, end);
      const ok = new Uint8Array(end - start).fill(1);
      const check = (logits: Tensor) => markWrong(logits, cls, ok);
      if (track) {
        check(this.forwardProgram().run({ [inputFeed]: x0 })[0]);
        clean.set(ok, start);
      }
      let cur: Tensor;
      if (spec.method === 'fgsm') {
        const [adv] = this.fgsmProgram().run({ [inputFeed]: x0, [labelFeed]: yb, [epsFeed]: scalar(spec.eps) });
        cur = adv;
      } else {
        const step = this.pgdProgram();
        cur = x0;
        if (noise) {
          cur = rows(noise, start, end);
          for (let i = 0; i < cur.size; i++) cur.data[i] += x0.data[i];
          if (this.bounds) for (let i = 0; i < cur.size; i++) cur.data[i] = Math.min(Math.max(cur.data[i], this.bounds[0]), this.bounds[1]);
        }
        for (let t = 0; t < spec.steps; t++) {
          const [next, logits] = step.run({ [inputFeed]: cur, [labelFeed]: yb, [originFeed]: x0, [epsFeed]: scalar(spec.eps), [alphaFeed]: scalar(spec.alpha) });
          if (track) check(logits); // the logits at cur, the point this step starts from
          cur = next;
        }
      }
      if (track) {
        check(this.forwardProgram().run({ [inputFeed]: cur })[0]);
        attacked.set(ok, start);
      }
      out.data.set(cur.data, start * rowSize);
    }
    return { adversarial: out, clean, attacked };
  }

  /** x as the input's dtype, checked against the input's shape and the bounds; the class of each label. */
  private checkData(op: string, x: Tensor, y: Tensor): { xs: Tensor; classes: Int32Array } {
    if (!(x instanceof Tensor)) throw new AttackError(op, `x must be a Tensor of examples, got ${fmtValue(x)}`);
    if (!(y instanceof Tensor)) throw new AttackError(op, `y must be a Tensor of labels, got ${fmtValue(y)}`);
    const want = this.input.shape;
    if (x.rank !== want.length || x.shape.some((d, i) => i > 0 && want[i] !== null && want[i] !== d)) {
      throw new AttackError(op, `x has shape [${x.shape.join(', ')}], but the input "${this.input.name}" is [${want.map((d) => d ?? '?').join(', ')}]`);
    }
    const n = x.shape[0];
    if (y.rank < 1 || y.shape[0] !== n) throw new AttackError(op, `y must have one label per example (${n}), got shape [${y.shape.join(', ')}]`);
    const xs = isFloat(x.dtype) && x.dtype !== this.input.dtype ? x.astype(this.input.dtype) : x;
    if (!isFloat(xs.dtype)) throw new AttackError(op, `x must be float, got ${x.dtype}`);
    if (this.bounds) {
      const [lo, hi] = this.bounds;
      const rowSize = n ? xs.size / n : 0;
      for (let i = 0; i < xs.size; i++) {
        const v = xs.data[i];
        if (!(v >= lo && v <= hi)) throw new AttackError(op, `x[${Math.floor(i / rowSize)}] has the value ${fmtValue(v)} (element ${i % rowSize}), outside the bounds [${lo}, ${hi}]; scale the data to the bounds or pass bounds: null`);
      }
    }
    // integer labels, or one row of class scores per example (one-hot): the class is the argmax
    const classes = new Int32Array(n);
    if (y.rank === 1) for (let i = 0; i < n; i++) classes[i] = y.data[i];
    else argmaxRows(y, classes);
    return { xs, classes };
  }
}

type Resolved = { method: 'fgsm'; eps: number } | ({ method: 'pgd' } & Required<PgdOptions>);

function pgdOptions(op: string, opts: PgdOptions): Required<PgdOptions> {
  const o = checkKeys(op, opts, ['eps', 'steps', 'alpha', 'randomStart', 'seed']);
  const eps = numberOption(op, 'eps', o.eps, undefined, { min: 0 });
  const steps = intOption(op, 'steps', o.steps, 10, 1);
  const alpha = numberOption(op, 'alpha', o.alpha, (2.5 * eps) / steps, { min: 0 });
  if (o.randomStart !== undefined && typeof o.randomStart !== 'boolean') throw new AttackError(op, `option "randomStart" must be true or false, got ${fmtValue(o.randomStart)}`);
  const seed = intOption(op, 'seed', o.seed, 0, Number.MIN_SAFE_INTEGER);
  return { eps, steps, alpha, randomStart: (o.randomStart as boolean | undefined) ?? true, seed };
}

function inputOf(op: string, g: Graph, s: unknown, what: string): Sym {
  const sym = typeof s === 'string' ? g.byName(s) : s;
  if (!(sym instanceof Sym) || sym.graph !== g || sym.op !== 'input') {
    throw new AttackError(op, `${what} must be an input of the model's graph${typeof s === 'string' ? `, and the graph has no input named "${s}"` : `, got ${fmtValue(s)}`}`);
  }
  return sym;
}

function boundsOption(op: string, b: unknown): readonly [number, number] | null {
  if (b === null) return null;
  if (b === undefined) return [0, 1];
  if (!Array.isArray(b) || b.length !== 2 || !b.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(b[0] < b[1])) {
    throw new AttackError(op, `option "bounds" must be [lo, hi] with lo < hi, or null, got ${Array.isArray(b) ? JSON.stringify(b) : fmtValue(b)}`);
  }
  return [b[0], b[1]];
}

/** Rows [start, end) of t, a copy. */
function rows(t: Tensor, start: number, end: number): Tensor {
  const n = t.shape[0];
  const rowSize = n ? t.size / n : 0;
  return new Tensor(t.dtype, [end - start, ...t.shape.slice(1)], t.data.slice(start * rowSize, end * rowSize) as Tensor['data']);
}

function argmaxRows(scores: Tensor, out: Int32Array): void {
  const n = scores.shape[0];
  const c = n ? scores.size / n : 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (scores.data[i * c + j] > scores.data[i * c + best]) best = j;
    out[i] = best;
  }
}

/** Clears `ok[i]` where the logits' argmax is not the class (a NaN score never counts as correct). */
function markWrong(logits: Tensor, classes: Int32Array, ok: Uint8Array): void {
  const pred = new Int32Array(classes.length);
  argmaxRows(logits, pred);
  const c = classes.length ? logits.size / classes.length : 0;
  for (let i = 0; i < classes.length; i++) if (pred[i] !== classes[i] || Number.isNaN(logits.data[i * c + pred[i]])) ok[i] = 0;
}
