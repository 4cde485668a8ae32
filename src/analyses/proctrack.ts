// `trace analyze <dir> proctrack`: rebuild the guest's process and thread tables from hardware-visible state
// (CR3, user RSP, CPL, syscalls; seed 004 sections 5-6), attribute syscalls and I/O to them, and score the
// reconstruction against the guest's ground truth, for several death-detection strategies in one pass.
//
// One tracker per strategy (src/analyses/ProcessTracker.ts) subscribes to the importer's event stream; the same
// trackers subscribe to a live machine (ProctrackRun.trackers, e.g. through replayTrace's `attach`). The
// ground truth is collected by a separate observer and used only for scoring (./truth.ts).

import { UserError } from '../errors.js';
import type { MachineObserver } from '../emulator/events.js';
import { importTrace } from './importer.js';
import { syscallName, syscallNamer } from '../hypervisor/interception/syscalls.js';
import { boolOption, choiceListOption, countListOption, countOption, openTrace, stringOption } from './options.js';
import type { Analysis, AnalysisResult, Cell, OptionValues, ResultColumn, ResultTable } from './result.js';
import { DEATH_NAMES, DEATH_STRATEGIES, DEFAULT_TRACKER, ProcessTracker, THREAD_IDS, type DeathStrategy, type TrackerConfig } from './ProcessTracker.js';
import { DEFAULT_SYSCALL_ROWS, GroundTruth, LIVE_POINTS, StreamingScore, type Scores } from './truth.js';

export const DEFAULT_EXPIRATIONS = [1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000];

export interface ProctrackOptions {
  deaths: DeathStrategy[];
  expirations: number[];
  base: Omit<TrackerConfig, 'death' | 'expiration'>;
  /** Rows of the per-syscall table (the first syscalls; the scores count all of them). */
  syscallRows: number;
}

export function parseProctrackOptions(o: OptionValues): ProctrackOptions {
  const deaths = choiceListOption(o, 'death', '--death', DEATH_STRATEGIES, DEATH_STRATEGIES) as DeathStrategy[];
  const expirations = countListOption(o, 'expire', '--expire', DEFAULT_EXPIRATIONS);
  if (expirations.some((t) => t <= 0)) throw new UserError('--expire: every T must be > 0 instructions');
  return {
    deaths, expirations,
    syscallRows: countOption(o, 'syscallRows', '--syscall-rows', DEFAULT_SYSCALL_ROWS, 0),
    base: {
      threadId: stringOption(o, 'threadId', '--thread-id', DEFAULT_TRACKER.threadId, THREAD_IDS) as TrackerConfig['threadId'],
      maxStackPages: countOption(o, 'maxStackPages', '--max-stack-pages', DEFAULT_TRACKER.maxStackPages, 1),
      userFilter: boolOption(o, 'userFilter', DEFAULT_TRACKER.userFilter),
      execDeath: boolOption(o, 'execDeath', DEFAULT_TRACKER.execDeath),
      execLink: boolOption(o, 'execLink', DEFAULT_TRACKER.execLink),
      sampleEvery: countOption(o, 'sampleEvery', '--sample-every', DEFAULT_TRACKER.sampleEvery, 1),
    },
  };
}


/** Human label of a configuration: `declared+expiration T=5M`. */
export function strategyLabel(c: TrackerConfig): string {
  const t = c.expiration;
  const tt = t % 1_000_000 === 0 ? `${t / 1_000_000}M` : t % 1000 === 0 ? `${t / 1000}k` : String(t);
  return c.death === 'expiration' || c.death === 'declared+expiration' ? `${c.death} T=${tt}` : c.death;
}

export function configsOf(p: ProctrackOptions): TrackerConfig[] {
  const out: TrackerConfig[] = [];
  for (const d of p.deaths) {
    if (d === 'expiration' || d === 'declared+expiration') for (const T of p.expirations) out.push({ ...p.base, death: d, expiration: T });
    else out.push({ ...p.base, death: d, expiration: 0 });
  }
  return out;
}

