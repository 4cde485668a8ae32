// The x87/SSE register state: reset (FNINIT, power-on), the FXSAVE/FXRSTOR image (SDM vol. 1 section
// 10.5.1, table 10-2 / 10-3 for the 64-bit form), the availability checks CR0.EM/TS and CR4.OSFXSR impose
// (SDM vol. 3 section 2.5, table 12-1 / 13-x), and the checkpoint form of the state.

import type { Cpu } from '../Cpu.js';
import { Cr0, Cr4 } from '../arch.js';
import { Vector } from '../faults.js';

/** MXCSR bits (SDM vol. 1 figure 10-3). Exception flags share bit positions with the x87 status word. */
export const Mx = {
  IE: 1, DE: 2, ZE: 4, OE: 8, UE: 16, PE: 32, FLAGS: 63, DAZ: 1 << 6, MASKS: 0x1f80, RC_SHIFT: 13, FZ: 1 << 15,
} as const;
/** Writable MXCSR bits: MXCSR_MASK as FXSAVE reports it (DAZ supported). */
export const MXCSR_MASK = 0xffff;
export const MXCSR_DEFAULT = 0x1f80;

/** x87 status word bits (SDM vol. 1 figure 8-4); TOP (13:11) lives in cpu.fpTop. */
export const Fsw = { SF: 1 << 6, ES: 1 << 7, C0: 1 << 8, C1: 1 << 9, C2: 1 << 10, C3: 1 << 14, B: 1 << 15 } as const;

/** FNINIT / FINIT: x87 state to its initial values (SDM vol. 1 table 8-x; FIP/FDP/FOP cleared). */
export function fpuInit(cpu: Cpu): void {
  cpu.fcw = 0x037f;
  cpu.fsw = 0;
  cpu.fpTop = 0;
  cpu.ftw = 0;
  cpu.fop = 0;
  cpu.fipLo = 0;
  cpu.fipHi = 0;
  cpu.fdpLo = 0;
  cpu.fdpHi = 0;
  cpu.fcs = 0;
  cpu.fds = 0;
}

/** Power-on / INIT state of x87 and SSE (SDM vol. 3 table 10-1: FCW 0x40 after RESET, 0x37f after FNINIT;
 * we start as after FNINIT, as firmware leaves it). */
export function fpuReset(cpu: Cpu): void {
  fpuInit(cpu);
  cpu.fpm.fill(0);
  cpu.fpe.fill(0);
  cpu.xmm.fill(0);
  cpu.mxcsr = MXCSR_DEFAULT;
}

/** SSE instruction availability (SDM vol. 3 table 13-x / 2.5): EM -> #UD, OSFXSR clear -> #UD, TS -> #NM. */
export function checkSse(cpu: Cpu): void {
  if ((cpu.cr0 & (Cr0.EM | Cr0.TS)) !== 0 || (cpu.cr4 & Cr4.OSFXSR) === 0) {
    if ((cpu.cr0 & Cr0.EM) !== 0 || (cpu.cr4 & Cr4.OSFXSR) === 0) throw cpu.fault.set(Vector.UD, 0);
    throw cpu.fault.set(Vector.NM, 0);
  }
}

/**
 * MMX instructions and the SSE instructions on MMX registers (SDM vol. 3 table 22-7/22-8): EM -> #UD, TS ->
 * #NM, then a pending x87 exception -> #MF. CR4.OSFXSR is not consulted (table 22-7 lists no such #UD).
 */
export function checkMmx(cpu: Cpu): void {
  if ((cpu.cr0 & (Cr0.EM | Cr0.TS)) !== 0) throw cpu.fault.set((cpu.cr0 & Cr0.EM) !== 0 ? Vector.UD : Vector.NM, 0);
  if ((cpu.fsw & Fsw.ES) !== 0) throw cpu.fault.set(Vector.MF, 0);
}

/** Slot of MM0 in cpu.xmm (MMi = slot MM0_SLOT + i, the low 64 bits; Cpu.fpm is the same memory). */
export const MM0_SLOT = 18;

/**
 * The x87-to-MMX transition every MMX instruction makes (SDM vol. 1 9.5.1, table 9-1): TOP = 0 and every
 * register tagged valid; an MMX register written (slot `d`) gets ones in bits 79:64 (sign and exponent).
 */
