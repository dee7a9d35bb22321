/**
 * Does the tutorial hold up? Two claims about learnable activations, measured on MNIST:
 *
 *   1. SPLASH (Tavakoli et al. 2021, cited by the tutorial) improves accuracy and adversarial
 *      robustness: clean test accuracy, and accuracy under FGSM and PGD (L∞) at three ε, of
 *      ReLU, PReLU, the tutorial's two-slope unit, SPLASH and APL MLPs, and of small CNNs with
 *      ReLU, PReLU, SPLASH and APL (per channel), over 5 seeds.
 *   2. "The functions that get learned tend to be convex" (the tutorial's own observation): the
 *      fraction of learned shapes that are convex on [−3, 3], against the fraction expected by
 *      chance from the initial shapes (`nn.chanceConvexity`: each coefficient moved as far as
 *      training moved it, in a random direction).
 *
 * Every model is trained on the demo's split (8,000 training and 2,000 test digits, seeded and
 * stratified); a seed fixes the initial weights and the batch order, and each model of a kind (MLP
 * or CNN) with seed s starts from the same weights, so differences are paired by seed. Sized to
 * fit about three minutes of CPU: 2 epochs, 300 attacked digits, PGD with 5 steps, 4-channel CNNs. Same seeds, same
 * numbers: timings are only on lines that contain the word "time". Run: pnpm claims
 * (`--pictures` also refreshes docs/img/claims/).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph, Tensor, compile, type Sym } from '@gradgraph/core';
import { adversarial, data, init, nn, optim, train } from '@gradgraph/ops';
import { activationChart, activationCurves, findActivations, renderChart, renderPng, type ActivationCurve } from '@gradgraph/viz';

// ---- the models: a table of builders ---------------------------------------------------------

/** What a builder gets: the pixels and the experiment's sizes. */
export interface BuildContext {
  /** The input, `[N, 784]` pixels in [0, 1]. A CNN reshapes it to `[N, 28, 28, 1]` itself. */
  x: Sym;
  /** Hidden layer widths (the MLPs). */
  hidden: readonly number[];
  /** Convolution channels (the CNNs). */
  channels: number;
}

/** One row of the table: a name and a builder that returns the logits `[N, 10]`. */
export interface ModelSpec {
  name: string;
  /** What the row is, in a few words. */
  description: string;
  build: (ctx: BuildContext) => Sym;
}

/** An MLP with He-initialized dense layers, each followed by `act`, in scopes hidden1, hidden2, ... */
function mlp(act: (z: Sym) => Sym): (ctx: BuildContext) => Sym {
  return ({ x, hidden }) => {
    let h = x;
    hidden.forEach((width, i) => {
      h = h.graph.scope(`hidden${i + 1}`, () => act(nn.dense(h, width, { init: init.heNormal() })));
    });
    return h.graph.scope('output', () => nn.dense(h, 10));
  };
}

/**
 * A small CNN: the digit as a [28, 28, 1] image, conv 5×5 with stride 2, no padding (`channels`
 * kernels, He init) → `act` → max-pool 2×2 → dense 10; the conv and its activation in scope conv1.
 * 28×28 → 12×12×C → 6×6×C → 10. Sized to fit the time budget: with C = 4 its activations see 576
 * values per digit (SPLASH's and APL's elementwise loops are what cost most), and a 5-seed run of
 * the four CNN rows takes about as long as the five MLP rows.
 */
function cnn(act: (z: Sym) => Sym): (ctx: BuildContext) => Sym {
  return ({ x, channels }) => {
    const img = x.reshape([-1, 28, 28, 1]);
    const h = x.graph.scope('conv1', () => nn.maxPool(act(nn.conv(img, channels, { kernel: 5, stride: 2, init: init.heNormal() })), { size: 2 }));
    return x.graph.scope('output', () => nn.dense(nn.flatten(h), 10));
  };
}

