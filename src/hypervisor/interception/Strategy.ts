// Syscall interception: how a VMM sees system calls that SYSCALL does not make exit (seed 004 section 6.2,
// GEARS). Every strategy produces the same per-syscall record and leaves the guest executing exactly the
// same guest instructions as without interception: instructions the hypervisor plants (VMCALLs in the
// guest's text or in an injected page) do not retire (cpu.noRetire), and an instruction the hypervisor
// emulates in the guest's place (Nitro's SYSCALL) retires once, as it would natively.

import type { Machine } from '../../emulator/machine.js';
import type { CostModel } from '../../emulator/costModel.js';
import type { Vmcs } from '../../emulator/vmx/Vmcs.js';
import type { Ept } from '../../emulator/vmx/Ept.js';
import type { Hypervisor } from '../Hypervisor.js';
import { Exitable, Msr } from '../../emulator/cpu/arch.js';
import type { SyscallEvent } from '../../emulator/events.js';
import { UserError } from '../../errors.js';
import { ProcBased } from '../../emulator/vmx/controls.js';
import { syscallNumber } from './syscalls.js';

export interface InterceptionContext {
  machine: Machine;
  hypervisor: Hypervisor;
  vmcs: Vmcs;
  ept: Ept;
  costModel: CostModel;
  /** What the strategies know of the guest's kernel, from the kernel itself (its symbols and image). */
  kernel: GuestKernel;
  /** Charge logging work per record (seed 004 section 7.2: "log" vs "nolog"). */
  log: boolean;
  /** Publish the record (the machine's observers: recorder, live analyses). */
  onSyscall(r: SyscallEvent): void;
}

/**
 * The guest kernel as the strategies see it. Our guest: its ELF symbols and the direct map docs/machine.md
 * promises; Linux: its kallsyms tables and image (src/hypervisor/linux/linuxGuestKernel.ts). Nothing here is a
 * hard-coded address of a particular kernel build.
 */
export interface GuestKernel {
  /** For messages: 'vmtrace kernel', 'Linux 6.1.0-57-amd64'. */
  name: string;
  /**
   * Where a strategy's injected page goes: a guest-physical page and a kernel virtual address mapping it
   * executable in every address space (`note` says how it was found); or why this kernel has no such place.
   */
  injection: { phys: number; virt: number; note: string } | { refused: string };
  /** The syscall entry by the kernel's own symbols (what it should write to LSTAR), or null when unknown. */
  syscallEntry: { name: string; address: number } | null;
  /** A syscall name (or number) to its number in this kernel's table; a clear error for an unknown name. */
  syscallNumber(nameOrNumber: string): number;
}

export interface InterceptionStrategy {
  readonly name: string;
  readonly description: string;
  /** Program the VMCS / MSR shadows / EPT and start watching for the guest's LSTAR. */
  install(ctx: InterceptionContext): void;
  /** What the guest could notice: bytes of kernel text changed, what RDMSR(LSTAR) returns, EPT hiding. */
  footprint(): Footprint;
  /** The strategy's run-time state (what it learned from the guest's WRMSR), for checkpoints (msgpackr). */
  saveState(): Record<string, unknown>;
  loadState(s: Record<string, unknown>): void;
}

export interface Footprint {
  kernelTextBytesChanged: number;
  lstarVisibleToGuest: 'original' | 'changed' | 'n/a';
  injectedPageHiddenByEpt: boolean;
  notes: string[];
}

/** The MSRs the strategies intercept (the numbers are arch.ts's Msr table, SDM vol. 4). */
export const MSR_LSTAR = Msr.LSTAR;
export const MSR_EFER = Msr.EFER;
/** VMCALL: 0F 01 C1. */
export const VMCALL = new Uint8Array([0x0f, 0x01, 0xc1]);

/**
 * The record, built from the registers at the syscall entry (before the guest's handler ran), in one event
 * object reused by every call (events.ts: observers copy what they keep), so an intercepted syscall
 * allocates nothing. `atSyscall`: the exit is at the SYSCALL instruction itself (nitro's #UD), not at the
 * first instruction of the handler path after the SYSCALL retired (the VMCALL strategies).
 */
export function syscallRecord(m: Machine, strategy: string, exits: number, atSyscall = false): SyscallEvent {
  const c = m.cpu;
  const L = c.lo;
  const H = c.hi;
  const r = record;
  r.icount = atSyscall ? c.eventIcount : c.eventIcount - 1;
  r.exitSeq = m.exitCount - 1;
  r.strategy = strategy;
  r.number = L[0]! >>> 0;
  // Linux x86-64 ABI argument registers: RDI RSI RDX R10 R8 R9.
  const a = r.args;
  a[0] = L[7]! >>> 0; a[1] = H[7]! >>> 0; a[2] = L[6]! >>> 0; a[3] = H[6]! >>> 0;
  a[4] = L[2]! >>> 0; a[5] = H[2]! >>> 0; a[6] = L[10]! >>> 0; a[7] = H[10]! >>> 0;
  a[8] = L[8]! >>> 0; a[9] = H[8]! >>> 0; a[10] = L[9]! >>> 0; a[11] = H[9]! >>> 0;
  r.cr3 = c.cr3;
  r.rspLo = L[4]! >>> 0;
  r.rspHi = H[4]! >>> 0;
  r.ripLo = L[1]! >>> 0;
  r.ripHi = H[1]! >>> 0;
  r.exits = exits;
  return r;
}

const record: SyscallEvent = {
  kind: 'syscall', icount: 0, exitSeq: -1, strategy: '', number: 0, args: new Array<number>(12).fill(0),
  cr3: 0, rspLo: 0, rspHi: 0, ripLo: 0, ripHi: 0, exits: 0,
};

