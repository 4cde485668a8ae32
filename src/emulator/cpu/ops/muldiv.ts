// MUL IMUL (one, two and three operands) DIV IDIV (SDM vol. 2). Products are exact 128-bit via 16-bit
// limbs, quotients exact via 32-bit limbs (no BigInt). #DE on a zero divisor or a quotient that does not
// fit (SDM DIV/IDIV).

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Handler, Op } from '../Op.js';
import { K_EAGER, PARITY } from '../flags.js';
import { Vector } from '../faults.js';
import { decodeRegRm, decodeRm, isImm, setImm } from './operands.js';
import { readDst, readSource, writeReg } from './operandAccess.js';

/** op.aux bit of IMUL r, r/m, imm: the third operand is an immediate (op.imm/immh). */
const AUX_IMM = 2;

/** Result of mul128: four 32-bit words, little endian (as int32). */
const W = new Int32Array(4);
const TWO32 = 4294967296;

// Unsigned 32 x 32 -> 64 product, exact, in (m32lo, m32hi): 16-bit halves keep every partial sum exact in
// a double (< 2^53) without allocating.
let m32lo = 0;
let m32hi = 0;
function mul32(a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const midLo = mid % 65536;
  const low = a0 * b0 + midLo * 65536; // < 2^33
  const lo = low >>> 0;
  m32lo = lo | 0;
  m32hi = (a1 * b1 + (mid - midLo) / 65536 + (low - lo) / TWO32) | 0;
}

/** Unsigned 64 x 64 -> 128 product of (al, ah) and (bl, bh) into W (schoolbook on 32-bit words). */
function mul128(al: number, ah: number, bl: number, bh: number): void {
  mul32(al, bl);
  const p00l = m32lo >>> 0;
  const p00h = m32hi >>> 0;
  let p01l = 0;
  let p01h = 0;
  let p10l = 0;
  let p10h = 0;
  let p11l = 0;
  let p11h = 0;
  // Operands that fit in 32 bits (the common case: small immediates, counters) skip partial products.
  if (bh !== 0) {
    mul32(al, bh);
    p01l = m32lo >>> 0;
    p01h = m32hi >>> 0;
  }
  if (ah !== 0) {
    mul32(ah, bl);
    p10l = m32lo >>> 0;
    p10h = m32hi >>> 0;
    if (bh !== 0) {
      mul32(ah, bh);
      p11l = m32lo >>> 0;
      p11h = m32hi >>> 0;
    }
  }
  const w1 = p00h + p01l + p10l; // < 3 * 2^32
  const w1lo = w1 >>> 0;
  const w2 = p01h + p10h + p11l + (w1 - w1lo) / TWO32;
  const w2lo = w2 >>> 0;
  W[0] = p00l | 0;
  W[1] = w1lo | 0;
  W[2] = w2lo | 0;
  W[3] = (p11h + (w2 - w2lo) / TWO32) | 0;
}

/** Signed 64 x 64 -> 128 into W: unsigned product, then subtract b (a) from the high half if a (b) < 0. */
function imul128(al: number, ah: number, bl: number, bh: number): void {
  mul128(al, ah, bl, bh);
  if (ah < 0) sub64High(bl, bh);
  if (bh < 0) sub64High(al, ah);
}

function sub64High(l: number, h: number): void {
  const lo = (W[2] - l) | 0;
  const borrow = (W[2] >>> 0) < (l >>> 0) ? 1 : 0;
  W[2] = lo;
  W[3] = (W[3] - h - borrow) | 0;
}

function setMulFlags(cpu: Cpu, overflow: boolean, lowResult: number): void {
  // CF = OF = overflow; SF ZF AF PF are undefined (SDM MUL/IMUL): we derive SF/ZF/PF from the low result.
  cpu.fk = K_EAGER;
  cpu.fx = (overflow ? 0x801 : 0) | PARITY[lowResult & 0xff] | (lowResult === 0 ? 0x40 : 0);
}

