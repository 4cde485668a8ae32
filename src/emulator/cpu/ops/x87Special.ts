// x87 instructions beyond plain arithmetic (SDM vol. 2 and vol. 1 chapter 8): FXAM, FSCALE, FPREM, FPREM1,
// FXTRACT, FCMOVcc, FBLD/FBSTP. Exact in 80 bits through fpu/softfloat.ts, with the stack, masked-response and
// condition-code rules of x87.ts; each checked against the host CPU (test/cpu-x87-special.test.ts).

import { type Instruction, Code, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F } from '../flags.js';
import { Fsw } from '../fpu/fpuState.js';
import {
  DE, F80, IE, INF, NAN, PE, ZE, ZERO, bitLength, fromInt, packInf, packZero, roundPack, toInt, unpack,
} from '../fpu/softfloat.js';
import {
  type H, INDEF, beginX87, memOperand, x87Fop, env, getRaw, isEmpty, nanPick, pop, push, report, setRaw, setupEnv, underflow, unsupported,
} from './x87.js';
import { setMem } from './operands.js';

const { C0, C1, C2, C3 } = Fsw;
const CC = C0 | C1 | C2 | C3;

/** Set C3 C2 C0 from a 3-bit class (bit 2 C3, bit 1 C2, bit 0 C0) and C1. */
function setCc(cpu: Cpu, c: number, c1: boolean): void {
  cpu.fsw = (cpu.fsw & ~CC) | ((c & 4) !== 0 ? C3 : 0) | ((c & 2) !== 0 ? C2 : 0) | ((c & 1) !== 0 ? C0 : 0) |
    (c1 ? C1 : 0);
}

/** FXAM: the class of ST(0) in C3 C2 C0, its sign in C1 (SDM FXAM table); no exceptions. */
const fxam: H = (cpu, op) => {
  beginX87(cpu, op);
  const raw = getRaw(cpu, 0);
  const sign = Number(raw >> 79n) & 1;
  const e = Number((raw >> 64n) & 0x7fffn);
  const j = (raw >> 63n) & 1n;
  const frac = raw & ((1n << 63n) - 1n);
  let c: number;
  if (isEmpty(cpu, 0)) c = 0b101;
  else if (e === 0x7fff) c = j === 0n ? 0b000 : frac === 0n ? 0b011 : 0b001;
  else if (e === 0) c = j === 0n && frac === 0n ? 0b100 : 0b110;
  else c = j === 0n ? 0b000 : 0b010;
  setCc(cpu, c, sign === 1);
};

/** The integer part of a finite value, truncated, clamped to +-2^20 (beyond, any scale over- or underflows). */
function truncClamp(m: bigint, e: number, sign: number): number {
  const LIM = 1 << 20;
  let n: number;
  if (e >= 0) n = bitLength(m) + e > 21 ? LIM : Number(m << BigInt(e));
  else n = -e >= 64 ? 0 : Number(m >> BigInt(-e));
  if (n > LIM) n = LIM;
  return sign === 1 ? -n : n;
}

/** FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)), rounded once (precision control does not apply: SDM 8.1.5.2). */
const fscale: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, 0) || isEmpty(cpu, 1)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  const a = unpack(getRaw(cpu, 0), F80, null);
  const b = unpack(getRaw(cpu, 1), F80, null);
  let r: bigint;
  if (a.kind === NAN || b.kind === NAN) r = nanPick(a, b);
  else if (unsupported(a.raw) || unsupported(b.raw)) {
    env.flags |= IE;
    r = INDEF;
  } else if (b.kind === INF) {
    // 0 * 2^+inf and inf * 2^-inf are invalid; otherwise the limit (SDM FSCALE table 3-x).
    if ((b.sign === 0 && a.kind === ZERO) || (b.sign === 1 && a.kind === INF)) {
      env.flags |= IE;
      r = INDEF;
    } else {
      if (a.denormal) env.flags |= DE;
      r = a.kind === ZERO || a.kind === INF ? a.raw : b.sign === 0 ? packInf(a.sign, F80) : packZero(a.sign, F80);
    }
  } else {
    if (a.denormal || b.denormal) env.flags |= DE;
    if (a.kind === ZERO || a.kind === INF) r = a.raw;
    else {
      r = roundPack(a.sign, a.m, a.e + (b.kind === ZERO ? 0 : truncClamp(b.m, b.e, b.sign)), F80, env);
    }
  }
  finishOne(cpu, r);
};

/** Store ST(0) after a rounding operation: C1 = rounded up, flags, store unless an unmasked IE/DE/ZE. */
function finishOne(cpu: Cpu, r: bigint): boolean {
  cpu.fsw &= ~C1;
  const up = (env.flags & PE) !== 0 && env.roundedUp;
  if (!report(cpu, env.flags)) return false;
  if (up) cpu.fsw |= C1;
  setRaw(cpu, 0, r);
  return true;
}

