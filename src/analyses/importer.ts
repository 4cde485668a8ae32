// The offline importer: streams a trace's tables to MachineObservers in the order the machine publishes
// them live, so the same tracker code runs attached to a machine (recording, replay) and over a trace.
//
// Canonical order (what src/emulator/machine.ts does): for exit `s`, first the syscall rows the
// interception strategy reported from its handler (exit_seq = s: the exit is published after its
// handler), then exit `s`, then the port accesses the instruction made (io.exit_seq = s, executed after the
// exit is handled). Accesses that caused no exit (exit_seq -1) and ground-truth events come in icount
// order before the first exit at a later icount.
//
// Events are the machine's own reused objects (src/emulator/events.ts). Exits carry only the fields
// analyses of process/thread identity read: seq, icount, tsc, cycles, cost, reason, cpl, cs, ss and the
// words of rsp, rip, cr3 (the other words stay 0).

import { EXIT_WORDS, ExitWord, IoDirection, type ExitEvent, type GroundTruthEvent, type IoEvent, type MachineObserver,
  type SyscallEvent } from '../emulator/events.js';
import type { ColumnView } from '../record/ColumnView.js';
import type { ScanBatch, TraceReader } from '../record/TraceReader.js';
import { INTERCEPT_STRATEGY_NAMES } from '../record/schema.js';
import { scanColumns, type ProjectedBatch } from '../record/scanColumns.js';
import { TraceError } from '../errors.js';

const TWO32 = 4294967296;

export interface ImportOptions {
  /** Fill SyscallEvent.args (default true); identity tracking does not read them. */
  syscallArgs?: boolean;
}

export interface ImportSummary {
  exits: number;
  syscalls: number;
  io: number;
  groundTruth: number;
  /** Last icount of the trace (manifest totals). */
  icount: number;
}

/** The next non-empty batch of a projected scan, or null at the end. */
function nextBatch<B extends { length: number }>(it: Generator<B> | null): B | null {
  if (it === null) return null;
  for (;;) {
    const r = it.next();
    if (r.done) return null;
    if (r.value.length > 0) return r.value;
  }
}

const NONE32 = new Uint32Array(2);
const NONE16 = new Uint16Array(1);
const NONE8 = new Uint8Array(1);

// The columns a RowObserver reads come first (rip only if one wants it); event observers need the rest too.
const EXIT_COLS = ['icount', 'cpl', 'rsp', 'cr3', 'rip', 'cycles', 'cost', 'exit_reason', 'cs', 'ss'];

/** A column of zeros standing for one that was not read (at least `words` long). */
let zeroWords = new Uint32Array(0);
function zeros(words: number): Uint32Array {
  if (zeroWords.length < words) zeroWords = new Uint32Array(words);
  return zeroWords;
}

/**
 * An observer the importer can feed with column values instead of event objects: the same values an
 * ExitEvent or SyscallEvent carries for process/thread identity. The process tracker is one (its live
 * onExit/onSyscall unpack the event and call these), so live and offline tracking run one implementation;
 * offline it skips building an event per row and reading the columns only events carry.
 */
// The register words are int32 (the uint32 word | 0): Smi-sized, so a call that is not inlined never boxes them.
export interface RowObserver {
  /** Whether exitRow/syscallRow read ripLo/ripHi (when false and nothing else needs the rip column, it is not
   *  read and they get 0). */
  readonly wantsRip: boolean;
  exitRow(seq: number, icount: number, cpl: number, cr3: number, rspLo: number, rspHi: number, ripLo: number, ripHi: number): void;
  syscallRow(icount: number, exitSeq: number, number: number, cr3: number, rspLo: number, rspHi: number, ripLo: number, ripHi: number): void;
}

function isRowObserver(o: MachineObserver): o is MachineObserver & RowObserver {
  const r = o as Partial<RowObserver>;
  return typeof r.exitRow === 'function' && typeof r.syscallRow === 'function';
}

function newExitEventObject(): ExitEvent {
  return { kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false, cs: 0, ss: 0, cpl: 0,
    words: new Uint32Array(EXIT_WORDS) };
}

/** Stream the trace to the observers in the machine's publishing order. ground_truth.arrow is read only when an
 *  observer has onGroundTruth (scoring; trackers never subscribe).
 *
 *  Hot path: one function whose stream cursors (current batch's column arrays, row index, next key) are plain
 *  locals that no closure captures, so V8 keeps them in registers; rows are emitted by inline code. */
