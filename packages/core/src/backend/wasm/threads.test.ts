import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphError } from '../../errors';
import { heap } from './memory';
import { kernelModuleBuilder, runParallel, shutdownThreads, threadCount, WasmModule } from './threads';

// three threads for this file (the pool reads GRADGRAPH_THREADS once, when it starts)
const saved = process.env.GRADGRAPH_THREADS;
process.env.GRADGRAPH_THREADS = '3';
const THREADS = threadCount();
if (saved === undefined) delete process.env.GRADGRAPH_THREADS;
else process.env.GRADGRAPH_THREADS = saved;

afterAll(() => shutdownThreads());

/** `mark(tid, nt, out, n)`: out[i] = tid + 1 for i ≡ tid (mod nt), i < n; also atomically counts calls at out[-1]. */
function markModule(): WasmModule {
  const mb = kernelModuleBuilder();
  mb.func('mark', ['i32', 'i32', 'i32', 'i32'], [], (f) => {
    const i = f.local('i32');
    f.get(2).i32.const(4).i32.sub().i32.const(1).i32_atomic.rmw_add().drop();
    f.get(0).set(i);
    f.block((done) => {
      f.loop((top) => {
        f.get(i).get(3).i32.ge_s().br_if(done);
        f.get(2).get(i).i32.const(4).i32.mul().i32.add().get(0).i32.const(1).i32.add().i32.store();
        f.get(i).get(1).i32.add().set(i);
        f.br(top);
      });
    });
  });
  mb.func('trap', ['i32', 'i32'], [], (f) => {
    f.get(0).i32.const(1).i32.eq();
    f.if(() => void f.unreachable());
  });
  return new WasmModule(mb.compile(), ['mark', 'trap']);
}

describe('the thread pool', () => {
  it('uses GRADGRAPH_THREADS threads', () => {
    expect(THREADS).toBe(3);
  });

  it('runs a function SPMD on every thread, the caller being thread 0', () => {
    const m = markModule();
    const h = heap();
    const n = 1000;
    const p = h.alloc(4 * (n + 1)) + 4;
    for (const nt of [1, 2, 3]) {
      h.i32.fill(0, (p - 4) / 4, p / 4 + n);
      runParallel(m, 'mark', nt, [p, n]);
      const out = h.view(p, 'int32', n);
      expect(h.i32[(p - 4) / 4]).toBe(nt);
      for (let i = 0; i < n; i++) expect(out[i]).toBe((i % nt) + 1);
    }
    // back to back, many times: nothing lost, nothing run twice
    h.i32[(p - 4) / 4] = 0;
    for (let r = 0; r < 200; r++) runParallel(m, 'mark', 3, [p, n]);
    expect(h.i32[(p - 4) / 4]).toBe(600);
  });

  it('reports a trap in a worker as a GraphError and keeps working', () => {
    const m = markModule();
    expect(() => runParallel(m, 'trap', 3, [])).toThrow(GraphError);
    const h = heap();
    const p = h.alloc(64) + 4;
    runParallel(m, 'mark', 3, [p, 3]);
    expect([...h.view(p, 'int32', 3)]).toEqual([1, 2, 3]);
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
