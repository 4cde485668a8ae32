// `trace record`: run a workload on the machine with live devices and write the trace directory: every
// exit, I/O access, injected interrupt and ground-truth event (TraceWriter), the console, the guest images,
// and the nondeterministic-input log replay consumes. Written under the `incomplete` marker; a run that
// ends any other way than by completing (Ctrl-C, a guest failure, a limit) leaves valid files and a
// manifest that says where and why it stopped.

import { StopReason, type RunResult } from '../emulator/machine.js';
import { costModelFigures } from '../emulator/costModel.js';
import { TraceFilesMode, TraceWriter } from '../record/TraceWriter.js';
import { startTraceFilesThread } from '../record/TraceFilesWorker.js';
import type { TraceCompression } from '../record/compression.js';
import { closeOnSignal } from '../record/closeOnSignal.js';
import type { Manifest } from '../record/manifest.js';
import { InputLogWriter, INPUT_LOG_FILE } from './inputLog.js';
import { RecordingEnvironment, UNLOGGED_PORTS } from './RecordingEnvironment.js';
import { LinuxKernel } from '../introspection/LinuxKernel.js';
import { SyscallTable } from '../introspection/syscallTable.js';
import { checkpointName, checkpointState, InitialImage } from './checkpoint.js';
import { bootRecordOf } from './bootRecord.js';
import { LiveEnvironment } from './LiveEnvironment.js';
import { assemble, resolveWorkload, runSliced, type Assembled, type SessionConfig } from './Session.js';
import { LINUX_IMAGES } from './bootRecord.js';
import { saveHypervisorState } from '../hypervisor/hypervisorState.js';
import { UserError } from '../errors.js';

/** Errors of the file system that mean the trace cannot be written further (full disk, quota, I/O error). */
const WRITE_FAILURES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EROFS']);

function writeFailure(e: unknown): string | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && WRITE_FAILURES.has(code) ? code : null;
}

export interface RecordOptions {
  overwrite?: boolean;
  /** Called between slices (progress line), with the guest's last console line. */
  onProgress?: (r: RunResult, consoleLine: string) => void;
  /** Install SIGINT/SIGTERM handlers that stop the run and close the trace as incomplete (CLI). */
  handleSignals?: boolean;
  /** Instructions per slice between event-loop turns. */
  slice?: number;
  /** Write a checkpoint (for `trace replay --from`) about every this many instructions; 0 = none. */
  checkpointEvery?: number;
  /** Compression of the tables, input log and checkpoints (default lz4). */
  compression?: TraceCompression;
  /** Rows per record batch of every table (default DEFAULT_BATCH_ROWS; traces/README.md "Batch size"). */
  batchRows?: number;
  /** Where the table files are compressed, hashed and written (TraceWriterOptions.writer; default a writer thread). */
  writer?: TraceFilesMode;
}

/**
 * Instructions between checkpoints. One checkpoint compares all of guest memory with the image (the
 * guest's free list touches every page, so there is no cheap dirty set): ~30-60 ms for 64 MiB, so every
 * 50M instructions (~0.5 s of emulation) keeps it to a few percent of a recording.
 */
export const DEFAULT_CHECKPOINT_EVERY = 50_000_000;

export interface RecordResult {
  result: RunResult;
  manifest: Manifest;
  console: string;
  assembled: Assembled;
}

/** Stop reasons that mean the recording covers the whole run. */
const COMPLETE: ReadonlySet<string> = new Set([StopReason.guestExit]);

