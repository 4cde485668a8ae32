// Hyperupcalls (seed 003): verified eBPF programs a guest registers with the hypervisor (HC 1, section 3.3),
// bound to hypervisor events and run by the hypervisor in place of a guest round trip (section 3.5).
//
// Registration reads the block of docs/machine.md from guest memory, bounds the granted region to a share of
// guest memory (2% by default, section 3.1.2), verifies the bytecode with the eBPF verifier (section 3.4),
// compiles it and binds it to its event. Events come from the machine's observer interface: VM exits (any
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
import { ExitWord, IoDirection, type ExitEvent, type InterruptEvent, type IoEvent } from '../events.js';
import { decode, type Insn } from '../ebpf/isa.js';
import { verify, type VerifierOptions } from '../ebpf/verifier.js';
import { compile, type CompiledProgram } from '../ebpf/compiler.js';
import { interpret, predecode, type Decoded, type RunResult } from '../ebpf/interpreter.js';
import { EbpfFault, Memory, RegionTag, address } from '../ebpf/Memory.js';
import { HelperId, hyperupcallHelpers, type HelperRegistry } from '../ebpf/helpers.js';
import { toBig } from '../ebpf/u64.js';
import {
  ANY_EXIT, CTX_BYTES, Ctx, ENV_COUNT, EVENT_NAMES, ExitInfo, ExitVerdict, ExtraHelperId, HuError, HuEvent, NIC_VECTOR, REG_BYTES,
  REG_MAGIC, Reg, RegFlag, TIMER_VECTOR, VcpuReg,
} from './abi.js';

export type Engine = 'compiled' | 'interpreter';

export interface HyperupcallOptions {
  /** Largest granted region as a fraction of guest memory (seed 003 3.1.2: 2%, configurable). */
  share: number;
  /** How programs run: compiled to JS (the default, "compiled back to native code", 3.1) or interpreted. */
  engine: Engine;
  /** Most programs registered at once. */
  maxPrograms: number;
  /** Run-time instruction budget of a local (looping) program. */
  localBudget: number;
  /** Run-time instruction budget of a global (loop-free, verified-bounded) program. */
  globalBudget: number;
  /** Fire the memory-pressure event when the guest writes the power-off port. */
  pressureAtPowerOff: boolean;
}

export const DEFAULT_OPTIONS: HyperupcallOptions = {
  share: 0.02, engine: 'compiled', maxPrograms: 16, localBudget: 4_000_000, globalBudget: 100_000, pressureAtPowerOff: true,
};

export interface ProgramStats {
  invocations: number;
  /** eBPF instructions executed, all invocations. */
  steps: number;
  /** Modelled cycles charged, all invocations. */
  cycles: number;
  faults: number;
  lastFault: string;
  lastValue: bigint;
  /** Whether the last invocation ended normally (its lastValue is that run's r0). */
  lastRunOk: boolean;
}

/** The fields of a registration block a program is built from (docs/machine.md), already bounds-checked. */
export interface Registration {
  event: number;
  exitReason: number;
  flags: number;
  /** Guest-physical base and length of its memory (all of guest memory for a local program). */
  memGpa: number;
  memLen: number;
  env: bigint[];
  /** The bytecode as registered. */
  bytes: Uint8Array;
}

export interface HyperupcallProgram extends Registration {
  id: number;
  insns: Insn[];
  verifyProcessed: number;
  /** The options it was verified with (the analysis re-verifies to time the verifier). */
  verifierOptions: VerifierOptions;
  compiled: CompiledProgram;
  decoded: Decoded;
  memory: Memory;
  ctx: Uint8Array;
  ctxView: DataView;
  stats: ProgramStats;
  /** icount of the registration. */
  registeredAt: number;
  /** First exit sequence number the program sees: the exits after its registration's own VMCALL. */
  firstExit: number;
}

export interface Rejection {
  icount: number;
  code: number;
  message: string;
}

