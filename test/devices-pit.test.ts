// The 8254 (src/emulator/devices/Pit.ts) against the Intel 82C54 datasheet: each mode's count sequence and
// OUT waveform, the counter latch and read-back commands, the access modes, BCD, the gate of channel 2 and
// its output through port 0x61; IRQ 0 at the instruction count of each rising OUT edge; the sequences Linux
// 6.1 runs (drivers/clocksource/i8253.c one-shot and periodic, arch/x86/kernel/tsc.c calibration).
// Most tests run one instruction per PIT clock (tscHz = 1193182, CPI 1), so clock edge k is instruction k and
// the datasheet's "N + 1 CLK pulses after the count is written" is N + 1 instructions after the OUT.

import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/emulator/devices/IoBus.js';
import type { DeviceContext } from '../src/emulator/devices/Device.js';
import { Pit, PIT_HZ } from '../src/emulator/devices/Pit.js';
import { SystemControlPort } from '../src/emulator/devices/SystemControlPort.js';
import { GuestClock } from '../src/emulator/devices/GuestClock.js';

class Rig {
  icount = 0;
  readonly irqs: number[] = [];
  readonly bus = new IoBus();
  readonly pit: Pit;

  constructor(tscHz = PIT_HZ, cpi = 1) {
    const ctx: DeviceContext = {
      now: () => this.icount, cyclesPerInstruction: cpi, tscHz,
      raiseIrq: (irq) => { expect(irq).toBe(0); this.irqs.push(this.icount); }, lowerIrq: () => {},
      dmaWrite: () => {}, dmaRead: (_p, n) => new Uint8Array(n),
    };
    this.pit = new Pit(ctx);
    this.bus.register(this.pit);
    this.bus.register(new SystemControlPort(this.pit));
  }

  out(port: number, v: number): void { this.bus.out(port, 1, v); }
  inb(port: number): number { return this.bus.in(port, 1); }

  /** Run the machine's event loop up to icount (advance to each deadline the PIT announces). */
  runTo(icount: number): void {
    while (this.pit.nextEventAt() <= icount) {
      this.icount = this.pit.nextEventAt();
      this.pit.advanceTo(this.icount);
    }
    this.icount = icount;
  }

  /** Counter latch, then LSB and MSB (a channel in word access). */
  latched(ch: number): number {
    this.out(0x43, ch << 6);
    return this.inb(0x40 + ch) | (this.inb(0x40 + ch) << 8);
  }

  /** OUT of a channel through the read-back status (bit 7). */
  outLevel(ch: number): number {
    this.out(0x43, 0xe0 | (2 << ch));
    return this.inb(0x40 + ch) >> 7;
  }
}

