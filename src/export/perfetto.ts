// `trace export <dir> --perfetto <file>`: one trace as a Perfetto trace (TracePacket stream, TrackEvent
// tracks; open it in Perfetto UI or trace_processor). Timestamps are guest nanoseconds:
// icount x cycles_per_instruction / tsc_hz (the guest's own clock; modelled exit costs are not in it).
//
// Tracks (docs/notebooks.md "Perfetto" has the list with their names):
//   VM process (pid 1): one track per vCPU with every VM exit as a slice (name = exit reason; args reason,
//     qualification, cost, seq, rip); an interrupts track (injected events as instants); an "I/O
//     (unattributed)" track; counters of live processes and threads, reconstructed and true.
//   Reconstructed processes and threads (the process tracker: CR3 identity, stack-page threads, declared
//     death with execve linked; the `proctrack` best strategy): syscalls as instants on the thread that made
//     them, I/O accesses as instants on the thread that ran next (seed 004 6.4). pid 100000 + upid, tid
//     300000 + utid; the name says which true process the scorer matched.
//   Ground truth, as separate processes and threads (pid 200000 + instance, tid 400000 + instance; names
//     carry the guest's pid/tid): "running" slices between the kernel's context switches, its own syscall
//     reports and execs as instants. Kept apart from the reconstruction, as in the trace directory.
// An exit's slice lasts its modelled cost in guest ns, cut at the next exit (guest time does not advance
// during an exit, so the next one can come sooner); the `cost` argument keeps the full modelled cost.

import { reconstruct } from '../analyses/reconstruction.js';
import type { ProcessTracker } from '../analyses/ProcessTracker.js';
import type { GroundTruth } from '../analyses/truth.js';
import { UserError } from '../errors.js';
import { GroundTruthType } from '../emulator/events.js';
import { syscallName } from '../hypervisor/interception/syscalls.js';
import { exitReasonKey } from '../emulator/vmx/exitReasons.js';
import { TraceReader, type ScanBatch } from '../record/TraceReader.js';
import type { ProgressSink } from '../analyses/result.js';
import { isTraceDir } from '../analyses/traceDirs.js';
import { PerfettoWriter, TrackEventType, type Arg } from './PerfettoWriter.js';

/** Track uuids and synthetic pid/tid ranges (Perfetto keys process and thread tracks by pid/tid). */
export const PerfettoIds = {
  vmPid: 1,
  vmProcess: 1, interrupts: 2, ioUnattributed: 3,
  reconLiveProcs: 4, reconLiveThreads: 5, trueLiveProcs: 6, trueLiveThreads: 7,
  vcpuBase: 16,
  reconProcBase: 0x1000_0000, reconThreadBase: 0x2000_0000, trueProcBase: 0x3000_0000, trueThreadBase: 0x4000_0000,
  reconPidBase: 100_000, truePidBase: 200_000, reconTidBase: 300_000, trueTidBase: 400_000,
} as const;

export interface PerfettoExport {
  packets: number;
  /** Track events written (slice begins and ends, instants, counter values). */
  events: number;
  tracks: number;
  bytes: number;
}

