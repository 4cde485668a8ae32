// The x86-64 CPU: architectural state of 64-bit long mode and the run loop.
//
// Value representation (measured; see shared/notes/emulator.md): each 64-bit GPR is two int32 words in
// `lo` / `hi` Int32Arrays. BigInt on the hot path was about 2x slower than int32 pairs, and doubles cannot
// hold 64 bits. RIP and other code addresses are canonical addresses held as signed JS numbers (bits 63:47
// are copies of bit 47, so every canonical address is an integer of magnitude < 2^47, exact in a double).
//
// The loop (Blink / v86 style): fetch the decoded block for RIP (decoded once by iced-x86, cached per
// physical page), run its ops through their shared-signature handlers, and check asynchronous events once
// per block. Exceptions are thrown as one preallocated object and delivered here.

import { Access, Mmu } from './Mmu.js';
import { CpuFault, Vector, hasErrorCode } from './faults.js';
import { F, K_EAGER, getArith, type LazyFlags } from './flags.js';
import type { Op } from './Op.js';
import { DecodeCache, type Block } from './decodeCache.js';
import { deliverEvent } from './interrupts.js';
import { JIT_THRESHOLD, compileBlock } from './jit.js';
import { Cr0, Cr4, Efer, Exitable, Msr, Stop, isCanonical } from './arch.js';
import { defaultCpuid } from './cpuModel.js';

export { Cr0, Cr4, Efer, Exitable, Msr, Stop, isCanonical } from './arch.js';



/**
 * Hooks for the VMX layer. A hook that returns true has handled the instruction (a VM exit happened and
 * the VMM emulated it): the CPU does not execute it, and resumes at cpu.rip, which the VMM set (normally
 * op.next). If the VMM leaves cpu.rip at op.addr the instruction is retried and does not retire.
 */
export interface CpuHooks {
  instruction(cpu: Cpu, kind: Exitable, op: Op): boolean;
  /**
   * Before an exception is delivered; true if the VMM took it (exception-bitmap exit). `fromInstruction`:
   * raised by INT3 or INT1 themselves (their exit interruption type is a software exception, SDM 28.2.2).
   */
  exception(cpu: Cpu, vector: number, errorCode: number, hasError: boolean, op: Op | null, fromInstruction: boolean): boolean;
  /** An access violated EPT permissions (info in cpu.mmu.eptViolation). The instruction will be retried. */
  eptViolation(cpu: Cpu, op: Op): void;
}

/** Port I/O as the CPU sees it when no VMM intercepts (the machine's I/O bus). */
export interface PortIo {
  portIn(port: number, size: number): number;
  portOut(port: number, size: number, value: number): void;
}

export interface CpuOptions {
  memoryBytes: number;
  /** CPUID results: key = leaf * 65536 + subleaf (subleaf 0 for leaves without one). */
  cpuid?: Map<number, [number, number, number, number]>;
  /** Guest TSC cycles per retired instruction (guest time derives from icount only). */
  cyclesPerInstruction?: number;
}



/** A 64-bit value held as two int32 words. */
export interface Pair { lo: number; hi: number }

/** Consecutive exceptions at one icount after which run() gives up with Stop.noProgress. */
const MAX_EVENTS_WITHOUT_PROGRESS = 100_000;

export class Cpu implements LazyFlags {
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  /** Canonical linear address of the next instruction (signed number). */
  rip = 0;

  // Lazy arithmetic flags (see flags.ts).
  fk = K_EAGER;
  fsz = 0;
  fd = 0;
  fdh = 0;
  fs = 0;
  fsh = 0;
  fr = 0;
  frh = 0;
  fx = 0;
  /** RFLAGS without the six arithmetic flags (bit 1 always set). */
  flagsOther = 2;

  // Segments: selectors; in 64-bit mode only FS/GS have bases (SDM 3.4.4).
  cs = 0x08;
  ss = 0x10;
  ds = 0x10;
  es = 0x10;
  fsSel = 0x10;
  gsSel = 0x10;
  fsBaseLo = 0;
  fsBaseHi = 0;
  gsBaseLo = 0;
  gsBaseHi = 0;
  kernelGsBaseLo = 0;
  kernelGsBaseHi = 0;
  cpl = 0;

