// `trace analyze <dir> exits --by process`: the per-reason exit statistics split by reconstructed process.
// Each exit goes to the process of its own CR3 as the tracker sees it (user-mode filter off, so kernel-mode
// exits count too: those in the kernel's own address space form the kernel's pseudo-process; declared death,
// so a reused CR3 starts a new upid; execve links the new address space to the process, so an exec keeps its
// upid). The syscall-reporting VMCALL goes to the caller.

import type { ExitEvent, MachineObserver } from '../emulator/events.js';
import type { TraceReader } from '../record/TraceReader.js';
import { EXIT_STATS_COLUMNS, ExitStats } from './exitsSummary.js';
import { importTrace } from './importer.js';
import type { AnalysisResult, Cell, ResultColumn } from './result.js';
import { DEFAULT_TRACKER, ProcessTracker, type ObservationSink } from './ProcessTracker.js';

/** Attribution needs only the tracker's current process: it keeps no logs (memory per process, not per exit). */
const discard: ObservationSink = { observe() {}, syscall() {}, io() {}, sample() {} };

const BY_PROCESS_COLUMNS: readonly ResultColumn[] = [
  { name: 'upid', type: 'int64', unit: '', doc: 'Reconstructed process (CR3 identity, declared death, execve linked, no user-mode filter).' },
  { name: 'cr3', type: 'uint64', unit: '', doc: 'Its CR3.' },
  ...EXIT_STATS_COLUMNS,
];

export function exitsByProcess(reader: TraceReader, title: string): AnalysisResult {
  const tracker = new ProcessTracker({ ...DEFAULT_TRACKER, death: 'declared', execLink: true, userFilter: false }, discard);
  const stats: ExitStats[] = [];
  // Reasons the trace has (manifest), so per-process accumulators stay small.
  const reasons = 1 + Math.max(0, ...reader.manifest.exits_by_reason.map((r) => r.reason));
  const split: MachineObserver = {
    onExit(e: ExitEvent): void {
      tracker.onExit(e);
      const upid = tracker.currentUpid();
      let s = stats[upid];
      if (s === undefined) stats[upid] = s = new ExitStats(reasons);
      s.add(e.reason, e.cost);
    },
    onSyscall: (e) => tracker.onSyscall(e),
  };
  importTrace(reader, [split], { syscallArgs: false });
  const rows: Cell[][] = [];
  stats.forEach((s, upid) => {
    if (s) rows.push(...s.rows([upid, BigInt(tracker.procs[upid]!.cr3)]));
  });
  return {
    title,
    tables: [{ name: 'exit_stats_by_process', doc: 'one row per reconstructed process and exit reason (shares within the process)', columns: BY_PROCESS_COLUMNS, rows }],
    notes: ['cost = modelled cycles per exit (cost model), from exits.arrow', 'processes reconstructed from CR3 (seed 004 5.1); see `proctrack` for how right that is'],
  };
}
