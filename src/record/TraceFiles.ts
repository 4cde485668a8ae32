// Where a recording's table files and its `incomplete` marker are written: TraceFilesWriter does it on the
// thread that calls it; TraceFilesWorker (the default) hands the same calls to a writer thread, so that
// compressing, hashing and writing the record batches costs the recording thread only a copy.
//
// The marker goes through the same queue as the batches: it is written after every batch queued before it,
// with each table's bytes as they are on disk then, so it never lists more than is on disk (traces/README.md
// "States of a trace").

import { manifestText, type Manifest } from './manifest.js';
import { writeAtomic, writeMarkerFile } from './TraceDirectory.js';
import { checkpointBytes, checkpointBytesAsync, type CheckpointState } from './checkpointFile.js';
import { memoryRuns, type InitialImage } from './InitialImage.js';
import type { FileDigest } from './fileHash.js';
import { lz4Compress, lz4CompressAsync, type TraceCompression } from './compression.js';
import { closeSync, openSync } from 'node:fs';
import { writeAll } from './FileSink.js';
import { TABLES, TABLE_NAMES, type TableName } from './schema.js';
import { TableFile, type BatchParts } from './TableFile.js';

/** What the recorder asks of the side that writes its files. */
export interface TraceFiles {
  /** Write one record batch of a table (its buffers may be reused once this returns). */
  write(table: TableName, batch: BatchParts): void;
  /** Rewrite the marker: `m` as the recorder knows it, each table's `bytes` filled in as on disk. */
  marker(m: Manifest): void;
  /** Finish every table file: digests by file name. */
  close(): Map<string, FileDigest>;
  /** After a failed write: close every file without writing more. */
  abandon(): void;
  /** Wait until every call made so far is done (the files and the marker are then as the recorder left them). */
  settle(): void;
}

/** Checkpoint files written through the same queue as the tables (TraceWriter.checkpoint). */
export interface TraceCheckpoints {
  /** Guest memory as loaded, which checkpoints store their differences from (before the first checkpoint). */
  checkpointImage(image: InitialImage): void;
  /** A checkpoint is near (within a slice of the run): get ready for it (TraceFilesWorker: the snapshot buffer). */
  prepareCheckpoint(): void;
  /**
   * Write the checkpoint file at `path` (absolute, its directory existing): `state`, and the ranges where `ram`
   * differs from the image (checkpointFile.ts), in order with the other calls. `ram` is read before this
   * returns (the writer thread's side copies it): the machine may go on.
   */
  checkpoint(path: string, state: CheckpointState, ram: Uint8Array): void;
}

/** Files the recorder writes chunk by chunk beside the tables (TraceWriter.stream), through the same queue. */
export interface TraceStreams {
  /**
   * A file written as a sequence of chunks (the input log), each compressed as one LZ4 frame when `lz4`: opened
   * now, every chunk appended whole, closed by closeStream() or with the others at close().
   */
  openStream(path: string, lz4: boolean): number;
  /** Append one chunk (its buffer is the files' from now on). */
  append(stream: number, chunk: Uint8Array): void;
  closeStream(stream: number): void;
}

/** An appended file: its descriptor and whether each chunk becomes an LZ4 frame. */
interface Stream {
  fd: number;
  lz4: boolean;
}

export interface TraceFilesSpec {
  dir: string;
  /** Absolute path of each table's file. */
  paths: Record<TableName, string>;
  compression: TraceCompression;
}

export class TraceFilesWriter implements TraceFiles, TraceStreams, TraceCheckpoints {
  private readonly tables: Record<TableName, TableFile>;
  private readonly streams = new Map<number, Stream>();
  private nextStream = 1;

  constructor(readonly spec: TraceFilesSpec) {
    const opened: TableFile[] = [];
    try {
      const t = (name: TableName): TableFile => {
        const f = new TableFile(TABLES[name], spec.paths[name], spec.compression);
        opened.push(f);
        return f;
      };
      this.tables = { exits: t('exits'), io: t('io'), interrupts: t('interrupts'), ground_truth: t('ground_truth'), syscalls: t('syscalls') };
    } catch (e) {
      for (const f of opened) f.abandon();
      throw e;
    }
  }

  write(table: TableName, batch: BatchParts): void {
    this.tables[table].write(batch);
  }

  /** write(), compressing on libuv's thread pool (the writer thread's call). */
  writeAsync(table: TableName, batch: BatchParts): Promise<void> {
    return this.tables[table].writeAsync(batch);
  }

  marker(m: Manifest): void {
    for (const name of TABLE_NAMES) m.tables[name].bytes = this.tables[name].file.flushedBytes;
    writeMarkerFile(this.spec.dir, manifestText(m));
  }

  private image: InitialImage | null = null;

  checkpointImage(image: InitialImage): void {
    this.image = image;
  }

  prepareCheckpoint(): void {
    // Nothing to prepare: checkpoint() reads guest memory where it is.
  }

  checkpoint(path: string, state: CheckpointState, ram: Uint8Array): void {
    writeAtomic(path, checkpointBytes(state, memoryRuns(ram, this.checkpointImageSet()), this.spec.compression));
  }

  private checkpointImageSet(): InitialImage {
    if (this.image === null) throw new Error('checkpoint() before checkpointImage()');
    return this.image;
  }

  /** checkpoint(), compressing on libuv's thread pool (the writer thread's call; the same bytes). */
  async checkpointAsync(path: string, state: CheckpointState, ram: Uint8Array): Promise<void> {
    writeAtomic(path, await checkpointBytesAsync(state, memoryRuns(ram, this.checkpointImageSet()), this.spec.compression));
  }

  openStream(path: string, lz4: boolean, id = this.nextStream++): number {
    this.streams.set(id, { fd: openSync(path, 'w'), lz4 });
    return id;
  }

  append(stream: number, chunk: Uint8Array): void {
    const s = this.streams.get(stream)!;
    writeAll(s.fd, s.lz4 ? lz4Compress(chunk) : chunk);
  }

  /** append(), compressing on libuv's thread pool (the writer thread's call: lz4-napi's asynchronous call does not leak). */
  async appendAsync(stream: number, chunk: Uint8Array): Promise<void> {
    const s = this.streams.get(stream)!;
    writeAll(s.fd, s.lz4 ? await lz4CompressAsync(chunk) : chunk);
  }

  closeStream(stream: number): void {
    const s = this.streams.get(stream);
    if (s === undefined) return;
    this.streams.delete(stream);
    closeSync(s.fd);
  }

  close(): Map<string, FileDigest> {
    for (const id of [...this.streams.keys()]) this.closeStream(id);
    const out = new Map<string, FileDigest>();
    for (const name of TABLE_NAMES) out.set(TABLES[name].file, this.tables[name].finish());
    return out;
  }

  abandon(): void {
    for (const name of TABLE_NAMES) this.tables[name].abandon();
    for (const s of this.streams.values()) {
      try {
        closeSync(s.fd);
      } catch {
        // nothing more can be done with this file
      }
    }
    this.streams.clear();
  }

  settle(): void {
    // Every call is done when it returns.
  }
}
