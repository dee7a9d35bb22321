/**
 * `flip`: the elements in reverse order along some axes. A primitive rather than a `gather` with
 * reversed indices because it works on dims known only at run time, and because its adjoint is
 * itself (a gather's adjoint is a `scatterAdd`, which zero-fills and accumulates).
 */
import type { Attrs } from '../ir';
import { flip } from '../arrange';
import { traits, type OpDef } from '../registry';
import { sizeOf, stridesOf } from '../shape';
import { Tensor } from '../tensor';
import { reapply, shiftAxis } from './rules';
import { normAxes } from './util';

export interface FlipAttrs extends Attrs {
  readonly axes: readonly number[];
}

export const flipOp: OpDef<FlipAttrs> = {
  name: 'flip',
  arity: 1,
  kind: 'shape',
  traits: traits({ shapePreserving: true, finiteIfInputsFinite: [0] }),
  doc: 'reverses the order of the elements along the given axes',
  attrs: (raw, [x]) => ({ axes: normAxes(raw.axes, x.shape.length) }),
  infer: ([x]) => ({ dtype: x.dtype, shape: x.shape }),
  kernel: ([x], { axes }, ctx) => {
    // out[i] = x[i with i_d → n_d − 1 − i_d on each flipped axis d]
    const shape = x.shape;
    const strides = stridesOf(shape);
    const flipped = shape.map((_, d) => axes.includes(d));
    const out = new Tensor(ctx.out.dtype, shape);
    const idx = new Array<number>(shape.length).fill(0);
    for (let j = 0; j < out.size; j++) {
      let src = 0;
      for (let d = 0; d < shape.length; d++) src += (flipped[d] ? shape[d] - 1 - idx[d] : idx[d]) * strides[d];
      out.data[j] = x.data[src];
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  },
  // flip is its own inverse and its own transpose: d flip(x) = flip(dy)
  vjp: ({ dy, attrs }) => [flip(dy, attrs.axes)],
  jvp: ({ tangents: [t], attrs }) => (t ? flip(t, attrs.axes) : null),
  batch: ({ inputs: [x], axes: [b], attrs, node }) => ({ out: reapply(node, [x], { axes: attrs.axes.map((a) => shiftAxis(a, b!)) }), axis: b! }),
  flops: (_i, out) => sizeOf(out.shape),
};