export function importTrace(reader: TraceReader, observers: readonly MachineObserver[], opts: ImportOptions = {}): ImportSummary {
  const cpi = reader.manifest.machine.cycles_per_instruction;
  // The observers of each kind, called as methods (not through bound copies: a method call on trackers of one
  // class stays monomorphic and can be inlined).
  const rows = observers.filter(isRowObserver);
  const onExit = observers.filter((o) => o.onExit && !isRowObserver(o));
  const onSys = observers.filter((o) => o.onSyscall && !isRowObserver(o));
  const nRows = rows.length;
  const onIo = observers.filter((o) => o.onIo);
  const onGt = observers.filter((o) => o.onGroundTruth);
  const nExit = onExit.length, nSys = onSys.length;
  const sum: ImportSummary = { exits: 0, syscalls: 0, io: 0, groundTruth: 0, icount: reader.manifest.totals.icount };

  // --- syscalls and I/O cursors
  const withArgs = opts.syscallArgs ?? true;
  const wantRip = nExit + nSys > 0 || rows.some((o) => o.wantsRip);
  const sys = new SyscallCursor(reader, rows, onSys, withArgs, wantRip, sum);
  const io = new IoCursor(reader, onIo, sum);

  // --- ground truth (small, and only for scoring: the general reader)
  const gt = onGt.length > 0 ? new GroundTruthCursor(reader, onGt, sum) : null;
  let nextGt = gt === null ? Infinity : gt.nextIcount();

  // --- exits, with the others merged in
  const e = newExitEventObject();
  const words = e.words;
  const exitIt = scanColumns(reader, 'exits', EXIT_COLS.slice(0, nExit > 0 ? EXIT_COLS.length : wantRip ? 5 : 4));
  let eb = nextBatch(exitIt);
  for (;;) {
    // One pass per exit row. After the last exit, two passes drain the rest in the order the original
    // loop would: first the syscalls, then I/O and ground truth merged by icount.
    const c = eb === null ? null : eb.cols;
    const tail = c === null;
    const n = c === null ? 2 : eb!.length;
    const icount = c === null ? NONE32 : c[0] as Uint32Array;
    const cpl = c === null ? NONE8 : c[1] as Uint8Array, rsp = c === null ? NONE32 : c[2] as Uint32Array;
    const cr3 = c === null ? NONE32 : c[3] as Uint32Array;
    const rip = c === null ? NONE32 : c.length > 4 ? c[4] as Uint32Array : zeros(2 * eb!.length);
    const start = eb === null ? 0 : eb.start;
    for (let i = 0; i < n; i++) {
      let seq = Infinity, ic = Infinity, seqIo = Infinity, icIo = Infinity, seqSys = Infinity, icGt = -Infinity;
      if (!tail) {
        seq = start + i;
        ic = icount[2 * i]! + icount[2 * i + 1]! * TWO32;
        if (ic > sum.icount) beyondEnd('exits.arrow', seq, ic, sum.icount);
        seqIo = seq;
        icIo = ic;
        seqSys = seq;
        icGt = ic;
      } else if (i === 0) {
        seqIo = -Infinity;
        icIo = -Infinity;
        seqSys = Number.MAX_VALUE; // every remaining syscall (nextSeq is Infinity once they are done)
      } else seqSys = -Infinity;
      while (nextGt < icGt) nextGt = gt!.emit();
      // I/O before this exit: accesses of earlier exits, and accesses that caused no exit before this icount
      while (io.nextSeq < seqIo || (io.nextSeq === -1 && io.nextIcount < icIo)) {
        if (tail) while (nextGt < io.nextIcount) nextGt = gt!.emit();
        io.emit();
      }
      // Syscalls the strategy reported from this exit's handler (published before the exit)
      while (sys.nextSeq <= seqSys) sys.emit();
      if (tail) continue;
      const i2 = 2 * i;
      if (nRows > 0) {
        const cr3v = cr3[i2]! + cr3[i2 + 1]! * TWO32;
        for (let k = 0; k < nRows; k++) rows[k]!.exitRow(seq, ic, cpl[i]!, cr3v, rsp[i2]! | 0, rsp[i2 + 1]! | 0, rip[i2]! | 0, rip[i2 + 1]! | 0);
      }
      if (nExit > 0) {
        e.seq = seq;
        e.icount = ic;
        e.tsc = ic * cpi;
        e.cycles = (c![5] as Uint32Array)[i2]! + (c![5] as Uint32Array)[i2 + 1]! * TWO32;
        e.cost = (c![6] as Uint32Array)[i]!;
        e.reason = (c![7] as Uint16Array)[i]!;
        e.cpl = cpl[i]!;
        e.cs = (c![8] as Uint16Array)[i]!;
        e.ss = (c![9] as Uint16Array)[i]!;
        words[ExitWord.rsp] = rsp[i2]!;
        words[ExitWord.rsp + 1] = rsp[i2 + 1]!;
        words[ExitWord.rip] = rip[i2]!;
        words[ExitWord.rip + 1] = rip[i2 + 1]!;
        words[ExitWord.cr3] = cr3[i2]!;
        words[ExitWord.cr3 + 1] = cr3[i2 + 1]!;
        for (let k = 0; k < nExit; k++) onExit[k]!.onExit!(e);
      }
      sum.exits++;
      // The port accesses this exit's instruction made (after the exit is handled)
      while (io.nextSeq === seq) io.emit();
    }
    if (eb === null) break;
    eb = nextBatch(exitIt);
  }
  // After every stream but ground truth has ended
  while (nextGt < Infinity) nextGt = gt!.emit();
  return sum;
}

