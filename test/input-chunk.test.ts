// The input log's chunk decoder (src/replay/InputChunk.ts) decodes msgpack's number and array forms by hand:
// checked against msgpackr (the library the log's format is defined by) as the oracle, on logs written by
// the recorder's writer and on logs msgpackr itself wrote with forms the writer never uses (float32, 64-bit
// integers, array16/32 heads, strings, nil, long entries), compressed or not, whole or cut short, and with
// malformed data. Then replay's reads of the decoded fields: the same answers and divergence messages as
// the entries, and DMA bytes that stay intact after the buffers they were read from are reused.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Packr, Unpackr } from 'msgpackr';
import { InputKind, InputLogFile, InputLogWriter, readCutInputLog, readInputLog, scanInputLog, type InputEntry } from '../src/replay/inputLog.js';
import { STRIDE } from '../src/replay/InputChunk.js';
import { InputDivergence, ReplayEnvironment } from '../src/replay/ReplayEnvironment.js';
import { TraceError } from '../src/errors.js';
import { lz4Compress, lz4DecompressFrames, TraceCompression } from '../src/record/compression.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-inputchunk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A deterministic generator (no Math.random in the repository). */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0), x);
}

/** Every range msgpack encodes differently, their edges, and numbers that are not 32-bit integers. */
const EDGES = [0, 1, 31, 32, 63, 64, 127, 128, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 40 + 3,
  2 ** 53 - 1, 2 ** 64, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53),
  0.5, -2.75, 1e-300, 1e300, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN];

function randomEntries(n: number, seed: number): InputEntry[] {
  const rnd = rng(seed);
  const pick = (): number => (rnd() % 3 === 0 ? rnd() : rnd() % 3 === 1 ? -(rnd() % 70000) : EDGES[rnd() % EDGES.length]!);
  const out: InputEntry[] = [];
  for (let i = 0; i < n; i++) {
    const k = rnd() % 12;
    if (k === 0) out.push([InputKind.dma, pick(), pick(), Uint8Array.from({ length: rnd() % 300 }, () => rnd() & 0xff)]);
    else if (k < 3) out.push([InputKind.advance, pick(), rnd() & 1]);
    else if (k < 4) out.push([InputKind.pending, pick(), pick()]);
    else if (k < 5) out.push([InputKind.acknowledge, pick(), pick()]);
    else out.push([k < 9 ? InputKind.portOut : InputKind.portIn, pick(), pick(), pick(), pick(), pick()]);
  }
  return out;
}

function write(path: string, es: InputEntry[], compression: TraceCompression): void {
  const w = new InputLogWriter(path, compression);
  for (const e of es) {
    if (e.length === 6) w.add6(e[0] as number, e[1] as number, e[2] as number, e[3] as number, e[4] as number, e[5] as number);
    else if (e.length === 3) w.add3(e[0] as number, e[1] as number, e[2] as number);
    else w.add(e);
  }
  w.close();
}

/** The oracle: the file's msgpack values as msgpackr decodes them (after `lz4 -dc` when compressed), entries in order. */
function oracle(path: string): InputEntry[] {
  let raw: Uint8Array = readFileSync(path);
  if (raw[0] === 0x04 && raw[1] === 0x22) raw = lz4DecompressFrames(raw);
  const out: InputEntry[] = [];
  new Unpackr({ useRecords: false }).unpackMultiple(raw, (chunk: unknown) => {
    for (const e of chunk as InputEntry[]) out.push(e);
  });
  return out;
}

/** Byte arrays as plain Uint8Arrays (msgpackr gives Buffers), so that toEqual compares contents only. */
const plain = (es: InputEntry[]): unknown[] => es.map((e) => (Array.isArray(e) ? e.map((x) => (x instanceof Uint8Array ? Uint8Array.from(x) : x)) : e));

/** Every entry through InputLogFile's chunks, also checking the fields replay reads against the entry. */
function viaChunks(path: string, allowCut = false, readBytes?: number): InputEntry[] {
  const f = new InputLogFile(path, allowCut, readBytes);
  const out: InputEntry[] = [];
  for (let i = 0; ; i++) {
    const c = f.chunkAt(i);
    if (c === null) break;
    const e = c.entry(i - c.base);
    for (let k = 0; k < STRIDE; k++) {
      const x = e[k];
      const want = typeof x === 'number' ? x : NaN;
      expect(Object.is(c.f[(i - c.base) * STRIDE + k], want), `entry ${i} field ${k}`).toBe(true);
    }
    out.push(e);
    f.release(i + 1);
  }
  f.close();
  return out;
}

