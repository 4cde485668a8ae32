// Checkpoints: the full state replay needs to start in the middle of a trace, every N instructions while
// recording (msgpackr, `checkpoints/<icount>.msgpack`): CPU registers, the guest-physical pages that differ
// from the freshly loaded image, the machine's counters, the console so far, and the position in the
// input log. Devices need no state: replay does not simulate them (their effects come from the log).

import { Packr, Unpackr } from 'msgpackr';
import { loadCpuState, saveCpuState, type CpuState } from '../emulator/cpu/cpuState.js';
import type { Machine } from '../emulator/machine.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const CHECKPOINT_FORMAT = 2;
const PAGE = 4096;

export interface Checkpoint {
  format: number;
  icount: number;
  cpu: CpuState;
  machine: ReturnType<Machine['saveCounters']>;
  console: Uint8Array;
  /** Entries of the input log consumed before this point. */
  inputPos: number;
  /** Page number and contents of every page that differs from the initial image. */
  pages: Array<[number, Uint8Array]>;
  /** The hypervisor's state: MSR shadows and what the interception strategy learned from the guest. */
  hypervisor: HypervisorState;
}

export interface HypervisorState {
  strategy: string;
  msrShadows: Array<[number, [number, number]]>;
  strategyState: Record<string, unknown>;
}

const packr = new Packr({ useRecords: false });

export function checkpointName(icount: number): string {
  return `${CHECKPOINT_DIR}/${String(icount).padStart(12, '0')}.msgpack`;
}

export function takeCheckpoint(m: Machine, initial: Uint8Array, inputPos: number, hypervisor: HypervisorState): Uint8Array {
  const ram = m.cpu.mmu.u8;
  const pages: Array<[number, Uint8Array]> = [];
  const n = Math.min(ram.length, initial.length) / PAGE;
  for (let p = 0; p < n; p++) {
    const a = ram.subarray(p * PAGE, (p + 1) * PAGE);
    const b = initial.subarray(p * PAGE, (p + 1) * PAGE);
    if (Buffer.compare(a, b) !== 0) pages.push([p, a.slice()]);
  }
  const cp: Checkpoint = {
    format: CHECKPOINT_FORMAT, icount: m.cpu.icount, cpu: saveCpuState(m.cpu), machine: m.saveCounters(),
    console: Uint8Array.from(m.console), inputPos, pages, hypervisor,
  };
  return packr.pack(cp);
}

export function readCheckpoint(bytes: Uint8Array, what: string): Checkpoint {
  let cp: Checkpoint;
  try {
    cp = new Unpackr({ useRecords: false }).unpack(bytes) as Checkpoint;
  } catch (e) {
    throw new Error(`${what}: damaged checkpoint (${(e as Error).message})`);
  }
  if (cp === null || typeof cp !== 'object' || cp.format !== CHECKPOINT_FORMAT) throw new Error(`${what}: not a checkpoint of format ${CHECKPOINT_FORMAT}`);
  return cp;
}

/** Bring a freshly assembled machine (initial image loaded) to the checkpoint's state. */
export function applyCheckpoint(m: Machine, cp: Checkpoint): void {
  const mmu = m.cpu.mmu;
  for (const [p, bytes] of cp.pages) mmu.writePhys(p * PAGE, bytes);
  loadCpuState(m.cpu, cp.cpu);
  m.loadCounters(cp.machine, cp.console);
}
