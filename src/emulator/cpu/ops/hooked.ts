// What the system-instruction families share: asking the VMM first (every instruction VT-x can make exit
// ends its block and calls `cpu.hooks.instruction`, which sees the exact icount as `cpu.icount + op.idx`),
// the #GP(0)/#UD shorthands, and 16-bit selector / machine-status-word operands. These instructions are
// rare, so they are plain TypeScript handlers rather than templates.

import { type Instruction } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { gpr, isMem, setMem } from './operands.js';

export const TWO32 = 4294967296;

/** A hand-written handler (cpu, op). */
export type H = (cpu: Cpu, op: Op) => void;

/** op.aux bit of selector / machine-status-word operands: in memory (else a GPR). For LMSW this is also
 * bit 6 of the CR-access qualification, "LMSW operand type" (SDM table 28-3). */
export const AUX_WORD_MEM = 64;

/** Ask the VMM first; true if it handled the instruction. */
export function hooked(cpu: Cpu, kind: Exitable, op: Op): boolean {
  if (cpu.hooks === null) return false;
  cpu.eventIcount = cpu.icount + op.idx;
  return cpu.hooks.instruction(cpu, kind, op);
}

/** Write a 32-bit result to GPR r, zero-extending (SDM 3.4.1.1). */
export function set32(cpu: Cpu, r: number, v: number): void {
  cpu.lo[r] = v | 0;
  cpu.hi[r] = 0;
}

export function gp0(cpu: Cpu): never {
  throw cpu.fault.set(Vector.GP, 0);
}

export function ud(cpu: Cpu): never {
  throw cpu.fault.set(Vector.UD, 0);
}

/** Set the handler; returns whether the instruction ends its block. */
export function use(op: Op, name: string, fn: H, terminates: boolean): boolean {
  op.fn = fn;
  op.name = name;
  return terminates;
}

/** The 16-bit operand of LTR/LLDT/MOV to Sreg/LMSW: memory (AUX_WORD_MEM) or GPR op.s. */
export function selectorOperand(cpu: Cpu, op: Op): number {
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    return cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  }
  return cpu.lo[op.s] & 0xffff;
}

/**
 * Operand `n` is a 16-bit r/m (selector, machine status word): memory sets AUX_WORD_MEM, a register goes to
 * op[field]. False for a register that is not a GPR.
 */
export function wordOperand(ins: Instruction, n: number, op: Op, field: 's' | 'd'): boolean {
  if (isMem(ins.opKind(n))) {
    setMem(ins, op);
    op.aux |= AUX_WORD_MEM;
    return true;
  }
  const g = gpr(ins.opRegister(n));
  if (g === null) return false;
  op[field] = g.index;
  op.size = g.size;
  return true;
}
