// Reading guest memory the way the VMM looks at it, not the way the vCPU does: a 4-level walk (SDM vol. 3A
// 4.5, IA-32e paging, with 1 GiB and 2 MiB pages) over guest-physical memory that sets no accessed or dirty
// bit, fills no TLB entry and raises no fault, so introspection leaves no trace the guest could see.

const TWO32 = 4294967296;
const ADDR_MASK_LO = 0xfffff000;
const ADDR_MASK_HI = 0x000fffff; // bits 51:32 (MAXPHYADDR 52)

/**
 * Guest-physical address of guest-virtual `va` (a canonical signed number) under page-table root `cr3`
 * (its physical address bits), or -1 when not present.
 */
export function peekTranslate(mem: Uint8Array, cr3: number, va: number): number {
  const dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  // Indices from the 48-bit linear address (bits 47:12), computed without 64-bit integers: the signed value
  // splits exactly into a (signed) high word and a low word (going through 2^64 + va would round).
  const hi32 = Math.floor(va / TWO32);
  const lo = va - hi32 * TWO32;
  const hi = hi32 & 0xffff;
  const idx = [((hi >>> 7) & 0x1ff), (((hi & 0x7f) << 2) | (lo >>> 30)) & 0x1ff, (lo >>> 21) & 0x1ff, (lo >>> 12) & 0x1ff];
  let table = Math.floor(cr3 / 4096) * 4096;
  for (let level = 0; level < 4; level++) {
    const at = table + idx[level] * 8;
    if (at + 8 > mem.length) return -1;
    const elo = dv.getUint32(at, true);
    const ehi = dv.getUint32(at + 4, true);
    if ((elo & 1) === 0) return -1;
    const base = (ehi & ADDR_MASK_HI) * TWO32 + (elo & ADDR_MASK_LO);
    const large = (elo & 0x80) !== 0;
    if (level === 1 && large) return base - (base % 0x40000000) + (lo % 0x40000000);
    if (level === 2 && large) return base - (base % 0x200000) + (lo % 0x200000);
    if (level === 3) return base + (lo % 4096);
    table = base;
  }
  return -1;
}

/** Copy `length` bytes at guest-virtual `va` into a new array; null if any byte is unmapped. */
export function peekVirt(mem: Uint8Array, cr3: number, va: number, length: number): Uint8Array | null {
  const out = new Uint8Array(length);
  for (let k = 0; k < length; ) {
    const p = peekTranslate(mem, cr3, va + k);
    if (p < 0) return null;
    const n = Math.min(length - k, 4096 - (p % 4096));
    if (p + n > mem.length) return null;
    out.set(mem.subarray(p, p + n), k);
    k += n;
  }
  return out;
}
