// Exits and recording at scale (issue 17), one run of each step (this is minutes of work, not a test):
//
//   vmx.exit_host_ns          host ns per exit without the recorder: the median of paired slices of
//                             syscall:n=200000 under handler-injection and under interception none
//                             (bench/exitpath.bench.ts; `npm run bench -- exitpath` alone)
//   record.overhead_exit_dense  record / same run without recorder, syscall:n=2000000 (main-thread CPU time;
//                             _process_cpu: the whole process's CPU time, the writer thread included; _wall).
//                             Each step runs in a fresh process (bench/scaleStep.mts), as `trace record` does.
//   record.scaling            host time per exit recording 2M exits / recording 200k exits (CPU time)
//   record.bytes_per_exit_dir the whole trace directory (images included) / exits, syscall:n=2000000
//   replay.speed_exit_dense   record time / replay time of that trace (main-thread CPU time; _process_cpu: every thread)
//   scale.*                   `trace record`, `trace replay`, `trace analyze proctrack` of a trace of
//                             SCALE_EXITS (default 10M) syscalls as child processes: wall time and peak RSS
//                             (GNU time's %M) of each step
//   analyze.peak_rss_10m      proctrack's peak RSS on the SCALE_EXITS trace, and analyze.peak_rss_2m on the 2M
//                             one (memory must not grow with the trace)
//
// Needs the CLI built (npx tsc -p tsconfig.json). SCALE_EXITS=0 skips the child-process part.
// SCALE_ANALYZE=<dir>,<dir> runs only `trace analyze proctrack` on existing traces (a 2M- and a 10M-exit one,
// e.g. `trace record syscall:n=10000000 --max-instructions 2.5G --max-exits 20M`, ~6 min) and prints their
// analyze.peak_rss_2m and analyze.peak_rss_10m.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figure } from './figure.js';
import { exitHostNs } from './exitpath.bench.js';
import type { StepResult } from './scaleStep.mjs';


function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

// The ratios use the main thread's CPU time: on a machine shared with other work, wall time also counts the
// time the process waited for a core (the same 2M-exit run took 18.1 s and 41.8 s an hour apart); the
// wall-clock ratios are printed next to them.

/** One step in a fresh process (bench/scaleStep.mts): its wall ms, main-thread and process CPU ms. */
function step(...args: string[]): StepResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'scaleStep.mts'), ...args],
    { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!) as StepResult;
}

/** Run the CLI under GNU time (it reports on stderr): wall seconds and peak RSS (MB). */
function cli(args: string[]): { s: number; rssMb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, 'bin/trace.js', ...args],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const m = /TIME ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) {
    throw new Error(`trace ${args.join(' ')} failed (status ${r.status}, signal ${r.signal}, ${r.error?.message ?? ''}): ${(r.stderr ?? '').slice(-2000)}`);
  }
  return { s: Number(m[1]), rssMb: Number(m[2]) / 1024 };
}

/** `trace analyze <dir> proctrack` of existing traces: the peak-RSS figure of each (SCALE_ANALYZE). */
function analyzeOnly(dirs: string[]): void {
  const names = ['analyze.peak_rss_2m', 'analyze.peak_rss_10m'];
  dirs.forEach((d, i) => {
    const exits = (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { totals: { exits: number } }).totals.exits;
    const a = cli(['analyze', d, 'proctrack', '--format', 'json']);
    console.log(`analyze proctrack ${d} (${exits} exits): ${a.s} s, peak RSS ${a.rssMb.toFixed(0)} MB`);
    figure(names[i] ?? `analyze.peak_rss_${i}`, a.rssMb, 'MB');
  });
}

