// VMCS exit decisions against the rules of Intel SDM vol. 3C 26.1.3 / 26.2 / 26.3 / 27.2.1.3. Bitmaps are
// programmed as raw bytes in the layout of SDM 25.6.4 / 25.6.9 (as a VMM writes them to memory), so the
// decision functions are checked against the architectural layout, not against our own setters.

import { describe, expect, it } from 'vitest';
import { Exitable } from '../src/emulator/cpu/arch.js';
import { ProcBased, PinBased, SecondaryBased, ExceptionVector, vectorMask } from '../src/emulator/vmx/controls.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';
import { CrAccessType, InterruptionType } from '../src/emulator/vmx/qualification.js';
import { INVALID_OPCODE, NO_EXIT, Vmcs, words64ToNumber } from '../src/emulator/vmx/Vmcs.js';

function withIoBitmaps(): Vmcs {
  const v = new Vmcs();
  v.primaryProcessorBasedControls = ProcBased.USE_IO_BITMAPS;
  return v;
}

describe('I/O instructions (SDM 26.1.3, bitmaps 25.6.4)', () => {
  it('port 0x3f8 is bit 0 of byte 0x7f of bitmap A', () => {
    const v = withIoBitmaps();
    v.ioBitmapA[0x3f8 >> 3] = 1 << (0x3f8 & 7); // byte 127, bit 0
    expect(0x3f8 >> 3).toBe(127);
    expect(v.ioCausesExit(0x3f8, 1)).toBe(true);
    expect(v.ioCausesExit(0x3f9, 1)).toBe(false);
    expect(v.ioCausesExit(0x3f0, 1)).toBe(false);
    // The same bit in bitmap B is port 0x83f8, not 0x3f8.
    const w = withIoBitmaps();
    w.ioBitmapB[127] = 1;
    expect(w.ioCausesExit(0x3f8, 1)).toBe(false);
    expect(w.ioCausesExit(0x83f8, 1)).toBe(true);
  });

  it('ports 0x8000 and up use bitmap B (NIC at 0xc000)', () => {
    const v = withIoBitmaps();
    // 0xc004 - 0x8000 = 0x4004: byte 0x800, bit 4.
    v.ioBitmapB[0x800] = 1 << 4;
    expect(v.ioCausesExit(0xc004, 4)).toBe(true);
    expect(v.ioCausesExit(0xc000, 4)).toBe(false);
    expect(v.ioCausesExit(0xc008, 4)).toBe(false);
    expect(v.ioCausesExit(0x4004, 4)).toBe(false);
  });

  it('a multi-byte access exits if any port it touches has its bit set', () => {
    const v = withIoBitmaps();
    v.ioBitmapA[0x3f8 >> 3] = 1; // port 0x3f8 only
    expect(v.ioCausesExit(0x3f6, 2)).toBe(false); // 0x3f6, 0x3f7
    expect(v.ioCausesExit(0x3f6, 4)).toBe(true); // 0x3f6..0x3f9 covers 0x3f8
    expect(v.ioCausesExit(0x3f7, 2)).toBe(true); // 0x3f7, 0x3f8
    // An access spanning bitmaps A and B: 0x7fff, 0x8000.
    const w = withIoBitmaps();
    w.ioBitmapB[0] = 1; // port 0x8000
    expect(w.ioCausesExit(0x7ffe, 2)).toBe(false);
    expect(w.ioCausesExit(0x7fff, 2)).toBe(true);
  });

  it('an access wrapping past port 0xffff always exits', () => {
    const v = withIoBitmaps();
    expect(v.ioCausesExit(0xffff, 1)).toBe(false);
    expect(v.ioCausesExit(0xffff, 2)).toBe(true);
    expect(v.ioCausesExit(0xfffe, 4)).toBe(true);
  });

  it('unconditional I/O exiting applies only without I/O bitmaps', () => {
    const v = new Vmcs();
    expect(v.ioCausesExit(0x3f8, 1)).toBe(false);
    v.primaryProcessorBasedControls = ProcBased.UNCONDITIONAL_IO_EXITING;
    expect(v.ioCausesExit(0x3f8, 1)).toBe(true);
    expect(v.ioCausesExit(0x80, 1)).toBe(true);
    // With "use I/O bitmaps" the unconditional control is ignored.
    v.primaryProcessorBasedControls = ProcBased.UNCONDITIONAL_IO_EXITING | ProcBased.USE_IO_BITMAPS;
    expect(v.ioCausesExit(0x3f8, 1)).toBe(false);
  });

  it('setIoIntercept writes the SDM bit positions', () => {
    const v = withIoBitmaps();
    v.setIoIntercept(0x3f8, true);
    v.setIoIntercept(0xc004, true);
    expect(v.ioBitmapA[127]).toBe(0x01);
    expect(v.ioBitmapB[0x800]).toBe(0x10);
    v.setIoRangeIntercept(0x1f0, 0x1f7, true);
    expect(v.ioBitmapA[0x1f0 >> 3]).toBe(0xff);
    v.setIoIntercept(0x1f3, false);
    expect(v.ioBitmapA[0x1f0 >> 3]).toBe(0xf7);
    expect(() => v.setIoIntercept(0x10000, true)).toThrow(RangeError);
  });
});

