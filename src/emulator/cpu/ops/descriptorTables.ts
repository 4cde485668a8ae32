// Descriptor-table registers: LGDT LIDT SGDT SIDT (exit reason 46) and LTR LLDT STR SLDT (reason 47)
// (SDM vol. 2; exit conditions SDM vol. 3 26.1.3, "descriptor-table exiting").

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Exitable, isCanonical } from '../arch.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { isMem, setMem } from './operands.js';
import { type H, AUX_WORD_MEM, TWO32, gp0, hooked, selectorOperand, use, wordOperand } from './hooked.js';

function readDescriptorTable(cpu: Cpu, op: Op): [number, number, number] {
  op.ea(cpu, op);
  const limit = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  const s = (cpu.eaLo >>> 0) + 2;
  const baseLo = cpu.mmu.read64(s | 0, (cpu.eaHi + (s >= TWO32 ? 1 : 0)) | 0);
  const baseHi = cpu.mmu.hiOut;
  if (!isCanonical(baseHi)) gp0(cpu);
  return [limit, baseLo, baseHi];
}

function writeDescriptorTable(cpu: Cpu, op: Op, limit: number, lo: number, hi: number): void {
  op.ea(cpu, op);
  cpu.mmu.probeWrite(cpu.eaLo, cpu.eaHi, 10);
  cpu.mmu.write16(cpu.eaLo, cpu.eaHi, limit);
  const s = (cpu.eaLo >>> 0) + 2;
  cpu.mmu.write64(s | 0, (cpu.eaHi + (s >= TWO32 ? 1 : 0)) | 0, lo, hi);
}

/** LGDT / LIDT: load the 10-byte limit + base operand into GDTR or IDTR. */
const loadTable = (idt: boolean): H => (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, idt ? Exitable.lidt : Exitable.lgdt, op)) return;
  const [limit, lo, hi] = readDescriptorTable(cpu, op);
  if (idt) {
    cpu.idtrLimit = limit;
    cpu.idtrBaseLo = lo;
    cpu.idtrBaseHi = hi;
  } else {
    cpu.gdtrLimit = limit;
    cpu.gdtrBaseLo = lo;
    cpu.gdtrBaseHi = hi;
  }
};
const lgdt = loadTable(false);
const lidt = loadTable(true);

const sgdt: H = (cpu, op) => {
  if (hooked(cpu, Exitable.sgdt, op)) return;
  writeDescriptorTable(cpu, op, cpu.gdtrLimit, cpu.gdtrBaseLo, cpu.gdtrBaseHi);
};

const sidt: H = (cpu, op) => {
  if (hooked(cpu, Exitable.sidt, op)) return;
  writeDescriptorTable(cpu, op, cpu.idtrLimit, cpu.idtrBaseLo, cpu.idtrBaseHi);
};

/** LTR: load TR from a 16-byte 64-bit TSS descriptor in the GDT and mark it busy (SDM LTR, 7.2.3). */
const ltr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.ltr, op)) return;
  const sel = selectorOperand(cpu, op);
  const index = sel & ~7;
  if (index === 0 || (sel & 4) !== 0 || index + 15 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index);
  const s = (cpu.gdtrBaseLo >>> 0) + index;
  const alo = s | 0;
  const ahi = (cpu.gdtrBaseHi + (s >= TWO32 ? 1 : 0)) | 0;
  // The 16-byte TSS descriptor (SDM 7.2.3): words d0 (limit, base 23:0), d1 (type, base 31:24), d2 (base 63:32).
  const d0 = cpu.readSystem64(alo, ahi);
  const d1 = cpu.mmu.hiOut;
  const d2 = cpu.readSystem64((alo + 8) | 0, (alo >>> 0) + 8 >= TWO32 ? (ahi + 1) | 0 : ahi);
  const type = (d1 >>> 8) & 0x1f; // S bit and type
  if (type !== 0x09) throw cpu.fault.set(Vector.GP, index);
  if (((d1 >>> 15) & 1) === 0) throw cpu.fault.set(Vector.NP, index);
  cpu.tr = sel;
  cpu.trBaseLo = ((d0 >>> 16) | ((d1 & 0xff) << 16) | (d1 & 0xff000000)) | 0;
  cpu.trBaseHi = d2;
  cpu.trLimit = (d0 & 0xffff) | (d1 & 0xf0000);
  // Mark busy (type 0xB).
  const wasUser = cpu.mmu.user;
  if (wasUser) cpu.mmu.setUser(false);
  try {
    cpu.mmu.write8((alo + 5) | 0, (alo >>> 0) + 5 >= TWO32 ? (ahi + 1) | 0 : ahi, ((d1 >>> 8) & 0xff) | 2);
  } finally {
    if (wasUser) cpu.mmu.setUser(true);
  }
};

const lldt: H = (cpu, op) => {
  cpu.requireCpl0();
  const sel = selectorOperand(cpu, op);
  // Only the null LDT is supported (a flat 64-bit kernel has no use for one).
  if ((sel & ~3) !== 0) throw cpu.fault.set(Vector.GP, sel & ~7);
  cpu.ldtr = 0;
};

const storeSelector = (which: 'tr' | 'ldtr'): H => (cpu, op) => {
  const v = which === 'tr' ? cpu.tr : cpu.ldtr;
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    cpu.mmu.write16(cpu.eaLo, cpu.eaHi, v);
  } else {
    cpu.lo[op.d] = v;
    cpu.hi[op.d] = 0;
  }
};

/** Decode LGDT/LIDT/SGDT/SIDT/LTR/LLDT/STR/SLDT; null if `ins` is not one (or an operand form we lack). */
export function decodeDescriptorTables(ins: Instruction, op: Op): boolean | null {
  const m = ins.mnemonic;
  switch (m) {
    case Mnemonic.Lgdt: case Mnemonic.Lidt: case Mnemonic.Sgdt: case Mnemonic.Sidt:
      if (!isMem(ins.op0Kind)) return null;
      setMem(ins, op);
      return m === Mnemonic.Lgdt ? use(op, 'lgdt', lgdt, true) : m === Mnemonic.Lidt ? use(op, 'lidt', lidt, true)
        : m === Mnemonic.Sgdt ? use(op, 'sgdt', sgdt, true) : use(op, 'sidt', sidt, true);
    case Mnemonic.Ltr: case Mnemonic.Lldt: {
      if (!wordOperand(ins, 0, op, 's')) return null;
      return m === Mnemonic.Ltr ? use(op, 'ltr', ltr, true) : use(op, 'lldt', lldt, true);
    }
    case Mnemonic.Str: case Mnemonic.Sldt: {
      if (!wordOperand(ins, 0, op, 'd')) return null;
      return use(op, m === Mnemonic.Str ? 'str' : 'sldt', storeSelector(m === Mnemonic.Str ? 'tr' : 'ldtr'), false);
    }
    default: return null;
  }
}
