// `trace analyze <dir> pslist [--at icount]`: the Linux guest's task list read out of its memory at one VM
// exit, as LibVMI's pslist does (init_task.tasks, each process's thread_group), with every offset from the
// kernel's own BTF and every address from its kallsyms (src/introspection): no profile. Offline: the trace is
// replayed to the first exit at or after --at (from the nearest checkpoint), the list read there, the replay
// stopped.

import { UserError } from '../errors.js';
import { LinuxKernel } from '../introspection/LinuxKernel.js';
import { walkTasks, type TaskInfo } from '../introspection/tasks.js';
import { StopReason } from '../emulator/machine.js';
import { replayTrace } from '../replay/replayTrace.js';
import { countListOption } from './options.js';
import type { Analysis, AnalysisResult, OptionValues, ResultTable } from './result.js';

export interface PsList {
  /** icount of the exit the list was read at */
  icount: number;
  tasks: TaskInfo[];
}

/** Replay `dir` to the first exit at or after `at` (the end of the run if none) and walk the task list there. */
export async function pslistAt(dir: string, at: number): Promise<PsList> {
  return (await pslistAtPoints(dir, [at], { fromCheckpoint: true }))[0]!;
}

/**
 * The task list at each of `ats` (the first exit at or after each; the end of the run for points beyond the
 * last exit), from one replay: from the start, or with `fromCheckpoint` from the checkpoint nearest the first
 * point. A replay that fails before the last point is an error (a list from the wrong moment is worse than none).
 */
export async function pslistAtPoints(dir: string, ats: readonly number[], o: { fromCheckpoint?: boolean } = {}): Promise<PsList[]> {
  const points = [...ats].sort((a, b) => a - b);
  const first = points[0] ?? Infinity;
  const lists: PsList[] = [];
  let read: (() => PsList) | null = null;
  const rep = await replayTrace(dir, {
    from: o.fromCheckpoint === true && Number.isFinite(first) ? first : undefined,
    attach: (a) => {
      const vmlinux = a.workload.linux?.vmlinux;
      if (vmlinux === undefined) {
        throw new UserError(`pslist: ${dir} is a trace of workload '${a.workload.name}', not of a Linux guest (trace record linux)`);
      }
      const kernel = LinuxKernel.of(vmlinux);
      const m = a.machine;
      read = () => ({ icount: m.cpu.icount, tasks: walkTasks({ mem: m.cpu.mmu.u8, cr3: m.cpu.cr3 }, kernel) });
      m.subscribe({
        onExit: (e) => {
          if (lists.length === points.length || e.icount < points[lists.length]!) return;
          const list = read!();
          while (lists.length < points.length && e.icount >= points[lists.length]!) lists.push(list);
          if (lists.length === points.length) m.stop(StopReason.interrupted, 0, 'pslist: read');
        },
      });
    },
  });
  if (lists.length < points.length) {
    // No exit at or after the remaining points: the list at the end of the run, if the replay got there.
    const why = rep.inputDivergence ?? (rep.divergence === null ? null : `diverged at exit ${rep.divergence.seq}`);
    if (why !== null || rep.icount < rep.recordedIcount) {
      throw new UserError(`pslist: the replay of ${dir} stopped at icount ${rep.icount} before reaching ${points[lists.length]} (${why ?? rep.result.detail})`);
    }
    const end = read!();
    while (lists.length < points.length) lists.push(end);
  }
  // In the caller's order.
  return ats.map((a) => lists[points.indexOf(a)]!);
}

export function pslistTable(list: PsList): ResultTable {
  const rows = [...list.tasks].sort((a, b) => a.pid - b.pid).map((t) => [
    t.pid, t.tgid, t.ppid, t.comm, BigInt(t.cr3), t.mm === 0, t.exitState, BigInt.asUintN(64, BigInt(t.task)),
  ]);
  return {
    name: 'pslist',
    doc: `one row per task (thread) in the guest kernel's task list at icount ${list.icount}`,
    columns: [
      { name: 'pid', type: 'int64', unit: '', doc: 'task id (task_struct.pid; a thread id for threads)' },
      { name: 'tgid', type: 'int64', unit: '', doc: 'thread-group id: the process id user space sees (task_struct.tgid)' },
      { name: 'ppid', type: 'int64', unit: '', doc: 'tgid of task_struct.real_parent (0 for the idle task)' },
      { name: 'comm', type: 'utf8', unit: '', doc: 'task_struct.comm: the executable name, up to 15 characters' },
      { name: 'cr3', type: 'uint64', unit: '', doc: 'physical address of the page-table root (mm->pgd translated), 0 for kernel threads' },
      { name: 'kernel_thread', type: 'bool', unit: '', doc: 'the task has no mm (a kernel thread)' },
      { name: 'exit_state', type: 'int64', unit: '', doc: 'task_struct.exit_state: 0 running/sleeping, 16 EXIT_DEAD, 32 EXIT_ZOMBIE' },
      { name: 'task', type: 'uint64', unit: '', doc: 'kernel virtual address of the task_struct' },
    ],
    rows,
  };
}

export const pslistAnalysis: Analysis = {
  name: 'pslist',
  description: "Linux guests: the kernel's task list read from guest memory at an exit (offsets from the kernel's BTF, no profile), as LibVMI's pslist",
  options: [
    { flags: '--at <icounts>', description: 'pslist: read at the first exit at or after this guest instruction count (2M, 1.5G accepted); a comma-separated list reads at each from one replay', defaultText: 'the end of the run' },
  ],
  async run(dir: string, o: OptionValues): Promise<AnalysisResult> {
    const ats = o.at === undefined ? [Infinity] : countListOption(o, 'at', '--at', []);
    const lists = ats.length === 1 ? [await pslistAt(dir, ats[0]!)] : await pslistAtPoints(dir, ats);
    return {
      title: `pslist: ${dir} at icount ${lists.map((l) => `${l.icount} (${l.tasks.length} tasks)`).join(', ')}`,
      tables: lists.map((l, i) => (lists.length === 1 ? pslistTable(l) : { ...pslistTable(l), name: `pslist_${i + 1}` })),
      notes: ['read from guest memory through the guest page tables without side effects (src/introspection/tasks.ts)'],
    };
  },
};
