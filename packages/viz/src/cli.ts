/**
 * The `gradgraph` command line. `gradgraph viz model.json -o graph.svg` draws a graph saved with
 * `g.toJSON()` (or a checkpoint that embeds one) as DOT, SVG, PNG or a self-contained HTML page.
 * Before it reads a graph it registers every op the packages define (@gradgraph/ops's), then the
 * user's own (`--import`). Every failure is one line on stderr and a non-zero exit code, never a
 * stack trace; text from the files (names, paths) reaches the terminal with control characters
 * escaped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GRAPH_FORMAT, Graph, GradgraphError, SerializationError, hasOp } from '@gradgraph/core';
import type { DotOptions } from './dot';

export const USAGE = `gradgraph — tools for gradgraph models

Usage:
  gradgraph viz <model.json|model.onnx> [-o <out>] [options]
  gradgraph --help | --version

Commands:
  viz            Draw a graph saved with g.toJSON(), or an ONNX model (.onnx, imported with
                 importOnnx); with --checkpoint, load a checkpoint's values into it first
                 (train.saveCheckpoint files hold values, not the graph).
                 The ops of @gradgraph/core and @gradgraph/ops are always known; a graph
                 with your own ops (defineOp) needs --import.
                 The output format follows the extension of <out>:
                   .dot   Graphviz DOT text (also what is printed when -o is left out)
                   .svg   SVG laid out by Graphviz (WebAssembly build, no system Graphviz)
                   .png   PNG rasterized from the SVG with resvg
                   .html  one self-contained page: pan/zoom, click a node for its details

Options for viz:
  -o, --out <file>         Output file; "-" or no -o prints DOT to stdout.
  --show <which>           forward | backward | both (default forward).
  --collapse <n>           Draw every scope at depth >= n as one box (top level = 1).
  --repeats <n>            Summarize runs of >= n identical sibling scopes as "xN" (default 3).
  --no-repeats             Draw every block, even identical ones.
  --adjoint-links <mode>   each | group | none: dotted links from backward nodes to the
                           forward node they are the adjoint of (default group).
  --direction <d>          TB (top to bottom, default) or LR (left to right).
  --import <module>        Load this JavaScript module first, e.g. the file that defines your
                           ops with defineOp (a path, or a package name); repeatable.
  --checkpoint <file>      A checkpoint of this graph (train.saveCheckpoint): its values are
                           checked against the graph and loaded; the .html page adds weight
                           histograms and the checkpoint's manifest (seed, config, optimizer).
  --title <text>           Title drawn above the graph (and of the HTML page).
  --width <px>             PNG width in pixels (default: twice the SVG size).
  --debug                  Print the stack trace of an unexpected failure.
  -h, --help               Show this help.
  -V, --version            Print the version.

Examples:
  gradgraph viz model.json -o model.svg --collapse 2
  gradgraph viz model.json -o backward.png --show backward --width 2400
  gradgraph viz model.json -o model.html --title "16-layer MLP"
  gradgraph viz model.onnx -o model.svg
  gradgraph viz model.json -o model.svg --import ./my-ops.js
`;

/** A command-line mistake: printed as one line with exit code 2. */
class UsageError extends Error {}

interface VizArgs {
  file: string;
  imports: string[];
  checkpoint?: string;
  out?: string;
  dot: DotOptions;
  width?: number;
  title?: string;
}

