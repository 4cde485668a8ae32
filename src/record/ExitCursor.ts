// The recorded exits, one at a time, as the ExitEvents the machine published: what the replayer compares
// its own exits against, field by field, from inside the machine's synchronous onExit callback.
// Allocation-free per exit (one batch is decoded every 32768 exits).

import { EXIT_WORDS, ExitWord, type ExitEvent } from '../emulator/events.js';
import { ColumnView } from './ColumnView.js';
import { EXITS, EXIT_WORD_COLUMNS } from './schema.js';
import type { TableFileReader } from './TableFileReader.js';
import type { RecordBatch } from 'apache-arrow';

const index = (name: string): number => EXITS.columns.findIndex((c) => c.name === name);
const COL = Object.fromEntries(['seq', 'icount', 'ts', 'cycles', 'cost', 'cpu', 'exit_reason', 'instruction_length',
  'interruption_info', 'interruption_error_code', 'guest_linear', 'guest_physical', 'cs', 'ss', 'cpl']
  .map((n) => [n, index(n)])) as Record<'seq' | 'icount' | 'ts' | 'cycles' | 'cost' | 'cpu' | 'exit_reason' |
  'instruction_length' | 'interruption_info' | 'interruption_error_code' | 'guest_linear' | 'guest_physical' |
  'cs' | 'ss' | 'cpl', number>;

/** A fresh ExitEvent to read into. */
export function newExitEvent(): ExitEvent {
  return {
    kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false,
    cs: 0, ss: 0, cpl: 0, words: new Uint32Array(EXIT_WORDS),
  };
}

const TWO32 = 4294967296;
/** Batches prefetch() reads ahead. */
const AHEAD = 2;
const EMPTY32: Uint32Array = new Uint32Array(0);
const EMPTY16: Uint16Array = new Uint16Array(0);
const EMPTY8: Uint8Array = new Uint8Array(0);

export class ExitCursor {
  private batchIndex = 0;
  private row = 0;
  private length = 0;
  // The current batch's columns as typed arrays (64-bit ones as uint32 word pairs), read directly: a
  // ColumnView call per field was a third of reading the exits.
  private seq = EMPTY32; private icount = EMPTY32; private ts = EMPTY32; private cycles = EMPTY32;
  private cost = EMPTY32; private cpu = EMPTY16; private reason = EMPTY16; private len = EMPTY8;
  private intInfo = EMPTY32; private intErr = EMPTY32; private cs = EMPTY16; private ss = EMPTY16; private cpl = EMPTY8;
  private linearValid: Uint8Array | null = null;
  private physicalValid: Uint8Array | null = null;
  private words: Uint32Array[] = [];
  private readonly wordDst = Int32Array.from(EXIT_WORD_COLUMNS.map(([, w]) => w));
  private readonly wordCol = EXIT_WORD_COLUMNS.map(([name]) => index(name));
  /** Exits returned so far (the seq of the next one, in an intact trace). */
  position = 0;
  /** Batches read ahead (prefetch), or being read (batch null until ready), by index. */
  private readonly ahead = new Map<number, { batch: RecordBatch | null }>();

  constructor(private readonly file: TableFileReader) {}

