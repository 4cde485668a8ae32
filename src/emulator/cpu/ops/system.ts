// System instructions and the ones VT-x can make exit (SDM vol. 2; exit conditions SDM vol. 3 chapter 26):
// CPUID RDTSC(P) RDMSR WRMSR IN OUT INS OUTS HLT CLI STI PUSHF POPF SYSCALL SYSRET SWAPGS IRETQ INT n INT3
// UD2 MOV CR LGDT LIDT LTR SGDT SIDT INVLPG MOV Sreg WBINVD INVD CLTS VMCALL, the flag instructions and
// ENTER. These are rare, so they are plain TypeScript handlers rather than templates.
//
// Every instruction a VMM can intercept ends its block and asks `cpu.hooks.instruction` first; the hook
// sees the exact icount as `cpu.icount + op.idx`. What the VMX layer needs to build the exit qualification
// is in the Op (documented per kind below, in SDM qualification layout where one exists).

import { type Instruction, Code, Mnemonic, OpKind, Register } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Cr0, Cr4, Efer, Exitable, isCanonical } from '../arch.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { F, getArith, setArith } from '../flags.js';
import { deliverEvent } from '../interrupts.js';
import { gpr, isImm, isMem, setMem } from './operands.js';
import { CHUNK } from './string.js';

const TWO32 = 4294967296;

/** op.aux of IN/OUT/INS/OUTS: the low bits of the SDM 28.2.1 I/O exit qualification (table 28-5). */
export const IoQual = {
  /** Bits 2:0: access size - 1. */
  sizeMask: 7,
  /** Bit 3: 1 = IN. */
  in: 8,
  /** Bit 4: string instruction. */
  string: 16,
  /** Bit 5: REP prefix. */
  rep: 32,
  /** Bit 6: operand encoding, 1 = immediate port (in op.imm). */
  immediate: 64,
} as const;

/**
 * op.aux of MOV CR / CLTS / LMSW: the low bits of the SDM 28.2.1 control-register qualification
 * (table 28-3): bits 3:0 CR number, bits 5:4 access type (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW),
 * bits 11:8 the GPR. LMSW's source data is in op.imm.
 */
export const CrAccess = { movTo: 0, movFrom: 1, clts: 2, lmsw: 3 } as const;

type H = (cpu: Cpu, op: Op) => void;

/** op.aux bit of selector / machine-status-word operands: in memory (else a GPR). For LMSW this is also
 * bit 6 of the CR-access qualification, "LMSW operand type" (SDM table 28-3). */
const AUX_WORD_MEM = 64;

/** Ask the VMM first; true if it handled the instruction. */
function hooked(cpu: Cpu, kind: Exitable, op: Op): boolean {
  if (cpu.hooks === null) return false;
  cpu.eventIcount = cpu.icount + op.idx;
  return cpu.hooks.instruction(cpu, kind, op);
}

function set32(cpu: Cpu, r: number, v: number): void {
  cpu.lo[r] = v | 0;
  cpu.hi[r] = 0;
}

function gp0(cpu: Cpu): never {
  throw cpu.fault.set(Vector.GP, 0);
}

function ud(cpu: Cpu): never {
  throw cpu.fault.set(Vector.UD, 0);
}

// ---- CPUID, RDTSC, MSRs ------------------------------------------------------------------------------

const cpuid: H = (cpu, op) => {
  if (hooked(cpu, Exitable.cpuid, op)) return;
  const leaf = cpu.lo[0] >>> 0;
  const sub = cpu.lo[1] >>> 0;
  const t = cpu.cpuidTable;
  const r = t.get(leaf * 65536 + (sub & 0xffff)) ?? t.get(leaf * 65536) ?? [0, 0, 0, 0];
  set32(cpu, 0, r[0]);
  set32(cpu, 3, r[1]);
  set32(cpu, 1, r[2]);
  set32(cpu, 2, r[3]);
};

function tscCheck(cpu: Cpu): void {
  // CR4.TSD: RDTSC is privileged (SDM RDTSC).
  if ((cpu.cr4 & Cr4.TSD) !== 0 && cpu.cpl !== 0) gp0(cpu);
}

function writeTsc(cpu: Cpu, op: Op): void {
  const t = cpu.tsc(cpu.icount + op.idx);
  set32(cpu, 0, t % TWO32);
  set32(cpu, 2, Math.floor(t / TWO32));
}

const rdtsc: H = (cpu, op) => {
  tscCheck(cpu);
  if (hooked(cpu, Exitable.rdtsc, op)) return;
  writeTsc(cpu, op);
};

const rdtscp: H = (cpu, op) => {
  tscCheck(cpu);
  if (hooked(cpu, Exitable.rdtscp, op)) return;
  writeTsc(cpu, op);
  set32(cpu, 1, cpu.tscAux);
};

const rdmsr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.rdmsr, op)) return;
  const v = cpu.readMsr(cpu.lo[1] >>> 0);
  if (v === null) gp0(cpu);
  set32(cpu, 0, v.lo);
  set32(cpu, 2, v.hi);
};

const wrmsr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.wrmsr, op)) return;
  if (!cpu.writeMsr(cpu.lo[1] >>> 0, cpu.lo[0], cpu.lo[2])) gp0(cpu);
};

// ---- port I/O ----------------------------------------------------------------------------------------

function portOf(cpu: Cpu, op: Op): number {
  return (op.aux & IoQual.immediate) !== 0 ? op.imm : cpu.lo[2] & 0xffff;
}

