// Named exit configurations: each programs a Vmcs the way a known VMM does, so the same guest can be run
// under different trapping policies (issue 3; seed 004 sections 5.3, 6.3 and 7.3).
//
// Every preset keeps the ground-truth port (docs/machine.md, 0x510, a 32-bit write touching 0x510-0x513)
// out of the I/O bitmaps, so it never causes a VM exit.

import { UserError } from '../errors.js';
import { Cr0, Cr4, Msr } from '../emulator/cpu/arch.js';
import {
  EntryControls,
  ExceptionVector,
  ExitControls,
  PinBased,
  ProcBased,
  SecondaryBased,
  vectorMask,
} from '../emulator/vmx/controls.js';
import { Vmcs } from '../emulator/vmx/Vmcs.js';
import { GROUND_TRUTH_ACCESS_BYTES, GROUND_TRUTH_PORT } from '../emulator/devices/GroundTruthPort.js';


/** Guest CR0/CR4 at entry (docs/machine.md, "CPU state at entry"): the initial read shadows. */
export const BOOT_CR0 = 0x80010033;
export const BOOT_CR4 = 0x20;

// CR4 bits not in arch.ts.
const CR4_PVI = 1 << 1;
const CR4_DE = 1 << 3;
const CR4_PCE = 1 << 8;
const CR4_OSFXSR = 1 << 9;
const CR4_OSXMMEXCPT = 1 << 10;
const CR4_LA57 = 1 << 12;
const CR4_FSGSBASE = 1 << 16;
const CR4_VMXE = 1 << 13;

const MSR_SYSENTER_CS = 0x174;
const MSR_SYSENTER_ESP = 0x175;
const MSR_SYSENTER_EIP = 0x176;

export interface ExitPresetOptions {
  /** Enable EPT (default true). Without EPT the preset adds what shadow paging needs (#PF, INVLPG, CR3). */
  ept?: boolean;
  /** Guest CR0 / CR4 the read shadows start from (default: the boot state of docs/machine.md). */
  initialCr0?: number;
  initialCr4?: number;
}

export interface ExitPreset {
  readonly name: string;
  readonly description: string;
  /** Where the configuration comes from. */
  readonly source: string;
  /** Reset `vmcs` controls and program this configuration. */
  apply(vmcs: Vmcs, options?: ExitPresetOptions): void;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * KVM's default VMCS for a 64-bit guest (Linux arch/x86/kvm/vmx/vmx.c: setup_vmcs_config, vmx_exec_control,
 * vmx_secondary_exec_control, init_vmcs, vmx_update_exception_bitmap, set_cr4_guest_host_mask, and the MSR
 * and I/O bitmap setup of vmx_vcpu_create / hardware setup).
 */
