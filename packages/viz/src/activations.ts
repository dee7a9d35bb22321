/**
 * Learned activation shapes (PReLU, SPLASH, APL, or any elementwise function with params): the
 * part of the graph between an activation's input and output is copied into a small graph of its
 * own, with the input replaced by a grid and every param frozen at its current value, compiled and
 * run. So the curve is exactly what the model computes, per channel.
 */
import { GradgraphError, Graph, Sym, Tensor, captureOrigin, compile, fmtType, type Node, checkOptionNames } from '@gradgraph/core';
import { nn } from '@gradgraph/ops';

/** Where an activation sits in the graph: its input (pre-activation) and output. */
export interface ActivationSite {
  readonly name: string;
  readonly input: Sym;
  readonly output: Sym;
}

/** One channel's curve: `y = f(x)` on the grid. */
export interface ActivationCurve {
  readonly name: string;
  /** Channel index (flattened over the non-batch dims), or `'all'` when every channel is the same. */
  readonly channel: number | 'all';
  readonly x: readonly number[];
  readonly y: readonly number[];
  /**
   * Whether the curve is convex on the grid (`nn.convexity`: no chord slope drops by more than
   * `convexityTol` of the steepest |slope|); undefined with fewer than 3 points.
   */
  readonly convex?: boolean;
}

/** An activation that can't be evaluated on a grid (depends on other inputs, is random, ...). */
export class ActivationError extends GradgraphError {}

export interface CurveOptions {
  /** Grid range. Default [-4, 4]. */
  range?: readonly [number, number];
  /** Grid points. Default 161. */
  points?: number;
  /** At most this many channels per activation (the first ones). Default 8. */
  channels?: number;
  /** The tolerance of the convexity mark (`nn.convexity`'s `tol`). Default 1e-3. */
  convexityTol?: number;
}

const LEARNED = /^(prelu|twoSlope|splash|apl)(_\d+)?$/i;

/**
 * Finds learned activations by the scope their params live in: `prelu`, `twoSlope`, `splash`, `apl` (with
 * `_1`, `_2`, ... for repeats), as the `nn` builders create them, or any scope `match` accepts.
 * The builder's nodes are the run of nodes made right after its params by the same call (same
 * source line); the output is the last of them and the input the value from outside they read.
 * A scope that holds the computation itself (`g.scope('myAct', () => ...)`) works too.
 * @example const sites = findActivations(g);
 */
export function findActivations(g: Graph, opts: { match?: RegExp } = {}): ActivationSite[] {
  checkOptionNames(opts, ['match'], (d) => new ActivationError(d, { op: 'findActivations', origin: captureOrigin() }));
  if (!(g instanceof Graph)) throw new ActivationError('findActivations needs a Graph', { op: 'findActivations', origin: captureOrigin() });
  const re = opts.match ?? LEARNED;
  const nodes = g.nodes;
  const byScope = new Map<string, Node[]>();
  for (const n of nodes) {
    if (!n.scope || n.adjointOf !== undefined) continue;
    if (!re.test(n.scope.split('/').pop()!)) continue;
    (byScope.get(n.scope) ?? byScope.set(n.scope, []).get(n.scope)!).push(n);
  }
  const sites: ActivationSite[] = [];
  for (const [scope, members] of byScope) {
    let ops = members.filter((n) => n.inputs.length > 0);
    if (!ops.length) {
      // params only (nn builders): the computation is the run of nodes the same call made next
      const first = members[0];
      ops = [];
      for (let id = first.id + 1; id < nodes.length; id++) {
        const n = nodes[id];
        if (n.origin !== first.origin || n.adjointOf !== undefined) break;
        if (n.inputs.length) ops.push(n);
      }
      if (!ops.length) continue;
    }
    const inside = new Set([...members, ...ops].map((n) => n.id));
    const outer = new Set<number>();
    for (const n of ops) for (const i of n.inputs) if (!inside.has(i) && !isFrozen(g.node(i))) outer.add(i);
    const input = rootOf(g, [...outer]);
    if (input === undefined) continue;
    sites.push({ name: scope, input: g.sym(input), output: g.sym(ops[ops.length - 1].id) });
  }
  return sites;
}

/** The one candidate every other candidate depends on (hash-consing may hand back older nodes). */
function rootOf(g: Graph, candidates: number[]): number | undefined {
  const sorted = [...candidates].sort((a, b) => a - b);
  const root = sorted[0];
  if (root === undefined) return undefined;
  const dependsOnRoot = (id: number): boolean => {
    const stack = [id];
    const seen = new Set<number>();
    while (stack.length) {
      const k = stack.pop()!;
      if (k === root) return true;
      if (seen.has(k) || k < root) continue;
      seen.add(k);
      stack.push(...g.node(k).inputs);
    }
    return false;
  };
  return sorted.slice(1).every(dependsOnRoot) ? root : undefined;
}

function isFrozen(n: Node): boolean {
  return n.op === 'param' || n.op === 'constant';
}

