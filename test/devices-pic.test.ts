// The 8259A pair (src/emulator/devices/Pic.ts) against the Intel 8259A datasheet: the programming
// sequences it documents (ICW1-ICW4, OCW1-OCW3), with the reads and INTA vectors the datasheet says they
// give, and the sequences Linux 6.1 (arch/x86/kernel/i8259.c) and our guest (guest/kernel/arch.c) run.

import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/emulator/devices/IoBus.js';
import { Pic } from '../src/emulator/devices/Pic.js';

function setup(): { bus: IoBus; pic: Pic; out: (p: number, v: number) => void; inb: (p: number) => number } {
  const bus = new IoBus();
  const pic = new Pic();
  bus.register(pic);
  return { bus, pic, out: (p, v) => bus.out(p, 1, v), inb: (p) => bus.in(p, 1) };
}

/** Linux's init_8259A(0) (arch/x86/kernel/i8259.c): vectors 0x30-0x3f, cascade on IR2, normal EOI. */
function linuxInit(out: (p: number, v: number) => void): void {
  out(0x21, 0xff); out(0xa1, 0xff);
  out(0x20, 0x11); out(0x21, 0x30); out(0x21, 1 << 2); out(0x21, 0x01);
  out(0xa0, 0x11); out(0xa1, 0x38); out(0xa1, 2); out(0xa1, 0x01);
}

