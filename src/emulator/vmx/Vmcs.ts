// The virtual-machine control structure as a VMM programs it (Intel SDM vol. 3C chapter 25), and the pure
// decisions VT-x takes from it: which instructions and events cause VM exits (SDM 26.1-26.2), what MOV from
// CR0/CR4 returns (26.3), whether an event to inject passes the VM-entry checks (27.2.1.3). Section numbers
// follow the current SDM (see exitReasons.ts).
//
// Field names follow the SDM. Control and 32-bit fields are uint32 numbers; 64-bit fields that can exceed
// 2^53 (exit qualification, guest-linear address, CR3-target values) are (lo, hi) uint32 pairs; 64-bit
// physical addresses (EPT pointer, guest-physical address) are plain numbers (MAXPHYADDR <= 52, so exact).
// The decision methods read the fields only: no allocation, no BigInt, safe on the per-instruction path.

import { ExitWord } from '../events.js';
import { Exitable } from '../cpu/arch.js';
import { ExitReason } from './exitReasons.js';
import { PinBased, ProcBased, SecondaryBased } from './controls.js';
import {
  CrAccessType,
  InterruptionInfo,
  InterruptionType,
  exceptionHasErrorCode,
  interruptionHasErrorCode,
  interruptionType,
  interruptionValid,
  interruptionVector,
} from './qualification.js';

const BITMAP_BYTES = 4096;
/** Byte offsets of the four 1-KiB MSR bitmaps inside the 4-KiB MSR-bitmap page (SDM 25.6.9). */
const MSR_READ_LOW = 0;
const MSR_READ_HIGH = 1024;
const MSR_WRITE_LOW = 2048;
const MSR_WRITE_HIGH = 3072;

/** `instructionExitReason` result when the instruction does not exit. */
export const NO_EXIT = -1;
/** `instructionExitReason` result for RDTSCP with "enable RDTSCP" clear: the instruction raises #UD (26.3). */
export const INVALID_OPCODE = -2;

/** Result of a decision that may produce an exit: the basic exit reason, NO_EXIT or INVALID_OPCODE. */
export type ExitDecision = ExitReason | typeof NO_EXIT | typeof INVALID_OPCODE;

export class Vmcs {
  // --- VM-execution control fields (SDM 25.6) ---------------------------------------------------------
  /** Pin-based VM-execution controls (25.6.1); bits in PinBased. */
  pinBasedControls = 0;
  /** Primary processor-based VM-execution controls (25.6.2); bits in ProcBased. */
  primaryProcessorBasedControls = 0;
  /** Secondary processor-based controls (25.6.2); used only if ACTIVATE_SECONDARY_CONTROLS is set. */
  secondaryProcessorBasedControls = 0;
  /** VM-exit controls (25.7.1) and VM-entry controls (25.8.1). */
  vmExitControls = 0;
  vmEntryControls = 0;
  /** Exception bitmap (25.6.3): bit n set = exception vector n causes a VM exit. */
  exceptionBitmap = 0;
  /** Page-fault error-code mask and match (25.6.3, rule in 26.2). */
  pageFaultErrorCodeMask = 0;
  pageFaultErrorCodeMatch = 0;
  /** I/O bitmap A (ports 0x0000-0x7fff) and B (0x8000-0xffff), one bit per port (25.6.4). */
  readonly ioBitmapA = new Uint8Array(BITMAP_BYTES);
  readonly ioBitmapB = new Uint8Array(BITMAP_BYTES);
  /** MSR bitmaps (25.6.9): read-low, read-high, write-low, write-high, 1 KiB each. */
  readonly msrBitmap = new Uint8Array(BITMAP_BYTES);
  /** TSC offset (25.6.5), signed; exact below 2^53. */
  tscOffset = 0;
  /**
   * CR0/CR4 guest/host masks and read shadows (25.6.6). CR0 and CR4 are natural-width but bits 63:32 are
   * reserved (SDM 2.5), so the fields hold bits 31:0; bits 63:32 are modelled as mask 1 / shadow 0 (what KVM
   * programs, ~owned_bits), so a MOV to CR0/CR4 that sets a high bit always exits.
   */
  cr0GuestHostMask = 0;
  cr0ReadShadow = 0;
  cr4GuestHostMask = 0;
  cr4ReadShadow = 0;
  /** CR3-target count (25.6.7), 0..4, and the four CR3-target values as (lo, hi) words. */
  cr3TargetCount = 0;
  readonly cr3TargetValuesLo = new Uint32Array(4);
  readonly cr3TargetValuesHi = new Uint32Array(4);
  /** Extended-page-table pointer (25.6.11): PML4 address plus memory type and walk length bits. */
  eptPointer = 0;
  /** VMX-preemption timer value (25.4.2, guest-state area): counts down while PREEMPTION_TIMER is on. */
  preemptionTimerValue = 0;

