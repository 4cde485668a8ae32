// The exit reader's thread (exitRows.ts): reads replay's recorded exits a few batches ahead of the replayer,
// each column buffer read and decoded (bodyBuffer.ts) and written across the rows of a shared slot. Serves the
// cursors of a process one job each, concurrently (Atomics.waitAsync between batches).

import { closeSync, fstatSync, openSync } from 'node:fs';
import { decompressFrame } from 'lz4-napi';
import { parentPort } from 'node:worker_threads';
import { bodyParts, checkPlain, readFully } from './bodyBuffer.js';
import { Ctrl, CTRL_WORDS, MESSAGE_BYTES, REGION_WORDS, ROW_WORDS, RowWord, SLOTS, SLOTS_AT, type ExitRowsJob, type RowBatch } from './exitRows.js';

/** Atomics.waitAsync (ES2024; in Node since 16, not in this project's TypeScript lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Rows transposed at a time (66 words each: 33 KiB). */
const TILE = 128;

async function run(job: ExitRowsJob): Promise<void> {
  const ctrl = new Int32Array(job.shared, 0, CTRL_WORDS);
  const fail = (message: string): void => {
    const bytes = new TextEncoder().encode(message).subarray(0, MESSAGE_BYTES);
    new Uint8Array(job.shared, CTRL_WORDS * 4, MESSAGE_BYTES).set(bytes);
    Atomics.store(ctrl, Ctrl.messageLength, bytes.length);
    Atomics.store(ctrl, Ctrl.failed, 1);
    Atomics.notify(ctrl, Ctrl.produced);
  };
  let fd = -1;
  try {
    fd = openSync(job.path, 'r');
    const read = (into: Uint8Array, length: number, offset: number): void => {
      if (readFully(fd, into, length, offset) < length) throw new Error(`${job.file} is truncated (wanted ${length} bytes at ${offset})`);
    };
    // Each column's plain values for one batch (8-byte aligned for the word views), and the nullable ones'
    // validity bitmaps: allocated once per job.
    const cols = job.columns;
    const bytes = cols.map((c) => new Uint8Array(new ArrayBuffer((c.width * job.slotRows + 15) & ~7)));
    const words = bytes.map((u) => new Uint32Array(u.buffer));
    const halves = bytes.map((u) => new Uint16Array(u.buffer));
    const valid = cols.map((c) => (c.flag !== 0 ? new Uint8Array((job.slotRows + 7) >> 3) : null));
    const hasBitmap = cols.map(() => false);
    const fileBytes = fstatSync(fd).size;
    let body = new Uint8Array(0);
    /** Batch b's column buffers into `bytes` and `valid`: its body read at once, its LZ4 frames decoded on
     *  libuv's thread pool (lz4-napi's asynchronous decoder, ~4x the TypeScript one; it does not leak). */
    const readBatch = async (b: number, batch: RowBatch): Promise<void> => {
      const rg = batch.regions;
      let lo = Infinity;
      let hi = 0;
      for (let k = 0; k < cols.length; k++) {
        const r = k * REGION_WORDS;
        hasBitmap[k] = cols[k]!.flag !== 0 && rg[r + 3]! > 0;
        lo = Math.min(lo, rg[r]!, hasBitmap[k] ? rg[r + 2]! : Infinity);
        hi = Math.max(hi, rg[r]! + rg[r + 1]!, hasBitmap[k] ? rg[r + 2]! + rg[r + 3]! : 0);
      }
      if (hi > fileBytes) throw new Error(`${job.file} is truncated (record batch ${b} reaches byte ${hi} of ${fileBytes})`);
      if (body.byteLength < hi - lo) body = new Uint8Array(hi - lo);
      read(body, hi - lo, lo);
      const pending: Array<Promise<void>> = [];
      const take = (k: number, at: number, length: number, want: number, into: Uint8Array, what: string): void => {
        const parts = bodyParts(body.subarray(at - lo, at - lo + length), batch.compressed, want);
        const wrong = (why: string): Error => new Error(`${job.file} is corrupt: record batch ${b}: column ${cols[k]!.name}${what} ${why}`);
        if (typeof parts === 'string') throw wrong(parts);
        const place = (plain: Uint8Array): void => {
          const bad = checkPlain(parts, plain, want);
          if (bad !== null) throw wrong(bad);
          into.set(plain.subarray(0, want));
        };
        if ('plain' in parts) place(parts.plain);
        else {
          pending.push(decompressFrame(Buffer.from(parts.frame.buffer, parts.frame.byteOffset, parts.frame.byteLength))
            .then(place, (e: unknown) => {
              throw wrong(`does not decompress (${(e as Error).message})`);
            }));
        }
      };
      try {
        for (let k = 0; k < cols.length; k++) {
          const r = k * REGION_WORDS;
          take(k, rg[r]!, rg[r + 1]!, batch.rows * cols[k]!.width, bytes[k]!, '');
          if (hasBitmap[k]) take(k, rg[r + 2]!, rg[r + 3]!, (batch.rows + 7) >> 3, valid[k]!, '\'s validity');
        }
      } finally {
        // Every decode settles before `body` is reused or the job ends (the first failure is the one reported).
        const settled = await Promise.allSettled(pending);
        const failed = settled.find((x) => x.status === 'rejected');
        if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      }
    };
    const slotWords = job.slotRows * ROW_WORDS;
    for (let b = 0; b < job.batches.length; b++) {
      const batch = job.batches[b]!;
      const rows = batch.rows;
      await readBatch(b, batch);
      // Wait for the slot: the replayer is done with the batch it held there (b - SLOTS).
      for (;;) {
        if (Atomics.load(ctrl, Ctrl.closed) !== 0) return;
        const consumed = Atomics.load(ctrl, Ctrl.consumed);
        if (b - consumed < SLOTS) break;
        const w = waitAsync(ctrl, Ctrl.consumed, consumed);
        if (w.async) await w.value;
      }
      const out = new Uint32Array(job.shared, SLOTS_AT + (b % SLOTS) * slotWords * 4, rows * ROW_WORDS);
      // Columns to rows a tile of rows at a time, so the tile's rows stay in cache while every column is
      // written across them (column by column over the whole slot streamed it through memory once per column).
      for (let t0 = 0; t0 < rows; t0 += TILE) {
        const t1 = Math.min(rows, t0 + TILE);
        for (let i = t0, o = t0 * ROW_WORDS + RowWord.flags; i < t1; i++, o += ROW_WORDS) out[o] = 0;
        for (let k = 0; k < cols.length; k++) {
          const col = cols[k]!;
          const dst = col.dst;
          const base = t0 * ROW_WORDS + dst;
          if (col.width === 8) {
            const v = words[k]!;
            for (let i = t0, o = base; i < t1; i++, o += ROW_WORDS) {
              out[o] = v[2 * i]!;
              out[o + 1] = v[2 * i + 1]!;
            }
          } else if (col.width === 4) {
            const v = words[k]!;
            for (let i = t0, o = base; i < t1; i++, o += ROW_WORDS) out[o] = v[i]!;
          } else if (col.width === 2) {
            const v = halves[k]!;
            for (let i = t0, o = base; i < t1; i++, o += ROW_WORDS) out[o] = v[i]!;
          } else {
            const v = bytes[k]!;
            for (let i = t0, o = base; i < t1; i++, o += ROW_WORDS) out[o] = v[i]!;
          }
          if (col.flag === 0) continue;
          // Nullable: the flag of each valid row; a null row's words are 0 (ExitEvent's undefined address).
          const bits = valid[k]!;
          const all = !hasBitmap[k];
          for (let i = t0, o = t0 * ROW_WORDS; i < t1; i++, o += ROW_WORDS) {
            if (all || (bits[i >> 3]! & (1 << (i & 7))) !== 0) out[o + RowWord.flags]! |= col.flag;
            else {
              out[o + dst] = 0;
              out[o + dst + 1] = 0;
            }
          }
        }
      }
      Atomics.store(ctrl, Ctrl.produced, b + 1);
      Atomics.notify(ctrl, Ctrl.produced);
    }
  } catch (e) {
    fail((e as Error).message);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

parentPort!.on('message', (job: ExitRowsJob) => {
  void run(job);
});
