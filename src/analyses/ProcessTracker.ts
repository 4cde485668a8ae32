// Process and thread reconstruction from hardware-visible state alone (seed 004 sections 5-6), as a
// MachineObserver: the same object runs attached to a machine (live) or fed by the importer (offline).
// It never subscribes to ground truth.
//
// - Process identity: CR3 (seed 004 5.1). A reconstructed process (upid) is one CR3 between its first
//   activity and its detected death; after a death the same CR3 starts a new upid.
// - Thread identity (seed 004 5.2): the user stack. A thread is a range of stack pages; an RSP belongs to
//   the thread whose range, extended to the RSP's page, still spans at most `maxStackPages` pages (seed
//   004's assumption: two). `threadId: 'pc'` is the program-counter identity the paper considered and
//   rejected (6.1): the user RIP at kernel entry is the thread, so threads interrupted at the same
//   instruction merge, and a thread seen at two instructions splits (we see no exit at user re-entry, the
//   paper's second problem, so the PC at entry is all there is).
// - User-mode filter (seed 004 6.1): exits taken at CPL 0 are not logged. A syscall row is user-mode
//   entry by definition (SYSCALL from CPL 3, user RSP still loaded); the exit that reported it is
//   represented by the syscall row.
// - Death (seed 004 6.1): 'none'; 'declared' (exit kills the thread, and the process with its last live
//   thread; exit_group kills the process); 'expiration' (no activity for `expiration` instructions of guest
//   time); 'declared+expiration'.
// - Attribution: every syscall to (upid, utid); every I/O access to the thread that runs next (the next
//   logged kernel entry: seed 004 6.4) and, as the alternative, to the thread that ran before.
//
// Hot path: no allocation per exit (a one-entry cache of the last thread; typed arrays for the logs).
//
// Memory: by default the tracker logs every observation, syscall, I/O access and live-count sample (16 bytes
// each: the report and the Perfetto export draw them). Given an ObservationSink it keeps none: each observation
// and sample goes to the sink as it is made (an I/O access once the thread that runs next is known), so what it
// holds is per process and per thread, whatever the trace's length (proctrack, exits --by process).

import { ExitWord, type ExitEvent, type IoEvent, type MachineObserver, type SyscallEvent } from '../emulator/events.js';
import { SYSCALLS } from '../hypervisor/interception/syscalls.js';
import type { RowObserver } from './importer.js';

export const DEATH_STRATEGIES = ['none', 'declared', 'expiration', 'declared+expiration'] as const;
export type DeathStrategy = (typeof DEATH_STRATEGIES)[number];
export const THREAD_IDS = ['stack', 'pc'] as const;
export type ThreadId = (typeof THREAD_IDS)[number];

export interface TrackerConfig {
  death: DeathStrategy;
  /** Expiration time T in guest instructions (for the expiration strategies). */
  expiration: number;
  threadId: ThreadId;
  /** Pages one stack may span (seed 004 5.2: 2). */
  maxStackPages: number;
  /** Do not log exits taken in kernel mode (seed 004 6.1). */
  userFilter: boolean;
  /** With declared death: also an execve ends the calling address space (the kernel frees it; a new CR3
   *  follows). An extension of seed 004's exit/exit_group; a failed execve then splits the process. */
  execDeath: boolean;
  /** Link an address space to the one an execve replaces: the first new CR3 seen within EXEC_LINK_WINDOW
   *  instructions after a process's execve continues that process (same upid; the calling thread continues on
   *  its new stack, the process's other threads end), so an exec no longer splits one process in two. The old
   *  CR3 reappearing first means the execve failed (same stack) or the new image reuses the CR3 (new stack).
   *  Overrides execDeath for execve. */
  execLink: boolean;
  /** Sample the live counts every this many instructions (a time series). */
  sampleEvery: number;
}

