import { EXIT_REASON_KEYS } from '../record/exitReasonNames.js';

/** Linux's name of a basic exit reason (`RESERVED_<n>` / `REASON_<n>` past the table). */
export function exitReasonName(r: number): string {
  return EXIT_REASON_KEYS[r] ?? `REASON_${r}`;
}

/** Linux x86-64 numbers of the syscalls the guest implements (guest/README.md "System calls"). */
export const SYSCALL_NAMES: Readonly<Record<number, string>> = {
  0: 'read', 1: 'write', 2: 'open', 3: 'close', 8: 'lseek', 9: 'mmap', 11: 'munmap', 12: 'brk', 22: 'pipe',
  24: 'sched_yield', 32: 'dup', 33: 'dup2', 35: 'nanosleep', 39: 'getpid', 41: 'socket', 44: 'sendto',
  45: 'recvfrom', 56: 'clone', 57: 'fork', 59: 'execve', 60: 'exit', 61: 'wait4', 110: 'getppid', 169: 'reboot',
  186: 'gettid', 202: 'futex', 218: 'set_tid_address', 228: 'clock_gettime', 231: 'exit_group',
  500: 'vmt_sethz', 501: 'vmt_nprocs',
};
