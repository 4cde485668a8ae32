// Replay's environment: no devices, only the input log. Every call the machine makes must match the next
// logged entry (kind, icount, port); the first mismatch is a divergence, reported with both sides.

import type { Environment } from '../emulator/machine.js';
import { InputKind, type InputEntry, type InputLogFile } from './inputLog.js';

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

/** Entry i of the log, or undefined past its end; asked for in increasing order (InputLogFile reads forward). */
type EntryAt = (i: number) => InputEntry | undefined;

/**
 * How far past the entry being consumed the search for the next device event reads through the log the run
 * consumes from (so those entries are decoded once); beyond, a second reader scouts on without holding them
 * (a log with few device events: memory stays bounded by this many entries, the scouted ones decoded twice).
 */
const AHEAD_HELD = 1 << 16;

export class ReplayEnvironment implements Environment {
  private pos = 0;
  private nextAdvance = -1;
  /** The entries the run consumes, and the search ahead of it for the next device-event entry. */
  private readonly log: EntryAt;
  private readonly ahead: EntryAt;
  private readonly file: InputLogFile | null = null;
  private scout: InputLogFile | null = null;
  private scoutBase = 0;

  /** `log`: the entries, or a factory of forward readers over the log's file (memory bounded by a read each). */
  constructor(
    log: InputEntry[] | (() => InputLogFile),
    private readonly now: () => number,
    private readonly writePhys: (phys: number, bytes: Uint8Array) => void,
    private readonly deviceNames: (port: number) => string,
  ) {
    if (Array.isArray(log)) {
      this.log = (i) => log[i];
      this.ahead = this.log;
    } else {
      const f = (this.file = log());
      f.release(0);
      this.log = (i) => f.at(i);
      this.ahead = (i) => (i - this.pos < AHEAD_HELD || i < f.decoded ? f.at(i) : this.scoutAt(i));
    }
    this.findNextAdvance();
  }

  /** Entry i far ahead of the run: from a reader that continues where the run's reader stopped decoding. */
  private scoutAt(i: number): InputEntry | undefined {
    if (this.scout === null || i < this.scoutBase) {
      this.scout?.close();
      this.scoutBase = this.file!.decoded;
      this.scout = this.file!.resume();
    }
    return this.scout.at(i);
  }

  /** Close the log's files (a replay that stops before the log's end has them open). */
  close(): void {
    this.file?.close();
    this.scout?.close();
  }

  /** Continue from entry `pos` (a checkpoint's position in the log). */
  seek(pos: number): void {
    if (!Number.isInteger(pos) || pos < 0) throw new Error(`input log position ${pos} outside the log`);
    this.file?.release(Math.max(0, pos - 1));
    if (pos > 0 && this.log(pos - 1) === undefined) throw new Error(`input log position ${pos} outside the log`);
    this.pos = pos;
    this.nextAdvance = -1;
    this.scout?.close();
    this.scout = null;
    this.findNextAdvance();
  }

  /** Entries consumed so far. */
  get consumed(): number {
    return this.pos;
  }

  /** Whether every entry was consumed. */
  get atEnd(): boolean {
    return this.log(this.pos) === undefined;
  }

  private findNextAdvance(): void {
    if (this.nextAdvance >= this.pos) return; // still ahead of us
    let i = this.pos;
    for (let e = this.ahead(i); e !== undefined && e[0] !== InputKind.advance; e = this.ahead(i)) i++;
    this.nextAdvance = i;
  }

  private take(kind: InputKind, icount: number, what: string): InputEntry {
    const e = this.log(this.pos);
    if (e === undefined || e[0] !== kind || e[1] !== icount) throw new InputDivergence(e, `${what} at icount ${icount}`, this.pos, icount);
    this.pos++;
    this.file?.release(this.pos);
    return e;
  }

  /** Apply the DMA entries that follow the call just consumed. */
  private applyEffects(): void {
    for (;;) {
      const e = this.log(this.pos);
      if (e === undefined || e[0] !== InputKind.dma) break;
      this.writePhys(e[2] as number, e[3] as Uint8Array);
      this.pos++;
    }
    this.file?.release(this.pos);
    this.findNextAdvance();
  }

  nextEventAt(): number {
    this.findNextAdvance();
    const e = this.ahead(this.nextAdvance);
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