export const DEFAULT_TRACKER: TrackerConfig = {
  death: 'declared+expiration', expiration: 5_000_000, threadId: 'stack', maxStackPages: 2, userFilter: true, execDeath: false, execLink: false, sampleEvery: 100_000,
};

const SYS_EXIT = SYSCALLS.exit!;
const SYS_EXIT_GROUP = SYSCALLS.exit_group!;
const SYS_EXECVE = SYSCALLS.execve!;
const TWO32 = 4294967296;
/** How long after an execve a new CR3 is taken to be its image (guest instructions; an exec in our guest
 *  takes ~0.1M: loading the image, building the address space). */
export const EXEC_LINK_WINDOW = 2_000_000;

/** How a reconstructed entity ended. */
export const Death = { alive: 0, exit: 1, exitGroup: 2, expired: 3, execve: 4 } as const;
export const DEATH_NAMES = ['alive', 'exit', 'exit_group', 'expired', 'execve'] as const;

export class Proc {
  lastSeen: number;
  death = 0;
  /** An execve of this process is waiting for its new address space (execLink): the calling thread, or null. */
  execCaller: Thread | null = null;
  execAt = -1;
  /** Address spaces it had before the current one (execLink). */
  readonly oldCr3s: number[] = [];
  /** When the tracker considers it dead (declared: the syscall's icount; expired: lastSeen + T). */
  deathAt = -1;
  /** Live threads. (Counts of exits and syscalls are per thread: a process's are its threads' sums.) */
  readonly threads: Thread[] = [];
  constructor(readonly upid: number, public cr3: number, readonly firstSeen: number) {
    this.lastSeen = firstSeen;
  }
}

export class Thread {
  lastSeen: number;
  /** Stacks it had before an exec it made (execLink): [loPage, hiPage] pairs. */
  readonly oldStacks: number[] = [];
  death = 0;
  deathAt = -1;
  exits = 0;
  syscalls = 0;
  ioNext = 0;
  constructor(readonly utid: number, readonly proc: Proc, public loPage: number, public hiPage: number, readonly firstSeen: number) {
    this.lastSeen = firstSeen;
  }
}

/** `x` copied into a new typed array of the same kind with `capacity` (>= x.length) elements. */
function resized<T extends Float64Array | Int32Array | Uint8Array>(x: T, capacity: number): T {
  const y = new (x.constructor as new (n: number) => T)(capacity);
  y.set(x);
  return y;
}

/** A growable typed log (icount as float64, ids as int32). */
export class Log {
  n = 0;
  icount: Float64Array;
  a: Int32Array;
  b: Int32Array;
  constructor(capacity = 1024) {
    this.icount = new Float64Array(capacity);
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
  }
  /** Make room for `n` more rows at once (callers that know the row counts avoid regrowing). */
  reserve(n: number): void {
    if (this.n + n > this.icount.length) this.resize(this.n + n);
  }
  push(icount: number, a: number, b: number): void {
    if (this.n === this.icount.length) this.resize(Math.max(1024, 2 * this.n));
    this.icount[this.n] = icount;
    this.a[this.n] = a;
    this.b[this.n] = b;
    this.n++;
  }
  private resize(capacity: number): void {
    this.icount = resized(this.icount, capacity);
    this.a = resized(this.a, capacity);
    this.b = resized(this.b, capacity);
  }
}

/** Where a tracker without logs sends its observations, in the order it makes them. */
export interface ObservationSink {
  /** A logged exit that reported no syscall, by thread `utid` of process `upid`. */
  observe(icount: number, upid: number, utid: number): void;
  /** A syscall, attributed to thread `utid` of process `upid`. */
  syscall(icount: number, upid: number, utid: number, number: number): void;
  /** An I/O access: the thread current before it (`prev`) and the one that ran next (`next`; -1: none);
   *  `device` indexes the tracker's ioDevices. */
  io(icount: number, prev: number, next: number, device: number): void;
  /** A live-count sample: the live processes and threads before `icount` (every sampleEvery instructions). */
  sample(icount: number, liveProcs: number, liveThreads: number): void;
}