function portIn(cpu: Cpu, port: number, bytes: number): number {
  const io = cpu.io;
  if (io === null) return bytes === 1 ? 0xff : bytes === 2 ? 0xffff : -1;
  return io.portIn(port, bytes);
}

function portOut(cpu: Cpu, port: number, bytes: number, v: number): void {
  if (cpu.io !== null) cpu.io.portOut(port, bytes, v);
}

const inHandler: H = (cpu, op) => {
  cpu.requireIopl();
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = (op.aux & IoQual.sizeMask) + 1;
  cpu.ioIcount = cpu.icount + op.idx;
  const v = portIn(cpu, portOf(cpu, op), bytes);
  const L = cpu.lo;
  if (bytes === 1) L[0] = (L[0] & -256) | (v & 255);
  else if (bytes === 2) L[0] = (L[0] & -65536) | (v & 65535);
  else set32(cpu, 0, v);
};

const outHandler: H = (cpu, op) => {
  cpu.requireIopl();
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = (op.aux & IoQual.sizeMask) + 1;
  cpu.ioIcount = cpu.icount + op.idx;
  const l = cpu.lo[0];
  portOut(cpu, portOf(cpu, op), bytes, bytes === 1 ? l & 255 : bytes === 2 ? l & 65535 : l >>> 0);
};

function stepReg(cpu: Cpu, r: number, d: number): void {
  const s = (cpu.lo[r] >>> 0) + d;
  cpu.lo[r] = s | 0;
  if (s >= TWO32) cpu.hi[r] = (cpu.hi[r] + 1) | 0;
  else if (s < 0) cpu.hi[r] = (cpu.hi[r] - 1) | 0;
}

/** INS/OUTS (SDM: "INS/INSB/INSW/INSD", "OUTS"): one element, or REP in chunks like the other string ops. */
const stringIo: H = (cpu, op) => {
  cpu.requireIopl();
  if (hooked(cpu, Exitable.io, op)) return;
  const bytes = (op.aux & IoQual.sizeMask) + 1;
  const isIn = (op.aux & IoQual.in) !== 0;
  const rep = (op.aux & IoQual.rep) !== 0;
  const d = (cpu.flagsOther & F.DF) !== 0 ? -bytes : bytes;
  const port = cpu.lo[2] & 0xffff;
  const m = cpu.mmu;
  cpu.ioIcount = cpu.icount + op.idx;
  for (let n = 0; n < (rep ? CHUNK : 1); n++) {
    if (rep && (cpu.lo[1] | cpu.hi[1]) === 0) return;
    if (isIn) {
      // The destination must be writable before the port is read (SDM INS: faults before the input).
      const lo = cpu.lo[7];
      const hi = cpu.hi[7];
      m.probeWrite(lo, hi, bytes);
      const v = portIn(cpu, port, bytes);
      if (bytes === 1) m.write8(lo, hi, v);
      else if (bytes === 2) m.write16(lo, hi, v);
      else m.write32(lo, hi, v);
      stepReg(cpu, 7, d);
    } else {
      let lo = cpu.lo[6];
      let hi = cpu.hi[6];
      if (op.seg !== 0) {
        const s = (lo >>> 0) + ((op.seg === 1 ? cpu.fsBaseLo : cpu.gsBaseLo) >>> 0);
        hi = (hi + (op.seg === 1 ? cpu.fsBaseHi : cpu.gsBaseHi) + (s >= TWO32 ? 1 : 0)) | 0;
        lo = s | 0;
      }
      const v = bytes === 1 ? m.read8(lo, hi) : bytes === 2 ? m.read16(lo, hi) : m.read32(lo, hi) >>> 0;
      portOut(cpu, port, bytes, v);
      stepReg(cpu, 6, d);
    }
    if (rep) {
      const l = (cpu.lo[1] - 1) | 0;
      if (l === -1) cpu.hi[1] = (cpu.hi[1] - 1) | 0;
      cpu.lo[1] = l;
    }
  }
  if (rep && (cpu.lo[1] | cpu.hi[1]) !== 0) cpu.rip = op.addr;
};

// ---- HLT, interrupt flag, RFLAGS ---------------------------------------------------------------------------

const hlt: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.hlt, op)) return;
  cpu.halted = true;
};

const cli: H = (cpu) => {
  cpu.requireIopl();
  cpu.flagsOther &= ~F.IF;
};

const sti: H = (cpu, op) => {
  cpu.requireIopl();
  if ((cpu.flagsOther & F.IF) === 0) {
    cpu.flagsOther |= F.IF;
    // SDM STI: interrupts stay blocked until the instruction after STI has completed.
    cpu.shadowUntil = cpu.icount + op.idx + 2;
  }
};

const pushf: H = (cpu, op) => {
  // SDM PUSHF: RF and VM are cleared in the pushed image.
  const v = cpu.getRflags() & ~(F.RF | F.VM);
  const L = cpu.lo;
  const H = cpu.hi;
  const bytes = op.size >> 3;
  const sl = (L[4] - bytes) | 0;
  const sh = (L[4] >>> 0) < bytes ? (H[4] - 1) | 0 : H[4];
  if (bytes === 2) cpu.mmu.write16(sl, sh, v);
  else cpu.mmu.write64(sl, sh, v, 0);
  L[4] = sl;
  H[4] = sh;
};

