/**
 * The tables `pnpm bench` ends with, as text: the peer workloads against the best peer with the
 * targets of issues #11 and #13, issue #16's transformation rows, and the compile times and memory
 * plans. Pure functions of the measurements, so their verdicts are unit-tested.
 */
import type { CompileTimes, MemoryFigures } from './gradgraph';
import { PEERS, PEER_WORKLOADS, type Impl, type PeerWorkload } from './names';
import { fmtMs, type Measurement } from './timing';

/** One measured implementation of one workload. */
export interface Row {
  readonly workload: string;
  readonly impl: string;
  readonly m: Measurement;
  /** gradgraph-wasm's thread count. */
  readonly threads?: number;
  readonly variant?: string;
}

/** A row of bench/transforms.ts: one program of a transformation workload. */
export interface TransformRow {
  readonly workload: string;
  /** The program: 'batched grad step', 'per-example grads + norms', 'forward pass', 'jvp', … */
  readonly impl: string;
  readonly m: Measurement;
  /** Its median over the workload's baseline (the first program). */
  readonly ratio: number;
}

/**
 * Issues #11's and #13's targets for gradgraph-wasm: its median time over the best peer's, at
 * most `max` (strictly below it when `strict`).
 */
export const TIME_TARGETS: Partial<Record<PeerWorkload, { max: number; strict?: boolean; text: string }>> = {
  'mlp-train': { max: 0.7, text: '≤ 0.7×' },
  'elementwise-grad': { max: 0.5, text: '≤ 0.5×' },
  'deep-narrow': { max: 0.5, text: '≤ 0.5×' },
  'cnn-train': { max: 1, strict: true, text: '< 1× (faster)' },
};
/** matmul: gradgraph-wasm's GFLOP/s over the best peer's, at least this, per thread count. */
export const MATMUL_TARGETS: Readonly<Record<number, number>> = { 2: 1.7, 1: 1.0 };

const fmtMaybe = (ms: number | undefined) => (ms === undefined ? '—' : fmtMs(ms));
/** GFLOP/s of a 1024³ matmul taking `ms`. */
export const gflops = (ms: number) => (2 * 1024 ** 3) / ms / 1e6;

/**
 * Rows of cells as an aligned table under a rule: right-aligned, except the columns in `left`
 * (default: the first and the last).
 * @example formatTable([['a', 'n'], ['x', '1']]) // 'a  n\n-  -\nx  1'
 */
