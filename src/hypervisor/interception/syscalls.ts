// System call numbers: Linux x86-64's (arch/x86/entry/syscalls/syscall_64.tbl) for the calls the guest
// implements or its programs use, plus the guest's own vmtrace calls (guest/README.md "System calls").

import { UserError } from '../../errors.js';
import { SyscallTable } from '../../introspection/syscallTable.js';

export const SYSCALLS: Readonly<Record<string, number>> = {
  read: 0, write: 1, open: 2, close: 3, lseek: 8, mmap: 9, munmap: 11, brk: 12, pipe: 22, sched_yield: 24, dup: 32,
  dup2: 33, nanosleep: 35, getpid: 39, socket: 41, sendto: 44, recvfrom: 45, clone: 56, fork: 57, vfork: 58, execve: 59,
  exit: 60, wait4: 61, kill: 62, uname: 63, getppid: 110, reboot: 169, gettid: 186, time: 201, futex: 202,
  set_tid_address: 218, clock_gettime: 228, exit_group: 231,
  vmt_sethz: 500, vmt_nprocs: 501, vmt_lstar: 502, vmt_texthash: 503, vmt_hyperupcall: 504, vmt_huring: 505,
};

const BY_NUMBER = new Map<number, string>(Object.entries(SYSCALLS).map(([name, n]) => [n, name]));

export function syscallNumber(nameOrNumber: string): number {
  const t = nameOrNumber.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const n = SYSCALLS[t];
  if (n === undefined) throw new UserError(`unknown syscall "${t}" (known: ${Object.keys(SYSCALLS).join(', ')}; or give a number)`);
  return n;
}

/** The name of a syscall number (`sys_<n>` when the table does not have it). */
export function syscallName(n: number): string {
  return BY_NUMBER.get(n) ?? `sys_${n}`;
}

/**
 * Names for a trace's syscall numbers: the guest kernel's own table when the trace carries one (a Linux
 * trace's manifest extra.syscall_names, read from its sys_call_table at record time), else ours.
 */
export function syscallNamer(extra: Record<string, unknown> | undefined): (n: number) => string {
  const names = extra?.syscall_names;
  if (!Array.isArray(names)) return syscallName;
  return (n) => (typeof names[n] === 'string' ? (names[n] as string) : `sys_${n}`);
}

/**
 * Numbers for names given against a trace: the guest kernel's own table when the trace carries one (a Linux
 * trace: `mount`, `openat`, `uname` or `newuname`; a vmtrace call such as `vmt_lstar` is unknown there), else ours.
 */
export function syscallNumberer(extra: Record<string, unknown> | undefined): (nameOrNumber: string) => number {
  const names = extra?.syscall_names;
  if (!Array.isArray(names)) return syscallNumber;
  const table = SyscallTable.fromNames(names.map((n) => (typeof n === 'string' ? n : null)));
  return (s) => {
    try {
      return table.number(s);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  };
}
