// The Linux guest's vmlinux for tests: the committed Debian bzImage's xz payload (located by the setup
// header's payload_offset/payload_length, Documentation/arch/x86/boot.rst) decompressed by the system's
// `xz` (xz-utils), checked against the sha256 the image manifest records, cached in the OS temp directory.
// Independent of the loader's own unpacking (src/hypervisor/linux), which the boot tests check.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const IMAGES = join(import.meta.dirname, '..', '..', 'guest', 'images', 'linux');

export interface LinuxImageManifest {
  kernel: { path: string; sha256: string; version: string; vmlinuxSha256: string };
  cmdline: string;
  initramfs: { path: string };
}

export function linuxManifest(): LinuxImageManifest {
  return JSON.parse(readFileSync(join(IMAGES, 'manifest.json'), 'utf8')) as LinuxImageManifest;
}

/** null when it can be had, else why not (for a skip message). */
export function vmlinuxUnavailable(): string | null {
  if (!existsSync(join(IMAGES, 'manifest.json'))) return 'no Linux guest image under guest/images/linux';
  try {
    execFileSync('xz', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the `xz` command (Debian package xz-utils) is not installed';
  }
  return null;
}

let cached: Uint8Array | undefined;

/** Where loadVmlinux() keeps the extracted file (QEMU boots it: test/helpers/linuxQemu.ts). */
export function vmlinuxPath(): string {
  const cache = join(tmpdir(), `vmtrace-vmlinux-${linuxManifest().kernel.vmlinuxSha256}`);
  if (!existsSync(cache)) loadVmlinux();
  return cache;
}

export function loadVmlinux(): Uint8Array {
  if (cached) return cached;
  const m = linuxManifest();
  const cache = join(tmpdir(), `vmtrace-vmlinux-${m.kernel.vmlinuxSha256}`);
  if (existsSync(cache)) {
    cached = readFileSync(cache);
    return cached;
  }
  const bz = readFileSync(join(IMAGES, m.kernel.path));
  const setupSects = bz[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + bz.readUInt32LE(0x248);
  const payload = bz.subarray(start, start + bz.readUInt32LE(0x24c));
  const out = execFileSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: 256 * 1024 * 1024 });
  const sha = createHash('sha256').update(out).digest('hex');
  if (sha !== m.kernel.vmlinuxSha256) throw new Error(`vmlinux from ${m.kernel.path}: sha256 ${sha}, manifest says ${m.kernel.vmlinuxSha256}`);
  writeFileSync(`${cache}.tmp`, out);
  renameSync(`${cache}.tmp`, cache);
  cached = out;
  return out;
}
