// Host time of one VM exit without the recorder (issue 17: vmx.exit_host_ns, target at most 1,000 ns), measured
// directly as a difference of paired samples so that a loaded machine does not decide the figure:
//
//   Two machines run the same guest instructions: syscall:n=200000 under handler-injection (one VMCALL exit
//   per syscall: the VMCS exit words, the hypervisor's handler, the syscall record, publishing, VM entry) and
//   under interception none (no exits but the timer's). Interception never changes what the guest executes,
//   so both run the same instruction stream. They advance in alternating slices of SLICE instructions; each
//   pair of slices (the same icount range on both) gives one sample:
//     (cpu time with exits - cpu time without) / (exits - exits without)
//   measured as the process's CPU time (user + system: time spent waiting for a core under load is not the
//   exit path's). The first WARMUP pairs are dropped (JIT tiers, decode cache, page faults on first touch of
//   guest memory); the figure is the median of the rest. Wall-clock medians are printed for comparison.

import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble } from '../src/replay/Session.js';
import { StopReason, type Machine } from '../src/emulator/machine.js';
import { figure } from './figure.js';

const WORKLOAD = 'syscall:n=200000';
const SLICE = 400_000;
const WARMUP = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Slice { cpuNs: number; wallNs: number; exits: number; icount: number; done: boolean }

function slice(m: Machine, until: number): Slice {
  const e0 = m.exitCount, i0 = m.cpu.icount;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = m.run(until);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  return { cpuNs: (c.user + c.system) * 1000, wallNs, exits: m.exitCount - e0, icount: m.cpu.icount - i0, done: r.reason !== StopReason.paused };
}

/** Median host ns per exit (CPU time) over paired slices; prints the sample count and the wall-clock median. */
export async function exitHostNs(): Promise<number> {
  const base = { workload: WORKLOAD, exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 50_000_000_000, maxExits: 1e9 };
  const hi = assemble({ ...base, intercept: 'handler-injection' }, (m, w) => new LiveEnvironment(m, w)).machine;
  const none = assemble({ ...base, intercept: 'none' }, (m, w) => new LiveEnvironment(m, w)).machine;
  const cpu: number[] = [];
  const wall: number[] = [];
  let exits = 0;
  for (let k = 0, until = SLICE; ; k++, until += SLICE) {
    const a = slice(hi, until);
    const b = slice(none, until);
    if (a.icount !== b.icount) throw new Error(`exit path benchmark: the two runs executed ${a.icount} and ${b.icount} instructions in slice ${k}`);
    const dx = a.exits - b.exits;
    if (k >= WARMUP && dx > 0 && !a.done && !b.done) {
      cpu.push((a.cpuNs - b.cpuNs) / dx);
      wall.push((a.wallNs - b.wallNs) / dx);
      exits += dx;
    }
    if (a.done || b.done) break;
    // Let the event loop breathe between pairs (as runSliced does).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (cpu.length === 0) throw new Error('exit path benchmark: no samples');
  console.log(`${WORKLOAD}: handler-injection vs interception none in ${cpu.length} paired slices of ${SLICE} instructions ` +
    `(${WARMUP} dropped as warm-up), ${exits} exits measured; median ns/exit: CPU time ${median(cpu).toFixed(0)}, wall ${median(wall).toFixed(0)}; ` +
    `CPU-time quartiles ${quartiles(cpu)}`);
  return median(cpu);
}

function quartiles(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `${q(0.25).toFixed(0)} / ${q(0.75).toFixed(0)}`;
}

export async function run(): Promise<void> {
  figure('vmx.exit_host_ns', await exitHostNs(), 'ns');
}
