// The modelled-time cost model (docs/cost-model.md has the full table with sources).
//
// Guest-visible time derives from the instruction count only: guest TSC = icount x cyclesPerInstruction, so
// adding or removing exits never changes what the guest executes. Modelled time adds, per VM exit, a VM-exit
// + VM-entry round trip, a per-exit-reason handler cost, and any hypervisor work the handler does (logging a
// record, emulating an instruction, a device access). Every figure names its source in `sources`; each
// source says whether the figure is published, derived from published figures, or a modelling estimate.
//
// Presets are plain frozen data; costOfExit is a pure function of (model, reason, extraWork).

import { UserError } from '../errors.js';
import { ALL_EXIT_REASONS, ExitReason, exitReasonKey } from './vmx/exitReasons.js';

/** Where a figure comes from. */
export type SourceKind = 'published' | 'derived' | 'estimate' | 'model-choice';

export interface CostSource {
  kind: SourceKind;
  citation: string;
}

/** Hypervisor work a handler may do on top of its fixed cost, in cycles per unit. */
export interface HypervisorWorkCosts {
  /** Append one record (exit or syscall) to the hypervisor's log: seed 004's "log" vs "nolog". */
  logRecord: number;
  /** Fetch, decode and emulate one guest instruction in the VMM (e.g. SYSCALL under Nitro-style trapping). */
  emulateInstruction: number;
  /** One emulated device access (port I/O to a device model), on top of the I/O exit's handler cost. */
  deviceIo: number;
  /** Program an event injection (VM-entry interruption-information fields). */
  injectEvent: number;
  /** Change EPT entries and invalidate (INVEPT), e.g. to hide or re-expose a page. */
  eptUpdate: number;
  /** Read or write guest memory through the guest's page tables from the VMM (per access, <= 1 page). */
  guestMemoryAccess: number;
}

/** Hyperupcalls (seed 003, Amit & Wei): verified guest code run by the hypervisor, no exit needed. */
export interface HyperupcallCosts {
  /** Cost of a hyperupcall over running the same logic natively (upper bound). */
  overNative: number;
  /** Extra cost of the tracing hyperupcall over native tracing. */
  tracing: number;
  /** Extra cost of the guard (bounds checks on guest pointers) per invocation. */
  guard: number;
}

export interface CostModel {
  readonly name: string;
  readonly description: string;
  /** Guest cycles per retired instruction: guest TSC = icount x cyclesPerInstruction. */
  readonly cyclesPerInstruction: number;
  /** Guest TSC frequency (Hz), for converting modelled cycles to seconds. */
  readonly tscHz: number;
  /** VM exit + VM entry round trip (hardware world switch and the VMM's minimal entry/exit path). */
  readonly roundTrip: number;
  /** Handler cost per basic exit reason, on top of the round trip. Every SDM exit reason is present. */
  readonly handler: Readonly<Record<ExitReason, number>>;
  readonly work: Readonly<HypervisorWorkCosts>;
  readonly hyperupcall: Readonly<HyperupcallCosts>;
  /** Source of each figure: keys are 'roundTrip', 'cyclesPerInstruction', 'tscHz', 'handler.<KEY>', 'work.<name>', 'hyperupcall.<name>'. */
  readonly sources: Readonly<Record<string, CostSource>>;
}

// ---------------------------------------------------------------------------------------------------------
// Sources