  // --- VM-entry event injection (SDM 25.8.3) ------------------------------------------------------------
  /** VM-entry interruption-information field (Table 25-17); bit 31 = inject on the next VM entry. */
  vmEntryInterruptionInfo = 0;
  vmEntryExceptionErrorCode = 0;
  /** VM-entry instruction length (software interrupts and exceptions: 1..15). */
  vmEntryInstructionLength = 0;

  // --- VM-exit information fields (SDM 25.9) -------------------------------------------------------------
  /** Exit-reason field: basic exit reason in 15:0, bit 31 = VM-entry failure (25.9.1). */
  exitReason = 0;
  /** Exit qualification (28.2.1), 64 bits as (lo, hi). */
  exitQualificationLo = 0;
  exitQualificationHi = 0;
  /** Guest-linear address (28.2.1), 64 bits as (lo, hi); undefined (0 here) for most exits. */
  guestLinearAddressLo = 0;
  guestLinearAddressHi = 0;
  /** Guest-physical address (EPT violations and misconfigurations). */
  guestPhysicalAddress = 0;
  /**
   * Whether this exit defined the guest-linear / guest-physical address fields (the SDM leaves them undefined
   * for most reasons; ExitEvent.hasGuestLinear / hasGuestPhysical). Set by the setters, cleared by beginExit.
   */
  guestLinearAddressValid = false;
  guestPhysicalAddressValid = false;
  /** VM-exit instruction length (28.2.4), for exits caused by instructions. */
  exitInstructionLength = 0;
  /** VM-exit interruption information and error code (25.9.2, Table 25-19). */
  exitInterruptionInfo = 0;
  exitInterruptionErrorCode = 0;
  /** IDT-vectoring information and error code (25.9.3, Table 25-20). */
  idtVectoringInfo = 0;
  idtVectoringErrorCode = 0;

  // --- Programming helpers ---------------------------------------------------------------------------

  /**
   * Clear every VM-execution, VM-exit and VM-entry control field, the bitmaps, masks, shadows, CR3 targets,
   * EPT pointer, TSC offset, preemption timer and pending injection (exit-information fields are kept).
   */
  resetControls(): void {
    this.pinBasedControls = 0;
    this.primaryProcessorBasedControls = 0;
    this.secondaryProcessorBasedControls = 0;
    this.vmExitControls = 0;
    this.vmEntryControls = 0;
    this.exceptionBitmap = 0;
    this.pageFaultErrorCodeMask = 0;
    this.pageFaultErrorCodeMatch = 0;
    this.ioBitmapA.fill(0);
    this.ioBitmapB.fill(0);
    this.msrBitmap.fill(0);
    this.tscOffset = 0;
    this.cr0GuestHostMask = 0;
    this.cr0ReadShadow = 0;
    this.cr4GuestHostMask = 0;
    this.cr4ReadShadow = 0;
    this.cr3TargetCount = 0;
    this.cr3TargetValuesLo.fill(0);
    this.cr3TargetValuesHi.fill(0);
    this.eptPointer = 0;
    this.preemptionTimerValue = 0;
    this.vmEntryInterruptionInfo = 0;
    this.vmEntryExceptionErrorCode = 0;
    this.vmEntryInstructionLength = 0;
  }

  /** The secondary controls in effect: all 0 unless "activate secondary controls" is 1 (25.6.2). */
  effectiveSecondaryControls(): number {
    return (this.primaryProcessorBasedControls & ProcBased.ACTIVATE_SECONDARY_CONTROLS) !== 0
      ? this.secondaryProcessorBasedControls
      : 0;
  }

  /** True when EPT is in effect ("activate secondary controls" and "enable EPT"). */
  eptEnabled(): boolean {
    return (this.effectiveSecondaryControls() & SecondaryBased.ENABLE_EPT) !== 0;
  }

