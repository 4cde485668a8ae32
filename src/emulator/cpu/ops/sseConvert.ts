// SSE/SSE2 conversions (CVT*): float <-> integer, single <-> double, scalar and packed (and the MMX-register
// forms mmx.ts decodes), with MXCSR rounding, DAZ, NaN payloads and the exception flags as the SDM specifies
// them (vol. 2, each CVT* entry; vol. 1 4.8.3.5); the same fast path / exact path split as sseFloat.ts.

import { type Instruction, Code, Mnemonic, OpKind } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { checkSse } from '../fpu/fpuState.js';
import { DE, F32, F64, type Fmt, IE, INF, NAN, PE, RTZ, ZERO, fromInt, packInf, packZero, quiet, roundPack, toInt, unpack } from '../fpu/softfloat.js';
import { AUX_MEM, TMP, type H, regGpr, regXmm, rmXmm, src, use } from './sseCommon.js';
import { MIN_F, commit, env, laneRaw, raiseSimd, setLaneRaw, setupEnv } from './sseExact.js';
import { setMem } from './operands.js';
import { cvtsi2sdTemplate } from './sseTemplates.js';
import { XS, useTemplate } from './template.js';

const INDEF32 = -0x80000000;

/** CVT(T)SD2SI / CVT(T)SS2SI r32/64, xmm/m: op.size = source bits, op.imm = destination bits, op.t = 1 truncate. */
const cvtToInt: H = (cpu, op) => {
  const s = src(cpu, op);
  const mx = cpu.mxcsr;
  const x = cpu.xmm;
  // Fast: in range of int32, truncation or round-to-nearest, PE masked.
  const v = op.size === 64 ? cpu.xmmD[s * 2] : cpu.xmmS[s * 4];
  if ((mx & 0x1000) !== 0 && (op.t === 1 || (mx & 0x6000) === 0) && Math.abs(v) < 2147483648 && (mx & 0x40) === 0) {
    let r = op.t === 1 ? Math.trunc(v) : roundEven(v);
    if (r === 0) r = 0;
    if (r >= -2147483648 && r <= 2147483647) {
      if (r !== v) cpu.mxcsr = mx | PE;
      cpu.lo[op.d] = r;
      cpu.hi[op.d] = op.imm === 64 && r < 0 ? -1 : 0;
      return;
    }
  }
  const f = op.size === 64 ? F64 : F32;
  setupEnv(mx);
  env.ftz = false;
  const a = unpack(laneRaw(x, s, 0, f), f, env);
  let r: bigint | null = null;
  if (a.kind === NAN || a.kind === INF) r = null;
  else r = toInt(a, op.imm, op.t === 1 ? RTZ : env.rc, env);
  if (r === null) {
    env.flags |= IE;
    r = op.imm === 64 ? -(1n << 63n) : -(1n << 31n);
  }
  cpu.mxcsr = mx | env.flags;
  if ((env.flags & ~(mx >> 7) & 63) !== 0) raiseSimd(cpu);
  cpu.lo[op.d] = Number(BigInt.asUintN(32, r)) | 0;
  cpu.hi[op.d] = op.imm === 64 ? Number(BigInt.asUintN(32, r >> 32n)) | 0 : 0;
};

function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** CVTSI2SD / CVTSI2SS xmm, r/m32/64: op.imm = source bits, op.size = 64 (sd) or 32 (ss). */
const cvtFromInt: H = (cpu, op) => {
  checkSse(cpu);
  let lo: number, hi: number;
  if ((op.aux & AUX_MEM) !== 0) {
    op.ea(cpu, op);
    if (op.imm === 64) {
      lo = cpu.mmu.read64(cpu.eaLo, cpu.eaHi);
      hi = cpu.mmu.hiOut;
    } else {
      lo = cpu.mmu.read32(cpu.eaLo, cpu.eaHi);
      hi = lo >> 31;
    }
  } else {
    lo = cpu.lo[op.s];
    hi = op.imm === 64 ? cpu.hi[op.s] : lo >> 31;
  }
  const mx = cpu.mxcsr;
  // int32 -> double is exact; small values are exact in single too.
  if (op.size === 64 && (hi === lo >> 31)) {
    cpu.xmmD[op.d * 2] = lo;
    return;
  }
  if (op.size === 32 && hi === lo >> 31 && lo >= -16777216 && lo <= 16777216) {
    cpu.xmmS[op.d * 4] = lo;
    return;
  }
  const f = op.size === 64 ? F64 : F32;
  setupEnv(mx);
  const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
  const r = fromInt(v, f, env);
  cpu.mxcsr = mx | env.flags;
  if ((env.flags & ~(mx >> 7) & 63) !== 0) raiseSimd(cpu);
  setLaneRaw(cpu.xmm, op.d, 0, f, r);
};

