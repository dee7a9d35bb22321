/**
 * The three packages as a user gets them: `pnpm pack` (which builds dist/ first, see
 * scripts/build-packages.mjs), then plain `npm install` of the tarballs into a fresh project in
 * the temp folder, outside the repository, with its own empty npm cache. There:
 * - the README's quick start runs with plain `node` from a .mjs file (without fast-check);
 * - `@gradgraph/core/testing` works once fast-check is installed, and only then;
 * - a .ts user file type-checks with `tsc --noEmit` against the installed types, with Node16 and
 *   with bundler module resolution (the repository's TypeScript, no @types/node);
 * - `npx gradgraph --help` works, and `gradgraph viz` draws the quick start's graph;
 * - @gradgraph/core bundled by esbuild for the browser trains in headless Chromium.
 * Needs the npm registry (the packages' dependencies are downloaded, about 40 MB).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './browser';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['core', 'ops', 'viz'] as const;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs a command; on failure, throws with the command, exit code and the ends of its output. */
async function sh(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    const tail = (s = '') => s.trim().split('\n').slice(-25).join('\n');
    throw new Error(`\`${[cmd, ...args].join(' ')}\` in ${opts.cwd} failed (exit ${err.code ?? err.signal}):\n${tail(err.stderr)}\n${tail(err.stdout)}`);
  }
}

/** The README's quick start: the first ts block after "## Quick start". */
function readmeQuickStart(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /## Quick start\s+```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```ts block under "## Quick start"');
  return m[1];
}

/** A training script for the browser: core only, a 2-8-1 tanh MLP fitted by gradient descent. */
const BROWSER_TRAINING = `
import { Graph, Tensor, compile, grad } from '@gradgraph/core';
const g = new Graph({ seed: 3 });
const x = g.input('x', [null, 2]);
const y = g.input('y', [null, 1]);
const h = g.scope('hidden', () => x.matmul(g.param('w', Tensor.randn([2, 8], 'float32', 1))).add(g.param('b', Tensor.zeros([8]))).tanh());
const pred = h.matmul(g.param('w2', Tensor.randn([8, 1], 'float32', 2)).mul(0.3));
const loss = pred.sub(y).square().mean();
const params = g.params();
const grads = grad(loss, params);
const step = compile(g, { inputs: [x, y], outputs: [loss], updates: params.map((p, i) => [p, p.sub(grads[i].mul(0.2))]) });
const xs = Tensor.rand([64, 2], 'float32', 7);
const ys = Tensor.from(Array.from({ length: 64 }, (_, i) => [Math.sin(3 * xs.data[2 * i]) * 0.5 + xs.data[2 * i + 1] ** 2]));
for (let s = 0; s <= 200; s++) {
  const [l] = step.run({ x: xs, y: ys });
  if (s % 20 === 0) console.log('loss ' + s + ' ' + l.item());
}
console.log('done ' + typeof process);
`;

/** A user's TypeScript: the API with types resolved (each @ts-expect-error fails if a type is \`any\`). */
const USER_TS = `
import { Graph, Tensor, compile, grad, type Executable, type Sym } from '@gradgraph/core';
import { nn, optim, train } from '@gradgraph/ops';
import { toDot, renderSvg } from '@gradgraph/viz';

const g = new Graph({ seed: 1 });
const x: Sym = g.input('x', [null, 4]);
const y = g.input('y', [null], 'int32');
const loss = nn.softmaxCrossEntropy(nn.dense(x, 3), y);
const params = g.params();
const step: Executable = compile(g, { inputs: [x, y], outputs: [loss], updates: optim.adam({ lr: 1e-2 }).updates(params, grad(loss, params)) });
const [l] = step.run({ x: Tensor.randn([2, 4]), y: Tensor.from([0, 1], 'int32') });
const value: number = l.item();
const shape: readonly number[] = l.shape;
const dot: string = toDot(g, { collapse: 1 });
const svg: Promise<string> = renderSvg(dot);
const version: string = train.libraryVersion();
// @ts-expect-error run returns tensors, not a string
const wrong1: string = step.run({});
// @ts-expect-error toDot returns a string
const wrong2: number = toDot(g);
// @ts-expect-error dense takes a unit count
nn.dense(x, 'three');
// @ts-expect-error an unknown dtype
g.input('z', [2], 'float16');
export { value, shape, svg, version, wrong1, wrong2 };
`;

const USER_TESTING_TS = `
import { Tensor, gradcheck } from '@gradgraph/core';
import { arbTensor, fc } from '@gradgraph/core/testing';
fc.assert(fc.property(arbTensor({ shape: [3], dtype: 'float64' }), (t: Tensor) => gradcheck((a) => a.sin().sum(), [t]).ok));
// @ts-expect-error arbTensor's options are typed
arbTensor({ shape: 'three' });
`;

