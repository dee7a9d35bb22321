import { describe, expect, it } from 'vitest';
import { compile, customGrad, defineOp, grad, Graph, printProgram, buildProgram, SerializationError, Tensor, verifyGraph, randomNormalLike, type Sym } from './index';

function model() {
  const g = new Graph({ seed: 11 });
  const x = g.input('x', [null, 3], 'float32', { default: Tensor.zeros([1, 3]) });
  const w = g.scope('dense', () => g.param('kernel', Tensor.from([[1, -1], [0.5, 2], [-3, 0.25]])));
  const s = g.state('steps', Tensor.from(4));
  const y = g.scope('dense', () => x.matmul(w).tanh().add(randomNormalLike(w).mul(0)));
  const loss = y.mul(y).mean().add(s);
  const [dw] = grad(loss, [w]);
  return { g, x, w, s, loss, dw };
}

describe('graph serialization', () => {
  it('round-trips nodes, param values, state, seed and RNG counter', () => {
    const { g, loss, dw } = model();
    g.rngCounter = 7;
    g.setValue('dense/kernel', Tensor.from([[NaN, Infinity], [-0, 1e-40], [3, 4]]));
    const doc = JSON.parse(JSON.stringify(g.toJSON()));
    const h = Graph.fromJSON(doc);
    verifyGraph(h);
    expect(h.seed).toBe(11);
    expect(h.rngCounter).toBe(7);
    expect(h.size).toBe(g.size);
    expect(h.params().map((p) => p.name)).toEqual(['dense/kernel']);
    expect(h.stateVars().map((p) => p.name)).toEqual(['steps']);
    const got = h.getValue('dense/kernel').data;
    const want = g.getValue('dense/kernel').data;
    expect(Object.is(got[2], -0)).toBe(true);
    expect([...got]).toEqual([...want]);
    // the same program, node for node, and it runs the same
    const p1 = printProgram(buildProgram(g, { outputs: [loss, dw] }));
    const p2 = printProgram(buildProgram(h, { outputs: [h.sym(loss.id), h.sym(dw.id)] }));
    expect(p2).toBe(p1);
    g.setValue('dense/kernel', Tensor.from([[1, 2], [3, 4], [5, 6]]));
    h.setValue('dense/kernel', Tensor.from([[1, 2], [3, 4], [5, 6]]));
    const feeds = { x: Tensor.from([[1, 2, 3]]) };
    expect(compile(h, { outputs: [h.sym(loss.id)] }).run(feeds)[0].item()).toBe(compile(g, { outputs: [loss] }).run(feeds)[0].item());
    // origins and scopes survive; building goes on with hash-consing intact
    expect(h.sym(dw.id).node.adjointOf).toBe(dw.node.adjointOf);
    expect(h.byName('x')!.node.origin).toBe(g.byName('x')!.node.origin);
    const hx = h.byName('x')!;
    expect(hx.matmul(h.byName('dense/kernel')!).id).toBe(g.byName('x')!.matmul(g.byName('dense/kernel')!).id);
  });

  it('saves graph collections, and refuses items that are not JSON-able', () => {
    const { g, w, s } = model();
    g.addToCollection('nn/stateUpdates', [s.id, w.id]);
    g.addToCollection('notes', { text: 'hello', n: 2 });
    const h = Graph.fromJSON(JSON.stringify(g.toJSON()));
    expect(h.collection('nn/stateUpdates')).toEqual([[s.id, w.id]]);
    expect(h.collection('notes')).toEqual([{ text: 'hello', n: 2 }]);
    expect(h.collectionNames()).toEqual(['nn/stateUpdates', 'notes']);
    // collection() returns copies
    (h.collection('notes')[0] as { n: number }).n = 5;
    expect(h.collection('notes')).toEqual([{ text: 'hello', n: 2 }]);
    expect(() => g.addToCollection('bad', (() => 1) as never)).toThrow(/must be JSON-able/);
  });

  it('accepts the document as a string', () => {
    const { g } = model();
    expect(Graph.fromJSON(JSON.stringify(g.toJSON())).size).toBe(g.size);
  });

  it('refuses corrupt or mismatched documents clearly', () => {
    const { g } = model();
    const good = () => JSON.parse(JSON.stringify(g.toJSON()));
    const expectRefusal = (mutate: (d: any) => void, re: RegExp) => {
      const d = good();
      mutate(d);
      let err: unknown;
      try {
        Graph.fromJSON(d);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SerializationError);
      expect((err as Error).message).toMatch(re);
    };
    expect(() => Graph.fromJSON('{not json')).toThrow(/not valid JSON/);
    expectRefusal((d) => (d.format = 'onnx'), /not a gradgraph graph document \(format is "onnx"/);
    expectRefusal((d) => (d.version = 99), /unsupported document version 99/);
    expectRefusal((d) => (d.nodes[3].inputs = [7]), /node 3 .* has inputs \[7\]; each must name an earlier node/);
    expectRefusal((d) => (d.nodes[2].op = 'frobnicate'), /node 2 uses op "frobnicate", which is not registered/);
    expectRefusal((d) => (d.nodes[4].type.shape = [9, 9]), /node 4 \(\w+\) is recorded as float32\[9,9\], but its shape rule gives/);
    expectRefusal((d) => delete d.values['dense/kernel'], /param "dense\/kernel" has no value/);
    expectRefusal((d) => (d.values['dense/kernel'].data = 'AAAA'), /value of "dense\/kernel": float32\[3,2\] needs 24 bytes, the data has 3/);
    expectRefusal((d) => (d.values['dense/kernel'].shape = [2, 3]), /value of "dense\/kernel" is float32\[2,3\], the param is float32\[3,2\]/);
    expectRefusal((d) => (d.values.ghost = d.values.steps), /value for "ghost", which is not a param/);
    expectRefusal((d) => (d.nodes[1].id = 5), /node 1 has id 5/);
  });
});

describe('custom gradients and user ops are saved by name', () => {
  // two custom gradients; the saved graph uses the second. The old format referred to it by
  // creation index ("custom1"), so a process that defined them in the other order used the first.
  const square = customGrad((x: Sym) => x.mul(x), (x, _y, dy) => [dy.mul(x).mul(2)], { name: 'trust.square' });
  const softplusish = customGrad((x: Sym) => x.exp().add(1).log(), (x, _y, dy) => [dy.mul(x.sigmoid())], { name: 'trust.softplus' });

  function saved() {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const y = softplusish(x).sum();
    return { doc: JSON.parse(JSON.stringify(g.toJSON())), x, y };
  }
  const gradOf = (h: Graph, yId: number) => {
    const [dx] = grad(h.sym(yId), [h.byName('x')!]);
    return Array.from(compile(h, { outputs: [dx] }).run({ x: Tensor.from([0.5, -1], 'float64') })[0].data);
  };
  const sig = (v: number) => 1 / (1 + Math.exp(-v));

  it('a document names the custom gradient, not its creation index, and loads by that name', () => {
    const { doc, y } = saved();
    const node = doc.nodes.find((n: { op: string }) => n.op === 'customGrad');
    expect(node.attrs).toEqual({ name: 'trust.softplus' });
    const got = gradOf(Graph.fromJSON(doc), y.id);
    expect(got[0]).toBeCloseTo(sig(0.5), 14);
    expect(got[1]).toBeCloseTo(sig(-1), 14);
  });

  it('an old document pointing at another definition by index still gets the named one', () => {
    const { doc, y } = saved();
    // what "custom0" meant in a process that created trust.square first: the wrong VJP (2x·dy)
    const other = new Graph();
    const wrongFn = square(other.input('z', [1], 'float64')).node.attrs.fn;
    doc.nodes.find((n: { op: string }) => n.op === 'customGrad').attrs.fn = wrongFn;
    const got = gradOf(Graph.fromJSON(doc), y.id);
    expect(got.map((v) => +v.toFixed(2))).toEqual([0.62, 0.27]);
  });

  it('refuses a document whose custom gradient is missing or ambiguous, naming it', () => {
    const { doc } = saved();
    doc.nodes.find((n: { op: string }) => n.op === 'customGrad').attrs.name = 'trust.nowhere';
    expect(() => Graph.fromJSON(doc)).toThrow(SerializationError);
    expect(() => Graph.fromJSON(doc)).toThrow(/node \d+ \(customGrad\): no custom gradient named "trust\.nowhere" is defined in this process: create it with customGrad\(f, vjp, \{ name: 'trust\.nowhere' \}\) before loading/);
    // two definitions with one name: a graph built here knows which; a loaded one cannot
    const a = customGrad((x: Sym) => x.sin(), (x, _y, dy) => [dy.mul(x.cos())], { name: 'trust.twice' });
    customGrad((x: Sym) => x.sin(), (_x, _y, dy) => [dy], { name: 'trust.twice' });
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const y = a(x).sum();
    const [dx] = grad(y, [x]);
    expect(Array.from(compile(g, { outputs: [dx] }).run({ x: Tensor.from([0, 0], 'float64') })[0].data)).toEqual([1, 1]);
    expect(() => Graph.fromJSON(JSON.stringify(g.toJSON()))).toThrow(/the custom gradient name "trust\.twice" is ambiguous: 2 customGrad definitions in this process have it; give each its own name/);
  });

  it('the default name is the function’s name, else "custom"', () => {
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const named = customGrad(function trustHalf(v: Sym) {
      return v.mul(0.5);
    }, (_v, _y, dy) => [dy.mul(0.5)]);
    const anonymous = customGrad((v: Sym) => v.mul(3), (_v, _y, dy) => [dy.mul(3)]);
    expect(named(x).node.attrs.name).toBe('trustHalf');
    expect(anonymous(x).node.attrs.name).toBe('custom');
  });

  it('a defineOp op is referred to by its op name: loads where defined, refused by name where not', () => {
    const twice = defineOp({ name: 'trustTwice', arity: 1, kind: 'elementwise', infer: ([t]) => t, kernel: ([t]) => { const o = t.clone(); o.data.forEach((v, i) => (o.data[i] = 2 * v)); return o; }, vjp: ({ dy }) => [dy.mul(2)] });
    const g = new Graph();
    const x = g.input('x', [2], 'float64');
    const y = twice(x).sum();
    const doc = JSON.parse(JSON.stringify(g.toJSON()));
    const h = Graph.fromJSON(doc);
    const [dx] = grad(h.sym(y.id), [h.byName('x')!]);
    expect(Array.from(compile(h, { outputs: [h.sym(y.id), dx] }).run({ x: Tensor.from([1, 2], 'float64') }).flatMap((t) => Array.from(t.data)))).toEqual([6, 2, 2]);
    doc.nodes.find((n: { op: string }) => n.op === 'trustTwice').op = 'trustThrice';
    expect(() => Graph.fromJSON(doc)).toThrow(/node 1 uses op "trustThrice", which is not registered in this process \(define it with defineOp before loading\)/);
  });
});

describe('Graph.fromJSON stores the attributes the op normalizes, as building does', () => {
  function doc(axes: unknown) {
    const g = new Graph();
    const x = g.input('x', [2, 3], 'float64');
    const s = x.sum([1]);
    const d = JSON.parse(JSON.stringify(g.toJSON()));
    d.nodes[s.id].attrs.axes = axes;
    return { d, s };
  }
  const feeds = { x: Tensor.from([[1, 2, 3], [4, 5, 6]], 'float64') };

  it('axes: [-1] is stored as [1] (it gave a wrong answer)', () => {
    const { d, s } = doc([-1]);
    const h = Graph.fromJSON(d);
    expect(h.node(s.id).attrs.axes).toEqual([1]);
    expect(Array.from(compile(h, { outputs: [h.sym(s.id)] }).run(feeds)[0].data)).toEqual([6, 15]);
    // and hash-consing sees the same node the builder would make
    expect(h.byName('x')!.sum([-1]).id).toBe(s.id);
  });

  it('axes: null is stored as every axis, with the recorded type checked against it (it was a TypeError in fuse)', () => {
    const { d, s } = doc(null);
    d.nodes[s.id].type.shape = [];
    const h = Graph.fromJSON(d);
    expect(h.node(s.id).attrs.axes).toEqual([0, 1]);
    expect(compile(h, { outputs: [h.sym(s.id)] }).run(feeds)[0].item()).toBe(21);
    expect(compile(h, { outputs: [h.sym(s.id)], backend: 'interpreter' }).run(feeds)[0].item()).toBe(21);
  });

  it('attributes the op refuses are a SerializationError naming the node', () => {
    const { d } = doc([7]);
    expect(() => Graph.fromJSON(d)).toThrow(SerializationError);
    expect(() => Graph.fromJSON(d)).toThrow(/node 1 \(sum\): /);
  });
});
