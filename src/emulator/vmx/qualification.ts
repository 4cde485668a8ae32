// Exit-qualification encoders (Intel SDM vol. 3C 28.2.1, Tables 28-1 to 28-7) and the interruption-information
// formats (SDM 25.8.3 Table 25-17, 25.9.2 Table 25-19, 25.9.3 Table 25-20; event injection 27.6).
//
// The exit qualification is a 64-bit field. Every format encoded here defines bits 31:0 only and clears
// bits 63:32 ("reserved, cleared to 0"), so the encoders return the low word as a uint32 number and the
// high word is 0. The qualifications that are linear addresses (INVLPG; the guest-linear-address field)
// need all 64 bits: those travel as (lo, hi) uint32 pairs, never as BigInt (no BigInt on hot paths), and
// Vmcs.setExitQualification(lo, hi) stores them. No encoder allocates.

/** A 64-bit value as two uint32 words (low word first), as in ExitEvent.words. */
export interface Words64 {
  lo: number;
  hi: number;
}

// ---------------------------------------------------------------------------------------------------------
// I/O instructions (Table 28-5)

/** Bit layout of the I/O-instruction exit qualification (SDM Table 28-5). */
export const IoQual = {
  /** Bits 2:0: size of access minus 1 (0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes). */
  SIZE_MASK: 0x7,
  /** Bit 3: direction, 1 = IN (and INS), 0 = OUT (and OUTS). */
  DIRECTION_IN: 1 << 3,
  /** Bit 4: string instruction (INS/OUTS). */
  STRING: 1 << 4,
  /** Bit 5: REP prefixed. */
  REP: 1 << 5,
  /** Bit 6: operand encoding, 1 = immediate port, 0 = port in DX. */
  IMMEDIATE: 1 << 6,
  /** Bits 31:16: port number. */
  PORT_SHIFT: 16,
} as const;

/**
 * Qualification for an I/O-instruction exit. `size` is the access size in bytes (1, 2 or 4); `immediate`
 * is true for `IN/OUT imm8` forms, false for the DX forms and for INS/OUTS (which always use DX).
 */
export function ioQualification(
  port: number,
  size: number,
  isIn: boolean,
  isString: boolean,
  isRep: boolean,
  immediate: boolean,
): number {
  if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`I/O access size must be 1, 2 or 4, got ${size}`);
  let q = (size - 1) | ((port & 0xffff) << IoQual.PORT_SHIFT);
  if (isIn) q |= IoQual.DIRECTION_IN;
  if (isString) q |= IoQual.STRING;
  if (isRep) q |= IoQual.REP;
  if (immediate) q |= IoQual.IMMEDIATE;
  return q >>> 0;
}

export interface DecodedIoQualification {
  port: number;
  size: number;
  isIn: boolean;
  isString: boolean;
  isRep: boolean;
  immediate: boolean;
}