/**
 * The trackers and the ground-truth collector of one proctrack run, as observers (offline or live). The
 * trackers keep no logs: each scores its observations and live-count samples as they come (truth.ts
 * StreamingScore), so a run holds per-process and per-thread state, the first `syscallRows` syscalls and a
 * live-count series of at most 2 x LIVE_POINTS points per strategy, whatever the trace's length.
 */
export class ProctrackRun {
  readonly trackers: ProcessTracker[];
  readonly truth = new GroundTruth({ keepSwitches: false });
  private readonly scorers: StreamingScore[];
  constructor(readonly configs: readonly TrackerConfig[], readonly syscallRows = DEFAULT_SYSCALL_ROWS) {
    this.scorers = configs.map(() => new StreamingScore(this.truth, syscallRows));
    this.trackers = configs.map((c, i) => new ProcessTracker(c, this.scorers[i]!));
    this.trackers.forEach((t, i) => (this.scorers[i]!.tracker = t));
  }
  get observers(): MachineObserver[] {
    // The ground truth first: at one icount its events are before the trackers' (it only ever looks back).
    return [this.truth, ...this.trackers];
  }
  /** Close at the end of the run and score every tracker. */
  finish(endIcount: number): Scores[] {
    for (const t of this.trackers) t.finish(endIcount);
    return this.trackers.map((t, i) => this.scorers[i]!.acc.finish(t, this.truth, endIcount));
  }
}

const c = (name: string, type: ResultColumn['type'], unit: string, doc: string): ResultColumn => ({ name, type, unit, doc });

export const STRATEGY_COLUMNS: readonly ResultColumn[] = [
  c('strategy', 'utf8', '', 'Death-detection strategy and expiration time T.'),
  c('recon_procs', 'int64', 'processes', 'Reconstructed processes (upids minted).'),
  c('true_procs', 'int64', 'processes', 'True user processes in the run (kernel threads excluded).'),
  c('proc_precision', 'float64', '', 'Matched reconstructed processes / reconstructed processes.'),
  c('proc_recall', 'float64', '', 'Matched true user processes / true user processes.'),
  c('proc_merges', 'int64', 'processes', 'Reconstructed processes whose observations cover two or more true processes.'),
  c('proc_splits', 'int64', 'processes', 'True processes whose observations are spread over two or more reconstructed ones.'),
  c('proc_live_mae', 'float64', 'processes', 'Mean absolute error of the live process count over the samples.'),
  c('proc_live_max', 'int64', 'processes', 'Largest absolute error of the live process count.'),
  c('proc_live_bias', 'float64', 'processes', 'Mean signed error (reconstructed - true) of the live process count: > 0 overcounts.'),
  c('recon_threads', 'int64', 'threads', 'Reconstructed threads (utids minted).'),
  c('true_threads', 'int64', 'threads', 'True user threads in the run.'),
  c('thread_precision', 'float64', '', 'Matched reconstructed threads / reconstructed threads.'),
  c('thread_recall', 'float64', '', 'Matched true user threads / true user threads.'),
  c('thread_merges', 'int64', 'threads', 'Reconstructed threads covering two or more true threads.'),
  c('thread_splits', 'int64', 'threads', 'True threads spread over two or more reconstructed threads.'),
  c('thread_live_mae', 'float64', 'threads', 'Mean absolute error of the live thread count.'),
  c('thread_live_max', 'int64', 'threads', 'Largest absolute error of the live thread count.'),
];

