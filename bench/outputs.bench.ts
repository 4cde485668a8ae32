// The outputs of issue 18 over a trace of at least a million exits (syscall:n=1000000, the analyses bench's
// trace; VMTRACE_BENCH_TRACE reuses one):
//   report.seconds_1m_exits        build `trace report` (exits scan, proctrack's 12 strategies and scoring,
//                                  the exec-linked reconstruction, the HTML with the inlined library)
//   export.parquet_rows_per_s      `trace export --parquet`: rows of all five tables per second, zstd
//   export.perfetto_events_per_s   `trace export --perfetto`: track events (slice begins and ends, instants,
//                                  counter values) per second, reconstruction included
// Medians of 3 runs after a warm-up (one run each for the report). Where Debian's chromium is installed the
// report is also loaded in it and its load-and-draw time printed (not a figure: host-dependent).

import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { buildReport } from '../src/report/reportModel.js';
import { reportHtml } from '../src/report/reportHtml.js';
import { exportParquet } from '../src/export/parquet.js';
import { exportPerfetto } from '../src/export/perfetto.js';
import { figure } from './figure.js';

async function median(runs: number, f: () => Promise<unknown>): Promise<number> {
  await f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ts.push((performance.now() - t0) / 1000);
  }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
}

async function drawTimes(html: string): Promise<string> {
  if (!existsSync('/usr/bin/chromium')) return 'chromium not installed: drawing time not measured';
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'vmtrace-bench-profile-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await ctx.newPage();
    const t0 = performance.now();
    await page.goto(`file://${html}`);
    await page.waitForSelector('body[data-report-done]', { timeout: 120_000 });
    const load = performance.now() - t0;
    return `chromium: page loaded and drawn in ${load.toFixed(0)} ms`;
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const dir = process.env.VMTRACE_BENCH_TRACE ?? join(mkdtempSync(join(tmpdir(), 'vmtrace-bench-out-')), 'syscall1m');
  try {
    TraceReader.open(dir);
  } catch {
    process.stdout.write(`recording syscall:n=1000000 into ${dir} ...\n`);
    await recordTrace({ workload: 'syscall:n=1000000', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
  }
  const reader = TraceReader.open(dir);
  const m = reader.manifest;
  if (m.totals.exits < 1_000_000) throw new Error(`benchmark trace has ${m.totals.exits} exits, fewer than a million`);
  const scratch = mkdtempSync(join(tmpdir(), 'vmtrace-bench-outputs-'));
  try {
    const html = join(scratch, 'report.html');
    const tReport = await median(1, async () => writeFileSync(html, reportHtml(await buildReport(dir))));
    process.stdout.write(`report: ${(statSync(html).size / 1024).toFixed(0)} KiB for ${m.totals.exits} exits; ${await drawTimes(html)}\n`);

    let rows = 0;
    const tParquet = await median(3, async () => {
      rmSync(join(scratch, 'pq'), { recursive: true, force: true });
      rows = (await exportParquet(dir, join(scratch, 'pq'))).rows;
    });
    let events = 0;
    let bytes = 0;
    const tPerfetto = await median(3, async () => {
      const r = await exportPerfetto(dir, join(scratch, 'trace.pftrace'));
      events = r.events;
      bytes = r.bytes;
    });
    process.stdout.write(`trace ${dir}: ${m.totals.exits} exits; parquet ${rows} rows in ${tParquet.toFixed(2)} s; ` +
      `perfetto ${events} events (${(bytes / 1e6).toFixed(1)} MB) in ${tPerfetto.toFixed(2)} s; report in ${tReport.toFixed(2)} s\n`);
    figure('report.seconds_1m_exits', tReport, 's');
    figure('export.parquet_rows_per_s', rows / tParquet, 'rows/s');
    figure('export.perfetto_events_per_s', events / tPerfetto, 'events/s');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