function applyKvmDefault(v: Vmcs, o: ExitPresetOptions): void {
  const ept = o.ept ?? true;
  v.resetControls();

  // Pin-based: min = external-interrupt exiting | NMI exiting, opt = virtual NMIs. KVM arms the preemption
  // timer only to emulate the guest's LAPIC timer deadline; this machine has no LAPIC, so it stays off.
  v.pinBasedControls = PinBased.EXTERNAL_INTERRUPT_EXITING | PinBased.NMI_EXITING | PinBased.VIRTUAL_NMIS;

  // Primary: the min set of setup_vmcs_config plus the opt bits. KVM drops CR8-load/store exiting when the
  // CPU has a TPR shadow; this machine models no virtual APIC, so (as KVM does without TPR shadow) they stay.
  // With EPT, vmx_exec_control clears CR3-load/store and INVLPG exiting.
  let primary =
    ProcBased.HLT_EXITING |
    ProcBased.CR8_LOAD_EXITING |
    ProcBased.CR8_STORE_EXITING |
    ProcBased.USE_IO_BITMAPS |
    ProcBased.MOV_DR_EXITING |
    ProcBased.USE_TSC_OFFSETTING |
    ProcBased.MWAIT_EXITING |
    ProcBased.MONITOR_EXITING |
    ProcBased.RDPMC_EXITING |
    ProcBased.USE_MSR_BITMAPS |
    ProcBased.ACTIVATE_SECONDARY_CONTROLS;
  if (!ept) primary |= ProcBased.CR3_LOAD_EXITING | ProcBased.CR3_STORE_EXITING | ProcBased.INVLPG_EXITING;
  v.primaryProcessorBasedControls = primary >>> 0;

  // Secondary (the opt2 bits this machine models): EPT and unrestricted guest only with EPT; RDTSCP enabled;
  // VPID; WBINVD exiting. PAUSE-loop exiting (KVM default on) is not modelled: PAUSE does not exit.
  let secondary = SecondaryBased.ENABLE_RDTSCP | SecondaryBased.ENABLE_VPID | SecondaryBased.WBINVD_EXITING;
  if (ept) secondary |= SecondaryBased.ENABLE_EPT | SecondaryBased.UNRESTRICTED_GUEST;
  v.secondaryProcessorBasedControls = secondary;

  v.vmExitControls =
    ExitControls.HOST_ADDRESS_SPACE_SIZE |
    ExitControls.ACKNOWLEDGE_INTERRUPT_ON_EXIT |
    ExitControls.SAVE_IA32_PAT |
    ExitControls.LOAD_IA32_PAT |
    ExitControls.SAVE_IA32_EFER |
    ExitControls.LOAD_IA32_EFER;
  v.vmEntryControls = EntryControls.IA32E_MODE_GUEST | EntryControls.LOAD_IA32_PAT | EntryControls.LOAD_IA32_EFER;

  // Exceptions (vmx_update_exception_bitmap): #PF, #UD, #MC, #DB, #AC; #PF dropped with EPT. #BP is added
  // only while a debugger uses software breakpoints (KVM_GUESTDBG_USE_SW_BP), so not by default.
  const vectors: number[] = [ExceptionVector.UD, ExceptionVector.MC, ExceptionVector.DB, ExceptionVector.AC];
  if (!ept) vectors.push(ExceptionVector.PF);
  v.exceptionBitmap = vectorMask(...vectors);
  v.pageFaultErrorCodeMask = 0;
  v.pageFaultErrorCodeMatch = 0;

  // I/O bitmaps: every port exits except the PC debug port 0x80 ("often used for I/O delays"; KVM
  // hardware_setup clears its bit), and the ground-truth port.
  v.ioBitmapA.fill(0xff);
  v.ioBitmapB.fill(0xff);
  v.setIoIntercept(0x80, false);
  passGroundTruthPort(v);

  // MSR bitmap: starts all ones; vmx_vcpu_create passes through TSC (read), FS/GS/KERNEL_GS base and the
  // SYSENTER MSRs (read and write). EFER, STAR, LSTAR, CSTAR, FMASK stay intercepted (user-return MSRs).
  v.msrBitmap.fill(0xff);
  v.setMsrIntercept(Msr.TSC, false, true);
  for (const msr of [Msr.FS_BASE, Msr.GS_BASE, Msr.KERNEL_GS_BASE, MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP]) {
    v.setMsrIntercept(msr, false, false);
  }

  // CR0/CR4 guest/host masks: the guest owns KVM_POSSIBLE_CR0_GUEST_BITS (TS) and
  // KVM_POSSIBLE_CR4_GUEST_BITS (PVI, DE, PCE, OSFXSR, OSXMMEXCPT, LA57, PGE, TSD, FSGSBASE; PGE is
  // host-owned without EPT); everything else is host-owned and read from the shadow.
  v.cr0GuestHostMask = ~Cr0.TS >>> 0;
  let cr4Owned = CR4_PVI | CR4_DE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_LA57 | Cr4.PGE | Cr4.TSD | CR4_FSGSBASE;
  if (!ept) cr4Owned &= ~Cr4.PGE;
  v.cr4GuestHostMask = ~cr4Owned >>> 0;
  v.cr0ReadShadow = (o.initialCr0 ?? BOOT_CR0) >>> 0;
  v.cr4ReadShadow = (o.initialCr4 ?? BOOT_CR4) >>> 0;
  v.cr3TargetCount = 0;
}

/** kvm-default plus every exception VT-x can trap except #NM, with every page fault (seed 004 6.3). */
function applyExceptionsFull(v: Vmcs, o: ExitPresetOptions): void {
  applyKvmDefault(v, o);
  // Vectors 0-31 except #NM (7). Vector 2 (NMI) is governed by NMI exiting, already on. Mask = match = 0:
  // every #PF exits (SDM 26.2).
  v.exceptionBitmap = (0xffffffff & ~(1 << ExceptionVector.NM)) >>> 0;
  v.pageFaultErrorCodeMask = 0;
  v.pageFaultErrorCodeMatch = 0;
}

/**
 * Only what VMX cannot turn off: CPUID, VMCALL, GETSEC, INVD, XSETBV, the VMX instructions, triple fault,
 * INIT/SIPI, task switches, RDMSR/WRMSR of MSRs outside the bitmap ranges, EPT violations. Everything that
 * has a control is off: no I/O, MSR (in range), CR, HLT, exception or external-interrupt exits (device
 * interrupts are delivered straight through the guest IDT).
 */