/** Apply a new RFLAGS image under the privilege rules of POPF / IRET (SDM POPF table, IRET). */
function loadFlags(cpu: Cpu, v: number, mask16: boolean): void {
  const old = cpu.getRflags();
  const iopl = (old >>> 12) & 3;
  let changeable = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT | F.AC | F.ID;
  if (cpu.cpl === 0) changeable |= F.IOPL;
  if (cpu.cpl <= iopl) changeable |= F.IF;
  if (mask16) changeable &= 0xffff;
  const nv = (old & ~changeable) | (v & changeable);
  cpu.setRflags(nv & ~F.RF);
}

const popf: H = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const bytes = op.size >> 3;
  const v = bytes === 2 ? cpu.mmu.read16(L[4], H[4]) : cpu.mmu.read64(L[4], H[4]);
  const wasIf = cpu.flagsOther & F.IF;
  loadFlags(cpu, v, bytes === 2);
  const s = (L[4] >>> 0) + bytes;
  L[4] = s | 0;
  if (s >= TWO32) H[4] = (H[4] + 1) | 0;
  // POPF setting IF opens the interrupt window at the next boundary (no shadow, unlike STI).
  void wasIf;
};

const flagOp = (set: number, clear: number, toggle: number): H => (cpu) => {
  const arith = getArith(cpu);
  const all = (cpu.flagsOther | arith);
  const nv = ((all & ~clear) | set) ^ toggle;
  setArith(cpu, nv);
  cpu.flagsOther = (cpu.flagsOther & ~(F.DF)) | (nv & F.DF);
};

const lahf: H = (cpu) => {
  // AH = SF:ZF:0:AF:0:PF:1:CF (SDM LAHF).
  const f = (getArith(cpu) & (F.SF | F.ZF | F.AF | F.PF | F.CF)) | 2;
  cpu.lo[0] = (cpu.lo[0] & ~0xff00) | (f << 8);
};

const sahf: H = (cpu) => {
  const ah = (cpu.lo[0] >>> 8) & 0xff;
  const keep = getArith(cpu) & F.OF;
  setArith(cpu, keep | (ah & (F.SF | F.ZF | F.AF | F.PF | F.CF)));
};

// ---- SYSCALL / SYSRET / SWAPGS / IRETQ / INT -----------------------------------------------------------------

const syscall: H = (cpu, op) => {
  // SDM SYSCALL: #UD unless EFER.SCE (Nitro-style interception relies on this).
  if ((cpu.efer & Efer.SCE) === 0) ud(cpu);
  const rf = cpu.getRflags();
  cpu.lo[1] = op.nextLo;
  cpu.hi[1] = op.nextHi;
  set32(cpu, 11, rf & ~F.RF);
  cpu.setRflags(rf & ~cpu.fmask & ~F.RF);
  const sel = cpu.star.hi & 0xffff;
  cpu.cs = sel & 0xfffc;
  cpu.ss = (sel + 8) & 0xfffc;
  cpu.setCpl(0);
  cpu.rip = cpu.lstar.hi * TWO32 + (cpu.lstar.lo >>> 0);
};

const sysret: H = (cpu, op) => {
  if ((cpu.efer & Efer.SCE) === 0) ud(cpu);
  cpu.requireCpl0();
  const rex64 = op.size === 64;
  if (rex64 && !isCanonical(cpu.hi[1])) gp0(cpu);
  const sel = cpu.star.hi >>> 16;
  // SDM SYSRET: 64-bit form CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, both with RPL 3.
  cpu.cs = ((rex64 ? sel + 16 : sel) & 0xfffc) | 3;
  cpu.ss = ((sel + 8) & 0xfffc) | 3;
  cpu.setRflags((cpu.lo[11] & 0x3c7fd7) | 2);
  cpu.setCpl(3);
  cpu.rip = rex64 ? cpu.hi[1] * TWO32 + (cpu.lo[1] >>> 0) : cpu.lo[1] >>> 0;
};

const swapgs: H = (cpu) => {
  cpu.requireCpl0();
  const l = cpu.gsBaseLo;
  const h = cpu.gsBaseHi;
  cpu.gsBaseLo = cpu.kernelGsBaseLo;
  cpu.gsBaseHi = cpu.kernelGsBaseHi;
  cpu.kernelGsBaseLo = l;
  cpu.kernelGsBaseHi = h;
};

/** IRETQ in 64-bit mode always pops RIP, CS, RFLAGS, RSP, SS (SDM IRET, IA-32e mode). */
const iretq: H = (cpu) => {
  const m = cpu.mmu;
  const L = cpu.lo;
  const H = cpu.hi;
  let sl = L[4];
  let sh = H[4];
  const pop = (): number => {
    const v = m.read64(sl, sh);
    const s = (sl >>> 0) + 8;
    sl = s | 0;
    if (s >= TWO32) sh = (sh + 1) | 0;
    return v;
  };
  const ripLo = pop();
  const ripHi = m.hiOut;
  const cs = pop() & 0xffff;
  const flags = pop();
  const rspLo = pop();
  const rspHi = m.hiOut;
  const ss = pop() & 0xffff;
  const rpl = cs & 3;
  if ((cs & ~3) === 0) throw cpu.fault.set(Vector.GP, 0);
  // Return to the same or an outer privilege level only (SDM IRET: "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
  if (rpl < cpu.cpl) throw cpu.fault.set(Vector.GP, cs & ~3);
  checkReturnCodeSegment(cpu, cs);
  if (!isCanonical(ripHi)) gp0(cpu);
  loadFlags(cpu, flags, false);
  cpu.cs = cs;
  cpu.ss = ss;
  L[4] = rspLo;
  H[4] = rspHi;
  cpu.setCpl(rpl);
  cpu.rip = ripHi * TWO32 + (ripLo >>> 0);
};

