// Hyperupcalls (seed 003): verified eBPF programs a guest registers with the hypervisor (HC 1, section 3.3),
// bound to hypervisor events and run by the hypervisor in place of a guest round trip (section 3.5).
//
// Registration (registration.ts) reads the block of docs/machine.md from guest memory, bounds the granted region to a share of
// guest memory (2% by default, section 3.1.2), verifies the bytecode with the eBPF verifier (section 3.4),
// compiles it and binds it to its event; the helpers that need the machine are in machineHelpers.ts. Events come from the machine's observer interface: VM exits (any
// or one reason), interrupt injection, packet received (NIC vector injected: the packet is already in the
// guest's posted buffer), timer (timer vector injected), memory pressure (hypervisor-triggered: on the
// guest's power-off write, or by `memoryPressure()`).
//
// Each invocation fills the context (Table 3), runs the program over the granted region (aliasing guest
// memory: writes land in the guest) and charges modelled cycles with machine.chargeWork:
// `steps x cyclesPerInstruction + hyperupcall.overNative` (docs/hyperupcalls.md). Everything a program
// reads or writes is guest state or the exit being handled, so a replay (which re-runs the same
// registration from the same guest code) invokes the same programs with the same results.

import type { Machine } from '../../emulator/machine.js';
import type { CostModel } from '../../emulator/costModel.js';
import type { Hypervisor } from '../Hypervisor.js';
import { Hypercall } from '../Hypervisor.js';
import { ExitWord, IoDirection, type ExitEvent, type InterruptEvent, type IoEvent } from '../../emulator/events.js';
import { POWER_OFF_PORT } from '../../emulator/devices/PowerOff.js';
import type { RunResult } from '../ebpf/interpreter.js';
import type { HelperRegistry } from '../ebpf/helpers.js';
import { toBig } from '../ebpf/u64.js';
import { ANY_EXIT, Ctx, ExitVerdict, HuError, HuEvent, NIC_VECTOR, RegFlag, TIMER_VECTOR } from './abi.js';
import { buildProgram, maxRegionBytes, readRegistration, writeRefusal, type Refusal } from './registration.js';
import { machineHelpers } from './machineHelpers.js';
import {
  DEFAULT_OPTIONS, LIMITS, appendBounded, modelledCycles, runProgram, type Boost, type Engine, type HyperupcallOptions, type HyperupcallProgram,
  type HyperupcallState, type Ipi, type Rejection, type Skip,
} from './program.js';

export * from './program.js';

export class HyperupcallRuntime {
  readonly options: HyperupcallOptions = { ...DEFAULT_OPTIONS };
  readonly programs: HyperupcallProgram[] = [];
  readonly rejections: Rejection[] = [];
  readonly boosts: Boost[] = [];
  /** Pages hint_free_page reported, per memory-pressure event (guest-physical addresses). */
  readonly freePageReports: number[][] = [];
  /** send_vcpu_ipi calls; each queued its vector for injection into the guest (Machine.queueInterrupt). */
  readonly ipis: Ipi[] = [];
  /** Instructions VM-exit programs skipped by their verdict. */
  readonly skips: Skip[] = [];
  readonly traceLog: string[] = [];
  /** Records dropped by the limits (LIMITS), by log name. */
  readonly dropped: Record<string, number> = {};
  /** Records the running program made in this invocation (the per-run limits). */
  private readonly perRun = { trace: 0, ipi: 0, boost: 0 };
  readonly helpers: HelperRegistry;
  /** The exit being handled (for get_exit_info), or null outside a VM-exit event. */
  private exit: ExitEvent | null = null;
  /** Where hint_free_page reports go during a memory-pressure event (machineHelpers.ts). */
  currentFree: number[] | null = null;
  /** The program now running (for the helpers' records). */
  running = -1;
  private byEvent = new Map<number, HyperupcallProgram[]>();

  constructor(readonly machine: Machine, readonly hypervisor: Hypervisor, readonly costModel: CostModel, readonly memBytes: number) {
    this.helpers = machineHelpers(this);
    hypervisor.registerHypercall(Hypercall.hyperupcallRegister, (m) => this.registerFromGuest(m));
  }