  /** Set or clear the I/O-bitmap bit of one port. */
  setIoIntercept(port: number, exit: boolean): void {
    checkPort(port);
    const bitmap = port < 0x8000 ? this.ioBitmapA : this.ioBitmapB;
    const bit = port & 0x7fff;
    if (exit) bitmap[bit >>> 3] |= 1 << (bit & 7);
    else bitmap[bit >>> 3] &= ~(1 << (bit & 7));
  }

  /** Set or clear the I/O-bitmap bits of ports first..last (inclusive). */
  setIoRangeIntercept(first: number, last: number, exit: boolean): void {
    checkPort(first);
    checkPort(last);
    for (let p = first; p <= last; p++) this.setIoIntercept(p, exit);
  }

  /**
   * Set the read and write intercept bits of one MSR. Only MSRs 0x0-0x1fff and 0xc0000000-0xc0001fff have
   * bitmap bits; RDMSR/WRMSR of any other MSR always exit (26.1.3), so asking to pass one through throws.
   */
  setMsrIntercept(msr: number, read: boolean, write: boolean): void {
    const idx = msrBitIndex(msr);
    if (idx < 0) {
      if (!read || !write) {
        throw new RangeError(`MSR 0x${(msr >>> 0).toString(16)} is outside the MSR-bitmap ranges: it always exits`);
      }
      return;
    }
    const high = idx >= 0x2000;
    const bit = idx & 0x1fff;
    setBit(this.msrBitmap, (high ? MSR_READ_HIGH : MSR_READ_LOW) * 8 + bit, read);
    setBit(this.msrBitmap, (high ? MSR_WRITE_HIGH : MSR_WRITE_LOW) * 8 + bit, write);
  }

