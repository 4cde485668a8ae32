// The PC's interrupt controller: two Intel 8259A PICs, master at 0x20-0x21 and slave at 0xa0-0xa1 cascaded
// on the master's IR2, plus the PIIX edge/level control registers (ELCR) at 0x4d0-0x4d1 (docs/machine.md).
// Sources: Intel 8259A Programmable Interrupt Controller datasheet (order 231468, "Programming the 8259A":
// ICW1-ICW4, OCW1-OCW3, "Interrupt sequence", "Edge and level triggered modes", "The cascade buffer/
// comparator", "Poll command"); Intel 82371AB PIIX4 datasheet 3.6.9 (ELCR1/ELCR2, bits 0-2 of ELCR1 and
// 0 and 5 of ELCR2 reserved 0: IRQ 0, 1, 2, 8 and 13 are always edge triggered). QEMU's hw/intc/i8259.c
// implements the same chip; where the datasheet leaves a choice this file says which one it makes.
//
// What a chip does (datasheet "Interrupt sequence"): a request on IRn sets IRR bit n; the chip raises INT
// when an unmasked IRR bit has higher priority than every ISR bit (fully nested mode); the CPU's INTA
// moves the best IRR bit to ISR (or, in automatic-EOI mode, only rotates) and the chip drives vector
// ICW2 + n. An EOI (OCW2) clears an ISR bit. The machine samples INT and runs INTA in one step
// (pendingVector, then acknowledge), so the spurious IRQ 7 (15 on the slave) that a real chip answers when
// its request went away between INT and INTA can only follow an acknowledge with nothing pending.
//
// Edge-triggered requests (datasheet "Edge and level triggered modes"): a device's raiseIrq is a low-to-
// high transition and sets IRR; lowerIrq drops the line, and a request not yet acknowledged is withdrawn
// ("the IR input must remain high until after the falling edge of the first INTA"; because INT and INTA
// are one step here, the request simply disappears instead of becoming a default IR7). Level-triggered
// (ELCR bit set): IRR follows the line and stays set after INTA while the line is high.
//
// Cascade: the slave's INT output drives the master's IR2 as a level (IRR bit 2 of the master reads as
// that output); on an INTA of IR2 the slave supplies the vector (datasheet "Cascade mode").
//
// Before the ICW sequence a real 8259A's state is undefined; this one starts with every line masked and a
// vector base of 0, so nothing is delivered until the guest initialises it.

import { DeviceStateError, StateReader, type AccessSize, type Device, type PortRange } from './Device.js';

/** One 8259A. */
export class I8259 {
  irr = 0;
  isr = 0;
  imr = 0xff;
  /** Request line levels (for level-triggered inputs). */
  lines = 0;
  /** ICW2: vector base (bits 7-3). */
  vectorBase = 0;
  /** Lowest-priority IR + 1 (mod 8): the IR with highest priority (OCW2 rotation; 0 = IR0 highest). */
  priorityAdd = 0;
  /** OCW3 RR/RIS: port A0=0 reads ISR (true) or IRR (false). */
  readIsr = false;
  /** OCW3 P: the next read is a poll. */
  poll = false;
  /** OCW3 ESMM/SMM: special mask mode. */
  specialMask = false;
  /** 0: operational; 1-3: waiting for ICW2, ICW3, ICW4. */
  initState = 0;
  /** ICW1 IC4: ICW4 follows. */
  icw4 = false;
  /** ICW1 SNGL: no ICW3. */
  single = false;
  /** ICW4 AEOI. */
  autoEoi = false;
  /** OCW2 rotate in automatic-EOI mode. */
  rotateOnAutoEoi = false;
  /** ICW4 SFNM (special fully nested mode: on the master, a slave request is taken while IR2 is in service). */
  specialFullyNested = false;
  /** ICW4 µPM (8086 mode); 8080/85 mode is accepted but the vector is still ICW2 + n. */
  mode8086 = false;
  /** ELCR: bit n set = IR n level triggered. */
  elcr = 0;