export const ATTRIBUTION_COLUMNS: readonly ResultColumn[] = [
  c('strategy', 'utf8', '', 'Death-detection strategy and expiration time T.'),
  c('start_err_mean', 'float64', 'instructions', 'Matched processes: mean |first seen - true creation|.'),
  c('end_err_mean', 'float64', 'instructions', 'Matched processes: mean |detected death (or trace end) - true exit (or trace end)|.'),
  c('end_err_max', 'int64', 'instructions', 'Matched processes: largest end error.'),
  c('syscalls', 'int64', 'syscalls', 'Syscalls attributed (syscalls.arrow rows).'),
  c('syscall_proc_acc', 'float64', '', 'Share of syscalls attributed to the reconstructed process matched to the true caller\'s process.'),
  c('syscall_thread_acc', 'float64', '', 'Share of syscalls attributed to the reconstructed thread matched to the true calling thread.'),
  c('io', 'int64', 'accesses', 'I/O accesses (io.arrow rows).'),
  c('io_next_acc', 'float64', '', 'Share of I/O accesses attributed right by "the thread that runs next" (seed 004 6.4); truth: the thread the kernel ran the access for.'),
  c('io_prev_acc', 'float64', '', 'Share attributed right by "the thread that ran before".'),
  c('io_user', 'int64', 'accesses', 'I/O accesses made while a user thread was current (the others ran in a kernel thread: no user thread is right).'),
  c('io_next_acc_user', 'float64', '', 'io_next_acc over io_user accesses only.'),
  c('io_prev_acc_user', 'float64', '', 'io_prev_acc over io_user accesses only.'),
];

const PROCESS_COLUMNS: readonly ResultColumn[] = [
  c('upid', 'int64', '', 'Reconstructed process id (minted in order of first activity).'),
  c('cr3', 'uint64', '', 'The CR3 (page-table root) that identifies it (seed 004 5.1).'),
  c('first_seen', 'int64', 'instructions', 'icount of its first logged kernel entry.'),
  c('last_seen', 'int64', 'instructions', 'icount of its last logged kernel entry.'),
  c('end', 'int64', 'instructions', 'When the tracker declared it dead (declared: the syscall; expired: last_seen + T); null: alive at the end.'),
  c('death', 'utf8', '', 'How it ended: alive, exit, exit_group, expired, execve.'),
  c('threads', 'int64', 'threads', 'Reconstructed threads minted in it.'),
  c('exits', 'int64', 'exits', 'Logged exits attributed to it (syscall-reporting exits excluded).'),
  c('syscalls', 'int64', 'syscalls', 'Syscalls attributed to it.'),
  c('true_pid', 'int64', '', 'pid of the matched true process; null if unmatched.'),
  c('true_name', 'utf8', '', 'Program name of the matched true process.'),
  c('true_created', 'int64', 'instructions', 'icount of the matched true process\'s creation.'),
  c('true_exited', 'int64', 'instructions', 'icount of its exit; null if alive at the end.'),
];

const THREAD_COLUMNS: readonly ResultColumn[] = [
  c('utid', 'int64', '', 'Reconstructed thread id.'),
  c('upid', 'int64', '', 'Its reconstructed process.'),
  c('key_lo', 'uint64', '', 'Stack identity: lowest user stack page address seen (pc identity: the user RIP).'),
  c('key_hi', 'uint64', '', 'Stack identity: highest user stack page address seen (pc identity: the user RIP).'),
  c('first_seen', 'int64', 'instructions', 'icount of its first logged kernel entry.'),
  c('last_seen', 'int64', 'instructions', 'icount of its last logged kernel entry.'),
  c('end', 'int64', 'instructions', 'Detected death; null: alive at the end.'),
  c('death', 'utf8', '', 'alive, exit, exit_group, expired, execve.'),
  c('exits', 'int64', 'exits', 'Logged exits attributed to it.'),
  c('syscalls', 'int64', 'syscalls', 'Syscalls attributed to it.'),
  c('io_next', 'int64', 'accesses', 'I/O accesses attributed to it as the thread that ran next.'),
  c('true_tid', 'int64', '', 'tid of the matched true thread; null if unmatched.'),
  c('true_pid', 'int64', '', 'pid of the matched true thread\'s process.'),
];

const LIVE_COLUMNS: readonly ResultColumn[] = [
  c('strategy', 'utf8', '', 'Death-detection strategy.'),
  c('icount', 'int64', 'instructions', 'Sample time (every --sample-every instructions); counts are the state before it.'),
  c('true_procs', 'int64', 'processes', 'Live true user processes.'),
  c('recon_procs', 'int64', 'processes', 'Live reconstructed processes.'),
  c('true_threads', 'int64', 'threads', 'Live true user threads.'),
  c('recon_threads', 'int64', 'threads', 'Live reconstructed threads.'),
];

