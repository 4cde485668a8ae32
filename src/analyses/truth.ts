// The guest's ground truth (ground_truth.arrow / onGroundTruth), collected for scoring only, and the scores
// of a ProcessTracker against it. Nothing here feeds the tracker.
//
// True entities are instances: a pid or tid from its create event to its exit event (pids and tids are
// reused, guest/README.md). "Running at icount t" is the thread of the last context switch before t (a
// ground-truth OUT at icount t happens after an exit at icount t).

import { GroundTruthType, type GroundTruthEvent, type MachineObserver } from '../emulator/events.js';
import { Log, type ObservationSink, type ProcessTracker } from './ProcessTracker.js';

/** Context switches kept to answer "who ran at icount t" while observations stream in: they lag the ground
 *  truth by at most the accesses between two exits (the importer's merge order), never thousands of switches. */
const SWITCH_HISTORY = 1 << 16;

export interface TrueProc {
  id: number;
  pid: number;
  ppid: number;
  kernel: boolean;
  /** Program name (the last exec's). */
  name: string;
  created: number;
  /** icount of the exit event, -1 while alive. */
  exited: number;
  /** 0 exit, 1 exit_group, 2 killed by fault; -1 alive. */
  how: number;
  cr3s: number[];
}

export interface TrueThread {
  id: number;
  tid: number;
  proc: number;
  created: number;
  exited: number;
}

export class GroundTruth implements MachineObserver {
  readonly procs: TrueProc[] = [];
  readonly threads: TrueThread[] = [];
  private readonly procOfPid = new Map<number, number>();
  private readonly threadOfTid = new Map<number, number>();
  /** Context switches: (icount, true thread id, -); empty when not kept (streaming scoring needs only the
   *  recent ones). */
  readonly switches = new Log();
  /** Live user process / thread count changes: (icount, +1/-1 procs, +1/-1 threads). */
  readonly changes = new Log();
  private readonly keepSwitches: boolean;
  private readonly recentIcount = new Float64Array(SWITCH_HISTORY);
  private readonly recentThread = new Int32Array(SWITCH_HISTORY);
  private nSwitches = 0;
  /** runningAt lookups older than the switches kept (answered -1: unknown). */
  lostLookups = 0;
  /** Live user processes and threads after every event so far (the sums of `changes`). */
  private liveProcs = 0;
  private liveThreads = 0;
  /** liveBefore's answer. */
  procsBefore = 0;
  threadsBefore = 0;

  /** `keepSwitches: false`: memory per process and thread only (the switches log grows with guest time). */
  constructor(opts: { keepSwitches?: boolean } = {}) {
    this.keepSwitches = opts.keepSwitches ?? true;
  }

  /** The true thread running at `icount`: the one of the last context switch before it; -1 before the first. */
  runningAt(icount: number): number {
    const n = this.nSwitches;
    const oldest = Math.max(0, n - SWITCH_HISTORY);
    for (let k = n - 1; k >= oldest; k--) {
      const j = k & (SWITCH_HISTORY - 1);
      if (this.recentIcount[j]! < icount) return this.recentThread[j]!;
    }
    if (oldest > 0) this.lostLookups++;
    return -1;
  }

  /**
   * The live user processes and threads before `icount` (the changes at earlier icounts) into procsBefore and
   * threadsBefore: the totals so far minus the changes at or after `icount`, which the ground truth, fed ahead
   * of the trackers, may already have seen (a few at most: those between the sample point and the event that
   * crossed it).
   */
  liveBefore(icount: number): void {
    const ch = this.changes;
    let p = this.liveProcs, t = this.liveThreads;
    for (let k = ch.n - 1; k >= 0 && ch.icount[k]! >= icount; k--) {
      p -= ch.a[k]!;
      t -= ch.b[k]!;
    }
    this.procsBefore = p;
    this.threadsBefore = t;
  }

  private change(icount: number, procs: number, threads: number): void {
    this.changes.push(icount, procs, threads);
    this.liveProcs += procs;
    this.liveThreads += threads;
  }

