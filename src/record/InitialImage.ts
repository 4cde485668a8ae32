// Guest memory as freshly loaded, and the byte ranges a later memory differs from it by: the memory part of a
// checkpoint (checkpointFile.ts). Here in the trace format, beside the writer, because the ranges of a
// checkpoint are computed where its file is written (the writer thread, TraceFilesWorker).

const PAGE = 4096;
const ZERO_PAGE = new Uint32Array(PAGE >>> 2);
const ZERO_BYTES = Buffer.alloc(PAGE);

/** A Buffer over the same bytes (no copy), for Buffer.compare (native memcmp). */
function bytesOf(b: Uint8Array | Uint32Array, n = b.byteLength): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, n);
}

/** What an InitialImage is made of, as posted to the writer thread. */
export interface InitialImageParts {
  index: Int32Array;
  pages: Uint32Array;
  bytes: number;
}

/**
 * Guest memory as freshly loaded, kept sparsely: only the pages that are not all zero. The loaded image is a
 * few MB of a 64 MiB guest; copying all of it (Uint8Array.slice) cost 0.4-1.2 s of page faults at the start
 * of every recording on this machine. The scan for non-zero pages compares each page with a zero page
 * natively (Buffer.compare, a memcmp): a JS word loop over 64 MiB took 227 ms of the recording thread.
 */
export class InitialImage {
  /** Page number -> 1 + its index in `pages`; 0 for an all-zero page. */
  private readonly index: Int32Array;
  /** The non-zero pages' contents, PAGE bytes each, as 32-bit words. */
  private readonly pages: Uint32Array;
  /** The same pages as bytes (for Buffer.compare). */
  private readonly pageBytes: Buffer;
  /** Bytes of memory the image covers (whole pages). */
  readonly bytes: number;

  constructor(ram: Uint8Array | InitialImageParts) {
    if (!(ram instanceof Uint8Array)) {
      this.index = ram.index;
      this.pages = ram.pages;
      this.bytes = ram.bytes;
      this.pageBytes = bytesOf(this.pages);
      return;
    }
    const n = ram.length & ~(PAGE - 1);
    const buf = bytesOf(ram, n);
    const count = n / PAGE;
    this.index = new Int32Array(count);
    const nonZero: number[] = [];
    for (let p = 0; p < count; p++) {
      if (buf.compare(ZERO_BYTES, 0, PAGE, p * PAGE, (p + 1) * PAGE) !== 0) nonZero.push(p);
    }
    this.pages = new Uint32Array(nonZero.length * (PAGE >>> 2));
    this.pageBytes = bytesOf(this.pages);
    nonZero.forEach((p, i) => {
      this.pageBytes.set(buf.subarray(p * PAGE, (p + 1) * PAGE), i * PAGE);
      this.index[p] = i + 1;
    });
    this.bytes = n;
  }

  /** The parts to rebuild this image elsewhere (`new InitialImage(parts)`; posted, they are copied). */
  parts(): InitialImageParts {
    return { index: this.index, pages: this.pages, bytes: this.bytes };
  }

  /** The image's words of page `p` (PAGE / 4 of them), or null for an all-zero page. */
  page(p: number): Uint32Array | null {
    const i = p < this.index.length ? this.index[p]! : 0;
    if (i === 0) return null;
    const W = PAGE >>> 2;
    return this.pages.subarray((i - 1) * W, i * W);
  }

  /** Whether page `p` of `ram` (a Buffer over the memory) equals the image's (natively compared). */
  samePage(ram: Buffer, p: number): boolean {
    const i = p < this.index.length ? this.index[p]! : 0;
    const at = p * PAGE;
    return i === 0
      ? ram.compare(ZERO_BYTES, 0, PAGE, at, at + PAGE) === 0
      : ram.compare(this.pageBytes, (i - 1) * PAGE, i * PAGE, at, at + PAGE) === 0;
  }
}

/**
 * The byte ranges of `ram` that differ from `initial`, at 4-byte granularity, runs closer than GAP bytes
 * merged. Whole differing pages would be far larger: the guest's free-page list writes a link into every
 * free page, so nearly every page differs from the image by a few bytes. Pages equal to the image's are
 * skipped after a native compare (they hold no differing word, so the runs are the same).
 */
export function memoryRuns(ram: Uint8Array, initial: InitialImage): Array<[number, Uint8Array]> {
  const GAP = 32;
  const W = PAGE >>> 2;
  const runs: Array<[number, Uint8Array]> = [];
  const n = Math.min(ram.length & ~(PAGE - 1), initial.bytes);
  const a32 = new Uint32Array(ram.buffer, ram.byteOffset, n >>> 2);
  const bytes = bytesOf(ram, n);
  let start = -1;
  let end = -1;
  for (let p = 0, pages = n / PAGE; p < pages; p++) {
    if (initial.samePage(bytes, p)) continue;
    const b32 = initial.page(p) ?? ZERO_PAGE;
    for (let w = p * W, k = 0; k < W; w++, k++) {
      if (a32[w] === b32[k]) continue;
      const at = w << 2;
      if (start >= 0 && at - end <= GAP) end = at + 4;
      else {
        if (start >= 0) runs.push([start, ram.slice(start, end)]);
        start = at;
        end = at + 4;
      }
    }
  }
  if (start >= 0) runs.push([start, ram.slice(start, end)]);
  return runs;
}
