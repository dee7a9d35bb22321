/**
 * The `gradgraph` command run as a user runs it: a child process of `node bin/gradgraph.mjs`, with
 * nothing registered in it but what the command loads itself. (An in-process test imports
 * @gradgraph/ops first, which once hid that the command could not load graphs using its ops.)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, compile, grad, listOps } from '@gradgraph/core';
import { init, nn, optim } from '@gradgraph/ops';
import '@gradgraph/viz';
import { cube } from './fixtures/cube-op.mjs';

const BIN = fileURLToPath(new URL('../packages/viz/bin/gradgraph.mjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function gradgraph(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The README's quick start, trained one step: softmax cross-entropy with int labels, SPLASH, Adam. */
function quickStart(): Graph {
  const g = new Graph({ seed: 42 });
  const x = g.input('x', [null, 4]);
  const y = g.input('y', [null], 'int32');
  const h = g.scope('hidden', () => nn.splash(nn.dense(x, 16, { init: init.heNormal() })));
  const logits = nn.dense(h, 3);
  const loss = nn.softmaxCrossEntropy(logits, y);
  const params = g.params();
  const grads = grad(loss, params);
  const step = compile(g, { inputs: [x, y], outputs: [loss], updates: optim.adam({ lr: 1e-2 }).updates(params, grads) });
  step.run({ x: Tensor.randn([8, 4]), y: Tensor.from([0, 1, 2, 0, 1, 2, 0, 1], 'int32') });
  return g;
}

