// The nondeterministic-input log: everything that enters the CPU-plus-memory boundary from outside, in the
// order the machine asked for it, keyed by icount (as PANDA's and QEMU's record/replay logs are). Replay
// feeds it back instead of simulating devices, so a trace keeps replaying after device code changes.
//
// Format (`inputs.msgpack`, documented in traces/README.md): a sequence of msgpack values, each an array
// (a chunk) of entries; an entry is an array `[kind, icount, ...]` as listed in InputKind. Chunks keep
// memory bounded while recording. What is *not* logged, because it is a function of guest state alone:
// RDTSC (icount x CPI), port writes' values (checked, not replayed), console output, ground truth, and the
// writes to the ground-truth port (RecordingEnvironment UNLOGGED_PORTS).
// Compressed recordings write each chunk as one LZ4 frame (the file is then an .lz4 stream of the same
// msgpack sequence; `lz4 -dc` decodes it); the reader tells the two apart by the LZ4 frame magic.

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { decodeInputChunk, InputChunk, STRIDE } from './InputChunk.js';
import { isLz4Frame, lz4Compress, lz4FrameLength, TraceCompression } from '../record/compression.js';
import { decodeLz4Frame } from '../record/lz4Frame.js';
import { TraceError } from '../errors.js';
import type { ChunkStream } from '../record/TraceWriter.js';

export const InputKind = {
  /** [1, icount, port, size, value, irq]: the value an IN (or one element of INS) returned; irq = 1 if it made an interrupt deliverable. */
  portIn: 1,
  /** [2, icount, port, size, value, irq]: an OUT; irq = 1 if it made an interrupt deliverable. */
  portOut: 2,
  /** [3, icount, irq]: device events ran at icount; irq = 1 if they raised an interrupt request. */
  advance: 3,
  /** [4, icount, phys, bytes]: a device wrote guest memory (DMA). */
  dma: 4,
  /** [5, icount, vector]: the interrupt controller's pending vector (-1 none) when asked. */
  pending: 5,
  /** [6, icount, vector]: interrupt acknowledge (the vector injected). */
  acknowledge: 6,
} as const;
export type InputKind = (typeof InputKind)[keyof typeof InputKind];

export type InputEntry = Array<number | Uint8Array>;

export const INPUT_LOG_FILE = 'inputs.msgpack';
const CHUNK = 4096;

const packr = new Packr({ useRecords: false });

/**
 * Writes the log chunk by chunk. Entries made of numbers only (all but DMA) are encoded straight into the
 * chunk's bytes as msgpack, the bytes msgpackr writes for them (positive fixint / uint8-32, negative fixint /
 * int8-32, float64 beyond 32 bits; test/input-log.test.ts compares with msgpackr), with no array per entry
 * and no packing pass; other entries go through msgpackr. A chunk is the msgpack array of its entries.
 */
export class InputLogWriter {
  private body = new Uint8Array(1 << 16);
  private view = new DataView(this.body.buffer);
  private at = 0;
  private count = 0;
  private fd: number;
  private open = true;
  entries = 0;
  /** Bytes of the chunks written (before compression when a stream compresses them). */
  bytes = 0;

  /**
   * `stream`: hand each chunk to the trace's files (TraceWriter.stream: the writer thread compresses and
   * writes it) instead of compressing and writing it here (path and compression then unused).
   */
  constructor(path: string, readonly compression: TraceCompression = TraceCompression.none, private readonly stream: ChunkStream | null = null) {
    this.fd = stream === null ? openSync(path, 'w') : -1;
  }

  add(entry: InputEntry): void {
    if (entry.length < 16 && entry.every((x) => typeof x === 'number')) {
      this.room(1 + 9 * entry.length);
      this.body[this.at++] = 0x90 | entry.length; // entries are short: fixarray
      for (const x of entry) this.num(x as number);
    } else {
      const packed = packr.pack(entry);
      this.room(packed.length);
      this.body.set(packed, this.at);
      this.at += packed.length;
    }
    this.added();
  }

