// Port 0x80, the POST diagnostic port: BIOSes write progress codes there and operating systems write to it
// only to wait about a microsecond (Linux's outb_p/"slow_down_io" and io_delay_type 0x80). On a PC nothing
// decodes it but a POST card (IBM PC/AT Technical Reference: 0x80 is the DMA page register range, unused);
// reads return all-ones as from an undriven ISA bus. The device keeps the last code written, which is what
// a POST card shows.

import { StateReader, type AccessSize, type Device, type PortRange } from './Device.js';

export class PostCode implements Device {
  readonly name = 'post';
  readonly ports: readonly PortRange[] = [[0x80, 0x80]];
  /** Last byte written (a POST card's display). */
  last = 0;
  /** Writes so far. */
  writes = 0;

  in(_port: number, _size: AccessSize): number {
    return 0xffffffff;
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.last = value & 0xff;
    this.writes++;
  }

  saveState(): unknown {
    return { last: this.last, writes: this.writes };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    this.last = r.uint('last', 0xff);
    this.writes = r.uint('writes');
  }
}
