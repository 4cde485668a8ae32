// Reading a trace directory: the manifest (validated), and each table batch by batch with bounded memory.
//
// A trace is in one of three states:
//   complete   manifest.json, complete: true
//   stopped    manifest.json, complete: false (interrupted; every file is still valid; `stop` says why)
//   recording  only the `incomplete` marker: the recorder is running or was killed without closing. The
//              Arrow files have no footer yet; the reader recovers every record batch the marker says is on
//              disk (TableFileReader walks the messages instead of relying on the footer).
//
// Reading is synchronous and holds one record batch at a time.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { ColumnView } from './ColumnView.js';
import { ExitCursor } from './ExitCursor.js';
import { TableFileReader } from './TableFileReader.js';
import { parseManifest, type FileRef, type ImageRef, type Manifest } from './manifest.js';
import { arrowSchema, FORMAT_VERSION, TABLES, TABLE_NAMES, TraceFile, type ColumnSpec, type TableName } from './schema.js';
import { TraceError } from '../errors.js';
import { BlockVerifier, checksumFile } from './fileHash.js';

export interface OpenOptions {
  /**
   * Check every file the manifest lists against its checksum (XXH64; SHA-256 in older traces) before
   * anything is read (default true; `--no-verify` on the command line); `'on-read'`: check each file when it
   * is first opened through this reader (openTable, console, filePath), so a command that reads two of the
   * trace's tables hashes those two, not the input log, checkpoints and other tables its output does not
   * depend on; a table whose manifest entry has per-block checksums (`blocks`) is checked block by block as
   * it is read (every byte read through openTable's reader is checked, the buffers of columns not read are
   * not). Sizes, schemas and row counts are checked either way.
   */
  verify?: boolean | 'on-read';
}

export const TraceState = { complete: 'complete', stopped: 'stopped', recording: 'recording' } as const;
export type TraceState = (typeof TraceState)[keyof typeof TraceState];

/** One record batch of a scan: the requested columns as typed views, and where the batch starts. */
export interface ScanBatch<C extends string> {
  /** Row number (within the table) of the batch's first row. */
  start: number;
  length: number;
  columns: Record<C, ColumnView>;
}

export class TraceReader {
  readonly state: TraceState;
  private readonly schemas = new Map<TableName, Schema>();
  /** With `verify: 'on-read'`: the files not checked yet (manifest paths); null when nothing is checked on read. */
  private unverified: Set<string> | null = null;
  /** With `verify: 'on-read'`: the block checkers of the tables that have per-block checksums, by file. */
  private readonly verifiers = new Map<string, BlockVerifier>();

  private constructor(readonly dir: string, readonly manifest: Manifest, readonly finished: boolean) {
    this.state = !finished ? TraceState.recording : manifest.complete ? TraceState.complete : TraceState.stopped;
  }

  /** Open and validate a trace directory (manifest, sizes and checksums of every file the manifest lists). */
  static open(dir: string, opts: OpenOptions = {}): TraceReader {
    if (!existsSync(dir)) throw new TraceError(`no trace directory at ${dir}`, dir);
    if (!statSync(dir).isDirectory()) throw new TraceError(`${dir} is not a directory`, dir);
    const manifestPath = join(dir, TraceFile.manifest);
    const markerPath = join(dir, TraceFile.incomplete);
    let finished: boolean;
    let path: string;
    if (existsSync(manifestPath)) {
      finished = true;
      path = manifestPath;
    } else if (existsSync(markerPath)) {
      finished = false;
      path = markerPath;
    } else {
      throw new TraceError(`${dir} is not a vmtrace trace (no ${TraceFile.manifest} or ${TraceFile.incomplete} marker)`, dir);
    }
    const manifest = parseManifest(readText(path), `${dir}/${finished ? TraceFile.manifest : TraceFile.incomplete}`);
    const r = new TraceReader(dir, manifest, finished);
    r.checkSizes();
    if (opts.verify === 'on-read') r.unverified = new Set(manifest.files.map((f) => f.path));
    else if (opts.verify !== false) r.verify();
    return r;
  }

  get complete(): boolean {
    return this.finished && this.manifest.complete;
  }

  tablePath(table: TableName): string {
    return join(this.dir, TABLES[table].file);
  }

  /** Rows of a table (of a `recording` trace: the rows known to be on disk). */
  rowCount(table: TableName): number {
    return this.manifest.tables[table].rows;
  }

  /** The schema a table must have (the reader checks every file against it). */
  schema(table: TableName): Schema {
    let s = this.schemas.get(table);
    if (!s) this.schemas.set(table, (s = arrowSchema(TABLES[table])));
    return s;
  }

