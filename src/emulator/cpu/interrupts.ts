// Event delivery in IA-32e mode (SDM vol. 3 sections 6.12-6.14): through 64-bit IDT gates, with a stack
// switch from the TSS on a privilege change or an IST index, the 64-bit frame (SS, RSP, RFLAGS, CS, RIP,
// error code) on a 16-byte aligned stack, IF cleared by interrupt gates, and the double-fault rules of
// SDM table 6-5 when delivery itself faults. A fault while delivering #DF is a triple fault: the CPU stops
// and reports it (cpu.tripleFaulted), as VT-x reports exit reason 2.

import type { Cpu } from './Cpu.js';
import { Vector } from './faults.js';
import { F } from './flags.js';
import { StackCursor } from './StackCursor.js';

const TWO32 = 4294967296;

/** Contributory exceptions (SDM table 6-4). */
function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

/**
 * Deliver `vector` now. `errorCode` is -1 when the event pushes none. `software`: INT n / INT3 / INTO
 * (gate DPL is checked against CPL, SDM 6.12.1.1). `external`: an external interrupt (sets EXT in error
 * codes of faults during delivery). RIP must already be the return address.
 */
export function deliverEvent(cpu: Cpu, vector: number, errorCode: number, software: boolean, external: boolean): void {
  let v = vector;
  let err = errorCode;
  let sw = software;
  let ext = external ? 1 : 0;
  // At most three attempts: the event, #DF, then triple fault.
  for (let attempt = 0; attempt < 3; attempt++) {
    // Registers delivery may change, saved so a fault during delivery leaves the interrupted state intact.
    const savedRspLo = cpu.lo[4];
    const savedRspHi = cpu.hi[4];
    const savedCpl = cpu.cpl;
    const savedCs = cpu.cs;
    const savedSs = cpu.ss;
    const savedRip = cpu.rip;
    try {
      deliverOnce(cpu, v, err, sw, ext);
      cpu.halted = false;
      return;
    } catch (e) {
      if (e !== cpu.fault) throw e;
      // Undo partial delivery.
      cpu.lo[4] = savedRspLo;
      cpu.hi[4] = savedRspHi;
      cpu.setCpl(savedCpl);
      cpu.cs = savedCs;
      cpu.ss = savedSs;
      cpu.rip = savedRip;
      const second = cpu.fault.vector;
      if (second === Vector.EPT_VIOLATION || second === Vector.RESTART) {
        // An EPT violation while pushing the frame: treat as a fault of delivery (no VMM re-entry here).
        cpu.tripleFaulted = v === Vector.DF;
        if (cpu.tripleFaulted) return;
      }
      if (second === Vector.PF) {
        cpu.cr2Lo = cpu.fault.addrLo;
        cpu.cr2Hi = cpu.fault.addrHi;
      }
      if (v === Vector.DF) {
        cpu.tripleFaulted = true;
        return;
      }
      const firstPf = v === Vector.PF;
      const becomesDf = (contributory(v) && contributory(second)) ||
        (firstPf && (second === Vector.PF || contributory(second)));
      if (becomesDf) {
        v = Vector.DF;
        err = 0;
      } else {
        // Benign first event: the second is handled serially (SDM table 6-5).
        v = second;
        err = hasCode(second) ? cpu.fault.errorCode | ext : -1;
      }
      sw = false;
      ext = 0;
    }
  }
  cpu.tripleFaulted = true;
}

function hasCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17 || v === 21;
}

/**
 * Read the 64-bit system-table entry at base + offset (IDT, TSS, GDT) as the supervisor would: returns the low
 * word, the high word in cpu.mmu.hiOut.
 */
function readSys64(cpu: Cpu, baseLo: number, baseHi: number, offset: number): number {
  const s = (baseLo >>> 0) + offset;
  return cpu.readSystem64(s | 0, (baseHi + (s >= TWO32 ? 1 : 0)) | 0);
}

/** The stack pointer the frame is pushed below. */
const frame = new StackCursor();