  constructor(readonly isMaster: boolean, readonly elcrMask: number) {}

  /** Highest priority (0 best, 8 none) among the bits of mask, counting from priorityAdd. */
  private priorityOf(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** The IR this chip would signal on INT given `irr` (its IRR, with the cascade input folded in), or -1. */
  bestIrq(irr: number): number {
    const p = this.priorityOf(irr & ~this.imr & 0xff);
    if (p === 8) return -1;
    // Fully nested: in-service levels block equal and lower priorities. Special mask mode: only unmasked
    // in-service levels count (datasheet OCW3 "Special mask mode"). SFNM: the master's IR2 does not block
    // further slave requests.
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    if (this.specialFullyNested && this.isMaster) inService &= ~4;
    return p < this.priorityOf(inService & 0xff) ? (p + this.priorityAdd) & 7 : -1;
  }

  /** INTA for `irq` (datasheet "Interrupt sequence": ISR set, IRR cleared for an edge-triggered input). */
  intack(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if ((this.elcr & bit) === 0) this.irr &= ~bit;
  }

  setLine(irq: number, high: boolean): void {
    const bit = 1 << irq;
    if (high) {
      this.lines |= bit;
      this.irr |= bit;
    } else {
      this.lines &= ~bit;
      this.irr &= ~bit;
    }
  }

  /** ICW1 (datasheet "Initialization command words": IMR cleared, IR7 lowest priority, SMM off, IRR read). */
  private initReset(): void {
    // "The edge sense circuit is reset": requests must make a new transition (level inputs still high stay).
    this.irr = this.lines & this.elcr;
    this.isr = 0;
    this.imr = 0;
    this.priorityAdd = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.mode8086 = false;
  }

  /** A write to the chip's A0 = 0 (`a0` false) or A0 = 1 port. */
  write(a0: boolean, v: number): void {
    if (!a0) {
      if ((v & 0x10) !== 0) {
        // ICW1: bit 0 IC4, bit 1 SNGL, bit 3 LTIM (level-triggered all inputs; the PIIX ignores it and
        // uses the ELCR instead, as this machine does).
        this.initReset();
        this.initState = 1;
        this.icw4 = (v & 1) !== 0;
        this.single = (v & 2) !== 0;
      } else if ((v & 0x08) !== 0) {
        // OCW3: bit 2 P (poll), bits 1-0 RR/RIS, bits 6-5 ESMM/SMM.
        if ((v & 0x04) !== 0) this.poll = true;
        if ((v & 0x02) !== 0) this.readIsr = (v & 1) !== 0;
        if ((v & 0x40) !== 0) this.specialMask = (v & 0x20) !== 0;
      } else {
        this.ocw2(v);
      }
      return;
    }
    switch (this.initState) {
      case 0: this.imr = v; break; // OCW1
      case 1: // ICW2: T7-T3 (8086 mode)
        this.vectorBase = v & 0xf8;
        this.initState = this.single ? (this.icw4 ? 3 : 0) : 2;
        break;
      case 2: // ICW3: slave bits (master) or slave id (slave); the PC wiring is fixed at IR2
        this.initState = this.icw4 ? 3 : 0;
        break;
      case 3: // ICW4: bit 0 µPM, bit 1 AEOI, bit 4 SFNM (bits 2-3 buffered mode: no effect here)
        this.mode8086 = (v & 1) !== 0;
        this.autoEoi = (v & 2) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initState = 0;
        break;
    }
  }

  /** OCW2: R SL EOI bits 7-5, L2-L0 bits 2-0 (datasheet table "Operation command word 2"). */
  private ocw2(v: number): void {
    const cmd = v >> 5;
    switch (cmd) {
      case 0: this.rotateOnAutoEoi = false; break;  // clear rotate in AEOI mode
      case 4: this.rotateOnAutoEoi = true; break;   // set rotate in AEOI mode
      case 1: case 5: { // non-specific EOI (5: and rotate)
        const p = this.priorityOf(this.isr);
        if (p === 8) break;
        const irq = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << irq);
        if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
        break;
      }
      case 3: this.isr &= ~(1 << (v & 7)); break;  // specific EOI
      case 7: this.isr &= ~(1 << (v & 7)); this.priorityAdd = ((v & 7) + 1) & 7; break; // rotate on specific EOI
      case 6: this.priorityAdd = ((v & 7) + 1) & 7; break; // set priority: L2-L0 becomes the lowest
      default: break; // 2: no operation
    }
  }