  /**
   * Open a table file for synchronous batch access (the caller closes it). The file's schema is checked
   * against the format; a footer-less file is accepted only in a trace that is still `recording`.
   */
  openTable(table: TableName): TableFileReader {
    const file = TABLES[table].file;
    const path = this.tablePath(table);
    if (!existsSync(path)) throw new TraceError(`${this.dir}: ${file} is missing`, path);
    const verifier = this.blockVerifier(file, path) ?? (this.verifyOnRead(file), null);
    const ref = this.manifest.tables[table];
    const r = guard(path, () => new TableFileReader(path, file, this.schema(table), this.finished ? null : ref.bytes, verifier));
    try {
      if (r.fileSchema) this.checkSchema(table, r.fileSchema);
      // The manifest's counts are what analyses print and size their work by: the file must hold exactly those.
      if (r.numRows !== ref.rows || (this.finished && ref.batches !== undefined && r.numBatches !== ref.batches)) {
        throw new TraceError(`${this.dir}: ${file} holds ${r.numRows} rows in ${r.numBatches} record batches, the ` +
          `manifest records ${ref.rows} rows${this.finished ? ` in ${ref.batches} batches` : ''}: the file is damaged`, path);
      }
    } catch (e) {
      r.close();
      throw e;
    }
    return r;
  }

  /** Record batches of a table, one at a time (memory: one batch). Works with for..of and for await. */
  *batches(table: TableName): Generator<RecordBatch> {
    const r = this.openTable(table);
    try {
      for (let i = 0; i < r.numBatches; i++) yield r.batch(i);
    } finally {
      r.close();
    }
  }

  /** The recorded exits one by one as ExitEvents (the replayer's view; see ExitCursor). */
  exitCursor(): ExitCursor {
    return new ExitCursor(this.openTable('exits'));
  }

  /**
   * Scan a table yielding typed views of the requested columns per batch:
   *   for (const b of reader.scan('exits', ['exit_reason', 'cost'])) for (let i = 0; i < b.length; i++) ...
   */
  *scan<C extends string>(table: TableName, columns: readonly C[]): Generator<ScanBatch<C>> {
    const specs = columns.map((name) => {
      const i = TABLES[table].columns.findIndex((c) => c.name === name);
      if (i < 0) throw new TraceError(`${TABLES[table].file} has no column "${name}" (columns: ${TABLES[table].columns.map((c) => c.name).join(', ')})`);
      return [i, TABLES[table].columns[i]!] as [number, ColumnSpec];
    });
    let start = 0;
    for (const batch of this.batches(table)) {
      const cols = {} as Record<C, ColumnView>;
      specs.forEach(([i, spec], k) => {
        const child = batch.getChildAt(i)!;
        cols[columns[k]!] = new ColumnView(spec, batch.numRows, child.data[0]!);
      });
      yield { start, length: batch.numRows, columns: cols };
      start += batch.numRows;
    }
  }

  /** The guest's console output. */
  console(): string {
    const p = join(this.dir, TraceFile.console);
    if (!existsSync(p)) return '';
    this.verifyOnRead(TraceFile.console);
    return readText(p);
  }

  images(): readonly ImageRef[] {
    return this.manifest.images;
  }