/** A uint64 column's words read as a signed 64-bit number (as GroundTruthEvent's arguments are). */
function signed64(col: ColumnView, i: number): number {
  const w = col.words;
  return w ? w[2 * i]! + (w[2 * i + 1]! | 0) * TWO32 : col.number(i);
}

/** Syscall rows, fed to RowObservers (column values) and event observers (one reused SyscallEvent). */
class SyscallCursor {
  /** exit_seq of the current row; Infinity at the end. */
  nextSeq = Infinity;
  private readonly it: Generator<ProjectedBatch> | null;
  private i = 0;
  private n = 0;
  private icount: Uint32Array = NONE32;
  private seq: Uint32Array = NONE32;
  private number: Uint32Array = NONE32;
  private cr3: Uint32Array = NONE32;
  private rsp: Uint32Array = NONE32;
  private rip: Uint32Array = NONE32;
  private exits: Uint8Array = NONE8;
  private strategy: Uint8Array = NONE8;
  private args: Uint32Array[] = [];
  private readonly kRip: number;
  private readonly kExits: number;
  private readonly nRows: number;
  private readonly nEvents: number;
  private readonly ev: SyscallEvent = { kind: 'syscall', icount: 0, exitSeq: 0, strategy: '', number: 0, args: new Array<number>(12).fill(0),
    cr3: 0, rspLo: 0, rspHi: 0, ripLo: 0, ripHi: 0, exits: 1 };

  constructor(reader: TraceReader, private readonly rows: readonly RowObserver[], private readonly observers: readonly MachineObserver[],
    private readonly withArgs: boolean, wantRip: boolean, private readonly sum: ImportSummary) {
    this.nRows = rows.length;
    this.nEvents = observers.length;
    // Only the columns someone reads: rows need identity; events also the strategy fields and (opt.) args.
    const cols = ['icount', 'exit_seq', 'number', 'cr3', 'rsp'];
    if (wantRip) cols.push('rip');
    if (this.nEvents > 0) cols.push('exits', 'strategy');
    if (this.nEvents > 0 && withArgs) cols.push('arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5');
    this.kRip = cols.indexOf('rip');
    this.kExits = cols.indexOf('exits');
    this.it = this.nRows + this.nEvents > 0 && reader.rowCount('syscalls') > 0 ? scanColumns(reader, 'syscalls', cols) : null;
    this.load(nextBatch(this.it));
  }

  private load(b: ProjectedBatch | null): void {
    this.i = 0;
    if (b === null) {
      this.n = 0;
      this.nextSeq = Infinity;
      return;
    }
    const c = b.cols;
    this.n = b.length;
    this.icount = c[0] as Uint32Array;
    this.seq = c[1] as Uint32Array;
    this.number = c[2] as Uint32Array;
    this.cr3 = c[3] as Uint32Array;
    this.rsp = c[4] as Uint32Array;
    this.rip = this.kRip >= 0 ? c[this.kRip] as Uint32Array : zeros(2 * b.length);
    if (this.kExits >= 0) {
      this.exits = c[this.kExits] as Uint8Array;
      this.strategy = c[this.kExits + 1] as Uint8Array;
      this.args = c.slice(this.kExits + 2) as Uint32Array[];
    }
    this.nextSeq = this.seq[0]! + (this.seq[1]! | 0) * TWO32;
  }

