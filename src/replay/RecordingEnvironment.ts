// Wraps the live environment (simulated devices) and logs every input it gives the machine. Effects a call
// causes (DMA into guest memory) are logged right after the call's own entry, so replay applies them when
// it consumes that call.

import type { Environment } from '../emulator/machine.js';
import { GROUND_TRUTH_PORT } from '../emulator/devices/GroundTruthPort.js';
import { InputKind, type InputEntry, type InputLogWriter } from './inputLog.js';

/**
 * Ports whose writes are not logged: the ground-truth port (docs/machine.md) takes the physical address of a
 * struct in guest memory, a function of guest state, and raises nothing; replay decodes the event from guest
 * memory itself. Its writes were 99% of the input log's entries on syscall-heavy runs. A trace lists these
 * ports in its manifest (`extra.input_log.unlogged_ports`): replay of an older trace, which logged them, takes
 * their entries as before.
 */
export const UNLOGGED_PORTS: readonly number[] = [GROUND_TRUTH_PORT];

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

  /** Log the DMA a call caused, after the call's own entry (replay applies them as it consumes the call). */
  private flushEffects(): void {
    const fx = this.effects;
    if (fx.length === 0) return;
    for (let i = 0; i < fx.length; i++) this.log.add(fx[i]!);
    fx.length = 0;
  }

  nextEventAt(): number {
    return this.inner.nextEventAt();
  }

  // The calls count their depth by hand (no closure per port access): DMA inside a call is an effect of it.
  advanceTo(icount: number): boolean {
    this.depth++;
    let irq: boolean;
    try {
      irq = this.inner.advanceTo(icount);
    } finally {
      this.depth--;
    }
    // Only events with an effect are logged: replay need not stop where nothing happened.
    if (irq || this.effects.length > 0) this.log.add3(InputKind.advance, icount, irq ? 1 : 0);
    this.flushEffects();
    return irq;
  }

  get inRaisedIrq(): boolean {
    return this.inner.inRaisedIrq;
  }

  portIn(port: number, size: number): number {
    this.depth++;
    let v: number;
    try {
      v = this.inner.portIn(port, size);
    } finally {
      this.depth--;
    }
    this.log.add6(InputKind.portIn, this.now(), port, size, v >>> 0, this.inner.inRaisedIrq ? 1 : 0);
    this.flushEffects();
    return v;
  }

  portOut(port: number, size: number, value: number): boolean {
    this.depth++;
    let irq: boolean;
    try {
      irq = this.inner.portOut(port, size, value);
    } finally {
      this.depth--;
    }
    if (port === GROUND_TRUTH_PORT && !irq && this.effects.length === 0) return false; // UNLOGGED_PORTS
    this.log.add6(InputKind.portOut, this.now(), port, size, value >>> 0, irq ? 1 : 0);
    this.flushEffects();
    return irq;
  }

  deviceAt(port: number): string {
    return this.inner.deviceAt(port);
  }

  pendingVector(): number {
    const v = this.inner.pendingVector();
    this.log.add3(InputKind.pending, this.now(), v);
    return v;
  }

  acknowledge(): number {
    const v = this.inner.acknowledge();
    this.log.add3(InputKind.acknowledge, this.now(), v);
    return v;
  }
}
