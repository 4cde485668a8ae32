// SSE/SSE2 moves, logic and packed-integer instructions (SDM vol. 2; no MMX-register forms): MOVAPS/APD/DQA,
// MOVUPS/UPD/DQU, MOVNT*, MOVSS/MOVSD, MOVD/MOVQ, MOVLPS/LPD/HPS/HPD, MOVHLPS/LHPS, MOVMSKPS/PD, PMOVMSKB,
// AND/ANDN/OR/XOR (PS/PD/P), PADD/PSUB (B/W/D/Q, saturating), PCMPEQ/PCMPGT, PMIN/PMAX, PAVG, PMUL*, PMADDWD,
// PSADBW, PACK*, PUNPCK*, PSHUFD/HW/LW, shifts (including PSLLDQ/PSRLDQ), PEXTRW/PINSRW, SHUFPS/PD,
// UNPCK*PS/PD, MOVNTI, MASKMOVDQU.

import { type Instruction, Code, Mnemonic, OpKind } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { checkSse } from '../fpu/fpuState.js';
import { AUX_ALIGN, AUX_MEM, AUX_MMX, SRC, TMP, type H, avail, readMem, regGpr, regXmm, rmXmm, src, use, writeMem } from './sseCommon.js';
import { setMem } from './operands.js';
import { mov128LoadTemplate, mov128StoreTemplate, movsdLoadTemplate, movsdStoreTemplate } from './sseTemplates.js';
import { useTemplate } from './template.js';

// ---- moves --------------------------------------------------------------------------------------------

/** m128 <- xmm, or xmm <- xmm for the store-form encodings (register destination in op.d). */
const store128: H = (cpu, op) => {
  checkSse(cpu);
  if ((op.aux & AUX_MEM) !== 0) {
    writeMem(cpu, op, op.s, 128);
    return;
  }
  const x = cpu.xmm, d = op.d * 4, b = op.s * 4;
  x[d] = x[b]; x[d + 1] = x[b + 1]; x[d + 2] = x[b + 2]; x[d + 3] = x[b + 3];
};

/** MOVSS/MOVSD/MOVQ loads: from memory zero the rest; register MOVSS/MOVSD merge the low lane. op.imm = lanes (1 or 2). */
const movScalarLoad: H = (cpu, op) => {
  const s = src(cpu, op);
  const x = cpu.xmm, d = op.d * 4, b = s * 4;
  if (s === SRC || op.code === Code.Movq_xmm_xmmm64) {
    x[d] = x[b]; x[d + 1] = op.size === 32 ? 0 : x[b + 1]; x[d + 2] = 0; x[d + 3] = 0;
    return;
  }
  x[d] = x[b];
  if (op.imm === 2) x[d + 1] = x[b + 1];
};

/** MOVSS/MOVSD/MOVQ/MOVLPS/MOVLPD/MOVNTSS.. stores of the low op.size bits; register forms merge. */
const movScalarStore: H = (cpu, op) => {
  checkSse(cpu);
  if ((op.aux & AUX_MEM) !== 0) {
    writeMem(cpu, op, op.s, op.size);
    return;
  }
  const x = cpu.xmm, d = op.d * 4, b = op.s * 4;
  x[d] = x[b];
  if (op.size === 64) x[d + 1] = x[b + 1];
  if (op.code === Code.Movq_xmmm64_xmm) {
    x[d + 2] = 0; x[d + 3] = 0;
  }
};

/** MOVD/MOVQ xmm <- r/m32/64: zero-extends. */
const movdToXmm: H = (cpu, op) => {
  checkSse(cpu);
  const x = cpu.xmm, d = op.d * 4;
  if ((op.aux & AUX_MEM) !== 0) {
    readMem(cpu, op, SRC);
    x[d] = x[SRC * 4]; x[d + 1] = x[SRC * 4 + 1];
  } else {
    x[d] = cpu.lo[op.s];
    x[d + 1] = op.size === 64 ? cpu.hi[op.s] : 0;
  }
  if (op.size === 32) x[d + 1] = 0;
  x[d + 2] = 0; x[d + 3] = 0;
};

/** MOVD/MOVQ r/m32/64 <- xmm. */
const movdFromXmm: H = (cpu, op) => {
  checkSse(cpu);
  if ((op.aux & AUX_MEM) !== 0) {
    writeMem(cpu, op, op.s, op.size);
    return;
  }
  const x = cpu.xmm, b = op.s * 4;
  cpu.lo[op.d] = x[b];
  cpu.hi[op.d] = op.size === 64 ? x[b + 1] : 0;
};

