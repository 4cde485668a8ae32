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
import type { ExitEvent, GroundTruthEvent, InterruptEvent, IoEvent, SyscallEvent } from '../src/emulator/events.js';
import { TraceWriter, type TraceWriterOptions } from '../src/record/TraceWriter.js';
import { emitSynthetic } from '../test/helpers/syntheticEvents.js';
import { figure } from './figure.js';
import { LiveEnvironment } from '../src/replay/LiveEnvironment.js';
import { assemble } from '../src/replay/Session.js';
import { TraceCompression } from '../src/record/compression.js';

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

    batchSizes(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The record batch size (traces/README.md "Batch size"): the events of syscall:n=100000 (each exit with its
 * syscall and ground-truth rows) captured once, then written by a TraceWriter per batch size, LZ4 and
 * uncompressed; best of 3 of the process's CPU time (a shared machine's waits left out) and the tables' bytes.
 */
function batchSizes(root: string): void {
  const a = assemble({ workload: 'syscall:n=100000', exitPreset: 'kvm-default', costModel: 'modern' }, (m, w) => new LiveEnvironment(m, w));
  type Ev = [0, ExitEvent] | [1, SyscallEvent] | [2, GroundTruthEvent] | [3, IoEvent] | [4, InterruptEvent];
  const ev: Ev[] = [];
  a.machine.subscribe({
    onExit: (e) => ev.push([0, { ...e, words: e.words.slice() }]),
    onSyscall: (e) => ev.push([1, { ...e, args: e.args.slice() }]),
    onGroundTruth: (e) => ev.push([2, { ...e }]),
    onIo: (e) => ev.push([3, { ...e }]),
    onInterrupt: (e) => ev.push([4, { ...e }]),
  });
  a.machine.run();
  const exits = ev.filter((x) => x[0] === 0).length;
  const dir = join(root, 'batches');
  const once = (batchRows: number, compression: TraceCompression): [number, number] => {
    const c0 = process.cpuUsage();
    const w = new TraceWriter(dir, { ...options, devices: [...options.devices!, 'groundtruth', 'rtc'], batchRows, compression });
    for (const [k, e] of ev) {
      if (k === 0) w.onExit(e); else if (k === 1) w.onSyscall(e); else if (k === 2) w.onGroundTruth(e); else if (k === 3) w.onIo(e); else w.onInterrupt(e);
    }
    const m = w.close(true, 'guest-exit');
    const c = process.cpuUsage(c0);
    const tables = m.files.filter((f) => f.path.endsWith('.arrow')).reduce((n, f) => n + f.bytes, 0);
    return [((c.user + c.system) * 1000) / exits, tables / exits];
  };
  console.log(`batch size: ${ev.length} events of syscall:n=100000 (${exits} exits), best of 3, process CPU time per exit`);
  for (const compression of [TraceCompression.lz4, TraceCompression.none]) {
    for (const rows of [4096, 8192, 16384, 32768, 65536]) {
      once(rows, compression); // warm-up
      const runs = [once(rows, compression), once(rows, compression), once(rows, compression)];
      const ns = Math.min(...runs.map((r) => r[0]));
      console.log(`  ${compression} ${String(rows).padStart(5)} rows: ${ns.toFixed(0)} ns/exit, ${runs[0]![1].toFixed(1)} B/exit (tables)`);
      if (rows === 32768) figure(`record.writer_ns_per_exit_${compression}`, ns, 'ns');
    }
  }
}
