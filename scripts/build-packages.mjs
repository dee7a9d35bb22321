#!/usr/bin/env node
/**
 * Builds what npm consumers of @gradgraph/core, /ops and /viz get, into each package's dist/:
 *
 * - JavaScript: every entry point named in the package's `publishConfig` (exports and bin), as
 *   ESM bundled by esbuild. Entries of one package share their code through chunks (code
 *   splitting), so `@gradgraph/core` and `@gradgraph/core/testing` share one op registry and one
 *   `Tensor` class. Every bare import (dependencies, node builtins) stays an import.
 * - Types: the `.d.ts` files `tsc -b` writes to dist-types/, with each relative specifier made
 *   explicit (`'./ops/index'` → `'./ops/index.js'`, `import("..")` → `import("../index.js")`),
 *   which Node16 module resolution needs and bundler resolution accepts.
 *
 * The sources keep their extensionless imports and the workspace keeps running them: `exports`
 * in package.json point at src/*.ts; `publishConfig` (applied by `pnpm pack`/`pnpm publish`)
 * points at dist/. Checks on the way: each bare import of the output is a declared dependency,
 * core imports no Node builtin (it runs in browsers), and an optional peer dependency
 * (fast-check) is not reachable from the package's main entry.
 *
 * Usage: node scripts/build-packages.mjs [core|ops|viz ...]    (default: all three, in order)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core', 'ops', 'viz'];
const require = createRequire(import.meta.url);

class BuildError extends Error {}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** `./dist/testing/index.js` → `src/testing/index.ts`: an entry's source, by the layout rule. */
function sourceOf(pkgDir, distFile) {
  const m = /^\.\/dist\/(.+)\.js$/.exec(distFile);
  if (!m) throw new BuildError(`${distFile}: publishConfig entries must be ./dist/<path>.js`);
  const src = join(pkgDir, 'src', `${m[1]}.ts`);
  if (!existsSync(src)) throw new BuildError(`${distFile}: no source ${relative(ROOT, src)}`);
  return src;
}

/** The JavaScript files consumers import or run: publishConfig's exports and bin. */
function entryPoints(pkgDir, pkg) {
  const files = new Set();
  const pub = pkg.publishConfig ?? {};
  for (const target of Object.values(pub.exports ?? {})) {
    if (typeof target === 'object' && target.default) files.add(target.default);
  }
  for (const bin of Object.values(pub.bin ?? {})) files.add(bin);
  return [...files].map((f) => sourceOf(pkgDir, f));
}

function runTsc(pkgDir) {
  const tsc = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-b', pkgDir], { stdio: 'inherit' });
  if (r.status !== 0) throw new BuildError(`tsc -b ${relative(ROOT, pkgDir)} failed`);
}

/** Bare specifier → package name: `pure-rand/distribution/x` → `pure-rand`, `@a/b/c` → `@a/b`. */
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const NODE_BUILTINS = new Set(builtinModules);
const isBuiltin = (spec) => spec.startsWith('node:') || NODE_BUILTINS.has(packageName(spec));

async function bundle(name, pkgDir, pkg) {
  const entries = entryPoints(pkgDir, pkg);
  const result = await esbuild.build({
    absWorkingDir: pkgDir,
    entryPoints: entries,
    outbase: join(pkgDir, 'src'),
    outdir: join(pkgDir, 'dist'),
    bundle: true,
    splitting: true,
    format: 'esm',
    // core must run anywhere JavaScript does; ops and viz read files and spawn nothing else
    platform: name === 'core' ? 'neutral' : 'node',
    target: 'es2022',
    packages: 'external',
    // chunks next to the entries: a chunk's `new URL('.', import.meta.url)` is still dist/
    chunkNames: 'chunk-[hash]',
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'inline',
  });
  checkImports(name, pkg, result.metafile, entries);
}

