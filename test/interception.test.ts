// Syscall-interception strategies (seed 004 section 6.2, GEARS, Nitro) on the real guest kernel. The oracle
// is the guest's own ground truth: every GT_SYSCALL the kernel reports must be seen by the strategy, with
// the same number, in the same order, from the same address space. Interception must not change what the
// guest executes: same instruction count, same console output, same ground truth as with `none`.

import { describe, expect, it } from 'vitest';
import { GroundTruthType, type SyscallEvent } from '../src/emulator/events.js';
import { assemble } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { getWorkload } from '../src/hypervisor/workloads.js';
import { STRATEGY_NAMES } from '../src/hypervisor/interception/index.js';
import { SYSCALLS } from '../src/hypervisor/interception/syscalls.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';
import { Exitable } from '../src/emulator/cpu/arch.js';
import type { Op } from '../src/emulator/cpu/Op.js';

interface Run {
  icount: number;
  exits: number;
  vmcallExits: number;
  udExits: number;
  console: string;
  status: number;
  gtSyscalls: Array<{ number: number; cr3: number }>;
  groundTruth: string;
  syscalls: SyscallEvent[];
  cycles: number;
}

function run(workload: string, intercept: string, syscalls: string[] = [], overrides: Record<string, number> = {}): Run {
  const a = assemble({ workload: getWorkload(workload, overrides), exitPreset: 'kvm-default', costModel: 'modern', intercept, syscalls, maxInstructions: 400_000_000 },
    (m, w) => new LiveEnvironment(m, w));
  const m = a.machine;
  const out: Run = { icount: 0, exits: 0, vmcallExits: 0, udExits: 0, console: '', status: -1, gtSyscalls: [], groundTruth: '', syscalls: [], cycles: 0 };
  const gt: string[] = [];
  m.subscribe({
    onExit: (e) => {
      if (e.reason === ExitReason.VMCALL) out.vmcallExits++;
      if (e.reason === ExitReason.EXCEPTION_NMI && (e.interruptionInfo & 0xff) === 6) out.udExits++;
    },
    onGroundTruth: (e) => {
      if (e.type === GroundTruthType.syscall) out.gtSyscalls.push({ number: e.a0, cr3: e.cr3 });
      gt.push(`${e.icount}:${e.type}:${e.pid}:${e.tid}:${e.a0}`);
    },
    onSyscall: (e) => out.syscalls.push({ ...e, args: e.args.slice() }),
  });
  const r = m.run();
  expect(r.reason, `${workload} under ${intercept}: ${r.detail}`).toBe('guest-exit');
  out.icount = r.icount;
  out.exits = r.exits;
  out.cycles = r.cycles;
  out.status = r.status;
  out.console = m.consoleText();
  out.groundTruth = gt.join('\n');
  return out;
}

const EXITS_PER_SYSCALL: Record<string, number> = { 'double-swap': 2, 'fill-the-gap': 1, 'handler-injection': 1, selective: 1, nitro: 2 };