function deliverOnce(cpu: Cpu, vector: number, errorCode: number, software: boolean, ext: number): void {
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > cpu.idtrLimit) throw cpu.fault.set(Vector.GP, idtErr);
  const g0lo = readSys64(cpu, cpu.idtrBaseLo, cpu.idtrBaseHi, vector * 16);
  const g0hi = cpu.mmu.hiOut;
  const g1lo = readSys64(cpu, cpu.idtrBaseLo, cpu.idtrBaseHi, vector * 16 + 8);
  const type = (g0hi >>> 8) & 15;
  const dpl = (g0hi >>> 13) & 3;
  const present = (g0hi >>> 15) & 1;
  // SDM 6.14.1: only 64-bit interrupt (0xE) and trap (0xF) gates are valid in IA-32e mode.
  if (type !== 0xe && type !== 0xf) throw cpu.fault.set(Vector.GP, idtErr);
  if (software && cpu.cpl > dpl) throw cpu.fault.set(Vector.GP, idtErr);
  if (present === 0) throw cpu.fault.set(Vector.NP, idtErr);
  const selector = (g0lo >>> 16) & 0xffff;
  const ist = g0hi & 7;
  const targetLo = (g0lo & 0xffff) | (g0hi & 0xffff0000);
  const targetHi = g1lo;
  if (targetHi !== ((targetHi << 16) >> 16)) throw cpu.fault.set(Vector.GP, 0);
  const newCpl = codeSegmentDpl(cpu, selector, ext);

  const oldCpl = cpu.cpl;
  const oldRflags = cpu.getRflags();
  const oldCs = cpu.cs;
  const oldSs = cpu.ss;
  const oldRspLo = cpu.lo[4];
  const oldRspHi = cpu.hi[4];
  const ripLo = cpu.rip % TWO32 | 0;
  const ripHi = Math.floor(cpu.rip / TWO32) | 0;

  let spLo = oldRspLo;
  let spHi = oldRspHi;
  if (ist !== 0 || newCpl < cpu.cpl) {
    spLo = readSys64(cpu, cpu.trBaseLo, cpu.trBaseHi, ist !== 0 ? 36 + (ist - 1) * 8 : 4 + newCpl * 8);
    spHi = cpu.mmu.hiOut;
  }
  if (spHi !== ((spHi << 16) >> 16)) throw cpu.fault.set(Vector.SS, 0);
  // SDM 6.14.2: the new stack pointer is aligned to 16 bytes before the frame is pushed.
  spLo &= ~15;

  cpu.setCpl(newCpl);
  const m = cpu.mmu;
  frame.at(spLo, spHi);
  frame.push64(m, oldSs, 0);
  frame.push64(m, oldRspLo, oldRspHi);
  frame.push64(m, oldRflags, 0);
  frame.push64(m, oldCs, 0);
  frame.push64(m, ripLo, ripHi);
  if (errorCode >= 0) frame.push64(m, errorCode, 0);

  cpu.lo[4] = frame.lo;
  cpu.hi[4] = frame.hi;
  cpu.cs = (selector & ~3) | newCpl;
  // SDM 6.14.4: on a privilege change SS is loaded with a null selector whose RPL is the new CPL.
  if (newCpl !== oldCpl) cpu.ss = newCpl;
  let flags = oldRflags & ~(F.TF | F.NT | F.RF | F.VM);
  if (type === 0xe) flags &= ~F.IF;
  cpu.setRflags(flags);
  cpu.rip = targetHi * TWO32 + (targetLo >>> 0);
}

/** DPL of the code segment `selector` from the GDT (must be a present 64-bit code segment). */
export function codeSegmentDpl(cpu: Cpu, selector: number, ext: number): number {
  const index = selector & ~7;
  if (index === 0 || (selector & 4) !== 0 || index + 7 > cpu.gdtrLimit) throw cpu.fault.set(Vector.GP, index + ext);
  readSys64(cpu, cpu.gdtrBaseLo, cpu.gdtrBaseHi, index);
  const dhi = cpu.mmu.hiOut;
  const isCode = ((dhi >>> 11) & 3) === 3; // S = 1 and type bit 3 (code)
  const longMode = (dhi >>> 21) & 1;
  if (!isCode || longMode === 0) throw cpu.fault.set(Vector.GP, index + ext);
  if (((dhi >>> 15) & 1) === 0) throw cpu.fault.set(Vector.NP, index + ext);
  const dpl = (dhi >>> 13) & 3;
  if (dpl > cpu.cpl) throw cpu.fault.set(Vector.GP, index + ext);
  return dpl;
}
