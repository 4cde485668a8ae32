// x87 FPU: the shared state helpers (stack, TOP, tags, environment from FCW, fault reporting, memory operand
// loads, FOP), the arithmetic FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR (memory, register and pop forms, FIxxx integer
// forms), FCHS, FABS, FSQRT, FRNDINT, FCOM/FCOMP/FCOMPP/FUCOM*/FCOMI*/FUCOMI*/FICOM*, FTST,
// FINCSTP/FDECSTP/FFREE. Exact in 80 bits through fpu/softfloat.ts (never JavaScript doubles), with precision
// and rounding control, the stack fault rules (IE+SF, C1), masked responses, and deferred #MF for unmasked
// exceptions (SDM vol. 1 chapter 8). Every non-control instruction records FOP, FIP and (with a memory
// operand) FDP. Loads, stores, constants and FXCH are in x87LoadStore.ts; FXAM, FSCALE, FPREM*, FXTRACT,
// FCMOVcc, FBLD/FBSTP in x87Special.ts.

import { type Instruction, Code, CodeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_EAGER } from '../flags.js';
import { checkPendingX87, checkX87, Fsw } from '../fpu/fpuState.js';
import {
  DE, Env, F32, F64, F80, type Fmt, IE, INF, NAN, OE, PE, UE, type Val, ZE, ZERO, addVals, compareVals, defaultNaN, divVals,
  fromInt, mulVals, packInf, packZero, quiet, roundPack, sqrtVal, toInt, unpack,
} from '../fpu/softfloat.js';
import { gpr, setMem } from './operands.js';

export type H = (cpu: Cpu, op: Op) => void;
const SF = Fsw.SF;
const C1 = Fsw.C1;

export const env = new Env();
export const INDEF = defaultNaN(F80);

export function beginX87(cpu: Cpu, op: Op): void {
  checkX87(cpu);
  checkPendingX87(cpu);
  cpu.fop = op.aux;
  cpu.fcs = cpu.cs;
  cpu.fipLo = op.addr % 4294967296 | 0;
  cpu.fipHi = Math.floor(op.addr / 4294967296) | 0;
}

export function setupEnv(cpu: Cpu): void {
  env.rc = (cpu.fcw >> 10) & 3;
  env.ftz = false;
  env.daz = false;
  // Unmasked overflow/underflow deliver the bias-adjusted result to a register (softfloat's biasAdjust);
  // stores to memory are suppressed instead (fstMem).
  env.uMasked = (cpu.fcw & UE) !== 0;
  env.oMasked = (cpu.fcw & OE) !== 0;
  env.biasAdjust = true;
  env.flags = 0;
  env.roundedUp = false;
}