describe('8254 PIT', () => {
  it('mode 2 (rate generator): count N..1 from the clock after the write, OUT low at 1, IRQ 0 every N clocks', () => {
    const r = new Rig();
    r.icount = 1000;
    r.out(0x43, 0x34); // channel 0, LSB then MSB, mode 2, binary (what Linux's pit_set_periodic writes)
    r.out(0x40, 100);
    r.out(0x40, 0);
    // Loaded on the first clock after the write (1001), then one decrement per clock.
    const at = (i: number): number => { r.runTo(i); return r.latched(0); };
    expect(at(1001)).toBe(100);
    expect(at(1050)).toBe(51);
    expect(at(1100)).toBe(1);
    expect(r.outLevel(0)).toBe(0); // low while the count is 1
    expect(at(1101)).toBe(100); // reloaded
    expect(r.outLevel(0)).toBe(1);
    r.runTo(1501);
    expect(r.irqs).toEqual([1101, 1201, 1301, 1401, 1501]);
  });

  it('mode 2: a new count takes effect at the end of the current period', () => {
    const r = new Rig();
    r.out(0x43, 0x34); r.out(0x40, 50); r.out(0x40, 0); // L = 1
    r.runTo(30);
    r.out(0x40, 20); r.out(0x40, 0);
    expect(r.latched(0)).toBe(50 - 29);
    r.runTo(150);
    expect(r.irqs).toEqual([51, 71, 91, 111, 131]);
  });

  it('mode 0 (interrupt on terminal count): OUT low, high N clocks after the load and stays; the count wraps', () => {
    const r = new Rig();
    r.icount = 10;
    r.out(0x43, 0x30); // what Linux's pit_shutdown writes
    expect(r.outLevel(0)).toBe(0);
    r.out(0x40, 5); r.out(0x40, 0);
    r.runTo(15);
    expect(r.outLevel(0)).toBe(0);
    expect(r.latched(0)).toBe(1);
    r.runTo(16); // 5 + 1 clocks after the write: "OUT goes high N + 1 CLK pulses after the count is written"
    expect(r.outLevel(0)).toBe(1);
    expect(r.latched(0)).toBe(0);
    r.runTo(18);
    expect(r.latched(0)).toBe(0xfffe); // counting continues past zero
    expect(r.outLevel(0)).toBe(1);
    r.runTo(100_000);
    expect(r.irqs).toEqual([16]); // one interrupt only
  });

  it("mode 4 (software strobe, Linux's one-shot clockevent): IRQ 0 at the end of the strobe, N + 2 clocks after the write", () => {
    const r = new Rig();
    r.out(0x43, 0x38); // pit_set_oneshot
    expect(r.outLevel(0)).toBe(1);
    r.icount = 100;
    r.out(0x40, 10); r.out(0x40, 0); // pit_next_event(10)
    r.runTo(111);
    expect(r.outLevel(0)).toBe(0); // "OUT strobes low N + 1 CLK pulses after the initial count is written"
    r.runTo(112);
    expect(r.outLevel(0)).toBe(1);
    expect(r.irqs).toEqual([112]);
    // Reprogramming restarts it (about 600 times in a Linux boot).
    r.out(0x40, 3); r.out(0x40, 0);
    r.runTo(1000);
    expect(r.irqs).toEqual([112, 117]);
  });

  it('mode 3 (square wave): OUT high for ceil(N/2) clocks and low for floor(N/2); the count steps by 2', () => {
    const r = new Rig();
    r.out(0x43, 0x36); r.out(0x40, 10); r.out(0x40, 0);
    const levels: number[] = [];
    const counts: number[] = [];
    for (let i = 1; i <= 20; i++) { r.runTo(i); levels.push(r.outLevel(0)); counts.push(r.latched(0)); }
    expect(levels).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(counts.slice(0, 10)).toEqual([10, 8, 6, 4, 2, 10, 8, 6, 4, 2]);
    expect(r.irqs).toEqual([11]);
    const odd = new Rig();
    odd.out(0x43, 0x36); odd.out(0x40, 5); odd.out(0x40, 0);
    const l2: number[] = [];
    for (let i = 1; i <= 10; i++) { odd.runTo(i); l2.push(odd.outLevel(0)); }
    expect(l2).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0]); // odd N: (N + 1) / 2 high, (N - 1) / 2 low
  });

  it('counter latch: the count is held until read in full; a second latch before that is ignored', () => {
    const r = new Rig();
    r.out(0x43, 0x34); r.out(0x40, 0x34); r.out(0x40, 0x12); // 0x1234
    r.runTo(0x11);
    r.out(0x43, 0x00);
    r.runTo(0x100);
    r.out(0x43, 0x00); // ignored
    expect(r.inb(0x40)).toBe(0x34 - 0x10);
    r.runTo(0x200);
    expect(r.inb(0x40)).toBe(0x12);
    // Without a latch, LSB then MSB of the moving count.
    expect(r.inb(0x40) | (r.inb(0x40) << 8)).toBe(0x1234 - (0x200 - 1));
  });

  it('read-back: status (OUT, NULL COUNT, RW, mode, BCD) first, then the latched count; NULL COUNT until the load', () => {
    const r = new Rig();
    r.icount = 50;
    r.out(0x43, 0xb4); // channel 2, word, mode 2, binary
    r.out(0x43, 0xe8); // read-back status of channel 2 (bit 5 set: no count latch)
    expect(r.inb(0x42)).toBe(0x80 | 0x40 | 0x30 | 0x04); // OUT high, null count, RW 11, mode 2
    r.out(0x42, 0x10); r.out(0x42, 0x00);
    r.out(0x43, 0xc8); // status and count
    expect(r.inb(0x42)).toBe(0xc0 | 0x34); // written this clock: not loaded yet
    expect(r.inb(0x42) | (r.inb(0x42) << 8)).toBe(0x10);
    r.out(0x61, 0x01); // gate 2 high: modes 2/3 restart on the rising edge
    r.runTo(55);
    r.out(0x43, 0xc8);
    expect(r.inb(0x42)).toBe(0x80 | 0x34); // loaded
    expect(r.inb(0x42) | (r.inb(0x42) << 8)).toBe(0x10 - 4);
    // Several channels in one command; the control word register itself reads nothing.
    r.out(0x43, 0x34); r.out(0x40, 9); r.out(0x40, 0);
    r.out(0x43, 0xea); // status only (COUNT# set, STATUS# clear) of channels 0 and 2
    expect(r.inb(0x40) & 0x3f).toBe(0x34);
    expect(r.inb(0x42) & 0x3f).toBe(0x34);
  });

  it('LSB-only and MSB-only access, and BCD counting', () => {
    const r = new Rig();
    r.out(0x43, 0x14); // LSB only, mode 2
    r.out(0x40, 40);
    r.runTo(11);
    expect(r.inb(0x40)).toBe(30);
    expect(r.inb(0x40)).toBe(30); // LSB only: every read is the LSB
    r.out(0x43, 0x24); // MSB only
    r.out(0x40, 2); // count 0x200
    r.runTo(12 + 0x100);
    expect(r.inb(0x40)).toBe(1);
    r.out(0x43, 0x35); // word, mode 2, BCD
    r.out(0x40, 0x00); r.out(0x40, 0x10); // 1000 decimal
    r.runTo(r.icount + 1 + 1);
    r.out(0x43, 0x00);
    expect(r.inb(0x40) | (r.inb(0x40) << 8)).toBe(0x0999);
    r.out(0x43, 0x31); // mode 0 BCD, count 0 = 10000
    r.out(0x40, 0); r.out(0x40, 0);
    r.runTo(r.icount + 1);
    expect(r.latched(0)).toBe(0x0000); // 10000 wraps to 0000 in four BCD digits
    r.runTo(r.icount + 1);
    expect(r.latched(0)).toBe(0x9999);
  });

  it("channel 2 through port 0x61: Linux's pit_calibrate_tsc waits for OUT 2 (bit 5) after a mode-0 count", () => {
    const r = new Rig();
    expect(r.inb(0x61) & 0x21).toBe(0); // gate low, OUT low at reset
    r.icount = 500;
    r.out(0x61, (r.inb(0x61) & ~0x02) | 0x01); // gate high, speaker off
    r.out(0x43, 0xb0); // channel 2, word, mode 0
    const latch = 1193; // about 1 ms
    r.out(0x42, latch & 0xff);
    r.out(0x42, latch >> 8);
    const written = r.icount;
    let polls = 0;
    while ((r.inb(0x61) & 0x20) === 0) { r.icount += 7; polls++; }
    expect(r.icount - written).toBeGreaterThanOrEqual(latch + 1);
    expect(r.icount - written).toBeLessThan(latch + 1 + 7);
    expect(polls).toBeGreaterThan(100);
    expect(r.inb(0x61) & 0x0f).toBe(0x01);
    expect(r.irqs).toEqual([]); // channel 2 drives no interrupt
  });

  it('channel 2 gate: low holds a mode-0 count, high resumes it; mode 2 restarts on the rising edge', () => {
    const r = new Rig();
    r.out(0x61, 1);
    r.out(0x43, 0xb0); r.out(0x42, 100); r.out(0x42, 0);
    r.runTo(11);
    expect(r.latched(2)).toBe(90);
    r.out(0x61, 0);
    r.runTo(60);
    expect(r.latched(2)).toBe(90);
    r.out(0x61, 1);
    r.runTo(70);
    expect(r.latched(2)).toBe(80);
    r.out(0x43, 0xb4); r.out(0x42, 50); r.out(0x42, 0);
    r.runTo(80);
    r.out(0x61, 0);
    expect(r.outLevel(2)).toBe(1); // gate low forces OUT high in modes 2 and 3
    r.out(0x61, 1); // rising edge: reload on the next clock
    r.runTo(81);
    expect(r.latched(2)).toBe(50);
  });

  it('port 0x61 bit 4 toggles every 18 PIT clocks (15.085 us, the AT refresh request)', () => {
    const r = new Rig();
    const seen: number[] = [];
    for (let i = 0; i < 72; i += 9) { r.icount = i; seen.push((r.inb(0x61) >> 4) & 1); }
    expect(seen).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('at a real TSC (2.93 GHz, CPI 1) IRQ 0 falls at ceil(k x tscHz / 1193182) and never drifts', () => {
    const tsc = 2_930_000_000;
    const r = new Rig(tsc);
    r.out(0x43, 0x34); r.out(0x40, 119); r.out(0x40, 0); // our guest's 10 kHz
    r.runTo(2_000_000_000); // about 0.68 s of guest time
    const f = BigInt(PIT_HZ), q = BigInt(tsc);
    const expected = (k: number): number => Number((BigInt(1 + 119 * k) * q + f - 1n) / f);
    expect(r.irqs.length).toBe(Math.floor((Number((2_000_000_000n * f) / q) - 1) / 119));
    for (const k of [1, 2, 3, 1000, r.irqs.length]) expect(r.irqs[k - 1]).toBe(expected(k));
    expect(r.pit.ticks).toBe(r.irqs.length);
  });

  it('GuestClock agrees with exact rational arithmetic (BigInt) in both directions', () => {
    let s = 99;
    const next = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
    for (const [hz, cpi, tsc] of [[PIT_HZ, 1, 2_930_000_000], [32_768, 1, 2_000_000_000], [PIT_HZ, 3, 50_000_000], [PIT_HZ, 1, 3 * PIT_HZ + 1]] as const) {
      const c = new GuestClock(hz, cpi, tsc);
      for (let i = 0; i < 2000; i++) {
        const icount = (next() * 2 ** 18 + next()) % 2 ** 50;
        const want = (BigInt(icount) * BigInt(cpi) * BigInt(hz)) / BigInt(tsc);
        expect(c.ticksAt(icount)).toBe(Number(want));
        const k = Number(want);
        const first = c.icountOf(k);
        expect(c.ticksAt(first)).toBeGreaterThanOrEqual(k);
        if (first > 0) expect(c.ticksAt(first - 1)).toBeLessThan(k);
      }
    }
    expect(() => new GuestClock(PIT_HZ, 1.5, 1e9)).toThrow(/positive integer/);
  });

  it('save/load mid-period: the restored timer fires at the same instructions', () => {
    const a = new Rig(2_930_000_000);
    a.out(0x43, 0x34); a.out(0x40, 60); a.out(0x40, 0);
    a.out(0x61, 1); a.out(0x43, 0xb0); a.out(0x42, 0x34); a.out(0x42, 0x12);
    a.runTo(1_234_567);
    a.out(0x43, 0x00); // a latched count pending
    a.inb(0x40);
    const b = new Rig(2_930_000_000);
    b.pit.loadState(structuredClone(a.pit.saveState())); // loaded before the clock reaches the checkpoint
    b.icount = a.icount;
    expect(b.inb(0x40)).toBe(a.inb(0x40));
    a.irqs.length = 0;
    a.runTo(5_000_000);
    b.runTo(5_000_000);
    expect(b.irqs).toEqual(a.irqs);
    expect(b.latched(2)).toBe(a.latched(2));
    expect(b.pit.saveState()).toEqual(a.pit.saveState());
  });
});
