// The recorded exits, one at a time, as the ExitEvents the machine published: what the replayer compares
// its own exits against, field by field, from inside the machine's synchronous onExit callback.
//
// The exits are read a few batches ahead by a thread of their own (exitRows.ts, exitRowsThread.ts), which
// decodes the column buffers and lays each exit out as one row of words in shared memory: taking an exit
// here is pointing a view at those words (ExitRow), with no decoding, copy, allocation or garbage on the
// replayer's thread.

import { EXIT_WORDS, type ExitEvent } from '../emulator/events.js';
import { EXITS, EXIT_WORD_COLUMNS, type ColumnSpec } from './schema.js';
import type { TableFileReader } from './TableFileReader.js';
import { firstBuffers, width } from './scanColumns.js';
import { Ctrl, CTRL_WORDS, ExitRow, MESSAGE_BYTES, REGION_WORDS, ROW_LINEAR_VALID, ROW_PHYSICAL_VALID, ROW_WORDS, RowWord, SLOTS, SLOTS_AT,
  type ExitRowsJob, type RowBatch, type RowColumn } from './exitRows.js';
import { sharedModuleWorker } from './moduleWorker.js';
import { TraceError } from '../errors.js';
import { lz4MaxDecoded } from './lz4Frame.js';
import type { Worker } from 'node:worker_threads';

/** A fresh ExitEvent to read into. */
export function newExitEvent(): ExitEvent {
  return {
    kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false,
    cs: 0, ss: 0, cpl: 0, words: new Uint32Array(EXIT_WORDS),
  };
}


/** The exit's scalar columns and their row words; the word columns (EXIT_WORD_COLUMNS) follow. */
const SCALAR_COLUMNS: ReadonlyArray<readonly [string, number]> = [
  ['seq', RowWord.seq], ['icount', RowWord.icount], ['ts', RowWord.ts], ['cycles', RowWord.cycles], ['cost', RowWord.cost],
  ['cpu', RowWord.cpu], ['exit_reason', RowWord.reason], ['instruction_length', RowWord.instructionLength],
  ['interruption_info', RowWord.interruptionInfo], ['interruption_error_code', RowWord.interruptionErrorCode],
  ['cs', RowWord.cs], ['ss', RowWord.ss], ['cpl', RowWord.cpl],
];
const NULL_FLAGS: Record<string, number> = { guest_linear: ROW_LINEAR_VALID, guest_physical: ROW_PHYSICAL_VALID };

/** The columns a row is made of: where each goes, and each column's index in the table. */
const PLAN: Array<{ col: RowColumn; index: number }> = [
  ...SCALAR_COLUMNS,
  ...EXIT_WORD_COLUMNS.map(([name, word]) => [name, RowWord.words + word] as const),
].map(([name, dst]) => {
  const index = EXITS.columns.findIndex((c) => c.name === name);
  const spec = EXITS.columns[index] as ColumnSpec;
  return { col: { name, width: width(spec.type), dst, flag: NULL_FLAGS[name] ?? 0 }, index };
});
const FIRST_BUFFER = firstBuffers(EXITS);

/** Start the reader thread (one per process serves every cursor) now: it loads its modules while the caller
 *  assembles its machine. */
export function startExitReader(): void {
  readerThread();
}

const readerThread = (): Worker => sharedModuleWorker(import.meta.url, 'exitRowsThread');

export class ExitCursor {
  private readonly batches: RowBatch[];
  private readonly ctrl: Int32Array;
  private readonly memory: SharedArrayBuffer | null = null;
  private readonly slotWords: number;
  /** The batch being read (-1: none yet), its rows (a view of its slot), its length and the next row. */
  private batchIndex = -1;
  private rows: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private length = 0;
  private row = 0;
  private ended = false;
  /** Exits returned so far (the seq of the next one, in an intact trace). */
  position = 0;
  private readonly current = new ExitRow();

  constructor(private readonly file: TableFileReader) {
    this.batches = [];
    let slotRows = 1;
    for (let i = 0; i < file.numBatches; i++) this.batches.push(this.layout(i));
    for (const b of this.batches) slotRows = Math.max(slotRows, b.rows);
    this.slotWords = slotRows * ROW_WORDS;
    if (this.batches.length === 0) {
      this.ctrl = new Int32Array(CTRL_WORDS);
      return;
    }
    // The reader thread reads the file itself: checked here first when the trace checks what it reads.
    file.verifyBatches();
    this.memory = new SharedArrayBuffer(SLOTS_AT + SLOTS * this.slotWords * 4);
    this.ctrl = new Int32Array(this.memory, 0, CTRL_WORDS);
    const job: ExitRowsJob = {
      op: 'rows', path: file.path, file: file.file, columns: PLAN.map((p) => p.col), batches: this.batches, slotRows, shared: this.memory,
    };
    readerThread().postMessage(job);
  }

