// One table being recorded: preallocated typed-array columns for one record batch, handed to the trace's
// files (TraceFiles: TableFile writes them as an Arrow IPC *file*, on this thread or the writer thread) when
// full (shared/notes/arrow.md: makeData over typed arrays is ~30x faster than builders).
// Memory is bounded by one batch per table, however long the run.
//
// The event handlers of TraceWriter fill the arrays directly (no per-row call, no allocation, no BigInt):
// 64-bit columns are exposed as Uint32Array views of their BigInt64Array/BigUint64Array, two words per
// row, low word first (little-endian, which is how Arrow lays out int64 on every platform Node runs on).

import type { BatchParts, ColumnParts } from './TableFile.js';
import { fixedBytes } from './TableFile.js';
import type { TraceFiles } from './TraceFiles.js';
import type { ColumnSpec, TableName, TableSpec } from './schema.js';

const TWO32 = 4294967296;

/** Store a JS number (an integer, exact below 2^53, may be negative) as a 64-bit two's-complement value. */
export function put64(w: Uint32Array, i: number, x: number): void {
  const lo = x >>> 0;
  w[i] = lo;
  w[i + 1] = (x - lo) / TWO32;
}

type Fixed = BigInt64Array | BigUint64Array | Uint32Array | Uint16Array | Uint8Array | Int8Array;

export class ColumnBuffer {
  /** Values (indices for dictionaries; bytes for binary/utf8, grown as needed). */
  values: Fixed;
  /** Uint32 view of 64-bit columns (2 words per row), else null. */
  readonly words: Uint32Array | null;
  /** Validity bitmap of nullable columns (bit set = valid), cleared after every batch. */
  readonly valid: Uint8Array | null;
  /** Value offsets of binary/utf8 columns (rows + 1). */
  readonly offsets: Int32Array | null;
  nulls = 0;
  /** Set once the table's first batch is written with the dictionary's values (no value is added after). */
  frozen = false;
  dictionaryValues: string[] | null;

  constructor(readonly spec: ColumnSpec, rows: number) {
    this.valid = spec.nullable ? new Uint8Array((rows + 7) >> 3) : null;
    this.offsets = null;
    this.words = null;
    this.dictionaryValues = spec.type === 'dict' ? [...(spec.dictionary ?? [])] : null;
    switch (spec.type) {
      case 'int64': this.values = new BigInt64Array(rows); break;
      case 'uint64': this.values = new BigUint64Array(rows); break;
      case 'uint32': this.values = new Uint32Array(rows); break;
      case 'uint16': this.values = new Uint16Array(rows); break;
      case 'uint8': this.values = new Uint8Array(rows); break;
      case 'dict': this.values = new Int8Array(rows); break;
      case 'binary': case 'utf8':
        this.values = new Uint8Array(Math.max(1024, rows * 16));
        this.offsets = new Int32Array(rows + 1);
        break;
    }
    if (spec.type === 'int64' || spec.type === 'uint64') this.words = new Uint32Array(this.values.buffer);
  }

  setNull(row: number): void {
    this.valid![row >> 3]! &= ~(1 << (row & 7));
    this.nulls++;
  }

  setValid(row: number): void {
    this.valid![row >> 3]! |= 1 << (row & 7);
  }

  /** Append `bytes` as row `row` of a binary/utf8 column (rows are appended in order). */
  setBytes(row: number, bytes: Uint8Array): void {
    const off = this.offsets!;
    const start = off[row]!;
    const end = start + bytes.byteLength;
    if (end > this.values.byteLength) {
      const grown = new Uint8Array(Math.max(end, this.values.byteLength * 2));
      grown.set(this.values as Uint8Array);
      this.values = grown;
    }
    (this.values as Uint8Array).set(bytes, start);
    off[row + 1] = end;
    if (this.valid) this.setValid(row);
  }

  /** A null row of a binary/utf8 column. */
  setNullBytes(row: number): void {
    const off = this.offsets!;
    off[row + 1] = off[row]!;
    this.setNull(row);
  }

  /** Dictionary code of `value`, adding it while the dictionary is still open; -1 once it is frozen. */
  code(value: string): number {
    const d = this.dictionaryValues!;
    const i = d.indexOf(value);
    if (i >= 0) return i;
    if (this.frozen || d.length >= 127) return -1;
    d.push(value);
    return d.length - 1;
  }

  /** The batch's buffers for the file side (views of this column's arrays, valid until reset). */
  parts(n: number): ColumnParts {
    const v = this.values;
    const bytes = this.offsets !== null ? this.offsets[n]! : fixedBytes(this.spec, n);
    return {
      values: new Uint8Array(v.buffer, v.byteOffset, bytes),
      valid: this.nulls > 0 ? this.valid : null,
      nulls: this.nulls,
      offsets: this.offsets,
    };
  }

  /** Forget the batch just written. */
  reset(): void {
    if (this.valid) {
      this.valid.fill(0);
      this.nulls = 0;
    }
  }

}

export class TableBuffer {
  readonly columns: ColumnBuffer[];
  private readonly byName = new Map<string, ColumnBuffer>();
  /** Rows in the current batch. */
  rows = 0;
  /** Rows handed to the files so far (whole batches). */
  flushedRows = 0;
  batches = 0;
  private closed = false;

  constructor(readonly spec: TableSpec, private readonly files: TraceFiles, readonly batchRows: number) {
    this.columns = spec.columns.map((col) => {
      const b = new ColumnBuffer(col, batchRows);
      this.byName.set(col.name, b);
      return b;
    });
  }

  col(name: string): ColumnBuffer {
    const b = this.byName.get(name);
    if (!b) throw new Error(`${this.spec.file}: no column ${name}`);
    return b;
  }

  /** Typed array of a fixed-width column (the arrays never move; binary/utf8 columns have no such view). */
  fixed<T extends Fixed>(name: string): T {
    return this.col(name).values as T;
  }

  words(name: string): Uint32Array {
    const w = this.col(name).words;
    if (!w) throw new Error(`${this.spec.file}: column ${name} is not 64-bit`);
    return w;
  }

  /** Write the rows gathered so far as one record batch (no-op when empty). */
  flush(): void {
    const n = this.rows;
    if (n === 0 || this.closed) return;
    this.writeBatch(n);
    this.flushedRows += n;
    this.rows = 0;
  }

  private writeBatch(n: number): void {
    const first = this.batches === 0;
    const batch: BatchParts = {
      rows: n,
      columns: this.columns.map((b) => b.parts(n)),
      // The dictionaries go with the first batch (written once, before it); none is added afterwards.
      dictionaries: first ? this.columns.map((b) => (b.dictionaryValues === null ? null : [...b.dictionaryValues])) : null,
    };
    if (first) for (const b of this.columns) b.frozen = true;
    // an optional table (witness.arrow) brings its own TraceFiles, which takes its name as well
    this.files.write(this.spec.name as TableName, batch);
    this.batches++;
    for (const b of this.columns) b.reset();
  }

  /** Flush the last rows. A table that never got a row gets one empty batch, so its dictionaries are in the
   *  file (readers expect every dictionary a schema declares). The files are finished by TraceFiles.close(). */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.batches === 0) this.writeBatch(0);
    this.closed = true;
  }
}
