// manifest.json (and the `incomplete` marker, same shape): what a trace holds and how it was made.
// Everything in it is a function of the recorded run only (no host time, hostname or absolute path), so
// two recordings of the same workload, seed and configuration are byte-identical.

import { FORMAT_NAME, FORMAT_VERSION, TABLE_NAMES, type TableName } from './schema.js';
import { TraceError } from '../errors.js';

export interface ImageRef {
  /** What the image is (`kernel.elf`, `disk.img`, a program name). */
  name: string;
  sha256: string;
  bytes: number;
  /** Path inside the trace: `images/<sha256>`. */
  path: string;
}

export interface FileRef {
  path: string;
  bytes: number;
  sha256: string;
  /** XXH64 (seed 0, hex), what readers verify on open (src/record/fileHash.ts); absent in older traces. */
  xxh64?: string;
  /**
   * XXH64 of each `bytes`-byte block of the file (16 hex digits per block, concatenated), for the files the
   * recorder streams (tables, console): a reader that reads part of a table checks the blocks it reads.
   * Absent in older traces and for files hashed after writing.
   */
  blocks?: { bytes: number; xxh64: string };
}

export interface TableRef {
  file: string;
  rows: number;
  batches: number;
  bytes: number;
}

export interface StopInfo {
  /** Why the run ended (the machine's StopReason: guest-exit, instruction-limit, interrupted, ...). */
  reason: string;
  detail: string;
  /** Guest exit status (guest-exit) or 0. */
  status: number;
  /** Guest instructions retired when the recording stopped. */
  icount: number;
  /** seq of the last recorded exit, -1 if none. */
  last_exit_seq: number;
}

export interface ExitReasonCount {
  reason: number;
  name: string;
  count: number;
}

export interface Manifest {
  format: typeof FORMAT_NAME;
  format_version: number;
  /** True when the recording covers the whole run; false if it was interrupted (see `stop`). */
  complete: boolean;
  /** How the recording ended; null while it is still being written (in the `incomplete` marker). */
  stop: StopInfo | null;
  workload: { name: string; description: string; params: Record<string, string> };
  seed: number;
  /** The exit-configuration preset: its name and whatever settings define it. */
  exit_preset: { name: string; [k: string]: unknown };
  /** The cost-model preset with all its figures (cycles). */
  cost_model: { name: string; figures: Record<string, number> };
  machine: { cycles_per_instruction: number; [k: string]: unknown };
  images: ImageRef[];
  totals: {
    icount: number;
    /** Modelled cycles at the end (the machine's total, or the last exit's `cycles`). */
    cycles: number;
    exits: number;
    io: number;
    interrupts: number;
    ground_truth: number;
    /** Rows of syscalls.arrow (system calls the interception strategy saw). */
    syscalls: number;
    console_bytes: number;
  };
  /** Exit counts per basic exit reason, ascending by reason; reasons with no exit are left out. */
  exits_by_reason: ExitReasonCount[];
  tables: Record<TableName, TableRef>;
  /** Every file of the directory except manifest.json, sorted by path (empty in `incomplete`). */
  files: FileRef[];
  /** Arrow body compression of the tables, input log and checkpoints (`lz4`, `none`); absent before it existed = none. */
  compression?: string;
  extra: Record<string, unknown>;
}

/** JSON with object keys sorted (recursively), so caller-supplied objects serialize the same way whatever
 *  order they were built in. Rejects values JSON cannot carry faithfully. */
