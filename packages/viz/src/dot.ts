/**
 * DOT export. A node shows its op, output dtype and shape; inputs, params, constants and outputs
 * have their own styles; small constants show their values; the tooltip carries the user's source
 * line. Scopes are clusters; `collapse: n` draws every scope at depth ≥ n as one box; runs of
 * identical sibling scopes (the 14 hidden layers of a 16-layer MLP) are drawn once and summarized
 * as "×N". Backward nodes sit in mirrored "∇ scope" clusters, styled apart, each linked by a
 * dotted line to the forward node whose adjoint it computes.
 */
import { GraphError, Sym, Tensor, captureOrigin, fmtConstant, fmtType, getOp, hasOp, type Node, checkOptionNames } from '@gradgraph/core';
import { EXPLODING_COLOR, GRAD_STOPS, SET3, VANISHING_COLOR, attrs, fmtNum, leafName, q, ramp } from './dotutil';
import type { CompiledOverlay, EdgeGrad, Flag, GradientFlow } from './types';
import { viewOf, type GraphView, type Phase, type Viewable } from './view';

export interface DotOptions {
  /**
   * Which nodes to draw: the forward graph, the backward graph (adjoints, optimizer arithmetic
   * and updates), or both. Default `'forward'`.
   */
  show?: 'forward' | 'backward' | 'both';
  /** Every scope at depth ≥ `collapse` (top level = 1) is drawn as one box. Default: none. */
  collapse?: number;
  /**
   * Runs of at least this many identical sibling scopes are drawn as the first one plus a "×N"
   * box. `false` turns it off. Default 3.
   */
  repeats?: number | false;
  /** For a graph: the nodes to mark as outputs (default: nodes nobody consumes). */
  outputs?: readonly Sym[];
  /**
   * Dotted links from backward nodes to the forward node whose adjoint they compute: `'each'`
   * from every backward node, `'group'` one per forward node (from the last node of its group),
   * `'none'`. Every backward node names its forward node in its tooltip either way. Default
   * `'group'`, or `'none'` when the fast layout is in use.
   */
  adjointLinks?: 'each' | 'group' | 'none';
  /**
   * Graphviz effort: `'quality'` (its defaults), `'fast'` (fewer crossing-minimization and
   * network-simplex iterations, polyline edges: a 2,000-node graph lays out in seconds, not
   * tens of seconds), or `'auto'`: fast above 800 drawn nodes. Default `'auto'`.
   */
  layout?: 'quality' | 'fast' | 'auto';
  /** Layout direction. Default `'TB'` (top to bottom). */
  direction?: 'TB' | 'LR';
  /**
   * Cuts a long graph into side-by-side columns (rows with `direction: 'LR'`), each at most this
   * many ranks deep, so a deep stack is not drawn as one thin strip: the edges between columns
   * are drawn but don't rank their ends, so every column starts at the top. A top-level scope
   * is never cut. `'auto'` (default): a forward view, when the picture would be more than about
   * twice as tall as wide (wide with `'LR'`), into as many columns as bring it near 1.2 : 1 (a
   * view with backward nodes is left alone: its edges run against the layers). `false`: never.
   */
  wrap?: number | 'auto' | false;
  /** A title drawn above the graph. */
  title?: string;
  /** Constants with at most this many elements show their values and are drawn next to each user. Default 8. */
  constantValues?: number;
  /** Colour and width edges by log₁₀ of the gradient flowing back along them; adds a legend. */
  gradients?: GradientFlow;
  /** Label edges with their gradient norms (with `gradients`). Default false. */
  gradientLabels?: boolean;
  /** The compiled view: fused kernels as clusters (instead of scopes), memory slots, removed nodes. */
  compiled?: CompiledOverlay;
  /**
   * Scopes (full paths) always drawn as one box, whatever their depth. Default: `gradflow` (the
   * norms a gradient probe adds) and every scope holding only optimizer/update arithmetic
   * (`adam`, ...). Expanded, such update-only scopes are drawn without a cluster box: Graphviz 5
   * (graphviz-cli) fails to rank their clusters ("trouble in init_rank").
   */
  collapseScopes?: readonly string[];
  /** Draw only these node ids (their other inputs are left out, not drawn as ghosts). */
  only?: Iterable<number>;
  /** Prefix for the `id` of every SVG element (when several graphs share one HTML page). */
  idPrefix?: string;
  /** Marks for a before/after view: node ids drawn as added, removed or changed. */
  diff?: { added?: Iterable<number>; removed?: Iterable<number>; changed?: Iterable<number> };
}

/** Details of one drawn DOT node, for tooltips and the report's click panel. */
export interface UnitInfo {
  /** The DOT node name, also the SVG element id. */
  readonly id: string;
  readonly kind: 'node' | 'box' | 'repeat' | 'constant' | 'ghost';
  readonly title: string;
  /** Node id, op, type, scope and source line (for `node`, `constant`, `ghost`). */
  readonly node?: { id: number; op: string; type: string; scope: string; origin: string; phase: Phase; adjointOf?: number; attrs: string; doc?: string };
  /** The node ids a box or repeat box stands for. */
  readonly members?: readonly number[];
  readonly summary?: string;
}

export interface DotResult {
  readonly dot: string;
  /** Every drawn DOT node by name. */
  readonly units: ReadonlyMap<string, UnitInfo>;
  /** Counts of what was drawn. */
  readonly stats: { readonly graphNodes: number; readonly drawnNodes: number; readonly edges: number; readonly clusters: number; readonly boxes: number };
}

/**
 * DOT text for a graph, an executable (its program) or a program.
 * @example
 * const dot = toDot(g, { collapse: 2, show: 'forward' });
 * const svg = await renderSvg(dot);
 */
export function toDot(x: Viewable, opts: DotOptions = {}): string {
  return buildDot(x, opts).dot;
}

/**
 * Like `toDot`, with details of every drawn node (what the HTML report's click panel shows).
 * @example
 * const { dot, units } = buildDot(exe, { collapse: 1 });
 */
export function buildDot(x: Viewable, opts: DotOptions = {}): DotResult {
  checkOptions(opts);
  return new DotBuilder(viewOf(x, opts.outputs), opts).build();
}

/** Every option `toDot` knows (see {@link DotOptions}); anything else is a typo and refused. */
export const DOT_OPTIONS: readonly string[] = ['show', 'collapse', 'repeats', 'outputs', 'adjointLinks', 'layout', 'direction', 'wrap', 'title', 'constantValues', 'gradients', 'gradientLabels', 'compiled', 'collapseScopes', 'only', 'idPrefix', 'diff'];

