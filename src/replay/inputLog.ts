// The nondeterministic-input log: everything that enters the CPU-plus-memory boundary from outside, in the
// order the machine asked for it, keyed by icount (as PANDA's and QEMU's record/replay logs are). Replay
// feeds it back instead of simulating devices, so a trace keeps replaying after device code changes.
//
// Format (`inputs.msgpack`, documented in traces/README.md): a sequence of msgpack values, each an array
// (a chunk) of entries; an entry is an array `[kind, icount, ...]` as listed in InputKind. Chunks keep
// memory bounded while recording. What is *not* logged, because it is a function of guest state alone:
// RDTSC (icount x CPI), port writes' values (checked, not replayed), console output, ground truth.
// Compressed recordings write each chunk as one LZ4 frame (the file is then an .lz4 stream of the same
// msgpack sequence; `lz4 -dc` decodes it); the reader tells the two apart by the LZ4 frame magic.

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import { isLz4Frame, lz4Compress, lz4Decompress, lz4FrameLength, TraceCompression } from '../record/compression.js';
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

function addChunk(out: InputEntry[], chunk: unknown): void {
  if (!Array.isArray(chunk)) throw new Error('a chunk is not an array');
  for (const e of chunk) {
    if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') throw new Error('malformed entry');
    out.push(e as InputEntry);
  }
}

/** Bytes read from the file at a time: what the reader holds besides the entries of one read. */
const READ_BYTES = 1 << 18;

/**
 * Reads an input log's chunks from the file in order, a read of READ_BYTES (or one LZ4 frame) at a time,
 * so that memory does not grow with the log. `allowCut`: a last chunk cut short (a recorder killed
 * mid-write) ends the log instead of being an error; `wholeBytes` then says where the whole chunks end.
 * Errors are TraceErrors naming the file.
 */
export class InputLogChunks {
  private fd: number;
  /** Bytes read and not yet decoded. */
  private buf = new Uint8Array(0);
  private eof = false;
  private lz4: boolean | undefined;
  private ended = false;
  /** Bytes of the whole chunks decoded so far. */
  wholeBytes = 0;
  /** Bytes of the file read so far (its size once next() returned null). */
  bytes = 0;

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

  /** Read more of the file onto the undecoded bytes; false at the end of the file. */
  private more(): boolean {
    if (this.eof) return false;
    const chunk = Buffer.allocUnsafe(this.readBytes);
    const n = readSync(this.fd, chunk, 0, this.readBytes, this.filePos);
    this.filePos += n;
    if (n === 0) {
      this.eof = true;
      this.close();
      return false;
    }
    this.bytes += n;
    const joined = new Uint8Array(this.buf.length + n); // fresh: DMA entries are views into it
    joined.set(this.buf);
    joined.set(chunk.subarray(0, n), this.buf.length);
    this.buf = joined;
    return true;
  }

  /** The entries of the next whole chunks read, or null at the end of the log. */
  next(): InputEntry[] | null {
    if (this.ended) return null;
    try {
      const out = this.read();
      if (out === null) {
        this.ended = true;
        this.close();
      }
      return out;
    } catch (e) {
      this.ended = true;
      this.close();
      throw new TraceError(`${this.path}: corrupt input log (${(e as Error).message})`, this.path);
    }
  }

  private read(): InputEntry[] | null {
    while (this.lz4 === undefined) {
      if (this.buf.length >= 4) this.lz4 = isLz4Frame(this.buf);
      else if (!this.more()) {
        // A file of fewer than 4 bytes: a cut log whose first LZ4 frame is cut inside its magic has no whole chunk.
        const magic = [0x04, 0x22, 0x4d, 0x18];
        this.lz4 = this.allowCut && this.buf.length > 0 && this.buf.every((x, i) => x === magic[i]);
      }
    }
    return this.lz4 ? this.readFrame() : this.readMsgpack();
  }

  /** One LZ4 frame: one chunk (InputLogWriter.flush). */
  private readFrame(): InputEntry[] | null {
    for (;;) {
      const b = this.buf;
      if (b.length < 7) {
        if (this.more()) continue;
        if (b.length === 0 || this.allowCut) return null; // the end, or not even a frame header
        throw new Error(isLz4Frame(b) ? 'LZ4 frame cut short' : `no LZ4 frame at byte ${this.wholeBytes}`);
      }
      if (!isLz4Frame(b)) throw new Error(`no LZ4 frame at byte ${this.wholeBytes}`);
      let n: number;
      try {
        n = lz4FrameLength(b, 0);
      } catch (e) {
        if (this.more()) continue;
        if (this.allowCut) return null;
        throw e;
      }
      if (n > b.length) {
        if (this.more()) continue;
        if (this.allowCut) return null;
        throw new Error('LZ4 frame cut short');
      }
      const out: InputEntry[] = [];
      new Unpackr({ useRecords: false }).unpackMultiple(lz4Decompress(b.subarray(0, n)), (chunk: unknown) => addChunk(out, chunk));
      this.buf = b.subarray(n);
      this.wholeBytes += n;
      return out;
    }
  }