describe.each(['syscall', 'mixed'])('interception on the %s workload', (workload) => {
  const overrides: Record<string, number> = workload === 'syscall' ? { n: 3000 } : {};
  const base = run(workload, 'none', [], overrides);

  it('the baseline sees no syscalls and the guest makes many', () => {
    expect(base.syscalls).toHaveLength(0);
    expect(base.gtSyscalls.length).toBeGreaterThan(workload === 'syscall' ? 3000 : 500);
    expect(base.status).toBe(0);
  });

  for (const name of STRATEGY_NAMES.filter((n) => n !== 'none' && n !== 'selective')) {
    it(`${name}: every syscall the ground truth reports, in order, with the guest unchanged`, () => {
      const r = run(workload, name, [], overrides);
      // The guest executed exactly the same instructions and printed the same.
      expect(r.icount).toBe(base.icount);
      expect(r.console).toBe(base.console);
      expect(r.groundTruth).toBe(base.groundTruth);
      // Completeness against the guest's own account.
      expect(r.syscalls.map((s) => s.number)).toEqual(r.gtSyscalls.map((s) => s.number));
      expect(r.syscalls.map((s) => s.cr3)).toEqual(r.gtSyscalls.map((s) => s.cr3));
      // Exits per syscall: the additional exits are exactly the strategy's.
      const k = EXITS_PER_SYSCALL[name]!;
      if (name === 'nitro') {
        // One #UD at each SYSCALL and one at each SYSRET (syscalls that return through IRETQ or never
        // return, such as exit and a successful execve, have no second exit).
        const added = r.udExits - base.udExits;
        expect(r.exits - base.exits).toBe(added);
        expect(added).toBeGreaterThan(r.syscalls.length);
        expect(added).toBeLessThanOrEqual(2 * r.syscalls.length);
      } else {
        expect(r.exits - base.exits).toBe(k * r.syscalls.length);
        expect(r.vmcallExits - base.vmcallExits).toBe(k * r.syscalls.length);
      }
      expect(r.syscalls.every((s) => s.exits === k)).toBe(true);
      // Logging work is charged to modelled time: more cycles than the baseline.
      expect(r.cycles).toBeGreaterThan(base.cycles);
    });
  }

  it('selective: exactly the selected syscalls, nothing else exits', () => {
    const selected = workload === 'syscall' ? ['getpid', 'exit_group'] : ['exit', 'exit_group', 'execve', 'clone', 'fork'];
    const numbers = new Set(selected.map((s) => SYSCALLS[s]!));
    const r = run(workload, 'selective', selected, overrides);
    expect(r.icount).toBe(base.icount);
    expect(r.console).toBe(base.console);
    const want = r.gtSyscalls.filter((s) => numbers.has(s.number));
    expect(want.length).toBeGreaterThan(0);
    expect(r.syscalls.map((s) => s.number)).toEqual(want.map((s) => s.number));
    expect(r.exits - base.exits).toBe(want.length);
  });
});

describe('interception records', () => {
  it('carry the Linux ABI registers: getpid from the syscall program, with its user stack and return address', () => {
    const r = run('syscall', 'handler-injection', [], { n: 200 });
    const getpid = r.syscalls.filter((s) => s.number === SYSCALLS.getpid);
    expect(getpid.length).toBeGreaterThanOrEqual(200);
    const last = getpid.at(-1)!;
    // User-mode addresses: the stack below 0x7ffffffff000, the return address in the program's text (0x400000+).
    const rsp = last.rspHi * 2 ** 32 + last.rspLo;
    const rip = last.ripHi * 2 ** 32 + last.ripLo;
    expect(rsp).toBeLessThan(0x7ffffffff000);
    expect(rsp).toBeGreaterThan(0x7ffffffff000 - 1024 * 1024);
    expect(rip).toBeGreaterThanOrEqual(0x400000);
    expect(rip).toBeLessThan(0x800000);
  });

  it('an unknown strategy or syscall name is a clear error', () => {
    expect(() => run('syscall', 'bogus')).toThrow(/unknown interception strategy 'bogus'/);
    expect(() => run('syscall', 'selective', ['not_a_syscall'])).toThrow(/unknown syscall "not_a_syscall"/);
    expect(() => run('syscall', 'selective', [])).toThrow(/name the syscalls/);
  });
});

