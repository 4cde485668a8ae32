// Linux x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl) for the calls the guest uses,
// plus the guest's own (guest/README.md).

import { UserError } from '../../cli/errors.js';

export const SYSCALLS: Readonly<Record<string, number>> = {
  read: 0, write: 1, open: 2, close: 3, mmap: 9, munmap: 11, brk: 12, pipe: 22, sched_yield: 24, nanosleep: 35,
  getpid: 39, socket: 41, sendto: 44, recvfrom: 45, clone: 56, fork: 57, vfork: 58, execve: 59, exit: 60, wait4: 61,
  kill: 62, uname: 63, getppid: 110, gettid: 186, time: 201, exit_group: 231,
};

export function syscallNumber(nameOrNumber: string): number {
  const t = nameOrNumber.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const n = SYSCALLS[t];
  if (n === undefined) throw new UserError(`unknown syscall "${t}" (known: ${Object.keys(SYSCALLS).join(', ')}; or give a number)`);
  return n;
}

export function syscallName(n: number): string {
  for (const [k, v] of Object.entries(SYSCALLS)) if (v === n) return k;
  return String(n);
}
