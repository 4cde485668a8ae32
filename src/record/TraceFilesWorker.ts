// The recorder's files written by a writer thread (issue 17: LZ4 compression of the record batches cost the
// recording thread 250-450 ns per exit, hashing and writing more). The recording thread copies each finished
// batch's column buffers into one shared buffer and goes on; the writer thread builds the Arrow
// messages, compresses, hashes and writes them (TraceFilesWriter, the code the recording thread runs without
// it), in order, so the files are byte for byte those TraceFilesWriter writes on the recording thread.
//
// The calls stay synchronous where the recorder needs them to be: close() and abandon() wait for the writer
// (Atomics.wait on a shared counter, then the reply taken with receiveMessageOnPort), and at most
// MAX_QUEUED calls carrying data (batches, chunks) are queued (the recorder waits for the writer beyond that:
// memory stays bounded when the writer is slower). Nothing else waits: opening the files and streams is
// queued like the rest, so the recorder never waits for the thread's start-up (~250 ms: its module graph).
// A failure there or in a write (a full disk) is reported to the recorder at its next call as the file
// system's error, with its code; the writer writes nothing more for that trace, and the marker keeps
// describing the batches wholly on disk.
//
// One writer thread per process serves every recording (it does not keep the process alive: unref);
// startTraceFilesThread() starts it ahead of the first recording (recordTrace: before assembling the machine).

import { MessageChannel, receiveMessageOnPort, type Worker, type MessagePort } from 'node:worker_threads';
import { sharedModuleWorker } from './moduleWorker.js';
import type { Manifest } from './manifest.js';
import type { FileDigest } from './fileHash.js';
import type { TableName } from './schema.js';
import type { BatchParts } from './TableFile.js';
import type { TraceCheckpoints, TraceFiles, TraceFilesSpec, TraceStreams } from './TraceFiles.js';
import type { CheckpointState } from './checkpointFile.js';
import type { InitialImage, InitialImageParts } from './InitialImage.js';

/** Calls carrying data (batches, chunks) queued for the writer before the recorder waits (about 4 exits
 *  batches of ~8.5 MB at most; markers and the other small calls are not counted). */
const MAX_QUEUED = 6;
/** Bytes of appended chunks posted together at most (about 25 input-log chunks). */
const APPEND_BYTES = 1 << 20;
/** Shared buffers kept per trace for the batches and chunks handed to the writer thread (in use or free). */
const POOL = 10;

/** Messages to the writer thread. */
export type WriterRequest =
  | { op: 'open'; id: number; spec: TraceFilesSpec; port: MessagePort; status: SharedArrayBuffer }
  | { op: 'write'; id: number; table: TableName; rows: number; layout: number[]; buf: SharedArrayBuffer; dictionaries: BatchParts['dictionaries'] }
  | { op: 'marker'; id: number; manifest: Manifest }
  | { op: 'openStream'; id: number; stream: number; path: string; lz4: boolean }
  | { op: 'append'; id: number; stream: number; chunks: Uint8Array; lengths: number[] }
  | { op: 'closeStream'; id: number; stream: number }
  | { op: 'image'; id: number; image: InitialImageParts }
  | { op: 'snapshot'; id: number; snapshot: Uint8Array }
  | { op: 'checkpoint'; id: number; path: string; state: CheckpointState; ram: Uint8Array }
  | { op: 'close'; id: number }
  | { op: 'abandon'; id: number };

/** Messages back, on the trace's own port. */
export type WriterReply =
  | { op: 'error'; code: string | undefined; message: string }
  | { op: 'closed'; digests: Array<[string, FileDigest]> };

/** status words: calls done, and whether a call failed. */
export const STATUS_DONE = 0;
export const STATUS_FAILED = 1;

/** Per column: values offset, length; validity offset, length; value-offsets offset, length (-1: none); nulls. */
export const LAYOUT_WORDS = 7;

/** Start the writer thread now (its start-up then overlaps the caller's own work); idempotent. */
export function startTraceFilesThread(): void {
  writerThread();
}

const writerThread = (): Worker => sharedModuleWorker(import.meta.url, 'traceFilesThread');

let nextId = 1;

/** An error of the writer thread, as the recorder would have seen it (fs errors keep their `code`). */
class WriterError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

export class TraceFilesWorker implements TraceFiles, TraceStreams, TraceCheckpoints {
  private readonly id = nextId++;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly status: Int32Array;
  private sent = 0;
  /** The call numbers (1-based) of the data-carrying calls not known to be done, oldest first. */
  private readonly heavy: number[] = [];
  private failure: WriterError | null = null;
  private digests: Map<string, FileDigest> | null = null;
  /**
   * Shared buffers the batches and chunks are copied into: posting a view of one costs ~20 us, transferring an
   * ArrayBuffer ~80-150 us on this machine (the input log posts a chunk every ~4096 entries). A buffer is free
   * again once the writer has done the call that used it (`call`, 1-based; no reply needed).
   */
  private readonly slots: Array<{ bytes: Uint8Array; call: number }> = [];
  private ended = false;

