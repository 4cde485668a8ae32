// The emulated VT-x machine: one vCPU in VMX non-root operation, its guest-physical memory, the devices
// behind one I/O bus, and the VM-exit path to the hypervisor model. Everything a VMM would see arrives
// here as a VM exit (SDM vol. 3 chapters 26-28) and is published to observers.
//
// Time: guest-visible time derives from the instruction count only (TSC = icount x cycles-per-instruction).
// Exits add modelled cycles (cost model) but never change what the guest executes, so two runs of the same
// workload under different exit configurations execute the same guest instructions.
//
// Interrupts from the machine's devices follow KVM's path: a device event is a host interrupt, which exits
// with reason 1 (external interrupt) when the pin-based control asks for it; the VMM then injects the
// guest's vector at VM entry if the guest can take it (RFLAGS.IF and no STI/MOV-SS shadow), or arms
// interrupt-window exiting and injects on the exit with reason 7 (SDM 26.7.5).
//
// The VMM may also queue a vector of its own choosing (queueInterrupt); InterruptInjector.ts holds the
// injection: the window, the queue, the order.
//
// The outside world (device inputs) is reached only through an Environment, so recording and replay share
// this loop and differ only in where the inputs come from (rr's design).

import { Cpu, type CpuHooks } from './cpu/Cpu.js';
import { Exitable, Stop } from './cpu/arch.js';
import type { Op } from './cpu/Op.js';
import type { ExitCosts } from './costModel.js';
import { GROUND_TRUTH_PORT } from './devices/GroundTruthPort.js';
import { InterruptInjector } from './InterruptInjector.js';
import { EXIT_WORDS, ExitWord, IoDirection, type ExitEvent, type GroundTruthEvent, type SyscallEvent,
  type InterruptEvent, type IoEvent, type MachineObserver, type WitnessEvent } from './events.js';
import { ExitReason } from './vmx/exitReasons.js';
import { NO_EXIT, Vmcs } from './vmx/Vmcs.js';
import { InterruptionType, IoQual, encodeInterruptionInfo, eptViolationQualification, exceptionInterruptionType } from './vmx/qualification.js';
import { instructionExitInformation } from './vmx/instructionExitInformation.js';
import { ioPort } from './cpu/ops/portIo.js';

import type { Environment, ExitHandler, ExitPolicy } from './Environment.js';
import { StopReason, type RunResult } from './RunResult.js';

export type { Environment, ExitHandler, ExitPolicy } from './Environment.js';
export { StopReason, type RunResult } from './RunResult.js';

export interface MachineOptions {
  memoryBytes: number;
  cyclesPerInstruction: number;
  /** Guest TSC frequency (Hz): guest seconds = icount x cyclesPerInstruction / tscHz (the PIT and RTC count it). */
  tscHz?: number;
  policy: ExitPolicy;
  costModel: ExitCosts;
  handler?: ExitHandler;
  maxInstructions?: number;
  maxExits?: number;
  /** CPUID table (Cpu's default when absent; cpuModel.ts has the Linux guest's). */
  cpuid?: Map<number, [number, number, number, number]>;
}

const TWO32 = 4294967296;

export class Machine {
  readonly cpu: Cpu;
  /** Guest TSC frequency in Hz, 0 if the machine was built without one (then it has no device clocks). */
  readonly tscHz: number;
  env: Environment;
  policy: ExitPolicy;
  costModel: ExitCosts;
  /** The policy's VMCS (its controls decide exits); it holds the last exit's information (reason, qualification, addresses, interruption information). */
  readonly vmcs: Vmcs;
  handler: ExitHandler;
  maxInstructions: number;
  maxExits: number;

  /** Exits so far (the next exit's sequence number). */
  exitCount = 0;
  /** Modelled cycles spent in exits so far (guest cycles are icount x CPI). */
  exitCycles = 0;
  readonly exitsByReason = new Map<number, number>();
  /** Console output so far. */
  readonly console: number[] = [];