/** The rows: MLPs with each activation, then CNNs with the same activations. */
export const MODELS: readonly ModelSpec[] = [
  { name: 'relu', description: 'ReLU', build: mlp((z) => nn.relu(z)) },
  { name: 'prelu', description: 'PReLU, one slope per layer (0.25 at the start)', build: mlp((z) => nn.prelu(z)) },
  { name: 'twoSlope', description: "the tutorial's k₁/k₂ unit, one pair per layer (1, 0.25 at the start)", build: mlp((z) => nn.twoSlope(z)) },
  { name: 'splash', description: 'SPLASH, 7 hinges on [−2.5, 2.5], shared by the layer, ReLU at the start', build: mlp((z) => nn.splash(z)) },
  { name: 'apl', description: 'APL, 2 hinges per unit, ReLU at the start', build: mlp((z) => nn.apl(z)) },
  { name: 'cnn-relu', description: 'CNN, ReLU', build: cnn((z) => nn.relu(z)) },
  { name: 'cnn-prelu', description: 'CNN, PReLU, one slope per channel (0.25 at the start)', build: cnn((z) => nn.prelu(z, { perChannel: true })) },
  { name: 'cnn-splash', description: 'CNN, SPLASH, 7 hinges on [−2.5, 2.5] per channel, ReLU at the start', build: cnn((z) => nn.splash(z, { share: 'channel' })) },
  { name: 'cnn-apl', description: 'CNN, APL, 2 hinges per channel, ReLU at the start', build: cnn((z) => nn.apl(z)) },
];

// ---- options ----------------------------------------------------------------------------------

export interface ClaimsOptions {
  /** Training seeds. Default [1, 2, 3, 4, 5]. */
  seeds?: readonly number[];
  /** MNIST digits loaded (split 80/20 as in the demo). Default 10,000. */
  digits?: number;
  /** Hidden widths (the MLPs). Default [64, 64]. */
  hidden?: readonly number[];
  /** Convolution channels (the CNNs). Default 4. */
  channels?: number;
  /** Training epochs. Default 2. */
  epochs?: number;
  /** PGD steps. Default 5 (α = 2.5·ε/steps, random start). */
  pgdSteps?: number;
  /** Test digits attacked (a seeded, stratified subset of the test split). Default 300 (to fit the time budget). */
  attackDigits?: number;
  /** Attack radii. Default [0.05, 0.1, 0.2]. */
  eps?: readonly number[];
  /** Which rows of MODELS to run (by name). Default all. */
  models?: readonly string[];
  /** Sign patterns for the chance level of convexity. Default 100. */
  chanceDraws?: number;
  /** Where the report goes. Default out/ at the repository root. */
  outDir?: string;
  /** Also write the README's pictures here. */
  picturesDir?: string;
  /** Where lines are printed. Default console.log. */
  log?: (line: string) => void;
}

/** The range and grid every shape is judged on, and the tolerances: near-exact convexity, and no drop of a tenth of the steepest slope. */
export const CONVEXITY = { range: [-3, 3] as [number, number], points: 601, tols: [1e-3, 0.1] as const };
const SPLIT_SEED = 42; // the demo's split

// ---- results ----------------------------------------------------------------------------------

/** One model trained with one seed. */
export interface Run {
  model: string;
  seed: number;
  clean: number;
  /** Accuracy under attack, by attack name `fgsm@0.1`, `pgd@0.1`. */
  attacked: Record<string, number>;
  /** Per learned activation and tolerance (CONVEXITY.tols): which shapes are convex after training, at the start, and by chance. */
  convexity: { scope: string; tol: number; convex: boolean[]; initial: boolean[]; chance: number[] }[];
  /** Fraction of the learned activations' inputs (test set) inside the convexity range. */
  inRange: number;
  /** Attacked clean accuracy check: every attack's accuracy ≤ the clean accuracy on the same digits. */
  attackInvariant: boolean;
  trainMs: number;
  attackMs: number;
  /** Process CPU time of training, attacking and judging shapes, in ms. */
  cpuMs: { train: number; attack: number; convexity: number };
}

export interface Row {
  model: string;
  clean: Stat;
  attacked: Record<string, Stat>;
  /** Per tolerance (CONVEXITY.tols). */
  convex?: { tol: number; k: number; n: number; chance: number; initial: number; z: number }[];
  inRange?: number;
}

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export interface ClaimsResult {
  runs: Run[];
  rows: Row[];
  attacks: string[];
  verdicts: string[];
  table: string;
  files: string[];
}

// ---- statistics ---------------------------------------------------------------------------------

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n − 1); NaN for one value. */
const std = (xs: readonly number[]) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, v) => a + (v - mean(xs)) ** 2, 0) / (xs.length - 1)));
const stat = (xs: readonly number[]): Stat => ({ mean: mean(xs), std: std(xs), n: xs.length });
const pp = (v: number) => `${(100 * v).toFixed(2)}`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const fmtStat = (s: Stat) => (Number.isNaN(s.std) ? pp(s.mean) : `${pp(s.mean)} ± ${pp(s.std)}`);

