// Checksums of trace files. The manifest lists each file's SHA-256 (a content address anyone can recompute)
// and its XXH64 (xxHash, seed 0, as `xxhsum -H64` prints it): readers verify the XXH64 on open, because
// SHA-256 runs at a few hundred MB/s here while XXH64 runs at GB/s, and verification must cost little next
// to an analysis. XXH64 detects damage (flipped bits, truncation, swapped files), not tampering.

import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Xxh64 } from '@node-rs/xxhash';

export interface FileDigest {
  bytes: number;
  sha256: string;
  xxh64: string;
}

/** XXH64 of a stream of chunks (seed 0), as 16 lowercase hex digits. */
export class Xxh64Hash {
  private readonly h = new Xxh64(0n);
  update(bytes: Uint8Array): this {
    this.h.update(bytes);
    return this;
  }
  digest(): string {
    return this.h.digest().toString(16).padStart(16, '0');
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
