// Guest-physical RAM, 4-level paging (SDM vol. 3 chapter 4.5) and a software TLB.
//
// Linear addresses travel as (lo, hi) int32 pairs: no BigInt and no float maths on the hot path. The TLB
// is direct-mapped with separate tags for reads, writes and fetches, and one set of tags for supervisor and
// one for user accesses (switched on CPL change), so that a permission check is the tag compare itself
// (the "separate read/write/user tags" design measured in shared/notes/emulator.md). A write tag is only
// filled when the PTE's dirty bit is already set and the physical page holds no decoded code: the first
// write to a clean page or to a code page takes the slow path, which sets D or invalidates the code.

import { CpuFault, Vector } from './faults.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
const TLB_BITS = 10;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
/** A tag value that never equals a page-aligned lo word (those have their low 12 bits clear). */
const NO_TAG = 1;

/** Access kinds for page walks; bit values match the #PF error code's W/R bit (1) and I/D bit (16). */
export const Access = { read: 0, write: 2, fetch: 16 } as const;
export type Access = (typeof Access)[keyof typeof Access];

/** #PF error code bits (SDM 4.7). */
export const PfErr = { present: 1, write: 2, user: 4, rsvd: 8, fetch: 16 } as const;

/** EPT permission bits per guest-physical page (SDM 29.3.2). */
export const EptPerm = { read: 1, write: 2, exec: 4 } as const;

/** Thrown (as a preallocated object) when an access violates EPT permissions. */
export interface EptViolationInfo {
  gpa: number;
  linearLo: number;
  linearHi: number;
  /** EptPerm bits of the access that was attempted. */
  access: number;
  /** EptPerm bits the page had. */
  perm: number;
}

class TlbSet {
  readonly rLo = new Int32Array(TLB_SIZE).fill(NO_TAG);
  readonly rHi = new Int32Array(TLB_SIZE);
  readonly rPhys = new Int32Array(TLB_SIZE);
  readonly wLo = new Int32Array(TLB_SIZE).fill(NO_TAG);
  readonly wHi = new Int32Array(TLB_SIZE);
  readonly wPhys = new Int32Array(TLB_SIZE);
  readonly xLo = new Int32Array(TLB_SIZE).fill(NO_TAG);
  readonly xHi = new Int32Array(TLB_SIZE);
  readonly xPhys = new Int32Array(TLB_SIZE);
  flush(): void {
    this.rLo.fill(NO_TAG);
    this.wLo.fill(NO_TAG);
    this.xLo.fill(NO_TAG);
  }
}

/** Called when a write hits a physical page that holds decoded code. */
export type CodeWriteListener = (physPage: number) => void;

export class Mmu {
  readonly bytes: number;
  readonly ram: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly pages: number;

  // Paging controls mirrored from the CPU (the CPU keeps them up to date).
  paging = false;
  cr3 = 0;
  /** CR0.WP: supervisor writes honour R/W. */
  wp = true;
  /** EFER.NXE: the XD bit is honoured. */
  nxe = false;
  user = false;

  /** The TLB set for the current privilege level. */
  private t: TlbSet;
  private readonly sup = new TlbSet();
  private readonly usr = new TlbSet();

  /** Per physical page: 1 when decoded code was made from it. */
  readonly codePages: Uint8Array;
  onCodeWrite: CodeWriteListener = () => {};

  /** EPT permissions per guest-physical page (null: EPT off, full access; SDM 29.3). */
  eptPerm: Uint8Array | null = null;
  /** Set when an access violated EPT; filled before throwing the fault. */
  readonly eptViolation: EptViolationInfo = { gpa: 0, linearLo: 0, linearHi: 0, access: 0, perm: 0 };

  /** Reused fault object (thrown by value: no allocation, no stack capture). */
  readonly fault: CpuFault;

  constructor(bytes: number, fault: CpuFault) {
    if (bytes % PAGE_SIZE !== 0 || bytes <= 0 || bytes > 0x8000_0000) {
      throw new RangeError(`guest memory must be a positive multiple of 4 KiB up to 2 GiB, got ${bytes}`);
    }
    this.bytes = bytes;
    this.ram = new ArrayBuffer(bytes);
    this.u8 = new Uint8Array(this.ram);
    this.dv = new DataView(this.ram);
    this.pages = bytes >>> PAGE_SHIFT;
    this.codePages = new Uint8Array(this.pages);
    this.t = this.sup;
    this.fault = fault;
  }