/**
 * "a more than b" on paired per-seed values: the mean difference, its standard error
 * sd(d)/√n, and whether it exceeds 2 SE.
 */
function paired(a: readonly number[], b: readonly number[]): { diff: number; se: number; significant: boolean | undefined } {
  const d = a.map((v, i) => v - b[i]);
  const se = std(d) / Math.sqrt(d.length);
  return { diff: mean(d), se, significant: Number.isNaN(se) ? undefined : Math.abs(mean(d)) > 2 * se };
}

function verdictMore(label: string, what: string, a: readonly number[], b: readonly number[]): string {
  const { diff, se, significant } = paired(a, b);
  const sign = diff >= 0 ? '+' : '−';
  const d = `${sign}${pp(Math.abs(diff))} pp`;
  if (significant === undefined) return `${label}: not decided — difference ${d}, 1 seed (no standard error)`;
  const seTxt = `SE ${pp(se)} pp over ${a.length} paired seeds`;
  if (diff > 0 && significant) return `${label}: yes — ${d}, beyond 2 SE (${seTxt})`;
  if (diff < 0 && significant) return `${label}: no — ${what} by ${pp(-diff)} pp, beyond 2 SE (${seTxt})`;
  return `${label}: no — ${d}, within 2 SE (${seTxt})`;
}

// ---- one run ----------------------------------------------------------------------------------

interface Split {
  train: data.Dataset;
  test: data.Dataset;
  /** The attacked digits: a stratified subset of test. */
  attack: data.Dataset;
}

function buildModel(spec: ModelSpec, seed: number, hidden: readonly number[], channels: number) {
  const g = new Graph({ seed });
  const x = g.input('x', [null, 784]);
  const y = g.input('y', [null], 'int32');
  const logits = spec.build({ x, hidden, channels });
  const loss = nn.softmaxCrossEntropy(logits, y);
  const step = train.trainingStep({ loss, predictions: logits, optimizer: optim.adam({ lr: 2e-3 }) });
  return { g, x, logits, step };
}

/** The fraction of the values of `syms` on `x` inside [lo, hi]. */
function fractionInRange(g: Graph, syms: Sym[], x: Tensor, [lo, hi]: readonly [number, number]): number {
  if (!syms.length) return NaN;
  const outs = compile(g, { outputs: syms }).run({ x });
  let inside = 0;
  let all = 0;
  for (const t of outs) for (const v of t.data) (all++, v >= lo && v <= hi && inside++);
  return inside / all;
}

type Resolved = Required<Omit<ClaimsOptions, 'picturesDir' | 'log' | 'models'>>;

