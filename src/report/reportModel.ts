// What `trace report` shows, computed from a trace (or a suite) as small aggregated tables: every plot's data
// is bounded in size whatever the trace's length (exits binned over guest time, costs as per-reason
// quantiles from exact histograms, live counts thinned to at most MAX_POINTS samples per strategy, the
// per-process timeline binned), so the page stays responsive for a 1-million-exit trace. Each section says
// what it aggregated. The HTML around it is ./reportHtml.ts; the drawing code is ./client.ts.

import { compareInterception } from '../analyses/compareInterception.js';
import { hyperupcallsAnalysis } from '../analyses/hyperupcalls.js';
import { runProctrack } from '../analyses/proctrack.js';
import { reconstruct } from '../analyses/reconstruction.js';
import type { AnalysisResult, Cell, ProgressSink, ResultTable } from '../analyses/result.js';
import { isTraceDir, traceDirs } from '../analyses/traceDirs.js';
import { exitReasonKey } from '../emulator/vmx/exitReasons.js';
import { TraceReader } from '../record/TraceReader.js';

/** Time bins of the exits-over-time and timeline plots. */
export const TIME_BINS = 200;
/** Largest number of points per line. */
export const MAX_POINTS = 400;
/** Exit reasons drawn by name; the rest are summed as "other". */
export const TOP_REASONS = 8;
/** Processes in the timeline (the most active). */
export const MAX_PROCESSES = 40;

/** A plot kind the client knows how to draw (./client.ts), with its data. */
export interface Section {
  id: string;
  title: string;
  /** What the plot shows and how to read it (one short paragraph). */
  text: string;
  /** How the data was reduced (aggregation, sampling), shown under the plot. */
  note: string;
  kind: 'exitsOverTime' | 'costQuantiles' | 'liveCounts' | 'precisionRecall' | 'timeline' | 'groupedBars' | 'lines' | 'stackedBars';
  data: unknown;
  /** A table shown under the plot. */
  table?: { columns: string[]; rows: Cell[][] };
}

export interface ReportModel {
  title: string;
  subtitle: string;
  sections: Section[];
}

export interface ReportOptions {
  /** Replay under every interception strategy (compare-interception) even for a single trace. */
  compareInterception?: boolean;
  /** compare-interception's --variants. */
  variants?: string;
  /** Include the hyperupcalls section (replays the trace); default: when the workload is a hyperupcall one. */
  hyperupcalls?: boolean;
  progress?: ProgressSink;
}

const tableOf = (r: AnalysisResult, name: string): ResultTable | undefined => r.tables.find((t) => t.name === name);
function column(t: ResultTable, name: string): number {
  const i = t.columns.findIndex((c) => c.name === name);
  if (i < 0) throw new Error(`table ${t.name} has no column ${name}`);
  return i;
}
/** Rows of a result table as objects with the given columns. */
function objects(t: ResultTable, names: readonly string[]): Array<Record<string, Cell>> {
  const idx = names.map((n) => column(t, n));
  return t.rows.map((r) => Object.fromEntries(names.map((n, k) => [n, typeof r[idx[k]!] === 'bigint' ? Number(r[idx[k]!]) : r[idx[k]!]!])));
}
const round = (x: number, d = 4): number => Number(x.toFixed(d));

