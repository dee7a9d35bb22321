/**
 * Gradient checking: symbolic gradients (reverse mode, `grad`) and directional derivatives
 * (forward mode, `jvp`) against float64 central differences, to any order, and kink-aware.
 *
 * For a function f of tensors, gradcheck builds `L(x) = ⟨f(x), r⟩` (r a fixed random tensor when
 * f is not a scalar), compiles L and its symbolic gradient once, and compares each gradient
 * element with (L(x + εeⱼ) − L(x − εeⱼ)) / 2ε — or, for large inputs, each directional derivative
 * along random unit directions u with (L(x + εu) − L(x − εu)) / 2ε. `order: k` also checks the
 * gradient of `L₂(x) = Σᵢ ⟨∇ᵢL(x), vᵢ⟩` (random vᵢ), and so on up to order k.
 * With `modes` including `'fwd'`, the same directions are also checked with L's JVP along them
 * (`jvp(L, x, u)`); at order 2 that is forward over reverse, the JVP rules of every op the VJPs used.
 *
 * Kinks: where the one-sided differences (L(x+ε) − L(x))/ε and (L(x) − L(x−ε))/ε disagree by more
 * than a smooth function allows, x sits within ε of a point where L is not differentiable (relu at
 * 0, |x| at 0, a max tie). Any analytic value between the two one-sided slopes is then accepted
 * — it is a valid subgradient convention — and the point is reported as a kink.
 */
import * as api from './api';
import { GradgraphError, GraphError, checkOptionNames } from './errors';
import { compile, type CompileOptions } from './compile';
import { Graph, Sym } from './graph';
import { grad } from './autodiff';
import { jvp } from './transforms';
import { captureOrigin } from './origin';
import { fillNormal, streamKey } from './random';
import { fmtShape, stridesOf, type Shape } from './shape';
import { Tensor } from './tensor';

export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-7. */
  atol?: number;
  /** Relative tolerance (of the numeric value). Default 1e-5. */
  rtol?: number;
  /** Check derivatives up to this order. Default 1. */
  order?: number;
  /**
   * `'full'` checks every element; `'projection'` checks `projections` random directional
   * derivatives per input; `'auto'` (default) uses full up to `maxElements` elements per input.
   */
  mode?: 'auto' | 'full' | 'projection';
  /** Directions per input in projection mode. Default 8. */
  projections?: number;
  /** Largest input checked element by element in auto mode. Default 512. */
  maxElements?: number;
  /** One-sided slopes differing by more than kinkTol·(1 + |slope|) mark a kink. Default 1e-3. */
  kinkTol?: number;
  /** Also check the gradient with respect to every trainable param `fn` creates. Default true. */
  params?: boolean;
  /** Seeds the graph and the random projections. Default 0. */
  seed?: number;
  /** Passed to `compile` (backend, passes). */
  compile?: Omit<CompileOptions, 'inputs' | 'outputs' | 'updates'>;
  /**
   * Which derivatives to check against the central differences: `'rev'`, the gradient (`grad`,
   * the VJP rules); `'fwd'`, the directional derivatives (`jvp`, the JVP rules). Both use the same
   * directions, evaluations and kink rule. Default `['rev']`.
   */
  modes?: readonly AdMode[];
}

/** Reverse mode (`grad`) or forward mode (`jvp`). */
export type AdMode = 'rev' | 'fwd';

export interface GradcheckFailure {
  /** Flat element index, or the direction index in projection mode. */
  element: number;
  /** Element coordinates (full mode). */
  coords?: number[];
  analytic: number;
  numeric: number;
  /** |analytic − numeric|. */
  error: number;
  /** The error allowed there: atol + rtol·|numeric|. */
  allowed: number;
}

export interface OrderReport {
  order: number;
  /** Which derivative was checked: the gradient (`'rev'`) or the JVP (`'fwd'`). */
  ad: AdMode;
  ok: boolean;
  /** Elements (or directions) checked. */
  checked: number;
  maxAbsError: number;
  /** The element with the largest error relative to what is allowed there. */
  worst?: GradcheckFailure;
  kinks: number;
}

