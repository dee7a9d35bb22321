import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { compile } from '../compile';
import { GraphError } from '../errors';
import { Graph } from '../graph';
import { Tensor } from '../tensor';
import { fusedSoftmaxCrossEntropy } from './fused';

describe('fusedSoftmaxCrossEntropy', () => {
  it('equals −Σ t·logSoftmax(x) per row, takes one-hot labels of another dtype, and skips the rewrite', () => {
    const g = new Graph();
    const x = g.input('x', [null, 3], 'float64');
    const y = g.input('y', [null], 'int32');
    const t = api.oneHot(y, 3, 'float32'); // cast to the logits' dtype by the builder
    const fused = fusedSoftmaxCrossEntropy(x, t);
    const composed = api.cast(t, 'float64').mul(x.logSoftmax()).sum(-1).neg();
    const feeds = { x: Tensor.from([[1, 2, 3], [-1000, 1000, 0]], 'float64'), y: Tensor.from([0, 0], 'int32') };
    const [a, b] = compile(g, { outputs: [fused, composed], passes: [] }).run(feeds);
    expect(a.shape).toEqual([2]);
    a.data.forEach((v, i) => expect(v).toBeCloseTo(b.data[i], 12));
    expect(a.data[1]).toBe(2000);
  });

  it('rejects a non-symbol with a GraphError naming the op', () => {
    expect(() => fusedSoftmaxCrossEntropy(3 as never, 3 as never)).toThrow(GraphError);
    expect(() => fusedSoftmaxCrossEntropy(3 as never, 3 as never)).toThrow(/softmaxCrossEntropy: logits must be a symbol/);
  });
});