  /** Set or clear one exception-bitmap bit. */
  setExceptionIntercept(vector: number, exit: boolean): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 31) throw new RangeError(`exception vector must be 0..31, got ${vector}`);
    this.exceptionBitmap = (exit ? this.exceptionBitmap | (1 << vector) : this.exceptionBitmap & ~(1 << vector)) >>> 0;
  }

  /** Set CR3-target value `index` (0..3). */
  setCr3TargetValue(index: number, lo: number, hi = 0): void {
    if (!Number.isInteger(index) || index < 0 || index > 3) throw new RangeError(`CR3-target index must be 0..3, got ${index}`);
    this.cr3TargetValuesLo[index] = lo >>> 0;
    this.cr3TargetValuesHi[index] = hi >>> 0;
  }

  // --- Exit decisions: instructions (SDM 26.1) ------------------------------------------------------

  /**
   * I/O instruction of `size` bytes at `port` (SDM 26.1.3, "I/O instructions"). With "use I/O bitmaps" = 1
   * ("unconditional I/O exiting" is then ignored) the access exits if the bit of any port it touches is
   * set in bitmap A (0-0x7fff) or B (0x8000-0xffff), and always if it wraps past port 0xffff. Otherwise it
   * exits iff "unconditional I/O exiting" is 1.
   */
  ioCausesExit(port: number, size: number): boolean {
    const ctl = this.primaryProcessorBasedControls;
    if ((ctl & ProcBased.USE_IO_BITMAPS) === 0) return (ctl & ProcBased.UNCONDITIONAL_IO_EXITING) !== 0;
    if (port + size - 1 > 0xffff) return true;
    for (let p = port; p < port + size; p++) {
      const bitmap = p < 0x8000 ? this.ioBitmapA : this.ioBitmapB;
      const bit = p & 0x7fff;
      if ((bitmap[bit >>> 3] & (1 << (bit & 7))) !== 0) return true;
    }
    return false;
  }

  /**
   * RDMSR (write = false) or WRMSR (write = true) of MSR `msr` = ECX (SDM 26.1.3). Without "use MSR bitmaps"
   * every RDMSR/WRMSR exits. With it, an MSR in 0-0x1fff or 0xc0000000-0xc0001fff exits iff its bit in the
   * read-low/read-high or write-low/write-high bitmap is 1, and any other MSR always exits.
   */
  msrCausesExit(msr: number, write: boolean): boolean {
    if ((this.primaryProcessorBasedControls & ProcBased.USE_MSR_BITMAPS) === 0) return true;
    const idx = msrBitIndex(msr);
    if (idx < 0) return true;
    const high = idx >= 0x2000;
    const base = write ? (high ? MSR_WRITE_HIGH : MSR_WRITE_LOW) : high ? MSR_READ_HIGH : MSR_READ_LOW;
    const bit = idx & 0x1fff;
    return (this.msrBitmap[base + (bit >>> 3)] & (1 << (bit & 7))) !== 0;
  }

  /**
   * Instructions whose exit depends only on controls (SDM 26.1.2 unconditional, 26.1.3 conditional): returns
   * the exit reason, NO_EXIT, or INVALID_OPCODE (RDTSCP with "enable RDTSCP" = 0). Operand-dependent kinds
   * (I/O, RDMSR/WRMSR, MOV CR) have their own methods and throw here.
   */
  instructionExitReason(kind: Exitable): ExitDecision {
    const p = this.primaryProcessorBasedControls;
    switch (kind) {
      case Exitable.cpuid:
        return ExitReason.CPUID;
      case Exitable.vmcall:
        return ExitReason.VMCALL;
      case Exitable.hlt:
        return (p & ProcBased.HLT_EXITING) !== 0 ? ExitReason.HLT : NO_EXIT;
      case Exitable.invlpg:
        return (p & ProcBased.INVLPG_EXITING) !== 0 ? ExitReason.INVLPG : NO_EXIT;
      case Exitable.rdtsc:
        return (p & ProcBased.RDTSC_EXITING) !== 0 ? ExitReason.RDTSC : NO_EXIT;
      case Exitable.rdtscp:
        if ((this.effectiveSecondaryControls() & SecondaryBased.ENABLE_RDTSCP) === 0) return INVALID_OPCODE;
        return (p & ProcBased.RDTSC_EXITING) !== 0 ? ExitReason.RDTSCP : NO_EXIT;
      case Exitable.rdpmc:
        return (p & ProcBased.RDPMC_EXITING) !== 0 ? ExitReason.RDPMC : NO_EXIT;
      case Exitable.pause:
        return (p & ProcBased.PAUSE_EXITING) !== 0 ? ExitReason.PAUSE_INSTRUCTION : NO_EXIT;
      case Exitable.movDr:
        return (p & ProcBased.MOV_DR_EXITING) !== 0 ? ExitReason.DR_ACCESS : NO_EXIT;
      case Exitable.wbinvd:
        return (this.effectiveSecondaryControls() & SecondaryBased.WBINVD_EXITING) !== 0 ? ExitReason.WBINVD : NO_EXIT;
      case Exitable.lgdt:
      case Exitable.lidt:
      case Exitable.sgdt:
      case Exitable.sidt:
        return (this.effectiveSecondaryControls() & SecondaryBased.DESCRIPTOR_TABLE_EXITING) !== 0
          ? ExitReason.GDTR_IDTR
          : NO_EXIT;
      case Exitable.ltr:
        return (this.effectiveSecondaryControls() & SecondaryBased.DESCRIPTOR_TABLE_EXITING) !== 0
          ? ExitReason.LDTR_TR
          : NO_EXIT;
      case Exitable.rdmsr:
      case Exitable.wrmsr:
      case Exitable.io:
      case Exitable.movToCr:
      case Exitable.movFromCr:
        throw new RangeError(`instruction kind ${kind} depends on its operands: use msrCausesExit/ioCausesExit/crAccessCausesExit`);
      default:
        throw new RangeError(`unknown instruction kind ${String(kind)}`);
    }
  }

  /**
   * Control-register accesses (SDM 26.1.3): MOV to/from CR0, CR3, CR4, CR8, CLTS and LMSW. For MOV to CR
   * and LMSW pass the source value (lo, hi; LMSW uses bits 15:0 of lo). Reads of CR0/CR4 never exit (they
   * return the shadowed value, see cr0ReadValue).
   */
  crAccessCausesExit(cr: number, access: CrAccessType, lo = 0, hi = 0): boolean {
    const p = this.primaryProcessorBasedControls;
    switch (access) {
      case CrAccessType.movToCr:
        switch (cr) {
          case 0:
            return maskedWriteExits(this.cr0GuestHostMask, this.cr0ReadShadow, lo, hi);
          case 4:
            return maskedWriteExits(this.cr4GuestHostMask, this.cr4ReadShadow, lo, hi);
          case 3:
            return this.movToCr3CausesExit(lo, hi);
          case 8:
            return (p & ProcBased.CR8_LOAD_EXITING) !== 0;
          default:
            throw new RangeError(`MOV to CR${cr} is not a VT-x control-register access`);
        }
      case CrAccessType.movFromCr:
        switch (cr) {
          case 0:
          case 4:
            return false;
          case 3:
            return (p & ProcBased.CR3_STORE_EXITING) !== 0;
          case 8:
            return (p & ProcBased.CR8_STORE_EXITING) !== 0;
          default:
            throw new RangeError(`MOV from CR${cr} is not a VT-x control-register access`);
        }
      case CrAccessType.clts:
        // Exits iff CR0.TS (bit 3) is owned by the host and shadowed as 1.
        return (this.cr0GuestHostMask & this.cr0ReadShadow & 8) !== 0;
      case CrAccessType.lmsw: {
        const m = this.cr0GuestHostMask;
        const s = this.cr0ReadShadow;
        // LMSW can set PE but not clear it: bit 0 exits only on 0 -> 1 against the shadow; bits 3:1 on any
        // difference from the shadow.
        if ((m & 1) !== 0 && (lo & 1) !== 0 && (s & 1) === 0) return true;
        return ((lo ^ s) & m & 0xe) !== 0;
      }
      default:
        throw new RangeError(`unknown control-register access type ${String(access)}`);
    }
  }

  /**
   * MOV to CR3 (SDM 26.1.3): with "CR3-load exiting" = 1 it exits unless the source equals one of the first
   * cr3TargetCount CR3-target values (a count of 0 means every MOV to CR3 exits).
   */
  movToCr3CausesExit(lo: number, hi = 0): boolean {
    if ((this.primaryProcessorBasedControls & ProcBased.CR3_LOAD_EXITING) === 0) return false;
    const n = Math.min(this.cr3TargetCount, 4);
    const l = lo >>> 0;
    const h = hi >>> 0;
    for (let i = 0; i < n; i++) {
      if (this.cr3TargetValuesLo[i] === l && this.cr3TargetValuesHi[i] === h) return false;
    }
    return true;
  }

  /** Value a guest MOV from CR0 (or SMSW) reads (SDM 26.3): host-owned bits from the shadow. */
  cr0ReadValue(actual: number): number {
    return ((actual & ~this.cr0GuestHostMask) | (this.cr0ReadShadow & this.cr0GuestHostMask)) >>> 0;
  }

  /** Value a guest MOV from CR4 reads (SDM 26.3). */
  cr4ReadValue(actual: number): number {
    return ((actual & ~this.cr4GuestHostMask) | (this.cr4ReadShadow & this.cr4GuestHostMask)) >>> 0;
  }

  /**
   * Value CR0 takes when a MOV to CR0 does not exit (SDM 26.3): host-owned bits keep their current value;
   * the guest changes only the bits it owns.
   */
  cr0WriteValue(current: number, source: number): number {
    return ((current & this.cr0GuestHostMask) | (source & ~this.cr0GuestHostMask)) >>> 0;
  }

  /** Value CR4 takes when a MOV to CR4 does not exit (SDM 26.3). */
  cr4WriteValue(current: number, source: number): number {
    return ((current & this.cr4GuestHostMask) | (source & ~this.cr4GuestHostMask)) >>> 0;
  }

  // --- Exit decisions: events (SDM 26.2) ------------------------------------------------------------

  /**
   * An exception with `vector` (0-31) and, for #PF, its error code (SDM 26.2): exits iff its exception-bitmap
   * bit is 1 - except #PF, where bit 14 applies as is when (errorCode & PFEC_MASK) == PFEC_MATCH and
   * inverted otherwise. This covers exceptions raised by INT3, INTO, BOUND, UD and INT1 too; INT n
   * (software interrupts) never consults the bitmap, and NMIs are governed by "NMI exiting" (nmiCausesExit).
   */
  exceptionCausesExit(vector: number, errorCode = 0): boolean {
    const bit = (this.exceptionBitmap & (1 << (vector & 31))) !== 0;
    if (vector !== 14) return bit;
    const matches = ((errorCode & this.pageFaultErrorCodeMask) >>> 0) === (this.pageFaultErrorCodeMatch >>> 0);
    return matches ? bit : !bit;
  }

  /** An external interrupt exits iff "external-interrupt exiting" is 1 (SDM 26.2). */
  externalInterruptCausesExit(): boolean {
    return (this.pinBasedControls & PinBased.EXTERNAL_INTERRUPT_EXITING) !== 0;
  }

  /** An NMI exits iff "NMI exiting" is 1 (SDM 26.2). */
  nmiCausesExit(): boolean {
    return (this.pinBasedControls & PinBased.NMI_EXITING) !== 0;
  }

  /**
   * Interrupt-window exit (SDM 26.2): before an instruction, when "interrupt-window exiting" is 1, RFLAGS.IF
   * is 1 and there is no blocking by STI or MOV SS.
   */
  interruptWindowExit(rflagsIf: boolean, blockedBySTIorMovSS: boolean): boolean {
    return (this.primaryProcessorBasedControls & ProcBased.INTERRUPT_WINDOW_EXITING) !== 0 && rflagsIf && !blockedBySTIorMovSS;
  }

  /** Monitor trap flag: an exit (reason 37) after the next instruction boundary (SDM 26.5.2). */
  monitorTrapFlag(): boolean {
    return (this.primaryProcessorBasedControls & ProcBased.MONITOR_TRAP_FLAG) !== 0;
  }

  /** VMX-preemption timer active (SDM 26.5.1): it counts down and exits (reason 52) at zero. */
  preemptionTimerActive(): boolean {
    return (this.pinBasedControls & PinBased.ACTIVATE_PREEMPTION_TIMER) !== 0;
  }

  // --- VM entry: event injection (SDM 25.8.3, 27.2.1.3, 27.6) -----------------------------------------

  /** Program an event to inject on the next VM entry (SDM 27.6). Validate with eventInjectionError(). */
  injectEvent(vector: number, type: InterruptionType, errorCode = -1, instructionLength = 0): void {
    let info = (vector & 0xff) | (type << InterruptionInfo.TYPE_SHIFT) | InterruptionInfo.VALID;
    if (errorCode >= 0) info |= InterruptionInfo.ERROR_CODE;
    this.vmEntryInterruptionInfo = info >>> 0;
    this.vmEntryExceptionErrorCode = errorCode >= 0 ? errorCode >>> 0 : 0;
    this.vmEntryInstructionLength = instructionLength;
  }

  /** True when the next VM entry injects an event. */
  injectionPending(): boolean {
    return interruptionValid(this.vmEntryInterruptionInfo);
  }

  /**
   * The VM-entry checks on the event-injection fields (SDM 27.2.1.3; the same checks as KVM's
   * nested_check_vm_entry_controls). Returns null when the injection is valid (or none is pending), else a
   * message saying which check fails: a real VM entry would fail with "invalid control field".
   * `protectedMode` is "unrestricted guest is 0 or guest CR0.PE is 1"; this machine's guests are always in
   * protected (long) mode.
   */
  eventInjectionError(protectedMode = true): string | null {
    const info = this.vmEntryInterruptionInfo;
    if (!interruptionValid(info)) return null;
    const type = interruptionType(info);
    const vector = interruptionVector(info);
    if ((type as number) === 1) return 'interruption type 1 is reserved';
    if (type === InterruptionType.nmi && vector !== 2) return `NMI injection must use vector 2, got ${vector}`;
    if (type === InterruptionType.hardwareException && vector > 31) return `hardware exception vector must be 0..31, got ${vector}`;
    if (type === InterruptionType.otherEvent && vector !== 0) return `"other event" injection must use vector 0, got ${vector}`;
    const shouldHaveErrorCode = type === InterruptionType.hardwareException && protectedMode && exceptionHasErrorCode(vector);
    const hasErrorCode = interruptionHasErrorCode(info);
    if (hasErrorCode !== shouldHaveErrorCode) {
      return shouldHaveErrorCode
        ? `vector ${vector} must be injected with an error code (deliver-error-code bit 11)`
        : `vector ${vector} (type ${type}) must not be injected with an error code`;
    }
    // Error codes are 16 bits: bits 31:16 of the VM-entry exception error code must be 0 (see KVM commit
    // "nVMX: Check only bits 31:16 of the error code" for the SDM's 31:15 erratum).
    if (hasErrorCode && (this.vmEntryExceptionErrorCode & 0xffff0000) !== 0) return 'VM-entry exception error code bits 31:16 must be 0';
    if ((info & 0x7ffff000) !== 0) return 'VM-entry interruption-information bits 30:12 are reserved';
    if (
      type === InterruptionType.softwareInterrupt ||
      type === InterruptionType.privilegedSoftwareException ||
      type === InterruptionType.softwareException
    ) {
      const len = this.vmEntryInstructionLength;
      if (!Number.isInteger(len) || len < 1 || len > 15) return `VM-entry instruction length must be 1..15 for software events, got ${len}`;
    }
    return null;
  }

  // --- Exit information ------------------------------------------------------------------------------

  /**
   * Start recording a VM exit: set the basic exit reason and clear every exit-information field (fields the
   * SDM leaves undefined for a reason read as 0 here, deterministically).
   */
  beginExit(reason: ExitReason): void {
    this.exitReason = reason;
    this.exitQualificationLo = 0;
    this.exitQualificationHi = 0;
    this.guestLinearAddressLo = 0;
    this.guestLinearAddressHi = 0;
    this.guestPhysicalAddress = 0;
    this.guestLinearAddressValid = false;
    this.guestPhysicalAddressValid = false;
    this.exitInstructionLength = 0;
    this.exitInterruptionInfo = 0;
    this.exitInterruptionErrorCode = 0;
    this.idtVectoringInfo = 0;
    this.idtVectoringErrorCode = 0;
  }

  /** Store a 64-bit exit qualification (encoders in qualification.ts return the low word; hi = 0). */
  setExitQualification(lo: number, hi = 0): void {
    this.exitQualificationLo = lo >>> 0;
    this.exitQualificationHi = hi >>> 0;
  }

  setGuestLinearAddress(lo: number, hi: number): void {
    this.guestLinearAddressLo = lo >>> 0;
    this.guestLinearAddressHi = hi >>> 0;
    this.guestLinearAddressValid = true;
  }

  setGuestPhysicalAddress(gpa: number): void {
    this.guestPhysicalAddress = gpa;
    this.guestPhysicalAddressValid = true;
  }

  /** Exit interruption information and error code (25.9.2): encodeInterruptionInfo's word, 0 if none. */
  setExitInterruption(info: number, errorCode: number): void {
    this.exitInterruptionInfo = info;
    this.exitInterruptionErrorCode = errorCode;
  }

  /** The exit qualification as a number; throws if it is not exactly representable (>= 2^53). */
  exitQualificationValue(): number {
    return words64ToNumber(this.exitQualificationLo, this.exitQualificationHi);
  }

  /** Basic exit reason (bits 15:0 of the exit-reason field). */
  basicExitReason(): number {
    return this.exitReason & 0xffff;
  }

  /**
   * Copy the 64-bit exit-information fields into an ExitEvent's `words` (src/emulator/events.ts): the
   * qualification, guest-linear and guest-physical address, each as (lo, hi). No allocation.
   */
  copyExitInformation(words: Uint32Array): void {
    words[ExitWord.qualification] = this.exitQualificationLo;
    words[ExitWord.qualification + 1] = this.exitQualificationHi;
    words[ExitWord.guestLinear] = this.guestLinearAddressLo;
    words[ExitWord.guestLinear + 1] = this.guestLinearAddressHi;
    const gpa = this.guestPhysicalAddress;
    words[ExitWord.guestPhysical] = gpa % 0x1_0000_0000;
    words[ExitWord.guestPhysical + 1] = Math.floor(gpa / 0x1_0000_0000);
  }
}