export function checkOptions(o: DotOptions, op = 'toDot', extra: readonly string[] = []): void {
  const bad = (what: string) => {
    throw new GraphError(what, { op, origin: captureOrigin() });
  };
  if (o === null || typeof o !== 'object') bad(`options must be an object, got ${String(o)}`);
  checkOptionNames(o, [...DOT_OPTIONS, ...extra], (d) => new GraphError(d, { op, origin: captureOrigin() }));
  if (o.show !== undefined && !['forward', 'backward', 'both'].includes(o.show)) bad(`show must be 'forward', 'backward' or 'both', got ${JSON.stringify(o.show)}`);
  if (o.collapse !== undefined && !(Number.isInteger(o.collapse) && o.collapse >= 1)) bad(`collapse must be an integer ≥ 1 (top-level scopes are depth 1), got ${String(o.collapse)}`);
  if (o.repeats !== undefined && o.repeats !== false && !(Number.isInteger(o.repeats) && o.repeats >= 2)) bad(`repeats must be an integer ≥ 2 or false, got ${String(o.repeats)}`);
  if (o.layout !== undefined && !['quality', 'fast', 'auto'].includes(o.layout)) bad(`layout must be 'quality', 'fast' or 'auto', got ${JSON.stringify(o.layout)}`);
  if (o.direction !== undefined && o.direction !== 'TB' && o.direction !== 'LR') bad(`direction must be 'TB' or 'LR', got ${JSON.stringify(o.direction)}`);
  if (o.adjointLinks !== undefined && !['each', 'group', 'none'].includes(o.adjointLinks)) bad(`adjointLinks must be 'each', 'group' or 'none', got ${JSON.stringify(o.adjointLinks)}`);
  if (o.constantValues !== undefined && !(Number.isInteger(o.constantValues) && o.constantValues >= 0)) bad(`constantValues must be a non-negative integer, got ${String(o.constantValues)}`);
  if (o.wrap !== undefined && o.wrap !== false && o.wrap !== 'auto' && !(Number.isInteger(o.wrap) && o.wrap >= 2)) bad(`wrap must be 'auto', false or an integer ≥ 2 (ranks per column), got ${JSON.stringify(o.wrap)}`);
}

// ---- the scope tree ----------------------------------------------------------------------

interface Scope {
  /** `tag|a/b/c`; the root is ''. */
  readonly key: string;
  /** '' forward, '∇' backward, '∇²' second order, ... */
  readonly tag: string;
  readonly path: readonly string[];
  readonly parent?: Scope;
  readonly children: Scope[];
  /** Drawn nodes whose display scope is exactly this one. */
  readonly nodes: number[];
  minId: number;
}

const TAGS = ['', '∇', '∇²', '∇³'];
/** Drawn nodes above which `layout: 'auto'` picks the fast Graphviz settings. */
const FAST_LAYOUT_ABOVE = 800;
const tagOf = (order: number) => TAGS[order] ?? `∇^${order}`;

interface Box {
  readonly name: string;
  readonly kind: 'box' | 'repeat';
  readonly scope: Scope;
  readonly members: number[];
  /** For repeat boxes: the scopes summarized and the one drawn in full. */
  readonly repeated?: { first: Scope; rest: Scope[] };
}

const STYLE = {
  font: 'Helvetica',
  op: { fill: '#ffffff', line: '#5d6d7e', text: '#17202a' },
  backward: { fill: '#f4ecf7', line: '#8e44ad', text: '#4a235a' },
  update: { fill: '#fef5e7', line: '#d68910', text: '#6e2c00' },
  input: { fill: '#d5f5e3', line: '#1e8449' },
  param: { fill: '#fdebd0', line: '#ca6f1e' },
  constant: { fill: '#f2f3f4', line: '#aab7b8', text: '#566573' },
  output: { fill: '#d6eaf8', line: '#1f618d' },
  ghost: { line: '#b3b6b7', text: '#909497' },
  cluster: { fill: '#fbfcfc', line: '#aeb6bf' },
  clusterBackward: { fill: '#fbf8fd', line: '#c39bd3' },
  box: { fill: '#eaf2f8', line: '#2e86c1' },
  repeat: { fill: '#fef9e7', line: '#b7950b' },
  added: '#1e8449',
  removed: '#c0392b',
  changed: '#d68910',
};

class DotBuilder {
  private readonly show: 'forward' | 'backward' | 'both';
  /** Prefix of SVG element ids (several graphs in one page). */
  private readonly pfx: string;
  private readonly maxConst: number;
  private readonly only?: ReadonlySet<number>;
  private readonly collapseScopes: ReadonlySet<string>;
  /** Collapse update-only scopes too (no explicit `collapseScopes`). */
  private readonly autoCollapse: boolean;
  /** Nodes drawn as themselves or inside a box (not inline constants, not ghosts). */
  private readonly drawn = new Set<number>();
  private readonly inlineConst = new Set<number>();
  private readonly ghosts = new Set<number>();
  private readonly scopes = new Map<string, Scope>();
  private readonly root: Scope;
  private readonly unitOf = new Map<number, string>();
  private readonly boxes = new Map<string, Box>();
  private readonly units = new Map<string, UnitInfo>();
  private readonly consumers = new Map<number, number[]>();
  private readonly kernelOf = new Map<number, number>();
  private readonly slotOf = new Map<number, number>();
  private readonly diff: { added: Set<number>; removed: Set<number>; changed: Set<number> };
  private readonly removedBy = new Map<number, { node: Node; pass: string }>();
  private readonly edgeFlow = new Map<string, EdgeGrad[]>();
  /** Display scopes of builder nodes (see adoptBuilderNodes). */
  private readonly adopted = new Map<number, string>();
  /** The cluster each drawn node sits in. */
  private readonly scopeOfNode = new Map<number, Scope>();

  constructor(
    private readonly view: GraphView,
    private readonly opts: DotOptions,
  ) {
    this.show = opts.show ?? 'forward';
    this.pfx = opts.idPrefix ?? '';
    if (opts.only) this.only = new Set(opts.only);
    this.collapseScopes = new Set(opts.collapseScopes ?? ['gradflow']);
    this.autoCollapse = opts.collapseScopes === undefined;
    this.maxConst = opts.constantValues ?? 8;
    this.root = { key: '', tag: '', path: [], children: [], nodes: [], minId: Infinity };
    this.scopes.set('', this.root);
    this.diff = { added: new Set(opts.diff?.added ?? []), removed: new Set(opts.diff?.removed ?? []), changed: new Set(opts.diff?.changed ?? []) };
    const c = opts.compiled;
    c?.kernels?.forEach((k, i) => k.nodes.forEach((id) => this.kernelOf.set(id, i)));
    if (c?.slots) for (const [id, s] of entries(c.slots)) this.slotOf.set(id, s);
    for (const r of c?.removed ?? []) for (const node of r.nodes) if (!view.nodes.has(node.id)) this.removedBy.set(node.id, { node, pass: r.pass });
    for (const e of opts.gradients?.edges ?? []) {
      const k = `${e.from}>${e.to}`;
      const list = this.edgeFlow.get(k);
      if (list) list.push(e);
      else this.edgeFlow.set(k, [e]);
    }
  }

