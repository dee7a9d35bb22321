/**
 * lower: the ordered kernel list a compiled backend runs — each kernel with its member nodes,
 * the values it reads and writes (whose places the memory plan gives) and its FLOPs — and the
 * three passes that record the back end of the pipeline: fuse → planMemory → lower.
 *
 * The three passes don't change the program (a backend needs it, and the interpreter and the
 * verifier keep checking it); they leave their plans in `PassRecord.info` and their decisions in
 * `notes`. The plans are computed once per program (memoized) and shared with the backend.
 */
import type { Program } from '../ir';
import { getOp, hasOp, type ConcreteType } from '../registry';
import { fmtShape } from '../shape';
import { fmtCount } from './flops';
import { planFusion, type FusionPlan, type KernelPlan } from './fuse';
import { capabilities, NO_LOWERINGS, type BackendCapabilities, type TypeOf } from '../lowering';
import { fmtBytes, kernelReads, kernelWrites, planBuffers, type MemoryPlan } from './memory';
import type { Pass, PassContext, PassResult } from './pass';

export interface LoweredKernel extends KernelPlan {
  /** Values read from outside the kernel, and values it writes (outputs, then a reduction). */
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /** Estimated FLOPs of one run (open dims counted as 1 in a symbolic plan). */
  readonly flops: number;
}

export interface LoweredProgram {
  readonly program: Program;
  readonly fusion: FusionPlan;
  readonly memory: MemoryPlan;
  /** The kernels, in the order they run. */
  readonly kernels: readonly LoweredKernel[];
}

export interface LowerOptions {
  /** Types to plan with (a specialization's concrete types). Default: the program's own. */
  readonly types?: TypeOf;
  /** Write in place (see planMemory). Default true. */
  readonly inPlace?: boolean;
  /** The back end to plan for: its capabilities, or its name. Default `'js'`. */
  readonly backend?: BackendCapabilities | string;
}

const memo = new WeakMap<Program, Map<string, LoweredProgram>>();

/** FLOPs of the members of a kernel, from the ops' `flops` rules. */
function kernelFlops(program: Program, k: KernelPlan, types: TypeOf): number {
  let total = 0;
  const concrete = (id: number): ConcreteType => {
    const t = types(id);
    return { dtype: t.dtype, shape: t.shape.map((d) => d ?? 1) };
  };
  for (const m of k.nodes) {
    const node = program.nodes[m];
    if (!hasOp(node.op)) continue;
    const f = getOp(node.op).flops;
    if (!f) continue;
    try {
      total += f(node.inputs.map(concrete), concrete(m), node.attrs);
    } catch {
      // a rule that fails for stand-in dims counts nothing
    }
  }
  return total;
}

/**
 * Fuses, plans memory and lowers `program` to its kernel list. Without `types` the result is
 * memoized per program.
 * @example
 * const lowered = lowerProgram(exe.program);
 * for (const k of lowered.kernels) console.log(k.name, k.kind, k.nodes, k.flops);
 */
export function lowerProgram(program: Program, opts: LowerOptions = {}): LoweredProgram {
  const inPlace = opts.inPlace ?? true;
  const caps = typeof opts.backend === 'object' ? opts.backend : capabilities(opts.backend ?? 'js');
  const memoKey = `${caps.name}|${inPlace}`;
  if (!opts.types) {
    const hit = memo.get(program)?.get(memoKey);
    if (hit) return hit;
  }
  const fusion = planFusion(program, opts.types, caps);
  const memory = planBuffers(program, fusion, { inPlace, caps });
  const kernels = fusion.kernels.map((k): LoweredKernel => {
    // FLOPs only for whoever reads them (explain, viz, the lower pass's info): not a run
    let flops: number | undefined;
    return Object.freeze({
      ...k,
      reads: kernelReads(program, fusion, k),
      writes: Object.freeze(kernelWrites(k)),
      get flops() {
        return (flops ??= kernelFlops(program, k, fusion.types));
      },
    });
  });
  const lowered: LoweredProgram = Object.freeze({ program, fusion, memory, kernels: Object.freeze(kernels) });
  if (!opts.types) {
    let m = memo.get(program);
    if (!m) memo.set(program, (m = new Map()));
    m.set(memoKey, lowered);
  }
  return lowered;
}

// ---- reports ---------------------------------------------------------------------------------

/** At most this many notes per pass; the full list stays in the pass's info. */
const MAX_NOTES = 200;

