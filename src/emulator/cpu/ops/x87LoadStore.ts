// x87 FPU loads and stores: FLD/FILD m16/m32/m64/m80 and ST(i), FST/FSTP m32/m64/m80 and ST(i), FSTPNCE,
// FIST/FISTP/FISTTP m16/m32/m64, the constants (FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ), FXCH
// and FNOP: format conversions exact in 80 bits (SDM vol. 1 8.3 and 4.8.3; vol. 2 FLD/FST/FIST/FISTTP).
// The x87 state helpers and the arithmetic are in x87.ts.

import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { Op } from '../Op.js';
import { Fsw } from '../fpu/fpuState.js';
import {
  DE, F32, F64, F80, type Fmt, IE, INF, NAN, OE, PE, RTZ, UE, ZERO, defaultNaN, packInf, packZero, quiet, roundPack, toInt, unpack,
} from '../fpu/softfloat.js';
import {
  type H, INDEF, beginX87, env, getRaw, isEmpty, loadMem, memOperand, pop, push, report, setRaw,
  setupEnv, sizeOf, stIndex, underflow, unsupported, use, x87Fop,
} from './x87.js';
import { setMem } from './operands.js';

const SF = Fsw.SF;
const C1 = Fsw.C1;

/** FLD m32/m64/m80/m16int/m32int/m64int. */
const fldMem: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  const v = loadMem(cpu, op, op.t === 1);
  cpu.fsw &= ~C1;
  // A full stack is reported alone (no IE/DE of the loaded value).
  // An unmasked denormal-operand exception still loads the value (host); an unmasked invalid one does not.
  if ((cpu.ftw & (1 << ((cpu.fpTop - 1) & 7))) === 0) {
    report(cpu, env.flags);
    if ((env.flags & IE & ~cpu.fcw) !== 0) return;
  }
  push(cpu, v);
};

const fldReg: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, op.s)) {
    if (!underflow(cpu)) return;
    push(cpu, INDEF);
    cpu.fsw &= ~C1; // the underflow is what is reported, also onto a full stack (host)
    return;
  }
  push(cpu, getRaw(cpu, op.s));
};

/** FST/FSTP m32/m64/m80 (op.t 1 pops). */
const fstMem: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  memOperand(cpu, op);
  const m = cpu.mmu;
  let raw: bigint;
  if (isEmpty(cpu, 0)) {
    if (!underflow(cpu)) return;
    raw = op.size === 80 ? INDEF : defaultNaN(op.size === 32 ? F32 : F64);
  } else if (op.size === 80) {
    raw = getRaw(cpu, 0);
    cpu.fsw &= ~C1;
  } else {
    const f = op.size === 32 ? F32 : F64;
    raw = narrow(getRaw(cpu, 0), f);
    cpu.fsw &= ~C1;
    // An unmasked overflow or underflow stores nothing to memory and does not pop (SDM vol. 1 4.9.1.4); no
    // result, so no PE and no C1 (host).
    if ((env.flags & ~cpu.fcw & (OE | UE)) !== 0) {
      report(cpu, env.flags & ~PE);
      return;
    }
    if ((env.flags & PE) !== 0 && env.roundedUp) cpu.fsw |= C1;
    if (!report(cpu, env.flags)) return;
  }
  const lo = cpu.eaLo, hi = cpu.eaHi;
  if (op.size === 32) m.write32(lo, hi, Number(raw) | 0);
  else if (op.size === 64) m.write64(lo, hi, Number(raw & 0xffffffffn) | 0, Number(raw >> 32n) | 0);
  else {
    m.probeWrite(lo, hi, 10);
    m.write64(lo, hi, Number(raw & 0xffffffffn) | 0, Number((raw >> 32n) & 0xffffffffn) | 0);
    const l2 = (lo + 8) | 0;
    m.write16(l2, (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, Number(raw >> 64n) & 0xffff);
  }
  if (op.t === 1) pop(cpu);
};

/** 80 bits -> m32/m64 with RC rounding (no PC), NaN payload truncated, SNaN -> IE. */
export function narrow(raw: bigint, f: Fmt): bigint {
  const a = unpack(raw, F80, null);
  if (a.kind === NAN) {
    if (a.snan) env.flags |= IE;
    const frac = (raw & ((1n << 63n) - 1n)) >> BigInt(64 - f.p);
    return quiet(packInf(a.sign, f) | frac, f);
  }
  if (unsupported(raw)) {
    env.flags |= IE;
    return defaultNaN(f);
  }
  if (a.kind === ZERO) return packZero(a.sign, f);
  if (a.kind === INF) return packInf(a.sign, f);
  return roundPack(a.sign, a.m, a.e, f, env); // no DE for a denormal source (host)
}

/** FNOP: a non-control x87 instruction that does nothing else (FOP/FIP updated, pending exceptions taken). */
const fnop: H = (cpu, op) => {
  beginX87(cpu, op);
};

const fstpnce: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (!isEmpty(cpu, 0)) setRaw(cpu, op.d, getRaw(cpu, 0));
  pop(cpu);
};

const fstReg: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, 0)) {
    if (!underflow(cpu)) return;
    setRaw(cpu, op.d, INDEF);
  } else setRaw(cpu, op.d, getRaw(cpu, 0));
  if (op.t === 1) pop(cpu);
};

