// Ground-truth port (docs/machine.md "Ground truth (0x510)"): the guest kernel writes the physical address
// of a 64-byte `struct gt_event` with a 32-bit OUT; the device reads the structure from guest memory and
// reports it as a GroundTruthEvent. The port is `silent`: it never causes a VM exit, costs nothing in the
// cost model and is recorded apart from all I/O (the machine honours that; the device only says so).
//
//   struct gt_event {          // 64 bytes, little endian, must not cross a page
//     uint32_t type, pid, tid, ppid;      // offsets 0, 4, 8, 12
//     uint64_t cr3, a0, a1, a2;           // offsets 16, 24, 32, 40
//     char name[16];                      // offset 48, NUL padded
//   };
//
// 64-bit fields become numbers (exact below 2^53, events.ts). The name is read up to the first NUL as
// Latin-1 (one character per byte, so no byte is lost or replaced). A write that is not 32 bits wide or an
// address whose structure crosses a page breaks the contract: it goes to onError, which by default throws
// a GuestProtocolError naming the address.

import { GuestProtocolError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';
import type { GroundTruthEvent } from '../events.js';

export const GROUND_TRUTH_PORT = 0x510;
/** The one access the port takes: a 32-bit OUT (it touches ports 0x510-0x513, which an I/O bitmap must pass). */
export const GROUND_TRUTH_ACCESS_BYTES = 4;
export const GT_EVENT_BYTES = 64;
const PAGE = 4096;
const TWO32 = 4294967296;

export interface GroundTruthPortOptions {
  onGroundTruth?: (e: GroundTruthEvent) => void;
  /** A write that breaks the contract; the default throws GuestProtocolError. */
  onError?: (message: string) => void;
}

export class GroundTruthPort implements Device {
  readonly name = 'groundtruth';
  readonly ports: readonly PortRange[] = [[GROUND_TRUTH_PORT, GROUND_TRUTH_PORT]];
  readonly silent = true;
  /** Events reported since construction. */
  events = 0;
  private readonly onGroundTruth: (e: GroundTruthEvent) => void;
  private readonly onError: (message: string) => void;

  constructor(private readonly ctx: DeviceContext, opts: GroundTruthPortOptions = {}) {
    this.onGroundTruth = opts.onGroundTruth ?? (() => {});
    this.onError = opts.onError ?? ((m) => {
      throw new GuestProtocolError(this.name, m);
    });
  }

  in(_port: number, _size: AccessSize): number {
    return 0;
  }

  out(_port: number, size: AccessSize, value: number): void {
    if (size !== GROUND_TRUTH_ACCESS_BYTES) {
      this.onError(`${size * 8}-bit write of 0x${value.toString(16)}; the port takes a 32-bit physical address`);
      return;
    }
    const addr = value >>> 0;
    if ((addr % PAGE) + GT_EVENT_BYTES > PAGE) {
      this.onError(`struct gt_event at physical 0x${addr.toString(16)} crosses a page boundary`);
      return;
    }
    const e = parseGroundTruth(this.ctx.dmaRead(addr, GT_EVENT_BYTES), this.ctx.now());
    this.events++;
    this.onGroundTruth(e);
  }

  saveState(): unknown {
    return { events: this.events };
  }

  loadState(state: unknown): void {
    this.events = new StateReader(this.name, state).uint('events');
  }
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number): number => u32(b, o) + u32(b, o + 4) * TWO32;
// Arguments as signed 64-bit numbers: exact for small negatives (a -1 pid argument) and for kernel-half
// addresses, where the unsigned reading would round above 2^53 (and the trace's words would lose it).
const s64 = (b: Uint8Array, o: number): number => u32(b, o) + (u32(b, o + 4) | 0) * TWO32;

/** The last name decoded and its 16 bytes: a task's comm repeats from event to event. */
const lastNameBytes = new Uint8Array(16);
let lastName = '';

function nameAt(b: Uint8Array, at: number): string {
  let same = true;
  for (let i = 0; i < 16; i++) {
    if (b[at + i] !== lastNameBytes[i]) {
      same = false;
      break;
    }
  }
  if (same) return lastName;
  let name = '';
  for (let i = at; i < at + 16 && b[i] !== 0; i++) name += String.fromCharCode(b[i]!);
  lastNameBytes.set(b.subarray(at, at + 16));
  lastName = name;
  return name;
}

/** Decode one 64-byte struct gt_event (docs/machine.md) observed at `icount`. */
export function parseGroundTruth(b: Uint8Array, icount: number): GroundTruthEvent {
  if (b.length < GT_EVENT_BYTES) throw new Error(`struct gt_event needs ${GT_EVENT_BYTES} bytes, got ${b.length}`);
  return {
    kind: 'groundTruth', icount, type: u32(b, 0), pid: u32(b, 4), tid: u32(b, 8), ppid: u32(b, 12),
    cr3: u64(b, 16), a0: s64(b, 24), a1: s64(b, 32), a2: s64(b, 40), name: nameAt(b, 48),
  };
}
