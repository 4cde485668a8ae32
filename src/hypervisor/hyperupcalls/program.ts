// A registered hyperupcall program and the runtime's records (docs/hyperupcalls.md): what registration
// builds, what an invocation updates, and what a checkpoint saves.

import type { CostModel } from '../../emulator/costModel.js';
import type { Insn } from '../ebpf/isa.js';
import type { VerifierOptions } from '../ebpf/verifier.js';
import type { CompiledProgram } from '../ebpf/compiler.js';
import { interpret, type Decoded, type RunResult } from '../ebpf/interpreter.js';
import { FRAME_SIZE, RegionTag, STACK_SIZE, address, type Memory } from '../ebpf/Memory.js';
import type { HelperRegistry } from '../ebpf/helpers.js';

export type Engine = 'compiled' | 'interpreter';

export interface HyperupcallOptions {
  /** Largest granted region as a fraction of guest memory (seed 003 3.1.2: 2%, configurable). */
  share: number;
  /** How programs run: compiled to JS (the default, "compiled back to native code", 3.1) or interpreted. */
  engine: Engine;
  /** Most programs registered at once. */
  maxPrograms: number;
  /** Run-time instruction budget of a local (looping) program. */
  localBudget: number;
  /** Run-time instruction budget of a global (loop-free, verified-bounded) program. */
  globalBudget: number;
  /** Fire the memory-pressure event when the guest writes the power-off port. */
  pressureAtPowerOff: boolean;
}

/**
 * Bounds on what guest programs make the host keep (docs/hyperupcalls.md "Limits"): records per invocation of
 * one program (beyond them the helper returns -1 and records nothing), and the newest records kept in all
 * (older ones are dropped and counted).
 */
export const LIMITS = {
  traceLinesPerRun: 16, ipisPerRun: 16, boostsPerRun: 16,
  traceLines: 1024, ipis: 65_536, boosts: 65_536, skips: 65_536, rejections: 4096,
} as const;

export const DEFAULT_OPTIONS: HyperupcallOptions = {
  share: 0.02, engine: 'compiled', maxPrograms: 16, localBudget: 4_000_000, globalBudget: 100_000, pressureAtPowerOff: true,
};

export interface ProgramStats {
  invocations: number;
  /** eBPF instructions executed, all invocations. */
  steps: number;
  /** Modelled cycles charged, all invocations. */
  cycles: number;
  faults: number;
  lastFault: string;
  lastValue: bigint;
  /** Whether the last invocation ended normally (its lastValue is that run's r0). */
  lastRunOk: boolean;
}

/** The fields of a registration block a program is built from (docs/machine.md), already bounds-checked. */
export interface Registration {
  event: number;
  exitReason: number;
  flags: number;
  /** Guest-physical base and length of its memory (all of guest memory for a local program). */
  memGpa: number;
  memLen: number;
  env: bigint[];
  /** The bytecode as registered. */
  bytes: Uint8Array;
}

export interface HyperupcallProgram extends Registration {
  id: number;
  insns: Insn[];
  verifyProcessed: number;
  /** Stack frames the program can use (its deepest call chain): zeroed before every invocation. */
  stackFrames: number;
  /** The options it was verified with (the analysis re-verifies to time the verifier). */
  verifierOptions: VerifierOptions;
  compiled: CompiledProgram;
  decoded: Decoded;
  memory: Memory;
  ctx: Uint8Array;
  ctxView: DataView;
  stats: ProgramStats;
  /** icount of the registration. */
  registeredAt: number;
  /** First exit sequence number the program sees: the exits after its registration's own VMCALL. */
  firstExit: number;
}

export interface Rejection {
  icount: number;
  code: number;
  message: string;
}

/** An instruction a VM-exit program's verdict skipped (r0 = ExitVerdict.skip): the guard use case. */
export interface Skip {
  icount: number;
  /** Exit sequence number and basic reason. */
  seq: number;
  reason: number;
  program: number;
}

/** One send_vcpu_ipi call: the vector queued for injection (Machine.queueInterrupt) at this icount. */
export interface Ipi {
  vector: number;
  icount: number;
  program: number;
}

/** One priority_boost call (seed 003 4.2: cpu.weight 10 -> 100 for 100 ms). */
export interface Boost {
  icount: number;
  weight: number;
  durationUs: number;
}

/**
 * One registered program in a checkpoint: its registration (rebuilt on load: decoded, verified with the same
 * options, compiled; its memory is a view of guest memory, which the checkpoint restores), its counters and
 * its context buffer. Plain data for msgpackr: 64-bit values as decimal strings.
 */
export interface SavedProgram extends Omit<Registration, 'env'> {
  id: number;
  env: string[];
  registeredAt: number;
  firstExit: number;
  stats: Omit<ProgramStats, 'lastValue'> & { lastValue: string };
  /** The context as the last invocation left it (the fields an event does not set keep their values). */
  ctx: Uint8Array;
}

/** The hyperupcall runtime's state in a checkpoint (HyperupcallRuntime.saveState / restoreState). */
export interface HyperupcallState {
  programs: SavedProgram[];
  rejections: Rejection[];
  boosts: Boost[];
  freePageReports: number[][];
  ipis: Ipi[];
  skips: Skip[];
  traceLog: string[];
  /** Observer kinds attached, in attachment order. */
  observers: string[];
  /** Records dropped by the limits (LIMITS), by log; absent when none were. */
  dropped?: Record<string, number>;
}

/** Modelled cycles of one invocation (docs/hyperupcalls.md): the instructions as native code plus the published overhead. */
export function modelledCycles(model: CostModel, steps: number): number {
  return steps * model.cyclesPerInstruction + model.hyperupcall.overNative;
}

/** Run a registered program with its context and memory as they are now. */
export function runProgram(p: HyperupcallProgram, helpers: HelperRegistry, engine: Engine, maxSteps: number): RunResult {
  const args = [address(RegionTag.CTX, 0), address(RegionTag.MEM, 0)];
  // Each invocation starts with a zeroed stack: nothing one invocation leaves there reaches the next, even
  // if the verifier missed an uninitialised read (the stack region is the program's, reused across runs).
  p.memory.bytes[RegionTag.STACK]!.fill(0, STACK_SIZE - p.stackFrames * FRAME_SIZE);
  return engine === 'compiled'
    ? p.compiled.run({ memory: p.memory, args, helpers, maxSteps })
    : interpret(p.decoded, { memory: p.memory, args, helpers, maxSteps });
}

/** Append to a bounded log: keeps the newest `limit` entries; returns how many were dropped (0 or 1). */
export function appendBounded<T>(log: T[], item: T, limit: number): number {
  log.push(item);
  if (log.length <= limit) return 0;
  log.shift();
  return 1;
}
