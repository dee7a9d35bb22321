import { describe, expect, it } from 'vitest';
import { compile, grad, Graph, printProgram, buildProgram, SerializationError, Tensor, verifyGraph, randomNormalLike } from './index';

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
