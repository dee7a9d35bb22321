/**
 * Writes docs/ops.md from the op registry: every primitive with its kind, arity, what it does and
 * its convention at non-differentiable points. `test/ops-doc.test.ts` fails when the file is stale.
 * Run: pnpm exec tsx scripts/ops-doc.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDifferentiable, listOps } from '@gradgraph/core';

export function opsMarkdown(): string {
  const rows = listOps().map((d) => {
    const arity = typeof d.arity === 'number' ? String(d.arity) : `${d.arity.min}${d.arity.max === undefined ? '+' : `–${d.arity.max}`}`;
    const grad = d.kind === 'source' ? 'leaf' : isDifferentiable(d) ? 'yes' : 'none';
    return `| \`${d.name}\` | ${d.kind} | ${arity} | ${grad} | ${d.doc} | ${d.kinks ?? ''} |`;
  });
  return [
    '# Primitives',
    '',
    'Generated from the op registry by `scripts/ops-doc.ts`; a test fails when this file is stale.',
    'Every primitive has a shape/dtype rule, a reference kernel and a VJP (or none, said here), and',
    'is checked by the registry table and gradient tests in `packages/core/src/ops/`.',
    '',
    '| op | kind | inputs | gradient | what it computes | at non-differentiable points |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(new URL('../docs/ops.md', import.meta.url), opsMarkdown());
  console.log('wrote docs/ops.md');
}
