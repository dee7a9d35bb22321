import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphError } from '../../errors';
import { heap } from './memory';
import { kernelModuleBuilder, prefaultPending, runParallel, shutdownThreads, threadCount, WasmModule } from './threads';

// three threads for this file (the pool reads GRADGRAPH_THREADS once, when it starts)
const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
const THREADS = threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;

afterAll(() => shutdownThreads());

/** The pool's join word (threads.ts: control word POOL_BASE + 7 = 71). */
const JOIN_BYTE = 71 * 4;

/**
 * `mark(tid, nt, out, n)`: claims indices through the counter at out[-2] (as the kernels claim
 * chunks) and for each: out[i] += 1 (atomically), tids[i] = tid + 1 with tids at out + 4n; counts
 * the threads that ran at out[-1].
 * `phases(tid, nt, out)`: every thread writes out[tid] = tid + 1, meets the others at a barrier
 * (count out[-4], generation out[-3]), then checks that all nt slots are written (out[8 + tid] = 1).
 */
function markModule(): WasmModule {
  const mb = kernelModuleBuilder();
  mb.func('mark', ['i32', 'i32', 'i32', 'i32'], [], (f) => {
    const i = f.local('i32');
    f.get(2).i32.const(4).i32.sub().i32.const(1).i32_atomic.rmw_add().drop();
    f.block((done) => {
      f.loop((top) => {
        f.get(2).i32.const(8).i32.sub().i32.const(1).i32_atomic.rmw_add().tee(i).get(3).i32.ge_s().br_if(done);
        f.get(2).get(i).i32.const(4).i32.mul().i32.add().i32.const(1).i32_atomic.rmw_add().drop();
        f.get(2).get(3).get(i).i32.add().i32.const(4).i32.mul().i32.add().get(0).i32.const(1).i32.add().i32.store();
        f.br(top);
      });
    });
  });
  mb.func('phases', ['i32', 'i32', 'i32'], [], (f) => {
    const g = f.local('i32');
    const j = f.local('i32');
    f.get(2).get(0).i32.const(4).i32.mul().i32.add().get(0).i32.const(1).i32.add().i32_atomic.store();
    // barrier: the last one in bumps the generation
    f.get(2).i32.const(12).i32.sub().i32_atomic.load().set(g);
    f.get(2).i32.const(16).i32.sub().i32.const(1).i32_atomic.rmw_add().get(1).i32.const(1).i32.sub().i32.eq();
    f.if(
      () => {
        f.get(2).i32.const(16).i32.sub().i32.const(0).i32_atomic.store();
        f.get(2).i32.const(12).i32.sub().i32.const(1).i32_atomic.rmw_add().drop();
      },
      () => {
        f.loop((spin) => {
          f.get(2).i32.const(12).i32.sub().i32_atomic.load().get(g).i32.eq().br_if(spin);
        });
      },
    );
    // all nt slots written?
    f.i32.const(1).set(g);
    f.forRange(j, 0, { local: 1 }, 1, () => {
      f.get(2).get(j).i32.const(4).i32.mul().i32.add().i32_atomic.load().i32.eqz();
      f.if(() => void f.i32.const(0).set(g));
    });
    f.get(2).get(0).i32.const(8).i32.add().i32.const(4).i32.mul().i32.add().get(g).i32.store();
  });
  // helpers trap; the caller waits (up to ~1 s of spinning) until one has joined the job
  mb.func('trap', ['i32', 'i32'], [], (f) => {
    const i = f.local('i32');
    f.get(0).if(() => void f.unreachable());
    f.loop((wait) => {
      f.i32.const(JOIN_BYTE).i32_atomic.load().i32.const(0xff).i32.and().i32.eqz();
      f.get(i).i32.const(1).i32.add().tee(i).i32.const(200_000_000).i32.lt_s().i32.and().br_if(wait);
    });
  });
  return new WasmModule(mb.compile(), ['mark', 'phases', 'trap']);
}

