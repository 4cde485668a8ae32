// CPUID, RDTSC, RDTSCP, RDMSR, WRMSR (SDM vol. 2): the instructions that read the processor's identity,
// its time-stamp counter and its model-specific registers. Each can exit (SDM vol. 3 26.1.2, 26.1.3).

import { type Instruction, Mnemonic } from 'iced-x86';
import type { Cpu } from '../Cpu.js';
import { Cr4, Exitable } from '../arch.js';
import type { Op } from '../Op.js';
import { type H, TWO32, gp0, hooked, set32, use } from './hooked.js';

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
  if (!cpu.readMsr(cpu.lo[1] >>> 0)) gp0(cpu);
  set32(cpu, 0, cpu.msrLo);
  set32(cpu, 2, cpu.msrHi);
};

const wrmsr: H = (cpu, op) => {
  cpu.requireCpl0();
  if (hooked(cpu, Exitable.wrmsr, op)) return;
  if (!cpu.writeMsr(cpu.lo[1] >>> 0, cpu.lo[0], cpu.lo[2])) gp0(cpu);
};

/** Decode CPUID/RDTSC(P)/RDMSR/WRMSR (all end their block: they can exit); null if `ins` is not one. */
export function decodeCpuidMsr(ins: Instruction, op: Op): boolean | null {
  switch (ins.mnemonic) {
    case Mnemonic.Cpuid: return use(op, 'cpuid', cpuid, true);
    case Mnemonic.Rdtsc: return use(op, 'rdtsc', rdtsc, true);
    case Mnemonic.Rdtscp: return use(op, 'rdtscp', rdtscp, true);
    case Mnemonic.Rdmsr: return use(op, 'rdmsr', rdmsr, true);
    case Mnemonic.Wrmsr: return use(op, 'wrmsr', wrmsr, true);
    default: return null;
  }
}