/** Exponent of the leading significand bit of a finite nonzero value. */
function lead(m: bigint, e: number): number {
  return e + bitLength(m) - 1;
}

/**
 * FPREM (op.imm 0: quotient truncated) and FPREM1 (1: rounded to nearest even, the IEEE remainder). The
 * remainder is exact. When the exponents differ by 64 or more the reduction is partial (C2 = 1): the quotient
 * is taken of ST(0) / (ST(1) * 2^(D - N)) with N = 32 + (D mod 32), as the SDM allows (N between 32 and 63).
 */
const fprem: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, 0) || isEmpty(cpu, 1)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    cpu.fsw &= ~C2;
    return;
  }
  const a = unpack(getRaw(cpu, 0), F80, null);
  const b = unpack(getRaw(cpu, 1), F80, null);
  let r: bigint;
  let q = 0n;
  let partial = false;
  if (a.kind === NAN || b.kind === NAN) r = nanPick(a, b);
  else if (unsupported(a.raw) || unsupported(b.raw) || a.kind === INF || b.kind === ZERO) {
    env.flags |= IE;
    r = INDEF;
  } else {
    if (a.denormal || b.denormal) env.flags |= DE;
    if (a.kind === ZERO || b.kind === INF) r = a.raw;
    else {
      const d = lead(a.m, a.e) - lead(b.m, b.e);
      let shift = 0;
      if (d >= 64) {
        partial = true;
        shift = d - ((d & 31) | 32);
      }
      // a = A * 2^e0, b * 2^shift = B * 2^e0 with integers A, B.
      const be = b.e + shift;
      const e0 = Math.min(a.e, be);
      const A = a.m << BigInt(a.e - e0);
      const B = b.m << BigInt(be - e0);
      q = A / B;
      let R = A - q * B;
      let sign = a.sign;
      if (op.imm === 1 && !partial) {
        // Round the quotient to nearest even: take the remainder of smaller magnitude.
        const twice = R << 1n;
        if (twice > B || (twice === B && (q & 1n) === 1n)) {
          q += 1n;
          R = B - R;
          sign ^= 1;
        }
      }
      r = R === 0n ? packZero(a.sign, F80) : roundPack(sign, R, e0, F80, env);
    }
  }
  cpu.fsw &= ~C1;
  if (!report(cpu, env.flags)) return;
  setRaw(cpu, 0, r);
  // Quotient bits Q2 Q1 Q0 in C0 C3 C1 (SDM FPREM); C2 = incomplete.
  // A partial reduction leaves them clear (host).
  const qb = partial ? 0 : Number(q & 7n);
  cpu.fsw = (cpu.fsw & ~CC) | ((qb & 4) !== 0 ? C0 : 0) | ((qb & 2) !== 0 ? C3 : 0) | ((qb & 1) !== 0 ? C1 : 0) |
    (partial ? C2 : 0);
};

/** FXTRACT: ST(0) = exponent, then push the significand (value in [1, 2) with ST(0)'s sign). */
const fxtract: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  cpu.fsw &= ~C1;
  // Stack underflow (C1 clear) takes precedence over overflow (C1 set); the masked response of either is two
  // indefinites (host).
  if (isEmpty(cpu, 0) || !isEmpty(cpu, -1)) {
    let ok: boolean;
    if (isEmpty(cpu, 0)) ok = underflow(cpu);
    else {
      cpu.fsw |= C1;
      ok = report(cpu, IE | Fsw.SF);
    }
    if (ok) {
      setRaw(cpu, 0, INDEF);
      cpu.fpTop = (cpu.fpTop - 1) & 7;
      setRaw(cpu, 0, INDEF);
    }
    return;
  }
  const a = unpack(getRaw(cpu, 0), F80, null);
  let ex: bigint, sig: bigint;
  if (a.kind === NAN) ex = sig = nanPick(a, a);
  else if (unsupported(a.raw)) {
    env.flags |= IE;
    ex = sig = INDEF;
  } else if (a.kind === ZERO) {
    env.flags |= ZE;
    ex = packInf(1, F80);
    sig = a.raw;
  } else if (a.kind === INF) {
    ex = packInf(0, F80);
    sig = a.raw;
  } else {
    if (a.denormal) env.flags |= DE;
    const bl = bitLength(a.m);
    ex = fromInt(BigInt(a.e + bl - 1), F80, env);
    sig = roundPack(a.sign, a.m, 1 - bl, F80, env);
  }
  if (!report(cpu, env.flags)) return;
  setRaw(cpu, 0, ex);
  push(cpu, sig);
};

