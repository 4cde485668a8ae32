// Reading iced-x86's decoded operands into Op fields (at decode time only).

import { type Instruction, OpKind, Register } from 'iced-x86';
import type { EaFn, Op } from '../Op.js';
import { eaAbs, eaBase, eaBaseDisp, eaBaseIndex, eaIndex, eaWithSegment } from '../ea.js';
import type { Size } from './template.js';

/**
 * A family's decoder met an operand form we do not model (a register class such as a debug or vector
 * register, a memory operand size): the instruction executes as #UD. The only exception decodeInstruction
 * turns into #UD; anything else thrown while decoding is a bug and propagates.
 */
export class UnsupportedForm extends Error {
  override readonly name = 'UnsupportedForm';
}

export interface GprRef {
  index: number;
  /** 8 for AH/CH/DH/BH, else 0. */
  shift: number;
  size: Size;
}

/** Map an iced-x86 general-purpose register to (index, byte shift, size); null for other registers. */
export function gpr(reg: Register): GprRef | null {
  if (reg >= Register.AL && reg <= Register.BL) return { index: reg - Register.AL, shift: 0, size: 8 };
  if (reg >= Register.AH && reg <= Register.BH) return { index: reg - Register.AH, shift: 8, size: 8 };
  if (reg >= Register.SPL && reg <= Register.R15L) return { index: reg - Register.SPL + 4, shift: 0, size: 8 };
  if (reg >= Register.AX && reg <= Register.R15W) return { index: reg - Register.AX, shift: 0, size: 16 };
  if (reg >= Register.EAX && reg <= Register.R15D) return { index: reg - Register.EAX, shift: 0, size: 32 };
  if (reg >= Register.RAX && reg <= Register.R15) return { index: reg - Register.RAX, shift: 0, size: 64 };
  return null;
}

export const isImm = (k: OpKind): boolean => k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64;
export const isReg = (k: OpKind): boolean => k === OpKind.Register;
export const isMem = (k: OpKind): boolean => k === OpKind.Memory;

/** Put register operand `n` of `ins` into op.d/dsh, op.s/ssh or op.t. Returns its size. */
export function setReg(ins: Instruction, n: number, op: Op, field: 'd' | 's' | 't'): Size {
  const g = gpr(ins.opRegister(n));
  if (g === null) throw new UnsupportedForm(`operand ${n} is not a general-purpose register`);
  if (field === 'd') {
    op.d = g.index;
    op.dsh = g.shift;
  } else if (field === 's') {
    op.s = g.index;
    op.ssh = g.shift;
  } else {
    op.t = g.index;
  }
  return g.size;
}

/** Put immediate operand `n` into op.imm / op.immh (already extended as the encoding specifies). */
export function setImm(ins: Instruction, n: number, op: Op): void {
  const v = ins.immediate(n);
  op.imm = Number(v & 0xffffffffn) | 0;
  op.immh = Number((v >> 32n) & 0xffffffffn) | 0;
}

/**
 * Fill the memory-operand fields and choose the address function. RIP-relative addresses are folded to a
 * constant (iced-x86 reports the absolute target as the displacement).
 */
export function setMem(ins: Instruction, op: Op): void {
  const baseReg = ins.memoryBase;
  const indexReg = ins.memoryIndex;
  const disp = ins.memoryDisplacementU64;
  op.disp = Number(disp & 0xffffffffn) | 0;
  op.disph = Number((disp >> 32n) & 0xffffffffn) | 0;
  op.scale = [0, 0, 1, 1, 2, 2, 2, 2, 3][ins.memoryIndexScale];
  let addr32 = false;
  const reg = (r: Register): number => {
    if (r === Register.None) return -1;
    const g = gpr(r);
    if (g === null) throw new UnsupportedForm(`unsupported address register ${r}`);
    if (g.size === 32) addr32 = true;
    return g.index;
  };
  let fn: EaFn;
  if (baseReg === Register.RIP || baseReg === Register.EIP) {
    op.base = -1;
    op.index = -1;
    if (baseReg === Register.EIP) addr32 = true;
    fn = eaAbs;
  } else {
    op.base = reg(baseReg);
    op.index = reg(indexReg);
    if (op.base < 0 && op.index < 0) fn = eaAbs;
    else if (op.index < 0) fn = op.disp === 0 ? eaBase : eaBaseDisp;
    else if (op.base < 0) fn = eaIndex;
    else fn = eaBaseIndex;
    // The displacement of a base/index form is a signed 32-bit value; eaBase* use op.disp as such.
  }
  const segReg = ins.memorySegment;
  op.seg = segReg === Register.FS ? 1 : segReg === Register.GS ? 2 : 0;
  op.ea = op.seg !== 0 || addr32 ? eaWithSegment(fn, op.seg, addr32) : fn;
}