  /** [kind, icount, a]: advance, pending, acknowledge. */
  add3(kind: number, icount: number, a: number): void {
    this.room(28);
    this.body[this.at++] = 0x93;
    this.num(kind);
    this.num(icount);
    this.num(a);
    this.added();
  }

  /** [kind, icount, port, size, value, irq]: portIn, portOut. */
  add6(kind: number, icount: number, port: number, size: number, value: number, irq: number): void {
    this.room(55);
    this.body[this.at++] = 0x96;
    this.num(kind);
    this.num(icount);
    this.num(port);
    this.num(size);
    this.num(value);
    this.num(irq);
    this.added();
  }

  private added(): void {
    this.entries++;
    if (++this.count >= CHUNK) this.flush();
  }

  private room(n: number): void {
    if (this.at + n <= this.body.length) return;
    const b = new Uint8Array(Math.max(this.body.length * 2, this.at + n));
    b.set(this.body.subarray(0, this.at));
    this.body = b;
    this.view = new DataView(b.buffer);
  }

  /** One number as msgpackr encodes it (pack.js, useRecords false, no float32). */
  private num(v: number): void {
    const b = this.body;
    let p = this.at;
    if (v >>> 0 === v) {
      if (v < 0x80) b[p++] = v;
      else if (v < 0x100) {
        b[p++] = 0xcc;
        b[p++] = v;
      } else if (v < 0x10000) {
        b[p++] = 0xcd;
        b[p++] = v >> 8;
        b[p++] = v & 0xff;
      } else {
        b[p++] = 0xce;
        this.view.setUint32(p, v);
        p += 4;
      }
    } else if (v >> 0 === v) {
      if (v >= -0x20) b[p++] = 0x100 + v;
      else if (v >= -0x80) {
        b[p++] = 0xd0;
        b[p++] = v + 0x100;
      } else if (v >= -0x8000) {
        b[p++] = 0xd1;
        this.view.setInt16(p, v);
        p += 2;
      } else {
        b[p++] = 0xd2;
        this.view.setInt32(p, v);
        p += 4;
      }
    } else {
      b[p++] = 0xcb;
      this.view.setFloat64(p, v);
      p += 8;
    }
    this.at = p;
  }

