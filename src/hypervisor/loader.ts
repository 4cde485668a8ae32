// Loads the guest into RAM following docs/machine.md "Boot": the kernel ELF64's PT_LOAD segments at their
// physical addresses, boot page tables, the boot-info block, the ramdisk and the workload script. Returns
// the register state the CPU starts with.
import { UserError } from '../errors.js';

/** A bad kernel or program image, or a layout that does not fit: the user's input, reported in one line. */
export class GuestLoadError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'GuestLoadError';
  }
}

export interface GuestProgram {
  name: string;
  bytes: Uint8Array;
}

export interface LoadGuestOptions {
  kernel: Uint8Array;
  programs: GuestProgram[];
  workloadScript: string;
  memBytes: number;
  tscHz: number;
  seed: number | bigint;
  diskSectors: number;
}

export interface LoadedGuest {
  entry: bigint;
  rdi: bigint;
  rsp: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  rflags: bigint;
  bootInfoPhys: number;
  kernelPhysStart: number;
  kernelPhysEnd: number;
  ramdiskPhys: number;
  ramdiskBytes: number;
  workloadPhys: number;
  workloadBytes: number;
  freePhys: number;
  /** The kernel ELF's symbol table (name -> virtual address; empty when stripped), e.g. `syscall_entry`. */
  symbols: Map<string, bigint>;
}

/** Constants of the boot protocol (docs/machine.md). */
export const Boot = {
  pml4: 0x1000,
  pdptLow: 0x2000,
  pdptHigh: 0x3000,
  bootInfo: 0x7000,
  stackTop: 0x10000,
  kernelVirtBase: 0xffffffff80000000n,
  kernelLoadMin: 0x100000,
  magic: 0x31544f4252544d56n, // "VMTRBOT1"
  cr0: 0x80010033n,
  cr4: 0x20n,
  efer: 0xd00n,
  rflags: 0x2n,
  /** The boot mapping covers the first 1 GiB of physical memory. */
  maxMemBytes: 1 << 30,
} as const;

const PAGE = 4096;
const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