describe('the packed packages, installed with npm in a fresh project', () => {
  let work: string;
  let project: string;
  let npmEnv: NodeJS.ProcessEnv;
  const tarballs: Record<string, string> = {};

  const node = (file: string) => sh(process.execPath, [file], { cwd: project });
  const tsc = (config: Record<string, unknown>, files: string[]) => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: [], ...config }, files }, null, 2));
    return sh(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project });
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'gg-install-'));
    project = join(work, 'project');
    mkdirSync(project);
    // npm with its own empty cache; none of the npm_* settings a pnpm run passes down, but the
    // registry, proxy and certificate settings kept
    npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || /^npm_config_(registry|.*proxy|cafile|ca|strict_ssl)$/i.test(k)));
    Object.assign(npmEnv, { npm_config_cache: join(work, 'npm-cache'), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' });
    // pnpm pack: runs each package's prepack (the build) and rewrites workspace: ranges
    const packs = join(work, 'tarballs');
    for (const p of PACKAGES) await sh('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', packs], { cwd: join(ROOT, 'packages', p), timeout: 300_000 });
    for (const f of readdirSync(packs)) tarballs[/^gradgraph-(\w+)-/.exec(f)![1]] = join(packs, f);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'gradgraph-user', private: true, type: 'module' }, null, 2));
    await sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...PACKAGES.map((p) => tarballs[p])], { cwd: project, env: npmEnv, timeout: 300_000 });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarballs: dist/ only, exports at the built files, real version ranges, fast-check an optional peer of core', async () => {
    for (const p of PACKAGES) {
      const { stdout } = await sh('tar', ['-tzf', tarballs[p]], { cwd: work });
      const files = stdout.trim().split('\n');
      expect(files).toContain('package/package.json');
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files.filter((f) => !f.startsWith('package/dist/') && f !== 'package/package.json')).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', '@gradgraph', p, 'package.json'), 'utf8'));
      expect(JSON.stringify(manifest)).not.toContain('workspace:');
      expect(JSON.stringify(manifest.exports)).not.toContain('src/');
      expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      for (const dep of ['@gradgraph/core', '@gradgraph/ops']) if (manifest.dependencies?.[dep]) expect(manifest.dependencies[dep]).toBe(`^${manifest.version}`);
      if (p === 'core') {
        expect(manifest.dependencies['fast-check']).toBeUndefined();
        expect(manifest.peerDependencies['fast-check']).toMatch(/^\^4\./);
        expect(manifest.peerDependenciesMeta['fast-check']).toEqual({ optional: true });
      }
      if (p === 'viz') expect(manifest.bin).toEqual({ gradgraph: './dist/bin.js' });
    }
    expect(existsSync(join(project, 'node_modules', 'fast-check'))).toBe(false);
  });

  it("runs the README's quick start with plain node (.mjs); errors point at the user's line", async () => {
    const extra = [
      "import { writeFileSync } from 'node:fs';",
      "console.log(JSON.stringify({ loss: l.item(), gradcheck: gradcheck((a) => a.square().sum(), [Tensor.randn([3], 'float64')]).ok }));",
      "try { x.matmul(g.input('z', [5, 5])); } catch (e) { console.log(JSON.stringify({ error: e.message, name: e.constructor.name })); }",
      "writeFileSync('model.json', JSON.stringify(g.toJSON()));",
    ];
    const file = join(project, 'quickstart.mjs');
    writeFileSync(file, `${readmeQuickStart()}\n${extra.join('\n')}\n`);
    const { stdout } = await node(file);
    expect(stdout).toContain('passes:'); // step.explain()
    const lines = stdout.trim().split('\n');
    const result = JSON.parse(lines.at(-2)!);
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(result.gradcheck).toBe(true);
    const error = JSON.parse(lines.at(-1)!);
    expect(error.name).toBe('ShapeError');
    expect(error.error).toMatch(/quickstart\.mjs:\d+:\d+/); // the user's line, not a line in dist/
  });

  it('type-checks a user .ts file against the installed types (moduleResolution node16), no @types/node needed', async () => {
    writeFileSync(join(project, 'user.ts'), USER_TS);
    await tsc({ module: 'node16', moduleResolution: 'node16' }, ['user.ts']);
  }, 120_000);

  it('@gradgraph/core/testing needs fast-check (an optional peer): a clear error without it, works with it', async () => {
    const file = join(project, 'testing.mjs');
    writeFileSync(file, "import { arbTensor, fc } from '@gradgraph/core/testing';\nimport { gradcheck } from '@gradgraph/core';\nfc.assert(fc.property(arbTensor({ shape: [3], dtype: 'float64' }), (t) => gradcheck((a) => a.sin().sum(), [t]).ok), { numRuns: 20 });\nconsole.log('property ok');\n");
    await expect(node(file)).rejects.toThrow(/Cannot find package 'fast-check'/);
    await sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'fast-check@^4.11.0'], { cwd: project, env: npmEnv, timeout: 300_000 });
    expect((await node(file)).stdout).toBe('property ok\n');
  }, 300_000);

  it('type-checks with moduleResolution bundler too, @gradgraph/core/testing included', async () => {
    writeFileSync(join(project, 'user-testing.ts'), USER_TESTING_TS);
    await tsc({ module: 'esnext', moduleResolution: 'bundler' }, ['user.ts', 'user-testing.ts']);
  }, 120_000);

  it('npx gradgraph --help; gradgraph viz draws the quick start graph, and a graph with a user op via --import', async () => {
    const help = await sh('npx', ['gradgraph', '--help'], { cwd: project, env: npmEnv });
    expect(help.stdout).toContain('gradgraph viz <model.json|model.onnx>');
    expect(help.stdout).toContain('--import <module>');
    // the same command, without npx's start-up
    const gradgraph = (...args: string[]) => sh(join(project, 'node_modules', '.bin', 'gradgraph'), args, { cwd: project });
    const viz = await gradgraph('viz', 'model.json', '-o', 'model.svg');
    expect(viz.stderr).toMatch(/^wrote model\.svg \(\d+ nodes\)\n$/);
    expect(readFileSync(join(project, 'model.svg'), 'utf8')).toContain('nn.checkClassIndices');
    writeFileSync(join(project, 'cube-op.mjs'), readFileSync(join(ROOT, 'test', 'fixtures', 'cube-op.mjs'), 'utf8'));
    writeFileSync(
      join(project, 'custom.mjs'),
      "import { writeFileSync } from 'node:fs';\nimport { Graph, Tensor } from '@gradgraph/core';\nimport { cube } from './cube-op.mjs';\nconst g = new Graph();\ncube(g.input('x', [2]).mul(g.param('w', Tensor.ones([2])))).sum();\nwriteFileSync('custom.json', JSON.stringify(g.toJSON()));\n",
    );
    await node(join(project, 'custom.mjs'));
    await expect(gradgraph('viz', 'custom.json')).rejects.toThrow(/uses op "user\.cube".*--import/);
    const ok = await gradgraph('viz', 'custom.json', '--import', './cube-op.mjs', '-o', 'custom.svg');
    expect(ok.stderr).toMatch(/^wrote custom\.svg/);
  }, 120_000);

  it('@gradgraph/core bundled for the browser by esbuild trains in headless Chromium (ESM and IIFE bundles)', async () => {
    const browser = await launchBrowser();
    try {
      for (const format of ['esm', 'iife'] as const) {
        const built = await esbuild.build({
          stdin: { contents: BROWSER_TRAINING, resolveDir: project, sourcefile: 'train.mjs', loader: 'js' },
          absWorkingDir: project,
          bundle: true,
          format,
          platform: 'browser',
          target: 'es2022',
          write: false,
          logLevel: 'silent',
        });
        const js = built.outputFiles[0].text;
        expect(js).not.toMatch(/from\s*["']node:/);
        const page = await browser.newPage();
        const logs: string[] = [];
        const errors: string[] = [];
        page.on('console', (m) => logs.push(m.text()));
        page.on('pageerror', (e) => errors.push(String(e)));
        // served from a made-up origin, offline: the page and the bundle, nothing else
        await page.route('**/*', (route) => {
          const url = route.request().url();
          if (url === 'http://gradgraph.test/') return route.fulfill({ contentType: 'text/html', body: `<!doctype html><script ${format === 'esm' ? 'type="module" ' : ''}src="/train.js"></script>` });
          if (url === 'http://gradgraph.test/train.js') return route.fulfill({ contentType: 'text/javascript', body: js });
          return route.abort();
        });
        await page.goto('http://gradgraph.test/');
        for (let i = 0; i < 600 && !logs.some((l) => l.startsWith('done')) && !errors.length; i++) await new Promise((r) => setTimeout(r, 100));
        await page.close();
        expect(errors, format).toEqual([]);
        expect(logs.at(-1), format).toBe('done undefined'); // a browser: no Node `process`
        const losses = logs.filter((l) => l.startsWith('loss ')).map((l) => Number(l.split(' ')[2]));
        expect(losses, format).toHaveLength(11);
        for (let i = 1; i < losses.length; i++) expect(losses[i], `${format}: loss at step ${20 * i}`).toBeLessThan(losses[i - 1]);
        expect(losses.at(-1)!, format).toBeLessThan(losses[0] / 3);
      }
    } finally {
      await browser.close();
    }
  }, 180_000);
});