  constructor(spec: TraceFilesSpec) {
    this.worker = writerThread();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const sab = new SharedArrayBuffer(8);
    this.status = new Int32Array(sab);
    // Opening creates the files: an error there is reported at the next call (not waited for here: the
    // writer thread may still be starting).
    this.send({ op: 'open', id: this.id, spec, port: port2, status: sab }, [port2]);
  }

  write(table: TableName, batch: BatchParts): void {
    this.check();
    const layout: number[] = [];
    let size = 0;
    const place = (n: number): number => {
      const at = size;
      size += (n + 7) & ~7;
      return at;
    };
    for (const c of batch.columns) {
      const v = place(c.values.byteLength);
      const valid = c.nulls > 0 && c.valid !== null ? c.valid.subarray(0, (batch.rows + 7) >> 3) : null;
      const va = valid === null ? -1 : place(valid.byteLength);
      const o = c.offsets === null ? -1 : place((batch.rows + 1) * 4);
      layout.push(v, c.values.byteLength, va, valid?.byteLength ?? 0, o, c.offsets === null ? 0 : (batch.rows + 1) * 4, c.nulls);
    }
    const slot = this.slot(size);
    const bytes = slot.bytes;
    for (let k = 0; k < batch.columns.length; k++) {
      const c = batch.columns[k]!;
      const l = k * LAYOUT_WORDS;
      bytes.set(c.values, layout[l]!);
      if (layout[l + 2]! >= 0) bytes.set(c.valid!.subarray(0, layout[l + 3]!), layout[l + 2]!);
      if (layout[l + 4]! >= 0) bytes.set(new Uint8Array(c.offsets!.buffer, c.offsets!.byteOffset, layout[l + 5]!), layout[l + 4]!);
    }
    this.send({ op: 'write', id: this.id, table, rows: batch.rows, layout, buf: bytes.buffer as SharedArrayBuffer, dictionaries: batch.dictionaries }, [], true);
    slot.call = this.sent;
  }

  marker(m: Manifest): void {
    this.check();
    this.send({ op: 'marker', id: this.id, manifest: m });
  }

  private nextStream = 1;

  openStream(path: string, lz4: boolean): number {
    this.check();
    const stream = this.nextStream++;
    // Opening creates the file: an error there is reported at the next call.
    this.send({ op: 'openStream', id: this.id, stream, path, lz4 });
    return stream;
  }

  append(stream: number, chunk: Uint8Array): void {
    this.check();
    let p = this.pending;
    if (p !== null && (p.stream !== stream || p.at + chunk.byteLength > p.slot.bytes.byteLength)) {
      this.flushAppends();
      p = null;
    }
    if (p === null) {
      p = this.pending = { stream, slot: this.slot(Math.max(chunk.byteLength, APPEND_BYTES)), at: 0, lengths: [] };
      p.slot.call = Infinity; // in use until posted
    }
    p.slot.bytes.set(chunk, p.at);
    p.at += chunk.byteLength;
    p.lengths.push(chunk.byteLength);
  }

  /**
   * Chunks appended since the last call of another kind, copied one after the other into one shared buffer:
   * posted as one call (each still its own LZ4 frame) before any other call, so the order stays the calls'
   * (a message to the writer thread costs the recording thread ~0.1 ms; the input log appends a chunk every
   * 4096 entries).
   */
  private pending: { stream: number; slot: { bytes: Uint8Array; call: number }; at: number; lengths: number[] } | null = null;

