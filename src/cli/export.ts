// `trace export <dir> --parquet <outdir>`: the trace's tables (or a suite's, partitioned by workload) as
// Parquet for DuckDB, Spark and polars (src/export/parquet.ts). `--perfetto <file>`: the trace as a Perfetto
// TracePacket stream for Perfetto UI and trace_processor (src/export/perfetto.ts). Both may be given.

import type { Command } from 'commander';
import { stageProgress } from './progress.js';
import { exportParquet } from '../export/parquet.js';
import { exportPerfetto } from '../export/perfetto.js';
import { TraceError, UserError } from '../errors.js';

interface ExportOptions { parquet?: string; perfetto?: string }

export function register(program: Command): void {
  program
    .command('export')
    .description('export a trace for other tools: Parquet tables (a directory of traces: a partitioned dataset), a Perfetto timeline')
    .argument('<dir>', 'trace directory, or a directory of trace directories')
    .option('--parquet <outdir>', 'write every table as zstd Parquet, partitioned by workload: <outdir>/<table>/workload=<w>/part-0.parquet')
    .option('--perfetto <file>', 'write a Perfetto trace (TracePacket protobuf; open in ui.perfetto.dev or trace_processor)')
    .action(async (dir: string, o: ExportOptions) => {
      if (o.parquet === undefined && o.perfetto === undefined) throw new UserError('export: say what to write (--parquet <outdir> and/or --perfetto <file>)');
      const progress = stageProgress();
      try {
        if (o.parquet !== undefined) {
          const r = await exportParquet(dir, o.parquet, progress);
          const workloads = new Set(r.files.map((f) => f.workload));
          progress.done();
          process.stdout.write(`wrote ${r.files.length} Parquet files (${r.rows} rows, ${workloads.size} workload${workloads.size === 1 ? '' : 's'}) under ${o.parquet}\n`);
        }
        if (o.perfetto !== undefined) {
          const r = await exportPerfetto(dir, o.perfetto, progress);
          progress.done();
          process.stdout.write(`wrote ${o.perfetto}: ${r.tracks} tracks, ${r.events} track events, ${r.packets} packets, ${r.bytes} bytes\n`);
        }
      } catch (e) {
        progress.done();
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      }
    });
}