/** Precision control bits of the significand (PC 0: 24, 2: 53, 3: 64; 1 is reserved and acts as 64). */
export function precision(cpu: Cpu): number {
  const pc = (cpu.fcw >> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

export function phys(cpu: Cpu, i: number): number {
  return (cpu.fpTop + i) & 7;
}

export function isEmpty(cpu: Cpu, i: number): boolean {
  return (cpu.ftw & (1 << phys(cpu, i))) === 0;
}

export function getRaw(cpu: Cpu, i: number): bigint {
  const r = phys(cpu, i);
  return (BigInt(cpu.fpe[r] & 0xffff) << 64n) | (BigInt(cpu.fpm[4 * r + 1] >>> 0) << 32n) | BigInt(cpu.fpm[4 * r] >>> 0);
}

export function setRaw(cpu: Cpu, i: number, v: bigint): void {
  const r = phys(cpu, i);
  cpu.fpm[4 * r] = Number(v & 0xffffffffn) | 0;
  cpu.fpm[4 * r + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
  cpu.fpe[r] = Number((v >> 64n) & 0xffffn);
  cpu.ftw |= 1 << r;
}

export function pop(cpu: Cpu): void {
  cpu.ftw &= ~(1 << cpu.fpTop);
  cpu.fpTop = (cpu.fpTop + 1) & 7;
}

/**
 * Merge exception flags into FSW. Returns false when an unmasked exception must suppress the result
 * (invalid, zero divide, denormal are reported before any store; SDM 8.5).
 */
export function report(cpu: Cpu, flags: number): boolean {
  if (flags === 0) return true;
  // An unmasked pre-computation exception stops the operation: the post-computation flags (OE, UE, PE)
  // are not reported (as measured on the host).
  if ((flags & ~cpu.fcw & (IE | ZE | DE)) !== 0) flags &= IE | ZE | DE | SF;
  cpu.fsw |= flags & 0x7f;
  const unmasked = flags & ~cpu.fcw & 0x3f;
  if (unmasked !== 0) cpu.fsw |= Fsw.ES | Fsw.B;
  return (unmasked & (IE | ZE | DE)) === 0;
}

/** Stack underflow (reading an empty register): IE + SF, C1 = 0. Returns true if the masked response applies. */
export function underflow(cpu: Cpu): boolean {
  cpu.fsw &= ~C1;
  return report(cpu, IE | SF);
}

/** Push a value (stack overflow when ST7 is not empty: IE + SF, C1 = 1, masked response pushes indefinite). */
export function push(cpu: Cpu, v: bigint): void {
  const r = (cpu.fpTop - 1) & 7;
  if ((cpu.ftw & (1 << r)) !== 0) {
    cpu.fsw |= C1;
    if (!report(cpu, IE | SF)) return;
    v = INDEF;
  }
  cpu.fpTop = r;
  setRaw(cpu, 0, v);
}

/** Compute the memory operand's address into cpu.eaLo/eaHi and record it as the last x87 data pointer (FDP/FDS). */
export function memOperand(cpu: Cpu, op: Op): void {
  op.ea(cpu, op);
  cpu.fdpLo = cpu.eaLo;
  cpu.fdpHi = cpu.eaHi;
  cpu.fds = cpu.ds;
}

/** Read a memory operand of op.size bits as an 80-bit value (exact); floating formats raise IE (SNaN) / DE. */
export function loadMem(cpu: Cpu, op: Op, int: boolean): bigint {
  memOperand(cpu, op);
  loadedSnan = false;
  const m = cpu.mmu;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  switch (int ? 1 : 0) {
    case 1: { // integer m16/m32/m64
      let v: bigint;
      if (op.size === 16) v = BigInt((m.read16(lo, hi) << 16) >> 16);
      else if (op.size === 32) v = BigInt(m.read32(lo, hi));
      else {
        const l = m.read64(lo, hi);
        v = (BigInt(m.hiOut) << 32n) | BigInt(l >>> 0);
      }
      return fromInt(v, F80, env);
    }
    default: {
      if (op.size === 80) {
        const l = m.read64(lo, hi);
        const h = m.hiOut;
        const l2 = (lo + 8) | 0;
        const e = m.read16(l2, (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
        return (BigInt(e) << 64n) | (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
      }
      const f = op.size === 32 ? F32 : F64;
      let raw: bigint;
      if (op.size === 32) raw = BigInt(m.read32(lo, hi) >>> 0);
      else {
        const l = m.read64(lo, hi);
        raw = (BigInt(m.hiOut >>> 0) << 32n) | BigInt(l >>> 0);
      }
      return widen(raw, f);
    }
  }
}

/** The last value widen() converted was a signalling NaN (arithMem's NaN choice needs it). */
let loadedSnan = false;

/** m32/m64 -> 80 bits, exactly; SNaN -> IE and quieted, denormal -> DE (SDM FLD). */
export function widen(raw: bigint, f: Fmt): bigint {
  const a = unpack(raw, f, null);
  loadedSnan = a.kind === NAN && a.snan;
  if (a.kind === NAN) {
    if (a.snan) env.flags |= IE;
    const frac = raw & ((1n << BigInt(f.p - 1)) - 1n);
    return quiet(packInf(a.sign, F80) | (frac << BigInt(64 - f.p)), F80);
  }
  if (a.kind === ZERO) return packZero(a.sign, F80);
  if (a.kind === INF) return packInf(a.sign, F80);
  if (a.denormal) env.flags |= DE;
  return roundPack(a.sign, a.m, a.e, F80, env);
}

/** x87 rule for two NaN operands (SDM table 4-7): QNaN over SNaN, else the larger significand (a tie: the positive one); quieted. */
export function nanPick(a: Val, b: Val): bigint {
  if (a.snan || b.snan) env.flags |= IE;
  if (a.kind !== NAN) return quiet(b.raw, F80);
  if (b.kind !== NAN) return quiet(a.raw, F80);
  if (a.snan !== b.snan) return quiet(a.snan ? b.raw : a.raw, F80);
  // Significands compared as quieted (a memory SNaN arrives quieted by widen(); for two register SNaNs the
  // quiet bit is clear in both, so the order is the same).
  const ma = (a.raw | (1n << 62n)) & ((1n << 64n) - 1n), mb = (b.raw | (1n << 62n)) & ((1n << 64n) - 1n);
  // Equal significands: the positive NaN (measured: FADD, FSUBR, FDIVRP, FSCALE, FPREM, FPATAN, FYL2X all agree).
  return quiet(ma > mb || (ma === mb && a.sign === 0) ? a.raw : b.raw, F80);
}

const K = { ADD: 0, MUL: 1, SUB: 4, SUBR: 5, DIV: 6, DIVR: 7 } as const;

/**
 * dst op src in 80 bits (kinds as the opcode's reg field: 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 div r);
 * `srcSnan`: the source is a memory NaN that was signalling before widen() quieted it.
 */
function arith(kind: number, dr: bigint, sr: bigint, p: number, srcSnan = false): bigint {
  let a = unpack(dr, F80, null);
  let b = unpack(sr, F80, null);
  // Table 4-7's QNaN-over-SNaN rule sees the memory operand as it was in memory (measured: with it quieted
  // first, two of 25,400 cases picked the other NaN).
  if (srcSnan && b.kind === NAN) b.snan = true;
  if (kind === K.SUBR || kind === K.DIVR) [a, b] = [b, a];
  if (a.kind === NAN || b.kind === NAN) {
    // A NaN operand is reported alone: no DE for a denormal memory operand loaded with it (host).
    env.flags &= ~DE;
    return nanPick(a, b);
  }
  // Unsupported formats (unnormals, pseudo-NaN/infinity) are invalid operands (SDM 8.2.2).
  if (unsupported(a.raw) || unsupported(b.raw)) {
    env.flags |= IE;
    return INDEF;
  }
  const div = kind === K.DIV || kind === K.DIVR;
  if (div && b.kind === ZERO) {
    if (a.kind === ZERO || a.kind === INF) {
      if (a.kind === ZERO) env.flags |= IE;
      return a.kind === ZERO ? INDEF : packInf(a.sign ^ b.sign, F80);
    }
    // A zero divisor is reported alone: ZE without DE for a denormal dividend (host, as the SSE unit).
    env.flags |= ZE;
    return packInf(a.sign ^ b.sign, F80);
  }
  if (a.denormal || b.denormal) env.flags |= DE;
  switch (kind) {
    case K.ADD: case K.SUB: case K.SUBR: {
      const bs = kind === K.ADD ? b.sign : b.sign ^ 1;
      if (a.kind === INF || b.kind === INF) {
        if (a.kind === INF && b.kind === INF && a.sign !== bs) {
          env.flags |= IE;
          return INDEF;
        }
        return packInf(a.kind === INF ? a.sign : bs, F80);
      }
      return addVals(a, { ...b, sign: bs }, F80, env, p);
    }
    case K.MUL:
      if (a.kind === INF || b.kind === INF) {
        if (a.kind === ZERO || b.kind === ZERO) {
          env.flags |= IE;
          return INDEF;
        }
        return packInf(a.sign ^ b.sign, F80);
      }
      return mulVals(a, b, F80, env, p);
    default:
      if (a.kind === INF) {
        if (b.kind === INF) {
          env.flags |= IE;
          return INDEF;
        }
        return packInf(a.sign ^ b.sign, F80);
      }
      if (b.kind === INF) return packZero(a.sign ^ b.sign, F80);
      return divVals(a, b, F80, env, p);
  }
}

/** Unnormal (exponent nonzero, integer bit clear) or pseudo-infinity/NaN: not a supported operand. */
export function unsupported(raw: bigint): boolean {
  const e = Number((raw >> 64n) & 0x7fffn);
  return e !== 0 && (raw & (1n << 63n)) === 0n;
}

/** Finish an operation that rounded: C1 = rounded up (when inexact), flags, then store if allowed. */
export function finish(cpu: Cpu, i: number, v: bigint): boolean {
  cpu.fsw &= ~C1;
  const up = (env.flags & PE) !== 0 && env.roundedUp;
  if (!report(cpu, env.flags)) return false;
  if (up) cpu.fsw |= C1;
  setRaw(cpu, i, v);
  return true;
}

// ---- handlers ----------------------------------------------------------------------------------------------

/** FADD/FSUB/... with a memory source (op.t 0 float m32/m64, 1 integer m16/m32): ST0 = ST0 op m. */
const arithMem: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  const src = loadMem(cpu, op, op.t === 1);
  if (isEmpty(cpu, 0)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  // Flags of the load (IE for an SNaN, DE for a denormal) are reported with the operation's.
  const r = arith(op.imm, getRaw(cpu, 0), src, precision(cpu), loadedSnan);
  finish(cpu, 0, r);
};

/** Register forms: op.d = destination ST index, op.s = source ST index, op.imm = kind, op.t = 1 pops. */
const arithReg: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, op.d) || isEmpty(cpu, op.s)) {
    if (underflow(cpu)) {
      setRaw(cpu, op.d, INDEF);
      if (op.t === 1) pop(cpu);
    }
    return;
  }
  const r = arith(op.imm, getRaw(cpu, op.d), getRaw(cpu, op.s), precision(cpu));
  if (finish(cpu, op.d, r) && op.t === 1) pop(cpu);
};

/** FCHS (op.imm 0), FABS (1). */
const fsign: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, 0)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  const v = getRaw(cpu, 0);
  const sign = 1n << 79n;
  setRaw(cpu, 0, op.imm === 0 ? v ^ sign : v & ~sign);
};

/** FSQRT (op.imm 0), FRNDINT (1). */
const funary: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, 0)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  const raw = getRaw(cpu, 0);
  const a = unpack(raw, F80, null);
  let r: bigint;
  if (a.kind === NAN) r = nanPick(a, a);
  else if (unsupported(raw)) {
    env.flags |= IE;
    r = INDEF;
  } else if (a.kind === ZERO || a.kind === INF) {
    if (op.imm === 0 && a.kind === INF && a.sign === 1) {
      env.flags |= IE;
      r = INDEF;
    } else r = raw;
  } else {
    if (a.denormal) env.flags |= DE;
    if (op.imm === 0) {
      if (a.sign === 1) {
        env.flags |= IE;
        r = INDEF;
      } else r = sqrtVal(a, F80, env, precision(cpu));
    } else if (a.e >= 0) r = raw;
    else {
      const q = toInt(a, 200, env.rc, env) as bigint;
      const up = env.roundedUp;
      r = q === 0n ? packZero(a.sign, F80) : roundPack(a.sign, q < 0n ? -q : q, 0, F80, env);
      env.roundedUp = up;
    }
  }
  finish(cpu, 0, r);
};