  /** A read of A0 = 0 (IRR or ISR) or A0 = 1 (IMR); a poll is handled by the pair. */
  read(a0: boolean, irr: number): number {
    if (a0) return this.imr;
    return this.readIsr ? this.isr : irr;
  }

  save(): Record<string, number | boolean> {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, lines: this.lines, vectorBase: this.vectorBase, priorityAdd: this.priorityAdd,
      readIsr: this.readIsr, poll: this.poll, specialMask: this.specialMask, initState: this.initState, icw4: this.icw4,
      single: this.single, autoEoi: this.autoEoi, rotateOnAutoEoi: this.rotateOnAutoEoi,
      specialFullyNested: this.specialFullyNested, mode8086: this.mode8086, elcr: this.elcr,
    };
  }

  load(r: StateReader, prefix: string): void {
    const u8 = (k: string): number => r.uint(prefix + k, 0xff);
    const b = (k: string): boolean => r.bool(prefix + k);
    this.irr = u8('irr');
    this.isr = u8('isr');
    this.imr = u8('imr');
    this.lines = u8('lines');
    this.vectorBase = u8('vectorBase');
    this.priorityAdd = r.uint(prefix + 'priorityAdd', 7);
    this.readIsr = b('readIsr');
    this.poll = b('poll');
    this.specialMask = b('specialMask');
    this.initState = r.uint(prefix + 'initState', 3);
    this.icw4 = b('icw4');
    this.single = b('single');
    this.autoEoi = b('autoEoi');
    this.rotateOnAutoEoi = b('rotateOnAutoEoi');
    this.specialFullyNested = b('specialFullyNested');
    this.mode8086 = b('mode8086');
    this.elcr = u8('elcr');
    if ((this.elcr & ~this.elcrMask) !== 0) throw new DeviceStateError(r.device, `${prefix}elcr sets reserved bits`);
  }
}

/** IR of the master the slave's INT output drives (PC/AT wiring). */
export const PIC_CASCADE_IRQ = 2;

/** The master/slave pair with the PIIX ELCR: the machine's interrupt controller. */
export class Pic implements Device {
  readonly name = 'pic';
  readonly ports: readonly PortRange[] = [[0x20, 0x21], [0xa0, 0xa1], [0x4d0, 0x4d1]];
  readonly master = new I8259(true, 0xf8);
  readonly slave = new I8259(false, 0xde);

  /** A device's request line went high (an edge): IRQ 0-15 (8-15 on the slave). */
  raiseIrq(irq: number): void {
    irq &= 15;
    if (irq < 8) this.master.setLine(irq, true);
    else this.slave.setLine(irq - 8, true);
  }

  /** The line went low: an edge-triggered request not yet acknowledged is withdrawn, a level one drops. */
  lowerIrq(irq: number): void {
    irq &= 15;
    if (irq < 8) this.master.setLine(irq, false);
    else this.slave.setLine(irq - 8, false);
  }

  /** The master's IRR as it sees it: IR2 is the slave's INT output. */
  private masterIrr(): number {
    return this.slave.bestIrq(this.slave.irr) >= 0 ? this.master.irr | (1 << PIC_CASCADE_IRQ) : this.master.irr;
  }

