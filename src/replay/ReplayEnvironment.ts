// Replay's environment: no devices, only the input log. Every call the machine makes must match the next
// logged entry (kind, icount, port); the first mismatch is a divergence, reported with both sides.

import type { Environment } from '../emulator/machine.js';
import { GROUND_TRUTH_PORT } from '../emulator/devices/GroundTruthPort.js';
import { InputChunk, STRIDE } from './InputChunk.js';
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

/**
 * How far past the entry being consumed the search for the next device event reads through the log the run
 * consumes from (so those entries are decoded once); beyond, a second reader scouts on without holding them
 * (a log with few device events: memory stays bounded by this many entries, the scouted ones decoded twice).
 */
const AHEAD_HELD = 1 << 16;

/** No entries: where the lookups below start (their first call finds the chunk). */
const NONE = new InputChunk();
NONE.base = -1;

/**
 * The log's entries are read by index from decoded chunks (InputChunk: kind, icount and the other numbers of
 * entry j at f[j * STRIDE + k]), with no array per entry: `at(i)` makes entry i's chunk `cur` and returns the
 * index of its fields in cur.f. A chunk's fields stay valid until the next lookup that decodes, so each call
 * reads what it needs from an entry before it looks up the next one.
 */
export class ReplayEnvironment implements Environment {
  private pos = 0;
  private nextAdvance = -1;
  /** The chunk of the entry looked up last by the run (`at`) and by the search ahead (`aheadAt`). */
  private cur: InputChunk = NONE;
  private aheadCur: InputChunk = NONE;
  /** The log given as an array (one chunk), or the reader the run consumes from. */
  private readonly whole: InputChunk | null = null;
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
    if (Array.isArray(log)) this.whole = InputChunk.of(log);
    else {
      this.file = log();
      this.file.release(0);
    }
    this.findNextAdvance();
  }

  /** Entry i's index in this.cur.f, or -1 past the log's end. */
  private at(i: number): number {
    let c = this.cur;
    let j = i - c.base;
    if (j < 0 || j >= c.n) {
      const d = this.file !== null ? this.file.chunkAt(i) : i < this.whole!.n ? this.whole : null;
      if (d === null) return -1;
      this.cur = c = d;
      j = i - d.base;
    }
    return j * STRIDE;
  }

  /** at(i) for the search ahead, into this.aheadCur. */
  private aheadAt(i: number): number {
    let c = this.aheadCur;
    let j = i - c.base;
    if (j < 0 || j >= c.n) {
      const f = this.file;
      const d = f === null ? (i < this.whole!.n ? this.whole : null)
        : i - this.pos < AHEAD_HELD || i < f.decoded ? f.chunkAt(i) : this.scoutAt(i);
      if (d === null) return -1;
      this.aheadCur = c = d;
      j = i - d.base;
    }
    return j * STRIDE;
  }

  /** The chunk of entry i far ahead of the run: from a reader that continues where the run's reader stopped decoding. */
  private scoutAt(i: number): InputChunk | null {
    if (this.scout === null || i < this.scoutBase) {
      this.scout?.close();
      this.scoutBase = this.file!.decoded;
      this.scout = this.file!.resume();
    }
    return this.scout.chunkAt(i);
  }

  /** Entry i as an array (for a divergence message), or undefined past the end. */
  private entry(i: number): InputEntry | undefined {
    const k = this.at(i);
    return k < 0 ? undefined : this.cur.entry(k / STRIDE);
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
    if (pos > 0 && this.at(pos - 1) < 0) throw new Error(`input log position ${pos} outside the log`);
    this.pos = pos;
    this.nextAdvance = -1;
    this.scout?.close();
    this.scout = null;
    this.aheadCur = NONE;
    this.findNextAdvance();
  }

  /** Entries consumed so far. */
  get consumed(): number {
    return this.pos;
  }

  /** Whether every entry was consumed. */
  get atEnd(): boolean {
    return this.at(this.pos) < 0;
  }

  private findNextAdvance(): void {
    if (this.nextAdvance >= this.pos) return; // still ahead of us
    let i = this.pos;
    for (let k = this.aheadAt(i); k >= 0 && this.aheadCur.f[k] !== InputKind.advance; k = this.aheadAt(i)) i++;
    this.nextAdvance = i;
  }

  /**
   * Consume the next entry if it is `kind` at `icount`: its index in this.cur.f, else -1 and the caller throws
   * diverged() (its description of the call is made only then: a string per call was garbage per entry).
   */
  private take(kind: InputKind, icount: number): number {
    const k = this.at(this.pos);
    if (k < 0 || this.cur.f[k] !== kind || this.cur.f[k + 1] !== icount) return -1;
    this.pos++;
    return k;
  }

  private diverged(what: string, icount: number): InputDivergence {
    return new InputDivergence(this.entry(this.pos), `${what} at icount ${icount}`, this.pos, icount);
  }

  /** Apply the DMA entries that follow the call just consumed. */
  private applyEffects(): void {
    for (;;) {
      const k = this.at(this.pos);
      if (k < 0 || this.cur.f[k] !== InputKind.dma) break;
      const e = this.cur.entry(k / STRIDE);
      this.writePhys(e[2] as number, e[3] as Uint8Array);
      this.pos++;
    }
    this.file?.release(this.pos);
    this.findNextAdvance();
  }

  nextEventAt(): number {
    this.findNextAdvance();
    const k = this.aheadAt(this.nextAdvance);
    return k < 0 ? Infinity : this.aheadCur.f[k + 1]!;
  }

  advanceTo(icount: number): boolean {
    const at = this.nextEventAt();
    if (icount < at) return false;
    const k = this.take(InputKind.advance, icount);
    if (k < 0) throw this.diverged('device events', icount);
    const irq = this.cur.f[k + 2] === 1;
    this.applyEffects();
    return irq;
  }

  inRaisedIrq = false;

  portIn(port: number, size: number): number {
    const icount = this.now();
    const k = this.take(InputKind.portIn, icount);
    if (k < 0) throw this.diverged(`IN from port 0x${port.toString(16)}`, icount);
    const f = this.cur.f;
    if (f[k + 2] !== port || f[k + 3] !== size) {
      throw new InputDivergence(this.entry(this.pos - 1), `IN from port 0x${port.toString(16)} size ${size}`, this.pos - 1, f[k + 1]!);
    }
    this.inRaisedIrq = f[k + 5] === 1;
    const value = f[k + 4]!;
    this.applyEffects();
    return value;
  }

  /**
   * Whether the log has the writes to the ground-truth port: not in this format (RecordingEnvironment
   * UNLOGGED_PORTS); true for a trace recorded before, whose entries are then taken as they come.
   */
  groundTruthLogged = false;

  portOut(port: number, size: number, value: number): boolean {
    if (port === GROUND_TRUTH_PORT && !this.groundTruthLogged) return false;
    const icount = this.now();
    const k = this.take(InputKind.portOut, icount);
    if (k < 0) throw this.diverged(`OUT to port 0x${port.toString(16)}`, icount);
    const f = this.cur.f;
    if (f[k + 2] !== port || f[k + 3] !== size || f[k + 4] !== value >>> 0) {
      throw new InputDivergence(this.entry(this.pos - 1), `OUT 0x${(value >>> 0).toString(16)} to port 0x${port.toString(16)} size ${size}`, this.pos - 1, f[k + 1]!);
    }
    const irq = f[k + 5] === 1;
    this.applyEffects();
    return irq;
  }

  deviceAt(port: number): string {
    return this.deviceNames(port);
  }

  pendingVector(): number {
    const icount = this.now();
    const k = this.take(InputKind.pending, icount);
    if (k < 0) throw this.diverged('the pending interrupt vector', icount);
    const vector = this.cur.f[k + 2]!;
    this.file?.release(this.pos);
    return vector;
  }

  acknowledge(): number {
    const icount = this.now();
    const k = this.take(InputKind.acknowledge, icount);
    if (k < 0) throw this.diverged('an interrupt acknowledge', icount);
    const vector = this.cur.f[k + 2]!;
    this.file?.release(this.pos);
    return vector;
  }
}