/**
 * Compares. op.imm bits: 0 = unordered-quiet (FUCOM*), 1 = EFLAGS form (FCOMI*), op.t = pops (0, 1, 2),
 * op.aux2 in op.size: 0 register source op.s, else a memory source (float or integer per op.cc).
 */
const fcom: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  let src: bigint;
  if (op.size !== 0) src = loadMem(cpu, op, op.cc === 1);
  else src = isEmpty(cpu, op.s) ? -1n : getRaw(cpu, op.s);
  const eflags = (op.imm & 2) !== 0;
  let c = 7; // unordered: C3 C2 C0 / ZF PF CF
  cpu.fsw &= ~C1;
  if (isEmpty(cpu, 0) || src === -1n) {
    env.flags = IE | SF; // the stack fault alone (no DE of a memory operand)
  } else {
    const a = unpack(getRaw(cpu, 0), F80, null);
    const b = unpack(src, F80, null);
    if (a.kind === NAN || b.kind === NAN || unsupported(a.raw) || unsupported(b.raw)) {
      if ((op.imm & 1) === 0 || a.snan || b.snan || unsupported(a.raw) || unsupported(b.raw)) env.flags |= IE;
    } else {
      if (a.denormal || b.denormal) env.flags |= DE;
      const r = compareVals(a, b);
      c = r === 0 ? 4 : r < 0 ? 1 : 0;
    }
  }
  // The condition codes / EFLAGS are set even when the exception is unmasked (measured on the host); the
  // pops only happen with the masked response.
  const ok = report(cpu, env.flags);
  if (eflags) {
    cpu.fk = K_EAGER;
    cpu.fx = ((c & 4) !== 0 ? F.ZF : 0) | ((c & 2) !== 0 ? F.PF : 0) | ((c & 1) !== 0 ? F.CF : 0);
  } else {
    cpu.fsw = (cpu.fsw & ~(Fsw.C0 | Fsw.C2 | Fsw.C3)) | ((c & 4) !== 0 ? Fsw.C3 : 0) | ((c & 2) !== 0 ? Fsw.C2 : 0) |
      ((c & 1) !== 0 ? Fsw.C0 : 0);
  }
  if (ok) for (let k = 0; k < op.t; k++) pop(cpu);
};

