// Generic read/write of an Op's first operand (register d or memory) for handlers written as plain
// TypeScript (the less frequent families). Values are normalised as registers are: sizes < 64 in cpu.t0
// (8/16 bits zero-extended, 32 bits as int32), 64 bits as cpu.t0 (lo) / cpu.t1 (hi).

import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';

/** op.aux bit: the first operand is memory (its address is computed once, into cpu.eaLo/eaHi). */
export const AUX_MEM = 1;

export function readDst(cpu: Cpu, op: Op): void {
  if ((op.aux & AUX_MEM) !== 0) {
    op.ea(cpu, op);
    const m = cpu.mmu;
    switch (op.size) {
      case 8: cpu.t0 = m.read8(cpu.eaLo, cpu.eaHi); break;
      case 16: cpu.t0 = m.read16(cpu.eaLo, cpu.eaHi); break;
      case 32: cpu.t0 = m.read32(cpu.eaLo, cpu.eaHi); break;
      default: cpu.t0 = m.read64(cpu.eaLo, cpu.eaHi); cpu.t1 = m.hiOut; break;
    }
    return;
  }
  const l = cpu.lo[op.d];
  switch (op.size) {
    case 8: cpu.t0 = (l >>> op.dsh) & 255; break;
    case 16: cpu.t0 = l & 65535; break;
    case 32: cpu.t0 = l; break;
    default: cpu.t0 = l; cpu.t1 = cpu.hi[op.d]; break;
  }
}

/** Write back to the operand read by readDst (memory address reused from cpu.eaLo/eaHi). */
export function writeDst(cpu: Cpu, op: Op, lo: number, hi: number): void {
  if ((op.aux & AUX_MEM) !== 0) {
    const m = cpu.mmu;
    switch (op.size) {
      case 8: m.write8(cpu.eaLo, cpu.eaHi, lo); break;
      case 16: m.write16(cpu.eaLo, cpu.eaHi, lo); break;
      case 32: m.write32(cpu.eaLo, cpu.eaHi, lo); break;
      default: m.write64(cpu.eaLo, cpu.eaHi, lo, hi); break;
    }
    return;
  }
  const d = op.d;
  switch (op.size) {
    case 8: cpu.lo[d] = (cpu.lo[d] & ~(255 << op.dsh)) | ((lo & 255) << op.dsh); break;
    case 16: cpu.lo[d] = (cpu.lo[d] & -65536) | (lo & 65535); break;
    case 32: cpu.lo[d] = lo; cpu.hi[d] = 0; break;
    default: cpu.lo[d] = lo; cpu.hi[d] = hi; break;
  }
}

/**
 * Read an r/m *source* operand (memory when AUX_MEM, else register op.s) at op.size into cpu.t0 (and
 * cpu.t1 for 64 bits), normalised as registers are: 8/16 bits zero-extended, 32 as int32.
 */
export function readSource(cpu: Cpu, op: Op): void {
  const size = op.size;
  if ((op.aux & AUX_MEM) !== 0) {
    op.ea(cpu, op);
    const m = cpu.mmu;
    switch (size) {
      case 8: cpu.t0 = m.read8(cpu.eaLo, cpu.eaHi); break;
      case 16: cpu.t0 = m.read16(cpu.eaLo, cpu.eaHi); break;
      case 32: cpu.t0 = m.read32(cpu.eaLo, cpu.eaHi); break;
      default: cpu.t0 = m.read64(cpu.eaLo, cpu.eaHi); cpu.t1 = m.hiOut; break;
    }
    return;
  }
  const l = cpu.lo[op.s];
  switch (size) {
    case 8: cpu.t0 = (l >>> op.ssh) & 255; break;
    case 16: cpu.t0 = l & 65535; break;
    case 32: cpu.t0 = l; break;
    default: cpu.t0 = l; cpu.t1 = cpu.hi[op.s]; break;
  }
}

/** Read a source register at a size (normalised). */
export function readReg(cpu: Cpu, r: number, shift: number, size: number): number {
  const l = cpu.lo[r];
  return size === 8 ? (l >>> shift) & 255 : size === 16 ? l & 65535 : l;
}

/** 64-bit value of a (lo, hi) pair as BigInt (rare paths only). */
export function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function writeRegBig(cpu: Cpu, r: number, size: number, v: bigint): void {
  const lo = Number(v & 0xffffffffn) | 0;
  const hi = Number((v >> 32n) & 0xffffffffn) | 0;
  switch (size) {
    case 8: cpu.lo[r] = (cpu.lo[r] & -256) | (lo & 255); break;
    case 16: cpu.lo[r] = (cpu.lo[r] & -65536) | (lo & 65535); break;
    case 32: cpu.lo[r] = lo; cpu.hi[r] = 0; break;
    default: cpu.lo[r] = lo; cpu.hi[r] = hi; break;
  }
}
