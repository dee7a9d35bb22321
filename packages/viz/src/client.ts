/**
 * The report's browser script and styles, inlined into the page (no CDN, no imports). Plain
 * ES2017 in a string, so no bundler or transpiler touches it.
 */

export const REPORT_CSS = `
:root { --fg: #17202a; --muted: #566573; --line: #d5d8dc; --accent: #1f618d; --bg: #ffffff; --panel: #f8f9f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: var(--muted); font-size: 12px; }
nav { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 28px; display: flex; gap: 14px; flex-wrap: wrap; }
nav a { color: var(--accent); text-decoration: none; font-size: 13px; }
main { padding: 10px 28px 40px; }
section { margin: 22px 0 34px; }
section > h2 { font-size: 18px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 14px 0 6px; color: var(--muted); font-weight: 600; }
.graph-wrap { display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 12px; }
.viewport { position: relative; height: 70vh; min-height: 360px; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fff; cursor: grab; touch-action: none; }
.viewport.dragging { cursor: grabbing; }
.viewport svg { width: 100%; height: 100%; display: block; user-select: none; }
.viewport g.node { cursor: pointer; }
.viewport g.node.selected > a > path, .viewport g.node.selected > a > polygon, .viewport g.node.selected > a > ellipse, .viewport g.node.selected path, .viewport g.node.selected polygon { stroke: #e67e22 !important; stroke-width: 3px !important; }
.toolbar { position: absolute; top: 8px; right: 8px; display: flex; gap: 4px; z-index: 2; }
.toolbar button { font: 13px system-ui, sans-serif; width: 30px; height: 28px; border: 1px solid var(--line); background: #fff; border-radius: 4px; cursor: pointer; }
.toolbar button.wide { width: auto; padding: 0 8px; }
.details { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--panel); font-size: 13px; overflow: auto; max-height: 70vh; }
.details h4 { margin: 0 0 8px; font-size: 14px; }
.details table { border-collapse: collapse; width: 100%; }
.details td { padding: 3px 4px; vertical-align: top; border-bottom: 1px solid #eaecee; word-break: break-word; }
.details td:first-child { color: var(--muted); white-space: nowrap; width: 1%; }
.details .hint { color: var(--muted); }
.tabs { display: flex; gap: 4px; margin: 0 0 8px; flex-wrap: wrap; }
.tabs button { border: 1px solid var(--line); background: #fff; padding: 4px 10px; border-radius: 4px; cursor: pointer; font-size: 13px; }
.tabs button.active { background: var(--accent); color: #fff; border-color: var(--accent); }
.view { display: none; }
.view.active { display: block; }
.chart { overflow-x: auto; margin: 6px 0 16px; }
.chart svg { max-width: 100%; height: auto; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; max-height: 60vh; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table.kv { border-collapse: collapse; }
table.kv td { padding: 4px 10px 4px 0; vertical-align: top; border-bottom: 1px solid #eaecee; }
table.kv td:first-child { color: var(--muted); }
table.flags { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
table.flags td, table.flags th { padding: 3px 10px 3px 0; text-align: left; border-bottom: 1px solid #eaecee; }
.flag-vanishing { color: #8c6bb1; font-weight: 600; }
.flag-exploding { color: #cb181d; font-weight: 600; }
.note { color: var(--muted); font-size: 12px; }
`;

