// `trace analyze <dir> hyperupcalls`: replays the trace (the registrations come from the guest's own code, so
// the replay re-creates them) and reports, per registered hyperupcall (seed 003): invocations, eBPF
// instructions, modelled cycles per invocation for native code vs the hyperupcall interpreted vs compiled vs
// an upcall (inject an interrupt, run the guest handler, hypercall back) vs a hypercall; the paper's figures
// beside ours; free-page
// discovery vs a balloon-style upcall; the guard's per-exit overhead and what it blocked; and the
// scheduler-activation series (Figure 2's shape): the host-scheduler model of schedModel.ts applied to the
// trace's own request timeline (requests, service times and boost calls observed during the replay).
// Host times (per invocation, verification) are a benchmark's, not an analysis's: bench/hyperupcalls.bench.ts.

import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { replayTrace } from '../replay/replayTrace.js';
import { EVENT_NAMES, modelledCycles, type HyperupcallProgram, type HyperupcallRuntime } from '../hypervisor/hyperupcalls/index.js';
import { ANY_EXIT, NIC_VECTOR, type Boost } from '../hypervisor/hyperupcalls/index.js';
import { DEFAULT_SCHED_PARAMS, schedulerSeries, type SchedRequest } from '../hypervisor/hyperupcalls/schedModel.js';
import type { CostModel } from '../emulator/costModel.js';
import { ExitReason } from '../emulator/vmx/exitReasons.js';
import type { Assembled } from '../replay/Session.js';
import { IoDirection } from '../emulator/events.js';
import type { Analysis, Cell, ResultColumn, ResultTable } from './result.js';

/** Estimate (not in the cost model): an eBPF interpreter runs ~10 host instructions per eBPF instruction. */
export const INTERPRETER_CYCLES_PER_INSN = 10;
/** Estimate: guest instructions of an interrupt delivery, handler prologue/epilogue and IRET around an upcall. */
export const UPCALL_GUEST_OVERHEAD = 200;
/** virtio-balloon reports free pages in batches of 256 PFNs, one notification (exit) per batch. */
export const BALLOON_BATCH = 256;

const col = (name: string, type: ResultColumn['type'], unit: string, doc: string): ResultColumn => ({ name, type, unit, doc });

export interface InvocationCosts { native: number; interpreted: number; compiled: number; upcall: number; hypercall: number }

/** Modelled cycles of one invocation of logic that runs `steps` eBPF instructions, by mechanism (docs/hyperupcalls.md). */
export function invocationCosts(m: CostModel, steps: number): InvocationCosts {
  const native = steps * m.cyclesPerInstruction;
  const vmcall = m.roundTrip + m.handler[ExitReason.VMCALL];
  return {
    native,
    interpreted: steps * INTERPRETER_CYCLES_PER_INSN + m.hyperupcall.overNative,
    compiled: modelledCycles(m, steps),
    // inject (VM-entry event injection), the guest handler natively, a hypercall back: two transitions
    upcall: m.work.injectEvent + (UPCALL_GUEST_OVERHEAD * m.cyclesPerInstruction) + native + vmcall,
    // the hypervisor asks by a hypercall-style round trip and does the work itself
    hypercall: vmcall + native,
  };
}

/** Overcommit levels of the scheduler series (1 = the vCPU alone on its pCPU). */
export const MAX_OVERCOMMIT = 8;

/** NIC ports (docs/machine.md): RX buffer address, RX length (reading it consumes the packet), TX address, TX length. */
const NIC_RX_ADDR = 0xc004;
const NIC_RX_LEN = 0xc00c;
const NIC_TX_LEN = 0xc014;

/** One server request as the replay saw it. */
export interface TraceRequest {
  kind: string;
  /** icount of the NIC interrupt injection that delivered it, and of the reply's transmit. */
  arrivalIcount: number;
  replyIcount: number;
  /** Modelled cycles (guest instructions x CPI + hypervisor work) from the injection to the transmit. */
  cycles: number;
  boost: Boost | null;
}