  private flushAppends(): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    this.send({ op: 'append', id: this.id, stream: p.stream, chunks: p.slot.bytes.subarray(0, p.at), lengths: p.lengths }, [], true);
    p.slot.call = this.sent;
  }

  closeStream(stream: number): void {
    this.check();
    this.send({ op: 'closeStream', id: this.id, stream });
  }

  /** Guest memory is copied here for the writer thread (shared with it), and the last checkpoint's call. */
  private snapshot: Uint8Array | null = null;
  private checkpointCall = 0;

  private imageBytes = 0;

  checkpointImage(image: InitialImage): void {
    this.send({ op: 'image', id: this.id, image: image.parts() });
    this.imageBytes = image.bytes;
  }

  /**
   * The shared snapshot buffer, of the memory's size, goes to the writer thread, which touches it page by page
   * while the recording goes on (its first touch here cost the recording thread ~290 ms of page faults for
   * 64 MiB). Not before a checkpoint is near: a run that writes none does not pay for it.
   */
  prepareCheckpoint(): void {
    if (this.snapshot !== null) return;
    this.snapshot = new Uint8Array(new SharedArrayBuffer(this.imageBytes));
    this.send({ op: 'snapshot', id: this.id, snapshot: this.snapshot });
    this.checkpointCall = this.sent;
  }

  /**
   * Guest memory is copied into the snapshot buffer (a memcpy, ~10 ms for 64 MiB); the writer thread compares
   * it with the image, packs, compresses and writes the file (~40 ms of JS per checkpoint the recording thread
   * spent before, with the page faults of its copies). One snapshot in flight: a checkpoint waits for the
   * previous one (and the first for the snapshot buffer's pages).
   */
  checkpoint(path: string, state: CheckpointState, ram: Uint8Array): void {
    this.check();
    this.prepareCheckpoint();
    const snap = this.snapshot!;
    this.waitFor(this.checkpointCall);
    this.check();
    // The memory the image covers (memoryRuns compares no further).
    snap.set(ram.length > snap.length ? ram.subarray(0, snap.length) : ram);
    this.send({ op: 'checkpoint', id: this.id, path, state, ram: ram.length >= snap.length ? snap : snap.subarray(0, ram.length) });
    this.checkpointCall = this.sent;
  }

  close(): Map<string, FileDigest> {
    if (this.digests !== null) return this.digests;
    this.check();
    this.send({ op: 'close', id: this.id });
    this.waitFor(this.sent);
    this.check();
    if (this.digests === null) throw new Error('the trace writer thread did not return the files\' digests');
    this.end();
    return this.digests;
  }

  settle(): void {
    if (this.ended) return;
    this.flushAppends();
    this.waitFor(this.sent);
    this.check();
  }

  abandon(): void {
    if (this.ended) return;
    // Nothing more is written: chunks not posted yet are dropped.
    this.pending = null;
    this.send({ op: 'abandon', id: this.id });
    this.waitFor(this.sent);
    this.drain();
    this.end();
  }

  private end(): void {
    this.ended = true;
    this.port.close();
  }

  /** Queue one call; `data`: it carries a batch or chunk (those are bounded: see MAX_QUEUED). */
  private send(m: WriterRequest, transfer: Array<ArrayBuffer | MessagePort> = [], data = false): void {
    if (this.ended) throw new Error('the trace files are closed');
    if (m.op !== 'append') this.flushAppends();
    if (data) {
      // Bounded queue: wait for the writer when MAX_QUEUED data calls are not done yet.
      const h = this.heavy;
      const done = Atomics.load(this.status, STATUS_DONE);
      while (h.length > 0 && h[0]! <= done) h.shift();
      if (h.length >= MAX_QUEUED) {
        this.waitFor(h[h.length - MAX_QUEUED]!);
        this.check();
        const now = Atomics.load(this.status, STATUS_DONE);
        while (h.length > 0 && h[0]! <= now) h.shift();
      }
      h.push(this.sent + 1);
    }
    this.worker.postMessage(m, transfer);
    this.sent++;
  }

  /** Block until the writer has done `n` calls (it never stops between calls, so this ends). */
  private waitFor(n: number): void {
    for (;;) {
      const done = Atomics.load(this.status, STATUS_DONE);
      if (done >= n) break;
      Atomics.wait(this.status, STATUS_DONE, done, 1000);
    }
    this.drain();
  }

  /** Take the writer's replies: a failure, the digests. */
  private drain(): void {
    for (let r = receiveMessageOnPort(this.port); r !== undefined; r = receiveMessageOnPort(this.port)) {
      const m = r.message as WriterReply;
      if (m.op === 'error') this.failure ??= new WriterError(m.message, m.code);
      else this.digests = new Map(m.digests);
    }
  }

  /** A failure of the writer is the recorder's error at its next call. */
  private check(): void {
    if (this.failure === null && Atomics.load(this.status, STATUS_FAILED) !== 0) {
      // The reply is posted before the flag is set: it is there.
      this.drain();
      this.failure ??= new WriterError('the trace writer thread failed', undefined);
    }
    if (this.failure !== null) throw this.failure;
  }

  /** A shared buffer of at least `size` bytes that no call still queued uses (the smallest such). */
  private slot(size: number): { bytes: Uint8Array; call: number } {
    const done = Atomics.load(this.status, STATUS_DONE);
    let best: { bytes: Uint8Array; call: number } | null = null;
    for (const s of this.slots) {
      if (s.call <= done && s.bytes.byteLength >= size && (best === null || s.bytes.byteLength < best.bytes.byteLength)) best = s;
    }
    if (best !== null) return best;
    if (this.slots.length >= POOL) {
      // None fits: a free one (too small) makes room.
      const i = this.slots.findIndex((s) => s.call <= done);
      if (i >= 0) this.slots.splice(i, 1);
    }
    const s = { bytes: new Uint8Array(new SharedArrayBuffer(Math.max(1 << 16, (size + 0xffff) & ~0xffff))), call: 0 };
    this.slots.push(s);
    return s;
  }

}
