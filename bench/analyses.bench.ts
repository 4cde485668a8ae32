// Analyses over a trace of at least a million exits (syscall:n=1000000 under handler-injection: every
// getpid is a VMCALL exit and a syscalls.arrow row, so each exit also brings a syscall to attribute: the
// worst case for proctrack per exit), in one run:
//   exits.exits_per_s        the `exits` summary (per-reason count, sum, min, max of cost)
//   exits.time_vs_polars     its time / the same summary computed by nodejs-polars over the same Arrow file.
//                            Both start from the directory path with nothing of ours cached (ours opens the
//                            trace as the analysis does: manifest, sizes, schema check, message index, the
//                            checksums of the blocks it reads; polars reads the file's bytes),
//                            read the same two columns (exit_reason, cost), and give the same answer (count,
//                            sum, min, max per reason, checked); the OS page cache is warm for both.
//   proctrack.exits_per_s    reconstruction: importer + one tracker (the best strategy: declared death,
//                            execve linked), all exits
//   proctrack.full_exits_per_s  the whole `proctrack` analysis with its default 12 strategies and the scoring
//   trace.verify_mb_per_s    verification on open (XXH64 of every file the manifest lists), MB (1e6 bytes)/s
//   trace.verify_cost_exits  the `exits` analysis (open + summary) with verification / without, minus 1, in
//                            CPU time: the median of paired differences over the median without (an
//                            analysis verifies what it reads: the blocks of exits.arrow holding its two
//                            columns and the file's metadata); the whole-file check older traces get and
//                            wall-clock figures are printed beside it
// Times are medians of several runs, after a warm-up.

import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { exitStats } from '../src/analyses/exitsSummary.js';
import { exitsAnalysis } from '../src/analyses/exitsAnalysis.js';
import { importTrace } from '../src/analyses/importer.js';
import { runProctrack } from '../src/analyses/proctrack.js';
import { DEFAULT_TRACKER, ProcessTracker } from '../src/analyses/ProcessTracker.js';
import { figure } from './figure.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(runs: number, f: () => unknown | Promise<unknown>): Promise<number> {
  await f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return median(ts) / 1000;
}

