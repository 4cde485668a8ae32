// `trace analyze <dir> witness`: the Linux guest's two independent accounts of its process lifecycle side by
// side — the probes' ground truth (ground_truth.arrow: non-exiting probes on kernel functions,
// src/introspection/linuxProbes.ts) and the kernel-module witness (witness.arrow: vmt_witness.ko on the
// scheduler tracepoints, docs/machine.md "Kernel-module witness") — compared event for event after the module's
// START report. No replay: both are tables of the trace.
//
// How they line up (docs/machine.md): wake_up_new_task follows trace_sched_process_fork and __switch_to follows
// trace_sched_switch with no scheduling point between, so forks and switches form one sequence, compared in
// order; the probes mark an exec at setup_new_exec and an exit at do_exit's entry, the tracepoints fire later
// in the same paths, so an exec or exit is matched as the n-th of its task with the same comm, and placed
// `later` when the module's report comes after more switches, which is explained only if the task was
// switched out in between (it slept); an exit whose probe event precedes START is the module's only.

import { UserError } from '../errors.js';
import { GroundTruthType } from '../emulator/events.js';
import { readWitness, type WitnessRow } from '../record/witnessTable.js';
import { WITNESS_KIND_NAMES } from '../record/schema.js';
import { openTrace } from './options.js';
import type { Analysis, AnalysisResult, OptionValues, ResultColumn } from './result.js';

const col = (name: string, type: ResultColumn['type'], unit: string, doc: string): ResultColumn => ({ name, type, unit, doc });

/** One lifecycle event as both witnesses state it. */
export interface LifecycleEvent { kind: string; tid: number; tgid: number; comm: string; other: number; icount: number }

const KIND_OF_GT: Record<number, string> = {
  [GroundTruthType.threadCreate]: 'fork', [GroundTruthType.exec]: 'exec', [GroundTruthType.threadExit]: 'exit', [GroundTruthType.contextSwitch]: 'switch',
};

export interface KindAgreement {
  kind: string;
  probe: number;
  module: number;
  /** forks/switches: equal at the same position of the one sequence; execs/exits: matched events */
  matched: number;
  /** execs/exits placed among the same switches */
  samePlace: number;
  /** execs/exits the module reports after more switches, the task switched out in between */
  laterAfterSleep: number;
  /** execs/exits placed later without the task being switched out, or earlier: a disagreement */
  unexplained: number;
  probeOnly: number;
  moduleOnly: number;
}

export interface WitnessComparison {
  startIcount: number;
  probeBeforeStart: number;
  /** exits the probes placed before START and the module reported after it */
  exitsBegunBeforeStart: number;
  /** index of the first fork/switch where the two sequences differ, -1 if none */
  firstOrderDifference: number;
  kinds: KindAgreement[];
}

const key = (e: LifecycleEvent): string => `${e.kind} ${e.tid}/${e.tgid} ${e.comm}${e.kind === 'switch' ? ` from ${e.other}` : ''}`;