  /** The IRQ (0-15) the next INTA would deliver, or -1 if INT is low. */
  pendingIrq(): number {
    const m = this.master.bestIrq(this.masterIrr());
    if (m !== PIC_CASCADE_IRQ) return m;
    const s = this.slave.bestIrq(this.slave.irr);
    return s < 0 ? m : 8 + s;
  }

  /** The vector the next INTA would return, or -1 if INT is low. */
  pendingVector(): number {
    const m = this.master.bestIrq(this.masterIrr());
    if (m < 0) return -1;
    if (m !== PIC_CASCADE_IRQ) return (this.master.vectorBase + m) & 0xff;
    const s = this.slave.bestIrq(this.slave.irr);
    return (this.slave.vectorBase + (s < 0 ? 7 : s)) & 0xff;
  }

  /**
   * INTA: the vector of the highest-priority request, now in service. With no request the master answers
   * its IR7 vector without setting ISR (datasheet: the default IR7, "spurious"); a cascade with no slave
   * request answers the slave's IR7 (IRQ 15), the master's IR2 in service.
   */
  acknowledge(): number {
    const m = this.master.bestIrq(this.masterIrr());
    if (m < 0) return (this.master.vectorBase + 7) & 0xff;
    let vector: number;
    if (m === PIC_CASCADE_IRQ) {
      const s = this.slave.bestIrq(this.slave.irr);
      if (s >= 0) {
        this.slave.intack(s);
        vector = this.slave.vectorBase + s;
      } else {
        vector = this.slave.vectorBase + 7;
      }
    } else {
      vector = this.master.vectorBase + m;
    }
    this.master.intack(m);
    return vector & 0xff;
  }

  /** Poll command (datasheet "Poll command"): the read is the INTA; bit 7 set if a request, bits 2-0 its IR. */
  private pollRead(chip: I8259): number {
    chip.poll = false;
    if (chip === this.master) {
      const m = this.master.bestIrq(this.masterIrr());
      if (m < 0) return 0;
      // A cascade request is reported as IR2; software then polls the slave (datasheet "Poll command").
      this.master.intack(m);
      return 0x80 | m;
    }
    const s = this.slave.bestIrq(this.slave.irr);
    if (s < 0) return 0;
    this.slave.intack(s);
    return 0x80 | s;
  }

  in(port: number, size: AccessSize): number {
    let v = this.readByte(port);
    // Wider accesses read successive ports (ISA byte lanes): a 16-bit read of 0x20 gives 0x21 in bits 15-8.
    for (let i = 1; i < size; i++) v |= this.readByte(port + i) << (8 * i);
    return v >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte(port + i, (value >>> (8 * i)) & 0xff);
  }

  private chipAt(port: number): I8259 | null {
    if (port === 0x20 || port === 0x21 || port === 0x4d0) return this.master;
    if (port === 0xa0 || port === 0xa1 || port === 0x4d1) return this.slave;
    return null;
  }

  private readByte(port: number): number {
    const chip = this.chipAt(port);
    if (chip === null) return 0xff;
    if (port >= 0x4d0) return chip.elcr;
    if (chip.poll) return this.pollRead(chip);
    return chip.read((port & 1) === 1, chip === this.master ? this.masterIrr() : this.slave.irr);
  }

  private writeByte(port: number, v: number): void {
    const chip = this.chipAt(port);
    if (chip === null) return;
    if (port >= 0x4d0) {
      chip.elcr = v & chip.elcrMask;
      return;
    }
    chip.write((port & 1) === 1, v);
  }

  saveState(): unknown {
    const s: Record<string, number | boolean> = {};
    for (const [k, v] of Object.entries(this.master.save())) s[`m.${k}`] = v;
    for (const [k, v] of Object.entries(this.slave.save())) s[`s.${k}`] = v;
    return s;
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.master.load(r, 'm.');
    this.slave.load(r, 's.');
  }
}
