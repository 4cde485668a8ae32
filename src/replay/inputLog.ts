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

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import { isLz4Frame, lz4Compress, lz4Frames, TraceCompression } from '../record/compression.js';
import { TraceError } from '../errors.js';

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

export class InputLogWriter {
  private chunk: InputEntry[] = [];
  private fd: number;
  entries = 0;
  bytes = 0;

  constructor(path: string, readonly compression: TraceCompression = TraceCompression.none) {
    this.fd = openSync(path, 'w');
  }

  add(entry: InputEntry): void {
    this.chunk.push(entry);
    this.entries++;
    if (this.chunk.length >= CHUNK) this.flush();
  }

  flush(): void {
    if (this.chunk.length === 0 || this.fd < 0) return;
    const packed = packr.pack(this.chunk);
    const buf = this.compression === TraceCompression.lz4 ? lz4Compress(packed) : packed;
    writeSync(this.fd, buf);
    this.bytes += buf.length;
    this.chunk = [];
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
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

function addChunk(out: InputEntry[], chunk: unknown): void {
  if (!Array.isArray(chunk)) throw new Error('a chunk is not an array');
  for (const e of chunk) {
    if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') throw new Error('malformed entry');
    out.push(e as InputEntry);
  }
}

/** Read a whole log; throws a TraceError naming the file on a corrupt one. */
export function readInputLog(path: string): InputEntry[] {
  return readLog(path, false).entries;
}

/**
 * Read the log of a trace whose recorder never closed it (killed): a last chunk cut short is left out
 * instead of being an error. Every chunk before it was written whole, so the entries returned are every
 * input up to the icount of the last one.
 */
export function readCutInputLog(path: string): InputLog {
  return readLog(path, true);
}

function readLog(path: string, allowCut: boolean): InputLog {
  const raw = readFileSync(path);
  const out: InputEntry[] = [];
  let wholeBytes = raw.byteLength;
  try {
    if (isLz4Frame(raw)) {
      // One chunk per frame (InputLogWriter.flush).
      const { frames, end } = lz4Frames(raw, allowCut);
      for (const f of frames) new Unpackr({ useRecords: false }).unpackMultiple(f, (chunk: unknown) => addChunk(out, chunk));
      wholeBytes = end;
    } else if (raw.byteLength > 0 || !allowCut) {
      let end = 0;
      try {
        new Unpackr({ useRecords: false }).unpackMultiple(raw, (chunk: unknown, _start?: number, stop?: number) => {
          addChunk(out, chunk);
          end = stop ?? end;
        });
      } catch (e) {
        if (!allowCut || (e as { incomplete?: boolean }).incomplete !== true) throw e;
        wholeBytes = end;
      }
    }
  } catch (e) {
    throw new TraceError(`${path}: corrupt input log (${(e as Error).message})`, path);
  }
  return { entries: out, wholeBytes, bytes: raw.byteLength };
}