/**
 * The code segment a far return or IRET goes to must be a present 64-bit code segment in the GDT whose
 * DPL equals the selector's RPL (SDM IRET/RET, protected-mode return checks): #GP(selector) / #NP otherwise.
 */
function checkReturnCodeSegment(cpu: Cpu, cs: number): void {
  const index = cs & ~7;
  if ((cs & 4) !== 0 || index + 7 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index);
  const s = (cpu.gdtrBaseLo >>> 0) + index;
  const d = cpu.readSystem64(s | 0, (cpu.gdtrBaseHi + (s >= TWO32 ? 1 : 0)) | 0);
  const isCode = ((d.hi >>> 11) & 3) === 3;
  const longMode = (d.hi >>> 21) & 1;
  if (!isCode || longMode === 0 || ((d.hi >>> 13) & 3) !== (cs & 3)) throw cpu.fault.set(Vector.GP, index);
  if (((d.hi >>> 15) & 1) === 0) throw cpu.fault.set(Vector.NP, index);
}

/**
 * Far RET (SDM RET, far return in 64-bit mode): pops RIP and CS (8 bytes each with REX.W, else 4), plus
 * RSP and SS when returning to an outer privilege level; the immediate form releases bytes after CS.
 */
const retf: H = (cpu, op) => {
  const m = cpu.mmu;
  const bytes = op.size >> 3;
  let sl = cpu.lo[4];
  let sh = cpu.hi[4];
  const pop = (): [number, number] => {
    let lo: number;
    let hi = 0;
    if (bytes === 8) {
      lo = m.read64(sl, sh);
      hi = m.hiOut;
    } else lo = m.read32(sl, sh);
    const s = (sl >>> 0) + bytes;
    sl = s | 0;
    if (s >= TWO32) sh = (sh + 1) | 0;
    return [lo, hi];
  };
  const [ripLo, ripHi0] = pop();
  const ripHi = bytes === 8 ? ripHi0 : 0;
  const cs = pop()[0] & 0xffff;
  const rpl = cs & 3;
  if ((cs & ~3) === 0 || rpl < cpu.cpl) throw cpu.fault.set(Vector.GP, cs & ~3);
  checkReturnCodeSegment(cpu, cs);
  if (!isCanonical(ripHi)) gp0(cpu);
  const release = op.imm & 0xffff;
  if (release !== 0) {
    const s = (sl >>> 0) + release;
    sl = s | 0;
    if (s >= TWO32) sh = (sh + 1) | 0;
  }
  if (rpl > cpu.cpl) {
    const [rspLo, rspHi] = pop();
    const ss = pop()[0] & 0xffff;
    cpu.ss = ss;
    sl = rspLo;
    sh = bytes === 8 ? rspHi : 0;
  }
  cpu.cs = cs;
  cpu.lo[4] = sl;
  cpu.hi[4] = sh;
  cpu.setCpl(rpl);
  cpu.rip = ripHi * TWO32 + (ripLo >>> 0);
};

/** INT n / INT3: software events; RIP is already the next instruction (they are traps). */
const intN: H = (cpu, op) => {
  cpu.rip = op.next;
  const v = op.imm & 255;
  cpu.eventIcount = cpu.icount + op.idx;
  if (v === Vector.BP && cpu.hooks !== null && cpu.hooks.exception(cpu, v, 0, false, op)) return;
  deliverEvent(cpu, v, -1, true, false);
};

const int1: H = (cpu, op) => {
  cpu.rip = op.next;
  cpu.eventIcount = cpu.icount + op.idx;
  if (cpu.hooks !== null && cpu.hooks.exception(cpu, Vector.DB, 0, false, op)) return;
  deliverEvent(cpu, Vector.DB, -1, false, false);
};

const ud2: H = (cpu) => ud(cpu);

// ---- control registers, descriptor tables, TLB ----------------------------------------------------------------

const CR4_ALLOWED = Cr4.PSE | Cr4.PAE | Cr4.PGE | Cr4.TSD | (1 << 3) /* DE */ | (1 << 9) /* OSFXSR */ |
  (1 << 10) /* OSXMMEXCPT */ | (1 << 16) /* FSGSBASE */;

function writeCr(cpu: Cpu, cr: number, lo: number, hi: number): void {
  switch (cr) {
    case 0: {
      if (hi !== 0) gp0(cpu);
      // Long mode requires PG and PE; clearing them (or setting PG without PE) is #GP (SDM MOV CR).
      if ((lo & Cr0.PG) === 0 || (lo & Cr0.PE) === 0) gp0(cpu);
      // NW without CD is #GP.
      if ((lo & (1 << 29)) !== 0 && (lo & (1 << 30)) === 0) gp0(cpu);
      cpu.cr0 = lo | Cr0.ET;
      cpu.syncPaging();
      cpu.mmu.flushTlb();
      return;
    }
    case 2:
      cpu.cr2Lo = lo;
      cpu.cr2Hi = hi;
      return;
    case 3: {
      // Bits 51:MAXPHYADDR are reserved; our guest-physical space is below 4 GiB.
      if (hi !== 0) gp0(cpu);
      cpu.setCr3(lo >>> 0);
      return;
    }
    case 4: {
      if (hi !== 0 || (lo & ~CR4_ALLOWED) !== 0 || (lo & Cr4.PAE) === 0) gp0(cpu);
      cpu.cr4 = lo;
      cpu.syncPaging();
      cpu.mmu.flushTlb();
      return;
    }
    case 8:
      if (hi !== 0 || (lo & ~15) !== 0) gp0(cpu);
      cpu.cr8 = lo;
      return;
    default:
      ud(cpu);
  }
}