export function mmxEnter(cpu: Cpu, d: number): void {
  cpu.fpTop = 0;
  cpu.ftw = 0xff;
  if (d >= MM0_SLOT) cpu.fpe[d - MM0_SLOT] = 0xffff;
}

/** x87 instruction availability: EM or TS -> #NM (SDM vol. 3 table 2-2). */
export function checkX87(cpu: Cpu): void {
  if ((cpu.cr0 & (Cr0.EM | Cr0.TS)) !== 0) throw cpu.fault.set(Vector.NM, 0);
}

/** WAIT/FWAIT: #NM only when both MP and TS are set (SDM vol. 3 table 2-2), then pending x87 exceptions. */
export function fwait(cpu: Cpu): void {
  if ((cpu.cr0 & (Cr0.MP | Cr0.TS)) === (Cr0.MP | Cr0.TS)) throw cpu.fault.set(Vector.NM, 0);
  checkPendingX87(cpu);
}

/** A pending unmasked x87 exception (FSW.ES) is raised by the next waiting x87 instruction: #MF with CR0.NE
 * (SDM vol. 1 8.6.2; without NE the legacy FERR# path is not modelled and also raises #MF). */
export function checkPendingX87(cpu: Cpu): void {
  if ((cpu.fsw & Fsw.ES) !== 0) throw cpu.fault.set(Vector.MF, 0);
}

/** The full x87 status word with TOP. */
export function fswWord(cpu: Cpu): number {
  return (cpu.fsw & ~0x3800) | ((cpu.fpTop & 7) << 11);
}

/** Full 16-bit tag word from register contents (SDM vol. 1 8.1.7): 00 valid, 01 zero, 10 special, 11 empty. */
export function fullTagWord(cpu: Cpu): number {
  let tw = 0;
  for (let r = 0; r < 8; r++) {
    let tag = 3;
    if ((cpu.ftw & (1 << r)) !== 0) {
      const e = cpu.fpe[r] & 0x7fff;
      const lo = cpu.fpm[4 * r];
      const hi = cpu.fpm[4 * r + 1];
      if (e === 0x7fff) tag = 2;
      else if (e === 0) tag = lo === 0 && hi === 0 ? 1 : 2;
      else tag = (hi & 0x80000000) !== 0 ? 0 : 2; // integer bit clear: unnormal, special
    }
    tw |= tag << (2 * r);
  }
  return tw;
}

function check16(cpu: Cpu, lo: number): void {
  if ((lo & 15) !== 0) throw cpu.fault.set(Vector.GP, 0);
}

/** Bytes of an FXSAVE area the processor writes (416-463 reserved and 464-511 for software are not written, as on the host). */
export const FX_WRITTEN = 416;

/**
 * The FXSAVE image of the current state into `img` (512 bytes; bytes from FX_WRITTEN untouched). rexW: the 64-bit
 * form (64-bit FIP/FDP, no FCS/FDS). Reserved bytes of the register slots are written as zero.
 */
export function fxImage(cpu: Cpu, img: Uint8Array, rexW: boolean): void {
  const v = new DataView(img.buffer, img.byteOffset, 512);
  img.fill(0, 0, FX_WRITTEN);
  v.setUint16(0, cpu.fcw, true);
  v.setUint16(2, fswWord(cpu), true);
  v.setUint8(4, cpu.ftw & 0xff);
  v.setUint16(6, cpu.fop & 0x7ff, true);
  v.setInt32(8, cpu.fipLo, true);
  // The 32-bit form stores FCS and FDS where the 64-bit one has the upper halves of FIP and FDP.
  v.setInt32(12, rexW ? cpu.fipHi : cpu.fcs & 0xffff, true);
  v.setInt32(16, cpu.fdpLo, true);
  v.setInt32(20, rexW ? cpu.fdpHi : cpu.fds & 0xffff, true);
  v.setInt32(24, cpu.mxcsr, true);
  v.setInt32(28, MXCSR_MASK, true);
  for (let i = 0; i < 8; i++) {
    const r = (cpu.fpTop + i) & 7;
    const o = 32 + 16 * i;
    v.setInt32(o, cpu.fpm[4 * r], true);
    v.setInt32(o + 4, cpu.fpm[4 * r + 1], true);
    v.setUint16(o + 8, cpu.fpe[r] & 0xffff, true);
  }
  for (let k = 0; k < 64; k++) v.setInt32(160 + 4 * k, cpu.xmm[k], true);
}

