import { Graph, Tensor } from '@gradgraph/core';
import { describe, expect, it } from 'vitest';
import * as data from '../data/index';
import * as nn from '../nn/index';
import * as optim from '../optim/index';
import { fit } from './fit';
import { formatEpoch, progress, type ProgressStream } from './progress';
import { trainingStep } from './step';

function stream(isTTY: boolean): ProgressStream & { text: string } {
  return {
    isTTY,
    text: '',
    write(t: string) {
      this.text += t;
      return true;
    },
  };
}

const noise = Tensor.randn([40, 2], 'float32', 11);
const set = data.dataset({ x: Array.from({ length: 40 }, (_, i) => [noise.data[2 * i] + (i % 2 ? 2 : -2), noise.data[2 * i + 1]]), y: Array.from({ length: 40 }, (_, i) => i % 2), numClasses: 2 });

function run(out: ProgressStream, mode: 'auto' | 'bar' | 'lines' = 'auto', epochs = 3, extra: { earlyStopping?: object } = {}) {
  const g = new Graph({ seed: 2 });
  const logits = nn.dense(g.input('x', [null, 2]), 2);
  const step = trainingStep({ loss: nn.softmaxCrossEntropy(logits, g.input('y', [null], 'int32')), predictions: logits, optimizer: optim.sgd({ lr: 0.1 }) });
  return fit({ step, data: set, batchSize: 8, epochs, validation: set, metrics: ['accuracy'], progress: { mode, stream: out, redrawMs: 0 }, ...extra });
}

/** Lines as a reader of the log sees them: `\r` redraws keep only the last state of a line. */
const visibleLines = (text: string) => text.split('\n').map((l) => l.split('\r').pop()!.replace(/\x1b\[2K/g, '')).filter((l) => l !== '');

describe('progress', () => {
  it('off a TTY: one line per epoch, then a summary; timings only on lines that say "time"', () => {
    const out = stream(false);
    run(out);
    const lines = out.text.trimEnd().split('\n');
    expect(out.text).not.toContain('\r');
    expect(lines).toHaveLength(4);
    lines.slice(0, 3).forEach((l, i) => expect(l).toMatch(new RegExp(`^epoch ${i + 1}/3  loss \\d\\.\\d{4}  accuracy \\d\\.\\d{4}  valLoss \\d\\.\\d{4}  valAccuracy \\d\\.\\d{4}  time \\d+(ms|\\.\\d\\ds)$`)));
    expect(lines[3]).toMatch(/^trained 3 epochs, 15 batches; total time \d/);
    for (const l of lines) if (/\d(ms|s)\b/.test(l)) expect(l).toContain('time');
  });

  it('two runs with the same seed print the same log once timings are dropped', () => {
    const a = stream(false);
    const b = stream(false);
    run(a);
    run(b);
    const strip = (t: string) => t.replace(/time \S+/g, 'time …');
    expect(strip(a.text)).toBe(strip(b.text));
  });

  it('on a TTY: a bar redrawn in place during the epoch, and the same epoch lines', () => {
    const out = stream(true);
    run(out, 'auto');
    expect(out.text).toContain('\r');
    expect(out.text).toMatch(/epoch 1\/3 \[=+>? *\] \d\/5  loss \d\.\d{4}/);
    expect(out.text).toContain('[========================] 5/5');
    const lines = visibleLines(out.text);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^epoch 1\/3  loss/);
    // forced modes
    const forced = stream(false);
    run(forced, 'bar', 1);
    expect(forced.text).toContain('\r');
    const plain = stream(true);
    run(plain, 'lines', 1);
    expect(plain.text).not.toContain('\r');
  });

  it('reports early stopping and the restored epoch', () => {
    const out = stream(false);
    run(out, 'lines', 30, { earlyStopping: { monitor: 'valAccuracy', patience: 1, restoreBest: true } });
    expect(out.text).toMatch(/stopped after epoch \d+: early stopping: valAccuracy did not improve for 1 epoch \(best \d\.\d{4} at epoch \d+\)\nrestored the params of epoch \d+\n/);
  });

  it('formats epoch logs in insertion order and refuses bad options', () => {
    expect(formatEpoch({ epoch: 1, loss: 0.123456, valLoss: 2e-5, lr: 0.1 }, 10)).toBe('epoch 1/10  loss 0.1235  valLoss 2.000e-5  lr 0.1000');
    expect(() => progress({ mode: 'fancy' as never })).toThrow(/mode must be one of/);
    expect(() => progress({ stream: {} as never })).toThrow(/stream must have a write/);
    expect(() => progress({ colour: true } as never)).toThrow(/unknown option "colour"/);
  });
});
