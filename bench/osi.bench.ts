// Operating-system introspection on the Linux guest (issue 15), one run each (a Linux recording is 30-60 s of CPU):
//   osi.probe_overhead            CPU seconds of recording linux:run=syscall (handler-injection) with the
//                                 ground-truth probes / without them, each in a fresh process; the two runs
//                                 execute the same guest instructions and exits (the probes are invisible), so
//                                 the ratio is what the probes cost the host. CPU time, not wall time: the
//                                 machine is shared.
//   proctrack.linux_exits_per_s   the whole `trace analyze <dir> proctrack` (12 strategies and the scoring
//                                 against the probes' ground truth) over the probed trace, exits per second,
//                                 median of 5 runs after a warm-up.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { TraceReader } from '../src/record/TraceReader.js';
import { runProctrack } from '../src/analyses/proctrack.js';
import { figure } from './figure.js';

interface Recorded { cpuSeconds: number; wallSeconds: number; reason: string; icount: number; exits: number; groundTruth: number }

function record(dir: string, probes: boolean): Recorded {
  const child = join(import.meta.dirname, 'osiRecord.mts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', child, dir, probes ? 'probes' : 'none'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Recorded;
}

export async function run(): Promise<void> {
  if (!existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'))) {
    process.stdout.write('osi: no Linux guest image under guest/images/linux: not measured\n');
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-bench-osi-'));
  try {
    const plain = record(join(root, 'plain'), false);
    const probed = record(join(root, 'probed'), true);
    if (plain.icount !== probed.icount || plain.exits !== probed.exits) {
      throw new Error(`osi: the runs differ with and without probes (icount ${plain.icount} vs ${probed.icount}, exits ${plain.exits} vs ${probed.exits})`);
    }
    process.stdout.write(`linux:run=syscall ${probed.reason}: ${probed.icount} instructions, ${probed.exits} exits, ${probed.groundTruth} ground-truth events; ` +
      `recording CPU ${plain.cpuSeconds.toFixed(1)} s without probes, ${probed.cpuSeconds.toFixed(1)} s with (wall ${plain.wallSeconds.toFixed(1)} s, ${probed.wallSeconds.toFixed(1)} s)\n`);
    figure('osi.probe_overhead', probed.cpuSeconds / plain.cpuSeconds, 'x');

    const dir = join(root, 'probed');
    const exits = TraceReader.open(dir).rowCount('exits');
    await runProctrack(dir, {}); // warm-up
    const ts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await runProctrack(dir, {});
      ts.push((performance.now() - t0) / 1000);
    }
    const t = [...ts].sort((a, b) => a - b)[2]!;
    process.stdout.write(`proctrack over ${exits} exits: ${(t * 1e3).toFixed(0)} ms (median of 5)\n`);
    figure('proctrack.linux_exits_per_s', exits / t, 'exits/s');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