describe('the thread pool', () => {
  it('uses GRADGRAPH_THREADS threads', () => {
    expect(THREADS).toBe(3);
  });

  it('runs a function SPMD on the caller and the workers that join; claimed work is done exactly once', () => {
    const m = markModule();
    const h = heap();
    const n = 5000;
    const base = h.alloc(4 * (2 * n + 2)) + 8;
    for (const nt of [1, 2, 3, 3, 2]) {
      h.i32.fill(0, (base - 8) / 4, base / 4 + 2 * n);
      runParallel(m, 'mark', nt, [base, n]);
      const ran = h.i32[(base - 4) / 4];
      expect(ran).toBeGreaterThanOrEqual(1);
      expect(ran).toBeLessThanOrEqual(nt);
      const hits = h.view(base, 'int32', n);
      const tids = h.view(base + 4 * n, 'int32', n);
      for (let i = 0; i < n; i++) {
        if (hits[i] !== 1) expect.fail(`index ${i} done ${hits[i]} times`);
        if (!(tids[i] >= 1 && tids[i] <= ran)) expect.fail(`index ${i} done by thread ${tids[i] - 1} of ${ran}`);
      }
    }
    // back to back, many times: nothing lost, nothing run twice
    let total = 0;
    for (let r = 0; r < 300; r++) {
      h.i32.fill(0, (base - 8) / 4, base / 4 + n);
      runParallel(m, 'mark', 3, [base, 1000]);
      total += h.i32[(base - 4) / 4];
      expect(h.view(base, 'int32', 1000).every((v) => v === 1)).toBe(true);
    }
    expect(total).toBeGreaterThanOrEqual(300);
  });

  it('gives a job with barriers a final thread count that every thread agrees on', () => {
    const m = markModule();
    const h = heap();
    const base = h.alloc(64 + 32) + 16;
    for (let r = 0; r < 100; r++) {
      h.i32.fill(0, (base - 16) / 4, base / 4 + 16);
      runParallel(m, 'phases', 3, [base], { barriers: true });
      const slots = h.view(base, 'int32', 16);
      const count = slots.subarray(0, 8).filter((v) => v !== 0).length;
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(3);
      // thread ids are dense, and every participant saw all `count` slots written after the barrier
      for (let t = 0; t < count; t++) {
        expect(slots[t]).toBe(t + 1);
        expect(slots[8 + t]).toBe(1);
      }
    }
  });

  it('reports a trap in a worker as a GraphError and keeps working', () => {
    const m = markModule();
    expect(() => runParallel(m, 'trap', 3, [])).toThrow(GraphError);
    const h = heap();
    const p = h.alloc(64) + 8;
    h.i32.fill(0, (p - 8) / 4, p / 4 + 8);
    runParallel(m, 'mark', 3, [p, 3]);
    expect([...h.view(p, 'int32', 3)]).toEqual([1, 1, 1]);
  });

  it('faults fresh pages in on the workers without changing what the caller writes meanwhile', async () => {
    const h = heap();
    const bytes = 8 << 20;
    // reserve: the pages the next 8 MB will land on are handed to the workers
    const grownFrom = h.byteLength;
    h.reserve(bytes);
    const p = h.alloc(bytes);
    expect(h.byteLength).toBeGreaterThanOrEqual(grownFrom);
    // the caller writes while the workers touch (from the bottom up, over the same pages): every value must survive
    const v = h.view(p, 'int32', bytes / 4);
    for (let i = 0; i < v.length; i++) v[i] = i ^ 0x5a5a5a5a;
    for (let t = 0; prefaultPending() > 0 && t < 400; t++) await new Promise((r) => setTimeout(r, 5));
    expect(prefaultPending()).toBe(0);
    let bad = 0;
    for (let i = 0; i < v.length; i++) if (v[i] !== (i ^ 0x5a5a5a5a)) bad++;
    expect(bad).toBe(0);
    // and the pool still runs jobs
    const m = markModule();
    const q = h.alloc(64) + 8;
    h.i32.fill(0, (q - 8) / 4, q / 4 + 8);
    runParallel(m, 'mark', 3, [q, 3]);
    expect([...h.view(q, 'int32', 3)]).toEqual([1, 1, 1]);
    h.free(p);
  });

  it('lets a process that never shuts it down exit', () => {
    // a child process runs a parallel kernel and just ends: it must exit on its own
    const script = fileURLToPath(new URL('./threads.exit-fixture.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GRADGRAPH_THREADS: '2' } });
    expect(res.error).toBeUndefined();
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('ran on 2 threads');
  });

  it('falls back to one thread without shared memory or workers', () => {
    const script = fileURLToPath(new URL('./threads.exit-fixture.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', script, '--no-shared'], { encoding: 'utf8', timeout: 60_000 });
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('ran on 1 thread');
  });
});
