/**
 * Run by threads.test.ts in a child process: starts the pool, runs a kernel on every thread and
 * ends without shutting the pool down — the process must still exit. With `--no-shared` it hides
 * SharedArrayBuffer first, as a page without cross-origin isolation does: one thread, no workers.
 */
if (process.argv.includes('--no-shared')) delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
const { heap } = await import('./memory');
const { makeMatmul } = await import('./matmul');
const { threadCount } = await import('./threads');
const h = heap();
const n = 256;
const mm = makeMatmul({ m: n, n, k: n });
const a = h.alloc(n * n * 4);
const c = h.alloc(n * n * 4);
h.view(a, 'float32', n * n).fill(1);
mm.run(a, a, c);
if (h.view(c, 'float32', 1)[0] !== n) throw new Error('wrong product');
const t = Math.min(threadCount(), mm.parallel);
console.log(`ran on ${t} thread${t > 1 ? 's' : ''} (shared memory: ${h.shared})`);

export {};