export const REPORT_JS = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('gg-data').textContent);

  // HTML text; control characters, line separators and bidi overrides shown as \\u escapes, as dotutil's visible()
  function esc(s) {
    return String(s)
      .replace(/[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]/g, function (c) { return '\\\\u' + ('000' + c.charCodeAt(0).toString(16)).slice(-4); })
      .replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
  }

  function showDetails(panel, unit) {
    if (!panel) return;
    if (!unit) { panel.innerHTML = '<p class="hint">Click a node to see its op, shape, scope and source line.</p>'; return; }
    var rows = [];
    var n = unit.node;
    if (n) {
      rows.push(['op', n.op]);
      rows.push(['shape', n.type]);
      rows.push(['scope', n.scope || '(top level)']);
      rows.push(['source', n.origin]);
      rows.push(['node', '%' + n.id + ' (' + n.phase + ')']);
      if (n.adjointOf !== undefined && n.adjointOf !== null) rows.push(['adjoint of', '%' + n.adjointOf]);
      if (n.attrs) rows.push(['attrs', n.attrs]);
      if (n.doc) rows.push(['doc', n.doc]);
    }
    if (unit.summary) rows.push(['summary', unit.summary]);
    if (unit.members) rows.push(['nodes', unit.members.length + ' nodes: %' + unit.members.slice(0, 40).join(', %') + (unit.members.length > 40 ? ', …' : '')]);
    panel.innerHTML = '<h4>' + esc(unit.title) + '</h4><table>' + rows.map(function (r) {
      return '<tr><td>' + esc(r[0]) + '</td><td class="v-' + esc(r[0]) + '">' + esc(r[1]).replace(/\\n/g, '<br>') + '</td></tr>';
    }).join('') + '</table>';
  }

  function setupGraph(view) {
    var key = view.getAttribute('data-graph');
    var units = data.graphs[key] || {};
    var prefix = view.getAttribute('data-prefix') || '';
    var port = view.querySelector('.viewport');
    var svg = port.querySelector('svg');
    var panel = document.getElementById(view.getAttribute('data-details'));
    if (!svg) return;
    var base = svg.viewBox.baseVal;
    var home = { x: base.x, y: base.y, w: base.width, h: base.height };
    var vb = { x: home.x, y: home.y, w: home.w, h: home.h };
    svg.removeAttribute('width');
    svg.removeAttribute('height');
    function apply() { svg.setAttribute('viewBox', vb.x + ' ' + vb.y + ' ' + vb.w + ' ' + vb.h); }
    function toSvg(cx, cy) {
      var m = svg.getScreenCTM();
      if (!m) return { x: vb.x, y: vb.y };
      var p = svg.createSVGPoint(); p.x = cx; p.y = cy;
      return p.matrixTransform(m.inverse());
    }
    function zoom(k, cx, cy) {
      var r = svg.getBoundingClientRect();
      var c = toSvg(cx === undefined ? r.left + r.width / 2 : cx, cy === undefined ? r.top + r.height / 2 : cy);
      vb.x = c.x - (c.x - vb.x) * k; vb.y = c.y - (c.y - vb.y) * k; vb.w *= k; vb.h *= k;
      apply();
    }
    port.addEventListener('wheel', function (e) { e.preventDefault(); zoom(Math.exp(e.deltaY * 0.0015), e.clientX, e.clientY); }, { passive: false });
    var drag = null;
    port.addEventListener('pointerdown', function (e) {
      if (e.target.closest && e.target.closest('.toolbar')) return;
      drag = { x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y, moved: false };
      port.classList.add('dragging');
    });
    window.addEventListener('pointermove', function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (!drag.moved) return;
      var m = svg.getScreenCTM();
      var s = m ? m.a : 1;
      vb.x = drag.vx - dx / s; vb.y = drag.vy - dy / s;
      apply();
    });
    window.addEventListener('pointerup', function () { port.classList.remove('dragging'); setTimeout(function () { drag = null; }, 0); });
    var tb = port.querySelector('.toolbar');
    tb.querySelector('[data-act=in]').addEventListener('click', function () { zoom(1 / 1.25); });
    tb.querySelector('[data-act=out]').addEventListener('click', function () { zoom(1.25); });
    tb.querySelector('[data-act=fit]').addEventListener('click', function () { vb = { x: home.x, y: home.y, w: home.w, h: home.h }; apply(); });
    svg.addEventListener('click', function (e) {
      if (drag && drag.moved) return;
      var g = e.target.closest ? e.target.closest('g.node') : null;
      if (!g) return;
      e.preventDefault();
      var id = g.id.indexOf(prefix) === 0 ? g.id.slice(prefix.length) : g.id;
      var prev = svg.querySelector('g.node.selected');
      if (prev) prev.classList.remove('selected');
      g.classList.add('selected');
      showDetails(panel, units[id] || { title: id });
    });
    showDetails(panel, null);
  }

  function setupTabs(box) {
    var buttons = box.querySelectorAll(':scope > .tabs > button');
    var views = box.querySelectorAll(':scope > .view');
    Array.prototype.forEach.call(buttons, function (b, i) {
      b.addEventListener('click', function () {
        Array.prototype.forEach.call(buttons, function (x) { x.classList.remove('active'); });
        Array.prototype.forEach.call(views, function (x) { x.classList.remove('active'); });
        b.classList.add('active');
        views[i].classList.add('active');
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-graph]'), setupGraph);
  Array.prototype.forEach.call(document.querySelectorAll('.tabbed'), setupTabs);
  document.body.setAttribute('data-ready', 'true');
})();
`;
