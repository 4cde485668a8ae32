// `trace report <dir> [-o report.html]`: one self-contained HTML page with the plots a researcher would
// otherwise draw by hand (src/report): exits over time and their costs, live processes and threads true vs
// reconstructed per strategy with precision/recall, a per-process timeline; for a suite (or with
// --compare-interception) seed 004 section 7's charts; for hyperupcall traces the scheduler-activation series
// and the overheads.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stageProgress } from './progress.js';
import { buildReport } from '../report/reportModel.js';
import { reportHtml } from '../report/reportHtml.js';
import { TraceError, UserError } from '../errors.js';

interface ReportCliOptions { output: string; compareInterception?: boolean; variants?: string; hyperupcalls?: boolean }

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report with plots of a trace, or of a suite of traces (compare-interception)')
    .argument('<dir>', 'trace directory, or a directory of trace directories (a suite)')
    .option('-o, --output <file>', 'the HTML file', 'report.html')
    .option('--compare-interception', 'also replay a single trace under every interception strategy (a suite always is)')
    .option('--variants <list>', 'compare-interception variants (seed 004 names or strategy names)')
    .option('--hyperupcalls', 'include the hyperupcalls section (default: for hyperupcall-* workloads)')
    .action(async (dir: string, o: ReportCliOptions) => {
      const progress = stageProgress();
      let html: string;
      let sections: number;
      try {
        const model = await buildReport(dir, { compareInterception: o.compareInterception, variants: o.variants, hyperupcalls: o.hyperupcalls, progress });
        html = reportHtml(model);
        sections = model.sections.length;
      } catch (e) {
        if (e instanceof TraceError) throw new UserError(e.message);
        throw e;
      } finally {
        progress.done();
      }
      try {
        writeFileSync(o.output, html);
      } catch (e) {
        throw new UserError(`${o.output}: ${(e as Error).message}`);
      }
      process.stdout.write(`wrote ${o.output} (${sections} plots, ${(html.length / 1024).toFixed(0)} KiB, self-contained)\n`);
    });
}