function runOne(spec: ModelSpec, seed: number, split: Split, o: Resolved, keepCurves: boolean) {
  const m = buildModel(spec, seed, o.hidden, o.channels);
  const acts = nn.learnedActivations(m.g);
  const initial = acts.map((a) => Object.fromEntries(Object.entries(a.params).map(([k, p]) => [k, m.g.getValue(p).clone()])));
  const sites = findActivations(m.g);
  const curveOpts = { range: CONVEXITY.range, points: 121, channels: 8, convexityTol: CONVEXITY.tols[0] };
  const before = keepCurves && sites.length ? activationCurves(sites, curveOpts) : [];

  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let c0 = cpuNow();
  let t0 = performance.now();
  train.fit({ step: m.step, data: data.batches(split.train, { batchSize: 64, seed }), epochs: o.epochs, progress: false });
  const trainMs = performance.now() - t0;
  const cpuTrain = cpuNow() - c0;

  c0 = cpuNow();
  t0 = performance.now();
  const clean = train.accuracy(train.predict(m.step, split.test), split.test.y!);
  const atk = adversarial.attacker({ logits: m.logits, bounds: [0, 1], batchSize: 500 });
  const attacked: Record<string, number> = {};
  let attackInvariant = true;
  const { x: ax, y: ay } = split.attack;
  for (const eps of o.eps) {
    const fgsm = atk.evaluate(ax, ay!, { method: 'fgsm', eps });
    const pgd = atk.evaluate(ax, ay!, { method: 'pgd', eps, steps: o.pgdSteps, seed });
    attacked[`fgsm@${eps}`] = fgsm.attacked;
    attacked[`pgd@${eps}`] = pgd.attacked;
    for (const r of [fgsm, pgd]) attackInvariant &&= r.attacked <= r.clean && r.correct.attacked.every((v, i) => v <= r.correct.clean[i]);
  }
  const attackMs = performance.now() - t0;
  const cpuAttack = cpuNow() - c0;
  c0 = cpuNow();

  const convexity = acts.flatMap((a, i) =>
    CONVEXITY.tols.map((tol) => {
      const judge = { range: CONVEXITY.range, points: CONVEXITY.points, tol };
      return {
        scope: a.scope,
        tol,
        convex: [...nn.activationConvexity(a, judge).convex],
        initial: [...nn.activationConvexity(a, { ...judge, values: initial[i] }).convex],
        chance: [...nn.chanceConvexity(a, { ...judge, initial: initial[i], draws: o.chanceDraws, seed }).perUnit],
      };
    }),
  );
  const inRange = acts.length ? fractionInRange(m.g, sites.map((s) => s.input), split.test.x, CONVEXITY.range) : NaN;
  const after = keepCurves && sites.length ? activationCurves(sites, curveOpts) : [];
  const cpuMs = { train: cpuTrain, attack: cpuAttack, convexity: cpuNow() - c0 };
  const run: Run = { model: spec.name, seed, clean, attacked, convexity, inRange, attackInvariant, trainMs, attackMs, cpuMs };
  return { run, curves: { before, after } };
}

// ---- the table and the verdicts ------------------------------------------------------------------

function summarize(runs: Run[], models: string[], attacks: string[]): Row[] {
  return models.map((model) => {
    const mine = runs.filter((r) => r.model === model);
    const row: Row = {
      model,
      clean: stat(mine.map((r) => r.clean)),
      attacked: Object.fromEntries(attacks.map((a) => [a, stat(mine.map((r) => r.attacked[a]))])),
    };
    if (mine.some((r) => r.convexity.length)) {
      row.convex = CONVEXITY.tols.map((tol) => {
        const units = mine.flatMap((r) => r.convexity.filter((c) => c.tol === tol).flatMap((c) => c.convex.map((v, i) => ({ convex: v, initial: c.initial[i], chance: c.chance[i] }))));
        const k = units.filter((u) => u.convex).length;
        const expected = units.reduce((s, u) => s + u.chance, 0);
        const variance = units.reduce((s, u) => s + u.chance * (1 - u.chance), 0);
        // the observed convex count against the null's Poisson-binomial count (normal approximation)
        const z = variance > 0 ? (k - expected) / Math.sqrt(variance) : Math.abs(k - expected) < 1e-9 ? 0 : Math.sign(k - expected) * Infinity;
        return { tol, k, n: units.length, chance: expected / units.length, initial: units.filter((u) => u.initial).length / units.length, z };
      });
      row.inRange = mean(mine.map((r) => r.inRange));
    }
    return row;
  });
}