export interface InputReport {
  /** Position among the function's inputs, or -1 for a param. */
  index: number;
  /** `x0`, `x1`, ... or the param's name. */
  name: string;
  shape: Shape;
  ok: boolean;
  mode: 'full' | 'projection';
  /** One report per order and AD mode checked: order 1 rev, order 1 fwd, order 2 rev, ... */
  byOrder: OrderReport[];
}

export interface Kink {
  input: string;
  order: number;
  ad: AdMode;
  element: number;
  coords?: number[];
  /** The one-sided slopes (for a jump: the slopes just outside it). */
  left: number;
  right: number;
  analytic: number;
  /** A jump in the function (e.g. relu's derivative at order 2) rather than a change of slope. */
  jump: boolean;
}

export interface GradcheckReport {
  ok: boolean;
  order: number;
  eps: number;
  atol: number;
  rtol: number;
  inputs: InputReport[];
  kinks: Kink[];
  /** Function evaluations made for the numeric side. */
  evaluations: number;
  /** Programs compiled: per order, the value and one per AD mode checked; never per perturbation. */
  compilations: number;
}

export class GradcheckError extends GradgraphError {
  readonly report: GradcheckReport;
  constructor(report: GradcheckReport, origin?: string) {
    super(formatReport(report), { op: 'gradcheck', origin });
    this.report = report;
  }
}

type Fn = (...xs: Sym[]) => Sym;

interface Target {
  name: string;
  index: number;
  sym: Sym;
  /** The tensor whose data is perturbed: a feed for inputs, the live storage for params. */
  value: Tensor;
}

/** The options `gradcheck` knows (see {@link GradcheckOptions}). */
const GRADCHECK_OPTIONS = ['eps', 'atol', 'rtol', 'order', 'mode', 'modes', 'projections', 'maxElements', 'kinkTol', 'params', 'seed', 'compile'];

/**
 * Checks `fn`'s symbolic gradients against float64 central differences.
 * @example
 * const r = gradcheck((a, b) => a.mul(b).sin().sum(), [Tensor.randn([3, 2], 'float64'), Tensor.randn([2], 'float64')], { order: 2 });
 * if (!r.ok) console.log(r.inputs);
 */
