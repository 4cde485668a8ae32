// Segment registers: MOV to/from Sreg, PUSH/POP Sreg (SDM vol. 2). In 64-bit mode only FS/GS have bases;
// loading SS or popping it opens an interrupt shadow like STI.

import { type Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { type H, AUX_WORD_MEM, TWO32, selectorOperand, ud, use, wordOperand } from './hooked.js';

const SREG: Partial<Record<Register, number>> = {
  [Register.ES]: 0, [Register.CS]: 1, [Register.SS]: 2, [Register.DS]: 3, [Register.FS]: 4, [Register.GS]: 5,
};

function getSreg(cpu: Cpu, n: number): number {
  return [cpu.es, cpu.cs, cpu.ss, cpu.ds, cpu.fsSel, cpu.gsSel][n];
}

/**
 * Load a data segment register. In 64-bit mode their bases are ignored except FS/GS, whose base a
 * selector load sets from the descriptor; our guests use flat descriptors (base 0) and set the 64-bit
 * bases with WRMSR or SWAPGS, so a selector load zeroes them as a flat descriptor would.
 */
function setSreg(cpu: Cpu, n: number, sel: number, op: Op): void {
  const index = sel & ~7;
  if (n === 2) {
    // SS: a null selector is only allowed at CPL 0 ... 2 in 64-bit mode; RPL must equal CPL.
    if ((sel & 3) !== cpu.cpl || (index === 0 && cpu.cpl === 3)) throw cpu.fault.set(Vector.GP, index);
    cpu.ss = sel;
    cpu.shadowUntil = cpu.icount + op.idx + 2;
    return;
  }
  if (index !== 0 && index + 7 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index);
  switch (n) {
    case 0: cpu.es = sel; break;
    case 3: cpu.ds = sel; break;
    case 4: cpu.fsSel = sel; cpu.fsBaseLo = 0; cpu.fsBaseHi = 0; break;
    case 5: cpu.gsSel = sel; cpu.gsBaseLo = 0; cpu.gsBaseHi = 0; break;
    default: ud(cpu);
  }
}

const movToSreg: H = (cpu, op) => {
  setSreg(cpu, op.t, selectorOperand(cpu, op), op);
};

const movFromSreg: H = (cpu, op) => {
  const v = getSreg(cpu, op.t);
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    cpu.mmu.write16(cpu.eaLo, cpu.eaHi, v);
  } else if (op.size === 16) {
    cpu.lo[op.d] = (cpu.lo[op.d] & -65536) | v;
  } else {
    cpu.lo[op.d] = v;
    cpu.hi[op.d] = 0;
  }
};

const pushSreg: H = (cpu, op) => {
  const v = getSreg(cpu, op.t);
  const L = cpu.lo;
  const H = cpu.hi;
  const sl = (L[4] - 8) | 0;
  const sh = (L[4] >>> 0) < 8 ? (H[4] - 1) | 0 : H[4];
  cpu.mmu.write64(sl, sh, v, 0);
  L[4] = sl;
  H[4] = sh;
};

const popSreg: H = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const v = cpu.mmu.read16(L[4], H[4]);
  setSreg(cpu, op.t, v, op);
  const s = (L[4] >>> 0) + 8;
  L[4] = s | 0;
  if (s >= TWO32) H[4] = (H[4] + 1) | 0;
};

/** Decode MOV Sreg and PUSH/POP Sreg; null if `ins` is not one. */
export function decodeSegments(ins: Instruction, op: Op): boolean | null {
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  switch (ins.mnemonic) {
    case Mnemonic.Mov: {
      const s0 = k0 === OpKind.Register ? SREG[ins.op0Register] : undefined;
      const s1 = k1 === OpKind.Register ? SREG[ins.op1Register] : undefined;
      if (s0 !== undefined) {
        op.t = s0;
        return wordOperand(ins, 1, op, 's') ? use(op, 'mov_to_sreg', movToSreg, true) : null;
      }
      if (s1 !== undefined) {
        op.t = s1;
        return wordOperand(ins, 0, op, 'd') ? use(op, 'mov_from_sreg', movFromSreg, false) : null;
      }
      return null;
    }
    case Mnemonic.Push:
      if (k0 === OpKind.Register && SREG[ins.op0Register] !== undefined) {
        op.t = SREG[ins.op0Register] as number;
        return use(op, 'push_sreg', pushSreg, false);
      }
      return null;
    case Mnemonic.Pop:
      if (k0 === OpKind.Register && SREG[ins.op0Register] !== undefined) {
        op.t = SREG[ins.op0Register] as number;
        return use(op, 'pop_sreg', popSreg, true);
      }
      return null;
    default: return null;
  }
}
