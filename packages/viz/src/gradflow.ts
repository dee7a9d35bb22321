/**
 * Gradient flow: per-edge, per-param and per-layer gradient norms, collected by compiling extra
 * outputs next to (or into) a training step, for one step or averaged over a window of steps.
 *
 * Per edge `u → v`: the gradient that flows back from `v` into `u` alone, i.e. `v`'s VJP for that
 * input applied to `v`'s adjoint. The probe asks `grad` for the adjoints and calls the same VJP
 * rules `grad` calls, so hash-consing hands back the nodes `grad` already built: the extra cost
 * is the norms, not a second backward pass.
 *
 * Flags are relative and direction-aware. Gradients start at the loss and flow back to the input,
 * so a layer's norm is compared with the per-layer norms from it to the loss (the layer itself and
 * every layer nearer the loss): vanishing when below `vanish` × the largest of them (for the
 * classic picture, the largest per-layer norm overall), exploding when above `explode` × the
 * smallest. The layer nearest the loss is the reference and is never flagged; non-finite norms
 * always count as exploding. The thresholds are fixed before looking at the numbers.
 */
import {
  Executable,
  GradError,
  Graph,
  Sym,
  Tensor,
  captureOrigin,
  compile,
  concat,
  getOp,
  grad,
  isDifferentiable,
  isFloat,
  unbroadcast,
  type Feeds,
  type Node,
  checkOptionNames,
} from '@gradgraph/core';
import type { EdgeGrad, Flag, GradientFlow, GradientRecord, LayerGrad, ParamGrad, Thresholds } from './types';

export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze({ vanish: 1e-3, explode: 1e3 });

export interface GradientProbeOptions {
  /** The params whose gradients are recorded. Default: every trainable param the loss depends on. */
  params?: readonly Sym[];
  /** The scope depth that names a layer: `1` makes `encoder/dense1/w` part of layer `encoder`. Default 1. */
  layerDepth?: number;
  /** Record per-edge norms (needed to draw the flow on the graph). Default true. */
  edges?: boolean;
  /** Flag thresholds, relative to the per-layer norms toward the loss. Default `{ vanish: 1e-3, explode: 1e3 }`. */
  thresholds?: Partial<Thresholds>;
}

const PROBE_OPTIONS = ['params', 'layerDepth', 'edges', 'thresholds'];

interface StepData {
  step: number;
  edgeNorms: Float64Array;
  params: { norm: number; meanAbs: number; maxAbs: number }[];
}

/**
 * Collects gradient norms. Either compile `probe.outputs` into your training step and pass the
 * values to `record`, or let `run(feeds)` compile and run its own executable (no updates).
 * @example
 * const probe = gradientProbe(loss);
 * const step = compile(g, { inputs: [x, y], outputs: [loss, ...probe.outputs], updates });
 * const [l, ...extra] = step.run(feeds);
 * probe.record(extra);
 * const flow = probe.flow({ window: 10 });
 */
export class GradientProbe {
  readonly graph: Graph;
  readonly loss: Sym;
  /** Extra outputs to compile: one gradient per param, then the edge maxima and scaled sums of squares. */
  readonly outputs: readonly Sym[];
  readonly params: readonly Sym[];
  readonly thresholds: Thresholds;
  /** Edges in the order of the edge outputs. */
  private readonly edgeList: { from: number; to: number; input: number }[];
  private readonly layerOfParam: string[];
  private readonly layerPosition = new Map<string, number>();
  private readonly records: StepData[] = [];
  private lastGrads: Tensor[] = [];
  private exe?: Executable;
  private nextStep = 0;

