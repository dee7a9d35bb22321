/**
 * One implementation of one workload in a child process, driven step by step over IPC by
 * `pnpm bench`, so it can be interleaved with the parent's implementations. The reason to exist:
 * gradgraph's WebAssembly back end reads `GRADGRAPH_THREADS` once per process (its pool's size),
 * so a matmul thread count above the parent's pool runs here, with the variable set in this
 * process's environment (counts below it run in the parent, with `compile`'s `threads` option).
 *
 * Messages in: `{ kind: 'prepare', workload, impl }`, `{ kind: 'step', i }`, `{ kind: 'probe' }`.
 * Messages out: `{ kind: 'ready', runsOn }`, `{ kind: 'done', ms }` (the step's own wall clock),
 * `{ kind: 'probe', values }`, `{ kind: 'error', message }`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Prepared } from './checks';
import { inputs, prepare, type Impl, type PeerWorkload } from './impls';

type In = { kind: 'prepare'; workload: PeerWorkload; impl: Impl } | { kind: 'step'; i: number } | { kind: 'probe' };
type Out = { kind: 'ready'; runsOn: string } | { kind: 'done'; ms: number } | { kind: 'probe'; values: number[] } | { kind: 'error'; message: string };

/** The parent's handle on a child running one implementation. */
export interface Remote {
  readonly runsOn: string;
  /** One step; resolves to the milliseconds the child measured. */
  step(i: number): Promise<number>;
  probe(): Promise<number[]>;
  close(): void;
}

/**
 * Starts a child process running `impl` on `workload` with `env` added to this process's
 * environment (the tsx loader is inherited through `execArgv`).
 * @example const r = await startRemote('matmul', 'gradgraph-wasm', { GRADGRAPH_THREADS: '1' });
 */
export async function startRemote(workload: PeerWorkload, impl: Impl, env: Record<string, string>): Promise<Remote> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending: ((m: Out) => void)[] = [];
  let failed: Error | undefined;
  child.on('message', (m: Out) => pending.shift()?.(m));
  child.on('exit', (code) => {
    failed = new Error(`the child process for ${impl} on ${workload} exited (code ${code})`);
    for (const p of pending.splice(0)) p({ kind: 'error', message: failed.message });
  });
  const ask = (m: In): Promise<Out> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      pending.push((r) => (r.kind === 'error' ? reject(new Error(r.message)) : resolve(r)));
      child.send(m);
    });
  let ready: Extract<Out, { kind: 'ready' }>;
  try {
    ready = (await ask({ kind: 'prepare', workload, impl })) as Extract<Out, { kind: 'ready' }>;
  } catch (e) {
    child.removeAllListeners('exit');
    child.kill();
    throw e;
  }
  return {
    runsOn: ready.runsOn,
    step: async (i) => ((await ask({ kind: 'step', i })) as Extract<Out, { kind: 'done' }>).ms,
    probe: async () => ((await ask({ kind: 'probe' })) as Extract<Out, { kind: 'probe' }>).values,
    close: () => {
      failed = new Error(`the child process for ${impl} on ${workload} is closed`);
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

// ---- the child's side --------------------------------------------------------------------------

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  let prepared: Prepared | undefined;
  const reply = (m: Out) => process.send!(m);
  process.on('message', async (m: In) => {
    try {
      if (m.kind === 'prepare') {
        const r = await prepare(m.workload, m.impl, inputs(m.workload));
        prepared = r.prepared;
        reply({ kind: 'ready', runsOn: r.runsOn });
      } else if (m.kind === 'step') {
        const t = performance.now();
        prepared!.step(m.i);
        reply({ kind: 'done', ms: performance.now() - t });
      } else {
        reply({ kind: 'probe', values: prepared!.probe() });
      }
    } catch (e) {
      reply({ kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
