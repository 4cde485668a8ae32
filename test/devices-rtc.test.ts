// The CMOS RTC (src/emulator/devices/Rtc.ts) against the Motorola MC146818A datasheet: the time and
// calendar registers in BCD and binary, 12- and 24-hour modes, UIP 244 us before each update, setting the
// clock with SET, register C's flags (cleared by reading) and IRQ 8 for periodic, alarm and update-ended
// interrupts; the date is the documented epoch (2025-01-01 00:00:00, a Wednesday) plus guest time.

import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/emulator/devices/IoBus.js';
import type { DeviceContext } from '../src/emulator/devices/Device.js';
import { Rtc, RTC_EPOCH } from '../src/emulator/devices/Rtc.js';

/** 1 instruction = 1 us of guest time (tscHz 1 MHz, CPI 1). */
const US = 1;
const S = 1_000_000 * US;

class Rig {
  icount = 0;
  readonly irqs: string[] = [];
  readonly bus = new IoBus();
  readonly rtc: Rtc;

  constructor() {
    const ctx: DeviceContext = {
      now: () => this.icount, cyclesPerInstruction: 1, tscHz: 1_000_000,
      raiseIrq: (irq) => this.irqs.push(`+${irq}@${this.icount}`), lowerIrq: (irq) => this.irqs.push(`-${irq}@${this.icount}`),
      dmaWrite: () => {}, dmaRead: (_p, n) => new Uint8Array(n),
    };
    this.rtc = new Rtc(ctx);
    this.bus.register(this.rtc);
  }

  read(reg: number): number { this.bus.out(0x70, 1, reg); return this.bus.in(0x71, 1); }
  write(reg: number, v: number): void { this.bus.out(0x70, 1, reg); this.bus.out(0x71, 1, v); }
  runTo(icount: number): void {
    while (this.rtc.nextEventAt() <= icount) {
      this.icount = this.rtc.nextEventAt();
      this.rtc.advanceTo(this.icount);
    }
    this.icount = icount;
  }
  /** sec, min, hour, day of week, day of month, month, year, century. */
  time(): number[] { return [0, 2, 4, 6, 7, 8, 9, 0x32].map((r) => this.read(r)); }
}

