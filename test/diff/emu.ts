// The emulator side of the differential ISA tests: runs a DiffCase in user mode (CPL 3) on a bare Cpu with
// 4-level page tables mapping the code and scratch areas where the native harness maps them.

import { Cpu, Cr4, Stop } from '../../src/emulator/cpu/Cpu.js';
import { fxImage, loadFxImage } from '../../src/emulator/cpu/fpu/fpuState.js';
import type { CpuHooks } from '../../src/emulator/cpu/Cpu.js';
import { defaultCpuid } from '../../src/emulator/cpu/cpuModel.js';
import { CODE_BASE, DATA_BASE, DATA_BYTES, FLAGS_MASK, cpuidFor, type DiffCase, type DiffResult } from './types.js';

const MEM = 4 << 20;
const PML4 = 0x1000;
const CODE_PHYS = 0x100000;
const CODE_PAGES = 16;
const DATA_PHYS = 0x200000;
/** Stop a case that runs away (a jump loop) after this many instructions. */
const MAX_STEPS = 100_000;

let cpu: Cpu | null = null;
let faultVector: number | null = null;

const hooks: CpuHooks = {
  instruction: () => false,
  exception(c, vector) {
    faultVector = vector;
    c.requestStop();
    return true;
  },
  eptViolation() {
    throw new Error('no EPT in the diff harness');
  },
};

function pte(phys: number, flags: number): [number, number] {
  return [phys | flags, flags & 0x8000_0000 ? 0x80000000 : 0];
}

/** Map virtual [va, va + pages*4K) to physical [pa, ...) with 4 KiB pages, user-accessible. */
function mapPages(mem: DataView, next: { table: number }, va: bigint, pa: number, pages: number, writable: boolean, exec: boolean): void {
  for (let p = 0; p < pages; p++) {
    const v = va + BigInt(p * 4096);
    const idx = [Number((v >> 39n) & 511n), Number((v >> 30n) & 511n), Number((v >> 21n) & 511n), Number((v >> 12n) & 511n)];
    let table = PML4;
    for (let level = 0; level < 3; level++) {
      const at = table + idx[level] * 8;
      let e = mem.getUint32(at, true);
      if ((e & 1) === 0) {
        next.table += 4096;
        e = next.table | 7;
        mem.setUint32(at, e, true);
        mem.setUint32(at + 4, 0, true);
      }
      table = e & ~0xfff;
    }
    const at = table + idx[3] * 8;
    const [lo] = pte(pa + p * 4096, 1 | 4 | (writable ? 2 : 0));
    mem.setUint32(at, lo, true);
    mem.setUint32(at + 4, exec ? 0 : 0x80000000, true);
  }
}

function freshCpu(tc: DiffCase): Cpu {
  const c = new Cpu({ memoryBytes: MEM, cpuid: cpuidFor(defaultCpuid(), tc.advertise) });
  c.hooks = hooks;
  return c;
}

export function runEmulated(tc: DiffCase): DiffResult {
  // A fresh CPU per case is cheap enough and keeps cases independent (TLB, decoded code, A/D bits).
  cpu = freshCpu(tc);
  const c = cpu;
  const u8 = c.mmu.u8;
  const dv = new DataView(u8.buffer);
  const next = { table: PML4 };
  mapPages(dv, next, CODE_BASE, CODE_PHYS, CODE_PAGES, false, true);
  mapPages(dv, next, DATA_BASE, DATA_PHYS, Math.ceil(DATA_BYTES / 4096), true, false);
  const code = tc.emuCode ?? tc.code;
  if (code.length > CODE_PAGES * 4096) throw new Error(`${tc.name}: code too long`);
  u8.set(code, CODE_PHYS);
  // Past the end: INT3s, never reached since we stop at the end address.
  u8.fill(0xcc, CODE_PHYS + code.length, CODE_PHYS + CODE_PAGES * 4096);
  u8.set(tc.mem.subarray(0, DATA_BYTES), DATA_PHYS);
  c.setCr3(PML4);
  c.syncPaging();
  c.setCpl(3);
  c.cs = 0x33;
  c.ss = 0x2b;
  c.ds = 0; // a 64-bit Linux process runs with DS = 0 (FNSTENV/FNSAVE store it as FDS)
  for (let r = 0; r < 16; r++) c.setReg(r, tc.regs[r] ?? 0n);
  c.setRflags(Number(tc.rflags & FLAGS_MASK) | 0x202);
  c.setRip(CODE_BASE);
  // User mode as Linux sets it up: FXSAVE/SSE enabled, unmasked SIMD exceptions as #XM.
  c.cr4 |= Cr4.OSFXSR | Cr4.OSXMMEXCPT;
  if (tc.fx !== undefined && !loadFxImage(c, tc.fx, true)) throw new Error(`${tc.name}: FXSAVE image with reserved MXCSR bits`);
  const end = Number(CODE_BASE) + code.length;
  faultVector = null;
  let steps = 0;
  while (c.rip !== end && faultVector === null && steps < MAX_STEPS) {
    const stop = c.run(c.icount + 1);
    steps++;
    if (stop === Stop.tripleFault || stop === Stop.halt) break;
  }
  if (steps >= MAX_STEPS && faultVector === null) throw new Error(`${tc.name}: did not reach the end in ${MAX_STEPS} steps`);
  const regs: bigint[] = [];
  for (let r = 0; r < 16; r++) regs.push(c.getReg(r));
  return {
    regs,
    rflags: BigInt(c.getRflags()) & FLAGS_MASK,
    mem: u8.slice(DATA_PHYS, DATA_PHYS + DATA_BYTES),
    fault: faultVector,
    fx: tc.fx !== undefined ? fxOut(c) : undefined,
  };
}

function fxOut(c: Cpu): Uint8Array {
  const img = new Uint8Array(512);
  fxImage(c, img, true);
  return img;
}