function readCr(cpu: Cpu, cr: number): [number, number] {
  switch (cr) {
    case 0: return [cpu.cr0, 0];
    case 2: return [cpu.cr2Lo, cpu.cr2Hi];
    case 3: return [cpu.cr3, 0];
    case 4: return [cpu.cr4, 0];
    case 8: return [cpu.cr8, 0];
    default: return ud(cpu);
  }
}

const movToCr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movToCr, op)) return;
  writeCr(cpu, op.aux & 15, cpu.lo[op.d], cpu.hi[op.d]);
};

const movFromCr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movFromCr, op)) return;
  const [lo, hi] = readCr(cpu, op.aux & 15);
  cpu.lo[op.d] = lo;
  cpu.hi[op.d] = hi;
};

const clts: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.movToCr, op)) return;
  cpu.cr0 &= ~Cr0.TS;
};

const lmsw: H = (cpu, op) => {
  cpu.requireCpl0();
  let v: number;
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    v = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  } else {
    v = cpu.lo[op.s] & 0xffff;
  }
  op.imm = v;
  if (hooked(cpu, Exitable.movToCr, op)) return;
  // LMSW loads PE MP EM TS only, and cannot clear PE (SDM LMSW).
  cpu.cr0 = (cpu.cr0 & ~0xe) | (v & 0xf) | Cr0.PE;
};

function readDescriptorTable(cpu: Cpu, op: Op): [number, number, number] {
  op.ea(cpu, op);
  const limit = cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  const s = (cpu.eaLo >>> 0) + 2;
  const baseLo = cpu.mmu.read64(s | 0, (cpu.eaHi + (s >= TWO32 ? 1 : 0)) | 0);
  const baseHi = cpu.mmu.hiOut;
  if (!isCanonical(baseHi)) gp0(cpu);
  return [limit, baseLo, baseHi];
}

function writeDescriptorTable(cpu: Cpu, op: Op, limit: number, lo: number, hi: number): void {
  op.ea(cpu, op);
  cpu.mmu.probeWrite(cpu.eaLo, cpu.eaHi, 10);
  cpu.mmu.write16(cpu.eaLo, cpu.eaHi, limit);
  const s = (cpu.eaLo >>> 0) + 2;
  cpu.mmu.write64(s | 0, (cpu.eaHi + (s >= TWO32 ? 1 : 0)) | 0, lo, hi);
}

/** LGDT / LIDT: load the 10-byte limit + base operand into GDTR or IDTR. */
const loadTable = (idt: boolean): H => (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, idt ? Exitable.lidt : Exitable.lgdt, op)) return;
  const [limit, lo, hi] = readDescriptorTable(cpu, op);
  if (idt) {
    cpu.idtrLimit = limit;
    cpu.idtrBaseLo = lo;
    cpu.idtrBaseHi = hi;
  } else {
    cpu.gdtrLimit = limit;
    cpu.gdtrBaseLo = lo;
    cpu.gdtrBaseHi = hi;
  }
};
const lgdt = loadTable(false);
const lidt = loadTable(true);

const sgdt: H = (cpu, op) => {
  if (hooked(cpu, Exitable.sgdt, op)) return;
  writeDescriptorTable(cpu, op, cpu.gdtrLimit, cpu.gdtrBaseLo, cpu.gdtrBaseHi);
};

const sidt: H = (cpu, op) => {
  if (hooked(cpu, Exitable.sidt, op)) return;
  writeDescriptorTable(cpu, op, cpu.idtrLimit, cpu.idtrBaseLo, cpu.idtrBaseHi);
};

function selectorOperand(cpu: Cpu, op: Op): number {
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    return cpu.mmu.read16(cpu.eaLo, cpu.eaHi);
  }
  return cpu.lo[op.s] & 0xffff;
}

/** LTR: load TR from a 16-byte 64-bit TSS descriptor in the GDT and mark it busy (SDM LTR, 7.2.3). */
const ltr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.ltr, op)) return;
  const sel = selectorOperand(cpu, op);
  const index = sel & ~7;
  if (index === 0 || (sel & 4) !== 0 || index + 15 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index);
  const s = (cpu.gdtrBaseLo >>> 0) + index;
  const alo = s | 0;
  const ahi = (cpu.gdtrBaseHi + (s >= TWO32 ? 1 : 0)) | 0;
  const p0 = cpu.readSystem64(alo, ahi);
  const p1 = cpu.readSystem64((alo + 8) | 0, (alo >>> 0) + 8 >= TWO32 ? (ahi + 1) | 0 : ahi);
  const type = (p0.hi >>> 8) & 0x1f; // S bit and type
  if (type !== 0x09) throw cpu.fault.set(Vector.GP, index);
  if (((p0.hi >>> 15) & 1) === 0) throw cpu.fault.set(Vector.NP, index);
  cpu.tr = sel;
  cpu.trBaseLo = ((p0.lo >>> 16) | ((p0.hi & 0xff) << 16) | (p0.hi & 0xff000000)) | 0;
  cpu.trBaseHi = p1.lo;
  cpu.trLimit = (p0.lo & 0xffff) | (p0.hi & 0xf0000);
  // Mark busy (type 0xB).
  const wasUser = cpu.mmu.user;
  if (wasUser) cpu.mmu.setUser(false);
  try {
    cpu.mmu.write8((alo + 5) | 0, (alo >>> 0) + 5 >= TWO32 ? (ahi + 1) | 0 : ahi, ((p0.hi >>> 8) & 0xff) | 2);
  } finally {
    if (wasUser) cpu.mmu.setUser(true);
  }
};

