// The `exits` entry of the analysis registry.

import { exitStats, exitStatsTable } from './exitsSummary.js';
import { openTrace, stringOption } from './options.js';
import type { Analysis, AnalysisResult, OptionValues } from './result.js';

export const EXITS_BY = ['reason', 'process'] as const;

export const exitsAnalysis: Analysis = {
  name: 'exits',
  description: 'exit statistics per exit reason, as perf kvm stat report (count, Samples%, Time%, min/avg/max modelled cost)',
  options: [
    { flags: '--by <what>', description: 'exits: group by exit reason, or by reconstructed process and reason', defaultText: 'reason', choices: EXITS_BY },
  ],
  async run(dir: string, o: OptionValues): Promise<AnalysisResult> {
    const by = stringOption(o, 'by', '--by', 'reason', EXITS_BY);
    const reader = openTrace(dir, o);
    const m = reader.manifest;
    const title = `exits: ${dir} (workload ${m.workload.name}, ${m.totals.exits} exits, cost model ${m.cost_model.name})`;
    if (by === 'reason') {
      return { title, tables: [exitStatsTable(exitStats(reader))], notes: ['cost = modelled cycles per exit (cost model), from exits.arrow'] };
    }
    const { exitsByProcess } = await import('./exitsByProcess.js');
    return exitsByProcess(reader, title);
  },
};