function parseInteger(flag: string, v: string | undefined, min: number): number {
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

function parseViz(args: string[]): VizArgs {
  const dot: DotOptions = {};
  let file: string | undefined;
  let out: string | undefined;
  let width: number | undefined;
  let title: string | undefined;
  let checkpoint: string | undefined;
  const imports: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-o':
      case '--out':
        out = value();
        break;
      case '--show': {
        const v = value();
        if (v !== 'forward' && v !== 'backward' && v !== 'both') throw new UsageError(`--show must be forward, backward or both, got "${v}"`);
        dot.show = v;
        break;
      }
      case '--collapse':
        dot.collapse = parseInteger('--collapse', value(), 1);
        break;
      case '--repeats':
        dot.repeats = parseInteger('--repeats', value(), 2);
        break;
      case '--no-repeats':
        dot.repeats = false;
        break;
      case '--adjoint-links': {
        const v = value();
        if (v !== 'each' && v !== 'group' && v !== 'none') throw new UsageError(`--adjoint-links must be each, group or none, got "${v}"`);
        dot.adjointLinks = v;
        break;
      }
      case '--direction': {
        const v = value().toUpperCase();
        if (v !== 'TB' && v !== 'LR') throw new UsageError(`--direction must be TB or LR, got "${v}"`);
        dot.direction = v;
        break;
      }
      case '--title':
        title = value();
        dot.title = title;
        break;
      case '--checkpoint':
        checkpoint = value();
        break;
      case '--import':
        imports.push(value());
        break;
      case '--width':
        width = parseInteger('--width', value(), 1);
        break;
      case '--debug':
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option "${a}" (see gradgraph --help)`);
        if (file !== undefined) throw new UsageError(`one model file at a time; got "${file}" and "${a}"`);
        file = a;
    }
  }
  if (file === undefined) throw new UsageError('viz needs a model file: gradgraph viz <model.json|model.onnx> -o <out.svg|.dot|.png|.html>');
  return { file, imports, out, dot, width, title, checkpoint };
}

/**
 * Registers the ops a saved graph may use: @gradgraph/ops's (it registers its own primitives,
 * such as `nn.checkClassIndices`, when loaded), then each `--import` module in order.
 */
export async function registerOps(imports: readonly string[] = [], cwd = process.cwd()): Promise<void> {
  await import('@gradgraph/ops');
  for (const spec of imports) await importModule(spec, cwd);
}

/** Imports `spec`: a file path (relative to `cwd`) or a package name resolved from `cwd`. */
async function importModule(spec: string, cwd: string): Promise<void> {
  const path = resolve(cwd, spec);
  let url: string;
  if (existsSync(path)) url = pathToFileURL(path).href;
  else if (/^(\.{1,2}[\\/]|[\\/])/.test(spec)) throw new UsageError(`--import ${spec}: no such file`);
  else {
    try {
      url = pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(spec)).href;
    } catch {
      throw new UsageError(`--import ${spec}: no such file, and no package of that name is installed here`);
    }
  }
  try {
    await import(url);
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    const hint = /\.[cm]?tsx?$/.test(path) && /extension/i.test(msg) ? ' (a TypeScript file: compile it to JavaScript, or run the command under tsx: node --import tsx node_modules/@gradgraph/viz/dist/bin.js ...)' : '';
    throw new SerializationError(`--import ${spec} failed: ${msg}${hint}`, { op: 'gradgraph viz' });
  }
}

/** Reads a graph document saved with `g.toJSON()`; a checkpoint gets a clear pointer instead. */
export function loadGraphFile(file: string): Graph {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SerializationError(code === 'ENOENT' ? `no such file: ${file}` : code === 'EISDIR' ? `${file} is a directory, not a model file` : `cannot read ${file}: ${(e as Error).message}`, { op: 'gradgraph viz' });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SerializationError(`${file} is not valid JSON (${(e as Error).message}); expected a graph saved with g.toJSON()`, { op: 'gradgraph viz' });
  }
  if (doc && typeof doc === 'object' && (doc as { format?: unknown }).format === CHECKPOINT_FORMAT) {
    throw new SerializationError(`${file} is a checkpoint: it holds param values, not the graph; draw the graph saved with g.toJSON() and pass the checkpoint with --checkpoint ${file}`, { op: 'gradgraph viz' });
  }
  const missing = unknownOp(doc);
  if (missing) {
    throw new SerializationError(
      `${file}: node ${missing.node} uses op ${JSON.stringify(missing.op)}, which no loaded module defines; if it is your own op, load the module that defines it with --import <module> (gradgraph viz ${file} --import ./my-ops.js ...)`,
      { op: 'gradgraph viz' },
    );
  }
  try {
    return Graph.fromJSON(doc as Parameters<typeof Graph.fromJSON>[0]);
  } catch (e) {
    if (e instanceof GradgraphError) throw new SerializationError(`${file}: ${e.detail}`, { op: 'gradgraph viz' });
    throw e;
  }
}

/** Imports an ONNX model file (`importOnnx`); its errors become one-line messages naming the file. */
export async function loadOnnxFile(file: string): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SerializationError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`, { op: 'gradgraph viz' });
  }
  const { importOnnx } = await import('@gradgraph/ops');
  try {
    return (await importOnnx(bytes)).graph;
  } catch (e) {
    if (e instanceof GradgraphError) throw new SerializationError(`${file}: ${e.message.replace(/\s*\n\s*/g, ' ')}`, { op: 'gradgraph viz' });
    throw e;
  }
}

