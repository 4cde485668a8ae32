// Register semantics of each device against docs/machine.md (and the datasheets it cites), driven through
// the I/O bus with a fake host: guest memory is a plain array, time is a settable icount, and interrupt
// requests go to the real PIC while a log records them in order.

import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/emulator/devices/IoBus.js';
import { DeviceStateError, GuestProtocolError, type AccessSize, type Device, type DeviceContext } from '../src/emulator/devices/Device.js';
import { Pic } from '../src/emulator/devices/Pic.js';
import { Uart } from '../src/emulator/devices/Uart.js';
import { BlockDevice, SECTOR } from '../src/emulator/devices/BlockDevice.js';
import { Nic } from '../src/emulator/devices/Nic.js';
import { PowerOff } from '../src/emulator/devices/PowerOff.js';
import { GroundTruthPort, parseGroundTruth } from '../src/emulator/devices/GroundTruthPort.js';
import { StandardDevices } from '../src/emulator/devices/StandardDevices.js';
import type { GroundTruthEvent } from '../src/emulator/events.js';

/** A host for devices: memory, a clock and a PIC, with a log of interrupt requests and DMA writes. */
class Host {
  icount = 0;
  readonly mem = new Uint8Array(1 << 20);
  readonly pic = new Pic();
  readonly bus = new IoBus();
  readonly log: string[] = [];
  readonly ctx: DeviceContext;

  constructor(cpi = 1, tscHz = 2_000_000_000) {
    this.ctx = {
      now: () => this.icount,
      cyclesPerInstruction: cpi,
      tscHz,
      raiseIrq: (irq) => { this.log.push(`raise ${irq} @${this.icount}`); this.pic.raiseIrq(irq); },
      lowerIrq: (irq) => { this.log.push(`lower ${irq} @${this.icount}`); this.pic.lowerIrq(irq); },
      dmaWrite: (phys, bytes) => { this.log.push(`dma ${phys.toString(16)} ${bytes.length}`); this.mem.set(bytes, phys); },
      dmaRead: (phys, length) => this.mem.slice(phys, phys + length),
    };
    this.bus.register(this.pic);
    initPic(this.bus);
  }

  take(): string[] {
    return this.log.splice(0);
  }
}

/** The guest kernel's ICW sequence (guest/kernel/arch.c): IRQ n = vector 0x20 + n, every line masked. */
function initPic(bus: IoBus): void {
  for (const [port, v] of [[0x20, 0x11], [0xa0, 0x11], [0x21, 0x20], [0xa1, 0x28], [0x21, 4], [0xa1, 2], [0x21, 1], [0xa1, 1],
    [0x21, 0xff], [0xa1, 0xff]]) bus.out(port, 1, v);
}

/** Unmask IRQs (bit n = IRQ n) on the pair, the cascade line too when a slave IRQ is unmasked. */
function unmask(bus: IoBus, irqs: number): void {
  const m = ~(irqs | (irqs & 0xff00 ? 4 : 0)) & 0xffff;
  bus.out(0x21, 1, m & 0xff);
  bus.out(0xa1, 1, m >> 8);
}

