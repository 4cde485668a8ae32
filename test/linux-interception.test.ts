// Syscall interception on Debian's unmodified Linux 6.1 (src/hypervisor/interception on the real
// entry_SYSCALL_64): linux:run=syscall recorded once per strategy, each recording's intercepted syscalls checked
// against two oracles nobody here wrote: the kernel's own dispatch (the ground-truth probe on do_syscall_64:
// every system call the kernel ran, whatever the strategy did) and the program's own source (guest/user/prog/
// syscall.c: getpid, 20000 getpids, getppid, gettid, one write, exit_group). The guest must not notice: the
// kernel's ground truth and the console are the same under every strategy. Each recording replays clean
// (from the start, or from its checkpoint before the program).
// The kernel's syscall names come from its sys_call_table, checked against the C library's <asm/unistd_64.h>
// of the same kernel version (linux-libc-dev 6.1.192-3).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { assemble, resolveWorkload } from '../src/replay/Session.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import type { Selective } from '../src/hypervisor/interception/selective.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { LinuxKernel } from '../src/introspection/LinuxKernel.js';
import { SyscallTable } from '../src/introspection/syscallTable.js';
import { textRodataGap } from '../src/hypervisor/linux/linuxGuestKernel.js';
import { SELECTIVE_DEFAULT } from '../src/analyses/compareInterception.js';
import type { RunResult } from '../src/emulator/machine.js';
import type { Footprint } from '../src/hypervisor/interception/index.js';

const haveImage = existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'));
if (!haveImage) console.warn('linux-interception tests skipped: no Linux guest image under guest/images/linux');
const UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';

const STRATEGIES = ['handler-injection', 'fill-the-gap', 'double-swap', 'selective', 'nitro'] as const;
/** selective: the life-cycle calls compare-interception uses, plus one only the program makes. */
const SELECTED = [...SELECTIVE_DEFAULT, 'getppid'];

interface Call { icount: number; number: number; cr3: number; exits?: number }

async function intercepted(dir: string): Promise<Call[]> {
  const out: Call[] = [];
  for await (const b of TraceReader.open(dir).scan('syscalls', ['icount', 'number', 'cr3', 'exits'])) {
    const c = b.columns;
    for (let i = 0; i < b.length; i++) out.push({ icount: c.icount!.number(i), number: c.number!.number(i), cr3: c.cr3!.number(i), exits: c.exits!.number(i) });
  }
  return out;
}

/** The kernel's own account: do_syscall_64's probe (syscall events) and the exec of the program. */
async function truth(dir: string): Promise<{ calls: Call[]; programCr3: number }> {
  const calls: Call[] = [];
  let programCr3 = -1;
  for await (const b of TraceReader.open(dir).scan('ground_truth', ['icount', 'type_name', 'a0', 'cr3', 'name'])) {
    const c = b.columns;
    for (let i = 0; i < b.length; i++) {
      const type = c.type_name!.string(i);
      if (type === 'syscall') calls.push({ icount: c.icount!.number(i), number: Number(c.a0!.bigint(i)), cr3: c.cr3!.number(i) });
      if (type === 'exec' && c.name!.string(i) === 'syscall') programCr3 = c.cr3!.number(i);
    }
  }
  return { calls, programCr3 };
}

