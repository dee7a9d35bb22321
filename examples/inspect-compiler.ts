/**
 * What the compiler did, in text and in pictures.
 *
 * A logistic-regression model whose loss is written the naive way, −(y·log σ(z) + (1−y)·log(1−σ(z))),
 * is compiled twice: as written (`passes: []`) and optimized. At logits of ±100 the first gives
 * NaN; the optimized one is finite because `stabilize` rewrote log σ(z) → −softplus(−z) and the
 * matching patterns in the gradient graph. `explain()` lists every pass and rule that fired, and
 * viz draws the before/after view of the stabilize pass from its immer patches.
 *
 * Run: pnpm exec tsx examples/inspect-compiler.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, grad, Graph, sub, Tensor } from '@gradgraph/core';
import { passDot, renderSvg, toDot } from '@gradgraph/viz';

export interface Results {
  naive: { loss: number; gradFinite: boolean };
  optimized: { loss: number; gradFinite: boolean };
  rulesFired: string[];
  explain: string;
  svgBytes: { beforeAfter: number; program: number };
}

export async function main(opts: { outDir?: string; quiet?: boolean } = {}): Promise<Results> {
  const log = opts.quiet ? () => {} : console.log;
  const g = new Graph({ seed: 42 });
  const x = g.input('x', [null, 2]);
  const y = g.input('y', [null]);
  const w = g.param('w', Tensor.from([[1], [1]]));
  const b = g.param('b', Tensor.zeros([1]));
  const z = g.scope('logits', () => x.matmul(w).add(b).reshape([-1]));
  const p = z.sigmoid();
  // binary cross-entropy from primitives, with no clamp
  const loss = g.scope('bce', () => y.mul(p.log()).add(sub(1, y).mul(sub(1, p).log())).neg().mean());
  const [dw, db] = grad(loss, [w, b]);
  const request = { inputs: [x, y], outputs: [loss, dw, db] };
  const naive = compile(g, { ...request, passes: [] });
  const optimized = compile(g, request);

  // logits of +100 and −100, each labelled against its sign: the loss is ~100 per example
  const feeds = { x: Tensor.from([[50, 50], [-50, -50]]), y: Tensor.from([0, 1]) };
  const run = (exe: typeof naive) => {
    const [l, gw, gb] = exe.run(feeds);
    return { loss: l.item(), gradFinite: [...gw.data, ...gb.data].every(Number.isFinite) };
  };
  const a = run(naive);
  const o = run(optimized);
  log(`as written: loss ${a.loss}, gradient finite: ${a.gradFinite}`);
  log(`optimized:  loss ${o.loss}, gradient finite: ${o.gradFinite}`);

  const explain = optimized.explain({ program: false, unknownDim: 2 });
  log('\n' + explain);
  const rulesFired = [...new Set(optimized.passes.flatMap((r) => r.rewrites.map((c) => c.rule)))];

  const outDir = opts.outDir ?? fileURLToPath(new URL('../out/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const stabilize = optimized.passes.find((r) => r.name === 'stabilize')!;
  const beforeAfter = await renderSvg(passDot(stabilize, { title: 'stabilize: before → after' }).dot);
  const program = await renderSvg(toDot(optimized, { show: 'both', title: 'the optimized program' }));
  writeFileSync(join(outDir, 'stabilize-pass.svg'), beforeAfter);
  writeFileSync(join(outDir, 'optimized-program.svg'), program);
  log(`\npictures: ${join(outDir, 'stabilize-pass.svg')}, ${join(outDir, 'optimized-program.svg')}`);
  return { naive: a, optimized: o, rulesFired, explain, svgBytes: { beforeAfter: beforeAfter.length, program: program.length } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
