// `trace export --parquet`: the files are read by engines nobody here wrote: DuckDB (@duckdb/node-api, its
// own Parquet reader) and nodejs-polars. Row counts match the manifests, DuckDB's group-by equals
// `trace analyze exits`, 64-bit bit patterns and nulls survive, a suite becomes a Hive-partitioned dataset
// (`workload=...`), the output is deterministic, and bad input is one clear line.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { exportParquet } from '../src/export/parquet.js';
import { runAnalysis } from '../src/cli/analyze.js';
import { runCli } from '../src/cli/main.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { TraceWriter } from '../src/record/TraceWriter.js';
import { emitSynthetic } from './helpers/syntheticEvents.js';
import { TABLE_NAMES } from '../src/record/schema.js';

const GOLDEN = resolve('traces/golden/bigstacks');
let root: string;
let suite: string;
let out: string;
let db: DuckDBConnection;

function syntheticTrace(dir: string): void {
  const w = new TraceWriter(dir, {
    workload: { name: 'synthetic', description: 'seeded synthetic stream', params: { n: 4 } },
    seed: 3, exitPreset: { name: 'all-io' }, costModel: { name: 'flat', figures: { roundTrip: 1000 } },
    cyclesPerInstruction: 2, batchRows: 500,
  });
  emitSynthetic({ onExit: w.onExit.bind(w), onIo: w.onIo.bind(w), onInterrupt: w.onInterrupt.bind(w),
    onGroundTruth: w.onGroundTruth.bind(w), onConsole: w.onConsole.bind(w) }, { seed: 9, exits: 2500, oddReasonEvery: 400 });
  w.close(true, { reason: 'guest-exit', status: 0 });
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-parquet-'));
  suite = join(root, 'suite');
  mkdirSync(suite);
  symlinkSync(GOLDEN, join(suite, 'bigstacks'));
  syntheticTrace(join(suite, 'synthetic'));
  out = join(root, 'out');
  await exportParquet(suite, out);
  db = await (await DuckDBInstance.create(':memory:')).connect();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const scan = (table: string): string => `read_parquet('${out}/${table}/*/*.parquet', hive_partitioning = true)`;

describe('trace export --parquet, read by DuckDB', () => {
  it('every table of every trace, with the manifest row counts, partitioned by workload', async () => {
    for (const [workload, dir] of [['bigstacks', GOLDEN], ['synthetic', join(suite, 'synthetic')]] as const) {
      const m = TraceReader.open(dir).manifest;
      for (const t of TABLE_NAMES) {
        const r = await rows(`select count(*)::INTEGER as n from ${scan(t)} where workload = '${workload}'`);
        expect(r[0]!.n, `${workload} ${t}`).toBe(m.tables[t].rows);
      }
    }
  });

  it('a group-by over exits equals `trace analyze exits`', async () => {
    const ours = await runAnalysis(GOLDEN, 'exits');
    const expected = ours.tables[0]!.rows.map((r) => ({ reason: r[0], name: r[1], samples: r[2], min: r[5], max: r[6], total: r[8] }));
    const got = await rows(`select exit_reason::INTEGER as reason, exit_reason_name as name, count(*)::INTEGER as samples,
        min(cost)::INTEGER as min, max(cost)::INTEGER as max, sum(cost)::DOUBLE as total
      from ${scan('exits')} where workload = 'bigstacks' group by all order by samples desc, reason`);
    expect(got).toEqual(expected);
  });

  it('keeps types, 64-bit bit patterns and nulls', async () => {
    const types = new Map((await rows(`select column_name, column_type from (describe select * from ${scan('exits')})`))
      .map((r) => [r.column_name, r.column_type]));
    expect(types.get('icount')).toBe('BIGINT');
    expect(types.get('rip')).toBe('UBIGINT');
    expect(types.get('exit_reason_name')).toBe('VARCHAR');
    expect(types.get('workload')).toBe('VARCHAR');
    // Exit 0's registers as vmtrace's reader sees them.
    const b = TraceReader.open(GOLDEN).scan('exits', ['rip', 'cr3', 'guest_linear']).next().value!;
    const hex = (words: Uint32Array, i: number): string => ((BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!)).toString(16);
    const r = await rows(`select rip, cr3 from ${scan('exits')} where workload = 'bigstacks' and seq = 0`);
    expect((r[0]!.rip as bigint).toString(16)).toBe(hex(b.columns.rip.words!, 0));
    expect((r[0]!.cr3 as bigint).toString(16)).toBe(hex(b.columns.cr3.words!, 0));
    const nulls = await rows(`select count(*)::INTEGER as n from ${scan('exits')} where workload = 'bigstacks' and guest_linear is null`);
    let expectNull = 0;
    for (const x of TraceReader.open(GOLDEN).scan('exits', ['guest_linear'])) {
      for (let i = 0; i < x.length; i++) if (x.columns.guest_linear.isNull(i)) expectNull++;
    }
    expect(nulls[0]!.n).toBe(expectNull);
    // io.data (binary, null for IN/OUT) and the device dictionary come through.
    let withData = 0;
    const devices = new Map<string, number>();
    for (const x of TraceReader.open(GOLDEN).scan('io', ['data', 'device'])) {
      for (let i = 0; i < x.length; i++) {
        if (!x.columns.data.isNull(i)) withData++;
        const d = String(x.columns.device.string(i));
        devices.set(d, (devices.get(d) ?? 0) + 1);
      }
    }
    const io = await rows(`select count(*)::INTEGER as n from ${scan('io')} where workload = 'bigstacks' and data is not null`);
    expect(io[0]!.n).toBe(withData);
    const dev = await rows(`select device, count(*)::INTEGER as n from ${scan('io')} where workload = 'bigstacks' group by all`);
    expect(new Map(dev.map((r) => [r.device, r.n]))).toEqual(devices);
  });
});

describe('trace export --parquet, read by nodejs-polars', () => {
  it('reads each file; counts and the per-reason group-by agree with the trace', async () => {
    const df = pl.readParquet(join(out, 'exits', 'workload=bigstacks', 'part-0.parquet'));
    const m = TraceReader.open(GOLDEN).manifest;
    expect(df.height).toBe(m.totals.exits);
    const g = df.groupBy('exit_reason').agg(pl.len().alias('n')).sort('exit_reason');
    const counts = new Map(g.getColumn('exit_reason').toArray().map((r, i) => [Number(r), Number(g.getColumn('n').toArray()[i])]));
    for (const e of m.exits_by_reason) expect(counts.get(e.reason)).toBe(e.count);
    const gt = pl.readParquet(join(out, 'ground_truth', 'workload=bigstacks', 'part-0.parquet'));
    expect(gt.height).toBe(m.totals.ground_truth);
  });
});

describe('trace export --parquet: determinism and errors', () => {
  // The same command writes the same bytes. (Within one process a second export may order the Arrow
  // schema's metadata keys differently: arrow-rs keeps them in a HashMap whose seed advances per map.)
  it('the same command writes the same bytes (two runs of the CLI)', () => {
    const a = join(root, 'a'), b = join(root, 'b');
    for (const o of [a, b]) execFileSync(process.execPath, ['bin/trace.js', 'export', GOLDEN, '--parquet', o], { stdio: 'pipe' });
    for (const t of TABLE_NAMES) {
      expect(readFileSync(join(a, t, 'workload=bigstacks', 'part-0.parquet')).equals(readFileSync(join(b, t, 'workload=bigstacks', 'part-0.parquet'))), t).toBe(true);
    }
  });

  it('a missing trace is one line, exit code 2', async () => {
    const err: string[] = [];
    const w = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await runCli(['node', 'trace', 'export', join(root, 'nope'), '--parquet', join(root, 'x')]);
    } finally {
      process.stderr.write = w;
    }
    expect(process.exitCode).toBe(2);
    process.exitCode = undefined;
    expect(err.join('')).toMatch(/^trace: .*nope: no such trace directory\n$/);
  });
});
