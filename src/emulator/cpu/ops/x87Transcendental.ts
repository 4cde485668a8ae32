// x87 transcendental instructions (SDM vol. 2): F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN.
// Values come from fpu/transcendental.ts (computed to ~190 bits and rounded once per FCW.RC, so correctly
// rounded); the special operands (zeros, infinities, NaNs, out-of-range arguments) follow the SDM's tables
// and the host CPU, against which test/cpu-x87-transcendental.test.ts compares every result.

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { Fsw } from '../fpu/fpuState.js';
import {
  DE, F80, IE, INF, NAN, PE, RNE, ZE, ZERO, type Val, packInf, packZero, roundPack, unpack,
} from '../fpu/softfloat.js';
import { type Approx, f2xm1, fpatan, fyl2x, fyl2xp1, piQuarters, trig } from '../fpu/transcendental.js';
import {
  type H, INDEF, beginX87, env, finish, getRaw, isEmpty, nanPick, pop, report, setRaw, setupEnv, underflow, unsupported,
  x87Fop,
} from './x87.js';

const { C1, C2 } = Fsw;
const ONE = 0x3fff8000000000000000n;

/** Round a computed result. The host reports every computed nonzero result inexact (PE), exact ones
 * (2^-1 - 1, y * log2 of a power of two) included, and then not rounded up (C1 clear); y * log2(1) = 0 exactly. */
function round(a: Approx): bigint {
  if (a.m === 0n) return packZero(a.sign, F80);
  const before = env.flags & PE;
  const r = roundPack(a.sign, a.m, a.e, F80, env);
  if (a.exact && (env.flags & PE) === before) {
    env.flags |= PE;
    env.roundedUp = false;
  }
  return r;
}

/** F2XM1: ST(0) = 2^ST(0) - 1 (defined for -1 <= ST(0) <= 1). */
const f2xm1Op: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, 0)) {
    if (underflow(cpu)) setRaw(cpu, 0, INDEF);
    return;
  }
  const a = unpack(getRaw(cpu, 0), F80, null);
  let r: bigint;
  if (a.kind === NAN) r = nanPick(a, a);
  else if (unsupported(a.raw)) {
    env.flags |= IE;
    r = INDEF;
  } else if (a.kind === ZERO) r = a.raw;
  else if (a.kind === INF) r = a.sign === 0 ? a.raw : ONE | (1n << 79n);
  else if (a.sign === 0 && a.raw === ONE) {
    // 2^1 - 1 = 1, but the host reports it inexact (PE), rounded up in round-to-nearest (C1) and not in
    // round-down (measured; other rounding modes as round-down, not measured).
    env.flags |= PE;
    env.roundedUp = env.rc === RNE;
    r = ONE;
  } else {
    if (a.denormal) env.flags |= DE;
    r = round(f2xm1(a.sign, a.m, a.e));
  }
  finish(cpu, 0, r);
};

/** The special cases of FYL2X (x = ST(0), y = ST(1)); null when both are finite, nonzero and x > 0. */
function fyl2xSpecial(x: Val, y: Val): bigint | null {
  if (x.kind !== ZERO && x.sign === 1) {
    env.flags |= IE;
    return INDEF;
  }
  if (x.kind === ZERO) {
    if (y.kind === ZERO) {
      env.flags |= IE;
      return INDEF;
    }
    if (y.kind !== INF) env.flags |= ZE;
    return packInf(y.sign ^ 1, F80);
  }
  // log2 x: +inf for x = +inf, 0 for x = 1, else finite of known sign.
  const isOne = x.kind !== INF && x.m === 1n << BigInt(x.m.toString(2).length - 1) && x.e + x.m.toString(2).length - 1 === 0;
  if (x.kind === INF) {
    if (y.kind === ZERO) {
      env.flags |= IE;
      return INDEF;
    }
    return packInf(y.sign, F80);
  }
  const logNeg = !isOne && x.e + x.m.toString(2).length - 1 < 0 ? 1 : 0;
  if (y.kind === INF) {
    if (isOne) {
      env.flags |= IE;
      return INDEF;
    }
    return packInf(y.sign ^ logNeg, F80);
  }
  if (y.kind === ZERO) return packZero(y.sign ^ logNeg, F80);
  return null;
}

/** FYL2XP1 special cases (x = ST(0), y = ST(1)); null when both are finite and nonzero. */
function fyl2xp1Special(x: Val, y: Val): bigint | null {
  if (x.kind === INF) {
    // Outside the domain; the host gives log2(+inf + 1) = +inf (invalid times a zero y, or for -inf).
    if (x.sign === 1 || y.kind === ZERO) {
      env.flags |= IE;
      return INDEF;
    }
    return packInf(y.sign, F80);
  }
  if (x.kind === ZERO) {
    if (y.kind === INF) {
      env.flags |= IE;
      return INDEF;
    }
    return packZero(x.sign ^ y.sign, F80);
  }
  if (y.kind === INF) return packInf(x.sign ^ y.sign, F80);
  if (y.kind === ZERO) return packZero(x.sign ^ y.sign, F80);
  return null;
}

