// The offline importer: streams a trace's tables to MachineObservers in the order the machine publishes
// them live, so the same tracker code runs attached to a machine (recording, replay) and over a trace.
//
// Canonical order (what src/emulator/machine.ts does): for exit `s`, first the syscall rows the
// interception strategy reported from its handler (exit_seq = s: the exit is published after its
// handler), then exit `s`, then the port accesses the instruction made (io.exit_seq = s, executed after the
// exit is handled). Accesses that caused no exit (exit_seq -1) and ground-truth events come in icount
// order before the first exit at a later icount.
//
// Events are the machine's own reused objects (src/hypervisor/events.ts). Exits carry only the fields
// analyses of process/thread identity read: seq, icount, tsc, cycles, cost, reason, cpl, cs, ss and the
// words of rsp, rip, cr3 (the other words stay 0).

import { EXIT_WORDS, ExitWord, IoDirection, type ExitEvent, type GroundTruthEvent, type IoEvent, type MachineObserver,
  type SyscallEvent } from '../hypervisor/events.js';
import type { ColumnView } from '../record/ColumnView.js';
import type { ScanBatch, TraceReader } from '../record/TraceReader.js';
import { INTERCEPT_STRATEGY_NAMES } from '../record/schema.js';
import { scanColumns, type ProjectedBatch } from './columns.js';

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
function nextBatch(it: Generator<ProjectedBatch> | null): ProjectedBatch | null {
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
  const nExit = onExit.length, nSys = onSys.length, nIo = onIo.length;
  const sum: ImportSummary = { exits: 0, syscalls: 0, io: 0, groundTruth: 0, icount: reader.manifest.totals.icount };

  // --- syscalls cursor
  const withArgs = opts.syscallArgs ?? true;
  const wantRip = nExit + nSys > 0 || rows.some((o) => o.wantsRip);
  const sysCols = ['icount', 'exit_seq', 'number', 'cr3', 'rsp'];
  if (wantRip) sysCols.push('rip');
  if (nSys > 0) sysCols.push('exits', 'strategy');
  if (nSys > 0 && withArgs) sysCols.push('arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5');
  const kRip = sysCols.indexOf('rip'), kEx = sysCols.indexOf('exits'), kSt = sysCols.indexOf('strategy');
  const sysIt = nSys + nRows > 0 && reader.rowCount('syscalls') > 0 ? scanColumns(reader, 'syscalls', sysCols) : null;
  const se: SyscallEvent = { kind: 'syscall', icount: 0, exitSeq: 0, strategy: '', number: 0, args: new Array<number>(12).fill(0),
    cr3: 0, rspLo: 0, rspHi: 0, ripLo: 0, ripHi: 0, exits: 1 };
  const sArgs = se.args;
  let sb = nextBatch(sysIt);
  let sI = 0, sN = 0;
  let sIc: Uint32Array = NONE32, sSeq: Uint32Array = NONE32, sEx: Uint8Array = NONE8, sSt: Uint8Array = NONE8, sNum: Uint32Array = NONE32,
    sCr3: Uint32Array = NONE32, sRsp: Uint32Array = NONE32, sRip: Uint32Array = NONE32;
  let sArgCols: Uint32Array[] = [];
  let nextSys = Infinity;
  if (sb !== null) {
    const c = sb.cols;
    sN = sb.length;
    sIc = c[0] as Uint32Array; sSeq = c[1] as Uint32Array; sNum = c[2] as Uint32Array; sCr3 = c[3] as Uint32Array;
    sRsp = c[4] as Uint32Array; sRip = kRip >= 0 ? c[kRip] as Uint32Array : zeros(2 * sN);
    if (kEx >= 0) { sEx = c[kEx] as Uint8Array; sSt = c[kSt] as Uint8Array; }
    sArgCols = c.slice(kSt + 1) as Uint32Array[];
    nextSys = sSeq[0]! + (sSeq[1]! | 0) * TWO32;
  }

  // --- io cursor
  const ioIt = nIo > 0 && reader.rowCount('io') > 0
    ? scanColumns(reader, 'io', ['icount', 'exit_seq', 'port', 'size', 'direction', 'value', 'device']) : null;
  let deviceNames: readonly string[] = [];
  if (ioIt !== null) {
    for (const b of reader.scan('io', ['device'])) {
      deviceNames = b.columns.device.dictionary ?? [];
      break;
    }
  }
  const ie: IoEvent = { kind: 'io', icount: 0, exitSeq: -1, port: 0, size: 1, direction: IoDirection.out, value: 0, data: null, device: '' };
  let ib = nextBatch(ioIt);
  let iI = 0, iN = 0;
  let iIc: Uint32Array = NONE32, iSeq: Uint32Array = NONE32, iPort: Uint16Array = NONE16, iSize: Uint8Array = NONE8, iDir: Uint8Array = NONE8,
    iVal: Uint32Array = NONE32, iDev: Uint8Array = NONE8;
  let nextIoSeq = Infinity, nextIoIc = Infinity;
  if (ib !== null) {
    const c = ib.cols;
    iN = ib.length;
    iIc = c[0] as Uint32Array; iSeq = c[1] as Uint32Array; iPort = c[2] as Uint16Array; iSize = c[3] as Uint8Array;
    iDir = c[4] as Uint8Array; iVal = c[5] as Uint32Array; iDev = c[6] as Uint8Array;
    nextIoSeq = iSeq[0]! + (iSeq[1]! | 0) * TWO32;
    nextIoIc = iIc[0]! + iIc[1]! * TWO32;
  }

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
        seqIo = seq;
        icIo = ic;
        seqSys = seq;
        icGt = ic;
      } else if (i === 0) {
        seqIo = -Infinity;
        icIo = -Infinity;
        seqSys = Number.MAX_VALUE; // every remaining syscall (nextSys is Infinity once they are done)
      } else seqSys = -Infinity;
      while (nextGt < icGt) nextGt = gt!.emit();
      // I/O before this exit: accesses of earlier exits, and accesses that caused no exit before this icount
      while (nextIoSeq < seqIo || (nextIoSeq === -1 && nextIoIc < icIo)) {
        if (tail) while (nextGt < nextIoIc) nextGt = gt!.emit();
        ie.icount = nextIoIc;
        ie.exitSeq = nextIoSeq;
        ie.port = iPort[iI]!;
        ie.size = iSize[iI]!;
        ie.direction = iDir[iI]! as IoDirection;
        ie.value = iVal[iI]!;
        ie.device = deviceNames[iDev[iI]!] ?? 'none';
        for (let k = 0; k < nIo; k++) onIo[k]!.onIo!(ie);
        sum.io++;
        if (++iI >= iN) {
          ib = nextBatch(ioIt);
          iI = 0;
          if (ib === null) {
            iN = 0;
            nextIoSeq = Infinity;
            nextIoIc = Infinity;
            continue;
          }
          const ic2 = ib.cols;
          iN = ib.length;
          iIc = ic2[0] as Uint32Array; iSeq = ic2[1] as Uint32Array; iPort = ic2[2] as Uint16Array; iSize = ic2[3] as Uint8Array;
          iDir = ic2[4] as Uint8Array; iVal = ic2[5] as Uint32Array; iDev = ic2[6] as Uint8Array;
        }
        nextIoSeq = iSeq[2 * iI]! + (iSeq[2 * iI + 1]! | 0) * TWO32;
        nextIoIc = iIc[2 * iI]! + iIc[2 * iI + 1]! * TWO32;
      }
      // Syscalls the strategy reported from this exit's handler (published before the exit)
      while (nextSys <= seqSys) {
        const j2 = 2 * sI;
        const sic = sIc[j2]! + sIc[j2 + 1]! * TWO32, scr3 = sCr3[j2]! + sCr3[j2 + 1]! * TWO32;
        for (let k = 0; k < nRows; k++) rows[k]!.syscallRow(sic, nextSys, sNum[sI]!, scr3, sRsp[j2]! | 0, sRsp[j2 + 1]! | 0, sRip[j2]! | 0, sRip[j2 + 1]! | 0);
        if (nSys > 0) {
          se.icount = sic;
          se.exitSeq = nextSys;
          se.exits = sEx[sI]!;
          se.strategy = INTERCEPT_STRATEGY_NAMES[sSt[sI]!] ?? '';
          se.number = sNum[sI]!;
          if (withArgs) {
            for (let a = 0; a < 6; a++) {
              const col = sArgCols[a]!;
              sArgs[2 * a] = col[j2]!;
              sArgs[2 * a + 1] = col[j2 + 1]!;
            }
          }
          se.cr3 = scr3;
          se.rspLo = sRsp[j2]!;
          se.rspHi = sRsp[j2 + 1]!;
          se.ripLo = sRip[j2]!;
          se.ripHi = sRip[j2 + 1]!;
          for (let k = 0; k < nSys; k++) onSys[k]!.onSyscall!(se);
        }
        sum.syscalls++;
        if (++sI >= sN) {
          sb = nextBatch(sysIt);
          sI = 0;
          if (sb === null) {
            sN = 0;
            nextSys = Infinity;
            continue;
          }
          const sc = sb.cols;
          sN = sb.length;
          sIc = sc[0] as Uint32Array; sSeq = sc[1] as Uint32Array; sNum = sc[2] as Uint32Array; sCr3 = sc[3] as Uint32Array;
          sRsp = sc[4] as Uint32Array; sRip = kRip >= 0 ? sc[kRip] as Uint32Array : zeros(2 * sN);
          if (kEx >= 0) { sEx = sc[kEx] as Uint8Array; sSt = sc[kSt] as Uint8Array; }
          sArgCols = sc.slice(kSt + 1) as Uint32Array[];
        }
        nextSys = sSeq[2 * sI]! + (sSeq[2 * sI + 1]! | 0) * TWO32;
      }
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
      while (nextIoSeq === seq) {
        ie.icount = nextIoIc;
        ie.exitSeq = nextIoSeq;
        ie.port = iPort[iI]!;
        ie.size = iSize[iI]!;
        ie.direction = iDir[iI]! as IoDirection;
        ie.value = iVal[iI]!;
        ie.device = deviceNames[iDev[iI]!] ?? 'none';
        for (let k = 0; k < nIo; k++) onIo[k]!.onIo!(ie);
        sum.io++;
        if (++iI >= iN) {
          ib = nextBatch(ioIt);
          iI = 0;
          if (ib === null) {
            iN = 0;
            nextIoSeq = Infinity;
            nextIoIc = Infinity;
            continue;
          }
          const ic2 = ib.cols;
          iN = ib.length;
          iIc = ic2[0] as Uint32Array; iSeq = ic2[1] as Uint32Array; iPort = ic2[2] as Uint16Array; iSize = ic2[3] as Uint8Array;
          iDir = ic2[4] as Uint8Array; iVal = ic2[5] as Uint32Array; iDev = ic2[6] as Uint8Array;
        }
        nextIoSeq = iSeq[2 * iI]! + (iSeq[2 * iI + 1]! | 0) * TWO32;
        nextIoIc = iIc[2 * iI]! + iIc[2 * iI + 1]! * TWO32;
      }
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

type GtColumn = 'icount' | 'type' | 'pid' | 'tid' | 'ppid' | 'cr3' | 'a0' | 'a1' | 'a2' | 'name';

/** Ground-truth rows (small: the general reader is fine). */
class GroundTruthCursor {
  private readonly rows: Generator<ScanBatch<GtColumn>>;
  private b: ScanBatch<GtColumn> | undefined;
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
    for (;;) {
      const r = this.rows.next();
      if (r.done) {
        this.b = undefined;
        return;
      }
      if (r.value.length > 0) {
        this.b = r.value;
        this.i = 0;
        return;
      }
    }
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
