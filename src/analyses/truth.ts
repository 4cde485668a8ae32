// The guest's ground truth (ground_truth.arrow / onGroundTruth), collected for scoring only, and the scores
// of a ProcessTracker against it. Nothing here feeds the tracker.
//
// True entities are instances: a pid or tid from its create event to its exit event (pids and tids are
// reused, guest/README.md). "Running at icount t" is the thread of the last context switch before t (a
// ground-truth OUT at icount t happens after an exit at icount t).

import { GroundTruthType, type GroundTruthEvent, type MachineObserver } from '../emulator/events.js';
import { Log, type ProcessTracker } from './ProcessTracker.js';

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
  /** Context switches: (icount, true thread id, -). */
  readonly switches = new Log();
  /** Live user process / thread count changes: (icount, +1/-1 procs, +1/-1 threads). */
  readonly changes = new Log();

  onGroundTruth(e: GroundTruthEvent): void {
    switch (e.type) {
      case GroundTruthType.procCreate: {
        const id = this.procs.length;
        const kernel = (e.a0 & 1) === 1;
        this.procs.push({ id, pid: e.pid, ppid: e.ppid, kernel, name: e.name, created: e.icount, exited: -1, how: -1, cr3s: [e.cr3] });
        this.procOfPid.set(e.pid, id);
        if (!kernel) this.changes.push(e.icount, 1, 0);
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
            this.changes.push(e.icount, 1, 0);
            for (const t of this.threads) if (t.proc === p && t.exited < 0) this.changes.push(e.icount, 0, 1);
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
          if (!tp.kernel) this.changes.push(e.icount, -1, 0);
        }
        break;
      }
      case GroundTruthType.threadCreate: {
        const p = this.procOfPid.get(e.pid) ?? -1;
        const id = this.threads.length;
        this.threads.push({ id, tid: e.tid, proc: p, created: e.icount, exited: -1 });
        this.threadOfTid.set(e.tid, id);
        if (p >= 0 && !this.procs[p]!.kernel) this.changes.push(e.icount, 0, 1);
        break;
      }
      case GroundTruthType.threadExit: {
        const t = this.threadOfTid.get(e.tid);
        if (t !== undefined && this.threads[t]!.exited < 0) {
          const tt = this.threads[t]!;
          tt.exited = e.icount;
          if (tt.proc >= 0 && !this.procs[tt.proc]!.kernel) this.changes.push(e.icount, 0, -1);
        }
        break;
      }
      case GroundTruthType.contextSwitch: {
        const t = this.threadOfTid.get(e.tid);
        this.switches.push(e.icount, t ?? -1, 0);
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

/**
 * Greedy maximum-overlap one-to-one matching: pairs (recon, true) sorted by the number of observations they
 * share (descending; ties by ids), each side used at most once. Only true entities accepted by `scored`
 * count (user processes / user threads); observations while a kernel thread ran count for the
 * reconstructed side only (which is how kernel threads "appear as processes").
 */
export function matchIdentities(rec: Int32Array, tru: Int32Array, n: number, nRecTotal: number, nTrueTotal: number,
  scored: (t: number) => boolean): Matching {
  const pairs = new Map<number, number>();
  const recSeen = new Uint8Array(nRecTotal);
  const key = (r: number, t: number): number => r * (nTrueTotal + 1) + (t + 1);
  // Observations come in long runs of one (recon, true) pair: count a run, then add it to the map once.
  let runR = -1, runT = -1, run = 0;
  const flush = (): void => {
    if (run === 0) return;
    const k = key(runR, runT);
    pairs.set(k, (pairs.get(k) ?? 0) + run);
  };
  for (let i = 0; i < n; i++) {
    const r = rec[i]!;
    const t = tru[i]!;
    recSeen[r] = 1;
    if (r === runR && t === runT) {
      run++;
      continue;
    }
    if (t < 0 || !scored(t)) continue;
    flush();
    runR = r;
    runT = t;
    run = 1;
  }
  flush();
  const list = [...pairs].map(([k, c]) => ({ r: Math.floor(k / (nTrueTotal + 1)), t: (k % (nTrueTotal + 1)) - 1, c }));
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
    if (recSeen[r]) nRec++;
    if (recCover[r]! > 1) merges++;
  }
  for (let t = 0; t < nTrueTotal; t++) if (trueCover[t]! > 1) splits++;
  return { recToTrue, trueToRec, nRec, merges, splits, matched };
}

export interface LiveSeries {
  icount: Float64Array;
  trueProcs: Int32Array;
  recProcs: Int32Array;
  trueThreads: Int32Array;
  recThreads: Int32Array;
  n: number;
}

/** True live user processes/threads at the tracker's sample points (state before each sample icount). */
export function liveSeries(gt: GroundTruth, tr: ProcessTracker): LiveSeries {
  const s = tr.samples;
  const n = s.n;
  const trueProcs = new Int32Array(n), trueThreads = new Int32Array(n);
  const ch = gt.changes;
  let j = 0, p = 0, t = 0;
  for (let i = 0; i < n; i++) {
    while (j < ch.n && ch.icount[j]! < s.icount[i]!) {
      p += ch.a[j]!;
      t += ch.b[j]!;
      j++;
    }
    trueProcs[i] = p;
    trueThreads[i] = t;
  }
  return { icount: s.icount.subarray(0, n), trueProcs, recProcs: s.a.subarray(0, n), trueThreads, recThreads: s.b.subarray(0, n), n };
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
  /** True thread running at each syscall (-1 before the first context switch). */
  sysTrue: Int32Array;
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : NaN);

export function score(tr: ProcessTracker, gt: GroundTruth, endIcount: number): Scores {
  const series = liveSeries(gt, tr);
  let pa = 0, pm = 0, pb = 0, ta = 0, tm = 0, tb = 0;
  for (let i = 0; i < series.n; i++) {
    const dp = series.recProcs[i]! - series.trueProcs[i]!;
    const dt = series.recThreads[i]! - series.trueThreads[i]!;
    pa += Math.abs(dp); pb += dp; pm = Math.max(pm, Math.abs(dp));
    ta += Math.abs(dt); tb += dt; tm = Math.max(tm, Math.abs(dt));
  }
  const ns = Math.max(1, series.n);
  // Identity: every observation (logged exit or syscall) against the thread running then.
  const o = tr.observations();
  const obsTrue = runningAt(gt, o.icount, o.n);
  const obsTrueProc = new Int32Array(o.n);
  for (let i = 0; i < o.n; i++) obsTrueProc[i] = obsTrue[i]! >= 0 ? gt.threads[obsTrue[i]!]!.proc : -1;
  const userProc = (p: number): boolean => p >= 0 && !gt.procs[p]!.kernel;
  const userThread = (t: number): boolean => gt.isUserThread(t);
  const procs = matchIdentities(o.a, obsTrueProc, o.n, tr.procs.length, gt.procs.length, userProc);
  const threads = matchIdentities(o.b, obsTrue, o.n, tr.threads.length, gt.threads.length, userThread);
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
  // Syscalls.
  const sy = tr.sys;
  const syTrue = runningAt(gt, sy.icount, sy.n);
  let sp = 0, st = 0;
  for (let i = 0; i < sy.n; i++) {
    const t = syTrue[i]!;
    const u = sy.a[i]!;
    if (t >= 0 && threads.recToTrue[u] === t) st++;
    if (t >= 0 && procs.recToTrue[tr.threads[u]!.proc.upid] === gt.threads[t]!.proc) sp++;
  }
  // I/O.
  const io = tr.io;
  const ioTrue = runningAt(gt, io.icount, io.n);
  let nx = 0, pv = 0, nu = 0, nxu = 0, pvu = 0;
  const dev = new Map<string, [string, number, number, number]>();
  for (let i = 0; i < io.n; i++) {
    const t = ioTrue[i]!;
    const prev = io.a[i]!, next = io.b[i]!;
    const okN = t >= 0 && next >= 0 && threads.recToTrue[next] === t;
    const okP = t >= 0 && prev >= 0 && threads.recToTrue[prev] === t;
    if (okN) nx++;
    if (okP) pv++;
    if (userThread(t)) {
      nu++;
      if (okN) nxu++;
      if (okP) pvu++;
    }
    const d = tr.ioDevice(i);
    let row = dev.get(d);
    if (!row) dev.set(d, (row = [d, 0, 0, 0]));
    row[1]++;
    if (okN) row[2]++;
    if (okP) row[3]++;
  }
  return {
    procMae: pa / ns, procMaxErr: pm, procBias: pb / ns, threadMae: ta / ns, threadMaxErr: tm, threadBias: tb / ns,
    procs, threads,
    procPrecision: ratio(procs.matched, procs.nRec), threadPrecision: ratio(threads.matched, threads.nRec),
    startErrMean: ratio(sSum, nm), startErrMax: sMax, endErrMean: ratio(eSum, nm), endErrMax: eMax,
    syscalls: sy.n, syscallProcAcc: ratio(sp, sy.n), syscallThreadAcc: ratio(st, sy.n),
    io: io.n, ioUser: nu, ioNextAcc: ratio(nx, io.n), ioPrevAcc: ratio(pv, io.n), ioNextAccUser: ratio(nxu, nu), ioPrevAccUser: ratio(pvu, nu),
    ioByDevice: [...dev.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    series, sysTrue: syTrue,
  };
}
