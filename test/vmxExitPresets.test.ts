// Exit presets, checked through the VMCS decision functions: what exits and what does not under each. The
// ground-truth port is taken from the guest kernel that writes it (guest/kernel/lib.c: `outl(port, ...)`, a
// 32-bit OUT), not from the presets' own constant, so a preset that passed the wrong port or width fails.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { Exitable, Msr } from '../src/emulator/cpu/arch.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';
import { CrAccessType } from '../src/emulator/vmx/qualification.js';
import { NO_EXIT, Vmcs } from '../src/emulator/vmx/Vmcs.js';
import {
  BOOT_CR0,
  BOOT_CR4,
  EXIT_PRESET_NAMES,
  applyExitPreset,
  getExitPreset,
  listExitPresets,
} from '../src/hypervisor/exitPresets.js';

/** The port and width of the guest kernel's ground-truth write: `outl(0x510, (uint32_t)V2P(&gtev))`. */
const GUEST_GT = (() => {
  const src = readFileSync(new URL('../guest/kernel/lib.c', import.meta.url), 'utf8');
  const m = /\bout([bwl])\((0x[0-9a-fA-F]+),\s*\(uint32_t\)V2P\(&gtev\)\)/.exec(src);
  if (m === null) throw new Error('guest/kernel/lib.c: no ground-truth OUT found');
  return { port: Number(m[2]), bytes: { b: 1, w: 2, l: 4 }[m[1] as 'b' | 'w' | 'l'] };
})();

function preset(name: string, ept = true): Vmcs {
  const v = new Vmcs();
  applyExitPreset(v, name, { ept });
  return v;
}

const CR0_WP = 1 << 16;
const CR0_TS = 1 << 3;
const CR4_PGE = 1 << 7;
const CR4_VMXE = 1 << 13;

describe('every preset', () => {
  for (const name of EXIT_PRESET_NAMES) {
    for (const ept of [true, false]) {
      it(`${name} (ept=${ept}): CPUID and VMCALL exit, the ground-truth port never does, the boot CR0/CR4 write back silently`, () => {
        const v = preset(name, ept);
        expect(v.instructionExitReason(Exitable.cpuid)).toBe(ExitReason.CPUID);
        expect(v.instructionExitReason(Exitable.vmcall)).toBe(ExitReason.VMCALL);
        expect(v.ioCausesExit(GUEST_GT.port, GUEST_GT.bytes)).toBe(false);
        expect(v.crAccessCausesExit(0, CrAccessType.movToCr, BOOT_CR0)).toBe(false);
        expect(v.crAccessCausesExit(4, CrAccessType.movToCr, BOOT_CR4)).toBe(false);
        expect(v.cr0ReadValue(BOOT_CR0)).toBe(BOOT_CR0);
        expect(v.cr4ReadValue(BOOT_CR4 | CR4_VMXE)).toBe(BOOT_CR4); // VMXE is hidden
        expect(v.eptEnabled()).toBe(ept);
        expect(v.msrCausesExit(0x40000000, false)).toBe(true); // outside the bitmap ranges
      });
    }
  }
});

describe('kvm-default', () => {
  it('with EPT: HLT, I/O, MSRs KVM intercepts, #DB #UD #MC #AC exit; #PF, INVLPG, CR3 do not', () => {
    const v = preset('kvm-default');
    expect(v.instructionExitReason(Exitable.hlt)).toBe(ExitReason.HLT);
    expect(v.instructionExitReason(Exitable.invlpg)).toBe(NO_EXIT);
    expect(v.instructionExitReason(Exitable.rdtsc)).toBe(NO_EXIT);
    expect(v.instructionExitReason(Exitable.movDr)).toBe(ExitReason.DR_ACCESS);
    expect(v.instructionExitReason(Exitable.wbinvd)).toBe(ExitReason.WBINVD);
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000)).toBe(false);
    expect(v.crAccessCausesExit(3, CrAccessType.movFromCr)).toBe(false);
    expect(v.ioCausesExit(0x3f8, 1)).toBe(true);
    expect(v.ioCausesExit(0xc00c, 4)).toBe(true);
    expect(v.ioCausesExit(0x80, 1)).toBe(false);
    expect(v.ioCausesExit(GUEST_GT.port - 1, GUEST_GT.bytes)).toBe(true); // touches 0x50f, which exits
    expect(v.ioCausesExit(GUEST_GT.port + GUEST_GT.bytes, 1)).toBe(true); // 0x514: past the ground-truth access
    expect(v.ioCausesExit(0x500, 4)).toBe(true); // power-off port
    for (const vector of [1, 6, 17, 18]) expect(v.exceptionCausesExit(vector, 0)).toBe(true);
    for (const vector of [0, 3, 7, 13, 14]) expect(v.exceptionCausesExit(vector, 0)).toBe(false);
    expect(v.exceptionCausesExit(14, 3)).toBe(false);
    expect(v.externalInterruptCausesExit()).toBe(true);
    expect(v.nmiCausesExit()).toBe(true);
    // MSRs: TSC read passes through, write exits; FS/GS/KERNEL_GS base pass both ways; LSTAR and EFER exit.
    expect(v.msrCausesExit(Msr.TSC, false)).toBe(false);
    expect(v.msrCausesExit(Msr.TSC, true)).toBe(true);
    for (const msr of [Msr.FS_BASE, Msr.GS_BASE, Msr.KERNEL_GS_BASE, 0x174, 0x175, 0x176]) {
      expect(v.msrCausesExit(msr, false)).toBe(false);
      expect(v.msrCausesExit(msr, true)).toBe(false);
    }
    for (const msr of [Msr.LSTAR, Msr.EFER, Msr.STAR, Msr.FMASK, Msr.APIC_BASE]) {
      expect(v.msrCausesExit(msr, false)).toBe(true);
      expect(v.msrCausesExit(msr, true)).toBe(true);
    }
    // CR0: TS is the guest's; clearing WP exits. CR4: PGE is the guest's with EPT; VMXE is not.
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, BOOT_CR0 | CR0_TS)).toBe(false);
    expect(v.crAccessCausesExit(0, CrAccessType.clts)).toBe(false);
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, BOOT_CR0 & ~CR0_WP)).toBe(true);
    expect(v.crAccessCausesExit(4, CrAccessType.movToCr, BOOT_CR4 | CR4_PGE)).toBe(false);
    expect(v.crAccessCausesExit(4, CrAccessType.movToCr, BOOT_CR4 | CR4_VMXE)).toBe(true);
  });

  it('without EPT: #PF (any error code), INVLPG, MOV to/from CR3 and CR4.PGE writes exit', () => {
    const v = preset('kvm-default', false);
    expect(v.exceptionCausesExit(14, 0)).toBe(true);
    expect(v.exceptionCausesExit(14, 0x15)).toBe(true);
    expect(v.instructionExitReason(Exitable.invlpg)).toBe(ExitReason.INVLPG);
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000)).toBe(true);
    expect(v.crAccessCausesExit(3, CrAccessType.movFromCr)).toBe(true);
    expect(v.crAccessCausesExit(4, CrAccessType.movToCr, BOOT_CR4 | CR4_PGE)).toBe(true);
  });
});

