/**
 * Writes docs/ops.md from the op registry: every primitive with its kind, arity, gradient, forward
 * mode and batching rules, what it does and its convention at non-differentiable points.
 * `test/ops-doc.test.ts` fails when the file is stale.
 * Run: pnpm exec tsx scripts/ops-doc.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { derivation, isDifferentiable, listOps, notDifferentiable, type OpDef } from '@gradgraph/core';

/** How an op's JVP is made: its own rule, or derived (see packages/core/src/ops/jvp.ts). */
function forwardMode(d: OpDef<any>): string {
  if (d.kind === 'source') return 'leaf';
  if (d.jvp === notDifferentiable) return 'none';
  const how = derivation(d.jvp);
  return how === undefined ? 'rule' : how === 'zero' ? 'zero' : how;
}

/** How an op batches under vmap: the shared elementwise rule, its own, or none (a BatchError). */
function batching(d: OpDef<any>): string {
  if (d.kind === 'source') return '—';
  return derivation(d.batch) ?? 'rule';
}

export function opsMarkdown(): string {
  const rows = listOps().map((d) => {
    const arity = typeof d.arity === 'number' ? String(d.arity) : `${d.arity.min}${d.arity.max === undefined ? '+' : `–${d.arity.max}`}`;
    const grad = d.kind === 'source' ? 'leaf' : isDifferentiable(d) ? 'yes' : 'none';
    return `| \`${d.name}\` | ${d.kind} | ${arity} | ${grad} | ${forwardMode(d)} | ${batching(d)} | ${d.doc} | ${d.kinks ?? ''} |`;
  });
  return [
    '# Primitives',
    '',
    'Generated from the op registry by `scripts/ops-doc.ts`; a test fails when this file is stale.',
    'Every primitive has a shape/dtype rule, a reference kernel, a VJP (or none, said here), a JVP',
    'and a batching rule, and is checked by the registry table and the gradient, JVP and batching',
    'tests in `packages/core/src/ops/`.',
    '',
    'Forward mode: `rule` is written out next to the VJP; `transposed VJP (elementwise)` is the VJP',
    'with the cotangent replaced by the tangent (a diagonal Jacobian, so exactly as cheap); `linear`',
    'is the op applied to the tangent; `zero` means no tangent flows; `double VJP` transposes the VJP',
    'with `grad` (the fallback of `defineOp` without `jvp`, and `customGrad`, whose JVP must follow',
    "the user's VJP). Batching: `elementwise` is the shared rule for broadcasting ops; `rule` is the",
    "op's own (see packages/core/src/ops/batching.ts).",
    '',
    '| op | kind | inputs | gradient | forward mode | vmap | what it computes | at non-differentiable points |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(new URL('../docs/ops.md', import.meta.url), opsMarkdown());
  console.log('wrote docs/ops.md');
}
