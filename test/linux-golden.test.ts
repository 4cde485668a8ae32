// Golden outputs on a Linux trace (issue 15): Debian's kernel booting into our initramfs and running
// `spawn n=20` (the cheapest run with processes coming and going: 20 children forked, waited for and reaped),
// recorded under handler injection.
// A whole Linux run is ~390M instructions and its trace ~6 MB of tables besides the 8 MB kernel, too large to
// commit, so the trace is recorded here from the committed images (deterministic: byte-identical every time)
// and the analyses' outputs are what is committed: the exits summary, proctrack with every death strategy
// and the expiration sweep, pslist at moments of the run the probes' ground truth names. The same run also
// checks that the live trackers on a replay give the offline import's result, and that compare-interception
// resolves --syscalls with the kernel's own sys_call_table (names our guest's table does not have).
//
// UPDATE_GOLDEN=1 npx vitest run test/linux-golden.test.ts rewrites test/golden/linux-spawn.*.json. The goldens
// change whenever the committed Linux images (initramfs.cpio: /init, the programs) or the machine's behaviour
// change; regenerate them then, after checking the diff is what the change should do.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAnalysis } from '../src/cli/analyze.js';
import { formatJson } from '../src/analyses/output.js';
import { configsOf, parseProctrackOptions, proctrackResult, ProctrackRun } from '../src/analyses/proctrack.js';
import type { AnalysisResult, Cell } from '../src/analyses/result.js';
import { GroundTruthType } from '../src/emulator/events.js';
import { syscallNamer, syscallNumber } from '../src/hypervisor/interception/syscalls.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { traceCli } from './helpers/traceCli.js';

const haveImage = existsSync(join(import.meta.dirname, '..', 'guest', 'images', 'linux', 'manifest.json'));
if (!haveImage) console.warn('linux-golden tests skipped: no Linux guest image under guest/images/linux');

const WORKLOAD = 'linux:run=spawn,n=20';
const PROCTRACK = { death: 'all', expire: '1M,5M,20M', sampleEvery: '10M' };

type Row = Record<string, Cell>;
function rows(r: AnalysisResult, table: string): Row[] {
  const t = r.tables.find((x) => x.name === table);
  if (!t) throw new Error(`no table ${table}`);
  return t.rows.map((row) => Object.fromEntries(row.map((v, i) => [t.columns[i]!.name, v])));
}

interface Gt { icount: number; type: number; pid: number; name: string; a0: number }
function groundTruth(dir: string): Gt[] {
  const out: Gt[] = [];
  for (const b of TraceReader.open(dir).scan('ground_truth', ['icount', 'type', 'pid', 'name', 'a0'])) {
    const c = b.columns;
    for (let i = 0; i < b.length; i++) out.push({ icount: c.icount!.number(i), type: c.type!.number(i), pid: c.pid!.number(i), name: c.name!.string(i) ?? '', a0: Number(c.a0!.bigint(i)) });
  }
  return out;
}

