// Port I/O: IN, OUT, INS, OUTS (SDM vol. 2). op.aux holds the low bits of the I/O exit qualification
// (SDM vol. 3 28.2.1 table 28-5: vmx/qualification.ts IoQual); the port of the immediate forms is in op.imm.
// Device ports are reached through cpu.io (the machine's one I/O bus).

import { type Instruction, Mnemonic, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { F } from '../flags.js';
import { IoQual } from '../../vmx/qualification.js';
import { isImm } from './operands.js';
import { CHUNK } from './string.js';
import { type H, TWO32, hooked, set32, use } from './hooked.js';

/** The port of a decoded I/O instruction: its immediate (IN/OUT imm8) or DX. */
export function ioPort(cpu: Cpu, op: Op): number {
  return (op.aux & IoQual.IMMEDIATE) !== 0 ? op.imm : cpu.lo[2] & 0xffff;
}

/** The access size in bytes (1, 2 or 4) of a decoded I/O instruction. */
export function ioBytes(op: Op): number {
  return (op.aux & IoQual.SIZE_MASK) + 1;
}

function portIn(cpu: Cpu, port: number, bytes: number): number {
  const io = cpu.io;
  if (io === null) return bytes === 1 ? 0xff : bytes === 2 ? 0xffff : -1;
  return io.portIn(port, bytes);
}

function portOut(cpu: Cpu, port: number, bytes: number, v: number): void {
  if (cpu.io !== null) cpu.io.portOut(port, bytes, v);
}

const inHandler: H = (cpu, op) => {
  cpu.requireIoPermission(ioPort(cpu, op), ioBytes(op));
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = ioBytes(op);
  cpu.ioIcount = cpu.icount + op.idx;
  const v = portIn(cpu, ioPort(cpu, op), bytes);
  const L = cpu.lo;
  if (bytes === 1) L[0] = (L[0] & -256) | (v & 255);
  else if (bytes === 2) L[0] = (L[0] & -65536) | (v & 65535);
  else set32(cpu, 0, v);
};

const outHandler: H = (cpu, op) => {
  cpu.requireIoPermission(ioPort(cpu, op), ioBytes(op));
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = ioBytes(op);
  cpu.ioIcount = cpu.icount + op.idx;
  const l = cpu.lo[0];
  portOut(cpu, ioPort(cpu, op), bytes, bytes === 1 ? l & 255 : bytes === 2 ? l & 65535 : l >>> 0);
};

function stepReg(cpu: Cpu, r: number, d: number): void {
  const s = (cpu.lo[r] >>> 0) + d;
  cpu.lo[r] = s | 0;
  if (s >= TWO32) cpu.hi[r] = (cpu.hi[r] + 1) | 0;
  else if (s < 0) cpu.hi[r] = (cpu.hi[r] - 1) | 0;
}

/** INS/OUTS (SDM: "INS/INSB/INSW/INSD", "OUTS"): one element, or REP in chunks like the other string ops. */
const stringIo: H = (cpu, op) => {
  cpu.requireIoPermission(cpu.lo[2] & 0xffff, ioBytes(op));
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = ioBytes(op);
  const isIn = (op.aux & IoQual.DIRECTION_IN) !== 0;
  const rep = (op.aux & IoQual.REP) !== 0;
  const d = (cpu.flagsOther & F.DF) !== 0 ? -bytes : bytes;
  const port = cpu.lo[2] & 0xffff;
  const m = cpu.mmu;
  cpu.ioIcount = cpu.icount + op.idx;
  for (let n = 0; n < (rep ? CHUNK : 1); n++) {
    if (rep && (cpu.lo[1] | cpu.hi[1]) === 0) return;
    if (isIn) {
      // The destination must be writable before the port is read (SDM INS: faults before the input).
      const lo = cpu.lo[7];
      const hi = cpu.hi[7];
      m.probeWrite(lo, hi, bytes);
      const v = portIn(cpu, port, bytes);
      if (bytes === 1) m.write8(lo, hi, v);
      else if (bytes === 2) m.write16(lo, hi, v);
      else m.write32(lo, hi, v);
      stepReg(cpu, 7, d);
    } else {
      let lo = cpu.lo[6];
      let hi = cpu.hi[6];
      if (op.seg !== 0) {
        const s = (lo >>> 0) + ((op.seg === 1 ? cpu.fsBaseLo : cpu.gsBaseLo) >>> 0);
        hi = (hi + (op.seg === 1 ? cpu.fsBaseHi : cpu.gsBaseHi) + (s >= TWO32 ? 1 : 0)) | 0;
        lo = s | 0;
      }
      const v = bytes === 1 ? m.read8(lo, hi) : bytes === 2 ? m.read16(lo, hi) : m.read32(lo, hi) >>> 0;
      portOut(cpu, port, bytes, v);
      stepReg(cpu, 6, d);
    }
    if (rep) {
      const l = (cpu.lo[1] - 1) | 0;
      if (l === -1) cpu.hi[1] = (cpu.hi[1] - 1) | 0;
      cpu.lo[1] = l;
    }
  }
  if (rep && (cpu.lo[1] | cpu.hi[1]) !== 0) cpu.rip = op.addr;
};

function ioSize(reg: Register): number {
  return reg === Register.AL ? 1 : reg === Register.AX ? 2 : 4;
}

/** Decode IN/OUT/INS/OUTS (all end their block: they can exit); null if `ins` is not one. */
export function decodePortIo(ins: Instruction, op: Op): boolean | null {
  const m = ins.mnemonic;
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  switch (m) {
    case Mnemonic.In: {
      op.aux = ioSize(ins.op0Register) - 1 | IoQual.DIRECTION_IN;
      if (isImm(k1)) {
        op.aux |= IoQual.IMMEDIATE;
        op.imm = ins.immediate8;
      }
      op.size = (ioSize(ins.op0Register)) * 8;
      return use(op, 'in', inHandler, true);
    }
    case Mnemonic.Out: {
      op.aux = ioSize(ins.op1Register) - 1;
      if (isImm(k0)) {
        op.aux |= IoQual.IMMEDIATE;
        op.imm = ins.immediate8;
      }
      op.size = ioSize(ins.op1Register) * 8;
      return use(op, 'out', outHandler, true);
    }
    case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd:
    case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd: {
      const bytes = m === Mnemonic.Insb || m === Mnemonic.Outsb ? 1 : m === Mnemonic.Insw || m === Mnemonic.Outsw ? 2 : 4;
      const isIn = m === Mnemonic.Insb || m === Mnemonic.Insw || m === Mnemonic.Insd;
      op.aux = (bytes - 1) | IoQual.STRING | (isIn ? IoQual.DIRECTION_IN : 0) |
        (ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix ? IoQual.REP : 0);
      op.size = bytes * 8;
      const seg = ins.segmentPrefix;
      op.seg = !isIn && seg === Register.FS ? 1 : !isIn && seg === Register.GS ? 2 : 0;
      return use(op, isIn ? 'ins' : 'outs', stringIo, true);
    }
    default: return null;
  }
}