const IO_COLUMNS: readonly ResultColumn[] = [
  c('device', 'utf8', '', 'Device owning the port.'),
  c('accesses', 'int64', 'accesses', 'I/O accesses.'),
  c('next_acc', 'float64', '', 'Share attributed right to the thread that ran next (seed 004 6.4).'),
  c('prev_acc', 'float64', '', 'Share attributed right to the thread that ran before.'),
];

const SYSCALL_COLUMNS: readonly ResultColumn[] = [
  c('icount', 'int64', 'instructions', 'icount of the SYSCALL.'),
  c('number', 'int64', '', 'Syscall number (RAX).'),
  c('name', 'utf8', '', 'Syscall name: the guest kernel\'s own (a Linux trace: its sys_call_table, manifest extra.syscall_names), else guest/README.md.'),
  c('upid', 'int64', '', 'Reconstructed process it was attributed to.'),
  c('utid', 'int64', '', 'Reconstructed thread it was attributed to.'),
  c('true_pid', 'int64', '', 'pid of the thread that really made it.'),
  c('true_tid', 'int64', '', 'tid of the thread that really made it.'),
  c('correct', 'bool', '', 'The attributed thread is the one matched to the true caller.'),
];

const nan = (x: number): number | null => (Number.isFinite(x) ? x : null);

function strategyRow(label: string, tr: ProcessTracker, trueProcs: number, trueThreads: number, s: Scores): Cell[] {
  return [label, tr.procs.length, trueProcs, nan(s.procPrecision), nan(s.procs.matched / trueProcs), s.procs.merges, s.procs.splits,
    s.procMae, s.procMaxErr, s.procBias, tr.threads.length, trueThreads, nan(s.threadPrecision), nan(s.threads.matched / trueThreads),
    s.threads.merges, s.threads.splits, s.threadMae, s.threadMaxErr];
}

function attributionRow(label: string, s: Scores): Cell[] {
  return [label, nan(s.startErrMean), nan(s.endErrMean), s.endErrMax, s.syscalls, nan(s.syscallProcAcc), nan(s.syscallThreadAcc),
    s.io, nan(s.ioNextAcc), nan(s.ioPrevAcc), s.ioUser, nan(s.ioNextAccUser), nan(s.ioPrevAccUser)];
}

