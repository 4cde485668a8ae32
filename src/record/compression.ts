// Trace compression: Arrow IPC per-buffer body compression (the RecordBatch message's `compression` field,
// format/Message.fbs BodyCompression) with LZ4_FRAME, and LZ4 frames for the input log and checkpoints.
//
// Why LZ4 frames from lz4-napi: a native, synchronous codec (the recorder compresses inside its hot loop),
// shipped as prebuilt binaries in npm platform packages (nothing downloaded at install besides the npm
// registry). Measured on syscall:n=200000's tables: LZ4 ~10x on exits.arrow at ~500 MB/s; zstd (the WASM
// builds, the only ones that install without a compiler or a GitHub download) ~25x at ~100 MB/s, too slow
// for the recorder's budget. LZ4_FRAME is one of the two codecs the Arrow spec allows, so pyarrow, pandas,
// polars and DuckDB's Arrow readers open the files.
//
// apache-arrow 21.2.0's writer puts the *compressed* length in each buffer's 8-byte prefix; the spec
// (Message.fbs, BodyCompressionMethod.BUFFER) wants the *uncompressed* length (-1: stored uncompressed), and
// other readers allocate by it. CompressedFileWriter writes the spec's prefix.

import { compressFrame, compressFrameSync } from 'lz4-napi';
import { decodeLz4Frame, lz4MaxDecoded } from './lz4Frame.js';
import { CompressionType, compressionRegistry, RecordBatchFileWriter, type RecordBatch } from 'apache-arrow';
import { VectorAssembler } from 'apache-arrow/visitor/vectorassembler';
import { TraceError } from '../errors.js';

export const TraceCompression = { none: 'none', lz4: 'lz4' } as const;
export type TraceCompression = (typeof TraceCompression)[keyof typeof TraceCompression];
export const TRACE_COMPRESSIONS: readonly TraceCompression[] = Object.values(TraceCompression);
export const DEFAULT_COMPRESSION: TraceCompression = TraceCompression.lz4;

export function parseCompression(s: string): TraceCompression {
  if ((TRACE_COMPRESSIONS as readonly string[]).includes(s)) return s as TraceCompression;
  throw new TraceError(`unknown compression "${s}" (one of: ${TRACE_COMPRESSIONS.join(', ')})`);
}

/** The LZ4 frame magic number (lz4 frame format spec, 0x184D2204 little-endian). */
const LZ4_MAGIC = [0x04, 0x22, 0x4d, 0x18] as const;

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** One LZ4 frame (no content checksum: the manifest's SHA-256 covers every file). */
export function lz4Compress(b: Uint8Array): Uint8Array {
  return compressFrameSync(asBuffer(b), { contentChecksum: false });
}

/**
 * The same frame, compressed on libuv's thread pool. lz4-napi's synchronous call leaks every buffer it
 * returns (measured: RSS +42 MB per 1000 frames of 256 KiB, with forced GCs); its asynchronous one does not
 * (+0 MB after the first thousand) and returns the same bytes. The writer thread compresses with it.
 */
export function lz4CompressAsync(b: Uint8Array): Promise<Uint8Array> {
  return compressFrame(b, { contentChecksum: false });
}

/** Buffers compressed ahead of apache-arrow's calls for them, in the order it will ask. */
interface DoneAhead { inputs: Uint8Array[]; outputs: Uint8Array[]; next: number }

/** The output done ahead for this very buffer (the next one asked for), else null. */
function takeAhead(a: DoneAhead | null, b: Uint8Array): Uint8Array | null {
  if (a === null || a.next >= a.inputs.length) return null;
  const x = a.inputs[a.next]!;
  return x.buffer === b.buffer && x.byteOffset === b.byteOffset && x.byteLength === b.byteLength ? a.outputs[a.next++]! : null;
}

/** Frames compressed ahead of a batch's encode calls (CompressedFileWriter.writeAsync). */
let ahead: DoneAhead | null = null;

/** apache-arrow's encode call: the frame compressed ahead for this very buffer, else one compressed now. */
function encode(b: Uint8Array): Uint8Array {
  return takeAhead(ahead, b) ?? lz4Compress(b);
}

/** Decode one LZ4 frame (lz4Frame.ts: lz4-napi's synchronous decoder leaks what it returns). `size`: the
 *  expected content size when known (allocated once). */
export function lz4Decompress(b: Uint8Array, size = 0): Uint8Array {
  return decodeLz4Frame(b, 0, size).data;
}

/**
 * Byte length of the LZ4 frame at `at` (LZ4 frame format 1.6.x: magic, FLG, BD, optional content size and
 * dictionary id, header checksum; blocks of a 4-byte size, high bit = stored, optional block checksum;
 * a zero end mark; optional content checksum), to tell a frame cut short from a damaged one.
 */
export function lz4FrameLength(b: Uint8Array, at: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flg = b[at + 4]!;
  let p = at + 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
  const blockChecksum = (flg & 0x10) !== 0 ? 4 : 0;
  for (;;) {
    if (p + 4 > b.byteLength) throw new Error('LZ4 frame cut short');
    const size = dv.getUint32(p, true);
    p += 4;
    if (size === 0) break;
    p += (size & 0x7fffffff) + blockChecksum;
  }
  return p + ((flg & 0x04) !== 0 ? 4 : 0) - at;
}

/**
 * The whole LZ4 frames of a sequence of concatenated frames, decoded one by one, and where they end. With
 * `allowCut`, a last frame that is cut short (a writer killed mid-write) ends the sequence instead of being
 * an error: `end` then says how many bytes were whole frames.
 */
export function lz4Frames(b: Uint8Array, allowCut = false): { frames: Uint8Array[]; end: number } {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at < b.byteLength) {
    if (b.byteLength - at < 7 && allowCut) break; // not even a frame header
    if (!isLz4Frame(b.subarray(at))) throw new Error(`no LZ4 frame at byte ${at}`);
    let n: number;
    try {
      n = lz4FrameLength(b, at);
    } catch (e) {
      if (allowCut) break;
      throw e;
    }
    if (at + n > b.byteLength) {
      if (allowCut) break;
      throw new Error('LZ4 frame cut short');
    }
    frames.push(lz4Decompress(b.subarray(at, at + n)));
    at += n;
  }
  return { frames, end: at };
}

