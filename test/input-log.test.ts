// The input log writer encodes number-only entries itself: its chunks must be the bytes msgpackr (the
// library the reader decodes with) writes for the same entries, for every number range msgpack encodes
// differently and with DMA entries (bytes) mixed in, compressed or not.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { InputKind, InputLogFile, InputLogWriter, readCutInputLog, readInputLog, scanInputLog, type InputEntry } from '../src/replay/inputLog.js';
import { TraceError } from '../src/errors.js';
import { lz4DecompressFrames, TraceCompression } from '../src/record/compression.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-inputlog-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EDGES = [0, 1, 31, 32, 63, 64, 127, 128, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 40 + 3,
  2 ** 53 - 1, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1];

function entries(n: number, seed: number): InputEntry[] {
  let x = seed;
  const rnd = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x);
  const pick = (): number => EDGES[rnd() % EDGES.length]!;
  const out: InputEntry[] = [];
  for (let i = 0; i < n; i++) {
    const k = rnd() % 10;
    if (k === 0) out.push([InputKind.dma, pick(), rnd(), new Uint8Array(rnd() % 700).fill(rnd() & 0xff)]);
    else if (k < 4) out.push([InputKind.advance, pick(), rnd() & 1]);
    else if (k < 5) out.push([InputKind.pending, pick(), pick()]);
    else out.push([k < 8 ? InputKind.portOut : InputKind.portIn, pick(), rnd() & 0xffff, 1 << (rnd() % 3), pick() >>> 0, rnd() & 1]);
  }
  return out;
}

/** Entries as plain values (msgpackr decodes bin as a Buffer). */
const plain = (es: InputEntry[]): InputEntry[] => es.map((e) => e.map((x) => (x instanceof Uint8Array ? Uint8Array.from(x) : x)));

function write(path: string, es: InputEntry[], compression: TraceCompression): void {
  const w = new InputLogWriter(path, compression);
  for (const e of es) {
    // The recorder's calls: add6 for port accesses, add3 for the three-number kinds, add for the rest.
    if (e.length === 6 && typeof e[5] === 'number') w.add6(e[0] as number, e[1] as number, e[2] as number, e[3] as number, e[4] as number, e[5] as number);
    else if (e.length === 3) w.add3(e[0] as number, e[1] as number, e[2] as number);
    else w.add(e);
  }
  w.close();
}

describe('InputLogWriter', () => {
  it('writes the bytes msgpackr writes, chunk by chunk (4096 entries each)', () => {
    const packr = new Packr({ useRecords: false });
    for (const n of [0, 1, 15, 16, 4095, 4096, 4097, 10_000]) {
      const es = entries(n, n + 7);
      const path = join(root, `log-${n}`);
      write(path, es, TraceCompression.none);
      const want: Uint8Array[] = [];
      for (let i = 0; i < es.length; i += 4096) want.push(packr.pack(es.slice(i, i + 4096)));
      expect(Buffer.compare(readFileSync(path), Buffer.concat(want)), `${n} entries`).toBe(0);
      if (n > 0) expect(plain(readInputLog(path))).toEqual(es);
    }
  });

  it('compressed: the LZ4 frames hold the same msgpack', () => {
    const es = entries(9000, 3);
    write(join(root, 'plain'), es, TraceCompression.none);
    write(join(root, 'lz4'), es, TraceCompression.lz4);
    expect(Buffer.compare(Buffer.from(lz4DecompressFrames(readFileSync(join(root, 'lz4')))), readFileSync(join(root, 'plain')))).toBe(0);
    expect(plain(readInputLog(join(root, "lz4")))).toEqual(es);
  });
});

