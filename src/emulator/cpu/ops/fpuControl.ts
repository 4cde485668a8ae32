// x87/SSE state and control instructions: FXSAVE/FXRSTOR (and the 64-bit forms), LDMXCSR/STMXCSR, FNINIT,
// FWAIT, FNCLEX, FLDCW/FNSTCW, FNSTSW, CLFLUSH/CLFLUSHOPT (no caches are modelled: only the access check).
// Availability per CR0.EM/MP/TS and CR4.OSFXSR is in fpu/fpuState.ts.

import { type Instruction, Code, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { Cr0 } from '../arch.js';
import { Vector } from '../faults.js';
import {
  checkPendingX87, checkSse, checkX87, fpuInit, fswWord, fwait, fxrstor, fxsave, loadEnv, setMxcsr, storeEnv, Fsw,
} from '../fpu/fpuState.js';
import { setMem } from './operands.js';

type H = (cpu: Cpu, op: Op) => void;

/** FXSAVE/FXRSTOR: #UD with CR0.EM, #NM with CR0.TS (SDM FXSAVE "Protected Mode Exceptions"). */
function checkFx(cpu: Cpu): void {
  if ((cpu.cr0 & Cr0.EM) !== 0) throw cpu.fault.set(Vector.UD, 0);
  if ((cpu.cr0 & Cr0.TS) !== 0) throw cpu.fault.set(Vector.NM, 0);
}

const fxsaveOp: H = (cpu, op) => {
  checkFx(cpu);
  op.ea(cpu, op);
  fxsave(cpu, cpu.eaLo, cpu.eaHi, op.aux === 1);
};

const fxrstorOp: H = (cpu, op) => {
  checkFx(cpu);
  op.ea(cpu, op);
  fxrstor(cpu, cpu.eaLo, cpu.eaHi, op.aux === 1);
};

const ldmxcsr: H = (cpu, op) => {
  checkSse(cpu);
  op.ea(cpu, op);
  setMxcsr(cpu, cpu.mmu.read32(cpu.eaLo, cpu.eaHi));
};

const stmxcsr: H = (cpu, op) => {
  checkSse(cpu);
  op.ea(cpu, op);
  cpu.mmu.write32(cpu.eaLo, cpu.eaHi, cpu.mxcsr);
};

const fninit: H = (cpu) => {
  checkX87(cpu);
  fpuInit(cpu);
};

const fwaitOp: H = (cpu) => {
  fwait(cpu);
};

const fnclex: H = (cpu) => {
  checkX87(cpu);
  // Clears PE UE OE ZE DE IE, SF, ES and B (SDM FCLEX); C0-C3 undefined, kept.
  cpu.fsw &= ~(0x3f | Fsw.SF | Fsw.ES | Fsw.B);
};

const fldcw: H = (cpu, op) => {
  checkX87(cpu);
  checkPendingX87(cpu);
  op.ea(cpu, op);
  const v = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  cpu.fcw = (v & 0x1f3f) | 0x40;
  updateEs(cpu);
};

/** ES (and B) follow "an unmasked exception flag is set" (SDM vol. 1 8.1.3.1). */
export function updateEs(cpu: Cpu): void {
  if ((cpu.fsw & ~cpu.fcw & 0x3f) !== 0) cpu.fsw |= Fsw.ES | Fsw.B;
  else cpu.fsw &= ~(Fsw.ES | Fsw.B);
}

const fnstcw: H = (cpu, op) => {
  checkX87(cpu);
  op.ea(cpu, op);
  cpu.mmu.write16(cpu.eaLo, cpu.eaHi, cpu.fcw);
};

const fnstswMem: H = (cpu, op) => {
  checkX87(cpu);
  op.ea(cpu, op);
  cpu.mmu.write16(cpu.eaLo, cpu.eaHi, fswWord(cpu));
};

const fnstswAx: H = (cpu) => {
  checkX87(cpu);
  cpu.lo[0] = (cpu.lo[0] & -65536) | fswWord(cpu);
};

/** FNSTENV / FSTENV (op.t 1: the waiting form), then all exceptions masked (SDM FSTENV). */
const fstenv: H = (cpu, op) => {
  checkX87(cpu);
  if (op.t === 1) checkPendingX87(cpu);
  op.ea(cpu, op);
  storeEnv(cpu, cpu.eaLo, cpu.eaHi, false, op.size === 16);
  cpu.fcw |= 0x3f;
  updateEs(cpu);
};

/** FNSAVE / FSAVE (op.t 1), then FNINIT (SDM FSAVE). */
const fsave: H = (cpu, op) => {
  checkX87(cpu);
  if (op.t === 1) checkPendingX87(cpu);
  op.ea(cpu, op);
  storeEnv(cpu, cpu.eaLo, cpu.eaHi, true, op.size === 16);
  fpuInit(cpu);
};

/** FLDENV (op.t 0) / FRSTOR (1). */
const fldenv: H = (cpu, op) => {
  checkX87(cpu);
  checkPendingX87(cpu); // a waiting instruction (host)
  op.ea(cpu, op);
  loadEnv(cpu, cpu.eaLo, cpu.eaHi, op.t === 1, op.size === 16);
};

/** FWAIT then `fn` (FINIT, FCLEX, FSTCW, FSTSW and the other waiting forms). */
const waitingForms = new Map<H, H>();
function waiting(fn: H): H {
  let w = waitingForms.get(fn);
  if (w === undefined) {
    w = (cpu, op) => {
      fwait(cpu);
      fn(cpu, op);
    };
    waitingForms.set(fn, w);
  }
  return w;
}

const fnnop: H = (cpu) => {
  checkX87(cpu);
};

/** CLFLUSH: faults as a byte read would (SDM CLFLUSH: treated as a read for permission checks). */
const clflush: H = (cpu, op) => {
  op.ea(cpu, op);
  cpu.mmu.read8(cpu.eaLo, cpu.eaHi);
};

function use(op: Op, name: string, fn: H): boolean {
  op.fn = fn;
  op.name = name;
  return true;
}

/** Decode a state/control instruction; null if not one. Returns true (ends the block: CR-dependent, rare). */
export function decodeFpuControl(ins: Instruction, op: Op): boolean | null {
  const m = ins.mnemonic;
  const mem = ins.op0Kind === OpKind.Memory;
  switch (m) {
    case Mnemonic.Fxsave: case Mnemonic.Fxsave64: case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64:
      setMem(ins, op);
      op.aux = m === Mnemonic.Fxsave64 || m === Mnemonic.Fxrstor64 ? 1 : 0;
      return m === Mnemonic.Fxsave || m === Mnemonic.Fxsave64 ? use(op, 'fxsave', fxsaveOp) : use(op, 'fxrstor', fxrstorOp);
    case Mnemonic.Ldmxcsr: setMem(ins, op); return use(op, 'ldmxcsr', ldmxcsr);
    case Mnemonic.Stmxcsr: setMem(ins, op); return use(op, 'stmxcsr', stmxcsr);
    case Mnemonic.Fninit: return use(op, 'fninit', fninit);
    // The waiting forms (FWAIT + the no-wait one, which iced-x86 decodes as one instruction) check for a
    // pending exception first (op.t = 1).
    case Mnemonic.Finit: op.t = 1; return use(op, 'finit', waiting(fninit));
    case Mnemonic.Fclex: op.t = 1; return use(op, 'fclex', waiting(fnclex));
    case Mnemonic.Fstcw: setMem(ins, op); return use(op, 'fstcw', waiting(fnstcw));
    case Mnemonic.Fstsw:
      if (mem) {
        setMem(ins, op);
        return use(op, 'fstsw', waiting(fnstswMem));
      }
      if (ins.op0Register !== Register.AX) return null;
      return use(op, 'fstsw ax', waiting(fnstswAx));
    // 8087/80287 instructions a 387 and later ignore (SDM vol. 1 8.x: FENI, FDISI, FSETPM are no-ops).
    case Mnemonic.Fneni: case Mnemonic.Fndisi: case Mnemonic.Fnsetpm: return use(op, 'fneni', fnnop);
    case Mnemonic.Feni: case Mnemonic.Fdisi: case Mnemonic.Fsetpm: return use(op, 'feni', waiting(fnnop));
    case Mnemonic.Wait: return use(op, 'fwait', fwaitOp);
    case Mnemonic.Fnclex: return use(op, 'fnclex', fnclex);
    case Mnemonic.Fldcw: setMem(ins, op); return use(op, 'fldcw', fldcw);
    case Mnemonic.Fnstcw: setMem(ins, op); return use(op, 'fnstcw', fnstcw);
    case Mnemonic.Fnstsw:
      if (mem) {
        setMem(ins, op);
        return use(op, 'fnstsw', fnstswMem);
      }
      if (ins.op0Register !== Register.AX) return null;
      return use(op, 'fnstsw ax', fnstswAx);
    // The 32-bit environment formats (28 and 108 bytes) and, with an operand-size prefix, the 16-bit ones
    // (14 and 94 bytes): op.size 16.
    case Mnemonic.Fnstenv: case Mnemonic.Fstenv: case Mnemonic.Fnsave: case Mnemonic.Fsave:
    case Mnemonic.Fldenv: case Mnemonic.Frstor: {
      if (!mem) return null;
      setMem(ins, op);
      const n = Code[ins.code] ?? '';
      op.size = n.endsWith('_m14byte') || n.endsWith('_m94byte') ? 16 : 32;
      if (m === Mnemonic.Fldenv || m === Mnemonic.Frstor) {
        op.t = m === Mnemonic.Frstor ? 1 : 0;
        return use(op, m === Mnemonic.Frstor ? 'frstor' : 'fldenv', fldenv);
      }
      op.t = m === Mnemonic.Fstenv || m === Mnemonic.Fsave ? 1 : 0;
      return m === Mnemonic.Fnstenv || m === Mnemonic.Fstenv ? use(op, 'fnstenv', fstenv) : use(op, 'fnsave', fsave);
    }
    case Mnemonic.Clflush: case Mnemonic.Clflushopt: setMem(ins, op); return use(op, 'clflush', clflush);
    default: return null;
  }
}