  private readonly onExit: Array<(e: ExitEvent) => void> = [];
  private readonly onIo: Array<(e: IoEvent) => void> = [];
  private readonly onInterrupt: Array<(e: InterruptEvent) => void> = [];
  private readonly onGroundTruth: Array<(e: GroundTruthEvent) => void> = [];
  private readonly onSyscall: Array<(e: SyscallEvent) => void> = [];
  private readonly onWitness: Array<(e: WitnessEvent) => void> = [];
  private readonly onConsole: Array<(b: Uint8Array) => void> = [];
  private readonly exitEvent: ExitEvent;
  private readonly ioEvent: IoEvent;
  /** Sequence number of the exit the instruction now executing caused (for its I/O rows), or -1. */
  private currentExit = -1;
  /** icount at which the VMX-preemption timer reaches zero (when active). */
  private preemptionDeadline = 0;
  /** Interrupt injection at VM entry: the interrupt window and the VMM's queued vectors. */
  private readonly interrupts: InterruptInjector;
  private stopReason: StopReason | null = null;
  private stopStatus = 0;
  private stopDetail = '';

  constructor(env: Environment, opts: MachineOptions) {
    this.cpu = new Cpu({ memoryBytes: opts.memoryBytes, cyclesPerInstruction: opts.cyclesPerInstruction, cpuid: opts.cpuid });
    this.tscHz = opts.tscHz ?? 0;
    this.env = env;
    this.policy = opts.policy;
    this.costModel = opts.costModel;
    this.vmcs = opts.policy.vmcs ?? new Vmcs();
    this.handler = opts.handler ?? {};
    this.maxInstructions = opts.maxInstructions ?? Infinity;
    this.maxExits = opts.maxExits ?? Infinity;
    this.exitEvent = {
      kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
      interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false,
      cs: 0, ss: 0, cpl: 0, words: new Uint32Array(EXIT_WORDS),
    };
    this.ioEvent = { kind: 'io', icount: 0, exitSeq: -1, port: 0, size: 0, direction: IoDirection.out, value: 0, data: null, device: '' };
    this.interrupts = new InterruptInjector(this.cpu, {
      pendingVector: () => this.env.pendingVector(),
      acknowledge: () => this.env.acknowledge(),
      windowExit: () => this.exitFor(ExitReason.INTERRUPT_WINDOW),
      onInterrupt: this.onInterrupt,
    });
    this.cpu.hooks = this.hooks;
    this.cpu.io = {
      portIn: (port, size) => this.portIn(port, size),
      portOut: (port, size, value) => this.portOut(port, size, value),
    };
  }

  // ---- observers ------------------------------------------------------------------------------------------

  /** Subscribe; returns an unsubscribe function. Kinds nobody subscribes to cost nothing. */
  subscribe(o: MachineObserver): () => void {
    const added: Array<[unknown[], unknown]> = [];
    const add = <T>(list: T[], fn: T | undefined): void => {
      if (fn !== undefined) {
        list.push(fn);
        added.push([list as unknown[], fn]);
      }
    };
    add(this.onExit, o.onExit?.bind(o));
    add(this.onIo, o.onIo?.bind(o));
    add(this.onInterrupt, o.onInterrupt?.bind(o));
    add(this.onGroundTruth, o.onGroundTruth?.bind(o));
    add(this.onSyscall, o.onSyscall?.bind(o));
    add(this.onWitness, o.onWitness?.bind(o));
    add(this.onConsole, o.onConsole?.bind(o));
    return () => {
      for (const [list, fn] of added) {
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      }
    };
  }

  /** Publish a ground-truth event (the ground-truth device calls this; it never causes an exit). */
  publishGroundTruth(e: GroundTruthEvent): void {
    for (const f of this.onGroundTruth) f(e);
  }

  /** Publish a report of the kernel-module witness (the witness device calls this). */
  publishWitness(e: WitnessEvent): void {
    for (const f of this.onWitness) f(e);
  }

