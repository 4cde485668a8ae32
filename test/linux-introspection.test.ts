// Linux ground truth from probes (src/introspection/linuxProbes.ts) on a whole boot of Debian's kernel running
// the syscall program: the kernel's own lifecycle as the probes report it (pid 1 a kernel thread until it
// execs /init, the program forked by init, exec'd, ended by exit_group), invisible to the guest (the same
// instructions, exits and console with the probes off), agreeing with the task list walked out of guest
// memory at the end of the run and at four moments of its lifecycle (pslist: a different reader of the same
// kernel), and proctrack scored against it.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { pslistAtPoints } from '../src/analyses/pslist.js';
import { ANALYSES } from '../src/analyses/index.js';

const haveImage = existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'));
if (!haveImage) console.warn('linux-introspection tests skipped: no Linux guest image under guest/images/linux');

interface Gt { icount: number; type: string; pid: number; tid: number; ppid: number; cr3: number; a0: bigint; a1: bigint; name: string }

async function groundTruth(dir: string): Promise<Gt[]> {
  const out: Gt[] = [];
  for await (const b of TraceReader.open(dir).scan('ground_truth', ['icount', 'type_name', 'pid', 'tid', 'ppid', 'cr3', 'a0', 'a1', 'name'])) {
    const c = b.columns;
    for (let i = 0; i < b.length; i++) {
      out.push({ icount: c.icount!.number(i), type: c.type_name!.string(i)!, pid: c.pid!.number(i), tid: c.tid!.number(i), ppid: c.ppid!.number(i),
        cr3: c.cr3!.number(i), a0: c.a0!.bigint(i), a1: c.a1!.bigint(i), name: c.name!.string(i) ?? '' });
    }
  }
  return out;
}

/** The last context switch involving `tid` after its do_exit was away from it: it is parked inside do_exit. */
function parkedInExit(events: Gt[], tid: number): boolean {
  const exit = events.find((e) => e.type === 'thread_exit' && e.tid === tid);
  if (exit === undefined) return false;
  const last = events.filter((e) => e.type === 'context_switch' && e.icount >= exit.icount && (e.tid === tid || e.a1 === BigInt(tid))).at(-1);
  return last !== undefined && last.tid !== tid;
}

