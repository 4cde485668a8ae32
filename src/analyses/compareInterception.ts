// `trace analyze <dir> compare-interception`: the syscall-interception strategies of seed 004 section 6.2
// (plus GEARS' selective exiting and Nitro) compared on exactly the same guest execution. The recorded trace
// is replayed once per strategy (src/replay: guest time derives from icount, so every replay executes the
// same guest instructions, and the exits the recording's strategy did not cause are checked as a
// subsequence); every figure comes from those replays' exits and modelled cycles.
//
// Outputs (docs/analyses.md):
//   strategies  per strategy variant (seed 004 section 7.2: Trunk, 2VMCALLnolog, 2VMCALLlog, 1VMCALLnolog, ...):
//               syscalls seen vs the ground truth, exits and modelled cycles per syscall, relative performance
//               normalised to `none`, what the guest could notice (footprint)
//   exceptions  seed 004 section 7.3: Trunk, ExcpRegLog, ExcpFullNL, ExcpFullLog
//   sweep       sensitivity of relative performance to the VM exit/entry round trip
//   getpid      getpid latency per variant, as in the GEARS table (4.26 us in the guest, 4.51 us intercepted)
//
// A directory that holds several traces (one per workload, e.g. `traces/suite/{syscall,pipe,...}`) is
// analysed trace by trace: the rows carry the workload, which gives seed 004's per-benchmark charts.

import { UserError } from '../errors.js';
import { getCostModel, type CostModel } from '../emulator/costModel.js';
import { ExitReason } from '../emulator/vmx/exitReasons.js';
import { GroundTruthType } from '../emulator/events.js';
import { syscallNumberer } from '../hypervisor/interception/syscalls.js';
import { TraceReader } from '../record/TraceReader.js';
import { replayTrace, type ReplayReport } from '../replay/replayTrace.js';
import { scanColumns } from '../record/scanColumns.js';
import { traceDirs } from './traceDirs.js';
import { boolOption, countListOption, stringOption } from './options.js';
import type { Analysis, AnalysisContext, Cell, OptionValues, ProgressSink, ResultColumn, ResultTable, AnalysisResult } from './result.js';

/** One configuration to replay under. */
export interface Variant {
  /** Seed 004's name where it has one (section 7.2), else strategy/log. */
  name: string;
  strategy: string;
  log: boolean;
  syscalls?: string[];
}

/** Syscalls the `selective` variant exits on by default: the process and thread life cycle (seed 004 6.1). */
export const SELECTIVE_DEFAULT = ['clone', 'fork', 'vfork', 'execve', 'exit', 'exit_group'];

export const VARIANTS: readonly Variant[] = [
  { name: 'Trunk', strategy: 'none', log: false },
  { name: '2VMCALLnolog', strategy: 'double-swap', log: false },
  { name: '2VMCALLlog', strategy: 'double-swap', log: true },
  { name: '1VMCALLnolog', strategy: 'fill-the-gap', log: false },
  { name: '1VMCALLlog', strategy: 'fill-the-gap', log: true },
  { name: 'injection-nolog', strategy: 'handler-injection', log: false },
  { name: 'injection-log', strategy: 'handler-injection', log: true },
  { name: 'selective-log', strategy: 'selective', log: true, syscalls: SELECTIVE_DEFAULT },
  { name: 'nitro-nolog', strategy: 'nitro', log: false },
  { name: 'nitro-log', strategy: 'nitro', log: true },
];

/** Measurements of one replay. */
export interface Measured {
  variant: Variant;
  clean: boolean;
  icount: number;
  exits: number;
  cycles: number;
  syscalls: number;
  /** Exception-or-NMI and external-interrupt exits (what seed 004 7.3's logging versions log). */
  exceptionExits: number;
  interruptExits: number;
  footprint: ReturnType<ReplayReport['assembled']['strategy']['footprint']>;
  /** icount gaps between consecutive getpid calls of one thread (for the GEARS latency). */
  getpidGaps: number[];
  /** Modelled cycles from the window's start (userWindowStart) to the end of the run. */
  windowCycles: number;
  /** Exception-or-NMI and external-interrupt exits in the window. */
  windowExceptionExits: number;
  windowInterruptExits: number;
}