describe('the chunk decoder against msgpackr', () => {
  for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
    it(`${codec}: the recorder's logs decode to msgpackr's values, for every number range and read size`, () => {
      for (const [n, seed] of [[1, 1], [4095, 2], [4096, 3], [12_345, 4]] as const) {
        const es = randomEntries(n, seed);
        const path = join(root, `rand-${codec}-${n}`);
        write(path, es, codec);
        const want = plain(oracle(path));
        expect(plain(es)).toEqual(want); // the writer writes what it was given (NaN and -0 included)
        expect(plain(readInputLog(path))).toEqual(want);
        expect(plain(viaChunks(path))).toEqual(want);
        if (n > 4096) expect(plain(viaChunks(path, false, 777))).toEqual(want);
      }
    });
  }

  // Forms InputLogWriter never writes but a msgpack writer may: msgpackr packs these itself.
  const odd: InputEntry[][] = [
    // 16 entries and more: an array16 chunk head.
    Array.from({ length: 40 }, (_, i) => [InputKind.portOut, 1000 + i, 0x3f8, 1, i, 0]),
    [[InputKind.advance, 5, 1], [InputKind.pending, 6, 1.5], [InputKind.portIn, 7, 0x60, 1, 0x123456789, 0], [InputKind.acknowledge, 8, 2.5]],
    [[InputKind.advance, 9, 0], [InputKind.acknowledge, 10, 3.5]], // only the last entry is not decoded by hand (float32)
  ];
  const oddPackr = [new Packr({ useRecords: false }), new Packr({ useRecords: false, useFloat32: 1 })];

  it('other writers\' forms (float32, array16 and array32 heads, 64-bit integers, long entries, strings) decode as msgpackr decodes them', () => {
    const chunks: Uint8Array[] = [];
    for (const p of oddPackr) for (const c of odd) chunks.push(p.pack(c));
    // A chunk with an array32 head and entries with array16 heads; 64-bit integers (uint64, int64).
    const u64 = Buffer.from([0xcf, 0, 0, 0, 1, 0, 0, 0, 2]); // 2^32 + 2
    const i64 = Buffer.from([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]); // -2
    chunks.push(Buffer.concat([Buffer.from([0xdd, 0, 0, 0, 3]),
      Buffer.from([0xdc, 0, 3, InputKind.advance, 0xcd, 0x12, 0x34, 1]),
      Buffer.from([0x96, InputKind.portIn, 0xcd, 0x03, 0xfd]), u64, Buffer.from([1]), i64, Buffer.from([0]),
      Buffer.from([0x93, InputKind.pending, 0xca]), Buffer.from(new Uint8Array(new Float32Array([0.1]).buffer).reverse()), Buffer.from([0xff])]));
    // Entries that are not numbers alone, or longer than six, or of a kind no one writes.
    chunks.push(new Packr({ useRecords: false }).pack([[InputKind.portOut, 9, 'x', null, true, [1]], [7, 10, 1, 2, 3, 4, 5, 6, 7],
      [InputKind.dma, 11, 0x1000, Buffer.from([1, 2, 3])], [InputKind.portIn, 12, 0x60]]));
    const bytes = Buffer.concat(chunks);
    for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
      const path = join(root, `odd-${codec}`);
      writeFileSync(path, codec === TraceCompression.none ? bytes : Buffer.concat(chunks.map((c) => lz4Compress(c))));
      const want = plain(oracle(path));
      expect(want.length).toBe(2 * (40 + 4 + 2) + 3 + 4);
      expect(plain(readInputLog(path))).toEqual(want);
      expect(plain(viaChunks(path))).toEqual(want);
      expect(plain(viaChunks(path, false, 5))).toEqual(want);
    }
  });

  it('a log cut anywhere gives its whole chunks (with cuts allowed) and is a TraceError otherwise, as msgpackr says', () => {
    const es = randomEntries(300, 9);
    const packr = new Packr({ useRecords: false });
    const parts = [packr.pack(es.slice(0, 100)), packr.pack(es.slice(100, 116)), packr.pack(es.slice(116))];
    // The fast path's forms and msgpackr's fallback (a float32 entry) both cut short.
    parts.push(new Packr({ useRecords: false, useFloat32: 1 }).pack([[InputKind.pending, 1, 0.25], [InputKind.portIn, 2, 0x60, 1, 7, 0]]));
    const whole = Buffer.concat(parts);
    const ends: number[] = [];
    for (let at = 0, k = 0; k < parts.length; k++) ends.push((at += parts[k]!.length));
    const path = join(root, 'cut');
    for (let at = 0; at <= whole.length; at += at < 40 || whole.length - at < 60 || ends.some((e) => Math.abs(e - at) < 12) ? 1 : 101) {
      writeFileSync(path, whole.subarray(0, at));
      const n = ends.filter((e) => e <= at).length;
      // The oracle: msgpackr on the whole chunks before the cut.
      const want = plain(n === 0 ? [] : oracle(writeOracle(whole.subarray(0, ends[n - 1]))));
      for (const size of [3, 1 << 18]) expect(plain(viaChunks(path, true, size)), `cut at ${at}, reads of ${size}`).toEqual(want);
      const s = scanInputLog(path, true);
      expect(s.entries).toBe(want.length);
      expect(s.wholeBytes).toBe(n === 0 ? 0 : ends[n - 1]);
      expect(readCutInputLog(path).entries.length).toBe(want.length);
      if (!ends.includes(at)) expect(() => readInputLog(path), `cut at ${at}`).toThrow(TraceError);
    }
  });

  it('malformed chunks and entries are TraceErrors naming the file', () => {
    const p = new Packr({ useRecords: false });
    const cases: Array<[string, Uint8Array]> = [
      ['a chunk is not an array', p.pack(5)],
      ['malformed entry', p.pack([[InputKind.portIn, 1, 2, 1, 0, 0], 7])],
      ['malformed entry', p.pack([[InputKind.portIn, 'x', 2]])],
      ['malformed entry', p.pack([[InputKind.portIn]])],
      ['', Buffer.from([0x91, 0x93, 0x01, 0xc1, 0x00])], // 0xc1: a byte msgpack never uses
    ];
    for (const [i, [message, bytes]] of cases.entries()) {
      for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
        const path = join(root, `bad-${i}-${codec}`);
        writeFileSync(path, Buffer.concat([p.pack([[InputKind.advance, 1, 0]]), bytes].map((b) => (codec === TraceCompression.lz4 ? lz4Compress(b) : b))));
        let err: unknown = null;
        try {
          viaChunks(path);
        } catch (e) {
          err = e;
        }
        expect(err, `case ${i} ${codec}`).toBeInstanceOf(TraceError);
        expect((err as TraceError).message).toContain(path);
        expect((err as TraceError).message).toContain(message);
        expect(() => readInputLog(path)).toThrow(TraceError);
        expect(() => scanInputLog(path, true)).toThrow(TraceError);
      }
    }
  });
});

