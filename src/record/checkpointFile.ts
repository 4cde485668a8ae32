// A checkpoint file of a trace (`checkpoints/<icount>.msgpack`, msgpackr; one LZ4 frame under lz4
// compression): the full state replay needs to start in the middle of a trace. CPU registers, the ranges of
// guest-physical memory that differ from the freshly loaded image (InitialImage.ts), the machine's counters,
// the console so far, the position in the input log, the hypervisor's state (MSR shadows, the interception
// strategy's, the hyperupcall registry). Taking one from a machine and applying one is src/replay/checkpoint.ts;
// the bytes are made here, where the files are written (the writer thread computes the memory ranges, packs,
// compresses and writes them in order with the other files).

import { Packr, Unpackr } from 'msgpackr';
import { TraceError } from '../errors.js';
import type { CpuState } from '../emulator/cpu/cpuState.js';
import type { Machine } from '../emulator/machine.js';
import type { HypervisorState } from '../hypervisor/hypervisorState.js';
import { isLz4Frame, lz4Compress, lz4CompressAsync, lz4Decompress, TraceCompression } from './compression.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const CHECKPOINT_FORMAT = 2;

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

/** A checkpoint without its memory ranges (those are computed where the file is written). */
export type CheckpointState = Omit<Checkpoint, 'runs'>;

const packr = new Packr({ useRecords: false });

export function checkpointName(icount: number): string {
  return `${CHECKPOINT_DIR}/${String(icount).padStart(12, '0')}.msgpack`;
}

/** The checkpoint's msgpack bytes (fields in the file's order). */
function pack(s: CheckpointState, runs: Array<[number, Uint8Array]>): Uint8Array {
  const cp: Checkpoint = {
    format: s.format, icount: s.icount, cpu: s.cpu, machine: s.machine, console: s.console, inputPos: s.inputPos, runs, hypervisor: s.hypervisor,
  };
  return packr.pack(cp);
}

/** A checkpoint file's bytes: msgpack, as one LZ4 frame when `compression` is lz4 (readCheckpoint takes both). */
export function checkpointBytes(s: CheckpointState, runs: Array<[number, Uint8Array]>, compression: TraceCompression): Uint8Array {
  const packed = pack(s, runs);
  return compression === TraceCompression.lz4 ? lz4Compress(packed) : packed;
}

/** checkpointBytes(), compressing on libuv's thread pool (the same bytes; the writer thread's call). */
export async function checkpointBytesAsync(s: CheckpointState, runs: Array<[number, Uint8Array]>, compression: TraceCompression): Promise<Uint8Array> {
  const packed = pack(s, runs);
  return compression === TraceCompression.lz4 ? lz4CompressAsync(packed) : packed;
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