  private visible(id: number): boolean {
    if (this.only && !this.only.has(id)) return false;
    const p = this.view.phase.get(id)!;
    if (this.show === 'both') return true;
    return this.show === 'forward' ? p === 'forward' : p !== 'forward';
  }

  private isSmallConst(n: Node): boolean {
    return n.op === 'constant' && (n.attrs.value as Tensor).size <= this.maxConst && !this.view.outputs.has(n.id);
  }

  build(): DotResult {
    const { view } = this;
    for (const n of view.nodes.values()) for (const i of n.inputs) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n.id);
    // what is drawn: visible nodes; small constants inline next to each user; inputs from the
    // other phase as ghosts (the forward values a backward-only view reads)
    for (const n of view.nodes.values()) {
      if (!this.visible(n.id)) continue;
      if (this.isSmallConst(n)) {
        const users = this.consumers.get(n.id) ?? [];
        if (users.some((u) => this.visible(u))) this.inlineConst.add(n.id);
        else if (!users.length) this.drawn.add(n.id);
        continue;
      }
      this.drawn.add(n.id);
    }
    for (const id of this.drawn) {
      for (const i of view.nodes.get(id)!.inputs) {
        if (this.drawn.has(i) || this.inlineConst.has(i)) continue;
        const src = view.nodes.get(i);
        if (src && this.isSmallConst(src)) this.inlineConst.add(i);
        else if (!this.only || this.only.has(i)) this.ghosts.add(i);
      }
    }
    this.adoptBuilderNodes();
    const useScopes = !this.opts.compiled?.kernels;
    for (const id of [...this.drawn].sort((a, b) => a - b)) {
      const s = useScopes ? this.scopeFor(this.displayPath(id)) : this.root;
      s.nodes.push(id);
      this.scopeOfNode.set(id, s);
    }
    this.assignUnits(this.root);
    return this.emit();
  }

  /** Tag and path of a node's cluster: backward nodes mirror their forward node's scope. */
  private displayPath(id: number): { tag: string; path: string[] } {
    const order = this.view.order.get(id) ?? 0;
    let n = this.view.nodes.get(id)!;
    // follow adjointOf back to the forward node, whose scope the backward one mirrors
    for (let k = 0; k < 8 && n.adjointOf !== undefined; k++) {
      const f = this.view.nodes.get(n.adjointOf);
      if (!f) break;
      n = f;
    }
    const scope = this.adopted.get(n.id) ?? n.scope;
    return { tag: tagOf(order), path: scope ? scope.split('/') : [] };
  }

  /**
   * Builders such as `nn.dense` make their params in a scope of their own (`dense_3/kernel`) but
   * their arithmetic in the caller's scope. For drawing, the nodes the same call made right after
   * its params (same source line, consecutive ids, a scope enclosing the params') join the params'
   * scope, so a layer is one cluster.
   */
  private adoptBuilderNodes(): void {
    const list = [...this.view.nodes.values()];
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p.op !== 'param' || !p.scope || p.origin === '<unknown>') continue;
      const next = list[i + 1];
      if (next && next.op === 'param' && next.scope === p.scope && next.origin === p.origin) continue;
      for (let k = i + 1; k < list.length; k++) {
        const n = list[k];
        if (n.origin !== p.origin || n.adjointOf !== undefined || n.op === 'param' || n.op === 'input') break;
        if (!(n.scope === '' || p.scope.startsWith(n.scope + '/'))) break;
        this.adopted.set(n.id, p.scope);
      }
    }
  }

  private scopeFor({ tag, path }: { tag: string; path: string[] }): Scope {
    let s = this.root;
    for (let d = 1; d <= path.length; d++) {
      const key = `${tag}|${path.slice(0, d).join('/')}`;
      let c = this.scopes.get(key);
      if (!c) {
        c = { key, tag, path: path.slice(0, d), parent: s, children: [], nodes: [], minId: Infinity };
        this.scopes.set(key, c);
        s.children.push(c);
      }
      s = c;
    }
    return s;
  }

  // ---- units: nodes, collapsed boxes and "×N" boxes ------------------------------------

  private assignUnits(s: Scope): void {
    computeMinIds(this.root);
    this.walk(s);
  }

  /**
   * Assigns the nodes of scope `s` to units. Repeats are found among "segments": a child scope
   * plus the loose nodes of `s` made after it and before the next child (in `relu(dense(h))`,
   * the relu after each dense), so a loop-built stack of identical blocks folds into one "×N".
   */
  private walk(s: Scope): void {
    for (const id of s.nodes) this.unitOf.set(id, `n${id}`);
    const collapse = this.opts.collapse;
    const minRun = this.opts.repeats === false ? Infinity : (this.opts.repeats ?? 3);
    const byTag = new Map<string, Scope[]>();
    for (const c of [...s.children].sort((a, b) => a.minId - b.minId)) (byTag.get(c.tag) ?? byTag.set(c.tag, []).get(c.tag)!).push(c);
    for (const [tag, kids] of byTag) {
      const loose = s.nodes.filter((id) => this.displayPath(id).tag === tag);
      const segs = kids.map((k, i) => {
        const lo = Math.max(...subtreeNodes(k));
        const hi = i + 1 < kids.length ? kids[i + 1].minId : Infinity;
        return { scope: k, loose: loose.filter((id) => id > lo && id < hi) };
      });
      const sigs = Number.isFinite(minRun) ? segs.map((sg) => this.signature(sg.scope, sg.loose)) : [];
      // the last block is followed by whatever comes after the stack (the loss): compare it with
      // only as many trailing nodes as the block before it has
      const n = segs.length;
      if (n >= 2 && sigs.length && sigs[n - 1] !== sigs[n - 2]) {
        const trimmed = segs[n - 1].loose.slice(0, segs[n - 2].loose.length);
        const sig = this.signature(segs[n - 1].scope, trimmed);
        if (sig === sigs[n - 2]) {
          segs[n - 1] = { scope: segs[n - 1].scope, loose: trimmed };
          sigs[n - 1] = sig;
        }
      }
      for (let i = 0; i < segs.length; ) {
        let j = i + 1;
        if (Number.isFinite(minRun)) while (j < segs.length && sigs[j] === sigs[i]) j++;
        if (j - i >= minRun) {
          this.placeScope(segs[i].scope, collapse);
          const rest = segs.slice(i + 1, j);
          const name = `r${this.boxes.size}`;
          const members = rest.flatMap((r) => [...subtreeNodes(r.scope), ...r.loose]);
          this.boxes.set(name, { name, kind: 'repeat', scope: s, members, repeated: { first: segs[i].scope, rest: rest.map((r) => r.scope) } });
          for (const id of members) this.unitOf.set(id, name);
        } else for (let k = i; k < j; k++) this.placeScope(segs[k].scope, collapse);
        i = j;
      }
    }
  }

  private placeScope(c: Scope, collapse: number | undefined): void {
    const byName = c.tag === '' && this.collapseScopes.has(c.path.join('/'));
    if ((collapse !== undefined && c.path.length >= collapse) || byName || (this.autoCollapse && this.isUpdateOnly(c))) {
      const name = `b${this.boxes.size}`;
      const members = subtreeNodes(c);
      this.boxes.set(name, { name, kind: 'box', scope: c, members });
      for (const id of members) this.unitOf.set(id, name);
    } else this.walk(c);
  }

  /** True when every node of the scope's subtree is optimizer/update arithmetic. */
  private isUpdateOnly(c: Scope): boolean {
    const ids = subtreeNodes(c);
    return ids.length > 0 && ids.every((id) => this.view.phase.get(id) === 'update');
  }

  /** A structural fingerprint of a segment: equal for blocks built by the same code. */
  private signature(s: Scope, loose: readonly number[]): string {
    const inScope = new Set(subtreeNodes(s));
    const ids = [...inScope, ...loose].sort((a, b) => a - b);
    const local = new Map(ids.map((id, i) => [id, i]));
    const depth = s.path.length;
    return ids
      .map((id) => {
        const n = this.view.nodes.get(id)!;
        const rel = inScope.has(id) ? this.displayPath(id).path.slice(depth).join('/') : '^';
        const ins = n.inputs.map((i) => {
          if (local.has(i)) return `L${local.get(i)}`;
          const src = this.view.nodes.get(i);
          if (src && this.isSmallConst(src)) return `C${fmtConstant(src.attrs.value as Tensor)}`;
          return `X${src ? fmtType(src.type) : '?'}`;
        });
        return `${rel}:${n.op}:${fmtType(n.type)}:${attrSig(n)}(${ins.join(',')})`;
      })
      .join(';');
  }

  // ---- emitting --------------------------------------------------------------------------

  private emit(): DotResult {
    const o = this.opts;
    const lines: string[] = [];
    const dir = o.direction ?? 'TB';
    lines.push('digraph gradgraph {');
    lines.push(`  graph${attrs({ rankdir: dir, fontname: STYLE.font, fontsize: 11, nodesep: 0.25, ranksep: 0.35, label: o.title, labelloc: o.title ? 't' : undefined, tooltip: o.title ?? 'gradgraph' })};`);
    lines.push(`  node${attrs({ fontname: STYLE.font, fontsize: 10, shape: 'box', style: 'rounded,filled', margin: '0.08,0.03', height: 0.3 })};`);
    lines.push(`  edge${attrs({ fontname: STYLE.font, fontsize: 8, color: '#7f8c8d', arrowsize: 0.6 })};`);

    const body: string[] = [];
    let clusters = 0;
    const kernels = o.compiled?.kernels;
    if (kernels) {
      // compiled view: fused kernels are the clusters
      const inKernel = new Map<number, string[]>();
      for (const id of this.root.nodes) {
        const k = this.kernelOf.get(id);
        const lines = [this.nodeLine(id), ...this.constLines(id)].filter(Boolean);
        if (k === undefined) body.push(...lines);
        else (inKernel.get(k) ?? inKernel.set(k, []).get(k)!).push(...lines);
      }
      for (const [k, ls] of [...inKernel].sort((a, b) => a[0] - b[0])) {
        const kern = kernels[k];
        clusters++;
        body.push(`  subgraph cluster_k${k} {`);
        body.push(`    graph${attrs({ label: `${kern.name}${kern.kind ? ` (${kern.kind})` : ''}`, style: 'rounded,filled', fillcolor: SET3[k % SET3.length] + '55', color: '#5d6d7e', fontsize: 10, tooltip: `fused kernel ${kern.name}: ${kern.nodes.length} nodes` })};`);
        for (const l of ls) body.push('  ' + l);
        body.push('  }');
      }
      for (const b of this.boxes.values()) body.push(this.boxLine(b));
    } else {
      clusters = this.emitScope(this.root, body, '  ');
    }
    for (const id of [...this.ghosts].sort((a, b) => a - b)) body.push(this.ghostLine(id));
    for (const [id, r] of [...this.removedBy].sort((a, b) => a[0] - b[0])) body.push(this.removedLine(id, r.node, r.pass));
    const drawn = this.units.size;
    const fast = o.layout === 'fast' || ((o.layout ?? 'auto') === 'auto' && drawn > FAST_LAYOUT_ABOVE);
    const edges = this.edgeLines(fast);
    // fewer mincross and network-simplex iterations, no final crossing pass, polyline edges:
    // measured ~25× faster on 2,000 nodes (bench/viz-render.ts), a little less tidy
    if (fast) lines.push(`  graph${attrs({ mclimit: 0.1, nslimit: 1, nslimit1: 1, remincross: false, splines: 'polyline' })};`);
    lines.push(...body, ...edges.lines);
    if (o.gradients) lines.push(...this.legend(o.gradients));
    if (o.compiled?.slots) lines.push(...this.slotLegend());
    lines.push('}');
    const drawnNodes = [...this.units.values()].length;
    return {
      dot: lines.join('\n') + '\n',
      units: this.units,
      stats: { graphNodes: this.view.nodes.size, drawnNodes, edges: edges.count, clusters, boxes: this.boxes.size },
    };
  }

  private emitScope(s: Scope, out: string[], ind: string): number {
    let clusters = 0;
    for (const id of s.nodes) {
      const line = this.nodeLine(id);
      if (line) out.push(ind + line.trimStart());
    }
    for (const id of s.nodes) for (const l of this.constLines(id)) out.push(ind + l.trimStart());
    for (const b of this.boxes.values()) if (b.kind === 'box' ? b.scope.parent === s : b.scope === s) out.push(ind + this.boxLine(b).trimStart());
    for (const c of [...s.children].sort((a, b) => a.minId - b.minId)) {
      if (!this.hasDrawnContent(c)) continue;
      if (this.isUpdateOnly(c)) {
        // no cluster box: Graphviz 5 cannot rank clusters of optimizer arithmetic
        clusters += this.emitScope(c, out, ind);
        continue;
      }
      const backward = c.tag !== '';
      clusters++;
      out.push(`${ind}subgraph ${q(`cluster_${c.key}`)} {`);
      const label = `${c.tag ? c.tag + ' ' : ''}${c.path[c.path.length - 1]}`;
      const st = backward ? STYLE.clusterBackward : STYLE.cluster;
      out.push(`${ind}  graph${attrs({ label, tooltip: `${c.tag ? 'backward of ' : 'scope '}${c.path.join('/')}`, style: backward ? 'rounded,filled,dashed' : 'rounded,filled', fillcolor: st.fill, color: st.line, fontcolor: backward ? STYLE.backward.text : '#34495e', labeljust: 'l' })};`);
      clusters += this.emitScope(c, out, ind + '  ');
      out.push(`${ind}}`);
    }
    return clusters;
  }

  /** True when some node of the subtree is drawn as itself (not absorbed into a box). */
  private hasDrawnContent(s: Scope): boolean {
    if (s.nodes.some((id) => this.unitOf.get(id) === `n${id}`)) return true;
    for (const b of this.boxes.values()) if (b.kind === 'repeat' && b.scope === s) return true;
    for (const b of this.boxes.values()) if (b.kind === 'box' && b.scope.parent === s) return true;
    return s.children.some((c) => this.hasDrawnContent(c));
  }

  private nodeInfo(n: Node) {
    return {
      id: n.id,
      op: n.op,
      type: fmtType(n.type),
      scope: n.scope,
      origin: n.origin,
      phase: this.view.phase.get(n.id) ?? 'forward',
      adjointOf: n.adjointOf,
      attrs: fmtAttrs(n),
      doc: hasOp(n.op) ? getOp(n.op).doc : undefined,
    };
  }

  private nodeLine(id: number): string {
    if (this.unitOf.get(id) !== `n${id}`) return '';
    const n = this.view.nodes.get(id)!;
    const phase = this.view.phase.get(id)!;
    const name = `n${id}`;
    const type = fmtType(n.type);
    const a: Record<string, string | number | undefined> = { id: this.pfx + name, tooltip: this.tooltip(n) };
    let title: string;
    let sub = type;
    if (n.op === 'input') {
      title = String(n.attrs.name);
      Object.assign(a, { shape: 'invhouse', style: 'filled', fillcolor: STYLE.input.fill, color: STYLE.input.line });
    } else if (n.op === 'param') {
      const full = String(n.attrs.name);
      title = leafName(full);
      const state = n.attrs.trainable === false;
      Object.assign(a, { shape: 'box', style: state ? 'filled,dashed' : 'filled', fillcolor: STYLE.param.fill, color: STYLE.param.line });
      if (state) sub = `state ${type}`;
    } else if (n.op === 'constant') {
      const v = n.attrs.value as Tensor;
      title = v.size <= this.maxConst ? fmtConstant(v, this.maxConst) : `const ${fmtConstant(v, this.maxConst)}`;
      Object.assign(a, { style: 'filled', fillcolor: STYLE.constant.fill, color: STYLE.constant.line, fontcolor: STYLE.constant.text });
    } else {
      title = n.op;
      const st = phase === 'backward' ? STYLE.backward : phase === 'update' ? STYLE.update : STYLE.op;
      Object.assign(a, { fillcolor: st.fill, color: st.line, fontcolor: st.text });
    }
    if (this.view.outputs.has(id)) Object.assign(a, { fillcolor: STYLE.output.fill, color: STYLE.output.line, peripheries: 2, penwidth: 1.5 });
    const slot = this.slotOf.get(id);
    if (slot !== undefined) {
      sub += ` · slot ${slot}`;
      a.fillcolor = SET3[slot % SET3.length];
    }
    this.applyDiff(id, a);
    a.label = label(title, sub);
    this.units.set(name, { id: name, kind: 'node', title, node: this.nodeInfo(n) });
    return `  ${name}${attrs(a)};`;
  }

  private applyDiff(id: number, a: Record<string, string | number | undefined>): void {
    const d = this.diff;
    if (d.added.has(id)) Object.assign(a, { color: STYLE.added, penwidth: 2.5, xlabel: '+' });
    else if (d.removed.has(id)) Object.assign(a, { color: STYLE.removed, penwidth: 2, style: 'filled,dashed', fontcolor: STYLE.removed, xlabel: '−' });
    else if (d.changed.has(id)) Object.assign(a, { color: STYLE.changed, penwidth: 2.5, xlabel: '~' });
  }

  private tooltip(n: Node): string {
    const lines = [`%${n.id} ${n.op} : ${fmtType(n.type)}`];
    const at = fmtAttrs(n);
    if (at) lines.push(at);
    if (n.scope) lines.push(`scope: ${n.scope}`);
    lines.push(`at ${n.origin}`);
    if (n.adjointOf !== undefined) {
      const f = this.view.nodes.get(n.adjointOf);
      lines.push(`adjoint of %${n.adjointOf}${f ? ` ${f.op}${f.scope ? ` in ${f.scope}` : ''}` : ''}`);
    }
    return lines.join('\n');
  }

  /** Inline constants next to node `id`, one per constant input. */
  private constLines(id: number): string[] {
    if (this.unitOf.get(id) !== `n${id}`) return [];
    const n = this.view.nodes.get(id)!;
    const out: string[] = [];
    const seen = new Set<number>();
    for (const i of n.inputs) {
      if (!this.inlineConst.has(i) || seen.has(i)) continue;
      seen.add(i);
      const c = this.view.nodes.get(i)!;
      const v = c.attrs.value as Tensor;
      const name = `k${i}_${id}`;
      const title = fmtConstant(v, this.maxConst);
      this.units.set(name, { id: name, kind: 'constant', title, node: this.nodeInfo(c) });
      out.push(`  ${name}${attrs({ id: this.pfx + name, label: title, shape: 'plaintext', style: '', fontsize: 8, fontcolor: STYLE.constant.text, height: 0.15, width: 0.2, margin: '0.02,0.01', tooltip: this.tooltip(c) })};`);
    }
    return out;
  }

  private ghostLine(id: number): string {
    const n = this.view.nodes.get(id);
    const name = `g${id}`;
    const title = n ? (n.op === 'input' || n.op === 'param' ? leafName(String(n.attrs.name)) : n.op) : `%${id}`;
    this.units.set(name, { id: name, kind: 'ghost', title, node: n ? this.nodeInfo(n) : undefined });
    return `  ${name}${attrs({ id: this.pfx + name, label: label(title, n ? fmtType(n.type) : ''), style: 'rounded,dashed', color: STYLE.ghost.line, fontcolor: STYLE.ghost.text, tooltip: n ? `${this.tooltip(n)}\n(${this.view.phase.get(id)} node, not part of this view)` : `node %${id}` })};`;
  }

  private removedLine(id: number, n: Node, pass: string): string {
    const name = `x${id}`;
    this.units.set(name, { id: name, kind: 'ghost', title: n.op, node: { ...this.nodeInfo(n), phase: 'forward' }, summary: `removed by ${pass}` });
    return `  ${name}${attrs({ id: this.pfx + name, label: label(n.op, `removed by ${pass}`), style: 'rounded,dashed', color: STYLE.removed, fontcolor: STYLE.removed, tooltip: `${this.tooltip(n)}\nremoved by ${pass}` })};`;
  }

  private boxLine(b: Box): string {
    const ops = new Map<string, number>();
    let params = 0;
    let weights = 0;
    let phase: Phase = 'forward';
    for (const id of b.members) {
      const n = this.view.nodes.get(id)!;
      if (n.op === 'param') {
        params++;
        weights += n.type.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
      } else if (n.op !== 'input' && n.op !== 'constant') ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
      if (this.view.phase.get(id) === 'backward') phase = 'backward';
    }
    const nOps = [...ops.values()].reduce((a, v) => a + v, 0);
    const outs = this.boxOutputs(b);
    const counts = `${nOps} op${nOps === 1 ? '' : 's'}${params ? ` · ${params} param${params === 1 ? '' : 's'} (${fmtCount(weights)})` : ''}`;
    const top = [...ops].sort((a, c) => c[1] - a[1]).slice(0, 4).map(([op, k]) => `${op}×${k}`).join(' ');
    let title: string;
    let sub: string;
    const a: Record<string, string | number | undefined> = { id: this.pfx + b.name };
    if (b.kind === 'repeat') {
      const { first, rest } = b.repeated!;
      const tag = first.tag ? first.tag + ' ' : '';
      const lastOf = (s: Scope) => s.path[s.path.length - 1];
      title = `${tag}×${rest.length} more like ${lastOf(first)}`;
      sub = `${lastOf(rest[0])} … ${lastOf(rest[rest.length - 1])} · ${counts}`;
      Object.assign(a, { shape: 'box3d', style: 'filled', fillcolor: STYLE.repeat.fill, color: STYLE.repeat.line, tooltip: `${rest.length} blocks identical to ${first.path.join('/')}: ${rest.map((r) => r.path.join('/')).join(', ')}\nin all: ${top}` });
    } else {
      const tag = b.scope.tag ? b.scope.tag + ' ' : '';
      title = `${tag}${b.scope.path[b.scope.path.length - 1]}`;
      sub = counts;
      const st = phase === 'backward' ? STYLE.clusterBackward : STYLE.box;
      Object.assign(a, { shape: 'box', style: phase === 'backward' ? 'filled,bold,dashed' : 'filled,bold', fillcolor: st.fill, color: st.line, tooltip: `scope ${b.scope.path.join('/')} (collapsed)\n${top}` });
    }
    if (outs.length) sub += `\n→ ${outs.slice(0, 2).join(', ')}${outs.length > 2 ? ', …' : ''}`;
    a.label = label(title, sub);
    this.units.set(b.name, { id: b.name, kind: b.kind, title, members: b.members, summary: `${sub}\n${top}` });
    return `  ${b.name}${attrs(a)};`;
  }

  /** Types of a box's values used outside it. */
  private boxOutputs(b: Box): string[] {
    const inBox = new Set(b.members);
    const out: string[] = [];
    for (const id of b.members) {
      const users = this.consumers.get(id) ?? [];
      if (this.view.outputs.has(id) || users.some((u) => !inBox.has(u) && this.drawn.has(u))) {
        const t = fmtType(this.view.nodes.get(id)!.type);
        if (!out.includes(t)) out.push(t);
      }
    }
    return out;
  }

  private unit(id: number): string | undefined {
    if (this.ghosts.has(id)) return `g${id}`;
    if (this.removedBy.has(id)) return `x${id}`;
    return this.unitOf.get(id);
  }

  private edgeLines(fast: boolean): { lines: string[]; count: number } {
    const lines: string[] = [];
    const agg = new Map<string, { from: string; to: string; count: number; flows: EdgeGrad[]; dataEdge: boolean }>();
    const add = (from: string, to: string, flows: EdgeGrad[] | undefined) => {
      const key = `${from}>${to}`;
      const e = agg.get(key);
      if (e) {
        e.count++;
        if (flows) for (const f of flows) if (!e.flows.includes(f)) e.flows.push(f);
      } else agg.set(key, { from, to, count: 1, flows: flows ? [...flows] : [], dataEdge: true });
    };
    const targets = [...this.drawn, ...this.removedBy.keys()].sort((a, b) => a - b);
    for (const id of targets) {
      const n = this.view.nodes.get(id) ?? this.removedBy.get(id)!.node;
      const to = this.unit(id);
      if (!to) continue;
      n.inputs.forEach((i) => {
        if (this.inlineConst.has(i)) {
          if (to === `n${id}`) add(`k${i}_${id}`, to, undefined);
          return;
        }
        const from = this.unit(i);
        if (!from || from === to) return;
        add(from, to, this.edgeFlow.get(`${i}>${id}`));
      });
    }
    const cut = this.wrapCuts([...agg.values()]);
    let count = 0;
    for (const e of agg.values()) {
      const a: Record<string, string | number | boolean | undefined> = {};
      // between two columns: drawn, but not ranking its ends (the next column starts at the top)
      if (cut.has(`${e.from}>${e.to}`)) a.constraint = false;
      if (e.count > 1 && !(e.from.startsWith('b') || e.from.startsWith('r') || e.to.startsWith('b') || e.to.startsWith('r'))) a.label = `×${e.count}`;
      if (this.opts.gradients) Object.assign(a, this.flowStyle(e.flows));
      if (e.from.startsWith('k')) Object.assign(a, { arrowsize: 0.4, color: '#b3b6b7' });
      lines.push(`  ${e.from} -> ${e.to}${attrs(a)};`);
      count++;
    }
    // updates: the new value flows back into the param (not a data dependency of this run)
    for (const [p, v] of this.view.updates) {
      const from = this.unit(v);
      const to = this.unit(p);
      if (!from || !to || from === to) continue;
      lines.push(`  ${from} -> ${to}${attrs({ style: 'dashed', color: STYLE.update.line, constraint: false, label: 'update', fontcolor: STYLE.update.line })};`);
      count++;
    }
    // on a graph big enough for the fast layout, links cost most of the layout time: off unless asked
    const links = this.opts.adjointLinks ?? (fast ? 'none' : 'group');
    if (links !== 'none') {
      const seen = new Set<string>();
      // 'group': only the last backward node made for each forward node
      const last = new Map<number, number>();
      for (const id of this.drawn) {
        const f = this.view.nodes.get(id)!.adjointOf;
        if (f !== undefined) last.set(f, Math.max(last.get(f) ?? -1, id));
      }
      for (const id of [...this.drawn].sort((a, b) => a - b)) {
        const n = this.view.nodes.get(id)!;
        if (n.adjointOf === undefined || (links === 'group' && last.get(n.adjointOf) !== id)) continue;
        const from = this.unit(id);
        const to = this.drawn.has(n.adjointOf) ? this.unit(n.adjointOf) : undefined;
        if (!from || !to || from === to || seen.has(`${from}>${to}`)) continue;
        seen.add(`${from}>${to}`);
        lines.push(`  ${from} -> ${to}${attrs({ style: 'dotted', color: STYLE.backward.line, arrowhead: 'none', constraint: false, tooltip: 'adjoint of' })};`);
        count++;
      }
    }
    return { lines, count };
  }

  // ---- wrapping a long graph into columns --------------------------------------------------

  /**
   * The data edges to leave out of the ranking so that the picture is cut into columns (see the
   * `wrap` option). Ranks are estimated on the drawn units as Graphviz assigns them: longest path
   * from the sources, with sources as late as their first consumer allows. Units are grouped by
   * top-level cluster (or fused kernel), and a group goes to the column of its first rank, so no
   * cluster is cut.
   */
  private wrapCuts(edges: readonly { from: string; to: string }[]): Set<string> {
    const cut = new Set<string>();
    const wrap = this.opts.wrap ?? 'auto';
    if (wrap === false) return cut;
    const data = edges.filter((e) => !e.from.startsWith('k'));
    const order = new Map<string, number>();
    for (const [id, u] of this.unitOf) order.set(u, Math.min(order.get(u) ?? Infinity, id));
    for (const id of this.ghosts) order.set(`g${id}`, id);
    for (const id of this.removedBy.keys()) order.set(`x${id}`, id);
    const units = [...order.keys()].filter((u) => this.units.has(u)).sort((a, b) => order.get(a)! - order.get(b)!);
    const ins = new Map<string, string[]>();
    const outs = new Map<string, string[]>();
    for (const e of data) {
      if (!order.has(e.from) || !order.has(e.to) || order.get(e.from)! >= order.get(e.to)!) continue; // ignore edges against id order (a box both feeding and fed by a node)
      (ins.get(e.to) ?? ins.set(e.to, []).get(e.to)!).push(e.from);
      (outs.get(e.from) ?? outs.set(e.from, []).get(e.from)!).push(e.to);
    }
    const rank = new Map<string, number>();
    for (const u of units) rank.set(u, Math.max(0, ...(ins.get(u) ?? []).map((p) => rank.get(p)! + 1)));
    for (const u of [...units].reverse()) {
      const users = outs.get(u);
      if (!ins.get(u)?.length && users?.length) rank.set(u, Math.max(0, Math.min(...users.map((c) => rank.get(c)!)) - 1));
    }
    const depth = Math.max(0, ...rank.values()) + 1;
    // The picture's extent across the ranks: every top-level group (a cluster, or a unit of its
    // own) is a rectangle over the ranks it spans, as wide as its widest rank; groups that share a
    // rank sit side by side. Units are ~0.075 in per label character plus margins (10 pt
    // Helvetica), ~0.55 in tall; a rank takes ~0.8 in top to bottom, ~1.9 in left to right.
    const lr = this.opts.direction === 'LR';
    const groups = new Map<string, { lo: number; hi: number; widths: Map<number, number> }>();
    const place = (u: string, r: number, size: number) => {
      const key = this.wrapGroup(u);
      const g = groups.get(key) ?? groups.set(key, { lo: r, hi: r, widths: new Map() }).get(key)!;
      g.lo = Math.min(g.lo, r);
      g.hi = Math.max(g.hi, r);
      g.widths.set(r, (g.widths.get(r) ?? 0) + size + 0.25);
    };
    for (const u of units) place(u, rank.get(u)!, lr ? 0.55 : this.unitWidth(u));
    // inline constants sit a rank above their user
    for (const e of edges) if (e.from.startsWith('k') && rank.has(e.to)) place(e.to, Math.max(0, rank.get(e.to)! - 1), lr ? 0.3 : 0.6);
    const across = new Array<number>(depth).fill(0);
    for (const [key, g] of groups) {
      const w = Math.max(...g.widths.values()) + (key.startsWith('scope:') ? 0.4 : 0);
      for (let r = g.lo; r <= g.hi; r++) across[r] += w;
    }
    let perColumn: number;
    if (wrap === 'auto') {
      // only a forward view: with backward nodes, edges run against the layers (the backward of
      // each block reads its forward values) and columns would make a tangle of long edges
      if ([...this.drawn].some((id) => this.view.phase.get(id) !== 'forward')) return cut;
      // a gradient legend (~3 in) sits beside the graph
      const wide = Math.max(...across) + (this.opts.gradients && !lr ? 3 : 0);
      const ratio = (depth * (lr ? 1.9 : 0.8)) / wide;
      if (ratio <= 2.2 || depth < 8) return cut;
      perColumn = Math.ceil(depth / Math.ceil(Math.sqrt(ratio / 1.2)));
    } else perColumn = wrap;
    if (depth <= perColumn) return cut;
    const groupOf = (u: string) => this.wrapGroup(u);
    const first = new Map<string, number>();
    for (const u of units) {
      const g = groupOf(u);
      first.set(g, Math.min(first.get(g) ?? Infinity, rank.get(u)!));
    }
    const column = (u: string) => Math.floor(first.get(groupOf(u))! / perColumn);
    for (const e of data) if (order.has(e.from) && order.has(e.to) && column(e.from) !== column(e.to)) cut.add(`${e.from}>${e.to}`);
    return cut;
  }

  /** A drawn unit's estimated width in inches, from its label. */
  private unitWidth(u: string): number {
    const info = this.units.get(u);
    if (!info) return 1;
    const chars = info.kind === 'box' || info.kind === 'repeat' ? Math.max(info.title.length, 24) : Math.max(info.title.length, info.node?.type.length ?? 0);
    return 0.075 * chars + 0.3;
  }

  /** What a unit moves with when the graph is wrapped: its top-level cluster, fused kernel, or itself. */
  private wrapGroup(unit: string): string {
    const box = this.boxes.get(unit);
    const id = Number(unit.slice(1));
    let s: Scope | undefined;
    if (box) s = box.kind === 'box' ? box.scope : box.scope === this.root ? undefined : box.scope;
    else if (unit.startsWith('n')) {
      const k = this.kernelOf.get(id);
      if (this.opts.compiled?.kernels && k !== undefined) return `kernel${k}`;
      s = this.scopeOfNode.get(id);
    }
    while (s && s.parent && s.parent !== this.root) s = s.parent;
    return s && s !== this.root ? `scope:${s.key}` : unit;
  }

  /** Edge colour and width from log₁₀ of the gradient norm along it; flags override the style. */
  private flowStyle(flows: readonly EdgeGrad[]): Record<string, string | number | undefined> {
    if (!flows.length) return { color: '#d5d8dc', style: 'dotted' };
    const norm = Math.sqrt(flows.reduce((s, f) => s + f.norm * f.norm, 0));
    const flag: Flag | undefined = flows.some((f) => f.flag === 'exploding') ? 'exploding' : flows.every((f) => f.flag === 'vanishing') ? 'vanishing' : undefined;
    const [lo, hi] = flowRange(this.opts.gradients!);
    const t = norm > 0 && Number.isFinite(norm) ? (Math.log10(norm) - lo) / Math.max(1e-9, hi - lo) : norm > 0 ? 1 : 0;
    const a: Record<string, string | number | undefined> = {
      color: ramp(GRAD_STOPS, t),
      penwidth: Number((0.6 + 3.4 * Math.min(1, Math.max(0, t))).toFixed(2)),
      tooltip: `‖grad‖ = ${fmtNum(norm)}${flag ? ` (${flag})` : ''}`,
    };
    if (this.opts.gradientLabels) a.label = fmtNum(norm);
    if (flag === 'exploding') Object.assign(a, { color: EXPLODING_COLOR, style: 'bold', fontcolor: EXPLODING_COLOR, label: `${fmtNum(norm)} ⚠` });
    if (flag === 'vanishing') Object.assign(a, { style: 'dashed', fontcolor: VANISHING_COLOR, label: `${fmtNum(norm)} ↓` });
    return a;
  }

  /** A legend cluster: the colour ramp with its log₁₀ values, then what the flags mean. */
  private legend(flow: GradientFlow): string[] {
    const [lo, hi] = flowRange(flow);
    const th = flow.thresholds;
    const out = ['  subgraph cluster_legend {', `    graph${attrs({ label: 'gradient flow: log10 |dL/d edge|', style: 'rounded', color: '#aab7b8', fontsize: 10, tooltip: 'gradient flow legend' })};`];
    const names: string[] = [];
    GRAD_STOPS.forEach((_, i) => {
      const t = i / (GRAD_STOPS.length - 1);
      const name = `legend${i}`;
      names.push(name);
      out.push(`    ${name}${attrs({ id: this.pfx + name, label: (lo + (hi - lo) * t).toFixed(1), shape: 'box', style: 'filled', fillcolor: ramp(GRAD_STOPS, t), fontcolor: i >= 3 ? '#ffffff' : '#000000', color: '#ffffff', width: 0.45, height: 0.25, fontsize: 8, tooltip: `|grad| = 1e${(lo + (hi - lo) * t).toFixed(1)}` })};`);
      this.units.set(name, { id: name, kind: 'box', title: `legend: 1e${(lo + (hi - lo) * t).toFixed(1)}` });
    });
    // short lines: renderers' font metrics differ (resvg vs Graphviz's estimate), so long lines overflow
    const note = [
      `dashed ↓ vanishing: < ${fmtNum(th.vanish)} × the largest`,
      `  layer norm toward the loss`,
      `red ⚠ exploding: > ${fmtNum(th.explode)} × the smallest`,
      `  layer norm toward the loss, or not finite`,
      `largest per-layer norm ${fmtNum(flow.reference)}${flow.steps.length > 1 ? `, mean of ${flow.steps.length} steps` : flow.steps.length ? `, step ${flow.steps[0]}` : ''}`,
      `edge width grows with |grad|`,
    ].join('\n');
    out.push(`    legendnote${attrs({ id: this.pfx + 'legendnote', label: note, shape: 'plaintext', style: '', fontcolor: '#566573', fontsize: 9 })};`);
    this.units.set('legendnote', { id: 'legendnote', kind: 'box', title: 'what the flags mean', summary: note });
    // a row of swatches with the note next to it (invisible edges only order them)
    out.push(`    { rank=same; ${names.join('; ')} }`);
    out.push(`    ${names.join(' -> ')} [style=invis];`);
    out.push(`    ${names[names.length - 1]} -> legendnote [style=invis];`);
    out.push('  }');
    return out;
  }

  private slotLegend(): string[] {
    const slots = [...new Set(this.slotOf.values())].sort((a, b) => a - b).slice(0, 24);
    const bytes = new Map(entries(this.opts.compiled?.slotBytes ?? {}));
    const out = ['  subgraph cluster_slots {', `    graph${attrs({ label: 'memory plan', style: 'rounded', color: '#aab7b8', fontsize: 10 })};`];
    const names = slots.map((s) => `slot${s}`);
    slots.forEach((s, i) => {
      const text = `slot ${s}${bytes.has(s) ? `\n${fmtBytes(bytes.get(s)!)}` : ''}`;
      out.push(`    ${names[i]}${attrs({ id: this.pfx + names[i], label: text, shape: 'box', style: 'filled', fillcolor: SET3[s % SET3.length], fontsize: 8, height: 0.25 })};`);
      this.units.set(names[i], { id: names[i], kind: 'box', title: `slot ${s}` });
    });
    // rows of 6 (one row of 24 made the picture several times wider than the graph)
    const rows: string[][] = [];
    for (let i = 0; i < names.length; i += 6) rows.push(names.slice(i, i + 6));
    for (const row of rows) if (row.length > 1) out.push(`    { rank=same; ${row.join('; ')} }`, `    ${row.join(' -> ')} [style=invis];`);
    for (let r = 1; r < rows.length; r++) out.push(`    ${rows[r - 1][0]} -> ${rows[r][0]} [style=invis];`);
    out.push('  }');
    return out;
  }
}