  flush(): void {
    if (this.count === 0 || !this.open) return;
    const n = this.count;
    const head = n < 16 ? Uint8Array.of(0x90 | n) : n < 0x10000 ? Uint8Array.of(0xdc, n >> 8, n & 0xff)
      : Uint8Array.of(0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    const packed = new Uint8Array(head.length + this.at);
    packed.set(head);
    packed.set(this.body.subarray(0, this.at), head.length);
    if (this.stream !== null) {
      this.bytes += packed.length;
      this.stream.append(packed);
    } else {
      const buf = this.compression === TraceCompression.lz4 ? lz4Compress(packed) : packed;
      writeSync(this.fd, buf);
      this.bytes += buf.length;
    }
    this.at = 0;
    this.count = 0;
  }

  close(): void {
    if (!this.open) return;
    try {
      this.flush();
    } finally {
      this.open = false;
      if (this.stream !== null) this.stream.close();
      else closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Close without writing the pending chunk (a write failed: the whole chunks on disk are what replay reads;
   *  a stream's file is closed by the trace's files, TraceWriter.abandon). */
  abandon(): void {
    if (!this.open) return;
    this.open = false;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** An input log as read: its entries, and where a cut last chunk was left out. */
export interface InputLog {
  entries: InputEntry[];
  /** Bytes of whole chunks; less than `bytes` when the last chunk was cut (the recorder was killed mid-write). */
  wholeBytes: number;
  bytes: number;
}

/** An input log scanned without keeping its entries (replay's first pass over a cut log). */
export interface InputLogSummary {
  entries: number;
  /** icount of the last whole entry (-1: none). */
  lastIcount: number;
  wholeBytes: number;
  bytes: number;
}

/** Bytes read from the file at a time: what the reader holds besides the entries of one chunk. */
const READ_BYTES = 1 << 18;
/** What msgpackr says of a msgpack value cut short (the error a cut log gives when a cut is not allowed). */
const CUT_SHORT = 'Unexpected end of MessagePack data';

/**
 * Reads an input log's chunks from the file in order, a read of READ_BYTES (or one LZ4 frame) at a time,
 * decoding each into an InputChunk (InputChunk.ts), so that memory does not grow with the log. The bytes
 * read and the decoded chunks are reused (no entry keeps a view into them). `allowCut`: a last chunk cut
 * short (a recorder killed mid-write) ends the log instead of being an error; `wholeBytes` then says where
 * the whole chunks end. Errors are TraceErrors naming the file.
 */
export class InputLogChunks {
  private fd: number;
  /** Bytes read: buf[from, to) are not yet decoded. */
  private buf = new Uint8Array(0);
  private from = 0;
  private to = 0;
  private eof = false;
  private lz4: boolean | undefined;
  private ended = false;
  /** The decoded content of the LZ4 frame being read, where its next chunk starts, and the frame's length in the file. */
  private frame: Uint8Array | null = null;
  private frameBuffer: Uint8Array | null = null;
  private framePos = 0;
  private frameLength = 0;
  /** Bytes of the whole chunks decoded so far (in a compressed log: of the whole LZ4 frames). */
  wholeBytes = 0;
  /** Bytes of the file read so far (its size once next() returned null). */
  bytes = 0;
  /** Whether the chunk next() returned last ends where the file's next chunk (or LZ4 frame) starts, at `wholeBytes`. */
  atBoundary = true;

  /** Where the next read of the file starts. */
  private filePos: number;

  /** `start`: begin at this byte offset, where a chunk starts (a position `wholeBytes` had), instead of at 0. */
  constructor(readonly path: string, readonly allowCut: boolean, private readonly readBytes = READ_BYTES, start = 0) {
    this.fd = openSync(path, 'r');
    this.filePos = start;
    this.wholeBytes = start;
    this.bytes = start;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Read more of the file after the undecoded bytes; false at the end of the file. */
  private more(): boolean {
    if (this.eof) return false;
    const kept = this.to - this.from;
    if (this.buf.length - kept < this.readBytes) {
      const b = new Uint8Array(Math.max(this.buf.length * 2, kept + this.readBytes));
      b.set(this.buf.subarray(this.from, this.to));
      this.buf = b;
    } else if (this.from > 0) this.buf.copyWithin(0, this.from, this.to);
    this.from = 0;
    this.to = kept;
    const n = readSync(this.fd, this.buf, this.to, this.readBytes, this.filePos);
    this.filePos += n;
    if (n === 0) {
      this.eof = true;
      this.close();
      return false;
    }
    this.bytes += n;
    this.to += n;
    return true;
  }

  /** The next chunk of the log decoded into `into` (returned), or null at the end of the log. */
  next(into: InputChunk): InputChunk | null {
    if (this.ended) return null;
    try {
      if (this.read(into)) return into;
      this.ended = true;
      this.close();
      return null;
    } catch (e) {
      this.ended = true;
      this.close();
      throw new TraceError(`${this.path}: corrupt input log (${(e as Error).message})`, this.path);
    }
  }

  private read(into: InputChunk): boolean {
    while (this.lz4 === undefined) {
      if (this.to - this.from >= 4) this.lz4 = isLz4Frame(this.buf.subarray(this.from, this.to));
      else if (!this.more()) {
        // A file of fewer than 4 bytes: a cut log whose first LZ4 frame is cut inside its magic has no whole chunk.
        const magic = [0x04, 0x22, 0x4d, 0x18];
        const b = this.buf.subarray(this.from, this.to);
        this.lz4 = this.allowCut && b.length > 0 && b.every((x, i) => x === magic[i]);
      }
    }
    return this.lz4 ? this.readFrame(into) : this.readMsgpack(into);
  }

  /** The next chunk of the LZ4 frames (InputLogWriter.flush writes one chunk per frame). */
  private readFrame(into: InputChunk): boolean {
    for (;;) {
      const data = this.frame;
      if (data !== null) {
        const end = decodeInputChunk(data, this.framePos, data.length, into);
        if (end < 0) throw new Error(CUT_SHORT);
        this.framePos = end;
        this.atBoundary = end >= data.length;
        if (this.atBoundary) {
          this.frame = null;
          this.wholeBytes += this.frameLength;
        }
        return true;
      }
      const b = this.buf.subarray(this.from, this.to);
      if (b.length < 7) {
        if (this.more()) continue;
        if (b.length === 0 || this.allowCut) return false; // the end, or not even a frame header
        throw new Error(isLz4Frame(b) ? 'LZ4 frame cut short' : `no LZ4 frame at byte ${this.wholeBytes}`);
      }
      if (!isLz4Frame(b)) throw new Error(`no LZ4 frame at byte ${this.wholeBytes}`);
      let n: number;
      try {
        n = lz4FrameLength(b, 0);
      } catch (e) {
        if (this.more()) continue;
        if (this.allowCut) return false;
        throw e;
      }
      if (n > b.length) {
        if (this.more()) continue;
        if (this.allowCut) return false;
        throw new Error('LZ4 frame cut short');
      }
      // Into the memory of the previous frame, whose chunks are all decoded (InputChunk holds no view of it).
      const d = decodeLz4Frame(b.subarray(0, n), 0, 0, this.frameBuffer);
      this.frameBuffer = d.buffer;
      this.frame = d.data;
      this.framePos = 0;
      this.frameLength = n;
      this.from += n;
    }
  }

  /** The next whole msgpack chunk of the bytes read (reading more until there is one). */
  private readMsgpack(into: InputChunk): boolean {
    for (;;) {
      if (this.from === this.to) {
        if (this.more()) continue;
        // An empty file is no msgpack sequence (as msgpackr says of it), unless a recorder was cut before its first chunk.
        if (this.wholeBytes === 0 && !this.allowCut) throw new Error(CUT_SHORT);
        return false;
      }
      const end = decodeInputChunk(this.buf, this.from, this.to, into);
      if (end < 0) {
        // The chunk runs past the bytes read: read more (twice what is held, so that a chunk much longer than
        // a read is decoded a few times, not once a read), or at the end of the file the chunk was cut.
        const held = this.to - this.from;
        let read = false;
        while (this.to - this.from < 2 * held && this.more()) read = true;
        if (read) continue;
        if (this.allowCut) return false;
        throw new Error(CUT_SHORT);
      }
      this.wholeBytes += end - this.from;
      this.from = end;
      this.atBoundary = true;
      return true;
    }
  }
}

/** Decoded chunks kept for reuse by a reader (beyond, the ones it drops are left to the collector). */
const SPARE_CHUNKS = 4;

/**
 * An input log read forward from its file, decoding each chunk once. `chunkAt(i)` is the chunk holding entry
 * i (fields read by index: InputChunk), or null past the end; `at(i)` is entry i as an array. Asking for an
 * entry before the ones held reopens the file. The chunks held are those from the last entry asked for on, or
 * from the position given to `release` (a replay asks ahead of where it consumes: its next device event), so
 * memory is what lies between the two, not the log. A chunk released is reused for a later one: its fields
 * are valid until the next call that decodes (chunkAt/at of an entry not decoded yet).
 */
export class InputLogFile {
  private held: InputChunk[] = [];
  private spare: InputChunk[] = [];
  /** Entries decoded so far (the base of the next chunk). */
  private end: number;
  /** The last chunk boundary of the file decoded to: the entry index and byte offset a resume() starts at. */
  private resumeBase: number;
  private resumeOffset: number;
  private keepFrom = Infinity;
  private chunks: InputLogChunks;

  /** `start`: begin at a chunk boundary another InputLogFile reached (`resume()`), instead of the log's start. */
  constructor(readonly path: string, readonly allowCut = false, private readonly readBytes = READ_BYTES,
    private readonly start: { base: number; offset: number } = { base: 0, offset: 0 }) {
    this.chunks = new InputLogChunks(path, allowCut, readBytes, start.offset);
    this.end = this.resumeBase = start.base;
    this.resumeOffset = start.offset;
  }

  chunkAt(i: number): InputChunk | null {
    const held = this.held;
    if (i < (held.length > 0 ? held[0]!.base : this.end)) {
      if (i < this.start.base) throw new RangeError(`${this.path}: entry ${i} is before this reader's start`);
      this.chunks.close();
      this.chunks = new InputLogChunks(this.path, this.allowCut, this.readBytes, this.start.offset);
      this.drop(Infinity);
      this.end = this.resumeBase = this.start.base;
      this.resumeOffset = this.start.offset;
      return this.chunkAt(i);
    }
    this.drop(Math.min(i, this.keepFrom));
    while (i >= this.end) {
      const into = this.spare.pop() ?? new InputChunk();
      const next = this.chunks.next(into);
      if (next === null) {
        this.spare.push(into);
        return null;
      }
      next.base = this.end;
      this.drop(Math.min(i, this.keepFrom));
      held.push(next);
      this.end += next.n;
      if (this.chunks.atBoundary) {
        this.resumeBase = this.end;
        this.resumeOffset = this.chunks.wholeBytes;
      }
    }
    for (let k = held.length - 1; k >= 0; k--) {
      const c = held[k]!;
      if (i >= c.base) return c;
    }
    return null;
  }

  /** Entry i as an array, or undefined past the end. */
  at(i: number): InputEntry | undefined {
    const c = this.chunkAt(i);
    return c === null ? undefined : c.entry(i - c.base);
  }

  /** Entries before `i` are not asked for again: hold the chunks from `i` on (and nothing before). */
  release(i: number): void {
    this.keepFrom = i;
    this.drop(i);
  }

  /** Entries held in memory (decoded and not released). */
  get heldEntries(): number {
    let n = 0;
    for (const c of this.held) n += c.n;
    return n;
  }

  /** A second reader continuing from (about) where this one has decoded to, without holding what this one holds. */
  resume(): InputLogFile {
    return new InputLogFile(this.path, this.allowCut, this.readBytes, { base: this.resumeBase, offset: this.resumeOffset });
  }

  /** Entries decoded so far. */
  get decoded(): number {
    return this.end;
  }

  private drop(below: number): void {
    const held = this.held;
    let k = 0;
    while (k < held.length && held[k]!.base + held[k]!.n <= below) {
      if (this.spare.length < SPARE_CHUNKS) this.spare.push(held[k]!);
      k++;
    }
    if (k > 0) held.splice(0, k);
  }

  close(): void {
    this.chunks.close();
  }
}

/** Read a whole log; throws a TraceError naming the file on a corrupt one. */
export function readInputLog(path: string): InputEntry[] {
  return readCutInputLog(path, false).entries;
}

/**
 * Read the log of a trace whose recorder never closed it (killed): a last chunk cut short is left out
 * instead of being an error. Every chunk before it was written whole, so the entries returned are every
 * input up to the icount of the last one.
 */
export function readCutInputLog(path: string, allowCut = true): InputLog {
  const chunks = new InputLogChunks(path, allowCut);
  const entries: InputEntry[] = [];
  const c = new InputChunk();
  while (chunks.next(c) !== null) for (let j = 0; j < c.n; j++) entries.push(c.entry(j));
  return { entries, wholeBytes: chunks.wholeBytes, bytes: chunks.bytes };
}

/** Scan a log chunk by chunk (memory bounded by one read), checking every chunk; the counts readCutInputLog gives. */
export function scanInputLog(path: string, allowCut: boolean): InputLogSummary {
  const chunks = new InputLogChunks(path, allowCut);
  let entries = 0;
  let lastIcount = -1;
  const c = new InputChunk();
  while (chunks.next(c) !== null) {
    entries += c.n;
    if (c.n > 0) lastIcount = c.f[(c.n - 1) * STRIDE + 1]!;
  }
  return { entries, lastIcount, wholeBytes: chunks.wholeBytes, bytes: chunks.bytes };
}
