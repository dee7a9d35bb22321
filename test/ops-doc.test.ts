import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { opsMarkdown } from '../scripts/ops-doc';

it('docs/ops.md lists every registered primitive (regenerate: pnpm exec tsx scripts/ops-doc.ts)', () => {
  const onDisk = readFileSync(new URL('../docs/ops.md', import.meta.url), 'utf8');
  expect(onDisk).toBe(opsMarkdown());
});