function capped(lines: readonly string[], where: string): string[] {
  if (lines.length <= MAX_NOTES) return [...lines];
  return [...lines.slice(0, MAX_NOTES), `… ${lines.length - MAX_NOTES} more in ${where}`];
}

/**
 * One line per kernel: name, kind, shape, members, what it writes (`→"w"`: into a param), FLOPs.
 * @example console.log(formatKernels(lowerProgram(exe.program)).join('\n'));
 */
export function formatKernels(lowered: LoweredProgram): string[] {
  const { program } = lowered;
  const memory = lowered.memory;
  const where = (id: number): string => {
    const loc = memory.locations.get(id);
    if (!loc) return `%${id}`;
    if (loc.kind === 'param') return `%${id}→"${String(program.nodes[loc.node].attrs.name)}"`;
    return `%${id}`;
  };
  const nameW = Math.max(2, ...lowered.kernels.map((k) => k.name.length));
  return lowered.kernels.map((k) => {
    const shape = k.kind === 'copy' ? fmtShape(k.shape) : fmtShape(k.kind === 'elementwise' ? k.shape : lowered.fusion.types(k.writes[k.writes.length - 1]).shape);
    let what: string;
    if (k.kind === 'copy') what = `copy %${k.copy!.from} for "${String(program.nodes[k.copy!.param].attrs.name)}"`;
    else if (k.kind === 'matmul') {
      const mm = k.matmul!;
      const t = program.nodes[mm.node].attrs;
      what = `matmul %${mm.node}${t.transposeA ? ' (Aᵀ)' : ''}${t.transposeB ? ' (Bᵀ)' : ''}${mm.biasAdd !== undefined ? ` + bias %${mm.bias}` : ''}${mm.activation ? ` → ${mm.activation.op}` : ''}`;
    } else what = k.nodes.map((m) => `${program.nodes[m].op} %${m}`).join(', ');
    const writes = k.writes.length ? ` ⇒ ${k.writes.map(where).join(' ')}` : '';
    const flops = k.flops ? `  ${fmtCount(k.flops)} FLOPs` : '';
    return `  ${k.name.padEnd(nameW)}  ${k.kind.padEnd(11)} ${shape.padEnd(12)} ${what}${writes}${flops}`;
  });
}

/**
 * The memory plan in one or two lines: arena, values shared and unshared, peak live, in place.
 * @example console.log(formatMemory(exe.lowered!).join('\n'));
 */
export function formatMemory(lowered: LoweredProgram): string[] {
  const m = lowered.memory;
  const ratio = m.totalIntermediateBytes ? ` (${(m.intermediateBytes / m.totalIntermediateBytes).toFixed(2)} of it)` : '';
  const lines = [
    `arena ${fmtBytes(m.arenaBytes)}: constants ${fmtBytes(m.constBytes)}, matmul scratch ${fmtBytes(m.scratchBytes)}, values ${fmtBytes(m.intermediateBytes)}${ratio}; peak live ${fmtBytes(m.peakLiveBytes)}; ` +
      `the values would take ${fmtBytes(m.totalIntermediateBytes)} unshared: ${fmtBytes(m.savedBytes)} saved by reuse`,
  ];
  const inPlace: string[] = [];
  if (m.inPlaceUpdates.length) inPlace.push(`${m.inPlaceUpdates.length} of ${lowered.program.updates.length} param updates written in place`);
  if (m.inPlaceValues) inPlace.push(`${m.inPlaceValues} values written over a dying input`);
  if (inPlace.length) lines.push(inPlace.join('; '));
  return lines;
}

/** The capabilities the back-end passes plan with: the pipeline's back end (the interpreter lowers nothing). */
function planFor(ctx: PassContext | undefined): BackendCapabilities {
  const name = ctx?.backend ?? 'js';
  return name === 'interpreter' ? NO_LOWERINGS : capabilities(name);
}

const unchanged = (program: Program): Pick<PassResult, 'program' | 'patches' | 'inversePatches'> => ({ program, patches: [], inversePatches: [] });

/**
 * The result of a planning pass, its notes and info made when first read: explain() and viz read
 * them, compile() doesn't — and where the program has open dims every specialization plans again
 * with its own shapes, so planning eagerly was ~40% of compiling the mlp-train step for nothing.
 */
