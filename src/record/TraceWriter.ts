// The recorder: a MachineObserver that writes a trace directory (layout in traces/README.md).
//
// - Each table is an Arrow IPC *file* written incrementally, one fixed-size record batch at a time
//   (TableBuffer), so memory is bounded by one batch per table however long the run.
// - The directory's lifecycle is TraceDirectory's: the `incomplete` marker holds the manifest as known so far
//   (rewritten here after every batch with what is safely on disk); close() finishes every table and has
//   manifest.json written and the marker removed. close(false, ..) after Ctrl-C or a guest failure still
//   finishes every file properly: nothing recorded is lost.
// - Nothing host-dependent goes into any file: identical event streams give byte-identical directories.
//
// Hot paths (onExit, onIo) write straight into preallocated typed arrays: no allocation, no BigInt.

import { ExitWord, type ExitEvent, type GroundTruthEvent, type InterruptEvent, type IoEvent,
  type MachineObserver, type SyscallEvent, type WitnessEvent } from '../emulator/events.js';
import { MAX_EXIT_REASON, exitReasonKey } from '../emulator/vmx/exitReasons.js';
import { FileSink } from './FileSink.js';
import { canonical, manifestText, type FileRef, type ImageRef, type Manifest, type StopInfo, type TableRef } from './manifest.js';
import { TraceDirectory } from './TraceDirectory.js';
import type { FileDigest } from './fileHash.js';
import { WitnessTableWriter } from './witnessTable.js';
import { EXIT_WORD_COLUMNS, FORMAT_NAME, FORMAT_VERSION, columnSpec, TABLES, TABLE_NAMES, TraceFile, WITNESS,
  type TableName } from './schema.js';
import { put64, TableBuffer, type ColumnBuffer } from './TableBuffer.js';
import { GroundTruthRows } from './GroundTruthRows.js';
import { SyscallRows } from './SyscallRows.js';
import { TraceFilesWriter, type TraceCheckpoints, type TraceFiles, type TraceFilesSpec, type TraceStreams } from './TraceFiles.js';
import { TraceFilesWorker } from './TraceFilesWorker.js';
import { DEFAULT_COMPRESSION, TRACE_COMPRESSIONS, TraceCompression } from './compression.js';
import { TraceError } from '../errors.js';
import type { CheckpointState } from './checkpointFile.js';
import type { InitialImage } from './InitialImage.js';

export interface TraceWriterOptions {
  workload: { name: string; description?: string; params?: Record<string, string | number> };
  seed: number;
  /** Exit-configuration preset: its name and the settings that define it. */
  exitPreset: { name: string; [k: string]: unknown };
  /** Cost-model preset: its name and every figure (cycles). */
  costModel: { name: string; figures: Record<string, number> };
  /** Guest TSC = icount x this; gives the `ts` column of io, interrupts and ground_truth. */
  cyclesPerInstruction: number;
  /** More machine facts for the manifest (memory size, TSC frequency, vCPUs, ...). No host data. */
  machine?: Record<string, unknown>;
  /** Device names for io.arrow's `device` dictionary. Names first seen before io.arrow's first batch is
   *  written are added; a name first seen after that is an error, so list every device here. */
  devices?: readonly string[];
  /** Rows per record batch (default 32768). */
  batchRows?: number;
  /** Arrow IPC body compression of the tables (default lz4: LZ4_FRAME per buffer; none = uncompressed). */
  compression?: TraceCompression;
  /** Where the table files are compressed, hashed and written: `thread`, a writer thread (the default: the
   *  recording thread only copies each finished batch), or `inline`, on the recording thread. Same bytes. */
  writer?: TraceFilesMode;
  /** Replace an existing trace (a directory holding manifest.json or `incomplete`) at `dir`. */
  overwrite?: boolean;
  /** Free-form, JSON-serializable additions to the manifest (`extra`). */
  extra?: Record<string, unknown>;
  /** Write witness.arrow (the Linux kernel-module witness; runs that load it only). */
  witness?: boolean;
}

