// Checksums of trace files. The manifest lists each file's SHA-256 (a content address anyone can recompute)
// and its XXH64 (xxHash, seed 0, as `xxhsum -H64` prints it): readers verify the XXH64 on open, because
// SHA-256 runs at a few hundred MB/s here while XXH64 runs at GB/s, and verification must cost little next
// to an analysis. XXH64 detects damage (flipped bits, truncation, swapped files), not tampering.
//
// The files the recorder streams (the tables, the console) also carry an XXH64 per block of BLOCK_BYTES
// (`blocks` in the manifest), so a reader that reads a few column buffers of a table checks the blocks it
// reads instead of hashing the whole file (issue 21: `trace analyze exits` reads 2 of 38 columns; hashing
// all of exits.arrow cost ~0.2x the analysis, measured). Why not XXH3: @node-rs/xxhash's streaming XXH3
// hashed exits.arrow (23.7 MB) in 1.0 ms against XXH64's 1.3 ms, but reading the file costs another
// 1.35 ms either way, so a faster whole-file hash saves ~12%, not the 2x the target needs; its one-shot
// xxh3.xxh64 ran at ~2 GB/s here. XXH64 per block (one-shot) ran at 15 GB/s.

import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Xxh64, xxh64 } from '@node-rs/xxhash';

/**
 * Bytes per checksummed block. Smaller blocks make a projected read check fewer bytes it does not use;
 * larger ones make the manifest shorter (16 hex digits per block: 0.1% of the file at 16 KiB). On
 * `analyze exits` of syscall:n=1000000 (exits.arrow 23.7 MB, 31 record batches) the blocks read hold
 * 0.35 MB at 4 KiB (manifest 221 KB), 1.1 MB at 16 KiB (70 KB), 4.2 MB at 64 KiB (32 KB).
 */
export const BLOCK_BYTES = 16384;

/** Per-block checksums of a file: XXH64 (seed 0) of each `bytes`-byte block, the last one shorter. */
export interface BlockDigests {
  /** Block size in bytes. */
  bytes: number;
  /** The blocks' XXH64s, 16 lowercase hex digits each, concatenated in file order. */
  xxh64: string;
}

export interface FileDigest {
  bytes: number;
  sha256: string;
  xxh64: string;
  /** Per-block XXH64s (files the recorder streams; absent for files hashed after writing). */
  blocks?: BlockDigests;
}

const hex16 = (h: bigint): string => h.toString(16).padStart(16, '0');

/** XXH64 of a stream of chunks (seed 0), as 16 lowercase hex digits. */
export class Xxh64Hash {
  private readonly h = new Xxh64(0n);
  update(bytes: Uint8Array): this {
    this.h.update(bytes);
    return this;
  }
  digest(): string {
    return hex16(this.h.digest());
  }
}

/** XXH64 of one block (seed 0). */
export function blockXxh64(bytes: Uint8Array): bigint {
  return xxh64(bytes, 0n);
}

/**
 * The XXH64 of a whole stream of chunks and of each of its BLOCK_BYTES blocks (what the writer records in
 * the manifest for the files it streams): chunks may have any size; whole blocks inside a chunk are hashed
 * in place, the rest is gathered in one block-sized buffer.
 */
export class StreamDigest {
  private readonly whole = new Xxh64Hash();
  private readonly partial = new Uint8Array(BLOCK_BYTES);
  private filled = 0;
  private readonly blocks: string[] = [];

  update(chunk: Uint8Array): this {
    this.whole.update(chunk);
    let at = 0;
    const n = chunk.byteLength;
    if (this.filled > 0) {
      const k = Math.min(n, BLOCK_BYTES - this.filled);
      this.partial.set(chunk.subarray(0, k), this.filled);
      this.filled += k;
      at = k;
      if (this.filled === BLOCK_BYTES) {
        this.blocks.push(hex16(blockXxh64(this.partial)));
        this.filled = 0;
      }
    }
    for (; at + BLOCK_BYTES <= n; at += BLOCK_BYTES) this.blocks.push(hex16(blockXxh64(chunk.subarray(at, at + BLOCK_BYTES))));
    if (at < n) {
      this.partial.set(chunk.subarray(at), this.filled);
      this.filled += n - at;
    }
    return this;
  }