function checkImports(name, pkg, metafile, entries) {
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const optionalPeers = Object.entries(pkg.peerDependenciesMeta ?? {})
    .filter(([, m]) => m.optional)
    .map(([n]) => n);
  for (const [out, info] of Object.entries(metafile.outputs)) {
    for (const imp of info.imports) {
      if (!imp.external) continue;
      if (isBuiltin(imp.path)) {
        if (name === 'core') throw new BuildError(`${out} imports "${imp.path}": @gradgraph/core must not use Node builtins (it runs in browsers)`);
        continue;
      }
      if (!declared.has(packageName(imp.path))) throw new BuildError(`${out} imports "${imp.path}", which is not in ${pkg.name}'s dependencies`);
    }
  }
  // an optional peer must not load with the main entry: follow its static imports
  const mainOut = Object.entries(metafile.outputs).find(([, o]) => o.entryPoint && o.entryPoint.replace(/\\/g, '/').endsWith('src/index.ts'))?.[0];
  if (!mainOut) throw new BuildError(`${pkg.name}: no output for src/index.ts among ${entries.length} entries`);
  const seen = new Set();
  const stack = [mainOut];
  while (stack.length) {
    const out = stack.pop();
    if (seen.has(out)) continue;
    seen.add(out);
    for (const imp of metafile.outputs[out].imports) {
      if (imp.kind !== 'import-statement') continue;
      if (imp.external && optionalPeers.includes(packageName(imp.path))) {
        throw new BuildError(`${pkg.name}'s main entry loads "${imp.path}" (through ${out}), an optional peer dependency`);
      }
      if (!imp.external) stack.push(imp.path);
    }
  }
}

/** Every `*.d.ts` under `dir` (test files left out). */
function declarationFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) declarationFiles(p, out);
    else if (e.name.endsWith('.d.ts') && !/\.(test|spec)\.d\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

/** The module specifiers of a declaration file, as string-literal nodes. */
function specifierNodes(sf) {
  const found = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) found.push(node.argument.literal);
    else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) found.push(node.name);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) found.push(node.moduleReference.expression);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** `./ops/index` → `./ops/index.js`; `..` → `../index.js`; checked against the files on disk. */
function explicitSpecifier(spec, fromFile, typesDir) {
  const base = resolve(dirname(fromFile), spec);
  if (existsSync(`${base}.d.ts`)) return spec.endsWith('/') ? null : `${spec}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${spec.replace(/\/$/, '')}/index.js`;
  throw new BuildError(`${relative(ROOT, fromFile)}: "${spec}" matches no declaration file under ${relative(ROOT, typesDir)}`);
}

function emitDeclarations(pkgDir) {
  const typesDir = join(pkgDir, 'dist-types');
  const distDir = join(pkgDir, 'dist');
  let count = 0;
  for (const file of declarationFiles(typesDir)) {
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
    const edits = [];
    for (const lit of specifierNodes(sf)) {
      const spec = lit.text;
      if (!spec.startsWith('.')) continue;
      if (/\.(m?js|json)$/.test(spec)) continue;
      const next = explicitSpecifier(spec, file, typesDir);
      if (next) edits.push({ start: lit.getStart(sf) + 1, end: lit.getEnd() - 1, text: next });
    }
    let out = text;
    for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
    const dest = join(distDir, relative(typesDir, file));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out);
    count++;
  }
  return count;
}

async function buildPackage(name) {
  const pkgDir = join(ROOT, 'packages', name);
  const pkg = readJson(join(pkgDir, 'package.json'));
  const t0 = performance.now();
  runTsc(pkgDir);
  rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
  await bundle(name, pkgDir, pkg);
  const decls = emitDeclarations(pkgDir);
  const js = readdirSync(join(pkgDir, 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.js')).length;
  console.log(`${pkg.name}: dist/ with ${js} .js and ${decls} .d.ts files (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

const names = process.argv.slice(2);
try {
  for (const n of names) if (!PACKAGES.includes(n)) throw new BuildError(`unknown package "${n}": expected ${PACKAGES.join(', ')}`);
  for (const n of names.length ? PACKAGES.filter((p) => names.includes(p)) : PACKAGES) await buildPackage(n);
} catch (e) {
  if (!(e instanceof BuildError)) throw e;
  console.error(`build-packages: ${e.message}`);
  process.exitCode = 1;
}
