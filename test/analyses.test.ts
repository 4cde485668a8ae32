// trace analyze: golden outputs on a committed trace (Perfetto-style diff tests), the output formats
// (text, JSON, Arrow read back by nodejs-polars), the offline importer against a live machine, and
// proctrack's accuracy on `mixed` plus each strategy's failure mode on a workload made to provoke it.
// Thresholds are the measured values with some margin (measured values in comments; docs/analyses.md).
//
// UPDATE_GOLDEN=1 npx vitest run test/analyses.test.ts rewrites test/golden/*.json.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { runAnalysis } from '../src/cli/analyze.js';
import { UserError } from '../src/errors.js';
import { buildProgram } from '../src/cli/main.js';
import { formatJson, formatResult, writeArrowTables } from '../src/analyses/output.js';
import { configsOf, parseProctrackOptions, proctrackResult, ProctrackRun } from '../src/analyses/proctrack.js';
import { scanColumns } from '../src/record/scanColumns.js';
import { importTrace, type RowObserver } from '../src/analyses/importer.js';
import { DEFAULT_TRACKER, EXEC_LINK_WINDOW, ProcessTracker } from '../src/analyses/ProcessTracker.js';
import type { AnalysisResult, Cell } from '../src/analyses/result.js';
import { ExitWord, GroundTruthType, type MachineObserver } from '../src/emulator/events.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { GroundTruth, LIVE_POINTS } from '../src/analyses/truth.js';

const GOLDEN = 'traces/golden/bigstacks';
const root = mkdtempSync(join(tmpdir(), 'vmtrace-analyses-'));

type Row = Record<string, Cell>;
function rows(r: AnalysisResult, table: string): Row[] {
  const t = r.tables.find((x) => x.name === table);
  if (!t) throw new Error(`no table ${table}`);
  return t.rows.map((row) => Object.fromEntries(row.map((v, i) => [t.columns[i]!.name, v])));
}
function strategy(r: AnalysisResult, label: string): Row {
  const row = rows(r, 'strategies').find((x) => x.strategy === label);
  if (!row) throw new Error(`no strategy ${label}`);
  return row;
}
const num = (v: Cell): number => Number(v);

