// Syscall names for analysis output: the interception layer's number table
// (src/hypervisor/interception/syscalls.ts) plus the guest calls that table does not list. (Exit reason
// names: exitReasonKey of src/record/exitReasonNames.ts, the names the manifest and `trace info` use.)

import { SYSCALLS } from '../hypervisor/interception/syscalls.js';

/** Guest syscalls (guest/README.md "System calls") missing from SYSCALLS. */
const GUEST_ONLY_SYSCALLS: Readonly<Record<number, string>> = {
  8: 'lseek', 32: 'dup', 33: 'dup2', 169: 'reboot', 202: 'futex', 218: 'set_tid_address', 228: 'clock_gettime',
  500: 'vmt_sethz', 501: 'vmt_nprocs',
};

const BY_NUMBER = new Map<number, string>(Object.entries(SYSCALLS).map(([name, n]) => [n, name]));
for (const [n, name] of Object.entries(GUEST_ONLY_SYSCALLS)) BY_NUMBER.set(Number(n), name);

/** Linux's name of a syscall number (`sys_<n>` when neither table has it). */
export function syscallName(n: number): string {
  return BY_NUMBER.get(n) ?? `sys_${n}`;
}