/** Sign-extend a normalised value of `size` (< 64) bits to int32 (its high word is then `x >> 31`). */
function sx32(v: number, size: number): number {
  return size === 8 ? (v << 24) >> 24 : size === 16 ? (v << 16) >> 16 : v | 0;
}

/** One-operand MUL / IMUL: rDX:rAX = rAX * src (AX = AL * src for bytes). */
function mulOne(signed: boolean) {
  return (cpu: Cpu, op: Op): void => {
    readDst(cpu, op);
    const size = op.size;
    const L = cpu.lo;
    const H = cpu.hi;
    if (size === 64) {
      if (signed) imul128(L[0], H[0], cpu.t0, cpu.t1);
      else mul128(L[0], H[0], cpu.t0, cpu.t1);
      L[0] = W[0]; H[0] = W[1]; L[2] = W[2]; H[2] = W[3];
      const ovf = signed ? !(W[2] === W[1] >> 31 && W[3] === W[1] >> 31) : (W[2] | W[3]) !== 0;
      setMulFlags(cpu, ovf, W[0] | W[1]);
      return;
    }
    const mask = size === 8 ? 0xff : size === 16 ? 0xffff : -1;
    const a = L[0] & mask;
    const b = cpu.t0;
    if (signed) {
      const al = sx32(a, size);
      const bl = sx32(b, size);
      imul128(al, al >> 31, bl, bl >> 31);
    } else {
      mul128(a, 0, b & mask, 0);
    }
    const lowN = W[0] & mask;
    let ovf: boolean;
    if (size === 32) {
      ovf = signed ? W[1] !== W[0] >> 31 : W[1] !== 0;
      L[0] = W[0]; H[0] = 0; L[2] = W[1]; H[2] = 0;
    } else if (size === 16) {
      const hiN = (W[0] >>> 16) & 0xffff;
      ovf = signed ? ((W[0] << 16) >> 16) !== W[0] : hiN !== 0;
      L[0] = (L[0] & -65536) | lowN;
      L[2] = (L[2] & -65536) | hiN;
    } else {
      // AX = AL * r/m8.
      ovf = signed ? ((W[0] << 24) >> 24) !== ((W[0] << 16) >> 16) : (W[0] & 0xff00) !== 0;
      L[0] = (L[0] & -65536) | (W[0] & 0xffff);
    }
    setMulFlags(cpu, ovf, lowN);
  };
}

/** IMUL r, r/m (, imm): truncated signed product (SDM IMUL two- and three-operand forms). */
function imulTwo(cpu: Cpu, op: Op): void {
  const size = op.size;
  const L = cpu.lo;
  const H = cpu.hi;
  readSource(cpu, op);
  let bl: number;
  let bh: number;
  if (size === 64) {
    bl = cpu.t0;
    bh = cpu.t1;
  } else {
    bl = sx32(cpu.t0, size);
    bh = bl >> 31;
  }
  let al: number;
  let ah: number;
  if ((op.aux & AUX_IMM) !== 0) {
    // Three-operand form: multiply by the immediate (sign-extended), not by the destination.
    if (size === 64) {
      al = op.imm;
      ah = op.immh;
    } else {
      al = sx32(size === 16 ? op.imm & 0xffff : op.imm, size);
      ah = al >> 31;
    }
  } else if (size === 64) {
    al = L[op.d];
    ah = H[op.d];
  } else {
    al = sx32(size === 16 ? L[op.d] & 0xffff : L[op.d], size);
    ah = al >> 31;
  }
  if (size === 32) {
    const lo = Math.imul(al, bl);
    const exact = al * bl; // a double: exact below 2^53, and differs from lo whenever it overflows 32 bits
    L[op.d] = lo;
    H[op.d] = 0;
    setMulFlags(cpu, exact !== lo, lo);
    return;
  }
  imul128(al, ah, bl, bh);
  if (size === 64) {
    L[op.d] = W[0];
    H[op.d] = W[1];
    setMulFlags(cpu, !(W[2] === W[1] >> 31 && W[3] === W[1] >> 31), W[0] | W[1]);
    return;
  }
  const r = W[0] & 0xffff;
  L[op.d] = (L[op.d] & -65536) | r;
  setMulFlags(cpu, ((W[0] << 16) >> 16) !== W[0] || W[1] !== W[0] >> 31, r);
}

