// Trace-writing throughput, independent of the emulator: exit rows per second through TraceWriter into a
// real trace directory (Arrow IPC files on the local disk), and the size of exits.arrow per exit.
//
// The events are a pool of 4096 pre-generated synthetic exits (test/helpers/syntheticEvents.ts) replayed with
// fresh seq/icount, so the figure measures the writer, not the PRNG. A second run with the full mixed
// stream (I/O, interrupts, ground truth, console) gives the whole directory's size per exit.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import type { ExitEvent } from '../src/emulator/events.js';
import { TraceWriter, type TraceWriterOptions } from '../src/record/TraceWriter.js';
import { emitSynthetic } from '../test/helpers/syntheticEvents.js';
import { figure } from './figure.js';

const ROWS = 500_000;
const POOL = 4096;

const options: TraceWriterOptions = {
  workload: { name: 'bench' }, seed: 1, exitPreset: { name: 'bench' }, costModel: { name: 'bench', figures: {} },
  cyclesPerInstruction: 1, devices: ['pic', 'pit', 'ata', 'uart', 'power', 'nic', 'none'], overwrite: true,
};

function pool(): ExitEvent[] {
  const out: ExitEvent[] = [];
  emitSynthetic({ onExit: (e) => out.push({ ...e, words: e.words.slice() }) }, { seed: 9, exits: POOL, exitsOnly: true });
  return out;
}

export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vmtrace-bench-'));
  try {
    const events = pool();
    const dir = join(root, 'exits');
    let icount = 0;
    const bench = new Bench({ iterations: 5, time: 0, warmupIterations: 1 });
    bench.add(`TraceWriter: ${ROWS} exit rows to disk`, () => {
      const w = new TraceWriter(dir, options);
      for (let i = 0; i < ROWS; i++) {
        const e = events[i & (POOL - 1)]!;
        e.seq = i;
        icount += 100;
        e.icount = icount;
        e.tsc = icount;
        w.onExit(e);
      }
      w.close(true, 'guest-exit');
    });
    await bench.run();
    console.table(bench.table());
    const t = bench.tasks[0]!.result!;
    const meanMs = 'latency' in t ? (t as { latency: { mean: number } }).latency.mean : (t as unknown as { mean: number }).mean;
    figure('record.rows_per_s', ROWS / (meanMs / 1000), 'rows/s');
    figure('record.bytes_per_exit', statSync(join(dir, 'exits.arrow')).size / ROWS, 'B');

    // Whole directory per exit for the synthetic mixed stream (its I/O and interrupt rates are arbitrary).
    const mixed = join(root, 'mixed');
    const w = new TraceWriter(mixed, options);
    emitSynthetic(w, { seed: 3, exits: 200_000 });
    const m = w.close(true, 'guest-exit');
    const total = m.files.reduce((s, f) => s + f.bytes, 0);
    figure('record.dir_bytes_per_exit_synthetic_mix', total / m.totals.exits, 'B');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
