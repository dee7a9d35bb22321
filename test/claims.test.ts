/**
 * `pnpm claims`, reduced (1 seed, 2,000 digits, 2 epochs, PGD with 2 steps, 100 attacked digits,
 * the CNNs with 4 channels):
 * the table has one row per model and every column, the attack invariants hold in every run, the
 * verdicts are stated, the report is written, and a second run prints the same numbers.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '@gradgraph/core';
import { MODELS, main, type ClaimsOptions } from '../examples/claims';

const reduced = (outDir: string, lines: string[]): ClaimsOptions => ({
  seeds: [1],
  digits: 2000,
  epochs: 2,
  pgdSteps: 2,
  attackDigits: 100,
  chanceDraws: 20,
  outDir,
  log: (l) => lines.push(l),
});

describe('pnpm claims', () => {
  it('every row of the model table builds a classifier [N, 784] → [N, 10]', () => {
    expect(MODELS.map((m) => m.name)).toEqual(expect.arrayContaining(['relu', 'prelu', 'splash', 'apl', 'twoSlope', 'cnn-relu', 'cnn-prelu', 'cnn-splash', 'cnn-apl']));
    for (const m of MODELS) {
      const g = new Graph();
      const logits = m.build({ x: g.input('x', [null, 784]), hidden: [8, 8], channels: 3 });
      expect(logits.shape, m.name).toEqual([null, 10]);
      // the CNNs convolve: a conv node with 3 kernels of 5×5×1
      if (m.name.startsWith('cnn-')) expect(g.nodes.some((n) => n.op === 'conv' && n.type.shape[n.type.shape.length - 1] === 3), m.name).toBe(true);
    }
  });

  it('reduced: the table, the attack invariants, the verdicts, the report, and the same numbers twice', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'gradgraph-claims-'));
    const first: string[] = [];
    const second: string[] = [];
    const r = await main(reduced(outDir, first));
    await main(reduced(outDir, second));
    const numbers = (log: string[]) => log.filter((l) => !/\btime\b/.test(l));
    expect(numbers(second)).toEqual(numbers(first));
    // every line with a duration says "time"
    for (const l of first) if (/\d(\.\d+)?\s?(ms|s)\b/.test(l)) expect(l).toMatch(/\btime\b/);

    // the table: a header, a rule and one row per model, every row with every column
    const table = r.table.split('\n').map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const header = table[0];
    expect(header).toEqual(['model', 'clean', 'FGSM ε=0.05', 'FGSM ε=0.1', 'FGSM ε=0.2', 'PGD ε=0.05', 'PGD ε=0.1', 'PGD ε=0.2', 'convex (tol 0.001)', 'chance', 'convex (tol 0.1)', 'chance']);
    expect(table.slice(2).map((row) => row[0])).toEqual(MODELS.map((m) => m.name));
    for (const row of table) expect(row).toHaveLength(header.length);
    for (const row of table.slice(2)) for (const cell of row.slice(1, 8)) expect(cell).toMatch(/^\d{1,3}\.\d\d$/); // one seed: no ± std
    const byModel = Object.fromEntries(table.slice(2).map((row) => [row[0], row]));
    expect(byModel.relu.slice(8)).toEqual(['—', '—', '—', '—']);
    expect(byModel['cnn-relu'].slice(8)).toEqual(['—', '—', '—', '—']);
    // shared coefficients: one shape per hidden layer (2); APL: one per unit (2 × 64); the CNNs: one per channel (4)
    for (const m of ['prelu', 'twoSlope', 'splash']) expect(byModel[m][8]).toMatch(/^[0-2]\/2$/);
    expect(byModel.apl[8]).toMatch(/^\d+\/128$/);
    for (const m of ['cnn-prelu', 'cnn-splash', 'cnn-apl']) expect(byModel[m][8]).toMatch(/^[0-4]\/4$/);
    for (const m of ['prelu', 'twoSlope', 'splash', 'apl', 'cnn-prelu', 'cnn-splash', 'cnn-apl']) expect(byModel[m][9]).toMatch(/^\d+\.\d%$/);

    // the attack invariants, run by run
    expect(r.runs).toHaveLength(MODELS.length);
    for (const run of r.runs) {
      expect(run.attackInvariant, run.model).toBe(true);
      expect(run.clean).toBeGreaterThan(0.5);
      for (const a of r.attacks) {
        expect(run.attacked[a]).toBeGreaterThanOrEqual(0);
        expect(run.attacked[a]).toBeLessThanOrEqual(1);
      }
      for (const c of run.convexity) c.chance.forEach((p) => expect(p >= 0 && p <= 1).toBe(true));
    }
    expect(first).toContain('accuracy under attack ≤ clean accuracy, digit by digit, in every run: yes');

    // one verdict per claim: accuracy and robustness at 2 attacks × 3 ε (MLPs, then CNNs), convexity
    // per learnable kind (4 MLPs, 3 CNNs), and overall
    expect(r.verdicts).toHaveLength(2 * (1 + 6) + 7 + 1);
    expect(r.verdicts[0]).toMatch(/^SPLASH more accurate than ReLU \(clean test accuracy\): not decided — difference [+−]\d+\.\d\d pp, 1 seed/);
    expect(r.verdicts[2]).toMatch(/^SPLASH more robust than ReLU, FGSM ε = 0.1: /);
    expect(r.verdicts[7]).toMatch(/^CNN with SPLASH more accurate than CNN with ReLU \(clean test accuracy\): not decided — /);
    expect(r.verdicts[12]).toMatch(/^CNN with SPLASH more robust than CNN with ReLU, PGD ε = 0.1: /);
    expect(r.verdicts.slice(14, 21).every((v) => /^learned .* shapes tend to be convex: (yes|no) — \d+\/\d+ convex .* vs chance \d+\.\d%, z = /.test(v))).toBe(true);
    expect(r.verdicts[19]).toMatch(/^learned CNN SPLASH \(per channel\) shapes tend to be convex: /);
    expect(r.verdicts[21]).toMatch(/^learned activations tend to be convex: /);
    for (const v of r.verdicts) expect(first).toContain(v);

    // the report
    for (const f of ['claims.md', 'claims.html', 'claims-robustness.svg', 'claims-robustness.png', 'claims-vs-relu.svg', 'claims-vs-relu.png', 'claims-activations.svg', 'claims-activations.png']) {
      expect(r.files).toContain(f);
      expect(existsSync(join(outDir, f)), f).toBe(true);
      expect(statSync(join(outDir, f)).size, f).toBeGreaterThan(1000);
    }
    const md = readFileSync(join(outDir, 'claims.md'), 'utf8');
    expect(md).toContain(r.table);
    expect(md).toContain('![accuracy under attack](claims-robustness.png)');
    expect(readFileSync(join(outDir, 'claims.html'), 'utf8')).toContain('<svg');
  }, 300_000);
});
