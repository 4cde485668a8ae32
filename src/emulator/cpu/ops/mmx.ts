// MMX (SDM vol. 1 chapter 9) and the SSE/SSE2 instructions on MMX registers: MOVD/MOVQ, EMMS, the packed
// integer set (PADD*/PSUB*, PCMP*, PACK*/PUNPCK*, logic, shifts, PMULLW/PMULHW/PMADDWD; SSE's PAVG*, PMIN*/
// PMAX*, PMULHUW, PSADBW, PSHUFW, PEXTRW/PINSRW, PMOVMSKB, MASKMOVQ, MOVNTQ; SSE2's PADDQ/PSUBQ, PMULUDQ),
// MOVQ2DQ/MOVDQ2Q and the conversions CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI.
//
// MMi is the significand of x87 register Ri (cpu.fpm), which is slot MM0_SLOT + i of cpu.xmm, so the packed
// integer handlers of sseInt.ts run on it unchanged (AUX_MMX selects the 64-bit width where lanes cross).
// Every MMX instruction then makes the x87-to-MMX transition (TOP = 0, all tags valid; ones in bits 79:64 of a
// written register: SDM vol. 1 9.5.1); EMMS tags every register empty (and, measured, sets TOP = 0).

import { type Instruction, Code, Mnemonic, OpKind } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { checkMmx, checkPendingX87, checkSse, mmxEnter } from '../fpu/fpuState.js';
import { setMem } from './operands.js';
import {
  AUX_MEM, AUX_MMX, MM0_SLOT, type H, regGpr, regMm, regXmm, rmMm, rmXmm, src, use, writeMem,
} from './sseCommon.js';
import { cvtPacked, cvtPackedFrom } from './sseConvert.js';
import { maskmov, packedIntHandler, pextrw, pinsrw, pmovmskb, pshufw } from './sseInt.js';

/** `core` (a shared SSE handler, or one below) then the transition; `writes`: the destination op.d is an MM register. */
function mmx(core: H, writes: boolean): H {
  return writes
    ? (cpu, op) => {
      core(cpu, op);
      mmxEnter(cpu, op.d);
    }
    : (cpu, op) => {
      core(cpu, op);
      mmxEnter(cpu, -1);
    };
}

/** MOVD/MOVQ mm, r/m32/64 and MOVQ mm, mm/m64: the value zero-extended to 64 bits. */
const movToMm: H = (cpu, op) => {
  const x = cpu.xmm, d = op.d * 4;
  if ((op.aux & AUX_MEM) !== 0 || op.t === 1) {
    const s = src(cpu, op) * 4;
    x[d] = x[s];
    x[d + 1] = op.size === 32 ? 0 : x[s + 1];
    return;
  }
  checkMmx(cpu);
  x[d] = cpu.lo[op.s];
  x[d + 1] = op.size === 64 ? cpu.hi[op.s] : 0;
};

/** MOVD/MOVQ r/m32/64, mm; MOVQ mm/m64, mm; MOVNTQ m64, mm. */
const movFromMm: H = (cpu, op) => {
  checkMmx(cpu);
  const x = cpu.xmm, s = op.s * 4;
  if ((op.aux & AUX_MEM) !== 0) {
    writeMem(cpu, op, op.s, op.size);
    return;
  }
  if (op.t === 1) {
    x[op.d * 4] = x[s];
    x[op.d * 4 + 1] = x[s + 1];
    return;
  }
  cpu.lo[op.d] = x[s];
  cpu.hi[op.d] = op.size === 64 ? x[s + 1] : 0;
};

/** EMMS: every x87 register empty (SDM EMMS) and, as measured on the host, TOP = 0; #MF first if an x87 exception is pending. */
const emms: H = (cpu) => {
  checkMmx(cpu);
  cpu.fpTop = 0;
  cpu.ftw = 0;
};

/**
 * The SSE forms with an MMX operand: SSE checks, a pending x87 exception (SDM MOVQ2DQ/MOVDQ2Q, vol. 3 tables
 * 22-4..22-6), the memory source read, then the transition, then the operation. Measured on the host: an
 * unmasked SIMD exception (#XM) leaves TOP = 0 and the tags valid but the destination (and its exponent)
 * unwritten; a memory fault leaves the x87 state untouched.
 */
