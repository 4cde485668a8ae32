// Executing the r/m operand forms operands.ts decodes, for the handlers written as plain TypeScript (the less
// frequent families; the frequent ones are templates). An r/m operand is memory when op.aux has AUX_MEM (its
// address computed once per execution, into cpu.eaLo/eaHi), else a register. Values are normalised as
// registers are: sizes < 64 in cpu.t0 (8/16 bits zero-extended, 32 bits as int32), 64 bits as cpu.t0 (lo) /
// cpu.t1 (hi). Nothing here allocates.

import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';

/** op.aux bit: the r/m operand is memory (its address is computed once, into cpu.eaLo/eaHi). */
export const AUX_MEM = 1;

/** Read `size` bits at the address already in cpu.eaLo/eaHi into cpu.t0 (cpu.t1). */
export function readAtEa(cpu: Cpu, size: number): void {
  const m = cpu.mmu;
  switch (size) {
    case 8: cpu.t0 = m.read8(cpu.eaLo, cpu.eaHi); break;
    case 16: cpu.t0 = m.read16(cpu.eaLo, cpu.eaHi); break;
    case 32: cpu.t0 = m.read32(cpu.eaLo, cpu.eaHi); break;
    default: cpu.t0 = m.read64(cpu.eaLo, cpu.eaHi); cpu.t1 = m.hiOut; break;
  }
}

/** Write `size` bits of (lo, hi) at the address already in cpu.eaLo/eaHi. */
export function writeAtEa(cpu: Cpu, size: number, lo: number, hi: number): void {
  const m = cpu.mmu;
  switch (size) {
    case 8: m.write8(cpu.eaLo, cpu.eaHi, lo); break;
    case 16: m.write16(cpu.eaLo, cpu.eaHi, lo); break;
    case 32: m.write32(cpu.eaLo, cpu.eaHi, lo); break;
    default: m.write64(cpu.eaLo, cpu.eaHi, lo, hi); break;
  }
}

/** Read an r/m operand (memory, else register r with byte shift sh: 8 for AH..BH) at op.size into cpu.t0 (cpu.t1). */
function readRm(cpu: Cpu, op: Op, r: number, sh: number): void {
  if ((op.aux & AUX_MEM) !== 0) {
    op.ea(cpu, op);
    readAtEa(cpu, op.size);
    return;
  }
  const l = cpu.lo[r];
  switch (op.size) {
    case 8: cpu.t0 = (l >>> sh) & 255; break;
    case 16: cpu.t0 = l & 65535; break;
    case 32: cpu.t0 = l; break;
    default: cpu.t0 = l; cpu.t1 = cpu.hi[r]; break;
  }
}

/**
 * Write (lo, hi) to register r at `size`: 8 and 16 bits merge into the register, 32 bits zero-extend to 64
 * (SDM vol. 1 3.4.1.1), 64 bits write both words.
 */
export function writeReg(cpu: Cpu, r: number, sh: number, size: number, lo: number, hi: number): void {
  switch (size) {
    case 8: cpu.lo[r] = (cpu.lo[r] & ~(255 << sh)) | ((lo & 255) << sh); break;
    case 16: cpu.lo[r] = (cpu.lo[r] & -65536) | (lo & 65535); break;
    case 32: cpu.lo[r] = lo; cpu.hi[r] = 0; break;
    default: cpu.lo[r] = lo; cpu.hi[r] = hi; break;
  }
}

/** Read the r/m *destination* operand (memory, or register op.d) at op.size into cpu.t0 (cpu.t1). */
export function readDst(cpu: Cpu, op: Op): void {
  readRm(cpu, op, op.d, op.dsh);
}

/** Write back to the operand read by readDst (memory address reused from cpu.eaLo/eaHi). */
export function writeDst(cpu: Cpu, op: Op, lo: number, hi: number): void {
  if ((op.aux & AUX_MEM) !== 0) writeAtEa(cpu, op.size, lo, hi);
  else writeReg(cpu, op.d, op.dsh, op.size, lo, hi);
}

/** Read the r/m *source* operand (memory, or register op.s) at op.size into cpu.t0 (cpu.t1). */
export function readSource(cpu: Cpu, op: Op): void {
  readRm(cpu, op, op.s, op.ssh);
}

/** Read a source register at a size (< 64, normalised). */
export function readReg(cpu: Cpu, r: number, shift: number, size: number): number {
  const l = cpu.lo[r];
  return size === 8 ? (l >>> shift) & 255 : size === 16 ? l & 65535 : l;
}
