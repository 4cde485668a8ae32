// The names of the VMX basic exit reasons, indexed by number (Intel SDM vol. 3, appendix C, table C-1
// "Basic Exit Reasons"). This table is the one dictionary of `exits.arrow`'s `exit_reason_name` column:
// dictionary index == basic exit reason, so the name column never needs a lookup to be joined.
//
// `key` is the short name an analyst greps for. Where Linux names the reason (VMX_EXIT_REASONS in
// arch/x86/include/uapi/asm/vmx.h, what the kvm_exit tracepoint and `perf kvm stat` print) we use that
// spelling (EXCEPTION_NMI, IO_INSTRUCTION, MSR_READ, EPT_VIOLATION, ...); reasons Linux does not name get a
// key in the same style. `sdm` is the wording of table C-1. Numbers the SDM leaves unused (35, 38, 42, 71,
// 80-83) are `RESERVED_<n>` so the dictionary stays dense.

export interface ExitReasonName {
  readonly key: string;
  readonly sdm: string;
}

const DEFINED: ReadonlyArray<readonly [number, string, string]> = [
  [0, 'EXCEPTION_NMI', 'Exception or non-maskable interrupt (NMI)'],
  [1, 'EXTERNAL_INTERRUPT', 'External interrupt'],
  [2, 'TRIPLE_FAULT', 'Triple fault'],
  [3, 'INIT_SIGNAL', 'INIT signal'],
  [4, 'SIPI_SIGNAL', 'Start-up IPI (SIPI)'],
  [5, 'IO_SMI', 'I/O system-management interrupt (SMI)'],
  [6, 'OTHER_SMI', 'Other SMI'],
  [7, 'INTERRUPT_WINDOW', 'Interrupt window'],
  [8, 'NMI_WINDOW', 'NMI window'],
  [9, 'TASK_SWITCH', 'Task switch'],
  [10, 'CPUID', 'CPUID'],
  [11, 'GETSEC', 'GETSEC'],
  [12, 'HLT', 'HLT'],
  [13, 'INVD', 'INVD'],
  [14, 'INVLPG', 'INVLPG'],
  [15, 'RDPMC', 'RDPMC'],
  [16, 'RDTSC', 'RDTSC'],
  [17, 'RSM', 'RSM'],
  [18, 'VMCALL', 'VMCALL'],
  [19, 'VMCLEAR', 'VMCLEAR'],
  [20, 'VMLAUNCH', 'VMLAUNCH'],
  [21, 'VMPTRLD', 'VMPTRLD'],
  [22, 'VMPTRST', 'VMPTRST'],
  [23, 'VMREAD', 'VMREAD'],
  [24, 'VMRESUME', 'VMRESUME'],
  [25, 'VMWRITE', 'VMWRITE'],
  [26, 'VMOFF', 'VMXOFF'],
  [27, 'VMON', 'VMXON'],
  [28, 'CR_ACCESS', 'Control-register accesses'],
  [29, 'DR_ACCESS', 'MOV DR'],
  [30, 'IO_INSTRUCTION', 'I/O instruction'],
  [31, 'MSR_READ', 'RDMSR'],
  [32, 'MSR_WRITE', 'WRMSR'],
  [33, 'INVALID_STATE', 'VM-entry failure due to invalid guest state'],
  [34, 'MSR_LOAD_FAIL', 'VM-entry failure due to MSR loading'],
  [36, 'MWAIT_INSTRUCTION', 'MWAIT'],
  [37, 'MONITOR_TRAP_FLAG', 'Monitor trap flag'],
  [39, 'MONITOR_INSTRUCTION', 'MONITOR'],
  [40, 'PAUSE_INSTRUCTION', 'PAUSE'],
  [41, 'MCE_DURING_VMENTRY', 'VM-entry failure due to machine-check event'],
  [43, 'TPR_BELOW_THRESHOLD', 'TPR below threshold'],
  [44, 'APIC_ACCESS', 'APIC access'],
  [45, 'EOI_INDUCED', 'Virtualized EOI'],
  [46, 'GDTR_IDTR', 'Access to GDTR or IDTR'],
  [47, 'LDTR_TR', 'Access to LDTR or TR'],
  [48, 'EPT_VIOLATION', 'EPT violation'],
  [49, 'EPT_MISCONFIG', 'EPT misconfiguration'],
  [50, 'INVEPT', 'INVEPT'],
  [51, 'RDTSCP', 'RDTSCP'],
  [52, 'PREEMPTION_TIMER', 'VMX-preemption timer expired'],
  [53, 'INVVPID', 'INVVPID'],
  [54, 'WBINVD', 'WBINVD or WBNOINVD'],
  [55, 'XSETBV', 'XSETBV'],
  [56, 'APIC_WRITE', 'APIC write'],
  [57, 'RDRAND', 'RDRAND'],
  [58, 'INVPCID', 'INVPCID'],
  [59, 'VMFUNC', 'VMFUNC'],
  [60, 'ENCLS', 'ENCLS'],
  [61, 'RDSEED', 'RDSEED'],
  [62, 'PML_FULL', 'Page-modification log full'],
  [63, 'XSAVES', 'XSAVES'],
  [64, 'XRSTORS', 'XRSTORS'],
  [65, 'PCONFIG', 'PCONFIG'],
  [66, 'SPP_EVENT', 'SPP-related event'],
  [67, 'UMWAIT', 'UMWAIT'],
  [68, 'TPAUSE', 'TPAUSE'],
  [69, 'LOADIWKEY', 'LOADIWKEY'],
  [70, 'ENCLV', 'ENCLV'],
  [72, 'ENQCMD_PASID_FAIL', 'ENQCMD PASID translation failure'],
  [73, 'ENQCMDS_PASID_FAIL', 'ENQCMDS PASID translation failure'],
  [74, 'BUS_LOCK', 'Bus lock'],
  // Linux calls 75 NOTIFY (the "notify VM exit" control); the SDM's table says "Instruction timeout".
  [75, 'NOTIFY', 'Instruction timeout'],
  [76, 'SEAMCALL', 'SEAMCALL'],
  [77, 'TDCALL', 'TDCALL'],
  [78, 'RDMSRLIST', 'RDMSRLIST'],
  [79, 'WRMSRLIST', 'WRMSRLIST'],
  [84, 'MSR_READ_IMM', 'RDMSR with immediate operand'],
  [85, 'MSR_WRITE_IMM', 'WRMSRNS with immediate operand'],
];