export function gradcheck(fn: Fn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  checkOptionNames(opts, GRADCHECK_OPTIONS, (d) => new GraphError(d, { op: 'gradcheck', origin: captureOrigin() }));
  const o = {
    eps: opts.eps ?? 1e-6,
    atol: opts.atol ?? 1e-7,
    rtol: opts.rtol ?? 1e-5,
    order: opts.order ?? 1,
    mode: opts.mode ?? 'auto',
    projections: opts.projections ?? 8,
    maxElements: opts.maxElements ?? 512,
    kinkTol: opts.kinkTol ?? 1e-3,
    params: opts.params ?? true,
    seed: opts.seed ?? 0,
    modes: opts.modes ?? (['rev'] as const),
  };
  if (typeof fn !== 'function') throw new GraphError('gradcheck needs a function of symbols', { op: 'gradcheck', origin: captureOrigin() });
  if (!Array.isArray(inputs) || !inputs.every((t) => t instanceof Tensor)) throw new GraphError('gradcheck needs an array of Tensors as inputs', { op: 'gradcheck', origin: captureOrigin() });
  if (!Number.isInteger(o.order) || o.order < 1) throw new GraphError(`order must be a positive integer, got ${o.order}`, { op: 'gradcheck', origin: captureOrigin() });
  if (!(o.eps > 0)) throw new GraphError(`eps must be positive, got ${o.eps}`, { op: 'gradcheck', origin: captureOrigin() });
  if (!Array.isArray(o.modes) || !o.modes.length || !o.modes.every((m) => m === 'rev' || m === 'fwd')) {
    throw new GraphError(`modes must be a non-empty list of 'rev' and 'fwd', got ${JSON.stringify(o.modes)}`, { op: 'gradcheck', origin: captureOrigin() });
  }
  const modes = [...new Set(o.modes)];

  const g = new Graph({ seed: o.seed });
  const feeds = inputs.map((t) => (t.dtype === 'float64' ? t.clone() : t.astype('float64')));
  const xs = feeds.map((t, i) => g.input(`x${i}`, t.shape, 'float64'));
  const y = fn(...xs);
  if (!(y instanceof Sym) || y.graph !== g) throw new GraphError('the function must return a symbol built from its arguments', { op: 'gradcheck', origin: captureOrigin() });
  if (y.dtype !== 'float64') throw new GraphError(`the function returned ${y.dtype}; with float64 inputs it must return float64 (check casts and constants)`, { op: 'gradcheck', origin: captureOrigin() });

  const targets: Target[] = xs.map((s, i) => ({ name: `x${i}`, index: i, sym: s, value: feeds[i] }));
  if (o.params) for (const p of g.params()) if (p.dtype === 'float64') targets.push({ name: p.name!, index: -1, sym: p, value: g.storage(p) });

  // L₁ = ⟨y, r⟩ with a fixed random r, so every output element takes part.
  let L = y.rank === 0 ? y : api.sum(api.mul(y, g.constant(randomTensor(y.shape as number[], o.seed, 'projection/out'))));
  const feedMap: Record<string, Tensor> = {};
  feeds.forEach((t, i) => (feedMap[`x${i}`] = t));
  const compileOpts = opts.compile ?? {};
  const counter = g.rngCounter;
  let evaluations = 0;
  let compilations = 0;

  const reports = targets.map<InputReport>((t) => ({
    index: t.index,
    name: t.name,
    shape: t.value.shape,
    ok: true,
    mode: o.mode === 'full' || (o.mode === 'auto' && t.value.size <= o.maxElements) ? 'full' : 'projection',
    byOrder: [],
  }));
  const kinks: Kink[] = [];

  // forward mode: L's JVP along tangents fed as inputs, one direction at a time
  const tangentIns = modes.includes('fwd') ? targets.map((t, i) => g.input(`gradcheck.tangent.${i}`, t.value.shape, 'float64')) : [];
  const zeroTangents: Record<string, Tensor> = {};
  tangentIns.forEach((s, i) => (zeroTangents[s.name!] = Tensor.zeros(targets[i].value.shape, 'float64')));

  for (let order = 1; order <= o.order; order++) {
    const syms = targets.map((t) => t.sym);
    const grads = grad(L, syms);
    const valueExe = compile(g, { ...compileOpts, outputs: [L] });
    compilations++;
    const evalL = (): number => {
      g.rngCounter = counter; // random nodes draw the same numbers in every evaluation
      evaluations++;
      return valueExe.run(feedMap)[0].data[0];
    };
    let analytic: Tensor[] = [];
    if (modes.includes('rev')) {
      const gradExe = compile(g, { ...compileOpts, outputs: grads });
      compilations++;
      g.rngCounter = counter;
      analytic = gradExe.run(feedMap);
    }
    let directional: ((ti: number, u: Tensor) => number) | undefined;
    if (modes.includes('fwd')) {
      const fwdExe = compile(g, { ...compileOpts, outputs: jvp([L], syms, tangentIns) });
      compilations++;
      directional = (ti, u) => {
        g.rngCounter = counter;
        return fwdExe.run({ ...feedMap, ...zeroTangents, [tangentIns[ti].name!]: u })[0].data[0];
      };
    }
    g.rngCounter = counter;

    targets.forEach((t, ti) => {
      const rep = reports[ti];
      const fwd = directional && ((u: Tensor) => directional!(ti, u));
      const dirs = rep.mode === 'full' ? elementDirections(t, analytic[ti], fwd) : randomDirections(t, analytic[ti], fwd, o, order);
      for (const res of checkDirections(t, dirs, evalL, o, order, kinks, modes)) {
        rep.byOrder.push(res);
        if (!res.ok) rep.ok = false;
      }
    });

    if (order < o.order) {
      // L_{k+1} = Σᵢ ⟨∇ᵢ L_k, vᵢ⟩: its gradient is the Hessian (of L_k) times v.
      const terms = grads.map((gi, i) => api.sum(api.mul(gi, g.constant(randomTensor(targets[i].value.shape, o.seed, `projection/${order}/${i}`)))));
      L = api.addN(terms);
    }
  }

  return {
    ok: reports.every((r) => r.ok),
    order: o.order,
    eps: o.eps,
    atol: o.atol,
    rtol: o.rtol,
    inputs: reports,
    kinks,
    evaluations,
    compilations,
  };
}

