// Wraps the live environment (simulated devices) and logs every input it gives the machine. Effects a call
// causes (DMA into guest memory) are logged right after the call's own entry, so replay applies them when
// it consumes that call.

import type { Environment } from '../emulator/machine.js';
import { InputKind, type InputEntry, type InputLogWriter } from './inputLog.js';

export class RecordingEnvironment implements Environment {
  constructor(private readonly inner: Environment, private readonly log: InputLogWriter, private readonly now: () => number) {}

  private readonly effects: InputEntry[] = [];
  private depth = 0;

  /** Devices call this (through their context) when they write guest memory. */
  dma(phys: number, bytes: Uint8Array): void {
    const e: InputEntry = [InputKind.dma, this.now(), phys, bytes.slice()];
    if (this.depth > 0) this.effects.push(e);
    else this.log.add(e);
  }

  private call<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private flushEffects(): void {
    for (const e of this.effects) this.log.add(e);
    this.effects.length = 0;
  }

  nextEventAt(): number {
    return this.inner.nextEventAt();
  }

  advanceTo(icount: number): boolean {
    const irq = this.call(() => this.inner.advanceTo(icount));
    // Only events with an effect are logged: replay need not stop where nothing happened.
    if (irq || this.effects.length > 0) this.log.add([InputKind.advance, icount, irq ? 1 : 0]);
    this.flushEffects();
    return irq;
  }

  get inRaisedIrq(): boolean {
    return this.inner.inRaisedIrq;
  }

  portIn(port: number, size: number): number {
    const v = this.call(() => this.inner.portIn(port, size));
    this.log.add([InputKind.portIn, this.now(), port, size, v >>> 0, this.inner.inRaisedIrq ? 1 : 0]);
    this.flushEffects();
    return v;
  }

  portOut(port: number, size: number, value: number): boolean {
    const irq = this.call(() => this.inner.portOut(port, size, value));
    this.log.add([InputKind.portOut, this.now(), port, size, value >>> 0, irq ? 1 : 0]);
    this.flushEffects();
    return irq;
  }

  deviceAt(port: number): string {
    return this.inner.deviceAt(port);
  }

  pendingVector(): number {
    const v = this.inner.pendingVector();
    this.log.add([InputKind.pending, this.now(), v]);
    return v;
  }

  acknowledge(): number {
    const v = this.inner.acknowledge();
    this.log.add([InputKind.acknowledge, this.now(), v]);
    return v;
  }
}
