// VM-execution, VM-exit and VM-entry control bits (Intel SDM vol. 3C chapter 25; numbering of the current
// edition, see exitReasons.ts). Control fields are 32-bit: the VMCS holds them as uint32 numbers, and bit 31
// is written 0x8000_0000 (positive). Test bits with `(field & BIT) !== 0`, which works whatever the sign.

/** Pin-based VM-execution controls (SDM 25.6.1, Table 25-5). */
export const PinBased = {
  /** External interrupts cause VM exits (reason 1) instead of guest IDT delivery. */
  EXTERNAL_INTERRUPT_EXITING: 1 << 0,
  /** NMIs cause VM exits (reason 0 with NMI type). */
  NMI_EXITING: 1 << 3,
  VIRTUAL_NMIS: 1 << 5,
  /** The VMX-preemption timer counts down in non-root operation; a VM exit (reason 52) at zero. */
  ACTIVATE_PREEMPTION_TIMER: 1 << 6,
  PROCESS_POSTED_INTERRUPTS: 1 << 7,
} as const;

/** Primary processor-based VM-execution controls (SDM 25.6.2, Table 25-6). */
export const ProcBased = {
  INTERRUPT_WINDOW_EXITING: 1 << 2,
  USE_TSC_OFFSETTING: 1 << 3,
  HLT_EXITING: 1 << 7,
  INVLPG_EXITING: 1 << 9,
  MWAIT_EXITING: 1 << 10,
  RDPMC_EXITING: 1 << 11,
  /** RDTSC (and RDTSCP when "enable RDTSCP" is 1) cause VM exits. */
  RDTSC_EXITING: 1 << 12,
  /** MOV to CR3 exits unless the value is one of the first cr3TargetCount CR3-target values (26.1.3). */
  CR3_LOAD_EXITING: 1 << 15,
  CR3_STORE_EXITING: 1 << 16,
  ACTIVATE_TERTIARY_CONTROLS: 1 << 17,
  CR8_LOAD_EXITING: 1 << 19,
  CR8_STORE_EXITING: 1 << 20,
  USE_TPR_SHADOW: 1 << 21,
  NMI_WINDOW_EXITING: 1 << 22,
  MOV_DR_EXITING: 1 << 23,
  /** Every I/O instruction exits; ignored when USE_IO_BITMAPS is 1 (26.1.3). */
  UNCONDITIONAL_IO_EXITING: 1 << 24,
  USE_IO_BITMAPS: 1 << 25,
  MONITOR_TRAP_FLAG: 1 << 27,
  /** RDMSR/WRMSR consult the MSR bitmaps; when 0 they always exit (26.1.3). */
  USE_MSR_BITMAPS: 1 << 28,
  MONITOR_EXITING: 1 << 29,
  PAUSE_EXITING: 1 << 30,
  /** When 0 the processor behaves as if every secondary control were 0 (25.6.2). */
  ACTIVATE_SECONDARY_CONTROLS: 0x8000_0000,
} as const;

/** Secondary processor-based VM-execution controls (SDM 25.6.2, Table 25-7). */
export const SecondaryBased = {
  VIRTUALIZE_APIC_ACCESSES: 1 << 0,
  ENABLE_EPT: 1 << 1,
  /** LGDT, LIDT, SGDT, SIDT exit (reason 46); LLDT, LTR, SLDT, STR exit (reason 47). */
  DESCRIPTOR_TABLE_EXITING: 1 << 2,
  /** When 0, RDTSCP causes #UD (26.3). */
  ENABLE_RDTSCP: 1 << 3,
  VIRTUALIZE_X2APIC_MODE: 1 << 4,
  ENABLE_VPID: 1 << 5,
  WBINVD_EXITING: 1 << 6,
  UNRESTRICTED_GUEST: 1 << 7,
  APIC_REGISTER_VIRTUALIZATION: 1 << 8,
  VIRTUAL_INTERRUPT_DELIVERY: 1 << 9,
  PAUSE_LOOP_EXITING: 1 << 10,
  RDRAND_EXITING: 1 << 11,
  ENABLE_INVPCID: 1 << 12,
  ENABLE_VM_FUNCTIONS: 1 << 13,
  VMCS_SHADOWING: 1 << 14,
  ENABLE_ENCLS_EXITING: 1 << 15,
  RDSEED_EXITING: 1 << 16,
  ENABLE_PML: 1 << 17,
  EPT_VIOLATION_VE: 1 << 18,
  CONCEAL_VMX_FROM_PT: 1 << 19,
  ENABLE_XSAVES_XRSTORS: 1 << 20,
  MODE_BASED_EXECUTE_CONTROL_FOR_EPT: 1 << 22,
  USE_TSC_SCALING: 1 << 25,
  ENABLE_USER_WAIT_AND_PAUSE: 1 << 26,
} as const;

/** VM-exit controls (SDM 25.7.1, Table 25-13). */
export const ExitControls = {
  SAVE_DEBUG_CONTROLS: 1 << 2,
  HOST_ADDRESS_SPACE_SIZE: 1 << 9,
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 12,
  /** On an external-interrupt exit the CPU acknowledges the interrupt and stores its vector (28.2.2). */
  ACKNOWLEDGE_INTERRUPT_ON_EXIT: 1 << 15,
  SAVE_IA32_PAT: 1 << 18,
  LOAD_IA32_PAT: 1 << 19,
  SAVE_IA32_EFER: 1 << 20,
  LOAD_IA32_EFER: 1 << 21,
  SAVE_PREEMPTION_TIMER_VALUE: 1 << 22,
} as const;

/** VM-entry controls (SDM 25.8.1, Table 25-15). */
export const EntryControls = {
  LOAD_DEBUG_CONTROLS: 1 << 2,
  IA32E_MODE_GUEST: 1 << 9,
  ENTRY_TO_SMM: 1 << 10,
  DEACTIVATE_DUAL_MONITOR_TREATMENT: 1 << 11,
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 13,
  LOAD_IA32_PAT: 1 << 14,
  LOAD_IA32_EFER: 1 << 15,
} as const;

/** Exception vectors (SDM vol. 3A Table 6-1), for exception bitmaps. */
export const ExceptionVector = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13, PF: 14,
  MF: 16, AC: 17, MC: 18, XM: 19, VE: 20, CP: 21,
} as const;
export type ExceptionVector = (typeof ExceptionVector)[keyof typeof ExceptionVector];

/** Bit mask of the given vectors, as a uint32. */
export function vectorMask(...vectors: number[]): number {
  let m = 0;
  for (const v of vectors) {
    if (!Number.isInteger(v) || v < 0 || v > 31) throw new RangeError(`exception vector must be 0..31, got ${v}`);
    m |= 1 << v;
  }
  return m >>> 0;
}