  /** Emit the current row and advance. */
  emit(): void {
    const i = this.i, j = 2 * i;
    const ic = this.icount[j]! + this.icount[j + 1]! * TWO32, cr3 = this.cr3[j]! + this.cr3[j + 1]! * TWO32;
    if (ic > this.sum.icount) beyondEnd('syscalls.arrow', this.sum.syscalls, ic, this.sum.icount);
    const rsp = this.rsp, rip = this.rip;
    for (let k = 0; k < this.nRows; k++) this.rows[k]!.syscallRow(ic, this.nextSeq, this.number[i]!, cr3, rsp[j]! | 0, rsp[j + 1]! | 0, rip[j]! | 0, rip[j + 1]! | 0);
    if (this.nEvents > 0) {
      const se = this.ev;
      se.icount = ic;
      se.exitSeq = this.nextSeq;
      se.exits = this.exits[i]!;
      se.strategy = INTERCEPT_STRATEGY_NAMES[this.strategy[i]!] ?? '';
      se.number = this.number[i]!;
      if (this.withArgs) {
        for (let a = 0; a < 6; a++) {
          se.args[2 * a] = this.args[a]![j]!;
          se.args[2 * a + 1] = this.args[a]![j + 1]!;
        }
      }
      se.cr3 = cr3;
      se.rspLo = rsp[j]!;
      se.rspHi = rsp[j + 1]!;
      se.ripLo = rip[j]!;
      se.ripHi = rip[j + 1]!;
      for (let k = 0; k < this.nEvents; k++) this.observers[k]!.onSyscall!(se);
    }
    this.sum.syscalls++;
    if (++this.i >= this.n) this.load(nextBatch(this.it));
    else this.nextSeq = this.seq[2 * this.i]! + (this.seq[2 * this.i + 1]! | 0) * TWO32;
  }
}

/** I/O rows, fed to event observers (one reused IoEvent). */
class IoCursor {
  /** exit_seq (-1: the access caused no exit) and icount of the current row; Infinity at the end. */
  nextSeq = Infinity;
  nextIcount = Infinity;
  private readonly it: Generator<ProjectedBatch> | null;
  private i = 0;
  private n = 0;
  private icount: Uint32Array = NONE32;
  private seq: Uint32Array = NONE32;
  private port: Uint16Array = NONE16;
  private size: Uint8Array = NONE8;
  private dir: Uint8Array = NONE8;
  private value: Uint32Array = NONE32;
  private dev: Uint8Array = NONE8;
  private readonly deviceNames: readonly string[] = [];
  private readonly ev: IoEvent = { kind: 'io', icount: 0, exitSeq: -1, port: 0, size: 1, direction: IoDirection.out, value: 0, data: null, device: '' };

  constructor(reader: TraceReader, private readonly observers: readonly MachineObserver[], private readonly sum: ImportSummary) {
    this.it = observers.length > 0 && reader.rowCount('io') > 0
      ? scanColumns(reader, 'io', ['icount', 'exit_seq', 'port', 'size', 'direction', 'value', 'device']) : null;
    if (this.it !== null) {
      for (const b of reader.scan('io', ['device'])) {
        this.deviceNames = b.columns.device.dictionary ?? [];
        break;
      }
    }
    this.load(nextBatch(this.it));
  }

  private load(b: ProjectedBatch | null): void {
    this.i = 0;
    if (b === null) {
      this.n = 0;
      this.nextSeq = Infinity;
      this.nextIcount = Infinity;
      return;
    }
    const c = b.cols;
    this.n = b.length;
    this.icount = c[0] as Uint32Array;
    this.seq = c[1] as Uint32Array;
    this.port = c[2] as Uint16Array;
    this.size = c[3] as Uint8Array;
    this.dir = c[4] as Uint8Array;
    this.value = c[5] as Uint32Array;
    this.dev = c[6] as Uint8Array;
    this.peek();
  }