/** FIST/FISTP/FISTTP m16/m32/m64: op.t bit 0 pops, bit 1 truncates. */
const fist: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  memOperand(cpu, op);
  let v: bigint | null = null;
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, 0)) {
    if (!underflow(cpu)) return;
  } else {
    const a = unpack(getRaw(cpu, 0), F80, null);
    if (a.kind !== NAN && a.kind !== INF && !unsupported(a.raw)) {
      v = toInt(a, op.size, (op.t & 2) !== 0 ? RTZ : env.rc, env);
      if ((env.flags & PE) !== 0 && env.roundedUp) cpu.fsw |= C1;
    }
    if (v === null) env.flags |= IE;
    if (!report(cpu, env.flags)) return;
  }
  if (v === null) v = -(1n << BigInt(op.size - 1));
  const m = cpu.mmu;
  if (op.size === 16) m.write16(cpu.eaLo, cpu.eaHi, Number(BigInt.asUintN(16, v)));
  else if (op.size === 32) m.write32(cpu.eaLo, cpu.eaHi, Number(BigInt.asIntN(32, v)));
  else m.write64(cpu.eaLo, cpu.eaHi, Number(BigInt.asUintN(32, v)) | 0, Number(BigInt.asIntN(32, v >> 32n)));
  if ((op.t & 1) !== 0) pop(cpu);
};

// Constants as 128-bit significands (value = m * 2^e), rounded per FCW.RC (SDM FLD1/FLDL2T/...).
const CONSTS: Array<[bigint, number]> = [
  [1n, 0], // FLD1
  [0xd49a784bcd1b8afe492bf6ff4dafdb4dn, -126], // log2(10)
  [0xb8aa3b295c17f0bbbe87fed0691d3e89n, -127], // log2(e)
  [0xc90fdaa22168c234c4c6628b80dc1cd1n, -126], // pi
  [0x9a209a84fbcff7988f8959ac0b7c9178n, -129], // log10(2)
  [0xb17217f7d1cf79abc9e3b39803f2f6afn, -128], // ln(2)
];

const fldConst: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  cpu.fsw &= ~C1;
  let v: bigint;
  if (op.imm === 6) v = packZero(0, F80);
  else {
    const [m, e] = CONSTS[op.imm];
    v = roundPack(0, m, e, F80, env);
  }
  push(cpu, v);
};

const fxch: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, 0) || isEmpty(cpu, op.s)) {
    if (!underflow(cpu)) return;
    if (isEmpty(cpu, 0)) setRaw(cpu, 0, INDEF);
    if (isEmpty(cpu, op.s)) setRaw(cpu, op.s, INDEF);
  }
  const a = getRaw(cpu, 0);
  setRaw(cpu, 0, getRaw(cpu, op.s));
  setRaw(cpu, op.s, a);
};

// ---- decoding ------------------------------------------------------------------------------------------------

export function decodeX87LoadStore(ins: Instruction, op: Op): boolean {
  if (!decodeForms(ins, op)) return false;
  op.aux = x87Fop(ins);
  return true;
}

function decodeForms(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const code = ins.code;
  const mem = ins.opCount > 0 && ins.op0Kind === OpKind.Memory;
  switch (m) {
    case Mnemonic.Fld: case Mnemonic.Fild:
      if (mem) {
        const sz = sizeOf(code);
        setMem(ins, op);
        op.size = sz.bits;
        op.t = sz.int ? 1 : 0;
        return use(op, 'fld', fldMem);
      }
      op.s = stIndex(ins.op0Register);
      return use(op, 'fld st', fldReg);
    case Mnemonic.Fnop: return use(op, 'fnop', fnop);
    // FSTPNCE (D9 D8+i): FSTP ST(i) with "no check for empty": with ST(0) empty it only pops (host).
    case Mnemonic.Fstpnce:
      op.d = stIndex(ins.op0Register);
      return use(op, 'fstpnce', fstpnce);
    case Mnemonic.Fst: case Mnemonic.Fstp:
      op.t = m === Mnemonic.Fst ? 0 : 1;
      if (mem) {
        setMem(ins, op);
        op.size = sizeOf(code).bits;
        return use(op, 'fst', fstMem);
      }
      op.d = stIndex(ins.op0Register);
      return use(op, 'fst st', fstReg);
    case Mnemonic.Fist: case Mnemonic.Fistp: case Mnemonic.Fisttp:
      setMem(ins, op);
      op.size = sizeOf(code).bits;
      op.t = (m === Mnemonic.Fist ? 0 : 1) | (m === Mnemonic.Fisttp ? 2 : 0);
      return use(op, 'fist', fist);
    case Mnemonic.Fld1: op.imm = 0; return use(op, 'fld1', fldConst);
    case Mnemonic.Fldl2t: op.imm = 1; return use(op, 'fldl2t', fldConst);
    case Mnemonic.Fldl2e: op.imm = 2; return use(op, 'fldl2e', fldConst);
    case Mnemonic.Fldpi: op.imm = 3; return use(op, 'fldpi', fldConst);
    case Mnemonic.Fldlg2: op.imm = 4; return use(op, 'fldlg2', fldConst);
    case Mnemonic.Fldln2: op.imm = 5; return use(op, 'fldln2', fldConst);
    case Mnemonic.Fldz: op.imm = 6; return use(op, 'fldz', fldConst);
    case Mnemonic.Fxch:
      op.s = ins.opCount > 1 ? stIndex(ins.op1Register) : 1;
      return use(op, 'fxch', fxch);
    default:
      return false;
  }
}