/** A deterministic PRNG for test inputs (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

function stub(name: string, ports: [number, number][], reads = 0x12345678): Device & { writes: number[][] } {
  const writes: number[][] = [];
  return {
    name, ports, writes,
    in: () => reads,
    out: (port, size, value) => { writes.push([port, size, value]); },
    saveState: () => ({}),
    loadState: () => {},
  };
}

describe('IoBus', () => {
  it('rejects overlapping claims, naming both devices and the port', () => {
    const bus = new IoBus();
    bus.register(stub('a', [[0x100, 0x107]]));
    expect(() => bus.register(stub('b', [[0x200, 0x201], [0x107, 0x10f]]))).toThrow(/'b' claims port 0x107.*owned by 'a'/);
    // The failed device claimed nothing, not even its first, valid range.
    expect(bus.deviceNameAt(0x200)).toBe('none');
    bus.register(stub('c', [[0x108, 0x10f]]));
    expect(bus.deviceNameAt(0x10f)).toBe('c');
    expect(() => bus.register(stub('c', [[0x300, 0x300]]))).toThrow(/named 'c'/);
    expect(() => bus.register(stub('d', [[0x10, 0x0f]]))).toThrow(/invalid port range/);
    expect(() => bus.register(stub('e', [[0xfff0, 0x10000]]))).toThrow(/invalid port range/);
  });

  it('reads all-ones from unclaimed ports, ignores writes there, and masks values to the access size', () => {
    const bus = new IoBus();
    const d = stub('d', [[0x60, 0x60]], 0xdeadbeef);
    bus.register(d);
    expect(bus.in(0x61, 1)).toBe(0xff);
    expect(bus.in(0x61, 2)).toBe(0xffff);
    expect(bus.in(0x61, 4)).toBe(0xffffffff);
    expect(bus.deviceNameAt(0x61)).toBe('none');
    bus.out(0x61, 4, 1);
    expect(bus.in(0x60, 1)).toBe(0xef);
    expect(bus.in(0x60, 2)).toBe(0xbeef);
    expect(bus.in(0x60, 4)).toBe(0xdeadbeef);
    bus.out(0x60, 1, 0x1ff);
    bus.out(0x60, 2, -1);
    bus.out(0x60, 4, -1);
    expect(d.writes).toEqual([[0x60, 1, 0xff], [0x60, 2, 0xffff], [0x60, 4, 0xffffffff]]);
    expect(bus.deviceNameAt(0x60)).toBe('d');
  });

  it('string I/O without a bulk path moves little-endian elements in order', () => {
    const bus = new IoBus();
    let n = 0;
    const seen: number[] = [];
    bus.register({ name: 'ctr', ports: [[0x80, 0x80]], in: () => 0x04030201 + 0x01010101 * 4 * n++,
      out: (_p, _s, v) => { seen.push(v); }, saveState: () => ({}), loadState: () => {} });
    expect([...bus.insString(0x80, 4, 2)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...bus.insString(0x80, 2, 2)]).toEqual([9, 10, 13, 14]);
    expect([...bus.insString(0x81, 1, 3)]).toEqual([0xff, 0xff, 0xff]);
    bus.outsString(0x80, 2, new Uint8Array([1, 2, 3, 4]));
    bus.outsString(0x80, 4, new Uint8Array([1, 2, 3, 0x84]));
    expect(seen).toEqual([0x0201, 0x0403, 0x84030201]);
    expect(() => bus.outsString(0x80, 4, new Uint8Array(3))).toThrow(/whole number/);
  });
});

describe('Uart', () => {
  it('sends THR bytes to the console in order and keeps LSR THRE/TEMT set', () => {
    const h = new Host();
    const out: number[] = [];
    const u = new Uart(h.ctx, { onOutput: (b) => out.push(...b) });
    h.bus.register(u);
    for (const c of 'hi\n') h.bus.out(0x3f8, 1, c.charCodeAt(0));
    expect(Buffer.from(out).toString()).toBe('hi\n');
    expect(h.bus.in(0x3fd, 1)).toBe(0x60);
    // Divisor latch access does not transmit.
    h.bus.out(0x3fb, 1, 0x83);
    h.bus.out(0x3f8, 1, 0x01);
    h.bus.out(0x3f9, 1, 0x00);
    expect(h.bus.in(0x3f8, 1)).toBe(1);
    h.bus.out(0x3fb, 1, 0x03);
    expect(out.length).toBe(3);
    expect(h.bus.in(0x3fb, 1)).toBe(3);
    h.bus.out(0x3ff, 1, 0x5a);
    expect(h.bus.in(0x3ff, 1)).toBe(0x5a);
    expect(h.take()).toEqual([]); // IER 0: no interrupts
  });

  it('raises IRQ 4 for received data when IER bit 0 is set and lowers it when the data is read', () => {
    const h = new Host();
    const u = new Uart(h.ctx, { input: [{ icount: 50, bytes: new Uint8Array([0x41, 0x42]) }] });
    h.bus.register(u);
    h.bus.out(0x3f9, 1, 0x01);
    expect(u.nextEventAt()).toBe(50);
    h.icount = 50;
    u.advanceTo(50);
    expect(u.nextEventAt()).toBe(Infinity);
    expect(h.take()).toEqual(['raise 4 @50']);
    expect(h.bus.in(0x3fd, 1)).toBe(0x61);
    expect(h.bus.in(0x3fa, 1)).toBe(0x04);
    expect(h.bus.in(0x3f8, 1)).toBe(0x41);
    expect(h.take()).toEqual([]);
    expect(h.bus.in(0x3f8, 1)).toBe(0x42);
    expect(h.take()).toEqual(['lower 4 @50']);
    expect(h.bus.in(0x3fd, 1)).toBe(0x60);
    expect(h.bus.in(0x3fa, 1)).toBe(0x01);
    // Data that arrives with the interrupt disabled raises nothing; enabling it then does.
    h.bus.out(0x3f9, 1, 0);
    u.receive(new Uint8Array([1]));
    expect(h.take()).toEqual([]);
    h.bus.out(0x3f9, 1, 1);
    expect(h.take()).toEqual(['raise 4 @50']);
  });

  it('THR-empty interrupt: raised on enabling IER bit 1 and after each byte, cleared by reading IIR', () => {
    const h = new Host();
    const u = new Uart(h.ctx);
    h.bus.register(u);
    h.bus.out(0x3f9, 1, 0x02);
    expect(h.take()).toEqual(['raise 4 @0']);
    h.bus.out(0x3fa, 1, 0x07); // FIFOs on
    expect(h.bus.in(0x3fa, 1)).toBe(0xc2);
    expect(h.take()).toEqual(['lower 4 @0']);
    expect(h.bus.in(0x3fa, 1)).toBe(0xc1);
    h.bus.out(0x3f8, 1, 0x41);
    expect(h.take()).toEqual(['raise 4 @0']);
    // Received data outranks THR empty in IIR.
    h.bus.out(0x3f9, 1, 0x03);
    u.receive(new Uint8Array([9]));
    expect(h.bus.in(0x3fa, 1)).toBe(0xc4);
    expect(h.bus.in(0x3f8, 1)).toBe(9);
    expect(h.bus.in(0x3fa, 1)).toBe(0xc2);
    expect(h.take()).toEqual(['lower 4 @0']);
  });
});

/** A disk image whose every byte is a function of its offset (sector number in the first 4 bytes). */
function diskImage(sectors: number): Uint8Array {
  const d = new Uint8Array(sectors * SECTOR);
  for (let s = 0; s < sectors; s++) {
    for (let i = 0; i < SECTOR; i++) d[s * SECTOR + i] = (s * 7 + i * 13) & 0xff;
    new DataView(d.buffer).setUint32(s * SECTOR, s, true);
  }
  return d;
}

