// One table being recorded: preallocated typed-array columns for one record batch, written as an Arrow IPC
// *file* when full (shared/notes/arrow.md: makeData over typed arrays is ~30x faster than builders).
// Memory is bounded by one batch per table, however long the run.
//
// The event handlers of TraceWriter fill the arrays directly (no per-row call, no allocation, no BigInt):
// 64-bit columns are exposed as Uint32Array views of their BigInt64Array/BigUint64Array, two words per
// row, low word first (little-endian, which is how Arrow lays out int64 on every platform Node runs on).

import { Dictionary, makeData, RecordBatch, type RecordBatchFileWriter, Struct, Utf8, vectorFromArray,
  type Data, type DataType, type Schema, type Vector } from 'apache-arrow';
import { ArrowFileSink, FileSink } from './FileSink.js';
import { CompressedFileWriter, TraceCompression } from './compression.js';
import type { FileDigest } from './fileHash.js';
import { arrowSchema, type ColumnSpec, type TableSpec } from './schema.js';

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
  /** The dictionary vector, built once (the same object in every batch, so it is written once). */
  dictionary: Vector<Utf8> | null = null;
  dictionaryValues: string[] | null;

  constructor(readonly spec: ColumnSpec, rows: number, readonly arrowType: DataType) {
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
    if (this.dictionary !== null || d.length >= 127) return -1;
    d.push(value);
    return d.length - 1;
  }

  data(n: number): Data {
    const type = this.spec.type;
    const nullCount = this.nulls;
    const nullBitmap = nullCount > 0 ? this.valid!.subarray(0, (n + 7) >> 3) : undefined;
    if (type === 'dict') {
      this.dictionary ??= vectorFromArray(this.dictionaryValues!, new Utf8());
      return makeData({ type: this.arrowType as Dictionary<Utf8>, data: this.values.subarray(0, n) as Int8Array,
        length: n, nullCount, nullBitmap, dictionary: this.dictionary });
    }
    if (type === 'binary' || type === 'utf8') {
      const offsets = this.offsets!.subarray(0, n + 1);
      return makeData({ type: this.arrowType as never, valueOffsets: offsets,
        data: (this.values as Uint8Array).subarray(0, offsets[n]!), length: n, nullCount, nullBitmap }) as Data;
    }
    return makeData({ type: this.arrowType as never, data: this.values.subarray(0, n) as never, length: n, nullCount,
      nullBitmap }) as Data;
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
  readonly schema: Schema;
  readonly columns: ColumnBuffer[];
  private readonly byName = new Map<string, ColumnBuffer>();
  readonly file: FileSink;
  private readonly writer: RecordBatchFileWriter;
  private readonly struct: Struct;
  /** Rows in the current batch. */
  rows = 0;
  /** Rows written to the file so far (flushed batches). */
  flushedRows = 0;
  batches = 0;
  private closed = false;

  constructor(readonly spec: TableSpec, path: string, readonly batchRows: number,
    compression: TraceCompression = TraceCompression.none) {
    this.schema = arrowSchema(spec);
    this.columns = spec.columns.map((col, i) => {
      const b = new ColumnBuffer(col, batchRows, this.schema.fields[i]!.type);
      this.byName.set(col.name, b);
      return b;
    });
    this.struct = new Struct(this.schema.fields);
    this.file = new FileSink(path);
    this.writer = new CompressedFileWriter(compression);
    // reset(sink, schema) writes the file's leading magic now; batches follow as they fill.
    this.writer.reset(new ArrowFileSink(this.file), this.schema);
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
    this.batches++;
    this.rows = 0;
  }

  private writeBatch(n: number): void {
    const children = this.columns.map((b) => b.data(n));
    const batch = new RecordBatch(this.schema, makeData({ type: this.struct, length: n, nullCount: 0, children }));
    this.writer.write(batch);
    for (const b of this.columns) b.reset();
    this.file.flush();
  }

  /** Flush and finish the file (footer). A table that never got a row gets one empty batch, so its
   *  dictionaries are in the file (readers expect every dictionary a schema declares). */
  close(): FileDigest {
    if (!this.closed) {
      this.flush();
      if (this.batches === 0) {
        this.writeBatch(0);
        this.batches++;
      }
      this.closed = true;
      this.writer.finish();
    }
    return this.file.close();
  }
}