  /**
   * Bumped whenever a cached translation may have changed (TLB flush, INVLPG, privilege switch, EPT
   * change): the decode cache's RIP -> block shortcut is valid only within one epoch.
   */
  epoch = 0;

  setUser(user: boolean): void {
    if (user !== this.user) this.epoch++;
    this.user = user;
    this.t = user ? this.usr : this.sup;
  }

  /** Flush the whole TLB (MOV to CR3, CR0/CR4 paging changes, INVEPT). */
  flushTlb(): void {
    this.epoch++;
    this.sup.flush();
    this.usr.flush();
  }

  /** INVLPG: drop any translation of the page holding (lo, hi). */
  invalidatePage(lo: number, hi: number): void {
    this.epoch++;
    const i = (lo >>> PAGE_SHIFT) & TLB_MASK;
    for (const s of [this.sup, this.usr]) {
      s.rLo[i] = NO_TAG;
      s.wLo[i] = NO_TAG;
      s.xLo[i] = NO_TAG;
    }
  }

  /** A physical page now holds decoded code: no write may bypass the slow path any more. */
  markCode(physPage: number): void {
    if (this.codePages[physPage] !== 0) return;
    this.codePages[physPage] = 1;
    const base = physPage << PAGE_SHIFT;
    for (const s of [this.sup, this.usr]) {
      const wPhys = s.wPhys;
      const wLo = s.wLo;
      for (let i = 0; i < TLB_SIZE; i++) if (wPhys[i] === base) wLo[i] = NO_TAG;
    }
  }

  // ---- translation -------------------------------------------------------------------------------

  /** Physical address for a read of (lo, hi); throws #PF / EPT violation. */
  translateRead(lo: number, hi: number): number {
    const t = this.t;
    const i = (lo >>> PAGE_SHIFT) & TLB_MASK;
    if (t.rLo[i] === (lo & -PAGE_SIZE) && t.rHi[i] === hi) return t.rPhys[i] + (lo & (PAGE_SIZE - 1));
    return this.fill(lo, hi, Access.read) + (lo & (PAGE_SIZE - 1));
  }

  /** Physical address for a write of (lo, hi); throws #PF / EPT violation. */
  translateWrite(lo: number, hi: number): number {
    const t = this.t;
    const i = (lo >>> PAGE_SHIFT) & TLB_MASK;
    if (t.wLo[i] === (lo & -PAGE_SIZE) && t.wHi[i] === hi) return t.wPhys[i] + (lo & (PAGE_SIZE - 1));
    return this.fill(lo, hi, Access.write) + (lo & (PAGE_SIZE - 1));
  }

  /** Physical address for an instruction fetch at (lo, hi). */
  translateFetch(lo: number, hi: number): number {
    const t = this.t;
    const i = (lo >>> PAGE_SHIFT) & TLB_MASK;
    if (t.xLo[i] === (lo & -PAGE_SIZE) && t.xHi[i] === hi) return t.xPhys[i] + (lo & (PAGE_SIZE - 1));
    return this.fill(lo, hi, Access.fetch) + (lo & (PAGE_SIZE - 1));
  }

  /**
   * Walk the page tables for (lo, hi), check permissions for `access`, set A/D bits, fill the TLB and
   * return the physical page base. SDM 4.5 (4-level paging), 4.6 (access rights), 4.8 (A/D bits).
   */
  private fill(lo: number, hi: number, access: Access): number {
    // Canonical check (SDM 3.3.7.1): bits 63:47 all equal. A non-canonical access is #GP (or #SS).
    if (hi !== ((hi << 16) >> 16)) throw this.fault.setNonCanonical();
    let physPage: number;
    let writable = true;
    let user = true;
    let exec = true;
    let dirty = true;
    if (!this.paging) {
      physPage = lo & -PAGE_SIZE;
      if (hi !== 0) throw this.fault.set(Vector.GP, 0);
    } else {
      const r = this.walk(lo, hi, access);
      physPage = r;
      writable = this.walkWritable;
      user = this.walkUser;
      exec = this.walkExec;
      dirty = this.walkDirty;
    }
    if (physPage < 0 || physPage >= this.bytes) {
      // Outside RAM: nothing is mapped there in this machine. Treat as a machine check-free "open bus":
      // we raise #GP rather than corrupt host memory (the guest kernel never maps such addresses).
      throw this.fault.set(Vector.GP, 0);
    }
    const ept = this.eptPerm;
    if (ept !== null) {
      const need = access === Access.write ? EptPerm.write : access === Access.fetch ? EptPerm.exec : EptPerm.read;
      const perm = ept[physPage >>> PAGE_SHIFT];
      if ((perm & need) === 0) this.throwEpt(physPage + (lo & (PAGE_SIZE - 1)), lo, hi, need, perm);
      // Only cache what EPT also allows.
      if ((perm & EptPerm.write) === 0) writable = false;
      if ((perm & EptPerm.exec) === 0) exec = false;
      if ((perm & EptPerm.read) === 0) {
        // Execute-only page: only the fetch tag may be cached.
        return this.cache(lo, hi, physPage, false, false, exec, access);
      }
    }
    const canWrite = writable && dirty && this.codePages[physPage >>> PAGE_SHIFT] === 0;
    if (access === Access.write && this.codePages[physPage >>> PAGE_SHIFT] !== 0) {
      // The caller writes right after: drop the decoded code of that page first.
      this.onCodeWrite(physPage >>> PAGE_SHIFT);
    }
    void user;
    return this.cache(lo, hi, physPage, true, canWrite, exec, access);
  }