function ataCommand(bus: IoBus, lba: number, count: number, cmd: number): void {
  bus.out(0x1f2, 1, count);
  bus.out(0x1f3, 1, lba & 0xff);
  bus.out(0x1f4, 1, (lba >> 8) & 0xff);
  bus.out(0x1f5, 1, (lba >> 16) & 0xff);
  bus.out(0x1f6, 1, 0xe0 | ((lba >> 24) & 0x0f));
  bus.out(0x1f7, 1, cmd);
}

describe('BlockDevice (ATA PIO)', () => {
  function setup(sectors: number) {
    const h = new Host();
    const image = diskImage(sectors);
    const ata = new BlockDevice(h.ctx, image);
    h.bus.register(ata);
    return { h, bus: h.bus, ata, image, pristine: image.slice() };
  }

  it('READ SECTORS: one IRQ per sector as it becomes ready, data through REP INSW, DRQ clear after the last', () => {
    const { h, bus, image } = setup(64);
    h.icount = 7;
    ataCommand(bus, 10, 2, 0x20);
    expect(h.take()).toEqual(['raise 14 @7']);
    expect(bus.in(0x1f7, 1)).toBe(0x48);
    expect(h.take()).toEqual(['lower 14 @7']); // reading status acknowledges
    const first = bus.insString(0x1f0, 2, 256);
    expect(Buffer.from(first).equals(Buffer.from(image.subarray(10 * SECTOR, 11 * SECTOR)))).toBe(true);
    expect(h.take()).toEqual(['raise 14 @7']); // second sector ready
    expect(bus.in(0x1f7, 1)).toBe(0x48);
    expect(h.take()).toEqual(['lower 14 @7']);
    const second = new Uint8Array(SECTOR);
    for (let k = 0; k < SECTOR; k += 4) new DataView(second.buffer).setUint32(k, bus.in(0x1f0, 4), true);
    expect(Buffer.from(second).equals(Buffer.from(image.subarray(11 * SECTOR, 12 * SECTOR)))).toBe(true);
    expect(h.take()).toEqual([]);
    expect(bus.in(0x1f7, 1)).toBe(0x40);
    expect(bus.in(0x1f0, 2)).toBe(0); // no DRQ
    // Task-file registers read back.
    expect([bus.in(0x1f2, 1), bus.in(0x1f3, 1), bus.in(0x1f6, 1)]).toEqual([2, 10, 0xe0]);
  });

  it('sector count 0 means 256 sectors; a request past the end fails with IDNF and no data', () => {
    const { h, bus, image, ata } = setup(300);
    ataCommand(bus, 40, 0, 0x20);
    const data = bus.insString(0x1f0, 4, 256 * 128);
    expect(Buffer.from(data).equals(Buffer.from(image.subarray(40 * SECTOR, 296 * SECTOR)))).toBe(true);
    expect(h.take().filter((l) => l.startsWith('raise 14')).length).toBe(256);
    expect(ata.sectorsRead).toBe(256);
    expect(bus.in(0x1f7, 1)).toBe(0x40);
    expect(h.take()).toEqual(['lower 14 @0']);
    ataCommand(bus, 45, 0, 0x20); // 45 + 256 > 300
    expect(h.take()).toEqual(['raise 14 @0']);
    expect(bus.in(0x1f7, 1)).toBe(0x41);
    expect(bus.in(0x1f1, 1)).toBe(0x10);
    expect(bus.in(0x1f0, 2)).toBe(0);
    // LBA bits 24-27 come from the low nibble of 0x1f6.
    ataCommand(bus, 1 << 24, 1, 0x20);
    expect(bus.in(0x1f7, 1)).toBe(0x41);
    ataCommand(bus, 299, 1, 0x20); // the last sector is fine, and a good command clears the error
    expect(bus.in(0x1f7, 1)).toBe(0x48);
    expect(bus.in(0x1f1, 1)).toBe(0);
    ataCommand(bus, 0, 1, 0xec); // IDENTIFY is not in the subset: aborted
    expect(bus.in(0x1f7, 1)).toBe(0x41);
    expect(bus.in(0x1f1, 1)).toBe(0x04);
  });

  it('WRITE SECTORS: DRQ without IRQ, then an IRQ after each sector; the image is untouched', () => {
    const { h, bus, ata, image, pristine } = setup(16);
    h.icount = 3;
    ataCommand(bus, 5, 3, 0x30);
    expect(h.take()).toEqual([]);
    expect(bus.in(0x1f7, 1)).toBe(0x48);
    const src = new Uint8Array(3 * SECTOR);
    const next = rng(99);
    for (let i = 0; i < src.length; i++) src[i] = next() & 0xff;
    bus.outsString(0x1f0, 2, src.subarray(0, SECTOR)); // REP OUTSW, sector 5
    expect(h.take()).toEqual(['raise 14 @3']);
    expect(bus.in(0x1f7, 1)).toBe(0x48); // ready for the next sector
    expect(h.take()).toEqual(['lower 14 @3']);
    bus.outsString(0x1f0, 4, src.subarray(SECTOR, 2 * SECTOR)); // REP OUTSD, sector 6
    for (let k = 2 * SECTOR; k < 3 * SECTOR; k += 2) bus.out(0x1f0, 2, src[k] | (src[k + 1] << 8)); // OUTSW one by one
    expect(h.take()).toEqual(['raise 14 @3', 'raise 14 @3']);
    expect(bus.in(0x1f7, 1)).toBe(0x40); // complete
    bus.out(0x1f0, 2, 0xffff); // no DRQ: ignored
    expect(Buffer.from(ata.disk.subarray(5 * SECTOR, 8 * SECTOR)).equals(Buffer.from(src))).toBe(true);
    expect(Buffer.from(ata.disk.subarray(0, 5 * SECTOR)).equals(Buffer.from(pristine.subarray(0, 5 * SECTOR)))).toBe(true);
    expect(Buffer.from(ata.disk.subarray(8 * SECTOR)).equals(Buffer.from(pristine.subarray(8 * SECTOR)))).toBe(true);
    expect(Buffer.from(image).equals(Buffer.from(pristine))).toBe(true);
    // Read back through the same device.
    ataCommand(bus, 6, 1, 0x20);
    expect(Buffer.from(bus.insString(0x1f0, 2, 256)).equals(Buffer.from(src.subarray(SECTOR, 2 * SECTOR)))).toBe(true);
  });

  it('follows guest/kernel/ata.c: IRQ handler reads status, then REP INSW; writes poll status then REP OUTSW', () => {
    const { h, bus, ata } = setup(8);
    unmask(bus, 1 << 14);
    ataCommand(bus, 3, 1, 0x20);
    expect(h.pic.acknowledge()).toBe(0x2e);
    const st = bus.in(0x1f7, 1);
    expect(st & 0x09).toBe(0x08);
    bus.out(0xa0, 1, 0x20);
    bus.out(0x20, 1, 0x20);
    expect(new DataView(bus.insString(0x1f0, 2, 256).buffer).getUint32(0, true)).toBe(3);
    ataCommand(bus, 4, 1, 0x30);
    expect(h.pic.pendingVector()).toBe(-1);
    const polled = bus.in(0x1f7, 1);
    expect(polled & 0x80).toBe(0);
    expect(polled & 0x09).toBe(0x08);
    bus.outsString(0x1f0, 2, new Uint8Array(SECTOR).fill(0xab));
    expect(h.pic.acknowledge()).toBe(0x2e);
    expect(bus.in(0x1f7, 1) & 0x01).toBe(0);
    expect(ata.disk[4 * SECTOR + 100]).toBe(0xab);
  });

  it('rejects an image that is not whole sectors', () => {
    expect(() => new BlockDevice(new Host().ctx, new Uint8Array(513))).toThrow(/whole number of 512-byte sectors/);
  });
});