/** How a run ended, for close(). Fields left out are taken from what the writer saw. */
export interface StopInput {
  reason: string;
  detail?: string;
  status?: number;
  icount?: number;
  cycles?: number;
}

export const DEFAULT_BATCH_ROWS = 32768;

/** A file written chunk by chunk through the trace's files (TraceWriter.stream). */
export interface ChunkStream {
  /** Append one chunk (compressed as one LZ4 frame under lz4 compression); the chunk's buffer is handed over. */
  append(chunk: Uint8Array): void;
  close(): void;
}

export const TraceFilesMode = { thread: 'thread', inline: 'inline' } as const;
export type TraceFilesMode = (typeof TraceFilesMode)[keyof typeof TraceFilesMode];

/** The word columns of exits.arrow copied as they are; the nullable addresses are written with their null bit. */
const EXIT_COPIED_WORDS = EXIT_WORD_COLUMNS.filter(([name]) => columnSpec('exits', name)?.nullable === false);

export class TraceWriter implements MachineObserver {
  readonly dir: string;
  private readonly directory: TraceDirectory;
  private readonly opts: TraceWriterOptions;
  private readonly tables: Record<TableName, TableBuffer>;
  /** Where the tables' batches and the marker are written (TraceFiles.ts). */
  private readonly files: TraceFiles & TraceStreams & TraceCheckpoints;
  private readonly console: FileSink;
  private readonly images: ImageRef[] = [];
  private readonly cpi: number;
  private readonly batchRows: number;
  readonly compression: TraceCompression;
  private isClosed = false;
  private manifest: Manifest | null = null;

  // exits.arrow
  private readonly exits: TableBuffer;
  private readonly xSeq: Uint32Array; private readonly xIcount: Uint32Array; private readonly xTs: Uint32Array;
  private readonly xCycles: Uint32Array; private readonly xCost: Uint32Array; private readonly xCpu: Uint16Array;
  private readonly xReason: Uint16Array; private readonly xReasonName: Int8Array; private readonly xLen: Uint8Array;
  private readonly xIntInfo: Uint32Array; private readonly xIntErr: Uint32Array;
  private readonly xLinear: Uint32Array; private readonly xPhysical: Uint32Array;
  private readonly xCs: Uint16Array; private readonly xSs: Uint16Array; private readonly xCpl: Uint8Array;
  private readonly xWordDst: Uint32Array[]; private readonly xWordSrc: Int32Array;
  private readonly xReasonNameCol: ColumnBuffer; private readonly xLinearCol: ColumnBuffer;
  private readonly xPhysicalCol: ColumnBuffer;
  private readonly exitsByReason = new Float64Array(65536);
  /** exitsByReason as of the last exits.arrow batch on disk (for the `incomplete` marker). */
  private readonly flushedByReason = new Float64Array(65536);

  // io.arrow
  private readonly io: TableBuffer;
  private readonly iIcount: Uint32Array; private readonly iTs: Uint32Array; private readonly iExitSeq: Uint32Array;
  private readonly iPort: Uint16Array; private readonly iSize: Uint8Array; private readonly iDir: Uint8Array;
  private readonly iValue: Uint32Array; private readonly iDevice: Int8Array;
  private readonly iDataCol: ColumnBuffer; private readonly iDeviceCol: ColumnBuffer;
  private lastDevice = '';
  private lastDeviceCode = -1;

  // interrupts.arrow
  private readonly intr: TableBuffer;
  private readonly nIcount: Uint32Array; private readonly nTs: Uint32Array; private readonly nVector: Uint8Array;
  private readonly nType: Uint8Array; private readonly nTypeName: Int8Array; private readonly nErr: Uint32Array;
  private readonly nErrCol: ColumnBuffer;

  // ground_truth.arrow, syscalls.arrow
  private readonly gt: TableBuffer;
  private readonly gtRows: GroundTruthRows;
  private readonly sys: TableBuffer;
  private readonly sysRows: SyscallRows;