/** Float-to-float conversion of one value (CVTSD2SS, CVTSS2SD and the packed forms). */
function convertFloat(raw: bigint, from: Fmt, to: Fmt): bigint {
  const a = unpack(raw, from, env);
  if (a.kind === NAN) {
    if (a.snan) env.flags |= IE;
    // The payload keeps its top bits: shift the fraction to the new width (SDM 4.8.3.5).
    const fromFrac = from.p - 1, toFrac = to.p - 1;
    const frac = raw & ((1n << BigInt(fromFrac)) - 1n);
    const nf = toFrac > fromFrac ? frac << BigInt(toFrac - fromFrac) : frac >> BigInt(fromFrac - toFrac);
    return quiet(packInf(a.sign, to) | nf, to);
  }
  if (a.denormal && !env.daz) env.flags |= DE;
  if (a.kind === ZERO) return packZero(a.sign, to);
  if (a.kind === INF) return packInf(a.sign, to);
  return roundPack(a.sign, a.m, a.e, to, env);
}

/** CVTSD2SS (op.imm 0), CVTSS2SD (1), CVTPD2PS (2), CVTPS2PD (3). */
const cvtFloat: H = (cpu, op) => {
  const s = src(cpu, op);
  const mx = cpu.mxcsr;
  const x = cpu.xmm;
  const k = op.imm;
  // Fast: single -> double of a normal/zero value is exact with no flags.
  if (k === 1 || k === 3) {
    const n = k === 1 ? 1 : 2;
    const S = cpu.xmmS;
    let ok = true;
    for (let i = 0; i < n; i++) {
      const v = S[s * 4 + i];
      if (!(Math.abs(v) >= MIN_F || v === 0) || Math.abs(v) === Infinity) ok = false;
    }
    if (ok) {
      const a0 = S[s * 4], a1 = S[s * 4 + 1];
      cpu.xmmD[op.d * 2] = a0;
      if (n === 2) cpu.xmmD[op.d * 2 + 1] = a1;
      return;
    }
  }
  setupEnv(mx);
  const from = k === 0 || k === 2 ? F64 : F32;
  const to = from === F64 ? F32 : F64;
  const n = k < 2 ? 1 : 2;
  for (let i = 0; i < n; i++) setLaneRaw(x, TMP, i, to, convertFloat(laneRaw(x, s, i, from), from, to));
  let words = to === F64 ? 2 * n : n;
  if (k === 2) {
    // CVTPD2PS zeroes the upper half of the destination.
    x[TMP * 4 + 2] = 0;
    x[TMP * 4 + 3] = 0;
    words = 4;
  }
  commit(cpu, mx, op.d, words);
};

/**
 * CVTDQ2PD and CVTPI2PD (op.imm 0), CVTDQ2PS (1), CVT(T)PD2DQ (2), CVT(T)PS2DQ (3), and the two-lane MMX
 * forms CVTPI2PS (4: the upper two singles unchanged), CVT(T)PD2PI (5), CVT(T)PS2PI (6); op.t = 1 truncates.
 */
export const cvtPacked: H = (cpu, op) => cvtPackedFrom(cpu, op, src(cpu, op));

