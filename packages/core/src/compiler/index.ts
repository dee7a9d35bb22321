/**
 * The optimizing compiler's pass pipeline: passes, the rewrite engine and its rule tables,
 * FLOP estimates and the explain() report. See docs/compiler.md.
 */
import { provablyFinite } from './canonicalize';
import { _, alt, c, k, op, P, rest, v } from './pattern';
import { E, rule } from './rules';

export { definePass, rewritePass, registerPass, getPass, listPasses, runPipeline } from './pass';
export type { Pass, PassContext, PassResult, PassRecord, PassSpec, PipelineResult, RewriteCount } from './pass';
export { dce, cse, foldConstants } from './basic';
export { canonicalize, stabilize, specialize, defaultPasses, ruleTables } from './pipeline';
export { Ref, type Rule, type Match, type Operand } from './rules';
export type { Pattern, Binding } from './pattern';
export { Work } from './work';
export { estimateFlops, type FlopEstimate } from './flops';
export { fuse, planMemory, lower, lowerProgram, type LoweredProgram, type LoweredKernel, type LowerOptions } from './lower';
export { planFusion, classify, dataInputs, hasElementwiseCode, reduceMode, FUSION_LIMITS, type FusionPlan, type KernelPlan, type KernelKind, type NodeClass, type ReduceMode } from './fuse';
export { planBuffers, ARENA_ALIGN, type MemoryPlan, type BufferPlan, type Location, type MemoryOptions } from './memory';
export type { ExplainOptions } from './explain';
export { programToGraph, type Lifted } from './lift';

/**
 * The rule language, for writing your own rewrite passes: patterns (`P`, `v`, `c`, `k`, `_`,
 * `rest`, `alt`, `op`), the replacement builder `E`, `rule`, and the `provablyFinite` guard.
 * @example
 * const { rule, P, v, c, E } = rewrite;
 * const double = rewritePass('double', 'x+x as 2x', [[rule('add-self', P.add(v('x'), v('x')), ({ x }) => E.mul(x, 2))]]);
 * compile(g, { outputs: [y], passes: [...defaultPasses, double] });
 */
export const rewrite = Object.freeze({ rule, P, v, c, k, _, rest, alt, op, E, provablyFinite });