  // Totals as seen in the events.
  private exitCount = 0;
  private lastExitSeq = -1;
  private lastCycles = 0;
  private maxIcount = 0;
  private counts: Record<TableName, number> = { exits: 0, io: 0, interrupts: 0, ground_truth: 0, syscalls: 0 };
  /** witness.arrow, when the run loads the kernel-module witness; null otherwise (no file). */
  private readonly witness: WitnessTableWriter | null = null;

  constructor(dir: string, opts: TraceWriterOptions) {
    this.dir = dir;
    this.opts = opts;
    this.cpi = opts.cyclesPerInstruction;
    this.batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isInteger(this.batchRows) || this.batchRows < 1) throw new TraceError(`batchRows must be a positive integer, got ${opts.batchRows}`);
    this.compression = opts.compression ?? DEFAULT_COMPRESSION;
    if (!TRACE_COMPRESSIONS.includes(this.compression)) throw new TraceError(`unknown compression "${opts.compression}"`);
    if (!(this.cpi > 0)) throw new TraceError(`cyclesPerInstruction must be positive, got ${opts.cyclesPerInstruction}`);
    const d = (this.directory = new TraceDirectory(dir, opts.overwrite ?? false));

    try {
      const paths = {} as Record<TableName, string>;
      for (const name of TABLE_NAMES) paths[name] = d.formatFile(TABLES[name].file);
      const spec: TraceFilesSpec = { dir, paths, compression: this.compression };
      this.files = (opts.writer ?? TraceFilesMode.thread) === TraceFilesMode.inline ? new TraceFilesWriter(spec) : new TraceFilesWorker(spec);
      const t = (name: TableName): TableBuffer => new TableBuffer(TABLES[name], this.files, this.batchRows);
      this.tables = { exits: t('exits'), io: t('io'), interrupts: t('interrupts'), ground_truth: t('ground_truth'), syscalls: t('syscalls') };
      this.console = new FileSink(d.formatFile(TraceFile.console));
      if (opts.witness === true) this.witness = new WitnessTableWriter(d.formatFile(WITNESS.file), this.batchRows, this.compression, this.cpi);
    } catch (e) {
      throw new TraceError(`cannot write the trace in ${dir}: ${(e as Error).message}`, dir);
    }

    const x = (this.exits = this.tables.exits);
    this.xSeq = x.words('seq'); this.xIcount = x.words('icount'); this.xTs = x.words('ts'); this.xCycles = x.words('cycles');
    this.xCost = x.fixed('cost'); this.xCpu = x.fixed('cpu'); this.xReason = x.fixed('exit_reason');
    this.xReasonName = x.fixed('exit_reason_name'); this.xLen = x.fixed('instruction_length');
    this.xIntInfo = x.fixed('interruption_info'); this.xIntErr = x.fixed('interruption_error_code');
    this.xLinear = x.words('guest_linear'); this.xPhysical = x.words('guest_physical');
    this.xCs = x.fixed('cs'); this.xSs = x.fixed('ss'); this.xCpl = x.fixed('cpl');
    this.xWordDst = EXIT_COPIED_WORDS.map(([name]) => x.words(name));
    this.xWordSrc = Int32Array.from(EXIT_COPIED_WORDS.map(([, w]) => w));
    this.xReasonNameCol = x.col('exit_reason_name'); this.xLinearCol = x.col('guest_linear');
    this.xPhysicalCol = x.col('guest_physical');

    const io = (this.io = this.tables.io);
    this.iIcount = io.words('icount'); this.iTs = io.words('ts'); this.iExitSeq = io.words('exit_seq');
    this.iPort = io.fixed('port'); this.iSize = io.fixed('size'); this.iDir = io.fixed('direction');
    this.iValue = io.fixed('value'); this.iDevice = io.fixed('device');
    this.iDataCol = io.col('data');
    const dev = (this.iDeviceCol = io.col('device'));
    for (const d of opts.devices ?? []) if (dev.code(d) < 0) throw new TraceError(`too many devices for io.arrow's dictionary (at most 127)`);
    dev.code('none');

