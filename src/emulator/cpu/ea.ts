// Effective-address functions, one per addressing form, chosen at decode time (SDM vol. 2 section 2.2.1).
// Each writes the 64-bit linear address into cpu.eaLo / cpu.eaHi exactly: sums of the low words are done
// in doubles (exact below 2^53) and the carry goes into the high word. RIP-relative addresses are constant
// per instruction and folded at decode time. FS/GS add their base (the only segment bases that are not
// zero in 64-bit mode, SDM 3.4.4).

import type { Cpu } from './Cpu.js';
import type { EaFn, Op } from './Op.js';

const TWO32 = 4294967296;

/** No memory operand. */
export const eaNone: EaFn = () => {};

/** Absolute (disp only, or RIP-relative folded to a constant). */
export const eaAbs: EaFn = (cpu, op) => {
  cpu.eaLo = op.disp;
  cpu.eaHi = op.disph;
};

export const eaBase: EaFn = (cpu, op) => {
  cpu.eaLo = cpu.lo[op.base];
  cpu.eaHi = cpu.hi[op.base];
};

export const eaBaseDisp: EaFn = (cpu, op) => {
  const s = (cpu.lo[op.base] >>> 0) + op.disp;
  cpu.eaLo = s | 0;
  cpu.eaHi = (cpu.hi[op.base] + (s - (s >>> 0)) / TWO32) | 0;
};

export const eaBaseIndex: EaFn = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const sc = op.scale;
  const il = L[op.index];
  const ihs = sc === 0 ? H[op.index] : (H[op.index] << sc) | (il >>> (32 - sc));
  const s = (L[op.base] >>> 0) + ((il << sc) >>> 0) + op.disp;
  cpu.eaLo = s | 0;
  cpu.eaHi = (H[op.base] + ihs + (s - (s >>> 0)) / TWO32) | 0;
};

export const eaIndex: EaFn = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const sc = op.scale;
  const il = L[op.index];
  const ihs = sc === 0 ? H[op.index] : (H[op.index] << sc) | (il >>> (32 - sc));
  const s = ((il << sc) >>> 0) + op.disp;
  cpu.eaLo = s | 0;
  cpu.eaHi = (ihs + (s - (s >>> 0)) / TWO32) | 0;
};

/** Wraps an address function to add the FS or GS base, and/or truncate to 32 bits (67h prefix). */
export function eaWithSegment(inner: EaFn, seg: number, addr32: boolean): EaFn {
  return (cpu: Cpu, op: Op) => {
    inner(cpu, op);
    if (addr32) cpu.eaHi = 0;
    if (seg !== 0) {
      const bl = seg === 1 ? cpu.fsBaseLo : cpu.gsBaseLo;
      const bh = seg === 1 ? cpu.fsBaseHi : cpu.gsBaseHi;
      const s = (cpu.eaLo >>> 0) + (bl >>> 0);
      cpu.eaLo = s | 0;
      cpu.eaHi = (cpu.eaHi + bh + (s > 0xffffffff ? 1 : 0)) | 0;
    }
  };
}