/** Exits over guest time (stacked by reason) and the cost distribution per reason, from one scan. */
function exitSections(reader: TraceReader, msPerInsn: number): Section[] {
  const m = reader.manifest;
  const end = Math.max(1, m.totals.icount);
  const binInsns = Math.ceil(end / TIME_BINS);
  const counts = new Map<number, Float64Array>();
  const costs = new Map<number, Map<number, number>>();
  for (const b of reader.scan('exits', ['icount', 'exit_reason', 'cost'])) {
    const ic = b.columns.icount, re = b.columns.exit_reason.values as Uint16Array, co = b.columns.cost.values as Uint32Array;
    for (let i = 0; i < b.length; i++) {
      const r = re[i]!;
      let c = counts.get(r);
      if (!c) counts.set(r, (c = new Float64Array(TIME_BINS)));
      c[Math.min(TIME_BINS - 1, Math.floor(ic.number(i) / binInsns))]!++;
      let h = costs.get(r);
      if (!h) costs.set(r, (h = new Map()));
      h.set(co[i]!, (h.get(co[i]!) ?? 0) + 1);
    }
  }
  const total = (r: number): number => counts.get(r)!.reduce((a, b) => a + b, 0);
  const reasons = [...counts.keys()].sort((a, b) => total(b) - total(a) || a - b);
  const named = reasons.slice(0, TOP_REASONS);
  const rows: Array<{ t0: number; t1: number; reason: string; exits: number }> = [];
  for (let k = 0; k < TIME_BINS; k++) {
    let other = 0;
    for (const r of reasons) {
      const n = counts.get(r)![k]!;
      if (n === 0) continue;
      if (named.includes(r)) rows.push({ t0: round(k * binInsns * msPerInsn, 6), t1: round((k + 1) * binInsns * msPerInsn, 6), reason: exitReasonKey(r), exits: n });
      else other += n;
    }
    if (other > 0) rows.push({ t0: round(k * binInsns * msPerInsn, 6), t1: round((k + 1) * binInsns * msPerInsn, 6), reason: 'other', exits: other });
  }
  const quantiles = reasons.map((r) => {
    const h = [...costs.get(r)!].sort((a, b) => a[0] - b[0]);
    const n = h.reduce((s, [, c]) => s + c, 0);
    const q = (p: number): number => {
      const want = p * (n - 1);
      let seen = 0;
      for (const [v, c] of h) {
        seen += c;
        if (seen > want) return v;
      }
      return h.at(-1)![0];
    };
    const mean = h.reduce((s, [v, c]) => s + v * c, 0) / n;
    return { reason: exitReasonKey(r), exits: n, min: h[0]![0], p25: q(0.25), median: q(0.5), p75: q(0.75), max: h.at(-1)![0], mean: round(mean, 1), distinct: h.length };
  });
  return [
    {
      id: 'exits-over-time', kind: 'exitsOverTime', title: 'VM exits over guest time, by reason',
      text: 'How many VM exits each stretch of guest time caused, stacked by basic exit reason (Linux\'s names, as perf kvm stat prints them). ' +
        'Bursts show what the guest was doing: syscall-heavy phases (VMCALL under handler-injection), device I/O (IO_INSTRUCTION), timer interrupts (EXTERNAL_INTERRUPT).',
      note: `Aggregated: ${m.totals.exits.toLocaleString('en-US')} exits counted in ${TIME_BINS} bins of ${(binInsns * msPerInsn * 1000).toPrecision(3)} µs guest time; ` +
        `${named.length} most frequent reasons by name${reasons.length > named.length ? `, ${reasons.length - named.length} others summed as "other"` : ''}.`,
      data: { rows, reasons: [...named.map(exitReasonKey), ...(reasons.length > named.length ? ['other'] : [])] },
    },
    {
      id: 'exit-cost', kind: 'costQuantiles', title: 'Cost per exit, by reason',
      text: 'The modelled cost of one exit (VM-exit/entry round trip + handler + hypervisor work, in cycles of the cost model), per reason: ' +
        'the line spans min to max, the box the middle half (25th to 75th percentile), the tick the median, the dot the mean. The `exits` analysis\'s Min/Avg/Max, drawn.',
      note: `Exact: quantiles from a full histogram of each reason's costs (${reasons.length} reasons, ${m.totals.exits.toLocaleString('en-US')} exits).`,
      data: { rows: quantiles },
      table: { columns: ['reason', 'exits', 'min', 'median', 'mean', 'max'], rows: quantiles.map((q) => [q.reason, q.exits, q.min, q.median, q.mean, q.max]) },
    },
  ];
}