  onGroundTruth(e: GroundTruthEvent): void {
    switch (e.type) {
      case GroundTruthType.procCreate: {
        const id = this.procs.length;
        const kernel = (e.a0 & 1) === 1;
        this.procs.push({ id, pid: e.pid, ppid: e.ppid, kernel, name: e.name, created: e.icount, exited: -1, how: -1, cr3s: [e.cr3] });
        this.procOfPid.set(e.pid, id);
        if (!kernel) this.change(e.icount, 1, 0);
        break;
      }
      case GroundTruthType.exec: {
        const p = this.procOfPid.get(e.pid);
        if (p !== undefined) {
          const tp = this.procs[p]!;
          tp.name = e.name;
          tp.cr3s.push(e.cr3);
          // Linux starts init (pid 1) as a kernel thread that execs /init: from then on it is a user process
          // (and its thread a user thread) with an address space.
          if (tp.kernel && e.cr3 !== 0 && tp.exited < 0) {
            tp.kernel = false;
            this.change(e.icount, 1, 0);
            for (const t of this.threads) if (t.proc === p && t.exited < 0) this.change(e.icount, 0, 1);
          }
        }
        break;
      }
      case GroundTruthType.procExit: {
        const p = this.procOfPid.get(e.pid);
        if (p !== undefined && this.procs[p]!.exited < 0) {
          const tp = this.procs[p]!;
          tp.exited = e.icount;
          tp.how = e.a1;
          if (!tp.kernel) this.change(e.icount, -1, 0);
        }
        break;
      }
      case GroundTruthType.threadCreate: {
        const p = this.procOfPid.get(e.pid) ?? -1;
        const id = this.threads.length;
        this.threads.push({ id, tid: e.tid, proc: p, created: e.icount, exited: -1 });
        this.threadOfTid.set(e.tid, id);
        if (p >= 0 && !this.procs[p]!.kernel) this.change(e.icount, 0, 1);
        break;
      }
      case GroundTruthType.threadExit: {
        const t = this.threadOfTid.get(e.tid);
        if (t !== undefined && this.threads[t]!.exited < 0) {
          const tt = this.threads[t]!;
          tt.exited = e.icount;
          if (tt.proc >= 0 && !this.procs[tt.proc]!.kernel) this.change(e.icount, 0, -1);
        }
        break;
      }
      case GroundTruthType.contextSwitch: {
        const t = this.threadOfTid.get(e.tid) ?? -1;
        if (this.keepSwitches) this.switches.push(e.icount, t, 0);
        const j = this.nSwitches++ & (SWITCH_HISTORY - 1);
        this.recentIcount[j] = e.icount;
        this.recentThread[j] = t;
        break;
      }
      default:
    }
  }

  isUserThread(t: number): boolean {
    return t >= 0 && this.threads[t]!.proc >= 0 && !this.procs[this.threads[t]!.proc]!.kernel;
  }
}

/** For each icount of a sorted list, the true thread running then (-1 before the first switch). */
export function runningAt(gt: GroundTruth, icounts: Float64Array, n: number): Int32Array {
  const out = new Int32Array(n);
  const sw = gt.switches;
  let j = 0;
  let cur = -1;
  let sorted = true;
  for (let i = 1; i < n; i++) if (icounts[i]! < icounts[i - 1]!) sorted = false;
  if (!sorted) {
    // Binary search per row (I/O logs are in order; this is for safety).
    for (let i = 0; i < n; i++) {
      let lo = 0, hi = sw.n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sw.icount[mid]! < icounts[i]!) lo = mid + 1;
        else hi = mid;
      }
      out[i] = lo > 0 ? sw.a[lo - 1]! : -1;
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    const ic = icounts[i]!;
    while (j < sw.n && sw.icount[j]! < ic) cur = sw.a[j++]!;
    out[i] = cur;
  }
  return out;
}

/** Identity matching between reconstructed and true entities. */
export interface Matching {
  /** recon id -> matched true id, or -1. */
  recToTrue: Int32Array;
  /** true id -> matched recon id, or -1. */
  trueToRec: Int32Array;
  /** Reconstructed entities with observations. */
  nRec: number;
  /** Reconstructed entities whose observations cover two or more true entities. */
  merges: number;
  /** True entities whose observations are spread over two or more reconstructed ones. */
  splits: number;
  matched: number;
}

/** Pair keys r * PAIR + (t + 1): exact for true ids below PAIR - 1 and recon ids below 2^31. */
const PAIR = 2 ** 21;

function pairKey(r: number, t: number): number {
  if (t >= PAIR - 1) throw new Error(`ground truth: more than ${PAIR - 2} true entities`);
  return r * PAIR + (t + 1);
}

