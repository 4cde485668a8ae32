// Shared by the SSE/SSE2 families: operand decoding into Op fields and 128/64/32-bit operand access.
//
// Op fields: d = destination XMM (or GPR) number, s = source XMM (or GPR) number, imm = imm8, size = the
// memory operand's width in bits, aux = AUX_MEM (the r/m operand is memory) | AUX_ALIGN (a 16-byte aligned
// access is required: #GP(0) otherwise, SDM vol. 1 11.4.4 / table 11-x). A memory source is read into the
// scratch slot XMM 16 (cpu.xmm holds 18 slots), so handlers read lanes uniformly from cpu.xmm.

import { type Instruction, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { MM0_SLOT, checkMmx, checkSse } from '../fpu/fpuState.js';
import { AUX_MEM } from './operandAccess.js';
import { gpr, setMem } from './operands.js';

export { AUX_MEM };
export const AUX_ALIGN = 2;
/**
 * The instruction works on MMX registers (slots MM0_SLOT + i, 64 bits wide): availability is checkMmx's.
 * Lane-wise handlers run on all 16 bytes of the slot anyway (lanes are independent; the slot's upper half
 * is scratch nobody reads); the cross-lane ones (pack, unpack, PMOVMSKB, PEXTRW/PINSRW, MASKMOVQ) read it.
 */
export const AUX_MMX = 4;
export { MM0_SLOT };
/** Slot of a memory source operand, and of a temporary result. */
export const SRC = 16;
export const TMP = 17;

export type H = (cpu: Cpu, op: Op) => void;

/** XMM register number of an iced-x86 register, or -1. */
export function xmmOf(r: Register): number {
  return r >= Register.XMM0 && r <= Register.XMM15 ? r - Register.XMM0 : -1;
}

/** MMX register slot of an iced-x86 register, or -1. */
export function mmOf(r: Register): number {
  return r >= Register.MM0 && r <= Register.MM7 ? MM0_SLOT + r - Register.MM0 : -1;
}

/** Operand `n` as an MMX register into op[field]. */
export function regMm(ins: Instruction, n: number, op: Op, field: 'd' | 's'): boolean {
  if (ins.opKind(n) !== OpKind.Register) return false;
  const x = mmOf(ins.opRegister(n));
  if (x < 0) return false;
  op[field] = x;
  return true;
}

/** Operand `n` as mm/m`bits` into op.s / the memory fields (no alignment: SDM vol. 1 9.6.x); sets AUX_MMX. */
export function rmMm(ins: Instruction, n: number, op: Op, bits: number): boolean {
  op.size = bits;
  op.aux |= AUX_MMX;
  if (ins.opKind(n) === OpKind.Memory) {
    setMem(ins, op);
    op.aux |= AUX_MEM;
    return true;
  }
  return regMm(ins, n, op, 's');
}

/** Availability check of an SSE handler shared with the MMX forms. */
export function avail(cpu: Cpu, op: Op): void {
  if ((op.aux & AUX_MMX) !== 0) checkMmx(cpu);
  else checkSse(cpu);
}

/** Decode operands `n` (register or memory) into op.s / memory fields. Returns false for non-XMM registers. */
export function rmXmm(ins: Instruction, n: number, op: Op, bits: number, aligned: boolean): boolean {
  op.size = bits;
  if (ins.opKind(n) === OpKind.Memory) {
    setMem(ins, op);
    op.aux |= AUX_MEM | (aligned ? AUX_ALIGN : 0);
    return true;
  }
  if (ins.opKind(n) !== OpKind.Register) return false;
  const x = xmmOf(ins.opRegister(n));
  if (x < 0) return false;
  op.s = x;
  return true;
}

export function regXmm(ins: Instruction, n: number, op: Op, field: 'd' | 's'): boolean {
  if (ins.opKind(n) !== OpKind.Register) return false;
  const x = xmmOf(ins.opRegister(n));
  if (x < 0) return false;
  op[field] = x;
  return true;
}

/** A GPR operand (32 or 64 bits) into op[field]; returns its size or 0. */
export function regGpr(ins: Instruction, n: number, op: Op, field: 'd' | 's'): number {
  if (ins.opKind(n) !== OpKind.Register) return 0;
  const g = gpr(ins.opRegister(n));
  if (g === null || g.size < 32) return 0;
  op[field] = g.index;
  return g.size;
}

/** Compute the memory operand's address into cpu.eaLo/eaHi, checking alignment when required. */
export function ea(cpu: Cpu, op: Op): void {
  op.ea(cpu, op);
  if ((op.aux & AUX_ALIGN) !== 0 && (cpu.eaLo & 15) !== 0) throw cpu.fault.set(Vector.GP, 0);
}

/** Read op.size bits of memory into slot `slot` (low lanes; the rest of the slot is zeroed). */
export function readMem(cpu: Cpu, op: Op, slot: number): void {
  ea(cpu, op);
  const m = cpu.mmu;
  const x = cpu.xmm;
  const b = slot * 4;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  switch (op.size) {
    case 128: {
      if ((lo & 0xfff) <= 0xff0) {
        // Within one page: one translation for all 16 bytes.
        const p = m.translateRead(lo, hi);
        const dv = m.dv;
        x[b] = dv.getInt32(p, true);
        x[b + 1] = dv.getInt32(p + 4, true);
        x[b + 2] = dv.getInt32(p + 8, true);
        x[b + 3] = dv.getInt32(p + 12, true);
        return;
      }
      x[b] = m.read64(lo, hi);
      x[b + 1] = m.hiOut;
      const l2 = (lo + 8) | 0;
      x[b + 2] = m.read64(l2, (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
      x[b + 3] = m.hiOut;
      return;
    }
    case 64:
      x[b] = m.read64(lo, hi);
      x[b + 1] = m.hiOut;
      x[b + 2] = 0;
      x[b + 3] = 0;
      return;
    case 32:
      x[b] = m.read32(lo, hi);
      x[b + 1] = 0;
      x[b + 2] = 0;
      x[b + 3] = 0;
      return;
    default:
      x[b] = m.read16(lo, hi);
      x[b + 1] = 0;
      x[b + 2] = 0;
      x[b + 3] = 0;
  }
}

/** The source slot: op.s, or SRC after reading the memory operand. Checks SSE (or MMX) availability. */
export function src(cpu: Cpu, op: Op): number {
  avail(cpu, op);
  if ((op.aux & AUX_MEM) === 0) return op.s;
  readMem(cpu, op, SRC);
  return SRC;
}

/** Write `bits` of slot `slot` to the memory operand (128-bit stores fault before writing anything). */
export function writeMem(cpu: Cpu, op: Op, slot: number, bits: number): void {
  ea(cpu, op);
  const m = cpu.mmu;
  const x = cpu.xmm;
  const b = slot * 4;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  switch (bits) {
    case 128: {
      if ((lo & 0xfff) <= 0xff0) {
        const p = m.translateWrite(lo, hi);
        const dv = m.dv;
        dv.setInt32(p, x[b], true);
        dv.setInt32(p + 4, x[b + 1], true);
        dv.setInt32(p + 8, x[b + 2], true);
        dv.setInt32(p + 12, x[b + 3], true);
        return;
      }
      m.probeWrite(lo, hi, 16);
      m.write64(lo, hi, x[b], x[b + 1]);
      const l2 = (lo + 8) | 0;
      m.write64(l2, (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, x[b + 2], x[b + 3]);
      return;
    }
    case 64:
      m.write64(lo, hi, x[b], x[b + 1]);
      return;
    case 32:
      m.write32(lo, hi, x[b]);
      return;
    default:
      m.write16(lo, hi, x[b] & 0xffff);
  }
}

export function use(op: Op, name: string, fn: H): true {
  op.fn = fn;
  op.name = name;
  return true;
}
