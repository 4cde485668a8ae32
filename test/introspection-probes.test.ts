// Probes (DecodeCache.setProbe) are invisible to the guest: the same workload with and without a probe retires
// the same instructions, exits at the same places and prints the same console, while the probe sees every
// execution of its instruction. The guest kernel's own ground truth is the witness for the count: it reports
// one GT_SYSCALL per system call, and syscall_dispatch runs once per system call.

import { describe, expect, it } from 'vitest';
import { assemble } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { GroundTruthType } from '../src/emulator/events.js';

function run(probe: boolean) {
  const a = assemble({ workload: 'pipe', exitPreset: 'kvm-default', costModel: 'modern', maxInstructions: 400_000_000 },
    (m, w) => new LiveEnvironment(m, w));
  const exits: string[] = [];
  let gtSyscalls = 0;
  a.machine.subscribe({
    onExit: (e) => exits.push(`${e.icount}:${e.reason}:${e.cycles}:${Array.from(e.words).join(',')}`),
    onGroundTruth: (e) => { if (e.type === GroundTruthType.syscall) gtSyscalls++; },
  });
  let hits = 0;
  const icounts: number[] = [];
  if (probe) {
    const addr = a.loaded.symbols.get('syscall_dispatch');
    expect(addr, 'the guest kernel image has a syscall_dispatch symbol').toBeDefined();
    a.machine.cpu.cache.setProbe(Number(BigInt.asIntN(64, addr!)), (_cpu, icount) => { hits++; icounts.push(icount); });
  }
  const r = a.machine.run();
  return { r, exits, console: a.machine.consoleText(), icount: a.machine.cpu.icount, hits, icounts, gtSyscalls };
}

describe('probes', () => {
  it('see every execution of the probed instruction and change nothing the guest can observe', () => {
    const plain = run(false);
    const probed = run(true);
    expect(probed.r.reason).toBe(plain.r.reason);
    expect(probed.icount).toBe(plain.icount);
    expect(probed.console).toBe(plain.console);
    expect(probed.exits).toEqual(plain.exits);
    expect(probed.gtSyscalls).toBeGreaterThan(100);
    expect(probed.hits).toBe(probed.gtSyscalls);
    // icounts are exact and increasing (one per execution)
    for (let i = 1; i < probed.icounts.length; i++) expect(probed.icounts[i]).toBeGreaterThan(probed.icounts[i - 1]);
  });
});