export class ProcessTracker implements MachineObserver, RowObserver {
  readonly procs: Proc[] = [];
  readonly threads: Thread[] = [];
  /** Live processes by CR3. */
  private readonly live = new Map<number, Proc>();
  private readonly declared: boolean;
  private readonly expires: boolean;
  private readonly T: number;
  private readonly maxPages: number;
  private readonly pc: boolean;
  private readonly filter: boolean;
  private readonly execDeath: boolean;
  private readonly execLink: boolean;
  /** Processes with an execve waiting for its new address space, oldest first. */
  private readonly pendingExecs: Proc[] = [];
  /** Last thread looked up (fast path). */
  private last: Thread | null = null;
  /** Thread of the last logged kernel entry (for I/O "ran before"), -1 none. */
  private current = -1;
  /** I/O accesses waiting for the next logged entry (indices into io). */
  private pendingFrom = 0;
  /** The exit that reported the last syscall (represented by the syscall row). */
  private lastSyscallExit = -1;
  // Logs. An observation is a logged exit or a syscall; the syscalls' are in `sys` only (one row per event on
  // the hot path), and observations() merges the two for scoring.
  /** Logged exits that did not report a syscall: (icount, upid, utid). */
  readonly obs = new Log();
  /** Syscalls: (icount, utid, number). */
  readonly sys = new Log();
  /** I/O: (icount, utid ran before, utid runs next); device in ioDevCode. */
  readonly io = new Log();

  /** Size the logs for a trace of known row counts (offline: the manifest's). */
  reserve(exits: number, syscalls: number, io: number): void {
    // An exit that reported a syscall is logged as its syscall, so about exits - syscalls exits are logged
    // (a hint: the log grows if there are more). Not reserving for all exits halves the fresh memory.
    this.obs.reserve(Math.max(0, exits - syscalls));
    this.sys.reserve(syscalls);
    this.io.reserve(io);
    if (this.ioDevCode.length < this.io.icount.length) this.ioDevCode = resized(this.ioDevCode, this.io.icount.length);
  }
  readonly ioDevices: string[] = [];
  private ioDevCode = new Uint8Array(1024);
  private readonly deviceIndex = new Map<string, number>();
  // Live-count samples: icount, live processes, live threads.
  readonly samples = new Log();
  private nextSample: number;
  private liveProcs = 0;
  private liveThreads = 0;
  exitsSeen = 0;
  /** RowObserver: the user RIP is read only for program-counter thread identity. */
  readonly wantsRip: boolean;

  /** Without logs: observations go to `sink` as they are made (see the top of this file). */
  constructor(readonly config: TrackerConfig, private readonly sink: ObservationSink | null = null) {
    this.wantsRip = config.threadId === 'pc';
    this.declared = config.death === 'declared' || config.death === 'declared+expiration';
    this.expires = config.death === 'expiration' || config.death === 'declared+expiration';
    this.T = config.expiration;
    this.maxPages = Math.max(1, config.maxStackPages);
    this.pc = config.threadId === 'pc';
    this.filter = config.userFilter;
    this.execDeath = config.execDeath;
    this.execLink = config.execLink;
    this.nextSample = config.sampleEvery;
  }

  /** The process of the last logged kernel entry, or -1 (for analyses that attribute as they go). */
  currentUpid(): number {
    return this.current < 0 ? -1 : this.threads[this.current]!.proc.upid;
  }

  onExit(e: ExitEvent): void {
    const w = e.words;
    this.exitRow(e.seq, e.icount, e.cpl, w[ExitWord.cr3]! + w[ExitWord.cr3 + 1]! * TWO32, w[ExitWord.rsp]! | 0, w[ExitWord.rsp + 1]! | 0,
      w[ExitWord.rip]! | 0, w[ExitWord.rip + 1]! | 0);
  }

