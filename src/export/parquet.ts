// `trace export <dir> --parquet <outdir>`: every table of a trace (or of each trace of a suite) as Parquet,
// zstd-compressed, laid out as a Hive-partitioned dataset that DuckDB, Spark and polars read natively:
//
//   <outdir>/<table>/workload=<workload>/part-0.parquet      exits, io, interrupts, ground_truth, syscalls
//   <outdir>/manifests/workload=<workload>/manifest.json     the trace's manifest (units, presets, totals)
//
// The writer is parquet-wasm (arrow-rs's Parquet writer compiled to WebAssembly): the table files' record
// batches are handed to it as Arrow IPC bytes straight from the file (no decoding in JS), a few batches at a
// time, and streamed to disk, so memory stays bounded whatever the trace's size. Measured against
// nodejs-polars (readIPC + writeParquet) in the commit that added this file. Column types are kept (uint64
// bit patterns as UINT_64, dictionary names as dictionary-encoded strings, binary as BYTE_ARRAY); the Arrow
// schema with its vmtrace metadata travels in the file (ARROW:schema), as arrow-rs writes it.

import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type * as PW from 'parquet-wasm/node';

type ParquetWasm = typeof PW;
/** parquet-wasm, loaded on first use (instantiating its 3 MB module costs every `trace` command otherwise). */
let wasm: ParquetWasm | null = null;
async function parquetWasm(): Promise<ParquetWasm> {
  wasm ??= await import('parquet-wasm/node');
  return wasm;
}
import { traceDirs } from '../analyses/traceDirs.js';
import type { ProgressSink } from '../analyses/result.js';
import { TraceReader } from '../record/TraceReader.js';
import { TABLES, TABLE_NAMES, TraceFile, type TableName } from '../record/schema.js';

/** Record batches (32768 rows each) handed to the writer at once: ~260k rows, ~70 MB of exits in wasm memory. */
const BATCHES_PER_CHUNK = 8;
/** Rows per Parquet row group (readers parallelise and skip by row group). */
const ROW_GROUP_ROWS = 1 << 20;

export interface ParquetFileWritten {
  table: TableName;
  workload: string;
  path: string;
  rows: number;
}

export interface ParquetExport {
  files: ParquetFileWritten[];
  rows: number;
}

/** Writer settings: zstd; dictionary encoding only for the columns that are dictionaries in the trace. */
function writerProperties(pw: ParquetWasm, table: TableName, workload: string): PW.WriterProperties {
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    .setDictionaryEnabled(false) // registers and addresses: dictionary pages cost time and grow the file
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setCreatedBy('vmtrace (parquet-wasm)')
    .setKeyValueMetadata(new Map([['vmtrace.table', table], ['vmtrace.workload', workload]]));
  for (const c of TABLES[table].columns) if (c.type === 'dict') b = b.setColumnDictionaryEnabled(c.name, true);
  return b.build();
}

/** Partition values: the workload name; a second trace of the same workload gets its directory name added. */
function partitionNames(dirs: string[]): string[] {
  const seen = new Set<string>();
  return dirs.map((d) => {
    let w = TraceReader.open(d).manifest.workload.name;
    if (seen.has(w)) w = `${w}-${basename(d)}`;
    seen.add(w);
    return w.replace(/[^A-Za-z0-9_.+-]/g, '_');
  });
}

/** Write one table of one trace; returns its row count. */
async function writeTable(reader: TraceReader, table: TableName, workload: string, path: string,
  onRows: (rows: number) => void): Promise<number> {
  const pw = await parquetWasm();
  const file = reader.openTable(table);
  try {
    const n = file.numBatches;
    let next = 0;
    let rows = 0;
    const batches = new ReadableStream<PW.RecordBatch>({
      pull(ctl): void {
        if (next >= n) {
          ctl.close();
          return;
        }
        const to = Math.min(n, next + BATCHES_PER_CHUNK);
        const t = pw.Table.fromIPCStream(file.plainIpcStream(next, to));
        next = to;
        for (const b of t.recordBatches()) {
          rows += b.numRows;
          ctl.enqueue(b);
        }
        onRows(rows);
      },
    });
    const fd = openSync(path, 'w');
    try {
      if (n === 0) {
        // No record batch: the schema alone (a Parquet file with no row group).
        writeSync(fd, pw.writeParquet(pw.Table.fromIPCStream(file.plainIpcStream(0, 0)), writerProperties(pw, table, workload)));
      } else {
        const out = await pw.transformParquetStream(batches, writerProperties(pw, table, workload));
        for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) writeSync(fd, chunk);
      }
    } finally {
      closeSync(fd);
    }
    return rows;
  } finally {
    file.close();
  }
}

/** Export the trace (or every trace of the suite) at `dir` into `outdir` as a partitioned Parquet dataset. */
export async function exportParquet(dir: string, outdir: string, progress?: ProgressSink): Promise<ParquetExport> {
  const dirs = traceDirs(dir);
  const names = partitionNames(dirs);
  const files: ParquetFileWritten[] = [];
  let total = 0;
  for (let k = 0; k < dirs.length; k++) {
    const reader = TraceReader.open(dirs[k]!);
    const workload = names[k]!;
    const all = TABLE_NAMES.reduce((s, t) => s + reader.rowCount(t), 0);
    progress?.stage(`parquet ${workload}`, all, 'rows');
    let done = 0;
    for (const table of TABLE_NAMES) {
      const part = join(outdir, table, `workload=${workload}`);
      mkdirSync(part, { recursive: true });
      const path = join(part, 'part-0.parquet');
      const rows = await writeTable(reader, table, workload, path, (r) => progress?.update(done + r));
      done += rows;
      total += rows;
      files.push({ table, workload, path, rows });
    }
    const mdir = join(outdir, 'manifests', `workload=${workload}`);
    mkdirSync(mdir, { recursive: true });
    writeFileSync(join(mdir, TraceFile.manifest), `${JSON.stringify(reader.manifest, null, 2)}\n`);
  }
  return { files, rows: total };
}
