// `trace report`: the HTML is loaded by a real browser (Debian's chromium, driven by playwright-core; never a
// downloaded browser) from disk: no console errors, no request leaves the page, every plot drew an SVG with
// marks; a screenshot of each report is written for the test log. Skips with a message where chromium is
// not installed (.ci/run installs it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { buildReport, MAX_POINTS, TIME_BINS, TOP_REASONS, type ReportModel } from '../src/report/reportModel.js';
import { reportHtml } from '../src/report/reportHtml.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`SKIP report browser tests: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);

const GOLDEN = resolve('traces/golden/bigstacks');
let root: string;
let shots: string;
let context: BrowserContext | null = null;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-report-'));
  shots = process.env.VMTRACE_SCREENSHOTS ?? join(tmpdir(), 'vmtrace-report-screenshots');
  mkdirSync(shots, { recursive: true });
  if (haveChromium) {
    const profile = join(root, 'profile'); // an empty --user-data-dir
    mkdirSync(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }
});
afterAll(async () => {
  await context?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Loaded { plots: Array<{ id: string; rendered: string | null; svgs: number; marks: number }>; errors: string[]; requests: string[] }

/** Open the file in chromium, wait for the page's own "done" mark, collect what it drew and any error. */
async function load(file: string, shot: string): Promise<Loaded> {
  const page = await context!.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
  });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-report-done]', { timeout: 60_000 });
  const plots = await page.$$eval('.plot', (els) => els.map((e) => ({
    id: e.id, rendered: e.getAttribute('data-rendered'), svgs: e.querySelectorAll('svg').length,
    // Marks: the shapes Plot draws for data (axes are lines and text too, so count shapes in mark groups).
    marks: e.querySelectorAll('svg g[aria-label] rect, svg g[aria-label] path, svg g[aria-label] circle, svg g[aria-label] line').length,
  })));
  await page.screenshot({ path: shot, fullPage: true });
  await page.close();
  console.log(`report screenshot: ${shot}`);
  return { plots, errors, requests };
}

async function write(model: ReportModel, name: string): Promise<string> {
  const file = join(root, `${name}.html`);
  writeFileSync(file, reportHtml(model));
  return file;
}

function expectDrawn(l: Loaded, ids: string[]): void {
  expect(l.errors).toEqual([]);
  expect(l.requests).toEqual([]);
  expect(l.plots.map((p) => p.id)).toEqual(ids.map((i) => `plot-${i}`));
  for (const p of l.plots) {
    expect(p.rendered, p.id).toBe('true');
    expect(p.svgs, p.id).toBeGreaterThan(0);
    expect(p.marks, p.id).toBeGreaterThan(3);
  }
}

describe('trace report', () => {
  it('is one self-contained file: no external script, style or link', async () => {
    const html = reportHtml(await buildReport(GOLDEN));
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import/);
    expect(html).toContain('@observablehq/plot v0.6.17');
  });

  it('keeps every plot\'s data bounded, whatever the trace length (and says so on the plot)', async () => {
    const m = await buildReport(GOLDEN);
    const exits = m.sections.find((s) => s.id === 'exits-over-time')!;
    expect((exits.data as { rows: unknown[] }).rows.length).toBeLessThanOrEqual(TIME_BINS * (TOP_REASONS + 1));
    // Every exit of the trace is counted (the golden trace's own row count, not a number copied here).
    expect(exits.note).toMatch(new RegExp(`^Aggregated: ${TraceReader.open(GOLDEN).rowCount('exits')} exits counted in ${TIME_BINS} bins`));
    for (const s of (m.sections.find((x) => x.id === 'live-counts')!.data as { series: Array<{ points: unknown[] }> }).series) {
      expect(s.points.length).toBeLessThanOrEqual(MAX_POINTS + 1);
    }
  });

  it.skipIf(!haveChromium)('a trace: chromium draws every plot, no console error, no network', async () => {
    const file = await write(await buildReport(GOLDEN), 'bigstacks');
    expectDrawn(await load(file, join(shots, 'report-bigstacks.png')), ['exits-over-time', 'exit-cost', 'live-counts', 'precision-recall', 'timeline']);
  });

  it.skipIf(!haveChromium)('a suite under compare-interception, and a hyperupcall trace', async () => {
    const suite = join(root, 'suite');
    mkdirSync(suite);
    symlinkSync(GOLDEN, join(suite, 'bigstacks'));
    await recordTrace({ workload: 'syscall:n=300', exitPreset: 'kvm-default', costModel: 'modern' }, join(suite, 'syscall'), { checkpointEvery: 0 });
    const sm = await buildReport(suite, { variants: 'Trunk,1VMCALLlog,2VMCALLlog' });
    expectDrawn(await load(await write(sm, 'suite'), join(shots, 'report-suite.png')),
      ['suite-exits', 'relative-performance', 'exits-per-syscall', 'cycles-per-syscall']);
    const hu = join(root, 'hyperupcall-server');
    await recordTrace({ workload: 'hyperupcall-server', exitPreset: 'kvm-default', costModel: 'modern' }, hu, { checkpointEvery: 0 });
    const hm = await buildReport(hu);
    expectDrawn(await load(await write(hm, 'hyperupcall'), join(shots, 'report-hyperupcall.png')),
      ['exits-over-time', 'exit-cost', 'live-counts', 'precision-recall', 'timeline', 'scheduler-activation', 'hyperupcall-overheads']);
  }, 300_000);
});
