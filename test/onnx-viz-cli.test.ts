/**
 * `gradgraph viz model.onnx` draws an imported ONNX file: PyTorch's MLP fixture, through the real
 * launcher (a child process), PyTorch's CNN and a gradgraph-exported model in process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Graph } from '@gradgraph/core';
import { exportOnnx, nn } from '@gradgraph/ops';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../packages/viz/src/cli';
import { ElemType, at, onnxModel } from './onnx-ort';

const BIN = fileURLToPath(new URL('../packages/viz/bin/gradgraph.mjs', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/onnx/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gg-onnx-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inProcess = async (...args: string[]) => {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
};

describe('gradgraph viz model.onnx', () => {
  it("draws PyTorch's MLP as SVG and PNG through the launcher", async () => {
    const svg = join(dir, 'mlp.svg');
    const { stderr } = await promisify(execFile)(process.execPath, [BIN, 'viz', join(FIXTURE, 'mlp.onnx'), '-o', svg], { encoding: 'utf8' });
    expect(stderr).toMatch(/^wrote .*mlp\.svg \(\d+ nodes\)\n$/);
    const text = readFileSync(svg, 'utf8');
    for (const name of ['fc1', 'act1', 'fc2', 'head', 'softmax']) expect(text).toContain(name);
    const png = join(dir, 'mlp.png');
    expect((await inProcess('viz', join(FIXTURE, 'mlp.onnx'), '-o', png)).code).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  });

  it('draws a gradgraph-exported model with its scopes as DOT', async () => {
    const g = new Graph();
    const x = g.input('x', [null, 3]);
    const y = g.scope('encoder', () => nn.splash(nn.dense(x, 4)));
    const file = join(dir, 'enc.onnx');
    writeFileSync(file, await exportOnnx(g, { inputs: [x], outputs: [y] }));
    const r = await inProcess('viz', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('digraph');
    expect(r.stdout).toContain('encoder');
  });

  it("draws PyTorch's CNN (its Conv and MaxPool between NCHW ↔ channels-last transposes)", async () => {
    const svg = join(dir, 'cnn.svg');
    const r = await inProcess('viz', join(FIXTURE, 'cnn.onnx'), '-o', svg);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(svg, 'utf8');
    for (const name of ['conv', 'pool', 'fc']) expect(text).toContain(name);
  });

  it('a file it cannot import: one line naming the file and the op, exit 1', async () => {
    const lp = join(dir, 'lppool.onnx');
    writeFileSync(lp, await onnxModel({ inputs: [['x', ElemType.FLOAT, [1, 1, 4, 4]]], outputs: [['y', ElemType.FLOAT]], nodes: [['LpPool', ['x'], ['y'], { kernel_shape: at.ints([2, 2]) }, '/pool/LpPool']] }));
    const r = await inProcess('viz', lp, '-o', join(dir, 'lppool.svg'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gradgraph: error: .*lppool\.onnx: LpPool: unsupported op LpPool \(LpPool node "\/pool\/LpPool"\)\n$/);
    const missing = await inProcess('viz', join(dir, 'nope.onnx'));
    expect(missing.stderr).toMatch(/no such file: .*nope\.onnx/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    expect((await inProcess('viz', junk)).code).toBe(1);
  });
});