describe('8259A pair', () => {
  it('ICW1 clears the IMR; ICW2 sets the vector base; OCW1 masks; reads give IMR at A0 = 1 and IRR at A0 = 0', () => {
    const { pic, out, inb } = setup();
    expect(inb(0x21)).toBe(0xff); // masked before initialisation
    pic.raiseIrq(3);
    out(0x20, 0x11);
    expect(inb(0x21)).toBe(0x00); // "the Interrupt Mask Register is cleared"
    expect(inb(0x20)).toBe(0x00); // "the edge sense circuit is reset": the old request is gone
    out(0x21, 0x48); // ICW2: T7-T3 = 0x48
    out(0x21, 0x04); // ICW3
    out(0x21, 0x01); // ICW4: 8086
    out(0x21, 0xf0); // OCW1
    expect(inb(0x21)).toBe(0xf0);
    pic.raiseIrq(3);
    pic.raiseIrq(5);
    expect(inb(0x20)).toBe(0x28); // IRR: both requests, masked or not
    expect(pic.pendingVector()).toBe(0x4b);
    expect(pic.acknowledge()).toBe(0x4b);
    expect(inb(0x20)).toBe(0x20);
  });

  it("Linux's probe and init: the mask written reads back, IRQ 0 is vector 0x30, a slave IRQ comes through IR2", () => {
    const { pic, out, inb } = setup();
    // probe_8259A: mask the slave, write ~(1 << 2) to the master, read it back.
    out(0xa1, 0xff);
    out(0x21, 0xfb);
    expect(inb(0x21)).toBe(0xfb);
    linuxInit(out);
    // Unmask 0, 2 (cascade) and 12 as Linux's enable_8259A_irq would.
    out(0x21, 0xfa);
    out(0xa1, 0xef);
    pic.raiseIrq(12);
    pic.raiseIrq(0);
    expect(pic.acknowledge()).toBe(0x30);
    expect(pic.pendingVector()).toBe(-1); // IRQ 0 in service blocks IR2 (fully nested)
    // mask_and_ack_8259A for IRQ 0: read and rewrite the mask, specific EOI 0x60.
    inb(0x21); out(0x21, 0xfa); out(0x20, 0x60);
    expect(pic.acknowledge()).toBe(0x3c);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x04); // master ISR: IR2
    out(0xa0, 0x0b);
    expect(inb(0xa0)).toBe(0x10); // slave ISR: IR4
    // mask_and_ack_8259A for IRQ 12: specific EOI to the slave, then the cascade's on the master.
    out(0xa0, 0x60 + 4); out(0x20, 0x60 + 2);
    expect(inb(0xa0)).toBe(0);
    expect(inb(0x20)).toBe(0);
  });

  it('fully nested priority across the cascade: 0, 1, 8-15, 3-7; higher levels interrupt lower ones in service', () => {
    const { pic, out } = setup();
    linuxInit(out);
    out(0x21, 0); out(0xa1, 0);
    for (const irq of [7, 3, 15, 8, 1]) pic.raiseIrq(irq);
    const order: number[] = [];
    for (let v = pic.acknowledge(); order.length < 5; v = pic.acknowledge()) {
      order.push(v - 0x30);
      // Each level in service blocks the ones below it (fully nested): end it before taking the next.
      if (v >= 0x38) out(0xa0, 0x20);
      out(0x20, 0x20);
    }
    expect(order).toEqual([1, 8, 15, 3, 7]);
    // Nesting: IRQ 5 in service, IRQ 1 interrupts it, IRQ 6 waits for both EOIs.
    pic.raiseIrq(5);
    expect(pic.acknowledge()).toBe(0x35);
    pic.raiseIrq(6);
    expect(pic.pendingVector()).toBe(-1);
    pic.raiseIrq(1);
    expect(pic.acknowledge()).toBe(0x31);
    out(0x20, 0x20); // non-specific EOI: the highest in service (1)
    expect(pic.pendingVector()).toBe(-1);
    out(0x20, 0x20); // then 5
    expect(pic.acknowledge()).toBe(0x36);
  });

  it('specific EOI (OCW2 0x60 + n) clears only IR n; a non-specific EOI the highest-priority one', () => {
    const { pic, out, inb } = setup();
    linuxInit(out);
    out(0x21, 0);
    pic.raiseIrq(4);
    expect(pic.acknowledge()).toBe(0x34);
    pic.raiseIrq(3); // IRQ 3 interrupts 4
    expect(pic.acknowledge()).toBe(0x33);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x18);
    out(0x20, 0x64); // specific EOI of 4 while 3 is still in service
    expect(inb(0x20)).toBe(0x08);
    out(0x20, 0x20);
    expect(inb(0x20)).toBe(0x00);
  });

  it('an INTA with nothing pending answers the IR7 vector and sets no ISR bit (spurious IRQ 7)', () => {
    const { pic, out, inb } = setup();
    linuxInit(out);
    out(0x21, 0);
    pic.raiseIrq(5);
    pic.lowerIrq(5); // the request went away before INTA (datasheet: "default IR7")
    expect(pic.pendingVector()).toBe(-1);
    expect(pic.acknowledge()).toBe(0x37);
    // Linux's i8259A_irq_real(7): OCW3 read ISR, bit 7 clear means spurious.
    out(0x20, 0x0b);
    expect(inb(0x20) & 0x80).toBe(0);
    out(0x20, 0x0a);
  });

  it('poll command (OCW3 0x0c): the next read is the INTA, 0x80 | level, or 0 with no request', () => {
    const { pic, out, inb } = setup();
    linuxInit(out);
    out(0x21, 0); out(0xa1, 0);
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0);
    pic.raiseIrq(6);
    out(0x20, 0x0c);
    expect(inb(0x21)).toBe(0x86); // "the 8259A treats the next RD pulse as an interrupt acknowledge"
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x40);
    out(0x20, 0x20);
    // A slave request: the master's poll reports IR2, the slave's its level.
    pic.raiseIrq(9);
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x82);
    out(0xa0, 0x0c);
    expect(inb(0xa0)).toBe(0x81);
    out(0xa0, 0x20); out(0x20, 0x20);
    expect(pic.pendingVector()).toBe(-1);
  });

  it('rotation: set priority (OCW2 0xc0 + n) makes n lowest; rotate on non-specific EOI (0xa0)', () => {
    const { pic, out } = setup();
    linuxInit(out);
    out(0x21, 0);
    out(0x20, 0xc3); // IR3 lowest, IR4 highest
    pic.raiseIrq(1);
    pic.raiseIrq(5);
    expect(pic.acknowledge()).toBe(0x35);
    out(0x20, 0xa0); // rotate on EOI: IR5 becomes lowest, IR6 highest
    pic.raiseIrq(5);
    expect(pic.acknowledge()).toBe(0x31);
    out(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x35);
  });

  it('automatic EOI (ICW4 AEOI): no ISR bit is left after INTA', () => {
    const { pic, out, inb } = setup();
    out(0x20, 0x11); out(0x21, 0x20); out(0x21, 4); out(0x21, 0x03);
    out(0x21, 0);
    pic.raiseIrq(3);
    pic.raiseIrq(6);
    expect(pic.acknowledge()).toBe(0x23);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0);
    expect(pic.acknowledge()).toBe(0x26); // not blocked by 3
  });

  it('special mask mode (OCW3 0x68): masking the level in service lets lower levels through', () => {
    const { pic, out } = setup();
    linuxInit(out);
    out(0x21, 0);
    pic.raiseIrq(3);
    expect(pic.acknowledge()).toBe(0x33);
    pic.raiseIrq(5);
    expect(pic.pendingVector()).toBe(-1);
    out(0x21, 0x08);
    expect(pic.pendingVector()).toBe(-1); // masking alone does not
    out(0x20, 0x68);
    expect(pic.acknowledge()).toBe(0x35);
    out(0x20, 0x48); // reset special mask
    out(0x20, 0x65); out(0x20, 0x63);
  });

  it('ELCR (PIIX 0x4d0/0x4d1): level-triggered inputs stay requested while high; IRQ 0, 1, 2, 8, 13 are always edge', () => {
    const { pic, out, inb, bus } = setup();
    linuxInit(out);
    out(0x21, 0); out(0xa1, 0);
    out(0x4d0, 0xff); out(0x4d1, 0xff);
    expect(inb(0x4d0)).toBe(0xf8);
    expect(inb(0x4d1)).toBe(0xde);
    expect(bus.in(0x4d0, 2)).toBe(0xdef8);
    out(0x4d1, 0x04); // IRQ 10 level
    out(0x4d0, 0);
    pic.raiseIrq(10);
    expect(pic.acknowledge()).toBe(0x3a);
    out(0xa0, 0x20); out(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x3a); // still high: requested again
    out(0xa0, 0x20); out(0x20, 0x20);
    pic.lowerIrq(10);
    expect(pic.pendingVector()).toBe(-1);
    // Edge: a second raise before INTA is the same request; after INTA only a new edge requests again.
    pic.raiseIrq(4);
    pic.raiseIrq(4);
    expect(pic.acknowledge()).toBe(0x34);
    out(0x20, 0x20);
    expect(pic.pendingVector()).toBe(-1);
  });

  it("our guest's sequence (guest/kernel/arch.c): vectors 0x20 + irq, EOI to the slave then the master", () => {
    const { pic, out, inb } = setup();
    for (const [p, v] of [[0x20, 0x11], [0xa0, 0x11], [0x21, 0x20], [0xa1, 0x28], [0x21, 0x04], [0xa1, 0x02], [0x21, 0x01],
      [0xa1, 0x01], [0x21, 0xff], [0xa1, 0xff]]) out(p, v);
    out(0x21, 0xfa); out(0xa1, 0xb7); // unmask 0, 2, 11, 14
    expect([inb(0x21), inb(0xa1)]).toEqual([0xfa, 0xb7]);
    pic.raiseIrq(14);
    pic.raiseIrq(11);
    pic.raiseIrq(0);
    expect([pic.acknowledge(), pic.pendingVector()]).toEqual([0x20, -1]);
    out(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x2b);
    out(0xa0, 0x20); out(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x2e);
    out(0xa0, 0x20); out(0x20, 0x20);
    expect(pic.pendingVector()).toBe(-1);
    expect([pic.master.isr, pic.slave.isr]).toEqual([0, 0]);
  });

  it('matches a bit-by-bit model of fully nested priority (both chips, cascade, EOIs) on random sequences', () => {
    let s = 7;
    const next = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    const { pic, out } = setup();
    linuxInit(out);
    let irr = 0, isr = 0, mask = 0;
    out(0x21, 0); out(0xa1, 0);
    // Reference: priority order 0, 1, 8..15, 3..7; an in-service level blocks itself and everything below;
    // the slave's levels are blocked as a whole by the cascade (IR2) while one of them is in service.
    const order = [0, 1, 8, 9, 10, 11, 12, 13, 14, 15, 3, 4, 5, 6, 7];
    const model = (): number => {
      for (const i of order) {
        if (isr & (1 << i)) return -1;
        if (i >= 8 && (isr & 0xff00) !== 0) return -1;
        if (irr & ~mask & (1 << i)) {
          if (i >= 8 && (mask & 4) !== 0) continue;
          return 0x30 + i;
        }
      }
      return -1;
    };
    for (let step = 0; step < 4000; step++) {
      const r = next();
      const irq = [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15][(r >>> 8) % 15];
      switch (r % 6) {
        case 0: case 1: pic.raiseIrq(irq); irr |= 1 << irq; break;
        case 2: pic.lowerIrq(irq); irr &= ~(1 << irq); break;
        case 3: mask = (r >>> 16) & 0xffff & ~0x0004 | ((r >>> 20) % 9 === 0 ? 4 : 0); out(0x21, mask & 0xff); out(0xa1, mask >> 8); break;
        case 4: {
          const v = model();
          expect(pic.acknowledge()).toBe(v < 0 ? 0x37 : v);
          if (v >= 0) { irr &= ~(1 << (v - 0x30)); isr |= 1 << (v - 0x30); }
          break;
        }
        case 5: { // EOI of the highest-priority level in service, the way Linux's handler ends it
          const top = order.find((i) => isr & (1 << i));
          if (top === undefined) break;
          if (top >= 8) out(0xa0, 0x20);
          out(0x20, 0x20);
          isr &= ~(1 << top);
          break;
        }
      }
      expect(pic.pendingVector()).toBe(model());
      expect([pic.master.isr & 0xfb, pic.slave.isr, (pic.master.isr & 4) !== 0]).toEqual([isr & 0xfb, isr >> 8, (isr >> 8) !== 0]);
    }
  });

  it('save/load keeps the whole state of both chips', () => {
    const { pic, out } = setup();
    linuxInit(out);
    out(0x21, 0x12); out(0x20, 0xc5); out(0x4d1, 0x08); out(0x20, 0x0b);
    pic.raiseIrq(11);
    pic.acknowledge();
    const copy = new Pic();
    copy.loadState(structuredClone(pic.saveState()));
    expect(copy.saveState()).toEqual(pic.saveState());
    pic.raiseIrq(3); copy.raiseIrq(3);
    expect(copy.pendingVector()).toBe(pic.pendingVector());
  });
});