  onSyscall(e: SyscallEvent): void {
    this.syscallRow(e.icount, e.exitSeq, e.number, e.cr3, e.rspLo | 0, e.rspHi | 0, e.ripLo | 0, e.ripHi | 0);
  }

  /** An exit, as columns (what onExit reads of the event; the importer calls this directly: RowObserver). */
  exitRow(seq: number, ic: number, cpl: number, cr3: number, rspLo: number, rspHi: number, ripLo: number, ripHi: number): void {
    this.exitsSeen++;
    if (ic >= this.nextSample) this.sample(ic);
    if (seq === this.lastSyscallExit) return; // logged as its syscall
    if (this.filter && cpl !== 3) return; // seed 004 6.1: not logged in kernel mode
    const t = this.pc ? this.enter(ic, cr3, ripLo, ripHi) : this.enter(ic, cr3, rspLo, rspHi);
    t.exits++;
    if (this.sink === null) this.obs.push(ic, t.proc.upid, t.utid);
    else this.sink.observe(ic, t.proc.upid, t.utid);
    this.observe(t);
  }

  /** A syscall, as columns (what onSyscall reads of the event; RowObserver). */
  syscallRow(ic: number, exitSeq: number, number: number, cr3: number, rspLo: number, rspHi: number, ripLo: number, ripHi: number): void {
    if (ic >= this.nextSample) this.sample(ic);
    this.lastSyscallExit = exitSeq;
    const t = this.pc ? this.enter(ic, cr3, ripLo, ripHi) : this.enter(ic, cr3, rspLo, rspHi);
    t.syscalls++;
    if (this.sink === null) this.sys.push(ic, t.utid, number);
    else this.sink.syscall(ic, t.proc.upid, t.utid, number);
    this.observe(t);
    if (this.declared) {
      if (number === SYS_EXIT_GROUP) this.killProc(t.proc, ic, Death.exitGroup);
      else if (number === SYS_EXECVE && this.execDeath && !this.execLink) this.killProc(t.proc, ic, Death.execve);
      else if (number === SYS_EXIT) {
        this.killThread(t, ic, Death.exit);
        if (t.proc.threads.length === 0) this.killProc(t.proc, ic, Death.exit);
      }
    }
    if (number === SYS_EXECVE && this.execLink && t.death === 0) {
      const p = t.proc;
      if (p.execCaller === null) this.pendingExecs.push(p);
      p.execCaller = t;
      p.execAt = ic;
      this.last = null; // the next entry takes the slow path, which resolves the exec
    }
  }

  onIo(e: IoEvent): void {
    if (e.icount >= this.nextSample) this.sample(e.icount);
    const n = this.io.n;
    this.io.push(e.icount, this.current, -1);
    if (n >= this.ioDevCode.length) this.ioDevCode = resized(this.ioDevCode, this.io.icount.length);
    let code = this.deviceIndex.get(e.device);
    if (code === undefined) {
      code = this.ioDevices.length;
      this.ioDevices.push(e.device);
      this.deviceIndex.set(e.device, code);
    }
    this.ioDevCode[n] = code;
  }

  ioDevice(i: number): string {
    return this.ioDevices[this.ioDevCode[i]!]!;
  }

  /** Close the run: samples up to `icount` (the end of the trace); without logs, the accesses no logged entry
   *  followed go to the sink (next = -1). */
  finish(icount: number): void {
    if (icount >= this.nextSample) this.sample(icount);
    if (this.sink !== null) this.drainIo();
  }

  /** Every observation (logged exit or syscall) in icount order: the obs and sys logs merged. */
  observations(): Log {
    const o = this.obs, sy = this.sys, ths = this.threads;
    const out = new Log(o.n + sy.n);
    let i = 0, j = 0;
    while (i < o.n || j < sy.n) {
      if (j >= sy.n || (i < o.n && o.icount[i]! <= sy.icount[j]!)) {
        out.push(o.icount[i]!, o.a[i]!, o.b[i]!);
        i++;
      } else {
        out.push(sy.icount[j]!, ths[sy.a[j]!]!.proc.upid, sy.a[j]!);
        j++;
      }
    }
    return out;
  }

