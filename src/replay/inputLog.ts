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
import { isLz4Frame, lz4Compress, lz4DecompressFrames, TraceCompression } from '../record/compression.js';
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

/** Read a whole log; throws with a clear message on a corrupt file. */
export function readInputLog(path: string): InputEntry[] {
  const raw = readFileSync(path);
  const out: InputEntry[] = [];
  try {
    const data = isLz4Frame(raw) ? lz4DecompressFrames(raw) : raw;
    new Unpackr({ useRecords: false }).unpackMultiple(data, (chunk: unknown) => {
      if (!Array.isArray(chunk)) throw new Error('a chunk is not an array');
      for (const e of chunk) {
        if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') throw new Error('malformed entry');
        out.push(e as InputEntry);
      }
    });
  } catch (e) {
    throw new TraceError(`${path}: corrupt input log (${(e as Error).message})`, path);
  }
  return out;
}