  /** Publish a system call the interception strategy saw. */
  publishSyscall(e: SyscallEvent): void {
    for (const f of this.onSyscall) f(e);
  }

  /** Publish console output (the UART calls this). */
  publishConsole(bytes: Uint8Array): void {
    for (const b of bytes) this.console.push(b);
    for (const f of this.onConsole) f(bytes);
  }

  /** The last non-empty console line (complete or not), without control characters; '' if none. */
  lastConsoleLine(): string {
    const c = this.console;
    let end = c.length;
    while (end > 0 && (c[end - 1] === 10 || c[end - 1] === 13)) end--;
    let start = end;
    while (start > 0 && c[start - 1] !== 10 && end - start < 400) start--;
    return Buffer.from(c.slice(start, end)).toString('latin1').replace(/[\x00-\x1f\x7f]/g, '');
  }

  consoleText(): string {
    return Buffer.from(this.console).toString('latin1');
  }

  /** End the run after the current instruction (power-off port, Ctrl-C, limits). */
  stop(reason: StopReason, status = 0, detail = ''): void {
    if (this.stopReason === null) {
      this.stopReason = reason;
      this.stopStatus = status;
      this.stopDetail = detail;
    }
    this.cpu.requestStop();
  }

  /**
   * Hypervisor work that runs at every exit before it is published (hyperupcalls bound to VM exits): part of
   * the exit's handling, so what it charges (chargeWork) is in the exit's cost. Not observers: they may
   * charge and change guest state; observers only watch.
   */
  private readonly exitHooks: Array<(e: ExitEvent) => void> = [];

  addExitHook(f: (e: ExitEvent) => void): void {
    this.exitHooks.push(f);
  }

  /** An exit hook asked to complete the exiting instruction without its effect (skipInstruction). */
  private skipRequested = false;
  /** Instructions exit hooks skipped so far. */
  skippedInstructions = 0;
  /** Instruction slots icount skipped while the guest was halted in HLT (icount - this = executed). */
  haltedInstructions = 0;

  /**
   * Called by an exit hook during an instruction's exit (WRMSR, MOV to CR, I/O, ...): the VMM completes the
   * instruction without executing it and without the other handlers (the interception strategies) seeing
   * it: RIP moves past it and it retires, as when KVM refuses a write and calls
   * kvm_skip_emulated_instruction. Ignored for exits that are not an instruction's (and for VMCALL).
   */
  skipInstruction(): boolean {
    if (!this.inInstructionExit) return false;
    this.skipRequested = true;
    return true;
  }

  /** The exit being handled is an intercepted instruction's (not VMCALL): skipInstruction applies. */
  private inInstructionExit = false;

  /** An exit whose handler runs before it is published (so its cost includes the handler's work). */
  private deferred = false;
  private cyclesAtExit = 0;

  /** Publish the exit just handled, its cost including the work its handling charged (chargeWork). */
  private publishExit(): void {
    this.deferred = false;
    const e = this.exitEvent;
    const work = this.exitCycles - this.cyclesAtExit;
    e.cost += work;
    e.cycles += work;
    for (const f of this.onExit) f(e);
  }

  private publishDeferred(): void {
    if (this.deferred) this.publishExit();
  }

  /** Charge hypervisor work done for the last exit (logging a record, emulation) to modelled time. */
  chargeWork(cycles: number): void {
    this.exitCycles += cycles;
  }

  /** The machine's own counters (not the CPU's): for checkpoints. */
  saveCounters(): {
    exitCount: number; exitCycles: number; exitsByReason: Array<[number, number]>; windowArmed: boolean; consoleBytes: number;
    queuedVectors?: number[]; queuedInterrupts?: number; skippedInstructions?: number; haltedInstructions?: number;
  } {
    return {
      exitCount: this.exitCount, exitCycles: this.exitCycles, exitsByReason: [...this.exitsByReason],
      windowArmed: this.interrupts.windowArmed, consoleBytes: this.console.length, queuedVectors: this.queuedVectors(),
      queuedInterrupts: this.interrupts.queuedInterrupts, skippedInstructions: this.skippedInstructions, haltedInstructions: this.haltedInstructions,
    };
  }

