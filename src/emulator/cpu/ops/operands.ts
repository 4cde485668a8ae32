// Reading iced-x86's decoded operands into Op fields (at decode time only).

import { type Instruction, MemorySize, OpKind, Register } from 'iced-x86';
import type { EaFn, Op } from '../Op.js';
import { eaAbs, eaBase, eaBaseDisp, eaBaseIndex, eaIndex, eaWithSegment } from '../ea.js';
import { AUX_MEM } from './operandAccess.js';
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

/** SIB scale factor (1, 2, 4, 8) as a shift count. */
const SCALE_SHIFT = [0, 0, 1, 1, 2, 2, 2, 2, 3];

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
  op.scale = SCALE_SHIFT[ins.memoryIndexScale];
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

/** Operand size in bits of an integer memory operand (iced-x86's MemorySize: byte/word/dword/qword). */
export function memBits(ins: Instruction): Size {
  const ms = ins.memorySize;
  const bytes = MEM_BYTES.get(ms);
  if (bytes === undefined) throw new UnsupportedForm(`unsupported memory operand size ${ms}`);
  return (bytes * 8) as Size;
}

const MEM_BYTES = new Map<number, number>([
  [MemorySize.UInt8, 1], [MemorySize.Int8, 1], [MemorySize.UInt16, 2], [MemorySize.Int16, 2],
  [MemorySize.UInt32, 4], [MemorySize.Int32, 4], [MemorySize.UInt64, 8], [MemorySize.Int64, 8],
]);

// ---- the r/m operand forms (ModRM's r/m: a register or memory; SDM vol. 2 2.1.5) --------------------------
// Decoded once into the Op: a register r/m operand into op.d/dsh (or op.s/ssh), a memory one into the address
// fields with op.aux |= AUX_MEM, which operandAccess.ts's readers and writers (and the handlers) test.

/** Operand `n` is an r/m operand: put it in op.d or op.s (register) or the address fields (memory, AUX_MEM). Its size. */
export function decodeRm(ins: Instruction, n: number, op: Op, field: 'd' | 's'): Size {
  if (ins.opKind(n) === OpKind.Memory) {
    setMem(ins, op);
    op.aux |= AUX_MEM;
    return memBits(ins);
  }
  return setReg(ins, n, op, field);
}

/** `reg, r/m` (BSF, POPCNT, IMUL r, r/m, CMOVcc): destination register op.d, source op.s or memory; op.size = the destination's. */
export function decodeRegRm(ins: Instruction, op: Op): void {
  op.size = setReg(ins, 0, op, 'd');
  decodeRm(ins, 1, op, 's');
}

/** The two-operand forms: destination register or memory (r, m), source register, immediate or memory. */
export type BinaryForm = 'rr' | 'ri' | 'rm' | 'mr' | 'mi';

/**
 * The two-operand forms of the ALU and MOV families (and CMPXCHG, XADD): destination r/m, source register or
 * immediate (`rr` `ri` `mr` `mi`), or destination register, source memory (`rm`). Registers go to op.d
 * (destination) and op.s (source), the immediate to op.imm/immh, memory sets AUX_MEM; sets op.size.
 */
export function decodeBinary(ins: Instruction, op: Op): BinaryForm {
  const immSource = isImm(ins.op1Kind);
  if (ins.op0Kind === OpKind.Memory) {
    setMem(ins, op);
    op.aux |= AUX_MEM;
    if (immSource) {
      op.size = memBits(ins);
      setImm(ins, 1, op);
      return 'mi';
    }
    op.size = setReg(ins, 1, op, 's');
    return 'mr';
  }
  op.size = setReg(ins, 0, op, 'd');
  if (immSource) {
    setImm(ins, 1, op);
    return 'ri';
  }
  const memSource = ins.op1Kind === OpKind.Memory;
  decodeRm(ins, 1, op, 's');
  return memSource ? 'rm' : 'rr';
}
