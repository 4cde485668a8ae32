// The kernel's own symbol table, read from its kallsyms tables the way kernel/kallsyms.c reads them, so that a
// stripped kernel image (Debian ships vmlinux without .symtab and an 83-byte System.map stub) yields every
// symbol's address with no profile and no debug package.
//
// scripts/kallsyms.c (before 6.4) emits, in .rodata and in this order:
//   kallsyms_offsets[num]     int32 (CONFIG_KALLSYMS_BASE_RELATIVE)
//   kallsyms_relative_base    u64
//   kallsyms_num_syms         u32
//   kallsyms_names            per symbol: a length byte (two bytes, 7 bits each, when >= 0x80: "big" symbols,
//                             6.1) then that many token indices; the first expanded char is the nm type
//   kallsyms_markers          u32 per 256 symbols: offset of that symbol's entry in kallsyms_names
//   kallsyms_seqs_of_names    3 bytes per symbol (6.2, backported to Debian's 6.1)
//   kallsyms_token_table      256 NUL-terminated token strings
//   kallsyms_token_index      256 u16 offsets into the token table
// None of these labels survive in a stripped image, so the tables are found by their structure: the token
// table is the one place where 256 strings are indexed exactly by the u16 array after them, and the symbol
// count is the one u32 after which `count` length-prefixed names end where markers that agree with them begin.
// Addresses (CONFIG_KALLSYMS_ABSOLUTE_PERCPU, x86-64 SMP): a non-negative offset is an absolute value (per-CPU
// variables, offsets into the per-CPU area), a negative one is `relative_base - 1 - offset`.

import { IntrospectionError } from './IntrospectionError.js';

export interface KernelSymbol {
  name: string;
  /** nm type letter: T/t text, D/d data, B/b bss, R/r read-only, A absolute, ... */
  type: string;
  /** signed kernel virtual address (per-CPU symbols: the offset into the per-CPU area) */
  address: number;
}

const isLocal = (type: string): boolean => type >= 'a' && type <= 'z';

/** The 256-token table and its index must agree exactly; a token is at most this long. */
const MAX_TOKEN = 64;

export class Kallsyms {
  private readonly byName = new Map<string, KernelSymbol>();
  /** text/data symbols sorted by address (for address -> name) */
  private sorted: KernelSymbol[] | undefined;

  private constructor(readonly symbols: KernelSymbol[]) {
    // A name can be both a file-local and a global symbol (two acpi_gpe_count in 6.1): the global one wins,
    // as in kallsyms_lookup_name's users that want the exported object.
    for (const s of symbols) {
      const had = this.byName.get(s.name);
      if (had === undefined || (isLocal(had.type) && !isLocal(s.type))) this.byName.set(s.name, s);
    }
  }

  /** Find and decode the kallsyms tables in the kernel's text/rodata segment (`bytes` as loaded). */
  static fromImage(bytes: Uint8Array): Kallsyms {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tokens = findTokenTable(bytes, v);
    if (tokens === null) throw new IntrospectionError('kallsyms: no token table found in the kernel image (not a kernel, or built without CONFIG_KALLSYMS)');
    const tables = findNames(bytes, v, tokens.tableAt);
    if (tables === null) throw new IntrospectionError('kallsyms: token table found but no symbol names table agreeing with it');
    const { numAt, num, namesAt } = tables;
    const relBase = Number(BigInt.asIntN(64, v.getBigUint64(numAt - 8, true)));
    const offsetsAt = numAt - 8 - 4 * num;
    if (offsetsAt < 0) throw new IntrospectionError('kallsyms: the offsets table would start before the image');
    let absolutePercpu = false;
    for (let i = 0; i < num; i++) if (v.getInt32(offsetsAt + 4 * i, true) < 0) { absolutePercpu = true; break; }
    const symbols: KernelSymbol[] = new Array(num);
    let p = namesAt;
    for (let i = 0; i < num; i++) {
      let len = bytes[p++];
      if (len & 0x80) len = (len & 0x7f) | (bytes[p++] << 7);
      let s = '';
      for (let k = 0; k < len; k++) s += tokens.strings[bytes[p + k]];
      p += len;
      const off = v.getInt32(offsetsAt + 4 * i, true);
      const address = absolutePercpu ? (off >= 0 ? off : relBase - 1 - off) : relBase + (off >>> 0);
      symbols[i] = { type: s[0], name: s.slice(1), address };
    }
    return new Kallsyms(symbols);
  }

  /** Address of a symbol by name, or throw naming it. */
  address(name: string): number {
    const s = this.byName.get(name);
    if (s === undefined) throw new IntrospectionError(`kallsyms: no symbol '${name}'`);
    return s.address;
  }

