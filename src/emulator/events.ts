// Events the machine publishes to observers (the recorder, live analyses). One discriminated union.
//
// Events are delivered synchronously and the objects (and their `words` arrays) may be reused by the
// publisher after the callback returns: a subscriber that keeps one must copy it. That keeps publishing
// allocation-free on the hot path. 64-bit register-like values travel as (lo, hi) uint32 word pairs in
// `words`, never as BigInt; counters (icount, tsc, cycles) are plain numbers, exact below 2^53.

import type { InterruptionType } from './vmx/qualification.js';

/** Word offsets into `ExitEvent.words`: each 64-bit value is two uint32 words, low word first. */
export const ExitWord = {
  rax: 0, rcx: 2, rdx: 4, rbx: 6, rsp: 8, rbp: 10, rsi: 12, rdi: 14,
  r8: 16, r9: 18, r10: 20, r11: 22, r12: 24, r13: 26, r14: 28, r15: 30,
  rip: 32, rflags: 34, cr0: 36, cr3: 38, cr4: 40,
  /** Exit qualification (SDM vol. 3 section 28.2.1, per basic exit reason). */
  qualification: 42,
  /** Guest-linear address (SDM 28.2.1: EPT violations, some exceptions, INVLPG); 0 when undefined. */
  guestLinear: 44,
  /** Guest-physical address (EPT violations, EPT misconfigurations); 0 when undefined. */
  guestPhysical: 46,
} as const;
export const EXIT_WORDS = 48;
/** The general-purpose registers in encoding order (rax=0 .. r15=15), as the snapshot lays them out. */
export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/** One VM exit, with the guest-state snapshot VT-x saves (SDM 27.3) plus all GPRs. */
export interface ExitEvent {
  kind: 'exit';
  /** 0-based sequence number of this exit in the run. */
  seq: number;
  /** Guest instructions retired before this exit. */
  icount: number;
  /** Guest TSC at the exit (icount x cycles per instruction). */
  tsc: number;
  /** Modelled cycles so far, including this exit's cost. */
  cycles: number;
  /** Modelled cost of this exit (round trip + handler + hypervisor work), cycles. */
  cost: number;
  vcpu: number;
  /** Basic exit reason (SDM appendix C). */
  reason: number;
  /** VM-exit instruction length (SDM 28.2.4); 0 when not defined for the reason. */
  instructionLength: number;
  /** VM-exit interruption information (SDM 25.9.2); 0 when invalid. */
  interruptionInfo: number;
  interruptionErrorCode: number;
  hasGuestLinear: boolean;
  hasGuestPhysical: boolean;
  cs: number;
  ss: number;
  cpl: number;
  /** EXIT_WORDS uint32 words laid out by ExitWord. */
  words: Uint32Array;
}

export const IoDirection = { out: 0, in: 1 } as const;
export type IoDirection = (typeof IoDirection)[keyof typeof IoDirection];

/** One port access (one row per IN/OUT; one row per string instruction with its bytes). */
export interface IoEvent {
  kind: 'io';
  icount: number;
  /** Sequence number of the exit this access caused, or -1 when it caused none. */
  exitSeq: number;
  port: number;
  /** Access size in bytes (1, 2 or 4). */
  size: number;
  direction: IoDirection;
  /** The value read or written (the last element for string I/O). */
  value: number;
  /** For INS/OUTS: every byte transferred; otherwise null. */
  data: Uint8Array | null;
  /** Name of the device that owns the port ('none' if unclaimed). */
  device: string;
}

/** An event injected into the guest (SDM 26.6 event injection, or a delivered external interrupt). */
export interface InterruptEvent {
  kind: 'interrupt';
  icount: number;
  vector: number;
  /** Interruption type (SDM 25.8.3: vmx/qualification.ts InterruptionType). */
  type: InterruptionType;
  /** -1 when the event has no error code. */
  errorCode: number;
}

