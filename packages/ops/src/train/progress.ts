/**
 * The progress display of `fit`: on a terminal, a bar redrawn in place during each epoch and one
 * line per finished epoch; elsewhere (a log file, CI), only the epoch lines. Timings appear only
 * on lines that contain the word "time", so a log can be compared across runs by dropping those.
 */
import { TrainError, checkKeys, choiceOption, fmtValue } from './errors';
import { fmtLog, type Callback, type EpochLogs, type FitContext } from './callbacks';

/** Where the display writes: `process.stdout` by default; anything with `write` (and `isTTY`). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** `'auto'` (default): a bar when the stream is a TTY, else lines; `'bar'` or `'lines'` to force. */
  mode?: 'auto' | 'bar' | 'lines';
  /** Default `process.stdout`. */
  stream?: ProgressStream;
  /** Minimum milliseconds between bar redraws. Default 100. */
  redrawMs?: number;
}

const BAR_WIDTH = 24;

/**
 * One epoch's line, without timing: the logs in the order they were recorded.
 * @example train.formatEpoch({ epoch: 3, loss: 0.41234, valLoss: 0.38 }, 20); // "epoch 3/20  loss 0.4123  valLoss 0.3800"
 */
export function formatEpoch(logs: EpochLogs, epochs: number): string {
  const parts = [`epoch ${logs.epoch}/${epochs}`];
  for (const [k, v] of Object.entries(logs)) if (k !== 'epoch') parts.push(`${k} ${fmtLog(v)}`);
  return parts.join('  ');
}

function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

/**
 * The progress display as a callback (fit adds one unless `progress: false`).
 * @example train.fit({ step, data: loader, epochs: 20, progress: { mode: 'lines', stream: process.stderr } });
 */
export function progress(opts: ProgressOptions = {}): Callback {
  const op = 'train.progress';
  const o = checkKeys(op, opts, ['mode', 'stream', 'redrawMs']);
  const mode = choiceOption(op, 'mode', o.mode, 'auto', ['auto', 'bar', 'lines'] as const);
  const stream = (o.stream as ProgressStream | undefined) ?? process.stdout;
  if (!stream || typeof stream.write !== 'function') throw new TrainError(op, `stream must have a write(text) method, got ${fmtValue(stream)}`);
  const redrawMs = o.redrawMs === undefined ? 100 : (o.redrawMs as number);
  if (typeof redrawMs !== 'number' || !(redrawMs >= 0)) throw new TrainError(op, `redrawMs must be a number ≥ 0, got ${fmtValue(o.redrawMs)}`);
  const bar = mode === 'bar' || (mode === 'auto' && !!stream.isTTY);
  let lastDraw = -Infinity;
  let drawn = false;
  let trainStart = 0;
  let epochStart = 0;

  const draw = (ctx: FitContext) => {
    const n = ctx.numBatches;
    const done = Math.round((BAR_WIDTH * ctx.batch) / Math.max(n, 1));
    const fill = done >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(done)}>${' '.repeat(BAR_WIDTH - done - 1)}`;
    const loss = Number.isNaN(ctx.runningLoss) ? '' : `  loss ${fmtLog(ctx.runningLoss)}`;
    stream.write(`\r\x1b[2Kepoch ${ctx.epoch}/${ctx.epochs} [${fill}] ${ctx.batch}/${n}${loss}`);
    drawn = true;
    lastDraw = performance.now();
  };
  const clear = () => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };

  return {
    onTrainBegin() {
      trainStart = performance.now();
    },
    onEpochBegin(_epoch, ctx) {
      epochStart = performance.now();
      if (bar) draw(ctx);
    },
    onBatchEnd(_info, ctx) {
      if (bar && (ctx.batch === ctx.numBatches || performance.now() - lastDraw >= redrawMs)) draw(ctx);
    },
    onEpochEnd(_epoch, logs, ctx) {
      clear();
      stream.write(`${formatEpoch(logs, ctx.epochs)}  time ${fmtMs(performance.now() - epochStart)}\n`);
    },
    onTrainEnd(history, ctx) {
      clear();
      const st = history.stopped;
      if (st) {
        const where = st.batch >= ctx.numBatches ? `after epoch ${st.epoch}` : `at epoch ${st.epoch}, batch ${st.batch}/${ctx.numBatches}`;
        stream.write(`stopped ${where}: ${st.reason}\n`);
      }
      const es = history.restoredEpoch;
      if (es !== null) stream.write(`restored the params of epoch ${es}\n`);
      stream.write(`trained ${history.epochs.length} epoch${history.epochs.length === 1 ? '' : 's'}, ${ctx.globalStep} batches; total time ${fmtMs(performance.now() - trainStart)}\n`);
    },
  };
}
