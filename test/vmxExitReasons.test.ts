// Basic exit reasons against SDM vol. 3C appendix C (Table C-1), and the copy of exit information into the
// ExitEvent word layout of src/emulator/events.ts.

import { describe, expect, it } from 'vitest';
import { EXIT_WORDS, ExitWord } from '../src/emulator/events.js';
import {
  ALL_EXIT_REASONS,
  EXIT_REASON_NAMES,
  ExitReason,
  exitReasonKey,
  exitReasonName,
  isExitReason,
} from '../src/emulator/vmx/exitReasons.js';
import { Vmcs } from '../src/emulator/vmx/Vmcs.js';

describe('exit reasons (SDM appendix C)', () => {
  it('have the SDM numbers', () => {
    const expected: [keyof typeof ExitReason, number][] = [
      ['EXCEPTION_NMI', 0], ['EXTERNAL_INTERRUPT', 1], ['TRIPLE_FAULT', 2], ['INIT_SIGNAL', 3], ['SIPI_SIGNAL', 4],
      ['INTERRUPT_WINDOW', 7], ['NMI_WINDOW', 8], ['TASK_SWITCH', 9], ['CPUID', 10], ['GETSEC', 11], ['HLT', 12],
      ['INVD', 13], ['INVLPG', 14], ['RDPMC', 15], ['RDTSC', 16], ['RSM', 17], ['VMCALL', 18], ['VMON', 27],
      ['CR_ACCESS', 28], ['DR_ACCESS', 29], ['IO_INSTRUCTION', 30], ['MSR_READ', 31], ['MSR_WRITE', 32],
      ['INVALID_STATE', 33], ['MSR_LOAD_FAIL', 34], ['MWAIT_INSTRUCTION', 36], ['MONITOR_TRAP_FLAG', 37],
      ['MONITOR_INSTRUCTION', 39], ['PAUSE_INSTRUCTION', 40], ['MCE_DURING_VMENTRY', 41], ['TPR_BELOW_THRESHOLD', 43],
      ['APIC_ACCESS', 44], ['GDTR_IDTR', 46], ['LDTR_TR', 47], ['EPT_VIOLATION', 48],
      ['EPT_MISCONFIG', 49], ['INVEPT', 50], ['RDTSCP', 51], ['PREEMPTION_TIMER', 52], ['INVVPID', 53],
      ['WBINVD', 54], ['XSETBV', 55], ['APIC_WRITE', 56], ['RDRAND', 57], ['INVPCID', 58], ['VMFUNC', 59],
      ['ENCLS', 60], ['RDSEED', 61], ['PML_FULL', 62], ['XSAVES', 63], ['XRSTORS', 64], ['UMWAIT', 67],
      ['TPAUSE', 68], ['BUS_LOCK', 74], ['TDCALL', 77],
    ];
    for (const [key, n] of expected) expect(ExitReason[key], key).toBe(n);
  });

  it('every reason has a name, numbers are unique, gaps are undefined', () => {
    expect(new Set(ALL_EXIT_REASONS).size).toBe(Object.keys(ExitReason).length);
    for (const r of ALL_EXIT_REASONS) expect(EXIT_REASON_NAMES[r].length).toBeGreaterThan(2);
    expect(Object.keys(EXIT_REASON_NAMES).length).toBe(ALL_EXIT_REASONS.length);
    for (const gap of [35, 38, 42, 71, 80, 86]) expect(isExitReason(gap)).toBe(false);
    expect(exitReasonName(48)).toBe('EPT violation');
    expect(exitReasonName(0x80000021)).toBe('VM-entry failure due to invalid guest state'); // bit 31 + 33
    expect(exitReasonName(35)).toMatch(/unknown/);
    expect(exitReasonKey(30)).toBe('IO_INSTRUCTION');
  });
});

describe('copyExitInformation', () => {
  it('writes qualification, guest-linear and guest-physical words at the ExitWord offsets', () => {
    const v = new Vmcs();
    v.beginExit(ExitReason.EPT_VIOLATION);
    v.setExitQualification(0x18a);
    v.setGuestLinearAddress(0x80100010, 0xffffffff);
    v.guestPhysicalAddress = 0x1_2345_6010;
    const words = new Uint32Array(EXIT_WORDS).fill(0xdead);
    v.copyExitInformation(words);
    expect([words[ExitWord.qualification], words[ExitWord.qualification + 1]]).toEqual([0x18a, 0]);
    expect([words[ExitWord.guestLinear], words[ExitWord.guestLinear + 1]]).toEqual([0x80100010, 0xffffffff]);
    expect([words[ExitWord.guestPhysical], words[ExitWord.guestPhysical + 1]]).toEqual([0x23456010, 1]);
    expect(words[ExitWord.rax]).toBe(0xdead); // registers untouched
  });
});