/** Replay `dir` under a variant and measure it. */
export async function measure(dir: string, v: Variant, exitPreset?: string, costModel?: CostModel, onProgress?: (icount: number) => void, verify = true, windowStart = 0): Promise<Measured> {
  const getpidGaps: number[] = [];
  // Cycles at the window's start: those of the last exit before it, plus the instructions between.
  let before = { icount: 0, cycles: 0 };
  let windowExceptionExits = 0, windowInterruptExits = 0;
  const lastGetpid = new Map<string, number>();
  const getpid = syscallNumberer(TraceReader.open(dir, { verify: false }).manifest.extra)('getpid');
  const rep = await replayTrace(dir, {
    intercept: v.strategy, syscalls: v.syscalls, logSyscalls: v.log, exitPreset, costModel, verify,
    onProgress: onProgress === undefined ? undefined : (r) => onProgress(r.icount),
    attach: (a) => a.machine.subscribe({
      onExit: (e) => {
        if (e.icount < windowStart) before = { icount: e.icount, cycles: e.cycles }; // (the machine reuses e)
        else if (e.reason === ExitReason.EXCEPTION_NMI) windowExceptionExits++;
        else if (e.reason === ExitReason.EXTERNAL_INTERRUPT) windowInterruptExits++;
      },
      onSyscall: (s) => {
        if (s.number !== getpid) return;
        const key = `${s.cr3}:${s.rspHi}:${s.rspLo}`;
        const prev = lastGetpid.get(key);
        if (prev !== undefined) getpidGaps.push(s.icount - prev);
        lastGetpid.set(key, s.icount);
      },
    }),
  });
  // The machine counts exits by reason itself.
  const byReason = new Map(rep.assembled.machine.saveCounters().exitsByReason);
  return {
    variant: v, clean: rep.clean, icount: rep.icount, exits: rep.result.exits, cycles: rep.result.cycles, syscalls: rep.syscalls,
    exceptionExits: byReason.get(ExitReason.EXCEPTION_NMI) ?? 0, interruptExits: byReason.get(ExitReason.EXTERNAL_INTERRUPT) ?? 0,
    footprint: rep.assembled.strategy.footprint(), getpidGaps,
    windowCycles: rep.result.cycles - (before.cycles + (Math.min(windowStart, rep.icount) - before.icount) * rep.assembled.costModel.cyclesPerInstruction),
    windowExceptionExits, windowInterruptExits,
  };
}

/**
 * The syscall numberer of a trace's guest kernel (a Linux trace: its own sys_call_table, manifest
 * extra.syscall_names; else ours), after checking every variant's names against it.
 */
function checkSyscallNames(reader: TraceReader, variants: readonly Variant[]): (name: string) => number {
  const number = syscallNumberer(reader.manifest.extra);
  for (const v of variants) {
    for (const s of v.syscalls ?? []) {
      try {
        number(s);
      } catch (e) {
        throw new UserError(`compare-interception ${reader.dir}: --syscalls ${s}: ${(e as Error).message}`);
      }
    }
  }
  return number;
}

/**
 * Where the run's user space starts: on a Linux trace the kernel's exec of /init (the ground truth's exec by
 * pid 1), before which the run is the kernel's boot (389M of about 390M instructions, the same under every
 * variant); 0 on our guest, whose boot is a few thousand instructions. Seed 004 section 7 timed benchmarks in a
 * booted guest: the window is what compares with it.
 */
export function userWindowStart(reader: TraceReader): number {
  const boot = (reader.manifest.extra as { boot?: { linux?: unknown } } | undefined)?.boot;
  if (boot?.linux === undefined) return 0;
  for (const b of scanColumns(reader, 'ground_truth', ['type', 'pid', 'icount'])) {
    const type = b.cols[0] as Uint32Array, pid = b.cols[1] as Uint32Array, icount = b.cols[2] as Uint32Array;
    for (let i = 0; i < b.length; i++) {
      if (type[i] === GroundTruthType.exec && pid[i] === 1) return icount[2 * i]! + icount[2 * i + 1]! * 2 ** 32;
    }
  }
  return 0;
}

