// A trace directory's lifecycle (traces/README.md "States of a trace"), apart from the tables' row encoders
// (TraceWriter): the directory is created (or an old trace in it replaced, never anything else), the
// `incomplete` marker says what is safely on disk while recording, every file is written to `<name>.tmp` and
// renamed into place, guest images are stored once by content, and finish() lists and hashes every file,
// writes manifest.json and removes the marker.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, posix } from 'node:path';
import { TraceError } from '../errors.js';
import type { FileRef } from './manifest.js';
import { hashFile, type FileDigest } from './fileHash.js';
import { RESERVED_FILES, TraceFile } from './schema.js';

export class TraceDirectory {
  constructor(readonly dir: string, overwrite: boolean) {
    prepareDirectory(dir, overwrite);
  }

  /** Absolute path of a file the trace format names (a table, the console). */
  formatFile(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Absolute path for an additional file (`inputs.msgpack`, `checkpoints/...`), its parent directories
   * created. The name must be relative, inside the trace and not one the format reserves.
   */
  extraFile(rel: string): string {
    const abs = join(this.dir, checkRelPath(rel));
    mkdirSync(dirname(abs), { recursive: true });
    return abs;
  }

  /** Write an additional file in one go (atomically: a reader never sees half of it). */
  writeExtra(rel: string, data: Uint8Array | string): void {
    writeAtomic(this.extraFile(rel), data);
  }

  /** Store a guest image as `images/<sha256>` (the same bytes are stored once). */
  addImage(bytes: Uint8Array): { sha256: string; bytes: number; path: string } {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const path = `${TraceFile.images}/${sha256}`;
    const abs = join(this.dir, path);
    if (!existsSync(abs)) {
      mkdirSync(join(this.dir, TraceFile.images), { recursive: true });
      writeAtomic(abs, bytes);
    }
    return { sha256, bytes: bytes.byteLength, path };
  }

  /** Rewrite the `incomplete` marker (the manifest as far as it is on disk). */
  writeMarker(text: string): void {
    writeMarkerFile(this.dir, text);
  }

  /**
   * Every file of the trace (relative, sorted) with its size, SHA-256 and XXH64: `known` gives the digests of the
   * files their writers hashed while writing; the others are read and hashed here.
   */
  listFiles(known: ReadonlyMap<string, FileDigest>): FileRef[] {
    return listFiles(this.dir).map((path): FileRef => {
      const h = known.get(path) ?? hashFile(join(this.dir, path));
      return { path, bytes: h.bytes, sha256: h.sha256, xxh64: h.xxh64, ...(h.blocks !== undefined ? { blocks: h.blocks } : {}) };
    });
  }

  /** Remove temporaries a failed write may have left (every `*.tmp` of the trace). */
  removeTemporaries(): void {
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.tmp')) rmSync(p, { force: true });
      }
    };
    walk(this.dir);
  }

  /** The recording is over: write manifest.json, then remove the marker (the trace is now complete or stopped). */
  finish(manifestText: string): void {
    writeAtomic(join(this.dir, TraceFile.manifest), manifestText);
    const marker = join(this.dir, TraceFile.incomplete);
    if (existsSync(marker)) unlinkSync(marker);
  }
}

/** Rewrite the `incomplete` marker of the trace in `dir` (atomically: a reader sees the old or the new one). */
export function writeMarkerFile(dir: string, text: string): void {
  writeAtomic(join(dir, TraceFile.incomplete), text);
}

/** Check a caller-chosen relative path inside the trace. */
function checkRelPath(rel: string): string {
  const norm = posix.normalize(rel.replaceAll('\\', '/'));
  if (rel === '' || posix.isAbsolute(norm) || norm.startsWith('..') || norm === '.' || norm.endsWith('/')) {
    throw new TraceError(`bad trace file name "${rel}": use a relative path inside the trace`);
  }
  const top = norm.split('/')[0]!;
  if (RESERVED_FILES.has(norm) || top === TraceFile.images || norm.endsWith('.tmp')) {
    throw new TraceError(`trace file name "${rel}" is reserved by the trace format`);
  }
  return norm;
}

/** Write a file atomically (`<path>.tmp`, then renamed: a reader never sees half of it). */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(`${path}.tmp`, data);
    renameSync(`${path}.tmp`, path);
  } catch (e) {
    // A full disk (ENOSPC) must not leave `incomplete.tmp` or `manifest.json.tmp` behind.
    rmSync(`${path}.tmp`, { force: true });
    throw e;
  }
}

/** Create the directory, or empty an old trace there when allowed; never touch a directory that is not a trace. */
function prepareDirectory(dir: string, overwrite: boolean): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new TraceError(`${dir} exists and is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      const isTrace = entries.includes(TraceFile.manifest) || entries.includes(TraceFile.incomplete);
      if (!overwrite || !isTrace) {
        throw new TraceError(isTrace
          ? `${dir} already holds a trace (choose another directory or allow overwriting)`
          : `${dir} is not empty and does not hold a trace; refusing to write there`);
      }
      for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
    }
  } else {
    try {
      mkdirParents(dir);
    } catch (e) {
      throw new TraceError(`cannot create trace directory ${dir}: ${(e as Error).message}`);
    }
  }
}

/**
 * mkdir -p one component at a time. Node 20's recursive mkdirSync spins forever on some special file
 * systems (seen with /proc here: it keeps retrying ENOENT), so an unwritable target must fail with a clear
 * error instead.
 */
export function mkdirParents(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) mkdirSync(missing[i]);
}

/** Every file under dir (relative, '/'-separated, sorted), except the manifest, the marker and temporaries. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (p !== TraceFile.manifest && p !== TraceFile.incomplete && !p.endsWith('.tmp')) out.push(p);
    }
  };
  walk('');
  return out.sort();
}
