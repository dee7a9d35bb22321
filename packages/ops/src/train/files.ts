/**
 * Writing a file so that no reader ever sees half of it and no temporary file is left behind:
 * the text goes to `<path>.tmp-<pid>-<n>` next to the target, is flushed, and is renamed over
 * the target (atomic on POSIX file systems). On any error the temporary file is removed, and the
 * error says what is wrong with the path in words (a folder, a file where a folder should be, no
 * permission, no space) instead of a bare `EISDIR`. A process killed mid-write (SIGKILL, power
 * loss) leaves its temporary file; the next save to the same target removes those of processes
 * that no longer run.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Whether a process with this id is running (a stale temporary file's writer is not). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `<target>.tmp-<pid>-*` files left by processes that died mid-save (and the
 * `<target>.tmp-<pid>` of older versions). Returns their names.
 */
export function sweepTemporaryFiles(target: string): string[] {
  const dir = dirname(target);
  const prefix = `${basename(target)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)(?:-\d+)?$/.exec(name.slice(prefix.length));
    if (!m || alive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed;
}

/** What is wrong with writing `path`, in words, from the error the file system gave. */
export function describeWriteError(path: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  if (code === 'EISDIR') return `${path} is a folder; give a file path (e.g. ${join(path, 'model.ckpt.json')})`;
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    // some ancestor is a file: name it
    for (let p = dirname(path); p !== dirname(p); p = dirname(p)) {
      try {
        if (!statSync(p).isDirectory()) return `cannot put ${path} there: ${p} is a file, not a folder`;
      } catch {
        // does not exist: look higher
      }
    }
  }
  if (code === 'EACCES' || code === 'EPERM') return `no permission to write ${path}`;
  if (code === 'ENOSPC') return `no space left on the device to write ${path}`;
  if (code === 'EROFS') return `${path} is on a read-only file system`;
  if (code === 'ENAMETOOLONG') return `the path ${path} is too long`;
  return `cannot write ${path}: ${err?.message ?? String(e)}`;
}

/**
 * Writes `data` to `path` atomically (see the module comment); creates missing folders. Errors
 * are made by `fail(detail)` (each caller throws its own typed error).
 * @example train.writeFileAtomic('runs/report.html', html, (d) => new Error(d));
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, fail: (detail: string) => Error): void {
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(describeWriteError(path, e));
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw fail(describeWriteError(path, e));
  }
  sweepTemporaryFiles(path);
  const tmp = `${path}.tmp-${process.pid}-${counter++}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failed; the unlink below matters more
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw fail(describeWriteError(path, e));
  }
}
