// The PC's CMOS real-time clock: a Motorola MC146818A behind index port 0x70 (bits 6-0 the register, bit 7
// NMI disable, as on the IBM PC/AT) and data port 0x71, interrupting on IRQ 8. Source: Motorola MC146818A
// Real-Time Clock Plus RAM datasheet ("Address map", "Time, calendar and alarm data modes" table 3,
// "Register A" (UIP, DV2-DV0, RS3-RS0, table 4 periodic rates), "Register B" (SET, PIE, AIE, UIE, SQWE,
// DM, 24/12, DSE), "Register C" (IRQF, PF, AF, UF, cleared by reading), "Register D" (VRT), "Update cycle":
// UIP is set 244 us before the update); the AT century byte at 0x32 (IBM PC/AT Technical Reference, CMOS
// RAM address map). QEMU's hw/rtc/mc146818rtc.c follows the same datasheet.
//
// Determinism: the date is a fixed epoch plus guest time. At reset the clock reads RTC_EPOCH (2025-01-01
// 00:00:00, a Wednesday), with the first update one second of guest time later; guest time is counted in
// edges of the 32.768 kHz time base (GuestClock), so every read is a function of the instruction count.
// A guest that sets the clock (SET, write the registers, clear SET) moves the base: the written time holds
// from that instant and the next update follows one second later.
//
// Flags (register C) are set whatever the enable bits say (datasheet "Register C"); they are computed when C
// is read, from the periodic edges and updates that fell since the last read. IRQ 8 is raised when a flag
// with its enable bit becomes set (IRQF), at the instruction count of that edge or update (the machine's
// event check), and the line stays asserted until C is read. Not modelled: daylight saving (DSE is kept
// but never adjusts), the square-wave pin, time bases other than 32.768 kHz (DV other than 010 and the
// divider reset 11x: the reset holds the clock, and leaving it starts the first update half a second later),
// and converting stored time when DM or 24/12 change (the registers are formatted on each read).

