// A Linux bzImage (Documentation/arch/x86/boot.rst, "The real-mode kernel header"): the setup header the
// boot loader copies into boot_params, and the compressed kernel it carries. We do not run the real-mode
// setup or the decompressor (both start in 16/32-bit modes this CPU does not have); the loader unpacks the
// payload itself and enters the vmlinux at startup_64 with the 64-bit boot protocol.

import { GuestLoadError } from '../loader.js';

/** Setup-header offsets (boot.rst, all relative to the start of the bzImage / of boot_params). */
export const Hdr = {
  setupSects: 0x1f1,
  bootFlag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  kernelVersion: 0x20e,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  payloadOffset: 0x248,
  payloadLength: 0x24c,
  prefAddress: 0x258,
  initSize: 0x260,
} as const;

export interface BzImage {
  /** boot protocol version, e.g. 0x20f */
  protocol: number;
  /** The setup header bytes, from 0x1f1 to its end (0x202 + the byte at 0x201), to copy into boot_params. */
  setupHeader: Uint8Array;
  /** The kernel version string the header points to ("6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..."). */
  version: string;
  /** The compressed vmlinux (format by its magic; the trailing 4-byte size removed). */
  payload: Uint8Array;
  payloadFormat: 'xz' | 'gzip' | 'zstd' | 'lzma' | 'lz4' | 'bzip2' | 'lzo' | 'unknown';
  /** Decompressed size from the payload's last 4 bytes (mkpiggy appends it). */
  vmlinuxSize: number;
  cmdlineSize: number;
  initrdAddrMax: number;
  initSize: number;
}

const MAGIC: Array<[BzImage['payloadFormat'], number[]]> = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], ['gzip', [0x1f, 0x8b]], ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lzma', [0x5d, 0x00, 0x00]], ['lz4', [0x02, 0x21, 0x4c, 0x18]], ['bzip2', [0x42, 0x5a, 0x68]], ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
];

/** Parse a bzImage (protocol >= 2.08 for payload_offset, 64-bit capable: XLF_KERNEL_64). */
export function parseBzImage(bytes: Uint8Array, what = 'kernel'): BzImage {
  const fail = (msg: string): never => {
    throw new GuestLoadError(`${what}: ${msg}`);
  };
  if (bytes.length < 0x270) fail(`too short for a Linux bzImage (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(Hdr.bootFlag, true) !== 0xaa55 || dv.getUint32(Hdr.header, true) !== 0x53726448) {
    fail('not a Linux bzImage (no 0xAA55 boot flag and "HdrS" setup header)');
  }
  const protocol = dv.getUint16(Hdr.version, true);
  if (protocol < 0x20c) fail(`boot protocol ${(protocol >> 8)}.${(protocol & 0xff).toString().padStart(2, '0')} is older than 2.12 (no 64-bit entry)`);
  if ((dv.getUint16(Hdr.xloadflags, true) & 1) === 0) fail('the kernel has no 64-bit entry point (XLF_KERNEL_64 clear)');
  const hdrEnd = 0x202 + bytes[0x201]!;
  const setupSects = bytes[Hdr.setupSects] || 4;
  const pmStart = (setupSects + 1) * 512;
  const po = dv.getUint32(Hdr.payloadOffset, true);
  const pl = dv.getUint32(Hdr.payloadLength, true);
  if (pl < 8 || pmStart + po + pl > bytes.length) fail(`payload (offset ${po}, ${pl} bytes) extends past the end of the file (truncated image?)`);
  const raw = bytes.subarray(pmStart + po, pmStart + po + pl);
  const vmlinuxSize = new DataView(raw.buffer, raw.byteOffset + pl - 4, 4).getUint32(0, true);
  const payloadFormat = MAGIC.find(([, m]) => m.every((b, i) => raw[i] === b))?.[0] ?? 'unknown';
  const kv = dv.getUint16(Hdr.kernelVersion, true);
  let version = '';
  if (kv !== 0 && 0x200 + kv < bytes.length) {
    let e = 0x200 + kv;
    while (e < bytes.length && bytes[e] !== 0 && e - 0x200 - kv < 256) e++;
    version = Buffer.from(bytes.subarray(0x200 + kv, e)).toString('latin1');
  }
  return {
    protocol,
    setupHeader: bytes.slice(Hdr.setupSects, hdrEnd),
    version,
    payload: raw.subarray(0, pl - 4),
    payloadFormat,
    vmlinuxSize,
    cmdlineSize: protocol >= 0x206 ? dv.getUint32(Hdr.cmdlineSize, true) : 255,
    initrdAddrMax: dv.getUint32(Hdr.initrdAddrMax, true),
    initSize: dv.getUint32(Hdr.initSize, true),
  };
}
