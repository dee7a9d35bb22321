import { describe, expect, it } from 'vitest';
import { BACKENDS, compile as compileWith, FeedError, grad, Graph, NonFiniteError, randomNormalLike, Tensor, UpdateError, type CompileOptions } from './index';

// every test on both backends: the compiled backend must behave exactly like the interpreter
describe.each(BACKENDS)('executor (%s backend)', (backend) => {
  const compile = (g: Graph, opts: CompileOptions) => compileWith(g, { ...opts, backend });

  it('applies updates atomically: two params swap through updates', () => {
    const g = new Graph();
    const a = g.param('a', Tensor.from([1, 2]));
    const b = g.param('b', Tensor.from([3, 4]));
    const swap = compile(g, { outputs: [a, b], updates: [[a, b], [b, a]] });
    const [oa, ob] = swap.run();
    expect(oa.toArray()).toEqual([1, 2]); // outputs see values from before the updates
    expect(ob.toArray()).toEqual([3, 4]);
    expect(g.getValue(a).toArray()).toEqual([3, 4]);
    expect(g.getValue(b).toArray()).toEqual([1, 2]);
    swap.run();
    expect(g.getValue(a).toArray()).toEqual([1, 2]);
  });

  it('shares param values between executables compiled from one graph', () => {
    const g = new Graph();
    const x = g.input('x', [null, 2]);
    const w = g.param('w', Tensor.from([[1], [1]]));
    const y = x.matmul(w).sum();
    const [dw] = grad(y, [w]);
    const step = compile(g, { inputs: [x], outputs: [y], updates: [[w, w.sub(dw.mul(0.5))]] });
    const evaluate = compile(g, { inputs: [x], outputs: [y] });
    const feeds = { x: Tensor.from([[1, 2], [3, 4]]) };
    expect(evaluate.run(feeds)[0].item()).toBe(10);
    expect(step.run(feeds)[0].item()).toBe(10);
    // w ← w − 0.5·[4, 6]ᵀ = [−1, −2]ᵀ, visible to the other executable at once
    expect(evaluate.run(feeds)[0].item()).toBe(-1 - 4 - 3 - 8);
    expect(g.getValue(w).toArray()).toEqual([[-1], [-2]]);
  });

  it('moveStorage: moves a param into another array (copied, or not with copy: false), executables re-bind, bad arrays refused', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, 2], 'float32'));
    const exe = compile(g, { inputs: [x], outputs: [x.mul(w).sum()] });
    const feeds = { x: Tensor.from([1, 1], 'float32') };
    expect(exe.run(feeds)[0].item()).toBe(3);
    const st = g.storage(w);
    const version = g.storageVersion;
    const moved = new Float32Array(2);
    expect(g.moveStorage(w, moved)).toBe(st); // the same Tensor object
    expect(st.data).toBe(moved);
    expect([...moved]).toEqual([1, 2]); // copied
    expect(g.storageVersion).toBe(version + 1);
    moved[1] = 5; // the new array is the storage: the executable reads it
    expect(exe.run(feeds)[0].item()).toBe(6);
    // copy: false trusts the caller: the values are the new array's
    const fresh = Float32Array.from([7, 0]);
    g.moveStorage('w', fresh, { copy: false });
    expect(g.getValue(w).toArray()).toEqual([7, 0]);
    expect(exe.run(feeds)[0].item()).toBe(7);
    expect(() => g.moveStorage(w, new Float32Array(3))).toThrow(UpdateError);
    expect(() => g.moveStorage(w, new Float64Array(2))).toThrow(/must be float32 data of 2 elements/);
    expect(g.getValue(w).toArray()).toEqual([7, 0]); // a refused move changes nothing
  });

  it('outputs are fresh tensors the caller may keep', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([1, 2]));
    const exe = compile(g, { outputs: [w], updates: [[w, w.add(1)]] });
    const [first] = exe.run();
    exe.run();
    expect(first.toArray()).toEqual([1, 2]);
    first.data[0] = 99;
    expect(g.getValue(w).toArray()).toEqual([3, 4]);
  });

  it('needs only the inputs that outputs and updates depend on, and accepts nested arrays', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    g.input('unused', [3]);
    const exe = compile(g, { outputs: [x.mul(2)] });
    expect(exe.inputs.map((i) => i.name)).toEqual(['x']);
    expect(exe.run({ x: [1, 2] })[0].toArray()).toEqual([2, 4]);
  });

  it('validates feeds and names the input', () => {
    const g = new Graph();
    const x = g.input('x', [null, 4]);
    const y = g.input('y', [null], 'int32');
    const exe = compile(g, { inputs: [x, y], outputs: [x.sum().add(y.sum().cast('float32'))] });
    expect(() => exe.run({ x: Tensor.zeros([2, 4]) })).toThrow(FeedError);
    expect(() => exe.run({ x: Tensor.zeros([2, 4]) })).toThrow(/missing feed for input "y" \(expected int32\[\?\]\)/);
    expect(() => exe.run({ x: Tensor.zeros([2, 4]), y: Tensor.zeros([2]) })).toThrow(/feed for input "y" is float32\[2\], expected int32\[\?\]: wrong dtype/);
    expect(() => exe.run({ x: Tensor.zeros([2, 3]), y: Tensor.zeros([2], 'int32') })).toThrow(/feed for input "x" has shape \[2,3\], expected float32\[\?,4\]/);
    expect(() => exe.run({ x: Tensor.zeros([2, 4]), y: Tensor.zeros([2], 'int32'), z: Tensor.zeros([1]) })).toThrow(/feed "z" names no input of the graph \(inputs: x, y\)/);
    expect(() => exe.run({ x: [[1, 2], [3]] as never, y: Tensor.zeros([2], 'int32') })).toThrow(/feed for input "x" is not a tensor or a nested array/);
  });

  it('checks run-time dims across inputs with a clear error', () => {
    const g = new Graph();
    const a = g.input('a', [null, 2]);
    const b = g.input('b', [null, 2]);
    const exe = compile(g, { outputs: [a.add(b)] });
    expect(() => exe.run({ a: Tensor.zeros([2, 2]), b: Tensor.zeros([3, 2]) })).toThrow(/add: shapes \[2,2\] and \[3,2\] do not broadcast[\s\S]*compile\.test\.ts/);
  });

  it('uses input defaults when a feed is omitted', () => {
    const g = new Graph();
    const training = g.input('training', [], 'bool', { default: false });
    const x = g.input('x', [2]);
    const exe = compile(g, { outputs: [training.cast('float32').add(x)] });
    expect(exe.run({ x: [1, 2] })[0].toArray()).toEqual([1, 2]);
    expect(exe.run({ x: [1, 2], training: true })[0].toArray()).toEqual([2, 3]);
  });

  it('refuses an update whose target is not a param, or whose value does not fit', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const w = g.param('w', Tensor.from([1, 2]));
    const h = w.mul(2);
    expect(() => compile(g, { outputs: [], updates: [[h, w]] })).toThrow(UpdateError);
    expect(() => compile(g, { outputs: [], updates: [[h, w]] })).toThrow(/target %\d+ is a mul node, not a param/);
    expect(() => compile(g, { outputs: [], updates: [[x, w]] })).toThrow(/is a input node, not a param/);
    expect(() => compile(g, { outputs: [], updates: [[w, w.sum()]] })).toThrow(/new value for "w" is float32\[\], the param is float32\[2\]/);
    expect(() => compile(g, { outputs: [], updates: [[w, w.cast('float64')]] })).toThrow(/float64\[2\], the param is float32\[2\]/);
    expect(() => compile(g, { outputs: [], updates: [[w, h], [w, h]] })).toThrow(/"w" is updated twice/);
  });

  it('snapshots and restores param values and the RNG counter', () => {
    const g = new Graph({ seed: 5 });
    const w = g.param('w', Tensor.from([1, 2]));
    const noise = randomNormalLike(w);
    const exe = compile(g, { outputs: [noise], updates: [[w, w.add(noise)]] });
    const snap = g.snapshot();
    const a = exe.run()[0].toArray();
    const wa = g.getValue(w).toArray();
    exe.run();
    g.restore(snap);
    expect(g.getValue(w).toArray()).toEqual([1, 2]);
    expect(g.rngCounter).toBe(0);
    expect(exe.run()[0].toArray()).toEqual(a);
    expect(g.getValue(w).toArray()).toEqual(wa);
  });

  it('a bad snapshot leaves every value untouched', () => {
    const g = new Graph();
    const w = g.param('w', Tensor.from([1, 2]));
    const v = g.param('v', Tensor.from([3]));
    const snap = g.snapshot();
    const bad = new Map(snap.values);
    bad.set('w', Tensor.from([9, 9]));
    bad.set('v', Tensor.from([1, 2, 3]));
    expect(() => g.restore({ values: bad, rngCounter: 0 })).toThrow(/snapshot value for "v" is float32\[3\], expected float32\[1\]/);
    expect(g.getValue(w).toArray()).toEqual([1, 2]);
    expect(() => g.restore({ values: new Map([['nope', Tensor.from([1])]]), rngCounter: 0 })).toThrow(/"nope", which is not a param/);
  });

  it('random nodes: fresh numbers each run, the same for the same seed, different for another seed', () => {
    const draw = (seed: number) => {
      const g = new Graph({ seed });
      const x = g.input('x', [null]);
      const exe = compile(g, { outputs: [randomNormalLike(x)] });
      return [exe.run({ x: [0, 0, 0] })[0].toArray(), exe.run({ x: [0, 0, 0] })[0].toArray()];
    };
    const [a1, a2] = draw(1);
    expect(a1).not.toEqual(a2);
    expect(draw(1)).toEqual([a1, a2]);
    expect(draw(2)[0]).not.toEqual(a1);
  });

  it('nanGuard names the first node that produced NaN or Inf, with its scope and line', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('head', () => x.log()); // log(−1) = NaN
    const exe = compile(g, { outputs: [y.mul(2).exp()], nanGuard: true });
    let err: unknown;
    try {
      exe.run({ x: [1, -1] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toMatch(/^log: node %\d+ \(log\) produced NaN at element 1 of float32\[2\]/);
    expect((err as NonFiniteError).scope).toBe('head');
    expect((err as NonFiniteError).origin).toMatch(/compile\.test\.ts:\d+:\d+$/);
    // without the guard the NaN flows silently to the output
    const plain = compile(g, { outputs: [y.mul(2).exp()] });
    expect(Number.isNaN(plain.run({ x: [1, -1] })[0].data[1])).toBe(true);
    expect(() => compile(g, { outputs: [x.div(0)], nanGuard: true }).run({ x: [1, 0] })).toThrow(/produced \+Inf at element 0/);
  });

  it('nanGuard catches non-finite feeds and params by name', () => {
    const g = new Graph();
    const x = g.input('x', [1]);
    const exe = compile(g, { outputs: [x.add(1)], nanGuard: true });
    expect(() => exe.run({ x: [NaN] })).toThrow(/input "x" produced NaN/);
  });
});
