// The registry of `trace analyze <dir> <analysis>`: one entry per analysis, each with its name, a one-line
// description, its command-line options and `run(dir, options)`. The CLI (src/cli/analyze.ts) dispatches
// through this table and does all output (text / json / Arrow) once, in ./output.ts. To add an analysis,
// add one entry (options with the same long flag in two analyses must be declared identically).

import type { Analysis } from './result.js';
import { exitsAnalysis } from './exitsAnalysis.js';
import { proctrackAnalysis } from './proctrack.js';
import { compareInterception } from './compareInterception.js';
import { hyperupcallsAnalysis } from './hyperupcalls.js';
import { pslistAnalysis } from './pslist.js';
import { witnessAnalysis } from './witness.js';

export type { Analysis, AnalysisContext, ProgressSink, AnalysisResult, AnalysisOption, ResultTable, ResultColumn, Cell, OptionValues } from './result.js';

export const ANALYSES: Readonly<Record<string, Analysis>> = {
  exits: exitsAnalysis,
  proctrack: proctrackAnalysis,
  'compare-interception': compareInterception,
  hyperupcalls: hyperupcallsAnalysis,
  pslist: pslistAnalysis,
  witness: witnessAnalysis,
};

export function analysisNames(): string[] {
  return Object.keys(ANALYSES);
}
