// Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD (SDM vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/
// ROL/ROR", "SHLD", "SHRD"). Count masked to 5 bits (6 for 64-bit operands); a masked count of 0 changes
// no flags. OF is defined for 1-bit counts only; AF is undefined after a non-zero shift (we clear it).

import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_EAGER, K_RES, getArith, getCF } from '../flags.js';
import { decodeRm, isImm, setReg } from './operands.js';
import { AUX_MEM, readDst, readReg, writeDst } from './operandAccess.js';
import { type Template, useTemplate } from './template.js';

const Kind = { shl: 0, shr: 1, sar: 2, rol: 3, ror: 4, rcl: 5, rcr: 6 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** op.aux bits 8+: count source (0 = imm in op.imm, 1 = CL). */
const COUNT_CL = 256;

function countOf(cpu: Cpu, op: Op): number {
  const c = (op.aux & COUNT_CL) !== 0 ? cpu.lo[1] & 255 : op.imm & 255;
  return c & (op.size === 64 ? 63 : 31);
}

function setResFlags(cpu: Cpu, size: number, rl: number, rh: number, cf: number, of: number): void {
  cpu.fk = K_RES;
  cpu.fsz = size === 8 ? 0 : size === 16 ? 1 : size === 32 ? 2 : 3;
  cpu.fr = rl;
  cpu.frh = rh;
  cpu.fx = cf | (of << 11);
}

function shiftHandler(kind: Kind): (cpu: Cpu, op: Op) => void {
  return (cpu, op) => {
    const n = countOf(cpu, op);
    readDst(cpu, op);
    const size = op.size;
    if (n === 0) {
      // No flag change; a 32-bit register destination is still written (zero-extended).
      if (size === 32 && (op.aux & AUX_MEM) === 0) writeDst(cpu, op, cpu.t0, 0);
      return;
    }
    if (size === 64) {
      shift64(cpu, op, kind, n);
      return;
    }
    const a = cpu.t0;
    const mask = size === 8 ? 0xff : size === 16 ? 0xffff : -1;
    const top = size - 1;
    let r: number;
    let cf: number;
    let of: number;
    switch (kind) {
      case Kind.shl:
        r = n >= 32 ? 0 : (a << n) & mask;
        cf = n > size ? 0 : (a >>> (size - n)) & 1;
        of = ((r >>> top) & 1) ^ cf;
        break;
      case Kind.shr:
        r = n >= 32 ? 0 : (a >>> n) & mask;
        cf = n > size ? 0 : (a >>> (n - 1)) & 1;
        of = (a >>> top) & 1;
        break;
      case Kind.sar: {
        const sa = (a << (32 - size)) >> (32 - size);
        r = (sa >> Math.min(n, 31)) & mask;
        cf = (sa >> Math.min(n - 1, 31)) & 1;
        of = 0;
        break;
      }
      case Kind.rol: {
        const k = n % size;
        r = k === 0 ? a : ((a << k) | ((a & mask) >>> (size - k))) & mask;
        cf = r & 1;
        of = ((r >>> top) & 1) ^ cf;
        writeDst(cpu, op, r, 0);
        setRotateFlags(cpu, cf, of);
        return;
      }
      case Kind.ror: {
        const k = n % size;
        r = k === 0 ? a : (((a & mask) >>> k) | (a << (size - k))) & mask;
        cf = (r >>> top) & 1;
        of = cf ^ ((r >>> (top - 1)) & 1);
        writeDst(cpu, op, r, 0);
        setRotateFlags(cpu, cf, of);
        return;
      }
      default:
        rotateCarry(cpu, op, kind, n);
        return;
    }
    writeDst(cpu, op, r, 0);
    setResFlags(cpu, size, r, 0, cf, of);
  };
}

function setRotateFlags(cpu: Cpu, cf: number, of: number): void {
  const f = getArith(cpu) & ~(F.CF | F.OF);
  cpu.fk = K_EAGER;
  cpu.fx = f | cf | (of << 11);
}

function shift64(cpu: Cpu, op: Op, kind: Kind, n: number): void {
  const al = cpu.t0;
  const ah = cpu.t1;
  let rl: number;
  let rh: number;
  let cf: number;
  let of: number;
  switch (kind) {
    case Kind.shl:
      if (n < 32) {
        rh = (ah << n) | (al >>> (32 - n));
        rl = al << n;
        cf = (ah >>> (32 - n)) & 1;
      } else {
        rh = al << (n - 32);
        rl = 0;
        cf = n === 32 ? ah & 1 : (al >>> (64 - n)) & 1;
      }
      if (n === 32) cf = ah & 1;
      of = (rh >>> 31) ^ cf;
      break;
    case Kind.shr:
      if (n < 32) {
        rl = (al >>> n) | (ah << (32 - n));
        rh = ah >>> n;
        cf = (al >>> (n - 1)) & 1;
      } else {
        rl = n === 32 ? ah : ah >>> (n - 32);
        rh = 0;
        cf = (ah >>> (n - 33)) & 1;
        if (n === 32) cf = al >>> 31;
      }
      of = ah >>> 31;
      break;
    case Kind.sar:
      if (n < 32) {
        rl = (al >>> n) | (ah << (32 - n));
        rh = ah >> n;
        cf = (al >>> (n - 1)) & 1;
      } else {
        rl = n === 32 ? ah : ah >> (n - 32);
        rh = ah >> 31;
        cf = n === 32 ? al >>> 31 : (ah >> (n - 33)) & 1;
      }
      of = 0;
      break;
    case Kind.rol:
    case Kind.ror: {
      // Rotate left by k (ROR by n = ROL by 64 - n) in 32-bit words: by 32 or more swaps the words first.
      let k = kind === Kind.rol ? n : 64 - n;
      let xl = al;
      let xh = ah;
      if (k >= 32) {
        xl = ah;
        xh = al;
        k -= 32;
      }
      if (k === 0) {
        rl = xl;
        rh = xh;
      } else {
        rl = (xl << k) | (xh >>> (32 - k));
        rh = (xh << k) | (xl >>> (32 - k));
      }
      if (kind === Kind.rol) {
        cf = rl & 1;
        of = (rh >>> 31) ^ cf;
      } else {
        cf = rh >>> 31;
        of = cf ^ ((rh >>> 30) & 1);
      }
      writeDst(cpu, op, rl, rh);
      setRotateFlags(cpu, cf, of);
      return;
    }
    default:
      rotateCarry(cpu, op, kind, n);
      return;
  }
  writeDst(cpu, op, rl | 0, rh | 0);
  setResFlags(cpu, 64, rl | 0, rh | 0, cf, of);
}

/**
 * RCL / RCR: rotate through CF, a (size+1)-bit rotation (count mod 9 / 17 for 8 / 16-bit operands), one bit
 * per step on int32 limbs as the SDM's pseudo-code does (at most 63 steps; rare instructions).
 */
function rotateCarry(cpu: Cpu, op: Op, kind: Kind, masked: number): void {
  const size = op.size;
  const n = size === 8 ? masked % 9 : size === 16 ? masked % 17 : masked;
  const top = size - 1;
  let lo = size === 8 ? cpu.t0 & 0xff : size === 16 ? cpu.t0 & 0xffff : cpu.t0 | 0;
  let hi = size === 64 ? cpu.t1 | 0 : 0;
  let cf = getCF(cpu);
  for (let i = 0; i < n; i++) {
    if (kind === Kind.rcl) {
      const out = size === 64 ? hi >>> 31 : (lo >>> top) & 1;
      if (size === 64) hi = (hi << 1) | (lo >>> 31);
      lo = (lo << 1) | cf;
      if (size < 32) lo &= (1 << size) - 1;
      cf = out;
    } else {
      const out = lo & 1;
      if (size === 64) {
        lo = (lo >>> 1) | (hi << 31);
        hi = (hi >>> 1) | (cf << 31);
      } else {
        lo = (lo >>> 1) | (cf << top);
      }
      cf = out;
    }
  }
  // A masked count that is a multiple of size+1 (n = 0) leaves value and CF unchanged; OF per the 1-bit rule.
  writeDst(cpu, op, lo | 0, hi | 0);
  const msb = size === 64 ? hi >>> 31 : (lo >>> top) & 1;
  const msb2 = size === 64 ? (hi >>> 30) & 1 : (lo >>> (top - 1)) & 1;
  const of = kind === Kind.rcl ? msb ^ cf : msb ^ msb2;
  setRotateFlags(cpu, cf, of);
}

/** SHLD / SHRD dst, src, count (SDM): the vacated bits come from src. */
function doubleShiftHandler(left: boolean): (cpu: Cpu, op: Op) => void {
  return (cpu, op) => {
    const size = op.size;
    const n = countOf(cpu, op);
    readDst(cpu, op);
    if (n === 0) {
      if (size === 32 && (op.aux & AUX_MEM) === 0) writeDst(cpu, op, cpu.t0, 0);
      return;
    }
    if (size === 32) {
      const d = cpu.t0;
      const src = cpu.lo[op.s];
      const r = left ? (d << n) | (src >>> (32 - n)) : (d >>> n) | (src << (32 - n));
      const cf = left ? (d >>> (32 - n)) & 1 : (d >>> (n - 1)) & 1;
      writeDst(cpu, op, r, 0);
      setResFlags(cpu, 32, r, 0, cf, (r >>> 31) ^ (d >>> 31));
      return;
    }
    if (size === 64) {
      doubleShift64(cpu, op, left, n);
      return;
    }
    // 16 bits (n 1-31): counts above 16 shift the source's bits back in (a result the SDM leaves undefined;
    // this is what the host CPU gives). SHLD: the high half of (d:s) << n; SHRD: (d:s:d) >> n.
    const d = cpu.t0 & 0xffff;
    const s = readReg(cpu, op.s, op.ssh, 16) & 0xffff;
    let r: number;
    let cf: number;
    if (left) {
      const pair = (d << 16) | s;
      r = (n <= 16 ? pair >>> (16 - n) : pair << (n - 16)) & 0xffff;
      cf = n <= 16 ? (d >>> (16 - n)) & 1 : (s >>> (32 - n)) & 1;
    } else {
      const low = (s << 16) | d; // bits 31:0 of d:s:d; d is bits 47:32
      r = ((low >>> n) | (d << (32 - n))) & 0xffff;
      cf = (low >>> (n - 1)) & 1;
    }
    writeDst(cpu, op, r, 0);
    setResFlags(cpu, 16, r, 0, cf, ((r >>> 15) ^ (d >>> 15)) & 1);
  };
}

/** (lo, hi) of the 64-bit value (xl, xh) shifted left by k (0-63), in rl64/rh64. */
let rl64 = 0;
let rh64 = 0;
function shl64(xl: number, xh: number, k: number): void {
  if (k === 0) {
    rl64 = xl;
    rh64 = xh;
  } else if (k < 32) {
    rh64 = (xh << k) | (xl >>> (32 - k));
    rl64 = xl << k;
  } else {
    rh64 = xl << (k - 32);
    rl64 = 0;
  }
}

/** The same shifted right (logical), in rl64/rh64. */
function shr64(xl: number, xh: number, k: number): void {
  if (k === 0) {
    rl64 = xl;
    rh64 = xh;
  } else if (k < 32) {
    rl64 = (xl >>> k) | (xh << (32 - k));
    rh64 = xh >>> k;
  } else {
    rl64 = xh >>> (k - 32);
    rh64 = 0;
  }
}
/** Bit b (0-63) of (xl, xh). */
function bit64(xl: number, xh: number, b: number): number {
  return b < 32 ? (xl >>> b) & 1 : (xh >>> (b - 32)) & 1;
}

/** SHLD/SHRD r/m64, r64 by n (1-63): the vacated bits come from the source register, in 32-bit words. */
function doubleShift64(cpu: Cpu, op: Op, left: boolean, n: number): void {
  const dl = cpu.t0;
  const dh = cpu.t1;
  const sl = cpu.lo[op.s];
  const sh = cpu.hi[op.s];
  // SHLD: d << n | s >>> (64 - n); SHRD: d >>> n | s << (64 - n).
  if (left) shr64(sl, sh, 64 - n);
  else shl64(sl, sh, 64 - n);
  const fromSrcLo = rl64;
  const fromSrcHi = rh64;
  if (left) shl64(dl, dh, n);
  else shr64(dl, dh, n);
  const rl = rl64 | fromSrcLo;
  const rh = rh64 | fromSrcHi;
  const cf = left ? bit64(dl, dh, 64 - n) : bit64(dl, dh, n - 1);
  writeDst(cpu, op, rl, rh);
  setResFlags(cpu, 64, rl, rh, cf, (rh >>> 31) ^ (dh >>> 31));
}

const SHIFTS: Partial<Record<Mnemonic, Kind>> = {
  [Mnemonic.Shl]: Kind.shl, [Mnemonic.Sal]: Kind.shl, [Mnemonic.Shr]: Kind.shr, [Mnemonic.Sar]: Kind.sar,
  [Mnemonic.Rol]: Kind.rol, [Mnemonic.Ror]: Kind.ror, [Mnemonic.Rcl]: Kind.rcl, [Mnemonic.Rcr]: Kind.rcr,
};
const SHIFT_HANDLERS = [Kind.shl, Kind.shr, Kind.sar, Kind.rol, Kind.ror, Kind.rcl, Kind.rcr].map(shiftHandler);
const SHLD = doubleShiftHandler(true);
const SHRD = doubleShiftHandler(false);
const NAMES = ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'];

/**
 * SHL/SHR of a register by a constant, non-zero count (the count is $imm, masked at decode). Same results
 * and flags as shift64 / the 32-bit path: CF = last bit out, OF = for SHL MSB(result) ^ CF, for SHR the
 * original MSB; AF cleared.
 */
function constShiftTemplate(kind: Kind, size: 32 | 64): Template {
  const name = `${kind === Kind.shl ? 'shl' : 'shr'}_ri${size}`;
  if (size === 32) {
    const body = kind === Kind.shl
      ? `const n = $imm & 31; const a = L[$d]; const r = a << n; const cf = (a >>> (32 - n)) & 1;
L[$d] = r; H[$d] = 0; cpu.fk = ${K_RES}; cpu.fsz = 2; cpu.fr = r; cpu.frh = 0; cpu.fx = cf | ((((r >>> 31) & 1) ^ cf) << 11);`
      : `const n = $imm & 31; const a = L[$d]; const r = (a >>> n) | 0; const cf = (a >>> (n - 1)) & 1;
L[$d] = r; H[$d] = 0; cpu.fk = ${K_RES}; cpu.fsz = 2; cpu.fr = r; cpu.frh = 0; cpu.fx = cf | ((a >>> 31) << 11);`;
    return { name, body };
  }
  const body = kind === Kind.shl
    ? `const n = $imm & 63; const al = L[$d], ah = H[$d]; let rl, rh, cf;
if (n < 32) { rh = (ah << n) | (al >>> (32 - n)); rl = al << n; cf = (ah >>> (32 - n)) & 1; }
else { rh = al << (n - 32); rl = 0; cf = n === 32 ? ah & 1 : (al >>> (64 - n)) & 1; }
L[$d] = rl; H[$d] = rh; cpu.fk = ${K_RES}; cpu.fsz = 3; cpu.fr = rl; cpu.frh = rh; cpu.fx = cf | ((((rh >>> 31) & 1) ^ cf) << 11);`
    : `const n = $imm & 63; const al = L[$d], ah = H[$d]; let rl, rh, cf;
if (n < 32) { rl = (al >>> n) | (ah << (32 - n)); rh = (ah >>> n) | 0; cf = (al >>> (n - 1)) & 1; }
else { rl = n === 32 ? ah : (ah >>> (n - 32)) | 0; rh = 0; cf = n === 32 ? al >>> 31 : (ah >>> (n - 33)) & 1; }
L[$d] = rl; H[$d] = rh; cpu.fk = ${K_RES}; cpu.fsz = 3; cpu.fr = rl; cpu.frh = rh; cpu.fx = cf | ((ah >>> 31) << 11);`;
  return { name, body };
}

export function decodeShift(ins: Instruction, op: Op): boolean {
  const m = ins.mnemonic;
  const kind = SHIFTS[m];
  if (kind !== undefined) {
    op.size = decodeRm(ins, 0, op, 'd');
    if (ins.opCount < 2) {
      op.imm = 1;
    } else if (isImm(ins.op1Kind)) {
      op.imm = ins.immediate8;
    } else if (ins.op1Kind === OpKind.Register) {
      op.aux |= COUNT_CL;
    }
    op.fn = SHIFT_HANDLERS[kind];
    op.name = NAMES[kind];
    // The common forms (register, constant count, SHL/SHR) as templates, so compiled blocks inline them.
    const n = op.imm & (op.size === 64 ? 63 : 31);
    if ((op.aux & (AUX_MEM | COUNT_CL)) === 0 && n !== 0 && (kind === Kind.shl || kind === Kind.shr) && (op.size === 32 || op.size === 64)) {
      useTemplate(op, constShiftTemplate(kind, op.size));
    }
    return true;
  }
  if (m === Mnemonic.Shld || m === Mnemonic.Shrd) {
    op.size = decodeRm(ins, 0, op, 'd');
    setReg(ins, 1, op, 's');
    if (isImm(ins.op2Kind)) op.imm = ins.immediate8;
    else op.aux |= COUNT_CL;
    op.fn = m === Mnemonic.Shld ? SHLD : SHRD;
    op.name = m === Mnemonic.Shld ? 'shld' : 'shrd';
    return true;
  }
  return false;
}
