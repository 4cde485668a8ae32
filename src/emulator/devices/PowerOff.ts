// Power-off port (docs/machine.md: 0x500): a 32-bit write of a status ends the run with reason
// `guest-exit` and that status. The device only reports it; stopping the run is the machine's business.
// Writes of other sizes report the value masked to their size (the bus masks it); reads return 0.

import { StateReader, type AccessSize, type Device, type PortRange } from './Device.js';

export const POWER_OFF_PORT = 0x500;

export class PowerOff implements Device {
  readonly name = 'poweroff';
  readonly ports: readonly PortRange[] = [[POWER_OFF_PORT, POWER_OFF_PORT]];
  /** Status of the last power-off request, or -1 if none. */
  status = -1;

  constructor(private readonly onPowerOff: (status: number) => void = () => {}) {}

  in(_port: number, _size: AccessSize): number {
    return 0;
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.status = value >>> 0;
    this.onPowerOff(this.status);
  }

  saveState(): unknown {
    return { status: this.status };
  }

  loadState(state: unknown): void {
    const r = new StateReader(this.name, state);
    const s = r.num('status');
    this.status = s === -1 ? -1 : r.uint('status', 0xffffffff);
  }
}