/** proctrack's strategies and live counts; the per-process timeline from the exec-linked reconstruction. */
async function proctrackSections(dir: string, reader: TraceReader, msPerInsn: number): Promise<Section[]> {
  const r = await runProctrack(dir, {});
  const strategies = tableOf(r, 'strategies')!;
  const live = tableOf(r, 'live_count')!;
  const names = strategies.rows.map((x) => String(x[0]));
  const liveRows = objects(live, ['strategy', 'icount', 'true_procs', 'recon_procs', 'true_threads', 'recon_threads']);
  const per = new Map<string, Array<Record<string, Cell>>>();
  for (const x of liveRows) per.set(String(x.strategy), [...(per.get(String(x.strategy)) ?? []), x]);
  let thinned = 1;
  const series = names.map((s) => {
    const pts = per.get(s) ?? [];
    const step = Math.max(1, Math.ceil(pts.length / MAX_POINTS));
    thinned = Math.max(thinned, step);
    return { strategy: s, points: pts.filter((_, i) => i % step === 0 || i === pts.length - 1).map((p) => ({
      t: round((p.icount as number) * msPerInsn, 6), trueProcs: p.true_procs, reconProcs: p.recon_procs, trueThreads: p.true_threads, reconThreads: p.recon_threads })) };
  });
  const samples = liveRows.length / Math.max(1, names.length);
  const pr = objects(strategies, ['strategy', 'proc_precision', 'proc_recall', 'thread_precision', 'thread_recall', 'proc_live_mae', 'thread_live_mae']);
  const prRows: Array<{ strategy: string; metric: string; value: number }> = [];
  for (const x of pr) {
    for (const metric of ['proc_precision', 'proc_recall', 'thread_precision', 'thread_recall']) {
      prRows.push({ strategy: String(x.strategy), metric, value: x[metric] === null ? 0 : round(x[metric] as number) });
    }
  }
  const sections: Section[] = [
    {
      id: 'live-counts', kind: 'liveCounts', title: 'Live processes and threads: true vs reconstructed, per death strategy',
      text: 'For each death-detection strategy of seed 004 section 6.1 (and our execve variants), the number of processes (top) and threads (bottom) alive over guest time: ' +
        'the guest kernel\'s own ground truth (grey) against what the tracker reconstructs from CR3 and stack pages alone (colour). ' +
        'A gap above the grey line is overcounting (undetected deaths), below it undercounting (early expiration). This is the comparison of section 6.1, with the ground truth the paper did not have.',
      note: `Sampled every ${(Number(live.rows[1]?.[1] ?? 0) - Number(live.rows[0]?.[1] ?? 0)).toLocaleString('en-US')} guest instructions (${Math.round(samples)} samples per strategy)` +
        `${thinned > 1 ? `; drawn every ${thinned}th sample (at most ${MAX_POINTS} points per line)` : ''}.`,
      data: { series },
    },
    {
      id: 'precision-recall', kind: 'precisionRecall', title: 'Identity precision and recall per strategy',
      text: 'How well each strategy\'s reconstructed processes and threads match the true ones one-to-one (greedy maximum-overlap matching): ' +
        'precision = matched reconstructed / reconstructed (low: splits and stale entries), recall = matched true / true (low: merges, missed entities). 1.0 is exact.',
      note: `All ${names.length} strategies of \`trace analyze proctrack\` with its defaults; the table has the live-count errors.`,
      data: { rows: prRows, strategies: names },
      table: { columns: ['strategy', 'proc precision', 'proc recall', 'thread precision', 'thread recall', 'proc live MAE', 'thread live MAE'],
        rows: pr.map((x) => [x.strategy, x.proc_precision, x.proc_recall, x.thread_precision, x.thread_recall, x.proc_live_mae, x.thread_live_mae]
          .map((v) => (typeof v === 'number' ? round(v, 3) : v))) },
    },
  ];
  sections.push(timelineSection(reader, msPerInsn));
  return sections;
}

