// Interval timer (docs/machine.md: ports 0x40-0x43, IRQ 0, vector 0x20). The guest programs a period in
// guest TSC cycles; ticks are counted in guest instructions (period_icount = ceil(period / CPI)), so when
// the timer fires is a function of the instruction count alone (issue 3 "Time and cost model").
//
// - 0x40 32-bit write: period in TSC cycles; 0 stops the timer. A write (re)starts counting at the
//   writing instruction: the first tick is period_icount instructions later, then every period_icount.
// - 0x40 32-bit read: TSC cycles until the next tick ((next - now) x CPI, at most 2^32 - 1); 0 if stopped.
// - 8/16-bit accesses to 0x40 and ports 0x41-0x43 are claimed but do nothing (read 0): the 8254's
//   byte-wise programming is not part of the subset.
// - Each tick raises IRQ 0. Ticks that fall due while the machine is not looking (it skipped ahead past
//   several, e.g. across a HLT) coalesce into one request, as the IRR bit would; `ticks` counts them all.

import { DeviceStateError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';

export const TIMER_IRQ = 0;

export class Timer implements Device {
  readonly name = 'timer';
  readonly ports: readonly PortRange[] = [[0x40, 0x43]];
  /** Programmed period in TSC cycles (0 = stopped). */
  periodCycles = 0;
  /** Period in guest instructions. */
  periodIcount = 0;
  /** icount of the next tick, Infinity when stopped. */
  nextTick = Infinity;
  /** Ticks that have fallen due since construction. */
  ticks = 0;

  constructor(private readonly ctx: DeviceContext) {
    if (!(ctx.cyclesPerInstruction > 0)) throw new Error(`timer: cycles per instruction must be positive, got ${ctx.cyclesPerInstruction}`);
  }

  in(port: number, size: AccessSize): number {
    if (port !== 0x40 || size !== 4 || this.nextTick === Infinity) return 0;
    const left = Math.max(0, this.nextTick - this.ctx.now()) * this.ctx.cyclesPerInstruction;
    return Math.min(left, 0xffffffff);
  }

  out(port: number, size: AccessSize, value: number): void {
    if (port !== 0x40 || size !== 4) return;
    this.program(value >>> 0);
  }

  /** Program a period in TSC cycles at the current icount (what a 32-bit OUT to 0x40 does). */
  program(periodCycles: number): void {
    this.periodCycles = periodCycles;
    if (periodCycles === 0) {
      this.periodIcount = 0;
      this.nextTick = Infinity;
      return;
    }
    this.periodIcount = Math.max(1, Math.ceil(periodCycles / this.ctx.cyclesPerInstruction));
    this.nextTick = this.ctx.now() + this.periodIcount;
  }

  nextEventAt(): number {
    return this.nextTick;
  }

  advanceTo(icount: number): void {
    if (icount < this.nextTick) return;
    const n = Math.floor((icount - this.nextTick) / this.periodIcount) + 1;
    this.ticks += n;
    this.nextTick += n * this.periodIcount;
    this.ctx.raiseIrq(TIMER_IRQ);
  }

  saveState(): unknown {
    return { periodCycles: this.periodCycles, periodIcount: this.periodIcount,
      nextTick: this.nextTick === Infinity ? -1 : this.nextTick, ticks: this.ticks };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.periodCycles = r.uint('periodCycles', 0xffffffff);
    this.periodIcount = r.uint('periodIcount');
    const next = r.num('nextTick');
    this.nextTick = next === -1 ? Infinity : r.uint('nextTick');
    if (this.nextTick !== Infinity && this.periodIcount < 1) throw new DeviceStateError(this.name, 'running with a period of 0 instructions');
    this.ticks = r.uint('ticks');
  }
}
