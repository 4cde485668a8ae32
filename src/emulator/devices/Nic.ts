// NIC (docs/machine.md "NIC registers": ports 0xc000-0xc01f, IRQ 11, vector 0x2b), with DMA.
//
// Receive: packets arrive on a schedule [{icount, bytes}] fixed at construction (from the workload
// description, so record/replay has real external input to capture) and are delivered at their icount via
// nextEventAt/advanceTo. An arrived packet waits in the device queue (at most 64; when a 65th arrives the
// oldest is dropped and counted) until receive is armed: the guest posted a buffer (0xc004 address, which
// arms; 0xc008 capacity) and consumed the previous packet. Then the device writes the packet into the
// buffer by DMA (truncated to the capacity; a capacity of 0 means "not yet given" and delivery waits for
// it), sets status bit 0 and the length register, disarms receive and raises IRQ 11. Delivery is checked
// when a packet arrives and when the guest writes 0xc004 or 0xc008, so posting the address before the
// capacity (as guest/kernel/nic.c does) works.
// - 0xc00c read: the length of the packet in the buffer (0 = none); reading it consumes the packet (status
//   bit 0 clears; receive stays disarmed until the next post). With no packet it reads 0 and changes nothing.
// - Transmit: 0xc010 buffer address, 0xc014 length; writing the length sends at once: the device reads
//   guest memory (dmaRead) and hands the bytes to onTransmit. No interrupt: the send completes within the
//   OUT, so status bit 1 (TX done: no transmit in progress) always reads 1. Lengths above 65536 are not sent
//   and are counted in txErrors.
// - 0xc018 write: interrupt acknowledge (withdraws a pending IRQ 11).
// - All registers are 32-bit; other access sizes reach the same registers with the value masked by the bus.
//   The address and capacity registers read back their last value; other ports in the range read 0.

import { StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';

export const NIC_IRQ = 11;
export const NIC_QUEUE_LIMIT = 64;
export const NIC_MAX_TX = 65536;

export const NicStatus = { rxReady: 1, txDone: 2 } as const;

export interface ScheduledPacket {
  /** Instruction count at which the packet arrives. */
  icount: number;
  /** Payload bytes (UDP-shaped: the guest sees only these). */
  bytes: Uint8Array;
}

export interface NicOptions {
  /** Arrivals in non-decreasing icount order. */
  schedule?: readonly ScheduledPacket[];
  /** Transmitted packets (the array is the device's copy from guest memory; it may be kept). */
  onTransmit?: (bytes: Uint8Array) => void;
  /** Receive queue bound (docs/machine.md: 64). */
  queueLimit?: number;
}

export class Nic implements Device {
  readonly name = 'nic';
  readonly ports: readonly PortRange[] = [[0xc000, 0xc01f]];
  rxAddr = 0;
  rxCap = 0;
  rxArmed = false;
  /** A delivered packet is in the posted buffer, of rxLen bytes. */
  rxFull = false;
  rxLen = 0;
  txAddr = 0;
  /** Packets arrived and not yet delivered, oldest first. */
  private queue: Uint8Array[] = [];
  private nextPacket = 0;
  private irqLine = false;
  /** Counters since construction. */
  dropped = 0;
  truncated = 0;
  delivered = 0;
  transmitted = 0;
  txErrors = 0;
  private readonly schedule: readonly ScheduledPacket[];
  private readonly onTransmit: (bytes: Uint8Array) => void;
  private readonly queueLimit: number;

  constructor(private readonly ctx: DeviceContext, opts: NicOptions = {}) {
    this.schedule = opts.schedule ?? [];
    this.onTransmit = opts.onTransmit ?? (() => {});
    this.queueLimit = opts.queueLimit ?? NIC_QUEUE_LIMIT;
    if (!(Number.isInteger(this.queueLimit) && this.queueLimit >= 1)) throw new Error(`nic: queue limit must be a positive integer, got ${this.queueLimit}`);
    for (let i = 0; i < this.schedule.length; i++) {
      const p = this.schedule[i];
      if (!Number.isFinite(p.icount) || p.icount < 0) throw new Error(`nic: packet ${i} has an invalid icount ${p.icount}`);
      if (i > 0 && p.icount < this.schedule[i - 1].icount) throw new Error(`nic: packet ${i} (icount ${p.icount}) is earlier than packet ${i - 1} (icount ${this.schedule[i - 1].icount})`);
    }
  }

  /** Packets waiting in the device queue. */
  get queued(): number {
    return this.queue.length;
  }

  in(port: number, _size: AccessSize): number {
    switch (port) {
      case 0xc000: return (this.rxFull ? NicStatus.rxReady : 0) | NicStatus.txDone;
      case 0xc00c: {
        if (!this.rxFull) return 0;
        const n = this.rxLen;
        this.rxFull = false;
        this.rxLen = 0;
        return n;
      }
      case 0xc004: return this.rxAddr;
      case 0xc008: return this.rxCap;
      case 0xc010: return this.txAddr;
      default: return 0;
    }
  }

  out(port: number, _size: AccessSize, value: number): void {
    switch (port) {
      case 0xc004:
        this.rxAddr = value >>> 0;
        this.rxArmed = true;
        this.tryDeliver();
        return;
      case 0xc008:
        this.rxCap = value >>> 0;
        this.tryDeliver();
        return;
      case 0xc010: this.txAddr = value >>> 0; return;
      case 0xc014: this.transmit(value >>> 0); return;
      case 0xc018:
        if (this.irqLine) {
          this.irqLine = false;
          this.ctx.lowerIrq(NIC_IRQ);
        }
        return;
      default: return;
    }
  }

  nextEventAt(): number {
    return this.nextPacket < this.schedule.length ? this.schedule[this.nextPacket].icount : Infinity;
  }

  advanceTo(icount: number): void {
    const s = this.schedule;
    let arrived = false;
    while (this.nextPacket < s.length && s[this.nextPacket].icount <= icount) {
      this.enqueue(s[this.nextPacket++].bytes);
      arrived = true;
    }
    if (arrived) this.tryDeliver();
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.queue.length >= this.queueLimit) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(bytes);
  }

  private tryDeliver(): void {
    if (!this.rxArmed || this.rxFull || this.rxCap === 0 || this.queue.length === 0) return;
    const p = this.queue.shift()!;
    const n = Math.min(p.length, this.rxCap);
    if (n < p.length) this.truncated++;
    if (n > 0) this.ctx.dmaWrite(this.rxAddr, n === p.length ? p : p.subarray(0, n));
    this.rxFull = true;
    this.rxLen = n;
    this.rxArmed = false;
    this.delivered++;
    this.irqLine = true;
    this.ctx.raiseIrq(NIC_IRQ);
  }

  private transmit(length: number): void {
    if (length > NIC_MAX_TX) {
      this.txErrors++;
      return;
    }
    const bytes = this.ctx.dmaRead(this.txAddr, length).slice();
    this.transmitted++;
    this.onTransmit(bytes);
  }

  saveState(): unknown {
    return {
      rxAddr: this.rxAddr, rxCap: this.rxCap, rxArmed: this.rxArmed, rxFull: this.rxFull, rxLen: this.rxLen,
      txAddr: this.txAddr, queue: this.queue.map((p) => p.slice()), nextPacket: this.nextPacket, irqLine: this.irqLine,
      dropped: this.dropped, truncated: this.truncated, delivered: this.delivered, transmitted: this.transmitted,
      txErrors: this.txErrors,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.rxAddr = r.uint('rxAddr', 0xffffffff);
    this.rxCap = r.uint('rxCap', 0xffffffff);
    this.rxArmed = r.bool('rxArmed');
    this.rxFull = r.bool('rxFull');
    this.rxLen = r.uint('rxLen', 0xffffffff);
    this.txAddr = r.uint('txAddr', 0xffffffff);
    this.queue = r.byteList('queue');
    this.nextPacket = r.uint('nextPacket', this.schedule.length);
    this.irqLine = r.bool('irqLine');
    this.dropped = r.uint('dropped');
    this.truncated = r.uint('truncated');
    this.delivered = r.uint('delivered');
    this.transmitted = r.uint('transmitted');
    this.txErrors = r.uint('txErrors');
  }
}