describe('Nic', () => {
  const pkt = (n: number, len = 4) => new Uint8Array(len).map((_, i) => (n * 16 + i) & 0xff);

  it('delivers scheduled packets at their icount into the posted buffer by DMA, one per post', () => {
    const h = new Host();
    const nic = new Nic(h.ctx, { schedule: [{ icount: 100, bytes: pkt(1) }, { icount: 100, bytes: pkt(2, 6) }, { icount: 250, bytes: pkt(3) }] });
    h.bus.register(nic);
    expect(nic.nextEventAt()).toBe(100);
    h.icount = 100;
    nic.advanceTo(100); // nothing posted yet: both wait
    expect(h.take()).toEqual([]);
    expect(nic.queued).toBe(2);
    expect(nic.nextEventAt()).toBe(250);
    expect(h.bus.in(0xc000, 4)).toBe(2);
    h.icount = 120;
    h.bus.out(0xc004, 4, 0x4000); // address first: capacity still unknown, so no delivery yet
    expect(h.take()).toEqual([]);
    h.bus.out(0xc008, 4, 4096);
    expect(h.take()).toEqual(['dma 4000 4', 'raise 11 @120']);
    expect([...h.mem.subarray(0x4000, 0x4004)]).toEqual([...pkt(1)]);
    expect(h.bus.in(0xc000, 4)).toBe(3);
    h.bus.out(0xc018, 4, 1);
    expect(h.take()).toEqual(['lower 11 @120']);
    expect(h.bus.in(0xc00c, 4)).toBe(4);
    expect(h.bus.in(0xc000, 4)).toBe(2);
    expect(h.bus.in(0xc00c, 4)).toBe(0);
    h.bus.out(0xc004, 4, 0x5000); // re-post: the second waiting packet lands at once
    expect(h.take()).toEqual(['dma 5000 6', 'raise 11 @120']);
    expect(h.bus.in(0xc00c, 4)).toBe(6);
    expect([...h.mem.subarray(0x5000, 0x5006)]).toEqual([...pkt(2, 6)]);
    // Posted buffer waiting: the next packet is delivered when it arrives.
    h.bus.out(0xc004, 4, 0x6000);
    h.icount = 249;
    nic.advanceTo(249);
    expect(h.take()).toEqual([]);
    h.icount = 250;
    nic.advanceTo(250);
    expect(h.take()).toEqual(['dma 6000 4', 'raise 11 @250']);
    expect(nic.nextEventAt()).toBe(Infinity);
    expect(nic.delivered).toBe(3);
  });

  it('queues at most 64 packets, dropping the oldest and counting them; truncates to the capacity', () => {
    const h = new Host();
    const schedule = Array.from({ length: 70 }, (_, i) => ({ icount: 10 + i, bytes: pkt(i, 8) }));
    const nic = new Nic(h.ctx, { schedule });
    h.bus.register(nic);
    nic.advanceTo(1000);
    expect(nic.queued).toBe(64);
    expect(nic.dropped).toBe(6);
    h.bus.out(0xc008, 4, 5);
    h.bus.out(0xc004, 4, 0x100);
    expect(h.bus.in(0xc00c, 4)).toBe(5);
    expect([...h.mem.subarray(0x100, 0x108)]).toEqual([...pkt(6, 5), 0, 0, 0]); // packet 6 is the oldest kept
    expect(nic.truncated).toBe(1);
    expect(() => new Nic(h.ctx, { schedule: [{ icount: 5, bytes: pkt(0) }, { icount: 4, bytes: pkt(1) }] })).toThrow(/earlier than packet 0/);
  });

  it('transmits the bytes at the TX address when the length is written', () => {
    const h = new Host();
    const sent: Uint8Array[] = [];
    const nic = new Nic(h.ctx, { onTransmit: (b) => sent.push(b) });
    h.bus.register(nic);
    h.mem.set([1, 2, 3, 4, 5], 0x8000);
    h.bus.out(0xc010, 4, 0x8001);
    h.bus.out(0xc014, 4, 3);
    h.mem[0x8002] = 99; // the device copied the packet
    h.bus.out(0xc014, 4, 0);
    h.bus.out(0xc014, 4, 0x10001);
    expect(sent.map((b) => [...b])).toEqual([[2, 3, 4], []]);
    expect([nic.transmitted, nic.txErrors]).toEqual([2, 1]);
    expect(h.bus.in(0xc000, 4) & 2).toBe(2);
    expect(h.take()).toEqual([]); // TX raises no interrupt
  });
});

