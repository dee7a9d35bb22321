import { describe, expect, it } from 'vitest';
import { compile, customGrad, defineOp, grad, Graph, GraphError, printProgram, buildProgram, SerializationError, Tensor, verifyGraph, randomNormalLike, type Sym } from './index';

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

  it('a param named __proto__ (or toString) keeps its value through toJSON and fromJSON', () => {
    const g = new Graph();
    const p = g.param('__proto__', Tensor.from([1, 2]));
    const q = g.param('toString', Tensor.from([3]));
    const x = g.input('constructor', [2]);
    const y = x.mul(p).sum().add(q.sum());
    const doc = g.toJSON();
    expect(Object.keys(doc.values)).toEqual(['__proto__', 'toString']);
    expect(Object.getPrototypeOf(doc.values)).toBe(Object.prototype); // a plain object, not re-prototyped
    const h = Graph.fromJSON(JSON.stringify(doc));
    expect(h.getValue('__proto__').toArray()).toEqual([1, 2]);
    expect(h.getValue('toString').toArray()).toEqual([3]);
    expect(compile(h, { outputs: [h.sym(y.id)] }).run({ constructor: Tensor.from([1, 1]) })[0].item()).toBe(6);
    // a document that lacks the value says so (it is not read from Object.prototype)
    const d = JSON.parse(JSON.stringify(doc));
    delete d.values.toString;
    expect(() => Graph.fromJSON(d)).toThrow(/param "toString" has no value in the document/);
  });

  it('a 10,000-deep document is a SerializationError, not a stack overflow', () => {
    const { g } = model();
    const text = JSON.stringify(g.toJSON());
    expect(text).toContain('"collections":{}');
    const deep = text.replace('"collections":{}', `"collections":{"deep":[${'['.repeat(10000)}${']'.repeat(10000)}]}`);
    expect(() => Graph.fromJSON(deep)).toThrow(SerializationError);
    expect(() => Graph.fromJSON(deep)).toThrow(/nested more than 256 levels deep \(at collections\.deep\[0\]\[0\]/);
    expect(() => Graph.fromJSON(JSON.parse(deep))).toThrow(SerializationError);
    const attrs = JSON.parse(JSON.stringify(g.toJSON()));
    attrs.nodes[4].attrs = { x: JSON.parse('{"a":'.repeat(5000) + '1' + '}'.repeat(5000)) };
    expect(() => Graph.fromJSON(attrs)).toThrow(/nested more than 256 levels deep \(at nodes\[4\]\.attrs\.x\.a\.a/);
  });
});

describe('saved programs', () => {
  /** A model with state (an SGD-with-momentum velocity and a step counter) updated each run. */
  function trainable() {
    const g = new Graph({ seed: 2 });
    const x = g.input('x', [null, 3]);
    const w = g.param('w', Tensor.from([[0.5], [-1], [2]]));
    const v = g.state('velocity', Tensor.zeros([3, 1]));
    const t = g.state('t', Tensor.scalar(0));
    const loss = x.matmul(w).square().mean();
    const accuracy = loss.less(1).cast('float32');
    const [dw] = grad(loss, [w]);
    const v2 = v.mul(0.9).add(dw);
    const updates: [ReturnType<typeof g.input>, ReturnType<typeof g.input>][] = [[v, v2], [w, w.sub(v2.mul(0.1))], [t, t.add(1)]];
    return { g, x, w, loss, accuracy, updates };
  }
  const batch = (k: number) => ({ x: Tensor.randn([4, 3], 'float32', k) });

  it('keeps named outputs, update pairs and notes through toJSON: the loaded program continues exactly', () => {
    const a = trainable();
    a.g.saveProgram('train', { inputs: [a.x], outputs: { loss: a.loss, accuracy: a.accuracy }, updates: a.updates, meta: { optimizer: { name: 'momentum', lr: 0.1 } } });
    const exe = compile(a.g, a.g.program('train'));
    for (let k = 0; k < 3; k++) exe.run(batch(k));
    const text = JSON.stringify(a.g.toJSON());
    const uninterrupted = [3, 4, 5].map((k) => exe.run(batch(k)).map((t) => t.item()));

    const h = Graph.fromJSON(text);
    expect(h.programNames()).toEqual(['train']);
    const p = h.program('train');
    expect(p.outputNames).toEqual(['loss', 'accuracy']);
    expect(p.named.loss.id).toBe(a.loss.id);
    expect(p.inputs.map((s) => s.name)).toEqual(['x']);
    expect(p.updates.map(([q]) => q.name)).toEqual(['velocity', 'w', 't']);
    expect(p.meta).toEqual({ optimizer: { name: 'momentum', lr: 0.1 } });
    // one call: the same program over the saved values (velocity and counter included)
    const again = compile(h, p);
    expect([3, 4, 5].map((k) => again.run(batch(k)).map((t) => t.item()))).toEqual(uninterrupted);
    expect(h.getValue('t').item()).toBe(6);
    expect(Array.from(h.getValue('w').data)).toEqual(Array.from(a.g.getValue('w').data));
    // extra compile options are added by spreading it
    expect(compile(h, { ...h.program('train'), backend: 'interpreter' }).backend).toBe('interpreter');
  });

  it('saves an executable as it was requested; refuses bad programs and names', () => {
    const a = trainable();
    const exe = compile(a.g, { outputs: [a.loss], updates: a.updates });
    const p = a.g.saveProgram('step', exe);
    expect(p.outputNames).toEqual(['out0']);
    expect(p.updates).toHaveLength(3);
    expect(() => a.g.program('nope')).toThrow(/no program is saved under "nope"; the graph has "step"/);
    expect(() => a.g.saveProgram('', { outputs: [a.loss] })).toThrow(GraphError);
    expect(() => a.g.saveProgram('x', { outputs: [a.loss], update: [] } as never)).toThrow(/unknown option "update"/);
    expect(() => a.g.saveProgram('x', { outputs: [a.loss], updates: [[a.loss, a.loss]] })).toThrow(/the target %\d+ is a mean node, not a param/);
    expect(() => a.g.saveProgram('x', { outputs: [a.loss], meta: (() => 1) as never })).toThrow(/meta must be JSON-able/);
    expect(() => a.g.saveProgram('x', { outputs: [new Graph().input('z', [1])] })).toThrow(/not a symbol of this graph/);
    // a document whose program writes something that is not a param is refused
    a.g.saveProgram('train', { outputs: { loss: a.loss }, updates: a.updates });
    const d = JSON.parse(JSON.stringify(a.g.toJSON()));
    d.programs.train.updates[0][0] = a.loss.id;
    expect(() => Graph.fromJSON(d)).toThrow(/program "train": update 0 writes %\d+, a mean node, not a param/);
    const e = JSON.parse(JSON.stringify(a.g.toJSON()));
    e.programs.train.outputNames = ['loss', 'loss'];
    expect(() => Graph.fromJSON(e)).toThrow(/outputNames must be one distinct name per output/);
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
