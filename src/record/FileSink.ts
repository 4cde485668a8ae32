// A synchronous, hashed, staged file writer. Every byte of a trace file goes through one of these, so the
// writer knows each file's size, SHA-256 and XXH64 (whole and per block) at close without reading it back, and the file on disk always
// ends at a point the caller chose (flush() after whole record batches).

import { closeSync, openSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { AsyncByteQueue } from 'apache-arrow';
import { StreamDigest, type FileDigest } from './fileHash.js';

/** Write all of `b` at `fd`'s position (writeSync may write less than asked). */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.byteLength) off += writeSync(fd, b, off, b.byteLength - off);
}

const STAGING_BYTES = 1 << 18;

export class FileSink {
  private fd: number;
  private readonly staging = new Uint8Array(STAGING_BYTES);
  private staged = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly xxh = new StreamDigest();
  /** Bytes accepted so far (written or staged). */
  bytes = 0;
  /** Bytes on disk (everything before the last flush). */
  flushedBytes = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    this.hash.update(chunk);
    this.xxh.update(chunk);
    this.bytes += n;
    if (this.staged + n <= STAGING_BYTES) {
      this.staging.set(chunk, this.staged);
      this.staged += n;
      return;
    }
    this.flushStaging();
    if (n >= STAGING_BYTES / 2) this.writeAll(chunk);
    else {
      this.staging.set(chunk, 0);
      this.staged = n;
    }
  }

  flush(): void {
    this.flushStaging();
    this.flushedBytes = this.bytes;
  }

  /** Flushes, closes, and returns the file's size, SHA-256 and XXH64 (hex). */
  close(): FileDigest {
    if (this.fd >= 0) {
      this.flush();
      closeSync(this.fd);
      this.fd = -1;
    }
    this.digest ??= { bytes: this.bytes, sha256: this.hash.digest('hex'), ...this.xxh.digest() };
    return this.digest;
  }

  private digest: FileDigest | undefined;

  /**
   * Close without writing what is staged: after a write failed (a full disk), the file keeps what reached
   * the disk, and the `incomplete` marker says how much of it is whole.
   */
  abandon(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // nothing more can be done with this file
    }
    this.fd = -1;
  }

  private flushStaging(): void {
    if (this.staged === 0) return;
    this.writeAll(this.staging.subarray(0, this.staged));
    this.staged = 0;
  }

  private writeAll(buf: Uint8Array): void {
    writeAll(this.fd, buf);
  }
}

/**
 * The byte queue apache-arrow's RecordBatchWriter writes into (writer.reset(sink) accepts an AsyncByteQueue
 * as is), made synchronous: each chunk goes to the FileSink at once. apache-arrow queues *views* of the
 * batch's buffers; since the writer reuses its column arrays for the next batch, they must be consumed
 * before write(batch) returns.
 */
export class ArrowFileSink extends AsyncByteQueue {
  constructor(readonly file: FileSink) {
    super();
  }

  override write(value: unknown): void {
    const v = value as ArrayBufferView;
    this.file.write(v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
}