  /** The whole stream's XXH64 and its blocks' (call once, at the end). */
  digest(): { xxh64: string; blocks: BlockDigests } {
    if (this.filled > 0) {
      this.blocks.push(hex16(blockXxh64(this.partial.subarray(0, this.filled))));
      this.filled = 0;
    }
    return { xxh64: this.whole.digest(), blocks: { bytes: BLOCK_BYTES, xxh64: this.blocks.join('') } };
  }
}

const CHUNK = 1 << 20;
/**
 * One read buffer for every file (reading is synchronous and the callbacks never read another file): a fresh
 * zero-filled 1 MiB buffer per file cost more than hashing a trace's ~30 small files.
 */
let shared: Uint8Array | null = null;

function eachChunk(path: string, f: (chunk: Uint8Array) => void): number {
  const buf = (shared ??= new Uint8Array(CHUNK));
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      f(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** Size, SHA-256 and XXH64 of a file (the writer, for files it did not stream itself). */
export function hashFile(path: string): FileDigest {
  const sha = createHash('sha256');
  const xx = new Xxh64Hash();
  const bytes = eachChunk(path, (c) => {
    sha.update(c);
    xx.update(c);
  });
  return { bytes, sha256: sha.digest('hex'), xxh64: xx.digest() };
}

/** The checksum a reader verifies: XXH64, or SHA-256 for traces written before XXH64 was recorded. */
export function checksumFile(path: string, algorithm: 'xxh64' | 'sha256'): string {
  if (algorithm === 'xxh64') {
    const xx = new Xxh64Hash();
    eachChunk(path, (c) => xx.update(c));
    return xx.digest();
  }
  const sha = createHash('sha256');
  eachChunk(path, (c) => sha.update(c));
  return sha.digest('hex');
}

/**
 * Checks the blocks of one open file as they are read (a table read column by column through
 * TableFileReader): `read(into, length, offset)` reads the whole blocks the range touches that are not
 * checked yet, checks each against the manifest, then hands out the bytes asked for; ranges in checked
 * blocks are read directly. `fail(block)` reports a block that does not match (it throws).
 */
export class BlockVerifier {
  private readonly checked: Uint8Array;
  private scratch = new Uint8Array(0);

  /** `blocks` as the manifest has it (checked by parseManifest: 16 hex digits per block of the file). */
  constructor(private readonly blocks: BlockDigests, readonly fileBytes: number, private readonly fail: (block: number, from: number, to: number) => never) {
    this.checked = new Uint8Array(blocks.xxh64.length / 16);
  }

  /**
   * Read [offset, offset + length) into `into` with `readAt(buf, length, offset)` (the file's own positioned
   * read), checking every block the range touches the first time.
   */
  read(into: Uint8Array, length: number, offset: number, readAt: (buf: Uint8Array, length: number, offset: number) => void): void {
    if (length <= 0) return;
    const B = this.blocks.bytes;
    const first = Math.floor(offset / B);
    const last = Math.floor((offset + length - 1) / B);
    let k = first;
    while (k <= last && this.checked[k] === 1) k++;
    if (k > last || last >= this.checked.length) {
      // Every block checked (or the range runs past the listed blocks: the file's size was checked on open,
      // so the read itself fails as a truncation).
      readAt(into, length, offset);
      return;
    }
    const from = first * B;
    const to = Math.min((last + 1) * B, this.fileBytes);
    if (this.scratch.byteLength < to - from) this.scratch = new Uint8Array(Math.max(to - from, 2 * this.scratch.byteLength));
    const buf = this.scratch.subarray(0, to - from);
    readAt(buf, to - from, from);
    for (let b = first; b <= last; b++) {
      if (this.checked[b] === 1) continue;
      const start = b * B - from;
      const end = Math.min(start + B, to - from);
      if (hex16(blockXxh64(buf.subarray(start, end))) !== this.blocks.xxh64.slice(16 * b, 16 * b + 16)) this.fail(b, b * B, b * B + (end - start));
      this.checked[b] = 1;
    }
    into.set(buf.subarray(offset - from, offset - from + length));
  }
}