  constructor(loss: Sym, opts: GradientProbeOptions = {}) {
    const origin = captureOrigin();
    checkOptionNames(opts, PROBE_OPTIONS, (d) => new GradError(d, { op: 'gradientProbe', origin }));
    checkOptionNames(opts.thresholds, ['vanish', 'explode'], (d) => new GradError(`thresholds: ${d}`, { op: 'gradientProbe', origin }));
    if (!(loss instanceof Sym)) throw new GradError('gradientProbe needs the loss symbol', { op: 'gradientProbe', origin });
    if (loss.rank !== 0 || !isFloat(loss.dtype)) throw new GradError(`the loss must be a float scalar, got ${loss.dtype}[${loss.shape.join(',')}]`, { op: 'gradientProbe', shapes: [loss.shape], origin });
    const depth = opts.layerDepth ?? 1;
    if (!Number.isInteger(depth) || depth < 1) throw new GradError(`layerDepth must be an integer ≥ 1, got ${String(depth)}`, { op: 'gradientProbe', origin });
    const th = { ...DEFAULT_THRESHOLDS, ...(opts.thresholds ?? {}) };
    if (!(th.vanish > 0 && th.vanish < 1) || !(th.explode > 1)) throw new GradError(`thresholds need 0 < vanish < 1 < explode, got vanish ${th.vanish}, explode ${th.explode}`, { op: 'gradientProbe', origin });
    this.thresholds = Object.freeze(th);
    const g = loss.graph;
    this.graph = g;
    this.loss = loss;

    // the nodes the loss depends on, and among them those downstream of a float source
    const anc = ancestors(g, loss.id);
    const params = opts.params ?? g.params().filter((p) => anc.has(p.id));
    params.forEach((p, i) => {
      if (!(p instanceof Sym) || p.graph !== g || p.op !== 'param') throw new GradError(`params[${i}] is not a param of the loss's graph`, { op: 'gradientProbe', origin });
    });
    if (!params.length) throw new GradError('the loss depends on no trainable param', { op: 'gradientProbe', origin });
    this.params = params;

    const paramGrads = grad(loss, params);
    const outputs: Sym[] = [...paramGrads];
    this.edgeList = [];
    if (opts.edges !== false) {
      const live = descendantsOfSources(g, anc);
      const ids = [...live].sort((a, b) => a - b);
      const adjoints = grad(loss, ids.map((id) => g.sym(id)));
      const adj = new Map(ids.map((id, i) => [id, adjoints[i]]));
      const maxes: Sym[] = [];
      const sums: Sym[] = [];
      for (const id of ids) {
        const node = g.node(id);
        if (!node.inputs.length) continue;
        const def = getOp(node.op);
        if (!isDifferentiable(def)) continue;
        const needsGrad = node.inputs.map((i) => live.has(i));
        if (!needsGrad.some(Boolean)) continue;
        const inputs = node.inputs.map((i) => g.sym(i));
        // the same call grad makes, so these are grad's own nodes (hash-consed)
        const parts = g.withAdjoint(id, () => def.vjp({ inputs, output: g.sym(id), dy: adj.get(id)!, attrs: node.attrs, node, needsGrad }));
        parts.forEach((r, k) => {
          if (!needsGrad[k] || !r) return;
          const c = g.withAdjoint(id, () => unbroadcast(r, inputs[k], { node, input: k }));
          // ‖c‖ = m·‖c/m‖ with m = max|c|: no float32 underflow of tiny squares
          g.scope('gradflow', () => {
            const m = c.abs().max();
            maxes.push(m.reshape([1]));
            sums.push(c.div(m.maximum(1e-30)).square().sum().reshape([1]));
          });
          this.edgeList.push({ from: node.inputs[k], to: id, input: k });
        });
      }
      if (maxes.length) {
        const [mx, ss] = g.scope('gradflow', () => [concat(maxes.map((x) => x.cast('float64'))), concat(sums.map((x) => x.cast('float64')))]);
        outputs.push(mx, ss);
      }
    }
    this.outputs = outputs;

    // layers: the scope prefix; position: the layer's last forward node (or last use of one of
    // its params), larger = nearer the loss
    this.layerOfParam = params.map((p) => layerOf(p.node, depth));
    const paramLayer = new Map(params.map((p, i) => [p.id, this.layerOfParam[i]]));
    const known = new Set(this.layerOfParam);
    const touch = (layer: string | undefined, id: number) => {
      if (layer !== undefined && known.has(layer)) this.layerPosition.set(layer, Math.max(this.layerPosition.get(layer) ?? -1, id));
    };
    for (const id of anc) {
      const n = g.node(id);
      if (n.adjointOf !== undefined) continue;
      touch(n.op === 'param' ? paramLayer.get(id) : n.scope ? n.scope.split('/').slice(0, depth).join('/') : undefined, id);
      for (const i of n.inputs) touch(paramLayer.get(i), id);
    }
  }

