// String instructions: MOVS STOS LODS CMPS SCAS (and INS/OUTS in portIo.ts) of all widths, with REP /
// REPE / REPNE (SDM vol. 2, "REP/REPE/REPZ/REPNE/REPNZ"). RSI/RDI step by the element size, backwards
// when RFLAGS.DF is set. Registers are updated after every element, so a fault in the middle leaves the
// instruction restartable exactly as hardware does (SDM 7.3.9.1: "the registers are updated ... so the
// instruction can be resumed").
//
// A REP instruction runs at most CHUNK iterations per execution and then, if RCX is not yet zero, resumes
// itself (RIP stays on it). Each such chunk counts as one retired instruction: that keeps every guest
// instruction bounded in host time (RCX = 2^64 must not hang the host) and is deterministic.

import { type Instruction, Code, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import type { Op } from '../Op.js';
import { F, K_SUB } from '../flags.js';

export const CHUNK = 65536;

/** op.aux bits for string instructions. */
export const Str = {
  rep: 1,
  /** REPE/REPZ (for CMPS/SCAS; plain REP on others). */
  repe: 2,
  repne: 4,
  /** The source (RSI) uses an FS (8) or GS (16) segment override. */
  fs: 8,
  gs: 16,
  /** 32-bit address size (67h): ESI/EDI/ECX. */
  a32: 32,
} as const;

const TWO32 = 4294967296;

/** Add a signed delta (|d| <= 8) to register r as a 64-bit (or 32-bit for a32) value. */
function step(cpu: Cpu, r: number, d: number, a32: boolean): void {
  const L = cpu.lo;
  const s = (L[r] >>> 0) + d;
  L[r] = s | 0;
  if (a32) cpu.hi[r] = 0;
  else if (s >= TWO32) cpu.hi[r] = (cpu.hi[r] + 1) | 0;
  else if (s < 0) cpu.hi[r] = (cpu.hi[r] - 1) | 0;
}

/** RCX (or ECX) is zero. */
function countZero(cpu: Cpu, a32: boolean): boolean {
  return a32 ? cpu.lo[1] === 0 : (cpu.lo[1] | cpu.hi[1]) === 0;
}

function decCount(cpu: Cpu, a32: boolean): void {
  const l = (cpu.lo[1] - 1) | 0;
  if (a32) cpu.hi[1] = 0;
  else if (l === -1) cpu.hi[1] = (cpu.hi[1] - 1) | 0;
  cpu.lo[1] = l;
}

/** The source address (RSI, plus an FS/GS base when overridden) into cpu.eaLo/eaHi. */
function srcAddr(cpu: Cpu, aux: number): void {
  let lo = cpu.lo[6];
  let hi = (aux & Str.a32) !== 0 ? 0 : cpu.hi[6];
  if ((aux & (Str.fs | Str.gs)) !== 0) {
    const bl = (aux & Str.fs) !== 0 ? cpu.fsBaseLo : cpu.gsBaseLo;
    const bh = (aux & Str.fs) !== 0 ? cpu.fsBaseHi : cpu.gsBaseHi;
    const s = (lo >>> 0) + (bl >>> 0);
    lo = s | 0;
    hi = (hi + bh + (s >= TWO32 ? 1 : 0)) | 0;
  }
  cpu.eaLo = lo;
  cpu.eaHi = hi;
}

function readAt(cpu: Cpu, lo: number, hi: number, size: number): void {
  const m = cpu.mmu;
  switch (size) {
    case 8: cpu.t0 = m.read8(lo, hi); break;
    case 16: cpu.t0 = m.read16(lo, hi); break;
    case 32: cpu.t0 = m.read32(lo, hi); break;
    default: cpu.t0 = m.read64(lo, hi); cpu.t1 = m.hiOut; break;
  }
}

function writeAt(cpu: Cpu, lo: number, hi: number, size: number, vl: number, vh: number): void {
  const m = cpu.mmu;
  switch (size) {
    case 8: m.write8(lo, hi, vl); break;
    case 16: m.write16(lo, hi, vl); break;
    case 32: m.write32(lo, hi, vl); break;
    default: m.write64(lo, hi, vl, vh); break;
  }
}

function delta(cpu: Cpu, size: number): number {
  return (cpu.flagsOther & F.DF) !== 0 ? -(size >> 3) : size >> 3;
}

/** Record CMP-style lazy flags for a - b. */
function cmpFlags(cpu: Cpu, size: number, al: number, ah: number, bl: number, bh: number): void {
  cpu.fk = K_SUB;
  cpu.fx = 0;
  cpu.fd = al;
  cpu.fs = bl;
  switch (size) {
    case 8: cpu.fsz = 0; cpu.fr = (al - bl) & 255; break;
    case 16: cpu.fsz = 1; cpu.fr = (al - bl) & 65535; break;
    case 32: cpu.fsz = 2; cpu.fr = (al - bl) | 0; break;
    default: {
      cpu.fsz = 3;
      cpu.fdh = ah;
      cpu.fsh = bh;
      cpu.fr = (al - bl) | 0;
      cpu.frh = (ah - bh - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;
    }
  }
}

/** Value of the accumulator at a size, normalised (8/16 zero-extended, 32 as int32). */
function acc(cpu: Cpu, size: number): number {
  const l = cpu.lo[0];
  return size === 8 ? l & 255 : size === 16 ? l & 65535 : l;
}

/** One element of each operation; returns nothing, updates registers. */
function movsOne(cpu: Cpu, op: Op, d: number, a32: boolean): void {
  srcAddr(cpu, op.aux);
  readAt(cpu, cpu.eaLo, cpu.eaHi, op.size);
  writeAt(cpu, cpu.lo[7], a32 ? 0 : cpu.hi[7], op.size, cpu.t0, cpu.t1);
  step(cpu, 6, d, a32);
  step(cpu, 7, d, a32);
}

function stosOne(cpu: Cpu, op: Op, d: number, a32: boolean): void {
  writeAt(cpu, cpu.lo[7], a32 ? 0 : cpu.hi[7], op.size, cpu.lo[0], cpu.hi[0]);
  step(cpu, 7, d, a32);
}

function lodsOne(cpu: Cpu, op: Op, d: number, a32: boolean): void {
  srcAddr(cpu, op.aux);
  readAt(cpu, cpu.eaLo, cpu.eaHi, op.size);
  const L = cpu.lo;
  switch (op.size) {
    case 8: L[0] = (L[0] & -256) | cpu.t0; break;
    case 16: L[0] = (L[0] & -65536) | cpu.t0; break;
    case 32: L[0] = cpu.t0; cpu.hi[0] = 0; break;
    default: L[0] = cpu.t0; cpu.hi[0] = cpu.t1; break;
  }
  step(cpu, 6, d, a32);
}

/** CMPS compares [RSI] with [RDI] (SDM: "compares the byte ... in the first source operand with ... second"). */
function cmpsOne(cpu: Cpu, op: Op, d: number, a32: boolean): void {
  srcAddr(cpu, op.aux);
  readAt(cpu, cpu.eaLo, cpu.eaHi, op.size);
  const al = cpu.t0;
  const ah = cpu.t1;
  readAt(cpu, cpu.lo[7], a32 ? 0 : cpu.hi[7], op.size);
  cmpFlags(cpu, op.size, al, ah, cpu.t0, cpu.t1);
  step(cpu, 6, d, a32);
  step(cpu, 7, d, a32);
}

function scasOne(cpu: Cpu, op: Op, d: number, a32: boolean): void {
  readAt(cpu, cpu.lo[7], a32 ? 0 : cpu.hi[7], op.size);
  cmpFlags(cpu, op.size, acc(cpu, op.size), cpu.hi[0], cpu.t0, cpu.t1);
  step(cpu, 7, d, a32);
}

type One = (cpu: Cpu, op: Op, d: number, a32: boolean) => void;

function single(one: One): (cpu: Cpu, op: Op) => void {
  return (cpu, op) => one(cpu, op, delta(cpu, op.size), (op.aux & Str.a32) !== 0);
}

/** REP form for MOVS/STOS/LODS: repeat while RCX != 0. */
function repeated(one: One): (cpu: Cpu, op: Op) => void {
  return (cpu, op) => {
    const a32 = (op.aux & Str.a32) !== 0;
    const d = delta(cpu, op.size);
    for (let n = 0; n < CHUNK; n++) {
      if (countZero(cpu, a32)) return;
      one(cpu, op, d, a32);
      decCount(cpu, a32);
    }
    if (!countZero(cpu, a32)) cpu.rip = op.addr;
  };
}

/**
 * REPE/REPNE form for CMPS/SCAS: also stops when ZF says so after an element. A fault in the middle leaves
 * the flags as they were before the instruction (what the hardware does: the registers reflect the
 * completed iterations, the flags do not).
 */
function repeatedCompare(one: One, whileEqual: boolean): (cpu: Cpu, op: Op) => void {
  return (cpu, op) => {
    const a32 = (op.aux & Str.a32) !== 0;
    const d = delta(cpu, op.size);
    const fk = cpu.fk, fsz = cpu.fsz, fd = cpu.fd, fdh = cpu.fdh, fs = cpu.fs, fsh = cpu.fsh, fr = cpu.fr, frh = cpu.frh, fx = cpu.fx;
    try {
      for (let n = 0; n < CHUNK; n++) {
        if (countZero(cpu, a32)) return;
        one(cpu, op, d, a32);
        decCount(cpu, a32);
        // After CMP-style flags, ZF is (result == 0); fr (and frh for 64-bit) hold the result.
        const equal = cpu.fsz === 3 ? (cpu.fr | cpu.frh) === 0 : cpu.fr === 0;
        if (equal !== whileEqual) return;
      }
    } catch (e) {
      cpu.fk = fk; cpu.fsz = fsz; cpu.fd = fd; cpu.fdh = fdh; cpu.fs = fs; cpu.fsh = fsh; cpu.fr = fr; cpu.frh = frh; cpu.fx = fx;
      throw e;
    }
    if (!countZero(cpu, a32)) cpu.rip = op.addr;
  };
}

const ONE: Partial<Record<Mnemonic, One>> = {
  [Mnemonic.Movsb]: movsOne, [Mnemonic.Movsw]: movsOne, [Mnemonic.Movsd]: movsOne, [Mnemonic.Movsq]: movsOne,
  [Mnemonic.Stosb]: stosOne, [Mnemonic.Stosw]: stosOne, [Mnemonic.Stosd]: stosOne, [Mnemonic.Stosq]: stosOne,
  [Mnemonic.Lodsb]: lodsOne, [Mnemonic.Lodsw]: lodsOne, [Mnemonic.Lodsd]: lodsOne, [Mnemonic.Lodsq]: lodsOne,
  [Mnemonic.Cmpsb]: cmpsOne, [Mnemonic.Cmpsw]: cmpsOne, [Mnemonic.Cmpsd]: cmpsOne, [Mnemonic.Cmpsq]: cmpsOne,
  [Mnemonic.Scasb]: scasOne, [Mnemonic.Scasw]: scasOne, [Mnemonic.Scasd]: scasOne, [Mnemonic.Scasq]: scasOne,
};

const SIZE: Partial<Record<Mnemonic, number>> = {};
for (const [m, s] of [
  [Mnemonic.Movsb, 8], [Mnemonic.Movsw, 16], [Mnemonic.Movsd, 32], [Mnemonic.Movsq, 64],
  [Mnemonic.Stosb, 8], [Mnemonic.Stosw, 16], [Mnemonic.Stosd, 32], [Mnemonic.Stosq, 64],
  [Mnemonic.Lodsb, 8], [Mnemonic.Lodsw, 16], [Mnemonic.Lodsd, 32], [Mnemonic.Lodsq, 64],
  [Mnemonic.Cmpsb, 8], [Mnemonic.Cmpsw, 16], [Mnemonic.Cmpsd, 32], [Mnemonic.Cmpsq, 64],
  [Mnemonic.Scasb, 8], [Mnemonic.Scasw, 16], [Mnemonic.Scasd, 32], [Mnemonic.Scasq, 64],
] as const) SIZE[m] = s;

// Handlers are shared per (operation, repeat form): built once.
const cache = new Map<string, (cpu: Cpu, op: Op) => void>();
function get(key: string, make: () => (cpu: Cpu, op: Op) => void): (cpu: Cpu, op: Op) => void {
  let f = cache.get(key);
  if (f === undefined) {
    f = make();
    cache.set(key, f);
  }
  return f;
}

/**
 * Decode a string instruction; returns null if `ins` is not one, else whether it ends the block (a REP
 * form must: it may leave RIP on itself to resume).
 */
export function decodeString(ins: Instruction, op: Op): boolean | null {
  const m = ins.mnemonic;
  const one = ONE[m];
  if (one === undefined) return null;
  // CMPSD/MOVSD with operands are SSE forms; the string forms have only implicit memory operands.
  if ((m === Mnemonic.Cmpsd || m === Mnemonic.Movsd) && ins.code !== Code.Movsd_m32_m32 && ins.code !== Code.Cmpsd_m32_m32) return null;
  op.size = SIZE[m] as number;
  let aux = 0;
  const seg = ins.segmentPrefix;
  if (seg === Register.FS) aux |= Str.fs;
  else if (seg === Register.GS) aux |= Str.gs;
  // 67h prefix: the implicit memory operands use ESI/EDI (and ECX counts).
  for (let i = 0; i < ins.opCount; i++) {
    const k = ins.opKind(i);
    if (k === OpKind.MemorySegESI || k === OpKind.MemoryESEDI) aux |= Str.a32;
  }
  const compare = one === cmpsOne || one === scasOne;
  const name = ['movs', 'stos', 'lods', 'cmps', 'scas'][[movsOne, stosOne, lodsOne, cmpsOne, scasOne].indexOf(one)];
  if (ins.hasRepePrefix || ins.hasRepPrefix) {
    aux |= Str.rep | Str.repe;
    op.aux = aux;
    op.name = `rep_${name}${op.size}`;
    op.fn = compare ? get(`repe_${name}`, () => repeatedCompare(one, true)) : get(`rep_${name}`, () => repeated(one));
    return true;
  }
  if (ins.hasRepnePrefix) {
    aux |= Str.rep | Str.repne;
    op.aux = aux;
    op.name = `repne_${name}${op.size}`;
    // REPNE on MOVS/STOS/LODS acts as REP (SDM: F2 with non-compare string instructions repeats).
    op.fn = compare ? get(`repne_${name}`, () => repeatedCompare(one, false)) : get(`rep_${name}`, () => repeated(one));
    return true;
  }
  op.aux = aux;
  op.name = `${name}${op.size}`;
  op.fn = get(name, () => single(one));
  return false;
}
