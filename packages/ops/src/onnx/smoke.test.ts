import { Graph, Tensor, compile } from '@gradgraph/core';
import * as ort from 'onnxruntime-node';
import { it, expect } from 'vitest';
import { nn, exportOnnx } from '../index';
it('smoke', async () => {
  for (const act of ['relu', 'prelu', 'splash', 'apl', 'leaky'] as const) {
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 5]);
    const h = g.scope('hidden', () => { const z = nn.dense(x, 8); return act === 'relu' ? nn.relu(z) : act === 'prelu' ? nn.prelu(z) : act === 'splash' ? nn.splash(z) : act === 'apl' ? nn.apl(z) : nn.leakyRelu(z, 0.1); });
    const logits = nn.dropout(nn.softmax(nn.dense(h, 3)), 0.2);
    const bytes = await exportOnnx(g, { inputs: [x], outputs: [logits] });
    const s = await ort.InferenceSession.create(bytes);
    const xs = Tensor.randn([4, 5]);
    const r = await s.run({ x: new ort.Tensor('float32', xs.data as Float32Array, [4, 5]) });
    const [ref] = compile(g, { inputs: [x], outputs: [logits] }).run({ x: xs });
    const a = Array.from(ref.data), b = Array.from(r.output.data as Float32Array);
    console.log(act, bytes.length, Math.max(...a.map((v, i) => Math.abs(v - b[i]))));
  }
});
