// The one port-I/O bus (docs/machine.md "Port I/O"): a 64 Ki-entry table maps each port to the device that
// claims it, so an access costs one typed-array load and one call. An access is routed by its first port (a
// 16-bit access to 0x21 goes to the owner of 0x21). Unclaimed ports read all-ones and ignore writes, as on
// an ISA bus with nothing driving the data lines.

import { maskToSize, StateReader, DeviceStateError, type AccessSize, type Device } from './Device.js';

const PORTS = 0x10000;
const MAX_DEVICES = 255;

export class IoBus {
  /** Registered devices, in registration order. */
  readonly devices: Device[] = [];
  /** Port -> device index + 1 (0 = unclaimed). */
  private readonly table = new Uint8Array(PORTS);
  /** The devices that have internal events (nextEventAt is asked after every port access: only these answer). */
  private readonly timed: Device[] = [];

  /** Claim the device's ports; throws if a range is invalid, overlaps a claimed port, or the name is taken. */
  register(device: Device): void {
    if (this.devices.length >= MAX_DEVICES) throw new Error(`I/O bus: more than ${MAX_DEVICES} devices`);
    if (this.devices.some((d) => d.name === device.name)) throw new Error(`I/O bus: a device named '${device.name}' is already registered`);
    for (const [first, last] of device.ports) {
      if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= PORTS || first > last) {
        throw new Error(`I/O bus: device '${device.name}' claims an invalid port range ${hex(first)}-${hex(last)}`);
      }
      for (let p = first; p <= last; p++) {
        const owner = this.table[p];
        if (owner !== 0) {
          throw new Error(`I/O bus: device '${device.name}' claims port ${hex(p)} (range ${hex(first)}-${hex(last)}), already owned by '${this.devices[owner - 1].name}'`);
        }
      }
    }
    // Ranges of one device may overlap each other; claim only after every check passed.
    this.devices.push(device);
    if (device.nextEventAt !== undefined) this.timed.push(device);
    const idx = this.devices.length;
    for (const [first, last] of device.ports) this.table.fill(idx, first, last + 1);
  }

  /** The device owning a port, or null. */
  deviceAt(port: number): Device | null {
    const i = this.table[port & 0xffff];
    return i === 0 ? null : this.devices[i - 1];
  }

  /** Name of the device owning a port ('none' if unclaimed), as IoEvent.device reports it. */
  deviceNameAt(port: number): string {
    const i = this.table[port & 0xffff];
    return i === 0 ? 'none' : this.devices[i - 1].name;
  }

  /** IN: the value, unsigned and masked to the access size; all-ones from an unclaimed port. */
  in(port: number, size: AccessSize): number {
    const i = this.table[port & 0xffff];
    if (i === 0) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return maskToSize(this.devices[i - 1].in(port & 0xffff, size), size);
  }

  /** OUT: the value is masked to the access size before the device sees it. */
  out(port: number, size: AccessSize, value: number): void {
    const i = this.table[port & 0xffff];
    if (i !== 0) this.devices[i - 1].out(port & 0xffff, size, maskToSize(value, size));
  }

  /**
   * REP INS: `count` elements of `size` bytes from one port, little endian, in order (the CPU stores them
   * at successive addresses; DF only changes where). Uses the device's bulk path when it has one.
   */
  insString(port: number, size: AccessSize, count: number, dst?: Uint8Array): Uint8Array {
    const n = count * size;
    const out = dst !== undefined ? dst.subarray(0, n) : new Uint8Array(n);
    if (out.length !== n) throw new Error(`I/O bus: insString buffer holds ${dst!.length} bytes, needs ${n}`);
    const d = this.deviceAt(port);
    if (d !== null && d.inString !== undefined) {
      d.inString(port & 0xffff, size, out);
      return out;
    }
    for (let k = 0; k < n; k += size) {
      const v = this.in(port, size);
      out[k] = v & 0xff;
      if (size > 1) out[k + 1] = (v >>> 8) & 0xff;
      if (size > 2) {
        out[k + 2] = (v >>> 16) & 0xff;
        out[k + 3] = v >>> 24;
      }
    }
    return out;
  }

  /** REP OUTS: bytes.length / size elements to one port, little endian, in order. */
  outsString(port: number, size: AccessSize, bytes: Uint8Array): void {
    if (bytes.length % size !== 0) throw new Error(`I/O bus: outsString of ${bytes.length} bytes is not a whole number of ${size}-byte elements`);
    const d = this.deviceAt(port);
    if (d === null) return;
    if (d.outString !== undefined) {
      d.outString(port & 0xffff, size, bytes);
      return;
    }
    for (let k = 0; k < bytes.length; k += size) {
      const v = size === 1 ? bytes[k] : size === 2 ? bytes[k] | (bytes[k + 1] << 8)
        : (bytes[k] | (bytes[k + 1] << 8) | (bytes[k + 2] << 16) | (bytes[k + 3] << 24)) >>> 0;
      d.out(port & 0xffff, size, v);
    }
  }

  /** Earliest internal event of any device (icount), Infinity if none. */
  nextEventAt(): number {
    let t = Infinity;
    const timed = this.timed;
    for (let k = 0; k < timed.length; k++) {
      const n = timed[k]!.nextEventAt!();
      if (n < t) t = n;
    }
    return t;
  }

  /**
   * Run every device's events due at or before icount. Devices do not interact except through the
   * interrupt controller's request bits, which commute, so the order between devices does not matter.
   */
  advanceTo(icount: number): void {
    for (const d of this.devices) if (d.advanceTo !== undefined) d.advanceTo(icount);
  }

  /** Every device's state, keyed by device name. */
  saveState(): Record<string, unknown> {
    const s: Record<string, unknown> = {};
    for (const d of this.devices) s[d.name] = d.saveState();
    return s;
  }

  /** Restore every registered device; the state must name exactly the registered devices. */
  loadState(state: unknown): void {
    new StateReader('bus', state);
    const rec = state as Record<string, unknown>;
    const names = new Set(this.devices.map((d) => d.name));
    for (const k of Object.keys(rec)) if (!names.has(k)) throw new DeviceStateError('bus', `state for unknown device '${k}'`);
    for (const d of this.devices) {
      if (!(d.name in rec)) throw new DeviceStateError('bus', `no state for device '${d.name}'`);
    }
    for (const d of this.devices) d.loadState(rec[d.name]);
  }
}

function hex(n: number): string {
  return Number.isInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
}