describe('RDMSR/WRMSR (SDM 26.1.3, MSR bitmaps 25.6.9)', () => {
  function withMsrBitmaps(): Vmcs {
    const v = new Vmcs();
    v.primaryProcessorBasedControls = ProcBased.USE_MSR_BITMAPS;
    return v;
  }

  it('read-low, read-high, write-low, write-high at byte offsets 0, 1024, 2048, 3072', () => {
    const v = withMsrBitmaps();
    v.msrBitmap[0 + (0x10 >> 3)] = 1 << (0x10 & 7); // read-low: IA32_TIME_STAMP_COUNTER
    v.msrBitmap[1024 + (0x82 >> 3)] = 1 << (0x82 & 7); // read-high: LSTAR 0xc0000082
    v.msrBitmap[2048 + (0x1b >> 3)] = 1 << (0x1b & 7); // write-low: APIC_BASE
    v.msrBitmap[3072 + (0x100 >> 3)] = 1 << (0x100 & 7); // write-high: FS_BASE 0xc0000100
    expect(v.msrCausesExit(0x10, false)).toBe(true);
    expect(v.msrCausesExit(0x10, true)).toBe(false);
    expect(v.msrCausesExit(0xc0000082, false)).toBe(true);
    expect(v.msrCausesExit(0xc0000082, true)).toBe(false);
    expect(v.msrCausesExit(0x1b, true)).toBe(true);
    expect(v.msrCausesExit(0x1b, false)).toBe(false);
    expect(v.msrCausesExit(0xc0000100, true)).toBe(true);
    expect(v.msrCausesExit(0xc0000100, false)).toBe(false);
    // The low-range bit of 0x82 is not LSTAR's.
    expect(v.msrCausesExit(0x82, false)).toBe(false);
  });

  it('MSRs outside 0-0x1fff and 0xc0000000-0xc0001fff always exit', () => {
    const v = withMsrBitmaps();
    for (const msr of [0x1fff, 0xc0000000, 0xc0001fff]) {
      expect(v.msrCausesExit(msr, false)).toBe(false);
      expect(v.msrCausesExit(msr, true)).toBe(false);
    }
    for (const msr of [0x2000, 0x40000000, 0xbfffffff, 0xc0002000, 0xc0010000, 0xffffffff]) {
      expect(v.msrCausesExit(msr, false)).toBe(true);
      expect(v.msrCausesExit(msr, true)).toBe(true);
    }
  });

  it('without "use MSR bitmaps" every RDMSR and WRMSR exits', () => {
    const v = new Vmcs();
    expect(v.msrCausesExit(0x10, false)).toBe(true);
    expect(v.msrCausesExit(0xc0000100, true)).toBe(true);
  });

  it('setMsrIntercept writes the same offsets as Xen vmx_{en,dis}able_intercept_for_msr (0x000/0x400/0x800/0xc00)', () => {
    const v = withMsrBitmaps();
    v.setMsrIntercept(0xc0000082, true, false);
    expect(v.msrBitmap[0x400 + 0x10]).toBe(1 << 2);
    expect(v.msrBitmap[0xc00 + 0x10]).toBe(0);
    v.setMsrIntercept(0x174, false, true); // SYSENTER_CS
    expect(v.msrBitmap[0x800 + (0x174 >> 3)]).toBe(1 << 4);
    expect(() => v.setMsrIntercept(0x40000000, false, false)).toThrow(/always exits/);
    expect(() => v.setMsrIntercept(0x40000000, true, true)).not.toThrow();
  });
});

