/**
 * The default optimization pipeline: an array of named passes, run in order by `compile`.
 *
 *   dce → cse → foldConstants → canonicalize → stabilize → specialize → fuse → planMemory → lower
 *
 * Users pass their own array to
 * `compile(g, { passes })`: `[]` compiles the graph as written; `defaultPasses.filter(...)`,
 * `[...defaultPasses, myPass]` or names (`['dce', 'cse']`) remove, add and reorder passes.
 */
import { cse, dce, foldConstants } from './basic';
import { canonicalRules } from './canonicalize';
import { registerPass, rewritePass, type Pass } from './pass';
import type { Rule } from './rules';
import { specializeRules } from './specialize';
import { fuse, lower, planMemory } from './lower';
import { stabilizeRules } from './stabilize';

/** canonicalize: algebraic identities to a fixed point (see `canonicalize.ts`). */
export const canonicalize: Pass = rewritePass('canonicalize', 'algebraic identities: x·1, −(−x), double transposes, sums of broadcasts, constants collected', [canonicalRules]);

/** stabilize: numerically stable forms, forward and backward, with canonicalize's table alongside. */
export const stabilize: Pass = rewritePass('stabilize', 'numerically stable forms (log σ → −softplus, log Σ eˣ → logsumexp, ...) on forward and backward nodes', [stabilizeRules, canonicalRules]);

/** specialize: cheaper forms for special operands (x² → x·x, x^−½ → rsqrt). */
export const specialize: Pass = rewritePass('specialize', 'cheaper ops for special operands: x² → x·x, x^½ → √x, x/√y → x·rsqrt(y)', [specializeRules]);

/**
 * The pipeline `compile` runs by default. The last three plan the compiled backend's kernels and
 * memory and leave the program as it is (see `lower.ts`).
 */
export const defaultPasses: readonly Pass[] = Object.freeze([dce, cse, foldConstants, canonicalize, stabilize, specialize, fuse, planMemory, lower]);

/** Every rule table by name, for docs, explain() and the rule-property tests. */
export const ruleTables: Readonly<Record<'canonicalize' | 'stabilize' | 'specialize', readonly Rule[]>> = Object.freeze({
  canonicalize: canonicalRules,
  stabilize: stabilizeRules,
  specialize: specializeRules,
});

for (const p of defaultPasses) registerPass(p);
