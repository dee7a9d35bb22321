/**
 * Measures the maximum error in ulp of the wasm back end's vector exp, log, tanh, sigmoid and
 * softplus (backend/wasm/vmath.ts) over EVERY float32 input — all 2³² bit patterns: ±0, ±∞, NaNs,
 * subnormals, overflow — against float64 references (Math.exp, Math.log, Math.tanh, the stable
 * σ and softplus formulas in float64), and writes the table into docs/kernels.md between the
 * `ulp-sweep` markers.
 *
 * The error of a result y for a reference r (float64) is |y − r| / ulp(r), ulp(r) the spacing of
 * float32 numbers at |r| (2⁻¹⁴⁹ below the normal range). A reference beyond the float32 range
 * must give ±∞; a NaN reference must give NaN; anything else that is ±∞ or NaN where the
 * reference is not counts as a special-value mismatch (reported, and expected 0).
 *
 * Run: pnpm exec tsx scripts/wasm-ulp-sweep.ts            (all 2³² inputs, two worker threads;
 *                                                        about 10 minutes on a quiet machine)
 *      pnpm exec tsx scripts/wasm-ulp-sweep.ts --sample 16 (16 chunks of 2²⁰ spread over the range)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ew } from '../packages/core/src/backend/js/elementwise';
import { makeElementwise } from '../packages/core/src/backend/wasm/elementwise';
import { heap } from '../packages/core/src/backend/wasm/memory';
import { REFERENCE, SWEPT, ulpError, type Swept as Op } from '../packages/core/src/backend/wasm/ulp';

export interface SweepResult {
  op: Op;
  maxUlp: number;
  at: number;
  mismatches: number;
  count: number;
}

const CHUNK = 1 << 20;

/** Sweeps the bit patterns of chunks [c0, c1) (chunk c = patterns c·2²⁰ …), `step` apart. */
function sweep(c0: number, c1: number, step: number): SweepResult[] {
  const h = heap();
  const src = h.alloc(CHUNK * 4);
  const dst = SWEPT.map(() => h.alloc(CHUNK * 4));
  const x = ew.input(0, 'float32');
  const kernels = SWEPT.map((op) => makeElementwise({ shape: [CHUNK], inputs: [{ shape: [CHUNK], dtype: 'float32' }], outputs: [ew.unary(op, x)] }));
  const res: SweepResult[] = SWEPT.map((op) => ({ op, maxUlp: 0, at: 0, mismatches: 0, count: 0 }));
  for (let c = c0; c < c1; c += step) {
    const bits = h.view(src, 'uint32', CHUNK);
    const base = c * CHUNK;
    for (let i = 0; i < CHUNK; i++) bits[i] = (base + i) >>> 0;
    kernels.forEach((k, j) => k.run([src], [dst[j]], undefined, 1));
    const xs = h.view(src, 'float32', CHUNK);
    SWEPT.forEach((op, j) => {
      const ys = h.view(dst[j], 'float32', CHUNK);
      const ref = REFERENCE[op];
      const r = res[j];
      for (let i = 0; i < CHUNK; i++) {
        const e = ulpError(ys[i], ref(xs[i]));
        if (e === Infinity) r.mismatches++;
        else if (e > r.maxUlp) {
          r.maxUlp = e;
          r.at = xs[i];
        }
      }
      r.count += CHUNK;
    });
  }
  return res;
}

function merge(parts: SweepResult[][]): SweepResult[] {
  return SWEPT.map((op, j) => {
    const all = parts.map((p) => p[j]);
    const best = all.reduce((a, b) => (b.maxUlp > a.maxUlp ? b : a));
    return { op, maxUlp: best.maxUlp, at: best.at, mismatches: all.reduce((s, p) => s + p.mismatches, 0), count: all.reduce((s, p) => s + p.count, 0) };
  });
}

export function table(results: SweepResult[], note: string): string {
  return [
    `| function | max error (ulp) | at x = | special-value mismatches | inputs |`,
    `| --- | --- | --- | --- | --- |`,
    ...results.map((r) => `| ${r.op} | ${r.maxUlp.toFixed(3)} | ${r.at} | ${r.mismatches} | ${r.count === 2 ** 32 ? 'all 2³²' : r.count} |`),
    '',
    note,
  ].join('\n');
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--sample');
  const sample = i > 0 ? Number(process.argv[i + 1]) : 0;
  const chunks = 4096; // 2³² / 2²⁰
  const step = sample ? Math.floor(chunks / sample) : 1;
  const workers = 2;
  const t0 = Date.now();
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const per = chunks / workers;
      return new Promise<SweepResult[]>((resolve, reject) => {
        // the worker registers tsx's loader, then imports this file
        const api = import.meta.resolve('tsx/esm/api');
        const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
        const wk = new Worker(boot, { eval: true, workerData: { c0: w * per, c1: (w + 1) * per, step } });
        wk.on('message', resolve);
        wk.on('error', reject);
      });
    }),
  );
  const results = merge(parts);
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  const note = sample
    ? `(A sample of ${results[0].count} inputs; run without --sample for all 2³².)`
    : `Measured by \`scripts/wasm-ulp-sweep.ts\` over all 2³² float32 inputs against float64 references (${secs} s, Node ${process.versions.node}).`;
  const md = table(results, note);
  console.log(md);
  if (!sample) {
    const path = fileURLToPath(new URL('../docs/kernels.md', import.meta.url));
    const doc = readFileSync(path, 'utf8');
    const start = '<!-- ulp-sweep:start -->';
    const end = '<!-- ulp-sweep:end -->';
    const a = doc.indexOf(start);
    const b = doc.indexOf(end);
    if (a >= 0 && b > a) {
      writeFileSync(path, doc.slice(0, a + start.length) + '\n' + md + '\n' + doc.slice(b));
      console.log('written into docs/kernels.md');
    } else console.log('docs/kernels.md has no ulp-sweep markers; table not written');
  }
} else if (!isMainThread && workerData) {
  const { c0, c1, step } = workerData as { c0: number; c1: number; step: number };
  parentPort!.postMessage(sweep(c0, c1, step));
}