/**
 * Watch a replay for the server's requests: a NIC injection (vector 0x2b) starts one; the packet is read
 * from the guest's RX buffer when the kernel consumes it (IN from 0xc00c); the next transmit (OUT to
 * 0xc014) is its reply. Requests without a reply (quit) are dropped. Boosts are matched afterwards.
 */
export function watchRequests(a: Assembled): { requests: TraceRequest[] } {
  const m = a.machine;
  const out: TraceRequest[] = [];
  let rxAddr = -1;
  let open: { kind: string; arrivalIcount: number; cycles0: number } | null = null;
  let injectedAt = -1;
  let injectedCycles = 0;
  m.subscribe({
    onInterrupt: (e) => {
      if (e.vector !== NIC_VECTOR) return;
      injectedAt = e.icount;
      injectedCycles = m.cycles;
    },
    onIo: (e) => {
      if (e.port === NIC_RX_ADDR && e.direction === IoDirection.out) rxAddr = e.value;
      else if (e.port === NIC_RX_LEN && e.direction === IoDirection.in && e.value > 8 && rxAddr >= 0 && injectedAt >= 0) {
        const bytes = m.cpu.mmu.readPhys(rxAddr, Math.min(e.value, 64));
        const text = Buffer.from(bytes.subarray(8)).toString('latin1');
        open = { kind: /^[a-z]*/.exec(text)![0] || '?', arrivalIcount: injectedAt, cycles0: injectedCycles };
        injectedAt = -1;
      } else if (e.port === NIC_TX_LEN && e.direction === IoDirection.out && open !== null) {
        out.push({ kind: open.kind, arrivalIcount: open.arrivalIcount, replyIcount: e.icount, cycles: m.cycles - open.cycles0, boost: null });
        open = null;
      }
    },
  });
  return { requests: out };
}

function label(p: HyperupcallProgram): string {
  return `${p.id}:${EVENT_NAMES[p.event] ?? p.event}`;
}