const hex = (lo: number, hi: number): string => (hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`);

/** An event source in time order: `t` is the next event's time (guest ns, unrounded), Infinity when done. */
interface Source {
  t: number;
  emit(): void;
}

export async function exportPerfetto(dir: string, file: string, progress?: ProgressSink): Promise<PerfettoExport> {
  if (!isTraceDir(dir)) throw new UserError(`${dir}: --perfetto takes one trace directory (for a suite, export each trace)`);
  const reader = TraceReader.open(dir);
  const m = reader.manifest;
  const cpi = m.machine.cycles_per_instruction;
  const tscHz = typeof m.machine.tsc_hz === 'number' ? m.machine.tsc_hz : 1e9;
  const nsPerInsn = (cpi * 1e9) / tscHz;
  const nsPerCycle = 1e9 / tscHz;
  const total = m.totals.exits + m.totals.syscalls + m.totals.io + m.totals.interrupts + m.totals.ground_truth;
  progress?.stage(`perfetto ${m.workload.name}`, total, 'rows');

  // Reconstruction and ground truth (one pass over the trace), matched for naming.
  const { tracker, truth: gt, scores, endIcount } = reconstruct(reader);
  const endNs = endIcount * nsPerInsn;

  const w = new PerfettoWriter(file);
  let events = 0;
  let tracks = 0;
  let rows = 0;
  const tick = (): void => {
    if (progress !== undefined && (++rows & 0xffff) === 0) progress.update(rows);
  };
  const ev = (t: number, track: number, type: number, name?: string, args?: Arg[]): void => {
    w.event(Math.round(t), track, type, name, args);
    events++;
  };
  const track = (d: Record<string, unknown>): void => {
    w.trackDescriptor(d);
    tracks++;
  };
  try {
    // --- Track descriptors.
    const I = PerfettoIds;
    track({ uuid: I.vmProcess, process: { pid: I.vmPid, process_name: `VM ${m.workload.name} (hypervisor view)` } });
    const vcpus = typeof m.machine.vcpus === 'number' ? m.machine.vcpus : 1;
    for (let c = 0; c < vcpus; c++) track({ uuid: I.vcpuBase + c, parent_uuid: I.vmProcess, name: `vCPU ${c} VM exits` });
    track({ uuid: I.interrupts, parent_uuid: I.vmProcess, name: 'injected events' });
    track({ uuid: I.ioUnattributed, parent_uuid: I.vmProcess, name: 'I/O (no later kernel entry: unattributed)' });
    const counterTrack = (uuid: number, name: string): void =>
      track({ uuid, parent_uuid: I.vmProcess, name, counter: { unit: 2 /* UNIT_COUNT */ } });
    counterTrack(I.reconLiveProcs, 'live processes (reconstructed)');
    counterTrack(I.reconLiveThreads, 'live threads (reconstructed)');
    counterTrack(I.trueLiveProcs, 'live processes (ground truth)');
    counterTrack(I.trueLiveThreads, 'live threads (ground truth)');
    for (const p of tracker.procs) {
      const t = scores.procs.recToTrue[p.upid]!;
      const name = t >= 0 ? `${gt.procs[t]!.name} ~ pid ${gt.procs[t]!.pid}` : 'unmatched';
      track({ uuid: I.reconProcBase + p.upid, process: { pid: I.reconPidBase + p.upid, process_name: `recon upid ${p.upid} (cr3 0x${p.cr3.toString(16)}): ${name}` } });
    }
    for (const th of tracker.threads) {
      const t = scores.threads.recToTrue[th.utid]!;
      const name = t >= 0 ? `~ tid ${gt.threads[t]!.tid}` : 'unmatched';
      track({ uuid: I.reconThreadBase + th.utid, parent_uuid: I.reconProcBase + th.proc.upid,
        thread: { pid: I.reconPidBase + th.proc.upid, tid: I.reconTidBase + th.utid, thread_name: `utid ${th.utid} stack 0x${(th.loPage * 4096).toString(16)} ${name}` } });
    }
    for (const p of gt.procs) {
      track({ uuid: I.trueProcBase + p.id, process: { pid: I.truePidBase + p.id, process_name: `truth pid ${p.pid} ${p.name}${p.kernel ? ' [kernel]' : ''}` } });
    }
    // A thread the kernel reported for a process it never announced: its own pseudo-process.
    const orphanPid = I.truePidBase + gt.procs.length;
    if (gt.threads.some((th) => th.proc < 0)) track({ uuid: I.trueProcBase + gt.procs.length, process: { pid: orphanPid, process_name: 'truth: threads of unknown processes' } });
    for (const th of gt.threads) {
      const pid = th.proc >= 0 ? I.truePidBase + th.proc : orphanPid;
      track({ uuid: I.trueThreadBase + th.id, parent_uuid: I.trueProcBase + (th.proc >= 0 ? th.proc : gt.procs.length),
        thread: { pid, tid: I.trueTidBase + th.id, thread_name: `truth tid ${th.tid}` } });
    }

    // --- Event sources, merged in time order.
    const sources: Source[] = [
      exitSource(reader, nsPerInsn, nsPerCycle, ev, tick),
      logSource(tracker.sys.n, (i) => tracker.sys.icount[i]! * nsPerInsn, (i, t) => {
        const number = tracker.sys.b[i]!;
        ev(t, I.reconThreadBase + tracker.sys.a[i]!, TrackEventType.instant, syscallName(number), [{ name: 'number', uint_value: number }]);
        tick();
      }),
      ioSource(reader, tracker, nsPerInsn, ev, tick),
      interruptSource(reader, nsPerInsn, ev, tick),
      runningSource(gt, nsPerInsn, endNs, ev),
      truthEventSource(reader, gt, nsPerInsn, ev, tick),
      ...counterSources(tracker, gt, nsPerInsn, (t, uuid, v) => {
        w.counter(Math.round(t), uuid, v);
        events++;
      }),
    ];
    for (;;) {
      let best: Source | null = null;
      for (const s of sources) if (s.t !== Infinity && (best === null || s.t < best.t)) best = s;
      if (best === null) break;
      best.emit();
    }
  } finally {
    w.close();
  }
  progress?.update(total);
  return { packets: w.packets, events, tracks, bytes: w.bytes };
}

type Emit = (t: number, track: number, type: number, name?: string, args?: Arg[]) => void;

/** A source over an in-memory log of n rows in time order. */
function logSource(n: number, time: (i: number) => number, emit: (i: number, t: number) => void): Source {
  let i = 0;
  const s: Source = {
    t: n > 0 ? time(0) : Infinity,
    emit(): void {
      emit(i, s.t);
      i++;
      s.t = i < n ? time(i) : Infinity;
    },
  };
  return s;
}

/** Batches of a table scan with one row of lookahead across batches. */
class RowCursor<C extends string> {
  private readonly it: Generator<ScanBatch<C>>;
  b: ScanBatch<C> | null = null;
  i = 0;
  constructor(reader: TraceReader, table: Parameters<TraceReader['scan']>[0], cols: readonly C[]) {
    this.it = reader.scan(table, cols);
    this.load();
  }
  private load(): void {
    for (;;) {
      const n = this.it.next();
      if (n.done) {
        this.b = null;
        return;
      }
      if (n.value.length > 0) {
        this.b = n.value;
        this.i = 0;
        return;
      }
    }
  }
  get done(): boolean {
    return this.b === null;
  }
  advance(): void {
    if (++this.i >= this.b!.length) this.load();
  }
}

/** VM exits: a slice per exit on its vCPU's track, begin then end (cut at the next exit). */
function exitSource(reader: TraceReader, nsPerInsn: number, nsPerCycle: number, ev: Emit, tick: () => void): Source {
  const cur = new RowCursor(reader, 'exits', ['seq', 'icount', 'cost', 'cpu', 'exit_reason', 'qualification', 'rip'] as const);
  let ending = false;
  let endTrack = 0;
  const s: Source = {
    t: cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn,
    emit(): void {
      if (ending) {
        ev(s.t, endTrack, TrackEventType.sliceEnd);
        ending = false;
        s.t = cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn;
        return;
      }
      const c = cur.b!.columns;
      const i = cur.i;
      const reason = c.exit_reason.number(i);
      const cost = c.cost.number(i);
      endTrack = PerfettoIds.vcpuBase + c.cpu.number(i);
      ev(s.t, endTrack, TrackEventType.sliceBegin, exitReasonKey(reason), [
        { name: 'reason', uint_value: reason },
        { name: 'qualification', string_value: hex(c.qualification.lo(i), c.qualification.hi(i)) },
        { name: 'cost', uint_value: cost },
        { name: 'seq', uint_value: c.seq.number(i) },
        { name: 'rip', string_value: hex(c.rip.lo(i), c.rip.hi(i)) },
      ]);
      tick();
      const begin = s.t;
      cur.advance();
      const next = cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn;
      s.t = Math.min(begin + cost * nsPerCycle, next);
      ending = true;
    },
  };
  return s;
}

/** I/O accesses: instants on the thread that ran next (the tracker's attribution), args from io.arrow. */
function ioSource(reader: TraceReader, tracker: ProcessTracker, nsPerInsn: number, ev: Emit, tick: () => void): Source {
  const cur = new RowCursor(reader, 'io', ['icount', 'port', 'size', 'direction', 'value', 'device'] as const);
  const log = tracker.io;
  let k = 0;
  const s: Source = {
    t: cur.done ? Infinity : cur.b!.columns.icount.number(0) * nsPerInsn,
    emit(): void {
      const c = cur.b!.columns;
      const i = cur.i;
      const ic = c.icount.number(i);
      if (k >= log.n || log.icount[k] !== ic) throw new Error(`perfetto export: io row ${k} is not the tracker's access ${k}`);
      const next = log.b[k]!;
      const port = c.port.number(i);
      const dir = c.direction.number(i) === 1 ? 'IN' : 'OUT';
      const device = c.device.string(i) ?? 'none';
      ev(s.t, next >= 0 ? PerfettoIds.reconThreadBase + next : PerfettoIds.ioUnattributed, TrackEventType.instant, `${dir} ${device}`, [
        { name: 'port', string_value: `0x${port.toString(16)}` }, { name: 'size', uint_value: c.size.number(i) },
        { name: 'value', string_value: `0x${c.value.number(i).toString(16)}` }, { name: 'ran_before_utid', int_value: log.a[k]! },
      ]);
      tick();
      k++;
      cur.advance();
      s.t = cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn;
    },
  };
  return s;
}