    const n = (this.intr = this.tables.interrupts);
    this.nIcount = n.words('icount'); this.nTs = n.words('ts'); this.nVector = n.fixed('vector');
    this.nType = n.fixed('type'); this.nTypeName = n.fixed('type_name'); this.nErr = n.fixed('error_code');
    this.nErrCol = n.col('error_code');

    this.gtRows = new GroundTruthRows((this.gt = this.tables.ground_truth), this.cpi);
    this.sysRows = new SyscallRows((this.sys = this.tables.syscalls), this.cpi);
    this.writeIncomplete();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Rows recorded so far per table (including rows not yet flushed). */
  rowCounts(): Readonly<Record<TableName, number>> {
    return { ...this.counts };
  }

  onExit(e: ExitEvent): void {
    if (this.isClosed) return;
    const t = this.exits;
    const r = t.rows;
    const r2 = r << 1;
    put64(this.xSeq, r2, e.seq);
    put64(this.xIcount, r2, e.icount);
    put64(this.xTs, r2, e.tsc);
    put64(this.xCycles, r2, e.cycles);
    this.xCost[r] = e.cost;
    this.xCpu[r] = e.vcpu;
    const reason = e.reason & 0xffff;
    this.xReason[r] = reason;
    const names = this.xReasonNameCol;
    if (reason <= MAX_EXIT_REASON) {
      this.xReasonName[r] = reason;
      names.setValid(r);
    } else {
      this.xReasonName[r] = 0;
      names.setNull(r);
    }
    this.xLen[r] = e.instructionLength;
    this.xIntInfo[r] = e.interruptionInfo;
    this.xIntErr[r] = e.interruptionErrorCode;
    const w = e.words;
    const lin = this.xLinearCol;
    if (e.hasGuestLinear) {
      this.xLinear[r2] = w[ExitWord.guestLinear]!;
      this.xLinear[r2 + 1] = w[ExitWord.guestLinear + 1]!;
      lin.setValid(r);
    } else {
      this.xLinear[r2] = 0;
      this.xLinear[r2 + 1] = 0;
      lin.setNull(r);
    }
    const phys = this.xPhysicalCol;
    if (e.hasGuestPhysical) {
      this.xPhysical[r2] = w[ExitWord.guestPhysical]!;
      this.xPhysical[r2 + 1] = w[ExitWord.guestPhysical + 1]!;
      phys.setValid(r);
    } else {
      this.xPhysical[r2] = 0;
      this.xPhysical[r2 + 1] = 0;
      phys.setNull(r);
    }
    this.xCs[r] = e.cs;
    this.xSs[r] = e.ss;
    this.xCpl[r] = e.cpl;
    const dst = this.xWordDst;
    const src = this.xWordSrc;
    for (let k = 0; k < dst.length; k++) {
      const d = dst[k]!;
      const s = src[k]!;
      d[r2] = w[s]!;
      d[r2 + 1] = w[s + 1]!;
    }
    this.exitsByReason[reason]!++;
    this.exitCount++;
    this.counts.exits++;
    this.lastExitSeq = e.seq;
    this.lastCycles = e.cycles;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    t.rows = r + 1;
    if (t.rows === this.batchRows) this.flushTable(t);
  }

