/**
 * The text of `explain()`: each pass with node counts before and after and the rewrites it made
 * (by name, count, and whether on forward or backward nodes), then the FLOP estimate.
 */
import type { Program } from '../ir';
import { printProgram } from '../ir';
import { estimateFlops, fmtCount } from './flops';
import type { PassRecord } from './pass';

export interface ExplainOptions {
  /** Print the optimized program too. Default true. */
  program?: boolean;
  /** What dims unknown until run time count as in the FLOP estimate. Default 1. */
  unknownDim?: number;
}

function rewriteLine(r: { rule: string; forward: number; backward: number }, width: number): string {
  const n = r.forward + r.backward;
  const where = r.backward === 0 ? 'forward' : r.forward === 0 ? 'backward' : `${r.forward} forward, ${r.backward} backward`;
  return `    ${r.rule.padEnd(width)} ×${String(n).padEnd(4)} ${where}`;
}

/** The pipeline report for a program built as `source` and optimized by `passes` into `program`. */
export function formatExplain(source: Program, program: Program, passes: readonly PassRecord[], opts: ExplainOptions = {}): string {
  const count = (p: Program) => Object.keys(p.nodes).length;
  const before = estimateFlops(source, opts);
  const after = estimateFlops(program, opts);
  const unknown = after.unknownDim !== null || before.unknownDim !== null ? ` (unknown dims counted as ${opts.unknownDim ?? 1})` : '';
  const lines: string[] = [];
  lines.push(`program: ${count(source)} → ${count(program)} nodes, ${program.outputs.length} outputs, ${program.updates.length} updates`);
  lines.push(`FLOPs: ${fmtCount(before.total)} → ${fmtCount(after.total)} per run${unknown}`);
  if (!passes.length) lines.push('passes: none (compiled as written)');
  else lines.push('passes:');
  const nameWidth = Math.max(0, ...passes.map((p) => p.name.length));
  const ruleWidth = Math.max(0, ...passes.flatMap((p) => p.rewrites.map((r) => r.rule.length)));
  for (const p of passes) {
    const changed = p.patches.length ? '' : '  (no change)';
    lines.push(`  ${p.name.padEnd(nameWidth)}  ${String(p.nodesBefore).padStart(5)} → ${String(p.nodesAfter).padEnd(5)}${changed}`);
    for (const r of p.rewrites) lines.push(rewriteLine(r, ruleWidth));
    for (const note of p.notes) lines.push(`    note: ${note}`);
  }
  const top = Object.entries(after.byOp).sort((a, b) => b[1] - a[1]).slice(0, 6);
  if (top.length) lines.push(`FLOPs by op: ${top.map(([op, f]) => `${op} ${fmtCount(f)}`).join(', ')}`);
  if (after.unrated.length) lines.push(`ops without a FLOP rule: ${after.unrated.join(', ')}`);
  if (opts.program !== false) lines.push('optimized program:', printProgram(program));
  return lines.map((l) => l.trimEnd()).join('\n');
}