const lldt: H = (cpu, op) => {
  cpu.requireCpl0();
  const sel = selectorOperand(cpu, op);
  // Only the null LDT is supported (a flat 64-bit kernel has no use for one).
  if ((sel & ~3) !== 0) throw cpu.fault.set(Vector.GP, sel & ~7);
  cpu.ldtr = 0;
};

const storeSelector = (which: 'tr' | 'ldtr'): H => (cpu, op) => {
  const v = which === 'tr' ? cpu.tr : cpu.ldtr;
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    cpu.mmu.write16(cpu.eaLo, cpu.eaHi, v);
  } else {
    cpu.lo[op.d] = v;
    cpu.hi[op.d] = 0;
  }
};

const invlpg: H = (cpu, op) => {
  cpu.requireCpl0();
  op.ea(cpu, op);
  if (hooked(cpu, Exitable.invlpg, op)) return;
  cpu.mmu.invalidatePage(cpu.eaLo, cpu.eaHi);
};

const privilegedNop = (kind: Exitable | 0): H => (cpu, op) => {
  cpu.requireCpl0();
  if (kind !== 0) hooked(cpu, kind, op);
};

const vmcall: H = (cpu, op) => {
  // VMCALL always exits in VMX non-root operation (SDM 26.1.2); without a VMM it is #UD.
  if (hooked(cpu, Exitable.vmcall, op)) return;
  ud(cpu);
};

// ---- segment registers -------------------------------------------------------------------------------

const SREG: Partial<Record<Register, number>> = {
  [Register.ES]: 0, [Register.CS]: 1, [Register.SS]: 2, [Register.DS]: 3, [Register.FS]: 4, [Register.GS]: 5,
};

function getSreg(cpu: Cpu, n: number): number {
  return [cpu.es, cpu.cs, cpu.ss, cpu.ds, cpu.fsSel, cpu.gsSel][n];
}

/**
 * Load a data segment register. In 64-bit mode their bases are ignored except FS/GS, whose base a
 * selector load sets from the descriptor; our guests use flat descriptors (base 0) and set the 64-bit
 * bases with WRMSR or SWAPGS, so a selector load zeroes them as a flat descriptor would.
 */
function setSreg(cpu: Cpu, n: number, sel: number, op: Op): void {
  const index = sel & ~7;
  if (n === 2) {
    // SS: a null selector is only allowed at CPL 0 ... 2 in 64-bit mode; RPL must equal CPL.
    if ((sel & 3) !== cpu.cpl || (index === 0 && cpu.cpl === 3)) throw cpu.fault.set(Vector.GP, index);
    cpu.ss = sel;
    cpu.shadowUntil = cpu.icount + op.idx + 2;
    return;
  }
  if (index !== 0 && index + 7 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index);
  switch (n) {
    case 0: cpu.es = sel; break;
    case 3: cpu.ds = sel; break;
    case 4: cpu.fsSel = sel; cpu.fsBaseLo = 0; cpu.fsBaseHi = 0; break;
    case 5: cpu.gsSel = sel; cpu.gsBaseLo = 0; cpu.gsBaseHi = 0; break;
    default: ud(cpu);
  }
}

const movToSreg: H = (cpu, op) => {
  setSreg(cpu, op.t, selectorOperand(cpu, op), op);
};

const movFromSreg: H = (cpu, op) => {
  const v = getSreg(cpu, op.t);
  if ((op.aux & AUX_WORD_MEM) !== 0) {
    op.ea(cpu, op);
    cpu.mmu.write16(cpu.eaLo, cpu.eaHi, v);
  } else if (op.size === 16) {
    cpu.lo[op.d] = (cpu.lo[op.d] & -65536) | v;
  } else {
    cpu.lo[op.d] = v;
    cpu.hi[op.d] = 0;
  }
};

const pushSreg: H = (cpu, op) => {
  const v = getSreg(cpu, op.t);
  const L = cpu.lo;
  const H = cpu.hi;
  const sl = (L[4] - 8) | 0;
  const sh = (L[4] >>> 0) < 8 ? (H[4] - 1) | 0 : H[4];
  cpu.mmu.write64(sl, sh, v, 0);
  L[4] = sl;
  H[4] = sh;
};

const popSreg: H = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const v = cpu.mmu.read16(L[4], H[4]);
  setSreg(cpu, op.t, v, op);
  const s = (L[4] >>> 0) + 8;
  L[4] = s | 0;
  if (s >= TWO32) H[4] = (H[4] + 1) | 0;
};

// ---- ENTER ------------------------------------------------------------------------------------------------