/** Like `gradcheck`, but throws a `GradcheckError` with a readable report when a check fails. */
export function assertGradcheck(fn: Fn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const report = gradcheck(fn, inputs, opts);
  if (!report.ok) throw new GradcheckError(report, captureOrigin());
  return report;
}

type Opts = { eps: number; atol: number; rtol: number; kinkTol: number; projections: number; seed: number };

/**
 * Compares one analytic derivative with the numeric one, handling the two ways a function can
 * fail to be differentiable within ε of x:
 * - a kink (continuous, the slope changes): the one-sided slopes (L(x+ε) − L(x))/ε and
 *   (L(x) − L(x−ε))/ε disagree; any analytic value between them is accepted;
 * - a jump (e.g. the derivative of relu, checked at order 2): L(x+ε) − L(x−ε) doesn't shrink with
 *   ε; it is confirmed with the slopes just outside, on [x−2ε, x−ε] and [x+ε, x+2ε], and any
 *   analytic value between those is accepted (the derivative of either smooth piece).
 */
function compare(
  a: number,
  fPlus: number,
  f0: number,
  fMinus: number,
  outer: () => [number, number],
  half: () => [number, number],
  o: Opts,
): { ok: boolean; numeric: number; error: number; allowed: number; kink?: { left: number; right: number; jump: boolean } } {
  const central = (fPlus - fMinus) / (2 * o.eps);
  const right = (fPlus - f0) / o.eps;
  const left = (f0 - fMinus) / o.eps;
  // accept any analytic value in [lo, hi], within tolerance
  const band = (lo: number, hi: number) => {
    const tol = o.atol + o.rtol * Math.max(Math.abs(lo), Math.abs(hi));
    const error = a < lo ? lo - a : a > hi ? a - hi : 0;
    return { ok: error <= tol && Number.isFinite(a), numeric: central, error, allowed: tol };
  };
  const jumpTol = o.kinkTol * (1 + Math.abs(f0));
  if (Math.abs(fPlus - fMinus) > jumpTol) {
    const [f2Minus, f2Plus] = outer();
    const left2 = (fMinus - f2Minus) / o.eps;
    const right2 = (f2Plus - fPlus) / o.eps;
    // the change over [x−ε, x+ε] that the slopes on either side don't explain
    if (Math.abs(fPlus - fMinus - o.eps * (left2 + right2)) > jumpTol / 2) {
      return { ...band(Math.min(left2, right2), Math.max(left2, right2)), kink: { left: left2, right: right2, jump: true } };
    }
  }
  if (Math.abs(right - left) > o.kinkTol * (1 + Math.min(Math.abs(left), Math.abs(right)))) {
    return { ...band(Math.min(left, right), Math.max(left, right)), kink: { left, right, jump: false } };
  }
  const allowed = o.atol + o.rtol * Math.abs(central);
  const error = Math.abs(a - central);
  if (error > allowed && Number.isFinite(central)) {
    // Where f'' jumps within ε (x²·[x>0] at 0) the central difference is only O(ε) accurate.
    // Richardson: with c(ε) = f' + kε + O(ε²), 2·c(ε/2) − c(ε) = f' + O(ε²). A wrong VJP still fails.
    const [hMinus, hPlus] = half();
    const refined = 2 * ((hPlus - hMinus) / o.eps) - central;
    const e2 = Math.abs(a - refined);
    const allowed2 = o.atol + o.rtol * Math.abs(refined);
    if (e2 <= allowed2) return { ok: true, numeric: refined, error: e2, allowed: allowed2 };
    // A kink whose slope change is too small for the test above: one-sided slopes that do not
    // shrink when the step halves (for a smooth function right − left ≈ ε·f'' halves with ε).
    const rightH = (hPlus - f0) / (o.eps / 2);
    const leftH = (f0 - hMinus) / (o.eps / 2);
    const noise = 40 * Number.EPSILON * (1 + Math.abs(f0)) / o.eps;
    if (Math.abs(right - left) > noise && Math.abs(rightH - leftH) >= 0.75 * Math.abs(right - left)) {
      const lo = Math.min(left, right, leftH, rightH);
      const hi = Math.max(left, right, leftH, rightH);
      return { ...band(lo, hi), kink: { left, right, jump: false } };
    }
  }
  return { ok: error <= allowed && Number.isFinite(a) === Number.isFinite(central), numeric: central, error, allowed };
}