export function decodeIoQualification(q: number): DecodedIoQualification {
  return {
    port: (q >>> IoQual.PORT_SHIFT) & 0xffff,
    size: (q & IoQual.SIZE_MASK) + 1,
    isIn: (q & IoQual.DIRECTION_IN) !== 0,
    isString: (q & IoQual.STRING) !== 0,
    isRep: (q & IoQual.REP) !== 0,
    immediate: (q & IoQual.IMMEDIATE) !== 0,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Control-register accesses (Table 28-3)

/** Access type, bits 5:4 of the control-register-access qualification. */
export const CrAccessType = { movToCr: 0, movFromCr: 1, clts: 2, lmsw: 3 } as const;
export type CrAccessType = (typeof CrAccessType)[keyof typeof CrAccessType];

/** LMSW operand type, bit 6 (0 register, 1 memory). */
export const LmswOperand = { register: 0, memory: 1 } as const;
export type LmswOperand = (typeof LmswOperand)[keyof typeof LmswOperand];

/**
 * Qualification for a control-register-access exit (SDM Table 28-3): bits 3:0 the CR number (0 for CLTS and
 * LMSW), 5:4 the access type, 6 the LMSW operand type, 11:8 the GPR of MOV CR (0-15 = RAX..R15, cleared for
 * CLTS and LMSW), 31:16 the LMSW source data (cleared for CLTS and MOV CR).
 */
export function crAccessQualification(
  cr: number,
  access: CrAccessType,
  gpr = 0,
  lmswOperand: LmswOperand = LmswOperand.register,
  lmswSource = 0,
): number {
  if (access === CrAccessType.movToCr || access === CrAccessType.movFromCr) {
    if (cr !== 0 && cr !== 3 && cr !== 4 && cr !== 8) throw new RangeError(`MOV CR exits exist for CR0/3/4/8, got CR${cr}`);
    if (gpr < 0 || gpr > 15) throw new RangeError(`GPR must be 0..15, got ${gpr}`);
    return (cr | (access << 4) | (gpr << 8)) >>> 0;
  }
  if (access === CrAccessType.clts) return (CrAccessType.clts << 4) >>> 0;
  // LMSW: CR number 0 (it writes CR0), source data in 31:16.
  return (0 | (CrAccessType.lmsw << 4) | (lmswOperand << 6) | ((lmswSource & 0xffff) << 16)) >>> 0;
}

export interface DecodedCrAccessQualification {
  cr: number;
  access: CrAccessType;
  lmswOperand: LmswOperand;
  gpr: number;
  lmswSource: number;
}

export function decodeCrAccessQualification(q: number): DecodedCrAccessQualification {
  return {
    cr: q & 0xf,
    access: ((q >>> 4) & 3) as CrAccessType,
    lmswOperand: ((q >>> 6) & 1) as LmswOperand,
    gpr: (q >>> 8) & 0xf,
    lmswSource: (q >>> 16) & 0xffff,
  };
}

// ---------------------------------------------------------------------------------------------------------
// MOV DR (Table 28-4)

/** Qualification for MOV DR: bits 2:0 the debug register, bit 4 direction (1 = MOV from DR), 11:8 the GPR. */
export function movDrQualification(dr: number, fromDr: boolean, gpr: number): number {
  if (dr < 0 || dr > 7) throw new RangeError(`debug register must be 0..7, got ${dr}`);
  if (gpr < 0 || gpr > 15) throw new RangeError(`GPR must be 0..15, got ${gpr}`);
  return (dr | (fromDr ? 1 << 4 : 0) | (gpr << 8)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Debug exceptions (Table 28-1) and task switches (Table 28-2)

export const DebugQual = {
  /** Bits 3:0: B0-B3, the breakpoint conditions that were met (as DR6). */
  B_MASK: 0xf,
  /** Bit 11: bus lock detected. */
  BLD: 1 << 11,
  /** Bit 13: debug-register access detected. */
  BD: 1 << 13,
  /** Bit 14: single instruction (TF) trap. */
  BS: 1 << 14,
  /** Bit 16: the #DB or #BP occurred in an RTM region. */
  RTM: 1 << 16,
} as const;

/** Qualification for a #DB exit (reason 0 with vector 1): the DR6-like bits that would have been set. */
export function debugExceptionQualification(breakpoints: number, bd: boolean, bs: boolean): number {
  return ((breakpoints & DebugQual.B_MASK) | (bd ? DebugQual.BD : 0) | (bs ? DebugQual.BS : 0)) >>> 0;
}

/** Source of a task switch, bits 31:30 of its qualification. */
export const TaskSwitchSource = { call: 0, iret: 1, jmp: 2, idtTaskGate: 3 } as const;
export type TaskSwitchSource = (typeof TaskSwitchSource)[keyof typeof TaskSwitchSource];

/** Qualification for a task-switch exit: bits 15:0 the new TSS selector, 31:30 the source. */
export function taskSwitchQualification(selector: number, source: TaskSwitchSource): number {
  return ((selector & 0xffff) | (source << 30)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// EPT violations (Table 28-7)

export const EptQual = {
  /** Bit 0: the access was a data read. */
  READ: 1 << 0,
  /** Bit 1: the access was a data write (read-modify-write sets it; bit 0 is then implementation-specific). */
  WRITE: 1 << 1,
  /** Bit 2: the access was an instruction fetch. */
  FETCH: 1 << 2,
  /** Bits 5:3: the guest-physical address was readable / writable / executable (AND over the EPT walk). */
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  /** Bit 7: the guest-linear-address field is valid (all violations except PDPTE loads by MOV CR). */
  LINEAR_VALID: 1 << 7,
  /**
   * Bit 8 (meaningful when bit 7 is 1): the access was to the translation of a linear address; 0 means it
   * was an access to a guest paging-structure entry during the page walk.
   */
  TRANSLATED: 1 << 8,
  /** Bit 12: NMI unblocking due to IRET (see SDM 28.2.3). */
  NMI_UNBLOCKING: 1 << 12,
} as const;

/** EPT permission / access bits as the Mmu uses them (bit 0 R, bit 1 W, bit 2 X; SDM 29.3.2 Table 29-6). */
export const Rwx = { R: 1, W: 2, X: 4 } as const;

/**
 * Qualification for an EPT violation. `access` and `perm` are Rwx masks: the kind of access attempted
 * (bits 2:0) and the page's permissions (bits 5:3). `linearValid` sets bit 7, and `translated` (only with
 * linearValid) bit 8: true for an access to the final translation, false for a paging-structure access.
 */
export function eptViolationQualification(
  access: number,
  perm: number,
  linearValid: boolean,
  translated: boolean,
  nmiUnblocking = false,
): number {
  let q = (access & 7) | ((perm & 7) << 3);
  if (linearValid) {
    q |= EptQual.LINEAR_VALID;
    if (translated) q |= EptQual.TRANSLATED;
  }
  if (nmiUnblocking) q |= EptQual.NMI_UNBLOCKING;
  return q >>> 0;
}

export interface DecodedEptViolationQualification {
  /** Rwx bits of the attempted access. */
  access: number;
  /** Rwx bits of the page. */
  perm: number;
  linearValid: boolean;
  translated: boolean;
  nmiUnblocking: boolean;
}

export function decodeEptViolationQualification(q: number): DecodedEptViolationQualification {
  const linearValid = (q & EptQual.LINEAR_VALID) !== 0;
  return {
    access: q & 7,
    perm: (q >>> 3) & 7,
    linearValid,
    translated: linearValid && (q & EptQual.TRANSLATED) !== 0,
    nmiUnblocking: (q & EptQual.NMI_UNBLOCKING) !== 0,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Interruption information (VM-exit interruption info, IDT-vectoring info, VM-entry interruption info)

/**
 * Interruption type, bits 10:8 (SDM Tables 25-17, 25-19, 25-20): the one table of interruption types (the
 * machine's InterruptEvent.type and interrupts.arrow's type column use it). Exit interruption info never
 * uses 1, 4 and 7; IDT-vectoring info never uses 1 and 7; `otherEvent` (7) is only for VM entry (a pending
 * MTF VM exit, vector 0).
 */
export const InterruptionType = {
  externalInterrupt: 0,
  nmi: 2,
  hardwareException: 3,
  softwareInterrupt: 4,
  privilegedSoftwareException: 5,
  softwareException: 6,
  otherEvent: 7,
} as const;
export type InterruptionType = (typeof InterruptionType)[keyof typeof InterruptionType];

/**
 * Names by type number, snake_case of the keys above ('reserved_1' for the unused 1): the dictionary of
 * interrupts.arrow's type_name column (index = type).
 */
export const INTERRUPTION_TYPE_NAMES: readonly string[] = (() => {
  const names = Array.from({ length: 8 }, (_, n) => `reserved_${n}`);
  for (const [key, n] of Object.entries(InterruptionType)) names[n] = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return names;
})();

export const InterruptionInfo = {
  VECTOR_MASK: 0xff,
  TYPE_SHIFT: 8,
  TYPE_MASK: 0x700,
  /** Bit 11: error code valid (exit / IDT-vectoring info) or deliver error code (VM-entry info). */
  ERROR_CODE: 1 << 11,
  /** Bit 12 of VM-exit interruption info: NMI unblocking due to IRET. Undefined in IDT-vectoring info. */
  NMI_UNBLOCKING: 1 << 12,
  /** Bit 31: valid. */
  VALID: 0x8000_0000,
} as const;

/**
 * Encode an interruption-information word (valid bit set). Used for all three fields: VM-exit interruption
 * info (bit 12 = NMI unblocking due to IRET), IDT-vectoring info (bit 12 undefined: pass false) and VM-entry
 * interruption info (bits 30:12 reserved: pass false). Returns a uint32.
 */
export function encodeInterruptionInfo(
  vector: number,
  type: InterruptionType,
  errorCodeValid: boolean,
  nmiUnblocking = false,
): number {
  if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`vector must be 0..255, got ${vector}`);
  let info = vector | (type << InterruptionInfo.TYPE_SHIFT) | InterruptionInfo.VALID;
  if (errorCodeValid) info |= InterruptionInfo.ERROR_CODE;
  if (nmiUnblocking) info |= InterruptionInfo.NMI_UNBLOCKING;
  return info >>> 0;
}

export function interruptionValid(info: number): boolean {
  return (info & InterruptionInfo.VALID) !== 0;
}
export function interruptionVector(info: number): number {
  return info & InterruptionInfo.VECTOR_MASK;
}
export function interruptionType(info: number): InterruptionType {
  return ((info & InterruptionInfo.TYPE_MASK) >>> InterruptionInfo.TYPE_SHIFT) as InterruptionType;
}
export function interruptionHasErrorCode(info: number): boolean {
  return (info & InterruptionInfo.ERROR_CODE) !== 0;
}
export function interruptionNmiUnblocking(info: number): boolean {
  return (info & InterruptionInfo.NMI_UNBLOCKING) !== 0;
}

export interface DecodedInterruptionInfo {
  valid: boolean;
  vector: number;
  type: InterruptionType;
  errorCodeValid: boolean;
  nmiUnblocking: boolean;
}

export function decodeInterruptionInfo(info: number): DecodedInterruptionInfo {
  return {
    valid: interruptionValid(info),
    vector: interruptionVector(info),
    type: interruptionType(info),
    errorCodeValid: interruptionHasErrorCode(info),
    nmiUnblocking: interruptionNmiUnblocking(info),
  };
}

/**
 * Exceptions that push an error code (SDM vol. 3A Table 6-1): #DF, #TS, #NP, #SS, #GP, #PF, #AC, and #CP
 * (21, with CET). Event injection requires the deliver-error-code bit exactly for these (27.2.1.3).
 */
export function exceptionHasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/**
 * Interruption type of an exception vector as the exit interruption-information field reports it
 * (SDM 28.2.2): #BP from INT3 and #OF from INTO are software exceptions, #DB from INT1 (ICEBP) a privileged
 * software exception, everything else a hardware exception. `fromInstruction` marks INT3/INTO/INT1.
 */
export function exceptionInterruptionType(vector: number, fromInstruction: boolean): InterruptionType {
  if (fromInstruction) {
    if (vector === 3 || vector === 4) return InterruptionType.softwareException;
    if (vector === 1) return InterruptionType.privilegedSoftwareException;
  }
  return vector === 2 ? InterruptionType.nmi : InterruptionType.hardwareException;
}