describe('exceptions and the #PF error-code mask/match rule (SDM 26.2)', () => {
  it('exception bitmap selects vectors', () => {
    const v = new Vmcs();
    v.exceptionBitmap = vectorMask(ExceptionVector.UD, ExceptionVector.GP);
    expect(v.exceptionCausesExit(6)).toBe(true);
    expect(v.exceptionCausesExit(13, 0)).toBe(true);
    expect(v.exceptionCausesExit(3)).toBe(false);
    expect(v.exceptionCausesExit(0)).toBe(false);
    v.setExceptionIntercept(31, true);
    expect(v.exceptionBitmap).toBe(0x80002040);
    expect(v.exceptionCausesExit(31)).toBe(true);
  });

  // The four combinations of SDM 26.2 ("Page faults ... are specially treated").
  const errorCodes = [0, 1, 2, 3, 4, 5, 7, 0x10, 0x11, 0x15, 0x8000];
  it('bit 14 = 1, mask = 0, match = 0: every #PF exits', () => {
    const v = new Vmcs();
    v.exceptionBitmap = 1 << 14;
    for (const ec of errorCodes) expect(v.exceptionCausesExit(14, ec)).toBe(true);
  });
  it('bit 14 = 1, mask = 0, match = 0xffffffff: no #PF exits', () => {
    const v = new Vmcs();
    v.exceptionBitmap = 1 << 14;
    v.pageFaultErrorCodeMatch = 0xffffffff;
    for (const ec of errorCodes) expect(v.exceptionCausesExit(14, ec)).toBe(false);
  });
  it('bit 14 = 0, mask = 0, match = 0: no #PF exits', () => {
    const v = new Vmcs();
    for (const ec of errorCodes) expect(v.exceptionCausesExit(14, ec)).toBe(false);
  });
  it('bit 14 = 0, mask = 0, match = 0xffffffff: every #PF exits (the inverted sense)', () => {
    const v = new Vmcs();
    v.pageFaultErrorCodeMatch = 0xffffffff;
    for (const ec of errorCodes) expect(v.exceptionCausesExit(14, ec)).toBe(true);
  });
  it("KVM's EPT configuration (bit 14, mask = match = P) traps only protection faults", () => {
    const v = new Vmcs();
    v.exceptionBitmap = 1 << 14;
    v.pageFaultErrorCodeMask = 1;
    v.pageFaultErrorCodeMatch = 1;
    expect(v.exceptionCausesExit(14, 0x3)).toBe(true); // present, write
    expect(v.exceptionCausesExit(14, 0x15)).toBe(true); // present, user fetch
    expect(v.exceptionCausesExit(14, 0x2)).toBe(false); // not present, write
    expect(v.exceptionCausesExit(14, 0x14)).toBe(false);
  });
  it('the mask/match rule applies to vector 14 only', () => {
    const v = new Vmcs();
    v.pageFaultErrorCodeMatch = 0xffffffff;
    expect(v.exceptionCausesExit(13, 0)).toBe(false);
  });
});