  cr0 = Cr0.PE | Cr0.MP | Cr0.ET | Cr0.WP | Cr0.PG;
  cr2Lo = 0;
  cr2Hi = 0;
  cr3 = 0;
  cr4 = Cr4.PAE;
  cr8 = 0;
  efer = Efer.LME | Efer.LMA | Efer.NXE;

  gdtrBaseLo = 0;
  gdtrBaseHi = 0;
  gdtrLimit = 0;
  idtrBaseLo = 0;
  idtrBaseHi = 0;
  idtrLimit = 0;
  tr = 0;
  trBaseLo = 0;
  trBaseHi = 0;
  trLimit = 0;
  ldtr = 0;

  star: Pair = { lo: 0, hi: 0 };
  lstar: Pair = { lo: 0, hi: 0 };
  cstar: Pair = { lo: 0, hi: 0 };
  fmask = 0;
  tscAux = 0;
  /** The value of the last successful readMsr (a reused pair: no allocation per RDMSR). */
  msrLo = 0;
  msrHi = 0;
  apicBase: Pair = { lo: 0xfee00900 | 0, hi: 0 };
  /** Debug registers DR0-DR3 (lo/hi words), DR6, DR7 (ops/debugRegisters.ts; reset values SDM 17.2). */
  readonly drLo = new Int32Array(4);
  readonly drHi = new Int32Array(4);
  dr6 = 0xffff0ff0 | 0;
  dr7 = 0x400;

  // Model-specific registers of the Linux CPU model (cpuModel.ts; SDM vol. 4 table 2-2 and 2-20).
  /** IA32_FEATURE_CONTROL (0x3a): bit 0 locks it until reset. */
  featureControl = 0;
  /** IA32_MISC_ENABLE (0x1a0): bit 0 fast strings enabled (QEMU's default for an Intel vCPU). */
  miscEnable = 1;
  sysenterCs = 0;
  sysenterEsp: Pair = { lo: 0, hi: 0 };
  sysenterEip: Pair = { lo: 0, hi: 0 };
  /** TSC = icount * cyclesPerInstruction + tscOffset (a WRMSR to IA32_TSC moves the offset). */
  tscOffset = 0;
  readonly cyclesPerInstruction: number;

  /** Retired instructions (plus instruction slots skipped while halted: see Machine). */
  icount = 0;
  halted = false;
  /** An interrupt is pending at the machine's interrupt controller. */
  irqPending = false;
  /** Interrupts are blocked until icount reaches this (STI / MOV SS shadow, SDM 6.8.3). */
  shadowUntil = 0;
  /** Set by hooks or handlers to make run() return Stop.requested after the current instruction. */
  stopRequested = false;
  tripleFaulted = false;
  /** When a hook handled an instruction that must not count as retired (hypervisor-planted code). */
  noRetire = false;

  // SSE and x87 state (SDM vol. 1 chapters 8 and 10). XMM0-15 as 4 int32 words each (the integer view is the
  // one moves use: float views would quiet signalling NaNs on load); MXCSR; the x87 stack as 8 physical
  // registers R0-R7 of 80 bits each (64-bit significand in fpm as lo/hi words, sign and exponent in fpe);
  // ST(i) is R[(fpTop + i) & 7]. fsw holds the status word without TOP (bits 13:11), which is fpTop.
  // Two more 128-bit slots follow XMM15: 16 holds a memory source operand, 17 a temporary result. Slots
  // 18-25 hold the significands of R0-R7 in their low 64 bits (fpm, stride 4 words): these are the MMX
  // registers MM0-7 (SDM vol. 1 9.2.1), so the SSE integer handlers run on them as on 64-bit XMM registers.
  readonly xmm = new Int32Array(104);
  /** The same bytes as doubles and singles (arithmetic only, after NaNs were handled) and as lanes. */
  readonly xmmD = new Float64Array(this.xmm.buffer);
  readonly xmmS = new Float32Array(this.xmm.buffer);
  readonly xmmB = new Uint8Array(this.xmm.buffer);
  readonly xmmSB = new Int8Array(this.xmm.buffer);
  readonly xmmW = new Uint16Array(this.xmm.buffer);
  readonly xmmSW = new Int16Array(this.xmm.buffer);
  mxcsr = 0x1f80;
  /** Significand of physical register r: words fpm[4r] (low), fpm[4r + 1] (high); = slot MM0_SLOT + r of xmm. */
  readonly fpm = new Int32Array(this.xmm.buffer, 18 * 16, 32);
  readonly fpe = new Int32Array(8);
  fpTop = 0;
  fcw = 0x037f;
  fsw = 0;
  /** Abridged tag word (FXSAVE byte 4): bit i set = physical register i is not empty. */
  ftw = 0;
  fop = 0;
  fipLo = 0;
  fipHi = 0;
  fdpLo = 0;
  fdpHi = 0;
  /** Selectors of the last x87 instruction and of its memory operand (the 32-bit FXSAVE and FSTENV formats). */
  fcs = 0;
  fds = 0;

