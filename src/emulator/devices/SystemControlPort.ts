// Port 0x61, the PC/AT system control port B (IBM Personal Computer AT Technical Reference, System Board,
// "I/O address map" and port 61h bit assignments; the PIIX keeps it as NMI status and control, Intel 82371AB
// datasheet 4.1.x "NMISC"):
//   write: bit 0 timer 2 gate (8254 channel 2 GATE), bit 1 speaker data enable, bit 2 parity check enable
//          (0 = enabled), bit 3 I/O channel check enable (0 = enabled); bits 7-4 ignored.
//   read:  bits 3-0 as written, bit 4 refresh detect (toggles every 15.085 us: the DRAM refresh request of
//          8254 channel 1 programmed to 18 on the AT, here derived from the 8254's clock: edge / 18, odd or
//          even, so it is a function of guest time), bit 5 timer 2 OUT, bit 6 I/O channel check (0: this
//          machine has no ISA channel errors), bit 7 parity error (0).
// Linux uses bit 0 and bit 5 to calibrate the TSC against channel 2 (arch/x86/kernel/tsc.c pit_calibrate_tsc,
// quick_pit_calibrate); the speaker has no output here.

import { StateReader, type AccessSize, type Device, type PortRange } from './Device.js';
import type { Pit } from './Pit.js';

/** 8254 clock edges per refresh-detect toggle (15.085 us at 1.193182 MHz). */
export const REFRESH_EDGES = 18;

export class SystemControlPort implements Device {
  readonly name = 'port61';
  readonly ports: readonly PortRange[] = [[0x61, 0x61]];
  /** Bits 3-0 as last written. */
  control = 0;

  constructor(private readonly pit: Pit) {}

  in(_port: number, _size: AccessSize): number {
    const refresh = Math.floor(this.pit.tick() / REFRESH_EDGES) & 1;
    return this.control | (refresh << 4) | (this.pit.out2() ? 0x20 : 0);
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.control = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }

  saveState(): unknown {
    return { control: this.control };
  }

  loadState(state: unknown): void {
    this.control = new StateReader(this.name, state).uint('control', 0x0f);
  }
}