describe('control-register accesses (SDM 26.1.3) and read shadows (26.3)', () => {
  it('MOV to CR0 exits iff a host-owned bit differs from the read shadow', () => {
    const v = new Vmcs();
    v.cr0GuestHostMask = 0x80000021; // PG, NE, PE owned by the host
    v.cr0ReadShadow = 0x80000001; // guest believes PG=1, NE=0, PE=1
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, 0x80000001)).toBe(false);
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, 0x8005001b)).toBe(false); // only guest-owned bits (MP, TS, ET, WP, AM) differ
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, 0x80000021)).toBe(true); // NE 0 -> 1
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, 0x00000001)).toBe(true); // PG 1 -> 0
    expect(v.crAccessCausesExit(0, CrAccessType.movToCr, 0x80000001, 1)).toBe(true); // bit 32 set
    expect(v.crAccessCausesExit(0, CrAccessType.movFromCr)).toBe(false);
  });

  it('MOV from CR0/CR4 reads host-owned bits from the shadow', () => {
    const v = new Vmcs();
    v.cr0GuestHostMask = 0x20; // NE
    v.cr0ReadShadow = 0;
    expect(v.cr0ReadValue(0x80050033)).toBe(0x80050013);
    v.cr4GuestHostMask = 0x2000; // VMXE
    v.cr4ReadShadow = 0;
    expect(v.cr4ReadValue(0x20a0)).toBe(0xa0);
    v.cr4GuestHostMask = 0xffffffff;
    v.cr4ReadShadow = 0x20;
    expect(v.cr4ReadValue(0x26f0)).toBe(0x20);
    // A write that does not exit changes guest-owned bits only.
    expect(v.cr0WriteValue(0x80050033, 0x80050011)).toBe(0x80050031);
  });

  it('CLTS exits iff TS is set in both mask and shadow', () => {
    const v = new Vmcs();
    for (const [mask, shadow, exit] of [[0, 0, false], [8, 0, false], [0, 8, false], [8, 8, true]] as const) {
      v.cr0GuestHostMask = mask;
      v.cr0ReadShadow = shadow;
      expect(v.crAccessCausesExit(0, CrAccessType.clts)).toBe(exit);
    }
  });

  it('LMSW: PE exits only on 0 -> 1, bits 3:1 on any difference, bits above 3 ignored', () => {
    const v = new Vmcs();
    v.cr0GuestHostMask = 0xf;
    v.cr0ReadShadow = 0x1; // PE=1
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0x0)).toBe(false); // cannot clear PE
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0x1)).toBe(false);
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0x9)).toBe(true); // TS 0 -> 1
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0xfff1)).toBe(false); // bits 15:4 not in LMSW's reach
    v.cr0ReadShadow = 0;
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0x1)).toBe(true); // PE 0 -> 1
    v.cr0GuestHostMask = 0x1;
    expect(v.crAccessCausesExit(0, CrAccessType.lmsw, 0xe)).toBe(false); // bits 3:1 guest-owned
  });

  it('MOV to CR3 with CR3-load exiting honours the first cr3TargetCount target values', () => {
    const v = new Vmcs();
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000)).toBe(false);
    v.primaryProcessorBasedControls = ProcBased.CR3_LOAD_EXITING;
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000)).toBe(true); // count 0: always
    v.setCr3TargetValue(0, 0x1000);
    v.setCr3TargetValue(1, 0x5000);
    v.setCr3TargetValue(3, 0x9000);
    v.cr3TargetCount = 2;
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000)).toBe(false);
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x5000)).toBe(false);
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x9000)).toBe(true); // slot 3 beyond the count
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x1000, 0x80000000)).toBe(true); // bit 63 differs
    v.cr3TargetCount = 4;
    expect(v.crAccessCausesExit(3, CrAccessType.movToCr, 0x9000)).toBe(false);
  });

  it('MOV from CR3 / to and from CR8 follow their controls', () => {
    const v = new Vmcs();
    expect(v.crAccessCausesExit(3, CrAccessType.movFromCr)).toBe(false);
    expect(v.crAccessCausesExit(8, CrAccessType.movToCr, 1)).toBe(false);
    v.primaryProcessorBasedControls = ProcBased.CR3_STORE_EXITING | ProcBased.CR8_LOAD_EXITING;
    expect(v.crAccessCausesExit(3, CrAccessType.movFromCr)).toBe(true);
    expect(v.crAccessCausesExit(8, CrAccessType.movToCr, 1)).toBe(true);
    expect(v.crAccessCausesExit(8, CrAccessType.movFromCr)).toBe(false);
    v.primaryProcessorBasedControls = ProcBased.CR8_STORE_EXITING;
    expect(v.crAccessCausesExit(8, CrAccessType.movFromCr)).toBe(true);
    expect(() => v.crAccessCausesExit(2, CrAccessType.movToCr, 0)).toThrow(RangeError);
  });
});