/** Build the result tables of a finished run. `best` = lowest live-process-count MAE (first on ties). */
export function proctrackResult(title: string, run: ProctrackRun, scores: Scores[], endIcount: number, nameOf: (n: number) => string = syscallName): AnalysisResult {
  const gt = run.truth;
  const labels = run.configs.map(strategyLabel);
  let best = 0;
  scores.forEach((s, i) => {
    if (s.procMae < scores[best]!.procMae) best = i;
  });
  const tr = run.trackers[best]!;
  const s = scores[best]!;
  const trueProcs = gt.procs.filter((p) => !p.kernel).length;
  const trueThreads = gt.threads.filter((t) => gt.isUserThread(t.id)).length;
  const tables: ResultTable[] = [];
  tables.push({ name: 'strategies', doc: 'one row per death-detection strategy: counts and identity scores against ground truth',
    columns: STRATEGY_COLUMNS, rows: run.trackers.map((t, i) => strategyRow(labels[i]!, t, trueProcs, trueThreads, scores[i]!)) });
  tables.push({ name: 'attribution', doc: 'one row per strategy: lifetime error, syscall and I/O attribution accuracy',
    columns: ATTRIBUTION_COLUMNS, rows: scores.map((x, i) => attributionRow(labels[i]!, x)) });
  tables.push({ name: 'io_by_device', doc: `I/O attribution by device (${labels[best]})`, columns: IO_COLUMNS,
    rows: s.ioByDevice.map(([d, n, nx, pv]) => [d, n, nx / n, pv / n]) });
  // Per process: threads minted, exits and syscalls (its threads' sums), in one pass over the threads.
  const nThreads = new Int32Array(tr.procs.length), exits = new Float64Array(tr.procs.length), syscalls = new Float64Array(tr.procs.length);
  for (const t of tr.threads) {
    nThreads[t.proc.upid]!++;
    exits[t.proc.upid]! += t.exits;
    syscalls[t.proc.upid]! += t.syscalls;
  }
  const procRows: Cell[][] = tr.procs.map((p) => {
    const t = s.procs.recToTrue[p.upid]!;
    const tp = t >= 0 ? gt.procs[t]! : null;
    return [p.upid, BigInt(p.cr3), p.firstSeen, p.lastSeen, p.deathAt >= 0 ? p.deathAt : null, DEATH_NAMES[p.death]!,
      nThreads[p.upid]!, exits[p.upid]!, syscalls[p.upid]!,
      tp ? tp.pid : null, tp ? tp.name : null, tp ? tp.created : null, tp && tp.exited >= 0 ? tp.exited : null];
  });
  tables.push({ name: 'processes', doc: `the reconstructed process table (${labels[best]}), matched to the true processes`,
    columns: PROCESS_COLUMNS, rows: procRows, print: procRows.length <= 60 });
  const threadRows: Cell[][] = tr.threads.map((t) => {
    const m = s.threads.recToTrue[t.utid]!;
    const tt = m >= 0 ? gt.threads[m]! : null;
    const pc = tr.config.threadId === 'pc';
    return [t.utid, t.proc.upid, BigInt(pc ? t.loPage : t.loPage * 4096), BigInt(pc ? t.hiPage : t.hiPage * 4096),
      t.firstSeen, t.lastSeen, t.deathAt >= 0 ? t.deathAt : null, DEATH_NAMES[t.death]!, t.exits, t.syscalls, t.ioNext,
      tt ? tt.tid : null, tt && tt.proc >= 0 ? gt.procs[tt.proc]!.pid : null];
  });
  tables.push({ name: 'threads', doc: `the reconstructed thread table (${labels[best]})`, columns: THREAD_COLUMNS, rows: threadRows, print: false });
  const live: Cell[][] = [];
  scores.forEach((x, i) => {
    const sr = x.series;
    for (let k = 0; k < sr.n; k++) live.push([labels[i]!, sr.icount[k]!, sr.trueProcs[k]!, sr.recProcs[k]!, sr.trueThreads[k]!, sr.recThreads[k]!]);
  });
  // The series is bounded (truth.ts LiveAccumulator): a long run keeps every k-th sample; the scores count all.
  const every = Math.max(1, ...scores.map((x) => x.series.every));
  const liveDoc = 'live process and thread counts over time, true and reconstructed, per strategy (for plotting)' +
    (every > 1 ? `: one point per ${every} samples (${scores[0]!.series.samples} samples; at most ${2 * LIVE_POINTS} points per strategy; the scores count every sample)` : '');
  tables.push({ name: 'live_count', doc: liveDoc, columns: LIVE_COLUMNS, rows: live, print: false });
  const sy = s.sysRows;
  const sysRows: Cell[][] = [];
  for (let i = 0; i < sy.n; i++) {
    const t = s.sysTrue[i]!; // the true caller: the thread running at the SYSCALL
    const tt = t >= 0 ? gt.threads[t]! : null;
    const u = sy.a[i]!;
    sysRows.push([sy.icount[i]!, sy.b[i]!, nameOf(sy.b[i]!), tr.threads[u]!.proc.upid, u,
      tt && tt.proc >= 0 ? gt.procs[tt.proc]!.pid : null, tt ? tt.tid : null, t >= 0 && s.threads.recToTrue[u] === t]);
  }
  const sysDoc = sy.n < s.syscalls ? `the first ${sy.n} of ${s.syscalls} syscalls with their attribution (--syscall-rows)` : 'every syscall with its attribution';
  tables.push({ name: 'syscalls', doc: `${sysDoc} (${labels[best]})`, columns: SYSCALL_COLUMNS, rows: sysRows, print: false });
  const notes = [
    `best strategy by live process-count error: ${labels[best]} (mean abs error ${s.procMae.toFixed(2)}, max ${s.procMaxErr}; ` +
      `process recall ${(s.procs.matched / Math.max(1, trueProcs)).toFixed(3)}, precision ${s.procPrecision.toFixed(3)})`,
    `thread identity: ${tr.config.threadId === 'pc' ? 'user PC at kernel entry (seed 004 6.1, rejected idea)' : `stack pages, at most ${tr.config.maxStackPages} per stack (seed 004 5.2)`}; ` +
      `user-mode filter ${tr.config.userFilter ? 'on' : 'off'} (seed 004 6.1)${tr.config.execLink ? '; execve links the new address space to the process' : tr.config.execDeath ? '; execve ends the address space' : ''}`,
    `ground truth: ${trueProcs} user processes, ${gt.procs.filter((p) => p.kernel).length} kernel threads, ` +
      `${gt.procs.filter((p) => p.how === 2).length} killed by a fault (no exit syscall); trace ends at icount ${endIcount}`,
  ];
  return { title, tables, notes };
}

