import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, BACKENDS } from './compile';
import { GraphError, OpDefError } from './errors';
import { Graph } from './graph';
import { capabilities, defineLoweringTarget, loweredOps, ownLowering, registerLowering } from './lowering';
import { builtinOpNames } from './ops/index';
import { getOp, listOps, traits, TRAIT_NAMES } from './registry';
import { planFusion } from './compiler/fuse';
import { Tensor } from './tensor';
import { grad } from './autodiff';
import { conv, maxPool } from './conv';

/** Built-in ops that compute (not sources, not views) with no lowering on `backend`. */
function fallbacks(backend: string): string[] {
  const caps = capabilities(backend);
  return builtinOpNames.filter((op) => {
    const def = getOp(op);
    return def.kind !== 'source' && !def.traits.view && !caps.lowering(op);
  });
}

describe('op traits', () => {
  it('every registered op declares every trait, well formed', () => {
    for (const def of listOps()) {
      expect(Object.keys(def.traits).sort(), def.name).toEqual([...TRAIT_NAMES].sort());
      for (const k of TRAIT_NAMES) {
        const v = def.traits[k];
        if (k === 'dataInputs') expect(['all', 'first', 'last', 'none'], def.name).toContain(v);
        else if (k === 'finiteIfInputsFinite') expect(v === null || v === 'all' || typeof v === 'function' || Array.isArray(v), def.name).toBe(true);
        else expect(typeof v, `${def.name}.${k}`).toBe('boolean');
      }
    }
  });

  it('the facts the compiler used to keep in lists', () => {
    const has = (trait: 'commutative' | 'view' | 'shapePreserving' | 'broadcasting' | 'reduction' | 'elementwise') => builtinOpNames.filter((op) => getOp(op).traits[trait]);
    expect(has('commutative')).toEqual(['add', 'mul', 'maximum', 'minimum', 'equal', 'notEqual', 'logicalAnd', 'logicalOr']);
    expect(has('view')).toEqual(['reshape', 'expandDims', 'squeeze', 'reshapeLike']);
    expect(has('reduction')).toEqual(['sum', 'mean', 'max', 'min', 'logsumexp', 'prod']);
    expect(has('shapePreserving')).toEqual(expect.arrayContaining(['neg', 'exp', 'tanh', 'logicalNot', 'cast', 'stopGradient', 'softmax', 'logSoftmax']));
    expect(has('broadcasting')).toEqual(expect.arrayContaining(['add', 'sub', 'pow', 'greater', 'logicalOr', 'where']));
    expect(has('elementwise')).toEqual(expect.arrayContaining(['where', 'cast', 'broadcastTo', 'broadcastLike']));
    expect(getOp('customGrad').traits.elementwise).toBe(true);
    expect(getOp('broadcastLike').traits.dataInputs).toBe('first');
    expect(getOp('customGrad').traits.dataInputs).toBe('last');
    expect(getOp('shapeSize').traits.dataInputs).toBe('none');
  });

  it('malformed or unknown traits are refused with a typed error', () => {
    expect(() => traits({ vieww: true } as never)).toThrow(OpDefError);
    expect(() => traits({ vieww: true } as never)).toThrow(/unknown op trait "vieww"/);
  });
});