export function canonical(value: unknown, where = 'value'): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TraceError(`${where}: ${value} cannot be stored in a manifest`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, `${where}[${i}]`));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v, `${where}.${k}`);
    }
    return out;
  }
  throw new TraceError(`${where}: a ${typeof value} cannot be stored in a manifest`);
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** A count or size: a non-negative safe integer. */
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse and check a manifest (or `incomplete` marker); `what` names the file in error messages. */
export function parseManifest(text: string, what: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new TraceError(`${what} is corrupt: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(m) || m.format !== FORMAT_NAME) throw new TraceError(`${what} is not a vmtrace manifest (no "format": "${FORMAT_NAME}")`);
  const v = m.format_version;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TraceError(`${what} is corrupt: format_version is missing`);
  if (v !== FORMAT_VERSION) {
    throw new TraceError(`${what}: trace format version ${v} is not supported (this vmtrace reads version ${FORMAT_VERSION})`);
  }
  const need: Array<[string, (x: unknown) => boolean]> = [
    ['complete', (x) => typeof x === 'boolean'],
    ['workload', isObject], ['seed', (x) => typeof x === 'number'], ['exit_preset', isObject],
    ['cost_model', isObject], ['machine', isObject], ['images', Array.isArray], ['totals', isObject],
    ['exits_by_reason', Array.isArray], ['tables', isObject], ['files', Array.isArray],
  ];
  for (const [k, ok] of need) if (!ok(m[k])) throw new TraceError(`${what} is corrupt: field "${k}" is missing or has the wrong type`);
  // Values a reader sizes loops and allocations from, or prints: counts are non-negative safe integers.
  if (!Number.isSafeInteger(m.seed)) throw new TraceError(`${what} is corrupt: seed ${String(m.seed)} is not an integer`);
  const totals = m.totals as Record<string, unknown>;
  for (const k of ['icount', 'cycles', 'exits', 'io', 'interrupts', 'ground_truth', 'syscalls', 'console_bytes']) {
    if (totals[k] !== undefined && !isCount(totals[k])) throw new TraceError(`${what} is corrupt: totals.${k} is ${JSON.stringify(totals[k])}, not a count`);
  }
  if (m.stop !== null && m.stop !== undefined) {
    const st = m.stop;
    if (!isObject(st) || typeof st.reason !== 'string' || typeof st.detail !== 'string' || !isCount(st.icount) ||
      !Number.isSafeInteger(st.status) || !Number.isSafeInteger(st.last_exit_seq) || (st.last_exit_seq as number) < -1) {
      throw new TraceError(`${what} is corrupt: "stop" is malformed`);
    }
  }
  const wl = m.workload as Record<string, unknown>;
  if (typeof wl.name !== 'string' || (wl.description !== undefined && typeof wl.description !== 'string') || !isObject(wl.params)) {
    throw new TraceError(`${what} is corrupt: "workload" is malformed`);
  }
  if (typeof (m.exit_preset as Record<string, unknown>).name !== 'string') throw new TraceError(`${what} is corrupt: exit_preset.name is missing`);
  const cm = m.cost_model as Record<string, unknown>;
  if (typeof cm.name !== 'string' || !isObject(cm.figures)) throw new TraceError(`${what} is corrupt: "cost_model" is malformed`);
  const mc = m.machine as Record<string, unknown>;
  if (typeof mc.cycles_per_instruction !== 'number' || !(mc.cycles_per_instruction > 0) || !Number.isFinite(mc.cycles_per_instruction)) {
    throw new TraceError(`${what} is corrupt: machine.cycles_per_instruction is missing or not positive`);
  }
  const tables = m.tables as Record<string, unknown>;
  for (const t of TABLE_NAMES) {
    const r = tables[t];
    if (!isObject(r) || typeof r.file !== 'string' || !isCount(r.rows) || !isCount(r.bytes) || (r.batches !== undefined && !isCount(r.batches))) {
      throw new TraceError(`${what} is corrupt: tables.${t} is missing or malformed`);
    }
  }
  for (const i of m.images as unknown[]) {
    if (!isObject(i) || typeof i.name !== 'string' || typeof i.path !== 'string' || typeof i.sha256 !== 'string' || !isCount(i.bytes)) {
      throw new TraceError(`${what} is corrupt: an entry of "images" is malformed`);
    }
  }
  for (const e of m.exits_by_reason as unknown[]) {
    if (!isObject(e) || !isCount(e.reason) || !isCount(e.count)) throw new TraceError(`${what} is corrupt: an entry of "exits_by_reason" is malformed`);
  }
  if (m.extra !== undefined && !isObject(m.extra)) throw new TraceError(`${what} is corrupt: "extra" is not an object`);
  for (const f of m.files as unknown[]) {
    if (!isObject(f) || typeof f.path !== 'string' || !isCount(f.bytes) || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) ||
      (f.xxh64 !== undefined && (typeof f.xxh64 !== 'string' || !/^[0-9a-f]{16}$/.test(f.xxh64)))) {
      throw new TraceError(`${what} is corrupt: an entry of "files" is malformed`);
    }
    if (f.blocks !== undefined) {
      const b = f.blocks;
      if (!isObject(b) || !isCount(b.bytes) || b.bytes < 64 || b.bytes > 2 ** 30 || typeof b.xxh64 !== 'string' ||
        b.xxh64.length !== 16 * Math.ceil(f.bytes / b.bytes) || !/^[0-9a-f]*$/.test(b.xxh64)) {
        throw new TraceError(`${what} is corrupt: the block checksums of ${f.path} are malformed`);
      }
    }
  }
  return m as unknown as Manifest;
}