/** Load the state from an FXSAVE image (FXRSTOR semantics); false if MXCSR has reserved bits set. */
export function loadFxImage(cpu: Cpu, img: Uint8Array, rexW: boolean): boolean {
  const v = new DataView(img.buffer, img.byteOffset, 512);
  const mx = v.getInt32(24, true);
  if ((mx & ~MXCSR_MASK) !== 0) return false;
  const fsw = v.getUint16(2, true);
  // Reserved FCW bits read back as FLDCW leaves them; ES and B follow the unmasked flags (as measured on
  // the host: FXRSTOR recomputes them).
  cpu.fcw = (v.getUint16(0, true) & 0x1f3f) | 0x40;
  cpu.fpTop = (fsw >> 11) & 7;
  cpu.fsw = fsw & ~0x3800;
  if ((cpu.fsw & ~cpu.fcw & 0x3f) !== 0) cpu.fsw |= Fsw.ES | Fsw.B;
  else cpu.fsw &= ~(Fsw.ES | Fsw.B);
  cpu.ftw = v.getUint8(4);
  cpu.fop = v.getUint16(6, true) & 0x7ff;
  cpu.fipLo = v.getInt32(8, true);
  cpu.fipHi = rexW ? v.getInt32(12, true) : 0;
  cpu.fdpLo = v.getInt32(16, true);
  cpu.fdpHi = rexW ? v.getInt32(20, true) : 0;
  cpu.fcs = rexW ? 0 : v.getUint16(12, true);
  cpu.fds = rexW ? 0 : v.getUint16(20, true);
  for (let i = 0; i < 8; i++) {
    const r = (cpu.fpTop + i) & 7;
    const o = 32 + 16 * i;
    cpu.fpm[4 * r] = v.getInt32(o, true);
    cpu.fpm[4 * r + 1] = v.getInt32(o + 4, true);
    cpu.fpe[r] = v.getUint16(o + 8, true);
  }
  for (let k = 0; k < 64; k++) cpu.xmm[k] = v.getInt32(160 + 4 * k, true);
  cpu.mxcsr = mx;
  return true;
}

const fxBuf = new Uint8Array(512);

function addrAt(lo: number, hi: number, off: number): [number, number] {
  return [(lo + off) | 0, (lo >>> 0) + off > 0xffffffff ? (hi + 1) | 0 : hi];
}

/** FXSAVE / FXSAVE64 to the 512-byte area at (lo, hi): #GP(0) unless 16-byte aligned. */
export function fxsave(cpu: Cpu, lo: number, hi: number, rexW: boolean): void {
  check16(cpu, lo);
  const m = cpu.mmu;
  // Fault before storing anything: the area spans at most two pages.
  m.probeWrite(lo, hi, FX_WRITTEN);
  fxImage(cpu, fxBuf, rexW);
  const v = new DataView(fxBuf.buffer);
  for (let o = 0; o < FX_WRITTEN; o += 8) {
    const [l, h] = addrAt(lo, hi, o);
    m.write64(l, h, v.getInt32(o, true), v.getInt32(o + 4, true));
  }
}

/** FXRSTOR / FXRSTOR64 from the 512-byte area at (lo, hi): #GP(0) on misalignment or reserved MXCSR bits. */
export function fxrstor(cpu: Cpu, lo: number, hi: number, rexW: boolean): void {
  check16(cpu, lo);
  const m = cpu.mmu;
  const v = new DataView(fxBuf.buffer);
  // Read everything first: a fault leaves the state unchanged.
  for (let o = 0; o < FX_WRITTEN; o += 8) {
    const [l, h] = addrAt(lo, hi, o);
    v.setInt32(o, m.read64(l, h), true);
    v.setInt32(o + 4, m.hiOut, true);
  }
  if (!loadFxImage(cpu, fxBuf, rexW)) throw cpu.fault.set(Vector.GP, 0);
}

/** LDMXCSR: #GP(0) on reserved bits (SDM LDMXCSR). */
export function setMxcsr(cpu: Cpu, v: number): void {
  if ((v & ~MXCSR_MASK) !== 0) throw cpu.fault.set(Vector.GP, 0);
  cpu.mxcsr = v;
}

/** The checkpoint form (plain numbers, msgpack/JSON friendly). */
export interface FpuState {
  xmm: number[];
  mxcsr: number;
  /** Per physical register: significand lo, hi, sign/exponent. */
  st: number[];
  top: number;
  fcw: number;
  fsw: number;
  ftw: number;
  fop: number;
  fip: [number, number];
  fdp: [number, number];
  /** FCS, FDS (absent in checkpoints from before they were tracked: zero). */
  fsel?: [number, number];
}

