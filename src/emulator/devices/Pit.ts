// The PC's programmable interval timer: an Intel 8254 at 0x40-0x43, channel 0 driving IRQ 0, channel 2's
// gate and output reached through port 0x61 (SystemControlPort), channel 1 (DRAM refresh on a PC) present
// with its gate tied high. Source: Intel 82C54 CHMOS Programmable Interval Timer datasheet (order 231244):
// "Control word format", "Counter latch command", "Read-back command", "Read operations", "Modes 0-5",
// "Gate pin operations summary", "Status byte". QEMU's hw/timer/i8254.c and i8254_common.c model the same
// chip (the tests compare against the sequences it documents too).
//
// Time: the counters count edges of a 1.193182 MHz clock of guest time (GuestClock: edge k at instruction
// ceil(k x tscHz / (1193182 x CPI))), so every count, output level and IRQ 0 edge is a function of the
// instruction count. The chip is not stepped per instruction: channel 0 computes the instruction count of
// its next rising OUT edge and the machine's one event check (nextEventAt / advanceTo) raises IRQ 0 there.
//
// Counting model (datasheet "Operation"): a count written at clock edge T (the edges up to T have happened)
// is loaded into the counting element on the next edge, L = T + 1, and decremented on each edge after it,
// so the count at edge t >= L is N - (t - L). For each mode that gives, with N the initial count
// (0 = 65536, or 10000 in BCD):
//   mode 0 (interrupt on terminal count): OUT low, high at t = L + N, stays high; the count wraps on.
//   mode 1 (hardware one-shot): triggered by a GATE rising edge; OUT low from L to L + N.
//   mode 2 (rate generator): OUT low while the count is 1 (t - L = N - 1 mod N), so rising edges at L + kN.
//   mode 3 (square wave): OUT high for ceil(N/2) edges and low for floor(N/2), rising at L + kN.
//   mode 4 (software strobe): OUT low for one clock at t = L + N, rising edge at L + N + 1.
//   mode 5 (hardware strobe): as 4, after a GATE trigger.
// A new count written in mode 2 or 3 while counting takes effect at the next reload (end of the current
// period); in modes 0 and 4 it restarts counting; in 1 and 5 it waits for the next trigger. Writing a control
// word stops the counter and sets OUT to the mode's initial level (low in mode 0, high otherwise).
// IRQ 0 is edge triggered (PIIX ELCR bit 0 is reserved 0), so only OUT's rising edges are signalled.
// Not modelled: the first-byte-disables-counting detail of mode 0 with a two-byte count is (the count is
// taken when complete), and the phase of the odd-count square wave within a clock.

