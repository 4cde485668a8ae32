// The kernel's ELF image (Debian's vmlinux, as extracted from the bzImage): its loadable segments and, when
// the file still has them, its section headers. Kernel virtual addresses are held as signed JS numbers
// (0xffffffff81000000 is -0x7f000000), exact because every kernel address is within 2^47 of zero once
// sign-extended (the emulator's RIP convention).

import { IntrospectionError } from './IntrospectionError.js';

export interface ElfSegment {
  /** signed virtual address */
  vaddr: number;
  paddr: number;
  /** the file bytes (memsz beyond filesz is zero in memory and absent here) */
  bytes: Uint8Array;
  memsz: number;
  flags: number;
}

export interface ElfSection {
  name: string;
  vaddr: number;
  offset: number;
  size: number;
}

/** 64-bit value at `at` as a signed JS number (exact below 2^53 in magnitude). */
function s64(v: DataView, at: number): number {
  return Number(BigInt.asIntN(64, v.getBigUint64(at, true)));
}

export class KernelElf {
  private constructor(
    readonly bytes: Uint8Array,
    readonly entry: number,
    readonly segments: ElfSegment[],
    readonly sections: ElfSection[],
  ) {}

  static parse(bytes: Uint8Array, what = 'kernel image'): KernelElf {
    const fail = (why: string): never => {
      throw new IntrospectionError(`${what}: ${why}`);
    };
    if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF file');
    if (bytes[4] !== 2 || bytes[5] !== 1) fail('not a little-endian 64-bit ELF file');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint16(18, true) !== 62) fail(`machine ${v.getUint16(18, true)} is not x86-64`);
    const entry = s64(v, 24);
    const phoff = Number(v.getBigUint64(32, true));
    const shoff = Number(v.getBigUint64(40, true));
    const phentsize = v.getUint16(54, true);
    const phnum = v.getUint16(56, true);
    const shentsize = v.getUint16(58, true);
    const shnum = v.getUint16(60, true);
    const shstrndx = v.getUint16(62, true);
    if (phoff + phnum * phentsize > bytes.length || phentsize < 56) fail('program headers outside the file');
    const segments: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const h = phoff + i * phentsize;
      if (v.getUint32(h, true) !== 1) continue; // PT_LOAD
      const offset = Number(v.getBigUint64(h + 8, true));
      const filesz = Number(v.getBigUint64(h + 32, true));
      if (offset + filesz > bytes.length) fail(`segment ${i} (${filesz} bytes at file offset ${offset}) is cut off`);
      segments.push({
        vaddr: s64(v, h + 16),
        paddr: Number(v.getBigUint64(h + 24, true)),
        bytes: bytes.subarray(offset, offset + filesz),
        memsz: Number(v.getBigUint64(h + 40, true)),
        flags: v.getUint32(h + 4, true),
      });
    }
    if (segments.length === 0) fail('no loadable segments');
    const sections: ElfSection[] = [];
    if (shoff !== 0 && shnum !== 0 && shentsize >= 64 && shoff + shnum * shentsize <= bytes.length && shstrndx < shnum) {
      const strh = shoff + shstrndx * shentsize;
      const strOff = Number(v.getBigUint64(strh + 24, true));
      const decoder = new TextDecoder();
      for (let i = 0; i < shnum; i++) {
        const h = shoff + i * shentsize;
        let e = strOff + v.getUint32(h, true);
        const s = e;
        while (e < bytes.length && bytes[e] !== 0) e++;
        sections.push({
          name: decoder.decode(bytes.subarray(s, e)),
          vaddr: s64(v, h + 16),
          offset: Number(v.getBigUint64(h + 24, true)),
          size: Number(v.getBigUint64(h + 32, true)),
        });
      }
    }
    return new KernelElf(bytes, entry, segments, sections);
  }

  /** The bytes of a named section, or null when the file has no such section (or no section headers). */
  section(name: string): Uint8Array | null {
    const s = this.sections.find((x) => x.name === name);
    if (!s || s.offset + s.size > this.bytes.length) return null;
    return this.bytes.subarray(s.offset, s.offset + s.size);
  }

  /** The segment holding the kernel's text and read-only data (the first loadable one). */
  get textSegment(): ElfSegment {
    return this.segments[0];
  }

  /** `len` bytes at a kernel virtual address from the file's segments (null if not file-backed). */
  read(vaddr: number, len: number): Uint8Array | null {
    for (const s of this.segments) {
      const off = vaddr - s.vaddr;
      if (off >= 0 && off + len <= s.bytes.length) return s.bytes.subarray(off, off + len);
    }
    return null;
  }
}
