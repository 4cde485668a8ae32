// Checkpoints (the file: src/record/checkpointFile.ts): taken from a running machine every N instructions while
// recording, applied to a freshly assembled machine to replay from the middle of a trace. Devices need no
// state: replay does not simulate them (their effects come from the log).

import { TraceError } from '../errors.js';
import { loadCpuState, saveCpuState } from '../emulator/cpu/cpuState.js';
import type { Machine } from '../emulator/machine.js';
import type { HypervisorState } from '../hypervisor/hypervisorState.js';
import { TraceCompression } from '../record/compression.js';
import { CHECKPOINT_FORMAT, checkpointBytes, type Checkpoint, type CheckpointState } from '../record/checkpointFile.js';
import { InitialImage, memoryRuns } from '../record/InitialImage.js';

export { CHECKPOINT_DIR, CHECKPOINT_FORMAT, checkpointName, readCheckpoint, type Checkpoint, type CheckpointState } from '../record/checkpointFile.js';
export { InitialImage } from '../record/InitialImage.js';

/** The machine's state for a checkpoint, all but its memory (copied: the machine may go on). */
export function checkpointState(m: Machine, inputPos: number, hypervisor: HypervisorState): CheckpointState {
  return {
    format: CHECKPOINT_FORMAT, icount: m.cpu.icount, cpu: saveCpuState(m.cpu), machine: m.saveCounters(),
    console: Uint8Array.from(m.console), inputPos, hypervisor,
  };
}

/** A checkpoint's bytes, taken here and now (the recorder has its files do the memory part: TraceWriter.checkpoint). */
export function takeCheckpoint(m: Machine, initial: InitialImage, inputPos: number, hypervisor: HypervisorState,
  compression: TraceCompression = TraceCompression.none): Uint8Array {
  return checkpointBytes(checkpointState(m, inputPos, hypervisor), memoryRuns(m.cpu.mmu.u8, initial), compression);
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
