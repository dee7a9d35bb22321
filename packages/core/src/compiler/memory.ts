/**
 * planMemory: where every value of a fused program lives while it runs.
 *
 * - Feeds stay in the caller's tensors and params in the graph's storage; kernels read them in
 *   place. Views (reshape, expandDims, squeeze) share their input's storage.
 * - Constants (and `shapeSize` results, known once shapes are) get a region of their own at the
 *   start of the arena, filled once per specialization.
 * - Every other value a kernel writes gets a buffer in ONE arena. Liveness intervals over the
 *   kernel order say when a buffer is needed: from the kernel that writes it to the last kernel
 *   that reads it (through any view), or to the end of the run for outputs and update values.
 *   Buffers whose intervals don't overlap share memory: offsets are assigned greedily by size
 *   (largest first, lowest offset that fits), which is near-optimal for such interval sets.
 * - In place: an elementwise kernel writes a result over an input that dies in that kernel when
 *   both are read and written one element per iteration (same element size, same count).
 * - Param updates are written in place into the param's storage when that is provably safe: the
 *   new value is a result of an elementwise kernel with the param's shape; nothing reads the old
 *   value later (the kernel itself reads it element by element, before writing that element);
 *   no output returns it; and no kernel that can throw runs after the write (a failed run must
 *   leave every param untouched). Otherwise the value is staged in the arena and written after
 *   all outputs are copied.
 *
 * The arena is described by byte offsets with 16-byte alignment, so the same plan serves typed
 * arrays over one `ArrayBuffer` (the JavaScript backend) or a WebAssembly linear memory.
 */
import { bytesPer, type DType } from '../dtype';
import type { Program } from '../ir';
import type { SymShape } from '../shape';
import { capabilities, type BackendCapabilities } from '../lowering';
import { dataInputs, stripLeadingOnes, type FusionPlan, type KernelPlan } from './fuse';

/** Arena offsets and sizes are multiples of this (a WebAssembly SIMD vector, a cache-friendly start). */
export const ARENA_ALIGN = 16;

/** Where a value is while a program runs. */
export type Location =
  /** A feed: the `input`-th input of the program (in topological order). */
  | { readonly kind: 'feed'; readonly input: number }
  /** A param's storage in the graph. */
  | { readonly kind: 'param'; readonly node: number }
  /** A buffer of the arena. */
  | { readonly kind: 'buffer'; readonly buffer: number };

export interface BufferPlan {
  readonly id: number;
  /** `const`: constants, filled once; `arena`: values of one run, memory shared by liveness. */
  readonly region: 'const' | 'arena';
  /** The values stored here, in the order they are written (an in-place chain has several). */
  readonly nodes: number[];
  readonly dtype: DType;
  /** Bytes (not rounded up). */
  bytes: number;
  /** Index of the kernel that writes the first value (-1 for constants). */
  readonly def: number;
  /** Index of the last kernel that reads it; `kernels.length` when the run's end reads it. */
  last: number;
  /** Byte offset in the arena. */
  offset: number;
  /** Set when this buffer's values were written over another buffer's (in place): that buffer's id. */
  into?: number;
}

export interface MemoryPlan {
  /** Node id → where its value is (views: their base's storage). Values inside a kernel have none. */
  readonly locations: ReadonlyMap<number, Location>;
  readonly buffers: readonly BufferPlan[];
  /** The program's inputs in topological order (feed `k` is `inputs[k]`). */
  readonly inputs: readonly number[];
  /** Param nodes whose new value a kernel writes into their storage. */
  readonly inPlaceUpdates: readonly number[];
  /** Copy kernel index → the buffer it stages its update value in. */
  readonly stagedBuffers: ReadonlyMap<number, number>;
  /** Element counts and bytes: */
  readonly arenaBytes: number;
  readonly constBytes: number;
  /** Float64 packing space the matmul kernels share (in the arena, after the constants). */
  readonly scratchBytes: number;
  readonly scratchOffset: number;
  /** Bytes of the region that holds one run's values. */
  readonly intermediateBytes: number;
  /** What those values would take without sharing memory. */
  readonly totalIntermediateBytes: number;
  /** The most bytes live at once (a lower bound for the region). */
  readonly peakLiveBytes: number;
  readonly savedBytes: number;
  /** How many values were written over an input of their kernel. */
  readonly inPlaceValues: number;
  /** Node → slot (buffers starting at the same offset share a slot), and slot sizes, for viz. */
  readonly slots: Readonly<Record<number, number>>;
  readonly slotBytes: Readonly<Record<number, number>>;
  /** True when open dims were counted as 1 (a plan for reports; specializations plan again). */
  readonly nominal: boolean;
}