/** Per reconstructed process: its lifetime and its syscalls and I/O accesses per time bin. */
function timelineSection(reader: TraceReader, msPerInsn: number): Section {
  const { tracker, truth, scores, endIcount } = reconstruct(reader);
  const binInsns = Math.ceil(Math.max(1, endIcount) / TIME_BINS);
  const nProcs = tracker.procs.length;
  const sys = new Float64Array(nProcs * TIME_BINS);
  const io = new Float64Array(nProcs * TIME_BINS);
  const activity = new Float64Array(nProcs);
  const bin = (ic: number): number => Math.min(TIME_BINS - 1, Math.floor(ic / binInsns));
  for (let i = 0; i < tracker.sys.n; i++) {
    const p = tracker.threads[tracker.sys.a[i]!]!.proc.upid;
    sys[p * TIME_BINS + bin(tracker.sys.icount[i]!)]!++;
    activity[p]!++;
  }
  let unattributed = 0;
  for (let i = 0; i < tracker.io.n; i++) {
    const t = tracker.io.b[i]!;
    if (t < 0) {
      unattributed++;
      continue;
    }
    const p = tracker.threads[t]!.proc.upid;
    io[p * TIME_BINS + bin(tracker.io.icount[i]!)]!++;
    activity[p]!++;
  }
  const chosen = tracker.procs.map((p) => p.upid).sort((a, b) => activity[b]! - activity[a]! || a - b).slice(0, MAX_PROCESSES).sort((a, b) => a - b);
  const label = (u: number): string => {
    const t = scores.procs.recToTrue[u]!;
    return `upid ${u}${t >= 0 ? ` ${truth.procs[t]!.name} (pid ${truth.procs[t]!.pid})` : ''}`;
  };
  const procs = chosen.map((u) => {
    const p = tracker.procs[u]!;
    return { label: label(u), start: round(p.firstSeen * msPerInsn, 6), end: round((p.deathAt >= 0 ? p.deathAt : endIcount) * msPerInsn, 6) };
  });
  const cells: Array<{ label: string; t0: number; t1: number; syscalls: number; io: number }> = [];
  for (const u of chosen) {
    for (let k = 0; k < TIME_BINS; k++) {
      const s = sys[u * TIME_BINS + k]!, x = io[u * TIME_BINS + k]!;
      if (s + x > 0) cells.push({ label: label(u), t0: round(k * binInsns * msPerInsn, 6), t1: round((k + 1) * binInsns * msPerInsn, 6), syscalls: s, io: x });
    }
  }
  return {
    id: 'timeline', kind: 'timeline', title: 'Who ran when: syscalls and I/O per process',
    text: 'One row per reconstructed process (CR3 identity, declared death, execve linked to the new address space; named after the true process the scorer matched): ' +
      'the grey bar is its lifetime as the tracker saw it, the cells its system calls per stretch of guest time (darker = more), the orange ticks the port I/O accesses attributed to it ' +
      '(to the thread that entered the kernel next, seed 004 section 6.4).',
    note: `Binned: ${TIME_BINS} bins of ${(binInsns * msPerInsn * 1000).toPrecision(3)} µs guest time; ` +
      `${chosen.length < nProcs ? `the ${chosen.length} most active of ${nProcs} processes` : `all ${nProcs} processes`}; ` +
      `${tracker.sys.n.toLocaleString('en-US')} syscalls, ${(tracker.io.n - unattributed).toLocaleString('en-US')} I/O accesses (${unattributed} before any kernel entry left out).`,
    data: { procs, cells },
  };
}

