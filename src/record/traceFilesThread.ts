// The writer thread of TraceFilesWorker: one TraceFilesWriter per recording, fed the calls the recorder made,
// in order. Every call, done or failed, counts in the trace's status words (the recorder waits on them); the
// first failure is replied with the error's code and message, and the trace's files are then left alone
// (nothing more is written: the marker keeps describing what was wholly written before).

import { parentPort, type MessagePort } from 'node:worker_threads';
import { TraceFilesWriter } from './TraceFiles.js';
import { LAYOUT_WORDS, STATUS_DONE, STATUS_FAILED, type WriterReply, type WriterRequest } from './TraceFilesWorker.js';
import type { BatchParts, ColumnParts } from './TableFile.js';
import { InitialImage } from './InitialImage.js';

interface Trace {
  files: TraceFilesWriter | null;
  port: MessagePort;
  status: Int32Array;
  failed: boolean;
}

const traces = new Map<number, Trace>();

function reply(t: Trace, m: WriterReply, transfer: ArrayBuffer[] = []): void {
  t.port.postMessage(m, transfer);
}

function done(t: Trace): void {
  Atomics.add(t.status, STATUS_DONE, 1);
  Atomics.notify(t.status, STATUS_DONE);
}

function fail(t: Trace, e: unknown): void {
  if (!t.failed) {
    t.failed = true;
    const err = e as NodeJS.ErrnoException;
    reply(t, { op: 'error', code: typeof err?.code === 'string' ? err.code : undefined, message: err instanceof Error ? err.message : String(e) });
    Atomics.store(t.status, STATUS_FAILED, 1);
  }
  try {
    t.files?.abandon();
  } catch {
    // nothing more can be done with these files
  }
}

function batchOf(rows: number, layout: number[], buf: SharedArrayBuffer, dictionaries: BatchParts['dictionaries']): BatchParts {
  const columns: ColumnParts[] = [];
  for (let l = 0; l < layout.length; l += LAYOUT_WORDS) {
    columns.push({
      values: new Uint8Array(buf, layout[l]!, layout[l + 1]!),
      valid: layout[l + 2]! < 0 ? null : new Uint8Array(buf, layout[l + 2]!, layout[l + 3]!),
      offsets: layout[l + 4]! < 0 ? null : new Int32Array(buf, layout[l + 4]!, layout[l + 5]! / 4),
      nulls: layout[l + 6]!,
    });
  }
  return { rows, columns, dictionaries };
}

/** The calls in the order they came, done one at a time (a write waits for its compression). */
const queue: WriterRequest[] = [];
let running = false;

parentPort!.on('message', (m: WriterRequest) => {
  queue.push(m);
  if (!running) void run();
});

async function run(): Promise<void> {
  running = true;
  try {
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) await handle(m);
  } finally {
    running = false;
  }
}

async function handle(m: WriterRequest): Promise<void> {
  if (m.op === 'open') {
    const t: Trace = { files: null, port: m.port, status: new Int32Array(m.status), failed: false };
    traces.set(m.id, t);
    try {
      t.files = new TraceFilesWriter(m.spec);
    } catch (e) {
      fail(t, e);
    }
    done(t);
    return;
  }
  const t = traces.get(m.id);
  if (t === undefined) return;
  try {
    if (!t.failed) {
      const files = t.files!;
      switch (m.op) {
        case 'write':
          await files.writeAsync(m.table, batchOf(m.rows, m.layout, m.buf, m.dictionaries));
          break;
        case 'marker':
          files.marker(m.manifest);
          break;
        case 'openStream':
          files.openStream(m.path, m.lz4, m.stream);
          break;
        case 'append':
          for (let at = 0, k = 0; k < m.lengths.length; at += m.lengths[k++]!) await files.appendAsync(m.stream, m.chunks.subarray(at, at + m.lengths[k]!));
          break;
        case 'image':
          files.checkpointImage(new InitialImage(m.image));
          break;
        case 'snapshot':
          // Fault the snapshot buffer's pages in here, not on the recording thread's first copy.
          m.snapshot.fill(0);
          break;
        case 'checkpoint':
          await files.checkpointAsync(m.path, m.state, m.ram);
          break;
        case 'closeStream':
          files.closeStream(m.stream);
          break;
        case 'close':
          reply(t, { op: 'closed', digests: [...files.close()] });
          break;
        case 'abandon':
          files.abandon();
          break;
      }
    }
  } catch (e) {
    fail(t, e);
  }
  if (m.op === 'close' || m.op === 'abandon') traces.delete(m.id);
  done(t);
}