  // Scratch outputs (to return pairs without allocating).
  eaLo = 0;
  eaHi = 0;
  t0 = 0;
  t1 = 0;
  t2 = 0;
  t3 = 0;

  readonly mmu: Mmu;
  readonly fault = new CpuFault();
  readonly cache: DecodeCache;
  hooks: CpuHooks | null = null;
  io: PortIo | null = null;
  readonly cpuidTable: Map<number, [number, number, number, number]>;
  /**
   * Whether CPUID advertises BMI1 (leaf 7 EBX bit 3) and LZCNT (leaf 0x80000001 ECX bit 5, AMD's ABM). Without
   * them F3 0F BC/BD (TZCNT/LZCNT) execute as BSF/BSR, the F3 prefix ignored, as on CPUs that predate them
   * (SDM vol. 2 LZCNT, TZCNT: "on processors that do not support" them). Read from the table at construction.
   */
  readonly bmi1: boolean;
  readonly lzcnt: boolean;
  /**
   * The icount at which the current run() returns Stop.limit. A callback running inside an instruction
   * (a port write that arms a device timer) may lower it; the loop re-reads it after every block that
   * ends in a system instruction, so the new limit takes effect at the next instruction boundary.
   */
  runLimit = 0;
  /**
   * Exact icount of the instruction a hook is being told about (an intercepted instruction, or the
   * instruction that faulted): hooks read this rather than cpu.icount, which lags inside a block.
   */
  eventIcount = 0;
  /** Exact icount of the I/O instruction now calling `io` (set by IN/OUT/INS/OUTS before each access). */
  ioIcount = 0;
  /**
   * Guest-physical memory from this address up is the hypervisor's (interception stubs live there): what
   * runs there does not count as guest instructions, so interception never changes the guest's icount.
   */
  hypervisorFrom = Infinity;
  /**
   * Guest-physical pages below hypervisorFrom that are the hypervisor's all the same: a page of the guest's
   * own address space the hypervisor took for injected code (a Linux guest's unused text/rodata gap, EPT
   * execute-only), as if EPT mapped it to a hypervisor frame. Read when a block is decoded, never per instruction.
   */
  readonly hypervisorPages = new Set<number>();
  /** Bumped whenever decoded code is invalidated (self-modifying code check of compiled blocks). */
  codeGen = 0;
  /** Index of the op a compiled block was running when it threw. */
  jitIndex = 0;
  /** Compile hot blocks to JavaScript (jit.ts). Off: every block is interpreted op by op. */
  jitEnabled = true;
  /** Last op executed when a fault happened (for hooks and diagnostics). */
  faultOp: Op | null = null;

  constructor(opts: CpuOptions) {
    this.mmu = new Mmu(opts.memoryBytes, this.fault);
    this.cache = new DecodeCache(this);
    this.mmu.onCodeWrite = (page) => this.cache.invalidatePage(page);
    this.cyclesPerInstruction = opts.cyclesPerInstruction ?? 1;
    this.cpuidTable = opts.cpuid ?? defaultCpuid();
    this.bmi1 = ((this.cpuidTable.get(7 * 65536)?.[1] ?? 0) & (1 << 3)) !== 0;
    this.lzcnt = ((this.cpuidTable.get(0x80000001 * 65536)?.[2] ?? 0) & (1 << 5)) !== 0;
    this.syncPaging();
  }

