// Reading Linux's process table out of guest memory, as LibVMI's pslist does, but with offsets from the
// kernel's own BTF (LinuxKernel) and the VMM's side-effect-free page walk: nothing here changes guest state.

import { peekTranslate, peekVirt } from '../emulator/cpu/peek.js';
import type { LinuxKernel } from './LinuxKernel.js';

/** Guest memory as the VMM sees it at one moment: physical RAM and the page-table root to read through. */
export interface GuestView {
  mem: Uint8Array;
  cr3: number;
}

export interface TaskInfo {
  /** the task_struct's kernel virtual address (signed) */
  task: number;
  pid: number;
  tgid: number;
  comm: string;
  /** mm_struct address, 0 for a kernel thread */
  mm: number;
  /** physical address of the process's page-table root (what CR3 holds when it runs), 0 for a kernel thread */
  cr3: number;
  /** tgid of the real parent */
  ppid: number;
  /** PF_* flags and exit_state (EXIT_ZOMBIE 32, EXIT_DEAD 16) */
  flags: number;
  exitState: number;
  /** saved kernel stack pointer (thread.sp) and the stack's base (task->stack) */
  kernelSp: number;
  stack: number;
}

const MAX_TASKS = 1 << 16;
const TWO32 = 4294967296;

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** A 64-bit field as a signed number (kernel pointers sign-extend; exact within 2^53). */
function s64(b: Uint8Array, at: number): number {
  const lo = u32(b, at);
  const hi = u32(b, at + 4) | 0;
  return hi * TWO32 + lo;
}

/** Read one pointer-sized word at a kernel virtual address (null if unmapped). */
export function readPointer(v: GuestView, va: number): number | null {
  const b = peekVirt(v.mem, v.cr3, va, 8);
  return b === null ? null : s64(b, 0);
}

/** Decode the task_struct at `task` (null if its memory is not mapped). */
export function readTask(v: GuestView, k: LinuxKernel, task: number): TaskInfo | null {
  const L = k.layout;
  const end = Math.max(L.comm + L.commSize, L.threadSp + 8, L.exitState + 4, L.realParent + 8, L.mm + 8);
  const b = peekVirt(v.mem, v.cr3, task, end);
  if (b === null) return null;
  const mm = s64(b, L.mm);
  let cr3 = 0;
  if (mm !== 0) {
    const pgd = readPointer(v, mm + L.mmPgd);
    if (pgd !== null) cr3 = Math.max(0, peekTranslate(v.mem, v.cr3, pgd));
  }
  let comm = '';
  for (let i = 0; i < L.commSize && b[L.comm + i] !== 0; i++) comm += String.fromCharCode(b[L.comm + i]);
  const parent = s64(b, L.realParent);
  let ppid = 0;
  if (parent !== 0 && parent !== task) {
    const pb = peekVirt(v.mem, v.cr3, parent + L.tgid, 4);
    if (pb !== null) ppid = u32(pb, 0);
  }
  return {
    task,
    pid: u32(b, L.pid),
    tgid: u32(b, L.tgid),
    comm,
    mm,
    cr3,
    ppid,
    flags: u32(b, L.flags),
    exitState: u32(b, L.exitState),
    kernelSp: s64(b, L.threadSp),
    stack: s64(b, L.stack),
  };
}

/** The task currently running on the vCPU: per-CPU current_task at the kernel's GS base. */
export function currentTask(v: GuestView, k: LinuxKernel, kernelGsBase: number): number | null {
  return readPointer(v, kernelGsBase + k.sym.currentTask);
}

/**
 * Every task: the process list from init_task.tasks, and each process's threads through thread_group (the
 * swapper, pid 0, first). Bounded and cycle-safe: a corrupt list ends the walk instead of looping.
 */
export function walkTasks(v: GuestView, k: LinuxKernel): TaskInfo[] {
  const L = k.layout;
  const out: TaskInfo[] = [];
  const seen = new Set<number>();
  const leaders: number[] = [];
  const head = k.sym.initTask + L.tasks;
  for (let node = head, n = 0; n < MAX_TASKS; n++) {
    const task = node - L.tasks;
    if (seen.has(task)) break;
    seen.add(task);
    leaders.push(task);
    const next = readPointer(v, node);
    if (next === null || next === head) break;
    node = next;
  }
  for (const leader of leaders) {
    const info = readTask(v, k, leader);
    if (info === null) continue;
    out.push(info);
    const ghead = leader + L.threadGroup;
    let node = readPointer(v, ghead);
    for (let n = 0; node !== null && node !== ghead && n < MAX_TASKS; n++) {
      const t = node - L.threadGroup;
      if (seen.has(t)) break;
      seen.add(t);
      const ti = readTask(v, k, t);
      if (ti !== null) out.push(ti);
      node = readPointer(v, node);
    }
  }
  return out;
}
