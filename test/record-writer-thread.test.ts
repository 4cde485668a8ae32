// The recorder's writer thread (src/record/TraceFilesWorker.ts): the tables compressed, hashed and written off
// the recording thread must be the very files the recording thread writes itself (TraceFilesWriter), byte for
// byte, compressed or not, checkpoints included (their memory ranges are computed, packed and compressed there
// from a snapshot of guest memory), and an independent Arrow reader (nodejs-polars) must read them with the
// manifest's row counts and the values the machine published.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { TraceCompression } from '../src/record/compression.js';
import { traceFiles } from './helpers/traceFiles.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-writer-thread-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// 70,000 system calls: three record batches of exits, syscalls and ground truth (32,768 rows each) and a
// short last one; io and interrupts hold one partial batch each. About 14.6M instructions: a checkpoint every
// 3M gives four.
const config = { workload: 'syscall:n=70000', exitPreset: 'kvm-default', costModel: 'modern' };

describe('the writer thread', () => {
  for (const compression of [TraceCompression.lz4, TraceCompression.none]) {
    it(`${compression}: writes the files the recording thread writes, byte for byte`, async () => {
      const seen: number[] = [];
      const thread = join(root, `thread-${compression}`);
      const inline = join(root, `inline-${compression}`);
      const a = await recordTrace(config, thread, { compression, writer: 'thread', checkpointEvery: 3_000_000 });
      const b = await recordTrace(config, inline, { compression, writer: 'inline', checkpointEvery: 3_000_000 });
      expect(a.manifest.totals.exits).toBeGreaterThan(3 * 32768 / 2);
      expect(a.manifest.tables.exits.batches).toBeGreaterThanOrEqual(3);
      expect(traceFiles(thread)).toEqual(traceFiles(inline));
      const checkpoints = a.manifest.files.filter((f) => f.path.startsWith('checkpoints/'));
      expect(checkpoints.map((f) => f.path)).toEqual([3, 6, 9, 12].map((m) => `checkpoints/0000${String(m * 1_000_000).padStart(8, '0')}.msgpack`));
      expect(b.manifest.files).toEqual(a.manifest.files);
      for (const f of traceFiles(thread)) expect(readFileSync(join(thread, f)).equals(readFileSync(join(inline, f))), f).toBe(true);
      expect(b.manifest.totals.exits).toBe(a.manifest.totals.exits);
      // An independent reader: every row, and the sequence numbers as the recorder numbered the exits.
      const exits = pl.readIPC(readFileSync(join(thread, 'exits.arrow')));
      expect(exits.height).toBe(a.manifest.totals.exits);
      const seq = exits.getColumn('seq').toArray() as Array<number | bigint>;
      for (let i = 0; i < seq.length; i += 997) seen.push(Number(seq[i]) - i);
      expect(new Set(seen)).toEqual(new Set([0]));
      expect(pl.readIPC(readFileSync(join(thread, 'syscalls.arrow'))).height).toBe(a.manifest.totals.syscalls);
      expect(TraceReader.open(thread).manifest.tables.exits.bytes).toBe(readFileSync(join(thread, 'exits.arrow')).length);
    }, 300_000);
  }
});