// Quotient and remainder of the last udivCore, as uint32 limbs (module scratch: no per-instruction allocation).
let q0 = 0;
let q1 = 0;
let r0 = 0;
let r1 = 0;

/**
 * Unsigned (h1:h0 * 2^size + l1:l0) / (d1:d0) for operand size `size`, all limbs uint32 Numbers (h1, l1, d1
 * are 0 below 64 bits; the divisor is nonzero). Returns false when the quotient does not fit in `size` bits,
 * i.e. when the high half is not below the divisor (SDM DIV: #DE). Exact: a dividend below 2^53 is divided in
 * doubles (floor(n / d) is exact there because q * d <= n < 2^53), anything else bit by bit (restoring
 * division, one quotient bit per step as in the SDM's pseudo-code definition of DIV).
 */
function udivCore(h1: number, h0: number, l1: number, l0: number, d1: number, d0: number, size: number): boolean {
  if (h1 > d1 || (h1 === d1 && h0 >= d0)) return false;
  const small = size === 64 ? (h1 | h0) === 0 && l1 < 0x200000 && d1 < 0x200000 : size === 32 ? h0 < 0x200000 : true;
  if (small) {
    const n = size === 64 ? l1 * TWO32 + l0 : h0 * 2 ** size + l0;
    const d = d1 * TWO32 + d0;
    const q = Math.floor(n / d);
    const r = n - q * d;
    q0 = q % TWO32;
    q1 = (q - q0) / TWO32;
    r0 = r % TWO32;
    r1 = (r - r0) / TWO32;
    return true;
  }
  // rem = high half (below the divisor); shift in the low half's bits from the top.
  let a1 = h1;
  let a0 = h0;
  let b1 = 0;
  let b0 = 0;
  for (let i = size - 1; i >= 0; i--) {
    const carry = a1 >>> 31;
    a1 = ((a1 << 1) | (a0 >>> 31)) >>> 0;
    a0 = ((a0 << 1) | (i >= 32 ? (l1 >>> (i - 32)) & 1 : (l0 >>> i) & 1)) >>> 0;
    if (carry !== 0 || a1 > d1 || (a1 === d1 && a0 >= d0)) {
      const lo = a0 - d0;
      a1 = (a1 - d1 - (lo < 0 ? 1 : 0)) >>> 0;
      a0 = lo >>> 0;
      if (i >= 32) b1 |= 1 << (i - 32);
      else b0 |= 1 << i;
    }
  }
  q0 = b0 >>> 0;
  q1 = b1 >>> 0;
  r0 = a0;
  r1 = a1;
  return true;
}