  private cache(lo: number, hi: number, physPage: number, read: boolean, write: boolean, exec: boolean, access: Access): number {
    const t = this.t;
    const i = (lo >>> PAGE_SHIFT) & TLB_MASK;
    const tag = lo & -PAGE_SIZE;
    if (read) {
      t.rLo[i] = tag;
      t.rHi[i] = hi;
      t.rPhys[i] = physPage;
    }
    if (write) {
      t.wLo[i] = tag;
      t.wHi[i] = hi;
      t.wPhys[i] = physPage;
    }
    if (exec && access === Access.fetch) {
      t.xLo[i] = tag;
      t.xHi[i] = hi;
      t.xPhys[i] = physPage;
    }
    return physPage;
  }

  private throwEpt(gpa: number, lo: number, hi: number, access: number, perm: number): never {
    const v = this.eptViolation;
    v.gpa = gpa;
    v.linearLo = lo;
    v.linearHi = hi;
    v.access = access;
    v.perm = perm;
    throw this.fault.set(Vector.EPT_VIOLATION, 0);
  }

  // Results of the last walk besides the physical page (kept in fields to avoid allocating).
  private walkWritable = false;
  private walkUser = false;
  private walkExec = false;
  private walkDirty = false;

  /**
   * The 4-level walk. Returns the physical page base for the access, or throws #PF with CR2 set by the
   * caller (the fault object carries the address). Sets accessed bits on every level and the dirty bit on
   * the leaf when writing.
   */
  private walk(lo: number, hi: number, access: Access): number {
    const dv = this.dv;
    const user = this.user;
    const isWrite = access === Access.write;
    // Linear address bits: PML4 index 47:39, PDPT 38:30, PD 29:21, PT 20:12.
    const pml4i = ((hi >>> 7) & 0x1ff);
    const pdpti = ((hi & 0x7f) << 2) | (lo >>> 30);
    const pdi = (lo >>> 21) & 0x1ff;
    const pti = (lo >>> 12) & 0x1ff;
    let table = this.cr3 & -PAGE_SIZE;
    let allowWrite = true;
    let allowUser = true;
    let allowExec = true;
    const indices = [pml4i, pdpti, pdi, pti];
    for (let level = 0; level < 4; level++) {
      const entryAddr = table + indices[level] * 8;
      if (entryAddr + 8 > this.bytes) this.pageFault(lo, hi, access, false, true);
      this.checkEptForWalk(entryAddr, lo, hi);
      const elo = dv.getInt32(entryAddr, true);
      const ehi = dv.getInt32(entryAddr + 4, true);
      if ((elo & 1) === 0) this.pageFault(lo, hi, access, false, false);
      if ((elo & 2) === 0) allowWrite = false;
      if ((elo & 4) === 0) allowUser = false;
      if (this.nxe && ehi < 0) allowExec = false;
      // Reserved bits: physical address bits above our 31-bit RAM are treated as reserved
      // (MAXPHYADDR), and XD is reserved when NXE is clear (SDM 4.5.4).
      if ((ehi & 0x000fffff) !== 0 || (!this.nxe && ehi < 0)) this.pageFault(lo, hi, access, true, true);
      if ((elo & 0x20) === 0) dv.setInt32(entryAddr, elo | 0x20, true); // accessed
      const isLeaf = level === 3 || ((level === 1 || level === 2) && (elo & 0x80) !== 0);
      if (level === 0 && (elo & 0x80) !== 0) this.pageFault(lo, hi, access, true, true); // PS reserved in PML4E
      if (isLeaf) {
        // Permission checks (SDM 4.6).
        if (user && !allowUser) this.pageFault(lo, hi, access, true, false);
        if (isWrite && !allowWrite && (user || this.wp)) this.pageFault(lo, hi, access, true, false);
        if (access === Access.fetch && !allowExec) this.pageFault(lo, hi, access, true, false);
        let physPage: number;
        if (level === 3) {
          physPage = elo & -PAGE_SIZE;
        } else if (level === 2) {
          // 2 MiB page: bits 20:13 reserved.
          if ((elo & 0x1fe000) !== 0) this.pageFault(lo, hi, access, true, true);
          physPage = (elo & -0x200000) + (lo & 0x1ff000);
        } else {
          // 1 GiB page: bits 29:13 reserved.
          if ((elo & 0x3fffe000) !== 0) this.pageFault(lo, hi, access, true, true);
          physPage = (elo & -0x40000000) + (lo & 0x3ffff000);
        }
        let d = (elo & 0x40) !== 0;
        if (isWrite && !d) {
          dv.setInt32(entryAddr, dv.getInt32(entryAddr, true) | 0x40, true);
          d = true;
        }
        this.walkWritable = allowWrite || (!user && !this.wp);
        this.walkUser = allowUser;
        this.walkExec = allowExec;
        this.walkDirty = d;
        return physPage >>> 0 === physPage ? physPage : physPage >>> 0;
      }
      table = elo & -PAGE_SIZE;
    }
    throw new Error('unreachable');
  }

