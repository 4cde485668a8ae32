// `trace analyze <dir> exits`: what `perf kvm stat report` gives a KVM user, from exits.arrow: per exit
// reason the count (Samples), share of exits (Samples%), share of modelled time (Time%) and min/avg/max
// modelled cost. Time is the cost model's `cost` column (modelled cycles per exit: round trip + handler +
// hypervisor work), the analogue of perf's per-exit handling time.

import { exitReasonKey } from '../emulator/vmx/exitReasons.js';
import { scanColumns } from '../record/scanColumns.js';
import type { ResultColumn, ResultTable, Cell } from './result.js';
import type { TraceReader } from '../record/TraceReader.js';

export const EXIT_STATS_COLUMNS: readonly ResultColumn[] = [
  { name: 'exit_reason', type: 'int64', unit: '', doc: 'Basic exit reason (SDM appendix C).' },
  { name: 'name', type: 'utf8', unit: '', doc: 'Exit reason name (Linux VMX_EXIT_REASONS, as perf kvm stat prints it).' },
  { name: 'samples', type: 'int64', unit: 'exits', doc: 'Number of exits with this reason.' },
  { name: 'samples_pct', type: 'float64', unit: '%', doc: 'Share of all exits (of the group, with --by process).' },
  { name: 'time_pct', type: 'float64', unit: '%', doc: 'Share of the modelled cost of all exits (of the group, with --by process).' },
  { name: 'min_cost', type: 'int64', unit: 'modelled cycles', doc: 'Smallest modelled cost of one exit.' },
  { name: 'max_cost', type: 'int64', unit: 'modelled cycles', doc: 'Largest modelled cost of one exit.' },
  { name: 'avg_cost', type: 'float64', unit: 'modelled cycles', doc: 'Mean modelled cost of one exit.' },
  { name: 'total_cost', type: 'int64', unit: 'modelled cycles', doc: 'Sum of the modelled costs.' },
];

/** Per-reason accumulators over 65536 reasons (exit_reason is uint16): flat typed arrays, no maps. */
export class ExitStats {
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  constructor(reasons = 65536) {
    this.count = new Float64Array(reasons);
    this.sum = new Float64Array(reasons);
    this.min = new Float64Array(reasons).fill(Infinity);
    this.max = new Float64Array(reasons).fill(-Infinity);
  }

  add(reason: number, cost: number): void {
    this.count[reason]!++;
    this.sum[reason]! += cost;
    if (cost < this.min[reason]!) this.min[reason] = cost;
    if (cost > this.max[reason]!) this.max[reason] = cost;
  }

  /** Rows in perf's order: by samples descending, then reason. `prefix` cells go first (group keys). */
  rows(prefix: Cell[] = []): Cell[][] {
    let n = 0;
    let t = 0;
    const reasons: number[] = [];
    for (let r = 0; r < this.count.length; r++) {
      if (this.count[r]! > 0) {
        reasons.push(r);
        n += this.count[r]!;
        t += this.sum[r]!;
      }
    }
    reasons.sort((a, b) => this.count[b]! - this.count[a]! || a - b);
    return reasons.map((r) => [...prefix, r, exitReasonKey(r), this.count[r]!, (100 * this.count[r]!) / n,
      t > 0 ? (100 * this.sum[r]!) / t : 0, this.min[r]!, this.max[r]!, this.sum[r]! / this.count[r]!, this.sum[r]!]);
  }
}

/** The per-reason summary of a whole trace, straight from the projected exit_reason and cost columns. */
export function exitStats(reader: TraceReader): ExitStats {
  const s = new ExitStats();
  const count = s.count, sum = s.sum, min = s.min, max = s.max;
  for (const b of scanColumns(reader, 'exits', ['exit_reason', 'cost'])) {
    const reason = b.cols[0] as Uint16Array;
    const cost = b.cols[1] as Uint32Array;
    for (let i = 0; i < b.length; i++) {
      const r = reason[i]!;
      const c = cost[i]!;
      count[r]!++;
      sum[r]! += c;
      if (c < min[r]!) min[r] = c;
      if (c > max[r]!) max[r] = c;
    }
  }
  return s;
}

export function exitStatsTable(s: ExitStats): ResultTable {
  return { name: 'exit_stats', doc: 'one row per exit reason (perf kvm stat report)', columns: EXIT_STATS_COLUMNS, rows: s.rows() };
}