/** MOVLPS/MOVLPD/MOVHPS/MOVHPD loads (op.imm = destination qword 0/1), MOVHLPS/MOVLHPS (register forms). */
const movHalfLoad: H = (cpu, op) => {
  const s = src(cpu, op);
  const x = cpu.xmm, d = op.d * 4 + op.imm * 2;
  const b = s * 4 + (op.aux & AUX_MEM ? 0 : op.t * 2);
  x[d] = x[b]; x[d + 1] = x[b + 1];
};

/** MOVHPS/MOVHPD m64 <- high qword. */
const movHighStore: H = (cpu, op) => {
  checkSse(cpu);
  const x = cpu.xmm, b = op.s * 4;
  x[TMP * 4] = x[b + 2];
  x[TMP * 4 + 1] = x[b + 3];
  writeMem(cpu, op, TMP, 64);
};

const movmskps: H = (cpu, op) => {
  checkSse(cpu);
  const x = cpu.xmm, b = op.s * 4;
  cpu.lo[op.d] = (x[b] >>> 31) | ((x[b + 1] >>> 31) << 1) | ((x[b + 2] >>> 31) << 2) | ((x[b + 3] >>> 31) << 3);
  cpu.hi[op.d] = 0;
};

const movmskpd: H = (cpu, op) => {
  checkSse(cpu);
  const x = cpu.xmm, b = op.s * 4;
  cpu.lo[op.d] = (x[b + 1] >>> 31) | ((x[b + 3] >>> 31) << 1);
  cpu.hi[op.d] = 0;
};

export const pmovmskb: H = (cpu, op) => {
  avail(cpu, op);
  const B = cpu.xmmB, b = op.s * 16, n = (op.aux & AUX_MMX) !== 0 ? 8 : 16;
  let m = 0;
  for (let i = 0; i < n; i++) m |= (B[b + i] >>> 7) << i;
  cpu.lo[op.d] = m;
  cpu.hi[op.d] = 0;
};

/** MOVNTI m32/64 <- r32/64. */
const movnti: H = (cpu, op) => {
  op.ea(cpu, op);
  if (op.size === 64) cpu.mmu.write64(cpu.eaLo, cpu.eaHi, cpu.lo[op.s], cpu.hi[op.s]);
  else cpu.mmu.write32(cpu.eaLo, cpu.eaHi, cpu.lo[op.s]);
};

/** MASKMOVDQU / MASKMOVQ: byte stores to [RDI] where the mask byte's top bit is set (only those bytes are accessed). */
export const maskmov: H = (cpu, op) => {
  avail(cpu, op);
  const B = cpu.xmmB, d = op.d * 16, m = op.s * 16, n = (op.aux & AUX_MMX) !== 0 ? 8 : 16;
  const lo = cpu.lo[7], hi = cpu.hi[7];
  // A fault on any byte stores none (measured: MASKMOVQ across the end of a mapped page writes nothing).
  cpu.mmu.probeWrite(lo, hi, n);
  for (let i = 0; i < n; i++) {
    if ((B[m + i] & 0x80) === 0) continue;
    const l = (lo + i) | 0;
    cpu.mmu.write8(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, B[d + i]);
  }
};

// ---- logic ---------------------------------------------------------------------------------------------

const pand: H = (cpu, op) => {
  const s = src(cpu, op) * 4, x = cpu.xmm, d = op.d * 4;
  x[d] &= x[s]; x[d + 1] &= x[s + 1]; x[d + 2] &= x[s + 2]; x[d + 3] &= x[s + 3];
};
const pandn: H = (cpu, op) => {
  const s = src(cpu, op) * 4, x = cpu.xmm, d = op.d * 4;
  x[d] = ~x[d] & x[s]; x[d + 1] = ~x[d + 1] & x[s + 1]; x[d + 2] = ~x[d + 2] & x[s + 2]; x[d + 3] = ~x[d + 3] & x[s + 3];
};
const por: H = (cpu, op) => {
  const s = src(cpu, op) * 4, x = cpu.xmm, d = op.d * 4;
  x[d] |= x[s]; x[d + 1] |= x[s + 1]; x[d + 2] |= x[s + 2]; x[d + 3] |= x[s + 3];
};
const pxor: H = (cpu, op) => {
  const s = src(cpu, op) * 4, x = cpu.xmm, d = op.d * 4;
  x[d] ^= x[s]; x[d + 1] ^= x[s + 1]; x[d + 2] ^= x[s + 2]; x[d + 3] ^= x[s + 3];
};

