// Synchronous, bounded-memory reading of one table file, batch by batch (so the replayer can pull recorded
// exits from inside the machine's synchronous callbacks, and analyses need no async plumbing).
//
// An Arrow IPC file is: "ARROW1" + 2 bytes padding, a sequence of encapsulated messages (0xFFFFFFFF,
// int32 metadata length, flatbuffer metadata, body), an end-of-stream marker, the footer and its length,
// and "ARROW1" again (Arrow columnar format spec, "IPC File Format"). The reader walks the messages once to
// index dictionary and record batches, then decodes one record batch at a time by handing apache-arrow's
// stream reader the schema message, the dictionary messages and that batch's message. Walking the
// messages instead of trusting the footer also recovers the batches of a file whose writer never finished
// (no footer): those of a trace that is still `incomplete`.

import { closeSync, fstatSync, openSync } from 'node:fs';
import { readFully } from './bodyBuffer.js';
import { lz4MaxDecoded } from './lz4Frame.js';
import { MessageHeader, RecordBatchReader, RecordBatchStreamWriter, type RecordBatch, type Schema } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { Message, type RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { TraceError } from '../errors.js';
import { checkFooter, checkMessage } from './checkArrowMetadata.js';
import type { BlockVerifier } from './fileHash.js';
// Registers the LZ4_FRAME codec apache-arrow's reader decodes compressed record batches with.
import './compression.js';

const MAGIC = 'ARROW1';
/** Leading magic + padding; trailing int32 footer length + magic. */
const HEAD = 8;
const TAIL = 10;
const EOS = new Uint8Array(Int32Array.of(-1, 0).buffer);

interface Block {
  offset: number;
  length: number;
  /** Bytes of the message's flatbuffer metadata (after the 8-byte prefix). */
  metaLength: number;
  /** Rows of a record batch (its header's length). */
  rows: number;
}

function schemaMessage(schema: Schema): Uint8Array {
  const w = new RecordBatchStreamWriter();
  w.reset(undefined, schema);
  return w.toUint8Array(true);
}

export class TableFileReader {
  private fd: number;
  private readonly dictionaries: Uint8Array;
  private readonly blocks: Block[] = [];
  private readonly prefix: Uint8Array;
  /** The schema in the file's footer (null for a footer-less file). */
  readonly fileSchema: Schema | null;
  private footerBatches = -1;
  /** Whether any record batch's body is compressed (its message's BodyCompression is set). */
  private compressedBodies = false;

  /**
   * @param path the .arrow file; `file` its name for messages
   * @param schema the schema the table must have (used to decode footer-less files)
   * @param salvageEnd null for a finished file (footer required); else read a footer-less file up to this
   *   many bytes (what the `incomplete` marker says is on disk), or the footer if the file has one after all
   * @param verifier checks every block of the file a read touches against the manifest's per-block
   *   checksums (TraceReader, `verify: 'on-read'`); null: reads are not checked here
   */
  constructor(readonly path: string, readonly file: string, schema: Schema, salvageEnd: number | null,
    private readonly verifier: BlockVerifier | null = null) {
    this.fd = openSync(path, 'r');
    try {
      const size = fstatSync(this.fd).size;
      const head = this.read(0, Math.min(HEAD, size));
      if (size === 0 && salvageEnd !== null) {
        this.fileSchema = null;
      } else if (size < HEAD || Buffer.from(head).toString('latin1', 0, 6) !== MAGIC) {
        throw new TraceError(`${file} is not an Arrow IPC file (no ARROW1 magic at its start)`, path);
      } else {
        const footer = this.readFooter(size);
        if (typeof footer === 'string' && salvageEnd === null) throw new TraceError(`${file} is corrupt: its Arrow footer is damaged (${footer})`, path);
        this.fileSchema = typeof footer === 'string' ? null : footer?.schema ?? null;
        this.footerBatches = typeof footer === 'string' ? -1 : footer?.numRecordBatches ?? -1;
        if (this.fileSchema === null && salvageEnd === null) {
          throw new TraceError(`${file} is truncated or corrupt: no Arrow footer at its end (was the recorder killed before closing it?)`, path);
        }
      }
      const end = this.fileSchema !== null ? size - TAIL : Math.min(salvageEnd ?? 0, size);
      const dicts: Block[] = [];
      this.walk(end, this.fileSchema !== null, dicts);
      if (this.footerBatches >= 0 && this.footerBatches !== this.blocks.length) {
        throw new TraceError(`${file} is corrupt: its footer lists ${this.footerBatches} record batches, the file holds ${this.blocks.length}`, path);
      }
      this.dictionaries = concat(dicts.map((b) => this.read(b.offset, b.length)));
      this.prefix = concat([schemaMessage(schema), this.dictionaries]);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get numBatches(): number {
    return this.blocks.length;
  }

  /**
   * Record batches [from, to) as a self-contained Arrow IPC stream (schema, dictionaries, the batches,
   * end-of-stream), copied from the file without decoding: for readers in other runtimes (the Parquet
   * writer's WebAssembly Arrow) that decode it themselves.
   */
  ipcStream(from: number, to: number): Uint8Array {
    if (from < 0 || to > this.blocks.length || from > to) throw new RangeError(`${this.file}: no batches [${from}, ${to})`);
    const parts = [this.prefix];
    if (from < to) {
      const first = this.blocks[from]!;
      const last = this.blocks[to - 1]!;
      parts.push(this.read(first.offset, last.offset + last.length - first.offset)); // batches are contiguous
    }
    parts.push(EOS);
    return concat(parts);
  }

  /**
   * Like ipcStream, but with uncompressed bodies: readers whose Arrow build has no IPC body codecs (the
   * Parquet writer's WebAssembly arrow-rs is built without `ipc_compression`) cannot decode LZ4_FRAME
   * buffers, so compressed batches are decoded here and written again without compression.
   */
  plainIpcStream(from: number, to: number): Uint8Array {
    if (!this.compressedBodies) return this.ipcStream(from, to);
    if (from < 0 || to > this.blocks.length || from > to) throw new RangeError(`${this.file}: no batches [${from}, ${to})`);
    const batches: RecordBatch[] = [];
    for (let i = from; i < to; i++) batches.push(this.batch(i));
    const w = new RecordBatchStreamWriter(); // no compressionType: uncompressed bodies
    if (batches.length === 0) return this.ipcStream(0, 0); // schema + dictionaries only: nothing compressed
    for (const b of batches) w.write(b);
    return w.toUint8Array(true);
  }

  /** Rows of all record batches, as their headers state them (each bounded by its body's size). */
  get numRows(): number {
    let n = 0;
    for (const b of this.blocks) n += b.rows;
    return n;
  }

  /** Decode record batch i (its buffers are views of a fresh buffer: keep the batch as long as needed). */
  batch(i: number): RecordBatch {
    return this.decode(i, this.ipcStream(i, i + 1));
  }

  private decode(i: number, bytes: Uint8Array): RecordBatch {
    try {
      const reader = RecordBatchReader.from(bytes);
      const r = reader.next();
      if (r.done || !r.value) throw new Error('the record batch message did not decode');
      return r.value;
    } catch (e) {
      throw new TraceError(`${this.file} is corrupt: record batch ${i}: ${(e as Error).message}`, this.path);
    }
  }

  /**
   * Record batch i's message metadata (row count, buffer regions of its body, null counts) and where its
   * body starts in the file: for readers that pull single column buffers instead of decoding the batch.
   */
  batchLayout(i: number): { header: RecordBatchHeader; bodyStart: number } {
    const b = this.blocks[i];
    if (!b) throw new RangeError(`${this.file}: no batch ${i}`);
    const msg = Message.decode(this.read(b.offset + 8, b.metaLength));
    return { header: msg.header() as RecordBatchHeader, bodyStart: b.offset + 8 + b.metaLength };
  }

  /**
   * Read `length` bytes at file offset `offset` into `into` (a TraceError if the file is shorter), checked
   * against the manifest's block checksums when the reader verifies on read.
   */
  readInto(into: Uint8Array, length: number, offset: number): void {
    if (this.verifier !== null) this.verifier.read(into, length, offset, (b, n, o) => this.readRaw(b, n, o));
    else this.readRaw(into, length, offset);
  }

  private readRaw(into: Uint8Array, length: number, offset: number): void {
    if (readFully(this.fd, into, length, offset) < length) throw new TraceError(`${this.file} is truncated (wanted ${length} bytes at ${offset})`, this.path);
  }

  /**
   * Check the record batches' bytes against the manifest's block checksums now, for a reader that reads them
   * on another thread (replay's exit reader); nothing when this reader does not check reads.
   */
  verifyBatches(): void {
    const last = this.blocks.at(-1);
    if (this.verifier === null || last === undefined) return;
    const end = last.offset + last.length;
    const chunk = new Uint8Array(1 << 20);
    for (let at = 0; at < end; at += chunk.length) this.readInto(chunk, Math.min(chunk.length, end - at), at);
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  private read(offset: number, length: number): Uint8Array {
    const buf = Buffer.allocUnsafe(length);
    this.readInto(buf, length, offset);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }

  /**
   * The footer; null when the file does not end with one (a file still being written), or what is wrong with
   * a footer that is there but damaged (checked before decoding: see checkArrowMetadata).
   */
  private readFooter(size: number): Footer | null | string {
    if (size < HEAD + TAIL) return null;
    const tail = Buffer.from(this.read(size - TAIL, TAIL));
    const len = tail.readInt32LE(0);
    if (tail.toString('latin1', 4, 10) !== MAGIC) return null;
    if (len <= 0 || len > size - HEAD - TAIL) return `footer length ${len} in a file of ${size} bytes`;
    try {
      const bytes = this.read(size - TAIL - len, len);
      checkFooter(bytes);
      return Footer.decode(bytes);
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Index the messages between the leading magic and `end`. */
  private walk(end: number, strict: boolean, dicts: Block[]): void {
    let pos = HEAD;
    const bad = (why: string): never => {
      throw new TraceError(`${this.file} is corrupt: ${why} at byte ${pos}`, this.path);
    };
    while (pos + 8 <= end) {
      const pre = Buffer.from(this.read(pos, 8));
      if (pre.readInt32LE(0) !== -1) bad('no message continuation marker');
      const metaLen = pre.readInt32LE(4);
      if (metaLen === 0) return; // end-of-stream marker
      if (metaLen < 0 || pos + 8 + metaLen > end) {
        if (strict) bad('a message runs past the end of the file');
        return;
      }
      let msg: Message;
      let header: RecordBatchHeader | null = null;
      try {
        const meta = this.read(pos + 8, metaLen);
        checkMessage(meta); // bounds every count the decoder loops over (see checkArrowMetadata)
        msg = Message.decode(meta);
        if (msg.headerType === MessageHeader.RecordBatch) header = msg.header() as RecordBatchHeader;
      } catch (e) {
        if (strict) bad(`undecodable message (${(e as Error).message})`);
        return;
      }
      const length = 8 + metaLen + Number(msg.bodyLength);
      if (pos + length > end) {
        if (strict) bad('a message body runs past the end of the file');
        return;
      }
      if (msg.headerType === MessageHeader.RecordBatch) {
        // Every column of every table has a fixed-width buffer of at least one byte per row, and LZ4 (the one
        // body compression) expands at most 255-fold, so a batch's row count is bounded by its body: a damaged
        // length cannot size an allocation beyond a fixed multiple of the file.
        const rows = Number(header!.length);
        if (!Number.isSafeInteger(rows) || rows < 0 || rows > lz4MaxDecoded(Number(msg.bodyLength))) {
          bad(`a record batch claims ${rows} rows in a body of ${Number(msg.bodyLength)} bytes`);
        }
        if (header!.compression !== null) this.compressedBodies = true;
        this.blocks.push({ offset: pos, length, metaLength: metaLen, rows });
      } else if (msg.headerType === MessageHeader.DictionaryBatch) {
        if (this.blocks.length > 0) bad('a dictionary batch after the first record batch (delta or replacement)');
        dicts.push({ offset: pos, length, metaLength: metaLen, rows: 0 });
      } else bad(`unexpected message type ${msg.headerType}`);
      pos += length;
    }
    if (strict) bad('no end-of-stream marker before the footer');
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