function bump(m: Map<number, number>, k: number, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

/**
 * Greedy maximum-overlap one-to-one matching from the observation counts of (recon, true) pairs (pairKey):
 * pairs sorted by the number of observations they share (descending; ties by ids), each side used at most
 * once. Only true entities accepted by `scored` count (user processes / user threads); observations while a
 * kernel thread ran count for the reconstructed side only (which is how kernel threads "appear as
 * processes"). `seen[r]` = 1 for every recon entity with an observation.
 */
export function matchPairs(pairs: ReadonlyMap<number, number>, seen: Uint8Array, nRecTotal: number, nTrueTotal: number,
  scored: (t: number) => boolean): Matching {
  const list: Array<{ r: number; t: number; c: number }> = [];
  for (const [k, c] of pairs) {
    const r = Math.floor(k / PAIR), t = (k % PAIR) - 1;
    if (t >= 0 && scored(t)) list.push({ r, t, c });
  }
  list.sort((a, b) => b.c - a.c || a.r - b.r || a.t - b.t);
  const recToTrue = new Int32Array(nRecTotal).fill(-1);
  const trueToRec = new Int32Array(nTrueTotal).fill(-1);
  const recCover = new Int32Array(nRecTotal);
  const trueCover = new Int32Array(nTrueTotal);
  let matched = 0;
  for (const { r, t } of list) {
    recCover[r]!++;
    trueCover[t]!++;
    if (recToTrue[r] === -1 && trueToRec[t] === -1) {
      recToTrue[r] = t;
      trueToRec[t] = r;
      matched++;
    }
  }
  let nRec = 0, merges = 0, splits = 0;
  for (let r = 0; r < nRecTotal; r++) {
    if (r < seen.length && seen[r]) nRec++;
    if (recCover[r]! > 1) merges++;
  }
  for (let t = 0; t < nTrueTotal; t++) if (trueCover[t]! > 1) splits++;
  return { recToTrue, trueToRec, nRec, merges, splits, matched };
}

/** Greedy matching over observation arrays (rec[i], tru[i]): matchPairs of their counts. */
export function matchIdentities(rec: Int32Array, tru: Int32Array, n: number, nRecTotal: number, nTrueTotal: number,
  scored: (t: number) => boolean): Matching {
  const pairs = new Map<number, number>();
  const seen = new Uint8Array(nRecTotal);
  for (let i = 0; i < n; i++) {
    seen[rec[i]!] = 1;
    if (tru[i]! >= 0) bump(pairs, pairKey(rec[i]!, tru[i]!));
  }
  return matchPairs(pairs, seen, nRecTotal, nTrueTotal, scored);
}

export interface LiveSeries {
  icount: Float64Array;
  trueProcs: Int32Array;
  recProcs: Int32Array;
  trueThreads: Int32Array;
  recThreads: Int32Array;
  /** Points in the arrays. */
  n: number;
  /** Samples taken (all of them count in the scores). */
  samples: number;
  /** The points are every `every`-th sample (the first sample, then every `every`). */
  every: number;
}

/** The live-count series keeps between LIVE_POINTS and 2 x LIVE_POINTS points per tracker, however long the run. */
export const LIVE_POINTS = 2048;

/**
 * The live-count errors of one tracker, summed sample by sample, and a series of bounded length for plotting:
 * every sample is kept until there are 2 x LIVE_POINTS, then every other one, and so on (the stride doubles),
 * so the points stay evenly spaced and the memory does not grow with the run.
 */
export class LiveAccumulator {
  private samples = 0;
  private every = 1;
  private n = 0;
  private readonly icount = new Float64Array(2 * LIVE_POINTS);
  private readonly trueProcs = new Int32Array(2 * LIVE_POINTS);
  private readonly recProcs = new Int32Array(2 * LIVE_POINTS);
  private readonly trueThreads = new Int32Array(2 * LIVE_POINTS);
  private readonly recThreads = new Int32Array(2 * LIVE_POINTS);
  procAbs = 0;
  procMax = 0;
  procSigned = 0;
  threadAbs = 0;
  threadMax = 0;
  threadSigned = 0;

  add(icount: number, trueProcs: number, recProcs: number, trueThreads: number, recThreads: number): void {
    const dp = recProcs - trueProcs, dt = recThreads - trueThreads;
    this.procAbs += Math.abs(dp);
    this.procSigned += dp;
    if (Math.abs(dp) > this.procMax) this.procMax = Math.abs(dp);
    this.threadAbs += Math.abs(dt);
    this.threadSigned += dt;
    if (Math.abs(dt) > this.threadMax) this.threadMax = Math.abs(dt);
    if (this.samples++ % this.every !== 0) return;
    if (this.n === 2 * LIVE_POINTS) {
      // Keep the points at even positions (samples 0, 2 x every, 4 x every, ...): the stride doubles.
      for (let i = 0; i < LIVE_POINTS; i++) {
        this.icount[i] = this.icount[2 * i]!;
        this.trueProcs[i] = this.trueProcs[2 * i]!;
        this.recProcs[i] = this.recProcs[2 * i]!;
        this.trueThreads[i] = this.trueThreads[2 * i]!;
        this.recThreads[i] = this.recThreads[2 * i]!;
      }
      this.n = LIVE_POINTS;
      this.every *= 2;
      if ((this.samples - 1) % this.every !== 0) return;
    }
    const k = this.n++;
    this.icount[k] = icount;
    this.trueProcs[k] = trueProcs;
    this.recProcs[k] = recProcs;
    this.trueThreads[k] = trueThreads;
    this.recThreads[k] = recThreads;
  }

  get count(): number {
    return this.samples;
  }

  series(): LiveSeries {
    const n = this.n;
    return { icount: this.icount.subarray(0, n), trueProcs: this.trueProcs.subarray(0, n), recProcs: this.recProcs.subarray(0, n),
      trueThreads: this.trueThreads.subarray(0, n), recThreads: this.recThreads.subarray(0, n), n, samples: this.samples, every: this.every };
  }
}

/** A tracker that logged its samples: the true live counts at each (state before each sample icount), into `live`. */
function addLoggedSamples(gt: GroundTruth, tr: ProcessTracker, live: LiveAccumulator): void {
  const s = tr.samples;
  const ch = gt.changes;
  let j = 0, p = 0, t = 0;
  for (let i = 0; i < s.n; i++) {
    while (j < ch.n && ch.icount[j]! < s.icount[i]!) {
      p += ch.a[j]!;
      t += ch.b[j]!;
      j++;
    }
    live.add(s.icount[i]!, p, s.a[i]!, t, s.b[i]!);
  }
}

export interface Scores {
  procMae: number;
  procMaxErr: number;
  /** Mean signed error (recon - true): > 0 overcounts. */
  procBias: number;
  threadMae: number;
  threadMaxErr: number;
  threadBias: number;
  procs: Matching;
  threads: Matching;
  procPrecision: number;
  threadPrecision: number;
  /** Matched processes: mean |first seen - created| and |end - exited| (instructions). */
  startErrMean: number;
  startErrMax: number;
  endErrMean: number;
  endErrMax: number;
  syscalls: number;
  syscallProcAcc: number;
  syscallThreadAcc: number;
  io: number;
  /** I/O while a user thread ran (the only ones a user-thread attribution can get right). */
  ioUser: number;
  ioNextAcc: number;
  ioPrevAcc: number;
  ioNextAccUser: number;
  ioPrevAccUser: number;
  /** Per device: [device, n, next correct, prev correct]. */
  ioByDevice: Array<[string, number, number, number]>;
  series: LiveSeries;
  /** The first syscalls (at most ScoreAccumulator.maxSyscallRows), in order: icount, number (b) and utid (a). */
  sysRows: Log;
  /** True thread running at each of sysRows (-1 before the first context switch). */
  sysTrue: Int32Array;
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : NaN);

/** Syscall rows proctrack's per-syscall table keeps by default (the scores count every syscall). */
export const DEFAULT_SYSCALL_ROWS = 100_000;

/**
 * Everything the scores need, counted as observations arrive (each with the true thread running then):
 * observation counts per (recon, true) pair, syscall and I/O attribution counts per pair, and the first
 * `maxSyscallRows` syscalls for the per-syscall table. Memory is per pair of entities, not per event.
 */
export class ScoreAccumulator {
  private readonly procPairs = new Map<number, number>();
  private readonly threadPairs = new Map<number, number>();
  /** Syscalls per (utid, true thread) pair. */
  private readonly sysPairs = new Map<number, number>();
  private procSeen = new Uint8Array(64);
  private threadSeen = new Uint8Array(64);
  /** I/O accesses per device and (prev, next, true thread). */
  private readonly ioCounts = new Map<string, Map<string, number>>();
  syscalls = 0;
  ioAccesses = 0;
  private readonly sysRows = new Log(64);
  private sysTrue = new Int32Array(64);
  /** Live-count errors and the bounded series (samples streamed in, or a logging tracker's at finish). */
  readonly live = new LiveAccumulator();

  constructor(readonly maxSyscallRows = DEFAULT_SYSCALL_ROWS) {}

  /** A logged kernel entry by (upid, utid) while true thread `t` ran (its process `tp`; -1 unknown). */
  observation(upid: number, utid: number, t: number, tp: number): void {
    if (upid >= this.procSeen.length) this.procSeen = grown(this.procSeen, upid);
    if (utid >= this.threadSeen.length) this.threadSeen = grown(this.threadSeen, utid);
    this.procSeen[upid] = 1;
    this.threadSeen[utid] = 1;
    if (t >= 0) bump(this.threadPairs, pairKey(utid, t));
    if (tp >= 0) bump(this.procPairs, pairKey(upid, tp));
  }

  syscall(icount: number, number: number, upid: number, utid: number, t: number, tp: number): void {
    this.observation(upid, utid, t, tp);
    this.syscalls++;
    if (t >= 0) bump(this.sysPairs, pairKey(utid, t));
    const r = this.sysRows;
    if (r.n < this.maxSyscallRows) {
      if (r.n >= this.sysTrue.length) this.sysTrue = grown(this.sysTrue, r.n);
      this.sysTrue[r.n] = t;
      r.push(icount, utid, number);
    }
  }

  io(prev: number, next: number, t: number, device: string): void {
    this.ioAccesses++;
    let m = this.ioCounts.get(device);
    if (m === undefined) this.ioCounts.set(device, (m = new Map()));
    const k = `${prev},${next},${t}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }

  /** The scores of tracker `tr` (closed) against ground truth `gt` for a run ending at `endIcount`. */
  finish(tr: ProcessTracker, gt: GroundTruth, endIcount: number): Scores {
    const live = this.live;
    addLoggedSamples(gt, tr, live); // a tracker with a sink logged none: they were streamed in
    const series = live.series();
    const ns = Math.max(1, live.count);
    const [pa, pm, pb, ta, tm, tb] = [live.procAbs, live.procMax, live.procSigned, live.threadAbs, live.threadMax, live.threadSigned];
    const userProc = (p: number): boolean => p >= 0 && !gt.procs[p]!.kernel;
    const userThread = (t: number): boolean => gt.isUserThread(t);
    const procs = matchPairs(this.procPairs, this.procSeen, tr.procs.length, gt.procs.length, userProc);
    const threads = matchPairs(this.threadPairs, this.threadSeen, tr.threads.length, gt.threads.length, userThread);
    // Lifetimes of matched processes.
    let sSum = 0, sMax = 0, eSum = 0, eMax = 0, nm = 0;
    for (let r = 0; r < tr.procs.length; r++) {
      const t = procs.recToTrue[r]!;
      if (t < 0) continue;
      const rp = tr.procs[r]!;
      const tp = gt.procs[t]!;
      const ds = Math.abs(rp.firstSeen - tp.created);
      const recEnd = rp.deathAt >= 0 ? rp.deathAt : endIcount;
      const trueEnd = tp.exited >= 0 ? tp.exited : endIcount;
      const de = Math.abs(recEnd - trueEnd);
      sSum += ds; eSum += de; sMax = Math.max(sMax, ds); eMax = Math.max(eMax, de); nm++;
    }
    // Syscalls: attributed right when the thread (its process) is the one matched to the true caller's.
    let sp = 0, st = 0;
    for (const [k, c] of this.sysPairs) {
      const u = Math.floor(k / PAIR), t = (k % PAIR) - 1;
      if (threads.recToTrue[u] === t) st += c;
      if (procs.recToTrue[tr.threads[u]!.proc.upid] === gt.threads[t]!.proc) sp += c;
    }
    // I/O.
    let nx = 0, pv = 0, nu = 0, nxu = 0, pvu = 0;
    const ioByDevice: Array<[string, number, number, number]> = [];
    for (const [d, m] of this.ioCounts) {
      const row: [string, number, number, number] = [d, 0, 0, 0];
      for (const [k, c] of m) {
        const [prev, next, t] = k.split(',').map(Number) as [number, number, number];
        const okN = t >= 0 && next >= 0 && threads.recToTrue[next] === t;
        const okP = t >= 0 && prev >= 0 && threads.recToTrue[prev] === t;
        if (okN) nx += c;
        if (okP) pv += c;
        if (userThread(t)) {
          nu += c;
          if (okN) nxu += c;
          if (okP) pvu += c;
        }
        row[1] += c;
        if (okN) row[2] += c;
        if (okP) row[3] += c;
      }
      ioByDevice.push(row);
    }
    ioByDevice.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const n = this.syscalls, io = this.ioAccesses;
    return {
      procMae: pa / ns, procMaxErr: pm, procBias: pb / ns, threadMae: ta / ns, threadMaxErr: tm, threadBias: tb / ns,
      procs, threads,
      procPrecision: ratio(procs.matched, procs.nRec), threadPrecision: ratio(threads.matched, threads.nRec),
      startErrMean: ratio(sSum, nm), startErrMax: sMax, endErrMean: ratio(eSum, nm), endErrMax: eMax,
      syscalls: n, syscallProcAcc: ratio(sp, n), syscallThreadAcc: ratio(st, n),
      io, ioUser: nu, ioNextAcc: ratio(nx, io), ioPrevAcc: ratio(pv, io), ioNextAccUser: ratio(nxu, nu), ioPrevAccUser: ratio(pvu, nu),
      ioByDevice, series, sysRows: this.sysRows, sysTrue: this.sysTrue.subarray(0, this.sysRows.n),
    };
  }
}

function grown<T extends Uint8Array | Int32Array>(x: T, index: number): T {
  let n = x.length;
  while (n <= index) n *= 2;
  const y = new (x.constructor as new (n: number) => T)(n);
  y.set(x);
  return y;
}

/**
 * A tracker's observation sink (a tracker without logs) that scores as the run goes: each observation with
 * the true thread running at its icount (GroundTruth.runningAt), into a ScoreAccumulator.
 */
export class StreamingScore implements ObservationSink {
  readonly acc: ScoreAccumulator;
  /** Set once the tracker exists (it takes this sink in its constructor): device names of its I/O codes. */
  tracker: ProcessTracker | null = null;

  constructor(private readonly gt: GroundTruth, maxSyscallRows = DEFAULT_SYSCALL_ROWS) {
    this.acc = new ScoreAccumulator(maxSyscallRows);
  }

  private procOf(t: number): number {
    return t >= 0 ? this.gt.threads[t]!.proc : -1;
  }

  observe(icount: number, upid: number, utid: number): void {
    const t = this.gt.runningAt(icount);
    this.acc.observation(upid, utid, t, this.procOf(t));
  }

  syscall(icount: number, upid: number, utid: number, number: number): void {
    const t = this.gt.runningAt(icount);
    this.acc.syscall(icount, number, upid, utid, t, this.procOf(t));
  }

  io(icount: number, prev: number, next: number, device: number): void {
    this.acc.io(prev, next, this.gt.runningAt(icount), this.tracker!.ioDevices[device]!);
  }

  sample(icount: number, liveProcs: number, liveThreads: number): void {
    const gt = this.gt;
    gt.liveBefore(icount);
    this.acc.live.add(icount, gt.procsBefore, liveProcs, gt.threadsBefore, liveThreads);
  }
}

/** The scores of a tracker that kept its logs (the observations, syscalls and I/O accesses it logged). */
export function score(tr: ProcessTracker, gt: GroundTruth, endIcount: number, maxSyscallRows = DEFAULT_SYSCALL_ROWS): Scores {
  const acc = new ScoreAccumulator(maxSyscallRows);
  const procOf = (t: number): number => (t >= 0 ? gt.threads[t]!.proc : -1);
  // Observations and syscalls merged in icount order, as they happened (the per-syscall rows keep it).
  const o = tr.obs, sy = tr.sys, ths = tr.threads;
  const oTrue = runningAt(gt, o.icount, o.n);
  const sTrue = runningAt(gt, sy.icount, sy.n);
  for (let i = 0; i < o.n; i++) acc.observation(o.a[i]!, o.b[i]!, oTrue[i]!, procOf(oTrue[i]!));
  for (let j = 0; j < sy.n; j++) {
    const u = sy.a[j]!;
    acc.syscall(sy.icount[j]!, sy.b[j]!, ths[u]!.proc.upid, u, sTrue[j]!, procOf(sTrue[j]!));
  }
  const io = tr.io;
  const ioTrue = runningAt(gt, io.icount, io.n);
  for (let i = 0; i < io.n; i++) acc.io(io.a[i]!, io.b[i]!, ioTrue[i]!, tr.ioDevice(i));
  return acc.finish(tr, gt, endIcount);
}
