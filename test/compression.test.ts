// Compressed traces (issue 17): Arrow IPC per-buffer LZ4_FRAME body compression that an independent
// reader opens (nodejs-polars sizes each decompressed buffer by the 8-byte uncompressed-length prefix, so a
// wrong prefix fails here), compressed input log and checkpoints that replay reads, and --compression none
// giving the same data uncompressed. (DuckDB reads Parquet, not Arrow IPC, without a network extension.)

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { recordTrace } from '../src/replay/recordTrace.js';
import { replayTrace } from '../src/replay/replayTrace.js';
import { INPUT_LOG_FILE, readInputLog } from '../src/replay/inputLog.js';
import { EXIT_WORD_COLUMNS, TABLE_NAMES, TABLES } from '../src/record/schema.js';
import { newExitEvent } from '../src/record/ExitCursor.js';
import { TraceWriter } from '../src/record/TraceWriter.js';
import { ExitWord, type ExitEvent } from '../src/emulator/events.js';
import { isLz4Frame } from '../src/record/compression.js';
import { scanColumns } from '../src/record/scanColumns.js';
import { TraceReader } from '../src/record/TraceReader.js';

const root = mkdtempSync(join(tmpdir(), 'vmtrace-compress-'));

/**
 * The first record batch of exits.arrow as the Arrow spec lays it out: the message header's BodyCompression
 * (parsed by apache-arrow's flatbuffer code) is LZ4_FRAME (0), and the `seq` column's value buffer (field 0,
 * buffers [validity, values]) starts with an int64 holding the *uncompressed* length, rows x 8, or -1.
 */
function firstBatchLayout(dir: string): { codec: number | null; rows: number; prefix: bigint } {
  const f = TraceReader.open(dir).openTable('exits');
  try {
    const { header, bodyStart } = f.batchLayout(0);
    const values = header.buffers[1]!;
    const buf = new Uint8Array(8);
    f.readInto(buf, 8, bodyStart + Number(values.offset));
    return { codec: header.compression?.type ?? null, rows: Number(header.length), prefix: new DataView(buf.buffer).getBigInt64(0, true) };
  } finally {
    f.close();
  }
}

describe('compressed trace files (LZ4_FRAME)', async () => {
  const config = { workload: 'syscall:n=3000', exitPreset: 'kvm-default', costModel: 'modern' };
  const z = await recordTrace(config, join(root, 'lz4'), { checkpointEvery: 300_000, compression: 'lz4' });
  const n = await recordTrace(config, join(root, 'none'), { checkpointEvery: 300_000, compression: 'none' });

  it('records the same run either way, and says which in the manifest', () => {
    expect(z.result.exits).toBe(n.result.exits);
    expect(z.manifest.compression).toBe('lz4');
    expect(n.manifest.compression).toBe('none');
  });

  it('nodejs-polars reads every compressed table and gets exactly the uncompressed table', () => {
    for (const t of TABLE_NAMES) {
      const file = TABLES[t].file;
      const a = pl.readIPC(readFileSync(join(root, 'lz4', file)));
      const b = pl.readIPC(readFileSync(join(root, 'none', file)));
      expect(a.height, file).toBe(z.manifest.tables[t].rows);
      expect(a.frameEqual(b, true), file).toBe(true);
    }
  });

  it('record batches carry BodyCompression LZ4_FRAME and uncompressed-length prefixes', () => {
    const l = firstBatchLayout(join(root, 'lz4'));
    expect(l.codec).toBe(0);
    expect(l.prefix).toBe(BigInt(l.rows * 8));
    expect(firstBatchLayout(join(root, 'none')).codec).toBe(null);
  });

  it('the compressed tables are several times smaller', () => {
    const exitsZ = readFileSync(join(root, 'lz4', 'exits.arrow')).byteLength;
    const exitsN = readFileSync(join(root, 'none', 'exits.arrow')).byteLength;
    expect(exitsZ * 4).toBeLessThan(exitsN);
  });

  it('the projected column scan (importer) reads compressed batches', () => {
    const sum = (dir: string): number[] => {
      const r = TraceReader.open(join(root, dir));
      let rows = 0;
      let hi = 0;
      for (const b of scanColumns(r, 'exits', ['icount', 'exit_reason'])) {
        rows += b.length;
        hi = Math.max(hi, (b.cols[0] as Uint32Array)[2 * b.length - 2]!);
      }
      return [rows, hi];
    };
    expect(sum('lz4')).toEqual(sum('none'));
  });

  it('the input log and checkpoints are LZ4 frames that decode to the uncompressed ones', async () => {
    const logZ = readFileSync(join(root, 'lz4', INPUT_LOG_FILE));
    expect(isLz4Frame(logZ)).toBe(true);
    expect(isLz4Frame(readFileSync(join(root, 'none', INPUT_LOG_FILE)))).toBe(false);
    expect(readInputLog(join(root, 'lz4', INPUT_LOG_FILE))).toEqual(readInputLog(join(root, 'none', INPUT_LOG_FILE)));
    const cps = readdirSync(join(root, 'lz4', 'checkpoints'));
    expect(cps.length).toBeGreaterThan(0);
    for (const c of cps) expect(isLz4Frame(readFileSync(join(root, 'lz4', 'checkpoints', c)))).toBe(true);
  });

  it('replays clean from the start and from a compressed checkpoint', async () => {
    const r = await replayTrace(join(root, 'lz4'));
    expect(r.clean).toBe(true);
    expect(r.matched).toBe(z.result.exits);
    const f = await replayTrace(join(root, 'lz4'), { from: 400_000 });
    expect(f.clean).toBe(true);
  });
});

