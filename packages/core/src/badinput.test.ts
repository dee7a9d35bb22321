/**
 * Bad input the core used to accept silently or answer with a TypeError from deep inside: each
 * gets a typed error that names the problem, or a value that is kept.
 */
import { fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { matmul, randomNormal, randomUniform } from './api';
import { defineOp } from './autodiff';
import { compile } from './compile';
import { DTypeError, FeedError, GradgraphError, GraphError, ShapeError } from './errors';
import { gradcheck } from './gradcheck';
import { Graph } from './graph';
import { Tensor } from './tensor';
import { arbBroadcastableShapes, arbGraph, arbShape, arbTensor } from './testing/index';

/** The error `f` throws (failing the test if it throws none). */
function thrown(f: () => unknown): GradgraphError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GradgraphError);
    return e as GradgraphError;
  }
  throw new Error('expected an error');
}

describe('unknown options are refused, by name', () => {
  it('compile, explain, gradcheck, the graph builder and the ops that take options', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = x.mul(2).sum();
    // the typo that did nothing: the NaN guard was silently off
    const e = thrown(() => compile(g, { outputs: [y], nanguard: true } as never));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/^compile: unknown option "nanguard" \(did you mean "nanGuard"\?\); the options are inputs, outputs, updates, nanGuard, backend, threads, fastMath, passes, afterPass/);
    expect(() => compile(g, { outputs: [y], nanGuard: true })).not.toThrow();
    expect(() => compile(g, { outputs: [y] }).explain({ programs: false } as never)).toThrow(/^explain: unknown option "programs" \(did you mean "program"\?\)/);
    expect(() => gradcheck((a) => a.sum(), [Tensor.from([1], 'float64')], { tol: 1e-3 } as never)).toThrow(/^gradcheck: unknown option "tol" \(did you mean "atol"\?\); the options are eps, atol, rtol/);
    expect(() => new Graph({ sead: 1 } as never)).toThrow(/^Graph: unknown option "sead"/);
    expect(() => g.input('z', [1], 'float32', { defualt: 0 } as never)).toThrow(/^input: unknown option "defualt"/);
    expect(() => g.param('w', Tensor.zeros([1]), { trainble: false } as never)).toThrow(/^param: unknown option "trainble"/);
    expect(() => matmul(g.input('a', [2, 2]), g.input('b', [2, 2]), { transpose: true } as never)).toThrow(/^matmul: unknown option "transpose"/);
    expect(() => randomUniform(g, [2], { seed: 3 } as never)).toThrow(/^randomUniform: unknown option "seed"; the options are dtype, name, low, high/);
    expect(() => randomNormal(g, [2], { sd: 3 } as never)).toThrow(/^randomNormal: unknown option "sd"/);
  });

  it('the testing arbitraries, with bounds out of order refused too', () => {
    expect(() => arbTensor({ shap: [2] } as never)).toThrow(/^arbTensor: unknown option "shap"/);
    expect(() => arbTensor({ min: 2, max: 1 })).toThrow(/arbTensor: min \(2\) must not be above max \(1\)/);
    expect(() => arbTensor({ margin: -1 })).toThrow(/margin must be a number ≥ 0, got -1/);
    expect(() => arbShape({ maxrank: 2 } as never)).toThrow(/^arbShape: unknown option "maxrank" \(did you mean "maxRank"\?\)/);
    expect(() => arbShape({ minRank: 3, maxRank: 1 })).toThrow(/arbShape: minRank \(3\) is above maxRank \(1\)/);
    expect(() => arbBroadcastableShapes({ minDim: -1 })).toThrow(/minDim must be an integer ≥ 0, got -1/);
    expect(() => arbGraph({ steps: 3 } as never)).toThrow(/^arbGraph: unknown option "steps"/);
    expect(() => arbGraph({ ops: ['frobnicate'] })).toThrow(/arbGraph: no applicator for "frobnicate"/);
    // and the documented options do what they say
    fc.assert(fc.property(arbShape({ minRank: 2, maxRank: 2, minDim: 3, maxDim: 3 }), (s) => {
      expect(s).toEqual([3, 3]);
    }));
    fc.assert(fc.property(arbTensor({ shape: [6], awayFrom: [0], margin: 0.5 }), (t) => Array.from(t.data).every((v) => Math.abs(v) >= 0.5)));
    fc.assert(fc.property(arbTensor({ shape: [6], near: [1], margin: 0.01, exact: false }), (t) => Array.from(t.data).every((v) => Math.abs(v - 1) <= 0.01 + 1e-12)));
    fc.assert(fc.property(arbTensor({ shape: [4], dtype: 'int32', min: -2, max: 2 }), (t) => t.dtype === 'int32' && Array.from(t.data).every((v) => v >= -2 && v <= 2)));
  });
});

