// Transfers between privilege levels and to the VMM: SYSCALL SYSRET SWAPGS IRETQ far RET, the software
// interrupts INT n / INT3 / INT1, UD2, and VMCALL (SDM vol. 2; VMCALL: SDM vol. 3 26.1.2).

import { type Instruction, Code, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Efer, Exitable, isCanonical } from '../arch.js';
import type { Op } from '../Op.js';
import { Vector } from '../faults.js';
import { StackCursor } from '../StackCursor.js';
import { F } from '../flags.js';
import { deliverEvent } from '../interrupts.js';
import { type H, TWO32, gp0, hooked, set32, ud, use } from './hooked.js';
import { loadFlags } from './rflags.js';

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

/** The stack slots IRETQ and far RET read: RSP moves only once every slot was read and checked. */
const slots = new StackCursor();

/** IRETQ in 64-bit mode always pops RIP, CS, RFLAGS, RSP, SS (SDM IRET, IA-32e mode). */
const iretq: H = (cpu) => {
  const m = cpu.mmu;
  const L = cpu.lo;
  const H = cpu.hi;
  slots.at(L[4], H[4]);
  const ripLo = slots.pop(m, 8);
  const ripHi = m.hiOut;
  const cs = slots.pop(m, 8) & 0xffff;
  const flags = slots.pop(m, 8);
  const rspLo = slots.pop(m, 8);
  const rspHi = m.hiOut;
  const ss = slots.pop(m, 8) & 0xffff;
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
  cpu.readSystem64(s | 0, (cpu.gdtrBaseHi + (s >= TWO32 ? 1 : 0)) | 0);
  const dhi = cpu.mmu.hiOut;
  const isCode = ((dhi >>> 11) & 3) === 3;
  const longMode = (dhi >>> 21) & 1;
  if (!isCode || longMode === 0 || ((dhi >>> 13) & 3) !== (cs & 3)) throw cpu.fault.set(Vector.GP, index);
  if (((dhi >>> 15) & 1) === 0) throw cpu.fault.set(Vector.NP, index);
}

/**
 * Far RET (SDM RET, far return in 64-bit mode): pops RIP and CS (8 bytes each with REX.W, else 4), plus
 * RSP and SS when returning to an outer privilege level; the immediate form releases bytes after CS.
 */
const retf: H = (cpu, op) => {
  const m = cpu.mmu;
  const bytes = op.size === 64 ? 8 : 4;
  slots.at(cpu.lo[4], cpu.hi[4]);
  const ripLo = slots.pop(m, bytes);
  const ripHi = bytes === 8 ? m.hiOut : 0;
  const cs = slots.pop(m, bytes) & 0xffff;
  const rpl = cs & 3;
  if ((cs & ~3) === 0 || rpl < cpu.cpl) throw cpu.fault.set(Vector.GP, cs & ~3);
  checkReturnCodeSegment(cpu, cs);
  if (!isCanonical(ripHi)) gp0(cpu);
  const release = op.imm & 0xffff;
  if (release !== 0) slots.skip(release);
  if (rpl > cpu.cpl) {
    const rspLo = slots.pop(m, bytes);
    const rspHi = bytes === 8 ? m.hiOut : 0;
    cpu.ss = slots.pop(m, bytes) & 0xffff;
    slots.at(rspLo, rspHi);
  }
  cpu.cs = cs;
  cpu.lo[4] = slots.lo;
  cpu.hi[4] = slots.hi;
  cpu.setCpl(rpl);
  cpu.rip = ripHi * TWO32 + (ripLo >>> 0);
};

/** INT n / INT3: software events; RIP is already the next instruction (they are traps). */
const intN: H = (cpu, op) => {
  cpu.rip = op.next;
  const v = op.imm & 255;
  cpu.eventIcount = cpu.icount + op.idx;
  if (v === Vector.BP && cpu.hooks !== null && cpu.hooks.exception(cpu, v, 0, false, op, true)) return;
  deliverEvent(cpu, v, -1, true, false);
};

const int1: H = (cpu, op) => {
  cpu.rip = op.next;
  cpu.eventIcount = cpu.icount + op.idx;
  if (cpu.hooks !== null && cpu.hooks.exception(cpu, Vector.DB, 0, false, op, true)) return;
  deliverEvent(cpu, Vector.DB, -1, false, false);
};

const ud2: H = (cpu) => ud(cpu);

const vmcall: H = (cpu, op) => {
  // VMCALL always exits in VMX non-root operation (SDM 26.1.2); without a VMM it is #UD.
  if (hooked(cpu, Exitable.vmcall, op)) return;
  ud(cpu);
};

/** Decode the privilege-transfer instructions (all end their block but SWAPGS); null if `ins` is not one. */
export function decodePrivilegeTransfer(ins: Instruction, op: Op): boolean | null {
  switch (ins.mnemonic) {
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
    case Mnemonic.Vmcall: return use(op, 'vmcall', vmcall, true);
    default: return null;
  }
}
