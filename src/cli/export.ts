// `trace export <dir> --parquet <outdir>`: the trace's tables (or a suite's, partitioned by workload) as
// Parquet for DuckDB, Spark and polars (src/export/parquet.ts).

import type { Command } from 'commander';
import { stageProgress } from './progress.js';
import { exportParquet } from '../export/parquet.js';
import { TraceError, UserError } from '../errors.js';

interface ExportOptions { parquet?: string }

export function register(program: Command): void {
  program
    .command('export')
    .description('export a trace (or a directory of traces) for other tools: Parquet tables')
    .argument('<dir>', 'trace directory, or a directory of trace directories')
    .option('--parquet <outdir>', 'write every table as zstd Parquet, partitioned by workload: <outdir>/<table>/workload=<w>/part-0.parquet')
    .action(async (dir: string, o: ExportOptions) => {
      if (o.parquet === undefined) throw new UserError('export: say what to write (--parquet <outdir>)');
      const progress = stageProgress();
      try {
        const r = await exportParquet(dir, o.parquet, progress);
        progress.done();
        const workloads = new Set(r.files.map((f) => f.workload));
        process.stdout.write(`wrote ${r.files.length} Parquet files (${r.rows} rows, ${workloads.size} workload${workloads.size === 1 ? '' : 's'}) under ${o.parquet}\n`);
      } catch (e) {
        progress.done();
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      }
    });
}
