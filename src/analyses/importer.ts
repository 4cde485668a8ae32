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
import type { TraceReader } from '../record/TraceReader.js';
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

/** Pulls rows of one projected table across batches. */
class Rows {
  private readonly it: Generator<ProjectedBatch>;
  b: ProjectedBatch | null = null;
  i = 0;
  constructor(it: Generator<ProjectedBatch>) {
    this.it = it;
    this.fill();
  }
  /** Advance to the next row; false at the end. */
  next(): boolean {
    if (this.b === null) return false;
    if (++this.i < this.b.length) return true;
    this.fill();
    return this.b !== null;
  }
  private fill(): void {
    for (;;) {
      const r = this.it.next();
      if (r.done) {
        this.b = null;
        return;
      }
      if (r.value.length > 0) {
        this.b = r.value;
        this.i = 0;
        return;
      }
    }
  }
}

const EXIT_COLS = ['icount', 'cycles', 'cost', 'exit_reason', 'cpl', 'cs', 'ss', 'rsp', 'rip', 'cr3'];

function newExitEventObject(): ExitEvent {
  return { kind: 'exit', seq: 0, icount: 0, tsc: 0, cycles: 0, cost: 0, vcpu: 0, reason: 0, instructionLength: 0,
    interruptionInfo: 0, interruptionErrorCode: 0, hasGuestLinear: false, hasGuestPhysical: false, cs: 0, ss: 0, cpl: 0,
    words: new Uint32Array(EXIT_WORDS) };
}

/** Stream the trace to the observers in the machine's publishing order. ground_truth.arrow is read only when an
 *  observer has onGroundTruth (scoring; trackers never subscribe). */
