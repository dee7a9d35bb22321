/**
 * Printed IR before and after each phase, for a few small graphs. A pass that changes nothing
 * prints one line; the others print the whole program (renumbered, so the text is stable).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../api';
import { grad } from '../autodiff';
import { compile, type Executable } from '../compile';
import { Graph } from '../graph';
import { printProgram } from '../ir';

function phases(exe: Executable): string {
  const out = [`== source (${Object.keys(exe.source.nodes).length} nodes)`, printProgram(exe.source)];
  for (const p of exe.passes) {
    if (!p.patches.length) out.push(`== ${p.name}: no change`);
    else out.push(`== ${p.name} (${p.nodesBefore} → ${p.nodesAfter}): ${p.rewrites.map((r) => `${r.rule}×${r.forward + r.backward}`).join(', ')}`, printProgram(p.after));
  }
  return `\n${out.join('\n')}\n`;
}

describe('printed IR through the pipeline', () => {
  it('algebra and shapes: identities, collected constants, double reshape and transpose, sum of a broadcast', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const y = g.input('y', [3]);
    const a = x.mul(1).add(0).mul(2).mul(3).sub(y.neg());
    const b = a.reshape([3, 1]).reshape([1, 3]).transpose().transpose();
    const out = b.broadcastTo([2, 1, 3]).sum(0);
    expect(phases(compile(g, { outputs: [out] }))).toMatchInlineSnapshot(`
      "
      == source (18 nodes)
      %0 = input "x" : float32[3]
      %1 = constant 1 : float32[]
      %2 = mul %0, %1 : float32[3]
      %3 = constant 0 : float32[]
      %4 = add %2, %3 : float32[3]
      %5 = constant 2 : float32[]
      %6 = mul %4, %5 : float32[3]
      %7 = constant 3 : float32[]
      %8 = mul %6, %7 : float32[3]
      %9 = input "y" : float32[3]
      %10 = neg %9 : float32[3]
      %11 = sub %8, %10 : float32[3]
      %12 = reshape %11 {shape=[3,1]} : float32[3,1]
      %13 = reshape %12 {shape=[1,3]} : float32[1,3]
      %14 = transpose %13 {perm=[1,0]} : float32[3,1]
      %15 = transpose %14 {perm=[1,0]} : float32[1,3]
      %16 = broadcastTo %15 {shape=[2,1,3]} : float32[2,1,3]
      %17 = sum %16 {axes=[0] keepDims=false} : float32[1,3]
      outputs: %17
      == dce: no change
      == cse: no change
      == foldConstants: no change
      == canonicalize (18 → 8): sum-broadcast×1, transpose-transpose×1, reshape-reshape×1, sub-neg×1, collect-mul×3, add-zero×1, mul-one×1
      %0 = input "x" : float32[3]
      %1 = constant 6 : float32[]
      %2 = mul %0, %1 : float32[3]
      %3 = input "y" : float32[3]
      %4 = add %2, %3 : float32[3]
      %5 = reshape %4 {shape=[1,3]} : float32[1,3]
      %6 = constant 2 : float32[]
      %7 = mul %5, %6 : float32[1,3]
      outputs: %7
      == stabilize: no change
      == specialize: no change
      == fuse: no change
      == planMemory: no change
      == lower: no change
      "
    `);
  });

  it('specialize: powers, reciprocals and a division by a root', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const y = g.input('y', [3]);
    const out = x.pow(2).add(x.pow(-0.5)).add(api.div(1, x)).div(y.sqrt()).div(4);
    expect(phases(compile(g, { outputs: [out] }))).toMatchInlineSnapshot(`
      "
      == source (14 nodes)
      %0 = input "x" : float32[3]
      %1 = constant 2 : float32[]
      %2 = pow %0, %1 : float32[3]
      %3 = constant -0.5 : float32[]
      %4 = pow %0, %3 : float32[3]
      %5 = add %2, %4 : float32[3]
      %6 = constant 1 : float32[]
      %7 = div %6, %0 : float32[3]
      %8 = add %5, %7 : float32[3]
      %9 = input "y" : float32[3]
      %10 = sqrt %9 : float32[3]
      %11 = div %8, %10 : float32[3]
      %12 = constant 4 : float32[]
      %13 = div %11, %12 : float32[3]
      outputs: %13
      == dce: no change
      == cse: no change
      == foldConstants: no change
      == canonicalize: no change
      == stabilize: no change
      == specialize (14 → 11): div-pow2×1, div-sqrt×1, one-over×1, pow-minus-half×1, pow-two×1
      %0 = input "x" : float32[3]
      %1 = mul %0, %0 : float32[3]
      %2 = rsqrt %0 : float32[3]
      %3 = add %1, %2 : float32[3]
      %4 = reciprocal %0 : float32[3]
      %5 = add %3, %4 : float32[3]
      %6 = input "y" : float32[3]
      %7 = rsqrt %6 : float32[3]
      %8 = mul %5, %7 : float32[3]
      %9 = constant 0.25 : float32[]
      %10 = mul %8, %9 : float32[3]
      outputs: %10
      == fuse: no change
      == planMemory: no change
      == lower: no change
      "
    `);
  });

  it('log σ(z) and its gradient: stabilized forward and backward', () => {
    const g = new Graph();
    const z = g.input('z', [2]);
    const loss = z.sigmoid().log().sum();
    const [dz] = grad(loss, [z]);
    expect(phases(compile(g, { outputs: [loss, dz] }))).toMatchInlineSnapshot(`
      "
      == source (12 nodes)
      %0 = input "z" : float32[2]
      %1 = sigmoid %0 : float32[2]
      %2 = log %1 : float32[2]
      %3 = sum %2 {axes=[0] keepDims=false} : float32[]
      %4 = constant 1 : float32[]  ; adjoint of %3
      %5 = expandDims %4 {axes=[0]} : float32[1]  ; adjoint of %3
      %6 = broadcastTo %5 {shape=[2]} : float32[2]  ; adjoint of %3
      %7 = div %6, %1 : float32[2]  ; adjoint of %2
      %8 = neg %0 : float32[2]  ; adjoint of %1
      %9 = sigmoid %8 : float32[2]  ; adjoint of %1
      %10 = mul %1, %9 : float32[2]  ; adjoint of %1
      %11 = mul %7, %10 : float32[2]  ; adjoint of %1
      outputs: %3, %11
      == dce: no change
      == cse: no change
      == foldConstants (12 → 10): fold×2
      %0 = input "z" : float32[2]
      %1 = sigmoid %0 : float32[2]
      %2 = log %1 : float32[2]
      %3 = sum %2 {axes=[0] keepDims=false} : float32[]
      %4 = constant [1,1] : float32[2]  ; adjoint of %3
      %5 = div %4, %1 : float32[2]  ; adjoint of %2
      %6 = neg %0 : float32[2]  ; adjoint of %1
      %7 = sigmoid %6 : float32[2]  ; adjoint of %1
      %8 = mul %1, %7 : float32[2]  ; adjoint of %1
      %9 = mul %5, %8 : float32[2]  ; adjoint of %1
      outputs: %3, %9
      == canonicalize: no change
      == stabilize (10 → 6): sigmoid-grad-cancel×1, mul-one×1, log-sigmoid×1, sum-neg×1
      %0 = input "z" : float32[2]
      %1 = neg %0 : float32[2]  ; backward
      %2 = softplus %1 : float32[2]
      %3 = sum %2 {axes=[0] keepDims=false} : float32[]
      %4 = neg %3 : float32[]
      %5 = sigmoid %1 : float32[2]  ; backward
      outputs: %4, %5
      == specialize: no change
      == fuse: no change
      == planMemory: no change
      == lower: no change
      "
    `);
  });

  it('softmax cross-entropy from primitives, with its gradient', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const t = g.input('t', [2, 3]);
    const loss = t.mul(x.softmax().log()).sum(-1).neg().sum();
    const [dx] = grad(loss, [x]);
    expect(phases(compile(g, { outputs: [loss, dx] }))).toMatchInlineSnapshot(`
      "
      == source (20 nodes)
      %0 = input "t" : float32[2,3]
      %1 = input "x" : float32[2,3]
      %2 = softmax %1 {axis=1} : float32[2,3]
      %3 = log %2 : float32[2,3]
      %4 = mul %0, %3 : float32[2,3]
      %5 = sum %4 {axes=[1] keepDims=false} : float32[2]
      %6 = neg %5 : float32[2]
      %7 = sum %6 {axes=[0] keepDims=false} : float32[]
      %8 = constant 1 : float32[]  ; adjoint of %7
      %9 = expandDims %8 {axes=[0]} : float32[1]  ; adjoint of %7
      %10 = broadcastTo %9 {shape=[2]} : float32[2]  ; adjoint of %7
      %11 = neg %10 : float32[2]  ; adjoint of %6
      %12 = expandDims %11 {axes=[1]} : float32[2,1]  ; adjoint of %5
      %13 = broadcastTo %12 {shape=[2,3]} : float32[2,3]  ; adjoint of %5
      %14 = mul %13, %0 : float32[2,3]  ; adjoint of %4
      %15 = div %14, %2 : float32[2,3]  ; adjoint of %3
      %16 = mul %15, %2 : float32[2,3]  ; adjoint of %2
      %17 = sum %16 {axes=[1] keepDims=true} : float32[2,1]  ; adjoint of %2
      %18 = sub %15, %17 : float32[2,3]  ; adjoint of %2
      %19 = mul %2, %18 : float32[2,3]  ; adjoint of %2
      outputs: %7, %19
      == dce: no change
      == cse: no change
      == foldConstants (20 → 15): fold×5
      %0 = input "t" : float32[2,3]
      %1 = input "x" : float32[2,3]
      %2 = softmax %1 {axis=1} : float32[2,3]
      %3 = log %2 : float32[2,3]
      %4 = mul %0, %3 : float32[2,3]
      %5 = sum %4 {axes=[1] keepDims=false} : float32[2]
      %6 = neg %5 : float32[2]
      %7 = sum %6 {axes=[0] keepDims=false} : float32[]
      %8 = constant [-1,-1,-1,-1,-1,-1] : float32[2,3]  ; adjoint of %5
      %9 = mul %8, %0 : float32[2,3]  ; adjoint of %4
      %10 = div %9, %2 : float32[2,3]  ; adjoint of %3
      %11 = mul %10, %2 : float32[2,3]  ; adjoint of %2
      %12 = sum %11 {axes=[1] keepDims=true} : float32[2,1]  ; adjoint of %2
      %13 = sub %10, %12 : float32[2,3]  ; adjoint of %2
      %14 = mul %2, %13 : float32[2,3]  ; adjoint of %2
      outputs: %7, %14
      == canonicalize (15 → 13): mul-minus-one×1, div-neg-num×1, mul-neg×1, sum-neg×2, sub-neg×1, add-neg×1
      %0 = input "t" : float32[2,3]
      %1 = input "x" : float32[2,3]
      %2 = softmax %1 {axis=1} : float32[2,3]
      %3 = log %2 : float32[2,3]
      %4 = mul %0, %3 : float32[2,3]
      %5 = sum %4 {axes=[1] keepDims=false} : float32[2]
      %6 = sum %5 {axes=[0] keepDims=false} : float32[]
      %7 = neg %6 : float32[]
      %8 = div %0, %2 : float32[2,3]  ; adjoint of %3
      %9 = mul %8, %2 : float32[2,3]  ; adjoint of %2
      %10 = sum %9 {axes=[1] keepDims=true} : float32[2,1]  ; adjoint of %2
      %11 = sub %10, %8 : float32[2,3]  ; adjoint of %2
      %12 = mul %2, %11 : float32[2,3]  ; adjoint of %2
      outputs: %7, %12
      == stabilize (13 → 8): softmax-log-grad-neg×1, log-softmax×1, softmax-cross-entropy×1, sum-neg×1, neg-neg×1
      %0 = input "x" : float32[2,3]
      %1 = input "t" : float32[2,3]
      %2 = softmaxCrossEntropy %0, %1 {axis=1 keepDims=false} : float32[2]
      %3 = sum %2 {axes=[0] keepDims=false} : float32[]
      %4 = softmax %0 {axis=1} : float32[2,3]
      %5 = sum %1 {axes=[1] keepDims=true} : float32[2,1]  ; adjoint of %4
      %6 = mul %4, %5 : float32[2,3]  ; adjoint of %4
      %7 = sub %6, %1 : float32[2,3]  ; adjoint of %4
      outputs: %3, %7
      == specialize: no change
      == fuse: no change
      == planMemory: no change
      == lower: no change
      "
    `);
  });
});