function formatTable(rows: Row[], attacks: string[]): string {
  const [strict, loose] = CONVEXITY.tols;
  const head = ['model', 'clean', ...attacks.map((a) => `${a.split('@')[0].toUpperCase()} ε=${a.split('@')[1]}`), `convex (tol ${strict})`, 'chance', `convex (tol ${loose})`, 'chance'];
  const conv = (r: Row, i: number) => (r.convex ? [`${r.convex[i].k}/${r.convex[i].n}`, pct(r.convex[i].chance)] : ['—', '—']);
  const body = rows.map((r) => [r.model, fmtStat(r.clean), ...attacks.map((a) => fmtStat(r.attacked[a])), ...conv(r, 0), ...conv(r, 1)]);
  const lines = [head, head.map(() => '---'), ...body];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const KIND_NAMES: Record<string, string> = {
  prelu: 'PReLU',
  twoSlope: 'two-slope (k₁, k₂)',
  splash: 'SPLASH',
  apl: 'APL',
  'cnn-prelu': 'CNN PReLU (per channel)',
  'cnn-splash': 'CNN SPLASH (per channel)',
  'cnn-apl': 'CNN APL (per channel)',
};
/** The row a model is compared with: the ReLU model of its kind. */
const baselineOf = (model: string) => (model.startsWith('cnn-') ? 'cnn-relu' : 'relu');

function verdicts(rows: Row[], runs: Run[], eps: readonly number[]): string[] {
  const out: string[] = [];
  const per = (model: string, key: (r: Run) => number) => runs.filter((r) => r.model === model).sort((a, b) => a.seed - b.seed).map(key);
  const has = (m: string) => rows.some((r) => r.model === m);
  // SPLASH against ReLU, among the MLPs and among the CNNs
  for (const [prefix, name] of [['', (a: string) => a], ['cnn-', (a: string) => `CNN with ${a}`]] as const) {
    if (!has(`${prefix}splash`) || !has(`${prefix}relu`)) continue;
    const splash = (key: (r: Run) => number) => per(`${prefix}splash`, key);
    const relu = (key: (r: Run) => number) => per(`${prefix}relu`, key);
    out.push(verdictMore(`${name('SPLASH')} more accurate than ${name('ReLU')} (clean test accuracy)`, 'less accurate', splash((r) => r.clean), relu((r) => r.clean)));
    for (const method of ['fgsm', 'pgd']) {
      for (const e of eps) {
        const a = `${method}@${e}`;
        out.push(verdictMore(`${name('SPLASH')} more robust than ${name('ReLU')}, ${method.toUpperCase()} ε = ${e}`, 'less robust', splash((r) => r.attacked[a]), relu((r) => r.attacked[a])));
      }
    }
  }
  const learned = rows.filter((r) => r.convex);
  const zTxt = (z: number) => (Number.isFinite(z) ? z.toFixed(1) : z > 0 ? '+∞' : '−∞');
  const relation = (z: number) => (z > 2 ? 'more often than chance (z > 2)' : z < -2 ? 'less often than chance (z < −2)' : 'as often as chance (|z| ≤ 2)');
  for (const r of learned) {
    const [c, l] = r.convex!;
    out.push(
      `learned ${KIND_NAMES[r.model] ?? r.model} shapes tend to be convex: ${c.k / c.n > 0.5 ? 'yes' : 'no'} — ${c.k}/${c.n} convex (${pct(c.k / c.n)}) vs chance ${pct(c.chance)}, z = ${zTxt(c.z)}, ${relation(c.z)}; ` +
        `allowing slope drops up to ${l.tol} of the steepest: ${l.k}/${l.n} (${pct(l.k / l.n)}) vs chance ${pct(l.chance)}, z = ${zTxt(l.z)}`,
    );
  }
  if (learned.length) {
    const frac = (r: Row) => r.convex![0].k / r.convex![0].n;
    const tendAll = learned.every((r) => frac(r) > 0.5);
    const tendNone = learned.every((r) => frac(r) <= 0.5);
    const beatsChance = learned.filter((r) => r.convex![0].z > 2).map((r) => KIND_NAMES[r.model] ?? r.model);
    const what = tendAll ? 'yes' : tendNone ? 'no' : `only for ${learned.filter((r) => frac(r) > 0.5).map((r) => KIND_NAMES[r.model] ?? r.model).join(', ')}`;
    const looseAll = learned.every((r) => r.convex![1].k / r.convex![1].n > 0.5);
    const loose = `allowing slope drops up to ${CONVEXITY.tols[1]} of the steepest: ${looseAll ? 'yes for every kind' : 'not for every kind'}`;
    out.push(`learned activations tend to be convex: ${what}; more often than chance: ${beatsChance.length ? beatsChance.join(', ') : 'none'} (every shape starts convex); ${loose}`);
  }
  return out;
}

// ---- pictures -----------------------------------------------------------------------------------

/** Accuracy against ε per model, FGSM and PGD side by side, mean ± std over the seeds. */
function robustnessChart(rows: Row[], eps: readonly number[]): Record<string, unknown> {
  const values: Record<string, unknown>[] = [];
  for (const r of rows) {
    for (const method of ['FGSM', 'PGD']) {
      values.push({ model: r.model, attack: method, eps: 0, mean: 100 * r.clean.mean, lo: 100 * (r.clean.mean - (r.clean.std || 0)), hi: 100 * (r.clean.mean + (r.clean.std || 0)) });
      for (const e of eps) {
        const s = r.attacked[`${method.toLowerCase()}@${e}`];
        values.push({ model: r.model, attack: method, eps: e, mean: 100 * s.mean, lo: 100 * (s.mean - (s.std || 0)), hi: 100 * (s.mean + (s.std || 0)) });
      }
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `MNIST test accuracy under L∞ attack (mean ± std over ${rows[0]?.clean.n ?? 0} seed${rows[0]?.clean.n === 1 ? '' : 's'})`,
    data: { values },
    facet: { column: { field: 'attack', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 200,
      layer: [
        { mark: { type: 'line', point: true }, encoding: { x: { field: 'eps', type: 'quantitative', title: 'ε' }, y: { field: 'mean', type: 'quantitative', title: 'accuracy (%)', scale: { domain: [0, 100] } }, color: { field: 'model', type: 'nominal' } } },
        { mark: { type: 'rule' }, encoding: { x: { field: 'eps', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'model', type: 'nominal' } } },
      ],
    },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
  };
}

/** Each model's paired difference from ReLU (pp) with ±2 SE bars, per attack and ε (ε = 0: clean). */
function differenceChart(runs: Run[], models: string[], eps: readonly number[]): Record<string, unknown> {
  const values: Record<string, unknown>[] = [];
  const per = (model: string, key: (r: Run) => number) => runs.filter((r) => r.model === model).sort((a, b) => a.seed - b.seed).map(key);
  for (const model of models.filter((m) => m !== baselineOf(m) && models.includes(baselineOf(m)))) {
    for (const method of ['FGSM', 'PGD']) {
      const points: [number, (r: Run) => number][] = [[0, (r) => r.clean], ...eps.map((e): [number, (r: Run) => number] => [e, (r) => r.attacked[`${method.toLowerCase()}@${e}`]])];
      for (const [e, key] of points) {
        const { diff, se } = paired(per(model, key), per(baselineOf(model), key));
        const bar = Number.isNaN(se) ? 0 : 2 * se;
        values.push({ model, attack: method, eps: String(e), diff: 100 * diff, lo: 100 * (diff - bar), hi: 100 * (diff + bar) });
      }
    }
  }
  const x = { field: 'eps', type: 'ordinal', title: 'ε (0: clean)', axis: { labelAngle: 0 } };
  const color = { field: 'model', type: 'nominal' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: ["accuracy minus the ReLU model's of the same kind (MLP or CNN), in points", 'paired by seed; bars: ±2 standard errors'], anchor: 'start' },
    data: { values },
    facet: { column: { field: 'attack', type: 'nominal', title: null } },
    spec: {
      width: 340,
      height: 200,
      layer: [
        { mark: { type: 'rule', color: '#888' }, encoding: { y: { datum: 0 } } },
        { mark: { type: 'rule', strokeWidth: 2 }, encoding: { x, xOffset: { field: 'model' }, y: { field: 'lo', type: 'quantitative', title: 'difference from ReLU of its kind (pp)' }, y2: { field: 'hi' }, color } },
        { mark: { type: 'point', filled: true, size: 40 }, encoding: { x, xOffset: { field: 'model' }, y: { field: 'diff', type: 'quantitative' }, color } },
      ],
    },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
  };
}

// ---- main -------------------------------------------------------------------------------------

export async function main(opts: ClaimsOptions = {}): Promise<ClaimsResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const o = {
    seeds: opts.seeds ?? [1, 2, 3, 4, 5],
    digits: opts.digits ?? 10000,
    hidden: opts.hidden ?? [64, 64],
    channels: opts.channels ?? 4,
    epochs: opts.epochs ?? 2,
    pgdSteps: opts.pgdSteps ?? 5,
    attackDigits: opts.attackDigits ?? 300,
    eps: opts.eps ?? [0.05, 0.1, 0.2],
    chanceDraws: opts.chanceDraws ?? 100,
    outDir: opts.outDir ?? fileURLToPath(new URL('../out/', import.meta.url)),
  };
  const models = (opts.models ?? MODELS.map((m) => m.name)).map((name) => {
    const spec = MODELS.find((m) => m.name === name);
    if (!spec) throw new Error(`no model "${name}" in MODELS (${MODELS.map((m) => m.name).join(', ')})`);
    return spec;
  });
  const attacks = ['fgsm', 'pgd'].flatMap((m) => o.eps.map((e) => `${m}@${e}`));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();

  log('== Does the tutorial hold up? Learnable activations on MNIST: accuracy, robustness, convexity');
  const digits = data.loadMnist({ count: o.digits });
  const parts = data.trainTestSplit(digits, { testSize: 0.2, seed: SPLIT_SEED, stratify: true });
  const attackSet = o.attackDigits >= parts.test.size ? parts.test : data.trainTestSplit(parts.test, { testSize: o.attackDigits, seed: SPLIT_SEED, stratify: true }).test;
  const split: Split = { ...parts, attack: attackSet };
  log(`${split.train.size} training and ${split.test.size} test digits (the demo's split: seeded ${SPLIT_SEED}, stratified); pixels in [0, 1]`);
  log(`models: 784-${o.hidden.join('-')}-10 MLPs and CNNs (conv 5×5 stride 2, ${o.channels} channels → activation → max-pool 2 → dense 10), He init, Adam(2e-3), batch 64, ${o.epochs} epochs; seeds ${o.seeds.join(', ')} (a seed fixes the initial weights and the batch order)`);
  for (const m of models) log(`  ${m.name.padEnd(9)} ${m.description}`);
  log(`attacks on ${split.attack.size === split.test.size ? 'all' : `${split.attack.size} (a seeded, stratified subset) of the`} ${split.test.size} test digits, bounds [0, 1]: FGSM; PGD with ${o.pgdSteps} steps, α = 2.5·ε/${o.pgdSteps}, random start (seeded); ε ∈ {${o.eps.join(', ')}}`);
  log(`  accuracy under attack counts a digit only if it is classified correctly clean and at every point the attack visited`);
  log(`convexity: each learned shape on [${CONVEXITY.range.join(', ')}] (${CONVEXITY.points} points) is convex if no chord slope drops by more than tol × its steepest |slope|, tol ${CONVEXITY.tols.join(' or ')};`);
  log(`  layer-shared coefficients (PReLU, two-slope, SPLASH) give one shape per layer, APL one per unit;`);
  log(`  chance = the expected fraction if each coefficient had moved from its initial value by as much as it did, in a random direction (${o.chanceDraws} sign patterns)`);

  const runs: Run[] = [];
  const curves: Record<string, { before: ActivationCurve[]; after: ActivationCurve[] }> = {};
  for (const spec of models) {
    for (const seed of o.seeds) {
      const first = seed === o.seeds[0];
      const { run, curves: c } = runOne(spec, seed, split, o, first);
      runs.push(run);
      if (first && c.after.length) curves[spec.name] = c;
      const att = attacks.map((a) => `${a} ${pp(run.attacked[a])}`).join('  ');
      const strict = run.convexity.filter((c2) => c2.tol === CONVEXITY.tols[0]);
      const conv = strict.length ? `  convex ${strict.reduce((s2, c2) => s2 + c2.convex.filter(Boolean).length, 0)}/${strict.reduce((s2, c2) => s2 + c2.convex.length, 0)}` : '';
      log(`${spec.name.padEnd(9)} seed ${seed}  clean ${pp(run.clean)}  ${att}${conv}`);
      const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      log(`${spec.name.padEnd(9)} seed ${seed}  train time ${sec(run.trainMs)}, attack time ${sec(run.attackMs)}; CPU time: train ${sec(run.cpuMs.train)}, attack ${sec(run.cpuMs.attack)}, convexity ${sec(run.cpuMs.convexity)}`);
    }
  }

  const rows = summarize(runs, models.map((m) => m.name), attacks);
  const table = formatTable(rows, attacks);
  log('');
  log(`accuracy in % (mean ± std over ${o.seeds.length} seed${o.seeds.length > 1 ? 's' : ''}): clean on the ${split.test.size} test digits, under attack on ${split.attack.size}; learned shapes convex on [${CONVEXITY.range.join(', ')}] and the fraction expected by chance`);
  for (const line of table.split('\n')) log(line);
  const learnedRows = rows.filter((r) => r.convex);
  if (learnedRows.length) {
    log(`initial shapes convex: ${learnedRows.map((r) => `${r.model} ${pct(r.convex![0].initial)}`).join(', ')}`);
    log(`inputs of the learned activations inside [${CONVEXITY.range.join(', ')}] (test digits): ${learnedRows.map((r) => `${r.model} ${pct(r.inRange!)}`).join(', ')}`);
  }
  const invariant = runs.every((r) => r.attackInvariant);
  log(`accuracy under attack ≤ clean accuracy, digit by digit, in every run: ${invariant ? 'yes' : 'NO'}`);
  log('');
  log('== Claims and verdicts');
  const vs = verdicts(rows, runs, o.eps);
  for (const v of vs) log(v);

  // ---- the report ----
  mkdirSync(o.outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, content: string | Uint8Array) => {
    writeFileSync(join(o.outDir, name), content);
    files.push(name);
  };
  const pictures: { name: string; title: string; svg: string }[] = [];
  pictures.push({ name: 'claims-robustness', title: 'accuracy under attack', svg: await renderChart(robustnessChart(rows, o.eps) as never) });
  if (models.some((m) => m.name === 'relu') && models.length > 1) {
    pictures.push({ name: 'claims-vs-relu', title: 'difference from ReLU', svg: await renderChart(differenceChart(runs, models.map((m) => m.name), o.eps) as never) });
  }
  const withCurves = Object.entries(curves);
  if (withCurves.length) {
    // one panel per model and layer: "splash / hidden1", "cnn-splash / conv1"
    const label = (model: string, cv: ActivationCurve) => ({ ...cv, name: `${model} / ${cv.name.split('/')[0]}` });
    const before = withCurves.flatMap(([model, c]) => c.before.map((cv) => label(model, cv)));
    const after = withCurves.flatMap(([model, c]) => c.after.map((cv) => label(model, cv)));
    pictures.push({ name: 'claims-activations', title: `learned shapes, seed ${o.seeds[0]} (dashed: not convex; APL: first 8 units)`, svg: await renderChart(activationChart({ before, after }, { title: `learned activations, seed ${o.seeds[0]}`, columns: 4 })) });
  }
  if (opts.picturesDir) mkdirSync(opts.picturesDir, { recursive: true });
  for (const p of pictures) {
    write(`${p.name}.svg`, p.svg);
    const png = await renderPng(p.svg);
    if (png) {
      write(`${p.name}.png`, png);
      if (opts.picturesDir) writeFileSync(join(opts.picturesDir, `${p.name}.png`), png);
    }
  }
  const setup = `784-${o.hidden.join('-')}-10 MLPs and CNNs (conv 5×5/2 ×${o.channels} → activation → max-pool 2 → dense 10), ${o.epochs} epochs of Adam(2e-3), batch 64; ${o.seeds.length} seeds; ${split.train.size} training / ${split.test.size} test digits, ${split.attack.size} attacked; PGD ${o.pgdSteps} steps, α = 2.5·ε/${o.pgdSteps}, random start`;
  const md = [
    '## Does the tutorial hold up?',
    '',
    `Accuracy in % (mean ± std over ${o.seeds.length} seeds), clean and under L∞ attack; convexity of the learned shapes on [${CONVEXITY.range.join(', ')}] against chance. ${setup}.`,
    '',
    table,
    '',
    ...vs.map((v) => `- ${v}`),
    '',
    ...pictures.map((p) => `![${p.title}](${p.name}.png)`),
    '',
  ].join('\n');
  write('claims.md', md);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>gradgraph: does the tutorial hold up?</title>
<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}li{margin:.3em 0}</style></head><body>
<h1>Does the tutorial hold up?</h1><p>${escapeHtml(setup)}.</p>
${htmlTable(table)}
<h2>Claims and verdicts</h2><ul>${vs.map((v) => `<li>${escapeHtml(v)}</li>`).join('')}</ul>
${pictures.map((p) => `<h2>${escapeHtml(p.title)}</h2>${p.svg}`).join('\n')}
</body></html>`;
  write('claims.html', html);
  log('');
  log(`wrote ${files.map((f) => `out/${f}`).join(', ')}`);
  const cpu = process.cpuUsage(cpu0);
  log(`total time ${((performance.now() - t0) / 1000).toFixed(1)} s (process CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`);
  return { runs, rows, attacks, verdicts: vs, table, files };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The markdown table as HTML. */
function htmlTable(md: string): string {
  const [head, , ...rows] = md.split('\n').map((l) => l.slice(2, -2).split(' | '));
  return `<table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const pictures = process.argv.includes('--pictures') ? fileURLToPath(new URL('../docs/img/claims/', import.meta.url)) : undefined;
  await main({ picturesDir: pictures });
}