describe('lowerings', () => {
  it('the compiler imports nothing from backend/', () => {
    const dir = join(__dirname, 'compiler');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text, f).not.toMatch(/from '\.\.\/backend\//);
    }
  });

  it('lists the built-in ops that still run their reference kernel on each compiled back end', () => {
    const js = ['argmax', 'argmin', 'slice', 'concat', 'gather', 'scatterAdd', 'pad', 'sumLike', 'linearRecurrence', 'prod', 'flip'];
    // wasm falls back to js for every op it has no kernel of its own for (random fills, shapeSize,
    // erf, atan2, conv, …: the JS back end's kernels, over the wasm memory): the same reference ops
    const expected: Record<string, string[]> = { js, wasm: js };
    for (const b of BACKENDS.filter((x) => x !== 'interpreter')) expect(fallbacks(b), b).toEqual(expected[b]);
  });

  it.each(BACKENDS.filter((b) => b !== 'interpreter'))("conv and pooling (and their gradients' helpers, and transpose) run kernels of their own on %s, not reference kernels", (backend) => {
    const ops = ['conv', 'convTranspose', 'maxPool', 'avgPool', 'maxPoolScatter', 'maxPoolGather', 'avgPoolTranspose', 'transpose'];
    for (const op of ops) expect(capabilities(backend).lowering(op)?.kernel, op).toBe('custom');
    const g = new Graph();
    const x = g.input('x', [null, 6, 6, 2]);
    const w = g.param('w', Tensor.randn([3, 3, 2, 4]));
    const y = maxPool(conv(x, w, { padding: 'same' }), { size: 2 });
    const loss = y.mul(y).sum();
    const exe = compile(g, { outputs: [loss, ...grad(loss, [x, w])], backend });
    const feeds = { x: Tensor.randn([2, 6, 6, 2]) };
    const got = exe.run(feeds);
    const want = compile(g, { outputs: [loss, ...grad(loss, [x, w])], backend: 'interpreter' }).run(feeds);
    got.forEach((t, i) => t.data.forEach((v, k) => expect(Math.abs(v - want[i].data[k])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[i].data[k])))));
    const text = exe.explain({ program: false });
    expect(text).not.toMatch(new RegExp(`reference kernels on ${backend}`));
    expect(text).toMatch(/custom\s+\[2,6,6,4\]\s+conv %\d+/);
    expect(text).toMatch(/custom\s+\[2,6,6,4\]\s+maxPoolScatter %\d+/);
    expect(text).toMatch(/custom\s+\[2,6,6,2\]\s+convTranspose %\d+/);
    // on wasm they run as the JS back end's kernels over views of the WebAssembly memory
    if (backend === 'wasm') expect(text).toMatch(/conv %\d+ .*\[JS kernel: no wasm kernel for conv\]/);
    expect(exe.lowered!.kernels.filter((k) => k.kind === 'custom').map((k) => exe.program.nodes[k.nodes[0]].op).sort()).toEqual(['conv', 'conv', 'convTranspose', 'maxPool', 'maxPoolScatter', 'transpose', 'transpose', 'transpose']);
  });

  it.each(BACKENDS.filter((b) => b !== 'interpreter'))('a fallback shows up in explain() on %s, with the back end named', (backend) => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const exe = compile(g, { outputs: [x.pad([[1, 0], [0, 0]]).tanh()], backend });
    exe.run({ x: Tensor.randn([2, 3]) });
    expect(exe.explain({ program: false })).toMatch(new RegExp(`reference kernels on ${backend} \\(no lowering there; they allocate their results\\): pad`));
    expect(exe.explain({ program: false })).toMatch(/reference\s+\[3,3\]\s+pad/);
  });

  it('the wasm back end takes the JS lowering of a node its own does not accept (float64), and the planner still fuses it', () => {
    if (!BACKENDS.includes('wasm')) return;
    const g = new Graph();
    const x = g.input('x', [4], 'float64');
    const y = g.input('y', [4]);
    const exe = compile(g, { outputs: [x.tanh().exp(), y.tanh().exp()], backend: 'interpreter' });
    const plan = planFusion(exe.program, undefined, capabilities('wasm'));
    expect(plan.kernels.map((k) => [k.kind, k.nodes.length])).toEqual([['elementwise', 2], ['elementwise', 2]]);
    const tanh64 = Object.values(exe.program.nodes).find((n) => n.op === 'tanh' && n.type.dtype === 'float64')!;
    const tanh32 = Object.values(exe.program.nodes).find((n) => n.op === 'tanh' && n.type.dtype === 'float32')!;
    const types = (id: number) => exe.program.nodes[id].type;
    expect(capabilities('wasm').loweringFor(tanh64, types)).toBe(ownLowering('js', 'tanh'));
    expect(capabilities('wasm').loweringFor(tanh32, types)).toBe(ownLowering('wasm', 'tanh'));
  });

  it('the planner reads lowerings: without one, an op is a reference kernel', () => {
    defineLoweringTarget({ name: 'test-bare' });
    registerLowering('test-bare', 'tanh', { kernel: 'ew' });
    const g = new Graph();
    const x = g.input('x', [4]);
    const exe = compile(g, { outputs: [x.tanh().exp()], backend: 'interpreter' });
    const plan = planFusion(exe.program, undefined, capabilities('test-bare'));
    expect(plan.kernels.map((k) => k.kind)).toEqual(['elementwise', 'reference']);
    expect(loweredOps('test-bare')).toEqual(['tanh']);
    expect(() => registerLowering('test-bare', 'tanh', { kernel: 'ew' })).toThrow(/already has a lowering/);
    expect(() => registerLowering('test-bare', 'noSuchOp', { kernel: 'ew' })).toThrow(/no op of that name/);
    expect(() => capabilities('nope')).toThrow(GraphError);
  });
});
