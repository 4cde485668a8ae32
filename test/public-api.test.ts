// The one public entry point (src/index.ts) is enough to record, read, replay and analyse a trace.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
    const res = await ANALYSES.exits!.run(dir, {});
    const total = res.tables[0]!.rows.reduce((n, row) => n + (row[2] as number), 0);
    expect(total).toBe(r.result.exits);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