  onIo(e: IoEvent): void {
    if (this.isClosed) return;
    const t = this.io;
    const r = t.rows;
    const r2 = r << 1;
    put64(this.iIcount, r2, e.icount);
    put64(this.iTs, r2, e.icount * this.cpi);
    put64(this.iExitSeq, r2, e.exitSeq);
    this.iPort[r] = e.port;
    this.iSize[r] = e.size;
    this.iDir[r] = e.direction;
    this.iValue[r] = e.value;
    const data = this.iDataCol;
    if (e.data === null) data.setNullBytes(r);
    else data.setBytes(r, e.data);
    if (e.device !== this.lastDevice || this.lastDeviceCode < 0) {
      const code = this.iDeviceCol.code(e.device);
      if (code < 0) {
        throw new TraceError(`io.arrow: device "${e.device}" was first seen after the device dictionary was written; ` +
          'list every device in TraceWriterOptions.devices');
      }
      this.lastDevice = e.device;
      this.lastDeviceCode = code;
    }
    this.iDevice[r] = this.lastDeviceCode;
    this.counts.io++;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    t.rows = r + 1;
    if (t.rows === this.batchRows) this.flushTable(t);
  }

  onInterrupt(e: InterruptEvent): void {
    if (this.isClosed) return;
    const t = this.intr;
    const r = t.rows;
    put64(this.nIcount, r << 1, e.icount);
    put64(this.nTs, r << 1, e.icount * this.cpi);
    this.nVector[r] = e.vector;
    this.nType[r] = e.type;
    this.nTypeName[r] = e.type & 7;
    if (e.errorCode < 0) {
      this.nErr[r] = 0;
      this.nErrCol.setNull(r);
    } else {
      this.nErr[r] = e.errorCode;
      this.nErrCol.setValid(r);
    }
    this.counts.interrupts++;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    t.rows = r + 1;
    if (t.rows === this.batchRows) this.flushTable(t);
  }

  onGroundTruth(e: GroundTruthEvent): void {
    if (this.isClosed) return;
    this.gtRows.add(e);
    this.counts.ground_truth++;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    if (this.gt.rows === this.batchRows) this.flushTable(this.gt);
  }

  /** One report of the kernel-module witness (witness.arrow; ignored when the writer has no such table). */
  onWitness(e: WitnessEvent): void {
    if (this.isClosed || this.witness === null) return;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    if (this.witness.add(e)) this.flushTable(this.witness.table);
  }

  /** One system call seen by the interception strategy (syscalls.arrow). */
  onSyscall(e: SyscallEvent): void {
    if (this.isClosed) return;
    this.sysRows.add(e);
    this.counts.syscalls++;
    if (e.icount > this.maxIcount) this.maxIcount = e.icount;
    if (this.sys.rows === this.batchRows) this.flushTable(this.sys);
  }

  onConsole(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.console.write(bytes);
  }

  /**
   * Copy a guest image into `images/<sha256>` (content-addressed: the same bytes are stored once) and list
   * it in the manifest under `name`. Returns the manifest entry.
   */
  addImage(name: string, bytes: Uint8Array): ImageRef {
    this.checkOpen();
    const ref: ImageRef = { name, ...this.directory.addImage(bytes) };
    this.images.push(ref);
    this.writeIncomplete();
    return ref;
  }

  /** Write an additional file (e.g. `inputs.msgpack`, `checkpoints/000001.msgpack`) in one go. */
  writeFile(rel: string, data: Uint8Array | string): void {
    this.checkOpen();
    this.directory.writeExtra(rel, data);
  }

  /** Guest memory as loaded (before the first checkpoint), and a checkpoint file (checkpointFile.ts) whose
   *  memory ranges are computed, packed and written where the files are (TraceCheckpoints). */
  checkpointImage(image: InitialImage): void {
    this.checkOpen();
    this.files.checkpointImage(image);
  }

  /** A checkpoint is near (TraceCheckpoints.prepareCheckpoint). */
  prepareCheckpoint(): void {
    if (!this.isClosed) this.files.prepareCheckpoint();
  }

  checkpoint(rel: string, state: CheckpointState, ram: Uint8Array): void {
    this.checkOpen();
    this.files.checkpoint(this.directory.extraFile(rel), state, ram);
  }

  /**
   * Absolute path for an additional file the caller writes itself (a streaming log such as the replay
   * input log); parent directories are created. The file is hashed and listed in the manifest at close,
   * so it must be complete by then.
   */
  filePath(rel: string): string {
    this.checkOpen();
    return this.directory.extraFile(rel);
  }

