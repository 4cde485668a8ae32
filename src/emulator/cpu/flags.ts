// Lazy arithmetic flags (as Bochs and v86 do): an ALU instruction records what it computed and the flags
// are derived only when something reads them. Most flag writes are never read (the next ALU op overwrites
// them), and a Jcc after CMP reads one condition straight from the operands.
//
// State (fields on the CPU): fk = kind, fsz = size code (0: 8, 1: 16, 2: 32, 3: 64 bits), fd/fdh =
// destination operand, fs/fsh = source operand, fr/frh = result (lo/hi words; hi only for 64-bit), fx = aux.
//   K_ADD: ADD/ADC/INC-free adds; fx = carry-in (ADC).      CF = r < d (or r <= d with carry-in)
//   K_SUB: SUB/SBB/CMP/NEG; fx = borrow-in (SBB).           CF = d < s (or d <= s with borrow-in)
//   K_RES: ZF/SF/PF from the result; CF, AF, OF from fx (RFLAGS bit positions). Logic ops, shifts, INC/DEC.
//   K_EAGER: all six flags in fx (RFLAGS bit positions). POPF, rotates, MUL, BT, ...

export const K_EAGER = 0;
export const K_ADD = 1;
export const K_SUB = 2;
export const K_RES = 3;

/** RFLAGS bits (SDM 3.4.3). */
export const F = {
  CF: 1 << 0, PF: 1 << 2, AF: 1 << 4, ZF: 1 << 6, SF: 1 << 7, TF: 1 << 8, IF: 1 << 9, DF: 1 << 10,
  OF: 1 << 11, IOPL: 3 << 12, NT: 1 << 14, RF: 1 << 16, VM: 1 << 17, AC: 1 << 18, VIF: 1 << 19,
  VIP: 1 << 20, ID: 1 << 21,
} as const;
/** The six arithmetic status flags. */
export const ARITH = F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF;

export interface LazyFlags {
  fk: number;
  fsz: number;
  fd: number;
  fdh: number;
  fs: number;
  fsh: number;
  fr: number;
  frh: number;
  fx: number;
}

/** PF is set when the low byte of the result has an even number of one bits. */
export const PARITY = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let b = i;
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    t[i] = (b & 1) === 0 ? F.PF : 0;
  }
  return t;
})();

const SIGN_SHIFT = [7, 15, 31, 31];
const MASK = [0xff, 0xffff, -1, -1];

/** Unsigned a < b for 64-bit values as (lo, hi) pairs. */
function lt64(al: number, ah: number, bl: number, bh: number): boolean {
  return (ah >>> 0) < (bh >>> 0) || (ah === bh && (al >>> 0) < (bl >>> 0));
}

export function getCF(c: LazyFlags): number {
  switch (c.fk) {
    case K_ADD:
      if (c.fsz === 3) {
        return (c.fx !== 0 ? !lt64(c.fd, c.fdh, c.fr, c.frh) : lt64(c.fr, c.frh, c.fd, c.fdh)) ? 1 : 0;
      }
      return (c.fx !== 0 ? (c.fr >>> 0) <= (c.fd >>> 0) : (c.fr >>> 0) < (c.fd >>> 0)) ? 1 : 0;
    case K_SUB:
      if (c.fsz === 3) {
        return (c.fx !== 0 ? !lt64(c.fs, c.fsh, c.fd, c.fdh) : lt64(c.fd, c.fdh, c.fs, c.fsh)) ? 1 : 0;
      }
      return (c.fx !== 0 ? (c.fd >>> 0) <= (c.fs >>> 0) : (c.fd >>> 0) < (c.fs >>> 0)) ? 1 : 0;
    default:
      return c.fx & 1;
  }
}

function zf(c: LazyFlags): boolean {
  return c.fsz === 3 ? (c.fr | c.frh) === 0 : (c.fr & MASK[c.fsz]) === 0;
}

function sf(c: LazyFlags): number {
  return c.fsz === 3 ? c.frh >>> 31 : (c.fr >>> SIGN_SHIFT[c.fsz]) & 1;
}

function of(c: LazyFlags): number {
  const top = c.fsz === 3;
  const d = top ? c.fdh : c.fd;
  const s = top ? c.fsh : c.fs;
  const r = top ? c.frh : c.fr;
  const sh = SIGN_SHIFT[c.fsz];
  switch (c.fk) {
    case K_ADD:
      return (((d ^ r) & (s ^ r)) >>> sh) & 1;
    case K_SUB:
      return (((d ^ s) & (d ^ r)) >>> sh) & 1;
    default:
      return (c.fx >>> 11) & 1;
  }
}