describe('exceptions-full', () => {
  it('traps every exception vector but #NM, and every page fault', () => {
    const v = preset('exceptions-full');
    for (let vector = 0; vector < 32; vector++) {
      if (vector === 2) continue; // NMIs: "NMI exiting"
      expect(v.exceptionCausesExit(vector, 0), `vector ${vector}`).toBe(vector !== 7);
    }
    for (const ec of [0, 2, 3, 4, 5, 0x14, 0x15]) expect(v.exceptionCausesExit(14, ec)).toBe(true);
    expect(v.nmiCausesExit()).toBe(true);
    // Otherwise the same as kvm-default.
    const k = preset('kvm-default');
    expect(v.primaryProcessorBasedControls).toBe(k.primaryProcessorBasedControls);
    expect(Buffer.from(v.msrBitmap).equals(Buffer.from(k.msrBitmap))).toBe(true);
    expect(Buffer.from(v.ioBitmapA).equals(Buffer.from(k.ioBitmapA))).toBe(true);
  });
});

describe('minimal', () => {
  it('exits only where VT-x cannot be told not to', () => {
    const v = preset('minimal');
    for (const kind of [Exitable.hlt, Exitable.invlpg, Exitable.rdtsc, Exitable.rdtscp, Exitable.movDr, Exitable.wbinvd, Exitable.lgdt, Exitable.pause]) {
      expect(v.instructionExitReason(kind), `kind ${kind}`).toBe(NO_EXIT);
    }
    expect(v.ioCausesExit(0x3f8, 1)).toBe(false);
    expect(v.ioCausesExit(0xfffe, 4)).toBe(false); // no bitmaps: not even the wrap-around rule applies
    expect(v.msrCausesExit(Msr.LSTAR, true)).toBe(false);
    expect(v.msrCausesExit(Msr.EFER, false)).toBe(false);
    expect(v.externalInterruptCausesExit()).toBe(false);
    for (let vector = 0; vector < 32; vector++) expect(v.exceptionCausesExit(vector, 0)).toBe(false);
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x5000)).toBe(false);
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, BOOT_CR0 & ~CR0_WP)).toBe(false);
    // VMX-fixed bits stay host-owned: clearing CR0.NE or setting the hidden CR4.VMXE exits.
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, BOOT_CR0 & ~0x20)).toBe(true);
    expect(v.crAccessCausesExit(4, CrAccessType.movToCr, CR4_VMXE)).toBe(true);
  });

  it('replaces whatever was programmed before', () => {
    const v = preset('exceptions-full');
    applyExitPreset(v, 'minimal');
    expect(v.exceptionBitmap).toBe(0);
    expect(v.ioBitmapA.every((b) => b === 0)).toBe(true);
    expect(v.msrBitmap.every((b) => b === 0)).toBe(true);
  });
});

describe('lookup', () => {
  it('lists every preset with a description and rejects unknown names with the list', () => {
    expect(listExitPresets().map((p) => p.name)).toEqual(['kvm-default', 'exceptions-full', 'minimal']);
    for (const p of listExitPresets()) expect(p.description.length).toBeGreaterThan(40);
    expect(getExitPreset('minimal').name).toBe('minimal');
    expect(() => getExitPreset('kvm')).toThrow(UserError);
    expect(() => getExitPreset('kvm')).toThrow(/kvm-default, exceptions-full, minimal/);
    expect(() => applyExitPreset(new Vmcs(), 'constructor')).toThrow(UserError);
  });
});
