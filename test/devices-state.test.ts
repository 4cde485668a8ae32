// saveState/loadState: a device set restored from a checkpoint (through msgpackr, as the recorder stores
// it) behaves exactly as the original from then on. A seeded script drives every device the way a guest
// would (register writes, reads, string I/O, interrupt acknowledge/EOI, time passing); each run logs all
// effects (IN values, interrupt requests, DMA writes, console bytes, packets sent, ground truth, power-off),
// and the logs of the original and the restored machine after the checkpoint must be identical.

import { describe, expect, it } from 'vitest';
import { pack, unpack } from 'msgpackr';
import { StandardDevices } from '../src/emulator/devices/StandardDevices.js';
import { SECTOR } from '../src/emulator/devices/BlockDevice.js';
import type { AccessSize } from '../src/emulator/devices/Device.js';

const MEM = 1 << 16;
const DISK_SECTORS = 40;

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${bytes.length}:${h.toString(16)}`;
}

/** One machine's devices plus everything they do, logged. */
class Rig {
  icount = 0;
  readonly mem: Uint8Array;
  readonly log: string[] = [];
  readonly devs: StandardDevices;

  constructor(mem?: Uint8Array) {
    this.mem = mem ?? new Uint8Array(MEM);
    const disk = new Uint8Array(DISK_SECTORS * SECTOR);
    const next = xorshift(3);
    for (let i = 0; i < disk.length; i++) disk[i] = next() & 0xff;
    const packets = Array.from({ length: 150 }, (_, i) => ({
      icount: 200 + Math.floor(i / 4) * 150, bytes: new Uint8Array(1 + ((i * 97) % 300)).fill(i & 0xff),
    }));
    const serialInput = Array.from({ length: 30 }, (_, i) => ({ icount: 500 + i * 211, bytes: new Uint8Array([65 + i, 10]) }));
    this.devs = new StandardDevices({
      now: () => this.icount,
      cyclesPerInstruction: 3,
      // A slow TSC so the PIT (1.193182 MHz) and RTC (32.768 kHz) clocks tick within a script's span.
      tscHz: 50_000_000,
      disk, packets, serialInput,
      dmaWrite: (p, b) => { this.log.push(`dma ${p} ${fnv(b)}`); this.mem.set(b, p); },
      dmaRead: (p, n) => this.mem.slice(p, p + n),
      onIrq: (irq, up) => this.log.push(`${up ? 'raise' : 'lower'} ${irq} @${this.icount}`),
      onConsole: (b) => this.log.push(`console ${b[0]}`),
      onTransmit: (b) => this.log.push(`tx ${fnv(b)}`),
      onPowerOff: (s) => this.log.push(`poweroff ${s}`),
      onGroundTruth: (e) => this.log.push(`gt ${JSON.stringify(e)}`),
    });
    if (mem === undefined) {
      // The guest kernel's ICW sequence (vectors 0x20-0x2f), every line masked.
      for (const [p, v] of [[0x20, 0x11], [0xa0, 0x11], [0x21, 0x20], [0xa1, 0x28], [0x21, 4], [0xa1, 2], [0x21, 1], [0xa1, 1]]) {
        this.devs.bus.out(p, 1, v);
      }
    }
  }

  in(port: number, size: AccessSize): void {
    this.log.push(`in ${port.toString(16)}/${size} = ${this.devs.bus.in(port, size)}`);
  }

  /** Run `steps` guest-like actions chosen by a PRNG seeded with `seed`. */
  script(seed: number, steps: number): void {
    const r = xorshift(seed);
    const bus = this.devs.bus;
    const pic = this.devs.pic;
    for (let s = 0; s < steps; s++) {
      const x = r();
      const y = r();
      this.icount += 1 + (y % 40);
      // Time passes: run device events that fell due (the machine does this between instructions).
      if (this.devs.nextEventAt() <= this.icount) this.devs.advanceTo(this.icount);
      switch (x % 30) {
        case 0: bus.out(0x21, 1, y & 0xff & ~0x11); bus.out(0xa1, 1, (y >>> 8) & 0xff & ~0x48); break; // mostly unmasked
        case 1: if (pic.pendingVector() >= 0) this.log.push(`ack ${pic.acknowledge()}`); break;
        case 2: if (y & 1) bus.out(0xa0, 1, 0x20); bus.out(0x20, 1, 0x20); break;
        case 3: { // PIT: a channel, an access mode and an operating mode, then the count
          const ch = [0, 0, 2][y % 3];
          const access = 1 + ((y >>> 2) % 3);
          bus.out(0x43, 1, (ch << 6) | (access << 4) | ([0, 2, 3, 4, 1, 5][(y >>> 4) % 6] << 1) | ((y >>> 7) % 5 === 0 ? 1 : 0));
          const count = 2 + ((y >>> 8) % 400);
          if (access !== 2) bus.out(0x40 + ch, 1, count & 0xff);
          if (access !== 1) bus.out(0x40 + ch, 1, count >> 8);
          break;
        }
        case 4: { // PIT reads: plain, after a latch, after a read-back of count and status
          const ch = [0, 2][y % 2];
          if ((y >>> 1) % 3 === 1) bus.out(0x43, 1, ch << 6);
          if ((y >>> 1) % 3 === 2) bus.out(0x43, 1, 0xc0 | ((y >>> 3) & 0x30) | (2 << ch));
          this.in(0x40 + ch, 1);
          this.in(0x40 + ch, 1);
          break;
        }
        case 5: bus.out(0x3f8, 1, y & 0xff); break;
        case 6: bus.out(0x3f9, 1, y & 3); break;
        case 7: this.in(0x3f8 + (y % 8), 1); break;
        case 8: case 9: {
          const lba = y % (DISK_SECTORS + 4);
          bus.out(0x1f2, 1, 1 + (y >>> 8) % 4);
          bus.out(0x1f3, 1, lba);
          bus.out(0x1f4, 1, 0);
          bus.out(0x1f5, 1, 0);
          bus.out(0x1f6, 1, 0xe0);
          bus.out(0x1f7, 1, (y >>> 16) % 9 === 0 ? 0xec : x % 24 === 8 ? 0x20 : 0x30);
          break;
        }
        case 10: this.log.push(`insw ${fnv(bus.insString(0x1f0, 2, 1 + (y % 300)))}`); break;
        case 11: {
          const b = new Uint8Array(4 * (1 + (y % 150)));
          b.fill(y >>> 24);
          bus.outsString(0x1f0, 4, b);
          break;
        }
        case 12: this.in(0x1f7, 1); this.in(0x1f1, 1); break;
        case 13: this.in(0x1f0, (y % 2 === 0 ? 2 : 4) as AccessSize); break;
        case 14: bus.out(0xc004, 4, 0x8000 + (y % 8) * 0x800); break;
        case 15: bus.out(0xc008, 4, y % 5 === 0 ? 16 : 2048); break;
        case 16: this.in(0xc000, 4); this.in(0xc00c, 4); break;
        case 17: bus.out(0xc018, 4, 1); break;
        case 18: {
          const len = y % 200;
          this.mem.fill(y & 0xff, 0x4000, 0x4000 + len);
          bus.out(0xc010, 4, 0x4000);
          bus.out(0xc014, 4, len);
          break;
        }
        case 19: {
          const a = 0x2000 + (y % 63) * 64;
          for (let i = 0; i < 64; i++) this.mem[a + i] = (y >>> (i % 24)) & (i >= 48 ? 0x7f : 0xff);
          bus.out(0x510, 4, a);
          break;
        }
        case 20: if (y % 50 === 0) bus.out(0x500, 4, y); break;
        case 21: bus.out(0x3fa, 1, y & 7); break;
        case 22: this.in(0x20, 2); this.in(0x21, 1); break;
        case 23: bus.out(0x3fb, 1, y % 3 === 0 ? 0x83 : 0x03); break;
        case 24: bus.out(0x61, 1, y & 3); this.in(0x61, 1); break;
        case 25: { // RTC: a register read (time, A-D, RAM)
          bus.out(0x70, 1, [0, 2, 4, 6, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0c, 0x0c, 0x0c, 0x0d, 0x20, 0x32][y % 16] | (y & 0x80));
          this.in(0x71, 1);
          break;
        }
        case 26: { // RTC: interrupt enables and periodic rate, alarms, RAM
          const reg = [0x0a, 0x0b, 0x01, 0x03, 0x05, 0x20][y % 6];
          const v = reg === 0x0a ? 0x20 | ((y >>> 8) % 5 === 0 ? (y >>> 12) % 16 : 3 + ((y >>> 12) % 4)) : reg === 0x0b ? ((y >>> 8) & 0x76) : (y >>> 8) & 0xff;
          bus.out(0x70, 1, reg);
          bus.out(0x71, 1, v);
          break;
        }
        case 27: { // RTC: set the clock (SET, write, clear SET)
          bus.out(0x70, 1, 0x0b); bus.out(0x71, 1, 0x82);
          bus.out(0x70, 1, y % 3 === 0 ? 0 : 4); bus.out(0x71, 1, ((y >>> 8) % 6) << 4 | ((y >>> 12) % 10));
          bus.out(0x70, 1, 0x0b); bus.out(0x71, 1, 0x02 | ((y >>> 16) & 0x50));
          break;
        }
        case 28: bus.out(0x80, 1, y & 0xff); break;
        case 29: bus.out(0x4d0 + (y & 1), 1, (y >>> 8) & 0xff); this.in(0x4d0, 2); break;
      }
    }
  }

  checkpoint(): { state: Buffer; mem: Uint8Array; icount: number } {
    return { state: pack(this.devs.saveState()), mem: this.mem.slice(), icount: this.icount };
  }

  static restore(c: { state: Buffer; mem: Uint8Array; icount: number }): Rig {
    const rig = new Rig(c.mem.slice());
    rig.icount = c.icount;
    rig.devs.loadState(unpack(c.state));
    return rig;
  }
}

describe('device state round trip', () => {
  it('a restored device set behaves identically after the checkpoint, at many checkpoint positions', () => {
    for (let k = 0; k < 12; k++) {
      const original = new Rig();
      original.script(1000 + k, 40 + k * 97);
      const cp = original.checkpoint();
      const restored = Rig.restore(cp);
      original.log.length = 0;
      original.script(77 + k, 600);
      restored.script(77 + k, 600);
      expect(restored.log).toEqual(original.log);
      expect(Buffer.from(restored.mem).equals(Buffer.from(original.mem))).toBe(true);
      expect(Buffer.from(restored.devs.ata.disk).equals(Buffer.from(original.devs.ata.disk))).toBe(true);
      expect(pack(restored.devs.saveState()).equals(pack(original.devs.saveState()))).toBe(true);
    }
  });

  it('the scripts exercise every kind of effect, and a fresh device set (no restore) diverges', () => {
    const a = new Rig();
    a.script(5, 900);
    const cp = a.checkpoint();
    a.log.length = 0;
    a.script(6, 900);
    const kinds = new Set(a.log.map((l) => l.split(' ')[0]));
    for (const k of ['dma', 'raise', 'lower', 'console', 'tx', 'gt', 'ack', 'in', 'insw']) expect(kinds).toContain(k);
    for (const irq of [0, 4, 8, 11, 14]) expect(a.log.some((l) => l.startsWith(`raise ${irq} `)), `IRQ ${irq}`).toBe(true);
    // Negative control: same memory and time, devices at reset instead of restored.
    const fresh = new Rig(cp.mem.slice());
    fresh.icount = cp.icount;
    fresh.script(6, 900);
    expect(fresh.log).not.toEqual(a.log);
  });

  it('checkpoints mid-transfer: an ATA read split across the checkpoint returns the same bytes', () => {
    const a = new Rig();
    const bus = a.devs.bus;
    bus.out(0x1f2, 1, 3);
    bus.out(0x1f3, 1, 7);
    bus.out(0x1f7, 1, 0x20);
    const head = bus.insString(0x1f0, 2, 300); // sector 7 and part of sector 8
    const b = Rig.restore(a.checkpoint());
    const restOrig = a.devs.bus.insString(0x1f0, 2, 3 * 256 - 300);
    const restCopy = b.devs.bus.insString(0x1f0, 2, 3 * 256 - 300);
    expect(Buffer.from(restCopy).equals(Buffer.from(restOrig))).toBe(true);
    const all = Buffer.concat([head, restCopy]);
    expect(all.equals(Buffer.from(a.devs.ata.disk.subarray(7 * SECTOR, 10 * SECTOR)))).toBe(true);
    // Written sectors survive a checkpoint; unwritten ones come from the image.
    bus.out(0x1f2, 1, 1);
    bus.out(0x1f3, 1, 2);
    bus.out(0x1f7, 1, 0x30);
    bus.outsString(0x1f0, 2, new Uint8Array(SECTOR).fill(0x5a));
    const c = Rig.restore(a.checkpoint());
    expect(Buffer.from(c.devs.ata.disk).equals(Buffer.from(a.devs.ata.disk))).toBe(true);
    expect(c.devs.ata.disk[2 * SECTOR]).toBe(0x5a);
    // Loading an older checkpoint undoes the write.
    c.devs.loadState(unpack(b.checkpoint().state));
    expect(Buffer.from(c.devs.ata.disk).equals(Buffer.from(b.devs.ata.disk))).toBe(true);
    expect(c.devs.ata.disk[2 * SECTOR]).not.toBe(0x5a);
  });
});