  loadCounters(c: ReturnType<Machine['saveCounters']>, console: Uint8Array): void {
    this.exitCount = c.exitCount;
    this.exitCycles = c.exitCycles;
    this.exitsByReason.clear();
    for (const [r, n] of c.exitsByReason) this.exitsByReason.set(r, n);
    this.interrupts.load(c.windowArmed, c.queuedVectors ?? [], c.queuedInterrupts ?? 0);
    this.skippedInstructions = c.skippedInstructions ?? 0;
    this.haltedInstructions = c.haltedInstructions ?? 0;
    this.console.length = 0;
    for (const b of console) this.console.push(b);
  }

  /** Modelled cycles so far: guest instructions x CPI plus every exit's modelled cost. */
  get cycles(): number {
    return this.cpu.icount * this.cpu.cyclesPerInstruction + this.exitCycles;
  }

  // ---- VM exits ---------------------------------------------------------------------------------------------

  /**
   * Take the VM exit whose exit-information fields are in this.vmcs (beginExit and the setters, with the
   * encoders of vmx/qualification.ts): its modelled cost, the guest-state snapshot (SDM 27.3) and the exit
   * information copied into the ExitEvent, published (or deferred until its handler ran). `op` is the
   * instruction that caused it (null for asynchronous exits). Returns its sequence number.
   */
  private exit(op: Op | null, deferPublish = false): number {
    const cpu = this.cpu;
    const v = this.vmcs;
    const reason = v.exitReason;
    // VM-exit instruction length (SDM 28.2.4), for the exits an instruction or a fault caused.
    if (op !== null) v.exitInstructionLength = op.len;
    const seq = this.exitCount++;
    const cost = this.costModel.exitCost(reason);
    this.exitCycles += cost;
    this.exitsByReason.set(reason, (this.exitsByReason.get(reason) ?? 0) + 1);
    this.deferred = false;
    if (this.onExit.length > 0 || this.exitHooks.length > 0) {
      const e = this.exitEvent;
      // Exits caused by an instruction or a fault happen at that instruction's exact icount; asynchronous
      // ones (external interrupt, window, triple fault) at the current boundary.
      const icount = op !== null ? cpu.eventIcount : cpu.icount;
      e.seq = seq;
      e.icount = icount;
      e.tsc = cpu.tsc(icount);
      e.cycles = icount * cpu.cyclesPerInstruction + this.exitCycles;
      e.cost = cost;
      e.reason = reason;
      e.instructionLength = v.exitInstructionLength;
      e.interruptionInfo = v.exitInterruptionInfo;
      e.interruptionErrorCode = v.exitInterruptionErrorCode;
      e.hasGuestLinear = v.guestLinearAddressValid;
      e.hasGuestPhysical = v.guestPhysicalAddressValid;
      e.cs = cpu.cs;
      e.ss = cpu.ss;
      e.cpl = cpu.cpl;
      const w = e.words;
      for (let r = 0; r < 16; r++) {
        w[r * 2] = cpu.lo[r];
        w[r * 2 + 1] = cpu.hi[r];
      }
      // RIP of the instruction that exited (not the fall-through address the run loop preset).
      const rip = op !== null ? op.addr : cpu.rip;
      w[ExitWord.rip] = rip % TWO32;
      w[ExitWord.rip + 1] = Math.floor(rip / TWO32);
      w[ExitWord.rflags] = cpu.getRflags();
      w[ExitWord.rflags + 1] = 0;
      w[ExitWord.cr0] = cpu.cr0;
      w[ExitWord.cr0 + 1] = 0;
      w[ExitWord.cr3] = cpu.cr3;
      w[ExitWord.cr3 + 1] = 0;
      w[ExitWord.cr4] = cpu.cr4;
      w[ExitWord.cr4 + 1] = 0;
      v.copyExitInformation(w);
      this.cyclesAtExit = this.exitCycles;
      for (const f of this.exitHooks) f(e);
      if (deferPublish) this.deferred = true;
      else this.publishExit();
    }
    if (this.exitCount >= this.maxExits) this.stop(StopReason.exitLimit, 0, `${this.exitCount} exits`);
    return seq;
  }

