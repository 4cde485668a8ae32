// One buffer of a record batch's body read into a caller's reusable memory: the projected scan (scanColumns)
// and replay's exit reader (exitRowsThread) pull single column buffers this way instead of decoding whole
// batches with apache-arrow. No apache-arrow import: the exit reader's thread loads this module alone.

import { decodeLz4Frame } from './lz4Frame.js';

/** A positioned read of the table file: `length` bytes at file offset `offset` into `into` (throws when short). */
export type ReadAt = (into: Uint8Array, length: number, offset: number) => void;

/** Bytes read and not yet decoded, reused from buffer to buffer. */
export interface Scratch {
  bytes: Uint8Array;
}

/**
 * The body buffer at file offset `at` (`length` bytes on disk) as its first `want` plain bytes, at the start
 * of `into`. A compressed body's buffer (the RecordBatch's BodyCompression, LZ4_FRAME: Message.fbs) is an
 * int64 uncompressed length (-1: stored as is) and one LZ4 frame. Returns null, or what is wrong with the
 * buffer (the caller names the file, batch and column).
 */
export function readBodyBuffer(read: ReadAt, at: number, length: number, compressed: boolean, want: number,
  into: Uint8Array, scratch: Scratch): string | null {
  if (!compressed) {
    if (length < want) return `has ${length} bytes, ${want} expected`;
    read(into, want, at);
    return null;
  }
  if (want === 0) return null;
  if (length < 8) return `has ${length} bytes, ${want} expected`;
  if (scratch.bytes.byteLength < length) scratch.bytes = new Uint8Array(Math.max(length, scratch.bytes.byteLength * 2));
  const packed = scratch.bytes;
  read(packed, length, at);
  const raw = Number(new DataView(packed.buffer, packed.byteOffset, 8).getBigInt64(0, true));
  let plain: Uint8Array;
  try {
    plain = raw === -1 ? packed.subarray(8, length) : decodeLz4Frame(packed.subarray(8, length), 0, raw).data;
  } catch (e) {
    return `does not decompress (${(e as Error).message})`;
  }
  if (plain.byteLength < want || (raw !== -1 && plain.byteLength !== raw)) return `has ${plain.byteLength} bytes, ${want} expected`;
  into.set(plain.subarray(0, want));
  return null;
}