import { DeviceStateError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';
import { GuestClock } from './GuestClock.js';

/** The 8254's input clock on a PC (14.31818 MHz / 12). */
export const PIT_HZ = 1_193_182;
export const PIT_IRQ = 0;

/** Read/write access of a channel (control word bits 5-4). */
const Access = { latch: 0, lsb: 1, msb: 2, word: 3 } as const;

/** pendingTick of a mode-1/5 count that waits for the next GATE trigger. */
const PENDING_TRIGGER = -2;

class Channel {
  mode = 0;
  access: number = Access.word;
  bcd = false;
  /** Initial count in effect (1..65536). */
  count = 0x10000;
  /** A count has been written since the control word (the counter runs, or waits for a trigger in 1/5). */
  armed = false;
  /** Clock edge at which `count` was loaded into the counting element. */
  loadTick = 0;
  /** A count written while counting: mode 2/3 load it at edge pendingTick, 1/5 at the next trigger (-1 = none). */
  pendingCount = 0;
  pendingTick = -1;
  /** Modes 1/5: a trigger has started the current one-shot. */
  triggered = false;
  /** Gate input level. */
  gate = true;
  /** Modes 0/4 with the gate low: the decrements done when counting stopped (-1 = counting). */
  heldDecrements = -1;
  /** Two-byte write/read sequencing: true = the next byte is the MSB. */
  writeMsb = false;
  readMsb = false;
  lowByte = 0;
  /** Latched count (counter latch command): bytes left to read, 0 = none; and the value. */
  latchedBytes = 0;
  latchMsbFirst = false;
  latched = 0;
  /** Latched status (read-back), -1 = none. */
  status = -1;


  /** Counts wrap at 65536 (binary) or 10000 (BCD). */
  get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** Apply a pending mode-2/3 count whose reload edge has come. */
  sync(t: number): void {
    if (this.pendingTick >= 0 && t >= this.pendingTick) {
      this.count = this.pendingCount;
      this.loadTick = this.pendingTick;
      this.pendingTick = -1;
    }
  }

  /** Is the counting element counting at edge t (a count loaded, gate allowing, trigger seen)? */
  private counting(t: number): boolean {
    if (!this.armed || t < this.loadTick) return false;
    if (this.mode === 1 || this.mode === 5) return this.triggered;
    if (this.mode === 2 || this.mode === 3) return this.gate;
    return true;
  }

  /** Decrements done by edge t (t - L, or the held value while the gate stops modes 0/4). */
  private decrements(t: number): number {
    if (this.heldDecrements >= 0) return this.heldDecrements;
    return t - this.loadTick;
  }

  /** The counting element's value at edge t (1..modulus; 0 reads as the modulus wraps to 0). */
  countAt(t: number): number {
    this.sync(t);
    const n = this.count;
    if (!this.counting(t)) return n % this.modulus;
    const d = this.decrements(t);
    switch (this.mode) {
      case 2: return n - (d % n);
      case 3: {
        const p = d % n;
        const high = (n + 1) >> 1;
        if ((n & 1) === 0) return p < high ? n - 2 * p : n - 2 * (p - high);
        // Odd count: N, N-1, N-3, ... 2 while high; N, N-3, N-5, ... 2 while low (datasheet mode 3).
        if (p < high) return p === 0 ? n : n - 1 - 2 * (p - 1);
        const q = p - high;
        return q === 0 ? n : n - 1 - 2 * q;
      }
      default: {
        const m = this.modulus;
        return (((n - d) % m) + m) % m;
      }
    }
  }

  /** OUT level at edge t. */
  outAt(t: number): boolean {
    this.sync(t);
    if (!this.armed) return this.mode !== 0;
    if ((this.mode === 2 || this.mode === 3) && !this.gate) return true; // gate low forces OUT high
    if (!this.counting(t)) return this.mode !== 0;
    const d = this.decrements(t);
    const n = this.count;
    switch (this.mode) {
      case 0: return d >= n;
      case 1: return d >= n;
      case 2: return d % n !== n - 1;
      case 3: return d % n < ((n + 1) >> 1);
      default: return d !== n; // 4, 5: one clock low at terminal count
    }
  }

  /** The first rising OUT edge after edge t, or Infinity (channel 0's IRQ 0 schedule). */
  nextRiseAfter(t: number): number {
    this.sync(t);
    if (!this.armed || !this.gate) return Infinity;
    if ((this.mode === 1 || this.mode === 5) && !this.triggered) return Infinity;
    const n = this.count;
    const l = this.loadTick;
    switch (this.mode) {
      case 0: case 1: { const e = l + n; return e > t ? e : Infinity; }
      case 4: case 5: { const e = l + n + 1; return e > t ? e : Infinity; }
      default: {
        const k = t < l ? 1 : Math.floor((t - l) / n) + 1;
        return l + k * n;
      }
    }
  }

  /** Control word for this channel (not a latch): stop, new mode, OUT to its initial level. */
  control(mode: number, access: number, bcd: boolean): void {
    this.mode = mode > 5 ? mode - 4 : mode; // 110 and 111 are modes 2 and 3 (datasheet control word)
    this.access = access;
    this.bcd = bcd;
    this.armed = false;
    this.triggered = false;
    this.pendingTick = -1;
    this.heldDecrements = -1;
    this.writeMsb = false;
    this.readMsb = false;
  }

  /** A complete initial count written at edge t. */
  load(raw: number, t: number): void {
    let n = this.bcd ? fromBcd(raw) : raw;
    if (n === 0) n = this.modulus;
    this.sync(t);
    if ((this.mode === 1 || this.mode === 5) && this.armed && this.triggered) {
      // A one-shot in progress is not affected; the count applies from the next trigger.
      this.pendingCount = n;
      this.pendingTick = PENDING_TRIGGER;
      return;
    }
    if ((this.mode === 2 || this.mode === 3) && this.armed && this.gate && this.counting(t)) {
      const next = this.nextRiseAfter(t);
      this.pendingCount = n;
      this.pendingTick = next;
      return;
    }
    this.count = n;
    this.loadTick = t + 1;
    this.armed = true;
    this.pendingTick = -1;
    this.heldDecrements = (this.mode === 0 || this.mode === 4) && !this.gate ? 0 : -1;
  }

  /** GATE input change at edge t (datasheet "Gate pin operations summary"). */
  setGate(level: boolean, t: number): void {
    if (level === this.gate) return;
    this.sync(t);
    const rising = level;
    switch (this.mode) {
      case 0: case 4:
        // Low disables counting, high resumes it where it stopped.
        if (this.armed) {
          if (!rising) this.heldDecrements = Math.max(0, t - this.loadTick);
          else if (this.heldDecrements >= 0) {
            this.loadTick = t - this.heldDecrements;
            this.heldDecrements = -1;
          }
        }
        break;
      case 1: case 5:
        if (rising && this.armed) {
          if (this.pendingTick === PENDING_TRIGGER) {
            this.count = this.pendingCount;
            this.pendingTick = -1;
          }
          this.triggered = true;
          this.loadTick = t + 1;
        }
        break;
      default: // 2, 3: low stops counting (OUT high); a rising edge reloads and restarts
        if (rising && this.armed) {
          this.loadTick = t + 1;
          this.pendingTick = -1;
        }
        break;
    }
    this.gate = level;
  }

  save(): Record<string, number | boolean> {
    return {
      mode: this.mode, access: this.access, bcd: this.bcd, count: this.count, armed: this.armed, loadTick: this.loadTick,
      pendingCount: this.pendingCount, pendingTick: this.pendingTick, triggered: this.triggered, gate: this.gate,
      heldDecrements: this.heldDecrements, writeMsb: this.writeMsb, readMsb: this.readMsb, lowByte: this.lowByte,
      latchedBytes: this.latchedBytes, latchMsbFirst: this.latchMsbFirst, latched: this.latched, status: this.status,
    };
  }

  load_(r: StateReader, p: string): void {
    this.mode = r.uint(p + 'mode', 5);
    this.access = r.uint(p + 'access', 3);
    this.bcd = r.bool(p + 'bcd');
    this.count = r.uint(p + 'count', 0x10000);
    if (this.count < 1) throw new DeviceStateError(r.device, `${p}count is 0`);
    this.armed = r.bool(p + 'armed');
    this.loadTick = r.uint(p + 'loadTick');
    this.pendingCount = r.uint(p + 'pendingCount', 0x10000);
    this.pendingTick = r.num(p + 'pendingTick');
    if (this.pendingTick !== -1 && this.pendingTick !== PENDING_TRIGGER) this.pendingTick = r.uint(p + 'pendingTick');
    this.triggered = r.bool(p + 'triggered');
    this.gate = r.bool(p + 'gate');
    this.heldDecrements = r.num(p + 'heldDecrements');
    if (this.heldDecrements !== -1) this.heldDecrements = r.uint(p + 'heldDecrements');
    this.writeMsb = r.bool(p + 'writeMsb');
    this.readMsb = r.bool(p + 'readMsb');
    this.lowByte = r.uint(p + 'lowByte', 0xff);
    this.latchedBytes = r.uint(p + 'latchedBytes', 2);
    this.latchMsbFirst = r.bool(p + 'latchMsbFirst');
    this.latched = r.uint(p + 'latched', 0xffff);
    this.status = r.num(p + 'status');
    if (this.status !== -1) this.status = r.uint(p + 'status', 0xff);
  }
}

export class Pit implements Device {
  readonly name = 'pit';
  readonly ports: readonly PortRange[] = [[0x40, 0x43]];
  readonly clock: GuestClock;
  readonly channels: readonly [Channel, Channel, Channel] = [new Channel(), new Channel(), new Channel()];
  /** Channel 0's next rising OUT edge (clock edge number), Infinity if none; and its instruction count. */
  private nextIrqTick = Infinity;
  private nextIrqIcount = Infinity;
  /** Rising edges of channel 0 so far (IRQ 0 requests; edges the machine passed at once coalesce in IRR). */
  ticks = 0;

  constructor(private readonly ctx: DeviceContext) {
    this.clock = new GuestClock(PIT_HZ, ctx.cyclesPerInstruction, ctx.tscHz);
    // Channel 2's gate is low until port 0x61 bit 0 raises it (AT reset state).
    this.channels[2].gate = false;
  }

  /** Clock edges that have happened by now. */
  tick(): number {
    return this.clock.ticksAt(this.ctx.now());
  }

  /** Channel 2's GATE (port 0x61 bit 0). */
  setGate2(level: boolean): void {
    this.channels[2].setGate(level, this.tick());
  }

  /** Channel 2's OUT (port 0x61 bit 5). */
  out2(): boolean {
    return this.channels[2].outAt(this.tick());
  }

  in(port: number, _size: AccessSize): number {
    if (port === 0x43) return 0xff; // the control word register cannot be read (datasheet "Read operations")
    const c = this.channels[port - 0x40];
    if (c.status >= 0) {
      const s = c.status;
      c.status = -1;
      return s;
    }
    if (c.latchedBytes > 0) {
      const msb = c.latchMsbFirst;
      c.latchedBytes--;
      if (c.latchedBytes > 0) c.latchMsbFirst = true;
      return msb ? c.latched >> 8 : c.latched & 0xff;
    }
    const v = this.encode(c, c.countAt(this.tick()));
    switch (c.access) {
      case Access.lsb: return v & 0xff;
      case Access.msb: return v >> 8;
      default: {
        const msb = c.readMsb;
        c.readMsb = !msb;
        return msb ? v >> 8 : v & 0xff;
      }
    }
  }

  out(port: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    const t = this.tick();
    if (port === 0x43) {
      const sc = v >> 6;
      if (sc === 3) {
        this.readBack(v, t);
        return;
      }
      const c = this.channels[sc];
      const access = (v >> 4) & 3;
      if (access === Access.latch) this.latchCount(c, t);
      else c.control((v >> 1) & 7, access, (v & 1) !== 0);
      if (sc === 0) this.reschedule(t);
      return;
    }
    const n = port - 0x40;
    const c = this.channels[n];
    switch (c.access) {
      case Access.lsb: c.load(v, t); break;
      case Access.msb: c.load(v << 8, t); break;
      default:
        if (!c.writeMsb) {
          c.lowByte = v;
          c.writeMsb = true;
          return;
        }
        c.writeMsb = false;
        c.load(c.lowByte | (v << 8), t);
    }
    if (n === 0) this.reschedule(t);
  }

  /** Counter latch command: the count is frozen for reading until read in full (a second latch is ignored). */
  private latchCount(c: Channel, t: number): void {
    if (c.latchedBytes > 0) return;
    c.latched = this.encode(c, c.countAt(t));
    c.latchedBytes = c.access === Access.word ? 2 : 1;
    c.latchMsbFirst = c.access === Access.msb;
  }

  /**
   * Read-back command (datasheet): bit 5 clear latches the counts, bit 4 clear latches the status of the
   * channels selected by bits 3-1. Status: OUT (bit 7), NULL COUNT (bit 6), RW1-RW0, M2-M0, BCD.
   */
  private readBack(v: number, t: number): void {
    for (let n = 0; n < 3; n++) {
      if ((v & (2 << n)) === 0) continue;
      const c = this.channels[n];
      if ((v & 0x20) === 0) this.latchCount(c, t);
      if ((v & 0x10) === 0 && c.status < 0) {
        const nullCount = !c.armed || t < c.loadTick || c.writeMsb || c.pendingTick === PENDING_TRIGGER || (c.pendingTick >= 0 && t < c.pendingTick);
        c.status = (c.outAt(t) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0);
      }
    }
  }

  /** A count as the chip presents it (BCD when the channel counts in BCD). */
  private encode(c: Channel, count: number): number {
    return c.bcd ? toBcd(count % 10000) : count & 0xffff;
  }

  private reschedule(t: number): void {
    this.nextIrqTick = this.channels[0].nextRiseAfter(t);
    this.nextIrqIcount = this.nextIrqTick === Infinity ? Infinity : this.clock.icountOf(this.nextIrqTick);
  }

  nextEventAt(): number {
    return this.nextIrqIcount;
  }

  advanceTo(icount: number): void {
    if (icount < this.nextIrqIcount) return;
    const t = this.clock.ticksAt(icount);
    const c = this.channels[0];
    // Count every rising edge passed (one request reaches the PIC: edges the machine passed at once, as
    // across a long HLT in a test, coalesce in IRR).
    let e = this.nextIrqTick;
    let n = 0;
    while (e <= t) {
      c.sync(e);
      if ((c.mode === 2 || c.mode === 3) && c.pendingTick < 0) {
        n += Math.floor((t - e) / c.count) + 1;
        break;
      }
      n++;
      e = c.nextRiseAfter(e);
    }
    this.ticks += n;
    this.reschedule(t);
    this.ctx.raiseIrq(PIT_IRQ);
  }

  saveState(): unknown {
    const s: Record<string, number | boolean> = { ticks: this.ticks, nextIrqTick: this.nextIrqTick === Infinity ? -1 : this.nextIrqTick };
    this.channels.forEach((c, n) => { for (const [k, v] of Object.entries(c.save())) s[`${n}.${k}`] = v; });
    return s;
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.channels.forEach((c, n) => c.load_(r, `${n}.`));
    this.ticks = r.uint('ticks');
    // The deadline as saved: the restoring machine's clock may not be at the checkpoint's instruction yet.
    const next = r.num('nextIrqTick');
    this.nextIrqTick = next === -1 ? Infinity : r.uint('nextIrqTick');
    this.nextIrqIcount = this.nextIrqTick === Infinity ? Infinity : this.clock.icountOf(this.nextIrqTick);
  }
}

function fromBcd(v: number): number {
  return ((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 + ((v >> 4) & 15) * 10 + (v & 15);
}

function toBcd(n: number): number {
  return (Math.floor(n / 1000) % 10) << 12 | (Math.floor(n / 100) % 10) << 8 | (Math.floor(n / 10) % 10) << 4 | n % 10;
}
