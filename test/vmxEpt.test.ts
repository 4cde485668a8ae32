// EPT translation and permission violations (SDM vol. 3C 29.3.3), with the exit qualification of Table 28-7,
// and agreement with the CPU's Mmu, which consults Ept.perm directly.

import { describe, expect, it } from 'vitest';
import { Mmu } from '../src/emulator/cpu/Mmu.js';
import { CpuFault, Vector } from '../src/emulator/cpu/faults.js';
import { Ept, RWX_ALL } from '../src/emulator/vmx/Ept.js';
import { Rwx, eptViolationQualification } from '../src/emulator/vmx/qualification.js';

describe('Ept', () => {
  it('starts as an identity map with full permissions', () => {
    const ept = new Ept(16);
    expect(ept.translate(0x5123, Rwx.R)).toBe(0x5123);
    expect(ept.translate(0xf000, Rwx.W)).toBe(0xf000);
    expect(ept.translate(0x0, Rwx.X)).toBe(0);
    expect(ept.hasRemaps).toBe(false);
    expect(ept.perm.every((p) => p === RWX_ALL)).toBe(true);
  });

  it('a write to a read-only page is a violation with the SDM qualification bits', () => {
    const ept = new Ept(16);
    const v0 = ept.version;
    ept.setPermissions(5, Rwx.R | Rwx.X);
    expect(ept.version).toBeGreaterThan(v0);
    expect(ept.translate(0x5010, Rwx.R)).toBe(0x5010);
    expect(ept.translate(0x5010, Rwx.X)).toBe(0x5010);
    expect(ept.translate(0x5010, Rwx.W)).toBe(-1);
    expect(ept.violation.gpa).toBe(0x5010);
    expect(ept.violation.access).toBe(Rwx.W);
    expect(ept.violation.perm).toBe(Rwx.R | Rwx.X);
    // bit 1 write | bits 3,5 readable+executable | bit 7 linear valid | bit 8 translated
    expect(ept.violation.qualification).toBe(0x1aa);
    // A read-modify-write needs both R and W.
    expect(ept.translate(0x5010, Rwx.R | Rwx.W)).toBe(-1);
    expect(ept.violation.qualification & 3).toBe(3);
  });

  it('hiding a page: execute-only, and a paging-structure read clears bit 8', () => {
    const ept = new Ept(16);
    ept.setPermissions(7, Rwx.X);
    expect(ept.translate(0x7000, Rwx.X)).toBe(0x7000);
    expect(ept.translate(0x7ff8, Rwx.R, true, false)).toBe(-1);
    expect(ept.violation.qualification).toBe(0xa1); // read | executable | linear valid
    ept.setPermissions(8, 0);
    expect(ept.translate(0x8000, Rwx.X)).toBe(-1);
    expect(ept.violation.qualification).toBe(0x184);
  });

  it('remaps guest pages to other host frames, including hypervisor-private ones', () => {
    const ept = new Ept(16, 20);
    ept.remap(3, 18);
    expect(ept.hasRemaps).toBe(true);
    expect(ept.translate(0x3abc, Rwx.R)).toBe(18 * 4096 + 0xabc);
    expect(ept.hostPage(3)).toBe(18);
    ept.unmapRemap(3);
    expect(ept.hasRemaps).toBe(false);
    expect(ept.translate(0x3abc, Rwx.R)).toBe(0x3abc);
    expect(() => ept.remap(3, 20)).toThrow(RangeError);
  });

  it('addresses outside guest memory are not present', () => {
    const ept = new Ept(4);
    expect(ept.translate(0x4000, Rwx.R)).toBe(-1);
    expect(ept.violation.perm).toBe(0);
    expect(ept.violation.qualification).toBe(0x181);
  });

  it('refuses write-without-read (an EPT misconfiguration) and bad ranges', () => {
    const ept = new Ept(4);
    expect(() => ept.setPermissions(0, Rwx.W)).toThrow(/misconfiguration/);
    expect(() => ept.setPermissions(0, Rwx.W | Rwx.X)).toThrow(/misconfiguration/);
    expect(() => ept.setPermissions(4, Rwx.R)).toThrow(RangeError);
    expect(() => ept.setRangePermissions(2, 3, Rwx.R)).toThrow(RangeError);
    ept.setRangePermissions(1, 3, Rwx.R);
    expect(Array.from(ept.perm)).toEqual([7, 1, 1, 1]);
  });
});

describe('Ept.perm drives the CPU Mmu', () => {
  it('the Mmu faults exactly where Ept.translate reports a violation, with the same access and permissions', () => {
    const pages = 16;
    const fault = new CpuFault();
    const mmu = new Mmu(pages * 4096, fault);
    const ept = new Ept(pages);
    mmu.eptPerm = ept.perm;
    ept.setPermissions(2, Rwx.R); // read-only
    ept.setPermissions(3, Rwx.X); // execute-only
    ept.setPermissions(4, 0); // not present
    mmu.flushTlb();

    const kinds = [
      ['read', Rwx.R, (a: number) => mmu.translateRead(a, 0)],
      ['write', Rwx.W, (a: number) => mmu.translateWrite(a, 0)],
      ['fetch', Rwx.X, (a: number) => mmu.translateFetch(a, 0)],
    ] as const;
    for (let page = 0; page < 6; page++) {
      for (const [, access, op] of kinds) {
        const addr = page * 4096 + 0x10;
        const expected = ept.translate(addr, access);
        let got: number;
        try {
          got = op(addr);
        } catch (e) {
          expect(e).toBe(fault);
          expect(fault.vector).toBe(Vector.EPT_VIOLATION);
          got = -1;
          const v = mmu.eptViolation;
          expect(v.gpa).toBe(addr);
          expect(v.access).toBe(ept.violation.access);
          expect(v.perm).toBe(ept.violation.perm);
          expect(eptViolationQualification(v.access, v.perm, true, true)).toBe(ept.violation.qualification);
        }
        expect(got).toBe(expected);
      }
    }
  });
});
