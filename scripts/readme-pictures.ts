/**
 * Generates one picture of each kind @gradgraph/viz draws into docs/img/, for the README and
 * docs/viz.md: graph views (folded 16-layer MLP, collapsed, backward), gradient flow on the graph
 * and as bars (the vanishing-gradient chapter: sigmoid/naive init against ReLU/He), gradient norms
 * against the step, training curves with early stopping, learned activations, histograms, a
 * compiler pass before/after, and a screenshot of the HTML report in headless Chromium.
 *
 * Run: pnpm exec tsx scripts/readme-pictures.ts   (about half a minute)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Graph, Tensor, grad } from '../packages/core/src/index';
import { data, nn, optim, train } from '../packages/ops/src/index';
import {
  activationChart,
  buildDot,
  compiledOverlay,
  gradientBarChart,
  gradientFlow,
  gradientHistoryChart,
  histogramChart,
  lossChart,
  passDot,
  renderChart,
  renderPng,
  renderSvg,
  report,
  type DotResult,
} from '../packages/viz/src/index';
import { deepNet, trainToy } from '../test/viz-fixtures';

const OUT = fileURLToPath(new URL('../docs/img/', import.meta.url));
mkdirSync(OUT, { recursive: true });

async function graphPng(name: string, r: DotResult, width = 1400): Promise<void> {
  const svg = await renderSvg(r.dot);
  writeFileSync(join(OUT, `${name}.png`), renderPng(svg, { width }));
  console.log(`${name}.png: ${r.stats.graphNodes} graph nodes, ${r.stats.drawnNodes} drawn`);
}

async function chartSvg(name: string, spec: Record<string, unknown>): Promise<void> {
  writeFileSync(join(OUT, `${name}.svg`), await renderChart(spec));
  console.log(`${name}.svg`);
}

// ---- graph views ---------------------------------------------------------------------------

{
  const g = new Graph({ seed: 1 });
  let h = g.input('x', [null, 4]);
  for (let i = 0; i < 16; i++) h = nn.relu(nn.dense(h, 32));
  const loss = nn.dense(h, 3).square().mean();
  grad(loss, g.params());
  await graphPng('graph-mlp16', buildDot(g, { show: 'both', title: '16-layer MLP, forward and backward: identical blocks folded into ×14' }));
}

const toy = trainToy({ epochs: 40 });
await graphPng('graph-forward', buildDot(toy.step, { title: 'a training step, the default view (forward): scopes as clusters, PReLU / SPLASH / APL inside their blocks' }), 1100);
await graphPng('graph-collapsed', buildDot(toy.step, { show: 'both', collapse: 1, title: 'collapse: 1 — every top-level scope as one box, backward mirrored as ∇ boxes' }), 1100);
await graphPng('graph-backward', buildDot(toy.step, { show: 'backward', collapse: 2, title: 'backward only (forward values it reads as dashed ghosts), depth-2 scopes collapsed' }));

// ---- gradient flow: the vanishing-gradient chapter ---------------------------------------

const feeds = { x: Tensor.randn([32, 8], 'float32', 1), y: Tensor.randn([32, 1], 'float32', 2) };
for (const kind of ['sigmoid-naive', 'relu-he'] as const) {
  const { g, loss } = deepNet(kind, 20);
  const flow = gradientFlow(loss, feeds);
  const label = kind === 'sigmoid-naive' ? '20 layers, sigmoid, N(0, 1) init' : '20 layers, ReLU, He init';
  await graphPng(`gradient-flow-${kind}`, buildDot(g, { show: 'forward', collapse: 1, repeats: false, gradients: flow, gradientLabels: true, title: `gradient flow: ${label}` }), 1100);
  await chartSvg(`gradient-bars-${kind}`, gradientBarChart(flow, { title: `mean and max |grad| per layer: ${label}` }));
}
await chartSvg('gradient-history', gradientHistoryChart(toy.probe.history(), { title: 'gradient norm per layer during training' }));

// ---- plots ---------------------------------------------------------------------------------

{
  // a real train.fit run that stops early: iris, Adam, early stopping with restore-best
  const iris = data.loadIris();
  const { train: trainSet, val } = data.standardize(data.trainValTestSplit(iris, { valSize: 0.2, testSize: 0.1, seed: 3, stratify: true }));
  const g = new Graph({ seed: 3 });
  const x = g.input('x', [null, 4]);
  const y = g.input('y', [null], 'int32');
  const logits = nn.dense(nn.relu(nn.dense(x, 8)), 3);
  const step = train.trainingStep({ loss: nn.softmaxCrossEntropy(logits, y), predictions: logits, optimizer: optim.adam({ lr: 0.05 }) });
  const history = train.fit({ step, data: data.batches(trainSet, { batchSize: 16, seed: 3 }), epochs: 200, validation: val, metrics: ['accuracy'], earlyStopping: { patience: 5, restoreBest: true }, progress: false });
  await chartSvg('loss', lossChart(history, { title: `iris with train.fit: stopped after epoch ${history.epochs.length}, restored epoch ${history.restoredEpoch}` }));
}
await chartSvg('activations', activationChart(toy.activations, { title: 'learned activations before and after training (per channel)' }));
await chartSvg('histograms', histogramChart(toy.histograms));

// ---- compiler ------------------------------------------------------------------------------

const pass = toy.step.passes.find((p) => p.patches.length)!;
await graphPng('compiler-pass', passDot(pass, { context: 1 }), 1100);
await graphPng('compiled-view', buildDot(toy.step, { show: 'forward', compiled: compiledOverlay(toy.step), title: 'compiled view: the nodes each pass removed, as red ghosts' }), 1100);

// ---- the report, in headless Chromium -----------------------------------------------------

const dir = join(tmpdir(), `gg-readme-${process.pid}`);
mkdirSync(dir, { recursive: true });
const file = join(dir, 'report.html');
await report({ out: file, title: 'toy classifier: PReLU, SPLASH, APL', graph: toy.step, gradients: toy.probe, history: toy.history, activations: toy.activations, histograms: toy.histograms, explain: toy.step, manifest: { seed: toy.config.seed as number, config: toy.config } });
try {
  const { launchBrowser } = await import('../test/browser'); // the system's Chromium, or npm's
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="true"]');
  await page.locator('#graph .view.active g.node', { hasText: 'alpha' }).first().click();
  for (let i = 0; i < 3; i++) await page.locator('#graph .view.active [data-act=in]').click();
  await page.screenshot({ path: join(OUT, 'report.png') });
  await browser.close();
  console.log('report.png');
} catch (e) {
  console.warn(`report.png skipped: ${(e as Error).message.split('\n')[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
