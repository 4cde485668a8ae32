// MOV to/from debug registers (SDM vol. 2B "MOV—Move to/from Debug Registers"; vol. 3 17.2). The registers
// hold what the guest writes with the architectural fixed bits (no RTM, no bus-lock detection, as KVM's
// kvm_dr6_fixed): DR6 reads its reserved bits as 1 (0xffff0ff0), DR7 bit 10 as 1. Breakpoints that DR7
// enables are not raised: this CPU model has no hardware breakpoint logic (Linux only clears DR7 at boot).

import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Cr4, Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { gpr } from './operands.js';

/** DR6 bits a write can change (B0-B3, BD, BS, BT) and the bits that read as 1. */
const DR6_VOLATILE = 0x0000e00f;
const DR6_FIXED_1 = 0xffff0ff0 | 0;
/** DR7 bits a write can change (all but bits 11, 12, 14, 15) and bit 10, which reads as 1. */
const DR7_VOLATILE = 0xffff2bff | 0;
const DR7_FIXED_1 = 0x400;
export const DR6_RESET = DR6_FIXED_1;
export const DR7_RESET = DR7_FIXED_1;

/** op.aux: the SDM 28.2.1 MOV-DR qualification (table 28-4): bits 2:0 DR, bit 4 from DR, bits 11:8 the GPR. */
const FROM_DR = 1 << 4;

/** Debug register number after the CR4.DE aliasing of DR4/DR5 (SDM 17.2.2): #UD with CR4.DE set. */
function drIndex(cpu: Cpu, op: Op): number {
  const n = op.aux & 7;
  if (n === 4 || n === 5) {
    if ((cpu.cr4 & Cr4.DE) !== 0) throw cpu.fault.set(Vector.UD, 0);
    return n + 2;
  }
  return n;
}

function hooked(cpu: Cpu, op: Op): boolean {
  if (cpu.hooks === null) return false;
  cpu.eventIcount = cpu.icount + op.idx;
  return cpu.hooks.instruction(cpu, Exitable.movDr, op);
}

const movToDr = (cpu: Cpu, op: Op): void => {
  const n = drIndex(cpu, op);
  if (cpu.cpl !== 0) throw cpu.fault.set(Vector.GP, 0);
  if (hooked(cpu, op)) return;
  const lo = cpu.lo[op.d];
  const hi = cpu.hi[op.d];
  if (n < 4) {
    cpu.drLo[n] = lo;
    cpu.drHi[n] = hi;
    return;
  }
  // Bits 63:32 of DR6 and DR7 are reserved: #GP(0) if set (SDM MOV DR, 64-bit mode exceptions).
  if (hi !== 0) throw cpu.fault.set(Vector.GP, 0);
  if (n === 6) cpu.dr6 = (lo & DR6_VOLATILE) | DR6_FIXED_1;
  else cpu.dr7 = (lo & DR7_VOLATILE) | DR7_FIXED_1;
};

const movFromDr = (cpu: Cpu, op: Op): void => {
  const n = drIndex(cpu, op);
  if (cpu.cpl !== 0) throw cpu.fault.set(Vector.GP, 0);
  if (hooked(cpu, op)) return;
  if (n < 4) {
    cpu.lo[op.d] = cpu.drLo[n];
    cpu.hi[op.d] = cpu.drHi[n];
  } else {
    cpu.lo[op.d] = n === 6 ? cpu.dr6 : cpu.dr7;
    cpu.hi[op.d] = 0;
  }
};

const DR_REGS: Partial<Record<Register, number>> = {
  [Register.DR0]: 0, [Register.DR1]: 1, [Register.DR2]: 2, [Register.DR3]: 3,
  [Register.DR4]: 4, [Register.DR5]: 5, [Register.DR6]: 6, [Register.DR7]: 7,
};

/** MOV DR, r64 / MOV r64, DR. Returns null when `ins` is not one; it ends its block (it can exit). */
export function decodeDebugRegisters(ins: Instruction, op: Op): boolean | null {
  if (ins.mnemonic !== Mnemonic.Mov || ins.op0Kind !== OpKind.Register || ins.op1Kind !== OpKind.Register) return null;
  const to = DR_REGS[ins.op0Register];
  const from = DR_REGS[ins.op1Register];
  if (to === undefined && from === undefined) return null;
  const g = gpr(to !== undefined ? ins.op1Register : ins.op0Register);
  if (g === null) return null;
  op.d = g.index;
  op.aux = (to ?? from!) | (to === undefined ? FROM_DR : 0) | (g.index << 8);
  op.fn = to !== undefined ? movToDr : movFromDr;
  op.name = to !== undefined ? 'mov_to_dr' : 'mov_from_dr';
  return true;
}