interface Segment {
  paddr: number;
  vaddr: bigint;
  offset: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface ParsedElf {
  entry: bigint;
  segments: Segment[];
  symbols: Map<string, bigint>;
}

/** Parses an ELF64 little-endian x86-64 executable's program headers (and symbols, if any). */
export function parseElf64(bytes: Uint8Array, what: string, opts: { physicalEntry?: boolean } = {}): ParsedElf {
  const fail = (msg: string): never => {
    throw new GuestLoadError(`${what}: ${msg}`);
  };
  if (bytes.length < 64) fail(`too short for an ELF header (${bytes.length} bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF file (bad magic)');
  if (bytes[4] !== 2) fail('not a 64-bit ELF (EI_CLASS is not ELFCLASS64)');
  if (bytes[5] !== 1) fail('not little-endian (EI_DATA is not ELFDATA2LSB)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== 2) fail(`not an executable (e_type ${type}, want ET_EXEC 2)`);
  if (machine !== 62) fail(`not x86-64 (e_machine ${machine}, want 62)`);
  const entry = dv.getBigUint64(24, true);
  const phoff = Number(dv.getBigUint64(32, true));
  const shoff = Number(dv.getBigUint64(40, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (phnum === 0) fail('no program headers');
  if (phentsize !== 56) fail(`unexpected program header size ${phentsize}`);
  if (phoff + phnum * phentsize > bytes.length) fail('program headers extend past the end of the file');
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== 1) continue; // PT_LOAD
    const seg: Segment = {
      flags: dv.getUint32(o + 4, true),
      offset: Number(dv.getBigUint64(o + 8, true)),
      vaddr: dv.getBigUint64(o + 16, true),
      paddr: Number(dv.getBigUint64(o + 24, true)),
      filesz: Number(dv.getBigUint64(o + 32, true)),
      memsz: Number(dv.getBigUint64(o + 40, true)),
    };
    if (seg.filesz > seg.memsz) fail(`segment ${i}: p_filesz ${seg.filesz} > p_memsz ${seg.memsz}`);
    if (seg.offset + seg.filesz > bytes.length) fail(`segment ${i}: file bytes extend past the end of the file`);
    segments.push(seg);
  }
  if (segments.length === 0) fail('no PT_LOAD segment');
  // A Linux vmlinux's e_entry is physical (phys_startup_64: the 64-bit boot protocol enters there).
  const base = (s: Segment): bigint => (opts.physicalEntry === true ? BigInt(s.paddr) : s.vaddr);
  if (!segments.some((s) => entry >= base(s) && entry < base(s) + BigInt(s.memsz))) {
    fail(`entry point 0x${entry.toString(16)} is not inside a loaded segment`);
  }
  return { entry, segments, symbols: readSymbols(bytes, dv, shoff, shentsize, shnum) };
}

/** Global/local function and object symbols from .symtab, when present and well-formed (else empty). */
function readSymbols(bytes: Uint8Array, dv: DataView, shoff: number, shentsize: number, shnum: number): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (shoff === 0 || shentsize !== 64 || shoff + shnum * 64 > bytes.length) return out;
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    if (dv.getUint32(sh + 4, true) !== 2) continue; // SHT_SYMTAB
    const off = Number(dv.getBigUint64(sh + 24, true));
    const size = Number(dv.getBigUint64(sh + 32, true));
    const link = dv.getUint32(sh + 40, true);
    if (link >= shnum || off + size > bytes.length) return out;
    const strSh = shoff + link * 64;
    const strOff = Number(dv.getBigUint64(strSh + 24, true));
    const strSize = Number(dv.getBigUint64(strSh + 32, true));
    if (strOff + strSize > bytes.length) return out;
    for (let s = off; s + 24 <= off + size; s += 24) {
      const nameOff = dv.getUint32(s, true);
      if (nameOff === 0 || nameOff >= strSize) continue;
      let end = strOff + nameOff;
      while (end < strOff + strSize && bytes[end] !== 0) end++;
      const name = new TextDecoder().decode(bytes.subarray(strOff + nameOff, end));
      out.set(name, dv.getBigUint64(s + 8, true));
    }
  }
  return out;
}

/** Builds the ramdisk image (docs/machine.md "Ramdisk"). */
export function buildRamdisk(programs: GuestProgram[]): Uint8Array {
  const names = new Set<string>();
  for (const p of programs) {
    const nb = new TextEncoder().encode(p.name);
    if (nb.length === 0 || nb.length > 47) throw new GuestLoadError(`program name "${p.name}" must be 1-47 bytes`);
    if (names.has(p.name)) throw new GuestLoadError(`program "${p.name}" given twice`);
    names.add(p.name);
  }
  let off = alignUp(16 + programs.length * 64, 16);
  const offsets: number[] = [];
  for (const p of programs) {
    offsets.push(off);
    off = alignUp(off + p.bytes.length, 16);
  }
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode('VMTRDSK1'), 0);
  dv.setUint32(8, programs.length, true);
  programs.forEach((p, i) => {
    const e = 16 + i * 64;
    out.set(new TextEncoder().encode(p.name), e);
    dv.setBigUint64(e + 48, BigInt(offsets[i]!), true);
    dv.setBigUint64(e + 56, BigInt(p.bytes.length), true);
    out.set(p.bytes, offsets[i]!);
  });
  return out;
}

/** Writes the whole boot image into `ram` (assumed zeroed) and returns the entry state. */
export function loadGuest(ram: Uint8Array, opts: LoadGuestOptions): LoadedGuest {
  const { memBytes } = opts;
  if (!Number.isInteger(memBytes) || memBytes < 4 << 20 || memBytes % PAGE !== 0) {
    throw new GuestLoadError(`memory size ${memBytes} must be a multiple of 4096 and at least 4 MiB`);
  }
  if (memBytes > Boot.maxMemBytes) throw new GuestLoadError(`memory size ${memBytes} exceeds the 1 GiB the boot mapping covers`);
  if (ram.length < memBytes) throw new GuestLoadError(`RAM buffer (${ram.length} bytes) smaller than memBytes (${memBytes})`);
  if (!Number.isInteger(opts.tscHz) || opts.tscHz <= 0) throw new GuestLoadError(`tscHz must be a positive integer`);
  if (!Number.isInteger(opts.diskSectors) || opts.diskSectors < 0) throw new GuestLoadError(`diskSectors must be >= 0`);

  const elf = parseElf64(opts.kernel, 'kernel');
  let kStart = Infinity;
  let kEnd = 0;
  for (const s of elf.segments) {
    if (s.paddr < Boot.kernelLoadMin) {
      throw new GuestLoadError(`kernel: segment at physical 0x${s.paddr.toString(16)} overlaps the boot area below 1 MiB`);
    }
    if (s.paddr + s.memsz > memBytes) throw new GuestLoadError(`kernel: segment at 0x${s.paddr.toString(16)} does not fit in memory`);
    kStart = Math.min(kStart, s.paddr);
    kEnd = Math.max(kEnd, s.paddr + s.memsz);
  }
  const sorted = [...elf.segments].sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.paddr < sorted[i - 1]!.paddr + sorted[i - 1]!.memsz) throw new GuestLoadError('kernel: PT_LOAD segments overlap');
  }
  for (const s of elf.segments) {
    ram.set(opts.kernel.subarray(s.offset, s.offset + s.filesz), s.paddr);
    ram.fill(0, s.paddr + s.filesz, s.paddr + s.memsz); // bss
  }

  const ramdisk = buildRamdisk(opts.programs);
  const ramdiskPhys = alignUp(kEnd, PAGE);
  const script = new TextEncoder().encode(opts.workloadScript);
  const workloadPhys = alignUp(ramdiskPhys + ramdisk.length, PAGE);
  const freePhys = alignUp(workloadPhys + script.length, PAGE);
  if (freePhys + (1 << 20) > memBytes) {
    throw new GuestLoadError(`kernel, ramdisk and workload (${freePhys} bytes) leave less than 1 MiB of ${memBytes} bytes free`);
  }
  ram.set(ramdisk, ramdiskPhys);
  ram.set(script, workloadPhys);

  // Boot page tables: PML4[0] -> identity 1 GiB page, PML4[511] -> PDPT[510] = 1 GiB page at physical 0.
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const PRESENT_RW = 0x3n;
  const PS = 0x80n;
  ram.fill(0, Boot.pml4, Boot.pdptHigh + PAGE);
  dv.setBigUint64(Boot.pml4 + 0 * 8, BigInt(Boot.pdptLow) | PRESENT_RW, true);
  dv.setBigUint64(Boot.pml4 + 511 * 8, BigInt(Boot.pdptHigh) | PRESENT_RW, true);
  dv.setBigUint64(Boot.pdptLow + 0 * 8, 0n | PRESENT_RW | PS, true);
  dv.setBigUint64(Boot.pdptHigh + 510 * 8, 0n | PRESENT_RW | PS, true);

  const seed = BigInt.asUintN(64, BigInt(opts.seed));
  const info = [
    Boot.magic, 1n, BigInt(memBytes), BigInt(kStart), BigInt(kEnd), BigInt(ramdiskPhys), BigInt(ramdisk.length),
    BigInt(workloadPhys), BigInt(script.length), BigInt(freePhys), BigInt(opts.tscHz), seed, BigInt(opts.diskSectors),
  ];
  ram.fill(0, Boot.bootInfo, Boot.bootInfo + PAGE);
  info.forEach((v, i) => dv.setBigUint64(Boot.bootInfo + i * 8, v, true));

  return {
    entry: elf.entry,
    rdi: Boot.kernelVirtBase + BigInt(Boot.bootInfo),
    rsp: Boot.kernelVirtBase + BigInt(Boot.stackTop),
    cr0: Boot.cr0,
    cr3: BigInt(Boot.pml4),
    cr4: Boot.cr4,
    efer: Boot.efer,
    rflags: Boot.rflags,
    bootInfoPhys: Boot.bootInfo,
    kernelPhysStart: kStart,
    kernelPhysEnd: kEnd,
    ramdiskPhys,
    ramdiskBytes: ramdisk.length,
    workloadPhys,
    workloadBytes: script.length,
    freePhys,
    symbols: elf.symbols,
  };
}
