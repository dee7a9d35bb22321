import { describe, expect, it } from 'vitest';
import type { CompileTimes } from './gradgraph';
import { compileTable, formatTable, gflops, peerTable, transformTable, type Row } from './report';
import type { Measurement } from './timing';

const m = (medianMs: number): Measurement => ({ medianMs, minMs: medianMs, samples: 3, warmup: 1 });
const row = (workload: string, impl: string, ms: number, threads?: number): Row => ({ workload, impl, m: m(ms), threads });
const IMPLS = ['gradgraph-wasm', 'gradgraph-js', 'jax-js-wasm', 'tfjs-wasm', 'tfjs-cpu'] as const;
/** The table's line for a workload, split into its cells. */
const line = (table: string, name: string) => table.split('\n').find((l) => l.startsWith(name + ' '))!;

describe('the peer table', () => {
  it('compares gradgraph-wasm with the faster of jax-js-wasm and tfjs-wasm and applies the targets', () => {
    const rows = [
      row('mlp-train', 'gradgraph-wasm', 10, 2),
      row('mlp-train', 'gradgraph-js', 70),
      row('mlp-train', 'jax-js-wasm', 16),
      row('mlp-train', 'tfjs-wasm', 120),
      row('mlp-train', 'tfjs-cpu', 8), // fastest, but not a peer the targets count
      row('deep-narrow', 'gradgraph-wasm', 3, 2),
      row('deep-narrow', 'jax-js-wasm', 4.4),
      row('deep-narrow', 'tfjs-wasm', 7),
      row('cnn-train', 'gradgraph-wasm', 100, 2),
      row('cnn-train', 'tfjs-wasm', 100),
    ];
    const t = peerTable(rows, IMPLS, new Map(), 2)!;
    expect(line(t, 'mlp-train')).toMatch(/jax-js-wasm\s+0\.63×\s+4\.38×\s+≤ 0\.7×: met$/);
    expect(line(t, 'deep-narrow')).toMatch(/jax-js-wasm\s+0\.68×\s+—\s+≤ 0\.5×: not met$/);
    // cnn-train must be strictly faster
    expect(line(t, 'cnn-train')).toMatch(/tfjs-wasm\s+1\.00×\s+—\s+< 1× \(faster\): not met$/);
  });

  it('gives matmul a row per thread count with GFLOP/s targets', () => {
    const rows = [row('matmul', 'gradgraph-wasm', 40, 2), row('matmul', 'gradgraph-wasm', 75, 1), row('matmul', 'jax-js-wasm', 94.6), row('matmul', 'tfjs-wasm', 69.3)];
    const t = peerTable(rows, IMPLS, new Map(), 2, 330)!;
    // 69.3 / 40 = 1.73 ≥ 1.7; 69.3 / 75 = 0.92 < 1.0
    expect(line(t, 'matmul, wasm 2 threads')).toContain("≥ 1.7× best peer's GFLOP/s on 2 threads: met (1.73×); wasm 53.7 GFLOP/s, best peer 31.0, numpy 330");
    expect(line(t, 'matmul, wasm 1 thread')).toContain("≥ 1.0× best peer's GFLOP/s on 1 thread: not met (0.92×)");
    expect(gflops(69.3)).toBeCloseTo(30.99, 2);
  });

  it('leaves an implementation that failed its checks out of the best peer, marked', () => {
    const rows = [row('mlp-train', 'gradgraph-wasm', 10, 2), row('mlp-train', 'jax-js-wasm', 5), row('mlp-train', 'tfjs-wasm', 20)];
    const t = peerTable(rows, IMPLS, new Map([['mlp-train', new Set(['jax-js-wasm'])]]), 2)!;
    expect(line(t, 'mlp-train')).toMatch(/5\.00 ms !.*tfjs-wasm\s+0\.50×.*≤ 0\.7×: met$/);
    expect(t).toMatch(/! = failed its checks/);
  });

  it('says n/a when gradgraph-wasm did not run, and nothing when no peer workload ran', () => {
    const t = peerTable([row('elementwise-grad', 'gradgraph-js', 40), row('elementwise-grad', 'tfjs-wasm', 50)], IMPLS, new Map(), 2)!;
    expect(line(t, 'elementwise-grad')).toMatch(/tfjs-wasm\s+—\s+0\.80×\s+≤ 0\.5×: n\/a$/);
    expect(peerTable([], IMPLS, new Map(), 2)).toBeUndefined();
  });
});

describe('the other tables', () => {
  it('checks the transformation rows against their targets', () => {
    const t = transformTable(
      [
        { workload: 'jvp', impl: 'forward pass', m: m(40), ratio: 1 },
        { workload: 'jvp', impl: 'jvp', m: m(70), ratio: 1.75 },
      ],
      { jvp: { jvp: 1.5 } },
      'gradgraph-wasm',
    )!;
    expect(t.split('\n')[0]).toMatch(/^workload\s+program \(gradgraph-wasm\)\s+median/);
    expect(t).toMatch(/jvp\s+jvp\s+70\.0 ms\s+1\.75×\s+≤ 1\.5×: not met/);
  });

  it("counts the WebAssembly back end's first run in its compile target", () => {
    const c = (coldMs: number, firstRunMs: number): CompileTimes => ({ coldMs, warmMs: coldMs, firstRunMs, warmFirstRunMs: firstRunMs, nodes: 171, backend: 'wasm' });
    const t = compileTable(
      [
        { backend: 'wasm', mlp: c(30, 80), large: c(900, 100) },
        { backend: 'js', mlp: c(30, 80), large: c(2100, 100) },
      ],
      [],
    )!;
    expect(t).toMatch(/mlp-train step \(171 nodes\)\s+wasm.*compile \+ first run < 100 ms: not met \(new structure 110 ms/);
    expect(t).toMatch(/mlp-train step \(171 nodes\)\s+js.*< 50 ms \(first compile\): met/);
    expect(t).toMatch(/171-node graph\s+js.*< 2 s \(first compile\): not met/);
  });

  it('judges the compile target by the fresh processes when they were measured (their median)', () => {
    const fresh = [
      [20, 70],
      [25, 90],
      [15, 60],
    ].map(([compileMs, firstRunMs]) => ({ compileMs, firstRunMs, onCoreMs: 50, waitMs: 10 }));
    const mlp: CompileTimes = { coldMs: 40, warmMs: 10, firstRunMs: 80, warmFirstRunMs: 40, nodes: 171, backend: 'wasm', fresh };
    const t = compileTable([{ backend: 'wasm', mlp, large: { ...mlp, fresh: undefined } }], [])!;
    // totals 90, 115, 75: median 90 (the in-process cold 120 is not what the target reads)
    expect(t).toMatch(/compile \+ first run < 100 ms: met \(new structure 90\.0 ms, compiled before 50\.0 ms\)/);
    expect(t).toMatch(/new structure, 3 fresh processes \(median\)\s+wasm\s+20\.0 ms\s+70\.0 ms\s+compile \+ first run: 90\.0 ms, 115 ms, 75\.0 ms/);
  });

  it('aligns columns under a rule', () => {
    expect(formatTable([['a', 'num', 'note'], ['long', '1', 'x']])).toBe('a     num  note\n----  ---  ----\nlong    1  x');
  });
});