  /** Where batch i's column buffers are in the file, its row count bounded by what its buffers can hold. */
  private layout(i: number): RowBatch {
    const { header: h, bodyStart } = this.file.batchLayout(i);
    const rows = Number(h.length);
    const compressed = h.compression != null;
    const regions: number[] = [];
    for (const { col, index } of PLAN) {
      const values = h.buffers[FIRST_BUFFER[index]! + 1];
      const validity = h.buffers[FIRST_BUFFER[index]!];
      if (values === undefined || validity === undefined) throw this.corrupt(i, `no buffers for column ${col.name}`);
      const length = Number(values.length);
      // A row count beyond what the buffer can hold is damage, found before memory is sized by it.
      if (rows * col.width > (compressed ? lz4MaxDecoded(length) : length)) throw this.corrupt(i, `column ${col.name} has ${length} bytes for ${rows} rows`);
      const nulls = Number(h.nodes[index]?.nullCount ?? 0);
      regions.push(bodyStart + Number(values.offset), length,
        bodyStart + Number(validity.offset), col.flag !== 0 && nulls > 0 ? Number(validity.length) : 0);
    }
    if (regions.length !== PLAN.length * REGION_WORDS) throw new Error('exit row plan');
    return { rows, compressed, regions };
  }

  private corrupt(batch: number, what: string): TraceError {
    return new TraceError(`${this.file.file} is corrupt: record batch ${batch}: ${what}`, this.file.path);
  }

  /** The next recorded exit (the cursor's one ExitRow, moved on), or null (and the file closed) after the last one. */
  next(): ExitRow | null {
    if (this.row === this.length && !this.load()) return null;
    const r = this.current;
    r.rows = this.rows;
    r.at = this.row++ * ROW_WORDS;
    this.position++;
    return r;
  }

  /** Fill `into` with the next recorded exit as an ExitEvent; false after the last one. */
  nextEvent(into: ExitEvent): boolean {
    const r = this.next();
    if (r === null) return false;
    into.seq = r.seq; into.icount = r.icount; into.tsc = r.tsc; into.cycles = r.cycles; into.cost = r.cost; into.vcpu = r.vcpu;
    into.reason = r.reason; into.instructionLength = r.instructionLength; into.interruptionInfo = r.interruptionInfo;
    into.interruptionErrorCode = r.interruptionErrorCode; into.cs = r.cs; into.ss = r.ss; into.cpl = r.cpl;
    into.hasGuestLinear = r.hasGuestLinear; into.hasGuestPhysical = r.hasGuestPhysical;
    for (let k = 0; k < EXIT_WORDS; k++) into.words[k] = r.word(k);
    return true;
  }

  /** Stop reading (the reader thread lets go of the file) and close the file. */
  close(): void {
    if (!this.ended) {
      this.ended = true;
      Atomics.store(this.ctrl, Ctrl.closed, 1);
      Atomics.notify(this.ctrl, Ctrl.consumed);
    }
    this.file.close();
  }

  /** Take the next batch: done with the one held (its slot is free again), wait for the next to be filled. */
  private load(): boolean {
    if (this.ended) return false;
    const next = this.batchIndex + 1;
    if (next >= this.batches.length) {
      this.close();
      return false;
    }
    const ctrl = this.ctrl;
    Atomics.store(ctrl, Ctrl.consumed, next);
    Atomics.notify(ctrl, Ctrl.consumed);
    for (;;) {
      const produced = Atomics.load(ctrl, Ctrl.produced);
      if (produced > next) break;
      if (Atomics.load(ctrl, Ctrl.failed) !== 0) {
        const n = Atomics.load(ctrl, Ctrl.messageLength);
        const message = new TextDecoder().decode(new Uint8Array(this.memory!, CTRL_WORDS * 4, Math.min(n, MESSAGE_BYTES)).slice());
        this.close();
        throw new TraceError(message, this.file.path);
      }
      Atomics.wait(ctrl, Ctrl.produced, produced, 1000);
    }
    this.batchIndex = next;
    const rows = this.batches[next]!.rows;
    this.rows = new Uint32Array(this.memory!, SLOTS_AT + (next % SLOTS) * this.slotWords * 4, rows * ROW_WORDS);
    this.length = rows;
    this.row = 0;
    return rows > 0 || this.load();
  }
}
