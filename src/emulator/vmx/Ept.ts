// Extended page tables (Intel SDM vol. 3C chapter 29.3) reduced to what this machine needs: a flat
// guest-physical -> host-physical map at 4-KiB granularity, each guest page with EPT read/write/execute
// permissions. A real EPT is a 4-level radix tree; the permissions of a 4-KiB translation are the AND of the
// R/W/X bits of the entries on its walk (29.3.3.2), which is what `perm` stores per page, so the outcomes
// (which accesses violate, what the exit qualification reports) are the same.
//
// `perm` is the Uint8Array the CPU's Mmu consults directly (Mmu.eptPerm: bit 0 R, bit 1 W, bit 2 X).
// `hostFrame` relocates guest pages (identity by default): the hypervisor hides a page by mapping its frame
// elsewhere. EPT has one mapping per page for all access kinds; a VMM that wants reads to see other bytes
// than fetches makes the page execute-only (X without R, allowed when IA32_VMX_EPT_VPID_CAP bit 0 reports
// execute-only support, as on every CPU since Westmere), takes the read violation, and serves the read from
// a decoy frame (e.g. remap + monitor trap flag + remap back), as EPT-hooking hypervisors do.
//
// Changes bump `version`: software holding cached translations must flush them (the INVEPT a real VMM
// issues after editing EPT entries, SDM 29.4.3.1).

import { Rwx, eptViolationQualification } from './qualification.js';

export const EPT_PAGE_SHIFT = 12;
export const EPT_PAGE_SIZE = 4096;
export const RWX_ALL = Rwx.R | Rwx.W | Rwx.X;

/** Details of the last violation `translate` reported (reused object: copy it to keep it). */
export interface EptViolationInfo {
  /** Guest-physical address of the access. */
  gpa: number;
  /** Rwx bits of the attempted access. */
  access: number;
  /** Rwx bits the page has (0 when the address is outside guest memory: not present). */
  perm: number;
  /** Exit qualification (SDM Table 28-7) for this violation. */
  qualification: number;
}

export class Ept {
  readonly guestPages: number;
  readonly hostPages: number;
  /** EPT permissions per guest-physical page (bit 0 R, bit 1 W, bit 2 X); hand this to Mmu.eptPerm. */
  readonly perm: Uint8Array;
  /** Host-physical frame of each guest-physical page. */
  readonly hostFrame: Uint32Array;
  /** Filled by translate() when it returns -1. */
  readonly violation: EptViolationInfo = { gpa: 0, access: 0, perm: 0, qualification: 0 };
  /** Bumped on every permission or mapping change. */
  version = 0;
  private remapCount = 0;

  /**
   * `guestPages` 4-KiB guest-physical pages, all mapped identity with `initialPerm`; `hostPages` host frames
   * (more than guestPages when the hypervisor keeps private frames to map pages to).
   */
  constructor(guestPages: number, hostPages = guestPages, initialPerm: number = RWX_ALL) {
    if (!Number.isInteger(guestPages) || guestPages <= 0) throw new RangeError(`guest page count must be a positive integer, got ${guestPages}`);
    if (!Number.isInteger(hostPages) || hostPages < guestPages) throw new RangeError(`host page count must be >= guest page count (${guestPages}), got ${hostPages}`);
    checkRwx(initialPerm);
    this.guestPages = guestPages;
    this.hostPages = hostPages;
    this.perm = new Uint8Array(guestPages).fill(initialPerm);
    this.hostFrame = new Uint32Array(guestPages);
    for (let i = 0; i < guestPages; i++) this.hostFrame[i] = i;
  }

  /** Set the R/W/X permissions of one guest page (0 = not present). */
  setPermissions(gpaPage: number, rwx: number): void {
    this.checkGuestPage(gpaPage);
    checkRwx(rwx);
    this.perm[gpaPage] = rwx;
    this.version++;
  }

  /** Set the permissions of `count` guest pages from `firstPage`. */
  setRangePermissions(firstPage: number, count: number, rwx: number): void {
    this.checkGuestPage(firstPage);
    if (count > 0) this.checkGuestPage(firstPage + count - 1);
    checkRwx(rwx);
    this.perm.fill(rwx, firstPage, firstPage + count);
    this.version++;
  }

  permissions(gpaPage: number): number {
    this.checkGuestPage(gpaPage);
    return this.perm[gpaPage]!;
  }

  /** Map guest page `gpaPage` to host frame `hpaPage`. */
  remap(gpaPage: number, hpaPage: number): void {
    this.checkGuestPage(gpaPage);
    if (!Number.isInteger(hpaPage) || hpaPage < 0 || hpaPage >= this.hostPages) {
      throw new RangeError(`host page must be 0..${this.hostPages - 1}, got ${hpaPage}`);
    }
    const was = this.hostFrame[gpaPage] !== gpaPage;
    const now = hpaPage !== gpaPage;
    this.remapCount += (now ? 1 : 0) - (was ? 1 : 0);
    this.hostFrame[gpaPage] = hpaPage;
    this.version++;
  }

  /** Restore the identity mapping of a guest page. */
  unmapRemap(gpaPage: number): void {
    this.remap(gpaPage, gpaPage);
  }

  hostPage(gpaPage: number): number {
    this.checkGuestPage(gpaPage);
    return this.hostFrame[gpaPage]!;
  }

  /** True when some guest page is not identity-mapped (the Mmu can skip the remap lookup otherwise). */
  get hasRemaps(): boolean {
    return this.remapCount !== 0;
  }

  /**
   * Translate guest-physical `gpa` for an access of kind `access` (Rwx bits: R data read, W data write,
   * X instruction fetch; R|W for a read-modify-write). Returns the host-physical address, or -1 on an EPT
   * violation (SDM 29.3.3.2: a needed permission bit is 0), with `violation` filled in, including the exit
   * qualification: bits 2:0 the access, 5:3 the page's R/W/X, bit 7 `linearValid`, bit 8 `translated`
   * (false when the access was a guest paging-structure read during a page walk).
   */
  translate(gpa: number, access: number, linearValid = true, translated = true): number {
    const page = Math.floor(gpa / EPT_PAGE_SIZE);
    const perm = gpa >= 0 && page < this.guestPages ? this.perm[page]! : 0;
    if ((perm & access) !== access || access === 0) {
      if (access === 0) throw new RangeError('EPT access kind must be a non-empty Rwx mask');
      const v = this.violation;
      v.gpa = gpa;
      v.access = access;
      v.perm = perm;
      v.qualification = eptViolationQualification(access, perm, linearValid, translated);
      return -1;
    }
    return this.hostFrame[page]! * EPT_PAGE_SIZE + (gpa % EPT_PAGE_SIZE);
  }

  private checkGuestPage(gpaPage: number): void {
    if (!Number.isInteger(gpaPage) || gpaPage < 0 || gpaPage >= this.guestPages) {
      throw new RangeError(`guest page must be 0..${this.guestPages - 1}, got ${gpaPage}`);
    }
  }
}

/**
 * R/W/X combinations EPT accepts: write without read is an EPT misconfiguration (SDM 29.3.3.1), so a VMM
 * must never program it.
 */
function checkRwx(rwx: number): void {
  if (!Number.isInteger(rwx) || rwx < 0 || rwx > 7) throw new RangeError(`EPT permissions must be an Rwx mask 0..7, got ${rwx}`);
  if ((rwx & Rwx.W) !== 0 && (rwx & Rwx.R) === 0) {
    throw new RangeError('EPT permissions write-without-read are an EPT misconfiguration (SDM 29.3.3.1)');
  }
}