/**
 * The log₁₀ range the edge colours span: the finite nonzero edge norms, widened to at least one
 * decade and rounded out to half decades.
 * @example const [lo, hi] = flowRange(flow); // e.g. [-5.5, 1.5]
 */
export function flowRange(flow: GradientFlow): [number, number] {
  const logs = flow.edges.map((e) => e.norm).filter((v) => v > 0 && Number.isFinite(v)).map(Math.log10);
  if (!logs.length) return [-1, 0];
  let lo = Math.min(...logs);
  let hi = Math.max(...logs);
  if (hi - lo < 1) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [Math.floor(lo * 2) / 2, Math.ceil(hi * 2) / 2];
}

function computeMinIds(s: Scope): number {
  let m = s.nodes.length ? Math.min(...s.nodes) : Infinity;
  for (const c of s.children) m = Math.min(m, computeMinIds(c));
  s.minId = m;
  return m;
}

function subtreeNodes(s: Scope): number[] {
  const out = [...s.nodes];
  for (const c of s.children) out.push(...subtreeNodes(c));
  return out;
}

/**
 * A plain two-part label. HTML-like labels would allow fonts and tables, but the Graphviz 5 build
 * that `graphviz-cli` bundles has no HTML-label support and would print node names instead.
 */
function label(title: string, sub: string): string {
  return sub ? `${title}\n${sub}` : title;
}