export async function run(): Promise<void> {
  const dir = process.env.VMTRACE_BENCH_TRACE ?? join(mkdtempSync(join(tmpdir(), 'vmtrace-bench-an-')), 'syscall1m');
  try {
    TraceReader.open(dir);
  } catch {
    process.stdout.write(`recording syscall:n=1000000 into ${dir} ...\n`);
    await recordTrace({ workload: 'syscall:n=1000000', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
  }
  const reader = TraceReader.open(dir);
  const exits = reader.rowCount('exits');
  if (exits < 1_000_000) throw new Error(`benchmark trace has ${exits} exits, fewer than a million`);

  let ours = exitStats(reader);
  // Opened as `trace analyze <dir> exits` opens it (src/analyses/options.ts openTrace): checking what it reads.
  const tExits = await time(7, () => (ours = exitStats(TraceReader.open(dir, { verify: 'on-read' }))));
  const path = reader.tablePath('exits');
  let df: pl.DataFrame | null = null;
  const tPolars = await time(7, () => {
    df = pl.readIPC(readFileSync(path), { columns: ['exit_reason', 'cost'] })
      .groupBy('exit_reason')
      .agg(pl.len().alias('n'), pl.col('cost').sum().alias('sum'), pl.col('cost').min().alias('min'), pl.col('cost').max().alias('max'));
  });
  // Same answer from both.
  const p = (df as unknown as pl.DataFrame).sort('exit_reason');
  const reasons = p.getColumn('exit_reason').toArray().map(Number);
  const col = (name: string): number[] => p.getColumn(name).toArray().map(Number);
  const theirs = { count: col('n'), sum: col('sum'), min: col('min'), max: col('max') };
  const nonzero = ours.count.reduce((k: number, c: number) => k + (c > 0 ? 1 : 0), 0);
  if (nonzero !== reasons.length) throw new Error(`exits summary has ${nonzero} reasons, polars ${reasons.length}`);
  reasons.forEach((r, i) => {
    for (const k of ['count', 'sum', 'min', 'max'] as const) {
      if (ours[k][r] !== theirs[k][i]) throw new Error(`exits summary ${k} differs from polars for reason ${r}: ${ours[k][r]} vs ${theirs[k][i]}`);
    }
  });

  const tTrack = await time(5, () => {
    const t = new ProcessTracker({ ...DEFAULT_TRACKER, death: 'declared', execLink: true });
    t.reserve(exits, reader.rowCount('syscalls'), reader.rowCount('io'));
    const s = importTrace(reader, [t], { syscallArgs: false });
    t.finish(s.icount);
  });
  const tFull = await time(2, () => runProctrack(dir, {}));

  process.stdout.write(`trace ${dir}: ${exits} exits, ${reader.rowCount('syscalls')} syscalls, ${reader.rowCount('io')} I/O, ` +
    `${reader.rowCount('ground_truth')} ground-truth rows\n`);
  process.stdout.write(`exits ${(tExits * 1e3).toFixed(1)} ms, polars ${(tPolars * 1e3).toFixed(1)} ms, ` +
    `proctrack (1 strategy) ${(tTrack * 1e3).toFixed(1)} ms, proctrack analysis (12 strategies + scoring) ${(tFull * 1e3).toFixed(1)} ms\n`);
  figure('exits.exits_per_s', exits / tExits, 'exits/s');
  figure('exits.time_vs_polars', tExits / tPolars, 'x');
  figure('proctrack.exits_per_s', exits / tTrack, 'exits/s');
  figure('proctrack.full_exits_per_s', exits / tFull, 'exits/s');

  // Verification (issue 21): every file of the manifest checked against its XXH64 (what `trace info` and
  // `trace replay` do on open); an analysis checks what it reads as it reads it: the 16 KiB blocks of
  // exits.arrow holding the metadata and the two columns it reads (per-block XXH64s in the manifest). The
  // runs with and without verification alternate, so that the load of a shared machine drifts into both
  // alike; the figure is the ratio of the medians of the process's CPU time (user + system), which waiting
  // for a core does not inflate; the wall-clock medians are printed beside it.
  const bytes = reader.manifest.files.reduce((n, f) => n + f.bytes, 0);
  const tVerify = await time(5, () => reader.verify());
  // The same trace as older traces have it (a manifest without per-block checksums: an analysis then hashes
  // the whole of exits.arrow on first read), for comparison: its files linked, the manifest rewritten.
  const whole = mkdtempSync(join(tmpdir(), 'vmtrace-bench-whole-'));
  for (const e of readdirSync(dir)) if (e !== 'manifest.json') symlinkSync(join(dir, e), join(whole, e));
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Array<{ blocks?: unknown }> };
  for (const f of m.files) delete f.blocks;
  writeFileSync(join(whole, 'manifest.json'), JSON.stringify(m, null, 2));
  try {
    const modes = [['blocks', dir, true], ['whole file', whole, true], ['--no-verify', dir, false]] as const;
    const wall = modes.map(() => [] as number[]);
    const cpu = modes.map(() => [] as number[]);
    for (const [, d, verify] of modes) await exitsAnalysis.run(d, { verify });
    for (let i = 0; i < 41; i++) {
      for (let j = 0; j < modes.length; j++) {
        const k = (i + j) % modes.length; // rotate the order, so that no mode always runs first
        const [, d, verify] = modes[k]!;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await exitsAnalysis.run(d, { verify });
        wall[k]!.push((performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        cpu[k]!.push((c.user + c.system) / 1e6);
      }
    }
    // Cost of a mode: the median of its per-round difference to --no-verify (rounds pair runs made at the
    // same moment, so the machine's load drifts out of the difference) over the median of --no-verify.
    const cost = (xs: number[][], k: number): number => median(xs[k]!.map((x, i) => x - xs[2]![i]!)) / median(xs[2]!);
    const ms = (x: number): string => (x * 1e3).toFixed(2);
    process.stdout.write(`verify ${(bytes / 1e6).toFixed(0)} MB (every file) in ${ms(tVerify)} ms\n`);
    modes.forEach(([name], k) => process.stdout.write(`exits analysis, ${name}: median of 41 CPU ${ms(median(cpu[k]!))} ms, wall ${ms(median(wall[k]!))} ms` +
      (k < 2 ? `; cost over --no-verify CPU ${cost(cpu, k).toFixed(3)}x, wall ${cost(wall, k).toFixed(3)}x` : '') + '\n'));
    figure('trace.verify_mb_per_s', bytes / 1e6 / tVerify, 'MB/s');
    figure('trace.verify_cost_exits', cost(cpu, 0), 'x');
  } finally {
    rmSync(whole, { recursive: true, force: true });
  }
}