  /** An exit with a reason only (interrupt window, MTF, preemption timer, triple fault). */
  private exitFor(reason: ExitReason): void {
    this.vmcs.beginExit(reason);
    this.exit(null);
  }

  private readonly hooks: CpuHooks = {
    instruction: (cpu, kind, op) => this.instructionHook(cpu, kind, op),
    exception: (_cpu, vector, errorCode, hasError, op, fromInstruction) => this.exceptionHook(vector, errorCode, hasError, op, fromInstruction),
    eptViolation: (_cpu, op) => this.eptHook(op),
  };

  private instructionHook(cpu: Cpu, kind: Exitable, op: Op): boolean {
    this.currentExit = -1;
    if (kind === Exitable.io && (op.aux & IoQual.STRING) === 0) {
      // The ground-truth port never exits and costs nothing (docs/machine.md).
      const port = ioPort(cpu, op);
      if (port === GROUND_TRUTH_PORT) return false;
    }
    const reason = kind === Exitable.vmcall ? ExitReason.VMCALL : this.policy.instructionExitReason(kind, cpu, op);
    if (reason === NO_EXIT) return false;
    this.vmcs.beginExit(reason as ExitReason);
    instructionExitInformation(this.vmcs, kind, cpu, op);
    this.skipRequested = false;
    this.inInstructionExit = kind !== Exitable.vmcall;
    try {
      this.currentExit = this.exit(op, true);
    } finally {
      this.inInstructionExit = false;
    }
    try {
      if (this.skipRequested) {
        this.skipRequested = false;
        this.skippedInstructions++;
        cpu.rip = op.next;
        return true;
      }
      if (kind === Exitable.vmcall) {
        // Resume after the VMCALL unless the handler redirects (hypervisor-planted VMCALLs do).
        cpu.rip = op.next;
        if (this.handler.hypercall !== undefined) this.handler.hypercall(this, op);
        else cpu.lo[0] = -1000, cpu.hi[0] = -1; // -KVM_ENOSYS style: unknown hypercall
        return true;
      }
      return this.handler.handleInstruction !== undefined && this.handler.handleInstruction(this, kind, op);
    } finally {
      this.publishDeferred();
    }
  }

  private exceptionHook(vector: number, errorCode: number, hasError: boolean, op: Op | null, fromInstruction: boolean): boolean {
    if (!this.policy.exceptionExits(vector, hasError ? errorCode : 0)) return false;
    const v = this.vmcs;
    v.beginExit(ExitReason.EXCEPTION_NMI);
    // VM-exit interruption information (SDM 25.9.2, 28.2.2): vector, type (hardware exception; software
    // exception for INT3, privileged software exception for INT1), error-code valid, valid.
    v.setExitInterruption(encodeInterruptionInfo(vector, exceptionInterruptionType(vector, fromInstruction), hasError),
      hasError ? errorCode : 0);
    // Exit qualification for #PF is the faulting linear address (SDM 28.2.1).
    if (vector === 14) v.setExitQualification(this.cpu.fault.addrLo, this.cpu.fault.addrHi);
    this.exit(op, true);
    try {
      // Otherwise re-inject (what KVM does for exceptions it only watches): delivery proceeds as without the exit.
      return this.handler.handleException !== undefined && this.handler.handleException(this, vector, errorCode, op);
    } finally {
      this.publishDeferred();
    }
  }

