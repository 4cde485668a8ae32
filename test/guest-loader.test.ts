// The boot protocol of docs/machine.md as loadGuest() lays it out, checked byte by byte, with binutils'
// readelf as the independent oracle for the ELF parsing where it is installed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GuestLoadError, buildRamdisk, loadGuest, parseElf64 } from '../src/hypervisor/loader.js';
import { getWorkload, guestDir, listWorkloads, loadOptions, workloadParams } from '../src/hypervisor/workloads.js';
import { UserError } from '../src/errors.js';

const kernelPath = join(guestDir(), 'images', 'kernel.elf');
const kernel = new Uint8Array(readFileSync(kernelPath));
const MEM = 64 << 20;

function haveReadelf(): boolean {
  try {
    execFileSync('readelf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function load(overrides: Partial<Parameters<typeof loadGuest>[1]> = {}) {
  const ram = new Uint8Array(MEM);
  const w = getWorkload('syscall');
  const info = loadGuest(ram, { ...loadOptions(w, 2_000_000_000), seed: 0x1122334455667788n, diskSectors: 77, ...overrides });
  return { ram, info, w, dv: new DataView(ram.buffer) };
}

describe('parseElf64', () => {
  it.skipIf(!haveReadelf())('agrees with readelf on the kernel program headers and entry', () => {
    const out = execFileSync('readelf', ['-lhW', kernelPath], { encoding: 'utf8' });
    const entry = /Entry point address:\s+(0x[0-9a-f]+)/.exec(out)![1]!;
    const loads = [...out.matchAll(/^\s+LOAD\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)/gm)].map((m) => ({
      offset: Number(m[1]),
      vaddr: BigInt(m[2]!),
      paddr: Number(m[3]),
      filesz: Number(m[4]),
      memsz: Number(m[5]),
    }));
    const elf = parseElf64(kernel, 'kernel');
    expect(elf.entry).toBe(BigInt(entry));
    expect(elf.segments.map(({ offset, vaddr, paddr, filesz, memsz }) => ({ offset, vaddr, paddr, filesz, memsz }))).toEqual(loads);
    const syms = execFileSync('nm', [kernelPath], { encoding: 'utf8' });
    const sysent = /^([0-9a-f]+) T syscall_entry$/m.exec(syms)![1]!;
    expect(elf.symbols.get('syscall_entry')).toBe(BigInt('0x' + sysent));
  });

  it('the kernel leaves at least 16 bytes of 0xCC before syscall_entry, which starts with a 3-byte SWAPGS', () => {
    // docs/machine.md "Syscall entry"; seed 004 6.2 ("Fill the Gap", "Double Instruction Swap")
    const elf = parseElf64(kernel, 'kernel');
    const va = elf.symbols.get('syscall_entry')!;
    expect(va).toBeDefined();
    const seg = elf.segments.find((s) => va >= s.vaddr && va < s.vaddr + BigInt(s.filesz))!;
    const off = seg.offset + Number(va - seg.vaddr);
    expect([...kernel.subarray(off - 16, off)]).toEqual(Array(16).fill(0xcc));
    expect([...kernel.subarray(off, off + 3)]).toEqual([0x0f, 0x01, 0xf8]);
  });

  it('rejects malformed images with a clear error', () => {
    const bad = (mut: (b: Uint8Array) => void, msg: RegExp) => {
      const b = kernel.slice();
      mut(b);
      expect(() => parseElf64(b, 'kernel')).toThrow(GuestLoadError);
      expect(() => parseElf64(b, 'kernel')).toThrow(msg);
    };
    bad((b) => (b[0] = 0), /bad magic/);
    bad((b) => (b[4] = 1), /64-bit/);
    bad((b) => (b[5] = 2), /little-endian/);
    bad((b) => (b[16] = 3), /not an executable/);
    bad((b) => (b[18] = 3), /not x86-64/);
    bad((b) => new DataView(b.buffer).setBigUint64(32, 1n << 40n, true), /program headers extend/);
    bad((b) => new DataView(b.buffer).setBigUint64(24, 0x1234n, true), /entry point/);
    expect(() => parseElf64(kernel.subarray(0, 10), 'kernel')).toThrow(/too short/);
    // a segment whose file bytes run past the end
    bad((b) => {
      const dv = new DataView(b.buffer);
      const phoff = Number(dv.getBigUint64(32, true));
      dv.setBigUint64(phoff + 32, BigInt(b.length * 2), true);
      dv.setBigUint64(phoff + 40, BigInt(b.length * 2), true);
    }, /past the end/);
  });
});

describe('loadGuest', () => {
  it('copies each PT_LOAD segment to its physical address and zeroes bss', () => {
    const { ram, info } = load();
    const elf = parseElf64(kernel, 'kernel');
    for (const s of elf.segments) {
      expect(Buffer.from(ram.subarray(s.paddr, s.paddr + s.filesz)).equals(Buffer.from(kernel.subarray(s.offset, s.offset + s.filesz)))).toBe(true);
      expect(ram.subarray(s.paddr + s.filesz, s.paddr + s.memsz).every((x) => x === 0)).toBe(true);
    }
    expect(info.kernelPhysStart).toBe(0x100000);
    expect(info.entry).toBe(elf.entry);
    expect(info.entry).toBe(0xffffffff80100000n);
  });

  it('builds the boot page tables of docs/machine.md', () => {
    const { dv, info } = load();
    expect(info.cr3).toBe(0x1000n);
    expect(dv.getBigUint64(0x1000, true)).toBe(0x2003n);
    expect(dv.getBigUint64(0x1000 + 511 * 8, true)).toBe(0x3003n);
    expect(dv.getBigUint64(0x2000, true)).toBe(0x83n); // 1 GiB page at 0, present, writable, supervisor
    expect(dv.getBigUint64(0x3000 + 510 * 8, true)).toBe(0x83n);
    // nothing else mapped
    let others = 0;
    for (let a = 0x1000; a < 0x4000; a += 8) if (dv.getBigUint64(a, true) !== 0n) others++;
    expect(others).toBe(4);
    // walk 0xffffffff80007000 by hand: it must land on physical 0x7000
    const va = 0xffffffff80007000n;
    const pml4e = dv.getBigUint64(0x1000 + Number((va >> 39n) & 511n) * 8, true);
    const pdpte = dv.getBigUint64(Number(pml4e & ~0xfffn) + Number((va >> 30n) & 511n) * 8, true);
    expect(pdpte & 0x80n).toBe(0x80n);
    expect((pdpte & ~0xfffn) + (va & 0x3fffffffn)).toBe(0x7000n);
    expect(info.rdi).toBe(va);
    expect(info.rsp).toBe(0xffffffff80010000n);
    expect([info.cr0, info.cr4, info.efer, info.rflags]).toEqual([0x80010033n, 0x20n, 0xd00n, 0x2n]);
  });

  it('writes boot_info, the ramdisk and the workload script where boot_info says', () => {
    const { ram, dv, info, w } = load();
    const f = (i: number) => dv.getBigUint64(0x7000 + i * 8, true);
    expect(Buffer.from(ram.subarray(0x7000, 0x7008)).toString('latin1')).toBe('VMTRBOT1');
    expect(f(1)).toBe(1n);
    expect(f(2)).toBe(BigInt(MEM));
    expect(f(3)).toBe(0x100000n);
    expect(f(4)).toBe(BigInt(info.kernelPhysEnd));
    expect(f(5)).toBe(BigInt(info.ramdiskPhys));
    expect(f(6)).toBe(BigInt(info.ramdiskBytes));
    expect(f(7)).toBe(BigInt(info.workloadPhys));
    expect(f(8)).toBe(BigInt(info.workloadBytes));
    expect(f(9)).toBe(BigInt(info.freePhys));
    expect(f(10)).toBe(2_000_000_000n);
    expect(f(11)).toBe(0x1122334455667788n);
    expect(f(12)).toBe(77n);
    expect(info.ramdiskPhys % 4096).toBe(0);
    expect(info.ramdiskPhys).toBeGreaterThanOrEqual(info.kernelPhysEnd);
    expect(info.workloadPhys % 4096).toBe(0);
    expect(info.freePhys % 4096).toBe(0);
    expect(info.freePhys).toBeGreaterThanOrEqual(info.workloadPhys + info.workloadBytes);
    expect(new TextDecoder().decode(ram.subarray(info.workloadPhys, info.workloadPhys + info.workloadBytes))).toBe(w.script);
    // ramdisk: header, entries, 16-byte aligned files identical to the ELF images
    const rd = info.ramdiskPhys;
    expect(Buffer.from(ram.subarray(rd, rd + 8)).toString('latin1')).toBe('VMTRDSK1');
    expect(dv.getUint32(rd + 8, true)).toBe(w.programs.length);
    w.programs.forEach((p, i) => {
      const e = rd + 16 + i * 64;
      const name = Buffer.from(ram.subarray(e, e + 48)).toString('latin1').replace(/\0+$/, '');
      const off = Number(dv.getBigUint64(e + 48, true));
      const size = Number(dv.getBigUint64(e + 56, true));
      expect(name).toBe(p.name);
      expect(off % 16).toBe(0);
      expect(size).toBe(p.bytes.length);
      expect(Buffer.from(ram.subarray(rd + off, rd + off + size)).equals(Buffer.from(p.bytes))).toBe(true);
    });
  });

  it('rejects layouts that do not fit', () => {
    expect(() => load({ memBytes: 2 * 2 ** 30 })).toThrow(/1 GiB/);
    expect(() => load({ memBytes: 12345 })).toThrow(/multiple of 4096/);
    expect(() => buildRamdisk([{ name: 'x'.repeat(48), bytes: new Uint8Array(1) }])).toThrow(/1-47 bytes/);
    expect(() => buildRamdisk([{ name: 'a', bytes: new Uint8Array(1) }, { name: 'a', bytes: new Uint8Array(1) }])).toThrow(/twice/);
    const big = new Uint8Array(5 << 20);
    expect(() => load({ memBytes: 4 << 20, programs: [{ name: 'big', bytes: big }] })).toThrow(/less than 1 MiB/);
  });
});

describe('workloads', () => {
  it('lists the named workloads with descriptions', () => {
    const names = listWorkloads().map((w) => w.name);
    for (const n of ['syscall', 'pipe', 'spawn', 'execl', 'fcopy', 'shell', 'dhrystone', 'threads', 'server', 'mixed']) {
      expect(names).toContain(n);
    }
    for (const w of listWorkloads()) expect(w.description.length).toBeGreaterThan(10);
  });

  it('gives a clear error for unknown names and parameters', () => {
    expect(() => getWorkload('nosuch')).toThrow(/unknown workload "nosuch".*known: .*syscall/);
    expect(() => getWorkload('fcopy:bogus=1')).toThrow(/unknown parameter "bogus"/);
    expect(() => getWorkload('./does/not/exist.json')).toThrow(/does not exist/);
  });

  it('every workload declares its parameters with ranges, and a value outside them is a usage error', () => {
    for (const w of listWorkloads()) {
      for (const [k, p] of workloadParams(w.name)) {
        expect(p.about.length, `${w.name}:${k}`).toBeGreaterThan(3);
        if (p.type === 'int') expect(p.max, `${w.name}:${k}`).toBeLessThan(2 ** 31);
      }
    }
    for (const bad of ['fcopy:buf=-1', 'fcopy:buf=abc', 'fcopy:buf=', 'fcopy:buf=0', 'fcopy:buf=65537', 'fcopy:buf=1e30', 'dhrystone:runs=1e30',
      'dhrystone:runs=1.5', 'syscall:n=0x10', 'linux:run=../x', 'syscall:seed=-1', 'syscall:seed=4294967296']) {
      expect(() => getWorkload(bad), bad).toThrow(UserError);
    }
    expect(() => getWorkload('fcopy:buf=-1')).toThrow('workload fcopy: parameter buf="-1": expected an integer from 1 to 65536');
    // Counts are written as everywhere else, and substituted as plain decimals (the guest's atol reads "4k" as 4).
    expect(getWorkload('fcopy:buf=4k').script).toContain('fcopy -b 4000 ');
    expect(getWorkload('dhrystone:runs=1_000').script).toContain('run dhry 1000\n');
  });

  it('substitutes parameters and builds a VMTRFS1 disk', () => {
    const w = getWorkload('fcopy:buf=4096');
    expect(w.script).toContain('fcopy -b 4096');
    expect(w.diskSectors).toBe(4096);
    expect(Buffer.from(w.disk.subarray(0, 7)).toString('latin1')).toBe('VMTRFS1');
    const dv = new DataView(w.disk.buffer, w.disk.byteOffset);
    expect(dv.getUint32(8, true)).toBe(1);
    expect(Buffer.from(w.disk.subarray(16, 19)).toString('latin1')).toBe('src');
    expect(dv.getUint32(16 + 32, true)).toBe(1); // start
    expect(dv.getUint32(16 + 40, true)).toBe(Number(w.params.size));
  });

  it('generates the same packet schedule for the same seed and a different one for another', () => {
    const a = getWorkload('server');
    const b = getWorkload('server');
    const c = getWorkload('server:seed=2');
    expect(a.packets.length).toBe(Number(a.params.count) + 1);
    expect(a.packets.map((p) => Buffer.from(p.bytes).toString('latin1'))).toEqual(b.packets.map((p) => Buffer.from(p.bytes).toString('latin1')));
    expect(a.packets.map((p) => Buffer.from(p.bytes).toString('latin1'))).not.toEqual(c.packets.map((p) => Buffer.from(p.bytes).toString('latin1')));
    for (let i = 1; i < a.packets.length; i++) expect(a.packets[i]!.icount).toBeGreaterThan(a.packets[i - 1]!.icount);
    expect(Buffer.from(a.packets.at(-1)!.bytes.subarray(8)).toString('latin1')).toBe('quit\r\n');
  });
});
