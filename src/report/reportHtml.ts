// The report as one self-contained HTML file: the page's style, the plotting library (Observable Plot
// 0.6.17 over d3 7.9.2, their minified UMD builds, inlined with their license headers), the aggregated data
// (JSON in a <script type="application/json">) and the drawing code (./client.ts). No request leaves the
// page: it opens from disk with no network.
//
// Observable Plot was chosen over Vega-Lite + vega-embed and uPlot (docs/notebooks.md "Report"): ~490 KB
// inlined (d3 281 KB + Plot 209 KB) against ~800 KB for vega + vega-lite + vega-embed; it has every mark the
// report needs (stacked rects, grouped bars by facet, rule/box marks, step lines, cell timelines) where uPlot
// (50 KB, canvas, fastest) draws time series only; with data aggregated to bounded size the SVG it draws
// renders in milliseconds (the test records the time per plot).

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CLIENT_JS } from './client.js';
import type { Cell } from '../analyses/result.js';
import type { ReportModel } from './reportModel.js';

const require = createRequire(import.meta.url);

/** The installed package's directory (its `exports` hide dist/ from require.resolve). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the ${name} package directory`);
}

let libs: string | null = null;
/** d3 then Plot, minified UMD (Plot's UMD build reads the global d3). */
function libraries(): string {
  libs ??= [
    readFileSync(join(packageDir('d3'), 'dist', 'd3.min.js'), 'utf8'),
    readFileSync(join(packageDir('@observablehq/plot'), 'dist', 'plot.umd.min.js'), 'utf8'),
  ].map(scriptSafe).join('\n;\n');
  return libs;
}

/** Text safe inside a <script> element (no "</script" or "<!--" can end or open anything). */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function cellHtml(v: Cell): string {
  if (v === null) return '<td class="null">-</td>';
  if (typeof v === 'number' || typeof v === 'bigint') return `<td class="num">${esc(String(v))}</td>`;
  return `<td>${esc(String(v))}</td>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 18px 28px 8px; background: #fff; border-bottom: 1px solid #e4e4e4; }
h1 { font-size: 21px; margin: 0 0 4px; } .sub { color: #555; margin: 0; }
nav { margin-top: 8px; font-size: 13px; } nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
main { padding: 8px 28px 40px; max-width: 1180px; }
section { background: #fff; border: 1px solid #e4e4e4; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 16px; margin: 0 0 6px; } .text { margin: 0 0 8px; max-width: 80ch; } .note { color: #666; font-size: 12px; margin: 6px 0 0; }
.plot { overflow-x: auto; } .grid { display: flex; flex-wrap: wrap; gap: 10px; } .cell { border: 1px solid #eee; padding: 4px; }
.cell-title { font-size: 12px; font-weight: 600; } .legend { font-size: 12px; margin: 0 0 6px; }
table { border-collapse: collapse; font-size: 12px; margin-top: 10px; } td, th { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.null { color: #aaa; }
`;

/** The whole page. */
export function reportHtml(model: ReportModel): string {
  const sections = model.sections.map((s) => {
    const table = s.table === undefined ? '' : `<table><thead><tr>${s.table.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>` +
      `<tbody>${s.table.rows.map((r) => `<tr>${r.map(cellHtml).join('')}</tr>`).join('')}</tbody></table>`;
    return `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2><p class="text">${esc(s.text)}</p>` +
      `<div class="plot" id="plot-${esc(s.id)}" data-kind="${esc(s.kind)}"></div><p class="note">${esc(s.note)}</p>${table}</section>`;
  }).join('\n');
  const nav = model.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title.split(':')[0]!)}</a>`).join('');
  const data = JSON.stringify(model, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(model.title)}</title><style>${STYLE}</style></head>
<body><header><h1>${esc(model.title)}</h1><p class="sub">${esc(model.subtitle)}</p><nav>${nav}</nav></header>
<main>${sections}</main>
<script type="application/json" id="report-data">${data}</script>
<script>${libraries()}</script>
<script>${scriptSafe(CLIENT_JS)}</script>
</body></html>
`;
}