  private eptHook(op: Op): void {
    const v = this.cpu.mmu.eptViolation;
    const x = this.vmcs;
    x.beginExit(ExitReason.EPT_VIOLATION);
    // EPT-violation qualification (SDM 28.2.1 table 28-7): the access (R/W/X), the page's permissions, and
    // the guest-linear address valid and translated (this machine's violations are all on final translations).
    x.setExitQualification(eptViolationQualification(v.access === 1 ? 1 : v.access === 2 ? 2 : 4, v.perm, true, true));
    x.setGuestLinearAddress(v.linearLo, v.linearHi);
    x.setGuestPhysicalAddress(v.gpa);
    this.exit(op, true);
    let handled: boolean;
    try {
      handled = this.handler.handleEptViolation !== undefined && this.handler.handleEptViolation(this, op);
    } finally {
      this.publishDeferred();
    }
    if (handled) return;
    this.stop(StopReason.hypervisorError, 0, `unhandled EPT violation at guest-physical 0x${v.gpa.toString(16)}`);
  }

  // ---- port I/O -------------------------------------------------------------------------------------------

  private portIn(port: number, size: number): number {
    const v = this.env.portIn(port, size);
    this.publishIo(port, size, IoDirection.in, v);
    if (this.env.inRaisedIrq) this.interrupts.raisedDuringInstruction();
    this.syncLimit();
    return v;
  }

  /** A device event may have moved earlier than the running slice's end (a timer armed by OUT). */
  private syncLimit(): void {
    const cpu = this.cpu;
    const next = this.env.nextEventAt();
    if (next < cpu.runLimit) cpu.runLimit = Math.max(next, cpu.ioIcount + 1);
  }

  private portOut(port: number, size: number, value: number): void {
    if (port !== GROUND_TRUTH_PORT) this.publishIo(port, size, IoDirection.out, value);
    if (this.env.portOut(port, size, value)) this.interrupts.raisedDuringInstruction();
    this.syncLimit();
  }

  private publishIo(port: number, size: number, direction: IoDirection, value: number): void {
    if (this.onIo.length === 0) return;
    const e = this.ioEvent;
    e.icount = this.cpu.ioIcount;
    e.exitSeq = this.currentExit;
    e.port = port;
    e.size = size;
    e.direction = direction;
    e.value = value >>> 0;
    e.data = null;
    e.device = this.env.deviceAt(port);
    for (const f of this.onIo) f(e);
  }

  // ---- interrupts -------------------------------------------------------------------------------------------

  /**
   * A device raised an interrupt request. `asynchronous`: it happened in time (not inside an exit the
   * guest caused), so the host took an interrupt: exit reason 1 when external-interrupt exiting is on.
   */
  private interruptRaised(asynchronous: boolean): void {
    const v = this.env.pendingVector();
    if (v < 0) return;
    if (asynchronous && this.policy.externalInterruptExiting) {
      // VM-exit interruption information (SDM 25.9.2): the vector, external interrupt, valid.
      this.vmcs.beginExit(ExitReason.EXTERNAL_INTERRUPT);
      this.vmcs.setExitInterruption(encodeInterruptionInfo(v, InterruptionType.externalInterrupt, false), 0);
      this.exit(null);
    }
    this.interrupts.tryInject(false);
  }

  /**
   * Queue external-interrupt `vector` (32-255) for injection by the VMM (InterruptInjector.queue): injected
   * at the next VM entry at which the guest can take it, else after an interrupt-window exit. Returns false
   * for a vector outside 32-255.
   */
  queueInterrupt(vector: number): boolean {
    return this.interrupts.queue(vector);
  }

  /** queueInterrupt calls accepted so far. */
  get queuedInterrupts(): number {
    return this.interrupts.queuedInterrupts;
  }

  /** The vectors queued by the VMM and not yet injected, ascending. */
  queuedVectors(): number[] {
    return this.interrupts.queuedVectors();
  }

  // ---- the run loop -----------------------------------------------------------------------------------------

  /** True once the run has ended (a stop reason other than a pause). */
  get stopped(): boolean {
    return this.stopReason !== null;
  }