describe.skipIf(!haveImage)('syscall interception on Linux', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-linux-intercept-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const config = { workload: 'linux:run=syscall', exitPreset: 'kvm-default', costModel: 'modern' };
  // Keep what the checks need, not the machines (256 MiB of guest memory each).
  const runs = new Map<string, { result: RunResult; footprint: Footprint }>();
  let vmlinux: Uint8Array | undefined;
  for (const s of STRATEGIES) {
    const r = await recordTrace({ ...config, intercept: s, syscalls: s === 'selective' ? SELECTED : undefined }, join(root, s));
    runs.set(s, { result: r.result, footprint: r.assembled.strategy.footprint() });
    vmlinux ??= r.assembled.workload.linux!.vmlinux!;
  }
  const kernel = LinuxKernel.of(vmlinux!);
  const table = SyscallTable.of(kernel);
  const n = (name: string): number => table.number(name);
  const rows = (s: string): number => TraceReader.open(join(root, s)).rowCount('syscalls');

  it.skipIf(!existsSync(UNISTD))('names syscalls from the kernel\'s sys_call_table as <asm/unistd_64.h> numbers them', () => {
    // Entry points named otherwise than syscall_64.tbl's call (arch/x86/entry/syscalls/syscall_64.tbl).
    const entryPoint: Record<string, string> = { sendfile: 'sendfile64', umount2: 'umount' };
    let checked = 0;
    for (const m of readFileSync(UNISTD, 'utf8').matchAll(/^#define __NR_(\w+) (\d+)$/gm)) {
      const [name, nr] = [m[1]!, Number(m[2])];
      if (table.names[nr] === null) continue; // not built into this kernel (ni_syscall)
      expect([name, `new${name}`, entryPoint[name]], `${name} = ${nr}`).toContain(table.name(nr));
      expect(table.number(name in entryPoint ? entryPoint[name]! : name)).toBe(nr);
      checked++;
    }
    expect(checked).toBeGreaterThan(300);
    expect(table.number('uname')).toBe(table.number('newuname'));
  });

  it.skipIf(!existsSync(UNISTD))('selective takes the names the kernel has, ours does not (mount, uname), numbered as <asm/unistd_64.h> says', async () => {
    const header = readFileSync(UNISTD, 'utf8');
    const nr = (name: string): number => Number(new RegExp(`^#define __NR_${name} (\\d+)$`, 'm').exec(header)![1]);
    const a = assemble(await resolveWorkload({ ...config, intercept: 'selective', syscalls: ['mount', 'uname', 'getpid'] }), (m, w) => new LiveEnvironment(m, w));
    expect((a.strategy as Selective).selected).toEqual([nr('mount'), nr('uname'), nr('getpid')]);
    await expect(resolveWorkload({ ...config, intercept: 'selective', syscalls: ['no_such_call'] })
      .then((c) => assemble(c, (m, w) => new LiveEnvironment(m, w)))).rejects.toThrow(/unknown syscall "no_such_call" in this kernel's sys_call_table/);
  });

  it('finds the syscall entry and the handler page from the kernel itself', () => {
    for (const s of STRATEGIES) {
      const notes = runs.get(s)!.footprint.notes.join('; ');
      expect(notes, s).not.toMatch(/wrote LSTAR/); // the kernel wrote LSTAR = kallsyms' entry_SYSCALL_64
    }
    const gap = textRodataGap(kernel, 'console=ttyS0 rodata=off');
    expect('refused' in gap).toBe(false);
    if (!('refused' in gap)) {
      expect(gap.virt).toBeGreaterThan(kernel.symbols.address('_etext'));
      expect(gap.virt + 4096).toBeLessThanOrEqual(kernel.symbols.address('__start_rodata'));
    }
    const refused = textRodataGap(kernel, 'console=ttyS0');
    expect('refused' in refused && refused.refused).toMatch(/freed by mark_rodata_ro .* rodata=off/);
  });

  it('changes nothing the guest can see: the kernel\'s ground truth, console and icount are the same under every strategy', () => {
    const ref = runs.get('handler-injection')!;
    for (const s of STRATEGIES) {
      const r = runs.get(s)!;
      expect(r.result.reason, s).toBe('guest-exit');
      expect(r.result.icount, s).toBe(ref.result.icount);
      for (const f of ['ground_truth.arrow', 'console.txt']) {
        expect(readFileSync(join(root, s, f)).equals(readFileSync(join(root, 'handler-injection', f))), `${s} ${f}`).toBe(true);
      }
    }
    expect(readFileSync(join(root, 'handler-injection', 'console.txt'), 'utf8')).toMatch(/syscall: 20000 getpid calls, pid \d+ ppid 1, 0 wrong/);
  });

  for (const s of STRATEGIES) {
    it(`${s}: intercepts exactly the syscalls the kernel dispatched, and the program's own sequence`, async () => {
      const dir = join(root, s);
      const { calls, programCr3 } = await truth(dir);
      const seen = await intercepted(dir);
      const selected = new Set(SELECTED.map(n));
      const want = s === 'selective' ? calls.filter((c) => selected.has(c.number)) : calls;
      expect(want.length).toBeGreaterThan(s === 'selective' ? 3 : 20_000);
      expect(seen.length).toBe(want.length);
      // One to one and in order: same number and address space, the SYSCALL before do_syscall_64 ran for it
      // and after the previous call was dispatched.
      for (let i = 0; i < want.length; i++) {
        const [a, g] = [seen[i]!, want[i]!];
        if (a.number !== g.number || a.cr3 !== g.cr3 || a.icount >= g.icount || (i > 0 && a.icount <= want[i - 1]!.icount)) {
          expect({ i, seen: a }).toEqual({ i, seen: g });
        }
      }
      // guest/user/prog/syscall.c after its exec: getpid, the 20000-getpid loop, getppid, gettid, printf's
      // write, exit_group.
      const program = seen.filter((c) => c.cr3 === programCr3).map((c) => c.number);
      const source = [...new Array<number>(20_001).fill(n('getpid')), n('getppid'), n('gettid'), n('write'), n('exit_group')];
      expect(program).toEqual(s === 'selective' ? source.filter((x) => selected.has(x)) : source);
      const perCall = s === 'double-swap' || s === 'nitro' ? 2 : 1;
      expect(new Set(seen.map((c) => c.exits))).toEqual(new Set([perCall]));
    });
  }

  it('costs the exits each strategy should: one per syscall, two for double swap, nitro two per SYSRET', () => {
    const exits = (s: string): number => runs.get(s)!.result.exits;
    const calls = rows('handler-injection');
    expect(exits('fill-the-gap')).toBe(exits('handler-injection'));
    expect(exits('double-swap') - exits('handler-injection')).toBe(calls);
    // nitro's second exit is the SYSRET; execve and exit_group do not return through it (checked loosely).
    expect(exits('nitro') - exits('handler-injection')).toBeGreaterThan(calls - 10);
    expect(exits('nitro') - exits('handler-injection')).toBeLessThanOrEqual(calls);
    expect(exits('handler-injection') - exits('selective')).toBe(calls - rows('selective'));
  });

  it('reports the guest-visible footprint of each strategy on the real kernel', () => {
    const f = (s: string): Footprint => runs.get(s)!.footprint;
    expect(f('handler-injection').kernelTextBytesChanged).toBe(0);
    expect(f('handler-injection').injectedPageHiddenByEpt).toBe(true);
    expect(f('handler-injection').notes.join(' ')).toMatch(/text\/rodata gap/);
    expect(f('fill-the-gap').kernelTextBytesChanged).toBe(3);
    expect(f('double-swap').kernelTextBytesChanged).toBe(3);
    for (const s of STRATEGIES) expect(f(s).lstarVisibleToGuest, s).toBe('original');
  });

  // The two that patch kernel text or trap SYSCALL/SYSRET replay from the start; the others from the last
  // checkpoint before the program (their state restored from it: the handler, the planted gap), which covers
  // every syscall at a tenth of the cost.
  const FULL = new Set<string>(['double-swap', 'nitro']);
  for (const s of STRATEGIES) {
    it(`${s}: replays clean exit by exit${FULL.has(s) ? '' : ' from a checkpoint'}`, async () => {
      const rep = await replayTrace(join(root, s), { from: FULL.has(s) ? undefined : 380_000_000 });
      expect(rep.divergence).toBeNull();
      expect(rep.inputDivergence).toBeNull();
      expect(rep.clean).toBe(true);
      if (FULL.has(s)) expect(rep.matched).toBe(runs.get(s)!.result.exits);
      else expect(rep.startIcount).toBe(350_000_000);
      expect(rep.syscalls).toBe(rows(s));
    });
  }
}, 3_600_000);
