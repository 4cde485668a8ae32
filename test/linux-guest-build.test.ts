// The Linux guest's initramfs is reproducible: `make -C guest linux` into a temporary directory (the committed
// kernel and config copied there, so nothing is downloaded) rebuilds initramfs.cpio and manifest.json byte for
// byte. Only meaningful with the toolchain of guest/images/TOOLCHAIN (as test/guest-build.test.ts); skipped with
// a message otherwise.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestDir } from '../src/hypervisor/workloads.js';

const gdir = guestDir();
const images = join(gdir, 'images', 'linux');
const recorded = readFileSync(join(gdir, 'images', 'TOOLCHAIN'), 'utf8');

function toolchain(): string | null {
  try {
    const gcc = execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    const ld = execFileSync('ld', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    execFileSync('make', ['--version'], { stdio: 'ignore' });
    execFileSync('sha256sum', ['--version'], { stdio: 'ignore' });
    return `${gcc}\n${ld}\n`;
  } catch {
    return null;
  }
}

const have = toolchain();
const reason =
  have === null ? 'gcc, ld, make or sha256sum not installed'
  : have !== recorded ? `toolchain differs from the one recorded in guest/images/TOOLCHAIN (have: ${have.trim().replace('\n', ' / ')})`
  : null;
if (reason !== null) console.warn(`Linux guest reproducible-build test skipped: ${reason}`);

describe.skipIf(reason !== null)('Linux guest build', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vmtrace-linux-guest-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('rebuilds a byte-identical initramfs and manifest', () => {
    const out = join(tmp, 'linux');
    mkdirSync(out);
    const m = JSON.parse(readFileSync(join(images, 'manifest.json'), 'utf8')) as { kernel: { path: string }; config: string };
    for (const f of [m.kernel.path, m.config]) copyFileSync(join(images, f), join(out, f));
    execFileSync('make', ['-s', '-C', gdir, `BUILD=${join(tmp, 'build')}`, `LINUX_OUT=${out}`, `LINUX_CACHE=${join(tmp, 'deb')}`, 'linux'], { stdio: 'pipe' });
    for (const f of ['initramfs.cpio', 'manifest.json']) {
      expect(readFileSync(join(out, f)).equals(readFileSync(join(images, f))), `${f} differs from the committed one`).toBe(true);
    }
  }, 180_000);
});

describe('Linux guest images', () => {
  it('manifest.json describes the committed files (sha256, sizes) and the boot-protocol header of the kernel', () => {
    const m = JSON.parse(readFileSync(join(images, 'manifest.json'), 'utf8')) as {
      package: { version: string };
      kernel: { path: string; sha256: string; bytes: number };
      initramfs: { path: string; sha256: string; bytes: number };
      cmdline: string;
      workloads: Record<string, unknown>;
    };
    for (const f of [m.kernel, m.initramfs]) {
      const b = readFileSync(join(images, f.path));
      expect(b.length, f.path).toBe(f.bytes);
      expect(createHash('sha256').update(b).digest('hex'), f.path).toBe(f.sha256);
    }
    expect(m.package.version).toBe('6.1.192-3');
    // Boot protocol (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, version 2.15, xz payload.
    const bz = readFileSync(join(images, m.kernel.path));
    expect(bz.toString('latin1', 0x202, 0x206)).toBe('HdrS');
    expect(bz.readUInt16LE(0x206)).toBe(0x20f);
    const start = (bz[0x1f1]! + 1) * 512 + bz.readUInt32LE(0x248);
    expect([...bz.subarray(start, start + 6)]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
    // The initramfs is a newc archive holding /init and a script per workload.
    const cpio = readFileSync(join(images, m.initramfs.path)).toString('latin1');
    expect(cpio.startsWith('070701')).toBe(true);
    expect(cpio).toContain('TRAILER!!!');
    for (const name of ['init\0', ...Object.keys(m.workloads).map((w) => `workloads/${w}\0`)]) expect(cpio).toContain(name);
    expect(m.cmdline).toContain('console=ttyS0');
  });
});
