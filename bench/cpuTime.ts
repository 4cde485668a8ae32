// CPU time of the benchmark process's main thread, the measure the recording and replay ratios use: on a machine
// shared with other work, wall time also counts the time the process waited for a core (the same 2M-exit run
// took 18.1 s and 41.8 s of wall time an hour apart), and the whole process's CPU time counts the recorder's
// writer thread, replay's exit reader and the garbage collector's helpers, which run beside the main thread on
// another core (both are printed next to the ratios).

import { readFileSync } from 'node:fs';
import type { TimestampProvider } from 'tinybench';

/**
 * CPU time (user + system) of the main thread so far, in ms: Linux's /proc/self/task/<pid>/stat (utime and
 * stime, clock ticks of 10 ms), else the whole process's.
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // fields 14 and 15 of proc(5); USER_HZ = 100
  } catch {
    return processCpuMs();
  }
}

/** CPU time (user + system) of the whole process so far, in ms: every thread. */
export function processCpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** tinybench's clock as the main thread's CPU time (10 ms resolution: for tasks of a second or more). */
export const mainThreadCpuClock: TimestampProvider = {
  name: 'main-thread CPU time',
  fn: mainThreadCpuMs,
  toMs: (v) => Number(v),
  fromMs: (v) => v,
};