export function formatTable(lines: readonly (readonly string[])[], left: readonly number[] = [0, lines[0].length - 1]): string {
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const out: string[] = [];
  lines.forEach((l, k) => {
    out.push(l.map((cell, c) => (left.includes(c) ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
    if (k === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return out.join('\n');
}

/**
 * The peer workloads: each implementation's median, the best peer (the faster of jax-js-wasm and
 * tfjs-wasm in this run, among those that passed their checks), gradgraph's time over the best
 * peer's, and the targets for gradgraph-wasm. matmul gets a row per gradgraph-wasm thread count.
 * `bad` maps a workload to the implementations that failed its checks (marked `!`).
 */
export function peerTable(rows: readonly Row[], impls: readonly Impl[], bad: ReadonlyMap<string, ReadonlySet<string>>, threads: number, ceilingGflops?: number): string | undefined {
  const get = (w: string, i: string, t?: number) => rows.find((r) => r.workload === w && r.impl === i && (t === undefined || r.threads === t))?.m.medianMs;
  const workloads = PEER_WORKLOADS.filter((w) => rows.some((r) => r.workload === w));
  if (!workloads.length) return undefined;
  const lines: string[][] = [['workload', ...impls, 'best peer', 'wasm/best', 'js/best', 'target for gradgraph-wasm']];
  const flag = (w: string, i: string) => (bad.get(w)?.has(i) ? ' !' : '');
  for (const w of workloads) {
    const peers = PEERS.filter((p) => get(w, p) !== undefined && !bad.get(w)?.has(p));
    const best = peers.sort((a, b) => get(w, a)! - get(w, b)!)[0];
    const bestMs = best ? get(w, best) : undefined;
    const ratio = (ms: number | undefined) => (ms !== undefined && bestMs !== undefined ? `${(ms / bestMs).toFixed(2)}×` : '—');
    const measured = w === 'matmul' ? [...new Set(rows.filter((r) => r.workload === w && r.impl === 'gradgraph-wasm').map((r) => r.threads!))].sort((a, b) => b - a) : [];
    const threadCounts = measured.length ? measured : [threads];
    for (const t of threadCounts) {
      const wasm = get(w, 'gradgraph-wasm', measured.length ? t : undefined);
      let target = '—';
      if (w === 'matmul') {
        const need = MATMUL_TARGETS[t];
        const info = `${wasm !== undefined ? `wasm ${gflops(wasm).toFixed(1)} GFLOP/s, ` : ''}best peer ${bestMs !== undefined ? gflops(bestMs).toFixed(1) : '—'}${ceilingGflops !== undefined ? `, numpy ${ceilingGflops.toFixed(0)}` : ''}`;
        if (need !== undefined) {
          const got = wasm !== undefined && bestMs !== undefined ? bestMs / wasm : undefined;
          target = `≥ ${need.toFixed(1)}× best peer's GFLOP/s on ${t} thread${t > 1 ? 's' : ''}: ${got === undefined ? 'n/a' : `${got >= need ? 'met' : 'not met'} (${got.toFixed(2)}×)`}; ${info}`;
        } else target = info;
      } else {
        const tt = TIME_TARGETS[w];
        if (tt) {
          const r = wasm !== undefined && bestMs !== undefined ? wasm / bestMs : undefined;
          target = `${tt.text}: ${r === undefined ? 'n/a' : (tt.strict ? r < tt.max : r <= tt.max) ? 'met' : 'not met'}`;
        }
      }
      const name = w === 'matmul' && measured.length ? `matmul, wasm ${t} thread${t > 1 ? 's' : ''}` : w;
      const cells = impls.map((i) => (i === 'gradgraph-wasm' ? fmtMaybe(wasm) : t === threadCounts[0] ? fmtMaybe(get(w, i)) : '') + (t === threadCounts[0] ? flag(w, i) : ''));
      lines.push([name, ...cells, t === threadCounts[0] ? (best ?? '—') : '', ratio(wasm), t === threadCounts[0] ? ratio(get(w, 'gradgraph-js')) : '', target]);
    }
  }
  const kernel = get('matmul-kernel', 'kernel-js');
  if (kernel !== undefined) lines.push(['matmul, JS kernel alone', ...impls.map((i) => (i === 'gradgraph-js' ? fmtMs(kernel) : '')), '', '', '', `${gflops(kernel).toFixed(1)} GFLOP/s`]);
  const table = formatTable(lines);
  return [...bad.values()].some((s) => s.size) ? `${table}\n! = failed its checks (see the CHECK FAILED lines); not counted as a best peer` : table;
}

/**
 * Issue #16's rows (bench/transforms.ts): each program's median next to its workload's baseline
 * (the batched gradient step; the forward pass), with the targets, for gradgraph on `impl`.
 */
export function transformTable(rows: readonly TransformRow[], targets: Readonly<Record<string, Readonly<Record<string, number>>>>, impl: string): string | undefined {
  if (!rows.length) return undefined;
  const lines: string[][] = [['workload', `program (${impl})`, 'median', 'vs baseline', 'target']];
  for (const r of rows) {
    const t = targets[r.workload]?.[r.impl];
    lines.push([r.workload, r.impl, fmtMs(r.m.medianMs), `${r.ratio.toFixed(2)}×`, t === undefined ? '' : `≤ ${t}×: ${r.ratio <= t ? 'met' : 'not met'}`]);
  }
  return formatTable(lines, [0, 1, 4]);
}

/**
 * Compile times of the mlp-train step and the 12,011-node graph, and the mlp-train memory plan,
 * per back end. The WebAssembly back end's target counts `compile()` plus the first run, where
 * it generates and compiles its modules for the feed shapes.
 */
export function compileTable(compiles: readonly { backend: string; mlp: CompileTimes; large: CompileTimes }[], memories: readonly { backend: string; mem: MemoryFigures }[]): string | undefined {
  if (!compiles.length) return undefined;
  const lines: string[][] = [['compile', 'back end', 'cold', 'warm', 'first run', 'target']];
  const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  for (const { backend, mlp, large } of compiles) {
    // the wasm target: compile + first run of a structure new to the process (and to V8), from fresh processes when measured
    const fresh = mlp.fresh?.length ? mlp.fresh : undefined;
    const newTotal = fresh ? median(fresh.map((f) => f.compileMs + f.firstRunMs)) : mlp.coldMs + mlp.firstRunMs;
    const mlpTarget =
      backend === 'wasm'
        ? `compile + first run < 100 ms: ${newTotal < 100 ? 'met' : 'not met'} (new structure ${fmtMs(newTotal)}, compiled before ${fmtMs(mlp.warmMs + mlp.warmFirstRunMs)})`
        : `< 50 ms (first compile): ${mlp.coldMs < 50 ? 'met' : 'not met'}`;
    lines.push([`mlp-train step (${mlp.nodes} nodes)`, backend, fmtMs(mlp.coldMs), fmtMs(mlp.warmMs), fmtMs(mlp.firstRunMs), mlpTarget]);
    if (fresh) {
      const totals = fresh.map((f) => fmtMs(f.compileMs + f.firstRunMs)).join(', ');
      lines.push([`  new structure, ${fresh.length} fresh processes (median)`, backend, fmtMs(median(fresh.map((f) => f.compileMs))), '', fmtMs(median(fresh.map((f) => f.firstRunMs))), `compile + first run: ${totals}`]);
    }
    lines.push([`${large.nodes}-node graph`, backend, fmtMs(large.coldMs), fmtMs(large.warmMs), fmtMs(large.firstRunMs), `< 2 s (first compile): ${large.coldMs < 2000 ? 'met' : 'not met'}`]);
  }
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
  const plans = memories.map(({ backend, mem }) => {
    const ratio = mem.valuesBytes / mem.unsharedBytes;
    return `mlp-train memory plan (${backend}): arena ${mb(mem.arenaBytes)}; values ${mb(mem.valuesBytes)} of ${mb(mem.unsharedBytes)} unshared = ${ratio.toFixed(2)} (≤ 0.6: ${ratio <= 0.6 ? 'met' : 'not met'}); peak live ${mb(mem.peakLiveBytes)}; ${mem.inPlaceUpdates}/${mem.updates} updates in place`;
  });
  return [formatTable(lines, [0, 1, 5]), ...plans].join('\n');
}
