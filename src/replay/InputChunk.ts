// One chunk of the input log (inputLog.ts) decoded into flat columns: replay reads an entry's fields by index
// instead of from one JS array per entry (millions of small arrays were most of replay's garbage collection).
//
// The decoder reads the msgpack forms InputLogWriter.num writes (positive/negative fixint, uint8-32, int8-32,
// float64) and the array heads (fixarray, array16, array32) by hand. An entry holding anything else (DMA's
// bin, a float32, a 64-bit integer, ...) is decoded by msgpackr, the library the log's format is defined by;
// a chunk that is not a well-formed chunk of entries (not an array, an entry that is not [number, number,
// ...], bytes msgpackr rejects) is decoded wholly by msgpackr, so that its errors, and whether it is merely
// cut short, are msgpackr's as before.

import { Unpackr } from 'msgpackr';
import type { InputEntry } from './inputLog.js';

/** Fields stored per entry: kind, icount and up to four more (port, size, value, irq: the longest kinds). */
export const STRIDE = 6;
/** `len` of an entry that is not made of at most STRIDE numbers: `raw` holds it as msgpackr decoded it. */
const RAW = 0;

const unpackr = new Unpackr({ useRecords: false });

/** Thrown inside decodeInputChunk: this chunk is msgpackr's to decode. */
const FALLBACK = new Error('input log chunk decoded by msgpackr');

export class InputChunk {
  /** Index in the log of the chunk's first entry. */
  base = 0;
  /** Entries; 0 while a decode is under way. */
  n = 0;
  /** Entry j's fields at f[j * STRIDE + k]: kind, icount, then its other numbers; NaN where it has none (or not a number). */
  f = new Float64Array(0);
  /** Entry j's length, or RAW. */
  len = new Uint8Array(0);
  /** Entries not made of numbers alone (DMA's bytes), or longer than STRIDE, by index in the chunk. */
  raw = new Map<number, InputEntry>();

  /** Make room for n entries and forget the previous ones. */
  reset(n: number): void {
    this.n = 0;
    if (this.len.length < n) {
      const cap = Math.max(n, this.len.length * 2, 16);
      this.f = new Float64Array(cap * STRIDE);
      this.len = new Uint8Array(cap);
    }
    if (this.raw.size > 0) this.raw.clear();
  }

  /** Entry j as an array (a fresh one, or the raw entry itself): for tools, tests and divergence messages. */
  entry(j: number): InputEntry {
    const n = this.len[j]!;
    if (n === RAW) return this.raw.get(j)!;
    const e: number[] = new Array<number>(n);
    for (let k = 0; k < n; k++) e[k] = this.f[j * STRIDE + k]!;
    return e;
  }

  /** Store entry j from an array; `copy`: its byte arrays are views into a buffer that will be reused. */
  set(j: number, e: InputEntry, copy: boolean): void {
    const f = this.f;
    const at = j * STRIDE;
    let numbers = e.length <= STRIDE;
    for (let k = 0; k < STRIDE; k++) {
      const x = e[k];
      if (typeof x === 'number') f[at + k] = x;
      else {
        f[at + k] = NaN;
        if (k < e.length) numbers = false;
      }
    }
    for (let k = STRIDE; k < e.length && numbers; k++) numbers = typeof e[k] === 'number';
    if (numbers) this.len[j] = e.length;
    else {
      this.len[j] = RAW;
      this.raw.set(j, copy ? e.map((x) => (x instanceof Uint8Array ? new Uint8Array(x) : x)) : e);
    }
  }

  /** A chunk holding these entries (a log given as an array). */
  static of(entries: InputEntry[]): InputChunk {
    const c = new InputChunk();
    c.reset(entries.length);
    for (let j = 0; j < entries.length; j++) c.set(j, entries[j]!, false);
    c.n = entries.length;
    return c;
  }
}

/** The first msgpack value in b[from, to) as msgpackr decodes it, and where it ends; null if cut short. */
function unpackOne(b: Uint8Array, from: number, to: number): { value: unknown; end: number } | null {
  let value: unknown;
  let end = -1;
  try {
    unpackr.unpackMultiple(b.subarray(from, to), (v: unknown, _start?: number, stop?: number) => {
      value = v;
      end = from + (stop ?? 0);
      return false;
    });
  } catch (e) {
    if ((e as { incomplete?: boolean }).incomplete === true) return null;
    throw e;
  }
  return { value, end };
}

