// One buffer of a record batch's body read into a caller's reusable memory: the projected scan (scanColumns)
// and replay's exit reader (exitRowsThread) pull single column buffers this way instead of decoding whole
// batches with apache-arrow. No apache-arrow import: the exit reader's thread loads this module alone.

import { readSync } from 'node:fs';
import { decodeLz4Frame } from './lz4Frame.js';

/** A positioned read of the table file: `length` bytes at file offset `offset` into `into` (throws when short). */
export type ReadAt = (into: Uint8Array, length: number, offset: number) => void;

/**
 * Read `length` bytes at file offset `offset` of `fd` into `into` (positioned reads until done); returns the bytes
 * read, fewer than `length` only where the file ends first (the caller names the file as truncated).
 */
export function readFully(fd: number, into: Uint8Array, length: number, offset: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, into, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Bytes read and not yet decoded, reused from buffer to buffer. */
export interface Scratch {
  bytes: Uint8Array;
}

/** A body buffer as read: its plain bytes (stored), or its LZ4 frame and the size that decodes to. */
export type BodyParts = { plain: Uint8Array } | { frame: Uint8Array; size: number };

/**
 * What a body buffer read whole into `region` holds. A compressed body's buffer (the RecordBatch's
 * BodyCompression, LZ4_FRAME: Message.fbs) is an int64 uncompressed length (-1: stored as is) and one LZ4
 * frame. Returns the parts, or what is wrong with the buffer (the caller names the file, batch and column).
 */
export function bodyParts(region: Uint8Array, compressed: boolean, want: number): BodyParts | string {
  const length = region.byteLength;
  if (!compressed || want === 0) return length < want ? `has ${length} bytes, ${want} expected` : { plain: region };
  if (length < 8) return `has ${length} bytes, ${want} expected`;
  const size = Number(new DataView(region.buffer, region.byteOffset, 8).getBigInt64(0, true));
  return size === -1 ? { plain: region.subarray(8) } : { frame: region.subarray(8), size };
}

/** Whether a buffer's plain bytes are what its parts said (null) or what is wrong. */
export function checkPlain(parts: BodyParts, plain: Uint8Array, want: number): string | null {
  return plain.byteLength < want || ('size' in parts && plain.byteLength !== parts.size) ? `has ${plain.byteLength} bytes, ${want} expected` : null;
}

/**
 * The body buffer at file offset `at` (`length` bytes on disk) as its first `want` plain bytes, at the start
 * of `into` (bodyParts, decoded here). Returns null, or what is wrong with the buffer.
 */
export function readBodyBuffer(read: ReadAt, at: number, length: number, compressed: boolean, want: number,
  into: Uint8Array, scratch: Scratch): string | null {
  if (!compressed) {
    if (length < want) return `has ${length} bytes, ${want} expected`;
    read(into, want, at);
    return null;
  }
  if (scratch.bytes.byteLength < length) scratch.bytes = new Uint8Array(Math.max(length, scratch.bytes.byteLength * 2));
  const region = scratch.bytes.subarray(0, length);
  read(region, length, at);
  const parts = bodyParts(region, true, want);
  if (typeof parts === 'string') return parts;
  let plain: Uint8Array;
  try {
    plain = 'frame' in parts ? decodeLz4Frame(parts.frame, 0, parts.size).data : parts.plain;
  } catch (e) {
    return `does not decompress (${(e as Error).message})`;
  }
  const wrong = checkPlain(parts, plain, want);
  if (wrong === null) into.set(plain.subarray(0, want));
  return wrong;
}