function withMmOperand(core: (cpu: Cpu, op: Op, s: number) => void, writes: boolean): H {
  return (cpu, op) => {
    checkSse(cpu);
    checkPendingX87(cpu);
    const s = src(cpu, op);
    mmxEnter(cpu, -1);
    core(cpu, op, s);
    if (writes) mmxEnter(cpu, op.d);
  };
}

/** MOVQ2DQ xmm, mm (upper half zeroed) / MOVDQ2Q mm, xmm (low half). */
const movq2dq = (cpu: Cpu, op: Op, src: number): void => {
  const x = cpu.xmm, d = op.d * 4, s = src * 4;
  x[d] = x[s];
  x[d + 1] = x[s + 1];
  if (op.d < MM0_SLOT) {
    x[d + 2] = 0;
    x[d + 3] = 0;
  }
};

// One wrapper per shared handler, made at its first decode (not per instruction).
const wrapped = new Map<H, H>();
function wrap(fn: H): H {
  let w = wrapped.get(fn);
  if (w === undefined) {
    w = mmx(fn, true);
    wrapped.set(fn, w);
  }
  return w;
}

const H_MOV_TO = mmx(movToMm, true);
const H_MOV_FROM = mmx(movFromMm, false);
const H_MOV_FROM_MM = mmx(movFromMm, true);
const H_PMOVMSKB = mmx(pmovmskb, false);
const H_PEXTRW = mmx(pextrw, false);
const H_PINSRW = mmx(pinsrw, true);
const H_PSHUFW = mmx(pshufw, true);
/** MASKMOVQ makes the transition before its stores: measured, a #PF on them leaves TOP = 0 and the tags valid. */
const H_MASKMOVQ: H = (cpu, op) => {
  checkMmx(cpu);
  mmxEnter(cpu, -1);
  maskmov(cpu, op);
};
const H_MOVQ2DQ = withMmOperand(movq2dq, false);
const H_MOVDQ2Q = withMmOperand(movq2dq, true);
const H_CVT_FROM_MM = withMmOperand(cvtPackedFrom, false);
const H_CVT_TO_MM = withMmOperand(cvtPackedFrom, true);