  /** The bytes of a guest image by its manifest name, checked against its SHA-256. */
  readImage(name: string): Uint8Array {
    const ref = this.manifest.images.find((i) => i.name === name);
    if (!ref) throw new TraceError(`trace has no image "${name}" (images: ${this.manifest.images.map((i) => i.name).join(', ') || 'none'})`);
    const p = join(this.dir, ref.path);
    if (!existsSync(p)) throw new TraceError(`image ${name} (${ref.path}) is missing from the trace`, p);
    const bytes = guard(p, () => readFileSync(p));
    if (createHash('sha256').update(bytes).digest('hex') !== ref.sha256) {
      throw new TraceError(`image ${name} (${ref.path}) does not match its SHA-256: the trace is corrupt`, p);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Absolute path of an additional file of the trace (`inputs.msgpack`, `checkpoints/...`). */
  filePath(rel: string): string {
    const norm = posix.normalize(rel);
    if (posix.isAbsolute(norm) || norm.startsWith('..')) throw new TraceError(`bad trace file name "${rel}"`);
    this.verifyOnRead(norm);
    return join(this.dir, norm);
  }

  hasFile(rel: string): boolean {
    return existsSync(this.filePath(rel));
  }

  /**
   * Recompute the checksum of every file the manifest lists (XXH64, or SHA-256 where the manifest has no
   * XXH64); throws TraceError naming the first file that does not match. A trace still `recording` lists no
   * files yet (its tables are checked batch by batch as they are read).
   */
  verify(): void {
    for (const f of this.manifest.files) this.verifyFile(f);
  }

  private verifyFile(f: FileRef): void {
    const p = join(this.dir, f.path);
    const algorithm = f.xxh64 !== undefined ? 'xxh64' : 'sha256';
    const got = guard(p, () => checksumFile(p, algorithm));
    if (got !== (f.xxh64 ?? f.sha256)) {
      throw new TraceError(`${this.dir}: ${f.path} does not match its ${algorithm === 'xxh64' ? 'XXH64' : 'SHA-256'} checksum in the manifest: the file is damaged ` +
        '(--no-verify reads it anyway)', p);
    }
  }

  /**
   * With `verify: 'on-read'`, the block checker of a table file whose manifest entry has per-block checksums
   * (one per file for the reader's lifetime, so blocks checked once stay checked); null otherwise.
   */
  private blockVerifier(rel: string, path: string): BlockVerifier | null {
    if (this.unverified === null) return null;
    let v = this.verifiers.get(rel);
    if (v !== undefined) return v;
    if (!this.unverified.has(rel)) return null;
    const f = this.manifest.files.find((x) => x.path === rel);
    if (f?.blocks === undefined) return null;
    v = new BlockVerifier(f.blocks, f.bytes, (block, from, to) => {
      throw new TraceError(`${this.dir}: ${rel} does not match its XXH64 checksum in the manifest (block ${block}, bytes ${from}-${to}): ` +
        'the file is damaged (--no-verify reads it anyway)', path);
    });
    this.verifiers.set(rel, v);
    this.unverified.delete(rel);
    return v;
  }

  /** With `verify: 'on-read'`, check a file the first time it is read. */
  private verifyOnRead(rel: string): void {
    if (this.unverified === null || !this.unverified.has(rel)) return;
    const f = this.manifest.files.find((x) => x.path === rel);
    if (f !== undefined) this.verifyFile(f);
    this.unverified.delete(rel);
  }

  private checkSizes(): void {
    if (this.finished) {
      for (const f of this.manifest.files) {
        const p = join(this.dir, f.path);
        if (!existsSync(p)) throw new TraceError(`${this.dir}: ${f.path} is listed in the manifest but missing`, p);
        const st = statSync(p);
        if (!st.isFile()) throw new TraceError(`${this.dir}: ${f.path} is not a regular file`, p);
        const size = st.size;
        if (size !== f.bytes) {
          throw new TraceError(`${this.dir}: ${f.path} is ${size} bytes but the manifest records ${f.bytes}: ` +
            `the file is ${size < f.bytes ? 'truncated' : 'modified'}`, p);
        }
      }
    } else {
      for (const t of TABLE_NAMES) {
        const p = this.tablePath(t);
        const want = this.manifest.tables[t].bytes;
        const size = existsSync(p) ? statSync(p).size : -1;
        if (size < want) {
          throw new TraceError(`${this.dir}: ${TABLES[t].file} is ${Math.max(size, 0)} bytes but the recorder had ` +
            `written ${want}: the file is truncated`, p);
        }
      }
    }
  }

  private checkSchema(table: TableName, actual: Schema): void {
    const file = TABLES[table].file;
    const want = this.schema(table);
    const version = actual.metadata.get('vmtrace.format_version');
    if (version !== undefined && version !== String(FORMAT_VERSION)) {
      throw new TraceError(`${file}: table format version ${version} is not supported (this vmtrace reads version ${FORMAT_VERSION})`);
    }
    if (actual.fields.length !== want.fields.length) {
      throw new TraceError(`${file}: ${actual.fields.length} columns, the format has ${want.fields.length}: not a vmtrace ${table} table`);
    }
    want.fields.forEach((f, i) => {
      const a = actual.fields[i]!;
      if (a.name !== f.name || String(a.type) !== String(f.type)) {
        throw new TraceError(`${file}: column ${i} is ${a.name}: ${String(a.type)}, expected ${f.name}: ${String(f.type)}`);
      }
    });
  }
}

/** Run a file operation, turning the file system's errors (EACCES, EISDIR, ...) into a TraceError naming the file. */
function guard<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TraceError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') throw new TraceError(`${path}: cannot read (${code}: ${(e as Error).message.replace(/^[A-Z]+: /, '')})`, path);
    throw e;
  }
}

function readText(path: string): string {
  return guard(path, () => readFileSync(path, 'utf8'));
}
