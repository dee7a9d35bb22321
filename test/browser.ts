/**
 * The test browser: headless Chromium through playwright-core. The system's Chromium when there
 * is one (or the one named by GRADGRAPH_CHROMIUM); otherwise the build shipped in the npm
 * package @sparticuz/chromium, unpacked once into the temp folder and shared by later runs. So
 * `pnpm test` needs no browser installed, only the npm registry.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { chromium as playwright, type Browser } from 'playwright-core';

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-quic', '--disable-component-update', '--disable-sync'];

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A Chromium on this machine: $GRADGRAPH_CHROMIUM, else the first of SYSTEM_NAMES on $PATH. */
export function systemChromium(): string | undefined {
  const named = process.env.GRADGRAPH_CHROMIUM;
  if (named) {
    if (!isExecutable(named)) throw new Error(`GRADGRAPH_CHROMIUM=${named} is not an executable file`);
    return named;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const name of SYSTEM_NAMES) if (isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The installed version of `name` (its package.json is not in its exports). */
function packageVersion(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === name && pkg.version) return pkg.version;
  }
  throw new Error(`no package.json of ${name} above ${createRequire(import.meta.url).resolve(name)}`);
}

/**
 * Unpacks @sparticuz/chromium's brotli archives (~4 s) into `<tmp>/gradgraph-chromium-<version>/`
 * and returns the binary's path. The package unpacks into `os.tmpdir()`, so TMPDIR points at a
 * fresh private folder while it runs; that folder then moves into place in one rename, and a
 * process that loses the race (two test files start at once) uses the winner's copy.
 */
export async function npmChromium(): Promise<string> {
  const version = packageVersion('@sparticuz/chromium');
  const home = join(tmpdir(), `gradgraph-chromium-${version}`);
  const binary = join(home, 'chromium');
  const done = join(home, '.unpacked');
  if (existsSync(done)) return binary;
  const work = mkdtempSync(join(tmpdir(), 'gradgraph-chromium-unpack-'));
  const saved = process.env.TMPDIR;
  try {
    process.env.TMPDIR = work;
    const { default: sparticuz } = (await import('@sparticuz/chromium')) as typeof import('@sparticuz/chromium');
    const unpacked = await sparticuz.executablePath();
    if (unpacked !== join(work, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, expected ${join(work, 'chromium')}`);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`could not unpack Chromium from @sparticuz/chromium ${version}: ${(e as Error).message}`);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  writeFileSync(join(work, '.unpacked'), `${version}\n`);
  try {
    renameSync(work, home); // atomic: `home` only ever holds a complete copy
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(done)) throw new Error(`could not move the unpacked Chromium to ${home}: ${(e as Error).message}`);
    // else another process got there first: use its copy
  }
  return binary;
}

/** The Chromium binary the tests use, and where it came from. */
export async function findChromium(): Promise<{ path: string; source: 'system' | 'npm' }> {
  const system = systemChromium();
  return system ? { path: system, source: 'system' } : { path: await npmChromium(), source: 'npm' };
}

/** Launches headless Chromium (see findChromium) through playwright-core. */
export async function launchBrowser(): Promise<Browser> {
  const { path } = await findChromium();
  return playwright.launch({ executablePath: path, args: CHROMIUM_FLAGS, headless: true });
}