/** Highest basic exit reason the table names; the dictionary has MAX_EXIT_REASON + 1 entries. */
export const MAX_EXIT_REASON = 85;

/** Entry n describes basic exit reason n (unused numbers are RESERVED_<n>). */
export const EXIT_REASON_NAMES: readonly ExitReasonName[] = (() => {
  const t: ExitReasonName[] = [];
  for (let n = 0; n <= MAX_EXIT_REASON; n++) t.push({ key: `RESERVED_${n}`, sdm: `(reserved ${n})` });
  for (const [n, key, sdm] of DEFINED) t[n] = { key, sdm };
  return t;
})();

/** The dictionary values of `exit_reason_name`: EXIT_REASON_KEYS[reason]. */
export const EXIT_REASON_KEYS: readonly string[] = EXIT_REASON_NAMES.map((e) => e.key);

/** True if the SDM defines basic exit reason `n` (not reserved, in the table). */
export function isDefinedExitReason(n: number): boolean {
  return n >= 0 && n <= MAX_EXIT_REASON && !EXIT_REASON_KEYS[n]!.startsWith('RESERVED_');
}

/** Short key of a basic exit reason (bits 15:0 of the exit-reason field), `UNKNOWN_<n>` past the table. */
export function exitReasonKey(reason: number): string {
  const basic = reason & 0xffff;
  return basic <= MAX_EXIT_REASON ? EXIT_REASON_KEYS[basic]! : `UNKNOWN_${basic}`;
}

/** SDM wording of a basic exit reason. */
export function exitReasonSdmName(reason: number): string {
  const basic = reason & 0xffff;
  return basic <= MAX_EXIT_REASON ? EXIT_REASON_NAMES[basic]!.sdm : `unknown exit reason ${basic}`;
}
