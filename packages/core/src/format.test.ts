import { inspect } from 'node:util';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_BACKEND } from './compile';
import { fmtElement } from './format';
import { Graph } from './graph';
import { Tensor } from './tensor';

describe('tensors as text', () => {
  it('String(t) prints the values in their dtype\'s precision', () => {
    expect(String(Tensor.from([0.1, 0.2, 1 / 3]))).toBe('Tensor(float32[3] [0.1, 0.2, 0.33333334])');
    expect(String(Tensor.from([0.1, 0.2, 1 / 3], 'float64'))).toBe('Tensor(float64[3] [0.1, 0.2, 0.3333333333333333])');
    expect(String(Tensor.from([[1, -2], [3, 2147483647]], 'int32'))).toBe('Tensor(int32[2,2] [[1, -2], [3, 2147483647]])');
    expect(String(Tensor.from([true, false], 'bool'))).toBe('Tensor(bool[2] [true, false])');
    expect(String(Tensor.scalar(0.1))).toBe('Tensor(float32[] 0.1)');
    expect(String(Tensor.from([NaN, -0, Infinity, -Infinity, 3e38, 1e-45]))).toBe('Tensor(float32[6] [NaN, -0, Infinity, -Infinity, 3e+38, 1e-45])');
    expect(String(new Tensor('float32', [2, 0]))).toBe('Tensor(float32[2,0] [[], []])');
  });

  test.prop([fc.float({ noNaN: true })])('a float32 prints the fewest digits that read back as the same float32', (v) => {
    const s = fmtElement(v, 'float32');
    expect(Object.is(Math.fround(Number(s)), v)).toBe(true);
    // and never more digits than the float64 form of the same number
    expect(s.replace(/e.*$/, '').replace(/[-.]/g, '').length).toBeLessThanOrEqual(String(v).replace(/e.*$/, '').replace(/[-.]/g, '').length);
  });

  it('console.log shows a header and aligned rows; large tensors are summarized', () => {
    expect(inspect(Tensor.from([[1, 2.5, 3], [0.1, 0.2, 0.3]]))).toBe('Tensor float32[2,3]\n[[  1, 2.5,   3],\n [0.1, 0.2, 0.3]]');
    expect(inspect(Tensor.from([0.1, 0.2]))).toBe('Tensor float32[2] [0.1, 0.2]');
    expect(inspect({ w: Tensor.from([1, 2], 'int32') })).toBe('{ w: Tensor int32[2] [1, 2] }');
    const big = Tensor.randn([40, 50], 'float32', 3);
    const text = inspect(big);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Tensor float32[40,50]');
    expect(lines).toHaveLength(1 + 7); // 3 rows, "...", 3 rows
    expect(lines[4].trim()).toBe('...,');
    expect(lines[1]).toContain(', ..., ');
    expect(lines[1]).toContain(fmtElement(big.data[0], 'float32'));
    expect(lines[7]).toContain(fmtElement(big.data[big.size - 1], 'float32'));
    // at the threshold nothing is elided; one more element and it is
    expect(String(Tensor.zeros([1000]))).not.toContain('...');
    expect(String(Tensor.zeros([1001]))).toBe(`Tensor(float32[1001] [0, 0, 0, ..., 0, 0, 0])`);
    // a 3-d tensor separates its 2-d blocks with a blank line, as NumPy does
    expect(inspect(Tensor.from([[[1]], [[2]]]))).toBe('Tensor float32[2,1,1]\n[[[1]],\n\n [[2]]]');
  });
});

describe('symbols, graphs and executables as text', () => {
  it('console.log(sym) shows the node (op, inputs, type, scope, source line), not the graph', () => {
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 4]);
    const w = g.scope('layer', () => g.param('w', Tensor.ones([4, 2])));
    const y = g.scope('layer', () => x.matmul(w));
    const text = inspect(y);
    expect(text).toMatch(new RegExp(`^Sym %${y.id} = matmul %${x.id}, %${w.id} \\{transposeA=false transposeB=false\\} : float32\\[\\?,2\\]  scope "layer"  at .*format\\.test\\.ts:\\d+:\\d+$`));
    expect(text).not.toContain('\n');
    expect(inspect(x)).toMatch(/^Sym %0 = input "x" : float32\[\?,4\]  at .*format\.test\.ts/);
    expect(inspect({ h: y }, { depth: 4 }).length).toBeLessThan(200); // no graph inside
    expect(inspect(g)).toBe('Graph(seed 3: 3 nodes; inputs x float32[?,4]; 1 param (8 values))');
    expect(inspect(compile(g, { outputs: [y] }))).toBe(`Executable(${DEFAULT_BACKEND}: 3 nodes; inputs x float32[?,4] → 1 output)`);
    expect(inspect(compile(g, { outputs: [y], backend: 'js' }))).toBe('Executable(js: 3 nodes; inputs x float32[?,4] → 1 output)');
  });
});