/** FINCSTP (op.imm 1), FDECSTP (-1), FFREE ST(i) (0), FFREEP (2). */
const fstack: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  if (op.imm === 1 || op.imm === -1) cpu.fpTop = (cpu.fpTop + op.imm) & 7;
  else {
    cpu.ftw &= ~(1 << phys(cpu, op.s));
    if (op.imm === 2) cpu.fpTop = (cpu.fpTop + 1) & 7;
  }
};

// ---- decoding ------------------------------------------------------------------------------------------------

export function stIndex(r: Register): number {
  return r >= Register.ST0 && r <= Register.ST7 ? r - Register.ST0 : -1;
}

const ARITH_KIND: Partial<Record<Mnemonic, [number, number]>> = {
  [Mnemonic.Fadd]: [K.ADD, 0], [Mnemonic.Faddp]: [K.ADD, 1], [Mnemonic.Fiadd]: [K.ADD, 0],
  [Mnemonic.Fmul]: [K.MUL, 0], [Mnemonic.Fmulp]: [K.MUL, 1], [Mnemonic.Fimul]: [K.MUL, 0],
  [Mnemonic.Fsub]: [K.SUB, 0], [Mnemonic.Fsubp]: [K.SUB, 1], [Mnemonic.Fisub]: [K.SUB, 0],
  [Mnemonic.Fsubr]: [K.SUBR, 0], [Mnemonic.Fsubrp]: [K.SUBR, 1], [Mnemonic.Fisubr]: [K.SUBR, 0],
  [Mnemonic.Fdiv]: [K.DIV, 0], [Mnemonic.Fdivp]: [K.DIV, 1], [Mnemonic.Fidiv]: [K.DIV, 0],
  [Mnemonic.Fdivr]: [K.DIVR, 0], [Mnemonic.Fdivrp]: [K.DIVR, 1], [Mnemonic.Fidivr]: [K.DIVR, 0],
};

