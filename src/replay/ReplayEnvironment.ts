// Replay's environment: no devices, only the input log. Every call the machine makes must match the next
// logged entry (kind, icount, port); the first mismatch is a divergence, reported with both sides.

import type { Environment } from '../emulator/machine.js';
import { InputKind, type InputEntry } from './inputLog.js';

const KIND_NAME: Record<number, string> = Object.fromEntries(Object.entries(InputKind).map(([k, v]) => [v, k]));

export class InputDivergence extends Error {
  constructor(
    readonly expected: InputEntry | undefined,
    readonly actual: string,
    readonly index: number,
    /** The icount the replay asked at. */
    readonly at: number,
  ) {
    super(`input ${index}: the log has ${expected === undefined ? 'nothing more' : describe(expected)}, the replay asked for ${actual}`);
    this.name = 'InputDivergence';
  }
}

export function describe(e: InputEntry): string {
  const [kind, icount, ...rest] = e;
  const args = rest.map((x) => (x instanceof Uint8Array ? `${x.length} bytes` : typeof x === 'number' && x > 255 ? `0x${x.toString(16)}` : String(x)));
  return `${KIND_NAME[kind as number] ?? `kind ${String(kind)}`} at icount ${String(icount)} (${args.join(', ')})`;
}

export class ReplayEnvironment implements Environment {
  private pos = 0;
  private nextAdvance = -1;

  constructor(
    private readonly log: InputEntry[],
    private readonly now: () => number,
    private readonly writePhys: (phys: number, bytes: Uint8Array) => void,
    private readonly deviceNames: (port: number) => string,
  ) {
    this.findNextAdvance();
  }

  /** Continue from entry `pos` (a checkpoint's position in the log). */
  seek(pos: number): void {
    if (!Number.isInteger(pos) || pos < 0 || pos > this.log.length) throw new Error(`input log position ${pos} outside the log (${this.log.length} entries)`);
    this.pos = pos;
    this.nextAdvance = -1;
    this.findNextAdvance();
  }

  /** Entries consumed so far. */
  get consumed(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.log.length - this.pos;
  }

  private findNextAdvance(): void {
    if (this.nextAdvance >= this.pos) return; // still ahead of us
    let i = this.pos;
    while (i < this.log.length && this.log[i][0] !== InputKind.advance) i++;
    this.nextAdvance = i;
  }

  private take(kind: InputKind, icount: number, what: string): InputEntry {
    const e = this.log[this.pos];
    if (e === undefined || e[0] !== kind || e[1] !== icount) throw new InputDivergence(e, `${what} at icount ${icount}`, this.pos, icount);
    this.pos++;
    return e;
  }

  /** Apply the DMA entries that follow the call just consumed. */
  private applyEffects(): void {
    for (;;) {
      const e = this.log[this.pos];
      if (e === undefined || e[0] !== InputKind.dma) break;
      this.writePhys(e[2] as number, e[3] as Uint8Array);
      this.pos++;
    }
    this.findNextAdvance();
  }

  nextEventAt(): number {
    this.findNextAdvance();
    const e = this.log[this.nextAdvance];
    return e === undefined ? Infinity : (e[1] as number);
  }

  advanceTo(icount: number): boolean {
    const at = this.nextEventAt();
    if (icount < at) return false;
    const e = this.take(InputKind.advance, icount, 'device events');
    this.applyEffects();
    return e[2] === 1;
  }

  inRaisedIrq = false;

  portIn(port: number, size: number): number {
    const e = this.take(InputKind.portIn, this.now(), `IN from port 0x${port.toString(16)}`);
    if (e[2] !== port || e[3] !== size) throw new InputDivergence(e, `IN from port 0x${port.toString(16)} size ${size}`, this.pos - 1, e[1] as number);
    this.inRaisedIrq = e[5] === 1;
    this.applyEffects();
    return e[4] as number;
  }

  portOut(port: number, size: number, value: number): boolean {
    const e = this.take(InputKind.portOut, this.now(), `OUT to port 0x${port.toString(16)}`);
    if (e[2] !== port || e[3] !== size || e[4] !== value >>> 0) {
      throw new InputDivergence(e, `OUT 0x${(value >>> 0).toString(16)} to port 0x${port.toString(16)} size ${size}`, this.pos - 1, e[1] as number);
    }
    this.applyEffects();
    return e[5] === 1;
  }

  deviceAt(port: number): string {
    return this.deviceNames(port);
  }

  pendingVector(): number {
    return this.take(InputKind.pending, this.now(), 'the pending interrupt vector')[2] as number;
  }

  acknowledge(): number {
    return this.take(InputKind.acknowledge, this.now(), 'an interrupt acknowledge')[2] as number;
  }
}