function applyMinimal(v: Vmcs, o: ExitPresetOptions): void {
  const ept = o.ept ?? true;
  v.resetControls();
  v.pinBasedControls = 0;
  // USE_MSR_BITMAPS with an all-zero bitmap: only MSRs outside the bitmap ranges exit. USE_IO_BITMAPS off and
  // unconditional I/O exiting off: no I/O exits at all.
  v.primaryProcessorBasedControls = (ProcBased.USE_MSR_BITMAPS | ProcBased.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
  if (!ept) {
    // Without EPT the VMM must see the guest's address-space changes (shadow paging).
    v.primaryProcessorBasedControls = (v.primaryProcessorBasedControls | ProcBased.CR3_LOAD_EXITING | ProcBased.INVLPG_EXITING) >>> 0;
    v.exceptionBitmap = vectorMask(ExceptionVector.PF);
  }
  v.secondaryProcessorBasedControls = ept
    ? SecondaryBased.ENABLE_EPT | SecondaryBased.UNRESTRICTED_GUEST | SecondaryBased.ENABLE_RDTSCP
    : SecondaryBased.ENABLE_RDTSCP;
  v.vmExitControls = ExitControls.HOST_ADDRESS_SPACE_SIZE | ExitControls.SAVE_IA32_EFER | ExitControls.LOAD_IA32_EFER;
  v.vmEntryControls = EntryControls.IA32E_MODE_GUEST | EntryControls.LOAD_IA32_EFER;
  // The bits VMX operation fixes to 1 in the guest (IA32_VMX_CR0_FIXED0 / CR4_FIXED0, SDM appendix A.7-A.8:
  // CR0.NE - plus PE and PG without unrestricted guest - and CR4.VMXE) must stay host-owned; the guest
  // reads them from the shadow (VMXE reads 0) and cannot clear them without an exit.
  const cr0Fixed = ept ? Cr0.NE : Cr0.NE | Cr0.PE | Cr0.PG;
  v.cr0GuestHostMask = cr0Fixed >>> 0;
  v.cr0ReadShadow = ((o.initialCr0 ?? BOOT_CR0) & cr0Fixed) >>> 0;
  v.cr4GuestHostMask = CR4_VMXE;
  v.cr4ReadShadow = 0;
}
function passGroundTruthPort(v: Vmcs): void {
  v.setIoRangeIntercept(GROUND_TRUTH_PORT, GROUND_TRUTH_PORT + GROUND_TRUTH_ACCESS_BYTES - 1, false);
}

// ---------------------------------------------------------------------------------------------------------

export const EXIT_PRESETS = {
  'kvm-default': {
    name: 'kvm-default',
    description:
      'What KVM traps by default on VMX: external interrupts, NMIs, HLT, MWAIT/MONITOR, RDPMC, MOV DR, CR8, every I/O port but 0x80, every MSR but TSC (read), FS/GS/KERNEL_GS base and SYSENTER, #DB #UD #MC #AC, CR0/CR4 bits the guest does not own; with EPT no #PF, INVLPG or CR3 exits (without EPT all three).',
    source: 'Linux arch/x86/kvm/vmx/vmx.c (setup_vmcs_config, vmx_exec_control, vmx_update_exception_bitmap, init_vmcs, vmx_vcpu_create), kvm_cache_regs.h KVM_POSSIBLE_CR{0,4}_GUEST_BITS',
    apply: (v: Vmcs, o: ExitPresetOptions = {}) => applyKvmDefault(v, o),
  },
  'exceptions-full': {
    name: 'exceptions-full',
    description:
      'kvm-default plus every exception vector VT-x can trap except #NM (device not available, used for lazy FPU switching), and every page fault: the "ExcpFull" configuration of seed 004.',
    source: 'Prosnitz, "Blackbox No More" (seed 004), sections 5.3 and 6.3: "all possible exceptions and interrupts cause VMEXITS except for the #NM"',
    apply: (v: Vmcs, o: ExitPresetOptions = {}) => applyExceptionsFull(v, o),
  },
  minimal: {
    name: 'minimal',
    description:
      'Only the exits VT-x cannot switch off (CPUID, VMCALL, XSETBV, INVD, GETSEC, VMX instructions, triple fault, INIT/SIPI, task switch, MSRs outside the bitmap ranges, EPT violations) plus the CR0/CR4 bits VMX fixes; no I/O, HLT or interrupt exits.',
    source: 'Intel SDM vol. 3C 26.1.2 (instructions that cause VM exits unconditionally), 26.2, appendix A.7-A.8 (VMX-fixed CR0/CR4 bits)',
    apply: (v: Vmcs, o: ExitPresetOptions = {}) => applyMinimal(v, o),
  },
} as const satisfies Record<string, ExitPreset>;

export type ExitPresetName = keyof typeof EXIT_PRESETS;
export const EXIT_PRESET_NAMES = Object.keys(EXIT_PRESETS) as ExitPresetName[];

/** The preset called `name`; a UserError listing the presets otherwise. */
export function getExitPreset(name: string): ExitPreset {
  if (Object.prototype.hasOwnProperty.call(EXIT_PRESETS, name)) return EXIT_PRESETS[name as ExitPresetName];
  throw new UserError(`unknown exit preset '${name}' (known: ${EXIT_PRESET_NAMES.join(', ')})`);
}

/** Name and description of every preset, for `--help` and listings. */
export function listExitPresets(): { name: ExitPresetName; description: string }[] {
  return EXIT_PRESET_NAMES.map((name) => ({ name, description: EXIT_PRESETS[name].description }));
}

/** Program `vmcs` with the preset called `name` (UserError for an unknown name). */
export function applyExitPreset(vmcs: Vmcs, name: string, options: ExitPresetOptions = {}): void {
  getExitPreset(name).apply(vmcs, options);
}
