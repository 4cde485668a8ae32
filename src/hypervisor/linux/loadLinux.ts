// Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): the vmlinux
// program segments at their physical addresses, a boot_params "zero page" (zero-page.rst) holding the
// bzImage's setup header, an e820 map, the command line and the initrd location, and the CPU in 64-bit mode
// with an identity map covering all of them, a GDT with __BOOT_CS (0x10, 64-bit code) and __BOOT_DS (0x18),
// interrupts off, RSI = the boot_params address, RIP = startup_64 (the vmlinux's e_entry, physical).

import type { Cpu } from '../../emulator/cpu/Cpu.js';
import { GuestLoadError, parseElf64, type LoadedGuest } from '../loader.js';
import { Hdr, type BzImage } from './bzImage.js';

/** Physical layout of what the loader builds below 1 MiB (the kernel reserves that range itself). */
export const LinuxBoot = {
  pml4: 0x1000,
  /** PDPT identity-mapping 0-4 GiB with 1 GiB pages (and, from 0x3000, 2 MiB-page directories; see below). */
  pdpt: 0x2000,
  gdt: 0x5000,
  bootParams: 0x7000,
  cmdline: 0x20000,
  bootCs: 0x10,
  bootDs: 0x18,
  /** CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA (the kernel sets SCE/NXE itself). */
  cr0: 0x80050033n,
  cr4: 0x20n,
  efer: 0x500n,
  rflags: 0x2n,
  /** The e820 map: low RAM below the EBDA, then RAM from 1 MiB (QEMU's map for a machine this size). */
  lowRamEnd: 0x9fc00,
  highRamStart: 0x100000,
} as const;

/** boot_params field offsets (zero-page.rst). */
const Zp = { e820Entries: 0x1e8, sentinel: 0x1ef, e820Table: 0x2d0, e820Max: 128, extRamdiskImage: 0x0c0, extRamdiskSize: 0x0c4, extCmdLinePtr: 0x0c8 } as const;

export const E820 = { ram: 1, reserved: 2 } as const;

export interface LinuxLoadOptions {
  bz: BzImage;
  vmlinux: Uint8Array;
  initramfs: Uint8Array;
  cmdline: string;
  memBytes: number;
}

export interface LoadedLinux extends LoadedGuest {
  rsi: bigint;
  cs: number;
  ds: number;
  gdtBase: number;
  gdtLimit: number;
  initrdPhys: number;
  cmdlinePhys: number;
  /** The command line as loaded. */
  cmdline: string;
  e820: Array<{ addr: number; size: number; type: number }>;
}

const PAGE = 4096;

/** Check that an initramfs is a whole cpio "newc" archive (optionally gzip/xz/zstd compressed as a whole). */
export function checkInitramfs(b: Uint8Array): void {
  if (b.length === 0) throw new GuestLoadError('initramfs: empty');
  if (b[0] === 0x1f && b[1] === 0x8b) return; // gzip: the kernel checks its CRC and length
  if (b[0] === 0xfd && b[1] === 0x37) return; // xz
  if (b[0] === 0x28 && b[1] === 0xb5) return; // zstd
  const text = (o: number, n: number): string => Buffer.from(b.subarray(o, o + n)).toString('latin1');
  let o = 0;
  for (;;) {
    if (o + 110 > b.length) throw new GuestLoadError(`initramfs: truncated cpio archive (header at byte ${o} of ${b.length})`);
    const magic = text(o, 6);
    if (magic !== '070701' && magic !== '070702') throw new GuestLoadError(`initramfs: not a cpio newc archive (magic "${magic}" at byte ${o})`);
    const filesize = parseInt(text(o + 54, 8), 16);
    const namesize = parseInt(text(o + 94, 8), 16);
    if (!Number.isFinite(filesize) || !Number.isFinite(namesize) || namesize < 1) throw new GuestLoadError(`initramfs: damaged cpio header at byte ${o}`);
    const name = text(o + 110, namesize - 1);
    const dataAt = (o + 110 + namesize + 3) & ~3;
    const end = (dataAt + filesize + 3) & ~3;
    if (dataAt + filesize > b.length) throw new GuestLoadError(`initramfs: truncated cpio archive (${name} needs ${filesize} bytes at ${dataAt}, archive has ${b.length})`);
    if (name === 'TRAILER!!!') return;
    o = end;
  }
}

