// VMX-layer overhead: the same guest workload on the machine (exit policy consulted for every exitable
// instruction, exits counted and costed, no subscribers) vs on the bare CPU (no hooks), in one run.

import { Bench } from 'tinybench';
import { Cpu, Stop } from '../src/emulator/cpu/Cpu.js';
import { Machine, type Environment } from '../src/emulator/machine.js';
import { Vmcs } from '../src/emulator/vmx/Vmcs.js';
import { PinBased, ProcBased } from '../src/emulator/vmx/controls.js';
import { enterGuest } from '../src/hypervisor/boot.js';
import { loadGuest } from '../src/hypervisor/loader.js';
import { vmcsPolicy } from '../src/hypervisor/vmcsPolicy.js';
import { getWorkload, loadOptions } from '../src/hypervisor/workloads.js';
import { figure } from './figure.js';

// 200k Dhrystone runs (~95M guest instructions): long enough that boot and first decode do not dominate.
const WORKLOAD = 'dhrystone:runs=200000';

function stubEnv(onPowerOff: () => void): Environment {
  return {
    nextEventAt: () => Infinity,
    advanceTo: () => false,
    portIn: () => 0xffffffff,
    portOut: (p) => {
      if (p === 0x500) onPowerOff();
      return false;
    },
    deviceAt: () => 'none',
    inRaisedIrq: false,
    pendingVector: () => -1,
    acknowledge: () => -1,
  };
}

function onMachine(): number {
  const w = getWorkload(WORKLOAD);
  const vmcs = new Vmcs();
  vmcs.pinBasedControls |= PinBased.EXTERNAL_INTERRUPT_EXITING;
  vmcs.primaryProcessorBasedControls |= ProcBased.HLT_EXITING | ProcBased.UNCONDITIONAL_IO_EXITING;
  let m: Machine | null = null;
  m = new Machine(stubEnv(() => m?.stop('guest-exit')), {
    memoryBytes: w.memBytes, cyclesPerInstruction: 1, policy: vmcsPolicy(vmcs), costModel: { exitCost: () => 2000 },
  });
  enterGuest(m.cpu, loadGuest(m.cpu.mmu.u8, loadOptions(w, 1_000_000_000)));
  return m.run().icount;
}

function onBareCpu(): number {
  const w = getWorkload(WORKLOAD);
  const cpu = new Cpu({ memoryBytes: w.memBytes });
  let off = false;
  cpu.io = { portIn: () => 0xffffffff, portOut: (p) => { if (p === 0x500) { off = true; cpu.requestStop(); } } };
  enterGuest(cpu, loadGuest(cpu.mmu.u8, loadOptions(w, 1_000_000_000)));
  while (!off) {
    const s = cpu.run(Infinity);
    if (s === Stop.tripleFault || s === Stop.halt) throw new Error(`bare CPU stopped: ${s}`);
  }
  return cpu.icount;
}

export async function run(): Promise<void> {
  const n = onMachine();
  if (onBareCpu() !== n) throw new Error('machine and bare CPU executed different instruction counts');
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  bench.add('bare CPU', onBareCpu);
  bench.add('machine (VMX layer, no subscribers)', onMachine);
  await bench.run();
  console.table(bench.table());
  const mean = (name: string): number => {
    const r = bench.tasks.find((t) => t.name === name)?.result as { latency?: { mean: number } } | undefined;
    return r?.latency?.mean ?? NaN;
  };
  const bare = mean('bare CPU');
  const vm = mean('machine (VMX layer, no subscribers)');
  console.log(`${WORKLOAD}: ${n} guest instructions; bare ${(n / bare / 1e3).toFixed(1)} MIPS, machine ${(n / vm / 1e3).toFixed(1)} MIPS`);
  figure('vmx.overhead', vm / bare, 'x');
}