function coordsOf(shape: Shape, flat: number): number[] {
  const st = stridesOf(shape);
  return st.map((s, i) => Math.floor(flat / s) % shape[i]);
}

/**
 * One direction to check: the analytic directional derivative along it, by each AD mode checked
 * (`fwd` runs the JVP program, so it is computed when asked), and how to move the input by `s`
 * along it (`at(0)` restores the input).
 */
interface Direction {
  analytic: { rev?: number; fwd?: () => number };
  at(s: number): void;
  element: number;
  coords?: number[];
}

/** Every element of the input, one at a time (`mode: 'full'`). */
function elementDirections(t: Target, analytic: Tensor | undefined, fwd?: (u: Tensor) => number): Direction[] {
  const data = t.value.data;
  return Array.from(data, (x, j) => ({
    analytic: {
      rev: analytic?.data[j],
      fwd:
        fwd &&
        (() => {
          const e = Tensor.zeros(t.value.shape, 'float64');
          e.data[j] = 1;
          return fwd(e);
        }),
    },
    element: j,
    coords: coordsOf(t.value.shape, j),
    at: (s: number) => {
      data[j] = x + s;
    },
  }));
}

/** `projections` random unit directions u (`mode: 'projection'`). */
function randomDirections(t: Target, analytic: Tensor | undefined, fwd: ((u: Tensor) => number) | undefined, o: Opts, order: number): Direction[] {
  const data = t.value.data;
  const x0 = Float64Array.from(data);
  return Array.from({ length: o.projections }, (_, d) => {
    const dir = randomTensor(t.value.shape, o.seed, `direction/${t.name}/${order}/${d}`);
    const u = dir.data;
    let norm = 0;
    for (let i = 0; i < u.length; i++) norm += u[i] * u[i];
    norm = Math.sqrt(norm) || 1;
    let a = 0;
    for (let i = 0; i < u.length; i++) {
      u[i] /= norm;
      a += (analytic?.data[i] ?? 0) * u[i];
    }
    return {
      analytic: { rev: analytic ? a : undefined, fwd: fwd && (() => fwd(dir)) },
      element: d,
      at: (s: number) => {
        for (let i = 0; i < data.length; i++) data[i] = x0[i] + s * u[i];
      },
    };
  });
}

/**
 * Checks the analytic derivatives along each direction against central differences of L, one
 * report per AD mode; the evaluations of L are shared by the modes.
 */
function checkDirections(t: Target, dirs: Direction[], evalL: () => number, o: Opts, order: number, kinks: Kink[], modes: readonly AdMode[]): OrderReport[] {
  const f0 = evalL();
  const reports = modes.map((ad) => ({ ad, ok: true, maxAbsError: 0, worst: undefined as GradcheckFailure | undefined, worstRatio: -1, kinks: 0 }));
  for (const d of dirs) {
    // L at x + s·u and x − s·u, the input restored afterwards; each step evaluated once
    const pairs = new Map<number, [number, number]>();
    const pair = (s: number): [number, number] => {
      const known = pairs.get(s);
      if (known) return known;
      d.at(-s);
      const m = evalL();
      d.at(s);
      const p = evalL();
      d.at(0);
      pairs.set(s, [m, p]);
      return [m, p];
    };
    const [fMinus, fPlus] = pair(o.eps);
    for (const rep of reports) {
      const a = rep.ad === 'rev' ? d.analytic.rev! : d.analytic.fwd!();
      const r = compare(a, fPlus, f0, fMinus, () => pair(2 * o.eps), () => pair(o.eps / 2), o);
      if (r.kink) {
        rep.kinks++;
        kinks.push({ input: t.name, order, ad: rep.ad, element: d.element, ...(d.coords ? { coords: d.coords } : {}), left: r.kink.left, right: r.kink.right, analytic: a, jump: r.kink.jump });
      }
      if (!r.ok) rep.ok = false;
      rep.maxAbsError = Math.max(rep.maxAbsError, Number.isNaN(r.error) ? Infinity : r.error);
      const ratio = Number.isNaN(r.error) || !Number.isFinite(a) ? Infinity : r.error / r.allowed;
      if (ratio > rep.worstRatio) {
        rep.worstRatio = ratio;
        rep.worst = { element: d.element, ...(d.coords ? { coords: d.coords } : {}), analytic: a, numeric: r.numeric, error: r.error, allowed: r.allowed };
      }
    }
  }
  return reports.map((r) => ({ order, ad: r.ad, ok: r.ok, checked: dirs.length, maxAbsError: r.maxAbsError, worst: r.worst, kinks: r.kinks }));
}