/** compare-interception over a trace or suite: relative performance, exits and cycles per syscall. */
async function compareSections(dir: string, o: ReportOptions): Promise<Section[]> {
  const r = await compareInterception.run(dir, o.variants ? { variants: o.variants } : {}, { progress: o.progress });
  const t = tableOf(r, 'strategies')!;
  const rows = objects(t, ['workload', 'variant', 'relative_performance', 'exits_per_syscall', 'cycles_per_syscall', 'replay_clean']);
  const workloads = [...new Set(rows.map((x) => String(x.workload)))];
  const variants = [...new Set(rows.map((x) => String(x.variant)))];
  const bars = (y: string): Array<{ group: string; bar: string; value: number }> =>
    rows.filter((x) => x[y] !== null).map((x) => ({ group: String(x.workload), bar: String(x.variant), value: round(x[y] as number) }));
  const note = `One replay of each of the ${workloads.length} trace(s) per variant (${variants.length} variants); every replay executes the same guest instructions, so differences are the strategies' exits and hypervisor work alone. ` +
    `${rows.every((x) => x.replay_clean) ? 'Every replay was clean.' : 'Some replays diverged: see the table.'}`;
  return [
    {
      id: 'relative-performance', kind: 'groupedBars', title: 'Relative performance per interception strategy and workload',
      text: 'Seed 004 section 7\'s charts: each workload\'s modelled run time under no interception (Trunk) divided by its run time under each strategy ' +
        '(1 = as fast as Trunk; lower = the price of seeing every system call). 2VMCALL = double-swap, 1VMCALL = fill-the-gap; log/nolog = with or without a log record per syscall.',
      note, data: { rows: bars('relative_performance'), y: 'relative performance (Trunk = 1)', groups: workloads, bars: variants },
    },
    {
      id: 'exits-per-syscall', kind: 'groupedBars', title: 'Extra exits per system call',
      text: 'VM exits each strategy adds per system call it reports, over Trunk: 1 for the single-VMCALL strategies, 2 where the return path exits too (double-swap, Nitro\'s SYSRET).',
      note, data: { rows: bars('exits_per_syscall'), y: 'exits per syscall', groups: workloads, bars: variants.filter((v) => v !== 'Trunk') },
    },
    {
      id: 'cycles-per-syscall', kind: 'groupedBars', title: 'Extra modelled cycles per system call',
      text: 'Modelled cycles each strategy adds per system call (exits, handler work, text patches, logging), over Trunk: what the relative performance is made of.',
      note, data: { rows: bars('cycles_per_syscall'), y: 'modelled cycles per syscall', groups: workloads, bars: variants.filter((v) => v !== 'Trunk') },
      table: { columns: ['workload', 'variant', 'relative perf.', 'exits/syscall', 'cycles/syscall', 'clean'],
        rows: rows.map((x) => [x.workload, x.variant, x.relative_performance, x.exits_per_syscall, x.cycles_per_syscall, x.replay_clean]
          .map((v) => (typeof v === 'number' ? round(v, 3) : v))) },
    },
  ];
}