export const hyperupcallsAnalysis: Analysis = {
  name: 'hyperupcalls',
  description: 'hyperupcalls the guest registered (seed 003): invocations, eBPF instructions, modelled cycles native vs interpreted vs compiled vs upcall vs hypercall, free pages vs balloon, guard per-exit overhead and blocks, scheduler activation (a host-scheduler model on the trace requests and boosts)',
  options: [],
  async run(dir, o) {
    if (!existsSync(dir)) throw new UserError(`${dir}: no such trace directory`);
    let watched: { requests: TraceRequest[] } = { requests: [] };
    const rep = await replayTrace(dir, { verify: o.verify !== false, attach: (a) => { watched = watchRequests(a); } });
    const rt = rep.assembled.hyperupcalls;
    const m = rep.assembled.costModel;
    const notes: string[] = [`replay ${rep.clean ? 'clean' : 'NOT clean'}: ${rep.matched} of ${rep.recordedExits} exits matched`];
    if (rt.programs.length === 0) notes.push('the guest registered no hyperupcall in this trace (workloads: hyperupcall-trace, hyperupcall-server, hyperupcall-guard; on Linux linux:run=NAME,witness=hyperupcall)');
    for (const r of rt.rejections) notes.push(`rejected at icount ${r.icount} (${r.code}): ${r.message}`);

    const progRows: Cell[][] = [];
    const costRows: Cell[][] = [];
    for (const p of rt.programs) {
      const s = p.stats;
      const steps = s.invocations > 0 ? s.steps / s.invocations : 0;
      const c = invocationCosts(m, steps);
      progRows.push([label(p), p.insns.length, s.invocations, steps, s.steps, s.cycles, s.faults, p.verifyProcessed, p.memLen]);
      costRows.push([label(p), c.native, c.interpreted, c.compiled, c.upcall, c.hypercall, c.compiled - c.native]);
    }
    const tables: ResultTable[] = [
      {
        name: 'programs', doc: 'one row per registered hyperupcall',
        columns: [
          col('program', 'utf8', '', 'id:event'), col('insns', 'int64', 'eBPF instructions', 'program length (slots)'),
          col('invocations', 'int64', '', 'times the event ran it'), col('steps_per_invocation', 'float64', 'eBPF instructions', 'executed per invocation (mean)'),
          col('steps', 'int64', 'eBPF instructions', 'executed, all invocations'), col('cycles', 'int64', 'modelled cycles', 'charged to modelled time, all invocations'),
          col('faults', 'int64', '', 'run-time faults'), col('verifier_processed', 'int64', 'instructions', 'verifier work'),
          col('region_bytes', 'int64', 'bytes', 'granted memory (all of guest memory for a local program)'),
        ],
        rows: progRows,
      },
      {
        name: 'overheads', doc: 'per invocation, one row per program: modelled cycles by mechanism (host times: npm run bench -- hyperupcalls)',
        columns: [
          col('program', 'utf8', '', 'id:event'), col('native', 'float64', 'modelled cycles', 'the same logic as guest code (1 instruction per eBPF instruction, CPI of the model)'),
          col('interpreted', 'float64', 'modelled cycles', `hyperupcall interpreted: ${INTERPRETER_CYCLES_PER_INSN} cycles per eBPF instruction (estimate) + overNative`),
          col('compiled', 'float64', 'modelled cycles', 'hyperupcall compiled: native + hyperupcall.overNative (what the run charged)'),
          col('upcall', 'float64', 'modelled cycles', 'inject + guest handler + hypercall back (two transitions)'),
          col('hypercall', 'float64', 'modelled cycles', 'round trip + VMCALL handler + native'),
          col('compiled_over_native', 'float64', 'modelled cycles', 'compiled - native'),
        ],
        rows: costRows,
      },
    ];
    const trace = rt.programs.find((p) => p.event === 1 && p.exitReason === ANY_EXIT);
    const paper: Cell[][] = [
      ['overhead over native (any hyperupcall)', m.hyperupcall.overNative, m.hyperupcall.overNative, 'charged as a fixed figure per invocation (model-choice), not measured'],
      ['tracing over native (4.1)', m.hyperupcall.tracing, trace === undefined ? null : m.hyperupcall.overNative, 'our charge for the tracing program; the paper measures 232'],
      guardRow(m, rt.programs),
      ['tracing program size (eBPF insns)', 3308, trace === undefined ? null : trace.insns.length, 'ours writes one fixed-size record; no trace-page management'],
    ];
    tables.push({
      name: 'paper', doc: 'seed 003 / Amit & Wei figures beside ours',
      columns: [col('figure', 'utf8', '', ''), col('paper', 'float64', 'cycles', 'published'), col('ours', 'float64', 'cycles', 'this model/run'), col('note', 'utf8', '', '')],
      rows: paper,
    });
    const fp = rt.programs.find((p) => p.event === 4);
    if (fp !== undefined && rt.freePageReports.length > 0) {
      const pages = rt.freePageReports.at(-1)!.length;
      const steps = fp.stats.steps / Math.max(1, fp.stats.invocations);
      const hu = modelledCycles(m, steps);
      const vmcall = m.roundTrip + m.handler[ExitReason.VMCALL];
      const balloon = m.work.injectEvent + UPCALL_GUEST_OVERHEAD + steps + Math.ceil(pages / BALLOON_BATCH) * vmcall + vmcall;
      tables.push({
        name: 'free_pages', doc: 'free-page discovery at the memory-pressure event: hyperupcall vs balloon-style upcall (modelled)',
        columns: [col('pages', 'int64', 'pages', 'free pages found'), col('hyperupcall', 'float64', 'modelled cycles', 'steps + overNative'),
          col('balloon_upcall', 'float64', 'modelled cycles', `inject + guest walk + one hypercall per ${BALLOON_BATCH} PFNs + the final one`),
          col('ratio', 'float64', '', 'balloon / hyperupcall')],
        rows: [[pages, hu, balloon, balloon / hu]],
      });
    }
    tables.push(...guardTables(m, rt));
    const requests = watched.requests;
    // Boost calls happen at the NIC injection that delivered the packet (the packet-received event).
    const boostAt = new Map<number, Boost>();
    for (const b of rt.boosts) boostAt.set(b.icount, b);
    for (const r of requests) r.boost = boostAt.get(r.arrivalIcount) ?? null;
    const tsc = m.tscHz;
    const sreqs: SchedRequest[] = requests.map((r) => ({ kind: r.kind, serviceUs: (r.cycles / tsc) * 1e6, boost: r.boost === null ? null : { weight: r.boost.weight, durationUs: r.boost.durationUs } }));
    if (requests.length > 0) {
      tables.push({
        name: 'requests', doc: 'the server requests of this trace, as the replay saw them (the scheduler model\'s input)',
        columns: [col('request', 'int64', '', 'order of arrival'), col('kind', 'utf8', '', 'memcached command'),
          col('arrival_icount', 'int64', 'instructions', 'NIC interrupt injection that delivered it'), col('reply_icount', 'int64', 'instructions', 'transmit of its reply'),
          col('service_cycles', 'int64', 'modelled cycles', 'guest instructions x CPI + hypervisor work between the two'),
          col('service_us', 'float64', 'us', 'service_cycles / TSC rate'), col('boost_weight', 'int64', '', 'priority_boost weight the hyperupcall asked for (null: none)'),
          col('boost_us', 'int64', 'us', 'priority_boost duration (null: none)')],
        rows: requests.map((r, i) => [i, r.kind, r.arrivalIcount, r.replyIcount, r.cycles, sreqs[i]!.serviceUs, r.boost?.weight ?? null, r.boost?.durationUs ?? null]),
      });
      const batch = sreqs.slice(0, 100);
      const series = schedulerSeries(batch, MAX_OVERCOMMIT);
      tables.push({
        name: 'scheduler_activation', doc: `the trace's first ${batch.length} requests under the host-scheduler model (schedModel.ts): runtime vs overcommit, without and with the trace's priority_boost calls (Figure 2 shape)`,
        columns: [col('overcommit', 'int64', 'runnable entities per pCPU', 'the vCPU and overcommit - 1 always-busy competitors'), col('base_ms', 'float64', 'ms', 'runtime of the batch, no boost'),
          col('boosted_ms', 'float64', 'ms', 'runtime with the boosts the trace\'s hyperupcall made'), col('slowdown_ratio', 'float64', '', 'base / boosted'),
          col('base_wait_ms', 'float64', 'ms', 'sum of the requests\' waits for the CPU, no boost'), col('boosted_wait_ms', 'float64', 'ms', 'the same with boosts'),
          col('boosted_requests', 'int64', '', 'requests that arrived while a boost was active')],
        rows: series.map((x) => [x.overcommit, x.baseMs, x.boostedMs, x.ratio, x.baseWaitMs, x.boostedWaitMs, x.boostedRequests]),
      });
      const kinds = new Map<string, number>();
      for (const r of batch) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
      const svc = batch.map((r) => r.serviceUs);
      notes.push(`scheduler model on ${batch.length} requests of this trace (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), ` +
        `service ${Math.min(...svc).toFixed(2)}-${Math.max(...svc).toFixed(2)} us (mean ${(svc.reduce((a, b) => a + b, 0) / svc.length).toFixed(2)}), ` +
        `${batch.filter((r) => r.boost !== null).length} boost calls; quantum ${DEFAULT_SCHED_PARAMS.sliceUs / 1000} ms, client round trip ${DEFAULT_SCHED_PARAMS.rttUs} us, weights ${DEFAULT_SCHED_PARAMS.baseWeight} (docs/hyperupcalls.md)`);
    } else {
      notes.push('no server requests in this trace: no scheduler-activation series (record hyperupcall-server)');
    }
    if (rt.boosts.length > 0) notes.push(`priority_boost called ${rt.boosts.length} times in this trace (weight ${rt.boosts[0]!.weight}, ${rt.boosts[0]!.durationUs} us)`);
    if (rt.ipis.length > 0) notes.push(`send_vcpu_ipi delivered ${rt.ipis.length} interrupts (vectors ${[...new Set(rt.ipis.map((x) => x.vector))].join(', ')})`);
    return { title: `hyperupcalls: ${dir}`, tables, notes };
  },
};

