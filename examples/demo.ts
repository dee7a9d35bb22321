/**
 * A first end-to-end run: a two-layer network learns XOR-like data with symbolic gradients and
 * in-place updates, built from core primitives only. (The full demo lands with issue #8.)
 */
import { compile, grad, Graph, Tensor, where } from '@gradgraph/core';

const g = new Graph({ seed: 42 });
const x = g.input('x', [null, 2]);
const y = g.input('y', [null, 1]);
const w1 = g.param('w1', Tensor.randn([2, 16], 'float32', 1).astype('float32'));
const b1 = g.param('b1', Tensor.zeros([16]));
const w2 = g.param('w2', Tensor.randn([16, 1], 'float32', 2));
const b2 = g.param('b2', Tensor.zeros([1]));
const h = x.matmul(w1).add(b1);
const a = where(h.greater(0), h, 0); // relu
const logits = a.matmul(w2).add(b2);
// binary cross-entropy with logits: softplus(z) − y·z
const loss = logits.softplus().sub(y.mul(logits)).mean();
const params = [w1, b1, w2, b2];
const grads = grad(loss, params);
const lr = 0.5;
const step = compile(g, { inputs: [x, y], outputs: [loss], updates: params.map((p, i) => [p, p.sub(grads[i].mul(lr))] as const) });

const n = 256;
const pts = Tensor.rand([n, 2], 'float32', 7);
const xs = Tensor.from(Array.from({ length: n }, (_, i) => [pts.data[2 * i] * 2 - 1, pts.data[2 * i + 1] * 2 - 1]));
const ys = Tensor.from(Array.from({ length: n }, (_, i) => [xs.data[2 * i] * xs.data[2 * i + 1] > 0 ? 1 : 0]));

const t0 = performance.now();
let l = 0;
for (let epoch = 0; epoch <= 300; epoch++) {
  [l] = step.run({ x: xs, y: ys }).map((t) => t.item());
  if (epoch % 50 === 0) console.log(`epoch ${String(epoch).padStart(3)}  loss ${l.toFixed(4)}`);
}
const predict = compile(g, { inputs: [x], outputs: [logits] });
const [z] = predict.run({ x: xs });
let correct = 0;
for (let i = 0; i < n; i++) if ((z.data[i] > 0 ? 1 : 0) === ys.data[i]) correct++;
console.log(`train accuracy ${((100 * correct) / n).toFixed(1)}%  (train time ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
