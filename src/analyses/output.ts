// Output of analysis results, shared by every analysis: a readable text table for stdout, JSON
// (`--format json`) and Arrow IPC files (`--out dir`, one `<table>.arrow` per result table, readable by
// pyarrow/pandas, polars and DuckDB-through-pyarrow: int64/float64/utf8/bool/uint64 only, uncompressed, one
// record batch; ../shared/notes/arrow.md).

import { existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdirParents } from '../record/TraceDirectory.js';
import { UserError } from '../errors.js';
import { join } from 'node:path';
import { Bool, Field, Float64, Int64, RecordBatch, Schema, Struct, Table, Uint64, Utf8, makeData, tableToIPC,
  vectorFromArray, type DataType } from 'apache-arrow';
import type { AnalysisResult, Cell, ResultColumn, ResultTable, ResultType } from './result.js';

/** Format version of analysis output files (schema metadata `vmtrace.analysis_format_version`). */
export const ANALYSIS_FORMAT_VERSION = 1;

function cellText(v: Cell, type: ResultType): string {
  if (v === null) return '-';
  if (type === 'uint64' && (typeof v === 'bigint' || typeof v === 'number')) return `0x${v.toString(16)}`; // bit patterns in hex
  if (typeof v === 'number' && type === 'float64') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    const a = Math.abs(v);
    return v.toFixed(a >= 1000 ? 1 : a >= 1 ? 3 : 4);
  }
  return String(v);
}

/** One result table as aligned text (numbers right-aligned), header underlined with the units. */
export function formatTable(t: ResultTable): string {
  const header = t.columns.map((c) => c.name);
  const rows = t.rows.map((r) => r.map((v, i) => cellText(v, t.columns[i]!.type)));
  const right = t.columns.map((c) => c.type !== 'utf8' && c.type !== 'bool');
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((s, i) => (right[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [`${t.name}: ${t.doc}`, line(header)];
  for (const r of rows) out.push(line(r));
  if (rows.length === 0) out.push('(no rows)');
  // Units once, grouped: "units: samples exits; min_cost, max_cost modelled cycles".
  const byUnit = new Map<string, string[]>();
  for (const c of t.columns) if (c.unit) byUnit.set(c.unit, [...(byUnit.get(c.unit) ?? []), c.name]);
  if (byUnit.size > 0) out.push(`units: ${[...byUnit].map(([u, cols]) => `${cols.join(', ')} ${u}`).join('; ')}`);
  return out.join('\n');
}

/** The whole result as text: title, every printable table, notes. */
export function formatResult(r: AnalysisResult): string {
  const out: string[] = [r.title, '='.repeat(Math.min(r.title.length, 100)), ''];
  for (const t of r.tables) {
    if (t.print === false) {
      out.push(`${t.name}: ${t.doc} (${t.rows.length} rows; see --format json or --out)`, '');
      continue;
    }
    out.push(formatTable(t), '');
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return `${out.join('\n').trimEnd()}\n`;
}

const jsonCell = (v: Cell): unknown => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v);

/** The result as a JSON value: tables keyed by name, rows as objects keyed by column name. */
export function resultToJson(r: AnalysisResult): unknown {
  const tables: Record<string, unknown> = {};
  for (const t of r.tables) {
    tables[t.name] = {
      doc: t.doc,
      columns: t.columns.map((c) => ({ name: c.name, type: c.type, unit: c.unit, doc: c.doc })),
      rows: t.rows.map((row) => Object.fromEntries(row.map((v, i) => [t.columns[i]!.name, jsonCell(v)]))),
    };
  }
  return { title: r.title, tables, notes: r.notes };
}

export function formatJson(r: AnalysisResult): string {
  return `${JSON.stringify(resultToJson(r), null, 2)}\n`;
}

function arrowType(t: ResultType): DataType {
  switch (t) {
    case 'int64': return new Int64();
    case 'uint64': return new Uint64();
    case 'float64': return new Float64();
    case 'utf8': return new Utf8();
    case 'bool': return new Bool();
  }
}

function toBig(v: Cell, col: ResultColumn): bigint | null {
  if (v === null) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new Error(`column ${col.name}: ${String(v)} is not an integer`);
}

/** Encode one result table as an Arrow IPC file (bytes). Field metadata: `unit`, `description`. */
export function tableToArrow(t: ResultTable, analysis: string): Uint8Array {
  const fields: Field[] = [];
  const children = t.columns.map((col, i) => {
    const type = arrowType(col.type);
    const meta = new Map<string, string>([['description', col.doc]]);
    if (col.unit) meta.set('unit', col.unit);
    fields.push(new Field(col.name, type, true, meta));
    const cells = t.rows.map((r) => r[i] ?? null);
    const values = col.type === 'int64' || col.type === 'uint64' ? cells.map((v) => toBig(v, col))
      : col.type === 'float64' ? cells.map((v) => (v === null ? null : Number(v)))
        : col.type === 'bool' ? cells.map((v) => (v === null ? null : Boolean(v)))
          : cells.map((v) => (v === null ? null : String(v)));
    return vectorFromArray(values as never[], type).data[0]!;
  });
  const units: Record<string, string> = {};
  for (const c of t.columns) if (c.unit) units[c.name] = c.unit;
  const schema = new Schema(fields, new Map([
    ['vmtrace.analysis', analysis],
    ['vmtrace.analysis_format_version', String(ANALYSIS_FORMAT_VERSION)],
    ['vmtrace.table', t.name],
    ['vmtrace.doc', t.doc],
    ['vmtrace.units', JSON.stringify(units)],
  ]));
  const struct = makeData({ type: new Struct(fields), length: t.rows.length, nullCount: 0, children });
  return tableToIPC(new Table(schema, [new RecordBatch(schema, struct)]), 'file');
}

/** Write every table as `<dir>/<table>.arrow`; returns the paths. */
export function writeArrowTables(r: AnalysisResult, analysis: string, dir: string): string[] {
  try {
    if (!existsSync(dir)) mkdirParents(dir);
  } catch (e) {
    throw new UserError(`--out ${dir}: cannot create the directory (${(e as Error).message})`);
  }
  if (!statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a directory`);
  const paths: string[] = [];
  for (const t of r.tables) {
    const p = join(dir, `${t.name}.arrow`);
    try {
      writeFileSync(p, tableToArrow(t, analysis));
    } catch (e) {
      throw new UserError(`--out ${dir}: cannot write ${t.name}.arrow (${(e as Error).message})`);
    }
    paths.push(p);
  }
  return paths;
}
