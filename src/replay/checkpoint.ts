// Checkpoints: the full state replay needs to start in the middle of a trace, every N instructions while
// recording (msgpackr, `checkpoints/<icount>.msgpack`): CPU registers, the ranges of guest-physical memory that
// differ from the freshly loaded image, the machine's counters, the console so far, and the position in the
// input log, the hypervisor's state (MSR shadows, the interception strategy's, the hyperupcall registry).
// Devices need no state: replay does not simulate them (their effects come from the log).

import { Packr, Unpackr } from 'msgpackr';
import { TraceError } from '../errors.js';
import { loadCpuState, saveCpuState, type CpuState } from '../emulator/cpu/cpuState.js';
import type { Machine } from '../emulator/machine.js';
import type { HypervisorState } from '../hypervisor/hypervisorState.js';
import { isLz4Frame, lz4Compress, lz4Decompress, TraceCompression } from '../record/compression.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const CHECKPOINT_FORMAT = 2;
const PAGE = 4096;
const ZERO_PAGE = new Uint32Array(PAGE >>> 2);

export interface Checkpoint {
  format: number;
  icount: number;
  cpu: CpuState;
  machine: ReturnType<Machine['saveCounters']>;
  console: Uint8Array;
  /** Entries of the input log consumed before this point. */
  inputPos: number;
  /** Byte offset and contents of every range of guest-physical memory that differs from the initial image. */
  runs: Array<[number, Uint8Array]>;
  /** The hypervisor's state: MSR shadows and what the interception strategy learned from the guest. */
  hypervisor: HypervisorState;
}

const packr = new Packr({ useRecords: false });

export function checkpointName(icount: number): string {
  return `${CHECKPOINT_DIR}/${String(icount).padStart(12, '0')}.msgpack`;
}

/**
 * Guest memory as freshly loaded, kept sparsely: only the pages that are not all zero. The loaded image is a
 * few MB of a 64 MiB guest; copying all of it (Uint8Array.slice) cost 0.4-1.2 s of page faults at the start
 * of every recording on this machine, a scan for non-zero pages ~40 ms.
 */
export class InitialImage {
  /** Page number -> 1 + its index in `pages`; 0 for an all-zero page. */
  private readonly index: Int32Array;
  /** The non-zero pages' contents, PAGE bytes each, as 32-bit words. */
  private readonly pages: Uint32Array;
  /** Bytes of memory the image covers (whole pages). */
  readonly bytes: number;

  constructor(ram: Uint8Array) {
    const n = ram.length & ~(PAGE - 1);
    const words = new Uint32Array(ram.buffer, ram.byteOffset, n >>> 2);
    const W = PAGE >>> 2;
    const count = n / PAGE;
    this.index = new Int32Array(count);
    const nonZero: number[] = [];
    for (let p = 0; p < count; p++) {
      for (let k = p * W, end = k + W; k < end; k++) {
        if (words[k] !== 0) {
          nonZero.push(p);
          break;
        }
      }
    }
    this.pages = new Uint32Array(nonZero.length * W);
    nonZero.forEach((p, i) => {
      this.pages.set(words.subarray(p * W, (p + 1) * W), i * W);
      this.index[p] = i + 1;
    });
    this.bytes = n;
  }

  /** The image's words of page `p` (PAGE / 4 of them), or null for an all-zero page. */
  page(p: number): Uint32Array | null {
    const i = p < this.index.length ? this.index[p]! : 0;
    if (i === 0) return null;
    const W = PAGE >>> 2;
    return this.pages.subarray((i - 1) * W, i * W);
  }
}

/** A checkpoint's bytes: msgpack, as one LZ4 frame when `compression` is lz4 (readCheckpoint takes both). */
export function takeCheckpoint(m: Machine, initial: InitialImage, inputPos: number, hypervisor: HypervisorState,
  compression: TraceCompression = TraceCompression.none): Uint8Array {
  const cp: Checkpoint = {
    format: CHECKPOINT_FORMAT, icount: m.cpu.icount, cpu: saveCpuState(m.cpu), machine: m.saveCounters(),
    console: Uint8Array.from(m.console), inputPos, runs: memoryRuns(m.cpu.mmu.u8, initial), hypervisor,
  };
  const packed = packr.pack(cp);
  return compression === TraceCompression.lz4 ? lz4Compress(packed) : packed;
}

/**
 * The byte ranges of `ram` that differ from `initial`, at 4-byte granularity, runs closer than GAP bytes
 * merged. Whole differing pages would be far larger: the guest's free-page list writes a link into every
 * free page, so nearly every page differs from the image by a few bytes.
 */
export function memoryRuns(ram: Uint8Array, initial: InitialImage): Array<[number, Uint8Array]> {
  const GAP = 32;
  const W = PAGE >>> 2;
  const runs: Array<[number, Uint8Array]> = [];
  const n = Math.min(ram.length & ~(PAGE - 1), initial.bytes);
  const a32 = new Uint32Array(ram.buffer, ram.byteOffset, n >>> 2);
  let start = -1;
  let end = -1;
  for (let p = 0, pages = n / PAGE; p < pages; p++) {
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

export function readCheckpoint(bytes: Uint8Array, what: string): Checkpoint {
  let cp: Checkpoint;
  try {
    cp = new Unpackr({ useRecords: false }).unpack(isLz4Frame(bytes) ? lz4Decompress(bytes) : bytes) as Checkpoint;
  } catch (e) {
    throw new TraceError(`${what}: damaged checkpoint (${(e as Error).message})`);
  }
  if (cp === null || typeof cp !== 'object' || cp.format !== CHECKPOINT_FORMAT) throw new TraceError(`${what}: not a checkpoint of format ${CHECKPOINT_FORMAT}`);
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!count(cp.icount) || !count(cp.inputPos) || !Array.isArray(cp.runs) || typeof cp.cpu !== 'object' || cp.cpu === null ||
    typeof cp.machine !== 'object' || cp.machine === null || !(cp.console instanceof Uint8Array) || typeof cp.hypervisor !== 'object' ||
    !cp.runs.every((r) => Array.isArray(r) && count(r[0]) && r[1] instanceof Uint8Array)) {
    throw new TraceError(`${what}: damaged checkpoint (malformed fields)`);
  }
  return cp;
}

/** Bring a freshly assembled machine (initial image loaded) to the checkpoint's state. */
export function applyCheckpoint(m: Machine, cp: Checkpoint): void {
  const mmu = m.cpu.mmu;
  for (const [at, bytes] of cp.runs) {
    if (at + bytes.length > mmu.u8.length) throw new TraceError(`checkpoint at icount ${cp.icount}: memory range 0x${at.toString(16)}+${bytes.length} lies outside guest memory (damaged checkpoint)`);
  }
  for (const [at, bytes] of cp.runs) mmu.writePhys(at, bytes);
  loadCpuState(m.cpu, cp.cpu);
  m.loadCounters(cp.machine, cp.console);
}