/** An instruction a VM-exit program's verdict skipped (r0 = ExitVerdict.skip): the guard use case. */
export interface Skip {
  icount: number;
  /** Exit sequence number and basic reason. */
  seq: number;
  reason: number;
  program: number;
}

/** One send_vcpu_ipi call: the vector queued for injection (Machine.queueInterrupt) at this icount. */
export interface Ipi {
  vector: number;
  icount: number;
  program: number;
}

/** One priority_boost call (seed 003 4.2: cpu.weight 10 -> 100 for 100 ms). */
export interface Boost {
  icount: number;
  weight: number;
  durationUs: number;
}

/**
 * One registered program in a checkpoint: its registration (rebuilt on load: decoded, verified with the same
 * options, compiled; its memory is a view of guest memory, which the checkpoint restores), its counters and
 * its context buffer. Plain data for msgpackr: 64-bit values as decimal strings.
 */
export interface SavedProgram extends Omit<Registration, 'env'> {
  id: number;
  env: string[];
  registeredAt: number;
  firstExit: number;
  stats: Omit<ProgramStats, 'lastValue'> & { lastValue: string };
  /** The context as the last invocation left it (the fields an event does not set keep their values). */
  ctx: Uint8Array;
}

/** The hyperupcall runtime's state in a checkpoint (HyperupcallRuntime.saveState / restoreState). */
export interface HyperupcallState {
  programs: SavedProgram[];
  rejections: Rejection[];
  boosts: Boost[];
  freePageReports: number[][];
  ipis: Ipi[];
  skips: Skip[];
  traceLog: string[];
  /** Observer kinds attached, in attachment order. */
  observers: string[];
}