export async function run(): Promise<void> {
  // SCALE_ANALYZE=<2M-exit trace>,<10M-exit trace>: only the analyze step, on traces recorded before.
  if (process.env.SCALE_ANALYZE) {
    analyzeOnly(process.env.SCALE_ANALYZE.split(','));
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-scale-'));
  try {
    // The exit path without the recorder.
    figure('vmx.exit_host_ns', await exitHostNs(), 'ns');

    // Recording, exit-dense, at two lengths.
    // Each step in a fresh process, as `trace record` and `trace replay` run.
    const small = step('record', 'syscall:n=200000', join(root, 's200k'));
    rmSync(join(root, 's200k'), { recursive: true, force: true });
    const p2m = step('plain', 'syscall:n=2000000');
    const d2m = join(root, 's2m');
    const big = step('record', 'syscall:n=2000000', d2m);
    const rep = step('replay', d2m);
    const repMs = rep.ms;
    const repCpu = rep.cpu;
    const repProc = rep.proc;
    const bytes = dirBytes(d2m);
    console.log(`syscall:n=2000000: run ${p2m.ms.toFixed(0)} ms (CPU ${p2m.cpu.toFixed(0)}), record ${big.ms.toFixed(0)} ms (CPU ${big.cpu.toFixed(0)}), ` +
      `replay ${repMs.toFixed(0)} ms (CPU ${repCpu.toFixed(0)}), ${big.exits} exits, ${bytes} bytes; syscall:n=200000 record ${small.ms.toFixed(0)} ms ` +
      `(CPU ${small.cpu.toFixed(0)}), ${small.exits} exits`);
    console.log(`process CPU (every thread: the writer thread, GC helpers): run ${p2m.proc.toFixed(0)} ms, record ${big.proc.toFixed(0)} ms, ` +
      `replay ${repProc.toFixed(0)} ms; syscall:n=200000 record ${small.proc.toFixed(0)} ms`);
    console.log(`wall-clock ratios: record/run ${(big.ms / p2m.ms).toFixed(3)}, scaling ${((big.ms / big.exits) / (small.ms / small.exits)).toFixed(3)}, ` +
      `record/replay ${(big.ms / repMs).toFixed(3)}`);
    figure('record.overhead_exit_dense', big.cpu / p2m.cpu, 'x');
    // The same ratio in the whole process's CPU time (the writer thread counted) and in wall time.
    figure('record.overhead_exit_dense_process_cpu', big.proc / p2m.proc, 'x');
    figure('record.overhead_exit_dense_wall', big.ms / p2m.ms, 'x');
    figure('record.scaling', (big.cpu / big.exits) / (small.cpu / small.exits), 'x');
    figure('record.bytes_per_exit_dir', bytes / big.exits, 'B');
    figure('replay.speed_exit_dense', big.cpu / repCpu, 'x');
    figure('replay.speed_exit_dense_process_cpu', big.proc / repProc, 'x');
    const a2m = cli(['analyze', d2m, 'proctrack', '--format', 'json']);
    console.log(`analyze proctrack (2M exits): ${a2m.s} s, peak RSS ${a2m.rssMb.toFixed(0)} MB`);
    figure('analyze.peak_rss_2m', a2m.rssMb, 'MB');
    rmSync(d2m, { recursive: true, force: true });

    const n = Number(process.env.SCALE_EXITS ?? 10_000_000);
    if (n > 0) {
      const d = join(root, 'big');
      const rec = cli(['record', `syscall:n=${n}`, '--out', d, '--max-instructions', String(n * 250), '--max-exits', String(n * 2)]);
      const exits = (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { totals: { exits: number } }).totals.exits;
      console.log(`record syscall:n=${n}: ${exits} exits, ${rec.s} s, peak RSS ${rec.rssMb.toFixed(0)} MB, ${dirBytes(d)} bytes`);
      figure('scale.record_s', rec.s, 's');
      figure('scale.record_peak_rss', rec.rssMb, 'MB');
      const rp = cli(['replay', d]);
      figure('scale.replay_s', rp.s, 's');
      figure('scale.replay_peak_rss', rp.rssMb, 'MB');
      const an = cli(['analyze', d, 'proctrack', '--format', 'json']);
      figure('scale.analyze_proctrack_s', an.s, 's');
      figure('analyze.peak_rss_10m', an.rssMb, 'MB');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
