// Exact, perturbation-free ground truth for an unmodified Linux guest: probes (DecodeCache.setProbe) on kernel
// functions, found by kallsyms, reading their arguments from registers per the SysV ABI (RDI, RSI) and the
// structures they point to through BTF offsets. A probe causes no exit, costs no modelled cycle, retires no
// instruction and writes nothing: the guest runs exactly as without it. The events are the ground-truth
// table's (docs/machine.md "Ground truth"), published through the machine as the ground-truth port's are.
//
//   wake_up_new_task(p)       a new task is about to run: proc_create + thread_create, or thread_create for
//                             CLONE_THREAD (pid != tgid); tasks without an mm are kernel threads (a0 bit 0)
//   setup_new_exec(bprm)      an execve has succeeded: the new mm, page-table root and comm are current's
//   do_group_exit(code)       exit_group (or a fatal signal): the coming process exit's `how`
//   do_exit(code)             thread_exit; with signal->live == 1 (the last live thread) also proc_exit
//   __switch_to(prev, next)   context_switch to next
//   do_syscall_64(regs, nr)   syscall: a0 the number (ESI), a1 the first argument (regs->di); every 64-bit
//                             system call the kernel dispatches, whatever path it entered by

import type { Cpu } from '../emulator/cpu/Cpu.js';
import type { Machine } from '../emulator/machine.js';
import { GroundTruthType, type GroundTruthEvent } from '../emulator/events.js';
import type { LinuxKernel } from './LinuxKernel.js';
import { peekVirt } from '../emulator/cpu/peek.js';
import { readPointer, readTask, type GuestView, type TaskInfo } from './tasks.js';

/** THREAD_SIZE on x86-64 without KASAN (arch/x86/include/asm/page_64_types.h: PAGE_SIZE << 2). */
const THREAD_SIZE = 16384;
const TWO32 = 4294967296;
/** PF_KTHREAD (include/linux/sched.h) */
const PF_KTHREAD = 0x00200000;

const reg = (cpu: Cpu, r: number): number => cpu.hi[r] * TWO32 + (cpu.lo[r] >>> 0);

export interface LinuxProbeStats {
  creates: number;
  execs: number;
  exits: number;
  switches: number;
  syscalls: number;
}

/** Attach the ground-truth probes; returns a detach function and live counters. */
export function attachLinuxProbes(machine: Machine, kernel: LinuxKernel): { stats: LinuxProbeStats; detach: () => void } {
  const cpu = machine.cpu;
  const L = kernel.layout;
  const S = kernel.sym;
  const stats: LinuxProbeStats = { creates: 0, execs: 0, exits: 0, switches: 0, syscalls: 0 };
  const view = (): GuestView => ({ mem: cpu.mmu.u8, cr3: cpu.cr3 });
  /** tgid -> exit "how" set by do_group_exit (1) or a fatal signal (2) */
  const groupExit = new Map<number, number>();

  const emit = (icount: number, type: GroundTruthType, t: TaskInfo, a0: number, a1: number, a2: number): void => {
    const e: GroundTruthEvent = {
      kind: 'groundTruth', icount, type, pid: t.tgid, tid: t.pid, ppid: type === GroundTruthType.procCreate ? t.ppid : 0,
      cr3: t.cr3, a0, a1, a2, name: t.comm,
    };
    machine.publishGroundTruth(e);
  };
  /** The user RSP saved in the task's pt_regs at the top of its kernel stack (0 if unreadable). */
  const userSp = (v: GuestView, t: TaskInfo): number => {
    if (t.stack === 0) return 0;
    return readPointer(v, t.stack + THREAD_SIZE - L.ptRegsSize + L.ptRegsSp) ?? 0;
  };
  const current = (v: GuestView): TaskInfo | null => {
    const gs = cpu.gsBaseHi * TWO32 + (cpu.gsBaseLo >>> 0);
    const task = readPointer(v, gs + S.currentTask);
    return task === null ? null : readTask(v, kernel, task);
  };

  const probes: Array<[number, (c: Cpu, icount: number) => void]> = [
    [S.wakeUpNewTask, (c, icount) => {
      const v = view();
      const t = readTask(v, kernel, reg(c, 7));
      if (t === null) return;
      stats.creates++;
      const kthread = t.mm === 0 || (t.flags & PF_KTHREAD) !== 0;
      if (t.pid === t.tgid) emit(icount, GroundTruthType.procCreate, t, kthread ? 1 : 0, 0, t.task);
      emit(icount, GroundTruthType.threadCreate, t, kthread ? 0 : userSp(v, t), 0, t.task);
    }],
    [S.setupNewExec, (_c, icount) => {
      const v = view();
      const t = current(v);
      if (t === null) return;
      stats.execs++;
      emit(icount, GroundTruthType.exec, t, userSp(v, t), 0, t.task);
    }],
    [S.doGroupExit, (c, icount) => {
      void icount;
      const t = current(view());
      if (t === null) return;
      const code = c.lo[7];
      groupExit.set(t.tgid, (code & 0x7f) !== 0 ? 2 : 1);
    }],
    [S.doExit, (c, icount) => {
      const v = view();
      const t = current(v);
      if (t === null) return;
      stats.exits++;
      const code = c.lo[7];
      emit(icount, GroundTruthType.threadExit, t, code, 0, t.task);
      const sig = readPointer(v, t.task + L.signal);
      const live = sig === null ? null : peekVirt(v.mem, v.cr3, sig + L.signalLive, 4);
      const lastThread = live !== null && (live[0] | (live[1] << 8) | (live[2] << 16) | (live[3] << 24)) === 1;
      if (lastThread) {
        const how = groupExit.get(t.tgid) ?? ((code & 0x7f) !== 0 ? 2 : 0);
        groupExit.delete(t.tgid);
        emit(icount, GroundTruthType.procExit, t, code, how, t.task);
      }
    }],
    [S.switchTo, (c, icount) => {
      const v = view();
      const next = readTask(v, kernel, reg(c, 6));
      if (next === null) return;
      stats.switches++;
      const prev = readTask(v, kernel, reg(c, 7));
      emit(icount, GroundTruthType.contextSwitch, next, userSp(v, next), prev?.pid ?? 0, next.task);
    }],
    [S.doSyscall64, (c, icount) => {
      const v = view();
      const t = current(v);
      if (t === null) return;
      stats.syscalls++;
      const arg0 = readPointer(v, reg(c, 7) + L.ptRegsDi) ?? 0;
      emit(icount, GroundTruthType.syscall, t, c.lo[6], arg0, t.task);
    }],
  ];
  for (const [addr, fn] of probes) cpu.cache.setProbe(addr, fn);
  return {
    stats,
    detach: () => {
      for (const [addr] of probes) cpu.cache.setProbe(addr, null);
    },
  };
}