const TWO32 = 4294967296;

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
  readonly helpers: HelperRegistry;
  /** The exit being handled (for get_exit_info), or null outside a VM-exit event. */
  private exit: ExitEvent | null = null;
  private currentFree: number[] | null = null;
  /** The program now running (for the helpers' records). */
  private running = -1;
  private byEvent = new Map<number, HyperupcallProgram[]>();

  constructor(readonly machine: Machine, readonly hypervisor: Hypervisor, readonly costModel: CostModel, readonly memBytes: number) {
    this.helpers = this.makeHelpers();
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

  /** Largest granted region in bytes under the configured share. */
  get maxRegionBytes(): number {
    return Math.floor(this.memBytes * this.options.share);
  }

  // ---- registration (seed 003 3.3) -------------------------------------------------------------------------

  private registerFromGuest(m: Machine): void {
    const cpu = m.cpu;
    const blockGpa = toBig(cpu.lo[3]!, cpu.hi[3]!);
    const r = this.register(blockGpa);
    cpu.lo[0] = r | 0;
    cpu.hi[0] = r < 0 ? -1 : 0;
  }

  /** Register the block at guest-physical `blockGpa`: returns the program id or a negative HuError. */
  register(blockGpa: bigint): number {
    const u8 = this.machine.cpu.mmu.u8;
    const reject = (code: number, message: string, errGpa = 0, errLen = 0): number => {
      this.rejections.push({ icount: this.machine.cpu.icount, code, message });
      if (errGpa > 0 && errLen > 0 && errGpa + errLen <= this.memBytes) {
        const msg = Buffer.from(message.slice(0, errLen - 1), 'latin1');
        const out = new Uint8Array(Math.min(errLen, msg.length + 1));
        out.set(msg.subarray(0, out.length - 1));
        this.machine.cpu.mmu.writePhys(errGpa, out);
      }
      return code;
    };
    if (blockGpa + BigInt(REG_BYTES) > BigInt(this.memBytes)) {
      return reject(HuError.fault, `registration block at 0x${blockGpa.toString(16)} is outside guest memory`);
    }
    const b = Number(blockGpa);
    const dv = new DataView(u8.buffer, u8.byteOffset + b, REG_BYTES);
    const q = (o: number): number => {
      const v = dv.getBigUint64(o, true);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
    };
    const errGpa = q(Reg.errGpa);
    const errLen = Math.min(q(Reg.errLen), 4096);
    const fail = (code: number, message: string): number => reject(code, message, errGpa, errLen);
    if (dv.getUint32(Reg.magic, true) !== REG_MAGIC) return fail(HuError.invalid, 'registration block: bad magic (want "HUP1")');
    const event = dv.getUint32(Reg.event, true);
    if (EVENT_NAMES[event] === undefined) return fail(HuError.invalid, `registration block: unknown event ${event}`);
    const exitReason = dv.getUint32(Reg.exitReason, true);
    const flags = dv.getUint32(Reg.flags, true);
    if ((flags & ~RegFlag.local) !== 0) return fail(HuError.invalid, `registration block: unknown flags 0x${flags.toString(16)}`);
    const codeGpa = q(Reg.codeGpa);
    const codeLen = q(Reg.codeLen);
    if (codeLen === 0 || codeLen % 8 !== 0) return fail(HuError.invalid, `bytecode length ${codeLen} is not a positive multiple of 8`);
    if (codeGpa + codeLen > this.memBytes) return fail(HuError.fault, `bytecode at 0x${codeGpa.toString(16)}+${codeLen} is outside guest memory`);
    const local = (flags & RegFlag.local) !== 0;
    let memGpa = q(Reg.memGpa);
    let memLen = q(Reg.memLen);
    if (local) {
      memGpa = 0;
      memLen = this.memBytes;
    } else {
      if (memGpa + memLen > this.memBytes) return fail(HuError.fault, `granted region 0x${memGpa.toString(16)}+${memLen} is outside guest memory`);
      if (memLen > this.maxRegionBytes) {
        return fail(HuError.tooBig, `granted region of ${memLen} bytes exceeds ${(this.options.share * 100).toFixed(1)}% of guest memory (${this.maxRegionBytes} bytes)`);
      }
    }
    if (this.programs.length >= this.options.maxPrograms) return fail(HuError.noSpace, `at most ${this.options.maxPrograms} hyperupcalls`);
    const env: bigint[] = [];
    for (let i = 0; i < ENV_COUNT; i++) env.push(dv.getBigUint64(Reg.env + i * 8, true));
    const bytes = u8.slice(codeGpa, codeGpa + codeLen);
    const built = this.build({ event, exitReason, flags, memGpa, memLen, env, bytes }, this.machine.cpu.icount, this.machine.exitCount);
    if (typeof built === 'string') return fail(HuError.rejected, built);
    this.bind(built);
    return built.id;
  }

  /**
   * Decode, verify and compile a registration (the block's fields, already checked) into the next program, or
   * return why it is rejected. The same for a registration from the guest and for one restored from a
   * checkpoint (restoreState), so both verify with the same options and compile the same code.
   */
  private build(r: Registration, registeredAt: number, firstExit: number): HyperupcallProgram | string {
    const { event, exitReason, flags, memGpa, memLen, env, bytes } = r;
    const u8 = this.machine.cpu.mmu.u8;
    const local = (flags & RegFlag.local) !== 0;
    let insns: Insn[];
    try {
      insns = decode(bytes);
    } catch (e) {
      return `bytecode does not decode: ${(e as Error).message}`;
    }
    const vopts: VerifierOptions = {
      helpers: this.helpers,
      allowLoops: local,
      regions: { mem: { size: memLen, writable: !local }, ctx: { size: CTX_BYTES, writable: false } },
      args: [{ kind: 'ptr', region: 'ctx' }, { kind: 'ptr', region: 'mem' }],
    };
    const v = verify(insns, vopts);
    if (!v.ok) return `verifier: ${v.message}`;
    const ctx = new Uint8Array(CTX_BYTES);
    const memory = Memory.standard({ mem: u8.subarray(memGpa, memGpa + memLen), memWritable: !local, ctx, ctxWritable: false });
    const p: HyperupcallProgram = {
      id: this.programs.length, event, exitReason, flags, memGpa, memLen, env, insns, bytes, verifyProcessed: v.processed, verifierOptions: vopts,
      compiled: compile(insns), decoded: predecode(insns), memory, ctx, ctxView: new DataView(ctx.buffer),
      stats: { invocations: 0, steps: 0, cycles: 0, faults: 0, lastFault: '', lastValue: 0n, lastRunOk: false }, registeredAt,
      firstExit,
    };
    const cv = p.ctxView;
    cv.setUint32(Ctx.event, event, true);
    cv.setBigUint64(Ctx.guestMask, BigInt(pow2Mask(this.memBytes)), true);
    cv.setBigUint64(Ctx.memLen, BigInt(memLen), true);
    cv.setBigUint64(Ctx.memGpa, BigInt(memGpa), true);
    env.forEach((x, i) => cv.setBigUint64(Ctx.env + i * 8, x, true));
    return p;
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
      const built = this.build({
        event: sp.event, exitReason: sp.exitReason, flags: sp.flags, memGpa: sp.memGpa, memLen: sp.memLen, env, bytes: Uint8Array.from(sp.bytes),
      }, sp.registeredAt, sp.firstExit);
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
          if (this.machine.skipInstruction()) this.skips.push({ icount: e.icount, seq: e.seq, reason: e.reason, program: p.id });
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
    if (e.direction === IoDirection.out && e.port === 0x500 && this.options.pressureAtPowerOff && this.byEvent.has(HuEvent.memoryPressure)) this.memoryPressure(0);
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
    let r: RunResult;
    try {
      r = runProgram(p, this.helpers, this.options.engine, (p.flags & RegFlag.local) !== 0 ? this.options.localBudget : this.options.globalBudget);
    } finally {
      this.running = -1;
    }
    const s = p.stats;
    s.lastRunOk = r.ok;
    s.invocations++;
    let steps = 0;
    if (r.ok) {
      steps = r.steps;
      s.lastValue = r.value;
    } else {
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

  // ---- helpers needing the machine (seed 003 Table 2) --------------------------------------------------------

  private makeHelpers(): HelperRegistry {
    const reg = hyperupcallHelpers({ traceLog: this.traceLog });
    const cpu = () => this.machine.cpu;
    const MINUS1 = (1n << 64n) - 1n;
    reg.implement(HelperId.GET_VCPU_REGISTER, ({ args }) => {
      if (args[1] !== 0n) return MINUS1;
      const c = cpu();
      const n = Number(args[2] & 0xffn);
      if (args[2] < 16n) return toBig(c.lo[n]!, c.hi[n]!);
      switch (Number(args[2] > 255n ? 255n : args[2])) {
        case VcpuReg.rip: return BigInt.asUintN(64, BigInt(this.exit !== null ? ripOf(this.exit) : c.rip));
        case VcpuReg.rflags: return BigInt(c.getRflags() >>> 0);
        case VcpuReg.cr0: return BigInt(c.cr0 >>> 0);
        case VcpuReg.cr3: return BigInt(c.cr3);
        case VcpuReg.cr4: return BigInt(c.cr4 >>> 0);
        default: return MINUS1;
      }
    });
    reg.implement(HelperId.SET_VCPU_REGISTER, ({ args }) => {
      if (args[1] !== 0n || args[2] >= 16n) return MINUS1;
      const c = cpu();
      const n = Number(args[2]);
      c.lo[n] = Number(args[3] & 0xffffffffn) | 0;
      c.hi[n] = Number(args[3] >> 32n) | 0;
      return 0n;
    });
    reg.implement(HelperId.SEND_VCPU_IPI, ({ args }) => {
      // Delivered: the vector is queued at the machine and injected at the next VM entry at which the guest
      // can take an interrupt (Machine.queueInterrupt; visible in interrupts.arrow like every injection).
      if (args[1] !== 0n || args[2] < 32n || args[2] > 255n) return MINUS1;
      const vector = Number(args[2]);
      if (!this.machine.queueInterrupt(vector)) return MINUS1;
      this.ipis.push({ vector, icount: cpu().icount, program: this.running });
      return 0n;
    });
    reg.implement(HelperId.FLUSH_TLB_VCPU, ({ args }) => {
      if (args[1] !== 0n) return MINUS1;
      cpu().mmu.flushTlb();
      return 0n;
    });
    reg.implement(HelperId.GET_EXIT_INFO, ({ args }) => {
      const e = this.exit;
      if (e === null) return MINUS1;
      const w = e.words;
      switch (Number(args[1] > 255n ? 255n : args[1])) {
        case ExitInfo.reason: return BigInt(e.reason);
        case ExitInfo.qualification: return toBig(w[ExitWord.qualification]!, w[ExitWord.qualification + 1]!);
        case ExitInfo.instructionLength: return BigInt(e.instructionLength);
        case ExitInfo.guestLinear: return toBig(w[ExitWord.guestLinear]!, w[ExitWord.guestLinear + 1]!);
        case ExitInfo.guestPhysical: return toBig(w[ExitWord.guestPhysical]!, w[ExitWord.guestPhysical + 1]!);
        case ExitInfo.interruptionInfo: return BigInt(e.interruptionInfo >>> 0);
        case ExitInfo.seq: return BigInt(e.seq);
        case ExitInfo.icount: return BigInt(e.icount);
        default: return MINUS1;
      }
    });
    reg.implement(HelperId.PRIORITY_BOOST, ({ args }) => {
      const weight = Number(args[1] > 10000n ? 10000n : args[1]);
      const us = Number(args[2] > 10_000_000n ? 10_000_000n : args[2]);
      this.boosts.push({ icount: cpu().icount, weight, durationUs: us });
      return 0n;
    });
    reg.register({
      id: ExtraHelperId.HINT_FREE_PAGE, name: 'hint_free_page', args: [{ kind: 'ctx' }, { kind: 'scalar' }],
      description: 'report a free guest page (guest-physical address) to the hypervisor',
      impl: ({ args }) => {
        if (this.currentFree === null) throw new EbpfFault('hint_free_page outside a memory-pressure event');
        if ((args[1] & 0xfffn) !== 0n || args[1] >= BigInt(this.memBytes)) return MINUS1;
        this.currentFree.push(Number(args[1]));
        return 0n;
      },
    });
    return reg;
  }
}

function ripOf(e: ExitEvent): number {
  return e.words[ExitWord.rip]! + e.words[ExitWord.rip + 1]! * TWO32;
}

function pow2Mask(n: number): number {
  let m = 1;
  while (m < n) m *= 2;
  return m - 1;
}

/** Modelled cycles of one invocation (docs/hyperupcalls.md): the instructions as native code plus the published overhead. */
export function modelledCycles(model: CostModel, steps: number): number {
  return steps * model.cyclesPerInstruction + model.hyperupcall.overNative;
}

/** Run a registered program with its context and memory as they are now. */
export function runProgram(p: HyperupcallProgram, helpers: HelperRegistry, engine: Engine, maxSteps: number): RunResult {
  const args = [address(RegionTag.CTX, 0), address(RegionTag.MEM, 0)];
  return engine === 'compiled'
    ? p.compiled.run({ memory: p.memory, args, helpers, maxSteps })
    : interpret(p.decoded, { memory: p.memory, args, helpers, maxSteps });
}

const runtimes = new WeakMap<Hypervisor, HyperupcallRuntime>();

/** Attach the hyperupcall runtime to an assembled machine (src/replay/Session.ts calls this). */
export function installHyperupcalls(a: { machine: Machine; hypervisor: Hypervisor; costModel: CostModel; workload: { memBytes: number } }): HyperupcallRuntime {
  const rt = new HyperupcallRuntime(a.machine, a.hypervisor, a.costModel, a.workload.memBytes);
  runtimes.set(a.hypervisor, rt);
  return rt;
}

/** The runtime of an assembled session's hypervisor. */
export function hyperupcallsOf(h: Hypervisor): HyperupcallRuntime {
  const rt = runtimes.get(h);
  if (rt === undefined) throw new Error('no hyperupcall runtime installed on this hypervisor');
  return rt;
}