  /**
   * Records one step from the values of `outputs` (in order), as returned by `run` of an
   * executable that compiled them. `step` defaults to a running count.
   * @example const [loss, ...extra] = step.run(feeds); probe.record(extra, epoch);
   */
  record(values: readonly Tensor[], step?: number): GradientRecord {
    const origin = captureOrigin();
    if (!Array.isArray(values) || values.length !== this.outputs.length) {
      throw new GradError(`record needs the ${this.outputs.length} tensors computed for probe.outputs, got ${Array.isArray(values) ? values.length : typeof values}`, { op: 'GradientProbe.record', origin });
    }
    values.forEach((v, i) => {
      const want = this.outputs[i];
      if (!(v instanceof Tensor) || v.dtype !== want.dtype || v.rank !== want.rank) throw new GradError(`value ${i} is not the tensor computed for probe.outputs[${i}] (${want.dtype}, rank ${want.rank})`, { op: 'GradientProbe.record', origin });
    });
    const np = this.params.length;
    const params = values.slice(0, np).map(stats);
    const edgeNorms = new Float64Array(this.edgeList.length);
    if (this.edgeList.length) {
      const mx = values[np].data;
      const ss = values[np + 1].data;
      for (let i = 0; i < edgeNorms.length; i++) edgeNorms[i] = mx[i] * Math.sqrt(ss[i]);
    }
    const s = step ?? this.nextStep;
    this.nextStep = s + 1;
    this.lastGrads = values.slice(0, np).map((t) => t.clone());
    const data: StepData = { step: s, edgeNorms, params };
    this.records.push(data);
    return { step: s, layers: this.layerNorms(params).map(({ layer, norm }) => ({ layer, norm })) };
  }

  /**
   * Computes the gradients for `feeds` with the current param values (its own executable,
   * compiled once, without updates) and records them.
   * @example probe.run({ x: xs, y: ys });
   */
  run(feeds: Feeds, step?: number): GradientRecord {
    this.exe ??= compile(this.graph, { outputs: this.outputs });
    return this.record(this.exe.run(feeds), step);
  }

  /**
   * A `train.fit` callback that runs the probe on `feeds` (a fixed batch) after every `every`-th
   * epoch, recorded under the epoch number: pass it in `fit({ callbacks: [...] })`.
   * @example
   * const h = train.fit({ step, data, epochs: 50, callbacks: [probe.callback({ x: xs, y: ys })] });
   * const flow = probe.flow({ window: 5 });
   */
  callback(feeds: Feeds, opts: { every?: number } = {}): { onEpochEnd(epoch: number): void } {
    checkOptionNames(opts, ['every'], (d) => new GradError(d, { op: 'GradientProbe.callback', origin: captureOrigin() }));
    const every = opts.every ?? 1;
    if (!Number.isInteger(every) || every < 1) throw new GradError(`every must be a positive integer, got ${String(every)}`, { op: 'GradientProbe.callback', origin: captureOrigin() });
    return {
      onEpochEnd: (epoch: number) => {
        if (epoch % every === 0) this.run(feeds, epoch);
      },
    };
  }

