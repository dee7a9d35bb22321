/**
 * Passes and the pipeline. A pass is a named, pure function `Program → Program`; the pipeline
 * is an array of passes run in order. Every pass's immer patches are kept with the programs
 * before and after it, so `explain()` can report and viz can draw what each pass changed.
 */
import type { Patch } from 'immer';
import { GraphError } from '../errors';
import type { Program } from '../ir';
import { captureOrigin } from '../origin';
import { rederiveAdjoints } from './adjoints';
import { RewriteLog, runRules, type RewriteCount, type Rule } from './rules';
import { diffPrograms, Work } from './work';

export type { RewriteCount } from './rules';

/** What a pass returns: the new program, its patches, and what it did. */
export interface PassResult {
  readonly program: Program;
  readonly patches: readonly Patch[];
  readonly inversePatches: readonly Patch[];
  /** Rewrites by name (rules, or `cse` merges, `fold` folds), split forward/backward. */
  readonly rewrites?: readonly RewriteCount[];
  /** Lines for explain(): decisions, warnings. */
  readonly notes?: readonly string[];
  /** Anything a later stage wants from this pass (a fusion plan, a memory plan). */
  readonly info?: unknown;
}

/** What a pipeline tells its passes about the compilation. */
export interface PassContext {
  /** The back end the program is compiled for (`'js'`, `'wasm'`, `'interpreter'`): fuse, planMemory and lower plan for it. */
  readonly backend: string;
}

export interface Pass {
  readonly name: string;
  /** One line for explain() and docs. */
  readonly doc: string;
  /**
   * Pure: must not modify `program` (it is frozen) and must return the same result for it and
   * the same context. Most passes ignore the context; the back-end passes plan for its back end.
   */
  readonly run: (program: Program, ctx?: PassContext) => PassResult;
}

/** What the pipeline records for one pass. */
export interface PassRecord {
  readonly name: string;
  readonly doc: string;
  readonly before: Program;
  readonly after: Program;
  readonly patches: readonly Patch[];
  readonly inversePatches: readonly Patch[];
  readonly rewrites: readonly RewriteCount[];
  readonly notes: readonly string[];
  readonly info?: unknown;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Wall time of the pass in milliseconds. */
  readonly ms: number;
}

/** A pipeline entry: a pass, the name of a registered pass, or a plain `Program → Program`. */
export type PassSpec = Pass | string | ((program: Program) => Program);

/**
 * A pass from a function. The function may return a plain program (its patches are computed by
 * diffing) or a full `PassResult`.
 * @example
 * const dropOutputs = definePass('firstOutputOnly', 'keeps output 0', (p) => ({ ...p, outputs: p.outputs.slice(0, 1) }));
 * compile(g, { outputs: [a, b], passes: [...defaultPasses, dropOutputs] });
 */
export function definePass(name: string, doc: string, fn: (program: Program) => Program | PassResult): Pass {
  if (typeof name !== 'string' || !name) throw new GraphError('a pass needs a non-empty name', { op: 'definePass', origin: captureOrigin() });
  if (typeof fn !== 'function') throw new GraphError(`pass "${name}" needs a function Program → Program`, { op: 'definePass', origin: captureOrigin() });
  return Object.freeze({
    name,
    doc,
    run: (program: Program): PassResult => {
      const out = fn(program);
      if (!out || typeof out !== 'object' || (!('nodes' in out) && !('program' in out))) throw new GraphError(`pass "${name}" returned ${out === null ? 'null' : typeof out}, not a program`, { op: name });
      if (isResult(out)) return out;
      return { program: out, ...diffPrograms(program, out) };
    },
  });
}

function isResult(x: Program | PassResult): x is PassResult {
  return 'program' in x && 'patches' in x;
}

/**
 * A pass that runs rule tables to a fixed point (see `rules.ts`). Tables are tried in order at
 * each node, so put the specific table first. A rule with `rederive` also rebuilds the adjoints
 * of the region it replaces from the replacement's VJP (`adjoints.ts`).
 * @example
 * const myPass = rewritePass('tidy', 'my identities', [[rule('mul-two', P.mul(v('x'), c(2)), ({ x }) => E.add(x, x))]]);
 */
