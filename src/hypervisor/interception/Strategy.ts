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

export interface InterceptionContext {
  machine: Machine;
  hypervisor: Hypervisor;
  vmcs: Vmcs;
  ept: Ept;
  costModel: CostModel;
  /** Kernel symbols (from the ELF), e.g. syscall_entry. */
  symbols: Map<string, bigint>;
  /** Guest-physical frames reserved for the hypervisor (beyond the memory the guest is told about). */
  reservedPhys: number;
  reservedBytes: number;
  /** Charge logging work per record (seed 004 section 7.2: "log" vs "nolog"). */
  log: boolean;
  /** Publish the record (the machine's observers: recorder, live analyses). */
  onSyscall(r: SyscallEvent): void;
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
 * the guest's value through the hypervisor's MSR shadow when `shadow` is set.
 */
export function watchLstar(ctx: InterceptionContext, shadow: boolean, onWrite: (lo: number, hi: number) => [number, number]): void {
  const { vmcs, hypervisor } = ctx;
  vmcs.primaryProcessorBasedControls |= ProcBased.USE_MSR_BITMAPS;
  vmcs.setMsrIntercept(MSR_LSTAR, shadow, true);
  hypervisor.instructionHandlers.push((m, kind, op) => {
    if (kind !== Exitable.wrmsr || (m.cpu.lo[1] >>> 0) !== MSR_LSTAR) return false;
    const [lo, hi] = onWrite(m.cpu.lo[0], m.cpu.lo[2]);
    if (shadow) hypervisor.msrShadows.set(MSR_LSTAR, [m.cpu.lo[0] >>> 0, m.cpu.lo[2] >>> 0]);
    m.cpu.writeMsr(MSR_LSTAR, lo, hi);
    m.cpu.rip = op.next;
    return true;
  });
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
 * The hypervisor's page for injected code (beyond the memory the guest is told it has), reached through the
 * kernel's direct map, with EPT permissions `perm` (R=1 W=2 X=4) when EPT is on. Returns its guest-physical
 * address, its virtual address and whether EPT restricts it.
 */
export function injectedPage(ctx: InterceptionContext, strategy: string, perm: number): { phys: number; virt: number; hidden: boolean } {
  if (ctx.reservedBytes < 4096) throw new UserError(`${strategy}: no guest-physical page is reserved for the hypervisor`);
  const phys = ctx.reservedPhys;
  const hidden = ctx.vmcs.eptEnabled();
  if (hidden) {
    ctx.ept.setPermissions(phys / 4096, perm);
    ctx.machine.cpu.mmu.flushTlb();
  }
  return { phys, virt: KERNEL_DIRECT_MAP + phys, hidden };
}
