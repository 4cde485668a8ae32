// The Linux boot entry (src/hypervisor/linux): the committed Debian bzImage unpacked and entered at
// startup_64 with the 64-bit boot protocol. Oracles: the package's own bytes (the vmlinux sha256 the image
// manifest records, produced by xz-utils), and the kernel itself, which prints what it found in boot_params
// (version, command line, the e820 map) on its early console.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Machine, StopReason } from '../src/emulator/machine.js';
import { NO_EXIT } from '../src/emulator/vmx/Vmcs.js';
import { linuxCpuid } from '../src/emulator/cpu/cpuModel.js';
import { parseBzImage } from '../src/hypervisor/linux/bzImage.js';
import { unpackVmlinux } from '../src/hypervisor/linux/unpack.js';
import { checkInitramfs, enterLinux, loadLinux } from '../src/hypervisor/linux/loadLinux.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import type { Workload } from '../src/hypervisor/workloads.js';

const IMAGES = join(import.meta.dirname, '..', 'guest', 'images', 'linux');
const haveImage = existsSync(join(IMAGES, 'manifest.json'));
const manifest = haveImage
  ? (JSON.parse(readFileSync(join(IMAGES, 'manifest.json'), 'utf8')) as {
    kernel: { path: string; version: string; vmlinuxSha256: string }; cmdline: string; initramfs: { path: string };
  })
  : null;
const describeImage = haveImage ? describe : describe.skip;
if (!haveImage) console.warn('linux-boot tests skipped: no Linux guest image under guest/images/linux (make -C guest linux)');

const vmlinuz = (): Uint8Array => new Uint8Array(readFileSync(join(IMAGES, manifest!.kernel.path)));
const initramfs = (): Uint8Array => new Uint8Array(readFileSync(join(IMAGES, manifest!.initramfs.path)));

describeImage('Linux bzImage and loader', () => {
  it('reads the setup header and unpacks the vmlinux the package ships (sha256 as xz-utils produces it)', async () => {
    const bz = parseBzImage(vmlinuz());
    expect(bz.protocol).toBe(0x20f);
    expect(bz.payloadFormat).toBe('xz');
    expect(manifest!.kernel.version.startsWith(`Linux version ${bz.version.split(' ')[0]} `)).toBe(true);
    const vmlinux = await unpackVmlinux(bz);
    expect(createHash('sha256').update(vmlinux).digest('hex')).toBe(manifest!.kernel.vmlinuxSha256);
  }, 120_000);

  it('refuses what is not a kernel, a truncated image or initramfs, and a command line it cannot place', async () => {
    const toy = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'guest', 'images', 'kernel.elf')));
    expect(() => parseBzImage(toy)).toThrow(/not a Linux bzImage/);
    expect(() => parseBzImage(vmlinuz().subarray(0, 1 << 20))).toThrow(/extends past the end of the file \(truncated image\?\)/);
    const cpio = initramfs();
    expect(() => checkInitramfs(cpio)).not.toThrow();
    expect(() => checkInitramfs(cpio.subarray(0, cpio.length >> 1))).toThrow(/initramfs: truncated cpio archive/);
    expect(() => checkInitramfs(new TextEncoder().encode('hello world, not an archive at all'.repeat(5)))).toThrow(/not a cpio newc archive/);
    const bz = parseBzImage(vmlinuz());
    const vmlinux = await unpackVmlinux(bz);
    const ram = new Uint8Array(128 << 20);
    expect(() => loadLinux(ram, { bz, vmlinux, initramfs: cpio, cmdline: 'x'.repeat(bz.cmdlineSize + 1), memBytes: 128 << 20 }))
      .toThrow(/command line is \d+ bytes; this kernel accepts at most 2047/);
    expect(() => loadLinux(ram, { bz, vmlinux, initramfs: cpio, cmdline: 'console=ttyS0', memBytes: 64 << 20 }))
      .toThrow(/vmlinux needs memory up to/);
  }, 120_000);
});

describeImage('Linux boot on the emulated machine', () => {
  it('the kernel starts at startup_64 and prints on its early console what boot_params gave it', async () => {
    const bz = parseBzImage(vmlinuz());
    const vmlinux = await unpackVmlinux(bz);
    const mem = 256 << 20;
    const m = new Machine(null as never, {
      // tscHz: the guest time the PIT and RTC count (1 GHz, as the command line's tsc_early_khz says).
      memoryBytes: mem, cyclesPerInstruction: 1, tscHz: 1_000_000_000, cpuid: linuxCpuid(),
      policy: { instructionExitReason: () => NO_EXIT, exceptionExits: () => false, externalInterruptExiting: false },
      costModel: { exitCost: () => 0 },
      maxInstructions: 60_000_000,
    });
    m.env = new LiveEnvironment(m, { disk: new Uint8Array(0), diskSectors: 0, packets: [] } as unknown as Workload);
    const cmdline = `${manifest!.cmdline} earlyprintk=serial,ttyS0,115200`;
    const g = loadLinux(m.cpu.mmu.u8, { bz, vmlinux, initramfs: initramfs(), cmdline, memBytes: mem });
    enterLinux(m.cpu, g);
    let r;
    do r = m.run(m.cpu.icount + 1_000_000);
    while (r.reason === StopReason.paused && !m.consoleText().includes('NX (Execute Disable) protection: active'));
    const lines = m.consoleText().split(/\r?\n/).map((l) => l.replace(/^\[\s*\d+\.\d+\] /, ''));
    expect(lines).toContain(manifest!.kernel.version);
    expect(lines).toContain(`Command line: ${cmdline}`);
    // The kernel's own print-out of the e820 table the loader wrote (arch/x86/kernel/e820.c format).
    const e820 = lines.filter((l) => l.startsWith('BIOS-e820: '));
    expect(e820).toEqual(g.e820.map((e) => `BIOS-e820: [mem 0x${e.addr.toString(16).padStart(16, '0')}-0x${(e.addr + e.size - 1).toString(16).padStart(16, '0')}] ${e.type === 1 ? 'usable' : 'reserved'}`));
    expect(lines).toContain('NX (Execute Disable) protection: active');
  }, 600_000);
});
