// A second emulator runner for the differential tests, for the code paths emu.ts's single-stepping does not
// reach: whole decoded blocks run by the normal run loop and, after JIT_THRESHOLD runs of the same snippet,
// the blocks compiled by jit.ts. The snippet is followed by INT3; a #BP raised by that INT3 means "reached
// the end". One Cpu is reused (decode cache cleared per case), with the same user-mode mapping as emu.ts:
// code read+execute, scratch read+write+NX, everything else unmapped.

import { Cpu } from '../../src/emulator/cpu/Cpu.js';
import type { CpuHooks } from '../../src/emulator/cpu/Cpu.js';
import { JIT_THRESHOLD } from '../../src/emulator/cpu/jit.js';
import { Cr4 } from '../../src/emulator/cpu/arch.js';
import { fxImage, loadFxImage } from '../../src/emulator/cpu/fpu/fpuState.js';
import { defaultCpuid } from '../../src/emulator/cpu/cpuModel.js';
import { CODE_BASE, DATA_BASE, DATA_BYTES, FLAGS_MASK, cpuidFor, type DiffCase, type DiffResult } from './types.js';

const MEM = 4 << 20;
const PML4 = 0x1000;
const CODE_PHYS = 0x100000;
const CODE_PAGES = 16;
const DATA_PHYS = 0x200000;
const MAX_STEPS = 100_000;
const END = Number(CODE_BASE);

/** One machine per set of advertised features (DiffCase.advertise), reused across cases. */
const cpus = new Map<string, Cpu>();
let entryCompiled = false;

/** Whether the last case's entry block was JIT-compiled by its final run (so the "compiled" result is one). */
export function lastEntryCompiled(): boolean {
  return entryCompiled;
}
let endAddr = 0;
let done = false;
let fault: number | null = null;
let errorCode = 0;
let faultRip = 0n;
let cr2 = 0n;

/** An emulator result with what the exception hook saw at a fault. */
export interface EmuResult extends DiffResult {
  errorCode: number;
  faultRip: bigint;
  cr2: bigint;
}

const hooks: CpuHooks = {
  instruction: () => false,
  exception(c, vector, err, _hasErr, op) {
    if (vector === 3 && op !== null && op.addr === endAddr) done = true;
    else {
      fault = vector;
      errorCode = err;
      faultRip = c.getRip();
      cr2 = (BigInt(c.cr2Hi >>> 0) << 32n) | BigInt(c.cr2Lo >>> 0);
    }
    c.requestStop();
    return true;
  },
  eptViolation() {
    throw new Error('no EPT in the diff harness');
  },
};

function set64(dv: DataView, at: number, lo: number, hi: number): void {
  dv.setUint32(at, lo >>> 0, true);
  dv.setUint32(at + 4, hi >>> 0, true);
}

/** 4 KiB user pages: virtual [va, +pages) -> physical [pa, +pages). */
function map(dv: DataView, next: { table: number }, va: bigint, pa: number, pages: number, writable: boolean, exec: boolean): void {
  for (let p = 0; p < pages; p++) {
    const v = va + BigInt(p * 4096);
    let table = PML4;
    for (const shift of [39n, 30n, 21n]) {
      const at = table + Number((v >> shift) & 511n) * 8;
      let e = dv.getUint32(at, true);
      if ((e & 1) === 0) {
        next.table += 4096;
        e = next.table | 7;
        set64(dv, at, e, 0);
      }
      table = e & ~0xfff;
    }
    set64(dv, table + Number((v >> 12n) & 511n) * 8, (pa + p * 4096) | 1 | 4 | (writable ? 2 : 0), exec ? 0 : 0x80000000);
  }
}

