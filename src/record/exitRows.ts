// Replay's recorded exits, read ahead by a thread of their own (exitRowsThread.ts) into shared memory as rows:
// the replayer's thread takes one exit as a few dozen consecutive words, with no decoding, no allocation and
// no garbage (decoding batches on it, with apache-arrow and fresh buffers per column, was ~0.85 us per exit
// of a 2M-exit replay, its garbage collection included).
//
// Shared memory: CTRL_WORDS control words (Int32), a message area for a failure, then SLOTS slots of
// `slotRows` rows of ROW_WORDS uint32 words. Batch b goes to slot b % SLOTS; the reader thread fills batch b
// once the replayer has finished with batch b - SLOTS (`consumed`), and publishes it by raising `produced`.
// This module is shared by both threads and imports only events.ts's constants (the reader thread starts fast).

import { EXIT_WORDS } from '../emulator/events.js';

/** Words of one exit row: the ExitEvent's scalar fields, validity flags, then its EXIT_WORDS words. */
export const RowWord = {
  seq: 0, icount: 2, ts: 4, cycles: 6, cost: 8, cpu: 9, reason: 10, instructionLength: 11,
  interruptionInfo: 12, interruptionErrorCode: 13, cs: 14, ss: 15, cpl: 16,
  /** ROW_LINEAR_VALID | ROW_PHYSICAL_VALID */
  flags: 17,
  /** ExitEvent.words (EXIT_WORDS of them), laid out by ExitWord. */
  words: 18,
} as const;
export const ROW_LINEAR_VALID = 1;
export const ROW_PHYSICAL_VALID = 2;
export const ROW_WORDS = RowWord.words + EXIT_WORDS;

export const SLOTS = 3;
export const Ctrl = {
  /** Batches the replayer is done with (it holds batch `consumed` while reading it). */
  consumed: 0,
  /** Batches filled. */
  produced: 1,
  /** 1: the reader failed; the message area says why (UTF-8, `messageLength` bytes). */
  failed: 2,
  /** 1: the replayer closed the cursor; the reader stops. */
  closed: 3,
  messageLength: 4,
} as const;
export const CTRL_WORDS = 8;
export const MESSAGE_BYTES = 1024;
/** Byte offset of slot 0. */
export const SLOTS_AT = CTRL_WORDS * 4 + MESSAGE_BYTES;

/** Where one column goes in a row. */
export interface RowColumn {
  /** The column's name (messages). */
  name: string;
  /** Bytes per value: 8 (two words: dst, dst + 1), 4, 2, 1. */
  width: number;
  /** Row word it is written to. */
  dst: number;
  /** For a nullable column: its RowWord.flags bit (a null row's words are 0); else 0. */
  flag: number;
}

/** One record batch: where its column buffers are in the file. */
export interface RowBatch {
  rows: number;
  compressed: boolean;
  /** Per column (RowColumn order): values' file offset and length, validity's file offset and length (length 0: no bitmap). */
  regions: number[];
}

/** A job for the reader thread. */
export interface ExitRowsJob {
  op: 'rows';
  path: string;
  /** The file's name, for messages. */
  file: string;
  columns: RowColumn[];
  batches: RowBatch[];
  slotRows: number;
  shared: SharedArrayBuffer;
}

/** Per region: values offset, length, validity offset, length. */
export const REGION_WORDS = 4;

const TWO32 = 4294967296;

/**
 * One recorded exit as the reader thread laid it out: the ExitEvent's fields read from its row where it lies
 * in shared memory (the replayer compares them there, with no copy). Valid until the cursor moves on.
 */
export class ExitRow {
  /** The slot's rows and this row's first word. */
  rows: Uint32Array<ArrayBufferLike> = new Uint32Array(ROW_WORDS);
  at = 0;

  // int64 columns as numbers, exact below 2^53, sign from the high word.
  private int64(w: number): number { return (this.rows[this.at + w + 1]! | 0) * TWO32 + this.rows[this.at + w]!; }
  get seq(): number { return this.int64(RowWord.seq); }
  get icount(): number { return this.int64(RowWord.icount); }
  get tsc(): number { return this.int64(RowWord.ts); }
  get cycles(): number { return this.int64(RowWord.cycles); }
  get cost(): number { return this.rows[this.at + RowWord.cost]!; }
  get vcpu(): number { return this.rows[this.at + RowWord.cpu]!; }
  get reason(): number { return this.rows[this.at + RowWord.reason]!; }
  get instructionLength(): number { return this.rows[this.at + RowWord.instructionLength]!; }
  get interruptionInfo(): number { return this.rows[this.at + RowWord.interruptionInfo]!; }
  get interruptionErrorCode(): number { return this.rows[this.at + RowWord.interruptionErrorCode]!; }
  get cs(): number { return this.rows[this.at + RowWord.cs]!; }
  get ss(): number { return this.rows[this.at + RowWord.ss]!; }
  get cpl(): number { return this.rows[this.at + RowWord.cpl]!; }
  get hasGuestLinear(): boolean { return (this.rows[this.at + RowWord.flags]! & ROW_LINEAR_VALID) !== 0; }
  get hasGuestPhysical(): boolean { return (this.rows[this.at + RowWord.flags]! & ROW_PHYSICAL_VALID) !== 0; }
  /** Word k of ExitEvent.words (laid out by ExitWord; an undefined address is 0). */
  word(k: number): number { return this.rows[this.at + RowWord.words + k]!; }
}
