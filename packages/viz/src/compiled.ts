/**
 * Compiler views: a before/after picture of one pass, from the program before it and the
 * program after it or the immer patches that lead there. Nodes the pass added are green, removed
 * red and dashed, changed orange; everything else is drawn as usual, scopes and all.
 */
import { GraphError, captureOrigin, makeProgram, type Node, type Program } from '@gradgraph/core';
import { buildDot, type DotOptions, type DotResult, checkOptions } from './dot';
import type { CompiledOverlay, PassRecord, PatchLike } from './types';

/**
 * Applies immer-style JSON patches to a program and returns the new program (the input is not
 * changed). Enough of immer's `applyPatches` for programs: `add`, `replace` and `remove` on
 * objects and arrays.
 * @example const after = applyPatches(before, pass.patches);
 */
export function applyPatches(program: Program, patches: readonly PatchLike[]): Program {
  const origin = captureOrigin();
  const root = structuredCopy(program) as Record<string, unknown>;
  patches.forEach((p, k) => {
    if (!p || !Array.isArray(p.path) || !['add', 'replace', 'remove'].includes(p.op)) throw new GraphError(`patch ${k} is not an immer patch ({ op, path, value })`, { op: 'applyPatches', origin });
    if (!p.path.length) throw new GraphError(`patch ${k} replaces the whole program; pass the program after the pass instead`, { op: 'applyPatches', origin });
    let target: any = root;
    for (const key of p.path.slice(0, -1)) {
      if (target === null || typeof target !== 'object' || !(key in target)) throw new GraphError(`patch ${k}: path ${JSON.stringify(p.path)} does not exist`, { op: 'applyPatches', origin });
      target = target[key];
    }
    const last = p.path[p.path.length - 1];
    if (Array.isArray(target)) {
      const i = last === '-' ? target.length : Number(last);
      if (p.op === 'add') target.splice(i, 0, structuredCopy(p.value));
      else if (p.op === 'replace') target[i] = structuredCopy(p.value);
      else target.splice(i, 1);
    } else if (p.op === 'remove') delete target[last];
    else target[last] = structuredCopy(p.value);
  });
  const nodes = Object.values(root.nodes as Record<string, Node>);
  return makeProgram(nodes, root.outputs as number[], root.updates as [number, number][]);
}

/** A deep copy of plain data; tensors and other class instances are shared (they are values). */
function structuredCopy(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(structuredCopy);
  if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = structuredCopy(v);
    return out;
  }
  return x;
}

function sameNode(a: Node, b: Node): boolean {
  if (a.op !== b.op || a.inputs.length !== b.inputs.length || a.inputs.some((v, i) => v !== b.inputs[i])) return false;
  if (a.type.dtype !== b.type.dtype || a.type.shape.join() !== b.type.shape.join()) return false;
  const ka = Object.keys(a.attrs);
  if (ka.length !== Object.keys(b.attrs).length) return false;
  return ka.every((k) => a.attrs[k] === b.attrs[k] || JSON.stringify(a.attrs[k]) === JSON.stringify(b.attrs[k]));
}

/**
 * What a pass did: node ids added, removed and changed (same id, different op, inputs, type or attrs).
 * @example const { added, removed, changed } = passDiff(pass.before, pass.after);
 */
export function passDiff(before: Program, after: Program): { added: number[]; removed: number[]; changed: number[] } {
  const added: number[] = [];
  const removed: number[] = [];
  const changed: number[] = [];
  for (const [k, n] of Object.entries(after.nodes)) {
    const b = before.nodes[Number(k)];
    if (!b) added.push(n.id);
    else if (!sameNode(b, n)) changed.push(n.id);
  }
  for (const k of Object.keys(before.nodes)) if (!after.nodes[Number(k)]) removed.push(Number(k));
  return { added, removed, changed };
}

/**
 * One picture of a pass: the program after it plus the nodes it removed, with added, removed and
 * changed nodes marked, and `context` hops of unchanged neighbours around them (default 1;
 * `Infinity` draws the whole program). The title counts the changes.
 * @example
 * const svg = await renderSvg(passDot({ name: 'cse', before, patches }).dot);
 */
