/**
 * Run by executor.test.ts in a child process (`node --expose-gc`). With `--no-shared` it hides
 * SharedArrayBuffer first, as a page without cross-origin isolation does: the heap is a plain
 * memory, one thread, and growing it detaches every view.
 * 1. Grows the memory between the runs of a training step and checks the losses and params are
 *    bit-identical to a run without growth, that the param storages were re-pointed at the new
 *    buffer, and that a JS executable of the same graph reads them.
 * 2. Compiles, runs and drops 200 executables (each with its own graph and params), collects them,
 *    and checks the heap is back to where it was: arenas, programs and param blocks freed.
 * Prints one line per check; any failure throws (non-zero exit).
 */
if (process.argv.includes('--no-shared')) delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
const api = await import('../../api');
const { grad } = await import('../../autodiff');
const { compile } = await import('../../compile');
const { Graph } = await import('../../graph');
const { Tensor } = await import('../../tensor');
const { heap } = await import('./memory');

function fail(msg: string): never {
  throw new Error(msg);
}

function model(seed: number) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 16], 'float32');
  const t = g.input('t', [null, 4], 'float32');
  const w = g.param('w', Tensor.randn([16, 4], 'float32', seed));
  const b = g.param('b', new Tensor('float32', [4]));
  const e = api.sub(api.tanh(api.add(api.matmul(x, w), b)), t);
  const loss = api.mean(api.mul(e, e));
  const [gw, gb] = grad(loss, [w, b]);
  const step = compile(g, { inputs: [x, t], outputs: [loss], updates: [[w, api.sub(w, api.mul(gw, 0.1))], [b, api.sub(b, api.mul(gb, 0.1))]], backend: 'wasm' });
  return { g, step, x, t, loss };
}

const feeds = (k: number) => ({ x: Tensor.randn([32, 16], 'float32', 10 + k), t: Tensor.rand([32, 4], 'float32', 20 + k) });
const bits = (d: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(d).buffer)).join(',');

const h = heap();
console.log(`shared memory: ${h.shared}`);

// 1. growth between runs
const plain = model(1);
const grown = model(1);
const lp: number[] = [];
const lg: number[] = [];
const hogs: number[] = [];
for (let k = 0; k < 6; k++) {
  lp.push(plain.step.run(feeds(k))[0].item());
  const buffer = h.memory.buffer;
  hogs.push(h.alloc(h.byteLength)); // at least doubles the memory
  if (h.memory.buffer === buffer) fail('the memory did not grow');
  if (k > 0 && !h.shared && grown.g.storage('w').data.buffer !== h.memory.buffer) fail('a param storage was not re-pointed at the grown memory');
  lg.push(grown.step.run(feeds(k))[0].item());
}
if (bits(lp) !== bits(lg)) fail(`losses differ after growth: ${lp} vs ${lg}`);
for (const name of ['w', 'b']) if (bits(plain.g.storage(name).data) !== bits(grown.g.storage(name).data)) fail(`param ${name} differs after growth`);
const js = compile(grown.g, { inputs: [grown.x, grown.t], outputs: [grown.loss], backend: 'js' });
const ref = compile(grown.g, { inputs: [grown.x, grown.t], outputs: [grown.loss], backend: 'interpreter' });
if (Math.abs(js.run(feeds(0))[0].item() - ref.run(feeds(0))[0].item()) > 1e-6) fail('the JS back end does not read the grown params');
for (const p of hogs) h.free(p);
console.log('grew: bit-identical, params re-pointed');

// 2. collection
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? fail('run with --expose-gc');
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    collectGarbage();
    await new Promise((r) => setTimeout(r, 10));
  }
}
await collect();
const base = h.allocatedBytes;
for (let i = 0; i < 200; i++) model(100 + i).step.run(feeds(i % 3));
const held = h.allocatedBytes;
await collect();
const after = h.allocatedBytes;
if (after > base) fail(`the heap holds ${after - base} more bytes after 200 executables were collected (${held - base} before collection)`);
console.log(`collected: freed ${held - after} bytes`);

export {};
