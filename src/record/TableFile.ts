// The file side of one table: record batches, handed over as the column buffers TableBuffer filled, written
// as an Arrow IPC *file* (compressed per buffer as compression.ts says) through a hashing FileSink. It runs
// where the trace's files are written: on the recording thread, or in the writer thread (TraceFilesWorker).
// Whichever, the same batches give the same bytes.

import { Dictionary, makeData, RecordBatch, Struct, Utf8, vectorFromArray,
  type Data, type DataType, type Schema, type Vector } from 'apache-arrow';
import { ArrowFileSink, FileSink } from './FileSink.js';
import { CompressedFileWriter, type TraceCompression } from './compression.js';
import type { FileDigest } from './fileHash.js';
import { arrowSchema, type ColumnSpec, type ColType, type TableSpec } from './schema.js';

/** One column of a record batch: its buffers as TableBuffer filled them (views, valid until written). */
export interface ColumnParts {
  /** Values (fixed width: `rows` elements of the column's width; binary/utf8: the bytes, offsets[rows] long). */
  values: Uint8Array;
  /** Validity bitmap, when the batch has nulls in this column. */
  valid: Uint8Array | null;
  nulls: number;
  /** binary/utf8: rows + 1 value offsets. */
  offsets: Int32Array | null;
}

/** A record batch as the recorder hands it to the file side. */
export interface BatchParts {
  rows: number;
  columns: ColumnParts[];
  /** The dictionaries' values (per column, null for others), with a table's first batch. */
  dictionaries: Array<readonly string[] | null> | null;
}

/** Bytes per value of each fixed-width column type, and the typed array apache-arrow takes for it. */
const FIXED: Record<Exclude<ColType, 'binary' | 'utf8'>, { bytes: number; array: new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView }> = {
  int64: { bytes: 8, array: BigInt64Array }, uint64: { bytes: 8, array: BigUint64Array }, uint32: { bytes: 4, array: Uint32Array },
  uint16: { bytes: 2, array: Uint16Array }, uint8: { bytes: 1, array: Uint8Array }, dict: { bytes: 1, array: Int8Array },
};

/** Bytes of a fixed-width column's values for `rows` rows (0 for binary/utf8, whose length is in their offsets). */
export function fixedBytes(spec: ColumnSpec, rows: number): number {
  return spec.type === 'binary' || spec.type === 'utf8' ? 0 : FIXED[spec.type].bytes * rows;
}

export class TableFile {
  readonly schema: Schema;
  private readonly struct: Struct;
  private readonly types: DataType[];
  readonly file: FileSink;
  private readonly writer: CompressedFileWriter;
  /** Each dictionary column's vector, built from the first batch's values (the same object in every batch,
   *  so it is written once). */
  private readonly dictionaries: Array<Vector<Utf8> | null>;
  batches = 0;
  private finished = false;

  constructor(readonly spec: TableSpec, path: string, compression: TraceCompression) {
    this.schema = arrowSchema(spec);
    this.struct = new Struct(this.schema.fields);
    this.types = this.schema.fields.map((f) => f.type as DataType);
    this.dictionaries = spec.columns.map(() => null);
    this.file = new FileSink(path);
    this.writer = new CompressedFileWriter(compression);
    // reset(sink, schema) writes the file's leading magic now; batches follow as they come.
    this.writer.reset(new ArrowFileSink(this.file), this.schema);
  }

  /** Write one record batch and flush it to the file (the file then ends after a whole batch). */
  write(b: BatchParts): void {
    this.writer.write(this.recordBatch(b));
    this.file.flush();
    this.batches++;
  }

  /** write(b), compressing on libuv's thread pool (the writer thread: lz4-napi's asynchronous call does not leak). */
  async writeAsync(b: BatchParts): Promise<void> {
    await this.writer.writeAsync(this.recordBatch(b));
    this.file.flush();
    this.batches++;
  }

  private recordBatch(b: BatchParts): RecordBatch {
    const n = b.rows;
    const children = this.spec.columns.map((spec, k) => this.data(spec, k, b, n));
    return new RecordBatch(this.schema, makeData({ type: this.struct, length: n, nullCount: 0, children }));
  }

  private data(spec: ColumnSpec, k: number, b: BatchParts, n: number): Data {
    const c = b.columns[k]!;
    const nullCount = c.nulls;
    const nullBitmap = nullCount > 0 ? c.valid!.subarray(0, (n + 7) >> 3) : undefined;
    const type = this.types[k]!;
    if (spec.type === 'binary' || spec.type === 'utf8') {
      const offsets = c.offsets!.subarray(0, n + 1);
      return makeData({ type: type as never, valueOffsets: offsets, data: c.values.subarray(0, offsets[n]!), length: n, nullCount, nullBitmap }) as Data;
    }
    const f = FIXED[spec.type];
    const values = new f.array(c.values.buffer, c.values.byteOffset, n);
    if (spec.type === 'dict') {
      const dictionary = (this.dictionaries[k] ??= vectorFromArray([...(b.dictionaries?.[k] ?? [])], new Utf8()));
      return makeData({ type: type as Dictionary<Utf8>, data: values as Int8Array, length: n, nullCount, nullBitmap, dictionary });
    }
    return makeData({ type: type as never, data: values as never, length: n, nullCount, nullBitmap }) as Data;
  }

  /** Finish the file (footer) and close it: its size and checksums. */
  finish(): FileDigest {
    if (!this.finished) {
      this.finished = true;
      this.writer.finish();
    }
    return this.file.close();
  }

  /** Close without writing more (after a failed write). */
  abandon(): void {
    this.finished = true;
    this.file.abandon();
  }
}