/** cvtPacked with the source already in slot `s`. */
export function cvtPackedFrom(cpu: Cpu, op: Op, s: number): void {
  const mx = cpu.mxcsr;
  const x = cpu.xmm;
  const k = op.imm;
  if (k === 0) {
    const a0 = x[s * 4], a1 = x[s * 4 + 1];
    cpu.xmmD[op.d * 2] = a0;
    cpu.xmmD[op.d * 2 + 1] = a1;
    return;
  }
  setupEnv(mx);
  if (k === 1 || k === 4) {
    const n = k === 1 ? 4 : 2;
    for (let i = 0; i < n; i++) setLaneRaw(x, TMP, i, F32, fromInt(BigInt(x[s * 4 + i]), F32, env));
    commit(cpu, mx, op.d, n);
    return;
  }
  const f = k === 2 || k === 5 ? F64 : F32;
  const n = k === 3 ? 4 : 2;
  env.ftz = false;
  for (let i = 0; i < n; i++) {
    const a = unpack(laneRaw(x, s, i, f), f, env);
    let r: bigint | null = a.kind === NAN || a.kind === INF ? null : toInt(a, 32, op.t === 1 ? RTZ : env.rc, env);
    if (r === null) {
      env.flags |= IE;
      r = BigInt(INDEF32);
    }
    x[TMP * 4 + i] = Number(r) | 0;
  }
  if (k === 2) {
    x[TMP * 4 + 2] = 0;
    x[TMP * 4 + 3] = 0;
  }
  commit(cpu, mx, op.d, k >= 5 ? 2 : 4);
}

// The general code the SSE templates (sseTemplates.ts) fall back to.
XS.cvtFromInt = (cpu, op) => cvtFromInt(cpu, op);

// ---- decoding --------------------------------------------------------------------------------------------

export function decodeSseConvert(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const code = ins.code;
  switch (m) {
    case Mnemonic.Cvtsd2si: case Mnemonic.Cvttsd2si: case Mnemonic.Cvtss2si: case Mnemonic.Cvttss2si: {
      const bits = m === Mnemonic.Cvtsd2si || m === Mnemonic.Cvttsd2si ? 64 : 32;
      op.imm = regGpr(ins, 0, op, 'd');
      if (op.imm === 0 || !rmXmm(ins, 1, op, bits, false)) return false;
      op.t = m === Mnemonic.Cvttsd2si || m === Mnemonic.Cvttss2si ? 1 : 0;
      return use(op, Mnemonic[m].toLowerCase(), cvtToInt);
    }
    case Mnemonic.Cvtsi2sd: case Mnemonic.Cvtsi2ss: {
      if (!regXmm(ins, 0, op, 'd')) return false;
      op.size = m === Mnemonic.Cvtsi2sd ? 64 : 32;
      if (ins.op1Kind === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
        op.imm = code === Code.Cvtsi2sd_xmm_rm64 || code === Code.Cvtsi2ss_xmm_rm64 ? 64 : 32;
      } else {
        op.imm = regGpr(ins, 1, op, 's');
        if (op.imm === 0) return false;
        if (m === Mnemonic.Cvtsi2sd) return useTemplate(op, cvtsi2sdTemplate(op.imm === 64 ? 64 : 32));
      }
      return use(op, Mnemonic[m].toLowerCase(), cvtFromInt);
    }
    case Mnemonic.Cvtsd2ss: case Mnemonic.Cvtss2sd: case Mnemonic.Cvtpd2ps: case Mnemonic.Cvtps2pd: {
      const k = [Mnemonic.Cvtsd2ss, Mnemonic.Cvtss2sd, Mnemonic.Cvtpd2ps, Mnemonic.Cvtps2pd].indexOf(m);
      const bits = [64, 32, 128, 64][k];
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, bits, k === 2)) return false;
      op.imm = k;
      return use(op, Mnemonic[m].toLowerCase(), cvtFloat);
    }
    case Mnemonic.Cvtdq2pd: case Mnemonic.Cvtdq2ps: case Mnemonic.Cvtpd2dq: case Mnemonic.Cvttpd2dq:
    case Mnemonic.Cvtps2dq: case Mnemonic.Cvttps2dq: {
      const k = m === Mnemonic.Cvtdq2pd ? 0 : m === Mnemonic.Cvtdq2ps ? 1 : m === Mnemonic.Cvtpd2dq || m === Mnemonic.Cvttpd2dq ? 2 : 3;
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, k === 0 ? 64 : 128, k !== 0)) return false;
      op.imm = k;
      op.t = m === Mnemonic.Cvttpd2dq || m === Mnemonic.Cvttps2dq ? 1 : 0;
      return use(op, Mnemonic[m].toLowerCase(), cvtPacked);
    }
    default:
      return false;
  }
}

