import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph, SerializationError, Tensor } from '@gradgraph/core';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from './errors';
import { readCheckpoint, saveCheckpoint } from './checkpoint';
import { sweepTemporaryFiles, writeFileAtomic } from './files';

const dir = mkdtempSync(join(tmpdir(), 'gradgraph-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function small() {
  const g = new Graph({ seed: 1 });
  g.param('w', Tensor.from([1, 2, 3]));
  return g;
}

/** The temporary files next to `target`. */
const temps = (target: string) => readdirSync(join(target, '..')).filter((n) => n.startsWith(`${target.split('/').pop()}.tmp-`));

/** Spawns a process and resolves with its pid once it has exited (a pid that no longer runs). */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', '0']);
    child.on('exit', () => resolve(child.pid!));
  });
}

describe('saving files', () => {
  it('a folder, or a path under a file, is a CheckpointError that says so; no temporary file is left', () => {
    const g = small();
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    expect(() => saveCheckpoint(folder, g)).toThrow(CheckpointError);
    expect(() => saveCheckpoint(folder, g)).toThrow(new RegExp(`${folder} is a folder; give a file path \\(e\\.g\\. ${folder}/model\\.ckpt\\.json\\)`));
    const file = join(dir, 'a-file.txt');
    writeFileSync(file, 'x');
    expect(() => saveCheckpoint(join(file, 'sub', 'model.json'), g)).toThrow(new RegExp(`cannot put .* there: ${file} is a file, not a folder`));
    expect(() => saveCheckpoint(join(file, 'model.json'), g)).toThrow(/is a file, not a folder/);
    expect(readdirSync(dir).sort()).toEqual(['a-file.txt', 'a-folder']);
    expect(readdirSync(folder)).toEqual([]);
    // reading a folder is refused in words too
    expect(() => readCheckpoint(folder)).toThrow(/is a folder, not a checkpoint file/);
    expect(() => readCheckpoint(join(dir, 'none.json'))).toThrow(/cannot read .*none\.json: no such file/);
  });

  it('an error after the temporary file was created removes it', () => {
    const target = join(dir, 'broken.bin');
    // not bytes: the write throws after the temporary file is open
    expect(() => writeFileAtomic(target, { length: 4 } as never, (d) => new Error(`refused: ${d}`))).toThrow(/^refused: cannot write .*broken\.bin/);
    expect(existsSync(target)).toBe(false);
    expect(temps(target)).toEqual([]);
    writeFileAtomic(target, new Uint8Array([1, 2, 3]), (d) => new Error(d));
    expect(temps(target)).toEqual([]);
  });

  it('the next save removes the temporary files of processes that died mid-save, not those of live ones', async () => {
    const target = join(dir, 'swept.ckpt.json');
    const dead = await deadPid();
    writeFileSync(`${target}.tmp-${dead}`, 'half'); // an older version's name
    writeFileSync(`${target}.tmp-${dead}-3`, 'half');
    writeFileSync(`${target}.tmp-${process.ppid}-0`, 'a live writer'); // our parent runs
    writeFileSync(join(dir, 'other.json.tmp-1-1'), 'another target');
    saveCheckpoint(target, small());
    expect(temps(target)).toEqual([`swept.ckpt.json.tmp-${process.ppid}-0`]);
    expect(existsSync(join(dir, 'other.json.tmp-1-1'))).toBe(true);
    expect(readCheckpoint(target).params.get('w')!.toArray()).toEqual([1, 2, 3]);
    expect(sweepTemporaryFiles(target)).toEqual([]);
  });

  it('a process SIGKILLed mid-save leaves a temporary file; the next save removes it', async () => {
    const target = join(dir, 'killed', 'model.ckpt.json');
    const script = join(dir, 'saver.ts');
    const ops = fileURLToPath(new URL('../index.ts', import.meta.url));
    // a few MB per save, saved again and again, so that a kill lands mid-write
    writeFileSync(script, [
      `import { Graph, Tensor } from '@gradgraph/core';`,
      `import { train } from ${JSON.stringify(ops)};`,
      `const g = new Graph({ seed: 1 });`,
      `g.param('w', Tensor.randn([2_000_000]));`,
      `for (;;) train.saveCheckpoint(${JSON.stringify(target)}, g);`,
    ].join('\n'));
    let leftover: string[] = [];
    for (let attempt = 0; attempt < 20 && !leftover.length; attempt++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('../../', import.meta.url)), stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      // wait (without a clock) until a save is under way, then kill it there
      while (!(existsSync(join(target, '..')) && temps(target).length)) await new Promise((r) => setImmediate(r));
      child.kill('SIGKILL');
      await exited;
      leftover = temps(target);
    }
    expect(leftover.length).toBeGreaterThan(0);
    saveCheckpoint(target, small());
    expect(temps(target)).toEqual([]);
    expect(readCheckpoint(target).params.get('w')!.toArray()).toEqual([1, 2, 3]);
  }, 120_000);

  it('values too large for one JSON text (~100M floats) are refused before anything is encoded or written', () => {
    const g = new Graph({ seed: 1 });
    g.param('small', Tensor.zeros([3]));
    g.param('huge', new Tensor('float32', [110_000_000])); // 440 MB: 587M characters of base64
    const target = join(dir, 'huge.ckpt.json');
    expect(() => saveCheckpoint(target, g)).toThrow(CheckpointError);
    expect(() => saveCheckpoint(target, g)).toThrow(/too large for a JSON checkpoint: as base64 text they take 587 MB, over the 537 MB one JavaScript string can hold; the largest: "huge" \(float32\[110000000\], 440 MB\)/);
    expect(() => g.toJSON()).toThrow(SerializationError);
    expect(() => g.toJSON()).toThrow(/too large for a JSON document: .* the largest is "huge" \(float32\[110000000\]\)/);
    expect(existsSync(target)).toBe(false);
    expect(temps(target)).toEqual([]);
  });
});
