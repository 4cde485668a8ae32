// The one public entry point (src/index.ts) is enough to record, read, replay and analyse a trace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import pl from 'nodejs-polars';
import { ANALYSES, TraceReader, recordTrace, replayTrace, STRATEGY_NAMES, TABLE_NAMES } from '../src/index.js';

it('records, reads, replays and analyses through src/index.ts', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-api-'));
  try {
    const dir = join(root, 't');
    const r = await recordTrace({ workload: 'syscall:n=300', exitPreset: 'kvm-default', costModel: 'modern' }, dir);
    const reader = TraceReader.open(dir);
    expect(reader.state).toBe('complete');
    expect(reader.rowCount('exits')).toBe(r.result.exits);
    expect(reader.rowCount('syscalls')).toBeGreaterThanOrEqual(300);
    expect(TABLE_NAMES).toContain('syscalls');
    expect(STRATEGY_NAMES).toContain('handler-injection');
    const rep = await replayTrace(dir);
    expect(rep.clean).toBe(true);
    // The exits analysis, read by column name, against polars' own count of exits.arrow by reason.
    const res = await ANALYSES.exits!.run(dir, {});
    const stats = res.tables.find((t) => t.name === 'exit_stats')!;
    const col = (name: string): number => stats.columns.findIndex((c) => c.name === name);
    const ours = stats.rows.map((row) => [Number(row[col('exit_reason')]), row[col('samples')]]).sort((a, b) => (a[0] as number) - (b[0] as number));
    const df = pl.readIPC(readFileSync(join(dir, 'exits.arrow'))).groupBy('exit_reason').agg(pl.len().alias('n')).sort('exit_reason');
    const polars = (df.toRecords() as Array<{ exit_reason: number; n: number }>).map((x) => [Number(x.exit_reason), Number(x.n)]);
    expect(ours).toEqual(polars);
    expect(polars.reduce((n, x) => n + x[1]!, 0)).toBe(r.result.exits);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