describe('instruction exits that depend on controls only (SDM 26.1.2, 26.1.3)', () => {
  it('CPUID and VMCALL exit unconditionally', () => {
    const v = new Vmcs();
    expect(v.instructionExitReason(Exitable.cpuid)).toBe(ExitReason.CPUID);
    expect(v.instructionExitReason(Exitable.vmcall)).toBe(ExitReason.VMCALL);
  });

  it('HLT, INVLPG, RDTSC, RDPMC, PAUSE, MOV DR follow their primary controls', () => {
    const v = new Vmcs();
    const cases = [
      [Exitable.hlt, ProcBased.HLT_EXITING, ExitReason.HLT],
      [Exitable.invlpg, ProcBased.INVLPG_EXITING, ExitReason.INVLPG],
      [Exitable.rdtsc, ProcBased.RDTSC_EXITING, ExitReason.RDTSC],
      [Exitable.rdpmc, ProcBased.RDPMC_EXITING, ExitReason.RDPMC],
      [Exitable.pause, ProcBased.PAUSE_EXITING, ExitReason.PAUSE_INSTRUCTION],
      [Exitable.movDr, ProcBased.MOV_DR_EXITING, ExitReason.DR_ACCESS],
    ] as const;
    for (const [kind, bit, reason] of cases) {
      v.primaryProcessorBasedControls = 0;
      expect(v.instructionExitReason(kind)).toBe(NO_EXIT);
      v.primaryProcessorBasedControls = bit;
      expect(v.instructionExitReason(kind)).toBe(reason);
    }
  });

  it('secondary controls count only with "activate secondary controls"', () => {
    const v = new Vmcs();
    v.secondaryProcessorBasedControls = SecondaryBased.DESCRIPTOR_TABLE_EXITING | SecondaryBased.WBINVD_EXITING | SecondaryBased.ENABLE_RDTSCP | SecondaryBased.ENABLE_EPT;
    v.primaryProcessorBasedControls = ProcBased.RDTSC_EXITING;
    expect(v.instructionExitReason(Exitable.lgdt)).toBe(NO_EXIT);
    expect(v.instructionExitReason(Exitable.wbinvd)).toBe(NO_EXIT);
    expect(v.instructionExitReason(Exitable.rdtscp)).toBe(INVALID_OPCODE);
    expect(v.eptEnabled()).toBe(false);
    v.primaryProcessorBasedControls |= ProcBased.ACTIVATE_SECONDARY_CONTROLS;
    expect(v.instructionExitReason(Exitable.lgdt)).toBe(ExitReason.GDTR_IDTR);
    expect(v.instructionExitReason(Exitable.sidt)).toBe(ExitReason.GDTR_IDTR);
    expect(v.instructionExitReason(Exitable.ltr)).toBe(ExitReason.LDTR_TR);
    expect(v.instructionExitReason(Exitable.wbinvd)).toBe(ExitReason.WBINVD);
    expect(v.instructionExitReason(Exitable.rdtscp)).toBe(ExitReason.RDTSCP);
    expect(v.eptEnabled()).toBe(true);
    v.primaryProcessorBasedControls = ProcBased.ACTIVATE_SECONDARY_CONTROLS;
    expect(v.instructionExitReason(Exitable.rdtscp)).toBe(NO_EXIT);
  });

  it('operand-dependent kinds are refused', () => {
    expect(() => new Vmcs().instructionExitReason(Exitable.io)).toThrow(/ioCausesExit/);
  });
});

describe('events (SDM 26.2)', () => {
  it('external interrupts, NMIs, interrupt window, MTF, preemption timer follow their controls', () => {
    const v = new Vmcs();
    expect(v.externalInterruptCausesExit()).toBe(false);
    expect(v.interruptWindowExit(true, false)).toBe(false);
    v.pinBasedControls = PinBased.EXTERNAL_INTERRUPT_EXITING | PinBased.ACTIVATE_PREEMPTION_TIMER;
    v.primaryProcessorBasedControls = ProcBased.INTERRUPT_WINDOW_EXITING | ProcBased.MONITOR_TRAP_FLAG;
    expect(v.externalInterruptCausesExit()).toBe(true);
    expect(v.nmiCausesExit()).toBe(false);
    expect(v.preemptionTimerActive()).toBe(true);
    expect(v.monitorTrapFlag()).toBe(true);
    expect(v.interruptWindowExit(true, false)).toBe(true);
    expect(v.interruptWindowExit(false, false)).toBe(false);
    expect(v.interruptWindowExit(true, true)).toBe(false); // blocking by STI / MOV SS
  });
});