function machine(tc: DiffCase): Cpu {
  const key = (tc.advertise ?? []).join('+');
  const have = cpus.get(key);
  if (have) return have;
  const c = new Cpu({ memoryBytes: MEM, cpuid: cpuidFor(defaultCpuid(), tc.advertise) });
  c.hooks = hooks;
  const dv = new DataView(c.mmu.u8.buffer);
  const next = { table: PML4 };
  map(dv, next, CODE_BASE, CODE_PHYS, CODE_PAGES, false, true);
  map(dv, next, DATA_BASE, DATA_PHYS, Math.ceil(DATA_BYTES / 4096), true, false);
  c.setCr3(PML4);
  c.syncPaging();
  c.setCpl(3);
  c.cs = 0x33;
  c.ss = 0x2b;
  c.mmu.u8.fill(0xcc, CODE_PHYS, CODE_PHYS + CODE_PAGES * 4096);
  cpus.set(key, c);
  return c;
}

/** Initial state of a case in the CPU's own register representation (set once, reused for every run). */
interface Init {
  lo: Int32Array;
  hi: Int32Array;
  rflags: number;
}

function once(c: Cpu, tc: DiffCase, init: Init, collect: boolean): EmuResult | null {
  c.mmu.u8.set(tc.mem, DATA_PHYS);
  c.lo.set(init.lo);
  c.hi.set(init.hi);
  c.setRflags(init.rflags);
  // FP cases: user mode as Linux sets it up (FXSAVE/SSE enabled, #XM for unmasked SIMD exceptions), state from the image.
  if (tc.fx !== undefined) {
    c.cr4 |= Cr4.OSFXSR | Cr4.OSXMMEXCPT;
    c.ds = 0;
    if (!loadFxImage(c, tc.fx, true)) throw new Error(`${tc.name}: FXSAVE image with reserved MXCSR bits`);
  }
  c.rip = END;
  done = false;
  fault = null;
  errorCode = 0;
  faultRip = 0n;
  cr2 = 0n;
  c.cr2Lo = 0;
  c.cr2Hi = 0;
  const stop = c.run(c.icount + MAX_STEPS);
  if (!done && fault === null) throw new Error(`${tc.name}: stopped (${String(stop)}) before reaching the end`);
  if (!collect) return null;
  const regs: bigint[] = [];
  for (let r = 0; r < 16; r++) regs.push(c.getReg(r));
  let fx: Uint8Array | undefined;
  if (tc.fx !== undefined) {
    fx = new Uint8Array(512);
    fxImage(c, fx, true);
  }
  return { regs, rflags: BigInt(c.getRflags()) & FLAGS_MASK, mem: c.mmu.u8.slice(DATA_PHYS, DATA_PHYS + DATA_BYTES), fault, errorCode, faultRip, cr2, fx };
}

/**
 * Run the case as whole blocks: the first run interpreted, then (after JIT_THRESHOLD - 1 more runs from the
 * same initial state) once more with its blocks compiled. Returns both results.
 */
export function runEmulatedBlocks(tc: DiffCase): { interpreted: EmuResult; compiled: EmuResult } {
  const c = machine(tc);
  const code = tc.emuCode ?? tc.code;
  if (code.length + 1 > CODE_PAGES * 4096) throw new Error(`${tc.name}: code too long`);
  const u8 = c.mmu.u8;
  u8.fill(0xcc, CODE_PHYS, CODE_PHYS + Math.min(CODE_PAGES * 4096, code.length + 64));
  u8.set(code, CODE_PHYS);
  c.cache.clear();
  endAddr = END + code.length;
  c.jitEnabled = true;
  const init: Init = { lo: new Int32Array(16), hi: new Int32Array(16), rflags: Number(tc.rflags & FLAGS_MASK) | 0x202 };
  for (let r = 0; r < 16; r++) {
    init.lo[r] = Number(BigInt.asUintN(32, tc.regs[r])) | 0;
    init.hi[r] = Number(BigInt.asUintN(32, tc.regs[r] >> 32n)) | 0;
  }
  const interpreted = once(c, tc, init, true) as EmuResult;
  for (let k = 1; k < JIT_THRESHOLD; k++) once(c, tc, init, false);
  const compiled = once(c, tc, init, true) as EmuResult;
  entryCompiled = c.cache.blockAt(END).jit !== null;
  // Leave the code area as INT3s for the next case.
  u8.fill(0xcc, CODE_PHYS, CODE_PHYS + code.length);
  return { interpreted, compiled };
}