/**
 * Evaluates each activation on a grid with the current param values, per channel.
 * @example
 * const before = activationCurves(findActivations(g));
 */
export function activationCurves(sites: readonly ActivationSite[], opts: CurveOptions = {}): ActivationCurve[] {
  const origin = captureOrigin();
  checkOptionNames(opts, ['range', 'points', 'channels', 'convexityTol'], (d) => new ActivationError(d, { op: 'activationCurves', origin }));
  const [lo, hi] = opts.range ?? [-4, 4];
  const points = opts.points ?? 161;
  const maxCh = opts.channels ?? 8;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new ActivationError(`range must be [lo, hi] with lo < hi, got [${lo}, ${hi}]`, { op: 'activationCurves', origin });
  if (!Number.isInteger(points) || points < 2) throw new ActivationError(`points must be an integer ≥ 2, got ${String(points)}`, { op: 'activationCurves', origin });
  if (!Array.isArray(sites)) throw new ActivationError('activationCurves needs an array of { name, input, output }', { op: 'activationCurves', origin });
  const xs = Array.from({ length: points }, (_, i) => lo + ((hi - lo) * i) / (points - 1));
  const out: ActivationCurve[] = [];
  for (const site of sites) {
    const { values, channels, last } = evaluate(site, xs, origin);
    let curves: number[][] = [];
    for (let c = 0; c < channels; c++) curves.push(xs.map((_, i) => values[i * channels + c]));
    // on [N, H, W, C] (per-channel params broadcast over the positions) every position repeats the
    // same C curves: keep one per channel, the last axis
    if (last < channels && curves.every((cv, k) => closeCurves(cv, curves[k % last]))) curves = curves.slice(0, last);
    const same = curves.every((cv) => closeCurves(cv, curves[0]));
    const shown = same ? curves.slice(0, 1) : curves.slice(0, maxCh);
    // judged where it can be: 3 points at least, all finite
    const judge = (y: number[]) => (points >= 3 && y.every(Number.isFinite) ? { convex: nn.convexity(xs, [y], { tol: opts.convexityTol }).convex[0] } : {});
    shown.forEach((y, c) => out.push({ name: site.name, channel: same ? 'all' : c, x: xs, y, ...judge(y) }));
  }
  return out;
}

function closeCurves(a: readonly number[], b: readonly number[]): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= 1e-6 * (1 + Math.abs(b[i])));
}

/**
 * Copies the nodes between the site's input and output into a fresh graph and runs it on the grid.
 * `channels` counts every non-batch element; `last` is the size of the last axis.
 */
function evaluate(site: ActivationSite, xs: readonly number[], origin: string): { values: ArrayLike<number>; channels: number; last: number } {
  const { input, output, name } = site;
  if (!(input instanceof Sym) || !(output instanceof Sym) || input.graph !== output.graph) throw new ActivationError(`activation "${name}" needs input and output symbols of one graph`, { op: 'activationCurves', origin });
  const g = input.graph;
  const rest = input.shape.slice(1);
  if (!rest.every((d): d is number => d !== null)) throw new ActivationError(`activation "${name}": the input's non-batch dims must be known, got ${fmtType(input.node.type)}`, { op: 'activationCurves', origin });
  const channels = rest.reduce((a, d) => a * d, 1);
  // the nodes output needs, stopping at the input
  const need = new Set<number>();
  const stack = [output.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (need.has(id) || id === input.id) continue;
    need.add(id);
    for (const i of g.node(id).inputs) stack.push(i);
  }
  const h = new Graph({ seed: g.seed });
  const z = h.input('z', [xs.length, ...rest], input.dtype);
  const map = new Map<number, Sym>([[input.id, z]]);
  for (const id of [...need].sort((a, b) => a - b)) {
    const n = g.node(id);
    let s: Sym;
    if (n.op === 'param') s = h.constant(g.getValue(String(n.attrs.name)));
    else if (n.op === 'constant') s = h.constant(n.attrs.value as Tensor);
    else if (n.op === 'input') throw new ActivationError(`activation "${name}" also depends on input "${String(n.attrs.name)}"; pass the node it applies to as its input`, { op: 'activationCurves', origin });
    else if (n.op === 'randomUniform' || n.op === 'randomNormal') throw new ActivationError(`activation "${name}" is random (node %${n.id} ${n.op})`, { op: 'activationCurves', origin });
    else s = h.apply(n.op, n.inputs.map((i) => map.get(i)!), n.attrs);
    map.set(id, s);
  }
  const y = map.get(output.id)!;
  const want = xs.length * channels;
  const grid = new Tensor(input.dtype, [xs.length, ...rest]);
  for (let i = 0; i < xs.length; i++) grid.data.fill(xs[i], i * channels, (i + 1) * channels);
  const [v] = compile(h, { outputs: [y] }).run({ z: grid });
  if (v.size !== want) throw new ActivationError(`activation "${name}" is not elementwise: ${want} grid values gave ${fmtType(v)}`, { op: 'activationCurves', origin });
  return { values: v.data, channels, last: rest.length ? rest[rest.length - 1] : 1 };
}