export function rewritePass(name: string, doc: string, tables: readonly (readonly Rule[])[]): Pass {
  return Object.freeze({
    name,
    doc,
    run: (program: Program): PassResult => {
      const work = new Work(program);
      const log = new RewriteLog();
      runRules(work, tables, log, { adjoints: rederiveAdjoints });
      return { ...work.finish(), rewrites: log.list(), notes: work.notes };
    },
  });
}

const registry = new Map<string, Pass>();

/**
 * Makes a pass available by name in `compile(g, { passes: ['name', ...] })`.
 * @example
 * registerPass(definePass('noop', 'does nothing', (p) => p));
 * compile(g, { outputs: [y], passes: ['dce', 'noop'] });
 */
export function registerPass(pass: Pass): Pass {
  if (!pass || typeof pass.name !== 'string' || typeof pass.run !== 'function') throw new GraphError('registerPass needs a pass { name, doc, run }', { op: 'registerPass', origin: captureOrigin() });
  if (registry.has(pass.name) && registry.get(pass.name) !== pass) throw new GraphError(`a pass named "${pass.name}" is already registered`, { op: 'registerPass' });
  registry.set(pass.name, pass);
  return pass;
}

/**
 * A registered pass by name; a GraphError listing the known names otherwise.
 * @example
 * const passes = [getPass('dce'), getPass('stabilize')];
 */
export function getPass(name: string): Pass {
  const p = registry.get(name);
  if (!p) throw new GraphError(`no compiler pass named "${name}" (known: ${[...registry.keys()].join(', ')})`, { op: 'compile', origin: captureOrigin() });
  return p;
}

/**
 * Every registered pass (the defaults, then what `registerPass` added).
 * @example
 * listPasses().map((p) => `${p.name}: ${p.doc}`)
 */
export function listPasses(): Pass[] {
  return [...registry.values()];
}

/** A pipeline entry as a pass. */
export function resolvePass(spec: PassSpec, i = 0): Pass {
  if (typeof spec === 'string') return getPass(spec);
  if (typeof spec === 'function') return definePass(spec.name || `pass${i}`, 'a user pass', spec);
  if (spec && typeof spec === 'object' && typeof spec.name === 'string' && typeof spec.run === 'function') return spec;
  throw new GraphError(`pass ${i} is not a pass, a pass name or a function Program → Program`, { op: 'compile', origin: captureOrigin() });
}

export function nodeCount(p: Program): number {
  return Object.keys(p.nodes).length;
}

export interface PipelineResult {
  readonly program: Program;
  readonly passes: readonly PassRecord[];
}

/**
 * Runs `passes` in order over `program` and records each one. `afterPass` sees every record as
 * it is made (tests run the IR verifier there).
 * @example
 * const { program, passes } = runPipeline(buildProgram(g, { outputs: [y] }), defaultPasses);
 */
export function runPipeline(program: Program, passes: readonly PassSpec[], opts: { afterPass?: (record: PassRecord) => void; backend?: string } = {}): PipelineResult {
  if (!Array.isArray(passes)) throw new GraphError('passes must be an array', { op: 'compile', origin: captureOrigin() });
  const records: PassRecord[] = [];
  let cur = program;
  const ctx: PassContext = Object.freeze({ backend: opts.backend ?? 'js' });
  passes.forEach((spec, i) => {
    const pass = resolvePass(spec, i);
    const t0 = performance.now();
    const r = pass.run(cur, ctx);
    const ms = performance.now() - t0;
    const record: PassRecord = {
      name: pass.name,
      doc: pass.doc,
      before: cur,
      after: r.program,
      patches: r.patches,
      inversePatches: r.inversePatches,
      rewrites: r.rewrites ?? [],
      // read through: the planning passes make their notes and info when first read
      get notes() {
        return r.notes ?? [];
      },
      get info() {
        return r.info;
      },
      nodesBefore: nodeCount(cur),
      nodesAfter: nodeCount(r.program),
      ms,
    };
    records.push(record);
    opts.afterPass?.(record);
    cur = r.program;
  });
  return { program: cur, passes: records };
}
