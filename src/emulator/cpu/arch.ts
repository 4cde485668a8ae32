// Architectural constants shared by the CPU and its instruction handlers (no imports: handlers and the
// Cpu class both depend on this module, never on each other at load time).

/** Why `run` returned. */
export const Stop = {
  /** The instruction limit given to run() was reached. */
  limit: 1,
  /** HLT: waiting for an interrupt. */
  halt: 2,
  /** An interrupt is pending and can now be delivered (IF set, no shadow). */
  interrupt: 3,
  /** Triple fault: the guest is dead. */
  tripleFault: 4,
  /** A hook asked the loop to stop (cpu.requestStop). */
  requested: 5,
  /** Events keep being handled with no instruction retiring (a VMM hook that never lets the guest run). */
  noProgress: 6,
} as const;
export type Stop = (typeof Stop)[keyof typeof Stop];

/** Instructions that VT-x can make exit; the hooks are asked before they execute. */
export const Exitable = {
  cpuid: 1, hlt: 2, rdtsc: 3, rdmsr: 4, wrmsr: 5, io: 6, movToCr: 7, movFromCr: 8, invlpg: 9, vmcall: 10,
  rdtscp: 11, lgdt: 12, lidt: 13, ltr: 14, sgdt: 15, sidt: 16, wbinvd: 17, movDr: 18, rdpmc: 19, pause: 20,
} as const;
export type Exitable = (typeof Exitable)[keyof typeof Exitable];

export const Msr = {
  TSC: 0x10, PLATFORM_ID: 0x17, APIC_BASE: 0x1b, SMI_COUNT: 0x34, FEATURE_CONTROL: 0x3a, BIOS_SIGN_ID: 0x8b,
  PLATFORM_INFO: 0xce, MISC_FEATURES_ENABLES: 0x140, SYSENTER_CS: 0x174, SYSENTER_ESP: 0x175, SYSENTER_EIP: 0x176,
  MCG_CAP: 0x179, MISC_ENABLE: 0x1a0, EFER: 0xc0000080, STAR: 0xc0000081, LSTAR: 0xc0000082, CSTAR: 0xc0000083,
  FMASK: 0xc0000084, FS_BASE: 0xc0000100, GS_BASE: 0xc0000101, KERNEL_GS_BASE: 0xc0000102, TSC_AUX: 0xc0000103,
} as const;

export const Efer = { SCE: 1 << 0, LME: 1 << 8, LMA: 1 << 10, NXE: 1 << 11 } as const;
export const Cr0 = { PE: 1 << 0, MP: 1 << 1, EM: 1 << 2, TS: 1 << 3, ET: 1 << 4, NE: 1 << 5, WP: 1 << 16, AM: 1 << 18, PG: 1 << 31 } as const;
export const Cr4 = { TSD: 1 << 2, DE: 1 << 3, PSE: 1 << 4, PAE: 1 << 5, PGE: 1 << 7, OSFXSR: 1 << 9, OSXMMEXCPT: 1 << 10 } as const;

/** Bits 63:47 of an address are copies of bit 47 (SDM 3.3.7.1); `hi` is the high 32-bit word. */
export function isCanonical(hi: number): boolean {
  return hi === ((hi << 16) >> 16);
}