  // ---- RFLAGS ------------------------------------------------------------------------------------

  getRflags(): number {
    return (this.flagsOther | getArith(this)) >>> 0;
  }

  setRflags(v: number): void {
    this.fk = K_EAGER;
    this.fx = v & (F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF);
    this.flagsOther = (v & ~(F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF) & 0x3f7fd5) | 2;
  }

  get interruptsEnabled(): boolean {
    return (this.flagsOther & F.IF) !== 0;
  }

  /** True when an external interrupt could be delivered now (IF set and no interrupt shadow). */
  canTakeInterrupt(): boolean {
    return (this.flagsOther & F.IF) !== 0 && this.icount >= this.shadowUntil;
  }

  // ---- registers as BigInt (for tests, the hypervisor and snapshots; never on the hot path) -------

  getReg(r: number): bigint {
    return (BigInt(this.hi[r] >>> 0) << 32n) | BigInt(this.lo[r] >>> 0);
  }

  setReg(r: number, v: bigint): void {
    this.lo[r] = Number(v & 0xffffffffn) | 0;
    this.hi[r] = Number((v >> 32n) & 0xffffffffn) | 0;
  }

  getRip(): bigint {
    return BigInt.asUintN(64, BigInt(this.rip));
  }

  setRip(v: bigint): void {
    this.rip = Number(BigInt.asIntN(64, v));
  }

  // ---- control registers and modes ----------------------------------------------------------------

  /** Mirror paging-related state into the MMU (after CR0/CR3/CR4/EFER writes and CPL changes). */
  syncPaging(): void {
    const m = this.mmu;
    m.paging = (this.cr0 & Cr0.PG) !== 0;
    m.cr3 = this.cr3;
    m.wp = (this.cr0 & Cr0.WP) !== 0;
    m.nxe = (this.efer & Efer.NXE) !== 0;
    m.setUser(this.cpl === 3);
  }

  setCpl(cpl: number): void {
    if (cpl === this.cpl) return;
    this.cpl = cpl;
    this.mmu.setUser(cpl === 3);
  }

  setCr3(v: number): void {
    this.cr3 = v;
    this.mmu.cr3 = v;
    this.mmu.flushTlb();
  }

  tsc(icount: number): number {
    return icount * this.cyclesPerInstruction + this.tscOffset;
  }

  // ---- the run loop -------------------------------------------------------------------------------