function fmtAttrValue(v: unknown): string {
  if (v instanceof Tensor) return fmtConstant(v);
  if (Array.isArray(v)) return `[${v.map(fmtAttrValue).join(',')}]`;
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}:${fmtAttrValue(x)}`).join(',')}}`;
  return String(v);
}

/** `k=v` for the attributes worth showing (not names, keys or constant values). */
function fmtAttrs(n: Node): string {
  if (n.op === 'input' || n.op === 'param') return `name=${String(n.attrs.name)}${n.attrs.trainable === false ? ' (state)' : ''}`;
  if (n.op === 'constant') return `value=${fmtConstant(n.attrs.value as Tensor)}`;
  return Object.entries(n.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fmtAttrValue(v)}`)
    .join(' ');
}

/** Attributes for the structural signature: names and random keys left out (they differ per block). */
function attrSig(n: Node): string {
  if (n.op === 'param') return `${String(n.attrs.name).split('/').pop()}${n.attrs.trainable === false ? '!' : ''}`;
  if (n.op === 'input') return String(n.attrs.name);
  return Object.entries(n.attrs)
    .filter(([k, v]) => v !== undefined && k !== 'key' && k !== 'name')
    .map(([k, v]) => `${k}=${fmtAttrValue(v)}`)
    .join(' ');
}

function fmtCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function entries(m: ReadonlyMap<number, number> | Readonly<Record<number, number>>): [number, number][] {
  return m instanceof Map ? [...m] : Object.entries(m).map(([k, v]) => [Number(k), v as number]);
}
