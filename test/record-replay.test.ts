// End to end on the real guest with live devices: record, record again (byte-identical), read with an
// independent Arrow implementation, replay clean, replay under a superset configuration, a changed input
// diverges at the right exit, an interrupted recording is valid, incomplete and replays to where it stopped,
// a truncated table gives a clear error.

import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { INPUT_LOG_FILE, InputKind, readInputLog } from '../src/replay/inputLog.js';
import { Packr, Unpackr } from 'msgpackr';
import { isLz4Frame, lz4Decompress } from '../src/record/compression.js';

/** A checkpoint file's msgpack bytes (recordings compress each checkpoint as one LZ4 frame by default). */
const plainCheckpoint = (b: Uint8Array): Uint8Array => (isLz4Frame(b) ? lz4Decompress(b) : b);
import { TraceReader } from '../src/record/TraceReader.js';
import { cpSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resealFile } from './helpers/reseal.js';
import { EXITS } from '../src/record/schema.js';
import { CompressedFileWriter, type TraceCompression } from '../src/record/compression.js';
import { traceFiles } from './helpers/traceFiles.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-rr-'));

const files = traceFiles;

describe('record and replay on the guest (live devices)', async () => {
  // The memcached-like server: NIC packets by DMA, device interrupts, port reads: every kind of input.
  const config = { workload: 'server', exitPreset: 'kvm-default', costModel: 'modern' };
  const a = await recordTrace(config, join(root, 'a'));
  const b = await recordTrace(config, join(root, 'b'));

  it('records a complete trace whose counts match the machine', () => {
    expect(a.result.reason).toBe('guest-exit');
    expect(a.manifest.complete).toBe(true);
    expect(a.manifest.totals.exits).toBe(a.result.exits);
    expect(a.manifest.totals.icount).toBe(a.result.icount);
    expect(a.console).toContain('init: done, 0 failures');
    expect(a.manifest.totals.interrupts).toBeGreaterThan(0);
  });

  it('two recordings of the same workload, seed and configuration are byte-identical, file by file', () => {
    const fa = files(join(root, 'a'));
    expect(files(join(root, 'b'))).toEqual(fa);
    for (const f of fa) expect(readFileSync(join(root, 'b', f)).equals(readFileSync(join(root, 'a', f))), f).toBe(true);
  });

  it('nodejs-polars reads the tables with the machine\'s counts', () => {
    const exits = pl.readIPC(readFileSync(join(root, 'a', 'exits.arrow')));
    expect(exits.height).toBe(a.result.exits);
    const io = pl.readIPC(readFileSync(join(root, 'a', 'io.arrow')));
    expect(io.height).toBe(a.manifest.totals.io);
    const ints = pl.readIPC(readFileSync(join(root, 'a', 'interrupts.arrow')));
    expect(ints.height).toBe(a.manifest.totals.interrupts);
    // Every injected interrupt is a device vector (docs/machine.md: 0x20 + irq).
    for (const v of ints.getColumn('vector').toArray() as number[]) expect(v).toBeGreaterThanOrEqual(0x20);
    expect(Number(exits.getColumn('icount').toArray().at(-1))).toBeLessThanOrEqual(a.result.icount);
  });

  it('replays clean from the input log alone', async () => {
    const r = await replayTrace(join(root, 'a'));
    expect(r.divergence).toBeNull();
    expect(r.inputDivergence).toBeNull();
    expect(r.clean).toBe(true);
    expect(r.matched).toBe(a.result.exits);
    expect(r.icount).toBe(a.result.icount);
  });

  it('replays under exceptions-full with the recorded exits as a subsequence', async () => {
    const r = await replayTrace(join(root, 'a'), { exitPreset: 'exceptions-full' });
    expect(r.clean).toBe(true);
    expect(r.subsequence).toBe(true);
    expect(r.matched).toBe(a.result.exits);
  });

  it('a changed input value diverges, and the report names the first affected exit', async () => {
    const dir = join(root, 'changed');
    cpSync(join(root, 'a'), dir, { recursive: true });
    const log = readInputLog(join(dir, INPUT_LOG_FILE));
    // Change the length of the 10th received packet as the NIC reported it (port 0xc00c).
    const i = log.map((e, k) => [e, k] as const).filter(([e]) => e[0] === InputKind.portIn && e[2] === 0xc00c)[10][1];
    expect(i).toBeGreaterThanOrEqual(0);
    log[i] = [log[i][0], log[i][1], log[i][2], log[i][3], (log[i][4] as number) - 1];
    const bytes = new Packr({ useRecords: false }).pack(log);
    // Re-seal the manifest (its size/hash check would otherwise reject the edited log before replay starts).
    resealFile(dir, INPUT_LOG_FILE, bytes);
    const r = await replayTrace(dir);
    expect(r.clean).toBe(false);
    // The first exit after the changed input (or an input mismatch right there) is where it shows.
    const icount = log[i][1] as number;
    if (r.divergence !== null) expect(r.divergence.icount).toBeGreaterThanOrEqual(icount);
    else expect(r.inputDivergence).toMatch(/icount/);
  });

  it('an interrupted recording is valid, marked incomplete, and replays up to where it stopped', async () => {
    const dir = join(root, 'short');
    const r = await recordTrace({ ...config, maxInstructions: 1_000_000 }, dir);
    expect(r.result.reason).toBe('instruction-limit');
    expect(r.manifest.complete).toBe(false);
    expect(r.manifest.stop?.reason).toBe('instruction-limit');
    const reader = TraceReader.open(dir);
    expect(reader.rowCount('exits')).toBe(r.result.exits);
    const rep = await replayTrace(dir);
    expect(rep.clean).toBe(true);
    expect(rep.icount).toBe(1_000_000);
  });

  it('replay checks each exit\'s recorded seq, ts, cycles and cost too, and names the field that differs', async () => {
    // One exit's recorded values changed and the file re-sealed (as a damaged recorder or a bad edit would leave
    // it): the execution replays identically, so only the comparison of these columns can catch it.
    const exitIndex = 100;
    for (const [column, delta] of [['cost', 1], ['cycles', -7], ['ts', 3], ['seq', 1]] as const) {
      const dir = join(root, `edited-${column}`);
      cpSync(join(root, 'a'), dir, { recursive: true });
      const reader = TraceReader.open(dir);
      const col = EXITS.columns.findIndex((c) => c.name === column);
      const w = new CompressedFileWriter(reader.manifest.compression as TraceCompression);
      let row = 0;
      let recorded = 0n;
      for (const batch of reader.batches('exits')) {
        if (exitIndex >= row && exitIndex < row + batch.numRows) {
          const values = batch.getChildAt(col)!.data[0]!.values as BigInt64Array | Uint32Array;
          recorded = BigInt(values[exitIndex - row]!);
          if (values instanceof BigInt64Array) values[exitIndex - row] = recorded + BigInt(delta);
          else values[exitIndex - row] = Number(recorded) + delta;
        }
        w.write(batch);
        row += batch.numRows;
      }
      w.finish();
      resealFile(dir, 'exits.arrow', w.toUint8Array(true));
      const r = await replayTrace(dir);
      expect(r.clean, column).toBe(false);
      expect(r.divergence?.seq, column).toBe(column === 'seq' ? exitIndex + 1 : exitIndex);
      expect(r.divergence?.diffs, column).toEqual([{ field: column, recorded: String(recorded + BigInt(delta)), replayed: String(recorded) }]);
      expect(r.divergence?.message, column).toMatch(new RegExp(`^divergence at exit \\d+ .*\\n  ${column} +recorded`));
    }
  });

  it('a truncated table gives a clear error, not a crash', async () => {
    const dir = join(root, 'truncated');
    cpSync(join(root, 'a'), dir, { recursive: true });
    const f = join(dir, 'exits.arrow');
    truncateSync(f, Math.floor(statSync(f).size / 2));
    await expect(replayTrace(dir)).rejects.toThrow(/exits\.arrow/);
  });
});

