// Interrupt injection at VM entry, KVM's path (SDM 26.6 event injection, 26.7.5 interrupt-window exiting):
// a device interrupt becomes deliverable (the interrupt controller says so through the Environment) or the
// VMM queues a vector of its own choosing (queueInterrupt: a hyperupcall's send_vcpu_ipi, as KVM's
// kvm_apic_set_irq sets a bit of the virtual LAPIC's IRR). Either is injected at the next VM entry at which
// the guest can take it (RFLAGS.IF and no STI/MOV-SS shadow), else interrupt-window exiting is armed and it
// is injected on the exit with reason 7: the interrupt controller's vector first, then the highest queued
// one (KVM's order: ExtINT before the LAPIC). Queued vectors never consult the Environment: they are a
// consequence of guest state, so a replay re-derives them.

import type { Cpu } from './cpu/Cpu.js';
import type { InterruptEvent } from './events.js';
import { InterruptionType } from './vmx/qualification.js';

/** What the injector needs of the machine: the interrupt controller, the window exit, the observers. */
export interface InjectionHost {
  /** Highest-priority deliverable vector of the interrupt controller, or -1 (Environment.pendingVector). */
  pendingVector(): number;
  /** Acknowledge it (INTA): returns the vector now in service. */
  acknowledge(): number;
  /** Take the interrupt-window VM exit (reason 7). */
  windowExit(): void;
  /** The observers of injected events (none: the event is not filled). */
  readonly onInterrupt: ReadonlyArray<(e: InterruptEvent) => void>;
}

export class InterruptInjector {
  /** Interrupt-window exiting is armed: the injection that follows is preceded by exit reason 7. */
  windowArmed = false;
  /** queueInterrupt calls accepted so far. */
  queuedInterrupts = 0;
  /** Vectors the VMM queued (queueInterrupt), a 256-bit request register like a LAPIC IRR. */
  private readonly irr = new Uint32Array(8);
  private queuedCount = 0;
  private readonly event: InterruptEvent = { kind: 'interrupt', icount: 0, vector: 0, type: InterruptionType.externalInterrupt, errorCode: -1 };

  constructor(private readonly cpu: Cpu, private readonly host: InjectionHost) {}

  /**
   * An interrupt became deliverable inside an instruction's emulation: no host interrupt; the VMM injects
   * at the next VM entry, or arms the interrupt window if the guest cannot take it then. The CPU stops
   * after this instruction (I/O ends its block) and the run loop does the injection.
   */
  raisedDuringInstruction(): void {
    const cpu = this.cpu;
    cpu.irqPending = true;
    if (!cpu.interruptsEnabled) this.windowArmed = true;
  }

  /**
   * Queue external-interrupt `vector` (32-255) for injection by the VMM (SDM 26.6 event injection): it is
   * delivered at the next VM entry at which the guest can take it (RFLAGS.IF and no interrupt shadow), else
   * interrupt-window exiting is armed and it is injected on the exit with reason 7. A vector already queued
   * stays queued once (an IRR bit). Returns false for a vector outside 32-255.
   */
  queue(vector: number): boolean {
    if (!Number.isInteger(vector) || vector < 32 || vector > 255) return false;
    this.setQueued(vector);
    this.queuedInterrupts++;
    const cpu = this.cpu;
    // The CPU looks at irqPending at its next block boundary (exits end their block).
    cpu.irqPending = true;
    if (!cpu.canTakeInterrupt()) this.windowArmed = true;
    return true;
  }

  /** A vector (the controller's or a queued one) waits for injection. */
  pending(): boolean {
    return this.queuedCount > 0 || this.host.pendingVector() >= 0;
  }

  /** A vector the VMM queued waits for injection. */
  hasQueued(): boolean {
    return this.queuedCount > 0;
  }

  /** The vectors queued by the VMM and not yet injected, ascending. */
  queuedVectors(): number[] {
    const out: number[] = [];
    for (let v = 32; v < 256; v++) if ((this.irr[v >> 5]! & (1 << (v & 31))) !== 0) out.push(v);
    return out;
  }

  /** Restore the window and the queue (checkpoints). */
  load(windowArmed: boolean, queuedVectors: readonly number[], queuedInterrupts: number): void {
    this.windowArmed = windowArmed;
    this.irr.fill(0);
    this.queuedCount = 0;
    for (const v of queuedVectors) this.setQueued(v);
    this.queuedInterrupts = queuedInterrupts;
  }

  private setQueued(v: number): void {
    const bit = 1 << (v & 31);
    if ((this.irr[v >> 5]! & bit) !== 0) return;
    this.irr[v >> 5]! |= bit;
    this.queuedCount++;
  }

  /** Take the highest queued vector (LAPIC priority order), or -1. */
  private takeQueued(): number {
    if (this.queuedCount === 0) return -1;
    for (let w = 7; w >= 0; w--) {
      const x = this.irr[w]!;
      if (x === 0) continue;
      const b = 31 - Math.clz32(x);
      this.irr[w] = x & ~(1 << b);
      this.queuedCount--;
      return w * 32 + b;
    }
    return -1;
  }

  /** Inject the pending vector at this VM entry if the guest can take it; else arm the interrupt window. */
  tryInject(fromWindowExit: boolean): void {
    const cpu = this.cpu;
    const host = this.host;
    // The interrupt controller first (KVM: ExtINT before the LAPIC), then the VMM's queued vectors. A run
    // that never queues one asks the Environment exactly what it asked before queueInterrupt existed.
    const fromPic = host.pendingVector() >= 0;
    if (!fromPic && this.queuedCount === 0) {
      cpu.irqPending = false;
      return;
    }
    if (!cpu.canTakeInterrupt()) {
      cpu.irqPending = true; // interrupt-window exiting (SDM 25.2): the CPU stops when IF opens
      this.windowArmed = true;
      return;
    }
    if (fromWindowExit) host.windowExit();
    this.windowArmed = false;
    const vector = fromPic ? host.acknowledge() : this.takeQueued();
    cpu.irqPending = this.queuedCount > 0 || host.pendingVector() >= 0;
    if (host.onInterrupt.length > 0) {
      const e = this.event;
      e.icount = cpu.icount;
      e.vector = vector;
      e.type = InterruptionType.externalInterrupt;
      e.errorCode = -1;
      for (const f of host.onInterrupt) f(e);
    }
    cpu.deliverInterrupt(vector);
  }
}
