// An LZ4 frame decoder in TypeScript, for every reader of compressed traces.
//
// Why not lz4-napi's decompressFrameSync (which the writer's compressFrameSync pairs with): every Buffer it
// returns stays allocated in native memory after it is garbage-collected (measured: 4000 decodes of a 256 KiB
// frame grow the resident set by 1 GB with a forced GC every 500; upstream issue antoniomuso/lz4-napi#678 for
// the sync API), so an analysis over a compressed 10M-exit trace held every byte it decompressed. Its async API
// does not leak but cannot serve the synchronous readers (the projected scan, apache-arrow's codec registry).
//
// Format: the LZ4 frame format 1.6.x (lz4/doc/lz4_Frame_format.md) and the LZ4 block format
// (lz4/doc/lz4_Block_format.md). Blocks are decoded into one output buffer, so linked blocks (matches into
// the previous block) decode as well as independent ones. Checksums are not verified: the manifest's XXH64 and
// SHA-256 cover every trace file. Tested against the reference `lz4` command (test/lz4.test.ts).

const MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE = 0x184d2a50;
/** Block maximum sizes by the BD byte's bits 6-4 (4: 64 KiB .. 7: 4 MiB). */
const BLOCK_MAX = [0, 0, 0, 0, 1 << 16, 1 << 18, 1 << 20, 1 << 22];

export class Lz4FormatError extends Error {}

/**
 * The most bytes `n` compressed bytes can decode to: a match of LZ4's block format covers at most 255 output
 * bytes per input byte of its length, plus a block's slack. Readers bound sizes a damaged file states by it
 * before allocating by them.
 */
export function lz4MaxDecoded(n: number): number {
  return 255 * n + 65536;
}

function u32(b: Uint8Array, at: number): number {
  if (at + 4 > b.length) throw new Lz4FormatError('LZ4 frame cut short');
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * Output memory without zero-filling it (every byte returned is written by the decoder first): zeroing a
 * fresh buffer per decoded Arrow buffer was a tenth of reading a compressed exits.arrow. Its own ArrayBuffer
 * (not Buffer's shared pool), as a plain Uint8Array.
 */
function uninitialized(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A growable output (the frame header rarely states the content size). */
class Output {
  buf: Uint8Array;
  n = 0;
  constructor(capacity: number, reuse: Uint8Array | null) {
    this.buf = reuse !== null && reuse.length >= capacity ? reuse : uninitialized(Math.max(64, capacity));
  }
  reserve(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const b = uninitialized(cap);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
}

/** Decode one LZ4 block (src[from, to)) onto the end of `out`. Matches may reach back to out's start. */
function decodeBlock(src: Uint8Array, from: number, to: number, out: Output, blockMax: number): void {
  out.reserve(blockMax);
  const dst = out.buf;
  let op = out.n;
  let ip = from;
  const limit = out.n + blockMax;
  for (;;) {
    if (ip >= to) throw new Lz4FormatError('LZ4 block ends inside a sequence');
    const token = src[ip++]!;
    // Literals.
    let lit = token >>> 4;
    if (lit === 15) {
      let b;
      do {
        if (ip >= to) throw new Lz4FormatError('LZ4 block ends inside a literal length');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > to || op + lit > limit) throw new Lz4FormatError('LZ4 literals run past the block');
    if (lit < 16) for (let k = 0; k < lit; k++) dst[op + k] = src[ip + k]!;
    else dst.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === to) break; // the last sequence is literals only
    // Match.
    if (ip + 2 > to) throw new Lz4FormatError('LZ4 block ends inside a match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Lz4FormatError(`LZ4 match offset ${offset} points before the output`);
    let len = token & 15;
    if (len === 15) {
      let b;
      do {
        if (ip >= to) throw new Lz4FormatError('LZ4 block ends inside a match length');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (op + len > limit) throw new Lz4FormatError('LZ4 match runs past the block maximum size');
    let m = op - offset;
    if (len <= 32) {
      // Short matches (most of them): a loop beats a call. In order, so that an overlapping match (offset <
      // len) repeats the last `offset` bytes.
      for (const end = op + len; op < end;) dst[op++] = dst[m++]!;
    } else if (offset >= len) {
      dst.copyWithin(op, m, m + len);
      op += len;
    } else {
      // Overlapping: the output from m on is periodic with period `offset`, so copy what is already written
      // in doubling pieces (each piece's source lies wholly before its destination).
      const end = op + len;
      while (op < end) {
        const n = Math.min(end - op, op - m);
        dst.copyWithin(op, m, m + n);
        op += n;
      }
    }
  }
  out.n = op;
}

/**
 * Decode the LZ4 frame at `at` (skippable frames before it are passed over). Returns the content and the
 * frame's length in bytes. `sizeHint`: the expected content size, to allocate once. `reuse`: decode into
 * this memory when the content fits (the content returned is then a view of it: valid until its next use),
 * as a reader that decodes frame after frame does; `buffer` is the memory to reuse next time.
 */
export function decodeLz4Frame(src: Uint8Array, at = 0, sizeHint = 0, reuse: Uint8Array | null = null): { data: Uint8Array; length: number; buffer: Uint8Array } {
  let p = at;
  for (;;) {
    const magic = u32(src, p);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE) {
      p += 8 + u32(src, p + 4);
      continue;
    }
    if (magic !== MAGIC) throw new Lz4FormatError(`no LZ4 frame at byte ${p}`);
    break;
  }
  if (p + 7 > src.length) throw new Lz4FormatError('LZ4 frame header cut short');
  const flg = src[p + 4]!;
  const bd = src[p + 5]!;
  if ((flg >>> 6) !== 1) throw new Lz4FormatError(`LZ4 frame version ${flg >>> 6} (only 01 is defined)`);
  if ((flg & 0x01) !== 0) throw new Lz4FormatError('LZ4 frame needs a dictionary');
  const blockMax = BLOCK_MAX[(bd >>> 4) & 7]!;
  if (blockMax === 0) throw new Lz4FormatError(`LZ4 frame block maximum size code ${(bd >>> 4) & 7} is reserved`);
  const blockChecksum = (flg & 0x10) !== 0 ? 4 : 0;
  let contentSize = -1;
  p += 6;
  if ((flg & 0x08) !== 0) {
    contentSize = u32(src, p) + u32(src, p + 4) * 4294967296;
    p += 8;
  }
  p += 1; // header checksum
  const out = new Output(contentSize >= 0 ? contentSize : sizeHint > 0 ? sizeHint : blockMax, reuse);
  for (;;) {
    const word = u32(src, p);
    p += 4;
    if (word === 0) break; // end mark
    const size = word & 0x7fffffff;
    if (p + size + blockChecksum > src.length) throw new Lz4FormatError('LZ4 block cut short');
    if ((word & 0x80000000) !== 0) {
      // Stored uncompressed.
      if (size > blockMax) throw new Lz4FormatError('LZ4 stored block larger than the block maximum size');
      out.reserve(size);
      out.buf.set(src.subarray(p, p + size), out.n);
      out.n += size;
    } else decodeBlock(src, p, p + size, out, blockMax);
    p += size + blockChecksum;
  }
  if ((flg & 0x04) !== 0) p += 4; // content checksum
  if (p > src.length) throw new Lz4FormatError('LZ4 frame cut short');
  if (contentSize >= 0 && out.n !== contentSize) throw new Lz4FormatError(`LZ4 frame holds ${out.n} bytes, its header says ${contentSize}`);
  return { data: out.n === out.buf.length ? out.buf : out.buf.subarray(0, out.n), length: p - at, buffer: out.buf };
}
