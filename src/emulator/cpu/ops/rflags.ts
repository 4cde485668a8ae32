// HLT, CLI, STI and the RFLAGS instructions: PUSHF POPF CLC STC CMC CLD STD LAHF SAHF (SDM vol. 2).
// HLT can exit; STI and POPF end their block because they can open the interrupt window.

import { type Instruction, Code, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { F, getArith, setArith } from '../flags.js';
import { type H, TWO32, hooked, use } from './hooked.js';

const hlt: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.hlt, op)) return;
  cpu.halted = true;
};

const cli: H = (cpu) => {
  cpu.requireIopl();
  cpu.flagsOther &= ~F.IF;
};

const sti: H = (cpu, op) => {
  cpu.requireIopl();
  if ((cpu.flagsOther & F.IF) === 0) {
    cpu.flagsOther |= F.IF;
    // SDM STI: interrupts stay blocked until the instruction after STI has completed.
    cpu.shadowUntil = cpu.icount + op.idx + 2;
  }
};

const pushf: H = (cpu, op) => {
  // SDM PUSHF: RF and VM are cleared in the pushed image.
  const v = cpu.getRflags() & ~(F.RF | F.VM);
  const L = cpu.lo;
  const H = cpu.hi;
  const bytes = op.size >> 3;
  const sl = (L[4] - bytes) | 0;
  const sh = (L[4] >>> 0) < bytes ? (H[4] - 1) | 0 : H[4];
  if (bytes === 2) cpu.mmu.write16(sl, sh, v);
  else cpu.mmu.write64(sl, sh, v, 0);
  L[4] = sl;
  H[4] = sh;
};

/** Apply a new RFLAGS image under the privilege rules of POPF / IRET (SDM POPF table, IRET). */
export function loadFlags(cpu: Cpu, v: number, mask16: boolean): void {
  const old = cpu.getRflags();
  const iopl = (old >>> 12) & 3;
  let changeable = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT | F.AC | F.ID;
  if (cpu.cpl === 0) changeable |= F.IOPL;
  if (cpu.cpl <= iopl) changeable |= F.IF;
  if (mask16) changeable &= 0xffff;
  const nv = (old & ~changeable) | (v & changeable);
  cpu.setRflags(nv & ~F.RF);
}

const popf: H = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const bytes = op.size >> 3;
  const v = bytes === 2 ? cpu.mmu.read16(L[4], H[4]) : cpu.mmu.read64(L[4], H[4]);
  const wasIf = cpu.flagsOther & F.IF;
  loadFlags(cpu, v, bytes === 2);
  const s = (L[4] >>> 0) + bytes;
  L[4] = s | 0;
  if (s >= TWO32) H[4] = (H[4] + 1) | 0;
  // POPF setting IF opens the interrupt window at the next boundary (no shadow, unlike STI).
  void wasIf;
};

const flagOp = (set: number, clear: number, toggle: number): H => (cpu) => {
  const arith = getArith(cpu);
  const all = (cpu.flagsOther | arith);
  const nv = ((all & ~clear) | set) ^ toggle;
  setArith(cpu, nv);
  cpu.flagsOther = (cpu.flagsOther & ~(F.DF)) | (nv & F.DF);
};

const lahf: H = (cpu) => {
  // AH = SF:ZF:0:AF:0:PF:1:CF (SDM LAHF).
  const f = (getArith(cpu) & (F.SF | F.ZF | F.AF | F.PF | F.CF)) | 2;
  cpu.lo[0] = (cpu.lo[0] & ~0xff00) | (f << 8);
};

const sahf: H = (cpu) => {
  const ah = (cpu.lo[0] >>> 8) & 0xff;
  const keep = getArith(cpu) & F.OF;
  setArith(cpu, keep | (ah & (F.SF | F.ZF | F.AF | F.PF | F.CF)));
};

/** Decode HLT/CLI/STI and the RFLAGS instructions; null if `ins` is not one. */
export function decodeRflags(ins: Instruction, op: Op): boolean | null {
  switch (ins.mnemonic) {
    case Mnemonic.Hlt: return use(op, 'hlt', hlt, true);
    case Mnemonic.Cli: return use(op, 'cli', cli, false);
    case Mnemonic.Sti: return use(op, 'sti', sti, true);
    case Mnemonic.Pushf: case Mnemonic.Pushfq:
      op.size = ins.code === Code.Pushfw ? 16 : 64;
      return use(op, 'pushf', pushf, false);
    case Mnemonic.Popf: case Mnemonic.Popfq:
      op.size = ins.code === Code.Popfw ? 16 : 64;
      return use(op, 'popf', popf, true);
    case Mnemonic.Clc: return use(op, 'clc', flagOp(0, F.CF, 0), false);
    case Mnemonic.Stc: return use(op, 'stc', flagOp(F.CF, 0, 0), false);
    case Mnemonic.Cmc: return use(op, 'cmc', flagOp(0, 0, F.CF), false);
    case Mnemonic.Cld: return use(op, 'cld', flagOp(0, F.DF, 0), false);
    case Mnemonic.Std: return use(op, 'std', flagOp(F.DF, 0, 0), false);
    case Mnemonic.Lahf: return use(op, 'lahf', lahf, false);
    case Mnemonic.Sahf: return use(op, 'sahf', sahf, false);
    default: return null;
  }
}