function interruptSource(reader: TraceReader, nsPerInsn: number, ev: Emit, tick: () => void): Source {
  const cur = new RowCursor(reader, 'interrupts', ['icount', 'vector', 'type_name'] as const);
  const s: Source = {
    t: cur.done ? Infinity : cur.b!.columns.icount.number(0) * nsPerInsn,
    emit(): void {
      const c = cur.b!.columns;
      const vector = c.vector.number(cur.i);
      ev(s.t, PerfettoIds.interrupts, TrackEventType.instant, `${c.type_name.string(cur.i) ?? 'event'} ${vector}`, [{ name: 'vector', uint_value: vector }]);
      tick();
      cur.advance();
      s.t = cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn;
    },
  };
  return s;
}

/** Ground truth: the thread the kernel runs, as "running" slices from one context switch to the next. */
function runningSource(gt: GroundTruth, nsPerInsn: number, endNs: number, ev: Emit): Source {
  const sw = gt.switches;
  let i = 0;
  let open = -1; // the truth thread whose slice is open
  const s: Source = {
    t: sw.n > 0 ? sw.icount[0]! * nsPerInsn : Infinity,
    emit(): void {
      if (open >= 0) {
        ev(s.t, PerfettoIds.trueThreadBase + open, TrackEventType.sliceEnd);
        open = -1;
        if (i >= sw.n) {
          s.t = Infinity;
          return;
        }
      }
      const th = sw.a[i]!;
      if (th >= 0) {
        ev(s.t, PerfettoIds.trueThreadBase + th, TrackEventType.sliceBegin, 'running');
        open = th;
      }
      i++;
      s.t = i < sw.n ? sw.icount[i]! * nsPerInsn : open >= 0 ? Math.max(endNs, s.t) : Infinity;
    },
  };
  return s;
}