/** Live-count samples one tracker may take (the work of a run, not its memory). */
const MAX_SAMPLES = 1_000_000;

export async function runProctrack(dir: string, o: OptionValues): Promise<AnalysisResult> {
  const p = parseProctrackOptions(o);
  const reader = openTrace(dir, o);
  // Each tracker takes one live-count sample per --sample-every instructions of the run (each a sweep of the live
  // processes for the expiration strategies; none is kept beyond the bounded series): bound their number.
  const samples = reader.manifest.totals.icount / p.base.sampleEvery;
  if (samples > MAX_SAMPLES) {
    throw new UserError(`--sample-every ${p.base.sampleEvery}: the trace's ${reader.manifest.totals.icount} instructions would give ` +
      `${Math.ceil(samples)} samples per strategy (at most ${MAX_SAMPLES}); use at least ${Math.ceil(reader.manifest.totals.icount / MAX_SAMPLES)}`);
  }
  const run = new ProctrackRun(configsOf(p), p.syscallRows);
  const sum = importTrace(reader, run.observers, { syscallArgs: false });
  const scores = run.finish(sum.icount);
  const m = reader.manifest;
  const title = `proctrack: ${dir} (workload ${m.workload.name}, ${sum.exits} exits, ${sum.syscalls} syscalls, ${sum.io} I/O accesses)`;
  return proctrackResult(title, run, scores, sum.icount, syscallNamer(m.extra));
}

export const proctrackAnalysis: Analysis = {
  name: 'proctrack',
  description: 'process/thread reconstruction from CR3 and stacks (seed 004 5-6), scored against ground truth, per death strategy',
  options: [
    { flags: '--death <list>', description: 'death-detection strategies (comma-separated, or all)', defaultText: 'all: none,declared,expiration,declared+expiration' },
    { flags: '--expire <list>', description: 'expiration times T in guest instructions for the expiration strategies (sweep)', defaultText: '1M,2M,5M,10M,20M' },
    { flags: '--thread-id <how>', description: 'thread identity: stack (seed 004 5.2) or pc (the rejected program-counter idea)', defaultText: 'stack', choices: THREAD_IDS },
    { flags: '--max-stack-pages <n>', description: 'pages one thread stack may span (seed 004: 2)', defaultText: '2' },
    { flags: '--no-user-filter', description: 'also log exits taken in kernel mode (seed 004 6.1 filters them)' },
    { flags: '--exec-death', description: 'with declared death, execve also ends the calling address space' },
    { flags: '--exec-link', description: 'link the address space an execve creates to the calling process (no split at exec)' },
    { flags: '--sample-every <n>', description: 'live-count sample period in instructions', defaultText: '100k' },
    { flags: '--syscall-rows <n>', description: 'rows of the per-syscall table: the first n syscalls (the scores count every one)', defaultText: '100k' },
  ],
  run: runProctrack,
};