/** The first node of a graph document whose op is not registered (malformed documents: fromJSON says). */
function unknownOp(doc: unknown): { node: number; op: string } | undefined {
  const nodes = (doc as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return undefined;
  for (let i = 0; i < nodes.length; i++) {
    const op = (nodes[i] as { op?: unknown } | null)?.op;
    if (typeof op === 'string' && !hasOp(op)) return { node: i, op };
  }
  return undefined;
}

/** What `train.saveCheckpoint` writes in `format`. */
const CHECKPOINT_FORMAT = 'gradgraph.checkpoint';

/** Loads a checkpoint's values into `g` (checked first by train); returns its manifest. */
async function loadCheckpointInto(g: Graph, file: string): Promise<Record<string, unknown>> {
  const { train } = await import('@gradgraph/ops');
  try {
    const ckpt = train.restoreCheckpoint(g, train.readCheckpoint(file));
    return { ...ckpt.manifest };
  } catch (e) {
    if (e instanceof GradgraphError) throw new SerializationError(`${file}: ${e.detail}`, { op: 'gradgraph viz' });
    throw e;
  }
}

async function viz(args: string[], io: Io): Promise<number> {
  const a = parseViz(args);
  await registerOps(a.imports);
  const g = extname(a.file).toLowerCase() === '.onnx' ? await loadOnnxFile(a.file) : loadGraphFile(a.file);
  const out = a.out;
  const fmt = out === undefined || out === '-' ? 'dot' : extname(out).toLowerCase().slice(1);
  if (!['dot', 'gv', 'svg', 'png', 'html', 'htm'].includes(fmt)) throw new UsageError(`cannot tell the format of "${out}": use .dot, .svg, .png or .html`);
  const { toDot } = await import('./dot');
  const manifest = a.checkpoint ? await loadCheckpointInto(g, a.checkpoint) : undefined;
  if (fmt === 'html' || fmt === 'htm') {
    const { report } = await import('./report');
    const { histograms } = await import('./plots');
    await report({
      out,
      title: a.title ?? `gradgraph: ${a.file}`,
      graph: g,
      dot: a.dot,
      ...(manifest && g.params().length ? { histograms: histograms(g) } : {}),
      manifest: { source: a.file, seed: g.seed, ...(manifest ? { checkpoint: a.checkpoint, checkpointManifest: manifest } : {}) },
    });
  } else {
    const dot = toDot(g, a.dot);
    if (fmt === 'dot' || fmt === 'gv') {
      if (out === undefined || out === '-') io.stdout(dot);
      else write(out, dot);
    } else {
      const { renderSvg, renderPng } = await import('./render');
      const svg = await renderSvg(dot);
      write(out!, fmt === 'svg' ? svg : renderPng(svg, a.width ? { width: a.width } : {}));
    }
  }
  if (out && out !== '-') io.stderr(`wrote ${terminalSafe(out)} (${g.size} nodes)\n`);
  return 0;
}

function write(file: string, data: string | Uint8Array): void {
  try {
    writeFileSync(file, data);
  } catch (e) {
    throw new SerializationError(`cannot write ${file}: ${(e as Error).message}`, { op: 'gradgraph viz' });
  }
}

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
}

const processIo: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

function version(): string {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Runs the command line with `argv` (without `node` and the script) and returns the exit code.
 * @example process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      io.stdout(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-V' || cmd === '--version') {
      io.stdout(`gradgraph ${version()}\n`);
      return 0;
    }
    if (cmd === 'viz') {
      if (rest.includes('-h') || rest.includes('--help')) {
        io.stdout(USAGE);
        return 0;
      }
      return await viz(rest, io);
    }
    throw new UsageError(`unknown command "${cmd}" (see gradgraph --help)`);
  } catch (e) {
    io.stderr(`gradgraph: error: ${oneLine(e)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr(e.stack + '\n');
    return e instanceof UsageError ? 2 : 1;
  }
}

/** The message on one line: a gradgraph error's detail and context, anything else its message. */
function oneLine(e: unknown): string {
  const own = e instanceof GradgraphError && e.op === 'gradgraph viz';
  // our own errors print their detail alone: "no such file: x.json"
  const msg = own ? e.detail : e instanceof Error ? (e instanceof GradgraphError || e instanceof UsageError ? e.message : `${e.name}: ${e.message}`) : String(e);
  return terminalSafe(msg.replace(/\s*\n\s*/g, ' ').trim());
}

/**
 * Text for a terminal: control characters (an ANSI escape's ESC, BEL, CR, ...), line and
 * paragraph separators and bidirectional overrides become visible `\u` escapes, so a name in a
 * model file can neither move the cursor, recolour the terminal nor reorder what is shown.
 * @example terminalSafe('w\u001b[2J'); // "w\\u001b[2J"
 */
export function terminalSafe(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