  /**
   * Execute until icount reaches `limit` or something needs the caller's attention. Guest exceptions are
   * delivered here; only a triple fault stops the loop. Never throws for guest behaviour.
   */
  run(limit: number): Stop {
    const cache = this.cache;
    let stuck = 0;
    let stuckAt = -1;
    this.runLimit = limit;
    for (;;) {
      // The one place asynchronous events are looked at (Blink's attention check): on entry, after any
      // block ending in a system instruction (the only ones that halt, change IF, or reach devices), and
      // after every exception.
      if (this.stopRequested) {
        this.stopRequested = false;
        return Stop.requested;
      }
      if (this.tripleFaulted) return Stop.tripleFault;
      if (this.halted) return Stop.halt;
      if (this.irqPending && this.canTakeInterrupt()) return Stop.interrupt;
      let end = this.runLimit;
      if (this.shadowUntil > this.icount && this.irqPending && this.shadowUntil < end) end = this.shadowUntil;
      if (this.icount >= end) return Stop.limit;
      let block: Block | null = null;
      let n = 0;
      let i = 0;
      let compiled = false;
      try {
        // Fast path: chain blocks until one needs attention or the budget would be exceeded.
        for (;;) {
          block = null;
          const b = cache.blockAt(this.rip);
          block = b;
          const ops = b.ops;
          n = ops.length;
          const budget = end - this.icount;
          i = 0;
          if (n > budget && !b.hypervisor) {
            n = budget;
            this.rip = ops[n].addr;
            compiled = false;
            for (; i < n; i++) {
              const op = ops[i];
              op.fn(this, op);
            }
            this.icount += n; // the block's last op (the only one that can set noRetire) did not run
            break;
          }
          this.rip = b.next;
          const jit = b.jit;
          if (jit !== null) {
            compiled = true;
            jit(this, ops);
          } else {
            compiled = false;
            if (++b.hits === JIT_THRESHOLD && this.jitEnabled) b.jit = compileBlock(ops);
            for (; i < n; i++) {
              const op = ops[i];
              op.fn(this, op);
            }
          }
          if (!b.hypervisor) this.icount += n;
          if (b.attention) {
            // A hook handled a hypervisor-planted instruction (the last op of a block that needs attention):
            // it is not a guest instruction, so it does not retire.
            if (this.noRetire) {
              this.noRetire = false;
              this.icount--;
            }
            break;
          }
          if (this.icount >= end) break;
        }
      } catch (e) {
        if (e !== this.fault) throw e;
        // Exceptions that a hook takes and that never let an instruction retire would spin forever.
        if (this.icount !== stuckAt) {
          stuckAt = this.icount;
          stuck = 0;
        } else if (++stuck > MAX_EVENTS_WITHOUT_PROGRESS) {
          return Stop.noProgress;
        }
        if (block === null) {
          // The fetch itself faulted.
          this.eventIcount = this.icount;
          this.faultOp = null;
          this.raiseFault(null);
          continue;
        }
        if (compiled) i = this.jitIndex;
        if (!block.hypervisor) this.icount += i;
        this.eventIcount = this.icount;
        const op = block.ops[i];
        this.rip = op.addr;
        this.faultOp = op;
        // RESTART: the block's code changed under it; re-fetch from this op (it has not run).
        if (this.fault.vector === Vector.RESTART) continue;
        // A non-canonical stack reference is #SS(0), not #GP(0) (SDM 6.15, interrupt 12).
        if (this.fault.nonCanonical && op.usesStack) this.fault.set(Vector.SS, 0);
        this.raiseFault(op);
      }
    }
  }

  /** Deliver the fault in this.fault (after RIP was restored to the faulting instruction). */
  private raiseFault(op: Op | null): void {
    const f = this.fault;
    if (f.vector === Vector.EPT_VIOLATION) {
      if (this.hooks !== null) this.hooks.eptViolation(this, op as Op);
      else this.tripleFaulted = true; // EPT without a VMM cannot happen; fail loudly but safely.
      return;
    }
    if (f.vector === Vector.PF) {
      this.cr2Lo = f.addrLo;
      this.cr2Hi = f.addrHi;
    }
    this.exception(f.vector, f.errorCode, op);
  }

  /**
   * Deliver exception `vector` to the guest (or to the VMM if its exception bitmap takes it). RIP must
   * point at the faulting instruction (faults) or after it (traps, INT n).
   */
  exception(vector: number, errorCode: number, op: Op | null): void {
    const withError = hasErrorCode(vector);
    if (this.hooks !== null && this.hooks.exception(this, vector, errorCode, withError, op, false)) return;
    deliverEvent(this, vector, withError ? errorCode : -1, false, false);
  }

  /** Deliver an external interrupt now (the caller checked canTakeInterrupt()). */
  deliverInterrupt(vector: number): void {
    this.halted = false;
    deliverEvent(this, vector, -1, false, true);
  }

  /** Ask run() to return after the current instruction. */
  requestStop(): void {
    this.stopRequested = true;
  }

  // ---- helpers used by system-instruction handlers ---------------------------------------------------

  /** Raise #GP(0) unless at CPL 0 (privileged instructions, SDM 5.9). */
  requireCpl0(): void {
    if (this.cpl !== 0) throw this.fault.set(Vector.GP, 0);
  }

  /** IOPL check for IN/OUT/INS/OUTS/CLI/STI (SDM 18.2.1): CPL > IOPL raises #GP(0). */
  requireIopl(): void {
    if (this.cpl > ((this.flagsOther >> 12) & 3)) throw this.fault.set(Vector.GP, 0);
  }