export function saveFpu(cpu: Cpu): FpuState {
  const st: number[] = [];
  for (let r = 0; r < 8; r++) st.push(cpu.fpm[4 * r], cpu.fpm[4 * r + 1], cpu.fpe[r]);
  return {
    xmm: [...cpu.xmm.subarray(0, 64)], mxcsr: cpu.mxcsr, st, top: cpu.fpTop, fcw: cpu.fcw, fsw: cpu.fsw, ftw: cpu.ftw, fop: cpu.fop,
    fip: [cpu.fipLo, cpu.fipHi], fdp: [cpu.fdpLo, cpu.fdpHi], fsel: [cpu.fcs, cpu.fds],
  };
}

/** Restore; `s` undefined (a checkpoint from before the FPU existed, when it was always in reset state) resets. */
export function loadFpu(cpu: Cpu, s: FpuState | undefined): void {
  if (s === undefined) {
    fpuReset(cpu);
    return;
  }
  if (!Array.isArray(s.xmm) || s.xmm.length !== 64 || !Array.isArray(s.st) || s.st.length !== 24) {
    throw new Error('checkpoint: FPU/SSE registers missing or damaged');
  }
  cpu.xmm.set(s.xmm);
  cpu.mxcsr = s.mxcsr;
  for (let r = 0; r < 8; r++) {
    cpu.fpm[4 * r] = s.st[3 * r];
    cpu.fpm[4 * r + 1] = s.st[3 * r + 1];
    cpu.fpe[r] = s.st[3 * r + 2];
  }
  cpu.fpTop = s.top;
  cpu.fcw = s.fcw;
  cpu.fsw = s.fsw;
  cpu.ftw = s.ftw;
  cpu.fop = s.fop;
  cpu.fipLo = s.fip[0];
  cpu.fipHi = s.fip[1];
  cpu.fdpLo = s.fdp[0];
  cpu.fdpHi = s.fdp[1];
  cpu.fcs = s.fsel?.[0] ?? 0;
  cpu.fds = s.fsel?.[1] ?? 0;
}

// ---- FSTENV/FLDENV/FSAVE/FRSTOR (SDM vol. 1 8.1.10, figure 8-9: the 32-bit protected-mode format, which
// 64-bit mode uses; FIP/FDP are stored as their low 32 bits, FOP in bits 26:16 of the fifth doubleword,
// reserved halves as ones, FCS/FDS the selectors of the last x87 instruction and memory operand) ----

/** Bytes of the x87 environment (32-bit format), and of the whole FSAVE image. */
export const ENV_BYTES = 28;
export const SAVE_BYTES = 108;
/** The 16-bit format (operand-size prefix, SDM figure 8-10): FCW FSW FTW FIP[15:0] FCS FDP[15:0] FDS, no FOP. */
export const ENV16_BYTES = 14;

/** Size of the environment (and of the FSAVE image with `regs`) in the 32-bit or 16-bit (`narrow`) format. */
export function envBytes(regs: boolean, narrow: boolean): number {
  return (narrow ? ENV16_BYTES : ENV_BYTES) + (regs ? 80 : 0);
}

/** The environment into img, the registers ST0-7 after it when `regs` (FSAVE's image). */
export function envImage(cpu: Cpu, img: Uint8Array, regs: boolean, narrow = false): void {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  img.fill(0, 0, envBytes(regs, narrow));
  const base = narrow ? ENV16_BYTES : ENV_BYTES;
  if (narrow) {
    v.setUint16(0, cpu.fcw, true);
    v.setUint16(2, fswWord(cpu), true);
    v.setUint16(4, fullTagWord(cpu), true);
    v.setUint16(6, cpu.fipLo & 0xffff, true);
    v.setUint16(8, cpu.fcs & 0xffff, true);
    v.setUint16(10, cpu.fdpLo & 0xffff, true);
    v.setUint16(12, cpu.fds & 0xffff, true);
  } else envHeader32(cpu, v);
  if (!regs) return;
  for (let i = 0; i < 8; i++) {
    const r = (cpu.fpTop + i) & 7;
    const o = base + 10 * i;
    v.setInt32(o, cpu.fpm[4 * r], true);
    v.setInt32(o + 4, cpu.fpm[4 * r + 1], true);
    v.setUint16(o + 8, cpu.fpe[r] & 0xffff, true);
  }
}