/** The chunk at b[from, to) decoded by msgpackr: its end, or -1 if it is cut short. */
function decodeByMsgpackr(b: Uint8Array, from: number, to: number, into: InputChunk): number {
  const r = unpackOne(b, from, to);
  if (r === null) return -1;
  const chunk = r.value;
  if (!Array.isArray(chunk)) throw new Error('a chunk is not an array');
  into.reset(chunk.length);
  for (let j = 0; j < chunk.length; j++) {
    const e: unknown = chunk[j];
    if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') throw new Error('malformed entry');
    into.set(j, e as InputEntry, true);
  }
  into.n = chunk.length;
  return r.end;
}

/** Entry j from b[from, to) by msgpackr (it holds something besides the numbers decoded by hand): its end. */
function entryByMsgpackr(b: Uint8Array, from: number, to: number, into: InputChunk, j: number): number {
  let r: { value: unknown; end: number } | null;
  try {
    r = unpackOne(b, from, to);
  } catch {
    throw FALLBACK;
  }
  const e = r?.value;
  if (r === null || !Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') throw FALLBACK;
  into.set(j, e as InputEntry, true);
  return r.end;
}

/**
 * Decode the chunk (one msgpack array of entries) at b[from, to) into `into`. Returns where it ends, or -1
 * if it runs past `to` (cut short, or more of the file is to be read). Malformed data throws msgpackr's
 * error, or 'a chunk is not an array' / 'malformed entry' as a check of msgpackr's values would.
 */
export function decodeInputChunk(b: Uint8Array, from: number, to: number, into: InputChunk): number {
  try {
    return decodeByHand(b, from, to, into);
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return decodeByMsgpackr(b, from, to, into);
  }
}

function decodeByHand(b: Uint8Array, from: number, to: number, into: InputChunk): number {
  let p = from;
  if (p >= to) return -1;
  const h = b[p]!;
  let n: number;
  if ((h & 0xf0) === 0x90) {
    n = h & 15;
    p += 1;
  } else if (h === 0xdc) {
    if (p + 3 > to) return -1;
    n = (b[p + 1]! << 8) | b[p + 2]!;
    p += 3;
  } else if (h === 0xdd) {
    if (p + 5 > to) return -1;
    n = ((b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!) >>> 0;
    p += 5;
  } else throw FALLBACK;
  // Every entry takes at least a byte: a count beyond the bytes left is a chunk cut short (and no allocation).
  if (n > to - p) return -1;
  into.reset(n);
  const f = into.f;
  const len = into.len;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let j = 0; j < n; j++) {
    const start = p;
    if (p >= to) return -1;
    const eh = b[p]!;
    const m = eh & 15;
    if ((eh & 0xf0) !== 0x90 || m < 2 || m > STRIDE) {
      p = entryByMsgpackr(b, start, to, into, j);
      continue;
    }
    p++;
    const at = j * STRIDE;
    let k = 0;
    for (; k < m; k++) {
      if (p >= to) return -1;
      const t = b[p]!;
      let v: number;
      if (t < 0x80) {
        v = t;
        p += 1;
      } else if (t >= 0xe0) {
        v = t - 0x100;
        p += 1;
      } else if (t === 0xcc) {
        if (p + 2 > to) return -1;
        v = b[p + 1]!;
        p += 2;
      } else if (t === 0xcd) {
        if (p + 3 > to) return -1;
        v = (b[p + 1]! << 8) | b[p + 2]!;
        p += 3;
      } else if (t === 0xce) {
        if (p + 5 > to) return -1;
        v = dv.getUint32(p + 1);
        p += 5;
      } else if (t === 0xcb) {
        if (p + 9 > to) return -1;
        v = dv.getFloat64(p + 1);
        p += 9;
      } else if (t === 0xd0) {
        if (p + 2 > to) return -1;
        v = dv.getInt8(p + 1);
        p += 2;
      } else if (t === 0xd1) {
        if (p + 3 > to) return -1;
        v = dv.getInt16(p + 1);
        p += 3;
      } else if (t === 0xd2) {
        if (p + 5 > to) return -1;
        v = dv.getInt32(p + 1);
        p += 5;
      } else break; // not a number decoded here
      f[at + k] = v;
    }
    if (k < m) {
      p = entryByMsgpackr(b, start, to, into, j);
      continue;
    }
    for (; k < STRIDE; k++) f[at + k] = NaN;
    len[j] = m;
  }
  into.n = n;
  return p;
}