  /**
   * I/O instructions (SDM vol. 1 19.5): allowed when CPL <= IOPL; otherwise every bit of the TSS I/O
   * permission bit map for the accessed ports must be 0. The map starts at the 16-bit offset at TSS byte
   * 0x66; the processor reads the two map bytes holding the first port's bit, and both must lie within the
   * TSS limit, else #GP(0) (Linux's iopl(3) emulation grants ports this way, with IOPL left at 0).
   */
  requireIoPermission(port: number, bytes: number): void {
    if (this.cpl <= ((this.flagsOther >> 12) & 3)) return;
    if (this.trLimit < 0x67) throw this.fault.set(Vector.GP, 0);
    const base = this.readSystemByte(0x66) | (this.readSystemByte(0x67) << 8);
    const at = base + (port >>> 3);
    if (at + 1 > this.trLimit) throw this.fault.set(Vector.GP, 0);
    const map = this.readSystemByte(at) | (this.readSystemByte(at + 1) << 8);
    if ((map & (((1 << bytes) - 1) << (port & 7))) !== 0) throw this.fault.set(Vector.GP, 0);
  }

  /** A byte of the current TSS, read with supervisor privileges. */
  private readSystemByte(offset: number): number {
    const s = (this.trBaseLo >>> 0) + offset;
    const lo = s | 0;
    const hi = (this.trBaseHi + (s >= 4294967296 ? 1 : 0)) | 0;
    const wasUser = this.mmu.user;
    if (wasUser) this.mmu.setUser(false);
    try {
      return this.mmu.read8(lo, hi);
    } finally {
      if (wasUser) this.mmu.setUser(true);
    }
  }

  /** RDMSR: false for an MSR that does not exist (#GP), else true with the value in msrLo/msrHi. */
  readMsr(index: number): boolean {
    switch (index) {
      case Msr.EFER: return this.msrOut(this.efer, 0);
      case Msr.STAR: return this.msrOut(this.star.lo, this.star.hi);
      case Msr.LSTAR: return this.msrOut(this.lstar.lo, this.lstar.hi);
      case Msr.CSTAR: return this.msrOut(this.cstar.lo, this.cstar.hi);
      case Msr.FMASK: return this.msrOut(this.fmask, 0);
      case Msr.FS_BASE: return this.msrOut(this.fsBaseLo, this.fsBaseHi);
      case Msr.GS_BASE: return this.msrOut(this.gsBaseLo, this.gsBaseHi);
      case Msr.KERNEL_GS_BASE: return this.msrOut(this.kernelGsBaseLo, this.kernelGsBaseHi);
      case Msr.TSC_AUX: return this.msrOut(this.tscAux, 0);
      case Msr.APIC_BASE: return this.msrOut(this.apicBase.lo, this.apicBase.hi);
      case Msr.PLATFORM_ID: case Msr.SMI_COUNT: case Msr.PLATFORM_INFO: case Msr.MCG_CAP: case Msr.MISC_FEATURES_ENABLES:
        return this.msrOut(0, 0);
      // Microcode update signature in bits 63:32 (QEMU reports revision 1 for its vCPUs).
      case Msr.BIOS_SIGN_ID: return this.msrOut(0, 1);
      case Msr.FEATURE_CONTROL: return this.msrOut(this.featureControl, 0);
      case Msr.MISC_ENABLE: return this.msrOut(this.miscEnable, 0);
      case Msr.SYSENTER_CS: return this.msrOut(this.sysenterCs, 0);
      case Msr.SYSENTER_ESP: return this.msrOut(this.sysenterEsp.lo, this.sysenterEsp.hi);
      case Msr.SYSENTER_EIP: return this.msrOut(this.sysenterEip.lo, this.sysenterEip.hi);
      case Msr.TSC: {
        const t = this.tsc(this.icount);
        return this.msrOut(t % 4294967296 | 0, Math.floor(t / 4294967296) | 0);
      }
      default: return false;
    }
  }