/** Hyperupcalls: the scheduler-activation series (Figure 2's shape) and the overhead table. */
async function hyperupcallSections(dir: string): Promise<Section[]> {
  const r = await hyperupcallsAnalysis.run(dir, {});
  const out: Section[] = [];
  const sched = tableOf(r, 'scheduler_activation');
  if (sched && sched.rows.length > 0) {
    const rows = objects(sched, ['overcommit', 'base_ms', 'boosted_ms']).flatMap((x) => [
      { x: x.overcommit as number, series: 'without boost', y: round(x.base_ms as number) },
      { x: x.overcommit as number, series: 'with the trace\'s priority_boost', y: round(x.boosted_ms as number) },
    ]);
    out.push({
      id: 'scheduler-activation', kind: 'lines', title: 'Scheduler activation: run time vs overcommit (hyperupcalls paper, Figure 2 shape)',
      text: 'The trace\'s server requests replayed through the host-scheduler model: the batch\'s run time as more always-busy competitors share the vCPU\'s physical CPU, ' +
        'without and with the priority boosts the guest\'s hyperupcall asked for at each packet. The boost keeps request latency from growing with the overcommit.',
      note: sched.doc, data: { rows, x: 'overcommit (runnable entities per pCPU)', y: 'run time of the batch (ms)' },
    });
  }
  const oh = tableOf(r, 'overheads');
  if (oh && oh.rows.length > 0) {
    const mech = ['native', 'interpreted', 'compiled', 'upcall', 'hypercall'];
    const objs = objects(oh, ['program', ...mech]);
    out.push({
      id: 'hyperupcall-overheads', kind: 'groupedBars', title: 'Hyperupcall overhead per invocation, by mechanism',
      text: 'Modelled cycles per invocation of each registered program: as native guest code, as an interpreted or compiled hyperupcall, and as the alternatives the paper compares with ' +
        '(an upcall into the guest, a hypercall).',
      note: 'Modelled cycles (cost model); host times are in npm run bench -- hyperupcalls.',
      data: { rows: objs.flatMap((x) => mech.map((k) => ({ group: String(x.program), bar: k, value: round(x[k] as number, 1) }))), y: 'modelled cycles', groups: objs.map((x) => String(x.program)), bars: mech },
      table: { columns: ['program', ...mech], rows: objs.map((x) => [x.program, ...mech.map((k) => round(x[k] as number, 1))]) },
    });
  }
  return out;
}

/** Exits per workload by reason, from the manifests (a suite's overview). */
function suiteExits(dirs: string[]): Section {
  const rows: Array<{ group: string; reason: string; exits: number }> = [];
  for (const d of dirs) {
    const m = TraceReader.open(d).manifest;
    for (const e of m.exits_by_reason) rows.push({ group: m.workload.name, reason: e.name, exits: e.count });
  }
  return {
    id: 'suite-exits', kind: 'stackedBars', title: 'Exits per workload, by reason',
    text: 'Each trace of the suite: its VM exits by basic reason, as recorded.', note: 'From each trace\'s manifest (exits_by_reason).',
    data: { rows },
  };
}

export async function buildReport(dir: string, o: ReportOptions = {}): Promise<ReportModel> {
  const dirs = traceDirs(dir);
  if (!isTraceDir(dir)) {
    return {
      title: `vmtrace report: ${dir}`,
      subtitle: `a suite of ${dirs.length} traces: ${dirs.map((d) => TraceReader.open(d).manifest.workload.name).join(', ')}`,
      sections: [suiteExits(dirs), ...await compareSections(dir, o)],
    };
  }
  const reader = TraceReader.open(dir);
  const m = reader.manifest;
  const tscHz = typeof m.machine.tsc_hz === 'number' ? m.machine.tsc_hz : 1e9;
  const msPerInsn = (m.machine.cycles_per_instruction * 1e3) / tscHz;
  // Progress by step (exits, proctrack with the timeline); compare-interception draws its own replays' bar.
  o.progress?.stage(`report ${m.workload.name}`, 2, 'steps');
  const sections = exitSections(reader, msPerInsn);
  o.progress?.update(1);
  sections.push(...await proctrackSections(dir, reader, msPerInsn));
  o.progress?.update(2);
  if (o.compareInterception) sections.push(...await compareSections(dir, o));
  if (o.hyperupcalls ?? m.workload.name.startsWith('hyperupcall')) sections.push(...await hyperupcallSections(dir));
  const params = Object.entries(m.workload.params ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return {
    title: `vmtrace report: ${m.workload.name}${params ? `:${params}` : ''}`,
    subtitle: `${m.totals.exits.toLocaleString('en-US')} exits, ${m.totals.icount.toLocaleString('en-US')} guest instructions ` +
      `(${(m.totals.icount * msPerInsn).toFixed(2)} ms guest time), ${m.totals.syscalls.toLocaleString('en-US')} syscalls, exit preset ${m.exit_preset.name}, ` +
      `cost model ${m.cost_model.name}, seed ${m.seed}${m.complete ? '' : ' (INCOMPLETE trace)'}`,
    sections,
  };
}
