/**
 * Params moved into the WebAssembly memory get their values after the program module is emitted
 * (executor.ts, `adoptParam` with `defer`): the values must arrive whatever happens in between —
 * also when emitting the module throws.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../api';
import { grad } from '../../autodiff';
import { compile } from '../../compile';
import { Graph } from '../../graph';
import { Tensor } from '../../tensor';

const fail = vi.hoisted(() => ({ next: false }));
vi.mock('./program', async (importOriginal) => {
  const real = await importOriginal<typeof import('./program')>();
  return {
    ...real,
    buildProgram: (...args: Parameters<typeof real.buildProgram>) => {
      if (fail.next) {
        fail.next = false;
        throw new Error('emitting the program module failed (injected)');
      }
      return real.buildProgram(...args);
    },
  };
});

afterEach(() => {
  fail.next = false;
});

/** A float32 regression step with Adam-like zero state (a moment updated in place) and SGD on w and b. */
function build() {
  const g = new Graph({ seed: 1 });
  const x = g.input('x', [8, 4], 'float32');
  const w0 = Tensor.randn([4, 3], 'float32', 7);
  const b0 = Tensor.randn([3], 'float32', 8);
  const w = g.param('w', w0.clone());
  const b = g.param('b', b0.clone());
  const m = g.param('m', new Tensor('float32', [4, 3]));
  const loss = api.mean(api.square(api.add(api.matmul(x, w), b)));
  const [dw, db] = grad(loss, [w, b]);
  const m1 = api.add(api.mul(m, 0.9), api.mul(dw, 0.1));
  const updates = [
    [w, api.sub(w, api.mul(m1, 0.5))],
    [b, api.sub(b, api.mul(db, 0.5))],
    [m, m1],
  ] as const;
  const feeds = { x: Tensor.randn([8, 4], 'float32', 9) };
  return { g, w0, b0, loss, updates, x, feeds };
}

describe('params moved into the wasm memory', () => {
  it('get their values before the first step reads them', () => {
    const { g, w0, b0, loss, updates, x, feeds } = build();
    const wasm = compile(g, { inputs: [x], outputs: [loss], updates, backend: 'wasm' });
    const ref = build();
    const js = compile(ref.g, { inputs: [ref.x], outputs: [ref.loss], updates: ref.updates, backend: 'js' });
    for (let i = 0; i < 3; i++) {
      const [a] = wasm.run(feeds);
      const [r] = js.run(ref.feeds);
      expect(a.data[0]).toBeCloseTo(r.data[0], 5);
    }
    // and the first loss is the one of the initial values
    const fresh = build();
    const once = compile(fresh.g, { inputs: [fresh.x], outputs: [fresh.loss], backend: 'wasm' });
    const [l0] = once.run(fresh.feeds);
    let want = 0;
    const xv = fresh.feeds.x.data;
    for (let r = 0; r < 8; r++)
      for (let c = 0; c < 3; c++) {
        let s = b0.data[c];
        for (let k = 0; k < 4; k++) s += xv[r * 4 + k] * w0.data[k * 3 + c];
        want += s * s;
      }
    expect(l0.data[0]).toBeCloseTo(want / 24, 4);
  });

  it('keep their values when emitting the program module throws, and the next run works', () => {
    const { g, w0, b0, loss, updates, x, feeds } = build();
    const exe = compile(g, { inputs: [x], outputs: [loss], updates, backend: 'wasm' });
    fail.next = true;
    expect(() => exe.run(feeds)).toThrow(/injected/);
    // the storages moved into the heap, and hold the values they had
    expect(Array.from(g.storage('w').data)).toEqual(Array.from(w0.data));
    expect(Array.from(g.storage('b').data)).toEqual(Array.from(b0.data));
    expect(Array.from(g.storage('m').data).every((v) => v === 0)).toBe(true);
    // a later run specializes again and trains from those values, as on the JS back end
    const ref = build();
    const js = compile(ref.g, { inputs: [ref.x], outputs: [ref.loss], updates: ref.updates, backend: 'js' });
    for (let i = 0; i < 2; i++) expect(exe.run(feeds)[0].data[0]).toBeCloseTo(js.run(ref.feeds)[0].data[0], 5);
  });
});
