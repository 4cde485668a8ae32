// Recording overhead and replay speed on the default workload, in one run:
//   record.overhead = time(record to a trace directory) / time(same run, live devices, no recorder)
//   replay.speed    = replay MIPS / record MIPS (replay re-executes from the input log, checking every exit)
// plus rows written per second and trace bytes per million exits. Times are the main thread's CPU time
// (bench/cpuTime.ts: tinybench's clock here), as in the scale group; the wall-clock ratios are printed too
// (record.overhead_wall, replay.speed_wall).

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble, runSliced } from '../src/replay/Session.js';
import { saveHypervisorState } from '../src/hypervisor/hypervisorState.js';
import { InitialImage, takeCheckpoint } from '../src/replay/checkpoint.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { figure } from './figure.js';
import { mainThreadCpuClock } from './cpuTime.js';

const config = { workload: 'mixed', exitPreset: 'kvm-default', costModel: 'modern' };

/** Bytes of a trace's tables, console and input log (without the copied guest images). */
function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (f.startsWith('images')) continue; // the guest images are a fixed cost per trace, not per exit
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-bench-'));
  let k = 0;
  let rows = 0;
  let exits = 0;
  let icount = 0;
  let bytes = 0;
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0, timestampProvider: mainThreadCpuClock });
  // Wall time of each task's runs beside tinybench's CPU time (the mean of the runs after the warm-up one).
  const wall = new Map<string, number[]>();
  const timed = (name: string, f: () => Promise<void>): void => {
    bench.add(name, async () => {
      const t0 = performance.now();
      await f();
      const runs = wall.get(name) ?? [];
      runs.push(performance.now() - t0);
      wall.set(name, runs);
    });
  };
  timed('run, no recorder', async () => {
    const a = assemble(config, (m, w) => new LiveEnvironment(m, w));
    const r = await runSliced(a.machine, 10_000_000);
    icount = r.icount;
  });
  timed('record', async () => {
    const dir = join(root, `t${k++}`);
    const r = await recordTrace(config, dir);
    const t = r.manifest.totals;
    rows = t.exits + t.io + t.interrupts + t.ground_truth;
    exits = t.exits;
    bytes = dirBytes(dir);
  });
  const traceDir = join(root, 'replay-source');
  await recordTrace(config, traceDir);
  timed('replay', async () => {
    const r = await replayTrace(traceDir);
    if (!r.clean) throw new Error('benchmark replay diverged');
  });
  // One checkpoint (src/replay/checkpoint.ts) of the machine in mid-run: its cost is per checkpoint, so it is
  // reported apart from record.overhead (whose default interval may write none on this workload).
  const cpMachine = assemble(config, (m, w) => new LiveEnvironment(m, w));
  const initial = new InitialImage(cpMachine.machine.cpu.mmu.u8);
  cpMachine.machine.run(15_000_000);
  // Tens of ms: timed by tinybench's default wall clock (the CPU clock ticks every 10 ms).
  const cpBench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  cpBench.add('checkpoint', () => {
    takeCheckpoint(cpMachine.machine, initial, 0, saveHypervisorState(cpMachine));
  });
  await bench.run();
  await cpBench.run();
  console.table([...bench.table(), ...cpBench.table()]);
  const mean = (name: string): number => {
    const r = [...bench.tasks, ...cpBench.tasks].find((t) => t.name === name)?.result as { latency?: { mean: number } } | undefined;
    return r?.latency?.mean ?? NaN;
  };
  const plain = mean('run, no recorder');
  const rec = mean('record');
  const rep = mean('replay');
  console.log(`mixed: ${icount} instructions, ${exits} exits, ${rows} rows, ${bytes} trace bytes; run ${(icount / plain / 1e3).toFixed(1)} MIPS, record ${(icount / rec / 1e3).toFixed(1)} MIPS, replay ${(icount / rep / 1e3).toFixed(1)} MIPS`);
  figure('record.overhead', rec / plain, 'x');
  figure('replay.speed', rec / rep, 'x');
  const w = (name: string): number => {
    const runs = (wall.get(name) ?? []).slice(1);
    return runs.reduce((a, b) => a + b, 0) / runs.length;
  };
  figure('record.overhead_wall', w('record') / w('run, no recorder'), 'x');
  figure('replay.speed_wall', w('record') / w('replay'), 'x');
  figure('record.trace_bytes_per_million_exits', (bytes / exits) * 1e6, 'B');
  figure('record.checkpoint_ms', mean('checkpoint'), 'ms');
  rmSync(root, { recursive: true, force: true });
}
