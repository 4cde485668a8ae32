// The basic VM-exit reasons, Intel SDM vol. 3 appendix C ("VMX Basic Exit Reasons", Table C-1): for each, its
// number, its key and its SDM wording. This is the one table of exit reasons: the machine exits with these
// numbers, the cost model's figures are named `handler.<key>`, and the keys are the dictionary of
// `exits.arrow`'s `exit_reason_name` column (dictionary index == basic exit reason, so the name column never
// needs a lookup to be joined) and the names in a manifest's `exits_by_reason`.
//
// Keys: where Linux names the reason (VMX_EXIT_REASONS in arch/x86/include/uapi/asm/vmx.h, what the kvm_exit
// tracepoint and `perf kvm stat` print) the key is that spelling (EXCEPTION_NMI, IO_INSTRUCTION, MSR_READ,
// EPT_VIOLATION, ...); reasons Linux does not name get a key in the same style. Numbers the SDM leaves unused
// (35, 38, 42, 71, 80-83) are `RESERVED_<n>` in the dictionary so it stays dense.
//
// Section numbers in src/emulator/vmx follow the current SDM (vol. 3C, 2023 and later editions), where
// chapter 25 is "Virtual Machine Control Structures", 26 "VMX Non-Root Operation", 27 "VM Entries",
// 28 "VM Exits" and 29 "VMX Support for Address Translation". Older editions (e.g. the 2016-era edition
// mirrored at xem.github.io/minix86) number the same chapters one lower (24-28); the content is the same.
//
// The exit-reason field (SDM 25.9.1, Table 25-18) holds the basic exit reason in bits 15:0; bit 31 is set
// for VM-entry failures. 72-79 are recent additions and 84-85 the newest (RDMSR/WRMSRNS with an immediate
// operand), as listed in Linux's vmx.h; no guest of this project can cause those.

import { Exitable } from '../cpu/arch.js';

export const ExitReason = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT_SIGNAL: 3,
  SIPI_SIGNAL: 4,
  IO_SMI: 5,
  OTHER_SMI: 6,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  GETSEC: 11,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  RSM: 17,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMPTRST: 22,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMOFF: 26,
  VMON: 27,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  INVALID_STATE: 33,
  MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR_INSTRUCTION: 39,
  PAUSE_INSTRUCTION: 40,
  MCE_DURING_VMENTRY: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  GDTR_IDTR: 46,
  LDTR_TR: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIG: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
  VMFUNC: 59,
  ENCLS: 60,
  RDSEED: 61,
  PML_FULL: 62,
  XSAVES: 63,
  XRSTORS: 64,
  PCONFIG: 65,
  SPP_EVENT: 66,
  UMWAIT: 67,
  TPAUSE: 68,
  LOADIWKEY: 69,
  ENCLV: 70,
  ENQCMD_PASID_FAIL: 72,
  ENQCMDS_PASID_FAIL: 73,
  BUS_LOCK: 74,
  NOTIFY: 75,
  SEAMCALL: 76,
  TDCALL: 77,
  RDMSRLIST: 78,
  WRMSRLIST: 79,
  MSR_READ_IMM: 84,
  MSR_WRITE_IMM: 85,
} as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];
export type ExitReasonKey = keyof typeof ExitReason;

/** Bit 31 of the exit-reason field: the VM entry failed (SDM 25.9.1). */
export const EXIT_REASON_ENTRY_FAILURE = 0x8000_0000;

/** Display names, as worded in SDM appendix C (Table C-1). */
export const EXIT_REASON_NAMES: Readonly<Record<ExitReason, string>> = {
  0: 'Exception or non-maskable interrupt (NMI)',
  1: 'External interrupt',
  2: 'Triple fault',
  3: 'INIT signal',
  4: 'Start-up IPI (SIPI)',
  5: 'I/O system-management interrupt (SMI)',
  6: 'Other SMI',
  7: 'Interrupt window',
  8: 'NMI window',
  9: 'Task switch',
  10: 'CPUID',
  11: 'GETSEC',
  12: 'HLT',
  13: 'INVD',
  14: 'INVLPG',
  15: 'RDPMC',
  16: 'RDTSC',
  17: 'RSM',
  18: 'VMCALL',
  19: 'VMCLEAR',
  20: 'VMLAUNCH',
  21: 'VMPTRLD',
  22: 'VMPTRST',
  23: 'VMREAD',
  24: 'VMRESUME',
  25: 'VMWRITE',
  26: 'VMXOFF',
  27: 'VMXON',
  28: 'Control-register accesses',
  29: 'MOV DR',
  30: 'I/O instruction',
  31: 'RDMSR',
  32: 'WRMSR',
  33: 'VM-entry failure due to invalid guest state',
  34: 'VM-entry failure due to MSR loading',
  36: 'MWAIT',
  37: 'Monitor trap flag',
  39: 'MONITOR',
  40: 'PAUSE',
  41: 'VM-entry failure due to machine-check event',
  43: 'TPR below threshold',
  44: 'APIC access',
  45: 'Virtualized EOI',
  46: 'Access to GDTR or IDTR',
  47: 'Access to LDTR or TR',
  48: 'EPT violation',
  49: 'EPT misconfiguration',
  50: 'INVEPT',
  51: 'RDTSCP',
  52: 'VMX-preemption timer expired',
  53: 'INVVPID',
  54: 'WBINVD or WBNOINVD',
  55: 'XSETBV',
  56: 'APIC write',
  57: 'RDRAND',
  58: 'INVPCID',
  59: 'VMFUNC',
  60: 'ENCLS',
  61: 'RDSEED',
  62: 'Page-modification log full',
  63: 'XSAVES',
  64: 'XRSTORS',
  65: 'PCONFIG',
  66: 'SPP-related event',
  67: 'UMWAIT',
  68: 'TPAUSE',
  69: 'LOADIWKEY',
  70: 'ENCLV',
  72: 'ENQCMD PASID translation failure',
  73: 'ENQCMDS PASID translation failure',
  74: 'Bus lock',
  75: 'Instruction timeout', // Linux: NOTIFY (the "notify VM exit" control)
  76: 'SEAMCALL',
  77: 'TDCALL',
  78: 'RDMSRLIST',
  79: 'WRMSRLIST',
  84: 'RDMSR with immediate operand',
  85: 'WRMSRNS with immediate operand',
};

