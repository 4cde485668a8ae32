// Typed access to one column of one record batch, for analyses that scan tables: the raw typed arrays
// (no per-row objects) plus a few accessors that avoid BigInt (64-bit values as two uint32 words, or as a
// number when exact below 2^53).

import type { Data, Vector } from 'apache-arrow';
import { TextDecoder } from 'node:util';
import type { ColumnSpec } from './schema.js';

const TWO32 = 4294967296;
const dictionaryCache = new WeakMap<object, string[]>();

export class ColumnView {
  /** Values: BigInt64Array/BigUint64Array for 64-bit columns, Uint32Array.. for narrower ones, Int8Array of
   *  codes for dictionaries, the concatenated bytes for binary/utf8. */
  readonly values: BigInt64Array | BigUint64Array | Uint32Array | Uint16Array | Uint8Array | Int8Array;
  /** 64-bit columns: the values as uint32 words, low word first (row i = words[2i], words[2i+1]). */
  readonly words: Uint32Array | null;
  /** Validity bitmap (bit i set = row i valid), or null when the batch has no nulls in this column. */
  readonly valid: Uint8Array | null;
  /** binary/utf8: row i is values[offsets[i] .. offsets[i+1]). */
  readonly offsets: Int32Array | null;
  /** Dictionary columns: the dictionary (code -> string). */
  readonly dictionary: readonly string[] | null;
  private readonly decoder: TextDecoder | null;

  constructor(readonly spec: ColumnSpec, readonly length: number, data: Data) {
    if (data.offset !== 0) throw new Error(`column ${spec.name}: sliced data is not supported`);
    const d = data as Data & { dictionary?: Vector };
    this.values = data.values as ColumnView['values'];
    this.valid = data.nullCount > 0 ? (data.nullBitmap as Uint8Array) : null;
    this.offsets = spec.type === 'binary' || spec.type === 'utf8' ? (data.valueOffsets as Int32Array) : null;
    this.words = spec.type === 'int64' || spec.type === 'uint64'
      ? new Uint32Array(this.values.buffer, this.values.byteOffset, this.values.length * 2) : null;
    if (spec.type === 'dict' && d.dictionary) {
      let dict = dictionaryCache.get(d.dictionary);
      if (!dict) {
        dict = [];
        for (const s of d.dictionary) dict.push(String(s));
        dictionaryCache.set(d.dictionary, dict);
      }
      this.dictionary = dict;
    } else this.dictionary = null;
    this.decoder = spec.type === 'utf8' || spec.type === 'dict' ? new TextDecoder() : null;
  }

  isNull(i: number): boolean {
    return this.valid !== null && (this.valid[i >> 3]! & (1 << (i & 7))) === 0;
  }

  lo(i: number): number {
    return this.words ? this.words[2 * i]! : Number(this.values[i]);
  }

  hi(i: number): number {
    return this.words ? this.words[2 * i + 1]! : 0;
  }

  /** The value as a number: exact for 64-bit values below 2^53 (int64 keeps its sign); codes for dictionaries. */
  number(i: number): number {
    if (this.words) {
      const lo = this.words[2 * i]!;
      const hi = this.words[2 * i + 1]!;
      return this.spec.type === 'int64' ? (hi | 0) * TWO32 + lo : hi * TWO32 + lo;
    }
    return this.values[i] as number;
  }

  /** The value as a BigInt (exact for every 64-bit value; not for hot loops). */
  bigint(i: number): bigint {
    return this.words ? BigInt(this.values[i] as bigint) : BigInt(this.values[i] as number);
  }

  /** utf8 value or dictionary string; null for a null row. */
  string(i: number): string | null {
    if (this.isNull(i)) return null;
    if (this.dictionary) return this.dictionary[this.values[i] as number] ?? null;
    if (this.offsets) return this.decoder!.decode(this.values.subarray(this.offsets[i]!, this.offsets[i + 1]!) as Uint8Array);
    return String(this.values[i]);
  }

  /** binary/utf8 bytes of row i (a view, valid while the batch is); null for a null row. */
  bytes(i: number): Uint8Array | null {
    if (this.isNull(i) || !this.offsets) return null;
    return (this.values as Uint8Array).subarray(this.offsets[i]!, this.offsets[i + 1]!);
  }
}