  private peek(): void {
    const j = 2 * this.i;
    this.nextSeq = this.seq[j]! + (this.seq[j + 1]! | 0) * TWO32;
    this.nextIcount = this.icount[j]! + this.icount[j + 1]! * TWO32;
    if (this.nextIcount > this.sum.icount) beyondEnd('io.arrow', this.sum.io, this.nextIcount, this.sum.icount);
  }

  /** Emit the current row and advance. */
  emit(): void {
    const i = this.i, ie = this.ev;
    ie.icount = this.nextIcount;
    ie.exitSeq = this.nextSeq;
    ie.port = this.port[i]!;
    ie.size = this.size[i]!;
    ie.direction = this.dir[i]! as IoDirection;
    ie.value = this.value[i]!;
    ie.device = this.deviceNames[this.dev[i]!] ?? 'none';
    for (let k = 0; k < this.observers.length; k++) this.observers[k]!.onIo!(ie);
    this.sum.io++;
    if (++this.i >= this.n) this.load(nextBatch(this.it));
    else this.peek();
  }
}

type GtColumn = 'icount' | 'type' | 'pid' | 'tid' | 'ppid' | 'cr3' | 'a0' | 'a1' | 'a2' | 'name';

/** Ground-truth rows (small: the general reader is fine). */
class GroundTruthCursor {
  private readonly rows: Generator<ScanBatch<GtColumn>>;
  private b: ScanBatch<GtColumn> | null = null;
  private i = 0;
  private readonly ev: GroundTruthEvent = { kind: 'groundTruth', icount: 0, type: 0, pid: 0, tid: 0, ppid: 0, cr3: 0, a0: 0, a1: 0, a2: 0, name: '' };
  // The program name of consecutive rows is mostly the same (every GT_SYSCALL row carries it): decode a row's
  // name only when its bytes differ from the previous row's, instead of one new string per row.
  private readonly nameBytes = new Uint8Array(256);
  private nameLen = -1;
  private lastName = '';

  constructor(reader: TraceReader, private readonly observers: readonly MachineObserver[], private readonly sum: ImportSummary) {
    this.rows = reader.scan('ground_truth', ['icount', 'type', 'pid', 'tid', 'ppid', 'cr3', 'a0', 'a1', 'a2', 'name']);
    this.fill();
  }

  nextIcount(): number {
    return this.b ? this.b.columns.icount.number(this.i) : Infinity;
  }

  /** Emit the current row; returns the next row's icount. */
  emit(): number {
    const c = this.b!.columns, i = this.i, ge = this.ev;
    ge.icount = c.icount.number(i);
    if (ge.icount > this.sum.icount) beyondEnd('ground_truth.arrow', this.sum.groundTruth, ge.icount, this.sum.icount);
    ge.type = c.type.number(i);
    ge.pid = c.pid.number(i);
    ge.tid = c.tid.number(i);
    ge.ppid = c.ppid.number(i);
    ge.cr3 = c.cr3.number(i);
    ge.a0 = signed64(c.a0, i);
    ge.a1 = signed64(c.a1, i);
    ge.a2 = signed64(c.a2, i);
    ge.name = this.name(c.name, i);
    for (let k = 0; k < this.observers.length; k++) this.observers[k]!.onGroundTruth!(ge);
    this.sum.groundTruth++;
    if (++this.i >= this.b!.length) this.fill();
    return this.nextIcount();
  }

  private fill(): void {
    this.b = nextBatch(this.rows);
    this.i = 0;
  }

  private name(col: ColumnView, i: number): string {
    if (col.isNull(i)) return '';
    const off = col.offsets!, v = col.values as Uint8Array;
    const at = off[i]!, len = off[i + 1]! - at;
    if (len === this.nameLen) {
      let k = 0;
      while (k < len && v[at + k] === this.nameBytes[k]) k++;
      if (k === len) return this.lastName;
    }
    this.lastName = col.string(i) ?? '';
    if (len <= this.nameBytes.length) {
      this.nameBytes.set(v.subarray(at, at + len));
      this.nameLen = len;
    } else this.nameLen = -1;
    return this.lastName;
  }
}

/**
 * A row whose icount lies past the end of the run cannot be recorded: the file is damaged. (Trackers size
 * their sampling by icount, so such a value must stop the import before it sizes anything.)
 */
function beyondEnd(file: string, row: number, icount: number, end: number): never {
  throw new TraceError(`${file} row ${row}: icount ${icount} lies beyond the end of the recording (totals.icount ${end}): the file is damaged`);
}