describe('tensors', () => {
  it('an unknown dtype is refused when the tensor is made, not later', () => {
    const e = thrown(() => new Tensor('float16' as never, [2]));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toBe('Tensor: unknown dtype "float16": gradgraph has float32, float64, int32, bool');
    expect(() => Tensor.zeros([2], 'bfloat16' as never)).toThrow(DTypeError);
    expect(() => new Tensor('float32', 3 as never)).toThrow(ShapeError);
  });

  it('int32 refuses numbers it cannot hold instead of wrapping them; its arithmetic wraps, as NumPy\'s', () => {
    expect(thrown(() => Tensor.from([1, 3e9], 'int32')).message).toMatch(/^Tensor.from: element at \[1\] is 3000000000, which int32 cannot hold \(integers from -2147483648 to 2147483647\); use float32 or float64/);
    expect(() => Tensor.from([NaN], 'int32')).toThrow(/element at \[0\] is NaN, which int32 cannot hold/);
    expect(() => Tensor.from(new Float64Array([Infinity]), 'int32')).toThrow(/element 0 is Infinity/);
    expect(() => Tensor.full([2], 2 ** 31, 'int32')).toThrow(/Tensor.full: the value is 2147483648/);
    expect(Tensor.from([2147483647, -2147483648, 2.9, -2.9], 'int32').toArray()).toEqual([2147483647, -2147483648, 2, -2]); // truncated toward zero
    // a weak-typed constant too: x + 3e9 on int32 is refused where it is written
    const g = new Graph();
    const x = g.input('x', [1], 'int32');
    expect(() => x.add(3e9)).toThrow(DTypeError);
    // arithmetic on int32 values wraps modulo 2³², as in NumPy and TensorFlow (documented)
    const y = x.add(1);
    expect(compile(g, { outputs: [y] }).run({ x: Tensor.from([2147483647], 'int32') })[0].toArray()).toEqual([-2147483648]);
    expect(compile(g, { outputs: [y], backend: 'interpreter' }).run({ x: Tensor.from([2147483647], 'int32') })[0].toArray()).toEqual([-2147483648]);
  });
});

describe('messages', () => {
  it('a NaN dim is printed as NaN, not as the null JSON.stringify makes of it', () => {
    const g = new Graph();
    expect(thrown(() => g.input('a', [NaN])).message).toMatch(/^input: input "a" has an invalid shape \[NaN\]: use non-negative integers or null/);
    const x = g.input('x', [null, 4]);
    expect(thrown(() => x.reshape([2, NaN])).message).toMatch(/reshape: shape must be an array of integers, got \[2,NaN\]/);
    expect(thrown(() => x.sum([NaN as never])).message).toMatch(/NaN/);
    expect(thrown(() => new Tensor('float32', [NaN])).message).toMatch(/invalid shape \[NaN\]/);
  });
});

describe('running', () => {
  it('an input named toString is fed, not read from Object.prototype', () => {
    const g = new Graph();
    const x = g.input('toString', [2]);
    const exe = compile(g, { outputs: [x.mul(2)] });
    expect(() => exe.run({})).toThrow(FeedError);
    expect(() => exe.run({})).toThrow(/missing feed for input "toString" \(expected float32\[2\]\)/);
    expect(exe.run({ toString: Tensor.from([1, 2]) })[0].toArray()).toEqual([2, 4]);
    const c = g.input('constructor', [1]);
    expect(() => compile(g, { outputs: [c.add(1)], backend: 'interpreter' }).run({})).toThrow(/missing feed for input "constructor"/);
  });

  it('run() re-entered from inside a kernel is a typed error, not a TypeError in generated code', () => {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, 1]));
    let inner: ReturnType<typeof compile> | undefined;
    const nested = defineOp({
      name: 'test.callsRun',
      arity: 1,
      infer: ([a]) => a,
      kernel: ([a]) => {
        inner!.run({ x: a });
        return a.clone();
      },
      vjp: ({ dy }) => [dy],
    });
    const y = nested(x.mul(w)).sum();
    for (const backend of ['js', 'interpreter'] as const) {
      const exe = compile(g, { outputs: [y], backend });
      inner = exe; // the same executable, from inside its own run
      const e = thrown(() => exe.run({ x: Tensor.from([1, 2]) }));
      expect(e).toBeInstanceOf(GraphError);
      expect(e.message).toMatch(/^run: run\(\) was called while this executable is already running \(from inside one of its kernels\?\)/);
      // another executable of the graph that writes params, from inside the run: refused too
      inner = compile(g, { outputs: [x.sum()], updates: [[w, w.mul(2)]], backend });
      expect(() => exe.run({ x: Tensor.from([1, 2]) })).toThrow(/run\(\) of a program with 1 update was called while another program of the same graph is running/);
      expect(g.getValue(w).toArray()).toEqual([1, 1]);
      // one that only reads is fine; and after an error the executable runs again
      inner = compile(g, { outputs: [x.sum()], backend });
      expect(exe.run({ x: Tensor.from([1, 2]) })[0].item()).toBe(3);
    }
  });
});