describe('every workload records and replays without divergence', async () => {
  const { listWorkloads } = await import('../src/hypervisor/workloads.js');
  // The Linux guest boots for hundreds of millions of instructions: test/linux-record.test.ts covers it.
  for (const { name } of listWorkloads().filter((w) => w.name !== 'linux')) {
    it(name, async () => {
      const dir = join(root, `all-${name}`);
      const r = await recordTrace({ workload: name, exitPreset: 'kvm-default', costModel: 'modern' }, dir);
      expect(r.result.reason).toBe('guest-exit');
      const rep = await replayTrace(dir);
      expect(rep.divergence).toBeNull();
      expect(rep.inputDivergence).toBeNull();
      expect(rep.clean).toBe(true);
      expect(rep.matched).toBe(r.result.exits);
    });
  }
});

describe('checkpoints', async () => {
  const dir = join(root, 'cp-mixed');
  await recordTrace({ workload: 'mixed', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 5_000_000 });

  it('are written every N instructions', () => {
    const cps = readdirSync(join(dir, 'checkpoints'));
    expect(cps.length).toBeGreaterThanOrEqual(5);
  });

  it('replay from a checkpoint reaches the same final state as replay from the start', async () => {
    const full = await replayTrace(dir);
    const fromCp = await replayTrace(dir, { from: 22_000_000 });
    expect(full.clean).toBe(true);
    expect(fromCp.clean).toBe(true);
    expect(fromCp.startIcount).toBeGreaterThan(0);
    expect(fromCp.startIcount).toBeLessThanOrEqual(22_000_000);
    expect(fromCp.matched).toBeLessThan(full.matched);
    expect(fromCp.icount).toBe(full.icount);
    expect(fromCp.result.cycles).toBe(full.result.cycles);
    expect(fromCp.result.exits).toBe(full.result.exits);
    expect(fromCp.stateDigest).toBe(full.stateDigest);
  });

  it('an older checkpoint (no hyperupcall fields, no skipped/halted counters) of a trace without hyperupcalls still loads', async () => {
    const old = join(root, 'cp-mixed-old');
    cpSync(dir, old, { recursive: true });
    const name = readdirSync(join(old, 'checkpoints')).sort().at(-2)!;
    const cp = new Unpackr({ useRecords: false }).unpack(plainCheckpoint(readFileSync(join(old, 'checkpoints', name)))) as {
      icount: number; hypervisor: Record<string, unknown>; machine: Record<string, unknown>;
    };
    // nothing registered: the new checkpoint carries no hyperupcall state either
    expect(cp.hypervisor.hyperupcalls).toBe(0);
    expect('hyperupcallState' in cp.hypervisor).toBe(false);
    delete cp.hypervisor.hyperupcalls;
    delete cp.machine.skippedInstructions;
    delete cp.machine.haltedInstructions;
    const bytes = new Packr({ useRecords: false }).pack(cp);
    resealFile(old, `checkpoints/${name}`, bytes);
    const full = await replayTrace(dir);
    const fromOld = await replayTrace(old, { from: cp.icount });
    expect(fromOld.startIcount).toBe(cp.icount);
    expect(fromOld.clean).toBe(true);
    expect(fromOld.stateDigest).toBe(full.stateDigest);
    expect(fromOld.result.cycles).toBe(full.result.cycles);
  });
});
