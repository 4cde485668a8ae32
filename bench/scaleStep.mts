// One step of the scale benchmark in a fresh process (bench/scale.bench.ts spawns one per step), so that no
// step runs on code the steps before it warmed up with other observers and strategies: in one process the
// run without recorder took 9.5 s of CPU after the exit-path benchmark and 7.6 s in a fresh one. Prints one
// JSON line: wall ms, main-thread and whole-process CPU ms of the step (not of loading the modules), and what
// it did.
//
//   scaleStep.mts plain  <workload>          run with live devices, no recorder
//   scaleStep.mts record <workload> <dir>    recordTrace into dir
//   scaleStep.mts replay <dir>               replayTrace of dir (must be clean)

import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble, runSliced } from '../src/replay/Session.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { mainThreadCpuMs, processCpuMs } from './cpuTime.js';

export const SCALE_BASE = { exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 50_000_000_000, maxExits: 1e9 };

export interface StepResult { ms: number; cpu: number; proc: number; exits: number; icount: number }

const [mode, arg, dir] = process.argv.slice(2);
const cpu0 = mainThreadCpuMs();
const proc0 = processCpuMs();
const t0 = performance.now();
let exits = 0;
let icount = 0;
if (mode === 'plain') {
  const a = assemble({ ...SCALE_BASE, workload: arg! }, (m, w) => new LiveEnvironment(m, w));
  const r = await runSliced(a.machine, 10_000_000);
  exits = r.exits;
  icount = r.icount;
} else if (mode === 'record') {
  const r = await recordTrace({ ...SCALE_BASE, workload: arg! }, dir!, { overwrite: true });
  exits = r.manifest.totals.exits;
  icount = r.result.icount;
} else if (mode === 'replay') {
  const r = await replayTrace(arg!);
  if (!r.clean) throw new Error(`replay of ${arg} diverged: ${r.divergence?.message ?? r.inputDivergence ?? r.result.detail}`);
  exits = r.replayedExits;
  icount = r.icount;
} else throw new Error(`scaleStep: unknown step "${mode}"`);
const result: StepResult = { ms: performance.now() - t0, cpu: mainThreadCpuMs() - cpu0, proc: processCpuMs() - proc0, exits, icount };
process.stdout.write(`${JSON.stringify(result)}\n`);
