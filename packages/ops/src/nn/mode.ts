/**
 * Training vs evaluation mode as a run-time switch, so one graph (and one compiled program)
 * serves both: a bool scalar input named `training`, created once per graph with default false.
 * Feeds omit it to evaluate; a training step feeds `{ training: true }`.
 */
import { GraphError, Sym, captureOrigin, fmtShape, type Graph } from '@gradgraph/core';
import { graphError } from './util';

/**
 * The name of the mode input.
 * @example step.run({ x: xs, [nn.TRAINING]: true });
 */
export const TRAINING = 'training';

/**
 * The graph's `training` switch: a bool scalar input with default false, created on first use.
 * Dropout and batchNorm read it unless told a fixed mode. Feed `{ training: true }` in the
 * training step; leave it out to evaluate.
 * @example
 * const h = nn.dropout(x, 0.5);                   // creates the switch
 * step.run({ x: xs, training: true });           // masks drawn
 * evaluate.run({ x: xs });                        // identity
 */
export function trainingInput(g: Graph): Sym {
  const existing = g.byName(TRAINING);
  if (existing) {
    if (existing.op !== 'input' || existing.dtype !== 'bool' || existing.rank !== 0) {
      throw new GraphError(`the graph already has "${TRAINING}" as a ${existing.op} of type ${existing.dtype}${fmtShape(existing.shape)}; the mode switch needs that name for a bool scalar input`, {
        op: 'nn.trainingInput',
        origin: captureOrigin(),
      });
    }
    return existing;
  }
  return g.input(TRAINING, [], 'bool', { default: false });
}

/** A builder's `training` option: a fixed mode, a bool scalar symbol, or (undefined) the graph's switch. */
export type TrainingOption = boolean | Sym | undefined;

/** Resolves a `training` option to a fixed boolean or a bool scalar symbol. */
export function resolveTraining(op: string, g: Graph, training: TrainingOption): boolean | Sym {
  if (training === undefined) return trainingInput(g);
  if (typeof training === 'boolean') return training;
  if (!(training instanceof Sym) || training.graph !== g || training.dtype !== 'bool' || training.rank !== 0) {
    throw graphError(op, `training must be a boolean or a bool scalar symbol of the same graph, got ${training instanceof Sym ? `${training.dtype}${fmtShape(training.shape)}` : typeof training}`);
  }
  return training;
}
