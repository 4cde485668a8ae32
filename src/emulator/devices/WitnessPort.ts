// Kernel-module witness port (docs/machine.md "Kernel-module witness (0x518)"): the Linux guest's vmt_witness
// module (guest/linux/witness/vmt_witness.c) reports each scheduler tracepoint it sees by writing the
// physical address of a 64-byte `struct vmt_witness_event` with a 32-bit OUT; the device reads the structure
// from guest memory and reports it as a WitnessEvent. Unlike the ground-truth port it is an ordinary port:
// the OUT exits (under every preset that traps I/O) and is recorded in io.arrow like any other access.
//
//   struct vmt_witness_event {       // 64 bytes, little endian, must not cross a page
//     uint32_t kind, seq;            // offsets 0, 4   (kind: 0 start, 1 fork, 2 exec, 3 exit, 4 switch)
//     uint32_t pid, tgid;            // 8, 12          the subject task
//     uint32_t other_pid, other_tgid;// 16, 20         parent (fork), old pid (exec), prev (switch)
//     uint32_t arg, flags;           // 24, 28
//     char comm[16], other_comm[16]; // 32, 48         NUL padded
//   };

import { GuestProtocolError, StateReader, type AccessSize, type Device, type DeviceContext, type PortRange } from './Device.js';
import type { WitnessEvent } from '../events.js';

/** The one witness port (the module's VMT_WITNESS_PORT). */
export const WITNESS_PORT = 0x518;
export const WITNESS_ACCESS_BYTES = 4;
export const WITNESS_EVENT_BYTES = 64;
const PAGE = 4096;

export interface WitnessPortOptions {
  onWitness?: (e: WitnessEvent) => void;
  /** A write that breaks the contract; the default throws GuestProtocolError. */
  onError?: (message: string) => void;
}

export class WitnessPort implements Device {
  readonly name = 'witness';
  readonly ports: readonly PortRange[] = [[WITNESS_PORT, WITNESS_PORT]];
  /** Events reported since construction. */
  events = 0;
  private readonly onWitness: (e: WitnessEvent) => void;
  private readonly onError: (message: string) => void;

  constructor(private readonly ctx: DeviceContext, opts: WitnessPortOptions = {}) {
    this.onWitness = opts.onWitness ?? (() => {});
    this.onError = opts.onError ?? ((m) => {
      throw new GuestProtocolError(this.name, m);
    });
  }

  in(_port: number, _size: AccessSize): number {
    return 0xffffffff;
  }

  out(_port: number, size: AccessSize, value: number): void {
    if (size !== WITNESS_ACCESS_BYTES) {
      this.onError(`${size * 8}-bit write of 0x${value.toString(16)}; the port takes a 32-bit physical address`);
      return;
    }
    const addr = value >>> 0;
    if ((addr % PAGE) + WITNESS_EVENT_BYTES > PAGE) {
      this.onError(`struct vmt_witness_event at physical 0x${addr.toString(16)} crosses a page boundary`);
      return;
    }
    const e = parseWitness(this.ctx.dmaRead(addr, WITNESS_EVENT_BYTES), this.ctx.now());
    this.events++;
    this.onWitness(e);
  }

  saveState(): unknown {
    return { events: this.events };
  }

  loadState(state: unknown): void {
    this.events = new StateReader(this.name, state).uint('events');
  }
}

/** Decode one 64-byte struct vmt_witness_event observed at `icount`. */
export function parseWitness(b: Uint8Array, icount: number): WitnessEvent {
  if (b.length < WITNESS_EVENT_BYTES) throw new Error(`struct vmt_witness_event needs ${WITNESS_EVENT_BYTES} bytes, got ${b.length}`);
  const u32 = (o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  const str = (o: number): string => {
    let s = '';
    for (let i = o; i < o + 16 && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
    return s;
  };
  return {
    kind: 'witness', icount, type: u32(0), seq: u32(4), pid: u32(8), tgid: u32(12), otherPid: u32(16), otherTgid: u32(20),
    arg: u32(24) | 0, flags: u32(28), comm: str(32), otherComm: str(48),
  };
}
