/**
 * The demo runs end to end, meets its accuracy, writes every file it lists, and a second run
 * with the same seed prints the same numbers digit for digit (timings live on "time" lines only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
// the demo takes under a minute on an idle 2-core machine; these limits leave room for a loaded one
const runDemo = () => execFileSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { cwd: root, encoding: 'utf8', timeout: 300_000 });

it('pnpm demo: results, files, and the same numbers twice', () => {
  const first = runDemo();
  const second = runDemo();
  const numbers = (log: string) => log.split('\n').filter((l) => !/\btime\b/.test(l));
  expect(numbers(second)).toEqual(numbers(first));

  const lines = first.trim().split('\n');
  expect(lines[lines.length - 1]).toBe('open out/report.html');
  const accuracies = [...first.matchAll(/^(relu|prelu|splash)\s+test accuracy ([\d.]+)%/gm)].map((m) => Number(m[2]));
  expect(accuracies).toHaveLength(3);
  expect(Math.max(...accuracies)).toBeGreaterThanOrEqual(92);
  // the CNN on the same split: at least 98% of the 2,000 test digits, better than every dense model
  const cnn = Number(/^cnn\s+test accuracy ([\d.]+)%/m.exec(first)![1]);
  expect(cnn).toBeGreaterThanOrEqual(98);
  expect(cnn).toBeGreaterThan(Math.max(...accuracies));
  expect(first).toMatch(/learned PReLU slopes per channel \(from 0\.25\): block1 [\d.-]+\.\.[\d.-]+, block2/);
  expect(first).toMatch(/the MSE slope is [\d.]+× further from the clean slope than Tukey's/);
  expect(first).toMatch(/sigmoid-naive first\/last layer gradient norm \d\.\d+e-\d+; flagged vanishing: layer01/);
  expect(first).toMatch(/relu-he\s+first\/last layer gradient norm .*flagged vanishing: none/);
  expect(first).toMatch(/predictions identical, bit for bit/);
  // the README's demo block is this run's output: every line of it is printed (the README may cut a line short)
  const readme = readFileSync(`${root}/README.md`, 'utf8');
  const block = /## What the demo shows[\s\S]*?```\n([\s\S]*?)```/.exec(readme)![1].trim().split('\n');
  expect(block.length).toBeGreaterThan(10);
  for (const line of block) expect(lines.some((l) => l.startsWith(line)), `README line: ${line}`).toBe(true);
  // one epoch numbering: the restored epoch is the one early stopping called best
  const iris = /stopped after epoch (\d+), restored epoch (\d+)/.exec(first)!;
  expect(Number(iris[2])).toBeLessThan(Number(iris[1]));
  // every line with a timing says "time"
  for (const l of lines) if (/\d(\.\d+)?\s?(ms|s)\b/.test(l)) expect(l).toMatch(/\btime\b/);

  for (const f of ['report.html', 'graph.svg', 'graph.png', 'curves.svg', 'curves.png', 'activations.svg', 'activations.png', 'gradflow-sigmoid-naive.svg', 'gradflow-relu-he.svg', 'gradflow-sigmoid-naive.png', 'cnn-filters.svg', 'cnn-filters.png', 'cnn-prelu-slopes.svg', 'cnn-prelu-slopes.png', 'cnn-graph.png', 'iris.ckpt.json']) {
    const path = `${root}/out/${f}`;
    expect(existsSync(path), f).toBe(true);
    expect(statSync(path).size, f).toBeGreaterThan(1000);
  }
}, 660_000);
