// Unpack the vmlinux a bzImage carries. Debian's kernels are CONFIG_KERNEL_XZ with the x86 BCJ filter
// (`xz --check=crc32 --x86 --lzma2`), so the decompressor must implement BCJ: lzma-native binds liblzma
// itself (the reference implementation). The 66 MB result takes ~3 s to produce, so it is cached on disk by
// the payload's SHA-256 (outside any trace: the bytes are the same wherever they are unpacked).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GuestLoadError } from '../loader.js';
import type { BzImage } from './bzImage.js';

interface LzmaNative {
  decompress(buf: Buffer, opts: Record<string, unknown>, cb: (out: Buffer | undefined, err?: Error) => void): void;
}

/** Where unpacked kernels are kept: $VMTRACE_CACHE, else ~/.cache/vmtrace. */
export function cacheDir(): string {
  return process.env.VMTRACE_CACHE ?? join(homedir(), '.cache', 'vmtrace');
}

function decompressXz(payload: Uint8Array): Promise<Buffer> {
  const lzma = createRequire(import.meta.url)('lzma-native') as LzmaNative;
  return new Promise((resolve, reject) => {
    lzma.decompress(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), {}, (out, err) => {
      if (err !== undefined || out === undefined) reject(err ?? new Error('no output'));
      else resolve(out);
    });
  });
}

/** The vmlinux ELF inside `bz` (from the cache when it was unpacked before). */
export async function unpackVmlinux(bz: BzImage, what = 'kernel'): Promise<Uint8Array> {
  if (bz.payloadFormat !== 'xz') {
    throw new GuestLoadError(`${what}: the compressed kernel is ${bz.payloadFormat}; only xz (Debian's CONFIG_KERNEL_XZ) is supported`);
  }
  const key = createHash('sha256').update(bz.payload).digest('hex');
  const dir = join(cacheDir(), 'linux');
  const path = join(dir, `${key}.vmlinux`);
  if (existsSync(path)) {
    const cached = readFileSync(path);
    if (cached.length === bz.vmlinuxSize) return new Uint8Array(cached.buffer, cached.byteOffset, cached.length);
  }
  let out: Buffer;
  try {
    out = await decompressXz(bz.payload);
  } catch (e) {
    throw new GuestLoadError(`${what}: the xz payload does not decompress (${(e as Error).message}): damaged or truncated image`);
  }
  if (out.length !== bz.vmlinuxSize) {
    throw new GuestLoadError(`${what}: the payload decompressed to ${out.length} bytes, the image says ${bz.vmlinuxSize}`);
  }
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, out);
    renameSync(tmp, path);
  } catch {
    // An unwritable cache only costs the next run the decompression again.
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