/** DIV / IDIV: rDX:rAX / src -> quotient rAX, remainder rDX (AX / src -> AL, AH for bytes). */
function divide(signed: boolean) {
  return (cpu: Cpu, op: Op): void => {
    readDst(cpu, op);
    const size = op.size;
    const L = cpu.lo;
    const H = cpu.hi;
    const m = size === 8 ? 0xff : size === 16 ? 0xffff : 0xffffffff;
    // Divisor and dividend halves as uint32 limbs.
    let d0 = (cpu.t0 & m) >>> 0;
    let d1 = size === 64 ? cpu.t1 >>> 0 : 0;
    if ((d0 | d1) === 0) throw cpu.fault.set(Vector.DE, 0);
    let h0: number, h1 = 0, l0: number, l1 = 0;
    if (size === 8) {
      h0 = (L[0] >>> 8) & 0xff;
      l0 = L[0] & 0xff;
    } else {
      h0 = (L[2] & m) >>> 0;
      l0 = (L[0] & m) >>> 0;
      if (size === 64) {
        h1 = H[2] >>> 0;
        l1 = H[0] >>> 0;
      }
    }
    let nNeg = false;
    let dNeg = false;
    if (signed) {
      const top = size === 64 ? 0 : size - 1;
      nNeg = (size === 64 ? h1 >>> 31 : (h0 >>> top) & 1) !== 0;
      dNeg = (size === 64 ? d1 >>> 31 : (d0 >>> top) & 1) !== 0;
      if (nNeg) {
        // Two's complement of the 2*size-bit dividend: invert, add 1 carrying from l0 up to h1.
        l0 = ((~l0 & m) >>> 0) + 1;
        let c = l0 > m ? 1 : 0;
        l0 = (l0 & m) >>> 0;
        if (size === 64) {
          l1 = (~l1 >>> 0) + c;
          c = l1 > 0xffffffff ? 1 : 0;
          l1 = l1 >>> 0;
        }
        h0 = ((~h0 & m) >>> 0) + c;
        c = h0 > m ? 1 : 0;
        h0 = (h0 & m) >>> 0;
        if (size === 64) h1 = ((~h1 >>> 0) + c) >>> 0;
      }
      if (dNeg) {
        d0 = ((~d0 & m) >>> 0) + 1;
        const c = d0 > m ? 1 : 0;
        d0 = (d0 & m) >>> 0;
        if (size === 64) d1 = ((~d1 >>> 0) + c) >>> 0;
      }
    }
    if (!udivCore(h1, h0, l1, l0, d1, d0, size)) throw cpu.fault.set(Vector.DE, 0);
    let ql = q0, qh = q1, rl = r0, rh = r1;
    if (signed) {
      // |quotient| must be at most 2^(size-1) - 1, or exactly 2^(size-1) when negative (SDM IDIV).
      const qTop = size === 64 ? qh >>> 31 : (ql >>> (size - 1)) & 1;
      if (qTop !== 0) {
        const exactMin = size === 64 ? qh === 0x80000000 && ql === 0 : ql === 2 ** (size - 1);
        if (nNeg === dNeg || !exactMin) throw cpu.fault.set(Vector.DE, 0);
      }
      if (nNeg !== dNeg) {
        // Negate (mod 2^size); writeReg keeps only `size` bits.
        qh = ql === 0 ? -qh | 0 : ~qh;
        ql = -ql | 0;
      }
      if (nNeg) {
        rh = rl === 0 ? -rh | 0 : ~rh;
        rl = -rl | 0;
      }
    }
    if (size === 8) {
      L[0] = (L[0] & -65536) | (ql & 0xff) | ((rl & 0xff) << 8);
    } else {
      writeReg(cpu, 0, 0, size, ql | 0, qh | 0);
      writeReg(cpu, 2, 0, size, rl | 0, rh | 0);
    }
    // Flags are undefined after DIV/IDIV (SDM); leave them as they were.
  };
}

/** The one-operand forms (r/m source, implicit rAX/rDX): handler and name. */
const ONE_OPERAND: Partial<Record<Mnemonic, readonly [Handler, string]>> = {
  [Mnemonic.Mul]: [mulOne(false), 'mul'], [Mnemonic.Imul]: [mulOne(true), 'imul'],
  [Mnemonic.Div]: [divide(false), 'div'], [Mnemonic.Idiv]: [divide(true), 'idiv'],
};

export function decodeMulDiv(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const one = ONE_OPERAND[m];
  if (one === undefined) return false;
  if (ins.opCount === 1) {
    op.size = decodeRm(ins, 0, op, 'd');
    [op.fn, op.name] = one;
    return true;
  }
  if (m !== Mnemonic.Imul) return false;
  decodeRegRm(ins, op);
  if (ins.opCount === 3 && isImm(ins.op2Kind)) {
    setImm(ins, 2, op);
    op.aux |= AUX_IMM;
  }
  op.fn = imulTwo;
  op.name = 'imul_n';
  return true;
}
