/**
 * Forward-mode rules derived from other rules, where that is exactly as cheap as writing them out:
 *
 * - Elementwise ops: the Jacobian is diagonal, so the VJP with the cotangent replaced by a tangent
 *   IS the JVP — ∂y/∂xₖ·tₖ, summed over the inputs with a tangent (`jvpFromVjp`).
 * - Linear ops (reshape, transpose, slice, sum, gather, ...): the JVP is the op applied to the
 *   tangent, the other inputs (indices, shape references) unchanged (`linearJvp`).
 *
 * Everything else has a hand-written rule next to its VJP. docs/ops.md says which op uses which.
 */
import * as api from '../api';
import type { Sym } from '../graph';
import type { Attrs } from '../ir';
import { derived, notDifferentiable, type Jvp, type JvpArgs, type NotDifferentiable, type Vjp } from '../registry';

/**
 * The JVP of an elementwise op from its VJP: for each input k with a tangent tₖ, the VJP's
 * gradient for k with dy := tₖ is (∂y/∂xₖ)·tₖ, broadcast to the output; their sum is the tangent.
 * @example jvp: jvpFromVjp(({ dy, output }) => [api.mul(dy, output)]) // exp: ṫ = y·t
 */
export function jvpFromVjp<A>(vjp: Vjp<A> | NotDifferentiable): Jvp<A> | NotDifferentiable {
  if (typeof vjp !== 'function') return notDifferentiable;
  const rule: Vjp<A> = vjp;
  return derived(({ inputs, output, tangents, attrs, node }: JvpArgs<A>): Sym | null => {
    let out: Sym | null = null;
    tangents.forEach((t, k) => {
      if (!t) return;
      const needsGrad = inputs.map((_x, i) => i === k);
      const part = rule({ inputs, output, dy: t, attrs, node, needsGrad })[k];
      if (part) out = out ? api.add(out, part) : part;
    });
    return out;
  }, 'transposed VJP (elementwise)');
}

/**
 * The JVP of an op linear in its first input: the op applied to that input's tangent, the other
 * inputs (indices, shape references) as they are; `attrs` may adjust the attributes (pad's fill
 * becomes 0).
 * @example jvp: linearJvp() // reshape: ṫ = reshape(t)
 */
export function linearJvp<A extends Attrs>(attrs: (a: A) => Attrs = (a) => a): Jvp<A> {
  return derived(({ inputs, tangents: [t], node, attrs: a }: JvpArgs<A>): Sym | null => (t ? t.graph.apply(node.op, [t, ...inputs.slice(1)], attrs(a)) : null), 'linear');
}

/** The JVP of an op linear in every input (concat): the op applied to the tangents, zeros where there are none. */
export const multilinearJvp: Jvp<Attrs> = derived(({ inputs, tangents, node }: JvpArgs<Attrs>): Sym | null => {
  if (!tangents.some(Boolean)) return null;
  return inputs[0].graph.apply(node.op, tangents.map((t, i) => t ?? api.zerosLike(inputs[i])), node.attrs);
}, 'linear');

/** The JVP of a source (input, param, constant): it has no inputs; `jvp` seeds the tangents of xs. */
export const sourceJvp: Jvp<Attrs> = derived(() => null, 'leaf');

/** The JVP of an op whose output does not change with its float inputs (stopGradient, shapeSize): zero. */
export const zeroJvp: Jvp<Attrs> = derived(() => null, 'zero');
