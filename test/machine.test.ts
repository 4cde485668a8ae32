// The machine with the real guest kernel, on a stub environment (console and power-off only, no device
// events): exits fire under the policy and only then, two runs give the same exit sequence, the guest
// prints what its workload expects.

import { describe, expect, it } from 'vitest';
import { Exitable } from '../src/emulator/cpu/arch.js';
import { Machine, type Environment, type ExitPolicy } from '../src/emulator/machine.js';
import { NO_EXIT } from '../src/emulator/vmx/Vmcs.js';
import { ExitReason, INSTRUCTION_EXIT_REASON } from '../src/emulator/vmx/exitReasons.js';
import { enterGuest } from '../src/hypervisor/boot.js';
import { loadGuest } from '../src/hypervisor/loader.js';
import { getWorkload, loadOptions } from '../src/hypervisor/workloads.js';
import type { ExitEvent } from '../src/emulator/events.js';

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

const all: ExitPolicy = { instructionExitReason: (k) => INSTRUCTION_EXIT_REASON[k], exceptionExits: () => false, externalInterruptExiting: true };

describe('machine on the guest kernel (stub devices)', () => {
  it('runs the syscall workload to power-off with the expected console output', () => {
    const { m } = stubMachine('syscall', all);
    const r = m.run();
    expect(r.reason).toBe('guest-exit');
    expect(r.status).toBe(0);
    for (const line of getWorkload('syscall').expect) expect(m.consoleText()).toContain(line);
    // Port I/O to the console and WRMSRs of the kernel's setup are there; the ground-truth port never exits.
    expect(m.exitsByReason.get(ExitReason.IO_INSTRUCTION) ?? 0).toBeGreaterThan(50);
    expect(m.exitsByReason.get(ExitReason.MSR_WRITE) ?? 0).toBeGreaterThan(0);
    expect(r.cycles).toBe(r.icount + [...m.exitsByReason].reduce((s, [reason, n]) => s + n * (1000 + reason), 0));
  });

  it('two runs give the same exit sequence, and the guest executes the same instructions with fewer exits', () => {
    const a = stubMachine('syscall', all);
    const b = stubMachine('syscall', all);
    const ra = a.m.run();
    const rb = b.m.run();
    expect(rb.icount).toBe(ra.icount);
    expect(b.exits).toEqual(a.exits);
    const onlyIo: ExitPolicy = { instructionExitReason: (k) => (k === Exitable.io ? INSTRUCTION_EXIT_REASON[k] : NO_EXIT), exceptionExits: () => false, externalInterruptExiting: true };
    const c = stubMachine('syscall', onlyIo);
    const rc = c.m.run();
    expect(rc.icount).toBe(ra.icount);
    expect(c.m.consoleText()).toBe(a.m.consoleText());
    expect(new Set(c.exits.map((e) => e[1]))).toEqual(new Set([ExitReason.IO_INSTRUCTION]));
    expect(c.exits).toEqual(a.exits.filter((e) => e[1] === ExitReason.IO_INSTRUCTION));
  });

  it('queueInterrupt: a VMM-chosen vector is injected when the guest can take it, and the guest handles it', () => {
    const run = () => {
      const { m, exits } = stubMachine('syscall', all);
      const injected: Array<[number, number]> = [];
      m.subscribe({ onInterrupt: (e) => injected.push([e.icount, e.vector]) });
      expect(m.queueInterrupt(7)).toBe(false); // exceptions are not injectable this way
      expect(m.queueInterrupt(256)).toBe(false);
      // queue while the kernel runs with IF clear (after its IDT is loaded): it waits for the window
      let queuedAt = -1;
      while (queuedAt < 0) {
        const r = m.run(m.cpu.icount + 5_000);
        expect(r.reason).toBe('paused');
        if (m.cpu.icount > 200_000 && m.cpu.cpl === 0 && !m.cpu.interruptsEnabled) {
          expect(m.queueInterrupt(48)).toBe(true);
          queuedAt = m.cpu.icount;
        }
      }
      expect(m.queuedVectors()).toEqual([48]);
      const r = m.run();
      expect(r.reason).toBe('guest-exit');
      expect(m.queuedVectors()).toEqual([]);
      return { m, exits, injected, queuedAt };
    };
    const a = run();
    expect(a.injected.filter(([, v]) => v === 48)).toHaveLength(1);
    const [at] = a.injected.find(([, v]) => v === 48)!;
    expect(at).toBeGreaterThan(a.queuedAt);
    // an interrupt-window exit (reason 7) at the injection's icount: the guest could not take it when queued
    expect(a.exits.some(([ic, reason]) => reason === ExitReason.INTERRUPT_WINDOW && ic === at)).toBe(true);
    // the guest kernel's vector-48 handler ran (guest-visible), and the workload still completed
    expect(a.m.consoleText()).toMatch(/kernel: hypervisor notification 1 \(vector 48\)/);
    for (const line of getWorkload('syscall').expect) expect(a.m.consoleText()).toContain(line);
    // deterministic: the same queueing gives the same exits and injections
    const b = run();
    expect(b.exits).toEqual(a.exits);
    expect(b.injected).toEqual(a.injected);
  });
});
