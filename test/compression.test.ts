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
import { TABLE_NAMES, TABLES } from '../src/record/schema.js';
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

describe('reading a batch ahead (replay), its LZ4 frames decoded by lz4-napi off the reading thread', async () => {
  const dir = join(root, 'ahead');
  await recordTrace({ workload: 'syscall:n=20000', exitPreset: 'kvm-default', costModel: 'modern' }, dir, { checkpointEvery: 0, batchRows: 4096 });

  it('gives the batch the synchronous reader gives, value for value, for every batch of every table', async () => {
    const r = TraceReader.open(dir);
    for (const t of TABLE_NAMES) {
      const f = r.openTable(t);
      try {
        for (let i = 0; i < f.numBatches; i++) {
          const a = f.batch(i);
          const b = await f.batchAhead(i);
          expect(b.numRows, `${t} batch ${i}`).toBe(a.numRows);
          for (let k = 0; k < a.numCols; k++) {
            expect(b.getChildAt(k)!.toArray(), `${t} batch ${i} column ${k}`).toEqual(a.getChildAt(k)!.toArray());
          }
        }
      } finally {
        f.close();
      }
    }
  });
});