/** Decode an MMX-register form; false if the instruction has none of its operands in MMX registers (or is not ours). */
export function decodeMmx(ins: Instruction, op: Op): boolean {
  const code = ins.code;
  const m = ins.mnemonic;
  if (code === Code.Emms) return use(op, 'mmx.emms', emms);
  const k0 = ins.op0Kind, k1 = ins.op1Kind;
  switch (code) {
    case Code.Movd_mm_rm32: case Code.Movq_mm_rm64: case Code.Movq_mm_mmm64:
      if (!regMm(ins, 0, op, 'd')) return false;
      op.aux |= AUX_MMX;
      op.size = code === Code.Movd_mm_rm32 ? 32 : 64;
      if (k1 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (code === Code.Movq_mm_mmm64) {
        if (!regMm(ins, 1, op, 's')) return false;
        op.t = 1;
      } else if (regGpr(ins, 1, op, 's') === 0) return false;
      return use(op, 'mmx.movd/q load', H_MOV_TO);
    case Code.Movd_rm32_mm: case Code.Movq_rm64_mm: case Code.Movq_mmm64_mm: case Code.Movntq_m64_mm:
      if (!regMm(ins, 1, op, 's')) return false;
      op.aux |= AUX_MMX;
      op.size = code === Code.Movd_rm32_mm ? 32 : 64;
      if (k0 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
        return use(op, 'mmx.movd/q store', H_MOV_FROM);
      }
      if (code === Code.Movq_mmm64_mm) {
        if (!regMm(ins, 0, op, 'd')) return false;
        op.t = 1;
        return use(op, 'mmx.movq mm, mm', H_MOV_FROM_MM);
      }
      if (regGpr(ins, 0, op, 'd') === 0) return false;
      return use(op, 'mmx.movd/q store', H_MOV_FROM);
    case Code.Pmovmskb_r32_mm: case Code.Pmovmskb_r64_mm:
      if (regGpr(ins, 0, op, 'd') === 0 || !regMm(ins, 1, op, 's')) return false;
      op.aux |= AUX_MMX;
      return use(op, 'mmx.pmovmskb', H_PMOVMSKB);
    case Code.Pextrw_r32_mm_imm8: case Code.Pextrw_r64_mm_imm8:
      if (regGpr(ins, 0, op, 'd') === 0 || !regMm(ins, 1, op, 's')) return false;
      op.aux |= AUX_MMX;
      op.imm = ins.immediate8;
      return use(op, 'mmx.pextrw', H_PEXTRW);
    case Code.Pinsrw_mm_r32m16_imm8: case Code.Pinsrw_mm_r64m16_imm8:
      if (!regMm(ins, 0, op, 'd')) return false;
      op.aux |= AUX_MMX;
      if (k1 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (regGpr(ins, 1, op, 's') === 0) return false;
      op.imm = ins.immediate8;
      return use(op, 'mmx.pinsrw', H_PINSRW);
    case Code.Pshufw_mm_mmm64_imm8:
      if (!regMm(ins, 0, op, 'd') || !rmMm(ins, 1, op, 64)) return false;
      op.imm = ins.immediate8;
      op.t = 0;
      return use(op, 'mmx.pshufw', H_PSHUFW);
    case Code.Maskmovq_rDI_mm_mm:
      if (!regMm(ins, 1, op, 'd') || !regMm(ins, 2, op, 's')) return false;
      op.aux |= AUX_MMX;
      return use(op, 'mmx.maskmovq', H_MASKMOVQ);
    case Code.Movq2dq_xmm_mm:
      if (!regXmm(ins, 0, op, 'd') || !regMm(ins, 1, op, 's')) return false;
      return use(op, 'movq2dq', H_MOVQ2DQ);
    case Code.Movdq2q_mm_xmm:
      if (!regMm(ins, 0, op, 'd') || !regXmm(ins, 1, op, 's')) return false;
      return use(op, 'movdq2q', H_MOVDQ2Q);
    case Code.Cvtpi2ps_xmm_mmm64: case Code.Cvtpi2pd_xmm_mmm64: {
      if (!regXmm(ins, 0, op, 'd')) return false;
      op.imm = code === Code.Cvtpi2ps_xmm_mmm64 ? 4 : 0;
      op.size = 64;
      // The m64 form does not touch the x87 state (no transition, no #MF: SDM CVTPI2PS/CVTPI2PD).
      if (k1 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
        return use(op, Mnemonic[m].toLowerCase(), cvtPacked);
      }
      if (!regMm(ins, 1, op, 's')) return false;
      return use(op, Mnemonic[m].toLowerCase(), H_CVT_FROM_MM);
    }
    case Code.Cvtps2pi_mm_xmmm64: case Code.Cvttps2pi_mm_xmmm64: case Code.Cvtpd2pi_mm_xmmm128: case Code.Cvttpd2pi_mm_xmmm128: {
      const pd = code === Code.Cvtpd2pi_mm_xmmm128 || code === Code.Cvttpd2pi_mm_xmmm128;
      if (!regMm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, pd ? 128 : 64, pd)) return false;
      op.imm = pd ? 5 : 6;
      op.t = code === Code.Cvttps2pi_mm_xmmm64 || code === Code.Cvttpd2pi_mm_xmmm128 ? 1 : 0;
      return use(op, Mnemonic[m].toLowerCase(), H_CVT_TO_MM);
    }
    default:
      break;
  }
  // The packed-integer set: "mm, mm/m64" (PUNPCKL* read m32) and the shifts by mm/m64 or imm8.
  const fn = packedIntHandler(m);
  if (fn === undefined || !regMm(ins, 0, op, 'd')) return false;
  if (k1 === OpKind.Immediate8) {
    op.aux |= AUX_MMX;
    op.t = 1;
    op.imm = ins.immediate8;
  } else {
    const m32 = code === Code.Punpcklbw_mm_mmm32 || code === Code.Punpcklwd_mm_mmm32 || code === Code.Punpckldq_mm_mmm32;
    if (!rmMm(ins, 1, op, m32 ? 32 : 64)) return false;
  }
  return use(op, `mmx.${Mnemonic[m].toLowerCase()}`, wrap(fn));
}