/** Compare the probes' lifecycle events with the module's reports (both in trace order). */
export function compareWitnesses(gt: ReadonlyArray<{ icount: number; type: number; pid: number; tid: number; a1: number; name: string }>,
  w: readonly WitnessRow[]): WitnessComparison {
  const start = w[0];
  if (start === undefined || start.kindName !== 'start') throw new UserError('witness.arrow does not begin with the module\'s START report');
  const probe: LifecycleEvent[] = [];
  let probeBeforeStart = 0;
  const exitedBefore = new Set<number>();
  for (const e of gt) {
    const kind = KIND_OF_GT[e.type];
    if (kind === undefined) continue;
    if (e.icount <= start.icount) {
      probeBeforeStart++;
      if (kind === 'exit') exitedBefore.add(e.tid);
      continue;
    }
    probe.push({ kind, tid: e.tid, tgid: e.pid, comm: e.name, other: e.a1, icount: e.icount });
  }
  let exitsBegunBeforeStart = 0;
  const module: LifecycleEvent[] = [];
  for (const e of w.slice(1)) {
    if (e.kindName === 'exit' && exitedBefore.has(e.pid)) {
      exitsBegunBeforeStart++;
      continue;
    }
    module.push({ kind: e.kindName, tid: e.pid, tgid: e.tgid, comm: e.comm, other: e.otherPid, icount: e.icount });
  }
  const kinds = new Map<string, KindAgreement>(WITNESS_KIND_NAMES.slice(1).map((k) => [k, {
    kind: k, probe: 0, module: 0, matched: 0, samePlace: 0, laterAfterSleep: 0, unexplained: 0, probeOnly: 0, moduleOnly: 0,
  }]));
  for (const e of probe) kinds.get(e.kind)!.probe++;
  for (const e of module) if (kinds.has(e.kind)) kinds.get(e.kind)!.module++;

  // forks and switches: one sequence, position by position
  const seq = (l: LifecycleEvent[]): LifecycleEvent[] => l.filter((e) => e.kind === 'fork' || e.kind === 'switch');
  const [ps, ms] = [seq(probe), seq(module)];
  let firstOrderDifference = -1;
  for (let i = 0; i < Math.max(ps.length, ms.length); i++) {
    const p = ps[i];
    const m = ms[i];
    if (p !== undefined && m !== undefined && key(p) === key(m)) kinds.get(p.kind)!.matched++;
    else {
      if (firstOrderDifference < 0) firstOrderDifference = i;
      if (p !== undefined) kinds.get(p.kind)!.probeOnly++;
      if (m !== undefined) kinds.get(m.kind)!.moduleOnly++;
    }
  }

  // execs and exits: the n-th of each (kind, task, comm), placed by the switches before it
  const placed = (l: LifecycleEvent[]): Map<string, number> => {
    const out = new Map<string, number>();
    const n = new Map<string, number>();
    let switches = 0;
    for (const e of l) {
      if (e.kind === 'switch') switches++;
      else if (e.kind === 'exec' || e.kind === 'exit') {
        const k = key(e);
        const i = (n.get(k) ?? 0) + 1;
        n.set(k, i);
        out.set(`${k} #${i}`, switches);
      }
    }
    return out;
  };
  const [pp, mp] = [placed(probe), placed(module)];
  const switches = probe.filter((e) => e.kind === 'switch');
  for (const [k, m] of mp) {
    const a = kinds.get(k.split(' ')[0]!)!;
    const p = pp.get(k);
    if (p === undefined) {
      a.moduleOnly++;
      continue;
    }
    a.matched++;
    const tid = Number(k.split(' ')[1]!.split('/')[0]);
    if (m === p) a.samePlace++;
    else if (m > p && switches.slice(p, m).some((s) => s.other === tid)) a.laterAfterSleep++;
    else a.unexplained++;
  }
  for (const k of pp.keys()) if (!mp.has(k)) kinds.get(k.split(' ')[0]!)!.probeOnly++;
  return { startIcount: start.icount, probeBeforeStart, exitsBegunBeforeStart, firstOrderDifference, kinds: [...kinds.values()] };
}

export const witnessAnalysis: Analysis = {
  name: 'witness',
  description: 'Linux traces recorded with witness=on|hyperupcall: the probes\' ground truth and the kernel-module witness (scheduler tracepoints) compared event for event',
  options: [],
  async run(dir: string, o: OptionValues): Promise<AnalysisResult> {
    const reader = openTrace(dir, o);
    const w = readWitness(reader);
    if (w === null) throw new UserError(`${dir}: no witness.arrow (record a Linux run with the module loaded: trace record linux:run=NAME,witness=on)`);
    const gt: Array<{ icount: number; type: number; pid: number; tid: number; a1: number; name: string }> = [];
    for (const b of reader.scan('ground_truth', ['icount', 'type', 'pid', 'tid', 'a1', 'name'])) {
      const c = b.columns;
      for (let i = 0; i < b.length; i++) {
        gt.push({ icount: c.icount!.number(i), type: c.type!.number(i), pid: c.pid!.number(i), tid: c.tid!.number(i), a1: Number(c.a1!.bigint(i)), name: c.name!.string(i) ?? '' });
      }
    }
    const r = compareWitnesses(gt, w);
    return {
      title: `witness: probes vs kernel module (${dir})`,
      tables: [{
        name: 'agreement', doc: 'per event kind after the module\'s START report: the probes\' events, the module\'s, and how they match (docs/analyses.md "witness")',
        columns: [
          col('kind', 'utf8', '', 'fork, exec, exit, switch'),
          col('probe', 'int64', 'events', 'the probes\' events after START (ground_truth.arrow: thread_create, exec, thread_exit, context_switch)'),
          col('module', 'int64', 'events', 'the module\'s reports (witness.arrow), exits begun before START left out'),
          col('matched', 'int64', 'events', 'forks/switches: the same task at the same position of the one fork/switch sequence; execs/exits: the same event (n-th of its task, same comm)'),
          col('same_place', 'int64', 'events', 'execs/exits the two place among the same switches'),
          col('later_after_sleep', 'int64', 'events', 'execs/exits the module reports after more switches, the task switched out in between'),
          col('unexplained', 'int64', 'events', 'execs/exits placed otherwise: a disagreement'),
          col('probe_only', 'int64', 'events', 'events only the probes have (or out of order)'),
          col('module_only', 'int64', 'events', 'events only the module has (or out of order)'),
        ],
        rows: r.kinds.map((k) => [k.kind, k.probe, k.module, k.matched, k.samePlace, k.laterAfterSleep, k.unexplained, k.probeOnly, k.moduleOnly]),
      }],
      notes: [
        `START at icount ${r.startIcount}; ${r.probeBeforeStart} probe events before it; ${r.exitsBegunBeforeStart} exit(s) the probes placed before START reported by the module after it`,
        r.firstOrderDifference < 0 ? 'forks and switches: the same sequence' : `forks and switches differ from position ${r.firstOrderDifference}`,
      ],
    };
  },
};