describe.skipIf(!haveImage)(`golden outputs on a Linux trace (${WORKLOAD}, recorded from the committed images)`, { timeout: 1_800_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-linux-golden-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'spawn');
  // Under handler injection (no guest-visible footprint), so proctrack has the syscalls seed 004 6.1 tracks.
  const rec = await traceCli(['record', WORKLOAD, '--intercept', 'handler-injection', '-o', dir, '--checkpoint-every', '0']);

  function golden(name: string, r: AnalysisResult): void {
    const path = join(import.meta.dirname, 'golden', name);
    const text = formatJson(r).replaceAll(dir, '<trace>');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
    expect(existsSync(path), `${path} is missing (UPDATE_GOLDEN=1 writes it)`).toBe(true);
    expect(text).toBe(readFileSync(path, 'utf8'));
  }

  it('the recording ran the program with its parameter to a clean power-off', () => {
    expect(rec.status, rec.stderr).toBe(0);
    const console = readFileSync(join(dir, 'console.txt'), 'utf8');
    expect(console).toContain('spawn: 20 children, 20 exit statuses correct');
    expect(console).toContain('init: done, 0 failures');
    expect(TraceReader.open(dir).manifest.complete).toBe(true);
  });

  it('exits: the perf kvm stat summary, its counts the manifest\'s', async () => {
    const r = await runAnalysis(dir, 'exits');
    const m = TraceReader.open(dir).manifest;
    expect(rows(r, 'exit_stats').map((x) => [x.exit_reason, x.samples]).sort()).toEqual(m.exits_by_reason.map((e) => [e.reason, e.count]).sort());
    golden('linux-spawn.exits.json', r);
  });

  it('proctrack: every death strategy and the expiration sweep, scored against the probes\' ground truth', async () => {
    const r = await runAnalysis(dir, 'proctrack', PROCTRACK);
    // The user processes the probes report: init and the 20 + 1 spawn processes (the parent and its children).
    const declared = rows(r, 'strategies').find((x) => x.strategy === 'declared')!;
    expect(declared.true_procs).toBe(22);
    golden('linux-spawn.proctrack.json', r);
  });

  // Moments the ground truth names: mid-boot (pid 1 still a kernel thread), just after /init's exec, after
  // spawn's exec, after its 10th child's exit, and the end of the run (one replay reads all five).
  const gt = groundTruth(dir);
  const initExec = gt.find((e) => e.type === GroundTruthType.exec && e.pid === 1)!.icount;
  const spawnExec = gt.find((e) => e.type === GroundTruthType.exec && e.name === 'spawn')!.icount;
  const spawnPid = gt.find((e) => e.type === GroundTruthType.exec && e.name === 'spawn')!.pid;
  const exits = gt.filter((e) => e.type === GroundTruthType.procExit && e.pid !== spawnPid && e.icount > spawnExec);
  const points = [Math.floor(initExec / 2), initExec + 1, spawnExec + 1, exits[9]!.icount + 1];

  it('pslist at five moments of the run, from one replay', async () => {
    // The last point is the run's end: no exit follows it, so the list is the one at the end of the run.
    const r = await runAnalysis(dir, 'pslist', { at: [...points, TraceReader.open(dir).manifest.totals.icount].join(',') });
    const lists = r.tables.map((t) => rows(r, t.name));
    expect(lists).toHaveLength(5);
    // pid 1 a kernel thread mid-boot, init after its exec; spawn listed once it runs.
    expect(lists[0]!.find((t) => t.pid === 1)!.kernel_thread).toBe(true);
    expect(lists[1]!.find((t) => t.pid === 1)!.comm).toBe('init');
    expect(lists[2]!.some((t) => t.comm === 'spawn' && t.pid === spawnPid)).toBe(true);
    golden('linux-spawn.pslist.json', r);
  });

  it('live: the trackers attached to a replay give the offline import\'s result', async () => {
    const offline = await runAnalysis(dir, 'proctrack', PROCTRACK);
    const run = new ProctrackRun(configsOf(parseProctrackOptions(PROCTRACK)));
    const rep = await replayTrace(dir, { attach: (a) => { for (const o of run.observers) a.machine.subscribe(o); } });
    expect(rep.clean).toBe(true);
    const reader = TraceReader.open(dir);
    expect(run.truth.procs.length).toBeGreaterThan(20);
    expect(run.trackers[0]!.exitsSeen).toBe(reader.rowCount('exits'));
    const end = reader.manifest.totals.icount;
    const live = proctrackResult(offline.title, run, run.finish(end), end, syscallNamer(reader.manifest.extra));
    expect(formatJson(live)).toBe(formatJson(offline));
  });

  it('compare-interception --syscalls takes the kernel\'s own names (sys_call_table), and counts them against the probes', async () => {
    // Numbers from Linux's arch/x86/entry/syscalls/syscall_64.tbl; our guest's table has none of the first two.
    const want = { mount: 165, ioctl: 16, socket: 41, wait4: 61 };
    expect(() => syscallNumber('mount')).toThrow(/unknown syscall "mount"/);
    expect(() => syscallNumber('ioctl')).toThrow(/unknown syscall "ioctl"/);
    // A name of our guest's table only is refused before any replay, naming the kernel's table.
    await expect(runAnalysis(dir, 'compare-interception', { variants: 'selective-log', syscalls: 'vmt_lstar' }))
      .rejects.toThrow(/--syscalls vmt_lstar: unknown syscall "vmt_lstar" in this kernel's sys_call_table/);
    const r = await runAnalysis(dir, 'compare-interception', { variants: 'selective-log', syscalls: Object.keys(want).join(','), exceptions: false, roundTrips: '2000' });
    const sel = rows(r, 'strategies').find((x) => x.variant === 'selective-log')!;
    const numbers = new Set(Object.values(want));
    const truth = gt.filter((e) => e.type === GroundTruthType.syscall && numbers.has(e.a0)).length;
    // init's mount of /proc, its socket and ioctl for lo, and a wait4 per child plus init's.
    expect(truth).toBeGreaterThanOrEqual(3 + 21);
    expect(sel.replay_clean).toBe(true);
    expect(sel.syscalls_true).toBe(truth);
    expect(sel.syscalls_seen).toBe(truth);
    expect(sel.exits_added).toBe(truth);
    // The user-space window (from the kernel's exec of /init): every intercepted call falls in it, so the
    // selective variant adds the same cycles to the window as to the whole run, and the boot is outside it.
    const trunk = rows(r, 'strategies').find((x) => x.variant === 'Trunk')!;
    expect(Number(sel.window_cycles) - Number(trunk.window_cycles)).toBe(Number(sel.cycles_added));
    expect(Number(trunk.window_cycles)).toBeLessThan(Number(trunk.cycles) / 10);
  });
});