describe('ground-truth and power-off ports', () => {
  function gtBytes(e: Omit<GroundTruthEvent, 'kind' | 'icount'>): Uint8Array {
    // Encoded with DataView and BigInt, independently of the device's byte arithmetic.
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    [e.type, e.pid, e.tid, e.ppid].forEach((v, i) => dv.setUint32(i * 4, v, true));
    [e.cr3, e.a0, e.a1, e.a2].forEach((v, i) => dv.setBigUint64(16 + i * 8, BigInt(v), true));
    b.set(Buffer.from(e.name, 'latin1'), 48);
    return b;
  }

  it('parses struct gt_event from guest memory at the written address and is silent', () => {
    const h = new Host();
    const got: GroundTruthEvent[] = [];
    const gt = new GroundTruthPort(h.ctx, { onGroundTruth: (e) => got.push(e) });
    h.bus.register(gt);
    expect(gt.silent).toBe(true);
    const e1 = { type: 7, pid: 12, tid: 13, ppid: 1, cr3: 0x12345000, a0: 0x7ffffffde000, a1: 2 ** 52 + 1, a2: 0xffffffff, name: 'sh' };
    const e2 = { type: 6, pid: 0xffffffff, tid: 1, ppid: 0, cr3: 0x1000, a0: 60, a1: 0, a2: 0, name: 'exactly16chars!!' };
    h.mem.set(gtBytes(e1), 0x3fc0); // ends exactly at the page end
    h.mem.set(gtBytes(e2), 0x5000);
    h.mem[0x3fc0 + 51] = 0x78; // garbage after the NUL is not part of the name
    h.icount = 1234;
    h.bus.out(0x510, 4, 0x3fc0);
    h.bus.out(0x510, 4, 0x5000);
    expect(got).toEqual([{ kind: 'groundTruth', icount: 1234, ...e1 }, { kind: 'groundTruth', icount: 1234, ...e2 }]);
    expect(gt.events).toBe(2);
    expect(h.take()).toEqual([]);
  });

  it('reports a structure crossing a page or a narrow write as a guest protocol error', () => {
    const h = new Host();
    const gt = new GroundTruthPort(h.ctx);
    h.bus.register(gt);
    expect(() => h.bus.out(0x510, 4, 0x3fc1)).toThrow(GuestProtocolError);
    expect(() => h.bus.out(0x510, 4, 0x3fc1)).toThrow(/0x3fc1 crosses a page/);
    expect(() => h.bus.out(0x510, 2, 0x3000)).toThrow(/16-bit write/);
    const errors: string[] = [];
    const gt2 = new GroundTruthPort(h.ctx, { onError: (m) => errors.push(m) });
    gt2.out(0x510, 4, 0xfff);
    expect(errors).toEqual(['struct gt_event at physical 0xfff crosses a page boundary']);
    expect(() => parseGroundTruth(new Uint8Array(10), 0)).toThrow(/64 bytes/);
  });

  it('power-off reports the 32-bit status', () => {
    const h = new Host();
    const got: number[] = [];
    const p = new PowerOff((s) => got.push(s));
    h.bus.register(p);
    h.bus.out(0x500, 4, 0xfffffffe);
    h.bus.out(0x500, 4, 0);
    expect(got).toEqual([0xfffffffe, 0]);
    expect(p.status).toBe(0);
  });
});