describe('what the guest can see (footprint)', () => {
  // guest/user/prog/footprint.c: the kernel reads RDMSR(IA32_LSTAR) and hashes its own text for it.
  const seen = (intercept: string, syscalls: string[] = []): { lstar: string; fnv: string; stable: string; footprint: ReturnType<typeof footprintOf> } => {
    const a = assemble({ workload: 'footprint', exitPreset: 'kvm-default', costModel: 'modern', intercept, syscalls }, (m, w) => new LiveEnvironment(m, w));
    const r = a.machine.run();
    expect(r.reason).toBe('guest-exit');
    const m = /footprint: lstar ([0-9a-f]+) text fnv ([0-9a-f]+) (\w+)/.exec(a.machine.consoleText());
    expect(m, a.machine.consoleText()).not.toBeNull();
    return { lstar: m![1]!, fnv: m![2]!, stable: m![3]!, footprint: footprintOf(a) };
  };
  const footprintOf = (a: ReturnType<typeof assemble>) => a.strategy.footprint();
  const base = seen('none');

  it.each([
    ['handler-injection', [] as string[]], ['selective', ['getpid']], ['nitro', []], ['fill-the-gap', []], ['double-swap', []],
  ])('%s: RDMSR(LSTAR) shows the original handler; the kernel-text hash changes exactly when the strategy says it patched text', (name, sc) => {
    const s = seen(name, sc);
    expect(s.lstar).toBe(base.lstar);
    expect(s.stable).toBe('stable');
    expect(s.footprint.lstarVisibleToGuest).toBe('original');
    const patched = s.footprint.kernelTextBytesChanged > 0;
    expect(patched).toBe(name === 'fill-the-gap' || name === 'double-swap');
    expect(s.fnv !== base.fnv).toBe(patched);
  });
});

describe('a guest that moves its syscall entry', () => {
  // The guest rewrites LSTAR mid-run (as a kernel does that patches its entry or loads a module that
  // hooks it). The WRMSR is delivered to the strategy as the exit handler would deliver it.
  const MSR_LSTAR = 0xc0000082;
  function guestWritesLstar(a: ReturnType<typeof assemble>, lo: number, hi: number): void {
    const c = a.machine.cpu;
    // WRMSR is privileged: the exit only happens at CPL 0, so step to the next kernel-mode instruction
    // (a pause point can fall in user mode, where the kernel's text is not accessible).
    while (c.cpl !== 0) a.machine.run(c.icount + 1);
    const saved = [c.lo[0], c.hi[0], c.lo[1], c.hi[1], c.lo[2], c.hi[2]];
    const rip = c.rip;
    c.lo[1] = MSR_LSTAR; c.hi[1] = 0; c.lo[0] = lo; c.hi[0] = 0; c.lo[2] = hi; c.hi[2] = 0;
    expect(a.hypervisor.handleInstruction(a.machine, Exitable.wrmsr, { next: rip } as unknown as Op)).toBe(true);
    [c.lo[0], c.hi[0], c.lo[1], c.hi[1], c.lo[2], c.hi[2]] = saved as [number, number, number, number, number, number];
    c.rip = rip;
  }
  const guestLstar = (a: ReturnType<typeof assemble>): [number, number] => a.hypervisor.msrShadows.get(MSR_LSTAR) ?? [a.machine.cpu.lstar.lo >>> 0, a.machine.cpu.lstar.hi >>> 0];

  it.each(['double-swap', 'fill-the-gap', 'handler-injection', 'selective'])('%s: rewritten to the same entry, then to one without room and back: the run goes on and syscalls are seen again', (name) => {
    const a = assemble({ workload: getWorkload('syscall', { n: 6000 }), exitPreset: 'kvm-default', costModel: 'modern', intercept: name, syscalls: name === 'selective' ? ['getpid'] : [] },
      (m, w) => new LiveEnvironment(m, w));
    const seen: number[] = [];
    a.machine.subscribe({ onSyscall: (e) => seen.push(e.icount) });
    let r = a.machine.run(700_000);
    expect(r.reason).toBe('paused');
    const [lo, hi] = guestLstar(a);
    guestWritesLstar(a, lo, hi); // the same entry again
    r = a.machine.run(a.machine.cpu.icount + 300_000);
    const atMove = a.machine.cpu.icount;
    guestWritesLstar(a, (lo + 1) | 0, hi); // inside the entry: no gap before it, not a branch
    guestWritesLstar(a, lo, hi); // and back before any syscall uses it
    r = a.machine.run();
    expect(r.reason, r.detail).toBe('guest-exit');
    expect(a.machine.consoleText()).toContain('syscall: 6000 getpid calls');
    expect(seen.filter((i) => i > atMove).length).toBeGreaterThan(500);
    if (name === 'fill-the-gap') expect(a.strategy.footprint().notes.join(' ')).toMatch(/no 3-byte gap/);
  });
});
