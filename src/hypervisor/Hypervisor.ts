// The hypervisor model's exit handling beyond what the CPU does natively after an exit: the hypercall
// table (VMCALL, RAX = number, result in RAX; docs/machine.md), MSRs the hypervisor shadows (a guest RDMSR
// reads the shadow: fill-the-gap and handler injection hide their LSTAR this way), and extension points the
// interception strategies and hyperupcalls plug into. Everything not handled here is executed by the CPU
// exactly as without an exit, which is what KVM's emulation does for these exits.

import type { Exitable } from '../emulator/cpu/arch.js';
import { Exitable as Kind } from '../emulator/cpu/arch.js';
import type { Op } from '../emulator/cpu/Op.js';
import type { ExitHandler, Machine } from '../emulator/machine.js';

/** Hypercall numbers (docs/machine.md). */
export const Hypercall = { nop: 0, hyperupcallRegister: 1 } as const;

/** What an unknown hypercall returns (KVM's -KVM_ENOSYS). */
export const HYPERCALL_ENOSYS = -1000;

export type HypercallFn = (m: Machine, op: Op) => void;

export class Hypervisor implements ExitHandler {
  private readonly hypercalls = new Map<number, HypercallFn>();
  /** MSR index -> value a guest RDMSR reads instead of the real one. */
  readonly msrShadows = new Map<number, [lo: number, hi: number]>();
  /** Extra handlers consulted first (strategies): the first that returns true handled the exit. */
  readonly instructionHandlers: Array<(m: Machine, kind: Exitable, op: Op) => boolean> = [];
  readonly vmcallHandlers: Array<(m: Machine, op: Op) => boolean> = [];
  readonly exceptionHandlers: Array<(m: Machine, vector: number, errorCode: number, op: Op | null) => boolean> = [];
  readonly eptHandlers: Array<(m: Machine, op: Op) => boolean> = [];
  hypercallCount = 0;

  constructor() {
    this.registerHypercall(Hypercall.nop, (m) => {
      m.cpu.lo[0] = 0;
      m.cpu.hi[0] = 0;
    });
  }

  registerHypercall(nr: number, fn: HypercallFn): void {
    this.hypercalls.set(nr, fn);
  }

  handleInstruction(m: Machine, kind: Exitable, op: Op): boolean {
    for (const h of this.instructionHandlers) if (h(m, kind, op)) return true;
    if (kind === Kind.rdmsr) {
      const shadow = this.msrShadows.get(m.cpu.lo[1] >>> 0);
      if (shadow !== undefined) {
        m.cpu.lo[0] = shadow[0];
        m.cpu.hi[0] = 0;
        m.cpu.lo[2] = shadow[1];
        m.cpu.hi[2] = 0;
        m.cpu.rip = op.next;
        return true;
      }
    }
    return false;
  }

  hypercall(m: Machine, op: Op): void {
    for (const h of this.vmcallHandlers) if (h(m, op)) return;
    this.hypercallCount++;
    const fn = this.hypercalls.get(m.cpu.lo[0] >>> 0);
    if (fn !== undefined && m.cpu.hi[0] === 0) {
      fn(m, op);
      return;
    }
    m.cpu.lo[0] = HYPERCALL_ENOSYS;
    m.cpu.hi[0] = -1;
  }

  handleException(m: Machine, vector: number, errorCode: number, op: Op | null): boolean {
    for (const h of this.exceptionHandlers) if (h(m, vector, errorCode, op)) return true;
    return false;
  }

  handleEptViolation(m: Machine, op: Op): boolean {
    for (const h of this.eptHandlers) if (h(m, op)) return true;
    return false;
  }
}
