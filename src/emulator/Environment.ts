// The machine's two boundaries: the outside world it takes inputs from (Environment: live devices, the
// recorder's wrapper, or replay's log) and the hypervisor that decides and handles its exits (ExitPolicy,
// ExitHandler; src/hypervisor implements both from a VMCS).

import type { Cpu } from './cpu/Cpu.js';
import type { Exitable } from './cpu/arch.js';
import type { Op } from './cpu/Op.js';
import type { Vmcs } from './vmx/Vmcs.js';
import type { Machine } from './machine.js';

/**
 * The outside world as the machine sees it: port input values, device events in time, and the interrupt
 * controller. The live implementation simulates devices (and the recorder logs what they return); the
 * replay implementation feeds back a log.
 */
export interface Environment {
  /** icount of the next asynchronous event (device timer, packet arrival, logged interrupt); Infinity if none. */
  nextEventAt(): number;
  /** Run events due at or before icount. Returns true if an interrupt request was raised by them. */
  advanceTo(icount: number): boolean;
  portIn(port: number, size: number): number;
  /** Whether the last portIn made an interrupt deliverable (a read can start the next transfer). */
  readonly inRaisedIrq: boolean;
  /** Returns true if the write made an interrupt deliverable (a new request, an EOI or an unmask). */
  portOut(port: number, size: number, value: number): boolean;
  /** Name of the device owning a port ('none' if unclaimed). */
  deviceAt(port: number): string;
  /** Highest-priority deliverable vector, or -1. */
  pendingVector(): number;
  /** Acknowledge it (INTA): returns the vector now in service. */
  acknowledge(): number;
}

/** What the hypervisor decides for each exit-capable event (src/hypervisor programs it from a VMCS). */
export interface ExitPolicy {
  /**
   * The basic exit reason this instruction exits with, or NO_EXIT (op carries its operands; op.aux holds
   * the low bits of its qualification for I/O and CR accesses). VMCALL always exits and is not asked.
   */
  instructionExitReason(kind: Exitable, cpu: Cpu, op: Op): number;
  /** Exception bitmap and #PF error-code mask/match (SDM 25.2). */
  exceptionExits(vector: number, errorCode: number): boolean;
  /** Pin-based "external-interrupt exiting". */
  readonly externalInterruptExiting: boolean;
  /** Primary control "monitor trap flag": an exit (reason 37) after every guest instruction (SDM 26.5.2). */
  readonly monitorTrapFlag?: boolean;
  /**
   * VMX-preemption timer (SDM 26.5.1): guest instructions until it reaches zero and exits (reason 52), or
   * 0 when inactive. The timer counts down at the TSC rate divided by 2^X; the policy converts that to
   * instructions. The VMM reloads it after each such exit (as a periodic watchdog does).
   */
  readonly preemptionTimerInstructions?: number;
  /**
   * The VMCS whose controls this policy reads (vmcsPolicy). The machine fills its VM-exit information fields
   * at each exit (SDM 25.9, 28.2), so the controls that decided an exit and the information it reports are
   * one VMCS, as on hardware. A policy without one (a test's stub) gets a VMCS of the machine's own.
   */
  readonly vmcs?: Vmcs;
}

/** The hypervisor's side of an exit: emulate or let the CPU execute the instruction natively. */
export interface ExitHandler {
  /**
   * Called after the exit was published. Return true if the instruction was emulated (the VMM set RIP),
   * false to let the CPU execute it as if no exit had happened (the emulation result is identical).
   */
  handleInstruction?(m: Machine, kind: Exitable, op: Op): boolean;
  /** VMCALL (always handled: RAX = hypercall number). */
  hypercall?(m: Machine, op: Op): void;
  /** An exception the bitmap caught: return true if handled (not re-injected). */
  handleException?(m: Machine, vector: number, errorCode: number, op: Op | null): boolean;
  /** EPT violation: return true if resolved (the access is retried). */
  handleEptViolation?(m: Machine, op: Op): boolean;
}
