import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, SerializationError, Tensor, type GraphState } from '@gradgraph/core';
import { afterAll, describe, expect, it } from 'vitest';
import * as data from '../data/index';
import * as nn from '../nn/index';
import * as optim from '../optim/index';
import { checkpoint, graphHash, libraryVersion, loadCheckpoint, parseCheckpoint, readCheckpoint, restoreCheckpoint, saveCheckpoint, type CheckpointDocument } from './checkpoint';
import { CheckpointError } from './errors';
import { trainingStep } from './step';

const dir = mkdtempSync(join(tmpdir(), 'gradgraph-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model with every kind of value a checkpoint holds: weights, batchNorm statistics, Adam moments and step, dropout. */
function build(opts: { seed?: number; hidden?: number; act?: 'relu' | 'tanh'; dtype?: 'float32' | 'float64' } = {}) {
  const g = new Graph({ seed: opts.seed ?? 4 });
  const x = g.input('x', [null, 4], opts.dtype ?? 'float32');
  const y = g.input('y', [null], 'int32');
  const h0 = nn.batchNorm(nn.dense(x, opts.hidden ?? 6));
  const h = nn.dropout(opts.act === 'tanh' ? nn.tanh(h0) : nn.relu(h0), 0.3);
  const logits = nn.dense(h, 3);
  const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.01 }) });
  return { g, step };
}

const iris = data.loadIris();
const { train: trainRaw, test: testRaw } = data.trainTestSplit(iris, { testSize: 0.2, seed: 3, stratify: true });
const scaler = data.fitStandardize(trainRaw);
const trainSet = data.transform(scaler, trainRaw);
const testSet = data.transform(scaler, testRaw);
const loader = data.batches(trainSet, { batchSize: 20, seed: 9 });

function trained() {
  const m = build();
  for (let e = 1; e <= 2; e++) for (const b of loader.epoch(e)) m.step.trainBatch(b);
  return m;
}

const bytes = (t: Tensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));

function expectSameValues(a: GraphState, b: GraphState) {
  expect([...b.values.keys()]).toEqual([...a.values.keys()]);
  for (const [name, t] of a.values) expect(bytes(b.values.get(name)!), name).toEqual(bytes(t));
  expect(b.rngCounter).toBe(a.rngCounter);
}

