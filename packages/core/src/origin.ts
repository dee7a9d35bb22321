/**
 * Finds the user's source line that is creating a node: the first stack frame outside the
 * library. Library folders register themselves; test files inside them count as user code.
 *
 * Formatting a stack through source maps costs ~100 µs, too much per node. So the frames are
 * read raw (V8 call sites), the first user frame picked, and its formatted, source-mapped text
 * cached by raw position: each distinct call site is formatted once.
 */
const libraryDirs = new Set<string>();

/** Marks every file under `dir` (a path or file: URL of a folder) as library code for origins. */
export function registerLibraryPath(dir: string): void {
  let p = toPath(dir);
  if (!p.endsWith('/')) p += '/';
  libraryDirs.add(p);
  libraryCache.clear();
}

function toPath(file: string): string {
  return file.startsWith('file://') ? decodeURIComponent(new URL(file).pathname) : file;
}

const libraryCache = new Map<string, boolean>();

function isLibraryFile(file: string): boolean {
  let v = libraryCache.get(file);
  if (v === undefined) {
    const p = toPath(file);
    v = p.startsWith('node:') || p.includes('/node_modules/') || p.startsWith('internal/') || p === '' || p.startsWith('<');
    if (!v && !/\.(test|spec)\.[cm]?[jt]sx?$/.test(p)) for (const d of libraryDirs) if (p.startsWith(d)) v = true;
    libraryCache.set(file, v);
  }
  return v;
}

// This module's folder is library code. A bundle without module URLs (an IIFE build has no
// import.meta.url; about:blank and data: URLs have no folder) skips it: frames are then told
// apart by the rules above alone.
try {
  registerLibraryPath(new URL('.', import.meta.url).href);
} catch {
  // no folder to register
}

const FRAME = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/;

/** The slow path: format the stack (source-mapped) and take the first user frame. */
function formattedOrigin(skip: Function): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, skip);
  const lines = (holder.stack ?? '').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const m = FRAME.exec(lines[i]);
    if (!m) continue;
    const file = toPath(m[1]);
    if (isLibraryFile(file)) continue;
    return `${file}:${m[2]}:${m[3]}`;
  }
  return '<unknown>';
}

const mapped = new Map<string, string>();
const rawSites = (_e: Error, s: unknown[]) => s;

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
}

/** `file:line:col` of the first non-library frame, or `<unknown>`. */
export function captureOrigin(): string {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  let key = '';
  // a short stack first (cheap); a deep one only when the library frames fill it
  for (const depth of [16, 80]) {
    let sites: CallSiteLike[] = [];
    try {
      Error.stackTraceLimit = depth;
      Error.prepareStackTrace = rawSites;
      const holder: { stack?: unknown } = {};
      Error.captureStackTrace(holder, captureOrigin);
      sites = (holder.stack as CallSiteLike[]) ?? [];
    } finally {
      Error.prepareStackTrace = prepare;
    }
    for (const s of sites) {
      const f = s.getFileName();
      if (!f || isLibraryFile(f)) continue;
      key = `${f}:${s.getLineNumber()}:${s.getColumnNumber()}`;
      break;
    }
    if (key || sites.length < depth) break;
  }
  Error.stackTraceLimit = 80;
  let out = key ? mapped.get(key) : undefined;
  if (out === undefined) {
    out = formattedOrigin(captureOrigin);
    if (key) mapped.set(key, out);
  }
  Error.stackTraceLimit = limit;
  return out;
}
