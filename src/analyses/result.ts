// The generic shape every `trace analyze` analysis returns, and the options it declares. The CLI
// (src/cli/analyze.ts) prints, serialises and writes these once, in src/analyses/output.ts, whatever the
// analysis: an analysis only computes tables.
//
// Perfetto's shape: each output is a table with documented columns (name, type, unit, meaning); identifiers
// minted by trackers (`upid`, `utid`) are plain int64 columns.

/** Column types of result tables, chosen so that polars, pandas and DuckDB read them (../shared/notes/arrow.md). */
export type ResultType = 'int64' | 'float64' | 'utf8' | 'bool' | 'uint64';

/** A cell: numbers (int64 cells must be integers, exact below 2^53), strings, booleans, bigint for uint64; null. */
export type Cell = number | string | boolean | bigint | null;

export interface ResultColumn {
  readonly name: string;
  readonly type: ResultType;
  /** Unit ('' for identifiers, names and ratios without unit). */
  readonly unit: string;
  readonly doc: string;
}

export interface ResultTable {
  /** File stem for `--out` (`<name>.arrow`) and the key in `--format json`. */
  readonly name: string;
  /** One line: what a row is. */
  readonly doc: string;
  readonly columns: readonly ResultColumn[];
  /** Rows, each an array of cells in column order. */
  readonly rows: Cell[][];
  /** Print on stdout in `--format table` (large series are better left to json/Arrow). Default true. */
  readonly print?: boolean;
}

export interface AnalysisResult {
  /** Heading of the report. */
  readonly title: string;
  readonly tables: readonly ResultTable[];
  /** Free-text lines printed after the tables (findings, caveats). */
  readonly notes: readonly string[];
}

/** A command-line option of one analysis (commander syntax). */
export interface AnalysisOption {
  /** Commander flags, e.g. `--by <what>` or `--no-user-filter`; the long name is the option's key. */
  readonly flags: string;
  readonly description: string;
  /** Shown in help; the analysis applies its own default (the CLI never fills one in). */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
}

/**
 * Progress of a long computation (replays, exports), drawn by the CLI on a terminal (src/cli/progress.ts)
 * and ignored elsewhere: a stage has a label, a total and a unit; update gives the amount done so far.
 */
export interface ProgressSink {
  stage(label: string, total: number, unit: string): void;
  update(done: number): void;
}

/** What the caller gives an analysis besides its options. */
export interface AnalysisContext {
  readonly progress?: ProgressSink;
}

/** Option values as commander parsed them: strings for `<value>` options, booleans for flags. */
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

export interface Analysis {
  readonly name: string;
  /** One line for `trace analyze --help`. */
  readonly description: string;
  readonly options: readonly AnalysisOption[];
  /** Run over a trace directory. Throws UserError for bad options, TraceError for a missing/damaged trace. */
  run(dir: string, options: OptionValues, context?: AnalysisContext): Promise<AnalysisResult>;
}

/** The camelCase key commander uses for a flags string (`--max-stack-pages <n>` -> maxStackPages). */
export function optionKey(flags: string): string {
  const m = /--(?:no-)?([a-z0-9-]+)/.exec(flags);
  if (!m) throw new Error(`option flags without a long name: ${flags}`);
  return m[1]!.replace(/-([a-z0-9])/g, (_s, ch: string) => ch.toUpperCase());
}