  /** The whole msgpack chunks among the bytes read (reading more until there is one). */
  private readMsgpack(): InputEntry[] | null {
    for (;;) {
      const b = this.buf;
      if (b.length === 0) {
        if (this.more()) continue;
        // An empty file is no msgpack sequence (as msgpackr says of it), unless a recorder was cut before its first chunk.
        if (this.wholeBytes === 0 && !this.allowCut) throw new Error('Unexpected end of MessagePack data');
        return null;
      }
      const out: InputEntry[] = [];
      let end = 0;
      try {
        new Unpackr({ useRecords: false }).unpackMultiple(b, (chunk: unknown, _start?: number, stop?: number) => {
          addChunk(out, chunk);
          end = stop ?? end;
        });
        end = b.length;
      } catch (e) {
        if ((e as { incomplete?: boolean }).incomplete !== true) throw e;
        // A chunk runs past the bytes read: the whole ones before it are returned; with none, read more,
        // or at the end of the file the chunk was cut.
        if (end === 0) {
          if (this.more()) continue;
          if (this.allowCut) return null;
          throw e;
        }
      }
      this.buf = b.subarray(end);
      this.wholeBytes += end;
      return out;
    }
  }
}

/** One read of the log, decoded: entries [base, base + entries.length), starting at byte `offset` of the file. */
interface HeldRead {
  base: number;
  offset: number;
  entries: InputEntry[];
}

/**
 * An input log read forward from its file, decoding each read once. `at(i)` is entry i, or undefined past the
 * end; asking for an entry before the ones held reopens the file. The reads held are those from the last
 * entry asked for on, or from the position given to `release` (a replay asks ahead of where it consumes: its
 * next device event), so memory is what lies between the two, not the log.
 */
export class InputLogFile {
  private held: HeldRead[] = [];
  /** Entries decoded so far (the base of the next read) and the byte offset the next read starts at. */
  private end: number;
  private endOffset: number;
  private keepFrom = Infinity;
  private chunks: InputLogChunks;

  /** `start`: begin at a read boundary another InputLogFile reached (`resume()`), instead of the log's start. */
  constructor(readonly path: string, readonly allowCut = false, private readonly readBytes = READ_BYTES,
    private readonly start: { base: number; offset: number } = { base: 0, offset: 0 }) {
    this.chunks = new InputLogChunks(path, allowCut, readBytes, start.offset);
    this.end = start.base;
    this.endOffset = start.offset;
  }

  at(i: number): InputEntry | undefined {
    const held = this.held;
    if (i < (held.length > 0 ? held[0]!.base : this.end)) {
      if (i < this.start.base) throw new RangeError(`${this.path}: entry ${i} is before this reader's start`);
      this.chunks.close();
      this.chunks = new InputLogChunks(this.path, this.allowCut, this.readBytes, this.start.offset);
      this.held = [];
      this.end = this.start.base;
      this.endOffset = this.start.offset;
      return this.at(i);
    }
    this.drop(Math.min(i, this.keepFrom));
    while (i >= this.end) {
      const offset = this.chunks.wholeBytes;
      const next = this.chunks.next();
      if (next === null) return undefined;
      this.drop(Math.min(i, this.keepFrom));
      held.push({ base: this.end, offset, entries: next });
      this.end += next.length;
      this.endOffset = this.chunks.wholeBytes;
    }
    for (let k = held.length - 1; k >= 0; k--) {
      const r = held[k]!;
      if (i >= r.base) return r.entries[i - r.base];
    }
    return undefined;
  }

  /** Entries before `i` are not asked for again: hold the reads from `i` on (and nothing before). */
  release(i: number): void {
    this.keepFrom = i;
    this.drop(i);
  }

  /** Entries held in memory (decoded and not released). */
  get heldEntries(): number {
    let n = 0;
    for (const r of this.held) n += r.entries.length;
    return n;
  }

  /** A second reader continuing from where this one has decoded to, without holding what this one holds. */
  resume(): InputLogFile {
    return new InputLogFile(this.path, this.allowCut, this.readBytes, { base: this.end, offset: this.endOffset });
  }

  /** Entries decoded so far. */
  get decoded(): number {
    return this.end;
  }

  private drop(below: number): void {
    const held = this.held;
    let k = 0;
    while (k < held.length && held[k]!.base + held[k]!.entries.length <= below) k++;
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
  for (let c = chunks.next(); c !== null; c = chunks.next()) for (const e of c) entries.push(e);
  return { entries, wholeBytes: chunks.wholeBytes, bytes: chunks.bytes };
}

/** Scan a log chunk by chunk (memory bounded by one read), checking every chunk; the counts readCutInputLog gives. */
export function scanInputLog(path: string, allowCut: boolean): InputLogSummary {
  const chunks = new InputLogChunks(path, allowCut);
  let entries = 0;
  let lastIcount = -1;
  for (let c = chunks.next(); c !== null; c = chunks.next()) {
    entries += c.length;
    lastIcount = c[c.length - 1]![1] as number;
  }
  return { entries, lastIcount, wholeBytes: chunks.wholeBytes, bytes: chunks.bytes };
}
