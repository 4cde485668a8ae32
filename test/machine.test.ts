// The machine with the real guest kernel, on a stub environment (console and power-off only, no device
// events): exits fire under the policy and only then, two runs give the same exit sequence, the guest
// prints what its workload expects.

import { describe, expect, it } from 'vitest';
import { Exitable } from '../src/emulator/cpu/arch.js';
import { Machine, Reason, type Environment, type ExitPolicy } from '../src/emulator/machine.js';
import { enterGuest } from '../src/hypervisor/boot.js';
import { loadGuest } from '../src/hypervisor/loader.js';
import { getWorkload, loadOptions } from '../src/hypervisor/workloads.js';
import type { ExitEvent } from '../src/hypervisor/events.js';

function stubMachine(workload: string, policy: ExitPolicy): { m: Machine; exits: Array<[number, number, number]> } {
  const w = getWorkload(workload);
  let m: Machine | null = null;
  const env: Environment = {
    nextEventAt: () => Infinity,
    advanceTo: () => false,
    portIn: (p) => (p === 0x3fd ? 0x60 : 0xffffffff),
    portOut: (p, _s, v) => {
      if (p === 0x3f8) m?.publishConsole(new Uint8Array([v & 255]));
      if (p === 0x500) m?.stop('guest-exit', v);
      return false;
    },
    deviceAt: () => 'none',
    inRaisedIrq: false,
    pendingVector: () => -1,
    acknowledge: () => -1,
  };
  m = new Machine(env, { memoryBytes: w.memBytes, cyclesPerInstruction: 1, maxInstructions: 50_000_000, policy,
    costModel: { exitCost: (r) => 1000 + r } });
  enterGuest(m.cpu, loadGuest(m.cpu.mmu.u8, loadOptions(w, 1_000_000_000)));
  const exits: Array<[number, number, number]> = [];
  m.subscribe({ onExit: (e: ExitEvent) => exits.push([e.icount, e.reason, e.words[42]]) });
  return { m, exits };
}

const all: ExitPolicy = { instructionExits: () => true, exceptionExits: () => false, externalInterruptExiting: true };

describe('machine on the guest kernel (stub devices)', () => {
  it('runs the syscall workload to power-off with the expected console output', () => {
    const { m } = stubMachine('syscall', all);
    const r = m.run();
    expect(r.reason).toBe('guest-exit');
    expect(r.status).toBe(0);
    for (const line of getWorkload('syscall').expect) expect(m.consoleText()).toContain(line);
    // Port I/O to the console and WRMSRs of the kernel's setup are there; the ground-truth port never exits.
    expect(m.exitsByReason.get(Reason.ioInstruction) ?? 0).toBeGreaterThan(50);
    expect(m.exitsByReason.get(Reason.wrmsr) ?? 0).toBeGreaterThan(0);
    expect(r.cycles).toBe(r.icount + [...m.exitsByReason].reduce((s, [reason, n]) => s + n * (1000 + reason), 0));
  });

  it('two runs give the same exit sequence, and the guest executes the same instructions with fewer exits', () => {
    const a = stubMachine('syscall', all);
    const b = stubMachine('syscall', all);
    const ra = a.m.run();
    const rb = b.m.run();
    expect(rb.icount).toBe(ra.icount);
    expect(b.exits).toEqual(a.exits);
    const onlyIo: ExitPolicy = { instructionExits: (k) => k === Exitable.io, exceptionExits: () => false, externalInterruptExiting: true };
    const c = stubMachine('syscall', onlyIo);
    const rc = c.m.run();
    expect(rc.icount).toBe(ra.icount);
    expect(c.m.consoleText()).toBe(a.m.consoleText());
    expect(new Set(c.exits.map((e) => e[1]))).toEqual(new Set([Reason.ioInstruction]));
    expect(c.exits).toEqual(a.exits.filter((e) => e[1] === Reason.ioInstruction));
  });
});