export function passDot(pass: PassRecord, opts: DotOptions & { context?: number } = {}): DotResult {
  const origin = captureOrigin();
  checkOptions(opts, 'passDot', ['context']);
  if (!pass || typeof pass.name !== 'string' || !pass.before) throw new GraphError('a pass record needs { name, before, after | patches }', { op: 'passDot', origin });
  if (!pass.after && !pass.patches) throw new GraphError(`pass "${pass.name}" has neither "after" nor "patches"`, { op: 'passDot', origin });
  const after = pass.after ?? applyPatches(pass.before, pass.patches!);
  const diff = passDiff(pass.before, after);
  const union = makeProgram([...Object.values(after.nodes), ...diff.removed.map((id) => pass.before.nodes[id])], after.outputs, after.updates);
  const nb = Object.keys(pass.before.nodes).length;
  const na = Object.keys(after.nodes).length;
  const { context = 1, ...rest } = opts;
  if (!(context >= 0)) throw new GraphError(`context must be a number of hops ≥ 0, got ${String(context)}`, { op: 'passDot', origin });
  const only = Number.isFinite(context) ? neighbourhood(union, [...diff.added, ...diff.removed, ...diff.changed], context) : undefined;
  return buildDot(union, {
    title: `${pass.name}: ${nb} → ${na} nodes (+${diff.added.length} −${diff.removed.length} ~${diff.changed.length})${only ? `, ${context} hop${context === 1 ? '' : 's'} around the changes` : ''}`,
    // a pass changes backward and update nodes as much as forward ones: show every phase
    show: 'both',
    ...rest,
    ...(only ? { only } : {}),
    diff,
  });
}

/** `seeds` and every node within `hops` edges of them (either direction). */
function neighbourhood(p: Program, seeds: readonly number[], hops: number): Set<number> {
  const users = new Map<number, number[]>();
  for (const n of Object.values(p.nodes)) for (const i of n.inputs) (users.get(i) ?? users.set(i, []).get(i)!).push(n.id);
  const keep = new Set(seeds);
  let frontier = [...seeds];
  for (let h = 0; h < hops && frontier.length; h++) {
    const next: number[] = [];
    for (const id of frontier) {
      for (const k of [...(p.nodes[id]?.inputs ?? []), ...(users.get(id) ?? [])]) {
        if (!keep.has(k) && p.nodes[k]) {
          keep.add(k);
          next.push(k);
        }
      }
    }
    frontier = next;
  }
  return keep;
}

/** What a compiler pass may leave in its `info` for the compiled view (Compiler II's fuse and memory-plan passes). */
interface PassInfoLike {
  kernels?: readonly { name: string; nodes: readonly number[]; kind?: string }[];
  slots?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  slotBytes?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
}

/**
 * The compiled view's overlay from an executable: the dead nodes each pass removed (from its
 * pass records), and fused kernels and memory slots when a pass's `info` carries `kernels` or
 * `slots` (the fields `CompiledOverlay` documents).
 * @example
 * const dot = toDot(exe, { compiled: compiledOverlay(exe) });
 */
export function compiledOverlay(exe: { readonly program: Program; readonly passes?: readonly { name: string; before: Program; after: Program; info?: unknown }[] }): CompiledOverlay {
  if (!exe || !exe.program) throw new GraphError('compiledOverlay needs an executable (with program and passes)', { op: 'compiledOverlay', origin: captureOrigin() });
  const final = exe.program.nodes;
  const removed: { pass: string; nodes: Node[] }[] = [];
  let kernels: PassInfoLike['kernels'];
  let slots: PassInfoLike['slots'];
  let slotBytes: PassInfoLike['slotBytes'];
  for (const p of exe.passes ?? []) {
    const gone = Object.keys(p.before.nodes)
      .map(Number)
      .filter((id) => !p.after.nodes[id] && !final[id])
      .map((id) => p.before.nodes[id]);
    if (gone.length) removed.push({ pass: p.name, nodes: gone });
    const info = p.info as PassInfoLike | undefined;
    if (info && typeof info === 'object') {
      if (Array.isArray(info.kernels)) kernels = info.kernels;
      if (info.slots && typeof info.slots === 'object') slots = info.slots;
      if (info.slotBytes && typeof info.slotBytes === 'object') slotBytes = info.slotBytes;
    }
  }
  return { removed, ...(kernels ? { kernels } : {}), ...(slots ? { slots } : {}), ...(slotBytes ? { slotBytes } : {}) };
}