/** Decode a sequence of concatenated LZ4 frames (as `lz4 -dc` does). */
export function lz4DecompressFrames(b: Uint8Array): Uint8Array {
  const parts = lz4Frames(b).frames;
  let total = 0;
  for (const p of parts) total += p.byteLength;
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export function isLz4Frame(b: Uint8Array): boolean {
  return b.byteLength >= 4 && b[0] === LZ4_MAGIC[0] && b[1] === LZ4_MAGIC[1] && b[2] === LZ4_MAGIC[2] && b[3] === LZ4_MAGIC[3];
}

/**
 * apache-arrow's reader hands the codec a view of the buffer just past its 8-byte prefix, which holds the
 * uncompressed length (the spec's, as this file writes it): read it as the size to allocate once (a hint
 * only: the decoder grows its output if it is short, so a prefix some writer filled wrongly costs nothing).
 */
function arrowBufferSizeHint(b: Uint8Array): number {
  if (b.byteOffset < 8) return 0;
  const n = new DataView(b.buffer, b.byteOffset - 8, 8).getBigInt64(0, true);
  // Anything LZ4 cannot expand to is not this buffer's length.
  return n > 0n && n <= BigInt(lz4MaxDecoded(b.byteLength)) ? Number(n) : 0;
}

/** apache-arrow's decode call (lz4Frame.ts). */
function decode(b: Uint8Array): Uint8Array {
  return lz4Decompress(b, arrowBufferSizeHint(b));
}

// apache-arrow's reader looks codecs up here (its decoder ignores the length prefix except for -1).
compressionRegistry.set(CompressionType.LZ4_FRAME, { encode, decode });

/** A RecordBatchFileWriter whose compressed buffers carry the uncompressed length, as the spec says. */
export class CompressedFileWriter extends RecordBatchFileWriter {
  constructor(private readonly compression: TraceCompression) {
    super({ compressionType: compression === TraceCompression.lz4 ? CompressionType.LZ4_FRAME : null });
  }

  /**
   * write(batch), its body buffers compressed first with lz4CompressAsync (the buffers apache-arrow's writer
   * assembles, in its order; a dictionary batch written before the first record batch is compressed at once).
   * The bytes are write(batch)'s.
   */
  async writeAsync(batch: RecordBatch): Promise<void> {
    if (this.compression !== TraceCompression.lz4) {
      this.write(batch);
      return;
    }
    const inputs = VectorAssembler.assemble(batch).buffers
      .map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
      .filter((v) => v.byteLength > 0);
    const outputs = await Promise.all(inputs.map(lz4CompressAsync));
    ahead = { inputs, outputs, next: 0 };
    try {
      this.write(batch);
    } finally {
      ahead = null;
    }
  }

  protected override _compressBodyBuffers(buffers: ArrayBufferView[]) {
    const out = super._compressBodyBuffers(buffers);
    // super emits [prefix, data] per input buffer; an empty buffer gets two empty arrays.
    for (let i = 0; i < buffers.length; i++) {
      const prefix = out.buffers[2 * i] as Uint8Array;
      if (prefix.byteLength !== 8) continue;
      const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
      if (view.getBigInt64(0, true) === -1n) continue;
      view.setBigInt64(0, BigInt(buffers[i]!.byteLength), true);
    }
    return out;
  }
}