/** ENTER imm16, imm8 with 64-bit operand size (SDM ENTER; nesting level taken modulo 32). */
const enter: H = (cpu, op) => {
  const L = cpu.lo;
  const H = cpu.hi;
  const m = cpu.mmu;
  const alloc = op.imm & 0xffff;
  const level = op.immh & 31;
  let sl = L[4];
  let sh = H[4];
  const push = (vl: number, vh: number): void => {
    const nl = (sl - 8) | 0;
    sh = (sl >>> 0) < 8 ? (sh - 1) | 0 : sh;
    sl = nl;
    m.write64(sl, sh, vl, vh);
  };
  push(L[5], H[5]);
  const frameLo = sl;
  const frameHi = sh;
  if (level > 0) {
    let bl = L[5];
    let bh = H[5];
    for (let i = 1; i < level; i++) {
      const nl = (bl - 8) | 0;
      bh = (bl >>> 0) < 8 ? (bh - 1) | 0 : bh;
      bl = nl;
      const vl = m.read64(bl, bh);
      push(vl, m.hiOut);
    }
    push(frameLo, frameHi);
  }
  const s = (sl >>> 0) - alloc;
  const nl = s | 0;
  const nh = s < 0 ? (sh - 1) | 0 : sh;
  // The new stack top must be writable (SDM ENTER: #SS/#PF if the allocation faults).
  if (alloc > 0) m.probeWrite(nl, nh, 1);
  L[5] = frameLo;
  H[5] = frameHi;
  L[4] = nl;
  H[4] = nh;
};

// ---- decoding ----------------------------------------------------------------------------------------------

function use(op: Op, name: string, fn: H, terminates: boolean): boolean {
  op.fn = fn;
  op.name = name;
  return terminates;
}

const CR_REGS: Partial<Record<Register, number>> = {
  [Register.CR0]: 0, [Register.CR2]: 2, [Register.CR3]: 3, [Register.CR4]: 4, [Register.CR8]: 8,
};

/**
 * Operand `n` is a 16-bit r/m (selector, machine status word): memory sets AUX_WORD_MEM, a register goes to
 * op[field]. False for a register that is not a GPR.
 */
function wordOperand(ins: Instruction, n: number, op: Op, field: 's' | 'd'): boolean {
  if (isMem(ins.opKind(n))) {
    setMem(ins, op);
    op.aux |= AUX_WORD_MEM;
    return true;
  }
  const g = gpr(ins.opRegister(n));
  if (g === null) return false;
  op[field] = g.index;
  op.size = g.size;
  return true;
}

function ioSize(reg: Register): number {
  return reg === Register.AL ? 1 : reg === Register.AX ? 2 : 4;
}

/**
 * Decode a system instruction. Returns null if `ins` is not one of ours, else whether it ends the block.
 * Everything that can exit, change paging, CPL or IF, or leave RIP on itself ends its block.
 */