function envHeader32(cpu: Cpu, v: DataView): void {
  v.setUint32(0, 0xffff0000 | cpu.fcw, true);
  v.setUint32(4, 0xffff0000 | fswWord(cpu), true);
  v.setUint32(8, 0xffff0000 | fullTagWord(cpu), true);
  v.setInt32(12, cpu.fipLo, true);
  v.setUint32(16, (((cpu.fop & 0x7ff) << 16) | (cpu.fcs & 0xffff)) >>> 0, true);
  v.setInt32(20, cpu.fdpLo, true);
  v.setUint32(24, (0xffff0000 | (cpu.fds & 0xffff)) >>> 0, true);
}

/** Load the environment (and the registers when `regs`) from an image (FLDENV / FRSTOR). */
export function loadEnvImage(cpu: Cpu, img: Uint8Array, regs: boolean, narrow = false): void {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const w = narrow ? 2 : 4; // distance between the 16-bit fields FCW, FSW, FTW
  cpu.fcw = (v.getUint16(0, true) & 0x1f3f) | 0x40;
  const fsw = v.getUint16(w, true);
  cpu.fpTop = (fsw >> 11) & 7;
  cpu.fsw = fsw & ~0x3800;
  if ((cpu.fsw & ~cpu.fcw & 0x3f) !== 0) cpu.fsw |= Fsw.ES | Fsw.B;
  else cpu.fsw &= ~(Fsw.ES | Fsw.B);
  // The full tag word only says empty (11) or not; the other tags follow the contents (SDM FLDENV).
  const tw = v.getUint16(2 * w, true);
  cpu.ftw = 0;
  for (let r = 0; r < 8; r++) if (((tw >> (2 * r)) & 3) !== 3) cpu.ftw |= 1 << r;
  if (narrow) {
    cpu.fipLo = v.getUint16(6, true);
    cpu.fipHi = 0;
    cpu.fcs = v.getUint16(8, true);
    cpu.fdpLo = v.getUint16(10, true);
    cpu.fdpHi = 0;
    cpu.fds = v.getUint16(12, true);
    cpu.fop = 0;
  } else loadHeader32(cpu, v);
  if (!regs) return;
  const base = narrow ? ENV16_BYTES : ENV_BYTES;
  for (let i = 0; i < 8; i++) {
    const r = (cpu.fpTop + i) & 7;
    const o = base + 10 * i;
    cpu.fpm[4 * r] = v.getInt32(o, true);
    cpu.fpm[4 * r + 1] = v.getInt32(o + 4, true);
    cpu.fpe[r] = v.getUint16(o + 8, true);
  }
}

function loadHeader32(cpu: Cpu, v: DataView): void {
  cpu.fipLo = v.getInt32(12, true);
  cpu.fipHi = 0;
  cpu.fop = (v.getUint32(16, true) >>> 16) & 0x7ff;
  cpu.fcs = v.getUint16(16, true);
  cpu.fdpLo = v.getInt32(20, true);
  cpu.fdpHi = 0;
  cpu.fds = v.getUint16(24, true);
}

const envBuf = new Uint8Array(SAVE_BYTES);

/** FNSTENV (regs false) / FNSAVE (true) to memory at (lo, hi); the caller then masks exceptions or reinitializes. */
export function storeEnv(cpu: Cpu, lo: number, hi: number, regs: boolean, narrow = false): void {
  const n = envBytes(regs, narrow);
  const m = cpu.mmu;
  m.probeWrite(lo, hi, n);
  envImage(cpu, envBuf, regs, narrow);
  for (let o = 0; o < n; o++) {
    const [l, h] = addrAt(lo, hi, o);
    m.write8(l, h, envBuf[o]);
  }
}

/** FLDENV (regs false) / FRSTOR (true) from memory at (lo, hi); everything is read before anything changes. */
export function loadEnv(cpu: Cpu, lo: number, hi: number, regs: boolean, narrow = false): void {
  const n = envBytes(regs, narrow);
  const m = cpu.mmu;
  for (let o = 0; o < n; o++) {
    const [l, h] = addrAt(lo, hi, o);
    envBuf[o] = m.read8(l, h);
  }
  loadEnvImage(cpu, envBuf, regs, narrow);
}