/** Ground-truth syscall counts by number (scoring only: never an input to the strategies). */
function trueSyscalls(reader: TraceReader): Map<number, number> {
  const byNumber = new Map<number, number>();
  for (const b of scanColumns(reader, 'ground_truth', ['type', 'a0'])) {
    const type = b.cols[0] as Uint32Array;
    const a0 = b.cols[1] as Uint32Array;
    for (let i = 0; i < b.length; i++) {
      if (type[i] === GroundTruthType.syscall) byNumber.set(a0[2 * i]!, (byNumber.get(a0[2 * i]!) ?? 0) + 1);
    }
  }
  return byNumber;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const col = (name: string, type: ResultColumn['type'], unit: string, doc: string): ResultColumn => ({ name, type, unit, doc });

export const STRATEGY_COLUMNS: readonly ResultColumn[] = [
  col('workload', 'utf8', '', 'Workload of the trace, with its parameters.'),
  col('variant', 'utf8', '', 'Configuration: seed 004 section 7.2 names (Trunk = none, 2VMCALL = double-swap, 1VMCALL = fill-the-gap), else strategy-log/nolog.'),
  col('strategy', 'utf8', '', 'Interception strategy (src/hypervisor/interception).'),
  col('log', 'bool', '', 'The hypervisor logs each syscall record (cost model work.logRecord).'),
  col('replay_clean', 'bool', '', 'The replay executed the recorded instructions and every recorded exit the strategy does not cause appeared unchanged.'),
  col('syscalls_seen', 'int64', 'syscalls', 'Syscalls the strategy reported.'),
  col('syscalls_true', 'int64', 'syscalls', 'Syscalls the guest kernel reports in its ground truth (for selective: of the selected numbers).'),
  col('completeness', 'float64', '', 'syscalls_seen / syscalls_true.'),
  col('exits', 'int64', 'exits', 'VM exits of the replay.'),
  col('exits_added', 'int64', 'exits', 'Exits over the Trunk replay.'),
  col('exits_per_syscall', 'float64', 'exits', 'exits_added / syscalls_seen.'),
  col('cycles', 'int64', 'modelled cycles', 'Modelled cycles of the whole run (guest instructions x CPI + every exit\'s cost).'),
  col('cycles_added', 'int64', 'modelled cycles', 'Modelled cycles over the Trunk replay.'),
  col('cycles_per_syscall', 'float64', 'modelled cycles', 'cycles_added / syscalls_seen.'),
  col('relative_performance', 'float64', '', 'Trunk cycles / cycles: seed 004 section 7\'s normalised performance (1 = as fast as Trunk).'),
  col('slowdown', 'float64', '', 'cycles / Trunk cycles.'),
  col('window_cycles', 'int64', 'modelled cycles', 'Modelled cycles of the user-space window: on a Linux trace from the kernel\'s exec of /init to the end (the boot left out), else the whole run.'),
  col('window_relative_performance', 'float64', '', 'Trunk window_cycles / window_cycles: the benchmark\'s own relative performance, as seed 004 section 7 timed it in a booted guest.'),
  col('text_bytes_changed', 'int64', 'bytes', 'Bytes of guest kernel text the strategy changed (a kernel-text hash sees them).'),
  col('lstar_read_by_guest', 'utf8', '', 'What RDMSR(IA32_LSTAR) returns to the guest: original (shadowed or untouched) or changed.'),
  col('page_hidden_by_ept', 'bool', '', 'The strategy\'s injected page is hidden from guest reads and writes by EPT.'),
];

const EXCEPTION_COLUMNS: readonly ResultColumn[] = [
  col('workload', 'utf8', '', 'Workload of the trace, with its parameters.'),
  col('config', 'utf8', '', 'Seed 004 section 7.3: Trunk (kvm-default, no logging), ExcpRegLog (kvm-default, logging), ExcpFullNL (exceptions-full), ExcpFullLog.'),
  col('exit_preset', 'utf8', '', 'Exit configuration of the replay.'),
  col('log', 'bool', '', 'A log record per exception and interrupt exit (cost model work.logRecord each).'),
  col('exits', 'int64', 'exits', 'VM exits of the replay.'),
  col('exception_exits', 'int64', 'exits', 'Exception-or-NMI exits (basic reason 0).'),
  col('interrupt_exits', 'int64', 'exits', 'External-interrupt exits (basic reason 1).'),
  col('cycles', 'int64', 'modelled cycles', 'Modelled cycles of the run, with the logging work.'),
  col('relative_performance', 'float64', '', 'Trunk cycles / cycles.'),
  col('window_exception_exits', 'int64', 'exits', 'Exception-or-NMI exits in the user-space window (see the strategies table).'),
  col('window_cycles', 'int64', 'modelled cycles', 'Modelled cycles of the user-space window, with the logging work of its exits.'),
  col('window_relative_performance', 'float64', '', 'Trunk window_cycles / window_cycles.'),
];

const SWEEP_COLUMNS: readonly ResultColumn[] = [
  col('workload', 'utf8', '', 'Workload of the trace, with its parameters.'),
  col('variant', 'utf8', '', 'Configuration (as in the strategies table).'),
  col('round_trip', 'int64', 'modelled cycles', 'VM exit + VM entry round trip assumed (the cost model\'s roundTrip replaced).'),
  col('cycles', 'int64', 'modelled cycles', 'Modelled cycles of the run under that round trip: cycles + (round_trip - model round trip) x exits (the model is linear in it).'),
  col('cycles_per_syscall', 'float64', 'modelled cycles', 'Cycles over Trunk (same round trip) per syscall seen.'),
  col('relative_performance', 'float64', '', 'Trunk cycles / cycles, both under that round trip.'),
];

const GETPID_COLUMNS: readonly ResultColumn[] = [
  col('workload', 'utf8', '', 'Workload of the trace, with its parameters.'),
  col('variant', 'utf8', '', 'Configuration (as in the strategies table).'),
  col('loop_instructions', 'int64', 'instructions', 'Median guest instructions between two getpid calls of one thread (the benchmark loop, as GEARS timed it).'),
  col('latency_cycles', 'float64', 'modelled cycles', 'loop_instructions x CPI + the variant\'s modelled cycles per syscall.'),
  col('latency_us', 'float64', 'us', 'latency_cycles at the model\'s TSC frequency. GEARS measured 4.26 us in the guest and 4.51 us with interception (Palacios, 2011 hardware).'),
];

export interface CompareOptions {
  variants?: readonly Variant[];
  /** Round trips of the sensitivity sweep. */
  roundTrips?: readonly number[];
  exceptions?: boolean;
  /** Replay under this cost model instead of the recording's. */
  costModel?: CostModel;
  /** Progress over the replays (one stage per trace, in guest instructions). */
  progress?: ProgressSink;
  /** Verify the trace's checksums when it is opened (default true); its replays then skip it. */
  verify?: boolean;
}

export const DEFAULT_ROUND_TRIPS = [500, 1000, 2000, 4000, 8000, 16000];

/** Compare the strategies on one trace. */
export async function compareTrace(dir: string, o: CompareOptions = {}): Promise<{ tables: Record<string, Cell[][]>; notes: string[] }> {
  const reader = TraceReader.open(dir, { verify: o.verify });
  const params = Object.entries(reader.manifest.workload.params ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const workload = params === '' ? reader.manifest.workload.name : `${reader.manifest.workload.name}:${params}`;
  const model = o.costModel ?? getCostModel(reader.manifest.cost_model.name);
  const truth = trueSyscalls(reader);
  const number = checkSyscallNames(reader, o.variants ?? VARIANTS);
  const trueTotal = [...truth.values()].reduce((a, b) => a + b, 0);
  const variants = o.variants ?? VARIANTS;
  if (!variants.some((v) => v.strategy === 'none')) throw new UserError('compare-interception: the variants must include none (the Trunk baseline)');
  const runs: Measured[] = [];
  const replays = variants.length + (o.exceptions ?? true ? 1 : 0);
  const perReplay = reader.manifest.totals.icount;
  o.progress?.stage(`compare-interception ${workload}: ${replays} replays`, replays * perReplay, 'instructions');
  const onProgress = (k: number) => (o.progress === undefined ? undefined : (icount: number) => o.progress!.update(k * perReplay + Math.min(icount, perReplay)));
  const windowStart = userWindowStart(reader);
  for (const v of variants) runs.push(await measure(dir, v, undefined, o.costModel, onProgress(runs.length), false, windowStart));
  const trunk = runs.find((r) => r.variant.strategy === 'none')!;
  const notes: string[] = [];
  const strategies: Cell[][] = [];
  const perSyscall = new Map<string, number>();
  for (const r of runs) {
    const v = r.variant;
    const selected = v.strategy === 'selective' ? new Set((v.syscalls ?? []).map(number)) : null;
    const want = v.strategy === 'none' ? 0 : selected ? [...truth].filter(([n]) => selected.has(n)).reduce((a, [, c]) => a + c, 0) : trueTotal;
    const exitsAdded = r.exits - trunk.exits;
    const cyclesAdded = r.cycles - trunk.cycles;
    const cps = r.syscalls > 0 ? cyclesAdded / r.syscalls : null;
    perSyscall.set(v.name, cps ?? 0);
    strategies.push([
      workload, v.name, v.strategy, v.log, r.clean, r.syscalls, want, want > 0 ? r.syscalls / want : null,
      r.exits, exitsAdded, r.syscalls > 0 ? exitsAdded / r.syscalls : null, r.cycles, cyclesAdded, cps,
      trunk.cycles / r.cycles, r.cycles / trunk.cycles, r.windowCycles, trunk.windowCycles / r.windowCycles,
      r.footprint.kernelTextBytesChanged, r.footprint.lstarVisibleToGuest, r.footprint.injectedPageHiddenByEpt,
    ]);
    if (!r.clean) notes.push(`${workload}: the replay under ${v.name} diverged from the recording: its figures are not comparable`);
    if (r.icount !== trunk.icount) notes.push(`${workload}: ${v.name} executed ${r.icount} guest instructions, Trunk ${trunk.icount}`);
  }

  const sweep: Cell[][] = [];
  for (const rt of o.roundTrips ?? DEFAULT_ROUND_TRIPS) {
    const d = rt - model.roundTrip;
    const base = trunk.cycles + d * trunk.exits;
    for (const r of runs) {
      const c = r.cycles + d * r.exits;
      sweep.push([workload, r.variant.name, rt, c, r.syscalls > 0 ? (c - base) / r.syscalls : null, base / c]);
    }
  }

  const getpid: Cell[][] = [];
  const gaps = runs.find((r) => r.getpidGaps.length >= 10)?.getpidGaps ?? [];
  const loop = median(gaps);
  if (loop !== null) {
    for (const r of runs) {
      if (r.variant.strategy !== 'none' && r.syscalls === 0) continue;
      if (r.variant.strategy === 'selective' && !(r.variant.syscalls ?? []).includes('getpid')) continue;
      const cyc = loop * model.cyclesPerInstruction + (perSyscall.get(r.variant.name) ?? 0);
      getpid.push([workload, r.variant.name, loop, cyc, (cyc / model.tscHz) * 1e6]);
    }
  }

  const exceptions: Cell[][] = [];
  if (o.exceptions ?? true) {
    const full = await measure(dir, { name: 'ExcpFull', strategy: 'none', log: false }, 'exceptions-full', o.costModel, onProgress(runs.length), false, windowStart);
    const logged = (r: Measured): number => r.cycles + (r.exceptionExits + r.interruptExits) * model.work.logRecord;
    const loggedWindow = (r: Measured): number => r.windowCycles + (r.windowExceptionExits + r.windowInterruptExits) * model.work.logRecord;
    const rows: Array<[string, string, boolean, Measured, number, number]> = [
      ['Trunk', reader.manifest.exit_preset.name, false, trunk, trunk.cycles, trunk.windowCycles],
      ['ExcpRegLog', reader.manifest.exit_preset.name, true, trunk, logged(trunk), loggedWindow(trunk)],
      ['ExcpFullNL', 'exceptions-full', false, full, full.cycles, full.windowCycles],
      ['ExcpFullLog', 'exceptions-full', true, full, logged(full), loggedWindow(full)],
    ];
    for (const [name, preset, log, r, cycles, win] of rows) {
      exceptions.push([workload, name, preset, log, r.exits, r.exceptionExits, r.interruptExits, cycles, trunk.cycles / cycles,
        r.windowExceptionExits, win, trunk.windowCycles / win]);
    }
    if (!full.clean) notes.push(`${workload}: the replay under exceptions-full diverged`);
  }
  return { tables: { strategies, sweep, getpid, exceptions }, notes };
}

function parseVariants(o: OptionValues): Variant[] {
  const names = stringOption(o, 'variants', '--variants', 'all');
  // Names are checked against each trace's kernel (compareTrace): a Linux trace has its own table.
  const selectiveSyscalls = stringOption(o, 'syscalls', '--syscalls', SELECTIVE_DEFAULT.join(',')).split(',').filter((s) => s.length > 0);
  const all = VARIANTS.map((v) => (v.strategy === 'selective' ? { ...v, syscalls: selectiveSyscalls } : v));
  if (names === 'all') return all;
  const wanted = names.split(',').map((s) => s.trim());
  const out: Variant[] = [];
  for (const w of wanted) {
    const v = all.filter((x) => x.name === w || x.strategy === w);
    if (v.length === 0) throw new UserError(`--variants: unknown variant ${w} (known: ${VARIANTS.map((x) => x.name).join(', ')}, or a strategy name)`);
    out.push(...v);
  }
  if (!out.some((v) => v.strategy === 'none')) out.unshift(all[0]!);
  return [...new Map(out.map((v) => [v.name, v])).values()];
}

export const compareInterception: Analysis = {
  name: 'compare-interception',
  description: 'replay the trace under each syscall-interception strategy and compare exits, modelled cycles, completeness and footprint (seed 004 sections 6.2 and 7)',
  options: [
    { flags: '--variants <list>', description: 'variants to replay (seed 004 names such as 2VMCALLlog, or strategy names)', defaultText: 'all' },
    { flags: '--syscalls <list>', description: 'syscalls the selective variant exits on', defaultText: SELECTIVE_DEFAULT.join(',') },
    { flags: '--round-trips <list>', description: 'VM exit/entry round trips of the sensitivity sweep (cycles)', defaultText: DEFAULT_ROUND_TRIPS.join(',') },
    { flags: '--no-exceptions', description: 'leave out the exception configurations of seed 004 section 7.3' },
    { flags: '--cost-model <preset>', description: 'replay under another cost-model preset', defaultText: 'the recording\'s' },
  ],
  async run(dir: string, o: OptionValues, context: AnalysisContext = {}): Promise<AnalysisResult> {
    const variants = parseVariants(o);
    const roundTrips = countListOption(o, 'roundTrips', '--round-trips', DEFAULT_ROUND_TRIPS);
    const exceptions = boolOption(o, 'exceptions', true);
    const cm = stringOption(o, 'costModel', '--cost-model', '');
    const costModel = cm === '' ? undefined : getCostModel(cm);
    const acc: Record<string, Cell[][]> = { strategies: [], sweep: [], getpid: [], exceptions: [] };
    const notes: string[] = [];
    const dirs = traceDirs(dir);
    for (const d of dirs) checkSyscallNames(TraceReader.open(d, { verify: false }), variants); // before any replay
    for (const d of dirs) {
      const r = await compareTrace(d, { variants, roundTrips, exceptions, costModel, progress: context.progress, verify: o.verify !== false });
      for (const k of Object.keys(acc)) acc[k]!.push(...r.tables[k]!);
      notes.push(...r.notes);
    }
    const tables: ResultTable[] = [
      { name: 'strategies', doc: 'One row per workload and interception variant, from a replay of the trace under it.', columns: STRATEGY_COLUMNS, rows: acc.strategies! },
      { name: 'getpid', doc: 'getpid latency per variant (GEARS table), where the trace has a getpid loop.', columns: GETPID_COLUMNS, rows: acc.getpid! },
      { name: 'exceptions', doc: 'Seed 004 section 7.3: logging at exception and interrupt exits, default vs exceptions-full.', columns: EXCEPTION_COLUMNS, rows: acc.exceptions! },
      { name: 'sweep', doc: 'Relative performance as the VM exit/entry round trip varies.', columns: SWEEP_COLUMNS, rows: acc.sweep!, print: false },
    ];
    notes.push('cycles are modelled (src/emulator/costModel.ts); every replay executes the same guest instructions, so differences are the strategies\' exits and hypervisor work alone');
    return { title: 'syscall interception compared on the same execution', tables: tables.filter((t) => t.rows.length > 0 || t.name === 'strategies'), notes };
  },
};
