// witness.arrow (schema.ts WITNESS): the Linux guest's kernel-module witness, written beside the other tables
// only by runs that load the module (so every other trace keeps its files), and read back as rows. A small
// table (one row per scheduler event the module reports), so it is written on the recording thread, by the
// same TableBuffer and TableFile as the others (not through the writer thread of TraceFilesWorker).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TraceError } from '../errors.js';
import type { WitnessEvent } from '../emulator/events.js';
import { put64, TableBuffer } from './TableBuffer.js';
import { TableFile } from './TableFile.js';
import type { TraceFiles } from './TraceFiles.js';
import { TableFileReader } from './TableFileReader.js';
import { arrowSchema, WITNESS, WITNESS_KIND_NAMES } from './schema.js';
import type { TraceCompression } from './compression.js';
import type { FileDigest } from './fileHash.js';
import type { TraceReader } from './TraceReader.js';

export class WitnessTableWriter {
  readonly table: TableBuffer;
  readonly file: TableFile;
  count = 0;
  private readonly icount: Uint32Array; private readonly ts: Uint32Array;
  private readonly kind: Uint8Array; private readonly kindName: Int8Array; private readonly seq: Uint32Array;
  private readonly pid: Uint32Array; private readonly tgid: Uint32Array; private readonly otherPid: Uint32Array;
  private readonly otherTgid: Uint32Array; private readonly arg: Uint32Array; private readonly flags: Uint32Array;
  private readonly encoder = new TextEncoder();

  constructor(path: string, batchRows: number, compression: TraceCompression, private readonly cpi: number) {
    const file = (this.file = new TableFile(WITNESS, path, compression));
    // TableBuffer hands its batches to a TraceFiles; this one writes them to witness.arrow at once.
    const files: TraceFiles = {
      write: (_table, batch) => file.write(batch),
      marker: () => {},
      close: () => new Map([[WITNESS.file, file.finish()]]),
      abandon: () => file.abandon(),
      settle: () => {}, // every write is done when it returns
    };
    const t = (this.table = new TableBuffer(WITNESS, files, batchRows));
    this.icount = t.words('icount'); this.ts = t.words('ts'); this.kind = t.fixed('kind'); this.kindName = t.fixed('kind_name');
    this.seq = t.fixed('seq'); this.pid = t.fixed('pid'); this.tgid = t.fixed('tgid'); this.otherPid = t.fixed('other_pid');
    this.otherTgid = t.fixed('other_tgid'); this.arg = t.fixed('arg'); this.flags = t.fixed('flags');
  }

  /** Add a row; true when the batch is full (the caller flushes). */
  add(e: WitnessEvent): boolean {
    const t = this.table;
    const r = t.rows;
    put64(this.icount, r << 1, e.icount);
    put64(this.ts, r << 1, e.icount * this.cpi);
    this.kind[r] = e.type & 0xff;
    // Unknown kinds keep their number, with a null name.
    const known = e.type < WITNESS_KIND_NAMES.length;
    this.kindName[r] = known ? e.type : 0;
    if (known) t.col('kind_name').setValid(r);
    else t.col('kind_name').setNull(r);
    this.seq[r] = e.seq;
    this.pid[r] = e.pid;
    this.tgid[r] = e.tgid;
    this.otherPid[r] = e.otherPid;
    this.otherTgid[r] = e.otherTgid;
    this.arg[r] = e.arg >>> 0;
    this.flags[r] = e.flags;
    t.col('comm').setBytes(r, this.encoder.encode(e.comm));
    t.col('other_comm').setBytes(r, this.encoder.encode(e.otherComm));
    this.count++;
    t.rows = r + 1;
    return t.rows === t.batchRows;
  }

  close(): FileDigest {
    this.table.close();
    return this.file.finish();
  }

  abandon(): void {
    this.file.abandon();
  }
}


/** One row of witness.arrow: the event as the device parsed it, with its kind as number and name. */
export type WitnessRow = Omit<WitnessEvent, 'kind' | 'type'> & { kind: number; kindName: string };

/** The witness rows of a trace, or null when it has no witness.arrow (a run without the module). */
export function readWitness(reader: TraceReader): WitnessRow[] | null {
  const ref = (reader.manifest.tables as unknown as Record<string, { rows: number; bytes: number } | undefined>).witness;
  if (ref === undefined) return null;
  const path = reader.filePath(WITNESS.file);
  if (!existsSync(path)) throw new TraceError(`${reader.dir}: ${WITNESS.file} is missing (the manifest lists ${ref.rows} rows)`, join(reader.dir, WITNESS.file));
  const f = new TableFileReader(path, WITNESS.file, arrowSchema(WITNESS), reader.finished ? null : ref.bytes);
  const out: WitnessRow[] = [];
  try {
    for (let b = 0; b < f.numBatches; b++) {
      const batch = f.batch(b);
      const col = (n: string) => batch.getChild(n)!;
      const [icount, kind, kindName, seq, pid, tgid, op, ot, arg, flags, comm, oc] =
        ['icount', 'kind', 'kind_name', 'seq', 'pid', 'tgid', 'other_pid', 'other_tgid', 'arg', 'flags', 'comm', 'other_comm'].map(col);
      for (let i = 0; i < batch.numRows; i++) {
        out.push({
          icount: Number(icount!.get(i)), kind: kind!.get(i) as number, kindName: String(kindName!.get(i) ?? ''), seq: seq!.get(i) as number,
          pid: pid!.get(i) as number, tgid: tgid!.get(i) as number, otherPid: op!.get(i) as number, otherTgid: ot!.get(i) as number,
          arg: arg!.get(i) as number, flags: flags!.get(i) as number, comm: String(comm!.get(i)), otherComm: String(oc!.get(i)),
        });
      }
    }
  } finally {
    f.close();
  }
  if (out.length !== ref.rows) throw new TraceError(`${reader.dir}: ${WITNESS.file} holds ${out.length} rows, the manifest records ${ref.rows}: the file is damaged`, path);
  return out;
}