/** FCMOVcc ST(0), ST(i): op.cc = B E BE U NB NE NBE NU (0-7), op.s = i. */
const fcmov: H = (cpu, op) => {
  beginX87(cpu, op);
  cpu.fsw &= ~C1;
  const fl = cpu.getRflags();
  let c: boolean;
  switch (op.cc & 3) {
    case 0: c = (fl & F.CF) !== 0; break;
    case 1: c = (fl & F.ZF) !== 0; break;
    case 2: c = (fl & (F.CF | F.ZF)) !== 0; break;
    default: c = (fl & F.PF) !== 0;
  }
  if ((op.cc & 4) !== 0) c = !c;
  if (isEmpty(cpu, 0) || isEmpty(cpu, op.s)) {
    // The masked response writes the indefinite whether or not the condition holds (host).
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  if (c) setRaw(cpu, 0, getRaw(cpu, op.s));
};

const BCD_LIMIT = 10n ** 18n;

/** FBLD m80bcd: 18 packed decimal digits and a sign byte, loaded exactly (invalid digits: value undefined). */
const fbld: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  memOperand(cpu, op);
  const m = cpu.mmu;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  let v = 0n;
  let sign = 0;
  for (let i = 9; i >= 0; i--) {
    const l = (lo + i) | 0;
    const b = m.read8(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
    if (i === 9) sign = b >> 7;
    else v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
  }
  cpu.fsw &= ~C1;
  push(cpu, v === 0n ? packZero(sign, F80) : roundPack(sign, v, 0, F80, env));
};

/** FBSTP m80bcd: ST(0) rounded per RC to 18 digits, then pop; out of range or NaN: IE, BCD indefinite. */
const fbstp: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  memOperand(cpu, op);
  cpu.fsw &= ~C1;
  let v: bigint | null = null;
  let sign = 0;
  if (isEmpty(cpu, 0)) {
    if (!underflow(cpu)) return;
  } else {
    const a = unpack(getRaw(cpu, 0), F80, null);
    sign = a.sign;
    if (a.kind !== NAN && a.kind !== INF && !unsupported(a.raw)) {
      // No DE for a denormal source, as FIST (host).
      const t = toInt(a, 128, env.rc, env);
      if (t !== null && t < BCD_LIMIT && t > -BCD_LIMIT) {
        v = t < 0n ? -t : t;
        if ((env.flags & PE) !== 0 && env.roundedUp) cpu.fsw |= C1;
      } else env.flags &= ~PE;
    }
    if (v === null) env.flags |= IE;
    if (!report(cpu, env.flags)) return;
  }
  const bytes = new Uint8Array(10);
  if (v === null) {
    // Packed BCD integer indefinite (SDM vol. 1 table 4-x): FFFF C000 0000 0000 0000.
    bytes[9] = 0xff;
    bytes[8] = 0xff;
    bytes[7] = 0xc0;
  } else {
    for (let i = 0; i < 9; i++) {
      const d = Number(v % 100n);
      v /= 100n;
      bytes[i] = ((d / 10) << 4) | (d % 10);
    }
    bytes[9] = sign << 7;
  }
  const m = cpu.mmu;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  m.probeWrite(lo, hi, 10);
  for (let i = 0; i < 10; i++) {
    const l = (lo + i) | 0;
    m.write8(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, bytes[i]);
  }
  pop(cpu);
};

function use(op: Op, name: string, fn: H): boolean {
  op.fn = fn;
  op.name = name;
  return true;
}

const FCMOV_CC: Partial<Record<Mnemonic, number>> = {
  [Mnemonic.Fcmovb]: 0, [Mnemonic.Fcmove]: 1, [Mnemonic.Fcmovbe]: 2, [Mnemonic.Fcmovu]: 3,
  [Mnemonic.Fcmovnb]: 4, [Mnemonic.Fcmovne]: 5, [Mnemonic.Fcmovnbe]: 6, [Mnemonic.Fcmovnu]: 7,
};

/** Decode one of this file's instructions; false if `ins` is not one. */
export function decodeX87Special(ins: Instruction, op: Op): boolean {
  if (!decodeSpecial(ins, op)) return false;
  op.aux = x87Fop(ins);
  return true;
}

function decodeSpecial(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const cc = FCMOV_CC[m];
  if (cc !== undefined) {
    const r = ins.op1Register;
    if (ins.opCount !== 2 || r < Register.ST0 || r > Register.ST7) return false;
    op.cc = cc;
    op.s = r - Register.ST0;
    return use(op, Mnemonic[m].toLowerCase(), fcmov);
  }
  switch (m) {
    case Mnemonic.Fxam: return use(op, 'fxam', fxam);
    case Mnemonic.Fscale: return use(op, 'fscale', fscale);
    case Mnemonic.Fprem: op.imm = 0; return use(op, 'fprem', fprem);
    case Mnemonic.Fprem1: op.imm = 1; return use(op, 'fprem1', fprem);
    case Mnemonic.Fxtract: return use(op, 'fxtract', fxtract);
    case Mnemonic.Fbld: case Mnemonic.Fbstp:
      if (ins.op0Kind !== OpKind.Memory || (ins.code !== Code.Fbld_m80bcd && ins.code !== Code.Fbstp_m80bcd)) return false;
      setMem(ins, op);
      return m === Mnemonic.Fbld ? use(op, 'fbld', fbld) : use(op, 'fbstp', fbstp);
    default:
      return false;
  }
}
