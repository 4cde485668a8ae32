// The device interface every port-I/O device of the machine implements (docs/machine.md "Port I/O").
//
//   interface Device {
//     readonly name: string;                               // unique on a bus; IoEvent.device and state keys use it
//     readonly ports: readonly (readonly [first, last])[]; // inclusive port ranges the device claims
//     readonly silent?: boolean;                           // true: accesses never cause a VM exit, cost
//                                                          // nothing and are recorded apart from all I/O
//                                                          // (the ground-truth port); the machine checks it
//     in(port, size: 1|2|4): number;                       // value read (the bus masks it to `size` bytes)
//     out(port, size: 1|2|4, value): void;                 // value already masked to `size` bytes
//     inString?(port, size, dst: Uint8Array): void;        // optional bulk REP INS: fill dst with
//                                                          // dst.length / size elements, little endian
//     outString?(port, size, src: Uint8Array): void;       // optional bulk REP OUTS
//     nextEventAt?(): number;                              // icount of the next internal event, Infinity if none
//     advanceTo?(icount): void;                            // run internal events due at or before icount
//     saveState(): unknown;                                // plain data msgpackr can encode (checkpoints)
//     loadState(state: unknown): void;                     // restore; throws DeviceStateError on bad data
//   }
//
// Every device gets a DeviceContext at construction. All effects that matter to record/replay go through
// it or through the bus caller (issue 6, rr's and PANDA's design): the values IN returns are seen by whoever
// called the bus; guest-memory writes (DMA) and interrupt requests go through the context, so a recording
// environment logs them and a replay environment substitutes them without running device code. Devices
// read the time only through `now()` and never use the wall clock or Math.random: the same inputs give the
// same outputs. Outputs to the host (console bytes, transmitted packets, power-off, ground truth) are
// callbacks given to each device's constructor; they are functions of guest state, so replay need not log
// them.

/** What a device may do to the rest of the machine. */
export interface DeviceContext {
  /** Current guest instruction count: at an IN/OUT, the icount of that instruction. */
  now(): number;
  /** Guest TSC cycles per retired instruction (TSC = icount x cyclesPerInstruction, docs/machine.md). */
  readonly cyclesPerInstruction: number;
  /** Guest TSC frequency in Hz: guest seconds = icount x cyclesPerInstruction / tscHz (device clocks). */
  readonly tscHz: number;
  /** Edge: sets the interrupt controller's request bit for irq (Pic.raiseIrq). */
  raiseIrq(irq: number): void;
  /** Withdraw a request not yet acknowledged (Pic.lowerIrq): "reading status acknowledges it". */
  lowerIrq(irq: number): void;
  /** Write guest-physical memory (the bytes may be reused by the caller after it returns). */
  dmaWrite(phys: number, bytes: Uint8Array): void;
  /** Read guest-physical memory (a copy or a view the device does not keep). */
  dmaRead(phys: number, length: number): Uint8Array;
}

export type PortRange = readonly [first: number, last: number];
export type AccessSize = 1 | 2 | 4;

export interface Device {
  readonly name: string;
  readonly ports: readonly PortRange[];
  readonly silent?: boolean;
  in(port: number, size: AccessSize): number;
  out(port: number, size: AccessSize, value: number): void;
  inString?(port: number, size: AccessSize, dst: Uint8Array): void;
  outString?(port: number, size: AccessSize, src: Uint8Array): void;
  nextEventAt?(): number;
  advanceTo?(icount: number): void;
  saveState(): unknown;
  loadState(state: unknown): void;
}

/** A device state that cannot be loaded (wrong shape, wrong device, damaged checkpoint). */
export class DeviceStateError extends Error {
  constructor(device: string, detail: string) {
    super(`device '${device}' state: ${detail}`);
    this.name = 'DeviceStateError';
  }
}

/** The guest broke the machine contract in a way the device cannot act on (docs/machine.md). */
export class GuestProtocolError extends Error {
  constructor(device: string, detail: string) {
    super(`device '${device}': ${detail}`);
    this.name = 'GuestProtocolError';
  }
}

/** Typed access to a saved state for loadState, with clear errors instead of silent NaN. */
export class StateReader {
  private readonly rec: Record<string, unknown>;

  constructor(readonly device: string, state: unknown) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new DeviceStateError(device, 'not an object');
    }
    this.rec = state as Record<string, unknown>;
  }

  num(key: string): number {
    const v = this.rec[key];
    if (typeof v !== 'number' || Number.isNaN(v)) throw new DeviceStateError(this.device, `field '${key}' is not a number`);
    return v;
  }

  /** An unsigned integer field, at most `max`. */
  uint(key: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.num(key);
    if (!Number.isInteger(v) || v < 0 || v > max) throw new DeviceStateError(this.device, `field '${key}' = ${v} out of range`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.rec[key];
    if (typeof v !== 'boolean') throw new DeviceStateError(this.device, `field '${key}' is not a boolean`);
    return v;
  }

  /** A fresh copy of a byte-array field (msgpackr decodes bin as Buffer). */
  bytes(key: string, length?: number): Uint8Array {
    return this.toBytes(this.rec[key], key, length);
  }

  byteList(key: string): Uint8Array[] {
    const v = this.rec[key];
    if (!Array.isArray(v)) throw new DeviceStateError(this.device, `field '${key}' is not an array`);
    return v.map((b, i) => this.toBytes(b, `${key}[${i}]`));
  }

  numList(key: string): number[] {
    const v = this.rec[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) {
      throw new DeviceStateError(this.device, `field '${key}' is not an array of numbers`);
    }
    return v as number[];
  }

  private toBytes(v: unknown, key: string, length?: number): Uint8Array {
    if (!(v instanceof Uint8Array)) throw new DeviceStateError(this.device, `field '${key}' is not a byte array`);
    if (length !== undefined && v.length !== length) {
      throw new DeviceStateError(this.device, `field '${key}' has ${v.length} bytes, expected ${length}`);
    }
    return new Uint8Array(v);
  }
}

/** Mask a value to an access size (1, 2 or 4 bytes), unsigned. */
export function maskToSize(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}