  /**
   * Run until the guest powers off, dies, or a limit is reached. With `until`, return earlier (reason
   * `paused`) once icount reaches it, so a caller can run in slices and let the event loop breathe (signal
   * handlers, progress output) between them; the execution is the same either way.
   */
  run(until = Infinity): RunResult {
    const cpu = this.cpu;
    let paused = false;
    while (this.stopReason === null && !paused) {
      const mtf = this.policy.monitorTrapFlag === true;
      const preemption = this.policy.preemptionTimerInstructions ?? 0;
      if (preemption > 0 && this.preemptionDeadline <= cpu.icount) this.preemptionDeadline = cpu.icount + preemption;
      let limit = Math.min(this.env.nextEventAt(), this.maxInstructions, until);
      if (mtf) limit = Math.min(limit, cpu.icount + 1);
      if (preemption > 0) limit = Math.min(limit, this.preemptionDeadline);
      const before = cpu.icount;
      const s = cpu.run(limit);
      switch (s) {
        case Stop.limit:
          if (mtf && cpu.icount === before + 1) this.exitFor(ExitReason.MONITOR_TRAP_FLAG);
          if (preemption > 0 && cpu.icount >= this.preemptionDeadline) {
            this.exitFor(ExitReason.PREEMPTION_TIMER);
            this.preemptionDeadline = cpu.icount + preemption;
          }
          if (cpu.icount >= until && cpu.icount < this.maxInstructions && cpu.icount < this.env.nextEventAt()) {
            paused = true;
            break;
          }
          this.timeReached();
          break;
        case Stop.interrupt:
          this.interrupts.tryInject(this.interrupts.windowArmed);
          break;
        case Stop.halt: {
          // MTF also traps after HLT (SDM 26.5.2: the exit happens after the instruction completes).
          if (mtf && cpu.icount === before + 1) this.exitFor(ExitReason.MONITOR_TRAP_FLAG);
          if (cpu.canTakeInterrupt() && this.interrupts.pending()) {
            this.interrupts.tryInject(false);
            break;
          }
          // HLT with RFLAGS.IF clear: no maskable interrupt can resume the CPU and this machine has no NMI
          // source, so the guest has stopped for good (Linux's halt and panic paths end here).
          if ((cpu.flagsOther & 0x200) === 0 && !this.interrupts.hasQueued()) {
            this.stop(StopReason.haltedForever, 0, 'HLT with interrupts disabled');
            break;
          }
          // HLT: nothing to do until the next device event; guest time skips there (SDM HLT; KVM blocks
          // the vCPU). icount counts the skipped slots so guest time stays a function of icount alone.
          const next = Math.min(this.env.nextEventAt(), this.maxInstructions);
          if (next === Infinity) {
            this.stop(StopReason.haltedForever, 0, (cpu.flagsOther & 0x200) === 0
              ? 'HLT with interrupts disabled' : 'HLT with no device event pending');
            break;
          }
          if (next > cpu.icount) {
            this.haltedInstructions += next - cpu.icount;
            cpu.icount = next;
          }
          this.timeReached();
          break;
        }
        case Stop.tripleFault:
          this.exitFor(ExitReason.TRIPLE_FAULT);
          this.stop(StopReason.tripleFault, 0, `triple fault at rip 0x${cpu.getRip().toString(16)}`);
          break;
        case Stop.requested:
          if (this.stopReason === null) this.stop(StopReason.interrupted, 0, 'stop requested');
          break;
        case Stop.noProgress:
          this.stop(StopReason.hypervisorError, 0, `no guest progress at icount ${cpu.icount}: every attempt faults (rip 0x${cpu.getRip().toString(16)})`);
          break;
      }
    }
    return {
      reason: this.stopReason ?? StopReason.paused, status: this.stopStatus, detail: this.stopDetail, icount: cpu.icount,
      exits: this.exitCount, cycles: this.cycles,
    };
  }

  private timeReached(): void {
    const cpu = this.cpu;
    if (cpu.icount >= this.maxInstructions) {
      this.stop(StopReason.instructionLimit, 0, `${cpu.icount} instructions`);
      return;
    }
    if (this.env.advanceTo(cpu.icount)) this.interruptRaised(true);
  }
}
