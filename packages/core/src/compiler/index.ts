/**
 * The optimizing compiler's pass pipeline: passes, the rewrite engine and its rule tables,
 * FLOP estimates and the explain() report. See docs/compiler.md.
 */
export { definePass, rewritePass, registerPass, getPass, listPasses, resolvePass, runPipeline, nodeCount } from './pass';
export type { Pass, PassResult, PassRecord, PassSpec, PipelineResult, RewriteCount } from './pass';
export { dce, cse, foldConstants } from './basic';
export { canonicalize, stabilize, specialize, defaultPasses, ruleTables } from './pipeline';
export { canonicalRules, provablyFinite } from './canonicalize';
export { stabilizeRules } from './stabilize';
export { specializeRules } from './specialize';
export { rule, E, Ref, RewriteLog, runRules, fit, broadcastsInto, type Rule, type Match, type Operand, type FixedPoint } from './rules';
export { P, v, c, k, _, rest, alt, op, match, type Pattern, type Binding } from './pattern';
export { Work, nodeKey, evalConstant, diffPrograms, COMMUTATIVE, FOLD_LIMIT } from './work';
export { estimateFlops, fmtCount, type FlopEstimate } from './flops';
export { formatExplain, type ExplainOptions } from './explain';
export { programToGraph, type Lifted } from './lift';