describe('reading the log from the file chunk by chunk (trace replay)', () => {
  const es = entries(9000, 5); // chunks of 4096, 4096, 808 entries
  const packr = new Packr({ useRecords: false });
  const all = (f: InputLogFile): InputEntry[] => {
    const out: InputEntry[] = [];
    for (let e = f.at(0); e !== undefined; e = f.at(out.length)) out.push(e);
    f.close();
    return out;
  };
  for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
    const path = join(root, `stream-${codec}`);
    write(path, es, codec);
    const raw = readFileSync(path);
    // Where each chunk ends in the file: msgpackr's packing of each chunk, LZ4-framed as the writer does.
    const ends: number[] = [];
    if (codec === TraceCompression.none) {
      for (let i = 0, at = 0; i < es.length; i += 4096) ends.push((at += packr.pack(es.slice(i, i + 4096)).length));
    } else {
      // An LZ4 frame ends with a zero end mark; the writer's frames have no content checksum.
      const frames: number[] = [];
      for (let at = 0; at < raw.length;) {
        let p = at + 4 + 2 + ((raw[at + 4]! & 0x08) !== 0 ? 8 : 0) + 1;
        for (let size = raw.readUInt32LE(p); size !== 0; size = raw.readUInt32LE(p)) p += 4 + (size & 0x7fffffff);
        frames.push((at = p + 4));
      }
      ends.push(...frames);
    }

    it(`${codec}: every read size gives the entries written`, () => {
      expect(ends.length).toBe(3);
      expect(ends.at(-1)).toBe(raw.length);
      for (const size of [100, 4096, 1 << 18]) expect(plain(all(new InputLogFile(path, false, size))), `reads of ${size} bytes`).toEqual(es);
      expect(scanInputLog(path, false)).toEqual({ entries: es.length, lastIcount: es.at(-1)![1], wholeBytes: raw.length, bytes: raw.length });
    });

    it(`${codec}: asking for an earlier entry reads the file again`, () => {
      const f = new InputLogFile(path, false, 1000);
      expect(plain([f.at(8500)!])).toEqual([es[8500]]);
      expect(plain([f.at(3)!])).toEqual([es[3]]);
      expect(f.at(9000)).toBeUndefined();
      f.close();
    });

    it(`${codec}: a log cut anywhere replays its whole chunks, and is an error unless cut is allowed`, () => {
      const cutPath = join(root, `cut-${codec}`);
      for (const at of [0, 3, 6, 7, 20, ends[0]! - 1, ends[0]!, ends[0]! + 1, ends[1]! + 5, raw.length - 1]) {
        writeFileSync(cutPath, raw.subarray(0, at));
        const whole = ends.filter((e) => e <= at).length;
        const want = es.slice(0, Math.min(es.length, whole * 4096));
        for (const size of [4096, 1 << 18]) {
          expect(plain(all(new InputLogFile(cutPath, true, size))), `cut at ${at}, reads of ${size}`).toEqual(want);
        }
        const cut = readCutInputLog(cutPath);
        expect(cut.entries.length).toBe(want.length);
        expect(cut.wholeBytes).toBe(whole === 0 ? 0 : ends[whole - 1]);
        expect(cut.bytes).toBe(at);
        expect(scanInputLog(cutPath, true)).toEqual({ entries: want.length, lastIcount: want.length === 0 ? -1 : want.at(-1)![1], wholeBytes: cut.wholeBytes, bytes: at });
        if (at !== ends[0]) expect(() => readInputLog(cutPath), `cut at ${at}`).toThrow(TraceError);
      }
    });
  }
});

describe('one decoding of the log for the run and its look-ahead (trace replay)', () => {
  for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
    it(`${codec}: release() keeps the reads from a position on; resume() continues where decoding stopped`, () => {
      const es = entries(20000, 7);
      const path = join(root, `window-${codec}`);
      write(path, es, codec);
      const f = new InputLogFile(path, false, 4096);
      f.release(0);
      // Asking ahead holds every read from the released position to the entry asked for...
      expect(plain([f.at(15000)!])).toEqual([es[15000]]);
      expect(f.heldEntries).toBeGreaterThanOrEqual(15001);
      expect(plain([f.at(10)!, f.at(14000)!])).toEqual([es[10], es[14000]]);
      // ...and releasing drops the reads wholly before the new position.
      f.release(12000);
      expect(f.heldEntries).toBeLessThanOrEqual(f.decoded - 12000 + 4096);
      expect(plain([f.at(12000)!])).toEqual([es[12000]]);
      // A second reader from where this one stopped decoding gives the rest of the log.
      const r = f.resume();
      const rest: InputEntry[] = [];
      for (let i = f.decoded; r.at(i) !== undefined; i++) rest.push(r.at(i)!);
      expect(plain(rest)).toEqual(es.slice(f.decoded));
      expect(() => r.at(f.decoded - 1)).toThrow(RangeError);
      r.close();
      f.close();
    });
  }
});