describe.skipIf(!haveImage)('Linux introspection on a whole boot', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-linux-gt-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // Handler injection makes every syscall an exit, so the VMM sees each user process: under kvm-default alone
  // the syscall program takes an exit only if a timer interrupt happens to land in it (it did until the
  // initramfs grew; then it ran between two ticks and proctrack, correctly, never saw it).
  const config = { workload: 'linux:run=syscall', exitPreset: 'kvm-default', costModel: 'modern', intercept: 'handler-injection' };
  const probed = await recordTrace(config, join(root, 'probed'));
  const plain = await recordTrace({ ...config, groundTruthProbes: false }, join(root, 'plain'));
  const gt = await groundTruth(join(root, 'probed'));

  it('the probes change nothing the guest can see', async () => {
    expect(probed.result.reason).toBe('guest-exit');
    expect(plain.result.icount).toBe(probed.result.icount);
    expect(plain.result.exits).toBe(probed.result.exits);
    for (const f of ['exits.arrow', 'io.arrow', 'interrupts.arrow', 'console.txt']) {
      expect(readFileSync(join(root, 'plain', f)).equals(readFileSync(join(root, 'probed', f))), f).toBe(true);
    }
    expect(TraceReader.open(join(root, 'plain')).rowCount('ground_truth')).toBe(0);
    expect(gt.length).toBeGreaterThan(100);
  });

  it('reports the kernel\'s lifecycle: init a kernel thread until it execs, the program forked, exec\'d and ended', () => {
    const init = gt.find((e) => e.type === 'proc_create' && e.pid === 1)!;
    expect(init.a0 & 1n).toBe(1n); // a kernel thread (no mm) at creation
    const initExec = gt.find((e) => e.type === 'exec' && e.pid === 1)!;
    expect(initExec.name).toBe('init');
    expect(initExec.cr3).toBeGreaterThan(0);
    const prog = gt.find((e) => e.type === 'exec' && e.name === 'syscall')!;
    const created = gt.find((e) => e.type === 'proc_create' && e.pid === prog.pid)!;
    expect(created.ppid).toBe(1);
    expect(created.a0 & 1n).toBe(0n);
    expect(prog.cr3).not.toBe(created.cr3); // exec replaces the address space
    const exit = gt.find((e) => e.type === 'proc_exit' && e.pid === prog.pid)!;
    expect(exit.a1).toBe(1n); // exit_group
    expect(exit.icount).toBeGreaterThan(prog.icount);
    // Context switches name tasks that exist: every switched-to pid was created (or is the idle task, pid 0).
    const known = new Set(gt.filter((e) => e.type === 'thread_create').map((e) => e.tid));
    known.add(0);
    for (const e of gt.filter((x) => x.type === 'context_switch')) expect(known.has(e.tid), `switch to ${e.tid}`).toBe(true);
  });

  // Moments of the lifecycle the probes report: mid-boot (pid 1 still a kernel thread), just after init's
  // exec, in the middle of the program's getpid loop, just after the program exited; and the end of the run.
  // One replay from the start reads all five (trace analyze <dir> pslist --at a,b,c,d,e).
  const at = (p: (e: Gt) => boolean): number => gt.find(p)!.icount;
  const initExec = at((e) => e.type === 'exec' && e.pid === 1);
  const progExec = at((e) => e.type === 'exec' && e.name === 'syscall');
  const progExit = at((e) => e.type === 'proc_exit' && e.name === 'syscall');
  const points = [Math.floor(initExec / 2), initExec + 1, Math.floor((progExec + progExit) / 2), progExit + 1];
  const lists = await pslistAtPoints(join(root, 'probed'), [...points, Infinity]);

  it('agrees with the task list walked from guest memory at the end of the run', () => {
    const list = lists[points.length]!;
    const init = list.tasks.find((t) => t.pid === 1)!;
    expect(init.comm).toBe('init');
    expect(init.cr3).toBe(gt.find((e) => e.type === 'exec' && e.pid === 1)!.cr3);
    // Every task alive in memory was created and not reaped per the probes (the idle task excepted).
    const dead = new Set(gt.filter((e) => e.type === 'thread_exit').map((e) => e.tid));
    const created = new Set(gt.filter((e) => e.type === 'thread_create').map((e) => e.tid));
    for (const t of list.tasks) if (t.pid !== 0) expect(created.has(t.pid) && !dead.has(t.pid), `task ${t.pid} ${t.comm}`).toBe(true);
    expect(list.tasks.some((t) => t.pid === 2 && t.comm === 'kthreadd')).toBe(true);
  });

  it('agrees with the task list walked from guest memory at several points of the run', () => {
    for (const [k, point] of points.entries()) {
      const list = lists[k]!;
      const x = list.icount;
      expect(x).toBeGreaterThanOrEqual(point);
      const before = gt.filter((e) => e.icount <= x);
      const created = new Map(before.filter((e) => e.type === 'thread_create').map((e) => [e.tid, e]));
      const exited = new Set(before.filter((e) => e.type === 'thread_exit').map((e) => e.tid));
      const listed = new Map(list.tasks.map((t) => [t.pid, t]));
      // Every listed task was created by then (the idle task excepted); every task created and not exited is listed.
      for (const t of list.tasks) if (t.pid !== 0) expect(created.has(t.pid), `@${x}: task ${t.pid} ${t.comm} listed, never created`).toBe(true);
      for (const tid of created.keys()) if (!exited.has(tid)) expect(listed.has(tid), `@${x}: live task ${tid} not listed`).toBe(true);
      for (const t of list.tasks) {
        if (t.pid === 0) continue;
        // An exited task still listed is a zombie (or dead, not yet released), or still inside do_exit: the
        // probes saw it switched away after entering do_exit and not run since (a kthread parked there).
        if (exited.has(t.pid)) expect(t.exitState !== 0 || parkedInExit(before, t.pid), `@${x}: exited task ${t.pid} ${t.comm}`).toBe(true);
        // Name and address space: the last create or exec the probes reported for it.
        const last = before.filter((e) => e.tid === t.pid && (e.type === 'thread_create' || e.type === 'exec')).at(-1)!;
        expect(t.cr3, `@${x}: cr3 of ${t.pid}`).toBe(last.cr3);
        if (last.type === 'exec') expect(t.comm, `@${x}: comm of ${t.pid}`).toBe(last.name);
        expect(t.tgid, `@${x}: tgid of ${t.pid}`).toBe(created.get(t.pid)!.pid);
        const proc = before.find((e) => e.type === 'proc_create' && e.pid === t.tgid);
        if (proc !== undefined && proc.ppid !== 0) expect(t.ppid, `@${x}: ppid of ${t.pid}`).toBe(proc.ppid);
      }
      const init = listed.get(1)!;
      if (x < initExec) {
        expect(init.mm).toBe(0); // still a kernel thread
      } else {
        expect(init.comm).toBe('init');
      }
      const prog = list.tasks.find((t) => t.comm === 'syscall');
      if (x > progExec && x < progExit) expect(prog?.exitState).toBe(0);
      if (x > progExit) expect(prog === undefined || prog.exitState !== 0 || parkedInExit(before, prog.pid)).toBe(true);
    }
  });

  it('scores proctrack against it: both user processes found, none invented', async () => {
    // --exec-link: the program's exec otherwise splits it into its pre- and post-exec address spaces.
    const res = await ANALYSES.proctrack!.run(join(root, 'probed'), { execLink: true });
    const t = res.tables.find((x) => x.name === 'strategies')!;
    const col = (n: string) => t.columns.findIndex((c) => c.name === n);
    const declared = t.rows.find((r) => r[0] === 'declared')!;
    expect(declared[col('true_procs')]).toBe(2);
    expect(declared[col('proc_precision')]).toBe(1);
    expect(declared[col('proc_recall')]).toBe(1);
  }, 600_000);
});