describe('MC146818A RTC', () => {
  it('starts at the epoch, BCD and 24-hour; registers A-D read their documented reset values', () => {
    const r = new Rig();
    expect(new Date(RTC_EPOCH * 1000).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(r.time()).toEqual([0x00, 0x00, 0x00, 4, 0x01, 0x01, 0x25, 0x20]); // Wednesday = 4 (Sunday = 1)
    expect(r.read(0x0a)).toBe(0x26);
    expect(r.read(0x0b)).toBe(0x02);
    expect(r.read(0x0d)).toBe(0x80); // VRT
    expect(r.bus.in(0x70, 1)).toBe(0xff); // the index register is write-only
  });

  it('counts guest time: BCD, binary (DM) and 12-hour (PM in bit 7) formats of the same instant', () => {
    const r = new Rig();
    r.icount = 13 * 3600 * S + 59 * 60 * S + 7 * S + 500_000;
    expect(r.time().slice(0, 3)).toEqual([0x07, 0x59, 0x13]);
    r.write(0x0b, 0x06); // binary, 24 h
    expect(r.time().slice(0, 3)).toEqual([7, 59, 13]);
    r.write(0x0b, 0x04); // binary, 12 h
    expect(r.read(4)).toBe(0x80 | 1);
    r.write(0x0b, 0x00); // BCD, 12 h
    expect(r.read(4)).toBe(0x81);
    r.icount = 12 * 3600 * S; // noon is 12 PM, midnight 12 AM
    expect(r.read(4)).toBe(0x92);
    r.icount = 0;
    expect(r.read(4)).toBe(0x12);
    r.icount = 40 * 24 * 3600 * S; // 40 days later: 2025-02-10, a Monday
    r.write(0x0b, 0x02);
    expect(r.time()).toEqual([0, 0, 0, 2, 0x10, 0x02, 0x25, 0x20]);
  });

  it('UIP is set for the 244 us before each update and clear otherwise', () => {
    const r = new Rig();
    const uip = (t: number): number => { r.icount = t; return r.read(0x0a) >> 7; };
    expect(uip(0)).toBe(0);
    expect(uip(S - 250)).toBe(0);
    expect(uip(S - 240)).toBe(1);
    expect(uip(S - 1)).toBe(1);
    expect(uip(S)).toBe(0);
    expect(r.read(0)).toBe(1);
    // Linux's mc146818_get_time: wait for UIP to clear, then read; the seconds are the new ones.
    r.icount = 5 * S - 100;
    while (r.read(0x0a) & 0x80) r.icount += 10;
    expect(r.read(0)).toBe(0x05);
  });

  it('SET stops updates while the guest writes the time; clearing it starts the clock there (rolls into 2100)', () => {
    const r = new Rig();
    r.icount = 3 * S;
    r.write(0x0b, 0x82); // SET
    expect(r.read(0x0a) & 0x80).toBe(0);
    for (const [reg, v] of [[0, 0x58], [2, 0x59], [4, 0x23], [7, 0x31], [8, 0x12], [9, 0x99], [0x32, 0x20]]) r.write(reg, v);
    r.icount = 10 * S; // time does not move while SET is 1
    expect(r.read(0)).toBe(0x58);
    r.write(0x0b, 0x02);
    r.icount = 12 * S;
    expect(r.time()).toEqual([0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21]); // 2100-01-01 is a Friday
    r.icount = 11 * S - 1;
    expect(r.read(0)).toBe(0x58); // the written time holds for one second from clearing SET
    r.icount = 11 * S;
    expect(r.read(0)).toBe(0x59);
  });

  it('periodic interrupt: RS sets the rate; PF and IRQF in C, cleared by reading C, which also lowers IRQ 8', () => {
    const r = new Rig();
    r.write(0x0a, 0x2f); // 2 Hz
    r.write(0x0b, 0x42); // PIE
    r.runTo(1_400_000);
    expect(r.irqs).toEqual(['+8@500000']); // the line stays asserted until C is read
    expect(r.read(0x0c)).toBe(0xd0); // IRQF, PF, and UF: an update happened at 1 s (UIE or not)
    expect(r.irqs.at(-1)).toBe('-8@1400000');
    expect(r.read(0x0c)).toBe(0x00);
    r.runTo(2_100_000);
    expect(r.irqs.slice(2)).toEqual(['+8@1500000']);
    // 1024 Hz (RS = 6, what Linux's rtc-cmos probe selects): 976.5625 us periods.
    const f = new Rig();
    f.write(0x0b, 0x42);
    for (let k = 1; k <= 3; k++) {
      f.runTo(Math.ceil(k * 976.5625) + 1);
      expect(f.irqs.at(-1)).toBe(`+8@${Math.ceil(k * 976.5625)}`);
      f.read(0x0c);
    }
  });

  it('flags are set whatever the enables: PF and UF appear in C without an interrupt', () => {
    const r = new Rig();
    r.write(0x0a, 0x20); // no periodic rate
    r.icount = 2 * S + 1;
    expect(r.read(0x0c)).toBe(0x10); // UF, no IRQF
    r.write(0x0a, 0x26);
    r.icount += 2000;
    expect(r.read(0x0c)).toBe(0x40);
    expect(r.irqs).toEqual([]);
  });

  it('update-ended and alarm interrupts; 0xc0-0xff in an alarm byte matches any value', () => {
    const r = new Rig();
    r.write(0x0a, 0x20); // no periodic flags
    r.write(0x0b, 0x12); // UIE
    r.runTo(2 * S + 10);
    expect(r.irqs).toEqual(['+8@1000000']);
    expect(r.read(0x0c)).toBe(0x90);
    r.runTo(3 * S); // the 2 s update was reported by that read; the next one raises IRQ 8 again
    expect(r.irqs.at(-1)).toBe('+8@3000000');
    r.read(0x0c);
    // Alarm at hh:mm:05 of any hour and minute.
    r.write(0x0b, 0x22); // AIE only
    r.write(1, 0x05); r.write(3, 0xc0); r.write(5, 0xff);
    r.irqs.length = 0;
    r.runTo(70 * S);
    expect(r.irqs).toEqual(['+8@5000000']);
    expect(r.read(0x0c)).toBe(0xb0); // IRQF, AF and UF
    r.irqs.length = 0;
    r.runTo(130 * S); // 00:01:05 was reported by the read at 70 s (AF stays until read); next: 00:02:05
    expect(r.irqs).toEqual(['+8@125000000']);
  });

  it('the NMI-disable bit of port 0x70 is kept apart from the index; RAM bytes hold what is written', () => {
    const r = new Rig();
    r.bus.out(0x70, 1, 0x80 | 0x0a);
    expect(r.bus.in(0x71, 1)).toBe(0x26);
    expect(r.rtc.nmiDisabled).toBe(true);
    r.write(0x40, 0x5a);
    expect(r.read(0x40)).toBe(0x5a);
    expect(r.read(0x0e)).toBe(0);
    r.write(0x0c, 0xff); // read-only
    r.write(0x0d, 0x00);
    expect(r.read(0x0d)).toBe(0x80);
  });

  it('save/load: a restored clock reads the same time and raises the same interrupts', () => {
    const a = new Rig();
    a.write(0x0a, 0x2c); a.write(0x0b, 0x52); a.write(0x20, 7);
    a.runTo(1_234_567);
    const b = new Rig();
    b.rtc.loadState(structuredClone(a.rtc.saveState())); // loaded before the clock reaches the checkpoint
    b.icount = a.icount;
    expect(b.time()).toEqual(a.time());
    a.irqs.length = 0;
    a.runTo(3 * S);
    b.runTo(3 * S);
    expect(b.irqs).toEqual(a.irqs);
    expect(b.read(0x0c)).toBe(a.read(0x0c));
  });
});