/** Write the vmlinux, boot_params, command line, initrd, page tables and GDT into `ram`; return the entry state. */
export function loadLinux(ram: Uint8Array, o: LinuxLoadOptions): LoadedLinux {
  const { bz, memBytes } = o;
  if (!Number.isInteger(memBytes) || memBytes % (2 << 20) !== 0 || memBytes < 64 << 20) {
    throw new GuestLoadError(`Linux guest memory ${memBytes} must be a multiple of 2 MiB and at least 64 MiB`);
  }
  if (ram.length < memBytes) throw new GuestLoadError(`RAM buffer (${ram.length} bytes) smaller than memBytes (${memBytes})`);
  const elf = parseElf64(o.vmlinux, 'vmlinux', { physicalEntry: true });
  let kStart = Infinity;
  let kEnd = 0;
  for (const s of elf.segments) {
    if (s.paddr < LinuxBoot.highRamStart) throw new GuestLoadError(`vmlinux: segment at physical 0x${s.paddr.toString(16)} is below 1 MiB`);
    kStart = Math.min(kStart, s.paddr);
    kEnd = Math.max(kEnd, s.paddr + s.memsz);
  }
  // The kernel uses init_size bytes from its load address during boot (boot.rst: init_size).
  const kReserveEnd = Math.max(kEnd, kStart + bz.initSize);
  if (kReserveEnd > memBytes) throw new GuestLoadError(`vmlinux needs memory up to 0x${kReserveEnd.toString(16)}, more than ${memBytes} bytes`);
  for (const s of elf.segments) {
    ram.set(o.vmlinux.subarray(s.offset, s.offset + s.filesz), s.paddr);
    ram.fill(0, s.paddr + s.filesz, s.paddr + s.memsz);
  }

  // Command line (boot.rst: NUL-terminated, at most cmdline_size bytes without the NUL, below 4 GiB).
  const cmd = new TextEncoder().encode(o.cmdline);
  if (cmd.includes(0)) throw new GuestLoadError('the kernel command line contains a NUL byte');
  if (cmd.length > bz.cmdlineSize) throw new GuestLoadError(`the kernel command line is ${cmd.length} bytes; this kernel accepts at most ${bz.cmdlineSize}`);
  if (LinuxBoot.cmdline + cmd.length + 1 > LinuxBoot.lowRamEnd) throw new GuestLoadError(`the kernel command line (${cmd.length} bytes) does not fit below the EBDA`);
  ram.fill(0, LinuxBoot.cmdline, LinuxBoot.cmdline + cmd.length + 1);
  ram.set(cmd, LinuxBoot.cmdline);

  // The initrd goes at the top of RAM, page aligned, below initrd_addr_max (boot.rst).
  checkInitramfs(o.initramfs);
  const top = Math.min(memBytes, bz.initrdAddrMax + 1);
  const initrdPhys = Math.floor((top - o.initramfs.length) / PAGE) * PAGE;
  if (initrdPhys < Math.ceil(kReserveEnd / PAGE) * PAGE) {
    throw new GuestLoadError(`initramfs (${o.initramfs.length} bytes) does not fit between the kernel (up to 0x${kReserveEnd.toString(16)}) and the end of memory (${memBytes} bytes)`);
  }
  ram.set(o.initramfs, initrdPhys);

  // boot_params: zeroed, then the setup header from the image, then what the loader must fill in.
  const bp = LinuxBoot.bootParams;
  ram.fill(0, bp, bp + PAGE);
  ram.set(bz.setupHeader, bp + Hdr.setupSects);
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram[bp + Hdr.typeOfLoader] = 0xff; // undefined boot loader (boot.rst: type_of_loader)
  ram[bp + Hdr.loadflags] |= 0x01; // LOADED_HIGH; no CAN_USE_HEAP: there is no real-mode setup
  dv.setUint32(bp + Hdr.ramdiskImage, initrdPhys, true);
  dv.setUint32(bp + Hdr.ramdiskSize, o.initramfs.length, true);
  dv.setUint32(bp + Hdr.cmdLinePtr, LinuxBoot.cmdline, true);
  dv.setUint32(bp + Zp.extRamdiskImage, 0, true);
  dv.setUint32(bp + Zp.extRamdiskSize, 0, true);
  dv.setUint32(bp + Zp.extCmdLinePtr, 0, true);
  const e820 = [
    { addr: 0, size: LinuxBoot.lowRamEnd, type: E820.ram },
    { addr: LinuxBoot.lowRamEnd, size: 0xa0000 - LinuxBoot.lowRamEnd, type: E820.reserved },
    { addr: 0xf0000, size: 0x10000, type: E820.reserved },
    { addr: LinuxBoot.highRamStart, size: memBytes - LinuxBoot.highRamStart, type: E820.ram },
  ];
  ram[bp + Zp.e820Entries] = e820.length;
  e820.forEach((e, i) => {
    const at = bp + Zp.e820Table + i * 20;
    dv.setBigUint64(at, BigInt(e.addr), true);
    dv.setBigUint64(at + 8, BigInt(e.size), true);
    dv.setUint32(at + 16, e.type, true);
  });

  // Identity map of 0-4 GiB with 1 GiB pages (the kernel builds its own tables at once; it only needs
  // itself, boot_params, the command line and the initrd mapped while it does).
  ram.fill(0, LinuxBoot.pml4, LinuxBoot.pdpt + PAGE);
  dv.setBigUint64(LinuxBoot.pml4, BigInt(LinuxBoot.pdpt) | 0x3n, true);
  for (let g = 0; g < 4; g++) dv.setBigUint64(LinuxBoot.pdpt + g * 8, (BigInt(g) << 30n) | 0x83n, true);

  // GDT: null, null, __BOOT_CS = 64-bit code DPL 0, __BOOT_DS = data (boot.rst: "__BOOT_CS(0x10) ... __BOOT_DS(0x18)").
  const gdt = [0n, 0n, 0x00af9a000000ffffn, 0x00cf92000000ffffn];
  gdt.forEach((d, i) => dv.setBigUint64(LinuxBoot.gdt + i * 8, d, true));

  return {
    entry: elf.entry,
    rdi: 0n,
    rsi: BigInt(bp),
    rsp: 0n,
    cr0: LinuxBoot.cr0,
    cr3: BigInt(LinuxBoot.pml4),
    cr4: LinuxBoot.cr4,
    efer: LinuxBoot.efer,
    rflags: LinuxBoot.rflags,
    cs: LinuxBoot.bootCs,
    ds: LinuxBoot.bootDs,
    gdtBase: LinuxBoot.gdt,
    gdtLimit: gdt.length * 8 - 1,
    bootInfoPhys: bp,
    kernelPhysStart: kStart,
    kernelPhysEnd: kEnd,
    ramdiskPhys: initrdPhys,
    ramdiskBytes: o.initramfs.length,
    initrdPhys,
    cmdlinePhys: LinuxBoot.cmdline,
    cmdline: o.cmdline,
    workloadPhys: LinuxBoot.cmdline,
    workloadBytes: cmd.length,
    freePhys: Math.ceil(kReserveEnd / PAGE) * PAGE,
    symbols: elf.symbols,
    e820,
  };
}

/** Put the CPU in the state the 64-bit boot protocol promises at startup_64 (see the top of this file). */
export function enterLinux(cpu: Cpu, g: LoadedLinux): void {
  cpu.cr0 = Number(g.cr0) | 0;
  cpu.cr4 = Number(g.cr4);
  cpu.efer = Number(g.efer);
  cpu.setCpl(0);
  cpu.cs = g.cs;
  cpu.ss = cpu.ds = cpu.es = cpu.fsSel = cpu.gsSel = g.ds;
  cpu.gdtrBaseLo = g.gdtBase;
  cpu.gdtrBaseHi = 0;
  cpu.gdtrLimit = g.gdtLimit;
  cpu.idtrBaseLo = 0;
  cpu.idtrBaseHi = 0;
  cpu.idtrLimit = 0;
  cpu.syncPaging();
  cpu.setCr3(Number(g.cr3));
  cpu.setRflags(Number(g.rflags));
  for (let r = 0; r < 16; r++) cpu.setReg(r, 0n);
  cpu.setReg(6, g.rsi);
  cpu.setRip(g.entry);
}