// ---- packed integer arithmetic ---------------------------------------------------------------------------

const satSB = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const satUB = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const satSW = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
const satUW = (v: number): number => (v > 65535 ? 65535 : v < 0 ? 0 : v);

/** Byte-lane operation f(a, b) on signed (S) or unsigned bytes. */
function bytes(name: string, signed: boolean, f: (a: number, b: number) => number): H {
  const h: H = (cpu, op) => {
    const s = src(cpu, op) * 16, d = op.d * 16;
    const B = signed ? cpu.xmmSB : cpu.xmmB;
    for (let i = 0; i < 16; i++) B[d + i] = f(B[d + i], B[s + i]);
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

function words(name: string, signed: boolean, f: (a: number, b: number) => number): H {
  const h: H = (cpu, op) => {
    const s = src(cpu, op) * 8, d = op.d * 8;
    const W = signed ? cpu.xmmSW : cpu.xmmW;
    for (let i = 0; i < 8; i++) W[d + i] = f(W[d + i], W[s + i]);
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

function dwords(name: string, f: (a: number, b: number) => number): H {
  const h: H = (cpu, op) => {
    const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
    x[d] = f(x[d], x[s]); x[d + 1] = f(x[d + 1], x[s + 1]); x[d + 2] = f(x[d + 2], x[s + 2]); x[d + 3] = f(x[d + 3], x[s + 3]);
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

const paddq: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
  for (let k = 0; k < 4; k += 2) {
    const l = (x[d + k] >>> 0) + (x[s + k] >>> 0);
    x[d + k] = l | 0;
    x[d + k + 1] = (x[d + k + 1] + x[s + k + 1] + (l > 0xffffffff ? 1 : 0)) | 0;
  }
};
const psubq: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
  for (let k = 0; k < 4; k += 2) {
    const a = x[d + k] >>> 0, b = x[s + k] >>> 0;
    x[d + k] = (a - b) | 0;
    x[d + k + 1] = (x[d + k + 1] - x[s + k + 1] - (a < b ? 1 : 0)) | 0;
  }
};

const pmulhuw = words('pmulhuw', false, (a, b) => (a * b) >>> 16);
const pmulhw = words('pmulhw', true, (a, b) => (a * b) >> 16);
const pmullw = words('pmullw', false, (a, b) => Math.imul(a, b));

const pmuludq: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm;
  for (let k = 0; k < 4; k += 2) {
    const a = x[d + k] >>> 0, b = x[s + k] >>> 0;
    // 32x32 -> 64 exactly: split b in 16-bit halves.
    const lo = Math.imul(a, b);
    const p1 = a * (b & 0xffff);
    const p2 = a * (b >>> 16);
    const hi = Math.floor((p1 + (p2 % 65536) * 65536) / 4294967296) + Math.floor(p2 / 65536);
    x[d + k] = lo;
    x[d + k + 1] = hi | 0;
  }
};

const pmaddwd: H = (cpu, op) => {
  const s = src(cpu, op) * 8, d = op.d * 8, W = cpu.xmmSW, x = cpu.xmm;
  for (let i = 0; i < 4; i++) {
    const v = W[d + 2 * i] * W[s + 2 * i] + W[d + 2 * i + 1] * W[s + 2 * i + 1];
    x[TMP * 4 + i] = v | 0;
  }
  x.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};

const psadbw: H = (cpu, op) => {
  const s = src(cpu, op) * 16, d = op.d * 16, B = cpu.xmmB, x = cpu.xmm;
  for (let h = 0; h < 2; h++) {
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Math.abs(B[d + 8 * h + i] - B[s + 8 * h + i]);
    x[op.d * 4 + 2 * h] = sum;
    x[op.d * 4 + 2 * h + 1] = 0;
  }
};

// ---- pack / unpack / shuffle ------------------------------------------------------------------------------

// The packs take half the result from each operand: 8 elements each for XMM, 4 for MMX.
const packsswb: H = (cpu, op) => {
  const s = src(cpu, op) * 8, d = op.d * 8, W = cpu.xmmSW, SB = cpu.xmmSB, t = TMP * 16, h = (op.aux & AUX_MMX) !== 0 ? 4 : 8;
  for (let i = 0; i < h; i++) SB[t + i] = satSB(W[d + i]);
  for (let i = 0; i < h; i++) SB[t + h + i] = satSB(W[s + i]);
  cpu.xmm.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};
const packuswb: H = (cpu, op) => {
  const s = src(cpu, op) * 8, d = op.d * 8, W = cpu.xmmSW, B = cpu.xmmB, t = TMP * 16, h = (op.aux & AUX_MMX) !== 0 ? 4 : 8;
  for (let i = 0; i < h; i++) B[t + i] = satUB(W[d + i]);
  for (let i = 0; i < h; i++) B[t + h + i] = satUB(W[s + i]);
  cpu.xmm.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};
const packssdw: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm, SW = cpu.xmmSW, t = TMP * 8, h = (op.aux & AUX_MMX) !== 0 ? 2 : 4;
  for (let i = 0; i < h; i++) SW[t + i] = satSW(x[d + i]);
  for (let i = 0; i < h; i++) SW[t + h + i] = satSW(x[s + i]);
  x.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};

/**
 * PUNPCKL/H: interleave elements of `bytesPer` bytes from the low (half 0) or high (half 1) halves (of 8
 * bytes for XMM, 4 for MMX; for MMX the elements past the register land in the slot's scratch half).
 */
function unpack(name: string, bytesPer: number, half: number): H {
  const h: H = (cpu, op) => {
    const s = src(cpu, op) * 16, d = op.d * 16, B = cpu.xmmB, t = TMP * 16;
    const n = 8 / bytesPer, o = half * ((op.aux & AUX_MMX) !== 0 ? 4 : 8);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < bytesPer; k++) {
        B[t + 2 * i * bytesPer + k] = B[d + o + i * bytesPer + k];
        B[t + (2 * i + 1) * bytesPer + k] = B[s + o + i * bytesPer + k];
      }
    }
    cpu.xmm.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

const pshufd: H = (cpu, op) => {
  const s = src(cpu, op) * 4, x = cpu.xmm, i = op.imm, t = TMP * 4;
  x[t] = x[s + (i & 3)]; x[t + 1] = x[s + ((i >> 2) & 3)]; x[t + 2] = x[s + ((i >> 4) & 3)]; x[t + 3] = x[s + ((i >> 6) & 3)];
  x.copyWithin(op.d * 4, t, t + 4);
};
/** PSHUFLW (op.t = 0) / PSHUFHW (op.t = 1); PSHUFW mm is PSHUFLW's low half. */
export const pshufw: H = (cpu, op) => {
  const s = src(cpu, op), x = cpu.xmm, W = cpu.xmmW, i = op.imm, t = TMP * 8, h = op.t * 4;
  x.copyWithin(TMP * 4, s * 4, s * 4 + 4);
  const b = s * 8 + h;
  for (let k = 0; k < 4; k++) W[t + h + k] = W[b + ((i >> (2 * k)) & 3)];
  x.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};
const shufps: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm, i = op.imm, t = TMP * 4;
  x[t] = x[d + (i & 3)]; x[t + 1] = x[d + ((i >> 2) & 3)]; x[t + 2] = x[s + ((i >> 4) & 3)]; x[t + 3] = x[s + ((i >> 6) & 3)];
  x.copyWithin(d, t, t + 4);
};
const shufpd: H = (cpu, op) => {
  const s = src(cpu, op) * 4, d = op.d * 4, x = cpu.xmm, i = op.imm, t = TMP * 4;
  const a = d + (i & 1) * 2, b = s + ((i >> 1) & 1) * 2;
  x[t] = x[a]; x[t + 1] = x[a + 1]; x[t + 2] = x[b]; x[t + 3] = x[b + 1];
  x.copyWithin(d, t, t + 4);
};

// ---- shifts ------------------------------------------------------------------------------------------------

/** The shift count: imm8, or the low 64 bits of the xmm/m128 source (as a number; >= 2^32 counts as huge). */
function count(cpu: Cpu, op: Op): number {
  if (op.t === 1) return op.imm & 255;
  const s = src(cpu, op) * 4;
  return cpu.xmm[s + 1] !== 0 ? 0xffffffff : cpu.xmm[s] >>> 0;
}

function shiftOp(name: string, width: number, kind: 'l' | 'r' | 'a'): H {
  const h: H = (cpu, op) => {
    if (op.t === 1) avail(cpu, op);
    const c = count(cpu, op);
    const x = cpu.xmm;
    if (width === 16) {
      const W = cpu.xmmW, SW = cpu.xmmSW, d = op.d * 8;
      for (let i = 0; i < 8; i++) {
        if (kind === 'a') SW[d + i] = SW[d + i] >> (c > 15 ? 15 : c);
        else if (c > 15) W[d + i] = 0;
        else W[d + i] = kind === 'l' ? W[d + i] << c : W[d + i] >>> c;
      }
    } else if (width === 32) {
      const d = op.d * 4;
      for (let i = 0; i < 4; i++) {
        if (kind === 'a') x[d + i] = x[d + i] >> (c > 31 ? 31 : c);
        else if (c > 31) x[d + i] = 0;
        else x[d + i] = kind === 'l' ? x[d + i] << c : x[d + i] >>> c;
      }
    } else {
      const d = op.d * 4;
      for (let k = 0; k < 4; k += 2) {
        const lo = x[d + k], hi = x[d + k + 1];
        if (c > 63) { x[d + k] = 0; x[d + k + 1] = 0; }
        else if (c === 0) { /* unchanged */ }
        else if (kind === 'l') {
          if (c >= 32) { x[d + k + 1] = lo << (c - 32); x[d + k] = 0; }
          else { x[d + k + 1] = (hi << c) | (lo >>> (32 - c)); x[d + k] = lo << c; }
        } else if (c >= 32) { x[d + k] = hi >>> (c - 32); x[d + k + 1] = 0; }
        else { x[d + k] = (lo >>> c) | (hi << (32 - c)); x[d + k + 1] = hi >>> c; }
      }
    }
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

/** PSLLDQ (op.t = 0) / PSRLDQ (op.t = 1) by imm8 bytes. */
const pshiftdq: H = (cpu, op) => {
  checkSse(cpu);
  const n = op.imm & 255, B = cpu.xmmB, d = op.d * 16, t = TMP * 16;
  for (let i = 0; i < 16; i++) {
    const from = op.t === 0 ? i - n : i + n;
    B[t + i] = from >= 0 && from < 16 ? B[d + from] : 0;
  }
  cpu.xmm.copyWithin(op.d * 4, TMP * 4, TMP * 4 + 4);
};

export const pextrw: H = (cpu, op) => {
  avail(cpu, op);
  cpu.lo[op.d] = cpu.xmmW[op.s * 8 + (op.imm & ((op.aux & AUX_MMX) !== 0 ? 3 : 7))];
  cpu.hi[op.d] = 0;
};
export const pinsrw: H = (cpu, op) => {
  avail(cpu, op);
  let v: number;
  if ((op.aux & AUX_MEM) !== 0) {
    op.ea(cpu, op);
    v = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  } else v = cpu.lo[op.s] & 0xffff;
  cpu.xmmW[op.d * 8 + (op.imm & ((op.aux & AUX_MMX) !== 0 ? 3 : 7))] = v;
};

// ---- the table -------------------------------------------------------------------------------------------

/** "xmm, xmm/m128" forms (memory needs 16-byte alignment). */
const BINARY: Partial<Record<Mnemonic, H>> = {
  [Mnemonic.Pand]: pand, [Mnemonic.Andps]: pand, [Mnemonic.Andpd]: pand,
  [Mnemonic.Pandn]: pandn, [Mnemonic.Andnps]: pandn, [Mnemonic.Andnpd]: pandn,
  [Mnemonic.Por]: por, [Mnemonic.Orps]: por, [Mnemonic.Orpd]: por,
  [Mnemonic.Pxor]: pxor, [Mnemonic.Xorps]: pxor, [Mnemonic.Xorpd]: pxor,
  [Mnemonic.Paddb]: bytes('paddb', false, (a, b) => a + b),
  [Mnemonic.Paddw]: words('paddw', false, (a, b) => a + b),
  [Mnemonic.Paddd]: dwords('paddd', (a, b) => (a + b) | 0),
  [Mnemonic.Paddq]: paddq,
  [Mnemonic.Psubb]: bytes('psubb', false, (a, b) => a - b),
  [Mnemonic.Psubw]: words('psubw', false, (a, b) => a - b),
  [Mnemonic.Psubd]: dwords('psubd', (a, b) => (a - b) | 0),
  [Mnemonic.Psubq]: psubq,
  [Mnemonic.Paddsb]: bytes('paddsb', true, (a, b) => satSB(a + b)),
  [Mnemonic.Paddsw]: words('paddsw', true, (a, b) => satSW(a + b)),
  [Mnemonic.Paddusb]: bytes('paddusb', false, (a, b) => satUB(a + b)),
  [Mnemonic.Paddusw]: words('paddusw', false, (a, b) => satUW(a + b)),
  [Mnemonic.Psubsb]: bytes('psubsb', true, (a, b) => satSB(a - b)),
  [Mnemonic.Psubsw]: words('psubsw', true, (a, b) => satSW(a - b)),
  [Mnemonic.Psubusb]: bytes('psubusb', false, (a, b) => satUB(a - b)),
  [Mnemonic.Psubusw]: words('psubusw', false, (a, b) => satUW(a - b)),
  [Mnemonic.Pcmpeqb]: bytes('pcmpeqb', false, (a, b) => (a === b ? 255 : 0)),
  [Mnemonic.Pcmpeqw]: words('pcmpeqw', false, (a, b) => (a === b ? 65535 : 0)),
  [Mnemonic.Pcmpeqd]: dwords('pcmpeqd', (a, b) => (a === b ? -1 : 0)),
  [Mnemonic.Pcmpgtb]: bytes('pcmpgtb', true, (a, b) => (a > b ? -1 : 0)),
  [Mnemonic.Pcmpgtw]: words('pcmpgtw', true, (a, b) => (a > b ? -1 : 0)),
  [Mnemonic.Pcmpgtd]: dwords('pcmpgtd', (a, b) => (a > b ? -1 : 0)),
  [Mnemonic.Pminub]: bytes('pminub', false, (a, b) => (a < b ? a : b)),
  [Mnemonic.Pmaxub]: bytes('pmaxub', false, (a, b) => (a > b ? a : b)),
  [Mnemonic.Pminsw]: words('pminsw', true, (a, b) => (a < b ? a : b)),
  [Mnemonic.Pmaxsw]: words('pmaxsw', true, (a, b) => (a > b ? a : b)),
  [Mnemonic.Pavgb]: bytes('pavgb', false, (a, b) => (a + b + 1) >> 1),
  [Mnemonic.Pavgw]: words('pavgw', false, (a, b) => (a + b + 1) >> 1),
  [Mnemonic.Pmullw]: pmullw, [Mnemonic.Pmulhw]: pmulhw, [Mnemonic.Pmulhuw]: pmulhuw,
  [Mnemonic.Pmuludq]: pmuludq, [Mnemonic.Pmaddwd]: pmaddwd, [Mnemonic.Psadbw]: psadbw,
  [Mnemonic.Packsswb]: packsswb, [Mnemonic.Packuswb]: packuswb, [Mnemonic.Packssdw]: packssdw,
  [Mnemonic.Punpcklbw]: unpack('punpcklbw', 1, 0), [Mnemonic.Punpckhbw]: unpack('punpckhbw', 1, 1),
  [Mnemonic.Punpcklwd]: unpack('punpcklwd', 2, 0), [Mnemonic.Punpckhwd]: unpack('punpckhwd', 2, 1),
  [Mnemonic.Punpckldq]: unpack('punpckldq', 4, 0), [Mnemonic.Punpckhdq]: unpack('punpckhdq', 4, 1),
  [Mnemonic.Punpcklqdq]: unpack('punpcklqdq', 8, 0), [Mnemonic.Punpckhqdq]: unpack('punpckhqdq', 8, 1),
  [Mnemonic.Unpcklps]: unpack('unpcklps', 4, 0), [Mnemonic.Unpckhps]: unpack('unpckhps', 4, 1),
  [Mnemonic.Unpcklpd]: unpack('unpcklpd', 8, 0), [Mnemonic.Unpckhpd]: unpack('unpckhpd', 8, 1),
};

const SHIFTS: Partial<Record<Mnemonic, H>> = {
  [Mnemonic.Psllw]: shiftOp('psllw', 16, 'l'), [Mnemonic.Pslld]: shiftOp('pslld', 32, 'l'), [Mnemonic.Psllq]: shiftOp('psllq', 64, 'l'),
  [Mnemonic.Psrlw]: shiftOp('psrlw', 16, 'r'), [Mnemonic.Psrld]: shiftOp('psrld', 32, 'r'), [Mnemonic.Psrlq]: shiftOp('psrlq', 64, 'r'),
  [Mnemonic.Psraw]: shiftOp('psraw', 16, 'a'), [Mnemonic.Psrad]: shiftOp('psrad', 32, 'a'),
};

/** The packed-integer handler of a mnemonic ("xmm, xmm/m128" or shift forms), shared with the MMX forms. */
export function packedIntHandler(m: Mnemonic): H | undefined {
  return BINARY[m] ?? SHIFTS[m];
}

const ALIGNED_MOVES = new Set<Mnemonic>([Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movdqa, Mnemonic.Movntps, Mnemonic.Movntpd, Mnemonic.Movntdq]);
const UNALIGNED_MOVES = new Set<Mnemonic>([Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqu]);

/** Decode an SSE/SSE2 move, logic or integer instruction; false if not one of ours. */
export function decodeSseInt(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const code = ins.code;
  const k0 = ins.op0Kind;
  const bin = BINARY[m];
  if (bin !== undefined) {
    if (ins.opCount !== 2 || !regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, 128, true)) return false;
    return use(op, Mnemonic[m].toLowerCase(), bin);
  }
  const sh = SHIFTS[m];
  if (sh !== undefined) {
    if (!regXmm(ins, 0, op, 'd')) return false;
    if (ins.op1Kind === OpKind.Immediate8) {
      op.t = 1;
      op.imm = ins.immediate8;
    } else if (!rmXmm(ins, 1, op, 128, true)) return false;
    return use(op, Mnemonic[m].toLowerCase(), sh);
  }
  if (ALIGNED_MOVES.has(m) || UNALIGNED_MOVES.has(m)) {
    const aligned = ALIGNED_MOVES.has(m);
    if (k0 === OpKind.Register) {
      if (!regXmm(ins, 0, op, 'd')) return false;
      if (ins.op1Kind === OpKind.Register) {
        if (!regXmm(ins, 1, op, 's')) return false;
        return useTemplate(op, mov128LoadTemplate(false, false));
      }
      if (!rmXmm(ins, 1, op, 128, aligned)) return false;
      return useTemplate(op, mov128LoadTemplate(true, aligned));
    }
    if (k0 === OpKind.Memory) {
      setMem(ins, op);
      op.aux |= AUX_MEM | (aligned ? AUX_ALIGN : 0);
      if (!regXmm(ins, 1, op, 's')) return false;
      return useTemplate(op, mov128StoreTemplate(aligned));
    } else if (!regXmm(ins, 0, op, 'd')) return false;
    if (!regXmm(ins, 1, op, 's')) return false;
    return use(op, 'movdqa store', store128);
  }
  switch (code) {
    case Code.Movss_xmm_xmmm32: case Code.Movsd_xmm_xmmm64: case Code.Movq_xmm_xmmm64: {
      const bits = code === Code.Movss_xmm_xmmm32 ? 32 : 64;
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, bits, false)) return false;
      op.imm = bits === 32 ? 1 : 2;
      const mem = (op.aux & AUX_MEM) !== 0;
      if (code === Code.Movsd_xmm_xmmm64 || (code === Code.Movq_xmm_xmmm64 && mem)) return useTemplate(op, movsdLoadTemplate(mem));
      return use(op, 'movs load', movScalarLoad);
    }
    case Code.Movss_xmmm32_xmm: case Code.Movsd_xmmm64_xmm: case Code.Movq_xmmm64_xmm:
    case Code.Movlps_m64_xmm: case Code.Movlpd_m64_xmm: case Code.Movntss_m32_xmm: case Code.Movntsd_m64_xmm: {
      const bits = code === Code.Movss_xmmm32_xmm || code === Code.Movntss_m32_xmm ? 32 : 64;
      if (!regXmm(ins, 1, op, 's')) return false;
      if (k0 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (!regXmm(ins, 0, op, 'd')) return false;
      op.size = bits;
      if (k0 === OpKind.Memory && bits === 64) return useTemplate(op, movsdStoreTemplate());
      return use(op, 'movs store', movScalarStore);
    }
    case Code.Movd_xmm_rm32: case Code.Movq_xmm_rm64: {
      if (!regXmm(ins, 0, op, 'd')) return false;
      op.size = code === Code.Movd_xmm_rm32 ? 32 : 64;
      if (ins.op1Kind === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (regGpr(ins, 1, op, 's') === 0) return false;
      return use(op, 'movd load', movdToXmm);
    }
    case Code.Movd_rm32_xmm: case Code.Movq_rm64_xmm: {
      if (!regXmm(ins, 1, op, 's')) return false;
      op.size = code === Code.Movd_rm32_xmm ? 32 : 64;
      if (k0 === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (regGpr(ins, 0, op, 'd') === 0) return false;
      return use(op, 'movd store', movdFromXmm);
    }
    case Code.Movlps_xmm_m64: case Code.Movlpd_xmm_m64: case Code.Movhps_xmm_m64: case Code.Movhpd_xmm_m64:
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, 64, false)) return false;
      op.imm = code === Code.Movhps_xmm_m64 || code === Code.Movhpd_xmm_m64 ? 1 : 0;
      return use(op, 'movlp/hp load', movHalfLoad);
    case Code.Movhlps_xmm_xmm: case Code.Movlhps_xmm_xmm:
      if (!regXmm(ins, 0, op, 'd') || !regXmm(ins, 1, op, 's')) return false;
      op.imm = code === Code.Movlhps_xmm_xmm ? 1 : 0;
      op.t = code === Code.Movhlps_xmm_xmm ? 1 : 0;
      return use(op, 'movhlps/lhps', movHalfLoad);
    case Code.Movhps_m64_xmm: case Code.Movhpd_m64_xmm:
      if (!regXmm(ins, 1, op, 's')) return false;
      setMem(ins, op);
      op.aux |= AUX_MEM;
      return use(op, 'movhp store', movHighStore);
    case Code.Movmskps_r32_xmm: case Code.Movmskps_r64_xmm: case Code.Movmskpd_r32_xmm: case Code.Movmskpd_r64_xmm:
    case Code.Pmovmskb_r32_xmm: case Code.Pmovmskb_r64_xmm:
      if (regGpr(ins, 0, op, 'd') === 0 || !regXmm(ins, 1, op, 's')) return false;
      return use(op, Mnemonic[m].toLowerCase(), m === Mnemonic.Movmskps ? movmskps : m === Mnemonic.Movmskpd ? movmskpd : pmovmskb);
    case Code.Movnti_m32_r32: case Code.Movnti_m64_r64:
      setMem(ins, op);
      op.size = regGpr(ins, 1, op, 's');
      return use(op, 'movnti', movnti);
    case Code.Maskmovdqu_rDI_xmm_xmm:
      if (!regXmm(ins, 1, op, 'd') || !regXmm(ins, 2, op, 's')) return false;
      return use(op, 'maskmovdqu', maskmov);
    case Code.Pshufd_xmm_xmmm128_imm8: case Code.Pshuflw_xmm_xmmm128_imm8: case Code.Pshufhw_xmm_xmmm128_imm8:
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, 128, true)) return false;
      op.imm = ins.immediate8;
      if (code === Code.Pshufd_xmm_xmmm128_imm8) return use(op, 'pshufd', pshufd);
      op.t = code === Code.Pshufhw_xmm_xmmm128_imm8 ? 1 : 0;
      return use(op, 'pshuflw/hw', pshufw);
    case Code.Shufps_xmm_xmmm128_imm8: case Code.Shufpd_xmm_xmmm128_imm8:
      if (!regXmm(ins, 0, op, 'd') || !rmXmm(ins, 1, op, 128, true)) return false;
      op.imm = ins.immediate8;
      return use(op, Mnemonic[m].toLowerCase(), m === Mnemonic.Shufps ? shufps : shufpd);
    case Code.Pslldq_xmm_imm8: case Code.Psrldq_xmm_imm8:
      if (!regXmm(ins, 0, op, 'd')) return false;
      op.imm = ins.immediate8;
      op.t = code === Code.Psrldq_xmm_imm8 ? 1 : 0;
      return use(op, 'pslldq/psrldq', pshiftdq);
    case Code.Pextrw_r32_xmm_imm8: case Code.Pextrw_r64_xmm_imm8:
      if (regGpr(ins, 0, op, 'd') === 0 || !regXmm(ins, 1, op, 's')) return false;
      op.imm = ins.immediate8;
      return use(op, 'pextrw', pextrw);
    case Code.Pinsrw_xmm_r32m16_imm8: case Code.Pinsrw_xmm_r64m16_imm8:
      if (!regXmm(ins, 0, op, 'd')) return false;
      if (ins.op1Kind === OpKind.Memory) {
        setMem(ins, op);
        op.aux |= AUX_MEM;
      } else if (regGpr(ins, 1, op, 's') === 0) return false;
      op.imm = ins.immediate8;
      return use(op, 'pinsrw', pinsrw);
    default:
      return false;
  }
}