  /** A logged kernel entry by thread t (the syscall or exit row is logged by the caller). */
  private observe(t: Thread): void {
    this.current = t.utid;
    // The paper's I/O attribution: pending accesses go to the thread that runs next (seed 004 6.4).
    const io = this.io;
    if (this.pendingFrom < io.n) {
      for (let i = this.pendingFrom; i < io.n; i++) io.b[i] = t.utid;
      t.ioNext += io.n - this.pendingFrom;
      this.pendingFrom = io.n;
      if (this.sink !== null) this.drainIo();
    }
  }

  /** Without logs: hand the I/O accesses resolved so far to the sink and forget them. */
  private drainIo(): void {
    const io = this.io, sink = this.sink!;
    for (let i = 0; i < io.n; i++) sink.io(io.icount[i]!, io.a[i]!, io.b[i]!, this.ioDevCode[i]!);
    io.n = 0;
    this.pendingFrom = 0;
  }

  /** A logged kernel entry: find or create the process and thread. (lo, hi) is the RSP (or the RIP) as int32
   *  words; the key is the stack page (or the PC). Words cross the call as int32 so they are never boxed. */
  private enter(ic: number, cr3: number, lo: number, hi: number): Thread {
    const key = this.pc ? (lo >>> 0) + (hi >>> 0) * TWO32 : (hi >>> 0) * 1048576 + (lo >>> 12);
    const T = this.T;
    let t = this.last;
    if (t !== null && t.death === 0 && t.proc.cr3 === cr3 && (this.pc ? t.loPage === key : key >= t.loPage && key <= t.hiPage)) {
      if (!this.expires || (ic - t.lastSeen <= T && ic - t.proc.lastSeen <= T)) {
        t.lastSeen = ic;
        t.proc.lastSeen = ic;
        return t;
      }
    }
    let p = this.live.get(cr3);
    if (p !== undefined && this.expires && ic - p.lastSeen > T) {
      this.killProc(p, p.lastSeen + T, Death.expired);
      p = undefined;
    }
    if (this.pendingExecs.length > 0) {
      const linked = this.resolveExec(ic, cr3, key, p);
      if (linked !== null) return linked;
    }
    if (p === undefined) {
      p = new Proc(this.procs.length, cr3, ic);
      this.procs.push(p);
      this.live.set(cr3, p);
      this.liveProcs++;
    }
    p.lastSeen = ic;
    // Find the thread: the live thread whose range, extended to this page, spans <= maxPages pages.
    t = null;
    let best = Infinity;
    const ths = p.threads;
    for (let k = 0; k < ths.length; k++) {
      const c = ths[k]!;
      if (this.expires && ic - c.lastSeen > T) {
        this.killThread(c, c.lastSeen + T, Death.expired);
        k--;
        continue;
      }
      if (this.pc) {
        if (c.loPage === key) {
          t = c;
          break;
        }
        continue;
      }
      const lo = key < c.loPage ? key : c.loPage;
      const hi = key > c.hiPage ? key : c.hiPage;
      if (hi - lo < this.maxPages) {
        const d = key < c.loPage ? c.loPage - key : key > c.hiPage ? key - c.hiPage : 0;
        if (d < best) {
          best = d;
          t = c;
        }
      }
    }
    if (t === null) {
      t = new Thread(this.threads.length, p, key, key, ic);
      this.threads.push(t);
      ths.push(t);
      this.liveThreads++;
    } else if (!this.pc) {
      if (key < t.loPage) t.loPage = key;
      if (key > t.hiPage) t.hiPage = key;
    }
    t.lastSeen = ic;
    this.last = t;
    return t;
  }

