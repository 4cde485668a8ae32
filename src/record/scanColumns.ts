// Column projection (for the analyses' importer): read only the buffers of the requested columns of a trace table, batch by
// batch, straight into reusable typed arrays. The general reader (src/record/TableFileReader) decodes every
// column of a batch (an exit row is ~260 bytes, the columns proctrack needs ~40), which caps a scan at a few
// million exits per second; this reads the record-batch metadata (Arrow IPC "Buffer" regions of the body)
// and pulls the value buffers of the wanted columns only.
//
// Supported: fixed-width non-null columns (int64/uint64 as uint32 word pairs, uint32/16/8, dictionary
// codes). The table's schema is checked by TraceReader.openTable first (same checks as every reader).

import type { TraceReader } from './TraceReader.js';
import { TABLES, type TableName, type TableSpec } from './schema.js';
import { TraceError } from '../errors.js';
import { readBodyBuffer, type ReadAt, type Scratch } from './bodyBuffer.js';

/** Bytes per value of a fixed-width column type; 0 for variable-width. */
export function width(type: string): number {
  switch (type) {
    case 'int64': case 'uint64': return 8;
    case 'uint32': return 4;
    case 'uint16': return 2;
    case 'uint8': case 'dict': return 1;
    default: return 0;
  }
}

/**
 * Index of each field's first buffer in a record batch's buffer list (Arrow columnar format, "Buffer layout"):
 * a validity bitmap, then the values (binary/utf8: offsets, then data).
 */
export function firstBuffers(spec: TableSpec): number[] {
  const first: number[] = [];
  let nb = 0;
  for (const c of spec.columns) {
    first.push(nb);
    nb += c.type === 'binary' || c.type === 'utf8' ? 3 : 2;
  }
  return first;
}

/** One batch of projected columns: `cols[k]` holds `length` values of column k (64-bit: 2 words per row). */
export interface ProjectedBatch {
  /** Row number of the first row. */
  start: number;
  length: number;
  cols: Array<Uint32Array | Uint16Array | Uint8Array>;
}

interface BatchRef {
  bodyStart: number;
  length: number;
  /** Per requested column: [offset in body, length in bytes, null count]. */
  regions: Array<[number, number, number]>;
  /** Buffers are compressed (BodyCompression, LZ4_FRAME): each is an int64 uncompressed length + a frame. */
  compressed: boolean;
}

/**
 * A projected scan of `columns` of `table`: `for (const b of scanColumns(reader, 'exits', ['icount','cr3']))`.
 * 64-bit columns come as Uint32Array word pairs (low first), uint32 as Uint32Array, uint16 as Uint16Array,
 * uint8 and dictionary codes as Uint8Array. The arrays are reused from batch to batch.
 */
export function* scanColumns(reader: TraceReader, table: TableName, columns: readonly string[]): Generator<ProjectedBatch> {
  const spec = TABLES[table];
  const idx = columns.map((name) => {
    const i = spec.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new TraceError(`${spec.file} has no column "${name}"`);
    if (width(spec.columns[i]!.type) === 0) throw new Error(`scanColumns: ${name} is not fixed-width`);
    return i;
  });
  const firstBuffer = firstBuffers(spec);
  // The table's own reader: existence and schema checks, the message index (finished files and the
  // flushed part of an unfinished one alike), truncation errors.
  const file = reader.openTable(table);
  try {
    const batches: BatchRef[] = [];
    for (let i = 0; i < file.numBatches; i++) {
      const { header: h, bodyStart } = file.batchLayout(i);
      const regions = idx.map((k): [number, number, number] => {
        const b = h.buffers[firstBuffer[k]! + 1]!;
        return [Number(b.offset), Number(b.length), Number(h.nodes[k]!.nullCount)];
      });
      batches.push({ bodyStart, length: Number(h.length), regions, compressed: h.compression != null });
    }
    const widths = idx.map((i) => width(spec.columns[i]!.type));
    const types = idx.map((i) => spec.columns[i]!.type);
    let cap = 0;
    let bufs: Uint8Array[] = [];
    let cols: ProjectedBatch['cols'] = [];
    let start = 0;
    const scratch: Scratch = { bytes: new Uint8Array(0) };
    const read: ReadAt = (into, length, offset) => file.readInto(into, length, offset);
    for (const b of batches) {
      if (b.length > cap) {
        cap = b.length;
        bufs = widths.map((w) => new Uint8Array(new ArrayBuffer(Math.max(8, cap * w + 8))));
        cols = bufs.map((u, k) => {
          const w = widths[k]!;
          return w === 8 || w === 4 ? new Uint32Array(u.buffer) : w === 2 ? new Uint16Array(u.buffer) : u;
        });
      }
      b.regions.forEach(([off, len, nulls], k) => {
        if (nulls > 0 && types[k] !== 'dict') throw new Error(`scanColumns: ${columns[k]} has nulls`);
        const wrong = readBodyBuffer(read, b.bodyStart + off, len, b.compressed, b.length * widths[k]!, bufs[k]!, scratch);
        if (wrong !== null) throw new TraceError(`${spec.file} is corrupt: column ${columns[k]} ${wrong}`, file.path);
      });
      yield { start, length: b.length, cols };
      start += b.length;
    }
  } finally {
    file.close();
  }
}
