// Per-block checksums (src/record/fileHash.ts): the writer's streaming digest against xxHash's own one-shot
// XXH64 of the whole data and of each 16 KiB block (the library's other code path), whatever the chunking; and
// the block checker hands out exactly the bytes asked for and fails exactly when a read touches a damaged block.

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xxh64 } from '@node-rs/xxhash';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK_BYTES, BlockVerifier, StreamDigest } from '../src/record/fileHash.js';

/** Deterministic bytes and sizes (xorshift32). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const hex = (h: bigint): string => h.toString(16).padStart(16, '0');

describe('per-block XXH64', () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-filehash-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([0, 1, BLOCK_BYTES - 1, BLOCK_BYTES, BLOCK_BYTES + 1, 5 * BLOCK_BYTES + 12_345])('a stream of %i bytes in random chunks', (size) => {
    const r = rng(size + 1);
    const data = new Uint8Array(size).map(() => Math.floor(r() * 256));
    const want: string[] = [];
    for (let o = 0; o < size; o += BLOCK_BYTES) want.push(hex(xxh64(data.subarray(o, Math.min(o + BLOCK_BYTES, size)), 0n)));
    for (const maxChunk of [1, 7, 4096, 3 * BLOCK_BYTES]) {
      const d = new StreamDigest();
      for (let o = 0; o < size;) {
        const n = Math.min(size - o, 1 + Math.floor(r() * maxChunk));
        d.update(data.subarray(o, o + n));
        o += n;
      }
      const got = d.digest();
      expect(got.xxh64).toBe(hex(xxh64(data, 0n)));
      expect(got.blocks).toEqual({ bytes: BLOCK_BYTES, xxh64: want.join('') });
    }
  });

  it('the block checker reads what is asked and catches a damaged block only when a read touches it', () => {
    const size = 7 * BLOCK_BYTES + 999;
    const r = rng(7);
    const data = new Uint8Array(size).map(() => Math.floor(r() * 256));
    const blocks = new StreamDigest().update(data).digest().blocks;
    const path = join(root, 'f');
    const damaged = data.slice();
    const bad = 3 * BLOCK_BYTES + 100; // in block 3
    damaged[bad] = damaged[bad]! ^ 1;
    writeFileSync(path, damaged);
    const fd = openSync(path, 'r');
    try {
      const readAt = (b: Uint8Array, n: number, o: number): void => {
        expect(readSync(fd, b, 0, n, o)).toBe(n);
      };
      const failed: number[] = [];
      const v = new BlockVerifier(blocks, size, (block) => {
        failed.push(block);
        throw new Error(`block ${block}`);
      });
      for (let k = 0; k < 300; k++) {
        const off = Math.floor(r() * size);
        const len = Math.min(size - off, 1 + Math.floor(r() * 2 * BLOCK_BYTES));
        const into = new Uint8Array(len);
        const touches = Math.floor(off / BLOCK_BYTES) <= 3 && Math.floor((off + len - 1) / BLOCK_BYTES) >= 3;
        const before = failed.length;
        let threw = false;
        try {
          v.read(into, len, off, readAt);
        } catch {
          threw = true;
        }
        expect(threw).toBe(touches); // block 3 is never marked checked, so every read touching it fails
        if (!threw) expect(Buffer.from(into).equals(damaged.subarray(off, off + len))).toBe(true);
        if (threw) expect(failed.slice(before)).toEqual([3]);
      }
    } finally {
      closeSync(fd);
    }
  });
});