  /**
   * execLink: an entry in `cr3` (live process `p`, if any) while execs are pending. The old CR3 seen again
   * on the caller's stack: the execve failed; on another stack: the new image reuses the CR3. A CR3 with no
   * live process: the image of the oldest pending exec (within the window). Returns the caller thread,
   * continued, or null (an ordinary lookup follows).
   */
  private resolveExec(ic: number, cr3: number, key: number, p: Proc | undefined): Thread | null {
    const pend = this.pendingExecs;
    while (pend.length > 0 && (pend[0]!.death !== 0 || pend[0]!.execCaller === null || ic - pend[0]!.execAt > EXEC_LINK_WINDOW)) {
      pend[0]!.execCaller = null;
      pend.shift();
    }
    let q: Proc | undefined;
    if (p !== undefined && p.execCaller !== null) {
      const c = p.execCaller;
      q = p;
      // another of its threads entering before the exec completes: not the exec's doing
      for (const o of p.threads) if (o !== c && (this.pc ? o.loPage === key : key >= o.loPage && key <= o.hiPage)) return null;
      if (c.death === 0 && (this.pc ? c.loPage === key : key >= c.loPage && key <= c.hiPage)) {
        // the execve failed: the process carries on as it was
        p.execCaller = null;
        pend.splice(pend.indexOf(p), 1);
        return null;
      }
    } else if (p === undefined && pend.length > 0) {
      q = pend[0]!;
    }
    if (q === undefined) return null;
    const caller = q.execCaller!;
    q.execCaller = null;
    pend.splice(pend.indexOf(q), 1);
    if (caller.death !== 0) return null;
    // The exec succeeded: the other threads end (the new image has one), the caller moves to the new stack.
    for (let k = q.threads.length - 1; k >= 0; k--) if (q.threads[k] !== caller) this.killThread(q.threads[k]!, q.execAt, Death.execve);
    if (q.cr3 !== cr3) {
      if (this.live.get(q.cr3) === q) this.live.delete(q.cr3);
      q.oldCr3s.push(q.cr3);
      q.cr3 = cr3;
      this.live.set(cr3, q);
    }
    caller.oldStacks.push(caller.loPage, caller.hiPage);
    caller.loPage = key;
    caller.hiPage = key;
    caller.lastSeen = ic;
    q.lastSeen = ic;
    this.last = caller;
    return caller;
  }

  private killThread(t: Thread, at: number, how: number): void {
    if (t.death !== 0) return;
    t.death = how;
    t.deathAt = at;
    const ths = t.proc.threads;
    const i = ths.indexOf(t);
    if (i >= 0) ths.splice(i, 1);
    this.liveThreads--;
    if (this.last === t) this.last = null;
  }

  private killProc(p: Proc, at: number, how: number): void {
    if (p.death !== 0) return;
    while (p.threads.length > 0) this.killThread(p.threads[p.threads.length - 1]!, at, how);
    p.death = how;
    p.deathAt = at;
    if (this.live.get(p.cr3) === p) this.live.delete(p.cr3);
    this.liveProcs--;
  }

  /** Record the live counts at every sample point up to `ic` (state before the event at `ic`). */
  private sample(ic: number): void {
    const every = this.config.sampleEvery;
    while (this.nextSample <= ic) {
      const at = this.nextSample;
      if (this.expires) {
        // Expire what has been idle for more than T at `at` (what a periodic sweep would do).
        for (const p of [...this.live.values()]) {
          if (at - p.lastSeen > this.T) this.killProc(p, p.lastSeen + this.T, Death.expired);
          else for (let k = p.threads.length - 1; k >= 0; k--) {
            const t = p.threads[k]!;
            if (at - t.lastSeen > this.T) this.killThread(t, t.lastSeen + this.T, Death.expired);
          }
        }
      }
      if (this.sink === null) this.samples.push(at, this.liveProcs, this.liveThreads);
      else this.sink.sample(at, this.liveProcs, this.liveThreads);
      this.nextSample += every;
    }
  }
}