  /** Observers are attached on the first registration that needs them: a run without hyperupcalls pays nothing. */
  private subscribed = new Set<string>();
  private need(kind: 'exit' | 'interrupt' | 'io'): void {
    if (this.subscribed.has(kind)) return;
    this.subscribed.add(kind);
    // VM-exit programs run inside the exit's handling (before it is published): their cost is the exit's.
    if (kind === 'exit') this.machine.addExitHook((e) => this.onExit(e));
    else if (kind === 'interrupt') this.machine.subscribe({ onInterrupt: (e) => this.onInterrupt(e) });
    else this.machine.subscribe({ onIo: (e) => this.onIo(e) });
  }

  private drop(log: string, n: number): void {
    if (n > 0) this.dropped[log] = (this.dropped[log] ?? 0) + n;
  }

  /**
   * May the running program add one more record to `log` (the per-run limit)? Appends it, bounded (the
   * helpers in machineHelpers.ts call this; false: the helper returns -1 and records nothing).
   */
  record<K extends 'traceLog' | 'ipis' | 'boosts'>(log: K, item: HyperupcallRuntime[K][number]): boolean {
    if (!this.allows(log)) return false;
    this.perRun[log === 'traceLog' ? 'trace' : log === 'ipis' ? 'ipi' : 'boost']++;
    const total = log === 'traceLog' ? LIMITS.traceLines : log === 'ipis' ? LIMITS.ipis : LIMITS.boosts;
    this.drop(log, appendBounded(this[log] as Array<typeof item>, item, total));
    return true;
  }

  /** Is the running program still within its per-run limit for `log`? */
  allows(log: 'traceLog' | 'ipis' | 'boosts'): boolean {
    if (log === 'traceLog') return this.perRun.trace < LIMITS.traceLinesPerRun;
    return log === 'ipis' ? this.perRun.ipi < LIMITS.ipisPerRun : this.perRun.boost < LIMITS.boostsPerRun;
  }

  /** Largest granted region in bytes under the configured share. */
  get maxRegionBytes(): number {
    return maxRegionBytes(this);
  }

  get programCount(): number {
    return this.programs.length;
  }

  /** The exit being handled, for the helpers (null outside a VM-exit event). */
  get currentExit(): ExitEvent | null {
    return this.exit;
  }

  // ---- registration (seed 003 3.3; registration.ts) ---------------------------------------------------------

  private registerFromGuest(m: Machine): void {
    const cpu = m.cpu;
    const blockGpa = toBig(cpu.lo[3]!, cpu.hi[3]!);
    const r = this.register(blockGpa);
    cpu.lo[0] = r | 0;
    cpu.hi[0] = r < 0 ? -1 : 0;
  }

  /** Register the block at guest-physical `blockGpa`: returns the program id or a negative HuError. */
  register(blockGpa: bigint): number {
    const block = readRegistration(this, blockGpa);
    let refusal: Refusal;
    if ('code' in block) refusal = block;
    else {
      const built = buildProgram(this, block.registration, this.programs.length, this.machine.cpu.icount, this.machine.exitCount);
      if (typeof built !== 'string') {
        this.bind(built);
        return built.id;
      }
      refusal = { code: HuError.rejected, message: built, errGpa: block.errGpa, errLen: block.errLen };
    }
    this.drop('rejections', appendBounded(this.rejections, { icount: this.machine.cpu.icount, code: refusal.code, message: refusal.message }, LIMITS.rejections));
    writeRefusal(this, refusal);
    return refusal.code;
  }

  /** Add a built program to the registry, bind it to its event and attach the observer that event needs. */
  private bind(p: HyperupcallProgram): void {
    this.programs.push(p);
    const list = this.byEvent.get(p.event) ?? [];
    list.push(p);
    this.byEvent.set(p.event, list);
    if (p.event === HuEvent.vmExit) this.need('exit');
    else if (p.event === HuEvent.memoryPressure) this.need('io');
    else this.need('interrupt');
  }

  // ---- checkpoints -----------------------------------------------------------------------------------------

  /** Nothing registered, rejected or recorded yet (a checkpoint then carries no hyperupcall state). */
  get empty(): boolean {
    return this.programs.length === 0 && this.rejections.length === 0 && this.boosts.length === 0 && this.freePageReports.length === 0
      && this.ipis.length === 0 && this.skips.length === 0 && this.traceLog.length === 0;
  }

