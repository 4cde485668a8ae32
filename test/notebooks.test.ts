// docs/notebooks.md's snippets, tested: the DuckDB SQL blocks of its Parquet section run verbatim (with
// `out/` pointing at an export of a two-trace suite) and agree with vmtrace's own analyses and readers; the
// polars query runs in nodejs-polars and agrees with DuckDB.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { exportParquet } from '../src/export/parquet.js';
import { runAnalysis } from '../src/cli/analyze.js';
import { TraceReader } from '../src/record/TraceReader.js';
import { recordTrace } from '../src/replay/recordTrace.js';

const GOLDEN = resolve('traces/golden/bigstacks');
let root: string;
let out: string;
let db: DuckDBConnection;
let sql: string[];

/** The ```sql blocks of the "### DuckDB" part of docs/notebooks.md. */
function duckdbBlocks(): string[] {
  const doc = readFileSync('docs/notebooks.md', 'utf8');
  const part = doc.slice(doc.indexOf('### DuckDB'), doc.indexOf('### polars'));
  return [...part.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

async function query(text: string): Promise<Array<Record<string, unknown>>> {
  return (await db.runAndReadAll(text.replaceAll("'out/", `'${out}/`))).getRowObjectsJS() as Array<Record<string, unknown>>;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'vmtrace-notebooks-'));
  const suite = join(root, 'suite');
  mkdirSync(suite);
  symlinkSync(GOLDEN, join(suite, 'bigstacks'));
  await recordTrace({ workload: 'syscall:n=200', exitPreset: 'kvm-default', costModel: 'modern' }, join(suite, 'syscall'), { checkpointEvery: 0 });
  out = join(root, 'out');
  await exportParquet(suite, out);
  db = await (await DuckDBInstance.create(':memory:')).connect();
  sql = duckdbBlocks();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('docs/notebooks.md, DuckDB', () => {
  it('has the three documented queries', () => {
    expect(sql).toHaveLength(3);
  });

  it('exits per reason equals trace analyze exits, for each workload', async () => {
    const rows = await query(sql[0]!);
    for (const [w, dir] of [['bigstacks', GOLDEN], ['syscall', join(root, 'suite', 'syscall')]] as const) {
      const ours = (await runAnalysis(dir, 'exits')).tables[0]!.rows;
      const got = rows.filter((r) => r.workload === w);
      expect(got.map((r) => [r.exit_reason_name, Number(r.samples), Number(r.cycles), Number(r.min_cost), Number(r.max_cost), r.avg_cost]))
        .toEqual(ours.map((r) => [r[1], r[2], r[8], r[5], r[6], r[7]]));
    }
  });

  it('syscalls joined to their exits: counts and cycles from the trace itself', async () => {
    const rows = await query(sql[1]!);
    const dir = join(root, 'suite', 'syscall');
    const r = TraceReader.open(dir);
    const cost: number[] = [];
    for (const b of r.scan('exits', ['cost'])) for (let i = 0; i < b.length; i++) cost.push(b.columns.cost.number(i));
    const want = new Map<number, [number, number]>();
    for (const b of r.scan('syscalls', ['number', 'exit_seq'])) {
      for (let i = 0; i < b.length; i++) {
        const n = b.columns.number.number(i);
        const [c, y] = want.get(n) ?? [0, 0];
        want.set(n, [c + 1, y + cost[b.columns.exit_seq.number(i)]!]);
      }
    }
    const got = new Map(rows.filter((x) => x.workload === 'syscall').map((x) => [Number(x.number), [Number(x.calls), Number(x.cycles)]]));
    expect(got).toEqual(want);
  });

  it('process creations per program equal the ground truth', async () => {
    const rows = await query(sql[2]!);
    const want = new Map<string, number>();
    for (const b of TraceReader.open(GOLDEN).scan('ground_truth', ['type_name', 'name'])) {
      for (let i = 0; i < b.length; i++) {
        if (b.columns.type_name.string(i) === 'proc_create') want.set(b.columns.name.string(i)!, (want.get(b.columns.name.string(i)!) ?? 0) + 1);
      }
    }
    expect(new Map(rows.filter((x) => x.workload === 'bigstacks').map((x) => [x.name, Number(x.created)]))).toEqual(want);
  });
});

describe('docs/notebooks.md, polars', () => {
  it('the lazy hive-partitioned group-by agrees with DuckDB', async () => {
    const exits = pl.scanParquet(`${out}/exits/**/*.parquet`, { hivePartitioning: true } as never);
    const df = await exits.groupBy(['workload', 'exit_reason_name'])
      .agg(pl.len().alias('samples'), pl.col('cost').cast(pl.Int64).sum().alias('cycles'))
      .sort('samples', true)
      .collect();
    const polars = df.toRecords().map((r) => `${String(r.workload)} ${String(r.exit_reason_name)} ${Number(r.samples)} ${Number(r.cycles)}`).sort();
    const duck = (await query(sql[0]!)).map((r) => `${String(r.workload)} ${String(r.exit_reason_name)} ${Number(r.samples)} ${Number(r.cycles)}`).sort();
    expect(polars).toEqual(duck);
  });
});