/** FPATAN special cases (x = ST(0), y = ST(1)), as C's atan2 (SDM FPATAN table). */
function fpatanSpecial(x: Val, y: Val): bigint | null {
  if (y.kind === ZERO) return x.sign === 0 ? packZero(y.sign, F80) : round(piQuarters(y.sign, 4));
  if (y.kind === INF) {
    if (x.kind === INF) return round(piQuarters(y.sign, x.sign === 0 ? 1 : 3));
    return round(piQuarters(y.sign, 2));
  }
  if (x.kind === ZERO) return round(piQuarters(y.sign, 2));
  if (x.kind === INF) return x.sign === 0 ? packZero(y.sign, F80) : round(piQuarters(y.sign, 4));
  return null;
}

/** FYL2X (op.imm 0), FYL2XP1 (1), FPATAN (2): ST(1) = f(ST(1), ST(0)), then pop. */
const binary: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  if (isEmpty(cpu, 0) || isEmpty(cpu, 1)) {
    if (underflow(cpu)) {
      setRaw(cpu, 1, INDEF);
      pop(cpu);
    }
    return;
  }
  const x = unpack(getRaw(cpu, 0), F80, null);
  const y = unpack(getRaw(cpu, 1), F80, null);
  let r: bigint | null;
  if (x.kind === NAN || y.kind === NAN) r = nanPick(x, y);
  else if (unsupported(x.raw) || unsupported(y.raw)) {
    env.flags |= IE;
    r = INDEF;
  } else {
    if (x.denormal || y.denormal) env.flags |= DE;
    r = op.imm === 0 ? fyl2xSpecial(x, y) : op.imm === 1 ? fyl2xp1Special(x, y) : fpatanSpecial(x, y);
    if ((env.flags & IE) !== 0) env.flags &= ~DE;
    if (r === null) {
      r = round(op.imm === 0 ? fyl2x(y.sign, y.m, y.e, x.m, x.e)
        : op.imm === 1 ? fyl2xp1(y.sign, y.m, y.e, x.sign, x.m, x.e)
          : fpatan(y.sign, y.m, y.e, x.sign, x.m, x.e));
    }
  }
  if (finish(cpu, 1, r)) pop(cpu);
};

/** |x| >= 2^63: FSIN/FCOS/FSINCOS/FPTAN leave the operand and set C2 (SDM). */
function outOfRange(a: Val): boolean {
  return a.kind === 1 && a.e + a.m.toString(2).length - 1 >= 63;
}

/** FSIN (op.imm 0), FCOS (1), FPTAN (2: ST(0) = tan, push 1), FSINCOS (3: ST(0) = sin, push cos). */
const trigOp: H = (cpu, op) => {
  beginX87(cpu, op);
  setupEnv(cpu);
  const pushes = op.imm >= 2;
  cpu.fsw &= ~(C1 | C2);
  if (isEmpty(cpu, 0)) {
    if (underflow(cpu)) {
      setRaw(cpu, 0, INDEF);
      if (pushes) pushRaw(cpu, INDEF);
    }
    return;
  }
  if (pushes && !isEmpty(cpu, -1)) {
    cpu.fsw |= C1;
    if (report(cpu, IE | Fsw.SF)) {
      setRaw(cpu, 0, INDEF);
      pushRaw(cpu, INDEF);
    }
    return;
  }
  const a = unpack(getRaw(cpu, 0), F80, null);
  if (outOfRange(a)) {
    cpu.fsw |= C2;
    return;
  }
  let r: bigint, r2: bigint = ONE;
  if (a.kind === NAN) r = r2 = nanPick(a, a);
  else if (unsupported(a.raw) || a.kind === INF) {
    env.flags |= IE;
    r = r2 = INDEF;
  } else if (a.kind === ZERO) {
    r = op.imm === 1 ? ONE : a.raw;
  } else {
    if (a.denormal) env.flags |= DE;
    if (op.imm === 3) {
      // C1 follows the sine (rounded last).
      r2 = round(trig(1, a.sign, a.m, a.e));
      r = round(trig(0, a.sign, a.m, a.e));
    } else r = round(trig(op.imm === 2 ? 2 : op.imm, a.sign, a.m, a.e));
  }
  if (!finish(cpu, 0, r)) return;
  if (pushes) pushRaw(cpu, r2);
};

/** Push without the overflow check (done before computing). */
function pushRaw(cpu: Cpu, v: bigint): void {
  cpu.fpTop = (cpu.fpTop - 1) & 7;
  setRaw(cpu, 0, v);
}

function use(op: Op, name: string, fn: H, imm: number): boolean {
  op.fn = fn;
  op.name = name;
  op.imm = imm;
  return true;
}

export function decodeX87Transcendental(ins: Instruction, op: Op): boolean {
  let ok: boolean;
  switch (ins.mnemonic) {
    case Mnemonic.F2xm1: ok = use(op, 'f2xm1', f2xm1Op, 0); break;
    case Mnemonic.Fyl2x: ok = use(op, 'fyl2x', binary, 0); break;
    case Mnemonic.Fyl2xp1: ok = use(op, 'fyl2xp1', binary, 1); break;
    case Mnemonic.Fpatan: ok = use(op, 'fpatan', binary, 2); break;
    case Mnemonic.Fsin: ok = use(op, 'fsin', trigOp, 0); break;
    case Mnemonic.Fcos: ok = use(op, 'fcos', trigOp, 1); break;
    case Mnemonic.Fptan: ok = use(op, 'fptan', trigOp, 2); break;
    case Mnemonic.Fsincos: ok = use(op, 'fsincos', trigOp, 3); break;
    default: return false;
  }
  op.aux = x87Fop(ins);
  return ok;
}