function planned(program: Program, make: () => { notes: readonly string[]; info: unknown }): PassResult {
  let made: { notes: readonly string[]; info: unknown } | undefined;
  const get = () => (made ??= make());
  return {
    ...unchanged(program),
    get notes() {
      return get().notes;
    },
    get info() {
      return get().info;
    },
  };
}

/**
 * fuse: the kernel plan (see `fuse.ts`); `info.kernels` lists `{ name, nodes, kind }` for viz.
 * @example compile(g, { outputs: [y], passes: [...defaultPasses] }).passes.find((p) => p.name === 'fuse')!.notes
 */
export const fuse: Pass = Object.freeze({
  name: 'fuse',
  doc: 'groups elementwise chains (with a trailing reduction) and matmul + bias + activation into kernels',
  run(program: Program, ctx?: PassContext): PassResult {
    return planned(program, () => {
      const { fusion } = lowerProgram(program, { backend: planFor(ctx) });
      return {
        notes: capped(fusion.decisions, 'info.decisions'),
        info: { kernels: fusion.kernels.map((k) => ({ name: k.name, nodes: [...k.nodes], kind: k.kind })), decisions: fusion.decisions },
      };
    });
  },
});

/**
 * planMemory: buffers by liveness in one arena (see `memory.ts`); `info.slots` maps nodes to slots.
 * @example (exe.passes.find((p) => p.name === 'planMemory')!.info as { arenaBytes: number }).arenaBytes
 */
export const planMemory: Pass = Object.freeze({
  name: 'planMemory',
  doc: 'gives every intermediate a place in one arena by liveness; reuse, in place where safe, param updates in place',
  run(program: Program, ctx?: PassContext): PassResult {
    return planned(program, () => {
      const lowered = lowerProgram(program, { backend: planFor(ctx) });
      const m = lowered.memory;
      const notes = formatMemory(lowered);
      if (m.nominal) notes.push('open dims counted as 1 here; each specialization plans again with its shapes');
      return {
        notes,
        info: {
          slots: m.slots,
          slotBytes: m.slotBytes,
          arenaBytes: m.arenaBytes,
          constBytes: m.constBytes,
          scratchBytes: m.scratchBytes,
          intermediateBytes: m.intermediateBytes,
          totalIntermediateBytes: m.totalIntermediateBytes,
          peakLiveBytes: m.peakLiveBytes,
          savedBytes: m.savedBytes,
          inPlaceUpdates: m.inPlaceUpdates.map((p) => String(program.nodes[p].attrs.name)),
          nominal: m.nominal,
        },
      };
    });
  },
});

/**
 * lower: the ordered kernel list over arena slots; `info.steps` holds it.
 * @example (exe.passes.find((p) => p.name === 'lower')!.info as { steps: { name: string }[] }).steps.length
 */
export const lower: Pass = Object.freeze({
  name: 'lower',
  doc: 'orders the kernels and binds their operands to feeds, params and arena buffers',
  run(program: Program, ctx?: PassContext): PassResult {
    return planned(program, () => {
      const lowered = lowerProgram(program, { backend: planFor(ctx) });
      const byKind = new Map<string, number>();
      for (const k of lowered.kernels) byKind.set(k.kind, (byKind.get(k.kind) ?? 0) + 1);
      const kinds = [...byKind].map(([k, c]) => `${c} ${k}`).join(', ');
      const refs = [...new Set(lowered.kernels.filter((k) => k.kind === 'reference').map((k) => program.nodes[k.nodes[0]].op))];
      const notes = [`${lowered.kernels.length} kernels${kinds ? `: ${kinds}` : ''}`];
      if (refs.length) notes.push(`reference kernels on ${lowered.fusion.backend} (no lowering there; they allocate their results): ${refs.join(', ')}`);
      const slotOf = (id: number): number | string => {
        const loc = lowered.memory.locations.get(id);
        if (!loc) return 'inside';
        return loc.kind === 'buffer' ? `buffer ${loc.buffer}` : loc.kind === 'param' ? `param %${loc.node}` : `feed ${loc.input}`;
      };
      return {
        notes,
        info: {
          steps: lowered.kernels.map((k) => ({ name: k.name, kind: k.kind, nodes: [...k.nodes], reads: k.reads.map((r) => ({ node: r, at: slotOf(r) })), writes: k.writes.map((w) => ({ node: w, at: slotOf(w) })), flops: k.flops })),
        },
      };
    });
  },
});