/** Every basic exit reason number, ascending. */
export const ALL_EXIT_REASONS: readonly ExitReason[] = Object.values(ExitReason).sort((a, b) => a - b);

/** Highest basic exit reason the table names; the key dictionary has MAX_EXIT_REASON + 1 entries. */
export const MAX_EXIT_REASON = ALL_EXIT_REASONS[ALL_EXIT_REASONS.length - 1]!;

/** The dictionary of `exit_reason_name`: EXIT_REASON_KEYS[n] is reason n's key, `RESERVED_<n>` for a gap. */
export const EXIT_REASON_KEYS: readonly string[] = (() => {
  const t: string[] = [];
  for (let n = 0; n <= MAX_EXIT_REASON; n++) t.push(`RESERVED_${n}`);
  for (const [key, n] of Object.entries(ExitReason)) t[n] = key;
  return t;
})();

/** True if `n` is a basic exit reason the SDM defines. */
export function isExitReason(n: number): n is ExitReason {
  return Number.isInteger(n) && n >= 0 && n <= MAX_EXIT_REASON && !EXIT_REASON_KEYS[n]!.startsWith('RESERVED_');
}

/** SDM wording of a basic exit reason (bits 15:0 of the exit-reason field are used). */
export function exitReasonName(reason: number): string {
  const basic = reason & 0xffff;
  return isExitReason(basic) ? EXIT_REASON_NAMES[basic] : `unknown exit reason ${basic}`;
}

/** Key of a basic exit reason (bits 15:0 of the exit-reason field): `RESERVED_<n>` for a gap, `UNKNOWN_<n>` past the table. */
export function exitReasonKey(reason: number): string {
  const basic = reason & 0xffff;
  return basic <= MAX_EXIT_REASON ? EXIT_REASON_KEYS[basic]! : `UNKNOWN_${basic}`;
}

/**
 * The basic exit reason of each instruction the CPU offers the VMM (cpu/arch.ts Exitable; SDM appendix C,
 * exit conditions 26.1.2-26.1.3): whether it exits is the policy's decision, this is the reason it exits with.
 */
export const INSTRUCTION_EXIT_REASON: Readonly<Record<Exitable, ExitReason>> = {
  [Exitable.cpuid]: ExitReason.CPUID,
  [Exitable.hlt]: ExitReason.HLT,
  [Exitable.rdtsc]: ExitReason.RDTSC,
  [Exitable.rdmsr]: ExitReason.MSR_READ,
  [Exitable.wrmsr]: ExitReason.MSR_WRITE,
  [Exitable.io]: ExitReason.IO_INSTRUCTION,
  [Exitable.movToCr]: ExitReason.CR_ACCESS,
  [Exitable.movFromCr]: ExitReason.CR_ACCESS,
  [Exitable.invlpg]: ExitReason.INVLPG,
  [Exitable.vmcall]: ExitReason.VMCALL,
  [Exitable.rdtscp]: ExitReason.RDTSCP,
  [Exitable.lgdt]: ExitReason.GDTR_IDTR,
  [Exitable.lidt]: ExitReason.GDTR_IDTR,
  [Exitable.ltr]: ExitReason.LDTR_TR,
  [Exitable.sgdt]: ExitReason.GDTR_IDTR,
  [Exitable.sidt]: ExitReason.GDTR_IDTR,
  [Exitable.wbinvd]: ExitReason.WBINVD,
  [Exitable.movDr]: ExitReason.DR_ACCESS,
  [Exitable.rdpmc]: ExitReason.RDPMC,
  [Exitable.pause]: ExitReason.PAUSE_INSTRUCTION,
};
