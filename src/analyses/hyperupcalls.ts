// `trace analyze <dir> hyperupcalls`: replays the trace (the registrations come from the guest's own code, so
// the replay re-creates them) and reports, per registered hyperupcall (seed 003): invocations, eBPF
// instructions, modelled cycles per invocation for native code vs the hyperupcall interpreted vs compiled vs
// an upcall (inject an interrupt, run the guest handler, hypercall back) vs a hypercall; the paper's figures
// beside ours; free-page
// discovery vs a balloon-style upcall; and the modelled scheduler-activation series (Figure 2's shape).
// Host times (per invocation, verification) are a benchmark's, not an analysis's: bench/hyperupcalls.bench.ts.

import { existsSync } from 'node:fs';
import { UserError } from '../cli/errors.js';
import { replayTrace } from '../replay/replayTrace.js';
import { EVENT_NAMES, hyperupcallsOf, modelledCycles, type HyperupcallProgram } from '../hypervisor/hyperupcalls/index.js';
import { schedulerSeries } from '../hypervisor/hyperupcalls/schedModel.js';
import type { CostModel } from '../emulator/costModel.js';
import { ExitReason } from '../emulator/vmx/exitReasons.js';
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

function label(p: HyperupcallProgram): string {
  return `${p.id}:${EVENT_NAMES[p.event] ?? p.event}`;
}

export const hyperupcallsAnalysis: Analysis = {
  name: 'hyperupcalls',
  description: 'hyperupcalls the guest registered (seed 003): invocations, eBPF instructions, modelled cycles native vs interpreted vs compiled vs upcall vs hypercall, free pages vs balloon, scheduler activation (modelled)',
  options: [],
  async run(dir) {
    if (!existsSync(dir)) throw new UserError(`${dir}: no such trace directory`);
    const rep = await replayTrace(dir);
    const rt = hyperupcallsOf(rep.assembled.hypervisor);
    const m = rep.assembled.costModel;
    const notes: string[] = [`replay ${rep.clean ? 'clean' : 'NOT clean'}: ${rep.matched} of ${rep.recordedExits} exits matched`];
    if (rt.programs.length === 0) notes.push('the guest registered no hyperupcall in this trace (workloads: hyperupcall-trace, hyperupcall-server)');
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
    const trace = rt.programs.find((p) => p.event === 1);
    const paper: Cell[][] = [
      ['overhead over native (any hyperupcall)', m.hyperupcall.overNative, m.hyperupcall.overNative, 'charged as a fixed figure per invocation (model-choice), not measured'],
      ['tracing over native (4.1)', m.hyperupcall.tracing, trace === undefined ? null : m.hyperupcall.overNative, 'our charge for the tracing program; the paper measures 232'],
      ['guard per exit', m.hyperupcall.guard, null, 'no guard use case in this guest'],
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
    const series = schedulerSeries({ serviceUs: 20, requests: 100, sliceUs: 3000, rttUs: 100 }, [0, 1, 2, 3, 4, 5, 6, 7]);
    tables.push({
      name: 'scheduler_activation', doc: 'modelled (schedModel.ts): runtime of 100 requests vs overcommit, without and with the priority-boost hyperupcall (Figure 2 shape)',
      columns: [col('overcommit', 'int64', 'runnable entities per pCPU', ''), col('base_ms', 'float64', 'ms', 'no boost'),
        col('boosted_ms', 'float64', 'ms', 'boost weight 100 for 100 ms on matching packets'), col('slowdown_ratio', 'float64', '', 'base / boosted')],
      rows: series.map((s) => [s.overcommit, s.baseMs, s.boostedMs, s.ratio]),
    });
    if (rt.boosts.length > 0) notes.push(`priority_boost called ${rt.boosts.length} times in this trace (weight ${rt.boosts[0]!.weight}, ${rt.boosts[0]!.durationUs} us)`);
    notes.push('the scheduler series is a model (no host scheduler runs): service 20 us/request, 3 ms slices, 100 us client round trip; see docs/hyperupcalls.md');
    return { title: `hyperupcalls: ${dir}`, tables, notes };
  },
};