function writeOracle(bytes: Uint8Array): string {
  const path = join(root, 'oracle-part');
  writeFileSync(path, bytes);
  return path;
}

describe('replay reading the decoded fields', () => {
  /** Replay `es` (a log of port accesses, device events, DMA and vectors) through `env`, returning what it got. */
  function drive(env: ReplayEnvironment, es: InputEntry[], setIcount: (n: number) => void): unknown[] {
    const got: unknown[] = [];
    for (const e of es) {
      setIcount(e[1] as number);
      if (e[0] === InputKind.dma) continue; // applied by the call before it
      if (e[0] === InputKind.advance) {
        expect(env.nextEventAt()).toBe(e[1]);
        got.push(env.advanceTo(e[1] as number));
      } else if (e[0] === InputKind.portIn) got.push(env.portIn(e[2] as number, e[3] as number), env.inRaisedIrq);
      else if (e[0] === InputKind.portOut) got.push(env.portOut(e[2] as number, e[3] as number, e[4] as number));
      else if (e[0] === InputKind.pending) got.push(env.pendingVector());
      else got.push(env.acknowledge());
    }
    expect(env.atEnd).toBe(true);
    return got;
  }

  /** A replayable log: increasing icounts, 32-bit port values, DMA after the calls that apply it (applyEffects). */
  function replayable(n: number, seed: number): InputEntry[] {
    const rnd = rng(seed);
    const es: InputEntry[] = [];
    let icount = 100;
    for (let i = 0; i < n; i++) {
      icount += rnd() % 5;
      const k = rnd() % 10;
      if (k < 2) es.push([InputKind.advance, icount, rnd() & 1]);
      else if (k < 3) es.push([InputKind.pending, icount, (rnd() % 300) - 1]);
      else if (k < 4) es.push([InputKind.acknowledge, icount, rnd() & 0xff]);
      else es.push([k < 7 ? InputKind.portOut : InputKind.portIn, icount, rnd() & 0xffff, 1 << (rnd() % 3), rnd() >>> (rnd() % 32), rnd() & 1]);
      if (es.at(-1)![0] !== InputKind.pending && es.at(-1)![0] !== InputKind.acknowledge && rnd() % 16 === 0) es.push([InputKind.dma, icount, rnd() % 4096, Uint8Array.from({ length: 1 + (rnd() % 100) }, () => rnd() & 0xff)]);
    }
    return es;
  }

  for (const codec of [TraceCompression.none, TraceCompression.lz4]) {
    it(`${codec}: the same answers as the log's entries, and DMA bytes intact after later chunks are read`, () => {
      const es = replayable(30_000, 11);
      const path = join(root, `replay-${codec}`);
      write(path, es, codec);
      const want: unknown[] = [];
      for (const e of es) {
        if (e[0] === InputKind.advance) want.push(e[2] === 1);
        else if (e[0] === InputKind.portIn) want.push(e[4], e[5] === 1);
        else if (e[0] === InputKind.portOut) want.push(e[5] === 1);
        else if (e[0] === InputKind.pending || e[0] === InputKind.acknowledge) want.push(e[2]);
      }
      let icount = 0;
      const written: Array<[number, Uint8Array]> = [];
      const env = new ReplayEnvironment(() => new InputLogFile(path, false, 4096), () => icount, (phys, b) => written.push([phys, b]), () => 'none');
      env.groundTruthLogged = true; // a log of random ports, 0x510 among them, as older traces have it
      expect(drive(env, es, (n) => (icount = n))).toEqual(want);
      env.close();
      const dma = es.filter((e) => e[0] === InputKind.dma);
      expect(dma.length).toBeGreaterThan(1000);
      expect(written.map(([p, b]) => [p, Uint8Array.from(b)])).toEqual(dma.map((e) => [e[2], e[3]]));
      // An array log gives the same.
      icount = 0;
      const envArray = new ReplayEnvironment(es, () => icount, () => {}, () => 'none');
      envArray.groundTruthLogged = true;
      expect(drive(envArray, es, (n) => (icount = n))).toEqual(want);
    });
  }

  it('divergences name the expected entry as before, from a file or an array', () => {
    const es: InputEntry[] = [[InputKind.portIn, 5, 0x3fd, 1, 0x60, 0], [InputKind.portOut, 9, 0x3f8, 1, 65, 1], [InputKind.pending, 12, -1]];
    const path = join(root, 'diverge');
    write(path, es, TraceCompression.lz4);
    for (const log of [es, () => new InputLogFile(path)]) {
      let icount = 5;
      const env = new ReplayEnvironment(log, () => icount, () => {}, () => 'none');
      const err = (f: () => unknown): InputDivergence => {
        try {
          f();
        } catch (e) {
          return e as InputDivergence;
        }
        throw new Error('no divergence');
      };
      let e = err(() => env.portIn(0x3f8, 1));
      expect(e).toBeInstanceOf(InputDivergence);
      expect(e.message).toBe('input 0: the log has portIn at icount 5 (0x3fd, 1, 96, 0), the replay asked for IN from port 0x3f8 size 1');
      expect([e.index, e.at, e.expected]).toEqual([0, 5, es[0]]);
      icount = 6;
      e = err(() => env.portOut(0x3f8, 1, 65));
      expect(e.message).toBe('input 1: the log has portOut at icount 9 (0x3f8, 1, 65, 1), the replay asked for OUT to port 0x3f8 at icount 6');
      expect([e.index, e.at, e.expected]).toEqual([1, 6, es[1]]);
      icount = 9;
      e = err(() => env.portOut(0x3f8, 1, 66));
      expect(e.message).toBe('input 1: the log has portOut at icount 9 (0x3f8, 1, 65, 1), the replay asked for OUT 0x42 to port 0x3f8 size 1');
      expect([e.index, e.at]).toEqual([1, 9]);
      icount = 12;
      expect(env.pendingVector()).toBe(-1);
      e = err(() => env.acknowledge());
      expect(e.message).toBe('input 3: the log has nothing more, the replay asked for an interrupt acknowledge at icount 12');
      expect(e.expected).toBeUndefined();
      env.close();
    }
  });
});