/** (lo, hi) -> number, throwing RangeError when the value is not exact (hi >= 2^21). */
export function words64ToNumber(lo: number, hi: number): number {
  const h = hi >>> 0;
  if (h >= 0x20_0000) throw new RangeError(`64-bit value 0x${h.toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')} exceeds 2^53`);
  return h * 0x1_0000_0000 + (lo >>> 0);
}

function maskedWriteExits(mask: number, shadow: number, lo: number, hi: number): boolean {
  // Bits 63:32: mask all ones, shadow zero (see the field comment) -> any set high bit differs.
  if ((hi >>> 0) !== 0) return true;
  return ((lo ^ shadow) & mask) !== 0;
}

/** Index of an MSR's bit: 0-0x1fff for the low range, 0x2000-0x3fff for the high range, -1 outside. */
function msrBitIndex(msr: number): number {
  const m = msr >>> 0;
  if (m <= 0x1fff) return m;
  if (m >= 0xc000_0000 && m <= 0xc000_1fff) return 0x2000 + (m - 0xc000_0000);
  return -1;
}

function setBit(bytes: Uint8Array, bit: number, value: boolean): void {
  if (value) bytes[bit >>> 3] |= 1 << (bit & 7);
  else bytes[bit >>> 3] &= ~(1 << (bit & 7));
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`I/O port must be 0..0xffff, got ${port}`);
}
