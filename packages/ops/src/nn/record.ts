/**
 * Where the learnable-activation builders note what they made — kind, scope, params, SPLASH's
 * hinges — in a graph collection (saved with the graph), so `learnedActivations(g)` can find and
 * evaluate them later without guessing from scope names.
 */
import type { Sym } from '@gradgraph/core';

/** The graph collection holding one `{ kind, scope, params: { name: id }, hinges? }` item per builder call. */
export const ACTIVATIONS_COLLECTION = 'nn/learnedActivations';

export type LearnedKind = 'prelu' | 'twoSlope' | 'splash' | 'apl';

/** One builder call, as stored. */
export interface ActivationRecord {
  kind: LearnedKind;
  scope: string;
  params: Record<string, number>;
  hinges?: number[];
}

/** Notes a builder's params; called inside the builder's scope. */
export function recordActivation(rec: { kind: LearnedKind; params: Record<string, Sym>; hinges?: readonly number[] }): void {
  const first = Object.values(rec.params)[0];
  const g = first.graph;
  const item: ActivationRecord = {
    kind: rec.kind,
    scope: g.currentScope,
    params: Object.fromEntries(Object.entries(rec.params).map(([k, p]) => [k, p.id])),
    ...(rec.hinges ? { hinges: [...rec.hinges] } : {}),
  };
  g.addToCollection(ACTIVATIONS_COLLECTION, item as unknown as Parameters<typeof g.addToCollection>[1]);
}