export function use(op: Op, name: string, fn: H): boolean {
  op.fn = fn;
  op.name = name;
  return true;
}

/** Size in bits of a memory operand by the instruction's Code name (m16int, m32fp, m80fp...). */
export function sizeOf(code: Code): { bits: number; int: boolean } {
  const n = Code[code] ?? '';
  const m = /_m(\d+)(fp|int)/.exec(n);
  if (m === null) return { bits: 0, int: false };
  return { bits: Number(m[1]), int: m[2] === 'int' };
}

const fopCache = new Map<number, number>();

/**
 * FOP of an x87 instruction (SDM vol. 1 8.1.8): bits 10:8 the low 3 bits of the first opcode byte, 7:0 the
 * ModR/M byte. Register forms from iced-x86's opcode (D8 C0+i: i is the ST(i) operand), memory forms with the
 * ModR/M byte rebuilt from the decoded operand (mod from the displacement size, rm 100 with a SIB byte, 101
 * RIP-relative), which is how the instruction was encoded.
 */
export function x87Fop(ins: Instruction): number {
  const code = ins.code;
  let base = fopCache.get(code);
  if (base === undefined) {
    const info = CodeExt.opCode(code);
    const oc = info.opCode;
    base = info.opCodeLength === 2 ? (((oc >> 8) & 7) << 8) | (oc & 0xff) : ((oc & 7) << 8) | (Math.max(info.groupIndex, 0) << 3);
    info.free();
    fopCache.set(code, base);
  }
  const name = Code[code] ?? '';
  if (ins.opCount > 0 && ins.op0Kind === OpKind.Memory) {
    const b = ins.memoryBase;
    const x = ins.memoryIndex;
    const ds = ins.memoryDisplSize;
    let mod: number, rm: number;
    if (b === Register.RIP || b === Register.EIP) {
      mod = 0;
      rm = 5;
    } else if (b === Register.None) {
      mod = 0;
      rm = 4; // SIB with no base (disp32)
    } else {
      mod = ds === 0 ? 0 : ds === 1 ? 1 : 2;
      const bn = gpr(b)?.index ?? 0;
      rm = x !== Register.None || (bn & 7) === 4 ? 4 : bn & 7;
    }
    return base | (mod << 6) | rm;
  }
  if (/_sti(_|$)/.test(name)) {
    const n = /_sti_st0$/.test(name) || ins.opCount === 1 ? 0 : 1;
    return base + (ins.opRegister(n) - Register.ST0);
  }
  return base;
}

export function decodeX87(ins: Instruction, op: Op): boolean {
  if (!decodeX87Forms(ins, op)) return false;
  op.aux = x87Fop(ins);
  return true;
}