describe('checkpoint contents', () => {
  it('round-trips every param, every state value and the RNG counter bit for bit, through a file', () => {
    const a = trained();
    const path = join(dir, 'roundtrip', 'model.ckpt.json');
    const doc = saveCheckpoint(path, a.g, { preprocessing: { x: scaler }, config: { hidden: 6 }, optimizer: a.step.optimizer, data: { loader, epoch: 3, batch: 0 } });
    expect(Object.keys(doc.params)).toEqual(a.g.params().map((p) => p.name));
    expect(Object.keys(doc.state)).toEqual(expect.arrayContaining(['batchNorm/runningMean', 'batchNorm/runningVar', 'adam/step', 'adam/dense/kernel/m', 'adam/dense/kernel/v']));
    expect(readdirSync(join(dir, 'roundtrip'))).toEqual(['model.ckpt.json']); // no temporary file left
    const b = build();
    expect(b.g.rngCounter).toBe(0);
    const ckpt = loadCheckpoint(path, b.g);
    expectSameValues(a.g.snapshot(), b.g.snapshot());
    // identical predictions, and identical next training steps (dropout masks included)
    expect(bytes(b.step.predictBatch(testSet.x))).toEqual(bytes(a.step.predictBatch(testSet.x)));
    const next = loader.batch(3, 0);
    expect(b.step.trainBatch(next).loss).toBe(a.step.trainBatch(next).loss);
    // what else came back
    expect(ckpt.data).toEqual({ epoch: 3, batch: 0, ...loader.config });
    expect(ckpt.manifest.config).toEqual({ hidden: 6 });
    expect(ckpt.manifest.optimizer?.name).toBe('adam');
    expect(bytes(data.transform(ckpt.preprocessing.x, testRaw).x)).toEqual(bytes(testSet.x));
  });

  it('keeps a param named __proto__ (or constructor): a checkpoint is not a plain object lookup', () => {
    const make = () => {
      const g = new Graph({ seed: 2 });
      g.param('__proto__', Tensor.from([1, 2]));
      g.state('constructor', Tensor.from([3]));
      return g;
    };
    const a = make();
    a.setValue('__proto__', Tensor.from([5, 6]));
    const path = join(dir, 'proto.ckpt.json');
    const doc = saveCheckpoint(path, a);
    expect(Object.keys(doc.params)).toEqual(['__proto__']);
    expect(Object.keys(doc.state)).toEqual(['constructor']);
    const b = make();
    loadCheckpoint(path, b);
    expect(b.getValue('__proto__').toArray()).toEqual([5, 6]);
    expect(b.getValue('constructor').toArray()).toEqual([3]);
  });

  it('keeps NaN, ±Infinity and −0 exactly', () => {
    const a = build();
    const k = a.g.getValue('dense/kernel');
    k.data.set([NaN, Infinity, -Infinity, -0]);
    a.g.setValue('dense/kernel', k);
    const b = build();
    restoreCheckpoint(b.g, parseCheckpoint(JSON.stringify(checkpoint(a.g))));
    const got = b.g.getValue('dense/kernel').data;
    expect(Number.isNaN(got[0]) && got[1] === Infinity && got[2] === -Infinity && Object.is(got[3], -0)).toBe(true);
  });

  it('has a manifest: graph hash, seed, config, library version', () => {
    const { g } = build();
    const doc = checkpoint(g, { config: { note: 'first run', lr: 0.01 } });
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.manifest.library).toEqual({ name: '@gradgraph/ops', version: pkg.version });
    expect(libraryVersion()).toBe(pkg.version);
    expect(doc.manifest.seed).toBe(4);
    expect(doc.manifest.config).toEqual({ note: 'first run', lr: 0.01 });
    expect(doc.format).toBe('gradgraph.checkpoint');
    expect(() => checkpoint(g, { config: { f: 1n } as never })).toThrow(/config must be JSON-serializable/);
    expect(() => checkpoint(g, { preprocessing: { x: { kind: 'magic' } as never } })).toThrow(CheckpointError);
  });

  it('the graph hash is a function of the structure only', () => {
    const a = build();
    const b = build(); // built again: same structure, other nodes' source lines don't matter
    expect(graphHash(b.g)).toBe(graphHash(a.g));
    for (const e of [1, 2]) for (const batch of loader.epoch(e)) a.step.trainBatch(batch);
    expect(graphHash(a.g)).toBe(graphHash(b.g)); // values and the RNG counter are not structure
    expect(graphHash(build({ act: 'tanh' }).g)).not.toBe(graphHash(a.g));
    expect(graphHash(build({ hidden: 7 }).g)).not.toBe(graphHash(a.g));
    expect(graphHash(a.g)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('refused checkpoints leave the graph untouched', () => {
  const source = trained();
  const good = JSON.stringify(saveCheckpoint(join(dir, 'good.ckpt.json'), source.g, { preprocessing: { x: scaler }, data: { loader, epoch: 2, batch: 2 } }));
  const edit = (f: (d: CheckpointDocument) => void) => {
    const d = JSON.parse(good) as CheckpointDocument;
    f(d);
    return JSON.stringify(d);
  };

  /** Loads `text` into a fresh graph and expects a CheckpointError matching `message`, with the graph unchanged. */
  function refused(text: string, message: RegExp, target = build(), opts = {}) {
    const before = target.g.snapshot();
    let err: unknown;
    try {
      restoreCheckpoint(target.g, parseCheckpoint(text), opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as Error).message).toMatch(message);
    expectSameValues(before, target.g.snapshot());
  }

  it('corrupt files', () => {
    refused(good.slice(0, good.length / 2), /not valid JSON \(a truncated or corrupt file\?\)/);
    refused('[1, 2]', /not an object/);
    refused(edit((d) => ((d as { format: string }).format = 'gradgraph.graph')), /not a gradgraph checkpoint/);
    refused(edit((d) => (d.version = 99)), /unsupported checkpoint version 99/);
    refused(edit((d) => (d.data!.epoch = 0)), /data.epoch must be an integer ≥ 1, got 0/);
    refused(edit((d) => (d.params['dense/kernel'].data = d.params['dense/kernel'].data.slice(0, 8))), /param "dense\/kernel": float32\[4,6\] needs 96 bytes, the data has 6/);
    refused(edit((d) => (d.state['adam/step'].dtype = 'complex64' as never)), /state "adam\/step" is not a tensor document/);
    refused(edit((d) => (d.rngCounter = -1)), /rngCounter must be a non-negative integer/);
    refused(edit((d) => (d.manifest.graphHash = 'md5:x')), /graphHash must be a "sha256:…" string/);
    refused(edit((d) => (d.preprocessing.x = { ...d.preprocessing.x, std: [1, 1, -1, 1] } as never)), /preprocessing "x": .*std\[2\] is -1/);
    refused(edit((d) => (d.data!.batch = 99)), /data.batch is 99, but an epoch has only 6 batches/);
    // 10,000 levels deep: refused by name, not by a stack overflow
    expect(good).toContain('"extra":null');
    refused(good.replace('"extra":null', `"extra":${'['.repeat(10000)}${']'.repeat(10000)}`), /the checkpoint is nested more than 256 levels deep \(at extra\[0\]/);
  });

  it('files that do not match the graph: names, shapes, dtypes, sides, structure, seed', () => {
    refused(edit((d) => delete d.params['dense_1/bias']), /the checkpoint has no value for param "dense_1\/bias" \(float32\[3\]\)/);
    refused(edit((d) => (d.params.extra = d.params['dense_1/bias'])), /the checkpoint has "extra", which is not a param or state of this graph/);
    refused(edit((d) => {
      d.state['dense/bias'] = d.params['dense/bias'];
      delete d.params['dense/bias'];
    }), /"dense\/bias" is param in the graph but state in the checkpoint/);
    refused(good, /param "dense\/kernel" is float32\[4,6\] in the checkpoint but float32\[4,7\] in the graph/, build({ hidden: 7 }));
    refused(good, /param "dense\/kernel" is float32\[4,6\] in the checkpoint but float64\[4,6\] in the graph/, build({ dtype: 'float64' }));
    refused(good, /the graph's structure differs from the one saved/, build({ act: 'tanh' }));
    refused(good, /saved from a graph with seed 4; this graph has seed 5/, build({ seed: 5 }));
  });

  it('reads a version-1 file (epochs counted from 0) as the same position, numbered from 1', () => {
    const v1 = edit((d) => {
      d.version = 1;
      d.data!.epoch = 1; // the second epoch, counted from 0
    });
    const ckpt = parseCheckpoint(v1);
    expect(ckpt.data).toMatchObject({ epoch: 2, batch: 2 });
    restoreCheckpoint(build().g, ckpt);
  });

  it('an unknown restore option is refused (checkgraph: false would otherwise check anyway)', () => {
    refused(good, /unknown option "checkgraph"; the option is checkGraph/, build({ act: 'tanh' }), { checkgraph: false });
  });

  it('checkGraph: false loads values by name into a graph of another structure', () => {
    const other = build({ act: 'tanh' });
    restoreCheckpoint(other.g, parseCheckpoint(good), { checkGraph: false });
    expectSameValues(source.g.snapshot(), other.g.snapshot());
  });

  it('file errors name the path', () => {
    expect(() => readCheckpoint(join(dir, 'missing.json'))).toThrow(/cannot read .*missing\.json/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": "gradgraph.checkpoint"');
    expect(() => readCheckpoint(bad)).toThrow(CheckpointError);
    expect(() => readCheckpoint(bad)).toThrow(/bad\.json: not valid JSON/);
    expect(() => saveCheckpoint('', source.g)).toThrow(/path must be a non-empty string/);
  });
});
