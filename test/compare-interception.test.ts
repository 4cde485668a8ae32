// `trace analyze <dir> compare-interception`: its figures come from replays of the trace under each
// strategy, so they follow the cost model exactly: per syscall, one VMCALL round trip + handler (+ the
// logging work when logging) for the one-exit strategies, and a replay under another round trip moves the
// total by (delta x exits), which is also what the sweep predicts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareInterception, compareTrace, STRATEGY_COLUMNS, VARIANTS } from '../src/analyses/compareInterception.js';
import { getCostModel, withRoundTrip } from '../src/emulator/costModel.js';
import { ExitReason } from '../src/emulator/vmx/exitReasons.js';
import { recordTrace } from '../src/replay/recordTrace.js';
import type { Cell } from '../src/analyses/result.js';

let root: string;
let dir: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-ci-'));
  dir = join(root, 'syscall');
  await recordTrace({ workload: 'syscall:n=1500', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const colIndex = (name: string): number => STRATEGY_COLUMNS.findIndex((c) => c.name === name);
const cell = (row: Cell[], name: string): Cell => row[colIndex(name)]!;

describe('compare-interception', () => {
  let rows: Cell[][];
  let sweep: Cell[][];
  beforeAll(async () => {
    const r = await compareTrace(dir, { exceptions: false });
    rows = r.tables.strategies!;
    sweep = r.tables.sweep!;
  });

  it('every replay is clean and every strategy sees every syscall the ground truth reports', () => {
    expect(rows).toHaveLength(VARIANTS.length);
    for (const row of rows) {
      expect(cell(row, 'replay_clean'), String(cell(row, 'variant'))).toBe(true);
      if (cell(row, 'strategy') === 'none') continue;
      expect(cell(row, 'syscalls_true') as number).toBeGreaterThan(0);
      expect(cell(row, 'completeness'), String(cell(row, 'variant'))).toBe(1);
    }
    const doubleSwap = rows.find((r) => cell(r, 'variant') === '2VMCALLlog')!;
    expect(cell(doubleSwap, 'exits_per_syscall')).toBe(2);
    for (const v of ['1VMCALLlog', 'injection-log', 'selective-log']) expect(cell(rows.find((r) => cell(r, 'variant') === v)!, 'exits_per_syscall')).toBe(1);
  });

  it('on our guest the user-space window is the whole run (a Linux trace\'s starts at /init: test/linux-golden)', () => {
    for (const row of rows) {
      expect(cell(row, 'window_cycles')).toBe(cell(row, 'cycles'));
      expect(cell(row, 'window_relative_performance')).toBe(cell(row, 'relative_performance'));
    }
  });

  it('--syscalls names are checked against the trace\'s kernel before any replay: ours knows vmt_lstar, not mount', async () => {
    await expect(compareInterception.run(dir, { variants: 'selective-log', syscalls: 'mount' }))
      .rejects.toThrow(/--syscalls mount: unknown syscall "mount" \(known: read, write/);
  });

  it('cycles per syscall are what the cost model says a VMCALL exit costs', () => {
    const m = getCostModel('modern');
    const vmcall = m.roundTrip + m.handler[ExitReason.VMCALL];
    const by = (v: string) => cell(rows.find((r) => cell(r, 'variant') === v)!, 'cycles_per_syscall');
    expect(by('1VMCALLnolog')).toBe(vmcall);
    expect(by('1VMCALLlog')).toBe(vmcall + m.work.logRecord);
    expect(by('injection-log')).toBe(vmcall + m.work.logRecord);
    // Double swap: two exits and two text patches (VMM guest-memory writes) per exit, plus the first patch
    // when the guest's WRMSR sets LSTAR.
    const ds = rows.find((r) => cell(r, 'variant') === '2VMCALLnolog')!;
    const n = cell(ds, 'syscalls_seen') as number;
    expect(cell(ds, 'cycles_added')).toBe(n * (2 * vmcall + 4 * m.work.guestMemoryAccess) + m.work.guestMemoryAccess);
  });

  it('a replay under another round trip moves every total by delta x exits, as the sweep predicts', async () => {
    const model = getCostModel('modern');
    const rt = 4000;
    const r = await compareTrace(dir, { exceptions: false, costModel: withRoundTrip(getCostModel('modern'), rt), variants: VARIANTS.filter((v) => ['Trunk', '1VMCALLlog', '2VMCALLlog'].includes(v.name)), roundTrips: [rt] });
    for (const row of r.tables.strategies!) {
      const v = cell(row, 'variant');
      const at = rows.find((x) => cell(x, 'variant') === v)!;
      expect(cell(row, 'cycles')).toBe((cell(at, 'cycles') as number) + (rt - model.roundTrip) * (cell(at, 'exits') as number));
      const predicted = sweep.find((s) => s[1] === v && s[2] === rt)!;
      expect(predicted[3]).toBe(cell(row, 'cycles'));
    }
    // A slower world switch makes interception relatively more expensive.
    const perf = (rtv: number, v: string) => sweep.find((s) => s[1] === v && s[2] === rtv)![5] as number;
    expect(perf(8000, '1VMCALLlog')).toBeLessThan(perf(1000, '1VMCALLlog'));
  });

  it('reports the getpid latency and the footprint, and runs through the analysis registry', async () => {
    const res = await compareInterception.run(dir, { variants: 'Trunk,1VMCALLlog,injection-log', noExceptions: true, exceptions: false });
    const getpid = res.tables.find((t) => t.name === 'getpid')!;
    expect(getpid.rows.length).toBe(3);
    const trunk = getpid.rows.find((r) => r[1] === 'Trunk')!;
    const fill = getpid.rows.find((r) => r[1] === '1VMCALLlog')!;
    expect(fill[4] as number).toBeGreaterThan(trunk[4] as number);
    const st = res.tables.find((t) => t.name === 'strategies')!;
    const text = (v: string) => st.rows.find((r) => r[1] === v)![colIndex('text_bytes_changed')];
    expect(text('1VMCALLlog')).toBe(3);
    expect(text('injection-log')).toBe(0);
  });

  it('an unknown variant is a clear error', async () => {
    await expect(compareInterception.run(dir, { variants: 'bogus' })).rejects.toThrow(/unknown variant bogus/);
  });
});