  /** The registry and its records as plain data (between instructions: no event is being handled). */
  saveState(): HyperupcallState {
    return {
      programs: this.programs.map((p) => ({
        id: p.id, event: p.event, exitReason: p.exitReason, flags: p.flags, memGpa: p.memGpa, memLen: p.memLen,
        env: p.env.map((x) => x.toString()), bytes: p.bytes.slice(), registeredAt: p.registeredAt, firstExit: p.firstExit,
        stats: { ...p.stats, lastValue: p.stats.lastValue.toString() }, ctx: p.ctx.slice(),
      })),
      rejections: this.rejections.map((x) => ({ ...x })),
      boosts: this.boosts.map((x) => ({ ...x })),
      freePageReports: this.freePageReports.map((x) => x.slice()),
      ipis: this.ipis.map((x) => ({ ...x })),
      skips: this.skips.map((x) => ({ ...x })),
      traceLog: this.traceLog.slice(),
      observers: [...this.subscribed],
      ...(Object.keys(this.dropped).length > 0 ? { dropped: { ...this.dropped } } : {}),
    };
  }

  /**
   * Bring a fresh runtime (nothing registered) to a checkpoint's state: each program rebuilt from its
   * registration as registration builds it, then its counters and context; the records; and the observers
   * and exit hook registration attaches, in the same order.
   */
  restoreState(s: HyperupcallState): void {
    if (!this.empty || this.subscribed.size > 0) throw new Error('hyperupcall state can only be restored into a fresh runtime');
    // The observers registration attached, in its order (bind's own need() calls then find them attached).
    for (const kind of s.observers) {
      if (kind !== 'exit' && kind !== 'interrupt' && kind !== 'io') throw new Error(`checkpoint: unknown hyperupcall observer ${kind}`);
      this.need(kind);
    }
    for (const sp of s.programs) {
      if (sp.id !== this.programs.length) throw new Error(`checkpoint: hyperupcall program ${sp.id} out of order`);
      const env = sp.env.map((x) => BigInt(x));
      const built = buildProgram(this, {
        event: sp.event, exitReason: sp.exitReason, flags: sp.flags, memGpa: sp.memGpa, memLen: sp.memLen, env, bytes: Uint8Array.from(sp.bytes),
      }, sp.id, sp.registeredAt, sp.firstExit);
      if (typeof built === 'string') throw new Error(`checkpoint: hyperupcall program ${sp.id} no longer builds: ${built}`);
      if (sp.ctx.length !== built.ctx.length) throw new Error(`checkpoint: hyperupcall program ${sp.id} has a context of ${sp.ctx.length} bytes, want ${built.ctx.length}`);
      built.ctx.set(sp.ctx);
      Object.assign(built.stats, { ...sp.stats, lastValue: BigInt(sp.stats.lastValue) });
      this.bind(built);
    }
    this.rejections.push(...s.rejections.map((x) => ({ ...x })));
    this.boosts.push(...s.boosts.map((x) => ({ ...x })));
    this.freePageReports.push(...s.freePageReports.map((x) => x.slice()));
    this.ipis.push(...s.ipis.map((x) => ({ ...x })));
    this.skips.push(...s.skips.map((x) => ({ ...x })));
    this.traceLog.push(...s.traceLog);
    Object.assign(this.dropped, s.dropped ?? {});
  }

  // ---- events ----------------------------------------------------------------------------------------------

  private onExit(e: ExitEvent): void {
    const list = this.byEvent.get(HuEvent.vmExit);
    if (list === undefined) return;
    const w = e.words;
    this.exit = e;
    try {
      for (const p of list) {
        if (e.seq < p.firstExit || (p.exitReason !== ANY_EXIT && p.exitReason !== e.reason)) continue;
        const cv = p.ctxView;
        cv.setUint32(Ctx.exitReason, e.reason, true);
        cv.setUint32(Ctx.qualification, w[ExitWord.qualification]!, true);
        cv.setUint32(Ctx.qualification + 4, w[ExitWord.qualification + 1]!, true);
        cv.setUint32(Ctx.rip, w[ExitWord.rip]!, true);
        cv.setUint32(Ctx.rip + 4, w[ExitWord.rip + 1]!, true);
        cv.setBigUint64(Ctx.exitSeq, BigInt(e.seq), true);
        this.invoke(p, e.icount, 0, 0);
        // The verdict (docs/hyperupcalls.md "Verdicts"): r0 = 1 on an instruction's exit completes the
        // instruction without its effect; the first program that skips decides, later ones still run.
        if (p.stats.lastRunOk && p.stats.lastValue === BigInt(ExitVerdict.skip) && (this.skips.length === 0 || this.skips.at(-1)!.seq !== e.seq)) {
          if (this.machine.skipInstruction()) this.drop('skips', appendBounded(this.skips, { icount: e.icount, seq: e.seq, reason: e.reason, program: p.id }, LIMITS.skips));
        }
      }
    } finally {
      this.exit = null;
    }
  }

