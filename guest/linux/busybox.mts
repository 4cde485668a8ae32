// Debian's busybox-static in the Linux initramfs (guest/linux/README.md "busybox"): the package is pinned by
// version and sha256 like the kernel (fetch.sh), and so is the binary taken from it. Where the binary comes
// from, first found: the committed initramfs (guest/images/linux/initramfs.cpio holds the pinned binary, so a
// checkout rebuilds without downloading anything), the package in CACHE_DIR, `apt-get download` into
// CACHE_DIR (the archive keeps only recent versions: the committed initramfs is the reference).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNewc } from './cpio.mjs';

export const BUSYBOX = {
  package: 'busybox-static',
  version: '1:1.35.0-4+deb12u1+b1',
  /** apt-get download's file name (the epoch's colon escaped). */
  deb: 'busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb',
  debSha256: '3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744',
  /** ./bin/busybox in the package: static, glibc 2.36, x86-64. */
  sha256: '3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6',
  /** Its version line (`busybox --help`). */
  banner: 'BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.',
} as const;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The pinned /bin/busybox: from the committed initramfs `committed` if it holds it, else from the package. */
export function fetchBusybox(cacheDir: string, committed: string): Uint8Array {
  if (existsSync(committed)) {
    const b = readNewc(readFileSync(committed)).get('bin/busybox');
    if (b && sha256(b) === BUSYBOX.sha256) return b;
  }
  const deb = join(cacheDir, BUSYBOX.deb);
  if (!existsSync(deb)) {
    mkdirSync(cacheDir, { recursive: true });
    try {
      execFileSync('apt-get', ['download', `${BUSYBOX.package}=${BUSYBOX.version}`], { cwd: cacheDir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new Error(`busybox: ${BUSYBOX.package} ${BUSYBOX.version} is not in ${cacheDir} and apt-get download failed (${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (sha256(readFileSync(deb)) !== BUSYBOX.debSha256) throw new Error(`busybox: ${deb}: wrong sha256`);
  const tmp = mkdtempSync(join(tmpdir(), 'vmtrace-busybox-'));
  try {
    execFileSync('dpkg-deb', ['-x', deb, tmp]);
    const b = new Uint8Array(readFileSync(join(tmp, 'bin', 'busybox')));
    if (sha256(b) !== BUSYBOX.sha256) throw new Error(`busybox: bin/busybox in ${deb}: wrong sha256`);
    return b;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