function decodeX87Forms(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const code = ins.code;
  const mem = ins.opCount > 0 && ins.op0Kind === OpKind.Memory;
  const ak = ARITH_KIND[m];
  if (ak !== undefined) {
    op.imm = ak[0];
    if (mem) {
      const sz = sizeOf(code);
      setMem(ins, op);
      op.size = sz.bits;
      op.t = sz.int ? 1 : 0;
      return use(op, Mnemonic[m].toLowerCase(), arithMem);
    }
    op.t = ak[1];
    if (ins.opCount === 0) {
      // FADDP with no operands = FADDP ST(1), ST(0).
      op.d = 1;
      op.s = 0;
    } else {
      op.d = stIndex(ins.op0Register);
      op.s = stIndex(ins.op1Register);
      if (op.d < 0 || op.s < 0) return false;
    }
    return use(op, Mnemonic[m].toLowerCase(), arithReg);
  }
  switch (m) {
    case Mnemonic.Fchs: op.imm = 0; return use(op, 'fchs', fsign);
    case Mnemonic.Fabs: op.imm = 1; return use(op, 'fabs', fsign);
    case Mnemonic.Fsqrt: op.imm = 0; return use(op, 'fsqrt', funary);
    case Mnemonic.Frndint: op.imm = 1; return use(op, 'frndint', funary);
    case Mnemonic.Fincstp: op.imm = 1; return use(op, 'fincstp', fstack);
    case Mnemonic.Fdecstp: op.imm = -1; return use(op, 'fdecstp', fstack);
    case Mnemonic.Ffree: case Mnemonic.Ffreep:
      op.imm = m === Mnemonic.Ffreep ? 2 : 0;
      op.s = stIndex(ins.op0Register);
      return use(op, 'ffree', fstack);
    case Mnemonic.Fcom: case Mnemonic.Fcomp: case Mnemonic.Fcompp: case Mnemonic.Fucom: case Mnemonic.Fucomp:
    case Mnemonic.Fucompp: case Mnemonic.Fcomi: case Mnemonic.Fcomip: case Mnemonic.Fucomi: case Mnemonic.Fucomip:
    case Mnemonic.Ficom: case Mnemonic.Ficomp: case Mnemonic.Ftst: {
      const quietCmp = m === Mnemonic.Fucom || m === Mnemonic.Fucomp || m === Mnemonic.Fucompp || m === Mnemonic.Fucomi || m === Mnemonic.Fucomip;
      const eflags = m === Mnemonic.Fcomi || m === Mnemonic.Fcomip || m === Mnemonic.Fucomi || m === Mnemonic.Fucomip;
      op.imm = (quietCmp ? 1 : 0) | (eflags ? 2 : 0);
      op.t = m === Mnemonic.Fcompp || m === Mnemonic.Fucompp ? 2
        : m === Mnemonic.Fcomp || m === Mnemonic.Fucomp || m === Mnemonic.Fcomip || m === Mnemonic.Fucomip || m === Mnemonic.Ficomp ? 1 : 0;
      if (m === Mnemonic.Ftst) {
        // FTST compares with +0.0: a memory-less form; model as a comparison with a zero constant.
        op.size = 0;
        op.s = -1;
        return use(op, 'ftst', ftst);
      }
      if (mem) {
        const sz = sizeOf(code);
        setMem(ins, op);
        op.size = sz.bits;
        op.cc = sz.int ? 1 : 0;
      } else {
        op.size = 0;
        op.s = ins.opCount > 1 ? stIndex(ins.op1Register) : 1;
        if (op.s < 0) return false;
      }
      return use(op, Mnemonic[m].toLowerCase(), fcom);
    }
    default:
      return false;
  }
}

const ftst: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  cpu.fsw &= ~C1;
  let c = 7;
  if (isEmpty(cpu, 0)) {
    report(cpu, IE | SF);
  } else {
    const a = unpack(getRaw(cpu, 0), F80, null);
    if (a.kind === NAN || unsupported(a.raw)) env.flags |= IE;
    else {
      if (a.denormal) env.flags |= DE;
      c = a.kind === ZERO ? 4 : a.sign ? 1 : 0;
    }
    report(cpu, env.flags);
  }
  cpu.fsw = (cpu.fsw & ~(Fsw.C0 | Fsw.C2 | Fsw.C3)) | ((c & 4) !== 0 ? Fsw.C3 : 0) | ((c & 2) !== 0 ? Fsw.C2 : 0) |
    ((c & 1) !== 0 ? Fsw.C0 : 0);
};