function randomTensor(shape: readonly number[], seed: number, key: string): Tensor {
  const t = new Tensor('float64', shape);
  fillNormal(t.data, 'float64', streamKey(seed, `gradcheck/${key}`, 0));
  return t;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(8) : String(x);
}

/**
 * A gradcheck report as text — what `assertGradcheck`'s error message is. One header line (passed
 * or FAILED, the order, ε, the tolerances, the evaluations made), then one line per input and
 * order: its name (`x0`, `x1`, ... or a param's name) and shape, ok or FAILED, how many elements
 * (or random directions) were checked and the largest |analytic − numeric|; for a failure, the
 * worst element with its analytic and numeric values, its error and the error allowed there
 * (atol + rtol·|numeric|); and how many kinks it met. Then the first 10 kinks: where, which
 * order, the one-sided slopes (for a jump, the slopes just outside it) and the analytic value
 * accepted between them.
 * @example
 * console.log(formatReport(gradcheck((x) => nn.relu(x).sum(), [Tensor.from([-1, 0, 2], 'float64')])));
 * // gradcheck passed (order 1, eps 0.000001, atol 1e-7, rtol 0.00001, 7 evaluations)
 * //   x0 [3] order 1: ok, 3 elements, max |error| 2.8755665e-11; 1 kink
 * //   kinks (analytic accepted between the one-sided slopes):
 * //     x0[1] order 1: left 0.0000000, right 1.0000000, analytic 0.0000000
 */
export function formatReport(r: GradcheckReport): string {
  const lines = [`gradcheck ${r.ok ? 'passed' : 'FAILED'} (order ${r.order}, eps ${r.eps}, atol ${r.atol}, rtol ${r.rtol}, ${r.evaluations} evaluations)`];
  for (const inp of r.inputs) {
    for (const ord of inp.byOrder) {
      const w = ord.worst;
      const where = w ? (w.coords ? `element [${w.coords.join(',')}]` : `direction ${w.element}`) : '';
      const status = ord.ok ? 'ok' : 'FAILED';
      let line = `  ${inp.name} ${fmtShape(inp.shape)} order ${ord.order}${ord.ad === 'fwd' ? ' (jvp)' : ''}: ${status}, ${ord.checked} ${inp.mode === 'full' ? 'elements' : 'directions'}, max |error| ${fmt(ord.maxAbsError)}`;
      if (w && !ord.ok) line += `; worst at ${where}: analytic ${fmt(w.analytic)}, numeric ${fmt(w.numeric)}, error ${fmt(w.error)} > allowed ${fmt(w.allowed)}`;
      if (ord.kinks) line += `; ${ord.kinks} kink${ord.kinks === 1 ? '' : 's'}`;
      lines.push(line);
    }
  }
  if (r.kinks.length) {
    lines.push(`  kinks (analytic accepted between the one-sided slopes):`);
    for (const k of r.kinks.slice(0, 10)) lines.push(`    ${k.input}${k.coords ? `[${k.coords.join(',')}]` : ` direction ${k.element}`} order ${k.order}${k.ad === 'fwd' ? ' (jvp)' : ''}: ${k.jump ? 'jump; slopes outside ' : ''}left ${fmt(k.left)}, right ${fmt(k.right)}, analytic ${fmt(k.analytic)}`);
    if (r.kinks.length > 10) lines.push(`    ... and ${r.kinks.length - 10} more`);
  }
  return lines.join('\n');
}