export async function recordTrace(config: SessionConfig, dir: string, opts: RecordOptions = {}): Promise<RecordResult> {
  let writer: TraceWriter | null = null;
  let log: InputLogWriter | null = null;
  let live: LiveEnvironment | null = null;
  // The writer thread starts (loads its modules) while the machine is assembled.
  if ((opts.writer ?? TraceFilesMode.thread) === TraceFilesMode.thread) startTraceFilesThread();
  const a = assemble(await resolveWorkload(config), (m, w) => {
    live = new LiveEnvironment(m, w);
    return live;
  });
  const m = a.machine;
  const w = a.workload;
  const liveEnv = live as unknown as LiveEnvironment;
  const boot = bootRecordOf(w, liveEnv.deviceMap());
  let removeSignals: (() => void) | null = null;
  // A write that fails (a full disk) leaves files that end in a partial write: nothing more is written, the
  // trace stays `recording` with its marker describing the whole batches on disk (readable, replayable up to
  // there), temporaries are removed, and the error is one line.
  const failedWrite = (e: unknown, code: string): UserError => {
    log?.abandon();
    writer?.abandon();
    removeSignals?.();
    const what = code === 'ENOSPC' ? 'the disk is full' : code === 'EDQUOT' ? 'the disk quota is exceeded' : 'a write failed';
    return new UserError(`${dir}: ${what} (${code}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}): the recording stopped at icount ` +
      `${m.cpu.icount}; the trace is incomplete, with the record batches written before (trace info, trace replay read them)`, 3);
  };
  try {
    writer = new TraceWriter(dir, {
      workload: { name: w.name, description: w.description, params: w.params },
      seed: w.seed,
      exitPreset: { name: a.config.exitPreset },
      costModel: { name: a.costModel.name, figures: costModelFigures(a.costModel) },
      cyclesPerInstruction: a.costModel.cyclesPerInstruction,
      machine: { mem_bytes: w.memBytes, tsc_hz: a.costModel.tscHz, vcpus: 1, max_instructions: a.config.maxInstructions, max_exits: a.config.maxExits },
      devices: [...new Set(liveEnv.devices.map((d) => d.name)), 'none'],
      overwrite: opts.overwrite ?? false,
      compression: opts.compression,
      batchRows: opts.batchRows,
      writer: opts.writer,
      witness: w.linux?.witness === true,
      extra: {
        boot,
        intercept: { strategy: a.config.intercept, syscalls: a.config.syscalls, log: a.config.logSyscalls },
        input_log: { unlogged_ports: UNLOGGED_PORTS },
        // A Linux kernel's own syscall names (its sys_call_table), for the analyses' tables: index = number.
        ...(w.linux?.vmlinux === undefined ? {} : { syscall_names: SyscallTable.of(LinuxKernel.of(w.linux.vmlinux)).names }),
      },
    });
    // From the moment the trace exists (its marker may be on disk already: the writer thread writes it), a
    // signal stops the run instead of killing the process; a stop asked for before the run starts ends it at once.
    if (opts.handleSignals === true) {
      removeSignals = closeOnSignal(writer, {
        onSignal: () => m.stop(StopReason.interrupted, 0, 'interrupted by a signal'),
      });
    }
    if (w.linux !== undefined) {
      writer.addImage(LINUX_IMAGES.vmlinuz, w.linux.vmlinuz);
      writer.addImage(LINUX_IMAGES.initramfs, w.linux.initramfs);
    } else writer.addImage('kernel.elf', w.kernel);
    for (const p of w.programs) writer.addImage(p.name, p.bytes);
    if (w.disk.length > 0) writer.addImage('disk.img', w.disk);
    // The input log's chunks are compressed and written by the trace's writer thread, in order with the tables.
    log = new InputLogWriter(INPUT_LOG_FILE, writer.compression, writer.stream(INPUT_LOG_FILE));
    // Each batch of exits on disk comes with the inputs logged up to it (a chunk is otherwise 4096 entries,
    // which a run whose only inputs are timer ticks may take minutes of guest time to fill).
    const inputs = log;
    writer.onExitsBatch = () => inputs.flush();
    const rec = new RecordingEnvironment(liveEnv, log, () => m.cpu.ioIcount);
    liveEnv.onDma = (phys, bytes) => rec.dma(phys, bytes);
    // DMA and interrupt-controller calls outside an instruction are stamped with the current icount.
    m.env = rec;
    m.subscribe(writer);
  } catch (e) {
    const code = writeFailure(e);
    if (code !== null) throw failedWrite(e, code);
    removeSignals?.();
    throw e;
  }
  // Checkpoints store the pages that differ from the freshly loaded image.
  const every = opts.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (every > 0) writer.checkpointImage(new InitialImage(m.cpu.mmu.u8));
  let nextCheckpoint = every;
  const slice = Math.min(opts.slice ?? 10_000_000, every > 0 ? every : Infinity);
  // The writer gets ready (a snapshot buffer) one slice ahead of the first checkpoint.
  const prepare = (): void => {
    if (every > 0 && m.cpu.icount + slice >= nextCheckpoint) (writer as TraceWriter).prepareCheckpoint();
  };
  prepare();
  const onSlice = (r: RunResult): void => {
    opts.onProgress?.(r, m.lastConsoleLine());
    prepare();
    if (every > 0 && r.reason === StopReason.paused && m.cpu.icount >= nextCheckpoint) {
      // The memory part is computed, packed, compressed and written by the trace's writer thread.
      (writer as TraceWriter).checkpoint(checkpointName(m.cpu.icount), checkpointState(m, (log as InputLogWriter).entries, saveHypervisorState(a)), m.cpu.mmu.u8);
      nextCheckpoint = (Math.floor(m.cpu.icount / every) + 1) * every;
    }
  };
  let result: RunResult;
  try {
    result = await runSliced(m, slice, onSlice);
  } catch (e) {
    const code = writeFailure(e);
    if (code !== null) throw failedWrite(e, code);
    // A hypervisor or device error: keep what was recorded, say why it stopped.
    try {
      log.close();
      const detail = e instanceof Error ? e.message : String(e);
      writer.close(false, { reason: StopReason.hypervisorError, detail, icount: m.cpu.icount, cycles: m.cycles });
    } catch (e2) {
      const code2 = writeFailure(e2);
      if (code2 !== null) throw failedWrite(e2, code2);
      throw e2;
    }
    removeSignals?.();
    throw e;
  }
  let manifest: Manifest;
  try {
    log.close();
    manifest = writer.close(COMPLETE.has(result.reason), {
      reason: result.reason, detail: result.detail, status: result.status, icount: result.icount, cycles: result.cycles,
    });
  } catch (e) {
    const code = writeFailure(e);
    if (code !== null) throw failedWrite(e, code);
    throw e;
  }
  removeSignals?.();
  return { result, manifest, console: m.consoleText(), assembled: a };
}