  private checkEptForWalk(entryAddr: number, lo: number, hi: number): void {
    // Paging-structure accesses are guest-physical reads (and writes for A/D) and go through EPT too
    // (SDM 29.3.3.2). We require read permission for them.
    const ept = this.eptPerm;
    if (ept === null) return;
    const perm = ept[entryAddr >>> PAGE_SHIFT];
    if ((perm & EptPerm.read) === 0) this.throwEpt(entryAddr, lo, hi, EptPerm.read, perm);
  }

  private pageFault(lo: number, hi: number, access: Access, present: boolean, rsvd: boolean): never {
    let err = access & (PfErr.write | PfErr.fetch);
    if (access === Access.fetch && !this.nxe) err &= ~PfErr.fetch;
    if (present) err |= PfErr.present;
    if (rsvd) err |= PfErr.rsvd | PfErr.present;
    if (this.user) err |= PfErr.user;
    throw this.fault.setPageFault(err, lo, hi);
  }

  // ---- data access (virtual) ----------------------------------------------------------------------

  read8(lo: number, hi: number): number {
    return this.u8[this.translateRead(lo, hi)];
  }

  read16(lo: number, hi: number): number {
    if ((lo & 0xfff) > 0xffe) return this.read8(lo, hi) | (this.read8((lo + 1) | 0, lo === -1 ? hi + 1 : hi) << 8);
    return this.dv.getUint16(this.translateRead(lo, hi), true);
  }

  read32(lo: number, hi: number): number {
    if ((lo & 0xfff) > 0xffc) return this.readCross(lo, hi, 4) | 0;
    return this.dv.getInt32(this.translateRead(lo, hi), true);
  }