/** Charge the hypervisor's logging work for one record, when logging is on. */
export function chargeLog(ctx: InterceptionContext): void {
  if (ctx.log) ctx.machine.chargeWork(ctx.costModel.work.logRecord);
}

/**
 * Watch the guest's writes of LSTAR: intercept WRMSR(LSTAR) in the MSR bitmap, perform the write for the
 * guest, and call `onWrite(guestValue)`, which returns what LSTAR should really hold. RDMSR(LSTAR) reads
 * the guest's value through the hypervisor's MSR shadow when `shadow` is set. A value other than the syscall
 * entry the kernel's symbols name is noted in `notes`.
 */
export function watchLstar(ctx: InterceptionContext, shadow: boolean, onWrite: (lo: number, hi: number) => [number, number], notes?: string[]): void {
  const { vmcs, hypervisor } = ctx;
  vmcs.primaryProcessorBasedControls |= ProcBased.USE_MSR_BITMAPS;
  vmcs.setMsrIntercept(MSR_LSTAR, shadow, true);
  hypervisor.instructionHandlers.push((m, kind, op) => {
    if (kind !== Exitable.wrmsr || (m.cpu.lo[1] >>> 0) !== MSR_LSTAR) return false;
    checkEntry(ctx, addr(m.cpu.lo[0], m.cpu.lo[2]), notes);
    const [lo, hi] = onWrite(m.cpu.lo[0], m.cpu.lo[2]);
    if (shadow) hypervisor.msrShadows.set(MSR_LSTAR, [m.cpu.lo[0] >>> 0, m.cpu.lo[2] >>> 0]);
    m.cpu.writeMsr(MSR_LSTAR, lo, hi);
    m.cpu.rip = op.next;
    return true;
  });
}

/**
 * What the guest wrote to LSTAR against the entry its own symbols name: the strategies intercept whatever the
 * kernel writes (a rootkit's LSTAR too) and say so in `notes` (their footprint notes) when it differs.
 */
function checkEntry(ctx: InterceptionContext, written: number, notes: string[] | undefined): void {
  const e = ctx.kernel.syscallEntry;
  if (e === null || e.address === written || notes === undefined) return;
  const n = `the guest wrote LSTAR = 0x${va(written).toString(16)}, not ${e.name} (0x${va(e.address).toString(16)} by the kernel's symbols): intercepting what it wrote`;
  if (!notes.includes(n)) notes.push(n);
}

/** Canonical address number from a 64-bit value given as (lo, hi). */
export function addr(lo: number, hi: number): number {
  return (hi | 0) * 4294967296 + (lo >>> 0);
}

/** The (lo, hi) words of a canonical address number (the inverse of `addr`). */
export function words(a: number): [number, number] {
  return [a % 4294967296 >>> 0, Math.floor(a / 4294967296) | 0];
}

/** A canonical address number as the 64-bit value the Mmu's virtual-memory API takes. */
export function va(a: number): bigint {
  return BigInt.asUintN(64, BigInt(a));
}

/**
 * The guest kernel maps all physical memory below 1 GiB at 0xffffffff80000000 (guest/kernel/mm.c,
 * docs/machine.md). Held as the CPU holds addresses: a canonical address as a signed number (-2^31).
 */
export const KERNEL_DIRECT_MAP = -0x80000000;

/**
 * Our own guest kernel (guest/kernel): its ELF symbols, its syscall numbers (syscalls.ts) and the hypervisor's
 * pages beyond the memory it is told it has, which its direct map reaches (no page-table change needed).
 */
export function vmtraceGuestKernel(symbols: Map<string, bigint>, reservedPhys: number, reservedBytes: number): GuestKernel {
  const entry = symbols.get('syscall_entry');
  return {
    name: 'the vmtrace kernel',
    injection: reservedBytes < 4096 ? { refused: 'no guest-physical page is reserved for the hypervisor' } : {
      phys: reservedPhys, virt: KERNEL_DIRECT_MAP + reservedPhys,
      note: 'the handler page lies beyond the memory size the guest is told (boot_info.mem_bytes) and is mapped by the kernel\'s existing direct map, so no page-table change is needed',
    },
    syscallEntry: entry === undefined ? null : { name: 'syscall_entry', address: Number(BigInt.asIntN(64, entry)) },
    syscallNumber,
  };
}

/**
 * The hypervisor's page for injected code, where the guest kernel says it can live (`ctx.kernel.injection`:
 * beyond the memory our guest is told it has, reached through its direct map; in a Linux kernel's unused
 * text/rodata gap), with EPT permissions `perm` (R=1 W=2 X=4) when EPT is on. A page inside guest memory is
 * marked as the hypervisor's (its instructions do not retire, as if EPT mapped it to a hypervisor frame).
 * Returns its guest-physical address, its virtual address and whether EPT restricts it.
 */
export function injectedPage(ctx: InterceptionContext, strategy: string, perm: number): { phys: number; virt: number; hidden: boolean } {
  const site = ctx.kernel.injection;
  if ('refused' in site) throw new UserError(`${strategy}: no place for an injected handler in ${ctx.kernel.name}: ${site.refused}`);
  const { phys } = site;
  const cpu = ctx.machine.cpu;
  if (phys < cpu.hypervisorFrom) cpu.hypervisorPages.add(Math.floor(phys / 4096));
  const hidden = ctx.vmcs.eptEnabled();
  if (hidden) {
    ctx.ept.setPermissions(phys / 4096, perm);
    ctx.machine.cpu.mmu.flushTlb();
  }
  return { phys, virt: site.virt, hidden };
}
