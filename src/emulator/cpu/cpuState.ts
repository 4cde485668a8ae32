// The CPU's architectural state as plain data (checkpoints: msgpackr-encodable, no BigInt), and back.
// Decoded code and TLB contents are caches, not state: restoring drops them.

import type { Cpu } from './Cpu.js';
import { loadFpu, saveFpu, type FpuState } from './fpu/fpuState.js';

/** Scalar fields saved by name. */
const FIELDS = [
  'rip', 'fk', 'fsz', 'fd', 'fdh', 'fs', 'fsh', 'fr', 'frh', 'fx', 'flagsOther',
  'cs', 'ss', 'ds', 'es', 'fsSel', 'gsSel', 'fsBaseLo', 'fsBaseHi', 'gsBaseLo', 'gsBaseHi', 'kernelGsBaseLo', 'kernelGsBaseHi',
  'cpl', 'cr0', 'cr2Lo', 'cr2Hi', 'cr3', 'cr4', 'cr8', 'efer',
  'gdtrBaseLo', 'gdtrBaseHi', 'gdtrLimit', 'idtrBaseLo', 'idtrBaseHi', 'idtrLimit', 'tr', 'trBaseLo', 'trBaseHi', 'trLimit', 'ldtr',
  'fmask', 'tscAux', 'tscOffset', 'icount', 'shadowUntil',
] as const;

/** Fields added later: optional in a checkpoint, their reset value when absent. */
const LATER_FIELDS = { dr6: 0xffff0ff0 | 0, dr7: 0x400, ioIcount: 0 } as const;

export interface CpuState {
  regs: number[];
  fields: Record<string, number>;
  star: [number, number];
  lstar: [number, number];
  cstar: [number, number];
  apicBase: [number, number];
  halted: boolean;
  irqPending: boolean;
  /** x87 and SSE registers (absent in checkpoints from before the FPU: reset state). */
  fpu?: FpuState;
  /** MSRs of the Linux CPU model (absent in older checkpoints: their reset values). */
  msrs?: { featureControl: number; miscEnable: number; sysenterCs: number; sysenterEsp: [number, number]; sysenterEip: [number, number] };
}

export function saveCpuState(cpu: Cpu): CpuState {
  const fields: Record<string, number> = {};
  for (const f of FIELDS) fields[f] = cpu[f];
  for (const f of Object.keys(LATER_FIELDS) as Array<keyof typeof LATER_FIELDS>) fields[f] = cpu[f];
  for (let i = 0; i < 4; i++) (fields[`dr${i}lo`] = cpu.drLo[i]!, fields[`dr${i}hi`] = cpu.drHi[i]!);
  return {
    regs: [...cpu.lo, ...cpu.hi],
    fields,
    star: [cpu.star.lo, cpu.star.hi],
    lstar: [cpu.lstar.lo, cpu.lstar.hi],
    cstar: [cpu.cstar.lo, cpu.cstar.hi],
    apicBase: [cpu.apicBase.lo, cpu.apicBase.hi],
    halted: cpu.halted,
    irqPending: cpu.irqPending,
    fpu: saveFpu(cpu),
    msrs: {
      featureControl: cpu.featureControl, miscEnable: cpu.miscEnable, sysenterCs: cpu.sysenterCs,
      sysenterEsp: [cpu.sysenterEsp.lo, cpu.sysenterEsp.hi], sysenterEip: [cpu.sysenterEip.lo, cpu.sysenterEip.hi],
    },
  };
}

export function loadCpuState(cpu: Cpu, s: CpuState): void {
  if (!Array.isArray(s.regs) || s.regs.length !== 32) throw new Error('checkpoint: CPU registers missing or damaged');
  for (let r = 0; r < 16; r++) {
    cpu.lo[r] = s.regs[r];
    cpu.hi[r] = s.regs[16 + r];
  }
  for (const f of FIELDS) {
    const v = s.fields[f];
    if (typeof v !== 'number') throw new Error(`checkpoint: CPU field ${f} missing`);
    (cpu as unknown as Record<string, number>)[f] = v;
  }
  for (const [f, reset] of Object.entries(LATER_FIELDS)) (cpu as unknown as Record<string, number>)[f] = s.fields[f] ?? reset;
  for (let i = 0; i < 4; i++) (cpu.drLo[i] = s.fields[`dr${i}lo`] ?? 0, cpu.drHi[i] = s.fields[`dr${i}hi`] ?? 0);
  cpu.star = { lo: s.star[0], hi: s.star[1] };
  cpu.lstar = { lo: s.lstar[0], hi: s.lstar[1] };
  cpu.cstar = { lo: s.cstar[0], hi: s.cstar[1] };
  cpu.apicBase = { lo: s.apicBase[0], hi: s.apicBase[1] };
  cpu.halted = s.halted;
  cpu.irqPending = s.irqPending;
  loadFpu(cpu, s.fpu);
  const r = s.msrs ?? { featureControl: 0, miscEnable: 1, sysenterCs: 0, sysenterEsp: [0, 0], sysenterEip: [0, 0] };
  cpu.featureControl = r.featureControl;
  cpu.miscEnable = r.miscEnable;
  cpu.sysenterCs = r.sysenterCs;
  cpu.sysenterEsp = { lo: r.sysenterEsp[0], hi: r.sysenterEsp[1] };
  cpu.sysenterEip = { lo: r.sysenterEip[0], hi: r.sysenterEip[1] };
  cpu.syncPaging();
  cpu.mmu.setUser(cpu.cpl === 3);
  cpu.mmu.flushTlb();
  cpu.cache.clear();
}