  /**
   * A file the caller writes as a sequence of chunks (the input log), through the trace's files: with the
   * writer thread, compressed (one LZ4 frame per chunk under lz4 compression) and written there, in order with
   * the tables. Hashed and listed in the manifest at close; close the stream before.
   */
  stream(rel: string): ChunkStream {
    this.checkOpen();
    const id = this.files.openStream(this.directory.extraFile(rel), this.compression === TraceCompression.lz4);
    return {
      append: (chunk) => this.files.append(id, chunk),
      close: () => this.files.closeStream(id),
    };
  }

  /**
   * After a write failed (a full disk): close every file without writing more and remove temporaries. The
   * trace stays `recording` (incomplete): its `incomplete` marker describes the whole batches on disk, which
   * readers and `trace replay` use. Idempotent; close() is not possible afterwards.
   */
  abandon(): void {
    if (this.manifest !== null) return;
    this.isClosed = true;
    this.files.abandon();
    this.witness?.abandon();
    this.console.abandon();
    this.directory.removeTemporaries();
  }

  /**
   * Wait until the writer thread has written every batch and marker handed to it (with the default writer
   * thread, a process that dies loses the batches still queued: the marker on disk lists the ones written).
   */
  settle(): void {
    if (!this.isClosed) this.files.settle();
  }

  /** Write every partial batch now (the `incomplete` marker then describes everything recorded so far). */
  flush(): void {
    if (this.isClosed) return;
    for (const name of TABLE_NAMES) this.tables[name].flush();
    this.onExitsBatch?.();
    this.witness?.table.flush();
    this.flushedByReason.set(this.exitsByReason);
    this.console.flush();
    this.writeIncomplete();
  }

  /**
   * Finish the trace: every table file gets its footer, manifest.json is written and `incomplete` removed.
   * `complete` is false when the run was cut short (signal, guest or hypervisor failure): the files are
   * still valid and the manifest says where and why it stopped. Idempotent: returns the same manifest.
   */
  close(complete: boolean, stop: StopInput | string): Manifest {
    if (this.manifest !== null) return this.manifest;
    const s: StopInput = typeof stop === 'string' ? { reason: stop } : stop;
    this.isClosed = true;
    for (const name of TABLE_NAMES) this.tables[name].close();
    const tableFiles: Map<string, FileDigest> = this.files.close();
    if (this.witness !== null) tableFiles.set(WITNESS.file, this.witness.close());
    tableFiles.set(TraceFile.console, this.console.close());
    const files = this.directory.listFiles(tableFiles);
    const stopInfo: StopInfo = {
      reason: s.reason,
      detail: s.detail ?? '',
      status: s.status ?? 0,
      icount: s.icount ?? this.maxIcount,
      last_exit_seq: this.lastExitSeq,
    };
    const m = this.buildManifest(complete, stopInfo, files, s.icount ?? this.maxIcount, s.cycles ?? this.lastCycles, false);
    for (const name of TABLE_NAMES) m.tables[name].bytes = tableFiles.get(TABLES[name].file)!.bytes;
    this.directory.finish(manifestText(m));
    this.manifest = m;
    return m;
  }

  private checkOpen(): void {
    if (this.isClosed) throw new TraceError(`trace ${this.dir} is already closed`);
  }

  /**
   * A full batch of `t` goes to disk. The marker is rewritten after every batch of exits.arrow, and after a
   * batch of another table only when exits.arrow wrote none since that table's previous batch (the table runs
   * ahead of the exits): where tables fill in step (an exit-dense run fills exits, syscalls and ground truth
   * together) one rewrite per exits batch instead of three. The marker may list fewer rows of a table than its
   * file holds, never more; readers read what it lists. (Rewriting it was 13% of the writer's time.)
   */
  private flushTable(t: TableBuffer): void {
    if (t === this.exits) this.onExitsBatch?.();
    t.flush();
    this.console.flush();
    if (t === this.exits) {
      this.flushedByReason.set(this.exitsByReason);
      this.writeIncomplete();
      return;
    }
    const exitsBatches = this.exits.batches;
    const ahead = (this.exitsBatchesAt.get(t) ?? 0) === exitsBatches;
    this.exitsBatchesAt.set(t, exitsBatches);
    if (ahead) this.writeIncomplete();
  }

