// `trace info`: the report on a synthetic trace, checked against counts taken from the event stream itself
// and sizes from the file system; clear one-line errors (no stack trace) for bad directories.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExitEvent } from '../src/emulator/events.js';
import { traceInfo } from '../src/cli/info.js';
import { runCli } from '../src/cli/main.js';
import { TraceWriter, type TraceWriterOptions } from '../src/record/TraceWriter.js';
import { emitSynthetic } from './helpers/syntheticEvents.js';
import { exitReasonKey } from '../src/emulator/vmx/exitReasons.js';

let root: string;
const opts: TraceWriterOptions = {
  workload: { name: 'synthetic', description: 'seeded synthetic stream', params: { n: 4 } },
  seed: 11, exitPreset: { name: 'all-io' }, costModel: { name: 'flat', figures: { roundTrip: 1000 } },
  cyclesPerInstruction: 3, batchRows: 512,
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-info-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('trace info', () => {
  it('reports workload, presets, state, files and exits by reason', async () => {
    const dir = join(root, 'full');
    const w = new TraceWriter(dir, opts);
    const exits: ExitEvent[] = [];
    emitSynthetic({ ...bind(w), onExit: (e) => { exits.push({ ...e, words: e.words.slice() }); w.onExit(e); } },
      { seed: 5, exits: 3000, oddReasonEvery: 500 });
    w.close(true, { reason: 'guest-exit', status: 0 });
    const text = await traceInfo(dir);
    expect(text).toContain('state      complete');
    expect(text).toContain('workload   synthetic - seeded synthetic stream [n=4]');
    expect(text).toContain('seed       11');
    expect(text).toContain('cost model flat (roundTrip=1000)');
    expect(text).toMatch(/totals +\d+ instructions, \d+ modelled cycles, 3000 exits/);
    const size = statSync(join(dir, 'exits.arrow')).size;
    expect(text).toMatch(new RegExp(`exits\\.arrow +[\\d.]+ (KiB|MiB) +${size} +3000`));

    // Every reason's line: count, share, and cost figures computed here from the events.
    const by = new Map<number, ExitEvent[]>();
    for (const e of exits) by.set(e.reason & 0xffff, [...(by.get(e.reason & 0xffff) ?? []), e]);
    const totalCost = exits.reduce((s, e) => s + e.cost, 0);
    for (const [reason, es] of by) {
      const costs = es.map((e) => e.cost);
      const sum = costs.reduce((a, b) => a + b, 0);
      const line = text.split('\n').find((l) => l.startsWith(`${exitReasonKey(reason)} `));
      expect(line, exitReasonKey(reason)).toBeDefined();
      const cells = line!.trim().split(/ {2,}/);
      expect(cells.slice(0, 8)).toEqual([exitReasonKey(reason), String(reason), String(es.length),
        `${((100 * es.length) / 3000).toFixed(2)}%`, `${((100 * sum) / totalCost).toFixed(2)}%`,
        String(Math.min(...costs)), String(Math.max(...costs)), (sum / es.length).toFixed(1)]);
    }
  });

  it('says when a trace is incomplete, and why', async () => {
    const dir = join(root, 'cut');
    const w = new TraceWriter(dir, opts);
    emitSynthetic(w, { seed: 6, exits: 1200 });
    w.settle(); // the writer thread has written the two full batches (the marker lists only what is on disk)
    const recording = await traceInfo(dir);
    expect(recording).toContain('INCOMPLETE (still recording');
    expect(recording).toMatch(/exits\.arrow +[\d.]+ KiB +\d+ +1024/);
    w.close(false, { reason: 'interrupted', detail: 'received SIGINT' });
    const stopped = await traceInfo(dir);
    expect(stopped).toContain('INCOMPLETE (stopped early)');
    expect(stopped).toMatch(/stopped +interrupted \(received SIGINT\) at icount \d+, last exit #1199/);
  });

  it('`trace info` on bad directories: one line on stderr, exit code 2, no stack trace', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err.push(String(s)); return true; });
    await runCli(['node', 'trace', 'info', join(root, 'missing')]);
    expect(process.exitCode).toBe(2);
    expect(err.join('')).toBe(`trace: no trace directory at ${join(root, 'missing')}\n`);

    const notTrace = join(root, 'plain');
    mkdirSync(notTrace);
    writeFileSync(join(notTrace, 'x.txt'), 'x');
    err.length = 0;
    await runCli(['node', 'trace', 'info', notTrace]);
    expect(err.join('')).toMatch(/^trace: .* is not a vmtrace trace \(no manifest\.json or incomplete marker\)\n$/);

    const bad = join(root, 'badjson');
    mkdirSync(bad);
    writeFileSync(join(bad, 'manifest.json'), '{');
    err.length = 0;
    await runCli(['node', 'trace', 'info', bad]);
    expect(err.join('')).toMatch(/^trace: .*manifest\.json is corrupt: not valid JSON/);
    expect(err.join('')).not.toContain('    at ');
  });
});

function bind(w: TraceWriter) {
  return {
    onIo: w.onIo.bind(w), onInterrupt: w.onInterrupt.bind(w), onGroundTruth: w.onGroundTruth.bind(w),
    onConsole: w.onConsole.bind(w),
  };
}