  /** Sets the value readMsr returns through msrLo/msrHi. */
  private msrOut(lo: number, hi: number): true {
    this.msrLo = lo;
    this.msrHi = hi;
    return true;
  }

  /** Returns false for an MSR that does not exist or a value it does not accept (#GP). */
  writeMsr(index: number, lo: number, hi: number): boolean {
    switch (index) {
      case Msr.EFER: {
        const allowed = Efer.SCE | Efer.LME | Efer.NXE;
        if (hi !== 0 || (lo & ~(allowed | Efer.LMA)) !== 0) return false;
        // LMA is read-only (set by the processor); we only run in long mode.
        this.efer = (lo & allowed) | Efer.LMA;
        this.syncPaging();
        this.mmu.flushTlb();
        return true;
      }
      case Msr.STAR: this.star = { lo, hi }; return true;
      case Msr.LSTAR: if (!isCanonical(hi)) return false; this.lstar = { lo, hi }; return true;
      case Msr.CSTAR: if (!isCanonical(hi)) return false; this.cstar = { lo, hi }; return true;
      case Msr.FMASK: this.fmask = lo; return hi === 0 || true;
      case Msr.FS_BASE: if (!isCanonical(hi)) return false; this.fsBaseLo = lo; this.fsBaseHi = hi; return true;
      case Msr.GS_BASE: if (!isCanonical(hi)) return false; this.gsBaseLo = lo; this.gsBaseHi = hi; return true;
      case Msr.KERNEL_GS_BASE: if (!isCanonical(hi)) return false; this.kernelGsBaseLo = lo; this.kernelGsBaseHi = hi; return true;
      case Msr.TSC_AUX: this.tscAux = lo; return true;
      case Msr.APIC_BASE: this.apicBase = { lo, hi }; return true;
      // Writing IA32_BIOS_SIGN_ID arms the next CPUID to load the signature: no effect to model here.
      case Msr.BIOS_SIGN_ID: return true;
      case Msr.FEATURE_CONTROL:
        // Locked (bit 0): writes #GP until reset (SDM vol. 3 23.7).
        if ((this.featureControl & 1) !== 0 || hi !== 0) return false;
        this.featureControl = lo;
        return true;
      case Msr.MISC_ENABLE: if (hi !== 0) return false; this.miscEnable = lo; return true;
      case Msr.MISC_FEATURES_ENABLES: return lo === 0 && hi === 0;
      case Msr.SYSENTER_CS: this.sysenterCs = lo & 0xffff; return true;
      case Msr.SYSENTER_ESP: if (!isCanonical(hi)) return false; this.sysenterEsp = { lo, hi }; return true;
      case Msr.SYSENTER_EIP: if (!isCanonical(hi)) return false; this.sysenterEip = { lo, hi }; return true;
      case Msr.TSC: {
        const want = (hi >>> 0) * 4294967296 + (lo >>> 0);
        this.tscOffset = want - this.icount * this.cyclesPerInstruction;
        return true;
      }
      default: return false;
    }
  }

  /**
   * Read 64 bits at a linear address as the supervisor would (TSS/IDT/GDT accesses during delivery): the low
   * word, the high word in mmu.hiOut (as Mmu.read64; no allocation).
   */
  readSystem64(lo: number, hi: number): number {
    const wasUser = this.mmu.user;
    if (wasUser) this.mmu.setUser(false);
    try {
      return this.mmu.read64(lo, hi);
    } finally {
      if (wasUser) this.mmu.setUser(true);
    }
  }

  fetchPhys(lo: number, hi: number): number {
    return this.mmu.translateFetch(lo, hi);
  }

  get accessFetch(): Access {
    return Access.fetch;
  }
}


/** Split a canonical address number into lo/hi words. */
export function addrLo(a: number): number {
  return a % 4294967296 | 0;
}
export function addrHi(a: number): number {
  return Math.floor(a / 4294967296) | 0;
}
/** Join lo/hi words into a canonical address number (the caller checked canonicality). */
export function addrOf(lo: number, hi: number): number {
  return hi * 4294967296 + (lo >>> 0);
}