  /**
   * Start reading the next AHEAD batches with their LZ4 buffers decoded on libuv's thread pool (TableFileReader
   * batchAhead), so that taking them costs this thread no decoding. Not awaited by a caller that goes on
   * working: replay calls it between two slices of its run, and a batch read ahead is ready at the slice
   * boundary after its frames are decoded (two batches ahead: a slice may use up more than one batch of exits).
   * A batch not ready when needed is read at once instead.
   */
  prefetch(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let index = this.batchIndex; index < Math.min(this.batchIndex + AHEAD, this.file.numBatches); index++) {
      if (this.ahead.has(index)) continue;
      const entry: { batch: RecordBatch | null } = { batch: null };
      this.ahead.set(index, entry);
      started.push(this.file.batchAhead(index).then((b) => {
        entry.batch = b;
      }, () => {
        // read again when needed, which reports what is wrong
        if (this.ahead.get(index) === entry) this.ahead.delete(index);
      }));
    }
    return Promise.all(started).then(() => {});
  }

  /** Fill `into` with the next recorded exit; false (and the file closed) after the last one. */
  next(into: ExitEvent): boolean {
    if (this.row === this.length && !this.load()) return false;
    const i = this.row++;
    const i2 = 2 * i;
    // int64 columns (seq, icount, ts, cycles) as numbers, exact below 2^53, sign from the high word.
    into.seq = (this.seq[i2 + 1]! | 0) * TWO32 + this.seq[i2]!;
    into.icount = (this.icount[i2 + 1]! | 0) * TWO32 + this.icount[i2]!;
    into.tsc = (this.ts[i2 + 1]! | 0) * TWO32 + this.ts[i2]!;
    into.cycles = (this.cycles[i2 + 1]! | 0) * TWO32 + this.cycles[i2]!;
    into.cost = this.cost[i]!;
    into.vcpu = this.cpu[i]!;
    into.reason = this.reason[i]!;
    into.instructionLength = this.len[i]!;
    into.interruptionInfo = this.intInfo[i]!;
    into.interruptionErrorCode = this.intErr[i]!;
    const lv = this.linearValid;
    const pv = this.physicalValid;
    into.hasGuestLinear = lv === null || (lv[i >> 3]! & (1 << (i & 7))) !== 0;
    into.hasGuestPhysical = pv === null || (pv[i >> 3]! & (1 << (i & 7))) !== 0;
    into.cs = this.cs[i]!;
    into.ss = this.ss[i]!;
    into.cpl = this.cpl[i]!;
    const w = into.words;
    const words = this.words;
    const dst = this.wordDst;
    for (let k = 0; k < words.length; k++) {
      const src = words[k]!;
      const d = dst[k]!;
      w[d] = src[i2]!;
      w[d + 1] = src[i2 + 1]!;
    }
    // Undefined addresses travel as 0 in ExitEvent (events.ts), whatever the null slot holds.
    if (!into.hasGuestLinear) w[ExitWord.guestLinear] = w[ExitWord.guestLinear + 1] = 0;
    if (!into.hasGuestPhysical) w[ExitWord.guestPhysical] = w[ExitWord.guestPhysical + 1] = 0;
    this.position++;
    return true;
  }

  close(): void {
    this.file.close();
  }

  private load(): boolean {
    if (this.batchIndex >= this.file.numBatches) {
      this.close();
      return false;
    }
    const index = this.batchIndex++;
    const batch = this.ahead.get(index)?.batch ?? this.file.batch(index);
    for (const k of this.ahead.keys()) if (k <= index) this.ahead.delete(k);
    const cols = EXITS.columns.map((spec, k) => new ColumnView(spec, batch.numRows, batch.getChildAt(k)!.data[0]!));
    const col = (k: number): ColumnView => cols[k]!;
    this.seq = col(COL.seq).words!; this.icount = col(COL.icount).words!; this.ts = col(COL.ts).words!;
    this.cycles = col(COL.cycles).words!;
    this.cost = col(COL.cost).values as Uint32Array; this.cpu = col(COL.cpu).values as Uint16Array;
    this.reason = col(COL.exit_reason).values as Uint16Array; this.len = col(COL.instruction_length).values as Uint8Array;
    this.intInfo = col(COL.interruption_info).values as Uint32Array;
    this.intErr = col(COL.interruption_error_code).values as Uint32Array;
    this.cs = col(COL.cs).values as Uint16Array; this.ss = col(COL.ss).values as Uint16Array; this.cpl = col(COL.cpl).values as Uint8Array;
    this.linearValid = col(COL.guest_linear).valid;
    this.physicalValid = col(COL.guest_physical).valid;
    this.words = this.wordCol.map((k) => cols[k]!.words!);
    this.row = 0;
    this.length = batch.numRows;
    return this.length > 0 || this.load();
  }
}