describe('StandardDevices', () => {
  it('claims the ports of docs/machine.md with the right owners', () => {
    const d = new StandardDevices({ now: () => 0, cyclesPerInstruction: 1, tscHz: 2_000_000_000, dmaWrite: () => {}, dmaRead: (_p, n) => new Uint8Array(n) });
    const owners: Array<[number, string]> = [[0x20, 'pic'], [0x21, 'pic'], [0xa0, 'pic'], [0xa1, 'pic'], [0x4d0, 'pic'], [0x4d1, 'pic'],
      [0x40, 'pit'], [0x43, 'pit'], [0x61, 'port61'], [0x70, 'rtc'], [0x71, 'rtc'], [0x80, 'post'], [0x1f0, 'ata'],
      [0x1f7, 'ata'], [0x3f8, 'uart'], [0x3ff, 'uart'], [0x500, 'poweroff'], [0x510, 'groundtruth'], [0xc000, 'nic'],
      [0xc01f, 'nic'], [0x22, 'none'], [0x1f8, 'none'], [0x501, 'none'], [0xc020, 'none'], [0x3f6, 'none'],
      // Absent on this PC (docs/machine.md): the 8042, PCI configuration, Super I/O, DMA page registers.
      [0x60, 'none'], [0x64, 'none'], [0xcf8, 'none'], [0xcfc, 'none'], [0x2e, 'none'], [0x4e, 'none'], [0x87, 'none']];
    expect(owners.map(([p]) => [p, d.bus.deviceNameAt(p)])).toEqual(owners);
    expect(d.bus.devices.filter((x) => x.silent).map((x) => x.name)).toEqual(['groundtruth']);
  });

  it('routes device interrupts to the PIC with their machine.md vectors', () => {
    let now = 0;
    const irqs: string[] = [];
    const mem = new Uint8Array(0x10000);
    const d = new StandardDevices({ now: () => now, cyclesPerInstruction: 1, tscHz: 1_193_182, dmaWrite: (p, b) => mem.set(b, p),
      dmaRead: (p, n) => mem.slice(p, p + n), disk: new Uint8Array(SECTOR), packets: [{ icount: 5, bytes: new Uint8Array(3) }],
      onIrq: (irq, up) => irqs.push(`${up ? '+' : '-'}${irq}`) });
    const bus = d.bus;
    initPic(bus);
    unmask(bus, 0xffff);
    // PIT channel 0, mode 0, count 8: at 1 instruction per PIT clock, OUT rises 9 clocks after the write.
    bus.out(0x43, 1, 0x30);
    bus.out(0x40, 1, 8);
    bus.out(0x40, 1, 0);
    bus.out(0x3f9, 1, 2);
    ataCommand(bus, 0, 1, 0x20);
    bus.out(0xc008, 4, 64);
    bus.out(0xc004, 4, 0x100);
    expect(d.nextEventAt()).toBe(5);
    now = 10;
    d.advanceTo(10);
    expect(irqs).toEqual(['+4', '+14', '+0', '+11']); // OUT order, then events in registration order
    const vectors: number[] = [];
    while (d.pic.pendingVector() >= 0) {
      const v = d.pic.acknowledge();
      vectors.push(v);
      if (v >= 0x28) bus.out(0xa0, 1, 0x20);
      bus.out(0x20, 1, 0x20);
    }
    // PC priority order: IRQ 0, 1, then the slave's 8-15 (on the master's IR2), then 3-7.
    expect(vectors).toEqual([0x20, 0x2b, 0x2e, 0x24]);
  });
});

describe('bad saved state', () => {
  it('is refused with a DeviceStateError naming the device and field', () => {
    const h = new Host();
    expect(() => new Pic().loadState({ 'm.irr': 'x' })).toThrow(DeviceStateError);
    expect(() => new Pic().loadState(null)).toThrow(/'pic' state: not an object/);
    expect(() => new Pic().loadState({ ...(new Pic().saveState() as object), 'm.elcr': 1 })).toThrow(/m.elcr sets reserved bits/);
    const ata = new BlockDevice(h.ctx, new Uint8Array(SECTOR * 2));
    const s = ata.saveState() as Record<string, unknown>;
    expect(() => new BlockDevice(h.ctx, new Uint8Array(SECTOR)).loadState(s)).toThrow(/disk of 2 sectors/);
    expect(() => ata.loadState({ ...s, buf: new Uint8Array(3) })).toThrow(/'buf' has 3 bytes/);
    expect(() => h.bus.loadState({ pic: h.pic.saveState(), other: {} })).toThrow(/unknown device 'other'/);
    const size: AccessSize = 1;
    expect(h.bus.in(0x21, size)).toBe(0xff);
  });
});
