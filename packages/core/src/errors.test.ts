import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GradgraphError, Graph, ShapeError, Tensor, compile, grad, GradError, DTypeError, GraphError } from './index';

const thisFile = fileURLToPath(import.meta.url);

function catchErr(f: () => unknown): GradgraphError {
  try {
    f();
  } catch (e) {
    if (e instanceof GradgraphError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('errors', () => {
  it('a matmul shape mismatch names both shapes and the user line in this file', () => {
    const g = new Graph();
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [4, 5]);
    const err = catchErr(() => g.scope('layer1', () => a.matmul(b))); const line = new Error().stack!.split('\n')[1].match(/:(\d+):\d+/)![1];
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/^matmul: inner dimensions differ: \[2,3\] @ \[4,5\] \(3 vs 4\)/);
    expect(err.message).toMatch(/scope "layer1"/);
    expect(err.origin).toBe(`${thisFile}:${line}:${err.origin!.split(':').pop()}`);
    expect(err.origin!.startsWith(thisFile)).toBe(true);
    expect(err.message).toContain(thisFile);
    expect(err.op).toBe('matmul');
    expect(err.shapes).toEqual([[2, 3], [4, 5]]);
  });

  it('node origins point at the user line, not the library', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = x.exp(); const line = new Error().stack!.split('\n')[1].match(/:(\d+):\d+/)![1];
    expect(y.node.origin.startsWith(`${thisFile}:${line}:`)).toBe(true);
  });

  it('dtype errors name the dtypes', () => {
    const g = new Graph();
    const b = g.input('b', [2], 'bool');
    const err = catchErr(() => b.neg());
    expect(err).toBeInstanceOf(DTypeError);
    expect(err.message).toMatch(/^neg: operand must be numeric, got bool/);
  });

  it('grad of a non-scalar is refused', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const err = catchErr(() => grad(x.mul(2), [x]));
    expect(err).toBeInstanceOf(GradError);
    expect(err.message).toMatch(/not a scalar/);
    expect(err.origin!.startsWith(thisFile)).toBe(true);
  });

  it('a feed of the wrong dtype or shape names the input', () => {
    const g = new Graph();
    const x = g.input('pixels', [null, 784]);
    const exe = compile(g, { outputs: [x.sum()] });
    expect(() => exe.run({ pixels: Tensor.zeros([1, 784], 'float64') })).toThrow(/input "pixels" is float64\[1,784\], expected float32\[\?,784\]/);
    expect(() => exe.run({ pixels: Tensor.zeros([1, 783]) })).toThrow(/input "pixels" has shape \[1,783\], expected float32\[\?,784\]/);
  });

  it('builder misuse: symbols of two graphs, duplicate names, non-symbol operands', () => {
    const g1 = new Graph();
    const g2 = new Graph();
    const a = g1.input('a', [2]);
    const b = g2.input('b', [2]);
    expect(() => a.add(b)).toThrow(/another graph/);
    expect(() => g1.input('a', [2])).toThrow(/an input named "a" already exists/);
    g1.param('w', Tensor.zeros([1]));
    expect(() => g1.param('w', Tensor.zeros([1]))).toThrow(/a param named "w" already exists/);
    expect(() => a.add([1, 2] as never)).toThrow(GraphError);
    expect(() => a.add([1, 2] as never)).toThrow(/operand is an array; pass a symbol or a number/);
  });

  it('errors carry op, shapes, scope and origin as fields', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const err = catchErr(() => g.scope('enc', () => g.scope('dense', () => x.reshape([5]))));
    expect(err.op).toBe('reshape');
    expect(err.scope).toBe('enc/dense');
    expect(err.message).toMatch(/cannot reshape \[2,3\] \(6 elements\) to \[5\]/);
  });

  it('run-time kernel errors are wrapped with the node context', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const idx = g.input('i', [2], 'int32');
    const y = x.gather(idx);
    const exe = compile(g, { outputs: [y] });
    const err = catchErr(() => exe.run({ x: [1, 2, 3], i: Tensor.from([0, 7], 'int32') }));
    expect(err.message).toMatch(/^gather: index 7 at position 1 is out of range \[0, 3\)/);
    expect(err.origin!.startsWith(thisFile)).toBe(true);
  });

  it('withOrigin: nodes made inside record the given origin (an importer points at the file), and run-time errors name it', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const idx = g.input('i', [2], 'int32');
    const y = g.withOrigin('model.onnx: Gather node "/emb/Gather"', () => x.gather(idx));
    const z = y.exp();
    expect(y.node.origin).toBe('model.onnx: Gather node "/emb/Gather"');
    expect(z.node.origin.startsWith(thisFile)).toBe(true); // back to the caller's line outside
    const err = catchErr(() => compile(g, { outputs: [y] }).run({ x: [1, 2, 3], i: Tensor.from([0, 7], 'int32') }));
    expect(err.origin).toBe('model.onnx: Gather node "/emb/Gather"');
    expect(catchErr(() => g.withOrigin('', () => x)).message).toMatch(/non-empty string/);
  });
});