  lookup(name: string): KernelSymbol | undefined {
    return this.byName.get(name);
  }

  /** The text symbol containing `address` (the greatest one at or below it), with the offset into it. */
  symbolAt(address: number): { symbol: KernelSymbol; offset: number } | null {
    if (this.sorted === undefined) {
      this.sorted = this.symbols.filter((s) => s.type === 'T' || s.type === 't').sort((a, b) => a.address - b.address);
    }
    const a = this.sorted;
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || address < a[0].address) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a[mid].address <= address) lo = mid;
      else hi = mid - 1;
    }
    return { symbol: a[lo], offset: address - a[lo].address };
  }
}

/** Locate kallsyms_token_table by its defining property: token_index right after it indexes it exactly. */
function findTokenTable(bytes: Uint8Array, v: DataView): { tableAt: number; strings: string[] } | null {
  // Single-character tokens for the digits are present in every kernel's table, consecutively ("0\0" .. "9\0").
  const digits = new Uint8Array(20);
  for (let d = 0; d < 10; d++) digits[2 * d] = 0x30 + d;
  let from = 0;
  for (;;) {
    const at = indexOf(bytes, digits, from);
    if (at < 0) return null;
    from = at + 1;
    // Walk back to the table start: '0' is token 48 when the table holds every single-char token in order;
    // in general, try each start within 256 strings before and check the index.
    let start = at;
    for (let back = 0; back <= 256 && start > 0; back++) {
      const found = checkTable(bytes, v, start);
      if (found !== null) return found;
      // previous string start
      let q = start - 2;
      while (q >= 0 && bytes[q] !== 0 && start - q <= MAX_TOKEN + 1) q--;
      if (q < 0 || start - q > MAX_TOKEN + 1) break;
      start = q + 1;
    }
  }
}

function checkTable(bytes: Uint8Array, v: DataView, start: number): { tableAt: number; strings: string[] } | null {
  const offs: number[] = [];
  let q = start;
  for (let i = 0; i < 256; i++) {
    offs.push(q - start);
    let e = q;
    while (e < bytes.length && bytes[e] !== 0 && e - q <= MAX_TOKEN) e++;
    if (e >= bytes.length || bytes[e] !== 0 || e === q) return null;
    q = e + 1;
  }
  for (const align of [2, 4, 8]) {
    const ti = Math.ceil(q / align) * align;
    if (ti + 512 > bytes.length) continue;
    let ok = true;
    for (let i = 0; i < 256 && ok; i++) ok = v.getUint16(ti + 2 * i, true) === offs[i];
    if (ok) {
      const strings: string[] = [];
      for (let i = 0; i < 256; i++) {
        let e = start + offs[i];
        let s = '';
        while (bytes[e] !== 0) s += String.fromCharCode(bytes[e++]);
        strings.push(s);
      }
      return { tableAt: start, strings };
    }
  }
  return null;
}

/** Find kallsyms_num_syms: the u32 `n` after which n names end where markers agreeing with them begin. */
function findNames(bytes: Uint8Array, v: DataView, tokenTableAt: number): { numAt: number; num: number; namesAt: number } | null {
  const limit = Math.max(0, tokenTableAt - 64 * 1024 * 1024);
  for (let p = (tokenTableAt - 4) & ~3; p >= limit; p -= 4) {
    const n = v.getUint32(p, true);
    if (n < 1000 || n > 4_000_000) continue;
    for (const namesAt of [p + 4, p + 8]) {
      const r = walkNames(bytes, namesAt, n, tokenTableAt);
      if (r === null) continue;
      for (const align of [4, 8]) {
        const m = Math.ceil(r.end / align) * align;
        if (m + 4 * r.markers.length > tokenTableAt) continue;
        let ok = true;
        for (let i = 0; i < r.markers.length && ok; i++) ok = v.getUint32(m + 4 * i, true) === r.markers[i];
        if (ok) return { numAt: p, num: n, namesAt };
      }
    }
  }
  return null;
}

function walkNames(bytes: Uint8Array, at: number, n: number, end: number): { end: number; markers: number[] } | null {
  const markers: number[] = [];
  let q = at;
  for (let i = 0; i < n; i++) {
    if ((i & 255) === 0) markers.push(q - at);
    if (q >= end) return null;
    let len = bytes[q++];
    if (len & 0x80) len = (len & 0x7f) | (bytes[q++] << 7);
    if (len === 0) return null;
    q += len;
    if (q > end) return null;
  }
  return { end: q, markers };
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(first, from); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}