export interface MemoryOptions {
  /** Write values over dying inputs and param updates into their storage. Default true. */
  readonly inPlace?: boolean;
  /** The back end's capabilities (the scratch its matmul kernels need). Default: the one the fusion plan was made for. */
  readonly caps?: BackendCapabilities;
}

const align = (b: number) => Math.ceil(b / ARENA_ALIGN) * ARENA_ALIGN;

function count(shape: SymShape): { n: number; nominal: boolean } {
  let n = 1;
  let nominal = false;
  for (const d of shape) {
    if (d === null) nominal = true;
    else n *= d;
  }
  return { n, nominal };
}

function sameShape(a: SymShape, b: SymShape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The values a kernel reads from outside itself (data inputs of its members, in member order).
 * @example kernelReads(program, plan, plan.kernels[0]) // node ids: feeds, params, other kernels' results
 */
export function kernelReads(program: Program, plan: FusionPlan, k: KernelPlan): readonly number[] {
  const known = readsOf.get(k);
  if (known) return known;
  const out: number[] = [];
  if (k.kind === 'copy') out.push(k.copy!.from);
  else {
    const members = new Set(k.nodes);
    for (const m of k.nodes) {
      for (const x of dataInputs(program.nodes[m], plan.classes.get(m)!)) if (!members.has(x) && !out.includes(x)) out.push(x);
    }
  }
  readsOf.set(k, Object.freeze(out));
  return out;
}

/**
 * `kernelReads` of each kernel plan, made once: the memory planner and `lowerProgram` both ask.
 * (A kernel plan belongs to one fusion plan of one program, so it is the whole key.)
 */
const readsOf = new WeakMap<KernelPlan, readonly number[]>();

/**
 * The values a kernel writes: its outputs, then a reduction's result.
 * @example kernelWrites(plan.kernels[0]) // [dx, f] for a loop writing dx and summing f
 */
export function kernelWrites(k: KernelPlan): number[] {
  return k.reduce ? [...k.outputs, k.reduce.node] : [...k.outputs];
}

/**
 * Plans where every value of `program` lives, for the kernels of `plan`.
 * @example
 * const mem = planBuffers(program, planFusion(program));
 * console.log(mem.arenaBytes, mem.peakLiveBytes, mem.savedBytes);
 */
export function planBuffers(program: Program, plan: FusionPlan, opts: MemoryOptions = {}): MemoryPlan {
  const inPlace = opts.inPlace ?? true;
  const caps = opts.caps ?? capabilities(plan.backend);
  const types = plan.types;
  const kernels = plan.kernels;
  const END = kernels.length;
  const locations = new Map<number, Location>();
  const buffers: BufferPlan[] = [];
  let nominal = false;
  const bytesOf = (id: number): number => {
    const t = types(id);
    const c = count(t.shape);
    if (c.nominal) nominal = true;
    return c.n * bytesPer(t.dtype);
  };
  const newBuffer = (node: number, region: 'const' | 'arena', def: number): number => {
    const id = buffers.length;
    buffers.push({ id, region, nodes: [node], dtype: types(node).dtype, bytes: bytesOf(node), def, last: def, offset: 0 });
    locations.set(node, { kind: 'buffer', buffer: id });
    return id;
  };

  // sources and constants
  const inputs: number[] = [];
  for (const id of plan.order) {
    const node = program.nodes[id];
    if (node.op === 'input') {
      locations.set(id, { kind: 'feed', input: inputs.length });
      inputs.push(id);
    } else if (node.op === 'param') locations.set(id, { kind: 'param', node: id });
    else if (node.op === 'constant' || plan.classes.get(id) === 'shapeConst') newBuffer(id, 'const', -1);
  }

  // which kernel writes each value; the in-place param updates
  const writer = new Map<number, number>();
  kernels.forEach((k, i) => {
    for (const w of kernelWrites(k)) writer.set(w, i);
  });
  const baseOf = (id: number) => plan.aliasOf.get(id) ?? id;
  const reads = kernels.map((k) => kernelReads(program, plan, k));
  const iterSize = (k: KernelPlan) => count(stripLeadingOnes(k.shape)).n;

  // param reads: the last kernel that reads each param (through views), and whether the end does
  const paramLast = new Map<number, number>();
  const noteParamRead = (id: number, at: number) => {
    const b = baseOf(id);
    if (program.nodes[b].op === 'param') paramLast.set(b, Math.max(paramLast.get(b) ?? -1, at));
  };
  reads.forEach((rs, i) => rs.forEach((x) => noteParamRead(x, i)));
  for (const o of program.outputs) noteParamRead(o, END);
  const lastThrowing = kernels.reduce((acc, k, i) => (k.kind === 'reference' ? i : acc), -1);
  const inPlaceUpdates: number[] = [];
  const placed = new Set<number>();
  if (inPlace) {
    for (const [p, v] of program.updates) {
      const at = writer.get(v);
      if (at === undefined || placed.has(v) || plan.aliasOf.has(v)) continue;
      const k = kernels[at];
      if (k.kind !== 'elementwise' || k.reduce?.node === v) continue;
      const pt = types(p);
      const vt = types(v);
      if (!sameShape(pt.shape, vt.shape) || pt.dtype !== vt.dtype || count(vt.shape).nominal || count(vt.shape).n !== iterSize(k)) continue;
      if ((paramLast.get(p) ?? -1) > at || at < lastThrowing) continue;
      // inside the kernel the old value must be read one element per iteration
      const identity = reads[at].every((x) => baseOf(x) !== p || count(types(x).shape).n === iterSize(k));
      if (!identity) continue;
      locations.set(v, { kind: 'param', node: p });
      placed.add(v);
      inPlaceUpdates.push(p);
    }
  }

  // arena buffers for everything kernels write
  const stagedBuffers = new Map<number, number>();
  kernels.forEach((k, i) => {
    if (k.kind === 'copy') {
      const id = buffers.length;
      buffers.push({ id, region: 'arena', nodes: [-1 - i], dtype: types(k.copy!.from).dtype, bytes: bytesOf(k.copy!.from), def: i, last: END, offset: 0 });
      stagedBuffers.set(i, id);
      return;
    }
    for (const w of kernelWrites(k)) if (!locations.has(w)) newBuffer(w, 'arena', i);
  });
  for (const [id, base] of plan.aliasOf) {
    const loc = locations.get(base);
    if (loc) locations.set(id, loc);
  }
  const bufferOf = (id: number): BufferPlan | undefined => {
    const loc = locations.get(baseOf(id));
    return loc?.kind === 'buffer' ? buffers[loc.buffer] : undefined;
  };

  // liveness
  reads.forEach((rs, i) => {
    for (const x of rs) {
      const b = bufferOf(x);
      if (b && b.region === 'arena') b.last = Math.max(b.last, i);
    }
  });
  for (const o of program.outputs) {
    const b = bufferOf(o);
    if (b && b.region === 'arena') b.last = END;
  }
  for (const [, v] of program.updates) {
    const b = bufferOf(v);
    if (b && b.region === 'arena') b.last = END;
  }

  // in place over dying inputs: identity reads and writes, same element size and count
  let inPlaceValues = 0;
  const merged = new Set<number>();
  if (inPlace) {
    kernels.forEach((k, i) => {
      if (k.kind !== 'elementwise') return;
      const n = iterSize(k);
      const taken = new Set<number>();
      for (const o of k.outputs) {
        const ob = bufferOf(o);
        if (!ob || ob.region !== 'arena' || ob.def !== i) continue;
        for (const x of reads[i]) {
          const xb = bufferOf(x);
          if (!xb || xb.region !== 'arena' || xb.last !== i || taken.has(xb.id) || merged.has(xb.id)) continue;
          if (bytesPer(xb.dtype) !== bytesPer(ob.dtype) || xb.bytes !== ob.bytes || count(types(x).shape).n !== n) continue;
          // every read of that buffer in this kernel must be one element per iteration
          if (!reads[i].every((y) => bufferOf(y) !== xb || count(types(y).shape).n === n)) continue;
          taken.add(xb.id);
          merged.add(ob.id);
          ob.into = xb.id;
          xb.nodes.push(...ob.nodes);
          xb.last = Math.max(xb.last, ob.last);
          for (const node of ob.nodes) locations.set(node, { kind: 'buffer', buffer: xb.id });
          inPlaceValues += ob.nodes.length;
          break;
        }
      }
    });
    for (const [id, base] of plan.aliasOf) {
      const loc = locations.get(base);
      if (loc) locations.set(id, loc);
    }
  }

  // offsets: constants first, then the matmul scratch, then the run's values by greedy size
  let cursor = 0;
  for (const b of buffers) {
    if (b.region !== 'const') continue;
    b.offset = cursor;
    cursor += align(b.bytes);
  }
  const constBytes = cursor;
  let scratch = 0;
  for (const k of kernels) {
    if (k.kind !== 'matmul') continue;
    const mm = program.nodes[k.matmul!.node];
    const a = types(mm.inputs[0]).shape;
    const bsh = types(mm.inputs[1]).shape;
    const ta = !!mm.attrs.transposeA;
    const tb = !!mm.attrs.transposeB;
    const dim = (d: number | null) => d ?? 1;
    const m = dim(ta ? a[a.length - 1] : a[a.length - 2]);
    const kk = dim(ta ? a[a.length - 2] : a[a.length - 1]);
    const nn = dim(tb ? bsh[bsh.length - 2] : bsh[bsh.length - 1]);
    scratch = Math.max(scratch, caps.matmulScratchBytes({ dtype: types(mm.id).dtype, activation: k.matmul!.activation?.op, m, n: nn, k: kk, transposeA: ta, batchA: a.slice(0, -2).map(dim), batchB: bsh.slice(0, -2).map(dim) }));
  }
  const scratchOffset = cursor;
  const scratchBytes = align(scratch);
  cursor += scratchBytes;
  const base = cursor;
  const arena = buffers.filter((b) => b.region === 'arena' && !merged.has(b.id)).sort((x, y) => y.bytes - x.bytes || x.id - y.id);
  // placed buffers, kept sorted by offset; the smallest gap that fits among those alive at the same time
  const placedBufs: BufferPlan[] = [];
  let top = 0;
  for (const b of arena) {
    const size = align(b.bytes);
    let best = -1;
    let bestGap = Infinity;
    let at = 0;
    for (let j = 0; j < placedBufs.length; j++) {
      const o = placedBufs[j];
      if (o.last < b.def || b.last < o.def) continue;
      const gap = o.offset - at;
      if (gap >= size && gap < bestGap) {
        best = at;
        bestGap = gap;
      }
      at = Math.max(at, o.offset + align(o.bytes));
    }
    b.offset = best >= 0 ? best : at;
    top = Math.max(top, b.offset + size);
    let lo = 0;
    let hi = placedBufs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (placedBufs[mid].offset <= b.offset) lo = mid + 1;
      else hi = mid;
    }
    placedBufs.splice(lo, 0, b);
  }
  for (const b of arena) b.offset += base;
  for (const b of buffers) if (b.into !== undefined) b.offset = buffers[b.into].offset;
  const intermediateBytes = top;

  // figures
  let totalIntermediateBytes = 0;
  for (const b of buffers) if (b.region === 'arena') for (const node of b.nodes) totalIntermediateBytes += node >= 0 ? bytesOf(node) : b.bytes;
  const events: [number, number][] = [];
  for (const b of arena) {
    events.push([b.def, align(b.bytes)]);
    events.push([b.last + 0.5, -align(b.bytes)]);
  }
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let live = 0;
  let peakLiveBytes = 0;
  for (const [, d] of events) {
    live += d;
    peakLiveBytes = Math.max(peakLiveBytes, live);
  }
  const offsets = [...new Set(arena.map((b) => b.offset))].sort((x, y) => x - y);
  const slotOf = new Map(offsets.map((o, i) => [o, i]));
  const slots: Record<number, number> = {};
  const slotBytes: Record<number, number> = {};
  for (const b of arena) {
    const s = slotOf.get(b.offset)!;
    slotBytes[s] = Math.max(slotBytes[s] ?? 0, b.bytes);
    for (const node of b.nodes) if (node >= 0) slots[node] = s;
  }
  return {
    locations,
    buffers,
    inputs,
    inPlaceUpdates,
    stagedBuffers,
    arenaBytes: base + intermediateBytes,
    constBytes,
    scratchBytes,
    scratchOffset,
    intermediateBytes,
    totalIntermediateBytes,
    peakLiveBytes,
    savedBytes: Math.max(0, totalIntermediateBytes - intermediateBytes),
    inPlaceValues,
    slots,
    slotBytes,
    nominal,
  };
}

/**
 * Bytes for reports, in binary units.
 * @example fmtBytes(1536) // "1.5 kB"
 */
export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  const units: [number, string][] = [[2 ** 30, 'GB'], [2 ** 20, 'MB'], [2 ** 10, 'kB']];
  for (const [u, s] of units) if (b >= u) return `${Number((b / u).toPrecision(3))} ${s}`;
  return `${b} B`;
}

