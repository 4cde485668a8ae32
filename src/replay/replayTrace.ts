// `trace replay`: re-run a recorded guest from its initial state with the trace's own images, feeding the
// nondeterministic-input log back instead of simulating devices, and check every exit against the
// recording (exact), or check the recorded exits as a subsequence under another exit configuration.

import { StopReason, type RunResult } from '../emulator/machine.js';
import type { ExitEvent } from '../emulator/events.js';
import { assemble, runSliced, type Assembled } from './Session.js';
import { loadHypervisorState } from '../hypervisor/hypervisorState.js';
import { workloadFromTrace } from './bootRecord.js';
import { prepareWorkload } from '../hypervisor/linux/linuxGuest.js';
import type { CostModel } from '../emulator/costModel.js';
import { TraceReader } from '../record/TraceReader.js';
import { startExitReader } from '../record/ExitCursor.js';
import { ExitChecker, type Divergence, type RecordedExit } from './ExitChecker.js';
import { INPUT_LOG_FILE, InputLogFile, scanInputLog } from './inputLog.js';
import { InputDivergence, ReplayEnvironment } from './ReplayEnvironment.js';
import { GROUND_TRUTH_PORT, GroundTruthPort } from '../emulator/devices/GroundTruthPort.js';
import { WITNESS_PORT, WitnessPort } from '../emulator/devices/WitnessPort.js';
import { POWER_OFF_PORT } from '../emulator/devices/PowerOff.js';
import type { AccessSize } from '../emulator/devices/Device.js';
import { TraceError, UserError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { saveCpuState } from '../emulator/cpu/cpuState.js';
import { CHECKPOINT_DIR, applyCheckpoint, readCheckpoint, type Checkpoint } from './checkpoint.js';

export interface ReplayOptions {
  /** Replay under another exit configuration: recorded exits are checked as a subsequence. */
  exitPreset?: string;
  /** Progress callback between slices. */
  onProgress?: (r: RunResult) => void;
  /** Start from the latest checkpoint at or before this icount instead of from the beginning. */
  from?: number;
  /**
   * Replay under another syscall-interception strategy: the guest executes the same instructions, so the
   * recorded exits that the recording's strategy did not cause are checked as a subsequence.
   */
  intercept?: string;
  syscalls?: string[];
  logSyscalls?: boolean;
  /** Replay under another cost model (modelled cycles change; the guest's execution does not). */
  costModel?: CostModel;
  /** Verify the trace's files against their checksums on open (default true; TraceReader.open). */
  verify?: boolean;
  /** Subscribe to the replay (analyses attached to a replay); called once the machine exists. */
  attach?: (a: Assembled) => void;
}

export interface ReplayReport {
  clean: boolean;
  /** Exits of the recording matched (exactly, or as a subsequence). */
  matched: number;
  recordedExits: number;
  replayedExits: number;
  /** Exits only this replay's configuration took, by basic reason (subsequence mode). */
  additional: Map<number, number>;
  icount: number;
  recordedIcount: number;
  result: RunResult;
  divergence: Divergence | null;
  /** An input-log mismatch (the replay asked the outside world for something the log does not have). */
  inputDivergence: string | null;
  /**
   * A recording whose recorder was killed (the trace is still `recording`: no manifest): the replay covers
   * the input log's whole chunks and ends at the icount of its last entry (`recordedIcount`).
   */
  cut: CutReplay | null;
  /** icount of the checkpoint the replay started from (0: the beginning). */
  startIcount: number;
  /** SHA-256 of the final guest memory and CPU state (replays that reach the same state agree). */
  stateDigest: string;
  /** The interception strategy the replay ran with, and the recording's. */
  intercept: string;
  recordedIntercept: string;
  /** Recorded exits caused by the recording's strategy, not expected under another one. */
  skippedStrategyExits: number;
  /** Syscalls the strategy intercepted during the replay. */
  syscalls: number;
  assembled: Assembled;
  exitPreset: string;
  subsequence: boolean;
}

export interface CutReplay {
  /** Entries of the input log's whole chunks, and the bytes of the cut last chunk left out (0: none). */
  inputEntries: number;
  cutBytes: number;
  /** Replayed exits after the last exit on disk (the recorder had not flushed them). */
  beyond: number;
  /** Recorded exits on disk at or past the replay's end (the input log ends before them). */
  unchecked: number;
}

/** A positive whole number from the manifest's `machine` record, or undefined (damaged or absent). */
function machineLimit(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

export async function replayTrace(dir: string, opts: ReplayOptions = {}): Promise<ReplayReport> {
  startExitReader(); // its start-up overlaps opening the trace and assembling the machine
  const reader = TraceReader.open(dir, { verify: opts.verify });
  const manifest = reader.manifest;
  const { workload, boot } = workloadFromTrace(reader);
  await prepareWorkload(workload);
  if (!reader.hasFile(INPUT_LOG_FILE)) throw new UserError(`${dir}: no ${INPUT_LOG_FILE} (the input log replay needs)`);
  // A trace still `recording` was never closed (the recorder was killed): its input log may end in a chunk
  // cut short, and replay can go as far as the whole chunks before it (every input up to their last icount).
  const cut = reader.state === 'recording';
  // The log is read chunk by chunk as the replay consumes it, each chunk decoded once. A cut log is scanned
  // first (its end, the icount of its last whole entry, is where the replay stops); a closed trace's log was
  // checked against its checksum on open (with --no-verify, damage is a TraceError naming it when reached).
  const logPath = reader.filePath(INPUT_LOG_FILE);
  const inputLog = cut ? scanInputLog(logPath, cut) : null;
  const openLog = (): InputLogFile => new InputLogFile(logPath, cut);
  if (inputLog !== null && inputLog.entries === 0) {
    throw new UserError(`${dir}: the recording was cut (no manifest: the recorder was killed) before any whole chunk of ${INPUT_LOG_FILE} reached the disk: nothing to replay`);
  }
  const exitPreset = opts.exitPreset ?? manifest.exit_preset.name;
  let subsequence = exitPreset !== manifest.exit_preset.name;
  const recordedIntercept = (manifest as unknown as { extra?: { intercept?: { strategy: string; syscalls: string[]; log: boolean } } }).extra?.intercept;
  const intercept = opts.intercept ?? recordedIntercept?.strategy ?? 'none';
  const recordedStrategy = recordedIntercept?.strategy ?? 'none';
  if (opts.syscalls !== undefined && intercept !== 'selective') {
    throw new UserError(`--syscalls is for the selective interception strategy; this replay runs with ${intercept}${opts.intercept === undefined ? ' (the recording\'s)' : ''}`);
  }
  // Under another interception strategy the guest executes the same instructions, so every exit the
  // recording's strategy did not cause must still appear, unchanged: checked as a subsequence.
  const otherStrategy = intercept !== recordedStrategy || (opts.syscalls !== undefined && opts.syscalls.join(',') !== (recordedIntercept?.syscalls ?? []).join(','));
  if (otherStrategy && opts.from !== undefined && opts.from > 0) {
    throw new UserError(`--from needs the recording's own interception strategy (${recordedStrategy}): checkpoints hold its patches`);
  }
  const skip = otherStrategy ? await strategyExits(reader, recordedStrategy) : null;
  const recordedIcount = inputLog !== null ? inputLog.lastIcount : manifest.stop?.icount ?? manifest.totals.icount;
  // Writes to the ground-truth port are not in the input log of a trace that says so (RecordingEnvironment
  // UNLOGGED_PORTS); an older trace logged them, and its entries are taken as they come.
  const unlogged = (manifest as unknown as { extra?: { input_log?: { unlogged_ports?: unknown } } }).extra?.input_log?.unlogged_ports;
  if (unlogged !== undefined && (!Array.isArray(unlogged) || unlogged.some((p) => p !== GROUND_TRUTH_PORT))) {
    throw new TraceError(`${dir}: manifest.json's extra.input_log.unlogged_ports is ${JSON.stringify(unlogged)}; this vmtrace replays traces that leave out the ground-truth port 0x${GROUND_TRUTH_PORT.toString(16)} only`);
  }
  const deviceAt = (port: number): string => {
    for (const [a, b, name] of boot.devices) if (port >= a && port <= b) return name;
    return 'none';
  };
  const a = assemble({
    workload, exitPreset, costModel: opts.costModel ?? manifest.cost_model.name, seed: boot.seed,
    intercept, syscalls: opts.syscalls ?? recordedIntercept?.syscalls ?? [], logSyscalls: opts.logSyscalls ?? recordedIntercept?.log ?? true,
    // The recording's own limits, so that a recording stopped by one stops the same way (its end is
    // runSliced's `end` below). A cut recording's inputs are known up to recordedIcount only.
    maxInstructions: cut ? recordedIcount : machineLimit(manifest.machine.max_instructions),
    maxExits: subsequence || otherStrategy ? undefined : machineLimit(manifest.machine.max_exits),
  }, (machine) => {
    const env = new ReplayEnvironment(openLog, () => machine.cpu.ioIcount, (p, b) => machine.cpu.mmu.writePhys(p, b), deviceAt);
    env.groundTruthLogged = unlogged === undefined || unlogged.length === 0;
    // Guest-state effects replayed without the devices: power-off (docs/machine.md port 0x500), and ground
    // truth (port 0x510: the kernel writes the address of its struct gt_event, decoded from guest memory as
    // the device does), so observers attached to a replay see the same ground-truth events as the recording.
    const deviceCtx = {
      now: () => machine.cpu.ioIcount,
      cyclesPerInstruction: machine.cpu.cyclesPerInstruction,
      tscHz: machine.tscHz,
      raiseIrq: () => {}, lowerIrq: () => {}, dmaWrite: () => {},
      dmaRead: (phys: number, length: number) => machine.cpu.mmu.readPhys(phys, length),
    };
    const groundTruth = new GroundTruthPort(deviceCtx, { onGroundTruth: (e) => machine.publishGroundTruth(e) });
    // The kernel-module witness (port 0x518, only when the workload loads it), decoded the same way.
    const witness = workload.linux?.witness === true ? new WitnessPort(deviceCtx, { onWitness: (e) => machine.publishWitness(e) }) : null;
    const portOut = env.portOut.bind(env);
    env.portOut = (port, size, value) => {
      const irq = portOut(port, size, value);
      if (port === POWER_OFF_PORT) machine.stop(StopReason.guestExit, value >>> 0);
      else if (port === GROUND_TRUTH_PORT) groundTruth.out(port, size as AccessSize, value);
      else if (port === WITNESS_PORT && witness !== null) witness.out(port, size as AccessSize, value);
      return irq;
    };
    return env;
  });
  const m = a.machine;
  let startIcount = 0;
  let firstExit = 0;
  let checkpoint: Checkpoint | null = null;
  if (opts.from !== undefined && opts.from > 0) {
    const cps = reader.manifest.files.map((f) => f.path).filter((p) => p.startsWith(`${CHECKPOINT_DIR}/`))
      .map((p) => ({ p, icount: Number(p.slice(CHECKPOINT_DIR.length + 1, -'.msgpack'.length)) }))
      .filter((c) => Number.isSafeInteger(c.icount) && c.icount <= (opts.from as number))
      .sort((x, y) => x.icount - y.icount);
    const best = cps.at(-1);
    if (best !== undefined) {
      const cp = readCheckpoint(readFileSync(reader.filePath(best.p)), best.p);
      if (cp.icount !== best.icount || cp.icount > recordedIcount) {
        throw new TraceError(`${dir}: ${best.p} holds the state at icount ${cp.icount}, not ${best.icount} within the recording (${recordedIcount} instructions): damaged checkpoint`);
      }
      applyCheckpoint(m, cp);
      checkpoint = cp;
      (m.env as ReplayEnvironment).seek(cp.inputPos);
      startIcount = cp.icount;
      firstExit = cp.machine.exitCount;
    }
  }
  const cursor = reader.exitCursor();
  const recordedExits = reader.rowCount('exits');
  let current: RecordedExit | null = null;
  let currentIndex = -1;
  const recorded = (i: number): RecordedExit | undefined => {
    while (currentIndex < i) {
      current = cursor.next();
      if (current === null) return undefined;
      currentIndex++;
    }
    return currentIndex === i && current !== null ? current : undefined;
  };
  if (otherStrategy) subsequence = true;
  // Modelled cycles and cost are the recording's only under its cost model, exit configuration and strategy
  // (with its logging work: seed 004's "nolog" variants charge none).
  const checker = new ExitChecker(recorded, recordedExits, subsequence, firstExit, skip, cut,
    { seq: !subsequence, cost: !subsequence && opts.costModel === undefined && (opts.logSyscalls ?? recordedIntercept?.log ?? true) === (recordedIntercept?.log ?? true) });
  let replayedExits = 0;
  let syscalls = 0;
  m.subscribe({
    onSyscall: () => {
      syscalls++;
    },
    onExit: (e: ExitEvent) => {
      replayedExits++;
      if (!checker.onExit(e)) m.stop(StopReason.hypervisorError, 0, 'replay diverged');
    },
  });
  opts.attach?.(a);
  // The hypervisor's state after the replay's own observers and the attached ones, as in a replay from the
  // start (where the hyperupcall runtime attaches its observers at the guest's registration, mid-run).
  if (checkpoint !== null) {
    try {
      loadHypervisorState(a, checkpoint.hypervisor);
    } catch (e) {
      cursor.close();
      (m.env as ReplayEnvironment).close();
      throw e;
    }
  }
  let inputDivergence: string | null = null;
  let cutEnd = false;
  let result: RunResult;
  try {
    // Up to the icount where the recording stopped, taking the exits and events due there: a recording
    // stopped by Ctrl-C paused between two slices after them (an exit at exactly the stop icount is in it).
    // The recorded exits are read ahead by the cursor's own thread (ExitCursor).
    result = await runSliced(m, 5_000_000, opts.onProgress, recordedIcount);
  } catch (e) {
    if (!(e instanceof InputDivergence)) throw e;
    result = { reason: StopReason.hypervisorError, status: 0, detail: e.message, icount: m.cpu.icount, exits: m.exitCount, cycles: m.cycles };
    // A cut log ends at recordedIcount; what the run asks for there may have been in the cut chunk.
    if (cut && e.expected === undefined && e.at >= recordedIcount) cutEnd = true;
    else inputDivergence = e.message;
  } finally {
    cursor.close();
    (m.env as ReplayEnvironment).close();
  }
  const divergence = checker.divergence ?? (inputDivergence === null ? checker.finish(m.cpu.icount) : null);
  const clean = divergence === null && inputDivergence === null && (m.cpu.icount === recordedIcount || cutEnd);
  return {
    clean, matched: checker.matched, recordedExits, replayedExits, additional: checker.additional, icount: m.cpu.icount,
    recordedIcount, result, divergence, inputDivergence, exitPreset, subsequence, startIcount,
    cut: inputLog === null ? null : {
      inputEntries: inputLog.entries, cutBytes: inputLog.bytes - inputLog.wholeBytes, beyond: checker.beyond, unchecked: checker.unchecked,
    },
    stateDigest: createHash('sha256').update(m.cpu.mmu.u8.subarray(0, workload.memBytes)).update(JSON.stringify(saveCpuState(m.cpu))).digest('hex'),
    intercept, recordedIntercept: recordedStrategy, skippedStrategyExits: checker.skipped, syscalls, assembled: a,
  };
}

/**
 * The recorded exits the recording's interception strategy caused (syscalls.arrow): each syscall's
 * reporting exit, double-swap's swap-back right after it, and for nitro every #UD exception exit (its SYSCALL
 * and SYSRET traps; a genuine guest #UD under nitro is passed over too).
 */
async function strategyExits(reader: TraceReader, strategy: string): Promise<((rec: RecordedExit) => boolean) | null> {
  if (strategy === 'none') return null;
  const seqs = new Set<number>();
  for await (const b of reader.scan('syscalls', ['exit_seq', 'exits'])) {
    const seq = b.columns.exit_seq!;
    const n = b.columns.exits!;
    for (let i = 0; i < b.length; i++) {
      const s = seq.number(i);
      seqs.add(s);
      if (strategy === 'double-swap' && n.number(i) === 2) seqs.add(s + 1);
    }
  }
  const nitro = strategy === 'nitro';
  return (rec) => seqs.has(rec.seq) || (nitro && rec.reason === 0 && (rec.interruptionInfo & 0xff) === 6);
}