  /**
   * Per-layer norms of every recorded step, oldest first: the data of the norm-against-step plot.
   * @example const svg = await renderChart(gradientHistoryChart(probe.history()));
   */
  history(): GradientRecord[] {
    return this.records.map((r) => ({ step: r.step, layers: this.layerNorms(r.params).map(({ layer, norm }) => ({ layer, norm })) }));
  }

  /**
   * The param gradients of the last recorded step, by param name (for histograms).
   * @example const hs = histograms(g, { gradients: probe.lastGradients() });
   */
  lastGradients(): Map<string, Tensor> {
    return new Map(this.params.map((p, i) => [p.name!, this.lastGrads[i]]));
  }

  /**
   * Norms averaged over the last `window` recorded steps (all by default), with flags.
   * @example const flow = probe.flow({ window: 10 });
   */
  flow(opts: { window?: number } = {}): GradientFlow {
    checkOptionNames(opts, ['window'], (d) => new GradError(d, { op: 'GradientProbe.flow', origin: captureOrigin() }));
    if (!this.records.length) throw new GradError('no step recorded yet: call run(feeds) or record(values) first', { op: 'GradientProbe.flow', origin: captureOrigin() });
    const w = opts.window ?? this.records.length;
    if (!Number.isInteger(w) || w < 1) throw new GradError(`window must be a positive integer, got ${String(w)}`, { op: 'GradientProbe.flow', origin: captureOrigin() });
    const recs = this.records.slice(-w);
    const params = this.params.map((_, i) => ({
      norm: mean(recs.map((r) => r.params[i].norm)),
      meanAbs: mean(recs.map((r) => r.params[i].meanAbs)),
      maxAbs: Math.max(...recs.map((r) => r.params[i].maxAbs)),
    }));
    const layers = this.layerNorms(params);
    const flagger = makeFlagger(layers, this.thresholds);
    const flaggedLayers: LayerGrad[] = layers.map((l) => ({ ...l, ...optFlag(flagger(l.norm, l.position)) }));
    const edges: EdgeGrad[] = this.edgeList.map((e, i) => {
      const norm = mean(recs.map((r) => r.edgeNorms[i]));
      return { ...e, norm, ...optFlag(flagger(norm, e.to)) };
    });
    const paramGrads: ParamGrad[] = this.params.map((p, i) => ({
      id: p.id,
      name: p.name!,
      layer: this.layerOfParam[i],
      size: p.shape.reduce<number>((a, d) => a * (d ?? 1), 1),
      ...params[i],
    }));
    return {
      steps: recs.map((r) => r.step),
      edges,
      params: paramGrads,
      layers: flaggedLayers,
      thresholds: this.thresholds,
      reference: Math.max(0, ...layers.map((l) => l.norm).filter(Number.isFinite)),
    };
  }

  private layerNorms(params: readonly { norm: number; meanAbs: number; maxAbs: number }[]): Omit<LayerGrad, 'flag'>[] {
    const by = new Map<string, { sq: number; absSum: number; count: number; maxAbs: number; params: string[] }>();
    this.params.forEach((p, i) => {
      const layer = this.layerOfParam[i];
      const size = p.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
      const e = by.get(layer) ?? by.set(layer, { sq: 0, absSum: 0, count: 0, maxAbs: 0, params: [] }).get(layer)!;
      e.sq += params[i].norm ** 2;
      e.absSum += params[i].meanAbs * size;
      e.count += size;
      e.maxAbs = Math.max(e.maxAbs, params[i].maxAbs);
      e.params.push(p.name!);
    });
    return [...by]
      .map(([layer, e]) => ({ layer, norm: Math.sqrt(e.sq), meanAbs: e.count ? e.absSum / e.count : 0, maxAbs: e.maxAbs, params: e.params, position: this.layerPosition.get(layer) ?? -1 }))
      .sort((a, b) => a.position - b.position);
  }
}