export function importTrace(reader: TraceReader, observers: readonly MachineObserver[], opts: ImportOptions = {}): ImportSummary {
  const cpi = reader.manifest.machine.cycles_per_instruction;
  // The observers of each kind, called as methods (not through bound copies: a method call on trackers of one
  // class stays monomorphic and can be inlined).
  const onExit = observers.filter((o) => o.onExit);
  const onSys = observers.filter((o) => o.onSyscall);
  const onIo = observers.filter((o) => o.onIo);
  const onGt = observers.filter((o) => o.onGroundTruth);
  const wantGt = onGt.length > 0;
  const sum: ImportSummary = { exits: 0, syscalls: 0, io: 0, groundTruth: 0, icount: reader.manifest.totals.icount };

  // --- syscalls
  const withArgs = opts.syscallArgs ?? true;
  const sysCols = ['icount', 'exit_seq', 'exits', 'strategy', 'number', 'cr3', 'rsp', 'rip'];
  if (withArgs) sysCols.push('arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5');
  const sys = new Rows(onSys.length > 0 && reader.rowCount('syscalls') > 0 ? scanColumns(reader, 'syscalls', sysCols) : (function* () {})());
  const se: SyscallEvent = { kind: 'syscall', icount: 0, exitSeq: 0, strategy: '', number: 0, args: new Array<number>(12).fill(0),
    cr3: 0, rspLo: 0, rspHi: 0, ripLo: 0, ripHi: 0, exits: 1 };
  const sysSeq = (): number => (sys.b === null ? Infinity : (sys.b.cols[1] as Uint32Array)[2 * sys.i]! + ((sys.b.cols[1] as Uint32Array)[2 * sys.i + 1]! | 0) * TWO32);
  const emitSys = (): void => {
    const c = sys.b!.cols;
    const i = sys.i;
    const i2 = 2 * i;
    const ic = c[0] as Uint32Array, seq = c[1] as Uint32Array;
    se.icount = ic[i2]! + ic[i2 + 1]! * TWO32;
    se.exitSeq = seq[i2]! + (seq[i2 + 1]! | 0) * TWO32;
    se.exits = (c[2] as Uint8Array)[i]!;
    se.strategy = INTERCEPT_STRATEGY_NAMES[(c[3] as Uint8Array)[i]!] ?? '';
    se.number = (c[4] as Uint32Array)[i]!;
    if (withArgs) {
      const args = se.args;
      for (let a = 0; a < 6; a++) {
        const col = c[8 + a] as Uint32Array;
        args[2 * a] = col[i2]!;
        args[2 * a + 1] = col[i2 + 1]!;
      }
    }
    const cr3 = c[5] as Uint32Array, rsp = c[6] as Uint32Array, rip = c[7] as Uint32Array;
    se.cr3 = cr3[i2]! + cr3[i2 + 1]! * TWO32;
    se.rspLo = rsp[i2]!;
    se.rspHi = rsp[i2 + 1]!;
    se.ripLo = rip[i2]!;
    se.ripHi = rip[i2 + 1]!;
    for (let k = 0; k < onSys.length; k++) onSys[k]!.onSyscall!(se);
    sum.syscalls++;
  };

  // --- io
  const io = new Rows(onIo.length > 0 && reader.rowCount('io') > 0
    ? scanColumns(reader, 'io', ['icount', 'exit_seq', 'port', 'size', 'direction', 'value', 'device']) : (function* () {})());
  let deviceNames: readonly string[] = [];
  if (onIo.length > 0 && reader.rowCount('io') > 0) {
    for (const b of reader.scan('io', ['device'])) {
      deviceNames = b.columns.device.dictionary ?? [];
      break;
    }
  }
  const ie: IoEvent = { kind: 'io', icount: 0, exitSeq: -1, port: 0, size: 1, direction: IoDirection.out, value: 0, data: null, device: '' };
  const ioSeq = (): number => (io.b === null ? Infinity : (io.b.cols[1] as Uint32Array)[2 * io.i]! + ((io.b.cols[1] as Uint32Array)[2 * io.i + 1]! | 0) * TWO32);
  const ioIcount = (): number => (io.b === null ? Infinity : (io.b.cols[0] as Uint32Array)[2 * io.i]! + (io.b.cols[0] as Uint32Array)[2 * io.i + 1]! * TWO32);
  const emitIo = (): void => {
    const c = io.b!.cols;
    const i = io.i;
    ie.icount = (c[0] as Uint32Array)[2 * i]! + (c[0] as Uint32Array)[2 * i + 1]! * TWO32;
    ie.exitSeq = (c[1] as Uint32Array)[2 * i]! + ((c[1] as Uint32Array)[2 * i + 1]! | 0) * TWO32;
    ie.port = (c[2] as Uint16Array)[i]!;
    ie.size = (c[3] as Uint8Array)[i]!;
    ie.direction = (c[4] as Uint8Array)[i]! as IoDirection;
    ie.value = (c[5] as Uint32Array)[i]!;
    ie.device = deviceNames[(c[6] as Uint8Array)[i]!] ?? 'none';
    for (let k = 0; k < onIo.length; k++) onIo[k]!.onIo!(ie);
    sum.io++;
  };

  // --- ground truth (small: the general reader is fine)
  const gtRows = wantGt ? reader.scan('ground_truth', ['icount', 'type', 'pid', 'tid', 'ppid', 'cr3', 'a0', 'a1', 'a2', 'name']) : null;
  let gtb: ReturnType<NonNullable<typeof gtRows>['next']>['value'] = undefined;
  let gti = 0;
  const gtFill = (): void => {
    while (gtRows) {
      const r = gtRows.next();
      if (r.done) {
        gtb = undefined;
        return;
      }
      if (r.value.length > 0) {
        gtb = r.value;
        gti = 0;
        return;
      }
    }
  };
  gtFill();
  const ge: GroundTruthEvent = { kind: 'groundTruth', icount: 0, type: 0, pid: 0, tid: 0, ppid: 0, cr3: 0, a0: 0, a1: 0, a2: 0, name: '' };
  // The program name of consecutive rows is mostly the same (every GT_SYSCALL row carries it): decode a row's
  // name only when its bytes differ from the previous row's, instead of one new string per row.
  const nameBytes = new Uint8Array(256);
  let nameLen = -1;
  let lastName = '';
  const gtName = (col: ColumnView, i: number): string => {
    if (col.isNull(i)) return '';
    const off = col.offsets!, v = col.values as Uint8Array;
    const at = off[i]!, len = off[i + 1]! - at;
    if (len === nameLen) {
      let k = 0;
      while (k < len && v[at + k] === nameBytes[k]) k++;
      if (k === len) return lastName;
    }
    lastName = col.string(i) ?? '';
    if (len <= nameBytes.length) {
      nameBytes.set(v.subarray(at, at + len));
      nameLen = len;
    } else nameLen = -1;
    return lastName;
  };
  const gtIcount = (): number => (gtb ? gtb.columns.icount.number(gti) : Infinity);
  const emitGt = (): void => {
    const c = gtb!.columns;
    ge.icount = c.icount.number(gti);
    ge.type = c.type.number(gti);
    ge.pid = c.pid.number(gti);
    ge.tid = c.tid.number(gti);
    ge.ppid = c.ppid.number(gti);
    ge.cr3 = c.cr3.number(gti);
    ge.a0 = c.a0.number(gti);
    ge.a1 = c.a1.number(gti);
    ge.a2 = c.a2.number(gti);
    ge.name = gtName(c.name, gti);
    for (let k = 0; k < onGt.length; k++) onGt[k]!.onGroundTruth!(ge);
    sum.groundTruth++;
    if (++gti >= gtb!.length) gtFill();
  };

  // --- exits, with the others merged in
  const e = newExitEventObject();
  const words = e.words;
  let nextSys = sysSeq();
  let nextIoSeq = ioSeq();
  let nextIoIc = ioIcount();
  let nextGt = gtIcount();
  const advanceIo = (): void => {
    io.next();
    nextIoSeq = ioSeq();
    nextIoIc = ioIcount();
  };
  for (const b of scanColumns(reader, 'exits', EXIT_COLS)) {
    const c = b.cols;
    const icount = c[0] as Uint32Array, cycles = c[1] as Uint32Array, cost = c[2] as Uint32Array;
    const reason = c[3] as Uint16Array, cpl = c[4] as Uint8Array, cs = c[5] as Uint16Array, ss = c[6] as Uint16Array;
    const rsp = c[7] as Uint32Array, rip = c[8] as Uint32Array, cr3 = c[9] as Uint32Array;
    const n = b.length;
    for (let i = 0; i < n; i++) {
      const seq = b.start + i;
      const ic = icount[2 * i]! + icount[2 * i + 1]! * TWO32;
      while (nextGt < ic) {
        emitGt();
        nextGt = gtIcount();
      }
      while (nextIoSeq < seq || (nextIoSeq === -1 && nextIoIc < ic)) {
        emitIo();
        advanceIo();
      }
      while (nextSys <= seq) {
        emitSys();
        sys.next();
        nextSys = sysSeq();
      }
      if (onExit.length > 0) {
        e.seq = seq;
        e.icount = ic;
        e.tsc = ic * cpi;
        e.cycles = cycles[2 * i]! + cycles[2 * i + 1]! * TWO32;
        e.cost = cost[i]!;
        e.reason = reason[i]!;
        e.cpl = cpl[i]!;
        e.cs = cs[i]!;
        e.ss = ss[i]!;
        words[ExitWord.rsp] = rsp[2 * i]!;
        words[ExitWord.rsp + 1] = rsp[2 * i + 1]!;
        words[ExitWord.rip] = rip[2 * i]!;
        words[ExitWord.rip + 1] = rip[2 * i + 1]!;
        words[ExitWord.cr3] = cr3[2 * i]!;
        words[ExitWord.cr3 + 1] = cr3[2 * i + 1]!;
        for (let k = 0; k < onExit.length; k++) onExit[k]!.onExit!(e);
      }
      sum.exits++;
      while (nextIoSeq === seq) {
        emitIo();
        advanceIo();
      }
    }
  }
  while (nextSys < Infinity) {
    emitSys();
    sys.next();
    nextSys = sysSeq();
  }
  while (io.b !== null || gtb !== undefined) {
    if (gtb !== undefined && (io.b === null || nextGt < nextIoIc)) {
      emitGt();
      nextGt = gtIcount();
    } else {
      emitIo();
      advanceIo();
    }
  }
  return sum;
}
