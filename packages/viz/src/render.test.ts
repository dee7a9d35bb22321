import { describe, expect, it } from 'vitest';
import { Graph } from '@gradgraph/core';
import { toDot } from './dot';
import { RenderError, graphvizVersion, renderPng, renderSvg } from './render';

describe('rendering', () => {
  it('renders DOT to SVG with Graphviz 16 (WebAssembly) and the SVG to PNG with resvg', async () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = g.scope('s', () => x.exp().sum());
    const svg = await renderSvg(toDot(g, { outputs: [y] }));
    expect(svg).toContain('<svg');
    expect(svg).toContain('>exp</text>');
    expect(await graphvizVersion()).toMatch(/^16\./);
    const png = renderPng(svg, { width: 320 });
    expect(Buffer.from(png.subarray(1, 4)).toString('latin1')).toBe('PNG');
    expect(Buffer.from(png).readUInt32BE(16)).toBe(320);
    // the longer side is capped
    const capped = renderPng(svg, { scale: 100, maxSide: 500 });
    expect(Math.max(Buffer.from(capped).readUInt32BE(16), Buffer.from(capped).readUInt32BE(20))).toBeLessThanOrEqual(500);
  });

  it('reports bad DOT and bad SVG as RenderError with Graphviz\'s reason', async () => {
    await expect(renderSvg('digraph { a -> }')).rejects.toThrow(RenderError);
    await expect(renderSvg('digraph { a -> }')).rejects.toThrow(/rejected the DOT: syntax error in line 1/);
    await expect(renderSvg('')).rejects.toThrow(/needs DOT text/);
    expect(() => renderPng('not svg')).toThrow(/needs SVG text/);
    expect(() => renderPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', { width: -1 })).toThrow(/width must be a positive number/);
  });
});