/** Characters no output may hold raw (tabs, newlines and CRs are layout). */
const RAW = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('gradgraph command (child process)', () => {
  let dir: string;
  let model: string;
  let custom: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gg-cli-process-'));
    model = join(dir, 'quickstart.json');
    writeFileSync(model, JSON.stringify(quickStart().toJSON()));
    const g = new Graph({ seed: 1 });
    const x = g.input('x', [null, 2]);
    const loss = cube(x.matmul(g.param('w', Tensor.ones([2, 2])))).sum();
    grad(loss, g.params());
    custom = join(dir, 'custom.json');
    writeFileSync(custom, JSON.stringify(g.toJSON()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("draws the README's quick start (nn.softmaxCrossEntropy with int labels) as SVG, HTML and DOT", async () => {
    const svg = join(dir, 'q.svg');
    const r = await gradgraph(['viz', model, '-o', svg]);
    expect(r.stderr).toMatch(/^wrote .*q\.svg \(\d+ nodes\)\n$/);
    expect(r.code).toBe(0);
    expect(readFileSync(svg, 'utf8')).toContain('nn.checkClassIndices');
    expect((await gradgraph(['viz', model, '-o', join(dir, 'q.html')])).code).toBe(0);
    const dot = await gradgraph(['viz', model]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toMatch(/^digraph gradgraph \{/);
  }, 60_000);

  it('the quick start uses every op @gradgraph/ops registers (so the test above covers them all)', async () => {
    // the ops a process has with @gradgraph/core alone
    const script = "const { listOps } = await import('@gradgraph/core'); console.log(JSON.stringify(listOps().map((d) => d.name)));";
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const core = new Set(JSON.parse(stdout) as string[]);
    const own = listOps()
      .map((d) => d.name)
      .filter((n) => !core.has(n) && n !== 'user.cube');
    expect(own.length).toBeGreaterThan(0);
    const used = new Set((JSON.parse(readFileSync(model, 'utf8')) as { nodes: { op: string }[] }).nodes.map((n) => n.op));
    // a new op defined by @gradgraph/ops: use it in quickStart() above
    for (const op of own) expect(used, op).toContain(op);
  });

  it('--import loads a module with your own defineOp ops first; without it, the error says to use --import', async () => {
    const missing = await gradgraph(['viz', custom, '-o', join(dir, 'c.svg')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `gradgraph: error: ${custom}: node 3 uses op "user.cube", which no loaded module defines; if it is your own op, load the module that defines it with --import <module> (gradgraph viz ${custom} --import ./my-ops.js ...)\n`,
    );
    const out = join(dir, 'c.svg');
    const ok = await gradgraph(['viz', custom, '-o', out, '--import', join(FIXTURES, 'cube-op.mjs')]);
    expect(ok.stderr).toBe(`wrote ${out} (${JSON.parse(readFileSync(custom, 'utf8')).nodes.length} nodes)\n`);
    expect(readFileSync(out, 'utf8')).toContain('user.cube');
    // a path relative to the working directory, and the --import=… form
    expect((await gradgraph(['viz', custom, '--import=./fixtures/cube-op.mjs'], fileURLToPath(new URL('.', import.meta.url)))).code).toBe(0);
    const none = await gradgraph(['viz', custom, '--import', './no-such-ops.js'], dir);
    expect(none).toMatchObject({ code: 2, stderr: 'gradgraph: error: --import ./no-such-ops.js: no such file\n' });
    const notInstalled = await gradgraph(['viz', custom, '--import', 'no-such-package-xyz'], dir);
    expect(notInstalled.code).toBe(2);
    expect(notInstalled.stderr).toContain('no package of that name is installed here');
    const broken = join(dir, 'broken-ops.mjs');
    writeFileSync(broken, 'throw new Error("boom in the user module");\n');
    const b = await gradgraph(['viz', custom, '--import', broken]);
    expect(b).toMatchObject({ code: 1, stderr: `gradgraph: error: --import ${broken} failed: boom in the user module\n` });
  }, 60_000);

  it('names with control characters reach the terminal escaped; outputs hold none raw', async () => {
    const g = new Graph({ seed: 2 });
    const x = g.input('x\u001b[31m', [null, 2]);
    const h = g.scope('s\u2028"q"', () => x.matmul(g.param('w/', Tensor.ones([2, 2]))));
    grad(h.matmul(g.param('k\u0007\u001b[2J', Tensor.ones([2, 1]))).sum(), g.params());
    const doc = g.toJSON();
    const file = join(dir, 'names.json');
    writeFileSync(file, JSON.stringify(doc));
    const dot = await gradgraph(['viz', file]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).not.toMatch(RAW); // DOT printed to the terminal
    expect(dot.stdout).toContain('k\\\\u0007\\\\u001b[2J');
    // SVG to a path with an escape sequence in it, which "wrote …" echoes; HTML
    const svg = join(dir, 'odd\u001b[2J.svg');
    const html = join(dir, 'names.html');
    for (const out of [svg, html]) {
      const r = await gradgraph(['viz', file, '-o', out, '--title', 't\u001b]0;evil\u0007']);
      expect(r.code, out).toBe(0);
      const text = readFileSync(out, 'utf8');
      expect(text, out).not.toMatch(RAW);
      expect(text, out).toContain('s\\u2028');
      expect(text, out).toContain('t\\u001b]0;evil\\u0007');
    }
    expect((await gradgraph(['viz', file, '-o', svg])).stderr).toBe(`wrote ${join(dir, 'odd\\u001b[2J.svg')} (${doc.nodes.length} nodes)\n`);
    // an error naming an op with an escape sequence in its name
    const bad = { ...doc, nodes: doc.nodes.map((n, i) => (i === 1 ? { ...n, op: 'evil\u001b[2J\u2028op' } : n)) };
    const badFile = join(dir, 'bad-op.json');
    writeFileSync(badFile, JSON.stringify(bad));
    const e = await gradgraph(['viz', badFile]);
    expect(e.code).toBe(1);
    expect(e.stderr).not.toMatch(RAW);
    expect(e.stderr).toContain('uses op "evil\\u001b[2J\\u2028op"');
    const missing = await gradgraph(['viz', join(dir, 'nope\u001b[31m.json')]);
    expect(missing).toMatchObject({ code: 1, stderr: `gradgraph: error: no such file: ${join(dir, 'nope\\u001b[31m.json')}\n` });
  }, 90_000);
});