  /**
   * Called when a batch of exits.arrow goes to disk, just before it (and the marker that lists it): the recorder
   * flushes the input log's chunk there, so a recording killed later replays up to that batch (its inputs are
   * on disk; the small chunk goes first, so a disk that fills up on the batch still has it).
   */
  onExitsBatch: (() => void) | null = null;

  /** exits.arrow's batch count when each other table last wrote a batch. */
  private readonly exitsBatchesAt = new Map<TableBuffer, number>();

  /** The marker: the manifest as far as it is on disk (flushed rows and bytes only). */
  private writeIncomplete(): void {
    // The tables' bytes on disk are known where they are written: TraceFiles fills them in.
    this.files.marker(this.buildManifest(false, null, [], this.maxIcount, this.lastCycles, true));
  }

  private buildManifest(complete: boolean, stop: StopInfo | null, files: FileRef[], icount: number, cycles: number,
    flushedOnly: boolean): Manifest {
    const o = this.opts;
    const tables = {} as Record<TableName, TableRef>;
    for (const name of TABLE_NAMES) {
      const t = this.tables[name];
      tables[name] = {
        file: TABLES[name].file,
        rows: flushedOnly ? t.flushedRows : this.counts[name],
        batches: t.batches,
        bytes: 0, // filled in by the caller: the files' sizes are known where they are written
      };
    }
    // witness.arrow (optional): listed beside the required tables only when the run writes it.
    const w = this.witness?.table;
    if (w !== undefined) {
      // written on this thread (a small table), so its bytes on disk are known here
      (tables as Record<string, TableRef>).witness = {
        file: WITNESS.file, rows: flushedOnly ? w.flushedRows : (this.witness as WitnessTableWriter).count, batches: w.batches,
        bytes: flushedOnly ? (this.witness as WitnessTableWriter).file.file.flushedBytes : (this.witness as WitnessTableWriter).file.file.bytes,
      };
    }
    const byReason = [];
    const counts = flushedOnly ? this.flushedByReason : this.exitsByReason;
    for (let r = 0; r < counts.length; r++) {
      const n = counts[r]!;
      if (n > 0) byReason.push({ reason: r, name: exitReasonKey(r), count: n });
    }
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.workload.params ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) params[k] = String(v);
    return {
      format: FORMAT_NAME,
      format_version: FORMAT_VERSION,
      complete,
      stop,
      workload: { name: o.workload.name, description: o.workload.description ?? '', params },
      seed: o.seed,
      exit_preset: canonical(o.exitPreset, 'exitPreset') as Manifest['exit_preset'],
      cost_model: { name: o.costModel.name, figures: canonical(o.costModel.figures, 'costModel.figures') as Record<string, number> },
      machine: canonical({ ...(o.machine ?? {}), cycles_per_instruction: this.cpi }, 'machine') as Manifest['machine'],
      images: this.images.map((i) => ({ ...i })),
      totals: {
        icount,
        cycles,
        exits: flushedOnly ? tables.exits.rows : this.exitCount,
        io: tables.io.rows,
        interrupts: tables.interrupts.rows,
        ground_truth: tables.ground_truth.rows,
        syscalls: tables.syscalls.rows,
        console_bytes: flushedOnly ? this.console.flushedBytes : this.console.bytes,
      },
      exits_by_reason: byReason,
      tables,
      files,
      compression: this.compression,
      extra: canonical(o.extra ?? {}, 'extra') as Record<string, unknown>,
    };
  }
}
