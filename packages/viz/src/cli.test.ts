/**
 * The `gradgraph` binary, run as a user runs it: `node bin/gradgraph.mjs ...` in a child process
 * (the launcher runs the TypeScript through tsx, no build step).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, grad } from '@gradgraph/core';
import { train } from '@gradgraph/ops';
import { main } from './cli';

const BIN = fileURLToPath(new URL('../bin/gradgraph.mjs', import.meta.url));
const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

/** In-process (fast) runs of main() with captured output. */
const inProcess = async (...args: string[]) => {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
};

describe('gradgraph command line', () => {
  let dir: string;
  let model: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gg-cli-'));
    const g = new Graph({ seed: 3 });
    const x = g.input('x', [null, 4]);
    let h = x;
    for (let i = 0; i < 6; i++) h = g.scope(`layer${i}`, () => h.matmul(g.param('w', Tensor.randn([4, 4], 'float32', i))).tanh());
    const loss = h.square().mean();
    grad(loss, g.params());
    model = join(dir, 'model.json');
    writeFileSync(model, JSON.stringify(g.toJSON()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs from the launcher: --help explains every option; --version', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const opt of ['viz', '-o, --out', '--import', '--show', '--collapse', '--repeats', '--no-repeats', '--adjoint-links', '--direction', '--checkpoint', '--title', '--width', '.dot', '.svg', '.png', '.html']) expect(r.stdout).toContain(opt);
    const v = await run('--version');
    expect(v.stdout).toMatch(/^gradgraph \d+\.\d+\.\d+\n$/);
  }, 30_000);

  it('writes SVG from a g.toJSON() file, through the launcher', async () => {
    const out = join(dir, 'g.svg');
    const r = await run('viz', model, '-o', out, '--collapse', '1');
    expect(r.stderr).toBe(`wrote ${out} (${JSON.parse(readFileSync(model, 'utf8')).nodes.length} nodes)\n`);
    expect(r.code).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('layer0');
  }, 30_000);

  it('writes DOT (also to stdout), PNG and HTML', async () => {
    const dot = await inProcess('viz', model, '--show', 'forward');
    expect(dot.code).toBe(0);
    expect(dot.stdout.startsWith('digraph gradgraph {')).toBe(true);
    expect(dot.stdout).toContain('more like layer');
    expect(dot.stdout).not.toContain('∇');
    const dotFile = join(dir, 'g.dot');
    expect((await inProcess('viz', model, '-o', dotFile, '--no-repeats', '--direction', 'LR')).code).toBe(0);
    expect(readFileSync(dotFile, 'utf8')).toContain('rankdir="LR"');
    const png = join(dir, 'g.png');
    expect((await inProcess('viz', model, `--out=${png}`, '--width', '300')).code).toBe(0);
    const bytes = readFileSync(png);
    expect([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(300); // IHDR width
    const html = join(dir, 'g.html');
    expect((await inProcess('viz', model, '-o', html, '--title', 'six layers')).code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<title>six layers</title>');
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });

  it('loads a train checkpoint into the graph with --checkpoint; a checkpoint alone gets a pointer to it', async () => {
    const g = Graph.fromJSON(readFileSync(model, 'utf8'));
    g.setValue('layer0/w', Tensor.full([4, 4], 0.5));
    const ckpt = join(dir, 'run.ckpt.json');
    train.saveCheckpoint(ckpt, g, { config: { lr: 0.1, note: 'cli test' } });
    const alone = await inProcess('viz', ckpt);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toBe(`gradgraph: error: ${ckpt} is a checkpoint: it holds param values, not the graph; draw the graph saved with g.toJSON() and pass the checkpoint with --checkpoint ${ckpt}\n`);
    const html = join(dir, 'ckpt.html');
    const r = await inProcess('viz', model, '--checkpoint', ckpt, '-o', html);
    expect(r.code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('weights and gradients per layer');
    expect(page).toContain('cli test');
    expect(page).toContain('graphHash');
    // a checkpoint of another graph is refused, in one line
    const other = new Graph();
    other.param('w', Tensor.ones([2]));
    const wrong = join(dir, 'other.ckpt.json');
    train.saveCheckpoint(wrong, other);
    const bad = await inProcess('viz', model, '--checkpoint', wrong, '-o', join(dir, 'x.svg'));
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n')).toHaveLength(2);
    expect(bad.stderr).toContain(`gradgraph: error: ${wrong}: `);
  });

  it('missing or corrupt files: one clear line on stderr, non-zero exit, no stack trace', async () => {
    const missing = await run('viz', join(dir, 'nope.json'), '-o', join(dir, 'x.svg'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`gradgraph: error: no such file: ${join(dir, 'nope.json')}\n`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": "gradgraph.graph", "nodes": [');
    const corrupt = await inProcess('viz', bad);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/^gradgraph: error: .*bad\.json is not valid JSON .*expected a graph saved with g\.toJSON\(\)\n$/);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ hello: 'world' }));
    const notGraph = await inProcess('viz', wrong);
    expect(notGraph.stderr).toMatch(/^gradgraph: error: .*wrong\.json: not a gradgraph graph document \(format is undefined, expected "gradgraph\.graph"\)\n$/);
    const doc = JSON.parse(readFileSync(model, 'utf8'));
    doc.nodes[3].inputs = [99];
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify(doc));
    const b = await inProcess('viz', broken);
    expect(b.code).toBe(1);
    expect(b.stderr.split('\n')).toHaveLength(2); // one line + the final newline
    expect(b.stderr).toMatch(/node 3 .* has inputs \[99\]/);
    for (const r of [missing, corrupt, notGraph, b]) expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('usage mistakes exit with 2 and say what is wrong', async () => {
    expect(await inProcess('viz')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^gradgraph: error: viz needs a model file/) });
    expect(await inProcess('viz', model, '--collapse', '0')).toMatchObject({ code: 2, stderr: expect.stringContaining('--collapse must be an integer >= 1, got "0"') });
    expect(await inProcess('viz', model, '--show', 'up')).toMatchObject({ code: 2, stderr: expect.stringContaining('--show must be forward, backward or both') });
    expect(await inProcess('viz', model, '-o', join(dir, 'x.pdf'))).toMatchObject({ code: 2, stderr: expect.stringContaining('use .dot, .svg, .png or .html') });
    expect(await inProcess('viz', model, '--frobnicate')).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown option "--frobnicate"') });
    expect(await inProcess('draw')).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "draw"') });
  });
});