export const SOURCES = {
  adamsAgesen2006: {
    kind: 'published',
    citation:
      'K. Adams, O. Agesen, "A Comparison of Software and Hardware Techniques for x86 Virtualization", ASPLOS 2006: a VM exit + VM entry round trip costs 2,409 cycles on a first-generation VT-x Pentium 4 (Prescott). Figure as quoted in the project brief (issue 3); the paper text was not retrievable here to re-check it.',
  },
  penryn2007: {
    kind: 'published',
    citation:
      'Intel, Penryn disclosure (P. Gelsinger, March 2007; reported by Ars Technica, reprinted at vmblog.com 2007-03-29, "Intel spills beans on Core 2 successor"): Penryn decreases VM transition (VM entry / VM exit) times by 25 to 75 percent relative to the Core 2 (Merom) generation.',
  },
  splitx2011: {
    kind: 'published',
    citation:
      'A. Landau, M. Ben-Yehuda, A. Gordon, "SplitX: Split Guest/Hypervisor Execution on Multi-Core", WIOV 2011, section 1: on a Xeon X5570 (Nehalem, 2.93 GHz) with KVM (Linux 2.6.34, EPT and VPID), "the direct cost on its own is high: 2,000 cycles"; indirect and synchronous (handling) costs "can in certain cases be an order of magnitude higher".',
  },
  seed004System: {
    kind: 'published',
    citation: 'Prosnitz, "Blackbox No More", NWU-EECS-07-01 (seed 004), section 7: test system is a 2.00 GHz Core 2 Duo T7200 running kvm-12.',
  },
  seed004Logging: {
    kind: 'derived',
    citation:
      'Derived from seed 004 section 7.2: "logging incurs a small 5% overhead" on the System Call and Pipe benchmarks with two VMCALL exits per system call. The per-syscall time is dominated by the two exits, so one record costs about 5% of 2 x (round trip 2,409 + VMCALL handler 200) = 261, rounded to 260 cycles (approximate: the native system-call work is ignored). Kept for the modern preset (the logging code is the same software).',
  },
  seed003Tracing: {
    kind: 'published',
    citation:
      'Wei & Amit, "Leveraging Hyperupcalls To Bridge The Semantic Gap: An Application Perspective" (seed 003), section 4.1: tracing with hyperupcalls is slower than native code by 232 cycles.',
  },
  amitWei2018: {
    kind: 'published',
    citation:
      'N. Amit, M. Wei, "The Design and Implementation of Hyperupcalls", USENIX ATC 2018: hyperupcall overhead under ~250 cycles over native code, +43 cycles for the guard checks. Figures as quoted in the project brief; the ATC paper is not among the seeds and was not re-checked here.',
  },
  tscT7200: {
    kind: 'published',
    citation: 'Core 2 Duo T7200 nominal frequency 2.00 GHz (seed 004, section 7).',
  },
  tscX5570: {
    kind: 'published',
    citation: 'Xeon X5570 nominal frequency 2.93 GHz (the SplitX test machine, WIOV 2011).',
  },
  cpiChoice: {
    kind: 'model-choice',
    citation:
      'Modelling choice, not a measurement: one guest cycle per retired instruction, so guest TSC = icount and guest time is exactly the instruction count (what makes runs under different exit configurations comparable).',
  },
  core2RoundTrip: {
    kind: 'derived',
    citation:
      'The only published first-generation VT-x round trip we can cite is 2,409 cycles (Adams & Agesen 2006, Prescott). The T7200 (Merom) is the generation before Penryn, which Intel says cut transition times by 25-75% (Penryn disclosure 2007); Merom itself is not published in a source we could check, so the first-generation figure is used. It is an upper-end estimate for Merom.',
  },
  handlerEstimate: {
    kind: 'estimate',
    citation:
      'Estimate (no per-exit-reason measurement for these CPUs was found): cycles a KVM-like handler spends after the world switch, by class - dispatch only (~150-200: read the exit reason and a few VMCS fields, write the result), MSR/CR emulation (300-500), exception re-injection (400-600), I/O decode and bus dispatch (700-1,000), host interrupt handling (1,000-1,500), EPT/shadow-paging fault resolution (2,000-3,000). Bounded by SplitX: handling costs up to an order of magnitude above the 2,000-cycle direct cost.',
  },
  runEnds: {
    kind: 'model-choice',
    citation: 'The run ends on this exit (triple fault, VM-entry failure): no handler cost is charged.',
  },
  workEstimate: {
    kind: 'estimate',
    citation:
      'Estimate: instruction emulation ~1,500 (fetch + decode + execute in the VMM, a few hundred instructions); event injection 100 (three VMWRITEs); EPT update 1,000 (entry write + INVEPT); guest-memory access from the VMM 300 (software page walk, <= 4 reads).',
  },
  deviceIoCore2: {
    kind: 'estimate',
    citation:
      'Estimate: kvm-12 (seed 004) forwarded every port-I/O exit to the QEMU user process, adding a kernel/user round trip and QEMU device dispatch per access; 5,000 cycles. Consistent with seed 004 section 7.1 (file copy, pipe and system-call benchmarks at 15-25% of native under kvm-12).',
  },
  deviceIoModern: {
    kind: 'estimate',
    citation: 'Estimate: an in-kernel device model access (KVM handles PIT/PIC and similar devices in the kernel); 1,000 cycles.',
  },
} as const satisfies Record<string, CostSource>;

