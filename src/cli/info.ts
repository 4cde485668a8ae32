// `trace info <dir>`: what a trace holds: workload, seed, presets, completeness and stop reason, files with
// sizes and row counts, and exits by reason in the columns of `perf kvm stat report` (Samples, Samples%,
// Time%, Min/Max/Avg), with time in modelled cycles from exits.arrow's `cost` column.

import type { Command } from 'commander';
import { TraceError, UserError } from '../errors.js';
import { TraceReader } from '../record/TraceReader.js';
import { exitReasonName } from '../emulator/vmx/exitReasons.js';
import { TABLES, TABLE_NAMES } from '../record/schema.js';

export interface InfoOptions {
  /** Scan exits.arrow for per-reason modelled cost (Time%, Min, Max, Avg); default true. */
  costs?: boolean;
  /** Check the files against their checksums (TraceReader.open); default true. */
  verify?: boolean;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const kv = (o: Record<string, unknown>, skip: string[] = []): string =>
  Object.entries(o).filter(([k]) => !skip.includes(k)).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ');

/** The report `trace info` prints. Throws TraceError for a missing or damaged trace. */
export async function traceInfo(dir: string, opts: InfoOptions = {}): Promise<string> {
  const r = TraceReader.open(dir, { verify: opts.verify });
  const m = r.manifest;
  const out: string[] = [];
  const state = r.state === 'complete' ? 'complete'
    : r.state === 'stopped' ? 'INCOMPLETE (stopped early)'
      : 'INCOMPLETE (still recording, or the recorder died: only flushed batches are readable)';
  out.push(`trace      ${dir}`);
  out.push(`format     vmtrace ${m.format_version}`);
  out.push(`state      ${state}`);
  if (m.stop) {
    const detail = m.stop.detail ? ` (${m.stop.detail})` : '';
    const status = m.stop.reason === 'guest-exit' ? `, status ${m.stop.status}` : '';
    out.push(`stopped    ${m.stop.reason}${detail}${status} at icount ${m.stop.icount}, last exit #${m.stop.last_exit_seq}`);
  }
  const params = kv(m.workload.params);
  out.push(`workload   ${m.workload.name}${m.workload.description ? ` - ${m.workload.description}` : ''}${params ? ` [${params}]` : ''}`);
  const linux = (m as unknown as { extra?: { boot?: { linux?: { version: string; cmdline: string } } } }).extra?.boot?.linux;
  if (linux !== undefined) {
    out.push(`kernel     Linux ${linux.version}`);
    out.push(`cmdline    ${linux.cmdline}`);
  }
  out.push(`seed       ${m.seed}`);
  const ep = kv(m.exit_preset, ['name']);
  out.push(`exits      preset ${m.exit_preset.name}${ep ? ` (${ep})` : ''}`);
  const cm = kv(m.cost_model.figures);
  out.push(`cost model ${m.cost_model.name}${cm ? ` (${cm})` : ''}`);
  out.push(`machine    ${kv(m.machine)}`);
  const t = m.totals;
  out.push(`totals     ${t.icount} instructions, ${t.cycles} modelled cycles, ${t.exits} exits, ${t.io} I/O accesses, ` +
    `${t.interrupts} injected events, ${t.ground_truth} ground-truth events, ${t.console_bytes} console bytes`);
  if (m.images.length > 0) {
    out.push('', 'images');
    out.push(table(['name', 'bytes', 'sha256'], m.images.map((i) => [i.name, String(i.bytes), i.sha256]), [false, true, false]));
  }

  out.push('', 'files');
  const rowsOf = new Map<string, number>(TABLE_NAMES.map((n) => [TABLES[n].file, m.tables[n].rows]));
  // the optional witness.arrow (Linux runs with the kernel-module witness)
  const witness = (m.tables as unknown as Record<string, { file: string; rows: number } | undefined>).witness;
  if (witness !== undefined) rowsOf.set(witness.file, witness.rows);
  const files = r.finished
    ? m.files.map((f) => ({ path: f.path, size: f.bytes }))
    : TABLE_NAMES.map((n) => ({ path: TABLES[n].file, size: m.tables[n].bytes }));
  out.push(table(['file', 'size', 'bytes', 'rows'],
    files.map((f) => [f.path, bytes(f.size), String(f.size), rowsOf.has(f.path) ? String(rowsOf.get(f.path)) : '']),
    [false, true, true, true]));

  out.push('', 'exits by reason');
  const total = m.exits_by_reason.reduce((s, e) => s + e.count, 0);
  const cost = new Map<number, { sum: number; min: number; max: number }>();
  let costTotal = 0;
  if (opts.costs ?? true) {
    for (const b of r.scan('exits', ['exit_reason', 'cost'])) {
      const reason = b.columns.exit_reason.values as Uint16Array;
      const c = b.columns.cost.values as Uint32Array;
      for (let i = 0; i < b.length; i++) {
        const x = c[i]!;
        let s = cost.get(reason[i]!);
        if (!s) cost.set(reason[i]!, (s = { sum: 0, min: x, max: x }));
        s.sum += x;
        if (x < s.min) s.min = x;
        if (x > s.max) s.max = x;
        costTotal += x;
      }
    }
  }
  const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : '-');
  const withCosts = opts.costs ?? true;
  const rows = [...m.exits_by_reason].sort((a, b) => b.count - a.count || a.reason - b.reason).map((e) => {
    const s = cost.get(e.reason);
    const costCells = !withCosts ? [] : [s ? pct(s.sum, costTotal) : '-', s ? String(s.min) : '-', s ? String(s.max) : '-',
      s ? (s.sum / e.count).toFixed(1) : '-'];
    return [e.name, String(e.reason), String(e.count), pct(e.count, total), ...costCells, exitReasonName(e.reason)];
  });
  if (rows.length === 0) out.push('(no exits)');
  else {
    const costHead = withCosts ? ['Time%', 'Min cost', 'Max cost', 'Avg cost'] : [];
    const header = ['VM-EXIT', 'reason', 'Samples', 'Samples%', ...costHead, 'SDM name'];
    out.push(table(header, rows, header.map((h) => h !== 'VM-EXIT' && h !== 'SDM name')));
    if (withCosts) out.push('(cost in modelled cycles, from exits.arrow)');
  }
  return `${out.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show what a trace directory holds: workload, presets, completeness, sizes, exits by reason')
    .argument('<dir>', 'trace directory')
    .option('--no-costs', 'do not scan exits.arrow for per-reason costs (faster on huge traces)')
    .option('--no-verify', 'do not check the trace files against the checksums in its manifest (faster; damage may go unnoticed)')
    .action(async (dir: string, o: { costs: boolean; verify: boolean }) => {
      try {
        process.stdout.write(await traceInfo(dir, { costs: o.costs, verify: o.verify }));
      } catch (e) {
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      }
    });
}