import { DeviceStateError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';
import { GuestClock } from './GuestClock.js';

/** Seconds since 1970-01-01 UTC at which the clock starts: 2025-01-01 00:00:00 UTC. */
export const RTC_EPOCH = 1_735_689_600;
export const RTC_IRQ = 8;
/** The MC146818's time base. */
export const RTC_HZ = 32_768;
/** UIP is set this many time-base edges before an update (244 us). */
const UIP_EDGES = 8;

const Reg = { sec: 0, secAlarm: 1, min: 2, minAlarm: 3, hour: 4, hourAlarm: 5, dow: 6, dom: 7, month: 8, year: 9,
  a: 0x0a, b: 0x0b, c: 0x0c, d: 0x0d, century: 0x32 } as const;
const B = { set: 0x80, pie: 0x40, aie: 0x20, uie: 0x10, dm: 0x04, h24: 0x02 } as const;
const C = { irqf: 0x80, pf: 0x40, af: 0x20, uf: 0x10 } as const;

interface Fields { sec: number; min: number; hour: number; dom: number; month: number; year: number }

export class Rtc implements Device {
  readonly name = 'rtc';
  readonly ports: readonly PortRange[] = [[0x70, 0x71]];
  readonly clock: GuestClock;
  /** Register index (0x70 bits 6-0) and the NMI-disable bit 7 (the machine has no NMI source to mask). */
  index = 0;
  nmiDisabled = false;
  regA: number = 0x26; // DV = 010 (32.768 kHz), RS = 0110 (1024 Hz), the AT BIOS setting
  regB: number = B.h24; // BCD, 24-hour
  /** Flags already collected into register C (bits 6-4). */
  flags = 0;
  /** Time-base edge up to which flags are collected. */
  private collected = 0;
  /** Epoch seconds of the clock at time-base edge baseTick (updates at baseTick + k x 32768). */
  baseSeconds = RTC_EPOCH;
  baseTick = 0;
  /** Divider held in reset (DV = 11x): the clock stands at baseSeconds. */
  dividerReset = false;
  /** While SET is 1: the time the guest sees and writes. */
  private frozen: Fields | null = null;
  /** Alarm registers (raw bytes, 0xc0-0xff = don't care) and user RAM 0x0e-0x7f (index = register). */
  readonly ram = new Uint8Array(128);
  /** IRQ 8 asserted (until C is read). */
  irqLine = false;
  private nextEvent = Infinity;
  private nextEventIcount = Infinity;

  constructor(private readonly ctx: DeviceContext) {
    this.clock = new GuestClock(RTC_HZ, ctx.cyclesPerInstruction, ctx.tscHz);
    this.baseTick = 0;
    this.reschedule(0);
  }

  private tick(): number {
    return this.clock.ticksAt(this.ctx.now());
  }

  private get running(): boolean {
    return !this.dividerReset && (this.regB & B.set) === 0;
  }

  /** Epoch seconds at edge t. */
  secondsAt(t: number): number {
    if (!this.running || t < this.baseTick) return this.baseSeconds;
    return this.baseSeconds + Math.floor((t - this.baseTick) / RTC_HZ);
  }

  /** Edges between periodic-interrupt flags (table 4), 0 = none. */
  private periodEdges(): number {
    const rs = this.regA & 15;
    if (rs === 0 || this.dividerReset) return 0;
    return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
  }

  /** Set PF, UF and AF for the periodic edges and updates in (collected, t]. */
  private collect(t: number): void {
    const from = this.collected;
    if (t <= from) return;
    this.collected = t;
    const p = this.periodEdges();
    if (p > 0 && Math.floor(t / p) > Math.floor(from / p)) this.flags |= C.pf;
    if (!this.running) return;
    // Updates happen at baseTick + k x 32768, k >= 1.
    const first = Math.max(1, Math.floor((from - this.baseTick) / RTC_HZ) + 1);
    const last = Math.floor((t - this.baseTick) / RTC_HZ);
    if (last < first) return;
    this.flags |= C.uf;
    if ((this.flags & C.af) !== 0) return;
    // An alarm matches at most once a second: a day of updates covers every pattern.
    for (let k = Math.max(first, last - 86_399); k <= last; k++) {
      if (this.alarmMatches(this.baseSeconds + k)) {
        this.flags |= C.af;
        break;
      }
    }
  }

  private alarmMatches(seconds: number): boolean {
    const f = fieldsOf(seconds);
    const eq = (alarm: number, reg: number): boolean => (alarm & 0xc0) === 0xc0 || alarm === reg;
    return eq(this.ram[Reg.secAlarm], this.format(f.sec)) && eq(this.ram[Reg.minAlarm], this.format(f.min))
      && eq(this.ram[Reg.hourAlarm], this.formatHour(f.hour));
  }

  /** The first edge after t at which a flag with its enable bit set would appear, or Infinity. */
  private nextInterruptAfter(t: number): number {
    let e = Infinity;
    const p = this.periodEdges();
    if ((this.regB & B.pie) !== 0 && p > 0) e = (Math.floor(t / p) + 1) * p;
    if ((this.regB & (B.uie | B.aie)) !== 0 && this.running) {
      const k = Math.max(1, Math.floor((t - this.baseTick) / RTC_HZ) + 1);
      e = Math.min(e, this.baseTick + k * RTC_HZ);
    }
    return e;
  }

  private reschedule(t: number): void {
    this.nextEvent = this.irqLine ? Infinity : this.nextInterruptAfter(t);
    this.nextEventIcount = this.nextEvent === Infinity ? Infinity : this.clock.icountOf(this.nextEvent);
  }

  /** Raise IRQ 8 if a flag and its enable are both set (IRQF). */
  private updateIrq(): void {
    if (!this.irqLine && (this.flags & this.regB & 0x70) !== 0) {
      this.irqLine = true;
      this.ctx.raiseIrq(RTC_IRQ);
    }
  }

  nextEventAt(): number {
    return this.nextEventIcount;
  }

  advanceTo(icount: number): void {
    if (icount < this.nextEventIcount) return;
    const t = this.clock.ticksAt(icount);
    this.collect(t);
    this.updateIrq();
    this.reschedule(t);
  }

  // ---- register formatting (datasheet table 3) ------------------------------------------------------

  private format(v: number): number {
    return (this.regB & B.dm) !== 0 ? v : toBcd(v);
  }

  private parse(v: number): number {
    return (this.regB & B.dm) !== 0 ? v : fromBcd(v);
  }

  private formatHour(h: number): number {
    if ((this.regB & B.h24) !== 0) return this.format(h);
    return this.format(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  private parseHour(v: number): number {
    if ((this.regB & B.h24) !== 0) return this.parse(v);
    return (this.parse(v & 0x7f) % 12) + ((v & 0x80) !== 0 ? 12 : 0);
  }

  private currentFields(t: number): Fields {
    return this.frozen ?? fieldsOf(this.secondsAt(t));
  }

  private readReg(r: number): number {
    const t = this.tick();
    switch (r) {
      case Reg.sec: return this.format(this.currentFields(t).sec);
      case Reg.min: return this.format(this.currentFields(t).min);
      case Reg.hour: return this.formatHour(this.currentFields(t).hour);
      case Reg.dow: { const f = this.currentFields(t); return this.format(dayOfWeek(f) + 1); }
      case Reg.dom: return this.format(this.currentFields(t).dom);
      case Reg.month: return this.format(this.currentFields(t).month);
      case Reg.year: return this.format(this.currentFields(t).year % 100);
      case Reg.century: return this.format(Math.floor(this.currentFields(t).year / 100) % 100);
      case Reg.a: {
        const uip = this.running && t >= this.baseTick && (t - this.baseTick) % RTC_HZ >= RTC_HZ - UIP_EDGES;
        return (uip ? 0x80 : 0) | (this.regA & 0x7f);
      }
      case Reg.b: return this.regB;
      case Reg.c: {
        this.collect(t);
        const irqf = (this.flags & this.regB & 0x70) !== 0 ? C.irqf : 0;
        const v = irqf | this.flags;
        this.flags = 0;
        if (this.irqLine) {
          this.irqLine = false;
          this.ctx.lowerIrq(RTC_IRQ);
        }
        this.reschedule(t);
        return v;
      }
      case Reg.d: return 0x80; // VRT: the RAM and time are valid (battery good)
      default: return this.ram[r];
    }
  }

  private writeReg(r: number, v: number): void {
    const t = this.tick();
    this.collect(t); // flags up to now belong to the old settings
    const f = this.frozen;
    switch (r) {
      case Reg.sec: if (f) f.sec = this.parse(v & 0x7f); break;
      case Reg.min: if (f) f.min = this.parse(v & 0x7f); break;
      case Reg.hour: if (f) f.hour = this.parseHour(v); break;
      case Reg.dow: break; // derived from the date
      case Reg.dom: if (f) f.dom = this.parse(v); break;
      case Reg.month: if (f) f.month = this.parse(v); break;
      case Reg.year: if (f) f.year = Math.floor(f.year / 100) * 100 + (this.parse(v) % 100); break;
      case Reg.century: if (f) f.year = (this.parse(v) % 100) * 100 + (f.year % 100); break;
      case Reg.a: {
        const reset = (v & 0x60) === 0x60;
        if (reset && !this.dividerReset) {
          this.baseSeconds = this.secondsAt(t);
          this.dividerReset = true;
        } else if (!reset && this.dividerReset) {
          // Leaving divider reset: the first update comes half a second later (datasheet "Register A").
          this.dividerReset = false;
          this.baseTick = t - RTC_HZ / 2;
        }
        this.regA = v & 0x7f;
        break;
      }
      case Reg.b: {
        const wasSet = (this.regB & B.set) !== 0;
        const set = (v & B.set) !== 0;
        if (set && !wasSet) {
          this.frozen = fieldsOf(this.secondsAt(t));
        }
        if (set) v &= ~B.uie; // "SET = 1 ... UIE is cleared" (datasheet Register B)
        this.regB = v & 0xff;
        if (!set && wasSet && this.frozen !== null) {
          this.baseSeconds = toSeconds(this.frozen);
          this.baseTick = t;
          this.frozen = null;
        }
        break;
      }
      case Reg.c: case Reg.d: break; // read-only
      default: this.ram[r] = v; break;
    }
    this.updateIrq();
    this.reschedule(t);
  }

  in(port: number, _size: AccessSize): number {
    if (port === 0x70) return 0xff; // the index register is write-only
    return this.readReg(this.index);
  }

  out(port: number, _size: AccessSize, value: number): void {
    if (port === 0x70) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & 0x80) !== 0;
      return;
    }
    this.writeReg(this.index, value & 0xff);
  }

  saveState(): unknown {
    const f = this.frozen;
    return {
      index: this.index, nmiDisabled: this.nmiDisabled, regA: this.regA, regB: this.regB, flags: this.flags,
      collected: this.collected, baseSeconds: this.baseSeconds, baseTick: this.baseTick, dividerReset: this.dividerReset,
      frozen: f === null ? null : [f.sec, f.min, f.hour, f.dom, f.month, f.year], ram: this.ram.slice(), irqLine: this.irqLine,
      nextEvent: this.nextEvent === Infinity ? -1 : this.nextEvent,
    };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.index = r.uint('index', 0x7f);
    this.nmiDisabled = r.bool('nmiDisabled');
    this.regA = r.uint('regA', 0x7f);
    this.regB = r.uint('regB', 0xff);
    this.flags = r.uint('flags', 0x70);
    this.collected = r.uint('collected');
    this.baseSeconds = r.num('baseSeconds');
    this.baseTick = r.num('baseTick');
    if (!Number.isInteger(this.baseSeconds) || !Number.isInteger(this.baseTick)) throw new DeviceStateError(this.name, 'time base is not an integer');
    this.dividerReset = r.bool('dividerReset');
    const fr = (state as Record<string, unknown>).frozen;
    if (fr === null) this.frozen = null;
    else {
      const a = r.numList('frozen');
      if (a.length !== 6) throw new DeviceStateError(this.name, 'frozen time has the wrong shape');
      this.frozen = { sec: a[0], min: a[1], hour: a[2], dom: a[3], month: a[4], year: a[5] };
    }
    this.ram.set(r.bytes('ram', 128));
    this.irqLine = r.bool('irqLine');
    // The deadline as saved: the restoring machine's clock may not be at the checkpoint's instruction yet.
    const next = r.num('nextEvent');
    this.nextEvent = next === -1 ? Infinity : r.uint('nextEvent');
    this.nextEventIcount = this.nextEvent === Infinity ? Infinity : this.clock.icountOf(this.nextEvent);
  }
}

// Calendar arithmetic in integers (proleptic Gregorian, H. Hinnant's days_from_civil / civil_from_days), so
// the clock depends on guest time alone and on no host facility.
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function fieldsOf(seconds: number): Fields {
  const days = Math.floor(seconds / 86400);
  const rem = seconds - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const dom = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { sec: rem % 60, min: Math.floor(rem / 60) % 60, hour: Math.floor(rem / 3600), dom, month, year };
}

/** Epoch seconds of a written time (out-of-range fields roll over, months into years, the rest linearly). */
function toSeconds(f: Fields): number {
  const m0 = f.month - 1;
  const year = f.year + Math.floor(m0 / 12);
  const month = m0 - Math.floor(m0 / 12) * 12 + 1;
  const s = (daysFromCivil(year, month, 1) + f.dom - 1) * 86400 + f.hour * 3600 + f.min * 60 + f.sec;
  return Number.isFinite(s) ? s : RTC_EPOCH;
}

/** 0 = Sunday (1970-01-01 was a Thursday). */
function dayOfWeek(f: Fields): number {
  const d = daysFromCivil(f.year, f.month, f.dom);
  return (((d + 4) % 7) + 7) % 7;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 15);
}