// ---------------------------------------------------------------------------------------------------------
// Handler classes

type HandlerClass = 'dispatch' | 'msr' | 'cr' | 'exception' | 'io' | 'interrupt' | 'shadowPaging' | 'ept' | 'emulate' | 'fatal';

/** Which class of handler work each exit reason needs. */
const HANDLER_CLASS: Readonly<Record<ExitReason, HandlerClass>> = (() => {
  const c = {} as Record<ExitReason, HandlerClass>;
  for (const r of ALL_EXIT_REASONS) c[r] = 'emulate'; // VMX instructions etc.: emulate or inject #UD
  const set = (cls: HandlerClass, ...rs: ExitReason[]): void => {
    for (const r of rs) c[r] = cls;
  };
  set(
    'dispatch',
    ExitReason.CPUID, ExitReason.HLT, ExitReason.RDTSC, ExitReason.RDTSCP, ExitReason.RDPMC, ExitReason.VMCALL,
    ExitReason.INTERRUPT_WINDOW, ExitReason.NMI_WINDOW, ExitReason.MONITOR_TRAP_FLAG, ExitReason.PREEMPTION_TIMER,
    ExitReason.PAUSE_INSTRUCTION, ExitReason.MWAIT_INSTRUCTION, ExitReason.MONITOR_INSTRUCTION, ExitReason.INVD, ExitReason.WBINVD, ExitReason.XSETBV,
    ExitReason.RDRAND, ExitReason.RDSEED, ExitReason.TPR_BELOW_THRESHOLD, ExitReason.EOI_INDUCED,
    ExitReason.UMWAIT, ExitReason.TPAUSE, ExitReason.BUS_LOCK, ExitReason.NOTIFY,
  );
  set('msr', ExitReason.MSR_READ, ExitReason.MSR_WRITE, ExitReason.RDMSRLIST, ExitReason.WRMSRLIST, ExitReason.MSR_READ_IMM, ExitReason.MSR_WRITE_IMM);
  set('cr', ExitReason.CR_ACCESS, ExitReason.DR_ACCESS);
  set('exception', ExitReason.EXCEPTION_NMI);
  set('io', ExitReason.IO_INSTRUCTION, ExitReason.APIC_ACCESS, ExitReason.APIC_WRITE);
  set('interrupt', ExitReason.EXTERNAL_INTERRUPT, ExitReason.INIT_SIGNAL, ExitReason.SIPI_SIGNAL, ExitReason.IO_SMI, ExitReason.OTHER_SMI);
  set('shadowPaging', ExitReason.INVLPG, ExitReason.INVPCID, ExitReason.INVEPT, ExitReason.INVVPID, ExitReason.PML_FULL);
  set('ept', ExitReason.EPT_VIOLATION, ExitReason.EPT_MISCONFIG, ExitReason.SPP_EVENT, ExitReason.TASK_SWITCH);
  set('fatal', ExitReason.TRIPLE_FAULT, ExitReason.INVALID_STATE, ExitReason.MSR_LOAD_FAIL, ExitReason.MCE_DURING_VMENTRY);
  return c;
})();

function buildHandlers(perClass: Readonly<Record<HandlerClass, number>>): Readonly<Record<ExitReason, number>> {
  const h = {} as Record<ExitReason, number>;
  for (const r of ALL_EXIT_REASONS) h[r] = perClass[HANDLER_CLASS[r]];
  return Object.freeze(h);
}

