/**
 * `evaluate(sym, feeds?)`: the value of one symbol now, for debugging — compile it alone, run it
 * once, return the tensor. It never changes the graph: no updates, and the RNG counter is left
 * as it was, so looking at a dropout mask shows the mask the next training run will draw and
 * does not change the run's numbers.
 */
import { GraphError } from './errors';
import { compile, BACKENDS, DEFAULT_BACKEND, type Backend, type Feeds } from './compile';
import { Graph, Sym } from './graph';
import { captureOrigin } from './origin';
import type { Tensor } from './tensor';

export interface EvaluateOptions {
  /** `compile`'s default (`DEFAULT_BACKEND`) unless named: `'wasm'`, `'js'` or `'interpreter'` (the reference kernels, node by node). */
  backend?: Backend;
}

/** Compiled one-symbol programs per graph (the last few): evaluating again in a loop is cheap. */
const MAX_CACHED = 32;
const cache = new WeakMap<Graph, Map<string, ReturnType<typeof compile>>>();

/**
 * Compiles and runs one symbol with the graph's current param values, and returns its value.
 * Feeds go by input name, as for `run`; only the inputs the symbol depends on are needed.
 * @example
 * const h = nn.relu(nn.dense(x, 16));
 * evaluate(h, { x: Tensor.randn([2, 4]) }); // Tensor float32[2,16]
 * evaluate(g.byName('dense/kernel')!);      // a param's current value
 */
export function evaluate(sym: Sym, feeds: Feeds = {}, opts: EvaluateOptions = {}): Tensor {
  const origin = captureOrigin();
  if (!(sym instanceof Sym)) throw new GraphError(`evaluate needs a symbol, got ${sym === null ? 'null' : Array.isArray(sym) ? 'an array' : typeof sym}`, { op: 'evaluate', origin });
  if (opts === null || typeof opts !== 'object') throw new GraphError(`options must be an object { backend }, got ${String(opts)}`, { op: 'evaluate', origin });
  for (const k of Object.keys(opts)) if (k !== 'backend') throw new GraphError(`unknown option "${k}"; expected backend`, { op: 'evaluate', origin });
  const backend = opts.backend ?? DEFAULT_BACKEND;
  if (!BACKENDS.includes(backend)) throw new GraphError(`unknown backend ${JSON.stringify(backend)} (known: ${BACKENDS.join(', ')})`, { op: 'evaluate', origin });
  const g = sym.graph;
  const byGraph = cache.get(g) ?? cache.set(g, new Map()).get(g)!;
  const key = `${backend}:${sym.id}`;
  let exe = byGraph.get(key);
  if (!exe) {
    byGraph.set(key, (exe = compile(g, { outputs: [sym], backend })));
    if (byGraph.size > MAX_CACHED) byGraph.delete(byGraph.keys().next().value!);
  }
  const counter = g.rngCounter;
  try {
    return exe.run(feeds)[0];
  } finally {
    g.rngCounter = counter;
  }
}