/** Ground truth: the kernel's syscall and exec reports, as instants on the true thread running then. */
function truthEventSource(reader: TraceReader, gt: GroundTruth, nsPerInsn: number, ev: Emit, tick: () => void): Source {
  const cur = new RowCursor(reader, 'ground_truth', ['icount', 'type', 'a0', 'name'] as const);
  const sw = gt.switches;
  let j = 0;
  let running = -1;
  const s: Source = {
    t: cur.done ? Infinity : cur.b!.columns.icount.number(0) * nsPerInsn,
    emit(): void {
      const c = cur.b!.columns;
      const ic = c.icount.number(cur.i);
      while (j < sw.n && sw.icount[j]! <= ic) running = sw.a[j++]!;
      const type = c.type.number(cur.i);
      if (running >= 0 && (type === GroundTruthType.syscall || type === GroundTruthType.exec)) {
        const track = PerfettoIds.trueThreadBase + running;
        if (type === GroundTruthType.syscall) {
          const n = c.a0.lo(cur.i);
          ev(s.t, track, TrackEventType.instant, syscallName(n), [{ name: 'number', uint_value: n }]);
        } else ev(s.t, track, TrackEventType.instant, `exec ${c.name.string(cur.i) ?? ''}`);
      }
      tick();
      cur.advance();
      s.t = cur.done ? Infinity : cur.b!.columns.icount.number(cur.i) * nsPerInsn;
    },
  };
  return s;
}

/** Live process and thread counters: reconstructed (from the tracker's lifetimes) and true (the kernel's). */
function counterSources(tracker: ProcessTracker, gt: GroundTruth, nsPerInsn: number,
  counter: (t: number, uuid: number, v: number) => void): Source[] {
  const steps = (spans: Array<{ firstSeen: number; deathAt: number }>): Array<[number, number]> => {
    const d: Array<[number, number]> = [];
    for (const x of spans) {
      d.push([x.firstSeen, 1]);
      if (x.deathAt >= 0) d.push([x.deathAt, -1]);
    }
    d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return d;
  };
  const series = (changes: Array<[number, number]>, uuid: number): Source => {
    let i = 0;
    let v = 0;
    const s: Source = {
      t: changes.length > 0 ? changes[0]![0] * nsPerInsn : Infinity,
      emit(): void {
        const ic = changes[i]![0];
        while (i < changes.length && changes[i]![0] === ic) v += changes[i++]![1];
        counter(s.t, uuid, v);
        s.t = i < changes.length ? changes[i]![0] * nsPerInsn : Infinity;
      },
    };
    return s;
  };
  const ch = gt.changes;
  const trueProcs: Array<[number, number]> = [];
  const trueThreads: Array<[number, number]> = [];
  for (let i = 0; i < ch.n; i++) {
    if (ch.a[i] !== 0) trueProcs.push([ch.icount[i]!, ch.a[i]!]);
    if (ch.b[i] !== 0) trueThreads.push([ch.icount[i]!, ch.b[i]!]);
  }
  return [
    series(steps(tracker.procs), PerfettoIds.reconLiveProcs),
    series(steps(tracker.threads), PerfettoIds.reconLiveThreads),
    series(trueProcs, PerfettoIds.trueLiveProcs),
    series(trueThreads, PerfettoIds.trueLiveThreads),
  ];
}