/** The guest kernel's own account of itself, through the ground-truth port (docs/machine.md). */
export interface GroundTruthEvent {
  kind: 'groundTruth';
  icount: number;
  type: number;
  pid: number;
  tid: number;
  ppid: number;
  /** CR3 of the process (physical page-table root), exact below 2^53. */
  cr3: number;
  /** Type-specific arguments: the 64-bit words read as signed (exact within +-2^53: -1, kernel addresses). */
  a0: number;
  a1: number;
  a2: number;
  name: string;
}

export const GroundTruthType = {
  procCreate: 1,
  procExit: 2,
  threadCreate: 3,
  threadExit: 4,
  contextSwitch: 5,
  syscall: 6,
  exec: 7,
} as const;
export type GroundTruthType = (typeof GroundTruthType)[keyof typeof GroundTruthType];

/**
 * One system call seen by the hypervisor's interception strategy (src/hypervisor/interception): the
 * registers at the SYSCALL (Linux x86-64 ABI: number in RAX, arguments in RDI RSI RDX R10 R8 R9).
 * Hardware-visible state only, unlike the ground truth's GT_SYSCALL.
 */
export interface SyscallEvent {
  kind: 'syscall';
  /** Guest instructions retired before the SYSCALL instruction. */
  icount: number;
  /** seq of the exit that reported it. */
  exitSeq: number;
  /** The strategy's name (src/hypervisor/interception STRATEGIES). */
  strategy: string;
  number: number;
  /** The six argument registers as uint32 words, low then high: args[2*i], args[2*i+1]. */
  args: number[];
  cr3: number;
  /** User RSP at the SYSCALL (the thread's stack: what thread identity keys on). */
  rspLo: number;
  rspHi: number;
  /** User return address (RCX after SYSCALL). */
  ripLo: number;
  ripHi: number;
  /** Exits this syscall costs under the strategy (double-swap, nitro: 2). */
  exits: number;
}

/**
 * A report of the Linux guest's kernel-module witness (guest/linux/witness, docs/machine.md "Kernel-module
 * witness (0x518)"): one scheduler tracepoint hit, as the module saw it. Unlike the ground truth it is the
 * guest's own doing (an OUT that exits like any port access), so it changes the run it reports on.
 */
export interface WitnessEvent {
  kind: 'witness';
  /** icount of the OUT that reported it. */
  icount: number;
  /** WitnessKind */
  type: number;
  /** The module's own count of events reported before this one. */
  seq: number;
  /** The subject task: child (fork), current (exec, exit, start), next (switch). */
  pid: number;
  tgid: number;
  /** Parent (fork), old pid (exec), 0 (exit), prev (switch). */
  otherPid: number;
  otherTgid: number;
  /** exit: exit_code; switch: prev_state; start: hyperupcall id or negative errno (as int32). */
  arg: number;
  /** WitnessFlag bits. */
  flags: number;
  comm: string;
  otherComm: string;
}

export const WitnessKind = { start: 0, fork: 1, exec: 2, exit: 3, switch: 4 } as const;
export type WitnessKind = (typeof WitnessKind)[keyof typeof WitnessKind];
export const WitnessFlag = { kthread: 1, preempt: 2, hyperupcall: 4 } as const;

export type MachineEvent = ExitEvent | IoEvent | InterruptEvent | GroundTruthEvent | SyscallEvent | WitnessEvent;

/** A subscriber; each method is optional, and a machine with no subscriber for a kind pays nothing for it. */
export interface MachineObserver {
  onExit?(e: ExitEvent): void;
  onIo?(e: IoEvent): void;
  onInterrupt?(e: InterruptEvent): void;
  onGroundTruth?(e: GroundTruthEvent): void;
  onSyscall?(e: SyscallEvent): void;
  /** The Linux guest's kernel-module witness (port 0x518). */
  onWitness?(e: WitnessEvent): void;
  /** Guest console output (UART). */
  onConsole?(bytes: Uint8Array): void;
}