/** All six arithmetic flags in their RFLAGS positions. */
export function getArith(c: LazyFlags): number {
  if (c.fk === K_EAGER) return c.fx & ARITH;
  let f = getCF(c) | (of(c) << 11) | (sf(c) << 7) | (zf(c) ? F.ZF : 0) | PARITY[c.fr & 0xff];
  if (c.fk === K_RES) f |= c.fx & F.AF;
  else f |= (c.fd ^ c.fs ^ c.fr) & F.AF;
  return f;
}

/** Replace the lazy state with explicit flag bits (after POPF, or before a partial flag update). */
export function setArith(c: LazyFlags, bits: number): void {
  c.fk = K_EAGER;
  c.fx = bits & ARITH;
}

/**
 * Evaluate condition code cc (the low nibble of Jcc/SETcc/CMOVcc, SDM appendix B.1.4.7).
 * Fast paths read CMP-style comparisons straight from the operands.
 */
export function testCondition(c: LazyFlags, cc: number): boolean {
  if (c.fk === K_SUB && c.fx === 0) {
    // Direct comparisons of d and s (no borrow-in): what CMP + Jcc almost always is.
    const sz = c.fsz;
    if (sz === 3) {
      switch (cc) {
        case 2: return lt64(c.fd, c.fdh, c.fs, c.fsh);
        case 3: return !lt64(c.fd, c.fdh, c.fs, c.fsh);
        case 4: return c.fd === c.fs && c.fdh === c.fsh;
        case 5: return c.fd !== c.fs || c.fdh !== c.fsh;
        case 6: return !lt64(c.fs, c.fsh, c.fd, c.fdh);
        case 7: return lt64(c.fs, c.fsh, c.fd, c.fdh);
        case 12: return c.fdh < c.fsh || (c.fdh === c.fsh && (c.fd >>> 0) < (c.fs >>> 0));
        case 13: return !(c.fdh < c.fsh || (c.fdh === c.fsh && (c.fd >>> 0) < (c.fs >>> 0)));
        case 14: return c.fdh < c.fsh || (c.fdh === c.fsh && (c.fd >>> 0) <= (c.fs >>> 0));
        case 15: return !(c.fdh < c.fsh || (c.fdh === c.fsh && (c.fd >>> 0) <= (c.fs >>> 0)));
      }
    } else {
      const sh = 31 - SIGN_SHIFT[sz];
      switch (cc) {
        case 2: return (c.fd >>> 0) < (c.fs >>> 0);
        case 3: return (c.fd >>> 0) >= (c.fs >>> 0);
        case 4: return c.fd === c.fs;
        case 5: return c.fd !== c.fs;
        case 6: return (c.fd >>> 0) <= (c.fs >>> 0);
        case 7: return (c.fd >>> 0) > (c.fs >>> 0);
        case 12: return (c.fd << sh) < (c.fs << sh);
        case 13: return (c.fd << sh) >= (c.fs << sh);
        case 14: return (c.fd << sh) <= (c.fs << sh);
        case 15: return (c.fd << sh) > (c.fs << sh);
      }
    }
  }
  if (c.fk === K_RES) {
    // Logic ops (TEST/AND/OR/XOR) leave CF = OF = 0: conditions reduce to ZF/SF.
    switch (cc) {
      case 4: return zf(c);
      case 5: return !zf(c);
    }
  }
  const f = getArith(c);
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = (f & F.OF) !== 0; break; // O
    case 1: r = (f & F.CF) !== 0; break; // B
    case 2: r = (f & F.ZF) !== 0; break; // E
    case 3: r = (f & (F.CF | F.ZF)) !== 0; break; // BE
    case 4: r = (f & F.SF) !== 0; break; // S
    case 5: r = (f & F.PF) !== 0; break; // P
    case 6: r = ((f >> 7) & 1) !== ((f >> 11) & 1); break; // L: SF != OF
    default: r = (f & F.ZF) !== 0 || ((f >> 7) & 1) !== ((f >> 11) & 1); break; // LE
  }
  return (cc & 1) !== 0 ? !r : r;
}
