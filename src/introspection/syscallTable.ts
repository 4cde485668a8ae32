// The kernel's own system-call table: sys_call_table (found by kallsyms) is an array of pointers to the
// `__x64_sys_<name>` wrappers (arch/x86/entry/syscall_64.c, one per line of syscall_64.tbl), so each entry's
// symbol names the call. Unimplemented numbers point at `__x64_sys_ni_syscall`. Read from the image alone:
// no syscall_64.tbl, no headers. The table ends where an entry stops pointing at a syscall wrapper.

import { IntrospectionError } from './IntrospectionError.js';
import type { LinuxKernel } from './LinuxKernel.js';

const PREFIX = '__x64_sys_';
/** More than any x86-64 kernel has (6.1: 451); a bound for a damaged image. */
const MAX = 4096;

export class SyscallTable {
  private readonly byName = new Map<string, number>();

  /** `names[nr]`: the call's name ('read', 'newuname'), null for an unimplemented number (ni_syscall). */
  private constructor(readonly names: ReadonlyArray<string | null>) {
    names.forEach((n, nr) => {
      if (n === null) return;
      if (!this.byName.has(n)) this.byName.set(n, nr);
      // syscall_64.tbl's entry names for the "new" wrappers: uname -> sys_newuname, stat -> sys_newstat, ...
      if (n.startsWith('new') && !this.byName.has(n.slice(3))) this.byName.set(n.slice(3), nr);
    });
  }

  private static readonly cache = new WeakMap<LinuxKernel, SyscallTable>();

  static of(kernel: LinuxKernel): SyscallTable {
    let t = SyscallTable.cache.get(kernel);
    if (t === undefined) {
      t = SyscallTable.read(kernel);
      SyscallTable.cache.set(kernel, t);
    }
    return t;
  }

  /** The table of names already read (a trace's manifest extra.syscall_names: `names[nr]`, null for ni_syscall). */
  static fromNames(names: ReadonlyArray<string | null>): SyscallTable {
    return new SyscallTable(names);
  }

  static read(kernel: LinuxKernel): SyscallTable {
    const at = kernel.symbols.address('sys_call_table');
    const raw = kernel.elf.read(at, MAX * 8);
    if (raw === null) throw new IntrospectionError('sys_call_table: not in the kernel image');
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    // Wrappers by address, of any symbol type: a configured-out call (COND_SYSCALL) is a weak (W) stub.
    const wrappers = new Map<number, string>();
    for (const s of kernel.symbols.symbols) if (s.name.startsWith(PREFIX)) wrappers.set(s.address, s.name.slice(PREFIX.length));
    const names: Array<string | null> = [];
    for (let nr = 0; nr < MAX && (nr + 1) * 8 <= raw.length; nr++) {
      const name = wrappers.get(Number(v.getBigInt64(nr * 8, true)));
      if (name === undefined) break;
      names.push(name === 'ni_syscall' ? null : name);
    }
    if (names.length === 0) throw new IntrospectionError('sys_call_table: its first entry is not a __x64_sys_ wrapper');
    return new SyscallTable(names);
  }

  /** Number of a call by name ('getpid', 'uname' or 'newuname') or a decimal number, or throw naming it. */
  number(nameOrNumber: string): number {
    const t = nameOrNumber.trim();
    if (/^\d+$/.test(t)) return Number(t);
    const n = this.byName.get(t);
    if (n === undefined) throw new IntrospectionError(`unknown syscall "${t}" in this kernel's sys_call_table (${this.byName.size} names; or give a number)`);
    return n;
  }

  /** The name of a number (`sys_<n>` when the table has none). */
  name(nr: number): string {
    return this.names[nr] ?? `sys_${nr}`;
  }
}
