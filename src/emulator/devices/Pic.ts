// Interrupt controller: the 8259A subset of docs/machine.md, one controller with 16 request lines instead
// of a master/slave pair (Intel 8259A datasheet, "fully nested mode").
//
// - IRR (request), ISR (in service), IMR (mask; bit n masks IRQ n). Priority is fixed: IRQ 0 highest.
// - Edge-triggered: raiseIrq sets the IRR bit. lowerIrq withdraws a request that was not acknowledged yet
//   (a device's "reading status acknowledges the interrupt"); a real 8259A would then answer INTA with the
//   spurious IRQ 7, which this subset does not model: the request simply disappears.
// - A request is deliverable when unmasked and of higher priority than every IRQ in service (fully nested).
// - acknowledge (INTA) moves the best deliverable request from IRR to ISR and returns its vector 0x20 + irq.
// - Port 0x20 write: 0x20 = non-specific EOI (clears the highest-priority ISR bit); 0x60 + n = specific EOI
//   of IRQ n (n < 8, OCW2); OCW3 0x0a / 0x0b selects what port 0x20 reads (IRR, the default, or ISR).
//   Port 0x21: the 16-bit mask (8-bit accesses read/write the low 8 bits). The ICW initialisation sequence
//   is not modelled: every write to 0x21 sets the mask, and the vector base is fixed at 0x20.

import { StateReader, type AccessSize, type Device, type PortRange } from './Device.js';

export const PIC_VECTOR_BASE = 0x20;
/** Vector a real 8259A returns for an INTA with no request (IRQ 7, spurious). */
export const PIC_SPURIOUS_VECTOR = PIC_VECTOR_BASE + 7;

export class Pic implements Device {
  readonly name = 'pic';
  readonly ports: readonly PortRange[] = [[0x20, 0x21]];
  irr = 0;
  isr = 0;
  /** All lines masked at reset, as the 8259A after ICW initialisation in most BIOSes. */
  mask = 0xffff;
  /** OCW3 read-register select: false = IRR, true = ISR. */
  private readIsr = false;

  raiseIrq(irq: number): void {
    this.irr = (this.irr | (1 << (irq & 15))) & 0xffff;
  }

  lowerIrq(irq: number): void {
    this.irr &= ~(1 << (irq & 15)) & 0xffff;
  }

  /** The IRQ that acknowledge would deliver, or -1. */
  pendingIrq(): number {
    const c = this.irr & ~this.mask & 0xffff;
    if (c === 0) return -1;
    const best = c & -c;
    const isr = this.isr;
    // Fully nested: only a strictly higher-priority (lower-numbered) request interrupts a handler.
    if (isr !== 0 && best >= (isr & -isr)) return -1;
    return 31 - Math.clz32(best);
  }

  /** Highest-priority deliverable vector (0x20 + irq), or -1 if none given the mask and in-service IRQs. */
  pendingVector(): number {
    const irq = this.pendingIrq();
    return irq < 0 ? -1 : PIC_VECTOR_BASE + irq;
  }

  /** INTA: move the best deliverable request to in-service and return its vector (spurious 0x27 if none). */
  acknowledge(): number {
    const irq = this.pendingIrq();
    if (irq < 0) return PIC_SPURIOUS_VECTOR;
    this.irr &= ~(1 << irq);
    this.isr |= 1 << irq;
    return PIC_VECTOR_BASE + irq;
  }

  in(port: number, size: AccessSize): number {
    if (port === 0x20) return this.readIsr ? this.isr : this.irr;
    return size === 1 ? this.mask & 0xff : this.mask;
  }

  out(port: number, size: AccessSize, value: number): void {
    if (port === 0x21) {
      this.mask = size === 1 ? (this.mask & 0xff00) | (value & 0xff) : value & 0xffff;
      return;
    }
    const v = value & 0xff;
    if (v === 0x20) this.isr &= this.isr - 1; // clear the lowest set bit = highest priority in service
    else if ((v & 0xf8) === 0x60) this.isr &= ~(1 << (v & 7));
    else if (v === 0x0a) this.readIsr = false;
    else if (v === 0x0b) this.readIsr = true;
  }

  saveState(): unknown {
    return { irr: this.irr, isr: this.isr, mask: this.mask, readIsr: this.readIsr };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.irr = r.uint('irr', 0xffff);
    this.isr = r.uint('isr', 0xffff);
    this.mask = r.uint('mask', 0xffff);
    this.readIsr = r.bool('readIsr');
  }
}