describe('replay\'s exit reader (its own thread, rows in shared memory) against apache-arrow\'s reader', async () => {
  // Batches of 4096 rows: several per table, more than the reader's three slots, the last one short.
  const dirs = { lz4: join(root, 'rows-lz4'), none: join(root, 'rows-none') };
  for (const [compression, dir] of Object.entries(dirs)) {
    await recordTrace({ workload: 'syscall:n=20000', exitPreset: 'kvm-default', costModel: 'modern' }, dir,
      { checkpointEvery: 0, batchRows: 4096, compression: compression as 'lz4' | 'none' });
  }

  it.each(Object.keys(dirs))('%s: every exit the cursor gives equals the row apache-arrow decodes, field by field', (compression) => {
    const r = TraceReader.open(dirs[compression as keyof typeof dirs]);
    const cursor = r.exitCursor();
    const e = newExitEvent();
    const spec = TABLES.exits.columns;
    const col = (name: string): number => spec.findIndex((c) => c.name === name);
    let n = 0;
    let batches = 0;
    try {
      for (const batch of r.batches('exits')) {
        batches++;
        const get = (name: string, i: number): bigint | number | null => {
          const v = batch.getChildAt(col(name))!.get(i) as bigint | number | null;
          return v;
        };
        for (let i = 0; i < batch.numRows; i++, n++) {
          expect(cursor.nextEvent(e), `exit ${n}`).toBe(true);
          const words = (at: number): bigint => (BigInt(e.words[at + 1]!) << 32n) | BigInt(e.words[at]!);
          const got: Record<string, unknown> = {
            seq: BigInt(e.seq), icount: BigInt(e.icount), ts: BigInt(e.tsc), cycles: BigInt(e.cycles), cost: e.cost, cpu: e.vcpu,
            exit_reason: e.reason, instruction_length: e.instructionLength, interruption_info: e.interruptionInfo,
            interruption_error_code: e.interruptionErrorCode, cs: e.cs, ss: e.ss, cpl: e.cpl,
          };
          const want: Record<string, unknown> = {};
          for (const k of Object.keys(got)) want[k] = get(k, i);
          for (const [name, at] of EXIT_WORD_COLUMNS) {
            const v = get(name, i);
            got[name] = name === 'guest_linear' && !e.hasGuestLinear ? null : name === 'guest_physical' && !e.hasGuestPhysical ? null : words(at);
            want[name] = v;
            // A null address travels as 0 in the ExitEvent.
            if (v === null) expect(words(at), `exit ${n} ${name}`).toBe(0n);
          }
          expect(got, `exit ${n}`).toEqual(want);

        }
      }
      expect(cursor.nextEvent(e)).toBe(false);
    } finally {
      cursor.close();
    }
    expect(n).toBe(r.rowCount('exits'));
    expect(batches).toBeGreaterThan(3);
  });

  it.each(['lz4', 'none'])('%s: a synthetic stream (null and set addresses, extreme values) reads back as the events written', (compression) => {
    const dir = join(root, `rows-synthetic-${compression}`);
    const w = new TraceWriter(dir, {
      workload: { name: 'synthetic' }, seed: 1, exitPreset: { name: 'kvm-default' }, costModel: { name: 'modern', figures: {} },
      cyclesPerInstruction: 2, batchRows: 777, compression: compression as 'lz4' | 'none',
    });
    let x = 0x12345678;
    const rnd = (): number => {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32
      return x >>> 0;
    };
    const written: ExitEvent[] = [];
    for (let i = 0; i < 5000; i++) {
      const e = newExitEvent();
      e.seq = i; e.icount = i * 1000 + (rnd() & 0xff); e.tsc = e.icount * 2; e.cycles = i * 3000 + 2 ** 40; e.cost = rnd();
      e.vcpu = rnd() & 0xffff; e.reason = rnd() % 70; e.instructionLength = rnd() & 15; e.interruptionInfo = rnd();
      e.interruptionErrorCode = rnd(); e.cs = rnd() & 0xffff; e.ss = rnd() & 0xffff; e.cpl = rnd() & 3;
      for (let k = 0; k < e.words.length; k++) e.words[k] = k % 5 === 0 ? 0xffffffff : rnd();
      e.hasGuestLinear = (rnd() & 1) === 1;
      e.hasGuestPhysical = (rnd() & 3) === 0;
      if (!e.hasGuestLinear) e.words[ExitWord.guestLinear] = e.words[ExitWord.guestLinear + 1] = 0;
      if (!e.hasGuestPhysical) e.words[ExitWord.guestPhysical] = e.words[ExitWord.guestPhysical + 1] = 0;
      w.onExit(e);
      written.push(e);
    }
    w.close(true, { reason: 'guest_exit' });
    const cursor = TraceReader.open(dir).exitCursor();
    try {
      const e = newExitEvent();
      for (const want of written) {
        expect(cursor.nextEvent(e)).toBe(true);
        expect({ ...e, words: [...e.words] }, `exit ${want.seq}`).toEqual({ ...want, words: [...want.words] });
      }
      expect(cursor.nextEvent(e)).toBe(false);
    } finally {
      cursor.close();
    }
    expect(written.some((e) => e.hasGuestLinear) && written.some((e) => !e.hasGuestLinear)).toBe(true);

  });
});