/**
 * A probe for the gradients of `loss`: see `GradientProbe`.
 * @example const probe = gradientProbe(loss, { layerDepth: 1 });
 */
export function gradientProbe(loss: Sym, opts: GradientProbeOptions = {}): GradientProbe {
  return new GradientProbe(loss, opts);
}

/**
 * Gradient norms for one batch with the current param values: per edge, per param and per layer,
 * with vanishing/exploding flags. Adds the probe's nodes to the graph (norms under scope `gradflow`).
 * @example
 * const flow = gradientFlow(loss, { x: xs, y: ys });
 * const svg = await renderSvg(toDot(g, { show: 'forward', gradients: flow }));
 */
export function gradientFlow(loss: Sym, feeds: Feeds, opts: GradientProbeOptions = {}): GradientFlow {
  checkOptionNames(opts, PROBE_OPTIONS, (d) => new GradError(d, { op: 'gradientFlow', origin: captureOrigin() }));
  const probe = new GradientProbe(loss, opts);
  probe.run(feeds);
  return probe.flow();
}

/**
 * The names of the layers flagged `flag`, input side first.
 * @example flaggedLayers(flow, 'vanishing'); // ['layer01', 'layer02', ...]
 */
export function flaggedLayers(flow: GradientFlow, flag: Flag): string[] {
  return flow.layers.filter((l) => l.flag === flag).map((l) => l.layer);
}

// ---- helpers -----------------------------------------------------------------------------

/** Flags a norm at `position` against the per-layer norms from there to the loss. */
function makeFlagger(layers: readonly { norm: number; position: number }[], th: Thresholds): (norm: number, position: number) => Flag | undefined {
  return (norm, position) => {
    if (!Number.isFinite(norm)) return 'exploding';
    const refs = layers.filter((l) => l.position >= position && Number.isFinite(l.norm)).map((l) => l.norm);
    if (!refs.length) return undefined;
    const largest = Math.max(...refs);
    const smallest = Math.min(...refs.filter((v) => v > 0), Infinity);
    if (largest > 0 && norm < th.vanish * largest) return 'vanishing';
    if (Number.isFinite(smallest) && norm > th.explode * smallest) return 'exploding';
    return undefined;
  };
}

function optFlag(f: Flag | undefined): { flag?: Flag } {
  return f ? { flag: f } : {};
}

function layerOf(n: Node, depth: number): string {
  if (n.scope) return n.scope.split('/').slice(0, depth).join('/');
  return String(n.attrs.name ?? `%${n.id}`);
}

function ancestors(g: Graph, root: number): Set<number> {
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const i of g.node(id).inputs) stack.push(i);
  }
  return seen;
}

/** Float nodes among `anc` that are, or depend on, a trainable param or a float input. */
function descendantsOfSources(g: Graph, anc: ReadonlySet<number>): Set<number> {
  const live = new Set<number>();
  for (const id of [...anc].sort((a, b) => a - b)) {
    const n = g.node(id);
    if (!isFloat(n.type.dtype)) continue;
    const source = (n.op === 'param' && n.attrs.trainable !== false) || n.op === 'input';
    if (source || n.inputs.some((i) => live.has(i))) live.add(id);
  }
  return live;
}

function stats(t: Tensor): { norm: number; meanAbs: number; maxAbs: number } {
  const d = t.data;
  let m = 0;
  let abs = 0;
  for (let i = 0; i < d.length; i++) {
    const a = Math.abs(d[i]);
    abs += a;
    if (a > m || Number.isNaN(a)) m = a;
  }
  let ss = 0;
  if (m > 0 && Number.isFinite(m)) for (let i = 0; i < d.length; i++) ss += (d[i] / m) ** 2;
  return { norm: Number.isFinite(m) ? m * Math.sqrt(ss) : m, meanAbs: d.length ? abs / d.length : 0, maxAbs: m };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
