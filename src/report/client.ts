// The drawing code of the report page, run by the browser (plain ES2017 over the inlined d3 and Observable
// Plot globals): one function per Section kind of ./reportModel.ts. Kept as a string because it is page
// content, not part of the toolkit; every plot is an SVG built by Plot.plot from the aggregated data.

export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var model = JSON.parse(document.getElementById('report-data').textContent);
  var W = function (el) { return Math.max(480, Math.min(1100, el.clientWidth || 960)); };
  var cat = { type: 'categorical', scheme: 'tableau10' };

  var kinds = {
    exitsOverTime: function (d, el) {
      return Plot.plot({
        width: W(el), height: 320, marginLeft: 60,
        x: { label: 'guest time (ms)' }, y: { label: 'exits per bin', grid: true },
        color: Object.assign({ legend: true, domain: d.reasons }, cat),
        marks: [Plot.rectY(d.rows, { x1: 't0', x2: 't1', y: 'exits', fill: 'reason', order: d.reasons, title: function (r) { return r.reason + ': ' + r.exits + ' exits'; } }), Plot.ruleY([0])]
      });
    },
    costQuantiles: function (d, el) {
      return Plot.plot({
        width: W(el), height: 40 + 28 * d.rows.length, marginLeft: 170,
        x: { label: 'modelled cycles per exit', grid: true, zero: true }, y: { label: null, domain: d.rows.map(function (r) { return r.reason; }) },
        marks: [
          Plot.ruleY(d.rows, { y: 'reason', x1: 'min', x2: 'max', stroke: '#888' }),
          Plot.barX(d.rows, { y: 'reason', x1: 'p25', x2: 'p75', fill: '#4e79a7', fillOpacity: 0.5, insetTop: 5, insetBottom: 5 }),
          Plot.tickX(d.rows, { y: 'reason', x: 'median', stroke: '#222', strokeWidth: 2 }),
          Plot.dot(d.rows, { y: 'reason', x: 'mean', fill: '#e15759', r: 3, title: function (r) { return r.reason + ': ' + r.exits + ' exits, min ' + r.min + ', median ' + r.median + ', mean ' + r.mean + ', max ' + r.max; } })
        ]
      });
    },
    liveCounts: function (d, el) {
      var wrap = document.createElement('div');
      wrap.className = 'grid';
      var w = Math.max(300, Math.floor((W(el) - 30) / 3));
      d.series.forEach(function (s, i) {
        var cell = document.createElement('div');
        cell.className = 'cell';
        var h = document.createElement('div');
        h.className = 'cell-title';
        h.textContent = s.strategy;
        cell.appendChild(h);
        [['trueProcs', 'reconProcs', 'processes'], ['trueThreads', 'reconThreads', 'threads']].forEach(function (k) {
          cell.appendChild(Plot.plot({
            width: w, height: 150, marginLeft: 40, marginBottom: 30,
            x: { label: 'guest time (ms)' }, y: { label: k[2], grid: true, zero: true },
            marks: [
              Plot.lineY(s.points, { x: 't', y: k[0], stroke: '#999', strokeWidth: 2.5, curve: 'step-after' }),
              Plot.lineY(s.points, { x: 't', y: k[1], stroke: d3.schemeTableau10[i % 10], strokeWidth: 1.5, curve: 'step-after' })
            ]
          }));
        });
        wrap.appendChild(cell);
      });
      var legend = document.createElement('p');
      legend.className = 'legend';
      legend.innerHTML = '<span style="color:#999">&#9644;</span> ground truth &nbsp; <span style="color:#4e79a7">&#9644;</span> reconstructed';
      var outer = document.createElement('div');
      outer.appendChild(legend);
      outer.appendChild(wrap);
      return outer;
    },
    precisionRecall: function (d, el) {
      return Plot.plot({
        width: W(el), height: 30 + 64 * d.strategies.length, marginLeft: 200,
        x: { domain: [0, 1], label: 'score (1 = exact)', grid: true }, y: { label: null, axis: null },
        fy: { label: null, domain: d.strategies },
        color: Object.assign({ legend: true, domain: ['proc_precision', 'proc_recall', 'thread_precision', 'thread_recall'] }, cat),
        marks: [
          Plot.barX(d.rows, { fy: 'strategy', y: 'metric', x: 'value', fill: 'metric', title: function (r) { return r.strategy + ' ' + r.metric + ' ' + r.value; } }),
          Plot.ruleX([0, 1])
        ]
      });
    },
    timeline: function (d, el) {
      var labels = d.procs.map(function (p) { return p.label; });
      return Plot.plot({
        width: W(el), height: 50 + 18 * labels.length, marginLeft: 230,
        x: { label: 'guest time (ms)', grid: true }, y: { label: null, domain: labels },
        color: { type: 'sqrt', scheme: 'blues', legend: true, label: 'syscalls per bin' },
        marks: [
          Plot.barX(d.procs, { y: 'label', x1: 'start', x2: 'end', fill: '#eee', stroke: '#ccc', insetTop: 2, insetBottom: 2 }),
          Plot.rect(d.cells.filter(function (c) { return c.syscalls > 0; }), { y: 'label', x1: 't0', x2: 't1', fill: 'syscalls', insetTop: 3, insetBottom: 3,
            title: function (c) { return c.label + ': ' + c.syscalls + ' syscalls, ' + c.io + ' I/O'; } }),
          Plot.tickX(d.cells.filter(function (c) { return c.io > 0; }), { y: 'label', x: function (c) { return (c.t0 + c.t1) / 2; }, stroke: '#f28e2b', strokeWidth: 2,
            title: function (c) { return c.label + ': ' + c.io + ' I/O accesses'; } })
        ]
      });
    },
    groupedBars: function (d, el) {
      return Plot.plot({
        width: W(el), height: 340, marginBottom: 60, marginLeft: 60,
        fx: { label: null, domain: d.groups }, x: { axis: null, domain: d.bars }, y: { label: d.y, grid: true },
        color: Object.assign({ legend: true, domain: d.bars }, cat),
        marks: [Plot.barY(d.rows, { fx: 'group', x: 'bar', y: 'value', fill: 'bar', title: function (r) { return r.group + ' / ' + r.bar + ': ' + r.value; } }), Plot.ruleY([0])]
      });
    },
    stackedBars: function (d, el) {
      return Plot.plot({
        width: W(el), height: 300, marginLeft: 60,
        x: { label: null }, y: { label: 'exits', grid: true }, color: Object.assign({ legend: true }, cat),
        marks: [Plot.barY(d.rows, { x: 'group', y: 'exits', fill: 'reason', title: function (r) { return r.group + ' ' + r.reason + ': ' + r.exits; } }), Plot.ruleY([0])]
      });
    },
    lines: function (d, el) {
      return Plot.plot({
        width: W(el), height: 320, marginLeft: 60,
        x: { label: d.x }, y: { label: d.y, grid: true, zero: true }, color: Object.assign({ legend: true }, cat),
        marks: [Plot.lineY(d.rows, { x: 'x', y: 'y', stroke: 'series' }), Plot.dot(d.rows, { x: 'x', y: 'y', fill: 'series', title: function (r) { return r.series + ': ' + r.y; } })]
      });
    }
  };

  model.sections.forEach(function (s) {
    var el = document.getElementById('plot-' + s.id);
    try {
      el.appendChild(kinds[s.kind](s.data, el));
      el.setAttribute('data-rendered', 'true');
    } catch (e) {
      el.setAttribute('data-rendered', 'error');
      el.textContent = 'could not draw this plot: ' + e;
      console.error('plot ' + s.id + ': ' + (e && e.stack || e));
    }
  });
  document.body.setAttribute('data-report-done', 'true');
})();
`;