  private onInterrupt(e: InterruptEvent): void {
    this.fireList(HuEvent.interruptInjection, e.icount, e.vector, 0);
    if (e.vector === NIC_VECTOR) this.fireList(HuEvent.packetReceived, e.icount, e.vector, 0);
    else if (e.vector === TIMER_VECTOR) this.fireList(HuEvent.timer, e.icount, e.vector, 0);
  }

  private onIo(e: IoEvent): void {
    if (e.direction === IoDirection.out && e.port === POWER_OFF_PORT && this.options.pressureAtPowerOff && this.byEvent.has(HuEvent.memoryPressure)) this.memoryPressure(0);
  }

  /**
   * The hypervisor asks the guest's logic for memory (seed 003 2: instead of ballooning, "scan the guest for
   * free pages directly"): runs every memory-pressure program; returns the pages hint_free_page reported.
   */
  memoryPressure(pagesWanted: number): number[] {
    const found: number[] = [];
    this.currentFree = found;
    try {
      this.fireList(HuEvent.memoryPressure, this.machine.cpu.icount, pagesWanted, 0);
    } finally {
      this.currentFree = null;
    }
    this.freePageReports.push(found);
    return found;
  }

  private fireList(event: number, icount: number, arg0: number, arg1: number): void {
    const list = this.byEvent.get(event);
    if (list === undefined) return;
    for (const p of list) {
      p.ctxView.setUint32(Ctx.exitReason, 0, true);
      p.ctxView.setBigUint64(Ctx.qualification, 0n, true);
      const rip = this.machine.cpu.rip;
      p.ctxView.setBigUint64(Ctx.rip, BigInt.asUintN(64, BigInt(rip)), true);
      this.invoke(p, icount, arg0, arg1);
    }
  }

  /** Run one program; returns the modelled cycles charged. */
  private invoke(p: HyperupcallProgram, icount: number, arg0: number, arg1: number): number {
    const cv = p.ctxView;
    cv.setBigUint64(Ctx.icount, BigInt(icount), true);
    cv.setBigUint64(Ctx.arg0, BigInt(arg0 >>> 0 === arg0 ? arg0 : Math.max(0, Math.floor(arg0))), true);
    cv.setBigUint64(Ctx.arg1, BigInt(arg1 >>> 0 === arg1 ? arg1 : Math.max(0, Math.floor(arg1))), true);
    this.running = p.id;
    this.perRun.trace = this.perRun.ipi = this.perRun.boost = 0;
    const budget = (p.flags & RegFlag.local) !== 0 ? this.options.localBudget : this.options.globalBudget;
    let r: RunResult;
    try {
      r = runProgram(p, this.helpers, this.options.engine, budget);
    } finally {
      this.running = -1;
    }
    const s = p.stats;
    s.lastRunOk = r.ok;
    s.invocations++;
    // A faulted run is charged what it executed up to the fault (helper work included), like one that ends:
    // the guest pays for the host work it causes whichever way its program ends.
    const steps = Math.min(Math.max(r.steps, 0), budget);
    if (r.ok) s.lastValue = r.value;
    else {
      s.faults++;
      s.lastFault = r.error;
    }
    s.steps += steps;
    const c = modelledCycles(this.costModel, steps);
    s.cycles += c;
    this.machine.chargeWork(c);
    return c;
  }

  /**
   * Run program `p` `iterations` times over its current context and memory, outside any event (for the
   * analysis, which times it; never called during a recorded run). Free-page hints go to a scratch list.
   */
  runScratch(p: HyperupcallProgram, engine: Engine, iterations: number): void {
    const budget = (p.flags & RegFlag.local) !== 0 ? this.options.localBudget : this.options.globalBudget;
    this.currentFree = [];
    try {
      for (let i = 0; i < iterations; i++) {
        if (this.currentFree.length > 100_000) this.currentFree.length = 0;
        runProgram(p, this.helpers, engine, budget);
      }
    } finally {
      this.currentFree = null;
    }
  }
}

/** Attach the hyperupcall runtime to an assembled machine (the session keeps it as `hyperupcalls`). */
export function installHyperupcalls(a: { machine: Machine; hypervisor: Hypervisor; costModel: CostModel; workload: { memBytes: number } }): HyperupcallRuntime {
  return new HyperupcallRuntime(a.machine, a.hypervisor, a.costModel, a.workload.memBytes);
}