function handlerSources(): Record<string, CostSource> {
  const s: Record<string, CostSource> = {};
  for (const r of ALL_EXIT_REASONS) {
    s[`handler.${exitReasonKey(r)}`] = HANDLER_CLASS[r] === 'fatal' ? SOURCES.runEnds : SOURCES.handlerEstimate;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Presets

const CORE2_HANDLERS = {
  dispatch: 200, msr: 400, cr: 500, exception: 600, io: 1000, interrupt: 1500, shadowPaging: 1000, ept: 3000, emulate: 1500, fatal: 0,
} as const satisfies Record<HandlerClass, number>;

const MODERN_HANDLERS = {
  dispatch: 150, msr: 300, cr: 400, exception: 400, io: 700, interrupt: 1000, shadowPaging: 800, ept: 2000, emulate: 1500, fatal: 0,
} as const satisfies Record<HandlerClass, number>;

const HYPERUPCALL: HyperupcallCosts = { overNative: 250, tracing: 232, guard: 43 };
const HYPERUPCALL_SOURCES = {
  'hyperupcall.overNative': SOURCES.amitWei2018,
  'hyperupcall.tracing': SOURCES.seed003Tracing,
  'hyperupcall.guard': SOURCES.amitWei2018,
};

function freezeModel(m: CostModel): CostModel {
  Object.freeze(m.work);
  Object.freeze(m.hyperupcall);
  Object.freeze(m.sources);
  return Object.freeze(m);
}

/** Named presets. */
export const COST_MODELS = {
  'core2-2007': freezeModel({
    name: 'core2-2007',
    description:
      'The era of seed 004: Core 2 Duo T7200 (Merom, 2.0 GHz) with kvm-12, first-generation VT-x transition latency, device I/O emulated in the QEMU process.',
    cyclesPerInstruction: 1,
    tscHz: 2_000_000_000,
    roundTrip: 2409,
    handler: buildHandlers(CORE2_HANDLERS),
    work: { logRecord: 260, emulateInstruction: 1500, deviceIo: 5000, injectEvent: 100, eptUpdate: 1000, guestMemoryAccess: 300 },
    hyperupcall: { ...HYPERUPCALL },
    sources: {
      roundTrip: SOURCES.core2RoundTrip,
      'roundTrip.reference.prescott': SOURCES.adamsAgesen2006,
      'roundTrip.reference.penryn': SOURCES.penryn2007,
      cyclesPerInstruction: SOURCES.cpiChoice,
      tscHz: SOURCES.tscT7200,
      system: SOURCES.seed004System,
      ...handlerSources(),
      'work.logRecord': SOURCES.seed004Logging,
      'work.emulateInstruction': SOURCES.workEstimate,
      'work.deviceIo': SOURCES.deviceIoCore2,
      'work.injectEvent': SOURCES.workEstimate,
      'work.eptUpdate': SOURCES.workEstimate,
      'work.guestMemoryAccess': SOURCES.workEstimate,
      ...HYPERUPCALL_SOURCES,
    },
  }),
  modern: freezeModel({
    name: 'modern',
    description:
      'A Nehalem-class (2009) server with KVM, EPT and VPID: the 2,000-cycle exit direct cost measured by SplitX on a Xeon X5570 (no more recent published Intel figure was verified), in-kernel device models.',
    cyclesPerInstruction: 1,
    tscHz: 2_930_000_000,
    roundTrip: 2000,
    handler: buildHandlers(MODERN_HANDLERS),
    work: { logRecord: 260, emulateInstruction: 1500, deviceIo: 1000, injectEvent: 100, eptUpdate: 1000, guestMemoryAccess: 300 },
    hyperupcall: { ...HYPERUPCALL },
    sources: {
      roundTrip: SOURCES.splitx2011,
      cyclesPerInstruction: SOURCES.cpiChoice,
      tscHz: SOURCES.tscX5570,
      ...handlerSources(),
      'work.logRecord': SOURCES.seed004Logging,
      'work.emulateInstruction': SOURCES.workEstimate,
      'work.deviceIo': SOURCES.deviceIoModern,
      'work.injectEvent': SOURCES.workEstimate,
      'work.eptUpdate': SOURCES.workEstimate,
      'work.guestMemoryAccess': SOURCES.workEstimate,
      ...HYPERUPCALL_SOURCES,
    },
  }),
} as const;

export type CostModelName = keyof typeof COST_MODELS;
export const COST_MODEL_NAMES = Object.keys(COST_MODELS) as CostModelName[];

/** The preset called `name`; a UserError listing the presets otherwise. */
export function getCostModel(name: string): CostModel {
  if (Object.prototype.hasOwnProperty.call(COST_MODELS, name)) return COST_MODELS[name as CostModelName];
  throw new UserError(`unknown cost model '${name}' (known: ${COST_MODEL_NAMES.join(', ')})`);
}

/**
 * Modelled cost of one VM exit: round trip + the handler cost of `reason` + `extraWork` cycles of hypervisor
 * work (sums of `model.work` entries). Pure; throws RangeError for a reason the SDM does not define.
 */
export function costOfExit(model: CostModel, reason: number, extraWork = 0): number {
  const h = model.handler[reason as ExitReason];
  if (h === undefined) throw new RangeError(`no handler cost for exit reason ${reason}`);
  return model.roundTrip + h + extraWork;
}

/**
 * A copy of `model` with another round-trip figure (for sensitivity sweeps over the exit cost). The copy's
 * name records the change, and its roundTrip source says it is a sweep value.
 */
export function withRoundTrip(model: CostModel, roundTrip: number): CostModel {
  if (!Number.isFinite(roundTrip) || roundTrip < 0) throw new RangeError(`round trip must be a non-negative number of cycles, got ${roundTrip}`);
  return freezeModel({
    ...model,
    name: `${model.name}@rt=${roundTrip}`,
    roundTrip,
    work: { ...model.work },
    hyperupcall: { ...model.hyperupcall },
    sources: {
      ...model.sources,
      roundTrip: { kind: 'model-choice', citation: `sensitivity sweep value replacing ${model.name}'s round trip of ${model.roundTrip} cycles` },
    },
  });
}

/**
 * Every figure of `model` as a flat, key-sorted record (the keys of `model.sources`: 'roundTrip',
 * 'handler.CPUID', 'work.logRecord', ...), for trace metadata and reports.
 */
export function costModelFigures(model: CostModel): Record<string, number> {
  const f: Record<string, number> = {
    roundTrip: model.roundTrip,
    cyclesPerInstruction: model.cyclesPerInstruction,
    tscHz: model.tscHz,
  };
  for (const r of ALL_EXIT_REASONS) f[`handler.${exitReasonKey(r)}`] = model.handler[r];
  for (const [k, v] of Object.entries(model.work)) f[`work.${k}`] = v;
  for (const [k, v] of Object.entries(model.hyperupcall)) f[`hyperupcall.${k}`] = v;
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(f).sort()) sorted[k] = f[k]!;
  return sorted;
}

/** What the machine's run loop needs of a cost model: the modelled cycles of one exit with a basic reason. */
export interface ExitCosts {
  /** Modelled cost in cycles of one exit with this basic reason (round trip + handler). */
  exitCost(reason: number): number;
}

/** The ExitCosts view of `model` the machine takes: round trip + handler per reason, no extra work. */
export function exitCostFunction(model: CostModel): ExitCosts & { readonly name: string } {
  const costs = new Float64Array(128).fill(NaN);
  for (const r of ALL_EXIT_REASONS) costs[r] = model.roundTrip + model.handler[r];
  return {
    name: model.name,
    exitCost(reason: number): number {
      const basic = reason & 0xffff;
      const c = basic < 128 ? costs[basic]! : NaN;
      if (c !== c) throw new RangeError(`no handler cost for exit reason ${reason}`);
      return c;
    },
  };
}