describe('event injection checks (SDM 27.2.1.3)', () => {
  it('accepts well-formed events', () => {
    const v = new Vmcs();
    expect(v.eventInjectionError()).toBeNull(); // nothing pending
    v.injectEvent(14, InterruptionType.hardwareException, 0x2);
    expect(v.injectionPending()).toBe(true);
    expect(v.vmEntryInterruptionInfo).toBe(0x80000b0e);
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(13, InterruptionType.hardwareException, 0x9f00); // 16-bit error code (KVM commit example)
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(6, InterruptionType.hardwareException);
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(0x20, InterruptionType.externalInterrupt);
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(2, InterruptionType.nmi);
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(0x80, InterruptionType.softwareInterrupt, -1, 2);
    expect(v.eventInjectionError()).toBeNull();
    v.injectEvent(3, InterruptionType.softwareException, -1, 1);
    expect(v.eventInjectionError()).toBeNull();
  });

  it('rejects malformed events with the failing check', () => {
    const v = new Vmcs();
    v.injectEvent(14, InterruptionType.hardwareException); // #PF needs an error code
    expect(v.eventInjectionError()).toMatch(/must be injected with an error code/);
    v.injectEvent(6, InterruptionType.hardwareException, 0); // #UD has none
    expect(v.eventInjectionError()).toMatch(/must not be injected with an error code/);
    v.injectEvent(0x20, InterruptionType.externalInterrupt, 0);
    expect(v.eventInjectionError()).toMatch(/must not/);
    v.injectEvent(3, InterruptionType.nmi);
    expect(v.eventInjectionError()).toMatch(/vector 2/);
    v.injectEvent(32, InterruptionType.hardwareException);
    expect(v.eventInjectionError()).toMatch(/0\.\.31/);
    v.injectEvent(13, InterruptionType.hardwareException, 0x10000);
    expect(v.eventInjectionError()).toMatch(/31:16/);
    v.injectEvent(0x80, InterruptionType.softwareInterrupt, -1, 0);
    expect(v.eventInjectionError()).toMatch(/1\.\.15/);
    v.injectEvent(0x80, InterruptionType.softwareInterrupt, -1, 16);
    expect(v.eventInjectionError()).toMatch(/1\.\.15/);
    v.vmEntryInterruptionInfo = (0x80000000 | (1 << 8) | 5) >>> 0; // type 1
    expect(v.eventInjectionError()).toMatch(/reserved/);
    v.vmEntryInterruptionInfo = (0x80000000 | (3 << 8) | (1 << 12) | 6) >>> 0; // reserved bit 12
    expect(v.eventInjectionError()).toMatch(/30:12/);
    // #GP in real mode (unrestricted guest, CR0.PE = 0) is delivered without an error code.
    v.injectEvent(13, InterruptionType.hardwareException);
    expect(v.eventInjectionError(false)).toBeNull();
  });
});

describe('exit information', () => {
  it('beginExit clears the previous exit and 64-bit qualifications round-trip as words', () => {
    const v = new Vmcs();
    v.beginExit(ExitReason.INVLPG);
    v.setExitQualification(0x80001000, 0xffffffff);
    v.exitInterruptionInfo = 0x80000b0e;
    expect(() => v.exitQualificationValue()).toThrow(RangeError);
    v.beginExit(ExitReason.IO_INSTRUCTION);
    expect(v.basicExitReason()).toBe(30);
    expect(v.exitQualificationHi).toBe(0);
    expect(v.exitInterruptionInfo).toBe(0);
    v.setExitQualification(0x03f80008);
    expect(v.exitQualificationValue()).toBe(0x03f80008);
    expect(words64ToNumber(0x1000, 0x1fffff)).toBe(0x1fffff * 2 ** 32 + 0x1000);
  });
});