  /** Low word returned, high word left in `this.hiOut`. */
  hiOut = 0;
  read64(lo: number, hi: number): number {
    if ((lo & 0xfff) > 0xff8) {
      const l = this.readCross(lo, hi, 4) | 0;
      const lo2 = (lo + 4) | 0;
      this.hiOut = this.readCross(lo2, (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, 4) | 0;
      return l;
    }
    const p = this.translateRead(lo, hi);
    this.hiOut = this.dv.getInt32(p + 4, true);
    return this.dv.getInt32(p, true);
  }

  private readCross(lo: number, hi: number, n: number): number {
    let v = 0;
    for (let k = 0; k < n; k++) {
      const l = (lo + k) | 0;
      const h = (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      v += this.read8(l, h) * 2 ** (8 * k);
    }
    return v;
  }

  write8(lo: number, hi: number, v: number): void {
    this.u8[this.translateWrite(lo, hi)] = v;
  }

  write16(lo: number, hi: number, v: number): void {
    if ((lo & 0xfff) > 0xffe) {
      this.writeCross(lo, hi, 2, v, 0);
      return;
    }
    this.dv.setUint16(this.translateWrite(lo, hi), v, true);
  }

  write32(lo: number, hi: number, v: number): void {
    if ((lo & 0xfff) > 0xffc) {
      this.writeCross(lo, hi, 4, v, 0);
      return;
    }
    this.dv.setInt32(this.translateWrite(lo, hi), v, true);
  }

  write64(lo: number, hi: number, vlo: number, vhi: number): void {
    if ((lo & 0xfff) > 0xff8) {
      this.writeCross(lo, hi, 8, vlo, vhi);
      return;
    }
    const p = this.translateWrite(lo, hi);
    this.dv.setInt32(p, vlo, true);
    this.dv.setInt32(p + 4, vhi, true);
  }

  /** Physical addresses of the bytes of a page-crossing write (at most 8; no array per write). */
  private readonly crossPhys = new Int32Array(8);

  /** A write that crosses a page: translate both pages for writing before changing anything. */
  private writeCross(lo: number, hi: number, n: number, vlo: number, vhi: number): void {
    const phys = this.crossPhys;
    for (let k = 0; k < n; k++) {
      const l = (lo + k) | 0;
      const h = (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
      phys[k] = this.translateWrite(l, h);
    }
    for (let k = 0; k < n; k++) {
      const word = k < 4 ? vlo : vhi;
      this.u8[phys[k]] = (word >>> (8 * (k & 3))) & 0xff;
    }
  }

  /** Check that [lo, lo+n) is writable (for instructions that must fault before changing state). */
  probeWrite(lo: number, hi: number, n: number): void {
    this.translateWrite(lo, hi);
    if ((lo & 0xfff) + n > PAGE_SIZE) {
      const l = (lo + n - 1) | 0;
      this.translateWrite(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
    }
  }

  // ---- hypervisor API: physical and virtual access that also invalidates decoded code ----------------

  readPhys(addr: number, length: number): Uint8Array {
    if (addr < 0 || addr + length > this.bytes) throw new RangeError(`physical range 0x${addr.toString(16)}+${length} outside guest memory`);
    return this.u8.slice(addr, addr + length);
  }

  writePhys(addr: number, data: Uint8Array): void {
    if (addr < 0 || addr + data.length > this.bytes) throw new RangeError(`physical range 0x${addr.toString(16)}+${data.length} outside guest memory`);
    this.u8.set(data, addr);
    const first = addr >>> PAGE_SHIFT;
    const last = (addr + Math.max(data.length, 1) - 1) >>> PAGE_SHIFT;
    for (let p = first; p <= last; p++) if (this.codePages[p] !== 0) this.onCodeWrite(p);
  }

  /**
   * Translate a guest-virtual address through the current page tables without side effects on A/D bits
   * beyond what a walk does, and without faulting: returns -1 when unmapped.
   */
  virtToPhys(va: bigint, access: Access = Access.read): number {
    const lo = Number(va & 0xffffffffn) | 0;
    const hi = Number((va >> 32n) & 0xffffffffn) | 0;
    try {
      return this.fill(lo, hi, access) + (lo & (PAGE_SIZE - 1));
    } catch (e) {
      if (e instanceof CpuFault) return -1;
      throw e;
    }
  }

  readVirt(va: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let k = 0; k < length; ) {
      const p = this.virtToPhys(va + BigInt(k));
      if (p < 0) throw new RangeError(`guest-virtual 0x${(va + BigInt(k)).toString(16)} is not mapped`);
      const n = Math.min(length - k, PAGE_SIZE - (p & (PAGE_SIZE - 1)));
      out.set(this.u8.subarray(p, p + n), k);
      k += n;
    }
    return out;
  }

  writeVirt(va: bigint, data: Uint8Array): void {
    for (let k = 0; k < data.length; ) {
      const p = this.virtToPhys(va + BigInt(k), Access.read);
      if (p < 0) throw new RangeError(`guest-virtual 0x${(va + BigInt(k)).toString(16)} is not mapped`);
      const n = Math.min(data.length - k, PAGE_SIZE - (p & (PAGE_SIZE - 1)));
      this.writePhys(p, data.subarray(k, k + n));
      k += n;
    }
  }
}