function golden(name: string, r: AnalysisResult): void {
  const path = join('test/golden', name);
  const text = formatJson(r).replace(GOLDEN, '<trace>');
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  // A missing golden file fails (it used to be written and the test passed, comparing the output with itself).
  expect(existsSync(path), `${path} is missing (UPDATE_GOLDEN=1 writes it)`).toBe(true);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

describe('golden outputs on traces/golden/bigstacks', () => {
  it('exits: perf kvm stat columns; counts match the manifest', async () => {
    const r = await runAnalysis(GOLDEN, 'exits');
    const m = TraceReader.open(GOLDEN).manifest;
    const ex = rows(r, 'exit_stats');
    expect(ex.map((x) => [x.exit_reason, x.samples]).sort()).toEqual(m.exits_by_reason.map((e) => [e.reason, e.count]).sort());
    expect(ex.reduce((s, x) => s + num(x.samples_pct), 0)).toBeCloseTo(100, 9);
    expect(ex.reduce((s, x) => s + num(x.total_cost), 0)).toBe(m.totals.cycles - m.totals.icount * m.machine.cycles_per_instruction);
    golden('bigstacks.exits.json', r);
  });

  it('exits --by process: per process the reasons add up to all exits', async () => {
    const r = await runAnalysis(GOLDEN, 'exits', { by: 'process' });
    const ex = rows(r, 'exit_stats_by_process');
    expect(ex.reduce((s, x) => s + num(x.samples), 0)).toBe(TraceReader.open(GOLDEN).manifest.totals.exits);
    golden('bigstacks.exits-by-process.json', r);
  });

  it('proctrack (defaults): golden, and the two-page stack assumption splits the big-stack threads', async () => {
    const r = await runAnalysis(GOLDEN, 'proctrack');
    golden('bigstacks.proctrack.json', r);
    const d = strategy(r, 'declared');
    // 12 worker threads recurse through half of a 512 KiB stack: measured 18 reconstructed threads for 14 true
    // (25 on the trace recorded before the 8254 replaced the simplified timer: the ticks land elsewhere).
    expect(num(d.true_threads)).toBe(14);
    expect(num(d.recon_threads)).toBeGreaterThanOrEqual(16);
    expect(num(d.thread_splits)).toBeGreaterThanOrEqual(4);
    const wide = await runAnalysis(GOLDEN, 'proctrack', { death: 'declared', maxStackPages: '129' });
    // A 129-page window holds each stack: measured 15 threads (the exec split of the main thread remains).
    expect(num(strategy(wide, 'declared').recon_threads)).toBeLessThan(num(d.recon_threads));
    expect(num(strategy(wide, 'declared').thread_splits)).toBeLessThan(num(d.thread_splits));
  });

  it('text output lists every printable table; json round-trips; Arrow files read back in polars with their types', async () => {
    const r = await runAnalysis(GOLDEN, 'proctrack', { death: 'declared,expiration', expire: '1M' });
    const text = formatResult(r);
    for (const t of r.tables) expect(text).toContain(`${t.name}: `);
    const j = JSON.parse(formatJson(r)) as { tables: Record<string, { rows: unknown[] }> };
    for (const t of r.tables) expect(j.tables[t.name]!.rows.length).toBe(t.rows.length);
    const out = join(root, 'arrow');
    writeArrowTables(r, 'proctrack', out);
    for (const t of r.tables) {
      const df = pl.readIPC(readFileSync(join(out, `${t.name}.arrow`)));
      expect(df.height, t.name).toBe(t.rows.length);
      expect(df.columns).toEqual(t.columns.map((c) => c.name));
      const want: Record<string, string> = { int64: 'Int64', uint64: 'UInt64', float64: 'Float64', utf8: 'String', bool: 'Bool' };
      t.columns.forEach((c, i) => expect(String(df.dtypes[i]), `${t.name}.${c.name}`).toContain(want[c.type]!));
    }
    const st = pl.readIPC(readFileSync(join(out, 'strategies.arrow')));
    expect(st.getColumn('recon_threads').toArray().map(Number)).toEqual(rows(r, 'strategies').map((x) => num(x.recon_threads)));
  });

  it('the projected column scan returns what the general reader does', () => {
    const reader = TraceReader.open(GOLDEN);
    const a: number[] = [];
    for (const b of scanColumns(reader, 'exits', ['rsp', 'exit_reason'])) {
      const rsp = b.cols[0] as Uint32Array, reason = b.cols[1] as Uint16Array;
      for (let i = 0; i < b.length; i++) a.push(rsp[2 * i]!, rsp[2 * i + 1]!, reason[i]!);
    }
    const want: number[] = [];
    for (const b of reader.scan('exits', ['rsp', 'exit_reason'])) {
      for (let i = 0; i < b.length; i++) want.push(b.columns.rsp.lo(i), b.columns.rsp.hi(i), b.columns.exit_reason.number(i));
    }
    expect(a).toEqual(want);
    expect(a.length).toBe(3 * reader.rowCount('exits'));
  });

  it('live: the same trackers attached to a replay of the trace give the offline result', async () => {
    const o = { death: 'all', expire: '1M,5M' };
    const offline = await runAnalysis(GOLDEN, 'proctrack', o);
    const run = new ProctrackRun(configsOf(parseProctrackOptions(o)));
    // The trackers and the ground-truth collector subscribe to the replaying machine (live events: the
    // replay decodes the kernel's ground-truth writes as the recording's device did).
    const rep = await replayTrace(GOLDEN, { attach: (a) => { for (const o of run.observers) a.machine.subscribe(o); } });
    expect(rep.clean).toBe(true);
    const reader = TraceReader.open(GOLDEN);
    expect(run.truth.procs.length).toBeGreaterThan(0);
    const end = reader.manifest.totals.icount;
    expect(run.trackers[0]!.exitsSeen).toBe(reader.rowCount('exits'));
    const live = proctrackResult(offline.title, run, run.finish(end), end);
    expect(formatJson(live)).toBe(formatJson(offline));
  });
});

describe('importer', () => {
  // The oracle for the importer's merge order is the machine itself: the events a replay publishes live, in
  // order, against what the importer streams from the trace's tables (event objects and the RowObserver path).
  const log = (out: string[]): MachineObserver => ({
    onExit: (e) => out.push(`exit ${e.seq} ${e.icount} ${e.reason} ${e.cpl} ${e.cost} ${e.words[ExitWord.cr3]} ${e.words[ExitWord.rsp]} ${e.words[ExitWord.rsp + 1]} ${e.words[ExitWord.rip]} ${e.words[ExitWord.rip + 1]}`),
    onSyscall: (e) => out.push(`sys ${e.exitSeq} ${e.icount} ${e.number} ${e.cr3} ${e.rspLo} ${e.rspHi} ${e.ripLo} ${e.ripHi} ${e.args.slice(0, 4).join(',')}`),
    onIo: (e) => out.push(`io ${e.exitSeq} ${e.icount} ${e.port} ${e.size} ${e.direction} ${e.value} ${e.device}`),
    onGroundTruth: (e) => out.push(`gt ${e.icount} ${e.type} ${e.pid} ${e.tid} ${e.ppid} ${e.cr3} ${e.a0} ${e.a1} ${e.a2} ${e.name}`),
  });
  const rowLog = (out: string[], wantsRip: boolean): MachineObserver & RowObserver => ({
    wantsRip,
    exitRow: (seq, ic, cpl, cr3, rspLo, rspHi, ripLo, ripHi) => out.push(`exit ${seq} ${ic} ${cpl} ${cr3} ${rspLo >>> 0} ${rspHi >>> 0} ${ripLo >>> 0} ${ripHi >>> 0}`),
    syscallRow: (ic, seq, n, cr3, rspLo, rspHi, ripLo, ripHi) => out.push(`sys ${seq} ${ic} ${n} ${cr3} ${rspLo >>> 0} ${rspHi >>> 0} ${ripLo >>> 0} ${ripHi >>> 0}`),
    onIo: (e) => out.push(`io ${e.exitSeq} ${e.icount} ${e.port} ${e.device}`),
  });
  const rowOf = (line: string, rip: boolean): string => {
    const f = line.split(' ');
    if (f[0] === 'exit') return ['exit', f[1], f[2], f[4], f[6], f[7], f[8], rip ? f[9] : '0', rip ? f[10] : '0'].join(' ');
    if (f[0] === 'sys') return ['sys', f[1], f[2], f[3], f[4], f[5], f[6], rip ? f[7] : '0', rip ? f[8] : '0'].join(' ');
    return ['io', f[1], f[2], f[3], f[7]].join(' ');
  };

  it.each([GOLDEN, 'server'])('streams %s in the order the machine publishes it', async (which) => {
    let dir = which;
    if (which === 'server') {
      dir = join(root, 'importer-server');
      await recordTrace({ workload: 'server', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
    }
    const live: string[] = [];
    const rep = await replayTrace(dir, { attach: (a) => a.machine.subscribe(log(live)) });
    expect(rep.clean).toBe(true);
    const reader = TraceReader.open(dir);
    const offline: string[] = [];
    const sum = importTrace(reader, [log(offline)]);
    expect(sum.exits).toBe(reader.rowCount('exits'));
    expect(live.some((l) => l.startsWith('sys'))).toBe(true);
    if (which === 'server') expect(live.some((l) => l.startsWith('io'))).toBe(true);
    // ground truth too: the replay decodes the kernel's writes to the ground-truth port
    expect(live.filter((l) => l.startsWith('gt')).length).toBe(reader.rowCount('ground_truth'));
    expect(offline).toEqual(live);
    // The RowObserver path: the same values (rip only when asked for)
    for (const rip of [false, true]) {
      const rowsOut: string[] = [];
      importTrace(reader, [rowLog(rowsOut, rip)]);
      expect(rowsOut).toEqual(live.filter((l) => !l.startsWith('gt')).map((l) => rowOf(l, rip)));
    }
  });
});

describe('user errors', () => {
  it('unknown analysis, missing trace, bad options: UserError with a clear message', async () => {
    await expect(runAnalysis(GOLDEN, 'nope')).rejects.toThrow(/unknown analysis "nope" \(analyses: .*proctrack/);
    await expect(runAnalysis(join(root, 'missing'), 'proctrack')).rejects.toThrow(UserError);
    await expect(runAnalysis(GOLDEN, 'proctrack', { expire: 'soon' })).rejects.toThrow(/--expire soon/);
    await expect(runAnalysis(GOLDEN, 'proctrack', { death: 'never' })).rejects.toThrow(/--death never: expected one of/);
    await expect(runAnalysis(GOLDEN, 'exits', { by: 'thread' })).rejects.toThrow(UserError);
  });

  it('the CLI refuses an option of another analysis', async () => {
    const p = buildProgram();
    await expect(p.parseAsync(['node', 'trace', 'analyze', GOLDEN, 'exits', '--expire', '1M'])).rejects.toThrow(/--expire is for proctrack, not exits/);
  });
});

async function proctrack(workload: string, opts: Record<string, string | boolean> = {}): Promise<AnalysisResult> {
  const dir = join(root, workload);
  if (!existsSync(join(dir, 'manifest.json'))) await recordTrace({ workload, exitPreset: 'kvm-default', costModel: 'modern' }, dir);
  return runAnalysis(dir, 'proctrack', opts);
}

describe('proctrack on the mixed workload (about 37 live processes, seed 004 section 6.1)', async () => {
  const paper = await proctrack('mixed');
  const exec = await proctrack('mixed', { execDeath: true });

  it('declared death as in the paper (exit, exit_group) overcounts: exec leaves the old CR3 undeclared', () => {
    // Measured: live-count bias +17.5, 30 merges (a freed pre-exec CR3 reused by the next exec).
    const d = strategy(paper, 'declared');
    expect(num(d.proc_live_bias)).toBeGreaterThan(8);
    expect(num(d.proc_merges)).toBeGreaterThan(10);
  });

  it('the best strategy (declared death, execve linking the new address space) meets the measured thresholds', async () => {
    const link = await proctrack('mixed', { execLink: true, death: 'declared' });
    // Measured: 81 processes and 116 threads for 81 and 116 true, every one matched one-to-one (precision and
    // recall 1, no splits or merges); live-count error 0.16 mean, 5 max; every syscall attributed right.
    const d = strategy(link, 'declared');
    expect(num(d.proc_live_mae)).toBeLessThan(0.3);
    expect(num(d.proc_live_max)).toBeLessThanOrEqual(6);
    for (const k of ['proc', 'thread']) {
      expect(num(d[`${k}_recall`])).toBeGreaterThanOrEqual(0.99);
      expect(num(d[`${k}_precision`])).toBeGreaterThanOrEqual(0.99);
      expect(num(d[`${k}_splits`])).toBeLessThanOrEqual(1);
      expect(num(d[`${k}_merges`])).toBe(0);
    }
    const a = rows(link, 'attribution').find((x) => x.strategy === 'declared')!;
    expect(num(a.syscall_thread_acc)).toBeGreaterThan(0.99);
    // A linked process's lifetime ends at its true exit, not at its exec (measured mean error 951 instructions)
    expect(num(a.end_err_mean)).toBeLessThan(5000);
    expect(link.notes.join('\n')).toMatch(/execve links the new address space/);
  });

  it('declared death incl. execve: the count is right but every exec splits a process', () => {
    // Measured: mean abs live-count error 0.21, max 6; process and thread recall 1.0; 0 merges.
    const d = strategy(exec, 'declared');
    expect(num(d.proc_live_mae)).toBeLessThan(0.5);
    expect(num(d.proc_live_max)).toBeLessThanOrEqual(8);
    expect(num(d.proc_recall)).toBeGreaterThanOrEqual(0.99);
    expect(num(d.thread_recall)).toBeGreaterThanOrEqual(0.99);
    expect(num(d.proc_merges)).toBe(0);
    // Every exec splits one true process into its pre- and post-exec address spaces: precision ~0.6.
    expect(num(d.proc_splits)).toBeGreaterThan(40);
    const a = rows(exec, 'attribution').find((x) => x.strategy === 'declared')!;
    expect(num(a.syscall_thread_acc)).toBeGreaterThan(0.9); // measured 0.933 (pre-exec fragments are unmatched)
    // I/O made by a user thread: the thread that ran before is always right here (syscall I/O), the next
    // thread almost always (measured 1.0 and 0.969); kernel-thread I/O (idle's EOIs) cannot be right.
    expect(num(a.io_prev_acc_user)).toBeGreaterThan(0.98);
    expect(num(a.io_next_acc_user)).toBeGreaterThan(0.9);
    expect(num(a.io_next_acc)).toBeLessThan(num(a.io_next_acc_user));
  });

  it('expiration: short T splits sleeping processes (precision falls), long T overcounts like none', () => {
    const short = strategy(exec, 'expiration T=1M');
    const long = strategy(exec, 'expiration T=20M');
    expect(num(short.recon_procs)).toBeGreaterThan(3 * num(long.recon_procs));
    expect(num(long.proc_live_bias)).toBeGreaterThan(15);
    const none = strategy(exec, 'none');
    expect(num(none.proc_live_bias)).toBeGreaterThan(num(long.proc_live_bias));
  });

  it('program-counter thread identity (the idea seed 004 rejected) splits threads', async () => {
    const pc = await proctrack('mixed', { execDeath: true, death: 'declared', threadId: 'pc' });
    // Measured: 296 reconstructed threads for 116 true, live thread error 33.5 (stack identity: 0.21).
    const d = strategy(pc, 'declared');
    expect(num(d.recon_threads)).toBeGreaterThan(2 * num(d.true_threads));
    expect(num(d.thread_live_mae)).toBeGreaterThan(10);
  });

  it('without the user-mode filter kernel threads appear as a process (the kernel CR3) and kernel stacks as threads', async () => {
    const nf = await proctrack('mixed', { execDeath: true, death: 'declared', userFilter: false });
    const d = strategy(nf, 'declared');
    const withFilter = strategy(exec, 'declared');
    expect(num(d.proc_live_bias)).toBeGreaterThan(num(withFilter.proc_live_bias) + 0.9);
    expect(num(d.thread_live_mae)).toBeGreaterThan(num(withFilter.thread_live_mae) + 3);
    // The kernel threads' CR3 (ground truth of idle/kreaper/kflushd) became a reconstructed process.
    const kernelCr3 = (() => {
      for (const b of TraceReader.open(join(root, 'mixed')).scan('ground_truth', ['type', 'a0', 'cr3'])) {
        for (let i = 0; i < b.length; i++) if (b.columns.type.number(i) === GroundTruthType.procCreate && (b.columns.a0.number(i) & 1) === 1) return b.columns.cr3.number(i);
      }
      return -1;
    })();
    const procs = rows(nf, 'processes');
    const k = procs.find((p) => Number(p.cr3) === kernelCr3);
    expect(k, 'a process with the kernel CR3').toBeDefined();
    // Mostly idle's HLT exits (measured 189 HLT of 3430 exits in mixed).
    expect(num(k!.exits)).toBeGreaterThan(100);
    expect(rows(exec, 'processes').some((p) => Number(p.cr3) === kernelCr3)).toBe(false);
  });
});

describe('exec linking (unit: the tracker fed rows directly)', () => {
  const EXECVE = 59, GETPID = 39;
  const S1 = 0x7ff000 << 12 >>> 0; // a stack page's address (low word)
  const run = (steps: Array<[number, number, number]>) => { // [cr3, stack low word, syscall]
    const t = new ProcessTracker({ ...DEFAULT_TRACKER, death: 'declared', execLink: true });
    steps.forEach(([cr3, rsp, n], i) => t.syscallRow(1000 * (i + 1), i, n, cr3, rsp | 0, 0, 0, 0));
    return t;
  };
  it('a successful exec continues the process in the new CR3 on the new stack', () => {
    const t = run([[0x1000, S1, GETPID], [0x1000, S1, EXECVE], [0x2000, S1 + 0x10000, GETPID]]);
    expect(t.procs.length).toBe(1);
    expect(t.procs[0]!.cr3).toBe(0x2000);
    expect(t.procs[0]!.oldCr3s).toEqual([0x1000]);
    expect(t.threads.length).toBe(1);
  });
  it('a failed exec (the old CR3 and stack again) changes nothing, and a later new CR3 is a new process', () => {
    const t = run([[0x1000, S1, EXECVE], [0x1000, S1, GETPID], [0x2000, S1, GETPID]]);
    expect(t.procs.map((p) => p.cr3)).toEqual([0x1000, 0x2000]);
  });
  it('an exec whose image reuses the CR3 moves the caller to its new stack', () => {
    const t = run([[0x1000, S1, EXECVE], [0x1000, S1 + 0x10000, GETPID], [0x1000, S1 + 0x10000, GETPID]]);
    expect(t.procs.length).toBe(1);
    expect(t.threads.length).toBe(1);
    expect(t.threads[0]!.oldStacks.length).toBe(2);
  });
  it('no link after the window', () => {
    const t = new ProcessTracker({ ...DEFAULT_TRACKER, death: 'declared', execLink: true });
    t.syscallRow(1000, 0, EXECVE, 0x1000, S1 | 0, 0, 0, 0);
    t.syscallRow(1000 + EXEC_LINK_WINDOW + 1, 1, GETPID, 0x2000, S1 | 0, 0, 0, 0);
    expect(t.procs.length).toBe(2);
  });
});

describe('failure modes on workloads made to provoke them', () => {
  it('killed: declared death overcounts processes killed by a fault (no exit syscall)', async () => {
    const r = await proctrack('killed', { execDeath: true, death: 'declared,expiration', expire: '5M' });
    // Measured: bias +4.7, max 6 (six background programs killed while two workers run).
    expect(num(strategy(r, 'declared').proc_live_bias)).toBeGreaterThan(3);
    expect(num(strategy(r, 'declared').proc_live_max)).toBeGreaterThanOrEqual(5);
    expect(num(strategy(r, 'expiration T=5M').proc_live_bias)).toBeLessThan(num(strategy(r, 'declared').proc_live_bias));
    expect(r.notes.join('\n')).toMatch(/6 killed by a fault/);
  });

  it('sleepers: expiration undercounts long sleepers and splits them when they wake', async () => {
    const r = await proctrack('sleepers', { execDeath: true, death: 'declared,expiration', expire: '5M' });
    const e = strategy(r, 'expiration T=5M');
    const d = strategy(r, 'declared');
    // Measured: expiration bias -4.6 and 24 processes for 6 true; declared 0.004.
    expect(num(e.proc_live_bias)).toBeLessThan(-3);
    expect(num(e.recon_procs)).toBeGreaterThan(3 * num(e.true_procs));
    expect(num(d.proc_live_mae)).toBeLessThan(0.5);
  });

  it('spawn: without death detection CR3 reuse merges the children into one process', async () => {
    const r = await proctrack('spawn', { death: 'none,declared' });
    const n = strategy(r, 'none');
    const d = strategy(r, 'declared');
    // Measured: 100 children share one reused CR3: recall 0.03 without death detection, 1.0 with it.
    expect(num(n.proc_recall)).toBeLessThan(0.1);
    expect(num(n.proc_merges)).toBeGreaterThanOrEqual(1);
    expect(num(d.proc_recall)).toBe(1);
  });
});

describe('proctrack memory: a bounded live-count series', () => {
  it('with more samples than the series holds, the scores count every sample and the series keeps every k-th', async () => {
    const o = { death: 'all', expire: '1M,5M', sampleEvery: '100' };
    const r = await runAnalysis(GOLDEN, 'proctrack', o);
    // The oracle: trackers that log every sample (no sink), scored here from the ground-truth changes.
    const reader = TraceReader.open(GOLDEN);
    const configs = configsOf(parseProctrackOptions(o));
    const gt = new GroundTruth();
    const trackers = configs.map((c) => new ProcessTracker(c));
    const sum = importTrace(reader, [gt, ...trackers], { syscallArgs: false });
    const live = rows(r, 'live_count');
    const labels = rows(r, 'strategies').map((x) => String(x.strategy));
    expect(labels.length).toBe(trackers.length);
    trackers.forEach((t, i) => {
      t.finish(sum.icount);
      const s = t.samples;
      expect(s.n).toBeGreaterThan(2 * LIVE_POINTS); // 7,346 samples of 100 instructions
      let j = 0, p = 0, th = 0, pa = 0, pm = 0, ta = 0, tm = 0;
      const truth: Array<[number, number]> = [];
      for (let k = 0; k < s.n; k++) {
        const ch = gt.changes;
        while (j < ch.n && ch.icount[j]! < s.icount[k]!) {
          p += ch.a[j]!;
          th += ch.b[j]!;
          j++;
        }
        truth.push([p, th]);
        pa += Math.abs(s.a[k]! - p);
        pm = Math.max(pm, Math.abs(s.a[k]! - p));
        ta += Math.abs(s.b[k]! - th);
        tm = Math.max(tm, Math.abs(s.b[k]! - th));
      }
      const row = strategy(r, labels[i]!);
      expect([num(row.proc_live_mae), num(row.proc_live_max), num(row.thread_live_mae), num(row.thread_live_max)])
        .toEqual([pa / s.n, pm, ta / s.n, tm]);
      const pts = live.filter((x) => x.strategy === labels[i]);
      expect(pts.length).toBeGreaterThanOrEqual(LIVE_POINTS);
      expect(pts.length).toBeLessThanOrEqual(2 * LIVE_POINTS);
      const every = Math.ceil(s.n / pts.length);
      expect(every).toBeGreaterThan(1);
      pts.forEach((x, k) => {
        const at = k * every;
        expect([num(x.icount), num(x.true_procs), num(x.recon_procs), num(x.true_threads), num(x.recon_threads)])
          .toEqual([s.icount[at]!, truth[at]![0], s.a[at]!, truth[at]![1], s.b[at]!]);
      });
    });
    expect(r.tables.find((x) => x.name === 'live_count')!.doc).toMatch(/one point per 2 samples \(7346 samples;/);
  });
});