export function decodeSystem(ins: Instruction, op: Op): boolean | null {
  const m = ins.mnemonic;
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  switch (m) {
    case Mnemonic.Cpuid: return use(op, 'cpuid', cpuid, true);
    case Mnemonic.Rdtsc: return use(op, 'rdtsc', rdtsc, true);
    case Mnemonic.Rdtscp: return use(op, 'rdtscp', rdtscp, true);
    case Mnemonic.Rdmsr: return use(op, 'rdmsr', rdmsr, true);
    case Mnemonic.Wrmsr: return use(op, 'wrmsr', wrmsr, true);
    case Mnemonic.In: {
      op.aux = ioSize(ins.op0Register) - 1 | IoQual.in;
      if (isImm(k1)) {
        op.aux |= IoQual.immediate;
        op.imm = ins.immediate8;
      }
      op.size = (ioSize(ins.op0Register)) * 8;
      return use(op, 'in', inHandler, true);
    }
    case Mnemonic.Out: {
      op.aux = ioSize(ins.op1Register) - 1;
      if (isImm(k0)) {
        op.aux |= IoQual.immediate;
        op.imm = ins.immediate8;
      }
      op.size = ioSize(ins.op1Register) * 8;
      return use(op, 'out', outHandler, true);
    }
    case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd:
    case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd: {
      const bytes = m === Mnemonic.Insb || m === Mnemonic.Outsb ? 1 : m === Mnemonic.Insw || m === Mnemonic.Outsw ? 2 : 4;
      const isIn = m === Mnemonic.Insb || m === Mnemonic.Insw || m === Mnemonic.Insd;
      op.aux = (bytes - 1) | IoQual.string | (isIn ? IoQual.in : 0) |
        (ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix ? IoQual.rep : 0);
      op.size = bytes * 8;
      const seg = ins.segmentPrefix;
      op.seg = !isIn && seg === Register.FS ? 1 : !isIn && seg === Register.GS ? 2 : 0;
      return use(op, isIn ? 'ins' : 'outs', stringIo, true);
    }
    case Mnemonic.Hlt: return use(op, 'hlt', hlt, true);
    case Mnemonic.Cli: return use(op, 'cli', cli, false);
    case Mnemonic.Sti: return use(op, 'sti', sti, true);
    case Mnemonic.Pushf: case Mnemonic.Pushfq:
      op.size = ins.code === Code.Pushfw ? 16 : 64;
      return use(op, 'pushf', pushf, false);
    case Mnemonic.Popf: case Mnemonic.Popfq:
      op.size = ins.code === Code.Popfw ? 16 : 64;
      return use(op, 'popf', popf, true);
    case Mnemonic.Clc: return use(op, 'clc', flagOp(0, F.CF, 0), false);
    case Mnemonic.Stc: return use(op, 'stc', flagOp(F.CF, 0, 0), false);
    case Mnemonic.Cmc: return use(op, 'cmc', flagOp(0, 0, F.CF), false);
    case Mnemonic.Cld: return use(op, 'cld', flagOp(0, F.DF, 0), false);
    case Mnemonic.Std: return use(op, 'std', flagOp(F.DF, 0, 0), false);
    case Mnemonic.Lahf: return use(op, 'lahf', lahf, false);
    case Mnemonic.Sahf: return use(op, 'sahf', sahf, false);
    case Mnemonic.Syscall: return use(op, 'syscall', syscall, true);
    case Mnemonic.Sysret: case Mnemonic.Sysretq:
      op.size = ins.code === Code.Sysretq ? 64 : 32;
      return use(op, 'sysret', sysret, true);
    case Mnemonic.Swapgs: return use(op, 'swapgs', swapgs, false);
    case Mnemonic.Iretq: return use(op, 'iretq', iretq, true);
    case Mnemonic.Retf:
      op.size = ins.code === Code.Retfq || ins.code === Code.Retfq_imm16 ? 64 : ins.code === Code.Retfd || ins.code === Code.Retfd_imm16 ? 32 : 0;
      if (op.size === 0) return null;
      op.imm = ins.opCount === 1 ? ins.immediate16 : 0;
      return use(op, 'retf', retf, true);
    case Mnemonic.Int:
      op.imm = ins.immediate8;
      return use(op, 'int', intN, true);
    case Mnemonic.Int3:
      op.imm = 3;
      return use(op, 'int3', intN, true);
    case Mnemonic.Int1: return use(op, 'int1', int1, true);
    case Mnemonic.Ud2: return use(op, 'ud2', ud2, true);
    case Mnemonic.Mov: {
      const cr0 = k0 === OpKind.Register ? CR_REGS[ins.op0Register] : undefined;
      const cr1 = k1 === OpKind.Register ? CR_REGS[ins.op1Register] : undefined;
      if (cr0 !== undefined) {
        const g = gpr(ins.op1Register);
        if (g === null) return null;
        op.d = g.index;
        op.aux = cr0 | (CrAccess.movTo << 4) | (g.index << 8);
        return use(op, 'mov_to_cr', movToCr, true);
      }
      if (cr1 !== undefined) {
        const g = gpr(ins.op0Register);
        if (g === null) return null;
        op.d = g.index;
        op.aux = cr1 | (CrAccess.movFrom << 4) | (g.index << 8);
        return use(op, 'mov_from_cr', movFromCr, true);
      }
      const s0 = k0 === OpKind.Register ? SREG[ins.op0Register] : undefined;
      const s1 = k1 === OpKind.Register ? SREG[ins.op1Register] : undefined;
      if (s0 !== undefined) {
        op.t = s0;
        return wordOperand(ins, 1, op, 's') ? use(op, 'mov_to_sreg', movToSreg, true) : null;
      }
      if (s1 !== undefined) {
        op.t = s1;
        return wordOperand(ins, 0, op, 'd') ? use(op, 'mov_from_sreg', movFromSreg, false) : null;
      }
      return null;
    }
    case Mnemonic.Push:
      if (k0 === OpKind.Register && SREG[ins.op0Register] !== undefined) {
        op.t = SREG[ins.op0Register] as number;
        return use(op, 'push_sreg', pushSreg, false);
      }
      return null;
    case Mnemonic.Pop:
      if (k0 === OpKind.Register && SREG[ins.op0Register] !== undefined) {
        op.t = SREG[ins.op0Register] as number;
        return use(op, 'pop_sreg', popSreg, true);
      }
      return null;
    case Mnemonic.Clts:
      op.aux = 0 | (CrAccess.clts << 4);
      return use(op, 'clts', clts, true);
    case Mnemonic.Lmsw:
      op.aux = CrAccess.lmsw << 4;
      if (!wordOperand(ins, 0, op, 's')) return null;
      return use(op, 'lmsw', lmsw, true);
    case Mnemonic.Lgdt: case Mnemonic.Lidt: case Mnemonic.Sgdt: case Mnemonic.Sidt:
      if (!isMem(k0)) return null;
      setMem(ins, op);
      return m === Mnemonic.Lgdt ? use(op, 'lgdt', lgdt, true) : m === Mnemonic.Lidt ? use(op, 'lidt', lidt, true)
        : m === Mnemonic.Sgdt ? use(op, 'sgdt', sgdt, true) : use(op, 'sidt', sidt, true);
    case Mnemonic.Ltr: case Mnemonic.Lldt: {
      if (!wordOperand(ins, 0, op, 's')) return null;
      return m === Mnemonic.Ltr ? use(op, 'ltr', ltr, true) : use(op, 'lldt', lldt, true);
    }
    case Mnemonic.Str: case Mnemonic.Sldt: {
      if (!wordOperand(ins, 0, op, 'd')) return null;
      return use(op, m === Mnemonic.Str ? 'str' : 'sldt', storeSelector(m === Mnemonic.Str ? 'tr' : 'ldtr'), false);
    }
    case Mnemonic.Invlpg:
      setMem(ins, op);
      return use(op, 'invlpg', invlpg, true);
    case Mnemonic.Wbinvd: return use(op, 'wbinvd', privilegedNop(Exitable.wbinvd), true);
    case Mnemonic.Invd: return use(op, 'invd', privilegedNop(0), true);
    case Mnemonic.Vmcall: return use(op, 'vmcall', vmcall, true);
    case Mnemonic.Enter:
      op.imm = ins.immediate16;
      op.immh = ins.immediate8_2nd;
      return use(op, 'enter', enter, false);
    default:
      return null;
  }
}