/** The paper-table row for the guard: ours is a reason-filtered VM-exit program's charge over native. */
function guardRow(m: CostModel, programs: readonly HyperupcallProgram[]): Cell[] {
  const g = programs.find((p) => p.event === 1 && p.exitReason !== ANY_EXIT);
  return ['guard per exit (over native)', m.hyperupcall.guard, g === undefined ? null : m.hyperupcall.overNative,
    g === undefined ? 'no reason-filtered VM-exit program (guard) in this trace (record hyperupcall-guard)' : 'our charge over native per guarded exit (overNative, a model choice); the guard table has the per-exit total'];
}

/**
 * The guard use case: per reason-filtered VM-exit program, the exits it ran on, what it blocked (its
 * verdicts), and its per-exit overhead in modelled cycles beside the paper's +43; then what it blocked.
 */
function guardTables(m: CostModel, rt: HyperupcallRuntime): ResultTable[] {
  const guards = rt.programs.filter((p) => p.event === 1 && p.exitReason !== ANY_EXIT);
  if (guards.length === 0) return [];
  const rows: Cell[][] = guards.map((p) => {
    const s = p.stats;
    const steps = s.invocations > 0 ? s.steps / s.invocations : 0;
    const c = invocationCosts(m, steps);
    const exitCost = m.roundTrip + (m.handler[p.exitReason as keyof typeof m.handler] ?? 0);
    const blocked = rt.skips.filter((x) => x.program === p.id).length;
    return [label(p), p.exitReason, s.invocations, blocked, steps, c.native, c.compiled, c.compiled - c.native, m.hyperupcall.guard, exitCost, c.compiled / exitCost, c.upcall];
  });
  const blockedRows: Cell[][] = rt.skips.map((x) => [x.seq, x.icount, x.reason, x.program]);
  return [
    {
      name: 'guard', doc: 'reason-filtered VM-exit programs (the guard): per guarded exit, modelled cycles beside the paper\'s +43 over native',
      columns: [col('program', 'utf8', '', 'id:event'), col('exit_reason', 'int64', '', 'the basic exit reason it runs on'),
        col('exits', 'int64', '', 'exits it ran on'), col('blocked', 'int64', '', 'instructions its verdict skipped'),
        col('steps_per_exit', 'float64', 'eBPF instructions', 'mean per exit'), col('native', 'float64', 'modelled cycles', 'the check as guest code'),
        col('per_exit', 'float64', 'modelled cycles', 'what each guarded exit was charged for the guard: native + overNative'),
        col('over_native', 'float64', 'modelled cycles', 'per_exit - native (our overNative)'), col('paper_over_native', 'float64', 'cycles', 'ATC 2018: +43 per exit for the guard'),
        col('exit_cost', 'float64', 'modelled cycles', 'the exit itself: round trip + handler'), col('share_of_exit', 'float64', '', 'per_exit / exit_cost'),
        col('as_upcall', 'float64', 'modelled cycles', 'the same check as an upcall into the guest (inject + handler + hypercall back)')],
      rows,
    },
    {
      name: 'guard_blocked', doc: 'instructions a VM-exit program blocked (verdict skip), in order',
      columns: [col('exit_seq', 'int64', '', 'the exit'), col('icount', 'int64', 'instructions', ''), col('exit_reason', 'int64', '', ''), col('program', 'int64', '', 'program id')],
      rows: blockedRows,
    },
  ];
}
