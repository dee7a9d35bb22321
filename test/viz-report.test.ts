/**
 * The HTML report in a real browser: headless Chromium through playwright-core (the system's, or
 * the one from npm: test/browser.ts), offline (every network request is refused and recorded). Checks that the page loads without console errors,
 * every SVG is present and non-empty, pan/zoom moves the view, and clicking a node shows its op,
 * shape, scope and source line.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { report } from '@gradgraph/viz';
import { launchBrowser } from './browser';
import { trainToy } from './viz-fixtures';

describe('HTML report in headless Chromium', () => {
  let dir: string;
  let file: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-report-'));
    file = join(dir, 'report.html');
    const t = trainToy({ epochs: 25 });
    await report({
      out: file,
      title: 'toy classifier',
      graph: t.step,
      gradients: t.probe,
      history: t.history,
      activations: t.activations,
      histograms: t.histograms,
      explain: t.step,
      manifest: { seed: t.config.seed as number, config: t.config },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === pathToFileURL(file).href) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is one self-contained file that loads offline without console errors', () => {
    expect(statSync(file).size).toBeGreaterThan(10_000);
    expect(requests).toEqual([]); // nothing fetched: no CDN, no fonts, no images
    expect(consoleErrors).toEqual([]);
  });

  it('has every SVG present and non-empty: graph views, gradient flow, charts, pass views', async () => {
    const svgs = await page.$$eval('main svg', (els) =>
      els.map((e) => {
        const box = (e as unknown as { getBBox?: () => { width: number; height: number } }).getBBox?.();
        const section = e.closest('section')?.id ?? '';
        return { section, children: e.querySelectorAll('*').length, hidden: !!e.closest('.view:not(.active)'), w: box?.width ?? 0, h: box?.height ?? 0 };
      }),
    );
    const bySection = (id: string) => svgs.filter((s) => s.section === id);
    expect(bySection('graph').length).toBe(2); // forward, forward + backward
    expect(bySection('gradients').length).toBe(3); // flow on the graph, bar chart, history
    expect(bySection('plots').length).toBe(3); // loss, activations, histograms
    for (const s of svgs) {
      expect(s.children, JSON.stringify(s)).toBeGreaterThan(10);
      if (!s.hidden) {
        expect(s.w).toBeGreaterThan(50);
        expect(s.h).toBeGreaterThan(50);
      }
    }
    const text = await page.textContent('main');
    for (const t of ['best (epoch', 'learned activations', 'prelu', 'splash', 'apl', 'explain()', 'seed', 'graphviz', 'vega-lite', '@gradgraph/core']) expect(text).toContain(t);
  });

  it('clicking a node shows its op, shape, scope and source line', async () => {
    const details = page.locator('#details-graph');
    await expect(details.textContent()).resolves.toContain('Click a node');
    // the first matmul of the forward view: the dense layer of block1
    const node = page.locator('#graph .view.active g.node', { hasText: 'matmul' }).first();
    await node.click();
    const text = (await details.textContent())!;
    expect(text).toContain('opmatmul');
    expect(text).toMatch(/shapefloat32\[\?,12\]/);
    expect(text).toContain('scopeblock1');
    expect(text).toMatch(/source\S*test\/viz-fixtures\.ts:\d+:\d+/);
    expect(await page.locator('#graph .view.active g.node.selected').count()).toBe(1);
    // a param: its name and shape
    await page.locator('#graph .view.active g.node', { hasText: 'alpha' }).first().click();
    expect(await details.textContent()).toContain('name=block1/prelu/alpha');
  });

  it('pans and zooms the graph', async () => {
    const svg = page.locator('#graph .view.active svg');
    const vb0 = await svg.getAttribute('viewBox');
    const box = (await page.locator('#graph .view.active .viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -400);
    const vb1 = await svg.getAttribute('viewBox');
    expect(vb1).not.toBe(vb0);
    const w = (vb: string | null) => Number(vb!.split(' ')[2]);
    expect(w(vb1)).toBeLessThan(w(vb0)); // zoomed in
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 40, { steps: 4 });
    await page.mouse.up();
    const vb2 = await svg.getAttribute('viewBox');
    expect(Number(vb2!.split(' ')[0])).toBeLessThan(Number(vb1!.split(' ')[0])); // dragged right: view moves left
    await page.locator('#graph .view.active [data-act=fit]').click();
    const nums = (vb: string | null) => vb!.split(/[ ,]+/).map(Number);
    expect(nums(await svg.getAttribute('viewBox'))).toEqual(nums(vb0));
    // the second tab shows the backward graph
    await page.locator('#graph .tabs button', { hasText: 'forward + backward' }).click();
    expect(await page.locator('#graph .view.active g.node').count()).toBeGreaterThan(100);
    expect(consoleErrors).toEqual([]);
  });
});
